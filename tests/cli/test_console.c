/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/console.c: splitting, bounds, kinds through the session's
 * classifier (whose own table is in tests/host). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "console.h"

struct seen {
	unsigned lines;
	unsigned panics;
	char last[VIGIL_CON_LINE_MAX + 1];
};

static void on_line(void *ctx, const char *line, size_t len, enum vigil_kernel_trouble k)
{
	struct seen *s = ctx;

	assert_int_equal(strlen(line), len);
	s->lines++;
	s->panics += k == VIGIL_KT_PANIC;
	memcpy(s->last, line, len + 1);
}

/* Same lines whatever the split. */
static void test_split_invariance(void **state)
{
	const char text[] = "boot line one\r\nKernel panic - not syncing: x\n\x1b[0mcolour\nlast";
	size_t n = sizeof(text) - 1;

	(void)state;
	for (size_t step = 1; step <= n; step++) {
		struct vigil_console c;
		struct seen s = { 0 };
		vigil_console_init(&c);
		for (size_t off = 0; off < n; off += step)
			vigil_console_feed(&c, text + off, off + step > n ? n - off : step, on_line,
					   &s);
		assert_int_equal(s.lines, 3);
		assert_string_equal(s.last, "?[0mcolour");
		vigil_console_flush(&c, on_line, &s);
		assert_int_equal(s.lines, 4);
		assert_string_equal(s.last, "last");
		assert_int_equal(s.panics, 1);
		assert_int_equal(c.first, VIGIL_KT_PANIC);
		assert_string_equal(c.first_line, "Kernel panic - not syncing: x");
		assert_int_equal(c.bytes, n);
	}
}

static void test_excerpt_bounds(void **state)
{
	struct vigil_console c;
	char line[2048];

	(void)state;
	vigil_console_init(&c);
	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "before %d\n", i);
		vigil_console_feed(&c, line, strlen(line), NULL, NULL);
	}
	vigil_console_feed(&c, "BUG: something\n", 15, NULL, NULL);
	/* context: the 4 lines before, then the finding */
	assert_true(strncmp(c.excerpt, "before 6\nbefore 7\nbefore 8\nbefore 9\nBUG: something\n",
			    52) == 0);
	/* an over-long line is cut and counted */
	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	vigil_console_feed(&c, line, sizeof(line), NULL, NULL);
	assert_int_equal(c.long_lines, 1);
	for (int i = 0; i < 1000; i++)
		vigil_console_feed(&c, line, sizeof(line), NULL, NULL);
	assert_true(c.excerpt_len <= VIGIL_CON_EXCERPT_MAX);
	assert_int_equal(strlen(c.excerpt), c.excerpt_len);
	assert_true(c.excerpt_full);
	/* a later finding does not replace the first */
	vigil_console_feed(&c, "Kernel panic - not syncing: late\n", 33, NULL, NULL);
	assert_int_equal(c.first, VIGIL_KT_BUG);
	assert_int_equal(c.counts[VIGIL_KT_PANIC], 1);
	assert_int_equal(c.counts[VIGIL_KT_BUG], 1);
}

/* The excerpt also stops after VIGIL_CON_EXCERPT_LINES short lines. */
static void test_excerpt_line_cap(void **state)
{
	struct vigil_console c;

	(void)state;
	vigil_console_init(&c);
	vigil_console_feed(&c, "Oops: 1\n", 8, NULL, NULL);
	for (int i = 0; i < 200; i++)
		vigil_console_feed(&c, "x\n", 2, NULL, NULL);
	assert_int_equal(c.excerpt_len, strlen("Oops: 1\n") + 2 * (VIGIL_CON_EXCERPT_LINES - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_invariance),
		cmocka_unit_test(test_excerpt_bounds),
		cmocka_unit_test(test_excerpt_line_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
