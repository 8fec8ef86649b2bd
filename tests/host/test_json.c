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
#include <stdio.h>
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

/* HELLO's agent pid is in its JSON when the event's size covers the
 * field: an event an older caller built has none. */
static void test_hello_agent_pid(void **state)
{
	struct vigil_event ev = { .sz = sizeof(ev), .type = VIGIL_EV_HELLO, .hello_agent_pid = 79 };
	char *txt = NULL;
	json_object *o, *v = NULL;

	(void)state;
	assert_true(vigil_event_to_json(&ev, &txt) > 0);
	o = parse(txt);
	assert_int_equal(json_object_get_int64(get(o, "agent_pid")), 79);
	json_object_put(o);
	free(txt);
	ev.sz = offsetof(struct vigil_event, hello_agent_pid);
	assert_true(vigil_event_to_json(&ev, &txt) > 0);
	o = parse(txt);
	assert_false(json_object_object_get_ex(o, "agent_pid", &v));
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
	struct vigil_flow fl = { .family = 4, .protocol = 6, .event = VIGIL_FLOW_OPENED };

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
		if (t == VIGIL_EV_FLOW)
			ev.flow.flow = &fl;
		assert_true(vigil_event_to_json(&ev, &txt) > 0);
		json_object *o = parse(txt);

		assert_string_equal(json_object_get_string(get(o, "event")),
				    vigil_event_name((enum vigil_event_type)t));
		assert_string_not_equal(vigil_event_name((enum vigil_event_type)t), "unknown");
		json_object_put(o);
		free(txt);
	}
}

/* ---- output events: the direct writer against json-c -------------------- */

/*
 * Naive reference of the documented escaping: a byte run is kept when it is
 * a well-formed UTF-8 sequence by the Unicode standard's table of byte
 * ranges (3.9, table 3-7), every other byte becomes the four characters
 * \xNN. Returns the length written to out (room: 4 * len + 1).
 */
static size_t ref_escape(const uint8_t *p, size_t len, char *out)
{
	static const struct {
		uint8_t lo[4], hi[4];
		size_t n;
	} forms[] = {
		{ { 0x00 }, { 0x7f }, 1 },
		{ { 0xc2, 0x80 }, { 0xdf, 0xbf }, 2 },
		{ { 0xe0, 0xa0, 0x80 }, { 0xe0, 0xbf, 0xbf }, 3 },
		{ { 0xe1, 0x80, 0x80 }, { 0xec, 0xbf, 0xbf }, 3 },
		{ { 0xed, 0x80, 0x80 }, { 0xed, 0x9f, 0xbf }, 3 },
		{ { 0xee, 0x80, 0x80 }, { 0xef, 0xbf, 0xbf }, 3 },
		{ { 0xf0, 0x90, 0x80, 0x80 }, { 0xf0, 0xbf, 0xbf, 0xbf }, 4 },
		{ { 0xf1, 0x80, 0x80, 0x80 }, { 0xf3, 0xbf, 0xbf, 0xbf }, 4 },
		{ { 0xf4, 0x80, 0x80, 0x80 }, { 0xf4, 0x8f, 0xbf, 0xbf }, 4 },
	};
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t k = 0;

		for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]) && !k; f++) {
			size_t j;

			if (forms[f].n > len - i)
				continue;
			for (j = 0; j < forms[f].n; j++)
				if (p[i + j] < forms[f].lo[j] || p[i + j] > forms[f].hi[j])
					break;
			if (j == forms[f].n)
				k = forms[f].n;
		}
		if (k) {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		} else {
			o += (size_t)sprintf(out + o, "\\x%02x", p[i]);
			i++;
		}
	}
	out[o] = '\0';
	return o;
}

