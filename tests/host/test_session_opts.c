/* SPDX-License-Identifier: MIT */
/*
 * Tests for how session.h's structs grow (session.h: "how structs grow",
 * Options): VIGIL_SESSION_OPTS, the sz rules (a smaller struct keeps the
 * defaults, a larger one with a non-zero unknown tail is refused), every
 * field's range with vigil_session_opts_check() naming the refused field;
 * counters written only up to the caller's sz, and the sz the library sets
 * in events, verdicts and process infos.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#define S (1000000000ull)

typedef struct vigil_session_opts opts_t;

/* ---- options ---------------------------------------------------------------- */

static void test_opts_macro(void **state)
{
	VIGIL_SESSION_OPTS(o, .mode = VIGIL_MODE_WATCH, .ping_interval_ns = 0, .evidence_lines = 3);
	opts_t d;

	(void)state;
	vigil_session_opts_default(&d);
	assert_int_equal(o.sz, sizeof(opts_t));
	assert_int_equal(o.mode, VIGIL_MODE_WATCH);
	assert_int_equal(o.ping_interval_ns, 0);
	assert_int_equal(o.evidence_lines, 3);
	/* every other field is the default */
	o.mode = d.mode;
	o.ping_interval_ns = d.ping_interval_ns;
	o.evidence_lines = d.evidence_lines;
	assert_int_equal(o.tracker_capacity, 256);
	assert_int_equal(o.eviction, VIGIL_EVICT_BALANCED);
	assert_int_equal(o.stall_threshold_ns, 5 * S);
	assert_int_equal(o.inspect_rate_per_s, 8);
	assert_int_equal(o.reserved, 0);
#define SAME(f) assert_true(o.f == d.f)
	SAME(sz);
	SAME(mode);
	SAME(tracker_capacity);
	SAME(probe_budget);
	SAME(eviction);
	SAME(eviction_window);
	SAME(stall_threshold_ns);
	SAME(deadline_min_ns);
	SAME(deadline_max_ns);
	SAME(pid_min_interval_ns);
	SAME(beat_rate_per_s);
	SAME(beat_burst);
	SAME(on_stall);
	SAME(boot_timeout_ns);
	SAME(workload_duration_ns);
	SAME(run_timeout_ns);
	SAME(link_grace_ns);
	SAME(ping_interval_ns);
	SAME(progress_interval_ns);
	SAME(starved_permille);
	SAME(flow_capacity);
	SAME(max_scenarios);
	SAME(max_tests);
	SAME(evidence_lines);
	SAME(anomaly_interval_ns);
	SAME(clock_jump_ns);
	SAME(fail_on);
	SAME(ack_exit);
	SAME(inspect_rate_per_s);
	SAME(reserved);
#undef SAME
	assert_int_equal(vigil_session_opts_check(&o, NULL), 0);
}

/* What a newer header's caller passes: our struct and a tail. */
struct newer {
	opts_t o;
	uint64_t tail[4];
};

static void test_opts_sz(void **state)
{
	struct newer n;
	struct vigil_session *s = NULL;
	const char *field = "untouched";
	opts_t o;

	(void)state;
	assert_int_equal(vigil_session_opts_check(NULL, &field), 0);
	assert_string_equal(field, "untouched"); /* written only on -EINVAL */
	/* larger, tail zero: accepted */
	memset(&n, 0, sizeof(n));
	vigil_session_opts_default(&n.o);
	n.o.sz = sizeof(n);
	assert_int_equal(vigil_session_opts_check(&n.o, &field), 0);
	assert_int_equal(vigil_session_new(&n.o, NULL, 0, &s), 0);
	vigil_session_free(s);
	s = NULL;
	/* a field this library does not know, set: refused, whichever byte */
	for (size_t b = 0; b < sizeof(n.tail); b++) {
		memset(n.tail, 0, sizeof(n.tail));
		((unsigned char *)n.tail)[b] = 1;
		field = NULL;
		assert_int_equal(vigil_session_opts_check(&n.o, &field), -EINVAL);
		assert_string_equal(field, "sz");
	}
	assert_int_equal(vigil_session_new(&n.o, NULL, 0, &s), -EINVAL);
	assert_null(s);
	/* a set byte past sz is not read */
	n.o.sz = sizeof(n.o);
	assert_int_equal(vigil_session_opts_check(&n.o, NULL), 0);
	/* sz not set, or absurd */
	vigil_session_opts_default(&o);
	o.sz = 0;
	assert_int_equal(vigil_session_opts_check(&o, &field), -EINVAL);
	assert_string_equal(field, "sz");
	o.sz = VIGIL_SESSION_OPTS_SZ_MAX + 1;
	assert_int_equal(vigil_session_opts_check(&o, &field), -EINVAL);
	/* smaller (an older caller): the fields past sz keep the defaults, so
	 * an out-of-range value there is never seen */
	vigil_session_opts_default(&o);
	o.sz = offsetof(opts_t, probe_budget);
	o.tracker_capacity = 7;
	o.probe_budget = 0;
	o.flow_capacity = 1;
	assert_int_equal(vigil_session_opts_check(&o, NULL), 0);
	assert_int_equal(vigil_session_new(&o, NULL, 0, &s), 0);
	vigil_session_free(s);
	/* ... but what is within sz is checked */
	o.tracker_capacity = 0;
	assert_int_equal(vigil_session_opts_check(&o, &field), -EINVAL);
	assert_string_equal(field, "tracker_capacity");
}

