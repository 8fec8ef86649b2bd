/* SPDX-License-Identifier: MIT */
/*
 * console: the guest's serial console split into lines. The lines go to
 * the session (vigil_session_console_line), which judges them with the
 * same classifier as the DMESG stream (vigil_kernel_line_classify): one
 * place decides what a panic, an Oops or an OOM kill looks like.
 *
 * Owns: the line splitter (CR and control bytes dropped, over-long lines
 * cut and counted) and its counters. Fixed size, no allocation.
 *
 * And the reader of the console's socket on a loop (struct
 * vigil_con_reader), as `vigil run` uses it for QEMU's serial port: up to
 * VIGIL_CON_BUDGET bytes a wake-up (a kernel printing in a loop cannot
 * starve the guests' ports), each chunk copied to --console (under
 * --file-limit: a guest cannot fill the disk) and then split into lines
 * for the owner. End of stream (QEMU closed its end) delivers a last line
 * without newline, as QEMU left it; a read error (ECONNRESET) drops the
 * line it cut (cut_lines): a line cut short is not scanned as if it were
 * whole ("Killed process 12" of "Killed process 1234"). Either ends the
 * reader. A write error ends the copy, said once, and the scan goes on.
 *
 * Expected load: a quiet console under loglevel=4, bursts of a few KiB
 * when a kernel dies.
 */
#ifndef VIGIL_CLI_CONSOLE_H
#define VIGIL_CLI_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cap.h"
#include "loop.h"

#define VIGIL_CON_LINE_MAX 512          /* kept bytes of one line */
#define VIGIL_CON_BUDGET   (256u << 10) /* socket bytes read per wake-up */
#define VIGIL_CON_DRAIN    64           /* wake-ups' worth read by a drain */

struct vigil_console {
	char line[VIGIL_CON_LINE_MAX + 1]; /* the line being assembled */
	size_t len;
	bool cut; /* the current line was over the limit */
	uint64_t lines, bytes, long_lines;
	uint64_t cut_lines; /* lines dropped unfinished (vigil_console_cut) */
};

/* Called for every complete line (NUL-terminated, no newline). */
typedef void (*vigil_console_fn)(void *ctx, const char *line, size_t len);

void vigil_console_init(struct vigil_console *c);
/* Bytes from the console, any split. */
void vigil_console_feed(struct vigil_console *c, const char *buf, size_t len, vigil_console_fn fn,
			void *ctx);
/* End of stream: a last line without newline is delivered. */
void vigil_console_flush(struct vigil_console *c, vigil_console_fn fn, void *ctx);
/* The stream broke: the line being assembled is not whole and is dropped
 * (counted in cut_lines when there was one). */
void vigil_console_cut(struct vigil_console *c);

/* ---- the console's socket on a loop ------------------------------------------ */

struct vigil_con_reader_cfg {
	vigil_console_fn on_line; /* every line, as vigil_console_feed */
	/* what the person must know (the copy stopped), said once where it
	 * happens; NULL: nowhere */
	vigil_log_fn warn;
	void *ctx;             /* for both */
	int copy_fd;           /* --console (owned from init on); -1: none */
	const char *copy_path; /* names it in messages (borrowed) */
	uint64_t copy_limit;   /* --file-limit on it; 0: none */
};

struct vigil_con_reader {
	struct vigil_con_reader_cfg c;
	struct vigil_console scan; /* the lines; scan.bytes: every byte read */
	struct vigil_source *src;  /* the socket; NULL when closed or not attached */
	int copy_fd;               /* c.copy_fd; -1 once no longer copied */
	struct vigil_cap cap;      /* --file-limit on the copy */
	uint64_t copy_bytes;       /* bytes written to it */
	uint64_t read_errors;      /* reads that failed (the reader ended) */
};

/* A reader with no socket yet. */
void vigil_con_reader_init(struct vigil_con_reader *r, const struct vigil_con_reader_cfg *c);
/* Reads fd (a stream socket; owned from now on, closed on failure too) on
 * l. The line splitter starts afresh. 0 or -errno. */
int vigil_con_reader_attach(struct vigil_con_reader *r, struct vigil_loop *l, int fd);
/* Reads what the socket holds now, up to VIGIL_CON_DRAIN budgets: for
 * when the writer is gone (QEMU exited) and the loop will not run again
 * for it. */
void vigil_con_reader_drain(struct vigil_con_reader *r);
/* Stops reading (the socket is closed); a line being assembled is kept
 * unless attach starts afresh. */
void vigil_con_reader_detach(struct vigil_con_reader *r);
/* Detaches and closes the copy. */
void vigil_con_reader_release(struct vigil_con_reader *r);

#endif /* VIGIL_CLI_CONSOLE_H */
