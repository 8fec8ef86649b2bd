/* SPDX-License-Identifier: MIT */
/*
 * Fault injection into `vigil watch`'s libvirt stream path
 * (host/cli/backend_libvirt.c, run unchanged): its virStream calls go to
 * fault_virt.h's stand-in over a socketpair whose other end is an honest
 * synthetic guest, its stream events through vigil's own loop as libvirt's
 * event implementation (host/loop/virtevent.c), the domain libvirt's own
 * (test:///default). fault.h says how the faults are injected, fault_fx.h
 * what a run is.
 *
 * The scenario, on a fake clock, with `vigil watch`'s session options: the
 * backend opens the channel; the guest sends HELLO, SYS_RDY and beats for
 * pids A and B every 200 ms (deadline 1 s), 290 KiB of STDOUT in frames
 * of up to 64 KiB (more than the bridge holds, VIRT_BRIDGE_BUF); then B
 * goes silent for 3.2 s (it stalls; PINGs go to the guest through
 * virStreamSend) and beats again (it recovers); a tail of beats; the
 * domain goes away (the run ends: PASS with B's stall).
 *
 * The countdown covers the host's own I/O calls (the loop's epoll_wait,
 * the guest port's recv/send, the bridge's read/write) and the stand-in's
 * (virDomainOpenChannel, virStreamRecv, virStreamSend, a stream event's
 * dispatch). Every run with a fault at call n (every n of the reference,
 * every fault that applies) must end:
 *   - EINTR, EAGAIN (-2 from libvirt), short counts: as the reference: the
 *     same events with their pids, every output byte, the channel held from
 *     start to end, opened once, never blind;
 *   - the channel lost (ECONNRESET, EPIPE on the bridge or the port; -1
 *     or 0 from virStreamRecv, -1 from virStreamSend, an ERROR or HANGUP
 *     event; virDomainOpenChannel refused): the documented handling: the
 *     channel closed with its reason in the status, the guest blind while
 *     it is closed (so no stall of A, which kept beating), the channel
 *     opened again after the retry's 1 s; then the reference's verdict and
 *     events (the link's and anomaly reports aside, and HELLO and READY
 *     when the HELLO was lost before the host got any frame); every STDOUT
 *     frame delivered whole, in order, or lost, and the seq accounting
 *     counting every frame lost: frames sent = frames delivered +
 *     lost_frames + those sent before the first frame the host got (which
 *     no seq can count: the host joined mid-stream);
 * and in every run: no crash, no hang (FFX_ITER_MAX turns a step), no
 * leak (ASan; every stream freed, every fd closed), no call libvirt would
 * refuse, "holding the channel" said exactly while it is held, no source
 * disabled by the loop, the last frame delivered (the guest's last words
 * are sent again after a channel lost late), and once the run is over no
 * call to the owner's ended() and no open. Cap: RUNS_MAX runs. Measured:
 * 327 calls, 1156 runs, 4.4 s (RelWithDebInfo).
 *
 * What it found in backend_libvirt.c: the reason of a stream error read
 * from libvirt's freed last error ("channel closed: " and nothing, or
 * garbage); the status left at "holding the channel" when the guest's
 * port closed; a run that was over still calling ended() (an RPC) and
 * opening the channel again.
 *
 * Before it: the retry's backoff while opens are refused, and --force.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "backend_libvirt.h"
#include "fault.h"
#include "fault_fx.h"
#include "fault_virt.h"
#include "qemu.h"
#include "virtevent.h"

#define RUNS_MAX    6000
#define PID_A       100 /* beats all along */
#define PID_B       200 /* silent for a while: stalls, recovers */
#define DEADLINE_MS 1000
#define STEP_MS     200
#define HOLDING     "holding the channel"
#define CLOSED      "channel closed: "
/* events a channel lost adds; those a HELLO lost with it takes away */
#define LINK_EVENTS                                                                                \
	(1ull << VIGIL_EV_LINK_UP | 1ull << VIGIL_EV_LINK_DOWN | 1ull << VIGIL_EV_ANOMALY)
#define HELLO_EVENTS (1ull << VIGIL_EV_HELLO | 1ull << VIGIL_EV_READY)

