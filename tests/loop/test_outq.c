/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/loop/outq.c: a writer that never blocks the loop.
 *  - a pipe nobody reads: puts never block, the queue goes backlogged past
 *    the high-water mark, and everything arrives in order once read, with
 *    the drain callback run when it falls below the mark;
 *  - the caller's own description of the fd keeps its flags (blocking);
 *  - past VIGIL_OUTQ_MAX a put is refused and counted, nothing half-queued;
 *  - a reader that went away: -EPIPE, counted, no SIGPIPE death;
 *  - a regular file is written through.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "outq.h"

static int drains;

static void on_drain(void *ctx)
{
	(void)ctx;
	drains++;
}

/* Reads everything available from fd into buf at *got (non-blocking). */
static void read_some(int fd, uint8_t *buf, size_t cap, size_t *got)
{
	ssize_t n;

	while (*got < cap && (n = read(fd, buf + *got, cap - *got)) > 0)
		*got += (size_t)n;
}

static void test_slow_pipe_in_order(void **state)
{
	struct vigil_loop *l;
	struct vigil_outq *q;
	int p[2];
	size_t total = 3u << 20, chunk = 60000, put = 0, got = 0;
	uint8_t *src = malloc(total), *dst = malloc(total);

	(void)state;
	for (size_t i = 0; i < total; i++)
		src[i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vigil_loop_new(&l), 0);
	assert_int_equal(vigil_outq_new(l, p[1], "pipe", &q), 0);
	vigil_outq_on_drain(q, on_drain, NULL);
	/* the caller's description stays blocking */
	assert_false(fcntl(p[1], F_GETFL) & O_NONBLOCK);
	while (put < total) {
		size_t n = total - put < chunk ? total - put : chunk;
		assert_int_equal(vigil_outq_put(q, src + put, n), 0); /* never blocks */
		put += n;
	}
	assert_true(vigil_outq_backlogged(q));
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	drains = 0;
	while (got < total) {
		read_some(p[0], dst, total, &got);
		assert_true(vigil_loop_run_once(l, 100) >= 0);
	}
	read_some(p[0], dst, total, &got);
	assert_int_equal(got, total);
	assert_memory_equal(dst, src, total);
	assert_int_equal(drains, 1);
	assert_false(vigil_outq_backlogged(q));
	assert_int_equal(vigil_outq_pending(q), 0);
	vigil_outq_free(q);
	vigil_loop_free(l);
	close(p[0]);
	close(p[1]);
	free(src);
	free(dst);
}

static void test_bound_and_dead_reader(void **state)
{
	struct vigil_loop *l;
	struct vigil_outq *q;
	struct vigil_outq_stats st;
	static uint8_t big[1 << 20];
	int p[2];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vigil_loop_new(&l), 0);
	assert_int_equal(vigil_outq_new(l, p[1], "pipe", &q), 0);
	for (unsigned i = 0; i < VIGIL_OUTQ_MAX / sizeof(big); i++)
		assert_int_equal(vigil_outq_put(q, big, sizeof(big)), 0);
	/* the pipe took 64 KiB; the rest waits: one more MiB does not fit */
	assert_int_equal(vigil_outq_put(q, big, sizeof(big)), -ENOBUFS);
	vigil_outq_stats(q, &st);
	assert_int_equal(st.refused, sizeof(big));
	close(p[0]); /* the reader goes away */
	assert_true(vigil_loop_run_once(l, 100) >= 0);
	assert_int_equal(vigil_outq_put(q, "x", 1), -EPIPE);
	vigil_outq_stats(q, &st);
	assert_int_equal(st.errors, 1);
	assert_int_equal(vigil_outq_flush(q, 10), -EPIPE);
	vigil_outq_free(q);
	vigil_loop_free(l);
	close(p[1]);
}

static void test_regular_file(void **state)
{
	struct vigil_loop *l;
	struct vigil_outq *q;
	FILE *f = tmpfile();
	char buf[16] = { 0 };

	(void)state;
	assert_non_null(f);
	assert_int_equal(vigil_loop_new(&l), 0);
	assert_int_equal(vigil_outq_new(l, fileno(f), "file", &q), 0);
	assert_int_equal(vigil_outq_put(q, "hello ", 6), 0);
	assert_int_equal(vigil_outq_put(q, "world", 5), 0);
	assert_int_equal(vigil_outq_pending(q), 0); /* written through */
	assert_int_equal(vigil_outq_flush(q, 10), 0);
	vigil_outq_free(q);
	rewind(f);
	assert_int_equal(fread(buf, 1, 11, f), 11);
	assert_string_equal(buf, "hello world");
	fclose(f);
	vigil_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_pipe_in_order),
		cmocka_unit_test(test_bound_and_dead_reader),
		cmocka_unit_test(test_regular_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
