/* SPDX-License-Identifier: MIT */
/*
 * agent-bench: the static agent under a fleet of beating processes, in
 * both of its coalescing regimes (guest/pace.h) in one run.
 *
 * Runs the real vigil-agent binary with its port on a socketpair. Heavy
 * phase: N client processes beat through libvigil-agent at R beats/s each
 * for S seconds (default 50 x 10/s x 20 s: dense, the agent reads the
 * socket once per window). Then, after a second's pause, the light phase:
 * 5 clients x 1 beat/s for 20 s (sparse: each beat relayed at once). This
 * process decodes the BEAT frames the agent writes and measures, per beat,
 * the time from the client's vigil_beat() call to the frame being read
 * here. Reports the agent's peak RSS, its CPU use over the heavy phase,
 * the p99 relay latency of each phase and the binary size.
 *
 * The reader (this process) runs SCHED_IDLE once the clients are started:
 * in a guest the port's reader is QEMU on the host, which never preempts
 * the agent, whereas a normal-priority reader here would preempt the
 * agent on every write and add a context switch per beat that the real
 * system does not have (--normal-reader measures that case). A SCHED_IDLE
 * reader is late when the machine is busy, which inflates the latency
 * figure; --pin puts the agent and clients on CPU 0 and a normal reader on
 * CPU 1 instead (steady latency, but cross-CPU wakeups cost the agent more).
 * Every client is forked before the reader turns SCHED_IDLE (children
 * inherit the policy); the light ones sleep until their phase.
 *
 * First, for 5 s, the floor under any agent that keeps the 3 ms bound: a
 * process that only wakes once a window (guest/pace.h), its CPU measured
 * as the agent's is; the line "floor: ..." sets it beside the agent's own
 * cost per port write in the heavy phase (one write a window).
 *
 * Last line:
 * agent-bench: rss_kib=R cpu_pct=C relay_p99_us=L light_relay_p99_us=LL binary_bytes=B
 * usage: agent-bench [--clients N] [--rate HZ] [--seconds S] [--light-clients N]
 *                    [--light-rate HZ] [--light-seconds S] [--normal-reader | --pin]
 *                    [--agent PATH]   (another agent binary, to compare builds)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vigil/agent.h>
#include <vigil/wire.h>

#include "bench_util.h"
#include "pace.h"

#define MAX_CLIENTS 1000

/* One phase: its clients beat from t0_ns for seconds at rate each. */
struct phase {
	int clients, rate, seconds;
	int first;          /* index of its first client among all */
	uint32_t beats_per; /* beats each client sends */
	uint64_t t0_ns, t1_ns;
	uint64_t *lat; /* relay latencies, us */
	size_t nlat, want;
	size_t frames; /* BEAT frames that carried its beats: the agent's port writes */
};

struct bench {
	struct phase ph[2]; /* heavy, light */
	int nclients;
	uint64_t *sent;  /* [client][nonce]: vigil_beat() call time */
	uint32_t stride; /* nonces per client in sent (max beats_per + 1) */
	uint32_t *pids;  /* [client] */
	pid_t *kids;
	char beat[128];
};

static long proc_hwm_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmHWM: %ld", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A client: beats_per beats at rate from t, spread by its place in the phase. */
static void client(struct bench *bn, const struct phase *ph, int c)
{
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = bn->beat };
	uint64_t period = 1000000000ull / (uint64_t)ph->rate;
	uint64_t t = ph->t0_ns + period * (uint64_t)(c - ph->first) / (uint64_t)ph->clients;

	if (vigil_agent_init(&o) < 0)
		_exit(1);
	for (uint32_t i = 1; i <= ph->beats_per; i++, t += period) {
		struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
				       .tv_nsec = (long)(t % 1000000000ull) };

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		bn->sent[(size_t)c * bn->stride + i] = now_ns();
		vigil_beat(VIGIL_STATUS_OK, (uint32_t)c, (uint32_t)(3000 / ph->rate + 1000));
	}
	_exit(0);
}

static int start_clients(struct bench *bn, int sv0)
{
	for (int p = 0; p < 2; p++) {
		struct phase *ph = &bn->ph[p];

		for (int c = ph->first; c < ph->first + ph->clients; c++) {
			bn->kids[c] = fork();
			if (bn->kids[c] < 0)
				return -1;
			if (bn->kids[c] == 0) {
				close(sv0);
				client(bn, ph, c);
			}
			bn->pids[c] = (uint32_t)bn->kids[c];
		}
	}
	return 0;
}

