/* SPDX-License-Identifier: MIT */
/* backend_socket: a guest reached through sockets (see backend_socket.h). */
#include "backend_socket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmplink.h"
#include "term.h"

struct vigil_socket_be {
	struct vigil_loop *loop;
	struct vigil_guest *g;
	const struct vigil_run_opts *o;
	struct vigil_qmplink *qmp;
	struct vigil_timer *reconnect;
	struct vigil_timer *qmp_retry; /* QMP went away: connect again */
	bool qmp_lost;
	struct vigil_monitor no_qmp; /* without QMP: no operations, the file bound only */
};

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a local socket connects at once or fails: no EINPROGRESS wait */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int port_connect(struct vigil_socket_be *b)
{
	int fd = unix_connect(b->o->socket_path);

	return fd < 0 ? fd : vigil_guest_port_attach(b->g, fd);
}

static void reconnect_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct vigil_socket_be *b = ctx;

	if (vigil_guest_state(b->g) != VIGIL_GUEST_WATCH || vigil_guest_port_attached(b->g))
		return;
	if (port_connect(b) < 0)
		vigil_timer_arm(t, now + VIGIL_SOCKET_RECONNECT_NS);
}

static void qmp_lost(void *ctx);

static int qmp_connect(struct vigil_socket_be *b)
{
	struct vigil_qmplink *q = NULL;
	int fd = unix_connect(b->o->qmp_path), e;

	e = fd < 0 ? fd : vigil_qmplink_new(b->loop, b->g, fd, &q);
	if (e < 0)
		return e;
	vigil_qmplink_inherit(q, b->qmp);
	vigil_qmplink_free(b->qmp);
	b->qmp = q;
	vigil_qmplink_on_lost(q, qmp_lost, b);
	return 0;
}

/*
 * QMP went away (QEMU's monitor closed it, or whatever stood between):
 * the guest is still watched through its port, but VM stops and panics
 * are not seen until QMP is back, so say so, and connect again.
 */
static void qmp_lost(void *ctx)
{
	struct vigil_socket_be *b = ctx;

	if (vigil_guest_state(b->g) != VIGIL_GUEST_WATCH)
		return;
	vigil_term_warn("QMP at %s closed: VM stops, resumes and panics are not seen until "
			"it is back; connecting again",
			b->o->qmp_path);
	b->qmp_lost = true;
	vigil_timer_arm(b->qmp_retry, vigil_loop_now(b->loop) + VIGIL_SOCKET_RECONNECT_NS);
}

static void qmp_retry_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct vigil_socket_be *b = ctx;

	if (vigil_guest_state(b->g) != VIGIL_GUEST_WATCH)
		return;
	if (qmp_connect(b) < 0) {
		vigil_timer_arm(t, now + 5 * VIGIL_SOCKET_RECONNECT_NS);
		return;
	}
	vigil_term_warn("QMP at %s is back", b->o->qmp_path);
	b->qmp_lost = false;
}

static void socket_port_closed(void *be)
{
	struct vigil_socket_be *b = be;

	vigil_timer_arm(b->reconnect, vigil_loop_now(b->loop) + VIGIL_SOCKET_RECONNECT_NS);
}

static void socket_stop(void *be, enum vigil_stop_how how)
{
	struct vigil_socket_be *b = be;

	(void)how; /* the guest is not ours to stop: let go of it */
	vigil_timer_disarm(b->reconnect);
	vigil_guest_gone(b->g);
}

static int socket_snapshot(void *be, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct vigil_socket_be *b = be;
	struct vigil_qmplink_facts f = { 0 };
	struct vigil_monitor *m = b->qmp ? vigil_qmplink_monitor(b->qmp) : &b->no_qmp;

	return vigil_vmm_snapshot(m, b->g, b->o->snapshot_dir, &f, kind, tag, id);
}

static void socket_free(void *be)
{
	struct vigil_socket_be *b = be;

	if (!b)
		return;
	vigil_qmplink_free(b->qmp);
	vigil_timer_free(b->reconnect);
	vigil_timer_free(b->qmp_retry);
	free(b);
}

const struct vigil_guest_ops vigil_socket_ops = {
	.kind = "socket",
	.stop = socket_stop,
	.port_closed = socket_port_closed,
	.snapshot = socket_snapshot,
	.free = socket_free,
};

int vigil_socket_be_new(struct vigil_loop *l, const struct vigil_run_opts *o,
			struct vigil_socket_be **out)
{
	struct vigil_socket_be *b = calloc(1, sizeof(*b));
	int e;

	if (!b)
		return -ENOMEM;
	b->loop = l;
	b->o = o;
	e = vigil_timer_new(l, reconnect_due, b, &b->reconnect);
	if (e == 0)
		e = vigil_timer_new(l, qmp_retry_due, b, &b->qmp_retry);
	if (e < 0) {
		vigil_timer_free(b->reconnect);
		free(b);
		return e;
	}
	*out = b;
	return 0;
}

int vigil_socket_be_start(struct vigil_socket_be *b, struct vigil_guest *g)
{
	const struct vigil_run_opts *o = b->o;
	int e;

	b->g = g;
	e = port_connect(b);
	if (e < 0) {
		fprintf(stderr,
			"vigil: cannot connect to %s: %s (is QEMU running with "
			"-chardev socket,path=%s,server=on?)\n",
			o->socket_path, strerror(-e), o->socket_path);
		return e;
	}
	if (!o->qmp_path)
		return 0;
	e = qmp_connect(b);
	if (e < 0)
		fprintf(stderr, "vigil: cannot connect to QMP at %s: %s\n", o->qmp_path,
			strerror(-e));
	return e;
}

const char *vigil_socket_be_version(const struct vigil_socket_be *b)
{
	return vigil_qmplink_version(b->qmp);
}

bool vigil_socket_be_has_qmp(const struct vigil_socket_be *b)
{
	return b->qmp != NULL && !b->qmp_lost;
}
