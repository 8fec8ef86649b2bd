/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the recording reader (host/loop/record.c) that
 * `vigil decode` runs on any file it is given, and the reader of the
 * two-number records (SNAPSHOT_DONE, VMM_EXITED). Every record it returns
 * must lie inside the input; a pair's text is NUL-terminated within its
 * bound.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[VIGIL_REC_TEXT_MAX + 1];
	struct vigil_rec_reader r;
	struct vigil_rec rec;
	uint32_t a, b;

	if (vigil_rec_reader_init(&r, data, size) != 1)
		return 0;
	CHECK((const uint8_t *)r.header + r.header_len <= data + size);
	while (vigil_rec_next(&r, &rec) == 1) {
		CHECK(rec.data >= data && rec.data + rec.len <= data + size);
		CHECK(rec.len <= VIGIL_REC_MAX);
		if ((rec.kind == VIGIL_REC_SNAPSHOT_DONE || rec.kind == VIGIL_REC_VMM_EXITED) &&
		    vigil_rec_pair(&rec, &a, &b, text) == 0)
			CHECK(memchr(text, '\0', sizeof(text)) != NULL);
	}
	return 0;
}
