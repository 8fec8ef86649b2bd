/* SPDX-License-Identifier: MIT */
/*
 * libvirt's event implementation on the loop (host/loop/virtevent.c),
 * driven only through libvirt's public calls (virEventAddHandle, ...):
 *  - a pipe: READABLE when a byte waits, nothing when the events are 0,
 *    HANGUP when the writer closes; ids positive and distinct, the fd given
 *    back is libvirt's;
 *  - one fd registered twice with disjoint events (libvirt allows it, epoll
 *    does not): both fire, each with libvirt's fd;
 *  - ff runs later, never inside remove, exactly once, also for a handle
 *    and a timeout removed from inside their own callbacks; stale ids and
 *    ids of the other kind are refused;
 *  - timeouts: -1 never fires, 0 fires on every iteration without blocking,
 *    N fires every N ms (not before), an update re-arms from now;
 *  - a call from another thread is refused and counted;
 *  - test:///default: virConnectListAllDomains, then a lifecycle callback
 *    fires from the loop (not from virDomainSuspend) for suspend and resume;
 *    every handle and timeout is gone once the connection is closed;
 *  - a second register is refused while attached; detach leaves the ff of
 *    what was still registered to vigil_loop_free, and another loop can be
 *    attached after.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "loop.h"
#include "virtevent.h"

#define MS 1000000ull

static struct vigil_loop *loop;

/* ---- what the callbacks saw --------------------------------------------- */

struct seen {
	int calls;    /* callback calls */
	int watch;    /* the last id given */
	int fd;       /* the last fd given (handles) */
	int events;   /* the last events given (handles) */
	int frees;    /* ff calls */
	bool in_free; /* set by the test around a remove: ff must not run then */
	bool remove_in_cb;
	uint64_t last_ns; /* loop clock at the last call */
};

static void seen_free(void *opaque)
{
	struct seen *s = opaque;

	assert_false(s->in_free);
	s->frees++;
}

static void on_handle(int watch, int fd, int events, void *opaque)
{
	struct seen *s = opaque;

	s->calls++;
	s->watch = watch;
	s->fd = fd;
	s->events = events;
	if (s->remove_in_cb) {
		s->in_free = true;
		assert_int_equal(virEventRemoveHandle(watch), 0);
		s->in_free = false;
		assert_int_equal(s->frees, 0);
	}
}

static void on_timeout(int timer, void *opaque)
{
	struct seen *s = opaque;

	s->calls++;
	s->watch = timer;
	s->last_ns = vigil_loop_now(loop);
	if (s->remove_in_cb) {
		s->in_free = true;
		assert_int_equal(virEventRemoveTimeout(timer), 0);
		s->in_free = false;
		assert_int_equal(s->frees, 0);
	}
}

static void run(int n)
{
	for (int i = 0; i < n; i++)
		assert_true(vigil_loop_run_once(loop, 0) >= 0);
}

/* ---- handles -------------------------------------------------------------- */

static void test_handle_pipe(void **state)
{
	struct seen s = { 0 };
	int p[2], id;
	char c = 'x';

	(void)state;
	assert_int_equal(pipe(p), 0);
	id = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, &s, seen_free);
	assert_true(id > 0);
	run(2);
	assert_int_equal(s.calls, 0); /* nothing to read */

	assert_int_equal(write(p[1], &c, 1), 1);
	run(1);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.watch, id);
	assert_int_equal(s.fd, p[0]);
	assert_int_equal(s.events, VIR_EVENT_HANDLE_READABLE);

	virEventUpdateHandle(id, 0); /* the byte waits, nobody asks */
	run(2);
	assert_int_equal(s.calls, 1);
	virEventUpdateHandle(id, VIR_EVENT_HANDLE_READABLE);
	run(1);
	assert_int_equal(s.calls, 2);
	assert_int_equal(read(p[0], &c, 1), 1);

	close(p[1]);
	run(1);
	assert_int_equal(s.calls, 3);
	assert_true(s.events & VIR_EVENT_HANDLE_HANGUP);

	s.in_free = true;
	assert_int_equal(virEventRemoveHandle(id), 0);
	s.in_free = false;
	assert_int_equal(s.frees, 0); /* later, not inside remove */
	assert_int_equal(virEventRemoveHandle(id), -1);
	virEventUpdateHandle(id, VIR_EVENT_HANDLE_READABLE); /* stale: nothing */
	run(1);
	assert_int_equal(s.frees, 1);
	assert_int_equal(s.calls, 3); /* never after remove, though it hangs up */
	run(2);
	assert_int_equal(s.frees, 1);
	close(p[0]);
}

