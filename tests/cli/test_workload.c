/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/workload.c: the workload file and the per-run initrd. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cpio.h"
#include "cpio_reader.h"
#include "test_util.h"
#include "workload.h"

/* The records of a file, split on NULs, compared with the expected list. */
static void assert_records(const char *file, size_t len, const char *const *want, size_t n)
{
	size_t off = 0, i = 0;

	while (off < len) {
		const char *r = file + off;
		size_t rl = strnlen(r, len - off);
		assert_true(off + rl < len); /* every record ends in a NUL */
		assert_true(i < n);
		assert_int_equal(rl, strlen(want[i]));
		assert_memory_equal(r, want[i], rl);
		off += rl + 1;
		i++;
	}
	assert_int_equal(i, n);
}

static void test_encode_order_and_bytes(void **state)
{
	char *argv[] = { "sh", "-c", "echo 'a b'\n\"q\"", "", "ü" };
	const char *env[] = { "FOO=bar", "EMPTY=", "EQ=a=b" };
	struct vigil_workload w = {
		.argv = argv,
		.argc = 5,
		.env = env,
		.n_env = 3,
		.scenario = "load",
		.cwd = "/tmp",
	};
	const char *want[] = { "arg=sh",     "arg=-c",     "arg=echo 'a b'\n\"q\"",
			       "arg=",       "arg=ü",      "env=FOO=bar",
			       "env=EMPTY=", "env=EQ=a=b", "scenario=load",
			       "cwd=/tmp" };
	char *file;
	size_t len;

	(void)state;
	assert_int_equal(vigil_workload_encode(&w, &file, &len), 0);
	assert_records(file, len, want, sizeof(want) / sizeof(want[0]));
	free(file);
}

static void test_encode_rootfs_host(void **state)
{
	char *argv[] = { "./t.sh" };
	static struct vigil_hostroot_plan plan;
	const char *src[] = { "/srv/data" }, *dst[] = { "/data" };
	struct vigil_workload w = {
		.argv = argv,
		.argc = 1,
		.cwd = "/home/u/p",
		.rootfs_host = true,
		.plan = &plan,
		.bind_src = src,
		.bind_dst = dst,
		.n_bind = 1,
		.set_ids = true,
		.uid = 1000,
		.gid = 100,
	};
	const char *want[] = { "arg=./t.sh",        "cwd=/home/u/p",
			       "rootfs=host",       "rw=/home/u/p/out",
			       "bindsrc=/srv/data", "binddst=/data",
			       "uid=1000",          "gid=100" };
	char *file;
	size_t len;

	(void)state;
	plan.n_rw = 1;
	snprintf(plan.rw[0].path, sizeof(plan.rw[0].path), "/home/u/p/out");
	assert_int_equal(vigil_workload_encode(&w, &file, &len), 0);
	assert_records(file, len, want, sizeof(want) / sizeof(want[0]));
	free(file);
	dst[0] = "data"; /* a guest path must be absolute */
	assert_int_equal(vigil_workload_encode(&w, &file, &len), -EINVAL);
}

static void test_encode_refusals(void **state)
{
	char *argv[] = { "true" };
	const char *bad_env[] = { "=x" }, *no_eq[] = { "NAME" };
	char longname[VIGIL_SCENARIO_NAME_MAX + 2];
	struct vigil_workload w = { .argv = argv, .argc = 1 };
	char *file;
	size_t len;

	(void)state;
	w.argc = 0;
	assert_int_equal(vigil_workload_encode(&w, &file, &len), -EINVAL);
	w.argc = 1;
	w.env = bad_env;
	w.n_env = 1;
	assert_int_equal(vigil_workload_encode(&w, &file, &len), -EINVAL);
	w.env = no_eq;
	assert_int_equal(vigil_workload_encode(&w, &file, &len), -EINVAL);
	w.n_env = 0;
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	w.scenario = longname;
	assert_int_equal(vigil_workload_encode(&w, &file, &len), -EINVAL);
	longname[VIGIL_SCENARIO_NAME_MAX] = '\0'; /* exactly the limit */
	assert_int_equal(vigil_workload_encode(&w, &file, &len), 0);
	free(file);
	w.scenario = "";
	assert_int_equal(vigil_workload_encode(&w, &file, &len), -EINVAL);
	w.scenario = NULL;
	w.cwd = "relative";
	assert_int_equal(vigil_workload_encode(&w, &file, &len), -EINVAL);
}

