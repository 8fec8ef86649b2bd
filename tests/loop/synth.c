/* SPDX-License-Identifier: MIT */
/*
 * synth: synthetic guests for loop tests and benchmarks (see synth.h).
 *
 * Memory: a fleet allocates its guests, one slot per guest and one event
 * log for all of them at synth_fleet_new; a writer its queue at init and
 * its flood buffers at synth_tx_flood_init. Nothing is allocated per event
 * or per frame (but the JSON text with opts.json, as a real sink does), so
 * the harness adds nothing to what a benchmark measures but its own fixed
 * tables.
 */
#include "synth.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct synth_slot {
	struct synth_fleet *f;
	unsigned idx;
	struct vigil_guest *g;
	int host_fd; /* a number only: the guest owns the fd once attached */
	int peer_fd; /* the guest end; -1 once closed */
	struct synth_event *log;
	uint32_t log_n;
	struct synth_guest_stats st;
};

struct synth_fleet {
	struct vigil_loop *loop;
	struct synth_fleet_opts o;
	struct vigil_session_opts sopts;
	unsigned n;
	struct synth_slot *slots;
	struct synth_event *log_mem; /* n x log_cap */
};

/* ---- the backend: nothing to stop but the link ------------------------------ */

static void be_stop(void *be, enum vigil_stop_how how)
{
	struct synth_slot *s = be;

	(void)how;
	vigil_guest_gone(s->g);
}

static void be_port_closed(void *be)
{
	struct synth_slot *s = be;

	s->st.port_closed++;
}

static int be_snapshot(void *be, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct synth_slot *s = be;
	const struct synth_fleet_opts *o = &s->f->o;

	return o->snapshot ? o->snapshot(o->ctx, s->idx, kind, tag, id) : -EOPNOTSUPP;
}

static const struct vigil_guest_ops synth_ops = {
	.kind = "synth",
	.stop = be_stop,
	.port_closed = be_port_closed,
	.snapshot = be_snapshot,
};

/* ---- sinks ---------------------------------------------------------------------- */

static bool process_event(enum vigil_event_type t)
{
	return t == VIGIL_EV_PROCESS_NEW || t == VIGIL_EV_PROCESS_GONE || t == VIGIL_EV_STALL ||
	       t == VIGIL_EV_RECOVERY;
}

static void sink_event(void *ctx, struct vigil_guest *g, const struct vigil_event *ev)
{
	struct synth_slot *s = ctx;
	struct synth_fleet *f = s->f;
	uint64_t seen = synth_now_ns();
	unsigned t = (unsigned)ev->type;

	(void)g;
	if (t < VIGIL_EV__COUNT)
		s->st.events[t]++;
	if (ev->type == VIGIL_EV_OUTPUT) {
		s->st.output_bytes += ev->output.len;
		s->st.output_max += ev->output.len == VIGIL_WIRE_MAX_PAYLOAD;
		/* the emulated sink's work (see synth.h): a spin, on purpose */
		if (f->o.output_ns_per_kib) {
			uint64_t end =
			    seen + (uint64_t)f->o.output_ns_per_kib * ev->output.len / 1024u;

			while (synth_now_ns() < end)
				;
		}
	}
	if (t < 64 && (f->o.log_mask >> t & 1u)) {
		if (s->log_n < f->o.log_cap) {
			struct synth_event *e = &s->log[s->log_n++];
			bool proc = process_event(ev->type);

			e->seen_ns = seen;
			e->now_ns = ev->now_ns;
			e->type = (uint16_t)t;
			e->pid = proc ? ev->process.pid : 0;
			e->deadline_ns = proc ? ev->process.deadline_ns : 0;
			e->silence_ns = proc ? ev->process.silence_ns : 0;
		} else {
			s->st.log_dropped++;
		}
	}
	if (f->o.json) {
		char *json = NULL;
		int n = vigil_event_to_json(ev, &json);

		s->st.json_bytes += n > 0 ? (uint64_t)n : 0;
		free(json);
	}
	if (f->o.event)
		f->o.event(f->o.ctx, s->idx, ev, seen);
}

static void sink_done(void *ctx, struct vigil_guest *g, const struct vigil_verdict *v)
{
	struct synth_slot *s = ctx;

	(void)g;
	(void)v;
	s->st.done = true;
}

/* ---- the fleet ------------------------------------------------------------------ */

