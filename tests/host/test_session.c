/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/session.c with a fake clock, a fake snapshot provider,
 * a fake progress probe and a capturing writer: every dispatch arm with
 * valid, torn, malformed and repeated frames; the workload watchdog with
 * pauses and VM stops; stalls with on_stall fail and host starvation;
 * snapshots; pings; link loss; timeouts; output and evidence.
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
#define T0 (1000 * S) /* the fake clock starts here */

#define SES_STALLS_TRIED 20u /* stall episodes of a flapping pid */

/* ---- fakes ------------------------------------------------------------- */

#define MAX_EV 256

struct fx {
	struct vigil_session *s;
	struct vigil_session_opts o;
	struct vigil_session_hooks h;
	uint32_t seq;
	/* sink */
	uint32_t n_ev;
	enum vigil_event_type ev[MAX_EV];
	uint32_t count[VIGIL_EV__COUNT];
	struct vigil_event last[VIGIL_EV__COUNT];
	bool last_crc_ok;
	char last_text[256];
	struct vigil_flow flow_last; /* copy of the last FLOW event's record */
	const char *anomaly[32];     /* ANOMALY events' counter names (static strings) */
	uint32_t n_anomaly;
	/* writer: host-to-guest frames parsed back */
	struct vigil_asm tx_asm;
	uint32_t n_tx;
	uint16_t tx_type[64];
	struct {
		uint32_t id;
		int32_t status;
		char detail[128];
	} reply[64];
	uint32_t n_reply;
	uint64_t last_ping_token;
	int writer_ret;
	/* snapshot provider */
	int snap_ret;
	uint32_t snap_calls;
	uint32_t snap_last_id;
	/* progress probe */
	bool have_probe;
	uint64_t cpu_ns;
};

static void sink(void *ctx, const struct vigil_event *ev)
{
	struct fx *f = ctx;

	if (f->n_ev < MAX_EV)
		f->ev[f->n_ev++] = ev->type;
	f->count[ev->type]++;
	f->last[ev->type] = *ev;
	if (ev->type == VIGIL_EV_OUTPUT) {
		size_t n = ev->output.len < 255 ? ev->output.len : 255;

		f->last_crc_ok = ev->output.crc_ok;
		memcpy(f->last_text, ev->output.data, n);
		f->last_text[n] = '\0';
	}
	if (ev->type == VIGIL_EV_ANOMALY && f->n_anomaly < 32)
		f->anomaly[f->n_anomaly++] = ev->anomaly.counter;
	if (ev->type == VIGIL_EV_FLOW) {
		f->flow_last = *ev->flow.flow;
		f->last[ev->type].flow.flow = NULL;
	}
	/* Borrowed pointers die with the callback. */
	if (ev->type == VIGIL_EV_FINDING)
		f->last[ev->type].finding.finding = NULL;
	if (ev->type == VIGIL_EV_RUN_END)
		f->last[ev->type].run_end.verdict = NULL;
}

static int writer(void *ctx, const uint8_t *buf, size_t len)
{
	struct fx *f = ctx;
	struct vigil_frame fr;

	if (f->writer_ret < 0)
		return f->writer_ret;
	vigil_asm_push(&f->tx_asm, buf, len);
	while (vigil_asm_next(&f->tx_asm, &fr) > 0) {
		assert_true(fr.crc_ok);
		f->tx_type[f->n_tx++ % 64] = fr.hdr.type;
		if (fr.hdr.type == VIGIL_MSG_SNAPSHOT_REPLY) {
			struct vigil_snapshot_reply r;

			assert_int_equal(vigil_snapshot_reply_decode(fr.payload, fr.hdr.len, &r),
					 0);
			f->reply[f->n_reply].id = r.request_id;
			f->reply[f->n_reply].status = r.status;
			memcpy(f->reply[f->n_reply].detail, r.detail.ptr,
			       r.detail.len < 127 ? r.detail.len : 127);
			f->n_reply++;
		} else if (fr.hdr.type == VIGIL_MSG_PING) {
			assert_int_equal(
			    vigil_ping_decode(fr.payload, fr.hdr.len, &f->last_ping_token), 0);
		}
	}
	return 0;
}

static int snap_start(void *ctx, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct fx *f = ctx;

	(void)kind;
	(void)tag;
	f->snap_calls++;
	f->snap_last_id = id;
	return f->snap_ret;
}

static int probe(void *ctx, uint64_t *cpu)
{
	struct fx *f = ctx;

	if (!f->have_probe)
		return -ENOENT;
	*cpu = f->cpu_ns;
	return 0;
}

static struct fx *fx_new_probe(void (*tune)(struct vigil_session_opts *o), bool with_probe)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	vigil_session_opts_default(&f->o);
	f->o.ping_interval_ns = 0;
	if (tune)
		tune(&f->o);
	f->h.sink = (struct vigil_event_sink){ sink, f };
	f->h.writer = (struct vigil_guest_writer){ writer, f };
	f->h.snapshot = (struct vigil_snapshot_provider){ snap_start, f };
	if (with_probe)
		f->h.progress = (struct vigil_progress_probe){ probe, f };
	vigil_asm_init(&f->tx_asm);
	assert_int_equal(vigil_session_new(&f->o, &f->h, T0, &f->s), 0);
	return f;
}

static struct fx *fx_new(void (*tune)(struct vigil_session_opts *o))
{
	return fx_new_probe(tune, false);
}

static void fx_free(struct fx *f)
{
	vigil_session_free(f->s);
	free(f);
}

/* ---- frame builders ---------------------------------------------------- */

static uint8_t fb[VIGIL_WIRE_MAX_FRAME];

static size_t seal(struct fx *f, uint16_t type, int plen)
{
	assert_true(plen >= 0);
	int n = vigil_frame_seal(fb, sizeof(fb), type, f->seq++, (size_t)plen);

	assert_true(n > 0);
	return (size_t)n;
}

#define PL   (fb + VIGIL_WIRE_HDR_LEN)
#define PCAP (sizeof(fb) - VIGIL_WIRE_HDR_LEN)

static void feed(struct fx *f, size_t n, uint64_t at)
{
	assert_true(vigil_session_feed(f->s, fb, n, T0 + at) >= 0);
}

/* Tear the frame in fb: flip a payload byte (header stays valid). */
static void tear(size_t n)
{
	assert_true(n > VIGIL_WIRE_HDR_LEN);
	fb[n - 1] ^= 0x5a;
}

static size_t raw(struct fx *f, uint16_t type, const void *p, size_t len)
{
	memcpy(PL, p, len);
	return seal(f, type, (int)len);
}

static size_t hello(struct fx *f, uint16_t version)
{
	struct vigil_hello h = {
		.proto_version = version,
		.capabilities = 0x5,
		.guest_boottime_ns = 1234567,
		.agent_version = VIGIL_STR("0.1.0"),
		.kernel_release = VIGIL_STR("6.1.0-test"),
		.hostname = VIGIL_STR("guest"),
	};

	return seal(f, VIGIL_MSG_HELLO, vigil_hello_encode(PL, PCAP, &h));
}

static size_t scenario(struct fx *f, uint16_t type, const char *name)
{
	struct vigil_str s = { name, (uint16_t)strlen(name) };

	return seal(f, type, vigil_scenario_encode(PL, PCAP, s));
}

static size_t beats(struct fx *f, const struct vigil_beat *b, size_t n)
{
	return seal(f, VIGIL_MSG_BEAT, vigil_beats_encode(PL, PCAP, b, n));
}

static size_t snap_req(struct fx *f, uint32_t id, uint32_t kind)
{
	struct vigil_snapshot_request rq = { .request_id = id,
					     .kind = kind,
					     .tag = VIGIL_STR("t") };

	if (id == 0 || kind == 0) {
		/* The encoder refuses these: write the shape by hand. */
		vigil_put32(PL, id);
		vigil_put32(PL + 4, kind);
		vigil_put16(PL + 8, 0);
		return seal(f, VIGIL_MSG_SNAPSHOT_REQUEST, 10);
	}
	return seal(f, VIGIL_MSG_SNAPSHOT_REQUEST, vigil_snapshot_request_encode(PL, PCAP, &rq));
}

static size_t exit_frame(struct fx *f, int32_t status, int32_t sig)
{
	struct vigil_exit x = { .exit_status = status, .signal = sig };

	return seal(f, VIGIL_MSG_EXIT, vigil_exit_encode(PL, PCAP, &x));
}

static size_t sched_exit(struct fx *f, int32_t code, uint32_t kind, const char *reason)
{
	struct vigil_sched_exit se = { .exit_code = code,
				       .kind = kind,
				       .reason = { reason, (uint16_t)strlen(reason) } };

	return seal(f, VIGIL_MSG_SCHED_EXIT, vigil_sched_exit_encode(PL, PCAP, &se));
}

static size_t test_result(struct fx *f, uint8_t outcome, const char *name)
{
	struct vigil_test_result tr = { .outcome = outcome,
					.duration_ns = 5,
					.name = { name, (uint16_t)strlen(name) },
					.message = VIGIL_STR("msg") };

	return seal(f, VIGIL_MSG_TEST_RESULT, vigil_test_result_encode(PL, PCAP, &tr));
}

static struct vigil_session_counters counters(struct fx *f)
{
	VIGIL_SESSION_COUNTERS(c);

	vigil_session_counters(f->s, &c);
	return c;
}

static struct vigil_beat bt(uint32_t pid, uint64_t nonce, uint32_t deadline_ms)
{
	return (struct vigil_beat){ .pid = pid, .nonce = nonce, .deadline_ms = deadline_ms };
}

/* ---- dispatch arms ----------------------------------------------------- */

static void test_sys_rdy_fires_once(void **state)
{
	struct fx *f = fx_new(NULL);
	size_t n;

	(void)state;
	feed(f, hello(f, 1), 0);
	/* Torn (a payload so there is something to tear): rejected. */
	n = raw(f, VIGIL_MSG_SYS_RDY, "x", 1);
	tear(n);
	feed(f, n, 1 * MS);
	assert_int_equal(f->count[VIGIL_EV_READY], 0);
	assert_int_equal(counters(f).type[VIGIL_MSG_SYS_RDY].crc_rejected, 1);
	/* CRC-valid with a payload: malformed, ignored. */
	n = raw(f, VIGIL_MSG_SYS_RDY, "xy", 2);
	feed(f, n, 2 * MS);
	assert_int_equal(f->count[VIGIL_EV_READY], 0);
	assert_int_equal(counters(f).type[VIGIL_MSG_SYS_RDY].malformed, 1);
	/* The first valid, empty one acts. */
	n = seal(f, VIGIL_MSG_SYS_RDY, 0);
	feed(f, n, 3 * MS);
	assert_int_equal(f->count[VIGIL_EV_READY], 1);
	/* Repeats are counted, never re-fire. */
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 4 * MS);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 5 * MS);
	assert_int_equal(f->count[VIGIL_EV_READY], 1);
	assert_int_equal(counters(f).sys_rdy_repeats, 2);
	assert_int_equal(counters(f).type[VIGIL_MSG_SYS_RDY].ignored, 2);
	/* A new epoch (HELLO seq 0) may announce readiness again. */
	f->seq = 0;
	feed(f, hello(f, 1), 6 * MS);
	assert_int_equal(f->count[VIGIL_EV_AGENT_RESTART], 1);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 7 * MS);
	assert_int_equal(f->count[VIGIL_EV_READY], 2);
	assert_int_equal(f->last[VIGIL_EV_READY].ready.epoch, 2);
	/* The timeline keeps the first. */
	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 8 * MS);

	assert_int_equal(v->timeline.ready_ns, 3 * MS);
	fx_free(f);
}

