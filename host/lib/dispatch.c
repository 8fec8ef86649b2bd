/* SPDX-License-Identifier: MIT */
/*
 * Frame dispatch (see dispatch.h): the table from message type to handler,
 * and the handlers. Each handler decodes its payload and acts; what a type
 * shares with others (the watchdog, the snapshot protocol, scenarios,
 * evidence, findings) it reaches through those modules' functions.
 */
#include <errno.h>
#include <string.h>

#include "dispatch.h"
#include "session.h"

/*
 * A handler gets a CRC-valid (or, for output, any) frame of its type and
 * returns 0, -EBADMSG for a wrong shape (counted as malformed by the
 * caller), or 1 when the type's own rules ignored it (counted as ignored).
 */
typedef int (*handler_fn)(struct vigil_session *s, const struct vigil_frame *f);

/* A new epoch (HELLO with seq 0, or the first HELLO): the agent restarted
 * and forgot its pings and its snapshot ids. Returns true for a restart. */
static bool new_epoch(struct vigil_session *s, const struct vigil_frame *f)
{
	bool restart = s->epoch > 0;

	if (f->new_epoch)
		s->c.epochs++;
	s->epoch++;
	s->ready_in_epoch = false;
	ses_pings_forget(s);
	snap_epoch_reset(s);
	isp_cancel_all(s); /* the new agent never saw them */
	if (restart)
		s->c.agent_restarts++;
	return restart;
}

static void guest_info(struct vigil_session *s, const struct vigil_hello *h)
{
	if (h->proto_version != VIGIL_WIRE_VERSION)
		s->c.proto_mismatch++;
	if (!s->guest.have_hello) {
		s->tl.hello_ns = ses_stamp(s);
		s->tl.guest_boottime_ns = h->guest_boottime_ns;
	}
	s->guest.have_hello = true;
	s->guest.proto_version = h->proto_version;
	s->guest.capabilities = h->capabilities;
	ses_copy_str(s, s->guest.agent_version, sizeof(s->guest.agent_version), h->agent_version);
	ses_copy_str(s, s->guest.kernel_release, sizeof(s->guest.kernel_release),
		     h->kernel_release);
	ses_copy_str(s, s->guest.hostname, sizeof(s->guest.hostname), h->hostname);
}

static int on_hello(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_hello h;
	uint32_t agent_pid;
	bool restart = false;

	if (vigil_hello_decode(f->payload, f->hdr.len, &h) < 0)
		return -EBADMSG;
	if (f->new_epoch || s->epoch == 0)
		restart = new_epoch(s, f);
	guest_info(s, &h);
	if (vigil_hello_agent_pid(f->payload, f->hdr.len, &agent_pid) <= 0)
		agent_pid = 0; /* an older agent: every beat is a process's */
	gst_hello(s, agent_pid);

	struct vigil_event ev = { .type = restart ? VIGIL_EV_AGENT_RESTART : VIGIL_EV_HELLO };

	ev.hello.epoch = s->epoch;
	ev.hello.proto_version = h.proto_version;
	ev.hello.capabilities = h.capabilities;
	ev.hello.guest_boottime_ns = h.guest_boottime_ns;
	ev.hello.agent_version = h.agent_version;
	ev.hello.kernel_release = h.kernel_release;
	ev.hello.hostname = h.hostname;
	ev.hello_agent_pid = agent_pid;
	ses_emit(s, &ev);
	return 0;
}

static int on_sys_rdy(struct vigil_session *s, const struct vigil_frame *f)
{
	if (vigil_sys_rdy_decode(f->payload, f->hdr.len) < 0)
		return -EBADMSG;
	if (s->ready_in_epoch) {
		s->c.sys_rdy_repeats++;
		return 1;
	}
	s->ready_in_epoch = true;
	if (!s->ready_ever) {
		s->ready_ever = true;
		s->boot_armed = false;
		s->tl.ready_ns = ses_stamp(s);
		/* Run mode: the agent starts the workload right after SYS_RDY. */
		if (s->o.mode == VIGIL_MODE_RUN && !s->tl.workload_start_ns)
			s->tl.workload_start_ns = ses_stamp(s);
		wdg_on_ready(s);
	}

	struct vigil_event ev = { .type = VIGIL_EV_READY };

	ev.ready.epoch = s->epoch;
	ev.ready.since_link_ns = s->tl.link_up_ns ? ses_stamp(s) - s->tl.link_up_ns : 0;
	ses_emit(s, &ev);
	return 0;
}

/* Of count beat records, how many the guest's token bucket lets through
 * (refilled once per frame); the rest are counted as throttled. */
