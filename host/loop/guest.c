/* SPDX-License-Identifier: MIT */
/* guest: one watched guest on the loop (see guest.h). */
#include "guest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vigil/wire.h>

struct vigil_guest {
	char name[VIGIL_GUEST_NAME_MAX];
	struct vigil_loop *loop;
	struct vigil_guest_cfg cfg;
	struct vigil_session_opts sopts;
	struct vigil_session *s;
	enum vigil_guest_state state;
	uint64_t t0;
	bool saw_exit;    /* the workload's EXIT: the agent powers off by itself */
	bool crashed;     /* a fatal GUEST_CRASH: the kernel resets the guest once its
			     report is out (panic=-1; -no-reboot makes that QEMU's exit) */
	bool interrupted; /* the owner ended the run */
	/* vigil_guest_free began: what the backend still reports while it is
	 * freed (a QMP command in flight failing) is dropped, since the
	 * session and the owner's sinks are gone or going */
	bool freeing;
	/* port */
	struct vigil_source *port; /* NULL: detached */
	bool link_up;
	bool tx_dead; /* writing failed (the guest end closed): read what is left, write nothing */
	bool paused;  /* reading paused: the owner's sinks are backlogged */
	bool blind;  /* the backend cannot reach the guest for a reason of vigil's own */
	bool held;   /* what the session was last told (paused || blind) */
	uint8_t *txq;
	size_t txq_len;
	/* the session's next deadline */
	struct vigil_timer *timer;
	/* recording */
	struct vigil_rec_writer rec;
	bool recording;
	/* a snapshot completed inside the backend's start: recorded after
	 * SNAPSHOT_START, as the replay will see it */
	bool in_snap_start, snap_deferred;
	uint32_t snap_id;
	int snap_status;
	char snap_detail[4097];
	/* facts */
	uint64_t rx_bytes, first_byte_ns;
	struct vigil_loop_hist read_hist; /* port ready() durations, every port attached */
	const struct vigil_verdict *verdict;
};

/* One read buffer for every guest: the loop is single-threaded and the
 * session is done with the bytes when feed returns. */
static uint8_t rx_buf[64 << 10];

static void begin_stop(struct vigil_guest *g, enum vigil_stop_how how);

/* ---- recording: every session input goes through these ------------------ */

static void rec(struct vigil_guest *g, enum vigil_rec_kind k, uint64_t t, const void *d, size_t n)
{
	if (g->recording && vigil_rec_put(&g->rec, k, t, d, n) < 0)
		g->recording = false; /* the error stays: vigil_guest_record_close */
}

static int rec_open(struct vigil_guest *g, uint64_t t0)
{
	char *hdr;
	int e;

	vigil_guest_record_close(g);
	if (!g->cfg.record_path)
		return 0;
	hdr = g->cfg.record_header(g->cfg.record_ctx, t0);
	e = hdr ? vigil_rec_open(&g->rec, g->cfg.record_path, hdr) : -ENOMEM;
	free(hdr);
	g->rec.limit = g->cfg.record_limit;
	if (e == 0)
		g->recording = true;
	return e;
}

/* ---- the session's deadline ---------------------------------------------- */

static void schedule(struct vigil_guest *g)
{
	uint64_t next;

	if (g->state != VIGIL_GUEST_WATCH)
		return;
	if (vigil_session_ended(g->s)) {
		begin_stop(g, (g->saw_exit || g->crashed) && !g->interrupted ? VIGIL_STOP_POWEROFF
									 : VIGIL_STOP_QUIT);
		return;
	}
	next = vigil_session_next_deadline(g->s);
	if (next == VIGIL_DEADLINE_NONE)
		vigil_timer_disarm(g->timer);
	else if (!vigil_timer_armed(g->timer) || vigil_timer_when(g->timer) != next)
		vigil_timer_arm(g->timer, next);
}

