/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/run_args.c: the options of `vigil run` and `vigil attach`. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "run_args.h"
#include "test_util.h"

static const char *rootfs_env;

static const char *fake_env(const char *name)
{
	if (!strcmp(name, "VIGIL_ROOTFS"))
		return rootfs_env;
	return !strcmp(name, "HOSTVAR") ? "from-host" : NULL;
}

/* Parse a NULL-terminated list; the strings are copied so getopt may permute. */
static int parse(struct vigil_run_args *a, bool attach, const char *first, ...)
{
	char **argv;
	va_list ap;
	int argc;

	va_start(ap, first);
	argc = tu_argv(&argv, first, ap);
	va_end(ap);
	return vigil_run_args_parse(a, argc, argv, attach, fake_env);
}

static void test_defaults_and_workload(void **state)
{
	struct vigil_run_args a;

	(void)state;
	assert_int_equal(parse(&a, false, "run", "--", "sh", "-c", "exit 3", NULL), 0);
	assert_int_equal(a.argc, 3);
	assert_string_equal(a.argv[2], "exit 3");
	assert_int_equal(a.o.sopts.boot_timeout_ns, 60000000000ull);
	assert_int_equal(a.o.sopts.run_timeout_ns, 0);
	assert_int_equal(a.o.sopts.fail_on, 0);
	assert_true(a.o.sopts.ack_exit); /* run owns the guest: EXIT is answered */
	assert_null(a.scenario);
	vigil_run_args_free(&a);
}

/* stderr of the calls between begin and end, as a string. */
static int saved_fd = -1;
static FILE *cap;

static void capture_begin(void)
{
	fflush(stderr);
	cap = tmpfile();
	assert_non_null(cap);
	saved_fd = dup(2);
	dup2(fileno(cap), 2);
}

static const char *capture_end(void)
{
	static char buf[1024];
	size_t n;

	fflush(stderr);
	dup2(saved_fd, 2);
	close(saved_fd);
	rewind(cap);
	n = fread(buf, 1, sizeof(buf) - 1, cap);
	buf[n] = '\0';
	fclose(cap);
	return buf;
}

static void test_durations_name_their_option(void **state)
{
	struct vigil_run_args a;
	const char *msg;

	(void)state;
	/* the value is reported with its own option, whatever its position */
	capture_begin();
	assert_int_equal(parse(&a, false, "run", "-q", "--timeout", "abc", "--", "true", NULL),
			 VIGIL_EXIT_USAGE);
	msg = capture_end();
	assert_non_null(strstr(msg, "bad value 'abc' for --timeout"));
	vigil_run_args_free(&a);
	capture_begin();
	assert_int_equal(parse(&a, false, "run", "--kvm-probe", "0", "--", "true", NULL),
			 VIGIL_EXIT_USAGE);
	msg = capture_end();
	assert_non_null(strstr(msg, "for --kvm-probe (above 0)"));
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--timeout=0", "--", "true", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--stall-threshold", "none", "--", "true", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--workload-duration", "-1s", "--", "true", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--boot-timeout", "none", "--timeout", "90s",
			       "--workload-duration", "2s", "--stall-threshold", "500ms", "--",
			       "true", NULL),
			 0);
	assert_int_equal(a.o.sopts.boot_timeout_ns, 0);
	assert_int_equal(a.o.sopts.run_timeout_ns, 90000000000ull);
	assert_int_equal(a.o.sopts.workload_duration_ns, 2000000000ull);
	assert_int_equal(a.o.sopts.stall_threshold_ns, 500000000ull);
	vigil_run_args_free(&a);
}