static virConnectPtr conn;
static virDomainPtr dom;

struct vrun {
	struct ffx x; /* first: the sinks' ctx is the run */
	struct vigil_virt_be *be;
	int chan;     /* the channel's host end, the stand-in's */
	uint64_t sig; /* what moved, for idle */
	/* what the run showed */
	unsigned ended, said;
	unsigned ended_end; /* ended before the domain went away */
	bool fired_end;     /* the fault came before the domain went away */
	uint64_t opens_end; /* opens before the domain went away */
	char said_last[300];
	unsigned status_bad;  /* "holding" said while not held, or the reverse, or no reason */
	char closed[200];     /* the last "channel closed: ..." status */
	char closed_end[200]; /* the same before the domain went away */
	bool holding_end;
	char status_end[200];
	uint32_t frames_sent;       /* all of the guest's frames (its seq) */
	uint32_t sent_before_first; /* frames sent before the turn the host got its first */
	struct vigil_session_counters c;
	struct fvirt_stats fv;
};

/* ---- the backend's owner, as fleet.c is ---------------------------------------------- */

static void on_say(void *ctx, const char *domain, const char *msg)
{
	struct vrun *r = ctx;

	(void)domain;
	r->said++;
	snprintf(r->said_last, sizeof(r->said_last), "%s", msg);
}

/* fleet.c's channel_ended asks libvirt whether the domain is still there;
 * like every libvirt call, that resets libvirt's last error. */
static void on_ended(void *ctx)
{
	int state = 0, reason = 0;

	((struct vrun *)ctx)->ended++;
	assert_int_equal(virDomainGetState(dom, &state, &reason, 0), 0);
	assert_int_equal(state, VIR_DOMAIN_RUNNING);
	virResetLastError();
	fvirt_reset_error();
}

static void check_status(struct vrun *r)
{
	const char *s = vigil_virt_be_status(r->be);
	bool held = vigil_virt_be_holding(r->be);

	if (held != (strcmp(s, HOLDING) == 0))
		r->status_bad++;
	if (strncmp(s, CLOSED, strlen(CLOSED)) == 0) {
		if (!s[strlen(CLOSED)])
			r->status_bad++; /* a reason lost on the way */
		snprintf(r->closed, sizeof(r->closed), "%s", s);
	}
}

static void virt_side(struct ffx *x)
{
	struct vrun *r = (struct vrun *)x;
	VIGIL_SESSION_COUNTERS(c);

	check_status(r);
	vigil_session_counters(vigil_guest_session(x->g), &c);
	if (c.stream.frames == 0)
		r->sent_before_first = x->tx.seq;
}

/* Nothing moved since the last turn: no byte through the stream or the
 * port, no dispatch, no open; and nothing the host sent left unread. */
static bool virt_idle(struct ffx *x)
{
	struct vrun *r = (struct vrun *)x;
	struct fvirt_stats s;
	uint64_t sig;
	bool same;

	fvirt_stats(&s);
	sig = s.recv_bytes * 31 + s.sent_bytes * 17 + s.dispatches * 7 + s.opens * 3 +
	      vigil_guest_rx_bytes(x->g) * 13 + x->tx.drained * 5;
	same = sig == r->sig;
	r->sig = sig;
	return same && ffx_unread(r->chan) <= 0;
}

static void virt_detach(struct ffx *x)
{
	(void)x;
	vigil_virt_event_detach();
}

static void run_open(struct vrun *r, bool force)
{
	VIGIL_SESSION_OPTS(so, .mode = VIGIL_MODE_WATCH, .progress_interval_ns = 1000000000ull);
	struct vigil_virt_be_cfg bc = {
		.dom = dom,
		.name = "g",
		.force = force,
		.say = on_say,
		.say_ctx = r,
		.ended = on_ended,
		.ended_ctx = r,
	};

	ffx_open_loop(&r->x);
	memset((char *)r + sizeof(r->x), 0, sizeof(*r) - sizeof(r->x));
	assert_int_equal(vigil_virt_event_register(r->x.l), 0);
	assert_int_equal(vigil_virt_be_new(r->x.l, &bc, &r->be), 0);
	ffx_open_guest(&r->x, vigil_virt_be_ops(r->be), r->be, &so, &r->chan);
	r->x.side = virt_side;
	r->x.idle = virt_idle;
	r->x.before_loop_free = virt_detach;
	fvirt_set_channel(VIGIL_PORT_NAME, r->chan);
	fvirt_set_vcpu_clock(&r->x.now);
	fvirt_reset();
}

