/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/inspect.c: the /proc parsers on fixed text (boundaries
 * at every limit, status fed in every split), the sampler on this
 * machine's /proc (this process, a sleeping child, a zombie, a reaped and a
 * never-existing pid) and on fake trees (missing, unreadable, over-long
 * files), and the inspector: four requests in flight, the fifth answered
 * -EBUSY at once while the worker is stuck in a read (a FIFO standing in
 * for a /proc file that blocks), and a stop that leaves a stuck worker.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inspect.h"
#include "rx.h"

static struct inspect_bufs B;

static bool str_is(struct vigil_str s, const char *want)
{
	size_t n = strlen(want);

	return s.len == n && memcmp(s.ptr, want, n) == 0;
}

/* ---- fixtures ------------------------------------------------------------ */

static void put_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void put_text(const char *dir, const char *name, const char *text)
{
	put_file(dir, name, text, strlen(text));
}

/* A fake proc root with an empty directory for pid; its path in root. */
static void fake_root(char *root, size_t cap, char *pid_dir, size_t pcap, uint32_t pid)
{
	assert_non_null(mkdtemp(tmp_template(root, cap, "/tmp/vigil-proc-")));
	snprintf(pid_dir, pcap, "%s/%u", root, pid);
	assert_int_equal(mkdir(pid_dir, 0755), 0);
}

