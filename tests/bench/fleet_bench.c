/* SPDX-License-Identifier: MIT */
/*
 * fleet-bench: one loop watching a fleet of synthetic guests (host/loop,
 * tests/loop/synth.h), fed by a load generator in another process.
 *
 * Guests: 256 guest objects in MODE_WATCH with the session defaults, each
 * port on a socketpair. The generator (a forked child) writes, per guest,
 * HELLO, SYS_RDY and one maximum-size STDOUT frame, then 10 beating pids at
 * 10 beats/s as one BEAT frame of 10 records every 100 ms, at a random
 * phase per guest, each beat declaring a deadline of 1 s; it drains the
 * PINGs the loop sends. In each phase 1 % of the pids (26 of 2560) go
 * silent at a random time, early enough for their stall to fall inside
 * the phase. All times are CLOCK_MONOTONIC, shared with the generator
 * through shared memory (the last beat of every pid).
 *
 * Phase 1 (S s, default 20): honest guests only. C = the loop process's
 *   utime + stime over the phase, as % of one core.
 * Phase 2 (S s): the same, plus one more guest (not counted in guests; its
 *   guest object exists from the start, idle) flooding from another child:
 *   random bytes mixed with valid maximum-size STDOUT frames at full speed.
 *   L = p99 over the silent pids of (stall event seen - (last beat sent +
 *   deadline)), in ms; F = the bytes the flooder's session consumed in the
 *   phase, MB/s (10^6 bytes).
 * M = VmRSS after every guest's session took its maximum-size frame, less
 *   VmRSS before the guests were created, / guests, in KiB.
 * The event sink counts and logs stall events only (no JSON: what the loop
 * and sessions cost, not a sink's output formatting).
 *
 * Environment: FLEET_BENCH_SECONDS (S, default 20, at least 4),
 * FLEET_BENCH_GUESTS (default 256), FLEET_BENCH_DEADLINE_MS (declared per
 * beat, default 1000; 0 = the session's default threshold, 5 s),
 * FLEET_BENCH_BATCH_MS (default 0: the loop runs as vigil_loop_run runs it;
 * N: an experiment, an iteration at most every N ms, see run_batched),
 * FLEET_BENCH_FLOW_CAPACITY (the sessions' flow_capacity; default 4096).
 * Last line: fleet-bench: guests=N cpu_pct=C stall_p99_late_ms=L
 *            flood_MBps=F rss_kib_per_guest=M
 * Load: two busy processes in phase 2 (the flooder and the loop); about
 * 2 S + 2 s.
 */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "synth.h"

#define MS         1000000ull
#define PIDS       10u        /* beating pids per guest */
#define PID_BASE   1000u      /* pids PID_BASE .. PID_BASE + PIDS - 1 */
#define PERIOD_NS  (100 * MS) /* one BEAT frame per guest */
#define SILENT_PCT 1u         /* of the pids, per phase */
#define MAX_GUESTS 4096u
#define GEN_QUEUE  (2u * VIGIL_WIRE_MAX_FRAME)

/* The plan and the generator's record, shared with the children. */
struct pid_rec {
	uint64_t silent_rel_ns;         /* from go_ns; 0: never silent */
	uint8_t silent_phase;           /* 1 or 2; 0: never silent */
	volatile uint64_t last_beat_ns; /* CLOCK_MONOTONIC before its last BEAT frame */
};

struct shared {
	volatile uint64_t go_ns; /* phase 1 starts; 0 until the loop is ready */
	uint64_t phase_ns;       /* S */
	uint32_t guests, deadline_ms;
	uint64_t phase_off_ns[MAX_GUESTS];
	volatile uint64_t gen_frames, gen_dropped, gen_drained;
	volatile int gen_err, flood_err;
	struct pid_rec pid[]; /* guests x PIDS */
};

struct bench {
	struct vigil_loop *loop;
	struct synth_fleet *fleet, *flood;
	struct shared *sh;
	size_t sh_len;
	pid_t gen, flooder;
	struct vigil_timer *end; /* ends vigil_loop_run at a phase's end */
	struct vigil_session_opts sopts;
	uint64_t batch_ns; /* FLEET_BENCH_BATCH_MS: 0, or the batching experiment */
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(uint64_t n)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return n ? (z ^ (z >> 31)) % n : 0;
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : def;
}

/* ---- the plan ----------------------------------------------------------------- */

