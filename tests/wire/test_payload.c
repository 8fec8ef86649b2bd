/* SPDX-License-Identifier: MIT */
/*
 * Payload codecs: a round trip of every type, the shape rules at their
 * boundaries, and decoding of a truncated payload at every length (the
 * decoder must fail cleanly, never read past the end: run under ASan with
 * each payload copied into an exactly sized heap buffer). Every CRC-valid
 * frame of the normative vectors (tests/data/wire-vectors.json) decodes
 * with its type's decoder and re-encodes to the same bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

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

/* vigil's addition: the agent's own pid after hostname, ignored by the
 * plain decoder, absent (0) in an older agent's HELLO. */
static void test_hello_agent_pid(void **state)
{
	struct vigil_hello in = {
		.proto_version = 1,
		.agent_version = VIGIL_STR("a"),
		.kernel_release = VIGIL_STR("k"),
		.hostname = VIGIL_STR("h"),
	}, out;
	uint32_t pid = 7;
	int n, m;

	(void)state;
	n = vigil_hello_encode(pl, sizeof(pl), &in);
	assert_int_equal(vigil_hello_agent_pid(pl, (size_t)n, &pid), 0);
	assert_int_equal(pid, 7); /* untouched when absent */
	m = vigil_hello_encode_agent_pid(pl, sizeof(pl), &in, 4242);
	assert_int_equal(m, n + 4);
	assert_int_equal(vigil_hello_decode(pl, (size_t)m, &out), 0);
	assert_true(str_eq(out.hostname, "h", 1));
	assert_int_equal(vigil_hello_agent_pid(pl, (size_t)m, &pid), 1);
	assert_int_equal(pid, 4242);
	/* 1..3 bytes after hostname: not the addition; more: ignored */
	for (int k = 1; k < 4; k++)
		assert_int_equal(vigil_hello_agent_pid(pl, (size_t)n + (size_t)k, &pid), 0);
	assert_int_equal(vigil_hello_agent_pid(pl, (size_t)m + 9, &pid), 1);
	assert_int_equal(vigil_hello_agent_pid(pl, 15, &pid), -EBADMSG);
	assert_int_equal(vigil_hello_encode_agent_pid(pl, (size_t)m - 1, &in, 1), -ENOBUFS);
	assert_int_equal(vigil_hello_encode_agent_pid(pl, (size_t)n - 1, &in, 1), -ENOBUFS);
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
	/* The encoder of an empty payload writes nothing, whatever the room. */
	memset(pl, 0xa5, 4);
	assert_int_equal(vigil_sys_rdy_encode(pl, sizeof(pl)), 0);
	assert_int_equal(vigil_sys_rdy_encode(pl, 0), 0);
	assert_int_equal(vigil_sys_rdy_encode(NULL, 0), 0);
	assert_int_equal(pl[0], 0xa5);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_SYS_RDY, pl, 0), 0);
	assert_int_equal(vigil_shutdown_encode(pl, sizeof(pl)), 4);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_SHUTDOWN, pl, 0), 0);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_SHUTDOWN, pl, 4), 0);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_STDOUT, pl, 0), 0);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_STDERR, pl, 65536), 0);
	assert_int_equal(vigil_payload_check(0x0014, pl, 0), -ENOMSG);
	assert_int_equal(vigil_payload_check(0x8000, pl, 0), -ENOMSG);
	assert_int_equal(vigil_payload_check(0x8005, pl, 0), -ENOMSG);
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

static void test_inspect(void **state)
{
	struct vigil_inspect in = { 9, 412 }, out = { 0, 0 };

	(void)state;
	assert_int_equal(vigil_inspect_encode(pl, sizeof(pl), &in), 8);
	assert_memory_equal(pl, "\x09\x00\x00\x00\x9c\x01\x00\x00", 8);
	assert_int_equal(vigil_inspect_decode(pl, 8, &out), 0);
	assert_int_equal(out.request_id, 9);
	assert_int_equal(out.pid, 412);
	check_prefixes(VIGIL_MSG_INSPECT, pl, 8);
	/* Bytes past the first 8 are ignored. */
	assert_int_equal(vigil_payload_check(VIGIL_MSG_INSPECT, pl, 9), 0);
	assert_int_equal(vigil_payload_check(VIGIL_MSG_INSPECT, pl, 64), 0);
	/* request_id 0, pid 0 and pid 1 are malformed; pid 2 is the first valid. */
	vigil_put32(pl, 0);
	assert_int_equal(vigil_inspect_decode(pl, 8, &out), -EBADMSG);
	vigil_put32(pl, 9);
	for (uint32_t pid = 0; pid < 3; pid++) {
		vigil_put32(pl + 4, pid);
		assert_int_equal(vigil_payload_check(VIGIL_MSG_INSPECT, pl, 8),
				 pid < 2 ? -EBADMSG : 0);
	}
	assert_int_equal(out.pid, 412); /* untouched by the failures */
	in.request_id = 0;
	assert_int_equal(vigil_inspect_encode(pl, sizeof(pl), &in), -EINVAL);
	in = (struct vigil_inspect){ 9, 1 };
	assert_int_equal(vigil_inspect_encode(pl, sizeof(pl), &in), -EINVAL);
	in.pid = 2;
	assert_int_equal(vigil_inspect_encode(pl, 7, &in), -ENOBUFS);
}

