/* SPDX-License-Identifier: MIT */
/*
 * flows: every TCP connection and UDP socket of the guest as FLOW records,
 * from three sources (the measurements behind the choice are in
 * docs/agent.md):
 *
 *  - destroy notifications (NETLINK_SOCK_DIAG groups SKNLGRP_INET*_DESTROY):
 *    the kernel reports each TCP and UDP socket as it is freed, with its
 *    final tcp_info. A socket never seen alive gets OPENED and CLOSED
 *    together, so a connection that lived a millisecond is a flow too; one
 *    seen alive gets its CLOSED with the final counts.
 *  - dumps (SOCK_DIAG_BY_FAMILY) every interval, one table per step so the
 *    event loop serves its other sources between them (flows_poll_step),
 *    a socket that closes mid-poll being reported by its notification:
 *    OPENED for live sockets,
 *    ACTIVE when their counts moved, the owning pid from /proc/<pid>/fd,
 *    and listening sockets (TCP LISTEN, UDP without a peer), reported once
 *    as OPENED with no peer (docs/wire.md, "Listening sockets"). Without
 *    notifications a socket gone from a dump is CLOSED there; with them it
 *    is closed by its notification, or by the second dump that misses it
 *    when the notification was lost.
 *  - flowbpf (when the kernel and cgroup v2 allow it): the pid that called
 *    socket() and UDP payload bytes and packets, which sock_diag lacks.
 *
 * Bytes are tcp_info bytes_acked + bytes_received and packets segs_out +
 * segs_in for TCP; UDP payload bytes and datagrams from flowbpf, else 0.
 * A TCP socket that never connected, and with flowbpf a UDP socket that
 * never moved a datagram, is not a flow. TIME_WAIT and request sockets are
 * not sockets of their own (the connection's full socket was reported).
 *
 * Limits: FLOWS_CAP live sockets tracked (more are counted as untracked);
 * flows seen only at their end are not tracked but rate-bound (FLOWS_RATE
 * records/s, FLOWS_BURST at once; the rest counted as rate_dropped);
 * FLOWS_EV_BUDGET notifications per read; FLOWS_FD_SCAN fd links per poll
 * for pid lookups; the notification socket's buffer is FLOWS_RCVBUF (an
 * overflow is counted as notify_lost).
 * Load: one dump of 4 tables per interval (default 1 s; a TCP dump walks
 * the kernel's whole established hash); per destroyed socket one netlink
 * message and one bpf() call, read in batches at most every
 * FLOWS_EV_GAP_MS (about 1 % of a core per 1,000 flows/s, BENCHMARKS.md).
 */
#ifndef VIGIL_GUEST_FLOWS_H
#define VIGIL_GUEST_FLOWS_H

#include <stdbool.h>
#include <stdint.h>
#include <vigil/wire.h>

#include "chan.h"
#include "flowbpf.h"
#include "flowmsg.h"

#define FLOWS_CAP       4096u
#define FLOWS_DEAD      256 /* recently destroyed cookies remembered */
#define FLOWS_FD_SCAN   65536u
#define FLOWS_EV_BUDGET 64u /* notification datagrams per flows_read */
#define FLOWS_EV_GAP_MS 10u /* the event loop reads notifications at most this often */
#define FLOWS_RATE      20000u
#define FLOWS_BURST     8192u
#define FLOWS_RCVBUF    (4u << 20)
#define FLOWS_BATCH     64u /* records per FLOW frame */
#define FLOWS_TABLES    4u  /* dumps per poll: TCP and UDP over IPv4 and IPv6 */

/* flows_open's wants */
#define FLOWS_WANT_EVENTS (1u << 0) /* destroy notifications */
#define FLOWS_WANT_BPF    (1u << 1) /* flowbpf */

struct flow_ent {
	uint64_t cookie; /* kernel socket cookie: the identity */
	uint32_t inode;
	uint32_t gen; /* poll generation that last saw it */
	bool pid_known;
	bool listen;         /* a listening socket: reported once, never ACTIVE */
	struct vigil_flow f; /* as last reported (event 0: not yet) */
	uint64_t bytes;      /* current */
	uint32_t packets;
};

