/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/modload.c: the module list's scheduling with a fake
 * loader that records when each module starts and ends (no kernel).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "modload.h"

#define EV_MAX 64

/* The fake loader's record: "+name" at a start, "-name" at an end, in order. */
struct rec {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char ev[EV_MAX][64];
	int n;
	int running, max_running;
	const char *fail;     /* a module whose load fails (ENOEXEC) */
	const char *wait_for; /* "a>b": a's load waits until b has started */
	bool wait_timed_out;
	char logged[256];
};

static struct rec R;

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void rec_add(struct rec *r, char sign, const char *path)
{
	snprintf(r->ev[r->n++ % EV_MAX], sizeof(r->ev[0]), "%c%s", sign, base(path));
	pthread_cond_broadcast(&r->cv);
}

static int rec_index(const struct rec *r, char sign, const char *name)
{
	for (int i = 0; i < r->n && i < EV_MAX; i++)
		if (r->ev[i][0] == sign && !strcmp(r->ev[i] + 1, name))
			return i;
	return -1;
}

/* a's load (per R.wait_for "a>b") waits up to 5 s until b has started. */
static void rec_wait(struct rec *r, const char *name)
{
	char a[32], b[32];
	struct timespec until;

	if (!r->wait_for || sscanf(r->wait_for, "%31[^>]>%31s", a, b) != 2 || strcmp(a, name))
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	while (rec_index(r, '+', b) < 0)
		if (pthread_cond_timedwait(&r->cv, &r->mu, &until) != 0) {
			r->wait_timed_out = true;
			return;
		}
}

static int fake_load(void *ctx, const char *path)
{
	struct rec *r = ctx;
	int e = 0;

	pthread_mutex_lock(&r->mu);
	rec_add(r, '+', path);
	if (++r->running > r->max_running)
		r->max_running = r->running;
	rec_wait(r, base(path));
	pthread_mutex_unlock(&r->mu);
	usleep(2000); /* room for a wrongly started module to show in the record */
	pthread_mutex_lock(&r->mu);
	if (r->fail && !strcmp(base(path), r->fail))
		e = -ENOEXEC;
	r->running--;
	rec_add(r, '-', path);
	pthread_mutex_unlock(&r->mu);
	return e;
}

static void fake_log(const char *what, const char *path, int err)
{
	snprintf(R.logged, sizeof(R.logged), "%s %s %d", what, path, err);
}

static char list_path[64];

