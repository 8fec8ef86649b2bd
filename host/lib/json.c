/* SPDX-License-Identifier: MIT */
/*
 * JSON rendering of events (docs/events.md) and of the verdict
 * (docs/verdict.md) with json-c. Runs in sinks and at the end of a run,
 * never on the feed/tick paths: it allocates. Each event type has its
 * field writer (event_fields[]); the verdict is written member by member;
 * its counters come from the counter table (counters.h), not from names
 * written here.
 *
 * Guest strings are not trusted to be UTF-8: valid sequences pass through,
 * every other byte is written as the four characters \xNN (so the JSON
 * text holds "\\xNN"), which keeps the output valid and the bytes visible.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "flows.h"
#include "session.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static inline size_t utf8_seq(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates, past U+10FFFF. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static json_object *jstr(const void *data, size_t len)
{
	const uint8_t *p = data;
	char *tmp;
	size_t o = 0;
	json_object *j;

	if (!p)
		len = 0;
	tmp = malloc(len * 4 + 1);
	if (!tmp)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq(p + i, len - i);

		if (k == 0) {
			static const char hex[] = "0123456789abcdef";

			tmp[o++] = '\\';
			tmp[o++] = 'x';
			tmp[o++] = hex[p[i] >> 4];
			tmp[o++] = hex[p[i] & 15];
			i++;
			continue;
		}
		memcpy(tmp + o, p + i, k);
		o += k;
		i += k;
	}
	j = json_object_new_string_len(tmp, (int)o);
	free(tmp);
	return j;
}

static json_object *jvstr(struct vigil_str s)
{
	return jstr(s.ptr, s.len);
}

static json_object *jcstr(const char *s)
{
	return jstr(s, strlen(s));
}

static void add(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	add(o, k, json_object_new_uint64(v));
}

static void add_i64(json_object *o, const char *k, int64_t v)
{
	add(o, k, json_object_new_int64(v));
}

/* A timeline stamp: 0 means "did not happen" and renders as null. */
static void add_stamp(json_object *o, const char *k, uint64_t v)
{
	add(o, k, v ? json_object_new_uint64(v) : NULL);
}

static const char *const event_names[VIGIL_EV__COUNT] = {
	[VIGIL_EV_LINK_UP] = "link_up",
	[VIGIL_EV_LINK_DOWN] = "link_down",
	[VIGIL_EV_FIRST_BYTE] = "first_byte",
	[VIGIL_EV_HELLO] = "hello",
	[VIGIL_EV_AGENT_RESTART] = "agent_restart",
	[VIGIL_EV_READY] = "ready",
	[VIGIL_EV_SCENARIO] = "scenario",
	[VIGIL_EV_OUTPUT] = "output",
	[VIGIL_EV_TEST_RESULT] = "test_result",
	[VIGIL_EV_EXIT] = "exit",
	[VIGIL_EV_SCHED_EXIT] = "sched_exit",
	[VIGIL_EV_PROCESS_NEW] = "process_new",
	[VIGIL_EV_PROCESS_GONE] = "process_gone",
	[VIGIL_EV_STALL] = "stall",
	[VIGIL_EV_RECOVERY] = "recovery",
	[VIGIL_EV_SNAPSHOT_REQUEST] = "snapshot_request",
	[VIGIL_EV_SNAPSHOT_DONE] = "snapshot_done",
	[VIGIL_EV_VM_STOPPED] = "vm_stopped",
	[VIGIL_EV_VM_RESUMED] = "vm_resumed",
	[VIGIL_EV_PONG] = "pong",
	[VIGIL_EV_AGENT_STATS] = "agent_stats",
	[VIGIL_EV_ANOMALY] = "anomaly",
	[VIGIL_EV_FINDING] = "finding",
	[VIGIL_EV_RUN_END] = "run_end",
	[VIGIL_EV_FLOW] = "flow",
	[VIGIL_EV_STALL_CLASSIFIED] = "stall_classified",
};

const char *vigil_event_name(enum vigil_event_type t)
{
	if ((unsigned)t >= VIGIL_EV__COUNT || !event_names[t])
		return "unknown";
	return event_names[t];
}

static const char *stream_name(uint16_t type)
{
	switch (type) {
	case VIGIL_MSG_STDOUT:
		return "stdout";
	case VIGIL_MSG_STDERR:
		return "stderr";
	case VIGIL_MSG_DMESG:
		return "dmesg";
	case VIGIL_MSG_LOG:
		return "log";
	case VIGIL_SOURCE_VMM:
		return "vmm";
	case VIGIL_MSG_PROCESS_REPORT:
		return "inspect";
	default:
		return "console";
	}
}

static const char *test_outcome_name(uint8_t o)
{
	static const char *const n[] = { "PASS", "FAIL", "SKIP", "ERROR" };

	return o < 4 ? n[o] : NULL;
}

static const char *phase_name(enum vigil_scenario_phase p)
{
	switch (p) {
	case VIGIL_SCENARIO_START:
		return "start";
	case VIGIL_SCENARIO_PAUSE:
		return "pause";
	case VIGIL_SCENARIO_RESUME:
		return "resume";
	case VIGIL_SCENARIO_END:
		return "end";
	}
	return "unknown";
}

