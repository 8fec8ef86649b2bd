/* SPDX-License-Identifier: MIT */
/*
 * timer: the loop's timers, an indexed binary min-heap on (deadline, arming
 * order) behind the loop's one timerfd (programmed by loop.c).
 *
 * Owns: the heap array, sized in vigil_timer_new to hold every timer not
 * yet reaped, so arming never allocates; the timers' lifetime (detach on
 * free, reap after the iteration).
 * Costs: arm, disarm and each due firing O(log n); nothing is touched for
 * timers that are not due. Up to UINT32_MAX - 1 timers (memory permitting).
 * Expected load: thousands of timers, a few firings per guest per second.
 */
#include <errno.h>
#include <stdlib.h>

#include "loop_int.h"

static bool tm_before(const struct vigil_timer *a, const struct vigil_timer *b)
{
	return a->when_ns < b->when_ns || (a->when_ns == b->when_ns && a->seq < b->seq);
}

static void heap_put(struct vigil_loop *l, uint32_t i, struct vigil_timer *t)
{
	l->heap[i] = t;
	t->heap_idx = i;
}

static void sift_up(struct vigil_loop *l, uint32_t i)
{
	struct vigil_timer *t = l->heap[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (!tm_before(t, l->heap[p]))
			break;
		heap_put(l, i, l->heap[p]);
		i = p;
	}
	heap_put(l, i, t);
}

static void sift_down(struct vigil_loop *l, uint32_t i)
{
	struct vigil_timer *t = l->heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && tm_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!tm_before(l->heap[c], t))
			break;
		heap_put(l, i, l->heap[c]);
		i = c;
	}
	heap_put(l, i, t);
}

static void heap_remove(struct vigil_loop *l, struct vigil_timer *t)
{
	uint32_t i = t->heap_idx;
	struct vigil_timer *last = l->heap[--l->nheap];

	t->heap_idx = LOOP_NOPOS;
	if (last == t)
		return;
	heap_put(l, i, last);
	sift_up(l, i);
	sift_down(l, last->heap_idx);
}

int loop_heap_reserve(struct vigil_loop *l)
{
	struct vigil_timer **h;
	uint32_t cap;

	if (l->ntimers < l->heap_cap)
		return 0;
	if (l->heap_cap >= LOOP_NOPOS / 2)
		return -ENOSPC;
	cap = l->heap_cap ? l->heap_cap * 2 : 16;
	h = realloc(l->heap, (size_t)cap * sizeof(*h));
	if (!h)
		return -ENOMEM;
	l->heap = h;
	l->heap_cap = cap;
	return 0;
}

struct vigil_timer *loop_heap_top(const struct vigil_loop *l)
{
	return l->nheap ? l->heap[0] : NULL;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * The timer at the top is due: take it out (one-shot) or move it to its
 * next deadline. Its key only grows, so it only sinks. The new seq is past
 * the run's limit: a period of 0 makes it due again, for the next iteration.
 */
static void timer_next(struct vigil_loop *l, struct vigil_timer *t, uint64_t now)
{
	uint64_t next;

	if (t->period_ns == VIGIL_TIMER_NO_PERIOD) {
		heap_remove(l, t);
		return;
	}
	next = sat_add(t->when_ns, t->period_ns);
	if (next <= now)
		next = sat_add(now, t->period_ns);
	t->when_ns = next;
	t->seq = l->seq_next++;
	sift_down(l, t->heap_idx);
}

/*
 * Every arming made while this runs gets a seq >= limit and a deadline
 * >= now (vigil_timer_arm clamps it), so it sorts after every timer that was
 * due when we started: stopping at the first such timer leaves none of
 * those behind, and runs none twice.
 */
unsigned loop_run_timers(struct vigil_loop *l, uint64_t now)
{
	uint64_t limit = l->seq_next;
	struct vigil_timer *t;
	unsigned n = 0;

	l->in_timers = true;
	l->run_now = now;
	while ((t = loop_heap_top(l)) && t->when_ns <= now && t->seq < limit) {
		timer_next(l, t, now);
		n++;
		l->st.timers_fired++;
		t->fn(t, now, t->ctx);
	}
	l->in_timers = false;
	return n;
}

void loop_kill_timers(struct vigil_loop *l)
{
	while (l->timers)
		vigil_timer_free(l->timers);
}

unsigned loop_reap_timers(struct vigil_loop *l)
{
	unsigned n = 0;

	while (l->dead_timers) {
		struct vigil_timer *t = l->dead_timers;

		l->dead_timers = t->next_dead;
		if (t->destroy)
			t->destroy(t->ctx);
		free(t);
		l->ntimers--;
		n++;
	}
	return n;
}

int vigil_timer_new(struct vigil_loop *l, vigil_timer_fn fn, void *ctx, struct vigil_timer **out)
{
	struct vigil_timer *t;
	int e;

	if (!l || !fn || !out)
		return -EINVAL;
	e = loop_heap_reserve(l);
	if (e < 0)
		return e;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->loop = l;
	t->fn = fn;
	t->ctx = ctx;
	t->period_ns = VIGIL_TIMER_NO_PERIOD;
	t->heap_idx = LOOP_NOPOS;
	t->next = l->timers;
	if (l->timers)
		l->timers->prev = t;
	l->timers = t;
	l->ntimers++;
	*out = t;
	return 0;
}

void vigil_timer_arm(struct vigil_timer *t, uint64_t when_ns)
{
	struct vigil_loop *l;

	if (!t || t->dead)
		return;
	l = t->loop;
	if (l->in_timers && when_ns < l->run_now)
		when_ns = l->run_now;
	t->when_ns = when_ns;
	t->seq = l->seq_next++;
	if (t->heap_idx == LOOP_NOPOS) {
		/* loop_heap_reserve made room for every timer */
		heap_put(l, l->nheap++, t);
		sift_up(l, t->heap_idx);
		return;
	}
	sift_up(l, t->heap_idx);
	sift_down(l, t->heap_idx);
}

void vigil_timer_disarm(struct vigil_timer *t)
{
	if (t && t->heap_idx != LOOP_NOPOS)
		heap_remove(t->loop, t);
}

void vigil_timer_set_period(struct vigil_timer *t, uint64_t period_ns)
{
	if (t)
		t->period_ns = period_ns;
}

bool vigil_timer_armed(const struct vigil_timer *t)
{
	return t && t->heap_idx != LOOP_NOPOS;
}

uint64_t vigil_timer_when(const struct vigil_timer *t)
{
	return t ? t->when_ns : 0;
}

void vigil_timer_set_destroy(struct vigil_timer *t, vigil_destroy_fn destroy)
{
	if (t)
		t->destroy = destroy;
}

void vigil_timer_free(struct vigil_timer *t)
{
	struct vigil_loop *l;

	if (!t || t->dead)
		return;
	l = t->loop;
	vigil_timer_disarm(t);
	if (t->prev)
		t->prev->next = t->next;
	else
		l->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->dead = true;
	t->next_dead = l->dead_timers;
	l->dead_timers = t;
}