static void test_one_fd_twice(void **state)
{
	struct seen rd = { 0 }, wr = { 0 };
	struct vigil_virt_event_stats a, b;
	int sp[2], idr, idw;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	vigil_virt_event_stats(&a);
	idr = virEventAddHandle(sp[0], VIR_EVENT_HANDLE_READABLE, on_handle, &rd, seen_free);
	idw = virEventAddHandle(sp[0], VIR_EVENT_HANDLE_WRITABLE, on_handle, &wr, seen_free);
	assert_true(idr > 0 && idw > 0 && idr != idw);
	vigil_virt_event_stats(&b);
	assert_int_equal(b.fd_dups, a.fd_dups + 1);

	run(1);
	assert_int_equal(rd.calls, 0);
	assert_int_equal(wr.calls, 1);
	assert_int_equal(wr.fd, sp[0]); /* libvirt's fd, not the dup */
	assert_int_equal(wr.events, VIR_EVENT_HANDLE_WRITABLE);
	virEventUpdateHandle(idw, 0);

	assert_int_equal(write(sp[1], "x", 1), 1);
	run(1);
	assert_int_equal(rd.calls, 1);
	assert_int_equal(rd.fd, sp[0]);
	assert_int_equal(rd.watch, idr);
	assert_int_equal(wr.calls, 1);

	assert_int_equal(virEventRemoveHandle(idr), 0);
	assert_int_equal(virEventRemoveHandle(idw), 0);
	run(1);
	assert_int_equal(rd.frees, 1);
	assert_int_equal(wr.frees, 1);
	close(sp[0]);
	close(sp[1]);
}

static void test_remove_from_callbacks(void **state)
{
	struct seen h = { .remove_in_cb = true }, t = { .remove_in_cb = true };
	int p[2], idh, idt;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	idh = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, &h, seen_free);
	idt = virEventAddTimeout(0, on_timeout, &t, seen_free);
	assert_true(idh > 0 && idt > 0);
	run(1); /* each removes itself inside its callback: ff after it */
	assert_int_equal(h.calls, 1);
	assert_int_equal(t.calls, 1);
	assert_int_equal(h.frees, 1);
	assert_int_equal(t.frees, 1);
	run(3);
	assert_int_equal(h.calls, 1);
	assert_int_equal(t.calls, 1);
	assert_int_equal(h.frees + t.frees, 2);
	close(p[0]);
	close(p[1]);
}

static void test_ids_of_the_other_kind(void **state)
{
	struct seen h = { 0 }, t = { 0 };
	int p[2], idh, idt;

	(void)state;
	assert_int_equal(pipe(p), 0);
	idh = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle, &h, seen_free);
	idt = virEventAddTimeout(-1, on_timeout, &t, seen_free);
	assert_true(idh > 0 && idt > 0 && idh != idt);
	assert_int_equal(virEventRemoveTimeout(idh), -1);
	assert_int_equal(virEventRemoveHandle(idt), -1);
	virEventUpdateTimeout(idh, 0); /* not a timeout: no effect */
	assert_int_equal(write(p[1], "x", 1), 1);
	virEventUpdateHandle(idt, 0); /* not a handle: the pipe still fires */
	run(2);
	assert_int_equal(h.calls, 2);
	assert_int_equal(t.calls, 0);
	assert_int_equal(virEventRemoveHandle(idh), 0);
	assert_int_equal(virEventRemoveTimeout(idt), 0);
	run(1);
	assert_int_equal(h.frees, 1);
	assert_int_equal(t.frees, 1);
	close(p[0]);
	close(p[1]);
}

/* ---- timeouts ------------------------------------------------------------- */

static void test_timeout_disabled_and_zero(void **state)
{
	struct seen t = { 0 };
	uint64_t t0;
	int id;

	(void)state;
	id = virEventAddTimeout(-1, on_timeout, &t, seen_free);
	assert_true(id > 0);
	t0 = vigil_loop_now_ns();
	assert_int_equal(vigil_loop_run_once(loop, 30), 0); /* nothing armed: waits 30 ms */
	assert_true(vigil_loop_now_ns() - t0 >= 25 * MS);
	assert_int_equal(t.calls, 0);

	virEventUpdateTimeout(id, 0);
	t0 = vigil_loop_now_ns();
	for (int i = 1; i <= 5; i++) {
		assert_int_equal(vigil_loop_run_once(loop, 1000), 1); /* does not block */
		assert_int_equal(t.calls, i);
		assert_int_equal(t.watch, id);
	}
	assert_true(vigil_loop_now_ns() - t0 < 500 * MS);

	virEventUpdateTimeout(id, -1);
	run(3);
	assert_int_equal(t.calls, 5);
	assert_int_equal(virEventRemoveTimeout(id), 0);
	assert_int_equal(t.frees, 0);
	run(1);
	assert_int_equal(t.frees, 1);
}

