/* SPDX-License-Identifier: MIT */
/*
 * flood: the two-guest flood harness (see flood.h). Memory: the fleet, the
 * shared page with the children, the runqueue samples (touched at setup,
 * so they add nothing to the RSS measured during the run).
 */
#include "flood.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qmplink.h"
#include "synth.h"

#define MS          1000000ull
#define BEATS_ROUND 10
#define BEAT_NS     (20 * MS)
#define SAMPLE_NS   (1 * MS)
#define SAMPLES_MAX (120u * 1000u) /* two minutes of runqueue samples */
#define STEP_BYTES  (8u << 20)     /* the hostile writer checks its flags this often */

/* Written by the children, read by the loop. */
struct shared {
	struct hostile_tally tally; /* the hostile writer's, final once hostile_done */
	volatile int quota_reached; /* it wrote hostile_bytes */
	volatile int hostile_done;  /* it stopped writing */
	volatile int honest_done;   /* the honest writer's last silence ended */
	uint64_t first_byte_ns, last_byte_ns;
	struct flood_round round[FLOOD_ROUNDS_MAX];
	volatile unsigned rounds;
	uint64_t beats, dropped;
	int err;
};

struct rq {
	int fd; /* /proc/thread-self/schedstat */
	uint32_t n;
	uint64_t *t, *wait; /* SAMPLES_MAX each */
	uint32_t n_stalls;
	uint64_t stall_seen[FLOOD_ROUNDS_MAX], stall_wait[FLOOD_ROUNDS_MAX];
};

struct flood {
	const struct flood_opts *o;
	struct flood_result *r;
	struct vigil_loop *loop;
	struct synth_fleet *f;
	struct shared *sh;
	int host_end[HOSTILE_ENDS], peer_end[HOSTILE_ENDS]; /* [0]: the fleet's own */
	unsigned n_ends, next_end;
	uint64_t closes_seen;
	struct vigil_monitor mon;
	struct rq rq;
	uint64_t end_ns;
};

long flood_rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- the runqueue sampler (test_fairness.c) ------------------------------------ */

static uint64_t rq_wait_ns(const struct rq *s)
{
	char buf[128];
	unsigned long long run = 0, wait = 0;
	ssize_t n = pread(s->fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return sscanf(buf, "%llu %llu", &run, &wait) == 2 ? wait : 0;
}

static void rq_tick(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct rq *s = ctx;

	(void)t;
	if (s->n < SAMPLES_MAX) {
		s->t[s->n] = now;
		s->wait[s->n++] = rq_wait_ns(s);
	}
}

static void on_event(void *ctx, unsigned i, const struct vigil_event *ev, uint64_t seen_ns)
{
	struct flood *fl = ctx;
	struct rq *s = &fl->rq;

	if (i != 1 || ev->type != VIGIL_EV_STALL || s->n_stalls >= FLOOD_ROUNDS_MAX)
		return;
	s->stall_seen[s->n_stalls] = seen_ns;
	s->stall_wait[s->n_stalls++] = rq_wait_ns(s);
}

/* The wait from the last sample at or before due_ns to the stall seen at
 * seen_ns; 0 when either is unknown. */
static uint64_t rq_wait_between(const struct rq *s, uint64_t due_ns, uint64_t seen_ns)
{
	uint64_t w0 = UINT64_MAX, w1 = UINT64_MAX;

	for (uint32_t k = 0; k < s->n && s->t[k] <= due_ns; k++)
		w0 = s->wait[k];
	for (uint32_t k = 0; k < s->n_stalls; k++)
		if (s->stall_seen[k] == seen_ns)
			w1 = s->stall_wait[k];
	return w0 != UINT64_MAX && w1 != UINT64_MAX && w1 > w0 ? w1 - w0 : 0;
}

/* ---- the fake monitor: dumps are sparse files, CPU state a fixed text ------------ */

static int mon_dump(void *ctx, const char *path, vigil_qmp_reply_fn cb, void *arg)
{
	struct flood *fl = ctx;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)fl->o->fake_dump_bytes) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	cb(arg, 0, NULL, NULL);
	return 0;
}

static int mon_hmp(void *ctx, const char *cmd, vigil_qmp_reply_fn cb, void *arg)
{
	char text[FLOOD_SNAP_TEXT + 1];
	struct json_object *s;

	(void)ctx;
	(void)cmd;
	memset(text, 'R', FLOOD_SNAP_TEXT);
	text[FLOOD_SNAP_TEXT] = '\0';
	s = json_object_new_string(text);
	cb(arg, 0, s, NULL);
	json_object_put(s);
	return 0;
}