static void test_hello(void **state)
{
	struct fx *f = fx_new(NULL);
	size_t n;

	(void)state;
	n = hello(f, 1);
	tear(n);
	feed(f, n, 1 * MS);
	assert_int_equal(f->count[VIGIL_EV_HELLO], 0);
	feed(f, raw(f, VIGIL_MSG_HELLO, "\x01\x00", 2), 2 * MS); /* short */
	assert_int_equal(counters(f).type[VIGIL_MSG_HELLO].malformed, 1);
	f->seq = 0;
	feed(f, hello(f, 2), 3 * MS); /* another version: reported, kept */
	assert_int_equal(f->count[VIGIL_EV_HELLO], 1);
	assert_int_equal(f->last[VIGIL_EV_HELLO].hello.proto_version, 2);
	assert_int_equal(f->last[VIGIL_EV_HELLO].hello.epoch, 1);
	assert_int_equal(counters(f).proto_mismatch, 1);
	assert_int_equal(counters(f).epochs, 1);
	assert_int_equal(counters(f).agent_restarts, 0);
	assert_int_equal(f->last[VIGIL_EV_HELLO].hello_agent_pid, 0); /* none sent */
	f->seq = 0;
	{
		struct vigil_hello h = { .proto_version = 1,
					 .agent_version = VIGIL_STR("0.1.0"),
					 .kernel_release = VIGIL_STR("6.1.0-test"),
					 .hostname = VIGIL_STR("guest") };

		feed(f, seal(f, VIGIL_MSG_HELLO, vigil_hello_encode_agent_pid(PL, PCAP, &h, 79)),
		     4 * MS);
	}
	assert_int_equal(f->count[VIGIL_EV_AGENT_RESTART], 1);
	assert_int_equal(f->last[VIGIL_EV_AGENT_RESTART].hello_agent_pid, 79);
	assert_int_equal(counters(f).agent_restarts, 1);
	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 5 * MS);

	assert_true(v->guest.have_hello);
	assert_string_equal(v->guest.kernel_release, "6.1.0-test");
	assert_int_equal(v->timeline.hello_ns, 3 * MS);
	assert_int_equal(v->timeline.guest_boottime_ns, 1234567);
	fx_free(f);
}

static void test_sched_exit(void **state)
{
	struct fx *f = fx_new(NULL);
	size_t n;

	(void)state;
	n = sched_exit(f, -1, VIGIL_SCX_ERROR_STALL, "runnable task stall");
	tear(n);
	feed(f, n, 1 * MS);
	assert_int_equal(vigil_session_ended(f->s), 0); /* a torn one never acts */
	assert_int_equal(counters(f).type[VIGIL_MSG_SCHED_EXIT].crc_rejected, 1);
	feed(f, raw(f, VIGIL_MSG_SCHED_EXIT, "\x01\x02\x03", 3), 2 * MS);
	assert_int_equal(vigil_session_ended(f->s), 0);
	assert_int_equal(counters(f).type[VIGIL_MSG_SCHED_EXIT].malformed, 1);
	feed(f, sched_exit(f, -1, VIGIL_SCX_ERROR_STALL, "runnable task stall"), 3 * MS);
	assert_int_equal(vigil_session_ended(f->s), 1);
	assert_int_equal(f->count[VIGIL_EV_SCHED_EXIT], 1);
	feed(f, sched_exit(f, 0, VIGIL_SCX_DONE, "second"), 4 * MS);
	assert_int_equal(f->count[VIGIL_EV_SCHED_EXIT], 1);
	assert_int_equal(counters(f).type[VIGIL_MSG_SCHED_EXIT].ignored, 1);

	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 5 * MS);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_SCHED_EXIT);
	assert_int_equal(v->sched_exit_kind, VIGIL_SCX_ERROR_STALL);
	assert_int_equal(v->sched_exit_code, -1);
	assert_string_equal(v->sched_exit_reason, "runnable task stall");
	assert_int_equal(v->timeline.sched_exit_ns, 3 * MS);
	assert_int_equal(vigil_verdict_exit_code(v), 120);
	fx_free(f);
}

static void test_unknown_and_wrong_direction(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	feed(f, raw(f, 0x0050, "abc", 3), 1);
	feed(f, raw(f, 0x0000, "", 0), 2);
	feed(f, raw(f, 0x9999, "", 0), 3);
	uint8_t ping[8] = { 1 };

	feed(f, raw(f, VIGIL_MSG_PING, ping, 8), 4);
	feed(f, raw(f, VIGIL_MSG_SNAPSHOT_REPLY, "", 0), 5);
	struct vigil_session_counters c = counters(f);

	assert_int_equal(c.unknown_type, 3);
	assert_int_equal(c.wrong_direction, 2);
	assert_int_equal(f->n_tx, 0);
	fx_free(f);
}

/*
 * PROCESS_REPORT is a known guest type: counted per type, never as unknown.
 * With no INSPECT in flight (this host sends none) a well-formed report is
 * unmatched (ignored); a malformed one and a torn one are counted as such.
 * INSPECT from the guest goes the wrong way.
 */
static void test_process_report_counted(void **state)
{
	struct fx *f = fx_new(NULL);
	struct vigil_process_report r = {
		.request_id = 9, .pid = 412, .state = 'R', .comm = VIGIL_STR("stress-worker")
	};
	struct vigil_inspect in = { 9, 412 };
	VIGIL_SESSION_COUNTERS(c);
	size_t n;

	(void)state;
	feed(f, hello(f, 1), 1);
	feed(f, seal(f, VIGIL_MSG_PROCESS_REPORT, vigil_process_report_encode(PL, PCAP, &r)), 2);
	n = seal(f, VIGIL_MSG_PROCESS_REPORT, vigil_process_report_encode(PL, PCAP, &r));
	tear(n);
	feed(f, n, 3);
	feed(f, raw(f, VIGIL_MSG_PROCESS_REPORT, "\x09\0\0\0\x9c\x01\0\0", 8), 4);
	r.status = -EBUSY;
	feed(f, seal(f, VIGIL_MSG_PROCESS_REPORT, vigil_process_report_encode(PL, PCAP, &r)), 5);
	feed(f, seal(f, VIGIL_MSG_INSPECT, vigil_inspect_encode(PL, PCAP, &in)), 6);
	c = counters(f);
	assert_int_equal(c.unknown_type, 0);
	assert_int_equal(c.wrong_direction, 1);
	assert_int_equal(c.type[VIGIL_MSG_PROCESS_REPORT].frames, 4);
	assert_int_equal(c.type[VIGIL_MSG_PROCESS_REPORT].ignored, 2);
	assert_int_equal(c.type[VIGIL_MSG_PROCESS_REPORT].crc_rejected, 1);
	assert_int_equal(c.type[VIGIL_MSG_PROCESS_REPORT].malformed, 1);
	assert_int_equal(f->n_tx, 0);
	fx_free(f);
}

static void tune_ack_exit(struct vigil_session_opts *o)
{
	o->ack_exit = true;
}

/* The agent's last counters reach the verdict; dropped output is said. */
static void test_agent_stats_in_verdict(void **state)
{
	struct fx *f = fx_new(NULL);
	uint64_t vals[VIGIL_STAT__KNOWN] = { 0 };
	const struct vigil_verdict *v;
	char line[512];

	(void)state;
	v = NULL;
	vals[VIGIL_STAT_FRAMES_SENT] = 50;
	vals[VIGIL_STAT_FRAMES_DROPPED] = 3;
	vals[VIGIL_STAT_BYTES_DROPPED] = 900;
	feed(f,
	     seal(f, VIGIL_MSG_AGENT_STATS,
		  vigil_agent_stats_encode(PL, PCAP, vals, VIGIL_STAT__KNOWN)),
	     0);
	feed(f, exit_frame(f, 0, 0), 1);
	v = vigil_session_finish(f->s, T0 + 2 * S);
	assert_true(v->have_agent_stats);
	assert_int_equal(v->agent_stats[VIGIL_STAT_FRAMES_SENT], 50);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_PASS);
	vigil_verdict_summary(v, line, sizeof(line));
	assert_non_null(strstr(line, "the agent dropped 3 output frames (900 bytes)"));
	fx_free(f);
}

static void test_exit_and_tests(void **state)
{
	struct fx *f = fx_new(tune_ack_exit);
	size_t n;
	const struct vigil_verdict *v;

	(void)state;
	n = exit_frame(f, 0, 0);
	tear(n);
	feed(f, n, 1);
	assert_int_equal(vigil_session_ended(f->s), 0);
	feed(f, raw(f, VIGIL_MSG_EXIT, "\0\0", 2), 2);
	assert_int_equal(counters(f).type[VIGIL_MSG_EXIT].malformed, 1);
	/* Neither the torn nor the malformed EXIT is acknowledged. */
	assert_int_equal(f->n_tx, 0);
	feed(f, test_result(f, VIGIL_TEST_PASS, "a"), 3);
	feed(f, test_result(f, VIGIL_TEST_SKIP, "b"), 4);
	n = test_result(f, VIGIL_TEST_FAIL, "torn");
	tear(n);
	feed(f, n, 5);
	feed(f, exit_frame(f, 0, 0), 6);
	assert_int_equal(vigil_session_ended(f->s), 1);
	/* The valid EXIT is answered with SHUTDOWN (ack_exit): the agent may
	 * power off. */
	assert_int_equal(f->n_tx, 1);
	assert_int_equal(f->tx_type[0], VIGIL_MSG_SHUTDOWN);
	feed(f, exit_frame(f, 3, 0), 7);
	assert_int_equal(counters(f).exits_ignored, 1);
	assert_int_equal(f->n_tx, 1); /* the repeat is not */
	v = vigil_session_finish(f->s, T0 + 8);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_PASS);
	assert_null(v->primary);
	assert_int_equal(vigil_verdict_exit_code(v), 0);
	assert_int_equal(v->n_tests, 2);
	assert_int_equal(v->tests_by_outcome[VIGIL_TEST_SKIP], 1);
	fx_free(f);

	/* A non-zero status is the workload's own exit code. */
	f = fx_new(NULL);
	feed(f, exit_frame(f, 3, 0), 1);
	v = vigil_session_finish(f->s, T0 + 2);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_WORKLOAD_FAILED);
	assert_int_equal(vigil_verdict_exit_code(v), 3);
	fx_free(f);

	/* A failed test under a clean exit fails the run with 1. */
	f = fx_new(NULL);
	feed(f, test_result(f, VIGIL_TEST_FAIL, "t1"), 1);
	assert_int_equal(vigil_session_ended(f->s), 0);
	feed(f, exit_frame(f, 0, 0), 2);
	v = vigil_session_finish(f->s, T0 + 3);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_WORKLOAD_FAILED);
	assert_string_equal(v->primary->detail, "t1");
	assert_int_equal(vigil_verdict_exit_code(v), 1);
	fx_free(f);

	/* Killed by a signal. */
	f = fx_new(NULL);
	feed(f, exit_frame(f, -1, 9), 1);
	v = vigil_session_finish(f->s, T0 + 2);
	assert_int_equal(vigil_verdict_exit_code(v), 123);
	fx_free(f);
}

static void tune_watch(struct vigil_session_opts *o)
{
	o->mode = VIGIL_MODE_WATCH;
}

/* A caller built before ack_exit existed: its sz ends before the field. */
static void tune_old_caller(struct vigil_session_opts *o)
{
	o->ack_exit = true; /* beyond its sz: not taken */
	o->sz = offsetof(struct vigil_session_opts, ack_exit);
}

/*
 * Without ack_exit (attach and watch: an observer of a guest it did not
 * start) a valid EXIT is recorded and answered with nothing; an explicit
 * request still sends SHUTDOWN.
 */
static void test_exit_not_acknowledged(void **state)
{
	void (*tunes[])(struct vigil_session_opts *) = { NULL, tune_watch, tune_old_caller };

	(void)state;
	for (size_t i = 0; i < sizeof(tunes) / sizeof(tunes[0]); i++) {
		struct fx *f = fx_new(tunes[i]);

		feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 1);
		feed(f, exit_frame(f, 0, 0), 2);
		assert_int_equal(f->count[VIGIL_EV_EXIT], 1);
		assert_int_equal(vigil_session_ended(f->s), tunes[i] != tune_watch);
		assert_int_equal(f->n_tx, 0);
		assert_int_equal(counters(f).tx_frames, 0);
		assert_int_equal(counters(f).tx_errors, 0);
		assert_int_equal(vigil_session_request_shutdown(f->s, T0 + 3), 0);
		assert_int_equal(f->n_tx, 1);
		assert_int_equal(f->tx_type[0], VIGIL_MSG_SHUTDOWN);
		assert_int_equal(vigil_session_finish(f->s, T0 + 4)->outcome, VIGIL_OUTCOME_PASS);
		fx_free(f);
	}
}

