/* SPDX-License-Identifier: MIT */
/*
 * metrics-bench: the /metrics server of `vigil watch` under hostile load,
 * on the loop it shares with the guests.
 *
 * One loop holds the HTTP server (host/metrics/http.h, the options watch
 * uses unless METRICS_BENCH_MAX_CONNS is set) with a /metrics body of 2,000
 * samples, and one synthetic guest (tests/loop/synth.h). Three children
 * load it for METRICS_BENCH_SECONDS (default 10):
 *   - an attacker holding SLOW connections (default 1000,
 *     METRICS_BENCH_SLOW) that each send a request line and then one header
 *     byte a second (slowloris), re-opening any the server closes; and
 *     sending garbage requests (random bytes, oversized headers, bad
 *     methods) as fast as one connection at a time allows;
 *   - a scraper: a whole GET /metrics every 100 ms, its latency and status;
 *   - an honest guest beating every 20 ms with a 100 ms deadline, silent
 *     for 300 ms after every 10 beats: each silence must give a stall.
 * The parent samples its own RSS and the server's open connections.
 *
 * Last line:
 *   metrics-bench: slow=S scrapes=N scrape_ok_pct=P scrape_p99_ms=L
 *     stall_late_p99_ms=T stalls=K/R rss_kib=M open_max=C garbage=G
 * Targets: P = 100, L <= 100, T <= 10 (the stall budget), K = R, M
 * bounded (about the same as with no load), C <= the connection limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "http.h"
#include "synth.h"

#define MS             1000000ull
#define BEAT_NS        (20 * MS)
#define DEADLINE_MS    100u
#define SILENCE_NS     (300 * MS)
#define BEATS_ROUND    10
#define ROUNDS_MAX     256
#define SCRAPES_MAX    4096
#define HONEST_PID     4242u
#define SAMPLES        2000

struct shared {
	volatile int stop;
	uint16_t port;
	uint32_t rounds;
	uint64_t last_beat[ROUNDS_MAX];
	uint32_t scrapes, scrape_ok;
	uint64_t scrape_ns[SCRAPES_MAX];
	uint64_t garbage, slow_open, reopened;
};

struct bench {
	struct shared *sh;
	struct synth_fleet *f;
	unsigned slow;
	uint64_t stall_seen[ROUNDS_MAX];
	uint32_t n_stalls;
};

/* ---- the server's body ------------------------------------------------------ */

static int body(void *ctx, struct vigil_expo *w)
{
	static const struct vigil_metric_family fam = {
		.name = "bench_value",
		.help = "A value per series, to give the body its size.",
		.type = VIGIL_METRIC_GAUGE,
		.labels = { "series" },
		.max_series = SAMPLES,
	};
	char v[16];
	const char *vals[] = { v };
	int e = vigil_expo_family(w, &fam);

	(void)ctx;
	for (unsigned i = 0; i < SAMPLES && e == 0; i++) {
		snprintf(v, sizeof(v), "%u", i);
		e = vigil_expo_sample(w, vals, i, 1);
	}
	return e;
}

/* ---- the children ---------------------------------------------------------------- */

static int tcp_connect(uint16_t port, bool nonblock)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* One garbage request on its own connection: random bytes, an oversized
 * header, or a bad method; the answer (if any) read and dropped. */
static void garbage(uint16_t port, uint64_t *rng)
{
	static char junk[48 << 10];
	char rd[4096];
	int fd = tcp_connect(port, false), kind;
	struct timeval tv = { 0, 200000 };
	size_t n;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* a server that reads nothing */
	*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
	kind = (int)(*rng >> 60) % 3;
	if (kind == 0) {
		for (size_t i = 0; i < 4096; i++)
			junk[i] = (char)(*rng >> (i % 56));
		n = 4096;
	} else if (kind == 1) {
		n = (size_t)snprintf(junk, sizeof(junk), "GET /metrics HTTP/1.1\r\nX-Big: ");
		memset(junk + n, 'a', sizeof(junk) - n - 4);
		memcpy(junk + sizeof(junk) - 4, "\r\n\r\n", 4);
		n = sizeof(junk);
	} else {
		n = (size_t)snprintf(junk, sizeof(junk), "BREW /coffee HTCPCP/1.0\r\n\r\n");
	}
	if (send(fd, junk, n, MSG_NOSIGNAL) > 0)
		while (recv(fd, rd, sizeof(rd), 0) > 0)
			;
	close(fd);
}

