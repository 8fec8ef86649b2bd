/* SPDX-License-Identifier: MIT */
/*
 * Stream assembler:
 *  - every normative vector (tests/data/wire-vectors.json) gives exactly the
 *    expected frames, payloads and counters, fed whole and in 1000 random
 *    splits each; the copy must equal ../shared/spec/vectors/vectors.json
 *    where that file exists;
 *  - a differential test against a deliberately naive decoder (whole stream
 *    in memory, bit-at-a-time CRC) on random streams with bit flips,
 *    truncations, inserted garbage and duplicated frames;
 *  - payload lengths 0, 65536 and 65537; seq wrap; reset mid-payload;
 *  - no allocation: malloc/calloc/realloc are wrapped and counted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include <vigil/wire.h>

#include "alloc_count.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static size_t rnd(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

struct got_frame {
	uint16_t type;
	uint32_t seq;
	uint32_t len;
	bool crc_ok;
	size_t off; /* payload copy in got.arena */
};

struct got {
	struct got_frame *f;
	size_t n, cap;
	uint8_t *arena;
	size_t used, arena_cap;
	struct vigil_asm_stats st;
};

static void got_init(struct got *g, size_t stream_len)
{
	g->cap = stream_len / 24 + 4;
	g->f = calloc(g->cap, sizeof(*g->f));
	g->arena_cap = stream_len + 1;
	g->arena = malloc(g->arena_cap);
	g->n = 0;
	g->used = 0;
	assert_non_null(g->f);
	assert_non_null(g->arena);
}

static void got_free(struct got *g)
{
	free(g->f);
	free(g->arena);
}

static void got_add(struct got *g, uint16_t type, uint32_t seq, uint32_t len, bool ok,
		    const uint8_t *payload)
{
	assert_true(g->n < g->cap);
	assert_true(g->used + len <= g->arena_cap);
	g->f[g->n++] = (struct got_frame){ type, seq, len, ok, g->used };
	memcpy(g->arena + g->used, payload, len);
	g->used += len;
}

static struct vigil_asm *asmb;

/* Every byte fed so far is counted, delivered or held, once (wire.h,
 * vigil_asm_held); dropped: what resets dropped. */
static void assert_accounted(const struct vigil_asm *a, uint64_t delivered, uint64_t dropped)
{
	const struct vigil_asm_stats *st = vigil_asm_stats(a);

	assert_int_equal(st->garbage_bytes + st->header_crc_errors + 24 * st->oversize_frames +
			     delivered + vigil_asm_held(a) + dropped,
			 st->bytes);
}

/* Feed the stream cut at the given points (sorted, may repeat). */
static void run_split(const uint8_t *s, size_t n, const size_t *cuts, size_t ncuts, struct got *g)
{
	struct vigil_frame fr;
	size_t prev = 0;
	uint64_t delivered = 0;

	vigil_asm_init(asmb);
	for (size_t c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : n;

		vigil_asm_push(asmb, s + prev, end - prev);
		assert_accounted(asmb, delivered, 0); /* pushed, not looked at: held */
		while (vigil_asm_next(asmb, &fr) == 1) {
			got_add(g, fr.hdr.type, fr.hdr.seq, fr.hdr.len, fr.crc_ok, fr.payload);
			delivered += VIGIL_WIRE_HDR_LEN + fr.hdr.len;
			assert_accounted(asmb, delivered, 0);
		}
		assert_accounted(asmb, delivered, 0);
		assert_true(vigil_asm_held(asmb) < VIGIL_WIRE_MAX_FRAME);
		prev = end;
	}
	g->st = *vigil_asm_stats(asmb);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Random cut points: a few, many, or every byte. */
static size_t random_cuts(size_t n, size_t *cuts, size_t max)
{
	size_t k;

	switch (rnd(4)) {
	case 0:
		k = rnd(4);
		break;
	case 1:
		k = rnd(64);
		break;
	case 2:
		k = rnd(n / 8 + 1);
		break;
	default:
		k = n < max ? n : max; /* byte by byte where it fits */
		for (size_t i = 0; i < k; i++)
			cuts[i] = i;
		return k;
	}
	if (k > max)
		k = max;
	for (size_t i = 0; i < k; i++)
		cuts[i] = rnd(n + 1);
	qsort(cuts, k, sizeof(*cuts), cmp_size);
	return k;
}

static void assert_same(const struct got *a, const struct got *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->f[i].type, b->f[i].type);
		assert_int_equal(a->f[i].seq, b->f[i].seq);
		assert_int_equal(a->f[i].len, b->f[i].len);
		assert_int_equal(a->f[i].crc_ok, b->f[i].crc_ok);
		assert_memory_equal(a->arena + a->f[i].off, b->arena + b->f[i].off, a->f[i].len);
	}
	assert_int_equal(a->st.garbage_bytes, b->st.garbage_bytes);
	assert_int_equal(a->st.header_crc_errors, b->st.header_crc_errors);
	assert_int_equal(a->st.oversize_frames, b->st.oversize_frames);
	assert_int_equal(a->st.lost_frames, b->st.lost_frames);
	assert_int_equal(a->st.seq_regressions, b->st.seq_regressions);
	assert_int_equal(a->st.epochs, b->st.epochs);
}

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* ---- vectors ------------------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static uint64_t jint(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("vector field %s missing", key);
	return (uint64_t)json_object_get_int64(v);
}

