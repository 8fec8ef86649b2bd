/* SPDX-License-Identifier: MIT */
/*
 * The workload watchdog (see watchdog.h for its rules). The deadline is on
 * runnable time; holds move it on by their length when they end. The
 * budget is workload_duration_ns; 0 turns the watchdog off.
 */
#include "session.h"

static void wdg_arm(struct vigil_session *s, uint64_t budget_ns)
{
	struct wdg *w = &s->wdg;
	uint64_t now_rt = ses_rt_now(s);

	w->armed = true;
	w->deadline_rt = now_rt + budget_ns;
	if (w->held)
		w->held_rt = now_rt; /* only the part of the pause from now on counts */
}

/* End a hold: the deadline moves on by its length. */
static void wdg_release(struct vigil_session *s)
{
	struct wdg *w = &s->wdg;

	if (!w->held)
		return;
	w->held = false;
	if (w->armed)
		w->deadline_rt += ses_rt_now(s) - w->held_rt;
}

/* Run mode: the agent starts the workload right after SYS_RDY. */
void wdg_on_ready(struct vigil_session *s)
{
	if (s->o.mode != VIGIL_MODE_RUN || !s->o.workload_duration_ns || s->ended || s->wdg.armed)
		return;
	wdg_arm(s, s->o.workload_duration_ns);
}

/* Watch mode: the budget is the scenarios' unpaused running time. */
void wdg_on_scenario_start(struct vigil_session *s)
{
	uint64_t budget = s->o.workload_duration_ns, used = s->scn.run_total_ns;

	if (s->o.mode != VIGIL_MODE_WATCH || !budget || s->ended)
		return;
	wdg_arm(s, budget > used ? budget - used : 0);
}

void wdg_on_scenario_pause(struct vigil_session *s)
{
	s->wdg.held = true;
	s->wdg.held_rt = ses_rt_now(s);
}

void wdg_on_scenario_resume(struct vigil_session *s)
{
	wdg_release(s);
}

/* A scenario ended paused: its pause lasted until now. In watch mode the
 * time between scenarios does not count. */
void wdg_on_scenario_end(struct vigil_session *s)
{
	wdg_release(s);
	if (s->o.mode == VIGIL_MODE_WATCH)
		s->wdg.armed = false;
}

void wdg_on_exit(struct vigil_session *s)
{
	if (s->o.mode == VIGIL_MODE_RUN)
		s->wdg.armed = false;
}

void wdg_stop(struct vigil_session *s)
{
	s->wdg.armed = false;
}

uint64_t wdg_deadline(const struct vigil_session *s)
{
	const struct wdg *w = &s->wdg;

	return w->armed && !w->held ? w->deadline_rt : VIGIL_DEADLINE_NONE;
}

void wdg_check(struct vigil_session *s, uint64_t now_rt)
{
	uint32_t id;

	if (now_rt < wdg_deadline(s))
		return;
	s->wdg.armed = false;
	if (s->ended)
		return;
	ses_timeout_starved(s, now_rt - s->o.workload_duration_ns, s->o.workload_duration_ns,
			    "the vCPUs waited for the host's CPUs before the watchdog timeout");
	id = ses_finding_text(s, VIGIL_OUTCOME_WATCHDOG_TIMEOUT,
			      "the workload ran past its duration", true);
	evd_output(s, id);
}
