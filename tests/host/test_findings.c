/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/findings.c: stable ids, the table's bound (a fatal
 * finding is never lost to non-fatal ones; among fatal ones only a higher
 * rank replaces the last), the evidence pool's bounds and its grouping by
 * finding at the end of the run, against a naive reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "findings.h"

static void test_ids_and_get(void **state)
{
	struct fnd t;
	uint32_t a, b;

	(void)state;
	assert_int_equal(fnd_init(&t, 4, 2), 0);
	assert_non_null(fnd_add(&t, VIGIL_OUTCOME_KERNEL_TROUBLE, false, &a));
	assert_non_null(fnd_add(&t, VIGIL_OUTCOME_HARNESS_ERROR, true, &b));
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	assert_ptr_equal(fnd_get(&t, a), &t.f[0]);
	assert_true(fnd_get(&t, b)->fatal);
	assert_null(fnd_get(&t, 0));
	assert_null(fnd_get(&t, 3));
	fnd_fini(&t);
}

static void test_fatal_never_lost(void **state)
{
	struct fnd t;
	uint32_t id, first = 0;
	struct vigil_finding *f;

	(void)state;
	assert_int_equal(fnd_init(&t, 64, 64), 0);
	for (uint32_t i = 0; i < FND_MAX; i++) {
		f = fnd_add(&t, VIGIL_OUTCOME_PROCESS_STALL, false, &id);
		assert_non_null(f);
		f->pid = 100 + i;
		if (i == 0)
			first = id;
		assert_true(fnd_line(&t, id, i, 0, "l", 1));
	}
	/* Full: a non-fatal one is dropped and counted. */
	assert_null(fnd_add(&t, VIGIL_OUTCOME_KERNEL_TROUBLE, false, &id));
	assert_int_equal(t.dropped, 1);
	/* A fatal one takes the oldest non-fatal one's place, at the end. */
	f = fnd_add(&t, VIGIL_OUTCOME_WORKLOAD_FAILED, true, &id);
	assert_non_null(f);
	assert_int_equal(t.dropped, 2);
	assert_int_equal(t.n, FND_MAX);
	assert_null(fnd_get(&t, first));
	assert_int_equal(t.f[0].pid, 101);
	assert_ptr_equal(&t.f[FND_MAX - 1], f);
	/* The removed finding's line went with it. */
	assert_int_equal(t.used, FND_MAX - 1);
	for (uint32_t i = 0; i < t.used; i++)
		assert_int_not_equal(t.pool[i].finding, first);
	fnd_fini(&t);
}

static void test_all_fatal(void **state)
{
	struct fnd t;
	uint32_t id;

	(void)state;
	assert_int_equal(fnd_init(&t, 4, 4), 0);
	for (uint32_t i = 0; i < FND_MAX; i++)
		assert_non_null(fnd_add(&t, VIGIL_OUTCOME_LINK_LOST, true, &id));
	/* Equal or lower rank: dropped; the outcome stays. */
	assert_null(fnd_add(&t, VIGIL_OUTCOME_LINK_LOST, true, &id));
	assert_null(fnd_add(&t, VIGIL_OUTCOME_WORKLOAD_FAILED, true, &id));
	/* Higher: replaces the last one. */
	assert_non_null(fnd_add(&t, VIGIL_OUTCOME_GUEST_CRASH, true, &id));
	assert_int_equal(t.f[FND_MAX - 1].outcome, VIGIL_OUTCOME_GUEST_CRASH);
	assert_int_equal(t.f[FND_MAX - 2].outcome, VIGIL_OUTCOME_LINK_LOST);
	assert_int_equal(t.dropped, 3);
	fnd_fini(&t);
}

static void test_pool_bounds(void **state)
{
	struct fnd t;
	uint32_t nf, fa;
	char longl[400];

	(void)state;
	assert_int_equal(fnd_init(&t, 5, 2), 0);
	fnd_add(&t, VIGIL_OUTCOME_KERNEL_TROUBLE, false, &nf);
	fnd_add(&t, VIGIL_OUTCOME_GUEST_CRASH, true, &fa);
	assert_true(fnd_line(&t, nf, 1, 0, "a\r\n", 3));
	assert_string_equal(t.pool[0].line, "a");
	assert_true(fnd_line(&t, nf, 2, 0, "b", 1));
	/* Non-fatal lines stop at their share; fatal ones go on. */
	assert_false(fnd_line(&t, nf, 3, 0, "c", 1));
	assert_int_equal(t.lines_dropped, 1);
	memset(longl, 'x', sizeof(longl));
	assert_true(fnd_line(&t, fa, 4, 0, longl, sizeof(longl)));
	assert_int_equal(strlen(t.pool[2].line), VIGIL_DETAIL_MAX - 1);
	assert_true(fnd_line(&t, fa, 5, 0, "e", 1));
	assert_true(fnd_line(&t, fa, 6, 0, "f", 1));
	assert_false(fnd_line(&t, fa, 7, 0, "g", 1)); /* the pool is full */
	assert_int_equal(t.lines_dropped, 2);
	/* Unknown ids are not kept and not counted. */
	assert_false(fnd_line(&t, 99, 8, 0, "h", 1));
	assert_int_equal(t.lines_dropped, 2);
	fnd_fini(&t);
}

/* Random interleaved lines: grouped by finding index, arrival order kept
 * within a finding (a naive reference: one pass per finding). */
static void test_group(void **state)
{
	enum { NF = 10, NL = 300 };
	struct fnd t;
	uint32_t ids[NF];
	struct {
		uint32_t fi;
		uint64_t t;
	} ref[NL];
	uint32_t n = 0;

	(void)state;
	srand(7);
	assert_int_equal(fnd_init(&t, NL, NL), 0);
	for (uint32_t i = 0; i < NF; i++)
		fnd_add(&t, VIGIL_OUTCOME_KERNEL_TROUBLE, i & 1, &ids[i]);
	for (uint32_t i = 0; i < NL; i++) {
		uint32_t fi = (uint32_t)rand() % NF;
		char l[16];

		snprintf(l, sizeof(l), "%u", i);
		assert_true(fnd_line(&t, ids[fi], i, 0, l, strlen(l)));
		ref[i].fi = fi;
		ref[i].t = i;
	}
	fnd_group(&t);
	for (uint32_t fi = 0; fi < NF; fi++) {
		for (uint32_t i = 0; i < NL; i++) {
			if (ref[i].fi != fi)
				continue;
			assert_int_equal(t.pool[n].finding, fi);
			assert_int_equal(t.pool[n].t_ns, ref[i].t);
			n++;
		}
	}
	assert_int_equal(n, t.used);
	/* Grouped once: no more lines or findings. */
	assert_false(fnd_line(&t, ids[0], 0, 0, "x", 1));
	fnd_group(&t);
	assert_int_equal(t.pool[0].finding, 0);
	fnd_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_get), cmocka_unit_test(test_fatal_never_lost),
		cmocka_unit_test(test_all_fatal),   cmocka_unit_test(test_pool_bounds),
		cmocka_unit_test(test_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
