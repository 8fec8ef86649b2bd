/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/loop/guest.c, over socketpairs with a fake backend:
 *  - lifecycle: WATCH -> STOPPING -> DONE; the workload's EXIT asks the
 *    backend to wait for the power-off, other ends to quit, a second
 *    interrupt to kill; the verdict reaches the owner once;
 *  - backend operations called in order (stop, then free), port_closed on
 *    EOF with the link going down; each wake-up of the port timed into the
 *    guest's read histogram;
 *  - backpressure: while the owner is backlogged the port is not read and
 *    the session is told (host_read_pauses), nothing is lost;
 *  - no allocation per frame once set up (malloc and friends wrapped);
 *  - the recording ends with FINISH and holds every input.
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

#include "guest.h"
#include "loop.h"

#include "alloc_count.h"

/* ---- a fake backend and owner ------------------------------------------- */

struct fake {
	struct vigil_guest *g;
	char calls[16][16]; /* backend calls in order */
	int n_calls;
	enum vigil_stop_how last_how;
	bool gone_on_stop;     /* stop() ends the guest at once */
	bool report_on_free;   /* free() reports as a QMP link failing its commands does */
	int events_after_free; /* events the sinks got once the guest was being freed */
	bool freeing;
	bool backlog; /* the owner's outputs are full */
	int done;
	enum vigil_outcome outcome;
	uint64_t stdout_bytes;
};

static void call(struct fake *f, const char *what)
{
	if (f->n_calls < 16)
		snprintf(f->calls[f->n_calls++], sizeof(f->calls[0]), "%s", what);
}

static void fk_stop(void *be, enum vigil_stop_how how)
{
	struct fake *f = be;

	call(f, how == VIGIL_STOP_POWEROFF ? "stop-poweroff"
		: how == VIGIL_STOP_QUIT   ? "stop-quit"
					   : "stop-kill");
	f->last_how = how;
	if (f->gone_on_stop)
		vigil_guest_gone(f->g);
}

static void fk_port_closed(void *be)
{
	call(be, "port-closed");
}

static void fk_free(void *be)
{
	struct fake *f = be;

	call(be, "free");
	f->freeing = true;
	if (!f->report_on_free)
		return;
	/* what a backend's free may still say: a snapshot in flight failing,
	 * the port going, QEMU's end */
	vigil_guest_snapshot_done(f->g, 1, -ECONNRESET, "QMP closed");
	vigil_guest_console_line(f->g, "Kernel panic - not syncing: late", 32);
	vigil_guest_link(f->g, false);
	vigil_guest_port_detach(f->g);
	vigil_guest_vmm_exited(f->g, 0, 9, "killed");
	vigil_guest_gone(f->g);
}

static const struct vigil_guest_ops fake_ops = {
	.kind = "fake",
	.stop = fk_stop,
	.port_closed = fk_port_closed,
	.free = fk_free,
};

static void on_event(void *ctx, struct vigil_guest *g, const struct vigil_event *ev)
{
	struct fake *f = ctx;

	(void)g;
	f->events_after_free += f->freeing;
	if (ev->type == VIGIL_EV_OUTPUT && ev->output.stream == VIGIL_MSG_STDOUT)
		f->stdout_bytes += ev->output.len;
}

static bool backlogged(void *ctx, struct vigil_guest *g)
{
	(void)g;
	return ((struct fake *)ctx)->backlog;
}

static void on_done(void *ctx, struct vigil_guest *g, const struct vigil_verdict *v)
{
	struct fake *f = ctx;

	(void)g;
	f->done++;
	f->outcome = v->outcome;
}

static char *rec_header(void *ctx, uint64_t t0)
{
	(void)ctx;
	(void)t0;
	return strdup("{\"format\":\"vigil-record\",\"version\":1}");
}

/* ---- the guest's side ---------------------------------------------------- */

static uint8_t fb[VIGIL_WIRE_MAX_FRAME];
static uint32_t seq;

static void send_frame(int fd, uint16_t type, int plen)
{
	int n = vigil_frame_seal(fb, sizeof(fb), type, seq++, (size_t)plen);

	assert_true(n > 0);
	assert_int_equal(write(fd, fb, (size_t)n), n);
}