static int on_snapshot(void *ctx, unsigned i, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct flood *fl = ctx;
	struct vigil_qmplink_facts facts = { 0 };

	fl->r->snap_calls++;
	return vigil_vmm_snapshot(&fl->mon, synth_guest(fl->f, i), fl->o->snap_dir, &facts, kind,
				  tag, id);
}

/* ---- the children ------------------------------------------------------------- */

static void child_close_hosts(struct flood *fl)
{
	synth_fleet_close_hosts(fl->f);
	for (unsigned k = 1; k < fl->n_ends; k++)
		close(fl->host_end[k]);
}

static int hostile_main(void *ctx)
{
	struct flood *fl = ctx;
	struct shared *sh = fl->sh;
	struct hostile h;
	int e;

	child_close_hosts(fl);
	close(synth_peer_fd(fl->f, 1));
	e = hostile_init(&h, fl->peer_end, fl->n_ends, fl->o->seed);
	h.hang_every = fl->o->hangups ? fl->o->hostile_bytes / (fl->o->hangups + 1) : 0;
	sh->first_byte_ns = synth_now_ns();
	while (e == 0 && synth_now_ns() < fl->end_ns) {
		e = hostile_run(&h, STEP_BYTES, fl->end_ns);
		if (h.t.bytes >= fl->o->hostile_bytes)
			sh->quota_reached = 1;
		if (sh->quota_reached && sh->honest_done)
			break;
	}
	sh->last_byte_ns = synth_now_ns();
	sh->tally = h.t;
	if (e < 0)
		sh->err = e;
	__atomic_store_n(&sh->hostile_done, 1, __ATOMIC_RELEASE);
	hostile_free(&h);
	return e < 0 ? 1 : 0;
}

static int honest_round(struct flood *fl, struct synth_tx *t, struct flood_round *rd)
{
	const uint32_t pid = FLOOD_HONEST_PID;
	uint32_t dl_ms = fl->o->deadline_ms ? fl->o->deadline_ms : FLOOD_DEADLINE_MS;
	uint64_t after = fl->o->after_due_ms ? fl->o->after_due_ms : 60;
	uint64_t start = synth_now_ns(), prev = 0;

	for (int k = 0; k < BEATS_ROUND; k++) {
		uint64_t stamp;
		int e;

		synth_sleep_until(start + (uint64_t)k * BEAT_NS);
		stamp = synth_now_ns();
		e = synth_tx_beats(t, &pid, 1, dl_ms);
		if (e < 0)
			return e;
		if (k == 0)
			rd->first_beat = stamp;
		else if (stamp - prev > rd->max_gap)
			rd->max_gap = stamp - prev;
		prev = stamp;
		fl->sh->beats++;
		synth_tx_drain(t); /* PINGs */
	}
	rd->last_beat = prev;
	synth_sleep_until(prev + (dl_ms + after) * MS);
	rd->flooded = !fl->sh->hostile_done;
	return 0;
}

static int honest_main(void *ctx)
{
	struct flood *fl = ctx;
	struct shared *sh = fl->sh;
	struct synth_tx t;
	int e;

	child_close_hosts(fl);
	for (unsigned k = 0; k < fl->n_ends; k++)
		close(fl->peer_end[k]);
	e = synth_tx_init(&t, synth_peer_fd(fl->f, 1), 0, fl->o->seed ^ 0x40e57);
	if (e == 0)
		e = synth_tx_hello(&t, "honest");
	if (e == 0)
		e = synth_tx_sys_rdy(&t);
	synth_sleep_until(synth_now_ns() + 50 * MS); /* the flood is under way */
	while (e == 0 && sh->rounds < FLOOD_ROUNDS_MAX &&
	       (sh->rounds < fl->o->min_rounds || !sh->quota_reached) &&
	       synth_now_ns() < fl->end_ns) {
		e = honest_round(fl, &t, &sh->round[sh->rounds]);
		sh->rounds++;
	}
	sh->dropped = t.frames_dropped;
	if (e < 0)
		sh->err = e;
	sh->honest_done = 1;
	synth_tx_free(&t);
	return e < 0 ? 1 : 0;
}

/* ---- the loop's side -------------------------------------------------------------- */

