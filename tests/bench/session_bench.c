/* SPDX-License-Identifier: MIT */
/*
 * session-bench: the host session's hot paths.
 *
 * 1. beats_per_s: BEAT records per second through vigil_session_feed(), one
 *    frame of 64 records per call, into a tracker at capacity 4096 holding
 *    4096 random pids (every record accepted; frames are re-sealed with
 *    fresh nonces between timed passes, outside the timing).
 * 2. idle_tick_ns: cost of vigil_session_tick() with 4096 tracked pids and
 *    nothing expiring.
 * 3. stall_p99_late_us: a real-time run of 10 s driven by a timerfd armed at
 *    min(next beat, the session's next deadline): 4096 pids beat at 1000
 *    beats/s in total (one beat per ms, round robin), 1 % of them go silent
 *    after their first beat; for every STALL event, lateness = the time the
 *    sink sees it - the pid's deadline. Reports the p99.
 *
 * 4. output JSON (printed, not on the last line): MB/s of
 *    vigil_event_to_json() for OUTPUT events of 64 KiB chunks (the largest
 *    a frame carries) of printable ASCII, of UTF-8 text and of random
 *    bytes; MB counts input bytes.
 *
 * Usage: session-bench [seconds for part 3, default 10]
 *        SESSION_BENCH_JSON_ONLY=1 session-bench   (part 4 alone)
 * Last line: session-bench: beats_per_s=N idle_tick_ns=T stall_p99_late_us=L
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#define NPIDS     4096u
#define PER_FRAME 64u
#define NFRAMES   1024u /* 65536 records per pass: 16 per pid */
#define FRAME_LEN (VIGIL_WIRE_HDR_LEN + PER_FRAME * VIGIL_WIRE_BEAT_LEN)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1Dull;
}

static uint32_t pids[NPIDS];

static void make_pids(void)
{
	/* Distinct random pids in 2..4194304 (the kernel's pid_max range). */
	for (uint32_t i = 0; i < NPIDS; i++) {
		for (;;) {
			uint32_t p = 2 + (uint32_t)(rnd() % 4194303u);
			uint32_t j;

			for (j = 0; j < i && pids[j] != p; j++)
				;
			if (j == i) {
				pids[i] = p;
				break;
			}
		}
	}
}

