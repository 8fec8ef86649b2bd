/* SPDX-License-Identifier: MIT */
/*
 * Counter descriptors: the table of counters.h expanded into the public
 * descriptors, the anomaly list, and the reads over them
 * (vigil_session_counter_descs, vigil_counter_value, vigil_counter_label).
 * Const data and pure functions; see counters.h for what the table holds.
 */
#include <stddef.h>
#include <string.h>

#include "counters.h"

typedef struct vigil_session_counters ctr_t;

#define CTR_UNIT_COUNT    ""
#define CTR_UNIT_BYTES    "bytes"
#define CTR_UNIT_SECONDS  "seconds"
#define CTR_SCALE_COUNT   1u
#define CTR_SCALE_BYTES   1u
#define CTR_SCALE_SECONDS 1000000000u /* kept in ns */

#define CTR_MEMBER_SIZE(m)  ((uint8_t)sizeof(((ctr_t *)0)->m))
#define CTR_ARRAY_COUNT(a)  ((uint16_t)(sizeof(((ctr_t *)0)->a) / sizeof(((ctr_t *)0)->a[0])))
#define CTR_ARRAY_STRIDE(a) ((uint16_t)sizeof(((ctr_t *)0)->a[0]))

/* Macro parameters end in _ where a bare name would hit a designator. */
#define CTR_DESC_S(group_, base_, key_, name_, unit_, kind_, help_)                                \
	{                                                                                          \
		.name = name_,                                                                     \
		.group = #group_,                                                                  \
		.field = #key_,                                                                    \
		.unit = CTR_UNIT_##unit_,                                                          \
		.help = help_,                                                                     \
		.kind = VIGIL_##kind_,                                                             \
		.index = VIGIL_COUNTER_SCALAR,                                                     \
		.scale = CTR_SCALE_##unit_,                                                        \
		.offset = offsetof(ctr_t, base_ key_),                                             \
		.size = CTR_MEMBER_SIZE(base_ key_),                                               \
		.count = 1,                                                                        \
		.stride = 0,                                                                       \
	},
#define CTR_DESC_A(group_, array_, key_, name_, unit_, kind_, index_, label_, help_)               \
	{                                                                                          \
		.name = name_,                                                                     \
		.group = #group_,                                                                  \
		.field = #key_,                                                                    \
		.unit = CTR_UNIT_##unit_,                                                          \
		.help = help_,                                                                     \
		.kind = VIGIL_##kind_,                                                             \
		.index = VIGIL_COUNTER_##index_,                                                   \
		.label = label_,                                                                   \
		.scale = CTR_SCALE_##unit_,                                                        \
		.offset = offsetof(ctr_t, array_[0].key_),                                         \
		.size = CTR_MEMBER_SIZE(array_[0].key_),                                           \
		.count = CTR_ARRAY_COUNT(array_),                                                  \
		.stride = CTR_ARRAY_STRIDE(array_),                                                \
	},
#define CTR_DESC_L(group_, array_, name_, unit_, kind_, index_, label_, help_)                     \
	{                                                                                          \
		.name = name_,                                                                     \
		.group = #group_,                                                                  \
		.field = NULL,                                                                     \
		.unit = CTR_UNIT_##unit_,                                                          \
		.help = help_,                                                                     \
		.kind = VIGIL_##kind_,                                                             \
		.index = VIGIL_COUNTER_##index_,                                                   \
		.label = label_,                                                                   \
		.scale = CTR_SCALE_##unit_,                                                        \
		.offset = offsetof(ctr_t, array_[0]),                                              \
		.size = CTR_MEMBER_SIZE(array_[0]),                                                \
		.count = CTR_ARRAY_COUNT(array_),                                                  \
		.stride = CTR_ARRAY_STRIDE(array_),                                                \
	},

const struct vigil_counter_desc ctr_descs[CTR__COUNT] = { CTR_TABLE(CTR_DESC_S, CTR_DESC_A,
								    CTR_DESC_L) };

/* In report order (docs/events.md, "Anomaly counters"). */
const struct ctr_anomaly ctr_anomalies[CTR_ANOMALIES] = {
	{ CTR_stream_garbage_bytes, false },
	{ CTR_stream_header_crc_errors, false },
	{ CTR_stream_oversize_frames, false },
	{ CTR_stream_lost_frames, false },
	{ CTR_stream_seq_regressions, false },
	{ CTR_stream_payload_crc_errors, false },
	{ CTR_stream_held_dropped_bytes, false },
	{ CTR_stream_unknown_type, false },
	{ CTR_stream_wrong_direction, false },
	{ CTR_types_crc_rejected, false },
	{ CTR_types_malformed, false },
	{ CTR_tracker_drop_out_of_order, false },
	{ CTR_tracker_drop_capacity, false },
	{ CTR_tracker_drop_origin_conflict, false },
	{ CTR_tracker_drop_namespace_conflict, false },
	{ CTR_tracker_drop_rate_limited, false },
	{ CTR_tracker_drop_throttled, false },
	{ CTR_flows_table_full, true },
	{ CTR_flows_dropped, true },
	{ CTR_session_tx_errors, false },
	{ CTR_session_clock_regressions, false },
	{ CTR_session_clock_forward_jumps, false },
	{ CTR_session_strings_truncated, false },
	{ CTR_inspect_refused, true },
	{ CTR_inspect_infos_dropped, true },
};

const struct vigil_counter_desc *vigil_session_counter_descs(size_t *n)
{
	if (n)
		*n = CTR__COUNT;
	return ctr_descs;
}

uint64_t vigil_counter_value_at(const struct vigil_session_counters *c,
				const struct vigil_counter_desc *d, uint32_t i)
{
	const unsigned char *p;
	uint32_t v32;
	uint64_t v64;

	size_t at = d->offset + (size_t)i * d->stride;

	if (i >= d->count || at + d->size > c->sz)
		return 0; /* past the caller's struct: a counter it does not know */
	p = (const unsigned char *)c + at;
	if (d->size == sizeof(v32)) {
		memcpy(&v32, p, sizeof(v32));
		return v32;
	}
	memcpy(&v64, p, sizeof(v64));
	return v64;
}

uint64_t vigil_counter_value(const struct vigil_session_counters *c,
			     const struct vigil_counter_desc *d)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < d->count; i++)
		sum += vigil_counter_value_at(c, d, i);
	return sum;
}

const char *vigil_counter_label(const struct vigil_counter_desc *d, uint32_t i)
{
	if (i >= d->count)
		return NULL;
	switch (d->index) {
	case VIGIL_COUNTER_BY_MSG_TYPE:
		return i > 0 ? vigil_msg_name((uint16_t)i) : NULL;
	case VIGIL_COUNTER_BY_KERNEL_TROUBLE:
		return i > VIGIL_KT_NONE ? vigil_kernel_trouble_name((enum vigil_kernel_trouble)i)
					 : NULL;
	case VIGIL_COUNTER_SCALAR:
		break;
	}
	return NULL;
}
