/* SPDX-License-Identifier: MIT */
/*
 * CRC32C (Castagnoli).
 *
 * Three implementations of the same register update, picked once per
 * process by cpuid (SSE4.2 when the CPU has it, else slice-by-8), or by
 * crc32c_calibrate(), which times them and keeps the fastest (the guest
 * agent does, at its start: under QEMU's TCG the emulated instruction is
 * five times slower than the tables, measured in BENCHMARKS.md):
 *  - SSE4.2 `crc32` (latency 3 cycles, throughput 1 per cycle). One chain
 *    over a buffer runs at a third of the instruction's throughput, so long
 *    buffers are cut into three equal lanes computed together and the lane
 *    results are merged with a "shift by N zero bytes" operator. That
 *    operator is linear over GF(2); it is applied as four 256-entry lookups
 *    (tables built once at start-up from the portable code).
 *  - slice-by-8 tables: portable, about 1.5 bytes per cycle.
 *  - slice-by-16: the same tables twice as deep, 16 bytes a step; fewer
 *    steps and loads per byte, which is what an emulated CPU pays for.
 * Tables: 16 KiB for slice-by-16 (slice-by-8 uses the first 8 KiB), 20 KiB
 * for the shift operators; built by a constructor (pthread_once for callers
 * that run before constructors).
 */
#include "crc32c_internal.h"
#include <vigil/wire.h>

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <nmmintrin.h>
#define CRC_HAVE_X86 1
#endif

#define POLY 0x82F63B78u

/*
 * Lane sizes for the three-lane path, largest first. A buffer is covered by
 * as many blocks of 3 x lane as fit, then by the next smaller lane, so at
 * most 3 x 64 - 1 bytes are left to the single chain. Each size has its
 * own shift operator (4 KiB of tables).
 */
static const uint32_t lane_sizes[] = { 16384, 4096, 1024, 256, 64 };
#define N_LANES (sizeof(lane_sizes) / sizeof(lane_sizes[0]))

static uint32_t sw_table[16][256];
static uint32_t shift_table[N_LANES][4][256]; /* register after lane_sizes[i] zero bytes */
typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
/* Read and written with relaxed atomics: calibration may switch it while
 * another thread computes a CRC (both functions give the same result). */
static crc_fn crc_raw = crc32c_raw_sw;
static enum crc32c_impl crc_impl = CRC32C_SLICE8;
static bool crc_hw;
static int crc_ready; /* set (release) once the tables and crc_raw are final */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v)); /* the library assumes a little-endian host */
	return v;
}

uint32_t crc32c_raw_sw(uint32_t reg, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len && ((uintptr_t)p & 7)) {
		reg = sw_table[0][(reg ^ *p++) & 0xff] ^ (reg >> 8);
		len--;
	}
	while (len >= 8) {
		uint64_t w = load64(p) ^ reg;

		reg = sw_table[7][w & 0xff] ^ sw_table[6][(w >> 8) & 0xff] ^
		      sw_table[5][(w >> 16) & 0xff] ^ sw_table[4][(w >> 24) & 0xff] ^
		      sw_table[3][(w >> 32) & 0xff] ^ sw_table[2][(w >> 40) & 0xff] ^
		      sw_table[1][(w >> 48) & 0xff] ^ sw_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		reg = sw_table[0][(reg ^ *p++) & 0xff] ^ (reg >> 8);
	return reg;
}