static void test_timeout_period(void **state)
{
	struct seen t = { 0 };
	uint64_t t0, first;
	int id;

	(void)state;
	t0 = vigil_loop_now(loop);
	id = virEventAddTimeout(40, on_timeout, &t, seen_free);
	assert_true(id > 0);
	run(1);
	assert_int_equal(t.calls, 0); /* not before 40 ms */
	while (t.calls < 1)
		assert_true(vigil_loop_run_once(loop, -1) >= 0);
	first = t.last_ns;
	assert_true(first - t0 >= 40 * MS);
	while (t.calls < 3)
		assert_true(vigil_loop_run_once(loop, -1) >= 0);
	assert_true(t.last_ns - t0 >= 120 * MS); /* two more periods */
	assert_true(t.last_ns - first < 1000 * MS);

	/* an update re-arms from now */
	virEventUpdateTimeout(id, 60);
	t0 = vigil_loop_now(loop);
	while (t.calls < 4)
		assert_true(vigil_loop_run_once(loop, -1) >= 0);
	assert_true(t.last_ns - t0 >= 60 * MS);
	assert_int_equal(virEventRemoveTimeout(id), 0);
	run(1);
	assert_int_equal(t.frees, 1);
	assert_int_equal(t.calls, 4);
}

/* ---- threads -------------------------------------------------------------- */

struct foreign {
	int add, remove;
	int id;
};

static void *foreign_thread(void *arg)
{
	struct foreign *f = arg;

	f->add = virEventAddTimeout(0, on_timeout, NULL, NULL);
	f->remove = virEventRemoveTimeout(f->id);
	virEventUpdateTimeout(f->id, 0);
	return NULL;
}

static void test_foreign_thread_refused(void **state)
{
	struct vigil_virt_event_stats a, b;
	struct seen t = { 0 };
	struct foreign f;
	pthread_t th;

	(void)state;
	f.id = virEventAddTimeout(-1, on_timeout, &t, seen_free);
	assert_true(f.id > 0);
	vigil_virt_event_stats(&a);
	assert_int_equal(pthread_create(&th, NULL, foreign_thread, &f), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	vigil_virt_event_stats(&b);
	assert_int_equal(f.add, -1);
	assert_int_equal(f.remove, -1);
	assert_int_equal(b.foreign_calls, a.foreign_calls + 3);
	assert_int_equal(b.timeouts, a.timeouts);
	run(2);
	assert_int_equal(t.calls, 0); /* the update was not carried out either */
	assert_int_equal(virEventRemoveTimeout(f.id), 0);
	run(1);
	assert_int_equal(t.frees, 1);
}

/* ---- libvirt's test driver ------------------------------------------------ */

struct lifecycle {
	int events[8];
	int n;
	bool in_api; /* set around libvirt API calls: no event may come then */
};

static int on_lifecycle(virConnectPtr c, virDomainPtr d, int event, int detail, void *opaque)
{
	struct lifecycle *lc = opaque;

	(void)c;
	(void)detail;
	assert_false(lc->in_api);
	assert_string_equal(virDomainGetName(d), "test");
	if (lc->n < 8)
		lc->events[lc->n++] = event;
	return 0;
}

/* Runs the loop until n events came, for up to 5 s. */
static void wait_events(struct lifecycle *lc, int n)
{
	uint64_t t0 = vigil_loop_now_ns();

	while (lc->n < n && vigil_loop_now_ns() - t0 < 5000 * MS)
		assert_true(vigil_loop_run_once(loop, 100) >= 0);
	assert_int_equal(lc->n, n);
}

static void quiet(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

static virDomainPtr find_test_domain(virConnectPtr c)
{
	virDomainPtr *doms = NULL, found = NULL;
	int n = virConnectListAllDomains(c, &doms, 0);

	assert_true(n >= 1);
	for (int i = 0; i < n; i++) {
		if (!found && strcmp(virDomainGetName(doms[i]), "test") == 0)
			found = doms[i];
		else
			virDomainFree(doms[i]);
	}
	free(doms);
	assert_non_null(found);
	return found;
}

static void test_driver_events_flow(void **state)
{
	struct vigil_virt_event_stats before, during, after;
	struct lifecycle lc = { 0 };
	virConnectPtr c;
	virDomainPtr d;
	int cb;

	(void)state;
	virSetErrorFunc(NULL, quiet);
	vigil_virt_event_stats(&before);
	c = virConnectOpen("test:///default");
	assert_non_null(c);
	d = find_test_domain(c);

	cb = virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
					      VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), &lc, NULL);
	assert_true(cb >= 0);
	lc.in_api = true;
	assert_int_equal(virDomainSuspend(d), 0);
	lc.in_api = false;
	assert_int_equal(lc.n, 0); /* queued: the loop delivers it */
	wait_events(&lc, 1);
	assert_int_equal(lc.events[0], VIR_DOMAIN_EVENT_SUSPENDED);

	lc.in_api = true;
	assert_int_equal(virDomainResume(d), 0);
	lc.in_api = false;
	wait_events(&lc, 2);
	assert_int_equal(lc.events[1], VIR_DOMAIN_EVENT_RESUMED);
	vigil_virt_event_stats(&during);
	assert_true(during.timeout_calls > before.timeout_calls); /* through the adapter */
	assert_true(during.timeouts > before.timeouts);

	assert_int_equal(virConnectDomainEventDeregisterAny(c, cb), 0);
	virDomainFree(d);
	assert_int_equal(virConnectClose(c), 0);
	run(2); /* the deferred ff of what libvirt removed */
	vigil_virt_event_stats(&after);
	assert_int_equal(after.handles, before.handles);
	assert_int_equal(after.timeouts, before.timeouts);
	assert_int_equal(after.frees - before.frees,
			 (after.handles_removed - before.handles_removed) +
			     (after.timeouts_removed - before.timeouts_removed));
	assert_int_equal(after.foreign_calls, before.foreign_calls);
}

