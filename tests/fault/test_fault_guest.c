/* SPDX-License-Identifier: MIT */
/*
 * Fault injection into the guest port (host/loop/guest.c) and the outq
 * writer that echoes the guest's output (host/loop/outq.c), on one loop
 * (host/loop/loop.c's epoll_wait), over socketpairs (fault.h says how).
 *
 * The scenario, on a fake clock so that it runs the same every time: an
 * honest guest (synth.h's writer) sends HELLO, SYS_RDY and beats for two
 * pids; 256 KiB of STDOUT in frames of random sizes with random bytes; the
 * clock moves 1.2 s so that one pid stalls and PINGs go out; the pid beats
 * again (recovery); then 1.5 MiB more STDOUT while nobody reads the
 * output, so the outq passes its high-water mark and the port is paused,
 * until the reader reads again; then EXIT 0, answered with SHUTDOWN, and
 * the guest is DONE: PASS. On the way the guest stops reading for 24 s of
 * the clock, so that the host's PINGs fill its small send buffer and wait
 * in the guest's queue (the EPOLLOUT path). Every OUTPUT byte the session delivers and
 * every byte the outq's reader gets is compared with what the guest sent.
 *
 * A reference run counts the host's I/O calls (C of them); then for every
 * n in 1..C and every fault that applies to call n (fault.h), one run with
 * that fault. Each must end:
 *   - EINTR, EAGAIN, short counts (any call), spurious or short epoll_wait
 *     batches: exactly as the reference (outcome, the sequence of events
 *     with their pids, every byte delivered and echoed);
 *   - ECONNRESET or EPIPE on the port (recv or send): the link is lost as
 *     when the guest's end goes away: the port closes, nothing more is read
 *     from it, the outcome is LINK_LOST, and what was delivered before is
 *     a prefix of what the guest sent, in order;
 *   - ECONNRESET or EPIPE on the outq's fd: the reader went away: the outq
 *     drops what follows and counts one error (outq.h), the run itself is
 *     the reference's (outcome, events, every byte delivered to the session)
 *     and what the reader got is a prefix;
 * never a crash, an iteration cap reached (a hang), a leak (ASan build) or
 * a wrong byte. Cap: RUNS_MAX runs (the test fails if the reference run
 * grows past it). Measured: 216 calls, 857 runs, 2.5 s (RelWithDebInfo).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault.h"
#include "outq.h"
#include "synth.h"

#define MS          1000000ull
#define OUT_FIRST   (256u << 10)  /* STDOUT bytes before the stall */
#define OUT_BACKUP  (1536u << 10) /* STDOUT bytes while the reader waits */
#define OUT_TOTAL   (OUT_FIRST + OUT_BACKUP)
#define RUNS_MAX    6000 /* the cap on injected runs */
#define ITER_MAX    3000 /* loop iterations a phase may take: past it, a hang */
#define EV_MAX      64   /* events kept (OUTPUT aside) */
#define READ_CHUNK  (64u << 10)
#define DEAF_S      24   /* seconds the guest does not read: PINGs back up */
#define PORT_SNDBUF 4096 /* the host's end: a few PINGs fill it */

/* ---- the honest guest's output, the same in every run ------------------- */

static uint8_t *honest;           /* OUT_TOTAL random bytes */
static uint32_t *sizes;           /* frame payload sizes, 1..65536, summing to OUT_TOTAL */
static unsigned n_sizes, n_first; /* frames, and those of the first part */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void honest_init(void)
{
	uint64_t s = 0x5eed;
	size_t at = 0;

	honest = malloc(OUT_TOTAL);
	sizes = calloc(OUT_TOTAL / 1024 + 8, sizeof(*sizes));
	assert_non_null(honest);
	assert_non_null(sizes);
	for (size_t i = 0; i < OUT_TOTAL; i++)
		honest[i] = (uint8_t)rnd(&s);
	/* sizes: random, the first part ending exactly at OUT_FIRST */
	while (at < OUT_TOTAL) {
		size_t end = at < OUT_FIRST ? OUT_FIRST : OUT_TOTAL;
		size_t len = 1 + rnd(&s) % VIGIL_WIRE_MAX_PAYLOAD;

		len = len < end - at ? len : end - at;
		sizes[n_sizes++] = (uint32_t)len;
		at += len;
		if (at == OUT_FIRST)
			n_first = n_sizes;
	}
}

