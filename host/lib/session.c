/* SPDX-License-Identifier: MIT */
/*
 * The per-guest session: stream assembler -> CRC-gated dispatch table ->
 * tracker, watchdog, flow table, snapshot hand-off, sinks; findings and the
 * verdict.
 *
 * Owns every table of one guest, sized by vigil_session_new() from the
 * options: the assembler (one frame, ~64 KiB), the tracker, the flow table,
 * scenarios, test results, the findings and their evidence pool
 * (findings.c), the kernel-trouble tracker (kernel.c), three line rings (the
 * console's and the DMESG/LOG stream's last evidence_lines lines, for a
 * failed boot; the workload's last SES_OUTPUT_LINES output lines, for its
 * failure), the answered-snapshot ring and one host-to-guest frame buffer.
 * Nothing on the feed/tick paths allocates, formats or blocks; strings from
 * the guest are copied with a bound and cut ones are counted.
 *
 * Clocks: s->now is the largest now_ns seen (regressions are clamped).
 * Runnable time (rt) = host time - time the VM was stopped; it drives stall
 * deadlines, the boot timeout, the workload watchdog and the link grace. The
 * run timeout, pings and probe samples run on host time.
 *
 * Expected load: one guest per session; up to tens of millions of beat
 * records per second through feed() in benchmarks, far less in practice.
 */
#define _GNU_SOURCE /* memrchr */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "findings.h"
#include "flows.h"
#include "kernel.h"
#include "session.h"
#include "tracker.h"

#define SES_OUTPUT_LINES   20u /* workload output lines kept for its failure */
#define SES_STALL_FINDINGS 16u /* stall findings kept (one per stall episode) */
#define SES_VMM_LINES      8u  /* lines of vigil_session_vmm_exited's detail kept */
#define SES_SNAP_DONE_RING 8u
#define SES_PING_RING      4u
#define SES_PROG_RING      256u
#define SES_PROG_MIN_NS    (10 * 1000000ull) /* fastest probe sampling period */
#define SES_TX_CAP         (VIGIL_WIRE_HDR_LEN + 10 + VIGIL_WIRE_STR_MAX)
#define SES_NO_SCENARIO    UINT32_MAX
#define NSEC_PER_SEC       1000000000ull

struct snap_answer {
	uint32_t id;
	int32_t status;
	uint16_t detail_len;
	char detail[VIGIL_DETAIL_MAX];
};

struct ping_sent {
	uint64_t token; /* 0: slot unused */
	uint64_t sent_ns;
};

struct prog_sample {
	uint64_t rt_ns;
	uint64_t cpu_ns;
};

/* The last cap lines of a source (evidence of a failed boot or workload). */
struct ring {
	struct vigil_evidence *e; /* [cap]; .finding unused */
	uint64_t *hash;           /* [cap] kt_line_hash of each line, or NULL */
	uint32_t cap, head, n;
};

struct vigil_session {
	struct vigil_session_opts o;
	struct vigil_session_hooks h;
	uint64_t t0;        /* creation time, host ns */
	uint64_t now;       /* largest now_ns seen */
	uint64_t last_next; /* deadline the last tick returned */

	/* VM stops: rt = now - stopped_total, frozen while stopped */
	bool vm_stopped;
	uint64_t stopped_at;
	uint64_t stopped_total;

	/* link */
	bool link_up;
	bool link_grace;       /* LINK_LOST countdown armed */
	uint64_t link_lost_rt; /* when it fires */

	/* stream and epochs */
	struct vigil_asm *as;
	uint32_t epoch;
	bool ready_in_epoch;
	bool ready_ever;

	/* run */
	bool ended;    /* something ended the run */
	bool finished; /* vigil_session_finish() ran */
	bool boot_armed;
	uint64_t boot_rt;
	bool run_armed;
	uint64_t run_deadline; /* host ns */

	/* workload watchdog and scenarios */
	bool wl_armed; /* a scenario runs and the budget is counting */
	uint64_t wl_deadline_rt;
	uint64_t wl_used_rt; /* unpaused time of ended scenarios */
	bool scen_running;
	bool scen_paused;
	uint32_t scen_cur;  /* index into scen[], SES_NO_SCENARIO when not kept */
	uint32_t scen_seen; /* STARTs seen (kept or not) */
	uint64_t scen_start_rt;
	uint64_t scen_pause_rt;    /* pause start */
	uint64_t scen_pause_total; /* of the running scenario */
	uint64_t wl_pause_total;
	struct vigil_scenario *scen;
	uint32_t n_scen;

	/* tests */
	struct vigil_test *tests;
	uint32_t n_tests;
	uint32_t tests_by_outcome[4];
	bool test_failed;

	/* findings and evidence */
	struct fnd fnd;
	struct ktr ktr;
	struct ring con_ring;               /* console lines, the boot's evidence */
	struct ring kern_ring;              /* DMESG and LOG lines, the boot's evidence */
	struct ring out_ring;               /* workload STDOUT/STDERR lines */
	char out_part[2][VIGIL_DETAIL_MAX]; /* STDOUT, STDERR: the line being written */
	uint32_t out_part_len[2];
	bool boot_given; /* the boot lines went to a finding (once) */
	uint32_t stall_findings;
	uint32_t crash_id; /* the GUEST_CRASH finding, 0 none */

	/* snapshots */
	bool snap_busy;
	uint32_t snap_id;
	uint32_t snap_kind;
	char snap_tag[VIGIL_NAME_MAX];
	uint16_t snap_tag_len;
	struct snap_answer answered[SES_SNAP_DONE_RING];
	uint32_t answered_next;

	/* pings */
	uint64_t ping_next;
	uint64_t ping_token;
	struct ping_sent pings[SES_PING_RING];

	/* progress probe */
	uint64_t prog_next;
	uint64_t prog_period; /* min(progress_interval, max(shortest pid deadline / 8, 10 ms)) */
	struct prog_sample prog[SES_PROG_RING];
	uint32_t prog_head, prog_n;

	/* beat token bucket, in beat-ns (one beat costs NSEC_PER_SEC) */
	uint64_t tb_tokens;
	uint64_t tb_cap;
	uint64_t tb_last;

	/* anomalies */
	uint64_t anom_next;
	uint64_t anom_last[CTR_ANOMALIES]; /* values at the last report */

	/* tables */
	struct trk *trk;
	struct flows *flows;

	/* verdict data */
	struct vigil_session_counters c; /* tracker/flows/stream filled on read */
	struct vigil_timeline tl;
	struct vigil_guest_info guest;
	bool have_exit;
	int32_t exit_status, exit_signal;
	bool have_sched_exit;
	int32_t sched_code;
	uint32_t sched_kind;
	char sched_reason[VIGIL_DETAIL_MAX];
	uint64_t agent_stats[VIGIL_STAT__KNOWN];
	struct vigil_verdict v;

	/* host-to-guest */
	uint32_t tx_seq;
	uint8_t tx[SES_TX_CAP];
};

/* ---- small helpers ----------------------------------------------------- */

bool vigil__copy_text(char *dst, size_t cap, const void *src, size_t len)
{
	bool cut = false;

	if (cap == 0)
		return len > 0;
	if (len > cap - 1) {
		len = cap - 1;
		cut = true;
	}
	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (dst[i] == '\0')
			dst[i] = '?';
	return cut;
}

static void copy_str(struct vigil_session *s, char *dst, size_t cap, struct vigil_str str)
{
	if (vigil__copy_text(dst, cap, str.ptr, str.len))
		s->c.strings_truncated++;
}

/* A timeline stamp: ns since creation, at least 1 (0 means "never"). */
static uint64_t stamp(const struct vigil_session *s)
{
	return s->now > s->t0 ? s->now - s->t0 : 1;
}

static uint64_t rt_now(const struct vigil_session *s)
{
	if (s->vm_stopped)
		return s->stopped_at - s->stopped_total;
	return s->now - s->stopped_total;
}

/* Host time of a runnable-time deadline; NONE while the VM is stopped. */
static uint64_t rt_to_host(const struct vigil_session *s, uint64_t rt)
{
	if (s->vm_stopped || rt == VIGIL_DEADLINE_NONE)
		return VIGIL_DEADLINE_NONE;
	return rt + s->stopped_total;
}

static void clock_in(struct vigil_session *s, uint64_t now_ns)
{
	if (now_ns < s->now)
		s->c.clock_regressions++;
	else
		s->now = now_ns;
}

static void emit(struct vigil_session *s, struct vigil_event *ev)
{
	if (!s->h.sink.event)
		return;
	ev->now_ns = s->now;
	ev->t_ns = s->now - s->t0;
	s->h.sink.event(s->h.sink.ctx, ev);
}

static void emit_simple(struct vigil_session *s, enum vigil_event_type type)
{
	struct vigil_event ev = { .type = type };

	emit(s, &ev);
}

/* ---- findings ---------------------------------------------------------- */

/* What a finding says; see struct vigil_finding. */
struct finding_in {
	enum vigil_outcome oc;
	int32_t status;
	uint32_t kind;
	uint32_t pid;
	uint64_t silence;
	const char *detail; /* may be NULL */
	size_t detail_len;
	bool fatal; /* may decide the outcome */
	bool ends;  /* the run is over */
};

