/* SPDX-License-Identifier: MIT */
/* Stall classes: the rule over two samples (see classify.h). */
#include <errno.h>

#include "classify.h"
#include "session.h"

static const char *const class_names[VIGIL_STALL__COUNT] = {
	[VIGIL_STALL_UNCLASSIFIED] = "unclassified",
	[VIGIL_STALL_RUNNABLE] = "runnable",
	[VIGIL_STALL_RUNNING] = "running",
	[VIGIL_STALL_BLOCKED] = "blocked",
	[VIGIL_STALL_SLEEPING] = "sleeping",
	[VIGIL_STALL_STOPPED] = "stopped",
	[VIGIL_STALL_GONE] = "gone",
	[VIGIL_STALL_GUEST] = "guest_stall",
	[VIGIL_STALL_UNKNOWN] = "unknown",
};

const char *vigil_stall_class_name(enum vigil_stall_class c)
{
	if ((unsigned)c >= VIGIL_STALL__COUNT)
		return class_names[VIGIL_STALL_UNCLASSIFIED];
	return class_names[c];
}

const char *vigil_sched_policy_name(uint32_t policy)
{
	static const char *const names[] = { "NORMAL", "FIFO", "RR",       "BATCH",
					     NULL,     "IDLE", "DEADLINE", "EXT" };

	return policy < sizeof(names) / sizeof(names[0]) ? names[policy] : NULL;
}

static bool gone(const struct vigil_process_sample *x)
{
	return x->status == -ESRCH || (x->status == 0 && (x->state == 'Z' || x->state == 'X'));
}

/* The state letter alone (R needs a rate: unknown here). */
static enum vigil_stall_class by_state(uint8_t state)
{
	switch (state) {
	case 'T':
	case 't':
		return VIGIL_STALL_STOPPED;
	case 'D':
		return VIGIL_STALL_BLOCKED;
	case 'S':
	case 'I':
		return VIGIL_STALL_SLEEPING;
	default:
		return VIGIL_STALL_UNKNOWN;
	}
}

enum vigil_stall_class cls_classify(const struct vigil_process_sample *a,
				    const struct vigil_process_sample *b, uint64_t sampled_ns)
{
	const struct vigil_process_sample *last = b ? b : a;

	if (gone(a) || (b && gone(b)))
		return VIGIL_STALL_GONE;
	if (a->status != 0 || last->status != 0)
		return VIGIL_STALL_UNKNOWN;
	if (last->state != 'R' || !b)
		return by_state(last->state);
	/* Counters that went backwards are not this process's: no rate. */
	if (b->run_ns < a->run_ns || b->wait_ns < a->wait_ns)
		return VIGIL_STALL_UNKNOWN;
	uint64_t run = b->run_ns - a->run_ns, wait = b->wait_ns - a->wait_ns;

	if (sampled_ns && run * 1000u >= sampled_ns * CLS_RUN_PERMILLE)
		return VIGIL_STALL_RUNNING;
	/* The kernel adds to wait_ns (sched_info.run_delay) only when a waiting
	 * task gets a CPU: a task never picked shows no counter moving at all.
	 * All of them zero, though, is a kernel without schedstats. */
	if (wait > 0 || run > 0 || b->run_ns || b->wait_ns || b->timeslices)
		return run * 1000u < sampled_ns * CLS_RUN_PERMILLE || !sampled_ns
			   ? VIGIL_STALL_RUNNABLE
			   : VIGIL_STALL_RUNNING;
	return VIGIL_STALL_UNKNOWN;
}

bool cls_sample_from(struct vigil_process_sample *out, const struct vigil_process_report *r,
		     uint64_t t_ns)
{
	bool cut = false;

	out->status = r->status;
	out->state = r->state;
	out->policy = r->policy;
	out->last_cpu = r->last_cpu;
	out->run_ns = r->run_ns;
	out->wait_ns = r->wait_ns;
	out->timeslices = r->timeslices;
	out->voluntary_switches = r->voluntary_switches;
	out->involuntary_switches = r->involuntary_switches;
	out->t_ns = t_ns;
	cut |= vigil__copy_text(out->comm, sizeof(out->comm), r->comm.ptr, r->comm.len);
	cut |= vigil__copy_text(out->wchan, sizeof(out->wchan), r->wchan.ptr, r->wchan.len);
	cut |= vigil__copy_text(out->stack, sizeof(out->stack), r->stack.ptr, r->stack.len);
	cut |= vigil__copy_text(out->cgroup, sizeof(out->cgroup), r->cgroup.ptr, r->cgroup.len);
	return cut;
}
