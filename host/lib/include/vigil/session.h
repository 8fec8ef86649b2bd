/* SPDX-License-Identifier: MIT */
/*
 * libvigil-host: one guest's session.
 *
 * A session turns the byte stream of one guest (wire protocol v1) into
 * state, typed events and, at the end, one verdict. It owns the stream
 * assembler, the CRC-gated dispatch table, the per-guest liveness tracker,
 * the pause-aware workload watchdog, the flow table, the kernel-trouble
 * scan of console and DMESG lines, the snapshot hand-off and the verdict,
 * whose findings carry their own evidence lines. It does no I/O of its
 * own: bytes come in through vigil_session_feed(), frames for the guest go
 * out through a writer the caller supplies, and the caller tells the
 * session the time.
 *
 * Time. Every call takes now_ns, the caller's CLOCK_MONOTONIC in
 * nanoseconds. The session never reads a clock. A now_ns smaller than the
 * largest seen so far is clamped to it (counted as clock_regressions).
 * vigil_session_tick() and vigil_session_next_deadline() never return a
 * time before that largest now_ns: work already due (a PING due since
 * LINK_UP when HELLO came later) is due "now", so a loop that sleeps until
 * the deadline and passes it as now_ns never goes back in time.
 * "Runnable time" is host time minus the time the VM was stopped
 * (vigil_session_vm_stopped/_resumed): stall deadlines, the boot timeout and
 * the workload watchdog run on it; the run timeout runs on host time.
 *
 * Life cycle. vigil_session_new(), then feed/tick and the runner's
 * notifications until vigil_session_ended() says 1 (or the caller stops),
 * then vigil_session_finish(): it decides the verdict and raises RUN_END,
 * the last event. After it nothing acts: every call that would change the
 * session returns -ESHUTDOWN and does nothing (feed, the notifications,
 * snapshot_done, request_shutdown, set_vcpu_state_probe); tick does nothing
 * and returns VIGIL_DEADLINE_NONE, as next_deadline does; finish returns
 * the same verdict. Only vigil_session_free() ends the life.
 *
 * Callbacks. The sink, writer, snapshot provider and probes, and the
 * function given to vigil_session_foreach_process(), run inside the
 * session call that caused them. From inside one, a caller may read the
 * session: vigil_session_ended(), vigil_session_next_deadline(),
 * vigil_session_counters(), vigil_session_foreach_process(), and the
 * functions that take no session (renderers, names, verdict helpers); and
 * the snapshot provider's start() may call vigil_session_snapshot_done().
 * Every other call is refused there: those returning int return -EBUSY
 * and do nothing, tick does no work and returns next_deadline, finish
 * returns NULL. vigil_session_free() from a callback is not checked and
 * must not happen.
 *
 * Writer. Without one (hooks NULL or writer.write NULL) the session is an
 * observer: it sends no PING, INSPECT, SNAPSHOT_REPLY or SHUTDOWN and counts
 * no tx_errors for them; vigil_session_request_shutdown() returns
 * -ENOTCONN. Stalls are then unclassified (no INSPECT), and a guest stall is
 * found from silence without PINGs.
 *
 * Memory. Everything is sized by vigil_session_new() from the options. The
 * feed, tick and beat paths do not allocate, format or block; the JSON
 * renderers (vigil_event_to_json, vigil_verdict_to_json) allocate and are
 * meant for sinks and for the end of the run.
 *
 * Error convention: functions returning int return a negative errno on
 * failure, 0 for ok/no, >0 for yes/a count. Out-parameters are written only
 * on success. Destructors accept NULL.
 *
 * Thread safety: a session belongs to one thread. Callbacks are called
 * synchronously from the session call that caused them (see Callbacks).
 */
#ifndef VIGIL_SESSION_H
#define VIGIL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of the libvigil-host the program runs with ("0.1.0"). The
 * libvigil-wire it loads may be newer (vigil_version()); the macros of
 * vigil/version.h give the headers' version.
 */
VIGIL_API const char *vigil_host_version(void);

/* ---- limits ------------------------------------------------------------ */

#define VIGIL_TRACKER_MAX_CAPACITY 4096u /* processes tracked per guest */
#define VIGIL_FLOWS_MAX_CAPACITY   65536u
#define VIGIL_NAME_MAX             128u       /* kept bytes of scenario/test names, guest strings */
#define VIGIL_DETAIL_MAX           256u       /* kept bytes of reasons, messages, evidence lines */
#define VIGIL_DEADLINE_NONE        UINT64_MAX /* "no deadline pending" */

/* ---- how structs grow ---------------------------------------------------- */

/*
 * Structs that cross this interface grow without breaking a binary built
 * against an older header:
 * - a struct the caller fills in or allocates for the library to fill
 *   starts with `size_t sz`, which the caller sets to sizeof as it compiled
 *   it (struct vigil_session_opts, struct vigil_session_counters): the
 *   library reads or writes only those sz bytes;
 * - a struct the library hands out by pointer (struct vigil_event, struct
 *   vigil_verdict, struct vigil_process_info) starts with `size_t sz`, which
 *   the library sets to the bytes it filled: a caller built against a newer
 *   header tests VIGIL_HAS_FIELD() before reading a field an older library
 *   may lack. Copy them by value only into a struct of the same header;
 * - fields are added only at the end of those structs; structs used as
 *   array elements or embedded by value (findings, scenarios, tests,
 *   evidence, stall infos and samples, the timeline, guest info, the
 *   counters' groups) never grow within a soname (docs/abi.md).
 */
#define VIGIL_HAS_FIELD(type, p, field)                                                            \
	((p)->sz >= offsetof(type, field) + sizeof(((type *)0)->field))

/* ---- outcomes and findings --------------------------------------------- */

/*
 * Outcome of a run. The numeric order is not the precedence; see
 * vigil_outcome_rank() and docs/verdict.md.
 */
enum vigil_outcome {
	VIGIL_OUTCOME_PASS = 0,
	VIGIL_OUTCOME_WORKLOAD_FAILED,  /* EXIT status != 0, a signal, or a failed test */
	VIGIL_OUTCOME_SCHED_EXIT,       /* the scheduler under test exited */
	VIGIL_OUTCOME_WATCHDOG_TIMEOUT, /* workload ran past workload_duration (pauses excluded) */
	VIGIL_OUTCOME_RUN_TIMEOUT,      /* the whole run ran past run_timeout (host time) */
	VIGIL_OUTCOME_BOOT_TIMEOUT,     /* no SYS_RDY within boot_timeout (runnable time) */
	VIGIL_OUTCOME_GUEST_CRASH,      /* kernel panic: a panic line, pvpanic */
	VIGIL_OUTCOME_PROCESS_STALL,    /* a tracked process missed its deadline (on_stall fail) */
	VIGIL_OUTCOME_HOST_STARVED,     /* silence while the vCPUs got no CPU time */
	VIGIL_OUTCOME_LINK_LOST,        /* the guest link went away and did not come back */
	VIGIL_OUTCOME_HARNESS_ERROR,    /* vigil itself failed (vigil_session_harness_error) */
	VIGIL_OUTCOME_KERNEL_TROUBLE,   /* an Oops, BUG, OOM kill, ... (fatal: see fail_on) */
	VIGIL_OUTCOME_QEMU_EXITED,      /* the VMM exited or was killed while the run went on */
	VIGIL_OUTCOME_GUEST_STALL,      /* the whole guest (the agent itself) stopped running */
	VIGIL_OUTCOME__COUNT,
};

/* "PASS", "WORKLOAD_FAILED", ...; "UNKNOWN" for other values. */
VIGIL_API const char *vigil_outcome_name(enum vigil_outcome o);
/*
 * Precedence rank: among the fatal findings, the one with the highest rank
 * is the outcome (ties: the earliest). PASS ranks 0. Highest first:
 * GUEST_CRASH, KERNEL_TROUBLE, SCHED_EXIT, HOST_STARVED, GUEST_STALL, PROCESS_STALL,
 * HARNESS_ERROR, QEMU_EXITED, BOOT_TIMEOUT, WATCHDOG_TIMEOUT, RUN_TIMEOUT,
 * LINK_LOST, WORKLOAD_FAILED.
 */
VIGIL_API int vigil_outcome_rank(enum vigil_outcome o);

/* ---- kernel trouble ----------------------------------------------------- */