static const char *agent_stat_names[VIGIL_STAT__KNOWN] = {
	"frames_sent",    "frames_dropped", "bytes_dropped", "beats_relayed",
	"beats_rejected", "flows_sent",     "kmsg_lines",    "write_stalls",
};

static json_object *evidence_json(const struct vigil_evidence *e, uint32_t n)
{
	json_object *a = json_object_new_array();

	for (uint32_t i = 0; i < n; i++) {
		json_object *x = json_object_new_object();

		add_u64(x, "t_ns", e[i].t_ns);
		add(x, "source", json_object_new_string(stream_name(e[i].source)));
		add(x, "line", jcstr(e[i].line));
		json_object_array_add(a, x);
	}
	return a;
}

/* ---- stall classes ------------------------------------------------------ */

static const char *const cause_names[] = {
	[VIGIL_GSTALL_NONE] = NULL,
	[VIGIL_GSTALL_NO_ANSWER] = "no_answer",
	[VIGIL_GSTALL_AGENT_BEAT] = "agent_beat",
	[VIGIL_GSTALL_SILENCE] = "silence",
};

/* A state letter as a one-letter string; any other byte as a number. */
static json_object *state_json(uint8_t state)
{
	char c[2] = { (char)state, 0 };

	if ((state >= 'A' && state <= 'Z') || (state >= 'a' && state <= 'z'))
		return json_object_new_string(c);
	return json_object_new_uint64(state);
}

static json_object *sample_json(const struct vigil_process_sample *x)
{
	json_object *o = json_object_new_object();
	const char *policy = vigil_sched_policy_name(x->policy);

	add_i64(o, "status", x->status);
	add(o, "state", state_json(x->state));
	add(o, "policy",
	    policy ? json_object_new_string(policy) : json_object_new_uint64(x->policy));
	add_u64(o, "last_cpu", x->last_cpu);
	add_u64(o, "run_ns", x->run_ns);
	add_u64(o, "wait_ns", x->wait_ns);
	add_u64(o, "timeslices", x->timeslices);
	add_u64(o, "voluntary_switches", x->voluntary_switches);
	add_u64(o, "involuntary_switches", x->involuntary_switches);
	add_u64(o, "t_ns", x->t_ns);
	add(o, "comm", jcstr(x->comm));
	add(o, "wchan", jcstr(x->wchan));
	add(o, "stack", jcstr(x->stack));
	add(o, "cgroup", jcstr(x->cgroup));
	return o;
}

/* second - first, signed: counters of another task may go backwards */
static json_object *deltas_json(const struct vigil_stall_info *in)
{
	const struct vigil_process_sample *a = &in->sample[0], *b = &in->sample[1];
	json_object *o;

	if (in->n_samples < 2)
		return NULL;
	o = json_object_new_object();
	add_i64(o, "run_ns", (int64_t)(b->run_ns - a->run_ns));
	add_i64(o, "wait_ns", (int64_t)(b->wait_ns - a->wait_ns));
	add_i64(o, "timeslices", (int64_t)(b->timeslices - a->timeslices));
	add_i64(o, "voluntary_switches", (int64_t)(b->voluntary_switches - a->voluntary_switches));
	add_i64(o, "involuntary_switches",
		(int64_t)(b->involuntary_switches - a->involuntary_switches));
	return o;
}

/* The class and its samples, added to o (an event's or a finding's "stall"). */
static void stall_info_fields(json_object *o, const struct vigil_stall_info *in)
{
	json_object *a = json_object_new_array();
	uint32_t shown = in->folded < VIGIL_FOLDED_MAX ? in->folded : VIGIL_FOLDED_MAX;

	add(o, "class", json_object_new_string(vigil_stall_class_name(in->cls)));
	add_u64(o, "pid", in->pid);
	add_u64(o, "silence_ns", in->silence_ns);
	add_u64(o, "sampled_ns", in->sampled_ns);
	for (uint32_t i = 0; i < in->n_samples && i < 2; i++)
		json_object_array_add(a, sample_json(&in->sample[i]));
	add(o, "samples", a);
	add(o, "deltas", deltas_json(in));
	if (in->cls != VIGIL_STALL_GUEST)
		return;
	add(o, "cause",
	    (unsigned)in->cause < sizeof(cause_names) / sizeof(cause_names[0]) &&
		    cause_names[in->cause]
		? json_object_new_string(cause_names[in->cause])
		: json_object_new_uint64(in->cause));
	add_u64(o, "folded", in->folded);
	a = json_object_new_array();
	for (uint32_t i = 0; i < shown; i++)
		json_object_array_add(a, json_object_new_uint64(in->folded_pids[i]));
	add(o, "folded_pids", a);
}

