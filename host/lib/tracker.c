/* SPDX-License-Identifier: MIT */
/*
 * Liveness tracker (see tracker.h for what it owns, its limits and load).
 *
 * Invariants:
 * - a slot with pid != 0 is in the index exactly once; a free slot is on
 *   the free stack exactly once;
 * - a live, non-stalled slot has exactly one heap entry (heap_pos valid) and
 *   that entry's time is <= its deadline_ns; a stalled slot has none;
 * - stalls == recoveries + st.stalled + stalled slots that were forgotten
 *   (evicted or STOPPING) — checked by the tests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tracker.h"

/* ---- heap -------------------------------------------------------------- */

static void heap_place(struct trk *t, uint32_t pos, struct trk_heap_ent e)
{
	t->heap[pos] = e;
	t->slots[e.slot].heap_pos = pos;
}

static void heap_sift_up(struct trk *t, uint32_t pos)
{
	struct trk_heap_ent e = t->heap[pos];

	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;

		if (t->heap[parent].when <= e.when)
			break;
		heap_place(t, pos, t->heap[parent]);
		pos = parent;
	}
	heap_place(t, pos, e);
}

static void heap_sift_down(struct trk *t, uint32_t pos)
{
	struct trk_heap_ent e = t->heap[pos];
	uint32_t n = t->heap_n;

	for (;;) {
		uint32_t c = 2 * pos + 1;

		if (c >= n)
			break;
		if (c + 1 < n && t->heap[c + 1].when < t->heap[c].when)
			c++;
		if (e.when <= t->heap[c].when)
			break;
		heap_place(t, pos, t->heap[c]);
		pos = c;
	}
	heap_place(t, pos, e);
}

static void heap_push(struct trk *t, uint32_t slot, uint64_t when)
{
	uint32_t pos = t->heap_n++;

	heap_place(t, pos, (struct trk_heap_ent){ .when = when, .slot = slot });
	heap_sift_up(t, pos);
}

static void heap_remove(struct trk *t, uint32_t pos)
{
	uint32_t last = --t->heap_n;
	uint32_t slot = t->heap[pos].slot;

	t->slots[slot].heap_pos = TRK_NOPOS;
	if (pos == last)
		return;
	heap_place(t, pos, t->heap[last]);
	if (pos > 0 && t->heap[(pos - 1) / 2].when > t->heap[pos].when)
		heap_sift_up(t, pos);
	else
		heap_sift_down(t, pos);
}

/* ---- pid index --------------------------------------------------------- */

/* Index position holding pid, or TRK_NOPOS. Never looks past the budget:
 * insertion and backward-shift deletion keep every entry within it. */
static uint32_t ix_lookup(const struct trk *t, uint32_t pid)
{
	uint32_t pos = trk_mix(pid) & t->ix_mask;

	for (uint32_t i = 0; i < t->o.probe_budget; i++) {
		const struct trk_ix_ent *e = &t->ix[pos];

		if (e->pid == pid)
			return pos;
		if (e->pid == 0)
			return TRK_NOPOS;
		pos = (pos + 1) & t->ix_mask;
	}
	return TRK_NOPOS;
}

/* First empty position for pid within the probe budget, or TRK_NOPOS. */
static uint32_t ix_free_pos(const struct trk *t, uint32_t pid)
{
	uint32_t pos = trk_mix(pid) & t->ix_mask;

	for (uint32_t i = 0; i < t->o.probe_budget; i++) {
		if (t->ix[pos].pid == 0)
			return pos;
		pos = (pos + 1) & t->ix_mask;
	}
	return TRK_NOPOS;
}

/* Backward-shift deletion: pull later entries of the run back so that no
 * lookup ever meets a hole before its entry. */
static void ix_delete(struct trk *t, uint32_t pos)
{
	uint32_t hole = pos;
	uint32_t cur = pos;

	for (;;) {
		cur = (cur + 1) & t->ix_mask;
		if (t->ix[cur].pid == 0)
			break;
		uint32_t home = trk_mix(t->ix[cur].pid) & t->ix_mask;
		/* Move cur into the hole when its home is not in (hole, cur]. */
		uint32_t d_cur = (cur - home) & t->ix_mask;
		uint32_t d_hole = (cur - hole) & t->ix_mask;

		if (d_cur >= d_hole) {
			t->ix[hole] = t->ix[cur];
			hole = cur;
		}
	}
	t->ix[hole].pid = 0;
	t->ix[hole].slot = 0;
}