/*
 * What a kernel log line reports. The classifier looks at the message
 * itself, after an optional printk timestamp "[   12.345678] " (and caller
 * id "[    T1] "), so a word in the middle of a line never matches. The
 * patterns (kernel 6.1, older and arm64 forms where they differ):
 * PANIC "Kernel panic - not syncing" and its "---[ end Kernel panic";
 * OOPS "Oops:", "general protection fault", a die() header such as
 * "invalid opcode: 0000 [#1]" or arm64 "Internal error: Oops: ... [#1]";
 * BUG "BUG: ..." (not a soft lockup), "kernel BUG at", SLUB's
 * "BUG <cache> (Not tainted): ...", "UBSAN: ...", arm64 "Unable to handle
 * kernel ..."; WARNING "WARNING: CPU: N PID: N at ..." and lockdep's reports
 * ("WARNING: possible circular locking dependency detected", ...), never
 * "------------[ cut here ]"; OOM "Out of memory: Killed process N",
 * "Memory cgroup out of memory: Killed process N", "oom-kill:...,pid=N"
 * (a session makes one finding per kill); HUNG_TASK "INFO: task X:N
 * blocked for more than N seconds."; SOFT_LOCKUP "watchdog: BUG: soft
 * lockup - CPU#N stuck" and "Watchdog detected hard LOCKUP"; RCU_STALL
 * "rcu: INFO: rcu_sched detected stalls", "... self-detected stall",
 * "... detected expedited stalls".
 */
enum vigil_kernel_trouble {
	VIGIL_KT_NONE = 0,
	VIGIL_KT_PANIC,       /* "Kernel panic - not syncing" */
	VIGIL_KT_OOPS,        /* "Oops:", "general protection fault", "...: 0000 [#1]" */
	VIGIL_KT_BUG,         /* "BUG: ...", "kernel BUG at", "UBSAN:" (not soft lockup) */
	VIGIL_KT_WARNING,     /* "WARNING: CPU: N PID: N at ...", lockdep's warnings */
	VIGIL_KT_OOM,         /* "... Killed process N", "oom-kill:": one finding a kill */
	VIGIL_KT_HUNG_TASK,   /* "INFO: task X:N blocked for more than N seconds." */
	VIGIL_KT_SOFT_LOCKUP, /* "watchdog: BUG: soft lockup - CPU#N stuck", hard LOCKUP */
	VIGIL_KT_RCU_STALL,   /* "rcu: INFO: rcu_sched detected stalls", "self-detected" */
	VIGIL_KT__COUNT,
};

/* Classify one line (no newline needed; a trailing CR/LF is ignored). NULL
 * or an empty line is VIGIL_KT_NONE. Pure; safe on any bytes. */
VIGIL_API enum vigil_kernel_trouble vigil_kernel_line_classify(const char *line, size_t len);
/* "panic", "oops", "bug", "warning", "oom", "hung_task", "soft_lockup",
 * "rcu_stall"; "none" for VIGIL_KT_NONE and other values. */
VIGIL_API const char *vigil_kernel_trouble_name(enum vigil_kernel_trouble k);
/* The kind named name[0..len) (case-insensitive; '-' and '_' alike, so
 * "hung-task" is "hung_task"), "none" included; -EINVAL for anything else. */
VIGIL_API int vigil_kernel_trouble_parse(const char *name, size_t len);

/* ---- stall classes ------------------------------------------------------- */

/*
 * Why a tracked process stopped beating, from two samples of its /proc
 * state that the agent took 100 ms of runnable time apart (INSPECT, wire
 * "Process inspection"), or why the agent itself did not answer. The
 * rules, on the second sample and the deltas between the two
 * (docs/verdict.md, "Stall classes"):
 */
enum vigil_stall_class {
	VIGIL_STALL_UNCLASSIFIED = 0, /* "unclassified": no samples (the agent cannot inspect,
					 the bound refused, the link or the agent restarted, the
					 pid beat again first) */
	VIGIL_STALL_RUNNABLE,         /* "runnable": state R, run_ns not advancing (under 1 % of
					 the time sampled): runnable, not scheduled (wait_ns moves
					 only when it gets a CPU: it may stand still too) */
	VIGIL_STALL_RUNNING,          /* "running": state R and run_ns advancing: it gets CPU
					 time and does not beat (a loop in its own code) */
	VIGIL_STALL_BLOCKED,          /* "blocked": D, blocked in the kernel (wchan, stack) */
	VIGIL_STALL_SLEEPING,         /* "sleeping": S or I, stopped beating on its own */
	VIGIL_STALL_STOPPED,          /* "stopped": T or t, by a signal or a tracer */
	VIGIL_STALL_GONE,             /* "gone": -ESRCH (or a zombie, Z/X): exited without a
					 STOPPING beat */
	VIGIL_STALL_GUEST,            /* "guest_stall": the agent itself did not run (no answer
					 within 1 s, its own beat overdue, or no byte at all):
					 one finding for the guest */
	VIGIL_STALL_UNKNOWN,          /* "unknown": the agent answered, but with an error
					 (-EACCES, -EBUSY, ...), another state, R with no
					 schedstat, or it ran and left the INSPECT unanswered */
	VIGIL_STALL__COUNT,
};

/* "runnable", "running", ...; "unclassified" for other values. */
VIGIL_API const char *vigil_stall_class_name(enum vigil_stall_class c);

/* "NORMAL", "FIFO", "RR", "BATCH", "IDLE", "DEADLINE", "EXT"; NULL for other
 * values (show them as numbers). */
VIGIL_API const char *vigil_sched_policy_name(uint32_t policy);

/* What found a guest stall (struct vigil_stall_info.cause). */
enum vigil_guest_stall_cause {
	VIGIL_GSTALL_NONE = 0,
	VIGIL_GSTALL_NO_ANSWER,  /* an INSPECT had no answer within 1 s of runnable time and
				    nothing else came from the guest meanwhile */
	VIGIL_GSTALL_AGENT_BEAT, /* the agent's own beat (HELLO's agent pid) is overdue */
	VIGIL_GSTALL_SILENCE,    /* nothing at all (no beat, PONG or output) for the stall
				    threshold while PINGs went unanswered */
};

/* One sample of a process, from one PROCESS_REPORT (wire.h's fields). */
struct vigil_process_sample {
	int32_t status;    /* 0, or the agent's negative errno (-ESRCH, -EACCES, -EBUSY) */
	uint8_t state;     /* /proc/PID/stat state letter, ASCII (R, S, D, T, ...) */
	uint32_t policy;   /* enum vigil_sched_policy; others kept */
	uint32_t last_cpu; /* the CPU it last ran on */
	uint64_t run_ns;   /* schedstat: on a CPU */
	uint64_t wait_ns;  /* schedstat: runnable on a runqueue, waiting */
	uint64_t timeslices;
	uint64_t voluntary_switches;
	uint64_t involuntary_switches;
	uint64_t t_ns; /* host ns since session creation when the report arrived */
	/* NUL-terminated guest bytes (NULs shown as '?'); escape when shown */
	char comm[VIGIL_WIRE_COMM_MAX + 1];
	char wchan[VIGIL_WIRE_WCHAN_MAX + 1];
	char stack[VIGIL_WIRE_STACK_MAX + 1];
	char cgroup[VIGIL_WIRE_CGROUP_MAX + 1];
};

#define VIGIL_FOLDED_MAX 8u /* pids of folded process stalls a guest stall names */

/*
 * A classified stall: the class and the samples it was found from. Owned by
 * the session (valid until vigil_session_free), reached from the finding
 * (struct vigil_finding.stall) and the STALL_CLASSIFIED event.
 */
struct vigil_stall_info {
	enum vigil_stall_class cls;
	uint32_t pid;        /* the stalled process; 0 for a guest stall */
	uint32_t n_samples;  /* 0..2 valid in sample[] */
	uint64_t sampled_ns; /* runnable ns between the two reports; 0 with fewer */
	uint64_t silence_ns; /* runnable silence when the class was found */
	struct vigil_process_sample sample[2];
	/* guest stall only */
	enum vigil_guest_stall_cause cause;
	uint32_t folded;                        /* process stalls folded into it */
	uint32_t folded_pids[VIGIL_FOLDED_MAX]; /* the first VIGIL_FOLDED_MAX of them */
};

/* ---- findings ------------------------------------------------------------ */

/*
 * One thing that went wrong. A fatal finding may decide the outcome; a
 * non-fatal one (a stall under on_stall WARN, kernel trouble whose kind is
 * not in fail_on) is reported in the verdict and its summary, never the
 * outcome.
 */