/* Phases, guest phase offsets, and which pids go silent when: 1 % per
 * phase, each silent early enough for its stall (deadline later) to come
 * a second before the phase ends. */
static void plan(struct shared *sh)
{
	uint32_t n = sh->guests * PIDS, per = (n * SILENT_PCT + 99) / 100;
	uint64_t dl = (sh->deadline_ms ? sh->deadline_ms : 5000u) * MS;
	uint64_t lo = sh->phase_ns / 20, hi = sh->phase_ns - dl - 1000 * MS;

	for (uint32_t g = 0; g < sh->guests; g++)
		sh->phase_off_ns[g] = rnd(PERIOD_NS);
	for (uint8_t ph = 1; ph <= 2; ph++) {
		for (uint32_t k = 0; k < per;) {
			struct pid_rec *p = &sh->pid[rnd(n)];

			if (p->silent_phase)
				continue;
			p->silent_phase = ph;
			p->silent_rel_ns = (ph - 1) * sh->phase_ns + lo + rnd(hi - lo);
			k++;
		}
	}
}

/* ---- the load generator (a child) ------------------------------------------------ */

struct gen {
	struct bench *b;
	struct synth_tx *tx;
	uint32_t *order; /* guests by phase offset */
};

static int gen_setup(struct gen *gn)
{
	struct shared *sh = gn->b->sh;
	char host[32];
	int e = 0;

	for (uint32_t g = 0; g < sh->guests && e == 0; g++) {
		e = synth_tx_init(&gn->tx[g], synth_peer_fd(gn->b->fleet, g), GEN_QUEUE, g + 1);
		snprintf(host, sizeof(host), "guest-%u", g);
		if (e == 0)
			e = synth_tx_hello(&gn->tx[g], host);
		if (e == 0)
			e = synth_tx_sys_rdy(&gn->tx[g]);
		if (e == 0)
			e = synth_tx_stdout(&gn->tx[g], VIGIL_WIRE_MAX_PAYLOAD);
	}
	for (uint32_t g = 0; g < sh->guests && e == 0; g++)
		e = synth_tx_sync(&gn->tx[g], 10000);
	return e;
}

/* One BEAT frame for guest g at time now: its pids not silent yet. */
static int gen_beat(struct gen *gn, uint32_t g, uint64_t now)
{
	struct shared *sh = gn->b->sh;
	uint32_t pids[PIDS];
	unsigned n = 0;
	int e;

	for (uint32_t k = 0; k < PIDS; k++) {
		struct pid_rec *p = &sh->pid[g * PIDS + k];

		if (p->silent_phase && now >= sh->go_ns + p->silent_rel_ns)
			continue;
		pids[n++] = PID_BASE + k;
		p->last_beat_ns = now;
	}
	if (n == 0)
		return 0;
	e = synth_tx_beats(&gn->tx[g], pids, n, sh->deadline_ms);
	sh->gen_frames++;
	if (e == -ENOBUFS) {
		sh->gen_dropped++;
		e = 0;
	}
	return e;
}

static int cmp_off(const void *a, const void *b, void *ctx)
{
	const struct shared *sh = ctx;
	uint64_t x = sh->phase_off_ns[*(const uint32_t *)a];
	uint64_t y = sh->phase_off_ns[*(const uint32_t *)b];

	return x < y ? -1 : x > y;
}

static int gen_main(void *ctx)
{
	struct gen gn = { .b = ctx };
	struct shared *sh = gn.b->sh;
	uint64_t end;
	int e;

	synth_fleet_close_hosts(gn.b->fleet);
	synth_fleet_close_hosts(gn.b->flood);
	gn.tx = calloc(sh->guests, sizeof(*gn.tx));
	gn.order = calloc(sh->guests, sizeof(*gn.order));
	if (!gn.tx || !gn.order)
		return 1;
	for (uint32_t g = 0; g < sh->guests; g++)
		gn.order[g] = g;
	qsort_r(gn.order, sh->guests, sizeof(*gn.order), cmp_off, sh);
	e = gen_setup(&gn);
	while (e == 0 && !sh->go_ns)
		usleep(1000);
	end = sh->go_ns + 2 * sh->phase_ns;
	for (uint64_t base = sh->go_ns; e == 0 && base < end; base += PERIOD_NS) {
		for (uint32_t i = 0; i < sh->guests && e == 0; i++) {
			uint32_t g = gn.order[i];

			synth_sleep_until(base + sh->phase_off_ns[g]);
			e = gen_beat(&gn, g, synth_now_ns());
			if (e == 0 && synth_tx_drain(&gn.tx[g]) > 0)
				sh->gen_drained++;
		}
	}
	if (e < 0)
		sh->gen_err = e;
	return e < 0 ? 1 : 0;
}

