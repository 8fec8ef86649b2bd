/* SPDX-License-Identifier: MIT */
/*
 * Evidence (see evidence.h for what it owns): the line rings, the boot's
 * and the workload's last lines, kernel lines from the console and the
 * DMESG stream through the kernel-trouble tracker, the guest's crash and
 * the VMM's exit.
 */
#define _GNU_SOURCE /* memrchr */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

/* ---- rings ------------------------------------------------------------- */

static int ring_new(struct evd_ring *r, uint32_t cap, bool hashed)
{
	r->cap = cap;
	r->e = calloc(cap ? cap : 1, sizeof(*r->e));
	r->hash = hashed ? calloc(cap ? cap : 1, sizeof(*r->hash)) : NULL;
	return !r->e || (hashed && !r->hash) ? -ENOMEM : 0;
}

static void ring_free(struct evd_ring *r)
{
	free(r->e);
	free(r->hash);
}

static void ring_put(struct vigil_session *s, struct evd_ring *r, uint16_t source, const void *text,
		     size_t len)
{
	const char *t = text;
	struct vigil_evidence *e;

	if (r->cap == 0)
		return;
	while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r'))
		len--;
	if (r->hash)
		r->hash[r->head] = kt_line_hash(t, len);
	e = &r->e[r->head];
	r->head = (r->head + 1) % r->cap;
	if (r->n < r->cap)
		r->n++;
	e->t_ns = s->now - s->t0;
	e->source = source;
	vigil__copy_text(e->line, sizeof(e->line), t, len);
}

/* Slot of the i-th oldest line. */
static uint32_t ring_slot(const struct evd_ring *r, uint32_t i)
{
	return (r->head + r->cap - r->n + i) % r->cap;
}

static void ring_line_to(struct vigil_session *s, uint32_t id, const struct vigil_evidence *e)
{
	fnd_line(&s->fnd, id, e->t_ns, e->source, e->line, strlen(e->line));
}

int evd_init(struct vigil_session *s)
{
	struct evd *d = &s->evd;
	uint32_t cap = s->o.evidence_lines + 3 * (EVD_OUTPUT_LINES + 2) + 8 * KTR_SPLAT_LINES +
		       EVD_VMM_LINES + 8;

	ktr_init(&d->ktr, s->o.fail_on);
	if (ring_new(&d->con, s->o.evidence_lines, true) < 0 ||
	    ring_new(&d->kern, s->o.evidence_lines, true) < 0 ||
	    ring_new(&d->out, EVD_OUTPUT_LINES, false) < 0)
		return -ENOMEM;
	/* Non-fatal findings may fill at most four kernel reports' worth. */
	return fnd_init(&s->fnd, cap, 4 * KTR_SPLAT_LINES);
}

void evd_fini(struct vigil_session *s)
{
	ring_free(&s->evd.con);
	ring_free(&s->evd.kern);
	ring_free(&s->evd.out);
	fnd_fini(&s->fnd);
}

/* ---- the boot's and the workload's last lines --------------------------- */

/* Is kernel-ring line k also in the console ring (the same message)? */
static bool on_console_ring(const struct evd *d, uint32_t k)
{
	uint64_t h = d->kern.hash[k];

	for (uint32_t i = 0; i < d->con.n; i++)
		if (d->con.hash[ring_slot(&d->con, i)] == h)
			return true;
	return false;
}

/*
 * The boot's last lines go to finding id (once per run): both rings merged
 * by time, without the kernel lines the console already shows, the last
 * evidence_lines of them. Two passes: count, then copy the tail.
 */
void evd_boot(struct vigil_session *s, uint32_t id)
{
	struct evd *d = &s->evd;
	const struct evd_ring *c = &d->con, *k = &d->kern;
	uint32_t total = 0;

	if (d->boot_given || !id)
		return;
	d->boot_given = true;
	for (int pass = 0; pass < 2; pass++) {
		uint32_t i = 0, j = 0, pos = 0;
		uint32_t skip = total > s->o.evidence_lines ? total - s->o.evidence_lines : 0;

		while (i < c->n || j < k->n) {
			const struct vigil_evidence *e;
			uint32_t ks = j < k->n ? ring_slot(k, j) : 0;

			if (j >= k->n ||
			    (i < c->n && c->e[ring_slot(c, i)].t_ns <= k->e[ks].t_ns)) {
				e = &c->e[ring_slot(c, i++)];
			} else {
				j++;
				if (on_console_ring(d, ks))
					continue;
				e = &k->e[ks];
			}
			if (pass == 1 && pos >= skip)
				ring_line_to(s, id, e);
			pos++;
		}
		total = pos;
	}
}

/* Workload output: bytes up to a newline wait in out_part (cut at
 * VIGIL_DETAIL_MAX - 1). */
static void part_append(struct evd *d, uint32_t k, const uint8_t *p, size_t n)
{
	uint32_t room = VIGIL_DETAIL_MAX - 1 - d->out_part_len[k];

	if (n > room)
		n = room;
	memcpy(d->out_part[k] + d->out_part_len[k], p, n);
	d->out_part_len[k] += (uint32_t)n;
}