/* The output event as json-c renders it, fields in the documented order. */
static char *ref_output_json(const struct vigil_event *ev)
{
	static const char *const streams[] = { [VIGIL_MSG_STDOUT] = "stdout",
					       [VIGIL_MSG_STDERR] = "stderr",
					       [VIGIL_MSG_DMESG] = "dmesg",
					       [VIGIL_MSG_LOG] = "log" };
	char *text = malloc(4 * (size_t)ev->output.len + 1);
	size_t tn;
	json_object *o = json_object_new_object();

	assert_non_null(text);
	tn = ref_escape(ev->output.data, ev->output.len, text);
	json_object_object_add(o, "event", json_object_new_string("output"));
	json_object_object_add(o, "t_ns", json_object_new_uint64(ev->t_ns));
	json_object_object_add(o, "mono_ns", json_object_new_uint64(ev->now_ns));
	json_object_object_add(o, "stream", json_object_new_string(streams[ev->output.stream]));
	json_object_object_add(o, "crc_ok", json_object_new_boolean(ev->output.crc_ok));
	if (ev->output.stream == VIGIL_MSG_DMESG || ev->output.stream == VIGIL_MSG_LOG)
		json_object_object_add(o, "level", json_object_new_uint64(ev->output.level));
	if (ev->output.stream == VIGIL_MSG_DMESG) {
		json_object_object_add(o, "kmsg_seq", json_object_new_uint64(ev->output.kmsg_seq));
		json_object_object_add(o, "ts_us", json_object_new_uint64(ev->output.ts_us));
	}
	json_object_object_add(o, "text", json_object_new_string_len(text, (int)tn));
	char *r = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	free(text);
	assert_non_null(r);
	return r;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random text biased to the interesting bytes: controls, quotes,
 * backslashes, lead and continuation bytes, whole valid sequences. */
static void fill_tricky(uint8_t *p, size_t len)
{
	static const uint8_t pool[] = { 0,    1,    8,    9,    10,   11,   12,   13,
					0x1f, '"',  '\\', '/',  'a',  ' ',  0x7f, 0x80,
					0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef,
					0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x8f, 0x90 };
	static const char *const seqs[] = { "\xc3\xa9",     "\xe2\x82\xac",     "\xf0\x9f\x98\x80",
					    "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf", "plain text!" };

	for (size_t i = 0; i < len;) {
		uint64_t r = rnd();

		if (r % 4 == 0) {
			const char *q = seqs[(r >> 8) % 6];
			size_t n = strlen(q);

			if (n > len - i)
				n = len - i; /* a sequence cut by the end */
			memcpy(p + i, q, n);
			i += n;
		} else if (r % 4 == 1) {
			p[i++] = (uint8_t)(r >> 16);
		} else {
			p[i++] = pool[(r >> 16) % sizeof(pool)];
		}
	}
}

static void check_output(const uint8_t *data, uint32_t len, uint16_t stream, bool crc_ok,
			 uint64_t t)
{
	struct vigil_event ev = { .type = VIGIL_EV_OUTPUT, .now_ns = t * 7 + 1, .t_ns = t };
	char *got = NULL;

	ev.output.stream = stream;
	ev.output.crc_ok = crc_ok;
	ev.output.level = (uint8_t)t;
	ev.output.kmsg_seq = UINT64_MAX - t;
	ev.output.ts_us = t * 1000;
	ev.output.data = data;
	ev.output.len = len;
	int n = vigil_event_to_json(&ev, &got);
	char *want = ref_output_json(&ev);

	assert_true(n >= 0);
	assert_int_equal(strlen(got), (size_t)n);
	assert_string_equal(got, want);
	/* the allocation-free renderer writes the same bytes; too small a
	 * buffer is refused, never overrun */
	{
		static char rb[VIGIL_EVENT_RENDER_MAX];
		assert_int_equal(vigil_event_render(&ev, rb, sizeof(rb)), n);
		assert_string_equal(rb, want);
		assert_int_equal(vigil_event_render(&ev, rb, 16), -ENOBUFS);
	}
	/* and it parses back to the escaped text */
	json_object *o = parse(got);
	char *esc = malloc(4 * (size_t)len + 1);

	assert_non_null(esc);
	size_t en = ref_escape(data, len, esc);

	assert_int_equal((size_t)json_object_get_string_len(get(o, "text")), en);
	assert_memory_equal(json_object_get_string(get(o, "text")), esc, en);
	free(esc);
	json_object_put(o);
	free(got);
	free(want);
}

static void test_output_matches_jsonc(void **state)
{
	static const uint16_t streams[] = { VIGIL_MSG_STDOUT, VIGIL_MSG_STDERR, VIGIL_MSG_DMESG,
					    VIGIL_MSG_LOG };
	static uint8_t buf[70000];

	(void)state;
	/* Every single byte, and every pair of bytes starting with a high one
	 * at each position of an 8-byte word. */
	for (uint32_t c = 0; c < 256; c++) {
		uint8_t one = (uint8_t)c;

		check_output(&one, 1, VIGIL_MSG_STDOUT, true, c);
		for (uint32_t at = 0; at < 10; at++) {
			memset(buf, 'x', 12);
			buf[at] = (uint8_t)c;
			buf[at + 1] = (uint8_t)(0x80 + c % 64);
			check_output(buf, 12, VIGIL_MSG_STDERR, false, at);
		}
	}
	/* Lengths 0..80 and random lengths, all streams. */
	for (uint32_t i = 0; i < 3000; i++) {
		uint32_t len = i < 81 ? i : (uint32_t)(rnd() % 600);

		fill_tricky(buf, len);
		check_output(buf, len, streams[i % 4], i % 3 != 0, rnd());
	}
	/* One chunk as large as a frame carries, random bytes, and clean
	 * text with one escape at the very end. */
	for (size_t i = 0; i < 65536; i++)
		buf[i] = (uint8_t)rnd();
	check_output(buf, 65536, VIGIL_MSG_STDOUT, true, 1);
	memset(buf, 'a', 65536);
	buf[65535] = '\n';
	check_output(buf, 65536, VIGIL_MSG_STDOUT, true, 2);
	/* No data pointer with a zero length. */
	check_output(NULL, 0, VIGIL_MSG_LOG, true, 3);
}

static void test_flow_event(void **state)
{
	struct vigil_flow fl = { .family = 4, .protocol = 6, .event = VIGIL_FLOW_OPENED };
	struct vigil_event ev = { .type = VIGIL_EV_FLOW, .now_ns = 5, .t_ns = 4 };
	char *txt = NULL;

	(void)state;
	fl.src_addr[0] = 127;
	fl.src_addr[3] = 1;
	fl.dst_addr[0] = 10;
	fl.dst_addr[1] = 255;
	fl.dst_addr[3] = 7;
	fl.src_port = 40000;
	fl.dst_port = 5555;
	fl.bytes = 1ull << 40;
	fl.packets = 12;
	fl.pid = 77;
	ev.flow.flow = &fl;
	assert_true(vigil_event_to_json(&ev, &txt) > 0);
	json_object *o = parse(txt);

	assert_string_equal(json_object_get_string(get(o, "event")), "flow");
	assert_string_equal(json_object_get_string(get(o, "state")), "opened");
	assert_int_equal(json_object_get_int(get(o, "family")), 4);
	assert_int_equal(json_object_get_int(get(o, "protocol")), 6);
	assert_string_equal(json_object_get_string(get(o, "src_addr")), "127.0.0.1");
	assert_string_equal(json_object_get_string(get(o, "dst_addr")), "10.255.0.7");
	assert_int_equal(json_object_get_int(get(o, "src_port")), 40000);
	assert_int_equal(json_object_get_int(get(o, "dst_port")), 5555);
	assert_int_equal(json_object_get_uint64(get(o, "bytes")), 1ull << 40);
	assert_int_equal(json_object_get_int(get(o, "packets")), 12);
	assert_int_equal(json_object_get_int(get(o, "pid")), 77);
	assert_false(json_object_get_boolean(get(o, "listen")));
	json_object_put(o);
	free(txt);

	/* No peer: a listening socket. */
	memset(fl.dst_addr, 0, 16);
	fl.dst_port = 0;
	assert_true(vigil_event_to_json(&ev, &txt) > 0);
	o = parse(txt);
	assert_true(json_object_get_boolean(get(o, "listen")));
	assert_string_equal(json_object_get_string(get(o, "dst_addr")), "0.0.0.0");
	json_object_put(o);
	free(txt);
	fl.dst_port = 5555;

	/* IPv6, closed: the shortest text form. */
	memset(fl.src_addr, 0, 16);
	memset(fl.dst_addr, 0, 16);
	fl.family = 6;
	fl.event = VIGIL_FLOW_CLOSED;
	fl.src_addr[15] = 1;
	fl.dst_addr[0] = 0x20;
	fl.dst_addr[1] = 0x01;
	fl.dst_addr[2] = 0x0d;
	fl.dst_addr[3] = 0xb8;
	fl.dst_addr[15] = 0x2a;
	assert_true(vigil_event_to_json(&ev, &txt) > 0);
	o = parse(txt);
	assert_string_equal(json_object_get_string(get(o, "state")), "closed");
	assert_int_equal(json_object_get_int(get(o, "family")), 6);
	assert_string_equal(json_object_get_string(get(o, "src_addr")), "::1");
	assert_string_equal(json_object_get_string(get(o, "dst_addr")), "2001:db8::2a");
	json_object_put(o);
	free(txt);
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

	assert_int_equal(json_object_get_int(get(o, "verdict_version")), 2);
	assert_string_equal(json_object_get_string(get(o, "outcome")), "HARNESS_ERROR");
	assert_int_equal(json_object_get_int(get(o, "exit_code")), 125);
	json_object *p = get(o, "primary");

	assert_string_equal(json_object_get_string(get(p, "detail")), "qemu exited");
	json_object *tl = get(o, "timeline");

	assert_int_equal(json_object_get_int64(get(tl, "ready_ns")), 10);
	assert_null(get(tl, "exit_ns")); /* never happened */
	/* Evidence belongs to findings: a console line that explains none is
	 * not in the verdict. */
	assert_false(json_object_object_get_ex(o, "evidence", NULL));
	assert_true(json_object_get_boolean(get(p, "fatal")));
	assert_int_equal(json_object_array_length(get(p, "evidence")), 0);
	assert_false(json_object_object_get_ex(p, "recovered", NULL));
	json_object *types = get(get(o, "counters"), "types");

	assert_int_equal(json_object_get_int(get(get(types, "SYS_RDY"), "frames")), 1);
	assert_non_null(get(o, "flows"));
	assert_non_null(get(get(o, "tests"), "results"));
	json_object_put(o);
	free(txt);
	vigil_session_free(s);
}

/* Per-finding evidence, non-fatal findings, stall recovery, kernel trouble
 * counters. */
static void test_verdict_findings_json(void **state)
{
	VIGIL_SESSION_OPTS(so, .stall_threshold_ns = 1000000000ull);
	struct vigil_session *s;
	uint8_t fb[256];
	struct vigil_beat b = { .pid = 77, .nonce = 1 };
	char *txt = NULL;
	int n;

	(void)state;
	assert_int_equal(vigil_session_new(&so, NULL, 0, &s), 0);
	n = vigil_frame_seal(fb, sizeof(fb), VIGIL_MSG_SYS_RDY, 0, 0);
	vigil_session_feed(s, fb, (size_t)n, 1);
	n = vigil_frame_seal(fb, sizeof(fb), VIGIL_MSG_BEAT, 1,
			     (size_t)vigil_beats_encode(fb + VIGIL_WIRE_HDR_LEN,
							sizeof(fb) - VIGIL_WIRE_HDR_LEN, &b, 1));
	vigil_session_feed(s, fb, (size_t)n, 1);
	vigil_session_tick(s, 2000000000ull);
	b.nonce = 2;
	n = vigil_frame_seal(fb, sizeof(fb), VIGIL_MSG_BEAT, 2,
			     (size_t)vigil_beats_encode(fb + VIGIL_WIRE_HDR_LEN,
							sizeof(fb) - VIGIL_WIRE_HDR_LEN, &b, 1));
	vigil_session_feed(s, fb, (size_t)n, 3500000001ull);
	vigil_session_console_line(s, 4000000000ull, "[ 4.0] BUG: kernel NULL pointer dereference",
				   43);
	vigil_session_console_line(s, 4000000000ull, "[ 4.0] Call Trace:", 18);
	vigil_session_harness_error(s, 5000000000ull, "qmp gone");
	const struct vigil_verdict *v = vigil_session_finish(s, 6000000000ull);

	assert_true(vigil_verdict_to_json(v, 0, &txt) > 0);
	json_object *o = parse(txt);
	json_object *fs = get(o, "findings");

	assert_string_equal(json_object_get_string(get(o, "outcome")), "HARNESS_ERROR");
	assert_int_equal(json_object_array_length(fs), 3);
	json_object *st = json_object_array_get_idx(fs, 0);

	assert_string_equal(json_object_get_string(get(st, "outcome")), "PROCESS_STALL");
	assert_false(json_object_get_boolean(get(st, "fatal")));
	assert_true(json_object_get_boolean(get(st, "recovered")));
	assert_int_equal(json_object_get_int64(get(st, "recovered_ns")), 3500000001ll);
	assert_int_equal(json_object_get_int64(get(st, "recovery_silence_ns")), 3500000000ll);
	assert_true(json_object_get_double(get(st, "recovered_after_s")) > 3.49);
	json_object *kt = json_object_array_get_idx(fs, 1);

	assert_string_equal(json_object_get_string(get(kt, "outcome")), "KERNEL_TROUBLE");
	assert_string_equal(json_object_get_string(get(kt, "trouble")), "bug");
	assert_false(json_object_get_boolean(get(kt, "fatal")));
	json_object *ev = get(kt, "evidence");

	assert_int_equal(json_object_array_length(ev), 2);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(ev, 1), "line")),
			    "[ 4.0] Call Trace:");
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(ev, 1), "source")),
			    "console");
	json_object *c = get(o, "counters");

	assert_int_equal(json_object_get_int(get(get(c, "kernel_trouble"), "bug")), 1);
	assert_int_equal(json_object_get_int(get(get(c, "kernel_trouble"), "oom")), 0);
	assert_int_equal(json_object_get_int(get(get(c, "session"), "findings_dropped")), 0);
	assert_string_equal(json_object_get_string(get(get(o, "primary"), "detail")), "qmp gone");
	json_object_put(o);
	free(txt);
	vigil_session_free(s);
}

