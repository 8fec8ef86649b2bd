/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/inspect.c and gstall.c through the session, with a
 * fake clock and a fake agent: INSPECT after a stall and its request
 * matching, the two samples and the STALL_CLASSIFIED event, the finding and
 * the summary line, epoch and link cancels, the rate and in-flight bounds,
 * on_stall fail's wait for the class, guest stalls (no answer, the agent's
 * own beat, whole-guest silence) folding process stalls, and host
 * starvation taking precedence.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#define MS 1000000ull
#define S  1000000000ull
#define T0 (1000 * S)

/* ---- the fake agent and sink ------------------------------------------- */

struct fx {
	struct vigil_session *s;
	struct vigil_session_opts o;
	uint32_t seq;
	uint64_t at; /* ns since T0 */
	/* INSPECTs the session sent, in order */
	struct vigil_asm tx;
	struct vigil_inspect rq[64];
	uint32_t n_rq;
	uint64_t ping_token;
	uint32_t pings;
	/* events */
	uint32_t count[VIGIL_EV__COUNT];
	struct vigil_stall_info cls[8]; /* STALL_CLASSIFIED infos, copied */
	uint32_t n_cls;
	/* progress probe */
	bool probe;
	uint64_t cpu_ns;
};

static void sink(void *ctx, const struct vigil_event *ev)
{
	struct fx *f = ctx;

	f->count[ev->type]++;
	if (ev->type == VIGIL_EV_STALL_CLASSIFIED && f->n_cls < 8)
		f->cls[f->n_cls++] = *ev->classified.info;
}

static int writer(void *ctx, const uint8_t *buf, size_t len)
{
	struct fx *f = ctx;
	struct vigil_frame fr;

	vigil_asm_push(&f->tx, buf, len);
	while (vigil_asm_next(&f->tx, &fr) > 0) {
		if (fr.hdr.type == VIGIL_MSG_INSPECT && f->n_rq < 64)
			assert_int_equal(
			    vigil_inspect_decode(fr.payload, fr.hdr.len, &f->rq[f->n_rq++]), 0);
		if (fr.hdr.type == VIGIL_MSG_PING) {
			assert_int_equal(vigil_ping_decode(fr.payload, fr.hdr.len, &f->ping_token),
					 0);
			f->pings++;
		}
	}
	return 0;
}

static int probe(void *ctx, uint64_t *cpu)
{
	struct fx *f = ctx;

	*cpu = f->cpu_ns;
	return 0;
}

static struct fx *fx_new(void (*tune)(struct vigil_session_opts *o), bool with_probe)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vigil_session_hooks h = { .sink = { sink, f }, .writer = { writer, f } };

	assert_non_null(f);
	vigil_session_opts_default(&f->o);
	f->o.ping_interval_ns = 0;
	f->o.mode = VIGIL_MODE_WATCH;
	f->o.stall_threshold_ns = 1 * S;
	if (tune)
		tune(&f->o);
	if (with_probe)
		h.progress = (struct vigil_progress_probe){ probe, f };
	f->probe = with_probe;
	vigil_asm_init(&f->tx);
	assert_int_equal(vigil_session_new(&f->o, &h, T0, &f->s), 0);
	vigil_session_link_up(f->s, T0);
	return f;
}

static void fx_free(struct fx *f)
{
	vigil_session_free(f->s);
	free(f);
}

static uint8_t fb[VIGIL_WIRE_MAX_FRAME];
#define PL   (fb + VIGIL_WIRE_HDR_LEN)
#define PCAP (sizeof(fb) - VIGIL_WIRE_HDR_LEN)

static void send_frame(struct fx *f, uint16_t type, int plen)
{
	int n;

	assert_true(plen >= 0);
	n = vigil_frame_seal(fb, sizeof(fb), type, f->seq++, (size_t)plen);
	assert_true(n > 0);
	assert_true(vigil_session_feed(f->s, fb, (size_t)n, T0 + f->at) >= 0);
}

/* HELLO (new epoch) with capabilities and vigil's agent pid addition. */
static void hello(struct fx *f, uint32_t caps, uint32_t agent_pid)
{
	struct vigil_hello h = { .proto_version = 1,
				 .capabilities = caps,
				 .agent_version = VIGIL_STR("t"),
				 .kernel_release = VIGIL_STR("k"),
				 .hostname = VIGIL_STR("g") };

	f->seq = 0;
	send_frame(f, VIGIL_MSG_HELLO, vigil_hello_encode_agent_pid(PL, PCAP, &h, agent_pid));
}

