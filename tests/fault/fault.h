/* SPDX-License-Identifier: MIT */
/*
 * fault: I/O fault injection for host tests (test-only), after SQLite's
 * "fail the Nth call" harness.
 *
 * Owns a countdown and a trace of the calls counted (fault.c), and two
 * ways of catching the calls:
 *   - vigil-fault: link-time wrappers (fault_wrap.c; -Wl,--wrap=read,
 *     --wrap=write,--wrap=recv,--wrap=send,--wrap=epoll_wait,
 *     --wrap=recvmmsg,--wrap=epoll_pwait2,--wrap=syscall, given by CMake
 *     to every test linking it) of the calls the host loop and the agent's
 *     loop (guest/core.c, a turn at a time) make themselves; syscall() is
 *     counted for SYS_epoll_pwait2 only (the agent's wait, as musl has no
 *     epoll_pwait2()), every other number passes. A wrapper sees only
 *     calls made from objects linked into the test executable (the static
 *     libraries and the test): libc's own calls and shared libraries
 *     (libmicrohttpd, libvirt) are not wrapped.
 *   - vigil-fault-interpose: the same calls and accept4 and sendmsg
 *     defined in the test executable itself (fault_interpose.c), which
 *     interpose on libc's for the executable and for every shared library
 *     that calls them through its PLT (libmicrohttpd 0.9.75 does: recv,
 *     send, sendmsg, accept4, epoll_wait); each forwards to the next
 *     definition (dlsym(RTLD_NEXT): libc's, or ASan's interceptor). Not
 *     with vigil-fault in the same executable.
 *   - fault_virt.h's stand-in for libvirt's virStream calls, which counts
 *     its own calls (virDomainOpenChannel, virStreamRecv, virStreamSend,
 *     a stream event's dispatch) here beside the host's I/O calls.
 *
 * Counting: a call counts only inside the host's turn (fault_host(true);
 * for the agent's tests, the agent's turn), so the test's own guest
 * writers, fake servers, clients and hosts, which run between loop
 * iterations in the same process, are never faulted; and
 * only on fds that can fail in the way injected (sockets, pipes, FIFOs and
 * anonymous inodes such as timerfd/signalfd; regular files and ttys are
 * passed through uncounted).
 *
 * A run: fault_reset(), fault_arm(n, kind) (n = 0: a reference run, nothing
 * fails), run the scenario, then fault_calls() and fault_fired(). The
 * reference run's trace (fault_trace) says which kinds apply to call n
 * (fault_applies), so a harness tries every (n, kind) that can happen and
 * nothing else. One fault per run; every other call goes through.
 *
 * What a fault is, per call:
 *   read/recv   EINTR, EAGAIN: -1 with errno, nothing read (the bytes stay);
 *               SHORT: the real call with half the length (len >= 2);
 *               ECONNRESET: -1 ECONNRESET, nothing read (sockets only);
 *   write/send  EINTR, EAGAIN: -1, nothing written; SHORT: half the length;
 *               ECONNRESET (sockets), EPIPE (sockets, pipes): -1, nothing
 *               written;
 *   sendmsg     as send, SHORT: half the bytes of the iovecs;
 *   recvmmsg    as recv, SHORT: one message (vlen >= 2);
 *   epoll_wait, epoll_pwait2
 *               EINTR: -1 EINTR without waiting; EAGAIN: a spurious 0 (no
 *               event although fds may be ready); SHORT: at most one event;
 *   accept4     EINTR, EAGAIN: -1, the connection stays queued;
 *               ECONNRESET: the connection went before it was accepted:
 *               it is taken off the queue and closed (the client sees a
 *               reset), -1 ECONNABORTED. The listening socket goes on.
 *   libvirt's, in libvirt's conventions (fault_virt.h):
 *   virDomainOpenChannel  ECONNRESET: -1, refused (the channel is held or gone);
 *   virStreamRecv         EAGAIN: -2, nothing read; SHORT: half of what it
 *                         would give (>= 2 bytes); ECONNRESET: -1, the stream
 *                         broke; EOF: 0, end of stream;
 *   virStreamSend         EAGAIN: -2, nothing sent; SHORT: half; ECONNRESET: -1;
 *   a stream event        ECONNRESET: ERROR|HANGUP, the stream broke; EOF:
 *                         HANGUP (with READABLE when asked), end of stream.
 *   A broken or ended stream stays so (the stand-in keeps that); a new
 *   stream opened after it works.
 * On anonymous inodes (timerfd, signalfd, eventfd) only EINTR and EAGAIN.
 * ECONNRESET and EPIPE last, as the kernel's do: once injected, every later
 * call on the same open file reads EOF (0) and writes EPIPE; but not on a
 * datagram socket, which has no connection: there the error is reported
 * once, as the kernel's pending socket error is. The others are
 * transient: one call, then the file works again.
 *
 * Limits: FAULT_TRACE_MAX calls traced (a scenario with more fails its
 * reference run loudly). One thread. Load: a wrapper adds one fstat when
 * counting; nothing when outside the host's turn (an interposer adds a
 * call through a pointer).
 */