/* ---- a run ------------------------------------------------------------------ */

struct result {
	bool done, hung;
	int hung_phase;
	enum vigil_outcome outcome;
	uint16_t ev[EV_MAX];
	uint32_t ev_pid[EV_MAX];
	unsigned n_ev;
	size_t delivered, echoed;     /* OUTPUT bytes to the session, bytes to the reader */
	bool delivered_ok, echoed_ok; /* each a prefix of what the guest sent */
	uint64_t port_closed, outq_errors, tx_errors;
	bool paused; /* the port was paused by the backlog (the reference must see it) */
};

struct run {
	struct vigil_loop *l;
	uint64_t now;
	struct vigil_guest *g;
	struct vigil_outq *q;
	int q_fd, reader; /* the outq's fd (borrowed by it) and the reader's end */
	bool reading;
	struct synth_tx tx;
	bool tx_dead;
	bool deaf;           /* the guest does not read what the host sends */
	unsigned next_frame; /* frames queued */
	size_t off;          /* honest bytes queued in them */
	int port_fd;         /* the host's end of the port */
	uint8_t fb[VIGIL_WIRE_MAX_FRAME];
	struct result r;
};

static uint64_t fake_clock(void *ctx)
{
	return ((struct run *)ctx)->now;
}

static void be_stop(void *be, enum vigil_stop_how how)
{
	struct run *x = be;

	(void)how; /* the agent powers off after SHUTDOWN: the VM is gone */
	vigil_guest_gone(x->g);
}

static void be_port_closed(void *be)
{
	((struct run *)be)->r.port_closed++;
}

static const struct vigil_guest_ops ops = {
	.kind = "fault",
	.stop = be_stop,
	.port_closed = be_port_closed,
};

static void on_event(void *ctx, struct vigil_guest *g, const struct vigil_event *ev)
{
	struct run *x = ctx;
	struct result *r = &x->r;

	(void)g;
	if (ev->type == VIGIL_EV_OUTPUT) {
		const uint8_t *d = ev->output.data;
		size_t n = ev->output.len;

		if (r->delivered + n > OUT_TOTAL || memcmp(honest + r->delivered, d, n) != 0 ||
		    ev->output.stream != VIGIL_MSG_STDOUT || !ev->output.crc_ok)
			r->delivered_ok = false;
		r->delivered += n;
		vigil_outq_put(x->q, d, n); /* -EPIPE once the reader is gone: counted */
		return;
	}
	if (r->n_ev < EV_MAX) {
		bool proc = ev->type == VIGIL_EV_PROCESS_NEW || ev->type == VIGIL_EV_STALL ||
			    ev->type == VIGIL_EV_RECOVERY || ev->type == VIGIL_EV_PROCESS_GONE;

		r->ev_pid[r->n_ev] = proc ? ev->process.pid : 0;
		r->ev[r->n_ev++] = (uint16_t)ev->type;
	}
}

static bool backlogged(void *ctx, struct vigil_guest *g)
{
	struct run *x = ctx;

	(void)g;
	if (vigil_outq_backlogged(x->q))
		x->r.paused = true;
	return vigil_outq_backlogged(x->q);
}

static void on_done(void *ctx, struct vigil_guest *g, const struct vigil_verdict *v)
{
	struct run *x = ctx;

	(void)g;
	x->r.done = true;
	x->r.outcome = v->outcome;
	x->r.tx_errors = v->counters->tx_errors;
}

static void on_drain(void *ctx)
{
	struct run *x = ctx;

	vigil_guest_port_resume(x->g);
}

