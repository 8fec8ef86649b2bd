/* SPDX-License-Identifier: MIT */
/*
 * Event loop (host/loop):
 *  - a failing source is disabled and reported once; its neighbour goes on;
 *  - 10,000 random deadlines fire in deadline order (ties: arming order),
 *    and a differential test against a naive table on random arm, disarm,
 *    free and clock steps;
 *  - freeing and re-arming from callbacks, including a source whose event
 *    comes later in the same batch (never dispatched);
 *  - timerfd_settime only when the earliest deadline changes; epoll_ctl
 *    only when a source's events change;
 *  - signals through raise(); periodic timers; destroy callbacks after
 *    removal; run/exit;
 *  - no allocation while dispatching (malloc, calloc, realloc and free are
 *    wrapped and counted), and vigil_loop_free with everything still there
 *    gives back every allocation (and ASan's leak check agrees);
 *  - 1000 sources on socketpairs and 1000 timers in one loop, all dispatched;
 *  - timing: histogram buckets on their bounds (le), ready() timed only for
 *    a source given a histogram and not once it freed itself, the wake-up
 *    latency counted once per wake towards a deadline slept on.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "loop_int.h" /* no_pidfd: the SIGCHLD path of child sources */

#define MS 1000000ull

/* ---- allocation counting ------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
/* volatile: the compiler assumes malloc leaves globals alone. */
static volatile unsigned long alloc_calls; /* malloc, calloc, realloc */
static volatile long alloc_live;           /* blocks allocated and not freed */

void *__wrap_malloc(size_t n)
{
	void *p = __real_malloc(n);

	alloc_calls++;
	alloc_live += p != NULL;
	return p;
}

void *__wrap_calloc(size_t n, size_t m)
{
	void *p = __real_calloc(n, m);

	alloc_calls++;
	alloc_live += p != NULL;
	return p;
}

void *__wrap_realloc(void *p, size_t n)
{
	void *q = __real_realloc(p, n);

	alloc_calls++;
	alloc_live += !p && q;
	return q;
}

void __wrap_free(void *p)
{
	alloc_live -= p != NULL;
	__real_free(p);
}

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t n)
{
	return n ? rng() % n : 0;
}

static uint64_t fake_now(void *ctx)
{
	return *(const uint64_t *)ctx;
}

struct logcap {
	int n;
	char last[256];
};

static void log_cb(void *ctx, const char *msg)
{
	struct logcap *c = ctx;

	c->n++;
	snprintf(c->last, sizeof(c->last), "%s", msg);
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void put(int fd)
{
	assert_int_equal(write(fd, "x", 1), 1);
}

static void drain(int fd)
{
	char b[256];

	while (read(fd, b, sizeof(b)) > 0)
		;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* A source's context for most tests. */
struct sctx {
	int calls;
	int ret;                     /* what ready() returns */
	uint32_t events;             /* the last events */
	struct vigil_source *self;   /* set after add */
	struct vigil_source *victim; /* freed by ready(), when set */
	struct vigil_timer *tvictim; /* freed by ready(), when set */
	bool drain;
	bool free_self;
	int destroyed;
};

static int s_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct sctx *c = ctx;

	assert_ptr_equal(s, c->self);
	c->calls++;
	c->events = events;
	if (c->drain)
		drain(fd);
	if (c->victim) {
		vigil_source_free(c->victim);
		c->victim = NULL;
	}
	if (c->tvictim) {
		vigil_timer_free(c->tvictim);
		c->tvictim = NULL;
	}
	if (c->free_self)
		vigil_source_free(s);
	return c->ret;
}

static void s_destroy(void *ctx)
{
	((struct sctx *)ctx)->destroyed++;
}

static struct vigil_source *add(struct vigil_loop *l, int fd, struct sctx *c, const char *name)
{
	struct vigil_source *s = NULL;

	assert_int_equal(vigil_source_add(l, fd, EPOLLIN, 0, s_ready, c, name, &s), 0);
	assert_non_null(s);
	c->self = s;
	vigil_source_set_destroy(s, s_destroy);
	return s;
}

static struct vigil_loop *new_loop(uint64_t *now)
{
	struct vigil_loop *l = NULL;

	assert_int_equal(vigil_loop_new(&l), 0);
	if (now)
		vigil_loop_set_clock(l, fake_now, now);
	return l;
}

/* ---- failing sources -------------------------------------------------- */

static void test_failing_source(void **state)
{
	struct vigil_loop *l = new_loop(NULL);
	struct sctx a = { .ret = -ECONNRESET, .drain = true }, b = { .drain = true };
	struct vigil_loop_stats st;
	struct logcap lc = { 0 };
	int sa[2], sb[2];

	(void)state;
	vigil_loop_set_log(l, log_cb, &lc);
	pair(sa);
	pair(sb);
	struct vigil_source *A = add(l, sa[0], &a, "guest-a port");
	add(l, sb[0], &b, "guest-b port");
	for (int i = 0; i < 5; i++) {
		put(sa[1]);
		put(sb[1]);
		assert_true(vigil_loop_run_once(l, 1000) >= 1);
	}
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 5);
	assert_true(vigil_source_disabled(A));
	assert_int_equal(lc.n, 1);
	assert_non_null(strstr(lc.last, "guest-a port"));
	assert_non_null(strstr(lc.last, strerror(ECONNRESET)));
	assert_int_equal(vigil_source_set_events(A, EPOLLIN | EPOLLOUT), -ESHUTDOWN);
	vigil_loop_stats(l, &st);
	assert_int_equal(st.sources_disabled, 1);
	assert_int_equal(st.dispatched, 6);
	/* A failing ready() of a source it freed itself is no failure. */
	b.ret = -EIO;
	b.free_self = true;
	put(sb[1]);
	assert_int_equal(vigil_loop_run_once(l, 1000), 1);
	assert_int_equal(lc.n, 1);
	assert_int_equal(b.destroyed, 1);
	assert_int_equal(a.destroyed, 0); /* disabled is not freed */
	vigil_loop_free(l);
	assert_int_equal(a.destroyed, 1);
	for (int i = 0; i < 2; i++) {
		close(sa[i]);
		close(sb[i]);
	}
}

