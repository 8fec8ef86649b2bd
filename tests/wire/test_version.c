/* SPDX-License-Identifier: MIT */
/* libvigil-wire's version (version.c) against vigil/version.h and CMake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <vigil/wire.h>

static void test_version_matches_headers(void **state)
{
	unsigned major, minor, patch;

	(void)state;
	assert_string_equal(vigil_version(), VIGIL_VERSION_STRING);
	assert_int_equal(vigil_version_number(), VIGIL_VERSION_NUMBER);
	assert_int_equal(sscanf(vigil_version(), "%u.%u.%u", &major, &minor, &patch), 3);
	assert_int_equal(major, VIGIL_VERSION_MAJOR);
	assert_int_equal(minor, VIGIL_VERSION_MINOR);
	assert_int_equal(patch, VIGIL_VERSION_PATCH);
	/* the project version CMake read out of version.h */
	assert_string_equal(vigil_version(), VIGIL_PROJECT_VERSION);
}

static void test_version_number_orders(void **state)
{
	(void)state;
	assert_int_equal(VIGIL_VERSION_ENCODE(0, 1, 0), 1000);
	assert_int_equal(VIGIL_VERSION_ENCODE(1, 2, 3), 1002003);
	assert_true(VIGIL_VERSION_ENCODE(0, 2, 0) > VIGIL_VERSION_ENCODE(0, 1, 999));
	assert_true(VIGIL_VERSION_ENCODE(1, 0, 0) > VIGIL_VERSION_ENCODE(0, 999, 999));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_matches_headers),
		cmocka_unit_test(test_version_number_orders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
