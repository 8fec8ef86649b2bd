/* SPDX-License-Identifier: MIT */
/*
 * report: the builder: events and tracker samples into the bounded model
 * of report_int.h (see report.h for limits and load). The page itself is
 * written by report_html.c.
 */
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "report_int.h"

static const char *const stream_names[REPORT_STREAMS] = { "stdout", "stderr", "dmesg", "log" };

int vigil_report_new(struct vigil_report **out)
{
	struct vigil_report *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->bin_ns = REPORT_BIN_MIN_NS;
	r->exit_code = -1;
	*out = r;
	return 0;
}

void vigil_report_free(struct vigil_report *r)
{
	if (!r)
		return;
	json_object_put(r->verdict);
	free(r);
}

void vigil_report_set_title(struct vigil_report *r, const char *title)
{
	report_copy(r->title, sizeof(r->title), title, strlen(title));
}

void report_copy(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;

	/* back off a cut UTF-8 sequence: continuation bytes after its start */
	if (n < len)
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- bins ------------------------------------------------------------------ */

/* Twice the width: bins 2j and 2j+1 become bin j. */
static void rebin(struct vigil_report *r)
{
	for (uint32_t j = 0; j < REPORT_BINS / 2; j++) {
		uint32_t a = 2 * j, b = 2 * j + 1;
		for (uint32_t p = 0; p < r->n_procs; p++) {
			uint32_t sum = (uint32_t)r->procs[p].bins[a] + r->procs[p].bins[b];
			r->procs[p].bins[j] = sum > UINT16_MAX ? UINT16_MAX : (uint16_t)sum;
		}
		for (int s = 0; s < REPORT_STREAMS; s++) {
			r->out_bytes[s][j] = r->out_bytes[s][a] + r->out_bytes[s][b];
			memmove(r->out_sample[s][j],
				r->out_sample[s][a][0] ? r->out_sample[s][a] : r->out_sample[s][b],
				REPORT_SAMPLE_LEN);
		}
		r->flows_opened[j] = r->flows_opened[a] + r->flows_opened[b];
		r->flows_closed[j] = r->flows_closed[a] + r->flows_closed[b];
	}
	for (uint32_t j = REPORT_BINS / 2; j < REPORT_BINS; j++) {
		for (uint32_t p = 0; p < r->n_procs; p++)
			r->procs[p].bins[j] = 0;
		for (int s = 0; s < REPORT_STREAMS; s++) {
			r->out_bytes[s][j] = 0;
			r->out_sample[s][j][0] = '\0';
		}
		r->flows_opened[j] = r->flows_closed[j] = 0;
	}
	r->bin_ns *= 2;
}

uint32_t report_bin(struct vigil_report *r, uint64_t t_ns)
{
	while (t_ns / r->bin_ns >= REPORT_BINS)
		rebin(r);
	return (uint32_t)(t_ns / r->bin_ns);
}

/* ---- processes ----------------------------------------------------------- */

static uint32_t pid_slot(uint32_t pid)
{
	return (pid * 2654435761u) & (REPORT_HASH - 1);
}

struct report_proc *report_proc(struct vigil_report *r, uint32_t pid, bool create)
{
	uint32_t i = pid_slot(pid);
	struct report_proc *p;

	for (;; i = (i + 1) & (REPORT_HASH - 1)) {
		if (!r->hash[i])
			break;
		if (r->procs[r->hash[i] - 1].pid == pid)
			return &r->procs[r->hash[i] - 1];
	}
	if (!create)
		return NULL;
	if (r->n_procs == REPORT_PROCS_MAX) {
		r->dropped_procs++;
		return NULL;
	}
	p = &r->procs[r->n_procs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	/* its lane is named, not left a bare pid (and told from the workload's
	 * own `vigil-agent beat` processes, whose comm is the same) */
	if (pid && pid == r->agent_pid)
		snprintf(p->comm, sizeof(p->comm), "the agent");
	r->hash[i] = (int16_t)r->n_procs;
	return p;
}

struct sample_ctx {
	struct vigil_report *r;
	uint64_t t_ns;
};

static int sample_one(void *ctx, const struct vigil_process_info *pi)
{
	struct sample_ctx *sc = ctx;
	struct report_proc *p = report_proc(sc->r, pi->pid, true);
	uint64_t d;
	uint32_t b, sum;

	if (!p)
		return 0;
	if (!p->first_ns && !p->beats)
		p->first_ns = sc->t_ns;
	/* a pid evicted and tracked again starts counting from 0 */
	d = pi->beats >= p->tracker_beats ? pi->beats - p->tracker_beats : pi->beats;
	p->tracker_beats = pi->beats;
	p->deadline_ns = pi->deadline_ns;
	if (!d)
		return 0;
	p->beats += d;
	b = report_bin(sc->r, sc->t_ns);
	sum = p->bins[b] + (uint32_t)(d > UINT16_MAX ? UINT16_MAX : d);
	p->bins[b] = sum > UINT16_MAX ? UINT16_MAX : (uint16_t)sum;
	return 0;
}

void vigil_report_sample(struct vigil_report *r, const struct vigil_session *s, uint64_t now_ns,
			 uint64_t t0_ns)
{
	struct sample_ctx sc = { r, now_ns > t0_ns ? now_ns - t0_ns : 0 };

	r->samples++;
	report_bin(r, sc.t_ns); /* rebin before the callbacks index the bins */
	vigil_session_foreach_process(s, now_ns, sample_one, &sc);
}

/* ---- output ---------------------------------------------------------------- */

static void tail_put(struct vigil_report *r, const char *data, size_t len)
{
	if (len > REPORT_TAIL_LEN) {
		data += len - REPORT_TAIL_LEN;
		len = REPORT_TAIL_LEN;
	}
	for (size_t i = 0; i < len; i++)
		r->tail[(r->tail_written + i) % REPORT_TAIL_LEN] = data[i];
	r->tail_written += len;
}

/*
 * The kernel's "sched_clock: Marking stable (gtod, gtod_offset)->(raw,
 * offset)" line: raw - gtod is how far CLOCK_BOOTTIME (HELLO's
 * guest_boottime_ns) fell behind the TSC while the kernel kept time by its
 * ticks (under TCG ticks are lost early in boot). The text is the guest's:
 * parsed within a bounded copy, and a lag over a minute is not believed.
 */
static bool clock_lag_line(const char *data, size_t len, uint64_t *lag_ns)
{
	static const char pfx[] = "sched_clock: Marking stable (";
	char buf[160], *p, *end;
	long long v[4];

	if (len <= sizeof(pfx) - 1 || len >= sizeof(buf) || memcmp(data, pfx, sizeof(pfx) - 1))
		return false;
	memcpy(buf, data, len);
	buf[len] = '\0';
	p = buf + sizeof(pfx) - 1;
	for (int i = 0; i < 4; i++) {
		errno = 0;
		v[i] = strtoll(p, &end, 10);
		if (end == p || errno)
			return false;
		for (p = end; *p && strchr(",)->( ", *p); p++)
			;
	}
	if (*p && *p != '\n')
		return false;
	if (v[0] < 0 || v[2] < v[0] || v[2] - v[0] > 60LL * 1000000000)
		return false;
	*lag_ns = (uint64_t)(v[2] - v[0]);
	return true;
}

static void report_output(struct vigil_report *r, uint64_t t_ns, int stream, const char *data,
			  size_t len)
{
	uint32_t b = report_bin(r, t_ns);
	char *sample = r->out_sample[stream][b];
	size_t i = 0, e;

	r->out_bytes[stream][b] += len;
	r->out_total[stream] += len;
	if (!sample[0]) {
		while (i < len && (data[i] == '\n' || data[i] == '\r'))
			i++;
		for (e = i; e < len && data[e] != '\n' && e - i < REPORT_SAMPLE_LEN; e++)
			;
		report_copy(sample, REPORT_SAMPLE_LEN, data + i, e - i);
	}
	if (stream <= 1)
		tail_put(r, data, len);
	else if (stream == 2 && !r->clock_lag_ns)
		clock_lag_line(data, len, &r->clock_lag_ns);
}

void vigil_report_event(struct vigil_report *r, const struct vigil_event *ev)
{
	struct json_tokener *tok;
	struct json_object *o;
	char *json;
	int n;

	if (ev->type == VIGIL_EV_OUTPUT) {
		uint16_t st = ev->output.stream;
		int s = st == VIGIL_MSG_STDOUT   ? 0
			: st == VIGIL_MSG_STDERR ? 1
			: st == VIGIL_MSG_DMESG  ? 2
						 : 3;
		r->events++;
		if (ev->t_ns > r->end_ns)
			r->end_ns = ev->t_ns;
		report_output(r, ev->t_ns, s, (const char *)ev->output.data, ev->output.len);
		return;
	}
	/* the rest is rare (no event per beat): through the one JSON reader */
	n = vigil_event_to_json(ev, &json);
	if (n < 0)
		return;
	tok = json_tokener_new();
	o = tok ? json_tokener_parse_ex(tok, json, n) : NULL;
	json_tokener_free(tok);
	free(json);
	if (o)
		vigil_report_event_json(r, o);
	json_object_put(o);
}

void vigil_report_verdict(struct vigil_report *r, struct json_object *verdict)
{
	json_object_put(r->verdict);
	r->verdict = json_object_get(verdict);
}

int vigil_report_finish(struct vigil_report *r, const struct vigil_finish_in *in)
{
	struct json_tokener *tok;
	struct json_object *o;
	char *json;
	int n = vigil_finish_verdict_json(in, &json);

	if (n < 0)
		return n;
	tok = json_tokener_new();
	o = tok ? json_tokener_parse_ex(tok, json, n) : NULL;
	json_tokener_free(tok);
	free(json);
	if (!o)
		return -ENOMEM;
	vigil_report_verdict(r, o);
	json_object_put(o);
	return 0;
}

/* ---- events as JSON ------------------------------------------------------ */

static uint64_t ju64(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	return json_object_is_type(v, json_type_int) ? json_object_get_uint64(v) : 0;
}

static int64_t ji64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_int64(v) : 0;
}

static bool jbool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v && json_object_get_boolean(v);
}

