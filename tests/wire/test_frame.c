/* SPDX-License-Identifier: MIT */
/* Frame header codec, frame encoder/sealer and the type catalogue. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <vigil/wire.h>

static uint8_t buf[VIGIL_WIRE_MAX_FRAME + 16];

static void test_sys_rdy_bytes(void **state)
{
	/* The "sys-rdy" vector: type 2, seq 1, empty payload. */
	static const uint8_t want[] = { 0x56, 0x47, 0x4c, 0x31, 0x02, 0x00, 0x00, 0x00,
					0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
					0x00, 0x00, 0x00, 0x00, 0x9d, 0xcb, 0x63, 0x55 };
	struct vigil_frame_hdr h;

	(void)state;
	assert_int_equal(vigil_frame_encode(buf, sizeof(buf), VIGIL_MSG_SYS_RDY, 1, NULL, 0), 24);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(vigil_frame_hdr_decode(buf, 24, &h), 0);
	assert_int_equal(h.type, VIGIL_MSG_SYS_RDY);
	assert_int_equal(h.seq, 1);
	assert_int_equal(h.len, 0);
	assert_int_equal(h.payload_crc, 0);
}

/* The same vector from the SYS_RDY encoder and vigil_frame_seal, as a
 * stream builder writes it (docs/embedding.md). */
static void test_sys_rdy_sealed(void **state)
{
	static const uint8_t want[] = { 0x56, 0x47, 0x4c, 0x31, 0x02, 0x00, 0x00, 0x00,
					0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
					0x00, 0x00, 0x00, 0x00, 0x9d, 0xcb, 0x63, 0x55 };
	int n;

	(void)state;
	memset(buf, 0xa5, sizeof(buf));
	n = vigil_sys_rdy_encode(buf + VIGIL_WIRE_HDR_LEN, sizeof(buf) - VIGIL_WIRE_HDR_LEN);
	assert_int_equal(n, 0);
	assert_int_equal(vigil_frame_seal(buf, sizeof(buf), VIGIL_MSG_SYS_RDY, 1, (size_t)n), 24);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[24], 0xa5); /* nothing written past the header */
	/* Exactly a header's room is enough; one byte less is not. */
	assert_int_equal(vigil_frame_encode(buf, 24, VIGIL_MSG_SYS_RDY, 1, NULL, 0), 24);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(vigil_frame_encode(buf, 23, VIGIL_MSG_SYS_RDY, 1, NULL, 0), -ENOBUFS);
	/* No buffer at all: -ENOBUFS, nothing touched (wire.h). */
	assert_int_equal(vigil_frame_encode(NULL, 0, VIGIL_MSG_SYS_RDY, 1, NULL, 0), -ENOBUFS);
}

/* VIGIL_STR counts a literal's bytes at compile time, also one a macro
 * gives or one pasted from pieces; tests/install checks that a pointer or
 * an array does not compile. */
#define NAME "sched/latency"
static void test_str_literal(void **state)
{
	struct vigil_str e = VIGIL_STR(""), s = VIGIL_STR("abc"), m = VIGIL_STR(NAME);
	struct vigil_str p = VIGIL_STR("sched/"
				       "latency");

	(void)state;
	assert_int_equal(e.len, 0);
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.ptr, "abc", 3);
	assert_int_equal(m.len, strlen("sched/latency"));
	assert_memory_equal(m.ptr, "sched/latency", m.len);
	assert_int_equal(p.len, m.len);
	assert_memory_equal(p.ptr, m.ptr, p.len);
	assert_int_equal(VIGIL_STR("nul\0inside").len, 10); /* sizeof, not strlen */
}

static void test_hdr_errors(void **state)
{
	struct vigil_frame_hdr h = { .type = 0xAAAA };

	(void)state;
	assert_int_equal(vigil_frame_encode(buf, sizeof(buf), VIGIL_MSG_STDOUT, 7, "hi", 2), 26);
	assert_int_equal(vigil_frame_hdr_decode(buf, 23, &h), -EAGAIN);
	assert_int_equal(h.type, 0xAAAA); /* untouched on failure */
	for (int i = 0; i < 24; i++) {
		buf[i] ^= 0x10;
		assert_int_equal(vigil_frame_hdr_decode(buf, 24, &h), -EBADMSG);
		buf[i] ^= 0x10;
	}
	assert_int_equal(h.type, 0xAAAA);
	assert_int_equal(vigil_frame_hdr_decode(buf, 24, &h), 0);
	assert_int_equal(h.len, 2);
	assert_int_equal(h.payload_crc, vigil_crc32c("hi", 2));
}

