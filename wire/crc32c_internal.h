/* SPDX-License-Identifier: MIT */
/*
 * CRC32C internals shared with the tests and benchmarks (not installed).
 * The "raw" functions work on the CRC register itself: no initial or final
 * inversion, so raw(raw(r, a), b) == raw(r, a || b).
 */
#ifndef VIGIL_WIRE_CRC32C_INTERNAL_H
#define VIGIL_WIRE_CRC32C_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Portable slice-by-8. */
uint32_t crc32c_raw_sw(uint32_t reg, const void *buf, size_t len);
/* Portable slice-by-16 (the same tables, 16 bytes a step). */
uint32_t crc32c_raw_sw16(uint32_t reg, const void *buf, size_t len);
/* SSE4.2, three interleaved chains; only call when crc32c_have_hw(). */
uint32_t crc32c_raw_hw(uint32_t reg, const void *buf, size_t len);
/* Single dependent chain of the instruction, for the benchmark's comparison. */
uint32_t crc32c_raw_hw_serial(uint32_t reg, const void *buf, size_t len);
/* Does this CPU have the SSE4.2 crc32 instruction (cpuid.1:ECX.20)? */
bool crc32c_have_hw(void);


/* The implementations vigil_crc32c() may use. */
enum crc32c_impl {
	CRC32C_SLICE8,
	CRC32C_SLICE16,
	CRC32C_SSE42, /* only where cpuid says the CPU has it */
	CRC32C__N,
};

#define CRC32C_CAL_BYTES  16384 /* calibration buffer: ~20 us a run under TCG */
#define CRC32C_CAL_ROUNDS 5

/* Name of an implementation, as vigil_crc32c_impl() says it. */
const char *crc32c_impl_name(enum crc32c_impl i);
/* The fastest of ns[] (time over the same bytes; 0: not available). */
enum crc32c_impl crc32c_pick(const uint64_t ns[CRC32C__N]);
/* Use i from now on, in every thread (ignored when the CPU lacks it). */
void crc32c_use(enum crc32c_impl i);
/*
 * Time every implementation the CPU has on now_ns's clock (ns[] gets the
 * best of CRC32C_CAL_ROUNDS runs over CRC32C_CAL_BYTES, 0 for one it lacks),
 * use the fastest from now on, and return it. Costs a few hundred
 * microseconds under TCG, a few natively.
 */
enum crc32c_impl crc32c_calibrate(uint64_t (*now_ns)(void), uint64_t ns[CRC32C__N]);

#endif
