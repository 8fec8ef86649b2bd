/* SPDX-License-Identifier: MIT */
/*
 * The per-guest session: its life cycle, clocks, feed and tick, the
 * timeouts on runnable and host time, the link and its pings, tracker
 * events and stall findings, findings,
 * counters and the verdict. Frames go through dispatch.c; scenarios, the
 * workload watchdog, the snapshot protocol and evidence have their own
 * files (session.h lists them).
 *
 * Owns every table of one guest, sized by vigil_session_new() from the
 * options: the assembler (one frame, ~64 KiB), the tracker, the flow table,
 * scenarios, test results, the findings and their evidence pool, the line
 * rings (evidence.c), the progress samples and one host-to-guest frame
 * buffer. Nothing on the feed/tick paths allocates, formats or blocks;
 * strings from the guest are copied with a bound and cut ones are counted.
 *
 * Expected load: one guest per session; up to tens of millions of beat
 * records per second through feed() in benchmarks, far less in practice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "session.h"

#define SES_STALL_FINDINGS 16u /* stall findings kept (one per stall episode) */

/* ---- small helpers ----------------------------------------------------- */

bool vigil__copy_text(char *dst, size_t cap, const void *src, size_t len)
{
	bool cut = false;

	if (cap == 0)
		return len > 0;
	if (len > cap - 1) {
		len = cap - 1;
		cut = true;
	}
	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (dst[i] == '\0')
			dst[i] = '?';
	return cut;
}

void ses_copy_str(struct vigil_session *s, char *dst, size_t cap, struct vigil_str str)
{
	if (vigil__copy_text(dst, cap, str.ptr, str.len))
		s->c.strings_truncated++;
}

uint64_t ses_stamp(const struct vigil_session *s)
{
	return s->now > s->t0 ? s->now - s->t0 : 1;
}

bool ses_held(const struct vigil_session *s)
{
	return s->vm_stopped || s->host_paused;
}

uint64_t ses_rt_now(const struct vigil_session *s)
{
	if (ses_held(s))
		return s->stopped_at - s->stopped_total;
	return s->now - s->stopped_total;
}

/* Host time of a runnable-time deadline; NONE while the VM is stopped. */
static uint64_t rt_to_host(const struct vigil_session *s, uint64_t rt)
{
	if (ses_held(s) || rt == VIGIL_DEADLINE_NONE)
		return VIGIL_DEADLINE_NONE;
	return rt + s->stopped_total;
}

void ses_clock_in(struct vigil_session *s, uint64_t now_ns)
{
	if (now_ns < s->now)
		s->c.clock_regressions++;
	else
		s->now = now_ns;
}

void ses_emit(struct vigil_session *s, struct vigil_event *ev)
{
	if (!s->h.sink.event)
		return;
	ev->sz = sizeof(*ev);
	ev->now_ns = s->now;
	ev->t_ns = s->now - s->t0;
	ses_cb_enter(s);
	s->h.sink.event(s->h.sink.ctx, ev);
	ses_cb_leave(s);
}

int ses_gate(const struct vigil_session *s)
{
	if (s->cb_depth)
		return -EBUSY;
	if (s->finished)
		return -ESHUTDOWN;
	return 0;
}

static void emit_simple(struct vigil_session *s, enum vigil_event_type type)
{
	struct vigil_event ev = { .type = type };

	ses_emit(s, &ev);
}

/* ---- findings ---------------------------------------------------------- */

uint32_t ses_finding_add(struct vigil_session *s, const struct ses_finding_in *in)
{
	struct vigil_finding *f;
	uint32_t id = 0;

	if (s->finished)
		return 0;
	f = fnd_add(&s->fnd, in->oc, in->fatal, &id);
	if (f) {
		f->t_ns = s->now - s->t0;
		f->status = in->status;
		f->kind = in->kind;
		f->pid = in->pid;
		f->silence_ns = in->silence;
		if (in->detail)
			vigil__copy_text(f->detail, sizeof(f->detail), in->detail, in->detail_len);

		struct vigil_event ev = { .type = VIGIL_EV_FINDING, .finding.finding = f };

		ses_emit(s, &ev);
	}
	if (in->ends)
		s->ended = true;
	return f ? id : 0;
}

uint32_t ses_finding_text(struct vigil_session *s, enum vigil_outcome oc, const char *text,
			  bool ends)
{
	struct ses_finding_in in = { .oc = oc,
				     .detail = text,
				     .detail_len = text ? strlen(text) : 0,
				     .fatal = true,
				     .ends = ends };

	return ses_finding_add(s, &in);
}

bool ses_line_to(struct vigil_session *s, uint32_t id, uint16_t source, const void *text,
		 size_t len)
{
	return fnd_line(&s->fnd, id, s->now - s->t0, source, text, len);
}

/* ---- host-to-guest frames and pings ------------------------------------ */

