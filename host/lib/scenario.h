/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: the guest's named phases of the workload (SCENARIO_START,
 * PAUSE, RESUME, END), their running and pause times on runnable time, and
 * the verdict's list of them.
 *
 * Rules: one scenario runs at a time; a START while one runs ends it
 * (counted as scenario_overlap, not "ended" by END); PAUSE, RESUME and END
 * with nothing to act on are counted and ignored; a scenario ended while
 * paused has its pause last until the end; EXIT and finish() end a running
 * scenario. The workload watchdog (watchdog.h) is told of every change.
 *
 * Owns the state of the running scenario and the kept list (max_scenarios
 * entries, allocated by scn_init(); the rest are counted as dropped). No
 * allocation after scn_init(); every call is O(1).
 */
#ifndef VIGIL_HOST_SCENARIO_H
#define VIGIL_HOST_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include <vigil/session.h>

#define SCN_NONE UINT32_MAX

struct vigil_session;

struct scn {
	struct vigil_scenario *list; /* [cap] kept scenarios, in START order */
	uint32_t cap, n;
	uint32_t seen;         /* STARTs seen, kept or not */
	uint32_t cur;          /* list index of the running one; SCN_NONE when not kept */
	bool running;          /* a scenario runs (paused or not) */
	bool paused;           /* it is paused */
	uint64_t start_rt;     /* running: its start, runnable ns */
	uint64_t pause_rt;     /* paused: the pause's start */
	uint64_t pause_ns;     /* running: its pauses so far */
	uint64_t run_total_ns; /* ended scenarios: running time without pauses */
	uint64_t pause_all_ns; /* every scenario's pauses */
};

/* 0 or -ENOMEM. */
int scn_init(struct scn *c, uint32_t cap);
void scn_fini(struct scn *c);

/*
 * The phases, from CRC-valid, well-formed frames. Each returns 0 when acted
 * on, 1 when its rules ignored it (counted).
 */
int scn_start(struct vigil_session *s, struct vigil_str name);
int scn_pause(struct vigil_session *s, struct vigil_str name);
int scn_resume(struct vigil_session *s, struct vigil_str name);
int scn_end(struct vigil_session *s, struct vigil_str name);

/* End the running scenario, if any, without END (EXIT, finish()). */
void scn_stop(struct vigil_session *s);

/* A flow opened: the running scenario, if kept, gets the credit. */
void scn_flow_opened(struct vigil_session *s);

#endif /* VIGIL_HOST_SCENARIO_H */
