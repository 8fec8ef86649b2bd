/* SPDX-License-Identifier: MIT */
/* Tests for guest/chan.c: priorities, drops, coalescing, stalls, reads, staged output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#include "chan.h"
#include "rx.h"

struct fx {
	int sv[2]; /* [0] host side, [1] the agent's port */
	struct chan c;
	struct rx rx;
	int frames_seen;
	uint16_t last_type;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->sv), 0);
	fcntl(f->sv[1], F_SETFL, O_NONBLOCK);
	assert_int_equal(chan_init(&f->c, f->sv[1], NULL, NULL, NULL), 0);
	rx_init(&f->rx);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	chan_fini(&f->c);
	rx_free(&f->rx);
	close(f->sv[0]);
	close(f->sv[1]);
	free(f);
	return 0;
}

/* Flush and read until the channel has nothing left. */
static void pump_all(struct fx *f)
{
	for (int i = 0; i < 10000 && chan_pending(&f->c); i++) {
		int e = chan_flush(&f->c, 1);

		assert_true(e == 0 || e == -EAGAIN);
		rx_pump(&f->rx, f->sv[0], 0);
	}
	assert_false(chan_pending(&f->c));
	while (rx_pump(&f->rx, f->sv[0], 10) > 0)
		;
}

static void push_out(struct chan *c, uint32_t id, uint32_t len)
{
	uint8_t buf[65536];

	memset(buf, (int)(id & 0xff), len);
	if (len >= 4)
		vigil_put32(buf, id);
	assert_int_equal(chan_push(c, CHAN_Q_OUT, VIGIL_MSG_STDOUT, buf, len, false), 0);
}

static void test_priorities(void **state)
{
	struct fx *f = *state;
	struct vigil_beat b = { .pid = 42, .nonce = 1, .status = 0 };
	uint8_t flow[64] = { 4, 6, 1 };

	push_out(&f->c, 1, 10);
	push_out(&f->c, 2, 10);
	assert_int_equal(chan_push(&f->c, CHAN_Q_REC, VIGIL_MSG_FLOW, flow, 64, false), 0);
	chan_beat(&f->c, &b);
	assert_int_equal(chan_push(&f->c, CHAN_Q_CTL, VIGIL_MSG_SYS_RDY, NULL, 0, false), 0);
	pump_all(f);
	assert_int_equal(f->rx.n, 5);
	assert_int_equal(f->rx.f[0].type, VIGIL_MSG_SYS_RDY);
	assert_int_equal(f->rx.f[1].type, VIGIL_MSG_BEAT);
	assert_int_equal(f->rx.f[2].type, VIGIL_MSG_FLOW);
	assert_int_equal(f->rx.f[3].type, VIGIL_MSG_STDOUT);
	assert_int_equal(vigil_le32(rx_payload(&f->rx, 3)), 1);
	assert_int_equal(vigil_le32(rx_payload(&f->rx, 4)), 2);
	/* seq is assigned at write time: 0, 1, 2... whatever the queue. */
	for (size_t i = 0; i < f->rx.n; i++) {
		assert_int_equal(f->rx.f[i].seq, i);
		assert_true(f->rx.f[i].crc_ok);
	}
	assert_int_equal(f->c.st.frames_sent, 5);
}

static void test_exit_follows_output(void **state)
{
	struct fx *f = *state;
	uint8_t ex[8] = { 3 };

	push_out(&f->c, 7, 100);
	assert_int_equal(chan_push(&f->c, CHAN_Q_CTL, VIGIL_MSG_EXIT, ex, 8, true), 0);
	assert_int_equal(chan_push(&f->c, CHAN_Q_CTL, VIGIL_MSG_PONG, ex, 8, false) == 0, 1);
	push_out(&f->c, 8, 100); /* queued after EXIT: may follow it */
	pump_all(f);
	assert_int_equal(f->rx.n, 4);
	assert_int_equal(f->rx.f[0].type, VIGIL_MSG_STDOUT);
	assert_int_equal(vigil_le32(rx_payload(&f->rx, 0)), 7);
	assert_int_equal(f->rx.f[1].type, VIGIL_MSG_EXIT);
	assert_int_equal(f->rx.f[2].type, VIGIL_MSG_PONG);
	assert_int_equal(f->rx.f[3].type, VIGIL_MSG_STDOUT);
}

