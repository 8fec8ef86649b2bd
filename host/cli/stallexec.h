/* SPDX-License-Identifier: MIT */
/*
 * stallexec: `vigil watch --on-stall-exec 'PROGRAM ARG...'`, a program the
 * operator names, run when a guest's process stalls, with {domain}, {uuid}
 * and {pid} substituted. A hostile guest can fake stalls (it chooses its
 * pids and when it stops beating), so every run passes, in this order:
 *   1. the origin check: beats that are not VIGIL_ORIGIN_KERNEL_ATTESTED
 *      (the agent checked the sender with SO_PASSCRED, docs/agent.md) are
 *      refused unless allow_unattested (-EPERM); SOCKET_MODE, UNVERIFIED
 *      and values the wire does not list are not attested. The origin byte
 *      is the guest agent's word: this stops impostors inside the guest,
 *      not a hostile guest kernel; the caps below bound that one;
 *   2. the debounce: no second run for one (domain uuid, pid) within
 *      debounce_ns of the last start, nor while one runs (-EALREADY);
 *   3. the concurrency cap: at most max_concurrent runs alive (-EBUSY);
 *   4. the global rate: a token bucket, rate_per_min, burst (-EAGAIN).
 * A refused fire starts nothing and changes no state but its counter.
 *
 * Owns: the parsed command (copied), the debounce table (a fixed array of
 * debounce_keys entries; when full, an expired entry or else the oldest is
 * replaced, counted as debounce_evicted), one slot per concurrent run with
 * its timer (made once, at vigil_stallexec_new), and for each live run its
 * pidfd source and output pipe source on the loop.
 *
 * Runs: posix_spawn (glibc's is clone(CLONE_VM|CLONE_VFORK) + execve: no
 * copy of vigil's page tables, and an exec failure comes back as an errno
 * from the call, not as a child that exits 127). No shell. The child gets
 * its own process group, an empty signal mask and default dispositions,
 * stdin from /dev/null, and no fd but 0, 1, 2 (closefrom(3) in the child,
 * on top of O_CLOEXEC on every fd made here). It is reaped through a pidfd
 * source (waitid(P_PIDFD, WNOHANG)), never a blocking waitpid. On timeout
 * its process group gets SIGTERM, then SIGKILL VIGIL_STALLEXEC_KILL_GRACE_NS
 * later, from a loop timer. The slot is free when PROGRAM itself has been
 * reaped: whatever it left running in the background is not counted.
 *
 * Output: stdout and stderr share one pipe, read on the loop (one read of
 * up to 4 KiB per wake-up) and given to the log callback line by line
 * ("on-stall-exec: NAME[CHILD]: LINE", backslashes and bytes outside
 * printable ASCII as \xNN, lines over VIGIL_STALLEXEC_LINE_MAX split). At most
 * output_max_bytes are kept per run; the rest is read and counted as
 * dropped (said in the run's last line and in output_dropped_bytes).
 * output_discard sends both to /dev/null instead. When PROGRAM exits, what
 * is in the pipe is read (up to 64 KiB) and the pipe is closed.
 *
 * Log lines (one event, one line; refusals at most one per reason per
 * VIGIL_STALLEXEC_REFUSAL_LOG_NS, with the count of those not reported):
 *   on-stall-exec: ran /usr/bin/hook for domain web1 pid 412 (child 3301)
 *   on-stall-exec: hook for domain web1 pid 412 exited 3 after 15 ms
 *   on-stall-exec: hook for domain web1 pid 412 killed after timeout (30000 ms,
 *     SIGTERM)
 *   on-stall-exec: hook[3301]: a line it wrote
 *   on-stall-exec: refused for domain web1 pid 412: rate cap (10 a minute)
 *
 * Limits: words, word length and the substituted argv are bounded (below);
 * {domain} values over VIGIL_STALLEXEC_VALUE_MAX bytes and {uuid} values
 * over VIGIL_STALLEXEC_UUID_MAX are refused (-ENAMETOOLONG). The owner must
 * not reap children with waitpid(-1) nor set SIGCHLD to SIG_IGN (a run
 * reaped elsewhere is said and its slot freed). Time is the loop's clock
 * (vigil_loop_now). The timeout runs while vigil does: a vigil killed
 * before vigil_stallexec_free leaves its runs running (posix_spawn cannot
 * set PR_SET_PDEATHSIG).
 * Expected load: a stall is rare; fires are bounded by the tracker's stall
 * reports and runs by the caps (defaults: 10 a minute, 4 at once). A fire,
 * refused or not, scans the debounce table (debounce_keys entries, 1024 by
 * default: compares only; no system call, no allocation, and a log line
 * at most once per reason per 10 s when refused).
 *
 * Errors: negative errno; 0 ok. Out-parameters written only on success.
 * vigil_stallexec_free takes NULL. One thread: the loop's.
 */
