/* SPDX-License-Identifier: MIT */
/* vmlinux: a bzImage's kernel, extracted for PVH boot (see vmlinux.h). */
#include "vmlinux.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lz4.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "initramfs.h"
#include "provenance.h"

#define BZIMAGE_MAX              (256u << 20)
#define LZ4_LEGACY_MAGIC         0x184C2102u
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define LZMA_MEMLIMIT            (256u << 20) /* the xz/lzma decoder's own memory */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

const char *vigil_kcomp_name(enum vigil_kcomp c)
{
	static const char *const n[] = { "unknown", "gzip", "xz", "lzma", "zstd", "lz4" };

	return (unsigned)c < sizeof(n) / sizeof(n[0]) ? n[c] : "unknown";
}

static enum vigil_kcomp magic(const uint8_t *p, size_t len)
{
	if (len >= 2 && p[0] == 0x1f && (p[1] == 0x8b || p[1] == 0x9e))
		return VIGIL_KCOMP_GZIP;
	if (len >= 6 && !memcmp(p,
				"\xfd"
				"7zXZ\0",
				6))
		return VIGIL_KCOMP_XZ;
	if (len >= 4 && le32(p) == 0xFD2FB528u)
		return VIGIL_KCOMP_ZSTD;
	if (len >= 4 && le32(p) == LZ4_LEGACY_MAGIC)
		return VIGIL_KCOMP_LZ4;
	if (len >= 3 && p[0] == 0x5d && p[1] == 0 && p[2] == 0)
		return VIGIL_KCOMP_LZMA;
	return VIGIL_KCOMP_NONE;
}

int vigil_bzimage_payload(const uint8_t *buf, size_t len, size_t *off, size_t *plen,
			  enum vigil_kcomp *comp, uint64_t *usize)
{
	size_t setup, po, pl;

	/* "HdrS" at 0x202, protocol >= 2.08 for payload_offset/length */
	if (len < 0x250 || memcmp(buf + 0x202, "HdrS", 4) || le16(buf + 0x206) < 0x0208)
		return -ENOEXEC;
	setup = ((size_t)(buf[0x1f1] ? buf[0x1f1] : 4) + 1) * 512;
	po = le32(buf + 0x248);
	pl = le32(buf + 0x24c);
	if (setup > len || po > len - setup || pl < 8 || pl > len - setup - po)
		return -ENOEXEC;
	*off = setup + po;
	*plen = pl;
	*usize = le32(buf + *off + pl - 4); /* appended by the kernel's build */
	*comp = magic(buf + *off, pl);
	return *comp == VIGIL_KCOMP_NONE ? -ENOTSUP : 0;
}

static int gunzip(const uint8_t *p, size_t len, uint8_t *out, size_t olen)
{
	z_stream z = { 0 };
	int r;

	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)olen;
	r = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	return r == Z_STREAM_END && z.total_out == olen ? 0 : -EBADMSG;
}

static int unxz(bool alone, const uint8_t *p, size_t len, uint8_t *out, size_t olen)
{
	lzma_stream s = LZMA_STREAM_INIT;
	/* a kernel's dictionary is at most 64 MiB: a header asking more is refused */
	lzma_ret r = alone ? lzma_alone_decoder(&s, LZMA_MEMLIMIT)
			   : lzma_stream_decoder(&s, LZMA_MEMLIMIT, 0);

	if (r != LZMA_OK)
		return -ENOMEM;
	s.next_in = p;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = olen;
	r = lzma_code(&s, LZMA_FINISH);
	lzma_end(&s);
	return (r == LZMA_STREAM_END || (alone && r == LZMA_OK)) && s.total_out == olen ? 0
											: -EBADMSG;
}

static int unzstd(const uint8_t *p, size_t len, uint8_t *out, size_t olen)
{
	size_t r = ZSTD_decompress(out, olen, p, len);

	return !ZSTD_isError(r) && r == olen ? 0 : -EBADMSG;
}

