/* SPDX-License-Identifier: MIT */
/*
 * cpio: a writer for the "newc" (SVR4, no CRC) cpio format that the Linux
 * kernel unpacks as an initramfs.
 *
 * Owns: the entry headers, name and data padding, inode numbering and the
 * trailer. Output is deterministic: uid, gid and mtime are 0 and inode
 * numbers count up from 1, so the same entries give the same bytes.
 * Limits: names up to PATH_MAX, file data up to 4 GiB - 1 per entry (the
 * format's 32-bit size field).
 *
 * Errors: negative errno. The first write error is sticky: every later call
 * returns it, so a caller may check only vigil_cpio_finish().
 */
#ifndef VIGIL_CLI_CPIO_H
#define VIGIL_CLI_CPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vigil_cpio {
	int fd;        /* output, borrowed */
	uint64_t off;  /* bytes written so far */
	uint32_t ino;  /* last inode number handed out */
	int err;       /* first error, sticky */
	bool finished; /* trailer written */
};

void vigil_cpio_init(struct vigil_cpio *c, int fd);
/* A directory. path is relative to the archive root ("bin", "lib/modules"). */
int vigil_cpio_dir(struct vigil_cpio *c, const char *path, mode_t perm);
/* A regular file from memory. */
int vigil_cpio_file(struct vigil_cpio *c, const char *path, mode_t perm, const void *data,
		    size_t len);
/* A regular file copied from an open fd: exactly size bytes from its start. */
int vigil_cpio_file_fd(struct vigil_cpio *c, const char *path, mode_t perm, int src, uint64_t size);
int vigil_cpio_symlink(struct vigil_cpio *c, const char *path, const char *target);
/* A character device node (S_IFCHR) such as dev/console 5:1. */
int vigil_cpio_chardev(struct vigil_cpio *c, const char *path, mode_t perm, unsigned major,
		       unsigned minor);
/* Write the TRAILER!!! entry. Returns 0 or the first error seen. */
int vigil_cpio_finish(struct vigil_cpio *c);

#endif /* VIGIL_CLI_CPIO_H */
