/* SPDX-License-Identifier: MIT */
/*
 * run-bench: what `vigil run` costs, against the floor of the same machine.
 * All in one run, on one kernel and one QEMU, boots interleaved:
 *
 *  (a) boot_ready_ms: `vigil run -- true`, QEMU start to SYS_RDY (the
 *      session's "ready" event), vigil's defaults;
 *  (b) busybox_first_byte_ms: a busybox /init that loads the modules and
 *      writes one byte to the port, booted by `vigil run --initrd` with the
 *      same QEMU options (the session's "first_byte" event);
 *  (c) plain_pc_busybox_ms: that init booted the plain way: -M pc, only
 *      console=ttyS0, QEMU's default devices; QEMU start to the first byte;
 *  (d) stdout_MBps: 64 MiB of workload stdout (dd bs=64k) through the agent
 *      and vigil, first to last byte on vigil's stdout, against raw_port_MBps: the
 *      busybox init writing 64 MiB with dd bs=64k straight to the port,
 *      first to last byte on the host socket;
 *  (e) stall_p99_late_ms: processes beating every 50 ms (deadline 150 ms)
 *      are SIGSTOPped; lateness is the silence at detection minus the
 *      deadline, over every stall event; p99;
 *  (f) host_root_ready_ms: `vigil run --rootfs host -- true`, QEMU start
 *      to SYS_RDY, which the agent sends once the host's root is mounted
 *      and entered ((a) is always --rootfs image);
 *  (g) bzimage_ready_ms: (a) booting the bzImage as it is
 *      (--kernel-boot bzimage) instead of its vmlinux through PVH;
 *  (h) ping_p99_ms: `vigil run --ping-interval 20ms -- sleep 3`: the
 *      round trip of every PING at idle, from 500 ms after SYS_RDY on
 *      (about 125 a boot), p99 over all; those of the first 500 ms, while
 *      the guest and vigil finish starting, are shown apart.
 *      Its floor, on its own line: ping-floor (ping_floor.c), a static
 *      program that writes back what it reads from a second port (a host
 *      socket chardev), carried into the same kind of guest; 8 bytes every
 *      20 ms, the same settling, timed here (125 a boot, after (h)).
 *  (i) relay_floor_MBps: the floor under (d): relay-floor (relay_floor.c),
 *      a minimal C relay carried into the same kind of guest (vigil's
 *      defaults), reading the same dd's 64 MiB from a pipe 64 KiB at a time
 *      and writing them to a second virtio-serial port, on a host file
 *      chardev to /dev/null; its own rate, timed in the guest. Run right
 *      after (d) in every boot.
 *
 * RUN_BENCH_ONLY=stdout runs (d) and (i) alone (A/B runs of the output
 * path), RUN_BENCH_ONLY=ping (h) and its floor; RUN_BENCH_ARGS adds words
 * to every `vigil run` of (d) and (i) (split on spaces: "--cpus 2",
 * "--agent PATH").
 *
 * Medians of RUN_BENCH_BOOTS boots (default 5; env RUN_BENCH_BOOTS).
 * The last line is machine-read:
 *   run-bench: boot_ready_ms=A busybox_first_byte_ms=B plain_pc_busybox_ms=C
 *   stdout_MBps=S raw_port_MBps=P stall_p99_late_ms=L host_root_ready_ms=H
 *   relay_floor_MBps=F ping_p99_ms=R bzimage_ready_ms=Z
 * Targets: A <= B + 50, A <= 0.75 C, S >= 0.6 F, L <= 10, H <= 1.15 A,
 * A <= 0.80 Z, A <= 0.60 C, R <= 0.8.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "paths.h"
#include "qemu.h"

#ifndef VIGIL_BIN
#define VIGIL_BIN "vigil"
#endif
#ifndef RELAY_FLOOR_BIN
#define RELAY_FLOOR_BIN "relay-floor"
#endif

#define MIB  (1024.0 * 1024.0)
#define BULK (64u << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The busybox inits: load the modules the image lists, find the port,
 * then write one byte (or 64 MiB), then power off. */
