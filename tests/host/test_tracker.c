/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/tracker.c: nonce order and wrap, origin and namespace
 * pinning, STOPPING, one stall per silence and recovery, deadline clamps,
 * bounded eviction windows (balanced and strict), probe exhaustion, the
 * stall-count invariant, and a differential test against a naive reference
 * model over 10^6 random operations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tracker.h"

#define MS 1000000ull
#define S  1000000000ull

struct evlog {
	uint32_t n[8];
	uint32_t last_pid;
	uint64_t last_silence;
	uint64_t stalled_forgotten; /* GONE events of stalled slots */
	uint32_t stall_pids[64];
	uint32_t n_stall_pids;
};

static void on_ev(void *ctx, enum trk_event ev, const struct trk_slot *sl, uint64_t now,
		  uint64_t silence)
{
	struct evlog *l = ctx;

	(void)now;
	l->n[ev]++;
	l->last_pid = sl->pid;
	l->last_silence = silence;
	if ((ev == TRK_EV_GONE_EVICTED || ev == TRK_EV_GONE_STOPPING) && sl->stalled)
		l->stalled_forgotten++;
	if (ev == TRK_EV_STALL && l->n_stall_pids < 64)
		l->stall_pids[l->n_stall_pids++] = sl->pid;
}

static struct trk_opts opts(uint32_t cap)
{
	return (struct trk_opts){
		.capacity = cap,
		.probe_budget = 16,
		.eviction = VIGIL_EVICT_BALANCED,
		.eviction_window = 32,
		.threshold_ns = 1 * S,
		.dl_min_ns = 50 * MS,
		.dl_max_ns = 60 * S,
	};
}

static struct vigil_beat beat(uint32_t pid, uint64_t nonce)
{
	return (struct vigil_beat){ .pid = pid, .nonce = nonce, .status = VIGIL_BEAT_OK };
}

static void test_nonce_order(void **state)
{
	struct trk_opts o = opts(16);
	struct evlog l = { 0 };
	struct trk *t;
	struct vigil_beat b = beat(100, 5);

	(void)state;
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	assert_int_equal(trk_beat(t, &b, 0), TRK_NEW);
	assert_int_equal(l.n[TRK_EV_NEW], 1);
	assert_int_equal(trk_beat(t, &b, 1), TRK_DROP_OUT_OF_ORDER); /* repeat */
	b.nonce = 4;
	assert_int_equal(trk_beat(t, &b, 2), TRK_DROP_OUT_OF_ORDER); /* backwards */
	b.nonce = 6;
	assert_int_equal(trk_beat(t, &b, 3), TRK_ACCEPTED);
	assert_int_equal(t->st.drop_out_of_order, 2);
	assert_int_equal(t->st.beats, 2);
	assert_int_equal(trk_find(t, 100)->last_nonce, 6);
	/* pid 0 and 1 never enter */
	b.pid = 1;
	assert_int_equal(trk_beat(t, &b, 4), TRK_DROP_MALFORMED);
	assert_null(trk_find(t, 1));
	trk_free(t);
}

static void test_nonce_wrap(void **state)
{
	const uint64_t W = TRK_NONCE_WRAP_WINDOW;

	(void)state;
	/* The rule itself, at its boundaries. */
	assert_true(trk_nonce_follows(UINT64_MAX - W + 1, 0));
	assert_true(trk_nonce_follows(UINT64_MAX, W - 1));
	assert_false(trk_nonce_follows(UINT64_MAX, W));
	assert_false(trk_nonce_follows(UINT64_MAX - W, 0));
	assert_false(trk_nonce_follows(7, 7));
	assert_true(trk_nonce_follows(7, 8));

	struct trk_opts o = opts(16);
	struct trk *t;
	struct vigil_beat b = beat(200, UINT64_MAX - 3);

	assert_int_equal(trk_new(&o, NULL, NULL, &t), 0);
	assert_int_equal(trk_beat(t, &b, 0), TRK_NEW);
	b.nonce = 2;
	assert_int_equal(trk_beat(t, &b, 1), TRK_ACCEPTED);
	assert_int_equal(t->st.nonce_wraps, 1);
	b.nonce = 1; /* after the wrap, order is plain again */
	assert_int_equal(trk_beat(t, &b, 2), TRK_DROP_OUT_OF_ORDER);
	b.nonce = 3;
	assert_int_equal(trk_beat(t, &b, 3), TRK_ACCEPTED);
	assert_int_equal(t->st.nonce_wraps, 1);
	trk_free(t);
}

