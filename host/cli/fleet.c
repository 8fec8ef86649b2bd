/* SPDX-License-Identifier: MIT */
/*
 * fleet: `vigil watch`, the owner of every libvirt domain's guest on one
 * loop (docs/watch.md).
 *
 * Owns: the libvirt connection (opened with libvirt's event implementation
 * on the loop, virtevent.h; keepalive and a close callback; reopened with
 * backoff when libvirtd goes away); the domain table, keyed by UUID, of
 * domains carrying the vigil channel (or the --domain ones); each domain's
 * runs, one guest object per run (backend_libvirt.h), started when the
 * domain starts and ended when it stops, its verdict and events written
 * under --out-dir DIR/NAME-UUID8/START/ with the last --keep-runs kept;
 * lifecycle events mapped onto the guest (suspended: the pause clock;
 * crashed: GUEST_CRASH; stopped or migrated away: the end of the run);
 * VSERPORT_CHANGE onto the link; sd_notify readiness and watchdog pings.
 * /metrics and /status are fleet_metrics.c's.
 *
 * Limits: FLEET_DOMAINS_MAX domains per process is not enforced (libvirt
 * bounds it); 64 MiB of events per run file. Load: hundreds of domains;
 * libvirt calls are synchronous RPCs on the loop's thread (a few per
 * domain start, one vCPU-time call per domain per second at most).
 */
#include "finish.h"
#include "fleet_int.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cli.h"
#include "domxml.h"
#include "http.h"
#include "qemu.h"
#include "stallexec.h"
#include "term.h"
#include "virtevent.h"

#define FLEET_BACKOFF_FIRST_NS (1000000000ull)
#define FLEET_BACKOFF_MAX_NS   (30 * 1000000000ull)

static char render_buf[VIGIL_EVENT_RENDER_MAX + 64];

static void fleet_connect(struct fleet *f);
static void run_start(struct fdom *d, virDomainPtr dom);

static void say(struct fleet *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct fleet *f, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (f->a->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vigil_term_say("%s", msg);
}

/* A line about a domain's stalls, within its rate (FLEET_SAY_BURST, then
 * one every FLEET_SAY_EVERY_NS): a guest whose processes stall by the
 * thousand cannot flood the log; what was held back is counted and said
 * with the next line. Events, /metrics and /status still have every stall. */
static void dom_say(struct fdom *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dom_say(struct fdom *d, const char *fmt, ...)
{
	char msg[512], held[64] = "";
	va_list ap;

	if (!vigil_lines_take(&d->say, vigil_loop_now(d->f->loop), FLEET_SAY_BURST,
			      FLEET_SAY_EVERY_NS))
		return;
	if (d->say.dropped)
		snprintf(held, sizeof(held), " (%llu earlier line%s not shown)",
			 (unsigned long long)d->say.dropped, d->say.dropped == 1 ? "" : "s");
	d->say.dropped = 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say(d->f, "%s: %s%s", d->name, msg, held);
}

static void be_say(void *ctx, const char *domain, const char *msg)
{
	say(ctx, "%s: %s", domain, msg);
}

/* ---- the domain table ------------------------------------------------------------- */

static struct fdom *dom_find(struct fleet *f, const unsigned char *uuid)
{
	for (size_t i = 0; i < f->n; i++) {
		if (!memcmp(f->doms[i]->uuid, uuid, VIR_UUID_BUFLEN))
			return f->doms[i];
	}
	return NULL;
}

static bool wanted(const struct fleet *f, const char *name)
{
	if (!f->a->n_domains)
		return true;
	for (size_t i = 0; i < f->a->n_domains; i++) {
		if (!strcmp(f->a->domains[i], name))
			return true;
	}
	return false;
}

/* `{"domain":"NAME",`, the start of each of the domain's lines in --events: made once. */
static void events_head(struct fdom *d)
{
	struct json_object *js = json_object_new_string(d->name);
	const char *q = js ? json_object_to_json_string(js) : NULL;
	int h =
	    snprintf(d->events_head, sizeof(d->events_head), "{\"domain\":%s,", q ? q : "\"?\"");

	d->events_head_len = h > 0 && (size_t)h < sizeof(d->events_head) ? (size_t)h : 0;
	json_object_put(js);
}

static struct fdom *dom_add(struct fleet *f, virDomainPtr dom, const struct vigil_domxml *x)
{
	struct fdom *d, **n;

	if (f->n == f->cap) {
		n = realloc(f->doms, (f->cap ? f->cap * 2 : 16) * sizeof(*n));
		if (!n)
			return NULL;
		f->doms = n;
		f->cap = f->cap ? f->cap * 2 : 16;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->f = f;
	d->total.sz = d->last.sz = sizeof(d->total);
	virDomainGetUUID(dom, d->uuid);
	virDomainGetUUIDString(dom, d->uuid_str);
	snprintf(d->name, sizeof(d->name), "%s", virDomainGetName(dom));
	snprintf(d->alias, sizeof(d->alias), "%s", x->alias);
	events_head(d);
	f->doms[f->n++] = d;
	return d;
}

/* ---- a run's files ------------------------------------------------------------------ */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A memory dump's file, whole or cut: NAME.elf, NAME.elf.partial. */
static bool is_dump(const char *name)
{
	size_t l = strlen(name);

	return (l > 4 && !strcmp(name + l - 4, ".elf")) ||
	       (l > 12 && !strcmp(name + l - 12, ".elf.partial"));
}

/* A run's snapshots (the files vigil's snapshots write: no subdirectories):
 * removed when drop, else the bytes of its memory dumps (whole or cut). */
static uint64_t run_snapshots(const char *dir, const char *run, bool drop)
{
	char sdir[PATH_MAX], path[PATH_MAX * 2];
	uint64_t dumps = 0;
	struct dirent *e;
	struct stat st;
	DIR *dp;

	if ((size_t)snprintf(sdir, sizeof(sdir), "%s/%s/snapshots", dir, run) >= sizeof(sdir))
		return 0;
	dp = opendir(sdir);
	while (dp && (e = readdir(dp))) {
		if (e->d_type != DT_REG ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", sdir, e->d_name) >= sizeof(path))
			continue;
		if (drop)
			unlink(path);
		else if (is_dump(e->d_name) && stat(path, &st) == 0)
			dumps += (uint64_t)st.st_size;
	}
	if (dp)
		closedir(dp);
	return dumps;
}

uint64_t vigil_fleet_prune_runs(const char *dir, uint32_t keep_runs)
{
	char *names[4096], path[PATH_MAX];
	uint64_t kept = 0;
	size_t n = 0;
	struct dirent *e;
	DIR *dp = opendir(dir);

	while (dp && (e = readdir(dp)) && n < sizeof(names) / sizeof(names[0])) {
		if (e->d_name[0] != '.' && (names[n] = strdup(e->d_name)))
			n++;
	}
	if (dp)
		closedir(dp);
	qsort(names, n, sizeof(names[0]), by_name);
	for (size_t i = 0; i < n; i++) {
		if (i + keep_runs < n) {
			static const char *const files[] = { "verdict.json", "events.jsonl",
							     "snapshots" };
			run_snapshots(dir, names[i], true);
			for (size_t k = 0; k < 3; k++) {
				if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, names[i],
						     files[k]) < sizeof(path) &&
				    unlink(path) < 0 && errno == EISDIR)
					rmdir(path);
			}
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) <
			    sizeof(path))
				rmdir(path);
		} else {
			kept += run_snapshots(dir, names[i], false);
		}
		free(names[i]);
	}
	return kept;
}