static void test_vectors(void **state)
{
	json_object *root = json_object_from_file(VIGIL_TEST_DATA_DIR "/wire-vectors.json");
	json_object *vecs;
	size_t nvec, total_frames = 0;

	(void)state;
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "vectors", &vecs));
	nvec = json_object_array_length(vecs);
	assert_true(nvec >= 19);
	for (size_t v = 0; v < nvec; v++) {
		json_object *vec = json_object_array_get_idx(vecs, v), *jhex, *exp, *frames, *crc;
		const char *name;
		uint8_t *s;
		size_t n, nf;
		struct got whole;

		assert_true(json_object_object_get_ex(vec, "hex", &jhex));
		assert_true(json_object_object_get_ex(vec, "expect", &exp));
		assert_true(json_object_object_get_ex(exp, "frames", &frames));
		name = json_object_get_string(json_object_object_get(vec, "name"));
		s = malloc(strlen(json_object_get_string(jhex)) / 2 + 1);
		assert_non_null(s);
		n = unhex(json_object_get_string(jhex), s);

		got_init(&whole, n);
		run_split(s, n, NULL, 0, &whole);
		nf = json_object_array_length(frames);
		if (whole.n != nf)
			fail_msg("vector %s: %zu frames, want %zu", name, whole.n, nf);
		for (size_t i = 0; i < nf; i++) {
			json_object *f = json_object_array_get_idx(frames, i);
			const char *ph =
			    json_object_get_string(json_object_object_get(f, "payload_hex"));
			uint8_t *want = malloc(strlen(ph) / 2 + 1);

			assert_non_null(want);
			assert_int_equal(whole.f[i].type, jint(f, "type"));
			assert_int_equal(whole.f[i].seq, jint(f, "seq"));
			assert_int_equal(whole.f[i].len, jint(f, "len"));
			assert_int_equal(
			    whole.f[i].crc_ok,
			    json_object_get_boolean(json_object_object_get(f, "crc_ok")));
			assert_int_equal(unhex(ph, want), whole.f[i].len);
			assert_memory_equal(whole.arena + whole.f[i].off, want, whole.f[i].len);
			free(want);
		}
		if (whole.st.garbage_bytes != jint(exp, "garbage_bytes"))
			fail_msg("vector %s: garbage_bytes %llu", name,
				 (unsigned long long)whole.st.garbage_bytes);
		assert_int_equal(whole.st.header_crc_errors, jint(exp, "header_crc_errors"));
		assert_int_equal(whole.st.oversize_frames, jint(exp, "oversize"));
		assert_int_equal(whole.st.lost_frames, jint(exp, "lost_frames"));
		assert_int_equal(whole.st.seq_regressions, jint(exp, "seq_regressions"));
		if (json_object_object_get_ex(exp, "crc32c", &crc)) {
			char hex[9];

			snprintf(hex, sizeof(hex), "%08x", vigil_crc32c(s, n));
			assert_string_equal(hex, json_object_get_string(crc));
		}

		/* The same in 1000 random splits. */
		for (int k = 0; k < 1000; k++) {
			size_t cuts[512], nc = random_cuts(n, cuts, 512);
			struct got g;

			got_init(&g, n);
			run_split(s, n, cuts, nc, &g);
			assert_same(&g, &whole);
			got_free(&g);
		}
		total_frames += whole.n;
		got_free(&whole);
		free(s);
	}
	assert_true(total_frames >= 20);
	json_object_put(root);
}

