/* SPDX-License-Identifier: MIT */
/*
 * loop: the epoll fd, fd sources, the signalfd and the iteration (see
 * loop.h for the contract; the timer heap is in timer.c).
 *
 * Owns: the epoll fd (CLOEXEC; O_NONBLOCK means nothing to epoll_wait,
 * which takes a timeout), the timerfd and the signalfd (CLOEXEC|NONBLOCK),
 * every source and timer until reaped, the signal handler table, a fixed
 * array of VIGIL_LOOP_BATCH epoll events. It blocks only in epoll_wait.
 * Expected load: thousands of sources, 10^4..10^5 events a second; an
 * iteration costs one clock read before epoll_wait, one after (two when it
 * slept towards a timer: the wake-up latency), and a timerfd_settime only
 * when the earliest deadline changed.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop_int.h"

#define NSEC        1000000000ull
#define SRC_EVENTS  (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLET)
#define SIG_PER_RUN 8 /* signals read per wake-up; more wait an iteration */

uint64_t vigil_loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

uint64_t vigil_loop_now(const struct vigil_loop *l)
{
	return l->clock ? l->clock(l->clock_ctx) : vigil_loop_now_ns();
}

/* ---- timing ------------------------------------------------------------ */

#define US 1000ull
#define MS 1000000ull

const uint64_t vigil_loop_hist_bounds_ns[VIGIL_LOOP_HIST_BOUNDS] = {
	10 * US, 25 * US, 50 * US, 100 * US, 250 * US, 500 * US, 1 * MS,    2500 * US,
	5 * MS,  10 * MS, 25 * MS, 50 * MS,  100 * MS, 250 * MS, 1000 * MS,
};

/* Small durations are the common ones: the scan from the bottom stops early. */
void vigil_loop_hist_add(struct vigil_loop_hist *h, uint64_t ns)
{
	unsigned i = 0;

	while (i < VIGIL_LOOP_HIST_BOUNDS && ns > vigil_loop_hist_bounds_ns[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum_ns += ns;
}

const struct vigil_loop_hist *vigil_loop_wake_latency(const struct vigil_loop *l)
{
	return &l->wake_hist;
}

/* ---- epoll registration ------------------------------------------------ */

/* Brings epoll in line with events: ADD, MOD or DEL (0 = not watched). */
static int src_ctl(struct vigil_source *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };
	int op = !events ? EPOLL_CTL_DEL : s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (events || s->in_epoll) {
		s->loop->st.epoll_ctls++;
		if (epoll_ctl(s->loop->epfd, op, s->fd, &ev) < 0)
			return -errno;
	}
	s->in_epoll = events != 0;
	s->events = events;
	return 0;
}

/* Out of epoll for good. The DEL may fail when the caller closed the fd
 * first (the kernel dropped it then): nothing is left to undo either way. */
static void src_unwatch(struct vigil_source *s)
{
	if (!s->in_epoll)
		return;
	s->loop->st.epoll_ctls++;
	epoll_ctl(s->loop->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	s->in_epoll = false;
}

/* The loop's own timerfd and signalfd: sources that are not in the lists. */
static int loop_internal(struct vigil_loop *l, struct vigil_source *s, int fd, vigil_ready_fn fn,
			 const char *name)
{
	*s = (struct vigil_source){
		.loop = l,
		.fd = fd,
		.internal = true,
		.fn = fn,
		.ctx = l,
		.name = name,
	};
	return src_ctl(s, EPOLLIN);
}

/* ---- sources ----------------------------------------------------------- */

int vigil_source_add(struct vigil_loop *l, int fd, uint32_t events, unsigned flags,
		     vigil_ready_fn fn, void *ctx, const char *name, struct vigil_source **out)
{
	struct vigil_source *s;
	size_t len;
	int e;

	if (!l || fd < 0 || !fn || !out || (events & ~SRC_EVENTS) || (flags & ~VIGIL_SOURCE_OWN_FD))
		return -EINVAL;
	name = name ? name : "unnamed";
	len = strlen(name);
	s = calloc(1, sizeof(*s) + len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s + 1, name, len + 1);
	s->name = (const char *)(s + 1);
	s->loop = l;
	s->fd = fd;
	s->flags = flags;
	s->fn = fn;
	s->ctx = ctx;
	e = src_ctl(s, events);
	if (e < 0) {
		free(s);
		return e;
	}
	s->next = l->sources;
	if (l->sources)
		l->sources->prev = s;
	l->sources = s;
	*out = s;
	return 0;
}

int vigil_source_set_events(struct vigil_source *s, uint32_t events)
{
	if (!s || (events & ~SRC_EVENTS))
		return -EINVAL;
	if (s->dead)
		return -ESTALE;
	if (s->disabled)
		return -ESHUTDOWN;
	if (events == s->events)
		return 0;
	return src_ctl(s, events);
}

uint32_t vigil_source_events(const struct vigil_source *s)
{
	return s ? s->events : 0;
}

bool vigil_source_disabled(const struct vigil_source *s)
{
	return s && s->disabled;
}

int vigil_source_fd(const struct vigil_source *s)
{
	return s ? s->fd : -EINVAL;
}

const char *vigil_source_name(const struct vigil_source *s)
{
	return s ? s->name : NULL;
}

void vigil_source_set_destroy(struct vigil_source *s, vigil_destroy_fn destroy)
{
	if (s)
		s->destroy = destroy;
}

void vigil_source_set_hist(struct vigil_source *s, struct vigil_loop_hist *h)
{
	if (s && !s->dead)
		s->hist = h;
}

void vigil_source_free(struct vigil_source *s)
{
	struct vigil_loop *l;

	if (!s || s->dead || s->internal)
		return;
	l = s->loop;
	src_unwatch(s);
	if (s->flags & VIGIL_SOURCE_OWN_FD)
		close(s->fd);
	s->fd = -1;
	s->hist = NULL;
	if (s->prev)
		s->prev->next = s->next;
	else
		l->sources = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->dead = true;
	s->next_dead = l->dead_sources;
	l->dead_sources = s;
}

/* The one place a failing handler is dealt with: out of epoll, reported once. */
static void src_fail(struct vigil_loop *l, struct vigil_source *s, int err)
{
	char msg[256];

	src_unwatch(s);
	s->disabled = true;
	l->st.sources_disabled++;
	if (!l->log)
		return;
	snprintf(msg, sizeof(msg), "event source %s (fd %d) failed and was disabled: %s", s->name,
		 s->fd, strerror(err < 0 ? -err : err));
	l->log(l->log_ctx, msg);
}

/* ---- signals ----------------------------------------------------------- */

static int sig_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct vigil_loop *l = ctx;
	struct signalfd_siginfo si[SIG_PER_RUN];
	ssize_t n;

	(void)s;
	(void)events;
	n = read(fd, si, sizeof(si));
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
		l->st.signals++;
		/* by index: a handler may register another one (realloc) */
		for (size_t h = 0; h < l->nsigs; h++) {
			if (l->sigs[h].signo != (int)si[i].ssi_signo)
				continue;
			l->sig_calls++;
			l->sigs[h].fn(l->sigs[h].signo, l->sigs[h].ctx);
		}
	}
	return 0;
}