struct vigil_finding {
	enum vigil_outcome outcome;
	uint64_t t_ns;         /* host ns since session creation */
	int32_t status;        /* WORKLOAD_FAILED: exit status; SCHED_EXIT: exit code; QEMU_EXITED:
				  its exit status or -1; else 0 */
	uint32_t kind;         /* SCHED_EXIT: exit kind; WORKLOAD_FAILED: signal; QEMU_EXITED: the
				  signal that killed it or 0; KERNEL_TROUBLE: enum vigil_kernel_trouble;
				  GUEST_CRASH from a kernel line: VIGIL_KT_PANIC; else 0 */
	uint32_t pid;          /* PROCESS_STALL / HOST_STARVED: the pid; KERNEL_TROUBLE: the OOM
				  victim or the hung task, when the line names it; else 0 */
	uint64_t silence_ns;   /* PROCESS_STALL / HOST_STARVED / GUEST_STALL: runnable silence at
				  detection */
	bool fatal;            /* may decide the outcome */
	uint64_t recovered_ns; /* PROCESS_STALL / HOST_STARVED: host ns since session creation
				  when the pid beat again; 0 = not recovered */
	uint64_t recovery_silence_ns;  /* the whole silence, at recovery; 0 = not recovered */
	char detail[VIGIL_DETAIL_MAX]; /* NUL-terminated; raw guest bytes, escape when shown */
	/* Added with stall classes. PROCESS_STALL and GUEST_STALL: the class
	 * (enum vigil_stall_class; 0 while or when not classified) and its
	 * samples (NULL when none). GUEST_STALL: pid 0, silence_ns the guest's
	 * whole silence. */
	uint32_t stall_class;
	const struct vigil_stall_info *stall;
};

/* ---- events ------------------------------------------------------------ */

enum vigil_event_type {
	VIGIL_EV_LINK_UP = 1,      /* the runner connected to the guest port */
	VIGIL_EV_LINK_DOWN,        /* the link closed; the assembler was reset */
	VIGIL_EV_FIRST_BYTE,       /* the first byte from the guest */
	VIGIL_EV_HELLO,            /* .hello */
	VIGIL_EV_AGENT_RESTART,    /* a HELLO with seq 0 started a later epoch: .hello */
	VIGIL_EV_READY,            /* SYS_RDY acted on (once per epoch): .ready */
	VIGIL_EV_SCENARIO,         /* .scenario */
	VIGIL_EV_OUTPUT,           /* STDOUT/STDERR/DMESG/LOG chunk: .output */
	VIGIL_EV_TEST_RESULT,      /* .test */
	VIGIL_EV_EXIT,             /* the workload exited: .exit */
	VIGIL_EV_SCHED_EXIT,       /* .sched_exit */
	VIGIL_EV_PROCESS_NEW,      /* first accepted beat of a pid: .process */
	VIGIL_EV_PROCESS_GONE,     /* STOPPING beat or eviction: .process */
	VIGIL_EV_STALL,            /* a pid missed its deadline (once per silence): .process */
	VIGIL_EV_RECOVERY,         /* a stalled pid beat again: .process */
	VIGIL_EV_SNAPSHOT_REQUEST, /* a valid request was handed to the provider: .snapshot */
	VIGIL_EV_SNAPSHOT_DONE,    /* a SNAPSHOT_REPLY was sent (refusals included): .snapshot */
	VIGIL_EV_VM_STOPPED,       /* .vm */
	VIGIL_EV_VM_RESUMED,       /* .vm (stopped_ns = this stop's length) */
	VIGIL_EV_PONG,             /* .pong */
	VIGIL_EV_AGENT_STATS,      /* .agent_stats */
	VIGIL_EV_ANOMALY,          /* a stream or tracker counter moved: .anomaly */
	VIGIL_EV_FINDING,          /* a finding was recorded: .finding */
	VIGIL_EV_RUN_END,          /* vigil_session_finish(): .run_end */
	VIGIL_EV_FLOW,             /* a flow opened or closed: .flow */
	VIGIL_EV_STALL_CLASSIFIED, /* a stall's class was found (or a guest stall): .classified */
	VIGIL_EV__COUNT,
};

/* "link_up", "stall", ...; the "event" field of the JSON form. */
VIGIL_API const char *vigil_event_name(enum vigil_event_type t);

enum vigil_scenario_phase {
	VIGIL_SCENARIO_START = 1,
	VIGIL_SCENARIO_PAUSE,
	VIGIL_SCENARIO_RESUME,
	VIGIL_SCENARIO_END,
};

/* Why a pid left the tracker (VIGIL_EV_PROCESS_GONE). */
enum vigil_gone_reason {
	VIGIL_GONE_STOPPING = 1, /* clean goodbye */
	VIGIL_GONE_EVICTED,      /* made room for a new pid */
};

struct vigil_verdict;

/* The payloads of struct vigil_event, one per kind of event (declared
 * apart so that C++ embedders can use the header: C++ allows no types
 * inside an anonymous union). */
struct vigil_ev_hello {
	uint32_t epoch;         /* 1 for the first HELLO with seq 0 */
	uint16_t proto_version; /* != 1 is reported, decoding goes on */
	uint32_t capabilities;
	uint64_t guest_boottime_ns;
	struct vigil_str agent_version;
	struct vigil_str kernel_release;
	struct vigil_str hostname;
};

struct vigil_ev_ready {
	uint32_t epoch;
	uint64_t since_link_ns; /* since the first LINK_UP (0 if none) */
};

struct vigil_ev_scenario {
	enum vigil_scenario_phase phase;
	uint32_t index;        /* scenario number in the run, from 0 */
	struct vigil_str name; /* as sent; may be empty */
	uint64_t pause_ns;     /* RESUME: this pause; END: total pauses */
	uint64_t run_ns;       /* END: running time without pauses */
};

struct vigil_ev_output {
	uint16_t stream;   /* VIGIL_MSG_STDOUT/STDERR/DMESG/LOG */
	bool crc_ok;       /* false: a torn chunk, shown flagged */
	uint8_t level;     /* DMESG/LOG level, 0 otherwise */
	uint64_t kmsg_seq; /* DMESG */
	uint64_t ts_us;    /* DMESG */
	const uint8_t *data;
	uint32_t len;
};

struct vigil_ev_test {
	uint8_t outcome; /* enum vigil_test_outcome; others kept */
	uint64_t duration_ns;
	struct vigil_str name;
	struct vigil_str message;
};

struct vigil_ev_exit {
	int32_t status; /* -1 if killed */
	int32_t signal; /* 0 if none */
};

struct vigil_ev_sched_exit {
	int32_t code;
	uint32_t kind; /* enum vigil_sched_exit_kind; others kept */
	struct vigil_str reason;
};

struct vigil_ev_process {
	uint32_t pid;
	uint8_t origin;  /* enum vigil_beat_origin */
	uint16_t status; /* last beat status */
	uint64_t pidns_inode;
	uint64_t deadline_ns;        /* the pid's threshold (clamped deadline_ms) */
	uint64_t silence_ns;         /* STALL: silence so far; RECOVERY: whole silence */
	bool host_starved;           /* STALL: no vCPU time late in the silence */
	enum vigil_gone_reason gone; /* PROCESS_GONE only */
};

struct vigil_ev_snapshot {
	uint32_t request_id;
	uint32_t kind;  /* enum vigil_snapshot_kind */
	int32_t status; /* DONE: 0 or negative errno sent to the guest */
	struct vigil_str tag;
	struct vigil_str detail; /* DONE only */
};

struct vigil_ev_vm {
	uint64_t stopped_ns;       /* RESUMED: length of this stop */
	uint64_t total_stopped_ns; /* all stops so far */
};

struct vigil_ev_pong {
	uint64_t token;
	uint64_t rtt_ns;
	uint64_t guest_mono_ns;
};

struct vigil_ev_agent_stats {
	struct vigil_agent_stats stats; /* use vigil_agent_stats_get() */
};

struct vigil_ev_anomaly {
	const char *counter; /* counter name as in the counters struct */
	uint64_t delta;      /* since the last report */
	uint64_t total;
};

struct vigil_ev_finding {
	const struct vigil_finding *finding;
};

struct vigil_ev_run_end {
	const struct vigil_verdict *verdict;
};

struct vigil_ev_flow {
	/* The record that changed the flow, with the change as its
	 * event (VIGIL_FLOW_OPENED: a new flow, a reopened one or
	 * a first ACTIVE; VIGIL_FLOW_CLOSED: an open flow closed,
	 * or a CLOSED for one never seen) and, for a flow in the
	 * table, its totals: the largest bytes and packets
	 * reported, the last non-zero pid. */
	const struct vigil_flow *flow;
};

