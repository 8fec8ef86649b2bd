/* SPDX-License-Identifier: MIT */
/*
 * families: vigil's families from the counter table and the loop's
 * histograms (see families.h). Owns no state; names are built on the stack
 * per family. Load: once per scrape, ~100 families x the guests.
 */
#include "families.h"

#include <errno.h>
#include <stdio.h>

#define PREFIX "vigil_"

/* A zero histogram for a guest with none yet: every series is exported. */
static const struct vigil_loop_hist zero_hist;

struct vigil_expo_hist vigil_metrics_loop_hist(const struct vigil_loop_hist *h)
{
	return (struct vigil_expo_hist){
		.bounds = vigil_loop_hist_bounds_ns,
		.buckets = h->buckets,
		.nbounds = VIGIL_LOOP_HIST_BOUNDS,
		.sum = h->sum_ns,
		.scale = 1000000000ull,
	};
}

/* The family of one descriptor: "vigil_" name ["_total"], domain [+ label]. */
static int desc_family(struct vigil_expo *w, const struct vigil_counter_desc *d, char *name,
		       size_t size)
{
	bool counter = d->kind == VIGIL_COUNTER;
	struct vigil_metric_family f = {
		.name = name,
		.help = d->help,
		.type = counter ? VIGIL_METRIC_COUNTER : VIGIL_METRIC_GAUGE,
		.labels = { "domain", d->index != VIGIL_COUNTER_SCALAR ? d->label : NULL },
	};
	int n = snprintf(name, size, PREFIX "%s%s", d->name, counter ? "_total" : "");

	if (n < 0 || (size_t)n >= size)
		return -EINVAL;
	return vigil_expo_family(w, &f);
}

/* One guest's series of d: one value, or one per labelled element. */
static int desc_series(struct vigil_expo *w, const struct vigil_counter_desc *d,
		       const struct vigil_metrics_guest *g)
{
	static const struct vigil_session_counters zero;
	const struct vigil_session_counters *c = g->counters ? g->counters : &zero;
	const char *values[2] = { g->domain, NULL };
	int e = 0;

	if (d->index == VIGIL_COUNTER_SCALAR)
		return vigil_expo_sample(w, values, vigil_counter_value(c, d), d->scale);
	for (uint32_t i = 0; i < d->count && !e; i++) {
		values[1] = vigil_counter_label(d, i);
		if (values[1]) /* elements standing for nothing are left out */
			e = vigil_expo_sample(w, values, vigil_counter_value_at(c, d, i), d->scale);
	}
	return e;
}

int vigil_metrics_session_families(struct vigil_expo *w, const struct vigil_metrics_guest *g,
				   size_t n)
{
	size_t nd;
	const struct vigil_counter_desc *d = vigil_session_counter_descs(&nd);
	char name[VIGIL_EXPO_NAME_MAX + 1];
	int e = 0;

	for (size_t i = 0; i < nd && !e; i++) {
		e = desc_family(w, &d[i], name, sizeof(name));
		for (size_t j = 0; j < n && !e; j++)
			e = desc_series(w, &d[i], &g[j]);
	}
	return e ? e : vigil_expo_finish(w);
}

int vigil_metrics_read_families(struct vigil_expo *w, const struct vigil_metrics_guest *g, size_t n)
{
	static const struct vigil_metric_family f = {
		.name = PREFIX "guest_read_seconds",
		.help = "Time one wake-up of a guest's port took on the event loop (read, "
			"decode, dispatch).",
		.type = VIGIL_METRIC_HISTOGRAM,
		.labels = { "domain" },
	};
	int e = vigil_expo_family(w, &f);

	for (size_t i = 0; i < n && !e; i++) {
		const char *values[] = { g[i].domain };
		struct vigil_expo_hist h =
		    vigil_metrics_loop_hist(g[i].read_hist ? g[i].read_hist : &zero_hist);

		e = vigil_expo_histogram(w, values, &h);
	}
	return e ? e : vigil_expo_finish(w);
}

static int loop_counter(struct vigil_expo *w, const char *name, const char *help, uint64_t v)
{
	struct vigil_metric_family f = { .name = name, .help = help, .type = VIGIL_METRIC_COUNTER };
	int e = vigil_expo_family(w, &f);

	return e ? e : vigil_expo_sample(w, NULL, v, 1);
}

int vigil_metrics_loop_families(struct vigil_expo *w, const struct vigil_loop *l)
{
	static const struct vigil_metric_family lat = {
		.name = PREFIX "loop_wakeup_latency_seconds",
		.help = "How late the event loop woke for a timer deadline it slept on.",
		.type = VIGIL_METRIC_HISTOGRAM,
	};
	struct vigil_loop_stats st;
	struct vigil_expo_hist h = vigil_metrics_loop_hist(vigil_loop_wake_latency(l));
	int e;

	vigil_loop_stats(l, &st);
	e = vigil_expo_family(w, &lat);
	e = e ? e : vigil_expo_histogram(w, NULL, &h);
	e = e ? e
	      : loop_counter(w, PREFIX "loop_wakeups_total", "Event loop iterations.", st.wakeups);
	e = e ? e
	      : loop_counter(w, PREFIX "loop_dispatches_total",
			     "Event source callbacks the loop ran.", st.dispatched);
	e = e ? e
	      : loop_counter(w, PREFIX "loop_timers_fired_total", "Timer callbacks the loop ran.",
			     st.timers_fired);
	e = e ? e
	      : loop_counter(w, PREFIX "loop_sources_disabled_total",
			     "Event sources disabled because their handler failed.",
			     st.sources_disabled);
	return e ? e : vigil_expo_finish(w);
}