/* Adds signo to the blocked set and the signalfd (made on first use). */
static int sig_watch(struct vigil_loop *l, int signo)
{
	sigset_t mask = l->sigmask;
	int fd, e;

	if (sigismember(&mask, signo) == 1)
		return 0;
	sigaddset(&mask, signo);
	e = pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if (e)
		return -e;
	fd = signalfd(l->ssrc.fd, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (l->ssrc.fd < 0) {
		e = loop_internal(l, &l->ssrc, fd, sig_ready, "signalfd");
		if (e < 0) {
			close(fd);
			l->ssrc.fd = -1;
			return e;
		}
	}
	l->sigmask = mask;
	return 0;
}

int vigil_loop_signal(struct vigil_loop *l, int signo, vigil_signal_fn fn, void *ctx)
{
	struct loop_sig *sigs;
	sigset_t one;
	int e;

	sigemptyset(&one);
	if (!l || !fn || signo == SIGKILL || signo == SIGSTOP || sigaddset(&one, signo) < 0)
		return -EINVAL;
	sigs = realloc(l->sigs, (l->nsigs + 1) * sizeof(*sigs));
	if (!sigs)
		return -ENOMEM;
	l->sigs = sigs;
	e = sig_watch(l, signo);
	if (e < 0)
		return e;
	sigs[l->nsigs++] = (struct loop_sig){ .signo = signo, .fn = fn, .ctx = ctx };
	return 0;
}

/* ---- the loop ---------------------------------------------------------- */

static int tfd_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct vigil_loop *l = ctx;
	uint64_t expirations;

	(void)s;
	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	l->tfd_ns = 0; /* it went off: nothing is programmed any more */
	return 0;
}

int vigil_loop_new(struct vigil_loop **out)
{
	struct vigil_loop *l;
	int tfd, e;

	if (!out)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->tsrc.fd = l->ssrc.fd = -1;
	sigemptyset(&l->sigmask);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		e = -errno;
		goto fail;
	}
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (tfd < 0) {
		e = -errno;
		goto fail;
	}
	e = loop_internal(l, &l->tsrc, tfd, tfd_ready, "timerfd");
	if (e < 0)
		goto fail;
	*out = l;
	return 0;
fail:
	vigil_loop_free(l);
	return e;
}

/* Destroy callbacks may free more: go on until nothing is left. */
static void loop_reap(struct vigil_loop *l)
{
	unsigned n;

	do {
		n = loop_reap_timers(l);
		while (l->dead_sources) {
			struct vigil_source *s = l->dead_sources;

			l->dead_sources = s->next_dead;
			if (s->destroy)
				s->destroy(s->ctx);
			free(s);
			n++;
		}
	} while (n);
}

