/* SPDX-License-Identifier: MIT */
/* Helpers the benchmarks share: the clock and a process's CPU time. Bench use only. */
#ifndef VIGIL_BENCH_UTIL_H
#define VIGIL_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of pid in ns: schedstat's run time, exact (stat's ticks are 10 ms samples). */
static inline uint64_t proc_cpu_ns(pid_t pid)
{
	char path[64];
	unsigned long long run = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &run) != 1)
		run = 0;
	fclose(f);
	return run;
}

#endif