static void test_lengths(void **state)
{
	struct vigil_frame_hdr h;

	(void)state;
	memset(buf + 24, 0x5a, VIGIL_WIRE_MAX_PAYLOAD);
	assert_int_equal(vigil_frame_seal(buf, sizeof(buf), VIGIL_MSG_STDOUT, 0, 65536),
			 24 + 65536);
	assert_int_equal(vigil_frame_hdr_decode(buf, 24, &h), 0);
	assert_int_equal(h.len, 65536);
	assert_int_equal(vigil_frame_seal(buf, sizeof(buf), VIGIL_MSG_STDOUT, 0, 65537), -EMSGSIZE);
	assert_int_equal(vigil_frame_seal(buf, 24 + 99, VIGIL_MSG_STDOUT, 0, 100), -ENOBUFS);
	assert_int_equal(vigil_frame_seal(buf, 23, VIGIL_MSG_SYS_RDY, 0, 0), -ENOBUFS);
	assert_int_equal(vigil_frame_encode(buf, sizeof(buf), 1, 0, buf, 65537), -EMSGSIZE);

	/* A valid header announcing 65537 bytes: decoded, but -EMSGSIZE. */
	memcpy(buf, vigil_wire_magic, 4);
	vigil_put16(buf + 4, VIGIL_MSG_STDOUT);
	vigil_put16(buf + 6, 0);
	vigil_put32(buf + 8, 0);
	vigil_put32(buf + 12, 65537);
	vigil_put32(buf + 16, 0);
	vigil_put32(buf + 20, vigil_crc32c(buf, 20));
	assert_int_equal(vigil_frame_hdr_decode(buf, 24, &h), -EMSGSIZE);
	assert_int_equal(h.len, 65537);
}

static void test_catalogue(void **state)
{
	static const struct {
		uint16_t type;
		const char *name;
		enum vigil_msg_class cls;
	} want[] = {
		{ 0x0001, "HELLO", VIGIL_CLASS_CONTROL },
		{ 0x0002, "SYS_RDY", VIGIL_CLASS_CONTROL },
		{ 0x0003, "BEAT", VIGIL_CLASS_RECORD },
		{ 0x0004, "FLOW", VIGIL_CLASS_RECORD },
		{ 0x0005, "SCHED_EXIT", VIGIL_CLASS_CONTROL },
		{ 0x0006, "SCENARIO_START", VIGIL_CLASS_CONTROL },
		{ 0x0007, "SCENARIO_PAUSE", VIGIL_CLASS_CONTROL },
		{ 0x0008, "SCENARIO_RESUME", VIGIL_CLASS_CONTROL },
		{ 0x0009, "SCENARIO_END", VIGIL_CLASS_CONTROL },
		{ 0x000A, "SNAPSHOT_REQUEST", VIGIL_CLASS_CONTROL },
		{ 0x000B, "STDOUT", VIGIL_CLASS_OUTPUT },
		{ 0x000C, "STDERR", VIGIL_CLASS_OUTPUT },
		{ 0x000D, "EXIT", VIGIL_CLASS_CONTROL },
		{ 0x000E, "TEST_RESULT", VIGIL_CLASS_RECORD },
		{ 0x000F, "DMESG", VIGIL_CLASS_OUTPUT },
		{ 0x0010, "LOG", VIGIL_CLASS_OUTPUT },
		{ 0x0011, "PONG", VIGIL_CLASS_CONTROL },
		{ 0x0012, "AGENT_STATS", VIGIL_CLASS_RECORD },
		{ 0x0013, "PROCESS_REPORT", VIGIL_CLASS_CONTROL },
		{ 0x8001, "SNAPSHOT_REPLY", VIGIL_CLASS_CONTROL },
		{ 0x8002, "PING", VIGIL_CLASS_CONTROL },
		{ 0x8003, "SHUTDOWN", VIGIL_CLASS_CONTROL },
		{ 0x8004, "INSPECT", VIGIL_CLASS_CONTROL },
	};
	unsigned known = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(vigil_msg_name(want[i].type), want[i].name);
		assert_int_equal(vigil_msg_class(want[i].type), want[i].cls);
		assert_int_equal(vigil_msg_to_guest(want[i].type), want[i].type >= 0x8000);
	}
	for (uint32_t t = 0; t <= 0xFFFF; t++)
		if (vigil_msg_name((uint16_t)t))
			known++;
	assert_int_equal(known, sizeof(want) / sizeof(want[0]));
	assert_null(vigil_msg_name(0));
	assert_null(vigil_msg_name(0x14));
	assert_null(vigil_msg_name(0x8000));
	assert_null(vigil_msg_name(0x8005));
	assert_int_equal(vigil_msg_class(0x7FFF), VIGIL_CLASS_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sys_rdy_bytes), cmocka_unit_test(test_sys_rdy_sealed),
		cmocka_unit_test(test_str_literal),   cmocka_unit_test(test_hdr_errors),
		cmocka_unit_test(test_lengths),       cmocka_unit_test(test_catalogue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