/* ---- slots ------------------------------------------------------------- */

/* Drop slot s from the index, the heap and the table; its counters stay. */
static void slot_forget(struct trk *t, uint32_t s)
{
	struct trk_slot *sl = &t->slots[s];
	uint32_t pos = ix_lookup(t, sl->pid);

	if (pos != TRK_NOPOS)
		ix_delete(t, pos);
	if (sl->heap_pos != TRK_NOPOS)
		heap_remove(t, sl->heap_pos);
	if (sl->stalled == TRK_STALLED)
		t->st.stalled--;
	sl->pid = 0;
	sl->stalled = 0;
	t->free_stack[t->free_n++] = (uint16_t)s;
	t->st.tracked--;
}

static bool slot_evictable(const struct trk *t, const struct trk_slot *sl, uint64_t now_ns)
{
	uint64_t silence = now_ns - sl->last_ns;

	/* dl_ns <= deadline_max (minutes), so the product cannot overflow. */
	if (silence <= sl->dl_ns * TRK_EVICT_FACTOR)
		return false;
	if (t->o.eviction == VIGIL_EVICT_STRICT && !sl->stalled)
		return false;
	return true;
}

/* Scan at most eviction_window slots from the cursor; evict the first
 * evictable one. Returns its (now free) slot number or TRK_NOPOS. */
static uint32_t slot_evict(struct trk *t, uint64_t now_ns)
{
	uint32_t cap = t->o.capacity;

	for (uint32_t i = 0; i < t->o.eviction_window; i++) {
		uint32_t s = t->evict_cursor;

		t->evict_cursor = s + 1 == cap ? 0 : s + 1;
		struct trk_slot *sl = &t->slots[s];

		if (sl->pid == 0 || !slot_evictable(t, sl, now_ns))
			continue;
		struct trk_slot gone = *sl;

		slot_forget(t, s);
		t->st.evicted++;
		if (t->cb)
			t->cb(t->cb_ctx, TRK_EV_GONE_EVICTED, &gone, now_ns, now_ns - gone.last_ns);
		t->free_n--; /* the caller takes it */
		return s;
	}
	return TRK_NOPOS;
}

/*
 * deadline_ms 0 is the host's threshold, unclamped; anything else is the
 * pid's own deadline, clamped. Every beat declares it anew: a pid that
 * declared its own and then beats with 0 is back on the threshold.
 */
uint64_t trk_deadline(const struct trk *t, uint32_t deadline_ms)
{
	uint64_t dl;

	if (deadline_ms == 0)
		return t->o.threshold_ns;
	dl = (uint64_t)deadline_ms * 1000000u;
	if (dl < t->o.dl_min_ns)
		dl = t->o.dl_min_ns;
	if (dl > t->o.dl_max_ns)
		dl = t->o.dl_max_ns;
	return dl;
}

/*
 * The agent's own beat keeps the deadline it declares: the user's
 * threshold and clamps are for processes (a 0 still means the threshold).
 */
static uint64_t pid_deadline(const struct trk *t, const struct vigil_beat *b)
{
	if (b->pid == t->agent_pid && b->deadline_ms)
		return (uint64_t)b->deadline_ms * 1000000u;
	return trk_deadline(t, b->deadline_ms);
}

void trk_set_agent(struct trk *t, uint32_t pid)
{
	t->agent_pid = pid;
}

static enum trk_result trk_insert(struct trk *t, const struct vigil_beat *b, uint64_t now_ns)
{
	uint32_t s;
	uint32_t pos = ix_free_pos(t, b->pid);

	if (pos == TRK_NOPOS) {
		t->st.drop_capacity++;
		t->st.probe_exhausted++;
		return TRK_DROP_CAPACITY;
	}
	if (t->free_n > 0) {
		s = t->free_stack[--t->free_n];
	} else {
		s = slot_evict(t, now_ns);
		if (s == TRK_NOPOS) {
			t->st.drop_capacity++;
			return TRK_DROP_CAPACITY;
		}
		/* The deletion may have shifted the run: look again (it can only
		 * find an earlier hole). */
		pos = ix_free_pos(t, b->pid);
	}
	t->ix[pos].pid = b->pid;
	t->ix[pos].slot = s;