static void test_origin_namespace_pinning(void **state)
{
	struct trk_opts o = opts(16);
	struct trk *t;
	struct vigil_beat b = beat(300, 1);

	(void)state;
	b.origin = VIGIL_ORIGIN_KERNEL_ATTESTED;
	b.pidns_inode = 4026531836u;
	assert_int_equal(trk_new(&o, NULL, NULL, &t), 0);
	assert_int_equal(trk_beat(t, &b, 0), TRK_NEW);
	b.nonce = 2;
	b.origin = VIGIL_ORIGIN_UNVERIFIED;
	assert_int_equal(trk_beat(t, &b, 1), TRK_DROP_ORIGIN);
	b.origin = VIGIL_ORIGIN_KERNEL_ATTESTED;
	b.pidns_inode = 4026532000u;
	assert_int_equal(trk_beat(t, &b, 2), TRK_DROP_NAMESPACE);
	b.pidns_inode = 4026531836u;
	assert_int_equal(trk_beat(t, &b, 3), TRK_ACCEPTED);
	assert_int_equal(t->st.drop_origin_conflict, 1);
	assert_int_equal(t->st.drop_namespace_conflict, 1);
	/* The first origin stayed pinned. */
	assert_int_equal(trk_find(t, 300)->origin, VIGIL_ORIGIN_KERNEL_ATTESTED);
	trk_free(t);
}

static void test_stopping_forgets(void **state)
{
	struct trk_opts o = opts(16);
	struct evlog l = { 0 };
	struct trk *t;
	struct vigil_beat b = beat(400, 10);

	(void)state;
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	assert_int_equal(trk_beat(t, &b, 0), TRK_NEW);
	b.nonce = 11;
	b.status = VIGIL_BEAT_STOPPING;
	assert_int_equal(trk_beat(t, &b, 10 * MS), TRK_STOPPED);
	assert_null(trk_find(t, 400));
	assert_int_equal(t->st.tracked, 0);
	assert_int_equal(l.n[TRK_EV_GONE_STOPPING], 1);
	/* No stall ever comes for it. */
	assert_int_equal(trk_expire(t, 100 * S), VIGIL_DEADLINE_NONE);
	assert_int_equal(l.n[TRK_EV_STALL], 0);
	/* Forgotten cleanly: a fresh process with the pid starts over. */
	b = beat(400, 1);
	assert_int_equal(trk_beat(t, &b, 101 * S), TRK_NEW);
	/* A goodbye from an unknown pid changes nothing. */
	b = beat(401, 1);
	b.status = VIGIL_BEAT_STOPPING;
	assert_int_equal(trk_beat(t, &b, 101 * S), TRK_STOPPED);
	assert_int_equal(t->st.tracked, 1);
	trk_free(t);
}

static void test_stall_once_and_recovery(void **state)
{
	struct trk_opts o = opts(16);
	struct evlog l = { 0 };
	struct trk *t;
	struct vigil_beat b = beat(500, 1);

	(void)state;
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	assert_int_equal(trk_beat(t, &b, 0), TRK_NEW);
	assert_int_equal(trk_expire(t, 999 * MS), 1 * S);
	assert_int_equal(l.n[TRK_EV_STALL], 0);
	assert_int_equal(trk_expire(t, 1 * S), VIGIL_DEADLINE_NONE);
	assert_int_equal(l.n[TRK_EV_STALL], 1);
	assert_int_equal(l.last_silence, 1 * S);
	trk_expire(t, 2 * S);
	trk_expire(t, 50 * S);
	assert_int_equal(l.n[TRK_EV_STALL], 1); /* once per silence */
	assert_int_equal(t->st.stalled, 1);
	b.nonce = 2;
	assert_int_equal(trk_beat(t, &b, 3 * S), TRK_RECOVERED);
	assert_int_equal(l.n[TRK_EV_RECOVERY], 1);
	assert_int_equal(l.last_silence, 3 * S);
	assert_int_equal(t->st.stalled, 0);
	/* A new silence run stalls again. */
	trk_expire(t, 4 * S);
	assert_int_equal(l.n[TRK_EV_STALL], 2);
	trk_free(t);
}

