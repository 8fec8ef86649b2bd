/* SPDX-License-Identifier: MIT */
/*
 * cpio: newc archive writer (see cpio.h). Each entry is a 110-byte ASCII
 * header, the NUL-terminated name padded to 4 bytes, then the data padded
 * to 4 bytes. Writes go straight to the fd; file copies use a 64 KiB stack
 * buffer.
 */
#include "cpio.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CPIO_HDR_LEN  110
#define CPIO_COPY_BUF 65536

static const uint8_t cpio_zeros[4];

void vigil_cpio_init(struct vigil_cpio *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

static int cpio_write(struct vigil_cpio *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (c->err)
		return c->err;
	while (len > 0) {
		ssize_t n = write(c->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			c->err = -errno;
			return c->err;
		}
		p += n;
		len -= (size_t)n;
		c->off += (uint64_t)n;
	}
	return 0;
}

static int cpio_pad(struct vigil_cpio *c)
{
	size_t pad = (size_t)((4 - (c->off & 3)) & 3);

	return pad ? cpio_write(c, cpio_zeros, pad) : 0;
}

static int cpio_header(struct vigil_cpio *c, const char *name, uint32_t mode, uint32_t nlink,
		       uint64_t size, unsigned rmajor, unsigned rminor)
{
	char hdr[CPIO_HDR_LEN + 1];
	size_t namesize;

	if (c->err)
		return c->err;
	if (c->finished)
		return c->err = -EINVAL;
	while (*name == '/')
		name++;
	namesize = strlen(name) + 1;
	if (namesize == 1 || namesize > PATH_MAX || size > UINT32_MAX)
		return -EINVAL; /* a bad argument is not a stream error: not sticky */
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 ++c->ino, mode, 0u, 0u, nlink, 0u, (uint32_t)size, 0u, 0u, rmajor, rminor,
		 (uint32_t)namesize, 0u);
	if (cpio_write(c, hdr, CPIO_HDR_LEN) || cpio_write(c, name, namesize))
		return c->err;
	return cpio_pad(c);
}

int vigil_cpio_dir(struct vigil_cpio *c, const char *path, mode_t perm)
{
	return cpio_header(c, path, S_IFDIR | (perm & 07777), 2, 0, 0, 0);
}

int vigil_cpio_file(struct vigil_cpio *c, const char *path, mode_t perm, const void *data,
		    size_t len)
{
	int r = cpio_header(c, path, S_IFREG | (perm & 07777), 1, len, 0, 0);

	if (r)
		return r;
	if (cpio_write(c, data, len))
		return c->err;
	return cpio_pad(c);
}

int vigil_cpio_file_fd(struct vigil_cpio *c, const char *path, mode_t perm, int src, uint64_t size)
{
	uint8_t buf[CPIO_COPY_BUF];
	uint64_t done = 0;
	int r = cpio_header(c, path, S_IFREG | (perm & 07777), 1, size, 0, 0);

	if (r)
		return r;
	while (done < size) {
		size_t want = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
		ssize_t n = pread(src, buf, want, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The file shrank or failed under us: the archive is
			 * already committed to size bytes, so it is broken. */
			c->err = n < 0 ? -errno : -EIO;
			return c->err;
		}
		if (cpio_write(c, buf, (size_t)n))
			return c->err;
		done += (uint64_t)n;
	}
	return cpio_pad(c);
}

int vigil_cpio_symlink(struct vigil_cpio *c, const char *path, const char *target)
{
	size_t len = strlen(target);
	int r;

	if (len == 0)
		return -EINVAL;
	r = cpio_header(c, path, S_IFLNK | 0777, 1, len, 0, 0);
	if (r)
		return r;
	if (cpio_write(c, target, len))
		return c->err;
	return cpio_pad(c);
}

int vigil_cpio_chardev(struct vigil_cpio *c, const char *path, mode_t perm, unsigned major,
		       unsigned minor)
{
	return cpio_header(c, path, S_IFCHR | (perm & 07777), 1, 0, major, minor);
}

int vigil_cpio_finish(struct vigil_cpio *c)
{
	int r;

	if (c->err || c->finished)
		return c->err;
	r = cpio_header(c, "TRAILER!!!", 0, 1, 0, 0, 0);
	if (r)
		return r;
	c->finished = true;
	return 0;
}