static int slot_open(struct synth_fleet *f, struct synth_slot *s)
{
	char name[VIGIL_GUEST_NAME_MAX];
	struct vigil_guest_cfg c = {
		.name = name,
		.sopts = &f->sopts,
		.ops = &synth_ops,
		.be = s,
		.sinks = { .event = sink_event, .done = sink_done, .ctx = s },
	};
	int sv[2], e;

	snprintf(name, sizeof(name), "%s-%u", f->o.name ? f->o.name : "synth", s->idx);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (f->o.peer_sndbuf > 0 &&
	    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &f->o.peer_sndbuf, sizeof(int)) < 0) {
		e = -errno;
		close(sv[0]);
		close(sv[1]);
		return e;
	}
	e = vigil_guest_new(f->loop, &c, synth_now_ns(), &s->g);
	if (e < 0) {
		close(sv[0]);
		close(sv[1]);
		return e;
	}
	s->peer_fd = sv[1];
	e = vigil_guest_port_attach(s->g, sv[0]); /* closes sv[0] on failure */
	if (e == 0)
		s->host_fd = sv[0];
	return e;
}

int synth_fleet_new(struct vigil_loop *l, const struct synth_fleet_opts *o,
		    struct synth_fleet **out)
{
	struct synth_fleet *f;
	int e = 0;

	if (!l || !o || o->n == 0)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->loop = l;
	f->o = *o;
	f->o.log_cap = o->log_cap ? o->log_cap : SYNTH_LOG_DEFAULT;
	f->o.log_mask = o->log_mask ? o->log_mask : ~(1ull << VIGIL_EV_OUTPUT);
	if (o->sopts) {
		f->sopts = *o->sopts;
	} else {
		vigil_session_opts_default(&f->sopts);
		f->sopts.mode = VIGIL_MODE_WATCH;
	}
	f->slots = calloc(o->n, sizeof(*f->slots));
	f->log_mem = calloc((size_t)o->n * f->o.log_cap, sizeof(*f->log_mem));
	if (!f->slots || !f->log_mem) {
		free(f->slots);
		free(f->log_mem);
		free(f);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < o->n; i++) {
		struct synth_slot *s = &f->slots[i];

		s->f = f;
		s->idx = i;
		s->host_fd = s->peer_fd = -1;
		s->log = f->log_mem + (size_t)i * f->o.log_cap;
	}
	for (f->n = 0; f->n < o->n && e == 0; f->n++)
		e = slot_open(f, &f->slots[f->n]);
	if (e < 0) {
		synth_fleet_free(f);
		return e;
	}
	*out = f;
	return 0;
}

void synth_fleet_free(struct synth_fleet *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < f->n; i++) {
		vigil_guest_free(f->slots[i].g);
		if (f->slots[i].peer_fd >= 0)
			close(f->slots[i].peer_fd);
	}
	free(f->slots);
	free(f->log_mem);
	free(f);
}

unsigned synth_fleet_size(const struct synth_fleet *f)
{
	return f->n;
}

struct vigil_guest *synth_guest(const struct synth_fleet *f, unsigned i)
{
	return i < f->n ? f->slots[i].g : NULL;
}

int synth_peer_fd(const struct synth_fleet *f, unsigned i)
{
	return i < f->n ? f->slots[i].peer_fd : -1;
}

void synth_peer_close(struct synth_fleet *f, unsigned i)
{
	if (i < f->n && f->slots[i].peer_fd >= 0) {
		close(f->slots[i].peer_fd);
		f->slots[i].peer_fd = -1;
	}
}

void synth_fleet_close_peers(struct synth_fleet *f)
{
	for (unsigned i = 0; i < f->n; i++)
		synth_peer_close(f, i);
}

void synth_fleet_close_hosts(const struct synth_fleet *f)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->slots[i].host_fd >= 0)
			close(f->slots[i].host_fd);
}

const struct synth_event *synth_events(const struct synth_fleet *f, unsigned i, uint32_t *n)
{
	*n = i < f->n ? f->slots[i].log_n : 0;
	return i < f->n ? f->slots[i].log : NULL;
}

void synth_guest_stats(const struct synth_fleet *f, unsigned i, struct synth_guest_stats *out)
{
	if (i < f->n)
		*out = f->slots[i].st;
	else
		memset(out, 0, sizeof(*out));
}

const struct synth_event *synth_find(const struct synth_fleet *f, unsigned i, uint16_t type,
				     uint32_t pid, uint64_t after_ns)
{
	if (i >= f->n)
		return NULL;
	for (uint32_t k = 0; k < f->slots[i].log_n; k++) {
		const struct synth_event *e = &f->slots[i].log[k];

		if (e->type == type && (pid == 0 || e->pid == pid) && e->seen_ns >= after_ns)
			return e;
	}
	return NULL;
}

