/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/flows.c: open/close/reopen accounting, byte and packet
 * deltas, distinct keys per family and tuple, a full table reclaiming the
 * oldest closed flow first, drops when every flow is open, orphan closes,
 * and a random run checked against a naive reference count.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flows.h"

static struct vigil_flow fl(uint16_t sport, uint8_t event, uint64_t bytes)
{
	struct vigil_flow f = { 0 };

	f.family = 4;
	f.protocol = 6;
	f.event = event;
	f.src_port = sport;
	f.dst_port = 443;
	f.src_addr[0] = 10;
	f.dst_addr[0] = 192;
	f.bytes = bytes;
	f.packets = (uint32_t)(bytes / 100);
	return f;
}

static void test_open_close_reopen(void **state)
{
	struct flows *ft;
	struct vigil_flow f = fl(1000, VIGIL_FLOW_OPENED, 0);

	(void)state;
	assert_int_equal(flows_new(16, &ft), 0);
	assert_int_equal(flows_record(ft, &f, NULL), 1);
	assert_int_equal(flows_record(ft, &f, NULL), 0); /* a repeated OPENED */
	f.event = VIGIL_FLOW_ACTIVE;
	f.bytes = 500;
	f.packets = 5;
	assert_int_equal(flows_record(ft, &f, NULL), 0);
	f.bytes = 300; /* counts never go back */
	assert_int_equal(flows_record(ft, &f, NULL), 0);
	f.event = VIGIL_FLOW_CLOSED;
	f.bytes = 800;
	const struct flow_ent *en = NULL;

	assert_int_equal(flows_record(ft, &f, &en), FLOW_CHANGE_CLOSED);
	assert_non_null(en);
	assert_int_equal(en->bytes, 800);
	assert_int_equal(en->packets, 5);
	assert_int_equal(en->open, 0);
	/* A second CLOSED changes nothing. */
	assert_int_equal(flows_record(ft, &f, &en), FLOW_CHANGE_NONE);
	assert_non_null(en);
	assert_int_equal(ft->st.bytes, 800);
	assert_int_equal(ft->st.packets, 5);
	assert_int_equal(ft->st.open_now, 0);
	assert_int_equal(ft->st.closed, 1);
	f.event = VIGIL_FLOW_OPENED;
	assert_int_equal(flows_record(ft, &f, NULL), 1); /* reopened */
	assert_int_equal(ft->st.opened, 2);
	assert_int_equal(ft->st.unique, 1);
	assert_int_equal(ft->st.open_now, 1);
	assert_int_equal(ft->st.events, 7);
	flows_free(ft);
}

static void test_keys_distinct(void **state)
{
	struct flows *ft;
	struct vigil_flow a = fl(1, VIGIL_FLOW_OPENED, 0);
	struct vigil_flow b = a;

	(void)state;
	assert_int_equal(flows_new(16, &ft), 0);
	b.family = 6;
	assert_int_equal(flows_record(ft, &a, NULL), 1);
	assert_int_equal(flows_record(ft, &b, NULL), 1);
	b = a;
	b.protocol = 17;
	assert_int_equal(flows_record(ft, &b, NULL), 1);
	b = a;
	b.dst_addr[15] = 1;
	assert_int_equal(flows_record(ft, &b, NULL), 1);
	b = a;
	b.dst_port = 444;
	assert_int_equal(flows_record(ft, &b, NULL), 1);
	assert_int_equal(ft->st.unique, 5);
	assert_non_null(flows_find(ft, &a));
	flows_free(ft);
}

static void test_full_reclaims_oldest_closed(void **state)
{
	struct flows *ft;

	(void)state;
	assert_int_equal(flows_new(16, &ft), 0);
	for (uint16_t p = 0; p < 16; p++) {
		struct vigil_flow f = fl(p, VIGIL_FLOW_OPENED, 0);

		assert_int_equal(flows_record(ft, &f, NULL), 1);
	}
	/* Close 5 then 3: 5 closed first is the oldest. */
	struct vigil_flow c5 = fl(5, VIGIL_FLOW_CLOSED, 0), c3 = fl(3, VIGIL_FLOW_CLOSED, 0);

	flows_record(ft, &c5, NULL);
	flows_record(ft, &c3, NULL);
	struct vigil_flow n = fl(100, VIGIL_FLOW_OPENED, 0);

	assert_int_equal(flows_record(ft, &n, NULL), 1);
	assert_int_equal(ft->st.table_full, 1);
	assert_int_equal(ft->st.reclaimed, 1);
	assert_null(flows_find(ft, &c5));
	assert_non_null(flows_find(ft, &c3));
	n.src_port = 101;
	assert_int_equal(flows_record(ft, &n, NULL), 1);
	assert_null(flows_find(ft, &c3));
	/* Everything open now: the next new key is dropped, counted. */
	n.src_port = 102;
	const struct flow_ent *en = &ft->ent[0];

	assert_int_equal(flows_record(ft, &n, &en), -ENOSPC);
	assert_null(en);
	assert_int_equal(ft->st.dropped, 1);
	assert_int_equal(ft->st.table_full, 3);
	assert_int_equal(ft->st.in_table, 16);
	/* Existing flows still update. */
	struct vigil_flow u = fl(0, VIGIL_FLOW_ACTIVE, 1000);

	assert_int_equal(flows_record(ft, &u, NULL), 0);
	assert_int_equal(ft->st.bytes, 1000);
	flows_free(ft);
}

