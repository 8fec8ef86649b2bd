/* SPDX-License-Identifier: MIT */
/*
 * fleet_int: the state `vigil watch` shares between fleet.c (the libvirt
 * connection, the domains, their runs) and fleet_metrics.c (/metrics and
 * /status). Internal to those two files.
 */
#ifndef VIGIL_CLI_FLEET_INT_H
#define VIGIL_CLI_FLEET_INT_H

#include <libvirt/libvirt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <vigil/session.h>

#include "backend_libvirt.h"
#include "cap.h"
#include "fleet_args.h"
#include "guest.h"
#include "loop.h"

#define FLEET_RECENT_STALLS 16 /* pids with a `pid` label on /metrics, per domain */
#define FLEET_SAY_BURST     10 /* stall lines of one domain said at once ... */
#define FLEET_SAY_EVERY_NS  (6 * 1000000000ull) /* ... then one more this often */

struct fleet;

/* A process that stalled lately (the most recent FLEET_RECENT_STALLS). */
struct fleet_stall {
	uint32_t pid;
	uint64_t at_ns;      /* when the stall was reported */
	uint64_t silence_ns; /* its silence then */
	bool recovered;
	bool host_starved;
	uint8_t cls; /* enum vigil_stall_class once stall_classified came; 0 before */
};

/* One domain that carries the vigil channel, across its runs. */
struct fdom {
	struct fleet *f;
	unsigned char uuid[VIR_UUID_BUFLEN];
	char uuid_str[VIR_UUID_STRING_BUFLEN];
	char name[VIGIL_GUEST_NAME_MAX];
	char alias[64]; /* the channel's device alias (VSERPORT_CHANGE's id) */
	char events_head[VIGIL_GUEST_NAME_MAX * 6 + 16]; /* {"domain":"NAME", (JSON-escaped) */
	size_t events_head_len;
	bool active; /* libvirt says it runs (or is paused) */
	bool paused;
	uint64_t paused_since_ns, paused_total_ns;
	/* the current run (NULL between runs) */
	struct vigil_guest *g;
	struct vigil_virt_be *be; /* owned by g */
	char run_dir[PATH_MAX];
	FILE *run_events;
	uint64_t run_events_bytes, run_events_dropped;
	uint64_t dumps_kept; /* bytes of memory dumps in the domain's kept earlier runs */
	const char *end;     /* why the run ended: "shutdown", "destroyed", "migrated", ... */
	bool restart;        /* start a new run once this one is reaped */
	/* what /metrics and /status show */
	bool link_up;
	bool heard; /* the agent sent something since the link came up */
	uint32_t epoch;
	uint64_t agent_stats[VIGIL_STAT__KNOWN]; /* the agent's last AGENT_STATS */
	uint64_t last_frame_ns; /* the last event from the guest (host monotonic) */
	uint64_t runs;
	uint64_t verdicts[VIGIL_OUTCOME__COUNT];
	struct vigil_session_counters last;  /* the last finished run's counters */
	struct vigil_session_counters total; /* finished runs' counters, summed */
	struct fleet_stall recent[FLEET_RECENT_STALLS];
	/* stderr lines about this domain's stalls: a bucket of FLEET_SAY_BURST,
	 * one more every FLEET_SAY_EVERY_NS; the rest counted and said later */
	struct vigil_lines say;
	uint32_t n_recent, next_recent;
};

struct fleet {
	struct vigil_loop *loop;
	const struct vigil_fleet_args *a;
	virConnectPtr conn;
	bool connected;
	bool local; /* libvirtd of this host (qemu:///...) */
	int cb_lifecycle, cb_vserport;
	uint64_t connects, disconnects;
	uint64_t backoff_ns;
	struct vigil_timer *reconnect, *reap, *sd_watchdog;
	struct fdom **doms;
	size_t n, cap;
	struct vigil_http *http;
	struct vigil_stallexec *exec;
	FILE *events;                /* --events FILE (stdout goes through the terminal's queue) */
	struct vigil_cap events_cap; /* --file-limit on it; SIGHUP reopens it afresh */
	int signals;
	char last_error[256];
	char said_error[256]; /* the connect error last said: its repeats are not */
};

/* /metrics: every family, every domain. */
struct vigil_expo;
int vigil_fleet_metrics(void *ctx, struct vigil_expo *w);
/* /status: the fleet now, as JSON. */
struct json_object;
int vigil_fleet_status(void *ctx, struct json_object *o);
/*
 * Under dir (--out-dir's NAME-UUID8/), the oldest runs past keep_runs go
 * (only the files vigil writes there: verdict.json, events.jsonl,
 * snapshots/); returns the bytes of the memory dumps (*.elf, *.elf.partial)
 * the kept ones hold, which count against the next run's dump bound.
 */
uint64_t vigil_fleet_prune_runs(const char *dir, uint32_t keep_runs);
/* A domain's session counters now: the finished runs' plus the current one's. */
void vigil_fleet_counters(const struct fdom *d, struct vigil_session_counters *out);

#endif /* VIGIL_CLI_FLEET_INT_H */
