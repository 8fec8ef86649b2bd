/* SPDX-License-Identifier: MIT */
/*
 * Flow table (see flows.h for what it owns, its limits and load).
 *
 * Invariants: an in_use entry is in the index exactly once; a closed in_use
 * entry is on the closed list exactly once, an open one never; a free entry
 * is on the free stack or above fresh (never used). st.open_now counts open entries, st.in_table
 * in_use ones.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

static void key_of(const struct vigil_flow *f, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = f->family;
	k->protocol = f->protocol;
	k->src_port = f->src_port;
	k->dst_port = f->dst_port;
	memcpy(k->src_addr, f->src_addr, sizeof(k->src_addr));
	memcpy(k->dst_addr, f->dst_addr, sizeof(k->dst_addr));
}

static uint32_t key_hash(const struct flow_key *k)
{
	/* CRC32C spreads well and runs on the crc32 instruction; the final
	 * multiply breaks up its linearity in the low bits we index by. */
	uint32_t h = vigil_crc32c(k, sizeof(*k));

	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

/* Index position of key, or FLOW_NIL. */
static uint32_t ix_lookup(const struct flows *ft, const struct flow_key *k, uint32_t h)
{
	uint32_t pos = h & ft->ix_mask;

	if (!ft->ix)
		return FLOW_NIL; /* nothing inserted yet */
	for (uint32_t i = 0; i < FLOW_PROBE_BUDGET; i++) {
		uint32_t e = ft->ix[pos];

		if (e == 0)
			return FLOW_NIL;
		if (ft->ent[e - 1].hash == h && memcmp(&ft->ent[e - 1].k, k, sizeof(*k)) == 0)
			return pos;
		pos = (pos + 1) & ft->ix_mask;
	}
	return FLOW_NIL;
}

static uint32_t ix_free_pos(const struct flows *ft, uint32_t h)
{
	uint32_t pos = h & ft->ix_mask;

	for (uint32_t i = 0; i < FLOW_PROBE_BUDGET; i++) {
		if (ft->ix[pos] == 0)
			return pos;
		pos = (pos + 1) & ft->ix_mask;
	}
	return FLOW_NIL;
}

static void ix_delete(struct flows *ft, uint32_t pos)
{
	uint32_t hole = pos;
	uint32_t cur = pos;

	for (;;) {
		cur = (cur + 1) & ft->ix_mask;
		if (ft->ix[cur] == 0)
			break;
		uint32_t home = ft->ent[ft->ix[cur] - 1].hash & ft->ix_mask;

		if (((cur - home) & ft->ix_mask) >= ((cur - hole) & ft->ix_mask)) {
			ft->ix[hole] = ft->ix[cur];
			hole = cur;
		}
	}
	ft->ix[hole] = 0;
}

static void closed_unlink(struct flows *ft, uint32_t e)
{
	struct flow_ent *en = &ft->ent[e];

	if (en->prev != FLOW_NIL)
		ft->ent[en->prev].next = en->next;
	else
		ft->closed_head = en->next;
	if (en->next != FLOW_NIL)
		ft->ent[en->next].prev = en->prev;
	else
		ft->closed_tail = en->prev;
	en->prev = en->next = FLOW_NIL;
}

static void closed_append(struct flows *ft, uint32_t e)
{
	struct flow_ent *en = &ft->ent[e];

	en->prev = ft->closed_tail;
	en->next = FLOW_NIL;
	if (ft->closed_tail != FLOW_NIL)
		ft->ent[ft->closed_tail].next = e;
	else
		ft->closed_head = e;
	ft->closed_tail = e;
}

/* Free the oldest closed flow. Returns 0 or -ENOSPC when none is closed. */
static int reclaim_oldest_closed(struct flows *ft)
{
	uint32_t e = ft->closed_head;

	if (e == FLOW_NIL)
		return -ENOSPC;
	struct flow_ent *en = &ft->ent[e];
	uint32_t pos = ix_lookup(ft, &en->k, en->hash);

	closed_unlink(ft, e);
	if (pos != FLOW_NIL)
		ix_delete(ft, pos);
	en->in_use = 0;
	ft->free_stack[ft->free_n++] = e;
	ft->st.in_table--;
	ft->st.reclaimed++;
	return 0;
}

static void account(struct flows *ft, struct flow_ent *en, const struct vigil_flow *f)
{
	if (f->bytes > en->bytes) {
		ft->st.bytes += f->bytes - en->bytes;
		en->bytes = f->bytes;
	}
	if (f->packets > en->packets) {
		ft->st.packets += f->packets - en->packets;
		en->packets = f->packets;
	}
	if (f->pid)
		en->pid = f->pid;
}