static void send_hello_ready(int fd)
{
	struct vigil_hello h = { .proto_version = 1,
				 .agent_version = VIGIL_STR("t"),
				 .kernel_release = VIGIL_STR("6.1"),
				 .hostname = VIGIL_STR("g") };

	seq = 0;
	send_frame(fd, VIGIL_MSG_HELLO,
		   vigil_hello_encode(fb + VIGIL_WIRE_HDR_LEN, sizeof(fb) - 24, &h));
	send_frame(fd, VIGIL_MSG_SYS_RDY, 0);
}

static void send_exit(int fd, int32_t status)
{
	struct vigil_exit x = { .exit_status = status };

	send_frame(fd, VIGIL_MSG_EXIT,
		   vigil_exit_encode(fb + VIGIL_WIRE_HDR_LEN, sizeof(fb) - 24, &x));
}

struct fx {
	struct vigil_loop *l;
	struct fake f;
	int peer; /* the guest's end */
	char rec[64];
};

static struct fx *fx_new(const char *record)
{
	struct fx *x = calloc(1, sizeof(*x));
	VIGIL_SESSION_OPTS(so, .stall_threshold_ns = 200 * 1000000ull, .ack_exit = true);
	int sv[2];
	struct vigil_guest_cfg c = {
		.name = "g1",
		.sopts = &so,
		.ops = &fake_ops,
		.sinks = { .event = on_event, .backlogged = backlogged, .done = on_done },
		.record_path = record,
		.record_header = rec_header,
	};