/* A finding; in the verdict (v not NULL) with its evidence, findings[idx]. */
static json_object *finding_json(const struct vigil_finding *f, const struct vigil_verdict *v,
				 uint32_t idx)
{
	json_object *o = json_object_new_object();

	add(o, "outcome", json_object_new_string(vigil_outcome_name(f->outcome)));
	add(o, "fatal", json_object_new_boolean(f->fatal));
	add_u64(o, "t_ns", f->t_ns);
	add_i64(o, "status", f->status);
	add_u64(o, "kind", f->kind);
	add_u64(o, "pid", f->pid);
	add_u64(o, "silence_ns", f->silence_ns);
	add(o, "detail", jcstr(f->detail));
	if (f->outcome == VIGIL_OUTCOME_KERNEL_TROUBLE ||
	    (f->outcome == VIGIL_OUTCOME_GUEST_CRASH && f->kind == VIGIL_KT_PANIC))
		add(o, "trouble",
		    json_object_new_string(
			vigil_kernel_trouble_name((enum vigil_kernel_trouble)f->kind)));
	if (f->outcome == VIGIL_OUTCOME_PROCESS_STALL || f->outcome == VIGIL_OUTCOME_HOST_STARVED ||
	    f->outcome == VIGIL_OUTCOME_GUEST_STALL) {
		bool rec = f->recovered_ns != 0;

		add(o, "recovered", json_object_new_boolean(rec));
		add_stamp(o, "recovered_ns", f->recovered_ns);
		add(o, "recovery_silence_ns",
		    rec ? json_object_new_uint64(f->recovery_silence_ns) : NULL);
		add(o, "recovered_after_s",
		    rec ? json_object_new_double((double)f->recovery_silence_ns / 1e9) : NULL);
	}
	if (f->outcome == VIGIL_OUTCOME_PROCESS_STALL || f->outcome == VIGIL_OUTCOME_GUEST_STALL) {
		json_object *st = NULL;

		add(o, "class",
		    json_object_new_string(
			vigil_stall_class_name((enum vigil_stall_class)f->stall_class)));
		if (f->stall) {
			st = json_object_new_object();
			stall_info_fields(st, f->stall);
		}
		add(o, "stall", st);
	}
	if (v) {
		const struct vigil_evidence *lines;
		uint32_t n = vigil_verdict_finding_evidence(v, idx, &lines);

		add(o, "evidence", evidence_json(lines, n));
	}
	return o;
}

/* A flow address as text: dotted quad for family 4, RFC 5952 for 6. */
static json_object *flow_addr(uint8_t family, const uint8_t addr[16])
{
	char txt[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, txt, sizeof(txt)))
		return NULL;
	return json_object_new_string(txt);
}

static void flow_fields(json_object *o, const struct vigil_flow *f)
{
	add(o, "state",
	    json_object_new_string(f->event == VIGIL_FLOW_CLOSED ? "closed" : "opened"));
	add_u64(o, "family", f->family);
	add_u64(o, "protocol", f->protocol);
	add(o, "src_addr", flow_addr(f->family, f->src_addr));
	add_u64(o, "src_port", f->src_port);
	add(o, "dst_addr", flow_addr(f->family, f->dst_addr));
	add_u64(o, "dst_port", f->dst_port);
	add_u64(o, "bytes", f->bytes);
	add_u64(o, "packets", f->packets);
	add_u64(o, "pid", f->pid);
	add(o, "listen", json_object_new_boolean(flow_is_listen(f)));
}

/* ---- event fields: one writer per event type ---------------------------- */

static void hello_fields(json_object *o, const struct vigil_event *ev)
{
	add_u64(o, "epoch", ev->hello.epoch);
	add_u64(o, "proto_version", ev->hello.proto_version);
	add_u64(o, "capabilities", ev->hello.capabilities);
	add_u64(o, "guest_boottime_ns", ev->hello.guest_boottime_ns);
	add(o, "agent_version", jvstr(ev->hello.agent_version));
	add(o, "kernel_release", jvstr(ev->hello.kernel_release));
	add(o, "hostname", jvstr(ev->hello.hostname));
	if (ev->sz >= offsetof(struct vigil_event, hello_agent_pid) + sizeof(ev->hello_agent_pid))
		add_u64(o, "agent_pid", ev->hello_agent_pid);
}

static void ready_fields(json_object *o, const struct vigil_event *ev)
{
	add_u64(o, "epoch", ev->ready.epoch);
	add_u64(o, "since_link_ns", ev->ready.since_link_ns);
}

static void scenario_fields(json_object *o, const struct vigil_event *ev)
{
	enum vigil_scenario_phase ph = ev->scenario.phase;

	add(o, "phase", json_object_new_string(phase_name(ph)));
	add_u64(o, "index", ev->scenario.index);
	add(o, "name", jvstr(ev->scenario.name));
	if (ph == VIGIL_SCENARIO_RESUME || ph == VIGIL_SCENARIO_END)
		add_u64(o, "pause_ns", ev->scenario.pause_ns);
	if (ph == VIGIL_SCENARIO_END)
		add_u64(o, "run_ns", ev->scenario.run_ns);
}

/* A test outcome by name, or its number when it has none. */
static json_object *test_outcome_json(uint8_t outcome)
{
	const char *n = test_outcome_name(outcome);

	return n ? json_object_new_string(n) : json_object_new_int(outcome);
}

static void test_fields(json_object *o, const struct vigil_event *ev)
{
	add(o, "outcome", test_outcome_json(ev->test.outcome));
	add_u64(o, "duration_ns", ev->test.duration_ns);
	add(o, "name", jvstr(ev->test.name));
	add(o, "message", jvstr(ev->test.message));
}

