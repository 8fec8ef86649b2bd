/* SPDX-License-Identifier: MIT */
/*
 * stages: where the agent's time goes on the output path, in a bench build
 * only (VIGIL_AGENT_STAGES, the vigil-agent-stages binary; BENCHMARKS.md,
 * "Where a byte's guest time goes"). In the shipped agent every function
 * here is an empty inline and costs nothing.
 *
 * Each stage sums CLOCK_MONOTONIC time, calls and bytes: the workload pipe's
 * read (and its FIONREAD), the copy of a queued item into the write buffer,
 * the frame's sealing (its two CRC32Cs), the port's write, and the sleep in
 * epoll_wait (a wakeup each). At exit the agent prints the sums and its
 * thread's CPU time on its log fd (the console in a guest).
 * Load: two clock reads per stage call, a few thousand calls a second.
 */
#ifndef VIGIL_GUEST_STAGES_H
#define VIGIL_GUEST_STAGES_H

#include <stdint.h>

enum stage {
	STAGE_PIPE_READ,
	STAGE_COPY,
	STAGE_SEAL,
	STAGE_PORT_WRITE,
	STAGE_WAIT,
	STAGE__N,
};

#ifdef VIGIL_AGENT_STAGES
#include "util.h"

struct stages {
	uint64_t ns[STAGE__N];
	uint64_t calls[STAGE__N];
	uint64_t bytes[STAGE__N];
};
extern struct stages stages;

static inline uint64_t stage_begin(void)
{
	return mono_ns();
}

static inline void stage_end(enum stage s, uint64_t t0, uint64_t bytes)
{
	stages.ns[s] += mono_ns() - t0;
	stages.calls[s]++;
	stages.bytes[s] += bytes;
}

/* Print the sums on fd. */
void stages_report(int fd);
#else
static inline uint64_t stage_begin(void)
{
	return 0;
}

static inline void stage_end(enum stage s, uint64_t t0, uint64_t bytes)
{
	(void)s;
	(void)t0;
	(void)bytes;
}

static inline void stages_report(int fd)
{
	(void)fd;
}
#endif

#endif
