/* SPDX-License-Identifier: MIT */
/*
 * CRC32C: the check value, the hardware and portable implementations against
 * each other and against a bit-at-a-time reference on random buffers of
 * every length 0..4096 at every alignment 0..7, and the extend property;
 * slice-by-16 against slice-by-8; the calibration's pick and switch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c_internal.h"
#include <vigil/wire.h>

static uint32_t ref_crc32c(const uint8_t *p, size_t n)
{
	uint32_t r = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		r ^= p[i];
		for (int k = 0; k < 8; k++)
			r = (r >> 1) ^ (0x82F63B78u & (0u - (r & 1)));
	}
	return ~r;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void test_check_value(void **state)
{
	(void)state;
	assert_int_equal(vigil_crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(~crc32c_raw_sw(~0u, "123456789", 9), 0xE3069283u);
	assert_int_equal(vigil_crc32c("", 0), 0);
	if (crc32c_have_hw()) {
		assert_int_equal(~crc32c_raw_hw(~0u, "123456789", 9), 0xE3069283u);
		assert_int_equal(~crc32c_raw_hw_serial(~0u, "123456789", 9), 0xE3069283u);
		assert_string_equal(vigil_crc32c_impl(), "sse4.2");
	} else {
		assert_string_equal(vigil_crc32c_impl(), "slice-by-8");
	}
}

static void test_all_lengths_alignments(void **state)
{
	enum { MAXLEN = 4096 };
	uint8_t *buf = malloc(MAXLEN + 8);
	bool hw = crc32c_have_hw();

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < MAXLEN + 8; i++)
		buf[i] = (uint8_t)rng();
	for (size_t len = 0; len <= MAXLEN; len++) {
		for (size_t align = 0; align < 8; align++) {
			const uint8_t *p = buf + align;
			uint32_t sw = ~crc32c_raw_sw(~0u, p, len);

			assert_int_equal(~crc32c_raw_sw16(~0u, p, len), sw);

			/* The bitwise reference is slow: check it on a sample. */
			if (len < 64 || (len % 61) == 0 || len == MAXLEN)
				assert_int_equal(sw, ref_crc32c(p, len));
			if (hw) {
				assert_int_equal(~crc32c_raw_hw(~0u, p, len), sw);
				assert_int_equal(~crc32c_raw_hw_serial(~0u, p, len), sw);
			}
			assert_int_equal(vigil_crc32c(p, len), sw);
		}
		/* Fresh bytes for the next length, so lengths do not share data. */
		buf[rng() % (MAXLEN + 8)] = (uint8_t)rng();
	}
	free(buf);
}

/* Buffers long enough for the three-lane paths, including their edges. */
static void test_long_buffers(void **state)
{
	static const size_t lens[] = { 767, 768, 769, 3 * 16384 - 1, 3 * 16384, 3 * 16384 + 1, 191, 192, 193, 4 * 3 * 64 + 100,
				       65536, 65536 + 7, 200000 };
	uint8_t *buf = malloc(200000 + 8);

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < 200000 + 8; i++)
		buf[i] = (uint8_t)rng();
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		for (size_t align = 0; align < 8; align++) {
			uint32_t want = ref_crc32c(buf + align, lens[k]);

			assert_int_equal(~crc32c_raw_sw(~0u, buf + align, lens[k]), want);
			assert_int_equal(~crc32c_raw_sw16(~0u, buf + align, lens[k]), want);
			if (crc32c_have_hw())
				assert_int_equal(~crc32c_raw_hw(~0u, buf + align, lens[k]), want);
			assert_int_equal(vigil_crc32c(buf + align, lens[k]), want);
		}
	}
	free(buf);
}

static void test_extend(void **state)
{
	uint8_t buf[1000];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rng();
	for (size_t cut = 0; cut <= sizeof(buf); cut += 37) {
		uint32_t a = vigil_crc32c(buf, cut);

		assert_int_equal(vigil_crc32c_extend(a, buf + cut, sizeof(buf) - cut),
				 vigil_crc32c(buf, sizeof(buf)));
	}
}

static void test_pick(void **state)
{
	uint64_t a[CRC32C__N] = { [CRC32C_SLICE8] = 30, [CRC32C_SLICE16] = 20, [CRC32C_SSE42] = 0 };
	uint64_t b[CRC32C__N] = { [CRC32C_SLICE8] = 30, [CRC32C_SLICE16] = 20, [CRC32C_SSE42] = 5 };
	uint64_t c[CRC32C__N] = { [CRC32C_SLICE8] = 10, [CRC32C_SLICE16] = 20, [CRC32C_SSE42] = 60 };
	uint64_t none[CRC32C__N] = { 0 };

	(void)state;
	assert_int_equal(crc32c_pick(a), CRC32C_SLICE16); /* 0: not available */
	assert_int_equal(crc32c_pick(b), CRC32C_SSE42);
	assert_int_equal(crc32c_pick(c), CRC32C_SLICE8); /* an emulated instruction loses */
	assert_int_equal(crc32c_pick(none), CRC32C_SLICE8);
}

static uint64_t fake_ns;

/* A clock that moves 1 us a read: every implementation ties, the first wins. */
static uint64_t fake_clock(void)
{
	return fake_ns += 1000;
}

static void test_calibrate(void **state)
{
	uint64_t ns[CRC32C__N];
	enum crc32c_impl was = crc32c_have_hw() ? CRC32C_SSE42 : CRC32C_SLICE8, got;

	(void)state;
	got = crc32c_calibrate(fake_clock, ns);
	assert_int_equal(got, CRC32C_SLICE8);
	assert_int_equal(ns[CRC32C_SLICE8], 1000);
	assert_int_equal(ns[CRC32C_SLICE16], 1000);
	assert_int_equal(ns[CRC32C_SSE42], crc32c_have_hw() ? 1000 : 0);
	assert_string_equal(vigil_crc32c_impl(), "slice-by-8");
	assert_int_equal(vigil_crc32c("123456789", 9), 0xE3069283u);

	crc32c_use(CRC32C_SLICE16);
	assert_string_equal(vigil_crc32c_impl(), "slice-by-16");
	assert_string_equal(crc32c_impl_name(CRC32C_SLICE16), "slice-by-16");
	assert_int_equal(vigil_crc32c("123456789", 9), 0xE3069283u);
	crc32c_use(CRC32C_SSE42); /* ignored without the instruction */
	assert_string_equal(vigil_crc32c_impl(), crc32c_have_hw() ? "sse4.2" : "slice-by-16");
	crc32c_use(was);
	assert_string_equal(vigil_crc32c_impl(), crc32c_have_hw() ? "sse4.2" : "slice-by-8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_all_lengths_alignments),
		cmocka_unit_test(test_long_buffers),
		cmocka_unit_test(test_extend),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_calibrate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