int ses_tx_send(struct vigil_session *s, uint16_t type, int plen)
{
	int n;
	int r;

	if (plen < 0) {
		s->c.tx_errors++;
		return plen;
	}
	n = vigil_frame_seal(s->tx, sizeof(s->tx), type, s->tx_seq, (size_t)plen);
	if (n < 0) {
		s->c.tx_errors++;
		return n;
	}
	if (!s->h.writer.write)
		return -ENOTCONN; /* an observer: it sends nothing, and that is no error */
	ses_cb_enter(s);
	r = s->h.writer.write(s->h.writer.ctx, s->tx, (size_t)n);
	ses_cb_leave(s);
	if (r < 0) {
		s->c.tx_errors++;
		return r;
	}
	s->tx_seq++;
	s->c.tx_frames++;
	s->c.tx_bytes += (uint64_t)n;
	return 0;
}

static void send_ping(struct vigil_session *s)
{
	uint64_t token = ++s->ping_token;
	struct ping_sent *slot = &s->pings[token % SES_PING_RING];

	if (ses_tx_send(s, VIGIL_MSG_PING,
			vigil_ping_encode(s->tx + VIGIL_WIRE_HDR_LEN,
					  sizeof(s->tx) - VIGIL_WIRE_HDR_LEN, token)) < 0)
		return;
	s->c.pings++;
	gst_ping_sent(s);
	slot->token = token;
	slot->sent_ns = s->now;
}

/* Pings need a writer: without one the session is an observer. */
static bool pings_on(const struct vigil_session *s)
{
	return s->o.ping_interval_ns && s->h.writer.write && s->link_up && !ses_held(s) &&
	       s->guest.have_hello && !s->finished;
}

void ses_pings_forget(struct vigil_session *s)
{
	memset(s->pings, 0, sizeof(s->pings));
}

int ses_pong(struct vigil_session *s, const struct vigil_pong *p)
{
	for (uint32_t i = 0; i < SES_PING_RING; i++) {
		struct ping_sent *ps = &s->pings[i];

		if (ps->token == 0 || ps->token != p->token)
			continue;
		uint64_t rtt = s->now - ps->sent_ns;

		ps->token = 0;
		s->c.pongs++;
		s->c.rtt_last_ns = rtt;
		if (!s->c.rtt_min_ns || rtt < s->c.rtt_min_ns)
			s->c.rtt_min_ns = rtt;
		if (rtt > s->c.rtt_max_ns)
			s->c.rtt_max_ns = rtt;

		struct vigil_event ev = { .type = VIGIL_EV_PONG };

		ev.pong.token = p->token;
		ev.pong.rtt_ns = rtt;
		ev.pong.guest_mono_ns = p->guest_mono_ns;
		ses_emit(s, &ev);
		return 0;
	}
	s->c.pong_unmatched++;
	return 1;
}

/* ---- tracker events ---------------------------------------------------- */

/*
 * One finding per stall episode while the run goes on: under on_stall FAIL
 * the first one is fatal (stall_begin ends the run); under WARN each is non-fatal (at most
 * SES_STALL_FINDINGS, the rest counted as findings_dropped). Its id, 0
 * when not kept.
 */
static uint32_t stall_finding(struct vigil_session *s, uint32_t pid, uint64_t silence, bool hs)
{
	static const char starved[] = "the vCPUs got no CPU time before the deadline";
	static const char stalled[] = "a tracked process missed its deadline";
	bool fail = s->o.on_stall == VIGIL_ON_STALL_FAIL;
	struct ses_finding_in in = {
		.oc = hs ? VIGIL_OUTCOME_HOST_STARVED : VIGIL_OUTCOME_PROCESS_STALL,
		.pid = pid,
		.silence = silence,
		.detail = hs ? starved : stalled,
		.detail_len = hs ? sizeof(starved) - 1 : sizeof(stalled) - 1,
		.fatal = fail,
	};
	uint32_t id;

	if (s->stall_findings >= SES_STALL_FINDINGS) {
		s->fnd.dropped++;
		return 0;
	}
	id = ses_finding_add(s, &in);
	if (id)
		s->stall_findings++;
	return id;
}

/*
 * A process stall, after its STALL event: folded into an open guest stall,
 * or a finding and, unless the host starved it, its classification. Under
 * on_stall FAIL the run ends now when no class can come, else when it
 * comes (at most ISP_FAIL_WAIT_NS later).
 */
static void stall_begin(struct vigil_session *s, uint32_t pid, uint64_t silence, bool hs)
{
	uint32_t id;

	if (!hs && gst_fold_new(s, pid))
		return;
	id = stall_finding(s, pid, silence, hs);
	if (hs || !isp_start(s, pid, id, silence)) {
		if (s->o.on_stall == VIGIL_ON_STALL_FAIL)
			s->ended = true;
	}
}

