/* SPDX-License-Identifier: MIT */
/*
 * virtevent: libvirt's event implementation on a vigil loop (see
 * virtevent.h for the contracts kept and what was found about threads).
 *
 * Owns: the process-wide adapter state (one: libvirt's callbacks carry no
 * context), an open-addressing hash from id to record (linear probing,
 * backward-shift deletion, at most half full, grown by doubling in add),
 * and the records, each owned by its source or timer from add until the
 * loop reaps it (the destroy callback runs ff and frees the record).
 * Expected load: hundreds of records; update per RPC and per stream
 * packet, add and remove per connection, stream and event registration.
 */
#include "virtevent.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#define MS           1000000ull
#define HASH_MIN_CAP 64u

struct virt_rec {
	int id;       /* libvirt's id; 0 once removed */
	bool handle;  /* a handle (src), else a timeout (tm) */
	int fd;       /* libvirt's fd, given back to its callback */
	int vevents;  /* libvirt's events asked for */
	bool own_dup; /* src watches a dup of fd that the loop closes */
	void *opaque; /* libvirt's, freed by ff once the record is reaped */
	virFreeCallback ff;
	virEventHandleCallback hcb;
	virEventTimeoutCallback tcb;
	struct vigil_source *src;
	struct vigil_timer *tm;
};

struct virt_state {
	struct vigil_loop *loop; /* NULL: detached */
	pthread_t owner;         /* the only thread allowed in */
	bool impl_registered;    /* virEventRegisterImpl was called (once per process) */
	int next_id;             /* the next id to try, 1..INT_MAX */
	struct virt_rec **slots; /* the hash: cap slots, NULL = empty */
	uint32_t cap, n;         /* cap a power of two (or 0); n <= cap / 2 */
	struct vigil_virt_event_stats st;
};

static struct virt_state vs;

/* ---- the id hash ---------------------------------------------------------- */

static uint32_t id_hash(int id)
{
	return (uint32_t)id * 2654435761u; /* Knuth's multiplicative hash */
}

static struct virt_rec **slot_of(int id)
{
	uint32_t mask = vs.cap - 1;

	if (!vs.cap || id <= 0)
		return NULL;
	for (uint32_t i = id_hash(id) & mask;; i = (i + 1) & mask) {
		if (!vs.slots[i])
			return NULL;
		if (vs.slots[i]->id == id)
			return &vs.slots[i];
	}
}

static void slot_put(struct virt_rec *r)
{
	uint32_t mask = vs.cap - 1, i = id_hash(r->id) & mask;

	while (vs.slots[i])
		i = (i + 1) & mask;
	vs.slots[i] = r;
}

/* Room for one more record (the only allocation besides the record's). */
static int hash_reserve(void)
{
	struct virt_rec **old = vs.slots;
	uint32_t ocap = vs.cap, cap;

	if ((vs.n + 1) * 2 <= vs.cap)
		return 0;
	cap = vs.cap ? vs.cap * 2 : HASH_MIN_CAP;
	if (!cap)
		return -ENOMEM;
	vs.slots = calloc(cap, sizeof(*vs.slots));
	if (!vs.slots) {
		vs.slots = old;
		return -ENOMEM;
	}
	vs.cap = cap;
	for (uint32_t i = 0; i < ocap; i++)
		if (old[i])
			slot_put(old[i]);
	free(old);
	return 0;
}

/* Backward-shift deletion: no tombstones, probes stay short. */
static void slot_del(struct virt_rec **slot)
{
	uint32_t mask = vs.cap - 1, hole = (uint32_t)(slot - vs.slots);

	for (uint32_t i = (hole + 1) & mask; vs.slots[i]; i = (i + 1) & mask) {
		uint32_t home = id_hash(vs.slots[i]->id) & mask;

		/* move it into the hole unless its home lies in (hole, i] */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			vs.slots[hole] = vs.slots[i];
			hole = i;
		}
	}
	vs.slots[hole] = NULL;
	vs.n--;
}

/* A positive id not registered now; INT_MAX wraps to 1. */
static int id_next(void)
{
	int id;

	do {
		id = vs.next_id;
		vs.next_id = id == INT32_MAX ? 1 : id + 1;
	} while (slot_of(id));
	return id;
}

/* ---- checks every entry point makes --------------------------------------- */

/* Attached, and called from the loop's thread (see virtevent.h). */
static bool entry_ok(void)
{
	if (!vs.loop)
		return false;
	if (!pthread_equal(pthread_self(), vs.owner)) {
		vs.st.foreign_calls++; /* a racy count, but the call is refused */
		return false;
	}
	return true;
}

