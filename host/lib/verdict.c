/* SPDX-License-Identifier: MIT */
/*
 * Verdict rules: outcome names, the precedence between findings, the exit
 * code of `vigil run`, a finding's evidence lines, and the one-line human
 * summary. Pure functions over a finished verdict; the JSON rendering is in
 * json.c. docs/verdict.md documents all of it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "session.h"

static const char *const outcome_names[VIGIL_OUTCOME__COUNT] = {
	[VIGIL_OUTCOME_PASS] = "PASS",
	[VIGIL_OUTCOME_WORKLOAD_FAILED] = "WORKLOAD_FAILED",
	[VIGIL_OUTCOME_SCHED_EXIT] = "SCHED_EXIT",
	[VIGIL_OUTCOME_WATCHDOG_TIMEOUT] = "WATCHDOG_TIMEOUT",
	[VIGIL_OUTCOME_RUN_TIMEOUT] = "RUN_TIMEOUT",
	[VIGIL_OUTCOME_BOOT_TIMEOUT] = "BOOT_TIMEOUT",
	[VIGIL_OUTCOME_GUEST_CRASH] = "GUEST_CRASH",
	[VIGIL_OUTCOME_PROCESS_STALL] = "PROCESS_STALL",
	[VIGIL_OUTCOME_HOST_STARVED] = "HOST_STARVED",
	[VIGIL_OUTCOME_LINK_LOST] = "LINK_LOST",
	[VIGIL_OUTCOME_HARNESS_ERROR] = "HARNESS_ERROR",
	[VIGIL_OUTCOME_KERNEL_TROUBLE] = "KERNEL_TROUBLE",
	[VIGIL_OUTCOME_QEMU_EXITED] = "QEMU_EXITED",
	[VIGIL_OUTCOME_GUEST_STALL] = "GUEST_STALL",
};

/*
 * Precedence, highest first. The guest's own evidence of what went wrong
 * comes first (a panic, then kernel trouble that fail_on made fatal, the
 * scheduler's exit, a stall, with host starvation above a guest stall
 * above a process stall: each names a wider cause); then vigil's own failure and the VMM's
 * death, which explain the timeouts and link loss that follow them; then
 * the timeouts, from the earliest phase; a workload's own failure last.
 */
static const int outcome_rank[VIGIL_OUTCOME__COUNT] = {
	[VIGIL_OUTCOME_PASS] = 0,
	[VIGIL_OUTCOME_WORKLOAD_FAILED] = 1,
	[VIGIL_OUTCOME_LINK_LOST] = 2,
	[VIGIL_OUTCOME_RUN_TIMEOUT] = 3,
	[VIGIL_OUTCOME_WATCHDOG_TIMEOUT] = 4,
	[VIGIL_OUTCOME_BOOT_TIMEOUT] = 5,
	[VIGIL_OUTCOME_QEMU_EXITED] = 6,
	[VIGIL_OUTCOME_HARNESS_ERROR] = 7,
	[VIGIL_OUTCOME_PROCESS_STALL] = 8,
	[VIGIL_OUTCOME_GUEST_STALL] = 9,
	[VIGIL_OUTCOME_HOST_STARVED] = 10,
	[VIGIL_OUTCOME_SCHED_EXIT] = 11,
	[VIGIL_OUTCOME_KERNEL_TROUBLE] = 12,
	[VIGIL_OUTCOME_GUEST_CRASH] = 13,
};

const char *vigil_outcome_name(enum vigil_outcome o)
{
	if ((unsigned)o >= VIGIL_OUTCOME__COUNT)
		return "UNKNOWN";
	return outcome_names[o];
}

int vigil_outcome_rank(enum vigil_outcome o)
{
	if ((unsigned)o >= VIGIL_OUTCOME__COUNT)
		return 0;
	return outcome_rank[o];
}

