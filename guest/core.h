/* SPDX-License-Identifier: MIT */
/*
 * core: the agent's event loop. Wires the port (chan), the beat relay, the
 * control socket, the kernel log, flows, the sched_ext watcher, the process
 * inspector (its worker thread is the agent's only other thread) and the
 * workload into one epoll loop; timers are epoll_wait timeouts computed
 * from each module's next deadline, so an idle agent sleeps.
 *
 * Order on the wire: HELLO (seq 0), then SYS_RDY once the beat and control
 * sockets are bound, then everything else by chan's priorities. With a
 * scenario: SCENARIO_START before the workload starts, SCENARIO_END after
 * its last output and before its EXIT.
 * Runs until the workload ends (exit_with_workload), SIGTERM/SIGINT, or a
 * SHUTDOWN frame (per on_shutdown); then drains the queue for at most
 * drain_ms and returns.
 */
#ifndef VIGIL_GUEST_CORE_H
#define VIGIL_GUEST_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <vigil/wire.h>

/* HELLO capability bits. */
#define CORE_CAP_BEATS    (1u << 0)
#define CORE_CAP_WORKLOAD (1u << 1)
#define CORE_CAP_KMSG     (1u << 2)
#define CORE_CAP_FLOWS    (1u << 3)
#define CORE_CAP_SCX      (1u << 4)
#define CORE_CAP_CTL      (1u << 5)
#define CORE_CAP_INSPECT  VIGIL_CAP_INSPECT /* bit 6: INSPECT answered (inspect.h) */

/* The EXIT status of a workload that could not be started (workload_error). */
#define CORE_WORKLOAD_REFUSED 126

enum core_on_shutdown {
	CORE_SHUTDOWN_IGNORE = 0, /* count it, do nothing */
	CORE_SHUTDOWN_EXIT,       /* end the workload, drain, return */
	CORE_SHUTDOWN_POWEROFF,   /* the same, then power the machine off */
};

struct core_cfg {
	int port_fd; /* >= 0: the port is this fd; -1: find it by name */
	const char *port_name;
	uint64_t port_wait_ms; /* bound on waiting for the port to appear */
	const char *beat_path;
	mode_t beat_mode;
	const char *ctl_path; /* NULL: no control socket */
	mode_t ctl_mode;
	const char *kmsg_path; /* NULL: no kernel log */
	uint32_t kmsg_rate;    /* lines/s */
	uint32_t kmsg_burst;   /* lines */
	uint64_t flows_ms;     /* 0: no flows */
	bool flows_bpf;        /* load flowbpf (UDP bytes, owners of short flows) */
	const char *scx_path;  /* NULL: no sched_ext watcher */
	const char *proc_path; /* /proc for INSPECT; NULL: INSPECT not answered */
	uint64_t stats_ms;     /* AGENT_STATS period (sent only when changed) */
	uint64_t self_beat_ms; /* 0: the agent does not beat for itself */
	uint64_t grace_ms;     /* SIGTERM to SIGKILL for the workload */
	uint64_t drain_ms;     /* bound on flushing the queue before returning */
	uint64_t ack_ms;       /* after an EXIT, wait this long for the host's SHUTDOWN */
	uint64_t stall_ms;     /* port stuck this long: output is dropped, not held; 0 never */
	char *const *argv;     /* workload, NULL for none */
	char *const *envp;     /* its environment, NULL: inherit */
	const char *cwd;       /* its directory, NULL: inherit */
	uint32_t pipe_bytes;   /* its stdout/stderr pipe size (F_SETPIPE_SZ); 0: the kernel's */
	bool set_ids;          /* run it as uid/gid (no supplementary groups) */
	uid_t uid;
	gid_t gid;
	bool exit_with_workload; /* return once the workload's EXIT is out */
	uint32_t predecessor;    /* an agent before this one that died (PID-1 mode restarts
				    it): its self-beat pid gets a STOPPING beat, so the host
				    forgets it instead of reporting it stalled; 0 none */
	/* PID 1's boot marks on the guest's boot clock (CLOCK_BOOTTIME, ns), 0
	 * when not PID 1: its start, its modules loaded, the host's root
	 * entered (--rootfs host; 0 without). The agent adds its own and logs
	 * them once, after SYS_RDY (docs/agent.md, "Boot marks"). */
	uint64_t boot_init_ns, boot_modules_ns, boot_root_ns;
	uint32_t boot_modules;     /* modules loaded */
	uint32_t boot_mod_workers; /* loads at once */
	uint32_t boot_mod_skipped; /* "@pci" modules skipped: the guest has no PCI device */
	enum core_on_shutdown on_shutdown;
	bool notify; /* sd_notify READY=1 once SYS_RDY is queued */
	int log_fd;  /* copies of warnings and errors, -1 for none */
	int rt_prio; /* SCHED_FIFO priority of the inspector's worker (the caller gives the
			event loop its own with prio_enter, prio.h); 0: none */
	/* The loop's clock in ns (timers, beat times, PONG); NULL: CLOCK_MONOTONIC.
	 * Tests give a fake one, so that timers run when the test says. */
	uint64_t (*clock)(void *ctx);
	void *clock_ctx;

	/* Set from the workload file in PID 1 mode; NULL: none. */
	const char *scenario;       /* SCENARIO_START/END around the workload */
	const char *workload_error; /* instead of argv: the workload cannot run; this text is
				     * its STDERR, and it counts as exited with status 126 */
	const char *const *notes;   /* warnings sent as LOG once SYS_RDY is out, NULL-terminated */
};

void core_cfg_defaults(struct core_cfg *cfg);
/*
 * Run the agent. Returns the process exit code: the workload's status
 * (128 + signal when killed) when there was one, 0 otherwise, 1 when the
 * agent could not start (reason written to log_fd).
 */
int core_run(const struct core_cfg *cfg);

/*
 * core_run a turn at a time, for tests that interleave the agent with its
 * peers in one process (one agent per process). core_start: setup, 0 or
 * -errno (the reason logged; nothing to end). core_turn: queued frames
 * written, due timers run, then up to wait_ns (< 0: until the next timer)
 * for events, which are handled; the events handled (>= 0), or -errno when
 * epoll failed (the loop is over). *done: the agent has drained after its
 * exit (call core_end, no more turns). core_end: teardown; core_run's exit
 * code (no power-off).
 */
int core_start(const struct core_cfg *cfg);
int core_turn(int64_t wait_ns, bool *done);
int core_end(void);
/* The counters AGENT_STATS carries, as they stand now (docs/agent.md's order). */
uint32_t core_stats(uint64_t *vals, uint32_t max);

#endif
