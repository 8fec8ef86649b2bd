/* SPDX-License-Identifier: MIT */
/*
 * Payload codecs: a round trip of every type, the shape rules at their
 * boundaries, and decoding of a truncated payload at every length (the
 * decoder must fail cleanly, never read past the end: run under ASan with
 * each payload copied into an exactly sized heap buffer).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vigil/wire.h>

static uint8_t pl[VIGIL_WIRE_MAX_PAYLOAD + 64];
static char big[VIGIL_WIRE_STR_MAX + 2];

static bool str_eq(struct vigil_str s, const char *want, size_t n)
{
	return s.len == n && (n == 0 || memcmp(s.ptr, want, n) == 0);
}

/* Decode with the payload in an exactly sized heap copy (ASan bounds). */
static int check_exact(uint16_t type, const uint8_t *p, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, p, len);
	rc = vigil_payload_check(type, copy, len);
	free(copy);
	return rc;
}

/* Every proper prefix of a well-formed payload whose fields are all needed
 * must be malformed; the full payload must be fine. */
static void check_prefixes(uint16_t type, const uint8_t *p, size_t len)
{
	assert_int_equal(check_exact(type, p, len), 0);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(check_exact(type, p, n), -EBADMSG);
}

static void test_hello(void **state)
{
	struct vigil_hello in = {
		.proto_version = 1,
		.capabilities = 0x1f,
		.guest_boottime_ns = 123456789,
		.agent_version = VIGIL_STR("vigil-agent 0.1"),
		.kernel_release = VIGIL_STR("6.1.0-56-cloud-amd64"),
		.hostname = VIGIL_STR(""),
	}, out;
	int n;

	(void)state;
	n = vigil_hello_encode(pl, sizeof(pl), &in);
	assert_int_equal(n, 16 + 2 + 15 + 2 + 20 + 2);
	assert_int_equal(vigil_hello_decode(pl, (size_t)n, &out), 0);
	assert_int_equal(out.proto_version, 1);
	assert_int_equal(out.capabilities, 0x1f);
	assert_int_equal(out.guest_boottime_ns, 123456789);
	assert_true(str_eq(out.agent_version, "vigil-agent 0.1", 15));
	assert_true(str_eq(out.kernel_release, "6.1.0-56-cloud-amd64", 20));
	assert_true(str_eq(out.hostname, "", 0));
	check_prefixes(VIGIL_MSG_HELLO, pl, (size_t)n);
	/* Trailing bytes are room for later versions. */
	assert_int_equal(vigil_payload_check(VIGIL_MSG_HELLO, pl, (size_t)n + 5), 0);
	assert_int_equal(vigil_hello_encode(pl, (size_t)n - 1, &in), -ENOBUFS);
}

static void test_strings_limit(void **state)
{
	struct vigil_str s;
	int n;

	(void)state;
	memset(big, 'x', sizeof(big));
	n = vigil_scenario_encode(pl, sizeof(pl), (struct vigil_str){ big, 4096 });
	assert_int_equal(n, 4098);
	assert_int_equal(vigil_scenario_decode(pl, (size_t)n, &s), 0);
	assert_int_equal(s.len, 4096);
	assert_int_equal(vigil_scenario_encode(pl, sizeof(pl), (struct vigil_str){ big, 4097 }),
			 -EINVAL);
	/* A hand-made 4097-byte string is malformed. */
	vigil_put16(pl, 4097);
	memset(pl + 2, 'x', 4097);
	assert_int_equal(vigil_scenario_decode(pl, 4099, &s), -EBADMSG);
	/* A string running past the payload. */
	vigil_put16(pl, 10);
	assert_int_equal(vigil_scenario_decode(pl, 11, &s), -EBADMSG);
	/* Empty names are fine. */
	vigil_put16(pl, 0);
	assert_int_equal(vigil_scenario_decode(pl, 2, &s), 0);
	assert_int_equal(s.len, 0);
}

