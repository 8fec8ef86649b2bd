/* SPDX-License-Identifier: MIT */
/*
 * backend_libvirt: a guest of `vigil watch`, one run of one libvirt
 * domain, as a backend of the guest object (struct vigil_guest_ops).
 *
 * Owns: the domain's vigil channel, opened with virDomainOpenChannel on a
 * non-blocking virStream (so remote URIs work and libvirt arbitrates who
 * holds it: a channel held by another client is reported and retried with
 * backoff, taken only with force), bridged to the guest object through a
 * socketpair with a bounded buffer each way (VIRT_BRIDGE_BUF); the vCPU
 * time: for a local domain from its QEMU's vCPU threads in /proc (the pid
 * from VIRT_QEMU_PID_DIR, as vcpu.h does for `vigil run`), for a remote
 * one from virDomainGetVcpus at most every VIRT_VCPU_MIN_NS (sooner is
 * "unknown", so a fleet's RPC rate stays bounded); guest-requested
 * snapshots (CPU state with one HMP command through libvirt's monitor
 * pass-through; memory dumps, local domains only, by libvirt's own dump
 * job in a `virsh dump --memory-only` child reaped by the loop; the bounds
 * of qmplink.h); and its
 * end: the run is never the backend's to stop (watch observes), so stop()
 * lets go of the channel.
 *
 * Limits: VIRT_BRIDGE_BUF bytes in flight each way (the stream is not read
 * while the guest's side is full, and the guest's side not read while the
 * stream refuses more). Load: one per running domain; hundreds per process.
 * Every libvirt call here runs on the loop's thread (virtevent.h); the
 * blocking ones (open, vCPU times) are one RPC each, bounded in rate.
 */
#ifndef VIGIL_CLI_BACKEND_LIBVIRT_H
#define VIGIL_CLI_BACKEND_LIBVIRT_H

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

#include "guest.h"
#include "loop.h"

#define VIRT_BRIDGE_BUF     (64u << 10)
#define VIRT_VCPU_MIN_NS    (250 * 1000000ull)
#define VIRT_QEMU_PID_DIR   "/run/libvirt/qemu" /* qemu:///system's pid files */
#define VIRT_RETRY_FIRST_NS (1000000000ull)
#define VIRT_RETRY_MAX_NS   (30 * 1000000000ull)

struct vigil_virt_be;

/* What the backend reports to its owner (a channel held by someone else, an error). */
typedef void (*vigil_virt_say_fn)(void *ctx, const char *domain, const char *msg);

struct vigil_virt_be_cfg {
	virDomainPtr dom; /* a reference is taken */
	const char *name; /* the domain's name, for messages */
	bool force;       /* take the channel from another holder (VIR_DOMAIN_CHANNEL_FORCE) */
	bool local;       /* the connection is to this host's libvirtd: QEMU's threads are here */
	vigil_virt_say_fn say;
	void *say_ctx;
	/* The channel ended (EOF, hangup, error): the owner may check whether
	 * the domain is still there before the silence is judged. NULL ok. */
	void (*ended)(void *ctx);
	void *ended_ctx;
};

/* The operations for b's guest: a local domain's add the vCPU state probe. */
const struct vigil_guest_ops *vigil_virt_be_ops(const struct vigil_virt_be *b);

int vigil_virt_be_new(struct vigil_loop *l, const struct vigil_virt_be_cfg *c,
		      struct vigil_virt_be **out);
/* Open the channel for g (or schedule the retry when it cannot be opened now). */
void vigil_virt_be_start(struct vigil_virt_be *b, struct vigil_guest *g);
/* libvirtd went away: drop the stream (the guest's link goes down), keep the run. */
void vigil_virt_be_lost(struct vigil_virt_be *b);
/* libvirtd is back: dom is the new handle (a reference is taken); open again. */
void vigil_virt_be_reconnected(struct vigil_virt_be *b, virDomainPtr dom);
/* "holding the channel", "waiting: held by another client", ... */
const char *vigil_virt_be_status(const struct vigil_virt_be *b);
bool vigil_virt_be_holding(const struct vigil_virt_be *b);
/* Where guest-requested snapshots go (made when the first comes); NULL or
 * "": none, and memory dumps are refused. dumps_kept: bytes of memory dumps
 * still on disk from the domain's earlier runs, counted against this run's
 * VIGIL_DUMP_BYTES_MAX (qmplink.h), so the bound holds for the domain. */
void vigil_virt_be_set_snapshot_dir(struct vigil_virt_be *b, const char *dir, uint64_t dumps_kept);

#endif /* VIGIL_CLI_BACKEND_LIBVIRT_H */
