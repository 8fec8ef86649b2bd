/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/cli/stallexec.c, on a real loop with a fake clock (time
 * for the debounce, the rate and the timeout moves only when a test says;
 * children and their pidfds are real):
 *  - splitting and substitution: words exact, a domain name with spaces and
 *    shell metacharacters one literal word, placeholders inside words,
 *    literal braces, the value and argv bounds;
 *  - refused specs, each with its message: empty, unknown placeholder
 *    (named), placeholder in the program word, 32/33 words, 255/256-byte
 *    words, the worst-case argv at 16384/16385 bytes, a program not found,
 *    not executable, a directory; $PATH resolution;
 *  - runs: /bin/true, /bin/false (exit counted), a script that records its
 *    argv; the child's setup (own process group, empty signal mask, stdin
 *    /dev/null, no inherited fd); output to the log, bounded, escaped,
 *    or discarded; exec failure;
 *  - the refusals: debounce per (uuid, pid), while running, the table's
 *    eviction; the concurrency cap; the rate cap (burst, refill, the bound
 *    of a refill) and its throttled log line; unattested origins and the
 *    override; the timeout (SIGTERM, and SIGKILL for a program that ignores
 *    SIGTERM);
 *  - no pidfd (fds exhausted): the child is killed and reaped by polling;
 *  - free with children alive: none left to reap (waitpid says ECHILD).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <vigil/wire.h>

#include "stallexec.h"
#include "test_util.h"

#define MS  1000000ull
#define SEC 1000000000ull
#define UU  "6f1e0c3a-9d7b-4d0e-8a43-2b1f5c6d7e80"
#define ATT VIGIL_ORIGIN_KERNEL_ATTESTED

/* ---- the harness ------------------------------------------------------------------ */

#define LOG_LINES 256
static char logs[LOG_LINES][1200];
static int nlogs;
static uint64_t now_ns;

static void log_cb(void *ctx, const char *msg)
{
	(void)ctx;
	if (nlogs < LOG_LINES)
		snprintf(logs[nlogs++], sizeof(logs[0]), "%s", msg);
}

/* Lines logged that contain s. */
static int logged(const char *s)
{
	int n = 0;

	for (int i = 0; i < nlogs; i++)
		n += strstr(logs[i], s) != NULL;
	return n;
}

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return now_ns;
}

static struct vigil_loop *new_loop(void)
{
	struct vigil_loop *l = NULL;

	assert_int_equal(vigil_loop_new(&l), 0);
	now_ns = vigil_loop_now_ns();
	vigil_loop_set_clock(l, fake_now, NULL);
	nlogs = 0;
	return l;
}

static void parse_ok(const char *spec, struct vigil_stallexec_cmd *c)
{
	char err[512] = "";
	int e = vigil_stallexec_parse(spec, c, err, sizeof(err));

	if (e != 0)
		fail_msg("parse %s: %d %s", spec, e, err);
}

/* A stallexec for spec; cfg's other fields from *base (NULL: defaults). */
static struct vigil_stallexec *mk(struct vigil_loop *l, const char *spec,
				  const struct vigil_stallexec_cfg *base)
{
	static struct vigil_stallexec_cmd cmd;
	struct vigil_stallexec_cfg c = { 0 };
	struct vigil_stallexec *x = NULL;

	if (base)
		c = *base;
	parse_ok(spec, &cmd);
	c.cmd = &cmd;
	c.log = log_cb;
	assert_int_equal(vigil_stallexec_new(l, &c, &x), 0);
	return x;
}

/* Iterates until no child is left (real time, at most 10 s); the count left. */
static size_t settle(struct vigil_loop *l, struct vigil_stallexec *x)
{
	uint64_t end = vigil_loop_now_ns() + 10 * SEC;

	while (vigil_stallexec_children(x, NULL, 0) && vigil_loop_now_ns() < end)
		vigil_loop_run_once(l, 20);
	return vigil_stallexec_children(x, NULL, 0);
}

static struct vigil_stallexec_stats stats(const struct vigil_stallexec *x)
{
	struct vigil_stallexec_stats s;

	memset(&s, 0xff, sizeof(s));
	vigil_stallexec_stats(x, &s);
	return s;
}

/* Waits (real time, at most 10 s) for a file to exist. */
static bool wait_file(const char *path)
{
	uint64_t end = vigil_loop_now_ns() + 10 * SEC;

	while (access(path, F_OK) != 0) {
		if (vigil_loop_now_ns() > end)
			return false;
		usleep(2000);
	}
	return true;
}

/* Whether pid runs (a zombie does not: another's child is reaped by
 * whoever adopted it, when it pleases). */
