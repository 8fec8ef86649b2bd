/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: bytes from the host into the agent's port (chan_read: wire
 * assembler, CRC gate, direction and shape checks, then the typed decoders
 * the agent runs on accepted frames) until the host's end closes, and beat
 * datagrams (relay_parse). Seeds of host frames with valid CRCs:
 * tests/fuzz/seeds/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "chan.h"
#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property of the port's reader: say which, with errno and the
 * chan's state, since a trap alone does not tell the checks apart. */
static void fail(const struct chan *c, const char *what, int rc)
{
	fprintf(stderr,
		"fuzz-agent-host: %s (rc %d, errno %s, connected %d, rx_held %d, "
		"disconnects %llu)\n",
		what, rc, strerror(errno), c->connected, c->rx_held,
		(unsigned long long)c->st.disconnects);
	abort();
}

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
	static int ready;
	struct vigil_beat b;
	uint64_t gone;
	struct pollfd pf = { .events = POLLIN };
	int p[2], left = 0, rc;

	if (size > (1 << 20))
		return 0;
	/* Each input is a new host stream on a new pipe: the port reconnects
	 * as the agent's does (chan_probe drops what the last stream left half
	 * sent), so nothing is carried from one input to the next. The whole
	 * input is read until the pipe is empty (each call reads up to its
	 * budget), then the host's end closes (EOF). */
	if (pipe(p) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0 ||
	    (fcntl(p[1], F_GETPIPE_SZ) < (int)size && fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < 0))
		abort();
	if (!ready) {
		if (chan_init(&c, p[0], on_frame, NULL, NULL) < 0)
			abort();
		c.rx_inspect = true; /* as the agent with its inspector running */
		ready = 1;
	}
	c.fd = p[0];
	rc = chan_probe(&c);
	if (rc != 1)
		fail(&c, "a new stream did not connect", rc);
	if (size && write(p[1], data, size) != (ssize_t)size)
		abort();
	do {
		rc = chan_read(&c);
		if (rc < 0)
			fail(&c, "the port closed while the host's end was open", rc);
		if (ioctl(p[0], FIONREAD, &left) < 0)
			abort();
	} while (left > 0);
	close(p[1]);
	/* The hang-up first: close() drops the last writer only when nobody
	 * else holds the file at that moment (another process reading
	 * /proc/PID/fd would), and until then a read rightly finds the pipe
	 * empty, not ended (seen about once in a million inputs here). */
	pf.fd = p[0];
	if (poll(&pf, 1, 10000) != 1 || !(pf.revents & POLLHUP))
		fail(&c, "the host's end closed and no hang-up came", 0);
	gone = c.st.disconnects;
	rc = chan_read(&c);
	if (rc != -EPIPE || c.connected || c.st.disconnects != gone + 1)
		fail(&c, "the host's end closed and the port did not read its end", rc);
	rc = chan_read(&c);
	if (rc != -EPIPE || c.st.disconnects != gone + 1)
		fail(&c, "a closed port did not stay closed", rc);
	close(p[0]);
	relay_parse(data, size, (pid_t)(size >= 12 ? vigil_le32(data + 8) : 0), &b);
	return 0;
}
