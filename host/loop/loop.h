/* SPDX-License-Identifier: MIT */
/*
 * loop: one event loop for many guests, shaped like systemd's sd-event.
 *
 * Owns: one epoll fd; fd sources, each with its own context and one ready()
 * callback; one min-heap of timers behind one timerfd; one signalfd for
 * every signal registered. It knows nothing of QEMU, libvirt or guests.
 *
 * An iteration (vigil_loop_run_once):
 *   1. program the timerfd with the earliest deadline, only if that deadline
 *      changed; if a timer is already due, epoll_wait does not block;
 *   2. epoll_wait, up to VIGIL_LOOP_BATCH events;
 *   3. dispatch every event of the batch (sources freed or disabled earlier
 *      in the same batch are skipped);
 *   4. run the timers that are due now, in deadline order (ties: the order
 *      they were armed), each once: a timer armed again from a callback with
 *      a deadline that is already due runs in the next iteration;
 *   5. reap what was freed: destroy callbacks run here, then memory goes.
 * So every ready fd of a batch runs before timers run again, and timers run
 * every iteration even when fds are always ready. Fairness between sources
 * is their own: each ready() reads up to a budget and returns.
 *
 * Timing (for /metrics): the loop keeps a histogram of its wake-up latency,
 * how late it woke for a timer deadline it slept on (now after epoll_wait
 * minus the deadline the timerfd was given; one clock read per such wake,
 * none when it did not block for a timer). A source given a histogram
 * (vigil_source_set_hist) has each ready() call timed into it on the
 * loop's clock (two clock reads per call; none for other sources).
 * Histograms are fixed buckets (vigil_loop_hist_bounds_ns): an observation
 * costs a few compares and three additions.
 *
 * Failure: a ready() that returns a negative errno disables its own source
 * (removed from epoll, never dispatched again) and is reported once through
 * the log callback, with the source's name; the other sources go on.
 *
 * Memory: allocation happens only in vigil_loop_new, vigil_source_add,
 * vigil_loop_child, vigil_timer_new (the heap grows there, doubling) and
 * vigil_loop_signal.
 * Dispatch, arming, disarming and freeing never allocate. Sources and timers
 * are freed late: vigil_source_free/vigil_timer_free detach at once (no
 * further callback) and the memory and the destroy callback go at the end
 * of the iteration (or of the next one, when called outside the loop, or in
 * vigil_loop_free). So freeing anything from any callback is safe.
 *
 * Limits: one source per fd (epoll's rule: a second one gets -EEXIST; dup
 * the fd to watch it twice); fds epoll can watch (not regular files). Close
 * a source's fd only after vigil_source_free (or let VIGIL_SOURCE_OWN_FD do
 * it): epoll keys on the open file, so a closed fd with a dup elsewhere
 * (a child, SCM_RIGHTS) would stay registered, its events pointing at freed
 * memory. One thread: every call is made from the thread that runs the loop.
 * Signals registered on a loop are blocked in that thread and stay blocked
 * after vigil_loop_free; use one loop per process for signals.
 * Expected load: hundreds of guests, a few fds and timers each (thousands
 * of sources and timers), 10^4..10^5 events a second.
 *
 * Errors: negative errno; 0 ok/no; >0 yes/a count. Out-parameters are
 * written only on success. Destructors take NULL. The library never prints.
 *
 * Foreign loops map onto this API without changes:
 *
 * libvirt, virEventRegisterImpl(add/update/removeHandle, add/update/
 * removeTimeout). The adapter keeps a table from libvirt's int ids to
 * sources and timers, and a small record {cb, opaque, ff} per id:
 *   addHandle(fd, ev, cb, opaque, ff): vigil_source_add(l, fd, ev mapped to
 *     EPOLLIN/OUT, 0, thunk, rec, "libvirt", &s); vigil_source_set_destroy(
 *     s, rec_destroy). thunk calls cb(id, fd, epoll events mapped back,
 *     opaque) and returns 0 (a libvirt callback cannot fail).
 *   updateHandle(id, ev): vigil_source_set_events(s, mapped ev); 0 takes the
 *     fd out of epoll, so a hung-up fd nobody watches does not spin the loop.
 *   removeHandle(id): vigil_source_free(s); rec_destroy (ff(opaque), then
 *     free the record) runs later from the loop, never inside removeHandle,
 *     as libvirt requires.
 *   addTimeout(ms, cb, opaque, ff): vigil_timer_new(l, thunk, rec, &t);
 *     vigil_timer_set_destroy(t, rec_destroy); then as updateTimeout.
 *   updateTimeout(id, ms): ms < 0: vigil_timer_disarm(t); else
 *     vigil_timer_set_period(t, ms * 1000000) and vigil_timer_arm(t,
 *     vigil_loop_now(l) + ms * 1000000). Period 0 fires on every
 *     iteration, and the loop does not block while such a timer is armed.
 *   removeTimeout(id): vigil_timer_free(t); ff runs later, as for handles.
 * virtevent.c is that adapter; virtevent.h says which threads libvirt 9.0
 * calls it from (the loop's, and those that call libvirt's API: vigil
 * calls libvirt from the loop's thread only, so it takes no lock).
 *
 * libmicrohttpd, external epoll mode (MHD_USE_EPOLL, no internal thread):
 *   fd = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
 *   vigil_source_add(l, fd, EPOLLIN, 0, mhd_ready, d, "http", &s) (an epoll
 *   fd nests in another); vigil_timer_new(l, mhd_tick, d, &t). Both call
 *   MHD_run(d), then re-arm from MHD's wish: MHD_get_timeout(d, &ms) ==
 *   MHD_YES ? vigil_timer_arm(t, vigil_loop_now(l) + ms * 1000000) :
 *   vigil_timer_disarm(t). A timeout of 0 arms a due timer: MHD runs again
 *   in the next pass over the timers, after the sources ready before it.
 */
