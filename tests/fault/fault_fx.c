/* SPDX-License-Identifier: MIT */
/* fault_fx: a guest on a fake clock for fault runs (see fault_fx.h). */
#include "fault_fx.h"

#include <errno.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fault.h"

/* The honest output: the same bytes in every run. */
static uint8_t honest_out[FFX_OUT_MAX];

static void honest_init(void)
{
	uint64_t s = 0x0dd5eed;

	if (honest_out[0] || honest_out[1])
		return;
	for (size_t i = 0; i < sizeof(honest_out); i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		honest_out[i] = (uint8_t)(s >> 33);
	}
}

static uint64_t fake_clock(void *ctx)
{
	return ((struct ffx *)ctx)->now;
}

/* An OUTPUT is the next frame sent, or one after it (those between lost). */
static void match_frame(struct ffx *x, const uint8_t *data, size_t n)
{
	for (unsigned i = x->next_frame; i < x->n_frames; i++) {
		if (x->frame[i].len == n && memcmp(honest_out + x->frame[i].off, data, n) == 0) {
			x->frames_lost += i - x->next_frame;
			x->next_frame = i + 1;
			return;
		}
	}
	x->frames_ok = false;
}

static void on_event(void *ctx, struct vigil_guest *g, const struct vigil_event *ev)
{
	struct ffx *x = ctx;

	(void)g;
	if (ev->type == VIGIL_EV_OUTPUT) {
		size_t n = ev->output.len;

		if (x->delivered + n > x->sent ||
		    memcmp(honest_out + x->delivered, ev->output.data, n) != 0)
			x->delivered_ok = false;
		x->delivered += n;
		match_frame(x, ev->output.data, n);
		return;
	}
	if (x->n_ev == FFX_EV_MAX)
		return;
	switch (ev->type) {
	case VIGIL_EV_PROCESS_NEW:
	case VIGIL_EV_PROCESS_GONE:
	case VIGIL_EV_STALL:
	case VIGIL_EV_RECOVERY:
		x->ev_arg[x->n_ev] = (int32_t)ev->process.pid;
		break;
	case VIGIL_EV_SNAPSHOT_DONE:
		x->ev_arg[x->n_ev] = ev->snapshot.status;
		break;
	default:
		x->ev_arg[x->n_ev] = 0;
	}
	x->ev[x->n_ev++] = (uint16_t)ev->type;
}

static void on_done(void *ctx, struct vigil_guest *g, const struct vigil_verdict *v)
{
	struct ffx *x = ctx;

	(void)g;
	x->done = true;
	x->outcome = v->outcome;
}

static void on_report(void *ctx, const char *msg)
{
	(void)msg;
	((struct ffx *)ctx)->reports++;
}

void ffx_open_loop(struct ffx *x)
{
	honest_init();
	memset(x, 0, sizeof(*x));
	x->delivered_ok = true;
	x->frames_ok = true;
	x->port_fd = -1;
	x->now = vigil_loop_now_ns() + 3600 * 1000 * FFX_MS;
	if (vigil_loop_new(&x->l) < 0)
		abort();
	vigil_loop_set_clock(x->l, fake_clock, x);
	vigil_loop_set_log(x->l, on_report, x);
}

void ffx_open_guest(struct ffx *x, const struct vigil_guest_ops *ops, void *be,
		    const struct vigil_session_opts *so, int *chan)
{
	VIGIL_SESSION_OPTS(run_so, .ack_exit = true);
	struct vigil_guest_cfg c = {
		.name = "g",
		.sopts = so ? so : &run_so,
		.ops = ops,
		.be = be,
		.sinks = { .event = on_event, .done = on_done, .ctx = x },
	};
	int p[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0 ||
	    vigil_guest_new(x->l, &c, x->now, &x->g) < 0 || synth_tx_init(&x->tx, p[1], 0, 1) < 0)
		abort();
	if (chan) {
		*chan = p[0];
		return;
	}
	if (vigil_guest_port_attach(x->g, p[0]) < 0)
		abort();
	x->port_fd = p[0];
}

void ffx_open(struct ffx *x, const struct vigil_guest_ops *ops, void *be)
{
	ffx_open_loop(x);
	ffx_open_guest(x, ops, be, NULL, NULL);
}

void ffx_close(struct ffx *x)
{
	vigil_guest_free(x->g);
	if (x->before_loop_free)
		x->before_loop_free(x);
	vigil_loop_free(x->l);
	close(x->tx.fd);
	synth_tx_free(&x->tx);
}

void ffx_turn(struct ffx *x)
{
	int e;

	if (!x->tx_dead && (synth_tx_flush(&x->tx) < 0 || synth_tx_drain(&x->tx) < 0))
		x->tx_dead = true; /* the host closed its end */
	if (x->side)
		x->side(x);
	fault_host(true);
	e = vigil_loop_run_once(x->l, 0);
	fault_host(false);
	if (e < 0)
		abort();
}

int ffx_unread(int fd)
{
	int n = 0;

	return ioctl(fd, SIOCOUTQ, &n) < 0 ? -errno : n;
}