static void rm_tree(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A stat line "pid (comm) state" then fields 4..52, each its own number,
 * but 39 (last_cpu) and 41 (policy). */
static size_t stat_line(char *buf, size_t cap, const char *comm, char state, uint32_t cpu,
			uint32_t policy, unsigned last_field)
{
	size_t n = (size_t)snprintf(buf, cap, "4242 (%s) %c", comm, state);

	for (unsigned f = 4; f <= last_field; f++) {
		unsigned v = f == 39 ? cpu : f == 41 ? policy : f;

		n += (size_t)snprintf(buf + n, cap - n, " %u", v);
	}
	n += (size_t)snprintf(buf + n, cap - n, "\n");
	return n;
}

/* Up to cap bytes of a file, or -1 when it cannot be read. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	size_t have = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -1;
	while (have < cap && (n = read(fd, buf + have, cap - have)) > 0)
		have += (size_t)n;
	close(fd);
	return n < 0 ? -1 : (ssize_t)have;
}

/* The state letter of pid, from its stat, or 0. */
static char state_of(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	size_t n;
	char *rp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

static void wait_state(pid_t pid, char want)
{
	for (int i = 0; i < 400 && state_of(pid) != want; i++)
		usleep(5000);
	assert_int_equal(state_of(pid), want);
}

/* ---- parsers -------------------------------------------------------------- */

static void test_parse_stat(void **state)
{
	char line[1024];
	struct inspect_stat st = { 'x', 9, 9 };
	size_t n;

	(void)state;
	n = stat_line(line, sizeof(line), "worker", 'R', 3, 7, 52);
	assert_int_equal(inspect_parse_stat(line, n, &st), 0);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.last_cpu, 3);
	assert_int_equal(st.policy, 7);
	/* comm with spaces and parentheses, even ") R (": the last ')' counts. */
	n = stat_line(line, sizeof(line), "a) R (b c)", 'D', 1, 6, 52);
	assert_int_equal(inspect_parse_stat(line, n, &st), 0);
	assert_int_equal(st.state, 'D');
	assert_int_equal(st.policy, 6);
	/* Fields missing at the end (an old kernel, a cut read) are 0. */
	n = stat_line(line, sizeof(line), "w", 'S', 5, 2, 40);
	assert_int_equal(inspect_parse_stat(line, n, &st), 0);
	assert_int_equal(st.last_cpu, 5);
	assert_int_equal(st.policy, 0);
	n = stat_line(line, sizeof(line), "w", 'I', 5, 2, 38);
	assert_int_equal(inspect_parse_stat(line, n, &st), 0);
	assert_int_equal(st.state, 'I');
	assert_int_equal(st.last_cpu, 0);
	assert_int_equal(inspect_parse_stat("1 (w) Z", 7, &st), 0);
	assert_int_equal(st.state, 'Z');
	/* Not a number where one is expected: 0. */
	n = stat_line(line, sizeof(line), "w", 'S', 5, 2, 52);
	memcpy(strstr(line, " 40 ") - 1, "x", 1); /* field 39's last digit */
	assert_int_equal(inspect_parse_stat(line, n, &st), 0);
	assert_int_equal(st.last_cpu, 0);
	assert_int_equal(st.policy, 2);
	/* No ")", nothing or two bytes after it: malformed, *out untouched. */
	st = (struct inspect_stat){ 'x', 9, 9 };
	assert_int_equal(inspect_parse_stat("4242 worker S 1", 15, &st), -EBADMSG);
	assert_int_equal(inspect_parse_stat("1 (w)", 5, &st), -EBADMSG);
	assert_int_equal(inspect_parse_stat("1 (w) ", 6, &st), -EBADMSG);
	assert_int_equal(inspect_parse_stat("1 (w)  S", 8, &st), -EBADMSG);
	assert_int_equal(inspect_parse_stat("1 (w) SS 1", 10, &st), -EBADMSG);
	assert_int_equal(inspect_parse_stat("", 0, &st), -EBADMSG);
	assert_int_equal(st.state, 'x');
}

static void test_parse_schedstat(void **state)
{
	uint64_t v[3] = { 9, 9, 9 };

	(void)state;
	assert_int_equal(inspect_parse_schedstat("1255476606 711145713 983\n", 25, v), 3);
	assert_int_equal(v[0], 1255476606);
	assert_int_equal(v[1], 711145713);
	assert_int_equal(v[2], 983);
	assert_int_equal(inspect_parse_schedstat("18446744073709551615 0 0", 24, v), 3);
	assert_true(v[0] == UINT64_MAX);
	assert_int_equal(inspect_parse_schedstat("18446744073709551616 5 5", 24, v), 0);
	assert_int_equal(v[0] + v[1] + v[2], 0);
	assert_int_equal(inspect_parse_schedstat("12 34", 5, v), 2);
	assert_int_equal(v[1], 34);
	assert_int_equal(v[2], 0);
	assert_int_equal(inspect_parse_schedstat("12x 34 5", 8, v), 1);
	assert_int_equal(v[0], 12);
	assert_int_equal(v[1], 0);
	assert_int_equal(inspect_parse_schedstat("", 0, v), 0);
}

static const char status_text[] =
    "Name:\tstress-worker\nUmask:\t0022\nState:\tR (running)\nTgid:\t412\n"
    "Cpus_allowed_list:\t0-3\nvoluntary_ctxt_switches_x:\t77\n"
    "voluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3";

static void test_parse_status(void **state)
{
	const size_t len = sizeof(status_text) - 1;
	struct inspect_switches sw = { 0, 0 };

	(void)state;
	/* Whole, without the final newline: only eof takes the last line. */
	assert_int_equal(inspect_parse_status(status_text, len, false, &sw),
			 len - strlen("nonvoluntary_ctxt_switches:\t3"));
	assert_int_equal(sw.voluntary, 12);
	assert_int_equal(sw.involuntary, 0);
	assert_int_equal(inspect_parse_status(status_text, len, true, &sw), len);
	assert_int_equal(sw.involuntary, 3);
	/* In two pieces at every split, as the reader feeds it: the same. */
	for (size_t k = 0; k <= len; k++) {
		struct inspect_switches p = { 0, 0 };
		size_t used = inspect_parse_status(status_text, k, false, &p);

		assert_true(used <= k);
		inspect_parse_status(status_text + used, len - used, true, &p);
		assert_int_equal(p.voluntary, 12);
		assert_int_equal(p.involuntary, 3);
	}
	/* A value that is not a plain decimal is not taken. */
	sw = (struct inspect_switches){ 0, 0 };
	inspect_parse_status("voluntary_ctxt_switches:\t12ab\n", 30, true, &sw);
	inspect_parse_status("nonvoluntary_ctxt_switches:\n", 28, true, &sw);
	assert_int_equal(sw.voluntary + sw.involuntary, 0);
}

static void test_string_lengths(void **state)
{
	char s[700];

	(void)state;
	memset(s, 'c', sizeof(s));
	/* comm: without its (one) final newline, at most 64. */
	assert_int_equal(inspect_comm_len("worker\n", 7), 6);
	assert_int_equal(inspect_comm_len("w\n\n", 3), 2);
	assert_int_equal(inspect_comm_len("", 0), 0);
	s[64] = '\n';
	assert_int_equal(inspect_comm_len(s, 65), 64);
	s[64] = 'c';
	assert_int_equal(inspect_comm_len(s, 65), 64);
	/* wchan: "0" is empty, the rest as read, at most 128. */
	assert_int_equal(inspect_wchan_len("0", 1), 0);
	assert_int_equal(inspect_wchan_len("00", 2), 2);
	assert_int_equal(inspect_wchan_len("do_wait", 7), 7);
	assert_int_equal(inspect_wchan_len(s, 128), 128);
	assert_int_equal(inspect_wchan_len(s, 129), 128);
	/* cgroup: the first line without its newline, at most 512. */
	assert_int_equal(inspect_cgroup_len("0::/a\n1:b:/c\n", 13), 5);
	assert_int_equal(inspect_cgroup_len("0::/a", 5), 5);
	assert_int_equal(inspect_cgroup_len("\n0::/", 5), 0);
	s[512] = '\n';
	assert_int_equal(inspect_cgroup_len(s, 513), 512);
	s[512] = 'c';
	assert_int_equal(inspect_cgroup_len(s, 600), 512);
}

/* ---- the sampler on this machine's /proc --------------------------------- */

/* The two switch counts of /proc/self/status, read with stdio. */
static void self_switches(uint64_t *vol, uint64_t *invol)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int found = 0;
	unsigned long long v;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1)
			*vol = v, found++;
		else if (sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
			*invol = v, found++;
	}
	fclose(f);
	assert_int_equal(found, 2);
}