static struct vigil_process_report mkreport(void)
{
	return (struct vigil_process_report){
		.request_id = 9,
		.pid = 412,
		.status = 0,
		.state = 'R',
		.policy = VIGIL_POLICY_EXT,
		.last_cpu = 1,
		.run_ns = 1200000,
		.wait_ns = 5300000000ull,
		.timeslices = 41,
		.voluntary_switches = 12,
		.involuntary_switches = 3,
		.comm = VIGIL_STR("stress-worker"),
		.wchan = VIGIL_STR("futex_wait_queue"),
		.stack = VIGIL_STR("[<0>] futex_wait_queue+0x60/0x90\n"),
		.cgroup = VIGIL_STR("0::/sched-test"),
	};
}

static void test_process_report(void **state)
{
	struct vigil_process_report in = mkreport(), out;
	int n;

	(void)state;
	n = vigil_process_report_encode(pl, sizeof(pl), &in);
	assert_int_equal(n, 72 + 13 + 16 + 33 + 14);
	memset(&out, 0xAA, sizeof(out));
	assert_int_equal(vigil_process_report_decode(pl, (size_t)n, &out), 0);
	assert_int_equal(out.request_id, 9);
	assert_int_equal(out.pid, 412);
	assert_int_equal(out.status, 0);
	assert_int_equal(out.state, 'R');
	assert_int_equal(out.policy, 7);
	assert_int_equal(out.last_cpu, 1);
	assert_int_equal(out.run_ns, 1200000);
	assert_int_equal(out.wait_ns, 5300000000ull);
	assert_int_equal(out.timeslices, 41);
	assert_int_equal(out.voluntary_switches, 12);
	assert_int_equal(out.involuntary_switches, 3);
	assert_true(str_eq(out.comm, "stress-worker", 13));
	assert_true(str_eq(out.wchan, "futex_wait_queue", 16));
	assert_true(str_eq(out.stack, "[<0>] futex_wait_queue+0x60/0x90\n", 33));
	assert_true(str_eq(out.cgroup, "0::/sched-test", 14));
	check_prefixes(VIGIL_MSG_PROCESS_REPORT, pl, (size_t)n);
	/* Reserved bytes 13..15 are written 0 and ignored when read. */
	assert_memory_equal(pl + 13, "\0\0\0", 3);
	memset(pl + 13, 0xff, 3);
	assert_int_equal(vigil_process_report_decode(pl, (size_t)n, &out), 0);
	assert_int_equal(out.state, 'R');
	assert_int_equal(out.policy, 7);
	/* Bytes after cgroup are ignored. */
	assert_int_equal(vigil_payload_check(VIGIL_MSG_PROCESS_REPORT, pl, (size_t)n + 100), 0);
	/* request_id 0 and a positive status are malformed; other values kept. */
	vigil_put32(pl, 0);
	assert_int_equal(vigil_process_report_decode(pl, (size_t)n, &out), -EBADMSG);
	vigil_put32(pl, 9);
	vigil_put32(pl + 8, 1);
	assert_int_equal(vigil_process_report_decode(pl, (size_t)n, &out), -EBADMSG);
	vigil_put32(pl + 8, 0);
	pl[12] = 0xfe;
	vigil_put32(pl + 16, 99);
	vigil_put32(pl + 4, 0); /* pid 0 is not a report's shape rule */
	assert_int_equal(vigil_process_report_decode(pl, (size_t)n, &out), 0);
	assert_int_equal(out.state, 0xfe);
	assert_int_equal(out.policy, 99);
	assert_int_equal(out.pid, 0);
}