static void run_start(struct vrun *r)
{
	fault_host(true);
	vigil_virt_be_start(r->be, r->x.g);
	fault_host(false);
}

static void run_close(struct vrun *r)
{
	check_status(r);
	r->frames_sent = r->x.tx.seq;
	r->c.sz = sizeof(r->c);
	assert_int_equal(vigil_session_counters(vigil_guest_session(r->x.g), &r->c), 0);
	ffx_close(&r->x);
	close(r->chan);
	fvirt_stats(&r->fv);
	fvirt_set_channel(NULL, -1);
	fvirt_set_vcpu_clock(NULL);
}

static void step(struct vrun *r, int phase, uint64_t ms)
{
	r->x.now += ms * FFX_MS;
	ffx_settle(&r->x, phase);
}

/* The domain goes away (fleet.c's run_end): the run ends. What the
 * backend showed until then is kept: the guest's port closing at the end
 * closes the channel too. */
static void run_end(struct vrun *r, int phase)
{
	check_status(r);
	r->holding_end = vigil_virt_be_holding(r->be);
	snprintf(r->status_end, sizeof(r->status_end), "%s", vigil_virt_be_status(r->be));
	snprintf(r->closed_end, sizeof(r->closed_end), "%s", r->closed);
	r->ended_end = r->ended;
	r->fired_end = fault_fired();
	fvirt_stats(&r->fv);
	r->opens_end = r->fv.opens;
	ffx_end(&r->x);
	ffx_settle(&r->x, phase);
	step(r, phase, 2500); /* until the owner frees it, no retry of a run over */
}

static void beats(struct vrun *r, bool b)
{
	ffx_beat(&r->x, PID_A, DEADLINE_MS);
	if (b)
		ffx_beat(&r->x, PID_B, DEADLINE_MS);
}

static void scenario(struct vrun *r)
{
	static const size_t out[] = { 1000, 65536, 30000, 65536, 65536, 200, 65536 };

	run_open(r, false);
	run_start(r);
	ffx_hello(&r->x);
	beats(r, true);
	ffx_settle(&r->x, 0);
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		ffx_stdout(&r->x, out[i]);
		beats(r, true);
		step(r, 1, STEP_MS);
	}
	for (int i = 0; i < 8; i++) { /* B is silent for 3.2 s */
		beats(r, false);
		ffx_stdout(&r->x, 100 + (size_t)i);
		step(r, 2, 2 * STEP_MS);
	}
	for (int i = 0; i < 3; i++) {
		beats(r, true);
		ffx_stdout(&r->x, 500);
		step(r, 3, STEP_MS);
	}
	for (int i = 0; i < 4; i++) {
		beats(r, true);
		step(r, 4, 300);
	}
	/* last words, delivered: nothing lost at the tail, where no later seq
	 * would count it. A channel lost late is opened again first (the
	 * guest blind meanwhile). */
	for (int k = 0; k < 3; k++) {
		ffx_stdout(&r->x, 300);
		ffx_settle(&r->x, 5);
		for (int i = 0; i < 3 && !vigil_virt_be_holding(r->be); i++)
			step(r, 5, 1100);
		if (r->x.next_frame == r->x.n_frames)
			break;
	}
	run_end(r, 6);
	run_close(r);
}

/* ---- the verdicts ----------------------------------------------------------------- */

/* The stream's bytes, every one accounted for once (session.h). */
static bool bytes_accounted(const struct vigil_session_counters *c)
{
	const struct vigil_asm_stats *a = &c->stream;
	const struct vigil_stream_accounting *s = &c->stream_acct;

	return a->bytes == a->garbage_bytes + a->header_crc_errors + 24 * a->oversize_frames +
			       s->frame_bytes + s->held_bytes + s->held_dropped_bytes;
}

