/* SPDX-License-Identifier: MIT */
/*
 * http: /metrics and /status on libmicrohttpd in external epoll mode (see
 * http.h). Owns the daemon, the listening socket until MHD has it, one
 * loop source (MHD's epoll fd), one loop timer (MHD's timeout) and the
 * token's digest. A request allocates its body buffer (the /metrics text,
 * handed to MHD, which frees it) and the json-c object of /status; MHD
 * allocates a pool of conn_memory bytes per connection.
 * Load: a scrape every few seconds; MHD_run per readiness of its epoll fd
 * and per timeout it asks for.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#define MS          1000000ull
#define MHD_LOG_MAX 16

struct vigil_http {
	struct vigil_loop *loop;
	struct vigil_http_opts o; /* the caller's, copied (strings not used after new) */
	struct MHD_Daemon *d;
	struct vigil_source *src; /* MHD's epoll fd */
	struct vigil_timer *tm;   /* MHD's timeout */
	uint16_t port;
	bool auth;                             /* a token is required */
	uint8_t token_sha[SHA256_DIGEST_SIZE]; /* SHA-256 of the token */
	bool logged_500;                       /* a 500 is logged once */
	struct vigil_http_stats st;
};

static void say(const struct vigil_http *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(const struct vigil_http *h, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!h->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->o.log(h->o.log_ctx, msg);
}

/* ---- the listen string ------------------------------------------------------- */

/* Digits only, 0..65535. */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* Splits s into its address (copied into addr, "" when none) and port. */
static int split_listen(const char *s, char *addr, size_t size, const char **port)
{
	const char *colon = strrchr(s, ':'), *a = s, *end;

	if (!colon) { /* "PORT" */
		addr[0] = '\0';
		*port = s;
		return 0;
	}
	*port = colon + 1;
	end = colon;
	if (s[0] == '[') { /* "[V6]:PORT" */
		if (colon == s || colon[-1] != ']')
			return -EINVAL;
		a = s + 1;
		end = colon - 1;
	} else if (memchr(s, ':', (size_t)(colon - s))) {
		return -EINVAL; /* an IPv6 address without brackets */
	}
	if ((size_t)(end - a) >= size)
		return -EINVAL;
	memcpy(addr, a, (size_t)(end - a));
	addr[end - a] = '\0';
	return 0;
}

int vigil_http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
	char addr[INET6_ADDRSTRLEN + 1];
	const char *port_s;
	uint16_t port;
	bool bracket = s && s[0] == '[';

	if (!s || split_listen(s, addr, sizeof(addr), &port_s) < 0 || parse_port(port_s, &port) < 0)
		return -EINVAL;
	if (!addr[0] && bracket)
		return -EINVAL;
	if (bracket) {
		if (inet_pton(AF_INET6, addr, &v6.sin6_addr) != 1)
			return -EINVAL;
		v6.sin6_port = htons(port);
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &v6, sizeof(v6));
		*len = sizeof(v6);
		return 0;
	}
	if (inet_pton(AF_INET, addr[0] ? addr : VIGIL_HTTP_DEFAULT_ADDR, &v4.sin_addr) != 1)
		return -EINVAL;
	v4.sin_port = htons(port);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &v4, sizeof(v4));
	*len = sizeof(v4);
	return 0;
}

/* ---- the token ------------------------------------------------------------------ */

static void sha256(const void *p, size_t n, uint8_t out[SHA256_DIGEST_SIZE])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, n, p);
	sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

/* A bearer token's bytes: visible ASCII, no space. */
static bool token_ok(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (t[i] <= ' ' || t[i] > '~')
			return false;
	return n > 0;
}

/* Reads the token file, keeps the token's digest. */
static int token_load(struct vigil_http *h, const char *path)
{
	char tok[VIGIL_HTTP_TOKEN_MAX + 2]; /* a token, a newline, and one byte too many */
	bool too_long;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;

	if (fd < 0) {
		e = -errno;
		say(h, "cannot open the token file %s: %s", path, strerror(-e));
		return e;
	}
	n = read(fd, tok, sizeof(tok));
	e = n < 0 ? -errno : 0;
	close(fd);
	if (e < 0) {
		say(h, "cannot read the token file %s: %s", path, strerror(-e));
		return e;
	}
	too_long = n == (ssize_t)sizeof(tok);
	while (n > 0 && strchr(" \t\r\n", tok[n - 1]))
		n--;
	if (too_long || n > VIGIL_HTTP_TOKEN_MAX || !token_ok(tok, (size_t)n)) {
		say(h, "token file %s: want one token of 1..%d visible ASCII bytes, no spaces",
		    path, VIGIL_HTTP_TOKEN_MAX);
		return -EINVAL;
	}
	sha256(tok, (size_t)n, h->token_sha);
	memset(tok, 0, sizeof(tok));
	h->auth = true;
	return 0;
}

/* "Bearer TOKEN" with the right token. Digests are compared in constant
 * time: the time depends on neither the token nor how much of it matched. */