/* Each string at its limit is fine, one byte over is malformed. */
static void test_process_report_limits(void **state)
{
	static const size_t lim[4] = { VIGIL_WIRE_COMM_MAX, VIGIL_WIRE_WCHAN_MAX,
				       VIGIL_WIRE_STACK_MAX, VIGIL_WIRE_CGROUP_MAX };
	struct vigil_process_report in = mkreport(), out;
	struct vigil_str *f[4] = { &in.comm, &in.wchan, &in.stack, &in.cgroup };
	int n;

	(void)state;
	memset(big, 'x', sizeof(big));
	for (int k = 0; k < 4; k++) {
		size_t at = 64; /* where string k's length field sits */

		in = mkreport(); /* f[] still points at its fields */
		*f[k] = (struct vigil_str){ big, (uint16_t)lim[k] };
		n = vigil_process_report_encode(pl, sizeof(pl), &in);
		assert_true(n > 0);
		assert_int_equal(vigil_process_report_decode(pl, (size_t)n, &out), 0);
		for (int j = 0; j < k; j++)
			at += 2 + f[j]->len;
		assert_int_equal(vigil_le16(pl + at), lim[k]);
		/* By hand: one byte more in the length, one byte more of payload. */
		memmove(pl + at + 2 + lim[k] + 1, pl + at + 2 + lim[k],
			(size_t)n - at - 2 - lim[k]);
		pl[at + 2 + lim[k]] = 'x';
		vigil_put16(pl + at, (uint16_t)(lim[k] + 1));
		assert_int_equal(check_exact(VIGIL_MSG_PROCESS_REPORT, pl, (size_t)n + 1),
				 -EBADMSG);
		*f[k] = (struct vigil_str){ big, (uint16_t)(lim[k] + 1) };
		assert_int_equal(vigil_process_report_encode(pl, sizeof(pl), &in), -EINVAL);
	}
	/* All four at their limits: the largest version-1 report. */
	in = mkreport();
	in.comm = (struct vigil_str){ big, VIGIL_WIRE_COMM_MAX };
	in.wchan = (struct vigil_str){ big, VIGIL_WIRE_WCHAN_MAX };
	in.stack = (struct vigil_str){ big, VIGIL_WIRE_STACK_MAX };
	in.cgroup = (struct vigil_str){ big, VIGIL_WIRE_CGROUP_MAX };
	assert_int_equal(vigil_process_report_encode(pl, sizeof(pl), &in), 4872);
	assert_int_equal(VIGIL_WIRE_REPORT_MAX_LEN, 4872);
	assert_int_equal(vigil_process_report_encode(pl, 4871, &in), -ENOBUFS);
	check_prefixes(VIGIL_MSG_PROCESS_REPORT, pl, 4872);
	/* The smallest: 72 bytes, four empty strings. */
	in = mkreport();
	in.comm = in.wchan = in.stack = in.cgroup = VIGIL_STR("");
	assert_int_equal(vigil_process_report_encode(pl, sizeof(pl), &in), 72);
	assert_int_equal(check_exact(VIGIL_MSG_PROCESS_REPORT, pl, 72), 0);
	assert_int_equal(check_exact(VIGIL_MSG_PROCESS_REPORT, pl, 71), -EBADMSG);
}

/* A non-zero status: the sender zeroes what follows, the receiver ignores it. */
static void test_process_report_status(void **state)
{
	struct vigil_process_report in = mkreport(), out;
	static const uint8_t zero72[72];
	int n;

	(void)state;
	in.status = -ESRCH;
	n = vigil_process_report_encode(pl, sizeof(pl), &in);
	assert_int_equal(n, 72);
	assert_int_equal((int32_t)vigil_le32(pl + 8), -3);
	assert_memory_equal(pl + 12, zero72, 60);
	assert_int_equal(vigil_process_report_decode(pl, 72, &out), 0);
	assert_int_equal(out.status, -ESRCH);
	assert_int_equal(out.request_id, 9);
	assert_int_equal(out.pid, 412);
	/* Junk after a non-zero status is not malformed, and reads as zero. */
	memset(pl + 12, 0x5a, 52);
	vigil_put16(pl + 64, 3); /* comm "xyz" */
	memcpy(pl + 66, "xyz", 3);
	memset(pl + 69, 0, 6);
	assert_int_equal(vigil_process_report_decode(pl, 75, &out), 0);
	assert_int_equal(out.state, 0);
	assert_int_equal(out.wait_ns, 0);
	assert_int_equal(out.comm.len, 0);
	assert_int_equal(out.cgroup.len, 0);
	/* Strings are shape whatever the status: one running past is malformed. */
	vigil_put16(pl + 64, 4);
	assert_int_equal(check_exact(VIGIL_MSG_PROCESS_REPORT, pl, 75), -EBADMSG);
	/* -EBUSY and an errno the spec does not list are kept as numbers. */
	for (int32_t st = -1; st >= -200; st--) {
		in.status = st;
		n = vigil_process_report_encode(pl, sizeof(pl), &in);
		assert_int_equal(n, 72);
		assert_int_equal(vigil_process_report_decode(pl, 72, &out), 0);
		assert_int_equal(out.status, st);
	}
	/* Strings over their limit do not matter once the status says no. */
	in.status = -EBUSY;
	in.comm = (struct vigil_str){ big, 4000 };
	assert_int_equal(vigil_process_report_encode(pl, sizeof(pl), &in), 72);
	in.status = 5;
	assert_int_equal(vigil_process_report_encode(pl, sizeof(pl), &in), -EINVAL);
	in = mkreport();
	in.request_id = 0;
	assert_int_equal(vigil_process_report_encode(pl, sizeof(pl), &in), -EINVAL);
	in = mkreport();
	assert_int_equal(vigil_process_report_encode(pl, 63, &in), -ENOBUFS);
	assert_int_equal(vigil_process_report_encode(pl, 72, &in), -ENOBUFS);
}