struct vigil_ev_classified {
	/* the class and the samples; pid 0 and class GUEST for a
	 * guest stall, with the process stalls folded into it */
	const struct vigil_stall_info *info;
};

/*
 * An event. Borrowed: every pointer in it (strings, output bytes, finding,
 * verdict) is valid only during the sink callback.
 */
struct vigil_event {
	size_t sz; /* set by the library: sizeof(struct vigil_event) as it was built */
	enum vigil_event_type type;
	uint64_t now_ns; /* host CLOCK_MONOTONIC of the call that raised it */
	uint64_t t_ns;   /* now_ns - session creation time */
	union {
		struct vigil_ev_hello hello;
		struct vigil_ev_ready ready;
		struct vigil_ev_scenario scenario;
		struct vigil_ev_output output;
		struct vigil_ev_test test;
		struct vigil_ev_exit exit;
		struct vigil_ev_sched_exit sched_exit;
		struct vigil_ev_process process;
		struct vigil_ev_snapshot snapshot;
		struct vigil_ev_vm vm;
		struct vigil_ev_pong pong;
		struct vigil_ev_agent_stats agent_stats;
		struct vigil_ev_anomaly anomaly;
		struct vigil_ev_finding finding;
		struct vigil_ev_run_end run_end;
		struct vigil_ev_flow flow;
		struct vigil_ev_classified classified;
	};
	/* Fields added after the first release: read them only when sz
	 * covers them (docs/abi.md). */
	uint32_t hello_agent_pid; /* HELLO, AGENT_RESTART: the pid the agent beats
				   * for itself (0: none, or an older agent) */
};

/* ---- interfaces the caller supplies ------------------------------------ */

/* Receives every event. */
struct vigil_event_sink {
	void (*event)(void *ctx, const struct vigil_event *ev);
	void *ctx;
};

/*
 * Takes whole frames for the guest (SNAPSHOT_REPLY, PING, SHUTDOWN: on
 * vigil_session_request_shutdown(), and after EXIT under ack_exit). Must not
 * block: return 0 when the frame was taken (queued or written), or a
 * negative errno (e.g. -EAGAIN) to drop it; drops are counted (tx_errors).
 */
struct vigil_guest_writer {
	int (*write)(void *ctx, const uint8_t *frame, size_t len);
	void *ctx;
};

/*
 * Carries out snapshots (QMP, libvirt, a fake in tests). start() returns at
 * once: 0 when the snapshot was started (completion reported later through
 * vigil_session_snapshot_done, which may also be called from inside start()),
 * or a negative errno to refuse it (-EOPNOTSUPP, -EBUSY, ...), which is sent
 * to the guest as the reply status. A VM freeze it causes is reported with
 * vigil_session_vm_stopped/_resumed.
 */
struct vigil_snapshot_provider {
	int (*start)(void *ctx, uint32_t kind, struct vigil_str tag, uint32_t request_id);
	void *ctx;
};

/*
 * Reads the VM's vCPU progress: a monotonically increasing count of CPU time
 * (ns) its vCPU threads received. Returns 0 and writes *cpu_ns, or a negative
 * errno when unknown (the session then never concludes HOST_STARVED).
 */
struct vigil_progress_probe {
	int (*sample)(void *ctx, uint64_t *cpu_ns);
	void *ctx;
};

/*
 * The vCPU threads' state (vigil_session_set_vcpu_state_probe): besides
 * their CPU time, how long they waited runnable on the host's runqueues
 * (/proc/PID/task/TID/schedstat field 2) and whether the host stopped them
 * (state T). With it the session tells a guest the host starved (its vCPUs
 * wait for a host CPU, or are stopped) from a halted one (they sleep: an
 * idle or deadlocked guest, which is a guest stall), and an overloaded host
 * behind a boot or watchdog timeout.
 */
struct vigil_vcpu_state {
	uint64_t cpu_ns;  /* CPU time the vCPU threads got, monotonic */
	uint64_t wait_ns; /* time they waited runnable on a host runqueue, monotonic */
	bool stopped;     /* a vCPU thread is stopped (SIGSTOP, a tracer) */
};

struct vigil_vcpu_state_probe {
	/* 0 and *out, or a negative errno when unknown */
	int (*sample)(void *ctx, struct vigil_vcpu_state *out);
	void *ctx;
};

/* All optional: a NULL function pointer means "not supplied". */
struct vigil_session_hooks {
	struct vigil_event_sink sink;
	struct vigil_guest_writer writer;
	struct vigil_snapshot_provider snapshot;
	struct vigil_progress_probe progress;
};

/* ---- options ----------------------------------------------------------- */

enum vigil_eviction {
	VIGIL_EVICT_STRICT = 0,   /* silent > 10 x threshold and its stall reported */
	VIGIL_EVICT_BALANCED = 1, /* silent > 10 x threshold */
};

enum vigil_on_stall {
	VIGIL_ON_STALL_WARN = 0, /* stall events and counters only */
	VIGIL_ON_STALL_FAIL = 1, /* the first stall ends the run (PROCESS_STALL / HOST_STARVED /
				    GUEST_STALL), after waiting up to 1.1 s of runnable time
				    for a process stall's class */
};

enum vigil_session_mode {
	VIGIL_MODE_RUN = 0,   /* a workload is expected: its EXIT decides PASS */
	VIGIL_MODE_WATCH = 1, /* long-lived liveness: no EXIT expected; finish() alone is PASS */
};

/*
 * Options, checked like libbpf's. Declare them with VIGIL_SESSION_OPTS(name,
 * .field = value, ...), which sets sz and every default (C only; from C++,
 * or to reset a struct, call vigil_session_opts_default() and assign).
 *
 * sz is sizeof(struct vigil_session_opts) as the caller compiled it:
 * - smaller (a caller built against an older header): the fields past sz
 *   keep this library's defaults;
 * - larger (a newer header): the bytes past this library's struct must be
 *   zero, else vigil_session_new() refuses the options (-EINVAL, field
 *   "sz"): a field this library does not know is never silently ignored.
 *   At most VIGIL_SESSION_OPTS_SZ_MAX.
 * Fields are only ever added at the end, past the last one's end (the
 * struct has no trailing padding: `reserved` fills it and must be 0).
 *
 * Every field's range is below; "0: off" is said where 0 turns something
 * off, and nowhere else. Durations are ns, at most VIGIL_DURATION_MAX_NS
 * (so that now + duration cannot overflow). A value out of range makes
 * vigil_session_new() return -EINVAL; vigil_session_opts_check() names the
 * field.
 *
 * The workload watchdog. In MODE_RUN the workload runs from SYS_RDY (the
 * agent starts it right after) to its EXIT, with or without scenarios;
 * workload_duration_ns bounds that span's runnable time: VM stops and
 * snapshot freezes (vigil_session_vm_stopped/_resumed) and scenario pauses
 * (SCENARIO_PAUSE .. RESUME) do not count. Past it: WATCHDOG_TIMEOUT. In
 * MODE_WATCH there is no EXIT: the budget is the scenarios' unpaused
 * running time (first SCENARIO_START on, the time between scenarios not
 * counted).
 *
 * The workload's EXIT. The first CRC-valid, well-formed EXIT is recorded
 * (and ends the run in MODE_RUN). With ack_exit it is answered with
 * SHUTDOWN: the agent waits for that (bounded) before powering off, so that
 * bytes still in flight are read; without it nothing is sent and the
 * agent powers off when its wait runs out, or, as a daemon, goes on.
 */
#define VIGIL_DURATION_MAX_NS          (1ull << 62) /* ~146 years */
#define VIGIL_PROGRESS_INTERVAL_MIN_NS 10000000ull  /* 10 ms */
#define VIGIL_SESSION_OPTS_SZ_MAX      4096u