static void test_output_drops_oldest(void **state)
{
	struct fx *f = *state;
	const uint32_t n = 2000, len = 1000;

	for (uint32_t i = 0; i < n; i++)
		push_out(&f->c, i, len);
	assert_true(f->c.st.frames_dropped > 0);
	pump_all(f);
	/* Every frame is either delivered or counted as dropped, payload bytes too. */
	assert_int_equal(f->rx.n + f->c.st.frames_dropped, n);
	assert_int_equal(f->c.st.bytes_dropped, (uint64_t)f->c.st.frames_dropped * len);
	/* The newest survive, in order. */
	for (size_t i = 0; i < f->rx.n; i++)
		assert_int_equal(vigil_le32(rx_payload(&f->rx, i)), f->c.st.frames_dropped + i);
}

static void test_control_never_dropped(void **state)
{
	struct fx *f = *state;
	uint8_t buf[1000] = { 0 };
	uint32_t ok = 0;

	for (uint32_t i = 0; i < 10000; i++) {
		vigil_put32(buf, i);
		if (chan_push(&f->c, CHAN_Q_CTL, VIGIL_MSG_SCENARIO_START, buf, sizeof(buf),
			      false) < 0)
			break;
		ok++;
	}
	assert_true(ok > 100 && ok < 10000);
	assert_int_equal(f->c.st.ctl_full, 1);
	/* Output pressure never evicts control items. */
	for (uint32_t i = 0; i < 2000; i++)
		push_out(&f->c, i, 1000);
	pump_all(f);
	for (uint32_t i = 0; i < ok; i++) {
		assert_int_equal(f->rx.f[i].type, VIGIL_MSG_SCENARIO_START);
		assert_int_equal(vigil_le32(rx_payload(&f->rx, i)), i);
	}
}

static void test_beats_coalesce(void **state)
{
	struct fx *f = *state;
	struct vigil_records recs;
	struct vigil_beat b = { .pid = 100, .nonce = 1 }, got;
	size_t beats = 0;

	chan_beat(&f->c, &b);
	b.nonce = 2;
	b.app_payload = 9;
	chan_beat(&f->c, &b);
	assert_int_equal(f->c.st.beats_coalesced, 1);
	for (uint32_t p = 1000; p < 1000 + 5000; p++) {
		b.pid = p;
		chan_beat(&f->c, &b);
	}
	assert_int_equal(f->c.nbeats, CHAN_BEAT_CAP);
	assert_int_equal(f->c.st.beats_dropped, 5000 - (CHAN_BEAT_CAP - 1));
	pump_all(f);
	for (size_t i = 0; i < f->rx.n; i++) {
		assert_int_equal(f->rx.f[i].type, VIGIL_MSG_BEAT);
		assert_int_equal(vigil_beats_decode(rx_payload(&f->rx, i), f->rx.f[i].len, &recs),
				 0);
		assert_true(recs.count <= VIGIL_WIRE_MAX_RECORDS);
		if (i == 0) {
			vigil_beat_get(&recs, 0, &got);
			assert_int_equal(got.pid, 100);
			assert_int_equal(got.nonce, 2);
			assert_int_equal(got.app_payload, 9);
		}
		beats += recs.count;
	}
	assert_int_equal(beats, CHAN_BEAT_CAP);
	assert_int_equal(f->rx.n, (CHAN_BEAT_CAP + 1023) / 1024);
}