static bool alive(int pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ---- splitting and substitution ---------------------------------------------------- */

static void test_split_and_expand(void **state)
{
	struct vigil_stallexec_cmd c;
	char buf[VIGIL_STALLEXEC_ARGV_BYTES], *argv[VIGIL_STALLEXEC_MAX_WORDS + 1];
	const char *dom = "web 1; rm -rf / $(id) `x` 'q' \"d\" * | >o &";

	(void)state;
	parse_ok("  /bin/echo  a {domain}   b{pid}c {uuid}{uuid} x{ y} ", &c);
	assert_int_equal(c.nwords, 7);
	assert_string_equal(c.path, "/bin/echo");
	assert_string_equal(c.words[0], "/bin/echo");
	assert_string_equal(c.words[2], "{domain}");
	assert_string_equal(c.words[5], "x{");
	assert_int_equal(vigil_stallexec_expand(&c, dom, UU, 4294967295u, buf, sizeof(buf), argv),
			 7);
	assert_string_equal(argv[0], "/bin/echo");
	assert_string_equal(argv[1], "a");
	assert_string_equal(argv[2], dom);
	assert_string_equal(argv[3], "b4294967295c");
	assert_string_equal(argv[4], UU UU);
	assert_string_equal(argv[5], "x{");
	assert_null(argv[7]);
	/* a '{' with no '}' after it is a byte; the pid 0 is "0" */
	parse_ok("/bin/echo {pid}{ {pid", &c);
	assert_int_equal(vigil_stallexec_expand(&c, "", "", 0, buf, sizeof(buf), argv), 3);
	assert_string_equal(argv[1], "0{");
	assert_string_equal(argv[2], "{pid");
}

static void test_expand_bounds(void **state)
{
	struct vigil_stallexec_cmd c;
	char buf[VIGIL_STALLEXEC_ARGV_BYTES], *argv[VIGIL_STALLEXEC_MAX_WORDS + 1], dom[300];

	(void)state;
	parse_ok("/bin/echo {domain}", &c);
	memset(dom, 'd', sizeof(dom));
	dom[VIGIL_STALLEXEC_VALUE_MAX] = '\0'; /* 255: the bound */
	assert_int_equal(vigil_stallexec_expand(&c, dom, UU, 1, buf, sizeof(buf), argv), 2);
	assert_int_equal(strlen(argv[1]), VIGIL_STALLEXEC_VALUE_MAX);
	dom[VIGIL_STALLEXEC_VALUE_MAX] = 'd';
	dom[VIGIL_STALLEXEC_VALUE_MAX + 1] = '\0'; /* 256 */
	assert_int_equal(vigil_stallexec_expand(&c, dom, UU, 1, buf, sizeof(buf), argv),
			 -ENAMETOOLONG);
	/* "/bin/echo\0" and "ab\0": 13 bytes exactly, then one short */
	assert_int_equal(vigil_stallexec_expand(&c, "ab", UU, 1, buf, 13, argv), 2);
	assert_int_equal(vigil_stallexec_expand(&c, "ab", UU, 1, buf, 12, argv), -ENOSPC);
}

/* ---- refused specs ------------------------------------------------------------------ */

static void expect_refused(const char *spec, int err_no, const char *says)
{
	struct vigil_stallexec_cmd c;
	char err[512] = "";

	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(vigil_stallexec_parse(spec, &c, err, sizeof(err)), err_no);
	if (!strstr(err, says))
		fail_msg("spec \"%.60s\": message \"%s\" lacks \"%s\"", spec, err, says);
	assert_int_equal(c.nwords, 0x5a5a5a5a); /* out untouched */
}

static void test_parse_refusals(void **state)
{
	(void)state;
	expect_refused("", -EINVAL, "empty command");
	expect_refused("    ", -EINVAL, "empty command");
	expect_refused("/bin/echo {dom}", -EINVAL, "unknown placeholder {dom} in word 2");
	expect_refused("/bin/echo {DOMAIN}", -EINVAL, "{DOMAIN}");
	expect_refused("/bin/echo x{}y", -EINVAL, "unknown placeholder {}");
	expect_refused("/bin/echo {pid} a{{domain}", -EINVAL, "{{domain}");
	expect_refused("{domain}", -EINVAL, "program word {domain} cannot hold a placeholder");
	expect_refused("/bin/{pid}", -EINVAL, "cannot hold a placeholder");
	expect_refused("no-such-program-vigil-test", -ENOENT,
		       "no-such-program-vigil-test: not found on $PATH");
	expect_refused("/nonexistent/prog", -ENOENT, "cannot run /nonexistent/prog");
	expect_refused("/etc/passwd", -EACCES, "/etc/passwd: not an executable file");
	expect_refused("/tmp", -EACCES, "not an executable file");
	assert_int_equal(vigil_stallexec_parse(NULL, NULL, NULL, 0), -EINVAL);
}

static void test_parse_bounds(void **state)
{
	struct vigil_stallexec_cmd c;
	char spec[VIGIL_STALLEXEC_MAX_WORDS * 300 + 64];
	size_t o;

	(void)state;
	/* 32 words, then 33 */
	o = (size_t)snprintf(spec, sizeof(spec), "/bin/true");
	for (int i = 1; i < 32; i++)
		o += (size_t)snprintf(spec + o, sizeof(spec) - o, " w%d", i);
	parse_ok(spec, &c);
	assert_int_equal(c.nwords, 32);
	strcat(spec, " one-more");
	expect_refused(spec, -EINVAL, "more than 32 words");
	/* a word of 255 bytes, then 256 */
	o = (size_t)snprintf(spec, sizeof(spec), "/bin/true ");
	memset(spec + o, 'w', 255);
	spec[o + 255] = '\0';
	parse_ok(spec, &c);
	assert_int_equal(strlen(c.words[1]), 255);
	strcat(spec, "w");
	expect_refused(spec, -EINVAL, "word 2 is 256 bytes long (at most 255)");
	/* the worst case: "/bin/true" 10, 30 words of 2 domains 30 * 511,
	 * one of 4 domains (1020), 23 bytes and a NUL: 16384 bytes; then 16385 */
	o = (size_t)snprintf(spec, sizeof(spec), "/bin/true");
	for (int i = 0; i < 30; i++)
		o += (size_t)snprintf(spec + o, sizeof(spec) - o, " {domain}{domain}");
	o += (size_t)snprintf(spec + o, sizeof(spec) - o, " {domain}{domain}{domain}{domain}");
	memset(spec + o, 'a', 23);
	spec[o + 23] = '\0';
	parse_ok(spec, &c);
	strcat(spec, "a");
	expect_refused(spec, -EINVAL, "grow to 16385 bytes");
}

/* $PATH is put back even when the test fails (the later tests look up "sleep"). */
static int path_save(void **state)
{
	const char *p = getenv("PATH");

	*state = p ? strdup(p) : NULL;
	return 0;
}

static int path_restore(void **state)
{
	if (*state)
		setenv("PATH", *state, 1);
	free(*state);
	return 0;
}

static void test_path_resolution(void **state)
{
	char *dir = tu_mkdtemp(), want[PATH_MAX], cwd[PATH_MAX], err[512];
	struct vigil_stallexec_cmd c;

	(void)state;
	assert_int_equal(tu_write(dir, "a/noexec-hook", "#!/bin/sh\n", 10, 0644), 0);
	assert_int_equal(tu_write(dir, "b/noexec-hook", "#!/bin/sh\n", 10, 0755), 0);
	snprintf(want, sizeof(want), "%s/a::%s/b", dir, dir);
	setenv("PATH", want, 1);
	parse_ok("noexec-hook {pid}", &c); /* a/ is not executable: b/ is taken */
	snprintf(want, sizeof(want), "%s/b/noexec-hook", dir);
	assert_string_equal(c.path, want);
	assert_string_equal(c.words[0], "noexec-hook");
	snprintf(want, sizeof(want), "%s/a", dir);
	setenv("PATH", want, 1);
	assert_int_equal(vigil_stallexec_parse("noexec-hook", &c, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "not an executable file (found on $PATH as"));
	/* a relative path is made absolute */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	parse_ok("b/noexec-hook", &c);
	assert_int_equal(chdir(cwd), 0);
	snprintf(want, sizeof(want), "%s/b/noexec-hook", dir);
	assert_string_equal(c.path, want);
	tu_rm_rf(dir);
	free(dir);
}

/* ---- runs ------------------------------------------------------------------------------ */

static void test_true_false(void **state)
{
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "/bin/true {pid}", NULL);
	struct vigil_stallexec *y = mk(l, "/bin/false", NULL);
	struct vigil_stallexec_stats s;

	(void)state;
	assert_int_equal(vigil_stallexec_fire(x, "web1", UU, 412, ATT), 0);
	assert_int_equal(vigil_stallexec_children(x, NULL, 0), 1);
	assert_int_equal(logged("on-stall-exec: ran /bin/true for domain web1 pid 412 (child "), 1);
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(logged("on-stall-exec: true for domain web1 pid 412 exited 0 after"), 1);
	s = stats(x);
	assert_int_equal(s.started, 1);
	assert_int_equal(s.exit_nonzero, 0);
	assert_int_equal(vigil_stallexec_fire(y, "web1", UU, 412, ATT), 0);
	assert_int_equal(settle(l, y), 0);
	assert_int_equal(logged("on-stall-exec: false for domain web1 pid 412 exited 1 after"), 1);
	s = stats(y);
	assert_int_equal(s.started, 1);
	assert_int_equal(s.exit_nonzero, 1);
	assert_int_equal(s.timed_out, 0);
	vigil_stallexec_free(x);
	vigil_stallexec_free(y);
	vigil_loop_free(l);
}