/* ---- the flooder (another child) ------------------------------------------------- */

static int flood_main(void *ctx)
{
	struct bench *b = ctx;
	struct shared *sh = b->sh;
	struct synth_tx t;
	int e;

	synth_fleet_close_hosts(b->fleet);
	synth_fleet_close_hosts(b->flood);
	while (!sh->go_ns)
		usleep(1000);
	synth_sleep_until(sh->go_ns + sh->phase_ns);
	e = synth_tx_flooder(&t, synth_peer_fd(b->flood, 0));
	if (e == 0)
		e = synth_tx_flood_until(&t, sh->go_ns + 2 * sh->phase_ns);
	if (e < 0)
		sh->flood_err = e;
	return e < 0 ? 1 : 0;
}

/* ---- the loop's side ----------------------------------------------------------------- */

static bool all_took_max_frame(void *ctx)
{
	const struct synth_fleet *f = ctx;
	struct synth_guest_stats st;

	for (unsigned i = 0; i < synth_fleet_size(f); i++) {
		synth_guest_stats(f, i, &st);
		if (st.output_max == 0)
			return false;
	}
	return true;
}

static void end_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	(void)t;
	(void)now;
	vigil_loop_exit(ctx, 0);
}

/*
 * The experiment of FLEET_BENCH_BATCH_MS: an iteration at most every
 * batch_ns, so that the frames of many guests are read in one wake-up.
 * The loop has no such setting; this shows what one would change.
 */
static int run_batched(struct bench *b, uint64_t t_ns)
{
	for (uint64_t t0 = synth_now_ns(); t0 < t_ns; t0 = synth_now_ns()) {
		int e = vigil_loop_run_once(b->loop, (int)((t_ns - t0) / MS) + 1);

		if (e < 0 && e != -EINTR)
			return e;
		synth_sleep_until(t0 + b->batch_ns < t_ns ? t0 + b->batch_ns : t_ns);
	}
	return 0;
}

/* Runs the loop as `vigil watch` does (vigil_loop_run) until t_ns. */
static int run_to(struct bench *b, uint64_t t_ns)
{
	if (synth_now_ns() >= t_ns)
		return 0;
	if (b->batch_ns)
		return run_batched(b, t_ns);
	vigil_timer_arm(b->end, t_ns);
	return vigil_loop_run(b->loop);
}

struct phase {
	uint64_t t0, t1, cpu0, cpu1, beats0, beats1;
	struct vigil_loop_stats ls0, ls1;
};

static uint64_t fleet_beats(const struct synth_fleet *f)
{
	VIGIL_SESSION_COUNTERS(c);
	uint64_t n = 0;

	for (unsigned i = 0; i < synth_fleet_size(f); i++) {
		vigil_session_counters(vigil_guest_session(synth_guest(f, i)), &c);
		n += c.tracker.beats;
	}
	return n;
}

static int run_phase(struct bench *b, struct phase *p, uint64_t end_ns)
{
	int e;

	p->t0 = synth_now_ns();
	p->cpu0 = cpu_ns();
	p->beats0 = fleet_beats(b->fleet);
	vigil_loop_stats(b->loop, &p->ls0);
	e = run_to(b, end_ns);
	p->t1 = synth_now_ns();
	p->cpu1 = cpu_ns();
	vigil_loop_stats(b->loop, &p->ls1);
	p->beats1 = fleet_beats(b->fleet);
	return e;
}

static void phase_print(const char *name, const struct phase *p)
{
	double s = (double)(p->t1 - p->t0) / 1e9;

	printf("%s: %.1f s, loop cpu %.2f %%, beats %.0f/s, wakeups %.0f/s, dispatched %.0f/s, "
	       "timers fired %.0f/s, timerfd sets %.0f/s, epoll_ctl %.0f/s\n",
	       name, s, 100.0 * (double)(p->cpu1 - p->cpu0) / 1e9 / s,
	       (double)(p->beats1 - p->beats0) / s, (double)(p->ls1.wakeups - p->ls0.wakeups) / s,
	       (double)(p->ls1.dispatched - p->ls0.dispatched) / s,
	       (double)(p->ls1.timers_fired - p->ls0.timers_fired) / s,
	       (double)(p->ls1.timerfd_sets - p->ls0.timerfd_sets) / s,
	       (double)(p->ls1.epoll_ctls - p->ls0.epoll_ctls) / s);
}

