/* SPDX-License-Identifier: MIT */
/*
 * fault: the countdown and the trace (see fault.h), shared by the two ways
 * of catching the calls: fault_wrap.c (-Wl,--wrap) and fault_interpose.c
 * (symbol interposition). Test-only.
 */
#include "fault.h"
#include "fault_int.h"
#include <dirent.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
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
	"read",          "write",         "recv",         "send",
	"epoll_wait",    "accept4",       "sendmsg",      "virDomainOpenChannel",
	"virStreamRecv", "virStreamSend", "stream event", "recvmmsg",
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

static double sweep_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One (n, k) of a sweep; false when it failed. */
static bool sweep_one(uint64_t n, enum fault_kind k, fault_run_fn run, void *ctx,
		      struct fault_sweep *s)
{
	bool ok;

	fault_reset();
	fault_arm(n, k);
	ok = run(ctx, n, k);
	if (!fault_fired()) {
		fprintf(stderr, "call %llu: %s did not fire: the run was not the reference's\n",
			(unsigned long long)n, fault_kind_name(k));
		return false;
	}
	s->per_kind[k]++;
	s->per_call[fault_fired_call()]++;
	if (!ok)
		fprintf(stderr, "FAILED: call %llu, %s on %s fd %d\n", (unsigned long long)n,
			fault_kind_name(k), fault_call_name(fault_fired_call()), fault_fired_fd());
	return ok;
}

int fault_sweep(const struct fault_rec *trace, uint64_t calls, uint64_t runs_max, fault_can_fn can,
		fault_run_fn run, void *ctx, struct fault_sweep *s)
{
	double t0 = sweep_now();

	memset(s, 0, sizeof(*s));
	for (uint64_t n = 1; n <= calls; n++) {
		for (enum fault_kind k = FAULT_EINTR; k < FAULT__COUNT; k++) {
			if (!fault_applies(&trace[n - 1], k) || !fault_wanted(n, k))
				continue;
			if (can && !can(ctx, &trace[n - 1], k)) {
				s->skipped++;
				continue;
			}
			if (++s->runs > runs_max) {
				fprintf(stderr, "fault: more than %llu runs: raise the cap\n",
					(unsigned long long)runs_max);
				return -E2BIG;
			}
			s->failed += !sweep_one(n, k, run, ctx, s);
		}
	}
	s->seconds = sweep_now() - t0;
	return 0;
}

void fault_sweep_print(const struct fault_sweep *s, uint64_t calls)
{
	printf("%llu calls in the reference run; %llu runs (", (unsigned long long)calls,
	       (unsigned long long)s->runs);
	for (enum fault_kind k = FAULT_EINTR; k < FAULT__COUNT; k++)
		printf("%s%s %llu", k == FAULT_EINTR ? "" : ", ", fault_kind_name(k),
		       (unsigned long long)s->per_kind[k]);
	printf(";");
	for (enum fault_call c = 0; c < FAULT_CALL__COUNT; c++)
		if (s->per_call[c])
			printf(" %s %llu", fault_call_name(c), (unsigned long long)s->per_call[c]);
	if (s->skipped)
		printf("; %llu not made", (unsigned long long)s->skipped);
	printf(") in %.1f s; %u failed\n", s->seconds, s->failed);
	fflush(stdout);
}

int fault_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}
