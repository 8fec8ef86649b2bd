/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the bzImage reader of host/cli/vmlinux.c (setup
 * header, payload bounds, every decompressor, the ELF note walk) on
 * arbitrary bytes. Checks that a decompressed image is exactly the size the
 * payload declared and that nothing reads out of bounds (ASan).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_check.h"
#include "vmlinux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off, plen, olen;
	enum vigil_kcomp c;
	uint64_t usize;
	uint8_t *out = NULL;

	vigil_elf_has_pvh(data, size);
	if (vigil_bzimage_payload(data, size, &off, &plen, &c, &usize) < 0)
		return 0;
	CHECK(off <= size && plen <= size - off);
	if (usize > (16u << 20))
		return 0; /* a real kernel's size: not for a fuzzer's memory */
	if (vigil_kernel_decompress(c, data + off, plen, usize, &out, &olen) == 0) {
		CHECK(olen == usize);
		vigil_elf_has_pvh(out, olen);
		free(out);
	}
	return 0;
}
