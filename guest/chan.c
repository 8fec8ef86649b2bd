/* SPDX-License-Identifier: MIT */
/*
 * chan: outgoing queues with priorities, write coalescing and the read side
 * of the port (see chan.h for the rules and limits).
 */
#include "chan.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stages.h"
#include "util.h"

#define BEAT_IDX_CAP (CHAN_BEAT_CAP * 2) /* load factor <= 1/2 */

/* Item header inside a FIFO; payload follows, items are 8-byte aligned. */
struct item {
	uint32_t len;
	uint16_t type;
	uint16_t flags;
	uint64_t mark; /* after-output items: out.pushed when queued, else 0 */
};

#define ITEM_AFTER_OUTPUT 1u

static uint32_t item_size(uint32_t len)
{
	return (uint32_t)((sizeof(struct item) + len + 7) & ~(size_t)7);
}

static int fifo_init(struct chan_fifo *f, uint32_t cap, bool droppable)
{
	memset(f, 0, sizeof(*f));
	f->buf = malloc(cap);
	if (!f->buf)
		return -ENOMEM;
	f->cap = cap;
	f->droppable = droppable;
	f->res_off = -1;
	return 0;
}

static struct item *fifo_head(const struct chan_fifo *f)
{
	return f->count ? (struct item *)(f->buf + f->head) : NULL;
}

static void fifo_pop(struct chan_fifo *f)
{
	struct item *it = fifo_head(f);
	uint32_t sz = item_size(it->len);

	f->head += sz;
	f->used -= sz;
	f->count--;
	f->popped++;
	if (f->wrapped && f->head == f->wrap_at) {
		f->head = 0;
		f->wrapped = false;
	}
	if (f->count == 0) {
		f->head = f->tail = 0;
		f->wrapped = false;
	}
}

/* Where an item of sz bytes would go: offset, or -1 when it does not fit. */
static int32_t fifo_find(struct chan_fifo *f, uint32_t sz, bool *wrap)
{
	*wrap = false;
	if (f->count == 0) {
		f->head = f->tail = 0;
		f->wrapped = false;
	}
	if (!f->wrapped) {
		if (f->cap - f->tail >= sz)
			return (int32_t)f->tail;
		if (f->head >= sz) {
			*wrap = true;
			return 0;
		}
		return -1;
	}
	return f->head - f->tail >= sz ? (int32_t)f->tail : -1;
}

static uint8_t *fifo_reserve(struct chan_fifo *f, uint32_t max_len, struct chan_stats *st)
{
	uint32_t sz = item_size(max_len);
	int32_t off;

	if (sz > f->cap)
		return NULL;
	while ((off = fifo_find(f, sz, &f->res_wrap)) < 0) {
		struct item *it = fifo_head(f);

		if (!f->droppable || !it)
			return NULL;
		st->frames_dropped++;
		st->bytes_dropped += it->len;
		fifo_pop(f);
	}
	f->res_off = off;
	return f->buf + off + sizeof(struct item);
}

static void fifo_commit(struct chan_fifo *f, uint16_t type, uint32_t len, uint16_t flags,
			uint64_t mark)
{
	struct item *it;

	if (f->res_off < 0)
		return;
	if (f->res_wrap) {
		f->wrap_at = f->tail;
		f->wrapped = true;
	}
	it = (struct item *)(f->buf + f->res_off);
	it->len = len;
	it->type = type;
	it->flags = flags;
	it->mark = mark;
	f->tail = (uint32_t)f->res_off + item_size(len);
	f->used += item_size(len);
	f->count++;
	f->pushed++;
	f->res_off = -1;
}