static uint32_t beat_budget(struct vigil_session *s, uint32_t count)
{
	uint64_t el = s->now - s->tb_last;
	uint64_t max_el = s->tb_cap / s->o.beat_rate_per_s + 1;
	uint64_t have;
	uint32_t allowed = count;

	s->tb_last = s->now;
	if (el > max_el)
		el = max_el;
	s->tb_tokens += el * s->o.beat_rate_per_s;
	if (s->tb_tokens > s->tb_cap)
		s->tb_tokens = s->tb_cap;
	have = s->tb_tokens / NSEC_PER_SEC;
	if (have < allowed)
		allowed = (uint32_t)have;
	s->tb_tokens -= (uint64_t)allowed * NSEC_PER_SEC;
	trk_drop(s->trk, TRK_DROP_THROTTLED, count - allowed);
	return allowed;
}

static int on_beat(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_records r;
	struct vigil_beat b;
	uint32_t allowed;
	uint64_t now_rt;

	if (vigil_beats_decode(f->payload, f->hdr.len, &r) < 0)
		return -EBADMSG;
	now_rt = ses_rt_now(s);
	allowed = s->o.beat_rate_per_s ? beat_budget(s, r.count) : r.count;
	for (uint32_t i = 0; i < allowed; i++) {
		vigil_beat_get(&r, i, &b);
		trk_beat(s->trk, &b, now_rt);
	}
	ses_probe_fit(s);
	return 0;
}

static int on_flow(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_records r;
	struct vigil_flow fl;

	if (vigil_flows_decode(f->payload, f->hdr.len, &r) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < r.count; i++) {
		const struct flow_ent *en;
		int change;

		vigil_flow_get(&r, i, &fl);
		change = flows_record(s->flows, &fl, &en);
		if (change == FLOW_CHANGE_OPENED)
			scn_flow_opened(s);
		if (change <= FLOW_CHANGE_NONE)
			continue;
		/* One event per change, at most one per record: the record
		 * with the flow's totals and the change as its event. */
		struct vigil_event ev = { .type = VIGIL_EV_FLOW };

		fl.event = change == FLOW_CHANGE_OPENED ? VIGIL_FLOW_OPENED : VIGIL_FLOW_CLOSED;
		if (en) {
			fl.bytes = en->bytes;
			fl.packets = en->packets;
			fl.pid = en->pid;
		}
		ev.flow.flow = &fl;
		ses_emit(s, &ev);
	}
	return 0;
}

static int on_sched_exit(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_sched_exit se;

	if (vigil_sched_exit_decode(f->payload, f->hdr.len, &se) < 0)
		return -EBADMSG;
	if (s->have_sched_exit)
		return 1;
	s->have_sched_exit = true;
	s->sched_code = se.exit_code;
	s->sched_kind = se.kind;
	ses_copy_str(s, s->sched_reason, sizeof(s->sched_reason), se.reason);
	s->tl.sched_exit_ns = ses_stamp(s);

	struct vigil_event ev = { .type = VIGIL_EV_SCHED_EXIT };

	ev.sched_exit.code = se.exit_code;
	ev.sched_exit.kind = se.kind;
	ev.sched_exit.reason = se.reason;
	ses_emit(s, &ev);

	struct ses_finding_in in = { .oc = VIGIL_OUTCOME_SCHED_EXIT,
				     .status = se.exit_code,
				     .kind = se.kind,
				     .detail = se.reason.ptr,
				     .detail_len = se.reason.len,
				     .fatal = true,
				     .ends = true };

	ses_finding_add(s, &in);
	return 0;
}

static int on_scenario(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_str name;

	if (vigil_scenario_decode(f->payload, f->hdr.len, &name) < 0)
		return -EBADMSG;
	switch (f->hdr.type) {
	case VIGIL_MSG_SCENARIO_START:
		return scn_start(s, name);
	case VIGIL_MSG_SCENARIO_PAUSE:
		return scn_pause(s, name);
	case VIGIL_MSG_SCENARIO_RESUME:
		return scn_resume(s, name);
	default:
		return scn_end(s, name);
	}
}

static int on_snapshot_request(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_snapshot_request rq;

	if (vigil_snapshot_request_decode(f->payload, f->hdr.len, &rq) < 0)
		return -EBADMSG;
	return snap_request(s, &rq);
}

/*
 * Output of any CRC state is shown (flagged when torn); only CRC-valid
 * chunks feed the evidence: DMESG/LOG records the kernel ring and the
 * trouble scan, STDOUT/STDERR the workload's output lines.
 */