static int setup(struct flood *fl)
{
	struct synth_fleet_opts so = { .n = 2,
				       .name = "flood",
				       .log_cap = 1024,
				       .output_ns_per_kib = fl->o->sink_ns_per_kib,
				       .event = on_event,
				       .ctx = fl,
				       .snapshot = on_snapshot };
	int e = vigil_loop_new(&fl->loop);

	if (e == 0)
		e = synth_fleet_new(fl->loop, &so, &fl->f);
	if (e < 0)
		return e;
	fl->n_ends = fl->o->hangups + 1;
	if (fl->n_ends > HOSTILE_ENDS)
		return -EINVAL;
	fl->host_end[0] = -1; /* the fleet's, attached already */
	fl->peer_end[0] = synth_peer_fd(fl->f, 0);
	for (unsigned k = 1; k < fl->n_ends; k++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		fl->host_end[k] = sv[0];
		fl->peer_end[k] = sv[1];
	}
	fl->next_end = 1;
	fl->mon = (struct vigil_monitor){ .dump_memory = mon_dump, .hmp = mon_hmp, .ctx = fl };
	fl->rq.t = calloc(SAMPLES_MAX, sizeof(uint64_t));
	fl->rq.wait = calloc(SAMPLES_MAX, sizeof(uint64_t));
	if (!fl->rq.t || !fl->rq.wait)
		return -ENOMEM;
	/* touched now: the harness's own memory is not the loop's growth */
	memset(fl->rq.t, 0xff, SAMPLES_MAX * sizeof(uint64_t));
	memset(fl->rq.wait, 0, SAMPLES_MAX * sizeof(uint64_t));
	fl->rq.fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	return fl->rq.fd < 0 ? -errno : 0;
}

static void teardown(struct flood *fl)
{
	for (unsigned k = 1; k < fl->n_ends; k++) {
		if (k >= fl->next_end && fl->host_end[k] >= 0)
			close(fl->host_end[k]);
	}
	if (fl->rq.fd >= 0)
		close(fl->rq.fd);
	free(fl->rq.t);
	free(fl->rq.wait);
	synth_fleet_free(fl->f);
	vigil_loop_free(fl->loop);
}

/* The hostile guest hung up: attach its next end, as a backend reconnects. */
static void reattach(struct flood *fl)
{
	struct synth_guest_stats st;

	synth_guest_stats(fl->f, 0, &st);
	while (fl->closes_seen < st.port_closed) {
		fl->closes_seen++;
		if (fl->next_end < fl->n_ends &&
		    vigil_guest_port_attach(synth_guest(fl->f, 0), fl->host_end[fl->next_end++]) ==
			0)
			fl->r->port_attaches++;
	}
}

static bool all_read(struct flood *fl)
{
	const struct shared *sh = fl->sh;

	return __atomic_load_n(&sh->hostile_done, __ATOMIC_ACQUIRE) && sh->honest_done &&
	       synth_consumed(fl->f, 0) >= sh->tally.bytes;
}

/* What ended a guest's run, when one did (the hostile guest's must not). */
static void flood_say_verdict(const struct vigil_guest *g)
{
	const struct vigil_verdict *v = vigil_guest_verdict(g);

	if (v)
		fprintf(stderr, "flood: %s ended: %s (%s)\n", vigil_guest_name(g),
			vigil_outcome_name(v->outcome), v->primary ? v->primary->detail : "");
}

/* Iterates the loop until every hostile byte is read, sampling RSS. */
static int drive(struct flood *fl)
{
	struct synth_guest_stats s0, s1;
	bool mid = false;

	for (;;) {
		uint64_t now = synth_now_ns();
		int e;

		if (now >= fl->end_ns + 5000 * MS) {
			fprintf(stderr,
				"flood: timed out: hostile done %d, honest done %d (%u rounds), "
				"read %llu of %llu bytes written, guest state %d, port %s\n",
				fl->sh->hostile_done, fl->sh->honest_done, fl->sh->rounds,
				(unsigned long long)synth_consumed(fl->f, 0),
				(unsigned long long)fl->sh->tally.bytes,
				(int)vigil_guest_state(synth_guest(fl->f, 0)),
				vigil_guest_port_attached(synth_guest(fl->f, 0)) ? "attached"
										 : "detached");
			flood_say_verdict(synth_guest(fl->f, 0));
			return -ETIMEDOUT;
		}
		e = vigil_loop_run_once(fl->loop, 10);
		if (e < 0 && e != -EINTR)
			return e;
		reattach(fl);
		synth_guest_stats(fl->f, 0, &s0);
		synth_guest_stats(fl->f, 1, &s1);
		if (!fl->r->rss_kib_start && s0.events[VIGIL_EV_HELLO] && s1.events[VIGIL_EV_HELLO])
			fl->r->rss_kib_start = flood_rss_kib();
		if (!mid && synth_consumed(fl->f, 0) >= fl->o->hostile_bytes / 2) {
			fl->r->rss_kib_mid = flood_rss_kib();
			mid = true;
		}
		if (all_read(fl))
			return 0;
	}
}

