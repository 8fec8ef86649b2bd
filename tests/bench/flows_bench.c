/* SPDX-License-Identifier: MIT */
/*
 * flows-bench: the static agent's CPU per flow under a stream of short TCP
 * connections.
 *
 * Runs the real vigil-agent binary (flows on: destroy notifications, dumps
 * every second, flowbpf unless --bpf off) with its port on a socketpair,
 * first idle for 2 s, then with a child process making --rate short
 * loopback connections per second for --seconds (connect, request, reply,
 * close: both ends are sockets, so two flows each). It reads the port,
 * counts the CLOSED records of those flows and reports the agent's CPU
 * (schedstat run time) over the load less its idle rate, per flow and per
 * 1,000 flows/s. Meanwhile a process beats 100 times a second through the
 * agent: the p99 of its relay latency (vigil_beat() to the frame read
 * here), idle and under the load, says whether flows delay beats. Needs
 * root (notifications; flowbpf attaches to the machine's cgroup v2 root
 * for the run, through links that go with it).
 *
 * Last line: flows-bench: flows_per_s=F cpu_pct=C idle_cpu_pct=I
 *            cpu_pct_per_1000_flows_s=P cpu_us_per_flow=U seen=S/W
 *            notify_lost=N poll_closed=C rate_dropped=R (the agent's counters)
 *            beat_p99_us_idle=B beat_p99_us_load=L
 * usage: flows-bench [--rate CONN_PER_S] [--seconds S] [--bpf on|off]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vigil/agent.h>
#include <vigil/wire.h>

#include "bench_util.h"

#define BEAT_HZ   100
#define BEATS_MAX 100000

struct port {
	int fd;
	struct vigil_asm *a;
	uint16_t listen_port;
	uint64_t closed;  /* CLOSED records of the generator's flows */
	uint64_t lost[3]; /* the agent's flows_notify_lost, flows_poll_closed, flows_rate_dropped */
	bool ready;
	uint32_t beater;      /* the beating process's pid */
	const uint64_t *sent; /* [nonce]: when it called vigil_beat() */
	uint64_t load_from;   /* beats sent from then to load_to are "under load" */
	uint64_t load_to;
	uint64_t lat[2][BEATS_MAX]; /* relay latency, ns: [0] idle, [1] load */
	uint32_t nlat[2];
};

/* A flow of the generator: 127.0.0.1 to the listener, or the listener's end. */
static bool ours(const struct port *p, const struct vigil_flow *f)
{
	static const uint8_t lo[4] = { 127, 0, 0, 1 };

	return f->dst_port && f->family == 4 &&
	       ((f->dst_port == p->listen_port && !memcmp(f->dst_addr, lo, 4)) ||
		(f->src_port == p->listen_port && !memcmp(f->src_addr, lo, 4)));
}

/* AGENT_STATS: what the agent's flow bounds dropped (docs/agent.md's order). */
static void stats(struct port *p, const struct vigil_frame *f)
{
	struct vigil_agent_stats s;

	if (f->hdr.type != VIGIL_MSG_AGENT_STATS ||
	    vigil_agent_stats_decode(f->payload, f->hdr.len, &s) < 0)
		return;
	for (uint32_t i = 0; i < 3; i++)
		p->lost[i] = vigil_agent_stats_get(&s, 23 + i);
}

/* A BEAT frame: the relay latency of the beater's beats. */
static void beats(struct port *p, const struct vigil_frame *f, uint64_t t)
{
	struct vigil_records r;
	struct vigil_beat b;

	if (f->hdr.type != VIGIL_MSG_BEAT || vigil_beats_decode(f->payload, f->hdr.len, &r) < 0)
		return;
	for (uint32_t i = 0; i < r.count; i++) {
		vigil_beat_get(&r, i, &b);
		if (b.pid != p->beater || b.nonce < 1 || b.nonce >= BEATS_MAX || !p->sent[b.nonce])
			continue;
		uint64_t s = p->sent[b.nonce];
		int k = s >= p->load_from && s < p->load_to;

		if (p->nlat[k] < BEATS_MAX)
			p->lat[k][p->nlat[k]++] = t - s;
	}
}