/*
 * Record a finding (bounded, see findings.h) and emit FINDING. Returns its
 * id, 0 when it was not kept. ends holds either way.
 */
static uint32_t finding_add(struct vigil_session *s, const struct finding_in *in)
{
	struct vigil_finding *f;
	uint32_t id = 0;

	if (s->finished)
		return 0;
	f = fnd_add(&s->fnd, in->oc, in->fatal, &id);
	if (f) {
		f->t_ns = s->now - s->t0;
		f->status = in->status;
		f->kind = in->kind;
		f->pid = in->pid;
		f->silence_ns = in->silence;
		if (in->detail)
			vigil__copy_text(f->detail, sizeof(f->detail), in->detail, in->detail_len);

		struct vigil_event ev = { .type = VIGIL_EV_FINDING, .finding.finding = f };

		emit(s, &ev);
	}
	if (in->ends)
		s->ended = true;
	return f ? id : 0;
}

/* A fatal finding with a fixed sentence. */
static uint32_t finding_text(struct vigil_session *s, enum vigil_outcome oc, const char *text,
			     bool ends)
{
	struct finding_in in = { .oc = oc,
				 .detail = text,
				 .detail_len = text ? strlen(text) : 0,
				 .fatal = true,
				 .ends = ends };

	return finding_add(s, &in);
}

/* ---- evidence ---------------------------------------------------------- */