#ifndef VIGIL_TESTS_FAULT_H
#define VIGIL_TESTS_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#define FAULT_TRACE_MAX 65536u

enum fault_kind {
	FAULT_NONE = 0,
	FAULT_EINTR,
	FAULT_EAGAIN,
	FAULT_SHORT,
	FAULT_ECONNRESET,
	FAULT_EPIPE,
	FAULT_EOF, /* libvirt's calls only (see above) */
	FAULT__COUNT,
};

enum fault_call {
	FAULT_READ = 0,
	FAULT_WRITE,
	FAULT_RECV,
	FAULT_SEND,
	FAULT_EPOLL_WAIT,
	FAULT_ACCEPT,       /* accept4: fault_interpose.c only */
	FAULT_SENDMSG,      /* fault_interpose.c only */
	FAULT_VIRT_OPEN,    /* fault_virt.c: virDomainOpenChannel */
	FAULT_VIRT_RECV,    /* fault_virt.c: virStreamRecv */
	FAULT_VIRT_SEND,    /* fault_virt.c: virStreamSend */
	FAULT_VIRT_EVENT,   /* fault_virt.c: a stream event dispatched */
	FAULT_RECVMMSG,     /* fault_wrap.c only */
	FAULT_EPOLL_PWAIT2, /* epoll_pwait2() and syscall(SYS_epoll_pwait2): fault_wrap.c only */
	FAULT_CALL__COUNT,
};

/* One counted call of a run. */
struct fault_rec {
	uint8_t call;   /* enum fault_call */
	uint8_t fdk;    /* what the fd is: FAULT_FD_* */
	bool shortable; /* len >= 2 (reads, writes); vlen >= 2 (recvmmsg); maxevents >= 2
			 * (epoll_wait, epoll_pwait2) */
};

enum { FAULT_FD_SOCKET = 0, FAULT_FD_PIPE, FAULT_FD_ANON, FAULT_FD_VIRT /* no fd: libvirt's */ };

/* Disarm, zero the counters and the trace, leave the host's turn. */
void fault_reset(void);
/* The nth counted call (1-based) fails with kind; 0 or FAULT_NONE: none. */
void fault_arm(uint64_t nth, enum fault_kind kind);
/* Enter (true) or leave (false) the host's turn; returns the previous state. */
bool fault_host(bool on);
/* Calls counted since fault_reset. */
uint64_t fault_calls(void);
/* The armed fault happened, and on which call. */
bool fault_fired(void);
enum fault_call fault_fired_call(void);
int fault_fired_fd(void); /* -1 for epoll_wait, epoll_pwait2 and libvirt's calls */
/* The calls counted, in order (fault_calls() of them, at most FAULT_TRACE_MAX). */
const struct fault_rec *fault_trace(void);
/* Whether kind can be injected into a call like r. */
bool fault_applies(const struct fault_rec *r, enum fault_kind kind);

/* Whether a harness should run (n, kind): true unless the environment
 * names one run, VIGIL_FAULT_ONLY=N:KIND (KIND as fault_kind_name says),
 * to look at a failure alone. */
bool fault_wanted(uint64_t n, enum fault_kind kind);

const char *fault_kind_name(enum fault_kind k);
const char *fault_call_name(enum fault_call c);

/*
 * A harness's sweep: after its reference run (trace, calls), one run for
 * every (n, kind) that fault_applies and fault_wanted allow, and can(ctx,
 * trace[n - 1], kind) when can is given (a harness's own exclusions,
 * counted as skipped), in order of n then kind. Each: fault_reset,
 * fault_arm(n, kind), then run(ctx, n, kind), which plays the scenario
 * and returns whether its end is acceptable (saying why not itself). A
 * fault that did not fire fails the run (the run was not the
 * reference's); a failed run is named on stderr with the call it hit.
 * Returns 0, or -E2BIG before a run past runs_max (the cap). s counts
 * runs, skipped, failed, per kind and per call.
 */
struct fault_sweep {
	uint64_t runs, skipped;
	unsigned failed;
	uint64_t per_kind[FAULT__COUNT];
	uint64_t per_call[FAULT_CALL__COUNT];
	double seconds;
};
typedef bool (*fault_can_fn)(void *ctx, const struct fault_rec *r, enum fault_kind k);
typedef bool (*fault_run_fn)(void *ctx, uint64_t n, enum fault_kind k);
int fault_sweep(const struct fault_rec *trace, uint64_t calls, uint64_t runs_max, fault_can_fn can,
		fault_run_fn run, void *ctx, struct fault_sweep *s);
/* The process's open file descriptors now (a leak check around runs); -1 on error. */
int fault_open_fds(void);

/* One line on stdout: the calls, the runs per kind and per call, the time, the failed. */
void fault_sweep_print(const struct fault_sweep *s, uint64_t calls);

#endif /* VIGIL_TESTS_FAULT_H */