/* Frames sent before the first the host got: no seq to count them by
 * (the host joined the stream mid-way). */
static uint64_t missed_first(const struct vrun *r)
{
	return r->frames_sent - r->c.stream.frames - r->c.stream.lost_frames;
}

/* Once the run is over, its backend asks libvirt nothing and opens nothing. */
static bool quiet_after_end(const struct vrun *r)
{
	return r->ended == r->ended_end && r->fv.opens == r->opens_end;
}

/* What every run must show. Every frame the guest sent was delivered,
 * counted lost by its seq, or sent before the first the host got (then
 * the HELLO, frame 0, is not seen); the last one was delivered. */
static bool sound(const struct vrun *r)
{
	return !r->x.hung && r->x.done && r->x.reports == 0 && r->fv.misuse == 0 &&
	       quiet_after_end(r) && r->fv.live == 0 && r->status_bad == 0 && r->holding_end &&
	       strcmp(r->status_end, HOLDING) == 0 && r->x.frames_ok &&
	       r->c.stream.payload_crc_errors == 0 && bytes_accounted(&r->c) &&
	       r->frames_sent >= r->c.stream.frames + r->c.stream.lost_frames &&
	       r->x.next_frame == r->x.n_frames && missed_first(r) <= r->sent_before_first &&
	       !missed_first(r) == ffx_saw(&r->x, VIGIL_EV_HELLO) &&
	       r->x.frames_lost <= r->c.stream.lost_frames + missed_first(r);
}

static bool as_reference(const struct vrun *r, const struct vrun *ref)
{
	return sound(r) && r->x.outcome == ref->x.outcome && ffx_same_events(&r->x, &ref->x, 0) &&
	       r->x.delivered_ok && r->x.delivered == r->x.sent && r->fv.opens == 1 &&
	       r->ended_end == 0 && r->c.host_read_pauses == 0 && r->c.stream.lost_frames == 0 &&
	       missed_first(r) == 0;
}

#define LINK_EVENTS                                                                                \
	(1ull << VIGIL_EV_LINK_UP | 1ull << VIGIL_EV_LINK_DOWN | 1ull << VIGIL_EV_ANOMALY)

/* The reason the status gave for a channel lost by fault k on call c. */
static bool reason_fits(const char *why, enum fault_call c, enum fault_kind k)
{
	switch (c) {
	case FAULT_VIRT_RECV:
		return strcmp(why, k == FAULT_EOF ? "end of stream" : FVIRT_ERR_RECV) == 0;
	case FAULT_VIRT_SEND:
		return strcmp(why, FVIRT_ERR_SEND) == 0;
	case FAULT_VIRT_EVENT:
		return strcmp(why, "the stream hung up") == 0 ||
		       (k == FAULT_EOF && strcmp(why, "end of stream") == 0);
	default: /* the bridge's socket, or the guest's port */
		return strcmp(why, "the guest's side closed") == 0 ||
		       strcmp(why, "the guest's port closed") == 0;
	}
}

/* The channel lost once and opened again (see the top). */
static bool reopened(const struct vrun *r, const struct vrun *ref, enum fault_call c,
		     enum fault_kind k)
{
	bool refused = c == FAULT_VIRT_OPEN;
	/* the HELLO lost before the first frame the host got: no epoch */
	uint64_t skip = LINK_EVENTS | (missed_first(r) ? HELLO_EVENTS : 0);

	if (!sound(r) || r->x.outcome != ref->x.outcome || !ffx_same_events(&r->x, &ref->x, skip) ||
	    r->fv.opens != 2 || r->fv.open_failures != (refused ? 1u : 0u) || r->ended_end > 1)
		return false;
	if (refused) /* never opened before: nothing to lose, nobody blind */
		return r->said == 1 && strstr(r->said_last, FVIRT_ERR_HELD) && r->x.delivered_ok &&
		       r->x.delivered == r->x.sent;
	return r->c.link_downs == ref->c.link_downs + 1 && r->c.host_read_pauses == 1 &&
	       strncmp(r->closed_end, CLOSED, strlen(CLOSED)) == 0 &&
	       reason_fits(r->closed_end + strlen(CLOSED), c, k);
}