static const char init_byte[] =
    "#!/bin/sh\n"
    "mount -t devtmpfs dev /dev; mount -t proc proc /proc; mount -t sysfs sys /sys\n"
    "while read -r m; do insmod \"${m%%:*}\" 2>/dev/null; done </etc/vigil/modules\n"
    "for i in $(seq 500); do\n"
    "  for n in /sys/class/virtio-ports/*/name; do\n"
    "    [ \"$(cat $n 2>/dev/null)\" = org.vigil.bulk.0 ] || continue\n"
    "    d=${n%/name}; d=/dev/${d##*/}\n"
    "    if [ -n \"$BULK\" ]; then dd if=/dev/zero bs=65536 count=1024 of=$d 2>/dev/null && "
    "sleep 1 && poweroff -f; fi\n"
    "    printf R >$d 2>/dev/null && sleep 1 && poweroff -f\n"
    "  done\n"
    "  usleep 5000\n"
    "done\n"
    "poweroff -f\n";

struct child {
	pid_t pid;
	int out; /* stdout pipe, or -1 */
};

/* Start argv with stdout on a pipe (when want_out), stderr to /dev/null. */
static int spawn(char *const argv[], bool want_out, const int *keep, int nkeep, struct child *c)
{
	int p[2] = { -1, -1 };

	if (want_out && pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(want_out ? p[1] : null, 1);
		if (!getenv("RUN_BENCH_VERBOSE"))
			dup2(null, 2);
		for (int i = 0; i < nkeep; i++)
			fcntl(keep[i], F_SETFD, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (want_out)
		close(p[1]);
	c->out = p[0];
	return 0;
}

static int reap(struct child *c)
{
	int st;

	if (c->out >= 0)
		close(c->out);
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Read a child's stdout to the end (bounded), NUL-terminated. */
static char *slurp_fd(int fd, size_t max)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);

	while (buf) {
		ssize_t n;
		if (len == cap) {
			char *nb = cap < max ? realloc(buf, cap * 2 + 1) : NULL;
			if (!nb)
				break; /* keep what fits */
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* t_ns of the first event of a kind in JSON lines, in ms; -1 if none. */
static double event_ms(const char *ev, const char *name)
{
	char key[64];
	const char *p, *t;

	snprintf(key, sizeof(key), "\"event\":\"%s\"", name);
	p = strstr(ev, key);
	if (!p)
		return -1;
	t = strstr(p, "\"t_ns\":");
	return t ? strtod(t + 7, NULL) / 1e6 : -1;
}

static double vigil_event(const char *initrd, const char *rootfs, const char *name,
			  char *const *work, bool bzimage)
{
	char *argv[32];
	int n = 0;
	struct child c;
	char *ev;
	double ms;

	argv[n++] = (char *)VIGIL_BIN;
	argv[n++] = (char *)"run";
	argv[n++] = (char *)"-q";
	argv[n++] = (char *)"--accel";
	argv[n++] = (char *)"tcg";
	argv[n++] = (char *)"--events";
	argv[n++] = (char *)"-";
	if (rootfs) {
		argv[n++] = (char *)"--rootfs";
		argv[n++] = (char *)rootfs;
	}
	if (bzimage) {
		argv[n++] = (char *)"--kernel-boot";
		argv[n++] = (char *)"bzimage";
	}
	if (initrd) {
		argv[n++] = (char *)"--initrd";
		argv[n++] = (char *)initrd;
		argv[n++] = (char *)"--boot-timeout";
		argv[n++] = (char *)"15s";
	}
	argv[n++] = (char *)"--";
	while (*work)
		argv[n++] = *work++;
	argv[n] = NULL;
	if (spawn(argv, true, NULL, 0, &c) < 0)
		return -1;
	ev = slurp_fd(c.out, 64u << 20);
	reap(&c);
	ms = ev ? event_ms(ev, name) : -1;
	free(ev);
	return ms;
}

/* Read the port until `want` bytes came (or 30 s of silence, or EOF):
 * times of the first and last byte, and the count. */
static void port_read(int fd, uint64_t want, uint64_t *first, uint64_t *last, uint64_t *got)
{
	static uint8_t buf[1 << 20];

	while (*got < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 30000) <= 0)
			break;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (!*first)
			*first = now_ns();
		*got += (uint64_t)n;
		*last = now_ns();
	}
}

/* QEMU started by hand, the port on a socketpair: ms to the first byte, and
 * with bulk the MB/s from the first byte to BULK bytes. */
static double plain_boot(const char *kernel, const char *initrd, bool bulk, double *mbps)
{
	int sv[2];
	char fdarg[64];
	char *argv[] = {
		(char *)"qemu-system-x86_64",
		(char *)"-M",
		(char *)"pc",
		(char *)"-accel",
		(char *)"tcg",
		(char *)"-m",
		(char *)"512",
		(char *)"-display",
		(char *)"none",
		(char *)"-no-reboot",
		(char *)"-kernel",
		(char *)kernel,
		(char *)"-initrd",
		(char *)initrd,
		(char *)"-append",
		(char *)(bulk ? "console=ttyS0 BULK=1" : "console=ttyS0"),
		(char *)"-serial",
		(char *)"null",
		(char *)"-device",
		(char *)"virtio-serial-pci",
		(char *)"-chardev",
		fdarg,
		(char *)"-device",
		(char *)"virtserialport,chardev=vport,name=org.vigil.bulk.0",
		NULL,
	};
	struct child c;
	uint64_t t0, first = 0, last = 0, got = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	snprintf(fdarg, sizeof(fdarg), "socket,id=vport,fd=%d", sv[1]);
	t0 = now_ns();
	if (spawn(argv, false, &sv[1], 1, &c) < 0)
		return -1;
	close(sv[1]);
	port_read(sv[0], bulk ? BULK : 1, &first, &last, &got);
	kill(c.pid, SIGKILL);
	reap(&c);
	close(sv[0]);
	if (mbps)
		*mbps = got >= BULK && last > first ? got / MIB / ((last - first) / 1e9) : 0;
	return first ? (first - t0) / 1e6 : -1;
}

/* The raw rate: the busybox init's dd straight to the port, booted with
 * vigil's machine options (spelled out here: the port must be ours, not
 * vigil's, to time its bytes). */
static double raw_tuned(const char *kernel, const char *initrd, double *mbps, uint32_t tsc)
{
	int sv[2];
	char fdarg[64], append[512];
	char *argv[] = {
		(char *)"qemu-system-x86_64",
		(char *)"-M",
		(char *)"microvm,x-option-roms=off",
		(char *)"-accel",
		(char *)"tcg",
		(char *)"-m",
		(char *)"512",
		(char *)"-nodefaults",
		(char *)"-no-user-config",
		(char *)"-display",
		(char *)"none",
		(char *)"-no-reboot",
		(char *)"-kernel",
		(char *)kernel,
		(char *)"-initrd",
		(char *)initrd,
		(char *)"-append",
		append,
		(char *)"-serial",
		(char *)"null",
		(char *)"-device",
		(char *)"virtio-serial-device",
		(char *)"-chardev",
		fdarg,
		(char *)"-device",
		(char *)"virtserialport,chardev=vport,name=org.vigil.bulk.0",
		NULL,
	};
	struct child c;
	uint64_t first = 0, last = 0, got = 0;

	snprintf(append, sizeof(append),
		 "console=ttyS0 loglevel=4 tsc=reliable no_timer_check noreplace-smp "
		 "cryptomgr.notests panic=-1 tsc_early_khz=%u BULK=1",
		 tsc);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	snprintf(fdarg, sizeof(fdarg), "socket,id=vport,fd=%d", sv[1]);
	if (spawn(argv, false, &sv[1], 1, &c) < 0)
		return -1;
	close(sv[1]);
	port_read(sv[0], BULK, &first, &last, &got);
	kill(c.pid, SIGKILL);
	reap(&c);
	close(sv[0]);
	*mbps = got >= BULK && last > first ? got / MIB / ((last - first) / 1e9) : 0;
	return *mbps;
}

/* RUN_BENCH_ARGS split on spaces into argv (at most max words); the count. */
static int extra_args(char **argv, int max)
{
	static char words[1024];
	const char *env = getenv("RUN_BENCH_ARGS");
	int n = 0;

	if (!env)
		return 0;
	snprintf(words, sizeof(words), "%s", env);
	for (char *save = NULL, *w = strtok_r(words, " ", &save); w && n < max;
	     w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	return n;
}

/* `vigil run -q --accel tcg [RUN_BENCH_ARGS] [pre...] -- work...` with its
 * stdout on c->out. */
static int spawn_run(char *const *pre, char *const *work, struct child *c)
{
	char *argv[64];
	int n = 0;

	argv[n++] = (char *)VIGIL_BIN;
	argv[n++] = (char *)"run";
	argv[n++] = (char *)"-q";
	argv[n++] = (char *)"--accel";
	argv[n++] = (char *)"tcg";
	n += extra_args(argv + n, 16);
	while (pre && *pre && n < 40)
		argv[n++] = *pre++;
	argv[n++] = (char *)"--";
	while (*work && n < 62)
		argv[n++] = *work++;
	argv[n] = NULL;
	return spawn(argv, true, NULL, 0, c);
}

/* 64 MiB of workload stdout through vigil: first to last byte. */
static double stdout_rate(void)
{
	/* the same writer as the raw case: dd with 64 KiB blocks */
	char *work[] = { (char *)"dd", (char *)"if=/dev/zero", (char *)"bs=65536",
			 (char *)"count=1024", NULL };
	struct child c;
	static uint8_t buf[1 << 20];
	uint64_t first = 0, last = 0, got = 0;

	if (spawn_run(NULL, work, &c) < 0)
		return -1;
	for (;;) {
		ssize_t n = read(c.out, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!first)
			first = now_ns();
		got += (uint64_t)n;
		last = now_ns();
	}
	reap(&c);
	return got == BULK && last > first ? got / MIB / ((last - first) / 1e9) : 0;
}

/* The same dd's output through relay-floor to a second port, in the same
 * kind of guest: the rate relay-floor reports. */
static double relay_floor(void)
{
	char *pre[] = { (char *)"--exe",
			(char *)RELAY_FLOOR_BIN,
			(char *)"--qemu-arg",
			(char *)"-chardev",
			(char *)"--qemu-arg",
			(char *)"file,id=floor,path=/dev/null",
			(char *)"--qemu-arg",
			(char *)"-device",
			(char *)"--qemu-arg",
			(char *)"virtserialport,chardev=floor,name=org.vigil.floor.0",
			NULL };
	char *work[] = { (char *)RELAY_FLOOR_BIN, (char *)"org.vigil.floor.0",
			 (char *)"dd",            (char *)"if=/dev/zero",
			 (char *)"bs=65536",      (char *)"count=1024",
			 NULL };
	struct child c;
	char *out, *p;
	double mbps = 0;

	if (spawn_run(pre, work, &c) < 0)
		return -1;
	out = slurp_fd(c.out, 1u << 20);
	reap(&c);
	p = out ? strstr(out, "relay-floor: bytes=") : NULL;
	if (p && strtoull(p + 19, NULL, 10) == BULK && (p = strstr(p, "MBps=")))
		mbps = strtod(p + 5, NULL);
	free(out);
	return mbps;
}

/* Round trips are counted from this long after SYS_RDY (or ping-floor's
 * "ready"): the guest at idle. */
#define PING_SETTLE_NS 500000000.0

/* Until a line holding `want` comes on fd (a child's stdout), or ms pass. */
static bool wait_line(int fd, const char *want, int ms)
{
	char buf[4096];
	size_t len = 0;
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;

	while (now_ns() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, (int)((end - now_ns()) / 1000000u) + 1) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, want))
			return true;
		if (len == sizeof(buf) - 1)
			len = 0;
	}
	return false;
}