static void test_lazy_deadline_pushed(void **state)
{
	struct trk_opts o = opts(16);
	struct evlog l = { 0 };
	struct trk *t;
	struct vigil_beat b = beat(600, 1);

	(void)state;
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	trk_beat(t, &b, 0);
	b.nonce = 2;
	trk_beat(t, &b, 900 * MS);
	/* The entry comes due at 1 s, is pushed to 1.9 s, no stall. */
	assert_int_equal(trk_expire(t, 1 * S), 1900 * MS);
	assert_int_equal(l.n[TRK_EV_STALL], 0);
	assert_int_equal(trk_expire(t, 1900 * MS), VIGIL_DEADLINE_NONE);
	assert_int_equal(l.n[TRK_EV_STALL], 1);
	trk_free(t);
}

static void test_deadline_clamp_and_shortening(void **state)
{
	struct trk_opts o = opts(16);
	struct evlog l = { 0 };
	struct trk *t;
	struct vigil_beat b = beat(700, 1);

	(void)state;
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	assert_int_equal(trk_deadline(t, 0), 1 * S);
	assert_int_equal(trk_deadline(t, 1), 50 * MS);
	assert_int_equal(trk_deadline(t, 250), 250 * MS);
	assert_int_equal(trk_deadline(t, UINT32_MAX), 60 * S);

	b.deadline_ms = 10000;
	trk_beat(t, &b, 0);
	assert_int_equal(trk_next(t), 10 * S);
	/* A shorter promise moves the heap entry at once. */
	b.nonce = 2;
	b.deadline_ms = 100;
	trk_beat(t, &b, 1 * S);
	assert_int_equal(trk_next(t), 1100 * MS);
	trk_expire(t, 1100 * MS);
	assert_int_equal(l.n[TRK_EV_STALL], 1);
	trk_free(t);
}

/*
 * The host's threshold is every deadline_ms 0 beat's deadline, unclamped,
 * whatever the pid declared before; a beat with deadline_ms > 0 declares
 * its own (clamped) one, whatever came before. Each beat decides.
 */
static void test_threshold_rule(void **state)
{
	struct trk_opts o = opts(16);
	struct evlog l = { 0 };
	struct trk *t;
	struct vigil_beat b = beat(710, 1);
	uint64_t now = 0;

	(void)state;
	o.threshold_ns = 90 * S; /* above dl_max_ns: the host's choice stands */
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	assert_int_equal(t->min_dl_ns, UINT64_MAX);
	/* First beats with 0: the threshold. */
	trk_beat(t, &b, now);
	assert_int_equal(trk_find(t, 710)->dl_ns, 90 * S);
	assert_int_equal(t->min_dl_ns, 90 * S);
	/* Then its own deadline: 200 ms from this beat. */
	b.nonce++;
	b.deadline_ms = 200;
	now = 1 * S;
	trk_beat(t, &b, now);
	assert_int_equal(trk_find(t, 710)->dl_ns, 200 * MS);
	assert_int_equal(t->min_dl_ns, 200 * MS);
	trk_expire(t, now + 200 * MS - 1);
	assert_int_equal(l.n[TRK_EV_STALL], 0);
	trk_expire(t, now + 200 * MS);
	assert_int_equal(l.n[TRK_EV_STALL], 1);
	/* Back to 0: the threshold again (not the 200 ms it had). */
	b.nonce++;
	b.deadline_ms = 0;
	now = 2 * S;
	assert_int_equal(trk_beat(t, &b, now), TRK_RECOVERED);
	assert_int_equal(trk_find(t, 710)->dl_ns, 90 * S);
	trk_expire(t, now + 89 * S);
	assert_int_equal(l.n[TRK_EV_STALL], 1);
	trk_expire(t, now + 90 * S);
	assert_int_equal(l.n[TRK_EV_STALL], 2);
	/* A declared deadline is clamped; a shorter one than any before
	 * lowers the minimum. */
	b.nonce++;
	b.deadline_ms = 1;
	trk_beat(t, &b, now + 91 * S);
	assert_int_equal(trk_find(t, 710)->dl_ns, 50 * MS);
	assert_int_equal(t->min_dl_ns, 50 * MS);
	trk_free(t);
}