static void describe(const struct vrun *r, const char *what)
{
	ffx_describe(&r->x, what);
	fprintf(stderr,
		"  opens %llu (%llu at the end, refused %llu), ended %u (%u at the end), said %u "
		"\"%s\", status \"%s\" (%s), "
		"closed \"%s\", status_bad %u, misuse %llu (%s), live %llu\n"
		"  frames sent %u, delivered %llu, lost %llu, before the first %llu (of %u); "
		"STDOUT lost %u, ok %d; blind %llu, link downs %llu, bytes accounted %d\n",
		(unsigned long long)r->fv.opens, (unsigned long long)r->opens_end,
		(unsigned long long)r->fv.open_failures, r->ended, r->ended_end, r->said,
		r->said_last, r->status_end, r->holding_end ? "held" : "not held", r->closed_end,
		r->status_bad, (unsigned long long)r->fv.misuse, fvirt_misuse_what(),
		(unsigned long long)r->fv.live, r->frames_sent,
		(unsigned long long)r->c.stream.frames, (unsigned long long)r->c.stream.lost_frames,
		(unsigned long long)missed_first(r), r->sent_before_first, r->x.frames_lost,
		r->x.frames_ok, (unsigned long long)r->c.host_read_pauses,
		(unsigned long long)r->c.link_downs, bytes_accounted(&r->c));
}

/* ---- the backoff, --force --------------------------------------------------------- */

/* The stream breaks (an ERROR event); the next two opens are refused: the
 * retries come 1 s, 2 s and 4 s apart, the refusal said once, the guest
 * blind all along (A, beating into the closed channel, does not stall),
 * and what the guest sent meanwhile comes once the channel is back. */
static void test_backoff(void **state)
{
	static struct vrun r;
	uint64_t broke, at[3];
	unsigned seen = 0;

	(void)state;
	fault_reset();
	run_open(&r, false);
	run_start(&r);
	ffx_hello(&r.x);
	beats(&r, true);
	step(&r, 0, STEP_MS);
	assert_true(vigil_virt_be_holding(r.be));
	assert_int_equal(fvirt_inject(VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP), 0);
	fvirt_refuse_opens(2);
	ffx_settle(&r.x, 1);
	assert_false(vigil_virt_be_holding(r.be));
	assert_string_equal(vigil_virt_be_status(r.be), CLOSED "the stream hung up");
	broke = r.x.now;
	for (int i = 0; i < 80 && seen < 3; i++) {
		struct fvirt_stats s;

		if (i % 2 == 0)
			beats(&r, true);
		step(&r, 2, 100);
		fvirt_stats(&s);
		if (s.opens > 1 + seen)
			at[seen++] = r.x.now - broke;
	}
	assert_int_equal(seen, 3);
	assert_int_equal(at[0], 1000 * FFX_MS);
	assert_int_equal(at[1], 3000 * FFX_MS);
	assert_int_equal(at[2], 7000 * FFX_MS);
	assert_true(vigil_virt_be_holding(r.be));
	assert_int_equal(r.said, 1);
	assert_non_null(strstr(r.said_last, FVIRT_ERR_HELD));
	assert_non_null(strstr(r.said_last, "--force takes it"));
	run_end(&r, 3);
	run_close(&r);
	if (!sound(&r) || ffx_saw(&r.x, VIGIL_EV_STALL) || r.ended_end != 1 ||
	    r.c.host_read_pauses != 1 || r.fv.last_flags != 0)
		describe(&r, "backoff");
	assert_true(sound(&r));
	assert_false(ffx_saw(&r.x, VIGIL_EV_STALL)); /* blind: A's silence was vigil's */
	assert_int_equal(r.ended_end, 1);
	assert_int_equal(r.c.host_read_pauses, 1);
	assert_int_equal(r.fv.last_flags, 0);
}

/* --force opens with VIR_DOMAIN_CHANNEL_FORCE: the channel is taken from
 * the client holding it (here a stream of the test's own). */