/* The script records its arguments, one a line, as <ARG>. */
static const char record_sh[] =
    "#!/bin/sh\n"
    "out=$1\n"
    "shift\n"
    "{ echo \"$#\"; for a; do printf '<%s>\\n' \"$a\"; done; } > \"$out.tmp\"\n"
    "mv \"$out.tmp\" \"$out\"\n";

static void test_argv_recorded(void **state)
{
	const char *dom = "web 1; rm -rf / $(id) `x` 'q' \"d\" * | >o & {pid} \\";
	char *dir = tu_mkdtemp(), spec[PATH_MAX * 2 + 64], out[PATH_MAX + 8], want[512];
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x;

	(void)state;
	assert_int_equal(tu_write(dir, "rec", record_sh, sizeof(record_sh) - 1, 0755), 0);
	snprintf(out, sizeof(out), "%s/argv", dir);
	snprintf(spec, sizeof(spec), "%s/rec %s {domain} {uuid} {pid} --vm={domain}:{pid} {", dir,
		 out);
	x = mk(l, spec, NULL);
	assert_int_equal(vigil_stallexec_fire(x, dom, UU, 7, ATT), 0);
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(logged("exited 0"), 1);
	assert_true(wait_file(out));
	snprintf(want, sizeof(want), "5\n<%s>\n<%s>\n<7>\n<--vm=%s:7>\n<{>\n", dom, UU, dom);
	assert_string_equal(slurp(out), want);
	/* the log says the domain escaped, as one line */
	assert_int_equal(logged("for domain web 1; rm -rf / $(id) `x` 'q' \"d\" * | >o & {pid} "
				"\\x5c pid 7 (child"),
			 1);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
	tu_rm_rf(dir);
	free(dir);
}