/* The kernel's legacy LZ4: magic, then blocks of [u32 size][data], 8 MiB out each. */
static int unlz4(const uint8_t *p, size_t len, uint8_t *out, size_t olen)
{
	size_t pos = 4, o = 0;

	while (pos + 4 <= len) {
		uint32_t bs = le32(p + pos);
		int n;

		pos += 4;
		if (bs == LZ4_LEGACY_MAGIC)
			continue; /* a concatenated stream */
		if (bs > len - pos || bs > INT32_MAX || o >= olen)
			return -EBADMSG;
		n = LZ4_decompress_safe((const char *)p + pos, (char *)out + o, (int)bs,
					(int)(olen - o > INT32_MAX ? INT32_MAX : olen - o));
		if (n < 0)
			return -EBADMSG;
		o += (size_t)n;
		pos += bs;
	}
	return o == olen ? 0 : -EBADMSG;
}

int vigil_kernel_decompress(enum vigil_kcomp c, const uint8_t *p, size_t len, uint64_t usize,
			    uint8_t **out, size_t *olen)
{
	uint8_t *o;
	int e;

	if (usize == 0 || usize > VIGIL_VMLINUX_MAX)
		return usize ? -EFBIG : -EBADMSG;
	if (len < 4)
		return -EBADMSG;
	len -= 4; /* the appended size is not part of the stream */
	o = malloc(usize);
	if (!o)
		return -ENOMEM;
	switch (c) {
	case VIGIL_KCOMP_GZIP:
		e = gunzip(p, len, o, usize);
		break;
	case VIGIL_KCOMP_XZ:
	case VIGIL_KCOMP_LZMA:
		e = unxz(c == VIGIL_KCOMP_LZMA, p, len, o, usize);
		break;
	case VIGIL_KCOMP_ZSTD:
		e = unzstd(p, len, o, usize);
		break;
	case VIGIL_KCOMP_LZ4:
		e = unlz4(p, len, o, usize);
		break;
	default:
		e = -ENOTSUP;
	}
	if (e < 0) {
		free(o);
		return e;
	}
	*out = o;
	*olen = usize;
	return 0;
}

/* Walk one PT_NOTE segment's notes for "Xen" type 18. */
static bool note_has_pvh(const uint8_t *n, size_t len)
{
	size_t pos = 0;

	while (pos + 12 <= len) {
		uint32_t namesz = le32(n + pos), descsz = le32(n + pos + 4),
			 type = le32(n + pos + 8);
		size_t name_al = ((size_t)namesz + 3) & ~(size_t)3;
		size_t desc_al = ((size_t)descsz + 3) & ~(size_t)3;

		pos += 12;
		if (name_al > len - pos || desc_al > len - pos - name_al)
			return false;
		if (namesz == 4 && !memcmp(n + pos, "Xen", 4) && type == XEN_ELFNOTE_PHYS32_ENTRY)
			return true;
		pos += name_al + desc_al;
	}
	return false;
}

bool vigil_elf_has_pvh(const uint8_t *b, size_t len)
{
	uint64_t phoff;
	uint16_t phentsize, phnum;

	if (len < 64 || memcmp(b, "\177ELF", 4) || b[4] != 2 || b[5] != 1 || le16(b + 18) != 62)
		return false;
	phoff = le64(b + 32);
	phentsize = le16(b + 54);
	phnum = le16(b + 56);
	if (phentsize < 56 || phoff > len || (uint64_t)phnum * phentsize > len - phoff)
		return false;
	for (uint16_t i = 0; i < phnum; i++) {
		const uint8_t *ph = b + phoff + (size_t)i * phentsize;
		uint64_t off = le64(ph + 8), sz = le64(ph + 32);

		if (le32(ph) == 4 /* PT_NOTE */ && off <= len && sz <= len - off &&
		    note_has_pvh(b + off, (size_t)sz))
			return true;
	}
	return false;
}

/* The section headers, read in pieces: a kernel has about 40 sections,
 * ELF allows 65535. */