static void beat(struct fx *f, uint32_t pid, uint64_t nonce, uint32_t deadline_ms)
{
	struct vigil_beat b = { .pid = pid, .nonce = nonce, .deadline_ms = deadline_ms };

	send_frame(f, VIGIL_MSG_BEAT, vigil_beats_encode(PL, PCAP, &b, 1));
}

static void pong(struct fx *f)
{
	struct vigil_pong p = { .token = f->ping_token, .guest_mono_ns = 1 };

	send_frame(f, VIGIL_MSG_PONG, vigil_pong_encode(PL, PCAP, &p));
}

/* A report for request i of the ones sent, with the given sample. */
static void report(struct fx *f, uint32_t i, const struct vigil_process_report *tmpl)
{
	struct vigil_process_report r = *tmpl;

	assert_true(i < f->n_rq);
	r.request_id = f->rq[i].request_id;
	r.pid = f->rq[i].pid;
	send_frame(f, VIGIL_MSG_PROCESS_REPORT, vigil_process_report_encode(PL, PCAP, &r));
}

/* Move the clock to at (ms since T0) in 10 ms ticks. */
static void run_to(struct fx *f, uint64_t at_ms)
{
	while (f->at < at_ms * MS) {
		f->at += 10 * MS;
		if (f->probe)
			f->cpu_ns += 10 * MS; /* a busy vCPU: never starved */
		vigil_session_tick(f->s, T0 + f->at);
	}
}

static const struct vigil_verdict *finish(struct fx *f)
{
	return vigil_session_finish(f->s, T0 + f->at);
}

static const struct vigil_finding *only_finding(const struct vigil_verdict *v,
						enum vigil_outcome oc)
{
	const struct vigil_finding *got = NULL;

	for (uint32_t i = 0; i < v->n_findings; i++) {
		if (v->findings[i].outcome != oc)
			continue;
		assert_null(got);
		got = &v->findings[i];
	}
	assert_non_null(got);
	return got;
}

static uint32_t findings_of(const struct vigil_verdict *v, enum vigil_outcome oc)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < v->n_findings; i++)
		n += v->findings[i].outcome == oc;
	return n;
}

static const struct vigil_process_report runnable_a = {
	.state = 'R',
	.policy = VIGIL_POLICY_EXT,
	.run_ns = 5 * MS,
	.wait_ns = 1 * MS,
	.comm = VIGIL_STR("stress-worker"),
};
static const struct vigil_process_report runnable_b = {
	.state = 'R',
	.policy = VIGIL_POLICY_EXT,
	.run_ns = 5 * MS,
	.wait_ns = 100 * MS,
	.comm = VIGIL_STR("stress-worker"),
};
static const struct vigil_process_report sleeping = {
	.state = 'S',
	.comm = VIGIL_STR("sleepy"),
	.wchan = VIGIL_STR("do_nanosleep"),
	.stack = VIGIL_STR("[<0>] do_nanosleep+0x6e/0x150\n[<0>] hrtimer_nanosleep+0xa3/0x160\n"),
};

/* pid 84 beats once at 0 with a 1 s deadline and stalls at 1 s. */
static void stall_84(struct fx *f)
{
	beat(f, 84, 1, 1000);
	run_to(f, 1000);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
}

/* ---- classification ---------------------------------------------------- */

static void test_runnable_two_samples(void **state)
{
	struct fx *f = fx_new(NULL, false);
	char line[512];

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	stall_84(f);
	assert_int_equal(f->n_rq, 1);
	assert_int_equal(f->rq[0].pid, 84);
	run_to(f, 1020);
	report(f, 0, &runnable_a);
	run_to(f, 1110);
	assert_int_equal(f->n_rq, 1); /* the second waits 100 ms of runnable time */
	run_to(f, 1120);
	assert_int_equal(f->n_rq, 2);
	assert_int_equal(f->rq[1].pid, 84);
	assert_int_not_equal(f->rq[1].request_id, f->rq[0].request_id);
	run_to(f, 1130);
	report(f, 1, &runnable_b);
	assert_int_equal(f->n_cls, 1);
	assert_int_equal(f->cls[0].cls, VIGIL_STALL_RUNNABLE);
	assert_int_equal(f->cls[0].pid, 84);
	assert_int_equal(f->cls[0].n_samples, 2);
	assert_int_equal(f->cls[0].sampled_ns, 110 * MS);

	const struct vigil_verdict *v = finish(f);
	const struct vigil_finding *p = only_finding(v, VIGIL_OUTCOME_PROCESS_STALL);

	assert_int_equal(p->stall_class, VIGIL_STALL_RUNNABLE);
	assert_non_null(p->stall);
	assert_int_equal(p->stall->sample[1].wait_ns, 100 * MS);
	assert_int_equal(v->counters->inspect.sent, 2);
	assert_int_equal(v->counters->inspect.reports, 2);
	assert_int_equal(v->counters->inspect.classified, 1);
	/* not fatal under warn: the summary names the class among the stalls */
	vigil_verdict_summary(v, line, sizeof(line));
	assert_non_null(strstr(line, "pid 84, runnable, not recovered"));
	fx_free(f);
}

