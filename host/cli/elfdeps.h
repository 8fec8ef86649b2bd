/* SPDX-License-Identifier: MIT */
/*
 * elfdeps: what a dynamically linked host program needs to run in a bare
 * guest: its program interpreter (PT_INTERP) and the closure of its
 * DT_NEEDED libraries, resolved the way the glibc loader would on the host.
 *
 * Owns: reading ELF64 little-endian headers with pread (the file is never
 * mapped or executed), DT_RPATH/DT_RUNPATH with $ORIGIN, /etc/ld.so.conf and
 * its include globs, and the default multiarch directories.
 * Limits (a file over one is rejected, not truncated): 512 program headers,
 * 8192 dynamic entries, 64 DT_NEEDED per object, VIGIL_ELF_MAX_FILES files
 * in a closure, VIGIL_ELF_MAX_DIRS search directories.
 */
#ifndef VIGIL_CLI_ELFDEPS_H
#define VIGIL_CLI_ELFDEPS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define VIGIL_ELF_MAX_NEEDED 64
#define VIGIL_ELF_MAX_FILES  256
#define VIGIL_ELF_MAX_DIRS   64

struct vigil_elf_info {
	bool dynamic;                       /* has PT_DYNAMIC */
	char interp[PATH_MAX];              /* "" when there is no PT_INTERP */
	char *needed[VIGIL_ELF_MAX_NEEDED]; /* DT_NEEDED names, owned */
	size_t n_needed;
	char *runpath; /* DT_RUNPATH, else DT_RPATH; owned, may be NULL */
	bool runpath_is_rpath;
};

/*
 * Read path's ELF headers. 0 ok; -ENOEXEC not an ELF64 little-endian file
 * (scripts, 32-bit, other data); -EBADMSG malformed; -E2BIG over a limit;
 * -errno on I/O. Free with vigil_elf_info_free() on success.
 */
int vigil_elf_read(const char *path, struct vigil_elf_info *out);
void vigil_elf_info_free(struct vigil_elf_info *info);

struct vigil_libdirs {
	char *dir[VIGIL_ELF_MAX_DIRS];
	size_t n;
};

/*
 * The loader's system search list: the directories from conf (normally
 * "/etc/ld.so.conf", following "include" globs; a missing file is fine)
 * followed by the default multiarch and legacy directories. 0 or -errno.
 */
int vigil_libdirs_system(const char *conf, struct vigil_libdirs *out);
void vigil_libdirs_free(struct vigil_libdirs *d);

struct vigil_elf_closure {
	char *file[VIGIL_ELF_MAX_FILES]; /* host paths: program, interpreter, libraries */
	size_t n;
	bool is_static;             /* the program needs nothing */
	char missing[NAME_MAX + 1]; /* first library not found */
};

/*
 * Everything exe needs, exe first. Paths are where the loader would look,
 * not symlink targets, so copying each to the same path in the guest lets
 * the same loader find it. 0 ok; -ENOENT a library was not found (name in
 * out->missing); other errors from vigil_elf_read. Free with
 * vigil_elf_closure_free() in every case.
 */
int vigil_elf_closure(const char *exe, const struct vigil_libdirs *dirs,
		      struct vigil_elf_closure *out);
void vigil_elf_closure_free(struct vigil_elf_closure *c);

#endif /* VIGIL_CLI_ELFDEPS_H */
