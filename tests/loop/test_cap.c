/* SPDX-License-Identifier: MIT */
/* Tests for host/loop/cap.h: a file's byte budget and a line rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cap.h"

static void test_bytes(void **state)
{
	struct vigil_cap c = { .limit = 100 };
	struct vigil_cap none = { 0 };

	(void)state;
	assert_int_equal(vigil_cap_take(&c, 60), VIGIL_CAP_OK);
	assert_int_equal(vigil_cap_take(&c, 41), VIGIL_CAP_FULL_NOW); /* whole, or not */
	assert_int_equal(vigil_cap_take(&c, 40), VIGIL_CAP_OK);       /* exactly to the limit */
	assert_int_equal(vigil_cap_take(&c, 1), VIGIL_CAP_FULL);      /* said once only */
	assert_int_equal(c.used, 100);
	assert_int_equal(c.dropped, 2);
	assert_int_equal(c.dropped_bytes, 42);
	assert_int_equal(vigil_cap_take(&none, SIZE_MAX / 2), VIGIL_CAP_OK);
	c = (struct vigil_cap){ .limit = 100, .used = 150 }; /* a file found larger */
	assert_int_equal(vigil_cap_take(&c, 0), VIGIL_CAP_FULL_NOW);
}

static void test_lines(void **state)
{
	const uint64_t s = 1000000000ull;
	struct vigil_lines l = { 0 };
	int said = 0;

	(void)state;
	for (int i = 0; i < 25; i++) /* a burst of 10, the rest held */
		said += vigil_lines_take(&l, 5 * s, 10, 6 * s);
	assert_int_equal(said, 10);
	assert_int_equal(l.dropped, 15);
	l.dropped = 0;
	assert_false(vigil_lines_take(&l, 10 * s, 10, 6 * s)); /* 5 s: not yet */
	assert_true(vigil_lines_take(&l, 11 * s, 10, 6 * s));  /* 6 s: one */
	assert_false(vigil_lines_take(&l, 12 * s, 10, 6 * s));
	assert_int_equal(l.dropped, 2);
	said = 0; /* a long quiet time refills the bucket, no more */
	for (int i = 0; i < 20; i++)
		said += vigil_lines_take(&l, 1000 * s, 10, 6 * s);
	assert_int_equal(said, 10);
	/* drained again: then only the refill rate */
	assert_false(vigil_lines_take(&l, 1001 * s, 10, 6 * s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