static void test_sample_self(void **state)
{
	struct vigil_process_report r = { .request_id = 1, .pid = (uint32_t)getpid() };
	char comm[80], cg[1024];
	uint64_t v0, i0, v1, i1;
	FILE *f;
	size_t n;

	(void)state;
	usleep(1000); /* one voluntary switch at least */
	self_switches(&v0, &i0);
	assert_true(v0 >= 1);
	assert_int_equal(inspect_sample("/proc", (uint32_t)getpid(), &B, &r), 0);
	self_switches(&v1, &i1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.request_id, 1);
	assert_int_equal(r.state, 'R'); /* it is reading its own stat */
	assert_int_equal(r.policy, (uint32_t)sched_getscheduler(0));
	assert_true(r.last_cpu < (uint32_t)sysconf(_SC_NPROCESSORS_CONF));
	f = fopen("/proc/self/comm", "r");
	assert_non_null(f);
	n = fread(comm, 1, sizeof(comm), f);
	fclose(f);
	assert_true(n > 1 && comm[n - 1] == '\n');
	assert_int_equal(r.comm.len, n - 1);
	assert_memory_equal(r.comm.ptr, comm, n - 1);
	f = fopen("/proc/self/cgroup", "r");
	assert_non_null(f);
	assert_non_null(fgets(cg, sizeof(cg), f));
	fclose(f);
	cg[strcspn(cg, "\n")] = '\0';
	assert_true(str_is(r.cgroup, cg));
	if (access("/proc/self/schedstat", R_OK) == 0)
		assert_true(r.run_ns > 0);
	/* The counts only grow: the sample's lie between a read before and after. */
	assert_true(v0 <= r.voluntary_switches && r.voluntary_switches <= v1);
	assert_true(i0 <= r.involuntary_switches && r.involuntary_switches <= i1);
}

/* What pid's wchan and stack files say now, as the sampler keeps them:
 * wchan "0" (not asleep) and a file that cannot be read are empty. */