#ifndef VIGIL_LOOP_LOOP_H
#define VIGIL_LOOP_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>

#define VIGIL_LOOP_BATCH 256 /* events taken per epoll_wait */
/* vigil_timer_set_period: not periodic (the default). */
#define VIGIL_TIMER_NO_PERIOD UINT64_MAX

/* vigil_source_add flags */
#define VIGIL_SOURCE_OWN_FD 0x1u /* the loop closes the fd when the source is freed */

struct vigil_loop;
struct vigil_source; /* an fd watched by epoll */
struct vigil_timer;  /* a deadline in the loop's timer heap */

struct vigil_loop_stats {
	uint64_t wakeups;          /* epoll_wait returns (iterations) */
	uint64_t dispatched;       /* ready() calls of sources added by callers */
	uint64_t timers_fired;     /* timer callbacks run */
	uint64_t timerfd_sets;     /* timerfd_settime calls */
	uint64_t epoll_ctls;       /* epoll_ctl calls for sources (ADD, MOD, DEL) */
	uint64_t signals;          /* signals read from the signalfd */
	uint64_t sources_disabled; /* sources disabled by a failing ready() */
};

/* Durations on fixed bounds, in ns. */
#define VIGIL_LOOP_HIST_BOUNDS 15
struct vigil_loop_hist {
	uint64_t count;  /* observations */
	uint64_t sum_ns; /* their sum (wraps after 584 years of observed time) */
	/* [i]: observations > bound i-1 and <= bound i (not cumulative);
	 * [VIGIL_LOOP_HIST_BOUNDS]: above the last bound */
	uint64_t buckets[VIGIL_LOOP_HIST_BOUNDS + 1];
};
/* The upper bounds, ascending: 10 us .. 1 s. */
extern const uint64_t vigil_loop_hist_bounds_ns[VIGIL_LOOP_HIST_BOUNDS];
void vigil_loop_hist_add(struct vigil_loop_hist *h, uint64_t ns);

/*
 * ready(): events are epoll's (EPOLLIN, EPOLLOUT, EPOLLHUP, ...). Return 0 to
 * go on, or a negative errno to disable the source (see the top).
 */
typedef int (*vigil_ready_fn)(struct vigil_source *s, int fd, uint32_t events, void *ctx);
/* A timer came due; now_ns is the loop's clock when the timers ran. */
typedef void (*vigil_timer_fn)(struct vigil_timer *t, uint64_t now_ns, void *ctx);
typedef void (*vigil_signal_fn)(int signo, void *ctx);
/* Runs with the source's or timer's ctx when it is reaped (see the top). */
typedef void (*vigil_destroy_fn)(void *ctx);
typedef void (*vigil_log_fn)(void *ctx, const char *msg);
/* A clock in nanoseconds; monotonic, never going back. */
typedef uint64_t (*vigil_clock_fn)(void *ctx);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t vigil_loop_now_ns(void);

int vigil_loop_new(struct vigil_loop **out);
/* Frees every source and timer still there (their destroy callbacks run,
 * OWN_FD fds are closed). Not from a callback. NULL ok. */
void vigil_loop_free(struct vigil_loop *l);
/* Where the report of a disabled source goes; NULL: nowhere. */
void vigil_loop_set_log(struct vigil_loop *l, vigil_log_fn log, void *ctx);
/* The clock timers are compared against; NULL restores CLOCK_MONOTONIC.
 * For tests: the timerfd still counts in CLOCK_MONOTONIC, so with another
 * clock iterate with vigil_loop_run_once(l, 0). */
void vigil_loop_set_clock(struct vigil_loop *l, vigil_clock_fn clock, void *ctx);
/* The loop's clock now (the one timers use). */
uint64_t vigil_loop_now(const struct vigil_loop *l);