/* ---- timers in deadline order ------------------------------------------ */

struct order {
	uint64_t last_when;
	uint32_t last_id;
	uint32_t fired;
	bool bad;
};

struct tctx {
	struct order *o;
	uint32_t id;
	uint64_t when; /* the deadline it was armed for */
	int calls;
	struct vigil_timer *t;
};

static void t_order(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct tctx *c = ctx;
	struct order *o = c->o;

	assert_ptr_equal(t, c->t);
	assert_false(vigil_timer_armed(t)); /* one-shot: disarmed before */
	c->calls++;
	/* due, and never before an earlier deadline or an earlier arming */
	if (c->when > now || c->when < o->last_when ||
	    (o->fired && c->when == o->last_when && c->id < o->last_id))
		o->bad = true;
	o->last_when = c->when;
	o->last_id = c->id;
	o->fired++;
}

/* Every timer armed with a deadline <= now has fired; the others have not. */
static void check_due(struct tctx *c, uint32_t n, uint64_t now)
{
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(c[i].calls, c[i].when <= now);
}

static void test_timer_order(void **state)
{
	enum { N = 10000 };
	uint64_t now = 1000, end = 0;
	struct vigil_loop *l = new_loop(&now);
	struct order o = { 0 };
	struct tctx *c = calloc(N, sizeof(*c));

	(void)state;
	assert_non_null(c);
	for (uint32_t i = 0; i < N; i++) {
		c[i] = (struct tctx){ .o = &o, .id = i };
		assert_int_equal(vigil_timer_new(l, t_order, &c[i], &c[i].t), 0);
	}
	/* Arm in id order (ids break ties), with many equal deadlines. */
	for (uint32_t i = 0; i < N; i++) {
		c[i].when = now + 1 + rnd(i % 3 ? 1000000 : 50);
		vigil_timer_arm(c[i].t, c[i].when);
		end = c[i].when > end ? c[i].when : end;
	}
	while (now < end) {
		now += 1 + rnd(20000);
		o.last_when = 0;
		o.fired = 0;
		assert_true(vigil_loop_run_once(l, 0) >= 0);
		assert_false(o.bad);
		check_due(c, N, now);
	}
	vigil_loop_free(l);
	free(c);
}

/* Differential: the heap against a table searched in full every time. */
struct ref {
	bool armed;
	uint64_t when, seq;
};

static bool ref_before(const struct ref *a, const struct ref *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void ref_expect(struct ref *r, uint32_t n, uint64_t now, uint32_t *exp, uint32_t *nexp)
{
	*nexp = 0;
	for (uint32_t i = 0; i < n; i++)
		if (r[i].armed && r[i].when <= now)
			exp[(*nexp)++] = i;
	/* insertion sort on (when, seq): the lists are short */
	for (uint32_t i = 1; i < *nexp; i++) {
		uint32_t k = exp[i], j = i;

		while (j > 0 && ref_before(&r[k], &r[exp[j - 1]])) {
			exp[j] = exp[j - 1];
			j--;
		}
		exp[j] = k;
	}
	for (uint32_t i = 0; i < *nexp; i++)
		r[exp[i]].armed = false;
}

struct diff {
	uint32_t got[512];
	uint32_t ngot;
};

struct dctx {
	struct diff *d;
	uint32_t id;
};

static void t_diff(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct dctx *c = ctx;

	(void)t;
	(void)now;
	c->d->got[c->d->ngot++] = c->id;
}

static void diff_step(struct vigil_timer **t, struct ref *r, uint32_t n, uint64_t *now,
		      uint64_t *seq)
{
	uint32_t i = (uint32_t)rnd(n);
	uint64_t op = rnd(100);

	if (op < 45) {
		r[i] =
		    (struct ref){ .armed = true, .when = *now - 50 + rnd(1000), .seq = (*seq)++ };
		vigil_timer_arm(t[i], r[i].when);
		assert_true(vigil_timer_armed(t[i]));
		assert_int_equal(vigil_timer_when(t[i]), r[i].when);
	} else if (op < 60) {
		r[i].armed = false;
		vigil_timer_disarm(t[i]);
		assert_false(vigil_timer_armed(t[i]));
	} else if (op < 65) {
		/* the caller makes a new timer for this id */
		r[i].armed = false;
		vigil_timer_free(t[i]);
		t[i] = NULL;
	}
}

static void test_timer_differential(void **state)
{
	enum { N = 500, STEPS = 40000 };
	uint64_t now = 1000, seq = 0;
	struct vigil_loop *l = new_loop(&now);
	struct diff d = { .ngot = 0 };
	struct dctx ctx[N];
	struct vigil_timer *t[N];
	struct ref r[N] = { { 0 } };
	uint32_t exp[N], nexp;

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		ctx[i] = (struct dctx){ .d = &d, .id = i };
		assert_int_equal(vigil_timer_new(l, t_diff, &ctx[i], &t[i]), 0);
	}
	for (int s = 0; s < STEPS; s++) {
		if (rnd(100) < 30) {
			now += rnd(600);
			d.ngot = 0;
			assert_true(vigil_loop_run_once(l, 0) >= 0);
			ref_expect(r, N, now, exp, &nexp);
			assert_int_equal(d.ngot, nexp);
			assert_memory_equal(d.got, exp, nexp * sizeof(exp[0]));
			continue;
		}
		diff_step(t, r, N, &now, &seq);
		for (uint32_t i = 0; i < N; i++)
			if (!t[i])
				assert_int_equal(vigil_timer_new(l, t_diff, &ctx[i], &t[i]), 0);
	}
	vigil_loop_free(l);
}

