/* SPDX-License-Identifier: MIT */
/*
 * Scenarios (see scenario.h for the rules): the phases of the running
 * scenario on runnable time, the kept list, the SCENARIO events, and the
 * watchdog told of each change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

int scn_init(struct scn *c, uint32_t cap)
{
	memset(c, 0, sizeof(*c));
	c->list = calloc(cap ? cap : 1, sizeof(*c->list));
	c->cap = cap;
	c->cur = SCN_NONE;
	return c->list ? 0 : -ENOMEM;
}

void scn_fini(struct scn *c)
{
	free(c->list);
	c->list = NULL;
}

static void scn_event(struct vigil_session *s, enum vigil_scenario_phase ph, struct vigil_str name,
		      uint64_t pause_ns, uint64_t run_ns)
{
	struct vigil_event ev = { .type = VIGIL_EV_SCENARIO };

	ev.scenario.phase = ph;
	ev.scenario.index = s->scn.seen ? s->scn.seen - 1 : 0;
	ev.scenario.name = name;
	ev.scenario.pause_ns = pause_ns;
	ev.scenario.run_ns = run_ns;
	ses_emit(s, &ev);
}

/* End the running scenario at rt now (by END or implicitly); returns its
 * running time without pauses. */
static uint64_t scn_close(struct vigil_session *s, bool by_end)
{
	struct scn *c = &s->scn;
	uint64_t now_rt = ses_rt_now(s);
	uint64_t run;

	if (c->paused) {
		/* Ended while paused: the pause lasts until the end. */
		uint64_t p = now_rt - c->pause_rt;

		c->pause_ns += p;
		c->pause_all_ns += p;
		c->paused = false;
	}
	wdg_on_scenario_end(s);
	run = now_rt - c->start_rt - c->pause_ns;
	c->run_total_ns += run;
	c->running = false;
	if (c->cur != SCN_NONE) {
		struct vigil_scenario *sc = &c->list[c->cur];

		sc->end_ns = ses_stamp(s);
		sc->pause_ns = c->pause_ns;
		sc->run_ns = run;
		sc->ended = by_end;
	}
	return run;
}

/* Keep the new scenario in the list, or count it as dropped. */
static void scn_keep(struct vigil_session *s, struct vigil_str name)
{
	struct scn *c = &s->scn;
	struct vigil_scenario *sc;

	if (c->n >= c->cap) {
		s->c.scenarios_dropped++;
		c->cur = SCN_NONE;
		return;
	}
	sc = &c->list[c->n];
	memset(sc, 0, sizeof(*sc));
	ses_copy_str(s, sc->name, sizeof(sc->name), name);
	sc->start_ns = s->now - s->t0;
	c->cur = c->n++;
}

int scn_start(struct vigil_session *s, struct vigil_str name)
{
	struct scn *c = &s->scn;

	if (c->running) {
		s->c.scenario_overlap++;
		scn_close(s, false);
	}
	if (!s->tl.workload_start_ns)
		s->tl.workload_start_ns = ses_stamp(s);
	c->seen++;
	c->running = true;
	c->paused = false;
	c->start_rt = ses_rt_now(s);
	c->pause_ns = 0;
	scn_keep(s, name);
	wdg_on_scenario_start(s);
	scn_event(s, VIGIL_SCENARIO_START, name, 0, 0);
	return 0;
}

int scn_pause(struct vigil_session *s, struct vigil_str name)
{
	struct scn *c = &s->scn;

	if (!c->running) {
		s->c.scenario_unmatched++;
		return 1;
	}
	if (c->paused) {
		s->c.scenario_double_pause++;
		return 1;
	}
	c->paused = true;
	c->pause_rt = ses_rt_now(s);
	if (c->cur != SCN_NONE)
		c->list[c->cur].pauses++;
	wdg_on_scenario_pause(s);
	scn_event(s, VIGIL_SCENARIO_PAUSE, name, 0, 0);
	return 0;
}

int scn_resume(struct vigil_session *s, struct vigil_str name)
{
	struct scn *c = &s->scn;
	uint64_t p;

	if (!c->running || !c->paused) {
		s->c.scenario_unmatched++;
		return 1;
	}
	p = ses_rt_now(s) - c->pause_rt;
	c->paused = false;
	c->pause_ns += p;
	c->pause_all_ns += p;
	wdg_on_scenario_resume(s);
	scn_event(s, VIGIL_SCENARIO_RESUME, name, p, 0);
	return 0;
}

int scn_end(struct vigil_session *s, struct vigil_str name)
{
	uint64_t run;

	if (!s->scn.running) {
		s->c.scenario_unmatched++;
		return 1;
	}
	run = scn_close(s, true);
	scn_event(s, VIGIL_SCENARIO_END, name, s->scn.pause_ns, run);
	return 0;
}

void scn_stop(struct vigil_session *s)
{
	if (s->scn.running)
		scn_close(s, false);
}

void scn_flow_opened(struct vigil_session *s)
{
	if (s->scn.running && s->scn.cur != SCN_NONE)
		s->scn.list[s->scn.cur].flows_opened++;
}
