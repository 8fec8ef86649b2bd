/* SPDX-License-Identifier: MIT */
/*
 * outq: a bounded, non-blocking writer on one fd, drained by the loop, for
 * vigil's outputs (the workload's echoed stdout and stderr, `--events -`).
 * A slow reader (a pipe into `less`, a stalled CI log collector) must not
 * stop the loop: bytes wait here, and the owner stops reading the guest's
 * port while the queue is over its high-water mark (vigil_outq_backlogged),
 * so nothing a well-behaved guest sends is lost.
 *
 * Owns: a private non-blocking open file description for the fd when it is
 * a pipe, FIFO or terminal (reopened through /proc/self/fd, so the shell's
 * own description keeps its flags), MSG_DONTWAIT for sockets, plain writes
 * for regular files (which never make a writer wait for a reader); the
 * queue; the drain callback.
 * Limits: VIGIL_OUTQ_HIGH bytes before backlogged; VIGIL_OUTQ_MAX bytes at
 * most (past it a put is refused and counted: the owner pauses its input
 * long before). Expected load: up to the guest's output rate, ~100 MB/s.
 */
#ifndef VIGIL_LOOP_OUTQ_H
#define VIGIL_LOOP_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define VIGIL_OUTQ_HIGH (1u << 20)
#define VIGIL_OUTQ_MAX  (8u << 20)

struct vigil_outq;

struct vigil_outq_stats {
	uint64_t bytes;      /* written to the fd */
	uint64_t queued_max; /* the most bytes ever waiting */
	uint64_t refused;    /* bytes refused past VIGIL_OUTQ_MAX */
	uint64_t errors;     /* write errors (the reader went away): later bytes dropped */
};

/* A writer for fd (borrowed: not closed). 0 or -errno. */
int vigil_outq_new(struct vigil_loop *l, int fd, const char *name, struct vigil_outq **out);
/* Flushes what it can without blocking, then frees. NULL ok. */
void vigil_outq_free(struct vigil_outq *q);
/* Queue (and write what the fd takes now). 0, or -ENOBUFS (refused, counted),
 * or -EPIPE once the reader went away (dropped, counted). */
int vigil_outq_put(struct vigil_outq *q, const void *data, size_t len);
/* Over the high-water mark: the owner should stop producing. */
bool vigil_outq_backlogged(const struct vigil_outq *q);
size_t vigil_outq_pending(const struct vigil_outq *q);
/* Called (from the loop) when the queue fell below the mark again. */
void vigil_outq_on_drain(struct vigil_outq *q, void (*fn)(void *ctx), void *ctx);
/* At the end of a run: write everything, waiting at most timeout_ms for a
 * slow reader. 0, or -ETIMEDOUT with bytes left, or the write error. */
int vigil_outq_flush(struct vigil_outq *q, int timeout_ms);
void vigil_outq_stats(const struct vigil_outq *q, struct vigil_outq_stats *out);

#endif /* VIGIL_LOOP_OUTQ_H */
