/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/vcpu.c on a fake /proc tree and on this process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_util.h"
#include "vcpu.h"

static void put_task(const char *proc, int tid, const char *comm, const char *schedstat)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "4242/task/%d/comm", tid);
	assert_int_equal(tu_write_str(proc, rel, comm), 0);
	snprintf(rel, sizeof(rel), "4242/task/%d/schedstat", tid);
	assert_int_equal(tu_write_str(proc, rel, schedstat), 0);
}

static void test_fake_proc(void **state)
{
	char *d = tu_mkdtemp();
	struct vigil_vcpu_probe p;
	uint64_t ns = 0;
	char rel[128];

	(void)state;
	put_task(d, 4242, "qemu-system-x86\n", "999999 0 0\n");
	put_task(d, 4243, "CPU 0/TCG\n", "1000 5 6\n");
	put_task(d, 4244, "CPU 1/TCG\n", "2000 5 6\n");
	put_task(d, 4245, "CPU x/TCG\n", "50000 5 6\n");  /* not a vCPU name */
	put_task(d, 4246, "CPU 2/KVMX\n", "70000 5 6\n"); /* prefix match is fine */
	vigil_vcpu_init(&p, d, 4242);
	assert_int_equal(vigil_vcpu_sample(&p, &ns), 0);
	assert_int_equal(p.n, 3);
	assert_false(p.all_threads);
	assert_int_equal(ns, 73000);
	assert_int_equal(p.rescans, 1);
	/* progress is seen without a rescan */
	put_task(d, 4243, "CPU 0/TCG\n", "5000 5 6\n");
	assert_int_equal(vigil_vcpu_sample(&p, &ns), 0);
	assert_int_equal(ns, 77000);
	assert_int_equal(p.rescans, 1);
	/* a vCPU thread disappears: rescan */
	snprintf(rel, sizeof(rel), "rm -rf %s/4242/task/4246", d);
	assert_int_equal(system(rel), 0);
	assert_int_equal(vigil_vcpu_sample(&p, &ns), 0);
	assert_int_equal(ns, 7000);
	assert_int_equal(p.rescans, 2);
	/* the wait times and a stopped vCPU thread */
	{
		struct vigil_vcpu_state st;

		put_task(d, 4243, "CPU 0/TCG\n", "5000 70 6\n");
		assert_int_equal(
		    tu_write_str(d, "4242/task/4244/stat", "4244 (CPU 1/TCG) T 1 2 3 4 5\n"), 0);
		assert_int_equal(
		    tu_write_str(d, "4242/task/4243/stat", "4243 (CPU 0/TCG) R 1 2 3 4 5\n"), 0);
		assert_int_equal(vigil_vcpu_state(&p, &st), 0);
		assert_int_equal(st.cpu_ns, 7000);
		assert_int_equal(st.wait_ns, 75);
		assert_true(st.stopped);
		assert_int_equal(
		    tu_write_str(d, "4242/task/4244/stat", "4244 (CPU 1/TCG) S 1 2 3 4 5\n"), 0);
		assert_int_equal(vigil_vcpu_state(&p, &st), 0);
		assert_false(st.stopped);
	}
	/* garbage in schedstat */
	put_task(d, 4243, "CPU 0/TCG\n", "abc\n");
	assert_int_equal(vigil_vcpu_sample(&p, &ns), -EBADMSG);
	/* the process is gone */
	vigil_vcpu_init(&p, d, 999);
	assert_int_equal(vigil_vcpu_sample(&p, &ns), -ENOENT);
	tu_rm_rf(d);
	free(d);
}

/* No thread named as a vCPU (QEMU without debug-threads=on): every thread
 * counts; this test process has one. */
static void test_unnamed_threads(void **state)
{
	char *d = tu_mkdtemp();
	struct vigil_vcpu_probe p;
	uint64_t ns = 0;

	(void)state;
	put_task(d, 4242, "qemu-system-x86\n", "100 0 0\n");
	put_task(d, 4250, "qemu-system-x86\n", "23 0 0\n");
	vigil_vcpu_init(&p, d, 4242);
	assert_int_equal(vigil_vcpu_sample(&p, &ns), 0);
	assert_true(p.all_threads);
	assert_int_equal(ns, 123);
	tu_rm_rf(d);
	free(d);
	vigil_vcpu_init(&p, NULL, getpid());
	assert_int_equal(vigil_vcpu_sample(&p, &ns), 0);
	assert_true(p.all_threads);
	assert_true(ns > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fake_proc),
		cmocka_unit_test(test_unnamed_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