static void test_sys_rdy_shutdown(void **state)
{
	(void)state;
	assert_int_equal(vigil_sys_rdy_decode(pl, 0), 0);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_SYS_RDY, pl, 1), -EBADMSG);
	assert_int_equal(vigil_shutdown_encode(pl, sizeof(pl)), 4);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_SHUTDOWN, pl, 0), 0);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_SHUTDOWN, pl, 4), 0);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_STDOUT, pl, 0), 0);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_STDERR, pl, 65536), 0);
	assert_int_equal(vigil_payload_check(0x0013, pl, 0), -ENOMSG);
	assert_int_equal(vigil_payload_check(0x8000, pl, 0), -ENOMSG);
}

static struct vigil_beat mkbeat(uint32_t i)
{
	return (struct vigil_beat){
		.pid = 2 + i,
		.app_payload = i * 7,
		.nonce = 1000 + i,
		.guest_mono_ns = 5000000000ull + i,
		.pidns_inode = 4026531836ull,
		.status = (uint16_t)(i % 4),
		.origin = (uint8_t)(i % 3),
		.deadline_ms = i % 500,
	};
}

static void test_beats(void **state)
{
	static struct vigil_beat in[1025];
	struct vigil_records r;
	struct vigil_beat b;
	int n;

	(void)state;
	for (uint32_t i = 0; i < 1025; i++)
		in[i] = mkbeat(i);
	n = vigil_beats_encode(pl, sizeof(pl), in, 1024);
	assert_int_equal(n, 1024 * 40);
	assert_int_equal(vigil_beats_decode(pl, (size_t)n, &r), 0);
	assert_int_equal(r.count, 1024);
	for (uint32_t i = 0; i < r.count; i++) {
		vigil_beat_get(&r, i, &b);
		assert_int_equal(b.pid, in[i].pid);
		assert_int_equal(b.app_payload, in[i].app_payload);
		assert_int_equal(b.nonce, in[i].nonce);
		assert_int_equal(b.guest_mono_ns, in[i].guest_mono_ns);
		assert_int_equal(b.pidns_inode, in[i].pidns_inode);
		assert_int_equal(b.status, in[i].status);
		assert_int_equal(b.origin, in[i].origin);
		assert_int_equal(b.deadline_ms, in[i].deadline_ms);
	}
	assert_int_equal(vigil_beats_encode(pl, sizeof(pl), in, 1025), -EINVAL);
	assert_int_equal(vigil_beats_encode(pl, sizeof(pl), in, 0), -EINVAL);
	assert_int_equal(vigil_beats_encode(pl, 79, in, 2), -ENOBUFS);
	/* 1025 records by hand, count 0, and a length not a multiple of 40. */
	memcpy(pl + 1024 * 40, pl, 40);
	assert_int_equal(vigil_beats_decode(pl, 1025 * 40, &r), -EBADMSG);
	assert_int_equal(vigil_beats_decode(pl, 0, &r), -EBADMSG);
	assert_int_equal(vigil_beats_decode(pl, 41, &r), -EBADMSG);
	assert_int_equal(vigil_beats_decode(pl, 39, &r), -EBADMSG);
	/* pid 0 and 1, status 4: one bad record spoils the frame. */
	for (uint32_t bad = 0; bad < 3; bad++) {
		n = vigil_beats_encode(pl, sizeof(pl), in, 3);
		if (bad < 2)
			vigil_put32(pl + 80, bad);
		else
			vigil_put16(pl + 80 + 32, 4);
		assert_int_equal(vigil_beats_decode(pl, (size_t)n, &r), -EBADMSG);
	}
	in[0].pid = 1;
	assert_int_equal(vigil_beats_encode(pl, sizeof(pl), in, 1), -EINVAL);
	/* Unknown origin values are kept. */
	in[0] = mkbeat(0);
	in[0].origin = 200;
	n = vigil_beats_encode(pl, sizeof(pl), in, 1);
	assert_int_equal(vigil_beats_decode(pl, (size_t)n, &r), 0);
	vigil_beat_get(&r, 0, &b);
	assert_int_equal(b.origin, 200);
}

