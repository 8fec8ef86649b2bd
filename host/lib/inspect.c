/* SPDX-License-Identifier: MIT */
/*
 * Process inspection, host side (see inspect.h for the rules, bounds and
 * load). Runnable time drives every deadline here: a stopped VM cannot
 * answer, and its stop says nothing about the agent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "inspect.h"
#include "session.h"

/* ---- the pool of stall infos ------------------------------------------- */

struct vigil_stall_info *isp_info_new(struct vigil_session *s)
{
	struct isp *p = &s->isp;

	if (!p->infos)
		p->infos = calloc(ISP_INFOS, sizeof(*p->infos));
	if (!p->infos || p->n_infos == ISP_INFOS) {
		s->c.inspect.infos_dropped++;
		return NULL;
	}
	return &p->infos[p->n_infos++];
}

void isp_fini(struct vigil_session *s)
{
	free(s->isp.infos);
	s->isp.infos = NULL;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The earliest deadline, recomputed after every change (isp.due): a tick
 * with nothing due touches nothing. */
static void due_update(struct isp *p)
{
	uint64_t d = p->end_armed ? p->end_rt : VIGIL_DEADLINE_NONE;

	for (uint32_t i = 0; i < ISP_MAX_REQ; i++)
		if (p->req[i].id)
			d = min_u64(d, p->req[i].sent_rt + ISP_TIMEOUT_NS);
	for (uint32_t j = 0; j < ISP_MAX_JOBS; j++) {
		const struct isp_job *jb = &p->job[j];

		if (jb->st == ISP_GAP)
			d = min_u64(d, jb->next_rt);
		else if (jb->st != ISP_IDLE)
			d = min_u64(d, jb->sent_rt + ISP_ANSWER_NS);
	}
	p->due = d;
}

/* ---- requests ----------------------------------------------------------- */

static struct isp_req *req_find(struct isp *p, uint32_t id)
{
	for (uint32_t i = 0; i < ISP_MAX_REQ; i++)
		if (id && p->req[i].id == id)
			return &p->req[i];
	return NULL;
}

/* A fresh id: not 0, not in flight. */
static uint32_t req_id(struct isp *p)
{
	for (;;) {
		uint32_t id = p->next_id++;

		if (id && !req_find(p, id))
			return id;
	}
}

/* Send INSPECT for job j; its request id, or 0 when no slot or the writer
 * refused (counted). */
static uint32_t req_send(struct vigil_session *s, uint32_t j)
{
	struct isp *p = &s->isp;
	struct isp_req *slot = NULL;

	for (uint32_t i = 0; i < ISP_MAX_REQ && !slot; i++)
		if (!p->req[i].id)
			slot = &p->req[i];
	if (!slot) {
		s->c.inspect.refused++;
		return 0;
	}
	struct vigil_inspect in = { .request_id = req_id(p), .pid = p->job[j].pid };

	if (ses_tx_send(s, VIGIL_MSG_INSPECT,
			vigil_inspect_encode(s->tx + VIGIL_WIRE_HDR_LEN,
					     sizeof(s->tx) - VIGIL_WIRE_HDR_LEN, &in)) < 0)
		return 0;
	s->c.inspect.sent++;
	*slot = (struct isp_req){
		.id = in.request_id, .pid = in.pid, .job = j + 1, .sent_rt = ses_rt_now(s)
	};
	return in.request_id;
}

/* Two INSPECTs fit the rate window (host time); reserve them. */
static bool rate_take(struct vigil_session *s)
{
	struct isp *p = &s->isp;

	if (s->now - p->win_start >= NSEC_PER_SEC) {
		p->win_start = s->now;
		p->win_n = 0;
	}
	if (p->win_n + 2 > s->o.inspect_rate_per_s)
		return false;
	p->win_n += 2;
	return true;
}

/* ---- jobs --------------------------------------------------------------- */

/* The run waits for this class under on_stall fail: it may end now. */
static void fail_release(struct vigil_session *s)
{
	if (s->isp.end_armed) {
		s->isp.end_armed = false;
		s->ended = true;
	}
}

/* Job j ends with class cls: the finding and the event say it. */
static void job_finish(struct vigil_session *s, uint32_t j, enum vigil_stall_class cls)
{
	struct isp_job *jb = &s->isp.job[j];
	struct vigil_stall_info *info = jb->info;

	info->cls = cls;
	if (info->n_samples == 2)
		info->sampled_ns = ses_rt_now(s) - jb->first_rt;
	if (cls != VIGIL_STALL_UNCLASSIFIED) {
		s->c.inspect.classified++;
		ses_stall_classified(s, jb->finding, info);
	}
	*jb = (struct isp_job){ 0 };
	fail_release(s);
}

static bool job_start(struct vigil_session *s, uint32_t pid, uint32_t finding, uint64_t silence)
{
	struct isp *p = &s->isp;
	uint32_t j = ISP_MAX_JOBS;

	if (!(s->guest.capabilities & VIGIL_CAP_INSPECT) || !s->link_up || s->finished ||
	    !s->o.inspect_rate_per_s)
		return false;
	for (uint32_t i = 0; i < ISP_MAX_JOBS && j == ISP_MAX_JOBS; i++)
		if (p->job[i].st == ISP_IDLE)
			j = i;
	if (j == ISP_MAX_JOBS || !rate_take(s)) {
		s->c.inspect.refused++;
		return false;
	}
	p->job[j] = (struct isp_job){ .pid = pid, .finding = finding, .silence = silence };
	p->job[j].info = isp_info_new(s);
	if (!p->job[j].info) {
		p->job[j] = (struct isp_job){ 0 };
		return false;
	}
	p->job[j].req = req_send(s, j);
	if (!p->job[j].req) {
		p->n_infos--; /* the last one taken: back to the pool, unused */
		p->job[j] = (struct isp_job){ 0 };
		return false;
	}
	p->job[j].info->pid = pid;
	p->job[j].info->silence_ns = silence;
	p->job[j].st = ISP_WAIT_FIRST;
	p->job[j].sent_rt = ses_rt_now(s);
	if (s->o.on_stall == VIGIL_ON_STALL_FAIL && !s->ended && !p->end_armed) {
		p->end_armed = true;
		p->end_rt = ses_rt_now(s) + ISP_FAIL_WAIT_NS;
	}
	return true;
}

bool isp_start(struct vigil_session *s, uint32_t pid, uint32_t finding, uint64_t silence)
{
	bool r = job_start(s, pid, finding, silence);

	due_update(&s->isp);
	return r;
}

/* A sample for job j: the first waits for the second; the second (or a
 * first that already decides: gone, an error) classifies. */
static void job_sample(struct vigil_session *s, uint32_t j, const struct vigil_process_report *r)
{
	struct isp_job *jb = &s->isp.job[j];
	struct vigil_stall_info *in = jb->info;

	if (cls_sample_from(&in->sample[in->n_samples++], r, s->now - s->t0))
		s->c.strings_truncated++;
	if (jb->st == ISP_WAIT_FIRST && r->status == 0 && r->state != 'Z' && r->state != 'X') {
		jb->st = ISP_GAP;
		jb->first_rt = ses_rt_now(s);
		jb->next_rt = jb->first_rt + CLS_GAP_NS;
		jb->req = 0;
		return;
	}
	job_finish(s, j,
		   cls_classify(&in->sample[0], in->n_samples == 2 ? &in->sample[1] : NULL,
				ses_rt_now(s) - jb->first_rt));
}

int isp_report(struct vigil_session *s, const struct vigil_process_report *r)
{
	struct isp_req *rq = req_find(&s->isp, r->request_id);
	uint32_t j;

	if (!rq || rq->pid != r->pid)
		return 1; /* unmatched: counted as the type's ignored */
	j = rq->job;
	*rq = (struct isp_req){ 0 };
	s->c.inspect.reports++;
	if (r->status == -EBUSY)
		s->c.inspect.busy++;
	if (j && s->isp.job[j - 1].req == r->request_id)
		job_sample(s, j - 1, r);
	due_update(&s->isp);
	return 0;
}

/* Job j's second INSPECT is due: sent, or (no slot, no writer) the first
 * sample alone decides. */
static void job_second(struct vigil_session *s, uint32_t j)
{
	struct isp_job *jb = &s->isp.job[j];

	jb->req = req_send(s, j);
	if (!jb->req) {
		job_finish(s, j, cls_classify(&jb->info->sample[0], NULL, 0));
		return;
	}
	jb->st = ISP_WAIT_SECOND;
	jb->sent_rt = ses_rt_now(s);
}

/* Job j's answer is overdue: the agent did not run (a guest stall) unless
 * something came from the guest since the INSPECT went out. */
static void job_overdue(struct vigil_session *s, uint32_t j)
{
	if (s->gst.heard_rt > s->isp.job[j].sent_rt) {
		job_finish(s, j, VIGIL_STALL_UNKNOWN);
		return;
	}
	gst_open(s, VIGIL_GSTALL_NO_ANSWER, s->gst.heard_rt);
}

void isp_tick(struct vigil_session *s, uint64_t now_rt)
{
	struct isp *p = &s->isp;

	if (now_rt < p->due)
		return; /* nothing is due: the common tick */
	for (uint32_t i = 0; i < ISP_MAX_REQ; i++) {
		if (p->req[i].id && now_rt >= p->req[i].sent_rt + ISP_TIMEOUT_NS) {
			p->req[i] = (struct isp_req){ 0 };
			s->c.inspect.timeouts++;
		}
	}
	for (uint32_t j = 0; j < ISP_MAX_JOBS; j++) {
		const struct isp_job *jb = &p->job[j];

		if (jb->st == ISP_GAP && now_rt >= jb->next_rt)
			job_second(s, j);
		else if ((jb->st == ISP_WAIT_FIRST || jb->st == ISP_WAIT_SECOND) &&
			 now_rt >= jb->sent_rt + ISP_ANSWER_NS)
			job_overdue(s, j);
	}
	if (p->end_armed && now_rt >= p->end_rt)
		fail_release(s);
	due_update(p);
}

uint64_t isp_deadline(const struct vigil_session *s)
{
	return s->isp.due;
}

void isp_cancel_all(struct vigil_session *s)
{
	struct isp *p = &s->isp;

	for (uint32_t i = 0; i < ISP_MAX_REQ; i++) {
		if (p->req[i].id)
			s->c.inspect.cancelled++;
		p->req[i] = (struct isp_req){ 0 };
	}
	for (uint32_t j = 0; j < ISP_MAX_JOBS; j++)
		if (p->job[j].st != ISP_IDLE)
			job_finish(s, j, VIGIL_STALL_UNCLASSIFIED);
	due_update(p);
}

void isp_recovered(struct vigil_session *s, uint32_t pid)
{
	struct isp *p = &s->isp;

	for (uint32_t j = 0; j < ISP_MAX_JOBS; j++) {
		if (p->job[j].st == ISP_IDLE || p->job[j].pid != pid)
			continue;
		/* its request, if any, stays in flight and ends unmatched to a job */
		p->job[j] = (struct isp_job){ 0 };
		fail_release(s);
	}
	due_update(p);
}

void isp_fold_all(struct vigil_session *s, void (*fold)(void *ctx, uint32_t pid, uint32_t finding),
		  void *ctx)
{
	struct isp *p = &s->isp;

	for (uint32_t j = 0; j < ISP_MAX_JOBS; j++) {
		if (p->job[j].st == ISP_IDLE)
			continue;
		fold(ctx, p->job[j].pid, p->job[j].finding);
		p->job[j] = (struct isp_job){ 0 };
	}
	p->end_armed = false; /* the guest stall decides the end now */
	due_update(p);
}

void isp_init(struct vigil_session *s)
{
	s->isp.due = VIGIL_DEADLINE_NONE;
}