/* One round trip of n bytes on fd, ms; -1 when they do not all come back within 200 ms. */
static double echo_rtt(int fd, const char *msg, size_t n)
{
	char back[64];
	size_t got = 0;
	uint64_t t0 = now_ns();

	if (write(fd, msg, n) != (ssize_t)n)
		return -1;
	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 200) <= 0)
			return -1;
		r = read(fd, back + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return memcmp(back, msg, n) == 0 ? (now_ns() - t0) / 1e6 : -1;
}

/*
 * The floor under (h): ping-floor (ping_floor.c) echoing a second port, on
 * a host socket chardev, in the same kind of guest (vigil's defaults). From
 * PING_SETTLE_NS after its "ready" on, 8 bytes every 20 ms for
 * PING_FLOOR_PINGS pings, timed here as vigil times its PINGs (write to
 * the socket, then its answer read back); their round trips (ms) into out.
 */
#define PING_FLOOR_PINGS 125
static int ping_floor_rtts(const char *dir, double *out, int cap)
{
	char sock[96], chardev[192];
	char *pre[] = { (char *)"--exe",
			(char *)PING_FLOOR_BIN,
			(char *)"--qemu-arg",
			(char *)"-chardev",
			(char *)"--qemu-arg",
			chardev,
			(char *)"--qemu-arg",
			(char *)"-device",
			(char *)"--qemu-arg",
			(char *)"virtserialport,chardev=echo,name=org.vigil.echo.0",
			NULL };
	char *work[] = { (char *)PING_FLOOR_BIN, (char *)"org.vigil.echo.0", (char *)"5", NULL };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct child c;
	int fd = -1, k = 0;

	snprintf(sock, sizeof(sock), "%s/echo.sock", dir);
	snprintf(chardev, sizeof(chardev), "socket,id=echo,path=%s,server=on,wait=off", sock);
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	unlink(sock);
	if (spawn_run(pre, work, &c) < 0)
		return 0;
	if (wait_line(c.out, "ping-floor: ready", 60000) &&
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		uint64_t next = now_ns() + (uint64_t)PING_SETTLE_NS;

		for (int i = 0; i < PING_FLOOR_PINGS && k < cap; i++) {
			struct timespec ts;
			char msg[9];
			double r;

			ts.tv_sec = (time_t)(next / 1000000000u);
			ts.tv_nsec = (long)(next % 1000000000u);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			snprintf(msg, sizeof(msg), "%08d", i);
			if ((r = echo_rtt(fd, msg, 8)) < 0)
				break;
			out[k++] = r;
			next += 20000000u;
		}
	}
	if (fd >= 0)
		close(fd);
	free(slurp_fd(c.out, 1u << 20));
	reap(&c);
	unlink(sock);
	return k;
}

