/* SPDX-License-Identifier: MIT */
/*
 * term: what a person sees: lines from vigil ("vigil: ..."), the workload's
 * echoed output, and a live status line on a terminal, cut to its width so
 * it never wraps (TIOCGWINSZ, read again on SIGWINCH), cleared before
 * anything else is written.
 *
 * Once attached to a loop, everything for fds 1 and 2 goes through one
 * bounded non-blocking queue per fd (outq.h), in order: a slow reader of
 * vigil's output never stops the loop; vigil_term_backlogged() tells the
 * owner to stop reading guest output until the drain callback runs.
 * One terminal per process: the state is this module's own.
 */
#ifndef VIGIL_CLI_TERM_H
#define VIGIL_CLI_TERM_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

/* quiet: no vigil lines, no status line (the workload's output stays). */
void vigil_term_init(bool quiet);
/* Queue fds 1 and 2 on l from now on; drain(ctx) runs when the queues fell
 * below their high-water mark again. 0 or -errno. */
int vigil_term_attach(struct vigil_loop *l, void (*drain)(void *ctx), void *ctx);
/* Write what is queued (waiting at most timeout_ms for slow readers; what
 * is left is reported), then write directly again. */
void vigil_term_detach(int timeout_ms);
bool vigil_term_backlogged(void);
/* Read the terminal's width again (SIGWINCH). */
void vigil_term_resize(void);
bool vigil_term_is_tty(void);
/* A line for the person: "vigil: " + text, on stderr (not when quiet). */
void vigil_term_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, also when quiet: something the person must know (data not
 * written, the VM held for them). */
void vigil_term_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Draw the status line (a tty and not quiet only), cut to the width;
 * skipped while stderr has output waiting. */
void vigil_term_status(const char *line);
void vigil_term_clear(void);
/* Output for fd 1 or 2 (the workload's, events on stdout), after clearing
 * the status line. Queued when attached; never blocks then. */
void vigil_term_write(int fd, const void *buf, size_t len);

#endif /* VIGIL_CLI_TERM_H */
