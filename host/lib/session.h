/* SPDX-License-Identifier: MIT */
/*
 * Internal: the session's state and the helpers its modules share. Not
 * installed.
 *
 * A session is split by behaviour: session.c (life cycle, clocks, feed and
 * tick, timeouts, link, pings, the progress probe, tracker events,
 * findings, the verdict), dispatch.c (frame type -> handler), scenario.c,
 * inspect.c (INSPECT after a stall), classify.c (the stall classes),
 * gstall.c (guest stalls), probe.c (the progress probe, host starvation),
 * watchdog.c, snapshot.c, evidence.c (lines that explain findings, kernel
 * trouble, the VMM's exit), counters.c (the counter table), verdict.c
 * (precedence, exit codes, summary) and json.c (rendering). Each module's
 * header says what it owns; they all work on struct vigil_session, defined
 * here so that each can reach the others' state through their functions.
 *
 * Clocks: s->now is the largest now_ns seen (regressions are clamped).
 * Runnable time (rt) = host time - time the VM was stopped; it drives stall
 * deadlines, the boot timeout, the workload watchdog and the link grace.
 * The run timeout, pings and probe samples run on host time.
 */
#ifndef VIGIL_HOST_SESSION_INTERNAL_H
#define VIGIL_HOST_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/session.h>

#include "counters.h"
#include "evidence.h"
#include "findings.h"
#include "flows.h"
#include "gstall.h"
#include "inspect.h"
#include "scenario.h"
#include "snapshot.h"
#include "tracker.h"
#include "watchdog.h"

#define SES_PING_RING   4u
#define SES_PROG_RING   256u
#define SES_PROG_MIN_NS (10 * 1000000ull) /* fastest probe sampling period */
#define SES_TX_CAP      (VIGIL_WIRE_HDR_LEN + 10 + VIGIL_WIRE_STR_MAX)
#define NSEC_PER_SEC    1000000000ull

struct ping_sent {
	uint64_t token; /* 0: slot unused */
	uint64_t sent_ns;
};

struct prog_sample {
	uint64_t rt_ns;
	uint64_t cpu_ns;
	uint64_t wait_ns; /* have_state: the vCPU threads' runqueue wait */
	bool stopped;     /* have_state: a vCPU thread was stopped */
	bool have_state;  /* from the vCPU state probe */
};

struct vigil_session {
	struct vigil_session_opts o;
	struct vigil_session_hooks h;
	struct vigil_vcpu_state_probe vcpu_state; /* takes the progress probe's place when set */
	uint64_t t0;                              /* creation time, host ns */
	uint64_t now;                             /* largest now_ns seen */
	uint64_t last_next;                       /* deadline the last tick returned */

	/* runnable time: rt = now - stopped_total, frozen while the VM is
	 * stopped or the host does not read (ses_held) */
	bool vm_stopped;
	bool host_paused;
	uint64_t stopped_at; /* when the clock froze */
	uint64_t stopped_total;
	uint64_t host_paused_at;
	uint64_t vm_stopped_at;

	/* link */
	bool link_up;
	bool link_grace;       /* LINK_LOST countdown armed */
	uint64_t link_lost_rt; /* when it fires */

	/* stream and epochs */
	struct vigil_asm *as;
	uint32_t epoch;
	bool ready_in_epoch;
	bool ready_ever;

	/* run */
	bool ended;         /* something ended the run */
	bool finished;      /* vigil_session_finish() ran: every later call is refused */
	uint32_t cb_depth;  /* callbacks of the caller's now running (ses_cb_enter) */
	bool in_snap_start; /* the snapshot provider's start() is running */
	bool boot_armed;
	uint64_t boot_rt;
	bool run_armed;
	uint64_t run_deadline; /* host ns */

	/* the workload: watchdog, scenarios, tests */
	struct wdg wdg;
	struct scn scn;
	struct vigil_test *tests; /* [o.max_tests] */
	uint32_t n_tests;
	uint32_t tests_by_outcome[4];
	bool test_failed;

	/* findings and their evidence */
	struct fnd fnd;
	struct evd evd;
	uint32_t stall_findings;

	struct snap snap;
	struct isp isp; /* INSPECT requests and stall classes */
	struct gst gst; /* guest stalls */

	/* pings */
	uint64_t ping_next;
	uint64_t ping_token;
	struct ping_sent pings[SES_PING_RING];

	/* progress probe */
	uint64_t prog_next;
	uint64_t prog_period; /* min(progress_interval, max(shortest pid deadline / 8, 10 ms)) */
	struct prog_sample prog[SES_PROG_RING];
	uint32_t prog_head, prog_n;

	/* beat token bucket, in beat-ns (one beat costs NSEC_PER_SEC) */
	uint64_t tb_tokens;
	uint64_t tb_cap;
	uint64_t tb_last;

	/* anomalies */
	uint64_t anom_next;
	uint64_t anom_last[CTR_ANOMALIES]; /* values at the last report */

	/* tables */
	struct trk *trk;
	struct flows *flows;

	/* verdict data */
	struct vigil_session_counters c; /* tracker/flows/stream filled on read */
	struct vigil_timeline tl;
	struct vigil_guest_info guest;
	bool have_exit;
	int32_t exit_status, exit_signal;
	bool have_sched_exit;
	int32_t sched_code;
	uint32_t sched_kind;
	char sched_reason[VIGIL_DETAIL_MAX];
	uint64_t agent_stats[VIGIL_STAT__KNOWN];
	bool have_agent_stats;
	struct vigil_verdict v;
	struct vigil_session_counters v_counters; /* the verdict's, at finish() */