static void tune_fail(struct vigil_session_opts *o)
{
	o->on_stall = VIGIL_ON_STALL_FAIL;
}

/* on_stall fail: the run waits for the class, and the summary says it. */
static void test_fail_waits_for_class(void **state)
{
	struct fx *f = fx_new(tune_fail, false);
	char line[512];

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	stall_84(f);
	assert_int_equal(vigil_session_ended(f->s), 0);
	report(f, 0, &runnable_a);
	run_to(f, 1100);
	f->at += 9 * MS; /* 99 ms of wait in 109 ms sampled */
	report(f, 1, &runnable_b);
	assert_int_equal(vigil_session_ended(f->s), 1);

	const struct vigil_verdict *v = finish(f);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_PROCESS_STALL);
	assert_int_equal(vigil_verdict_exit_code(v), 121);
	vigil_verdict_summary(v, line, sizeof(line));
	assert_non_null(strstr(line, "process 84 (stress-worker) stalled 1.0 s: runnable, not "
				     "scheduled in the 109 ms sampled (wait +99 ms, run +0) on cpu "
				     "0, policy EXT"));
	fx_free(f);
}

/* on_stall fail waits at most 1.1 s: a first answer that comes late. */
static void test_fail_wait_bounded(void **state)
{
	struct fx *f = fx_new(tune_fail, false);

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	stall_84(f);
	run_to(f, 1950);
	report(f, 0, &sleeping); /* inside the 1 s answer time */
	run_to(f, 2090);
	assert_int_equal(vigil_session_ended(f->s), 0);
	run_to(f, 2110);
	assert_int_equal(vigil_session_ended(f->s), 1);
	assert_int_equal(f->n_cls, 0);

	const struct vigil_verdict *v = finish(f);

	assert_int_equal(only_finding(v, VIGIL_OUTCOME_PROCESS_STALL)->stall_class,
			 VIGIL_STALL_UNCLASSIFIED);
	fx_free(f);
}

/* No INSPECT without capability bit 6; under fail the run ends at once. */
static void test_no_capability(void **state)
{
	struct fx *f = fx_new(tune_fail, false);

	(void)state;
	hello(f, 0x1f, 0);
	stall_84(f);
	assert_int_equal(f->n_rq, 0);
	assert_int_equal(vigil_session_ended(f->s), 1);
	fx_free(f);
}

/* Sleeping: the stack and wchan become the finding's evidence. */
static void test_sleeping_evidence(void **state)
{
	struct fx *f = fx_new(tune_fail, false);
	const struct vigil_evidence *ev;
	char line[512];

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	stall_84(f);
	report(f, 0, &sleeping);
	run_to(f, 1100);
	report(f, 1, &sleeping);

	const struct vigil_verdict *v = finish(f);

	assert_int_equal(v->primary->stall_class, VIGIL_STALL_SLEEPING);
	assert_int_equal(
	    vigil_verdict_finding_evidence(v, (uint32_t)(v->primary - v->findings), &ev), 3);
	assert_string_equal(ev[0].line, "wchan do_nanosleep");
	assert_string_equal(ev[1].line, "[<0>] do_nanosleep+0x6e/0x150");
	vigil_verdict_summary(v, line, sizeof(line));
	assert_non_null(strstr(line, "process 84 (sleepy) stalled 1.0 s: sleeping (S) in "
				     "do_nanosleep: it stopped beating on its own"));
	fx_free(f);
}