static void test_min_interval(void **state)
{
	struct trk_opts o = opts(16);
	struct trk *t;
	struct vigil_beat b = beat(800, 1);

	(void)state;
	o.min_interval_ns = 10 * MS;
	assert_int_equal(trk_new(&o, NULL, NULL, &t), 0);
	trk_beat(t, &b, 0);
	b.nonce = 2;
	assert_int_equal(trk_beat(t, &b, 5 * MS), TRK_DROP_RATE_LIMITED);
	assert_int_equal(trk_beat(t, &b, 10 * MS), TRK_ACCEPTED);
	/* A goodbye is never rate limited. */
	b.nonce = 3;
	b.status = VIGIL_BEAT_STOPPING;
	assert_int_equal(trk_beat(t, &b, 11 * MS), TRK_STOPPED);
	assert_int_equal(t->st.drop_rate_limited, 1);
	trk_free(t);
}

static void fill(struct trk *t, uint32_t first_pid, uint32_t n, uint64_t now)
{
	for (uint32_t i = 0; i < n; i++) {
		struct vigil_beat b = beat(first_pid + i, 1);

		assert_int_equal(trk_beat(t, &b, now), TRK_NEW);
	}
}

static void test_eviction_window_bounded(void **state)
{
	struct trk_opts o = opts(8);
	struct evlog l = { 0 };
	struct trk *t;

	(void)state;
	o.eviction_window = 2;
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	fill(t, 1000, 8, 0); /* slots 0..7 hold pids 1000..1007 */
	/* Not silent for 10 x threshold yet: nothing is evictable. */
	struct vigil_beat nb = beat(2000, 1);

	assert_int_equal(trk_beat(t, &nb, 10 * S), TRK_DROP_CAPACITY);
	/* Keep slots 2 and 3 fresh (the cursor is now at 2). */
	for (uint32_t p = 1002; p <= 1003; p++) {
		struct vigil_beat b = beat(p, 2);

		trk_beat(t, &b, 11 * S);
	}
	/* The window sees slots 2, 3 only: both fresh, drop. */
	assert_int_equal(trk_beat(t, &nb, 11 * S), TRK_DROP_CAPACITY);
	assert_int_equal(t->st.evicted, 0);
	/* Next attempt scans 4, 5: slot 4 (pid 1004) goes. */
	assert_int_equal(trk_beat(t, &nb, 11 * S), TRK_NEW);
	assert_int_equal(t->st.evicted, 1);
	assert_int_equal(l.n[TRK_EV_GONE_EVICTED], 1);
	assert_null(trk_find(t, 1004));
	assert_non_null(trk_find(t, 2000));
	assert_int_equal(trk_find(t, 2000) - t->slots, 4);
	assert_int_equal(t->st.drop_capacity, 2);
	trk_free(t);
}

static void test_eviction_strict(void **state)
{
	struct trk_opts o = opts(4);
	struct trk *t;
	struct vigil_beat nb = beat(3000, 1);

	(void)state;
	o.eviction = VIGIL_EVICT_STRICT;
	assert_int_equal(trk_new(&o, NULL, NULL, &t), 0);
	fill(t, 1000, 4, 0);
	/* Silent long enough, but no stall reported yet: strict keeps them. */
	assert_int_equal(trk_beat(t, &nb, 20 * S), TRK_DROP_CAPACITY);
	trk_expire(t, 20 * S);
	assert_int_equal(t->st.stalled, 4);
	assert_int_equal(trk_beat(t, &nb, 20 * S), TRK_NEW);
	assert_int_equal(t->st.evicted, 1);
	assert_int_equal(t->st.stalled, 3);
	trk_free(t);

	/* Balanced takes the same slot without the stall report. */
	o.eviction = VIGIL_EVICT_BALANCED;
	assert_int_equal(trk_new(&o, NULL, NULL, &t), 0);
	fill(t, 1000, 4, 0);
	assert_int_equal(trk_beat(t, &nb, 20 * S), TRK_NEW);
	trk_free(t);
}