/*
 * Watches fd for events (EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, EPOLLET;
 * 0 = not watched for now). name is copied; it names the source in reports.
 * -EINVAL for a bad argument, -EEXIST when fd already has a source, or
 * epoll_ctl's error; on failure the fd is left as it was, even with OWN_FD.
 */
int vigil_source_add(struct vigil_loop *l, int fd, uint32_t events, unsigned flags,
		     vigil_ready_fn fn, void *ctx, const char *name, struct vigil_source **out);
/* epoll_ctl only when events change. -ESHUTDOWN on a disabled source,
 * -ESTALE on a freed one, -EINVAL for events not listed above. */
int vigil_source_set_events(struct vigil_source *s, uint32_t events);
uint32_t vigil_source_events(const struct vigil_source *s);
bool vigil_source_disabled(const struct vigil_source *s);
int vigil_source_fd(const struct vigil_source *s);
const char *vigil_source_name(const struct vigil_source *s);
void vigil_source_set_destroy(struct vigil_source *s, vigil_destroy_fn destroy);
/* Times every ready() of s into h (NULL: stop). h must outlive the source,
 * or the source be freed first (freeing it detaches h at once). */
void vigil_source_set_hist(struct vigil_source *s, struct vigil_loop_hist *h);
/* Detaches now (never dispatched again, OWN_FD fd closed); memory and the
 * destroy callback go when the loop reaps it. Safe from any callback. NULL ok. */
void vigil_source_free(struct vigil_source *s);

/* A disarmed, one-shot timer. */
int vigil_timer_new(struct vigil_loop *l, vigil_timer_fn fn, void *ctx, struct vigil_timer **out);
/* Absolute deadline on the loop's clock; arming an armed timer moves it.
 * O(log n), no allocation, no system call. */
void vigil_timer_arm(struct vigil_timer *t, uint64_t when_ns);
void vigil_timer_disarm(struct vigil_timer *t);
/*
 * After each firing the timer re-arms itself period_ns after the deadline
 * it fired for (or after now, when that is already past: missed firings
 * are skipped, not bunched). 0: fires on every iteration while armed.
 * VIGIL_TIMER_NO_PERIOD: one-shot, disarmed before its callback runs.
 * Does not arm the timer; it changes the firings after the next one.
 */
void vigil_timer_set_period(struct vigil_timer *t, uint64_t period_ns);
bool vigil_timer_armed(const struct vigil_timer *t);
/* The deadline when armed; undefined otherwise. */
uint64_t vigil_timer_when(const struct vigil_timer *t);
void vigil_timer_set_destroy(struct vigil_timer *t, vigil_destroy_fn destroy);
/* Disarms now; memory and destroy go when the loop reaps it. Safe from any
 * callback. NULL ok. */
void vigil_timer_free(struct vigil_timer *t);

/*
 * Calls fn(signo, ctx) for every signo delivered; several handlers per
 * signal run in the order registered. Blocks signo in the calling thread
 * and reads it through the loop's one signalfd. Handlers stay until
 * vigil_loop_free. -EINVAL for SIGKILL, SIGSTOP or a bad number.
 */
int vigil_loop_signal(struct vigil_loop *l, int signo, vigil_signal_fn fn, void *ctx);

/*
 * A source that fires when child pid may have exited: fn runs, and asks
 * waitid(pid, WEXITED | WNOHANG) itself (it may find the child still
 * there: run again later). A pidfd (Linux 5.3) where there is one; else
 * (an old kernel, valgrind) SIGCHLD through the loop's signalfd, which the
 * loop then blocks in the calling thread. Free the source when done, as
 * any source; do not set a destroy callback on it. 0, or a negative errno.
 */
int vigil_loop_child(struct vigil_loop *l, pid_t pid, vigil_ready_fn fn, void *ctx,
		     const char *name, struct vigil_source **out);

/*
 * One iteration (see the top); timeout_ms as epoll_wait's (-1: until an
 * event or a timer). Returns the callbacks run (ready, timer, signal), or a
 * negative errno: -EBUSY when called from a callback, epoll_wait's error.
 */
int vigil_loop_run_once(struct vigil_loop *l, int timeout_ms);
/* Iterates until vigil_loop_exit(); returns the code given (use codes >= 0),
 * or a negative errno from an iteration. The loop can run again after. */
int vigil_loop_run(struct vigil_loop *l);
/* Ends vigil_loop_run after the current iteration (called before it runs:
 * vigil_loop_run returns at once). */
void vigil_loop_exit(struct vigil_loop *l, int code);
/* For callers that interleave: whether vigil_loop_exit was called, and its code. */
bool vigil_loop_exiting(const struct vigil_loop *l, int *code);
void vigil_loop_stats(const struct vigil_loop *l, struct vigil_loop_stats *out);
/* How late the loop woke for the timer deadlines it slept on (see the top). */
const struct vigil_loop_hist *vigil_loop_wake_latency(const struct vigil_loop *l);

#endif /* VIGIL_LOOP_LOOP_H */
