/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/cli/vmlinux.c: synthetic bzImages (a setup header and a
 * payload compressed here with each Debian library the kernel's build
 * formats map to) around small ELF images with and without the PVH note;
 * the payload, each decompressor, the note check, bad inputs, and the
 * cache of vigil_vmlinux_for.
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
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "test_util.h"
#include "vmlinux.h"

#define ELF_LEN 8192

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* An ELF64 x86-64 with one PT_NOTE; the note is Xen's PVH entry when pvh. */
static void make_elf(uint8_t *b, bool pvh)
{
	memset(b, 0, ELF_LEN);
	memcpy(b, "\177ELF\2\1\1", 7);
	b[18] = 62;             /* EM_X86_64 */
	put64(b + 32, 64);      /* e_phoff */
	b[54] = 56;             /* e_phentsize */
	b[56] = 1;              /* e_phnum */
	put32(b + 64, 4);       /* PT_NOTE */
	put64(b + 64 + 8, 200); /* p_offset */
	put64(b + 64 + 32, 20); /* p_filesz */
	put32(b + 200, 4);      /* namesz */
	put32(b + 204, 4);      /* descsz */
	put32(b + 208, pvh ? 18 : 17);
	memcpy(b + 212, "Xen", 4);
	for (int i = 300; i < ELF_LEN; i++)
		b[i] = (uint8_t)(i * 7 + i / 100); /* something to compress */
}

static size_t compress_gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z = { 0 };

	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

static size_t compress_xz(bool alone, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;

	lzma_lzma_preset(&opt, 6);
	assert_int_equal(alone ? lzma_alone_encoder(&s, &opt)
			       : lzma_easy_encoder(&s, 6, LZMA_CHECK_CRC32),
			 LZMA_OK);
	s.next_in = in;
	s.avail_in = n;
	s.next_out = out;
	s.avail_out = cap;
	assert_int_equal(lzma_code(&s, LZMA_FINISH), LZMA_STREAM_END);
	lzma_end(&s);
	return s.total_out;
}

/* The kernel's legacy LZ4: magic, then [u32 size][block] (one block here). */
static size_t compress_lz4(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	int c = LZ4_compress_default((const char *)in, (char *)out + 8, (int)n, (int)cap - 8);

	assert_true(c > 0);
	put32(out, 0x184C2102u);
	put32(out + 4, (uint32_t)c);
	return (size_t)c + 8;
}

/* A bzImage: 2 sectors of setup (setup_sects 1) then the payload and its size. */
static size_t make_bzimage(enum vigil_kcomp c, const uint8_t *elf, uint8_t *bz, size_t cap)
{
	size_t n = 0;

	memset(bz, 0, 1024);
	bz[0x1f1] = 1;
	memcpy(bz + 0x202, "HdrS", 4);
	bz[0x206] = 0x0f;
	bz[0x207] = 0x02;
	switch (c) {
	case VIGIL_KCOMP_GZIP:
		n = compress_gzip(elf, ELF_LEN, bz + 1024, cap - 1028);
		break;
	case VIGIL_KCOMP_XZ:
	case VIGIL_KCOMP_LZMA:
		n = compress_xz(c == VIGIL_KCOMP_LZMA, elf, ELF_LEN, bz + 1024, cap - 1028);
		break;
	case VIGIL_KCOMP_ZSTD:
		n = ZSTD_compress(bz + 1024, cap - 1028, elf, ELF_LEN, 3);
		assert_false(ZSTD_isError(n));
		break;
	case VIGIL_KCOMP_LZ4:
		n = compress_lz4(elf, ELF_LEN, bz + 1024, cap - 1028);
		break;
	default:
		fail();
	}
	put32(bz + 1024 + n, ELF_LEN); /* the appended uncompressed size */
	put32(bz + 0x248, 0);
	put32(bz + 0x24c, (uint32_t)n + 4);
	return 1024 + n + 4;
}

static void test_each_compression(void **state)
{
	static uint8_t elf[ELF_LEN], bz[3 * ELF_LEN];
	const enum vigil_kcomp all[] = { VIGIL_KCOMP_GZIP, VIGIL_KCOMP_XZ, VIGIL_KCOMP_LZMA,
					 VIGIL_KCOMP_ZSTD, VIGIL_KCOMP_LZ4 };

	(void)state;
	make_elf(elf, true);
	assert_true(vigil_elf_has_pvh(elf, ELF_LEN));
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		size_t len = make_bzimage(all[i], elf, bz, sizeof(bz)), off, plen, olen;
		enum vigil_kcomp c;
		uint64_t usize;
		uint8_t *out = NULL;

		assert_int_equal(vigil_bzimage_payload(bz, len, &off, &plen, &c, &usize), 0);
		assert_int_equal(c, all[i]);
		assert_int_equal(usize, ELF_LEN);
		assert_int_equal(vigil_kernel_decompress(c, bz + off, plen, usize, &out, &olen), 0);
		assert_int_equal(olen, ELF_LEN);
		assert_memory_equal(out, elf, ELF_LEN);
		free(out);
		/* a corrupt stream is refused, or (streams without a check: lzma, lz4,
		 * zstd without its frame checksum) gives other bytes, which the note
		 * check then judges */
		bz[off + plen / 2] ^= 0x5a;
		if (vigil_kernel_decompress(c, bz + off, plen, usize, &out, &olen) == 0) {
			assert_true(c == VIGIL_KCOMP_LZMA || c == VIGIL_KCOMP_LZ4 ||
				    c == VIGIL_KCOMP_ZSTD);
			assert_memory_not_equal(out, elf, ELF_LEN);
			free(out);
		}
		bz[off + plen / 2] ^= 0x5a;
		/* a size that lies is refused */
		assert_int_equal(vigil_kernel_decompress(c, bz + off, plen, usize + 1, &out, &olen),
				 -EBADMSG);
		assert_int_equal(
		    vigil_kernel_decompress(c, bz + off, plen, 1ull << 40, &out, &olen), -EFBIG);
	}
}