static void on_timer(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct vigil_guest *g = ctx;

	(void)t;
	if (g->state != VIGIL_GUEST_WATCH)
		return;
	rec(g, VIGIL_REC_TICK, now, NULL, 0);
	vigil_session_tick(g->s, now);
	schedule(g);
}

/* ---- session hooks ---------------------------------------------------------- */

static void on_event(void *ctx, const struct vigil_event *ev)
{
	struct vigil_guest *g = ctx;

	if (ev->type == VIGIL_EV_EXIT)
		g->saw_exit = true;
	if (ev->type == VIGIL_EV_FINDING && ev->finding.finding &&
	    ev->finding.finding->outcome == VIGIL_OUTCOME_GUEST_CRASH && ev->finding.finding->fatal)
		g->crashed = true;
	if (g->cfg.sinks.event)
		g->cfg.sinks.event(g->cfg.sinks.ctx, g, ev);
}

static uint32_t port_events(const struct vigil_guest *g)
{
	return (g->paused ? 0 : EPOLLIN) | (g->txq_len ? EPOLLOUT : 0);
}

static void port_sync(struct vigil_guest *g)
{
	if (g->port)
		vigil_source_set_events(g->port, port_events(g));
}

/* Frames for the guest: written now, or queued in order, or refused. */
static int guest_write(void *ctx, const uint8_t *frame, size_t len)
{
	struct vigil_guest *g = ctx;
	size_t full = len;

	if (!g->port)
		return -ENOTCONN;
	if (g->tx_dead)
		return -EPIPE;
	if (g->txq_len == 0) {
		ssize_t n = send(vigil_source_fd(g->port), frame, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		n = n < 0 ? 0 : n;
		frame += n;
		len -= (size_t)n;
	}
	/* A frame partly sent must be finished (the buffer has room for one
	 * frame over the bound); a frame not started is refused when full. */
	if (g->txq_len + len > VIGIL_GUEST_TXQ_MAX && len == full)
		return -EAGAIN;
	memcpy(g->txq + g->txq_len, frame, len);
	g->txq_len += len;
	port_sync(g);
	return 0;
}

static int snapshot_start(void *ctx, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct vigil_guest *g = ctx;
	uint8_t rb[4];
	int res;

	g->in_snap_start = true;
	g->snap_deferred = false;
	res = g->cfg.ops->snapshot ? g->cfg.ops->snapshot(g->cfg.be, kind, tag, id) : -EOPNOTSUPP;
	g->in_snap_start = false;
	vigil_put32(rb, (uint32_t)res);
	rec(g, VIGIL_REC_SNAPSHOT_START, vigil_loop_now(g->loop), rb, sizeof(rb));
	if (g->snap_deferred && res == 0) {
		g->snap_deferred = false;
		vigil_guest_snapshot_done(g, g->snap_id, g->snap_status, g->snap_detail);
	}
	return res;
}

static int progress_sample(void *ctx, uint64_t *cpu_ns)
{
	struct vigil_guest *g = ctx;
	uint8_t buf[16] = { 0 };
	uint64_t v = 0;
	int res = g->cfg.ops->vcpu_sample ? g->cfg.ops->vcpu_sample(g->cfg.be, &v) : -ENOENT;

	vigil_put32(buf, (uint32_t)res);
	vigil_put64(buf + 8, v);
	rec(g, VIGIL_REC_PROGRESS, vigil_loop_now(g->loop), buf, sizeof(buf));
	if (res < 0)
		return res;
	*cpu_ns = v;
	return 0;
}

/* The PROGRESS record of a state sample: 32 bytes, flag bit 0 stopped,
 * bit 1 the wait time is there (record.h). */
static int progress_state(void *ctx, struct vigil_vcpu_state *st)
{
	struct vigil_guest *g = ctx;
	uint8_t buf[32] = { 0 };
	struct vigil_vcpu_state v = { 0 };
	int res = g->cfg.ops->vcpu_state(g->cfg.be, &v);

	vigil_put32(buf, (uint32_t)res);
	vigil_put32(buf + 4,
		    VIGIL_REC_PROGRESS_WAIT | (v.stopped ? VIGIL_REC_PROGRESS_STOPPED : 0));
	vigil_put64(buf + 8, v.cpu_ns);
	vigil_put64(buf + 16, v.wait_ns);
	rec(g, VIGIL_REC_PROGRESS, vigil_loop_now(g->loop), buf, sizeof(buf));
	if (res < 0)
		return res;
	*st = v;
	return 0;
}

static int session_start(struct vigil_guest *g, uint64_t t0)
{
	struct vigil_vcpu_state_probe sp = { progress_state, g };
	struct vigil_session_hooks h = {
		.sink = { on_event, g },
		.writer = { guest_write, g },
		.snapshot = { snapshot_start, g },
		/* no probe without a backend that can sample: the session then
		 * never concludes host starvation, and takes no samples */
		.progress = { g->cfg.ops->vcpu_sample ? progress_sample : NULL, g },
	};
	int e = rec_open(g, t0);

	if (e < 0)
		return e;
	vigil_session_free(g->s);
	g->s = NULL;
	g->t0 = t0;
	g->saw_exit = g->crashed = g->interrupted = false;
	g->rx_bytes = g->first_byte_ns = 0;
	g->link_up = false;
	e = vigil_session_new(&g->sopts, &h, t0, &g->s);
	if (e == 0 && g->cfg.ops->vcpu_state)
		e = vigil_session_set_vcpu_state_probe(g->s, &sp);
	return e;
}

/* ---- the port ------------------------------------------------------------------ */

static void link_set(struct vigil_guest *g, bool up, uint64_t t)
{
	if (up == g->link_up)
		return;
	g->link_up = up;
	rec(g, up ? VIGIL_REC_LINK_UP : VIGIL_REC_LINK_DOWN, t, NULL, 0);
	if (up)
		vigil_session_link_up(g->s, t);
	else
		vigil_session_link_down(g->s, t);
}

static int port_flush(struct vigil_guest *g)
{
	size_t off = 0;

	while (off < g->txq_len) {
		ssize_t n = send(vigil_source_fd(g->port), g->txq + off, g->txq_len - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	memmove(g->txq, g->txq + off, g->txq_len - off);
	g->txq_len -= off;
	port_sync(g);
	return 0;
}

static void port_closed(struct vigil_guest *g)
{
	vigil_guest_port_detach(g);
	if (g->state == VIGIL_GUEST_WATCH && g->cfg.ops->port_closed)
		g->cfg.ops->port_closed(g->cfg.be);
}

/*
 * Stop (or start again) reading the port because the owner's outputs are
 * backlogged. The session is told: the time vigil does not listen is not
 * the guest's silence (no stall, no timeout from it).
 */
static void tell_held(struct vigil_guest *g)
{
	uint8_t b = g->paused || g->blind;
	uint64_t t;

	if (g->held == (bool)b)
		return;
	g->held = b;
	t = vigil_loop_now(g->loop);
	rec(g, VIGIL_REC_HOST_PAUSED, t, &b, 1);
	vigil_session_host_paused(g->s, t, b);
}

static void pause_port(struct vigil_guest *g, bool paused)
{
	if (g->paused == paused)
		return;
	g->paused = paused;
	tell_held(g);
	port_sync(g);
}

void vigil_guest_blind(struct vigil_guest *g, bool blind)
{
	if (g->freeing)
		return;
	g->blind = blind;
	tell_held(g);
}

/* Reads up to budget bytes. 1 when the port closed, else 0. */
static int port_read(struct vigil_guest *g, size_t budget)
{
	while (budget > 0 && g->port && !g->paused) {
		ssize_t n = recv(vigil_source_fd(g->port), rx_buf,
				 budget < sizeof(rx_buf) ? budget : sizeof(rx_buf), MSG_DONTWAIT);
		uint64_t t;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return 1;
		t = vigil_loop_now(g->loop);
		if (!g->first_byte_ns)
			g->first_byte_ns = t;
		g->rx_bytes += (uint64_t)n;
		rec(g, VIGIL_REC_RX, t, rx_buf, (size_t)n);
		vigil_session_feed(g->s, rx_buf, (size_t)n, t);
		budget -= (size_t)n;
		if (g->cfg.sinks.backlogged && g->cfg.sinks.backlogged(g->cfg.sinks.ctx, g))
			pause_port(g, true); /* the owner resumes it when its sinks drain */
		if ((size_t)n < sizeof(rx_buf) && budget > 0)
			break; /* a short read: drained for now (epoll says when more comes) */
	}
	return 0;
}

static int port_ready(struct vigil_source *src, int fd, uint32_t events, void *ctx)
{
	struct vigil_guest *g = ctx;

	(void)src;
	(void)fd;
	if ((events & EPOLLOUT) && port_flush(g) < 0) {
		/* The guest end is gone for writing, but what the guest wrote
		 * before it closed is still to be read, to EOF: its last
		 * output, its EXIT. The queue goes; nothing more is written. */
		g->tx_dead = true;
		g->txq_len = 0;
		port_sync(g);
		events |= EPOLLIN;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (port_read(g, VIGIL_GUEST_READ_BUDGET))
			port_closed(g);
	}
	schedule(g);
	return 0;
}

int vigil_guest_port_attach(struct vigil_guest *g, int fd)
{
	char name[VIGIL_GUEST_NAME_MAX + 8];
	int e;

	if (g->freeing) {
		close(fd);
		return -ESHUTDOWN;
	}
	vigil_guest_port_detach(g);
	snprintf(name, sizeof(name), "%s port", g->name);
	e = vigil_source_add(g->loop, fd, EPOLLIN, VIGIL_SOURCE_OWN_FD, port_ready, g, name,
			     &g->port);
	if (e < 0) {
		close(fd);
		return e;
	}
	vigil_source_set_hist(g->port, &g->read_hist);
	g->tx_dead = false;
	pause_port(g, false);
	link_set(g, true, vigil_loop_now(g->loop));
	schedule(g);
	return 0;
}

void vigil_guest_port_detach(struct vigil_guest *g)
{
	if (!g->port || g->freeing)
		return;
	vigil_source_free(g->port);
	g->port = NULL;
	g->txq_len = 0;
	link_set(g, false, vigil_loop_now(g->loop));
	schedule(g);
}

bool vigil_guest_port_attached(const struct vigil_guest *g)
{
	return g->port != NULL;
}

void vigil_guest_port_resume(struct vigil_guest *g)
{
	if (g->freeing)
		return;
	pause_port(g, false);
	schedule(g);
}

/* ---- the backend tells the guest ---------------------------------------------- */

void vigil_guest_link(struct vigil_guest *g, bool up)
{
	if (g->freeing)
		return;
	link_set(g, up, vigil_loop_now(g->loop));
	schedule(g);
}

void vigil_guest_vm_stopped(struct vigil_guest *g, bool stopped)
{
	uint64_t t = vigil_loop_now(g->loop);

	if (g->freeing)
		return;
	rec(g, stopped ? VIGIL_REC_VM_STOPPED : VIGIL_REC_VM_RESUMED, t, NULL, 0);
	if (stopped)
		vigil_session_vm_stopped(g->s, t);
	else
		vigil_session_vm_resumed(g->s, t);
	schedule(g);
}

void vigil_guest_console_line(struct vigil_guest *g, const char *line, size_t len)
{
	uint64_t t = vigil_loop_now(g->loop);

	if (g->freeing)
		return;
	rec(g, VIGIL_REC_CONSOLE, t, line, len);
	vigil_session_console_line(g->s, t, line, len);
	schedule(g);
}

void vigil_guest_crashed(struct vigil_guest *g, const char *evidence)
{
	uint64_t t = vigil_loop_now(g->loop);

	if (g->freeing)
		return;
	rec(g, VIGIL_REC_CRASHED, t, evidence, strlen(evidence));
	vigil_session_guest_crashed(g->s, t, evidence);
	schedule(g);
}

/* A record of two u32 and a text. */
static void rec_pair(struct vigil_guest *g, enum vigil_rec_kind k, uint64_t t, uint32_t a,
		     uint32_t b, const char *detail)
{
	if (g->recording && vigil_rec_put_pair(&g->rec, k, t, a, b, detail) < 0)
		g->recording = false; /* the error stays: vigil_guest_record_close */
}

void vigil_guest_vmm_exited(struct vigil_guest *g, int status, int sig, const char *detail)
{
	uint64_t t = vigil_loop_now(g->loop);

	if (g->freeing)
		return;
	rec_pair(g, VIGIL_REC_VMM_EXITED, t, (uint32_t)status, (uint32_t)sig, detail);
	vigil_session_vmm_exited(g->s, t, status, sig, detail);
	schedule(g);
}

void vigil_guest_harness_error(struct vigil_guest *g, const char *msg)
{
	uint64_t t = vigil_loop_now(g->loop);

	if (g->freeing)
		return;
	rec(g, VIGIL_REC_HARNESS_ERROR, t, msg, strlen(msg));
	vigil_session_harness_error(g->s, t, msg);
	schedule(g);
}

void vigil_guest_snapshot_done(struct vigil_guest *g, uint32_t id, int status, const char *detail)
{
	uint64_t t = vigil_loop_now(g->loop);
	size_t dl = detail ? strlen(detail) : 0;

	if (g->freeing)
		return;
	if (g->in_snap_start) {
		/* completed inside the backend's start: recorded after START */
		dl = dl < sizeof(g->snap_detail) - 1 ? dl : sizeof(g->snap_detail) - 1;
		g->snap_deferred = true;
		g->snap_id = id;
		g->snap_status = status;
		memcpy(g->snap_detail, detail ? detail : "", dl);
		g->snap_detail[dl] = '\0';
		return;
	}
	rec_pair(g, VIGIL_REC_SNAPSHOT_DONE, t, id, (uint32_t)status, detail);
	vigil_session_snapshot_done(g->s, id, status, detail, t);
	schedule(g);
}

/* ---- the lifecycle ------------------------------------------------------------ */

static void begin_stop(struct vigil_guest *g, enum vigil_stop_how how)
{
	if (g->state == VIGIL_GUEST_DONE)
		return;
	if (g->state == VIGIL_GUEST_WATCH) {
		g->state = VIGIL_GUEST_STOPPING;
		vigil_timer_disarm(g->timer);
	}
	g->cfg.ops->stop(g->cfg.be, how);
}

void vigil_guest_interrupt(struct vigil_guest *g, const char *why, bool urgent)
{
	if (g->state == VIGIL_GUEST_DONE || g->freeing)
		return;
	if (g->state == VIGIL_GUEST_WATCH) {
		g->interrupted = true;
		vigil_guest_harness_error(g, why); /* ends the session: begin_stop QUIT */
		if (!urgent)
			return;
	}
	/* Already stopping: the owner insists. A first time, stop now rather than
	 * wait (for the agent's power-off, or a backend holding the VM for a
	 * person: --on-stall debug); urgently, kill. */
	begin_stop(g, urgent ? VIGIL_STOP_KILL : VIGIL_STOP_QUIT);
}

void vigil_guest_gone(struct vigil_guest *g)
{
	uint64_t t;
	const char *note = NULL;
	size_t nl = 0;

	if (g->state == VIGIL_GUEST_DONE || g->freeing)
		return;
	/* what the VMM wrote before it went is still in the socket */
	pause_port(g, false);
	for (int i = 0; i < 64 && g->port && !port_read(g, VIGIL_GUEST_READ_BUDGET); i++)
		;
	vigil_guest_port_detach(g);
	g->state = VIGIL_GUEST_DONE;
	vigil_timer_disarm(g->timer);
	t = vigil_loop_now(g->loop);
	if (g->cfg.sinks.finish_note)
		note = g->cfg.sinks.finish_note(g->cfg.sinks.ctx, g, &nl);
	rec(g, VIGIL_REC_FINISH, t, nl <= VIGIL_REC_MAX ? note : NULL,
	    nl <= VIGIL_REC_MAX ? nl : 0);
	g->verdict = vigil_session_finish(g->s, t);
	if (g->cfg.sinks.done)
		g->cfg.sinks.done(g->cfg.sinks.ctx, g, g->verdict);
}

/* ---- creation ------------------------------------------------------------------ */

int vigil_guest_new(struct vigil_loop *l, const struct vigil_guest_cfg *c, uint64_t t0_ns,
		    struct vigil_guest **out)
{
	struct vigil_guest *g;
	int e;

	if (!c->ops || !c->ops->stop || !c->sopts || (c->record_path && !c->record_header))
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->loop = l;
	g->cfg = *c;
	g->sopts = *c->sopts;
	g->cfg.sopts = &g->sopts;
	snprintf(g->name, sizeof(g->name), "%s", c->name ? c->name : "guest");
	g->cfg.name = g->name;
	g->txq = malloc(VIGIL_GUEST_TXQ_MAX + VIGIL_WIRE_MAX_FRAME);
	e = g->txq ? vigil_timer_new(l, on_timer, g, &g->timer) : -ENOMEM;
	if (e == 0)
		e = session_start(g, t0_ns);
	if (e < 0) {
		g->cfg.ops = NULL; /* the backend stays the caller's */
		vigil_guest_free(g);
		return e;
	}
	*out = g;
	return 0;
}

int vigil_guest_restart(struct vigil_guest *g, uint64_t t0_ns)
{
	vigil_guest_port_detach(g);
	vigil_timer_disarm(g->timer);
	g->txq_len = 0;
	g->paused = g->blind = g->held = false;
	g->verdict = NULL;
	g->state = VIGIL_GUEST_WATCH;
	return session_start(g, t0_ns);
}

void vigil_guest_free(struct vigil_guest *g)
{
	if (!g)
		return;
	g->freeing = true;
	vigil_source_free(g->port);
	g->port = NULL;
	vigil_timer_free(g->timer);
	vigil_guest_record_close(g);
	vigil_session_free(g->s);
	g->s = NULL;
	if (g->cfg.ops && g->cfg.ops->free)
		g->cfg.ops->free(g->cfg.be);
	free(g->txq);
	free(g);
}

enum vigil_guest_state vigil_guest_state(const struct vigil_guest *g)
{
	return g->state;
}

const char *vigil_guest_name(const struct vigil_guest *g)
{
	return g->name;
}

struct vigil_session *vigil_guest_session(const struct vigil_guest *g)
{
	return g->s;
}

uint64_t vigil_guest_t0(const struct vigil_guest *g)
{
	return g->t0;
}

uint64_t vigil_guest_rx_bytes(const struct vigil_guest *g)
{
	return g->rx_bytes;
}

uint64_t vigil_guest_first_byte_ns(const struct vigil_guest *g)
{
	return g->first_byte_ns;
}

const struct vigil_loop_hist *vigil_guest_read_hist(const struct vigil_guest *g)
{
	return &g->read_hist;
}

int vigil_guest_record_close(struct vigil_guest *g)
{
	int e = g->rec.err;

	if (g->rec.f) {
		int c = vigil_rec_close(&g->rec);
		e = e ? e : c;
	}
	g->recording = false;
	return e;
}

const struct vigil_verdict *vigil_guest_verdict(const struct vigil_guest *g)
{
	return g->verdict;
}