/* What the child sees: its process group, signal mask, stdin, fds. The
 * mask is grep's own, which it has from the shell as the shell had it from
 * vigil: the shell's own mask moves while it forks (dash blocks signals
 * around a fork), so reading it was a race. */
static const char env_sh[] = "#!/bin/sh\n"
			     "{\n"
			     "  echo pid=$$ pgid=$(cut -d' ' -f5 /proc/$$/stat)\n"
			     "  grep '^SigBlk' /proc/self/status\n"
			     "  echo stdin=$(readlink /proc/$$/fd/0)\n"
			     "  [ -e /proc/$$/fd/$2 ] && echo leaked=$2 || echo leaked=none\n"
			     "} > \"$1.tmp\"\n"
			     "mv \"$1.tmp\" \"$1\"\n";

static void test_child_setup(void **state)
{
	char *dir = tu_mkdtemp(), spec[PATH_MAX * 2 + 64], out[PATH_MAX + 8], want[64];
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x;
	int pid, pgid, leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
	sigset_t usr1, old;
	char *got;

	(void)state;
	assert_true(leak > 2);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old); /* as a loop with signals does */
	assert_int_equal(tu_write(dir, "env", env_sh, sizeof(env_sh) - 1, 0755), 0);
	snprintf(out, sizeof(out), "%s/env.out", dir);
	snprintf(spec, sizeof(spec), "%s/env %s %d", dir, out, leak);
	x = mk(l, spec, NULL);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 9, ATT), 0);
	assert_int_equal(settle(l, x), 0);
	assert_true(wait_file(out));
	got = slurp(out);
	assert_int_equal(sscanf(got, "pid=%d pgid=%d", &pid, &pgid), 2);
	assert_int_equal(pid, pgid);
	assert_non_null(strstr(got, "SigBlk:\t0000000000000000\n"));
	assert_non_null(strstr(got, "stdin=/dev/null\n"));
	snprintf(want, sizeof(want), "leaked=none\n");
	assert_non_null(strstr(got, want));
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(leak);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
	tu_rm_rf(dir);
	free(dir);
}

static const char chatty_sh[] = "#!/bin/sh\n"
				"echo first line\n"
				"printf 'tab\\there\\033[31m\\n'\n"
				"echo to stderr >&2\n"
				"head -c 300 /dev/zero | tr '\\0' x\n"
				"echo\n"
				"head -c 1000 /dev/zero | tr '\\0' y\n"
				"exit 3\n";

