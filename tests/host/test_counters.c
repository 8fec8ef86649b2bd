/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/counters.c: the counter table covers every byte of
 * struct vigil_session_counters exactly once; names are unique, snake_case
 * and carry their base unit; groups are contiguous; values, sums and labels
 * read the right fields (u32 and u64, scalars and arrays); the anomaly list
 * names the counters docs/events.md lists, in its order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "counters.h"

static const struct vigil_counter_desc *descs(size_t *n)
{
	const struct vigil_counter_desc *d = vigil_session_counter_descs(n);

	assert_non_null(d);
	assert_int_equal(*n, CTR__COUNT);
	return d;
}

/* Every byte of the struct but sz is described once: no field missed, none
 * twice. */
static void test_covers_struct_once(void **state)
{
	static uint8_t seen[sizeof(struct vigil_session_counters)];
	size_t n;
	const struct vigil_counter_desc *d = descs(&n);

	(void)state;
	memset(seen, 0, sizeof(seen));
	memset(seen, 1, sizeof(size_t)); /* sz: the caller's, not a counter */
	for (size_t i = 0; i < n; i++) {
		assert_true(d[i].size == 4 || d[i].size == 8);
		assert_true(d[i].count >= 1);
		assert_true(d[i].count == 1 || d[i].stride >= d[i].size);
		for (uint32_t e = 0; e < d[i].count; e++) {
			size_t at = d[i].offset + (size_t)e * d[i].stride;

			assert_true(at + d[i].size <= sizeof(seen));
			for (size_t b = 0; b < d[i].size; b++)
				seen[at + b]++;
		}
	}
	for (size_t b = 0; b < sizeof(seen); b++) {
		if (seen[b] != 1)
			fail_msg("byte %zu of struct vigil_session_counters described %u times", b,
				 seen[b]);
	}
}