static void exit_fields(json_object *o, const struct vigil_event *ev)
{
	add_i64(o, "status", ev->exit.status);
	add_i64(o, "signal", ev->exit.signal);
}

static void sched_exit_fields(json_object *o, const struct vigil_event *ev)
{
	add_i64(o, "code", ev->sched_exit.code);
	add_u64(o, "kind", ev->sched_exit.kind);
	add(o, "reason", jvstr(ev->sched_exit.reason));
}

/* PROCESS_NEW, PROCESS_GONE, STALL, RECOVERY. */
static void process_fields(json_object *o, const struct vigil_event *ev)
{
	add_u64(o, "pid", ev->process.pid);
	add_u64(o, "origin", ev->process.origin);
	add_u64(o, "status", ev->process.status);
	add_u64(o, "pidns_inode", ev->process.pidns_inode);
	add_u64(o, "deadline_ns", ev->process.deadline_ns);
	if (ev->type != VIGIL_EV_PROCESS_NEW)
		add_u64(o, "silence_ns", ev->process.silence_ns);
	if (ev->type == VIGIL_EV_STALL)
		add(o, "host_starved", json_object_new_boolean(ev->process.host_starved));
	if (ev->type == VIGIL_EV_PROCESS_GONE)
		add(o, "reason",
		    json_object_new_string(ev->process.gone == VIGIL_GONE_EVICTED ? "evicted"
										  : "stopping"));
}

/* SNAPSHOT_REQUEST, SNAPSHOT_DONE. */
static void snapshot_fields(json_object *o, const struct vigil_event *ev)
{
	add_u64(o, "request_id", ev->snapshot.request_id);
	add_u64(o, "kind", ev->snapshot.kind);
	add(o, "tag", jvstr(ev->snapshot.tag));
	if (ev->type == VIGIL_EV_SNAPSHOT_DONE) {
		add_i64(o, "status", ev->snapshot.status);
		add(o, "detail", jvstr(ev->snapshot.detail));
	}
}

/* VM_STOPPED, VM_RESUMED. */
static void vm_fields(json_object *o, const struct vigil_event *ev)
{
	if (ev->type == VIGIL_EV_VM_RESUMED)
		add_u64(o, "stopped_ns", ev->vm.stopped_ns);
	add_u64(o, "total_stopped_ns", ev->vm.total_stopped_ns);
}

static void pong_fields(json_object *o, const struct vigil_event *ev)
{
	add_u64(o, "token", ev->pong.token);
	add_u64(o, "rtt_ns", ev->pong.rtt_ns);
	add_u64(o, "guest_mono_ns", ev->pong.guest_mono_ns);
}

/* The known values by name, the ones past them in "extra". */
/* The agent's last counters (null when none came). */
static json_object *agent_json(const struct vigil_verdict *v)
{
	json_object *c;

	if (!v->have_agent_stats)
		return NULL;
	c = json_object_new_object();
	for (uint32_t i = 0; i < VIGIL_STAT__KNOWN; i++)
		add_u64(c, agent_stat_names[i], v->agent_stats[i]);
	return c;
}

static void agent_stats_fields(json_object *o, const struct vigil_event *ev)
{
	json_object *c = json_object_new_object();
	json_object *extra = json_object_new_array();

	for (uint32_t i = 0; i < ev->agent_stats.stats.count; i++) {
		uint64_t val = vigil_agent_stats_get(&ev->agent_stats.stats, i);

		if (i < VIGIL_STAT__KNOWN)
			add_u64(c, agent_stat_names[i], val);
		else
			json_object_array_add(extra, json_object_new_uint64(val));
	}
	add(o, "counters", c);
	add(o, "extra", extra);
}

static void anomaly_fields(json_object *o, const struct vigil_event *ev)
{
	add(o, "counter", json_object_new_string(ev->anomaly.counter));
	add_u64(o, "delta", ev->anomaly.delta);
	add_u64(o, "total", ev->anomaly.total);
}

static void finding_fields(json_object *o, const struct vigil_event *ev)
{
	add(o, "finding", finding_json(ev->finding.finding, NULL, 0));
}

static void run_end_fields(json_object *o, const struct vigil_event *ev)
{
	const struct vigil_verdict *v = ev->run_end.verdict;

	add(o, "outcome", json_object_new_string(vigil_outcome_name(v->outcome)));
	add_i64(o, "exit_code", vigil_verdict_exit_code(v));
}

static void flow_event_fields(json_object *o, const struct vigil_event *ev)
{
	flow_fields(o, ev->flow.flow);
}

static void classified_fields(json_object *o, const struct vigil_event *ev)
{
	if (ev->classified.info)
		stall_info_fields(o, ev->classified.info);
}

/* The fields after "event", "t_ns" and "mono_ns"; NULL: none. OUTPUT
 * events are written directly (output_to_json, below). */