struct vigil_session_opts {
	size_t sz; /* sizeof(struct vigil_session_opts) as the caller compiled it */
	enum vigil_session_mode mode; /* RUN or WATCH; default RUN */
	/* tracker */
	uint32_t tracker_capacity;    /* pids tracked, 1..4096 (VIGIL_TRACKER_MAX_CAPACITY);
					 default 256 */
	uint32_t probe_budget;        /* pid index slots probed at most, 1..64; default 32 */
	enum vigil_eviction eviction; /* STRICT or BALANCED; default BALANCED */
	uint32_t eviction_window;     /* slots scanned per eviction attempt, >= 1 (more than
					 tracker_capacity scans the table once); default 32 */
	uint64_t stall_threshold_ns;  /* deadline of a beat with deadline_ms 0, 1 ns..24 h; no
					 0 (a pid that beats always has a deadline); default
					 5 s */
	uint64_t deadline_min_ns;     /* clamp of per-beat deadline_ms, 0..deadline_max_ns;
					 default 50 ms */
	uint64_t deadline_max_ns;     /* deadline_min_ns..24 h; default 10 min */
	uint64_t pid_min_interval_ns; /* beats of one pid closer than this are dropped; 0: none
					 dropped; default 0 */
	uint32_t beat_rate_per_s;     /* per-guest token bucket, beats/s, any; 0: unlimited;
					 default 1000000 */
	uint32_t beat_burst;          /* bucket size, >= 1 unless beat_rate_per_s is 0;
					 default 100000 */
	enum vigil_on_stall on_stall; /* WARN or FAIL; default WARN */
	/* run */
	uint64_t boot_timeout_ns;      /* session creation -> SYS_RDY, runnable time; 0: off;
					  default 0 */
	uint64_t workload_duration_ns; /* the workload's runnable time, see above; 0: off;
					  default 0 */
	uint64_t run_timeout_ns;       /* session creation -> end, host time; 0: off; default 0 */
	uint64_t link_grace_ns;        /* link down this long before the run ended -> LINK_LOST;
					  0: a closed link never ends the run; default 10 s */
	uint64_t ping_interval_ns;     /* PING period while the link is up and a writer is set;
					  0: off; default 1 s */
	/* host starvation: a stall is HOST_STARVED when the vCPUs got less than
	 * starved_permille / 1000 of the recent window in CPU time: about the
	 * last quarter of the pid's deadline (see docs/verdict.md) */
	uint64_t progress_interval_ns; /* probe sampling period, >= 10 ms
					  (VIGIL_PROGRESS_INTERVAL_MIN_NS), shortened to 1/8 of
					  the shortest pid deadline (not below 10 ms); no 0: a
					  session samples nothing when the hooks have no probe;
					  default 250 ms */
	uint32_t starved_permille;     /* 0..1000; 0: never HOST_STARVED; default 2 (0.2 %) */
	/* bounded tables */
	uint32_t flow_capacity;       /* flows tracked, 16..65536; default 4096 */
	uint32_t max_scenarios;       /* scenarios kept in the verdict, 0..65536; default 64 */
	uint32_t max_tests;           /* test results kept, 0..1048576; default 1024 */
	uint32_t evidence_lines;      /* recent console and dmesg/log lines kept (each), the
					 evidence of a failed boot; 0..4096; default 16 */
	uint64_t anomaly_interval_ns; /* at most one ANOMALY report per counter per period;
					 0: at every tick; default 1 s */
	uint64_t clock_jump_ns;       /* a tick this late past the last deadline counts a jump;
					 default 1 s */
	/* kernel trouble */
	uint32_t fail_on; /* bitmask (1u << VIGIL_KT_x), x in 1..VIGIL_KT__COUNT-1: kernel
			     trouble that ends the run; default 0. PANIC is always fatal
			     (GUEST_CRASH). */
	/* the workload's EXIT */
	bool ack_exit; /* answer the first valid EXIT with SHUTDOWN, the sign the agent
			  waits for before it powers the guest off; default false. Set it
			  when this session owns the guest (`vigil run`); leave it off for
			  an observer (attach, watch), which must not power off a guest it
			  did not start. */
	/* stall classes (added later: older callers get the default) */
	uint32_t inspect_rate_per_s; /* INSPECTs sent per guest per second at most (a stall
					costs two; what the bound refuses is counted), any;
					0: never inspect; default 8 */
	uint32_t reserved;           /* must be 0: room for a field added later */
};

/* The defaults, as designated initializers (used by the two below). */
#define VIGIL__SESSION_OPTS_DEFAULTS                                                               \
	.sz = sizeof(struct vigil_session_opts), .mode = VIGIL_MODE_RUN, .tracker_capacity = 256,  \
	.probe_budget = 32, .eviction = VIGIL_EVICT_BALANCED, .eviction_window = 32,               \
	.stall_threshold_ns = 5000000000ull, .deadline_min_ns = 50000000ull,                       \
	.deadline_max_ns = 600000000000ull, .pid_min_interval_ns = 0, .beat_rate_per_s = 1000000,  \
	.beat_burst = 100000, .on_stall = VIGIL_ON_STALL_WARN, .link_grace_ns = 10000000000ull,    \
	.ping_interval_ns = 1000000000ull, .progress_interval_ns = 250000000ull,                   \
	.starved_permille = 2, .flow_capacity = 4096, .max_scenarios = 64, .max_tests = 1024,      \
	.evidence_lines = 16, .anomaly_interval_ns = 1000000000ull,                                \
	.clock_jump_ns = 1000000000ull, .inspect_rate_per_s = 8

/*
 * Declare options name with the defaults and the fields given, like
 * LIBBPF_OPTS:
 *
 *	VIGIL_SESSION_OPTS(o, .mode = VIGIL_MODE_WATCH, .stall_threshold_ns = 2000000000);
 *
 * A field given overrides its default (the compiler's override warning is
 * silenced for this declaration only). At least one field must follow the
 * name (C11); use `.sz = sizeof(struct vigil_session_opts)` for none. C only:
 * C++ has no repeated designators.
 */
#ifndef __cplusplus
/* clang-format off */
#define VIGIL_SESSION_OPTS(NAME, ...)                                                              \
	_Pragma("GCC diagnostic push")                                                             \
	_Pragma("GCC diagnostic ignored \"-Woverride-init\"")                                      \
	struct vigil_session_opts NAME = { VIGIL__SESSION_OPTS_DEFAULTS, __VA_ARGS__ };            \
	_Pragma("GCC diagnostic pop")                                                              \
	_Static_assert(sizeof(NAME) == sizeof(struct vigil_session_opts), "VIGIL_SESSION_OPTS")
/* clang-format on */
#endif

/* Fill *o with the defaults above (o->sz = sizeof *o). */
VIGIL_API void vigil_session_opts_default(struct vigil_session_opts *o);

/*
 * Check opts as vigil_session_new() would (NULL: the defaults, fine).
 * Returns 0, or -EINVAL and, when field is not NULL, points *field at the
 * name of the first field refused ("tracker_capacity", ...; "sz" for a size
 * below sizeof(size_t) or above VIGIL_SESSION_OPTS_SZ_MAX, or a non-zero
 * byte past this library's struct). *field is static; it is written only
 * on -EINVAL. Use it to say which option is wrong:
 *
 *	if (vigil_session_opts_check(&o, &field) < 0)
 *		fprintf(stderr, "bad session option %s\n", field);
 */
VIGIL_API int vigil_session_opts_check(const struct vigil_session_opts *opts, const char **field);

/* ---- counters ---------------------------------------------------------- */

#define VIGIL_MSG_GUEST_TYPES 0x14 /* guest-to-host types are 1..0x13 */

struct vigil_type_counters {
	uint64_t frames;       /* delivered with this type (crc_ok or not) */
	uint64_t crc_rejected; /* control/record frames with crc_ok false */
	uint64_t malformed;    /* CRC-valid frames with a wrong shape */
	uint64_t ignored;      /* well-formed frames the type's rules ignored (repeats, ...) */
};

/* Liveness tracker counters. drop_* count beat records, not frames. */
struct vigil_tracker_counters {
	uint64_t beats;                   /* beat records accepted */
	uint64_t drop_out_of_order;       /* nonce not above the last (wrap rule applied) */
	uint64_t drop_capacity;           /* table full, nothing evictable, or probe budget hit */
	uint64_t drop_origin_conflict;    /* origin differs from the pinned one */
	uint64_t drop_namespace_conflict; /* pidns_inode differs from the pinned one */
	uint64_t drop_malformed;          /* records in malformed or torn BEAT frames */
	uint64_t drop_rate_limited;       /* closer than pid_min_interval_ns */
	uint64_t drop_throttled;          /* the per-guest token bucket was empty */
	uint64_t probe_exhausted;         /* of drop_capacity: the probe budget was hit */
	uint64_t nonce_wraps;
	uint64_t inserted; /* pids added */
	uint64_t evicted;
	uint64_t stopped;      /* STOPPING goodbyes */
	uint64_t stalls;       /* STALL events */
	uint64_t recoveries;   /* RECOVERY events */
	uint64_t host_starved; /* stalls classified HOST_STARVED */
	uint32_t tracked;      /* pids now in the table */
	uint32_t stalled;      /* of those, now stalled */
};