static void test_flows(void **state)
{
	struct vigil_flow in[2] = {
		{ .family = 4, .protocol = 6, .event = 1, .verdict = 1, .src_port = 41000,
		  .dst_port = 443, .src_addr = { 10, 0, 2, 15 }, .dst_addr = { 93, 184, 216, 34 },
		  .first_seen_ns = 1000, .bytes = 0, .packets = 0, .pid = 77 },
		{ .family = 6, .protocol = 17, .event = 2, .verdict = 9, .src_port = 5353,
		  .dst_port = 53, .src_addr = { [15] = 1 }, .dst_addr = { [15] = 1 },
		  .first_seen_ns = 2000, .bytes = 1500, .packets = 3, .pid = 0 },
	}, out;
	struct vigil_records r;
	int n;

	(void)state;
	n = vigil_flows_encode(pl, sizeof(pl), in, 2);
	assert_int_equal(n, 128);
	assert_int_equal(vigil_flows_decode(pl, (size_t)n, &r), 0);
	for (uint32_t i = 0; i < 2; i++) {
		vigil_flow_get(&r, i, &out);
		assert_memory_equal(&out, &in[i], sizeof(out));
	}
	/* family 5, event 0 and 4, IPv4 with a non-zero byte 4..15. */
	for (int bad = 0; bad < 5; bad++) {
		n = vigil_flows_encode(pl, sizeof(pl), in, 2);
		switch (bad) {
		case 0:
			pl[0] = 5;
			break;
		case 1:
			pl[2] = 0;
			break;
		case 2:
			pl[2] = 4;
			break;
		case 3:
			pl[8 + 15] = 1;
			break;
		case 4:
			pl[24 + 4] = 1;
			break;
		}
		assert_int_equal(vigil_flows_decode(pl, (size_t)n, &r), -EBADMSG);
	}
	in[0].src_addr[7] = 1;
	assert_int_equal(vigil_flows_encode(pl, sizeof(pl), in, 2), -EINVAL);
}

static void test_sched_exit_scenario(void **state)
{
	struct vigil_sched_exit in = { -22, VIGIL_SCX_ERROR, VIGIL_STR("runnable task stall") },
				out;
	int n;

	(void)state;
	n = vigil_sched_exit_encode(pl, sizeof(pl), &in);
	assert_int_equal(n, 8 + 2 + 19);
	assert_int_equal(vigil_sched_exit_decode(pl, (size_t)n, &out), 0);
	assert_int_equal(out.exit_code, -22);
	assert_int_equal(out.kind, 1024);
	assert_true(str_eq(out.reason, "runnable task stall", 19));
	check_prefixes(VIGIL_MSG_SCHED_EXIT, pl, (size_t)n);
	for (uint16_t t = VIGIL_MSG_SCENARIO_START; t <= VIGIL_MSG_SCENARIO_END; t++) {
		n = vigil_scenario_encode(pl, sizeof(pl), VIGIL_STR("mixed-load"));
		assert_int_equal(n, 12);
		check_prefixes(t, pl, (size_t)n);
	}
}