/* DIR/NAME-UUID8/START/ and its events.jsonl; the oldest runs pruned. */
static void run_files(struct fdom *d)
{
	const char *out = d->f->a->out_dir;
	char top[PATH_MAX], stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	d->run_dir[0] = '\0';
	d->run_events_bytes = d->run_events_dropped = 0;
	if (!out)
		return;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(top, sizeof(top), "%s/%s-%.8s", out, d->name, d->uuid_str);
	if ((mkdir(out, 0755) < 0 && errno != EEXIST) || (mkdir(top, 0755) < 0 && errno != EEXIST))
		goto fail;
	for (int i = 0; i < 100; i++) {
		snprintf(d->run_dir, sizeof(d->run_dir), i ? "%s/%s-%d" : "%s/%s", top, stamp, i);
		if (mkdir(d->run_dir, 0755) == 0)
			break;
		if (errno != EEXIST)
			goto fail;
	}
	{
		char ev[PATH_MAX + 16];
		snprintf(ev, sizeof(ev), "%s/events.jsonl", d->run_dir);
		d->run_events = fopen(ev, "we");
	}
	if (!d->run_events)
		goto fail;
	snprintf(top, sizeof(top), "%s/%s-%.8s", out, d->name, d->uuid_str);
	d->dumps_kept = vigil_fleet_prune_runs(top, d->f->a->keep_runs);
	return;
fail:
	say(d->f, "%s: cannot write under %s: %s", d->name, out, strerror(errno));
	d->run_dir[0] = '\0';
}

/* ---- events ------------------------------------------------------------------------ */

/* --events FILE, up to --file-limit (until SIGHUP opens it afresh). */
static void global_event(struct fdom *d, int n)
{
	struct fleet *f = d->f;
	enum vigil_cap_take t = vigil_cap_take(&f->events_cap, d->events_head_len + (size_t)n);

	if (t == VIGIL_CAP_FULL_NOW)
		vigil_term_warn("watch: %s reached --file-limit (%llu bytes): later events are "
				"counted, not written, until SIGHUP opens it afresh (logrotate's "
				"copytruncate or create)",
				f->a->events, (unsigned long long)f->events_cap.limit);
	if (t != VIGIL_CAP_OK)
		return;
	fwrite(d->events_head, 1, d->events_head_len, f->events);
	fwrite(render_buf + 1, 1, (size_t)n, f->events);
}

