/* SPDX-License-Identifier: MIT */
/*
 * child: a source that fires when a child process may have exited (see
 * vigil_loop_child in loop.h), as sd-event's child sources do: a pidfd
 * where the kernel has them (Linux 5.3), else SIGCHLD through the loop's
 * signalfd, fanned out to one eventfd per watched child.
 *
 * Owns, in the fallback only: the list of watched children's records
 * (eventfd, the caller's callback and context), each freed with its
 * source, and the one SIGCHLD handler, registered on first use. A SIGCHLD
 * wakes every watched child's source (signals coalesce: which child it was
 * is not known); each ready() then asks waitid(WNOHANG) about its own pid,
 * as it does with a pidfd. Load: a few children per guest.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "loop_int.h"

struct child_rec {
	struct vigil_loop *l;
	int efd;
	vigil_ready_fn fn;
	void *ctx;
	struct child_rec *next;
};

static void kick(int efd)
{
	uint64_t one = 1;

	(void)!write(efd, &one, sizeof(one));
}

static void on_sigchld(int signo, void *ctx)
{
	struct vigil_loop *l = ctx;

	(void)signo;
	for (struct child_rec *c = l->children; c; c = c->next)
		kick(c->efd);
}

static int rec_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct child_rec *c = ctx;
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
	return c->fn(s, fd, events, c->ctx);
}

static void rec_destroy(void *ctx)
{
	struct child_rec *c = ctx;

	for (struct child_rec **p = &c->l->children; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	free(c);
}

static int child_fallback(struct vigil_loop *l, vigil_ready_fn fn, void *ctx, const char *name,
			  struct vigil_source **out)
{
	struct child_rec *c;
	int e;

	if (!l->sigchld && (e = vigil_loop_signal(l, SIGCHLD, on_sigchld, l)) < 0)
		return e;
	l->sigchld = true;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct child_rec){ .l = l, .fn = fn, .ctx = ctx };
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		e = -errno;
		free(c);
		return e;
	}
	e = vigil_source_add(l, c->efd, EPOLLIN, VIGIL_SOURCE_OWN_FD, rec_ready, c, name, out);
	if (e < 0) {
		close(c->efd);
		free(c);
		return e;
	}
	vigil_source_set_destroy(*out, rec_destroy);
	c->next = l->children;
	l->children = c;
	/* it may have exited before SIGCHLD was blocked: look once */
	kick(c->efd);
	return 0;
}

int vigil_loop_child(struct vigil_loop *l, pid_t pid, vigil_ready_fn fn, void *ctx,
		     const char *name, struct vigil_source **out)
{
	int fd, e;

	if (!l || pid <= 0 || !fn || !out)
		return -EINVAL;
	fd = l->no_pidfd ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && (l->no_pidfd || errno == ENOSYS)) {
		l->no_pidfd = true; /* an old kernel, or valgrind: SIGCHLD */
		return child_fallback(l, fn, ctx, name, out);
	}
	if (fd < 0)
		return -errno;
	e = vigil_source_add(l, fd, EPOLLIN, VIGIL_SOURCE_OWN_FD, fn, ctx, name, out);
	if (e < 0)
		close(fd);
	return e;
}