static void test_snapshots(void **state)
{
	struct vigil_snapshot_request rq = { 7, VIGIL_SNAP_MEMORY_DUMP, VIGIL_STR("after-warmup") },
				      rqo;
	struct vigil_snapshot_reply rp = { 7, -95, VIGIL_STR("/tmp/dump.elf") }, rpo;
	int n;

	(void)state;
	n = vigil_snapshot_request_encode(pl, sizeof(pl), &rq);
	assert_int_equal(n, 22);
	assert_int_equal(vigil_snapshot_request_decode(pl, (size_t)n, &rqo), 0);
	assert_int_equal(rqo.request_id, 7);
	assert_int_equal(rqo.kind, 1);
	assert_true(str_eq(rqo.tag, "after-warmup", 12));
	check_prefixes(VIGIL_MSG_SNAPSHOT_REQUEST, pl, (size_t)n);
	vigil_put32(pl, 0);
	assert_int_equal(vigil_snapshot_request_decode(pl, (size_t)n, &rqo), -EBADMSG);
	vigil_put32(pl, 7);
	vigil_put32(pl + 4, 0);
	assert_int_equal(vigil_snapshot_request_decode(pl, (size_t)n, &rqo), -EBADMSG);
	/* Kinds above 3 are well formed (the host answers -EOPNOTSUPP). */
	vigil_put32(pl + 4, 99);
	assert_int_equal(vigil_snapshot_request_decode(pl, (size_t)n, &rqo), 0);
	assert_int_equal(rqo.kind, 99);
	rq.request_id = 0;
	assert_int_equal(vigil_snapshot_request_encode(pl, sizeof(pl), &rq), -EINVAL);

	n = vigil_snapshot_reply_encode(pl, sizeof(pl), &rp);
	assert_int_equal(vigil_snapshot_reply_decode(pl, (size_t)n, &rpo), 0);
	assert_int_equal(rpo.request_id, 7);
	assert_int_equal(rpo.status, -95);
	assert_true(str_eq(rpo.detail, "/tmp/dump.elf", 13));
	check_prefixes(VIGIL_MSG_SNAPSHOT_REPLY, pl, (size_t)n);
	vigil_put32(pl, 0);
	assert_int_equal(vigil_snapshot_reply_decode(pl, (size_t)n, &rpo), -EBADMSG);
	rp.request_id = 0;
	assert_int_equal(vigil_snapshot_reply_encode(pl, sizeof(pl), &rp), -EINVAL);
}

static void test_exit_test_result(void **state)
{
	struct vigil_exit e = { -1, 9 }, eo;
	struct vigil_test_result t = { VIGIL_TEST_FAIL, 1500000000ull, VIGIL_STR("sched/latency"),
				       VIGIL_STR("p99 4.1ms > 2ms") },
				 to;
	int n;

	(void)state;
	n = vigil_exit_encode(pl, sizeof(pl), &e);
	assert_int_equal(n, 8);
	assert_int_equal(vigil_exit_decode(pl, 8, &eo), 0);
	assert_int_equal(eo.exit_status, -1);
	assert_int_equal(eo.signal, 9);
	check_prefixes(VIGIL_MSG_EXIT, pl, 8);

	n = vigil_test_result_encode(pl, sizeof(pl), &t);
	assert_int_equal(n, 16 + 2 + 13 + 2 + 15);
	assert_int_equal(vigil_test_result_decode(pl, (size_t)n, &to), 0);
	assert_int_equal(to.outcome, 1);
	assert_int_equal(to.duration_ns, 1500000000ull);
	assert_true(str_eq(to.name, "sched/latency", 13));
	assert_true(str_eq(to.message, "p99 4.1ms > 2ms", 15));
	check_prefixes(VIGIL_MSG_TEST_RESULT, pl, (size_t)n);
}

static void test_dmesg_log(void **state)
{
	static uint8_t text[VIGIL_WIRE_MAX_PAYLOAD];
	struct vigil_dmesg d = { 4, 812, 2345678, text, 5 }, dout;
	struct vigil_log l = { 6, text, 0 }, lout;
	int n;

	(void)state;
	memcpy(text, "hello", 5);
	n = vigil_dmesg_encode(pl, sizeof(pl), &d);
	assert_int_equal(n, 29);
	assert_int_equal(vigil_dmesg_decode(pl, (size_t)n, &dout), 0);
	assert_int_equal(dout.level, 4);
	assert_int_equal(dout.kmsg_seq, 812);
	assert_int_equal(dout.ts_us, 2345678);
	assert_int_equal(dout.text_len, 5);
	assert_memory_equal(dout.text, "hello", 5);
	assert_int_equal(vigil_dmesg_decode(pl, 23, &dout), -EBADMSG);
	assert_int_equal(vigil_dmesg_decode(pl, 24, &dout), 0);
	assert_int_equal(dout.text_len, 0);
	d.text_len = VIGIL_WIRE_MAX_PAYLOAD - 24;
	assert_int_equal(vigil_dmesg_encode(pl, sizeof(pl), &d), 65536);
	d.text_len++;
	assert_int_equal(vigil_dmesg_encode(pl, sizeof(pl), &d), -EMSGSIZE);

	n = vigil_log_encode(pl, sizeof(pl), &l);
	assert_int_equal(n, 1);
	assert_int_equal(vigil_log_decode(pl, 1, &lout), 0);
	assert_int_equal(lout.level, 6);
	assert_int_equal(lout.text_len, 0);
	assert_int_equal(vigil_log_decode(pl, 0, &lout), -EBADMSG);
	l.text_len = VIGIL_WIRE_MAX_PAYLOAD;
	assert_int_equal(vigil_log_encode(pl, sizeof(pl), &l), -EMSGSIZE);
}