static void sleep_files(pid_t pid, char *wchan, ssize_t *wn, char *stack, ssize_t *sn)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	*wn = slurp(path, wchan, VIGIL_WIRE_WCHAN_MAX);
	if (*wn < 0 || (*wn == 1 && wchan[0] == '0'))
		*wn = 0;
	/* stack needs root and CONFIG_STACKTRACE: otherwise empty. */
	snprintf(path, sizeof(path), "/proc/%d/stack", (int)pid);
	*sn = slurp(path, stack, VIGIL_WIRE_STACK_MAX);
	if (*sn < 0)
		*sn = 0;
}

/* A child asleep in read(): S, some voluntary switches, and where it sleeps
 * and its kernel stack as the files say (empty where they cannot be read).
 * A child seen in S may not have reached its read yet, or be woken on its
 * way: the sample must match the files in a try where they read the same
 * before and after it. */
static void test_sample_sleeping(void **state)
{
	static char w0[VIGIL_WIRE_WCHAN_MAX], w1[VIGIL_WIRE_WCHAN_MAX];
	static char s0[VIGIL_WIRE_STACK_MAX], s1[VIGIL_WIRE_STACK_MAX];
	struct vigil_process_report r = { .request_id = 2 };
	ssize_t wn0, wn1, sn0, sn1;
	bool steady = false;
	int p[2];
	pid_t c;
	char x;

	(void)state;
	assert_int_equal(pipe(p), 0);
	c = fork();
	if (c == 0) {
		close(p[1]);
		_exit(read(p[0], &x, 1) == 0 ? 0 : 1);
	}
	close(p[0]);
	r.pid = (uint32_t)c;
	for (int i = 0; i < 200 && !steady; i++) {
		wait_state(c, 'S');
		sleep_files(c, w0, &wn0, s0, &sn0);
		assert_int_equal(inspect_sample("/proc", (uint32_t)c, &B, &r), 0);
		sleep_files(c, w1, &wn1, s1, &sn1);
		steady = wn0 == wn1 && !memcmp(w0, w1, (size_t)wn0) && sn0 == sn1 &&
			 !memcmp(s0, s1, (size_t)sn0);
		/* steady, the sample must be what the files say */
		if (steady && r.wchan.len == wn0 && r.stack.len == sn0 &&
		    !memcmp(r.wchan.ptr, w0, (size_t)wn0) && !memcmp(r.stack.ptr, s0, (size_t)sn0))
			break;
		steady = false;
		usleep(10000);
	}
	assert_true(steady);
	assert_int_equal(r.state, 'S');
	assert_true(r.voluntary_switches >= 1);
	assert_int_equal(r.wchan.len, wn0);
	assert_memory_equal(r.wchan.ptr, w0, (size_t)wn0);
	assert_int_equal(r.stack.len, sn0);
	assert_memory_equal(r.stack.ptr, s0, (size_t)sn0);
	close(p[1]);
	assert_int_equal(waitpid(c, NULL, 0), c);
}