static void test_beats_through_session(void **state)
{
	struct fx *f = fx_new(NULL);
	struct vigil_beat b[3] = { bt(100, 1, 0), bt(101, 1, 0), bt(102, 1, 0) };
	size_t n;

	(void)state;
	n = beats(f, b, 3);
	tear(n);
	feed(f, n, 1);
	assert_int_equal(counters(f).tracker.drop_malformed, 3);
	assert_int_equal(counters(f).tracker.tracked, 0);
	/* A malformed record (pid 1) spoils the whole frame. */
	n = beats(f, b, 3);
	vigil_put32(PL + 40, 1);
	n = seal(f, VIGIL_MSG_BEAT, 120);
	feed(f, n, 2);
	assert_int_equal(counters(f).type[VIGIL_MSG_BEAT].malformed, 1);
	assert_int_equal(counters(f).tracker.drop_malformed, 6);
	assert_int_equal(counters(f).tracker.tracked, 0);
	feed(f, beats(f, b, 3), 3);
	assert_int_equal(counters(f).tracker.tracked, 3);
	assert_int_equal(f->count[VIGIL_EV_PROCESS_NEW], 3);
	/* The same frame again: every record out of order. */
	f->seq--;
	feed(f, beats(f, b, 3), 4);
	assert_int_equal(counters(f).tracker.drop_out_of_order, 3);
	fx_free(f);
}

static void tune_bucket(struct vigil_session_opts *o)
{
	o->beat_rate_per_s = 10;
	o->beat_burst = 5;
}

static void test_token_bucket(void **state)
{
	struct fx *f = fx_new(tune_bucket);
	struct vigil_beat b[8];

	(void)state;
	for (int i = 0; i < 8; i++)
		b[i] = bt(200 + i, 1, 0);
	feed(f, beats(f, b, 8), 0);
	assert_int_equal(counters(f).tracker.beats, 5);
	assert_int_equal(counters(f).tracker.drop_throttled, 3);
	/* 300 ms later: 3 tokens. */
	for (int i = 0; i < 8; i++)
		b[i].nonce = 2;
	feed(f, beats(f, b, 8), 300 * MS);
	assert_int_equal(counters(f).tracker.beats, 8);
	assert_int_equal(counters(f).tracker.drop_throttled, 8);
	/* A long quiet refills only up to the burst. */
	for (int i = 0; i < 8; i++)
		b[i].nonce = 3;
	feed(f, beats(f, b, 8), 3600 * S);
	assert_int_equal(counters(f).tracker.beats, 13);
	fx_free(f);
}

static void test_output_and_evidence(void **state)
{
	struct fx *f = fx_new(NULL);
	size_t n;
	uint32_t ne;
	const struct vigil_evidence *e;
	struct vigil_dmesg d = { .level = 0,
				 .kmsg_seq = 9,
				 .ts_us = 77,
				 .text = (const uint8_t *)"Kernel panic - not syncing\n",
				 .text_len = 27 };

	(void)state;
	n = raw(f, VIGIL_MSG_STDOUT, "hello\n", 6);
	tear(n);
	feed(f, n, 1);
	/* A torn chunk is shown, flagged. */
	assert_int_equal(f->count[VIGIL_EV_OUTPUT], 1);
	assert_false(f->last_crc_ok);
	assert_int_equal(counters(f).output_torn, 1);
	feed(f, raw(f, VIGIL_MSG_STDERR, "oops", 4), 2);
	assert_true(f->last_crc_ok);
	assert_string_equal(f->last_text, "oops");
	/* A panic in the kernel log is the crash. */
	feed(f, seal(f, VIGIL_MSG_DMESG, vigil_dmesg_encode(PL, PCAP, &d)), 3);
	assert_int_equal(f->last[VIGIL_EV_OUTPUT].output.kmsg_seq, 9);
	assert_string_equal(f->last_text, "Kernel panic - not syncing\n");
	assert_int_equal(vigil_session_ended(f->s), 1);
	assert_int_equal(f->count[VIGIL_EV_FINDING], 1);
	feed(f, raw(f, VIGIL_MSG_DMESG, "\x01", 1), 4); /* too short */
	assert_int_equal(counters(f).type[VIGIL_MSG_DMESG].malformed, 1);
	vigil_session_console_line(f->s, T0 + 5, "console says hi", 15);
	/* The runner's report of the same crash adds its line, not a finding. */
	vigil_session_guest_crashed(f->s, T0 + 6, "pvpanic");
	vigil_session_console_line(f->s, T0 + 7, "after", 5);
	assert_int_equal(f->count[VIGIL_EV_FINDING], 1);

	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 8);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_GUEST_CRASH);
	assert_int_equal(vigil_verdict_exit_code(v), 126);
	assert_int_equal(v->n_findings, 1);
	assert_true(v->findings[0].fatal);
	assert_int_equal(v->findings[0].kind, VIGIL_KT_PANIC);
	assert_string_equal(v->findings[0].detail, "Kernel panic - not syncing");
	assert_int_equal(v->counters->kernel_trouble[VIGIL_KT_PANIC], 1);
	/* Evidence explains the finding: neither the workload's output nor the
	 * unrelated console lines. */
	e = NULL;
	ne = vigil_verdict_finding_evidence(v, 0, &e);
	assert_int_equal(ne, 2);
	assert_int_equal(v->n_evidence, 2);
	assert_string_equal(e[0].line, "Kernel panic - not syncing");
	assert_int_equal(e[0].source, VIGIL_MSG_DMESG);
	assert_string_equal(e[1].line, "pvpanic");
	assert_int_equal(e[1].source, VIGIL_SOURCE_CONSOLE);
	assert_int_equal(vigil_verdict_finding_evidence(v, 1, &e), 0);
	assert_null(e);
	fx_free(f);
}

/* ---- watchdog, pauses, VM stops ---------------------------------------- */

static void tune_watchdog(struct vigil_session_opts *o)
{
	o->workload_duration_ns = 10 * S;
}

static void test_watchdog_pause_resume(void **state)
{
	struct fx *f = fx_new(tune_watchdog);

	(void)state;
	assert_int_equal(vigil_session_tick(f->s, T0), VIGIL_DEADLINE_NONE);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 1 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_START, "boot-storm"), 1 * S);
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 11 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_PAUSE, ""), 3 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_PAUSE, ""), 4 * S); /* counted, not stacked */
	assert_int_equal(counters(f).scenario_double_pause, 1);
	/* While paused the watchdog cannot fire. */
	vigil_session_tick(f->s, T0 + 20 * S);
	assert_int_equal(vigil_session_ended(f->s), 0);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_RESUME, ""), 21 * S);
	/* Paused 18 s: the deadline moved from 11 s to 29 s. */
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 29 * S);
	vigil_session_tick(f->s, T0 + 29 * S - 1);
	assert_int_equal(vigil_session_ended(f->s), 0);
	vigil_session_tick(f->s, T0 + 29 * S);
	assert_int_equal(vigil_session_ended(f->s), 1);

	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 30 * S);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_WATCHDOG_TIMEOUT);
	assert_int_equal(vigil_verdict_exit_code(v), 124);
	assert_int_equal(v->workload_pause_ns, 18 * S);
	assert_int_equal(v->n_scenarios, 1);
	assert_int_equal(v->scenarios[0].pauses, 1);
	fx_free(f);
}

static void tune_watch_budget(struct vigil_session_opts *o)
{
	o->workload_duration_ns = 10 * S;
	o->mode = VIGIL_MODE_WATCH;
}

/* Watch mode has no EXIT: the budget is the scenarios' running time. */
static void test_scenarios_run_time(void **state)
{
	struct fx *f = fx_new(tune_watch_budget);

	(void)state;
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_END, "x"), 0); /* nothing runs */
	assert_int_equal(counters(f).scenario_unmatched, 1);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_START, "a"), 0);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_PAUSE, "a"), 2 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_RESUME, "a"), 5 * S);
	assert_int_equal(f->last[VIGIL_EV_SCENARIO].scenario.pause_ns, 3 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_END, "a"), 7 * S);
	assert_int_equal(f->last[VIGIL_EV_SCENARIO].scenario.run_ns, 4 * S);
	/* Between scenarios nothing counts against the budget. */
	assert_int_equal(vigil_session_next_deadline(f->s), VIGIL_DEADLINE_NONE);
	/* The second scenario gets what is left: 10 - 4 = 6 s. */
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_START, "b"), 100 * S);
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 106 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_END, "b"), 101 * S);
	/* A torn START does not start anything. */
	size_t n = scenario(f, VIGIL_MSG_SCENARIO_START, "c");

	tear(n);
	feed(f, n, 102 * S);
	assert_int_equal(counters(f).type[VIGIL_MSG_SCENARIO_START].crc_rejected, 1);

	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 200 * S);

	assert_int_equal(v->n_scenarios, 2);
	assert_string_equal(v->scenarios[0].name, "a");
	assert_int_equal(v->scenarios[0].run_ns, 4 * S);
	assert_int_equal(v->scenarios[0].pause_ns, 3 * S);
	assert_true(v->scenarios[0].ended);
	assert_int_equal(v->scenarios[1].run_ns, 1 * S);
	assert_int_equal(v->workload_run_ns, 5 * S);
	assert_int_equal(v->timeline.workload_start_ns, 1); /* at t 0: the earliest stamp */
	fx_free(f);
}

static void tune_stall(struct vigil_session_opts *o)
{
	o->stall_threshold_ns = 1 * S;
	o->workload_duration_ns = 10 * S;
}

static void test_vm_stop_excluded(void **state)
{
	struct fx *f = fx_new(tune_stall);
	struct vigil_beat b = bt(300, 1, 0);

	(void)state;
	feed(f, beats(f, &b, 1), 0);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_START, "s"), 0);
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 1 * S);
	assert_int_equal(vigil_session_vm_stopped(f->s, T0 + 500 * MS), 1);
	assert_int_equal(vigil_session_vm_stopped(f->s, T0 + 600 * MS), 0);
	/* A paused VM never stalls and its watchdog does not run. */
	assert_int_equal(vigil_session_tick(f->s, T0 + 100 * S), VIGIL_DEADLINE_NONE);
	assert_int_equal(f->count[VIGIL_EV_STALL], 0);
	assert_int_equal(vigil_session_ended(f->s), 0);
	assert_int_equal(vigil_session_vm_resumed(f->s, T0 + 100 * S), 1);
	assert_int_equal(f->last[VIGIL_EV_VM_RESUMED].vm.stopped_ns, 99500 * MS);
	/* 0.5 s of the threshold were left. */
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 100500 * MS);
	vigil_session_tick(f->s, T0 + 100500 * MS - 1);
	assert_int_equal(f->count[VIGIL_EV_STALL], 0);
	vigil_session_tick(f->s, T0 + 100500 * MS);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_int_equal(f->last[VIGIL_EV_STALL].process.silence_ns, 1 * S);
	/* Watchdog: 10 s of runnable time from SYS_RDY = host 109.5 s. */
	vigil_session_tick(f->s, T0 + 109 * S);
	assert_int_equal(vigil_session_ended(f->s), 0);
	vigil_session_tick(f->s, T0 + 109500 * MS);
	assert_int_equal(vigil_session_ended(f->s), 1);
	assert_int_equal(counters(f).vm_stopped_ns, 99500 * MS);
	fx_free(f);
}

/*
 * The host stops reading (its outputs backlogged): like a VM stop for the
 * clocks, with no event; overlapping a VM stop, the clock runs again only
 * when neither holds it.
 */