uint64_t synth_consumed(const struct synth_fleet *f, unsigned i)
{
	VIGIL_SESSION_COUNTERS(c);

	if (i >= f->n)
		return 0;
	vigil_session_counters(vigil_guest_session(f->slots[i].g), &c);
	return c.stream.bytes;
}

int synth_run_until(struct vigil_loop *l, bool (*done)(void *ctx), void *ctx, int timeout_ms)
{
	uint64_t end = synth_now_ns() + (uint64_t)timeout_ms * 1000000u;

	while (!done(ctx)) {
		uint64_t now = synth_now_ns();
		int e;

		if (now >= end)
			return -ETIMEDOUT;
		/* at most 10 ms a wait: done() may depend on the time alone */
		e = vigil_loop_run_once(l, end - now > 10000000u ? 10 : 1);
		if (e < 0 && e != -EINTR)
			return e;
	}
	return 0;
}

/* ---- the writer ------------------------------------------------------------------ */

static uint64_t tx_rnd(struct synth_tx *t)
{
	uint64_t z = (t->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

int synth_tx_init(struct synth_tx *t, int fd, size_t q_cap, uint64_t seed)
{
	int fl = fcntl(fd, F_GETFL);

	memset(t, 0, sizeof(*t));
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	t->fd = fd;
	t->rng = seed;
	t->q_cap = q_cap ? q_cap : SYNTH_TX_QUEUE;
	if (t->q_cap < VIGIL_WIRE_MAX_FRAME)
		return -EINVAL;
	t->q = malloc(t->q_cap);
	return t->q ? 0 : -ENOMEM;
}

void synth_tx_free(struct synth_tx *t)
{
	free(t->q);
	free(t->fl_frame);
	free(t->fl_noise);
	t->q = t->fl_frame = t->fl_noise = NULL;
}

/* Room for need bytes at the queue's end (the written part is dropped
 * first): its start, or NULL (counted as a dropped frame). */
static uint8_t *tx_room(struct synth_tx *t, size_t need)
{
	if (t->q_off == t->q_len) {
		t->q_off = t->q_len = 0;
	} else if (t->q_off > 0 && t->q_len + need > t->q_cap) {
		memmove(t->q, t->q + t->q_off, t->q_len - t->q_off);
		t->q_len -= t->q_off;
		t->q_off = 0;
	}
	if (need > t->q_cap - t->q_len) {
		t->frames_dropped++;
		return NULL;
	}
	return t->q + t->q_len;
}

/* Seals the frame whose payload is at room + 24, queues it, writes. */
static int tx_commit(struct synth_tx *t, uint8_t *room, uint16_t type, size_t len)
{
	int n = vigil_frame_seal(room, t->q_cap - t->q_len, type, t->seq, len);
	int e;

	if (n < 0)
		return n;
	t->seq++;
	t->frames++;
	t->q_len += (size_t)n;
	e = synth_tx_flush(t);
	return e < 0 ? e : 0;
}

int synth_tx_hello(struct synth_tx *t, const char *hostname)
{
	struct vigil_hello h = {
		.proto_version = VIGIL_WIRE_VERSION,
		.guest_boottime_ns = synth_now_ns(),
		.agent_version = VIGIL_STR("synth"),
		.kernel_release = VIGIL_STR("6.1.0-synth"),
		.hostname = { hostname ? hostname : "",
			      (uint16_t)(hostname ? strlen(hostname) : 0) },
	};
	size_t cap = 64u + h.hostname.len; /* the fixed part and the two short strings fit */
	uint8_t *room = tx_room(t, VIGIL_WIRE_HDR_LEN + cap);
	int n;

	if (!room)
		return -ENOBUFS;
	n = vigil_hello_encode(room + VIGIL_WIRE_HDR_LEN, cap, &h);
	return n < 0 ? n : tx_commit(t, room, VIGIL_MSG_HELLO, (size_t)n);
}

int synth_tx_sys_rdy(struct synth_tx *t)
{
	uint8_t *room = tx_room(t, VIGIL_WIRE_HDR_LEN);

	return room ? tx_commit(t, room, VIGIL_MSG_SYS_RDY, 0) : -ENOBUFS;
}

int synth_tx_beats(struct synth_tx *t, const uint32_t *pids, unsigned n, uint32_t deadline_ms)
{
	struct vigil_beat b[VIGIL_WIRE_MAX_RECORDS];
	uint64_t now = synth_now_ns();
	uint8_t *room;
	int len;

	if (n == 0 || n > VIGIL_WIRE_MAX_RECORDS)
		return -EINVAL;
	room = tx_room(t, VIGIL_WIRE_HDR_LEN + (size_t)n * VIGIL_WIRE_BEAT_LEN);
	if (!room)
		return -ENOBUFS;
	for (unsigned i = 0; i < n; i++)
		b[i] = (struct vigil_beat){
			.pid = pids[i],
			.nonce = ++t->nonce,
			.guest_mono_ns = now,
			.status = VIGIL_BEAT_OK,
			.origin = VIGIL_ORIGIN_KERNEL_ATTESTED,
			.deadline_ms = deadline_ms,
		};
	len = vigil_beats_encode(room + VIGIL_WIRE_HDR_LEN, (size_t)n * VIGIL_WIRE_BEAT_LEN, b, n);
	return len < 0 ? len : tx_commit(t, room, VIGIL_MSG_BEAT, (size_t)len);
}

int synth_tx_stdout(struct synth_tx *t, size_t len)
{
	uint8_t *room;

	if (len > VIGIL_WIRE_MAX_PAYLOAD)
		return -EINVAL;
	room = tx_room(t, VIGIL_WIRE_HDR_LEN + len);
	if (!room)
		return -ENOBUFS;
	for (size_t i = 0; i < len; i++)
		room[VIGIL_WIRE_HDR_LEN + i] = (uint8_t)(i % 79 == 78 ? '\n' : 'a' + i % 26);
	return tx_commit(t, room, VIGIL_MSG_STDOUT, len);
}

int synth_tx_raw(struct synth_tx *t, const void *bytes, size_t len)
{
	uint8_t *room = tx_room(t, len);
	int e;

	if (!room)
		return -ENOBUFS;
	memcpy(room, bytes, len);
	t->q_len += len;
	e = synth_tx_flush(t);
	return e < 0 ? e : 0;
}

/* send() without SIGPIPE: bytes written, 0 when full, or -errno. */
static long tx_send(struct synth_tx *t, const struct iovec *iov, int n_iov)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n_iov };

	for (;;) {
		ssize_t n = sendmsg(t->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n >= 0) {
			t->bytes += (uint64_t)n;
			return n;
		}
		if (errno == EAGAIN)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* Goes on with the flood chunk under way. 1 when it is done, 0 when the
 * socket is full, or -errno. */
static int flood_chunk(struct synth_tx *t, size_t *written)
{
	while (t->fl_busy) {
		struct iovec iov[2];
		int k = 0;
		long n;

		if (t->fl_left)
			iov[k++] = (struct iovec){ t->fl_noise + t->fl_at, t->fl_left };
		iov[k++] = (struct iovec){ t->fl_frame + t->fl_frame_off,
					   VIGIL_WIRE_MAX_FRAME - t->fl_frame_off };
		n = tx_send(t, iov, k);
		if (n <= 0)
			return (int)n;
		*written += (size_t)n;
		if ((size_t)n < t->fl_left) {
			t->fl_at += (size_t)n;
			t->fl_left -= (size_t)n;
			continue;
		}
		t->fl_frame_off += (size_t)n - t->fl_left;
		t->fl_at += t->fl_left;
		t->fl_left = 0;
		t->fl_busy = t->fl_frame_off < VIGIL_WIRE_MAX_FRAME;
	}
	return 1;
}

int synth_tx_flush(struct synth_tx *t)
{
	size_t w = 0;
	int e = flood_chunk(t, &w);

	if (e < 0)
		return e;
	while (e > 0 && t->q_off < t->q_len) {
		struct iovec iov = { t->q + t->q_off, t->q_len - t->q_off };
		long n = tx_send(t, &iov, 1);

		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		t->q_off += (size_t)n;
	}
	if (t->q_off == t->q_len)
		t->q_off = t->q_len = 0;
	return (int)(t->q_len - t->q_off) +
	       (t->fl_busy ? (int)(t->fl_left + VIGIL_WIRE_MAX_FRAME - t->fl_frame_off) : 0);
}

int synth_tx_sync(struct synth_tx *t, int timeout_ms)
{
	uint64_t end = synth_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int e;

	while ((e = synth_tx_flush(t)) > 0) {
		struct pollfd p = { .fd = t->fd, .events = POLLOUT };
		uint64_t now = synth_now_ns();

		if (now >= end)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)((end - now) / 1000000u) + 1) < 0 && errno != EINTR)
			return -errno;
	}
	return e;
}