static bool authorized(const struct vigil_http *h, struct MHD_Connection *c)
{
	const char *v =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	uint8_t got[SHA256_DIGEST_SIZE], diff = 0;
	size_t n;

	if (!v || strncasecmp(v, "Bearer ", 7) != 0)
		return false;
	v += 7;
	while (*v == ' ')
		v++;
	n = strlen(v);
	while (n > 0 && v[n - 1] == ' ')
		n--;
	sha256(v, n, got);
	for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++)
		diff |= (uint8_t)(got[i] ^ h->token_sha[i]);
	return n > 0 && diff == 0;
}

/* ---- answers ---------------------------------------------------------------------- */

/* Queues one answer. body is freed by MHD when mode is MUST_FREE. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype, void *body,
			     size_t len, enum MHD_ResponseMemoryMode mode, const char *hname,
			     const char *hvalue)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO; /* MHD closes the connection */
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (hname)
		MHD_add_response_header(r, hname, hvalue);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text,
				  const char *hname, const char *hvalue)
{
	return reply(c, code, "text/plain; charset=utf-8", (void *)text, strlen(text),
		     MHD_RESPMEM_PERSISTENT, hname, hvalue);
}

static enum MHD_Result reply_500(struct vigil_http *h, struct MHD_Connection *c, const char *what,
				 int e)
{
	h->st.errors++;
	if (!h->logged_500) /* once: a scraper would repeat it every few seconds */
		say(h, "%s failed: %s (answered 500; later failures are only counted)", what,
		    strerror(e < 0 ? -e : e));
	h->logged_500 = true;
	return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n", NULL, NULL);
}

static enum MHD_Result serve_metrics(struct vigil_http *h, struct MHD_Connection *c)
{
	struct vigil_buf b;
	struct vigil_expo w;
	char *body;
	size_t len;
	int e;

	vigil_buf_init(&b, h->o.max_body);
	vigil_expo_init(&w, &b);
	e = h->o.metrics(h->o.ctx, &w);
	if (!e)
		e = vigil_expo_finish(&w);
	h->st.dropped_series += w.dropped;
	if (e) {
		vigil_buf_release(&b);
		return reply_500(h, c, "writing /metrics", e);
	}
	body = vigil_buf_take(&b, &len);
	h->st.metrics++;
	if (!body)
		return reply(c, MHD_HTTP_OK, VIGIL_EXPO_CONTENT_TYPE, "", 0, MHD_RESPMEM_PERSISTENT,
			     NULL, NULL);
	return reply(c, MHD_HTTP_OK, VIGIL_EXPO_CONTENT_TYPE, body, len, MHD_RESPMEM_MUST_FREE,
		     NULL, NULL);
}

static enum MHD_Result serve_status(struct vigil_http *h, struct MHD_Connection *c)
{
	struct json_object *obj = json_object_new_object();
	const char *s;
	size_t len;
	enum MHD_Result ret;
	int e;

	if (!obj)
		return reply_500(h, c, "writing /status", -ENOMEM);
	e = h->o.status(h->o.ctx, obj);
	s = e ? NULL : json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
	if (!s) {
		json_object_put(obj);
		return reply_500(h, c, "writing /status", e ? e : -ENOMEM);
	}
	h->st.status++;
	ret = reply(c, MHD_HTTP_OK, "application/json", (void *)s, len, MHD_RESPMEM_MUST_COPY, NULL,
		    NULL);
	json_object_put(obj);
	return ret;
}

/* Every request, answered on its first call (its headers are in). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct vigil_http *h = cls;
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	bool metrics = !strcmp(url, "/metrics"), status = !strcmp(url, "/status") && h->o.status;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req_cls;
	h->st.requests++;
	if (h->auth && !authorized(h, c)) {
		h->st.unauthorized++;
		return reply_text(c, MHD_HTTP_UNAUTHORIZED, "unauthorized\n",
				  MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"vigil\"");
	}
	if (!metrics && !status) {
		h->st.not_found++;
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL, NULL);
	}
	if (!get) {
		h->st.not_found++;
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
				  MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	}
	return metrics ? serve_metrics(h, c) : serve_status(h, c);
}

/* ---- on the loop -------------------------------------------------------------------- */

/* MHD's next deadline: now + its timeout, or none. 0 means "run again at
 * once": the timer is due and runs in the loop's next pass over timers. */
static void mhd_rearm(struct vigil_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(h->d, &ms) != MHD_YES) {
		vigil_timer_disarm(h->tm);
		return;
	}
	if (ms > 24ull * 3600 * 1000)
		ms = 24ull * 3600 * 1000;
	vigil_timer_arm(h->tm, vigil_loop_now(h->loop) + ms * MS);
}

static unsigned mhd_connections(struct vigil_http *h)
{
	const union MHD_DaemonInfo *i =
	    MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

/*
 * MHD_run, and once more when a connection went: at max_connections MHD
 * takes its listening socket out of its epoll set and puts it back only at
 * the start of a run, and nothing else would call one (no fd of MHD is
 * ready, MHD_get_timeout says "no timeout"): a client waiting in the
 * backlog would wait forever.
 */
static void mhd_pump(struct vigil_http *h)
{
	unsigned before = mhd_connections(h);

	MHD_run(h->d);
	if (mhd_connections(h) < before)
		MHD_run(h->d);
	mhd_rearm(h);
}

static int mhd_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	(void)s;
	(void)fd;
	(void)events;
	mhd_pump(ctx);
	return 0;
}