struct flows_stats {
	uint64_t opened, closed, active;
	uint64_t listening;    /* listening sockets reported */
	uint64_t short_flows;  /* flows first seen at their end (OPENED + CLOSED at once) */
	uint64_t untracked;    /* sockets over FLOWS_CAP */
	uint64_t dump_errors;  /* netlink failures (a failed poll closes nothing) */
	uint64_t records;      /* FLOW records queued */
	uint64_t notify_lost;  /* notification socket overflows (ENOBUFS): closes lost */
	uint64_t poll_closed;  /* closed because two dumps missed them */
	uint64_t rate_dropped; /* short flows over the rate bound */
	uint64_t not_flows;    /* destroyed sockets that never connected or moved data */
	uint64_t bad_msgs;     /* malformed sock_diag messages */
	uint64_t dup_destroys; /* a destroy notification for a socket already closed */
};

struct flows {
	int nl; /* dumps */
	int ev; /* destroy notifications, -1 without */
	struct flowbpf bpf;
	bool have_bpf;
	uint32_t gen;
	uint32_t step; /* the next table of a poll in progress, 0..FLOWS_TABLES-1 */
	uint32_t n;
	struct flow_ent *ent; /* n live entries, unordered */
	uint16_t *idx;        /* cookie index: entry + 1, 0 empty; 2 * FLOWS_CAP */
	const char *proc;
	uint64_t tokens;    /* records the rate bound allows now */
	uint64_t refill_ns; /* when tokens were last refilled */
	struct vigil_flow batch[FLOWS_BATCH];
	uint32_t nbatch;
	bool more; /* the last flows_read stopped at its budget */
	/* Cookies whose destroy notification was handled lately: a dump reply
	 * written before the socket went may still name it, and must not bring
	 * it back (cookies are never reused within a boot). A ring. */
	uint64_t dead[FLOWS_DEAD];
	uint32_t dead_next;
	char why[240]; /* why notifications or flowbpf are off, "" when on */
	struct flows_stats st;
};

/*
 * Open the dump socket and what want asks for. 0 or -errno when dumps are
 * impossible; a notification or flowbpf failure only leaves it off (why).
 */
int flows_open(struct flows *fl, unsigned want);
void flows_close(struct flows *fl);
/*
 * Forget every socket, every recent destroy, the batch not yet queued, the
 * rate bound's use and the counters: the table as flows_open left it, its
 * sockets and flowbpf kept (tests and fuzzing: one table, many runs).
 */
void flows_forget(struct flows *fl);
/* The notification fd to watch for input, or -1. */
static inline int flows_fd(const struct flows *fl)
{
	return fl->ev;
}
/* One poll: pending notifications, then dump, diff, queue. Records or -errno. */
int flows_poll(struct flows *fl, struct chan *c, uint64_t now_ns);
/*
 * The same in FLOWS_TABLES steps, one table's dump each, so the event loop
 * serves its other sources between them: 1 more steps to go, 0 the poll is
 * done, or -errno (the poll is abandoned and closes nothing).
 */
int flows_poll_step(struct flows *fl, struct chan *c, uint64_t now_ns);
/*
 * Read up to FLOWS_EV_BUDGET notifications. Records queued (>= 0); when
 * the budget ran out fl->more is set (the fd may still be readable).
 */
int flows_read(struct flows *fl, struct chan *c, uint64_t now_ns);
/* Handle one notification datagram (flows_read's work; tests and fuzzing). */
void flows_feed(struct flows *fl, struct chan *c, const uint8_t *buf, size_t len, uint64_t now_ns);
/* Dump replies, as a poll's dump reads them (tests, fuzzing): entries are
 * seen, nothing is reported until a poll's end. */
void flows_feed_dump(struct flows *fl, struct chan *c, const uint8_t *buf, size_t len,
		     uint8_t protocol, uint64_t now_ns);

#endif