int chan_init(struct chan *c, int fd, chan_frame_fn on_frame, chan_stats_fn stats_fn, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->connected = true;
	c->on_frame = on_frame;
	c->stats_fn = stats_fn;
	c->ctx = ctx;
	c->wbuf = malloc(CHAN_WBUF_CAP);
	c->beats = calloc(CHAN_BEAT_CAP, sizeof(*c->beats));
	c->beat_idx = calloc(BEAT_IDX_CAP, sizeof(*c->beat_idx));
	c->rx = malloc(sizeof(*c->rx));
	c->rbuf = malloc(CHAN_RBUF_CAP);
	if (!c->wbuf || !c->beats || !c->beat_idx || !c->rx || !c->rbuf ||
	    fifo_init(&c->ctl, CHAN_CTL_CAP, false) < 0 ||
	    fifo_init(&c->rec, CHAN_REC_CAP, true) < 0 ||
	    fifo_init(&c->out, CHAN_OUT_CAP, true) < 0) {
		chan_fini(c);
		return -ENOMEM;
	}
	vigil_asm_init(c->rx);
	return 0;
}

void chan_fini(struct chan *c)
{
	if (!c)
		return;
	free(c->wbuf);
	free(c->beats);
	free(c->beat_idx);
	free(c->rx);
	free(c->rbuf);
	free(c->ctl.buf);
	free(c->rec.buf);
	free(c->out.buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static struct chan_fifo *queue(struct chan *c, enum chan_queue q)
{
	return q == CHAN_Q_CTL || q == CHAN_Q_CTL_EXT ? &c->ctl
	       : q == CHAN_Q_REC                      ? &c->rec
						      : &c->out;
}

uint8_t *chan_reserve(struct chan *c, enum chan_queue q, uint32_t max_len)
{
	uint8_t *p;

	if (max_len > VIGIL_WIRE_MAX_PAYLOAD)
		return NULL;
	if (q == CHAN_Q_CTL_EXT && c->ctl.used + item_size(max_len) > c->ctl.cap / 2) {
		c->st.ctl_ext_full++;
		return NULL;
	}
	p = fifo_reserve(queue(c, q), max_len, &c->st);
	if (!p && (q == CHAN_Q_CTL || q == CHAN_Q_CTL_EXT))
		c->st.ctl_full++;
	return p;
}

void chan_commit(struct chan *c, enum chan_queue q, uint16_t type, uint32_t len, bool after_output)
{
	fifo_commit(queue(c, q), type, len, after_output ? ITEM_AFTER_OUTPUT : 0,
		    after_output ? c->out.pushed : 0);
}

int chan_push(struct chan *c, enum chan_queue q, uint16_t type, const void *p, uint32_t len,
	      bool after_output)
{
	uint8_t *dst;

	if (len > VIGIL_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	dst = chan_reserve(c, q, len);
	if (!dst)
		return -ENOBUFS;
	if (len)
		memcpy(dst, p, len);
	chan_commit(c, q, type, len, after_output);
	return 0;
}

static uint32_t pid_hash(uint32_t pid)
{
	return (pid * 0x9E3779B1u) >> 19; /* 13 bits: BEAT_IDX_CAP == 8192 */
}

static void beat_index_rebuild(struct chan *c)
{
	memset(c->beat_idx, 0, BEAT_IDX_CAP * sizeof(*c->beat_idx));
	for (uint32_t i = 0; i < c->nbeats; i++) {
		uint32_t h = pid_hash(c->beats[i].pid);

		while (c->beat_idx[h])
			h = (h + 1) & (BEAT_IDX_CAP - 1);
		c->beat_idx[h] = (uint16_t)(i + 1);
	}
}

void chan_beat(struct chan *c, const struct vigil_beat *b)
{
	uint32_t h = pid_hash(b->pid);

	while (c->beat_idx[h]) {
		struct vigil_beat *old = &c->beats[c->beat_idx[h] - 1];

		if (old->pid == b->pid) {
			*old = *b;
			c->st.beats_coalesced++;
			return;
		}
		h = (h + 1) & (BEAT_IDX_CAP - 1);
	}
	if (c->nbeats == CHAN_BEAT_CAP) {
		c->st.beats_dropped++;
		return;
	}
	c->beats[c->nbeats] = *b;
	c->beat_idx[h] = (uint16_t)(++c->nbeats);
}

bool chan_pending(const struct chan *c)
{
	return c->wlen > c->woff || c->ctl.count || c->nbeats || c->stats_due || c->rec.count ||
	       c->out.count;
}

static uint32_t wbuf_room(struct chan *c)
{
	if (c->woff && c->woff == c->wlen)
		c->woff = c->wlen = c->wjump = 0;
	return CHAN_WBUF_CAP - c->wlen;
}

static void wbuf_compact(struct chan *c)
{
	if (!c->woff)
		return;
	memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
	c->wlen -= c->woff;
	c->wjump -= c->woff;
	c->woff = 0;
}

static uint32_t frame_end(const struct chan *c, uint32_t off)
{
	return off + VIGIL_WIRE_HDR_LEN + vigil_le32(c->wbuf + off + 12);
}

/* Bytes up to woff are written: wjump moves past the frames they started. */
static void wbuf_written(struct chan *c)
{
	while (c->wjump < c->woff)
		c->wjump = frame_end(c, c->wjump);
}

/* Seal the frame whose payload is at wbuf + off + 24 with seq. */
static void seal_at(struct chan *c, uint32_t off, uint16_t type, uint32_t len, uint32_t seq)
{
	uint64_t t0 = stage_begin();

	/* Cannot fail: room and length were checked by the caller. */
	vigil_frame_seal(c->wbuf + off, CHAN_WBUF_CAP - off, type, seq, len);
	stage_end(STAGE_SEAL, t0, len);
	c->st.frames_sent++;
}

/* Seal a frame whose payload is at wbuf + wlen + 24, after everything staged. */
static void seal(struct chan *c, uint16_t type, uint32_t len)
{
	seal_at(c, c->wlen, type, len, c->seq++);
	c->wlen += VIGIL_WIRE_HDR_LEN + len;
}

/* Room for a frame of len payload bytes at the end, leaving `keep` bytes free. */
static bool room_for(struct chan *c, uint32_t len, uint32_t keep)
{
	uint32_t need = VIGIL_WIRE_HDR_LEN + len + keep;

	if (wbuf_room(c) >= need)
		return true;
	wbuf_compact(c);
	return wbuf_room(c) >= need;
}

/*
 * A frame that jumps ahead of every staged frame not yet started (a
 * control reply, beats): a gap for it at wjump, where its payload goes.
 * NULL when the buffer has no room. Seal it with seal_front().
 */
static uint8_t *stage_front(struct chan *c, uint32_t len)
{
	uint32_t need = VIGIL_WIRE_HDR_LEN + len;

	if (!room_for(c, len, 0))
		return NULL;
	if (c->wjump < c->wlen)
		memmove(c->wbuf + c->wjump + need, c->wbuf + c->wjump, c->wlen - c->wjump);
	return c->wbuf + c->wjump + VIGIL_WIRE_HDR_LEN;
}

/*
 * Seal the frame stage_front() made room for. It takes the seq of the
 * first frame it jumped, and those frames are numbered again after it
 * (seq and header CRC: their payload CRCs stand), so the stream stays in
 * order on the wire.
 */
static void seal_front(struct chan *c, uint16_t type, uint32_t len)
{
	uint32_t need = VIGIL_WIRE_HDR_LEN + len, off = c->wjump + need;
	uint32_t seq = c->wjump < c->wlen ? vigil_le32(c->wbuf + off + 8) : c->seq;

	seal_at(c, c->wjump, type, len, seq);
	c->wlen += need;
	c->wjump = off;
	c->seq++;
	for (uint32_t s = seq + 1; off < c->wlen; off = frame_end(c, off), s++) {
		vigil_put32(c->wbuf + off + 8, s);
		vigil_put32(c->wbuf + off + 20, vigil_crc32c(c->wbuf + off, 20));
		c->st.frames_renumbered++;
	}
}

/*
 * Move the head item of f into the write buffer; false when it does not
 * fit. Control items jump ahead of staged frames not yet started; output
 * and records (and control items that must follow output) go last, and
 * leave CHAN_JUMP_ROOM free for the ones that jump; nothing jumps a
 * control item.
 */
static bool take_item(struct chan *c, struct chan_fifo *f, bool jump)
{
	struct item *it = fifo_head(f);
	uint64_t t0 = stage_begin();
	uint8_t *p;

	if (jump) {
		if (!(p = stage_front(c, it->len)))
			return false;
		memcpy(p, it + 1, it->len);
		seal_front(c, it->type, it->len);
	} else {
		if (!room_for(c, it->len, f == &c->ctl ? 0 : CHAN_JUMP_ROOM))
			return false;
		memcpy(c->wbuf + c->wlen + VIGIL_WIRE_HDR_LEN, it + 1, it->len);
		stage_end(STAGE_COPY, t0, it->len);
		seal(c, it->type, it->len);
		/* Control frames keep their order: none jumps one that follows output. */
		if (f == &c->ctl)
			c->wjump = c->wlen;
	}
	fifo_pop(f);
	return true;
}

static void fill(struct chan *c);

static bool take_beats(struct chan *c)
{
	uint32_t n = c->nbeats < VIGIL_WIRE_MAX_RECORDS ? c->nbeats : VIGIL_WIRE_MAX_RECORDS;
	uint32_t len = n * VIGIL_WIRE_BEAT_LEN;
	uint8_t *p = stage_front(c, len);
	int r;

	if (!p)
		return false;
	r = vigil_beats_encode(p, len, c->beats, n);
	if (r > 0)
		seal_front(c, VIGIL_MSG_BEAT, (uint32_t)r);
	if (n == c->nbeats) {
		/* The common case: everything went. Clear just the slots in use (a
		 * 16 KiB memset per flush would cost more than the beats). */
		for (uint32_t i = 0; i < n; i++) {
			uint32_t h = pid_hash(c->beats[i].pid);

			while (c->beat_idx[h] != i + 1)
				h = (h + 1) & (BEAT_IDX_CAP - 1);
			c->beat_idx[h] = 0;
		}
		c->nbeats = 0;
		return true;
	}
	c->nbeats -= n;
	memmove(c->beats, c->beats + n, c->nbeats * sizeof(*c->beats));
	beat_index_rebuild(c);
	return true;
}

static bool take_stats(struct chan *c)
{
	uint64_t vals[32];
	uint32_t n = c->stats_fn ? c->stats_fn(c->ctx, vals, ARRAY_SIZE(vals)) : 0;
	uint32_t len = 4 + 8 * n;
	uint8_t *p = stage_front(c, len);
	int r;

	if (!p)
		return false;
	r = vigil_agent_stats_encode(p, len, vals, n);
	if (r >= 0)
		seal_front(c, VIGIL_MSG_AGENT_STATS, (uint32_t)r);
	c->stats_due = false;
	return true;
}

uint8_t *chan_stage_reserve(struct chan *c, uint32_t max_len)
{
	if (!c->connected || max_len > VIGIL_WIRE_MAX_PAYLOAD)
		return NULL;
	fill(c);
	/* Anything still queued goes first: output keeps its order, EXIT too. */
	if (c->ctl.count || c->nbeats || c->stats_due || c->rec.count || c->out.count)
		return NULL;
	if (!room_for(c, max_len, CHAN_JUMP_ROOM))
		return NULL;
	return c->wbuf + c->wlen + VIGIL_WIRE_HDR_LEN;
}

void chan_stage_commit(struct chan *c, uint16_t type, uint32_t len)
{
	c->st.frames_staged++;
	seal(c, type, len);
}

/* Fill the write buffer in priority order until it is full or nothing is left. */
static void fill(struct chan *c)
{
	for (;;) {
		struct item *it = fifo_head(&c->ctl);

		if (it && (!(it->flags & ITEM_AFTER_OUTPUT) || it->mark <= c->out.popped)) {
			if (!take_item(c, &c->ctl, !(it->flags & ITEM_AFTER_OUTPUT)))
				return;
			continue;
		}
		if (c->nbeats) {
			if (!take_beats(c))
				return;
			continue;
		}
		if (c->stats_due) {
			if (!take_stats(c))
				return;
			continue;
		}
		if (c->rec.count) {
			if (!take_item(c, &c->rec, false))
				return;
			continue;
		}
		if (c->out.count) {
			if (!take_item(c, &c->out, false))
				return;
			continue;
		}
		return;
	}
}

int chan_flush(struct chan *c, uint64_t now_ns)
{
	uint64_t budget = CHAN_WRITE_BUDGET, t0;

	if (!c->connected)
		return -EPIPE;
	for (;;) {
		ssize_t w;

		fill(c);
		if (c->wlen == c->woff) {
			c->blocked_since = 0;
			return 0;
		}
		if (!budget)
			return -EAGAIN;
		t0 = stage_begin();
		w = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
		stage_end(STAGE_PORT_WRITE, t0, w > 0 ? (uint64_t)w : 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			c->st.write_stalls++;
			if (!c->blocked_since)
				c->blocked_since = now_ns ? now_ns : 1;
			return -EAGAIN;
		}
		if (w <= 0) {
			/* EPIPE, ECONNRESET, ENODEV: the host went away. */
			c->connected = false;
			c->st.disconnects++;
			if (!c->blocked_since)
				c->blocked_since = now_ns ? now_ns : 1;
			return -EPIPE;
		}
		c->woff += (uint32_t)w;
		wbuf_written(c);
		c->st.bytes_sent += (uint64_t)w;
		c->st.writes++;
		c->blocked_since = 0;
		budget = (uint64_t)w >= budget ? 0 : budget - (uint64_t)w;
	}
}

static void dispatch(struct chan *c, const struct vigil_frame *f)
{
	uint16_t t = f->hdr.type;

	if (!vigil_msg_name(t) || (t == VIGIL_MSG_INSPECT && !c->rx_inspect) ||
	    !vigil_msg_to_guest(t) || !f->crc_ok ||
	    vigil_payload_check(t, f->payload, f->hdr.len) < 0) {
		c->st.rx_rejected++;
		return;
	}
	c->st.rx_frames++;
	if (c->on_frame)
		c->on_frame(c->ctx, f);
}

int chan_read(struct chan *c)
{
	uint32_t budget = CHAN_READ_BUDGET;
	int handled = 0;

	if (!c->connected)
		return -EPIPE;
	for (;;) {
		struct vigil_frame f;
		ssize_t r;

		/* Decode what rbuf holds; pause (keeping it) while control is half full. */
		while (c->rx_held) {
			if (chan_ctl_pressure(c))
				return handled;
			if (vigil_asm_next(c->rx, &f) > 0) {
				dispatch(c, &f);
				handled++;
			} else {
				c->rx_held = false;
			}
		}
		if (!budget)
			return handled;
		r = read(c->fd, c->rbuf, CHAN_RBUF_CAP);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return handled;
		if (r <= 0) {
			c->connected = false;
			c->st.disconnects++;
			return -EPIPE;
		}
		vigil_asm_push(c->rx, c->rbuf, (size_t)r);
		c->rx_held = true;
		budget = (uint32_t)r >= budget ? 0 : budget - (uint32_t)r;
	}
}

int chan_probe(struct chan *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLOUT };
	int r;

	if (c->connected)
		return 1;
	do
		r = poll(&p, 1, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0 || (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
		return 0;
	c->connected = true;
	/* A new host stream: whatever the old one left half-sent is dropped there. */
	vigil_asm_reset(c->rx);
	c->rx_held = false;
	return 1;
}
