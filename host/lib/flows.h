/* SPDX-License-Identifier: MIT */
/*
 * Flow table: the network flows one guest reports (FLOW records).
 *
 * Owns a bounded table of flows keyed by family + protocol + 5-tuple
 * (addresses and ports), with an open-addressed index (linear probing,
 * load factor <= 0.5, probe budget FLOW_PROBE_BUDGET, backward-shift
 * deletion) and a list of closed flows in the order they closed. When the
 * table is full a new key reclaims the oldest closed flow; with none closed
 * the record is dropped. Every bound hit is counted. All memory comes from
 * flows_new(); flows_record() never allocates.
 *
 * Expected load: a few thousand flows, up to ~10^5 records/s.
 */
#ifndef VIGIL_HOST_FLOWS_H
#define VIGIL_HOST_FLOWS_H

#include <stdint.h>
#include <string.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#define FLOW_PROBE_BUDGET 32u
#define FLOW_NIL          UINT32_MAX

struct flow_key {
	uint8_t family;
	uint8_t protocol;
	uint16_t src_port;
	uint16_t dst_port;
	uint8_t pad[2]; /* always zero: keys compare with memcmp */
	uint8_t src_addr[16];
	uint8_t dst_addr[16];
};

struct flow_ent {
	struct flow_key k;
	uint32_t hash;          /* of k, for the index */
	uint32_t prev, next;    /* closed list, FLOW_NIL at the ends */
	uint64_t first_seen_ns; /* guest ns from the first record */
	uint64_t bytes;         /* largest count reported */
	uint32_t packets;
	uint32_t pid;
	uint8_t in_use;
	uint8_t open;
};

struct flows {
	uint32_t capacity;
	struct flow_ent *ent; /* [capacity] */
	uint32_t *ix;         /* [ix_mask + 1] entry number + 1, 0 empty */
	uint32_t ix_mask;
	uint32_t *free_stack; /* [capacity]: entries given back */
	uint32_t free_n;
	uint32_t fresh;                    /* entries [fresh, capacity) never used: taken in order,
					      so a table's memory is touched only as it fills */
	uint32_t closed_head, closed_tail; /* oldest, newest closed */
	struct vigil_flow_counters st;
};

/*
 * A listening socket: a record with no peer (dst_port 0, dst_addr all
 * zero; docs/wire.md, "Listening sockets").
 */
static inline int flow_is_listen(const struct vigil_flow *f)
{
	static const uint8_t zero[16];

	return f->dst_port == 0 && memcmp(f->dst_addr, zero, sizeof(zero)) == 0;
}

/* capacity 16..VIGIL_FLOWS_MAX_CAPACITY. 0, -EINVAL, -ENOMEM. */
int flows_new(uint32_t capacity, struct flows **out);
void flows_free(struct flows *ft);

/* What one record changed (flows_record's non-negative results). */
enum flow_change {
	FLOW_CHANGE_NONE = 0,   /* updated counts only, or a repeat */
	FLOW_CHANGE_OPENED = 1, /* a new key, a reopened closed one, or a first ACTIVE */
	FLOW_CHANGE_CLOSED = 2, /* an open flow closed, or a CLOSED for an unknown one */
};

/*
 * Apply one well-formed flow record. Returns an enum flow_change (OPENED:
 * the caller credits the running scenario), or -ENOSPC when it was dropped.
 * *ent (when ent is not NULL) is set to the flow's entry, or NULL when the
 * record left none (dropped, or an orphan CLOSED); valid until the next call.
 */
int flows_record(struct flows *ft, const struct vigil_flow *f, const struct flow_ent **ent);

/* The entry for a key, or NULL. */
const struct flow_ent *flows_find(const struct flows *ft, const struct vigil_flow *f);

static inline const struct vigil_flow_counters *flows_counters(const struct flows *ft)
{
	return &ft->st;
}

#endif /* VIGIL_HOST_FLOWS_H */
