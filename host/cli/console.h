/* SPDX-License-Identifier: MIT */
/*
 * console: the guest's serial console, split into lines and scanned for
 * the signs of a sick kernel with the session's classifier
 * (vigil_kernel_line_classify: panic, Oops, BUG, WARNING, OOM kill, hung
 * task, soft lockup, RCU stall), so the console and the DMESG stream are
 * judged by the same patterns.
 *
 * Owns: the line splitter (CR and control bytes dropped, over-long lines
 * cut and counted), per-kind counters and a bounded
 * excerpt that starts at the first finding (VIGIL_CON_EXCERPT_LINES lines
 * or VIGIL_CON_EXCERPT_MAX bytes, whichever comes first), preceded by the
 * VIGIL_CON_CONTEXT lines before it. Fixed size, no allocation.
 * Expected load: a quiet console under loglevel=4, bursts of a few KiB
 * when a kernel dies.
 */
#ifndef VIGIL_CLI_CONSOLE_H
#define VIGIL_CLI_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/session.h>

#define VIGIL_CON_LINE_MAX      512  /* kept bytes of one line */
#define VIGIL_CON_EXCERPT_MAX   8192 /* bytes of the excerpt */
#define VIGIL_CON_EXCERPT_LINES 64
#define VIGIL_CON_CONTEXT       4 /* lines kept from before the finding */

struct vigil_console {
	char line[VIGIL_CON_LINE_MAX + 1]; /* the line being assembled */
	size_t len;
	bool cut; /* the current line was over the limit */
	char ctx[VIGIL_CON_CONTEXT][VIGIL_CON_LINE_MAX + 1]; /* ring of recent lines */
	unsigned ctx_next, ctx_n;
	char excerpt[VIGIL_CON_EXCERPT_MAX + 1]; /* NUL-terminated, '\n'-separated */
	size_t excerpt_len;
	unsigned excerpt_lines; /* lines after the finding so far */
	bool excerpt_full;
	enum vigil_kernel_trouble first; /* first trouble, VIGIL_KT_NONE so far */
	char first_line[VIGIL_CON_LINE_MAX + 1];
	uint64_t counts[VIGIL_KT__COUNT];
	uint64_t lines, bytes, long_lines;
};

/* Called for every complete line (NUL-terminated, no newline), with its kind. */
typedef void (*vigil_console_fn)(void *ctx, const char *line, size_t len,
				 enum vigil_kernel_trouble kind);

void vigil_console_init(struct vigil_console *c);
/* Bytes from the console, any split. */
void vigil_console_feed(struct vigil_console *c, const char *buf, size_t len, vigil_console_fn fn,
			void *ctx);
/* End of stream: a last line without newline is delivered. */
void vigil_console_flush(struct vigil_console *c, vigil_console_fn fn, void *ctx);

#endif /* VIGIL_CLI_CONSOLE_H */
