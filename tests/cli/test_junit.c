/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/junit.c: structure and escaping of hostile strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "junit.h"

static char *render(const struct vigil_verdict *v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(vigil_junit_write(f, v, "vigil"), 0);
	fclose(f);
	return buf;
}

static void test_pass_run(void **state)
{
	struct vigil_verdict v;
	char *x;

	(void)state;
	memset(&v, 0, sizeof(v));
	v.outcome = VIGIL_OUTCOME_PASS;
	v.timeline.end_ns = 2500000000ull;
	x = render(&v);
	assert_non_null(strstr(x, "<testsuite name=\"vigil\" tests=\"1\" failures=\"0\""));
	assert_non_null(strstr(x, "<testcase classname=\"vigil\" name=\"run\" time=\"2.500\"/>"));
	assert_null(strstr(x, "<failure"));
	free(x);
}

static void test_results_and_escaping(void **state)
{
	struct vigil_test t[4];
	struct vigil_finding f;
	struct vigil_evidence ev;
	struct vigil_verdict v;
	char *x;

	(void)state;
	memset(t, 0, sizeof(t));
	memset(&f, 0, sizeof(f));
	memset(&ev, 0, sizeof(ev));
	memset(&v, 0, sizeof(v));
	strcpy(t[0].name, "ok<1>");
	t[0].outcome = VIGIL_TEST_PASS;
	t[0].duration_ns = 1000000;
	strcpy(t[1].name, "bad \"quote\" & 'apos'");
	strcpy(t[1].message, "line1\nline2\x01\xff\xc3\xa9");
	t[1].outcome = VIGIL_TEST_FAIL;
	strcpy(t[2].name, "skipped");
	t[2].outcome = VIGIL_TEST_SKIP;
	strcpy(t[3].name, "errored");
	t[3].outcome = VIGIL_TEST_ERROR;
	f.outcome = VIGIL_OUTCOME_WORKLOAD_FAILED;
	strcpy(f.detail, "exit </testcase>");
	strcpy(ev.line, "Kernel panic - not syncing: x");
	v.outcome = VIGIL_OUTCOME_WORKLOAD_FAILED;
	v.primary = &f;
	v.findings = &f;
	v.n_findings = 1;
	v.have_exit = true;
	v.exit_status = 3;
	v.tests = t;
	v.n_tests = 4;
	v.evidence = &ev;
	v.n_evidence = 1;
	x = render(&v);
	assert_non_null(strstr(x, "tests=\"5\" failures=\"2\" errors=\"1\" skipped=\"1\""));
	/* ERROR named as the verdict names it */
	assert_non_null(strstr(x, "name=\"errored\" time=\"0.000\"><error message=\"\" "
				  "type=\"ERROR\"/>"));
	assert_non_null(strstr(x, "name=\"ok&lt;1&gt;\" time=\"0.001\"/>"));
	assert_non_null(strstr(x, "name=\"bad &quot;quote&quot; &amp; &apos;apos&apos;\""));
	/* newline kept as a reference, control byte and invalid UTF-8 replaced,
	 * valid UTF-8 kept */
	assert_non_null(strstr(x, "message=\"line1&#10;line2??\xc3\xa9\" type=\"FAIL\""));
	assert_non_null(strstr(x, "<skipped message=\"\"/>"));
	/* the run's failure: the exit status, then the deciding finding's evidence */
	assert_non_null(strstr(x,
			       "<failure type=\"WORKLOAD_FAILED\" message=\"WORKLOAD_FAILED: "
			       "exit &lt;/testcase&gt;\">workload exit status 3&#10;Kernel panic - "
			       "not syncing: x&#10;"));
	/* exactly as many testcase elements as announced */
	{
		int n = 0;
		for (char *p = x; (p = strstr(p, "<testcase ")); p++)
			n++;
		assert_int_equal(n, 5);
	}
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_run),
		cmocka_unit_test(test_results_and_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
