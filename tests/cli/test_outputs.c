/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/outputs.c: output paths checked before a run. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "outputs.h"
#include "test_util.h"

static char *dir;

static const char *in_dir(const char *rel)
{
	static char buf[8][PATH_MAX];
	static int n;
	char *b = buf[n++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", dir, rel);
	return b;
}

static int check(struct vigil_out_paths *p, char *err)
{
	return vigil_outputs_check(p, err, 512);
}

static void test_files_created_not_truncated(void **state)
{
	struct vigil_out_paths p = { 0 };
	char err[512];
	struct stat st;

	(void)state;
	tu_write_str(dir, "old.json", "keep me");
	p.path[VIGIL_OUT_VERDICT] = in_dir("old.json");
	p.path[VIGIL_OUT_JUNIT] = in_dir("new.xml");
	p.path[VIGIL_OUT_SNAPSHOT_DIR] = in_dir("snaps");
	assert_int_equal(check(&p, err), 0);
	assert_int_equal(stat(in_dir("new.xml"), &st), 0);
	assert_int_equal(stat(in_dir("old.json"), &st), 0);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(stat(in_dir("snaps"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static void test_unwritable_named(void **state)
{
	struct vigil_out_paths p = { 0 };
	char err[512];

	(void)state;
	p.path[VIGIL_OUT_EVENTS] = in_dir("ev.jsonl");
	p.path[VIGIL_OUT_VERDICT] = "/nonexistent/dir/v.json";
	assert_int_equal(check(&p, err), -ENOENT);
	assert_non_null(strstr(err, "--verdict /nonexistent/dir/v.json"));
	p.path[VIGIL_OUT_VERDICT] = NULL;
	p.path[VIGIL_OUT_RECORD] = dir; /* a directory where a file goes */
	assert_true(check(&p, err) < 0);
	assert_non_null(strstr(err, "--record"));
	p.path[VIGIL_OUT_RECORD] = NULL;
	tu_write_str(dir, "afile", "x");
	p.path[VIGIL_OUT_SNAPSHOT_DIR] = in_dir("afile");
	assert_int_equal(check(&p, err), -ENOTDIR);
	assert_non_null(strstr(err, "--snapshot-dir"));
}

static void test_stdout_once(void **state)
{
	struct vigil_out_paths p = { 0 };
	char err[512];

	(void)state;
	p.path[VIGIL_OUT_EVENTS] = "-";
	assert_int_equal(check(&p, err), 0);
	p.path[VIGIL_OUT_VERDICT] = "-";
	assert_int_equal(check(&p, err), -EINVAL);
	assert_non_null(strstr(err, "--events - and --verdict -"));
	p.path[VIGIL_OUT_VERDICT] = NULL;
	p.path[VIGIL_OUT_CONSOLE] = "-";
	assert_int_equal(check(&p, err), -EINVAL);
	assert_non_null(strstr(err, "--console"));
	p.path[VIGIL_OUT_CONSOLE] = NULL;
	p.path[VIGIL_OUT_REPORT] = "-"; /* a page goes to a file */
	assert_int_equal(check(&p, err), -EINVAL);
	assert_non_null(strstr(err, "--report"));
}

static void test_same_file_twice(void **state)
{
	struct vigil_out_paths p = { 0 };
	char err[512];

	(void)state;
	p.path[VIGIL_OUT_EVENTS] = in_dir("same");
	p.path[VIGIL_OUT_JUNIT] = in_dir("./same");
	assert_int_equal(check(&p, err), -EINVAL);
	assert_non_null(strstr(err, "--events and --junit"));
	/* /dev/null may take several */
	p.path[VIGIL_OUT_EVENTS] = "/dev/null";
	p.path[VIGIL_OUT_JUNIT] = "/dev/null";
	assert_int_equal(check(&p, err), 0);
}

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rm_rf(dir);
	free(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files_created_not_truncated),
		cmocka_unit_test(test_unwritable_named),
		cmocka_unit_test(test_stdout_once),
		cmocka_unit_test(test_same_file_twice),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
