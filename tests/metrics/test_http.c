/* SPDX-License-Identifier: MIT */
/*
 * The /metrics server (host/metrics/http.c) on an ephemeral port inside a
 * vigil loop, asked by a plain-socket client in the same thread (the loop
 * runs between the client's steps):
 *  - listen strings, table-driven (IPv4, [IPv6], :PORT, PORT, port 0, and
 *    what is refused);
 *  - GET /metrics: 200, the exposition content type, the owner's body;
 *    HEAD: no body; GET /status: JSON from the owner; 404 elsewhere, 405
 *    for other methods; a failing callback: 500, logged once; a body over
 *    max_body: 500; a large body arrives whole;
 *  - the token: missing or wrong 401 with WWW-Authenticate (also a wrong
 *    one whose digest starts as the right one's), right 200 (scheme in any
 *    case), checked before routing; bad token files refused;
 *  - IPv6 ([::1]:0) when the host has it;
 *  - bounds: an idle connection is closed after timeout_s (MHD's timeout
 *    runs on a loop timer), a third connection waits while two are held
 *    with max_connections 2, a request over conn_memory is refused;
 *  - a port in use is refused with the reason logged; freeing the server
 *    closes its port and gives back every fd.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <nettle/sha2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "expo.h"
#include "http.h"
#include "loop.h"

#define MS 1000000ull

/* ---- the owner --------------------------------------------------------------- */

struct owner {
	int metrics_calls, status_calls;
	int fail;     /* the callbacks return it when set */
	int series;   /* per family */
	int families; /* 0: 1 */
	int logs;
	char last_log[512];
};

static int om_metrics(void *ctx, struct vigil_expo *w)
{
	static const struct vigil_metric_family f = {
		.name = "vigil_test_value",
		.help = "A test value.",
		.type = VIGIL_METRIC_GAUGE,
		.labels = { "domain" },
	};
	struct owner *o = ctx;
	int e;

	o->metrics_calls++;
	if (o->fail)
		return o->fail;
	for (int k = 0; k < (o->families ? o->families : 1); k++) {
		char name[64];
		struct vigil_metric_family fk = f;

		snprintf(name, sizeof(name), "vigil_test_value%s%.0d", k ? "_" : "", k);
		fk.name = name;
		e = vigil_expo_family(w, &fk);
		for (int i = 0; i < o->series && !e; i++) {
			char d[32];

			snprintf(d, sizeof(d), "guest-%05d", i);
			e = vigil_expo_sample(w, (const char *[]){ d }, (uint64_t)i, 1);
		}
		if (e)
			return e;
	}
	return 0;
}

static int om_status(void *ctx, struct json_object *obj)
{
	struct owner *o = ctx;

	o->status_calls++;
	if (o->fail)
		return o->fail;
	json_object_object_add(obj, "guests", json_object_new_int(3));
	return 0;
}

static void om_log(void *ctx, const char *msg)
{
	struct owner *o = ctx;

	o->logs++;
	snprintf(o->last_log, sizeof(o->last_log), "%s", msg);
}

struct fx {
	struct vigil_loop *l;
	struct vigil_http *h;
	struct owner o;
	uint16_t port;
	int family;
};

static struct vigil_http_opts opts_for(struct fx *x, const char *listen)
{
	return (struct vigil_http_opts){
		.sz = sizeof(struct vigil_http_opts),
		.listen = listen,
		.metrics = om_metrics,
		.status = om_status,
		.ctx = &x->o,
		.log = om_log,
		.log_ctx = &x->o,
	};
}

static int fx_start(struct fx *x, const struct vigil_http_opts *o)
{
	int e;

	if (!x->l)
		assert_int_equal(vigil_loop_new(&x->l), 0);
	e = vigil_http_new(x->l, o, &x->h);
	if (e == 0) {
		x->port = vigil_http_port(x->h);
		assert_true(x->port > 0);
	}
	return e;
}

static void fx_stop(struct fx *x)
{
	vigil_http_free(x->h);
	vigil_loop_free(x->l);
	memset(x, 0, sizeof(*x));
}