static void (*const event_fields[VIGIL_EV__COUNT])(json_object *o, const struct vigil_event *ev) = {
	[VIGIL_EV_HELLO] = hello_fields,
	[VIGIL_EV_AGENT_RESTART] = hello_fields,
	[VIGIL_EV_READY] = ready_fields,
	[VIGIL_EV_SCENARIO] = scenario_fields,
	[VIGIL_EV_TEST_RESULT] = test_fields,
	[VIGIL_EV_EXIT] = exit_fields,
	[VIGIL_EV_SCHED_EXIT] = sched_exit_fields,
	[VIGIL_EV_PROCESS_NEW] = process_fields,
	[VIGIL_EV_PROCESS_GONE] = process_fields,
	[VIGIL_EV_STALL] = process_fields,
	[VIGIL_EV_RECOVERY] = process_fields,
	[VIGIL_EV_SNAPSHOT_REQUEST] = snapshot_fields,
	[VIGIL_EV_SNAPSHOT_DONE] = snapshot_fields,
	[VIGIL_EV_VM_STOPPED] = vm_fields,
	[VIGIL_EV_VM_RESUMED] = vm_fields,
	[VIGIL_EV_PONG] = pong_fields,
	[VIGIL_EV_AGENT_STATS] = agent_stats_fields,
	[VIGIL_EV_ANOMALY] = anomaly_fields,
	[VIGIL_EV_FINDING] = finding_fields,
	[VIGIL_EV_RUN_END] = run_end_fields,
	[VIGIL_EV_FLOW] = flow_event_fields,
	[VIGIL_EV_STALL_CLASSIFIED] = classified_fields,
};

static int render(json_object *o, int flags, char **out)
{
	size_t len;
	const char *txt = json_object_to_json_string_length(o, flags, &len);
	char *dup = txt ? malloc(len + 1) : NULL;

	if (!dup) {
		json_object_put(o);
		return -ENOMEM;
	}
	memcpy(dup, txt, len + 1);
	json_object_put(o);
	*out = dup;
	return len > INT32_MAX ? INT32_MAX : (int)len;
}

/* ---- OUTPUT events: a direct writer --------------------------------------
 *
 * Workload output is the one event that comes in bulk (a 20 MiB burst is
 * 320 events of 64 KiB), so it is written straight into one buffer instead
 * of through json-c objects (which copy the text three times and escape it
 * a byte at a time). The bytes are the same as json-c would write for the
 * same fields in the same order (PLAIN, NOSLASHESCAPE): tests compare the
 * two.
 */

/*
 * How each byte is written inside a JSON string, as a table built at
 * compile time: up to 6 characters and their count. Plain bytes stand for
 * themselves; '"', '\\' and \b \f \n \r \t get a backslash; other control
 * bytes are \u00XX; a byte that cannot start a valid UTF-8 sequence
 * (0x80..0xc1, 0xf5..0xff) is the text \xNN with its backslash escaped.
 * The possible lead bytes 0xc2..0xf4 are marked: whether they start a
 * valid sequence depends on the bytes after them.
 */
struct esc_ent {
	char s[6];
	uint8_t n;    /* characters written */
	uint8_t lead; /* 1: a possible UTF-8 lead byte, look at what follows */
};

#define ESC_HEX(d)   ((char)((d) < 10 ? '0' + (d) : 'a' + (d)-10))
#define ESC_SHORT(c) ((c) == '"' || (c) == '\\' || ((c) >= 8 && (c) <= 13 && (c) != 11))
#define ESC_CTRL(c)  ((c) < 0x20 && !ESC_SHORT(c))
#define ESC_HIGH(c)  ((c) >= 0x80)
#define ESC_SHORT_CH(c)                                                                            \
	((c) == 8    ? 'b'                                                                         \
	 : (c) == 9  ? 't'                                                                         \
	 : (c) == 10 ? 'n'                                                                         \
	 : (c) == 12 ? 'f'                                                                         \
	 : (c) == 13 ? 'r'                                                                         \
		     : (char)(c))
#define ESC_ENT(c)                                                                                 \
	{                                                                                          \
		{ ESC_SHORT(c) || ESC_CTRL(c) || ESC_HIGH(c) ? '\\' : (char)(c),                   \
		  ESC_SHORT(c)  ? ESC_SHORT_CH(c)                                                  \
		  : ESC_CTRL(c) ? 'u'                                                              \
		  : ESC_HIGH(c) ? '\\'                                                             \
				: 0,                                                               \
		  ESC_CTRL(c)   ? '0'                                                              \
		  : ESC_HIGH(c) ? 'x'                                                              \
				: 0,                                                               \
		  ESC_CTRL(c)   ? '0'                                                              \
		  : ESC_HIGH(c) ? ESC_HEX((c) >> 4)                                                \
				: 0,                                                               \
		  ESC_CTRL(c)   ? ESC_HEX((c) >> 4)                                                \
		  : ESC_HIGH(c) ? ESC_HEX((c)&15)                                                  \
				: 0,                                                               \
		  ESC_CTRL(c) ? ESC_HEX((c)&15) : 0 },                                             \
		    (uint8_t)(ESC_SHORT(c)  ? 2                                                    \
			      : ESC_CTRL(c) ? 6                                                    \
			      : ESC_HIGH(c) ? 5                                                    \
					    : 1),                                                  \
		    (uint8_t)((c) >= 0xc2 && (c) <= 0xf4)                                          \
	}