/* Stall lateness samples (ms) from one run with 20 beaters stopped. */
static int stall_lateness(double *out, int cap)
{
	char *work[] = {
		(char *)"sh",
		(char *)"-c",
		(char *)"P=''; for i in $(seq 20); do vigil-agent beat --every 50 --deadline 150ms "
			"& "
			"P=\"$P $!\"; "
			"done; "
			"sleep 1.5; kill -STOP $P; sleep 1; kill -CONT $P; sleep 0.3; kill $P; "
			"exit 0",
		NULL,
	};
	char *argv[32];
	int n = 0, k = 0;
	struct child c;
	char *ev, *p;

	argv[n++] = (char *)VIGIL_BIN;
	argv[n++] = (char *)"run";
	argv[n++] = (char *)"-q";
	argv[n++] = (char *)"--accel";
	argv[n++] = (char *)"tcg";
	argv[n++] = (char *)"--events";
	argv[n++] = (char *)"-";
	argv[n++] = (char *)"--";
	for (int i = 0; work[i]; i++)
		argv[n++] = work[i];
	argv[n] = NULL;
	if (spawn(argv, true, NULL, 0, &c) < 0)
		return 0;
	ev = slurp_fd(c.out, 64u << 20);
	reap(&c);
	for (p = ev; p && (p = strstr(p, "\"event\":\"stall\"")) && k < cap; p++) {
		const char *s = strstr(p, "\"silence_ns\":"), *d = strstr(p, "\"deadline_ns\":");
		if (!s || !d)
			break;
		out[k++] = (strtod(s + 13, NULL) - strtod(d + 14, NULL)) / 1e6;
	}
	free(ev);
	return k;
}