/* The beats of one BEAT frame read at t: each to its phase's latencies. */
static void account(struct bench *bn, const struct vigil_frame *f, uint64_t t)
{
	struct vigil_records r;
	bool counted = false;

	if (f->hdr.type != VIGIL_MSG_BEAT || !f->crc_ok ||
	    vigil_beats_decode(f->payload, f->hdr.len, &r) < 0)
		return;
	for (uint32_t k = 0; k < r.count; k++) {
		struct vigil_beat b;
		struct phase *ph;
		uint32_t c;

		vigil_beat_get(&r, k, &b);
		c = b.app_payload;
		if (c >= (uint32_t)bn->nclients || bn->pids[c] != b.pid)
			continue;
		ph = &bn->ph[c < (uint32_t)bn->ph[1].first ? 0 : 1];
		if (b.nonce < 1 || b.nonce > ph->beats_per || ph->nlat >= ph->want)
			continue;
		ph->frames += !counted;
		counted = true;
		ph->lat[ph->nlat++] = (t - bn->sent[(size_t)c * bn->stride + b.nonce]) / 1000;
	}
}

/* Read the port until both phases are over; the agent's CPU over the heavy one. */
static uint64_t read_port(struct bench *bn, int fd, pid_t agent, struct vigil_asm *a)
{
	static uint8_t buf[1 << 16];
	uint64_t cpu0 = 0, cpu1 = 0, end = bn->ph[1].t1_ns + 500000000ull;
	bool in_heavy = false, heavy_done = false;

	while (now_ns() < end && bn->ph[1].nlat < bn->ph[1].want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct vigil_frame f;
		uint64_t t = now_ns();
		ssize_t n;

		if (!in_heavy && !heavy_done && t >= bn->ph[0].t0_ns) {
			cpu0 = proc_cpu_ns(agent);
			in_heavy = true;
		}
		if (in_heavy && t >= bn->ph[0].t1_ns) {
			cpu1 = proc_cpu_ns(agent);
			in_heavy = false;
			heavy_done = true;
		}
		if (poll(&p, 1, 10) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		t = now_ns();
		if (n <= 0)
			break;
		vigil_asm_push(a, buf, (size_t)n);
		while (vigil_asm_next(a, &f) > 0)
			account(bn, &f, t);
	}
	return heavy_done ? cpu1 - cpu0 : 0;
}

static const char *agent_bin = VIGIL_AGENT_BIN;

/*
 * The floor under any agent that keeps the window bound: a process that
 * does nothing but wake once a PACE_WINDOW_NS (an epoll_pwait2 timeout on
 * an empty set), measured as the agent is (schedstat run time), for
 * seconds. Its CPU in % of a core; *us the cost of one wake.
 */
static double wake_floor_pct(int seconds, double *us)
{
	struct timespec win = { 0, (long)PACE_WINDOW_NS };
	uint64_t t0, cpu;
	long wakes = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC), fds[2];
	pid_t kid;

	if (ep < 0 || pipe(fds) < 0) {
		if (ep >= 0)
			close(ep);
		return -1;
	}
	kid = fork();
	if (kid == 0) {
		struct epoll_event ev;

		t0 = now_ns();
		while (now_ns() - t0 < (uint64_t)seconds * 1000000000ull) {
			epoll_pwait2(ep, &ev, 1, &win, NULL);
			wakes++;
		}
		if (write(fds[1], &wakes, sizeof(wakes)) != sizeof(wakes))
			_exit(1);
		pause();
	}
	close(fds[1]);
	close(ep);
	if (kid < 0 || read(fds[0], &wakes, sizeof(wakes)) != sizeof(wakes) || wakes < 1) {
		if (kid > 0) {
			kill(kid, SIGKILL);
			waitpid(kid, NULL, 0);
		}
		close(fds[0]);
		return -1;
	}
	cpu = proc_cpu_ns(kid);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	close(fds[0]);
	*us = (double)cpu / 1000.0 / (double)wakes;
	return 100.0 * (double)cpu / ((double)seconds * 1e9);
}

static pid_t start_agent(const char *beat, int fd)
{
	pid_t agent = fork();

	if (agent == 0) {
		dup2(fd, 3);
		execl(agent_bin, "vigil-agent", "daemon", "--port-fd", "3", "--beat-sock", beat,
		      "--ctl-sock", "off", "--kmsg", "off", "--flows", "off", "--scx", "off",
		      "--quiet", (char *)NULL);
		_exit(127);
	}
	return agent;
}

