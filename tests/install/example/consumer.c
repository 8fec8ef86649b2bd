/* SPDX-License-Identifier: MIT */
/*
 * A minimal embedder of libvigil-host (docs/embedding.md shows this file).
 * One session is fed a guest stream built with the wire encoders, on a
 * simulated clock: the loop ticks the session at each deadline it asks for
 * and feeds the guest's frames every 100 ms, as an event loop would with a
 * timer and a readable port. A sink prints the events, a writer takes the
 * frames the session sends the guest (PINGs here), and the verdict decides
 * the exit code, as `vigil run` does.
 *
 * usage: consumer pass|stall|sched-exit
 *   pass        pids 42 and 43 beat, 42 says goodbye, the workload exits 0
 *               -> PASS, exit code 0
 *   stall       pid 42 stops beating at 500 ms while 43 goes on
 *               -> PROCESS_STALL (pid 42), exit code 121
 *   sched-exit  the scheduler under test exits at 800 ms
 *               -> SCHED_EXIT, exit code 120
 * Limits: one guest, at most 2 s of simulated time, 4 KiB of frames a step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#define MS 1000000ull

enum mode { MODE_PASS, MODE_STALL, MODE_SCHED_EXIT };

/* The guest's side: frames waiting to be fed, and the next sequence number. */
struct guest {
	uint8_t buf[4096];
	size_t len;
	uint32_t seq; /* HELLO with seq 0 starts the stream */
};

/* Where the next payload goes (after a frame header) and the room there. */
static uint8_t *payload_at(struct guest *g)
{
	return g->buf + g->len + VIGIL_WIRE_HDR_LEN;
}

static size_t payload_room(const struct guest *g)
{
	return sizeof(g->buf) - g->len - VIGIL_WIRE_HDR_LEN;
}

/* Seal the payload an encoder just wrote (n bytes, or its -errno). */
static void put(struct guest *g, uint16_t type, int n)
{
	if (n >= 0)
		n = vigil_frame_seal(g->buf + g->len, sizeof(g->buf) - g->len, type, g->seq,
				     (size_t)n);
	if (n < 0) {
		fprintf(stderr, "consumer: cannot build %s: %s\n", vigil_msg_name(type),
			strerror(-n));
		exit(2);
	}
	g->len += (size_t)n;
	g->seq++;
}

static void beat(struct guest *g, uint32_t pid, uint64_t ms, uint16_t status)
{
	struct vigil_beat b = { .pid = pid,
				.nonce = ms + 1, /* strictly rising per pid */
				.guest_mono_ns = ms * MS,
				.status = status,
				.origin = VIGIL_ORIGIN_SOCKET_MODE,
				.deadline_ms = 200 }; /* the next beat within 200 ms */

	put(g, VIGIL_MSG_BEAT, vigil_beats_encode(payload_at(g), payload_room(g), &b, 1));
}

/* What the guest sends at ms. */
static void guest_at(struct guest *g, enum mode m, uint64_t ms)
{
	if (ms == 0) {
		struct vigil_hello h = { .proto_version = VIGIL_WIRE_VERSION,
					 .guest_boottime_ns = 900 * MS,
					 .agent_version = VIGIL_STR("consumer-0.1"),
					 .kernel_release = VIGIL_STR("6.1.0"),
					 .hostname = VIGIL_STR("guest") };

		put(g, VIGIL_MSG_HELLO, vigil_hello_encode(payload_at(g), payload_room(g), &h));
		put(g, VIGIL_MSG_SYS_RDY, vigil_sys_rdy_encode(payload_at(g), payload_room(g)));
	}
	if (m == MODE_SCHED_EXIT && ms == 800) {
		struct vigil_sched_exit x = { .exit_code = -1,
					      .kind = VIGIL_SCX_ERROR_STALL,
					      .reason = VIGIL_STR("runnable task stall") };

		put(g, VIGIL_MSG_SCHED_EXIT,
		    vigil_sched_exit_encode(payload_at(g), payload_room(g), &x));
		return;
	}
	if (m == MODE_PASS && ms == 1000) {
		struct vigil_exit x = { .exit_status = 0, .signal = 0 };

		beat(g, 42, ms, VIGIL_BEAT_STOPPING);
		beat(g, 43, ms, VIGIL_BEAT_STOPPING);
		put(g, VIGIL_MSG_EXIT, vigil_exit_encode(payload_at(g), payload_room(g), &x));
		return;
	}
	if (m != MODE_STALL || ms < 500)
		beat(g, 42, ms, VIGIL_BEAT_OK);
	beat(g, 43, ms, VIGIL_BEAT_OK);
}

