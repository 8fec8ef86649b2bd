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
/* SSE4.2, three interleaved chains; only call when crc32c_have_hw(). */
uint32_t crc32c_raw_hw(uint32_t reg, const void *buf, size_t len);
/* Single dependent chain of the instruction, for the benchmark's comparison. */
uint32_t crc32c_raw_hw_serial(uint32_t reg, const void *buf, size_t len);
/* Does this CPU have the SSE4.2 crc32 instruction (cpuid.1:ECX.20)? */
bool crc32c_have_hw(void);

#endif