static void write_events(struct fdom *d, const struct vigil_event *ev)
{
	int n = vigil_event_render(ev, render_buf, VIGIL_EVENT_RENDER_MAX);

	if (n <= 0)
		return;
	render_buf[n] = '\n';
	if (d->run_events) {
		if (d->run_events_bytes + (uint64_t)n + 1 <= FLEET_EVENTS_FILE_MAX &&
		    fwrite(render_buf, 1, (size_t)n + 1, d->run_events) == (size_t)n + 1)
			d->run_events_bytes += (uint64_t)n + 1;
		else
			d->run_events_dropped++;
	}
	if (d->f->a->events) {
		/* {"domain":"NAME", + the rest: every line says whose it is */
		if (d->f->events) {
			global_event(d, n);
		} else {
			vigil_term_write(1, d->events_head, d->events_head_len);
			vigil_term_write(1, render_buf + 1, (size_t)n);
		}
	}
}

static void note_stall(struct fdom *d, const struct vigil_event *ev)
{
	struct fleet_stall *s = &d->recent[d->next_recent];

	s->pid = ev->process.pid;
	s->at_ns = vigil_loop_now(d->f->loop);
	s->silence_ns = ev->process.silence_ns;
	s->host_starved = ev->process.host_starved;
	s->recovered = false;
	s->cls = VIGIL_STALL_UNCLASSIFIED;
	d->next_recent = (d->next_recent + 1) % FLEET_RECENT_STALLS;
	if (d->n_recent < FLEET_RECENT_STALLS)
		d->n_recent++;
	dom_say(d, "process %u stalled (silent %.1f s%s)", ev->process.pid,
		(double)ev->process.silence_ns / 1e9,
	    ev->process.host_starved ? ", the host starved the guest" : "");
	/* the guest's stall, not the host's: --on-stall-exec (it says why not) */
	if (d->f->exec && !ev->process.host_starved)
		vigil_stallexec_fire(d->f->exec, d->name, d->uuid_str, ev->process.pid,
				     ev->process.origin);
}

/* Why it stalled, on the stall it belongs to (the latest of its pid), and
 * said once; a guest stall is one line for the domain. */
static void note_class(struct fdom *d, const struct vigil_stall_info *in)
{
	struct fleet_stall *last = NULL;

	if (!in)
		return;
	if (in->cls == VIGIL_STALL_GUEST) {
		char words[160];

		vigil_guest_stall_words(in, words, sizeof(words));
		dom_say(d, "%s", words);
		return;
	}
	for (uint32_t k = 0; k < d->n_recent; k++) {
		struct fleet_stall *s = &d->recent[k];
		if (s->pid == in->pid && (!last || s->at_ns >= last->at_ns))
			last = s;
	}
	if (last)
		last->cls = (uint8_t)in->cls;
	dom_say(d, "process %u stalled: %s", in->pid, vigil_stall_class_name(in->cls));
}

static void note_recovery(struct fdom *d, uint32_t pid)
{
	for (uint32_t i = 0; i < d->n_recent; i++) {
		if (d->recent[i].pid == pid)
			d->recent[i].recovered = true;
	}
}

static void on_event(void *ctx, struct vigil_guest *g, const struct vigil_event *ev)
{
	struct fdom *d = ctx;

	(void)g;
	d->last_frame_ns = vigil_loop_now(d->f->loop);
	write_events(d, ev);
	switch (ev->type) {
	case VIGIL_EV_LINK_UP:
		d->link_up = true;
		d->heard = false;
		break;
	case VIGIL_EV_LINK_DOWN:
		d->link_up = false;
		d->heard = false;
		break;
	case VIGIL_EV_VM_STOPPED:
	case VIGIL_EV_VM_RESUMED:
	case VIGIL_EV_RUN_END:
		break;
	case VIGIL_EV_HELLO:
	case VIGIL_EV_AGENT_RESTART:
		d->heard = true;
		d->epoch = ev->hello.epoch;
		break;
	case VIGIL_EV_STALL:
		note_stall(d, ev);
		break;
	case VIGIL_EV_AGENT_STATS:
		d->heard = true;
		for (uint32_t i = 0; i < VIGIL_STAT__KNOWN; i++)
			d->agent_stats[i] = vigil_agent_stats_get(&ev->agent_stats.stats, i);
		break;
	case VIGIL_EV_RECOVERY:
		note_recovery(d, ev->process.pid);
		break;
	case VIGIL_EV_STALL_CLASSIFIED:
		note_class(d, ev->classified.info);
		break;
	default:
		d->heard = true; /* something the agent sent since the link came up */
		break;
	}
}

static bool backlogged(void *ctx, struct vigil_guest *g)
{
	(void)ctx;
	(void)g;
	return vigil_term_backlogged();
}

/* ---- the end of a run ------------------------------------------------------------- */