struct vigil_flow_counters {
	uint64_t events; /* flow records accepted */
	uint64_t opened; /* flows opened (new key or reopened) */
	uint64_t unique; /* keys ever inserted */
	uint64_t closed;
	uint64_t bytes; /* sum over flows of their latest byte counts */
	uint64_t packets;
	uint64_t table_full;   /* a new key found the table full */
	uint64_t reclaimed;    /* closed flows reclaimed to make room */
	uint64_t dropped;      /* records lost: table full of open flows */
	uint64_t orphan_close; /* CLOSED for a flow never seen open */
	uint64_t listening;    /* listening sockets opened (a flow with no peer, docs/wire.md) */
	uint32_t open_now;
	uint32_t in_table;
};

/* Process inspection and stall classes (INSPECT / PROCESS_REPORT). */
struct vigil_inspect_counters {
	uint64_t sent;          /* INSPECTs sent */
	uint64_t reports;       /* PROCESS_REPORTs that matched a request in flight */
	uint64_t busy;          /* of those, answered -EBUSY */
	uint64_t refused;       /* INSPECTs the bounds refused (rate, requests or stalls
				   in flight) */
	uint64_t timeouts;      /* requests with no report after 2 s of runnable time */
	uint64_t cancelled;     /* requests in flight cancelled by a new epoch or link loss */
	uint64_t classified;    /* process stalls given a class */
	uint64_t guest_stalls;  /* guest stalls found */
	uint64_t folded;        /* process stalls folded into a guest stall */
	uint64_t infos_dropped; /* classes found with no room left to keep their samples */
};

/*
 * What became of the bytes fed (added with the byte accounting). With the
 * assembler's counters, every byte of the stream is accounted for once:
 *   stream.bytes = garbage_bytes + header_crc_errors + 24 x oversize_frames
 *                  + frame_bytes + held_bytes + held_dropped_bytes
 */
struct vigil_stream_accounting {
	uint64_t frame_bytes;        /* bytes of the frames delivered, header included */
	uint64_t held_bytes;         /* now: bytes held in a frame (or magic, header) not
					complete yet; 0 once finished */
	uint64_t held_dropped_bytes; /* bytes held when the link went down or the run
					finished: dropped */
};

/*
 * The counters. The caller sets sz (VIGIL_SESSION_COUNTERS() does) before
 * vigil_session_counters() fills the struct; counters are only added at
 * the end.
 */
struct vigil_session_counters {
	size_t sz;                     /* set by the caller: sizeof as it compiled it */
	struct vigil_asm_stats stream; /* assembler counters (wire.h) */
	uint64_t unknown_type;
	uint64_t wrong_direction;
	struct vigil_type_counters type[VIGIL_MSG_GUEST_TYPES]; /* indexed by type */
	uint64_t epochs;                                        /* HELLOs with seq 0 acted on */
	uint64_t agent_restarts;                                /* of those, after the first */
	uint64_t proto_mismatch;                                /* HELLO proto_version != 1 */
	uint64_t sys_rdy_repeats; /* CRC-valid, empty SYS_RDY after the first of an epoch */
	uint64_t scenario_double_pause;
	uint64_t scenario_unmatched;   /* PAUSE/RESUME/END without a running scenario */
	uint64_t scenario_overlap;     /* START while one runs (the old one is ended) */
	uint64_t scenarios_dropped;    /* past max_scenarios */
	uint64_t snapshot_busy;        /* refused -EBUSY */
	uint64_t snapshot_unsupported; /* refused -EOPNOTSUPP */
	uint64_t snapshot_refused;     /* provider refused */
	uint64_t snapshot_duplicates;  /* repeat of an in-flight or answered id */
	uint64_t tests_dropped;        /* past max_tests */
	uint64_t output_bytes;         /* STDOUT/STDERR/DMESG/LOG payload bytes */
	uint64_t output_torn;          /* output chunks with crc_ok false */
	uint64_t exits_ignored;        /* EXIT after the first */
	uint64_t strings_truncated;    /* guest strings cut to VIGIL_NAME_MAX/DETAIL_MAX */
	uint64_t tx_frames;
	uint64_t tx_bytes;
	uint64_t tx_errors; /* writer refused or absent */
	uint64_t pings;
	uint64_t pongs;
	uint64_t pong_unmatched;
	uint64_t rtt_last_ns;
	uint64_t rtt_min_ns;
	uint64_t rtt_max_ns;
	uint64_t clock_regressions;   /* now_ns below the last one (clamped) */
	uint64_t clock_forward_jumps; /* called > clock_jump_ns past the deadline */
	uint64_t vm_stops;
	uint64_t vm_stopped_ns;       /* host time the VM spent stopped */
	uint64_t host_read_pauses;    /* times the caller stopped reading the guest */
	uint64_t host_read_paused_ns; /* host time it did not read (vigil_session_host_paused) */
	uint64_t link_ups;
	uint64_t link_downs;
	uint64_t evidence_lines;   /* console, DMESG and LOG lines seen */
	uint64_t findings_dropped; /* findings the bounded table did not keep (a non-fatal one
				      past the bound, or removed to make room for a fatal one) */
	uint64_t evidence_dropped; /* evidence lines the bounded pool did not keep */
	uint64_t kernel_trouble[VIGIL_KT__COUNT]; /* troubles seen, by kind (each report once,
						     kept or not; [VIGIL_KT_NONE] is 0) */
	uint64_t kernel_trouble_dropped; /* of those, past the per-kind bound: no finding */
	struct vigil_tracker_counters tracker;
	struct vigil_flow_counters flows;
	struct vigil_inspect_counters inspect; /* added with stall classes */
	struct vigil_stream_accounting stream_acct;
};

/* Declare counters name with sz set, the rest zero (C and C++). */
#ifdef __cplusplus
static inline struct vigil_session_counters vigil__session_counters(void)
{
	struct vigil_session_counters c = {};

	c.sz = sizeof(c);
	return c;
}
#define VIGIL_SESSION_COUNTERS(NAME) struct vigil_session_counters NAME = vigil__session_counters()
#else
#define VIGIL_SESSION_COUNTERS(NAME)                                                               \
	struct vigil_session_counters NAME = { .sz = sizeof(struct vigil_session_counters) }
#endif

/*
 * Counter descriptors: a read-only description of every value in struct
 * vigil_session_counters, for exporters (a Prometheus /metrics page, ...).
 * The verdict's JSON and the ANOMALY events are written from the same
 * table, so a counter is named in one place. The table lists the counters
 * in the verdict's JSON order; it covers every byte of the struct once,
 * but sz.
 */
enum vigil_counter_kind {
	VIGIL_COUNTER = 0, /* only grows during a session */
	VIGIL_GAUGE = 1,   /* goes up and down */
};

/* What the elements of an array counter stand for. */
enum vigil_counter_index {
	VIGIL_COUNTER_SCALAR = 0,            /* one value (count 1) */
	VIGIL_COUNTER_BY_MSG_TYPE = 1,       /* element i: guest-to-host message type i */
	VIGIL_COUNTER_BY_KERNEL_TROUBLE = 2, /* element i: enum vigil_kernel_trouble i */
};

struct vigil_counter_desc {
	const char *name;  /* unique metric name: snake_case, in base units ("..._bytes",
			      "..._seconds"); an exporter adds its prefix and, for a
			      counter, "_total" */
	const char *group; /* the verdict's JSON object that holds it: "stream", "types",
			      "session", "kernel_trouble", "tracker", "flows" */
	const char *field; /* its key there (for "types", inside each type's object); NULL
			      when the labels are the keys ("kernel_trouble") */
	const char *unit;  /* "bytes", "seconds" or "" (a count) */
	const char *help;  /* one sentence */
	enum vigil_counter_kind kind;
	enum vigil_counter_index index;
	const char *label; /* the label's name for an array counter ("type", "kind"), else NULL */
	uint32_t scale;    /* the value in unit is the raw value / scale: 10^9 for seconds
			      (kept in ns), 1 otherwise */
	size_t offset;     /* of the value (element 0) in struct vigil_session_counters */
	uint8_t size;      /* 4 or 8 */
	uint16_t count;    /* elements: 1 for a scalar */
	uint16_t stride;   /* bytes between elements; 0 for a scalar */
};

/*
 * The descriptors, *n of them (n may be NULL). Static data, valid for the
 * life of the library. The element size is this header's sizeof(struct
 * vigil_counter_desc): a change of that struct changes the soname.
 */
VIGIL_API const struct vigil_counter_desc *vigil_session_counter_descs(size_t *n);
/* The raw value d describes in c; for an array counter, the sum over its
 * elements. A value past c->sz (a caller's older, smaller struct) is 0. */
