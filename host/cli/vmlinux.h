/* SPDX-License-Identifier: MIT */
/*
 * vmlinux: the uncompressed kernel inside a bzImage, for PVH boot (QEMU
 * loads an ELF kernel with the Xen PVH entry note straight into 32-bit
 * protected mode: no real-mode setup, no decompressor; measured here
 * 0.78x the bzImage's boot to SYS_RDY under TCG).
 *
 * Owns: finding the payload through the bzImage's setup header (boot
 * protocol 2.08+: payload_offset, payload_length; the last 4 bytes of the
 * payload are the uncompressed size, as the kernel's build appends it),
 * recognising its compression by magic and decompressing it with the
 * Debian libraries (zlib for gzip, liblzma for xz and lzma, libzstd,
 * liblz4 for the kernel's legacy LZ4 format: 4-byte block sizes, 8 MiB
 * blocks), checking the result is an ELF64 with a PT_NOTE "Xen" note of
 * type 18 (XEN_ELFNOTE_PHYS32_ENTRY), and the cache: vmlinux-HASH.elf
 * beside the image cache, keyed by the bzImage's SHA-256, at most
 * VIGIL_VMLINUX_KEEP kept (least recently used go).
 *
 * Limits: an uncompressed kernel of at most VIGIL_VMLINUX_MAX bytes; a
 * bzImage of at most 256 MiB. Load: a cache miss decompresses ~15 MB into
 * ~50 MB once per kernel (about half a second); a hit costs a stat.
 */
#ifndef VIGIL_CLI_VMLINUX_H
#define VIGIL_CLI_VMLINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_VMLINUX_MAX  (512u << 20)
#define VIGIL_VMLINUX_KEEP 4

enum vigil_kcomp {
	VIGIL_KCOMP_NONE = 0, /* not recognised */
	VIGIL_KCOMP_GZIP,
	VIGIL_KCOMP_XZ,
	VIGIL_KCOMP_LZMA,
	VIGIL_KCOMP_ZSTD,
	VIGIL_KCOMP_LZ4,
};

const char *vigil_kcomp_name(enum vigil_kcomp c);

/*
 * The payload of a bzImage in buf[0..len): *off and *plen, its
 * compression and the uncompressed size it declares. 0, or -ENOEXEC (not
 * a bzImage of boot protocol 2.08+, or a payload out of bounds), -ENOTSUP
 * (a compression not handled here, e.g. bzip2 or lzo).
 */
int vigil_bzimage_payload(const uint8_t *buf, size_t len, size_t *off, size_t *plen,
			  enum vigil_kcomp *comp, uint64_t *usize);

/*
 * Decompress payload p[0..len) of compression c, declaring usize bytes,
 * into *out (malloc'd, *olen bytes). 0, -EBADMSG (corrupt, or not usize
 * bytes), -EFBIG (over VIGIL_VMLINUX_MAX), -ENOMEM.
 */
int vigil_kernel_decompress(enum vigil_kcomp c, const uint8_t *p, size_t len, uint64_t usize,
			    uint8_t **out, size_t *olen);

/* An ELF64 x86-64 image with the PVH entry note. */
bool vigil_elf_has_pvh(const uint8_t *buf, size_t len);
/* 1 when path is an ELF64 with a non-empty symbol table (.symtab: what gdb
 * needs to name kernel functions; distro vmlinux images have none), 0 when
 * not, -errno when it cannot be read. Reads only the headers. */
int vigil_elf_file_has_symtab(const char *path);

/*
 * The release of a vmlinux ELF ("6.1.0-57-cloud-amd64"): the word after
 * the first "Linux version " in the file (its linux_banner). 0, or
 * -ENOEXEC (no banner), -errno.
 */
int vigil_vmlinux_release(const char *path, char *buf, size_t cap);

/*
 * The PVH-bootable vmlinux for the kernel at path: path itself when it is
 * already such an ELF; else the cached extraction of the bzImage (made on
 * a miss). 0 with out set; a negative errno and why (one line) when the
 * kernel cannot boot through PVH: the caller boots the bzImage instead.
 */
int vigil_vmlinux_for(const char *path, char *out, size_t cap, char *why, size_t why_cap);

#endif /* VIGIL_CLI_VMLINUX_H */