const struct vigil_finding *vigil__primary_finding(const struct vigil_finding *f, uint32_t n)
{
	const struct vigil_finding *best = NULL;

	for (uint32_t i = 0; i < n; i++) {
		if (f[i].outcome == VIGIL_OUTCOME_PASS || !f[i].fatal)
			continue;
		/* Strictly higher: among equals the earliest stays. */
		if (!best || vigil_outcome_rank(f[i].outcome) > vigil_outcome_rank(best->outcome))
			best = &f[i];
	}
	return best;
}

int vigil_verdict_exit_code(const struct vigil_verdict *v)
{
	switch (v->outcome) {
	case VIGIL_OUTCOME_PASS:
		return 0;
	case VIGIL_OUTCOME_WORKLOAD_FAILED:
		if (v->have_exit && v->exit_signal == 0 && v->exit_status >= 1 &&
		    v->exit_status <= 123)
			return v->exit_status;
		if (v->have_exit && (v->exit_signal != 0 || v->exit_status != 0))
			return 123;
		return 1; /* a failed test under a clean exit */
	case VIGIL_OUTCOME_SCHED_EXIT:
		return 120;
	case VIGIL_OUTCOME_PROCESS_STALL:
	case VIGIL_OUTCOME_GUEST_STALL:
	case VIGIL_OUTCOME_HOST_STARVED:
		return 121;
	case VIGIL_OUTCOME_WATCHDOG_TIMEOUT:
	case VIGIL_OUTCOME_RUN_TIMEOUT:
	case VIGIL_OUTCOME_LINK_LOST:
	case VIGIL_OUTCOME_QEMU_EXITED:
		return 124;
	case VIGIL_OUTCOME_HARNESS_ERROR:
		return 125;
	case VIGIL_OUTCOME_GUEST_CRASH:
	case VIGIL_OUTCOME_KERNEL_TROUBLE:
		return 126;
	case VIGIL_OUTCOME_BOOT_TIMEOUT:
		return 127;
	case VIGIL_OUTCOME__COUNT:
		break;
	}
	return 125;
}

uint32_t vigil_verdict_finding_evidence(const struct vigil_verdict *v, uint32_t finding,
					const struct vigil_evidence **lines)
{
	uint32_t i = 0, n = 0;

	/* Grouped by finding, in finding order. */
	while (i < v->n_evidence && v->evidence[i].finding < finding)
		i++;
	while (i + n < v->n_evidence && v->evidence[i + n].finding == finding)
		n++;
	*lines = n ? &v->evidence[i] : NULL;
	return n;
}

/* A bounded writer with snprintf's result: len is the length needed. */
struct sbuf {
	char *buf;
	size_t cap;
	size_t len;
};

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	size_t room = b->len < b->cap ? b->cap - b->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
}

/* "+0", "+0.25 ms", "+99 ms": a schedstat delta. */
static void sb_delta(struct sbuf *b, uint64_t a, uint64_t z)
{
	double ms = z > a ? (double)(z - a) / 1e6 : 0;

	if (z <= a)
		sb_printf(b, "+0");
	else if (ms < 1)
		sb_printf(b, "+%.2f ms", ms);
	else
		sb_printf(b, "+%.0f ms", ms);
}

static void sb_policy(struct sbuf *b, uint32_t policy)
{
	const char *name = vigil_sched_policy_name(policy);

	if (name)
		sb_printf(b, "policy %s", name);
	else
		sb_printf(b, "policy %u", policy);
}

