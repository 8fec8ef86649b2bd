/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the recording reader (host/cli/record.c) that
 * `vigil decode` runs on any file it is given. Every record it returns
 * must lie inside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "record.h"

/* Checked in every build type (assert would vanish under NDEBUG). */
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vigil_rec_reader r;
	struct vigil_rec rec;

	if (vigil_rec_reader_init(&r, data, size) != 1)
		return 0;
	CHECK((const uint8_t *)r.header + r.header_len <= data + size);
	while (vigil_rec_next(&r, &rec) == 1) {
		CHECK(rec.data >= data && rec.data + rec.len <= data + size);
		CHECK(rec.len <= VIGIL_REC_MAX);
	}
	return 0;
}