/* ---- freeing and re-arming inside callbacks ----------------------------- */

static void test_free_later_in_batch(void **state)
{
	struct vigil_loop *l = new_loop(NULL);
	struct sctx a = { .drain = true }, b = { .drain = true };
	int sa[2], sb[2];

	(void)state;
	pair(sa);
	pair(sb);
	struct vigil_source *A = add(l, sa[0], &a, "a");
	struct vigil_source *B = add(l, sb[0], &b, "b");
	/* Whichever runs first frees the other, whose event is in the batch. */
	a.victim = B;
	b.victim = A;
	put(sa[1]);
	put(sb[1]);
	assert_int_equal(vigil_loop_run_once(l, 1000), 1);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(a.destroyed + b.destroyed, 1);
	assert_int_equal(a.calls ? b.destroyed : a.destroyed, 1);
	/* the survivor goes on */
	put(sa[1]);
	put(sb[1]);
	assert_int_equal(vigil_loop_run_once(l, 1000), 1);
	assert_int_equal(a.calls + b.calls, 2);
	vigil_loop_free(l);
	assert_int_equal(a.destroyed + b.destroyed, 2);
	for (int i = 0; i < 2; i++) {
		close(sa[i]);
		close(sb[i]);
	}
}

/* A timer callback that does what its context says. */
struct act {
	int calls;
	uint64_t rearm; /* re-arm self at this deadline, if not 0 */
	struct vigil_timer *kill_t;
	struct vigil_source *kill_s;
	bool free_self;
	int destroyed;
	uint64_t *now;
};

static void t_act(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct act *a = ctx;

	assert_int_equal(now, *a->now);
	a->calls++;
	if (a->rearm)
		vigil_timer_arm(t, a->rearm);
	if (a->kill_t)
		vigil_timer_free(a->kill_t);
	if (a->kill_s)
		vigil_source_free(a->kill_s);
	if (a->free_self)
		vigil_timer_free(t);
}

static void t_destroy(void *ctx)
{
	((struct act *)ctx)->destroyed++;
}

static struct vigil_timer *timer(struct vigil_loop *l, struct act *a, uint64_t when)
{
	struct vigil_timer *t = NULL;

	assert_int_equal(vigil_timer_new(l, t_act, a, &t), 0);
	vigil_timer_set_destroy(t, t_destroy);
	if (when)
		vigil_timer_arm(t, when);
	return t;
}

static void test_timer_callbacks(void **state)
{
	uint64_t now = 100;
	struct vigil_loop *l = new_loop(&now);
	struct act a = { .now = &now }, b = { .now = &now }, c = { .now = &now },
		   d = { .now = &now };
	struct sctx sc = { .drain = true };
	int sv[2];

	(void)state;
	pair(sv);
	struct vigil_source *S = add(l, sv[0], &sc, "s");
	/* a (due first) frees b (also due) and the source (ready now). */
	timer(l, &a, 10);
	a.kill_t = timer(l, &b, 20);
	a.kill_s = S;
	/* c re-arms itself in the past: clamped to now, runs next iteration. */
	struct vigil_timer *C = timer(l, &c, 30);
	c.rearm = 1;
	/* d frees itself. */
	d.free_self = true;
	timer(l, &d, 40);
	put(sv[1]);
	/* the source runs before the timers: it is not freed yet */
	assert_int_equal(vigil_loop_run_once(l, 0), 4);
	assert_int_equal(sc.calls, 1);
	assert_int_equal(a.calls + c.calls + d.calls, 3);
	assert_int_equal(b.calls, 0);
	assert_int_equal(b.destroyed + d.destroyed + sc.destroyed, 3);
	assert_int_equal(vigil_timer_when(C), 100);
	c.rearm = 0;
	put(sv[1]);
	assert_int_equal(vigil_loop_run_once(l, 0), 1);
	assert_int_equal(c.calls, 2);
	assert_int_equal(sc.calls, 1); /* freed: never again */
	assert_false(vigil_timer_armed(C));
	vigil_loop_free(l);
	assert_int_equal(a.destroyed + c.destroyed, 2);
	close(sv[0]);
	close(sv[1]);
}

/* A source's ready() frees a timer that is due in the same iteration. */
static void test_source_frees_timer(void **state)
{
	uint64_t now = 100;
	struct vigil_loop *l = new_loop(&now);
	struct act a = { .now = &now };
	struct sctx sc = { .drain = true };
	int sv[2];

	(void)state;
	pair(sv);
	add(l, sv[0], &sc, "s");
	sc.tvictim = timer(l, &a, 50);
	put(sv[1]);
	assert_int_equal(vigil_loop_run_once(l, 0), 1);
	assert_int_equal(a.calls, 0);
	assert_int_equal(a.destroyed, 1);
	vigil_loop_free(l);
	close(sv[0]);
	close(sv[1]);
}

/* ---- system calls only on change ---------------------------------------- */

static void t_count(struct vigil_timer *t, uint64_t now, void *ctx)
{
	(void)t;
	(void)now;
	(*(int *)ctx)++;
}