/* ---- a client ------------------------------------------------------------------ */

static int client_connect(const struct fx *x)
{
	struct sockaddr_in v4 = { .sin_family = AF_INET, .sin_port = htons(x->port) };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_port = htons(x->port) };
	int fam = x->family ? x->family : AF_INET;
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	v6.sin6_addr = in6addr_loopback;
	/* the kernel completes the handshake from the backlog: no loop needed */
	if (fam == AF_INET6)
		assert_int_equal(connect(fd, (struct sockaddr *)&v6, sizeof(v6)), 0);
	else
		assert_int_equal(connect(fd, (struct sockaddr *)&v4, sizeof(v4)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Sends req, running the loop while the socket is full; stops early when
 * the server closed the connection (it may refuse a request midway). */
static void client_send(struct fx *x, int fd, const char *req)
{
	size_t n = strlen(req), off = 0;

	while (off < n) {
		ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			return;
		if (w < 0) {
			assert_int_equal(errno, EAGAIN);
			assert_true(vigil_loop_run_once(x->l, 10) >= 0);
			continue;
		}
		off += (size_t)w;
	}
}

/* Runs the loop and reads fd until EOF, for up to wait_ms. The bytes read
 * (NUL-terminated); -1 when EOF did not come. */
static ssize_t client_read(struct fx *x, int fd, char *out, size_t size, int wait_ms)
{
	uint64_t t0 = vigil_loop_now_ns();
	size_t len = 0;

	for (;;) {
		ssize_t n = recv(fd, out + len, size - 1 - len, 0);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n > 0) {
			len += (size_t)n;
			assert_true(len < size - 1);
			continue;
		}
		assert_int_equal(errno, EAGAIN);
		if (vigil_loop_now_ns() - t0 > (uint64_t)wait_ms * MS) {
			out[len] = '\0';
			return -1;
		}
		assert_true(vigil_loop_run_once(x->l, 10) >= 0);
	}
	out[len] = '\0';
	return (ssize_t)len;
}

struct resp {
	int status; /* 0: no answer */
	char raw[1 << 20];
	const char *body;
	size_t body_len;
};

static const char *header(const struct resp *r, const char *name)
{
	static char v[256];
	size_t n = strlen(name);

	for (const char *p = strstr(r->raw, "\r\n"); p && p < r->body; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
			const char *s = p + 3 + n, *e = strstr(s, "\r\n");

			while (*s == ' ')
				s++;
			snprintf(v, sizeof(v), "%.*s", (int)(e - s), s);
			return v;
		}
	}
	return NULL;
}

/* One request on a fresh connection (Connection: close). */
static void request(struct fx *x, const char *method, const char *path, const char *extra,
		    struct resp *r)
{
	char req[512];
	int fd = client_connect(x);
	ssize_t n;
	const char *sep;

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n",
		 method, path, extra ? extra : "");
	client_send(x, fd, req);
	n = client_read(x, fd, r->raw, sizeof(r->raw), 3000);
	close(fd);
	assert_true(n > 0);
	assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d", &r->status), 1);
	sep = strstr(r->raw, "\r\n\r\n");
	assert_non_null(sep);
	r->body = sep + 4;
	r->body_len = (size_t)n - (size_t)(r->body - r->raw);
}

/* ---- listen strings ------------------------------------------------------------ */