/* -ESRCH in the first answer decides at once: gone, no second INSPECT. */
static void test_gone_first(void **state)
{
	struct fx *f = fx_new(NULL, false);
	struct vigil_process_report gone = { .status = -ESRCH };

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	stall_84(f);
	report(f, 0, &gone);
	run_to(f, 1500);
	assert_int_equal(f->n_rq, 1);
	assert_int_equal(f->n_cls, 1);
	assert_int_equal(f->cls[0].cls, VIGIL_STALL_GONE);
	fx_free(f);
}

/* ---- request matching -------------------------------------------------- */

static void test_matching(void **state)
{
	struct fx *f = fx_new(NULL, false);
	struct vigil_process_report r = sleeping;
	VIGIL_SESSION_COUNTERS(c);

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	stall_84(f);
	/* an id never sent, then the right id with another pid: unmatched */
	r.request_id = f->rq[0].request_id + 100;
	r.pid = 84;
	send_frame(f, VIGIL_MSG_PROCESS_REPORT, vigil_process_report_encode(PL, PCAP, &r));
	r.request_id = f->rq[0].request_id;
	r.pid = 85;
	send_frame(f, VIGIL_MSG_PROCESS_REPORT, vigil_process_report_encode(PL, PCAP, &r));
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.type[VIGIL_MSG_PROCESS_REPORT].ignored, 2);
	assert_int_equal(c.inspect.reports, 0);
	/* the right one matches; the same again is unmatched: it ended */
	report(f, 0, &sleeping);
	report(f, 0, &sleeping);
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.reports, 1);
	assert_int_equal(c.type[VIGIL_MSG_PROCESS_REPORT].ignored, 3);
	fx_free(f);
}

/* A new epoch cancels the requests in flight: their answers are unmatched. */
static void test_epoch_cancels(void **state)
{
	struct fx *f = fx_new(NULL, false);
	VIGIL_SESSION_COUNTERS(c);

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	stall_84(f);
	hello(f, VIGIL_CAP_INSPECT, 0);
	report(f, 0, &sleeping);
	run_to(f, 3500); /* no guest stall: nothing is waited for */
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.cancelled, 1);
	assert_int_equal(c.inspect.reports, 0);
	assert_int_equal(c.type[VIGIL_MSG_PROCESS_REPORT].ignored, 1);
	assert_int_equal(c.inspect.guest_stalls, 0);
	assert_int_equal(f->n_rq, 1);
	fx_free(f);
}

/* Unanswered requests end after 2 s of runnable time; a VM stop holds it. */
static void test_request_timeout(void **state)
{
	struct fx *f = fx_new(NULL, false);
	VIGIL_SESSION_COUNTERS(c);

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	stall_84(f);
	vigil_session_vm_stopped(f->s, T0 + f->at);
	f->at += 10 * S;
	vigil_session_vm_resumed(f->s, T0 + f->at);
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.timeouts, 0);
	assert_int_equal(c.inspect.guest_stalls, 0);
	run_to(f, f->at / MS + 100);
	beat(f, 90, 1, 5000); /* the guest speaks: no guest stall, the job is unknown */
	run_to(f, f->at / MS + 1000);
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.guest_stalls, 0);
	assert_int_equal(f->n_cls, 1);
	assert_int_equal(f->cls[0].cls, VIGIL_STALL_UNKNOWN);
	run_to(f, f->at / MS + 1000);
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.timeouts, 1);
	fx_free(f);
}

static void tune_rate4(struct vigil_session_opts *o)
{
	o->inspect_rate_per_s = 4;
}

/* The rate bound: a stall costs two INSPECTs; the refused one is counted
 * and stays unclassified; the next second has room again. */
static void test_rate_bound(void **state)
{
	struct fx *f = fx_new(tune_rate4, false);
	VIGIL_SESSION_COUNTERS(c);

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	beat(f, 84, 1, 1000);
	beat(f, 85, 1, 1000);
	beat(f, 86, 1, 1000);
	run_to(f, 1000);
	assert_int_equal(f->count[VIGIL_EV_STALL], 3);
	assert_int_equal(f->n_rq, 2);
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.refused, 1);
	report(f, 0, &sleeping);
	report(f, 1, &sleeping);
	beat(f, 87, 1, 1000);
	run_to(f, 2010);
	assert_int_equal(f->count[VIGIL_EV_STALL], 4);
	assert_int_equal(f->rq[f->n_rq - 1].pid, 87);
	fx_free(f);
}

