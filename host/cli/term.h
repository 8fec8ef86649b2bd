/* SPDX-License-Identifier: MIT */
/*
 * term: what a person sees on vigil's stderr: lines from vigil ("vigil:
 * ..."), the workload's echoed output, and a live status line on a
 * terminal, cut to its width so it never wraps (TIOCGWINSZ, read again on
 * SIGWINCH), cleared before anything else is written.
 * One terminal per process: the state is this module's own.
 */
#ifndef VIGIL_CLI_TERM_H
#define VIGIL_CLI_TERM_H

#include <stdbool.h>
#include <stddef.h>

/* quiet: no vigil lines, no status line (the workload's output stays). */
void vigil_term_init(bool quiet);
/* Read the terminal's width again (SIGWINCH). */
void vigil_term_resize(void);
bool vigil_term_is_tty(void);
/* A line for the person: "vigil: " + text, on stderr (not when quiet). */
void vigil_term_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Draw the status line (a tty and not quiet only), cut to the width. */
void vigil_term_status(const char *line);
void vigil_term_clear(void);
/* The workload's output to fd 1 or 2, after clearing the status line.
 * Writes it whole (blocking): see sink.c for the bounded, non-blocking path. */
void vigil_term_write(int fd, const void *buf, size_t len);

#endif /* VIGIL_CLI_TERM_H */