static void test_output(void **state)
{
	char *dir = tu_mkdtemp(), spec[PATH_MAX + 16];
	struct vigil_stallexec_cfg cfg = { .output_max_bytes = 600 };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x;
	struct vigil_stallexec_stats s;
	char x256[300];

	(void)state;
	assert_int_equal(tu_write(dir, "chatty", chatty_sh, sizeof(chatty_sh) - 1, 0755), 0);
	snprintf(spec, sizeof(spec), "%s/chatty", dir);
	x = mk(l, spec, &cfg);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, ATT), 0);
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(logged("]: first line"), 1);
	assert_int_equal(logged("]: tab\\x09here\\x1b[31m"), 1);
	assert_int_equal(logged("]: to stderr"), 1);
	/* 300 x: a line of 256 then one of 44 */
	memset(x256, 'x', 256);
	x256[256] = '\0';
	assert_int_equal(logged(x256), 1);
	/* kept: 11 + 14 + 10 + 301 = 336 bytes, then 264 of the y's */
	s = stats(x);
	assert_int_equal(s.output_dropped_bytes, 1000 - 264);
	assert_int_equal(s.exit_nonzero, 1);
	assert_int_equal(logged("chatty for domain d pid 1 exited 3 after"), 1);
	assert_int_equal(logged("; 736 bytes of its output dropped"), 1);
	vigil_stallexec_free(x);
	/* discarded: no line but the run's own */
	nlogs = 0;
	cfg.output_discard = true;
	x = mk(l, spec, &cfg);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, ATT), 0);
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(nlogs, 2);
	assert_int_equal(logged("exited 3"), 1);
	assert_int_equal(stats(x).output_dropped_bytes, 0);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
	tu_rm_rf(dir);
	free(dir);
}

static void test_exec_failure(void **state)
{
	char *dir = tu_mkdtemp(), spec[PATH_MAX + 16], path[PATH_MAX + 16];
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x;

	(void)state;
	assert_int_equal(tu_write(dir, "gone", "#!/bin/sh\nexit 0\n", 17, 0755), 0);
	snprintf(spec, sizeof(spec), "%s/gone", dir);
	snprintf(path, sizeof(path), "%s/gone", dir);
	x = mk(l, spec, &(struct vigil_stallexec_cfg){ .rate_per_min = 1, .burst = 1 });
	assert_int_equal(unlink(path), 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, ATT), -ENOENT);
	assert_int_equal(stats(x).spawn_failed, 1);
	assert_int_equal(stats(x).started, 0);
	assert_int_equal(vigil_stallexec_children(x, NULL, 0), 0);
	assert_int_equal(logged("on-stall-exec: cannot run"), 1);
	assert_int_equal(logged("for domain d pid 1: No such file or directory"), 1);
	/* neither the token nor the debounce was taken */
	assert_int_equal(tu_write(dir, "gone", "#!/bin/sh\nexit 0\n", 17, 0755), 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, ATT), 0);
	assert_int_equal(settle(l, x), 0);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
	tu_rm_rf(dir);
	free(dir);
}

/* ---- refusals -------------------------------------------------------------------------- */

static void test_debounce(void **state)
{
	struct vigil_stallexec_cfg cfg = { .debounce_ns = 60 * SEC, .rate_per_min = 60000 };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "/bin/true", &cfg);

	(void)state;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 7, ATT), 0);
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 7, ATT), -EALREADY);
	assert_int_equal(logged("refused for domain d pid 7: debounced (ran less than 60 s ago"),
			 1);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 8, ATT), 0);           /* another pid */
	assert_int_equal(vigil_stallexec_fire(x, "e", "other-uuid", 7, ATT), 0); /* another guest */
	assert_int_equal(settle(l, x), 0);
	now_ns += 60 * SEC - 1;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 7, ATT), -EALREADY);
	now_ns += 1;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 7, ATT), 0);
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(stats(x).debounced, 2);
	assert_int_equal(stats(x).started, 4);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
}

/* A key is debounced while its run goes on, however short the time. */
static void test_debounce_while_running(void **state)
{
	struct vigil_stallexec_cfg cfg = { .debounce_ns = 1, .timeout_ns = 3600 * SEC };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "sleep 100", &cfg);

	(void)state;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 7, ATT), 0);
	now_ns += 10 * SEC;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 7, ATT), -EALREADY);
	assert_int_equal(logged("or still runs"), 1);
	assert_int_equal(vigil_stallexec_children(x, NULL, 0), 1);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
}