static void test_vectors_copy_identical(void **state)
{
	const char *shared = VIGIL_SHARED_DIR "/spec/vectors/vectors.json";
	size_t a_len, b_len;
	char *a, *b;

	(void)state;
	a = slurp(VIGIL_TEST_DATA_DIR "/wire-vectors.json", &a_len);
	assert_non_null(a);
	b = slurp(shared, &b_len);
	if (!b) {
		free(a);
		skip(); /* outside the workspace there is only the copy */
	}
	if (a_len != b_len || memcmp(a, b, a_len) != 0)
		fail_msg("tests/data/wire-vectors.json differs from %s: copy it again", shared);
	free(a);
	free(b);
}

/* ---- the naive reference decoder ---------------------------------------- */

static uint32_t naive_crc(const uint8_t *p, size_t n)
{
	uint32_t r = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		r ^= p[i];
		for (int k = 0; k < 8; k++)
			r = (r & 1) ? (r >> 1) ^ 0x82F63B78u : r >> 1;
	}
	return ~r;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The receive rules read literally, one stream position at a time. */
static void naive_decode(const uint8_t *s, size_t n, struct got *g)
{
	static const uint8_t magic[4] = { 'V', 'G', 'L', '1' };
	bool have = false;
	uint32_t expect = 0;
	size_t i = 0;

	memset(&g->st, 0, sizeof(g->st));
	while (i < n) {
		size_t rest = n - i;
		uint32_t len, seq;
		uint16_t type;

		if (rest < 4) {
			if (memcmp(s + i, magic, rest) == 0)
				break; /* may be a magic: wait for more */
			g->st.garbage_bytes++;
			i++;
			continue;
		}
		if (memcmp(s + i, magic, 4) != 0) {
			g->st.garbage_bytes++;
			i++;
			continue;
		}
		if (rest < 24)
			break;
		if (naive_crc(s + i, 20) != rd32(s + i + 20)) {
			g->st.header_crc_errors++;
			i++;
			continue;
		}
		len = rd32(s + i + 12);
		if (len > 65536) {
			g->st.oversize_frames++;
			i += 24;
			continue;
		}
		if (rest < 24 + (size_t)len)
			break;
		type = (uint16_t)(s[i + 4] | s[i + 5] << 8);
		seq = rd32(s + i + 8);
		if (type == 1 && seq == 0) {
			g->st.epochs++;
		} else if (have) {
			uint32_t d = seq - expect;

			if (d >= 0x80000000u)
				g->st.seq_regressions++;
			else
				g->st.lost_frames += d;
		}
		have = true;
		expect = seq + 1;
		got_add(g, type, seq, len, naive_crc(s + i + 24, len) == rd32(s + i + 16),
			s + i + 24);
		i += 24 + len;
	}
}

/* ---- random corrupted streams -------------------------------------------- */

static size_t gen_frame(uint8_t *out, size_t cap, uint32_t *seq)
{
	static const uint16_t types[] = { 1,  2,  3,    5,    6,      11,     12,
					  15, 16, 0x12, 0x13, 0x8002, 0x8004, 0x77 };
	uint16_t type = types[rnd(sizeof(types) / sizeof(types[0]))];
	size_t len;
	uint8_t *p = out + 24;

	switch (rnd(10)) {
	case 0:
		len = 0;
		break;
	case 1:
		len = 1000 + rnd(9000);
		break;
	case 2:
		len = rnd(2) ? 65536 : 65535;
		break;
	default:
		len = rnd(120);
	}
	if (24 + len > cap)
		len = 0;
	for (size_t k = 0; k < len; k++)
		p[k] = (uint8_t)rng();
	/* Sprinkle magic into payloads: the assembler must not resync on them. */
	if (len >= 8 && rnd(3) == 0)
		memcpy(p + rnd(len - 4), "VGL1", 4);
	switch (rnd(20)) {
	case 0: /* agent restart */
		type = 1;
		*seq = 0;
		break;
	case 1:
		*seq += (uint32_t)rnd(5); /* frames never sent: lost */
		break;
	case 2:
		*seq -= (uint32_t)rnd(5) + 1; /* regression */
		break;
	case 3:
		*seq = 0xFFFFFFFFu - (uint32_t)rnd(2); /* around the wrap */
		break;
	}
	assert_true(vigil_frame_encode(out, cap, type, (*seq)++, p, len) > 0);
	return 24 + len;
}

