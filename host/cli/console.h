/* SPDX-License-Identifier: MIT */
/*
 * console: the guest's serial console split into lines. The lines go to
 * the session (vigil_session_console_line), which judges them with the
 * same classifier as the DMESG stream (vigil_kernel_line_classify): one
 * place decides what a panic, an Oops or an OOM kill looks like.
 *
 * Owns: the line splitter (CR and control bytes dropped, over-long lines
 * cut and counted) and its counters. Fixed size, no allocation.
 * Expected load: a quiet console under loglevel=4, bursts of a few KiB
 * when a kernel dies.
 */
#ifndef VIGIL_CLI_CONSOLE_H
#define VIGIL_CLI_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_CON_LINE_MAX 512 /* kept bytes of one line */

struct vigil_console {
	char line[VIGIL_CON_LINE_MAX + 1]; /* the line being assembled */
	size_t len;
	bool cut; /* the current line was over the limit */
	uint64_t lines, bytes, long_lines;
};

/* Called for every complete line (NUL-terminated, no newline). */
typedef void (*vigil_console_fn)(void *ctx, const char *line, size_t len);

void vigil_console_init(struct vigil_console *c);
/* Bytes from the console, any split. */
void vigil_console_feed(struct vigil_console *c, const char *buf, size_t len, vigil_console_fn fn,
			void *ctx);
/* End of stream: a last line without newline is delivered. */
void vigil_console_flush(struct vigil_console *c, vigil_console_fn fn, void *ctx);

#endif /* VIGIL_CLI_CONSOLE_H */