/* 4 keys: the fifth pid evicts the oldest, which may then run again. */
static void test_debounce_eviction(void **state)
{
	struct vigil_stallexec_cfg cfg = { .debounce_keys = 4,
					   .rate_per_min = 60000,
					   .burst = 100 };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "/bin/true", &cfg);

	(void)state;
	for (uint32_t pid = 1; pid <= 5; pid++) {
		assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid, ATT), 0);
		assert_int_equal(settle(l, x), 0);
		now_ns += MS;
	}
	assert_int_equal(stats(x).debounce_evicted, 1);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 5, ATT), -EALREADY);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 2, ATT), -EALREADY);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, ATT), 0); /* evicted */
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(stats(x).debounce_evicted, 2); /* 2 went for it */
	/* expired entries are taken without eviction */
	now_ns += 61 * SEC;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 100, ATT), 0);
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(stats(x).debounce_evicted, 2);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
}

static void test_concurrency(void **state)
{
	struct vigil_stallexec_cfg cfg = { .max_concurrent = 2,
					   .rate_per_min = 60000,
					   .burst = 100 };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "sleep 100", &cfg);
	uint64_t end;
	pid_t pids[4];

	(void)state;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, ATT), 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 2, ATT), 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 3, ATT), -EBUSY);
	assert_int_equal(vigil_stallexec_fire(x, "e", UU, 4, ATT), -EBUSY);
	assert_int_equal(logged("refused for domain d pid 3: concurrency cap (2 runs alive)"), 1);
	assert_int_equal(vigil_stallexec_children(x, pids, 4), 2);
	assert_int_equal(stats(x).busy, 2);
	/* one ends (killed here, not by stallexec): a slot is free again */
	assert_int_equal(kill(pids[0], SIGKILL), 0);
	end = vigil_loop_now_ns() + 10 * SEC;
	while (vigil_stallexec_children(x, NULL, 0) == 2 && vigil_loop_now_ns() < end)
		vigil_loop_run_once(l, 20);
	assert_int_equal(logged("killed by signal 9 (Killed) after"), 1);
	assert_int_equal(stats(x).exit_nonzero, 1);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 3, ATT), 0);
	assert_int_equal(vigil_stallexec_children(x, NULL, 0), 2);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
}

static void test_rate(void **state)
{
	struct vigil_stallexec_cfg cfg = { .rate_per_min = 2, .burst = 2, .max_concurrent = 8 };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "/bin/true", &cfg);
	uint32_t pid = 1;

	(void)state;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid++, ATT), 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid++, ATT), 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid, ATT), -EAGAIN);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid, ATT), -EAGAIN);
	assert_int_equal(logged("refused for domain d pid 3: rate cap (2 a minute)"), 1);
	assert_int_equal(logged("rate cap"), 1); /* the second is not said */
	now_ns += 30 * SEC - 1;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid, ATT), -EAGAIN); /* said */
	now_ns += 1;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid++, ATT), 0);
	assert_int_equal(settle(l, x), 0);
	/* an hour idle refills the burst, no more */
	now_ns += 3600 * SEC;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid++, ATT), 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid++, ATT), 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid, ATT), -EAGAIN);
	/* said: the first, the one 30 s later with the one unsaid, the last */
	assert_int_equal(logged("rate cap (2 a minute)"), 3);
	assert_int_equal(logged("rate cap (2 a minute) (and 1 more since the last such line)"), 1);
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(stats(x).rate_limited, 4);
	assert_int_equal(stats(x).started, 5);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
}

static void test_unattested(void **state)
{
	struct vigil_stallexec_cfg cfg = { .rate_per_min = 60000, .burst = 100 };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "/bin/true", &cfg);

	(void)state;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, VIGIL_ORIGIN_SOCKET_MODE), -EPERM);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, VIGIL_ORIGIN_UNVERIFIED), -EPERM);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, 7),
			 -EPERM); /* unknown: not attested */
	assert_int_equal(logged("refused for domain d pid 1: its beats are not kernel-attested "
				"(origin 1; --on-stall-unattested runs anyway)"),
			 1);
	assert_int_equal(stats(x).unattested_refused, 3);
	assert_int_equal(stats(x).started, 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, VIGIL_ORIGIN_KERNEL_ATTESTED), 0);
	assert_int_equal(settle(l, x), 0);
	vigil_stallexec_free(x);
	cfg.allow_unattested = true;
	x = mk(l, "/bin/true", &cfg);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 1, VIGIL_ORIGIN_SOCKET_MODE), 0);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 2, VIGIL_ORIGIN_UNVERIFIED), 0);
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(stats(x).unattested_refused, 0);
	assert_int_equal(stats(x).started, 2);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
}