/* One field set to a value: accepted (NULL) or refused naming want. */
struct range_case {
	const char *want; /* NULL: accepted */
	void (*set)(opts_t *o);
};

/* Each case is a small function; the table names them. */
#define R(name, stmt)                                                                              \
	static void name(opts_t *o)                                                                \
	{                                                                                          \
		stmt;                                                                              \
	}
R(mode_bad, o->mode = 2)
R(cap_0, o->tracker_capacity = 0)
R(cap_max, o->tracker_capacity = VIGIL_TRACKER_MAX_CAPACITY)
R(cap_over, o->tracker_capacity = VIGIL_TRACKER_MAX_CAPACITY + 1)
R(probe_0, o->probe_budget = 0)
R(probe_64, o->probe_budget = 64)
R(probe_65, o->probe_budget = 65)
R(evict_bad, o->eviction = 2)
R(evict_strict, o->eviction = VIGIL_EVICT_STRICT)
R(window_0, o->eviction_window = 0)
R(window_big, o->eviction_window = 100000)
R(thr_0, o->stall_threshold_ns = 0)
R(thr_1, o->stall_threshold_ns = 1)
R(thr_day, o->stall_threshold_ns = 24 * 3600 * S)
R(thr_over, o->stall_threshold_ns = 24 * 3600 * S + 1)
R(dmin_over, o->deadline_min_ns = o->deadline_max_ns + 1)
R(dmin_0, o->deadline_min_ns = 0)
R(dmax_over, o->deadline_max_ns = 24 * 3600 * S + 1)
R(pmin_over, o->pid_min_interval_ns = VIGIL_DURATION_MAX_NS + 1)
R(rate_0, (o->beat_rate_per_s = 0, o->beat_burst = 0))
R(burst_0, o->beat_burst = 0)
R(stall_bad, o->on_stall = 2)
R(boot_0, o->boot_timeout_ns = 0)
R(boot_max, o->boot_timeout_ns = VIGIL_DURATION_MAX_NS)
R(boot_over, o->boot_timeout_ns = VIGIL_DURATION_MAX_NS + 1)
R(wdg_over, o->workload_duration_ns = UINT64_MAX)
R(run_over, o->run_timeout_ns = UINT64_MAX)
R(grace_0, o->link_grace_ns = 0)
R(grace_over, o->link_grace_ns = UINT64_MAX)
R(ping_0, o->ping_interval_ns = 0)
R(ping_over, o->ping_interval_ns = UINT64_MAX)
R(prog_0, o->progress_interval_ns = 0)
R(prog_min, o->progress_interval_ns = VIGIL_PROGRESS_INTERVAL_MIN_NS)
R(prog_under, o->progress_interval_ns = VIGIL_PROGRESS_INTERVAL_MIN_NS - 1)
R(prog_over, o->progress_interval_ns = VIGIL_DURATION_MAX_NS + 1)
R(perm_0, o->starved_permille = 0)
R(perm_1000, o->starved_permille = 1000)
R(perm_over, o->starved_permille = 1001)
R(flow_15, o->flow_capacity = 15)
R(flow_16, o->flow_capacity = 16)
R(flow_over, o->flow_capacity = VIGIL_FLOWS_MAX_CAPACITY + 1)
R(scn_0, o->max_scenarios = 0)
R(scn_over, o->max_scenarios = 65537)
R(tests_0, o->max_tests = 0)
R(tests_over, o->max_tests = (1u << 20) + 1)
R(ev_0, o->evidence_lines = 0)
R(ev_4096, o->evidence_lines = 4096)
R(ev_over, o->evidence_lines = 4097)
R(anom_0, o->anomaly_interval_ns = 0)
R(anom_over, o->anomaly_interval_ns = UINT64_MAX)
R(jump_over, o->clock_jump_ns = UINT64_MAX)
R(fail_all, o->fail_on = ((1u << VIGIL_KT__COUNT) - 1) & ~1u)
R(fail_none_kind, o->fail_on = 1u << VIGIL_KT_NONE)
R(fail_unknown, o->fail_on = 1u << VIGIL_KT__COUNT)
R(inspect_0, o->inspect_rate_per_s = 0)
R(inspect_max, o->inspect_rate_per_s = UINT32_MAX)
R(reserved_set, o->reserved = 1)
#undef R

