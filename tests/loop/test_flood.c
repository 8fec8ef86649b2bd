/* SPDX-License-Identifier: MIT */
/*
 * Floods across guests (tests/loop/flood.h): one loop, a hostile guest
 * flooding random and adversarial input (tests/loop/hostile.h: maximum
 * frames, endless partial magics, torn headers, oversize lengths, seq
 * storms, more pids than the tracker holds, more flows than the table
 * holds, SYS_RDY, SNAPSHOT_REQUEST and PROCESS_REPORT storms, output at
 * full speed, hang-ups mid-frame) beside an honest guest that beats and
 * goes silent, round after round. Checked, exactly or as bounds:
 *  - every byte the hostile guest wrote is accounted for by the host's
 *    counters: garbage + header errors + 24 x oversize + frame bytes +
 *    held + held-dropped = bytes fed = bytes read = bytes written, and each
 *    class matches what the writer tallied (frames, frame bytes, oversize
 *    headers, noise, the bytes cut by hang-ups);
 *  - the hostile guest's tables stay within their bounds and the drops are
 *    counted (tracker, flows, SYS_RDY repeats, unmatched reports);
 *  - snapshots written stay within the documented bound: at most
 *    VIGIL_DUMPS_MAX dumps and VIGIL_DUMP_BYTES_MAX bytes of them, and the
 *    small files (CPU state, counters) within VIGIL_SNAP_FILES_MAX;
 *  - the honest guest's every silence gives exactly one stall, never before
 *    it was due, and all its beats count (its lateness is printed; the
 *    bound of threshold + 10 ms is checked by tests/bench/flood-bench);
 *  - the loop's RSS grows by less than RSS_GROWTH_MAX_KIB over the run
 *    (its fixed tables being touched) and by less than RSS_FLAT_MAX_KIB
 *    over its second half (measured: see BENCHMARKS.md, flood-bench).
 * Load: the flood lasts as long as ROUNDS honest rounds take, and at least
 * until HOSTILE_MB went through: about 4.5 s, 0.5-1 GB here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flood.h"
#include "qmplink.h"

#define MS         1000000ll
#define HOSTILE_MB 48u
#define ROUNDS     4u
/* Honest rounds with room for a loaded machine (the bench runs 100 ms and
 * 60 ms): a stall while beating takes the loop starved for 280 ms, a
 * silence without its stall 500 ms. */
#define DEADLINE_MS     300u
#define AFTER_DUE_MS    500u
#define HANGUPS         3u
#define FAKE_DUMP_BYTES (3ull << 30) /* three of them pass the 8 GiB bound */
#define SINK_NS_PER_KIB 5120u        /* a sink taking 200 MB/s, as test_fairness */
/* RSS: what the run may add (measured: 650 KiB, of it 30-60 KiB in the
 * second half). Under AddressSanitizer freed memory is kept in its
 * quarantine (256 MiB by default) and counts in RSS: the bounds allow it. */
#if !defined(__SANITIZE_ADDRESS__) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RSS_ASAN_KIB (256 * 1024)
#else
#define RSS_ASAN_KIB 0
#endif
#define RSS_GROWTH_MAX_KIB (8 * 1024 + RSS_ASAN_KIB)
#define RSS_FLAT_MAX_KIB   (1024 + RSS_ASAN_KIB)

static char snap_dir[] = "/tmp/vigil-flood-XXXXXX";

static void rm_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static struct flood_result *run(void)
{
	static struct flood_result r;
	struct flood_opts o = {
		.hostile_bytes = (uint64_t)HOSTILE_MB << 20,
		.min_rounds = ROUNDS,
		.sink_ns_per_kib = SINK_NS_PER_KIB,
		.snap_dir = snap_dir,
		.fake_dump_bytes = FAKE_DUMP_BYTES,
		.hangups = HANGUPS,
		.seed = 0xf100d5eedull,
		.timeout_ms = 60000,
		.deadline_ms = DEADLINE_MS,
		.after_due_ms = AFTER_DUE_MS,
	};

	assert_non_null(mkdtemp(snap_dir));
	assert_int_equal(flood_run(&o, &r), 0);
	assert_int_equal(r.child_err, 0);
	return &r;
}

/* Every byte, by class, as the writer tallied it. */
static void check_accounting(const struct flood_result *r)
{
	const struct hostile_tally *t = &r->tally;
	const struct vigil_session_counters *c = &r->hostile;

	assert_int_equal(t->bytes, t->frame_bytes + 24 * t->oversize + t->noise + t->cut_bytes);
	assert_true(t->bytes >= (uint64_t)HOSTILE_MB << 20);
	assert_int_equal(c->stream.bytes, t->bytes);
	assert_int_equal(r->hostile_rx_bytes, t->bytes);
	/* the identity, from the host's counters alone */
	assert_int_equal(c->stream.garbage_bytes + c->stream.header_crc_errors +
			     24 * c->stream.oversize_frames + c->stream_acct.frame_bytes +
			     c->stream_acct.held_bytes + c->stream_acct.held_dropped_bytes,
			 c->stream.bytes);
	/* and each class as written */
	assert_int_equal(c->stream_acct.frame_bytes, t->frame_bytes);
	assert_int_equal(c->stream.frames, t->frames);
	assert_int_equal(c->stream.oversize_frames, t->oversize);
	assert_int_equal(c->stream.garbage_bytes + c->stream.header_crc_errors, t->noise);
	assert_int_equal(c->stream_acct.held_dropped_bytes, t->cut_bytes);
	assert_int_equal(c->stream_acct.held_bytes, 0);
	assert_int_equal(t->hangups, HANGUPS);
	assert_int_equal(r->port_attaches, HANGUPS);
	assert_true(c->stream.resets >= HANGUPS);
	/* every kind of attack was made */
	for (int k = 0; k < HOSTILE__KINDS; k++)
		if (t->chunks[k] == 0)
			fail_msg("no chunk of kind %d", k);
}

