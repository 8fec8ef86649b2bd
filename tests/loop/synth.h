/* SPDX-License-Identifier: MIT */
/*
 * synth: synthetic guests for loop tests and benchmarks (test-only).
 *
 * Owns two sides that share nothing but a socketpair per guest:
 *
 * The host side, a fleet: N guest objects (host/loop/guest.h) on one loop,
 * each with its port on one end of a socketpair and a minimal backend
 * (stop -> vigil_guest_gone, nothing else), and per guest a bounded log of
 * the events its session raised, each with the host CLOCK_MONOTONIC time
 * the sink saw it (a stall's lateness is that time minus when it was due),
 * plus counts per event type and of output bytes. A fleet can also render
 * each event to JSON the way `vigil attach --events` does, or spend a set
 * time per KiB of output, so the loop pays what a real sink costs.
 *
 * The guest side, a writer (struct synth_tx): speaks wire protocol v1 into
 * the other end: HELLO, SYS_RDY, BEAT frames of 1..1024 records, STDOUT
 * frames up to the maximum size, and a flooder mode writing random bytes
 * mixed with valid maximum-size STDOUT frames as fast as the socket takes
 * them. Frames are queued in a bounded buffer and written without
 * blocking (like the agent: a frame that does not fit is dropped and
 * counted). A writer runs wherever the caller likes: between loop
 * iterations, or in a child process from synth_spawn() (CLOCK_MONOTONIC is
 * shared, so times taken there compare with the fleet's).
 *
 * Limits: SYNTH_LOG_DEFAULT events kept per guest unless set (the rest are
 * counted as log_dropped); SYNTH_TX_QUEUE bytes queued per writer unless
 * set. Expected load: hundreds of guests at tens of frames a second, or a
 * few flooders at memory speed. Errors: negative errno, as in the project.
 */
#ifndef VIGIL_TESTS_SYNTH_H
#define VIGIL_TESTS_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#include "guest.h"
#include "loop.h"

#define SYNTH_LOG_DEFAULT 256u         /* events kept per guest */
#define SYNTH_TX_QUEUE    (256u << 10) /* bytes a writer queues */
#define SYNTH_NOISE_LEN   (1u << 20)   /* the flooder's block of random bytes */
#define SYNTH_NOISE_MAX   (64u << 10)  /* default longest noise run between frames */

/* ---- the host side: a fleet ------------------------------------------------ */

/* One logged event. */
struct synth_event {
	uint64_t seen_ns;     /* CLOCK_MONOTONIC when the sink got it */
	uint64_t now_ns;      /* the event's now_ns (the loop's clock of the call) */
	uint64_t deadline_ns; /* process events: the pid's threshold; else 0 */
	uint64_t silence_ns;  /* STALL: the silence so far (now_ns less it: the last beat's
			       * arrival); RECOVERY: the whole; else 0 */
	uint32_t pid;         /* process events: the pid; else 0 */
	uint16_t type;        /* enum vigil_event_type */
};

struct synth_guest_stats {
	uint64_t events[VIGIL_EV__COUNT]; /* by type, logged or not */
	uint64_t output_bytes;            /* OUTPUT payload bytes */
	uint64_t output_max;              /* OUTPUT chunks of VIGIL_WIRE_MAX_PAYLOAD bytes */
	uint64_t log_dropped;             /* events past the log's capacity */
	uint64_t json_bytes;              /* JSON rendered (opts.json) */
	uint64_t port_closed;             /* the port saw EOF or an error */
	bool done;                        /* the guest is DONE */
};