/* A stream of frames with corruption; returns its length. */
static size_t gen_stream(uint8_t *s, size_t cap)
{
	uint32_t seq = (uint32_t)rng();
	size_t n = 0, last_start = 0, last_len = 0;

	while (n + VIGIL_WIRE_MAX_FRAME + 64 < cap) {
		size_t start = n, len = gen_frame(s + n, cap - n, &seq);

		n += len;
		switch (rnd(16)) {
		case 0: /* bit flip anywhere in the frame */
			s[start + rnd(len)] ^= (uint8_t)(1u << rnd(8));
			break;
		case 1: /* bit flip in the header */
			s[start + rnd(24)] ^= (uint8_t)(1u << rnd(8));
			break;
		case 2: /* truncation */
			n = start + rnd(len);
			break;
		case 3: /* inserted garbage, sometimes with (partial) magic */
			for (size_t k = rnd(40); k--;)
				s[n++] = rnd(4) ? (uint8_t)rng() : (uint8_t) "VGL1"[rnd(4)];
			if (rnd(2))
				memcpy(s + n - (n - start > 4 ? 3 : 0), "VGL", 3);
			break;
		case 4: /* duplicated previous frame */
			if (last_len && n + last_len < cap) {
				memmove(s + n, s + last_start, last_len);
				n += last_len;
			}
			break;
		case 5: { /* a valid header announcing an oversize payload */
			uint8_t *h = s + n;

			memcpy(h, "VGL1", 4);
			vigil_put16(h + 4, 11);
			vigil_put16(h + 6, 0);
			vigil_put32(h + 8, seq++);
			vigil_put32(h + 12, 65537 + (uint32_t)rnd(1000000));
			vigil_put32(h + 16, 0);
			vigil_put32(h + 20, vigil_crc32c(h, 20));
			n += 24;
			break;
		}
		}
		last_start = start;
		last_len = len;
		if (rnd(40) == 0)
			break;
	}
	return n;
}

static void test_differential(void **state)
{
	enum { CAP = 1 << 20 };
	uint8_t *s = malloc(CAP);
	uint64_t frames = 0, hdr_err = 0, garbage = 0, oversize = 0, lost = 0, regress = 0, bad = 0;

	(void)state;
	assert_non_null(s);
	for (int iter = 0; iter < 300; iter++) {
		size_t n = gen_stream(s, CAP);
		struct got ref, g;

		got_init(&ref, n);
		naive_decode(s, n, &ref);
		for (int k = 0; k < 4; k++) {
			size_t cuts[4096], nc = k == 0 ? 0 : random_cuts(n, cuts, 4096);

			got_init(&g, n);
			run_split(s, n, cuts, nc, &g);
			assert_same(&g, &ref);
			got_free(&g);
		}
		frames += ref.n;
		hdr_err += ref.st.header_crc_errors;
		garbage += ref.st.garbage_bytes;
		oversize += ref.st.oversize_frames;
		lost += ref.st.lost_frames;
		regress += ref.st.seq_regressions;
		for (size_t i = 0; i < ref.n; i++)
			bad += !ref.f[i].crc_ok;
		got_free(&ref);
	}
	/* The generator must actually have exercised every rule. */
	assert_true(frames > 1000);
	assert_true(hdr_err > 10);
	assert_true(garbage > 100);
	assert_true(oversize > 10);
	assert_true(lost > 10);
	assert_true(regress > 10);
	assert_true(bad > 10);
	free(s);
}

