/* SPDX-License-Identifier: MIT */
/* Guest stalls: one finding when the agent itself stops running (see gstall.h). */
#include <string.h>

#include "gstall.h"
#include "session.h"

void gst_heard(struct vigil_session *s)
{
	struct gst *g = &s->gst;
	uint64_t now_rt = ses_rt_now(s);

	g->heard_rt = now_rt;
	g->ping_rt = 0;
	if (!g->open)
		return;
	g->open = false;
	struct vigil_finding *f = fnd_get(&s->fnd, g->finding);

	if (f && !f->recovered_ns && !s->finished) {
		f->recovered_ns = ses_stamp(s);
		f->recovery_silence_ns = now_rt - g->since_rt;
	}
}

void gst_ping_sent(struct vigil_session *s)
{
	if (!s->gst.ping_rt)
		s->gst.ping_rt = ses_rt_now(s);
}

void gst_hello(struct vigil_session *s, uint32_t agent_pid)
{
	s->gst.agent_pid = agent_pid;
	trk_set_agent(s->trk, agent_pid);
}

bool gst_is_agent(const struct vigil_session *s, uint32_t pid)
{
	return s->gst.agent_pid && pid == s->gst.agent_pid;
}

static void fold_pid(struct vigil_session *s, uint32_t pid)
{
	struct vigil_stall_info *in = s->gst.info;

	s->c.inspect.folded++;
	if (!in)
		return;
	if (in->folded < VIGIL_FOLDED_MAX)
		in->folded_pids[in->folded] = pid;
	in->folded++;
}

/* A stall being classified when the guest stall came: folded in (its
 * finding, if kept, goes with the walk over the findings). */
static void fold_job(void *ctx, uint32_t pid, uint32_t finding)
{
	if (!finding)
		fold_pid(ctx, pid);
}

/* The process stalls that say no more than "silent" (unclassified, not
 * recovered) become part of the guest stall: their findings go. */
static void fold_findings(struct vigil_session *s)
{
	for (uint32_t i = 0; i < s->fnd.n;) {
		const struct vigil_finding *f = &s->fnd.f[i];

		if (f->outcome != VIGIL_OUTCOME_PROCESS_STALL || f->stall_class ||
		    f->recovered_ns) {
			i++;
			continue;
		}
		fold_pid(s, f->pid);
		fnd_forget(&s->fnd, s->fnd.id[i]); /* the later ones move down */
	}
}

static const char *const cause_text[] = {
	[VIGIL_GSTALL_NONE] = "the guest stopped running",
	[VIGIL_GSTALL_NO_ANSWER] = "the agent did not answer an INSPECT within 1 s",
	[VIGIL_GSTALL_AGENT_BEAT] = "the agent's own beat is overdue",
	[VIGIL_GSTALL_SILENCE] = "nothing came from the guest for the stall threshold",
};

/* The host starved the guest: HOST_STARVED, and no guest stall. */
static void open_starved(struct vigil_session *s, uint64_t silence)
{
	static const char text[] = "the vCPUs got no CPU time while the guest was silent";
	bool fail = s->o.on_stall == VIGIL_ON_STALL_FAIL;
	struct ses_finding_in in = { .oc = VIGIL_OUTCOME_HOST_STARVED,
				     .silence = silence,
				     .detail = text,
				     .detail_len = sizeof(text) - 1,
				     .fatal = fail,
				     .ends = fail };

	isp_fold_all(s, fold_job, s); /* the stalls being classified: nothing to fold into */
	s->gst.info = NULL;
	s->gst.finding = ses_finding_add(s, &in);
}

void gst_open(struct vigil_session *s, enum vigil_guest_stall_cause cause, uint64_t since_rt)
{
	struct gst *g = &s->gst;
	uint64_t now_rt = ses_rt_now(s);
	uint64_t silence = now_rt > since_rt ? now_rt - since_rt : 0;
	bool fail = s->o.on_stall == VIGIL_ON_STALL_FAIL;

	if (g->open || s->finished || !s->link_up)
		return;
	g->open = true;
	g->since_rt = since_rt;
	if (ses_host_starved(s, since_rt, silence)) {
		open_starved(s, silence);
		return;
	}
	g->info = isp_info_new(s);
	if (g->info) {
		g->info->cls = VIGIL_STALL_GUEST;
		g->info->cause = cause;
		g->info->silence_ns = silence;
	}
	isp_fold_all(s, fold_job, s);
	fold_findings(s);

	struct ses_finding_in in = { .oc = VIGIL_OUTCOME_GUEST_STALL,
				     .silence = silence,
				     .detail = cause_text[cause],
				     .detail_len = strlen(cause_text[cause]),
				     .fatal = fail,
				     .ends = fail };

	g->finding = ses_finding_add(s, &in);
	s->c.inspect.guest_stalls++;
	if (g->info)
		ses_stall_classified(s, g->finding, g->info);
}

void gst_agent_overdue(struct vigil_session *s, uint64_t last_rt, uint64_t dl_ns)
{
	if (ses_rt_now(s) - s->gst.heard_rt >= dl_ns / 2)
		gst_open(s, VIGIL_GSTALL_AGENT_BEAT, last_rt);
}

bool gst_fold_new(struct vigil_session *s, uint32_t pid)
{
	if (!s->gst.open)
		return false;
	if (s->gst.info) /* a guest stall; under HOST_STARVED the stall is the host's */
		fold_pid(s, pid);
	return true;
}

uint64_t gst_deadline(const struct vigil_session *s)
{
	const struct gst *g = &s->gst;
	uint64_t thr = s->o.stall_threshold_ns, a, b;

	if (!s->guest.have_hello || !s->link_up || s->ended || s->finished || g->open ||
	    !g->ping_rt || !thr)
		return VIGIL_DEADLINE_NONE;
	/* nothing for the threshold, and a PING unanswered for half of it, and
	 * at least one ping period: a live agent answers each within ms */
	a = g->heard_rt + thr;
	b = g->ping_rt + (thr / 2 > s->o.ping_interval_ns ? thr / 2 : s->o.ping_interval_ns);
	return a > b ? a : b;
}

void gst_tick(struct vigil_session *s, uint64_t now_rt)
{
	if (now_rt >= gst_deadline(s))
		gst_open(s, VIGIL_GSTALL_SILENCE, s->gst.heard_rt);
}