/* The hostile guest's tables held their bounds and counted the rest. */
static void check_bounds(const struct flood_result *r)
{
	const struct vigil_session_counters *c = &r->hostile;
	struct vigil_session_opts d;

	vigil_session_opts_default(&d);
	assert_true(c->tracker.tracked <= d.tracker_capacity);
	assert_true(r->tally.beat_pids > 4 * d.tracker_capacity);
	assert_true(c->tracker.drop_capacity + c->tracker.evicted + c->tracker.drop_throttled > 0);
	assert_true(c->flows.in_table <= d.flow_capacity);
	assert_true(r->tally.flow_keys > 4 * d.flow_capacity);
	assert_true(c->flows.table_full > 0);
	assert_true(c->sys_rdy_repeats > 0);
	assert_int_equal(c->type[VIGIL_MSG_SYS_RDY].frames, r->tally.sys_rdy);
	assert_int_equal(c->type[VIGIL_MSG_SNAPSHOT_REQUEST].frames, r->tally.snapshot_requests);
	assert_int_equal(c->type[VIGIL_MSG_PROCESS_REPORT].frames, r->tally.reports);
	assert_true(c->type[VIGIL_MSG_PROCESS_REPORT].ignored > 0); /* unmatched */
	assert_int_equal(c->stream.epochs, r->tally.hellos);        /* every HELLO had seq 0 */
	assert_int_equal(c->epochs, r->tally.hellos);
}

/* Snapshot files within the documented bound (SECURITY.md). */
static void check_snapshots(const struct flood_result *r)
{
	const struct vigil_session_counters *c = &r->hostile;

	print_message(
	    "snapshots: %llu requests, %llu to the backend, %u dumps (%llu bytes), "
	    "%u files (%llu bytes); busy %llu, unsupported %llu, refused %llu, "
	    "duplicates %llu\n",
	    (unsigned long long)r->tally.snapshot_requests, (unsigned long long)r->snap_calls,
	    r->snap_dumps, (unsigned long long)r->snap_dump_bytes, r->snap_files,
	    (unsigned long long)r->snap_file_bytes, (unsigned long long)c->snapshot_busy,
	    (unsigned long long)c->snapshot_unsupported, (unsigned long long)c->snapshot_refused,
	    (unsigned long long)c->snapshot_duplicates);
	assert_true(r->snap_calls > 100); /* the storm reached the backend */
	assert_true(r->snap_dumps >= 1);
	assert_true(r->snap_dumps <= VIGIL_DUMPS_MAX);
	assert_true(r->snap_dump_bytes <= VIGIL_DUMP_BYTES_MAX);
	assert_true(r->snap_file_bytes <= VIGIL_DUMP_BYTES_MAX + (64ull << 20));
	assert_true(c->snapshot_refused > 0); /* past the bounds: -EDQUOT */
}

/* One stall per silence of the honest guest, never early; its beats all
 * counted. The lateness is printed, not asserted (flood-bench does). */
static void check_honest(const struct flood_result *r)
{
	unsigned flooded = 0;

	assert_true(r->rounds >= ROUNDS);
	assert_int_equal(r->honest_dropped, 0);
	assert_int_equal(r->honest.tracker.beats, r->honest_beats);
	print_message("honest: %u rounds, %llu stalls; stall lateness ms (loop's own):", r->rounds,
		      (unsigned long long)r->honest_stalls);
	for (unsigned k = 0; k < r->rounds; k++) {
		const struct flood_round *rd = &r->round[k];

		if (rd->late_ns == INT64_MIN)
			fail_msg("round %u: no stall in its silence", k);
		assert_true(rd->late_ns >= 0);
		flooded += rd->flooded;
		print_message(" %.2f (%.2f)%s", (double)rd->late_ns / 1e6, (double)rd->own_ns / 1e6,
			      rd->flooded ? "" : "*");
	}
	print_message("\n");
	assert_int_equal(r->honest_stalls, r->rounds); /* none while beating */
	assert_true(flooded >= ROUNDS / 2);            /* the flood ran through them */
}

static void test_flood(void **state)
{
	const struct flood_result *r;

	(void)state;
	r = run();
	print_message("hostile: %.1f MB in %.2f s, %llu frames, %llu oversize, %llu noise bytes, "
		      "%llu cut by %llu hang-ups; rss KiB %ld -> %ld -> %ld\n",
		      (double)r->tally.bytes / 1e6, (double)r->flood_ns / 1e9,
		      (unsigned long long)r->tally.frames, (unsigned long long)r->tally.oversize,
		      (unsigned long long)r->tally.noise, (unsigned long long)r->tally.cut_bytes,
		      (unsigned long long)r->tally.hangups, r->rss_kib_start, r->rss_kib_mid,
		      r->rss_kib_end);
	check_accounting(r);
	check_bounds(r);
	check_honest(r);
	check_snapshots(r);
	assert_true(r->rss_kib_start > 0 && r->rss_kib_mid > 0 && r->rss_kib_end > 0);
	assert_true(r->rss_kib_end - r->rss_kib_start < RSS_GROWTH_MAX_KIB);
	assert_true(r->rss_kib_end - r->rss_kib_mid < RSS_FLAT_MAX_KIB);
	rm_dir(snap_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