static void test_timerfd_sets(void **state)
{
	struct vigil_loop *l = new_loop(NULL);
	struct vigil_loop_stats st0, st;
	struct vigil_timer *t[3], *R;
	uint64_t t0 = vigil_loop_now_ns();
	uint64_t expect[] = { 1, 1, 2, 2, 3, 4, 4 };
	int n = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(vigil_timer_new(l, t_count, &n, &t[i]), 0);
	vigil_timer_arm(t[0], t0 + 3600000 * MS);
	for (int step = 0; step < 7; step++) {
		if (step == 1)
			vigil_timer_arm(t[1], t0 + 7200000 * MS); /* later: no change */
		if (step == 2)
			vigil_timer_arm(t[2], t0 + 1800000 * MS); /* earlier */
		if (step == 3)
			vigil_timer_disarm(t[1]);
		if (step == 4)
			vigil_timer_disarm(t[2]); /* t[0] is the earliest again */
		if (step == 5)
			vigil_timer_disarm(t[0]); /* none: the timerfd is disarmed */
		assert_int_equal(vigil_loop_run_once(l, 0), 0);
		vigil_loop_stats(l, &st);
		assert_int_equal(st.timerfd_sets, expect[step]);
	}
	assert_int_equal(n, 0);
	/* A real deadline 2 ms away: the loop sleeps in epoll_wait until the
	 * timerfd wakes it, once. */
	assert_int_equal(vigil_timer_new(l, t_count, &n, &R), 0);
	vigil_loop_stats(l, &st0);
	t0 = vigil_loop_now_ns();
	vigil_timer_arm(R, t0 + 2 * MS);
	for (int i = 0; i < 10 && !n; i++)
		assert_true(vigil_loop_run_once(l, 1000) >= 0);
	assert_int_equal(n, 1);
	assert_true(vigil_loop_now_ns() - t0 >= 2 * MS);
	vigil_loop_stats(l, &st);
	assert_int_equal(st.timerfd_sets, st0.timerfd_sets + 1);
	assert_true(st.wakeups - st0.wakeups <= 2);
	vigil_loop_free(l);
}

static void test_epoll_ctl_on_change(void **state)
{
	struct vigil_loop *l = new_loop(NULL);
	struct sctx c = { 0 };
	struct vigil_loop_stats st0, st;
	int sv[2];

	(void)state;
	pair(sv);
	struct vigil_source *S = add(l, sv[0], &c, "s");
	vigil_loop_stats(l, &st0);
	assert_int_equal(vigil_source_set_events(S, EPOLLIN), 0);
	vigil_loop_stats(l, &st);
	assert_int_equal(st.epoll_ctls, st0.epoll_ctls);
	assert_int_equal(vigil_source_set_events(S, 0), 0);
	assert_int_equal(vigil_source_set_events(S, 0), 0);
	vigil_loop_stats(l, &st);
	assert_int_equal(st.epoll_ctls, st0.epoll_ctls + 1);
	/* Not watched: a hang-up is not reported (no spinning on it). */
	close(sv[1]);
	assert_int_equal(vigil_loop_run_once(l, 0), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(vigil_source_set_events(S, EPOLLIN), 0);
	assert_int_equal(vigil_loop_run_once(l, 0), 1);
	assert_true(c.events & EPOLLHUP);
	assert_int_equal(vigil_source_set_events(S, EPOLLIN | EPOLLOUT), 0);
	assert_int_equal(vigil_source_events(S), EPOLLIN | EPOLLOUT);
	vigil_loop_stats(l, &st);
	assert_int_equal(st.epoll_ctls, st0.epoll_ctls + 3);
	assert_int_equal(vigil_source_set_events(S, EPOLLONESHOT), -EINVAL);
	vigil_source_free(S);
	assert_int_equal(vigil_source_set_events(S, EPOLLIN), -ESTALE);
	vigil_loop_free(l);
	close(sv[0]);
}

/* ---- signals, periods, destroy, run/exit -------------------------------- */

static void on_sig(int signo, void *ctx)
{
	int *n = ctx;

	n[signo == SIGUSR1 ? 0 : 1]++;
}

static void test_signal(void **state)
{
	struct vigil_loop *l = new_loop(NULL);
	struct vigil_loop_stats st;
	int first[2] = { 0 }, second[2] = { 0 };

	(void)state;
	assert_int_equal(vigil_loop_signal(l, SIGUSR1, on_sig, first), 0);
	assert_int_equal(vigil_loop_signal(l, SIGUSR1, on_sig, second), 0);
	assert_int_equal(vigil_loop_signal(l, SIGUSR2, on_sig, first), 0);
	assert_int_equal(vigil_loop_signal(l, SIGKILL, on_sig, first), -EINVAL);
	assert_int_equal(vigil_loop_signal(l, 0, on_sig, first), -EINVAL);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(vigil_loop_run_once(l, 1000), 2);
	assert_int_equal(first[0], 1);
	assert_int_equal(second[0], 1);
	assert_int_equal(first[1], 0);
	assert_int_equal(raise(SIGUSR2), 0);
	assert_int_equal(vigil_loop_run_once(l, 1000), 1);
	assert_int_equal(first[1], 1);
	assert_int_equal(second[1], 0);
	vigil_loop_stats(l, &st);
	assert_int_equal(st.signals, 2);
	vigil_loop_free(l);
}

static void test_periodic(void **state)
{
	uint64_t now = 0;
	struct vigil_loop *l = new_loop(&now);
	struct act a = { .now = &now }, z = { .now = &now };

	(void)state;
	struct vigil_timer *A = timer(l, &a, 0);
	vigil_timer_set_period(A, 10);
	vigil_timer_arm(A, 10);
	for (int i = 1; i <= 3; i++) {
		now += 10;
		assert_int_equal(vigil_loop_run_once(l, 0), 1);
		assert_int_equal(a.calls, i);
		assert_int_equal(vigil_timer_when(A), now + 10);
	}
	/* late: one firing, the missed ones skipped */
	now += 35;
	assert_int_equal(vigil_loop_run_once(l, 0), 1);
	assert_int_equal(a.calls, 4);
	assert_int_equal(vigil_timer_when(A), now + 10);
	/* on time after that: drift-free from the deadline */
	now = vigil_timer_when(A) + 3;
	assert_int_equal(vigil_loop_run_once(l, 0), 1);
	assert_int_equal(vigil_timer_when(A), now - 3 + 10);
	vigil_timer_disarm(A);
	/* period 0: once per iteration, the clock standing still */
	struct vigil_timer *Z = timer(l, &z, 0);
	vigil_timer_set_period(Z, 0);
	vigil_timer_arm(Z, now);
	for (int i = 1; i <= 5; i++) {
		assert_int_equal(vigil_loop_run_once(l, 0), 1);
		assert_int_equal(z.calls, i);
	}
	vigil_loop_free(l);
}

static void test_period_zero_does_not_block(void **state)
{
	struct vigil_loop *l = new_loop(NULL);
	struct vigil_timer *t;
	int n = 0;

	(void)state;
	assert_int_equal(vigil_timer_new(l, t_count, &n, &t), 0);
	vigil_timer_set_period(t, 0);
	vigil_timer_arm(t, vigil_loop_now_ns());
	uint64_t t0 = vigil_loop_now_ns();
	for (int i = 1; i <= 5; i++) {
		assert_int_equal(vigil_loop_run_once(l, 10000), 1);
		assert_int_equal(n, i);
	}
	assert_true(vigil_loop_now_ns() - t0 < 2000 * MS);
	vigil_timer_set_period(t, VIGIL_TIMER_NO_PERIOD);
	assert_int_equal(vigil_loop_run_once(l, 0), 1);
	assert_false(vigil_timer_armed(t));
	assert_int_equal(vigil_loop_run_once(l, 0), 0);
	assert_int_equal(n, 6);
	vigil_loop_free(l);
}

struct chain {
	struct vigil_source *other; /* freed by this one's destroy */
	int *order;
	int *norder;
	int id;
};

static void chain_destroy(void *ctx)
{
	struct chain *c = ctx;

	c->order[(*c->norder)++] = c->id;
	vigil_source_free(c->other);
}

static int chain_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	(void)s;
	(void)fd;
	(void)events;
	(void)ctx;
	return 0;
}

