/* SPDX-License-Identifier: MIT */
/*
 * hostile: the flooding guest's writer (see hostile.h). Each builder
 * appends one kind of attack to the chunk buffer and tallies it; the
 * writer then sends the chunk whole. Memory: the chunk buffer and a block
 * of random bytes, allocated at init.
 */
#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vigil/wire.h>

#define NOISE_LEN    (1u << 20)
#define WAIT_MAX_NS  (30ull * 1000000000ull) /* a host that takes nothing this long: an error */
#define SMALL_FRAMES 4096u                   /* frames of a small-frame chunk, at most */

static uint64_t rng(struct hostile *h)
{
	uint64_t z = (h->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint32_t rnd(struct hostile *h, uint32_t n)
{
	return n ? (uint32_t)(rng(h) % n) : 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Room for a frame of plen payload bytes at the chunk's end, or NULL. */
static uint8_t *room(struct hostile *h, size_t plen)
{
	if (h->len + VIGIL_WIRE_HDR_LEN + plen > HOSTILE_CHUNK_MAX)
		return NULL;
	return h->buf + h->len;
}

/* Seals the frame whose payload is at p + 24 with seq, and tallies it. */
static void put_frame_seq(struct hostile *h, uint8_t *p, uint16_t type, int plen, uint32_t seq)
{
	int n = vigil_frame_seal(p, HOSTILE_CHUNK_MAX - h->len, type, seq, (size_t)plen);

	if (n < 0)
		abort(); /* the builders size every payload: a bug here */
	h->len += (size_t)n;
	h->t.frame_bytes += (uint64_t)n;
	h->t.frames++;
}

static void put_frame(struct hostile *h, uint8_t *p, uint16_t type, int plen)
{
	put_frame_seq(h, p, type, plen, h->seq++);
}

static void put_noise(struct hostile *h, const void *b, size_t n)
{
	memcpy(h->buf + h->len, b, n);
	h->len += n;
	h->t.noise += n;
}

static void fill_text(struct hostile *h, char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + rnd(h, 26));
}

static int hello(struct hostile *h, uint32_t seq)
{
	struct vigil_hello hl = {
		.proto_version = VIGIL_WIRE_VERSION,
		.capabilities = VIGIL_CAP_INSPECT,
		.agent_version = VIGIL_STR("hostile"),
		.kernel_release = VIGIL_STR("6.1.0-hostile"),
		.hostname = VIGIL_STR("hostile"),
	};
	uint8_t *p = room(h, 256);
	int n;

	if (!p)
		return -ENOBUFS;
	n = vigil_hello_encode(p + VIGIL_WIRE_HDR_LEN, 256, &hl);
	if (n < 0)
		return n;
	put_frame_seq(h, p, VIGIL_MSG_HELLO, n, seq);
	h->seq = seq + 1;
	h->t.hellos++;
	return 0;
}

/* ---- builders: each appends about target bytes of one kind ---------------- */

static void build_noise(struct hostile *h, size_t target)
{
	size_t n = 1 + rnd(h, (uint32_t)(target < NOISE_LEN ? target : NOISE_LEN));

	put_noise(h, h->noise + rnd(h, (uint32_t)(NOISE_LEN - n + 1)), n);
}

/* A header, valid or with its CRC flipped (torn). */
static void header(struct hostile *h, uint8_t *p, uint16_t type, uint32_t len, bool valid)
{
	memcpy(p, vigil_wire_magic, VIGIL_WIRE_MAGIC_LEN);
	vigil_put16(p + 4, type);
	vigil_put16(p + 6, 0);
	vigil_put32(p + 8, h->seq++);
	vigil_put32(p + 12, len);
	vigil_put32(p + 16, (uint32_t)rng(h));
	vigil_put32(p + 20, vigil_crc32c(p, 20) ^ (valid ? 0u : 1u));
}

static void build_magics(struct hostile *h, size_t target)
{
	uint8_t hdr[VIGIL_WIRE_HDR_LEN];

	while (h->len + VIGIL_WIRE_HDR_LEN <= target) {
		if (rnd(h, 8) == 0) {
			header(h, hdr, (uint16_t)(1 + rnd(h, 0x13)), rnd(h, 1u << 17), false);
			put_noise(h, hdr, sizeof(hdr));
		} else {
			put_noise(h, "VGL", 3);
		}
	}
}

static void build_oversize(struct hostile *h, size_t target)
{
	while (h->len + VIGIL_WIRE_HDR_LEN <= target) {
		uint32_t len = VIGIL_WIRE_MAX_PAYLOAD + 1 +
			       (uint32_t)(rng(h) % (0xFFFFFFFFull - VIGIL_WIRE_MAX_PAYLOAD));

		header(h, h->buf + h->len, (uint16_t)(1 + rnd(h, 0x13)), len, true);
		h->len += VIGIL_WIRE_HDR_LEN;
		h->t.oversize++;
	}
}

/* One maximum-length output frame of a random output type; 1 in 8 torn. */
static void output_frame(struct hostile *h, uint8_t *p)
{
	static const uint16_t types[] = { VIGIL_MSG_STDOUT, VIGIL_MSG_STDERR, VIGIL_MSG_DMESG,
					  VIGIL_MSG_LOG };
	uint16_t type = types[rnd(h, 4)];
	uint8_t *pl = p + VIGIL_WIRE_HDR_LEN;
	const uint8_t *text = h->noise + rnd(h, NOISE_LEN - VIGIL_WIRE_MAX_PAYLOAD);
	int n = (int)VIGIL_WIRE_MAX_PAYLOAD;

	if (type == VIGIL_MSG_DMESG) {
		struct vigil_dmesg d = { (uint8_t)rnd(h, 8), rng(h), rng(h), text,
					 VIGIL_WIRE_MAX_PAYLOAD - 24 };

		n = vigil_dmesg_encode(pl, VIGIL_WIRE_MAX_PAYLOAD, &d);
	} else if (type == VIGIL_MSG_LOG) {
		struct vigil_log l = { (uint8_t)rnd(h, 8), text, VIGIL_WIRE_MAX_PAYLOAD - 1 };

		n = vigil_log_encode(pl, VIGIL_WIRE_MAX_PAYLOAD, &l);
	} else {
		memcpy(pl, text, VIGIL_WIRE_MAX_PAYLOAD);
	}
	put_frame(h, p, type, n);
	if (rnd(h, 8) == 0)
		pl[rnd(h, VIGIL_WIRE_MAX_PAYLOAD)] ^= 0x20; /* torn: delivered, crc_ok false */
}

static void build_output(struct hostile *h, size_t target)
{
	uint8_t *p;

	while (h->len < target && (p = room(h, VIGIL_WIRE_MAX_PAYLOAD)))
		output_frame(h, p);
}

/* Small frames with random seq: losses, regressions, and new epochs. */
static void build_seq(struct hostile *h, size_t target)
{
	for (unsigned k = 0; k < SMALL_FRAMES && h->len < target; k++) {
		struct vigil_pong pg = { rng(h), rng(h) };
		uint8_t *p = room(h, 256);

		if (!p)
			break;
		if (rnd(h, 64) == 0) {
			hello(h, 0);
			continue;
		}
		h->seq = (uint32_t)rng(h);
		if (rnd(h, 2)) {
			put_frame(h, p, VIGIL_MSG_PONG,
				  vigil_pong_encode(p + VIGIL_WIRE_HDR_LEN, 16, &pg));
		} else {
			p[VIGIL_WIRE_HDR_LEN] = 6;
			put_frame(h, p, VIGIL_MSG_LOG, 1);
		}
	}
}

/* BEAT frames of 1024 pids never seen; 1 in 16 with a pid 0 (malformed). */
static void build_pids(struct hostile *h, size_t target)
{
	static struct vigil_beat b[VIGIL_WIRE_MAX_RECORDS];
	const size_t plen = (size_t)VIGIL_WIRE_MAX_RECORDS * VIGIL_WIRE_BEAT_LEN;
	uint8_t *p;

	while (h->len < target && (p = room(h, plen))) {
		for (unsigned i = 0; i < VIGIL_WIRE_MAX_RECORDS; i++) {
			if (h->next_pid < 2 || h->next_pid > 0x3fffffffu)
				h->next_pid = 2;
			b[i] = (struct vigil_beat){
				.pid = h->next_pid++,
				.nonce = 1,
				.guest_mono_ns = mono_ns(),
				.status = rnd(h, 8) ? VIGIL_BEAT_OK : VIGIL_BEAT_STOPPING,
				.origin = (uint8_t)rnd(h, 4),
				.deadline_ms = rnd(h, 300),
			};
		}
		h->t.beat_pids += VIGIL_WIRE_MAX_RECORDS;
		if (vigil_beats_encode(p + VIGIL_WIRE_HDR_LEN, plen, b, VIGIL_WIRE_MAX_RECORDS) < 0)
			abort();
		if (rnd(h, 16) == 0)
			vigil_put32(p + VIGIL_WIRE_HDR_LEN + VIGIL_WIRE_BEAT_LEN * rnd(h, 1024), 0);
		put_frame(h, p, VIGIL_MSG_BEAT, (int)plen);
	}
}

static void build_sys_rdy(struct hostile *h, size_t target)
{
	for (unsigned k = 0; k < SMALL_FRAMES && h->len < target; k++) {
		uint8_t *p = room(h, 1);
		int n = rnd(h, 8) == 0; /* a payload: malformed */

		if (!p)
			break;
		p[VIGIL_WIRE_HDR_LEN] = 'x';
		put_frame(h, p, VIGIL_MSG_SYS_RDY, n);
		h->t.sys_rdy++;
	}
}

/* Requests of every kind (1..5), new ids and repeats, tags up to 4096. */
static void build_snapshot(struct hostile *h, size_t target)
{
	static char tag[VIGIL_WIRE_STR_MAX];

	for (unsigned k = 0; k < SMALL_FRAMES && h->len < target; k++) {
		uint16_t tl = (uint16_t)(rnd(h, 16) ? rnd(h, 24) : VIGIL_WIRE_STR_MAX);
		struct vigil_snapshot_request rq = { .kind = 1 + rnd(h, 5), .tag = { tag, tl } };
		uint8_t *p = room(h, 10u + tl);

		if (!p)
			break;
		if (rnd(h, 4) == 0 && h->snap_id > 8)
			rq.request_id = h->snap_id - rnd(h, 8); /* a repeat */
		else
			rq.request_id = ++h->snap_id ? h->snap_id : ++h->snap_id;
		fill_text(h, tag, tl);
		put_frame(h, p, VIGIL_MSG_SNAPSHOT_REQUEST,
			  vigil_snapshot_request_encode(p + VIGIL_WIRE_HDR_LEN, 10u + tl, &rq));
		h->t.snapshot_requests++;
	}
}

/* Reports for requests never made, with every string at its limit. */
static void build_report(struct hostile *h, size_t target)
{
	static char comm[VIGIL_WIRE_COMM_MAX], wchan[VIGIL_WIRE_WCHAN_MAX],
	    stack[VIGIL_WIRE_STACK_MAX], cgroup[VIGIL_WIRE_CGROUP_MAX];
	struct vigil_process_report r = {
		.state = 'R',
		.comm = { comm, sizeof(comm) },
		.wchan = { wchan, sizeof(wchan) },
		.stack = { stack, sizeof(stack) },
		.cgroup = { cgroup, sizeof(cgroup) },
	};
	uint8_t *p;

	fill_text(h, comm, sizeof(comm));
	fill_text(h, wchan, sizeof(wchan));
	fill_text(h, stack, sizeof(stack));
	fill_text(h, cgroup, sizeof(cgroup));
	while (h->len < target && (p = room(h, VIGIL_WIRE_REPORT_MAX_LEN))) {
		r.request_id = 1 + rnd(h, 0xfffffffe);
		r.pid = 2 + rnd(h, 100000);
		r.status = rnd(h, 8) ? 0 : -EBUSY;
		put_frame(h, p, VIGIL_MSG_PROCESS_REPORT,
			  vigil_process_report_encode(p + VIGIL_WIRE_HDR_LEN,
						      VIGIL_WIRE_REPORT_MAX_LEN, &r));
		h->t.reports++;
	}
}

/* FLOW frames of 1024 keys never seen (IPv4, a port and address each). */
static void build_flows(struct hostile *h, size_t target)
{
	static struct vigil_flow f[VIGIL_WIRE_MAX_RECORDS];
	const size_t plen = (size_t)VIGIL_WIRE_MAX_RECORDS * VIGIL_WIRE_FLOW_LEN;
	uint8_t *p;

	while (h->len < target && (p = room(h, plen))) {
		for (unsigned i = 0; i < VIGIL_WIRE_MAX_RECORDS; i++) {
			uint32_t k = h->next_flow++;

			f[i] = (struct vigil_flow){ .family = 4,
						    .protocol = 6,
						    .event = VIGIL_FLOW_OPENED,
						    .src_port = (uint16_t)(k & 0xffff),
						    .dst_port = 443,
						    .bytes = rng(h) >> 40,
						    .packets = 1,
						    .pid = 2 + rnd(h, 1000) };
			vigil_put32(f[i].src_addr, 0x0a000000u | (k >> 16));
			f[i].dst_addr[0] = 192;
			f[i].dst_addr[3] = 1;
			if (rnd(h, 8) == 0)
				f[i].event = VIGIL_FLOW_CLOSED;
		}
		h->t.flow_keys += VIGIL_WIRE_MAX_RECORDS;
		put_frame(
		    h, p, VIGIL_MSG_FLOW,
		    vigil_flows_encode(p + VIGIL_WIRE_HDR_LEN, plen, f, VIGIL_WIRE_MAX_RECORDS));
	}
}

/* ---- writing ------------------------------------------------------------------ */

static void drain(struct hostile *h)
{
	uint8_t b[4096];
	ssize_t n;

	while ((n = recv(h->fd[h->at], b, sizeof(b), MSG_DONTWAIT)) > 0)
		h->t.drained += (uint64_t)n;
}

/* Writes the chunk whole. 0 or -errno. */
static int flush(struct hostile *h)
{
	uint64_t give_up = mono_ns() + WAIT_MAX_NS;

	while (h->off < h->len) {
		ssize_t n = send(h->fd[h->at], h->buf + h->off, h->len - h->off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		struct pollfd pf = { .fd = h->fd[h->at], .events = POLLIN | POLLOUT };

		if (n > 0) {
			h->off += (size_t)n;
			h->t.bytes += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (mono_ns() > give_up)
			return -ETIMEDOUT;
		if (poll(&pf, 1, 100) > 0 && (pf.revents & POLLIN))
			drain(h);
	}
	h->off = h->len = 0;
	return 0;
}

/* Part of a maximum-size frame (a whole header and 0..65535 payload bytes),
 * written, then the end closed; the next end starts a new epoch. */
static int hang_up(struct hostile *h)
{
	uint8_t *p = h->buf;
	size_t cut = VIGIL_WIRE_HDR_LEN + rnd(h, VIGIL_WIRE_MAX_PAYLOAD);
	int e;

	memcpy(p + VIGIL_WIRE_HDR_LEN, h->noise, VIGIL_WIRE_MAX_PAYLOAD);
	if (vigil_frame_seal(p, HOSTILE_CHUNK_MAX, VIGIL_MSG_STDOUT, h->seq++,
			     VIGIL_WIRE_MAX_PAYLOAD) < 0)
		abort();
	h->len = cut;
	h->t.cut_bytes += cut;
	h->t.hangups++;
	e = flush(h);
	if (e < 0)
		return e;
	close(h->fd[h->at]);
	h->fd[h->at++] = -1;
	e = hello(h, 0);
	if (e == 0)
		build_sys_rdy(h, h->len + 1);
	return e;
}

int hostile_init(struct hostile *h, const int *fds, unsigned n, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	if (n == 0 || n > HOSTILE_ENDS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		int fl = fcntl(fds[i], F_GETFL);

		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
		h->fd[i] = fds[i];
	}
	h->n_fd = n;
	h->rng = seed;
	h->next_pid = 2;
	h->buf = malloc(HOSTILE_CHUNK_MAX);
	h->noise = malloc(NOISE_LEN);
	if (!h->buf || !h->noise)
		return -ENOMEM;
	for (size_t i = 0; i < NOISE_LEN; i += 8) {
		uint64_t r = rng(h);

		memcpy(h->noise + i, &r, 8);
	}
	hello(h, 0);
	build_sys_rdy(h, h->len + 1);
	return 0;
}

void hostile_free(struct hostile *h)
{
	for (unsigned i = h->at; i < h->n_fd; i++)
		if (h->fd[i] >= 0)
			close(h->fd[i]);
	free(h->buf);
	free(h->noise);
	h->buf = h->noise = NULL;
}

typedef void (*builder_fn)(struct hostile *h, size_t target);

static const struct {
	builder_fn fn;
	unsigned weight;
} kinds[HOSTILE_HANGUP] = {
	[HOSTILE_NOISE] = { build_noise, 10 },      [HOSTILE_MAGICS] = { build_magics, 6 },
	[HOSTILE_OVERSIZE] = { build_oversize, 6 }, [HOSTILE_OUTPUT] = { build_output, 20 },
	[HOSTILE_SEQ] = { build_seq, 6 },           [HOSTILE_PIDS] = { build_pids, 8 },
	[HOSTILE_SYS_RDY] = { build_sys_rdy, 5 },   [HOSTILE_SNAPSHOT] = { build_snapshot, 6 },
	[HOSTILE_REPORT] = { build_report, 6 },     [HOSTILE_FLOWS] = { build_flows, 8 },
};

static enum hostile_kind pick(struct hostile *h)
{
	unsigned total = 0, r;

	for (unsigned k = 0; k < HOSTILE_HANGUP; k++)
		total += kinds[k].weight;
	r = rnd(h, total);
	for (unsigned k = 0; k < HOSTILE_HANGUP; k++) {
		if (r < kinds[k].weight)
			return (enum hostile_kind)k;
		r -= kinds[k].weight;
	}
	return HOSTILE_NOISE;
}

int hostile_run(struct hostile *h, uint64_t max_bytes, uint64_t end_ns)
{
	uint64_t start = h->t.bytes;
	int e = flush(h); /* what init queued */

	while (e == 0 && h->t.bytes - start < max_bytes && mono_ns() < end_ns) {
		uint64_t before = h->t.bytes;
		enum hostile_kind k;

		/* a hang-up every hang_every bytes, while spare ends last */
		if (h->hang_every && h->at + 1 < h->n_fd &&
		    h->t.bytes >= (h->at + 1) * h->hang_every) {
			k = HOSTILE_HANGUP;
			e = hang_up(h);
		} else {
			k = pick(h);
			kinds[k].fn(h, 4096 + rnd(h, 256u << 10));
		}
		if (e == 0)
			e = flush(h);
		h->t.chunks[k]++;
		h->t.kind_bytes[k] += h->t.bytes - before;
	}
	/* end on a whole frame: a partial magic left by noise resolves */
	if (e == 0) {
		build_sys_rdy(h, h->len + 1);
		e = flush(h);
	}
	return e;
}
