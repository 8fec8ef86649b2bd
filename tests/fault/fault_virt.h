/* SPDX-License-Identifier: MIT */
/*
 * fault_virt: a stand-in for the libvirt stream calls that
 * host/cli/backend_libvirt.c makes (test-only), so that the backend runs
 * unchanged over a socketpair whose other end is a synthetic guest, with
 * fault.h's countdown in its calls.
 *
 * Why: libvirt's test:///default driver refuses virDomainOpenChannel, and
 * a real stream needs libvirtd and a running QEMU. So the backend's
 * references to virStreamNew, virDomainOpenChannel,
 * virStreamEvent{Add,Update,Remove}Callback, virStreamRecv, virStreamSend,
 * virStreamFinish, virStreamAbort, virStreamFree, virGetLastErrorMessage
 * and virDomainGetVcpus are bound here at link time (-Wl,--wrap=..., given
 * by CMake to every test linking vigil-fault-virt). The backend is a
 * static library linked into the test and libvirt a shared one, so the
 * wrap catches the backend's calls and none of libvirt's own. The rest is
 * libvirt's: the connection and the domain (test:///default's), their
 * references, and the event implementation the stream's events go through
 * (virEventAddHandle/AddTimeout: vigil's own, host/loop/virtevent.c, on
 * the test's loop).
 *
 * The stream behaves as libvirt's remote client stream does (what vigil
 * gets for qemu:///system as for a remote URI; libvirt's
 * src/rpc/virnetclientstream.c):
 *   - virDomainOpenChannel connects it to a dup of the channel's fd (a new
 *     connection to QEMU's chardev: the guest's port, and what the guest
 *     wrote and nobody read yet, stay; what an earlier stream had taken
 *     went with it). One stream holds the channel at a time: a second
 *     open is refused as libvirt refuses it, unless
 *     VIR_DOMAIN_CHANNEL_FORCE, which breaks the holder.
 *   - The connection's socket is watched with virEventAddHandle; once data
 *     is there the handle stops watching until the stream is read dry (as
 *     libvirt's client moves packets into the stream's queue).
 *   - The stream's callback runs from a virEventAddTimeout timer, armed at
 *     0 while an event asked for is there: READABLE while data, an end of
 *     stream or an error is pending; WRITABLE whenever asked (libvirt's
 *     client queues what is sent). ERROR and HANGUP come only injected
 *     (libvirt's fd streams report them; its client streams report an
 *     error as READABLE, then -1 from virStreamRecv).
 *   - The handle and the timer hold references on the stream, dropped by
 *     their free callbacks when the event implementation reaps them (as
 *     libvirt's virObjectUnref): a stream freed from inside its own
 *     callback stays valid until the callback returns.
 *   - virStreamRecv: bytes (at most what the socket holds), 0 at the end
 *     of the stream, -2 when nothing is there, -1 once broken;
 *     virStreamSend: what the socket took, -2 when it is full, -1 once
 *     broken. A broken or ended stream stays so.
 *   - virDomainGetVcpus: one vCPU that ran all the time of the test's
 *     clock (test:///default's times come from the wall clock, which
 *     would make runs on a fake clock differ).
 *
 * Errors: libvirt's last error is per thread and reset, its message freed,
 * by every public call. Here the stand-in's error is one buffer, cleared by
 * every stood-in call and by fvirt_reset_error(): a pointer kept from
 * virGetLastErrorMessage across a later call reads an empty string where
 * libvirt's would read freed memory.
 *
 * Checks: calls libvirt would refuse or that misuse a stream (a call on a
 * stream already freed, or not open; a second callback; freeing a stream
 * still open or with its callback; a blocking stream, which would block
 * the loop) are counted in misuse, the last one described.
 *
 * Limits: one domain's channel, any number of streams in turn; one thread.
 * Load: a few calls per loop iteration.
 */
#ifndef VIGIL_TESTS_FAULT_VIRT_H
#define VIGIL_TESTS_FAULT_VIRT_H

#include <stdint.h>

#define FVIRT_ERR_HELD  "operation failed: Active channel stream exists for this domain"
#define FVIRT_ERR_RECV  "cannot read from stream: Connection reset by peer"
#define FVIRT_ERR_SEND  "cannot write to stream: Broken pipe"
#define FVIRT_ERR_TAKEN "stream aborted: the channel was taken by another client"

struct fvirt_stats {
	uint64_t streams;       /* virStreamNew */
	uint64_t live;          /* streams not yet gone (their last reference) */
	uint64_t opens;         /* virDomainOpenChannel calls */
	uint64_t open_failures; /* of those, refused */
	uint64_t finishes, aborts;
	uint64_t dispatches; /* stream callbacks run */
	uint64_t recv_bytes; /* returned by virStreamRecv */
	uint64_t sent_bytes; /* taken by virStreamSend */
	uint64_t misuse;     /* see the top; fvirt_misuse_what() */
	unsigned last_flags; /* of the last virDomainOpenChannel */
};

/* The domain's channel: its name, and fd, the host's end of the guest's
 * port (the caller's: each stream opened works on a dup). fd -1: none. */
void fvirt_set_channel(const char *name, int fd);
/* The clock the vCPU time follows (ns; read at each call). NULL: none. */
void fvirt_set_vcpu_clock(const uint64_t *now_ns);
/* Zero the counters (the channel and the clock stay). */
void fvirt_reset(void);
void fvirt_stats(struct fvirt_stats *out);
const char *fvirt_misuse_what(void);
/* What every libvirt call does first: forget the last error (see the top). */
void fvirt_reset_error(void);
/* Refuse the next n opens, as libvirt refuses a channel another client holds. */
void fvirt_refuse_opens(unsigned n);
/* The stream holding the channel gets events at its next dispatch:
 * ERROR|HANGUP breaks it, HANGUP ends it. -ENOTCONN when none holds it. */
int fvirt_inject(int events);

#endif /* VIGIL_TESTS_FAULT_VIRT_H */