/* The string at key into dst ("" when missing or not a string). */
static void jstr(struct json_object *o, const char *key, char *dst, size_t cap)
{
	struct json_object *v;

	dst[0] = '\0';
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		report_copy(dst, cap, json_object_get_string(v),
			    (size_t)json_object_get_string_len(v));
}

static void add_mark(struct vigil_report *r, uint64_t t_ns, const char *what, const char *text)
{
	struct report_mark *m;

	if (r->n_marks == REPORT_MARKS_MAX) {
		r->dropped_marks++;
		return;
	}
	m = &r->marks[r->n_marks++];
	m->t_ns = t_ns;
	report_copy(m->what, sizeof(m->what), what, strlen(what));
	report_copy(m->text, sizeof(m->text), text, strlen(text));
}

static void ev_boot(struct vigil_report *r, const char *name, struct json_object *o, uint64_t t)
{
	char text[REPORT_DETAIL_LEN];

	if (!strcmp(name, "link_up") && !r->have_link_up) {
		r->have_link_up = true;
		r->link_up_ns = t;
	} else if (!strcmp(name, "link_up") || !strcmp(name, "link_down")) {
		add_mark(r, t, name, !strcmp(name, "link_up") ? "link up" : "link down");
	} else if (!strcmp(name, "first_byte") && !r->have_first_byte) {
		r->have_first_byte = true;
		r->first_byte_ns = t;
	} else if (!strcmp(name, "ready") && !r->have_ready) {
		r->have_ready = true;
		r->ready_ns = t;
	} else if (!strcmp(name, "hello") && !r->have_hello) {
		r->have_hello = true;
		r->hello_ns = t;
		r->guest_boottime_ns = ju64(o, "guest_boottime_ns");
		jstr(o, "agent_version", r->agent_version, sizeof(r->agent_version));
		jstr(o, "kernel_release", r->kernel_release, sizeof(r->kernel_release));
		jstr(o, "hostname", r->hostname, sizeof(r->hostname));
		r->agent_pid = (uint32_t)ju64(o, "agent_pid");
	} else if (!strcmp(name, "agent_restart")) {
		r->agent_pid = (uint32_t)ju64(o, "agent_pid");
		snprintf(text, sizeof(text), "the agent started again (epoch %llu)",
			 (unsigned long long)ju64(o, "epoch"));
		add_mark(r, t, name, text);
	}
}