/* Slow connections: a request line, then a header byte a second each. */
static int attacker(void *ctx)
{
	struct bench *b = ctx;
	struct shared *sh = b->sh;
	int *fds = calloc(b->slow, sizeof(int));
	uint64_t rng = 0x5eed, tick = 0;
	struct rlimit rl;

	synth_fleet_close_hosts(b->f);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (unsigned i = 0; fds && i < b->slow; i++)
		fds[i] = -1;
	while (fds && !sh->stop) {
		uint64_t now = now_ns();
		bool second = now - tick >= 1000 * MS;

		for (unsigned i = 0; i < b->slow && !sh->stop; i++) {
			char c;
			if (fds[i] >= 0 && recv(fds[i], &c, 1, MSG_DONTWAIT) == 0) {
				close(fds[i]); /* the server closed it: open another */
				fds[i] = -1;
				sh->reopened++;
			}
			if (fds[i] < 0) {
				fds[i] = tcp_connect(sh->port, true);
				if (fds[i] >= 0) {
					sh->slow_open++;
					send(fds[i], "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL);
				}
			} else if (second) {
				send(fds[i], "X", 1, MSG_NOSIGNAL);
			}
		}
		if (second)
			tick = now;
		garbage(sh->port, &rng);
		sh->garbage++;
	}
	for (unsigned i = 0; fds && i < b->slow; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return 0;
}

/* A whole scrape: 1 ok (HTTP 200 and the whole body), 0 not. */
static int scrape(uint16_t port)
{
	static char buf[256 << 10];
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
	struct timeval tv = { 2, 0 };
	int fd = tcp_connect(port, false);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		close(fd);
		return 0;
	}
	while (got < sizeof(buf) - 1 && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return !strncmp(buf, "HTTP/1.1 200", 12) && strstr(buf, "bench_value{series=\"1999\"}");
}

static int scraper(void *ctx)
{
	struct bench *b = ctx;
	struct shared *sh = b->sh;
	uint64_t next = now_ns();

	synth_fleet_close_hosts(b->f);
	while (!sh->stop && sh->scrapes < SCRAPES_MAX) {
		uint64_t t0;

		synth_sleep_until(next);
		next += 100 * MS;
		t0 = now_ns();
		sh->scrape_ok += (uint32_t)scrape(sh->port);
		sh->scrape_ns[sh->scrapes++] = now_ns() - t0;
	}
	return 0;
}

static int honest(void *ctx)
{
	struct bench *b = ctx;
	struct shared *sh = b->sh;
	const uint32_t pid = HONEST_PID;
	struct synth_tx t;
	int e;

	synth_fleet_close_hosts(b->f);
	e = synth_tx_init(&t, synth_peer_fd(b->f, 0), 0, 0x40e57);
	if (e == 0)
		e = synth_tx_hello(&t, "honest");
	if (e == 0)
		e = synth_tx_sys_rdy(&t);
	while (e == 0 && !sh->stop && sh->rounds < ROUNDS_MAX) {
		uint64_t start = now_ns(), last = start;

		for (int k = 0; k < BEATS_ROUND && e == 0; k++) {
			synth_sleep_until(start + (uint64_t)k * BEAT_NS);
			last = now_ns();
			e = synth_tx_beats(&t, &pid, 1, DEADLINE_MS);
			synth_tx_drain(&t);
		}
		sh->last_beat[sh->rounds++] = last;
		synth_sleep_until(last + SILENCE_NS);
	}
	synth_tx_free(&t);
	return e < 0;
}

/* ---- the parent ------------------------------------------------------------------ */

static void on_event(void *ctx, unsigned i, const struct vigil_event *ev, uint64_t seen_ns)
{
	struct bench *b = ctx;

	(void)i;
	if (ev->type == VIGIL_EV_STALL && ev->process.pid == HONEST_PID &&
	    b->n_stalls < ROUNDS_MAX)
		b->stall_seen[b->n_stalls++] = seen_ns;
}

static unsigned long rss_kib(void)
{
	char line[256];
	unsigned long kib = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t p99(uint64_t *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
}

static bool past(void *ctx)
{
	return now_ns() >= *(uint64_t *)ctx;
}

/* Each round's stall lateness: seen minus (last beat + deadline); a round
 * with no stall counts as missing. */
static uint64_t stall_late(struct bench *b, uint32_t *found, uint32_t rounds)
{
	uint64_t late[ROUNDS_MAX];
	uint32_t n = 0;

	for (uint32_t r = 0; r < rounds; r++) {
		uint64_t due = b->sh->last_beat[r] + DEADLINE_MS * MS;
		for (uint32_t k = 0; k < b->n_stalls; k++)
			if (b->stall_seen[k] >= due && b->stall_seen[k] < due + SILENCE_NS) {
				late[n++] = b->stall_seen[k] - due;
				break;
			}
	}
	*found = n;
	return p99(late, n);
}

static unsigned env_u(const char *name, unsigned def)
{
	const char *v = getenv(name);
	return v && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

int main(void)
{
	struct vigil_session_opts so;
	struct synth_fleet_opts fo = { .n = 1, .sopts = &so, .event = on_event };
	struct bench b = { .slow = env_u("METRICS_BENCH_SLOW", 1000) };
	struct vigil_http_opts ho = { .sz = sizeof(ho), .listen = "127.0.0.1:0", .metrics = body };
	unsigned secs = env_u("METRICS_BENCH_SECONDS", 10);
	struct vigil_http_stats st;
	struct vigil_loop *l;
	struct vigil_http *h;
	unsigned long rss0, rss_max = 0;
	pid_t kids[3];
	uint64_t end, idle_end;
	uint32_t rounds, found;
	uint64_t late, scr;
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	ho.max_connections = env_u("METRICS_BENCH_MAX_CONNS", 0);
	vigil_session_opts_default(&so);
	so.mode = VIGIL_MODE_WATCH;
	fo.ctx = &b;
	b.sh = synth_shared_new(sizeof(*b.sh));
	if (!b.sh || vigil_loop_new(&l) < 0 || synth_fleet_new(l, &fo, &b.f) < 0 ||
	    vigil_http_new(l, &ho, &h) < 0) {
		fprintf(stderr, "metrics-bench: setup failed\n");
		return 1;
	}
	b.sh->port = vigil_http_port(h);
	idle_end = now_ns() + 500 * MS; /* the loop settles: RSS without load */
	synth_run_until(l, past, &idle_end, 1000);
	rss0 = rss_kib();
	kids[0] = synth_spawn(honest, &b);
	kids[1] = synth_spawn(attacker, &b);
	kids[2] = synth_spawn(scraper, &b);
	synth_fleet_close_peers(b.f);
	end = now_ns() + (uint64_t)secs * 1000 * MS;
	while (now_ns() < end) {
		uint64_t slice = now_ns() + 200 * MS;
		unsigned long r;
		synth_run_until(l, past, &slice, 400);
		r = rss_kib();
		rss_max = r > rss_max ? r : rss_max;
	}
	b.sh->stop = 1;
	for (int i = 0; i < 3; i++) /* a child in a blocking connect is not waited for */
		synth_reap(kids[i], SIGKILL);
	vigil_http_stats(h, &st);
	rounds = b.sh->rounds > 1 ? b.sh->rounds - 1 : 0; /* the last may be cut short */
	late = stall_late(&b, &found, rounds);
	scr = p99(b.sh->scrape_ns, b.sh->scrapes);
	printf("rss: idle %lu KiB, under load at most %lu KiB; connections accepted %llu, "
	       "slow opened %llu (re-opened %llu), requests %llu\n",
	       rss0, rss_max, (unsigned long long)st.connections,
	       (unsigned long long)b.sh->slow_open, (unsigned long long)b.sh->reopened,
	       (unsigned long long)st.requests);
	printf("metrics-bench: slow=%u scrapes=%u scrape_ok_pct=%.1f scrape_p99_ms=%.1f "
	       "stall_late_p99_ms=%.2f stalls=%u/%u rss_kib=%lu open_max=%u garbage=%llu\n",
	       b.slow, b.sh->scrapes,
	       b.sh->scrapes ? 100.0 * b.sh->scrape_ok / b.sh->scrapes : 0.0, (double)scr / 1e6,
	       (double)late / 1e6, found, rounds, rss_max, st.open_max,
	       (unsigned long long)b.sh->garbage);
	vigil_http_free(h);
	synth_fleet_free(b.f);
	vigil_loop_free(l);
	synth_shared_free(b.sh, sizeof(*b.sh));
	return 0;
}