/* ---- targeted cases ------------------------------------------------------ */

static uint8_t fbuf[3 * VIGIL_WIRE_MAX_FRAME];

static void test_lengths_0_65536_65537(void **state)
{
	struct vigil_frame fr;
	size_t n = 0;
	int rc;

	(void)state;
	rc = vigil_frame_encode(fbuf, sizeof(fbuf), VIGIL_MSG_SYS_RDY, 0, NULL, 0);
	n += (size_t)rc;
	memset(fbuf + n + 24, 0xA5, 65536);
	rc = vigil_frame_seal(fbuf + n, sizeof(fbuf) - n, VIGIL_MSG_STDOUT, 1, 65536);
	assert_int_equal(rc, 24 + 65536);
	n += (size_t)rc;
	/* 65537: the encoder refuses; forge a valid header by hand. */
	assert_int_equal(vigil_frame_seal(fbuf + n, sizeof(fbuf) - n, VIGIL_MSG_STDOUT, 2, 65537),
			 -EMSGSIZE);
	memcpy(fbuf + n, "VGL1", 4);
	vigil_put16(fbuf + n + 4, VIGIL_MSG_STDOUT);
	vigil_put16(fbuf + n + 6, 0);
	vigil_put32(fbuf + n + 8, 2);
	vigil_put32(fbuf + n + 12, 65537);
	vigil_put32(fbuf + n + 16, 0);
	vigil_put32(fbuf + n + 20, vigil_crc32c(fbuf + n, 20));
	n += 24;
	memset(fbuf + n, 0x11, 100); /* what follows the oversize header: garbage */
	n += 100;
	n += (size_t)vigil_frame_encode(fbuf + n, sizeof(fbuf) - n, VIGIL_MSG_SYS_RDY, 3, NULL, 0);

	vigil_asm_init(asmb);
	vigil_asm_push(asmb, fbuf, n);
	assert_int_equal(vigil_asm_next(asmb, &fr), 1);
	assert_int_equal(fr.hdr.len, 0);
	assert_true(fr.crc_ok);
	assert_int_equal(vigil_asm_next(asmb, &fr), 1);
	assert_int_equal(fr.hdr.len, 65536);
	assert_true(fr.crc_ok);
	assert_ptr_equal(fr.payload, fbuf + 48); /* delivered in place */
	assert_int_equal(vigil_asm_next(asmb, &fr), 1);
	assert_int_equal(fr.hdr.seq, 3);
	assert_int_equal(fr.lost, 1); /* seq 2 was dropped as oversize */
	assert_int_equal(vigil_asm_next(asmb, &fr), 0);
	assert_int_equal(asmb->st.oversize_frames, 1);
	assert_int_equal(asmb->st.garbage_bytes, 100);
	assert_int_equal(asmb->st.lost_frames, 1);
}

static void test_seq_wrap_and_flags(void **state)
{
	struct vigil_frame fr;
	size_t n = 0;

	(void)state;
	n += (size_t)vigil_frame_encode(fbuf + n, 100, VIGIL_MSG_LOG, 0xFFFFFFFFu, "\x06", 1);
	n += (size_t)vigil_frame_encode(fbuf + n, 100, VIGIL_MSG_LOG, 0, "\x06", 1);
	n += (size_t)vigil_frame_encode(fbuf + n, 100, VIGIL_MSG_LOG, 0x7FFFFFFFu, "\x06", 1);
	n += (size_t)vigil_frame_encode(fbuf + n, 100, VIGIL_MSG_LOG, 5, "\x06", 1);
	/* Unknown flag bits are ignored: set some and re-seal the header CRC. */
	vigil_put16(fbuf + 6, 0xBEEF);
	vigil_put32(fbuf + 20, vigil_crc32c(fbuf, 20));
	vigil_asm_init(asmb);
	vigil_asm_push(asmb, fbuf, n);
	assert_int_equal(vigil_asm_next(asmb, &fr), 1);
	assert_int_equal(fr.hdr.flags, 0xBEEF);
	assert_int_equal(vigil_asm_next(asmb, &fr), 1);
	assert_int_equal(fr.lost, 0); /* 0xFFFFFFFF + 1 == 0 */
	assert_false(fr.regression);
	assert_int_equal(vigil_asm_next(asmb, &fr), 1);
	assert_int_equal(fr.lost, 0x7FFFFFFEu); /* d = 2^31 - 2: loss */
	assert_int_equal(vigil_asm_next(asmb, &fr), 1);
	assert_true(fr.regression); /* d = 5 - 2^31 mod 2^32 >= 2^31 */
	assert_int_equal(asmb->st.seq_regressions, 1);
	assert_int_equal(asmb->st.lost_frames, 0x7FFFFFFEu);
}

