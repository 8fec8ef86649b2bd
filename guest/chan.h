/* SPDX-License-Identifier: MIT */
/*
 * chan: the agent's side of the port, over any fd (a virtio-serial port in a
 * guest, one end of a socketpair in tests).
 *
 * Owns the outgoing queues and their priorities, the write buffer that
 * coalesces frames into large writes, sequence numbering, and the read side
 * (wire assembler, CRC gate, direction and shape checks).
 *
 * Priorities, highest first, when the writer fills its buffer:
 *   1. control (HELLO, SYS_RDY, SCHED_EXIT, SCENARIO_*, SNAPSHOT_REQUEST,
 *      EXIT, PONG, TEST_RESULT, PROCESS_REPORT): a FIFO that never drops; a
 *      push into a full one fails with -ENOBUFS so the producer sees
 *      back-pressure. Producers outside the agent (PONGs for the host's
 *      PINGs, PROCESS_REPORTs for its INSPECTs, control-socket clients) may
 *      fill only half of it (CHAN_Q_CTL_EXT), and the port is
 *      not decoded further while that half is full, so the agent's own
 *      control frames (EXIT, SCHED_EXIT) always find room. An item pushed
 *      "after output" (EXIT) waits until every output item queued before it
 *      has been written or dropped, so EXIT follows the last byte.
 *   2. beats: a table of pending records, latest per pid wins.
 *   3. AGENT_STATS when due (one frame built at write time).
 *   4. records (FLOW): a FIFO that drops oldest when full.
 *   5. output (STDOUT, STDERR, DMESG, LOG): a FIFO that drops oldest when
 *      full; every drop is counted (frames and payload bytes).
 * Sequence numbers are assigned when a frame enters the write buffer, in
 * wire order, so the stream the host sees is gap-free except across a
 * disconnect. Control frames (but those that must follow output, EXIT),
 * beats and AGENT_STATS jump ahead of every staged frame none of whose
 * bytes has been written yet: they wait behind at most the rest of one
 * frame already being written. The frames they jump are numbered again
 * (seq and header CRC; 20 bytes each), so no seq goes backwards. Output
 * and records leave CHAN_JUMP_ROOM of the buffer free for them. Nothing
 * jumps a control frame: control frames keep their queue order.
 *
 * Limits: control 256 KiB, records 128 KiB, output 512 KiB, 4096 pending
 * beat pids, write buffer 128 KiB. Memory is allocated once in chan_init.
 * Load: a few thousand frames per second; each flush costs one write()
 * per 128 KiB of frames.
 */
#ifndef VIGIL_GUEST_CHAN_H
#define VIGIL_GUEST_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vigil/wire.h>

#define CHAN_CTL_CAP      (256u * 1024)
#define CHAN_REC_CAP      (128u * 1024)
#define CHAN_OUT_CAP      (512u * 1024)
#define CHAN_WBUF_CAP     (128u * 1024)
#define CHAN_JUMP_ROOM    (16u * 1024) /* of the write buffer, kept for frames that jump */
#define CHAN_BEAT_CAP     4096u
#define CHAN_RBUF_CAP     (16u * 1024)
#define CHAN_READ_BUDGET  (256u * 1024)  /* bytes read per chan_read call */
#define CHAN_WRITE_BUDGET (1024u * 1024) /* bytes written per chan_flush call */

struct chan_fifo {
	uint8_t *buf;
	uint32_t cap;     /* bytes */
	uint32_t head;    /* offset of the oldest item */
	uint32_t tail;    /* offset where the next item goes */
	uint32_t wrap_at; /* when wrapped: end of the items before offset 0 */
	uint32_t used;    /* bytes held by items */
	uint32_t count;   /* items */
	bool wrapped;     /* items occupy [head, wrap_at) and [0, tail) */
	bool droppable;   /* a full push drops oldest instead of failing */
	int32_t res_off;  /* reserved slot, -1 when none */
	bool res_wrap;    /* the reserved slot starts a wrap */
	uint64_t pushed;  /* items ever committed */
	uint64_t popped;  /* items ever written or dropped */
};

struct chan_stats {
	uint64_t frames_sent;
	uint64_t bytes_sent;
	uint64_t frames_dropped;    /* output and record items dropped oldest-first */
	uint64_t bytes_dropped;     /* their payload bytes */
	uint64_t write_stalls;      /* writes that would have blocked */
	uint64_t writes;            /* write() calls that moved bytes */
	uint64_t beats_coalesced;   /* a pending beat replaced by a newer one */
	uint64_t beats_dropped;     /* beat table full */
	uint64_t ctl_full;          /* control pushes refused (back-pressure) */
	uint64_t disconnects;       /* the other end went away */
	uint64_t rx_frames;         /* host frames accepted */
	uint64_t rx_rejected;       /* unknown type (INSPECT without rx_inspect), wrong
				     * direction, torn or malformed */
	uint64_t ctl_ext_full;      /* outside control pushes refused at half capacity */
	uint64_t frames_renumbered; /* staged frames a jumping frame moved back */
	uint64_t frames_staged;     /* output frames read straight into the write buffer */
};