static struct report_scenario *scen_of(struct vigil_report *r, uint32_t index)
{
	for (uint32_t i = r->n_scen; i-- > 0;)
		if (r->scen[i].index == index)
			return &r->scen[i];
	return NULL;
}

static void ev_scenario(struct vigil_report *r, struct json_object *o, uint64_t t)
{
	char phase[16];
	uint32_t index = (uint32_t)ju64(o, "index");
	struct report_scenario *sc = scen_of(r, index);

	jstr(o, "phase", phase, sizeof(phase));
	if (!strcmp(phase, "start")) {
		if (r->n_scen == REPORT_SCEN_MAX) {
			r->dropped_scen++;
			return;
		}
		sc = &r->scen[r->n_scen++];
		memset(sc, 0, sizeof(*sc));
		sc->index = index;
		sc->start_ns = t;
		jstr(o, "name", sc->name, sizeof(sc->name));
		return;
	}
	if (!sc)
		return;
	if (!strcmp(phase, "pause")) {
		if (r->n_pauses == REPORT_PAUSES_MAX) {
			r->dropped_pauses++;
			return;
		}
		r->pauses[r->n_pauses++] = (struct report_span){ t, 0, (uint32_t)(sc - r->scen) };
		return;
	}
	/* resume and end close the scenario's open pause */
	for (uint32_t i = r->n_pauses; i-- > 0;)
		if (r->pauses[i].scenario == (uint32_t)(sc - r->scen) && !r->pauses[i].end_ns)
			r->pauses[i].end_ns = t;
	if (!strcmp(phase, "end")) {
		sc->end_ns = t;
		sc->run_ns = ju64(o, "run_ns");
		sc->pause_ns = ju64(o, "pause_ns");
	}
}

