/* SPDX-License-Identifier: MIT */
/*
 * runner: the workload. One child in its own session, stdin from
 * /dev/null, stdout and stderr through pipes the agent forwards as STDOUT
 * and STDERR frames, byte-exact and in the order the agent reads them.
 * EXIT (status or signal) is queued after the last output byte.
 *
 * Back-pressure: the caller stops reading the pipes while the output queue
 * is over half full and the port is moving, so a live host loses nothing;
 * once the port has stalled the pipes are read anyway and the output queue
 * drops its oldest frames (counted), so a dead host never blocks the
 * workload.
 */
#ifndef VIGIL_GUEST_RUNNER_H
#define VIGIL_GUEST_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "chan.h"

#define RUNNER_CHUNK (32u * 1024) /* bytes per STDOUT/STDERR frame at most */

struct runner {
	pid_t pid;   /* > 0 while running */
	int fd[2];   /* read ends: [0] stdout, [1] stderr; -1 once at EOF */
	bool exited; /* reaped; status holds the wait status */
	int status;
	uint64_t bytes[2];   /* forwarded from each pipe */
	uint64_t kill_at_ns; /* SIGKILL time after a SIGTERM, 0 if none */
};

/*
 * Start argv[0] (searched in PATH) with envp in cwd (NULL: inherit). The
 * child's signal mask and dispositions are reset. 0 or -errno.
 */
int runner_start(struct runner *w, char *const argv[], char *const envp[], const char *cwd);
/*
 * Forward what pipe i holds now into c. Bytes forwarded; 0 at EOF (the fd
 * is closed and set to -1); -EAGAIN when empty.
 */
ssize_t runner_pump(struct runner *w, int i, struct chan *c);
/* A child was reaped: 1 when it was the workload (EXIT is queued), else 0. */
int runner_reaped(struct runner *w, pid_t pid, int status, struct chan *c);
/* Signal the workload's process group. */
void runner_signal(struct runner *w, int sig);
void runner_close(struct runner *w);

#endif
