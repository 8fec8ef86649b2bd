/* SPDX-License-Identifier: MIT */
/*
 * Verdict rules: outcome names, the precedence between findings, the exit
 * code of `vigil run`, and the one-line human summary. Pure functions over
 * a finished verdict; the JSON rendering is in json.c. docs/verdict.md
 * documents all of it.
 */
#include <errno.h>
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
};

/*
 * Precedence, highest first. The guest's own evidence of what went wrong
 * comes first (a panic, the scheduler's exit, a stall, with host starvation
 * above a plain stall because it names the cause); then vigil's own failure,
 * which explains the timeouts and link loss that follow it; then the
 * timeouts, from the earliest phase; a workload's own failure last.
 */
static const int outcome_rank[VIGIL_OUTCOME__COUNT] = {
	[VIGIL_OUTCOME_PASS] = 0,
	[VIGIL_OUTCOME_WORKLOAD_FAILED] = 1,
	[VIGIL_OUTCOME_LINK_LOST] = 2,
	[VIGIL_OUTCOME_RUN_TIMEOUT] = 3,
	[VIGIL_OUTCOME_WATCHDOG_TIMEOUT] = 4,
	[VIGIL_OUTCOME_BOOT_TIMEOUT] = 5,
	[VIGIL_OUTCOME_HARNESS_ERROR] = 6,
	[VIGIL_OUTCOME_PROCESS_STALL] = 7,
	[VIGIL_OUTCOME_HOST_STARVED] = 8,
	[VIGIL_OUTCOME_SCHED_EXIT] = 9,
	[VIGIL_OUTCOME_GUEST_CRASH] = 10,
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
		if (f[i].outcome == VIGIL_OUTCOME_PASS)
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
	case VIGIL_OUTCOME_HOST_STARVED:
		return 121;
	case VIGIL_OUTCOME_WATCHDOG_TIMEOUT:
	case VIGIL_OUTCOME_RUN_TIMEOUT:
	case VIGIL_OUTCOME_LINK_LOST:
		return 124;
	case VIGIL_OUTCOME_HARNESS_ERROR:
		return 125;
	case VIGIL_OUTCOME_GUEST_CRASH:
		return 126;
	case VIGIL_OUTCOME_BOOT_TIMEOUT:
		return 127;
	case VIGIL_OUTCOME__COUNT:
		break;
	}
	return 125;
}

int vigil_verdict_summary(const struct vigil_verdict *v, char *buf, size_t cap)
{
	const struct vigil_finding *p = v->primary;
	uint64_t end = v->timeline.end_ns;
	char what[VIGIL_DETAIL_MAX + 64];
	int n;

	what[0] = '\0';
	switch (v->outcome) {
	case VIGIL_OUTCOME_PASS:
		snprintf(what, sizeof(what), "workload exit %d", v->have_exit ? v->exit_status : 0);
		break;
	case VIGIL_OUTCOME_WORKLOAD_FAILED:
		if (v->have_exit && v->exit_signal)
			snprintf(what, sizeof(what), "workload killed by signal %d",
				 v->exit_signal);
		else if (v->have_exit && v->exit_status)
			snprintf(what, sizeof(what), "workload exit %d", v->exit_status);
		else
			snprintf(what, sizeof(what), "test '%s' failed", p ? p->detail : "");
		break;
	case VIGIL_OUTCOME_SCHED_EXIT:
		snprintf(what, sizeof(what), "scheduler exited (kind %u, code %d): %s",
			 v->sched_exit_kind, v->sched_exit_code, v->sched_exit_reason);
		break;
	case VIGIL_OUTCOME_PROCESS_STALL:
	case VIGIL_OUTCOME_HOST_STARVED:
		snprintf(what, sizeof(what), "pid %u silent for %.3f s: %s", p ? p->pid : 0,
			 p ? (double)p->silence_ns / 1e9 : 0.0, p ? p->detail : "");
		break;
	default:
		snprintf(what, sizeof(what), "%s", p ? p->detail : "");
		break;
	}
	n = snprintf(buf, cap,
		     "%s after %.2f s: %s; tests %u passed, %u failed, %u skipped, %u errors; "
		     "%u finding%s",
		     vigil_outcome_name(v->outcome), (double)end / 1e9, what,
		     v->tests_by_outcome[VIGIL_TEST_PASS], v->tests_by_outcome[VIGIL_TEST_FAIL],
		     v->tests_by_outcome[VIGIL_TEST_SKIP], v->tests_by_outcome[VIGIL_TEST_ERROR],
		     v->n_findings, v->n_findings == 1 ? "" : "s");
	/* Guest text must not drive the terminal: no control bytes. */
	for (size_t i = 0; cap > 0 && i < cap - 1 && buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	return n < 0 ? -EINVAL : n;
}