static void test_host_read_pause_excluded(void **state)
{
	struct fx *f = fx_new(tune_stall);
	struct vigil_beat b = bt(300, 1, 0);

	(void)state;
	feed(f, beats(f, &b, 1), 0);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	assert_int_equal(vigil_session_host_paused(f->s, T0 + 500 * MS, true), 1);
	assert_int_equal(vigil_session_host_paused(f->s, T0 + 600 * MS, true), 0);
	assert_int_equal(vigil_session_tick(f->s, T0 + 20 * S), VIGIL_DEADLINE_NONE);
	assert_int_equal(f->count[VIGIL_EV_STALL], 0);
	/* a VM stop inside the pause, outlasting it */
	assert_int_equal(vigil_session_vm_stopped(f->s, T0 + 21 * S), 1);
	assert_int_equal(vigil_session_host_paused(f->s, T0 + 30 * S, false), 1);
	assert_int_equal(vigil_session_tick(f->s, T0 + 35 * S), VIGIL_DEADLINE_NONE);
	assert_int_equal(vigil_session_vm_resumed(f->s, T0 + 40 * S), 1);
	assert_int_equal(f->count[VIGIL_EV_VM_STOPPED], 1); /* the host pause raised none */
	/* 0.5 s of the threshold were left at the first freeze */
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 40500 * MS);
	vigil_session_tick(f->s, T0 + 40500 * MS - 1);
	assert_int_equal(f->count[VIGIL_EV_STALL], 0);
	vigil_session_tick(f->s, T0 + 40500 * MS);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_int_equal(counters(f).host_read_pauses, 1);
	assert_int_equal(counters(f).host_read_paused_ns, 29500 * MS);
	assert_int_equal(counters(f).vm_stopped_ns, 19 * S);
	fx_free(f);
}

static void tune_fail(struct vigil_session_opts *o)
{
	o->stall_threshold_ns = 1 * S;
	o->on_stall = VIGIL_ON_STALL_FAIL;
}

static void test_stall_fail_and_recovery(void **state)
{
	struct fx *f = fx_new(tune_fail);
	struct vigil_beat b = bt(400, 1, 0);

	(void)state;
	feed(f, beats(f, &b, 1), 0);
	vigil_session_tick(f->s, T0 + 2 * S);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_false(f->last[VIGIL_EV_STALL].process.host_starved);
	assert_int_equal(vigil_session_ended(f->s), 1);
	b.nonce = 2;
	feed(f, beats(f, &b, 1), 5 * S);
	assert_int_equal(f->count[VIGIL_EV_RECOVERY], 1);
	assert_int_equal(f->last[VIGIL_EV_RECOVERY].process.silence_ns, 5 * S);

	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 6 * S);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_PROCESS_STALL);
	assert_int_equal(v->primary->pid, 400);
	assert_true(v->primary->fatal);
	assert_int_equal(v->primary->silence_ns, 2 * S);
	assert_int_equal(v->primary->recovered_ns, 5 * S);
	assert_int_equal(v->primary->recovery_silence_ns, 5 * S);
	assert_int_equal(vigil_verdict_exit_code(v), 121);
	fx_free(f);
}

static void test_host_starved(void **state)
{
	struct fx *f = fx_new_probe(tune_fail, true);
	struct vigil_beat b = bt(500, 1, 0);

	(void)state;
	f->have_probe = true;
	f->cpu_ns = 1 * S;
	vigil_session_tick(f->s, T0); /* first probe sample */
	feed(f, beats(f, &b, 1), 0);
	/* The vCPUs get nothing from here on. */
	for (uint64_t t = 250 * MS; t < 1 * S; t += 250 * MS)
		vigil_session_tick(f->s, T0 + t);
	vigil_session_tick(f->s, T0 + 1 * S);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_true(f->last[VIGIL_EV_STALL].process.host_starved);

	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 2 * S);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_HOST_STARVED);
	assert_int_equal(v->counters->tracker.host_starved, 1);
	fx_free(f);

	/* With CPU time flowing, the same silence is the process's. */
	f = fx_new_probe(tune_fail, true);
	f->have_probe = true;
	vigil_session_tick(f->s, T0);
	b.nonce = 1;
	feed(f, beats(f, &b, 1), 0);
	for (uint64_t t = 250 * MS; t <= 1 * S; t += 250 * MS) {
		f->cpu_ns += 100 * MS;
		vigil_session_tick(f->s, T0 + t);
	}
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_false(f->last[VIGIL_EV_STALL].process.host_starved);
	v = vigil_session_finish(f->s, T0 + 2 * S);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_PROCESS_STALL);
	fx_free(f);
}

/*
 * The host stops QEMU some time after the last beat and after the probe
 * sample that follows it: the vCPU time before the stop must not hide the
 * starvation at the end of the silence.
 */
static void test_host_starved_late_stop(void **state)
{
	struct fx *f = fx_new_probe(tune_fail, true);
	struct vigil_beat b = bt(600, 1, 0);

	(void)state;
	f->have_probe = true;
	vigil_session_tick(f->s, T0);
	feed(f, beats(f, &b, 1), 0);
	/* The guest runs hard for 300 ms of the 1 s silence, then gets nothing. */
	for (uint64_t t = 50 * MS; t < 1 * S; t += 50 * MS) {
		if (t <= 300 * MS)
			f->cpu_ns += 50 * MS;
		vigil_session_tick(f->s, T0 + t);
	}
	assert_int_equal(f->count[VIGIL_EV_STALL], 0);
	vigil_session_tick(f->s, T0 + 1 * S);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_true(f->last[VIGIL_EV_STALL].process.host_starved);
	assert_int_equal(vigil_session_finish(f->s, T0 + 2 * S)->outcome,
			 VIGIL_OUTCOME_HOST_STARVED);
	fx_free(f);

	/* CPU time inside the recent window (the last quarter of the
	 * deadline) makes it the process's stall. */
	f = fx_new_probe(tune_fail, true);
	f->have_probe = true;
	vigil_session_tick(f->s, T0);
	b.nonce = 1;
	feed(f, beats(f, &b, 1), 0);
	for (uint64_t t = 50 * MS; t < 1 * S; t += 50 * MS) {
		if (t > 800 * MS && t <= 900 * MS)
			f->cpu_ns += 10 * MS;
		vigil_session_tick(f->s, T0 + t);
	}
	vigil_session_tick(f->s, T0 + 1 * S);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_false(f->last[VIGIL_EV_STALL].process.host_starved);
	assert_int_equal(vigil_session_finish(f->s, T0 + 2 * S)->outcome,
			 VIGIL_OUTCOME_PROCESS_STALL);
	fx_free(f);

	/* No probe sample inside the silence (the only one predates the
	 * beat): nothing to judge by, a plain stall even though the CPU
	 * count never moved. */
	f = fx_new_probe(tune_fail, true);
	f->have_probe = true;
	vigil_session_tick(f->s, T0);
	b.nonce = 1;
	feed(f, beats(f, &b, 1), 100 * MS);
	vigil_session_tick(f->s, T0 + 1100 * MS);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_false(f->last[VIGIL_EV_STALL].process.host_starved);
	fx_free(f);
}

/*
 * A pid with a short deadline (300 ms, beating every 100 ms) and the host
 * stopping QEMU about 100 ms after its last beat, at every phase against
 * the probe's sampling, with tick() driven by the session's own deadlines
 * as a runner does: always HOST_STARVED. The probe's period shrinks to fit
 * the deadline.
 */
static void test_host_starved_short_deadline(void **state)
{
	(void)state;
	for (uint64_t phase = 0; phase < 250 * MS; phase += 7 * MS) {
		struct fx *f = fx_new_probe(tune_fail, true);
		struct vigil_beat b = bt(800, 1, 300);
		uint64_t t = 0, stop = phase + 110 * MS;

		f->have_probe = true;
		vigil_session_tick(f->s, T0);
		/* The guest runs (and the pid beats every 100 ms) until phase. */
		for (uint64_t beat_at = 0; beat_at <= phase; beat_at += 100 * MS) {
			b.nonce++;
			feed(f, beats(f, &b, 1), beat_at);
		}
		b.nonce++;
		feed(f, beats(f, &b, 1), phase);
		uint64_t next = vigil_session_next_deadline(f->s);

		assert_true(next <= T0 + phase + 300 * MS / 8);
		while (f->count[VIGIL_EV_STALL] == 0) {
			next = vigil_session_next_deadline(f->s);
			assert_true(next != VIGIL_DEADLINE_NONE);
			t = next - T0;
			/* a running guest: 1 ms of vCPU time per ms until the stop */
			f->cpu_ns = (t < stop ? t : stop);
			vigil_session_tick(f->s, next);
			assert_true(t <= phase + 400 * MS);
		}
		assert_true(f->last[VIGIL_EV_STALL].process.host_starved);
		assert_int_equal(f->last[VIGIL_EV_STALL].process.pid, 800);
		fx_free(f);
	}
}

static void tune_long_deadline(struct vigil_session_opts *o)
{
	o->stall_threshold_ns = 600 * S;
	o->on_stall = VIGIL_ON_STALL_FAIL;
}

/*
 * A deadline longer than the probe ring reaches back: the window is what the
 * ring holds (256 samples), the judgement still works, and the ring does not
 * grow.
 */
static void test_host_starved_long_deadline(void **state)
{
	struct fx *f = fx_new_probe(tune_long_deadline, true);
	struct vigil_beat b = bt(700, 1, 0);
	uint64_t t = 0;

	(void)state;
	f->have_probe = true;
	vigil_session_tick(f->s, T0);
	feed(f, beats(f, &b, 1), 0);
	/* CPU flows for the first 500 s of the 600 s silence, then stops:
	 * the last 64 s the ring covers are starved. */
	for (t = 250 * MS; t < 600 * S; t += 250 * MS) {
		if (t <= 500 * S)
			f->cpu_ns += 10 * MS;
		vigil_session_tick(f->s, T0 + t);
	}
	assert_int_equal(f->count[VIGIL_EV_STALL], 0);
	vigil_session_tick(f->s, T0 + 600 * S);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_true(f->last[VIGIL_EV_STALL].process.host_starved);
	fx_free(f);

	/* Same, but the CPU flows until 590 s: inside the ring's reach. */
	f = fx_new_probe(tune_long_deadline, true);
	f->have_probe = true;
	vigil_session_tick(f->s, T0);
	feed(f, beats(f, &b, 1), 0);
	for (t = 250 * MS; t < 600 * S; t += 250 * MS) {
		if (t <= 590 * S)
			f->cpu_ns += 10 * MS;
		vigil_session_tick(f->s, T0 + t);
	}
	vigil_session_tick(f->s, T0 + 600 * S);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_false(f->last[VIGIL_EV_STALL].process.host_starved);
	fx_free(f);
}

/* ---- snapshots --------------------------------------------------------- */

static void test_snapshot_flow(void **state)
{
	struct fx *f = fx_new(NULL);
	size_t n;

	(void)state;
	feed(f, snap_req(f, 7, VIGIL_SNAP_MEMORY_DUMP), 1);
	assert_int_equal(f->snap_calls, 1);
	assert_int_equal(f->snap_last_id, 7);
	assert_int_equal(f->count[VIGIL_EV_SNAPSHOT_REQUEST], 1);
	assert_int_equal(f->n_reply, 0);
	/* Repeat of the in-flight id: counted, no second reply. */
	feed(f, snap_req(f, 7, VIGIL_SNAP_MEMORY_DUMP), 2);
	assert_int_equal(f->n_reply, 0);
	assert_int_equal(counters(f).snapshot_duplicates, 1);
	/* Another id while busy: -EBUSY at once. */
	feed(f, snap_req(f, 8, VIGIL_SNAP_CPU_STATE), 3);
	assert_int_equal(f->n_reply, 1);
	assert_int_equal(f->reply[0].id, 8);
	assert_int_equal(f->reply[0].status, -EBUSY);
	/* Unknown kind: -EOPNOTSUPP, never in flight. */
	feed(f, snap_req(f, 9, 4), 4);
	assert_int_equal(f->reply[1].status, -EOPNOTSUPP);
	assert_int_equal(f->snap_calls, 1);
	/* Torn and malformed requests get no reply. */
	n = snap_req(f, 10, 1);
	tear(n);
	feed(f, n, 5);
	feed(f, snap_req(f, 0, 1), 6);
	feed(f, snap_req(f, 11, 0), 7);
	assert_int_equal(f->n_reply, 2);
	assert_int_equal(counters(f).type[VIGIL_MSG_SNAPSHOT_REQUEST].malformed, 2);
	assert_int_equal(counters(f).type[VIGIL_MSG_SNAPSHOT_REQUEST].crc_rejected, 1);
	/* Completion. */
	assert_int_equal(vigil_session_snapshot_done(f->s, 99, 0, NULL, T0 + 8), -ENOENT);
	assert_int_equal(vigil_session_snapshot_done(f->s, 7, 0, "/var/dump.elf", T0 + 8), 0);
	assert_int_equal(f->n_reply, 3);
	assert_int_equal(f->reply[2].id, 7);
	assert_int_equal(f->reply[2].status, 0);
	assert_string_equal(f->reply[2].detail, "/var/dump.elf");
	assert_int_equal(f->count[VIGIL_EV_SNAPSHOT_DONE], 3);
	/* The guest missed the reply and asks again: same answer. */
	feed(f, snap_req(f, 7, VIGIL_SNAP_MEMORY_DUMP), 9);
	assert_int_equal(f->n_reply, 4);
	assert_string_equal(f->reply[3].detail, "/var/dump.elf");
	assert_int_equal(f->snap_calls, 1);
	/* A provider refusal is the reply's status. */
	f->snap_ret = -EIO;
	feed(f, snap_req(f, 12, VIGIL_SNAP_HOST_COUNTERS), 10);
	assert_int_equal(f->reply[4].id, 12);
	assert_int_equal(f->reply[4].status, -EIO);
	assert_int_equal(counters(f).snapshot_refused, 1);
	fx_free(f);
}

