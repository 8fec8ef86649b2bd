/* SPDX-License-Identifier: MIT */
/*
 * Tests for the session's time and life-cycle contract (session.h: Time,
 * Life cycle, Callbacks, Writer): deadlines never before the last now,
 * no PING (and no tx_errors) without a writer, nothing after finish(),
 * what a callback may call, and how a run finished without EXIT is named.
 * A fake clock; a sink and writer that call back into the session.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#define MS 1000000ull
#define S  1000000000ull
#define T0 (1000 * S)

/* What a callback tries when it runs (the session calls it back). */
enum reenter {
	RE_NONE = 0,
	RE_ALL, /* every call that changes the session, and the reads */
};

struct fx {
	struct vigil_session *s;
	struct vigil_session_hooks h;
	uint32_t seq;
	uint32_t count[VIGIL_EV__COUNT];
	enum vigil_event_type last_type;
	uint32_t after_run_end; /* events raised after RUN_END */
	uint32_t tx_error_anomalies;
	/* re-entry */
	enum reenter reenter;
	uint32_t reentered;
	uint32_t refused;   /* calls refused as they must be */
	uint32_t misbehave; /* calls that acted, or reads that failed */
	/* writer */
	uint32_t n_tx;
	/* snapshot provider: completes inside start() */
	uint32_t snap_done_ret_ok;
};

static uint8_t fb[VIGIL_WIRE_MAX_FRAME];
#define PL   (fb + VIGIL_WIRE_HDR_LEN)
#define PCAP (sizeof(fb) - VIGIL_WIRE_HDR_LEN)

static size_t seal(struct fx *f, uint16_t type, int plen)
{
	int n;

	assert_true(plen >= 0);
	n = vigil_frame_seal(fb, sizeof(fb), type, f->seq++, (size_t)plen);
	assert_true(n > 0);
	return (size_t)n;
}

static size_t hello(struct fx *f)
{
	struct vigil_hello h = { .proto_version = 1, .agent_version = VIGIL_STR("t") };

	return seal(f, VIGIL_MSG_HELLO, vigil_hello_encode(PL, PCAP, &h));
}

static size_t beat(struct fx *f, uint32_t pid, uint64_t nonce, uint32_t deadline_ms)
{
	struct vigil_beat b = { .pid = pid, .nonce = nonce, .deadline_ms = deadline_ms };

	return seal(f, VIGIL_MSG_BEAT, vigil_beats_encode(PL, PCAP, &b, 1));
}

static int feed_at(struct fx *f, size_t n, uint64_t t)
{
	return vigil_session_feed(f->s, fb, n, t);
}

static int count_proc(void *ctx, const struct vigil_process_info *p)
{
	(void)p;
	(*(uint32_t *)ctx)++;
	return 0;
}

/* From a callback: every change refused, every read answered. */
static void reenter_all(struct fx *f)
{
	struct vigil_session *s = f->s;
	const uint8_t byte = 0;
	uint64_t dl = vigil_session_next_deadline(s);
	uint32_t procs = 0;
	VIGIL_SESSION_COUNTERS(c);
	const int rets[] = {
		vigil_session_feed(s, &byte, 1, T0),
		vigil_session_link_up(s, T0),
		vigil_session_link_down(s, T0),
		vigil_session_vm_stopped(s, T0),
		vigil_session_vm_resumed(s, T0),
		vigil_session_host_paused(s, T0, true),
		vigil_session_console_line(s, T0, "x", 1),
		vigil_session_guest_crashed(s, T0, NULL),
		vigil_session_harness_error(s, T0, "x"),
		vigil_session_vmm_exited(s, T0, 0, 9, NULL),
		vigil_session_request_shutdown(s, T0),
		vigil_session_snapshot_done(s, 1, 0, NULL, T0),
		vigil_session_set_vcpu_state_probe(s, NULL),
	};

	uint32_t ok = 0;

	f->reentered++;
	for (size_t i = 0; i < sizeof(rets) / sizeof(rets[0]); i++)
		ok += rets[i] == -EBUSY;
	ok += vigil_session_finish(s, T0) == NULL;
	/* tick does no work: the deadline it returns is the one already due */
	ok += vigil_session_tick(s, T0 + 3600 * S) == dl;
	f->refused += ok;
	f->misbehave += (uint32_t)(sizeof(rets) / sizeof(rets[0])) + 2 - ok;
	/* the reads answer */
	if (vigil_session_counters(s, &c) != 0 || c.sz != sizeof(c) ||
	    vigil_session_foreach_process(s, T0, count_proc, &procs) != 0 ||
	    vigil_session_ended(s) < 0)
		f->misbehave++;
}

