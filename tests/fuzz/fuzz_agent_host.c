/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: bytes from the host into the agent's port (chan_read: wire
 * assembler, CRC gate, direction and shape checks, then the typed decoders
 * the agent runs on accepted frames), and beat datagrams (relay_parse).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "chan.h"
#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_frame(void *ctx, const struct vigil_frame *f)
{
	struct vigil_snapshot_reply r;
	uint64_t token;

	(void)ctx;
	switch (f->hdr.type) {
	case VIGIL_MSG_PING:
		if (vigil_ping_decode(f->payload, f->hdr.len, &token) < 0)
			__builtin_trap(); /* chan only hands over well-formed frames */
		break;
	case VIGIL_MSG_SNAPSHOT_REPLY:
		if (vigil_snapshot_reply_decode(f->payload, f->hdr.len, &r) < 0 ||
		    r.request_id == 0)
			__builtin_trap();
		break;
	case VIGIL_MSG_SHUTDOWN:
		break;
	case VIGIL_MSG_INSPECT: {
		struct vigil_inspect in;

		if (vigil_inspect_decode(f->payload, f->hdr.len, &in) < 0 || in.pid < 2)
			__builtin_trap();
		break;
	}
	default:
		__builtin_trap(); /* nothing else may get through */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct chan c;
	static int p[2] = { -1, -1 };
	struct vigil_beat b;

	if (p[0] < 0) {
		if (pipe(p) < 0 || chan_init(&c, p[0], on_frame, NULL, NULL) < 0)
			abort();
		c.rx_inspect = true; /* as the agent with its inspector running */
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	}
	if (size > (1 << 20))
		return 0;
	if (size && write(p[1], data, size) != (ssize_t)size)
		abort();
	if (chan_read(&c) < 0)
		abort();
	relay_parse(data, size, (pid_t)(size >= 12 ? vigil_le32(data + 8) : 0), &b);
	return 0;
}