	/* host-to-guest */
	uint32_t tx_seq;
	uint8_t tx[SES_TX_CAP];
};

/* ---- session.c: clocks, events, strings -------------------------------- */

/* A timeline stamp: ns since creation, at least 1 (0 means "never"). */
uint64_t ses_stamp(const struct vigil_session *s);
/* Runnable time now (frozen while the VM is stopped). */
/* The runnable clock is frozen: the VM stopped or the host not reading. */
bool ses_held(const struct vigil_session *s);
uint64_t ses_rt_now(const struct vigil_session *s);
/* A public call at now_ns: s->now moves on (an earlier time is counted and
 * clamped). */
void ses_clock_in(struct vigil_session *s, uint64_t now_ns);
/* Raise ev (now_ns and t_ns filled in) to the sink. */
void ses_emit(struct vigil_session *s, struct vigil_event *ev);
/*
 * Around every call into the caller's code (sink, writer, snapshot
 * provider, probes): while one runs, the public calls that change the
 * session are refused (ses_gate).
 */
static inline void ses_cb_enter(struct vigil_session *s)
{
	s->cb_depth++;
}
static inline void ses_cb_leave(struct vigil_session *s)
{
	s->cb_depth--;
}
/*
 * May a public call change the session now? 0, -EBUSY from inside one of
 * its callbacks, -ESHUTDOWN after vigil_session_finish().
 */
int ses_gate(const struct vigil_session *s);
/* All the counters, sz = the whole struct (vigil_session_counters()'s
 * source). */
void ses_counters(const struct vigil_session *s, struct vigil_session_counters *out);
/* Copy a guest string into a bounded field; a cut one is counted. */
void ses_copy_str(struct vigil_session *s, char *dst, size_t cap, struct vigil_str str);

/*
 * Copy guest bytes into a NUL-terminated field of cap bytes: cut at cap - 1,
 * NUL bytes replaced by '?'. Returns true when it had to cut.
 */
bool vigil__copy_text(char *dst, size_t cap, const void *src, size_t len);

/* ---- session.c: findings ----------------------------------------------- */

/* What a finding says; see struct vigil_finding. */
struct ses_finding_in {
	enum vigil_outcome oc;
	int32_t status;
	uint32_t kind;
	uint32_t pid;
	uint64_t silence;
	const char *detail; /* may be NULL */
	size_t detail_len;
	bool fatal; /* may decide the outcome */
	bool ends;  /* the run is over */
};

/*
 * Record a finding (bounded, see findings.h) and emit FINDING. Returns its
 * id, 0 when it was not kept. ends holds either way.
 */
uint32_t ses_finding_add(struct vigil_session *s, const struct ses_finding_in *in);
/* A fatal finding with a fixed sentence. */
uint32_t ses_finding_text(struct vigil_session *s, enum vigil_outcome oc, const char *text,
			  bool ends);
/* An evidence line for finding id, stamped now. */
bool ses_line_to(struct vigil_session *s, uint32_t id, uint16_t source, const void *text,
		 size_t len);

/* ---- session.c: the link ----------------------------------------------- */

/*
 * Seal the payload already written at s->tx + VIGIL_WIRE_HDR_LEN (plen
 * bytes, or the encoder's negative errno) as a frame of type and hand it to
 * the writer. 0, or a negative errno (counted as tx_errors).
 */
int ses_tx_send(struct vigil_session *s, uint16_t type, int plen);
/* Forget the PINGs in flight (a new epoch, a VM stop). */
void ses_pings_forget(struct vigil_session *s);
/* A PONG: 0 when it matched a PING in flight, 1 when not (counted). */
int ses_pong(struct vigil_session *s, const struct vigil_pong *p);
/* ---- probe.c: the progress probe and host starvation --------------------- */

/* A probe is there (the vCPU state probe or the progress probe). */
bool ses_probe_on(const struct vigil_session *s);
/* Take one sample into the ring. */
void ses_probe_sample(struct vigil_session *s);
/* Beats came in: sample the probe often enough for the shortest deadline. */
void ses_probe_fit(struct vigil_session *s);
/*
 * Did the host starve the guest in the recent part of a silence that began
 * at runnable time since_rt and has now lasted dl_ns (see probe.c)? The
 * _timeout form also counts a host that gave the vCPUs less than they
 * waited for (overload), for the boot and watchdog timeouts.
 */
bool ses_host_starved(struct vigil_session *s, uint64_t since_rt, uint64_t dl_ns);
bool ses_host_starved_timeout(struct vigil_session *s, uint64_t since_rt, uint64_t dl_ns);
/*
 * A timeout of len_ns that began at since_rt fires: when the host starved
 * the guest meanwhile (the _timeout rule), record HOST_STARVED with text,
 * fatal, before the timeout's own finding (which it outranks: the primary,
 * exit 121). Its id, 0 when the host did not starve it.
 */
uint32_t ses_timeout_starved(struct vigil_session *s, uint64_t since_rt, uint64_t len_ns,
			     const char *text);

/* ---- session.c: stall classes ------------------------------------------- */

/*
 * A class was found (info->cls): the finding with id finding (0: none kept)
 * gets it and its samples, with the sampled stack as evidence, and
 * STALL_CLASSIFIED is emitted.
 */
void ses_stall_classified(struct vigil_session *s, uint32_t finding,
			  const struct vigil_stall_info *info);

/* ---- verdict.c --------------------------------------------------------- */

/* Pick the primary finding: the fatal one with the highest rank, the
 * earliest among equals. NULL when there is no fatal finding. */
const struct vigil_finding *vigil__primary_finding(const struct vigil_finding *f, uint32_t n);

#endif /* VIGIL_HOST_SESSION_INTERNAL_H */
