/* SPDX-License-Identifier: MIT */
/*
 * wire-bench: throughput of the receive path.
 *
 * Streams 64 MiB of back-to-back BEAT frames (one 40-byte record each, 64
 * bytes a frame) through the assembler plus BEAT decode, pushed in 64 KiB
 * reads as a read loop would, and through a baseline that only checks the
 * magic, the header CRC and the payload CRC with the same CRC code. The two
 * alternate for several rounds; the median round of each is reported.
 * Then CRC32C throughput on a 64 KiB buffer, three-lane and single-chain.
 *
 * Last line (read by machine):
 *   wire-bench: frames_per_s=N baseline_frames_per_s=M ratio=R crc32c_GBps=G
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc32c_internal.h"
#include <vigil/wire.h>

#define STREAM_BYTES (64u << 20)
#define READ_BYTES 65536u
#define ROUNDS 7

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static size_t build_stream(uint8_t *s)
{
	size_t n = 0;
	uint32_t seq = 0;

	while (n + 64 <= STREAM_BYTES) {
		struct vigil_beat b = {
			.pid = 100 + seq % 4096,
			.nonce = seq,
			.guest_mono_ns = (uint64_t)seq * 1000,
			.status = VIGIL_BEAT_OK,
			.deadline_ms = 100,
		};
		int len = vigil_beats_encode(s + n + 24, 64, &b, 1);

		if (len != 40 || vigil_frame_seal(s + n, 64, VIGIL_MSG_BEAT, seq++, 40) != 64) {
			fprintf(stderr, "wire-bench: cannot build the stream\n");
			exit(1);
		}
		n += 64;
	}
	return n;
}

/* Assembler + BEAT decode; returns frames whose record was read. */
static uint64_t run_assembler(struct vigil_asm *a, const uint8_t *s, size_t n, uint64_t *sink)
{
	struct vigil_frame fr;
	struct vigil_records r;
	struct vigil_beat b;
	uint64_t frames = 0;

	vigil_asm_init(a);
	for (size_t off = 0; off < n; off += READ_BYTES) {
		vigil_asm_push(a, s + off, n - off < READ_BYTES ? n - off : READ_BYTES);
		while (vigil_asm_next(a, &fr) == 1) {
			if (!fr.crc_ok || fr.hdr.type != VIGIL_MSG_BEAT ||
			    vigil_beats_decode(fr.payload, fr.hdr.len, &r))
				continue;
			for (uint32_t i = 0; i < r.count; i++) {
				vigil_beat_get(&r, i, &b);
				*sink += b.pid ^ b.nonce;
			}
			frames++;
		}
	}
	return frames;
}

/* Baseline: magic, header CRC, payload CRC; nothing else. */
static uint64_t run_baseline(const uint8_t *s, size_t n)
{
	uint64_t frames = 0;
	size_t off = 0;

	while (off + 24 <= n) {
		const uint8_t *h = s + off;
		uint32_t len;

		if (memcmp(h, vigil_wire_magic, 4) != 0 || vigil_crc32c(h, 20) != vigil_le32(h + 20)) {
			off++;
			continue;
		}
		len = vigil_le32(h + 12);
		if (len > VIGIL_WIRE_MAX_PAYLOAD || n - off - 24 < len)
			break;
		frames += vigil_crc32c(h + 24, len) == vigil_le32(h + 16);
		off += 24 + len;
	}
	return frames;
}

static double crc_gbps(uint32_t (*fn)(uint32_t, const void *, size_t), const uint8_t *buf)
{
	const int reps = 16384; /* 1 GiB */
	uint32_t acc = 0;
	double t0, dt;

	for (int i = 0; i < 256; i++) /* warm up */
		acc ^= fn(acc, buf, 65536);
	t0 = now_s();
	for (int i = 0; i < reps; i++)
		acc ^= fn(acc, buf, 65536);
	dt = now_s() - t0;
	if (acc == 0x12345678) /* keep the work */
		fputs("", stderr);
	return (double)reps * 65536 / dt / 1e9;
}

int main(void)
{
	uint8_t *s = malloc(STREAM_BYTES);
	uint8_t *buf = malloc(65536);
	struct vigil_asm *a = malloc(sizeof(*a));
	double asm_rate[ROUNDS], base_rate[ROUNDS], n_rate, m_rate, g, serial;
	uint64_t sink = 0, frames_expected;
	size_t n;

	if (!s || !buf || !a) {
		fprintf(stderr, "wire-bench: out of memory\n");
		return 1;
	}
	n = build_stream(s);
	frames_expected = n / 64;
	printf("wire-bench: %zu bytes, %llu BEAT frames of 64 bytes, reads of %u bytes, crc32c %s\n",
	       n, (unsigned long long)frames_expected, READ_BYTES, vigil_crc32c_impl());
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_s();
		uint64_t f = run_assembler(a, s, n, &sink);
		double t1 = now_s();
		uint64_t fb = run_baseline(s, n);
		double t2 = now_s();

		if (f != frames_expected || fb != frames_expected) {
			fprintf(stderr, "wire-bench: frame count mismatch (%llu, %llu)\n",
				(unsigned long long)f, (unsigned long long)fb);
			return 1;
		}
		asm_rate[r] = (double)f / (t1 - t0);
		base_rate[r] = (double)fb / (t2 - t1);
		printf("round %d: assembler+decode %.0f frames/s, baseline %.0f frames/s\n", r,
		       asm_rate[r], base_rate[r]);
	}
	qsort(asm_rate, ROUNDS, sizeof(double), cmp_double);
	qsort(base_rate, ROUNDS, sizeof(double), cmp_double);
	n_rate = asm_rate[ROUNDS / 2];
	m_rate = base_rate[ROUNDS / 2];

	for (size_t i = 0; i < 65536; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	if (crc32c_have_hw()) {
		g = crc_gbps(crc32c_raw_hw, buf);
		serial = crc_gbps(crc32c_raw_hw_serial, buf);
	} else {
		g = crc_gbps(crc32c_raw_sw, buf);
		serial = g;
	}
	printf("crc32c on 64 KiB: %.2f GB/s (one dependent chain: %.2f GB/s, slice-by-8: %.2f GB/s)\n",
	       g, serial, crc_gbps(crc32c_raw_sw, buf));
	printf("(checksum %llu)\n", (unsigned long long)(sink & 0xff));
	printf("wire-bench: frames_per_s=%.0f baseline_frames_per_s=%.0f ratio=%.2f crc32c_GBps=%.1f\n",
	       n_rate, m_rate, n_rate / m_rate, g);
	free(a);
	free(buf);
	free(s);
	return 0;
}