static void test_probe_exhaustion_is_capacity(void **state)
{
	struct trk_opts o = opts(64);
	struct trk *t;
	uint32_t mask = 127; /* index size for capacity 64 */
	uint32_t a = 2, b = 3;

	(void)state;
	o.probe_budget = 2;
	assert_int_equal(trk_new(&o, NULL, NULL, &t), 0);
	assert_int_equal(t->ix_mask, mask);
	/* Three pids with the same home: the third finds no room within 2. */
	uint32_t same[3];
	uint32_t n = 0;
	uint32_t home = trk_mix(a) & mask;

	for (uint32_t p = a; n < 3 && p < 1000000; p++)
		if ((trk_mix(p) & mask) == home)
			same[n++] = p;
	assert_int_equal(n, 3);
	(void)b;
	for (uint32_t i = 0; i < 2; i++) {
		struct vigil_beat bt = beat(same[i], 1);

		assert_int_equal(trk_beat(t, &bt, 0), TRK_NEW);
	}
	struct vigil_beat bt = beat(same[2], 1);

	assert_int_equal(trk_beat(t, &bt, 0), TRK_DROP_CAPACITY);
	assert_int_equal(t->st.probe_exhausted, 1);
	assert_int_equal(t->st.drop_capacity, 1);
	assert_int_equal(t->st.tracked, 2);
	/* Removing the first pulls the second home; the third then fits and
	 * both stay findable. */
	bt = beat(same[0], 2);
	bt.status = VIGIL_BEAT_STOPPING;
	assert_int_equal(trk_beat(t, &bt, 1), TRK_STOPPED);
	assert_non_null(trk_find(t, same[1]));
	bt = beat(same[2], 1);
	assert_int_equal(trk_beat(t, &bt, 2), TRK_NEW);
	assert_non_null(trk_find(t, same[1]));
	assert_non_null(trk_find(t, same[2]));
	trk_free(t);
}

static void test_bad_options(void **state)
{
	struct trk_opts o = opts(16);
	struct trk *t = NULL;

	(void)state;
	o.capacity = VIGIL_TRACKER_MAX_CAPACITY + 1;
	assert_int_equal(trk_new(&o, NULL, NULL, &t), -22);
	o = opts(16);
	o.probe_budget = 0;
	assert_int_equal(trk_new(&o, NULL, NULL, &t), -22);
	o = opts(16);
	o.dl_min_ns = o.dl_max_ns + 1;
	assert_int_equal(trk_new(&o, NULL, NULL, &t), -22);
	assert_null(t);
	trk_free(NULL);
}

/* ---- random operations: invariant and differential --------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, seeded per test */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

#define POOL 48

struct gen {
	uint64_t nonce[POOL + 2];
	uint64_t now;
};

static uint32_t pool_pid(uint32_t i)
{
	return 2 + i * 7919; /* spread, deterministic */
}

/* A random beat for a pid from the pool: mostly well behaved, sometimes
 * replayed, from another origin or namespace, near the wrap, or a goodbye. */
static struct vigil_beat gen_beat(struct gen *g)
{
	uint32_t i = rnd_below(POOL);
	struct vigil_beat b = beat(pool_pid(i), 0);
	uint32_t r = rnd_below(100);

	if (r < 5) {
		b.nonce = g->nonce[i] - rnd_below(3); /* replay or older */
	} else if (r < 7) {
		g->nonce[i] = UINT64_MAX - rnd_below(4);
		b.nonce = g->nonce[i];
	} else {
		g->nonce[i] += 1 + rnd_below(3);
		b.nonce = g->nonce[i];
	}
	b.origin = rnd_below(100) < 4 ? 2 : 0;
	b.pidns_inode = rnd_below(100) < 4 ? 99 : 7;
	b.status = rnd_below(100) < 3 ? VIGIL_BEAT_STOPPING : (uint16_t)rnd_below(3);
	static const uint32_t dls[] = { 0, 0, 20, 120, 400 };
	b.deadline_ms = dls[rnd_below(5)];
	return b;
}

static void test_stall_count_invariant(void **state)
{
	struct trk_opts o = opts(32);
	struct evlog l = { 0 };
	struct trk *t;
	struct gen g = { 0 };

	(void)state;
	rng_state = 0x1234567;
	o.threshold_ns = 200 * MS;
	o.eviction_window = 4;
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	for (int op = 0; op < 200000; op++) {
		g.now += rnd_below(30) * MS;
		if (rnd_below(5) == 0) {
			trk_expire(t, g.now);
		} else {
			struct vigil_beat b = gen_beat(&g);

			trk_beat(t, &b, g.now);
		}
		assert_int_equal(t->st.stalls,
				 t->st.recoveries + t->st.stalled + l.stalled_forgotten);
		assert_true(t->st.tracked <= o.capacity);
		assert_int_equal(t->st.tracked + t->free_n, o.capacity);
	}
	assert_true(t->st.stalls > 100);
	assert_true(t->st.evicted > 0);
	trk_free(t);
}