	c.be = &x->f;
	c.sinks.ctx = &x->f;
	assert_int_equal(vigil_loop_new(&x->l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vigil_guest_new(x->l, &c, vigil_loop_now(x->l), &x->f.g), 0);
	assert_int_equal(vigil_guest_port_attach(x->f.g, sv[0]), 0);
	x->peer = sv[1];
	return x;
}

static void fx_free(struct fx *x)
{
	vigil_guest_free(x->f.g);
	vigil_loop_free(x->l);
	if (x->peer >= 0)
		close(x->peer);
	free(x);
}

static void spin(struct fx *x, int rounds)
{
	for (int i = 0; i < rounds; i++)
		assert_true(vigil_loop_run_once(x->l, 5) >= 0);
}

/* ---- tests -------------------------------------------------------------- */

static void test_exit_lifecycle(void **state)
{
	struct fx *x = fx_new(NULL);
	char ack[64];

	(void)state;
	send_hello_ready(x->peer);
	send_exit(x->peer, 0);
	spin(x, 3);
	/* the workload exited: the agent powers off by itself, after SHUTDOWN */
	assert_int_equal(vigil_guest_state(x->f.g), VIGIL_GUEST_STOPPING);
	assert_int_equal(x->f.n_calls, 1);
	assert_string_equal(x->f.calls[0], "stop-poweroff");
	assert_true(read(x->peer, ack, sizeof(ack)) > 0); /* SHUTDOWN (ack_exit) */
	assert_int_equal(x->f.done, 0);
	vigil_guest_gone(x->f.g);
	assert_int_equal(vigil_guest_state(x->f.g), VIGIL_GUEST_DONE);
	assert_int_equal(x->f.done, 1);
	assert_int_equal(x->f.outcome, VIGIL_OUTCOME_PASS);
	vigil_guest_gone(x->f.g); /* once only */
	assert_int_equal(x->f.done, 1);
	vigil_guest_free(x->f.g);
	x->f.g = NULL;
	assert_string_equal(x->f.calls[1], "free"); /* stop, then free */
	fx_free(x);
}

/* A backend freed with work in flight reports it from its free (a QMP
 * command failing): the session and the sinks are gone or going by then,
 * and nothing reaches them (under ASan: no use after free). */
static void test_reports_during_free_dropped(void **state)
{
	struct fx *x = fx_new(NULL);

	(void)state;
	send_hello_ready(x->peer);
	spin(x, 2);
	x->f.report_on_free = true;
	vigil_guest_free(x->f.g); /* in WATCH, the port attached: the worst case */
	x->f.g = NULL;
	assert_true(x->f.freeing);
	assert_int_equal(x->f.events_after_free, 0);
	assert_int_equal(x->f.done, 0);
	assert_int_equal(x->f.n_calls, 1); /* free only: no stop from a late report */
	fx_free(x);
}

static void test_interrupt_then_kill(void **state)
{
	struct fx *x = fx_new(NULL);

	(void)state;
	send_hello_ready(x->peer);
	spin(x, 2);
	vigil_guest_interrupt(x->f.g, "interrupted by Interrupt", false);
	assert_string_equal(x->f.calls[0], "stop-quit");
	vigil_guest_interrupt(x->f.g, "interrupted by Interrupt", true);
	assert_string_equal(x->f.calls[1], "stop-kill");
	x->f.gone_on_stop = true;
	vigil_guest_gone(x->f.g);
	assert_int_equal(x->f.outcome, VIGIL_OUTCOME_HARNESS_ERROR);
	fx_free(x);
}

static void test_port_eof(void **state)
{
	struct fx *x = fx_new(NULL);
	VIGIL_SESSION_COUNTERS(c);

	(void)state;
	const struct vigil_loop_hist *h = vigil_guest_read_hist(x->f.g);
	uint64_t wakes, in_buckets = 0;

	send_hello_ready(x->peer);
	spin(x, 2);
	wakes = h->count; /* each wake-up of the port is timed */
	assert_true(wakes >= 1);
	for (int i = 0; i <= VIGIL_LOOP_HIST_BOUNDS; i++)
		in_buckets += h->buckets[i];
	assert_int_equal(in_buckets, wakes);
	close(x->peer);
	x->peer = -1;
	spin(x, 2);
	assert_int_equal(h->count, wakes); /* the EOF wake freed the port: not timed */
	assert_false(vigil_guest_port_attached(x->f.g));
	assert_string_equal(x->f.calls[0], "port-closed");
	vigil_session_counters(vigil_guest_session(x->f.g), &c);
	assert_int_equal(c.link_downs, 1);
	assert_int_equal(vigil_guest_state(x->f.g), VIGIL_GUEST_WATCH); /* LINK_LOST after grace */
	fx_free(x);
}

/* The guest writes its last bytes and closes while frames for it wait in
 * the guest-bound queue: writing fails (EPIPE), but what it sent before
 * closing is still read, to the end, before the port closes. */
static void test_port_closed_with_queue(void **state)
{
	struct fx *x = fx_new(NULL);
	VIGIL_SESSION_COUNTERS(c);
	int sv[2], small = 4096;
	uint64_t sent = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(vigil_guest_port_attach(x->f.g, sv[0]), 0);
	close(x->peer);
	x->peer = sv[1];
	send_hello_ready(x->peer);
	/* 300 requests in one write, 300 replies: more than the host's send
	 * buffer takes */
	{
		static uint8_t reqs[300 * 64];
		size_t n = 0;

		for (uint32_t id = 1; id <= 300; id++) {
			struct vigil_snapshot_request rq = { id, VIGIL_SNAP_HOST_COUNTERS,
							     VIGIL_STR("t") };
			int len =
			    vigil_snapshot_request_encode(reqs + n + VIGIL_WIRE_HDR_LEN, 40, &rq);

			len = vigil_frame_seal(reqs + n, sizeof(reqs) - n,
					       VIGIL_MSG_SNAPSHOT_REQUEST, seq++, (size_t)len);
			assert_true(len > 0);
			n += (size_t)len;
		}
		assert_int_equal(write(x->peer, reqs, n), (ssize_t)n);
	}
	spin(x, 3);
	vigil_session_counters(vigil_guest_session(x->f.g), &c);
	assert_true(c.tx_frames >= 300);  /* and PINGs */
	assert_int_equal(c.tx_errors, 0); /* queued, not refused */
	sent = c.stream.bytes;
	/* the last output, then the guest hangs up without reading */
	memset(fb + VIGIL_WIRE_HDR_LEN, 'o', 1000);
	send_frame(x->peer, VIGIL_MSG_STDOUT, 1000);
	close(x->peer);
	x->peer = -1;
	spin(x, 4);
	vigil_session_counters(vigil_guest_session(x->f.g), &c);
	assert_int_equal(x->f.stdout_bytes, 1000);
	assert_int_equal(c.stream.bytes, sent + VIGIL_WIRE_HDR_LEN + 1000);
	assert_false(vigil_guest_port_attached(x->f.g));
	assert_string_equal(x->f.calls[x->f.n_calls - 1], "port-closed");
	fx_free(x);
}

/* While backlogged, nothing is read and no stall is counted; then all of
 * it arrives. */
static void test_backpressure(void **state)
{
	struct fx *x = fx_new(NULL);
	VIGIL_SESSION_COUNTERS(c);
	struct vigil_beat b = { .pid = 42, .nonce = 1 };
	static char chunk[4000];
	uint64_t until;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	send_hello_ready(x->peer);
	send_frame(x->peer, VIGIL_MSG_BEAT,
		   vigil_beats_encode(fb + VIGIL_WIRE_HDR_LEN, sizeof(fb) - 24, &b, 1));
	spin(x, 2);
	x->f.backlog = true;
	memcpy(fb + VIGIL_WIRE_HDR_LEN, chunk, sizeof(chunk));
	send_frame(x->peer, VIGIL_MSG_STDOUT, sizeof(chunk)); /* read, then paused */
	spin(x, 2);
	send_frame(x->peer, VIGIL_MSG_STDOUT, sizeof(chunk)); /* waits in the socket */
	until = vigil_loop_now(x->l) + 500 * 1000000ull;      /* past the 200 ms threshold */
	while (vigil_loop_now(x->l) < until)
		spin(x, 1);
	assert_int_equal(x->f.stdout_bytes, sizeof(chunk));
	vigil_session_counters(vigil_guest_session(x->f.g), &c);
	assert_int_equal(c.tracker.stalls, 0);
	assert_int_equal(c.host_read_pauses, 1);
	x->f.backlog = false;
	vigil_guest_port_resume(x->f.g);
	spin(x, 3);
	assert_int_equal(x->f.stdout_bytes, 2 * sizeof(chunk));
	fx_free(x);
}

static void test_no_alloc_per_frame(void **state)
{
	struct fx *x = fx_new(NULL);
	struct vigil_beat b[10];
	unsigned long before;

	(void)state;
	send_hello_ready(x->peer);
	spin(x, 2);
	for (int i = 0; i < 10; i++)
		b[i] = (struct vigil_beat){ .pid = 100 + (uint32_t)i, .nonce = 1 };
	send_frame(x->peer, VIGIL_MSG_BEAT,
		   vigil_beats_encode(fb + VIGIL_WIRE_HDR_LEN, sizeof(fb) - 24, b, 10));
	spin(x, 2); /* the pids are in the table now */
	before = alloc_calls;
	for (int round = 2; round < 200; round++) {
		for (int i = 0; i < 10; i++)
			b[i].nonce = (uint64_t)round;
		send_frame(x->peer, VIGIL_MSG_BEAT,
			   vigil_beats_encode(fb + VIGIL_WIRE_HDR_LEN, sizeof(fb) - 24, b, 10));
		memset(fb + VIGIL_WIRE_HDR_LEN, 'o', 1000);
		send_frame(x->peer, VIGIL_MSG_STDOUT, 1000);
		spin(x, 1);
	}
	assert_int_equal(alloc_calls, before);
	assert_int_equal(x->f.stdout_bytes, 198 * 1000);
	fx_free(x);
}

static void test_recording(void **state)
{
	char path[] = "/tmp/vigil-test-rec-XXXXXX";
	int fd = mkstemp(path);
	struct fx *x;
	FILE *f;
	static uint8_t buf[1 << 16];
	size_t n;
	struct vigil_rec_reader rd;
	struct vigil_rec r;
	int kinds[VIGIL_REC__COUNT + 1] = { 0 };

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	x = fx_new(path);
	x->f.gone_on_stop = true;
	send_hello_ready(x->peer);
	send_exit(x->peer, 3);
	spin(x, 3);
	assert_int_equal(x->f.outcome, VIGIL_OUTCOME_WORKLOAD_FAILED);
	assert_int_equal(vigil_guest_record_close(x->f.g), 0);
	f = fopen(path, "rb");
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(vigil_rec_reader_init(&rd, buf, n), 1);
	while (vigil_rec_next(&rd, &r) == 1)
		kinds[r.kind < VIGIL_REC__COUNT ? r.kind : VIGIL_REC__COUNT]++;
	assert_int_equal(kinds[VIGIL_REC_LINK_UP], 1);
	assert_true(kinds[VIGIL_REC_RX] >= 1);
	assert_int_equal(kinds[VIGIL_REC_FINISH], 1);
	fx_free(x);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_lifecycle),
		cmocka_unit_test(test_interrupt_then_kill),
		cmocka_unit_test(test_reports_during_free_dropped),
		cmocka_unit_test(test_port_eof),
		cmocka_unit_test(test_port_closed_with_queue),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_no_alloc_per_frame),
		cmocka_unit_test(test_recording),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