/* ---- stall lateness ---------------------------------------------------------------- */

struct late {
	double ms[MAX_GUESTS * PIDS / 50 + 8]; /* silent pids of one phase */
	uint32_t n, missing;
};

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The lateness of every stall of a pid that went silent in phase ph. */
static void lateness(const struct bench *b, uint8_t ph, struct late *out)
{
	const struct shared *sh = b->sh;
	uint64_t dl = (sh->deadline_ms ? sh->deadline_ms : 5000u) * MS;

	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < sh->guests * PIDS; i++) {
		const struct pid_rec *p = &sh->pid[i];
		const struct synth_event *e;

		if (p->silent_phase != ph)
			continue;
		e = synth_find(b->fleet, i / PIDS, VIGIL_EV_STALL, PID_BASE + i % PIDS,
			       sh->go_ns + p->silent_rel_ns);
		if (!e) {
			out->missing++;
			continue;
		}
		out->ms[out->n++] = ((double)e->seen_ns - (double)(p->last_beat_ns + dl)) / 1e6;
	}
	qsort(out->ms, out->n, sizeof(out->ms[0]), cmp_dbl);
}

/* Nearest rank. */
static double pct(const struct late *l, double q)
{
	uint32_t k;

	if (l->n == 0)
		return -1;
	k = (uint32_t)(q * l->n + 0.999999);
	return l->ms[(k ? k : 1) - 1];
}

static void late_print(const char *name, const struct late *l)
{
	printf("%s stalls: %u (missing %u), late ms p50 %.2f p99 %.2f max %.2f\n", name, l->n,
	       l->missing, pct(l, 0.5), pct(l, 0.99), pct(l, 1.0));
}

/* STALL events not matched to a planned silence (none expected). */
static uint64_t unplanned_stalls(const struct bench *b, const struct late *l1,
				 const struct late *l2)
{
	struct synth_guest_stats st;
	uint64_t n = 0;

	for (unsigned g = 0; g < synth_fleet_size(b->fleet); g++) {
		synth_guest_stats(b->fleet, g, &st);
		n += st.events[VIGIL_EV_STALL];
	}
	return n - l1->n - l2->n;
}

/* ---- set-up ---------------------------------------------------------------------------- */

static int fleet(struct bench *b, unsigned n, const char *name, struct synth_fleet **out)
{
	/* the sink logs stalls only: nothing is written per beat or output */
	struct synth_fleet_opts o = { .n = n,
				      .sopts = &b->sopts,
				      .name = name,
				      .log_cap = 16,
				      .log_mask = 1ull << VIGIL_EV_STALL };

	return synth_fleet_new(b->loop, &o, out);
}

/* Guests, children, every guest's maximum-size frame taken: M in KiB. */
static double setup(struct bench *b)
{
	long rss0, rss_new, rss1;
	int e;

	if (vigil_loop_new(&b->loop) < 0 ||
	    vigil_timer_new(b->loop, end_due, b->loop, &b->end) < 0 ||
	    fleet(b, 1, "flood", &b->flood) < 0)
		return -1;
	rss0 = rss_kib();
	e = fleet(b, b->sh->guests, "guest", &b->fleet);
	if (e < 0) {
		fprintf(stderr, "fleet-bench: cannot create %u guests: %s (ulimit -n?)\n",
			b->sh->guests, strerror(-e));
		return -1;
	}
	rss_new = rss_kib();
	b->gen = synth_spawn(gen_main, b);
	b->flooder = synth_spawn(flood_main, b);
	if (b->gen < 0 || b->flooder < 0)
		return -1;
	synth_fleet_close_peers(b->fleet);
	synth_fleet_close_peers(b->flood);
	e = synth_run_until(b->loop, all_took_max_frame, b->fleet, 60000);
	if (e < 0) {
		fprintf(stderr, "fleet-bench: the guests' first frames did not arrive: %s\n",
			strerror(-e));
		return -1;
	}
	rss1 = rss_kib();
	printf("rss: %ld KiB before the guests; per guest %.1f KiB once created, %.1f KiB once "
	       "they took their first frames (the last a maximum-size one)\n",
	       rss0, (double)(rss_new - rss0) / b->sh->guests,
	       (double)(rss1 - rss0) / b->sh->guests);
	return (double)(rss1 - rss0) / b->sh->guests;
}