static void test_force(void **state)
{
	static struct vrun r;
	virStreamPtr other;

	(void)state;
	fault_reset();
	run_open(&r, true);
	other = virStreamNew(conn, VIR_STREAM_NONBLOCK);
	assert_non_null(other);
	assert_int_equal(virDomainOpenChannel(dom, VIGIL_PORT_NAME, other, 0), 0);
	run_start(&r);
	assert_true(vigil_virt_be_holding(r.be));
	assert_int_equal(virStreamRecv(other, (char[8]){ 0 }, 8), -1); /* taken from it */
	assert_int_equal(virStreamAbort(other), 0);
	assert_int_equal(virStreamFree(other), 0);
	ffx_hello(&r.x);
	beats(&r, true);
	step(&r, 0, STEP_MS);
	run_end(&r, 1);
	run_close(&r);
	if (!sound(&r))
		describe(&r, "force");
	assert_true(sound(&r));
	assert_int_equal(r.fv.last_flags, VIR_DOMAIN_CHANNEL_FORCE);
	assert_int_equal(r.said, 0);
}

/* ---- every fault ------------------------------------------------------------------ */

static bool acceptable(const struct vrun *r, const struct vrun *ref, enum fault_kind k)
{
	enum fault_call c = fault_fired_call();

	if (k == FAULT_EINTR || k == FAULT_EAGAIN || k == FAULT_SHORT || !r->fired_end)
		return as_reference(r, ref); /* after the end, a channel lost is the run's end */
	return reopened(r, ref, c, k);
}

static void check_reference(const struct vrun *ref)
{
	describe(ref, "reference");
	assert_true(as_reference(ref, ref));
	assert_int_equal(ref->x.outcome, VIGIL_OUTCOME_PASS);
	assert_true(ffx_saw(&ref->x, VIGIL_EV_STALL));
	assert_true(ffx_saw(&ref->x, VIGIL_EV_RECOVERY));
	assert_true(ref->x.sent > 2 * VIRT_BRIDGE_BUF);
	assert_true(ref->fv.sent_bytes > 0); /* PINGs went through virStreamSend */
}

/* A sweep's run: the scenario with the fault armed, judged against the reference. */
struct sweep_ctx {
	struct vrun *r, *ref;
};

static bool sweep_run(void *ctx, uint64_t n, enum fault_kind k)
{
	struct sweep_ctx *c = ctx;

	(void)n;
	scenario(c->r);
	if (acceptable(c->r, c->ref, k))
		return true;
	describe(c->r, "FAILED");
	return false;
}

static void test_virt(void **state)
{
	static struct vrun r, ref;
	static struct fault_rec trace[FAULT_TRACE_MAX];
	uint64_t calls;
	int fds = fault_open_fds();
	struct fault_sweep sw;
	struct sweep_ctx ctx = { &r, &ref };

	(void)state;
	fault_reset();
	scenario(&r);
	ref = r;
	calls = fault_calls();
	check_reference(&ref);
	assert_true(calls > 0 && calls <= FAULT_TRACE_MAX);
	memcpy(trace, fault_trace(), calls * sizeof(trace[0]));
	assert_int_equal(fault_sweep(trace, calls, RUNS_MAX, NULL, sweep_run, &ctx, &sw), 0);
	fault_sweep_print(&sw, calls);
	assert_int_equal(sw.failed, 0);
	assert_int_equal(fault_open_fds(), fds);
}

static void quiet(void *ctx, virErrorPtr e)
{
	(void)ctx;
	(void)e;
}

/* test:///default, opened once: it registers nothing with the event
 * implementation, so it outlives the loops the runs attach it to. */
static int setup(void **state)
{
	struct vigil_virt_event_stats st;
	struct vigil_loop *l;

	(void)state;
	virSetErrorFunc(NULL, quiet);
	if (vigil_loop_new(&l) < 0 || vigil_virt_event_register(l) < 0)
		return -1;
	conn = virConnectOpen("test:///default");
	dom = conn ? virDomainLookupByName(conn, "test") : NULL;
	vigil_virt_event_stats(&st);
	vigil_virt_event_detach();
	vigil_loop_free(l);
	return dom && st.handles == 0 && st.timeouts == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	virDomainFree(dom);
	virConnectClose(conn);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_force),
		cmocka_unit_test(test_virt),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