	struct trk_slot *sl = &t->slots[s];

	sl->pid = b->pid;
	sl->heap_pos = TRK_NOPOS;
	sl->last_nonce = b->nonce;
	sl->last_ns = now_ns;
	sl->dl_ns = pid_deadline(t, b);
	sl->deadline_ns = now_ns + sl->dl_ns;
	if (sl->dl_ns < t->min_dl_ns)
		t->min_dl_ns = sl->dl_ns;
	sl->pidns = b->pidns_inode;
	sl->beats = 1;
	sl->app_payload = b->app_payload;
	sl->status = b->status;
	sl->origin = b->origin;
	sl->stalled = 0;
	heap_push(t, s, sl->deadline_ns);
	t->st.tracked++;
	t->st.inserted++;
	t->st.beats++;
	if (t->cb)
		t->cb(t->cb_ctx, TRK_EV_NEW, sl, now_ns, 0);
	return TRK_NEW;
}

enum trk_result trk_beat(struct trk *t, const struct vigil_beat *b, uint64_t now_ns)
{
	if (b->pid < 2 || b->status > VIGIL_BEAT_STOPPING) {
		t->st.drop_malformed++;
		return TRK_DROP_MALFORMED;
	}

	uint32_t pos = ix_lookup(t, b->pid);

	if (pos == TRK_NOPOS) {
		if (b->status == VIGIL_BEAT_STOPPING) {
			/* A goodbye from a pid we do not hold: nothing to forget. */
			t->st.beats++;
			t->st.stopped++;
			return TRK_STOPPED;
		}
		return trk_insert(t, b, now_ns);
	}

	uint32_t s = t->ix[pos].slot;
	struct trk_slot *sl = &t->slots[s];

	if (b->origin != sl->origin) {
		t->st.drop_origin_conflict++;
		return TRK_DROP_ORIGIN;
	}
	if (b->pidns_inode != sl->pidns) {
		t->st.drop_namespace_conflict++;
		return TRK_DROP_NAMESPACE;
	}
	if (!trk_nonce_follows(sl->last_nonce, b->nonce)) {
		t->st.drop_out_of_order++;
		return TRK_DROP_OUT_OF_ORDER;
	}
	if (t->o.min_interval_ns && now_ns - sl->last_ns < t->o.min_interval_ns &&
	    b->status != VIGIL_BEAT_STOPPING) {
		t->st.drop_rate_limited++;
		return TRK_DROP_RATE_LIMITED;
	}
	if (b->nonce < sl->last_nonce)
		t->st.nonce_wraps++;
	t->st.beats++;
	sl->last_nonce = b->nonce;
	sl->app_payload = b->app_payload;
	sl->status = b->status;
	sl->beats++;

	if (b->status == VIGIL_BEAT_STOPPING) {
		struct trk_slot gone = *sl;

		slot_forget(t, s);
		t->st.stopped++;
		if (t->cb)
			t->cb(t->cb_ctx, TRK_EV_GONE_STOPPING, &gone, now_ns,
			      now_ns - gone.last_ns);
		return TRK_STOPPED;
	}

	uint64_t silence = now_ns - sl->last_ns;

	sl->last_ns = now_ns;
	sl->dl_ns = pid_deadline(t, b); /* each beat declares it anew */
	sl->deadline_ns = now_ns + sl->dl_ns;
	if (sl->dl_ns < t->min_dl_ns)
		t->min_dl_ns = sl->dl_ns;
	if (sl->stalled) {
		if (sl->stalled == TRK_STALLED) {
			t->st.stalled--;
			t->st.recoveries++;
		}
		sl->stalled = 0;
		heap_push(t, s, sl->deadline_ns);
		if (t->cb)
			t->cb(t->cb_ctx, TRK_EV_RECOVERY, sl, now_ns, silence);
		return TRK_RECOVERED;
	}
	/* Lazy: only a shorter deadline needs the heap now. */
	if (t->heap[sl->heap_pos].when > sl->deadline_ns) {
		t->heap[sl->heap_pos].when = sl->deadline_ns;
		heap_sift_up(t, sl->heap_pos);
	}
	return TRK_ACCEPTED;
}

