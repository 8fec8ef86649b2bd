/* SPDX-License-Identifier: MIT */
/* fault_virt: libvirt's stream calls stood in for (see fault_virt.h). Test-only. */
#include "fault_virt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "fault.h"
#include "fault_int.h"

#define STREAM_MAGIC 0x76537472u

/* The stream's own I/O is libvirt's, not the host's: never counted. */
ssize_t __real_recv(int fd, void *buf, size_t n, int flags);
ssize_t __real_send(int fd, const void *buf, size_t n, int flags);
const char *__real_virGetLastErrorMessage(void);

virStreamPtr __wrap_virStreamNew(virConnectPtr conn, unsigned int flags);
int __wrap_virDomainOpenChannel(virDomainPtr dom, const char *name, virStreamPtr st,
				unsigned int flags);
int __wrap_virStreamEventAddCallback(virStreamPtr st, int events, virStreamEventCallback cb,
				     void *opaque, virFreeCallback ff);
int __wrap_virStreamEventUpdateCallback(virStreamPtr st, int events);
int __wrap_virStreamEventRemoveCallback(virStreamPtr st);
int __wrap_virStreamRecv(virStreamPtr st, char *data, size_t nbytes);
int __wrap_virStreamSend(virStreamPtr st, const char *data, size_t nbytes);
int __wrap_virStreamFinish(virStreamPtr st);
int __wrap_virStreamAbort(virStreamPtr st);
int __wrap_virStreamFree(virStreamPtr st);
const char *__wrap_virGetLastErrorMessage(void);
int __wrap_virDomainGetVcpus(virDomainPtr dom, virVcpuInfoPtr info, int maxinfo,
			     unsigned char *cpumaps, int maplen);

/* libvirt declares struct _virStream and never defines it for its users. */
struct _virStream {
	uint32_t magic; /* STREAM_MAGIC until the last reference goes */
	int refs;       /* the caller's (until virStreamFree), the handle's, the timer's */
	bool freed;     /* the caller's reference is gone */
	int fd;         /* our dup of the channel; -1 before the open and after the end */
	int watch;      /* the handle on fd; 0: none */
	int timer;      /* the callback's dispatch timer; 0: none */
	bool rx;        /* the handle saw data not read yet */
	bool eof;       /* the end of the stream is pending (0 from Recv) */
	bool broken;    /* an error is pending (-1 from Recv and Send) */
	int inject;     /* events to give at the next dispatch; 0: none */
	char why[128];  /* broken: the error */
	bool dispatching;
	virStreamEventCallback cb; /* NULL: none registered */
	void *cb_opaque;
	virFreeCallback cb_ff;
	int cb_events;
};

static struct {
	char name[64];             /* the channel's */
	int chan;                  /* the host's end of the guest's port; -1: none */
	struct _virStream *holder; /* the stream open on the channel */
	unsigned refuse;           /* opens still to refuse */
	const uint64_t *clock;     /* the vCPU time's clock */
	uint64_t clock0;           /* its value when set */
	char err[160];             /* the last error; "" once reset */
	bool err_set;
	char misuse_what[160];
	struct fvirt_stats st;
} V = { .chan = -1 };

/* ---- errors -------------------------------------------------------------------- */

void fvirt_reset_error(void)
{
	V.err[0] = '\0';
	V.err_set = false;
}

static void err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(V.err, sizeof(V.err), fmt, ap);
	va_end(ap);
	V.err_set = true;
}

static void misuse(const char *what)
{
	V.st.misuse++;
	snprintf(V.misuse_what, sizeof(V.misuse_what), "%s", what);
	err_set("invalid stream: %s", what);
}

/* A live stream the caller still holds. */
static bool usable(const struct _virStream *s, const char *call)
{
	char what[128];

	if (!s || s->magic != STREAM_MAGIC) {
		snprintf(what, sizeof(what), "%s on no stream", call);
		misuse(what);
		return false;
	}
	if (s->freed) {
		snprintf(what, sizeof(what), "%s after virStreamFree", call);
		misuse(what);
		return false;
	}
	return true;
}

/* ---- references, the handle, the timer --------------------------------------------- */

/* The free callback of the handle and the timer, and virStreamFree's. */
static void unref(void *opaque)
{
	struct _virStream *s = opaque;

	if (--s->refs > 0)
		return;
	s->magic = 0;
	V.st.live--;
	free(s);
}