int vigil_elf_file_has_symtab(const char *path)
{
	uint8_t eh[64], sh[64 * 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;
	uint64_t shoff;
	uint16_t shentsize, shnum;

	if (fd < 0)
		return -errno;
	if (pread(fd, eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh, "\177ELF", 4) ||
	    eh[4] != 2 || eh[5] != 1) {
		close(fd);
		return 0;
	}
	shoff = le64(eh + 40);
	shentsize = le16(eh + 58);
	shnum = le16(eh + 60);
	for (uint16_t i = 0; shentsize == 64 && i < shnum && !found; i += 16) {
		uint16_t k = shnum - i < 16 ? (uint16_t)(shnum - i) : 16;
		ssize_t n = pread(fd, sh, (size_t)k * 64, (off_t)(shoff + (uint64_t)i * 64));

		if (n != (ssize_t)k * 64)
			break;
		for (uint16_t j = 0; j < k && !found; j++)
			found = le32(sh + j * 64 + 4) == 2 /* SHT_SYMTAB */ &&
				le64(sh + j * 64 + 32) > 24 /* more than the null symbol */;
	}
	close(fd);
	return found;
}

/* ---- the file and the cache ------------------------------------------------------- */

static int read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *b;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		e = fstat(fd, &st) < 0 ? -errno : -EFBIG;
		close(fd);
		return e;
	}
	b = malloc((size_t)st.st_size ? (size_t)st.st_size : 1);
	while (b && got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		if (n <= 0) {
			e = n < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (!b || e) {
		free(b);
		return b ? e : -ENOMEM;
	}
	*out = b;
	*len = got;
	return 0;
}

static int write_atomic(const char *path, const uint8_t *b, size_t len)
{
	char tmp[PATH_MAX + 16];
	size_t done = 0;
	int fd, e = 0;

	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, b + done, len - done);
		if (n <= 0) {
			e = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) < 0 && !e)
		e = -errno;
	if (!e && rename(tmp, path) < 0)
		e = -errno;
	if (e)
		unlink(tmp);
	return e;
}

struct cached {
	char name[NAME_MAX + 1];
	time_t used;
};

static int by_use(const void *a, const void *b)
{
	const struct cached *x = a, *y = b;

	return x->used < y->used ? 1 : x->used > y->used ? -1 : 0; /* newest first */
}