int synth_tx_drain(struct synth_tx *t)
{
	uint8_t buf[4096];
	int total = 0;

	for (;;) {
		ssize_t n = recv(t->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			t->drained += (uint64_t)n;
			total += (int)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EAGAIN)
			return total;
		if (errno != EINTR)
			return -errno;
	}
}

/* ---- the flooder ------------------------------------------------------------------ */

int synth_tx_flood_init(struct synth_tx *t, size_t noise_max)
{
	uint8_t *p;
	int n;

	t->fl_noise_max = noise_max ? noise_max : SYNTH_NOISE_MAX;
	if (t->fl_noise_max > SYNTH_NOISE_LEN)
		return -EINVAL;
	if (!t->fl_frame)
		t->fl_frame = malloc(VIGIL_WIRE_MAX_FRAME);
	if (!t->fl_noise)
		t->fl_noise = malloc(SYNTH_NOISE_LEN);
	if (!t->fl_frame || !t->fl_noise)
		return -ENOMEM;
	for (size_t i = 0; i < SYNTH_NOISE_LEN; i += 8) {
		uint64_t r = tx_rnd(t);

		memcpy(t->fl_noise + i, &r, 8);
	}
	/* random output bytes: valid for STDOUT whatever they are */
	p = t->fl_frame + VIGIL_WIRE_HDR_LEN;
	for (size_t i = 0; i < VIGIL_WIRE_MAX_PAYLOAD; i += 8) {
		uint64_t r = tx_rnd(t);

		memcpy(p + i, &r, 8);
	}
	n = vigil_frame_seal(t->fl_frame, VIGIL_WIRE_MAX_FRAME, VIGIL_MSG_STDOUT, 0,
			     VIGIL_WIRE_MAX_PAYLOAD);
	return n < 0 ? n : 0;
}