/* Add a new key. Returns its entry number, or -ENOSPC (dropped, counted). */
static int insert(struct flows *ft, const struct flow_key *k, uint32_t h,
		  const struct vigil_flow *f)
{
	uint32_t pos = ix_free_pos(ft, h);

	if (ft->free_n == 0 && ft->fresh == ft->capacity) {
		ft->st.table_full++;
		if (reclaim_oldest_closed(ft) < 0) {
			ft->st.dropped++;
			return -ENOSPC;
		}
		pos = ix_free_pos(ft, h);
	}
	if (pos == FLOW_NIL) {
		/* A run of colliding keys filled the probe budget: the table is
		 * full along this key's path. */
		ft->st.table_full++;
		ft->st.dropped++;
		return -ENOSPC;
	}
	uint32_t e = ft->free_n ? ft->free_stack[--ft->free_n] : ft->fresh++;
	struct flow_ent *en = &ft->ent[e];

	memset(en, 0, sizeof(*en));
	en->k = *k;
	en->hash = h;
	en->prev = en->next = FLOW_NIL;
	en->first_seen_ns = f->first_seen_ns;
	en->in_use = 1;
	en->open = 1;
	ft->ix[pos] = e + 1;
	ft->st.in_table++;
	ft->st.unique++;
	ft->st.opened++;
	ft->st.listening += (uint64_t)flow_is_listen(f);
	ft->st.open_now++;
	account(ft, en, f);
	return (int)e;
}

/*
 * The arrays are allocated at the first insert, not at creation: a guest
 * that reports no flow (most of a fleet) costs no flow memory. -ENOMEM
 * drops the record (counted).
 */
static int arrays_alloc(struct flows *ft)
{
	if (ft->ix)
		return 0;
	ft->ent = calloc(ft->capacity, sizeof(*ft->ent));
	ft->ix = calloc(ft->ix_mask + 1, sizeof(*ft->ix));
	ft->free_stack = calloc(ft->capacity, sizeof(*ft->free_stack));
	if (ft->ent && ft->ix && ft->free_stack)
		return 0;
	free(ft->ent);
	free(ft->ix);
	free(ft->free_stack);
	ft->ent = NULL;
	ft->ix = NULL;
	ft->free_stack = NULL;
	ft->st.dropped++;
	return -ENOMEM;
}

int flows_record(struct flows *ft, const struct vigil_flow *f, const struct flow_ent **ent)
{
	struct flow_key k;
	uint32_t h;
	uint32_t pos;

	if (ent)
		*ent = NULL;
	key_of(f, &k);
	h = key_hash(&k);
	pos = ix_lookup(ft, &k, h);
	if (pos == FLOW_NIL) {
		if (f->event == VIGIL_FLOW_CLOSED) {
			/* Opened before we listened (or reclaimed): its totals
			 * still count, there is nothing to close. */
			ft->st.events++;
			ft->st.orphan_close++;
			ft->st.bytes += f->bytes;
			ft->st.packets += f->packets;
			return FLOW_CHANGE_CLOSED;
		}
		int r = arrays_alloc(ft);

		if (r == 0)
			r = insert(ft, &k, h, f);
		if (r < 0)
			return r;
		ft->st.events++;
		if (ent)
			*ent = &ft->ent[r];
		return FLOW_CHANGE_OPENED;
	}

	uint32_t e = ft->ix[pos] - 1;
	struct flow_ent *en = &ft->ent[e];
	int change = FLOW_CHANGE_NONE;

	ft->st.events++;
	account(ft, en, f);
	if (f->event == VIGIL_FLOW_CLOSED && en->open) {
		en->open = 0;
		ft->st.open_now--;
		ft->st.closed++;
		closed_append(ft, e);
		change = FLOW_CHANGE_CLOSED;
	} else if (f->event == VIGIL_FLOW_OPENED && !en->open) {
		closed_unlink(ft, e);
		en->open = 1;
		ft->st.open_now++;
		ft->st.opened++;
		ft->st.listening += (uint64_t)flow_is_listen(f);
		change = FLOW_CHANGE_OPENED;
	}
	if (ent)
		*ent = en;
	return change;
}

const struct flow_ent *flows_find(const struct flows *ft, const struct vigil_flow *f)
{
	struct flow_key k;
	uint32_t h;
	uint32_t pos;

	key_of(f, &k);
	h = key_hash(&k);
	pos = ix_lookup(ft, &k, h);
	return pos == FLOW_NIL ? NULL : &ft->ent[ft->ix[pos] - 1];
}

int flows_new(uint32_t capacity, struct flows **out)
{
	struct flows *ft;
	uint32_t ix_size = 1;

	if (capacity < 16 || capacity > VIGIL_FLOWS_MAX_CAPACITY)
		return -EINVAL;
	while (ix_size < 2 * capacity)
		ix_size <<= 1;
	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return -ENOMEM;
	ft->capacity = capacity;
	ft->ix_mask = ix_size - 1;
	ft->free_n = 0;
	ft->fresh = 0;
	ft->closed_head = ft->closed_tail = FLOW_NIL;
	*out = ft;
	return 0;
}

void flows_free(struct flows *ft)
{
	if (!ft)
		return;
	free(ft->ent);
	free(ft->ix);
	free(ft->free_stack);
	free(ft);
}
