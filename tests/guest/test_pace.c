/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/pace.c with a fake clock: the regimes, their
 * transitions, and a simulation of the agent's loop over arrival times
 * that checks every beat's wait against the documented bounds; goodbyes
 * on the stop socket, never delayed, never overtaking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pace.h"

#define MS 1000000ull
#define US 1000ull

static void test_light_stays_immediate(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 10);
	for (uint64_t t = 1000 * MS; t < 10000 * MS; t += 200 * MS) {
		pace_read(&p, t, 1);
		assert_true(pace_watch(&p));
		assert_int_equal(pace_due_ns(&p), 0);
	}
	assert_int_equal(p.holds, 0);
}

static void test_dense_enters_hold(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 1024);
	pace_read(&p, 100 * MS, 1);
	assert_true(pace_watch(&p));
	/* A second beat 2 ms later: dense. That one still goes at once (the
	 * caller writes what it read); the socket is read again in 3 ms. */
	pace_read(&p, 102 * MS, 1);
	assert_false(pace_watch(&p));
	assert_int_equal(pace_due_ns(&p), 105 * MS);
	/* Windows that bring beats keep HOLD, each at most 3 ms long. */
	pace_read(&p, 105 * MS, 2);
	assert_false(pace_watch(&p));
	assert_int_equal(pace_due_ns(&p), 108 * MS);
	/* A late wakeup: the window counts from the read, not the schedule. */
	pace_read(&p, 109 * MS, 1);
	assert_int_equal(pace_due_ns(&p), 112 * MS);
	assert_int_equal(p.holds, 1);
	assert_int_equal(p.windows, 2);
}

static void test_silent_window_ends_hold(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 1024);
	pace_read(&p, 100 * MS, 1);
	pace_read(&p, 101 * MS, 1);
	assert_false(pace_watch(&p));
	pace_read(&p, 104 * MS, 0);
	assert_true(pace_watch(&p));
	assert_int_equal(pace_due_ns(&p), 0);
	/* The next beat, 2.5 ms later, is read at once and does not re-enter
	 * HOLD: the last beats came 6.5 ms before. */
	pace_read(&p, 106500 * US, 1);
	assert_true(pace_watch(&p));
	/* but one more within 3 ms does */
	pace_read(&p, 108 * MS, 1);
	assert_false(pace_watch(&p));
	assert_int_equal(p.holds, 2);
}

/* A read that brings nothing (a spurious wakeup) changes nothing. */
static void test_empty_read_immediate(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 1024);
	pace_read(&p, 100 * MS, 1);
	pace_read(&p, 101 * MS, 0);
	assert_true(pace_watch(&p));
	assert_int_equal(p.last_ns, 100 * MS);
}

/* The queue bounds the window: a full one shortens it, quiet ones grow it back. */
static void test_queue_bounds_window(void **state)
{
	struct pace p;
	uint64_t t = 100 * MS;

	(void)state;
	pace_init(&p, 10);
	pace_read(&p, t, 1);
	t += 2 * MS;
	pace_read(&p, t, 1); /* 1 beat in 2 ms: a window of 10 ms capped at 3 */
	assert_int_equal(p.window_ns, 3 * MS);
	t = pace_due_ns(&p);
	pace_read(&p, t, 20); /* 20 beats in 3 ms: 5 fit in 0.75 ms */
	assert_int_equal(p.window_ns, 750 * US);
	assert_int_equal(pace_due_ns(&p), t + 750 * US);
	t = pace_due_ns(&p);
	pace_read(&p, t, 5); /* half the queue: the window stays */
	assert_int_equal(p.window_ns, 750 * US);
	t = pace_due_ns(&p);
	pace_read(&p, t, 1000); /* never below the floor */
	assert_int_equal(p.window_ns, PACE_MIN_WINDOW_NS);
	for (int i = 0; i < 10; i++) {
		t = pace_due_ns(&p);
		pace_read(&p, t, 1);
	}
	assert_int_equal(p.window_ns, PACE_WINDOW_NS);
}