/* The naive reference: linear search, linear deadline scan, the same slot
 * numbering and eviction scan. */
struct ref_ent {
	bool used;
	bool stalled;
	uint32_t pid;
	uint8_t origin;
	uint64_t pidns, nonce, last, dl;
};

struct ref {
	struct trk_opts o;
	struct ref_ent e[64];
	uint32_t free_stack[64];
	uint32_t free_n;
	uint32_t cursor;
	struct vigil_tracker_counters st;
};

static void ref_init(struct ref *r, const struct trk_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->o = *o;
	for (uint32_t i = 0; i < o->capacity; i++)
		r->free_stack[i] = o->capacity - 1 - i;
	r->free_n = o->capacity;
}

static uint64_t ref_dl(const struct ref *r, uint32_t ms)
{
	uint64_t d = (uint64_t)ms * MS;

	if (ms == 0)
		return r->o.threshold_ns;
	return d < r->o.dl_min_ns ? r->o.dl_min_ns : d > r->o.dl_max_ns ? r->o.dl_max_ns : d;
}

static void ref_forget(struct ref *r, uint32_t i)
{
	if (r->e[i].stalled)
		r->st.stalled--;
	r->e[i].used = false;
	r->e[i].stalled = false;
	r->free_stack[r->free_n++] = i;
	r->st.tracked--;
}

static enum trk_result ref_beat(struct ref *r, const struct vigil_beat *b, uint64_t now)
{
	uint32_t i;

	for (i = 0; i < r->o.capacity; i++)
		if (r->e[i].used && r->e[i].pid == b->pid)
			break;
	if (i == r->o.capacity) {
		if (b->status == VIGIL_BEAT_STOPPING) {
			r->st.beats++;
			r->st.stopped++;
			return TRK_STOPPED;
		}
		if (r->free_n == 0) {
			uint32_t found = UINT32_MAX;

			for (uint32_t k = 0; k < r->o.eviction_window; k++) {
				uint32_t s = r->cursor;
				struct ref_ent *e = &r->e[s];

				r->cursor = (s + 1) % r->o.capacity;
				if (!e->used || now - e->last <= 10 * e->dl)
					continue;
				if (r->o.eviction == VIGIL_EVICT_STRICT && !e->stalled)
					continue;
				found = s;
				break;
			}
			if (found == UINT32_MAX) {
				r->st.drop_capacity++;
				return TRK_DROP_CAPACITY;
			}
			ref_forget(r, found);
			r->st.evicted++;
			r->free_n--;
			i = found;
		} else {
			i = r->free_stack[--r->free_n];
		}
		r->e[i] = (struct ref_ent){ .used = true,
					    .pid = b->pid,
					    .origin = b->origin,
					    .pidns = b->pidns_inode,
					    .nonce = b->nonce,
					    .last = now,
					    .dl = ref_dl(r, b->deadline_ms) };
		r->st.tracked++;
		r->st.inserted++;
		r->st.beats++;
		return TRK_NEW;
	}
	struct ref_ent *e = &r->e[i];

	if (b->origin != e->origin) {
		r->st.drop_origin_conflict++;
		return TRK_DROP_ORIGIN;
	}
	if (b->pidns_inode != e->pidns) {
		r->st.drop_namespace_conflict++;
		return TRK_DROP_NAMESPACE;
	}
	bool wrap = e->nonce > UINT64_MAX - (1ull << 20) && b->nonce < (1ull << 20);

	if (!(b->nonce > e->nonce || wrap)) {
		r->st.drop_out_of_order++;
		return TRK_DROP_OUT_OF_ORDER;
	}
	if (r->o.min_interval_ns && b->status != VIGIL_BEAT_STOPPING &&
	    now - e->last < r->o.min_interval_ns) {
		r->st.drop_rate_limited++;
		return TRK_DROP_RATE_LIMITED;
	}
	if (wrap)
		r->st.nonce_wraps++;
	r->st.beats++;
	e->nonce = b->nonce;
	if (b->status == VIGIL_BEAT_STOPPING) {
		ref_forget(r, i);
		r->st.stopped++;
		return TRK_STOPPED;
	}
	e->last = now;
	e->dl = ref_dl(r, b->deadline_ms);
	if (e->stalled) {
		e->stalled = false;
		r->st.stalled--;
		r->st.recoveries++;
		return TRK_RECOVERED;
	}
	return TRK_ACCEPTED;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t ref_expire(struct ref *r, uint64_t now, uint32_t *pids)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->o.capacity; i++) {
		struct ref_ent *e = &r->e[i];

		if (e->used && !e->stalled && e->last + e->dl <= now) {
			e->stalled = true;
			r->st.stalled++;
			r->st.stalls++;
			pids[n++] = e->pid;
		}
	}
	return n;
}

