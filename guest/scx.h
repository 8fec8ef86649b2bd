/* SPDX-License-Identifier: MIT */
/*
 * scx: notices a sched_ext scheduler going away and sends SCHED_EXIT.
 *
 * Watches /sys/kernel/sched_ext/state (polled: sysfs does not notify on
 * it) and the kernel log. A kernel line `sched_ext: BPF scheduler "NAME"
 * disabled (REASON)` gives the exit kind (REASON is the kernel's
 * scx_exit_reason() text) and the reason; a state change from "enabled"
 * without such a line within SCX_KMSG_WAIT_MS sends kind 0 (unknown).
 * One SCHED_EXIT per enabled period.
 */
#ifndef VIGIL_GUEST_SCX_H
#define VIGIL_GUEST_SCX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"

#define SCX_STATE_PATH   "/sys/kernel/sched_ext/state"
#define SCX_POLL_MS      100
#define SCX_ABSENT_MS    5000 /* re-check interval while the file is missing */
#define SCX_KMSG_WAIT_MS 200
#define SCX_REASON_MAX   512

struct scx {
	const char *path;
	bool enabled;        /* state read "enabled" since the last SCHED_EXIT */
	uint64_t gone_at_ns; /* state left "enabled" at, 0 if not */
	uint32_t kind;       /* from the kernel log, 0 if none yet */
	char reason[SCX_REASON_MAX];
	uint64_t next_ns; /* next poll */
	uint64_t sent;    /* SCHED_EXIT frames queued */
};

void scx_init(struct scx *s, const char *path);
/* Read the state file if due; queue SCHED_EXIT when warranted. */
void scx_poll(struct scx *s, struct chan *c, uint64_t now_ns);
/* Feed one kernel log line. */
void scx_kmsg(struct scx *s, const char *text, size_t len, struct chan *c, uint64_t now_ns);
/*
 * Parse a kernel line: 1 and *kind, reason (terminated, cut to cap) when it
 * reports a scheduler disabled or erroring, else 0.
 */
int scx_parse_line(const char *text, size_t len, uint32_t *kind, char *reason, size_t cap);

#endif
