/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* memmem */
/*
 * Fault injection into the /metrics server (host/metrics/http.c:
 * libmicrohttpd in external epoll mode on the loop). libmicrohttpd calls
 * accept4, recv, send, sendmsg and epoll_wait through its PLT, so the
 * interposers of fault_interpose.c catch them as they catch the loop's
 * own epoll_wait and timerfd reads: every one is counted and failed in
 * turn (fault.h).
 *
 * The clients are the test's, on loopback TCP between the loop's turns,
 * with small receive buffers so that answers go out in many sends: two
 * scrapes of /metrics (about 200 KiB each), /status, a request torn into
 * 7-byte pieces, a keep-alive request, garbage (closed without an answer), a client
 * that half-closes after its request, one that resets after reading the
 * first KiB of its answer, and one that connects and goes at once.
 *
 * The loop's clock is fake and stands still, so MHD's timer runs only
 * when MHD asks for "at once", and every run makes the same calls.
 *
 * Every run with a fault at call n must end (MHD_FAULTS says which kinds):
 *   - every client with the reference's answer (status, body hashed), or,
 *     when the fault broke a connection (ECONNRESET, EPIPE on one of
 *     MHD's sockets, ECONNRESET on accept4: the client reset before it was
 *     accepted), that client's connection closed with at most a prefix of
 *     its answer and every other client as the reference;
 *   - the server then still answers a scrape, whole;
 *   - no connection left: open_now 0 once the clients closed, and the
 *     process's fd count as before the server;
 * never a crash, a hang (CLIENT_TURNS) or a leak (ASan). Cap: RUNS_MAX.
 * Measured: 55 calls, 150 runs, 1.6 s (RelWithDebInfo), 4.8 s (ASan).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "expo.h"
#include "fault.h"
#include "http.h"
#include "loop.h"

#define RUNS_MAX     8000
#define CLIENTS_MAX  12
#define RESP_MAX     (512u << 10)
#define CLIENT_TURNS 4000 /* turns a run may take: past it, a hang */
#define SERIES       4000 /* samples of /metrics: about 200 KiB */
#define RCVBUF       8192 /* the clients' receive buffers */
#define MAX_CONNS    3    /* the others wait in the backlog */

enum cl_kind {
	CL_GET = 0,   /* the request at once, read to EOF */
	CL_TORN,      /* the request in 7-byte pieces, one a turn */
	CL_KEEPALIVE, /* HTTP/1.1 without "Connection: close" (MHD 0.9.75 closes after
			 one answer all the same: "Connection: close") */
	CL_HALFCLOSE, /* the request, then shutdown(SHUT_WR) */
	CL_RESET,     /* reads 1 KiB of the answer, then resets */
	CL_GONE,      /* connects and closes at once */
};

struct client {
	enum cl_kind kind;
	const char *req;
	int fd;
	size_t sent, want; /* request bytes sent, and to send (both requests) */
	bool done;         /* EOF, reset, or (keep-alive) both answers */
	bool broken;       /* the server reset it */
	char *resp;
	size_t len;
};

/* What a client got: the status of each answer and a hash of it all. */
struct seen {
	size_t len;
	uint64_t hash;
	unsigned status[2];
	bool broken;
};

struct mrun {
	struct vigil_loop *l;
	uint64_t now;
	struct vigil_http *h;
	struct client c[CLIENTS_MAX];
	unsigned n;
	bool hung;
	struct seen s[CLIENTS_MAX];
	struct seen scrape; /* the scrape after the clients */
	struct vigil_http_stats st;
	int fds_before, fds_after;
	unsigned logs;
	int fd[CLIENTS_MAX]; /* each client's fd, to know whose a fault was */
	uint64_t calls;      /* the host's calls before the last scrape */
};

static uint64_t hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* ---- the owner's pages --------------------------------------------------------------- */

static int om_metrics(void *ctx, struct vigil_expo *w)
{
	static const struct vigil_metric_family f = {
		.name = "vigil_test_value",
		.help = "A test value.",
		.type = VIGIL_METRIC_GAUGE,
		.labels = { "domain" },
	};
	int e = vigil_expo_family(w, &f);

	(void)ctx;
	for (int i = 0; i < SERIES && !e; i++) {
		char d[32];

		snprintf(d, sizeof(d), "guest-%05d", i);
		e = vigil_expo_sample(w, (const char *[]){ d }, (uint64_t)i * 7, 1);
	}
	return e;
}

