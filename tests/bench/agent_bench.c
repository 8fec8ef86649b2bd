/* SPDX-License-Identifier: MIT */
/*
 * agent-bench: the static agent under a fleet of beating processes.
 *
 * Runs the real vigil-agent binary with its port on a socketpair, starts
 * N client processes that beat through libvigil-agent at R beats/s each
 * for S seconds (default 50 x 10/s x 20 s), decodes the BEAT frames the
 * agent writes and measures, per beat, the time from the client's
 * vigil_beat() call to the frame being read here. Reports the agent's peak
 * RSS, its CPU use over the run, the p99 relay latency and the binary size.
 *
 * The reader (this process) runs SCHED_IDLE once the clients are started:
 * in a guest the port's reader is QEMU on the host, which never preempts
 * the agent, whereas a normal-priority reader here would preempt the
 * agent on every write and add a context switch per beat that the real
 * system does not have (--normal-reader measures that case). A SCHED_IDLE
 * reader is late when the machine is busy, which inflates the latency
 * figure; --pin puts the agent and clients on CPU 0 and a normal reader on
 * CPU 1 instead (steady latency, but cross-CPU wakeups cost the agent more).
 *
 * Last line: agent-bench: rss_kib=R cpu_pct=C relay_p99_us=L binary_bytes=B
 * usage: agent-bench [--clients N] [--rate HZ] [--seconds S] [--normal-reader | --pin]
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vigil/agent.h>
#include <vigil/wire.h>

#include "bench_util.h"

#define MAX_CLIENTS 1000

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

int main(int argc, char **argv)
{
	int clients = 50, rate = 10, seconds = 20;
	char dir[32] = "/tmp/vigil-bench-", beat[128], cmd[160];
	uint64_t *sent, *lat, t_start, t_end, cpu_start, cpu_stop;
	uint32_t *pids, beats_per;
	size_t nlat = 0, want;
	struct vigil_asm *a = malloc(sizeof(*a));
	static uint8_t buf[1 << 16];
	pid_t agent, *kids;
	int sv[2];
	struct stat st;
	bool ready = false;
	long hwm;

	bool idle_reader = true, pin = false;
	cpu_set_t agent_cpus, reader_cpus;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--normal-reader")) {
			idle_reader = false;
			continue;
		}
		if (!strcmp(argv[i], "--pin")) {
			idle_reader = false;
			pin = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
			continue;
		}
		if (i + 1 >= argc)
			break;
		if (!strcmp(argv[i], "--clients"))
			clients = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rate"))
			rate = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atoi(argv[i + 1]);
		i++;
	}

	if (clients < 1 || clients > MAX_CLIENTS || rate < 1 || rate > 1000 || seconds < 1) {
		fprintf(stderr, "agent-bench: bad arguments\n");
		return 2;
	}
	if (stat(VIGIL_AGENT_BIN, &st) < 0) {
		fprintf(stderr, "agent-bench: %s: %s (build the vigil-agent-static target)\n",
			VIGIL_AGENT_BIN, strerror(errno));
		return 1;
	}
	memset(dir + strlen(dir), 'X', 6); /* the mkdtemp template */
	beats_per = (uint32_t)(rate * seconds);
	sent = mmap(NULL, (size_t)clients * (beats_per + 1) * sizeof(uint64_t),
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pids = calloc((size_t)clients, sizeof(*pids));
	kids = calloc((size_t)clients, sizeof(*kids));
	want = (size_t)clients * beats_per;
	lat = calloc(want, sizeof(*lat));
	if (sent == MAP_FAILED || !pids || !kids || !lat || !a || !mkdtemp(dir))
		return 1;
	snprintf(beat, sizeof(beat), "%s/beat.sock", dir);
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	CPU_ZERO(&agent_cpus);
	CPU_ZERO(&reader_cpus);
	CPU_SET(0, &agent_cpus);
	CPU_SET(1, &reader_cpus);
	if (pin)
		sched_setaffinity(0, sizeof(agent_cpus),
				  &agent_cpus); /* agent and clients inherit it */
	agent = fork();
	if (agent == 0) {
		dup2(sv[1], 3);
		execl(VIGIL_AGENT_BIN, "vigil-agent", "daemon", "--port-fd", "3", "--beat-sock",
		      beat, "--ctl-sock", "off", "--kmsg", "off", "--flows", "off", "--scx", "off",
		      "--quiet", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	vigil_asm_init(a);

	/* Wait for SYS_RDY. */
	for (uint64_t end = now_ns() + 5000000000ull; !ready && now_ns() < end;) {
		struct pollfd p = { .fd = sv[0], .events = POLLIN };
		struct vigil_frame f;
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(sv[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		vigil_asm_push(a, buf, (size_t)n);
		while (vigil_asm_next(a, &f) > 0)
			ready |= f.hdr.type == VIGIL_MSG_SYS_RDY;
	}
	if (!ready) {
		fprintf(stderr, "agent-bench: the agent did not become ready\n");
		kill(agent, SIGKILL);
		return 1;
	}

	t_start = now_ns() + 200000000ull;
	for (int c = 0; c < clients; c++) {
		kids[c] = fork();
		if (kids[c] == 0) {
			struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = beat };
			uint64_t period = 1000000000ull / (uint64_t)rate;
			/* Spread the clients over the period. */
			uint64_t t = t_start + period * (uint64_t)c / (uint64_t)clients;

			close(sv[0]);
			if (vigil_agent_init(&o) < 0)
				_exit(1);
			for (uint32_t i = 1; i <= beats_per; i++, t += period) {
				struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
						       .tv_nsec = (long)(t % 1000000000ull) };

				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
				sent[(size_t)c * (beats_per + 1) + i] = now_ns();
				vigil_beat(VIGIL_STATUS_OK, (uint32_t)c,
					   (uint32_t)(3000 / rate + 1000));
			}
			_exit(0);
		}
		pids[c] = (uint32_t)kids[c];
	}
	if (pin)
		sched_setaffinity(0, sizeof(reader_cpus), &reader_cpus);
	if (idle_reader) {
		struct sched_param sp = { .sched_priority = 0 };

		if (sched_setscheduler(0, SCHED_IDLE, &sp) < 0)
			idle_reader = false;
	}
	cpu_start = proc_cpu_ns(agent);
	t_end = t_start + (uint64_t)seconds * 1000000000ull + 500000000ull;
	while (now_ns() < t_end && nlat < want) {
		struct pollfd p = { .fd = sv[0], .events = POLLIN };
		struct vigil_frame f;
		uint64_t t;
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(sv[0], buf, sizeof(buf));
		t = now_ns();
		if (n <= 0)
			break;
		vigil_asm_push(a, buf, (size_t)n);
		while (vigil_asm_next(a, &f) > 0) {
			struct vigil_records r;

			if (f.hdr.type != VIGIL_MSG_BEAT || !f.crc_ok ||
			    vigil_beats_decode(f.payload, f.hdr.len, &r) < 0)
				continue;
			for (uint32_t k = 0; k < r.count; k++) {
				struct vigil_beat b;
				uint32_t c;

				vigil_beat_get(&r, k, &b);
				c = b.app_payload;
				if (c >= (uint32_t)clients || pids[c] != b.pid || b.nonce < 1 ||
				    b.nonce > beats_per)
					continue;
				lat[nlat++] =
				    (t - sent[(size_t)c * (beats_per + 1) + b.nonce]) / 1000;
			}
		}
	}
	t_end = now_ns();
	cpu_stop = proc_cpu_ns(agent);
	hwm = proc_hwm_kib(agent);
	for (int c = 0; c < clients; c++)
		waitpid(kids[c], NULL, 0);
	kill(agent, SIGTERM);
	waitpid(agent, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "agent-bench: cannot remove %s\n", dir);
	if (!nlat) {
		fprintf(stderr, "agent-bench: no beats came through\n");
		return 1;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	{
		double wall = (double)(t_end - t_start) / 1e9;
		double cpu = (double)(cpu_stop - cpu_start) / 1e9;

		printf("reader: %s\n", pin           ? "pinned away from the agent"
				       : idle_reader ? "SCHED_IDLE"
						     : "SCHED_OTHER");
		printf("beats sent %zu, relayed and matched %zu (%.2f%%)\n", want, nlat,
		       100.0 * (double)nlat / (double)want);
		printf("relay latency us: p50 %llu  p90 %llu  p99 %llu  max %llu\n",
		       (unsigned long long)lat[nlat / 2], (unsigned long long)lat[nlat * 9 / 10],
		       (unsigned long long)lat[nlat * 99 / 100], (unsigned long long)lat[nlat - 1]);
		printf(
		    "agent-bench: rss_kib=%ld cpu_pct=%.2f relay_p99_us=%llu binary_bytes=%lld\n",
		    hwm, 100.0 * cpu / wall, (unsigned long long)lat[nlat * 99 / 100],
		    (long long)st.st_size);
	}
	return 0;
}
