/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/json.c: events render as one-line JSON objects with
 * the documented fields; guest bytes that are not UTF-8 come out escaped
 * and the output stays valid JSON; the verdict renders with its schema.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include <vigil/session.h>

static json_object *parse(const char *txt)
{
	json_object *o = json_tokener_parse(txt);

	assert_non_null(o);
	return o;
}

static json_object *get(json_object *o, const char *k)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, k, &v));
	return v;
}

static void test_stall_event(void **state)
{
	struct vigil_event ev = { .type = VIGIL_EV_STALL, .now_ns = 1000, .t_ns = 10 };
	char *txt = NULL;

	(void)state;
	ev.process.pid = 4242;
	ev.process.silence_ns = 5000000000ull;
	ev.process.deadline_ns = 5000000000ull;
	ev.process.host_starved = true;
	int n = vigil_event_to_json(&ev, &txt);

	assert_true(n > 0);
	assert_int_equal(strlen(txt), (size_t)n);
	assert_null(strchr(txt, '\n'));
	json_object *o = parse(txt);

	assert_string_equal(json_object_get_string(get(o, "event")), "stall");
	assert_int_equal(json_object_get_int64(get(o, "pid")), 4242);
	assert_int_equal(json_object_get_uint64(get(o, "silence_ns")), 5000000000ull);
	assert_true(json_object_get_boolean(get(o, "host_starved")));
	assert_int_equal(json_object_get_int64(get(o, "t_ns")), 10);
	json_object_put(o);
	free(txt);
}

static void test_output_not_utf8(void **state)
{
	static const uint8_t bytes[] = { 'o', 'k', 0xff, 0xc3, 0xa9, '"', '\n', 0xed, 0xa0, 0x80 };
	struct vigil_event ev = { .type = VIGIL_EV_OUTPUT };
	char *txt = NULL;

	(void)state;
	ev.output.stream = VIGIL_MSG_STDOUT;
	ev.output.crc_ok = false;
	ev.output.data = bytes;
	ev.output.len = sizeof(bytes);
	assert_true(vigil_event_to_json(&ev, &txt) > 0);
	json_object *o = parse(txt);

	assert_string_equal(json_object_get_string(get(o, "stream")), "stdout");
	assert_false(json_object_get_boolean(get(o, "crc_ok")));
	/* 0xff and the surrogate bytes escaped; é kept; quote and newline
	 * survive the round trip. */
	assert_string_equal(json_object_get_string(get(o, "text")),
			    "ok\\xff\xc3\xa9\"\n\\xed\\xa0\\x80");
	json_object_put(o);
	free(txt);
}

static void test_every_event_renders(void **state)
{
	struct vigil_verdict v;
	struct vigil_finding f = { .outcome = VIGIL_OUTCOME_LINK_LOST };

	(void)state;
	memset(&v, 0, sizeof(v));
	for (int t = VIGIL_EV_LINK_UP; t < VIGIL_EV__COUNT; t++) {
		struct vigil_event ev = { .type = (enum vigil_event_type)t };
		char *txt = NULL;

		if (t == VIGIL_EV_FINDING)
			ev.finding.finding = &f;
		if (t == VIGIL_EV_RUN_END)
			ev.run_end.verdict = &v;
		if (t == VIGIL_EV_ANOMALY)
			ev.anomaly.counter = "garbage_bytes";
		assert_true(vigil_event_to_json(&ev, &txt) > 0);
		json_object *o = parse(txt);

		assert_string_equal(json_object_get_string(get(o, "event")),
				    vigil_event_name((enum vigil_event_type)t));
		assert_string_not_equal(vigil_event_name((enum vigil_event_type)t), "unknown");
		json_object_put(o);
		free(txt);
	}
}

static void test_verdict_json(void **state)
{
	struct vigil_session *s;
	char *txt = NULL;
	uint8_t fb[64];

	(void)state;
	assert_int_equal(vigil_session_new(NULL, NULL, 0, &s), 0);
	int n = vigil_frame_seal(fb, sizeof(fb), VIGIL_MSG_SYS_RDY, 0, 0);

	vigil_session_feed(s, fb, (size_t)n, 10);
	vigil_session_console_line(s, 20, "bad \xfe byte", 10);
	vigil_session_harness_error(s, 30, "qemu exited");
	const struct vigil_verdict *v = vigil_session_finish(s, 40);

	assert_true(vigil_verdict_to_json(v, VIGIL_JSON_PRETTY, &txt) > 0);
	json_object *o = parse(txt);

	assert_int_equal(json_object_get_int(get(o, "verdict_version")), 1);
	assert_string_equal(json_object_get_string(get(o, "outcome")), "HARNESS_ERROR");
	assert_int_equal(json_object_get_int(get(o, "exit_code")), 125);
	json_object *p = get(o, "primary");

	assert_string_equal(json_object_get_string(get(p, "detail")), "qemu exited");
	json_object *tl = get(o, "timeline");

	assert_int_equal(json_object_get_int64(get(tl, "ready_ns")), 10);
	assert_null(get(tl, "exit_ns")); /* never happened */
	json_object *ev = get(o, "evidence");

	assert_int_equal(json_object_array_length(ev), 1);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(ev, 0), "line")),
			    "bad \\xfe byte");
	json_object *types = get(get(o, "counters"), "types");

	assert_int_equal(json_object_get_int(get(get(types, "SYS_RDY"), "frames")), 1);
	assert_non_null(get(o, "flows"));
	assert_non_null(get(get(o, "tests"), "results"));
	json_object_put(o);
	free(txt);
	vigil_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stall_event),
		cmocka_unit_test(test_output_not_utf8),
		cmocka_unit_test(test_every_event_renders),
		cmocka_unit_test(test_verdict_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