/* A zombie is there (Z); once reaped it is gone: -ESRCH, every field 0. */
static void test_sample_zombie_then_gone(void **state)
{
	struct vigil_process_report r = { .request_id = 3 };
	siginfo_t si;
	pid_t c = fork();

	(void)state;
	if (c == 0)
		_exit(0);
	assert_int_equal(waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(inspect_sample("/proc", (uint32_t)c, &B, &r), 0);
	assert_int_equal(r.state, 'Z');
	assert_int_equal(waitpid(c, NULL, 0), c);
	assert_int_equal(inspect_sample("/proc", (uint32_t)c, &B, &r), -ESRCH);
	assert_int_equal(r.status, -ESRCH);
	assert_int_equal(r.request_id, 3);
	assert_int_equal(r.state, 0);
	assert_int_equal(r.voluntary_switches, 0);
	assert_int_equal(r.comm.len + r.wchan.len + r.stack.len + r.cgroup.len, 0);
	/* Above pid_max: never existed. */
	assert_int_equal(inspect_sample("/proc", INT32_MAX, &B, &r), -ESRCH);
}

/* ---- the sampler on fake trees ------------------------------------------- */

static void test_sample_fake_full(void **state)
{
	static char big[10000];
	char root[64], dir[96], line[1024];
	struct vigil_process_report r = { .request_id = 4, .pid = 4242 };
	size_t n;

	(void)state;
	fake_root(root, sizeof(root), dir, sizeof(dir), 4242);
	n = stat_line(line, sizeof(line), "(fake) worker", 'D', 3, 7, 52);
	put_file(dir, "stat", line, n);
	put_text(dir, "schedstat", "1200000 5300000000 41\n");
	/* status with a line longer than the reader's buffer before the counts */
	n = (size_t)snprintf(big, sizeof(big), "Name:\tw\nCpus_allowed:\t");
	memset(big + n, 'f', 6000);
	n += 6000;
	n += (size_t)snprintf(big + n, sizeof(big) - n,
			      "\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n");
	put_file(dir, "status", big, n);
	put_text(dir, "comm", "stress-worker\n");
	put_text(dir, "wchan", "0");
	memset(big, 's', 5000);
	put_file(dir, "stack", big, 5000);
	memset(big, 'g', 600);
	memcpy(big + 600, "\n1:x:/y\n", 8);
	put_file(dir, "cgroup", big, 608);

	assert_int_equal(inspect_sample(root, 4242, &B, &r), 0);
	assert_int_equal(r.state, 'D');
	assert_int_equal(r.last_cpu, 3);
	assert_int_equal(r.policy, VIGIL_POLICY_EXT);
	assert_int_equal(r.run_ns, 1200000);
	assert_int_equal(r.wait_ns, 5300000000ull);
	assert_int_equal(r.timeslices, 41);
	assert_int_equal(r.voluntary_switches, 12);
	assert_int_equal(r.involuntary_switches, 3);
	assert_true(str_is(r.comm, "stress-worker"));
	assert_int_equal(r.wchan.len, 0);
	assert_int_equal(r.stack.len, VIGIL_WIRE_STACK_MAX);
	assert_int_equal(r.cgroup.len, VIGIL_WIRE_CGROUP_MAX);
	assert_int_equal(r.cgroup.ptr[0], 'g');
	rm_tree(root);
}

/* Only stat: a kernel without the others, or a reader without the right. */
static void test_sample_fake_missing(void **state)
{
	char root[64], dir[96], line[1024];
	struct vigil_process_report r = { .request_id = 5, .pid = 4242 };

	(void)state;
	fake_root(root, sizeof(root), dir, sizeof(dir), 4242);
	put_file(dir, "stat", line, stat_line(line, sizeof(line), "w", 'S', 1, 0, 52));
	assert_int_equal(inspect_sample(root, 4242, &B, &r), 0);
	assert_int_equal(r.state, 'S');
	assert_int_equal(r.last_cpu, 1);
	assert_int_equal(r.run_ns + r.wait_ns + r.timeslices, 0);
	assert_int_equal(r.voluntary_switches + r.involuntary_switches, 0);
	assert_int_equal(r.comm.len + r.wchan.len + r.stack.len + r.cgroup.len, 0);
	/* A file that exists but cannot be read (a directory): empty too. */
	assert_int_equal(mkdir(strcat(dir, "/stack"), 0755), 0);
	assert_int_equal(inspect_sample(root, 4242, &B, &r), 0);
	assert_int_equal(r.stack.len, 0);
	rm_tree(root);
}

/* stat unreadable or not stat: -EACCES; no stat at all: gone. */
static void test_sample_fake_stat_errors(void **state)
{
	char root[64], dir[96], path[128];
	struct vigil_process_report r = { .request_id = 6, .pid = 4242 };

	(void)state;
	fake_root(root, sizeof(root), dir, sizeof(dir), 4242);
	put_text(dir, "comm", "w\n");
	assert_int_equal(inspect_sample(root, 4242, &B, &r), -ESRCH);
	snprintf(path, sizeof(path), "%s/stat", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(inspect_sample(root, 4242, &B, &r), -EACCES);
	assert_int_equal(r.status, -EACCES);
	assert_int_equal(r.comm.len, 0);
	assert_int_equal(rmdir(path), 0);
	put_text(dir, "stat", "4242 worker S 1 2 3\n");
	assert_int_equal(inspect_sample(root, 4242, &B, &r), -EACCES);
	/* /proc/PID not a directory */
	put_text(root, "4243", "");
	assert_int_equal(inspect_sample(root, 4243, &B, &r), -EACCES);
	rm_tree(root);
}

/* ---- the inspector ---------------------------------------------------------- */

struct ifx {
	int sv[2]; /* [0] the host's end, [1] the agent's port */
	struct chan c;
	struct rx rx;
};

static void ifx_init(struct ifx *x)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, x->sv), 0);
	fcntl(x->sv[1], F_SETFL, O_NONBLOCK);
	assert_int_equal(chan_init(&x->c, x->sv[1], NULL, NULL, NULL), 0);
	rx_init(&x->rx);
}