static struct virt_rec *rec_find(int id, bool handle)
{
	struct virt_rec **slot = slot_of(id);

	if (!slot || (*slot)->handle != handle) {
		vs.st.unknown_ids++;
		return NULL;
	}
	return *slot;
}

/* The destroy callback of the record's source or timer: libvirt's ff, late. */
static void rec_destroy(void *ctx)
{
	struct virt_rec *r = ctx;

	if (r->opaque != &vs) /* not impl_is_ours's probe */
		vs.st.frees++;
	if (r->ff)
		r->ff(r->opaque);
	free(r);
}

/* Out of the table now; its source or timer (and with it ff) goes later. */
static void rec_remove(struct virt_rec **slot)
{
	struct virt_rec *r = *slot;

	slot_del(slot);
	r->id = 0;
	if (r->handle) {
		vs.st.handles--;
		vigil_source_free(r->src);
	} else {
		vs.st.timeouts--;
		vigil_timer_free(r->tm);
	}
}

/* ---- handles -------------------------------------------------------------- */

static uint32_t to_epoll(int ve)
{
	uint32_t ev = 0;

	if (ve & VIR_EVENT_HANDLE_READABLE)
		ev |= EPOLLIN;
	if (ve & VIR_EVENT_HANDLE_WRITABLE)
		ev |= EPOLLOUT;
	if (!ev && (ve & (VIR_EVENT_HANDLE_ERROR | VIR_EVENT_HANDLE_HANGUP)))
		ev = EPOLLRDHUP; /* stays in epoll, where ERR and HUP are reported */
	return ev;
}

static int from_epoll(uint32_t ev)
{
	int ve = 0;

	if (ev & EPOLLIN)
		ve |= VIR_EVENT_HANDLE_READABLE;
	if (ev & EPOLLOUT)
		ve |= VIR_EVENT_HANDLE_WRITABLE;
	if (ev & EPOLLERR)
		ve |= VIR_EVENT_HANDLE_ERROR;
	if (ev & (EPOLLHUP | EPOLLRDHUP))
		ve |= VIR_EVENT_HANDLE_HANGUP;
	return ve;
}

static int handle_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct virt_rec *r = ctx;

	(void)s;
	(void)fd;
	vs.st.handle_calls++;
	r->hcb(r->id, r->fd, from_epoll(events), r->opaque);
	return 0; /* a libvirt callback cannot fail */
}

/* Whether a registered handle watches fd already (epoll takes an fd once). */
static bool fd_watched(int fd)
{
	for (uint32_t i = 0; i < vs.cap; i++)
		if (vs.slots[i] && vs.slots[i]->handle && vs.slots[i]->fd == fd)
			return true;
	return false;
}

/* The source for r: on r->fd, or on a dup of it that the loop closes. */
static int handle_watch(struct virt_rec *r)
{
	unsigned flags = 0;
	int fd = r->fd, e;

	if (fd_watched(fd)) {
		fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		flags = VIGIL_SOURCE_OWN_FD;
		r->own_dup = true;
		vs.st.fd_dups++;
	}
	e = vigil_source_add(vs.loop, fd, to_epoll(r->vevents), flags, handle_ready, r, "libvirt",
			     &r->src);
	if (e < 0 && r->own_dup)
		close(fd);
	return e;
}

static int virt_add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
			   virFreeCallback ff)
{
	struct virt_rec *r;

	if (!entry_ok() || fd < 0 || !cb)
		return -1;
	r = calloc(1, sizeof(*r));
	if (!r || hash_reserve() < 0) {
		free(r);
		vs.st.failures++;
		return -1;
	}
	*r = (struct virt_rec){
		.handle = true, .fd = fd, .vevents = events, .hcb = cb, .opaque = opaque, .ff = ff
	};
	if (handle_watch(r) < 0) {
		free(r);
		vs.st.failures++;
		return -1;
	}
	vigil_source_set_destroy(r->src, rec_destroy);
	r->id = id_next();
	slot_put(r);
	vs.n++;
	vs.st.handles++;
	vs.st.handles_added++;
	return r->id;
}

static void virt_update_handle(int watch, int events)
{
	struct virt_rec *r;

	if (!entry_ok() || !(r = rec_find(watch, true)))
		return;
	r->vevents = events;
	/* A failing epoll_ctl (ENOMEM, a closed fd) leaves the old set; libvirt's
	 * update cannot fail, and libvirt's own implementations ignore it too. */
	vigil_source_set_events(r->src, to_epoll(events));
}

