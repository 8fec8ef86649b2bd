/* SPDX-License-Identifier: MIT */
/*
 * Liveness tracker: the processes beating inside one guest.
 *
 * Owns a fixed table of slots (capacity <= 4096), an open-addressed pid
 * index (linear probing, Murmur3 finalizer, load factor <= 0.5, bounded
 * probe budget, backward-shift deletion so there are no tombstones) and an
 * indexed binary min-heap of deadlines. All memory is allocated by
 * trk_new(); trk_beat() and trk_expire() never allocate.
 *
 * Time is the session's runnable time (ns): the tracker never sees time in
 * which the VM was stopped.
 *
 * Deadlines are lazy: a beat only moves its slot's deadline; the heap entry
 * keeps the earlier time and is pushed forward when it comes due. A beat is
 * therefore O(1) (plus a sift-up only when a beat shortens its deadline),
 * and trk_expire() costs O(1) when nothing is due and O(log n) per due
 * entry. Each slot has at most one heap entry; a stalled slot has none.
 *
 * Expected load: up to 4096 pids, tens of millions of beat records per
 * second through trk_beat() in a benchmark, ~1k/s in practice.
 */
#ifndef VIGIL_HOST_TRACKER_H
#define VIGIL_HOST_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#define TRK_NONCE_WRAP_WINDOW (1ull << 20) /* wrap accepted within 2^20 of the ends */
#define TRK_EVICT_FACTOR      10u          /* evictable when silent > 10 x threshold */
#define TRK_NOPOS             UINT32_MAX
#define TRK_MAX_PROBE_BUDGET  64u
#define TRK_STALLED           1u /* trk_slot.stalled: a process's stall, counted */
#define TRK_STALLED_AGENT     2u /* the agent's own beat overdue: not counted */

struct trk_opts {
	uint32_t capacity;     /* 1..VIGIL_TRACKER_MAX_CAPACITY */
	uint32_t probe_budget; /* 1..TRK_MAX_PROBE_BUDGET */
	enum vigil_eviction eviction;
	uint32_t eviction_window; /* >= 1; clamped to capacity */
	uint64_t threshold_ns;    /* deadline of a beat with deadline_ms 0; > 0 */
	uint64_t dl_min_ns;       /* per-beat deadline clamp, min <= max */
	uint64_t dl_max_ns;
	uint64_t min_interval_ns; /* 0: off */
};

/* One tracked pid. pid == 0 marks a free slot. */
struct trk_slot {
	uint32_t pid;
	uint32_t heap_pos; /* index in the heap, TRK_NOPOS when stalled or free */
	uint64_t last_nonce;
	uint64_t last_ns;     /* runnable ns of the last accepted beat */
	uint64_t deadline_ns; /* last_ns + dl_ns: the true deadline */
	uint64_t dl_ns;       /* this pid's threshold (clamped deadline_ms) */
	uint64_t pidns;       /* pinned by the first beat */
	uint64_t beats;       /* accepted beats */
	uint32_t app_payload; /* last beat's */
	uint16_t status;      /* last beat's */
	uint8_t origin;       /* pinned by the first beat */
	uint8_t stalled;      /* TRK_STALLED (or _AGENT: the agent's own beat, not counted)
				 from STALL until the next accepted beat; 0 otherwise */
};

/* What trk_beat() did with a record. */
enum trk_result {
	TRK_ACCEPTED = 0,
	TRK_NEW,       /* accepted, pid inserted */
	TRK_RECOVERED, /* accepted, the pid was stalled */
	TRK_STOPPED,   /* accepted STOPPING: pid forgotten (or was unknown) */
	TRK_DROP_OUT_OF_ORDER,
	TRK_DROP_CAPACITY,
	TRK_DROP_ORIGIN,
	TRK_DROP_NAMESPACE,
	TRK_DROP_RATE_LIMITED,
	TRK_DROP_MALFORMED,
	TRK_DROP_THROTTLED, /* only from trk_drop(): the session's token bucket was empty */
};

enum trk_event {
	TRK_EV_NEW = 1,
	TRK_EV_STALL,
	TRK_EV_RECOVERY,
	TRK_EV_GONE_STOPPING,
	TRK_EV_GONE_EVICTED,
};

/*
 * Called for every change worth an event. slot is valid during the call
 * only (a GONE slot is already out of the index). silence_ns: STALL, silence
 * so far; RECOVERY, the whole silence; GONE, time since its last beat.
 */