VIGIL_API uint64_t vigil_counter_value(const struct vigil_session_counters *c,
				       const struct vigil_counter_desc *d);
/* Element i of d's value (i < d->count; 0 past it, and past c->sz). */
VIGIL_API uint64_t vigil_counter_value_at(const struct vigil_session_counters *c,
					  const struct vigil_counter_desc *d, uint32_t i);
/*
 * The label of element i of an array counter: the message type's name
 * ("BEAT") or the trouble kind's ("oops"). NULL for a scalar, past the end,
 * and for elements that stand for nothing (type 0, VIGIL_KT_NONE): an
 * exporter leaves those out.
 */
VIGIL_API const char *vigil_counter_label(const struct vigil_counter_desc *d, uint32_t i);

/* ---- verdict ----------------------------------------------------------- */

/* Timestamps are host ns since session creation; 0 = did not happen. */
struct vigil_timeline {
	uint64_t link_up_ns; /* first LINK_UP */
	uint64_t first_byte_ns;
	uint64_t hello_ns;          /* first HELLO */
	uint64_t guest_boottime_ns; /* from HELLO: guest CLOCK_BOOTTIME when it was sent */
	uint64_t ready_ns;          /* first SYS_RDY acted on */
	uint64_t workload_start_ns; /* MODE_RUN: SYS_RDY (the workload starts right after),
				       or an earlier SCENARIO_START; MODE_WATCH: the first
				       SCENARIO_START */
	uint64_t exit_ns;           /* workload EXIT */
	uint64_t sched_exit_ns;
	uint64_t end_ns; /* vigil_session_finish() */
};

struct vigil_scenario {
	char name[VIGIL_NAME_MAX]; /* NUL-terminated; guest bytes, escape when shown */
	uint64_t start_ns;         /* host ns since session creation */
	uint64_t end_ns;           /* 0 while running / never ended */
	uint64_t pause_ns;         /* total pause (SCENARIO_PAUSE..RESUME) */
	uint32_t pauses;
	uint64_t run_ns;       /* END: runnable time start..end without pauses */
	uint64_t flows_opened; /* flows opened while it ran */
	bool ended;            /* by SCENARIO_END (false: implicit or never) */
};

struct vigil_test {
	char name[VIGIL_NAME_MAX];
	char message[VIGIL_DETAIL_MAX];
	uint8_t outcome; /* enum vigil_test_outcome; others kept */
	uint64_t duration_ns;
	uint64_t t_ns;
};

#define VIGIL_SOURCE_CONSOLE 0u      /* evidence source: the serial console */
#define VIGIL_SOURCE_VMM     0xffffu /* evidence source: the VMM (vigil_session_vmm_exited) */

/*
 * An evidence line: it explains findings[finding]. KERNEL_TROUBLE and a
 * GUEST_CRASH from a kernel line: the trouble line and the report that
 * follows it from the same source; BOOT_TIMEOUT and a crash before SYS_RDY:
 * the last boot lines; WORKLOAD_FAILED (EXIT or the first failed test) and
 * WATCHDOG_TIMEOUT: the workload's last output lines; QEMU_EXITED: the
 * detail's lines.
 */
struct vigil_evidence {
	uint64_t t_ns;
	uint16_t source;  /* VIGIL_SOURCE_CONSOLE, VIGIL_MSG_DMESG, VIGIL_MSG_LOG,
			     VIGIL_MSG_STDOUT, VIGIL_MSG_STDERR, VIGIL_SOURCE_VMM */
	uint32_t finding; /* index into the verdict's findings */
	char line[VIGIL_DETAIL_MAX];
};

struct vigil_guest_info {
	bool have_hello;
	uint16_t proto_version;
	uint32_t capabilities;
	char agent_version[VIGIL_NAME_MAX];
	char kernel_release[VIGIL_NAME_MAX];
	char hostname[VIGIL_NAME_MAX];
};

/*
 * The verdict. Owned by the session, valid until vigil_session_free(); the
 * arrays point into the session.
 */
struct vigil_verdict {
	size_t sz; /* set by the library: sizeof(struct vigil_verdict) as it was built */
	enum vigil_outcome outcome;
	const struct vigil_finding *primary;  /* the fatal finding that decides the outcome;
						 NULL on PASS */
	const struct vigil_finding *findings; /* all kept, fatal or not, in the order found */
	uint32_t n_findings;
	struct vigil_timeline timeline;
	struct vigil_guest_info guest;
	bool have_exit;
	int32_t exit_status;
	int32_t exit_signal;
	bool have_sched_exit;
	int32_t sched_exit_code;
	uint32_t sched_exit_kind;
	char sched_exit_reason[VIGIL_DETAIL_MAX];
	const struct vigil_scenario *scenarios;
	uint32_t n_scenarios;
	const struct vigil_test *tests;
	uint32_t n_tests;
	uint32_t tests_by_outcome[4]; /* PASS, FAIL, SKIP, ERROR (all results, kept or not) */
	uint64_t workload_run_ns;     /* scenarios' running time without pauses */
	uint64_t workload_pause_ns;
	const struct vigil_evidence *evidence; /* every finding's lines, grouped by finding in
						  finding order (see
						  vigil_verdict_finding_evidence) */
	uint32_t n_evidence;
	/* the counters at the end (sz: the library's whole struct); owned by
	 * the session, valid until vigil_session_free() */
	const struct vigil_session_counters *counters;
	/* The agent's own counters from its last AGENT_STATS (wire order,
	 * enum vigil_agent_stat): what it dropped is output the host never
	 * got. have_agent_stats false: none arrived. */
	bool have_agent_stats;
	uint64_t agent_stats[VIGIL_STAT__KNOWN];
};

/*
 * Exit code of `vigil run` for a verdict: 0 PASS; 1..123 the workload's own
 * status (a failed test with status 0 gives 1, a signal or a status
 * outside 1..123 gives 123); 120 SCHED_EXIT; 121 PROCESS_STALL,
 * GUEST_STALL or HOST_STARVED; 124 WATCHDOG/RUN timeout, LINK_LOST and QEMU_EXITED; 125
 * HARNESS_ERROR; 126 GUEST_CRASH and KERNEL_TROUBLE; 127 BOOT_TIMEOUT.
 */
VIGIL_API int vigil_verdict_exit_code(const struct vigil_verdict *v);

/*
 * The evidence lines of v->findings[finding], in the order they came:
 * returns their count and points *lines at the first (NULL when there are
 * none or finding is out of range). For a WORKLOAD_FAILED finding these
 * are the workload's last output lines (STDOUT/STDERR) when it failed.
 */
VIGIL_API uint32_t vigil_verdict_finding_evidence(const struct vigil_verdict *v, uint32_t finding,
						  const struct vigil_evidence **lines);

#define VIGIL_JSON_PRETTY 1u

/*
 * Render the verdict as JSON (schema: docs/verdict.md). *out is a malloc'ed
 * NUL-terminated string the caller frees. Returns its length or -ENOMEM.
 */
VIGIL_API int vigil_verdict_to_json(const struct vigil_verdict *v, unsigned flags, char **out);
/*
 * One-line human summary ("PASS after 3.21 s: workload exit 0; tests 4
 * passed, ...; not fatal: 1 stall (pid 84 recovered after 2.10 s), 1 OOM
 * kill"), written to buf (always terminated when cap > 0). Non-fatal
 * findings are always named. Returns the length it needed, like snprintf.
 */
VIGIL_API int vigil_verdict_summary(const struct vigil_verdict *v, char *buf, size_t cap);

/*
 * Render one event as a single-line JSON object, no newline (schema:
 * docs/events.md). *out is malloc'ed; returns its length, -ENOMEM, or
 * -EMSGSIZE for an OUTPUT chunk too long for an int-sized rendering
 * (over ~357 MB). OUTPUT events take a direct writer (about 1 GB/s of
 * printable text), the others json-c.
 */
VIGIL_API int vigil_event_to_json(const struct vigil_event *ev, char **out);

/*
 * Bytes that always hold an event rendered by vigil_event_render() for a
 * guest's OUTPUT chunk (one frame's payload, every byte escaped at worst).
 */
#define VIGIL_EVENT_RENDER_MAX (512u + 6u * VIGIL_WIRE_MAX_PAYLOAD + 8u)

/*
 * Render one event as vigil_event_to_json() does, into buf (cap bytes,
 * NUL-terminated): returns the length, or -ENOBUFS when it does not fit
 * (VIGIL_EVENT_RENDER_MAX fits any OUTPUT chunk of a frame). OUTPUT events,
 * the one event that comes in bulk, are written without allocating; the
 * others still go through json-c.
 */
