/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/classify.c: the stall class of fixed sample pairs
 * (table-driven, one row per rule and its boundaries), one-sample cases,
 * the copy of a report into a sample, and the names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "classify.h"

#define MS 1000000ull

struct row {
	const char *what;
	int32_t st_a, st_b; /* status */
	char state_a, state_b;
	uint64_t run_a, run_b, wait_a, wait_b;
	uint64_t sampled_ns;
	enum vigil_stall_class want;
};

static const struct row rows[] = {
	{ "runnable: wait grows, run does not", 0, 0, 'R', 'R', 5 * MS, 5 * MS, 1 * MS, 100 * MS,
	  100 * MS, VIGIL_STALL_RUNNABLE },
	{ "runnable: run just under 1 %", 0, 0, 'R', 'R', 0, 999999, 0, 99 * MS, 100 * MS,
	  VIGIL_STALL_RUNNABLE },
	{ "running: run at 1 %", 0, 0, 'R', 'R', 0, 1 * MS, 0, 99 * MS, 100 * MS,
	  VIGIL_STALL_RUNNING },
	{ "running: a busy loop", 0, 0, 'R', 'R', 0, 97 * MS, 0, 3 * MS, 100 * MS,
	  VIGIL_STALL_RUNNING },
	{ "R without schedstat: unknown", 0, 0, 'R', 'R', 0, 0, 0, 0, 100 * MS,
	  VIGIL_STALL_UNKNOWN },
	{ "runnable: never picked, no counter moves", 0, 0, 'R', 'R', 12 * MS, 12 * MS, 20 * MS,
	  20 * MS, 102 * MS, VIGIL_STALL_RUNNABLE },
	{ "R, counters went backwards: unknown", 0, 0, 'R', 'R', 9 * MS, 1 * MS, 0, 50 * MS,
	  100 * MS, VIGIL_STALL_UNKNOWN },
	{ "blocked: D", 0, 0, 'D', 'D', 0, 0, 0, 0, 100 * MS, VIGIL_STALL_BLOCKED },
	{ "sleeping: S", 0, 0, 'S', 'S', 0, 0, 0, 0, 100 * MS, VIGIL_STALL_SLEEPING },
	{ "sleeping: I", 0, 0, 'I', 'I', 0, 0, 0, 0, 100 * MS, VIGIL_STALL_SLEEPING },
	{ "stopped: T", 0, 0, 'T', 'T', 0, 0, 0, 0, 100 * MS, VIGIL_STALL_STOPPED },
	{ "stopped: t (traced)", 0, 0, 'S', 't', 0, 0, 0, 0, 100 * MS, VIGIL_STALL_STOPPED },
	{ "the second sample decides: R then S", 0, 0, 'R', 'S', 0, 0, 0, 90 * MS, 100 * MS,
	  VIGIL_STALL_SLEEPING },
	{ "gone: ESRCH first", -ESRCH, 0, 0, 0, 0, 0, 0, 0, 0, VIGIL_STALL_GONE },
	{ "gone: ESRCH second", 0, -ESRCH, 'S', 0, 0, 0, 0, 0, 100 * MS, VIGIL_STALL_GONE },
	{ "gone: a zombie", 0, 0, 'S', 'Z', 0, 0, 0, 0, 100 * MS, VIGIL_STALL_GONE },
	{ "gone: X", 0, 0, 'X', 'X', 0, 0, 0, 0, 100 * MS, VIGIL_STALL_GONE },
	{ "unknown: EACCES", -EACCES, 0, 0, 'S', 0, 0, 0, 0, 100 * MS, VIGIL_STALL_UNKNOWN },
	{ "unknown: EBUSY second", 0, -EBUSY, 'S', 0, 0, 0, 0, 0, 100 * MS, VIGIL_STALL_UNKNOWN },
	{ "unknown: parked P", 0, 0, 'P', 'P', 0, 0, 0, 0, 100 * MS, VIGIL_STALL_UNKNOWN },
	{ "unknown: a byte that is no state", 0, 0, 0x01, 0x01, 0, 0, 0, 0, 100 * MS,
	  VIGIL_STALL_UNKNOWN },
};