static void sink(void *ctx, const struct vigil_event *ev)
{
	struct fx *f = ctx;

	if (f->count[VIGIL_EV_RUN_END])
		f->after_run_end++;
	f->count[ev->type]++;
	f->last_type = ev->type;
	if (ev->type == VIGIL_EV_ANOMALY && !strcmp(ev->anomaly.counter, "tx_errors"))
		f->tx_error_anomalies++;
	if (f->reenter == RE_ALL && ev->type != VIGIL_EV_RUN_END)
		reenter_all(f);
}

static int writer(void *ctx, const uint8_t *frame, size_t len)
{
	struct fx *f = ctx;

	(void)frame;
	(void)len;
	f->n_tx++;
	if (f->reenter == RE_ALL)
		reenter_all(f);
	return 0;
}

static int snap_start(void *ctx, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct fx *f = ctx;

	(void)kind;
	(void)tag;
	/* the one call allowed from a callback */
	if (vigil_session_snapshot_done(f->s, id, 0, "done", T0) == 0)
		f->snap_done_ret_ok++;
	return 0;
}

static struct fx *fx_new(bool with_writer, uint64_t ping_ns)
{
	struct fx *f = calloc(1, sizeof(*f));
	VIGIL_SESSION_OPTS(o, .ping_interval_ns = ping_ns, .stall_threshold_ns = 1 * S);

