/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/args.c: durations, sizes, the workload's command line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		int r;
		uint64_t ns;
	} v[] = {
		{ "30", 0, 30000000000ull },
		{ "30s", 0, 30000000000ull },
		{ "250ms", 0, 250000000ull },
		{ "1.5s", 0, 1500000000ull },
		{ "2m", 0, 120000000000ull },
		{ "1h", 0, 3600000000000ull },
		{ "100us", 0, 100000ull },
		{ "7ns", 0, 7 },
		{ "0", 0, 0 },
		{ "", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ "1x", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "nan", -EINVAL, 0 },
		{ "99999999999h", -ERANGE, 0 },
		{ "1 s", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t ns = 12345;
		assert_int_equal(vigil_parse_duration(v[i].s, &ns), v[i].r);
		assert_int_equal(ns, v[i].r == 0 ? v[i].ns : 12345);
	}
}

static void test_memory(void **state)
{
	unsigned mb = 0;

	(void)state;
	assert_int_equal(vigil_parse_mem_mb("512", &mb), 0);
	assert_int_equal(mb, 512);
	assert_int_equal(vigil_parse_mem_mb("2G", &mb), 0);
	assert_int_equal(mb, 2048);
	assert_int_equal(vigil_parse_mem_mb("65536K", &mb), 0);
	assert_int_equal(mb, 64);
	assert_int_equal(vigil_parse_mem_mb("8M", &mb), -EINVAL); /* too small to boot */
	assert_int_equal(vigil_parse_mem_mb("2T", &mb), -EINVAL);
	assert_int_equal(vigil_parse_mem_mb("-1", &mb), -EINVAL);
	assert_int_equal(vigil_parse_mem_mb("12Q", &mb), -EINVAL);
}

static void test_cmdline_plain(void **state)
{
	char *argv[] = { "sh", "-c", "echo a  b", "", "x" };
	char buf[128] = "vigil.k=v";
	int bad = -1;

	(void)state;
	assert_int_equal(vigil_cmdline_argv(buf, sizeof(buf), argv, 5, &bad),
			 (int)strlen("vigil.k=v -- sh -c \"echo a  b\" \"\" x"));
	assert_string_equal(buf, "vigil.k=v -- sh -c \"echo a  b\" \"\" x");
}

static void test_cmdline_refusals(void **state)
{
	char *quote[] = { "echo", "say \"hi\"" };
	char *ctl[] = { "echo", "a\nb" };
	char *longarg[] = { "echo", "0123456789012345678901234567890123456789" };
	char buf[32] = "keep";
	int bad = -1;

	(void)state;
	assert_int_equal(vigil_cmdline_argv(buf, sizeof(buf), quote, 2, &bad), -EINVAL);
	assert_int_equal(bad, 1);
	assert_string_equal(buf, "keep"); /* untouched on failure */
	assert_int_equal(vigil_cmdline_argv(buf, sizeof(buf), ctl, 2, &bad), -EINVAL);
	assert_int_equal(vigil_cmdline_argv(buf, sizeof(buf), longarg, 2, &bad), -E2BIG);
	assert_string_equal(buf, "keep");
}

/* The shell form carries what the plain form cannot, and decodes back:
 * a naive %b decoder stands in for the guest's printf. */
static void decode_b(const char *in, char *out)
{
	while (*in) {
		if (in[0] == '\\' && in[1] == '0' && in[2] >= '0' && in[2] <= '7') {
			*out++ = (char)((in[2] - '0') * 64 + (in[3] - '0') * 8 + (in[4] - '0'));
			in += 5;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
}

static void test_cmdline_shell(void **state)
{
	char *argv[] = { "printf", "[%s]\n", "a \"q\" b", "it's", "x\\y" };
	char buf[512] = "", dec[512], *start, *end;

	(void)state;
	assert_true(vigil_cmdline_shell(buf, sizeof(buf), argv, 5) > 0);
	assert_non_null(strstr(buf, "-- /bin/sh -c \"set -f;IFS=;eval $(printf %b '"));
	/* the kernel must see no double quote but the outer pair */
	start = strchr(buf, '"');
	end = strrchr(buf, '"');
	assert_true(end > start);
	for (char *c = start + 1; c < end; c++)
		assert_true(*c != '"' && (unsigned char)*c >= 0x20);
	/* inside the single quotes: no single quote, no raw backslash but escapes */
	start = strstr(buf, "%b '") + 4;
	end = strrchr(buf, '\'');
	*end = '\0';
	decode_b(start, dec);
	assert_string_equal(dec, "exec 'printf' '[%s]\n' 'a \"q\" b' 'it'\\''s' 'x\\y'");
	buf[0] = '\0';
	assert_int_equal(vigil_cmdline_shell(buf, 40, argv, 5), -E2BIG);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),     cmocka_unit_test(test_memory),
		cmocka_unit_test(test_cmdline_plain), cmocka_unit_test(test_cmdline_refusals),
		cmocka_unit_test(test_cmdline_shell),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