static void mhd_tick(struct vigil_timer *t, uint64_t now_ns, void *ctx)
{
	(void)t;
	(void)now_ns;
	mhd_pump(ctx);
}

/* MHD's own messages (mostly clients that went away or sent too much):
 * the first MHD_LOG_MAX are passed on, the rest counted. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct vigil_http *h = cls;
	char msg[512];
	size_t n;

	if (!h->o.log || h->st.mhd_messages++ > MHD_LOG_MAX)
		return;
	if (h->st.mhd_messages > MHD_LOG_MAX) {
		say(h, "http: further libmicrohttpd messages are only counted");
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	say(h, "http: %s", msg);
}

/* ---- setting up -------------------------------------------------------------------- */

/* A bound, listening, non-blocking socket; its port in h->port. */
static int listen_on(struct vigil_http *h, const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, e;

	if (vigil_http_parse_listen(spec, &ss, &len) < 0) {
		say(h,
		    "cannot listen on '%s': want ADDR:PORT, [IPV6]:PORT, :PORT or PORT "
		    "(numeric address, port 0..65535)",
		    spec);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = -errno;
		say(h, "cannot listen on %s: %s", spec, strerror(-e));
		return e;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		e = -errno;
		close(fd);
		say(h,
		    "cannot listen on %s: %s (choose another address or port; 0 picks a "
		    "free port)",
		    spec, strerror(-e));
		return e;
	}
	h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* Connections as MHD opens and closes them: how many at once, for the
 * stats (the limit itself is MHD's). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct vigil_http *h = cls;

	(void)c;
	(void)socket_ctx;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		h->st.connections++;
		if (++h->st.open_now > h->st.open_max)
			h->st.open_max = h->st.open_now;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && h->st.open_now) {
		h->st.open_now--;
	}
}

static int mhd_start(struct vigil_http *h, int lfd)
{
	unsigned flags = MHD_USE_EPOLL | (h->o.log ? MHD_USE_ERROR_LOG : 0);

	h->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
	    MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_CONNECTION_LIMIT,
	    h->o.max_connections ? h->o.max_connections : VIGIL_HTTP_MAX_CONNS,
	    MHD_OPTION_CONNECTION_TIMEOUT, h->o.timeout_s ? h->o.timeout_s : VIGIL_HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(h->o.conn_memory ? h->o.conn_memory : VIGIL_HTTP_CONN_MEMORY),
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
	if (!h->d) {
		close(lfd);
		say(h, "cannot start the HTTP server (libmicrohttpd refused the options)");
		return -EIO;
	}
	return 0;
}

static int loop_attach(struct vigil_http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	int e;

	if (!i)
		return -EIO;
	e = vigil_source_add(h->loop, i->epoll_fd, EPOLLIN, 0, mhd_ready, h, "http", &h->src);
	if (e == 0)
		e = vigil_timer_new(h->loop, mhd_tick, h, &h->tm);
	if (e < 0)
		return e;
	mhd_rearm(h);
	return 0;
}

int vigil_http_new(struct vigil_loop *l, const struct vigil_http_opts *o, struct vigil_http **out)
{
	struct vigil_http *h;
	int lfd, e;

	if (!l || !o || !out || o->sz < sizeof(*o) || !o->metrics)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->loop = l;
	h->o = *o;
	e = o->token_file ? token_load(h, o->token_file) : 0;
	lfd = e < 0 ? e : listen_on(h, o->listen ? o->listen : VIGIL_HTTP_DEFAULT_LISTEN);
	e = lfd < 0 ? lfd : mhd_start(h, lfd);
	if (e == 0)
		e = loop_attach(h);
	if (e < 0) {
		vigil_http_free(h);
		return e;
	}
	h->o.listen = h->o.token_file = NULL; /* not kept: the caller's strings */
	*out = h;
	return 0;
}

void vigil_http_free(struct vigil_http *h)
{
	if (!h)
		return;
	vigil_source_free(h->src); /* before MHD closes the fd it watches */
	vigil_timer_free(h->tm);
	if (h->d)
		MHD_stop_daemon(h->d);
	memset(h->token_sha, 0, sizeof(h->token_sha));
	free(h);
}

uint16_t vigil_http_port(const struct vigil_http *h)
{
	return h->port;
}

int vigil_http_fd_room(unsigned max_connections, unsigned others)
{
	rlim_t need = (rlim_t)(max_connections ? max_connections : VIGIL_HTTP_MAX_CONNS) + others;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= need)
		return 0;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	return rl.rlim_cur >= need ? 0 : -EMFILE;
}

void vigil_http_stats(const struct vigil_http *h, struct vigil_http_stats *out)
{
	*out = h->st;
}