/* Wait for SYS_RDY on fd: 0, or -1 after 5 s. */
static int wait_ready(int fd, struct vigil_asm *a)
{
	static uint8_t buf[1 << 16];

	for (uint64_t end = now_ns() + 5000000000ull; now_ns() < end;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct vigil_frame f;
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		vigil_asm_push(a, buf, (size_t)n);
		while (vigil_asm_next(a, &f) > 0) {
			if (f.hdr.type == VIGIL_MSG_SYS_RDY)
				return 0;
		}
	}
	return -1;
}

static uint64_t p99(struct phase *ph)
{
	qsort(ph->lat, ph->nlat, sizeof(*ph->lat), cmp_u64);
	return ph->lat[ph->nlat * 99 / 100];
}

static void report(struct bench *bn, const char *reader, uint64_t cpu, long hwm, long long size,
		   double floor_pct, double floor_us)
{
	const char *name[2] = { "heavy", "light" };
	uint64_t l[2];

	printf("reader: %s\n", reader);
	for (int p = 0; p < 2; p++) {
		struct phase *ph = &bn->ph[p];

		l[p] = p99(ph);
		printf("%s: %d x %d/s x %d s: beats sent %zu, relayed and matched %zu (%.2f%%); "
		       "relay latency us: p50 %llu  p90 %llu  p99 %llu  max %llu\n",
		       name[p], ph->clients, ph->rate, ph->seconds, ph->want, ph->nlat,
		       100.0 * (double)ph->nlat / (double)ph->want,
		       (unsigned long long)ph->lat[ph->nlat / 2],
		       (unsigned long long)ph->lat[ph->nlat * 9 / 10], (unsigned long long)l[p],
		       (unsigned long long)ph->lat[ph->nlat - 1]);
	}
	if (floor_pct >= 0) {
		double s = (double)(bn->ph[0].t1_ns - bn->ph[0].t0_ns) / 1e9;

		printf(
		    "floor: a process that only wakes every %.0f ms uses %.2f %% of a core here, "
		    "%.1f us a wake; the agent in the heavy phase: %.0f port writes/s, %.1f us "
		    "each\n",
		    (double)PACE_WINDOW_NS / 1e6, floor_pct, floor_us, (double)bn->ph[0].frames / s,
		    bn->ph[0].frames ? (double)cpu / 1000.0 / (double)bn->ph[0].frames : 0.0);
	}
	printf("agent-bench: rss_kib=%ld cpu_pct=%.2f relay_p99_us=%llu light_relay_p99_us=%llu "
	       "binary_bytes=%lld\n",
	       hwm, 100.0 * (double)cpu / (double)(bn->ph[0].t1_ns - bn->ph[0].t0_ns),
	       (unsigned long long)l[0], (unsigned long long)l[1], size);
}

static int parse_args(int argc, char **argv, struct bench *bn, bool *idle, bool *pin)
{
	for (int i = 1; i < argc; i++) {
		int *v = NULL;

		if (!strcmp(argv[i], "--normal-reader")) {
			*idle = false;
			continue;
		}
		if (!strcmp(argv[i], "--pin")) {
			*idle = false;
			*pin = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
			continue;
		}
		if (i + 1 >= argc)
			return -1;
		if (!strcmp(argv[i], "--agent")) {
			agent_bin = argv[++i];
			continue;
		}
		v = !strcmp(argv[i], "--clients")         ? &bn->ph[0].clients
		    : !strcmp(argv[i], "--rate")          ? &bn->ph[0].rate
		    : !strcmp(argv[i], "--seconds")       ? &bn->ph[0].seconds
		    : !strcmp(argv[i], "--light-clients") ? &bn->ph[1].clients
		    : !strcmp(argv[i], "--light-rate")    ? &bn->ph[1].rate
		    : !strcmp(argv[i], "--light-seconds") ? &bn->ph[1].seconds
							  : NULL;
		if (!v)
			return -1;
		*v = atoi(argv[++i]);
	}
	for (int p = 0; p < 2; p++) {
		struct phase *ph = &bn->ph[p];

		if (ph->clients < 1 || ph->rate < 1 || ph->rate > 1000 || ph->seconds < 1)
			return -1;
	}
	return bn->ph[0].clients + bn->ph[1].clients > MAX_CLIENTS ? -1 : 0;
}

