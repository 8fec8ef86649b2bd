/* SPDX-License-Identifier: MIT */
/* libFuzzer: /dev/kmsg records (kmsg_parse) and sched_ext lines (scx_parse_line). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kmsg.h"
#include "scx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[KMSG_REC_MAX], reason[SCX_REASON_MAX];
	struct kmsg_rec r;
	uint32_t kind;

	if (size > KMSG_REC_MAX)
		return 0;
	if (kmsg_parse((const char *)data, size, text, sizeof(text), &r) == 0) {
		if (r.text_len > sizeof(text) || r.level > 7)
			__builtin_trap();
		scx_parse_line(r.text, r.text_len, &kind, reason, sizeof(reason));
	}
	/* A cut output buffer must hold. */
	kmsg_parse((const char *)data, size, text, 3, &r);
	if (scx_parse_line((const char *)data, size, &kind, reason, sizeof(reason)) &&
	    strlen(reason) >= sizeof(reason))
		__builtin_trap();
	return 0;
}