uint64_t trk_expire(struct trk *t, uint64_t now_ns)
{
	while (t->heap_n > 0 && t->heap[0].when <= now_ns) {
		uint32_t s = t->heap[0].slot;
		struct trk_slot *sl = &t->slots[s];

		if (sl->deadline_ns > now_ns) {
			t->heap[0].when = sl->deadline_ns;
			heap_sift_down(t, 0);
			continue;
		}
		heap_remove(t, 0);
		/* the agent's silence is no process stall: not counted */
		sl->stalled = sl->pid == t->agent_pid ? TRK_STALLED_AGENT : TRK_STALLED;
		if (sl->stalled == TRK_STALLED) {
			t->st.stalled++;
			t->st.stalls++;
		}
		if (t->cb)
			t->cb(t->cb_ctx, TRK_EV_STALL, sl, now_ns, now_ns - sl->last_ns);
	}
	return trk_next(t);
}

const struct trk_slot *trk_find(const struct trk *t, uint32_t pid)
{
	uint32_t pos = pid < 2 ? TRK_NOPOS : ix_lookup(t, pid);

	return pos == TRK_NOPOS ? NULL : &t->slots[t->ix[pos].slot];
}

void trk_drop(struct trk *t, enum trk_result why, uint64_t records)
{
	if (why == TRK_DROP_MALFORMED)
		t->st.drop_malformed += records;
	else if (why == TRK_DROP_THROTTLED)
		t->st.drop_throttled += records;
}

void trk_count_host_starved(struct trk *t)
{
	t->st.host_starved++;
}

int trk_foreach(const struct trk *t, int (*fn)(void *ctx, const struct trk_slot *sl), void *ctx)
{
	for (uint32_t i = 0; i < t->o.capacity; i++) {
		int r;

		if (t->slots[i].pid == 0)
			continue;
		r = fn(ctx, &t->slots[i]);
		if (r)
			return r;
	}
	return 0;
}

int trk_new(const struct trk_opts *o, trk_event_fn cb, void *cb_ctx, struct trk **out)
{
	struct trk *t;
	uint32_t ix_size = 1;

	if (o->capacity < 1 || o->capacity > VIGIL_TRACKER_MAX_CAPACITY || o->probe_budget < 1 ||
	    o->probe_budget > TRK_MAX_PROBE_BUDGET || o->eviction_window < 1 ||
	    o->threshold_ns == 0 || o->dl_min_ns > o->dl_max_ns ||
	    (o->eviction != VIGIL_EVICT_STRICT && o->eviction != VIGIL_EVICT_BALANCED))
		return -EINVAL;
	while (ix_size < 2 * o->capacity)
		ix_size <<= 1;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->o = *o;
	if (t->o.eviction_window > t->o.capacity)
		t->o.eviction_window = t->o.capacity;
	t->slots = calloc(o->capacity, sizeof(*t->slots));
	t->ix = calloc(ix_size, sizeof(*t->ix));
	t->heap = calloc(o->capacity, sizeof(*t->heap));
	t->free_stack = calloc(o->capacity, sizeof(*t->free_stack));
	if (!t->slots || !t->ix || !t->heap || !t->free_stack) {
		trk_free(t);
		return -ENOMEM;
	}
	t->ix_mask = ix_size - 1;
	/* Pop order 0, 1, 2, ...: the slot numbering is deterministic, which
	 * the differential test relies on. */
	for (uint32_t i = 0; i < o->capacity; i++) {
		t->free_stack[i] = (uint16_t)(o->capacity - 1 - i);
		t->slots[i].heap_pos = TRK_NOPOS;
	}
	t->free_n = o->capacity;
	t->min_dl_ns = UINT64_MAX;
	t->cb = cb;
	t->cb_ctx = cb_ctx;
	*out = t;
	return 0;
}

void trk_free(struct trk *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->ix);
	free(t->heap);
	free(t->free_stack);
	free(t);
}