/* The sink: every event, synchronously, from the call that caused it. */
static void on_event(void *ctx, const struct vigil_event *ev)
{
	(void)ctx;
	printf("%7.3f s  %s", (double)ev->t_ns / 1e9, vigil_event_name(ev->type));
	if (ev->type == VIGIL_EV_PROCESS_NEW || ev->type == VIGIL_EV_STALL ||
	    ev->type == VIGIL_EV_PROCESS_GONE)
		printf(" pid %u", (unsigned)ev->process.pid);
	if (ev->type == VIGIL_EV_FINDING)
		printf(" %s", vigil_outcome_name(ev->finding.finding->outcome));
	printf("\n");
}

/* The writer: frames for the guest. A real one queues them for the port
 * without blocking; returning a negative errno drops the frame (counted). */
static int to_guest(void *ctx, const uint8_t *frame, size_t len)
{
	struct vigil_frame_hdr h;
	unsigned *frames = ctx;

	if (vigil_frame_hdr_decode(frame, len, &h) == 0)
		printf("          -> guest: %s\n", vigil_msg_name(h.type));
	(*frames)++;
	return 0;
}

/* Tick the session at every deadline due by `until` and return `until`,
 * or stop at the moment the run ends. Never hands the session a time
 * earlier than one it has seen. */
static uint64_t run_until(struct vigil_session *s, uint64_t now, uint64_t until)
{
	uint64_t dl;

	while ((dl = vigil_session_next_deadline(s)) <= until) {
		now = dl > now ? dl : now;
		vigil_session_tick(s, now);
		if (vigil_session_ended(s))
			return now;
	}
	return until > now ? until : now;
}

int main(int argc, char **argv)
{
	static const char *names[] = { "pass", "stall", "sched-exit" };
	const uint64_t t0 = 1000 * MS; /* the caller's CLOCK_MONOTONIC */
	enum mode m = MODE_PASS;
	unsigned frames_out = 0;

	if (argc != 2 ||
	    (strcmp(argv[1], names[0]) && strcmp(argv[1], names[1]) && strcmp(argv[1], names[2]))) {
		fprintf(stderr, "usage: consumer pass|stall|sched-exit\n");
		return 2;
	}
	while (strcmp(argv[1], names[m]))
		m++;

	/* sz and every default set; a stall ends the run; 2 s at most */
	VIGIL_SESSION_OPTS(o, .on_stall = VIGIL_ON_STALL_FAIL, .run_timeout_ns = 2000 * MS);
	const char *bad = NULL;
	if (vigil_session_opts_check(&o, &bad) < 0) {
		fprintf(stderr, "consumer: option %s is out of range\n", bad);
		return 2;
	}

	struct vigil_session_hooks hooks = {
		.sink = { on_event, NULL },
		.writer = { to_guest, &frames_out },
	};
	struct vigil_session *s;
	int r = vigil_session_new(&o, &hooks, t0, &s);
	if (r < 0) {
		fprintf(stderr, "consumer: vigil_session_new: %s\n", strerror(-r));
		return 2;
	}

	printf("libvigil-host %s, libvigil-wire %s (headers %s)\n", vigil_host_version(),
	       vigil_version(), VIGIL_VERSION_STRING);
	struct guest g = { .len = 0, .seq = 0 };
	uint64_t now = t0;
	vigil_session_link_up(s, now);
	for (uint64_t ms = 0; ms <= 1500 && !vigil_session_ended(s); ms += 100) {
		now = run_until(s, now, t0 + ms * MS);
		guest_at(&g, m, ms);
		vigil_session_feed(s, g.buf, g.len, now); /* any split works */
		g.len = 0;
	}
	if (!vigil_session_ended(s)) /* the run timeout (2 s) ends it at the latest */
		now = run_until(s, now, t0 + 2000 * MS);

	const struct vigil_verdict *v = vigil_session_finish(s, now);
	char line[512];
	vigil_verdict_summary(v, line, sizeof(line));
	printf("summary: %s\n", line);
	if (v->primary)
		printf("primary: %s pid %u\n", vigil_outcome_name(v->primary->outcome),
		       (unsigned)v->primary->pid);
	printf("frames to the guest: %u\n", frames_out);
	int code = vigil_verdict_exit_code(v);
	printf("verdict: %s, exit code %d\n", vigil_outcome_name(v->outcome), code);
	vigil_session_free(s);
	return code;
}