static void run_open(struct run *x)
{
	VIGIL_SESSION_OPTS(so, .stall_threshold_ns = 5000 * MS, .ack_exit = true);
	struct vigil_guest_cfg c = {
		.name = "honest",
		.sopts = &so,
		.ops = &ops,
		.be = x,
		.sinks = { .event = on_event, .backlogged = backlogged, .done = on_done, .ctx = x },
	};
	int p[2], o[2];

	memset(x, 0, sizeof(*x));
	x->r.delivered_ok = x->r.echoed_ok = true;
	/* far ahead of CLOCK_MONOTONIC: the timerfd never fires on its own, so
	 * the timers run when the fake clock says, and the I/O calls are the
	 * same in every run */
	x->now = vigil_loop_now_ns() + 3600 * 1000 * MS;
	assert_int_equal(vigil_loop_new(&x->l), 0);
	vigil_loop_set_clock(x->l, fake_clock, x);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, o), 0);
	assert_int_equal(vigil_outq_new(x->l, o[0], "stdout", &x->q), 0);
	vigil_outq_on_drain(x->q, on_drain, x);
	x->q_fd = o[0];
	x->reader = o[1];
	x->reading = true;
	assert_int_equal(vigil_guest_new(x->l, &c, x->now, &x->g), 0);
	assert_int_equal(
	    setsockopt(p[0], SOL_SOCKET, SO_SNDBUF, &(int){ PORT_SNDBUF }, sizeof(int)), 0);
	assert_int_equal(vigil_guest_port_attach(x->g, p[0]), 0);
	x->port_fd = p[0];
	assert_int_equal(synth_tx_init(&x->tx, p[1], 0, 1), 0);
}

static void run_close(struct run *x)
{
	struct vigil_outq_stats st;

	vigil_outq_stats(x->q, &st);
	x->r.outq_errors = st.errors;
	vigil_guest_free(x->g);
	vigil_outq_free(x->q);
	vigil_loop_free(x->l);
	close(x->q_fd);
	close(x->tx.fd);
	close(x->reader);
	synth_tx_free(&x->tx);
}

/* ---- the turns: the guest writes, the reader reads, the host runs ------------ */

/* Queues the honest frames up to x->frame_target, as the socket takes them. */
static void guest_side(struct run *x, unsigned target)
{
	if (x->tx_dead)
		return;
	if (synth_tx_flush(&x->tx) < 0 || (!x->deaf && synth_tx_drain(&x->tx) < 0)) {
		x->tx_dead = true; /* the host closed its end */
		return;
	}
	while (x->next_frame < target) {
		size_t len = sizes[x->next_frame];
		int n, e;

		memcpy(x->fb + VIGIL_WIRE_HDR_LEN, honest + x->off, len);
		n = vigil_frame_seal(x->fb, sizeof(x->fb), VIGIL_MSG_STDOUT, x->tx.seq, len);
		assert_true(n > 0);
		e = synth_tx_raw(&x->tx, x->fb, (size_t)n);
		if (e == -ENOBUFS)
			break; /* the writer's queue is full: next turn */
		x->tx.seq++;
		x->next_frame++;
		x->off += len;
		if (e < 0) {
			x->tx_dead = true;
			break;
		}
	}
}

static void reader_side(struct run *x)
{
	uint8_t buf[READ_CHUNK];

	for (int i = 0; x->reading && i < 4; i++) {
		ssize_t n = recv(x->reader, buf, sizeof(buf), MSG_DONTWAIT);

		if (n <= 0)
			return;
		if (x->r.echoed + (size_t)n > OUT_TOTAL ||
		    memcmp(honest + x->r.echoed, buf, (size_t)n) != 0)
			x->r.echoed_ok = false;
		x->r.echoed += (size_t)n;
	}
}

static void host_turn(struct run *x)
{
	int e;

	fault_host(true);
	e = vigil_loop_run_once(x->l, 0);
	fault_host(false);
	assert_true(e >= 0);
}

static bool quiet(struct run *x, unsigned target)
{
	struct vigil_outq_stats st;

	vigil_outq_stats(x->q, &st);
	return (x->tx_dead || (x->tx.q_off == x->tx.q_len && x->next_frame == target)) &&
	       (!vigil_guest_port_attached(x->g) || vigil_guest_rx_bytes(x->g) == x->tx.bytes) &&
	       (!x->reading || (vigil_outq_pending(x->q) == 0 && x->r.echoed == st.bytes));
}

/* Turns until quiet (at least one: due timers run), or the output is
 * backlogged when until_paused. false: ITER_MAX turns went by (a hang). */
