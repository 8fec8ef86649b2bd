/* SPDX-License-Identifier: MIT */
/*
 * Guest stalls: the whole guest, the agent itself, stopped running. One
 * finding for the guest, never one per process.
 *
 * Three signals open a guest stall (docs/verdict.md, "Guest stalls"), all
 * on runnable time (VM stops and host read pauses do not count):
 * - an INSPECT went unanswered for 1 s while nothing else came (inspect.h);
 * - the agent's own beat is overdue: the pid its HELLO named (docs/wire.md,
 *   "HELLO: the agent's own pid") missed the deadline it declared while
 *   nothing came for half of it. That pid is never a process stall, and
 *   the user's threshold does not apply to it;
 * - nothing at all came from the guest (no beat, no PONG, no output) for
 *   the stall threshold while the host's first PING since went unanswered
 *   for half of it and at least one ping period (without PINGs the host
 *   has no reason to expect bytes).
 * Host starvation comes first: when the vCPUs got no CPU time in the recent
 * part of the silence (the progress probe; with the vCPU state probe, only
 * when they waited for a host CPU or were stopped, not when they slept),
 * the finding is HOST_STARVED instead.
 *
 * While a guest stall is open, process stalls (those being classified and
 * new ones) fold into it: their findings are removed and their pids named
 * in the guest stall's info; their STALL events were already emitted. It
 * closes when anything comes from the guest again (the finding records the
 * recovery). Under on_stall fail it ends the run (121).
 *
 * Owns the silence clocks, the agent's pid and the open stall. Fixed size,
 * no allocation; O(1) per call except the fold (O(findings)). Load: every
 * feed (gst_heard) and tick.
 */
#ifndef VIGIL_HOST_GSTALL_H
#define VIGIL_HOST_GSTALL_H

#include <stdbool.h>
#include <stdint.h>

#include <vigil/session.h>

struct vigil_session;

struct gst {
	uint64_t heard_rt;             /* runnable ns of the last byte from the guest */
	uint64_t ping_rt;              /* runnable ns of the first PING sent since; 0: none */
	uint32_t agent_pid;            /* the agent's own beat pid (HELLO), 0 unknown */
	bool open;                     /* a guest stall (or its HOST_STARVED) is open */
	uint32_t finding;              /* open: its finding's id (0: not kept) */
	uint64_t since_rt;             /* open: the silence it began with */
	struct vigil_stall_info *info; /* open GUEST_STALL: its info (may be NULL) */
};

/* Bytes came from the guest (any): the silence ends, an open stall closes. */
void gst_heard(struct vigil_session *s);
/* A PING went out. */
void gst_ping_sent(struct vigil_session *s);
/* A HELLO named the agent's own beat pid (0: none or an older agent). */
void gst_hello(struct vigil_session *s, uint32_t agent_pid);
/* Is pid the agent's own beat? */
bool gst_is_agent(const struct vigil_session *s, uint32_t pid);
/*
 * A signal that the guest does not run, whose silence began at since_rt.
 * Opens the guest stall (or records HOST_STARVED) unless one is open.
 */
void gst_open(struct vigil_session *s, enum vigil_guest_stall_cause cause, uint64_t since_rt);
/*
 * The agent's own beat (last at last_rt, deadline dl_ns) is overdue: a
 * guest stall when the guest is silent too (nothing for dl_ns / 2; bytes
 * still coming mean the agent's loop runs).
 */
void gst_agent_overdue(struct vigil_session *s, uint64_t last_rt, uint64_t dl_ns);
/* A process stall while a guest stall is open: folded into it (true), or
 * not (false: none is open). */
bool gst_fold_new(struct vigil_session *s, uint32_t pid);
/* The whole-guest silence deadline (runnable ns), VIGIL_DEADLINE_NONE. */
uint64_t gst_deadline(const struct vigil_session *s);
/* At runnable time now_rt: the whole-guest silence. */
void gst_tick(struct vigil_session *s, uint64_t now_rt);

#endif /* VIGIL_HOST_GSTALL_H */