static void test_not_bzimages(void **state)
{
	static uint8_t elf[ELF_LEN], bz[3 * ELF_LEN];
	size_t len, off, plen;
	enum vigil_kcomp c;
	uint64_t usize;

	(void)state;
	make_elf(elf, false);
	assert_false(vigil_elf_has_pvh(elf, ELF_LEN)); /* another note type */
	make_elf(elf, true);
	assert_false(vigil_elf_has_pvh(elf, 100)); /* cut before its note */
	len = make_bzimage(VIGIL_KCOMP_GZIP, elf, bz, sizeof(bz));
	assert_int_equal(vigil_bzimage_payload(bz, 0x240, &off, &plen, &c, &usize), -ENOEXEC);
	bz[0x206] = 0x06; /* protocol 2.06: no payload fields */
	assert_int_equal(vigil_bzimage_payload(bz, len, &off, &plen, &c, &usize), -ENOEXEC);
	bz[0x206] = 0x0f;
	put32(bz + 0x24c, (uint32_t)len); /* past the end */
	assert_int_equal(vigil_bzimage_payload(bz, len, &off, &plen, &c, &usize), -ENOEXEC);
	put32(bz + 0x24c, (uint32_t)(len - 1024));
	memcpy(bz + 1024, "BZh9", 4); /* bzip2: not read here */
	assert_int_equal(vigil_bzimage_payload(bz, len, &off, &plen, &c, &usize), -ENOTSUP);
}

static void test_cache(void **state)
{
	static uint8_t elf[ELF_LEN], bz[3 * ELF_LEN];
	char dir[] = "/tmp/vigil-vmlinux-XXXXXX", path[PATH_MAX], out[PATH_MAX], out2[PATH_MAX];
	char why[256];
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("XDG_CACHE_HOME", dir, 1);
	make_elf(elf, true);
	len = make_bzimage(VIGIL_KCOMP_XZ, elf, bz, sizeof(bz));
	assert_int_equal(tu_write(dir, "bzImage", bz, len, 0644), 0);
	snprintf(path, sizeof(path), "%s/bzImage", dir);
	assert_int_equal(vigil_vmlinux_for(path, out, sizeof(out), why, sizeof(why)), 0);
	assert_non_null(strstr(out, "/vmlinux-"));
	assert_int_equal(vigil_vmlinux_for(path, out2, sizeof(out2), why, sizeof(why)), 0);
	assert_string_equal(out, out2); /* the cache */
	/* a vmlinux given as the kernel is booted as it is */
	assert_int_equal(vigil_vmlinux_for(out, out2, sizeof(out2), why, sizeof(why)), 0);
	assert_string_equal(out, out2);
	/* no PVH note: refused with the reason, the caller boots the bzImage */
	make_elf(elf, false);
	len = make_bzimage(VIGIL_KCOMP_GZIP, elf, bz, sizeof(bz));
	assert_int_equal(tu_write(dir, "bzImage2", bz, len, 0644), 0);
	snprintf(path, sizeof(path), "%s/bzImage2", dir);
	assert_int_equal(vigil_vmlinux_for(path, out, sizeof(out), why, sizeof(why)), -ENOEXEC);
	assert_non_null(strstr(why, "PVH"));
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

static void test_release(void **state)
{
	char dir[] = "/tmp/vigil-vmrel-XXXXXX", path[PATH_MAX], rel[64];
	static const char text[] = "\177ELF junk Linux version %s (%s)\0 more "
				   "Linux version 6.1.0-57-cloud-amd64 (debian-kernel@x) #1 SMP";

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(tu_write(dir, "vmlinux", text, sizeof(text), 0644), 0);
	snprintf(path, sizeof(path), "%s/vmlinux", dir);
	assert_int_equal(vigil_vmlinux_release(path, rel, sizeof(rel)), 0);
	assert_string_equal(rel, "6.1.0-57-cloud-amd64");
	assert_int_equal(tu_write(dir, "vmlinux", "\177ELF Linux version %s", 22, 0644), 0);
	assert_int_equal(vigil_vmlinux_release(path, rel, sizeof(rel)), -ENOEXEC);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_compression),
		cmocka_unit_test(test_not_bzimages),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_release),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