static void ring_put(struct vigil_session *s, struct ring *r, uint16_t source, const void *text,
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
static uint32_t ring_slot(const struct ring *r, uint32_t i)
{
	return (r->head + r->cap - r->n + i) % r->cap;
}

static bool line_to(struct vigil_session *s, uint32_t id, uint16_t source, const void *text,
		    size_t len)
{
	return fnd_line(&s->fnd, id, s->now - s->t0, source, text, len);
}

static void ring_line_to(struct vigil_session *s, uint32_t id, const struct vigil_evidence *e)
{
	fnd_line(&s->fnd, id, e->t_ns, e->source, e->line, strlen(e->line));
}

/* Is kernel-ring line k also in the console ring (the same message)? */
static bool on_console_ring(const struct vigil_session *s, uint32_t k)
{
	uint64_t h = s->kern_ring.hash[k];

	for (uint32_t i = 0; i < s->con_ring.n; i++)
		if (s->con_ring.hash[ring_slot(&s->con_ring, i)] == h)
			return true;
	return false;
}

/*
 * The boot's last lines go to finding id (once per run): both rings merged
 * by time, without the kernel lines the console already shows, the last
 * evidence_lines of them. Two passes: count, then copy the tail.
 */
static void boot_evidence(struct vigil_session *s, uint32_t id)
{
	const struct ring *c = &s->con_ring, *k = &s->kern_ring;
	uint32_t total = 0;

	if (s->boot_given || !id)
		return;
	s->boot_given = true;
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
				if (on_console_ring(s, ks))
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
static void part_append(struct vigil_session *s, uint32_t k, const uint8_t *p, size_t n)
{
	uint32_t room = VIGIL_DETAIL_MAX - 1 - s->out_part_len[k];

	if (n > room)
		n = room;
	memcpy(s->out_part[k] + s->out_part_len[k], p, n);
	s->out_part_len[k] += (uint32_t)n;
}

/*
 * A CRC-valid STDOUT/STDERR chunk: its complete lines go to the output
 * ring. Only the last SES_OUTPUT_LINES lines of a chunk can stay there, so
 * the copying starts after the newline before them: per chunk, one scan
 * back over those lines and one forward, whatever the chunk's size.
 */
static void output_take(struct vigil_session *s, uint16_t stream, const uint8_t *p, size_t len)
{
	uint32_t k = stream == VIGIL_MSG_STDERR;
	const uint8_t *end = p + len, *from = p, *q = end;

	for (uint32_t nl = 0; q > p && nl <= SES_OUTPUT_LINES; nl++) {
		const uint8_t *x = memrchr(p, '\n', (size_t)(q - p));

		if (!x)
			break;
		if (nl == SES_OUTPUT_LINES) {
			from = x + 1; /* what came before would be pushed out */
			s->out_part_len[k] = 0;
		}
		q = x;
	}
	for (;;) {
		const uint8_t *x = memchr(from, '\n', (size_t)(end - from));

		part_append(s, k, from, (size_t)((x ? x : end) - from));
		if (!x)
			break;
		ring_put(s, &s->out_ring, stream, s->out_part[k], s->out_part_len[k]);
		s->out_part_len[k] = 0;
		from = x + 1;
	}
}

/* The workload's last output lines (and its unfinished ones) go to id. */
static void output_evidence(struct vigil_session *s, uint32_t id)
{
	static const uint16_t streams[2] = { VIGIL_MSG_STDOUT, VIGIL_MSG_STDERR };

	if (!id)
		return;
	for (uint32_t i = 0; i < s->out_ring.n; i++)
		ring_line_to(s, id, &s->out_ring.e[ring_slot(&s->out_ring, i)]);
	for (uint32_t k = 0; k < 2; k++)
		if (s->out_part_len[k])
			line_to(s, id, streams[k], s->out_part[k], s->out_part_len[k]);
}

/* ---- kernel trouble ---------------------------------------------------- */

/* A new trouble: KERNEL_TROUBLE, fatal when its kind is in fail_on; a panic
 * is a GUEST_CRASH (with the boot's lines when it came before SYS_RDY). */
static uint32_t trouble_open(struct vigil_session *s, const struct ktr_res *r)
{
	bool panic = r->kind == VIGIL_KT_PANIC;
	bool fatal = panic || (s->o.fail_on & (1u << r->kind));
	struct finding_in in = {
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
	id = finding_add(s, &in);
	if (panic && id) {
		s->crash_id = id;
		if (!s->ready_ever)
			boot_evidence(s, id);
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

	ktr_line(&s->ktr, src, line, len, &r);
	switch (r.act) {
	case KTR_EVIDENCE:
		id = r.id;
		f = r.better_detail ? fnd_get(&s->fnd, id) : NULL;
		if (f) /* "Killed process 123 (sort) ..." says more than "oom-kill:..." */
			vigil__copy_text(f->detail, sizeof(f->detail), r.body, r.len);
		line_to(s, id, source, line, len);
		break;
	case KTR_OPEN:
		id = trouble_open(s, &r);
		ktr_opened(&s->ktr, src, &r, id);
		line_to(s, id, source, line, len);
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
 * A CRC-valid DMESG or LOG record. DMESG: one kmsg record, whose first line
 * is scanned; the lines after it (a multi-line message) belong to the same
 * report. Both go to the kernel ring, the boot's evidence.
 */
static void kernel_record(struct vigil_session *s, uint16_t source, const uint8_t *text, size_t len)
{
	const char *t = (const char *)text, *end = t + len;
	const char *nl = memchr(t, '\n', len);
	size_t first = nl ? (size_t)(nl - t) : len;
	uint32_t id = 0;

	s->c.evidence_lines++;
	if (source == VIGIL_MSG_DMESG && !s->finished)
		id = kernel_line(s, KTR_DMESG, source, t, first);
	ring_put(s, &s->kern_ring, source, t, first);
	for (uint32_t k = 0; id && nl && k < KTR_SPLAT_LINES; k++) {
		const char *p = nl + 1;

		nl = memchr(p, '\n', (size_t)(end - p));
		if ((nl ? nl : end) > p)
			line_to(s, id, source, p, (size_t)((nl ? nl : end) - p));
	}
}

/* ---- host-to-guest frames ---------------------------------------------- */

static int tx_send(struct vigil_session *s, uint16_t type, int plen)
{
	int n;
	int r;

	if (plen < 0) {
		s->c.tx_errors++;
		return plen;
	}
	n = vigil_frame_seal(s->tx, sizeof(s->tx), type, s->tx_seq, (size_t)plen);
	if (n < 0) {
		s->c.tx_errors++;
		return n;
	}
	if (!s->h.writer.write) {
		s->c.tx_errors++;
		return -ENOTCONN;
	}
	r = s->h.writer.write(s->h.writer.ctx, s->tx, (size_t)n);
	if (r < 0) {
		s->c.tx_errors++;
		return r;
	}
	s->tx_seq++;
	s->c.tx_frames++;
	s->c.tx_bytes += (uint64_t)n;
	return 0;
}

static int send_snapshot_reply(struct vigil_session *s, uint32_t id, int32_t status,
			       const char *detail, size_t detail_len)
{
	struct vigil_snapshot_reply rep = {
		.request_id = id,
		.status = status,
		.detail = { detail, (uint16_t)detail_len },
	};

	return tx_send(s, VIGIL_MSG_SNAPSHOT_REPLY,
		       vigil_snapshot_reply_encode(s->tx + VIGIL_WIRE_HDR_LEN,
						   sizeof(s->tx) - VIGIL_WIRE_HDR_LEN, &rep));
}

/* Reply, remember the answer (for repeats of the id) and report it. */
static void snapshot_answer(struct vigil_session *s, uint32_t id, uint32_t kind,
			    struct vigil_str tag, int32_t status, const char *detail,
			    size_t detail_len)
{
	struct snap_answer *a = &s->answered[s->answered_next];

	if (detail_len > VIGIL_WIRE_STR_MAX)
		detail_len = VIGIL_WIRE_STR_MAX;
	send_snapshot_reply(s, id, status, detail, detail_len);
	s->answered_next = (s->answered_next + 1) % SES_SNAP_DONE_RING;
	a->id = id;
	a->status = status;
	a->detail_len = (uint16_t)(detail_len < sizeof(a->detail) ? detail_len : sizeof(a->detail));
	if (a->detail_len)
		memcpy(a->detail, detail, a->detail_len);

	struct vigil_event ev = { .type = VIGIL_EV_SNAPSHOT_DONE };

	ev.snapshot.request_id = id;
	ev.snapshot.kind = kind;
	ev.snapshot.status = status;
	ev.snapshot.tag = tag;
	ev.snapshot.detail = (struct vigil_str){ detail, (uint16_t)detail_len };
	emit(s, &ev);
}

/* ---- progress probe ---------------------------------------------------- */

static void prog_sample(struct vigil_session *s)
{
	uint64_t cpu;

	if (!s->h.progress.sample || s->h.progress.sample(s->h.progress.ctx, &cpu) < 0)
		return;
	s->prog[s->prog_head] = (struct prog_sample){ .rt_ns = rt_now(s), .cpu_ns = cpu };
	s->prog_head = (s->prog_head + 1) % SES_PROG_RING;
	if (s->prog_n < SES_PROG_RING)
		s->prog_n++;
}

/*
 * Did the vCPUs get (almost) no CPU time in the recent part of a silence
 * that began at runnable time since_rt and has now run past dl_ns?
 *
 * The window ends now and starts at the newest kept sample that is at least
 * dl_ns / 4 old and still inside the silence (none that old: the oldest one
 * inside it). Judging the whole silence would be wrong: a host that stops
 * QEMU does so some time after the last beat (up to a beat interval), and
 * the vCPU time before the stop would hide the starvation. Samples come
 * every prog_period (at most dl_ns / 8 for every pid seen), so the window
 * starts between 5/8 and 3/4 of the deadline into the silence. A window
 * shorter than min(dl_ns / 8, half the ring's span) is not judged (samples
 * too sparse). O(SES_PROG_RING), no allocation; called once per stall.
 */
static bool host_starved(struct vigil_session *s, uint64_t since_rt, uint64_t dl_ns)
{
	uint64_t cpu_now;
	const struct prog_sample *base = NULL;

	if (!s->h.progress.sample || s->prog_n == 0)
		return false;
	if (s->h.progress.sample(s->h.progress.ctx, &cpu_now) < 0)
		return false;
	uint64_t now_rt = rt_now(s);
	uint64_t target = now_rt > dl_ns / 4 ? now_rt - dl_ns / 4 : 0;

	for (uint32_t i = 0; i < s->prog_n; i++) {
		uint32_t idx = (s->prog_head + SES_PROG_RING - s->prog_n + i) % SES_PROG_RING;
		const struct prog_sample *p = &s->prog[idx];

		if (p->rt_ns < since_rt)
			continue;
		if (p->rt_ns <= target) {
			base = p; /* the newest at least dl_ns / 4 old so far */
			continue;
		}
		if (!base)
			base = p; /* none that old: the oldest inside the silence */
		break;
	}
	if (!base || now_rt <= base->rt_ns || cpu_now < base->cpu_ns)
		return false;
	uint64_t window = now_rt - base->rt_ns;
	uint64_t ring_half = s->prog_period > UINT64_MAX / (SES_PROG_RING / 2)
				 ? UINT64_MAX
				 : (uint64_t)(SES_PROG_RING / 2) * s->prog_period;
	uint64_t min_window = dl_ns / 8 < ring_half ? dl_ns / 8 : ring_half;

	if (window < min_window)
		return false;
	/* progress / window < permille / 1000, in integers (both below 2^64
	 * for windows under ~580 years / 1000). */
	return (cpu_now - base->cpu_ns) * 1000u < window * s->o.starved_permille;
}

/* ---- tracker events ---------------------------------------------------- */

/* Sample the probe often enough to judge the stalls of the shortest
 * deadline any pid declared so far. */
static void prog_fit(struct vigil_session *s)
{
	uint64_t dl = trk_min_deadline(s->trk);
	uint64_t p;

	if (dl / 8 >= s->prog_period)
		return;
	p = dl / 8 > SES_PROG_MIN_NS ? dl / 8 : SES_PROG_MIN_NS;
	if (p < s->prog_period) {
		if (s->prog_next > s->now + p)
			s->prog_next = s->now + p;
		s->prog_period = p;
	}
}

/*
 * One finding per stall episode while the run goes on: under on_stall FAIL
 * the first one is fatal and ends the run; under WARN each is non-fatal (at
 * most SES_STALL_FINDINGS, the rest counted as findings_dropped).
 */
static void stall_finding(struct vigil_session *s, uint32_t pid, uint64_t silence, bool hs)
{
	static const char starved[] = "the vCPUs got no CPU time before the deadline";
	static const char stalled[] = "a tracked process missed its deadline";
	bool fail = s->o.on_stall == VIGIL_ON_STALL_FAIL;
	struct finding_in in = {
		.oc = hs ? VIGIL_OUTCOME_HOST_STARVED : VIGIL_OUTCOME_PROCESS_STALL,
		.pid = pid,
		.silence = silence,
		.detail = hs ? starved : stalled,
		.detail_len = hs ? sizeof(starved) - 1 : sizeof(stalled) - 1,
		.fatal = fail,
		.ends = fail,
	};

	if (s->stall_findings >= SES_STALL_FINDINGS) {
		s->fnd.dropped++;
		return;
	}
	if (finding_add(s, &in))
		s->stall_findings++;
}

/* A stalled pid beat again: its latest stall finding, if kept and not yet
 * recovered, records when and after how long. */
static void stall_recovered(struct vigil_session *s, uint32_t pid, uint64_t silence)
{
	for (uint32_t i = s->fnd.n; i-- > 0;) {
		struct vigil_finding *f = &s->fnd.f[i];

		if ((f->outcome != VIGIL_OUTCOME_PROCESS_STALL &&
		     f->outcome != VIGIL_OUTCOME_HOST_STARVED) ||
		    f->pid != pid)
			continue;
		if (!f->recovered_ns) {
			f->recovered_ns = stamp(s);
			f->recovery_silence_ns = silence;
		}
		return;
	}
}

static void trk_event(void *ctx, enum trk_event tev, const struct trk_slot *sl, uint64_t now_rt,
		      uint64_t silence)
{
	struct vigil_session *s = ctx;
	struct vigil_event ev = { 0 };

	(void)now_rt;
	ev.process.pid = sl->pid;
	ev.process.origin = sl->origin;
	ev.process.status = sl->status;
	ev.process.pidns_inode = sl->pidns;
	ev.process.deadline_ns = sl->dl_ns;
	ev.process.silence_ns = silence;
	switch (tev) {
	case TRK_EV_NEW:
		ev.type = VIGIL_EV_PROCESS_NEW;
		break;
	case TRK_EV_RECOVERY:
		ev.type = VIGIL_EV_RECOVERY;
		break;
	case TRK_EV_GONE_STOPPING:
		ev.type = VIGIL_EV_PROCESS_GONE;
		ev.process.gone = VIGIL_GONE_STOPPING;
		break;
	case TRK_EV_GONE_EVICTED:
		ev.type = VIGIL_EV_PROCESS_GONE;
		ev.process.gone = VIGIL_GONE_EVICTED;
		break;
	case TRK_EV_STALL:
		ev.type = VIGIL_EV_STALL;
		ev.process.host_starved = host_starved(s, sl->last_ns, sl->dl_ns);
		if (ev.process.host_starved)
			trk_count_host_starved(s->trk);
		break;
	}
	emit(s, &ev);
	if (tev == TRK_EV_STALL && !s->ended)
		stall_finding(s, sl->pid, silence, ev.process.host_starved);
	if (tev == TRK_EV_RECOVERY && !s->finished)
		stall_recovered(s, sl->pid, silence);
}

/* ---- dispatch handlers ------------------------------------------------- */

/*
 * A handler gets a CRC-valid (or, for output, any) frame of its type and
 * returns 0, -EBADMSG for a wrong shape (counted as malformed by the
 * caller), or 1 when the type's own rules ignored it (counted as ignored).
 */
typedef int (*handler_fn)(struct vigil_session *s, const struct vigil_frame *f);

static int on_hello(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_hello h;
	bool restart = false;

	if (vigil_hello_decode(f->payload, f->hdr.len, &h) < 0)
		return -EBADMSG;
	if (f->new_epoch || s->epoch == 0) {
		if (f->new_epoch)
			s->c.epochs++;
		restart = s->epoch > 0;
		s->epoch++;
		s->ready_in_epoch = false;
		/* The agent forgot its pings and its snapshot ids. */
		memset(s->pings, 0, sizeof(s->pings));
		memset(s->answered, 0, sizeof(s->answered));
		if (restart)
			s->c.agent_restarts++;
	}
	if (h.proto_version != VIGIL_WIRE_VERSION)
		s->c.proto_mismatch++;
	if (!s->guest.have_hello) {
		s->tl.hello_ns = stamp(s);
		s->tl.guest_boottime_ns = h.guest_boottime_ns;
	}
	s->guest.have_hello = true;
	s->guest.proto_version = h.proto_version;
	s->guest.capabilities = h.capabilities;
	copy_str(s, s->guest.agent_version, sizeof(s->guest.agent_version), h.agent_version);
	copy_str(s, s->guest.kernel_release, sizeof(s->guest.kernel_release), h.kernel_release);
	copy_str(s, s->guest.hostname, sizeof(s->guest.hostname), h.hostname);

	struct vigil_event ev = { .type = restart ? VIGIL_EV_AGENT_RESTART : VIGIL_EV_HELLO };

	ev.hello.epoch = s->epoch;
	ev.hello.proto_version = h.proto_version;
	ev.hello.capabilities = h.capabilities;
	ev.hello.guest_boottime_ns = h.guest_boottime_ns;
	ev.hello.agent_version = h.agent_version;
	ev.hello.kernel_release = h.kernel_release;
	ev.hello.hostname = h.hostname;
	emit(s, &ev);
	return 0;
}

/*
 * MODE_RUN: the agent starts the workload right after SYS_RDY, so its time
 * and its watchdog start here, with or without scenarios. A scenario paused
 * before (an odd guest) keeps the watchdog stopped; only the part of the
 * pause after this counts as a pause.
 */
static void workload_begin(struct vigil_session *s)
{
	uint64_t now_rt = rt_now(s);

	if (!s->tl.workload_start_ns)
		s->tl.workload_start_ns = stamp(s);
	if (!s->o.workload_duration_ns || s->ended || s->wl_armed)
		return;
	s->wl_armed = true;
	s->wl_deadline_rt = now_rt + s->o.workload_duration_ns;
	if (s->scen_paused)
		s->wl_deadline_rt -= now_rt - s->scen_pause_rt;
}

static int on_sys_rdy(struct vigil_session *s, const struct vigil_frame *f)
{
	if (vigil_sys_rdy_decode(f->payload, f->hdr.len) < 0)
		return -EBADMSG;
	if (s->ready_in_epoch) {
		s->c.sys_rdy_repeats++;
		return 1;
	}
	s->ready_in_epoch = true;
	if (!s->ready_ever) {
		s->ready_ever = true;
		s->boot_armed = false;
		s->tl.ready_ns = stamp(s);
		if (s->o.mode == VIGIL_MODE_RUN)
			workload_begin(s);
	}

	struct vigil_event ev = { .type = VIGIL_EV_READY };

	ev.ready.epoch = s->epoch;
	ev.ready.since_link_ns = s->tl.link_up_ns ? stamp(s) - s->tl.link_up_ns : 0;
	emit(s, &ev);
	return 0;
}

static int on_beat(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_records r;
	struct vigil_beat b;
	uint32_t allowed;
	uint64_t now_rt;

	if (vigil_beats_decode(f->payload, f->hdr.len, &r) < 0)
		return -EBADMSG;
	now_rt = rt_now(s);
	allowed = r.count;
	if (s->o.beat_rate_per_s) {
		/* Refill once per frame; records past the tokens are dropped. */
		uint64_t el = s->now - s->tb_last;
		uint64_t max_el = s->tb_cap / s->o.beat_rate_per_s + 1;

		s->tb_last = s->now;
		if (el > max_el)
			el = max_el;
		s->tb_tokens += el * s->o.beat_rate_per_s;
		if (s->tb_tokens > s->tb_cap)
			s->tb_tokens = s->tb_cap;
		uint64_t have = s->tb_tokens / NSEC_PER_SEC;

		if (have < allowed)
			allowed = (uint32_t)have;
		s->tb_tokens -= (uint64_t)allowed * NSEC_PER_SEC;
		trk_drop(s->trk, TRK_DROP_THROTTLED, r.count - allowed);
	}
	for (uint32_t i = 0; i < allowed; i++) {
		vigil_beat_get(&r, i, &b);
		trk_beat(s->trk, &b, now_rt);
	}
	prog_fit(s);
	return 0;
}

static int on_flow(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_records r;
	struct vigil_flow fl;

	if (vigil_flows_decode(f->payload, f->hdr.len, &r) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < r.count; i++) {
		const struct flow_ent *en;
		int change;

		vigil_flow_get(&r, i, &fl);
		change = flows_record(s->flows, &fl, &en);
		if (change == FLOW_CHANGE_OPENED && s->scen_running &&
		    s->scen_cur != SES_NO_SCENARIO)
			s->scen[s->scen_cur].flows_opened++;
		if (change <= FLOW_CHANGE_NONE)
			continue;
		/* One event per change, at most one per record: the record
		 * with the flow's totals and the change as its event. */
		struct vigil_event ev = { .type = VIGIL_EV_FLOW };

		fl.event = change == FLOW_CHANGE_OPENED ? VIGIL_FLOW_OPENED : VIGIL_FLOW_CLOSED;
		if (en) {
			fl.bytes = en->bytes;
			fl.packets = en->packets;
			fl.pid = en->pid;
		}
		ev.flow.flow = &fl;
		emit(s, &ev);
	}
	return 0;
}

static int on_sched_exit(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_sched_exit se;

	if (vigil_sched_exit_decode(f->payload, f->hdr.len, &se) < 0)
		return -EBADMSG;
	if (s->have_sched_exit)
		return 1;
	s->have_sched_exit = true;
	s->sched_code = se.exit_code;
	s->sched_kind = se.kind;
	copy_str(s, s->sched_reason, sizeof(s->sched_reason), se.reason);
	s->tl.sched_exit_ns = stamp(s);

	struct vigil_event ev = { .type = VIGIL_EV_SCHED_EXIT };

	ev.sched_exit.code = se.exit_code;
	ev.sched_exit.kind = se.kind;
	ev.sched_exit.reason = se.reason;
	emit(s, &ev);

	struct finding_in in = { .oc = VIGIL_OUTCOME_SCHED_EXIT,
				 .status = se.exit_code,
				 .kind = se.kind,
				 .detail = se.reason.ptr,
				 .detail_len = se.reason.len,
				 .fatal = true,
				 .ends = true };

	finding_add(s, &in);
	return 0;
}

static void scenario_event(struct vigil_session *s, enum vigil_scenario_phase ph,
			   struct vigil_str name, uint64_t pause_ns, uint64_t run_ns)
{
	struct vigil_event ev = { .type = VIGIL_EV_SCENARIO };

	ev.scenario.phase = ph;
	ev.scenario.index = s->scen_seen ? s->scen_seen - 1 : 0;
	ev.scenario.name = name;
	ev.scenario.pause_ns = pause_ns;
	ev.scenario.run_ns = run_ns;
	emit(s, &ev);
}

/* End the running scenario at rt now (by END or implicitly). */
static uint64_t scenario_close(struct vigil_session *s, bool by_end)
{
	uint64_t now_rt = rt_now(s);
	uint64_t run;

	if (s->scen_paused) {
		/* Ended while paused: the pause lasts until the end. */
		uint64_t p = now_rt - s->scen_pause_rt;

		s->scen_pause_total += p;
		s->wl_pause_total += p;
		s->scen_paused = false;
		if (s->wl_armed)
			s->wl_deadline_rt += p;
	}
	run = now_rt - s->scen_start_rt - s->scen_pause_total;
	s->wl_used_rt += run;
	if (s->o.mode == VIGIL_MODE_WATCH)
		s->wl_armed = false; /* the budget counts scenario time only */
	s->scen_running = false;
	if (s->scen_cur != SES_NO_SCENARIO) {
		struct vigil_scenario *sc = &s->scen[s->scen_cur];

		sc->end_ns = stamp(s);
		sc->pause_ns = s->scen_pause_total;
		sc->run_ns = run;
		sc->ended = by_end;
	}
	return run;
}

static int on_scenario(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_str name;
	uint16_t type = f->hdr.type;
	uint64_t now_rt;

	if (vigil_scenario_decode(f->payload, f->hdr.len, &name) < 0)
		return -EBADMSG;
	now_rt = rt_now(s);
	if (type == VIGIL_MSG_SCENARIO_START) {
		if (s->scen_running) {
			s->c.scenario_overlap++;
			scenario_close(s, false);
		}
		if (!s->tl.workload_start_ns)
			s->tl.workload_start_ns = stamp(s);
		s->scen_seen++;
		s->scen_running = true;
		s->scen_paused = false;
		s->scen_start_rt = now_rt;
		s->scen_pause_total = 0;
		if (s->n_scen < s->o.max_scenarios) {
			struct vigil_scenario *sc = &s->scen[s->n_scen];

			memset(sc, 0, sizeof(*sc));
			copy_str(s, sc->name, sizeof(sc->name), name);
			sc->start_ns = s->now - s->t0;
			s->scen_cur = s->n_scen++;
		} else {
			s->c.scenarios_dropped++;
			s->scen_cur = SES_NO_SCENARIO;
		}
		if (s->o.mode == VIGIL_MODE_WATCH && s->o.workload_duration_ns && !s->ended) {
			/* The unpaused running time over all scenarios. */
			uint64_t left = s->o.workload_duration_ns > s->wl_used_rt
					    ? s->o.workload_duration_ns - s->wl_used_rt
					    : 0;

			s->wl_armed = true;
			s->wl_deadline_rt = now_rt + left;
		}
		scenario_event(s, VIGIL_SCENARIO_START, name, 0, 0);
		return 0;
	}
	if (!s->scen_running) {
		s->c.scenario_unmatched++;
		return 1;
	}
	if (type == VIGIL_MSG_SCENARIO_PAUSE) {
		if (s->scen_paused) {
			s->c.scenario_double_pause++;
			return 1;
		}
		s->scen_paused = true;
		s->scen_pause_rt = now_rt;
		if (s->scen_cur != SES_NO_SCENARIO)
			s->scen[s->scen_cur].pauses++;
		scenario_event(s, VIGIL_SCENARIO_PAUSE, name, 0, 0);
		return 0;
	}
	if (type == VIGIL_MSG_SCENARIO_RESUME) {
		if (!s->scen_paused) {
			s->c.scenario_unmatched++;
			return 1;
		}
		uint64_t p = now_rt - s->scen_pause_rt;

		s->scen_paused = false;
		s->scen_pause_total += p;
		s->wl_pause_total += p;
		if (s->wl_armed)
			s->wl_deadline_rt += p;
		scenario_event(s, VIGIL_SCENARIO_RESUME, name, p, 0);
		return 0;
	}
	/* END */
	uint64_t run = scenario_close(s, true);

	scenario_event(s, VIGIL_SCENARIO_END, name, s->scen_pause_total, run);
	return 0;
}

static int on_snapshot_request(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_snapshot_request rq;
	int r;

	if (vigil_snapshot_request_decode(f->payload, f->hdr.len, &rq) < 0)
		return -EBADMSG;
	if (s->snap_busy && rq.request_id == s->snap_id) {
		s->c.snapshot_duplicates++;
		return 1;
	}
	for (uint32_t i = 0; i < SES_SNAP_DONE_RING; i++) {
		const struct snap_answer *a = &s->answered[i];

		if (a->id == rq.request_id) {
			/* Answered before: the guest missed the reply. */
			s->c.snapshot_duplicates++;
			send_snapshot_reply(s, a->id, a->status, a->detail, a->detail_len);
			return 1;
		}
	}
	if (rq.kind > VIGIL_SNAP_HOST_COUNTERS || !s->h.snapshot.start) {
		s->c.snapshot_unsupported++;
		snapshot_answer(s, rq.request_id, rq.kind, rq.tag, -EOPNOTSUPP, NULL, 0);
		return 0;
	}
	if (s->snap_busy) {
		s->c.snapshot_busy++;
		snapshot_answer(s, rq.request_id, rq.kind, rq.tag, -EBUSY, NULL, 0);
		return 0;
	}
	s->snap_busy = true;
	s->snap_id = rq.request_id;
	s->snap_kind = rq.kind;
	copy_str(s, s->snap_tag, sizeof(s->snap_tag), rq.tag);
	s->snap_tag_len = (uint16_t)strlen(s->snap_tag);

	struct vigil_event ev = { .type = VIGIL_EV_SNAPSHOT_REQUEST };

	ev.snapshot.request_id = rq.request_id;
	ev.snapshot.kind = rq.kind;
	ev.snapshot.tag = rq.tag;
	emit(s, &ev);
	/* The provider may complete inside start(): snap_busy is already set. */
	r = s->h.snapshot.start(s->h.snapshot.ctx, rq.kind, rq.tag, rq.request_id);
	if (r < 0 && s->snap_busy && s->snap_id == rq.request_id) {
		s->snap_busy = false;
		s->c.snapshot_refused++;
		if (r == -EOPNOTSUPP)
			s->c.snapshot_unsupported++;
		snapshot_answer(s, rq.request_id, rq.kind, rq.tag, r, NULL, 0);
	}
	return 0;
}

/*
 * Output of any CRC state is shown (flagged when torn); only CRC-valid
 * chunks feed the evidence: DMESG/LOG records the kernel ring and the
 * trouble scan, STDOUT/STDERR the workload's output lines.
 */
static int on_output(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_event ev = { .type = VIGIL_EV_OUTPUT };

	ev.output.stream = f->hdr.type;
	ev.output.crc_ok = f->crc_ok;
	ev.output.data = f->payload;
	ev.output.len = f->hdr.len;
	if (f->hdr.type == VIGIL_MSG_DMESG) {
		struct vigil_dmesg d;

		if (vigil_dmesg_decode(f->payload, f->hdr.len, &d) < 0)
			return -EBADMSG;
		ev.output.level = d.level;
		ev.output.kmsg_seq = d.kmsg_seq;
		ev.output.ts_us = d.ts_us;
		ev.output.data = d.text;
		ev.output.len = d.text_len;
	} else if (f->hdr.type == VIGIL_MSG_LOG) {
		struct vigil_log l;

		if (vigil_log_decode(f->payload, f->hdr.len, &l) < 0)
			return -EBADMSG;
		ev.output.level = l.level;
		ev.output.data = l.text;
		ev.output.len = l.text_len;
	}
	s->c.output_bytes += f->hdr.len;
	if (!f->crc_ok)
		s->c.output_torn++;
	emit(s, &ev);
	if (!f->crc_ok)
		return 0;
	if (f->hdr.type == VIGIL_MSG_DMESG || f->hdr.type == VIGIL_MSG_LOG)
		kernel_record(s, f->hdr.type, ev.output.data, ev.output.len);
	else
		output_take(s, f->hdr.type, ev.output.data, ev.output.len);
	return 0;
}

static int on_workload_exit(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_exit x;

	if (vigil_exit_decode(f->payload, f->hdr.len, &x) < 0)
		return -EBADMSG;
	if (s->have_exit) {
		s->c.exits_ignored++;
		return 1;
	}
	s->have_exit = true;
	s->exit_status = x.exit_status;
	s->exit_signal = x.signal;
	s->tl.exit_ns = stamp(s);
	if (s->scen_running)
		scenario_close(s, false);

	struct vigil_event ev = { .type = VIGIL_EV_EXIT };

	ev.exit.status = x.exit_status;
	ev.exit.signal = x.signal;
	emit(s, &ev);
	if (x.exit_status != 0 || x.signal != 0) {
		static const char msg[] = "the workload exited with a failure";
		struct finding_in in = { .oc = VIGIL_OUTCOME_WORKLOAD_FAILED,
					 .status = x.exit_status,
					 .kind = (uint32_t)x.signal,
					 .detail = msg,
					 .detail_len = sizeof(msg) - 1,
					 .fatal = true,
					 .ends = true };

		output_evidence(s, finding_add(s, &in));
	}
	if (s->o.mode == VIGIL_MODE_RUN)
		s->ended = true;
	/* The acknowledgement the agent waits for before powering off: every
	 * byte up to this EXIT has been read (docs/wire.md, SHUTDOWN). */
	vigil_session_request_shutdown(s, s->now);
	return 0;
}

static int on_test_result(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_test_result tr;

	if (vigil_test_result_decode(f->payload, f->hdr.len, &tr) < 0)
		return -EBADMSG;
	if (tr.outcome < 4)
		s->tests_by_outcome[tr.outcome]++;
	if (s->n_tests < s->o.max_tests) {
		struct vigil_test *t = &s->tests[s->n_tests++];

		copy_str(s, t->name, sizeof(t->name), tr.name);
		copy_str(s, t->message, sizeof(t->message), tr.message);
		t->outcome = tr.outcome;
		t->duration_ns = tr.duration_ns;
		t->t_ns = s->now - s->t0;
	} else {
		s->c.tests_dropped++;
	}

	struct vigil_event ev = { .type = VIGIL_EV_TEST_RESULT };

	ev.test.outcome = tr.outcome;
	ev.test.duration_ns = tr.duration_ns;
	ev.test.name = tr.name;
	ev.test.message = tr.message;
	emit(s, &ev);
	if ((tr.outcome == VIGIL_TEST_FAIL || tr.outcome == VIGIL_TEST_ERROR) && !s->test_failed) {
		struct finding_in in = { .oc = VIGIL_OUTCOME_WORKLOAD_FAILED,
					 .detail = tr.name.ptr,
					 .detail_len = tr.name.len,
					 .fatal = true };

		s->test_failed = true;
		/* The first failing test names the finding; the run goes on. */
		output_evidence(s, finding_add(s, &in));
	}
	return 0;
}

static int on_pong(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_pong p;

	if (vigil_pong_decode(f->payload, f->hdr.len, &p) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < SES_PING_RING; i++) {
		struct ping_sent *ps = &s->pings[i];

		if (ps->token == 0 || ps->token != p.token)
			continue;
		uint64_t rtt = s->now - ps->sent_ns;

		ps->token = 0;
		s->c.pongs++;
		s->c.rtt_last_ns = rtt;
		if (!s->c.rtt_min_ns || rtt < s->c.rtt_min_ns)
			s->c.rtt_min_ns = rtt;
		if (rtt > s->c.rtt_max_ns)
			s->c.rtt_max_ns = rtt;

		struct vigil_event ev = { .type = VIGIL_EV_PONG };

		ev.pong.token = p.token;
		ev.pong.rtt_ns = rtt;
		ev.pong.guest_mono_ns = p.guest_mono_ns;
		emit(s, &ev);
		return 0;
	}
	s->c.pong_unmatched++;
	return 1;
}

static int on_agent_stats(struct vigil_session *s, const struct vigil_frame *f)
{
	struct vigil_agent_stats st;

	if (vigil_agent_stats_decode(f->payload, f->hdr.len, &st) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < VIGIL_STAT__KNOWN; i++)
		s->agent_stats[i] = vigil_agent_stats_get(&st, i);

	struct vigil_event ev = { .type = VIGIL_EV_AGENT_STATS };

	ev.agent_stats.stats = st;
	emit(s, &ev);
	return 0;
}

/* The dispatch table: guest-to-host types only; index = type. */
static const struct {
	handler_fn fn;
	bool output; /* delivered even with crc_ok false */
} dispatch[VIGIL_MSG_GUEST_TYPES] = {
	[VIGIL_MSG_HELLO] = { on_hello, false },
	[VIGIL_MSG_SYS_RDY] = { on_sys_rdy, false },
	[VIGIL_MSG_BEAT] = { on_beat, false },
	[VIGIL_MSG_FLOW] = { on_flow, false },
	[VIGIL_MSG_SCHED_EXIT] = { on_sched_exit, false },
	[VIGIL_MSG_SCENARIO_START] = { on_scenario, false },
	[VIGIL_MSG_SCENARIO_PAUSE] = { on_scenario, false },
	[VIGIL_MSG_SCENARIO_RESUME] = { on_scenario, false },
	[VIGIL_MSG_SCENARIO_END] = { on_scenario, false },
	[VIGIL_MSG_SNAPSHOT_REQUEST] = { on_snapshot_request, false },
	[VIGIL_MSG_STDOUT] = { on_output, true },
	[VIGIL_MSG_STDERR] = { on_output, true },
	[VIGIL_MSG_EXIT] = { on_workload_exit, false },
	[VIGIL_MSG_TEST_RESULT] = { on_test_result, false },
	[VIGIL_MSG_DMESG] = { on_output, true },
	[VIGIL_MSG_LOG] = { on_output, true },
	[VIGIL_MSG_PONG] = { on_pong, false },
	[VIGIL_MSG_AGENT_STATS] = { on_agent_stats, false },
};

/* Beat records a rejected BEAT frame carried (at least one). */
static uint32_t beat_records_in(uint32_t len)
{
	uint32_t n = len / VIGIL_WIRE_BEAT_LEN;

	return n ? n : 1;
}

static void dispatch_frame(struct vigil_session *s, const struct vigil_frame *f)
{
	uint16_t type = f->hdr.type;
	int r;

	if (vigil_msg_to_guest(type)) {
		if (vigil_msg_name(type))
			s->c.wrong_direction++;
		else
			s->c.unknown_type++;
		return;
	}
	if (type >= VIGIL_MSG_GUEST_TYPES || !dispatch[type].fn) {
		s->c.unknown_type++;
		return;
	}
	s->c.type[type].frames++;
	if (!f->crc_ok && !dispatch[type].output) {
		s->c.type[type].crc_rejected++;
		if (type == VIGIL_MSG_BEAT)
			trk_drop(s->trk, TRK_DROP_MALFORMED, beat_records_in(f->hdr.len));
		return;
	}
	r = dispatch[type].fn(s, f);
	if (r == -EBADMSG) {
		s->c.type[type].malformed++;
		if (type == VIGIL_MSG_BEAT)
			trk_drop(s->trk, TRK_DROP_MALFORMED, beat_records_in(f->hdr.len));
	} else if (r > 0) {
		s->c.type[type].ignored++;
	}
}

/* ---- public: feed, tick ------------------------------------------------ */

int vigil_session_feed(struct vigil_session *s, const uint8_t *buf, size_t len, uint64_t now_ns)
{
	struct vigil_frame f;
	int n = 0;

	clock_in(s, now_ns);
	if (len == 0)
		return 0;
	if (!s->tl.first_byte_ns) {
		s->tl.first_byte_ns = stamp(s);
		emit_simple(s, VIGIL_EV_FIRST_BYTE);
	}
	vigil_asm_push(s->as, buf, len);
	while (vigil_asm_next(s->as, &f) > 0) {
		dispatch_frame(s, &f);
		if (n < INT32_MAX)
			n++;
	}
	return n;
}

/* One ANOMALY event per reported counter that moved since the last report. */
static void anomalies_report(struct vigil_session *s)
{
	struct vigil_session_counters c;

	vigil_session_counters(s, &c);
	for (uint32_t a = 0; a < CTR_ANOMALIES; a++) {
		const struct ctr_anomaly *an = &ctr_anomalies[a];
		uint64_t v = vigil_counter_value(&c, &ctr_descs[an->id]);

		if (v == s->anom_last[a])
			continue;
		struct vigil_event ev = { .type = VIGIL_EV_ANOMALY };

		ev.anomaly.counter = ctr_anomaly_name(an);
		ev.anomaly.delta = v - s->anom_last[a];
		ev.anomaly.total = v;
		s->anom_last[a] = v;
		emit(s, &ev);
	}
}

static void send_ping(struct vigil_session *s)
{
	uint64_t token = ++s->ping_token;
	struct ping_sent *slot = &s->pings[token % SES_PING_RING];

	if (tx_send(s, VIGIL_MSG_PING,
		    vigil_ping_encode(s->tx + VIGIL_WIRE_HDR_LEN,
				      sizeof(s->tx) - VIGIL_WIRE_HDR_LEN, token)) < 0)
		return;
	s->c.pings++;
	slot->token = token;
	slot->sent_ns = s->now;
}

static bool pings_on(const struct vigil_session *s)
{
	return s->o.ping_interval_ns && s->link_up && !s->vm_stopped && s->guest.have_hello &&
	       !s->finished;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t vigil_session_next_deadline(const struct vigil_session *s)
{
	uint64_t d = rt_to_host(s, trk_next(s->trk));

	if (s->finished)
		return d;
	if (s->boot_armed)
		d = min_u64(d, rt_to_host(s, s->boot_rt));
	if (s->wl_armed && !s->scen_paused)
		d = min_u64(d, rt_to_host(s, s->wl_deadline_rt));
	if (s->link_grace)
		d = min_u64(d, rt_to_host(s, s->link_lost_rt));
	if (s->run_armed)
		d = min_u64(d, s->run_deadline);
	if (pings_on(s))
		d = min_u64(d, s->ping_next);
	if (s->h.progress.sample && !s->vm_stopped)
		d = min_u64(d, s->prog_next);
	return d;
}

/* The timeouts on runnable time: boot, workload watchdog, link grace. */
static void runnable_timeouts(struct vigil_session *s, uint64_t now_rt)
{
	uint32_t id;

	if (s->boot_armed && now_rt >= s->boot_rt) {
		s->boot_armed = false;
		if (!s->ended) {
			id = finding_text(s, VIGIL_OUTCOME_BOOT_TIMEOUT,
					  "no SYS_RDY within the boot timeout", true);
			boot_evidence(s, id);
		}
	}
	if (s->wl_armed && !s->scen_paused && now_rt >= s->wl_deadline_rt) {
		s->wl_armed = false;
		if (!s->ended) {
			id = finding_text(s, VIGIL_OUTCOME_WATCHDOG_TIMEOUT,
					  "the workload ran past its duration", true);
			output_evidence(s, id);
		}
	}
	if (s->link_grace && now_rt >= s->link_lost_rt) {
		s->link_grace = false;
		if (!s->ended)
			finding_text(s, VIGIL_OUTCOME_LINK_LOST,
				     "the guest link closed and did not come back", true);
	}
}

uint64_t vigil_session_tick(struct vigil_session *s, uint64_t now_ns)
{
	uint64_t now_rt;

	clock_in(s, now_ns);
	if (s->last_next != VIGIL_DEADLINE_NONE && s->now > s->last_next &&
	    s->now - s->last_next > s->o.clock_jump_ns)
		s->c.clock_forward_jumps++;
	now_rt = rt_now(s);

	if (s->h.progress.sample && !s->vm_stopped && s->now >= s->prog_next) {
		prog_sample(s);
		s->prog_next = s->now + s->prog_period;
	}
	if (!s->vm_stopped)
		trk_expire(s->trk, now_rt);
	if (!s->finished && !s->vm_stopped)
		runnable_timeouts(s, now_rt);
	if (s->run_armed && s->now >= s->run_deadline && !s->finished) {
		s->run_armed = false;
		if (!s->ended)
			finding_text(s, VIGIL_OUTCOME_RUN_TIMEOUT, "the run ran past its timeout",
				     true);
	}
	if (s->ended) {
		/* Nothing more can end the run. */
		s->boot_armed = s->wl_armed = s->link_grace = s->run_armed = false;
	}
	if (pings_on(s) && s->now >= s->ping_next) {
		send_ping(s);
		s->ping_next = s->now + s->o.ping_interval_ns;
	}
	if (s->now >= s->anom_next) {
		anomalies_report(s);
		s->anom_next = s->now + s->o.anomaly_interval_ns;
	}
	s->last_next = vigil_session_next_deadline(s);
	return s->last_next;
}

/* ---- public: runner notifications -------------------------------------- */

int vigil_session_vm_stopped(struct vigil_session *s, uint64_t now_ns)
{
	clock_in(s, now_ns);
	if (s->vm_stopped)
		return 0;
	s->vm_stopped = true;
	s->stopped_at = s->now;
	s->c.vm_stops++;

	struct vigil_event ev = { .type = VIGIL_EV_VM_STOPPED };

	ev.vm.total_stopped_ns = s->stopped_total;
	emit(s, &ev);
	return 1;
}

int vigil_session_vm_resumed(struct vigil_session *s, uint64_t now_ns)
{
	uint64_t d;

	clock_in(s, now_ns);
	if (!s->vm_stopped)
		return 0;
	d = s->now - s->stopped_at;
	s->vm_stopped = false;
	s->stopped_total += d;
	s->c.vm_stopped_ns += d;
	/* Pings and samples taken across the stop would mislead. */
	memset(s->pings, 0, sizeof(s->pings));
	s->prog_n = 0;

	struct vigil_event ev = { .type = VIGIL_EV_VM_RESUMED };

	ev.vm.stopped_ns = d;
	ev.vm.total_stopped_ns = s->stopped_total;
	emit(s, &ev);
	return 1;
}

void vigil_session_link_up(struct vigil_session *s, uint64_t now_ns)
{
	clock_in(s, now_ns);
	s->link_up = true;
	s->link_grace = false;
	s->c.link_ups++;
	if (!s->tl.link_up_ns)
		s->tl.link_up_ns = stamp(s);
	s->ping_next = s->now;
	emit_simple(s, VIGIL_EV_LINK_UP);
}

void vigil_session_link_down(struct vigil_session *s, uint64_t now_ns)
{
	clock_in(s, now_ns);
	vigil_asm_reset(s->as);
	s->link_up = false;
	s->c.link_downs++;
	if (!s->ended && !s->finished && s->o.link_grace_ns) {
		s->link_grace = true;
		s->link_lost_rt = rt_now(s) + s->o.link_grace_ns;
	}
	emit_simple(s, VIGIL_EV_LINK_DOWN);
}

/* Is line b the message of finding detail a (timestamps aside; a detail
 * cut at VIGIL_DETAIL_MAX - 1 bytes matches the start of b)? */
static bool same_message(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n1, n2, o1 = kt_strip(a, an, &n1), o2 = kt_strip(b, bn, &n2);

	if (an == VIGIL_DETAIL_MAX - 1 && n2 > n1)
		n2 = n1;
	return n1 == n2 && memcmp(a + o1, b + o2, n1) == 0;
}

void vigil_session_guest_crashed(struct vigil_session *s, uint64_t now_ns, const char *evidence)
{
	static const char msg[] = "the guest kernel crashed";
	size_t len = evidence ? strlen(evidence) : 0;
	struct vigil_finding *f;
	uint32_t id;

	clock_in(s, now_ns);
	if (s->finished)
		return;
	f = fnd_get(&s->fnd, s->crash_id);
	if (f) {
		/* One crash per run: this reports the one found (e.g. pvpanic
		 * after the panic line); a new line is its evidence. */
		if (evidence && !same_message(f->detail, strlen(f->detail), evidence, len))
			line_to(s, s->crash_id, VIGIL_SOURCE_CONSOLE, evidence, len);
		s->ended = true;
		return;
	}
	id = finding_text(s, VIGIL_OUTCOME_GUEST_CRASH, evidence ? evidence : msg, true);
	if (!id)
		return;
	s->crash_id = id;
	ktr_crashed(&s->ktr, id);
	if (!s->ready_ever)
		boot_evidence(s, id);
	if (evidence)
		line_to(s, id, VIGIL_SOURCE_CONSOLE, evidence, len);
}

void vigil_session_console_line(struct vigil_session *s, uint64_t now_ns, const char *line,
				size_t len)
{
	clock_in(s, now_ns);
	if (!line)
		return;
	s->c.evidence_lines++;
	if (!s->finished)
		kernel_line(s, KTR_CONSOLE, VIGIL_SOURCE_CONSOLE, line, len);
	ring_put(s, &s->con_ring, VIGIL_SOURCE_CONSOLE, line, len);
}

/* The last SES_VMM_LINES non-empty lines of text (a CR before the LF
 * dropped), oldest first, into out; returns how many. */
static uint32_t last_lines(const char *t, size_t len, struct vigil_str out[SES_VMM_LINES])
{
	const char *end = t + len;
	uint32_t n = 0;

	while (end > t && n < SES_VMM_LINES) {
		const char *nl = memrchr(t, '\n', (size_t)(end - t));
		const char *start = nl ? nl + 1 : t;
		size_t l = (size_t)(end - start);

		if (l && start[l - 1] == '\r')
			l--;
		if (l)
			out[SES_VMM_LINES - 1 - n++] =
			    (struct vigil_str){ start,
						(uint16_t)(l < UINT16_MAX ? l : UINT16_MAX) };
		end = nl ? nl : t;
	}
	memmove(out, out + SES_VMM_LINES - n, n * sizeof(*out));
	return n;
}

void vigil_session_vmm_exited(struct vigil_session *s, uint64_t now_ns, int status, int sig,
			      const char *detail)
{
	static const char msg[] = "the VMM exited";
	struct vigil_str lines[SES_VMM_LINES];
	uint32_t n = detail ? last_lines(detail, strnlen(detail, 65536), lines) : 0;
	struct finding_in in = { .oc = VIGIL_OUTCOME_QEMU_EXITED,
				 .status = status,
				 .kind = (uint32_t)sig,
				 .detail = n ? lines[n - 1].ptr : msg, /* its last line */
				 .detail_len = n ? lines[n - 1].len : sizeof(msg) - 1,
				 .fatal = true,
				 .ends = true };
	uint32_t id;

	clock_in(s, now_ns);
	if (s->ended || s->finished)
		return; /* e.g. powered off after the workload's EXIT */
	id = finding_add(s, &in);
	for (uint32_t i = 0; id && i < n; i++)
		line_to(s, id, VIGIL_SOURCE_VMM, lines[i].ptr, lines[i].len);
}

void vigil_session_harness_error(struct vigil_session *s, uint64_t now_ns, const char *msg)
{
	clock_in(s, now_ns);
	finding_text(s, VIGIL_OUTCOME_HARNESS_ERROR, msg, true);
}

int vigil_session_snapshot_done(struct vigil_session *s, uint32_t request_id, int status,
				const char *detail, uint64_t now_ns)
{
	clock_in(s, now_ns);
	if (!s->snap_busy || s->snap_id != request_id)
		return -ENOENT;
	s->snap_busy = false;
	if (status > 0)
		status = 0;
	snapshot_answer(s, request_id, s->snap_kind,
			(struct vigil_str){ s->snap_tag, s->snap_tag_len }, status, detail,
			detail ? strlen(detail) : 0);
	return 0;
}

int vigil_session_request_shutdown(struct vigil_session *s, uint64_t now_ns)
{
	clock_in(s, now_ns);
	return tx_send(
	    s, VIGIL_MSG_SHUTDOWN,
	    vigil_shutdown_encode(s->tx + VIGIL_WIRE_HDR_LEN, sizeof(s->tx) - VIGIL_WIRE_HDR_LEN));
}

int vigil_session_ended(const struct vigil_session *s)
{
	return s->ended || s->finished;
}

/* ---- counters and verdict ---------------------------------------------- */

void vigil_session_counters(const struct vigil_session *s, struct vigil_session_counters *out)
{
	*out = s->c;
	out->findings_dropped = s->fnd.dropped;
	out->evidence_dropped = s->fnd.lines_dropped;
	out->stream = *vigil_asm_stats(s->as);
	out->tracker = *trk_counters(s->trk);
	out->flows = s->flows->st;
}

const struct vigil_verdict *vigil_session_finish(struct vigil_session *s, uint64_t now_ns)
{
	struct vigil_verdict *v = &s->v;

	if (s->finished)
		return v;
	clock_in(s, now_ns);
	if (s->vm_stopped)
		vigil_session_vm_resumed(s, s->now);
	if (s->scen_running)
		scenario_close(s, false);
	if (s->o.mode == VIGIL_MODE_RUN && !s->have_exit && !s->ended) {
		if (!s->ready_ever)
			boot_evidence(s, finding_text(s, VIGIL_OUTCOME_BOOT_TIMEOUT,
						      "the run ended before the guest was ready",
						      true));
		else
			output_evidence(
			    s, finding_text(s, VIGIL_OUTCOME_LINK_LOST,
					    "the run ended before the workload reported its exit",
					    true));
	}
	s->finished = true;
	s->ended = true;
	s->tl.end_ns = s->now - s->t0;

	fnd_group(&s->fnd);
	memset(v, 0, sizeof(*v));
	v->primary = vigil__primary_finding(s->fnd.f, s->fnd.n);
	v->outcome = v->primary ? v->primary->outcome : VIGIL_OUTCOME_PASS;
	v->findings = s->fnd.f;
	v->n_findings = s->fnd.n;
	v->timeline = s->tl;
	v->guest = s->guest;
	v->have_exit = s->have_exit;
	v->exit_status = s->exit_status;
	v->exit_signal = s->exit_signal;
	v->have_sched_exit = s->have_sched_exit;
	v->sched_exit_code = s->sched_code;
	v->sched_exit_kind = s->sched_kind;
	memcpy(v->sched_exit_reason, s->sched_reason, sizeof(v->sched_exit_reason));
	v->scenarios = s->scen;
	v->n_scenarios = s->n_scen;
	v->tests = s->tests;
	v->n_tests = s->n_tests;
	memcpy(v->tests_by_outcome, s->tests_by_outcome, sizeof(v->tests_by_outcome));
	v->workload_run_ns = s->wl_used_rt;
	v->workload_pause_ns = s->wl_pause_total;
	v->evidence = s->fnd.pool;
	v->n_evidence = s->fnd.used;
	vigil_session_counters(s, &v->counters);

	struct vigil_event ev = { .type = VIGIL_EV_RUN_END, .run_end.verdict = v };

	emit(s, &ev);
	return v;
}

struct foreach_ctx {
	uint64_t now_rt;
	int (*fn)(void *ctx, const struct vigil_process_info *p);
	void *ctx;
};

static int foreach_one(void *ctx, const struct trk_slot *sl)
{
	const struct foreach_ctx *fc = ctx;
	struct vigil_process_info p = {
		.pid = sl->pid,
		.origin = sl->origin,
		.status = sl->status,
		.app_payload = sl->app_payload,
		.pidns_inode = sl->pidns,
		.beats = sl->beats,
		.last_nonce = sl->last_nonce,
		.deadline_ns = sl->dl_ns,
		.silence_ns = fc->now_rt > sl->last_ns ? fc->now_rt - sl->last_ns : 0,
		.stalled = sl->stalled,
	};

	return fc->fn(fc->ctx, &p);
}

int vigil_session_foreach_process(const struct vigil_session *s, uint64_t now_ns,
				  int (*fn)(void *ctx, const struct vigil_process_info *p),
				  void *ctx)
{
	struct foreach_ctx fc = { .fn = fn, .ctx = ctx };

	if (now_ns < s->now)
		now_ns = s->now;
	fc.now_rt = s->vm_stopped ? s->stopped_at - s->stopped_total : now_ns - s->stopped_total;
	return trk_foreach(s->trk, foreach_one, &fc);
}

/* ---- life cycle -------------------------------------------------------- */

void vigil_session_opts_default(struct vigil_session_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->mode = VIGIL_MODE_RUN;
	o->tracker_capacity = 256;
	o->probe_budget = 32;
	o->eviction = VIGIL_EVICT_BALANCED;
	o->eviction_window = 32;
	o->stall_threshold_ns = 5 * NSEC_PER_SEC;
	o->deadline_min_ns = 50 * 1000000ull;
	o->deadline_max_ns = 600 * NSEC_PER_SEC;
	o->pid_min_interval_ns = 0;
	o->beat_rate_per_s = 1000000;
	o->beat_burst = 100000;
	o->on_stall = VIGIL_ON_STALL_WARN;
	o->link_grace_ns = 10 * NSEC_PER_SEC;
	o->ping_interval_ns = NSEC_PER_SEC;
	o->progress_interval_ns = 250 * 1000000ull;
	o->starved_permille = 2;
	o->flow_capacity = 4096;
	o->max_scenarios = 64;
	o->max_tests = 1024;
	o->evidence_lines = 16;
	o->anomaly_interval_ns = NSEC_PER_SEC;
	o->clock_jump_ns = NSEC_PER_SEC;
}

static int opts_check(const struct vigil_session_opts *o)
{
	if (o->mode != VIGIL_MODE_RUN && o->mode != VIGIL_MODE_WATCH)
		return -EINVAL;
	if (o->on_stall != VIGIL_ON_STALL_WARN && o->on_stall != VIGIL_ON_STALL_FAIL)
		return -EINVAL;
	if (o->deadline_max_ns > 24 * 3600 * NSEC_PER_SEC ||
	    o->stall_threshold_ns > 24 * 3600 * NSEC_PER_SEC)
		return -EINVAL; /* keeps 10 x threshold and deadline sums far from overflow */
	if (o->progress_interval_ns == 0 || o->max_scenarios > 65536 || o->max_tests > 1u << 20 ||
	    o->evidence_lines > 4096 || o->starved_permille > 1000)
		return -EINVAL;
	if (o->beat_rate_per_s && o->beat_burst == 0)
		return -EINVAL;
	if (o->fail_on & ~(((1u << VIGIL_KT__COUNT) - 1) & ~1u))
		return -EINVAL; /* an unknown kind, or VIGIL_KT_NONE */
	return 0;
}

static int ring_new(struct ring *r, uint32_t cap, bool hashed)
{
	r->cap = cap;
	r->e = calloc(cap ? cap : 1, sizeof(*r->e));
	r->hash = hashed ? calloc(cap ? cap : 1, sizeof(*r->hash)) : NULL;
	return !r->e || (hashed && !r->hash) ? -ENOMEM : 0;
}

static void ring_free(struct ring *r)
{
	free(r->e);
	free(r->hash);
}

/*
 * The line rings and the evidence pool. The pool holds one copy of the
 * boot lines, three of the workload's output (a failed test, EXIT or the
 * watchdog, LINK_LOST at finish), eight kernel reports, the VMM's lines and
 * a few crash lines; non-fatal findings may fill at most four reports' worth.
 */
static int evidence_new(struct vigil_session *s)
{
	uint32_t cap = s->o.evidence_lines + 3 * (SES_OUTPUT_LINES + 2) + 8 * KTR_SPLAT_LINES +
		       SES_VMM_LINES + 8;

	if (ring_new(&s->con_ring, s->o.evidence_lines, true) < 0 ||
	    ring_new(&s->kern_ring, s->o.evidence_lines, true) < 0 ||
	    ring_new(&s->out_ring, SES_OUTPUT_LINES, false) < 0)
		return -ENOMEM;
	return fnd_init(&s->fnd, cap, 4 * KTR_SPLAT_LINES);
}

int vigil_session_new(const struct vigil_session_opts *opts,
		      const struct vigil_session_hooks *hooks, uint64_t now_ns,
		      struct vigil_session **out)
{
	struct vigil_session_opts o;
	struct vigil_session *s;
	int r;

	vigil_session_opts_default(&o);
	if (opts) {
		/* Take what the caller's version of the struct has. */
		size_t n = opts->sz < sizeof(o) ? opts->sz : sizeof(o);

		if (n < sizeof(size_t))
			return -EINVAL;
		memcpy(&o, opts, n);
		o.sz = sizeof(o);
	}
	r = opts_check(&o);
	if (r < 0)
		return r;

	struct trk_opts to = {
		.capacity = o.tracker_capacity,
		.probe_budget = o.probe_budget,
		.eviction = o.eviction,
		.eviction_window = o.eviction_window,
		.threshold_ns = o.stall_threshold_ns,
		.dl_min_ns = o.deadline_min_ns,
		.dl_max_ns = o.deadline_max_ns,
		.min_interval_ns = o.pid_min_interval_ns,
	};

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = o;
	if (hooks)
		s->h = *hooks;
	r = trk_new(&to, trk_event, s, &s->trk);
	if (r == 0)
		r = flows_new(o.flow_capacity, &s->flows);
	if (r < 0) {
		vigil_session_free(s);
		return r;
	}
	s->as = malloc(sizeof(*s->as));
	s->scen = calloc(o.max_scenarios ? o.max_scenarios : 1, sizeof(*s->scen));
	s->tests = calloc(o.max_tests ? o.max_tests : 1, sizeof(*s->tests));
	r = evidence_new(s);
	if (!s->as || !s->scen || !s->tests || r < 0) {
		vigil_session_free(s);
		return -ENOMEM;
	}
	ktr_init(&s->ktr, o.fail_on);
	vigil_asm_init(s->as);
	s->t0 = s->now = now_ns;
	s->last_next = VIGIL_DEADLINE_NONE;
	s->scen_cur = SES_NO_SCENARIO;
	s->tb_cap = (uint64_t)o.beat_burst * NSEC_PER_SEC;
	s->tb_tokens = s->tb_cap;
	s->tb_last = now_ns;
	s->prog_next = now_ns;
	s->prog_period = s->o.progress_interval_ns;
	s->anom_next = now_ns + o.anomaly_interval_ns;
	if (o.boot_timeout_ns && o.mode == VIGIL_MODE_RUN) {
		s->boot_armed = true;
		s->boot_rt = now_ns + o.boot_timeout_ns; /* rt starts equal to host time */
	}
	if (o.run_timeout_ns) {
		s->run_armed = true;
		s->run_deadline = now_ns + o.run_timeout_ns;
	}
	*out = s;
	return 0;
}

void vigil_session_free(struct vigil_session *s)
{
	if (!s)
		return;
	trk_free(s->trk);
	flows_free(s->flows);
	free(s->as);
	free(s->scen);
	free(s->tests);
	ring_free(&s->con_ring);
	ring_free(&s->kern_ring);
	ring_free(&s->out_ring);
	fnd_fini(&s->fnd);
	free(s);
}
