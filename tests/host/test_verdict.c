/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/verdict.c: the documented precedence between outcomes
 * (pairwise, ties go to the earliest), secondary findings kept, exit codes,
 * and the human summary. Sessions are driven through the public API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "session.h"

/* docs/verdict.md, highest first. */
static const enum vigil_outcome order[] = {
	VIGIL_OUTCOME_GUEST_CRASH,      VIGIL_OUTCOME_KERNEL_TROUBLE, VIGIL_OUTCOME_SCHED_EXIT,
	VIGIL_OUTCOME_HOST_STARVED,     VIGIL_OUTCOME_GUEST_STALL,    VIGIL_OUTCOME_PROCESS_STALL,
	VIGIL_OUTCOME_HARNESS_ERROR,    VIGIL_OUTCOME_QEMU_EXITED,    VIGIL_OUTCOME_BOOT_TIMEOUT,
	VIGIL_OUTCOME_WATCHDOG_TIMEOUT, VIGIL_OUTCOME_RUN_TIMEOUT,    VIGIL_OUTCOME_LINK_LOST,
	VIGIL_OUTCOME_WORKLOAD_FAILED,  VIGIL_OUTCOME_PASS,
};

static void test_rank_order(void **state)
{
	size_t n = sizeof(order) / sizeof(order[0]);

	(void)state;
	assert_int_equal(n, VIGIL_OUTCOME__COUNT);
	for (size_t i = 0; i + 1 < n; i++)
		assert_true(vigil_outcome_rank(order[i]) > vigil_outcome_rank(order[i + 1]));
	assert_int_equal(vigil_outcome_rank(VIGIL_OUTCOME_PASS), 0);
	assert_string_equal(vigil_outcome_name(VIGIL_OUTCOME_HOST_STARVED), "HOST_STARVED");
	assert_string_equal(vigil_outcome_name(VIGIL_OUTCOME_KERNEL_TROUBLE), "KERNEL_TROUBLE");
	assert_string_equal(vigil_outcome_name(VIGIL_OUTCOME_QEMU_EXITED), "QEMU_EXITED");
	assert_string_equal(vigil_outcome_name((enum vigil_outcome)99), "UNKNOWN");
}

static void test_primary_pairwise(void **state)
{
	struct vigil_finding f[2];

	(void)state;
	memset(f, 0, sizeof(f));
	f[0].fatal = f[1].fatal = true;
	for (size_t i = 0; i < VIGIL_OUTCOME__COUNT; i++) {
		for (size_t j = 0; j < VIGIL_OUTCOME__COUNT; j++) {
			f[0].outcome = order[i];
			f[1].outcome = order[j];
			const struct vigil_finding *p = vigil__primary_finding(f, 2);

			if (order[i] == VIGIL_OUTCOME_PASS && order[j] == VIGIL_OUTCOME_PASS) {
				assert_null(p);
				continue;
			}
			/* The earlier in `order` wins; equal: the first found. */
			assert_ptr_equal(p, i <= j ? &f[0] : &f[1]);
		}
	}
	assert_null(vigil__primary_finding(f, 0));
}

/* A non-fatal finding never decides the outcome, whatever its rank. */
static void test_primary_fatal_only(void **state)
{
	struct vigil_finding f[3];

	(void)state;
	memset(f, 0, sizeof(f));
	f[0].outcome = VIGIL_OUTCOME_KERNEL_TROUBLE; /* non-fatal, ranks high */
	f[1].outcome = VIGIL_OUTCOME_PROCESS_STALL;  /* non-fatal */
	f[2].outcome = VIGIL_OUTCOME_WORKLOAD_FAILED;
	assert_null(vigil__primary_finding(f, 2));
	f[2].fatal = true;
	assert_ptr_equal(vigil__primary_finding(f, 3), &f[2]);
	f[1].fatal = true;
	assert_ptr_equal(vigil__primary_finding(f, 3), &f[1]);
}

static struct vigil_session *run(void)
{
	VIGIL_SESSION_OPTS(o, .workload_duration_ns = 1000);
	struct vigil_session *s;

	assert_int_equal(vigil_session_new(&o, NULL, 0, &s), 0);
	return s;
}

static void feed_frame(struct vigil_session *s, uint16_t type, const uint8_t *p, int len,
		       uint64_t now)
{
	static uint8_t fb[VIGIL_WIRE_HDR_LEN + 256];
	static uint32_t seq;

	assert_true(len >= 0);
	memcpy(fb + VIGIL_WIRE_HDR_LEN, p, (size_t)len);
	int n = vigil_frame_seal(fb, sizeof(fb), type, seq++, (size_t)len);

	assert_true(n > 0);
	vigil_session_feed(s, fb, (size_t)n, now);
}

static void test_crash_beats_watchdog_and_keeps_both(void **state)
{
	struct vigil_session *s = run();
	uint8_t p[64];

	(void)state;
	feed_frame(s, VIGIL_MSG_SYS_RDY, p, 0, 1);
	feed_frame(s, VIGIL_MSG_SCENARIO_START, p,
		   vigil_scenario_encode(p, sizeof(p), VIGIL_STR("x")), 2);
	vigil_session_tick(s, 5000); /* watchdog first */
	vigil_session_guest_crashed(s, 6000, "Kernel panic");
	const struct vigil_verdict *v = vigil_session_finish(s, 7000);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_GUEST_CRASH);
	assert_int_equal(v->n_findings, 2);
	assert_int_equal(v->findings[0].outcome, VIGIL_OUTCOME_WATCHDOG_TIMEOUT);
	assert_ptr_equal(v->primary, &v->findings[1]);
	assert_int_equal(vigil_verdict_exit_code(v), 126);
	vigil_session_free(s);
}