static int on_output(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_event ev = { .type = VIGIL_EV_OUTPUT };

	ev.output.stream = f->hdr.type;
	ev.output.crc_ok = f->crc_ok;
	ev.output.data = f->payload;
	ev.output.len = f->hdr.len;
	if (f->hdr.type == VIGIL_MSG_DMESG) {
		struct vigil_dmesg d;

		if (vigil_dmesg_decode(f->payload, f->hdr.len, &d) < 0)
			return -EBADMSG;
		ev.output.level = d.level;
		ev.output.kmsg_seq = d.kmsg_seq;
		ev.output.ts_us = d.ts_us;
		ev.output.data = d.text;
		ev.output.len = d.text_len;
	} else if (f->hdr.type == VIGIL_MSG_LOG) {
		struct vigil_log l;

		if (vigil_log_decode(f->payload, f->hdr.len, &l) < 0)
			return -EBADMSG;
		ev.output.level = l.level;
		ev.output.data = l.text;
		ev.output.len = l.text_len;
	}
	s->c.output_bytes += f->hdr.len;
	if (!f->crc_ok)
		s->c.output_torn++;
	ses_emit(s, &ev);
	if (!f->crc_ok)
		return 0;
	if (f->hdr.type == VIGIL_MSG_DMESG || f->hdr.type == VIGIL_MSG_LOG)
		evd_kernel_record(s, f->hdr.type, ev.output.data, ev.output.len);
	else
		evd_output_chunk(s, f->hdr.type, ev.output.data, ev.output.len);
	return 0;
}

/* A failing EXIT (a status or a signal) fails the workload and ends the run. */
static void exit_failed(struct vigil_session *s, const struct vigil_exit *x)
{
	static const char msg[] = "the workload exited with a failure";
	struct ses_finding_in in = { .oc = VIGIL_OUTCOME_WORKLOAD_FAILED,
				     .status = x->exit_status,
				     .kind = (uint32_t)x->signal,
				     .detail = msg,
				     .detail_len = sizeof(msg) - 1,
				     .fatal = true,
				     .ends = true };

	evd_output(s, ses_finding_add(s, &in));
}

static int on_workload_exit(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_exit x;

	if (vigil_exit_decode(f->payload, f->hdr.len, &x) < 0)
		return -EBADMSG;
	if (s->have_exit) {
		s->c.exits_ignored++;
		return 1;
	}
	s->have_exit = true;
	s->exit_status = x.exit_status;
	s->exit_signal = x.signal;
	s->tl.exit_ns = ses_stamp(s);
	scn_stop(s);

	struct vigil_event ev = { .type = VIGIL_EV_EXIT };

	ev.exit.status = x.exit_status;
	ev.exit.signal = x.signal;
	ses_emit(s, &ev);
	if (x.exit_status != 0 || x.signal != 0)
		exit_failed(s, &x);
	if (s->o.mode == VIGIL_MODE_RUN)
		s->ended = true;
	wdg_on_exit(s);
	/* The acknowledgement the agent waits for before powering off: every
	 * byte up to this EXIT has been read (docs/wire.md, SHUTDOWN). Only
	 * the session that owns the guest sends it: an observer must not
	 * power off an agent it did not start. */
	if (s->o.ack_exit)
		vigil_session_request_shutdown(s, s->now);
	return 0;
}

static void test_keep(struct vigil_session *s, const struct vigil_test_result *tr)
{
	struct vigil_test *t;

	if (s->n_tests >= s->o.max_tests) {
		s->c.tests_dropped++;
		return;
	}
	t = &s->tests[s->n_tests++];
	ses_copy_str(s, t->name, sizeof(t->name), tr->name);
	ses_copy_str(s, t->message, sizeof(t->message), tr->message);
	t->outcome = tr->outcome;
	t->duration_ns = tr->duration_ns;
	t->t_ns = s->now - s->t0;
}

static int on_test_result(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_test_result tr;

	if (vigil_test_result_decode(f->payload, f->hdr.len, &tr) < 0)
		return -EBADMSG;
	if (tr.outcome < 4)
		s->tests_by_outcome[tr.outcome]++;
	test_keep(s, &tr);

	struct vigil_event ev = { .type = VIGIL_EV_TEST_RESULT };

	ev.test.outcome = tr.outcome;
	ev.test.duration_ns = tr.duration_ns;
	ev.test.name = tr.name;
	ev.test.message = tr.message;
	ses_emit(s, &ev);
	if ((tr.outcome == VIGIL_TEST_FAIL || tr.outcome == VIGIL_TEST_ERROR) && !s->test_failed) {
		struct ses_finding_in in = { .oc = VIGIL_OUTCOME_WORKLOAD_FAILED,
					     .detail = tr.name.ptr,
					     .detail_len = tr.name.len,
					     .fatal = true };

		s->test_failed = true;
		/* The first failing test names the finding; the run goes on. */
		evd_output(s, ses_finding_add(s, &in));
	}
	return 0;
}