/* Entering HOLD at a high rate: the first window already fits the queue. */
static void test_entry_window_from_rate(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 10);
	pace_read(&p, 100 * MS, 3);
	pace_read(&p, 100 * MS + 500 * US, 10); /* 10 beats in 0.5 ms */
	assert_false(pace_watch(&p));
	assert_int_equal(p.window_ns, 250 * US);
}

/*
 * The agent's loop over a list of arrival times: watched, a beat is read
 * when it arrives; in HOLD, what arrived is read at the window's end. Each
 * beat's wait (read time - arrival) goes to delay[].
 */
static uint32_t simulate(struct pace *p, const uint64_t *arr, size_t n, uint64_t *delay)
{
	size_t i = 0;
	uint32_t reads = 0;

	while (i < n) {
		uint64_t t = pace_watch(p) ? arr[i] : pace_due_ns(p);
		size_t j = i;

		while (j < n && arr[j] <= t) {
			delay[j] = t - arr[j];
			j++;
		}
		pace_read(p, t, (uint32_t)(j - i));
		reads++;
		i = j;
	}
	return reads;
}

/*
 * Heavy (500 beats/s evenly, as agent-bench), then a silence, then light,
 * then heavy again: every wait within one window; no wait at all in the
 * light part and after each silence; in the heavy parts about one read
 * per window instead of one per beat.
 */
static void test_simulated_regimes(void **state)
{
	enum { HEAVY = 5000, LIGHT = 50 };
	static uint64_t arr[2 * HEAVY + LIGHT], delay[2 * HEAVY + LIGHT];
	size_t n = 0;
	uint64_t t = 1000 * MS;
	struct pace p;
	uint32_t reads;

	(void)state;
	for (int i = 0; i < HEAVY; i++, t += 2 * MS)
		arr[n++] = t;
	t += 500 * MS;
	for (int i = 0; i < LIGHT; i++, t += 200 * MS)
		arr[n++] = t;
	for (int i = 0; i < HEAVY; i++, t += 2 * MS)
		arr[n++] = t;
	pace_init(&p, 10);
	reads = simulate(&p, arr, n, delay);
	for (size_t i = 0; i < n; i++) {
		assert_true(delay[i] <= PACE_WINDOW_NS);
		/* a beat after 6 ms without beats is never delayed */
		if (i == 0 || arr[i] - arr[i - 1] >= 2 * PACE_WINDOW_NS)
			assert_int_equal(delay[i], 0);
	}
	for (size_t i = HEAVY; i < HEAVY + LIGHT; i++)
		assert_int_equal(delay[i], 0);
	/* 2 x 10 s of heavy beats: 3 ms windows, about 6,700 reads, not 10,000 */
	assert_true(reads < 2 * HEAVY * 3 / 4);
	assert_true(reads >= 2 * HEAVY * 2 / 3 - 10);
}

/* Random gaps around the window: the bounds hold whatever the pattern. */
static void test_simulated_random(void **state)
{
	enum { N = 20000 };
	static uint64_t arr[N], delay[N];
	uint64_t t = 1000 * MS;
	uint32_t seed = 12345;
	struct pace p;

	(void)state;
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		t += (seed >> 8) % (8 * MS); /* 0 to 8 ms: both regimes, often */
		arr[i] = t;
	}
	pace_init(&p, 10);
	simulate(&p, arr, N, delay);
	for (int i = 0; i < N; i++) {
		assert_true(delay[i] <= PACE_WINDOW_NS);
		if (i == 0 || arr[i] - arr[i - 1] >= 2 * PACE_WINDOW_NS)
			assert_int_equal(delay[i], 0);
	}
}

/* A goodbye on the stop socket in HOLD: the beat socket is read at once,
 * HOLD and the window's end stay; in IMMEDIATE it is an ordinary read. */