	assert_non_null(f);
	f->h.sink = (struct vigil_event_sink){ sink, f };
	if (with_writer)
		f->h.writer = (struct vigil_guest_writer){ writer, f };
	f->h.snapshot = (struct vigil_snapshot_provider){ snap_start, f };
	assert_int_equal(vigil_session_new(&o, &f->h, T0, &f->s), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	vigil_session_free(f->s);
	free(f);
}

/* ---- time ----------------------------------------------------------------- */

/*
 * The PING deadline is set at LINK_UP; HELLO (which turns pings on) comes
 * 100 ms later. The deadline is then "now", never the past LINK_UP time.
 */
static void test_deadline_not_before_now(void **state)
{
	struct fx *f = fx_new(true, 1 * S);
	uint64_t d;

	(void)state;
	vigil_session_link_up(f->s, T0 + 50 * MS);
	assert_true(feed_at(f, hello(f), T0 + 100 * MS) == 1);
	d = vigil_session_next_deadline(f->s);
	assert_int_equal(d, T0 + 100 * MS);
	/* a loop that passes the deadline as now sends the ping at once */
	d = vigil_session_tick(f->s, d);
	assert_int_equal(f->n_tx, 1);
	assert_int_equal(d, T0 + 1100 * MS);
	fx_free(f);
}

/* Random calls with a clock that only moves forward (and sometimes back,
 * clamped): each deadline is at or after the largest now given so far. */
static void test_deadline_random(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (int run = 0; run < 20; run++) {
		struct fx *f = fx_new(run % 2 == 0, run % 3 ? 1 * S : 7 * MS);
		uint64_t t = T0, hi = T0;

		for (int i = 0; i < 400; i++) {
			uint64_t d;

			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			t += (seed >> 33) % (300 * MS);
			if ((seed >> 20) % 17 == 0)
				t -= 50 * MS; /* a regression: clamped */
			hi = t > hi ? t : hi;
			switch ((seed >> 40) % 6) {
			case 0:
				vigil_session_link_up(f->s, t);
				break;
			case 1:
				feed_at(f, hello(f), t);
				break;
			case 2:
				feed_at(f,
					beat(f, 100 + (uint32_t)(i % 5), (uint64_t)i + 1,
					     (uint32_t)((seed >> 8) % 400)),
					t);
				break;
			case 3:
				vigil_session_vm_stopped(f->s, t);
				break;
			case 4:
				vigil_session_vm_resumed(f->s, t);
				break;
			default:
				d = vigil_session_tick(f->s, t);
				assert_true(d >= hi);
				break;
			}
			d = vigil_session_next_deadline(f->s);
			assert_true(d >= hi);
		}
		fx_free(f);
	}
}

/* ---- the writer ----------------------------------------------------------- */

/* An observer with no writer: 40 s of a live link send no PING and raise no
 * tx_errors anomaly; the same session with a writer pings every second. */
static void test_no_writer_no_pings(void **state)
{
	(void)state;
	for (int w = 0; w < 2; w++) {
		struct fx *f = fx_new(w, 1 * S);
		VIGIL_SESSION_COUNTERS(c);
		uint64_t t = T0;

		vigil_session_link_up(f->s, t);
		feed_at(f, hello(f), t + 1 * MS);
		/* with a writer the first PING is due now; without, none is */
		if (w)
			assert_int_equal(vigil_session_next_deadline(f->s), t + 1 * MS);
		else
			assert_true(vigil_session_next_deadline(f->s) > t + 1 * MS);
		while (t < T0 + 40 * S) {
			uint64_t d = vigil_session_tick(f->s, t);

			assert_true(d > t); /* nothing left due: no busy loop */
			t = d == VIGIL_DEADLINE_NONE || d > t + 100 * MS ? t + 100 * MS : d;
		}
		assert_int_equal(vigil_session_counters(f->s, &c), 0);
		assert_int_equal(c.tx_errors, 0);
		assert_int_equal(f->tx_error_anomalies, 0);
		if (w) {
			assert_true(c.pings >= 39);
		} else {
			assert_int_equal(c.pings, 0);
			assert_int_equal(vigil_session_request_shutdown(f->s, t), -ENOTCONN);
		}
		fx_free(f);
	}
}

/* ---- after finish() ------------------------------------------------------- */

/*
 * A pid stalls, the run is finished, then its beat arrives: no RECOVERY
 * after RUN_END, every later call refused, no deadline left.
 */
static void test_nothing_after_finish(void **state)
{
	struct fx *f = fx_new(true, 0);
	const struct vigil_verdict *v;
	uint32_t n_findings;
	VIGIL_SESSION_COUNTERS(before);
	VIGIL_SESSION_COUNTERS(after);

	(void)state;
	vigil_session_link_up(f->s, T0);
	feed_at(f, hello(f), T0 + 1 * MS);
	feed_at(f, beat(f, 100, 1, 100), T0 + 2 * MS);
	vigil_session_tick(f->s, T0 + 500 * MS);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	v = vigil_session_finish(f->s, T0 + 600 * MS);
	assert_non_null(v);
	assert_int_equal(f->last_type, VIGIL_EV_RUN_END);
	n_findings = v->n_findings;
	vigil_session_counters(f->s, &before);

	assert_int_equal(feed_at(f, beat(f, 100, 2, 100), T0 + 700 * MS), -ESHUTDOWN);
	assert_int_equal(vigil_session_tick(f->s, T0 + 800 * MS), VIGIL_DEADLINE_NONE);
	assert_int_equal(vigil_session_next_deadline(f->s), VIGIL_DEADLINE_NONE);
	assert_int_equal(vigil_session_link_down(f->s, T0 + 900 * MS), -ESHUTDOWN);
	assert_int_equal(vigil_session_link_up(f->s, T0 + 900 * MS), -ESHUTDOWN);
	assert_int_equal(vigil_session_vm_stopped(f->s, T0 + 900 * MS), -ESHUTDOWN);
	assert_int_equal(vigil_session_vm_resumed(f->s, T0 + 900 * MS), -ESHUTDOWN);
	assert_int_equal(vigil_session_host_paused(f->s, T0 + 900 * MS, true), -ESHUTDOWN);
	assert_int_equal(vigil_session_console_line(f->s, T0 + 900 * MS, "Oops: 1", 7), -ESHUTDOWN);
	assert_int_equal(vigil_session_guest_crashed(f->s, T0 + 900 * MS, NULL), -ESHUTDOWN);
	assert_int_equal(vigil_session_harness_error(f->s, T0 + 900 * MS, "x"), -ESHUTDOWN);
	assert_int_equal(vigil_session_vmm_exited(f->s, T0 + 900 * MS, 1, 0, NULL), -ESHUTDOWN);
	assert_int_equal(vigil_session_request_shutdown(f->s, T0 + 900 * MS), -ESHUTDOWN);
	assert_int_equal(vigil_session_snapshot_done(f->s, 1, 0, NULL, T0 + 900 * MS), -ESHUTDOWN);
	assert_int_equal(vigil_session_set_vcpu_state_probe(f->s, NULL), -ESHUTDOWN);
	assert_ptr_equal(vigil_session_finish(f->s, T0 + 1 * S), v);

	assert_int_equal(f->after_run_end, 0);
	assert_int_equal(f->count[VIGIL_EV_RECOVERY], 0);
	vigil_session_counters(f->s, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(v->n_findings, n_findings);
	fx_free(f);
}

/* ---- callbacks ------------------------------------------------------------ */

/* Sink and writer call back in: every change refused (-EBUSY, NULL, a tick
 * that does nothing), every read answered; the run goes on unharmed. */
static void test_callbacks_refused(void **state)
{
	struct fx *f = fx_new(true, 1 * S);
	const struct vigil_verdict *v;

	(void)state;
	f->reenter = RE_ALL;
	vigil_session_link_up(f->s, T0);
	feed_at(f, hello(f), T0 + 1 * MS);
	feed_at(f, beat(f, 100, 1, 0), T0 + 2 * MS);
	vigil_session_tick(f->s, T0 + 3 * MS); /* a PING: the writer re-enters */
	assert_true(f->n_tx >= 1);
	assert_true(f->reentered >= 4);
	assert_int_equal(f->misbehave, 0);
	assert_int_equal(f->refused, f->reentered * 15);
	f->reenter = RE_NONE;
	/* nothing a refused call tried took effect */
	assert_int_equal(vigil_session_ended(f->s), 0);
	v = vigil_session_finish(f->s, T0 + 4 * MS);
	assert_non_null(v);
	/* no SYS_RDY: the one finding is finish()'s own, none from the
	 * refused harness_error, guest_crashed or vmm_exited */
	assert_int_equal(v->outcome, VIGIL_OUTCOME_BOOT_TIMEOUT);
	assert_int_equal(v->n_findings, 1);
	fx_free(f);
}

/* The snapshot provider may complete inside its own start(). */
static void test_snapshot_done_inside_start(void **state)
{
	struct fx *f = fx_new(true, 0);
	struct vigil_snapshot_request rq = { .request_id = 7,
					     .kind = VIGIL_SNAP_MEMORY_DUMP,
					     .tag = VIGIL_STR("t") };

	(void)state;
	feed_at(f, hello(f), T0 + 1 * MS);
	feed_at(f,
		seal(f, VIGIL_MSG_SNAPSHOT_REQUEST, vigil_snapshot_request_encode(PL, PCAP, &rq)),
		T0 + 2 * MS);
	assert_int_equal(f->snap_done_ret_ok, 1);
	assert_int_equal(f->count[VIGIL_EV_SNAPSHOT_DONE], 1);
	fx_free(f);
}

/* ---- a run finished without EXIT ------------------------------------------ */

static void test_finish_without_exit_names(void **state)
{
	struct fx *f;

	(void)state;
	/* the link is fine: the caller stopped the run */
	f = fx_new(true, 0);
	vigil_session_link_up(f->s, T0);
	feed_at(f, seal(f, VIGIL_MSG_SYS_RDY, 0), T0 + 1 * MS);
	assert_int_equal(vigil_session_finish(f->s, T0 + 2 * S)->outcome,
			 VIGIL_OUTCOME_HARNESS_ERROR);
	fx_free(f);
	/* it closed, came back: fine again */
	f = fx_new(true, 0);
	vigil_session_link_up(f->s, T0);
	feed_at(f, seal(f, VIGIL_MSG_SYS_RDY, 0), T0 + 1 * MS);
	vigil_session_link_down(f->s, T0 + 1 * S);
	vigil_session_link_up(f->s, T0 + 2 * S);
	assert_int_equal(vigil_session_finish(f->s, T0 + 3 * S)->outcome,
			 VIGIL_OUTCOME_HARNESS_ERROR);
	fx_free(f);
	/* it closed and had not come back */
	f = fx_new(true, 0);
	vigil_session_link_up(f->s, T0);
	feed_at(f, seal(f, VIGIL_MSG_SYS_RDY, 0), T0 + 1 * MS);
	vigil_session_link_down(f->s, T0 + 1 * S);
	assert_int_equal(vigil_session_finish(f->s, T0 + 3 * S)->outcome, VIGIL_OUTCOME_LINK_LOST);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline_not_before_now),
		cmocka_unit_test(test_deadline_random),
		cmocka_unit_test(test_no_writer_no_pings),
		cmocka_unit_test(test_nothing_after_finish),
		cmocka_unit_test(test_callbacks_refused),
		cmocka_unit_test(test_snapshot_done_inside_start),
		cmocka_unit_test(test_finish_without_exit_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