static void test_destroy_after_removal(void **state)
{
	uint64_t now = 0;
	struct vigil_loop *l = new_loop(&now);
	struct act a = { .now = &now };
	struct chain c1 = { 0 }, c2 = { 0 };
	struct vigil_source *s1, *s2;
	int order[4], norder = 0, sv[2];

	(void)state;
	pair(sv);
	/* destroy runs when the loop reaps, never inside the free call */
	struct vigil_timer *A = timer(l, &a, 0);
	vigil_timer_free(A);
	assert_int_equal(a.destroyed, 0);
	assert_int_equal(vigil_loop_run_once(l, 0), 0);
	assert_int_equal(a.destroyed, 1);
	/* a destroy callback freeing another source: reaped in the same pass */
	c1 = (struct chain){ .order = order, .norder = &norder, .id = 1 };
	c2 = (struct chain){ .order = order, .norder = &norder, .id = 2 };
	assert_int_equal(vigil_source_add(l, sv[0], EPOLLIN, 0, chain_ready, &c1, "1", &s1), 0);
	assert_int_equal(vigil_source_add(l, sv[1], EPOLLIN, 0, chain_ready, &c2, "2", &s2), 0);
	vigil_source_set_destroy(s1, chain_destroy);
	vigil_source_set_destroy(s2, chain_destroy);
	c1.other = s2;
	vigil_source_free(s1);
	assert_int_equal(norder, 0);
	assert_int_equal(vigil_loop_run_once(l, 0), 0);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	/* not OWN_FD: the fds stay open */
	assert_true(fd_open(sv[0]));
	assert_true(fd_open(sv[1]));
	vigil_loop_free(l);
	close(sv[0]);
	close(sv[1]);
}

static void t_exit(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct vigil_loop *l = ctx;

	(void)t;
	(void)now;
	assert_int_equal(vigil_loop_run_once(l, 0), -EBUSY);
	assert_int_equal(vigil_loop_run(l), -EBUSY);
	vigil_loop_exit(l, 7);
}

static void test_run_exit(void **state)
{
	struct vigil_loop *l = new_loop(NULL);
	struct vigil_timer *t;
	int code = -1;

	(void)state;
	assert_int_equal(vigil_timer_new(l, t_exit, l, &t), 0);
	vigil_timer_arm(t, vigil_loop_now_ns() + MS);
	assert_false(vigil_loop_exiting(l, &code));
	assert_int_equal(vigil_loop_run(l), 7);
	assert_false(vigil_loop_exiting(l, &code)); /* it can run again */
	vigil_loop_exit(l, 3);
	assert_true(vigil_loop_exiting(l, &code));
	assert_int_equal(code, 3);
	assert_int_equal(vigil_loop_run(l), 3);
	vigil_loop_free(l);
}

