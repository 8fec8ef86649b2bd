/* SPDX-License-Identifier: MIT */
/*
 * fleet_metrics: what `vigil watch` serves on /metrics and /status
 * (docs/watch.md has the list).
 *
 * Owns: the fleet's own families (per domain: up, agent connected, epoch,
 * paused seconds, seconds since the last frame, verdicts by outcome; the
 * libvirt connection; per process, only
 * for the FLEET_RECENT_STALLS most recently stalled pids of each domain),
 * around the session counter, read-time and loop families of
 * host/metrics/families.h; and the /status JSON.
 * Limits: series bounded by domains x (fixed families + outcomes +
 * FLEET_RECENT_STALLS). Load: one render per scrape, on the loop.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "families.h"
#include "fleet_int.h"
#include "stallexec.h"

/* One gauge or counter family with one sample per domain. */
struct dom_family {
	const char *name, *help;
	enum vigil_metric_type type;
	uint64_t scale;
	uint64_t (*value)(const struct fdom *d, uint64_t now);
};

static uint64_t v_up(const struct fdom *d, uint64_t now)
{
	(void)now;
	return d->active;
}

/* The agent holds the channel, said HELLO once and spoke since the link came up. */
/* The link is up and the agent has spoken since: a HELLO, or any valid
 * frame when watch joined a stream mid-way (started again while the agent
 * ran: no HELLO comes then, and the epoch stays unknown, 0). */
static bool agent_connected(const struct fdom *d)
{
	return d->g && d->link_up && d->heard;
}

static uint64_t v_agent(const struct fdom *d, uint64_t now)
{
	(void)now;
	return agent_connected(d);
}

static uint64_t v_epoch(const struct fdom *d, uint64_t now)
{
	(void)now;
	return d->epoch;
}

static uint64_t v_paused(const struct fdom *d, uint64_t now)
{
	return d->paused_total_ns + (d->paused ? now - d->paused_since_ns : 0);
}

static uint64_t v_paused_now(const struct fdom *d, uint64_t now)
{
	(void)now;
	return d->paused;
}

static uint64_t v_last_frame(const struct fdom *d, uint64_t now)
{
	return d->last_frame_ns && now > d->last_frame_ns ? now - d->last_frame_ns : 0;
}

static uint64_t v_runs(const struct fdom *d, uint64_t now)
{
	(void)now;
	return d->runs;
}

static const struct dom_family dom_families[] = {
	{ "vigil_domain_up", "1 while the domain runs (or is paused) and vigil watches it",
	  VIGIL_METRIC_GAUGE, 1, v_up },
	{ "vigil_agent_connected",
	  "1 while watch holds the channel and the agent has spoken on it since it opened",
	  VIGIL_METRIC_GAUGE, 1, v_agent },
	{ "vigil_agent_epoch",
	  "The agent's epoch: it grows each time the agent restarts (0: not known, watch "
	  "joined mid-stream)",
	  VIGIL_METRIC_GAUGE, 1, v_epoch },
	{ "vigil_domain_paused", "1 while libvirt has the domain suspended (paused, migrating)",
	  VIGIL_METRIC_GAUGE, 1, v_paused_now },
	{ "vigil_domain_paused_seconds_total", "Time the domain spent suspended while watched",
	  VIGIL_METRIC_COUNTER, 1000000000ull, v_paused },
	{ "vigil_last_frame_age_seconds", "Time since the last event from the guest's agent",
	  VIGIL_METRIC_GAUGE, 1000000000ull, v_last_frame },
	{ "vigil_domain_runs_total", "Runs of the domain watched (a run: start to stop)",
	  VIGIL_METRIC_COUNTER, 1, v_runs },
};

static int domain_families(struct fleet *f, struct vigil_expo *w, uint64_t now)
{
	int e = 0;

	for (size_t k = 0; k < sizeof(dom_families) / sizeof(dom_families[0]) && !e; k++) {
		const struct dom_family *df = &dom_families[k];
		struct vigil_metric_family fam = {
			.name = df->name,
			.help = df->help,
			.type = df->type,
			.labels = { "domain" },
		};

		e = vigil_expo_family(w, &fam);
		for (size_t i = 0; i < f->n && !e; i++) {
			const char *v[] = { f->doms[i]->name, NULL };
			e = vigil_expo_sample(w, v, df->value(f->doms[i], now), df->scale);
		}
	}
	return e;
}

static int verdict_family(struct fleet *f, struct vigil_expo *w)
{
	struct vigil_metric_family fam = {
		.name = "vigil_verdicts_total",
		.help = "Finished runs of each domain, by the verdict's outcome",
		.type = VIGIL_METRIC_COUNTER,
		.labels = { "domain", "outcome" },
	};
	int e = vigil_expo_family(w, &fam);

	for (size_t i = 0; i < f->n && !e; i++) {
		for (int o = 0; o < VIGIL_OUTCOME__COUNT && !e; o++) {
			const char *v[] = { f->doms[i]->name, vigil_outcome_name(o), NULL };
			e = vigil_expo_sample(w, v, f->doms[i]->verdicts[o], 1);
		}
	}
	return e;
}

