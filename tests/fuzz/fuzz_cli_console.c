/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the serial console's line splitter (host/cli/console.c)
 * on arbitrary guest bytes, split at a point taken from the input. Checks
 * the bounds it promises: every delivered line stays in its limit and is
 * terminated, every byte is counted, nothing is held after the flush.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "fuzz_check.h"

static void on_line(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	CHECK(len <= VIGIL_CON_LINE_MAX);
	CHECK(strlen(line) == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vigil_console c;
	size_t cut = size ? data[0] % (size + 1) : 0;

	vigil_console_init(&c);
	vigil_console_feed(&c, (const char *)data, cut, on_line, NULL);
	vigil_console_feed(&c, (const char *)data + cut, size - cut, on_line, NULL);
	vigil_console_flush(&c, on_line, NULL);
	CHECK(c.bytes == size);
	CHECK(c.len == 0); /* flushed */
	return 0;
}