/* A FINDING event says whether the finding is fatal. */
static void test_finding_event(void **state)
{
	struct vigil_finding f = { .outcome = VIGIL_OUTCOME_KERNEL_TROUBLE,
				   .kind = VIGIL_KT_OOM,
				   .pid = 5 };
	struct vigil_event ev = { .type = VIGIL_EV_FINDING, .finding.finding = &f };
	char *txt = NULL;

	(void)state;
	assert_true(vigil_event_to_json(&ev, &txt) > 0);
	json_object *o = parse(txt);
	json_object *x = get(o, "finding");

	assert_false(json_object_get_boolean(get(x, "fatal")));
	assert_string_equal(json_object_get_string(get(x, "trouble")), "oom");
	assert_false(json_object_object_get_ex(x, "evidence", NULL));
	json_object_put(o);
	free(txt);
}

/* The JSON key order of an object, joined with ',' into buf. */
static const char *keys(json_object *o, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", k);
		assert_true(n < cap);
	}
	return buf;
}

/* Where the verdict shows counter d's element e. */
static json_object *counter_at(json_object *o, const struct vigil_counter_desc *d, uint32_t e)
{
	json_object *g =
	    strcmp(d->group, "flows") ? get(get(o, "counters"), d->group) : get(o, "flows");

	if (d->index == VIGIL_COUNTER_BY_MSG_TYPE)
		return get(get(g, vigil_counter_label(d, e)), d->field);
	if (d->index == VIGIL_COUNTER_BY_KERNEL_TROUBLE)
		return get(g, vigil_counter_label(d, e));
	return get(g, d->field);
}