/* Counters of a finished run added to the domain's (gauges: the last value). */
static void counters_add(struct vigil_session_counters *total,
			 const struct vigil_session_counters *run)
{
	size_t n;
	const struct vigil_counter_desc *ds = vigil_session_counter_descs(&n);

	for (size_t i = 0; i < n; i++) {
		const struct vigil_counter_desc *d = &ds[i];
		for (uint32_t k = 0; k < d->count; k++) {
			unsigned char *dst = (unsigned char *)total + d->offset + k * d->stride;
			const unsigned char *src =
			    (const unsigned char *)run + d->offset + k * d->stride;
			uint64_t a = 0, b = 0;

			memcpy(&a, dst, d->size);
			memcpy(&b, src, d->size);
			a = d->kind == VIGIL_COUNTER ? a + b : b;
			memcpy(dst, &a, d->size);
		}
	}
}

/* Between runs, what the gauges measured (tracked pids, ...) is gone: 0. */
static void zero_gauges(struct vigil_session_counters *c)
{
	size_t n;
	const struct vigil_counter_desc *ds = vigil_session_counter_descs(&n);

	for (size_t i = 0; i < n; i++) {
		for (uint32_t k = 0; ds[i].kind == VIGIL_GAUGE && k < ds[i].count; k++)
			memset((unsigned char *)c + ds[i].offset + k * ds[i].stride, 0, ds[i].size);
	}
}

void vigil_fleet_counters(const struct fdom *d, struct vigil_session_counters *out)
{
	*out = d->total;
	if (!d->g)
		zero_gauges(out);
	if (d->g) {
		VIGIL_SESSION_COUNTERS(run);

		vigil_session_counters(vigil_guest_session(d->g), &run);
		counters_add(out, &run);
	}
}

static void write_verdict(struct fdom *d, const struct vigil_verdict *v)
{
	char path[PATH_MAX + 16], *json = NULL;
	struct json_object *o;
	FILE *fp;

	if (!d->run_dir[0] || vigil_verdict_to_json(v, 0, &json) < 0)
		return;
	o = json_tokener_parse(json);
	free(json);
	if (!o)
		return;
	json_object_object_add(o, "domain", json_object_new_string(d->name));
	json_object_object_add(o, "uuid", json_object_new_string(d->uuid_str));
	json_object_object_add(o, "end", json_object_new_string(d->end ? d->end : "vigil"));
	json_object_object_add(o, "events_dropped", json_object_new_uint64(d->run_events_dropped));
	snprintf(path, sizeof(path), "%s/verdict.json", d->run_dir);
	fp = fopen(path, "we");
	if (fp) {
		fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY), fp);
		fputc('\n', fp);
		if (fclose(fp) != 0)
			say(d->f, "%s: cannot write %s: %s", d->name, path, strerror(errno));
	}
	json_object_put(o);
}

static void on_done(void *ctx, struct vigil_guest *g, const struct vigil_verdict *v)
{
	struct fdom *d = ctx;
	VIGIL_SESSION_COUNTERS(run);

	vigil_session_counters(vigil_guest_session(g), &run);
	counters_add(&d->total, &run);
	d->last = run;
	if (v->outcome < VIGIL_OUTCOME__COUNT)
		d->verdicts[v->outcome]++;
	write_verdict(d, v);
	if (d->run_events)
		fclose(d->run_events);
	d->run_events = NULL;
	say(d->f, "%s: run ended (%s): %s", d->name, d->end ? d->end : "the session ended",
	    vigil_outcome_name(v->outcome));
	d->link_up = d->heard = false;
	/* the guest is freed from the loop, not from inside its own callback */
	vigil_timer_arm(d->f->reap, vigil_loop_now(d->f->loop));
}

/* Free the guests that are DONE; a domain still running gets a new run. */
static void reap_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct fleet *f = ctx;

	(void)t;
	(void)now;
	for (size_t i = 0; i < f->n; i++) {
		struct fdom *d = f->doms[i];
		virDomainPtr dom;

		if (!d->g || vigil_guest_state(d->g) != VIGIL_GUEST_DONE)
			continue;
		vigil_guest_free(d->g);
		d->g = NULL;
		d->be = NULL;
		d->end = NULL;
		if (!d->active || !f->connected || f->signals)
			continue;
		dom = virDomainLookupByUUID(f->conn, d->uuid);
		if (dom) {
			run_start(d, dom);
			virDomainFree(dom);
		}
	}
}

/* The run ends: nothing more will come from this run of the domain. */
static void run_end(struct fdom *d, const char *why)
{
	if (!d->g || vigil_guest_state(d->g) == VIGIL_GUEST_DONE)
		return;
	d->end = why;
	vigil_guest_gone(d->g);
}

/* ---- a run's start --------------------------------------------------------------- */