static int om_status(void *ctx, struct json_object *obj)
{
	(void)ctx;
	json_object_object_add(obj, "guests", json_object_new_int(3));
	return 0;
}

static void om_log(void *ctx, const char *msg)
{
	(void)msg;
	((struct mrun *)ctx)->logs++;
}

static uint64_t fake_clock(void *ctx)
{
	return ((struct mrun *)ctx)->now;
}

/* ---- the clients ------------------------------------------------------------------- */

#define GET_METRICS "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
#define GET_STATUS  "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
#define KEEP_ALIVE  "GET /status HTTP/1.1\r\nHost: x\r\n\r\n"

static void client_add(struct mrun *x, enum cl_kind kind, const char *req)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(vigil_http_port(x->h)) };
	struct client *c = &x->c[x->n];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0 && x->n < CLIENTS_MAX);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){ RCVBUF }, sizeof(int)), 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	*c = (struct client){ .kind = kind, .req = req, .fd = fd, .want = strlen(req) };
	c->resp = malloc(RESP_MAX);
	assert_non_null(c->resp);
	x->fd[x->n++] = fd;
	if (kind == CL_GONE) {
		close(fd);
		c->fd = -1;
		c->done = true;
	}
}

static void client_close(struct client *c, bool reset)
{
	if (reset)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &(struct linger){ .l_onoff = 1 },
			   sizeof(struct linger));
	close(c->fd);
	c->fd = -1;
	c->done = true;
}

static void client_send(struct client *c)
{
	size_t n = c->want - c->sent;
	ssize_t w;

	if (c->kind == CL_TORN && n > 7)
		n = 7;
	if (!n)
		return;
	w = send(c->fd, c->req + c->sent, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w > 0)
		c->sent += (size_t)w;
	if (c->sent == c->want && c->kind == CL_HALFCLOSE)
		shutdown(c->fd, SHUT_WR);
}

/* The status codes of the answers in resp (at most 2); how many are whole. */
static int statuses(const struct client *c, unsigned st[2])
{
	const char *p = c->resp, *end = c->resp + c->len;
	int whole = 0;

	st[0] = st[1] = 0;
	for (int i = 0; i < 2 && p < end; i++) {
		const char *h = memmem(p, (size_t)(end - p), "HTTP/1.", 7);
		const char *cl, *body;
		unsigned long blen = 0;

		if (!h || end - h < 12)
			return whole;
		st[i] = (unsigned)strtoul(h + 9, NULL, 10);
		body = memmem(h, (size_t)(end - h), "\r\n\r\n", 4);
		cl = memmem(h, (size_t)(end - h), "Content-Length: ", 16);
		if (!body)
			return whole;
		if (cl && cl < body)
			blen = strtoul(cl + 16, NULL, 10);
		p = body + 4 + blen;
		whole += p <= end;
	}
	return whole;
}

static void client_turn(struct client *c)
{
	ssize_t n;

	if (c->done)
		return;
	client_send(c);
	while ((n = recv(c->fd, c->resp + c->len, RESP_MAX - c->len, MSG_DONTWAIT)) > 0) {
		c->len += (size_t)n;
		if (c->kind == CL_RESET && c->len >= 1024) {
			client_close(c, true);
			return;
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN) || c->len == RESP_MAX) {
		c->broken = n < 0 && errno == ECONNRESET;
		client_close(c, false);
	}
}

/* ---- a run --------------------------------------------------------------------------- */

static void host_turn(struct mrun *x)
{
	int e;

	fault_host(true);
	e = vigil_loop_run_once(x->l, 0);
	fault_host(false);
	assert_true(e >= 0);
}

static bool clients_done(const struct mrun *x)
{
	for (unsigned i = 0; i < x->n; i++)
		if (!x->c[i].done)
			return false;
	return true;
}

/* Turns until every client is done, then until the server saw them go. */
static void settle(struct mrun *x)
{
	int calm = 0;

	for (int i = 0; i < CLIENT_TURNS; i++) {
		for (unsigned k = 0; k < x->n; k++)
			client_turn(&x->c[k]);
		host_turn(x);
		vigil_http_stats(x->h, &x->st);
		calm = clients_done(x) && x->st.open_now == 0 ? calm + 1 : 0;
		if (calm == 2)
			return;
	}
	x->hung = true;
}

