/* SPDX-License-Identifier: MIT */
/*
 * Frame header codec and the message type catalogue.
 * Header: magic "VGL1", u16 type, u16 flags, u32 seq, u32 len,
 * u32 payload_crc, u32 header_crc (CRC32C of bytes 0..19); little-endian.
 */
#include <vigil/wire.h>

#include <errno.h>
#include <string.h>

const uint8_t vigil_wire_magic[VIGIL_WIRE_MAGIC_LEN] = { 'V', 'G', 'L', '1' };

struct msg_info {
	uint16_t type;
	uint8_t cls;
	const char *name;
};

static const struct msg_info msg_table[] = {
	{ VIGIL_MSG_HELLO, VIGIL_CLASS_CONTROL, "HELLO" },
	{ VIGIL_MSG_SYS_RDY, VIGIL_CLASS_CONTROL, "SYS_RDY" },
	{ VIGIL_MSG_BEAT, VIGIL_CLASS_RECORD, "BEAT" },
	{ VIGIL_MSG_FLOW, VIGIL_CLASS_RECORD, "FLOW" },
	{ VIGIL_MSG_SCHED_EXIT, VIGIL_CLASS_CONTROL, "SCHED_EXIT" },
	{ VIGIL_MSG_SCENARIO_START, VIGIL_CLASS_CONTROL, "SCENARIO_START" },
	{ VIGIL_MSG_SCENARIO_PAUSE, VIGIL_CLASS_CONTROL, "SCENARIO_PAUSE" },
	{ VIGIL_MSG_SCENARIO_RESUME, VIGIL_CLASS_CONTROL, "SCENARIO_RESUME" },
	{ VIGIL_MSG_SCENARIO_END, VIGIL_CLASS_CONTROL, "SCENARIO_END" },
	{ VIGIL_MSG_SNAPSHOT_REQUEST, VIGIL_CLASS_CONTROL, "SNAPSHOT_REQUEST" },
	{ VIGIL_MSG_STDOUT, VIGIL_CLASS_OUTPUT, "STDOUT" },
	{ VIGIL_MSG_STDERR, VIGIL_CLASS_OUTPUT, "STDERR" },
	{ VIGIL_MSG_EXIT, VIGIL_CLASS_CONTROL, "EXIT" },
	{ VIGIL_MSG_TEST_RESULT, VIGIL_CLASS_RECORD, "TEST_RESULT" },
	{ VIGIL_MSG_DMESG, VIGIL_CLASS_OUTPUT, "DMESG" },
	{ VIGIL_MSG_LOG, VIGIL_CLASS_OUTPUT, "LOG" },
	{ VIGIL_MSG_PONG, VIGIL_CLASS_CONTROL, "PONG" },
	{ VIGIL_MSG_AGENT_STATS, VIGIL_CLASS_RECORD, "AGENT_STATS" },
	{ VIGIL_MSG_PROCESS_REPORT, VIGIL_CLASS_CONTROL, "PROCESS_REPORT" },
	{ VIGIL_MSG_SNAPSHOT_REPLY, VIGIL_CLASS_CONTROL, "SNAPSHOT_REPLY" },
	{ VIGIL_MSG_PING, VIGIL_CLASS_CONTROL, "PING" },
	{ VIGIL_MSG_SHUTDOWN, VIGIL_CLASS_CONTROL, "SHUTDOWN" },
	{ VIGIL_MSG_INSPECT, VIGIL_CLASS_CONTROL, "INSPECT" },
};
_Static_assert(sizeof(msg_table) / sizeof(msg_table[0]) ==
		   VIGIL_MSG_PROCESS_REPORT + (VIGIL_MSG_INSPECT - VIGIL_MSG_SNAPSHOT_REPLY + 1),
	       "msg_table is dense: guest types from 1, then host types from 0x8001");

static const struct msg_info *msg_find(uint16_t type)
{
	/* Guest types are dense from 1, host types dense from 0x8001. */
	size_t guest_n = VIGIL_MSG_PROCESS_REPORT;
	size_t i;

	if (type >= 1 && type <= guest_n)
		i = type - 1u;
	else if (type >= VIGIL_MSG_SNAPSHOT_REPLY && type <= VIGIL_MSG_INSPECT)
		i = guest_n + (type - VIGIL_MSG_SNAPSHOT_REPLY);
	else
		return NULL;
	return &msg_table[i];
}

enum vigil_msg_class vigil_msg_class(uint16_t type)
{
	const struct msg_info *m = msg_find(type);

	return m ? (enum vigil_msg_class)m->cls : VIGIL_CLASS_UNKNOWN;
}

const char *vigil_msg_name(uint16_t type)
{
	const struct msg_info *m = msg_find(type);

	return m ? m->name : NULL;
}

int vigil_frame_hdr_decode(const uint8_t *buf, size_t n, struct vigil_frame_hdr *out)
{
	struct vigil_frame_hdr h;

	if (n < VIGIL_WIRE_HDR_LEN)
		return -EAGAIN;
	if (memcmp(buf, vigil_wire_magic, VIGIL_WIRE_MAGIC_LEN) != 0)
		return -EBADMSG;
	if (vigil_crc32c(buf, 20) != vigil_le32(buf + 20))
		return -EBADMSG;
	h.type = vigil_le16(buf + 4);
	h.flags = vigil_le16(buf + 6);
	h.seq = vigil_le32(buf + 8);
	h.len = vigil_le32(buf + 12);
	h.payload_crc = vigil_le32(buf + 16);
	*out = h;
	return h.len > VIGIL_WIRE_MAX_PAYLOAD ? -EMSGSIZE : 0;
}

int vigil_frame_seal(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, size_t len)
{
	if (len > VIGIL_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (cap < VIGIL_WIRE_HDR_LEN || cap - VIGIL_WIRE_HDR_LEN < len)
		return -ENOBUFS;
	memcpy(buf, vigil_wire_magic, VIGIL_WIRE_MAGIC_LEN);
	vigil_put16(buf + 4, type);
	vigil_put16(buf + 6, 0);
	vigil_put32(buf + 8, seq);
	vigil_put32(buf + 12, (uint32_t)len);
	vigil_put32(buf + 16, len ? vigil_crc32c(buf + VIGIL_WIRE_HDR_LEN, len) : 0);
	vigil_put32(buf + 20, vigil_crc32c(buf, 20));
	return (int)(VIGIL_WIRE_HDR_LEN + len);
}

int vigil_frame_encode(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const void *payload,
		       size_t len)
{
	if (len > VIGIL_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (cap < VIGIL_WIRE_HDR_LEN || cap - VIGIL_WIRE_HDR_LEN < len)
		return -ENOBUFS;
	if (len && payload != buf + VIGIL_WIRE_HDR_LEN)
		memmove(buf + VIGIL_WIRE_HDR_LEN, payload, len);
	return vigil_frame_seal(buf, cap, type, seq, len);
}