typedef void (*trk_event_fn)(void *ctx, enum trk_event ev, const struct trk_slot *slot,
			     uint64_t now_ns, uint64_t silence_ns);

struct trk_heap_ent {
	uint64_t when; /* runnable ns; <= the slot's deadline_ns */
	uint32_t slot;
};

struct trk_ix_ent {
	uint32_t pid; /* 0: empty */
	uint32_t slot;
};

struct trk {
	struct trk_opts o;
	struct trk_slot *slots; /* [capacity] */
	struct trk_ix_ent *ix;  /* [ix_mask + 1], a power of two >= 2 x capacity */
	uint32_t ix_mask;
	struct trk_heap_ent *heap; /* [capacity] */
	uint32_t heap_n;
	uint16_t *free_stack; /* [capacity] free slot numbers, top at free_n - 1 */
	uint32_t free_n;
	uint32_t evict_cursor; /* next slot the eviction scan looks at */
	uint64_t min_dl_ns;    /* shortest threshold any beat gave a pid; UINT64_MAX none */
	uint32_t agent_pid;    /* the agent's own beat (0: unknown): its deadline is its own,
				  its stalls and recoveries are not counted as a process's */
	trk_event_fn cb;
	void *cb_ctx;
	struct vigil_tracker_counters st;
};

/* 0, -EINVAL (options out of range), -ENOMEM. */
int trk_new(const struct trk_opts *o, trk_event_fn cb, void *cb_ctx, struct trk **out);
void trk_free(struct trk *t);

/* Murmur3 32-bit finalizer: the pid index's mixer. */
static inline uint32_t trk_mix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* true when next follows last under the nonce rule (strictly above, or the
 * 2^20 wrap). */
static inline bool trk_nonce_follows(uint64_t last, uint64_t next)
{
	if (next > last)
		return true;
	return last > UINT64_MAX - TRK_NONCE_WRAP_WINDOW && next < TRK_NONCE_WRAP_WINDOW;
}

/* Apply one beat at runnable time now_ns. Counts every outcome. */
enum trk_result trk_beat(struct trk *t, const struct vigil_beat *b, uint64_t now_ns);

/*
 * Report every pid whose deadline is <= now_ns as stalled (once per silence)
 * and push forward heap entries that came due early. Returns the next heap
 * time (runnable ns; may be earlier than the true next deadline) or
 * VIGIL_DEADLINE_NONE.
 */
uint64_t trk_expire(struct trk *t, uint64_t now_ns);

static inline uint64_t trk_next(const struct trk *t)
{
	return t->heap_n ? t->heap[0].when : VIGIL_DEADLINE_NONE;
}

/* Slot of pid, or NULL. */
const struct trk_slot *trk_find(const struct trk *t, uint32_t pid);

/* Clamp a beat's deadline_ms to the tracker's threshold rules. */
uint64_t trk_deadline(const struct trk *t, uint32_t deadline_ms);

/*
 * Count records dropped before they reached trk_beat(): TRK_DROP_MALFORMED
 * (records in a torn or malformed BEAT frame) or TRK_DROP_THROTTLED (the
 * session's token bucket was empty). Other results are ignored.
 */
void trk_drop(struct trk *t, enum trk_result why, uint64_t records);

/*
 * pid is the agent's own beat (0: none known). Its beats keep the deadline
 * they declare, unclamped; its silence still comes through the callback as
 * TRK_EV_STALL / TRK_EV_RECOVERY (the receiver treats it as the guest's),
 * but is not counted in stalls and recoveries.
 */
void trk_set_agent(struct trk *t, uint32_t pid);

/* The stall just reported through the callback was classified HOST_STARVED
 * by its receiver (the tracker only counts it). */
void trk_count_host_starved(struct trk *t);

/* The shortest threshold any beat has given a pid, UINT64_MAX before any. */
static inline uint64_t trk_min_deadline(const struct trk *t)
{
	return t->min_dl_ns;
}

static inline const struct vigil_tracker_counters *trk_counters(const struct trk *t)
{
	return &t->st;
}

/*
 * Call fn for every tracked pid in table order; stops early when fn returns
 * non-zero and returns that value, else 0. fn must not change the tracker.
 */
int trk_foreach(const struct trk *t, int (*fn)(void *ctx, const struct trk_slot *sl), void *ctx);

#endif /* VIGIL_HOST_TRACKER_H */
