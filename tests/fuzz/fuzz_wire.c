/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the stream assembler and every payload decoder.
 *
 * The input is split into pushes at points taken from its first bytes, so
 * the fuzzer explores splits as well as contents. Each delivered frame runs
 * through the shape check of its type, and also through every decoder
 * whatever its type, so each decoder sees arbitrary payloads. Invariants
 * checked: counters add up (every byte is garbage, header-error byte,
 * oversize header, frame, or still held), decoded views stay inside the
 * payload, and a well-formed payload re-encodes to the same bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/wire.h>

#include "fuzz_check.h"

static struct vigil_asm asmb;
static uint8_t reenc[VIGIL_WIRE_MAX_PAYLOAD];

static void check_str(struct vigil_str s, const uint8_t *p, size_t len)
{
	CHECK((const uint8_t *)s.ptr >= p && (const uint8_t *)s.ptr + s.len <= p + len);
	CHECK(s.len <= VIGIL_WIRE_STR_MAX);
}

static void check_str_max(struct vigil_str s, const uint8_t *p, size_t len, size_t max)
{
	check_str(s, p, len);
	CHECK(s.len <= max);
}

/* INSPECT and PROCESS_REPORT: limits, and a re-encode to the same bytes. */
static void inspection_decoders(const uint8_t *p, size_t len)
{
	struct vigil_inspect in;
	struct vigil_process_report r;
	int n;

	if (vigil_inspect_decode(p, len, &in) == 0) {
		CHECK(in.request_id != 0 && in.pid >= 2);
		CHECK(vigil_inspect_encode(reenc, sizeof(reenc), &in) == 8);
		CHECK(memcmp(reenc, p, 8) == 0);
	}
	if (vigil_process_report_decode(p, len, &r) != 0)
		return;
	CHECK(len >= VIGIL_WIRE_REPORT_MIN_LEN && r.request_id != 0 && r.status <= 0);
	check_str_max(r.comm, p, len, VIGIL_WIRE_COMM_MAX);
	check_str_max(r.wchan, p, len, VIGIL_WIRE_WCHAN_MAX);
	check_str_max(r.stack, p, len, VIGIL_WIRE_STACK_MAX);
	check_str_max(r.cgroup, p, len, VIGIL_WIRE_CGROUP_MAX);
	n = vigil_process_report_encode(reenc, sizeof(reenc), &r);
	CHECK(n >= (int)VIGIL_WIRE_REPORT_MIN_LEN && (size_t)n <= VIGIL_WIRE_REPORT_MAX_LEN);
	CHECK(memcmp(reenc, p, 12) == 0);
	if (r.status == 0) {
		/* The same bytes up to cgroup's end, but the reserved 13..15. */
		CHECK((size_t)n <= len && reenc[12] == p[12]);
		CHECK(memcmp(reenc + 16, p + 16, (size_t)n - 16) == 0);
	} else {
		/* The fields after a non-zero status read and write as zero. */
		CHECK(n == (int)VIGIL_WIRE_REPORT_MIN_LEN && r.state == 0 && r.wait_ns == 0);
		CHECK(r.comm.len == 0 && r.stack.len == 0);
	}
}

