/* SPDX-License-Identifier: MIT */
/*
 * families: vigil's own metric families for /metrics, written with the
 * exposition writer (expo.h) from tables that exist elsewhere:
 *  - every per-guest session counter, from vigil_session_counter_descs()
 *    (one family per descriptor, named "vigil_" + its name, "_total" on
 *    counters, base units already in the name; seconds shown from ns), one
 *    series per guest with a `domain` label (and `type` or `kind` for array
 *    counters), every series written even when 0;
 *  - the guests' read time (vigil_guest_read_seconds, a histogram with
 *    `domain`) and the loop's wake-up latency and counters.
 *
 * Owns nothing: the owner (`vigil watch`) calls these from its /metrics
 * callback with the guests it has. Limits: the domain label takes the
 * guest's name as given (libvirt's domain name: bounded by the fleet);
 * expo's per-family series bound applies (VIGIL_EXPO_SERIES_DEFAULT).
 * Load: per scrape, ~100 families times the guests (array counters: one
 * series per message type or trouble kind, ~30 per guest).
 */
#ifndef VIGIL_METRICS_FAMILIES_H
#define VIGIL_METRICS_FAMILIES_H

#include <stddef.h>

#include <vigil/session.h>

#include "expo.h"
#include "loop.h"

struct vigil_metrics_guest {
	const char *domain;                            /* the `domain` label */
	const struct vigil_session_counters *counters; /* NULL: all 0 (not started) */
	const struct vigil_loop_hist *read_hist;       /* NULL: no observation yet */
};

/* The session counter families for n guests. 0 or the writer's error. */
int vigil_metrics_session_families(struct vigil_expo *w, const struct vigil_metrics_guest *g,
				   size_t n);
/* vigil_guest_read_seconds for n guests. 0 or the writer's error. */
int vigil_metrics_read_families(struct vigil_expo *w, const struct vigil_metrics_guest *g,
				size_t n);
/* The loop's wake-up latency histogram and its counters. */
int vigil_metrics_loop_families(struct vigil_expo *w, const struct vigil_loop *l);
/* A loop histogram as the writer takes it (seconds, from ns). */
struct vigil_expo_hist vigil_metrics_loop_hist(const struct vigil_loop_hist *h);

#endif /* VIGIL_METRICS_FAMILIES_H */