static const char *shutoff_reason(int reason)
{
	switch (reason) {
	case VIR_DOMAIN_SHUTOFF_SHUTDOWN:
		return "shutdown";
	case VIR_DOMAIN_SHUTOFF_DESTROYED:
		return "destroyed";
	case VIR_DOMAIN_SHUTOFF_CRASHED:
		return "crashed";
	case VIR_DOMAIN_SHUTOFF_MIGRATED:
		return "migrated";
	case VIR_DOMAIN_SHUTOFF_SAVED:
		return "saved";
	case VIR_DOMAIN_SHUTOFF_FAILED:
		return "failed";
	default:
		return "stopped";
	}
}

/*
 * The channel ended. When the domain is gone too (QEMU died before
 * libvirt's STOPPED event came), the run ends now: its silence from here
 * on is not the guest's.
 */
static void channel_ended(void *ctx)
{
	struct fdom *d = ctx;
	virDomainPtr dom;
	int state = 0, reason = 0;

	if (!d->f->connected || !d->g)
		return;
	dom = virDomainLookupByUUID(d->f->conn, d->uuid);
	if (dom && virDomainGetState(dom, &state, &reason, 0) == 0 &&
	    (state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_CRASHED)) {
		d->active = false;
		run_end(d, state == VIR_DOMAIN_CRASHED ? "crashed" : shutoff_reason(reason));
	} else if (!dom) {
		d->active = false;
		run_end(d, "stopped");
	}
	if (dom)
		virDomainFree(dom);
	virResetLastError();
}

static void run_start(struct fdom *d, virDomainPtr dom)
{
	struct fleet *f = d->f;
	struct vigil_virt_be_cfg bc = {
		.dom = dom,
		.name = d->name,
		.force = f->a->force,
		.local = f->local,
		.say = be_say,
		.say_ctx = f,
		.ended = channel_ended,
		.ended_ctx = d,
	};
	struct vigil_guest_cfg gc = {
		.name = d->name,
		.sopts = &f->a->sopts,
		.sinks = { .event = on_event, .backlogged = backlogged, .done = on_done, .ctx = d },
	};
	int e;

	if (d->g)
		return;
	e = vigil_virt_be_new(f->loop, &bc, &d->be);
	if (e == 0) {
		gc.be = d->be;
		gc.ops = vigil_virt_be_ops(d->be);
		e = vigil_guest_new(f->loop, &gc, vigil_loop_now(f->loop), &d->g);
		if (e < 0)
			gc.ops->free(d->be);
	}
	if (e < 0) {
		say(f, "%s: cannot watch it: %s", d->name, strerror(-e));
		d->g = NULL;
		d->be = NULL;
		return;
	}
	d->runs++;
	run_files(d);
	if (d->run_dir[0]) {
		char snaps[PATH_MAX + 16];
		snprintf(snaps, sizeof(snaps), "%s/snapshots", d->run_dir);
		vigil_virt_be_set_snapshot_dir(d->be, snaps, d->dumps_kept);
	}
	if (d->paused)
		vigil_guest_vm_stopped(d->g, true);
	if (!f->a->quiet)
		say(f, "%s: watching (run %llu%s%s)", d->name, (unsigned long long)d->runs,
		    d->run_dir[0] ? ", " : "", d->run_dir);
	vigil_virt_be_start(d->be, d->g);
}

/* ---- libvirt: domains and their events --------------------------------------------- */

/* A running domain seen (at connect, or as it starts). */
static void dom_seen(struct fleet *f, virDomainPtr dom)
{
	struct vigil_domxml x;
	unsigned char uuid[VIR_UUID_BUFLEN];
	char *xml;
	struct fdom *d;
	int state = 0, reason = 0;

	if (virDomainGetUUID(dom, uuid) < 0 || !wanted(f, virDomainGetName(dom)))
		return;
	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml || vigil_domxml_parse(xml, strlen(xml), &x) < 0 || !x.has_channel) {
		if (f->a->n_domains && !f->a->quiet)
			say(f, "%s: no vigil channel (org.vigil.bulk.0) in its XML: not watched",
			    virDomainGetName(dom));
		free(xml);
		return;
	}
	free(xml);
	d = dom_find(f, uuid);
	if (!d && !(d = dom_add(f, dom, &x)))
		return;
	snprintf(d->alias, sizeof(d->alias), "%s", x.alias);
	if (!x.unix_channel)
		say(f, "%s: its vigil channel is not <channel type='unix'>: libvirt cannot open it",
		    d->name);
	virDomainGetState(dom, &state, &reason, 0);
	d->active = true;
	if (state == VIR_DOMAIN_PAUSED && !d->paused) {
		d->paused = true;
		d->paused_since_ns = vigil_loop_now(f->loop);
	}
	if (d->g && d->be)
		vigil_virt_be_reconnected(d->be, dom);
	else
		run_start(d, dom);
}

static void set_paused(struct fdom *d, bool paused)
{
	uint64_t now = vigil_loop_now(d->f->loop);

	if (paused == d->paused)
		return;
	d->paused = paused;
	if (paused)
		d->paused_since_ns = now;
	else
		d->paused_total_ns += now - d->paused_since_ns;
	if (d->g)
		vigil_guest_vm_stopped(d->g, paused);
}