uint32_t crc32c_raw_sw16(uint32_t reg, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len >= 16) {
		uint64_t w = load64(p) ^ reg, v = load64(p + 8);

		reg = sw_table[15][w & 0xff] ^ sw_table[14][(w >> 8) & 0xff] ^
		      sw_table[13][(w >> 16) & 0xff] ^ sw_table[12][(w >> 24) & 0xff] ^
		      sw_table[11][(w >> 32) & 0xff] ^ sw_table[10][(w >> 40) & 0xff] ^
		      sw_table[9][(w >> 48) & 0xff] ^ sw_table[8][w >> 56] ^
		      sw_table[7][v & 0xff] ^ sw_table[6][(v >> 8) & 0xff] ^
		      sw_table[5][(v >> 16) & 0xff] ^ sw_table[4][(v >> 24) & 0xff] ^
		      sw_table[3][(v >> 32) & 0xff] ^ sw_table[2][(v >> 40) & 0xff] ^
		      sw_table[1][(v >> 48) & 0xff] ^ sw_table[0][v >> 56];
		p += 16;
		len -= 16;
	}
	return crc32c_raw_sw(reg, p, len);
}

static inline uint32_t shift(const uint32_t t[4][256], uint32_t reg)
{
	return t[0][reg & 0xff] ^ t[1][(reg >> 8) & 0xff] ^ t[2][(reg >> 16) & 0xff] ^
	       t[3][reg >> 24];
}