static int virt_remove_handle(int watch)
{
	struct virt_rec **slot;

	if (!entry_ok())
		return -1;
	slot = slot_of(watch);
	if (!slot || !(*slot)->handle) {
		vs.st.unknown_ids++;
		return -1;
	}
	rec_remove(slot);
	vs.st.handles_removed++;
	return 0;
}

/* ---- timeouts ------------------------------------------------------------- */

static void timeout_fire(struct vigil_timer *t, uint64_t now_ns, void *ctx)
{
	struct virt_rec *r = ctx;

	(void)t;
	(void)now_ns;
	vs.st.timeout_calls++;
	r->tcb(r->id, r->opaque);
}

/* -1 (any negative): disarmed; 0: every iteration; N: every N ms from now. */
static void timeout_set(struct virt_rec *r, int ms)
{
	uint64_t period;

	if (ms < 0) {
		vigil_timer_disarm(r->tm);
		return;
	}
	period = (uint64_t)ms * MS;
	vigil_timer_set_period(r->tm, period);
	vigil_timer_arm(r->tm, vigil_loop_now(vs.loop) + period);
}

static int virt_add_timeout(int ms, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff)
{
	struct virt_rec *r;

	if (!entry_ok() || !cb)
		return -1;
	r = calloc(1, sizeof(*r));
	if (!r || hash_reserve() < 0 || vigil_timer_new(vs.loop, timeout_fire, r, &r->tm) < 0) {
		free(r);
		vs.st.failures++;
		return -1;
	}
	r->tcb = cb;
	r->opaque = opaque;
	r->ff = ff;
	r->fd = -1;
	vigil_timer_set_destroy(r->tm, rec_destroy);
	timeout_set(r, ms);
	r->id = id_next();
	slot_put(r);
	vs.n++;
	vs.st.timeouts++;
	vs.st.timeouts_added++;
	return r->id;
}

static void virt_update_timeout(int timer, int ms)
{
	struct virt_rec *r;

	if (entry_ok() && (r = rec_find(timer, false)))
		timeout_set(r, ms);
}

static int virt_remove_timeout(int timer)
{
	struct virt_rec **slot;

	if (!entry_ok())
		return -1;
	slot = slot_of(timer);
	if (!slot || (*slot)->handle) {
		vs.st.unknown_ids++;
		return -1;
	}
	rec_remove(slot);
	vs.st.timeouts_removed++;
	return 0;
}

/* ---- attaching ------------------------------------------------------------ */

static void probe_fire(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

/*
 * libvirt keeps the first implementation registered. Whether that is this
 * one: a disabled timeout added through libvirt's public call reaches us.
 * The probe leaves the counters as they were (its reaping is not counted:
 * its opaque is &vs).
 */
static bool impl_is_ours(void)
{
	struct vigil_virt_event_stats saved = vs.st;
	int id = virEventAddTimeout(-1, probe_fire, &vs, NULL);
	bool ours = vs.st.timeouts_added == saved.timeouts_added + 1;

	if (id > 0)
		virEventRemoveTimeout(id);
	vs.st = saved;
	return ours;
}

int vigil_virt_event_register(struct vigil_loop *l)
{
	if (!l)
		return -EINVAL;
	if (vs.loop)
		return -EBUSY;
	vs.loop = l;
	vs.owner = pthread_self();
	if (!vs.next_id)
		vs.next_id = 1;
	if (!vs.impl_registered) {
		if (virInitialize() < 0) {
			vs.loop = NULL;
			return -ENOMEM;
		}
		virEventRegisterImpl(virt_add_handle, virt_update_handle, virt_remove_handle,
				     virt_add_timeout, virt_update_timeout, virt_remove_timeout);
		vs.impl_registered = true;
	}
	if (!impl_is_ours()) {
		vs.loop = NULL;
		return -EBUSY;
	}
	return 0;
}

void vigil_virt_event_detach(void)
{
	if (!vs.loop)
		return;
	for (uint32_t i = 0; i < vs.cap; i++) {
		struct virt_rec *r = vs.slots[i];

		if (!r)
			continue;
		r->id = 0;
		if (r->handle)
			vigil_source_free(r->src);
		else
			vigil_timer_free(r->tm);
	}
	free(vs.slots);
	vs.slots = NULL;
	vs.cap = vs.n = 0;
	vs.st.handles = vs.st.timeouts = 0;
	vs.loop = NULL;
}

void vigil_virt_event_stats(struct vigil_virt_event_stats *out)
{
	*out = vs.st;
}