/* A hash of the answers without their Date lines (the one thing that
 * changes from run to run). */
static uint64_t hash_answers(const char *r, size_t len)
{
	uint64_t h = 0;
	const char *p = r, *end = r + len, *d;

	while ((d = memmem(p, (size_t)(end - p), "\r\nDate: ", 8))) {
		const char *eol = memmem(d + 2, (size_t)(end - d - 2), "\r\n", 2);

		h = h * 31 + hash(p, (size_t)(d - p));
		p = eol ? eol : end;
	}
	return h * 31 + hash(p, (size_t)(end - p));
}

static void keep(const struct client *c, struct seen *s)
{
	s->len = c->len;
	s->hash = hash_answers(c->resp, c->len);
	s->broken = c->broken;
	statuses(c, s->status);
}

static void run_open(struct mrun *x)
{
	struct vigil_http_opts o = {
		.sz = sizeof(o),
		.listen = "127.0.0.1:0",
		.metrics = om_metrics,
		.status = om_status,
		.ctx = x,
		.log = om_log,
		.log_ctx = x,
		.max_connections = MAX_CONNS,
	};

	memset(x, 0, sizeof(*x));
	x->fds_before = fd_count();
	x->now = vigil_loop_now_ns() + 3600 * 1000000000ull;
	assert_int_equal(vigil_loop_new(&x->l), 0);
	vigil_loop_set_clock(x->l, fake_clock, x);
	assert_int_equal(vigil_http_new(x->l, &o, &x->h), 0);
}

static void scenario(struct mrun *x)
{
	unsigned first;

	run_open(x);
	client_add(x, CL_GET, GET_METRICS);
	client_add(x, CL_GET, GET_STATUS);
	client_add(x, CL_TORN, GET_METRICS);
	client_add(x, CL_KEEPALIVE, KEEP_ALIVE);
	client_add(x, CL_GET, "GARBAGE\r\n\r\n");
	client_add(x, CL_HALFCLOSE, GET_STATUS);
	client_add(x, CL_RESET, GET_METRICS);
	client_add(x, CL_GONE, "");
	client_add(x, CL_GET, GET_METRICS);
	settle(x);
	x->calls = fault_calls();
	first = x->n;
	for (unsigned i = 0; i < first; i++)
		keep(&x->c[i], &x->s[i]);
	/* after whatever happened: a scrape is answered whole */
	client_add(x, CL_GET, GET_METRICS);
	fault_arm(0, FAULT_NONE);
	settle(x);
	keep(&x->c[first], &x->scrape);
	vigil_http_stats(x->h, &x->st);
	for (unsigned i = 0; i < x->n; i++) {
		if (x->c[i].fd >= 0)
			close(x->c[i].fd);
		free(x->c[i].resp);
	}
	vigil_http_free(x->h);
	vigil_loop_free(x->l);
	x->fds_after = fd_count();
}

/* ---- the verdicts ------------------------------------------------------------------ */

static bool same_seen(const struct seen *a, const struct seen *b)
{
	return a->len == b->len && a->hash == b->hash && a->status[0] == b->status[0] &&
	       a->status[1] == b->status[1];
}

/* The client whose connection the fault broke: closed, with at most what
 * the reference got. */
static bool cut_short(const struct seen *a, const struct seen *ref)
{
	return a->len <= ref->len;
}

static bool acceptable(const struct mrun *x, enum fault_kind k, const struct mrun *ref)
{
	bool breaks = k == FAULT_ECONNRESET || k == FAULT_EPIPE;
	unsigned cut = 0;

	if (x->hung || x->st.open_now != 0 || x->fds_after != x->fds_before ||
	    !same_seen(&x->scrape, &ref->scrape) || x->scrape.status[0] != 200)
		return false;
	for (unsigned i = 0; i < ref->n - 1; i++) {
		if (same_seen(&x->s[i], &ref->s[i]))
			continue;
		if (!breaks || !cut_short(&x->s[i], &ref->s[i]))
			return false;
		cut++;
	}
	return cut <= 1;
}

