/* SPDX-License-Identifier: MIT */
/*
 * fault: the countdown and the trace (see fault.h), shared by the two ways
 * of catching the calls: fault_wrap.c (-Wl,--wrap) and fault_interpose.c
 * (symbol interposition). Test-only.
 */
#include "fault.h"
#include "fault_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
	bool host;
	uint64_t nth;
	enum fault_kind kind;
	uint64_t calls;
	bool fired;
	enum fault_call fired_call;
	int fired_fd;
	/* after ECONNRESET or EPIPE, the connection stays broken: later calls
	 * on the same open file read EOF and write EPIPE, as the kernel's do
	 * once the peer is gone */
	bool broken;
	dev_t broken_dev;
	ino_t broken_ino;
	struct fault_rec trace[FAULT_TRACE_MAX];
} F;

void fault_reset(void)
{
	F.host = false;
	F.nth = 0;
	F.kind = FAULT_NONE;
	F.calls = 0;
	F.fired = false;
	F.broken = false;
}

void fault_arm(uint64_t nth, enum fault_kind kind)
{
	F.nth = kind == FAULT_NONE ? 0 : nth;
	F.kind = kind;
}

bool fault_host(bool on)
{
	bool was = F.host;

	F.host = on;
	return was;
}

uint64_t fault_calls(void)
{
	return F.calls;
}

bool fault_fired(void)
{
	return F.fired;
}

enum fault_call fault_fired_call(void)
{
	return F.fired_call;
}

int fault_fired_fd(void)
{
	return F.fired_fd;
}

const struct fault_rec *fault_trace(void)
{
	return F.trace;
}

static bool is_virt(enum fault_call c)
{
	return c == FAULT_VIRT_OPEN || c == FAULT_VIRT_RECV || c == FAULT_VIRT_SEND ||
	       c == FAULT_VIRT_EVENT;
}

/* libvirt's calls (fault.h): which of its failures each can have. */
static bool virt_applies(const struct fault_rec *r, enum fault_kind k)
{
	switch (r->call) {
	case FAULT_VIRT_OPEN:
		return k == FAULT_ECONNRESET;
	case FAULT_VIRT_RECV:
		return k == FAULT_EAGAIN || k == FAULT_ECONNRESET || k == FAULT_EOF ||
		       (k == FAULT_SHORT && r->shortable);
	case FAULT_VIRT_SEND:
		return k == FAULT_EAGAIN || k == FAULT_ECONNRESET ||
		       (k == FAULT_SHORT && r->shortable);
	case FAULT_VIRT_EVENT:
		return k == FAULT_ECONNRESET || k == FAULT_EOF;
	default:
		return false;
	}
}

/* An epoll wait: no fd of its own to fail. */
static bool is_wait(enum fault_call c)
{
	return c == FAULT_EPOLL_WAIT || c == FAULT_EPOLL_PWAIT2;
}

bool fault_applies(const struct fault_rec *r, enum fault_kind k)
{
	bool rd = r->call == FAULT_READ || r->call == FAULT_RECV || r->call == FAULT_RECVMMSG;

	if (r->fdk == FAULT_FD_VIRT)
		return virt_applies(r, k);
	if (k == FAULT_EOF)
		return false;
	if (is_wait(r->call))
		return k == FAULT_EINTR || k == FAULT_EAGAIN || (k == FAULT_SHORT && r->shortable);
	if (r->call == FAULT_ACCEPT)
		return k == FAULT_EINTR || k == FAULT_EAGAIN || k == FAULT_ECONNRESET;
	if (k == FAULT_EINTR || k == FAULT_EAGAIN)
		return true;
	if (r->fdk == FAULT_FD_ANON)
		return false;
	switch (k) {
	case FAULT_SHORT:
		return r->shortable;
	case FAULT_ECONNRESET:
		return r->fdk == FAULT_FD_SOCKET;
	case FAULT_EPIPE:
		return !rd;
	default:
		return false;
	}
}

static const char *const kind_names[FAULT__COUNT] = {
	"none", "EINTR", "EAGAIN", "short", "ECONNRESET", "EPIPE", "EOF",
};

static const char *const call_names[FAULT_CALL__COUNT] = {
	"read",          "write",         "recv",          "send",
	"epoll_wait",    "accept4",       "sendmsg",       "virDomainOpenChannel",
	"virStreamRecv", "virStreamSend", "stream event",  "recvmmsg",
	"epoll_pwait2",
};

const char *fault_kind_name(enum fault_kind k)
{
	return (unsigned)k < FAULT__COUNT ? kind_names[k] : "?";
}

bool fault_wanted(uint64_t n, enum fault_kind k)
{
	const char *only = getenv("VIGIL_FAULT_ONLY");
	char name[16];
	unsigned long long want;

	if (!only || !*only)
		return true;
	if (sscanf(only, "%llu:%15s", &want, name) != 2)
		return false;
	return want == n && strcmp(name, fault_kind_name(k)) == 0;
}

const char *fault_call_name(enum fault_call c)
{
	return (unsigned)c < FAULT_CALL__COUNT ? call_names[c] : "?";
}

/*
 * Whether a connection reset on fd lasts. A datagram socket has no
 * connection: the kernel reports its pending error once (sock_error()
 * clears it), and the next call works.
 */
static bool lasting(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_DGRAM;
}

/* fault_int.h */
enum fault_kind fault_take(enum fault_call c, int fd, bool shortable)
{
	struct fault_rec r = { .call = (uint8_t)c, .shortable = shortable };
	struct stat st = { 0 };

	if (!F.host)
		return FAULT_NONE;
	if (is_virt(c))
		r.fdk = FAULT_FD_VIRT; /* no fd: the stand-in keeps its streams' state */
	else if (!is_wait(c)) {
		if (fstat(fd, &st) < 0)
			return FAULT_NONE; /* a bad fd fails by itself */
		if (S_ISSOCK(st.st_mode))
			r.fdk = FAULT_FD_SOCKET;
		else if (S_ISFIFO(st.st_mode))
			r.fdk = FAULT_FD_PIPE;
		else if ((st.st_mode & S_IFMT) == 0)
			r.fdk = FAULT_FD_ANON; /* timerfd, signalfd, eventfd */
		else
			return FAULT_NONE; /* files, ttys: not what the loop waits on */
	}
	if (F.calls < FAULT_TRACE_MAX)
		F.trace[F.calls] = r;
	F.calls++;
	if (F.broken && !is_wait(c) && r.fdk != FAULT_FD_VIRT && st.st_dev == F.broken_dev &&
	    st.st_ino == F.broken_ino)
		return FAULT_BROKEN;
	if (F.calls != F.nth || !fault_applies(&r, F.kind))
		return FAULT_NONE;
	if ((F.kind == FAULT_ECONNRESET || F.kind == FAULT_EPIPE) && c != FAULT_ACCEPT &&
	    r.fdk != FAULT_FD_VIRT && lasting(fd)) {
		F.broken = true;
		F.broken_dev = st.st_dev;
		F.broken_ino = st.st_ino;
	}
	F.fired = true;
	F.fired_call = c;
	F.fired_fd = is_wait(c) || r.fdk == FAULT_FD_VIRT ? -1 : fd;
	return F.kind;
}

int fault_errno(enum fault_kind k)
{
	switch (k) {
	case FAULT_EINTR:
		return EINTR;
	case FAULT_EAGAIN:
		return EAGAIN;
	case FAULT_ECONNRESET:
		return ECONNRESET;
	default:
		return EPIPE;
	}
}