/* The next chunk: a noise run, then the frame resealed with the next seq.
 * Only the header changes (seq and header_crc, wire.md "Frame"), so the
 * payload's CRC is computed once. */
static void flood_next(struct synth_tx *t)
{
	size_t len = (size_t)(tx_rnd(t) % (t->fl_noise_max + 1));

	t->fl_at = (size_t)(tx_rnd(t) % (SYNTH_NOISE_LEN - len + 1));
	t->fl_left = len;
	t->fl_frame_off = 0;
	vigil_put32(t->fl_frame + 8, t->seq++);
	vigil_put32(t->fl_frame + 20, vigil_crc32c(t->fl_frame, 20));
	t->fl_busy = true;
	t->frames++;
	t->fl_valid++;
	t->fl_noise_bytes += len;
}

long synth_tx_flood(struct synth_tx *t, size_t max_bytes)
{
	size_t w = 0;
	int e;

	if (!t->fl_frame)
		return -EINVAL;
	e = synth_tx_flush(t);
	if (e != 0)
		return e < 0 ? e : 0;
	while (w < max_bytes) {
		if (!t->fl_busy)
			flood_next(t);
		e = flood_chunk(t, &w);
		if (e < 0)
			return e;
		if (e == 0)
			break;
	}
	return (long)w;
}

int synth_tx_flood_until(struct synth_tx *t, uint64_t end_ns)
{
	for (;;) {
		struct pollfd p = { .fd = t->fd, .events = POLLIN | POLLOUT };
		uint64_t now = synth_now_ns();
		long n;

		if (now >= end_ns)
			return 0;
		n = synth_tx_flood(t, 4u << 20);
		if (n == -EPIPE || n == -ECONNRESET)
			return 0;
		if (n < 0)
			return (int)n;
		if (n > 0)
			continue;
		/* full: wait for room, at most until the end */
		if (poll(&p, 1, (int)((end_ns - now) / 1000000u) + 1) < 0 && errno != EINTR)
			return -errno;
		if ((p.revents & POLLIN) && synth_tx_drain(t) == -ECONNRESET)
			return 0;
		if (p.revents & (POLLHUP | POLLERR))
			return 0;
	}
}

/* ---- processes and time ------------------------------------------------------------ */

uint64_t synth_now_ns(void)
{
	return vigil_loop_now_ns();
}

void synth_sleep_until(uint64_t t_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(t_ns / 1000000000u),
			       .tv_nsec = (long)(t_ns % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void *synth_shared_new(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void synth_shared_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

pid_t synth_spawn(int (*fn)(void *ctx), void *ctx)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(fn(ctx) & 0xff);
	return pid;
}

int synth_reap(pid_t pid, int sig)
{
	int st;

	if (sig)
		kill(pid, sig);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int synth_tx_flooder(struct synth_tx *t, int fd)
{
	int e = synth_tx_init(t, fd, 0, 0xf100d);

	if (e == 0)
		e = synth_tx_hello(t, "flooder");
	if (e == 0)
		e = synth_tx_sys_rdy(t);
	if (e == 0)
		e = synth_tx_flood_init(t, 0);
	return e;
}
