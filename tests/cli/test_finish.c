/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/finish.c: hints, the verdict JSON with provenance, JUnit. */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "finish.h"
#include "junit.h"

#define T0 1000000000ull

static uint8_t fb[VIGIL_WIRE_MAX_FRAME];
static uint32_t seq;

static void send_frame(struct vigil_session *s, uint16_t type, int plen)
{
	int n;

	assert_true(plen >= 0);
	n = vigil_frame_seal(fb, sizeof(fb), type, seq++, (size_t)plen);
	assert_true(n > 0);
	assert_true(vigil_session_feed(s, fb, (size_t)n, T0 + seq * 1000000ull) >= 0);
}

/* A run: HELLO, SYS_RDY, some stdout, EXIT status. */
static const struct vigil_verdict *run_exit(struct vigil_session **s, int32_t status,
					    const char *out)
{
	struct vigil_hello h = { .proto_version = 1,
				 .agent_version = VIGIL_STR("0.1.0"),
				 .kernel_release = VIGIL_STR("6.1"),
				 .hostname = VIGIL_STR("g") };
	struct vigil_exit x = { .exit_status = status };
	uint8_t *pl = fb + VIGIL_WIRE_HDR_LEN;

	seq = 0;
	assert_int_equal(vigil_session_new(NULL, NULL, T0, s), 0);
	vigil_session_link_up(*s, T0);
	send_frame(*s, VIGIL_MSG_HELLO, vigil_hello_encode(pl, sizeof(fb) - 24, &h));
	send_frame(*s, VIGIL_MSG_SYS_RDY, 0);
	memcpy(pl, out, strlen(out));
	send_frame(*s, VIGIL_MSG_STDOUT, (int)strlen(out));
	send_frame(*s, VIGIL_MSG_EXIT, vigil_exit_encode(pl, sizeof(fb) - 24, &x));
	return vigil_session_finish(*s, T0 + 5000000000ull);
}

static void test_hint_127(void **state)
{
	struct vigil_session *s;
	const struct vigil_verdict *v = run_exit(&s, 127, "sh: ./my-test: not found\n");

	(void)state;
	assert_int_equal(v->outcome, VIGIL_OUTCOME_WORKLOAD_FAILED);
	assert_int_equal(vigil_verdict_exit_code(v), 123);
	assert_non_null(strstr(vigil_verdict_hint(v, VIGIL_ROOT_IMAGE), "--exe"));
	assert_null(vigil_verdict_hint(v, VIGIL_ROOT_OTHER)); /* a given initrd: not ours to say */
	assert_non_null(strstr(vigil_verdict_hint(v, VIGIL_ROOT_HOST), "--show"));
	vigil_session_free(s);
	v = run_exit(&s, 0, "fine\n");
	assert_null(vigil_verdict_hint(v, VIGIL_ROOT_IMAGE));
	vigil_session_free(s);
}

/* A guest stall's line: its cause, its silence, what folded into it; a
 * cause it does not know is said plainly. */
static void test_guest_stall_words(void **state)
{
	struct vigil_stall_info in = { .cls = VIGIL_STALL_GUEST,
				       .cause = VIGIL_GSTALL_SILENCE,
				       .silence_ns = 1170000000ull };
	char w[160];

	(void)state;
	vigil_guest_stall_words(&in, w, sizeof(w));
	assert_string_equal(w, "the guest stalled: nothing came from it for 1.17 s");
	in.folded = 1;
	in.folded_pids[0] = 82;
	in.cause = VIGIL_GSTALL_AGENT_BEAT;
	vigil_guest_stall_words(&in, w, sizeof(w));
	assert_string_equal(w, "the guest stalled: the agent's own beat is overdue for 1.17 s "
			       "(pid 82 folded in)");
	in.folded = 12;
	in.cause = (enum vigil_guest_stall_cause)99;
	vigil_guest_stall_words(&in, w, sizeof(w));
	assert_string_equal(w, "the guest stalled: the agent did not run for 1.17 s "
			       "(12 process stalls folded in)");
}

static void test_verdict_json_provenance(void **state)
{
	struct vigil_session *s;
	const struct vigil_verdict *v = run_exit(&s, 127, "x\n");
	struct json_object *prov = json_object_new_object(), *o, *x;
	struct vigil_finish_in in = { .v = v, .provenance = prov, .root = VIGIL_ROOT_IMAGE };
	char *json;

	(void)state;
	json_object_object_add(prov, "vigil_version", json_object_new_string("9.9"));
	assert_true(vigil_finish_verdict_json(&in, &json) > 0);
	/* the library's layout is kept: two-space pretty print */
	assert_non_null(strstr(json, "\n  \"outcome\": \"WORKLOAD_FAILED\""));
	o = json_tokener_parse(json);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "provenance", &x));
	assert_true(json_object_object_get_ex(x, "vigil_version", &x));
	assert_string_equal(json_object_get_string(x), "9.9");
	assert_true(json_object_object_get_ex(o, "hints", &x));
	assert_int_equal(json_object_array_length(x), 1);
	json_object_put(o);
	json_object_put(prov);
	free(json);
	vigil_session_free(s);
}

static void test_junit_failure_body(void **state)
{
	struct vigil_session *s;
	const struct vigil_verdict *v = run_exit(&s, 3, "line one\nthe last words <before> exit\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(vigil_junit_write(f, v, "vigil"), 0);
	fclose(f);
	assert_non_null(strstr(buf, "type=\"WORKLOAD_FAILED\""));
	assert_non_null(strstr(buf, "workload exit status 3"));
	assert_non_null(strstr(buf, "the last words &lt;before&gt; exit"));
	free(buf);
	vigil_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hint_127),
		cmocka_unit_test(test_guest_stall_words),
		cmocka_unit_test(test_verdict_json_provenance),
		cmocka_unit_test(test_junit_failure_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