static const char *stop_reason(int detail)
{
	switch (detail) {
	case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
		return "shutdown";
	case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
		return "destroyed";
	case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
		return "crashed";
	case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
		return "migrated";
	case VIR_DOMAIN_EVENT_STOPPED_SAVED:
		return "saved";
	case VIR_DOMAIN_EVENT_STOPPED_FAILED:
		return "failed";
	case VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT:
		return "snapshot";
	default:
		return "stopped";
	}
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	struct fleet *f = opaque;
	unsigned char uuid[VIR_UUID_BUFLEN];
	struct fdom *d;

	(void)conn;
	if (virDomainGetUUID(dom, uuid) < 0)
		return 0;
	d = dom_find(f, uuid);
	if (f->a->verbose)
		say(f, "%s: libvirt event %d/%d", virDomainGetName(dom), event, detail);
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
	case VIR_DOMAIN_EVENT_DEFINED:
		if (event == VIR_DOMAIN_EVENT_STARTED)
			dom_seen(f, dom);
		break;
	case VIR_DOMAIN_EVENT_SUSPENDED:
		if (d)
			set_paused(d, true);
		break;
	case VIR_DOMAIN_EVENT_RESUMED:
		if (d)
			set_paused(d, false);
		break;
	case VIR_DOMAIN_EVENT_CRASHED:
		if (d && d->g)
			vigil_guest_crashed(d->g, detail == VIR_DOMAIN_EVENT_CRASHED_PANICKED
						      ? "libvirt: the guest panicked"
						      : "libvirt: the guest crashed");
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		if (!d)
			break;
		set_paused(d, false);
		d->active = false;
		if (d->g && detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED)
			vigil_guest_crashed(d->g, "libvirt: the domain crashed");
		run_end(d, stop_reason(detail));
		break;
	default:
		break;
	}
	return 0;
}

/* QEMU's VSERPORT_CHANGE: the agent opened or closed its end of the port. */
static void on_monitor(virConnectPtr conn, virDomainPtr dom, const char *event, long long sec,
		       unsigned int micros, const char *details, void *opaque)
{
	struct fleet *f = opaque;
	unsigned char uuid[VIR_UUID_BUFLEN];
	struct json_object *o = details ? json_tokener_parse(details) : NULL, *id, *open;
	struct fdom *d;

	(void)conn;
	(void)event;
	(void)sec;
	(void)micros;
	if (o && virDomainGetUUID(dom, uuid) == 0 && (d = dom_find(f, uuid)) && d->g &&
	    json_object_object_get_ex(o, "id", &id) &&
	    json_object_object_get_ex(o, "open", &open) &&
	    !strcmp(json_object_get_string(id), d->alias))
		vigil_guest_link(d->g, json_object_get_boolean(open));
	json_object_put(o);
}

/* ---- the connection --------------------------------------------------------------- */

static void schedule_reconnect(struct fleet *f)
{
	f->backoff_ns = f->backoff_ns ? f->backoff_ns * 2 : FLEET_BACKOFF_FIRST_NS;
	if (f->backoff_ns > FLEET_BACKOFF_MAX_NS)
		f->backoff_ns = FLEET_BACKOFF_MAX_NS;
	vigil_timer_arm(f->reconnect, vigil_loop_now(f->loop) + f->backoff_ns);
}

/* libvirtd went away: every run keeps going without its channel. */
static void lost(struct fleet *f)
{
	if (!f->connected)
		return;
	f->connected = false;
	f->disconnects++;
	for (size_t i = 0; i < f->n; i++) {
		if (f->doms[i]->be)
			vigil_virt_be_lost(f->doms[i]->be);
	}
	say(f, "lost the connection to libvirtd; reconnecting");
	schedule_reconnect(f);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	(void)conn;
	(void)reason;
	lost(opaque);
}

static void drop_conn(struct fleet *f)
{
	if (!f->conn)
		return;
	if (f->cb_lifecycle >= 0)
		virConnectDomainEventDeregisterAny(f->conn, f->cb_lifecycle);
	if (f->cb_vserport >= 0)
		virConnectDomainQemuMonitorEventDeregister(f->conn, f->cb_vserport);
	virConnectUnregisterCloseCallback(f->conn, on_close);
	virConnectClose(f->conn);
	f->conn = NULL;
	f->cb_lifecycle = f->cb_vserport = -1;
}

/* Domains that stopped while libvirtd was away end their runs. */
static void sweep_gone(struct fleet *f)
{
	for (size_t i = 0; i < f->n; i++) {
		struct fdom *d = f->doms[i];
		virDomainPtr dom = virDomainLookupByUUID(f->conn, d->uuid);

		if (!dom || virDomainIsActive(dom) != 1) {
			d->active = false;
			run_end(d, "stopped while libvirtd was away");
		}
		if (dom)
			virDomainFree(dom);
	}
}