static void ifx_fini(struct ifx *x)
{
	chan_fini(&x->c);
	rx_free(&x->rx);
	close(x->sv[0]);
	close(x->sv[1]);
}

/* Wait (up to 5 s) for the worker's eventfd, then collect. */
static int collect_when_ready(struct inspector *in, struct chan *c)
{
	struct pollfd p = { .fd = inspector_fd(in), .events = POLLIN };

	assert_int_equal(poll(&p, 1, 5000), 1);
	return inspector_collect(in, c);
}

/* Flush what the chan holds to the host side; decode the reports there. */
static size_t reports(struct ifx *x, struct vigil_process_report *out, size_t max)
{
	size_t n = 0;

	assert_int_equal(chan_flush(&x->c, 1), 0);
	while (rx_pump(&x->rx, x->sv[0], 50) > 0)
		;
	for (size_t i = 0; i < x->rx.n && n < max; i++) {
		if (x->rx.f[i].type != VIGIL_MSG_PROCESS_REPORT)
			continue;
		assert_int_equal(
		    vigil_process_report_decode(rx_payload(&x->rx, i), x->rx.f[i].len, &out[n]), 0);
		n++;
	}
	return n;
}

static void test_inspector_answers(void **state)
{
	static struct inspector in;
	struct vigil_inspect rq = { 7, (uint32_t)getpid() };
	struct vigil_process_report r[4];
	struct ifx x;

	(void)state;
	ifx_init(&x);
	assert_int_equal(inspector_start(&in, "/proc", 0), 0);
	assert_int_equal(inspector_request(&in, &rq, &x.c), 0);
	assert_int_equal(collect_when_ready(&in, &x.c), 1);
	assert_int_equal(reports(&x, r, 4), 1);
	assert_int_equal(r[0].request_id, 7);
	assert_int_equal(r[0].pid, getpid());
	assert_int_equal(r[0].status, 0);
	assert_true(r[0].state == 'R' || r[0].state == 'S');
	assert_true(r[0].comm.len > 0);
	assert_int_equal(in.st.requests, 1);
	assert_int_equal(in.st.reports, 1);
	inspector_stop(&in);
	assert_int_equal(in.efd, -1); /* joined, fd closed */
	ifx_fini(&x);
}

/* Open the FIFO for writing once the worker has opened it for reading,
 * write a cgroup line and close: that one sample can finish. */
static void release_fifo(const char *path)
{
	int fd = -1;

	for (int i = 0; i < 1000 && fd < 0; i++) {
		fd = open(path, O_WRONLY | O_NONBLOCK);
		if (fd < 0) {
			assert_int_equal(errno, ENXIO); /* no reader yet */
			usleep(2000);
		}
	}
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0::/slow\n", 9), 9);
	close(fd);
}

/* Fake tree whose pid 4242 has a FIFO for cgroup: each sample blocks until
 * release_fifo(path). */