static void die(const char *what, int err)
{
	fprintf(stderr, "session-bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static struct vigil_session *new_session(const struct vigil_session_hooks *h, uint64_t now,
					 uint64_t threshold_ns)
{
	VIGIL_SESSION_OPTS(o, .mode = VIGIL_MODE_WATCH, .tracker_capacity = NPIDS,
			   .stall_threshold_ns = threshold_ns, .beat_rate_per_s = 0,
			   .ping_interval_ns = 0);
	struct vigil_session *s;
	int r;

	r = vigil_session_new(&o, h, now, &s);
	if (r < 0)
		die("vigil_session_new", r);
	return s;
}

/* Fill frames[] with NFRAMES frames; record k of the pass beats pid
 * order[k] with nonce base + (its round). */
static void build_frames(uint8_t *frames, const uint32_t *order, uint64_t base, uint32_t *seq)
{
	struct vigil_beat b[PER_FRAME];

	memset(b, 0, sizeof(b));
	for (uint32_t f = 0; f < NFRAMES; f++) {
		uint8_t *fr = frames + (size_t)f * FRAME_LEN;

		for (uint32_t i = 0; i < PER_FRAME; i++) {
			uint32_t k = f * PER_FRAME + i;

			b[i].pid = pids[order[k]];
			b[i].nonce = base + k / NPIDS;
			b[i].status = VIGIL_BEAT_OK;
		}
		int n = vigil_beats_encode(fr + VIGIL_WIRE_HDR_LEN, FRAME_LEN - VIGIL_WIRE_HDR_LEN,
					   b, PER_FRAME);

		if (n < 0 ||
		    vigil_frame_seal(fr, FRAME_LEN, VIGIL_MSG_BEAT, (*seq)++, (size_t)n) < 0)
			die("building frames", EINVAL);
	}
}

static double bench_beats(void)
{
	uint8_t *frames = malloc((size_t)NFRAMES * FRAME_LEN);
	uint32_t *order = malloc(sizeof(uint32_t) * NFRAMES * PER_FRAME);
	uint64_t fake = 1000000000ull;
	uint64_t base = 1;
	uint32_t seq = 0;
	uint64_t records = 0, ns = 0;
	struct vigil_session *s;
	VIGIL_SESSION_COUNTERS(c);

	if (!frames || !order)
		die("malloc", ENOMEM);
	s = new_session(NULL, fake, 3600 * 1000000000ull);
	/* Each pass: every pid 16 times, in random order (shuffled rounds). */
	for (uint32_t k = 0; k < NFRAMES * PER_FRAME; k++)
		order[k] = k % NPIDS;
	for (uint32_t r = 0; r < NFRAMES * PER_FRAME / NPIDS; r++) {
		uint32_t *o = order + r * NPIDS;

		for (uint32_t i = NPIDS - 1; i > 0; i--) {
			uint32_t j = (uint32_t)(rnd() % (i + 1));
			uint32_t t = o[i];

			o[i] = o[j];
			o[j] = t;
		}
	}
	/* Warm-up pass fills the tracker. */
	for (int pass = 0; pass < 400 && ns < 1000000000ull; pass++) {
		build_frames(frames, order, base, &seq);
		base += NFRAMES * PER_FRAME / NPIDS;
		uint64_t t0 = mono_ns();

		for (uint32_t f = 0; f < NFRAMES; f++) {
			fake += 1000;
			vigil_session_feed(s, frames + (size_t)f * FRAME_LEN, FRAME_LEN, fake);
		}
		uint64_t t1 = mono_ns();

		if (pass > 0) {
			ns += t1 - t0;
			records += NFRAMES * PER_FRAME;
		}
	}
	vigil_session_counters(s, &c);
	if (c.tracker.tracked != NPIDS || c.tracker.drop_out_of_order || c.tracker.drop_capacity)
		die("beats were not all accepted", EPROTO);
	printf("beats: %" PRIu64 " records in %.3f s, tracked %u, beats accepted %" PRIu64 "\n",
	       records, (double)ns / 1e9, c.tracker.tracked, c.tracker.beats);
	vigil_session_free(s);
	free(frames);
	free(order);
	return (double)records * 1e9 / (double)ns;
}

static double bench_idle_tick(void)
{
	uint8_t fr[FRAME_LEN];
	struct vigil_beat b[PER_FRAME];
	uint64_t fake = 1000000000ull;
	uint32_t seq = 0;
	struct vigil_session *s = new_session(NULL, fake, 3600 * 1000000000ull);
	VIGIL_SESSION_COUNTERS(c);
	const uint32_t iters = 20000000;
	uint64_t sink = 0;

	memset(b, 0, sizeof(b));
	for (uint32_t f = 0; f < NPIDS / PER_FRAME; f++) {
		for (uint32_t i = 0; i < PER_FRAME; i++) {
			b[i].pid = pids[f * PER_FRAME + i];
			b[i].nonce = 1;
		}
		int n = vigil_beats_encode(fr + VIGIL_WIRE_HDR_LEN, sizeof(fr) - VIGIL_WIRE_HDR_LEN,
					   b, PER_FRAME);

		vigil_frame_seal(fr, sizeof(fr), VIGIL_MSG_BEAT, seq++, (size_t)n);
		vigil_session_feed(s, fr, sizeof(fr), fake);
	}
	vigil_session_counters(s, &c);
	if (c.tracker.tracked != NPIDS)
		die("tracker not full", EPROTO);
	uint64_t t0 = mono_ns();

	for (uint32_t i = 0; i < iters; i++)
		sink += vigil_session_tick(s, fake + i);
	uint64_t t1 = mono_ns();

	vigil_session_counters(s, &c);
	if (c.tracker.stalls)
		die("something expired", EPROTO);
	printf("idle tick: %u calls in %.3f s (deadline checksum %" PRIu64 ")\n", iters,
	       (double)(t1 - t0) / 1e9, sink & 0xff);
	vigil_session_free(s);
	return (double)(t1 - t0) / iters;
}

struct rt_ctx {
	uint64_t *late_ns;
	uint32_t n_late;
	uint32_t cap;
	uint32_t recoveries;
};

static void rt_sink(void *ctx, const struct vigil_event *ev)
{
	struct rt_ctx *c = ctx;

	if (ev->type == VIGIL_EV_RECOVERY)
		c->recoveries++;
	if (ev->type != VIGIL_EV_STALL || c->n_late >= c->cap)
		return;
	uint64_t seen = mono_ns();
	uint64_t deadline = ev->now_ns - ev->process.silence_ns + ev->process.deadline_ns;

	c->late_ns[c->n_late++] = seen > deadline ? seen - deadline : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double bench_stall_latency(double seconds, uint32_t *n_stalls)
{
	const uint64_t beat_every = 1000000;      /* 1000 beats/s */
	const uint64_t threshold = 5000000000ull; /* > the 4.1 s round-robin period */
	uint64_t late[NPIDS];
	struct rt_ctx rc = { .late_ns = late, .cap = NPIDS };
	struct vigil_session_hooks h = { .sink = { rt_sink, &rc } };
	uint8_t fr[VIGIL_WIRE_HDR_LEN + VIGIL_WIRE_BEAT_LEN];
	uint64_t nonce[NPIDS];
	uint8_t silent[NPIDS];
	uint32_t seq = 0, next_pid = 0, n_silent = 0;
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

	if (tfd < 0)
		die("timerfd_create", errno);
	memset(nonce, 0, sizeof(nonce));
	for (uint32_t i = 0; i < NPIDS; i++) {
		silent[i] = (rnd() % 100) == 0;
		n_silent += silent[i];
	}

	uint64_t start = mono_ns();
	uint64_t end = start + (uint64_t)(seconds * 1e9);
	uint64_t next_beat = start;
	struct vigil_session *s = new_session(&h, start, threshold);
	uint64_t deadline = VIGIL_DEADLINE_NONE;

	for (;;) {
		uint64_t now = mono_ns();

		if (now >= end)
			break;
		if (now >= next_beat) {
			/* One beat; a silent pid beats only in the first round. */
			uint32_t p;

			do {
				p = next_pid;
				next_pid = (next_pid + 1) % NPIDS;
			} while (silent[p] && nonce[p] > 0);
			struct vigil_beat b = { .pid = pids[p], .nonce = ++nonce[p] };
			int n = vigil_beats_encode(fr + VIGIL_WIRE_HDR_LEN,
						   sizeof(fr) - VIGIL_WIRE_HDR_LEN, &b, 1);

			vigil_frame_seal(fr, sizeof(fr), VIGIL_MSG_BEAT, seq++, (size_t)n);
			vigil_session_feed(s, fr, sizeof(fr), now);
			next_beat += beat_every;
		}
		deadline = vigil_session_tick(s, mono_ns());

		uint64_t wake = deadline < next_beat ? deadline : next_beat;
		struct itimerspec its = { 0 };

		if (wake > end)
			wake = end;
		its.it_value.tv_sec = (time_t)(wake / 1000000000ull);
		its.it_value.tv_nsec = (long)(wake % 1000000000ull);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
		if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
			die("timerfd_settime", errno);
		uint64_t expirations;

		if (read(tfd, &expirations, sizeof(expirations)) < 0 && errno != EINTR)
			die("read timerfd", errno);
	}
	close(tfd);
	vigil_session_free(s);
	*n_stalls = rc.n_late;
	if (rc.n_late == 0)
		return 0;
	qsort(late, rc.n_late, sizeof(late[0]), cmp_u64);
	uint32_t idx = (uint32_t)((rc.n_late * 99 + 99) / 100) - 1;

	printf("stalls: %u of %u silent pids, recoveries %u, late p50 %.1f us, p99 %.1f us, "
	       "max %.1f us\n",
	       rc.n_late, n_silent, rc.recoveries, (double)late[rc.n_late / 2] / 1e3,
	       (double)late[idx] / 1e3, (double)late[rc.n_late - 1] / 1e3);
	return (double)late[idx] / 1e3;
}

/* MB/s of rendering OUTPUT events of one 64 KiB chunk each. */
static double output_json_mbps(const uint8_t *chunk, uint32_t len)
{
	struct vigil_event ev = { .type = VIGIL_EV_OUTPUT, .now_ns = 1, .t_ns = 1 };
	uint64_t total = 0, out_bytes = 0;
	uint64_t t0 = mono_ns(), t1;

	ev.output.stream = VIGIL_MSG_STDOUT;
	ev.output.crc_ok = true;
	ev.output.data = chunk;
	ev.output.len = len;
	do {
		for (int i = 0; i < 64; i++) {
			char *json;
			int n = vigil_event_to_json(&ev, &json);

			if (n < 0)
				die("vigil_event_to_json", n);
			out_bytes += (uint64_t)n;
			free(json);
			total += len;
		}
		t1 = mono_ns();
	} while (t1 - t0 < 500000000ull);
	if (out_bytes < total)
		die("output JSON shorter than its input", EINVAL);
	return (double)total / 1e6 / ((double)(t1 - t0) / 1e9);
}

static void bench_output_json(void)
{
	enum { CHUNK = 65536 };
	static uint8_t text[CHUNK], utf8[CHUNK], bin[CHUNK];
	static const char words[] = "the quick brown fox jumps over the lazy dog 0123456789\n";
	static const char cyr[] =
	    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 "; /* 2-byte sequences */
	uint64_t x = 0x9e3779b97f4a7c15ull; /* its own generator: rnd() feeds parts 1-3 */

	for (uint32_t i = 0; i < CHUNK; i++) {
		text[i] = (uint8_t)words[i % (sizeof(words) - 1)];
		utf8[i] = (uint8_t)cyr[i % (sizeof(cyr) - 1)];
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		bin[i] = (uint8_t)(x >> 32);
	}
	double a = output_json_mbps(text, CHUNK);
	double b = output_json_mbps(utf8, CHUNK - CHUNK % (sizeof(cyr) - 1));
	double c = output_json_mbps(bin, CHUNK);

	printf("output json: printable %.0f MB/s, utf-8 %.0f MB/s, random bytes %.0f MB/s "
	       "(64 KiB chunks)\n",
	       a, b, c);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10.0;
	uint32_t stalls = 0;

	if (seconds < 6)
		seconds = 6; /* the first stalls come due after 5 s */
	make_pids();
	printf("crc32c: %s\n", vigil_crc32c_impl());
	bench_output_json();
	if (getenv("SESSION_BENCH_JSON_ONLY"))
		return 0;
	double bps = bench_beats();
	double tick = bench_idle_tick();
	double late = bench_stall_latency(seconds, &stalls);

	if (stalls == 0) {
		fprintf(stderr, "session-bench: no stall was reported\n");
		return 1;
	}
	printf("session-bench: beats_per_s=%.0f idle_tick_ns=%.0f stall_p99_late_us=%.0f\n", bps,
	       tick, late);
	return 0;
}