/* Read what the agent wrote until deadline; count the generator's closes. */
static void pump(struct port *p, uint64_t deadline)
{
	static uint8_t buf[1 << 16];

	while (now_ns() < deadline) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		struct vigil_frame f;
		ssize_t n;

		if (poll(&pf, 1, 20) <= 0)
			continue;
		n = read(p->fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		vigil_asm_push(p->a, buf, (size_t)n);
		while (vigil_asm_next(p->a, &f) > 0) {
			struct vigil_records r;
			struct vigil_flow fl;

			p->ready |= f.hdr.type == VIGIL_MSG_SYS_RDY;
			stats(p, &f);
			beats(p, &f, now_ns());
			if (f.hdr.type != VIGIL_MSG_FLOW ||
			    vigil_flows_decode(f.payload, f.hdr.len, &r) < 0)
				continue;
			for (uint32_t i = 0; i < r.count; i++) {
				vigil_flow_get(&r, i, &fl);
				p->closed += fl.event == VIGIL_FLOW_CLOSED && ours(p, &fl);
			}
		}
		if (p->ready && deadline == UINT64_MAX)
			return;
	}
}

/* The load: rate connections per second for seconds, paced; then exit. */
static void generate(int lfd, const struct sockaddr_in *sa, int rate, int seconds)
{
	uint64_t t0 = now_ns(), n = (uint64_t)rate * (uint64_t)seconds;
	char buf[64];

	for (uint64_t i = 0; i < n; i++) {
		uint64_t at = t0 + i * 1000000000ull / (uint64_t)rate;
		struct timespec ts = { (time_t)(at / 1000000000ull), (long)(at % 1000000000ull) };
		int c = socket(AF_INET, SOCK_STREAM, 0), a;

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (c < 0 || connect(c, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
			_exit(1);
		a = accept(lfd, NULL, NULL);
		if (a < 0 || write(c, "GET /\n", 6) != 6 || read(a, buf, sizeof(buf)) <= 0 ||
		    write(a, "200 OK\n", 7) != 7 || read(c, buf, sizeof(buf)) <= 0)
			_exit(1);
		close(c);
		close(a);
	}
	_exit(0);
}

/* BEAT_HZ beats a second through the agent's beat socket, until killed. */
static pid_t start_beater(const char *sock, uint64_t *sent)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = sock };
		uint64_t t = now_ns();

		if (vigil_agent_init(&o) < 0)
			_exit(1);
		for (uint32_t i = 1; i < BEATS_MAX; i++) {
			struct timespec ts;

			t += 1000000000ull / BEAT_HZ;
			ts.tv_sec = (time_t)(t / 1000000000ull);
			ts.tv_nsec = (long)(t % 1000000000ull);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			sent[i] = now_ns();
			vigil_beat(VIGIL_STATUS_OK, 0, 1000);
		}
		_exit(0);
	}
	return pid;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static unsigned long long p99_us(uint64_t *v, uint32_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return (unsigned long long)(v[(uint64_t)n * 99 / 100] / 1000);
}

