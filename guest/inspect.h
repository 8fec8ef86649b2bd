/* SPDX-License-Identifier: MIT */
/*
 * inspect: the agent's answer to the host's INSPECT. One PROCESS_REPORT per
 * request, built from /proc/PID/{stat,schedstat,status,comm,wchan,stack,
 * cgroup} (docs/wire.md, "Process inspection").
 *
 * Owns the /proc text parsers and the sampler: functions on caller-given
 * fixed buffers (unit tests feed them fixed text; fuzz_agent_inspect feeds
 * them anything). Every read is bounded by its buffer; strings are cut to
 * their wire limits; a file that cannot be read leaves its fields 0 or
 * empty. Status: -ESRCH when the pid does not exist or went away while it
 * was sampled, -EACCES when stat cannot be read or parsed.
 *
 * Memory: the caller's struct inspect_bufs (about 11 KiB); nothing is
 * allocated. Load: one sample opens 8 files and reads about 6 KiB, tens of
 * microseconds.
 */
#ifndef VIGIL_GUEST_INSPECT_H
#define VIGIL_GUEST_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vigil/wire.h>

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

#endif
