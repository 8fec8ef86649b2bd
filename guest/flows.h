/* SPDX-License-Identifier: MIT */
/*
 * flows: TCP and UDP sockets over IPv4 and IPv6 from NETLINK_SOCK_DIAG
 * (inet_diag), polled at an interval, turned into FLOW records: OPENED for
 * a socket first seen, ACTIVE when its byte or packet counts moved, CLOSED
 * when it is gone. Bytes are tcp_info bytes_acked + bytes_received and
 * packets segs_out + segs_in (TCP only; UDP reports 0). The owning pid is
 * found once per new socket by matching its inode in /proc/<pid>/fd.
 * TCP listeners, TIME_WAIT and request sockets are not flows.
 *
 * Limits: FLOWS_CAP sockets tracked (more are counted and ignored),
 * FLOWS_FD_SCAN fd links read per poll for pid lookups.
 * Load: one dump of 4 tables per interval (default 1 s).
 */
#ifndef VIGIL_GUEST_FLOWS_H
#define VIGIL_GUEST_FLOWS_H

#include <stdbool.h>
#include <stdint.h>
#include <vigil/wire.h>

#include "chan.h"

#define FLOWS_CAP     4096u
#define FLOWS_FD_SCAN 65536u

struct flow_ent {
	uint64_t cookie; /* kernel socket cookie: the identity */
	uint32_t inode;
	uint32_t gen; /* poll generation that last saw it */
	bool pid_known;
	struct vigil_flow f; /* as last reported */
	uint64_t bytes;      /* current */
	uint32_t packets;
};

struct flows_stats {
	uint64_t opened, closed, active;
	uint64_t untracked;   /* sockets over FLOWS_CAP */
	uint64_t dump_errors; /* netlink failures (a failed poll closes nothing) */
	uint64_t records;     /* FLOW records queued */
};

struct flows {
	int nl;
	uint32_t gen;
	uint32_t n;
	struct flow_ent *ent; /* n live entries, unordered */
	uint16_t *idx;        /* cookie index: entry + 1, 0 empty; 2 * FLOWS_CAP */
	const char *proc;
	struct flows_stats st;
};

int flows_open(struct flows *fl);
void flows_close(struct flows *fl);
/* One poll: dump, diff, queue FLOW frames into c. Records queued or -errno. */
int flows_poll(struct flows *fl, struct chan *c, uint64_t now_ns);

/*
 * Parse one inet_diag dump message (nlmsg payload) into *f (family,
 * protocol, ports, addresses, bytes, packets); *cookie and *inode too.
 * 0, or -EBADMSG when it is short or not AF_INET/AF_INET6.
 */
int flows_parse_msg(const uint8_t *p, size_t len, uint8_t protocol, struct vigil_flow *f,
		    uint64_t *cookie, uint32_t *inode);

#endif
