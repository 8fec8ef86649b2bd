/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/console.c: the line splitter (the classifier of the
 * lines is the session's, tested in tests/host/test_kernel.c). */
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
	char last[VIGIL_CON_LINE_MAX + 1];
};

static void on_line(void *ctx, const char *line, size_t len)
{
	struct seen *s = ctx;

	assert_int_equal(strlen(line), len);
	s->lines++;
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
		assert_int_equal(c.bytes, n);
	}
}

/* An over-long line is cut to VIGIL_CON_LINE_MAX and counted once. */
static void test_long_line(void **state)
{
	static char text[3 * VIGIL_CON_LINE_MAX + 2];
	struct vigil_console c;
	struct seen s = { 0 };

	(void)state;
	memset(text, 'a', sizeof(text) - 2);
	text[sizeof(text) - 2] = '\n';
	vigil_console_init(&c);
	vigil_console_feed(&c, text, sizeof(text) - 1, on_line, &s);
	assert_int_equal(s.lines, 1);
	assert_int_equal(strlen(s.last), VIGIL_CON_LINE_MAX);
	assert_int_equal(c.long_lines, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_invariance),
		cmocka_unit_test(test_long_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
