/* SPDX-License-Identifier: MIT */
/*
 * fuzz_check: the fuzz targets' invariant check. An input that breaks an
 * invariant aborts, which libFuzzer reports as a crash and keeps. Checked
 * in every build type (assert would vanish under NDEBUG).
 */
#ifndef VIGIL_FUZZ_CHECK_H
#define VIGIL_FUZZ_CHECK_H

#include <stdlib.h>

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

#endif /* VIGIL_FUZZ_CHECK_H */