static void test_workload_options(void **state)
{
	struct vigil_run_args a;

	(void)state;
	assert_int_equal(parse(&a, false, "run", "--scenario", "load", "--env", "A=1", "--env",
			       "HOSTVAR", "--exe", "python3", "--exe", "make", "--", "x", NULL),
			 0);
	assert_string_equal(a.scenario, "load");
	assert_int_equal(a.n_env, 2);
	assert_string_equal(a.env[0], "A=1");
	assert_string_equal(a.env[1], "HOSTVAR=from-host");
	assert_int_equal(a.n_exe_names, 2);
	assert_string_equal(a.exe_names[1], "make");
	vigil_run_args_free(&a);
	/* a variable vigil does not have */
	assert_int_equal(parse(&a, false, "run", "--env", "NOPE", "--", "x", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--env", "=v", "--", "x", NULL), VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--scenario", "", "--", "x", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	/* an image option with a given initrd would be silently ignored */
	assert_int_equal(
	    parse(&a, false, "run", "--initrd", "i.cpio", "--exe", "make", "--", "x", NULL),
	    VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
}

static void test_rootfs(void **state)
{
	struct vigil_run_args a;

	(void)state;
	assert_int_equal(parse(&a, false, "run", "--", "x", NULL), 0);
	assert_true(a.rootfs_host); /* the default */
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--rootfs", "image", "--", "x", NULL), 0);
	assert_false(a.rootfs_host);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--rootfs", "nfs", "--", "x", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	/* $VIGIL_ROOTFS sets the default; the option still wins */
	rootfs_env = "image";
	assert_int_equal(parse(&a, false, "run", "--", "x", NULL), 0);
	assert_false(a.rootfs_host);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--rootfs", "host", "--", "x", NULL), 0);
	assert_true(a.rootfs_host);
	vigil_run_args_free(&a);
	rootfs_env = "bogus";
	assert_int_equal(parse(&a, false, "run", "--", "x", NULL), VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	rootfs_env = NULL;
	/* a given initrd is the root; asking for host with it is an error */
	assert_int_equal(parse(&a, false, "run", "--initrd", "i.cpio", "--", "x", NULL), 0);
	assert_false(a.rootfs_host);
	vigil_run_args_free(&a);
	assert_int_equal(
	    parse(&a, false, "run", "--rootfs", "host", "--initrd", "i.cpio", "--", "x", NULL),
	    VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	/* the host's shape options need host */
	assert_int_equal(parse(&a, false, "run", "--rwdir", "out", "--rodir", "/srv:/data",
			       "--hide", "/opt/keys", "--show", "~/.ssh", "--", "x", NULL),
			 0);
	assert_int_equal(a.n_rwdirs, 1);
	assert_string_equal(a.rodirs[0], "/srv:/data");
	assert_string_equal(a.hides[0], "/opt/keys");
	assert_string_equal(a.shows[0], "~/.ssh");
	vigil_run_args_free(&a);
	assert_int_equal(
	    parse(&a, false, "run", "--rootfs", "image", "--rwdir", "out", "--", "x", NULL),
	    VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--rodir", "/srv", "--", "x", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, true, "attach", "--socket", "p", "--rootfs", "host", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
}

static void test_kernel_options(void **state)
{
	struct vigil_run_args a;

	(void)state;
	assert_int_equal(parse(&a, false, "run", "--kernel-tree", "/src/linux", "--kernel-boot",
			       "bzimage", "--", "x", NULL),
			 0);
	assert_string_equal(a.kernel_tree, "/src/linux");
	assert_true(a.kernel_bzimage);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--modules-dir", "/m", "--", "x", NULL), 0);
	assert_string_equal(a.img.modules_dir, "/m");
	vigil_run_args_free(&a);
	/* a tree gives the kernel and its modules */
	assert_int_equal(
	    parse(&a, false, "run", "--kernel-tree", "/t", "--kernel", "k", "--", "x", NULL),
	    VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(
	    parse(&a, false, "run", "--kernel-tree", "/t", "--modules-dir", "/m", "--", "x", NULL),
	    VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--kernel-boot", "pvh", "--", "x", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
}

static void test_fail_on(void **state)
{
	struct vigil_run_args a;

	(void)state;
	assert_int_equal(
	    parse(&a, false, "run", "--fail-on", "oom,hung-task,rcu_stall", "--", "x", NULL), 0);
	assert_int_equal(a.o.sopts.fail_on, (1u << VIGIL_KT_OOM) | (1u << VIGIL_KT_HUNG_TASK) |
						(1u << VIGIL_KT_RCU_STALL));
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--fail-on", "all", "--", "x", NULL), 0);
	assert_true(a.o.sopts.fail_on & (1u << VIGIL_KT_WARNING));
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--fail-on", "oom,bogus", "--", "x", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--fail-on", "", "--", "x", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
}

/* --on-stall debug: fail, plus the hold; run only; a later value undoes it. */
static void test_on_stall_debug(void **state)
{
	struct vigil_run_args a;

	(void)state;
	assert_int_equal(parse(&a, false, "run", "--on-stall", "debug", "--machine", "pc", "--",
			       "x", NULL),
			 0);
	assert_true(a.o.debug);
	assert_int_equal(a.o.sopts.on_stall, VIGIL_ON_STALL_FAIL);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--on-stall", "debug", "--on-stall", "warn", "--",
			       "x", NULL),
			 0);
	assert_false(a.o.debug);
	assert_int_equal(a.o.sopts.on_stall, VIGIL_ON_STALL_WARN);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--on-stall", "fail", "--", "x", NULL), 0);
	assert_false(a.o.debug);
	vigil_run_args_free(&a);
	capture_begin();
	assert_int_equal(parse(&a, true, "attach", "--socket", "p.sock", "--on-stall", "debug",
			       NULL),
			 VIGIL_EXIT_USAGE);
	assert_non_null(strstr(capture_end(), "--on-stall debug is for `vigil run`"));
	vigil_run_args_free(&a);
}

static void test_commands_keep_their_options(void **state)
{
	struct vigil_run_args a;

	(void)state;
	assert_int_equal(parse(&a, true, "attach", "--socket", "p.sock", "--kernel", "k", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, true, "attach", "--socket", "p.sock", "--scenario", "s", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--socket", "p.sock", "--", "x", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, true, "attach", NULL), VIGIL_EXIT_USAGE); /* no --socket */
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, true, "attach", "--socket", "p.sock", "--fail-on", "oom",
			       "--timeout", "none", NULL),
			 0);
	assert_int_equal(a.o.sopts.boot_timeout_ns, 0);
	assert_false(a.o.sopts.ack_exit); /* an observer never powers the guest off */
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", NULL), VIGIL_EXIT_USAGE); /* no command */
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "-h", NULL), 0);
	assert_true(a.help);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--cpus", "0", "--", "x", NULL), VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, false, "run", "--machine", "q35", "--", "x", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
}

static void test_attach_guests(void **state)
{
	struct vigil_run_args a;
	struct vigil_run_opts *gs;
	char dir[] = "/tmp/vigil-test-outdir-XXXXXX";
	char path[PATH_MAX];

	(void)state;
	/* names default to the socket's file name; --qmp pairs by name */
	assert_int_equal(parse(&a, true, "attach", "--socket", "/r/g1.sock", "--socket",
			       "b=/r/x/port", "--qmp", "b=/r/x/qmp", NULL),
			 0);
	assert_int_equal(a.n_sock, 2);
	assert_string_equal(a.sock_name[0], "g1.sock");
	assert_string_equal(a.sock_name[1], "b");
	assert_int_equal(vigil_run_args_guests(&a, &gs), 0);
	assert_null(gs[0].qmp_path);
	assert_string_equal(gs[1].qmp_path, "/r/x/qmp");
	assert_string_equal(gs[1].socket_path, "/r/x/port");
	assert_null(gs[1].verdict_path);
	free(gs);
	vigil_run_args_free(&a);
	/* duplicate names, a --qmp without a socket, unnamed --qmp with two */
	assert_int_equal(
	    parse(&a, true, "attach", "--socket", "/a/p.sock", "--socket", "/b/p.sock", NULL),
	    VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, true, "attach", "--socket", "a=/a/p", "--qmp", "c=/c/q", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, true, "attach", "--socket", "a=/a/p", "--socket", "b=/b/p",
			       "--qmp", "/a/q", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	/* one guest: an unnamed --qmp is its own */
	assert_int_equal(parse(&a, true, "attach", "--socket", "/a/p", "--qmp", "/a/q", NULL), 0);
	assert_int_equal(vigil_run_args_guests(&a, &gs), 0);
	assert_string_equal(gs[0].qmp_path, "/a/q");
	free(gs);
	vigil_run_args_free(&a);
	/* several guests: per-guest files only through --out-dir */
	assert_int_equal(parse(&a, true, "attach", "--socket", "a=/a/p", "--socket", "b=/b/p",
			       "--verdict", "v.json", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(parse(&a, true, "attach", "--socket", "a=/a/p", "--socket", "b=/b/p",
			       "--out-dir", dir, NULL),
			 0);
	assert_int_equal(vigil_run_args_guests(&a, &gs), 0);
	snprintf(path, sizeof(path), "%s/b/verdict.json", dir);
	assert_string_equal(gs[1].verdict_path, path);
	snprintf(path, sizeof(path), "%s/a/events.jsonl", dir);
	assert_string_equal(gs[0].events_path, path);
	snprintf(path, sizeof(path), "%s/a", dir);
	assert_int_equal(access(path, W_OK), 0);
	assert_null(gs[0].report_path); /* no page unless asked */
	free(gs);
	vigil_run_args_free(&a);
	/* --report NAME: one page per guest, beside its verdict */
	assert_int_equal(parse(&a, true, "attach", "--socket", "a=/a/p", "--socket", "b=/b/p",
			       "--out-dir", dir, "--report", "page.html", NULL),
			 0);
	assert_int_equal(vigil_run_args_guests(&a, &gs), 0);
	snprintf(path, sizeof(path), "%s/b/page.html", dir);
	assert_string_equal(gs[1].report_path, path);
	free(gs);
	vigil_run_args_free(&a);
	/* ... a file name, and only with --out-dir */
	assert_int_equal(parse(&a, true, "attach", "--socket", "a=/a/p", "--socket", "b=/b/p",
			       "--out-dir", dir, "--report", "x/page.html", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	assert_int_equal(parse(&a, true, "attach", "--socket", "a=/a/p", "--socket", "b=/b/p",
			       "--report", "page.html", NULL),
			 VIGIL_EXIT_USAGE);
	vigil_run_args_free(&a);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static void test_output_paths(void **state)
{
	struct vigil_run_args a;
	struct vigil_out_paths p;

	(void)state;
	assert_int_equal(parse(&a, false, "run", "--events", "-", "--verdict", "v.json", "--junit",
			       "j.xml", "--record", "r.rec", "--console", "c.txt", "--snapshot-dir",
			       "snaps", "--report", "r.html", "--", "x", NULL),
			 0);
	vigil_run_args_outputs(&a, &p);
	assert_string_equal(p.path[VIGIL_OUT_REPORT], "r.html");
	assert_string_equal(p.path[VIGIL_OUT_EVENTS], "-");
	assert_string_equal(p.path[VIGIL_OUT_VERDICT], "v.json");
	assert_string_equal(p.path[VIGIL_OUT_JUNIT], "j.xml");
	assert_string_equal(p.path[VIGIL_OUT_RECORD], "r.rec");
	assert_string_equal(p.path[VIGIL_OUT_CONSOLE], "c.txt");
	assert_string_equal(p.path[VIGIL_OUT_SNAPSHOT_DIR], "snaps");
	vigil_run_args_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_workload),
		cmocka_unit_test(test_durations_name_their_option),
		cmocka_unit_test(test_workload_options),
		cmocka_unit_test(test_rootfs),
		cmocka_unit_test(test_kernel_options),
		cmocka_unit_test(test_fail_on),
		cmocka_unit_test(test_on_stall_debug),
		cmocka_unit_test(test_commands_keep_their_options),
		cmocka_unit_test(test_attach_guests),
		cmocka_unit_test(test_output_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