static void test_opts_ranges(void **state)
{
	static const struct range_case cases[] = {
		{ "mode", mode_bad },
		{ "tracker_capacity", cap_0 },
		{ NULL, cap_max },
		{ "tracker_capacity", cap_over },
		{ "probe_budget", probe_0 },
		{ NULL, probe_64 },
		{ "probe_budget", probe_65 },
		{ "eviction", evict_bad },
		{ NULL, evict_strict },
		{ "eviction_window", window_0 },
		{ NULL, window_big },
		{ "stall_threshold_ns", thr_0 },
		{ NULL, thr_1 },
		{ NULL, thr_day },
		{ "stall_threshold_ns", thr_over },
		{ "deadline_min_ns", dmin_over },
		{ NULL, dmin_0 },
		{ "deadline_max_ns", dmax_over },
		{ "pid_min_interval_ns", pmin_over },
		{ NULL, rate_0 },
		{ "beat_burst", burst_0 },
		{ "on_stall", stall_bad },
		{ NULL, boot_0 },
		{ NULL, boot_max },
		{ "boot_timeout_ns", boot_over },
		{ "workload_duration_ns", wdg_over },
		{ "run_timeout_ns", run_over },
		{ NULL, grace_0 },
		{ "link_grace_ns", grace_over },
		{ NULL, ping_0 },
		{ "ping_interval_ns", ping_over },
		{ "progress_interval_ns", prog_0 },
		{ NULL, prog_min },
		{ "progress_interval_ns", prog_under },
		{ "progress_interval_ns", prog_over },
		{ NULL, perm_0 },
		{ NULL, perm_1000 },
		{ "starved_permille", perm_over },
		{ "flow_capacity", flow_15 },
		{ NULL, flow_16 },
		{ "flow_capacity", flow_over },
		{ NULL, scn_0 },
		{ "max_scenarios", scn_over },
		{ NULL, tests_0 },
		{ "max_tests", tests_over },
		{ NULL, ev_0 },
		{ NULL, ev_4096 },
		{ "evidence_lines", ev_over },
		{ NULL, anom_0 },
		{ "anomaly_interval_ns", anom_over },
		{ "clock_jump_ns", jump_over },
		{ NULL, fail_all },
		{ "fail_on", fail_none_kind },
		{ "fail_on", fail_unknown },
		{ NULL, inspect_0 },
		{ NULL, inspect_max },
		{ "reserved", reserved_set },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		VIGIL_SESSION_OPTS(o, .sz = sizeof(opts_t));
		struct vigil_session *s = NULL;
		const char *field = NULL;
		int r;

		cases[i].set(&o);
		r = vigil_session_opts_check(&o, &field);
		if (!cases[i].want) {
			if (r != 0)
				fail_msg("case %zu refused (%s)", i, field);
			/* and a session is made from it */
			assert_int_equal(vigil_session_new(&o, NULL, 0, &s), 0);
			vigil_session_free(s);
			continue;
		}
		if (r != -EINVAL || !field || strcmp(field, cases[i].want))
			fail_msg("case %zu: %d %s, want %s", i, r, field ? field : "(none)",
				 cases[i].want);
		assert_int_equal(vigil_session_new(&o, NULL, 0, &s), -EINVAL);
		assert_null(s);
	}
}

/* ---- counters: the caller's sz --------------------------------------------- */

static struct vigil_session *busy_session(void)
{
	static uint8_t fb[64];
	struct vigil_session *s;
	int n;

	assert_int_equal(vigil_session_new(NULL, NULL, 0, &s), 0);
	vigil_session_link_up(s, 1);
	n = vigil_frame_seal(fb, sizeof(fb), VIGIL_MSG_SYS_RDY, 0, 0);
	assert_true(n > 0);
	assert_int_equal(vigil_session_feed(s, fb, (size_t)n, 2), 1);
	vigil_session_feed(s, (const uint8_t *)"junk", 4, 3); /* garbage bytes */
	return s;
}