static void test_urgent_read(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 1024);
	pace_read(&p, 100 * MS, 1);
	pace_read(&p, 102 * MS, 1);
	assert_int_equal(pace_due_ns(&p), 105 * MS);
	pace_urgent(&p, 103 * MS, 2);
	assert_false(pace_watch(&p));
	assert_int_equal(pace_due_ns(&p), 105 * MS);
	pace_urgent(&p, 104 * MS, 0); /* nothing else came: still HOLD */
	assert_false(pace_watch(&p));
	assert_int_equal(pace_due_ns(&p), 105 * MS);
	assert_int_equal(p.urgent, 2);
	assert_int_equal(p.windows, 0);

	pace_init(&p, 1024);
	pace_urgent(&p, 200 * MS, 1);
	assert_true(pace_watch(&p));
	pace_urgent(&p, 201 * MS, 1); /* dense: as a read would, enters HOLD */
	assert_false(pace_watch(&p));
	assert_int_equal(p.holds, 1);
}

/*
 * The agent's loop with both sockets: beats arr[] on the beat socket, and
 * goodbyes stop[] on the stop socket, each sent right after a beat of the
 * same process (at stop[k] - 100 us). A goodbye is read when it comes, and
 * the beat socket with it.
 */
static void simulate_stop(struct pace *p, const uint64_t *arr, size_t n, const uint64_t *stop,
			  size_t ns, uint64_t *delay, uint64_t *sdelay)
{
	size_t i = 0, k = 0;

	while (i < n || k < ns) {
		uint64_t tm = i < n ? (pace_watch(p) ? arr[i] : pace_due_ns(p)) : UINT64_MAX;
		uint64_t ts = k < ns ? stop[k] : UINT64_MAX;
		uint64_t t = tm < ts ? tm : ts;
		size_t j = i;

		while (j < n && arr[j] <= t) {
			delay[j] = t - arr[j];
			j++;
		}
		if (ts <= tm) {
			pace_urgent(p, t, (uint32_t)(j - i));
			sdelay[k] = t - stop[k];
			k++;
		} else {
			pace_read(p, t, (uint32_t)(j - i));
		}
		i = j;
	}
}

static void test_simulated_stopping(void **state)
{
	enum { N = 5000, S = 50 };
	static uint64_t arr[N + S], delay[N + S], stop[S], sdelay[S];
	uint64_t t = 1000 * MS;
	size_t n = 0;
	struct pace p;

	(void)state;
	/* 500 beats/s (HOLD throughout), a goodbye every 100 beats, after its
	 * own last beat 100 us before. */
	for (int i = 0; i < N; i++, t += 2 * MS) {
		arr[n++] = t;
		if (i % 100 == 50) {
			arr[n++] = t + 900 * US;
			stop[i / 100] = t + 1 * MS;
		}
	}
	pace_init(&p, 1024);
	simulate_stop(&p, arr, n, stop, S, delay, sdelay);
	for (size_t k = 0; k < S; k++)
		assert_int_equal(sdelay[k], 0);
	for (size_t i = 0; i < n; i++) {
		assert_true(delay[i] <= PACE_WINDOW_NS);
		/* the goodbye's own last beat is read with it, never after it */
		for (size_t k = 0; k < S; k++)
			if (arr[i] == stop[k] - 100 * US)
				assert_true(arr[i] + delay[i] <= stop[k]);
	}
	assert_int_equal(p.urgent, S);
	assert_true(p.holds <= S + 1); /* the goodbyes do not end HOLD */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_light_stays_immediate),
		cmocka_unit_test(test_dense_enters_hold),
		cmocka_unit_test(test_silent_window_ends_hold),
		cmocka_unit_test(test_empty_read_immediate),
		cmocka_unit_test(test_queue_bounds_window),
		cmocka_unit_test(test_entry_window_from_rate),
		cmocka_unit_test(test_simulated_regimes),
		cmocka_unit_test(test_simulated_random),
		cmocka_unit_test(test_urgent_read),
		cmocka_unit_test(test_simulated_stopping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