static void test_stalled_reader(void **state)
{
	struct fx *f = *state;
	int small = 4096;
	uint64_t t0 = 1000;
	int e = 0;

	setsockopt(f->sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	for (uint32_t i = 0; i < 300; i++)
		push_out(&f->c, i, 4000);
	/* Nobody reads: the flush returns instead of blocking. */
	for (int i = 0; i < 5 && e != -EAGAIN; i++)
		e = chan_flush(&f->c, t0);
	assert_int_equal(e, -EAGAIN);
	assert_true(f->c.st.write_stalls > 0);
	assert_true(f->c.blocked_since != 0);
	assert_false(chan_stalled(&f->c, t0 + 10, 1000));
	assert_true(chan_stalled(&f->c, t0 + 5000, 1000));
	assert_int_equal(chan_push(&f->c, CHAN_Q_CTL, VIGIL_MSG_SCENARIO_END, "\0\0", 2, false), 0);
	pump_all(f);
	assert_int_equal(f->c.blocked_since, 0);
	assert_true(rx_find(&f->rx, VIGIL_MSG_SCENARIO_END, 0) >= 0);
	for (size_t i = 0; i < f->rx.n; i++)
		assert_int_equal(f->rx.f[i].seq, i);
	assert_int_equal(f->rx.a->st.lost_frames, 0);
}

static void test_disconnect(void **state)
{
	struct fx *f = *state;

	push_out(&f->c, 1, 10);
	close(f->sv[0]);
	f->sv[0] = -1;
	assert_int_equal(chan_flush(&f->c, 5), -EPIPE);
	assert_false(f->c.connected);
	assert_int_equal(f->c.st.disconnects, 1);
	assert_int_equal(chan_probe(&f->c), 0); /* still hung up */
	assert_int_equal(chan_read(&f->c), -EPIPE);
}

static void on_frame(void *ctx, const struct vigil_frame *fr)
{
	struct fx *f = ctx;

	f->frames_seen++;
	f->last_type = fr->hdr.type;
}

static void test_read_gate(void **state)
{
	struct fx *f = *state;
	uint8_t ping[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t buf[64];
	int n;

	f->c.on_frame = on_frame;
	f->c.ctx = f;
	assert_int_equal(rx_send(f->sv[0], VIGIL_MSG_PING, 0, ping, 8), 0);
	/* Torn payload: header fine, payload CRC wrong. */
	n = vigil_frame_encode(buf, sizeof(buf), VIGIL_MSG_PING, 1, ping, 8);
	buf[n - 1] ^= 1;
	assert_int_equal(write(f->sv[0], buf, (size_t)n), n);
	/* A guest-bound type from the host: wrong direction. */
	assert_int_equal(rx_send(f->sv[0], VIGIL_MSG_SYS_RDY, 2, NULL, 0), 0);
	/* Malformed: PING with 4 bytes. */
	assert_int_equal(rx_send(f->sv[0], VIGIL_MSG_PING, 3, ping, 4), 0);
	/* Unknown host type. */
	assert_int_equal(rx_send(f->sv[0], 0x8FFF, 4, NULL, 0), 0);
	assert_int_equal(chan_read(&f->c), 5);
	assert_int_equal(f->frames_seen, 1);
	assert_int_equal(f->last_type, VIGIL_MSG_PING);
	assert_int_equal(f->c.st.rx_rejected, 4);
	assert_int_equal(f->c.st.rx_frames, 1);
}

/* INSPECT is a known type, but an agent that does not answer it (no HELLO
 * bit 6) counts it as unknown; one that does gets the well-formed ones. */
static void test_read_gate_inspect(void **state)
{
	struct fx *f = *state;
	struct vigil_inspect in = { 9, 412 };
	uint8_t p[8];

	f->c.on_frame = on_frame;
	f->c.ctx = f;
	assert_int_equal(vigil_inspect_encode(p, sizeof(p), &in), 8);
	assert_int_equal(rx_send(f->sv[0], VIGIL_MSG_INSPECT, 0, p, 8), 0);
	assert_int_equal(chan_read(&f->c), 1);
	assert_int_equal(f->frames_seen, 0);
	assert_int_equal(f->c.st.rx_rejected, 1);
	f->c.rx_inspect = true;
	assert_int_equal(rx_send(f->sv[0], VIGIL_MSG_INSPECT, 1, p, 8), 0);
	vigil_put32(p + 4, 1); /* pid 1: malformed */
	assert_int_equal(rx_send(f->sv[0], VIGIL_MSG_INSPECT, 2, p, 8), 0);
	assert_int_equal(chan_read(&f->c), 2);
	assert_int_equal(f->frames_seen, 1);
	assert_int_equal(f->last_type, VIGIL_MSG_INSPECT);
	assert_int_equal(f->c.st.rx_rejected, 2);
	assert_int_equal(f->c.st.rx_frames, 1);
}

/* The core's PING handler, at chan level: PONG through the outside quota. */
static void pong_frame(void *ctx, const struct vigil_frame *fr)
{
	struct fx *f = ctx;
	uint8_t buf[16];
	struct vigil_pong p = { .guest_mono_ns = 1 };

	assert_int_equal(vigil_ping_decode(fr->payload, fr->hdr.len, &p.token), 0);
	assert_int_equal(vigil_pong_encode(buf, sizeof(buf), &p), 16);
	assert_int_equal(chan_push(&f->c, CHAN_Q_CTL_EXT, VIGIL_MSG_PONG, buf, 16, false), 0);
	f->frames_seen++;
}

/* A host flooding PINGs: decoding pauses at half the control queue, no PONG is lost. */
static void test_ping_flood(void **state)
{
	struct fx *f = *state;
	const uint32_t n = 20000;
	static uint8_t out[32 * 20000];
	size_t len = 0, off = 0;
	uint64_t next = 0;
	uint32_t internal = 0; /* bytes of the agent's own pushes below, past the half */
	bool paused = false;

	f->c.on_frame = pong_frame;
	f->c.ctx = f;
	fcntl(f->sv[0], F_SETFL, O_NONBLOCK);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t tok[8];

		vigil_put64(tok, i);
		len += (size_t)vigil_frame_encode(out + len, sizeof(out) - len, VIGIL_MSG_PING, i,
						  tok, 8);
	}
	for (int round = 0; round < 100000 && next < n; round++) {
		ssize_t w = off < len ? write(f->sv[0], out + off, len - off) : 0;

		if (w > 0)
			off += (size_t)w;
		assert_true(chan_read(&f->c) >= 0);
		assert_true(f->c.ctl.used <= f->c.ctl.cap / 2 + internal);
		if (f->c.rx_held && !paused) {
			paused = true;
			/* The agent's own control frames still fit. */
			assert_int_equal(
			    chan_push(&f->c, CHAN_Q_CTL, VIGIL_MSG_SYS_RDY, NULL, 0, false), 0);
			internal = 16;
		}
		/* Only now and then does the host read: pressure builds. */
		if (round % 4 == 0) {
			chan_flush(&f->c, 1);
			while (rx_pump(&f->rx, f->sv[0], 0) > 0)
				;
			for (; f->rx.n && next < n;) {
				ssize_t i = rx_find(&f->rx, VIGIL_MSG_PONG, 0);
				struct vigil_pong p;

				if (i < 0)
					break;
				assert_int_equal(vigil_pong_decode(rx_payload(&f->rx, (size_t)i),
								   f->rx.f[i].len, &p),
						 0);
				assert_int_equal(p.token, next);
				next++;
				f->rx.f[i].type = 0; /* consumed */
			}
		}
	}
	assert_int_equal(next, n);
	assert_true(paused);
	assert_int_equal(f->c.st.ctl_ext_full, 0);
	assert_int_equal(f->c.st.rx_frames, n);
}

/* Differential: random pushes and partial reads against the conservation rules. */
static void test_random_conservation(void **state)
{
	struct fx *f = *state;
	uint32_t seed = 12345, pushed = 0, last = 0;
	uint64_t pushed_bytes = 0, got_bytes = 0;

	for (int round = 0; round < 3000; round++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t len = 4 + (seed >> 8) % 30000;

		push_out(&f->c, pushed++, len);
		pushed_bytes += len;
		if ((seed >> 4) % 7 == 0) {
			chan_flush(&f->c, 1);
			rx_pump(&f->rx, f->sv[0], 0);
		}
	}
	pump_all(f);
	for (size_t i = 0; i < f->rx.n; i++) {
		uint32_t id = vigil_le32(rx_payload(&f->rx, i));

		assert_true(i == 0 || id > last); /* a subsequence, in order */
		last = id;
		got_bytes += f->rx.f[i].len;
	}
	assert_int_equal(f->rx.n + f->c.st.frames_dropped, pushed);
	assert_int_equal(got_bytes + f->c.st.bytes_dropped, pushed_bytes);
	assert_int_equal(f->rx.a->st.lost_frames, 0);
}

/*
 * A PONG queued while output is staged and the port is full waits behind
 * at most the rest of the one frame already being written, never behind
 * staged output not yet started; beats too. The stream stays gap-free
 * and in order (the frames it jumped are numbered again).
 */
static void test_pong_jumps_output(void **state)
{
	struct fx *f = *state;
	struct vigil_beat b = { .pid = 42, .nonce = 1 };
	uint8_t tok[16] = { 1 };
	int small = 4096;
	uint64_t at, start = 0;
	ssize_t pong, beat;

	setsockopt(f->sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	for (uint32_t i = 0; i < 100; i++)
		push_out(&f->c, i, 1000);
	assert_int_equal(chan_flush(&f->c, 1), -EAGAIN);
	/* The port took a part: the rest of the write buffer is staged. */
	at = f->c.st.bytes_sent;
	assert_true(at > 0 && f->c.wlen - f->c.woff > 50000);
	assert_int_equal(chan_push(&f->c, CHAN_Q_CTL_EXT, VIGIL_MSG_PONG, tok, 16, false), 0);
	chan_beat(&f->c, &b);
	pump_all(f);
	pong = rx_find(&f->rx, VIGIL_MSG_PONG, 0);
	beat = rx_find(&f->rx, VIGIL_MSG_BEAT, 0);
	assert_true(pong > 0 && beat == pong + 1);
	/* Every frame before the PONG had started before it was queued. */
	for (ssize_t i = 0; i < pong; i++) {
		assert_true(start < at);
		start += VIGIL_WIRE_HDR_LEN + f->rx.f[i].len;
	}
	assert_true(start >= at); /* the PONG starts where the one in progress ended */
	assert_int_equal(f->rx.n, 102);
	for (size_t i = 0; i < f->rx.n; i++) {
		assert_int_equal(f->rx.f[i].seq, i);
		assert_true(f->rx.f[i].crc_ok);
	}
	assert_int_equal(f->rx.a->st.lost_frames, 0);
	assert_int_equal(f->rx.a->st.seq_regressions, 0);
	assert_true(f->c.st.frames_renumbered > 0);
	/* The output itself: all of it, in order. */
	for (size_t i = 0, k = 0; i < f->rx.n; i++) {
		if (f->rx.f[i].type == VIGIL_MSG_STDOUT)
			assert_int_equal(vigil_le32(rx_payload(&f->rx, i)), k++);
	}
}

/* Stage output of id and len straight into the write buffer; false when refused. */
static bool stage_out(struct chan *c, uint32_t id, uint32_t len)
{
	uint8_t *p = chan_stage_reserve(c, len);

	if (!p)
		return false;
	memset(p, (int)(id & 0xff), len);
	vigil_put32(p, id);
	chan_stage_commit(c, VIGIL_MSG_STDOUT, len);
	return true;
}

/*
 * Output read straight into the write buffer: goes only where order
 * allows (nothing queued ahead of it), leaves room for frames that jump,
 * and a control frame still jumps it before its first byte is written.
 */
static void test_staged_output(void **state)
{
	struct fx *f = *state;
	uint8_t tok[16] = { 1 };
	ssize_t pong;

	assert_true(stage_out(&f->c, 0, 60000));
	assert_true(chan_staged(&f->c) == VIGIL_WIRE_HDR_LEN + 60000);
	/* No room for another 60000 and CHAN_JUMP_ROOM in 128 KiB: refused. */
	assert_false(stage_out(&f->c, 99, 60000));
	push_out(&f->c, 1, 60000); /* no room in the buffer either: it waits queued */
	/* Queued output goes first: staging waits for the queue to empty, even
	 * where a small frame would fit. */
	assert_false(stage_out(&f->c, 99, 100));
	assert_int_equal(f->c.out.count, 1);
	assert_int_equal(chan_push(&f->c, CHAN_Q_CTL_EXT, VIGIL_MSG_PONG, tok, 16, false), 0);
	assert_int_equal(chan_flush(&f->c, 1), 0);
	assert_true(stage_out(&f->c, 2, VIGIL_WIRE_MAX_PAYLOAD));
	assert_int_equal(chan_push(&f->c, CHAN_Q_CTL_EXT, VIGIL_MSG_PONG, tok, 16, false), 0);
	pump_all(f);
	assert_int_equal(f->c.st.frames_staged, 2);
	assert_int_equal(f->rx.n, 5);
	pong = rx_find(&f->rx, VIGIL_MSG_PONG, 0);
	assert_int_equal(pong, 0); /* jumped the staged frame not yet started */
	for (size_t i = 0, k = 0; i < f->rx.n; i++) {
		assert_int_equal(f->rx.f[i].seq, i);
		assert_true(f->rx.f[i].crc_ok);
		if (f->rx.f[i].type == VIGIL_MSG_STDOUT)
			assert_int_equal(vigil_le32(rx_payload(&f->rx, i)), k++);
	}
	assert_int_equal(f->rx.f[3].type, VIGIL_MSG_PONG); /* jumped the last staged one */
	assert_int_equal(f->rx.f[4].len, VIGIL_WIRE_MAX_PAYLOAD);
	/* A port that is gone takes nothing straight in. */
	f->c.connected = false;
	assert_false(stage_out(&f->c, 3, 100));
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the agent ignores it too: a gone host is EPIPE */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_priorities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_follows_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_drops_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_never_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_beats_coalesce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_gate_inspect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_conservation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pong_jumps_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staged_output, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