/* The honest rounds' lateness, and the loop's own part of it. */
static void rounds(struct flood *fl)
{
	const struct shared *sh = fl->sh;
	struct flood_result *r = fl->r;
	uint64_t dl_ns = (fl->o->deadline_ms ? fl->o->deadline_ms : FLOOD_DEADLINE_MS) * MS;

	r->rounds = sh->rounds;
	for (unsigned k = 0; k < sh->rounds; k++) {
		struct flood_round *rd = &r->round[k];
		uint64_t due, next;
		const struct synth_event *e;

		*rd = sh->round[k];
		due = rd->last_beat + dl_ns;
		next = k + 1 < sh->rounds ? sh->round[k + 1].first_beat : UINT64_MAX;
		e = synth_find(fl->f, 1, VIGIL_EV_STALL, FLOOD_HONEST_PID, rd->first_beat);
		rd->late_ns = rd->own_ns = INT64_MIN;
		if (!e || e->seen_ns >= next)
			continue;
		rd->late_ns = (int64_t)e->seen_ns - (int64_t)due;
		rd->own_ns = rd->late_ns - (int64_t)rq_wait_between(&fl->rq, due, e->seen_ns);
	}
}

/* Files in the snapshot directory and their apparent sizes. */
static void snap_files(const char *dir, struct flood_result *r)
{
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		r->snap_files++;
		r->snap_file_bytes += (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
}

static void collect(struct flood *fl)
{
	struct flood_result *r = fl->r;
	struct vigil_guest *g0 = synth_guest(fl->f, 0), *g1 = synth_guest(fl->f, 1);
	struct synth_guest_stats st;

	r->rss_kib_end = flood_rss_kib();
	r->tally = fl->sh->tally;
	r->hostile.sz = r->honest.sz = sizeof(r->hostile);
	vigil_session_counters(vigil_guest_session(g0), &r->hostile);
	vigil_session_counters(vigil_guest_session(g1), &r->honest);
	r->hostile_rx_bytes = vigil_guest_rx_bytes(g0);
	synth_guest_stats(fl->f, 0, &st);
	memcpy(r->hostile_events, st.events, sizeof(r->hostile_events));
	synth_guest_stats(fl->f, 1, &st);
	r->honest_stalls = st.events[VIGIL_EV_STALL];
	r->honest_beats = fl->sh->beats;
	r->honest_dropped = fl->sh->dropped;
	r->flood_ns = fl->sh->last_byte_ns - fl->sh->first_byte_ns;
	r->snap_dumps = fl->mon.dumps;
	r->snap_dump_bytes = fl->mon.dump_bytes;
	r->child_err = fl->sh->err;
	snap_files(fl->o->snap_dir, r);
	rounds(fl);
}

static int spawn_and_drive(struct flood *fl)
{
	struct vigil_timer *tick = NULL;
	pid_t hostile, honest;
	int e = vigil_timer_new(fl->loop, rq_tick, &fl->rq, &tick);

	if (e < 0)
		return e;
	vigil_timer_set_period(tick, SAMPLE_NS);
	vigil_timer_arm(tick, vigil_loop_now(fl->loop));
	fl->end_ns = synth_now_ns() + (uint64_t)fl->o->timeout_ms * MS;
	hostile = synth_spawn(hostile_main, fl);
	honest = synth_spawn(honest_main, fl);
	synth_fleet_close_peers(fl->f);
	for (unsigned k = 1; k < fl->n_ends; k++)
		close(fl->peer_end[k]);
	e = hostile < 0 ? hostile : honest < 0 ? honest : drive(fl);
	vigil_timer_free(tick);
	if (honest > 0 && synth_reap(honest, e < 0 ? SIGKILL : 0) != 0 && e == 0)
		e = -ECHILD;
	if (hostile > 0 && synth_reap(hostile, e < 0 ? SIGKILL : 0) != 0 && e == 0)
		e = -ECHILD;
	return e;
}

int flood_run(const struct flood_opts *o, struct flood_result *r)
{
	struct flood fl = { .o = o, .r = r, .rq.fd = -1 };
	int e;

	memset(r, 0, sizeof(*r));
	if (o->min_rounds == 0 || o->min_rounds > FLOOD_ROUNDS_MAX || o->timeout_ms <= 0)
		return -EINVAL;
	fl.sh = synth_shared_new(sizeof(*fl.sh));
	if (!fl.sh)
		return -ENOMEM;
	e = setup(&fl);
	if (e == 0)
		e = spawn_and_drive(&fl);
	if (e == 0 || e == -ECHILD)
		collect(&fl);
	if (e < 0)
		fprintf(stderr, "flood: the harness failed: %s (child error %s)\n", strerror(-e),
			fl.sh->err ? strerror(-fl.sh->err) : "none");
	teardown(&fl);
	synth_shared_free(fl.sh, sizeof(*fl.sh));
	return e;
}
