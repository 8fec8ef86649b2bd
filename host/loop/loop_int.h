/* SPDX-License-Identifier: MIT */
/*
 * loop_int: the layout of the loop, its sources and timers, shared by
 * loop.c (epoll, sources, signals, iterations) and timer.c (the heap).
 * Never included outside host/loop/.
 */
#ifndef VIGIL_LOOP_LOOP_INT_H
#define VIGIL_LOOP_LOOP_INT_H

#include <signal.h>

#include "loop.h"

#define LOOP_NOPOS UINT32_MAX /* vigil_timer.heap_idx: not in the heap */

struct vigil_source {
	struct vigil_loop *loop;
	int fd;
	uint32_t events; /* what the caller asked for; in epoll iff in_epoll */
	unsigned flags;  /* VIGIL_SOURCE_* */
	bool in_epoll;   /* registered with epoll_ctl */
	bool disabled;   /* its ready() failed: out of epoll for good */
	bool dead;       /* freed: out of every list but the dead one */
	bool internal;   /* the loop's own timerfd/signalfd: not in the lists */
	vigil_ready_fn fn;
	void *ctx;
	vigil_destroy_fn destroy;
	struct vigil_loop_hist *hist;     /* ready() timed into it; NULL: not timed */
	const char *name;                 /* follows the struct in one allocation */
	struct vigil_source *prev, *next; /* loop->sources, while not dead */
	struct vigil_source *next_dead;   /* loop->dead_sources, once dead */
};

struct vigil_timer {
	struct vigil_loop *loop;
	uint64_t when_ns;   /* deadline on the loop's clock, while armed */
	uint64_t seq;       /* arming order: breaks ties between equal deadlines */
	uint64_t period_ns; /* VIGIL_TIMER_NO_PERIOD: one-shot */
	uint32_t heap_idx;  /* index in loop->heap, LOOP_NOPOS when disarmed */
	bool dead;
	vigil_timer_fn fn;
	void *ctx;
	vigil_destroy_fn destroy;
	struct vigil_timer *prev, *next; /* loop->timers, while not dead */
	struct vigil_timer *next_dead;   /* loop->dead_timers, once dead */
};

struct loop_sig {
	int signo;
	vigil_signal_fn fn;
	void *ctx;
};

struct child_rec;

struct vigil_loop {
	int epfd;
	struct vigil_source tsrc; /* the timerfd */
	struct vigil_source ssrc; /* the signalfd; fd -1 until a signal is registered */
	uint64_t tfd_ns;          /* deadline programmed in the timerfd; 0: none */
	uint64_t sleep_until_ns;  /* the deadline this epoll_wait may sleep towards; 0: none */

	struct vigil_source *sources, *dead_sources;
	struct vigil_timer *timers, *dead_timers;
	uint32_t ntimers; /* timers not yet reaped: heap_cap >= ntimers */

	/* Min-heap on (when_ns, seq); heap[i]->heap_idx == i. */
	struct vigil_timer **heap;
	uint32_t nheap, heap_cap;
	uint64_t seq_next; /* the seq the next arming gets */
	bool in_timers;    /* running due timers: arming clamps to run_now */
	uint64_t run_now;  /* the clock when the due timers started */

	struct loop_sig *sigs;
	size_t nsigs;
	/* child.c: no pidfds here (an old kernel, valgrind): children are
	 * watched through SIGCHLD, one eventfd each on this list */
	bool no_pidfd, sigchld;
	struct child_rec *children;
	sigset_t sigmask;   /* every signal registered */
	unsigned sig_calls; /* signal handlers run in this iteration */

	bool running; /* inside vigil_loop_run_once */
	bool exiting;
	int exit_code;
	vigil_clock_fn clock;
	void *clock_ctx;
	vigil_log_fn log;
	void *log_ctx;
	struct vigil_loop_stats st;
	struct vigil_loop_hist wake_hist; /* lateness of the deadlines slept on */
	struct epoll_event evs[VIGIL_LOOP_BATCH];
};

/* timer.c */
/* Room in the heap for one more timer (called by vigil_timer_new). */
int loop_heap_reserve(struct vigil_loop *l);
/* The earliest armed timer, or NULL. */
struct vigil_timer *loop_heap_top(const struct vigil_loop *l);
/* Runs what is due at now; returns how many ran. */
unsigned loop_run_timers(struct vigil_loop *l, uint64_t now);
/* Detaches every timer (as vigil_timer_free) for vigil_loop_free. */
void loop_kill_timers(struct vigil_loop *l);
/* Frees dead timers, destroy callbacks first; returns how many. */
unsigned loop_reap_timers(struct vigil_loop *l);

#endif /* VIGIL_LOOP_LOOP_INT_H */