static int setup(void **state)
{
	(void)state;
	memset(&R, 0, sizeof(R));
	pthread_mutex_init(&R.mu, NULL);
	pthread_cond_init(&R.cv, NULL);
	snprintf(list_path, sizeof(list_path), "/tmp/modload-test.%d", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(list_path);
	return 0;
}

static int run(const char *list, unsigned workers)
{
	FILE *f = fopen(list_path, "w");

	assert_non_null(f);
	fputs(list, f);
	fclose(f);
	return modload_list("/lib/m", list_path, workers, 0, fake_load, &R, fake_log, NULL);
}

/* i-th module (by name) ends before j-th starts. */
static void assert_before(const char *a, const char *b)
{
	int end = rec_index(&R, '-', a), start = rec_index(&R, '+', b);

	assert_true(end >= 0 && start >= 0);
	if (end > start)
		fail_msg("%s started before %s was loaded", b, a);
}

static void test_independent_in_parallel(void **state)
{
	(void)state;
	/* a waits for b to start: only a second worker can start b */
	R.wait_for = "a.ko>b.ko";
	assert_int_equal(run("/x/a.ko:\n/x/b.ko:\n", 2), 2);
	assert_false(R.wait_timed_out);
	assert_int_equal(R.max_running, 2);
}

static void test_prerequisites_first(void **state)
{
	(void)state;
	assert_int_equal(run("/x/ring.ko:\n/x/virtio.ko: /x/ring.ko\n/x/other.ko:\n"
			     "/x/console.ko: /x/virtio.ko /x/ring.ko\n",
			     4),
			 4);
	assert_before("ring.ko", "virtio.ko");
	assert_before("virtio.ko", "console.ko");
	assert_before("ring.ko", "console.ko");
	assert_true(R.max_running <= 2); /* ring beside other at most; then virtio; then console */
}

static void test_barrier(void **state)
{
	(void)state;
	/* c has softdeps: after a and b, and d after c */
	assert_int_equal(run("/x/a.ko:\n/x/b.ko:\n/x/c.ko\n/x/d.ko:\n/x/e.ko:\n", 4), 5);
	assert_before("a.ko", "c.ko");
	assert_before("b.ko", "c.ko");
	assert_before("c.ko", "d.ko");
	assert_before("c.ko", "e.ko");
}

static void test_bare_list_in_order(void **state)
{
	static const char *const want[] = { "+a.ko", "-a.ko", "+b.ko", "-b.ko", "+c.ko", "-c.ko" };

	(void)state;
	/* the list of earlier versions: one by one whatever the workers */
	assert_int_equal(run("# comment\n/x/a.ko\n\n  /x/b.ko\n/x/c.ko\n", 4), 3);
	assert_int_equal(R.n, 6);
	for (int i = 0; i < 6; i++)
		assert_string_equal(R.ev[i], want[i]);
}

static void test_failure_logged_counts_done(void **state)
{
	(void)state;
	R.fail = "a.ko";
	/* relative paths join the module directory; an unknown prerequisite is ignored */
	assert_int_equal(run("kernel/a.ko:\nkernel/b.ko: kernel/a.ko /x/builtin.ko\n", 2), 1);
	assert_before("a.ko", "b.ko");
	assert_string_equal(R.logged, "cannot load module /lib/m/kernel/a.ko -8");
}

static void test_one_worker_keeps_order(void **state)
{
	static const char *const want[] = { "+a.ko", "-a.ko", "+b.ko", "-b.ko" };

	(void)state;
	assert_int_equal(run("/x/a.ko:\n/x/b.ko:\n", 1), 2);
	for (int i = 0; i < 4; i++)
		assert_string_equal(R.ev[i], want[i]);
}

/* "@pci" lines: skipped, and counted apart, on a guest without PCI
 * devices; loaded like any other line otherwise. */
static void test_pci_skipped_without_pci(void **state)
{
	static const char list[] = "/x/virtio.ko:\n/x/legacy.ko: @pci\n"
				   "/x/virtio_pci.ko: /x/legacy.ko /x/virtio.ko @pci\n"
				   "/x/mmio.ko: /x/virtio.ko\n";
	FILE *f = fopen(list_path, "w");
	int skipped = -1;

	(void)state;
	assert_non_null(f);
	fputs(list, f);
	fclose(f);
	assert_int_equal(
	    modload_list("/lib/m", list_path, 2, MODLOAD_NO_PCI, fake_load, &R, fake_log, &skipped),
	    2);
	assert_int_equal(skipped, 2);
	assert_int_equal(R.n, 4); /* virtio and mmio, started and ended */
	assert_int_equal(rec_index(&R, '+', "legacy.ko"), -1);
	assert_int_equal(rec_index(&R, '+', "virtio_pci.ko"), -1);
	assert_before("virtio.ko", "mmio.ko");
	memset(R.ev, 0, sizeof(R.ev));
	R.n = 0;
	assert_int_equal(modload_list("/lib/m", list_path, 2, 0, fake_load, &R, fake_log, &skipped),
			 4);
	assert_int_equal(skipped, 0);
	assert_before("legacy.ko", "virtio_pci.ko");
	assert_before("virtio.ko", "virtio_pci.ko");
}

static void test_limits(void **state)
{
	size_t cap = (MODLOAD_MAX + 1) * 16 + 1;
	char *big = malloc(cap), *p = big;

	(void)state;
	assert_non_null(big);
	for (int i = 0; i <= MODLOAD_MAX; i++)
		p += snprintf(p, cap - (size_t)(p - big), "/%d.ko:\n", i);
	assert_int_equal(run(big, 2), -EFBIG);
	assert_int_equal(R.n, 0); /* nothing loaded from a list over the limit */
	free(big);
	unlink(list_path);
	assert_int_equal(modload_list("/lib/m", list_path, 2, 0, fake_load, &R, NULL, NULL),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_independent_in_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prerequisites_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_barrier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bare_list_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_logged_counts_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_worker_keeps_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_skipped_without_pci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
