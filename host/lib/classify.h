/* SPDX-License-Identifier: MIT */
/*
 * Stall classes: the pure rule that turns two samples of a stalled
 * process (two PROCESS_REPORTs taken 100 ms of runnable time apart) into
 * an enum vigil_stall_class, and the copy of a report into a sample.
 *
 * Owns no state. The rule (docs/verdict.md, "Stall classes") looks at the
 * second sample's state and at the deltas between the two:
 *   -ESRCH in either, or state Z/X          gone
 *   another non-zero status                 unknown
 *   T, t                                    stopped
 *   D                                       blocked
 *   S, I                                    sleeping
 *   R, run delta < 1 % of the time sampled  runnable (not scheduled)
 *   R, run delta >= 1 %                     running
 *   anything else (R with every schedstat
 *      counter 0: no schedstats; P; other
 *      letters)                             unknown
 * wait_ns need not move for "runnable": the kernel adds a wait to it
 * (sched_info.run_delay) only when the waiting task gets a CPU, so a task
 * that is never picked shows run, wait and timeslices all standing still.
 * With one sample (the second could not be asked for) the state alone
 * decides, and R is unknown: a rate needs two samples.
 *
 * Load: once per stall; O(1), no allocation.
 */
#ifndef VIGIL_HOST_CLASSIFY_H
#define VIGIL_HOST_CLASSIFY_H

#include <stdint.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#define CLS_GAP_NS       (100 * 1000000ull) /* runnable time between the two samples */
#define CLS_RUN_PERMILLE 10u                /* run delta under 1 % of the gap: not scheduled */

/*
 * The class of b (the later sample; NULL when there is only a) given a,
 * with sampled_ns the runnable time between the two reports.
 */
enum vigil_stall_class cls_classify(const struct vigil_process_sample *a,
				    const struct vigil_process_sample *b, uint64_t sampled_ns);

/* Copy report r, received at t_ns (host ns since creation), into *out;
 * returns true when a string had to be cut (cannot happen for a report
 * within the wire's limits). */
bool cls_sample_from(struct vigil_process_sample *out, const struct vigil_process_report *r,
		     uint64_t t_ns);

#endif /* VIGIL_HOST_CLASSIFY_H */
