/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/cli/hostroot{,_plan}.c: the plan of what a --rootfs host
 * guest sees, and the view virtiofsd serves, checked from inside its mount
 * namespace by a stand-in for virtiofsd (a shell script given as the
 * binary) that reports what it can read and write. The view test needs
 * root (mount namespaces); it is skipped, and says so, without.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostroot.h"
#include "test_util.h"

static char tmp[256];

static void mk(const char *rel, bool dir)
{
	char p[PATH_MAX * 2];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	if (dir) {
		assert_int_equal(mkdir(p, 0755), 0);
		return;
	}
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("secret\n", f);
	fclose(f);
}

static const char *at(const char *rel)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, PATH_MAX, "%s%s%s", tmp, rel[0] ? "/" : "", rel);
	return b;
}

static bool has(const struct vigil_hostroot_path *l, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(l[i].path, path))
			return true;
	}
	return false;
}

static int setup(void **state)
{
	char t[] = "/tmp/vigil-hostroot-XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(t));
	assert_non_null(realpath(t, tmp));
	mk("home", true);
	mk("home/.ssh", true);
	mk("home/.ssh/id_ed25519", false);
	mk("home/.tool", true);
	mk("home/.tool/bin", true);
	mk("home/proj", true);
	mk("home/proj/out", true);
	mk("home/proj/run.sh", false);
	mk("secret.key", false);
	mk("secret.pem", false);
	mk("plain", false);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_path_under(void **state)
{
	(void)state;
	assert_true(vigil_path_under("/a/b", "/a"));
	assert_true(vigil_path_under("/a", "/a"));
	assert_false(vigil_path_under("/ab", "/a"));
	assert_true(vigil_path_under("/anything", "/"));
	assert_false(vigil_path_under("/a", "/a/b"));
}

static void test_plan_defaults_and_globs(void **state)
{
	static struct vigil_hostroot_plan p;
	const char *hide[] = { at("secret.*") };
	struct vigil_hostroot_req r = { .hide = hide, .n_hide = 1, .home = at("home") };
	char err[512];

	(void)state;
	assert_int_equal(vigil_hostroot_plan(&r, &p, err, sizeof(err)), 0);
	assert_true(has(p.hide, p.n_hide, "/proc"));
	assert_true(has(p.hide, p.n_hide, "/run"));
	assert_true(has(p.hide, p.n_hide, at("home/.ssh"))); /* ~/.ssh */
	assert_true(has(p.hide, p.n_hide, at("secret.key")));
	assert_true(has(p.hide, p.n_hide, at("secret.pem")));
	assert_false(has(p.hide, p.n_hide, at("plain")));
	assert_false(has(p.hide, p.n_hide, at("home/.gnupg"))); /* missing: dropped */
	for (size_t i = 1; i < p.n_hide; i++)                   /* parents first */
		assert_true(strlen(p.hide[i - 1].path) <= strlen(p.hide[i].path));
	/* --show takes an entry off the default list; unknown entries are refused */
	const char *show[] = { "~/.ssh" };
	r.show = show;
	r.n_show = 1;
	assert_int_equal(vigil_hostroot_plan(&r, &p, err, sizeof(err)), 0);
	assert_false(has(p.hide, p.n_hide, at("home/.ssh")));
	show[0] = "/usr";
	assert_int_equal(vigil_hostroot_plan(&r, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--show /usr"));
}

static void test_plan_show_named_and_path(void **state)
{
	static struct vigil_hostroot_plan p;
	const char *hide[] = { at("home") };
	const char *named[] = { at("home/proj/run.sh"), at("plain"), "/proc/self/status",
				at("home/../home/proj") };
	char path[PATH_MAX * 2], err[512];
	struct vigil_hostroot_req r = {
		.hide = hide,
		.n_hide = 1,
		.named = named,
		.n_named = 4,
		.home = at("home"),
		.path = path,
	};

	(void)state;
	snprintf(path, sizeof(path), "/usr/bin:%s:relative:%s", at("home/.tool/bin"), at("nope"));
	assert_int_equal(vigil_hostroot_plan(&r, &p, err, sizeof(err)), 0);
	assert_true(has(p.show, p.n_show, at("home/proj/run.sh")));
	assert_true(has(p.show, p.n_show, at("home/proj")));  /* resolved */
	assert_true(has(p.show, p.n_show, at("home/.tool"))); /* what holds the PATH entry */
	assert_false(has(p.show, p.n_show, at("plain")));     /* not hidden: seen anyway */
	assert_false(has(p.show, p.n_show, "/proc/self/status"));
	assert_int_equal(p.n_show, 3);
	assert_true(has(p.hide, p.n_hide, at("home/.ssh"))); /* hidden again under a shown path */
}

static void test_plan_rw(void **state)
{
	static struct vigil_hostroot_plan p;
	const char *rw[] = { at("home/proj/out") };
	struct vigil_hostroot_req r = { .rw = rw, .n_rw = 1 };
	char err[512];

	(void)state;
	assert_int_equal(vigil_hostroot_plan(&r, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n_rw, 1);
	assert_string_equal(p.rw[0].path, at("home/proj/out"));
	rw[0] = at("plain");
	assert_int_equal(vigil_hostroot_plan(&r, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a directory"));
	rw[0] = at("missing");
	assert_int_equal(vigil_hostroot_plan(&r, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no such directory"));
	rw[0] = "/run";
	assert_int_equal(vigil_hostroot_plan(&r, &p, err, sizeof(err)), -EINVAL);
}

/*
 * The stand-in for virtiofsd: it is exec'd inside the namespace with
 * "--fd=N -o source=VIEW ...", and writes one line per check to REPORT.
 */
static const char fake_virtiofsd[] =
    "#!/bin/sh\n"
    "src=$(echo \"$3\" | sed 's/^source=//')\n"
    "r=%s\n"
    "{\n"
    "  touch \"$src/usr/vigil-hostroot-test\" 2>/dev/null && echo usr-writable || echo "
    "usr-ro\n"
    "  [ -s \"$src/%s/home/.ssh/id_ed25519\" ] && echo ssh-seen || echo ssh-hidden\n"
    "  [ -s \"$src/%s/secret.key\" ] && echo key-seen || echo key-hidden\n"
    "  [ -s \"$src/%s/home/proj/run.sh\" ] && echo proj-seen || echo proj-hidden\n"
    "  [ -e \"$src/proc/self\" ] && echo proc-seen || echo proc-hidden\n"
    "  echo x > \"$src/%s/home/proj/out/w\" 2>/dev/null && echo out-writable || echo "
    "out-ro\n"
    "  echo x > \"$src/%s/home/proj/w\" 2>/dev/null && echo proj-writable || echo proj-ro\n"
    "  echo x > \"$src/%s/home/.ssh/w\" 2>/dev/null && echo hidden-writable || echo "
    "hidden-ro\n"
    "} > \"$r\"\n";

static void test_view(void **state)
{
	static struct vigil_hostroot_plan p;
	const char *hide[] = { at("home"), at("secret.*") };
	const char *named[] = { at("home/proj") };
	const char *rw[] = { at("home/proj/out") };
	struct vigil_hostroot_req r = {
		.hide = hide,
		.n_hide = 2,
		.named = named,
		.n_named = 1,
		.rw = rw,
		.n_rw = 1,
		.home = at("home"),
	};
	struct vigil_hostroot *h = NULL;
	char script[PATH_MAX], report[PATH_MAX], err[PATH_MAX + 256], text[1024];
	FILE *f;
	size_t n;
	int st;

	(void)state;
	if (geteuid() != 0) {
		print_message("skip: the view needs root (mount namespaces)\n");
		skip();
	}
	snprintf(script, sizeof(script), "%s", at("fake-virtiofsd"));
	snprintf(report, sizeof(report), "%s", at("report"));
	f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f, fake_virtiofsd, report, tmp, tmp, tmp, tmp, tmp, tmp);
	fclose(f);
	assert_int_equal(chmod(script, 0755), 0);
	assert_int_equal(vigil_hostroot_plan(&r, &p, err, sizeof(err)), 0);
	assert_int_equal(vigil_hostroot_start(&p, script, &h, err, sizeof(err)), 0);
	assert_int_equal(access(vigil_hostroot_socket(h), F_OK), 0);
	assert_int_equal(waitpid(vigil_hostroot_pid(h), &st, 0), vigil_hostroot_pid(h));
	vigil_hostroot_reaped(h);
	f = fopen(report, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_string_equal(text, "usr-ro\nssh-hidden\nkey-hidden\nproj-seen\nproc-hidden\n"
				  "out-writable\nproj-ro\nhidden-ro\n");
	assert_int_equal(access(at("home/proj/out/w"), F_OK), 0); /* reached the host */
	assert_int_equal(access("/usr/vigil-hostroot-test", F_OK), -1);
	vigil_hostroot_free(h);
}

static void test_start_reports_failure(void **state)
{
	static struct vigil_hostroot_plan p;
	struct vigil_hostroot_req r = { 0 };
	struct vigil_hostroot *h = NULL;
	char err[PATH_MAX + 256];

	(void)state;
	if (geteuid() != 0) {
		print_message("skip: needs root (mount namespaces)\n");
		skip();
	}
	assert_int_equal(vigil_hostroot_plan(&r, &p, err, sizeof(err)), 0);
	assert_int_equal(vigil_hostroot_start(&p, at("no-such-virtiofsd"), &h, err, sizeof(err)),
			 -EIO);
	assert_non_null(strstr(err, "no-such-virtiofsd"));
	assert_null(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_under),
		cmocka_unit_test(test_plan_defaults_and_globs),
		cmocka_unit_test(test_plan_show_named_and_path),
		cmocka_unit_test(test_plan_rw),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_start_reports_failure),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