static void test_value_too_long(void **state)
{
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "/bin/true {domain}", NULL);
	char dom[300];

	(void)state;
	memset(dom, 'd', sizeof(dom));
	dom[256] = '\0';
	assert_int_equal(vigil_stallexec_fire(x, dom, UU, 1, ATT), -ENAMETOOLONG);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU UU, 1, ATT), -ENAMETOOLONG);
	assert_int_equal(stats(x).invalid, 2);
	assert_int_equal(vigil_stallexec_fire(NULL, "d", UU, 1, ATT), -EINVAL);
	assert_int_equal(vigil_stallexec_fire(x, NULL, UU, 1, ATT), -EINVAL);
	dom[255] = '\0';
	assert_int_equal(vigil_stallexec_fire(x, dom, UU, 1, ATT), 0);
	assert_int_equal(settle(l, x), 0);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
}

/* ---- timeouts -------------------------------------------------------------------------- */

static void test_timeout_term(void **state)
{
	struct vigil_stallexec_cfg cfg = { .timeout_ns = 1 * SEC };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "sleep 100", &cfg);
	struct vigil_stallexec_stats s;

	(void)state;
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 5, ATT), 0);
	now_ns += 1 * SEC - 1;
	for (int i = 0; i < 5; i++)
		vigil_loop_run_once(l, 10);
	assert_int_equal(vigil_stallexec_children(x, NULL, 0), 1);
	assert_int_equal(stats(x).timed_out, 0);
	now_ns += 1;
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(logged("sleep for domain d pid 5 killed after timeout (1000 ms, SIGTERM)"),
			 1);
	s = stats(x);
	assert_int_equal(s.timed_out, 1);
	assert_int_equal(s.exit_nonzero, 0);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
}

/* A program that ignores SIGTERM, and its child that inherits that: both
 * go with the SIGKILL to the group, 2 s after. */
static const char stubborn_sh[] = "#!/bin/sh\n"
				  "trap '' TERM\n"
				  "sleep 100 &\n"
				  "echo $! > \"$1.tmp\"\n"
				  "mv \"$1.tmp\" \"$1\"\n"
				  "wait\n";

static void test_timeout_kill(void **state)
{
	char *dir = tu_mkdtemp(), spec[PATH_MAX * 2 + 16], ready[PATH_MAX + 8];
	struct vigil_stallexec_cfg cfg = { .timeout_ns = 1 * SEC };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x;
	int grandchild;

	(void)state;
	assert_int_equal(tu_write(dir, "stubborn", stubborn_sh, sizeof(stubborn_sh) - 1, 0755), 0);
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(spec, sizeof(spec), "%s/stubborn %s", dir, ready);
	x = mk(l, spec, &cfg);
	assert_int_equal(vigil_stallexec_fire(x, "d", UU, 5, ATT), 0);
	assert_true(wait_file(ready));
	assert_int_equal(sscanf(slurp(ready), "%d", &grandchild), 1);
	now_ns += 1 * SEC;
	for (int i = 0; i < 10; i++)
		vigil_loop_run_once(l, 10);
	assert_int_equal(stats(x).timed_out, 1);
	assert_int_equal(vigil_stallexec_children(x, NULL, 0), 1); /* TERM ignored */
	assert_int_equal(kill(grandchild, 0), 0);
	now_ns += VIGIL_STALLEXEC_KILL_GRACE_NS - 1;
	for (int i = 0; i < 5; i++)
		vigil_loop_run_once(l, 10);
	assert_int_equal(vigil_stallexec_children(x, NULL, 0), 1);
	now_ns += 1;
	assert_int_equal(settle(l, x), 0);
	assert_int_equal(
	    logged("stubborn for domain d pid 5 killed after timeout (1000 ms, SIGKILL)"), 1);
	/* the grandchild (init's now) had the group's SIGKILL too */
	for (int i = 0; i < 500 && alive(grandchild); i++)
		usleep(2000);
	assert_false(alive(grandchild));
	vigil_stallexec_free(x);
	vigil_loop_free(l);
	tu_rm_rf(dir);
	free(dir);
}

/* ---- no pidfd, free ---------------------------------------------------------------------- */

/* With every fd below the limit taken (output discarded: spawning needs no
 * fd of the parent), pidfd_open fails: the child is killed and reaped by
 * polling from its timer. */