/* Keep the VIGIL_VMLINUX_KEEP most recently used extractions. */
static void evict(const char *dir)
{
	struct cached c[64];
	char path[PATH_MAX * 2];
	struct dirent *d;
	struct stat st;
	size_t n = 0;
	DIR *dp = opendir(dir);

	while (dp && (d = readdir(dp)) && n < sizeof(c) / sizeof(c[0])) {
		size_t l = strlen(d->d_name);
		if (strncmp(d->d_name, "vmlinux-", 8) || l < 4 || strcmp(d->d_name + l - 4, ".elf"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (stat(path, &st) == 0) {
			snprintf(c[n].name, sizeof(c[n].name), "%s", d->d_name);
			c[n++].used = st.st_mtime;
		}
	}
	if (dp)
		closedir(dp);
	qsort(c, n, sizeof(c[0]), by_use);
	for (size_t i = VIGIL_VMLINUX_KEEP; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, c[i].name);
		unlink(path);
	}
}

static int extract(const uint8_t *bz, size_t len, const char *out, char *why, size_t cap)
{
	size_t off, plen, vlen;
	enum vigil_kcomp comp;
	uint64_t usize;
	uint8_t *v = NULL;
	int e = vigil_bzimage_payload(bz, len, &off, &plen, &comp, &usize);

	if (e < 0) {
		snprintf(why, cap, "%s",
			 e == -ENOTSUP ? "its payload's compression is not one vigil reads"
				       : "not a bzImage vigil can read (boot protocol 2.08+)");
		return e;
	}
	e = vigil_kernel_decompress(comp, bz + off, plen, usize, &v, &vlen);
	if (e < 0) {
		snprintf(why, cap, "its %s payload would not decompress (%s)",
			 vigil_kcomp_name(comp), strerror(-e));
		return e;
	}
	if (!vigil_elf_has_pvh(v, vlen)) {
		snprintf(why, cap, "its vmlinux has no PVH entry note (CONFIG_PVH)");
		free(v);
		return -ENOEXEC;
	}
	e = write_atomic(out, v, vlen);
	free(v);
	if (e < 0)
		snprintf(why, cap, "cannot write %s: %s", out, strerror(-e));
	return e;
}

/* Whether path starts as an ELF file does: 1, 0, or -errno. */
static int starts_elf(const char *path)
{
	uint8_t m[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, m, sizeof(m), 0);
	close(fd);
	if (n < 0)
		return -errno;
	return n == 4 && !memcmp(m, "\177ELF", 4);
}

/*
 * The image is read whole only when it must be: an ELF to look for its
 * PVH note, or a bzImage whose vmlinux is not cached yet. A cached one
 * costs a stat-keyed hash lookup (vigil_file_sha256): reading 14 MB into
 * fresh memory took about 45 ms a run here.
 */
int vigil_vmlinux_for(const char *path, char *out, size_t cap, char *why, size_t why_cap)
{
	char dir[PATH_MAX], hash[65];
	uint8_t *bz = NULL;
	size_t len = 0;
	int e = starts_elf(path);

	why[0] = '\0';
	if (e == 1 && (e = read_file(path, BZIMAGE_MAX, &bz, &len)) == 0) {
		bool pvh = vigil_elf_has_pvh(bz, len);

		free(bz);
		bz = NULL;
		if (pvh) { /* already a vmlinux */
			snprintf(out, cap, "%s", path);
			return 0;
		}
	}
	if (e < 0) {
		snprintf(why, why_cap, "cannot read %s: %s", path, strerror(-e));
		return e;
	}
	if ((e = vigil_ird_cache_dir(dir, sizeof(dir))) < 0 ||
	    (e = vigil_file_sha256(path, hash)) < 0) {
		snprintf(why, why_cap, "no cache directory or hash (%s)", strerror(-e));
		return e;
	}
	if ((size_t)snprintf(out, cap, "%s/vmlinux-%.32s.elf", dir, hash) >= cap)
		return -ENAMETOOLONG;
	if (access(out, R_OK) == 0) {
		utimensat(AT_FDCWD, out, NULL, 0); /* most recently used */
		return 0;
	}
	if ((e = read_file(path, BZIMAGE_MAX, &bz, &len)) < 0) {
		snprintf(why, why_cap, "cannot read %s: %s", path, strerror(-e));
		return e;
	}
	e = extract(bz, len, out, why, why_cap);
	free(bz);
	if (e == 0)
		evict(dir);
	return e;
}

int vigil_vmlinux_release(const char *path, char *buf, size_t cap)
{
	static const char banner[] = "Linux version ";
	uint8_t *b = NULL;
	size_t len = 0, n;
	const uint8_t *p;
	int e = read_file(path, VIGIL_VMLINUX_MAX, &b, &len);

	if (e < 0)
		return e;
	/* the banner's release starts with a digit ("Linux version %s" formats do not) */
	for (p = memmem(b, len, banner, sizeof(banner) - 1);
	     p && (p + sizeof(banner) > b + len || p[sizeof(banner) - 1] < '0' ||
		   p[sizeof(banner) - 1] > '9');
	     p = memmem(p + 1, (size_t)(b + len - p - 1), banner, sizeof(banner) - 1))
		;
	e = -ENOEXEC;
	if (p) {
		p += sizeof(banner) - 1;
		for (n = 0; p + n < b + len && n < 64 && p[n] > ' ' && p[n] < 0x7f; n++)
			;
		if (n && n < cap && p + n < b + len && p[n] == ' ') {
			memcpy(buf, p, n);
			buf[n] = '\0';
			e = 0;
		}
	}
	free(b);
	return e;
}
