/* SPDX-License-Identifier: MIT */
/*
 * pace: when the agent reads its beat socket (adaptive beat coalescing, in
 * the manner of a NIC's interrupt moderation). Pure logic over the
 * caller's clock: no I/O, no allocation, so tests drive it with a fake one.
 *
 * Two regimes:
 *  - IMMEDIATE, beats sparse: the socket is watched; a wakeup reads what
 *    came and the agent writes it at once.
 *  - HOLD, beats dense: entered when a read brings beats less than
 *    PACE_WINDOW_NS after the previous read that brought some. The socket
 *    is not watched; the agent reads it once a window (at most
 *    PACE_WINDOW_NS, 3 ms, after the previous read) and writes what it got
 *    at once, as one BEAT frame. Beats wait in the kernel's socket queue
 *    for at most one window: one wakeup, one read and one port write per
 *    window, whatever the rate.
 *  - A window that brings no beat ends HOLD, so a beat that follows two
 *    windows without any (6 ms) is never delayed.
 *  - The kernel refuses datagrams beyond the socket's queue length (qlen,
 *    net.unix.max_dgram_qlen when the socket was made): a window that
 *    brought more than half of it makes the next one shorter in
 *    proportion (down to PACE_MIN_WINDOW_NS), so a burst of twice the
 *    measured rate still fits; windows that bring under a quarter grow
 *    back, doubling, to PACE_WINDOW_NS.
 *
 * What pace does not hold: control frames, output and the agent's own
 * beats are written as soon as they are queued; they never wait for a
 * window (they do not come through the beat socket). Nor STOPPING beats
 * sent to the stop socket (include/vigil/agent.h), which is always
 * watched: one that comes makes the agent read the beat socket at once
 * too (pace_urgent), so a beat the same process sent before its goodbye
 * is never relayed after it. In HOLD that early read leaves the window's
 * schedule as it was.
 * Load: one call per read of the beat socket.
 */
#ifndef VIGIL_GUEST_PACE_H
#define VIGIL_GUEST_PACE_H

#include <stdbool.h>
#include <stdint.h>

#define PACE_WINDOW_NS     3000000ull /* the bound on a beat's wait (docs/agent.md) */
#define PACE_MIN_WINDOW_NS 100000ull  /* the shortest window a full queue brings */

struct pace {
	uint32_t qlen;      /* datagrams the socket queues before refusing; >= 1 */
	bool hold;          /* HOLD: the socket is unwatched, read at due_ns */
	uint64_t last_ns;   /* the last read that brought beats, 0 none */
	uint64_t due_ns;    /* HOLD: the next read */
	uint64_t window_ns; /* HOLD: the current window's length */
	uint64_t holds;     /* HOLD regimes entered */
	uint64_t windows;   /* reads at the end of a window */
	uint64_t urgent;    /* reads out of turn for the stop socket */
};

void pace_init(struct pace *p, uint32_t qlen);
/* The socket was read at now_ns and gave n datagrams (any, rejected too). */
void pace_read(struct pace *p, uint64_t now_ns, uint32_t n);

/* The beat socket was read at now_ns, out of turn, because a beat came to
 * the stop socket; it gave n datagrams. */
void pace_urgent(struct pace *p, uint64_t now_ns, uint32_t n);

/* Watch the socket now (IMMEDIATE)? */
static inline bool pace_watch(const struct pace *p)
{
	return !p->hold;
}

/* HOLD: when to read the socket; 0 in IMMEDIATE. */
static inline uint64_t pace_due_ns(const struct pace *p)
{
	return p->hold ? p->due_ns : 0;
}

#endif