static int config(struct bench *b)
{
	long secs = env_long("FLEET_BENCH_SECONDS", 20);
	long guests = env_long("FLEET_BENCH_GUESTS", 256);
	long dl = env_long("FLEET_BENCH_DEADLINE_MS", 1000);
	long batch = env_long("FLEET_BENCH_BATCH_MS", 0);
	long flows = env_long("FLEET_BENCH_FLOW_CAPACITY", 0);

	if (secs < 4 || secs > 3600 || guests < 1 || guests > MAX_GUESTS || dl < 0 || dl > 60000 ||
	    (uint64_t)(dl ? dl : 5000) * MS + 2000 * MS >= (uint64_t)secs * 1000 * MS) {
		fprintf(stderr, "fleet-bench: FLEET_BENCH_SECONDS 4..3600 (and over the "
				"deadline + 2 s), FLEET_BENCH_GUESTS 1..4096, "
				"FLEET_BENCH_DEADLINE_MS 0..60000, FLEET_BENCH_BATCH_MS 0..1000, "
				"FLEET_BENCH_FLOW_CAPACITY 0 (the default) or 16..65536\n");
		return -EINVAL;
	}
	b->sh_len = sizeof(struct shared) + (size_t)guests * PIDS * sizeof(struct pid_rec);
	b->sh = synth_shared_new(b->sh_len);
	if (!b->sh)
		return -ENOMEM;
	b->sh->phase_ns = (uint64_t)secs * 1000 * MS;
	b->sh->guests = (uint32_t)guests;
	b->sh->deadline_ms = (uint32_t)dl;
	b->batch_ns = (uint64_t)batch * MS;
	vigil_session_opts_default(&b->sopts);
	b->sopts.mode = VIGIL_MODE_WATCH;
	if (flows)
		b->sopts.flow_capacity = (uint32_t)flows;
	plan(b->sh);
	return 0;
}

int main(void)
{
	struct bench b = { 0 };
	struct phase p1, p2;
	struct late l1, l2;
	uint64_t go, f0, f1;
	double m, c, flood;

	signal(SIGPIPE, SIG_IGN);
	if (config(&b) < 0)
		return 2;
	m = setup(&b);
	if (m < 0)
		return 1;
	go = synth_now_ns() + 200 * MS;
	b.sh->go_ns = go;
	if (run_to(&b, go) < 0 || run_phase(&b, &p1, go + b.sh->phase_ns) < 0)
		return 1;
	f0 = synth_consumed(b.flood, 0);
	if (run_phase(&b, &p2, go + 2 * b.sh->phase_ns) < 0)
		return 1;
	f1 = synth_consumed(b.flood, 0);
	synth_reap(b.flooder, SIGKILL);
	synth_reap(b.gen, SIGKILL);

	c = 100.0 * (double)(p1.cpu1 - p1.cpu0) / (double)(p1.t1 - p1.t0);
	flood = (double)(f1 - f0) / 1e6 / ((double)(p2.t1 - p2.t0) / 1e9);
	lateness(&b, 1, &l1);
	lateness(&b, 2, &l2);
	phase_print("phase 1 (honest)", &p1);
	phase_print("phase 2 (+ flooder)", &p2);
	late_print("phase 1", &l1);
	late_print("phase 2", &l2);
	printf("generator: %llu frames, %llu dropped, errors %d/%d; unplanned stalls %llu\n",
	       (unsigned long long)b.sh->gen_frames, (unsigned long long)b.sh->gen_dropped,
	       b.sh->gen_err, b.sh->flood_err, (unsigned long long)unplanned_stalls(&b, &l1, &l2));
	printf("fleet-bench: guests=%u cpu_pct=%.2f stall_p99_late_ms=%.2f flood_MBps=%.0f "
	       "rss_kib_per_guest=%.0f\n",
	       b.sh->guests, c, l2.missing ? -1.0 : pct(&l2, 0.99), flood, m);
	vigil_timer_free(b.end);
	synth_fleet_free(b.fleet);
	synth_fleet_free(b.flood);
	vigil_loop_free(b.loop);
	synth_shared_free(b.sh, b.sh_len);
	return 0;
}
