/* SPDX-License-Identifier: MIT */
/*
 * inspect: the agent's answer to the host's INSPECT. One PROCESS_REPORT per
 * request, built from /proc/PID/{stat,schedstat,status,comm,wchan,stack,
 * cgroup} (docs/wire.md, "Process inspection").
 *
 * Owns two things:
 *  - the /proc text parsers and the sampler: functions on caller-given
 *    fixed buffers (unit tests feed them fixed text; fuzz_agent_inspect
 *    feeds them anything). Every read is bounded by its buffer; strings are
 *    cut to their wire limits; a file that cannot be read leaves its fields
 *    0 or empty. Status: -ESRCH when the pid does not exist or went away
 *    while it was sampled, -EACCES when stat cannot be read or parsed.
 *  - the inspector: INSPECT_SLOTS requests in flight, sampled one at a time
 *    by one worker thread, never by the event loop. Reading /proc can block
 *    in the kernel (/proc/PID/cgroup takes the global cgroup_mutex on the
 *    kernels of the last years, /proc/PID/stack the target's
 *    exec_update_lock): such a wait stalls the inspections, never the beat
 *    relay or the output. "In flight" means from the INSPECT's arrival until
 *    its PROCESS_REPORT is queued on the control queue, which only the event
 *    loop does (inspector_collect); an INSPECT that finds every slot taken is
 *    answered at once with -EBUSY.
 *
 * Memory: everything is inside struct inspector (about 33 KiB), set up by
 * inspector_start together with the thread and an eventfd; nothing is
 * allocated after that. Threads: the slots' states are under one mutex,
 * held only for a few loads and stores; a slot's payload belongs to the
 * worker while SAMPLING and to the event loop once DONE.
 * Load: a host keeps at most 4 requests in flight per guest; one sample
 * opens 8 files and reads about 6 KiB, tens of microseconds.
 */
#ifndef VIGIL_GUEST_INSPECT_H
#define VIGIL_GUEST_INSPECT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vigil/wire.h>

#include "chan.h"

#define INSPECT_SLOTS         VIGIL_WIRE_MAX_INSPECT /* requests in flight */
#define INSPECT_STAT_CAP      2048u         /* stat: 52 fields of at most 20 digits, comm */
#define INSPECT_STATUS_CAP    4096u         /* status is scanned through this, line by line */
#define INSPECT_STATUS_MAX    (256u * 1024) /* bytes of status read at most */
#define INSPECT_SCHEDSTAT_CAP 128u
#define INSPECT_PROC_MAX      200u /* length of the /proc root's path */

/* ---- parsers (pure: buffer in, values out) ------------------------------ */

struct inspect_stat {
	uint8_t state;     /* field 3, the state letter */
	uint32_t last_cpu; /* field 39, 0 when absent */
	uint32_t policy;   /* field 41, 0 when absent */
};

struct inspect_switches {
	uint64_t voluntary;   /* voluntary_ctxt_switches, 0 when absent */
	uint64_t involuntary; /* nonvoluntary_ctxt_switches, 0 when absent */
};

/*
 * /proc/PID/stat: "pid (comm) S f4 f5 ...". comm may hold spaces and
 * parentheses, so the fields start after the last ')'. 0, or -EBADMSG
 * when there is no ')' followed by " S" (one non-space state byte).
 * Fields missing or not decimal are 0.
 */
int inspect_parse_stat(const char *buf, size_t len, struct inspect_stat *out);
/* /proc/PID/schedstat: "run_ns wait_ns timeslices". Fields parsed (0..3);
 * v[] is written in full, 0 where a field is missing. */
int inspect_parse_schedstat(const char *buf, size_t len, uint64_t v[3]);
/*
 * /proc/PID/status, in pieces: looks at each complete line of buf (and at
 * the last, unterminated one when eof) and sets the switch counts whose
 * line it finds. Returns the bytes consumed: up to the last newline, or
 * len when eof.
 */
size_t inspect_parse_status(const char *buf, size_t len, bool eof, struct inspect_switches *sw);
/* Bytes of the string to send: comm without its final newline, at most
 * 64; wchan, empty for "0", at most 128; cgroup's first line without its
 * newline, at most 512. */
size_t inspect_comm_len(const char *buf, size_t len);
size_t inspect_wchan_len(const char *buf, size_t len);
size_t inspect_cgroup_len(const char *buf, size_t len);