static void test_counters_prefix(void **state)
{
	struct vigil_session *s = busy_session();
	size_t cut = offsetof(struct vigil_session_counters, tracker);
	union {
		struct vigil_session_counters c;
		unsigned char b[sizeof(struct vigil_session_counters) + 32];
	} u;
	VIGIL_SESSION_COUNTERS(full);

	(void)state;
	assert_int_equal(vigil_session_counters(s, &full), 0);
	assert_int_equal(full.link_ups, 1);
	assert_int_equal(full.tracker.tracked, 0);
	/* an older caller's struct ends at tracker: nothing past it written */
	memset(&u, 0xaa, sizeof(u));
	u.c.sz = cut;
	assert_int_equal(vigil_session_counters(s, &u.c), 0);
	assert_int_equal(u.c.sz, cut);
	assert_int_equal(u.c.link_ups, 1);
	assert_int_equal(u.c.stream.garbage_bytes, full.stream.garbage_bytes);
	for (size_t b = cut; b < sizeof(u.b); b++)
		if (u.b[b] != 0xaa)
			fail_msg("byte %zu past sz %zu written", b, cut);
	/* the reads past its sz give 0, within it the value */
	{
		size_t n;
		const struct vigil_counter_desc *d = vigil_session_counter_descs(&n);

		for (size_t i = 0; i < n; i++) {
			uint64_t want =
			    d[i].offset + d[i].size <= cut ? vigil_counter_value(&full, &d[i]) : 0;

			if (vigil_counter_value(&u.c, &d[i]) != want)
				fail_msg("%s read past sz", d[i].name);
		}
	}
	/* a newer caller's larger struct: its tail is left as it is */
	memset(&u, 0, sizeof(u));
	u.c.sz = sizeof(u.b);
	u.b[sizeof(u.b) - 1] = 0x55;
	assert_int_equal(vigil_session_counters(s, &u.c), 0);
	assert_int_equal(u.c.link_ups, 1);
	assert_int_equal(u.b[sizeof(u.b) - 1], 0x55);
	/* sz not set: refused, nothing written */
	memset(&u, 0xaa, sizeof(u));
	u.c.sz = 0;
	assert_int_equal(vigil_session_counters(s, &u.c), -EINVAL);
	assert_int_equal(u.b[sizeof(size_t)], 0xaa);
	vigil_session_free(s);
}

/* ---- the sz the library sets ------------------------------------------------ */

struct seen {
	size_t ev_sz;
	uint32_t events;
	size_t proc_sz;
};

static void sink(void *ctx, const struct vigil_event *ev)
{
	struct seen *x = ctx;

	x->events++;
	if (ev->sz != sizeof(*ev))
		x->ev_sz = ev->sz;
}

static int proc(void *ctx, const struct vigil_process_info *p)
{
	((struct seen *)ctx)->proc_sz = p->sz;
	return VIGIL_HAS_FIELD(struct vigil_process_info, p, stalled) ? 0 : -1;
}

static void test_library_sets_sz(void **state)
{
	struct seen x = { 0 };
	struct vigil_session_hooks h = { .sink = { sink, &x } };
	struct vigil_beat b = { .pid = 100, .nonce = 1 };
	struct vigil_process_info old = { .sz = offsetof(struct vigil_process_info, beats) };
	struct vigil_session *s;
	const struct vigil_verdict *v;
	uint8_t fb[128];
	int n;

	(void)state;
	assert_int_equal(vigil_session_new(NULL, &h, 0, &s), 0);
	n = vigil_beats_encode(fb + VIGIL_WIRE_HDR_LEN, sizeof(fb) - VIGIL_WIRE_HDR_LEN, &b, 1);
	n = vigil_frame_seal(fb, sizeof(fb), VIGIL_MSG_BEAT, 0, (size_t)n);
	assert_int_equal(vigil_session_feed(s, fb, (size_t)n, 1), 1);
	assert_int_equal(vigil_session_foreach_process(s, 2, proc, &x), 0);
	assert_int_equal(x.proc_sz, sizeof(struct vigil_process_info));
	v = vigil_session_finish(s, 3);
	assert_true(x.events >= 3);
	assert_int_equal(x.ev_sz, 0); /* every event had sz = sizeof */
	assert_int_equal(v->sz, sizeof(*v));
	assert_non_null(v->counters);
	assert_int_equal(v->counters->sz, sizeof(*v->counters));
	assert_int_equal(v->counters->tracker.beats, 1);
	/* what an older library's smaller struct says to a newer caller */
	assert_true(VIGIL_HAS_FIELD(struct vigil_process_info, &old, last_nonce) == 0);
	assert_true(VIGIL_HAS_FIELD(struct vigil_process_info, &old, pidns_inode) == 1);
	vigil_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_macro),      cmocka_unit_test(test_opts_sz),
		cmocka_unit_test(test_opts_ranges),     cmocka_unit_test(test_counters_prefix),
		cmocka_unit_test(test_library_sets_sz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
