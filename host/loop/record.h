/* SPDX-License-Identifier: MIT */
/*
 * record: the `--record FILE` format, which `vigil decode` replays.
 *
 * A recording holds every input the session got, with the host
 * CLOCK_MONOTONIC time it got it: guest bytes, link and VM state changes,
 * console lines, crashes, snapshot results and progress samples. Replaying
 * them into a session built with the same options (stored in the header)
 * gives the same events and verdict.
 *
 * Layout (little-endian):
 *   "VIGILREC" u32 version (1) u32 header_len, header_len bytes of JSON
 *   (the session options and the run's facts), then records:
 *   u8 kind, u8[3] 0, u32 len, u64 t_ns, len bytes.
 * Limits: a record's payload is at most VIGIL_REC_MAX bytes (guest bytes are
 * split into several records), the header at most 64 KiB.
 * Writes are buffered (64 KiB) and never block the loop for long: the file
 * is a local file the user chose.
 */
#ifndef VIGIL_LOOP_RECORD_H
#define VIGIL_LOOP_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vigil_rec;

#define VIGIL_REC_MAGIC      "VIGILREC"
#define VIGIL_REC_VERSION    1
#define VIGIL_REC_MAX        65536u
#define VIGIL_REC_HEADER_MAX 65536u

enum vigil_rec_kind {
	VIGIL_REC_RX = 1, /* guest bytes */
	VIGIL_REC_LINK_UP,
	VIGIL_REC_LINK_DOWN,
	VIGIL_REC_VM_STOPPED,
	VIGIL_REC_VM_RESUMED,
	VIGIL_REC_CONSOLE,        /* one console line */
	VIGIL_REC_CRASHED,        /* evidence text */
	VIGIL_REC_HARNESS_ERROR,  /* message */
	VIGIL_REC_SNAPSHOT_START, /* i32 result of the provider's start() */
	VIGIL_REC_SNAPSHOT_DONE,  /* u32 id, i32 status, detail */
	VIGIL_REC_PROGRESS,       /* i32 result, u32 flags, u64 cpu_ns[, u64 wait_ns] */
	VIGIL_REC_SHUTDOWN,       /* a SHUTDOWN was requested */
	VIGIL_REC_FINISH,         /* the run ended here */
	VIGIL_REC_TICK,           /* vigil_session_tick was called */
	VIGIL_REC_VMM_EXITED,     /* i32 status, i32 signal, detail */
	VIGIL_REC_HOST_PAUSED,    /* u8 1: the host stopped reading the guest, 0: reads again */
	VIGIL_REC__COUNT,
};

/* PROGRESS flags. A 16-byte record (flags 0) is a CPU-time sample; a
 * 32-byte one with PROGRESS_WAIT adds the runqueue wait (vCPU state probe). */
#define VIGIL_REC_PROGRESS_STOPPED 1u /* a vCPU thread was stopped */
#define VIGIL_REC_PROGRESS_WAIT    2u /* wait_ns follows cpu_ns */

struct vigil_rec_writer {
	FILE *f;
	int err; /* first error, sticky; -EFBIG: the limit was reached */
	uint64_t records, bytes;
	uint64_t limit; /* bytes of the file (header included); 0 none. Set after
			   vigil_rec_open: a record that would pass it ends the
			   recording there (a replay stops at that point) */
};

/* Open path and write the header. 0 or -errno. */
int vigil_rec_open(struct vigil_rec_writer *w, const char *path, const char *header_json);
/* Append one record (len up to VIGIL_REC_MAX; RX data is split). */
int vigil_rec_put(struct vigil_rec_writer *w, enum vigil_rec_kind kind, uint64_t t_ns,
		  const void *data, size_t len);
/* The records SNAPSHOT_DONE and VMM_EXITED: u32 a, u32 b, then a text of
 * at most VIGIL_REC_TEXT_MAX bytes (cut there). */
#define VIGIL_REC_TEXT_MAX 4096u
int vigil_rec_put_pair(struct vigil_rec_writer *w, enum vigil_rec_kind kind, uint64_t t_ns,
		       uint32_t a, uint32_t b, const char *text);
/* Read one back: 0 and text NUL-terminated (text holds VIGIL_REC_TEXT_MAX
 * + 1 bytes), or -EBADMSG for a record shorter than its two numbers. */
int vigil_rec_pair(const struct vigil_rec *r, uint32_t *a, uint32_t *b, char *text);

/* Flush and close. 0 or the first error. */
int vigil_rec_close(struct vigil_rec_writer *w);

struct vigil_rec_reader {
	const uint8_t *buf; /* the whole file, borrowed */
	size_t len, off;
	const char *header; /* JSON, not terminated: header_len bytes */
	size_t header_len;
};

struct vigil_rec {
	enum vigil_rec_kind kind; /* others are kept as numbers and skipped */
	uint64_t t_ns;
	const uint8_t *data;
	uint32_t len;
};

/* 1 when buf is a recording (and r set up), 0 when it is not one (a plain
 * byte stream), -EBADMSG for a damaged header, -EPROTO for another version. */
int vigil_rec_reader_init(struct vigil_rec_reader *r, const uint8_t *buf, size_t len);
/* 1 and *out, 0 at the end, -EBADMSG for a truncated or oversized record. */
int vigil_rec_next(struct vigil_rec_reader *r, struct vigil_rec *out);

#endif /* VIGIL_LOOP_RECORD_H */