/*
 * The verdict's counters come from the descriptor table: every described
 * value shows at its group and key, and the keys keep the documented order
 * (docs/verdict.md).
 */
static void test_verdict_counters_from_table(void **state)
{
	static const char *const order[][2] = {
		{ "stream", "bytes,frames,garbage_bytes,header_crc_errors,oversize_frames,"
			    "payload_crc_errors,lost_frames,seq_regressions,epochs,resets,"
			    "frame_bytes,held_bytes,held_dropped_bytes,unknown_type,wrong_direction" },
		{ "session",
		  "epochs,agent_restarts,proto_mismatch,sys_rdy_repeats,scenario_double_pause,"
		  "scenario_unmatched,scenario_overlap,scenarios_dropped,snapshot_busy,"
		  "snapshot_unsupported,snapshot_refused,snapshot_duplicates,tests_dropped,"
		  "output_bytes,output_torn,exits_ignored,strings_truncated,tx_frames,tx_bytes,"
		  "tx_errors,pings,pongs,pong_unmatched,rtt_last_ns,rtt_min_ns,rtt_max_ns,"
		  "clock_regressions,clock_forward_jumps,vm_stops,vm_stopped_ns,"
		  "host_read_pauses,host_read_paused_ns,link_ups,link_downs,evidence_lines,"
		  "findings_dropped,evidence_dropped,"
		  "kernel_trouble_dropped" },
		{ "kernel_trouble", "panic,oops,bug,warning,oom,hung_task,soft_lockup,rcu_stall" },
		{ "tracker", "beats,drop_out_of_order,drop_capacity,drop_origin_conflict,"
			     "drop_namespace_conflict,drop_malformed,drop_rate_limited,"
			     "drop_throttled,probe_exhausted,nonce_wraps,inserted,evicted,stopped,"
			     "stalls,recoveries,host_starved,tracked,stalled" },
	};
	struct vigil_verdict v;
	VIGIL_SESSION_COUNTERS(c);
	size_t n;
	const struct vigil_counter_desc *d = vigil_session_counter_descs(&n);
	char *txt = NULL;
	char buf[1024];

	(void)state;
	memset(&v, 0, sizeof(v));
	v.counters = &c;
	for (size_t i = 0; i < n; i++)
		for (uint32_t e = 0; e < d[i].count; e++) {
			uint64_t val = 1000 * (i + 1) + e;
			uint8_t *p = (uint8_t *)&c + d[i].offset + e * d[i].stride;

			if (d[i].size == 4)
				memcpy(p, &(uint32_t){ (uint32_t)val }, 4);
			else
				memcpy(p, &val, 8);
		}
	assert_true(vigil_verdict_to_json(&v, 0, &txt) > 0);
	json_object *o = parse(txt);

	for (size_t i = 0; i < n; i++)
		for (uint32_t e = 0; e < d[i].count; e++)
			if (d[i].index == VIGIL_COUNTER_SCALAR || vigil_counter_label(&d[i], e))
				assert_int_equal(json_object_get_uint64(counter_at(o, &d[i], e)),
						 1000 * (i + 1) + e);
	assert_string_equal(keys(get(o, "counters"), buf, sizeof(buf)),
			    "stream,types,session,kernel_trouble,tracker,inspect");
	for (size_t g = 0; g < sizeof(order) / sizeof(order[0]); g++)
		assert_string_equal(keys(get(get(o, "counters"), order[g][0]), buf, sizeof(buf)),
				    order[g][1]);
	assert_string_equal(keys(get(get(get(o, "counters"), "types"), "BEAT"), buf, sizeof(buf)),
			    "frames,crc_rejected,malformed,ignored");
	assert_string_equal(keys(get(o, "flows"), buf, sizeof(buf)),
			    "events,opened,unique,closed,open_now,in_table,bytes,packets,"
			    "table_full,reclaimed,dropped,orphan_close,listening");
	json_object_put(o);
	free(txt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stall_event),
		cmocka_unit_test(test_hello_agent_pid),
		cmocka_unit_test(test_output_not_utf8),
		cmocka_unit_test(test_every_event_renders),
		cmocka_unit_test(test_output_matches_jsonc),
		cmocka_unit_test(test_flow_event),
		cmocka_unit_test(test_verdict_json),
		cmocka_unit_test(test_verdict_findings_json),
		cmocka_unit_test(test_finding_event),
		cmocka_unit_test(test_verdict_counters_from_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