/* A pid that beats again stops its classification. */
static void test_recovery_stops(void **state)
{
	struct fx *f = fx_new(NULL, false);

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	stall_84(f);
	report(f, 0, &sleeping);
	beat(f, 84, 2, 1000);
	run_to(f, 1500);
	assert_int_equal(f->n_rq, 1);
	assert_int_equal(f->n_cls, 0);
	fx_free(f);
}

/* ---- guest stalls ------------------------------------------------------ */

/* Three stalls, no answers, nothing from the guest: one guest stall. */
static void test_no_answer_is_one_guest_stall(void **state)
{
	struct fx *f = fx_new(tune_fail, true);
	char line[512];

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	beat(f, 84, 1, 1000);
	beat(f, 85, 1, 1000);
	beat(f, 86, 1, 1200);
	run_to(f, 1990);
	assert_int_equal(vigil_session_ended(f->s), 0);
	run_to(f, 2000);
	assert_int_equal(vigil_session_ended(f->s), 1);
	assert_int_equal(f->count[VIGIL_EV_STALL], 3); /* emitted at once, as before */

	const struct vigil_verdict *v = finish(f);
	const struct vigil_finding *g = only_finding(v, VIGIL_OUTCOME_GUEST_STALL);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_GUEST_STALL);
	assert_int_equal(vigil_verdict_exit_code(v), 121);
	assert_int_equal(findings_of(v, VIGIL_OUTCOME_PROCESS_STALL), 0);
	assert_int_equal(g->stall_class, VIGIL_STALL_GUEST);
	assert_int_equal(g->stall->cause, VIGIL_GSTALL_NO_ANSWER);
	assert_int_equal(g->stall->folded, 3);
	assert_int_equal(g->stall->folded_pids[0], 84);
	assert_int_equal(g->stall->folded_pids[2], 86);
	assert_int_equal(v->counters->findings_dropped, 0);
	assert_int_equal(v->counters->inspect.guest_stalls, 1);
	vigil_verdict_summary(v, line, sizeof(line));
	assert_non_null(strstr(line, "GUEST_STALL"));
	assert_non_null(strstr(line, "the agent did not answer an INSPECT within 1 s (3 process "
				     "stalls folded in: 84, 85, 86)"));
	fx_free(f);
}

/* A stall after the guest stall folds into it; the guest speaking closes it. */
static void test_guest_stall_folds_later_and_closes(void **state)
{
	struct fx *f = fx_new(NULL, true);
	char line[512];

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	beat(f, 84, 1, 1000);
	beat(f, 85, 1, 2500);
	run_to(f, 2000);
	run_to(f, 2600);
	assert_int_equal(f->count[VIGIL_EV_STALL], 2);
	assert_int_equal(f->n_rq, 1); /* the later stall was not inspected */
	beat(f, 84, 2, 1000);

	const struct vigil_verdict *v = finish(f);
	const struct vigil_finding *g = only_finding(v, VIGIL_OUTCOME_GUEST_STALL);

	assert_int_equal(g->stall->folded, 2);
	assert_false(g->fatal);
	assert_true(g->recovered_ns > 0);
	assert_int_equal(findings_of(v, VIGIL_OUTCOME_PROCESS_STALL), 0);
	/* not fatal: listed as the guest's, with the pids folded into it */
	vigil_verdict_summary(v, line, sizeof(line));
	assert_non_null(strstr(line, "not fatal: 1 stall (the guest, pids 84, 85 folded in, "
				     "recovered after "));
	fx_free(f);
}

/* The host starved the guest: HOST_STARVED, not a guest stall. */
static void test_no_answer_host_starved(void **state)
{
	struct fx *f = fx_new(tune_fail, true);

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	beat(f, 84, 1, 1000);
	run_to(f, 1000);
	f->probe = false; /* the vCPUs stop getting CPU time */
	run_to(f, 2000);

	const struct vigil_verdict *v = finish(f);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_HOST_STARVED);
	assert_int_equal(findings_of(v, VIGIL_OUTCOME_GUEST_STALL), 0);
	fx_free(f);
}

/* The agent's own beat: never a process stall, whatever the threshold;
 * overdue while the guest is silent, a guest stall (84's stall folds in). */
