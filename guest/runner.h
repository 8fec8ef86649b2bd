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
 *
 * Exit: once the child is reaped, what its pipes hold then (the output it
 * wrote before exiting) is read by the caller's normal pumping, under the
 * same back-pressure as any output; EXIT is queued (runner_settle) once
 * those bytes are all in the queue. So the exit costs no more queue room
 * than any other output, whatever the pipe size (pipe_bytes may be up to
 * fs.pipe-max-size, 1 MiB by default, against an output queue of 512 KiB).
 *
 * Scenario: with a name, SCENARIO_START is queued right before the child is
 * started and SCENARIO_END after its output has been taken from the pipes,
 * before EXIT, so the host sees START, output, END, EXIT.
 *
 * Large argv: when argv and envp need more than a quarter of the stack
 * rlimit (the kernel's bound for exec's strings, 2 MiB at the usual
 * 8 MiB), the child raises its soft stack limit before exec (the kernel
 * caps the strings at 6 MiB whatever the limit; one word over 128 KiB is
 * refused by exec with E2BIG).
 */
#ifndef VIGIL_GUEST_RUNNER_H
#define VIGIL_GUEST_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "chan.h"

#define RUNNER_CHUNK   VIGIL_WIRE_MAX_PAYLOAD /* bytes per STDOUT/STDERR frame at most */
#define PIPE_BYTES_MAX (256u * 1024 * 1024)   /* bound on runner_spec.pipe_bytes */

struct runner_spec {
	char *const *argv;    /* argv[0] is searched in PATH; at least one word */
	char *const *envp;    /* NULL: inherit */
	const char *cwd;      /* NULL: inherit */
	const char *scenario; /* NULL: none; else the SCENARIO_START/END name */
	bool set_ids;         /* become uid/gid before exec (supplementary groups dropped) */
	uint32_t pipe_bytes;  /* F_SETPIPE_SZ for both pipes; 0: the kernel's (64 KiB) */
	uid_t uid;
	gid_t gid;
};

struct runner {
	const char *scenario; /* SCENARIO_END with this name before EXIT, or NULL */
	pid_t pid;            /* > 0 while running */
	int fd[2];            /* read ends: [0] stdout, [1] stderr; -1 once at EOF */
	bool exited;          /* reaped; status holds the wait status */
	bool exit_queued;     /* SCENARIO_END and EXIT are queued */
	int status;
	uint32_t tail[2];    /* after the exit: bytes each pipe held then, not yet read */
	uint64_t bytes[2];   /* forwarded from each pipe */
	bool drained[2];     /* the last pump read all FIONREAD said the pipe held */
	uint64_t kill_at_ns; /* SIGKILL time after a SIGTERM, 0 if none */
};

/*
 * Start the workload s describes, queueing SCENARIO_START into c first when
 * it names one. The child's signal mask and dispositions are reset. 0 or
 * -errno (-ENOBUFS: the control queue is full).
 */
int runner_start(struct runner *w, const struct runner_spec *s, struct chan *c);
/*
 * A workload that cannot be started at all (an invalid workload file):
 * queue msg as its STDERR and an EXIT with status, as if it had run. 0 or
 * -errno.
 */
int runner_refuse(struct chan *c, const char *msg, int status);
/*
 * Forward what pipe i holds now into c, one frame. Bytes forwarded; 0 at
 * EOF (the fd is closed and set to -1); -EAGAIN when empty; -ENOBUFS when
 * the frame cannot be reserved. The caller decides when to call it
 * (back-pressure), also after the exit. drained[i] says whether it read
 * all the pipe held (then another call now would find it empty).
 */
ssize_t runner_pump(struct runner *w, int i, struct chan *c);
/*
 * A child was reaped: 1 when it was the workload (what its pipes hold is
 * noted as its last output; call runner_settle), else 0.
 */
int runner_reaped(struct runner *w, pid_t pid, int status);
/*
 * After the exit, once the pipes have given their last output: queue
 * SCENARIO_END (with a scenario), then EXIT, once. 1 when queued now, else 0.
 */
int runner_settle(struct runner *w, struct chan *c);
/* Signal the workload's process group. */
void runner_signal(struct runner *w, int sig);
void runner_close(struct runner *w);

#endif