static int on_pong(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_pong p;

	if (vigil_pong_decode(f->payload, f->hdr.len, &p) < 0)
		return -EBADMSG;
	return ses_pong(s, &p);
}

static int on_agent_stats(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_agent_stats st;

	if (vigil_agent_stats_decode(f->payload, f->hdr.len, &st) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < VIGIL_STAT__KNOWN; i++)
		s->agent_stats[i] = vigil_agent_stats_get(&st, i);
	s->have_agent_stats = true;

	struct vigil_event ev = { .type = VIGIL_EV_AGENT_STATS };

	ev.agent_stats.stats = st;
	ses_emit(s, &ev);
	return 0;
}

/*
 * PROCESS_REPORT answers an INSPECT (inspect.h): matched to its request, or
 * unmatched (an id not in flight, another pid), which is counted as ignored
 * for its type and dropped (docs/wire.md, "Process inspection"). A
 * malformed one is counted as malformed.
 */
static int on_process_report(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_process_report r;

	if (vigil_process_report_decode(f->payload, f->hdr.len, &r) < 0)
		return -EBADMSG;
	return isp_report(s, &r);
}

/* The dispatch table: guest-to-host types only; index = type. */
static const struct {
	handler_fn fn;
	bool output; /* delivered even with crc_ok false */
} dispatch[VIGIL_MSG_GUEST_TYPES] = {
	[VIGIL_MSG_HELLO] = { on_hello, false },
	[VIGIL_MSG_SYS_RDY] = { on_sys_rdy, false },
	[VIGIL_MSG_BEAT] = { on_beat, false },
	[VIGIL_MSG_FLOW] = { on_flow, false },
	[VIGIL_MSG_SCHED_EXIT] = { on_sched_exit, false },
	[VIGIL_MSG_SCENARIO_START] = { on_scenario, false },
	[VIGIL_MSG_SCENARIO_PAUSE] = { on_scenario, false },
	[VIGIL_MSG_SCENARIO_RESUME] = { on_scenario, false },
	[VIGIL_MSG_SCENARIO_END] = { on_scenario, false },
	[VIGIL_MSG_SNAPSHOT_REQUEST] = { on_snapshot_request, false },
	[VIGIL_MSG_STDOUT] = { on_output, true },
	[VIGIL_MSG_STDERR] = { on_output, true },
	[VIGIL_MSG_EXIT] = { on_workload_exit, false },
	[VIGIL_MSG_TEST_RESULT] = { on_test_result, false },
	[VIGIL_MSG_DMESG] = { on_output, true },
	[VIGIL_MSG_LOG] = { on_output, true },
	[VIGIL_MSG_PONG] = { on_pong, false },
	[VIGIL_MSG_AGENT_STATS] = { on_agent_stats, false },
	[VIGIL_MSG_PROCESS_REPORT] = { on_process_report, false },
};

/* The beat records a rejected BEAT frame carried (at least one). */
static void beats_rejected(struct vigil_session *s, const struct vigil_frame *f)
{
	uint32_t n = f->hdr.len / VIGIL_WIRE_BEAT_LEN;

	if (f->hdr.type == VIGIL_MSG_BEAT)
		trk_drop(s->trk, TRK_DROP_MALFORMED, n ? n : 1);
}

void dsp_frame(struct vigil_session *s, const struct vigil_frame *f)
{
	uint16_t type = f->hdr.type;
	int r;

	if (vigil_msg_to_guest(type)) {
		if (vigil_msg_name(type))
			s->c.wrong_direction++;
		else
			s->c.unknown_type++;
		return;
	}
	if (type >= VIGIL_MSG_GUEST_TYPES || !dispatch[type].fn) {
		s->c.unknown_type++;
		return;
	}
	s->c.type[type].frames++;
	if (!f->crc_ok && !dispatch[type].output) {
		s->c.type[type].crc_rejected++;
		beats_rejected(s, f);
		return;
	}
	r = dispatch[type].fn(s, f);
	if (r == -EBADMSG) {
		s->c.type[type].malformed++;
		beats_rejected(s, f);
	} else if (r > 0) {
		s->c.type[type].ignored++;
	}
}