/* The most recently stalled pids: a bounded `pid` label. */
static int recent_family(struct fleet *f, struct vigil_expo *w)
{
	struct vigil_metric_family fam = {
		.name = "vigil_process_stall_seconds",
		.help = "Silence at detection of each of the most recently stalled processes "
			"(at most 16 per domain)",
		.type = VIGIL_METRIC_GAUGE,
		.labels = { "domain", "pid", "recovered" },
	};
	int e = vigil_expo_family(w, &fam);
	char pid[16];

	for (size_t i = 0; i < f->n && !e; i++) {
		const struct fdom *d = f->doms[i];

		for (uint32_t k = 0; k < d->n_recent && !e; k++) {
			const char *v[] = { d->name, pid, d->recent[k].recovered ? "true" : "false",
					    NULL };
			snprintf(pid, sizeof(pid), "%u", d->recent[k].pid);
			e = vigil_expo_sample(w, v, d->recent[k].silence_ns, 1000000000ull);
		}
	}
	return e;
}

static int libvirt_family(struct fleet *f, struct vigil_expo *w)
{
	struct vigil_metric_family up = {
		.name = "vigil_libvirt_connected",
		.help = "1 while vigil holds a connection to libvirtd",
		.type = VIGIL_METRIC_GAUGE,
	};
	struct vigil_metric_family lost = {
		.name = "vigil_libvirt_disconnects_total",
		.help = "Times the connection to libvirtd was lost",
		.type = VIGIL_METRIC_COUNTER,
	};
	const char *none[] = { NULL };
	int e = vigil_expo_family(w, &up);

	if (!e)
		e = vigil_expo_sample(w, none, f->connected, 1);
	if (!e)
		e = vigil_expo_family(w, &lost);
	if (!e)
		e = vigil_expo_sample(w, none, f->disconnects, 1);
	return e;
}

/* The agent's own counters, as its last AGENT_STATS said (they restart with it). */
static int agent_families(struct fleet *f, struct vigil_expo *w)
{
	static const struct {
		enum vigil_agent_stat stat;
		const char *name, *help;
	} fams[] = {
		{ VIGIL_STAT_FRAMES_SENT, "vigil_agent_frames_sent_total",
		  "Frames the agent wrote to the port (its own count)" },
		{ VIGIL_STAT_FRAMES_DROPPED, "vigil_agent_frames_dropped_total",
		  "Frames the agent dropped: its queue was full (output the host never got)" },
		{ VIGIL_STAT_BYTES_DROPPED, "vigil_agent_dropped_bytes_total",
		  "Bytes of output the agent dropped" },
		{ VIGIL_STAT_BEATS_RELAYED, "vigil_agent_beats_relayed_total",
		  "Beats the agent relayed from processes in the guest" },
		{ VIGIL_STAT_BEATS_REJECTED, "vigil_agent_beats_rejected_total",
		  "Beats the agent refused (malformed, or a sender it could not identify)" },
		{ VIGIL_STAT_FLOWS_SENT, "vigil_agent_flows_sent_total",
		  "Flow records the agent sent" },
		{ VIGIL_STAT_KMSG_LINES, "vigil_agent_kmsg_lines_total",
		  "Kernel log lines the agent forwarded" },
		{ VIGIL_STAT_WRITE_STALLS, "vigil_agent_write_stalls_total",
		  "Times the agent's port writes stalled (the host did not read)" },
	};
	int e = 0;

	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]) && !e; k++) {
		struct vigil_metric_family fam = { .name = fams[k].name,
						   .help = fams[k].help,
						   .type = VIGIL_METRIC_COUNTER,
						   .labels = { "domain" } };

		e = vigil_expo_family(w, &fam);
		for (size_t i = 0; i < f->n && !e; i++) {
			const char *v[] = { f->doms[i]->name, NULL };
			e = vigil_expo_sample(w, v, f->doms[i]->agent_stats[fams[k].stat], 1);
		}
	}
	return e;
}

/* --on-stall-exec's counters, from its table (0 when it is not set). */
static int exec_families(struct fleet *f, struct vigil_expo *w)
{
	struct vigil_stallexec_stats st = { 0 };
	const char *none[] = { NULL };
	char name[96];
	int e = 0;

	if (f->exec)
		vigil_stallexec_stats(f->exec, &st);
#define EXEC_FAMILY(field, metric, unit_, help_)                                                   \
	if (!e) {                                                                                  \
		struct vigil_metric_family fam = { .name = name,                                   \
						   .help = help_,                                  \
						   .type = VIGIL_METRIC_COUNTER };                 \
		snprintf(name, sizeof(name), "vigil_%s_total", metric); /* unit in the name */     \
		e = vigil_expo_family(w, &fam);                                                    \
		if (!e)                                                                            \
			e = vigil_expo_sample(w, none, st.field, 1);                               \
	}
	VIGIL_STALLEXEC_COUNTERS(EXEC_FAMILY)
#undef EXEC_FAMILY
	return e;
}