/* The last sample's wchan and kernel stack explain the class: evidence. */
static void stall_evidence(struct vigil_session *s, uint32_t id, const struct vigil_stall_info *in)
{
	const struct vigil_process_sample *x;
	char line[VIGIL_DETAIL_MAX];
	const char *p, *nl;
	int n;

	if (!in->n_samples || in->cls == VIGIL_STALL_GONE)
		return;
	x = &in->sample[in->n_samples - 1];
	if (x->wchan[0]) {
		n = snprintf(line, sizeof(line), "wchan %s", x->wchan);
		ses_line_to(s, id, VIGIL_MSG_PROCESS_REPORT, line, n > 0 ? (size_t)n : 0);
	}
	for (p = x->stack; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p) - 1;
		if (nl >= p &&
		    !ses_line_to(s, id, VIGIL_MSG_PROCESS_REPORT, p, (size_t)(nl - p + 1)))
			return; /* the pool is full: the rest would not fit either */
	}
}

void ses_stall_classified(struct vigil_session *s, uint32_t finding,
			  const struct vigil_stall_info *info)
{
	struct vigil_finding *f = fnd_get(&s->fnd, finding);
	struct vigil_event ev = { .type = VIGIL_EV_STALL_CLASSIFIED };

	if (f) {
		f->stall_class = info->cls;
		f->stall = info;
		stall_evidence(s, finding, info);
	}
	ev.classified.info = info;
	ses_emit(s, &ev);
}

/* A stalled pid beat again: its latest stall finding, if kept and not yet
 * recovered, records when and after how long. */
static void stall_recovered(struct vigil_session *s, uint32_t pid, uint64_t silence)
{
	isp_recovered(s, pid);
	for (uint32_t i = s->fnd.n; i-- > 0;) {
		struct vigil_finding *f = &s->fnd.f[i];

		if ((f->outcome != VIGIL_OUTCOME_PROCESS_STALL &&
		     f->outcome != VIGIL_OUTCOME_HOST_STARVED) ||
		    f->pid != pid)
			continue;
		if (!f->recovered_ns) {
			f->recovered_ns = ses_stamp(s);
			f->recovery_silence_ns = silence;
		}
		return;
	}
}

static void trk_event(void *ctx, enum trk_event tev, const struct trk_slot *sl, uint64_t now_rt,
		      uint64_t silence)
{
	struct vigil_session *s = ctx;
	struct vigil_event ev = { 0 };

	(void)now_rt;
	ev.process.pid = sl->pid;
	ev.process.origin = sl->origin;
	ev.process.status = sl->status;
	ev.process.pidns_inode = sl->pidns;
	ev.process.deadline_ns = sl->dl_ns;
	ev.process.silence_ns = silence;
	switch (tev) {
	case TRK_EV_NEW:
		ev.type = VIGIL_EV_PROCESS_NEW;
		break;
	case TRK_EV_RECOVERY:
		if (gst_is_agent(s, sl->pid))
			return; /* its stall was never a process's */
		ev.type = VIGIL_EV_RECOVERY;
		break;
	case TRK_EV_GONE_STOPPING:
		ev.type = VIGIL_EV_PROCESS_GONE;
		ev.process.gone = VIGIL_GONE_STOPPING;
		break;
	case TRK_EV_GONE_EVICTED:
		ev.type = VIGIL_EV_PROCESS_GONE;
		ev.process.gone = VIGIL_GONE_EVICTED;
		break;
	case TRK_EV_STALL:
		if (gst_is_agent(s, sl->pid)) {
			/* the agent's own beat: the guest's silence, not a process's */
			if (!s->ended)
				gst_agent_overdue(s, sl->last_ns, sl->dl_ns);
			return;
		}
		ev.type = VIGIL_EV_STALL;
		ev.process.host_starved = ses_host_starved(s, sl->last_ns, sl->dl_ns);
		if (ev.process.host_starved)
			trk_count_host_starved(s->trk);
		break;
	}
	ses_emit(s, &ev);
	if (tev == TRK_EV_STALL && !s->ended)
		stall_begin(s, sl->pid, silence, ev.process.host_starved);
	if (tev == TRK_EV_RECOVERY && !s->finished)
		stall_recovered(s, sl->pid, silence);
}

/* ---- public: feed, tick ------------------------------------------------ */

int vigil_session_feed(struct vigil_session *s, const uint8_t *buf, size_t len, uint64_t now_ns)
{
	struct vigil_frame f;
	int n = ses_gate(s);

	if (n < 0)
		return n;
	ses_clock_in(s, now_ns);
	if (len == 0)
		return 0;
	if (!s->tl.first_byte_ns) {
		s->tl.first_byte_ns = ses_stamp(s);
		emit_simple(s, VIGIL_EV_FIRST_BYTE);
	}
	gst_heard(s);
	vigil_asm_push(s->as, buf, len);
	while (vigil_asm_next(s->as, &f) > 0) {
		s->c.stream_acct.frame_bytes += VIGIL_WIRE_HDR_LEN + f.hdr.len;
		dsp_frame(s, &f);
		if (n < INT32_MAX)
			n++;
	}
	return n;
}