/* The dispatch timer at 0 while an event asked for is there, else off. */
static void timer_update(struct _virStream *s)
{
	bool due;

	if (!s->timer)
		return;
	due = s->cb &&
	      (s->inject || (s->cb_events & VIR_STREAM_EVENT_WRITABLE) ||
	       ((s->cb_events & VIR_STREAM_EVENT_READABLE) && (s->rx || s->eof || s->broken)));
	virEventUpdateTimeout(s->timer, due ? 0 : -1);
}

static void stream_break(struct _virStream *s, const char *why)
{
	s->broken = true;
	snprintf(s->why, sizeof(s->why), "%s", why);
	timer_update(s);
}

/* Data arrived: the stream has it, the handle rests until it is read dry. */
static void handle_fire(int watch, int fd, int events, void *opaque)
{
	struct _virStream *s = opaque;

	(void)fd;
	(void)events;
	s->rx = true;
	virEventUpdateHandle(watch, 0);
	timer_update(s);
}

/* Read dry: watch the socket again. */
static void rx_dry(struct _virStream *s)
{
	s->rx = false;
	if (s->watch)
		virEventUpdateHandle(s->watch, VIR_EVENT_HANDLE_READABLE);
	timer_update(s);
}

/* The events a dispatch gives, a fault of the countdown's included. */
static int dispatch_events(struct _virStream *s)
{
	int ev = 0;

	if ((s->cb_events & VIR_STREAM_EVENT_READABLE) && (s->rx || s->eof || s->broken))
		ev |= VIR_STREAM_EVENT_READABLE;
	if (s->cb_events & VIR_STREAM_EVENT_WRITABLE)
		ev |= VIR_STREAM_EVENT_WRITABLE;
	if (s->inject) {
		ev = s->inject | (s->inject & VIR_STREAM_EVENT_ERROR ? 0 : ev);
		s->inject = 0;
	}
	if (!ev)
		return 0;
	switch (fault_take(FAULT_VIRT_EVENT, -1, false)) {
	case FAULT_ECONNRESET:
		stream_break(s, FVIRT_ERR_RECV);
		return VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
	case FAULT_EOF:
		s->eof = true;
		return VIR_STREAM_EVENT_HANGUP | (s->cb_events & VIR_STREAM_EVENT_READABLE);
	default:
		return ev;
	}
}

static void timer_fire(int timer, void *opaque)
{
	struct _virStream *s = opaque;
	int ev = s->cb ? dispatch_events(s) : 0;

	if (!ev) {
		virEventUpdateTimeout(timer, -1);
		return;
	}
	V.st.dispatches++;
	s->dispatching = true;
	s->cb(s, ev, s->cb_opaque); /* may remove the callback, abort, free: the timer's
				       reference keeps s */
	s->dispatching = false;
	if (!s->cb && s->cb_ff) {
		s->cb_ff(s->cb_opaque);
		s->cb_ff = NULL;
	}
	timer_update(s);
}

/* The end of the connection: the handle goes, the channel is free again. */
static void stream_close(struct _virStream *s)
{
	if (s->watch)
		virEventRemoveHandle(s->watch); /* its free callback drops its reference */
	s->watch = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (V.holder == s)
		V.holder = NULL;
}

/* ---- the stream calls ------------------------------------------------------------------ */

virStreamPtr __wrap_virStreamNew(virConnectPtr conn, unsigned int flags)
{
	struct _virStream *s;

	fvirt_reset_error();
	if (!conn) {
		err_set("invalid connection pointer in virStreamNew");
		return NULL;
	}
	if (!(flags & VIR_STREAM_NONBLOCK))
		misuse("a blocking stream (the loop would block in it)");
	s = calloc(1, sizeof(*s));
	if (!s) {
		err_set("out of memory");
		return NULL;
	}
	s->magic = STREAM_MAGIC;
	s->refs = 1;
	s->fd = -1;
	V.st.streams++;
	V.st.live++;
	return s;
}

/* Connects s to a new connection on the channel. 0 or -1 (the error set). */
static int stream_connect(struct _virStream *s)
{
	int fd = fcntl(V.chan, F_DUPFD_CLOEXEC, 0);

	if (fd < 0) {
		err_set("cannot connect to the channel: %s", strerror(errno));
		return -1;
	}
	s->watch = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, handle_fire, s, unref);
	if (s->watch < 0) {
		s->watch = 0;
		close(fd);
		err_set("cannot watch the channel's connection");
		return -1;
	}
	s->refs++;
	s->fd = fd;
	V.holder = s;
	return 0;
}