static bool settle(struct run *x, unsigned target, bool until_paused, int phase)
{
	for (int i = 0; i < ITER_MAX; i++) {
		guest_side(x, target);
		reader_side(x);
		host_turn(x);
		if (x->r.done || quiet(x, target) || (until_paused && x->r.paused))
			return true;
	}
	if (!x->r.hung)
		x->r.hung_phase = phase;
	x->r.hung = true;
	return false;
}

static void send_beat(struct run *x, uint32_t pid, uint32_t deadline_ms)
{
	if (!x->tx_dead && synth_tx_beats(&x->tx, &pid, 1, deadline_ms) < 0)
		x->tx_dead = true;
}

static void send_exit(struct run *x)
{
	struct vigil_exit ex = { .exit_status = 0 };
	int n = vigil_exit_encode(x->fb + VIGIL_WIRE_HDR_LEN, 64, &ex);

	n = vigil_frame_seal(x->fb, sizeof(x->fb), VIGIL_MSG_EXIT, x->tx.seq++, (size_t)n);
	if (!x->tx_dead && synth_tx_raw(&x->tx, x->fb, (size_t)n) < 0)
		x->tx_dead = true;
}

/* The whole scenario (see the top); the result in x->r. */
static void scenario(struct run *x)
{
	run_open(x);
	if (synth_tx_hello(&x->tx, "honest") < 0 || synth_tx_sys_rdy(&x->tx) < 0)
		x->tx_dead = true;
	send_beat(x, 100, 0);
	send_beat(x, 101, 200);
	settle(x, 0, false, 1);
	settle(x, n_first, false, 2);
	for (int i = 0; i < 4; i++) { /* 1.2 s: pid 101 stalls, PINGs go out */
		x->now += 300 * MS;
		settle(x, n_first, false, 3);
	}
	/* the recovery; from now on a deadline never falls due in a step of the
	 * clock (a beat that waits for a turn would then race the timer) */
	send_beat(x, 101, 2000);
	send_beat(x, 100, 0);
	settle(x, n_first, false, 4);
	x->deaf = true; /* PINGs queue up in the host until the guest reads again */
	for (int i = 0; i < DEAF_S; i++) {
		x->now += 1000 * MS;
		send_beat(x, 101, 2000);
		send_beat(x, 100, 0);
		settle(x, n_first, false, 5);
	}
	x->deaf = false;
	settle(x, n_first, false, 6);
	x->reading = false; /* the reader waits: the outq fills, the port pauses */
	settle(x, n_sizes, true, 7);
	x->reading = true;
	settle(x, n_sizes, false, 8);
	send_exit(x);
	settle(x, n_sizes, false, 9);
	if (!x->r.done) { /* the link went: the VM powers off all the same */
		fault_host(true);
		vigil_guest_gone(x->g);
		fault_host(false);
	}
	run_close(x);
}

/* ---- the verdicts ------------------------------------------------------------ */

/* The same events with the same pids, ANOMALY reports aside when anomaly. */
static bool same_events(const struct result *a, const struct result *ref, bool anomaly)
{
	unsigned i = 0, j = 0;

	for (;;) {
		while (anomaly && i < a->n_ev && a->ev[i] == VIGIL_EV_ANOMALY)
			i++;
		while (anomaly && j < ref->n_ev && ref->ev[j] == VIGIL_EV_ANOMALY)
			j++;
		if (i == a->n_ev || j == ref->n_ev)
			return i == a->n_ev && j == ref->n_ev;
		if (a->ev[i] != ref->ev[j] || a->ev_pid[i] != ref->ev_pid[j])
			return false;
		i++;
		j++;
	}
}

/* The run as the reference ran it, every byte delivered (and echoed: echo). */
static bool as_reference(const struct result *a, const struct result *ref, bool echo)
{
	return !a->hung && a->done && a->outcome == ref->outcome && same_events(a, ref, false) &&
	       a->delivered == OUT_TOTAL && a->delivered_ok &&
	       (!echo || (a->echoed == OUT_TOTAL && a->echoed_ok && a->outq_errors == 0));
}

/* A frame for the guest (a PING) dropped and counted: tx_errors and its
 * ANOMALY report, nothing else. */