/* The class in words, from the samples (docs/verdict.md, "Stall classes"). */
static void summary_class(struct sbuf *b, const struct vigil_stall_info *in)
{
	const struct vigil_process_sample *a = &in->sample[0];
	const struct vigil_process_sample *z = &in->sample[in->n_samples - 1];
	double ms = (double)in->sampled_ns / 1e6;

	switch (in->cls) {
	case VIGIL_STALL_RUNNABLE:
	case VIGIL_STALL_RUNNING:
		sb_printf(b, "%s in the %.0f ms sampled (wait ",
			  in->cls == VIGIL_STALL_RUNNABLE ? "runnable, not scheduled"
							  : "running, not beating",
			  ms);
		sb_delta(b, a->wait_ns, z->wait_ns);
		sb_printf(b, ", run ");
		sb_delta(b, a->run_ns, z->run_ns);
		sb_printf(b, ") on cpu %u, ", z->last_cpu);
		sb_policy(b, z->policy);
		break;
	case VIGIL_STALL_BLOCKED:
		sb_printf(b, "blocked in the kernel (%c)%s%s", z->state, z->wchan[0] ? " in " : "",
			  z->wchan);
		break;
	case VIGIL_STALL_SLEEPING:
		sb_printf(b, "sleeping (%c)%s%s: it stopped beating on its own", z->state,
			  z->wchan[0] ? " in " : "", z->wchan);
		break;
	case VIGIL_STALL_STOPPED:
		sb_printf(b, "stopped (%c) by a signal or a tracer", z->state);
		break;
	case VIGIL_STALL_GONE:
		sb_printf(b, "gone: it exited without a STOPPING beat");
		break;
	default:
		if (z->status)
			sb_printf(b, "not classified: the agent answered %d", z->status);
		else
			sb_printf(b, "not classified: state %c", z->state ? z->state : '?');
		break;
	}
}

/* "process 84 (worker) stalled 1.2 s: stopped (T) by a signal or a tracer" */
static void summary_stall(struct sbuf *b, const struct vigil_finding *p)
{
	const struct vigil_stall_info *in = p->stall;
	const char *comm = "";

	if (!in || !in->n_samples || p->outcome != VIGIL_OUTCOME_PROCESS_STALL) {
		sb_printf(b, "%s %u silent for %.3f s: %s", p->pid ? "pid" : "the guest", p->pid,
			  (double)p->silence_ns / 1e9, p->detail);
		return;
	}
	for (uint32_t i = 0; i < in->n_samples; i++)
		if (in->sample[i].comm[0])
			comm = in->sample[i].comm;
	sb_printf(b, "process %u%s%s%s stalled %.1f s: ", p->pid, comm[0] ? " (" : "", comm,
		  comm[0] ? ")" : "", (double)p->silence_ns / 1e9);
	summary_class(b, in);
}

/* "the guest stalled 2.1 s: the agent ... (3 process stalls folded in: 84, 85, 86)" */
static void summary_guest_stall(struct sbuf *b, const struct vigil_finding *p)
{
	const struct vigil_stall_info *in = p->stall;
	uint32_t shown;

	sb_printf(b, "the guest stalled %.1f s: %s", (double)p->silence_ns / 1e9, p->detail);
	if (!in || !in->folded)
		return;
	sb_printf(b, " (%u process stall%s folded in: ", in->folded, in->folded == 1 ? "" : "s");
	shown = in->folded < VIGIL_FOLDED_MAX ? in->folded : VIGIL_FOLDED_MAX;
	for (uint32_t i = 0; i < shown; i++)
		sb_printf(b, "%s%u", i ? ", " : "", in->folded_pids[i]);
	sb_printf(b, "%s)", in->folded > shown ? ", ..." : "");
}