static void list_domains(struct fleet *f)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(f->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

	for (int i = 0; i < n; i++) {
		dom_seen(f, doms[i]);
		virDomainFree(doms[i]);
	}
	free(doms);
}

/* qemu:///system: libvirtd on this host (QEMU's threads are in our /proc). */
static bool uri_local(virConnectPtr c)
{
	char *uri = virConnectGetURI(c);
	bool local = uri && !strncmp(uri, "qemu:///", 8);

	free(uri);
	return local;
}

static void fleet_connect(struct fleet *f)
{
	drop_conn(f);
	f->conn = virConnectOpen(f->a->uri);
	if (!f->conn) {
		snprintf(f->last_error, sizeof(f->last_error), "%s", virGetLastErrorMessage());
		/* Said once per distinct error, not once per retry: /status
		 * has the last error all along. */
		if (strcmp(f->said_error, f->last_error))
			say(f, "cannot connect to %s: %s (is libvirtd running? retrying, "
			       "every %llu s at most)",
			    f->a->uri ? f->a->uri : "libvirt", f->last_error,
			    FLEET_BACKOFF_MAX_NS / 1000000000ull);
		memcpy(f->said_error, f->last_error, sizeof(f->said_error));
		schedule_reconnect(f);
		return;
	}
	virConnectSetKeepAlive(f->conn, 5, 3); /* not every driver has it (test:///) */
	f->local = uri_local(f->conn);
	virConnectRegisterCloseCallback(f->conn, on_close, f, NULL);
	f->cb_lifecycle =
	    virConnectDomainEventRegisterAny(f->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
					     VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), f, NULL);
	f->cb_vserport = virConnectDomainQemuMonitorEventRegister(f->conn, NULL, "VSERPORT_CHANGE",
								  on_monitor, f, NULL, 0);
	virResetLastError();
	f->connected = true;
	f->connects++;
	f->backoff_ns = 0;
	f->last_error[0] = '\0';
	f->said_error[0] = '\0';
	if (f->connects > 1)
		say(f, "connected to libvirtd again");
	sweep_gone(f);
	list_domains(f);
}

static void reconnect_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	(void)t;
	(void)now;
	fleet_connect(ctx);
}

/* libvirt's own messages go to vigil's error line, not straight to stderr. */
static void on_virt_error(void *ctx, virErrorPtr err)
{
	struct fleet *f = ctx;

	if (err && err->message)
		snprintf(f->last_error, sizeof(f->last_error), "%s", err->message);
}

/* ---- the process ------------------------------------------------------------------ */

/* --events FILE, appended to (a restart or SIGHUP goes on after what is
 * there), with a fresh --file-limit budget counted from its size. */
static int open_events(struct fleet *f)
{
	FILE *n = fopen(f->a->events, "ae");
	long at;

	if (!n)
		return -errno;
	setvbuf(n, NULL, _IOLBF, 0); /* whole lines, as they come */
	if (f->events)
		fclose(f->events);
	f->events = n;
	at = fseek(n, 0, SEEK_END) == 0 ? ftell(n) : 0;
	f->events_cap = (struct vigil_cap){ .limit = f->a->file_limit,
					    .used = at > 0 ? (uint64_t)at : 0 };
	return 0;
}

static void on_signal(int signo, void *ctx)
{
	struct fleet *f = ctx;

	if (signo == SIGHUP) { /* the events file was rotated: open it afresh */
		if (f->events && open_events(f) < 0)
			say(f, "cannot open %s again: %s (events still go to the old file)",
			    f->a->events, strerror(errno));
		return;
	}
	if (f->signals++)
		vigil_loop_exit(f->loop, VIGIL_EXIT_HARNESS); /* a second signal: now */
	else
		vigil_loop_exit(f->loop, 0);
}

static void sd_watchdog_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct fleet *f = ctx;
	char status[128];

	(void)t;
	(void)now;
	snprintf(status, sizeof(status), "STATUS=%zu domains, libvirt %s", f->n,
		 f->connected ? "connected" : "disconnected");
	sd_notify(0, "WATCHDOG=1");
	sd_notify(0, status);
}

static void drained(void *ctx)
{
	struct fleet *f = ctx;

	for (size_t i = 0; i < f->n; i++) {
		if (f->doms[i]->g)
			vigil_guest_port_resume(f->doms[i]->g);
	}
}

static void exec_log(void *ctx, const char *msg)
{
	say(ctx, "on-stall-exec: %s", msg);
}