#ifndef VIGIL_CLI_STALLEXEC_H
#define VIGIL_CLI_STALLEXEC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

#define VIGIL_STALLEXEC_MAX_WORDS      32u    /* argv words, the program's included */
#define VIGIL_STALLEXEC_WORD_MAX       255u   /* bytes of one word as written */
#define VIGIL_STALLEXEC_VALUE_MAX      255u   /* bytes of a {domain} value */
#define VIGIL_STALLEXEC_UUID_MAX       64u    /* bytes of a {uuid} value (libvirt's: 36) */
#define VIGIL_STALLEXEC_ARGV_BYTES     16384u /* the substituted words, NULs included, at worst */
#define VIGIL_STALLEXEC_LINE_MAX       256u   /* bytes of one output line logged (longer: split) */
#define VIGIL_STALLEXEC_MAX_CONCURRENT 64u    /* bound of cfg.max_concurrent */
#define VIGIL_STALLEXEC_MAX_KEYS       65536u /* bound of cfg.debounce_keys */
#define VIGIL_STALLEXEC_KILL_GRACE_NS  2000000000ull  /* SIGTERM to SIGKILL */
#define VIGIL_STALLEXEC_REFUSAL_LOG_NS 10000000000ull /* one refusal line per reason */
#define VIGIL_STALLEXEC_FREE_WAIT_MS   100 /* vigil_stallexec_free waits this long at most */

/* cfg defaults, taken for 0 */
#define VIGIL_STALLEXEC_DEFAULT_DEBOUNCE_NS  60000000000ull
#define VIGIL_STALLEXEC_DEFAULT_TIMEOUT_NS   30000000000ull
#define VIGIL_STALLEXEC_DEFAULT_CONCURRENT   4u
#define VIGIL_STALLEXEC_DEFAULT_RATE_PER_MIN 10u
#define VIGIL_STALLEXEC_DEFAULT_KEYS         1024u
#define VIGIL_STALLEXEC_DEFAULT_OUTPUT_MAX   4096u

/* A parsed --on-stall-exec. Fixed size (about 10 KiB): no allocation. */
struct vigil_stallexec_cmd {
	char path[PATH_MAX]; /* the program, resolved at parse time, absolute */
	uint32_t nwords;     /* 1..VIGIL_STALLEXEC_MAX_WORDS */
	/* the words as written ([0] is argv[0], the program as written), with
	 * their placeholders; each NUL-terminated */
	char words[VIGIL_STALLEXEC_MAX_WORDS][VIGIL_STALLEXEC_WORD_MAX + 1];
};

/*
 * Splits spec on spaces (no shell, no quoting; empty words dropped) and
 * checks it: at least one word, at most VIGIL_STALLEXEC_MAX_WORDS, each at
 * most VIGIL_STALLEXEC_WORD_MAX bytes; placeholders are {domain}, {uuid},
 * {pid} (a '{' with no '}' after it in its word is literal; any other
 * {NAME} is refused, named); none in the program word; the worst-case
 * substituted argv fits VIGIL_STALLEXEC_ARGV_BYTES. The program word is
 * resolved: as a path when it holds a '/' (made absolute from the current
 * directory), else on $PATH (empty elements skipped; unset: /usr/local/bin
 * :/usr/bin:/bin); it must be an executable regular file. -EINVAL (bad
 * spec), -ENOENT, -EACCES or -ENAMETOOLONG, with a message for the
 * operator in err (cap bytes, may be 0); out is written only on success.
 */
int vigil_stallexec_parse(const char *spec, struct vigil_stallexec_cmd *out, char *err, size_t cap);

/*
 * The words of cmd with the values substituted, into buf (cap bytes), and
 * pointers to them in argv (VIGIL_STALLEXEC_MAX_WORDS + 1 entries, NULL
 * last). Returns the word count, -ENAMETOOLONG for a value over its bound
 * (VIGIL_STALLEXEC_VALUE_MAX, _UUID_MAX), -ENOSPC when buf is too small (cap
 * VIGIL_STALLEXEC_ARGV_BYTES always fits a parsed cmd).
 */
int vigil_stallexec_expand(const struct vigil_stallexec_cmd *cmd, const char *domain,
			   const char *uuid, uint32_t pid, char *buf, size_t cap, char **argv);