static void test_snapshot_no_provider(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	vigil_session_free(f->s);
	f->h.snapshot.start = NULL;
	assert_int_equal(vigil_session_new(&f->o, &f->h, T0, &f->s), 0);
	feed(f, snap_req(f, 5, VIGIL_SNAP_MEMORY_DUMP), 1);
	assert_int_equal(f->n_reply, 1);
	assert_int_equal(f->reply[0].status, -EOPNOTSUPP);
	fx_free(f);
}

/* ---- pings, link, timeouts, clock -------------------------------------- */

static void tune_ping(struct vigil_session_opts *o)
{
	o->ping_interval_ns = 1 * S;
}

static void test_ping_pong(void **state)
{
	struct fx *f = fx_new(tune_ping);
	struct vigil_pong p = { 0 };

	(void)state;
	vigil_session_link_up(f->s, T0);
	f->seq = 0;
	feed(f, hello(f, 1), 1 * MS);
	vigil_session_tick(f->s, T0 + 2 * MS);
	assert_int_equal(counters(f).pings, 1);
	assert_int_not_equal(f->last_ping_token, 0);
	/* A pong for a token never sent. */
	p.token = f->last_ping_token + 100;
	feed(f, seal(f, VIGIL_MSG_PONG, vigil_pong_encode(PL, PCAP, &p)), 3 * MS);
	assert_int_equal(counters(f).pong_unmatched, 1);
	p.token = f->last_ping_token;
	p.guest_mono_ns = 42;
	feed(f, seal(f, VIGIL_MSG_PONG, vigil_pong_encode(PL, PCAP, &p)), 7 * MS);
	assert_int_equal(f->last[VIGIL_EV_PONG].pong.rtt_ns, 5 * MS);
	assert_int_equal(counters(f).rtt_last_ns, 5 * MS);
	/* Next ping one interval later. */
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 2 * MS + 1 * S);
	/* A writer that refuses is counted. */
	f->writer_ret = -EAGAIN;
	vigil_session_tick(f->s, T0 + 2 * S);
	assert_int_equal(counters(f).tx_errors, 1);
	fx_free(f);
}

static void tune_link(struct vigil_session_opts *o)
{
	o->link_grace_ns = 2 * S;
}

static void test_link_lost(void **state)
{
	struct fx *f = fx_new(tune_link);
	size_t n;

	(void)state;
	vigil_session_link_up(f->s, T0);
	/* Half a frame, then the link drops: the held bytes go. */
	n = hello(f, 1);
	assert_true(vigil_session_feed(f->s, fb, n / 2, T0 + 1) == 0);
	vigil_session_link_down(f->s, T0 + 1 * S);
	vigil_session_link_up(f->s, T0 + 2 * S); /* back within the grace */
	f->seq = 0;
	feed(f, hello(f, 1), 2 * S);
	assert_int_equal(f->count[VIGIL_EV_HELLO], 1);
	assert_int_equal(counters(f).stream.resets, 1);
	vigil_session_tick(f->s, T0 + 10 * S);
	assert_int_equal(vigil_session_ended(f->s), 0);
	vigil_session_link_down(f->s, T0 + 11 * S);
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 13 * S);
	vigil_session_tick(f->s, T0 + 13 * S);
	assert_int_equal(vigil_session_ended(f->s), 1);
	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 14 * S);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_LINK_LOST);
	fx_free(f);
}

static void tune_timeouts(struct vigil_session_opts *o)
{
	o->boot_timeout_ns = 5 * S;
	o->run_timeout_ns = 60 * S;
}

static void test_boot_and_run_timeout(void **state)
{
	struct fx *f = fx_new(tune_timeouts);

	(void)state;
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 5 * S);
	vigil_session_vm_stopped(f->s, T0 + 1 * S);
	vigil_session_vm_resumed(f->s, T0 + 3 * S);
	/* Boot timeout runs on runnable time: moved by the 2 s stop. */
	vigil_session_tick(f->s, T0 + 6 * S);
	assert_int_equal(vigil_session_ended(f->s), 0);
	vigil_session_tick(f->s, T0 + 7 * S);
	assert_int_equal(vigil_session_ended(f->s), 1);
	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 8 * S);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_BOOT_TIMEOUT);
	assert_int_equal(vigil_verdict_exit_code(v), 127);
	fx_free(f);

	f = fx_new(tune_timeouts);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 1 * S);
	/* The run timeout runs on host time: a stop does not move it. */
	vigil_session_vm_stopped(f->s, T0 + 10 * S);
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 60 * S);
	vigil_session_tick(f->s, T0 + 60 * S);
	assert_int_equal(vigil_session_ended(f->s), 1);
	v = vigil_session_finish(f->s, T0 + 61 * S);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_RUN_TIMEOUT);
	/* The stop lasted until finish. */
	assert_int_equal(v->counters->vm_stopped_ns, 51 * S);
	fx_free(f);
}

static void test_finish_without_exit(void **state)
{
	struct fx *f = fx_new(NULL);
	const struct vigil_verdict *v;

	(void)state;
	v = vigil_session_finish(f->s, T0 + 1);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_BOOT_TIMEOUT);
	assert_ptr_equal(vigil_session_finish(f->s, T0 + 2), v);
	assert_int_equal(f->count[VIGIL_EV_RUN_END], 1);
	fx_free(f);

	/* After SYS_RDY, with the link fine: the caller stopped the run, which
	 * nothing the session saw explains. */
	f = fx_new(NULL);
	vigil_session_link_up(f->s, T0);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 1);
	v = vigil_session_finish(f->s, T0 + 2);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_HARNESS_ERROR);
	assert_int_equal(vigil_verdict_exit_code(v), 125);
	assert_non_null(strstr(v->primary->detail, "link up"));
	fx_free(f);

	/* Never told of a link (bytes came all the same): the same. */
	f = fx_new(NULL);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 1);
	assert_int_equal(vigil_session_finish(f->s, T0 + 2)->outcome, VIGIL_OUTCOME_HARNESS_ERROR);
	fx_free(f);

	/* The link closed and the run was finished within its grace: lost. */
	f = fx_new(NULL);
	vigil_session_link_up(f->s, T0);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 1);
	vigil_session_link_down(f->s, T0 + 2);
	v = vigil_session_finish(f->s, T0 + 3);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_LINK_LOST);
	assert_int_equal(vigil_verdict_exit_code(v), 124);
	fx_free(f);
}

static void test_watch_mode_pass(void **state)
{
	struct fx *f = fx_new(tune_watch);

	(void)state;
	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 1);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_PASS);
	fx_free(f);
}

static void test_clock_regression_and_jump(void **state)
{
	struct fx *f = fx_new(tune_stall);
	struct vigil_beat b = bt(600, 1, 0);

	(void)state;
	feed(f, beats(f, &b, 1), 5 * S);
	/* Time going backwards is clamped: the beat is not from the past. */
	b.nonce = 2;
	assert_true(vigil_session_feed(f->s, fb, beats(f, &b, 1), T0 + 1 * S) >= 0);
	assert_int_equal(counters(f).clock_regressions, 1);
	assert_int_equal(vigil_session_tick(f->s, T0 + 5 * S), T0 + 6 * S);
	/* Called far past the deadline it was given: a forward jump. */
	vigil_session_tick(f->s, T0 + 60 * S);
	assert_int_equal(counters(f).clock_forward_jumps, 1);
	fx_free(f);
}

static void test_harness_error_and_shutdown(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	assert_int_equal(vigil_session_request_shutdown(f->s, T0 + 1), 0);
	assert_int_equal(f->tx_type[0], VIGIL_MSG_SHUTDOWN);
	vigil_session_harness_error(f->s, T0 + 2, "qemu died");
	assert_int_equal(vigil_session_ended(f->s), 1);
	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 3);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_HARNESS_ERROR);
	assert_string_equal(v->primary->detail, "qemu died");
	assert_int_equal(vigil_verdict_exit_code(v), 125);
	fx_free(f);
}

static void test_flows_per_scenario(void **state)
{
	struct fx *f = fx_new(NULL);
	struct vigil_flow fl[2] = { 0 };

	(void)state;
	for (int i = 0; i < 2; i++) {
		fl[i].family = 4;
		fl[i].protocol = 6;
		fl[i].event = VIGIL_FLOW_OPENED;
		fl[i].src_port = (uint16_t)(1000 + i);
		fl[i].dst_port = 80;
		fl[i].bytes = 100;
	}
	feed(f, seal(f, VIGIL_MSG_FLOW, vigil_flows_encode(PL, PCAP, fl, 1)), 1);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_START, "net"), 2);
	feed(f, seal(f, VIGIL_MSG_FLOW, vigil_flows_encode(PL, PCAP, fl, 2)), 3);
	/* A bad family spoils the frame. */
	size_t n = seal(f, VIGIL_MSG_FLOW, vigil_flows_encode(PL, PCAP, fl, 1));

	PL[0] = 5;
	n = seal(f, VIGIL_MSG_FLOW, 64);
	feed(f, n, 4);
	assert_int_equal(counters(f).type[VIGIL_MSG_FLOW].malformed, 1);
	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 5);

	assert_int_equal(v->counters->flows.unique, 2);
	assert_int_equal(v->counters->flows.bytes, 200);
	assert_int_equal(v->scenarios[0].flows_opened, 1);
	fx_free(f);
}