static void test_no_pidfd(void **state)
{
	struct vigil_stallexec_cfg cfg = { .timeout_ns = 3600 * SEC, .output_discard = true };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "sleep 100", &cfg);
	struct rlimit old, lim;
	int fds[256], n = 0, top = 0, e;
	uint64_t end;
	pid_t child;

	(void)state;
	for (int fd = 3; fd < 256; fd++) /* the highest fd open */
		if (fcntl(fd, F_GETFD) >= 0)
			top = fd;
	while (n < 256 && (fds[n] = dup(0)) >= 0 && fds[n] < top)
		n++;
	assert_true(n < 256 && fds[n] >= top);
	close(fds[n]); /* every fd below fds[n] is taken */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)fds[n];
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	e = vigil_stallexec_fire(x, "d", UU, 5, ATT);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	assert_int_equal(e, -EMFILE);
	assert_int_equal(stats(x).spawn_failed, 1);
	assert_int_equal(vigil_stallexec_children(x, &child, 1), 1); /* until reaped */
	assert_int_equal(
	    logged("cannot run /usr/bin/sleep for domain d pid 5: Too many open files") +
		logged("cannot run /bin/sleep for domain d pid 5: Too many open files"),
	    1);
	end = vigil_loop_now_ns() + 10 * SEC;
	while (vigil_stallexec_children(x, NULL, 0) && vigil_loop_now_ns() < end) {
		now_ns += 10 * MS; /* the polling period */
		vigil_loop_run_once(l, 2);
	}
	assert_int_equal(vigil_stallexec_children(x, NULL, 0), 0);
	assert_int_equal(waitpid(child, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
}

/* Whether none of the n pids is a child left to reap (the probe reaps
 * nothing: waitid with WNOWAIT). */
static bool reaped(const pid_t *pids, int n)
{
	siginfo_t si;

	for (int i = 0; i < n; i++) {
		if (waitid(P_PID, (id_t)pids[i], &si, WEXITED | WNOHANG | WNOWAIT) == 0)
			return false;
	}
	return true;
}

static void test_free_reaps(void **state)
{
	struct vigil_stallexec_cfg cfg = { .max_concurrent = 3 };
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec *x = mk(l, "sleep 100", &cfg);
	uint64_t end;
	pid_t pids[3];

	(void)state;
	for (uint32_t pid = 1; pid <= 3; pid++)
		assert_int_equal(vigil_stallexec_fire(x, "d", UU, pid, ATT), 0);
	assert_int_equal(vigil_stallexec_children(x, pids, 3), 3);
	vigil_stallexec_free(x);
	/* free waited 100 ms at most; a child not gone by then (a loaded
	 * machine) is reaped by the loop when it goes */
	end = vigil_loop_now_ns() + 10 * SEC;
	do
		vigil_loop_run_once(l, 20);
	while (!reaped(pids, 3) && vigil_loop_now_ns() < end);
	for (int i = 0; i < 3; i++) {
		errno = 0;
		assert_int_equal(waitpid(pids[i], NULL, WNOHANG), -1);
		assert_int_equal(errno, ECHILD);
	}
	vigil_stallexec_free(NULL);
	vigil_loop_free(l);
}

static void test_new_refusals(void **state)
{
	struct vigil_loop *l = new_loop();
	struct vigil_stallexec_cmd cmd;
	struct vigil_stallexec *x = (struct vigil_stallexec *)&cmd; /* untouched on failure */
	struct vigil_stallexec_cfg c = { .cmd = &cmd };

	(void)state;
	parse_ok("/bin/true", &cmd);
	assert_int_equal(vigil_stallexec_new(l, NULL, &x), -EINVAL);
	c.max_concurrent = VIGIL_STALLEXEC_MAX_CONCURRENT + 1;
	assert_int_equal(vigil_stallexec_new(l, &c, &x), -EINVAL);
	c.max_concurrent = VIGIL_STALLEXEC_MAX_CONCURRENT;
	c.debounce_keys = VIGIL_STALLEXEC_MAX_KEYS + 1;
	assert_int_equal(vigil_stallexec_new(l, &c, &x), -EINVAL);
	assert_ptr_equal(x, (struct vigil_stallexec *)&cmd);
	c.debounce_keys = VIGIL_STALLEXEC_MAX_KEYS;
	assert_int_equal(vigil_stallexec_new(l, &c, &x), 0);
	vigil_stallexec_free(x);
	vigil_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_and_expand),
		cmocka_unit_test(test_expand_bounds),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test_setup_teardown(test_path_resolution, path_save, path_restore),
		cmocka_unit_test(test_true_false),
		cmocka_unit_test(test_argv_recorded),
		cmocka_unit_test(test_child_setup),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_exec_failure),
		cmocka_unit_test(test_debounce),
		cmocka_unit_test(test_debounce_while_running),
		cmocka_unit_test(test_debounce_eviction),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_unattested),
		cmocka_unit_test(test_value_too_long),
		cmocka_unit_test(test_timeout_term),
		cmocka_unit_test(test_timeout_kill),
		cmocka_unit_test(test_no_pidfd),
		cmocka_unit_test(test_free_reaps),
		cmocka_unit_test(test_new_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