static void test_bad_arguments(void **state)
{
	struct vigil_loop *l = new_loop(NULL);
	struct vigil_source *s = (struct vigil_source *)0x1;
	struct sctx c = { 0 };
	int sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(vigil_loop_new(NULL), -EINVAL);
	assert_int_equal(vigil_source_add(l, -1, EPOLLIN, 0, s_ready, &c, "x", &s), -EINVAL);
	assert_int_equal(vigil_source_add(l, sv[0], EPOLLIN, 0, NULL, &c, "x", &s), -EINVAL);
	assert_int_equal(vigil_source_add(l, sv[0], EPOLLONESHOT, 0, s_ready, &c, "x", &s),
			 -EINVAL);
	assert_int_equal(vigil_source_add(l, sv[0], EPOLLIN, 0x100, s_ready, &c, "x", &s), -EINVAL);
	assert_ptr_equal(s, (struct vigil_source *)0x1); /* untouched on failure */
	s = NULL;
	assert_int_equal(vigil_source_add(l, sv[0], EPOLLIN, 0, s_ready, &c, NULL, &s), 0);
	assert_string_equal(vigil_source_name(s), "unnamed");
	assert_int_equal(vigil_source_fd(s), sv[0]);
	assert_int_equal(vigil_source_add(l, sv[0], EPOLLIN, 0, s_ready, &c, "y", &s), -EEXIST);
	assert_int_equal(vigil_timer_new(l, NULL, NULL, NULL), -EINVAL);
	vigil_source_free(NULL);
	vigil_timer_free(NULL);
	vigil_loop_free(NULL);
	vigil_loop_free(l);
	close(sv[0]);
	close(sv[1]);
}

/* ---- memory ----------------------------------------------------------- */

/* Busy iterations: events, failures, periodic and re-armed timers, signals,
 * frees inside callbacks; none of it may allocate. */