/* ---- attaching ------------------------------------------------------------ */

static void test_register_once(void **state)
{
	struct vigil_loop *other;

	(void)state;
	assert_int_equal(vigil_virt_event_register(NULL), -EINVAL);
	assert_int_equal(vigil_loop_new(&other), 0);
	assert_int_equal(vigil_virt_event_register(other), -EBUSY);
	assert_int_equal(vigil_virt_event_register(loop), -EBUSY);
	vigil_loop_free(other);
}

static void test_detach_and_attach_again(void **state)
{
	struct seen t = { 0 }, t2 = { 0 };
	struct vigil_loop *second;
	int id;

	(void)state;
	id = virEventAddTimeout(0, on_timeout, &t, seen_free);
	assert_true(id > 0);
	vigil_virt_event_detach();
	assert_int_equal(t.frees, 0);
	assert_int_equal(virEventAddTimeout(0, on_timeout, &t2, seen_free), -1);
	assert_int_equal(virEventRemoveTimeout(id), -1);
	vigil_loop_free(loop); /* the loop reaps what was registered: ff runs */
	loop = NULL;
	assert_int_equal(t.frees, 1);
	assert_int_equal(t.calls, 0);

	assert_int_equal(vigil_loop_new(&second), 0);
	assert_int_equal(vigil_virt_event_register(second), 0);
	loop = second;
	id = virEventAddTimeout(0, on_timeout, &t2, seen_free);
	assert_true(id > 0);
	run(1);
	assert_int_equal(t2.calls, 1);
	assert_int_equal(virEventRemoveTimeout(id), 0);
	run(1);
	assert_int_equal(t2.frees, 1);
}

static int setup(void **state)
{
	(void)state;
	if (vigil_loop_new(&loop) < 0)
		return -1;
	return vigil_virt_event_register(loop);
}

static int teardown(void **state)
{
	(void)state;
	vigil_virt_event_detach();
	vigil_loop_free(loop);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_once),
		cmocka_unit_test(test_handle_pipe),
		cmocka_unit_test(test_one_fd_twice),
		cmocka_unit_test(test_remove_from_callbacks),
		cmocka_unit_test(test_ids_of_the_other_kind),
		cmocka_unit_test(test_timeout_disabled_and_zero),
		cmocka_unit_test(test_timeout_period),
		cmocka_unit_test(test_foreign_thread_refused),
		cmocka_unit_test(test_driver_events_flow),
		cmocka_unit_test(test_detach_and_attach_again),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