/*
 * PING round trips (ms), PINGs every 20 ms for 3 s: those answered from
 * PING_SETTLE_NS after SYS_RDY on, at idle, into out; those before it,
 * while the guest and vigil still finish starting (the workload's exec,
 * the boot's kernel log relayed, vigil's own QMP queries), into early.
 */
static int ping_rtts(double *out, int cap, double *early, int ecap, int *ne)
{
	char *argv[] = { (char *)VIGIL_BIN,
			 (char *)"run",
			 (char *)"-q",
			 (char *)"--accel",
			 (char *)"tcg",
			 (char *)"--ping-interval",
			 (char *)"20ms",
			 (char *)"--events",
			 (char *)"-",
			 (char *)"--",
			 (char *)"sleep",
			 (char *)"3",
			 NULL };
	struct child c;
	char *ev, *p, *ready;
	double t_ready;
	int k = 0;

	if (spawn(argv, true, NULL, 0, &c) < 0)
		return 0;
	ev = slurp_fd(c.out, 64u << 20);
	reap(&c);
	ready = ev ? strstr(ev, "\"event\":\"ready\"") : NULL;
	p = ready ? strstr(ready, "\"t_ns\":") : NULL;
	t_ready = p ? strtod(p + 7, NULL) : 0;
	for (p = ready; p && (p = strstr(p, "\"event\":\"pong\"")) && k < cap; p++) {
		const char *r = strstr(p, "\"rtt_ns\":"), *t = strstr(p, "\"t_ns\":");
		double rtt;

		if (!r || !t)
			break;
		rtt = strtod(r + 9, NULL) / 1e6;
		if (strtod(t + 7, NULL) - t_ready >= PING_SETTLE_NS)
			out[k++] = rtt;
		else if (*ne < ecap)
			early[(*ne)++] = rtt;
	}
	free(ev);
	return k;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		return -1;
	return chmod(path, mode);
}

