/* SPDX-License-Identifier: MIT */
/*
 * Process inspection, host side: after a process stall, two INSPECTs 100 ms
 * of runnable time apart, their PROCESS_REPORTs matched to the requests,
 * and the stall's class from the two samples (classify.h), reported as a
 * STALL_CLASSIFIED event and written into the stall's finding.
 *
 * Rules (docs/wire.md, "Process inspection"; docs/verdict.md, "Stall
 * classes"):
 * - INSPECT goes only to an agent whose HELLO set bit 6, while the link is
 *   up, and only for a stall that is not host-starved.
 * - Bounds: at most ISP_MAX_REQ requests in flight (the protocol's 4), at
 *   most ISP_MAX_JOBS stalls being classified, and inspect_rate_per_s
 *   INSPECTs per host second; a stall reserves both of its INSPECTs when it
 *   starts. What the bounds refuse is counted; such a stall stays
 *   unclassified.
 * - Request ids count from 1, skip 0 and are never reused while in flight.
 *   A report whose id is not in flight, or whose pid is not the request's,
 *   is unmatched (the type's `ignored` counter, as before inspection). A
 *   request with no report after ISP_TIMEOUT_NS of runnable time is freed
 *   (counted). A new epoch or a link loss cancels every request in flight
 *   and leaves their stalls unclassified.
 * - No answer within ISP_ANSWER_NS of runnable time, with nothing at all
 *   heard from the guest since the INSPECT went out: the agent is not
 *   running, a guest stall (gstall.h), into which pending stalls fold.
 *   Something heard meanwhile: the agent runs but did not answer: unknown.
 * - on_stall fail: the first stall's finding is fatal at once, but the run
 *   ends when its class is known, or ISP_FAIL_WAIT_NS of runnable time
 *   later, whichever comes first.
 *
 * Owns the request table, the jobs (one per stall being classified), the
 * rate window and the pool of stall infos (ISP_INFOS, allocated at the
 * first stall: a run without stalls costs none of it). No allocation
 * otherwise; every call that changes something is O(ISP_MAX_REQ +
 * ISP_MAX_JOBS), a tick with nothing due O(1). Load: a few stalls per run;
 * a report per INSPECT; a tick per session deadline.
 */
#ifndef VIGIL_HOST_INSPECT_H
#define VIGIL_HOST_INSPECT_H

#include <stdbool.h>
#include <stdint.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#define ISP_MAX_REQ      VIGIL_WIRE_MAX_INSPECT
#define ISP_MAX_JOBS     4u
#define ISP_ANSWER_NS    (1000 * 1000000ull) /* no answer: the agent is not running */
#define ISP_TIMEOUT_NS   (2000 * 1000000ull) /* a request in flight ends */
#define ISP_FAIL_WAIT_NS (1100 * 1000000ull) /* on_stall fail waits this long for a class */
#define ISP_INFOS        24u                 /* stall infos kept per session */

struct vigil_session;

struct isp_req {
	uint32_t id;      /* 0: free */
	uint32_t pid;     /* asked for */
	uint32_t job;     /* index + 1 of the job that asked; 0: its job is gone */
	uint64_t sent_rt; /* runnable ns when sent */
};

enum isp_state {
	ISP_IDLE = 0,    /* free slot */
	ISP_WAIT_FIRST,  /* the first INSPECT is in flight */
	ISP_GAP,         /* the first sample is in; the second goes at next_rt */
	ISP_WAIT_SECOND, /* the second INSPECT is in flight */
};

struct isp_job {
	enum isp_state st;
	uint32_t pid;
	uint32_t finding;  /* id of the stall's finding; 0 when not kept */
	uint32_t req;      /* request id in flight (WAIT_*) */
	uint64_t sent_rt;  /* WAIT_*: when that request went out */
	uint64_t next_rt;  /* GAP: when the second goes */
	uint64_t first_rt; /* runnable ns of the first report */
	uint64_t silence;  /* the stall's silence at detection */
	struct vigil_stall_info *info;
};

struct isp {
	struct isp_req req[ISP_MAX_REQ];
	struct isp_job job[ISP_MAX_JOBS];
	uint32_t next_id;   /* the next request id to try */
	uint64_t win_start; /* rate window start, host ns */
	uint32_t win_n;     /* INSPECTs counted in the window (reserved ones included) */
	struct vigil_stall_info *infos; /* [ISP_INFOS], NULL until the first stall */
	uint32_t n_infos;
	bool end_armed;  /* on_stall fail: the run ends at end_rt without a class */
	uint64_t end_rt; /* runnable ns */
	uint64_t due;    /* the earliest deadline above (runnable ns), kept current by
			    every call that changes them; VIGIL_DEADLINE_NONE */
};

/*
 * A process stall was recorded (finding id, 0 when not kept). Starts its
 * classification when the rules allow; returns true when it did (under
 * on_stall fail the caller then leaves the run going: isp ends it).
 */
bool isp_start(struct vigil_session *s, uint32_t pid, uint32_t finding, uint64_t silence);
/* A CRC-valid, well-formed PROCESS_REPORT: 0 matched, 1 unmatched. */
int isp_report(struct vigil_session *s, const struct vigil_process_report *r);
/* At runnable time now_rt: second INSPECTs due, answers overdue, request
 * timeouts, the on_stall fail wait. */
void isp_tick(struct vigil_session *s, uint64_t now_rt);
/* The earliest runnable-time deadline above, VIGIL_DEADLINE_NONE when none. */
uint64_t isp_deadline(const struct vigil_session *s);
/* A new epoch or a link loss: every request in flight is cancelled. */
void isp_cancel_all(struct vigil_session *s);
/* pid beat again: its classification stops (samples after a recovery say
 * nothing about the stall). */
void isp_recovered(struct vigil_session *s, uint32_t pid);
/*
 * A guest stall takes over: every stall still being classified ends and is
 * handed to fold(ctx, pid, finding) (the guest stall folds it in); the
 * requests stay in flight until answered or timed out.
 */
void isp_fold_all(struct vigil_session *s, void (*fold)(void *ctx, uint32_t pid, uint32_t finding),
		  void *ctx);
/* A stall info from the pool (zeroed), NULL when it is used up (counted). */
struct vigil_stall_info *isp_info_new(struct vigil_session *s);
/* Nothing in flight: set up with the session. */
void isp_init(struct vigil_session *s);
void isp_fini(struct vigil_session *s);

#endif /* VIGIL_HOST_INSPECT_H */
