/* SPDX-License-Identifier: MIT */
/*
 * kmsg: the kernel log from /dev/kmsg, from the first record the kernel
 * still holds, forwarded as DMESG frames (level, sequence, timestamp, text
 * with the kernel's \xHH escapes undone).
 *
 * Limits: a token bucket (rate lines/s, burst lines) bounds what reaches the
 * port; while it is empty the fd is left unread and the kernel's ring keeps
 * the lines (or overwrites them: the read then fails with EPIPE, counted as
 * lost, as are sequence gaps). A record is at most KMSG_REC_MAX bytes.
 */
#ifndef VIGIL_GUEST_KMSG_H
#define VIGIL_GUEST_KMSG_H

#include <stddef.h>
#include <stdint.h>

#include "chan.h"

#define KMSG_REC_MAX     8192
#define KMSG_READ_BUDGET 256 /* records per kmsg_read call */

struct kmsg_rec {
	uint8_t level; /* 0..7 */
	uint8_t facility;
	uint64_t seq;
	uint64_t ts_us;
	const char *text; /* unescaped, in the caller's buffer, not terminated */
	size_t text_len;
};

/*
 * Parse one /dev/kmsg record "pri,seq,ts_us,flags[,...];text\n[ KEY=v\n]..."
 * and unescape its text into buf (cap bytes; longer text is cut there).
 * 0 or -EBADMSG.
 */
int kmsg_parse(const char *rec, size_t len, char *buf, size_t cap, struct kmsg_rec *out);

struct kmsg_stats {
	uint64_t lines;     /* records forwarded */
	uint64_t lost;      /* records the ring overwrote before we read them */
	uint64_t malformed; /* records that did not parse */
	uint64_t throttled; /* times the bucket ran dry */
};

typedef void (*kmsg_line_fn)(void *ctx, const struct kmsg_rec *r);

struct kmsg {
	int fd;
	uint32_t rate;      /* lines per second */
	uint32_t burst;     /* bucket size, lines */
	uint64_t tokens_ns; /* bucket level in ns of credit: 1 line = 1e9/rate ns */
	uint64_t refill_ns; /* last refill time */
	uint64_t next_seq;  /* expected next kmsg seq; 0 before the first */
	kmsg_line_fn on_line;
	void *ctx;
	struct kmsg_stats st;
};

/* Open path (normally /dev/kmsg) non-blocking. 0 or -errno. */
int kmsg_open(struct kmsg *k, const char *path, uint32_t rate, uint32_t burst, uint64_t now_ns);
void kmsg_close(struct kmsg *k);
/*
 * Forward available records into c's output queue. Records forwarded
 * (>= 0) when the fd ran dry, -EAGAIN when the bucket did (call again at
 * kmsg_wake_ns), -errno on a read error other than EPIPE.
 */
int kmsg_read(struct kmsg *k, struct chan *c, uint64_t now_ns);
/* When the bucket holds one line again. */
uint64_t kmsg_wake_ns(const struct kmsg *k);

#endif