/*
 * Only the last EVD_OUTPUT_LINES lines of a chunk can stay in the output
 * ring, so the copying starts after the newline before them: per chunk,
 * one scan back over those lines and one forward, whatever its size.
 */
void evd_output_chunk(struct vigil_session *s, uint16_t stream, const uint8_t *p, size_t len)
{
	struct evd *d = &s->evd;
	uint32_t k = stream == VIGIL_MSG_STDERR;
	const uint8_t *end = p + len, *from = p, *q = end;

	for (uint32_t nl = 0; q > p && nl <= EVD_OUTPUT_LINES; nl++) {
		const uint8_t *x = memrchr(p, '\n', (size_t)(q - p));

		if (!x)
			break;
		if (nl == EVD_OUTPUT_LINES) {
			from = x + 1; /* what came before would be pushed out */
			d->out_part_len[k] = 0;
		}
		q = x;
	}
	for (;;) {
		const uint8_t *x = memchr(from, '\n', (size_t)(end - from));

		part_append(d, k, from, (size_t)((x ? x : end) - from));
		if (!x)
			break;
		ring_put(s, &d->out, stream, d->out_part[k], d->out_part_len[k]);
		d->out_part_len[k] = 0;
		from = x + 1;
	}
}

/* The workload's last output lines (and its unfinished ones) go to id. */
void evd_output(struct vigil_session *s, uint32_t id)
{
	static const uint16_t streams[2] = { VIGIL_MSG_STDOUT, VIGIL_MSG_STDERR };
	struct evd *d = &s->evd;

	if (!id)
		return;
	for (uint32_t i = 0; i < d->out.n; i++)
		ring_line_to(s, id, &d->out.e[ring_slot(&d->out, i)]);
	for (uint32_t k = 0; k < 2; k++)
		if (d->out_part_len[k])
			ses_line_to(s, id, streams[k], d->out_part[k], d->out_part_len[k]);
}

/* ---- kernel trouble ---------------------------------------------------- */

/* A new trouble: KERNEL_TROUBLE, fatal when its kind is in fail_on; a panic
 * is a GUEST_CRASH (with the boot's lines when it came before SYS_RDY). */
static uint32_t trouble_open(struct vigil_session *s, const struct ktr_res *r)
{
	bool panic = r->kind == VIGIL_KT_PANIC;
	bool fatal = panic || (s->o.fail_on & (1u << r->kind));
	struct ses_finding_in in = {
		.oc = panic ? VIGIL_OUTCOME_GUEST_CRASH : VIGIL_OUTCOME_KERNEL_TROUBLE,
		.kind = r->kind,
		.pid = r->pid,
		.detail = r->body,
		.detail_len = r->len,
		.fatal = fatal,
		.ends = fatal,
	};
	uint32_t id;

	s->c.kernel_trouble[r->kind]++;
	id = ses_finding_add(s, &in);
	if (panic && id) {
		s->evd.crash_id = id;
		if (!s->ready_ever)
			evd_boot(s, id);
	}
	return id;
}

/* One kernel line (a console line, a kmsg record's first line): the
 * tracker decides, the session records. Returns the finding it went to. */
static uint32_t kernel_line(struct vigil_session *s, enum ktr_src src, uint16_t source,
			    const char *line, size_t len)
{
	struct ktr_res r;
	struct vigil_finding *f;
	uint32_t id = 0;

	ktr_line(&s->evd.ktr, src, line, len, &r);
	switch (r.act) {
	case KTR_EVIDENCE:
		id = r.id;
		f = r.better_detail ? fnd_get(&s->fnd, id) : NULL;
		if (f) /* "Killed process 123 (sort) ..." says more than "oom-kill:..." */
			vigil__copy_text(f->detail, sizeof(f->detail), r.body, r.len);
		ses_line_to(s, id, source, line, len);
		break;
	case KTR_OPEN:
		id = trouble_open(s, &r);
		ktr_opened(&s->evd.ktr, src, &r, id);
		ses_line_to(s, id, source, line, len);
		break;
	case KTR_DROP:
		s->c.kernel_trouble[r.kind]++;
		s->c.kernel_trouble_dropped++;
		break;
	case KTR_SKIP:
	case KTR_DUP:
		break;
	}
	return id;
}

/*
 * DMESG: one kmsg record, whose first line is scanned; the lines after it
 * (a multi-line message) belong to the same report. DMESG and LOG records
 * go to the kernel ring, the boot's evidence.
 */