#ifdef CRC_HAVE_X86
/* The single chain: unaligned 8-byte loads are as fast as aligned ones. */
__attribute__((target("sse4.2"))) static inline uint64_t hw_chain(uint64_t c, const uint8_t *p,
								   size_t len)
{
	while (len >= 8) {
		c = _mm_crc32_u64(c, load64(p));
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		c = _mm_crc32_u32((uint32_t)c, w);
		p += 4;
		len -= 4;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return c;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_raw_hw(uint32_t reg, const void *buf,
							   size_t len)
{
	const uint8_t *p = buf;
	uint64_t c0 = reg;

	for (size_t t = 0; t < N_LANES; t++) {
		const size_t lane = lane_sizes[t];

		while (len >= 3 * lane) {
			const uint8_t *end = p + lane;
			uint64_t c1 = 0, c2 = 0;

			do {
				c0 = _mm_crc32_u64(c0, load64(p));
				c1 = _mm_crc32_u64(c1, load64(p + lane));
				c2 = _mm_crc32_u64(c2, load64(p + 2 * lane));
				p += 8;
			} while (p < end);
			c0 = shift(shift_table[t], (uint32_t)c0) ^ (uint32_t)c1;
			c0 = shift(shift_table[t], (uint32_t)c0) ^ (uint32_t)c2;
			p += 2 * lane;
			len -= 3 * lane;
		}
	}
	return (uint32_t)hw_chain(c0, p, len);
}

__attribute__((target("sse4.2"))) uint32_t crc32c_raw_hw_serial(uint32_t reg,
								  const void *buf, size_t len)
{
	return (uint32_t)hw_chain(reg, buf, len);
}

static bool cpu_has_sse42(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	return (c & bit_SSE4_2) != 0;
}
#else
uint32_t crc32c_raw_hw(uint32_t reg, const void *buf, size_t len)
{
	return crc32c_raw_sw(reg, buf, len);
}

uint32_t crc32c_raw_hw_serial(uint32_t reg, const void *buf, size_t len)
{
	return crc32c_raw_sw(reg, buf, len);
}

static bool cpu_has_sse42(void)
{
	return false;
}
#endif

/* t[k][b]: the register after `zeros` zero bytes, starting from b << 8k. */
static void build_shift(uint32_t t[4][256], size_t zeros)
{
	static const uint8_t zero[64];
	uint32_t img[32];

	for (int bit = 0; bit < 32; bit++) {
		uint32_t r = 1u << bit;

		for (size_t done = 0; done < zeros; done += sizeof(zero))
			r = crc32c_raw_sw(r, zero, sizeof(zero));
		img[bit] = r;
	}
	for (int k = 0; k < 4; k++) {
		for (int b = 0; b < 256; b++) {
			uint32_t v = 0;

			for (int i = 0; i < 8; i++)
				if (b & (1 << i))
					v ^= img[8 * k + i];
			t[k][b] = v;
		}
	}
}

static void crc_init(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t r = b;

		for (int i = 0; i < 8; i++)
			r = (r >> 1) ^ (POLY & (0u - (r & 1)));
		sw_table[0][b] = r;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int k = 1; k < 16; k++)
			sw_table[k][b] = (sw_table[k - 1][b] >> 8) ^
					 sw_table[0][sw_table[k - 1][b] & 0xff];
	for (size_t t = 0; t < N_LANES; t++)
		build_shift(shift_table[t], lane_sizes[t]);
	crc_hw = cpu_has_sse42();
	if (crc_hw) {
		crc_raw = crc32c_raw_hw;
		crc_impl = CRC32C_SSE42;
	}
	__atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

/* Cheap on the per-frame path: one acquire load once initialised. */
static inline void crc_ensure(void)
{
	if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
		pthread_once(&crc_once, crc_init);
}

__attribute__((constructor)) static void crc_ctor(void)
{
	pthread_once(&crc_once, crc_init);
}

bool crc32c_have_hw(void)
{
	crc_ensure();
	return crc_hw;
}

uint32_t vigil_crc32c_extend(uint32_t crc, const void *buf, size_t len)
{
	/* The constructor has run for every caller but other constructors. */
	crc_ensure();
	return ~__atomic_load_n(&crc_raw, __ATOMIC_RELAXED)(~crc, buf, len);
}

uint32_t vigil_crc32c(const void *buf, size_t len)
{
	return vigil_crc32c_extend(0, buf, len);
}

static const struct {
	const char *name;
	crc_fn fn;
} impls[CRC32C__N] = {
	[CRC32C_SLICE8] = { "slice-by-8", crc32c_raw_sw },
	[CRC32C_SLICE16] = { "slice-by-16", crc32c_raw_sw16 },
	[CRC32C_SSE42] = { "sse4.2", crc32c_raw_hw },
};

const char *vigil_crc32c_impl(void)
{
	crc_ensure();
	return impls[__atomic_load_n(&crc_impl, __ATOMIC_RELAXED)].name;
}

const char *crc32c_impl_name(enum crc32c_impl i)
{
	return (unsigned)i < CRC32C__N ? impls[i].name : "?";
}

enum crc32c_impl crc32c_pick(const uint64_t ns[CRC32C__N])
{
	enum crc32c_impl best = CRC32C_SLICE8;

	for (int i = 0; i < CRC32C__N; i++)
		if (ns[i] && (!ns[best] || ns[i] < ns[best]))
			best = (enum crc32c_impl)i;
	return best;
}

void crc32c_use(enum crc32c_impl i)
{
	crc_ensure();
	if ((unsigned)i >= CRC32C__N || (i == CRC32C_SSE42 && !crc_hw))
		return;
	__atomic_store_n(&crc_raw, impls[i].fn, __ATOMIC_RELAXED);
	__atomic_store_n(&crc_impl, i, __ATOMIC_RELAXED);
}

/*
 * Each implementation this CPU has, over the same CRC32C_CAL_BYTES, best of
 * CRC32C_CAL_ROUNDS after one untimed run (an emulator translates code on
 * its first run); the minimum drops rounds a busy host preempted.
 */
enum crc32c_impl crc32c_calibrate(uint64_t (*now_ns)(void), uint64_t ns[CRC32C__N])
{
	static uint8_t buf[CRC32C_CAL_BYTES];
	volatile uint32_t sink = 0;

	crc_ensure();
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (int i = 0; i < CRC32C__N; i++) {
		ns[i] = 0;
		if (i == CRC32C_SSE42 && !crc_hw)
			continue;
		sink ^= impls[i].fn(~0u, buf, sizeof(buf));
		for (int r = 0; r < CRC32C_CAL_ROUNDS; r++) {
			uint64_t t0 = now_ns(), d;

			sink ^= impls[i].fn(~0u, buf, sizeof(buf));
			d = now_ns() - t0;
			if (!ns[i] || d < ns[i])
				ns[i] = d ? d : 1;
		}
	}
	(void)sink;
	crc32c_use(crc32c_pick(ns));
	return crc_impl;
}
