/* SPDX-License-Identifier: MIT */
/* libvigil-host's version (version.c) against vigil/version.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <vigil/session.h>

static void test_host_version(void **state)
{
	(void)state;
	assert_string_equal(vigil_host_version(), VIGIL_VERSION_STRING);
	assert_string_equal(vigil_host_version(), vigil_version()); /* built together */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