static int start_exec(struct fleet *f)
{
	struct vigil_stallexec_cmd cmd;
	struct vigil_stallexec_cfg c = { 0 };
	char err[512];
	int e;

	if (!f->a->on_stall_exec)
		return 0;
	if (vigil_stallexec_parse(f->a->on_stall_exec, &cmd, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil watch: --on-stall-exec: %s\n", err);
		return VIGIL_EXIT_USAGE;
	}
	c.cmd = &cmd;
	c.allow_unattested = f->a->on_stall_unattested;
	c.log = exec_log;
	c.log_ctx = f;
	if ((e = vigil_stallexec_new(f->loop, &c, &f->exec)) < 0) {
		fprintf(stderr, "vigil watch: --on-stall-exec: %s\n", strerror(-e));
		return VIGIL_EXIT_HARNESS;
	}
	return 0;
}

static void http_log(void *ctx, const char *msg)
{
	say(ctx, "metrics: %s", msg);
}

static int start_services(struct fleet *f)
{
	uint64_t usec = 0;
	int e = start_exec(f);

	if (e)
		return e;

	if (f->a->events && strcmp(f->a->events, "-") && open_events(f) < 0) {
		fprintf(stderr, "vigil watch: cannot write events to %s: %s\n", f->a->events,
			strerror(errno));
		return VIGIL_EXIT_HARNESS;
	}
	if (f->a->metrics) {
		struct vigil_http_opts o = {
			.sz = sizeof(o),
			.listen = f->a->metrics,
			.token_file = f->a->token_file,
			.metrics = vigil_fleet_metrics,
			.status = vigil_fleet_status,
			.ctx = f,
			.log = http_log,
			.log_ctx = f,
		};
		/* room for the server's connections beside the domains' fds */
		if (vigil_http_fd_room(0, 1024) < 0)
			say(f, "RLIMIT_NOFILE is below what /metrics may hold (%u connections): "
			       "connections past it are refused (raise LimitNOFILE)",
			    VIGIL_HTTP_MAX_CONNS);
		if ((e = vigil_http_new(f->loop, &o, &f->http)) < 0) {
			fprintf(stderr, "vigil watch: cannot serve /metrics on %s: %s\n",
				f->a->metrics, strerror(-e));
			return VIGIL_EXIT_HARNESS;
		}
		say(f, "serving /metrics and /status on port %u (%s)", vigil_http_port(f->http),
		    f->a->metrics);
	}
	if (sd_watchdog_enabled(0, &usec) > 0 && usec) {
		if (vigil_timer_new(f->loop, sd_watchdog_due, f, &f->sd_watchdog) == 0) {
			vigil_timer_set_period(f->sd_watchdog, usec * 1000 / 2);
			vigil_timer_arm(f->sd_watchdog, vigil_loop_now(f->loop));
		}
	}
	return 0;
}

static void fleet_free(struct fleet *f)
{
	for (size_t i = 0; i < f->n; i++) {
		struct fdom *d = f->doms[i];

		if (d->g && vigil_guest_state(d->g) != VIGIL_GUEST_DONE)
			run_end(d, "vigil stopped");
		vigil_guest_free(d->g);
		if (d->run_events)
			fclose(d->run_events);
		free(d);
	}
	free(f->doms);
	vigil_stallexec_free(f->exec); /* runs still going are killed */
	if (f->events)
		fclose(f->events);
	vigil_http_free(f->http);
	drop_conn(f);
	vigil_timer_free(f->reconnect);
	vigil_timer_free(f->reap);
	vigil_timer_free(f->sd_watchdog);
}

static int fleet_run(const struct vigil_fleet_args *a)
{
	struct fleet f = { .a = a, .cb_lifecycle = -1, .cb_vserport = -1 };
	int code, e;

	vigil_term_init(a->quiet);
	if ((e = vigil_loop_new(&f.loop)) < 0 || (e = vigil_virt_event_register(f.loop)) < 0 ||
	    (e = vigil_timer_new(f.loop, reconnect_due, &f, &f.reconnect)) < 0 ||
	    (e = vigil_timer_new(f.loop, reap_due, &f, &f.reap)) < 0) {
		fprintf(stderr, "vigil watch: cannot set up the event loop: %s\n", strerror(-e));
		vigil_loop_free(f.loop);
		return VIGIL_EXIT_HARNESS;
	}
	virSetErrorFunc(&f, on_virt_error);
	vigil_loop_signal(f.loop, SIGINT, on_signal, &f);
	vigil_loop_signal(f.loop, SIGTERM, on_signal, &f);
	vigil_loop_signal(f.loop, SIGHUP, on_signal, &f);
	vigil_term_attach(f.loop, drained, &f);
	code = start_services(&f);
	if (code == 0) {
		fleet_connect(&f);
		sd_notify(0, "READY=1");
		code = vigil_loop_run(f.loop);
		sd_notify(0, "STOPPING=1");
	}
	fleet_free(&f);
	vigil_virt_event_detach();
	vigil_term_detach(2000);
	vigil_loop_free(f.loop);
	return code;
}

int vigil_cmd_watch(int argc, char **argv)
{
	struct vigil_fleet_args a;
	int e = vigil_fleet_args_parse(&a, argc, argv);

	if (e)
		return e;
	if (a.help) {
		fputs(vigil_fleet_usage(), stdout);
		return 0;
	}
	return fleet_run(&a);
}