static void test_pairs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct vigil_process_sample a = { .status = r->st_a,
						  .state = (uint8_t)r->state_a,
						  .run_ns = r->run_a,
						  .wait_ns = r->wait_a };
		struct vigil_process_sample b = { .status = r->st_b,
						  .state = (uint8_t)r->state_b,
						  .run_ns = r->run_b,
						  .wait_ns = r->wait_b };
		enum vigil_stall_class got = cls_classify(&a, &b, r->sampled_ns);

		if (got != r->want)
			fail_msg("%s: got %s, want %s", r->what, vigil_stall_class_name(got),
				 vigil_stall_class_name(r->want));
	}
}

/* With one sample the state decides; R needs a rate and is unknown. */
static void test_one_sample(void **state)
{
	static const struct {
		char st;
		int32_t status;
		enum vigil_stall_class want;
	} t[] = {
		{ 'T', 0, VIGIL_STALL_STOPPED },    { 'D', 0, VIGIL_STALL_BLOCKED },
		{ 'S', 0, VIGIL_STALL_SLEEPING },   { 'Z', 0, VIGIL_STALL_GONE },
		{ 'R', 0, VIGIL_STALL_UNKNOWN },    { 0, -ESRCH, VIGIL_STALL_GONE },
		{ 0, -EBUSY, VIGIL_STALL_UNKNOWN },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vigil_process_sample a = { .status = t[i].status,
						  .state = (uint8_t)t[i].st };

		assert_int_equal(cls_classify(&a, NULL, 0), t[i].want);
	}
}

static void test_sample_from(void **state)
{
	static const char stack[] =
	    "[<0>] do_nanosleep+0x6e/0x150\n[<0>] hrtimer_nanosleep+0xa3/0x160\n";
	struct vigil_process_report r = {
		.request_id = 9,
		.pid = 84,
		.state = 'S',
		.policy = VIGIL_POLICY_EXT,
		.last_cpu = 3,
		.run_ns = 1,
		.wait_ns = 2,
		.timeslices = 3,
		.voluntary_switches = 4,
		.involuntary_switches = 5,
		.comm = VIGIL_STR("stress-worker"),
		.wchan = VIGIL_STR("do_nanosleep"),
		.stack = { stack, sizeof(stack) - 1 },
		.cgroup = VIGIL_STR("0::/a\0b"),
	};
	struct vigil_process_sample x;

	(void)state;
	assert_false(cls_sample_from(&x, &r, 77));
	assert_int_equal(x.state, 'S');
	assert_int_equal(x.policy, VIGIL_POLICY_EXT);
	assert_int_equal(x.last_cpu, 3);
	assert_int_equal(x.run_ns + x.wait_ns + x.timeslices, 6);
	assert_int_equal(x.voluntary_switches + x.involuntary_switches, 9);
	assert_int_equal(x.t_ns, 77);
	assert_string_equal(x.comm, "stress-worker");
	assert_string_equal(x.wchan, "do_nanosleep");
	assert_string_equal(x.stack, stack);
	assert_string_equal(x.cgroup, "0::/a?b"); /* a NUL byte is shown as '?' */
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(vigil_stall_class_name(VIGIL_STALL_RUNNABLE), "runnable");
	assert_string_equal(vigil_stall_class_name(VIGIL_STALL_GUEST), "guest_stall");
	assert_string_equal(vigil_stall_class_name((enum vigil_stall_class)99), "unclassified");
	for (int c = 0; c < VIGIL_STALL__COUNT; c++)
		assert_non_null(vigil_stall_class_name((enum vigil_stall_class)c));
	assert_string_equal(vigil_sched_policy_name(VIGIL_POLICY_EXT), "EXT");
	assert_string_equal(vigil_sched_policy_name(VIGIL_POLICY_NORMAL), "NORMAL");
	assert_null(vigil_sched_policy_name(4));
	assert_null(vigil_sched_policy_name(8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_one_sample),
		cmocka_unit_test(test_sample_from),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