static void test_no_alloc_dispatch(void **state)
{
	enum { N = 64 };
	uint64_t now = 0;
	struct vigil_loop *l = new_loop(&now);
	struct sctx sc[N];
	struct act ta[N];
	struct vigil_timer *tm[N];
	struct logcap lc = { 0 };
	int sv[N][2], sig[2] = { 0 };
	unsigned long before;

	(void)state;
	vigil_loop_set_log(l, log_cb, &lc);
	assert_int_equal(vigil_loop_signal(l, SIGUSR1, on_sig, sig), 0);
	for (int i = 0; i < N; i++) {
		pair(sv[i]);
		sc[i] = (struct sctx){ .drain = true, .ret = i % 7 == 0 ? -EPIPE : 0 };
		add(l, sv[i][0], &sc[i], "guest");
		ta[i] = (struct act){ .now = &now };
		tm[i] = timer(l, &ta[i], 1 + (uint64_t)i);
		if (i % 4 == 0)
			vigil_timer_set_period(tm[i], (uint64_t)i % 8);
	}
	before = alloc_calls;
	for (int it = 0; it < 200; it++) {
		int i = it % N;

		now += 3;
		put(sv[i][1]);
		put(sv[(i * 5) % N][1]);
		if (it % 50 == 0)
			raise(SIGUSR1);
		if (it == 100) {
			sc[1].victim = sc[2].self;
			sc[3].tvictim = tm[5];
			sc[3].free_self = true;
		}
		/* not on what was freed (and reaped) at it == 100 */
		if (!ta[(i * 3) % N].destroyed)
			vigil_timer_arm(tm[(i * 3) % N], now + rnd(10));
		if (!sc[i].destroyed)
			vigil_source_set_events(sc[i].self, it % 2 ? EPOLLIN | EPOLLOUT : EPOLLIN);
		assert_true(vigil_loop_run_once(l, 0) >= 0);
	}
	assert_int_equal(alloc_calls, before);
	assert_int_equal(sig[0], 4);
	assert_int_equal(lc.n, (N + 6) / 7);
	vigil_loop_free(l);
	for (int i = 0; i < N; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

/* ---- timing histograms -------------------------------------------------- */

static void test_hist_buckets(void **state)
{
	struct vigil_loop_hist h = { 0 };
	const uint64_t *b = vigil_loop_hist_bounds_ns;

	(void)state;
	for (int i = 1; i < VIGIL_LOOP_HIST_BOUNDS; i++)
		assert_true(b[i] > b[i - 1]);
	vigil_loop_hist_add(&h, 0);
	vigil_loop_hist_add(&h, b[0]);     /* on a bound: that bucket (le) */
	vigil_loop_hist_add(&h, b[0] + 1); /* just above: the next */
	vigil_loop_hist_add(&h, b[VIGIL_LOOP_HIST_BOUNDS - 1]);
	vigil_loop_hist_add(&h, b[VIGIL_LOOP_HIST_BOUNDS - 1] + 1); /* +Inf */
	assert_int_equal(h.buckets[0], 2);
	assert_int_equal(h.buckets[1], 1);
	assert_int_equal(h.buckets[VIGIL_LOOP_HIST_BOUNDS - 1], 1);
	assert_int_equal(h.buckets[VIGIL_LOOP_HIST_BOUNDS], 1);
	assert_int_equal(h.count, 5);
	assert_int_equal(h.sum_ns, 2 * b[0] + 1 + 2 * b[VIGIL_LOOP_HIST_BOUNDS - 1] + 1);
}

struct timed {
	uint64_t *now;
	uint64_t took_ns; /* ready() moves the fake clock this far */
	bool free_self;
	int calls;
};

static int timed_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct timed *t = ctx;

	(void)events;
	drain(fd);
	*t->now += t->took_ns;
	t->calls++;
	if (t->free_self)
		vigil_source_free(s);
	return 0;
}

/* A source with a histogram has each ready() timed on the loop's clock; one
 * freed inside its ready() is not (its histogram may be gone with it). */
static void test_source_hist(void **state)
{
	uint64_t now = 1000 * MS;
	struct vigil_loop *l = new_loop(&now);
	struct vigil_loop_hist h = { 0 }, h2 = { 0 };
	struct timed t = { .now = &now, .took_ns = 3 * MS }, t2 = { .now = &now, .took_ns = MS };
	struct vigil_source *s, *s2, *plain;
	struct sctx pc = { .drain = true };
	int sv[2], sv2[2], sv3[2];

	(void)state;
	pair(sv);
	pair(sv2);
	pair(sv3);
	assert_int_equal(vigil_source_add(l, sv[0], EPOLLIN, 0, timed_ready, &t, "a", &s), 0);
	assert_int_equal(vigil_source_add(l, sv2[0], EPOLLIN, 0, timed_ready, &t2, "b", &s2), 0);
	plain = add(l, sv3[0], &pc, "plain");
	vigil_source_set_hist(s, &h);
	vigil_source_set_hist(s2, &h2);
	put(sv[1]);
	put(sv3[1]);
	assert_int_equal(vigil_loop_run_once(l, 0), 2);
	assert_int_equal(h.count, 1);
	assert_int_equal(h.sum_ns, 3 * MS);
	assert_int_equal(h.buckets[8], 1); /* 2.5 ms < 3 ms <= 5 ms */
	assert_int_equal(h2.count, 0);

	t2.free_self = true;
	put(sv2[1]);
	assert_int_equal(vigil_loop_run_once(l, 0), 1);
	assert_int_equal(t2.calls, 1);
	assert_int_equal(h2.count, 0);

	vigil_source_set_hist(s, NULL);
	put(sv[1]);
	assert_int_equal(vigil_loop_run_once(l, 0), 1);
	assert_int_equal(h.count, 1);
	(void)plain;
	vigil_loop_free(l);
	for (int i = 0; i < 2; i++) {
		close(sv[i]);
		close(sv2[i]);
		close(sv3[i]);
	}
}

static void nop_timer(struct vigil_timer *t, uint64_t now_ns, void *ctx)
{
	(void)t;
	(void)now_ns;
	(*(int *)ctx)++;
}

/* Wake-up latency: once per wake towards a deadline the loop slept on; not
 * for a deadline already due, nor for a wake that came before it. */
static void test_wake_latency(void **state)
{
	struct vigil_loop *l = new_loop(NULL);
	const struct vigil_loop_hist *h = vigil_loop_wake_latency(l);
	struct vigil_timer *t;
	int fired = 0, sv[2];
	struct sctx sc = { .drain = true };

	(void)state;
	assert_int_equal(vigil_timer_new(l, nop_timer, &fired, &t), 0);
	assert_int_equal(vigil_loop_run_once(l, 0), 0); /* no timer: nothing */
	assert_int_equal(h->count, 0);

	vigil_timer_arm(t, vigil_loop_now(l) + 20 * MS);
	while (!fired)
		assert_true(vigil_loop_run_once(l, -1) >= 0);
	assert_int_equal(h->count, 1);
	assert_true(h->sum_ns < 1000 * MS);

	vigil_timer_arm(t, vigil_loop_now(l)); /* due already: no sleep */
	assert_int_equal(vigil_loop_run_once(l, -1), 1);
	assert_int_equal(h->count, 1);

	pair(sv);
	add(l, sv[0], &sc, "early");
	vigil_timer_arm(t, vigil_loop_now(l) + 10000 * MS);
	put(sv[1]); /* wakes long before the deadline */
	assert_int_equal(vigil_loop_run_once(l, -1), 1);
	assert_int_equal(h->count, 1);
	vigil_loop_free(l);
	close(sv[0]);
	close(sv[1]);
}

/* vigil_loop_free with all kinds of things still there gives back every
 * block and closes exactly the fds it owns. */
static void test_free_everything(void **state)
{
	long live0 = alloc_live;
	struct vigil_loop *l = new_loop(NULL);
	struct sctx c[3] = { { 0 } };
	struct act a[3] = { { 0 } };
	struct vigil_source *s;
	int own[2], keep[2], n = 0;

	(void)state;
	pair(own);
	pair(keep);
	assert_int_equal(
	    vigil_source_add(l, own[0], EPOLLIN, VIGIL_SOURCE_OWN_FD, s_ready, &c[0], "owned", &s),
	    0);
	vigil_source_set_destroy(s, s_destroy);
	add(l, keep[0], &c[1], "kept");
	add(l, keep[1], &c[2], "freed, not reaped");
	vigil_source_free(c[2].self);
	timer(l, &a[0], vigil_loop_now_ns() + 3600000 * MS);
	timer(l, &a[1], 0);
	vigil_timer_free(timer(l, &a[2], 5));
	assert_int_equal(vigil_loop_signal(l, SIGUSR2, on_sig, &n), 0);
	assert_true(alloc_live > live0);
	vigil_loop_free(l);
	assert_int_equal(alloc_live, live0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(c[i].destroyed, 1);
		assert_int_equal(a[i].destroyed, 1);
	}
	assert_false(fd_open(own[0]));
	assert_true(fd_open(keep[0]));
	assert_true(fd_open(keep[1]));
	close(own[1]);
	close(keep[0]);
	close(keep[1]);
}

/* ---- scale ------------------------------------------------------------ */

struct many {
	int calls;
	bool drain;
};

static int many_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct many *m = ctx;

	(void)s;
	(void)events;
	m->calls++;
	if (m->drain)
		drain(fd);
	return 0;
}

static void scale_add(struct vigil_loop *l, int sv[2], struct many *m, int *tcalls)
{
	struct vigil_source *s;
	struct vigil_timer *t;

	pair(sv);
	put(sv[1]);
	assert_int_equal(
	    vigil_source_add(l, sv[0], EPOLLIN, VIGIL_SOURCE_OWN_FD, many_ready, m, "guest", &s),
	    0);
	assert_int_equal(vigil_timer_new(l, t_count, tcalls, &t), 0);
	vigil_timer_arm(t, vigil_loop_now_ns() + rnd(20 * MS));
}