void evd_kernel_record(struct vigil_session *s, uint16_t source, const uint8_t *text, size_t len)
{
	const char *t = (const char *)text, *end = t + len;
	const char *nl = memchr(t, '\n', len);
	size_t first = nl ? (size_t)(nl - t) : len;
	uint32_t id = 0;

	s->c.evidence_lines++;
	if (source == VIGIL_MSG_DMESG && !s->finished)
		id = kernel_line(s, KTR_DMESG, source, t, first);
	ring_put(s, &s->evd.kern, source, t, first);
	for (uint32_t k = 0; id && nl && k < KTR_SPLAT_LINES; k++) {
		const char *p = nl + 1;

		nl = memchr(p, '\n', (size_t)(end - p));
		if ((nl ? nl : end) > p)
			ses_line_to(s, id, source, p, (size_t)((nl ? nl : end) - p));
	}
}

int vigil_session_console_line(struct vigil_session *s, uint64_t now_ns, const char *line,
			       size_t len)
{
	int r = ses_gate(s);

	if (r < 0)
		return r;
	ses_clock_in(s, now_ns);
	if (!line)
		return 0;
	s->c.evidence_lines++;
	kernel_line(s, KTR_CONSOLE, VIGIL_SOURCE_CONSOLE, line, len);
	ring_put(s, &s->evd.con, VIGIL_SOURCE_CONSOLE, line, len);
	return 0;
}

/* ---- the guest's crash and the VMM's exit ------------------------------ */

/* Is line b the message of finding detail a (timestamps aside; a detail
 * cut at VIGIL_DETAIL_MAX - 1 bytes matches the start of b)? */
static bool same_message(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n1, n2, o1 = kt_strip(a, an, &n1), o2 = kt_strip(b, bn, &n2);

	if (an == VIGIL_DETAIL_MAX - 1 && n2 > n1)
		n2 = n1;
	return n1 == n2 && memcmp(a + o1, b + o2, n1) == 0;
}

int vigil_session_guest_crashed(struct vigil_session *s, uint64_t now_ns, const char *evidence)
{
	static const char msg[] = "the guest kernel crashed";
	size_t len = evidence ? strlen(evidence) : 0;
	struct evd *d = &s->evd;
	struct vigil_finding *f;
	uint32_t id;
	int r = ses_gate(s);

	if (r < 0)
		return r;
	ses_clock_in(s, now_ns);
	f = fnd_get(&s->fnd, d->crash_id);
	if (f) {
		/* One crash per run: this reports the one found (e.g. pvpanic
		 * after the panic line); a new line is its evidence. */
		if (evidence && !same_message(f->detail, strlen(f->detail), evidence, len))
			ses_line_to(s, d->crash_id, VIGIL_SOURCE_CONSOLE, evidence, len);
		s->ended = true;
		return 0;
	}
	id = ses_finding_text(s, VIGIL_OUTCOME_GUEST_CRASH, evidence ? evidence : msg, true);
	if (!id)
		return 0;
	d->crash_id = id;
	ktr_crashed(&d->ktr, id);
	if (!s->ready_ever)
		evd_boot(s, id);
	if (evidence)
		ses_line_to(s, id, VIGIL_SOURCE_CONSOLE, evidence, len);
	return 0;
}

/* The last EVD_VMM_LINES non-empty lines of text (a CR before the LF
 * dropped), oldest first, into out; returns how many. */
static uint32_t last_lines(const char *t, size_t len, struct vigil_str out[EVD_VMM_LINES])
{
	const char *end = t + len;
	uint32_t n = 0;

	while (end > t && n < EVD_VMM_LINES) {
		const char *nl = memrchr(t, '\n', (size_t)(end - t));
		const char *start = nl ? nl + 1 : t;
		size_t l = (size_t)(end - start);

		if (l && start[l - 1] == '\r')
			l--;
		if (l)
			out[EVD_VMM_LINES - 1 - n++] =
			    (struct vigil_str){ start,
						(uint16_t)(l < UINT16_MAX ? l : UINT16_MAX) };
		end = nl ? nl : t;
	}
	memmove(out, out + EVD_VMM_LINES - n, n * sizeof(*out));
	return n;
}

int vigil_session_vmm_exited(struct vigil_session *s, uint64_t now_ns, int status, int sig,
			     const char *detail)
{
	static const char msg[] = "the VMM exited";
	struct vigil_str lines[EVD_VMM_LINES];
	uint32_t n = detail ? last_lines(detail, strnlen(detail, 65536), lines) : 0;
	struct ses_finding_in in = { .oc = VIGIL_OUTCOME_QEMU_EXITED,
				     .status = status,
				     .kind = (uint32_t)sig,
				     .detail = n ? lines[n - 1].ptr : msg, /* its last line */
				     .detail_len = n ? lines[n - 1].len : sizeof(msg) - 1,
				     .fatal = true,
				     .ends = true };
	uint32_t id;
	int r = ses_gate(s);

	if (r < 0)
		return r;
	ses_clock_in(s, now_ns);
	if (s->ended)
		return 0; /* e.g. powered off after the workload's EXIT */
	id = ses_finding_add(s, &in);
	for (uint32_t i = 0; id && i < n; i++)
		ses_line_to(s, id, VIGIL_SOURCE_VMM, lines[i].ptr, lines[i].len);
	return 0;
}
