/* SPDX-License-Identifier: MIT */
/*
 * fault_fx: one guest on a loop with a fake clock, for fault runs
 * (test-only; fault.h is the shim).
 *
 * Owns the loop (its clock far ahead of CLOCK_MONOTONIC, so that the
 * timerfd never fires by itself and the timers run when the test moves the
 * clock: every run makes the same calls), a guest object on a socketpair
 * with the test's backend operations, an honest guest writer (synth.h) on
 * the other end, and what the run showed: the session's events in order
 * (OUTPUT aside), the OUTPUT bytes compared with what the guest sent, the
 * verdict, the loop's reports of disabled sources.
 *
 * A turn: the guest's writer flushes and reads what the host sent, the
 * test's own peer (side) does its part, then the host runs one loop
 * iteration inside its turn (fault_host). Settling: turns until nothing is
 * in flight anywhere (the peers' sockets read to the end both ways, or the
 * port not attached, and the test's idle() agrees) after two turns in a
 * row (what one left queued in the host, waiting for EPOLLOUT, goes out in
 * the next), at most FFX_ITER_MAX turns: past that the run hung. Load: a
 * few hundred turns a run, thousands of runs a test.
 */
#ifndef VIGIL_TESTS_FAULT_FX_H
#define VIGIL_TESTS_FAULT_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest.h"
#include "loop.h"
#include "synth.h"

#define FFX_EV_MAX     64
#define FFX_ITER_MAX   2000
#define FFX_OUT_MAX    (512u << 10) /* honest STDOUT bytes a scenario may send */
#define FFX_FRAMES_MAX 512          /* honest STDOUT frames a scenario may send */
#define FFX_MS         1000000ull

struct ffx {
	struct vigil_loop *l;
	uint64_t now; /* the fake clock */
	struct vigil_guest *g;
	int port_fd; /* the host's end (owned by the guest) */
	struct synth_tx tx;
	bool tx_dead;
	uint8_t fb[VIGIL_WIRE_MAX_FRAME];
	/* the test's peer: called every turn; idle: nothing of its in flight */
	void (*side)(struct ffx *x);
	bool (*idle)(struct ffx *x);
	/* what the run showed */
	uint16_t ev[FFX_EV_MAX];
	int32_t ev_arg[FFX_EV_MAX]; /* process events: the pid; SNAPSHOT_DONE: the status */
	unsigned n_ev;
	size_t sent, delivered; /* honest STDOUT bytes sent, and delivered as OUTPUT */
	bool delivered_ok;      /* what was delivered is what was sent, in order */
	/* the same per frame, for a link that may lose frames: each OUTPUT is
	 * a whole STDOUT frame the guest sent, later than the one before */
	struct ffx_frame {
		uint32_t off, len; /* in the honest output */
	} frame[FFX_FRAMES_MAX];
	unsigned n_frames;                       /* STDOUT frames sent */
	unsigned next_frame;                     /* the first not delivered nor skipped */
	unsigned frames_lost;                    /* frames skipped over (never delivered) */
	bool frames_ok;                          /* every OUTPUT matched a frame, in order */
	void (*before_loop_free)(struct ffx *x); /* ffx_close: the guest is freed, the loop not */
	bool done, hung;
	int hung_phase;
	enum vigil_outcome outcome;
	uint64_t port_closed;
	unsigned reports; /* sources the loop disabled */
};

/* A fresh run: loop, guest (named "g") with ops/be, port attached, writer
 * ready. be is given to ops; x->side and x->idle may be set after. */
void ffx_open(struct ffx *x, const struct vigil_guest_ops *ops, void *be);
/* The same in two steps, for a backend that needs the loop first: the
 * loop, then the guest with session options so (NULL: ffx_open's). With
 * chan, the port is not attached: the host's end of the writer's
 * socketpair is given in *chan (the caller's, port_fd -1) for the
 * backend's own channel. */
void ffx_open_loop(struct ffx *x);
void ffx_open_guest(struct ffx *x, const struct vigil_guest_ops *ops, void *be,
		    const struct vigil_session_opts *so, int *chan);
/* Frees the guest (its backend's free runs: ops->free) and the loop. */
void ffx_close(struct ffx *x);
/* One turn (see the top). */
void ffx_turn(struct ffx *x);
/* Turns until settled; false when FFX_ITER_MAX went by (x->hung set). */
bool ffx_settle(struct ffx *x, int phase);
/* The guest is DONE or, if not, made so as a VM that powered off would:
 * vigil_guest_gone inside the host's turn. */
void ffx_end(struct ffx *x);

/* The honest guest's frames (nothing written once x->tx_dead). */
void ffx_hello(struct ffx *x);
void ffx_beat(struct ffx *x, uint32_t pid, uint32_t deadline_ms);
void ffx_stdout(struct ffx *x, size_t len);
void ffx_exit(struct ffx *x, int32_t status);
void ffx_snapshot_request(struct ffx *x, uint32_t kind, uint32_t id);

/* Bytes written to fd's socket and not yet read by its peer (SIOCOUTQ). */
int ffx_unread(int fd);
/* The event sequences match, events of the types in skip (a bit mask of
 * 1 << type) aside. */
bool ffx_same_events(const struct ffx *a, const struct ffx *ref, uint64_t skip);
bool ffx_saw(const struct ffx *a, uint16_t type);
/* Prints what a run showed (for a failure). */
void ffx_describe(const struct ffx *x, const char *what);

#endif /* VIGIL_TESTS_FAULT_FX_H */