static void test_parse_listen(void **state)
{
	static const struct {
		const char *s;
		int family; /* 0: refused */
		const char *addr;
		unsigned port;
	} v[] = {
		{ "127.0.0.1:9100", AF_INET, "127.0.0.1", 9100 },
		{ "0.0.0.0:0", AF_INET, "0.0.0.0", 0 },
		{ "[::1]:9100", AF_INET6, "::1", 9100 },
		{ "[::]:65535", AF_INET6, "::", 65535 },
		{ "[fe80::1:2]:80", AF_INET6, "fe80::1:2", 80 },
		{ ":9100", AF_INET, "127.0.0.1", 9100 },
		{ "9100", AF_INET, "127.0.0.1", 9100 },
		{ "0", AF_INET, "127.0.0.1", 0 },
		{ "", 0, NULL, 0 },
		{ ":", 0, NULL, 0 },
		{ "127.0.0.1:", 0, NULL, 0 },
		{ "127.0.0.1", 0, NULL, 0 },
		{ "127.0.0.1:65536", 0, NULL, 0 },
		{ "127.0.0.1:99999999", 0, NULL, 0 },
		{ "127.0.0.1:+80", 0, NULL, 0 },
		{ "127.0.0.1:8x", 0, NULL, 0 },
		{ "localhost:9100", 0, NULL, 0 },
		{ "::1:9100", 0, NULL, 0 },
		{ "[::1]", 0, NULL, 0 },
		{ "[::1]9100", 0, NULL, 0 },
		{ "[]:9100", 0, NULL, 0 },
		{ "[127.0.0.1]:9100", 0, NULL, 0 },
		{ "[::1]:9100x", 0, NULL, 0 },
		{ "1.2.3:80", 0, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len = 0;
		char addr[64] = "";
		unsigned port;
		int e = vigil_http_parse_listen(v[i].s, &ss, &len);

		if (!v[i].family) {
			if (e != -EINVAL)
				fail_msg("'%s' accepted", v[i].s);
			continue;
		}
		if (e != 0)
			fail_msg("'%s' refused", v[i].s);
		assert_int_equal(ss.ss_family, v[i].family);
		if (v[i].family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			assert_int_equal(len, sizeof(*a));
			inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
			port = ntohs(a->sin_port);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			assert_int_equal(len, sizeof(*a));
			inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
			port = ntohs(a->sin6_port);
		}
		assert_string_equal(addr, v[i].addr);
		assert_int_equal(port, v[i].port);
	}
	assert_int_equal(vigil_http_parse_listen(NULL, NULL, NULL), -EINVAL);
}

/* ---- serving ------------------------------------------------------------------- */

static void test_serves(void **state)
{
	struct fx x = { 0 };
	struct vigil_http_opts o = opts_for(&x, "127.0.0.1:0");
	struct vigil_http_stats st;
	struct json_object *j, *g;
	static struct resp r;

	(void)state;
	x.o.series = 2;
	assert_int_equal(fx_start(&x, &o), 0);

	request(&x, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
	assert_string_equal(r.body, "# HELP vigil_test_value A test value.\n"
				    "# TYPE vigil_test_value gauge\n"
				    "vigil_test_value{domain=\"guest-00000\"} 0\n"
				    "vigil_test_value{domain=\"guest-00001\"} 1\n");

	request(&x, "HEAD", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);

	request(&x, "GET", "/status", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type"), "application/json");
	j = json_tokener_parse(r.body);
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "guests", &g));
	assert_int_equal(json_object_get_int(g), 3);
	json_object_put(j);

	request(&x, "GET", "/", NULL, &r);
	assert_int_equal(r.status, 404);
	request(&x, "GET", "/metricsx", NULL, &r);
	assert_int_equal(r.status, 404);
	request(&x, "POST", "/metrics", "Content-Length: 0\r\n", &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(header(&r, "Allow"), "GET, HEAD");
	request(&x, "GET", "/metrics?x=1", NULL, &r); /* a query string is not a path */
	assert_int_equal(r.status, 200);

	vigil_http_stats(x.h, &st);
	assert_int_equal(st.requests, 7);
	assert_int_equal(st.metrics, 3);
	assert_int_equal(st.status, 1);
	assert_int_equal(st.not_found, 3);
	assert_int_equal(x.o.metrics_calls, 3);
	assert_int_equal(x.o.logs, 0);
	fx_stop(&x);
}

static void test_large_body_and_errors(void **state)
{
	struct fx x = { 0 };
	struct vigil_http_opts o = opts_for(&x, "127.0.0.1:0");
	struct vigil_http_stats st;
	static struct resp r;
	char line[64];

	(void)state;
	x.o.series = 9000; /* two families, ~800 KB: many writes through the loop */
	x.o.families = 2;
	o.max_body = 1 << 20;
	assert_int_equal(fx_start(&x, &o), 0);
	request(&x, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, strlen(r.body));
	assert_true(r.body_len > 750000);
	snprintf(line, sizeof(line), "\nvigil_test_value_1{domain=\"guest-08999\"} 8999\n");
	assert_non_null(strstr(r.body, line));
	assert_true(strstr(r.body, line) + strlen(line) == r.body + r.body_len);

	x.o.series = 12000; /* over a family's bound: the rest dropped and counted */
	x.o.families = 1;
	request(&x, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\nvigil_test_value{domain=\"guest-09999\"} 9999\n"));
	assert_null(strstr(r.body, "guest-10000"));
	vigil_http_stats(x.h, &st);
	assert_int_equal(st.dropped_series, 2000);
	assert_int_equal(x.o.logs, 0);

	x.o.series = 9000; /* over max_body */
	x.o.families = 3;
	request(&x, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 500);
	assert_int_equal(x.o.logs, 1);
	assert_non_null(strstr(x.o.last_log, "/metrics"));

	x.o.fail = -EIO;
	request(&x, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 500);
	request(&x, "GET", "/status", NULL, &r);
	assert_int_equal(r.status, 500);
	assert_int_equal(x.o.logs, 1); /* once, then counted */
	vigil_http_stats(x.h, &st);
	assert_int_equal(st.errors, 3);
	fx_stop(&x);
}

/* ---- the token ------------------------------------------------------------------- */

static void token_file(char *path, const char *content)
{
	int fd;

	strcpy(path, "/tmp/vigil-token-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static void digest(const char *s, uint8_t out[SHA256_DIGEST_SIZE])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, strlen(s), (const uint8_t *)s);
	sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

/* "Authorization: Bearer X" for an X != token with a digest that starts
 * with the same two bytes as the token's (a search of ~65536 digests). */
static const char *near_miss_header(const char *token)
{
	static char hdr[96];
	uint8_t want[SHA256_DIGEST_SIZE], got[SHA256_DIGEST_SIZE];
	char cand[32];

	digest(token, want);
	for (unsigned i = 0; i < 10000000; i++) {
		snprintf(cand, sizeof(cand), "near-%u", i);
		digest(cand, got);
		if (got[0] == want[0] && got[1] == want[1]) {
			snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", cand);
			return hdr;
		}
	}
	fail_msg("no near miss found");
	return NULL;
}

static void test_token(void **state)
{
	struct fx x = { 0 };
	struct vigil_http_opts o = opts_for(&x, ":0");
	struct vigil_http_stats st;
	static struct resp r;
	char path[64];

	(void)state;
	token_file(path, "s3cret-token\n");
	o.token_file = path;
	assert_int_equal(fx_start(&x, &o), 0);
	unlink(path); /* read once, at start */

	request(&x, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(header(&r, "WWW-Authenticate"), "Bearer realm=\"vigil\"");
	request(&x, "GET", "/metrics", "Authorization: Bearer wrong\r\n", &r);
	assert_int_equal(r.status, 401);
	request(&x, "GET", "/metrics", "Authorization: Bearer s3cret-toke\r\n", &r);
	assert_int_equal(r.status, 401);
	request(&x, "GET", "/metrics", "Authorization: Bearer s3cret-tokenX\r\n", &r);
	assert_int_equal(r.status, 401);
	request(&x, "GET", "/metrics", "Authorization: Basic czNjcmV0LXRva2Vu\r\n", &r);
	assert_int_equal(r.status, 401);
	request(&x, "GET", "/metrics", "Authorization: Bearer \r\n", &r);
	assert_int_equal(r.status, 401);
	/* a wrong token whose SHA-256 shares the right one's first two bytes:
	 * the whole digest is compared */
	request(&x, "GET", "/metrics", near_miss_header("s3cret-token"), &r);
	assert_int_equal(r.status, 401);
	request(&x, "GET", "/nope", NULL, &r); /* before routing: no path is told */
	assert_int_equal(r.status, 401);
	assert_int_equal(x.o.metrics_calls, 0);

	request(&x, "GET", "/metrics", "Authorization: Bearer s3cret-token\r\n", &r);
	assert_int_equal(r.status, 200);
	request(&x, "GET", "/status", "Authorization: bearer s3cret-token\r\n", &r);
	assert_int_equal(r.status, 200);
	request(&x, "GET", "/nope", "Authorization: Bearer s3cret-token\r\n", &r);
	assert_int_equal(r.status, 404);
	vigil_http_stats(x.h, &st);
	assert_int_equal(st.unauthorized, 8);
	fx_stop(&x);
}

static void bad_token(const char *content, int want)
{
	struct fx x = { 0 };
	struct vigil_http_opts o = opts_for(&x, ":0");
	char path[64];

	if (content) {
		token_file(path, content);
	} else {
		strcpy(path, "/tmp/vigil-token-missing");
		unlink(path);
	}
	o.token_file = path;
	assert_int_equal(fx_start(&x, &o), want);
	assert_null(x.h);
	assert_int_equal(x.o.logs, 1);
	assert_non_null(strstr(x.o.last_log, path));
	unlink(path);
	fx_stop(&x);
}

static void test_bad_token_files(void **state)
{
	char big[VIGIL_HTTP_TOKEN_MAX + 8];

	(void)state;
	bad_token(NULL, -ENOENT);
	bad_token("", -EINVAL);
	bad_token(" \n", -EINVAL);
	bad_token("two words\n", -EINVAL);
	bad_token("tab\there", -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	bad_token(big, -EINVAL);
}

/* ---- IPv6 ---------------------------------------------------------------------- */

static void test_ipv6(void **state)
{
	struct fx x = { 0 };
	struct vigil_http_opts o = opts_for(&x, "[::1]:0");
	static struct resp r;
	int e;

	(void)state;
	e = fx_start(&x, &o);
	if (e == -EADDRNOTAVAIL || e == -EAFNOSUPPORT) {
		fx_stop(&x);
		print_message("no IPv6 loopback here: skipped\n");
		skip();
	}
	assert_int_equal(e, 0);
	x.family = AF_INET6;
	request(&x, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	fx_stop(&x);
}

/* ---- bounds ---------------------------------------------------------------------- */

static void test_idle_timeout(void **state)
{
	struct fx x = { 0 };
	struct vigil_http_opts o = opts_for(&x, ":0");
	char buf[256];
	uint64_t t0;
	int fd;

	(void)state;
	o.timeout_s = 1;
	assert_int_equal(fx_start(&x, &o), 0);
	fd = client_connect(&x);
	client_send(&x, fd, "GET /metrics HTTP/1.1\r\n"); /* and nothing more */
	t0 = vigil_loop_now_ns();
	assert_true(client_read(&x, fd, buf, sizeof(buf), 5000) >= 0); /* the server closed it */
	assert_true(vigil_loop_now_ns() - t0 >= 500 * MS);
	assert_true(vigil_loop_now_ns() - t0 < 4000 * MS);
	close(fd);
	fx_stop(&x);
}

static void test_connection_limit(void **state)
{
	struct fx x = { 0 };
	struct vigil_http_opts o = opts_for(&x, ":0");
	static struct resp r;
	char buf[4096];
	int held[2], third;
	ssize_t n;

	(void)state;
	o.max_connections = 2;
	assert_int_equal(fx_start(&x, &o), 0);
	for (int i = 0; i < 2; i++) {
		held[i] = client_connect(&x);
		client_send(&x, held[i], "GET /metrics HTTP/1.1\r\n"); /* held open */
	}
	for (int i = 0; i < 5; i++)
		assert_true(vigil_loop_run_once(x.l, 10) >= 0);
	third = client_connect(&x);
	client_send(&x, third, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	n = client_read(&x, third, buf, sizeof(buf), 300);
	assert_null(strstr(buf, "HTTP/1.1 200")); /* not served while two are held */
	(void)n;
	close(third);
	close(held[0]);
	close(held[1]);
	request(&x, "GET", "/metrics", NULL, &r); /* room again */
	assert_int_equal(r.status, 200);
	fx_stop(&x);
}

/*
 * Slow clients (slowloris) and garbage do not shut a scraper out: 600
 * connections each holding half a request, then 200 garbage requests, and
 * a whole scrape is still answered; the server holds at most its limit.
 */
static void test_slow_clients(void **state)
{
	enum { SLOW = 600, GARBAGE = 200 };
	struct fx x = { 0 };
	struct vigil_http_opts o = opts_for(&x, ":0");
	struct vigil_http_stats st;
	static struct resp r;
	static int held[SLOW];
	struct rlimit rl;
	char buf[4096];

	(void)state;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < 2 * SLOW + 64)
		skip(); /* both ends of every connection live in this process */
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	assert_int_equal(fx_start(&x, &o), 0);
	for (int i = 0; i < SLOW; i++) {
		held[i] = client_connect(&x);
		client_send(&x, held[i], "GET /metrics HTTP/1.1\r\nX-Slow: ");
		assert_true(vigil_loop_run_once(x.l, 0) >= 0); /* accept: the backlog is short */
	}
	for (int i = 0; i < GARBAGE; i++) {
		int fd = client_connect(&x);
		client_send(&x, fd, i % 2 ? "\x16\x03\x01garbage\r\n\r\n" : "BREW / HTCPCP/1.0\r\n\r\n");
		client_read(&x, fd, buf, sizeof(buf), 1000); /* answered or closed */
		close(fd);
	}
	request(&x, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	vigil_http_stats(x.h, &st);
	assert_true(st.open_max >= SLOW); /* they were all held */
	assert_true(st.open_max <= VIGIL_HTTP_MAX_CONNS);
	for (int i = 0; i < SLOW; i++)
		close(held[i]);
	fx_stop(&x);
}

static void test_memory_limit(void **state)
{
	struct fx x = { 0 };
	struct vigil_http_opts o = opts_for(&x, ":0");
	static struct resp r;
	static char req[40000], big[32768];
	char buf[4096];
	int fd, status = 0;

	(void)state;
	o.conn_memory = 8192;
	assert_int_equal(fx_start(&x, &o), 0);
	memset(big, 'a', sizeof(big) - 1);
	snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", big);
	fd = client_connect(&x);
	client_send(&x, fd, req);
	assert_true(client_read(&x, fd, buf, sizeof(buf), 3000) >= 0);
	close(fd);
	if (buf[0])
		assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &status), 1);
	assert_int_not_equal(status, 200); /* refused (431) or closed */
	request(&x, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	fx_stop(&x);
}

/* ---- set-up errors and freeing ---------------------------------------------------- */

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_port_in_use_and_free(void **state)
{
	struct fx x = { 0 }, y = { 0 };
	struct vigil_http_opts o = opts_for(&x, "127.0.0.1:0");
	char spec[32];
	int fds0 = open_fds(), fd;
	struct sockaddr_in a = { .sin_family = AF_INET };

	(void)state;
	assert_int_equal(fx_start(&x, &o), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", x.port);
	o = opts_for(&y, spec);
	assert_int_equal(fx_start(&y, &o), -EADDRINUSE);
	assert_int_equal(y.o.logs, 1);
	assert_non_null(strstr(y.o.last_log, spec));
	assert_non_null(strstr(y.o.last_log, "Address already in use"));
	fx_stop(&y);
	o = opts_for(&y, "localhost:80");
	assert_int_equal(fx_start(&y, &o), -EINVAL);
	assert_int_equal(y.o.logs, 1);
	fx_stop(&y);
	o = opts_for(&y, ":0");
	o.sz = sizeof(o) - 1;
	assert_int_equal(fx_start(&y, &o), -EINVAL);
	fx_stop(&y);

	a.sin_port = htons(x.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fx_stop(&x); /* the port closes with the server */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
	assert_int_equal(open_fds(), fds0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_serves),
		cmocka_unit_test(test_large_body_and_errors),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_bad_token_files),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_slow_clients),
		cmocka_unit_test(test_memory_limit),
		cmocka_unit_test(test_port_in_use_and_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
