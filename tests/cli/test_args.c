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

static void test_bytes(void **state)
{
	uint64_t b = 1;

	(void)state;
	assert_int_equal(vigil_parse_bytes_opt("none", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(vigil_parse_bytes_opt("4096", &b), 0);
	assert_int_equal(b, 4096);
	assert_int_equal(vigil_parse_bytes_opt("64K", &b), 0);
	assert_int_equal(b, 65536);
	assert_int_equal(vigil_parse_bytes_opt("512MiB", &b), 0);
	assert_int_equal(b, 512ull << 20);
	assert_int_equal(vigil_parse_bytes_opt("1g", &b), 0);
	assert_int_equal(b, 1ull << 30);
	assert_int_equal(vigil_parse_bytes_opt("2T", &b), 0);
	assert_int_equal(b, 2ull << 40);
	assert_int_equal(vigil_parse_bytes_opt("4095", &b), -EINVAL); /* under a page */
	assert_int_equal(vigil_parse_bytes_opt("1K", &b), -EINVAL);
	assert_int_equal(vigil_parse_bytes_opt("12Q", &b), -EINVAL);
	assert_int_equal(vigil_parse_bytes_opt("-5M", &b), -EINVAL);
	assert_int_equal(vigil_parse_bytes_opt("", &b), -EINVAL);
	assert_int_equal(vigil_parse_bytes_opt("M", &b), -EINVAL);
	assert_int_equal(vigil_parse_bytes_opt("2000000T", &b), -ERANGE);
	assert_int_equal(vigil_parse_bytes_opt("99999999999999999999999", &b), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