int __wrap_virDomainOpenChannel(virDomainPtr dom, const char *name, virStreamPtr st,
				unsigned int flags)
{
	fvirt_reset_error();
	V.st.opens++;
	V.st.last_flags = flags;
	if (!dom || !usable(st, "virDomainOpenChannel"))
		return -1;
	if (st->fd >= 0 || st->broken || st->eof) {
		misuse("virDomainOpenChannel on a stream used already");
		return -1;
	}
	if (fault_take(FAULT_VIRT_OPEN, -1, false) == FAULT_ECONNRESET || V.refuse ||
	    (V.holder && !(flags & VIR_DOMAIN_CHANNEL_FORCE))) {
		V.refuse -= V.refuse > 0;
		V.st.open_failures++;
		err_set("%s", FVIRT_ERR_HELD);
		return -1;
	}
	if (V.chan < 0 || !name || strcmp(name, V.name) != 0) {
		V.st.open_failures++;
		err_set("internal error: cannot find channel %s", name ? name : "(null)");
		return -1;
	}
	if (V.holder) { /* forced: the holder's stream breaks */
		stream_break(V.holder, FVIRT_ERR_TAKEN);
		stream_close(V.holder);
	}
	if (stream_connect(st) < 0) {
		V.st.open_failures++;
		return -1;
	}
	return 0;
}

int __wrap_virStreamEventAddCallback(virStreamPtr st, int events, virStreamEventCallback cb,
				     void *opaque, virFreeCallback ff)
{
	int id;

	fvirt_reset_error();
	if (!usable(st, "virStreamEventAddCallback"))
		return -1;
	if (st->cb || !cb) {
		misuse(cb ? "a second stream callback" : "no callback given");
		return -1;
	}
	if (!st->timer) {
		id = virEventAddTimeout(-1, timer_fire, st, unref);
		if (id < 0) {
			err_set("cannot add the stream's event timer");
			return -1;
		}
		st->timer = id;
		st->refs++;
	}
	st->cb = cb;
	st->cb_opaque = opaque;
	st->cb_ff = ff;
	st->cb_events = events;
	timer_update(st);
	return 0;
}

int __wrap_virStreamEventUpdateCallback(virStreamPtr st, int events)
{
	fvirt_reset_error();
	if (!usable(st, "virStreamEventUpdateCallback"))
		return -1;
	if (!st->cb) {
		misuse("virStreamEventUpdateCallback without a callback");
		return -1;
	}
	st->cb_events = events;
	timer_update(st);
	return 0;
}

int __wrap_virStreamEventRemoveCallback(virStreamPtr st)
{
	fvirt_reset_error();
	if (!usable(st, "virStreamEventRemoveCallback"))
		return -1;
	if (!st->cb) {
		misuse("virStreamEventRemoveCallback without a callback");
		return -1;
	}
	st->cb = NULL;
	if (st->cb_ff && !st->dispatching) { /* else once the dispatch returns */
		st->cb_ff(st->cb_opaque);
		st->cb_ff = NULL;
	}
	if (st->timer)
		virEventRemoveTimeout(st->timer); /* its free callback drops its reference */
	st->timer = 0;
	return 0;
}

/* Recv and Send on a stream: usable, open; -1 when broken (error set). */
static int io_ready(struct _virStream *s, const char *call)
{
	char what[128];

	if (!usable(s, call))
		return -1;
	if (s->fd < 0 && !s->broken && !s->eof) {
		snprintf(what, sizeof(what), "%s on a stream not open", call);
		misuse(what);
		return -1;
	}
	if (s->broken) {
		err_set("%s", s->why);
		return -1;
	}
	return 0;
}

int __wrap_virStreamRecv(virStreamPtr st, char *data, size_t nbytes)
{
	int avail = 0;
	size_t want;
	ssize_t r;

	fvirt_reset_error();
	if (io_ready(st, "virStreamRecv") < 0)
		return -1;
	if (st->eof || st->fd < 0)
		return 0;
	if (ioctl(st->fd, FIONREAD, &avail) < 0)
		avail = 0;
	want = nbytes < (size_t)avail ? nbytes : (size_t)avail;
	switch (fault_take(FAULT_VIRT_RECV, -1, want >= 2)) {
	case FAULT_EAGAIN:
		return -2;
	case FAULT_ECONNRESET:
		stream_break(st, FVIRT_ERR_RECV);
		err_set("%s", st->why);
		return -1;
	case FAULT_EOF:
		st->eof = true;
		return 0;
	case FAULT_SHORT:
		nbytes = want / 2;
		break;
	default:
		break;
	}
	r = __real_recv(st->fd, data, nbytes, MSG_DONTWAIT);
	if (r > 0) {
		V.st.recv_bytes += (uint64_t)r;
		if ((size_t)r == (size_t)avail) /* all there was: nothing writes meanwhile */
			rx_dry(st);
		return (int)r;
	}
	if (r == 0) {
		st->eof = true;
		return 0;
	}
	if (errno == EAGAIN || errno == EINTR) {
		rx_dry(st);
		return -2;
	}
	err_set("cannot read from stream: %s", strerror(errno));
	stream_break(st, V.err);
	return -1;
}