/* Phases' schedules and the shared and per-phase arrays. */
static int plan(struct bench *bn)
{
	uint64_t t = now_ns() + 200000000ull + (uint64_t)bn->nclients * 2000000ull;

	bn->stride = 1;
	for (int p = 0; p < 2; p++) {
		struct phase *ph = &bn->ph[p];

		ph->first = p ? bn->ph[0].clients : 0;
		ph->beats_per = (uint32_t)(ph->rate * ph->seconds);
		ph->want = (size_t)ph->clients * ph->beats_per;
		ph->t0_ns = t;
		ph->t1_ns = t + (uint64_t)ph->seconds * 1000000000ull;
		ph->lat = calloc(ph->want, sizeof(*ph->lat));
		if (ph->beats_per + 1 > bn->stride)
			bn->stride = ph->beats_per + 1;
		t = ph->t1_ns + 1000000000ull; /* a second's pause between phases */
		if (!ph->lat)
			return -1;
	}
	bn->nclients = bn->ph[0].clients + bn->ph[1].clients;
	bn->sent = mmap(NULL, (size_t)bn->nclients * bn->stride * sizeof(uint64_t),
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	bn->pids = calloc((size_t)bn->nclients, sizeof(*bn->pids));
	bn->kids = calloc((size_t)bn->nclients, sizeof(*bn->kids));
	return bn->sent == MAP_FAILED || !bn->pids || !bn->kids ? -1 : 0;
}

int main(int argc, char **argv)
{
	static struct bench bn = { .ph = { { .clients = 50, .rate = 10, .seconds = 20 },
					   { .clients = 5, .rate = 1, .seconds = 20 } } };
	char dir[32] = "/tmp/vigil-bench-", cmd[160];
	struct vigil_asm *a = malloc(sizeof(*a));
	bool idle_reader = true, pin = false;
	cpu_set_t agent_cpus, reader_cpus;
	double floor_pct, floor_us = 0;
	uint64_t cpu;
	pid_t agent;
	struct stat st;
	int sv[2];
	long hwm;

	if (parse_args(argc, argv, &bn, &idle_reader, &pin) < 0) {
		fprintf(stderr, "agent-bench: bad arguments (see the usage in agent_bench.c)\n");
		return 2;
	}
	if (stat(agent_bin, &st) < 0) {
		fprintf(stderr, "agent-bench: %s: %s (build the vigil-agent-static target)\n",
			agent_bin, strerror(errno));
		return 1;
	}
	floor_pct = wake_floor_pct(5, &floor_us);
	memset(dir + strlen(dir), 'X', 6); /* the mkdtemp template */
	if (!a || !mkdtemp(dir) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	snprintf(bn.beat, sizeof(bn.beat), "%s/beat.sock", dir);
	signal(SIGPIPE, SIG_IGN);
	CPU_ZERO(&agent_cpus);
	CPU_ZERO(&reader_cpus);
	CPU_SET(0, &agent_cpus);
	CPU_SET(1, &reader_cpus);
	if (pin) /* the agent and the clients inherit it */
		sched_setaffinity(0, sizeof(agent_cpus), &agent_cpus);
	agent = start_agent(bn.beat, sv[1]);
	close(sv[1]);
	vigil_asm_init(a);
	if (wait_ready(sv[0], a) < 0) {
		fprintf(stderr, "agent-bench: the agent did not become ready\n");
		kill(agent, SIGKILL);
		return 1;
	}
	if (plan(&bn) < 0 || start_clients(&bn, sv[0]) < 0) {
		fprintf(stderr, "agent-bench: out of memory or processes\n");
		kill(agent, SIGKILL);
		return 1;
	}
	if (pin)
		sched_setaffinity(0, sizeof(reader_cpus), &reader_cpus);
	if (idle_reader) {
		struct sched_param sp = { .sched_priority = 0 };

		if (sched_setscheduler(0, SCHED_IDLE, &sp) < 0)
			idle_reader = false;
	}
	cpu = read_port(&bn, sv[0], agent, a);
	hwm = proc_hwm_kib(agent);
	for (int c = 0; c < bn.nclients; c++)
		waitpid(bn.kids[c], NULL, 0);
	kill(agent, SIGTERM);
	waitpid(agent, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "agent-bench: cannot remove %s\n", dir);
	if (!bn.ph[0].nlat || !bn.ph[1].nlat || !cpu) {
		fprintf(stderr, "agent-bench: no beats came through in a phase\n");
		return 1;
	}
	report(&bn,
	       pin           ? "pinned away from the agent"
	       : idle_reader ? "SCHED_IDLE"
			     : "SCHED_OTHER",
	       cpu, hwm, (long long)st.st_size, floor_pct, floor_us);
	return 0;
}