void vigil_loop_free(struct vigil_loop *l)
{
	if (!l)
		return;
	assert(!l->running);
	do {
		while (l->sources)
			vigil_source_free(l->sources);
		loop_kill_timers(l);
		loop_reap(l);
	} while (l->sources || l->timers);
	if (l->tsrc.fd >= 0)
		close(l->tsrc.fd);
	if (l->ssrc.fd >= 0)
		close(l->ssrc.fd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l->heap);
	free(l->sigs);
	free(l);
}

void vigil_loop_set_log(struct vigil_loop *l, vigil_log_fn log, void *ctx)
{
	l->log = log;
	l->log_ctx = ctx;
}

void vigil_loop_set_clock(struct vigil_loop *l, vigil_clock_fn clock, void *ctx)
{
	l->clock = clock;
	l->clock_ctx = ctx;
}

/*
 * The timerfd gets the earliest deadline, only when that changed (none:
 * disarmed). A timer already due means epoll_wait must not block.
 */
static int loop_prepare(struct vigil_loop *l, int *timeout_ms)
{
	struct vigil_timer *t = loop_heap_top(l);
	uint64_t want = t ? t->when_ns : 0;
	struct itimerspec its = { 0 };

	l->sleep_until_ns = 0;
	if (t && want <= vigil_loop_now(l)) {
		*timeout_ms = 0;
		return 0;
	}
	if (*timeout_ms != 0)
		l->sleep_until_ns = want; /* 0 when no timer is armed */
	if (want == l->tfd_ns)
		return 0;
	its.it_value.tv_sec = (time_t)(want / NSEC);
	its.it_value.tv_nsec = (long)(want % NSEC);
	l->st.timerfd_sets++;
	if (timerfd_settime(l->tsrc.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	l->tfd_ns = want;
	return 0;
}

/* ready(), timed when the source has a histogram (freeing it detaches it). */
static int src_call(struct vigil_loop *l, struct vigil_source *s, uint32_t events)
{
	uint64_t t0;
	int r;

	if (!s->hist)
		return s->fn(s, s->fd, events, s->ctx);
	t0 = vigil_loop_now(l);
	r = s->fn(s, s->fd, events, s->ctx);
	if (s->hist)
		vigil_loop_hist_add(s->hist, vigil_loop_now(l) - t0);
	return r;
}

/* Every event of the batch, in order; the freed and the failed are skipped. */
static unsigned loop_dispatch(struct vigil_loop *l, int n)
{
	unsigned calls = 0;

	for (int i = 0; i < n; i++) {
		struct vigil_source *s = l->evs[i].data.ptr;
		int r;

		if (s->dead || s->disabled || !s->in_epoll)
			continue;
		r = src_call(l, s, l->evs[i].events);
		if (!s->internal) {
			l->st.dispatched++;
			calls++;
		}
		if (r < 0 && !s->dead && !s->disabled)
			src_fail(l, s, r);
	}
	return calls;
}

/* It slept towards a deadline: how late it woke, when the deadline passed. */
static void loop_woke(struct vigil_loop *l)
{
	uint64_t now;

	if (!l->sleep_until_ns)
		return;
	now = vigil_loop_now(l);
	if (now >= l->sleep_until_ns)
		vigil_loop_hist_add(&l->wake_hist, now - l->sleep_until_ns);
}

int vigil_loop_run_once(struct vigil_loop *l, int timeout_ms)
{
	unsigned calls;
	int n, e;

	if (!l)
		return -EINVAL;
	if (l->running)
		return -EBUSY;
	e = loop_prepare(l, &timeout_ms);
	if (e < 0)
		return e;
	l->running = true;
	n = epoll_wait(l->epfd, l->evs, VIGIL_LOOP_BATCH, timeout_ms);
	e = n < 0 && errno != EINTR ? -errno : 0;
	l->st.wakeups++;
	loop_woke(l);
	l->sig_calls = 0;
	calls = loop_dispatch(l, n < 0 ? 0 : n);
	calls += loop_run_timers(l, vigil_loop_now(l));
	calls += l->sig_calls;
	loop_reap(l);
	l->running = false;
	return e ? e : (int)calls;
}

int vigil_loop_run(struct vigil_loop *l)
{
	int e;

	if (!l)
		return -EINVAL;
	if (l->running)
		return -EBUSY;
	while (!l->exiting) {
		e = vigil_loop_run_once(l, -1);
		if (e < 0)
			return e;
	}
	l->exiting = false;
	return l->exit_code;
}

void vigil_loop_exit(struct vigil_loop *l, int code)
{
	l->exiting = true;
	l->exit_code = code;
}

bool vigil_loop_exiting(const struct vigil_loop *l, int *code)
{
	if (l->exiting && code)
		*code = l->exit_code;
	return l->exiting;
}

void vigil_loop_stats(const struct vigil_loop *l, struct vigil_loop_stats *out)
{
	*out = l->st;
}