static void ev_output(struct vigil_report *r, struct json_object *o, uint64_t t)
{
	struct json_object *v;
	char stream[16];
	int s;

	jstr(o, "stream", stream, sizeof(stream));
	for (s = 0; s < REPORT_STREAMS; s++)
		if (!strcmp(stream, stream_names[s]))
			break;
	if (s == REPORT_STREAMS || !json_object_object_get_ex(o, "text", &v) ||
	    !json_object_is_type(v, json_type_string))
		return;
	report_output(r, t, s, json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

static void ev_test(struct vigil_report *r, struct json_object *o, uint64_t t)
{
	static const char *const names[4] = { "PASS", "FAIL", "SKIP", "ERROR" };
	struct report_test *x;
	char outcome[12];

	jstr(o, "outcome", outcome, sizeof(outcome));
	for (int i = 0; i < 4; i++)
		if (!strcmp(outcome, names[i]))
			r->tests_by[i]++;
	if (r->n_tests == REPORT_TESTS_MAX) {
		r->dropped_tests++;
		return;
	}
	x = &r->tests[r->n_tests++];
	x->t_ns = t;
	x->duration_ns = ju64(o, "duration_ns");
	if (!outcome[0]) /* a number: an outcome this vigil does not name */
		snprintf(outcome, sizeof(outcome), "%lld", (long long)ji64(o, "outcome"));
	memcpy(x->outcome, outcome, sizeof(x->outcome));
	jstr(o, "name", x->name, sizeof(x->name));
	jstr(o, "message", x->message, sizeof(x->message));
}

/* The latest stall of pid that has not ended, or NULL. */
static struct report_stall *open_stall(struct vigil_report *r, uint32_t pid)
{
	for (uint32_t i = r->n_stalls; i-- > 0;)
		if (r->stalls[i].pid == pid && !r->stalls[i].recovered_ns && !r->stalls[i].gone_ns)
			return &r->stalls[i];
	return NULL;
}

static void ev_process(struct vigil_report *r, const char *name, struct json_object *o, uint64_t t)
{
	uint32_t pid = (uint32_t)ju64(o, "pid");
	struct report_proc *p = report_proc(r, pid, true);
	struct report_stall *st = open_stall(r, pid);

	if (p && !strcmp(name, "process_new")) {
		p->first_ns = p->first_ns && !p->gone_ns ? p->first_ns : t;
		p->gone_ns = 0;
		p->gone_reason[0] = '\0';
	}
	if (p)
		p->deadline_ns = ju64(o, "deadline_ns");
	if (!strcmp(name, "process_gone")) {
		if (p) {
			p->gone_ns = t;
			jstr(o, "reason", p->gone_reason, sizeof(p->gone_reason));
		}
		if (st)
			st->gone_ns = t;
	} else if (!strcmp(name, "recovery") && st) {
		st->recovered_ns = t;
		st->whole_silence_ns = ju64(o, "silence_ns");
	} else if (!strcmp(name, "stall")) {
		if (p && !p->stalls++)
			p->first_stall_ns = t;
		if (r->n_stalls == REPORT_STALLS_MAX) {
			r->dropped_stalls++;
			return;
		}
		st = &r->stalls[r->n_stalls++];
		memset(st, 0, sizeof(*st));
		st->pid = pid;
		st->t_ns = t;
		st->silence_ns = ju64(o, "silence_ns");
		st->deadline_ns = ju64(o, "deadline_ns");
		st->host_starved = jbool(o, "host_starved");
	}
}

/* "comm sleep, state S, wchan do_nanosleep" from a class's last sample. */
static void class_words(struct json_object *o, char *why, size_t cap)
{
	struct json_object *a, *x;
	char comm[32], state[8], wchan[64], cause[24];
	size_t n;

	why[0] = '\0';
	jstr(o, "cause", cause, sizeof(cause));
	if (!json_object_object_get_ex(o, "samples", &a) ||
	    !json_object_is_type(a, json_type_array) || !(n = json_object_array_length(a))) {
		if (cause[0])
			snprintf(why, cap, "found by: %s", cause);
		return;
	}
	x = json_object_array_get_idx(a, n - 1);
	jstr(x, "comm", comm, sizeof(comm));
	jstr(x, "state", state, sizeof(state));
	jstr(x, "wchan", wchan, sizeof(wchan));
	snprintf(why, cap, "comm %s, state %s%s%s%s%s", comm[0] ? comm : "?",
		 state[0] ? state : "?", wchan[0] ? ", wchan " : "", wchan,
		 cause[0] ? ", found by: " : "", cause);
}

static void ev_classified(struct vigil_report *r, struct json_object *o, uint64_t t)
{
	uint32_t pid = (uint32_t)ju64(o, "pid");
	struct report_stall *st = NULL;
	struct report_proc *p = pid ? report_proc(r, pid, false) : NULL;
	char cls[24], why[REPORT_DETAIL_LEN], text[REPORT_DETAIL_LEN + 64];

	jstr(o, "class", cls, sizeof(cls));
	class_words(o, why, sizeof(why));
	for (uint32_t i = r->n_stalls; pid && i-- > 0;)
		if (r->stalls[i].pid == pid && !r->stalls[i].cls[0]) {
			st = &r->stalls[i];
			break;
		}
	if (st) {
		memcpy(st->cls, cls, sizeof(st->cls));
		memcpy(st->why, why, sizeof(st->why));
	} else { /* a whole-guest stall, or a stall the table did not keep */
		snprintf(text, sizeof(text), "stall class %s%s%s", cls, why[0] ? ": " : "", why);
		add_mark(r, t, "stall_classified", text);
	}
	if (p && !p->comm[0]) {
		struct json_object *a = NULL;
		if (json_object_object_get_ex(o, "samples", &a) &&
		    json_object_is_type(a, json_type_array) && json_object_array_length(a))
			jstr(json_object_array_get_idx(a, 0), "comm", p->comm, sizeof(p->comm));
	}
}

static void ev_vm(struct vigil_report *r, const char *name, struct json_object *o, uint64_t t)
{
	struct report_span *sp = r->n_stops ? &r->stops[r->n_stops - 1] : NULL;

	if (!strcmp(name, "vm_stopped")) {
		if (sp && !sp->end_ns)
			return;
		if (r->n_stops == REPORT_STOPS_MAX) {
			r->dropped_stops++;
			return;
		}
		r->stops[r->n_stops++] = (struct report_span){ t, 0, 0 };
	} else if (sp && !sp->end_ns) {
		sp->end_ns = t;
	} else if (r->n_stops < REPORT_STOPS_MAX) { /* its stop came before the events did */
		uint64_t len = ju64(o, "stopped_ns");
		r->stops[r->n_stops++] = (struct report_span){ t > len ? t - len : 0, t, 0 };
	} else {
		r->dropped_stops++;
	}
}

static void ev_finding(struct vigil_report *r, struct json_object *o)
{
	struct json_object *f;
	struct report_finding *x;

	if (!json_object_object_get_ex(o, "finding", &f) ||
	    !json_object_is_type(f, json_type_object))
		return;
	if (r->n_findings == REPORT_FINDINGS_MAX) {
		r->dropped_findings++;
		return;
	}
	x = &r->findings[r->n_findings++];
	memset(x, 0, sizeof(*x));
	x->t_ns = ju64(f, "t_ns");
	x->fatal = jbool(f, "fatal");
	x->pid = (uint32_t)ju64(f, "pid");
	x->silence_ns = ju64(f, "silence_ns");
	jstr(f, "outcome", x->outcome, sizeof(x->outcome));
	jstr(f, "trouble", x->trouble, sizeof(x->trouble));
	jstr(f, "detail", x->detail, sizeof(x->detail));
}

static void ev_flow(struct vigil_report *r, struct json_object *o, uint64_t t)
{
	char state[12];
	uint32_t b = report_bin(r, t);

	jstr(o, "state", state, sizeof(state));
	if (!strcmp(state, "opened")) {
		r->flows_opened[b]++;
		r->flows_open_total++;
	} else if (!strcmp(state, "closed")) {
		r->flows_closed[b]++;
		r->flows_close_total++;
	}
}

/* Events drawn as a point with words: the workload's and the scheduler's
 * exits, snapshots, the end of the run. */
static void ev_point(struct vigil_report *r, const char *name, struct json_object *o, uint64_t t)
{
	char text[2 * REPORT_DETAIL_LEN], s1[REPORT_NAME_LEN], s2[REPORT_NAME_LEN];

	if (!strcmp(name, "exit")) {
		int64_t sig = ji64(o, "signal");
		if (sig)
			snprintf(text, sizeof(text),
				 "the workload exited: status %lld, signal %lld",
				 (long long)ji64(o, "status"), (long long)sig);
		else
			snprintf(text, sizeof(text), "the workload exited: status %lld",
				 (long long)ji64(o, "status"));
	} else if (!strcmp(name, "sched_exit")) {
		jstr(o, "reason", s1, sizeof(s1));
		snprintf(text, sizeof(text), "the scheduler exited: code %lld, kind %lld: %s",
			 (long long)ji64(o, "code"), (long long)ji64(o, "kind"), s1);
	} else if (!strcmp(name, "snapshot_done")) {
		jstr(o, "tag", s1, sizeof(s1));
		jstr(o, "detail", s2, sizeof(s2));
		snprintf(text, sizeof(text), "snapshot '%s' (kind %llu): status %lld %s", s1,
			 (unsigned long long)ju64(o, "kind"), (long long)ji64(o, "status"), s2);
	} else { /* run_end */
		r->have_run_end = true;
		jstr(o, "outcome", r->outcome, sizeof(r->outcome));
		r->exit_code = (int)ji64(o, "exit_code");
		return;
	}
	add_mark(r, t, name, text);
}

int vigil_report_event_json(struct vigil_report *r, struct json_object *ev)
{
	struct json_object *v;
	const char *name;
	uint64_t t;

	if (!json_object_is_type(ev, json_type_object) ||
	    !json_object_object_get_ex(ev, "event", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -EBADMSG;
	name = json_object_get_string(v);
	t = ju64(ev, "t_ns");
	r->events++;
	if (t > r->end_ns)
		r->end_ns = t;
	if (!strcmp(name, "output"))
		ev_output(r, ev, t);
	else if (!strcmp(name, "scenario"))
		ev_scenario(r, ev, t);
	else if (!strcmp(name, "test_result"))
		ev_test(r, ev, t);
	else if (!strncmp(name, "process_", 8) || !strcmp(name, "stall") ||
		 !strcmp(name, "recovery"))
		ev_process(r, name, ev, t);
	else if (!strcmp(name, "stall_classified"))
		ev_classified(r, ev, t);
	else if (!strncmp(name, "vm_", 3))
		ev_vm(r, name, ev, t);
	else if (!strcmp(name, "finding"))
		ev_finding(r, ev);
	else if (!strcmp(name, "flow"))
		ev_flow(r, ev, t);
	else if (!strcmp(name, "anomaly"))
		r->anomalies++;
	else if (!strcmp(name, "exit") || !strcmp(name, "sched_exit") ||
		 !strcmp(name, "snapshot_done") || !strcmp(name, "run_end"))
		ev_point(r, name, ev, t);
	else if (!strncmp(name, "link_", 5) || !strcmp(name, "first_byte") ||
		 !strcmp(name, "hello") || !strcmp(name, "ready") || !strcmp(name, "agent_restart"))
		ev_boot(r, name, ev, t);
	else
		return 0; /* pong, agent_stats, snapshot_request, names of later versions */
	return 1;
}

int vigil_report_event_line(struct vigil_report *r, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	int e;

	if (len > INT32_MAX) {
		json_tokener_free(tok);
		return -EMSGSIZE;
	}
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, line, (int)len);
	json_tokener_free(tok);
	if (!o)
		return -EBADMSG;
	e = vigil_report_event_json(r, o);
	json_object_put(o);
	return e;
}

/* ---- a recording replayed ------------------------------------------------ */

struct report_replay {
	struct vigil_report *r;
	uint64_t t0_ns, next_sample_ns;
};

static void on_event(void *ctx, const struct vigil_event *ev)
{
	struct report_replay *rr = ctx;

	vigil_report_event(rr->r, ev);
}

/* After each record: the tracker's beats, at most every REPORT_SAMPLE_NS
 * of recorded time, as a run samples them. */
static void on_step(void *ctx, struct vigil_session *s, uint64_t now_ns)
{
	struct report_replay *rr = ctx;

	if (now_ns < rr->next_sample_ns)
		return;
	vigil_report_sample(rr->r, s, now_ns, rr->t0_ns);
	rr->next_sample_ns = now_ns + REPORT_SAMPLE_NS;
}

int vigil_report_replay(struct vigil_report *r, const char *file, const uint8_t *buf, size_t len,
			FILE *log)
{
	struct report_replay rr = { .r = r };
	struct vigil_replay rp = {
		.event = on_event, .step = on_step, .ctx = &rr, .cmd = "report", .log = log
	};
	int e = -1;

	vigil_session_opts_default(&rp.so);
	if (vigil_replay_open(&rp, file, buf, len) == 0) {
		rr.t0_ns = rp.t0_ns;
		if (vigil_replay_run(&rp, file, buf, len) == 0) {
			struct vigil_finish_in in = {
				.v = vigil_session_finish(rp.s, rp.last_ns),
				.provenance = rp.provenance,
				.root = rp.root,
				.cmd = "report",
			};
			vigil_report_sample(r, rp.s, rp.last_ns, rp.t0_ns);
			e = vigil_report_finish(r, &in);
			if (e < 0)
				fprintf(log ? log : stderr, "vigil report: out of memory\n");
		}
	}
	vigil_replay_free(&rp);
	return e < 0 ? -1 : 0;
}