#define ESC_R4(c)  ESC_ENT(c), ESC_ENT((c) + 1), ESC_ENT((c) + 2), ESC_ENT((c) + 3)
#define ESC_R16(c) ESC_R4(c), ESC_R4((c) + 4), ESC_R4((c) + 8), ESC_R4((c) + 12)
#define ESC_R64(c) ESC_R16(c), ESC_R16((c) + 16), ESC_R16((c) + 32), ESC_R16((c) + 48)

static const struct esc_ent esc_tab[256] = { ESC_R64(0), ESC_R64(64), ESC_R64(128), ESC_R64(192) };

_Static_assert(sizeof(struct esc_ent) == 8, "one 8-byte store per byte");

/* Worst case characters written per input byte: a control byte as \u00XX. */
#define ESC_MAX_PER_BYTE 6u
/* The writer stores 8 bytes at a time and may run this far past the end. */
#define ESC_SLACK 8u

/*
 * Nonzero when a byte of the 8 in w needs more than a copy (below 0x20,
 * '"', '\\' or 0x80 and above). The lowest flagged byte is exact (a borrow
 * can only flag bytes above a true one), which is all the caller uses.
 */
static inline uint64_t esc_mask(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t q = w ^ (ones * '"');
	uint64_t b = w ^ (ones * '\\');
	uint64_t ctl = (w - ones * 0x20) & ~w; /* below 0x20 */

	q = (q - ones) & ~q; /* '"' */
	b = (b - ones) & ~b; /* '\\' */
	return (ctl | q | b | w) & high;
}

/* One byte (or one valid UTF-8 sequence) at p[*i]; returns the new end. */
static inline char *esc_one(char *o, const uint8_t *p, size_t len, size_t *i)
{
	const struct esc_ent *e = &esc_tab[p[*i]];

	if (e->lead) {
		size_t k = utf8_seq(p + *i, len - *i);

		if (k) {
			memcpy(o, p + *i, k);
			*i += k;
			return o + k;
		}
	}
	memcpy(o, e, 8); /* n characters, then junk the next write covers */
	*i += 1;
	return o + e->n;
}

/*
 * Write the escaped text of p[0..len) at o; returns the new end. o needs
 * len * ESC_MAX_PER_BYTE + ESC_SLACK bytes. Clean runs go 8 bytes at a
 * time; a word with something to escape goes through the table.
 */
static char *esc_text(char *o, const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (len - i >= 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (!esc_mask(w)) {
			memcpy(o, &w, 8);
			o += 8;
			i += 8;
			continue;
		}
		/* A UTF-8 sequence may carry i past end: that is fine. */
		for (size_t end = i + 8; i < end;)
			o = esc_one(o, p, len, &i);
	}
	while (i < len)
		o = esc_one(o, p, len, &i);
	return o;
}

static char *put_str(char *o, const char *s)
{
	size_t n = strlen(s);

	memcpy(o, s, n);
	return o + n;
}

static char *put_u64(char *o, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*o++ = tmp[--n];
	return o;
}

/* Longest output chunk rendered: the output's length must fit an int. */
#define OUTPUT_JSON_MAX_LEN ((INT32_MAX - 512u) / ESC_MAX_PER_BYTE)

/* Bytes an OUTPUT event of len text bytes may need, NUL included. */
static size_t output_cap(size_t len)
{
	/* fixed text and 5 numbers of at most 20 digits: well under 512 */
	return 512 + len * ESC_MAX_PER_BYTE + ESC_SLACK;
}

/* Writes the event at buf (output_cap(len) bytes); returns its length. */
static size_t output_write(const struct vigil_event *ev, char *buf)
{
	char *o = put_str(buf, "{\"event\":\"output\",\"t_ns\":");

	o = put_u64(o, ev->t_ns);
	o = put_str(o, ",\"mono_ns\":");
	o = put_u64(o, ev->now_ns);
	o = put_str(o, ",\"stream\":\"");
	o = put_str(o, stream_name(ev->output.stream));
	o = put_str(o, ev->output.crc_ok ? "\",\"crc_ok\":true" : "\",\"crc_ok\":false");
	if (ev->output.stream == VIGIL_MSG_DMESG || ev->output.stream == VIGIL_MSG_LOG) {
		o = put_str(o, ",\"level\":");
		o = put_u64(o, ev->output.level);
	}
	if (ev->output.stream == VIGIL_MSG_DMESG) {
		o = put_str(o, ",\"kmsg_seq\":");
		o = put_u64(o, ev->output.kmsg_seq);
		o = put_str(o, ",\"ts_us\":");
		o = put_u64(o, ev->output.ts_us);
	}
	o = put_str(o, ",\"text\":\"");
	if (ev->output.data)
		o = esc_text(o, ev->output.data, ev->output.len);
	o = put_str(o, "\"}");
	*o = '\0';
	return (size_t)(o - buf);
}