static bool tx_dropped(const struct result *a, const struct result *ref)
{
	return !a->hung && a->done && a->outcome == ref->outcome && same_events(a, ref, true) &&
	       a->tx_errors > ref->tx_errors && a->delivered == OUT_TOTAL && a->delivered_ok &&
	       a->echoed == OUT_TOTAL && a->echoed_ok;
}

static bool saw(const struct result *a, enum vigil_event_type t)
{
	for (unsigned i = 0; i < a->n_ev; i++)
		if (a->ev[i] == t)
			return true;
	return false;
}

/* The port lost: LINK_LOST (or BOOT_TIMEOUT when lost before SYS_RDY and
 * the run ended within the link's grace: session.c's finish_unexplained),
 * the port closed once, what came before intact. */
static bool link_lost(const struct result *a)
{
	bool lost = a->outcome == VIGIL_OUTCOME_LINK_LOST ||
		    (a->outcome == VIGIL_OUTCOME_BOOT_TIMEOUT && !saw(a, VIGIL_EV_READY));

	return !a->hung && a->done && lost && a->port_closed == 1 && a->delivered_ok &&
	       a->echoed_ok;
}

static void describe(const char *what, uint64_t n, enum fault_kind k, const struct result *a)
{
	print_message("%s: call %llu (%s on fd %d), %s: done %d hung %d (phase %d) outcome %s, "
		      "%u events, delivered %zu ok %d, echoed %zu ok %d, port_closed %llu, "
		      "outq_errors %llu, tx_errors %llu\n",
		      what, (unsigned long long)n, fault_call_name(fault_fired_call()),
		      fault_fired_fd(), fault_kind_name(k), a->done, a->hung, a->hung_phase,
		      vigil_outcome_name(a->outcome), a->n_ev, a->delivered, a->delivered_ok,
		      a->echoed, a->echoed_ok, (unsigned long long)a->port_closed,
		      (unsigned long long)a->outq_errors, (unsigned long long)a->tx_errors);
	for (unsigned i = 0; i < a->n_ev; i++)
		print_message(" %s%s", vigil_event_name(a->ev[i]), i + 1 == a->n_ev ? "\n" : "");
}

/* What a run with fault k at call n must show (see the top). */
static bool acceptable(const struct run *x, enum fault_kind k, const struct result *ref)
{
	const struct result *a = &x->r;

	if (as_reference(a, ref, true))
		return true;
	if (k != FAULT_ECONNRESET && k != FAULT_EPIPE)
		return false;
	if (fault_fired_fd() == x->q_fd) /* the reader went away */
		return as_reference(a, ref, false) && a->echoed_ok && a->outq_errors == 1;
	return fault_fired_fd() == x->port_fd && (tx_dropped(a, ref) || link_lost(a));
}

/* A sweep's run: the scenario with the fault armed, judged against ref. */
struct sweep_ctx {
	struct run *x;
	const struct result *ref;
};

static bool sweep_run(void *ctx, uint64_t n, enum fault_kind k)
{
	struct sweep_ctx *c = ctx;

	scenario(c->x);
	if (acceptable(c->x, k, c->ref))
		return true;
	describe("FAILED", n, k, &c->x->r);
	return false;
}

static void test_guest_port_and_outq(void **state)
{
	static struct run x;
	struct result ref;
	struct fault_sweep sw;
	struct sweep_ctx ctx = { &x, &ref };
	uint64_t calls;
	struct fault_rec *trace;

	(void)state;
	honest_init();
	fault_reset();
	scenario(&x);
	ref = x.r;
	calls = fault_calls();
	describe("reference", 0, FAULT_NONE, &ref);
	assert_true(as_reference(&ref, &ref, true));
	assert_int_equal(ref.outcome, VIGIL_OUTCOME_PASS);
	assert_true(ref.paused); /* the backlog path was taken */
	assert_true(calls > 0 && calls <= FAULT_TRACE_MAX);
	trace = malloc(calls * sizeof(*trace));
	assert_non_null(trace);
	memcpy(trace, fault_trace(), calls * sizeof(*trace));
	assert_int_equal(fault_sweep(trace, calls, RUNS_MAX, NULL, sweep_run, &ctx, &sw), 0);
	fault_sweep_print(&sw, calls);
	free(trace);
	free(honest);
	free(sizes);
	assert_int_equal(sw.failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_port_and_outq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
