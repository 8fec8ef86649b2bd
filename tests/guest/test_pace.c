/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/pace.c with a fake clock: the regimes, their
 * transitions, and a simulation of the agent's loop over arrival times
 * that checks every beat's wait against the documented bounds.
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