static int output_to_json(const struct vigil_event *ev, char **out)
{
	size_t cap = output_cap(ev->output.len), len;
	char *buf;

	if (ev->output.len > OUTPUT_JSON_MAX_LEN)
		return -EMSGSIZE;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	len = output_write(ev, buf);
	/* Give back the worst-case room when most of it went unused. */
	if (cap - len > 65536) {
		char *shrunk = realloc(buf, len + 1);

		if (shrunk)
			buf = shrunk;
	}
	*out = buf;
	return (int)len;
}

int vigil_event_render(const struct vigil_event *ev, char *buf, size_t cap)
{
	char *json;
	int n;

	if (ev->type == VIGIL_EV_OUTPUT) {
		if (ev->output.len > OUTPUT_JSON_MAX_LEN || output_cap(ev->output.len) > cap)
			return -ENOBUFS;
		return (int)output_write(ev, buf);
	}
	n = vigil_event_to_json(ev, &json);
	if (n < 0)
		return n;
	if ((size_t)n + 1 > cap) {
		free(json);
		return -ENOBUFS;
	}
	memcpy(buf, json, (size_t)n + 1);
	free(json);
	return n;
}

int vigil_event_to_json(const struct vigil_event *ev, char **out)
{
	if (ev->type == VIGIL_EV_OUTPUT)
		return output_to_json(ev, out);

	json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	add(o, "event", json_object_new_string(vigil_event_name(ev->type)));
	add_u64(o, "t_ns", ev->t_ns);
	add_u64(o, "mono_ns", ev->now_ns);
	if ((unsigned)ev->type < VIGIL_EV__COUNT && event_fields[ev->type])
		event_fields[ev->type](o, ev);
	return render(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, out);
}

/* ---- verdict ----------------------------------------------------------- */

/*
 * The counters, from the table (counters.h): one JSON object per group, in
 * table order. Scalars are { key: value }; per-type counters are
 * { "BEAT": { "frames": .., ... }, ... }, leaving out the types that
 * delivered no frames; kernel troubles are { "panic": n, ... }, every kind.
 */
static json_object *scalars_json(const struct vigil_session_counters *c,
				 const struct vigil_counter_desc *d, size_t n)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < n; i++)
		add_u64(o, d[i].field, vigil_counter_value(c, &d[i]));
	return o;
}

static json_object *by_type_json(const struct vigil_session_counters *c,
				 const struct vigil_counter_desc *d, size_t n)
{
	json_object *o = json_object_new_object();

	/* d[0] is "frames": every other per-type counter implies a frame. */
	for (uint32_t t = 1; t < d[0].count; t++) {
		const char *label = vigil_counter_label(&d[0], t);
		json_object *e;

		if (!vigil_counter_value_at(c, &d[0], t))
			continue;
		e = json_object_new_object();
		for (size_t i = 0; i < n; i++)
			add_u64(e, d[i].field, vigil_counter_value_at(c, &d[i], t));
		add(o, label ? label : "?", e);
	}
	return o;
}

static json_object *by_label_json(const struct vigil_session_counters *c,
				  const struct vigil_counter_desc *d)
{
	json_object *o = json_object_new_object();

	for (uint32_t k = 0; k < d->count; k++) {
		const char *label = vigil_counter_label(d, k);

		if (label)
			add_u64(o, label, vigil_counter_value_at(c, d, k));
	}
	return o;
}

static json_object *group_json(const struct vigil_session_counters *c,
			       const struct vigil_counter_desc *d, size_t n)
{
	switch (d->index) {
	case VIGIL_COUNTER_BY_MSG_TYPE:
		return by_type_json(c, d, n);
	case VIGIL_COUNTER_BY_KERNEL_TROUBLE:
		return by_label_json(c, d);
	case VIGIL_COUNTER_SCALAR:
		break;
	}
	return scalars_json(c, d, n);
}

/*
 * Add the counter groups to o: the flow counters (beside = true) sit
 * beside "counters" in the verdict, every other group inside it.
 */
static void counter_groups(json_object *o, const struct vigil_session_counters *c, bool beside)
{
	size_t n;
	const struct vigil_counter_desc *d = vigil_session_counter_descs(&n);

	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && !strcmp(d[j].group, d[i].group);)
			j++;
		if (!strcmp(d[i].group, "flows") == beside)
			add(o, d[i].group, group_json(c, &d[i], j - i));
	}
}

static json_object *findings_json(const struct vigil_verdict *v)
{
	json_object *a = json_object_new_array();

	for (uint32_t i = 0; i < v->n_findings; i++)
		json_object_array_add(a, finding_json(&v->findings[i], v, i));
	return a;
}

/* null when the scheduler did not exit. */
static json_object *sched_exit_json(const struct vigil_verdict *v)
{
	json_object *x;

	if (!v->have_sched_exit)
		return NULL;
	x = json_object_new_object();
	add_i64(x, "code", v->sched_exit_code);
	add_u64(x, "kind", v->sched_exit_kind);
	add(x, "reason", jcstr(v->sched_exit_reason));
	return x;
}

/* null when the workload's EXIT never came. */
static json_object *workload_exit_json(const struct vigil_verdict *v)
{
	json_object *x;

	if (!v->have_exit)
		return NULL;
	x = json_object_new_object();
	add_i64(x, "status", v->exit_status);
	add_i64(x, "signal", v->exit_signal);
	return x;
}