static void describe(const struct mrun *x, const char *what)
{
	fprintf(stderr,
		"%s: hung %d open_now %u open_max %u fds %d -> %d, connections %llu, logs %u\n",
		what, x->hung, x->st.open_now, x->st.open_max, x->fds_before, x->fds_after,
		(unsigned long long)x->st.connections, x->logs);
	for (unsigned i = 0; i + 1 < x->n; i++)
		fprintf(stderr, "  client %u (kind %d): %zu bytes, status %u %u, broken %d\n", i,
			x->c[i].kind, x->s[i].len, x->s[i].status[0], x->s[i].status[1],
			x->s[i].broken);
	fprintf(stderr, "  scrape: %zu bytes, status %u\n", x->scrape.len, x->scrape.status[0]);
}

/*
 * libmicrohttpd 0.9.75 watches its connections edge-triggered (EPOLLET)
 * and takes EAGAIN, or a count shorter than asked, from recv, send or
 * sendmsg as "the socket is drained (or full): wait for the next edge",
 * which is what the kernel guarantees for a non-blocking socket. An
 * injected one lies (the bytes or the room are there, no edge will come):
 * the connection then waits for MHD's idle timeout (VIGIL_HTTP_TIMEOUT_S,
 * on MHD's own clock, which this test's standing clock never reaches).
 * Those faults cannot happen to MHD and are not injected; everything else
 * is: EINTR on its calls, resets, accept4's faults, both epoll_waits'.
 */
static bool mhd_can_see(const struct fault_rec *r, enum fault_kind k)
{
	bool sock_io = r->call == FAULT_RECV || r->call == FAULT_SEND || r->call == FAULT_SENDMSG;

	return !sock_io || (k != FAULT_EAGAIN && k != FAULT_SHORT);
}

/* The sweep's exclusions: what MHD cannot see (mhd_can_see). */
static bool can_see(void *ctx, const struct fault_rec *r, enum fault_kind k)
{
	(void)ctx;
	return mhd_can_see(r, k);
}

/* A sweep's run: the scenario with the fault armed, judged against the reference. */
struct sweep_ctx {
	struct mrun *x, *ref;
};

static bool sweep_run(void *ctx, uint64_t n, enum fault_kind k)
{
	struct sweep_ctx *c = ctx;

	(void)n;
	scenario(c->x);
	if (acceptable(c->x, k, c->ref))
		return true;
	describe(c->x, "FAILED");
	return false;
}

static void test_metrics(void **state)
{
	static struct mrun x, ref;
	static struct fault_rec trace[FAULT_TRACE_MAX];
	uint64_t calls, per_call[FAULT_CALL__COUNT] = { 0 };
	struct fault_sweep sw;
	struct sweep_ctx ctx = { &x, &ref };

	(void)state;
	fault_reset();
	scenario(&x);
	ref = x;
	calls = ref.calls; /* the last scrape is not faulted */
	describe(&ref, "reference");
	assert_false(ref.hung);
	assert_int_equal(ref.s[0].status[0], 200);
	assert_true(ref.s[0].len > SERIES * 30);
	assert_int_equal(ref.s[1].status[0], 200);
	assert_true(same_seen(&ref.s[2], &ref.s[0])); /* torn: the same answer */
	assert_int_equal(ref.s[3].status[0], 200);
	assert_int_equal(ref.s[4].len, 0); /* garbage: closed without a word */
	assert_int_equal(ref.scrape.status[0], 200);
	assert_int_equal(ref.fds_after, ref.fds_before);
	assert_int_equal(ref.st.open_max, MAX_CONNS); /* the limit was reached */
	assert_true(calls > 0 && calls <= FAULT_TRACE_MAX);
	memcpy(trace, fault_trace(), calls * sizeof(trace[0]));
	for (uint64_t i = 0; i < calls; i++)
		per_call[trace[i].call]++;
	print_message("reference: %llu calls: read %llu, write %llu, recv %llu, send %llu, "
		      "epoll_wait %llu, accept4 %llu, sendmsg %llu\n",
		      (unsigned long long)calls, (unsigned long long)per_call[FAULT_READ],
		      (unsigned long long)per_call[FAULT_WRITE],
		      (unsigned long long)per_call[FAULT_RECV],
		      (unsigned long long)per_call[FAULT_SEND],
		      (unsigned long long)per_call[FAULT_EPOLL_WAIT],
		      (unsigned long long)per_call[FAULT_ACCEPT],
		      (unsigned long long)per_call[FAULT_SENDMSG]);
	assert_int_equal(fault_sweep(trace, calls, RUNS_MAX, can_see, sweep_run, &ctx, &sw), 0);
	fault_sweep_print(&sw, calls);
	assert_int_equal(sw.failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