/* ---- the normative vectors, typed --------------------------------------- */

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static int reencode_records(uint16_t type, const uint8_t *p, size_t len, uint8_t *out)
{
	static struct vigil_beat b[VIGIL_WIRE_MAX_RECORDS];
	static struct vigil_flow f[VIGIL_WIRE_MAX_RECORDS];
	struct vigil_records r;

	if (type == VIGIL_MSG_BEAT) {
		assert_int_equal(vigil_beats_decode(p, len, &r), 0);
		for (uint32_t i = 0; i < r.count; i++)
			vigil_beat_get(&r, i, &b[i]);
		return vigil_beats_encode(out, VIGIL_WIRE_MAX_PAYLOAD, b, r.count);
	}
	assert_int_equal(vigil_flows_decode(p, len, &r), 0);
	for (uint32_t i = 0; i < r.count; i++)
		vigil_flow_get(&r, i, &f[i]);
	return vigil_flows_encode(out, VIGIL_WIRE_MAX_PAYLOAD, f, r.count);
}

/* Decode p with its type's decoder and encode the result into out. */
static int reencode(uint16_t type, const uint8_t *p, size_t len, uint8_t *out)
{
	const size_t cap = VIGIL_WIRE_MAX_PAYLOAD;
	union {
		struct vigil_hello hello;
		struct vigil_sched_exit sx;
		struct vigil_str str;
		struct vigil_snapshot_request rq;
		struct vigil_exit exit;
		struct vigil_test_result test;
		struct vigil_dmesg dmesg;
		struct vigil_log log;
		struct vigil_inspect insp;
		struct vigil_process_report rep;
		uint64_t token;
	} u;

	switch (type) {
	case VIGIL_MSG_HELLO:
		assert_int_equal(vigil_hello_decode(p, len, &u.hello), 0);
		return vigil_hello_encode(out, cap, &u.hello);
	case VIGIL_MSG_SYS_RDY:
		assert_int_equal(vigil_sys_rdy_decode(p, len), 0);
		return vigil_sys_rdy_encode(out, cap);
	case VIGIL_MSG_BEAT:
	case VIGIL_MSG_FLOW:
		return reencode_records(type, p, len, out);
	case VIGIL_MSG_SCHED_EXIT:
		assert_int_equal(vigil_sched_exit_decode(p, len, &u.sx), 0);
		return vigil_sched_exit_encode(out, cap, &u.sx);
	case VIGIL_MSG_SCENARIO_START:
	case VIGIL_MSG_SCENARIO_PAUSE:
	case VIGIL_MSG_SCENARIO_RESUME:
	case VIGIL_MSG_SCENARIO_END:
		assert_int_equal(vigil_scenario_decode(p, len, &u.str), 0);
		return vigil_scenario_encode(out, cap, u.str);
	case VIGIL_MSG_SNAPSHOT_REQUEST:
		assert_int_equal(vigil_snapshot_request_decode(p, len, &u.rq), 0);
		return vigil_snapshot_request_encode(out, cap, &u.rq);
	case VIGIL_MSG_STDOUT:
	case VIGIL_MSG_STDERR:
		memcpy(out, p, len);
		return (int)len;
	case VIGIL_MSG_EXIT:
		assert_int_equal(vigil_exit_decode(p, len, &u.exit), 0);
		return vigil_exit_encode(out, cap, &u.exit);
	case VIGIL_MSG_TEST_RESULT:
		assert_int_equal(vigil_test_result_decode(p, len, &u.test), 0);
		return vigil_test_result_encode(out, cap, &u.test);
	case VIGIL_MSG_DMESG:
		assert_int_equal(vigil_dmesg_decode(p, len, &u.dmesg), 0);
		return vigil_dmesg_encode(out, cap, &u.dmesg);
	case VIGIL_MSG_LOG:
		assert_int_equal(vigil_log_decode(p, len, &u.log), 0);
		return vigil_log_encode(out, cap, &u.log);
	case VIGIL_MSG_PING:
		assert_int_equal(vigil_ping_decode(p, len, &u.token), 0);
		return vigil_ping_encode(out, cap, u.token);
	case VIGIL_MSG_INSPECT:
		assert_int_equal(vigil_inspect_decode(p, len, &u.insp), 0);
		return vigil_inspect_encode(out, cap, &u.insp);
	case VIGIL_MSG_PROCESS_REPORT:
		assert_int_equal(vigil_process_report_decode(p, len, &u.rep), 0);
		return vigil_process_report_encode(out, cap, &u.rep);
	default:
		fail_msg("vector frame of type 0x%04x has no typed check here", type);
		return -1;
	}
}

