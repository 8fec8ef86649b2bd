/* SPDX-License-Identifier: MIT */
/*
 * Findings and their evidence: the bounded table of one session's findings
 * and the pool of evidence lines that explain them.
 *
 * Owns: FND_MAX findings in the order found, each with a stable id (from 1)
 * that the session and the kernel-trouble tracker keep; a pool of evidence
 * lines (capacity fixed by fnd_init()), each tagged with its finding's id
 * until fnd_group() turns the tags into indices at the end of the run.
 *
 * Bounds: when the table is full, a new non-fatal finding is dropped; a new
 * fatal one removes the oldest non-fatal finding (and its lines), or, when
 * every kept finding is fatal, replaces the last one if it ranks higher.
 * So a fatal finding is never lost to non-fatal ones, and the outcome is
 * never lost. Non-fatal findings' lines may fill at most nonfatal_cap of
 * the pool, so fatal findings always find room. What the bounds drop is
 * counted.
 *
 * Load: a few findings per run; evidence lines are appended O(FND_MAX) each
 * (the id lookup). fnd_group() is O(pool) with no allocation: a counting
 * sort through a permutation array made at fnd_init().
 */
#ifndef VIGIL_HOST_FINDINGS_H
#define VIGIL_HOST_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/session.h>

#define FND_MAX 64u /* findings kept */

struct fnd {
	struct vigil_finding f[FND_MAX];
	uint32_t id[FND_MAX]; /* stable ids of f[] */
	uint32_t n;
	uint32_t next_id;
	struct vigil_evidence *pool; /* [cap]; .finding holds an id until fnd_group() */
	uint32_t *perm;              /* [cap] scratch of fnd_group() */
	uint32_t cap, used;
	uint32_t nonfatal_cap, nonfatal_used;
	bool grouped;           /* fnd_group() ran: no more lines */
	uint64_t dropped;       /* findings not kept or removed */
	uint64_t lines_dropped; /* evidence lines not kept */
};

/* 0 or -ENOMEM. cap: pool lines (>= 1); nonfatal_cap <= cap. */
int fnd_init(struct fnd *t, uint32_t cap, uint32_t nonfatal_cap);
void fnd_fini(struct fnd *t);

/*
 * A new finding (zeroed, outcome and fatal set) and its id in *id, or NULL
 * when the bounds do not keep it (counted).
 */
struct vigil_finding *fnd_add(struct fnd *t, enum vigil_outcome oc, bool fatal, uint32_t *id);
/* The finding with this id, NULL when it is gone or id is 0. */
struct vigil_finding *fnd_get(struct fnd *t, uint32_t id);
/*
 * An evidence line for finding id (trailing CR/LF dropped, cut at
 * VIGIL_DETAIL_MAX - 1). Returns false when not kept: the finding is gone
 * (not counted) or the pool is full (counted).
 */
bool fnd_line(struct fnd *t, uint32_t id, uint64_t t_ns, uint16_t source, const void *text,
	      size_t len);
/* Remove finding id and its lines because another finding now says it
 * (a process stall folded into a guest stall); not counted as dropped. */
void fnd_forget(struct fnd *t, uint32_t id);
/* End of run: tags become indices, lines grouped by finding (stable). */
void fnd_group(struct fnd *t);

#endif /* VIGIL_HOST_FINDINGS_H */