/* One FLOW event per change of a flow, none for updates or repeats. */
static void test_flow_events(void **state)
{
	struct fx *f = fx_new(NULL);
	struct vigil_flow fl = { .family = 4, .protocol = 6, .event = VIGIL_FLOW_OPENED };

	(void)state;
	fl.src_addr[0] = 127;
	fl.src_addr[3] = 1;
	memcpy(fl.dst_addr, fl.src_addr, 4);
	fl.src_port = 41000;
	fl.dst_port = 5555;
	fl.bytes = 10;
	fl.packets = 1;
	fl.pid = 321;
	feed(f, seal(f, VIGIL_MSG_FLOW, vigil_flows_encode(PL, PCAP, &fl, 1)), 1);
	assert_int_equal(f->count[VIGIL_EV_FLOW], 1);
	assert_int_equal(f->last[VIGIL_EV_FLOW].t_ns, 1);
	assert_int_equal(f->flow_last.event, VIGIL_FLOW_OPENED);
	assert_int_equal(f->flow_last.bytes, 10);
	/* A repeated OPENED and an ACTIVE change nothing. */
	feed(f, seal(f, VIGIL_MSG_FLOW, vigil_flows_encode(PL, PCAP, &fl, 1)), 2);
	fl.event = VIGIL_FLOW_ACTIVE;
	fl.bytes = 5000;
	fl.packets = 9;
	feed(f, seal(f, VIGIL_MSG_FLOW, vigil_flows_encode(PL, PCAP, &fl, 1)), 3);
	assert_int_equal(f->count[VIGIL_EV_FLOW], 1);
	/* Closed with smaller counts than seen: the event carries the totals. */
	fl.event = VIGIL_FLOW_CLOSED;
	fl.bytes = 100;
	fl.packets = 2;
	fl.pid = 0;
	feed(f, seal(f, VIGIL_MSG_FLOW, vigil_flows_encode(PL, PCAP, &fl, 1)), 4);
	assert_int_equal(f->count[VIGIL_EV_FLOW], 2);
	assert_int_equal(f->flow_last.event, VIGIL_FLOW_CLOSED);
	assert_int_equal(f->flow_last.bytes, 5000);
	assert_int_equal(f->flow_last.packets, 9);
	assert_int_equal(f->flow_last.pid, 321);
	assert_int_equal(f->flow_last.src_port, 41000);
	assert_int_equal(f->flow_last.dst_port, 5555);
	assert_memory_equal(f->flow_last.dst_addr, fl.dst_addr, 16);
	feed(f, seal(f, VIGIL_MSG_FLOW, vigil_flows_encode(PL, PCAP, &fl, 1)), 5);
	assert_int_equal(f->count[VIGIL_EV_FLOW], 2);
	/* A CLOSED for a flow never seen, in a frame with an OPENED: two. */
	struct vigil_flow two[2] = { fl, fl };

	two[0].src_port = 42000;
	two[0].bytes = 77;
	two[1].src_port = 43000;
	two[1].event = VIGIL_FLOW_OPENED;
	feed(f, seal(f, VIGIL_MSG_FLOW, vigil_flows_encode(PL, PCAP, two, 2)), 6);
	assert_int_equal(f->count[VIGIL_EV_FLOW], 4);
	assert_int_equal(f->flow_last.event, VIGIL_FLOW_OPENED);
	assert_int_equal(f->flow_last.src_port, 43000);
	/* A torn frame changes nothing. */
	two[1].src_port = 44000;
	size_t n = seal(f, VIGIL_MSG_FLOW, vigil_flows_encode(PL, PCAP, two, 2));

	tear(n);
	feed(f, n, 7);
	assert_int_equal(f->count[VIGIL_EV_FLOW], 4);
	assert_int_equal(counters(f).flows.orphan_close, 1);
	fx_free(f);
}

/* Any split of the stream gives the same state. */
static void test_split_independence(void **state)
{
	static uint8_t stream[8192];
	size_t len = 0;
	struct fx *a = fx_new(NULL);
	struct fx *b = fx_new(NULL);
	struct vigil_beat bb[4] = { bt(10, 1, 0), bt(11, 1, 0), bt(12, 1, 0), bt(13, 1, 0) };

	(void)state;
	size_t n = hello(a, 1);

	memcpy(stream + len, fb, n);
	len += n;
	n = seal(a, VIGIL_MSG_SYS_RDY, 0);
	memcpy(stream + len, fb, n);
	len += n;
	memcpy(stream + len, "garbage", 7);
	len += 7;
	n = beats(a, bb, 4);
	memcpy(stream + len, fb, n);
	len += n;
	n = raw(a, VIGIL_MSG_STDOUT, "out", 3);
	memcpy(stream + len, fb, n);
	len += n;
	n = exit_frame(a, 0, 0);
	memcpy(stream + len, fb, n);
	len += n;

	assert_true(vigil_session_feed(a->s, stream, len, T0 + 1) == 5);
	for (size_t i = 0; i < len; i++)
		vigil_session_feed(b->s, stream + i, 1, T0 + 1);
	struct vigil_session_counters ca = counters(a), cb = counters(b);

	assert_int_equal(ca.stream.garbage_bytes, 7);
	assert_int_equal(ca.stream.garbage_bytes, cb.stream.garbage_bytes);
	assert_int_equal(ca.tracker.tracked, 4);
	assert_memory_equal(&ca.tracker, &cb.tracker, sizeof(ca.tracker));
	assert_memory_equal(ca.type, cb.type, sizeof(ca.type));
	assert_memory_equal(a->count, b->count, sizeof(a->count));
	assert_int_equal(vigil_session_ended(b->s), 1);
	fx_free(a);
	fx_free(b);
}

static void test_anomaly_events(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	vigil_session_feed(f->s, (const uint8_t *)"noise", 5, T0 + 1);
	feed(f, raw(f, 0x0077, "", 0), 2);
	vigil_session_tick(f->s, T0 + 500 * MS);
	assert_int_equal(f->count[VIGIL_EV_ANOMALY], 0); /* within the period */
	vigil_session_tick(f->s, T0 + 1 * S);
	assert_int_equal(f->count[VIGIL_EV_ANOMALY], 2);
	vigil_session_tick(f->s, T0 + 3 * S);
	assert_int_equal(f->count[VIGIL_EV_ANOMALY], 2); /* nothing moved */
	fx_free(f);
}

/* garbage + header errors + 24 x oversize + frame bytes + held + reset-dropped
 * = bytes fed, in the counters, the ANOMALY events and the verdict's JSON. */
static uint64_t accounted(const struct vigil_session_counters *c)
{
	return c->stream.garbage_bytes + c->stream.header_crc_errors +
	       24 * c->stream.oversize_frames + c->stream_acct.frame_bytes +
	       c->stream_acct.held_bytes + c->stream_acct.held_dropped_bytes;
}

static void test_stream_accounting(void **state)
{
	struct fx *f = fx_new(NULL);
	struct vigil_session_counters c;
	size_t n, half;
	char *txt = NULL;

	(void)state;
	vigil_session_link_up(f->s, T0);
	vigil_session_feed(f->s, (const uint8_t *)"noiseVGL1", 9, T0 + 1); /* 5 garbage */
	c = counters(f);
	assert_int_equal(c.stream_acct.held_bytes, 4); /* a magic, waiting */
	assert_int_equal(accounted(&c), 9);
	n = hello(f, 1); /* the held "VGL1" + a HELLO: a torn header, then a frame */
	feed(f, n, 2);
	c = counters(f);
	assert_int_equal(c.stream.header_crc_errors, 1);
	assert_int_equal(c.stream.garbage_bytes, 5 + 3);
	assert_int_equal(c.stream_acct.frame_bytes, n);
	assert_int_equal(c.stream_acct.held_bytes, 0);
	assert_int_equal(accounted(&c), c.stream.bytes);
	/* an oversize header, then half a frame when the link goes down */
	memcpy(fb, "VGL1", 4);
	memset(fb + 4, 0, 20);
	vigil_put32(fb + 12, VIGIL_WIRE_MAX_PAYLOAD + 1);
	vigil_put32(fb + 20, vigil_crc32c(fb, 20));
	feed(f, 24, 3);
	n = beats(f, &(struct vigil_beat){ .pid = 50, .nonce = 1 }, 1);
	half = n / 2;
	feed(f, half, 4);
	c = counters(f);
	assert_int_equal(c.stream.oversize_frames, 1);
	assert_int_equal(c.stream_acct.held_bytes, half);
	assert_int_equal(accounted(&c), c.stream.bytes);
	vigil_session_link_down(f->s, T0 + 5);
	c = counters(f);
	assert_int_equal(c.stream_acct.held_bytes, 0);
	assert_int_equal(c.stream_acct.held_dropped_bytes, half);
	assert_int_equal(accounted(&c), c.stream.bytes);
	/* an ANOMALY names it, with the bytes it dropped */
	vigil_session_tick(f->s, T0 + 2 * S);
	{
		bool named = false;

		for (uint32_t i = 0; i < f->n_anomaly; i++)
			named |= !strcmp(f->anomaly[i], "held_dropped_bytes");
		assert_true(named);
	}
	/* the verdict shows it, and what the stream ended in */
	vigil_session_link_up(f->s, T0 + 2 * S);
	vigil_session_feed(f->s, (const uint8_t *)"VG", 2, T0 + 2 * S);
	assert_int_equal(counters(f).stream_acct.held_bytes, 2);
	const struct vigil_verdict *v = vigil_session_finish(f->s, T0 + 3 * S);

	/* the 2 bytes the stream ended in: dropped, not held */
	assert_int_equal(v->counters->stream_acct.held_bytes, 0);
	assert_int_equal(v->counters->stream_acct.held_dropped_bytes, half + 2);
	assert_int_equal(accounted(v->counters), v->counters->stream.bytes);
	assert_true(vigil_verdict_to_json(v, 0, &txt) > 0);
	assert_non_null(strstr(txt, "\"frame_bytes\":"));
	assert_non_null(strstr(txt, "\"held_bytes\":0,"));
	char want[64];

	snprintf(want, sizeof(want), "\"held_dropped_bytes\":%zu,", half + 2);
	assert_non_null(strstr(txt, want));
	free(txt);
	fx_free(f);
}

static void test_options(void **state)
{
	struct vigil_session_opts o;
	struct vigil_session *s = NULL;

	(void)state;
	vigil_session_opts_default(&o);
	o.tracker_capacity = 5000;
	assert_int_equal(vigil_session_new(&o, NULL, 0, &s), -EINVAL);
	vigil_session_opts_default(&o);
	o.flow_capacity = 1;
	assert_int_equal(vigil_session_new(&o, NULL, 0, &s), -EINVAL);
	assert_null(s);
	/* An older caller's smaller struct keeps the defaults past its end. */
	vigil_session_opts_default(&o);
	o.sz = offsetof(struct vigil_session_opts, probe_budget);
	o.tracker_capacity = 7;
	assert_int_equal(vigil_session_new(&o, NULL, 0, &s), 0);
	vigil_session_free(s);
	assert_int_equal(vigil_session_new(NULL, NULL, 0, &s), 0);
	/* No hooks: frames still dispatch, nothing crashes. */
	assert_int_equal(vigil_session_feed(s, (const uint8_t *)"x", 1, 1), 0);
	vigil_session_free(s);
	vigil_session_free(NULL);
}

/* ---- the workload watchdog from SYS_RDY -------------------------------- */

static void test_watchdog_without_scenarios(void **state)
{
	struct fx *f = fx_new(tune_watchdog);
	const struct vigil_verdict *v;

	(void)state;
	/* Nothing runs before SYS_RDY. */
	assert_int_equal(vigil_session_tick(f->s, T0 + 1 * S), VIGIL_DEADLINE_NONE);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 2 * S);
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 12 * S);
	vigil_session_tick(f->s, T0 + 12 * S - 1);
	assert_int_equal(vigil_session_ended(f->s), 0);
	vigil_session_tick(f->s, T0 + 12 * S);
	assert_int_equal(vigil_session_ended(f->s), 1);
	v = vigil_session_finish(f->s, T0 + 13 * S);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_WATCHDOG_TIMEOUT);
	assert_int_equal(v->timeline.workload_start_ns, 2 * S);
	assert_int_equal(v->n_findings, 1);
	fx_free(f);

	/* A VM stop in the middle extends it by the stop. */
	f = fx_new(tune_watchdog);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	vigil_session_vm_stopped(f->s, T0 + 3 * S);
	vigil_session_vm_resumed(f->s, T0 + 5 * S);
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 12 * S);
	vigil_session_tick(f->s, T0 + 12 * S - 1);
	assert_int_equal(vigil_session_ended(f->s), 0);
	vigil_session_tick(f->s, T0 + 12 * S);
	assert_int_equal(vigil_session_ended(f->s), 1);
	fx_free(f);

	/* A scenario pause extends it by the pause, also when the scenario
	 * ends while paused. */
	f = fx_new(tune_watchdog);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_START, "a"), 1 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_PAUSE, "a"), 2 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_RESUME, "a"), 6 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_END, "a"), 7 * S);
	/* Between scenarios the workload still runs. */
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 14 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_START, "b"), 8 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_PAUSE, "b"), 9 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_END, "b"), 10 * S);
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 15 * S);
	vigil_session_tick(f->s, T0 + 15 * S - 1);
	assert_int_equal(vigil_session_ended(f->s), 0);
	vigil_session_tick(f->s, T0 + 15 * S);
	assert_int_equal(vigil_session_ended(f->s), 1);
	v = vigil_session_finish(f->s, T0 + 16 * S);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_WATCHDOG_TIMEOUT);
	assert_int_equal(v->timeline.workload_start_ns, 1); /* SYS_RDY at t 0 */
	fx_free(f);

	/* EXIT before the duration: PASS, and nothing fires later. The
	 * watchdog stops at the EXIT itself, not at the next tick. */
	f = fx_new(tune_watchdog);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 10 * S);
	feed(f, exit_frame(f, 0, 0), 9 * S);
	assert_int_equal(vigil_session_next_deadline(f->s), VIGIL_DEADLINE_NONE);
	assert_int_equal(vigil_session_tick(f->s, T0 + 30 * S), VIGIL_DEADLINE_NONE);
	v = vigil_session_finish(f->s, T0 + 31 * S);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_PASS);
	assert_int_equal(v->n_findings, 0);
	fx_free(f);
}