static int build_image(const char *init, char *out, size_t cap)
{
	char *argv[] = { (char *)VIGIL_BIN, (char *)"initramfs", (char *)"-q",
			 (char *)"--init",  (char *)init,        NULL };
	struct child c;
	char *path;

	if (spawn(argv, true, NULL, 0, &c) < 0)
		return -1;
	path = slurp_fd(c.out, 65536);
	if (reap(&c) != 0 || !path || !*path) {
		free(path);
		return -1;
	}
	path[strcspn(path, "\n")] = '\0';
	snprintf(out, cap, "%s", path);
	free(path);
	return 0;
}

/* RUN_BENCH_ONLY=stdout: (d) and (i) only, interleaved. */
static int stdout_only(int boots)
{
	double s[32], f[32];

	for (int i = 0; i < boots; i++) {
		s[i] = stdout_rate();
		f[i] = relay_floor();
		printf("boot %d: stdout %.0f MB/s, relay floor %.0f MB/s\n", i + 1, s[i], f[i]);
		fflush(stdout);
	}
	printf("run-bench: stdout_MBps=%.0f relay_floor_MBps=%.0f\n", median(s, boots),
	       median(f, boots));
	return 0;
}

static void print_rtts(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	printf("%s: %d round trips, median %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", what,
	       n, n ? v[n / 2] : -1, n ? v[n * 9 / 10] : -1, n ? v[n * 99 / 100] : -1,
	       n ? v[n - 1] : -1);
}