static void test_agent_beat(void **state)
{
	struct fx *f = fx_new(NULL, true);
	VIGIL_SESSION_COUNTERS(c);
	char line[512];

	(void)state;
	hello(f, 0, 50);
	beat(f, 50, 1, 3000);
	beat(f, 84, 1, 0); /* the threshold (1 s) is 84's, not the agent's */
	run_to(f, 2990);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.guest_stalls, 0);
	run_to(f, 3000);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1); /* 50 raised none */
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.tracker.stalls, 1);
	assert_int_equal(c.inspect.guest_stalls, 1);
	assert_int_equal(f->n_cls, 1);
	assert_int_equal(f->cls[0].cls, VIGIL_STALL_GUEST);
	assert_int_equal(f->cls[0].cause, VIGIL_GSTALL_AGENT_BEAT);
	assert_int_equal(f->cls[0].folded, 1);
	assert_int_equal(f->cls[0].folded_pids[0], 84);
	beat(f, 50, 2, 3000); /* back: no recovery event for the agent's beat */
	assert_int_equal(f->count[VIGIL_EV_RECOVERY], 0);
	vigil_verdict_summary(finish(f), line, sizeof(line));
	assert_non_null(strstr(line, "not fatal: 1 stall (the guest, pid 84 folded in, recovered "
				     "after "));
	fx_free(f);
}

/* The agent's beat overdue while other frames still come: the agent runs,
 * no guest stall. */
static void test_agent_beat_while_heard(void **state)
{
	struct fx *f = fx_new(NULL, true);
	VIGIL_SESSION_COUNTERS(c);

	(void)state;
	hello(f, 0, 50);
	beat(f, 50, 1, 3000);
	for (uint64_t t = 0; t < 3500; t += 500) {
		run_to(f, t);
		beat(f, 84, t + 1, 0);
	}
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.guest_stalls, 0);
	assert_int_equal(c.tracker.stalls, 0);
	fx_free(f);
}

static void tune_pings(struct vigil_session_opts *o)
{
	o->ping_interval_ns = 200 * MS;
	o->stall_threshold_ns = 2 * S;
}

/* Whole-guest silence: nothing at all while PINGs go unanswered. */
static void test_whole_guest_silence(void **state)
{
	struct fx *f = fx_new(tune_pings, true);
	VIGIL_SESSION_COUNTERS(c);

	(void)state;
	hello(f, 0, 0);
	for (uint64_t t = 0; t < 3000; t += 200) {
		run_to(f, t);
		pong(f); /* answered: alive */
	}
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.guest_stalls, 0);
	/* the last PONG came at 2.8 s: silence from then, the threshold */
	run_to(f, 4790);
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.guest_stalls, 0);
	run_to(f, 4810);
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.guest_stalls, 1);
	assert_int_equal(f->cls[0].cause, VIGIL_GSTALL_SILENCE);
	fx_free(f);
}

/* Without PINGs the host expects nothing: silence is no guest stall. */
static void test_silence_without_pings(void **state)
{
	struct fx *f = fx_new(NULL, true);
	VIGIL_SESSION_COUNTERS(c);

	(void)state;
	hello(f, 0, 0);
	run_to(f, 20000);
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.guest_stalls, 0);
	fx_free(f);
}

/* A link loss cancels the requests; no guest stall while it is down. */
static void test_link_down_cancels(void **state)
{
	struct fx *f = fx_new(NULL, true);
	VIGIL_SESSION_COUNTERS(c);

	(void)state;
	hello(f, VIGIL_CAP_INSPECT, 0);
	stall_84(f);
	vigil_session_link_down(f->s, T0 + f->at);
	run_to(f, 4000);
	vigil_session_counters(f->s, &c);
	assert_int_equal(c.inspect.cancelled, 1);
	assert_int_equal(c.inspect.guest_stalls, 0);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runnable_two_samples),
		cmocka_unit_test(test_fail_waits_for_class),
		cmocka_unit_test(test_fail_wait_bounded),
		cmocka_unit_test(test_no_capability),
		cmocka_unit_test(test_sleeping_evidence),
		cmocka_unit_test(test_gone_first),
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_epoch_cancels),
		cmocka_unit_test(test_request_timeout),
		cmocka_unit_test(test_rate_bound),
		cmocka_unit_test(test_recovery_stops),
		cmocka_unit_test(test_no_answer_is_one_guest_stall),
		cmocka_unit_test(test_guest_stall_folds_later_and_closes),
		cmocka_unit_test(test_no_answer_host_starved),
		cmocka_unit_test(test_agent_beat),
		cmocka_unit_test(test_agent_beat_while_heard),
		cmocka_unit_test(test_whole_guest_silence),
		cmocka_unit_test(test_silence_without_pings),
		cmocka_unit_test(test_link_down_cancels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