static void test_reset_mid_payload(void **state)
{
	struct vigil_hello h = { 1, 0, 0, VIGIL_STR("a"), VIGIL_STR("k"), VIGIL_STR("h") };
	struct vigil_frame fr;
	int len;
	size_t n;

	(void)state;
	vigil_asm_init(asmb);
	/* A sender dies 100 bytes into a 60000-byte STDOUT payload. */
	memset(fbuf + 24, 'x', 60000);
	assert_true(vigil_frame_seal(fbuf, sizeof(fbuf), VIGIL_MSG_STDOUT, 9, 60000) > 0);
	vigil_asm_push(asmb, fbuf, 124);
	assert_int_equal(vigil_asm_held(asmb), 124); /* pushed, not looked at */
	assert_int_equal(vigil_asm_next(asmb, &fr), 0);
	assert_int_equal(vigil_asm_held(asmb), 124); /* the frame's start, held */
	assert_accounted(asmb, 0, 0);
	vigil_asm_reset(asmb);
	assert_int_equal(vigil_asm_held(asmb), 0);
	assert_accounted(asmb, 0, 124); /* the reset dropped them */
	len = vigil_hello_encode(fbuf + 24, 1000, &h);
	n = (size_t)vigil_frame_seal(fbuf, sizeof(fbuf), VIGIL_MSG_HELLO, 0, (size_t)len);
	vigil_asm_push(asmb, fbuf, n);
	assert_int_equal(vigil_asm_next(asmb, &fr), 1);
	assert_int_equal(fr.hdr.type, VIGIL_MSG_HELLO);
	assert_true(fr.new_epoch);
	assert_true(fr.crc_ok);
	assert_accounted(asmb, n, 124);
	assert_int_equal(vigil_asm_next(asmb, &fr), 0);
	assert_int_equal(vigil_asm_held(asmb), 0);
	assert_int_equal(asmb->st.resets, 1);
	assert_int_equal(asmb->st.epochs, 1);
}

static void test_no_allocation(void **state)
{
	enum { CAP = 1 << 20 };
	uint8_t *s = malloc(CAP);
	unsigned long before;
	struct vigil_frame fr;
	size_t n;
	void *volatile probe;

	(void)state;
	assert_non_null(s);
	/* The wrapper is live: this very call is counted. */
	before = alloc_calls;
	probe = malloc(16);
	assert_int_equal(alloc_calls, before + 1);
	free(probe);

	n = gen_stream(s, CAP);
	before = alloc_calls;
	for (int pass = 0; pass < 3; pass++) {
		size_t off = 0;

		vigil_asm_init(asmb);
		while (off < n) {
			size_t take = 1 + rnd(pass == 0 ? 7 : 70000);

			if (take > n - off)
				take = n - off;
			vigil_asm_push(asmb, s + off, take);
			while (vigil_asm_next(asmb, &fr) == 1) {
				if (fr.crc_ok)
					(void)vigil_payload_check(fr.hdr.type, fr.payload,
								  fr.hdr.len);
			}
			off += take;
		}
		vigil_asm_reset(asmb);
	}
	assert_int_equal(alloc_calls, before);
	free(s);
}

static int setup(void **state)
{
	(void)state;
	asmb = malloc(sizeof(*asmb));
	return asmb ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(asmb);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_vectors_copy_identical),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_lengths_0_65536_65537),
		cmocka_unit_test(test_seq_wrap_and_flags),
		cmocka_unit_test(test_reset_mid_payload),
		cmocka_unit_test(test_no_allocation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