/* A record with no peer is a listening socket: counted once per opening. */
static void test_listening(void **state)
{
	struct flows *ft;
	struct vigil_flow l = fl(8080, VIGIL_FLOW_OPENED, 0);
	struct vigil_flow c = fl(8080, VIGIL_FLOW_OPENED, 0);

	(void)state;
	l.dst_port = 0;
	memset(l.dst_addr, 0, sizeof(l.dst_addr));
	assert_int_equal(flows_new(16, &ft), 0);
	assert_int_equal(flows_record(ft, &l, NULL), FLOW_CHANGE_OPENED);
	assert_int_equal(flows_record(ft, &l, NULL), FLOW_CHANGE_NONE);
	assert_int_equal(flows_record(ft, &c, NULL), FLOW_CHANGE_OPENED); /* a connection */
	assert_int_equal(ft->st.listening, 1);
	l.event = VIGIL_FLOW_CLOSED;
	assert_int_equal(flows_record(ft, &l, NULL), FLOW_CHANGE_CLOSED);
	l.event = VIGIL_FLOW_OPENED;
	assert_int_equal(flows_record(ft, &l, NULL), FLOW_CHANGE_OPENED); /* listens again */
	assert_int_equal(ft->st.listening, 2);
	assert_int_equal(ft->st.opened, 3);
	/* A peer port alone (or a peer address alone) is not a listener. */
	c.dst_port = 0;
	c.src_port = 1;
	assert_int_equal(flows_record(ft, &c, NULL), FLOW_CHANGE_OPENED);
	assert_int_equal(ft->st.listening, 2);
	flows_free(ft);
}

static void test_orphan_close(void **state)
{
	struct flows *ft;
	struct vigil_flow f = fl(9, VIGIL_FLOW_CLOSED, 4096);

	(void)state;
	const struct flow_ent *en = NULL;

	assert_int_equal(flows_new(16, &ft), 0);
	en = (const struct flow_ent *)ft; /* any non-NULL value: must be cleared */
	assert_int_equal(flows_record(ft, &f, &en), FLOW_CHANGE_CLOSED);
	assert_null(en);
	assert_int_equal(ft->st.orphan_close, 1);
	assert_int_equal(ft->st.bytes, 4096);
	assert_int_equal(ft->st.in_table, 0);
	/* An ACTIVE for an unseen flow opens it (its OPENED was missed). */
	f.event = VIGIL_FLOW_ACTIVE;
	assert_int_equal(flows_record(ft, &f, &en), FLOW_CHANGE_OPENED);
	assert_ptr_equal(en, flows_find(ft, &f));
	assert_int_equal(ft->st.open_now, 1);
	assert_int_equal(flows_new(8, &ft), -EINVAL);
	flows_free(NULL);
	flows_free(ft);
}

/* Random events on 64 keys in a 32-entry table; the in-table, open and
 * closed counts must match a plain recount of the entries. */
static void test_random_consistency(void **state)
{
	struct flows *ft;
	uint64_t x = 88172645463325252ull;

	(void)state;
	assert_int_equal(flows_new(32, &ft), 0);
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		struct vigil_flow f = fl((uint16_t)(x % 64), (uint8_t)(1 + (x >> 8) % 3), x >> 40);

		flows_record(ft, &f, NULL);
		if (i % 997)
			continue;
		uint32_t used = 0, open = 0, closed_list = 0;

		for (uint32_t e = 0; e < ft->capacity; e++) {
			used += ft->ent[e].in_use;
			open += ft->ent[e].in_use && ft->ent[e].open;
		}
		for (uint32_t e = ft->closed_head; e != FLOW_NIL; e = ft->ent[e].next)
			closed_list++;
		assert_int_equal(used, ft->st.in_table);
		assert_int_equal(open, ft->st.open_now);
		assert_int_equal(closed_list, used - open);
		assert_int_equal(used + ft->free_n + (ft->capacity - ft->fresh), ft->capacity);
		/* Every in-use entry is findable through the index. */
		for (uint32_t e = 0; e < ft->capacity; e++) {
			if (!ft->ent[e].in_use)
				continue;
			struct vigil_flow q = { 0 };

			q.family = ft->ent[e].k.family;
			q.protocol = ft->ent[e].k.protocol;
			q.src_port = ft->ent[e].k.src_port;
			q.dst_port = ft->ent[e].k.dst_port;
			memcpy(q.src_addr, ft->ent[e].k.src_addr, 16);
			memcpy(q.dst_addr, ft->ent[e].k.dst_addr, 16);
			assert_ptr_equal(flows_find(ft, &q), &ft->ent[e]);
		}
	}
	assert_true(ft->st.reclaimed > 0);
	flows_free(ft);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_close_reopen),
		cmocka_unit_test(test_keys_distinct),
		cmocka_unit_test(test_full_reclaims_oldest_closed),
		cmocka_unit_test(test_listening),
		cmocka_unit_test(test_orphan_close),
		cmocka_unit_test(test_random_consistency),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