/* What the outcome's finding says (PASS: the workload's exit). */
static void summary_what(struct sbuf *b, const struct vigil_verdict *v)
{
	const struct vigil_finding *p = v->primary;
	const char *detail = p ? p->detail : "";

	switch (v->outcome) {
	case VIGIL_OUTCOME_PASS:
		sb_printf(b, "workload exit %d", v->have_exit ? v->exit_status : 0);
		break;
	case VIGIL_OUTCOME_WORKLOAD_FAILED:
		if (v->have_exit && v->exit_signal)
			sb_printf(b, "workload killed by signal %d", v->exit_signal);
		else if (v->have_exit && v->exit_status)
			sb_printf(b, "workload exit %d", v->exit_status);
		else
			sb_printf(b, "test '%s' failed", detail);
		break;
	case VIGIL_OUTCOME_SCHED_EXIT:
		sb_printf(b, "scheduler exited (kind %u, code %d): %s", v->sched_exit_kind,
			  v->sched_exit_code, v->sched_exit_reason);
		break;
	case VIGIL_OUTCOME_PROCESS_STALL:
	case VIGIL_OUTCOME_HOST_STARVED:
		if (p)
			summary_stall(b, p);
		break;
	case VIGIL_OUTCOME_GUEST_STALL:
		if (p)
			summary_guest_stall(b, p);
		break;
	case VIGIL_OUTCOME_KERNEL_TROUBLE:
		sb_printf(b, "kernel %s: %s",
			  vigil_kernel_trouble_name(p ? (enum vigil_kernel_trouble)p->kind
						      : VIGIL_KT_NONE),
			  detail);
		break;
	case VIGIL_OUTCOME_QEMU_EXITED:
		if (p && p->kind)
			sb_printf(b, "QEMU killed by signal %u: %s", p->kind, detail);
		else
			sb_printf(b, "QEMU exited with status %d: %s", p ? p->status : -1, detail);
		break;
	default:
		sb_printf(b, "%s", detail);
		break;
	}
}

static bool is_stall(const struct vigil_finding *f)
{
	return f->outcome == VIGIL_OUTCOME_PROCESS_STALL ||
	       f->outcome == VIGIL_OUTCOME_HOST_STARVED || f->outcome == VIGIL_OUTCOME_GUEST_STALL;
}

/* A guest stall in the list: "the guest, pids 82, 90 folded in, ": its
 * folded process stalls are the guest's, not theirs alone. */
static void summary_guest_listed(struct sbuf *b, const struct vigil_finding *f, uint32_t shown)
{
	const struct vigil_stall_info *in = f->stall;
	uint32_t n = in ? in->folded : 0;

	sb_printf(b, "%sthe guest, ", shown ? "; " : "");
	if (n > 3)
		sb_printf(b, "%u process stalls folded in, ", n);
	for (uint32_t i = 0; i < n && n <= 3; i++)
		sb_printf(b, "%s%u%s", i ? ", " : n > 1 ? "pids " : "pid ", in->folded_pids[i],
			  i + 1 == n ? " folded in, " : "");
}

/* "2 stalls (pid 84, recovered after 2.10 s; pid 90, not recovered)" */
static void summary_stalls(struct sbuf *b, const struct vigil_verdict *v, const char **sep)
{
	uint32_t n = 0, shown = 0;

	for (uint32_t i = 0; i < v->n_findings; i++)
		n += !v->findings[i].fatal && is_stall(&v->findings[i]);
	if (!n)
		return;
	sb_printf(b, "%s%u stall%s (", *sep, n, n == 1 ? "" : "s");
	*sep = ", ";
	for (uint32_t i = 0; i < v->n_findings && shown < 3; i++) {
		const struct vigil_finding *f = &v->findings[i];

		if (f->fatal || !is_stall(f))
			continue;
		if (f->outcome == VIGIL_OUTCOME_GUEST_STALL)
			summary_guest_listed(b, f, shown++);
		else
			sb_printf(b, "%spid %u%s%s%s, ", shown++ ? "; " : "", f->pid,
				  f->outcome == VIGIL_OUTCOME_HOST_STARVED ? ", host starved" : "",
				  f->stall_class ? ", " : "",
				  f->stall_class ? vigil_stall_class_name(f->stall_class) : "");
		if (f->recovered_ns)
			sb_printf(b, "recovered after %.2f s",
				  (double)f->recovery_silence_ns / 1e9);
		else
			sb_printf(b, "not recovered");
	}
	sb_printf(b, "%s)", n > shown ? "; ..." : "");
}