struct vigil_stallexec_cfg {
	const struct vigil_stallexec_cmd *cmd; /* copied */
	uint64_t debounce_ns;                  /* per (uuid, pid); 0: 60 s */
	uint64_t timeout_ns;                   /* then SIGTERM, SIGKILL 2 s later; 0: 30 s */
	uint32_t max_concurrent;               /* runs alive at once, <= 64; 0: 4 */
	uint32_t rate_per_min;                 /* token refill, <= 60000; 0: 10 */
	uint32_t burst;                        /* bucket size; 0: max_concurrent */
	uint32_t debounce_keys;                /* table size, <= 65536; 0: 1024 */
	uint32_t output_max_bytes;             /* output logged per run; 0: 4096 */
	bool output_discard;                   /* stdout and stderr to /dev/null */
	bool allow_unattested;                 /* --on-stall-unattested */
	vigil_log_fn log;                      /* NULL: nowhere; must not free x */
	void *log_ctx;
};

/*
 * The counters, declared once: X(field, name, unit, help), unit COUNT or
 * BYTES. Every writer (/metrics, the status JSON) walks this table.
 */
#define VIGIL_STALLEXEC_COUNTERS(X)                                                                \
	X(started, "stall_exec_started", COUNT, "Runs of the --on-stall-exec program started.")    \
	X(debounced, "stall_exec_debounced", COUNT,                                                \
	  "Fires refused: the same domain and pid ran within the debounce time, or runs.")         \
	X(busy, "stall_exec_busy", COUNT, "Fires refused: the concurrency cap was reached.")       \
	X(rate_limited, "stall_exec_rate_limited", COUNT,                                          \
	  "Fires refused: the global rate cap had no token left.")                                 \
	X(unattested_refused, "stall_exec_unattested_refused", COUNT,                              \
	  "Fires refused: the beats' origin was not kernel-attested.")                             \
	X(invalid, "stall_exec_invalid", COUNT,                                                    \
	  "Fires refused: a domain name or uuid over the length bound.")                           \
	X(spawn_failed, "stall_exec_spawn_failed", COUNT,                                          \
	  "Runs that could not start (fork, exec, pidfd, pipe).")                                  \
	X(exit_nonzero, "stall_exec_exit_nonzero", COUNT,                                          \
	  "Runs that exited with a non-zero status or a signal vigil did not send.")               \
	X(timed_out, "stall_exec_timed_out", COUNT,                                                \
	  "Runs still going at the timeout (sent SIGTERM, then SIGKILL).")                         \
	X(debounce_evicted, "stall_exec_debounce_evicted", COUNT,                                  \
	  "Debounce entries replaced before their time: the table was full.")                      \
	X(output_dropped_bytes, "stall_exec_output_dropped_bytes", BYTES,                          \
	  "Bytes of run output read past the per-run bound and not logged.")

struct vigil_stallexec_stats {
#define VIGIL_STALLEXEC_FIELD_(f, name, unit, help) uint64_t f;
	VIGIL_STALLEXEC_COUNTERS(VIGIL_STALLEXEC_FIELD_)
#undef VIGIL_STALLEXEC_FIELD_
};

struct vigil_stallexec;

/* -EINVAL for a bound exceeded or no cmd; -ENOSYS without pidfd_open
 * (Linux < 5.3); -ENOMEM; open's error for /dev/null. */
int vigil_stallexec_new(struct vigil_loop *l, const struct vigil_stallexec_cfg *c,
			struct vigil_stallexec **out);
/*
 * One stall of pid in the guest (domain, uuid); origin is the pid's beat
 * origin (enum vigil_beat_origin). 0: started. Refusals (see the top):
 * -EPERM, -EALREADY, -EBUSY, -EAGAIN; -ENAMETOOLONG for a value over the
 * bound; -EINVAL for NULL; posix_spawn's, pipe's or pidfd_open's error
 * (counted as spawn_failed, reported through the log).
 */
int vigil_stallexec_fire(struct vigil_stallexec *x, const char *domain, const char *uuid,
			 uint32_t pid, uint8_t origin);
/* The children alive now: up to cap pids into pids; returns how many are
 * alive (may be more than cap). */
size_t vigil_stallexec_children(const struct vigil_stallexec *x, pid_t *pids, size_t cap);
void vigil_stallexec_stats(const struct vigil_stallexec *x, struct vigil_stallexec_stats *out);
/*
 * SIGKILL to every live run's process group, then waits for them on their
 * pidfds, VIGIL_STALLEXEC_FREE_WAIT_MS in all at most (a process killed
 * with SIGKILL is normally gone in microseconds; one stuck in the kernel
 * is not). Those not reaped by then are left to a reaper source on the
 * loop that reaps them when they go, and, if the loop is freed first,
 * tries once more then (else they are init's when vigil exits). The loop
 * must still exist. Safe from a loop callback. NULL ok.
 */
void vigil_stallexec_free(struct vigil_stallexec *x);

#endif /* VIGIL_CLI_STALLEXEC_H */