static uint64_t ref_next(const struct ref *r)
{
	uint64_t d = VIGIL_DEADLINE_NONE;

	for (uint32_t i = 0; i < r->o.capacity; i++)
		if (r->e[i].used && !r->e[i].stalled && r->e[i].last + r->e[i].dl < d)
			d = r->e[i].last + r->e[i].dl;
	return d;
}

static void differential(enum vigil_eviction ev, uint64_t min_interval, uint64_t seed, uint32_t ops)
{
	struct trk_opts o = opts(32);
	struct evlog l = { 0 };
	struct trk *t;
	struct ref *r = malloc(sizeof(*r));
	struct gen g = { 0 };
	uint32_t ref_pids[64];

	assert_non_null(r);
	rng_state = seed;
	o.threshold_ns = 200 * MS;
	o.eviction = ev;
	o.eviction_window = 5;
	o.min_interval_ns = min_interval;
	o.probe_budget = TRK_MAX_PROBE_BUDGET; /* the reference has no index */
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	ref_init(r, &o);
	for (uint32_t op = 0; op < ops; op++) {
		g.now += rnd_below(25) * MS;
		if (rnd_below(6) == 0) {
			l.n_stall_pids = 0;
			trk_expire(t, g.now);
			uint32_t n = ref_expire(r, g.now, ref_pids);

			assert_int_equal(l.n_stall_pids, n);
			qsort(l.stall_pids, n, sizeof(uint32_t), cmp_u32);
			qsort(ref_pids, n, sizeof(uint32_t), cmp_u32);
			assert_memory_equal(l.stall_pids, ref_pids, n * sizeof(uint32_t));
			/* The lazy heap may wake early, never late. */
			assert_true(trk_next(t) <= ref_next(r));
		} else {
			struct vigil_beat b = gen_beat(&g);

			assert_int_equal(trk_beat(t, &b, g.now), ref_beat(r, &b, g.now));
		}
		if ((op & 1023) == 0) {
			for (uint32_t i = 0; i < o.capacity; i++) {
				const struct ref_ent *e = &r->e[i];

				if (!e->used) {
					assert_int_equal(t->slots[i].pid, 0);
					continue;
				}
				const struct trk_slot *sl = trk_find(t, e->pid);

				assert_non_null(sl);
				assert_int_equal(sl - t->slots, i);
				assert_int_equal(sl->last_nonce, e->nonce);
				assert_int_equal(sl->last_ns, e->last);
				assert_int_equal(sl->stalled, e->stalled);
			}
		}
	}
	assert_memory_equal(&t->st, &r->st, sizeof(t->st));
	assert_int_equal(t->st.probe_exhausted, 0);
	/* The run exercised every path. */
	assert_true(r->st.evicted > 0 && r->st.stalls > 0 && r->st.recoveries > 0);
	assert_true(r->st.drop_out_of_order > 0 && r->st.drop_origin_conflict > 0);
	assert_true(r->st.nonce_wraps > 0 && r->st.stopped > 0);
	if (min_interval)
		assert_true(r->st.drop_rate_limited > 0);
	trk_free(t);
	free(r);
}

static void test_differential_balanced(void **state)
{
	(void)state;
	differential(VIGIL_EVICT_BALANCED, 0, 0x9e3779b97f4a7c15ull, 600000);
}

static void test_differential_strict_min_interval(void **state)
{
	(void)state;
	differential(VIGIL_EVICT_STRICT, 15 * MS, 0xdeadbeefcafef00dull, 500000);
}

/* Stops the walk at the pid given as ctx; collects the pids seen. */
struct walk {
	uint32_t stop_at;
	uint32_t seen[8];
	uint32_t n;
};

static int walk_one(void *ctx, const struct trk_slot *sl)
{
	struct walk *w = ctx;

	assert_true(sl->pid != 0);
	w->seen[w->n++ % 8] = sl->pid;
	return sl->pid == w->stop_at ? 7 : 0;
}