/* The writer is done, or waits for a port that is not there (a backend's
 * channel closed until it opens again: what the guest wrote waits). */
static bool settled(struct ffx *x)
{
	return (x->tx_dead || !vigil_guest_port_attached(x->g) ||
		(x->tx.q_off == x->tx.q_len && ffx_unread(x->tx.fd) <= 0)) &&
	       (!x->idle || x->idle(x));
}

/* Settled twice in a row: what a turn left queued in the host (a command
 * waiting for EPOLLOUT) goes out in the next. */
bool ffx_settle(struct ffx *x, int phase)
{
	int calm = 0;

	for (int i = 0; i < FFX_ITER_MAX; i++) {
		ffx_turn(x);
		if (x->done)
			return true;
		calm = settled(x) ? calm + 1 : 0;
		if (calm == 2)
			return true;
	}
	if (!x->hung)
		x->hung_phase = phase;
	x->hung = true;
	return false;
}

void ffx_end(struct ffx *x)
{
	if (x->done)
		return;
	fault_host(true);
	vigil_guest_gone(x->g);
	fault_host(false);
}

/* ---- the honest guest ----------------------------------------------------------- */

static void frame(struct ffx *x, uint16_t type, int plen)
{
	int n;

	if (x->tx_dead || plen < 0)
		return;
	n = vigil_frame_seal(x->fb, sizeof(x->fb), type, x->tx.seq, (size_t)plen);
	if (n < 0)
		abort();
	x->tx.seq++;
	if (synth_tx_raw(&x->tx, x->fb, (size_t)n) < 0)
		x->tx_dead = true;
}

void ffx_hello(struct ffx *x)
{
	if (!x->tx_dead && (synth_tx_hello(&x->tx, "g") < 0 || synth_tx_sys_rdy(&x->tx) < 0))
		x->tx_dead = true;
}

void ffx_beat(struct ffx *x, uint32_t pid, uint32_t deadline_ms)
{
	if (!x->tx_dead && synth_tx_beats(&x->tx, &pid, 1, deadline_ms) < 0)
		x->tx_dead = true;
}

void ffx_stdout(struct ffx *x, size_t len)
{
	if (x->sent + len > FFX_OUT_MAX || len > VIGIL_WIRE_MAX_PAYLOAD ||
	    x->n_frames == FFX_FRAMES_MAX)
		abort();
	memcpy(x->fb + VIGIL_WIRE_HDR_LEN, honest_out + x->sent, len);
	if (!x->tx_dead)
		x->frame[x->n_frames++] = (struct ffx_frame){ (uint32_t)x->sent, (uint32_t)len };
	x->sent += len;
	frame(x, VIGIL_MSG_STDOUT, (int)len);
}

void ffx_exit(struct ffx *x, int32_t status)
{
	struct vigil_exit ex = { .exit_status = status };

	frame(x, VIGIL_MSG_EXIT, vigil_exit_encode(x->fb + VIGIL_WIRE_HDR_LEN, 64, &ex));
}

void ffx_snapshot_request(struct ffx *x, uint32_t kind, uint32_t id)
{
	struct vigil_snapshot_request r = { .request_id = id, .kind = kind, .tag = VIGIL_STR("t") };

	frame(x, VIGIL_MSG_SNAPSHOT_REQUEST,
	      vigil_snapshot_request_encode(x->fb + VIGIL_WIRE_HDR_LEN, 256, &r));
}

/* ---- comparing runs ------------------------------------------------------------- */

bool ffx_same_events(const struct ffx *a, const struct ffx *ref, uint64_t skip)
{
	unsigned i = 0, j = 0;

	for (;;) {
		while (i < a->n_ev && (skip >> a->ev[i] & 1))
			i++;
		while (j < ref->n_ev && (skip >> ref->ev[j] & 1))
			j++;
		if (i == a->n_ev || j == ref->n_ev)
			return i == a->n_ev && j == ref->n_ev;
		if (a->ev[i] != ref->ev[j] || a->ev_arg[i] != ref->ev_arg[j])
			return false;
		i++;
		j++;
	}
}

bool ffx_saw(const struct ffx *a, uint16_t type)
{
	for (unsigned i = 0; i < a->n_ev; i++)
		if (a->ev[i] == type)
			return true;
	return false;
}

void ffx_describe(const struct ffx *x, const char *what)
{
	fprintf(stderr,
		"%s: done %d hung %d (phase %d) outcome %s, delivered %zu/%zu ok %d, "
		"port_closed %llu, reports %u, events:",
		what, x->done, x->hung, x->hung_phase, vigil_outcome_name(x->outcome), x->delivered,
		x->sent, x->delivered_ok, (unsigned long long)x->port_closed, x->reports);
	for (unsigned i = 0; i < x->n_ev; i++)
		fprintf(stderr, " %s(%d)", vigil_event_name(x->ev[i]), x->ev_arg[i]);
	fprintf(stderr, "\n");
}