int __wrap_virStreamSend(virStreamPtr st, const char *data, size_t nbytes)
{
	ssize_t r;

	fvirt_reset_error();
	if (io_ready(st, "virStreamSend") < 0)
		return -1;
	if (st->fd < 0 || st->eof) {
		misuse("virStreamSend after the end of the stream");
		return -1;
	}
	switch (fault_take(FAULT_VIRT_SEND, -1, nbytes >= 2)) {
	case FAULT_EAGAIN:
		return -2;
	case FAULT_ECONNRESET:
		stream_break(st, FVIRT_ERR_SEND);
		err_set("%s", st->why);
		return -1;
	case FAULT_SHORT:
		nbytes /= 2;
		break;
	default:
		break;
	}
	r = __real_send(st->fd, data, nbytes, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r >= 0) {
		V.st.sent_bytes += (uint64_t)r;
		return (int)r;
	}
	if (errno == EAGAIN || errno == EINTR)
		return -2;
	err_set("cannot write to stream: %s", strerror(errno));
	stream_break(st, V.err);
	return -1;
}

int __wrap_virStreamFinish(virStreamPtr st)
{
	fvirt_reset_error();
	if (!usable(st, "virStreamFinish"))
		return -1;
	V.st.finishes++;
	stream_close(st);
	if (st->broken) { /* as libvirt's: the pending error is the answer */
		err_set("%s", st->why);
		return -1;
	}
	return 0;
}

int __wrap_virStreamAbort(virStreamPtr st)
{
	fvirt_reset_error();
	if (!usable(st, "virStreamAbort"))
		return -1;
	V.st.aborts++;
	stream_close(st);
	return 0;
}

int __wrap_virStreamFree(virStreamPtr st)
{
	fvirt_reset_error();
	if (!usable(st, "virStreamFree"))
		return -1;
	if (st->cb)
		misuse("virStreamFree with its callback registered");
	else if (st->fd >= 0)
		misuse("virStreamFree on a stream neither finished nor aborted");
	stream_close(st);
	st->freed = true;
	unref(st);
	return 0;
}

const char *__wrap_virGetLastErrorMessage(void)
{
	return V.err_set ? V.err : __real_virGetLastErrorMessage();
}

int __wrap_virDomainGetVcpus(virDomainPtr dom, virVcpuInfoPtr info, int maxinfo,
			     unsigned char *cpumaps, int maplen)
{
	(void)cpumaps;
	(void)maplen;
	if (!dom || !info || maxinfo < 1 || !V.clock)
		return -1;
	memset(info, 0, sizeof(*info));
	info->state = VIR_VCPU_RUNNING;
	info->cpuTime = *V.clock - V.clock0;
	return 1;
}

/* ---- the test's side ------------------------------------------------------------------ */

void fvirt_set_channel(const char *name, int fd)
{
	snprintf(V.name, sizeof(V.name), "%s", name ? name : "");
	V.chan = fd;
}

void fvirt_set_vcpu_clock(const uint64_t *now_ns)
{
	V.clock = now_ns;
	V.clock0 = now_ns ? *now_ns : 0;
}

void fvirt_reset(void)
{
	uint64_t live = V.st.live;

	memset(&V.st, 0, sizeof(V.st));
	V.st.live = live; /* what is still there stays counted */
	V.refuse = 0;
	V.misuse_what[0] = '\0';
	fvirt_reset_error();
}

void fvirt_stats(struct fvirt_stats *out)
{
	*out = V.st;
}

const char *fvirt_misuse_what(void)
{
	return V.misuse_what;
}

void fvirt_refuse_opens(unsigned n)
{
	V.refuse = n;
}

int fvirt_inject(int events)
{
	if (!V.holder)
		return -ENOTCONN;
	V.holder->inject = events;
	if (events & VIR_STREAM_EVENT_ERROR)
		stream_break(V.holder, FVIRT_ERR_RECV);
	else
		V.holder->eof = true;
	timer_update(V.holder);
	return 0;
}