/* The operations the session uses instead of reaching into the tracker. */
static void test_session_operations(void **state)
{
	struct trk_opts o = opts(8);
	struct evlog l = { 0 };
	struct trk *t;
	struct walk w = { 0 };
	struct vigil_beat b;

	(void)state;
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	assert_int_equal(trk_min_deadline(t), UINT64_MAX);
	for (uint32_t pid = 100; pid < 103; pid++) {
		b = beat(pid, 1);
		b.deadline_ms = pid == 101 ? 200 : 0;
		assert_int_equal(trk_beat(t, &b, 0), TRK_NEW);
	}
	assert_int_equal(trk_min_deadline(t), 200 * MS);
	/* A forgotten slot is not walked; the walk goes in table order. */
	b = beat(101, 2);
	b.status = VIGIL_BEAT_STOPPING;
	assert_int_equal(trk_beat(t, &b, 1), TRK_STOPPED);
	assert_int_equal(trk_foreach(t, walk_one, &w), 0);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.seen[0], 100);
	assert_int_equal(w.seen[1], 102);
	w = (struct walk){ .stop_at = 100 };
	assert_int_equal(trk_foreach(t, walk_one, &w), 7);
	assert_int_equal(w.n, 1);

	trk_drop(t, TRK_DROP_MALFORMED, 3);
	trk_drop(t, TRK_DROP_THROTTLED, 5);
	trk_drop(t, TRK_DROP_CAPACITY, 9); /* not a drop before trk_beat: ignored */
	trk_count_host_starved(t);
	assert_int_equal(trk_counters(t)->drop_malformed, 3);
	assert_int_equal(trk_counters(t)->drop_throttled, 5);
	assert_int_equal(trk_counters(t)->drop_capacity, 0);
	assert_int_equal(trk_counters(t)->host_starved, 1);
	assert_int_equal(trk_counters(t)->tracked, 2);
	trk_free(t);
}

/* The agent's own beat: its declared deadline unclamped, its stall reported
 * through the callback but counted neither in stalls nor in stalled; a new
 * agent pid leaves the old slot's accounting consistent. */
static void test_agent_pid(void **state)
{
	struct trk_opts o = opts(16);
	struct evlog l = { 0 };
	struct trk *t;
	struct vigil_beat a = beat(50, 1), p = beat(60, 1);

	(void)state;
	o.dl_max_ns = 2 * S; /* the user's clamp: not the agent's */
	assert_int_equal(trk_new(&o, on_ev, &l, &t), 0);
	trk_set_agent(t, 50);
	a.deadline_ms = 3000;
	p.deadline_ms = 3000;
	trk_beat(t, &a, 0);
	trk_beat(t, &p, 0);
	assert_int_equal(trk_find(t, 50)->dl_ns, 3 * S);
	assert_int_equal(trk_find(t, 60)->dl_ns, 2 * S);
	trk_expire(t, 3 * S);
	assert_int_equal(l.n[TRK_EV_STALL], 2);
	assert_int_equal(trk_counters(t)->stalls, 1);
	assert_int_equal(trk_counters(t)->stalled, 1);
	trk_set_agent(t, 70); /* a new epoch's agent */
	a.nonce = 2;
	trk_beat(t, &a, 4 * S);
	assert_int_equal(l.n[TRK_EV_RECOVERY], 1);
	assert_int_equal(trk_counters(t)->recoveries, 0);
	assert_int_equal(trk_counters(t)->stalled, 1);
	trk_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nonce_order),
		cmocka_unit_test(test_agent_pid),
		cmocka_unit_test(test_nonce_wrap),
		cmocka_unit_test(test_origin_namespace_pinning),
		cmocka_unit_test(test_stopping_forgets),
		cmocka_unit_test(test_stall_once_and_recovery),
		cmocka_unit_test(test_lazy_deadline_pushed),
		cmocka_unit_test(test_deadline_clamp_and_shortening),
		cmocka_unit_test(test_threshold_rule),
		cmocka_unit_test(test_min_interval),
		cmocka_unit_test(test_eviction_window_bounded),
		cmocka_unit_test(test_eviction_strict),
		cmocka_unit_test(test_probe_exhaustion_is_capacity),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_stall_count_invariant),
		cmocka_unit_test(test_differential_balanced),
		cmocka_unit_test(test_differential_strict_min_interval),
		cmocka_unit_test(test_session_operations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