/* A scenario paused before SYS_RDY holds the watchdog from its start: only
 * the part of the pause after SYS_RDY moves the deadline. */
static void test_watchdog_paused_before_ready(void **state)
{
	struct fx *f = fx_new(tune_watchdog);

	(void)state;
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_START, "early"), 1 * S);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_PAUSE, "early"), 2 * S);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 5 * S);
	/* Held: no deadline while the pause lasts. */
	assert_int_equal(vigil_session_next_deadline(f->s), VIGIL_DEADLINE_NONE);
	assert_int_equal(vigil_session_tick(f->s, T0 + 40 * S), VIGIL_DEADLINE_NONE);
	assert_int_equal(vigil_session_ended(f->s), 0);
	feed(f, scenario(f, VIGIL_MSG_SCENARIO_RESUME, "early"), 43 * S);
	/* 10 s from SYS_RDY (5 s) plus the 38 s held after it. */
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 53 * S);
	vigil_session_tick(f->s, T0 + 53 * S);
	assert_int_equal(vigil_session_ended(f->s), 1);
	assert_int_equal(vigil_session_finish(f->s, T0 + 54 * S)->outcome,
			 VIGIL_OUTCOME_WATCHDOG_TIMEOUT);
	fx_free(f);
}

/* ---- non-fatal stall findings ------------------------------------------ */

static void tune_warn(struct vigil_session_opts *o)
{
	o->stall_threshold_ns = 1 * S;
}

static void test_stall_warn_findings(void **state)
{
	struct fx *f = fx_new(tune_warn);
	struct vigil_beat b = bt(400, 1, 0);
	const struct vigil_verdict *v;
	char line[512];

	(void)state;
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	feed(f, beats(f, &b, 1), 0);
	vigil_session_tick(f->s, T0 + 2 * S);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	/* A finding, reported, that does not end the run. */
	assert_int_equal(f->count[VIGIL_EV_FINDING], 1);
	assert_int_equal(vigil_session_ended(f->s), 0);
	b.nonce = 2;
	feed(f, beats(f, &b, 1), 5 * S);
	assert_int_equal(f->count[VIGIL_EV_RECOVERY], 1);
	/* A second stall episode: a second finding, never recovered. */
	vigil_session_tick(f->s, T0 + 7 * S);
	assert_int_equal(f->count[VIGIL_EV_FINDING], 2);
	feed(f, exit_frame(f, 0, 0), 8 * S);
	v = vigil_session_finish(f->s, T0 + 9 * S);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_PASS);
	assert_null(v->primary);
	assert_int_equal(vigil_verdict_exit_code(v), 0);
	assert_int_equal(v->n_findings, 2);
	assert_int_equal(v->findings[0].outcome, VIGIL_OUTCOME_PROCESS_STALL);
	assert_false(v->findings[0].fatal);
	assert_int_equal(v->findings[0].pid, 400);
	assert_int_equal(v->findings[0].silence_ns, 2 * S);
	assert_int_equal(v->findings[0].recovered_ns, 5 * S);
	assert_int_equal(v->findings[0].recovery_silence_ns, 5 * S);
	assert_false(v->findings[1].fatal);
	assert_int_equal(v->findings[1].recovered_ns, 0);
	assert_int_equal(v->findings[1].recovery_silence_ns, 0);
	vigil_verdict_summary(v, line, sizeof(line));
	assert_non_null(strstr(line, "PASS after 9.00 s"));
	assert_non_null(strstr(line,
			       "not fatal: 2 stalls (pid 400, recovered after 5.00 s; pid 400, "
			       "not recovered)"));
	fx_free(f);

	/* A flapping pid: bounded, the rest counted. */
	f = fx_new(tune_warn);
	b = bt(401, 1, 0);
	for (uint64_t i = 0; i < SES_STALLS_TRIED; i++) {
		b.nonce = i + 1;
		feed(f, beats(f, &b, 1), i * 3 * S);
		vigil_session_tick(f->s, T0 + i * 3 * S + 2 * S);
	}
	assert_int_equal(counters(f).tracker.stalls, SES_STALLS_TRIED);
	assert_int_equal(f->count[VIGIL_EV_FINDING], 16);
	assert_int_equal(counters(f).findings_dropped, SES_STALLS_TRIED - 16);
	v = vigil_session_finish(f->s, T0 + 100 * S);
	/* No EXIT after SYS_RDY... there was no SYS_RDY: the fatal one wins. */
	assert_int_equal(v->outcome, VIGIL_OUTCOME_BOOT_TIMEOUT);
	assert_int_equal(v->n_findings, 17);
	vigil_verdict_summary(v, line, sizeof(line));
	assert_non_null(strstr(line, "16 stalls (pid 401, recovered after 3.00 s; "));
	assert_non_null(strstr(line, "; ...)"));
	assert_non_null(strstr(line, "; 4 findings not kept"));
	fx_free(f);
}

/* ---- kernel trouble ---------------------------------------------------- */

static size_t dmesg(struct fx *f, const char *text)
{
	struct vigil_dmesg d = { .level = 4,
				 .kmsg_seq = 1,
				 .ts_us = 1,
				 .text = (const uint8_t *)text,
				 .text_len = (uint32_t)strlen(text) };

	return seal(f, VIGIL_MSG_DMESG, vigil_dmesg_encode(PL, PCAP, &d));
}

static void console(struct fx *f, const char *line, uint64_t at)
{
	vigil_session_console_line(f->s, T0 + at, line, strlen(line));
}

static void test_kernel_trouble(void **state)
{
	static const char killed[] = "Out of memory: Killed process 123 (sort) total-vm:1052444kB, "
				     "anon-rss:1034764kB, file-rss:4kB, shmem-rss:0kB, UID:0 "
				     "pgtables:2096kB oom_score_adj:0";
	struct fx *f = fx_new(NULL);
	const struct vigil_evidence *e;
	const struct vigil_verdict *v;
	char line[512];
	size_t n;

	(void)state;
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	/* A warning's report on the console, then the same on DMESG. */
	console(f, "[    5.120533] WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1", 1 * S);
	console(f, "[    5.120600] Modules linked in: foo", 1 * S);
	console(f, "[    5.120700] RAX: 0000000000000000 RBX: 0000000000000001", 1 * S);
	console(f, "[    5.120800] Call Trace:", 1 * S);
	feed(f, dmesg(f, "WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1"), 1 * S);
	feed(f, dmesg(f, "Modules linked in: foo"), 1 * S);
	console(f, "[    5.200000] systemd[1]: Started foo.", 1 * S);
	console(f, "[    5.200001]  not_part+0x1/0x2", 1 * S);
	assert_int_equal(f->count[VIGIL_EV_FINDING], 1);
	/* One OOM kill, its two kmsg lines and the console's copy. */
	feed(f,
	     dmesg(f, "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
		      "mems_allowed=0,global_oom,task_memcg=/,task=sort,pid=123,uid=0"),
	     2 * S);
	feed(f, dmesg(f, killed), 2 * S);
	snprintf(line, sizeof(line), "[   40.118270] %s", killed);
	console(f, line, 2 * S);
	assert_int_equal(f->count[VIGIL_EV_FINDING], 2);
	/* A torn record is shown, not scanned. */
	n = dmesg(f, "BUG: torn");
	tear(n);
	feed(f, n, 3 * S);
	assert_int_equal(f->count[VIGIL_EV_FINDING], 2);
	/* A multi-line record: the lines after the first are its evidence. */
	feed(f, dmesg(f, "BUG: multi\nline two\nline three\n"), 3 * S);
	assert_int_equal(f->count[VIGIL_EV_FINDING], 3);
	assert_int_equal(vigil_session_ended(f->s), 0);
	feed(f, exit_frame(f, 0, 0), 4 * S);
	v = vigil_session_finish(f->s, T0 + 5 * S);

	assert_int_equal(v->outcome, VIGIL_OUTCOME_PASS);
	assert_int_equal(v->n_findings, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(v->findings[i].outcome, VIGIL_OUTCOME_KERNEL_TROUBLE);
		assert_false(v->findings[i].fatal);
	}
	assert_int_equal(v->findings[0].kind, VIGIL_KT_WARNING);
	assert_string_equal(v->findings[0].detail, "WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1");
	assert_int_equal(vigil_verdict_finding_evidence(v, 0, &e), 3);
	assert_string_equal(e[0].line, "[    5.120533] WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1");
	assert_string_equal(e[1].line, "[    5.120600] Modules linked in: foo");
	assert_string_equal(e[2].line, "[    5.120800] Call Trace:");
	assert_int_equal(e[0].source, VIGIL_SOURCE_CONSOLE);
	assert_int_equal(v->findings[1].kind, VIGIL_KT_OOM);
	assert_int_equal(v->findings[1].pid, 123);
	assert_string_equal(v->findings[1].detail, killed); /* the line that names the kill */
	assert_int_equal(vigil_verdict_finding_evidence(v, 1, &e), 2);
	assert_int_equal(v->findings[2].kind, VIGIL_KT_BUG);
	assert_int_equal(vigil_verdict_finding_evidence(v, 2, &e), 3);
	assert_string_equal(e[0].line, "BUG: multi");
	assert_string_equal(e[2].line, "line three");
	assert_int_equal(v->counters->kernel_trouble[VIGIL_KT_WARNING], 1);
	assert_int_equal(v->counters->kernel_trouble[VIGIL_KT_OOM], 1);
	assert_int_equal(v->counters->kernel_trouble[VIGIL_KT_BUG], 1);
	vigil_verdict_summary(v, line, sizeof(line));
	assert_non_null(strstr(line, "; not fatal: 1 kernel BUG, 1 kernel warning, 1 OOM kill"));
	fx_free(f);
}

static void tune_fail_on(struct vigil_session_opts *o)
{
	o->fail_on = 1u << VIGIL_KT_OOPS | 1u << VIGIL_KT_WARNING;
}

static void test_kernel_trouble_fail_on(void **state)
{
	struct fx *f = fx_new(tune_fail_on);
	const struct vigil_verdict *v;
	char line[96];

	(void)state;
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	/* Not in fail_on: non-fatal; past the per-kind bound: counted. */
	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "INFO: task t:%d blocked for more than 120 seconds.",
			 100 + i);
		feed(f, dmesg(f, line), 1 * S);
	}
	assert_int_equal(vigil_session_ended(f->s), 0);
	assert_int_equal(counters(f).kernel_trouble[VIGIL_KT_HUNG_TASK], 10);
	assert_int_equal(counters(f).kernel_trouble_dropped, 2);
	feed(f, dmesg(f, "Oops: 0002 [#1] PREEMPT SMP NOPTI"), 2 * S);
	assert_int_equal(vigil_session_ended(f->s), 1);
	v = vigil_session_finish(f->s, T0 + 3 * S);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_KERNEL_TROUBLE);
	assert_int_equal(vigil_verdict_exit_code(v), 126);
	assert_int_equal(v->primary->kind, VIGIL_KT_OOPS);
	assert_true(v->primary->fatal);
	assert_int_equal(v->n_findings, 9); /* 8 hung tasks and the Oops; no LINK_LOST */
	assert_int_equal(v->findings[0].pid, 100);
	assert_false(v->findings[0].fatal);
	fx_free(f);

	VIGIL_SESSION_OPTS(o, .fail_on = 1u); /* VIGIL_KT_NONE */
	struct vigil_session *s;

	assert_int_equal(vigil_session_new(&o, NULL, 0, &s), -EINVAL);
	o.fail_on = 1u << VIGIL_KT__COUNT;
	assert_int_equal(vigil_session_new(&o, NULL, 0, &s), -EINVAL);
}

