/* SPDX-License-Identifier: MIT */
/*
 * vcpu: how much CPU time QEMU's vCPU threads got, from
 * /proc/<pid>/task/<tid>/schedstat (first field: ns on a CPU; second: ns
 * waiting runnable on a runqueue), and whether the host stopped one (state
 * T in .../stat). vCPU threads are those whose comm reads "CPU <n>/TCG" or
 * "CPU <n>/KVM".
 *
 * When no thread has such a name (QEMU started without
 * -name ...,debug-threads=on), every thread of the process is counted.
 *
 * Owns: the list of vCPU thread ids (found once, found again when a thread
 * disappears or none were found), and the sums. A sample costs two opens
 * and reads per vCPU thread. Limits: VIGIL_VCPU_MAX threads.
 */
#ifndef VIGIL_CLI_VCPU_H
#define VIGIL_CLI_VCPU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <vigil/session.h>

#define VIGIL_VCPU_MAX 256

struct vigil_vcpu_probe {
	char proc[64]; /* "/proc", or a test's fake tree */
	pid_t pid;
	pid_t tid[VIGIL_VCPU_MAX];
	unsigned n;
	pid_t other[VIGIL_VCPU_MAX]; /* scratch: threads not named as vCPUs */
	unsigned n_other;
	bool all_threads; /* no vCPU names found: tid[] holds every thread */
	uint64_t rescans;
};

void vigil_vcpu_init(struct vigil_vcpu_probe *p, const char *proc, pid_t pid);
/* Sum of run time of the vCPU threads in ns: 0 and *ns, -ENOENT when no
 * vCPU thread exists (yet), -errno when the process is gone. */
int vigil_vcpu_sample(struct vigil_vcpu_probe *p, uint64_t *ns);
/* The same, with the wait time and the stopped flag (the session's vCPU
 * state probe). */
int vigil_vcpu_state(struct vigil_vcpu_probe *p, struct vigil_vcpu_state *st);

#endif /* VIGIL_CLI_VCPU_H */