/* ---- the sampler --------------------------------------------------------- */

/* One sample's read buffers; report strings point into them. */
struct inspect_bufs {
	char stat[INSPECT_STAT_CAP];
	char status[INSPECT_STATUS_CAP];
	char schedstat[INSPECT_SCHEDSTAT_CAP];
	char comm[VIGIL_WIRE_COMM_MAX + 1]; /* + 1: the newline */
	char wchan[VIGIL_WIRE_WCHAN_MAX];
	char stack[VIGIL_WIRE_STACK_MAX];
	char cgroup[VIGIL_WIRE_CGROUP_MAX + 1];
};

/*
 * Sample proc/PID (proc is "/proc", or a fake tree in tests) into *r: every
 * field but request_id and pid, strings pointing into *b. Returns
 * r->status: 0, -ESRCH or -EACCES; with a non-zero status the other fields
 * are 0 and the strings empty.
 */
int inspect_sample(const char *proc, uint32_t pid, struct inspect_bufs *b,
		   struct vigil_process_report *r);
/* The same, under a proc directory already open as procfd (the worker's:
 * no path walk from the root per request). */
int inspect_sample_at(int procfd, uint32_t pid, struct inspect_bufs *b,
		      struct vigil_process_report *r);

/* ---- the inspector ------------------------------------------------------- */

enum inspect_slot_state {
	INSPECT_FREE = 0,
	INSPECT_QUEUED,   /* waiting for the worker */
	INSPECT_SAMPLING, /* the worker has it */
	INSPECT_DONE,     /* payload ready for the event loop */
};

struct inspect_slot {
	enum inspect_slot_state state; /* under inspector.mu */
	uint32_t request_id;
	uint32_t pid;
	uint64_t ticket; /* arrival order: the oldest queued is sampled first */
	uint32_t len;    /* payload bytes once DONE */
	uint8_t payload[VIGIL_WIRE_REPORT_MAX_LEN];
};

struct inspect_stats {
	uint64_t requests;   /* INSPECTs given a slot */
	uint64_t busy;       /* INSPECTs answered -EBUSY (every slot taken) */
	uint64_t reports;    /* PROCESS_REPORTs queued, -EBUSY ones included */
	uint64_t unanswered; /* -EBUSY answers the control queue refused (lost) */
};

struct inspector {
	char proc[INSPECT_PROC_MAX + 1];
	int efd; /* eventfd: the worker finished a slot */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;   /* worker: a slot was queued, or stop */
	pthread_cond_t gone; /* inspector_stop: the worker has returned */
	bool stop, exited;   /* under mu */
	bool held;           /* DONE slots the control queue had no room for */
	uint64_t next_ticket;
	struct inspect_slot slot[INSPECT_SLOTS];
	struct inspect_bufs bufs; /* the worker's */
	struct inspect_stats st;  /* the event loop's */
	int rt_prio;              /* the worker's SCHED_FIFO priority, 0 none */
	int proc_fd;              /* proc, opened once by inspector_start */
};

/*
 * Start the worker thread (with every signal blocked: they stay with the
 * event loop's signalfd) and the eventfd. 0, -ENAMETOOLONG for a proc path
 * over INSPECT_PROC_MAX, or the errno of eventfd/pthread_create. rt_prio > 0:
 * the worker runs SCHED_FIFO at it, like the event loop (prio.h): an answer
 * must not wait behind the workload.
 */
int inspector_start(struct inspector *in, const char *proc, int rt_prio);
/*
 * Stop the worker. One stuck in a /proc read is given 200 ms, then left
 * detached, with its eventfd, for the process's exit to end: call this
 * only when the process is about to end, and start no other inspector on
 * the same memory afterwards.
 */
void inspector_stop(struct inspector *in);
/* The fd to watch for EPOLLIN: then call inspector_collect. */
static inline int inspector_fd(const struct inspector *in)
{
	return in->efd;
}
/*
 * A well-formed INSPECT: queued for the worker (0), or, every slot taken,
 * answered at once with -EBUSY on c's control queue (-EBUSY returned).
 */
int inspector_request(struct inspector *in, const struct vigil_inspect *rq, struct chan *c);
/*
 * Queue the finished reports on c's control queue (outside producers' half)
 * and free their slots. Returns how many were queued; a report that does
 * not fit stays DONE (in->held) for the next call.
 */
int inspector_collect(struct inspector *in, struct chan *c);

#endif