static void test_encode_limits(void **state)
{
	static char *argv[VIGIL_WORKLOAD_MAX_ARGS + 1];
	static char big[1 << 20];
	struct vigil_workload w = { .argv = argv };
	char *file;
	size_t len;

	(void)state;
	for (size_t i = 0; i <= VIGIL_WORKLOAD_MAX_ARGS; i++)
		argv[i] = "w";
	w.argc = VIGIL_WORKLOAD_MAX_ARGS;
	assert_int_equal(vigil_workload_encode(&w, &file, &len), 0);
	assert_int_equal(len, (size_t)VIGIL_WORKLOAD_MAX_ARGS * 6);
	free(file);
	w.argc = VIGIL_WORKLOAD_MAX_ARGS + 1;
	assert_int_equal(vigil_workload_encode(&w, &file, &len), -E2BIG);
	/* 4 words of 1 MiB: over VIGIL_WORKLOAD_MAX */
	memset(big, 'x', sizeof(big) - 1);
	for (int i = 0; i < 4; i++)
		argv[i] = big;
	w.argc = 4;
	assert_int_equal(vigil_workload_encode(&w, &file, &len), -E2BIG);
	w.argc = 3;
	assert_int_equal(vigil_workload_encode(&w, &file, &len), 0);
	free(file);
}

/* The image's bytes come first, untouched, then an archive with the file. */
static void test_initrd_appends(void **state)
{
	char *dir = tu_mkdtemp(), img[PATH_MAX], path[64];
	static const char file[] = "arg=true";
	struct vigil_cpio c;
	struct tcpio_entry e;
	uint8_t *orig, *all;
	size_t olen, alen, off;
	int fd, w;

	(void)state;
	snprintf(img, sizeof(img), "%s/base.cpio", dir);
	fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	vigil_cpio_init(&c, fd);
	vigil_cpio_file(&c, "init", 0755, "#!", 3); /* odd sizes: padding matters */
	assert_int_equal(vigil_cpio_finish(&c), 0);
	close(fd);
	orig = tcpio_slurp(img, &olen);
	assert_non_null(orig);

	w = vigil_workload_initrd(img, file, sizeof(file));
	assert_true(w >= 0);
	vigil_workload_initrd_path(w, path, sizeof(path));
	all = tcpio_slurp(path, &alen);
	assert_non_null(all);
	assert_true(alen > olen);
	assert_memory_equal(all, orig, olen);
	off = (olen + 3) & ~(size_t)3;
	while (tcpio_next(all, alen, &off, &e) == 1)
		if (!strcmp(e.name, VIGIL_WORKLOAD_PATH))
			break;
	assert_string_equal(e.name, VIGIL_WORKLOAD_PATH);
	assert_int_equal(e.size, sizeof(file));
	assert_memory_equal(e.data, file, sizeof(file));
	/* the cached image was not written */
	free(orig);
	orig = tcpio_slurp(img, &alen);
	assert_int_equal(alen, olen);
	close(w);
	free(all);
	free(orig);
	tu_rm_rf(dir);
	free(dir);
}

static void test_initrd_missing_image(void **state)
{
	(void)state;
	assert_int_equal(vigil_workload_initrd("/nonexistent/image.cpio", "arg=x", 6), -ENOENT);
}

/* Input waiting: a pipe with bytes, a non-empty file; not an idle or
 * drained pipe, an empty file, or /dev/null. */
static void test_input_waiting(void **state)
{
	char *d = tu_mkdtemp(), path[PATH_MAX], c;
	int p[2], fd, null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_false(vigil_input_waiting(p[0]));
	assert_int_equal(write(p[1], "hi", 2), 2);
	assert_true(vigil_input_waiting(p[0]));
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_false(vigil_input_waiting(p[0]));
	close(p[0]);
	close(p[1]);
	snprintf(path, sizeof(path), "%s/in", d);
	assert_int_equal(tu_write(d, "in", "", 0, 0644), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_false(vigil_input_waiting(fd));
	close(fd);
	assert_int_equal(tu_write(d, "in", "x", 1, 0644), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(vigil_input_waiting(fd));
	close(fd);
	tu_rm_rf(d);
	free(d);
	assert_true(null >= 0);
	assert_false(vigil_input_waiting(null));
	close(null);
	assert_false(vigil_input_waiting(-1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_order_and_bytes),
		cmocka_unit_test(test_input_waiting),
		cmocka_unit_test(test_encode_rootfs_host),
		cmocka_unit_test(test_encode_refusals),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_initrd_appends),
		cmocka_unit_test(test_initrd_missing_image),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
