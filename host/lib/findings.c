/* SPDX-License-Identifier: MIT */
/*
 * Findings and their evidence (see findings.h for what it owns, its bounds
 * and load).
 *
 * Invariants: id[0..n) are distinct and increasing (the order found);
 * pool[0..used) hold ids of kept findings only (removing a finding removes
 * its lines); nonfatal_used counts the pool lines of non-fatal findings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "findings.h"
#include "session.h"

int fnd_init(struct fnd *t, uint32_t cap, uint32_t nonfatal_cap)
{
	memset(t, 0, sizeof(*t));
	if (cap == 0)
		cap = 1;
	/* the pool comes with the first evidence line (pool_alloc): a run
	 * without findings, most of a fleet's, costs none of it */
	t->cap = cap;
	t->nonfatal_cap = nonfatal_cap < cap ? nonfatal_cap : cap;
	t->next_id = 1;
	return 0;
}

void fnd_fini(struct fnd *t)
{
	free(t->pool);
	free(t->perm);
	t->pool = NULL;
	t->perm = NULL;
}

/* The pool at its first line; false (the line dropped, counted) on ENOMEM. */
static bool pool_alloc(struct fnd *t)
{
	if (t->pool)
		return true;
	t->pool = calloc(t->cap, sizeof(*t->pool));
	t->perm = calloc(t->cap, sizeof(*t->perm));
	if (t->pool && t->perm)
		return true;
	fnd_fini(t);
	return false;
}

static int fnd_index(const struct fnd *t, uint32_t id)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (t->id[i] == id)
			return (int)i;
	return -1;
}

struct vigil_finding *fnd_get(struct fnd *t, uint32_t id)
{
	int i = id ? fnd_index(t, id) : -1;

	return i < 0 ? NULL : &t->f[i];
}

/* Drop the lines of finding id from the pool (order kept). */
static void lines_remove(struct fnd *t, uint32_t id, bool fatal)
{
	uint32_t o = 0;

	for (uint32_t i = 0; i < t->used; i++) {
		if (t->pool[i].finding == id) {
			if (!fatal)
				t->nonfatal_used--;
			continue;
		}
		if (o != i)
			t->pool[o] = t->pool[i];
		o++;
	}
	t->used = o;
}

/* Remove finding i; the later ones move down (order kept). */
static void fnd_remove(struct fnd *t, uint32_t i)
{
	lines_remove(t, t->id[i], t->f[i].fatal);
	memmove(&t->f[i], &t->f[i + 1], (t->n - i - 1) * sizeof(t->f[0]));
	memmove(&t->id[i], &t->id[i + 1], (t->n - i - 1) * sizeof(t->id[0]));
	t->n--;
	t->dropped++;
}

void fnd_forget(struct fnd *t, uint32_t id)
{
	int i = id && !t->grouped ? fnd_index(t, id) : -1;

	if (i < 0)
		return;
	fnd_remove(t, (uint32_t)i);
	t->dropped--; /* folded into another finding, not lost to a bound */
}

/* Make room for a new finding in a full table; false when it is dropped. */
static bool fnd_room(struct fnd *t, enum vigil_outcome oc, bool fatal)
{
	if (!fatal)
		return false;
	for (uint32_t i = 0; i < t->n; i++) {
		if (!t->f[i].fatal) {
			fnd_remove(t, i); /* the oldest non-fatal one */
			return true;
		}
	}
	/* All fatal: the outcome must survive, so only a higher rank
	 * replaces the last one. */
	if (vigil_outcome_rank(oc) <= vigil_outcome_rank(t->f[t->n - 1].outcome))
		return false;
	fnd_remove(t, t->n - 1);
	return true;
}

struct vigil_finding *fnd_add(struct fnd *t, enum vigil_outcome oc, bool fatal, uint32_t *id)
{
	struct vigil_finding *f;

	if (t->grouped || (t->n == FND_MAX && !fnd_room(t, oc, fatal))) {
		t->dropped++;
		return NULL;
	}
	f = &t->f[t->n];
	memset(f, 0, sizeof(*f));
	f->outcome = oc;
	f->fatal = fatal;
	t->id[t->n++] = t->next_id;
	*id = t->next_id++;
	return f;
}

bool fnd_line(struct fnd *t, uint32_t id, uint64_t t_ns, uint16_t source, const void *text,
	      size_t len)
{
	const char *s = text;
	int i = id && !t->grouped ? fnd_index(t, id) : -1;
	struct vigil_evidence *e;

	if (i < 0)
		return false;
	if (t->used == t->cap || (!t->f[i].fatal && t->nonfatal_used >= t->nonfatal_cap) ||
	    !pool_alloc(t)) {
		t->lines_dropped++;
		return false;
	}
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	e = &t->pool[t->used++];
	e->t_ns = t_ns;
	e->source = source;
	e->finding = id;
	vigil__copy_text(e->line, sizeof(e->line), s, len);
	if (!t->f[i].fatal)
		t->nonfatal_used++;
	return true;
}

void fnd_group(struct fnd *t)
{
	uint32_t start[FND_MAX + 1] = { 0 };

	if (t->grouped)
		return;
	t->grouped = true;
	/* Ids to indices (every line's finding is kept: see the invariant). */
	for (uint32_t i = 0; i < t->used; i++) {
		int idx = fnd_index(t, t->pool[i].finding);

		t->pool[i].finding = idx < 0 ? 0 : (uint32_t)idx;
		start[t->pool[i].finding + 1]++;
	}
	for (uint32_t k = 1; k <= FND_MAX; k++)
		start[k] += start[k - 1];
	/* perm[i]: where line i goes; then follow the cycles in place. */
	for (uint32_t i = 0; i < t->used; i++)
		t->perm[i] = start[t->pool[i].finding]++;
	for (uint32_t i = 0; i < t->used; i++) {
		while (t->perm[i] != i) {
			uint32_t j = t->perm[i];
			struct vigil_evidence tmp = t->pool[j];
			uint32_t pj = t->perm[j];

			t->pool[j] = t->pool[i];
			t->perm[j] = j;
			t->pool[i] = tmp;
			t->perm[i] = pj;
		}
	}
}
