/* SPDX-License-Identifier: MIT */
/*
 * hostile: a synthetic guest that floods the host with random and
 * adversarial input (test-only; tests/loop/test_flood.c and
 * tests/bench/flood-bench).
 *
 * Owns one writer (struct hostile) over a list of guest-side socket ends:
 * it builds the stream chunk by chunk, each chunk one kind of attack, and
 * writes it whole before the next (waiting for room in poll(), reading and
 * dropping what the host sends). The kinds: random bytes; endless partial
 * magics ("VGL" repeated) and torn headers (a valid header with its CRC
 * broken); valid headers announcing an oversize length; maximum-length
 * output frames of every output type, some torn; seq storms (small frames
 * with random seq, HELLO seq 0 among them); BEAT frames of 1024 records
 * with pids never seen (far more than a tracker holds), some malformed;
 * SYS_RDY storms; SNAPSHOT_REQUEST storms (every kind, new and repeated
 * ids); PROCESS_REPORT storms (unmatched, full-length strings); FLOW
 * frames of 1024 new keys (far more than a flow table holds); and, every
 * hang_every bytes while a next socket end is left, a hang-up: part of a
 * frame, then the end is closed and the stream goes on over the next one
 * (HELLO seq 0 first).
 * The guest never sends EXIT or SCHED_EXIT: those end a run by design.
 *
 * What it wrote is tallied by class (struct hostile_tally) so that a test
 * can hold the host's counters to it exactly: every byte is noise, part of
 * a frame with a valid header, part of an oversize header, or part of a
 * frame cut by a hang-up. Noise never contains a valid header (torn headers
 * have their CRC flipped; random bytes make one with odds of 2^-64 per
 * byte), and a hang-up always writes a whole header first, so that what
 * noise leaves held (a partial magic) resolves as noise.
 *
 * Limits: HOSTILE_CHUNK_MAX bytes a chunk; HOSTILE_ENDS socket ends. Memory
 * is allocated at hostile_init only. Load: as fast as the socket takes it
 * (a few hundred MB/s of input to build).
 */
#ifndef VIGIL_TESTS_HOSTILE_H
#define VIGIL_TESTS_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOSTILE_CHUNK_MAX (512u << 10) /* bytes built per chunk, at most */
#define HOSTILE_ENDS      8u           /* socket ends: the first and hang-ups' next */

enum hostile_kind {
	HOSTILE_NOISE = 0, /* random bytes */
	HOSTILE_MAGICS,    /* "VGL" repeated, torn headers among them */
	HOSTILE_OVERSIZE,  /* valid headers, len over 65536 */
	HOSTILE_OUTPUT,    /* maximum-length STDOUT/STDERR/DMESG/LOG frames, some torn */
	HOSTILE_SEQ,       /* small frames with random seq, HELLO seq 0 among them */
	HOSTILE_PIDS,      /* BEAT frames of 1024 new pids */
	HOSTILE_SYS_RDY,   /* SYS_RDY, some with a payload (malformed) */
	HOSTILE_SNAPSHOT,  /* SNAPSHOT_REQUEST of every kind */
	HOSTILE_REPORT,    /* PROCESS_REPORT for requests never made */
	HOSTILE_FLOWS,     /* FLOW frames of 1024 new keys */
	HOSTILE_HANGUP,    /* part of a frame, then the socket end closes */
	HOSTILE__KINDS
};

/* What the writer put on the wire. bytes = frame_bytes + 24 x oversize +
 * noise + cut_bytes once every chunk is written. */
struct hostile_tally {
	uint64_t bytes;       /* written to the sockets */
	uint64_t frame_bytes; /* frames with a valid header, header included */
	uint64_t frames;
	uint64_t oversize;  /* valid headers announcing len > 65536 */
	uint64_t noise;     /* bytes of no frame: random, partial magics, torn headers */
	uint64_t cut_bytes; /* bytes of frames cut by a hang-up (a whole header and more) */
	uint64_t hangups;
	uint64_t chunks[HOSTILE__KINDS];
	uint64_t kind_bytes[HOSTILE__KINDS];
	uint64_t beat_pids;         /* distinct pids beaten */
	uint64_t flow_keys;         /* distinct flow keys opened */
	uint64_t sys_rdy;           /* SYS_RDY frames (empty and not) */
	uint64_t snapshot_requests; /* well-formed SNAPSHOT_REQUEST frames */
	uint64_t reports;           /* PROCESS_REPORT frames */
	uint64_t hellos;            /* HELLO frames (seq 0: each a new epoch) */
	uint64_t drained;           /* bytes the host sent, read and dropped */
};

struct hostile {
	int fd[HOSTILE_ENDS]; /* guest ends; fd[at] is in use, -1 once closed */
	unsigned n_fd, at;
	uint32_t seq;      /* next frame's seq */
	uint32_t next_pid; /* next new pid to beat */
	uint32_t next_flow;
	uint32_t snap_id;
	uint64_t rng;
	uint8_t *buf; /* the chunk being written: buf[off..len) */
	size_t len, off;
	uint8_t *noise;      /* a block of random bytes */
	uint64_t hang_every; /* a hang-up each time this many more bytes were written,
				while a spare end is left; 0: none (set by the caller) */
	struct hostile_tally t;
};

/* A writer on fds[0..n) (made non-blocking; 1..HOSTILE_ENDS; not owned
 * until hostile_free, which closes those still open). It queues HELLO
 * (capabilities with INSPECT support) and SYS_RDY. 0, -EINVAL, -ENOMEM. */
int hostile_init(struct hostile *h, const int *fds, unsigned n, uint64_t seed);
void hostile_free(struct hostile *h);
/*
 * Builds and writes chunks until max_bytes more were written or end_ns
 * (CLOCK_MONOTONIC) passed, then finishes the chunk under way and ends
 * with a whole frame (no partial magic left held). 0, or the socket's
 * error (-EPIPE: the host closed).
 */
int hostile_run(struct hostile *h, uint64_t max_bytes, uint64_t end_ns);

#endif /* VIGIL_TESTS_HOSTILE_H */