static void test_ping_pong(void **state)
{
	struct vigil_pong p = { 0x0102030405060708ull, 99 }, po;
	uint64_t tok = 0;

	(void)state;
	assert_int_equal(vigil_ping_encode(pl, sizeof(pl), 0x0102030405060708ull), 8);
	assert_int_equal(pl[0], 0x08);
	assert_int_equal(vigil_ping_decode(pl, 8, &tok), 0);
	assert_int_equal(tok, 0x0102030405060708ull);
	check_prefixes(VIGIL_MSG_PING, pl, 8);
	assert_int_equal(vigil_pong_encode(pl, sizeof(pl), &p), 16);
	assert_int_equal(vigil_pong_decode(pl, 16, &po), 0);
	assert_int_equal(po.token, p.token);
	assert_int_equal(po.guest_mono_ns, 99);
	check_prefixes(VIGIL_MSG_PONG, pl, 16);
}

static void test_agent_stats(void **state)
{
	static uint64_t vals[1025];
	struct vigil_agent_stats s;
	int n;

	(void)state;
	for (uint32_t i = 0; i < 1025; i++)
		vals[i] = 0x1000000000ull + i;
	n = vigil_agent_stats_encode(pl, sizeof(pl), vals, VIGIL_STAT__KNOWN);
	assert_int_equal(n, 4 + 8 * 8);
	assert_int_equal(vigil_agent_stats_decode(pl, (size_t)n, &s), 0);
	assert_int_equal(s.count, 8);
	assert_int_equal(vigil_agent_stats_get(&s, VIGIL_STAT_WRITE_STALLS), vals[7]);
	assert_int_equal(vigil_agent_stats_get(&s, 8), 0);
	/* The length must be exactly 4 + 8 x count. */
	assert_int_equal(vigil_agent_stats_decode(pl, (size_t)n + 1, &s), -EBADMSG);
	assert_int_equal(vigil_agent_stats_decode(pl, (size_t)n - 1, &s), -EBADMSG);
	assert_int_equal(vigil_agent_stats_encode(pl, sizeof(pl), vals, 0), 4);
	assert_int_equal(vigil_agent_stats_decode(pl, 4, &s), 0);
	assert_int_equal(s.count, 0);
	n = vigil_agent_stats_encode(pl, sizeof(pl), vals, 1024);
	assert_int_equal(n, 4 + 8 * 1024);
	assert_int_equal(vigil_agent_stats_decode(pl, (size_t)n, &s), 0);
	assert_int_equal(vigil_agent_stats_encode(pl, sizeof(pl), vals, 1025), -EINVAL);
	/* A count whose 32-bit length would wrap to a small number. */
	vigil_put32(pl, 0x20000000u);
	assert_int_equal(vigil_agent_stats_decode(pl, 4, &s), -EBADMSG);
	vigil_put32(pl, 1025);
	assert_int_equal(vigil_agent_stats_decode(pl, 4 + 8 * 1025, &s), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_strings_limit),
		cmocka_unit_test(test_sys_rdy_shutdown),
		cmocka_unit_test(test_beats),
		cmocka_unit_test(test_flows),
		cmocka_unit_test(test_sched_exit_scenario),
		cmocka_unit_test(test_snapshots),
		cmocka_unit_test(test_exit_test_result),
		cmocka_unit_test(test_dmesg_log),
		cmocka_unit_test(test_ping_pong),
		cmocka_unit_test(test_agent_stats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