/* RUN_BENCH_ONLY=ping: (h) and its floor only, interleaved. */
static int ping_only(int boots)
{
	static double rtt[8192], early[1024], fl[32 * PING_FLOOR_PINGS];
	char dir[] = "/tmp/vigil-run-bench-XXXXXX";
	int nr = 0, ne = 0, nf = 0;

	if (!mkdtemp(dir))
		return 1;
	for (int i = 0; i < boots; i++) {
		nr += ping_rtts(rtt + nr, (int)(sizeof(rtt) / sizeof(rtt[0])) - nr, early,
				(int)(sizeof(early) / sizeof(early[0])), &ne);
		nf += ping_floor_rtts(dir, fl + nf, (int)(sizeof(fl) / sizeof(fl[0])) - nf);
		printf("boot %d: %d PONGs, %d floor echoes so far\n", i + 1, nr, nf);
		fflush(stdout);
	}
	print_rtts("ping at idle", rtt, nr);
	print_rtts("ping floor at idle (ping-floor echoing a second port)", fl, nf);
	rmdir(dir);
	printf("run-bench: ping_p99_ms=%.2f ping_floor_p99_ms=%.2f\n",
	       nr ? rtt[(size_t)(nr * 99 / 100)] : -1.0, nf ? fl[(size_t)(nf * 99 / 100)] : -1.0);
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/vigil-run-bench-XXXXXX", init[PATH_MAX], img[PATH_MAX];
	char kernel[PATH_MAX];
	const char *env = getenv("RUN_BENCH_BOOTS");
	int boots = env ? atoi(env) : 5;
	double a[32], h[32], z[32], b[32], c[32], s[32], f[32], raw[32], late[4096], rtt[8192];
	double rtt_early[1024], floor_rtt[32 * PING_FLOOR_PINGS];
	int nl = 0, nr = 0, ne = 0, nf = 0;
	uint32_t tsc = 0;
	char *true_cmd[] = { (char *)"true", NULL };

	if (boots < 1 || boots > 32)
		boots = 5;
	if (getenv("RUN_BENCH_ONLY") && strcmp(getenv("RUN_BENCH_ONLY"), "stdout") == 0)
		return stdout_only(boots);
	if (getenv("RUN_BENCH_ONLY") && strcmp(getenv("RUN_BENCH_ONLY"), "ping") == 0)
		return ping_only(boots);
	if (!mkdtemp(dir) || vigil_find_kernel("/boot", kernel, sizeof(kernel)) < 0) {
		fprintf(stderr, "run-bench: no temporary directory or no kernel\n");
		return 1;
	}
	/* the TSC frequency as vigil finds it */
	vigil_tsc_khz(&tsc);
	snprintf(init, sizeof(init), "%s/init.sh", dir);
	if (write_file(init, init_byte, 0755) < 0 || build_image(init, img, sizeof(img)) < 0) {
		fprintf(stderr, "run-bench: cannot build the busybox image\n");
		return 1;
	}
	for (int i = 0; i < boots; i++) {
		a[i] = vigil_event(NULL, "image", "ready", true_cmd, false);
		h[i] = vigil_event(NULL, "host", "ready", true_cmd, false);
		z[i] = vigil_event(NULL, "image", "ready", true_cmd, true);
		b[i] = vigil_event(img, NULL, "first_byte", true_cmd, false);
		c[i] = plain_boot(kernel, img, false, NULL);
		s[i] = stdout_rate();
		f[i] = relay_floor();
		raw_tuned(kernel, img, &raw[i], tsc);
		nl += stall_lateness(late + nl, (int)(sizeof(late) / sizeof(late[0])) - nl);
		nr += ping_rtts(rtt + nr, (int)(sizeof(rtt) / sizeof(rtt[0])) - nr, rtt_early,
				(int)(sizeof(rtt_early) / sizeof(rtt_early[0])), &ne);
		nf += ping_floor_rtts(dir, floor_rtt + nf,
				      (int)(sizeof(floor_rtt) / sizeof(floor_rtt[0])) - nf);
		printf("boot %d: ready %.0f ms, host root ready %.0f ms, bzImage ready %.0f ms, "
		       "busybox byte %.0f ms, plain pc %.0f ms, stdout %.0f MB/s, relay floor %.0f MB/s, "
		       "raw %.0f MB/s\n",
		       i + 1, a[i], h[i], z[i], b[i], c[i], s[i], f[i], raw[i]);
		fflush(stdout);
	}
	qsort(late, (size_t)nl, sizeof(late[0]), cmp_double);
	printf("stall lateness: %d samples, median %.2f ms, max %.2f ms\n", nl,
	       nl ? late[nl / 2] : -1, nl ? late[nl - 1] : -1);
	print_rtts("ping at idle", rtt, nr);
	print_rtts("ping floor at idle (ping-floor echoing a second port)", floor_rtt, nf);
	qsort(rtt_early, (size_t)ne, sizeof(rtt_early[0]), cmp_double);
	printf("ping in the first %.0f ms after SYS_RDY (not in ping_p99_ms): %d round trips, "
	       "median %.2f ms, max %.2f ms\n",
	       PING_SETTLE_NS / 1e6, ne, ne ? rtt_early[ne / 2] : -1, ne ? rtt_early[ne - 1] : -1);
	printf("run-bench: boot_ready_ms=%.0f busybox_first_byte_ms=%.0f plain_pc_busybox_ms=%.0f "
	       "stdout_MBps=%.0f raw_port_MBps=%.0f stall_p99_late_ms=%.1f host_root_ready_ms=%.0f "
	       "relay_floor_MBps=%.0f ping_p99_ms=%.2f bzimage_ready_ms=%.0f\n",
	       median(a, boots), median(b, boots), median(c, boots), median(s, boots),
	       median(raw, boots), nl ? late[(size_t)(nl * 99 / 100)] : -1.0, median(h, boots),
	       median(f, boots), nr ? rtt[(size_t)(nr * 99 / 100)] : -1.0, median(z, boots));
	return 0;
}
