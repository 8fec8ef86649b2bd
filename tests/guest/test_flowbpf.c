/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/flowbpf.c: the hand-assembled programs pass the running
 * kernel's verifier (a wrong jump offset, an unreachable instruction or a
 * read of unset stack fails here), loaded only, never attached.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <unistd.h>

#include "flowbpf.h"

static void test_programs_verify(void **state)
{
	char why[256] = "";
	bool pid = false;
	int e;

	(void)state;
	if (geteuid() != 0) {
		skip(); /* loading programs needs CAP_BPF; CI runs as root */
		return;
	}
	e = flowbpf_check(&pid, why, sizeof(why));
	if (e < 0)
		fprintf(stderr, "%s\n", why);
	assert_int_equal(e, 0);
	assert_true(pid); /* the kernel lets cgroup/sock_create read the pid */
}

static void test_get_without_map(void **state)
{
	struct flowbpf b = { .map = -1 };
	struct flowbpf_val v;

	(void)state;
	assert_int_equal(flowbpf_get(&b, 1, &v, false), 0);
	flowbpf_close(&b);
	flowbpf_close(&b); /* twice: a closed one is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_programs_verify),
		cmocka_unit_test(test_get_without_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