int vigil_fleet_metrics(void *ctx, struct vigil_expo *w)
{
	struct fleet *f = ctx;
	uint64_t now = vigil_loop_now(f->loop);
	struct vigil_metrics_guest *g = calloc(f->n ? f->n : 1, sizeof(*g));
	struct vigil_session_counters *c = calloc(f->n ? f->n : 1, sizeof(*c));
	int e = g && c ? 0 : -ENOMEM;

	for (size_t i = 0; i < f->n && !e; i++) {
		vigil_fleet_counters(f->doms[i], &c[i]);
		g[i].domain = f->doms[i]->name;
		g[i].counters = &c[i];
		g[i].read_hist = f->doms[i]->g ? vigil_guest_read_hist(f->doms[i]->g) : NULL;
	}
	if (!e)
		e = domain_families(f, w, now);
	if (!e)
		e = verdict_family(f, w);
	if (!e)
		e = recent_family(f, w);
	if (!e)
		e = libvirt_family(f, w);
	if (!e)
		e = agent_families(f, w);
	if (!e)
		e = exec_families(f, w);
	if (!e)
		e = vigil_metrics_session_families(w, g, f->n);
	if (!e)
		e = vigil_metrics_read_families(w, g, f->n);
	if (!e)
		e = vigil_metrics_loop_families(w, f->loop);
	free(g);
	free(c);
	return e;
}

/* ---- /status ---------------------------------------------------------------------- */

struct stalled_ctx {
	struct json_object *arr;
	const struct fdom *d;
};

/* The class of pid's latest stall, as the stall_classified event said it. */
static const char *stall_class(const struct fdom *d, uint32_t pid)
{
	const struct fleet_stall *last = NULL;

	for (uint32_t k = 0; k < d->n_recent; k++)
		if (d->recent[k].pid == pid && (!last || d->recent[k].at_ns >= last->at_ns))
			last = &d->recent[k];
	return vigil_stall_class_name(last ? (enum vigil_stall_class)last->cls
					   : VIGIL_STALL_UNCLASSIFIED);
}

static int add_stalled(void *ctx, const struct vigil_process_info *p)
{
	struct stalled_ctx *s = ctx;
	struct json_object *o;

	if (!p->stalled)
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int64(p->pid));
	json_object_object_add(o, "silence_s", json_object_new_double((double)p->silence_ns / 1e9));
	json_object_object_add(o, "deadline_s",
			       json_object_new_double((double)p->deadline_ns / 1e9));
	json_object_object_add(o, "class", json_object_new_string(stall_class(s->d, p->pid)));
	json_object_array_add(s->arr, o);
	return 0;
}

static struct json_object *dom_status(const struct fdom *d, uint64_t now)
{
	struct json_object *o = json_object_new_object();
	struct stalled_ctx s = { json_object_new_array(), d };
	bool starved = false;

	json_object_object_add(o, "domain", json_object_new_string(d->name));
	json_object_object_add(o, "uuid", json_object_new_string(d->uuid_str));
	json_object_object_add(o, "state",
			       json_object_new_string(!d->active  ? "stopped"
						      : d->paused ? "paused"
								  : "running"));
	json_object_object_add(
	    o, "agent", json_object_new_string(agent_connected(d) ? "connected" : "not connected"));
	json_object_object_add(
	    o, "channel", json_object_new_string(d->be ? vigil_virt_be_status(d->be) : "no run"));
	json_object_object_add(o, "epoch", json_object_new_int64(d->epoch));
	json_object_object_add(o, "paused_s",
			       json_object_new_double((double)v_paused(d, now) / 1e9));
	if (d->g)
		vigil_session_foreach_process(vigil_guest_session(d->g), now, add_stalled, &s);
	for (uint32_t k = 0; k < d->n_recent; k++)
		starved |= d->recent[k].host_starved && !d->recent[k].recovered;
	json_object_object_add(o, "stalled", s.arr);
	json_object_object_add(o, "host_starved", json_object_new_boolean(starved));
	json_object_object_add(o, "runs", json_object_new_int64((int64_t)d->runs));
	return o;
}

int vigil_fleet_status(void *ctx, struct json_object *o)
{
	struct fleet *f = ctx;
	uint64_t now = vigil_loop_now(f->loop);
	struct json_object *arr = json_object_new_array();

	json_object_object_add(o, "libvirt",
			       json_object_new_string(f->connected ? "connected" : "disconnected"));
	json_object_object_add(o, "uri", f->a->uri ? json_object_new_string(f->a->uri) : NULL);
	if (f->last_error[0])
		json_object_object_add(o, "last_error", json_object_new_string(f->last_error));
	for (size_t i = 0; i < f->n; i++)
		json_object_array_add(arr, dom_status(f->doms[i], now));
	json_object_object_add(o, "domains", arr);
	return 0;
}
