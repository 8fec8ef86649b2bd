/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/paths.c: program, kernel and agent lookup. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "paths.h"
#include "test_util.h"

static void test_find_program(void **state)
{
	char *d = tu_mkdtemp(), path[PATH_MAX * 2], buf[PATH_MAX], cwd[PATH_MAX];

	(void)state;
	assert_int_equal(tu_write(d, "a/tool", "#!/bin/sh\n", 10, 0755), 0);
	assert_int_equal(tu_write(d, "b/tool", "#!/bin/sh\n", 10, 0755), 0);
	assert_int_equal(tu_write(d, "b/data", "x", 1, 0644), 0); /* not executable */
	snprintf(path, sizeof(path), "relative:%s/a:%s/b", d, d);
	assert_int_equal(vigil_find_program("tool", path, buf, sizeof(buf)), 0);
	snprintf(path, sizeof(path), "%s/a/tool", d);
	assert_string_equal(buf, path); /* the first match wins */
	snprintf(path, sizeof(path), "%s/b", d);
	assert_int_equal(vigil_find_program("data", path, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(vigil_find_program("tool", NULL, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(vigil_find_program("", path, buf, sizeof(buf)), -EINVAL);
	/* a name with a slash is itself, made absolute */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d), 0);
	assert_int_equal(vigil_find_program("./a/tool", NULL, buf, sizeof(buf)), 0);
	snprintf(path, sizeof(path), "%s/./a/tool", d);
	assert_string_equal(buf, path);
	assert_int_equal(vigil_find_program("./nope", NULL, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(vigil_find_program("/bin/sh", NULL, buf, 4), -ENAMETOOLONG);
	tu_rm_rf(d);
	free(d);
}

static void test_find_kernel(void **state)
{
	char *d = tu_mkdtemp(), buf[PATH_MAX], want[PATH_MAX];

	(void)state;
	unsetenv("VIGIL_KERNEL");
	assert_int_equal(vigil_find_kernel(d, buf, sizeof(buf)), -ENOENT);
	tu_write_str(d, "vmlinuz-6.1.0-9-amd64", "k");
	tu_write_str(d, "vmlinuz-6.1.0-10-amd64", "k"); /* newer by version, not by bytes */
	tu_write_str(d, "vmlinuz-5.10.0-30-amd64", "k");
	tu_write_str(d, "config-6.9.0", "c");
	assert_int_equal(vigil_find_kernel(d, buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "%s/vmlinuz-6.1.0-10-amd64", d);
	assert_string_equal(buf, want);
	snprintf(want, sizeof(want), "%s/vmlinuz-5.10.0-30-amd64", d);
	setenv("VIGIL_KERNEL", want, 1);
	assert_int_equal(vigil_find_kernel(d, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	setenv("VIGIL_KERNEL", "/nonexistent/vmlinuz", 1);
	assert_int_equal(vigil_find_kernel(d, buf, sizeof(buf)), -ENOENT);
	unsetenv("VIGIL_KERNEL");
	tu_rm_rf(d);
	free(d);
}

static void test_find_agent_env(void **state)
{
	char *d = tu_mkdtemp(), buf[PATH_MAX], want[PATH_MAX];

	(void)state;
	tu_write_str(d, "agent", "x");
	snprintf(want, sizeof(want), "%s/agent", d);
	setenv("VIGIL_AGENT", want, 1);
	assert_int_equal(vigil_find_agent(buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	setenv("VIGIL_AGENT", "/nonexistent/agent", 1);
	assert_int_equal(vigil_find_agent(buf, sizeof(buf)), -ENOENT);
	unsetenv("VIGIL_AGENT");
	tu_rm_rf(d);
	free(d);
}

static void test_path_next(void **state)
{
	const char *p = "//usr/./lib/../x/", *c;
	static const char *const want[] = { "usr", "lib", "..", "x" };
	size_t l, n = 0;

	(void)state;
	while ((c = vigil_path_next(&p, &l))) {
		assert_true(n < 4);
		assert_int_equal(l, strlen(want[n]));
		assert_memory_equal(c, want[n], l);
		n++;
	}
	assert_int_equal(n, 4);
	assert_int_equal(*p, '\0');
	p = "/./";
	assert_null(vigil_path_next(&p, &l));
	p = "";
	assert_null(vigil_path_next(&p, &l));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_program),
		cmocka_unit_test(test_find_kernel),
		cmocka_unit_test(test_find_agent_env),
		cmocka_unit_test(test_path_next),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