static void test_panic_line_before_ready(void **state)
{
	struct fx *f = fx_new(NULL);
	const struct vigil_evidence *e;
	const struct vigil_verdict *v;

	(void)state;
	console(f, "boot 1", 1 * MS);
	console(f, "[    0.5] boot 2", 2 * MS);
	feed(f, dmesg(f, "boot 2"), 3 * MS); /* the console showed it */
	feed(f, dmesg(f, "dmesg only"), 4 * MS);
	console(f, "[    1.0] Kernel panic - not syncing: VFS: Unable to mount root fs", 5 * MS);
	assert_int_equal(vigil_session_ended(f->s), 1);
	console(f, "[    1.0] Kernel Offset: disabled", 6 * MS);
	console(f,
		"[    1.0] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs ]---",
		7 * MS);
	/* The runner reports the same line: nothing new. */
	vigil_session_guest_crashed(f->s, T0 + 8 * MS,
				    "Kernel panic - not syncing: VFS: Unable to mount root fs");
	v = vigil_session_finish(f->s, T0 + 9 * MS);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_GUEST_CRASH);
	assert_int_equal(v->n_findings, 1); /* no BOOT_TIMEOUT on top */
	assert_int_equal(v->findings[0].kind, VIGIL_KT_PANIC);
	/* The boot's lines (console and kmsg merged), then the panic's. */
	assert_int_equal(vigil_verdict_finding_evidence(v, 0, &e), 6);
	assert_string_equal(e[0].line, "boot 1");
	assert_string_equal(e[1].line, "[    0.5] boot 2");
	assert_string_equal(e[2].line, "dmesg only");
	assert_int_equal(e[2].source, VIGIL_MSG_DMESG);
	assert_string_equal(e[3].line,
			    "[    1.0] Kernel panic - not syncing: VFS: Unable to mount root fs");
	assert_string_equal(e[4].line, "[    1.0] Kernel Offset: disabled");
	fx_free(f);
}

static void tune_boot_lines(struct vigil_session_opts *o)
{
	o->evidence_lines = 4;
	o->boot_timeout_ns = 5 * S;
}

static void test_boot_timeout_evidence(void **state)
{
	struct fx *f = fx_new(tune_boot_lines);
	const struct vigil_evidence *e;
	const struct vigil_verdict *v;
	char line[32];

	(void)state;
	for (int i = 0; i < 6; i++) {
		snprintf(line, sizeof(line), "boot %d", i);
		console(f, line, (uint64_t)i * MS);
	}
	vigil_session_tick(f->s, T0 + 5 * S);
	v = vigil_session_finish(f->s, T0 + 6 * S);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_BOOT_TIMEOUT);
	assert_int_equal(vigil_verdict_finding_evidence(v, 0, &e), 4);
	assert_string_equal(e[0].line, "boot 2");
	assert_string_equal(e[3].line, "boot 5");
	fx_free(f);

	/* A run that booted keeps no boot lines. */
	f = fx_new(tune_boot_lines);
	console(f, "boot", 1);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 2);
	feed(f, exit_frame(f, 0, 0), 3);
	v = vigil_session_finish(f->s, T0 + 4);
	assert_int_equal(v->n_evidence, 0);
	fx_free(f);
}

static void test_workload_output_evidence(void **state)
{
	struct fx *f = fx_new(NULL);
	const struct vigil_evidence *e;
	const struct vigil_verdict *v;
	char chunk[512];
	size_t len = 0;

	(void)state;
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	for (int i = 0; i < 30; i++)
		len += (size_t)snprintf(chunk + len, sizeof(chunk) - len, "line %d\n", i);
	feed(f, raw(f, VIGIL_MSG_STDOUT, "par", 3), 1);
	feed(f, raw(f, VIGIL_MSG_STDOUT, chunk, len), 2);
	feed(f, raw(f, VIGIL_MSG_STDERR, "err a\nerr b", 11), 3);
	feed(f, raw(f, VIGIL_MSG_STDOUT, "tail", 4), 4);
	feed(f, exit_frame(f, 3, 0), 5);
	v = vigil_session_finish(f->s, T0 + 6);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_WORKLOAD_FAILED);
	/* The last 20 complete lines, then the unfinished ones. */
	assert_int_equal(vigil_verdict_finding_evidence(v, 0, &e), 22);
	assert_string_equal(e[0].line, "line 11");
	assert_int_equal(e[0].source, VIGIL_MSG_STDOUT);
	assert_string_equal(e[18].line, "line 29");
	assert_string_equal(e[19].line, "err a");
	assert_int_equal(e[19].source, VIGIL_MSG_STDERR);
	assert_string_equal(e[20].line, "tail");
	assert_string_equal(e[21].line, "err b");
	fx_free(f);

	/* A line split across chunks is one line; a failed test keeps the
	 * output up to it. */
	f = fx_new(NULL);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	feed(f, raw(f, VIGIL_MSG_STDOUT, "asserting x ", 12), 1);
	feed(f, raw(f, VIGIL_MSG_STDOUT, "== 2\nfailed\n", 12), 2);
	feed(f, test_result(f, VIGIL_TEST_FAIL, "t1"), 3);
	feed(f, raw(f, VIGIL_MSG_STDOUT, "later\n", 6), 4);
	feed(f, exit_frame(f, 0, 0), 5);
	v = vigil_session_finish(f->s, T0 + 6);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_WORKLOAD_FAILED);
	assert_int_equal(vigil_verdict_finding_evidence(v, 0, &e), 2);
	assert_string_equal(e[0].line, "asserting x == 2");
	assert_string_equal(e[1].line, "failed");
	fx_free(f);

	/* A passing run: output is not evidence. */
	f = fx_new(NULL);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 0);
	feed(f, raw(f, VIGIL_MSG_STDOUT, chunk, len), 1);
	feed(f, exit_frame(f, 0, 0), 2);
	v = vigil_session_finish(f->s, T0 + 3);
	assert_int_equal(v->n_evidence, 0);
	fx_free(f);
}

/* ---- the VMM's death --------------------------------------------------- */

static void test_vmm_exited(void **state)
{
	struct fx *f = fx_new(NULL);
	const struct vigil_evidence *e;
	const struct vigil_verdict *v;
	char line[512];

	(void)state;
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 1);
	vigil_session_vmm_exited(
	    f->s, T0 + 2, -1, 9,
	    "qemu-system-x86_64: warning: x\n\nqemu: terminating on signal 9\n");
	assert_int_equal(vigil_session_ended(f->s), 1);
	v = vigil_session_finish(f->s, T0 + 3);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_QEMU_EXITED);
	assert_int_equal(vigil_verdict_exit_code(v), 124);
	assert_int_equal(v->n_findings, 1); /* no LINK_LOST on top */
	assert_int_equal(v->primary->status, -1);
	assert_int_equal(v->primary->kind, 9);
	assert_string_equal(v->primary->detail, "qemu: terminating on signal 9");
	assert_int_equal(vigil_verdict_finding_evidence(v, 0, &e), 2);
	assert_string_equal(e[0].line, "qemu-system-x86_64: warning: x");
	assert_int_equal(e[1].source, VIGIL_SOURCE_VMM);
	vigil_verdict_summary(v, line, sizeof(line));
	assert_non_null(strstr(line, "QEMU_EXITED after 0.00 s: QEMU killed by signal 9: qemu: "
				     "terminating on signal 9"));
	fx_free(f);

	/* Before SYS_RDY, no detail: no BOOT_TIMEOUT on top. */
	f = fx_new(NULL);
	vigil_session_vmm_exited(f->s, T0 + 1, 1, 0, NULL);
	v = vigil_session_finish(f->s, T0 + 2);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_QEMU_EXITED);
	assert_int_equal(v->n_findings, 1);
	assert_string_equal(v->primary->detail, "the VMM exited");
	assert_int_equal(v->primary->status, 1);
	fx_free(f);

	/* After the workload's EXIT: the run had ended, nothing is recorded. */
	f = fx_new(NULL);
	feed(f, seal(f, VIGIL_MSG_SYS_RDY, 0), 1);
	feed(f, exit_frame(f, 0, 0), 2);
	vigil_session_vmm_exited(f->s, T0 + 3, 0, 0, "powered off");
	v = vigil_session_finish(f->s, T0 + 4);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_PASS);
	assert_int_equal(v->n_findings, 0);
	fx_free(f);
}

/* ---- the stall threshold and the probe ----------------------------------- */

/* A pid that declares a short deadline after beating with 0 makes the probe
 * sample faster, as a pid that starts with it does. */
static void test_probe_follows_declared_deadline(void **state)
{
	struct fx *f = fx_new_probe(NULL, true);
	struct vigil_beat b = bt(500, 1, 0);

	(void)state;
	f->have_probe = true;
	vigil_session_tick(f->s, T0);
	feed(f, beats(f, &b, 1), 10 * MS);
	/* The threshold (5 s) needs no faster sampling than 250 ms. */
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 250 * MS);
	b.nonce = 2;
	b.deadline_ms = 400;
	feed(f, beats(f, &b, 1), 20 * MS);
	assert_int_equal(vigil_session_next_deadline(f->s), T0 + 70 * MS);
	/* Its stall comes 400 ms after that beat. */
	vigil_session_tick(f->s, T0 + 420 * MS - 1);
	assert_int_equal(f->count[VIGIL_EV_STALL], 0);
	vigil_session_tick(f->s, T0 + 420 * MS);
	assert_int_equal(f->count[VIGIL_EV_STALL], 1);
	assert_int_equal(f->last[VIGIL_EV_STALL].process.deadline_ns, 400 * MS);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sys_rdy_fires_once),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_sched_exit),
		cmocka_unit_test(test_unknown_and_wrong_direction),
		cmocka_unit_test(test_process_report_counted),
		cmocka_unit_test(test_agent_stats_in_verdict),
		cmocka_unit_test(test_exit_and_tests),
		cmocka_unit_test(test_exit_not_acknowledged),
		cmocka_unit_test(test_beats_through_session),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_output_and_evidence),
		cmocka_unit_test(test_watchdog_pause_resume),
		cmocka_unit_test(test_scenarios_run_time),
		cmocka_unit_test(test_vm_stop_excluded),
		cmocka_unit_test(test_host_read_pause_excluded),
		cmocka_unit_test(test_stall_fail_and_recovery),
		cmocka_unit_test(test_host_starved),
		cmocka_unit_test(test_host_starved_late_stop),
		cmocka_unit_test(test_host_starved_short_deadline),
		cmocka_unit_test(test_host_starved_long_deadline),
		cmocka_unit_test(test_snapshot_flow),
		cmocka_unit_test(test_snapshot_no_provider),
		cmocka_unit_test(test_ping_pong),
		cmocka_unit_test(test_link_lost),
		cmocka_unit_test(test_boot_and_run_timeout),
		cmocka_unit_test(test_finish_without_exit),
		cmocka_unit_test(test_watch_mode_pass),
		cmocka_unit_test(test_clock_regression_and_jump),
		cmocka_unit_test(test_harness_error_and_shutdown),
		cmocka_unit_test(test_flows_per_scenario),
		cmocka_unit_test(test_flow_events),
		cmocka_unit_test(test_split_independence),
		cmocka_unit_test(test_anomaly_events),
		cmocka_unit_test(test_stream_accounting),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_watchdog_without_scenarios),
		cmocka_unit_test(test_watchdog_paused_before_ready),
		cmocka_unit_test(test_stall_warn_findings),
		cmocka_unit_test(test_kernel_trouble),
		cmocka_unit_test(test_kernel_trouble_fail_on),
		cmocka_unit_test(test_panic_line_before_ready),
		cmocka_unit_test(test_boot_timeout_evidence),
		cmocka_unit_test(test_workload_output_evidence),
		cmocka_unit_test(test_vmm_exited),
		cmocka_unit_test(test_probe_follows_declared_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