static void fifo_tree(char *root, size_t cap, char *fifo, size_t fcap)
{
	char dir[96], line[1024];

	fake_root(root, cap, dir, sizeof(dir), 4242);
	put_file(dir, "stat", line, stat_line(line, sizeof(line), "w", 'R', 0, 7, 52));
	snprintf(fifo, fcap, "%s/cgroup", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
}

static void test_inspector_busy(void **state)
{
	static struct inspector in;
	struct vigil_process_report r[8];
	char root[64], fifo[128];
	struct ifx x;
	uint64_t t0;

	(void)state;
	ifx_init(&x);
	fifo_tree(root, sizeof(root), fifo, sizeof(fifo));
	assert_int_equal(inspector_start(&in, root, 0), 0);
	/* Four in flight, the worker stuck in the first; the fifth is
	 * answered at once, without waiting for any of them. */
	t0 = rx_now_ms();
	for (uint32_t id = 1; id <= 4; id++) {
		struct vigil_inspect rq = { id, 4242 };

		assert_int_equal(inspector_request(&in, &rq, &x.c), 0);
	}
	{
		struct vigil_inspect rq = { 5, 4242 };

		assert_int_equal(inspector_request(&in, &rq, &x.c), -EBUSY);
	}
	assert_true(rx_now_ms() - t0 < 1000);
	assert_int_equal(reports(&x, r, 8), 1);
	assert_int_equal(r[0].request_id, 5);
	assert_int_equal(r[0].pid, 4242);
	assert_int_equal(r[0].status, -EBUSY);
	assert_int_equal(r[0].state, 0);
	/* Let the four through, one sample at a time, oldest first. Each
	 * release waits for the last sample's end: a writer that came early
	 * would feed two samples' reads at once. */
	for (int k = 0; k < 4; k++) {
		release_fifo(fifo);
		assert_int_equal(collect_when_ready(&in, &x.c), 1);
	}
	assert_int_equal(reports(&x, r, 8), 5);
	for (uint32_t k = 1; k < 5; k++) {
		assert_int_equal(r[k].request_id, k);
		assert_int_equal(r[k].status, 0);
		assert_int_equal(r[k].policy, VIGIL_POLICY_EXT);
		assert_true(str_is(r[k].cgroup, "0::/slow"));
	}
	/* The slots are free again. */
	{
		struct vigil_inspect rq = { 6, 4242 };

		assert_int_equal(inspector_request(&in, &rq, &x.c), 0);
		release_fifo(fifo);
		assert_int_equal(collect_when_ready(&in, &x.c), 1);
	}
	assert_int_equal(in.st.requests, 5);
	assert_int_equal(in.st.busy, 1);
	assert_int_equal(in.st.reports, 6);
	assert_int_equal(in.st.unanswered, 0);
	inspector_stop(&in);
	ifx_fini(&x);
	rm_tree(root);
}

/* A worker stuck in a read does not hold up stop; it ends once unblocked. */
static void test_inspector_stop_stuck(void **state)
{
	static struct inspector in;
	struct vigil_inspect rq = { 1, 4242 };
	char root[64], fifo[128];
	struct ifx x;
	uint64_t t0;
	bool sampling = false, exited = false;

	(void)state;
	ifx_init(&x);
	fifo_tree(root, sizeof(root), fifo, sizeof(fifo));
	assert_int_equal(inspector_start(&in, root, 0), 0);
	assert_int_equal(inspector_request(&in, &rq, &x.c), 0);
	for (int i = 0; i < 500 && !sampling; i++) {
		pthread_mutex_lock(&in.mu);
		sampling = in.slot[0].state == INSPECT_SAMPLING;
		pthread_mutex_unlock(&in.mu);
		usleep(1000);
	}
	assert_true(sampling);
	t0 = rx_now_ms();
	inspector_stop(&in);
	assert_true(rx_now_ms() - t0 < 1000);
	assert_true(in.efd >= 0); /* left to the detached worker */
	release_fifo(fifo);
	for (int i = 0; i < 500 && !exited; i++) {
		pthread_mutex_lock(&in.mu);
		exited = in.exited;
		pthread_mutex_unlock(&in.mu);
		usleep(2000);
	}
	assert_true(exited);
	close(in.efd);
	ifx_fini(&x);
	rm_tree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_parse_schedstat),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_string_lengths),
		cmocka_unit_test(test_sample_self),
		cmocka_unit_test(test_sample_sleeping),
		cmocka_unit_test(test_sample_zombie_then_gone),
		cmocka_unit_test(test_sample_fake_full),
		cmocka_unit_test(test_sample_fake_missing),
		cmocka_unit_test(test_sample_fake_stat_errors),
		cmocka_unit_test(test_inspector_answers),
		cmocka_unit_test(test_inspector_busy),
		cmocka_unit_test(test_inspector_stop_stuck),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