/* null before a HELLO. */
static json_object *guest_json(const struct vigil_guest_info *g)
{
	json_object *x;

	if (!g->have_hello)
		return NULL;
	x = json_object_new_object();
	add_u64(x, "proto_version", g->proto_version);
	add_u64(x, "capabilities", g->capabilities);
	add(x, "agent_version", jcstr(g->agent_version));
	add(x, "kernel_release", jcstr(g->kernel_release));
	add(x, "hostname", jcstr(g->hostname));
	return x;
}

static json_object *timeline_json(const struct vigil_timeline *t)
{
	json_object *x = json_object_new_object();

	add_stamp(x, "link_up_ns", t->link_up_ns);
	add_stamp(x, "first_byte_ns", t->first_byte_ns);
	add_stamp(x, "hello_ns", t->hello_ns);
	add_stamp(x, "guest_boottime_ns", t->guest_boottime_ns);
	add_stamp(x, "ready_ns", t->ready_ns);
	add_stamp(x, "workload_start_ns", t->workload_start_ns);
	add_stamp(x, "exit_ns", t->exit_ns);
	add_stamp(x, "sched_exit_ns", t->sched_exit_ns);
	add_u64(x, "end_ns", t->end_ns);
	return x;
}

static json_object *scenario_json(const struct vigil_scenario *sc)
{
	json_object *e = json_object_new_object();

	add(e, "name", jcstr(sc->name));
	add_u64(e, "start_ns", sc->start_ns);
	add_stamp(e, "end_ns", sc->end_ns);
	add_u64(e, "pause_ns", sc->pause_ns);
	add_u64(e, "pauses", sc->pauses);
	add_u64(e, "run_ns", sc->run_ns);
	add_u64(e, "flows_opened", sc->flows_opened);
	add(e, "ended", json_object_new_boolean(sc->ended));
	return e;
}

/* The workload's running and pause time and its scenarios. */
static json_object *workload_json(const struct vigil_verdict *v)
{
	json_object *x = json_object_new_object();
	json_object *a = json_object_new_array();

	add_u64(x, "run_ns", v->workload_run_ns);
	add_u64(x, "pause_ns", v->workload_pause_ns);
	for (uint32_t i = 0; i < v->n_scenarios; i++)
		json_object_array_add(a, scenario_json(&v->scenarios[i]));
	add(x, "scenarios", a);
	return x;
}

static json_object *test_result_json(const struct vigil_test *t)
{
	json_object *e = json_object_new_object();

	add(e, "name", jcstr(t->name));
	add(e, "outcome", test_outcome_json(t->outcome));
	add_u64(e, "duration_ns", t->duration_ns);
	add(e, "message", jcstr(t->message));
	add_u64(e, "t_ns", t->t_ns);
	return e;
}

/* Counts by outcome (all results) and the kept results. */
static json_object *tests_json(const struct vigil_verdict *v)
{
	json_object *x = json_object_new_object();
	json_object *a = json_object_new_array();

	add_u64(x, "pass", v->tests_by_outcome[VIGIL_TEST_PASS]);
	add_u64(x, "fail", v->tests_by_outcome[VIGIL_TEST_FAIL]);
	add_u64(x, "skip", v->tests_by_outcome[VIGIL_TEST_SKIP]);
	add_u64(x, "error", v->tests_by_outcome[VIGIL_TEST_ERROR]);
	for (uint32_t i = 0; i < v->n_tests; i++)
		json_object_array_add(a, test_result_json(&v->tests[i]));
	add(x, "results", a);
	return x;
}

/* The verdict's members in the order docs/verdict.md shows them. */
int vigil_verdict_to_json(const struct vigil_verdict *v, unsigned flags, char **out)
{
	/* a verdict built by hand may have none: every counter 0 (sz 0) */
	static const struct vigil_session_counters none;
	const struct vigil_session_counters *c = v->counters ? v->counters : &none;
	json_object *o = json_object_new_object();
	json_object *counters = json_object_new_object();
	int jflags = (flags & VIGIL_JSON_PRETTY ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
						: JSON_C_TO_STRING_PLAIN) |
		     JSON_C_TO_STRING_NOSLASHESCAPE;

	if (!o || !counters) {
		json_object_put(o);
		json_object_put(counters);
		return -ENOMEM;
	}
	add_u64(o, "verdict_version", 2);
	add(o, "outcome", json_object_new_string(vigil_outcome_name(v->outcome)));
	add_i64(o, "exit_code", vigil_verdict_exit_code(v));
	add(o, "primary",
	    v->primary ? finding_json(v->primary, v, (uint32_t)(v->primary - v->findings)) : NULL);
	add(o, "findings", findings_json(v));
	add(o, "sched_exit", sched_exit_json(v));
	add(o, "workload_exit", workload_exit_json(v));
	add(o, "guest", guest_json(&v->guest));
	add(o, "agent", agent_json(v));
	add(o, "timeline", timeline_json(&v->timeline));
	add(o, "workload", workload_json(v));
	add(o, "tests", tests_json(v));
	counter_groups(counters, c, false);
	add(o, "counters", counters);
	counter_groups(o, c, true);
	return render(o, jflags, out);
}
