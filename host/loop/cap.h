/* SPDX-License-Identifier: MIT */
/*
 * cap: the byte budget of one output file a guest can make grow (an events
 * file, the console copy, a recording), so that a flooding guest cannot
 * fill the host's disk (SECURITY.md).
 *
 * A write either fits whole or is refused whole and counted; nothing is
 * cut in the middle (an events line, a record). The first refusal is
 * reported by vigil_cap_take() so its owner says so once, where the
 * decision is made. No allocation, no I/O: the owner writes.
 */
#ifndef VIGIL_LOOP_CAP_H
#define VIGIL_LOOP_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_CAP_DEFAULT (1ull << 30) /* bytes of each capped file unless told */

struct vigil_cap {
	uint64_t limit;         /* bytes; 0: none */
	uint64_t used;          /* bytes taken */
	uint64_t dropped;       /* writes refused */
	uint64_t dropped_bytes; /* their bytes */
};

enum vigil_cap_take {
	VIGIL_CAP_OK = 0,   /* write it */
	VIGIL_CAP_FULL,     /* refused (counted) */
	VIGIL_CAP_FULL_NOW, /* refused, the first time: say so */
};

static inline enum vigil_cap_take vigil_cap_take(struct vigil_cap *c, size_t n)
{
	if (!c->limit || (c->used <= c->limit && n <= c->limit - c->used)) {
		c->used += n;
		return VIGIL_CAP_OK;
	}
	c->dropped_bytes += n;
	return c->dropped++ ? VIGIL_CAP_FULL : VIGIL_CAP_FULL_NOW;
}

/*
 * The same for lines a guest can make a person read (stderr lines about
 * stalls): a bucket of burst lines, one more every every_ns; what is held
 * back is counted, for the next line said to mention.
 */
struct vigil_lines {
	uint32_t tokens;
	uint64_t at_ns;   /* when the last token came (0: never used: full) */
	uint64_t dropped; /* held back since the last line said */
};

/* true: say it (and, when l->dropped, how many were held back; the caller
 * clears it). false: held back, counted. */
static inline bool vigil_lines_take(struct vigil_lines *l, uint64_t now, uint32_t burst,
				    uint64_t every_ns)
{
	if (!l->at_ns) {
		l->tokens = burst;
		l->at_ns = now ? now : 1;
	}
	while (l->tokens < burst && now - l->at_ns >= every_ns) {
		l->tokens++;
		l->at_ns += every_ns;
	}
	if (l->tokens == burst)
		l->at_ns = now; /* a full bucket does not save up */
	if (!l->tokens) {
		l->dropped++;
		return false;
	}
	l->tokens--;
	return true;
}

#endif /* VIGIL_LOOP_CAP_H */