/* The decoders of the types the protocol started with. */
static void first_decoders(const uint8_t *p, size_t len)
{
	struct vigil_hello h;
	struct vigil_records r;
	struct vigil_sched_exit se;
	struct vigil_str s;
	struct vigil_snapshot_request rq;
	struct vigil_snapshot_reply rp;
	struct vigil_exit e;
	struct vigil_test_result t;
	struct vigil_dmesg d;
	struct vigil_log l;
	struct vigil_pong pg;
	struct vigil_agent_stats st;
	uint64_t tok;

	if (vigil_hello_decode(p, len, &h) == 0) {
		check_str(h.agent_version, p, len);
		check_str(h.kernel_release, p, len);
		check_str(h.hostname, p, len);
		/* Re-encode: the same bytes up to the last field. */
		int n = vigil_hello_encode(reenc, sizeof(reenc), &h);
		CHECK(n > 0 && (size_t)n <= len && memcmp(reenc, p, 2) == 0);
		CHECK(memcmp(reenc + 4, p + 4, (size_t)n - 4) == 0);
		/* vigil's addition: present exactly when 4 bytes follow hostname,
		 * and it round-trips */
		uint32_t apid = 0;
		int has = vigil_hello_agent_pid(p, len, &apid);

		CHECK(has == (len - (size_t)n >= 4));
		if (has == 1) {
			CHECK(vigil_hello_encode_agent_pid(reenc, sizeof(reenc), &h, apid) ==
			      n + 4);
			CHECK(memcmp(reenc + n, p + n, 4) == 0);
		}
	} else {
		uint32_t apid;

		CHECK(vigil_hello_agent_pid(p, len, &apid) == -EBADMSG);
	}
	(void)vigil_sys_rdy_decode(p, len);
	if (vigil_beats_decode(p, len, &r) == 0) {
		struct vigil_beat b;

		CHECK(r.count >= 1 && r.count <= 1024 && (size_t)r.count * 40 == len);
		for (uint32_t i = 0; i < r.count; i++) {
			vigil_beat_get(&r, i, &b);
			CHECK(b.pid >= 2 && b.status <= 3);
		}
	}
	if (vigil_flows_decode(p, len, &r) == 0) {
		struct vigil_flow f;

		CHECK((size_t)r.count * 64 == len);
		for (uint32_t i = 0; i < r.count; i++) {
			vigil_flow_get(&r, i, &f);
			CHECK(f.family == 4 || f.family == 6);
			CHECK(vigil_flows_encode(reenc, sizeof(reenc), &f, 1) == 64);
		}
	}
	if (vigil_sched_exit_decode(p, len, &se) == 0)
		check_str(se.reason, p, len);
	if (vigil_scenario_decode(p, len, &s) == 0) {
		check_str(s, p, len);
		CHECK(vigil_scenario_encode(reenc, sizeof(reenc), s) == 2 + s.len);
		CHECK(memcmp(reenc, p, 2u + s.len) == 0);
	}
	if (vigil_snapshot_request_decode(p, len, &rq) == 0) {
		CHECK(rq.request_id && rq.kind);
		check_str(rq.tag, p, len);
	}
	if (vigil_snapshot_reply_decode(p, len, &rp) == 0) {
		CHECK(rp.request_id);
		check_str(rp.detail, p, len);
	}
	(void)vigil_exit_decode(p, len, &e);
	if (vigil_test_result_decode(p, len, &t) == 0) {
		check_str(t.name, p, len);
		check_str(t.message, p, len);
	}
	if (vigil_dmesg_decode(p, len, &d) == 0)
		CHECK(d.text + d.text_len == p + len);
	if (vigil_log_decode(p, len, &l) == 0)
		CHECK(l.text + l.text_len == p + len);
	(void)vigil_ping_decode(p, len, &tok);
	(void)vigil_pong_decode(p, len, &pg);
	if (vigil_agent_stats_decode(p, len, &st) == 0) {
		uint64_t sum = 0;

		CHECK(4 + 8 * (size_t)st.count == len);
		for (uint32_t i = 0; i <= st.count; i++)
			sum += vigil_agent_stats_get(&st, i);
		(void)sum;
	}
	(void)vigil_shutdown_decode(p, len);
}

static void all_decoders(const uint8_t *p, size_t len)
{
	first_decoders(p, len);
	inspection_decoders(p, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vigil_frame fr;
	uint64_t delivered_bytes = 0;
	size_t off = 0, cut_seed = size ? data[0] : 0;

	vigil_asm_init(&asmb);
	while (off < size) {
		size_t take = size - off;

		/* Split points from the first byte: whole, halves, or small steps. */
		if (cut_seed & 1)
			take = 1 + (cut_seed >> 1) % (take < 97 ? take : 97);
		vigil_asm_push(&asmb, data + off, take);
		while (vigil_asm_next(&asmb, &fr) == 1) {
			CHECK(fr.hdr.len <= VIGIL_WIRE_MAX_PAYLOAD);
			CHECK(fr.payload != NULL || fr.hdr.len == 0);
			delivered_bytes += 24 + fr.hdr.len;
			if (vigil_payload_check(fr.hdr.type, fr.payload, fr.hdr.len) == -ENOMSG)
				CHECK(vigil_msg_name(fr.hdr.type) == NULL);
			all_decoders(fr.payload, fr.hdr.len);
		}
		off += take;
	}
	{
		const struct vigil_asm_stats *st = vigil_asm_stats(&asmb);

		/* Every byte is accounted for exactly once. */
		CHECK(st->bytes == size);
		CHECK(st->garbage_bytes + st->header_crc_errors + 24 * st->oversize_frames +
			  delivered_bytes + vigil_asm_held(&asmb) ==
		      size);
	}
	/* And the decoders on the raw input itself. */
	all_decoders(data, size);
	return 0;
}