struct synth_fleet_opts {
	unsigned n;                             /* guests, >= 1 */
	const struct vigil_session_opts *sopts; /* NULL: defaults, MODE_WATCH */
	uint32_t log_cap;                       /* events kept per guest; 0: SYNTH_LOG_DEFAULT */
	uint64_t log_mask; /* (1ull << type) logged; 0: every type but OUTPUT */
	int peer_sndbuf;   /* SO_SNDBUF of the guest ends; 0: the system's default */
	const char *name;  /* guests are named "<name>-<i>"; NULL: "synth" */
	/* Render every event with vigil_event_to_json and drop the text: what
	 * an --events sink costs the loop (about 165 MB/s of random output). */
	bool json;
	/* Spend this long (CPU, spinning on the clock) per KiB of OUTPUT
	 * payload: a sink's cost fixed in time, so that sanitizer builds pay
	 * what release builds pay. 5120 is a sink taking 200 MB/s. 0: none. */
	uint32_t output_ns_per_kib;
	/* Called for every event after it is logged, i is the guest's index. */
	void (*event)(void *ctx, unsigned i, const struct vigil_event *ev, uint64_t seen_ns);
	void *ctx;
	/* The backend's snapshot operation (vigil_guest_ops.snapshot) for guest
	 * i; NULL: refused -EOPNOTSUPP, as a backend without one. */
	int (*snapshot)(void *ctx, unsigned i, uint32_t kind, struct vigil_str tag, uint32_t id);
};

struct synth_fleet;

/* N guests in WATCH, their ports attached, their guest ends open. */
int synth_fleet_new(struct vigil_loop *l, const struct synth_fleet_opts *o,
		    struct synth_fleet **out);
/* Frees the guests (and their host ends) and closes the guest ends still
 * held. Not from a loop callback. NULL ok. */
void synth_fleet_free(struct synth_fleet *f);
unsigned synth_fleet_size(const struct synth_fleet *f);
struct vigil_guest *synth_guest(const struct synth_fleet *f, unsigned i);
/* The guest end of guest i's socketpair (-1 once closed). Still owned by
 * the fleet. */
int synth_peer_fd(const struct synth_fleet *f, unsigned i);
/* Closes guest i's end (the guest hangs up, as an agent that dies). */
void synth_peer_close(struct synth_fleet *f, unsigned i);
/* Closes every guest end in this process (the parent, once a child that
 * writes them has been forked). */
void synth_fleet_close_peers(struct synth_fleet *f);
/* In a forked child: closes every host end this process inherited, so that
 * the parent alone holds them. Touches nothing else of the fleet. */
void synth_fleet_close_hosts(const struct synth_fleet *f);

const struct synth_event *synth_events(const struct synth_fleet *f, unsigned i, uint32_t *n);
void synth_guest_stats(const struct synth_fleet *f, unsigned i, struct synth_guest_stats *out);
/* The first logged event of guest i of this type, for this pid (0: any),
 * seen at or after after_ns; NULL if none. */
const struct synth_event *synth_find(const struct synth_fleet *f, unsigned i, uint16_t type,
				     uint32_t pid, uint64_t after_ns);
/* Bytes guest i's session consumed (its assembler's byte counter). */
uint64_t synth_consumed(const struct synth_fleet *f, unsigned i);
/*
 * Iterates the loop until done(ctx) is true (checked before each
 * iteration) or timeout_ms passed: 0, -ETIMEDOUT, or the loop's error.
 */
int synth_run_until(struct vigil_loop *l, bool (*done)(void *ctx), void *ctx, int timeout_ms);

/* ---- the guest side: a writer ------------------------------------------------ */

struct synth_tx {
	int fd;         /* the guest end; not owned */
	uint32_t seq;   /* the next frame's seq (0 at init: HELLO starts an epoch) */
	uint64_t nonce; /* the last beat nonce (one counter for every pid) */
	uint64_t rng;
	/* queued frames: q[q_off..q_len) not yet written */
	uint8_t *q;
	size_t q_cap, q_off, q_len;
	/* counters */
	uint64_t frames;         /* frames queued (flood frames included) */
	uint64_t frames_dropped; /* frames that did not fit the queue */
	uint64_t bytes;          /* bytes written to the socket */
	uint64_t drained;        /* guest-bound bytes read and dropped */
	/* flooder (synth_tx_flood_init): one STDOUT frame of the maximum size
	 * whose header is resealed with each seq, and a block of noise */
	uint8_t *fl_frame;
	uint8_t *fl_noise;
	size_t fl_noise_max;               /* longest noise run before a frame */
	size_t fl_at, fl_left;             /* noise run being written */
	size_t fl_frame_off;               /* frame bytes written; 0 = not started */
	bool fl_busy;                      /* a chunk (noise + frame) is under way */
	uint64_t fl_noise_bytes, fl_valid; /* noise bytes and frames begun */
};

