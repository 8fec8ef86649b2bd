/* SPDX-License-Identifier: MIT */
/* stages: the output path's time per stage, bench build only (see stages.h). */
#include "stages.h"

#ifdef VIGIL_AGENT_STAGES
#include <stdio.h>
#include <time.h>

struct stages stages;

void stages_report(int fd)
{
	static const char *const name[STAGE__N] = { "pipe_read", "copy", "seal", "port_write",
						    "wait" };
	struct timespec cpu;

	if (fd < 0)
		return;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
	dprintf(fd, "vigil-agent stages: cpu_ns=%llu\n",
		(unsigned long long)cpu.tv_sec * 1000000000ull + (unsigned long long)cpu.tv_nsec);
	for (int s = 0; s < STAGE__N; s++)
		dprintf(fd, "vigil-agent stages: %s ns=%llu calls=%llu bytes=%llu\n", name[s],
			(unsigned long long)stages.ns[s], (unsigned long long)stages.calls[s],
			(unsigned long long)stages.bytes[s]);
}
#else
typedef int stages_unused; /* ISO C wants a translation unit to declare something */
#endif