static void test_sched_exit_beats_workload_failure(void **state)
{
	struct vigil_session *s = run();
	uint8_t p[64];
	struct vigil_exit x = { .exit_status = 2 };
	struct vigil_sched_exit se = { .exit_code = 0,
				       .kind = VIGIL_SCX_ERROR,
				       .reason = VIGIL_STR("bpf error") };

	(void)state;
	feed_frame(s, VIGIL_MSG_EXIT, p, vigil_exit_encode(p, sizeof(p), &x), 1);
	feed_frame(s, VIGIL_MSG_SCHED_EXIT, p, vigil_sched_exit_encode(p, sizeof(p), &se), 2);
	const struct vigil_verdict *v = vigil_session_finish(s, 3);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_SCHED_EXIT);
	assert_int_equal(v->n_findings, 2);
	assert_int_equal(vigil_verdict_exit_code(v), 120);
	/* The workload's exit is still reported. */
	assert_true(v->have_exit);
	assert_int_equal(v->exit_status, 2);
	vigil_session_free(s);
}

static void test_exit_codes(void **state)
{
	struct vigil_verdict v;
	static const struct {
		enum vigil_outcome o;
		int code;
	} map[] = {
		{ VIGIL_OUTCOME_PASS, 0 },
		{ VIGIL_OUTCOME_SCHED_EXIT, 120 },
		{ VIGIL_OUTCOME_PROCESS_STALL, 121 },
		{ VIGIL_OUTCOME_HOST_STARVED, 121 },
		{ VIGIL_OUTCOME_GUEST_STALL, 121 },
		{ VIGIL_OUTCOME_WATCHDOG_TIMEOUT, 124 },
		{ VIGIL_OUTCOME_RUN_TIMEOUT, 124 },
		{ VIGIL_OUTCOME_LINK_LOST, 124 },
		{ VIGIL_OUTCOME_HARNESS_ERROR, 125 },
		{ VIGIL_OUTCOME_GUEST_CRASH, 126 },
		{ VIGIL_OUTCOME_KERNEL_TROUBLE, 126 },
		{ VIGIL_OUTCOME_QEMU_EXITED, 124 },
		{ VIGIL_OUTCOME_BOOT_TIMEOUT, 127 },
	};

	(void)state;
	memset(&v, 0, sizeof(v));
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		v.outcome = map[i].o;
		assert_int_equal(vigil_verdict_exit_code(&v), map[i].code);
	}
	v.outcome = VIGIL_OUTCOME_WORKLOAD_FAILED;
	v.have_exit = true;
	v.exit_status = 123;
	assert_int_equal(vigil_verdict_exit_code(&v), 123);
	v.exit_status = 124; /* would read as a timeout: clamped */
	assert_int_equal(vigil_verdict_exit_code(&v), 123);
	v.exit_status = 1;
	assert_int_equal(vigil_verdict_exit_code(&v), 1);
	v.exit_status = 0;
	assert_int_equal(vigil_verdict_exit_code(&v), 1); /* failed test */
}

static void test_summary(void **state)
{
	struct vigil_session *s = run();
	char buf[512];
	char tiny[8];

	(void)state;
	vigil_session_harness_error(s, 2500000000ull, "qmp: \x1b[31mgone");
	const struct vigil_verdict *v = vigil_session_finish(s, 2500000000ull);
	int n = vigil_verdict_summary(v, buf, sizeof(buf));

	assert_true(n > 0 && (size_t)n < sizeof(buf));
	assert_non_null(strstr(buf, "HARNESS_ERROR after 2.50 s"));
	assert_non_null(strstr(buf, "qmp: ?[31mgone")); /* no raw escape byte */
	/* Truncation behaves like snprintf. */
	assert_int_equal(vigil_verdict_summary(v, tiny, sizeof(tiny)), n);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	vigil_session_free(s);
}

/* Kernel trouble that fail_on made fatal, with the rest named. */
static void test_summary_kernel_trouble(void **state)
{
	struct vigil_finding f[3];
	struct vigil_verdict v;
	VIGIL_SESSION_COUNTERS(c);
	char buf[512];

	(void)state;
	memset(f, 0, sizeof(f));
	memset(&v, 0, sizeof(v));
	f[0].outcome = VIGIL_OUTCOME_KERNEL_TROUBLE;
	f[0].kind = VIGIL_KT_OOM;
	f[1].outcome = VIGIL_OUTCOME_KERNEL_TROUBLE;
	f[1].kind = VIGIL_KT_OOPS;
	f[1].fatal = true;
	strcpy(f[1].detail, "Oops: 0002 [#1] PREEMPT SMP NOPTI");
	f[2].outcome = VIGIL_OUTCOME_LINK_LOST;
	f[2].fatal = true;
	v.findings = f;
	v.n_findings = 3;
	v.primary = vigil__primary_finding(f, 3);
	v.outcome = v.primary->outcome;
	v.timeline.end_ns = 1500000000ull;
	c.kernel_trouble_dropped = 2;
	v.counters = &c;
	assert_int_equal(vigil_verdict_exit_code(&v), 126);
	vigil_verdict_summary(&v, buf, sizeof(buf));
	assert_string_equal(buf, "KERNEL_TROUBLE after 1.50 s: kernel oops: Oops: 0002 [#1] "
				 "PREEMPT SMP NOPTI; "
				 "not fatal: 1 OOM kill; 1 more finding; 2 findings not kept");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rank_order),
		cmocka_unit_test(test_primary_pairwise),
		cmocka_unit_test(test_primary_fatal_only),
		cmocka_unit_test(test_crash_beats_watchdog_and_keeps_both),
		cmocka_unit_test(test_sched_exit_beats_workload_failure),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_kernel_trouble),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