/* A writer on fd (made non-blocking), queue of q_cap bytes (0:
 * SYNTH_TX_QUEUE; at least one maximum-size frame). 0 or -ENOMEM. */
int synth_tx_init(struct synth_tx *t, int fd, size_t q_cap, uint64_t seed);
/* Frees the buffers; the fd stays open. */
void synth_tx_free(struct synth_tx *t);

/* Frame writers: queue one frame and write what the socket takes. 0, or
 * -ENOBUFS when it did not fit (counted in frames_dropped), -EINVAL for a
 * bad argument, or the socket's error (-EPIPE: the host end closed). */
int synth_tx_hello(struct synth_tx *t, const char *hostname);
int synth_tx_sys_rdy(struct synth_tx *t);
/* One BEAT frame: a record per pid (1..1024), status OK, each with the
 * next nonce, the declared deadline (0: the host's default threshold). */
int synth_tx_beats(struct synth_tx *t, const uint32_t *pids, unsigned n, uint32_t deadline_ms);
/* One STDOUT frame of len (0..65536) printable bytes. */
int synth_tx_stdout(struct synth_tx *t, size_t len);

/* Queues len bytes as they are (torn frames, bad CRCs, garbage: whatever a
 * test injects), after the frames already queued. 0, -ENOBUFS (counted as a
 * dropped frame) or the socket's error. */
int synth_tx_raw(struct synth_tx *t, const void *bytes, size_t len);

/* Writes queued bytes until the socket is full. Bytes still queued, or
 * the socket's error. */
int synth_tx_flush(struct synth_tx *t);
/* Flushes, waiting up to timeout_ms for room. 0 when all is written,
 * -ETIMEDOUT, or the socket's error. */
int synth_tx_sync(struct synth_tx *t, int timeout_ms);
/* Reads and drops what the host sent (PING, ...). Bytes read, or
 * -ECONNRESET when the host end closed, or the socket's error. */
int synth_tx_drain(struct synth_tx *t);

/* Flooder mode: noise runs of 0..noise_max bytes (0: SYNTH_NOISE_MAX), each
 * followed by a valid STDOUT frame of VIGIL_WIRE_MAX_PAYLOAD bytes. */
int synth_tx_flood_init(struct synth_tx *t, size_t noise_max);
/* A flooding guest on fd: init, HELLO "flooder", SYS_RDY, flood_init(0). */
int synth_tx_flooder(struct synth_tx *t, int fd);
/* Writes flood until the socket is full or max_bytes were written. Bytes
 * written (0: full), or the socket's error. Queued frames go first. */
long synth_tx_flood(struct synth_tx *t, size_t max_bytes);
/* Floods until CLOCK_MONOTONIC reaches end_ns or the host end closes,
 * waiting for room in poll() and draining what the host sends. 0 or the
 * socket's error other than the host closing. */
int synth_tx_flood_until(struct synth_tx *t, uint64_t end_ns);

/* ---- processes and time --------------------------------------------------------- */

/* CLOCK_MONOTONIC in ns. */
uint64_t synth_now_ns(void);
/* Sleeps until CLOCK_MONOTONIC reaches t_ns. */
void synth_sleep_until(uint64_t t_ns);
/* Zeroed memory shared with children forked after this call; NULL on failure. */
void *synth_shared_new(size_t len);
void synth_shared_free(void *p, size_t len);
/* Runs fn(ctx) in a forked child, which _exits with fn's return value.
 * The child's pid, or -errno. */
pid_t synth_spawn(int (*fn)(void *ctx), void *ctx);
/* Sends sig (0: none) to the child, waits for it: its exit status, 128 +
 * the signal that ended it, or -errno. */
int synth_reap(pid_t pid, int sig);

#endif /* VIGIL_TESTS_SYNTH_H */
