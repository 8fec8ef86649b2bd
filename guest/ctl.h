/* SPDX-License-Identifier: MIT */
/*
 * ctl: the agent's control socket (unix stream, owner-only by default) and
 * the client side the CLI uses.
 *
 * Request:  u32 len, u16 type, u16 flags (0), payload[len - 4]
 *           type is a wire type the guest may send (SCENARIO_*, SCHED_EXIT,
 *           TEST_RESULT, SNAPSHOT_REQUEST) and payload its wire payload,
 *           checked with the wire library's shape rules.
 * Reply:    u32 len, i32 status (0 or negative errno), u16 n, detail[n]
 * A frame request is answered once the frame is queued (control frames are
 * never dropped; a full queue answers -ENOBUFS). SNAPSHOT_REQUEST gets the
 * agent's own request id and is answered when the host's SNAPSHOT_REPLY
 * arrives, with its status and detail.
 *
 * Limits: CTL_MAX_CONN connections (more are refused), CTL_REQ_MAX bytes
 * per request, CTL_MAX_SNAP snapshots waiting at once.
 */
#ifndef VIGIL_GUEST_CTL_H
#define VIGIL_GUEST_CTL_H

#include <stdint.h>
#include <sys/types.h>
#include <vigil/wire.h>

#include "chan.h"

#define CTL_MAX_CONN   16
#define CTL_REQ_MAX    (12u * 1024)
#define CTL_MAX_SNAP   16
#define CTL_DETAIL_MAX 4096u

struct ctl_conn {
	int fd;           /* -1: free */
	uint32_t len;     /* bytes in buf */
	uint32_t snap_id; /* waiting for this SNAPSHOT_REPLY, 0 if none */
	uint8_t buf[CTL_REQ_MAX];
};

struct ctl_stats {
	uint64_t requests;
	uint64_t rejected;      /* malformed or not allowed */
	uint64_t refused;       /* connection table full */
	uint64_t stale_replies; /* SNAPSHOT_REPLY for no waiting request */
};

struct ctl {
	int fd;
	char path[108];
	uint32_t next_id; /* last snapshot request id handed out */
	struct ctl_conn conn[CTL_MAX_CONN];
	struct ctl_stats st;
};

/* Listen on path (directory created 0755), socket mode. 0 or -errno. */
int ctl_open(struct ctl *s, const char *path, mode_t mode);
void ctl_close(struct ctl *s);
/* Accept one connection: its index (>= 0), -EAGAIN, or -errno. */
int ctl_accept(struct ctl *s);
/* Serve readable bytes on connection i. 0 keep, -EPIPE the connection closed. */
int ctl_serve(struct ctl *s, int i, struct chan *c);
/* Deliver a SNAPSHOT_REPLY: 1 when a client was waiting for it, else 0. */
int ctl_snapshot_reply(struct ctl *s, const struct vigil_snapshot_reply *r);
void ctl_drop(struct ctl *s, int i);

/* Client: send one request and wait up to timeout_ms for the reply.
 * Returns the reply's status (0 or negative errno), -ETIMEDOUT, or
 * -errno when the agent cannot be reached; detail is terminated. */
int ctl_call(const char *path, uint16_t type, const uint8_t *payload, uint32_t len, int timeout_ms,
	     char *detail, size_t detail_cap);

#endif