static int scale_unreached(const struct many *m, const int *tcalls, int n)
{
	int left = 0;

	for (int i = 0; i < n; i++)
		left += m ? m[i].calls == 0 : tcalls[i] == 0;
	return left;
}

static void test_scale(void **state)
{
	enum { N = 1000 };
	struct rlimit rl;
	struct vigil_loop *l;
	struct many *m;
	int *tcalls, (*sv)[2];
	struct vigil_timer *every;
	int every_n = 0, it;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * N + 64)
		skip();
	l = new_loop(NULL);
	m = calloc(N, sizeof(*m));
	tcalls = calloc(N, sizeof(*tcalls));
	sv = calloc(N, sizeof(*sv));
	assert_true(m && tcalls && sv);
	for (int i = 0; i < N; i++)
		scale_add(l, sv[i], &m[i], &tcalls[i]);
	/* Never drained, so always ready: epoll hands out VIGIL_LOOP_BATCH a
	 * time, round robin, and a timer due every iteration runs in each. */
	assert_int_equal(vigil_timer_new(l, t_count, &every_n, &every), 0);
	vigil_timer_set_period(every, 0);
	vigil_timer_arm(every, 0);
	for (it = 0; it < 8 && scale_unreached(m, NULL, N); it++)
		assert_true(vigil_loop_run_once(l, 1000) >= VIGIL_LOOP_BATCH / 2);
	assert_int_equal(scale_unreached(m, NULL, N), 0);
	assert_true(it >= (N + VIGIL_LOOP_BATCH - 1) / VIGIL_LOOP_BATCH);
	assert_int_equal(every_n, it);
	vigil_timer_free(every);
	for (int i = 0; i < N; i++)
		m[i].drain = true;
	for (it = 0; it < 10000 && scale_unreached(NULL, tcalls, N); it++)
		assert_true(vigil_loop_run_once(l, 1000) >= 0);
	assert_int_equal(scale_unreached(NULL, tcalls, N), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(tcalls[i], 1);
	vigil_loop_free(l);
	for (int i = 0; i < N; i++) {
		assert_false(fd_open(sv[i][0]));
		close(sv[i][1]);
	}
	free(m);
	free(tcalls);
	free(sv);
}

/* ---- child sources ------------------------------------------------------- */

struct child_seen {
	pid_t pid;
	int status, calls;
	bool reaped;
};

static int on_child(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct child_seen *c = ctx;
	siginfo_t si;

	(void)fd;
	(void)events;
	c->calls++;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == c->pid) {
		c->reaped = true;
		c->status = si.si_status;
		vigil_source_free(s);
	}
	return 0;
}

static pid_t child_exiting(int status, int after_ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		usleep((useconds_t)after_ms * 1000);
		_exit(status);
	}
	assert_true(pid > 0);
	return pid;
}

static void run_until_reaped(struct vigil_loop *l, const struct child_seen *c)
{
	for (int i = 0; i < 500 && !c->reaped; i++)
		assert_true(vigil_loop_run_once(l, 10) >= 0);
	assert_true(c->reaped);
}

/* One child exits while another lives on; a third had exited before it was
 * watched. Each is reaped by its own source, with its own status. */
static void child_case(bool sigchld)
{
	struct child_seen a = { 0 }, b = { 0 }, z = { 0 };
	struct vigil_source *sa, *sb, *sz;
	struct vigil_loop *l;

	assert_int_equal(vigil_loop_new(&l), 0);
	l->no_pidfd = sigchld;
	z.pid = child_exiting(3, 0);
	usleep(50000); /* a zombie by now */
	a.pid = child_exiting(7, 50);
	b.pid = child_exiting(9, 60000);
	assert_int_equal(vigil_loop_child(l, a.pid, on_child, &a, "a", &sa), 0);
	assert_int_equal(vigil_loop_child(l, b.pid, on_child, &b, "b", &sb), 0);
	assert_int_equal(vigil_loop_child(l, z.pid, on_child, &z, "z", &sz), 0);
	run_until_reaped(l, &z);
	run_until_reaped(l, &a);
	assert_int_equal(z.status, 3);
	assert_int_equal(a.status, 7);
	assert_false(b.reaped); /* woken, perhaps, but still there */
	kill(b.pid, SIGKILL);
	run_until_reaped(l, &b);
	assert_int_equal(b.status, SIGKILL);
	assert_int_equal(l->no_pidfd, sigchld);
	assert_int_equal(vigil_loop_child(l, 0, on_child, &a, "bad", &sa), -EINVAL);
	vigil_loop_free(l);
}

static void test_child_pidfd(void **state)
{
	(void)state;
	child_case(false);
}

/* Where pidfd_open does not exist (Linux < 5.3, valgrind): SIGCHLD. */
static void test_child_sigchld(void **state)
{
	(void)state;
	child_case(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failing_source),
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_timer_differential),
		cmocka_unit_test(test_free_later_in_batch),
		cmocka_unit_test(test_timer_callbacks),
		cmocka_unit_test(test_source_frees_timer),
		cmocka_unit_test(test_timerfd_sets),
		cmocka_unit_test(test_epoll_ctl_on_change),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_periodic),
		cmocka_unit_test(test_period_zero_does_not_block),
		cmocka_unit_test(test_destroy_after_removal),
		cmocka_unit_test(test_run_exit),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_no_alloc_dispatch),
		cmocka_unit_test(test_free_everything),
		cmocka_unit_test(test_hist_buckets),
		cmocka_unit_test(test_source_hist),
		cmocka_unit_test(test_wake_latency),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_child_pidfd),
		cmocka_unit_test(test_child_sigchld),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