static pid_t start_agent(int fd, const char *bpf, const char *sock)
{
	pid_t pid = fork();

	if (pid == 0) {
		dup2(fd, 3);
		execl(VIGIL_AGENT_BIN, "vigil-agent", "daemon", "--port-fd", "3", "--beat-sock",
		      sock, "--ctl-sock", "off", "--kmsg", "off", "--scx", "off", "--flows", "1000",
		      "--flows-bpf", bpf, "--quiet", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* The last line; t: idle start, load start, end; c: the agent's CPU ns then. */
static void report(struct port *p, int rate, uint64_t want, const uint64_t t[3],
		   const uint64_t c[3])
{
	double idle_pct = 100.0 * (double)(c[1] - c[0]) / (double)(t[1] - t[0]);
	double load_pct = 100.0 * (double)(c[2] - c[1]) / (double)(t[2] - t[1]);
	double flows_s = 2.0 * rate;
	double net_ns = (double)(c[2] - c[1]) - idle_pct / 100.0 * (double)(t[2] - t[1]);

	printf("flows-bench: flows_per_s=%.0f cpu_pct=%.2f idle_cpu_pct=%.2f "
	       "cpu_pct_per_1000_flows_s=%.2f cpu_us_per_flow=%.1f seen=%llu/%llu "
	       "notify_lost=%llu poll_closed=%llu rate_dropped=%llu beat_p99_us_idle=%llu "
	       "beat_p99_us_load=%llu\n",
	       flows_s, load_pct, idle_pct, (load_pct - idle_pct) * 1000.0 / flows_s,
	       net_ns / 1000.0 / (double)want, (unsigned long long)p->closed,
	       (unsigned long long)want, (unsigned long long)p->lost[0],
	       (unsigned long long)p->lost[1], (unsigned long long)p->lost[2],
	       p99_us(p->lat[0], p->nlat[0]), p99_us(p->lat[1], p->nlat[1]));
}

int main(int argc, char **argv)
{
	int rate = 500, seconds = 10, sv[2], lfd, st;
	const char *bpf = "on";
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	static struct port p;
	uint64_t c0, c1, c2, t0, t1, t2, want;
	uint64_t *sent = mmap(NULL, BEATS_MAX * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char sock[64];
	pid_t agent, gen, beater;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rate"))
			rate = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--bpf"))
			bpf = argv[i + 1];
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(sock, sizeof(sock), "/tmp/vigil-flows-bench.%d.sock", (int)getpid());
	p.a = malloc(sizeof(*p.a));
	p.sent = sent;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (!p.a || sent == MAP_FAILED || rate < 1 || seconds < 1 || lfd < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	p.fd = sv[0];
	p.listen_port = ntohs(sa.sin_port);
	vigil_asm_init(p.a);
	agent = start_agent(sv[1], bpf, sock);
	close(sv[1]);
	pump(&p, now_ns() + 5000000000ull);
	if (!p.ready) {
		fprintf(stderr, "flows-bench: the agent did not become ready\n");
		kill(agent, SIGKILL);
		return 1;
	}
	beater = start_beater(sock, sent);
	p.beater = (uint32_t)beater;
	p.load_from = p.load_to = UINT64_MAX;
	pump(&p, now_ns() + 500000000ull); /* the beater connects */
	/* Idle: the agent's own cost (dumps of the machine's sockets). */
	t0 = now_ns();
	c0 = proc_cpu_ns(agent);
	pump(&p, t0 + 2000000000ull);
	t1 = now_ns();
	c1 = proc_cpu_ns(agent);
	p.load_from = t1;
	gen = fork();
	if (gen == 0)
		generate(lfd, &sa, rate, seconds);
	pump(&p, t1 + (uint64_t)seconds * 1000000000ull);
	waitpid(gen, &st, 0);
	p.load_to = now_ns();
	pump(&p, now_ns() + 1500000000ull); /* the last notifications */
	t2 = now_ns();
	c2 = proc_cpu_ns(agent);
	kill(beater, SIGKILL);
	waitpid(beater, NULL, 0);
	kill(agent, SIGTERM);
	waitpid(agent, NULL, 0);
	unlink(sock);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "flows-bench: the load generator failed\n");
		return 1;
	}

	want = 2ull * (uint64_t)rate * (uint64_t)seconds;
	report(&p, rate, want, (const uint64_t[3]){ t0, t1, t2 },
	       (const uint64_t[3]){ c0, c1, c2 });
	return p.closed == want ? 0 : 2;
}
