/* SPDX-License-Identifier: MIT */
/*
 * The vCPU progress probe and host starvation: samples of the vCPU threads'
 * CPU time (and, with the vCPU state probe, their runqueue wait and whether
 * the host stopped them) in a ring on runnable time, and the judgement "did
 * the host starve the guest in the recent part of this silence?" that stall,
 * guest-stall and timeout findings ask (docs/verdict.md, "Host
 * starvation").
 *
 * Owns the ring (SES_PROG_RING samples in struct vigil_session) and its
 * period. No allocation; a sample is one probe call; a judgement is
 * O(SES_PROG_RING) and one probe call. Load: a sample every prog_period
 * (10 ms .. progress_interval_ns), a judgement per stall or timeout.
 */
#include <errno.h>
#include <string.h>

#include "session.h"

bool ses_probe_on(const struct vigil_session *s)
{
	return s->vcpu_state.sample || s->h.progress.sample;
}

/* One reading: 0, or the probe's negative errno. */
static int probe_read(struct vigil_session *s, struct prog_sample *out)
{
	struct vigil_vcpu_state st = { 0 };
	uint64_t cpu;
	int r;

	if (s->vcpu_state.sample) {
		ses_cb_enter(s);
		r = s->vcpu_state.sample(s->vcpu_state.ctx, &st);
		ses_cb_leave(s);
		if (r < 0)
			return -ENODATA;
		*out = (struct prog_sample){ .rt_ns = ses_rt_now(s),
					     .cpu_ns = st.cpu_ns,
					     .wait_ns = st.wait_ns,
					     .stopped = st.stopped,
					     .have_state = true };
		return 0;
	}
	if (!s->h.progress.sample)
		return -ENODATA;
	ses_cb_enter(s);
	r = s->h.progress.sample(s->h.progress.ctx, &cpu);
	ses_cb_leave(s);
	if (r < 0)
		return -ENODATA;
	*out = (struct prog_sample){ .rt_ns = ses_rt_now(s), .cpu_ns = cpu };
	return 0;
}

void ses_probe_sample(struct vigil_session *s)
{
	struct prog_sample p;

	if (probe_read(s, &p) < 0)
		return;
	s->prog[s->prog_head] = p;
	s->prog_head = (s->prog_head + 1) % SES_PROG_RING;
	if (s->prog_n < SES_PROG_RING)
		s->prog_n++;
}

/*
 * The window's base: the newest kept sample at least dl_ns / 4 old and
 * still inside the silence that began at since_rt (none that old: the
 * oldest one inside it). *stopped: a sample from the base on saw the
 * vCPUs stopped.
 */
static const struct prog_sample *window_base(const struct vigil_session *s, uint64_t since_rt,
					     uint64_t dl_ns, bool *stopped)
{
	const struct prog_sample *base = NULL;
	uint64_t now_rt = ses_rt_now(s);
	uint64_t target = now_rt > dl_ns / 4 ? now_rt - dl_ns / 4 : 0;

	*stopped = false;
	for (uint32_t i = 0; i < s->prog_n; i++) {
		uint32_t idx = (s->prog_head + SES_PROG_RING - s->prog_n + i) % SES_PROG_RING;
		const struct prog_sample *p = &s->prog[idx];

		if (p->rt_ns < since_rt)
			continue;
		if (p->rt_ns <= target) {
			base = p; /* the newest at least dl_ns / 4 old so far */
			*stopped = p->stopped;
			continue;
		}
		if (!base)
			base = p; /* none that old: the oldest inside the silence */
		*stopped |= p->stopped;
	}
	return base;
}

/*
 * Did the host starve the guest in the recent part of a silence that began
 * at runnable time since_rt and has now lasted dl_ns?
 *
 * The window ends now and starts at window_base(). Judging the whole
 * silence would be wrong: a host that stops QEMU does so some time after
 * the last beat (up to a beat interval), and the vCPU time before the stop
 * would hide the starvation. Samples come every prog_period (at most dl_ns
 * / 8 for every pid seen), so the window starts between 5/8 and 3/4 of the
 * deadline into the silence. A window shorter than min(dl_ns / 8, half the
 * ring's span) is not judged (samples too sparse).
 *
 * The rule: the vCPUs got under starved_permille of the window in CPU
 * time. With the vCPU state probe that alone is not enough, since a halted
 * guest (idle or deadlocked: its vCPU threads sleep) gets no CPU time
 * either: the host starved it only when its vCPU threads were stopped, or
 * waited on a host runqueue for at least half of the window. overload
 * (timeouts): also when they waited at least as long as they ran and half
 * of the window: an overloaded host, not a dead one.
 */
static bool starved_in(struct vigil_session *s, uint64_t since_rt, uint64_t dl_ns, bool overload)
{
	struct prog_sample now;
	const struct prog_sample *base;
	bool stopped;

	if (s->prog_n == 0 || probe_read(s, &now) < 0)
		return false;
	base = window_base(s, since_rt, dl_ns, &stopped);
	if (!base || now.rt_ns <= base->rt_ns || now.cpu_ns < base->cpu_ns)
		return false;
	uint64_t window = now.rt_ns - base->rt_ns;
	uint64_t ring_half = s->prog_period > UINT64_MAX / (SES_PROG_RING / 2)
				 ? UINT64_MAX
				 : (uint64_t)(SES_PROG_RING / 2) * s->prog_period;
	uint64_t min_window = dl_ns / 8 < ring_half ? dl_ns / 8 : ring_half;

	if (window < min_window)
		return false;
	/* progress / window < permille / 1000, in integers (both below 2^64
	 * for windows under ~580 years / 1000). */
	uint64_t cpu = now.cpu_ns - base->cpu_ns;
	bool idle = cpu * 1000u < window * s->o.starved_permille;

	if (!now.have_state || !base->have_state)
		return idle;
	uint64_t wait = now.wait_ns > base->wait_ns ? now.wait_ns - base->wait_ns : 0;
	bool waited = wait >= window / 2;

	if (idle)
		return stopped || now.stopped || waited;
	return overload && waited && wait >= cpu;
}

bool ses_host_starved(struct vigil_session *s, uint64_t since_rt, uint64_t dl_ns)
{
	return starved_in(s, since_rt, dl_ns, false);
}

bool ses_host_starved_timeout(struct vigil_session *s, uint64_t since_rt, uint64_t dl_ns)
{
	return starved_in(s, since_rt, dl_ns, true);
}

uint32_t ses_timeout_starved(struct vigil_session *s, uint64_t since_rt, uint64_t len_ns,
			     const char *text)
{
	struct ses_finding_in in = { .oc = VIGIL_OUTCOME_HOST_STARVED,
				     .silence = len_ns,
				     .detail = text,
				     .detail_len = strlen(text),
				     .fatal = true,
				     .ends = true };

	if (!ses_host_starved_timeout(s, since_rt, len_ns))
		return 0;
	return ses_finding_add(s, &in);
}

/* Sample the probe often enough to judge the stalls of the shortest
 * deadline any pid declared so far. */
void ses_probe_fit(struct vigil_session *s)
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

int vigil_session_set_vcpu_state_probe(struct vigil_session *s,
				       const struct vigil_vcpu_state_probe *p)
{
	int r = ses_gate(s);

	if (r < 0)
		return r;
	if (p && !p->sample)
		return -EINVAL;
	s->vcpu_state = p ? *p : (struct vigil_vcpu_state_probe){ 0 };
	s->prog_n = 0; /* samples of another kind would mislead */
	return 0;
}