static bool snake_case(const char *s)
{
	if (!s || !(*s >= 'a' && *s <= 'z'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return s[-1] != '_';
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && !strcmp(s + a - b, tail);
}

/* Names fit an exporter: unique, snake_case, the base unit as suffix. */
static void test_names_and_units(void **state)
{
	size_t n;
	const struct vigil_counter_desc *d = descs(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		assert_true(snake_case(d[i].name));
		assert_true(snake_case(d[i].group));
		assert_true(d[i].field == NULL || snake_case(d[i].field));
		assert_non_null(d[i].help);
		assert_true(strlen(d[i].help) > 10 && ends_with(d[i].help, "."));
		assert_false(ends_with(d[i].name, "_total")); /* the exporter adds it */
		assert_false(ends_with(d[i].name, "_ns"));    /* base units: seconds */
		if (!strcmp(d[i].unit, "seconds")) {
			assert_int_equal(d[i].scale, 1000000000u);
			assert_true(ends_with(d[i].name, "_seconds"));
		} else if (!strcmp(d[i].unit, "bytes")) {
			assert_int_equal(d[i].scale, 1);
			assert_true(ends_with(d[i].name, "_bytes"));
		} else {
			assert_string_equal(d[i].unit, "");
			assert_int_equal(d[i].scale, 1);
		}
		assert_true(d[i].kind == VIGIL_COUNTER || d[i].kind == VIGIL_GAUGE);
		assert_int_equal(d[i].index == VIGIL_COUNTER_SCALAR, d[i].label == NULL);
		assert_int_equal(d[i].index == VIGIL_COUNTER_SCALAR, d[i].count == 1);
		for (size_t j = 0; j < i; j++) {
			assert_true(strcmp(d[i].name, d[j].name) != 0);
			/* A JSON key is unique in its group. */
			if (d[i].field && d[j].field && !strcmp(d[i].group, d[j].group))
				assert_true(strcmp(d[i].field, d[j].field) != 0);
		}
	}
}

/* A group's rows are contiguous (the JSON writer makes one object each). */
static void test_groups_contiguous(void **state)
{
	size_t n;
	const struct vigil_counter_desc *d = descs(&n);

	(void)state;
	for (size_t i = 1; i < n; i++) {
		if (!strcmp(d[i].group, d[i - 1].group))
			continue;
		for (size_t j = 0; j < i; j++)
			assert_true(strcmp(d[i].group, d[j].group) != 0);
	}
}

static const struct vigil_counter_desc *find(const char *group, const char *field)
{
	size_t n;
	const struct vigil_counter_desc *d = descs(&n);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(d[i].group, group) &&
		    (field ? d[i].field && !strcmp(d[i].field, field) : !d[i].field))
			return &d[i];
	fail_msg("no counter %s.%s", group, field ? field : "(labels)");
	return NULL;
}

static void test_values_and_labels(void **state)
{
	struct vigil_session_counters c;
	const struct vigil_counter_desc *d;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.sz = sizeof(c);
	c.stream.garbage_bytes = 11;
	c.unknown_type = 12;
	c.rtt_max_ns = 1ull << 40;
	c.tracker.tracked = 0xfffffffeu; /* a u32 gauge next to another */
	c.tracker.stalled = 3;
	c.flows.open_now = 4;
	c.type[VIGIL_MSG_BEAT].malformed = 5;
	c.type[VIGIL_MSG_HELLO].malformed = 6;
	c.kernel_trouble[VIGIL_KT_OOM] = 7;

	assert_int_equal(vigil_counter_value(&c, find("stream", "garbage_bytes")), 11);
	assert_int_equal(vigil_counter_value(&c, find("stream", "unknown_type")), 12);
	assert_int_equal(vigil_counter_value(&c, find("session", "rtt_max_ns")), 1ull << 40);
	d = find("tracker", "tracked");
	assert_int_equal(d->size, 4);
	assert_int_equal(d->kind, VIGIL_GAUGE);
	assert_int_equal(vigil_counter_value(&c, d), 0xfffffffeu);
	assert_int_equal(vigil_counter_value(&c, find("tracker", "stalled")), 3);
	assert_int_equal(vigil_counter_value(&c, find("flows", "open_now")), 4);
	assert_null(vigil_counter_label(d, 0));

	d = find("types", "malformed");
	assert_int_equal(d->count, VIGIL_MSG_GUEST_TYPES);
	assert_int_equal(d->index, VIGIL_COUNTER_BY_MSG_TYPE);
	assert_string_equal(d->label, "type");
	assert_int_equal(vigil_counter_value_at(&c, d, VIGIL_MSG_BEAT), 5);
	assert_int_equal(vigil_counter_value_at(&c, d, VIGIL_MSG_GUEST_TYPES), 0); /* past end */
	assert_int_equal(vigil_counter_value(&c, d), 11);                          /* the sum */
	assert_string_equal(vigil_counter_label(d, VIGIL_MSG_BEAT), "BEAT");
	assert_null(vigil_counter_label(d, 0));
	assert_null(vigil_counter_label(d, VIGIL_MSG_GUEST_TYPES));

	d = find("kernel_trouble", NULL);
	assert_int_equal(d->count, VIGIL_KT__COUNT);
	assert_string_equal(d->label, "kind");
	assert_int_equal(vigil_counter_value_at(&c, d, VIGIL_KT_OOM), 7);
	assert_string_equal(vigil_counter_label(d, VIGIL_KT_OOM), "oom");
	assert_string_equal(vigil_counter_label(d, VIGIL_KT_RCU_STALL), "rcu_stall");
	assert_null(vigil_counter_label(d, VIGIL_KT_NONE));
}

/* The ANOMALY events' counter names, in report order (docs/events.md). */
static void test_anomaly_names(void **state)
{
	static const char *const want[] = {
		"garbage_bytes",
		"header_crc_errors",
		"oversize_frames",
		"lost_frames",
		"seq_regressions",
		"payload_crc_errors",
		"held_dropped_bytes",
		"unknown_type",
		"wrong_direction",
		"crc_rejected",
		"malformed",
		"drop_out_of_order",
		"drop_capacity",
		"drop_origin_conflict",
		"drop_namespace_conflict",
		"drop_rate_limited",
		"drop_throttled",
		"flows_table_full",
		"flows_dropped",
		"tx_errors",
		"clock_regressions",
		"clock_forward_jumps",
		"strings_truncated",
		"inspect_refused",
		"inspect_infos_dropped",
	};

	(void)state;
	assert_int_equal(CTR_ANOMALIES, sizeof(want) / sizeof(want[0]));
	for (uint32_t i = 0; i < CTR_ANOMALIES; i++)
		assert_string_equal(ctr_anomaly_name(&ctr_anomalies[i]), want[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_covers_struct_once), cmocka_unit_test(test_names_and_units),
		cmocka_unit_test(test_groups_contiguous),  cmocka_unit_test(test_values_and_labels),
		cmocka_unit_test(test_anomaly_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