VIGIL_API int vigil_event_render(const struct vigil_event *ev, char *buf, size_t cap);

/* ---- the session ------------------------------------------------------- */

struct vigil_session;

/*
 * Create a session at now_ns. opts NULL means defaults; hooks NULL means
 * none (events dropped, no frames sent, snapshots refused -EOPNOTSUPP).
 * Returns 0, -EINVAL for options out of range (vigil_session_opts_check()
 * names the field), -ENOMEM.
 */
VIGIL_API int vigil_session_new(const struct vigil_session_opts *opts,
				const struct vigil_session_hooks *hooks, uint64_t now_ns,
				struct vigil_session **out);
VIGIL_API void vigil_session_free(struct vigil_session *s);

/*
 * Bytes from the guest, any split. Frames are dispatched and events raised
 * before it returns. Returns the number of frames delivered (>= 0), or
 * -ESHUTDOWN after finish(), -EBUSY from a callback (the bytes are not
 * taken). After feeding, call vigil_session_tick() or
 * vigil_session_next_deadline() to learn when to call tick next (a beat or
 * START may have moved it).
 */
VIGIL_API int vigil_session_feed(struct vigil_session *s, const uint8_t *buf, size_t len,
				 uint64_t now_ns);

/*
 * Run due work: stalls, timeouts, pings, progress samples, anomaly reports.
 * Returns the next host-time deadline (ns, CLOCK_MONOTONIC) at which tick
 * must be called again, never before the largest now_ns given so far;
 * VIGIL_DEADLINE_NONE when nothing is pending, and always after finish().
 * From a callback it does no work. Cost: O(1) plus O(log n) per expired
 * deadline.
 */
VIGIL_API uint64_t vigil_session_tick(struct vigil_session *s, uint64_t now_ns);
/* The deadline tick() would return, without doing any work: never before
 * the largest now_ns given to any call (due work is due at that now). */
VIGIL_API uint64_t vigil_session_next_deadline(const struct vigil_session *s);

/*
 * The caller stopped reading the guest's stream (its own outputs are
 * backlogged: a slow reader of the workload's echoed output) / reads it
 * again. Like a VM stop, the time between is not the guest's: stall,
 * watchdog, boot and link clocks do not run, and no PING is sent; unlike
 * it, no event is raised (the guest did nothing). Counted in
 * host_read_pauses and host_read_paused_ns. Repeats return 0; a change 1.
 *
 * These notifications (host_paused, vm_stopped/_resumed, link_up/_down,
 * guest_crashed, console_line, harness_error, vmm_exited) return 0 (or 1
 * as said), -ESHUTDOWN after finish() and -EBUSY from a callback, doing
 * nothing then.
 */
VIGIL_API int vigil_session_host_paused(struct vigil_session *s, uint64_t now_ns, bool paused);

/* The VM stopped (QMP STOP, libvirt suspend, snapshot freeze) / resumed.
 * Repeats are ignored (return 0); a change returns 1. */
VIGIL_API int vigil_session_vm_stopped(struct vigil_session *s, uint64_t now_ns);
VIGIL_API int vigil_session_vm_resumed(struct vigil_session *s, uint64_t now_ns);

/*
 * The transport connected / closed. link_down drops the bytes the assembler
 * holds (wire spec: "the other end closed and reopened") and, unless the run
 * has ended, starts the link_grace_ns countdown to LINK_LOST.
 */
VIGIL_API int vigil_session_link_up(struct vigil_session *s, uint64_t now_ns);
VIGIL_API int vigil_session_link_down(struct vigil_session *s, uint64_t now_ns);

/* The guest kernel crashed (pvpanic, a panic line on the console). evidence
 * may be NULL; it is copied. Ends the run. One GUEST_CRASH finding per run:
 * a crash already found (e.g. from the panic line itself) gets the evidence
 * line instead. */
VIGIL_API int vigil_session_guest_crashed(struct vigil_session *s, uint64_t now_ns,
					  const char *evidence);
/*
 * A console line (no newline needed); copied. Kept in the boot ring and
 * scanned for kernel trouble like the DMESG stream (a trouble seen on both
 * gives one finding).
 */
VIGIL_API int vigil_session_console_line(struct vigil_session *s, uint64_t now_ns, const char *line,
					 size_t len);
/* vigil itself failed (QMP broke, ...); msg is copied. Ends the run. */
VIGIL_API int vigil_session_harness_error(struct vigil_session *s, uint64_t now_ns,
					  const char *msg);
/* The VMM process exited or was killed while the run went on. status is its
 * exit status (or -1), sig the signal that killed it (or 0); detail (may be
 * NULL, copied, bounded) is e.g. the last lines of its stderr. Ends the run.
 * Records QEMU_EXITED (status, kind = sig, detail: its last line; its lines
 * are the evidence), unless the run had already ended: then nothing. The
 * death explains a missing SYS_RDY or EXIT: finish() adds no BOOT_TIMEOUT
 * or LINK_LOST after it. */
VIGIL_API int vigil_session_vmm_exited(struct vigil_session *s, uint64_t now_ns, int status,
				       int sig, const char *detail);

/*
 * Report the end of a snapshot started through the provider. status is 0 or
 * a negative errno; detail (may be NULL) is sent to the guest, at most 4096
 * bytes. Returns 0, -ENOENT when request_id is not in flight, -ESHUTDOWN
 * after finish(), -EBUSY from a callback other than the provider's start().
 */
VIGIL_API int vigil_session_snapshot_done(struct vigil_session *s, uint32_t request_id, int status,
					  const char *detail, uint64_t now_ns);

/* Send SHUTDOWN to the guest (asks the agent to end the workload and power
 * off). Returns 0, the writer's negative errno, -ENOTCONN without a writer,
 * -ESHUTDOWN after finish(), -EBUSY from a callback. */
VIGIL_API int vigil_session_request_shutdown(struct vigil_session *s, uint64_t now_ns);

/*
 * 1 once the run has ended (workload EXIT, SCHED_EXIT, a timeout, a crash,
 * kernel trouble in fail_on, a stall with on_stall fail, LINK_LOST, a
 * harness error, the VMM's exit): the runner should
 * stop the guest and call vigil_session_finish(). 0 while it goes on.
 */
VIGIL_API int vigil_session_ended(const struct vigil_session *s);

/*
 * End the run at now_ns and decide the verdict (emits RUN_END once: no event
 * follows it). Later calls return the same verdict. NULL only when called
 * from inside one of the session's callbacks (refused, see Callbacks).
 */
VIGIL_API const struct vigil_verdict *vigil_session_finish(struct vigil_session *s,
							   uint64_t now_ns);

/*
 * Use p (copied; NULL: none) instead of the hooks' progress probe from now
 * on; samples taken so far are dropped. Added after the hooks, which have
 * no size field to grow by. Returns 0, -EINVAL for p without sample,
 * -ESHUTDOWN after finish(), -EBUSY from a callback.
 */
VIGIL_API int vigil_session_set_vcpu_state_probe(struct vigil_session *s,
						 const struct vigil_vcpu_state_probe *p);

/*
 * Counters, readable at any time, also from a callback: a copy of the
 * first out->sz bytes (the bytes past this library's struct, for a caller
 * built against a newer header, are left as they are: zero from
 * VIGIL_SESSION_COUNTERS()). out->sz is kept. Returns 0, or -EINVAL when
 * out->sz is below sizeof(size_t) (not set).
 */
VIGIL_API int vigil_session_counters(const struct vigil_session *s,
				     struct vigil_session_counters *out);

/* One tracked process, as vigil_session_foreach_process() shows it. */
struct vigil_process_info {
	size_t sz; /* set by the library: sizeof(struct vigil_process_info) as it was built */
	uint32_t pid;
	uint8_t origin;
	uint16_t status;      /* last beat status */
	uint32_t app_payload; /* last beat's */
	uint64_t pidns_inode;
	uint64_t beats;
	uint64_t last_nonce;
	uint64_t deadline_ns; /* its threshold */
	uint64_t silence_ns;  /* runnable time since its last beat */
	bool stalled;
};

/* Call fn for every tracked process (table order); p is valid during the
 * call. Stops early when fn returns non-zero and returns that value; else
 * returns 0. fn may only read the session (see Callbacks). */
VIGIL_API int
vigil_session_foreach_process(const struct vigil_session *s, uint64_t now_ns,
			      int (*fn)(void *ctx, const struct vigil_process_info *p), void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* VIGIL_SESSION_H */