/* The fields the inspection vectors spell out in their notes. */
static void check_inspection_vector(const char *name, uint16_t type, const uint8_t *p, size_t len)
{
	struct vigil_process_report r;
	struct vigil_inspect in;

	if (type == VIGIL_MSG_INSPECT) {
		assert_int_equal(vigil_inspect_decode(p, len, &in), 0);
		assert_int_equal(in.request_id, 9);
		assert_int_equal(in.pid, 412);
		return;
	}
	assert_int_equal(vigil_process_report_decode(p, len, &r), 0);
	if (!strcmp(name, "process-report-gone")) {
		assert_int_equal(r.request_id, 10);
		assert_int_equal(r.pid, 413);
		assert_int_equal(r.status, -ESRCH);
		return;
	}
	assert_int_equal(r.request_id, 9);
	assert_int_equal(r.pid, 412);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.state, 'R');
	assert_int_equal(r.policy, VIGIL_POLICY_EXT);
	assert_int_equal(r.wait_ns, 5300000000ull);
	assert_true(str_eq(r.comm, "stress-worker", 13));
	assert_true(str_eq(r.cgroup, "0::/sched-test", 14));
}

static void test_vectors_typed(void **state)
{
	static uint8_t want[VIGIL_WIRE_MAX_PAYLOAD], again[VIGIL_WIRE_MAX_PAYLOAD];
	json_object *root = json_object_from_file(VIGIL_TEST_DATA_DIR "/wire-vectors.json");
	json_object *vecs;
	unsigned checked = 0, inspection = 0;

	(void)state;
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "vectors", &vecs));
	for (size_t v = 0; v < json_object_array_length(vecs); v++) {
		json_object *vec = json_object_array_get_idx(vecs, v), *exp, *frames;
		const char *name = json_object_get_string(json_object_object_get(vec, "name"));

		assert_true(json_object_object_get_ex(vec, "expect", &exp));
		assert_true(json_object_object_get_ex(exp, "frames", &frames));
		for (size_t i = 0; i < json_object_array_length(frames); i++) {
			json_object *f = json_object_array_get_idx(frames, i);
			uint16_t type =
			    (uint16_t)json_object_get_int(json_object_object_get(f, "type"));
			const char *ph =
			    json_object_get_string(json_object_object_get(f, "payload_hex"));
			size_t len = unhex(ph, want);
			int n;

			if (!json_object_get_boolean(json_object_object_get(f, "crc_ok")))
				continue; /* a torn payload has no shape to keep */
			n = reencode(type, want, len, again);
			if (n != (int)len || memcmp(want, again, len) != 0)
				fail_msg("vector %s frame %zu (%s): re-encoded to %d bytes, not "
					 "the same",
					 name, i, vigil_msg_name(type), n);
			checked++;
			if (type == VIGIL_MSG_INSPECT || type == VIGIL_MSG_PROCESS_REPORT) {
				check_inspection_vector(name, type, want, len);
				inspection++;
			}
		}
	}
	assert_true(checked >= 20);
	assert_int_equal(inspection, 3); /* inspect, process-report, process-report-gone */
	json_object_put(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_agent_pid),
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
		cmocka_unit_test(test_inspect),
		cmocka_unit_test(test_process_report),
		cmocka_unit_test(test_process_report_limits),
		cmocka_unit_test(test_process_report_status),
		cmocka_unit_test(test_vectors_typed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
