/* SPDX-License-Identifier: MIT */
/*
 * virtevent: libvirt's event loop implementation (virEventRegisterImpl) on
 * a vigil loop, so libvirt's connections, keepalive, domain events and
 * streams run on the same epoll loop as the guests.
 *
 * Owns: one process-wide table from libvirt's int ids to records {fd,
 * libvirt events, callback, opaque, ff, the vigil source or timer}. A
 * handle is a vigil_source on libvirt's fd (on a dup of it when another
 * handle watches the same fd: libvirt may register one fd twice with
 * disjoint events, epoll may not); a timeout is a vigil_timer.
 *
 * libvirt's contracts, as kept here:
 *  - ids are positive ints libvirt keeps; handles and timeouts share one
 *    counter, an id is never handed out twice while it is registered, and
 *    removing or updating an id that is not registered (or is of the other
 *    kind) is refused (-1) or ignored, as libvirt's own implementations do;
 *  - ff(opaque) runs later, never from inside remove (libvirt would
 *    deadlock: its ff often drops the last reference of an object whose
 *    lock the remover holds). The loop's deferred free does it: the record
 *    is the source's or timer's context and its destroy callback calls ff
 *    once, when the loop reaps it (the end of the iteration, or of the
 *    next one when remove was called outside the loop, or vigil_loop_free).
 *    A failed add calls no ff: the caller still owns opaque;
 *  - timeout -1: disabled; 0: fires on every loop iteration (the loop does
 *    not block while it is armed); N > 0: every N ms. An update re-arms the
 *    timer from now, as libvirt's implementations do;
 *  - events: READABLE <-> EPOLLIN, WRITABLE <-> EPOLLOUT; epoll reports
 *    EPOLLERR -> ERROR and EPOLLHUP -> HANGUP whenever the fd is watched.
 *    0 takes the fd out of epoll (a hung-up fd nobody watches does not
 *    spin the loop). A handle asking for ERROR or HANGUP alone is watched
 *    with EPOLLRDHUP (reported as HANGUP), so it stays in epoll.
 *
 * Threads. libvirt 9.0's client side calls these functions from the
 * thread that runs the loop (handle and timer callbacks: RPC replies,
 * keepalive, the event queue's timer) and from any thread that calls a
 * libvirt API (virNetClientIO toggles the connection's handle around a
 * call; virObjectEventStateQueue arms the event timer; stream packets arm
 * the stream's timer). The client library starts no thread of its own
 * that does so: the threads libvirt creates (virThreadCreateFull) are in
 * the daemons' drivers (qemu, libxl, ch, storage, nwfilter, node devices),
 * not in libvirt.so's remote or test drivers; libvirt's own GLib
 * implementation takes a lock because an application may call APIs from
 * several threads. vigil calls libvirt from the loop's thread only, so no
 * lock is needed and none is taken: a call from any other thread is
 * refused (add and remove return -1, update does nothing) and counted in
 * foreign_calls, never carried out on the loop behind its back. Note that
 * an RPC to libvirtd blocks the calling thread (the loop) for its round
 * trip: libvirt runs a private GMainContext on the socket meanwhile.
 *
 * Once per process: virEventRegisterImpl cannot be undone or replaced
 * (libvirt ignores a second one), so the first vigil_virt_event_register
 * registers, and the adapter is attached to one loop at a time. Register
 * before the first virConnectOpen. Detach (after closing every connection)
 * before freeing the loop; a later register attaches another loop.
 *
 * Load: a few handles and timeouts per connection and per stream (hundreds
 * with hundreds of guests); update is called per RPC and per stream
 * packet: O(1) (a hash on the id), no allocation, at most one epoll_ctl.
 */
#ifndef VIGIL_LOOP_VIRTEVENT_H
#define VIGIL_LOOP_VIRTEVENT_H

#include <stdint.h>

#include "loop.h"

struct vigil_virt_event_stats {
	uint64_t handles_added;    /* addHandle calls that succeeded */
	uint64_t handles_removed;  /* removeHandle calls that succeeded */
	uint64_t timeouts_added;   /* addTimeout calls that succeeded */
	uint64_t timeouts_removed; /* removeTimeout calls that succeeded */
	uint64_t handle_calls;     /* handle callbacks run */
	uint64_t timeout_calls;    /* timeout callbacks run */
	uint64_t frees;            /* ff callbacks run (records reaped, ff or not) */
	uint64_t fd_dups;          /* handles on an fd another handle watched */
	uint64_t unknown_ids;      /* update/remove of an id not registered */
	uint64_t foreign_calls;    /* calls from a thread other than the loop's: refused */
	uint64_t failures;         /* adds that failed (no memory, epoll refused the fd) */
	uint32_t handles;          /* registered now */
	uint32_t timeouts;         /* registered now */
};

/*
 * Attaches the adapter to l, registering it with libvirt the first time
 * (virInitialize is called first). The calling thread becomes the only one
 * allowed to call libvirt. -EBUSY when attached to a loop already (or when
 * another implementation was registered first, which libvirt keeps),
 * -ENOMEM, -EINVAL for a NULL loop.
 */
int vigil_virt_event_register(struct vigil_loop *l);
/*
 * Detaches from the loop: every handle and timeout still registered is
 * freed (their ff run when the loop reaps them, so free the loop after),
 * and until the next register libvirt's calls fail (add) or do nothing.
 * Close every connection first. NULL-safe in spirit: a no-op when detached.
 */
void vigil_virt_event_detach(void);
/* The adapter's counters (zeros before the first register). */
void vigil_virt_event_stats(struct vigil_virt_event_stats *out);

#endif /* VIGIL_LOOP_VIRTEVENT_H */