/* Called for each accepted host frame: known to-guest type, crc_ok, well formed. */
typedef void (*chan_frame_fn)(void *ctx, const struct vigil_frame *f);
/* Fills AGENT_STATS values; returns the count (<= max). */
typedef uint32_t (*chan_stats_fn)(void *ctx, uint64_t *vals, uint32_t max);

struct chan {
	int fd;
	bool connected;         /* false: the other end is gone (EOF, HUP, EPIPE) */
	uint32_t seq;           /* next frame's seq */
	uint64_t blocked_since; /* CLOCK_MONOTONIC ns of the first refused write, 0 if none */
	uint8_t *wbuf;
	uint32_t wlen;  /* bytes sealed into wbuf */
	uint32_t woff;  /* bytes of wbuf already written */
	uint32_t wjump; /* a frame boundary >= woff: frames from here on are not started
			 * (frames that jump go here) */
	struct chan_fifo ctl, rec, out;
	struct vigil_beat *beats; /* pending, arrival order */
	uint32_t nbeats;
	uint16_t *beat_idx; /* open-addressed pid index: slot + 1, 0 empty */
	bool stats_due;
	struct vigil_asm *rx;
	bool rx_held;    /* rx holds pushed bytes not yet decoded (paused) */
	bool rx_inspect; /* INSPECT is answered (HELLO capability bit 6); when
			  * false it counts as an unknown type, as the protocol says */
	uint8_t *rbuf;
	chan_frame_fn on_frame;
	chan_stats_fn stats_fn;
	void *ctx;
	struct chan_stats st;
};

/* Allocate the queues for fd (non-blocking). 0 or -ENOMEM. */
int chan_init(struct chan *c, int fd, chan_frame_fn on_frame, chan_stats_fn stats_fn, void *ctx);
void chan_fini(struct chan *c);

/*
 * Reserve room for a payload of up to max_len bytes in a queue and return
 * where to write it; commit with the real length. Output and record queues
 * drop their oldest items to make room; the control queue returns NULL when
 * full. One reservation per queue at a time.
 */
enum chan_queue {
	CHAN_Q_CTL,     /* control, the agent's own: the whole queue */
	CHAN_Q_CTL_EXT, /* control from outside: fails once the queue is half full */
	CHAN_Q_REC,
	CHAN_Q_OUT,
};
uint8_t *chan_reserve(struct chan *c, enum chan_queue q, uint32_t max_len);
/* after_output: hold the item until earlier output is written (EXIT). */
void chan_commit(struct chan *c, enum chan_queue q, uint16_t type, uint32_t len, bool after_output);
/* Copying push; 0, -ENOBUFS (control full) or -EMSGSIZE. */
int chan_push(struct chan *c, enum chan_queue q, uint16_t type, const void *p, uint32_t len,
	      bool after_output);

/*
 * Output straight into the write buffer, without a queue or a copy (the
 * workload's pipes are read here): where a payload of up to max_len bytes
 * goes as the last staged frame, or NULL when it cannot go there now (the
 * port is gone, something queued must go first, or the buffer lacks room
 * for it and CHAN_JUMP_ROOM; then use chan_reserve(CHAN_Q_OUT)). Seal it
 * with chan_stage_commit() before any other chan call; a slot not
 * committed is simply forgotten. Frames that jump (control, beats) still
 * go ahead of it until its first byte is written.
 */
uint8_t *chan_stage_reserve(struct chan *c, uint32_t max_len);
void chan_stage_commit(struct chan *c, uint16_t type, uint32_t len);
/* Bytes sealed into the write buffer and not yet written. */
static inline uint32_t chan_staged(const struct chan *c)
{
	return c->wlen - c->woff;
}

/* Queue a beat; a pending beat of the same pid is replaced. */
void chan_beat(struct chan *c, const struct vigil_beat *b);

/* Build an AGENT_STATS frame at the next flush. */
static inline void chan_stats_due(struct chan *c)
{
	c->stats_due = true;
}

/*
 * Write as much as the fd takes. 0 when everything queued went out,
 * -EAGAIN when the fd is full (wait for EPOLLOUT), -EPIPE when the other
 * end is gone (chan->connected turns false).
 */
int chan_flush(struct chan *c, uint64_t now_ns);
/*
 * Read and dispatch host frames. Frames handled (>= 0) when the fd has no
 * more bytes now or decoding paused because the control queue is half
 * full (rx_held: call again once it has drained), -EPIPE at EOF.
 */
int chan_read(struct chan *c);
/* Disconnected: 1 when the fd no longer reports a hang-up (re-add it), else 0. */
int chan_probe(struct chan *c);

bool chan_pending(const struct chan *c);
/* Output queue above half full: producers that can wait should. */
static inline bool chan_out_pressure(const struct chan *c)
{
	return c->out.used > c->out.cap / 2;
}
/* Outside control producers must wait. */
static inline bool chan_ctl_pressure(const struct chan *c)
{
	return c->ctl.used >= c->ctl.cap / 2;
}
/* Pending bytes have not moved for stall_ns. */
static inline bool chan_stalled(const struct chan *c, uint64_t now_ns, uint64_t stall_ns)
{
	return c->blocked_since && now_ns - c->blocked_since >= stall_ns;
}

#endif
