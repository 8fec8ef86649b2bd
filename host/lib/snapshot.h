/* SPDX-License-Identifier: MIT */
/*
 * The snapshot protocol, host side: SNAPSHOT_REQUEST from the guest, the
 * hand-off to the caller's snapshot provider, SNAPSHOT_REPLY back.
 *
 * Rules (docs/wire.md): a request whose kind the host does not know, or
 * with no provider, is refused -EOPNOTSUPP; one snapshot is in flight at a
 * time, another request meanwhile is refused -EBUSY; a repeat of the id in
 * flight is ignored, a repeat of an answered id gets the same reply again
 * (the guest missed it); the provider may refuse (its errno is the reply)
 * or finish later, also from inside its start(). Every reply is reported
 * as SNAPSHOT_DONE. A new epoch (HELLO with seq 0) forgets the answered
 * ids: the restarted agent numbers from scratch.
 *
 * Owns the request in flight (id, kind, tag) and a ring of the last
 * SNAP_ANSWERED answers. Fixed size, no allocation. Load: a handful of
 * requests per run; a duplicate check is O(SNAP_ANSWERED).
 */
#ifndef VIGIL_HOST_SNAPSHOT_H
#define VIGIL_HOST_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include <vigil/session.h>

#define SNAP_ANSWERED 8u /* answers kept for repeated requests */

struct vigil_session;

struct snap_answer {
	uint32_t id; /* 0: unused */
	int32_t status;
	uint16_t detail_len;
	char detail[VIGIL_DETAIL_MAX];
};

struct snap {
	bool busy;                /* a snapshot is in flight */
	uint32_t id;              /* busy: its request id */
	uint32_t kind;            /* busy: its kind */
	char tag[VIGIL_NAME_MAX]; /* busy: its tag, NUL-terminated */
	uint16_t tag_len;
	struct snap_answer answered[SNAP_ANSWERED];
	uint32_t answered_next; /* ring position of the next answer */
};

/*
 * A CRC-valid, well-formed SNAPSHOT_REQUEST. Returns 0 when acted on
 * (handed off or refused), 1 when ignored as a duplicate.
 */
int snap_request(struct vigil_session *s, const struct vigil_snapshot_request *rq);
/* A new epoch: forget the answered ids. */
void snap_epoch_reset(struct vigil_session *s);

#endif /* VIGIL_HOST_SNAPSHOT_H */