/* One ANOMALY event per reported counter that moved since the last report. */
static void anomalies_report(struct vigil_session *s)
{
	struct vigil_session_counters c;

	ses_counters(s, &c);
	for (uint32_t a = 0; a < CTR_ANOMALIES; a++) {
		const struct ctr_anomaly *an = &ctr_anomalies[a];
		uint64_t v = vigil_counter_value(&c, &ctr_descs[an->id]);

		if (v == s->anom_last[a])
			continue;
		struct vigil_event ev = { .type = VIGIL_EV_ANOMALY };

		ev.anomaly.counter = ctr_anomaly_name(an);
		ev.anomaly.delta = v - s->anom_last[a];
		ev.anomaly.total = v;
		s->anom_last[a] = v;
		ses_emit(s, &ev);
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The earliest pending deadline, host ns; it may lie before s->now (a ping
 * due since LINK_UP, when HELLO came later): the caller clamps. */
static uint64_t earliest_deadline(const struct vigil_session *s)
{
	uint64_t d = rt_to_host(s, trk_next(s->trk));

	if (s->boot_armed)
		d = min_u64(d, rt_to_host(s, s->boot_rt));
	d = min_u64(d, rt_to_host(s, wdg_deadline(s)));
	if (s->link_grace)
		d = min_u64(d, rt_to_host(s, s->link_lost_rt));
	if (s->run_armed)
		d = min_u64(d, s->run_deadline);
	if (pings_on(s))
		d = min_u64(d, s->ping_next);
	if (ses_probe_on(s) && !ses_held(s))
		d = min_u64(d, s->prog_next);
	d = min_u64(d, rt_to_host(s, isp_deadline(s)));
	d = min_u64(d, rt_to_host(s, gst_deadline(s)));
	return d;
}

uint64_t vigil_session_next_deadline(const struct vigil_session *s)
{
	uint64_t d;

	if (s->finished)
		return VIGIL_DEADLINE_NONE;
	d = earliest_deadline(s);
	/* Work already due is due now: never a time the caller has passed. */
	return d != VIGIL_DEADLINE_NONE && d < s->now ? s->now : d;
}

/* The timeouts on runnable time: boot, workload watchdog, link grace. */
static void runnable_timeouts(struct vigil_session *s, uint64_t now_rt)
{
	uint32_t id;

	if (s->boot_armed && now_rt >= s->boot_rt) {
		s->boot_armed = false;
		if (!s->ended) {
			ses_timeout_starved(s, s->boot_rt - s->o.boot_timeout_ns,
					    s->o.boot_timeout_ns,
					    "the vCPUs waited for the host's CPUs before the boot "
					    "timeout");
			id = ses_finding_text(s, VIGIL_OUTCOME_BOOT_TIMEOUT,
					      "no SYS_RDY within the boot timeout", true);
			evd_boot(s, id);
		}
	}
	wdg_check(s, now_rt);
	if (s->link_grace && now_rt >= s->link_lost_rt) {
		s->link_grace = false;
		if (!s->ended)
			ses_finding_text(s, VIGIL_OUTCOME_LINK_LOST,
					 "the guest link closed and did not come back", true);
	}
}

uint64_t vigil_session_tick(struct vigil_session *s, uint64_t now_ns)
{
	uint64_t now_rt;
	int r = ses_gate(s);

	if (r == -EBUSY)
		return vigil_session_next_deadline(s); /* from a callback: no work */
	if (r < 0)
		return VIGIL_DEADLINE_NONE;
	ses_clock_in(s, now_ns);
	if (s->last_next != VIGIL_DEADLINE_NONE && s->now > s->last_next &&
	    s->now - s->last_next > s->o.clock_jump_ns)
		s->c.clock_forward_jumps++;
	now_rt = ses_rt_now(s);

	if (ses_probe_on(s) && !ses_held(s) && s->now >= s->prog_next) {
		ses_probe_sample(s);
		s->prog_next = s->now + s->prog_period;
	}
	if (!ses_held(s))
		trk_expire(s->trk, now_rt);
	if (!s->finished && !ses_held(s)) {
		isp_tick(s, now_rt);
		gst_tick(s, now_rt);
		runnable_timeouts(s, now_rt);
	}
	if (s->run_armed && s->now >= s->run_deadline && !s->finished) {
		s->run_armed = false;
		if (!s->ended)
			ses_finding_text(s, VIGIL_OUTCOME_RUN_TIMEOUT,
					 "the run ran past its timeout", true);
	}
	if (s->ended) {
		/* Nothing more can end the run. */
		s->boot_armed = s->link_grace = s->run_armed = false;
		wdg_stop(s);
	}
	if (pings_on(s) && s->now >= s->ping_next) {
		send_ping(s);
		s->ping_next = s->now + s->o.ping_interval_ns;
	}
	if (s->now >= s->anom_next) {
		anomalies_report(s);
		s->anom_next = s->now + s->o.anomaly_interval_ns;
	}
	s->last_next = vigil_session_next_deadline(s);
	return s->last_next;
}

/* ---- public: runner notifications -------------------------------------- */

/* The runnable clock freezes (if it ran) for one more reason. */
static void clock_hold(struct vigil_session *s)
{
	if (!ses_held(s))
		s->stopped_at = s->now;
}

/* One reason less: when none is left the clock runs again. Returns the
 * frozen time that ends now (0 while another reason holds it). */
static uint64_t clock_release(struct vigil_session *s)
{
	uint64_t d;

	if (ses_held(s))
		return 0;
	d = s->now - s->stopped_at;
	s->stopped_total += d;
	/* Pings and samples taken across the freeze would mislead. */
	ses_pings_forget(s);
	s->prog_n = 0;
	return d;
}

int vigil_session_host_paused(struct vigil_session *s, uint64_t now_ns, bool paused)
{
	int r = ses_gate(s);

	if (r < 0)
		return r;
	ses_clock_in(s, now_ns);
	if (paused == s->host_paused)
		return 0;
	if (paused) {
		clock_hold(s);
		s->host_paused = true;
		s->host_paused_at = s->now;
		s->c.host_read_pauses++;
	} else {
		s->host_paused = false;
		s->c.host_read_paused_ns += s->now - s->host_paused_at;
		clock_release(s);
	}
	return 1;
}

int vigil_session_vm_stopped(struct vigil_session *s, uint64_t now_ns)
{
	int r = ses_gate(s);

	if (r < 0)
		return r;
	ses_clock_in(s, now_ns);
	if (s->vm_stopped)
		return 0;
	clock_hold(s);
	s->vm_stopped = true;
	s->vm_stopped_at = s->now;
	s->c.vm_stops++;

	struct vigil_event ev = { .type = VIGIL_EV_VM_STOPPED };

	ev.vm.total_stopped_ns = s->stopped_total;
	ses_emit(s, &ev);
	return 1;
}

int vigil_session_vm_resumed(struct vigil_session *s, uint64_t now_ns)
{
	uint64_t d;
	int r = ses_gate(s);

	if (r < 0)
		return r;
	ses_clock_in(s, now_ns);
	if (!s->vm_stopped)
		return 0;
	s->c.vm_stopped_ns += s->now - s->vm_stopped_at;
	d = s->now - s->vm_stopped_at;
	s->vm_stopped = false;
	clock_release(s);

	struct vigil_event ev = { .type = VIGIL_EV_VM_RESUMED };

	ev.vm.stopped_ns = d;
	ev.vm.total_stopped_ns = s->stopped_total;
	ses_emit(s, &ev);
	return 1;
}

int vigil_session_link_up(struct vigil_session *s, uint64_t now_ns)
{
	int r = ses_gate(s);

	if (r < 0)
		return r;
	ses_clock_in(s, now_ns);
	s->link_up = true;
	s->link_grace = false;
	s->c.link_ups++;
	if (!s->tl.link_up_ns)
		s->tl.link_up_ns = ses_stamp(s);
	s->ping_next = s->now;
	/* the guest's silence counts from the link's start */
	s->gst.heard_rt = ses_rt_now(s);
	s->gst.ping_rt = 0;
	emit_simple(s, VIGIL_EV_LINK_UP);
	return 0;
}

int vigil_session_link_down(struct vigil_session *s, uint64_t now_ns)
{
	int r = ses_gate(s);

	if (r < 0)
		return r;
	ses_clock_in(s, now_ns);
	s->c.stream_acct.held_dropped_bytes += vigil_asm_held(s->as);
	vigil_asm_reset(s->as);
	s->link_up = false;
	isp_cancel_all(s);
	s->c.link_downs++;
	if (!s->ended && s->o.link_grace_ns) {
		s->link_grace = true;
		s->link_lost_rt = ses_rt_now(s) + s->o.link_grace_ns;
	}
	emit_simple(s, VIGIL_EV_LINK_DOWN);
	return 0;
}

int vigil_session_harness_error(struct vigil_session *s, uint64_t now_ns, const char *msg)
{
	int r = ses_gate(s);

	if (r < 0)
		return r;
	ses_clock_in(s, now_ns);
	ses_finding_text(s, VIGIL_OUTCOME_HARNESS_ERROR, msg, true);
	return 0;
}

int vigil_session_request_shutdown(struct vigil_session *s, uint64_t now_ns)
{
	int r = ses_gate(s);

	if (r < 0)
		return r;
	ses_clock_in(s, now_ns);
	return ses_tx_send(
	    s, VIGIL_MSG_SHUTDOWN,
	    vigil_shutdown_encode(s->tx + VIGIL_WIRE_HDR_LEN, sizeof(s->tx) - VIGIL_WIRE_HDR_LEN));
}

int vigil_session_ended(const struct vigil_session *s)
{
	return s->ended || s->finished;
}

/* ---- counters and verdict ---------------------------------------------- */

void ses_counters(const struct vigil_session *s, struct vigil_session_counters *out)
{
	*out = s->c;
	out->sz = sizeof(*out);
	out->findings_dropped = s->fnd.dropped;
	out->evidence_dropped = s->fnd.lines_dropped;
	out->stream = *vigil_asm_stats(s->as);
	/* finish() counted what was held as dropped */
	out->stream_acct.held_bytes = s->finished ? 0 : vigil_asm_held(s->as);
	out->tracker = *trk_counters(s->trk);
	out->flows = *flows_counters(s->flows);
}

int vigil_session_counters(const struct vigil_session *s, struct vigil_session_counters *out)
{
	struct vigil_session_counters c;
	size_t n = out->sz < sizeof(c) ? out->sz : sizeof(c);

	if (out->sz < sizeof(out->sz))
		return -EINVAL;
	ses_counters(s, &c);
	/* the caller's prefix only, its sz kept */
	memcpy((unsigned char *)out + sizeof(out->sz), (const unsigned char *)&c + sizeof(c.sz),
	       n - sizeof(c.sz));
	return 0;
}

/*
 * Run mode: a run finished without the workload's EXIT (and nothing else
 * ended it) did not boot (BOOT_TIMEOUT, with the boot's lines); or, after
 * SYS_RDY, lost the workload: LINK_LOST when the link had closed and not
 * come back, else the caller stopped a run whose link was fine, which
 * nothing the session saw explains (HARNESS_ERROR). Both with the
 * workload's last output.
 */
static void finish_unexplained(struct vigil_session *s)
{
	if (s->o.mode != VIGIL_MODE_RUN || s->have_exit || s->ended)
		return;
	if (!s->ready_ever)
		evd_boot(s, ses_finding_text(s, VIGIL_OUTCOME_BOOT_TIMEOUT,
					     "the run ended before the guest was ready", true));
	else if (s->c.link_downs && !s->link_up)
		evd_output(s, ses_finding_text(s, VIGIL_OUTCOME_LINK_LOST,
					       "the guest link closed and the run was finished "
					       "before it came back or the workload reported its "
					       "exit",
					       true));
	else
		evd_output(s, ses_finding_text(s, VIGIL_OUTCOME_HARNESS_ERROR,
					       "the run was finished before the workload reported "
					       "its exit, with the guest link up",
					       true));
}

/* Fill the verdict from the finished session; its arrays point into it. */
static void verdict_fill(struct vigil_session *s, struct vigil_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->sz = sizeof(*v);
	v->primary = vigil__primary_finding(s->fnd.f, s->fnd.n);
	v->outcome = v->primary ? v->primary->outcome : VIGIL_OUTCOME_PASS;
	v->findings = s->fnd.f;
	v->n_findings = s->fnd.n;
	v->timeline = s->tl;
	v->guest = s->guest;
	v->have_exit = s->have_exit;
	v->exit_status = s->exit_status;
	v->exit_signal = s->exit_signal;
	v->have_sched_exit = s->have_sched_exit;
	v->sched_exit_code = s->sched_code;
	v->sched_exit_kind = s->sched_kind;
	memcpy(v->sched_exit_reason, s->sched_reason, sizeof(v->sched_exit_reason));
	v->scenarios = s->scn.list;
	v->n_scenarios = s->scn.n;
	v->tests = s->tests;
	v->n_tests = s->n_tests;
	memcpy(v->tests_by_outcome, s->tests_by_outcome, sizeof(v->tests_by_outcome));
	v->workload_run_ns = s->scn.run_total_ns;
	v->workload_pause_ns = s->scn.pause_all_ns;
	v->evidence = s->fnd.pool;
	v->n_evidence = s->fnd.used;
	ses_counters(s, &s->v_counters);
	v->counters = &s->v_counters;
	v->have_agent_stats = s->have_agent_stats;
	memcpy(v->agent_stats, s->agent_stats, sizeof(v->agent_stats));
}

const struct vigil_verdict *vigil_session_finish(struct vigil_session *s, uint64_t now_ns)
{
	if (s->finished)
		return &s->v;
	if (s->cb_depth)
		return NULL; /* from one of its own callbacks: refused */
	ses_clock_in(s, now_ns);
	if (s->vm_stopped)
		vigil_session_vm_resumed(s, s->now);
	if (s->host_paused)
		vigil_session_host_paused(s, s->now, false);
	scn_stop(s);
	finish_unexplained(s);
	/* the stream ends here: a frame not complete never will be */
	s->c.stream_acct.held_dropped_bytes += vigil_asm_held(s->as);
	s->finished = true;
	s->ended = true;
	s->tl.end_ns = s->now - s->t0;
	fnd_group(&s->fnd);
	verdict_fill(s, &s->v);

	struct vigil_event ev = { .type = VIGIL_EV_RUN_END, .run_end.verdict = &s->v };

	ses_emit(s, &ev);
	return &s->v;
}

struct foreach_ctx {
	uint64_t now_rt;
	int (*fn)(void *ctx, const struct vigil_process_info *p);
	void *ctx;
};

static int foreach_one(void *ctx, const struct trk_slot *sl)
{
	const struct foreach_ctx *fc = ctx;
	struct vigil_process_info p = {
		.sz = sizeof(p),
		.pid = sl->pid,
		.origin = sl->origin,
		.status = sl->status,
		.app_payload = sl->app_payload,
		.pidns_inode = sl->pidns,
		.beats = sl->beats,
		.last_nonce = sl->last_nonce,
		.deadline_ns = sl->dl_ns,
		.silence_ns = fc->now_rt > sl->last_ns ? fc->now_rt - sl->last_ns : 0,
		.stalled = sl->stalled,
	};

	return fc->fn(fc->ctx, &p);
}

int vigil_session_foreach_process(const struct vigil_session *s, uint64_t now_ns,
				  int (*fn)(void *ctx, const struct vigil_process_info *p),
				  void *ctx)
{
	struct foreach_ctx fc = { .fn = fn, .ctx = ctx };
	/* The session is the caller's (non-const) object; only the callback
	 * depth moves, so that fn cannot change the table it walks. */
	struct vigil_session *w = (struct vigil_session *)s;
	int r;

	if (now_ns < s->now)
		now_ns = s->now;
	fc.now_rt = ses_held(s) ? s->stopped_at - s->stopped_total : now_ns - s->stopped_total;
	ses_cb_enter(w);
	r = trk_foreach(s->trk, foreach_one, &fc);
	ses_cb_leave(w);
	return r;
}

/* ---- life cycle -------------------------------------------------------- */

void vigil_session_opts_default(struct vigil_session_opts *o)
{
	VIGIL_SESSION_OPTS(d, .sz = sizeof(struct vigil_session_opts));

	*o = d;
}

/*
 * The struct ends with its last field: a field added later lies past an
 * older library's sizeof, in the tail that library checks is zero. Adding
 * a field means naming it here.
 */
_Static_assert(sizeof(struct vigil_session_opts) ==
		   offsetof(struct vigil_session_opts, reserved) + sizeof(uint32_t),
	       "struct vigil_session_opts has trailing padding");

#define DAY_NS (24 * 3600 * NSEC_PER_SEC)

/* The first refused field's name among the tracker's, or NULL. */
static const char *opts_bad_tracker(const struct vigil_session_opts *o)
{
	if (o->mode != VIGIL_MODE_RUN && o->mode != VIGIL_MODE_WATCH)
		return "mode";
	if (o->tracker_capacity < 1 || o->tracker_capacity > VIGIL_TRACKER_MAX_CAPACITY)
		return "tracker_capacity";
	if (o->probe_budget < 1 || o->probe_budget > TRK_MAX_PROBE_BUDGET)
		return "probe_budget";
	if (o->eviction != VIGIL_EVICT_STRICT && o->eviction != VIGIL_EVICT_BALANCED)
		return "eviction";
	if (o->eviction_window < 1)
		return "eviction_window";
	/* 24 h keeps 10 x threshold and deadline sums far from overflow */
	if (o->stall_threshold_ns < 1 || o->stall_threshold_ns > DAY_NS)
		return "stall_threshold_ns";
	if (o->deadline_min_ns > o->deadline_max_ns)
		return "deadline_min_ns";
	if (o->deadline_max_ns > DAY_NS)
		return "deadline_max_ns";
	if (o->pid_min_interval_ns > VIGIL_DURATION_MAX_NS)
		return "pid_min_interval_ns";
	if (o->beat_rate_per_s && o->beat_burst == 0)
		return "beat_burst";
	if (o->on_stall != VIGIL_ON_STALL_WARN && o->on_stall != VIGIL_ON_STALL_FAIL)
		return "on_stall";
	return NULL;
}

/* The first refused field's name among the others, or NULL. */
static const char *opts_bad_run(const struct vigil_session_opts *o)
{
	static const struct {
		size_t off;
		const char *name;
	} dur[] = {
#define D(f) { offsetof(struct vigil_session_opts, f), #f }
		D(boot_timeout_ns),     D(workload_duration_ns), D(run_timeout_ns),
		D(link_grace_ns),       D(ping_interval_ns),     D(progress_interval_ns),
		D(anomaly_interval_ns), D(clock_jump_ns),
#undef D
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(dur) / sizeof(dur[0]); i++) {
		memcpy(&v, (const char *)o + dur[i].off, sizeof(v));
		if (v > VIGIL_DURATION_MAX_NS)
			return dur[i].name;
	}
	if (o->progress_interval_ns < VIGIL_PROGRESS_INTERVAL_MIN_NS)
		return "progress_interval_ns";
	if (o->starved_permille > 1000)
		return "starved_permille";
	if (o->flow_capacity < 16 || o->flow_capacity > VIGIL_FLOWS_MAX_CAPACITY)
		return "flow_capacity";
	if (o->max_scenarios > 65536)
		return "max_scenarios";
	if (o->max_tests > 1u << 20)
		return "max_tests";
	if (o->evidence_lines > 4096)
		return "evidence_lines";
	if (o->fail_on & ~(((1u << VIGIL_KT__COUNT) - 1) & ~1u))
		return "fail_on"; /* an unknown kind, or VIGIL_KT_NONE */
	if (o->reserved)
		return "reserved";
	return NULL;
}

/* The caller's options over the defaults: its sz bytes, a larger struct's
 * unknown tail only when it is zero (a field this library does not know
 * must not be ignored). NULL, or the refused field's name. */
static const char *opts_take(const struct vigil_session_opts *opts, struct vigil_session_opts *o)
{
	const unsigned char *tail;
	const char *bad;
	size_t n;

	vigil_session_opts_default(o);
	if (!opts)
		return NULL;
	if (opts->sz < sizeof(size_t) || opts->sz > VIGIL_SESSION_OPTS_SZ_MAX)
		return "sz";
	n = opts->sz < sizeof(*o) ? opts->sz : sizeof(*o);
	tail = (const unsigned char *)opts + n;
	for (size_t i = 0; n + i < opts->sz; i++)
		if (tail[i])
			return "sz"; /* a field of a newer header, set */
	memcpy(o, opts, n);
	o->sz = sizeof(*o);
	bad = opts_bad_tracker(o);
	return bad ? bad : opts_bad_run(o);
}

int vigil_session_opts_check(const struct vigil_session_opts *opts, const char **field)
{
	struct vigil_session_opts o;
	const char *bad = opts_take(opts, &o);

	if (!bad)
		return 0;
	if (field)
		*field = bad;
	return -EINVAL;
}

/* The tables, sized from s->o. 0, -EINVAL or -ENOMEM. */
static int tables_new(struct vigil_session *s)
{
	const struct vigil_session_opts *o = &s->o;
	struct trk_opts to = {
		.capacity = o->tracker_capacity,
		.probe_budget = o->probe_budget,
		.eviction = o->eviction,
		.eviction_window = o->eviction_window,
		.threshold_ns = o->stall_threshold_ns,
		.dl_min_ns = o->deadline_min_ns,
		.dl_max_ns = o->deadline_max_ns,
		.min_interval_ns = o->pid_min_interval_ns,
	};
	int r = trk_new(&to, trk_event, s, &s->trk);

	if (r == 0)
		r = flows_new(o->flow_capacity, &s->flows);
	if (r < 0)
		return r;
	s->as = malloc(sizeof(*s->as));
	s->tests = calloc(o->max_tests ? o->max_tests : 1, sizeof(*s->tests));
	if (!s->as || !s->tests || scn_init(&s->scn, o->max_scenarios) < 0 || evd_init(s) < 0)
		return -ENOMEM;
	vigil_asm_init(s->as);
	return 0;
}

/* Clocks, the token bucket, the probe and the timeouts start at now_ns. */
static void clocks_start(struct vigil_session *s, uint64_t now_ns)
{
	const struct vigil_session_opts *o = &s->o;

	s->t0 = s->now = now_ns;
	s->last_next = VIGIL_DEADLINE_NONE;
	s->tb_cap = (uint64_t)o->beat_burst * NSEC_PER_SEC;
	s->tb_tokens = s->tb_cap;
	s->tb_last = now_ns;
	s->prog_next = now_ns;
	s->prog_period = o->progress_interval_ns;
	s->anom_next = now_ns + o->anomaly_interval_ns;
	isp_init(s);
	if (o->boot_timeout_ns && o->mode == VIGIL_MODE_RUN) {
		s->boot_armed = true;
		s->boot_rt = now_ns + o->boot_timeout_ns; /* rt starts equal to host time */
	}
	if (o->run_timeout_ns) {
		s->run_armed = true;
		s->run_deadline = now_ns + o->run_timeout_ns;
	}
}

int vigil_session_new(const struct vigil_session_opts *opts,
		      const struct vigil_session_hooks *hooks, uint64_t now_ns,
		      struct vigil_session **out)
{
	struct vigil_session_opts o;
	struct vigil_session *s;
	int r;

	if (opts_take(opts, &o))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = o;
	if (hooks)
		s->h = *hooks;
	r = tables_new(s);
	if (r < 0) {
		vigil_session_free(s);
		return r;
	}
	clocks_start(s, now_ns);
	*out = s;
	return 0;
}

void vigil_session_free(struct vigil_session *s)
{
	if (!s)
		return;
	trk_free(s->trk);
	flows_free(s->flows);
	free(s->as);
	free(s->tests);
	scn_fini(&s->scn);
	evd_fini(s);
	isp_fini(s);
	free(s);
}