static const char *const trouble_labels[VIGIL_KT__COUNT][2] = {
	[VIGIL_KT_NONE] = { "kernel trouble", "kernel troubles" },
	[VIGIL_KT_PANIC] = { "kernel panic", "kernel panics" },
	[VIGIL_KT_OOPS] = { "kernel oops", "kernel oopses" },
	[VIGIL_KT_BUG] = { "kernel BUG", "kernel BUGs" },
	[VIGIL_KT_WARNING] = { "kernel warning", "kernel warnings" },
	[VIGIL_KT_OOM] = { "OOM kill", "OOM kills" },
	[VIGIL_KT_HUNG_TASK] = { "hung task", "hung tasks" },
	[VIGIL_KT_SOFT_LOCKUP] = { "soft lockup", "soft lockups" },
	[VIGIL_KT_RCU_STALL] = { "RCU stall", "RCU stalls" },
};

/* The non-fatal findings, all of them named: stalls, then kernel trouble by
 * kind; then the other fatal findings and what the bounds dropped. */
static void summary_others(struct sbuf *b, const struct vigil_verdict *v)
{
	uint32_t kt[VIGIL_KT__COUNT] = { 0 };
	uint32_t fatal_more = 0;
	uint64_t dropped =
	    v->counters ? v->counters->findings_dropped + v->counters->kernel_trouble_dropped : 0;
	const char *sep = "; not fatal: ";

	summary_stalls(b, v, &sep);
	for (uint32_t i = 0; i < v->n_findings; i++) {
		const struct vigil_finding *f = &v->findings[i];

		if (f->fatal)
			fatal_more += f != v->primary;
		else if (f->outcome == VIGIL_OUTCOME_KERNEL_TROUBLE)
			kt[f->kind < VIGIL_KT__COUNT ? f->kind : VIGIL_KT_NONE]++;
	}
	for (int k = 0; k < VIGIL_KT__COUNT; k++) {
		if (!kt[k])
			continue;
		sb_printf(b, "%s%u %s", sep, kt[k], trouble_labels[k][kt[k] != 1]);
		sep = ", ";
	}
	if (fatal_more)
		sb_printf(b, "; %u more finding%s", fatal_more, fatal_more == 1 ? "" : "s");
	if (dropped)
		sb_printf(b, "; %llu finding%s not kept", (unsigned long long)dropped,
			  dropped == 1 ? "" : "s");
	/* output the agent had to drop never reached the host: say so */
	if (v->have_agent_stats && v->agent_stats[VIGIL_STAT_FRAMES_DROPPED])
		sb_printf(b, "; the agent dropped %llu output frames (%llu bytes)",
			  (unsigned long long)v->agent_stats[VIGIL_STAT_FRAMES_DROPPED],
			  (unsigned long long)v->agent_stats[VIGIL_STAT_BYTES_DROPPED]);
}

int vigil_verdict_summary(const struct vigil_verdict *v, char *buf, size_t cap)
{
	struct sbuf b = { buf, cap, 0 };

	if (cap > 0)
		buf[0] = '\0';
	sb_printf(&b, "%s after %.2f s: ", vigil_outcome_name(v->outcome),
		  (double)v->timeline.end_ns / 1e9);
	summary_what(&b, v);
	/* test counts only when the guest reported tests: noise otherwise */
	if (v->tests_by_outcome[VIGIL_TEST_PASS] + v->tests_by_outcome[VIGIL_TEST_FAIL] +
	    v->tests_by_outcome[VIGIL_TEST_SKIP] + v->tests_by_outcome[VIGIL_TEST_ERROR])
		sb_printf(
		    &b, "; tests %u passed, %u failed, %u skipped, %u errors",
		    v->tests_by_outcome[VIGIL_TEST_PASS], v->tests_by_outcome[VIGIL_TEST_FAIL],
		    v->tests_by_outcome[VIGIL_TEST_SKIP], v->tests_by_outcome[VIGIL_TEST_ERROR]);
	summary_others(&b, v);
	/* Guest text must not drive the terminal: no control bytes. */
	for (size_t i = 0; cap > 0 && i < cap - 1 && buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	return b.len > INT32_MAX ? -EINVAL : (int)b.len;
}
