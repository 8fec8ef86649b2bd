/* SPDX-License-Identifier: MIT */
/*
 * flood: one loop, two synthetic guests, one hostile (test-only; the
 * harness of tests/loop/test_flood.c and tests/bench/flood-bench).
 *
 * Guest 0 is hostile (hostile.h): a child process floods its port with
 * random and adversarial input and hangs up now and then (the loop attaches
 * the next socketpair, as a backend reconnects); its SNAPSHOT_REQUESTs go
 * to the backends' own vigil_vmm_snapshot() over a fake monitor whose
 * memory dumps are sparse files of a set apparent size, in a directory of
 * the caller's. Guest 1 is honest (another child): rounds of beats 20 ms
 * apart declaring a 100 ms deadline (by default), then silence until its
 * stall is due and 60 ms more, as tests/loop/test_fairness.c does; the loop's runqueue
 * wait is sampled every millisecond so each stall's lateness can be split
 * into the loop's own and the machine's (see test_fairness.c).
 *
 * The run goes on until the hostile guest wrote at least hostile_bytes and
 * the honest one ran min_rounds rounds; then the hostile one's last bytes
 * are read to the end. Every figure a caller asserts or prints is in
 * struct flood_result; nothing is asserted here.
 *
 * Limits: FLOOD_ROUNDS_MAX rounds; HOSTILE_ENDS socketpairs for the hostile
 * guest. Load: two busy child processes and the loop.
 */
#ifndef VIGIL_TESTS_FLOOD_H
#define VIGIL_TESTS_FLOOD_H

#include <stdbool.h>
#include <stdint.h>

#include <vigil/session.h>

#include "hostile.h"

#define FLOOD_ROUNDS_MAX  256u
#define FLOOD_DEADLINE_MS 100u
#define FLOOD_HONEST_PID  4242u
#define FLOOD_SNAP_TEXT   2048u /* bytes of the fake monitor's CPU state text */

struct flood_opts {
	uint64_t hostile_bytes;   /* at least this many bytes from the hostile guest */
	unsigned min_rounds;      /* honest rounds, at least (1..FLOOD_ROUNDS_MAX) */
	uint32_t sink_ns_per_kib; /* synth_fleet_opts.output_ns_per_kib */
	const char *snap_dir;     /* snapshot files go here; NULL: none (refused) */
	uint64_t fake_dump_bytes; /* apparent size of each fake memory dump */
	unsigned hangups;         /* hang-ups spread over hostile_bytes (< HOSTILE_ENDS) */
	uint64_t seed;
	int timeout_ms;        /* the whole run */
	uint32_t deadline_ms;  /* the honest beats' deadline; 0: FLOOD_DEADLINE_MS */
	uint32_t after_due_ms; /* silence past the stall's due time; 0: 60 */
};

/* One honest round. */
struct flood_round {
	uint64_t first_beat, last_beat; /* CLOCK_MONOTONIC before the first, last beat */
	uint64_t max_gap;               /* the writer's longest gap between beats */
	bool flooded;                   /* the hostile guest was still writing at its end */
	int64_t late_ns;                /* stall seen - due; INT64_MIN: none seen */
	int64_t own_ns;                 /* late_ns less the loop's runqueue wait */
};

struct flood_result {
	struct hostile_tally tally;            /* what the hostile guest wrote */
	struct vigil_session_counters hostile; /* its session's counters at the end */
	struct vigil_session_counters honest;
	uint64_t hostile_rx_bytes; /* read from its ports (vigil_guest_rx_bytes) */
	uint64_t hostile_events[VIGIL_EV__COUNT];
	uint64_t port_attaches; /* hang-ups the loop reconnected */
	unsigned rounds;
	struct flood_round round[FLOOD_ROUNDS_MAX];
	uint64_t honest_beats, honest_dropped; /* sent by the honest writer, dropped there */
	uint64_t honest_stalls;                /* STALL events of the honest guest */
	long rss_kib_start;                    /* the loop's VmRSS once both guests said HELLO */
	long rss_kib_mid;                      /* ... once half of hostile_bytes was read */
	long rss_kib_end;                      /* ... at the end */
	uint64_t flood_ns;                     /* from the first hostile byte to its last */
	unsigned snap_dumps;                   /* the fake monitor's dumps started */
	uint64_t snap_dump_bytes;              /* and their bytes, as the monitor counted */
	unsigned snap_files;                   /* files in snap_dir at the end */
	uint64_t snap_file_bytes;              /* their apparent sizes */
	uint64_t snap_calls;                   /* snapshot operations the backend got */
	int child_err;                         /* a child's first error */
};

/* Runs the flood. 0 (r filled), or -errno when the harness itself failed
 * (setup, a child, the timeout); the error is said on stderr. */
int flood_run(const struct flood_opts *o, struct flood_result *r);

/* The loop process's VmRSS in KiB, -1 if unknown. */
long flood_rss_kib(void);

#endif /* VIGIL_TESTS_FLOOD_H */
