/* SPDX-License-Identifier: MIT */
/*
 * The workload watchdog: one session's bound on the workload's runnable
 * time (workload_duration_ns; docs/verdict.md, "The workload watchdog").
 *
 * Owns one deadline on runnable time and the rules that move it:
 * - it starts at SYS_RDY in run mode (the agent starts the workload right
 *   after), and at each SCENARIO_START in watch mode with what the ended
 *   scenarios left of the budget;
 * - a scenario pause holds it: the deadline moves on by the pause's length
 *   (a pause that began before the start counts from the start);
 * - VM stops and snapshot freezes hold it without a call: the deadline is
 *   on runnable time, which stands still while the VM is stopped;
 * - it stops at EXIT (run mode), at a scenario's end (watch mode) and when
 *   anything ends the run;
 * - past the deadline: one WATCHDOG_TIMEOUT finding with the workload's
 *   last output lines, unless the run had already ended.
 *
 * Fixed size, no allocation; every call is O(1). Called a few times per
 * scenario and once per tick.
 */
#ifndef VIGIL_HOST_WATCHDOG_H
#define VIGIL_HOST_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

struct vigil_session;

struct wdg {
	bool armed;           /* counting, or held */
	bool held;            /* a scenario pause holds it (also before it starts) */
	uint64_t deadline_rt; /* armed: expiry, runnable ns, moved on by each hold */
	uint64_t held_rt;     /* held: when the hold began, or the start if later */
};

/* SYS_RDY acted on for the first time. */
void wdg_on_ready(struct vigil_session *s);
/* A scenario started, paused, resumed, ended (by END or implicitly). */
void wdg_on_scenario_start(struct vigil_session *s);
void wdg_on_scenario_pause(struct vigil_session *s);
void wdg_on_scenario_resume(struct vigil_session *s);
void wdg_on_scenario_end(struct vigil_session *s);
/* The workload's EXIT was acted on. */
void wdg_on_exit(struct vigil_session *s);
/* The run ended: nothing more can fire. */
void wdg_stop(struct vigil_session *s);
/* Its deadline in runnable ns; VIGIL_DEADLINE_NONE when stopped or held. */
uint64_t wdg_deadline(const struct vigil_session *s);
/* At runnable time now_rt: past the deadline, stop and record the finding. */
void wdg_check(struct vigil_session *s, uint64_t now_rt);

#endif /* VIGIL_HOST_WATCHDOG_H */
