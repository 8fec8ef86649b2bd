/* SPDX-License-Identifier: MIT */
/* workload: the workload file and the per-run initrd (see workload.h). */
#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpio.h"

struct wl_buf {
	char *p;
	size_t len;
	int err;
};

static void put_record(struct wl_buf *b, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val), need = kl + 1 + vl + 1;

	if (b->err)
		return;
	if (b->len + need > VIGIL_WORKLOAD_MAX) {
		b->err = -E2BIG;
		return;
	}
	memcpy(b->p + b->len, key, kl);
	b->p[b->len + kl] = '=';
	memcpy(b->p + b->len + kl + 1, val, vl + 1); /* with its NUL */
	b->len += need;
}

static void put_rootfs(struct wl_buf *b, const struct vigil_workload *w)
{
	char num[16];

	if (w->rootfs_host) {
		put_record(b, "rootfs", "host");
		for (size_t i = 0; w->plan && i < w->plan->n_rw; i++)
			put_record(b, "rw", w->plan->rw[i].path);
		for (size_t i = 0; i < w->n_bind; i++) {
			put_record(b, "bindsrc", w->bind_src[i]);
			put_record(b, "binddst", w->bind_dst[i]);
		}
	}
	if (w->set_ids) {
		snprintf(num, sizeof(num), "%u", w->uid);
		put_record(b, "uid", num);
		snprintf(num, sizeof(num), "%u", w->gid);
		put_record(b, "gid", num);
	}
}

static int check(const struct vigil_workload *w)
{
	if (w->argc < 1 || !w->argv || !w->argv[0])
		return -EINVAL;
	if ((size_t)w->argc > VIGIL_WORKLOAD_MAX_ARGS || w->n_env > VIGIL_WORKLOAD_MAX_ENV)
		return -E2BIG;
	for (size_t i = 0; i < w->n_env; i++) {
		const char *eq = strchr(w->env[i], '=');
		if (!eq || eq == w->env[i])
			return -EINVAL;
	}
	if (w->scenario && (!w->scenario[0] || strlen(w->scenario) > VIGIL_SCENARIO_NAME_MAX))
		return -EINVAL;
	if (w->cwd && w->cwd[0] != '/')
		return -EINVAL;
	for (size_t i = 0; i < w->n_bind; i++) {
		if (w->bind_src[i][0] != '/' || w->bind_dst[i][0] != '/')
			return -EINVAL;
	}
	return 0;
}

int vigil_workload_encode(const struct vigil_workload *w, char **out, size_t *len)
{
	struct wl_buf b = { 0 };
	int e = check(w);

	if (e < 0)
		return e;
	b.p = malloc(VIGIL_WORKLOAD_MAX);
	if (!b.p)
		return -ENOMEM;
	for (int i = 0; i < w->argc; i++)
		put_record(&b, "arg", w->argv[i]);
	for (size_t i = 0; i < w->n_env; i++)
		put_record(&b, "env", w->env[i]);
	if (w->scenario)
		put_record(&b, "scenario", w->scenario);
	if (w->cwd)
		put_record(&b, "cwd", w->cwd);
	put_rootfs(&b, w);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

static int copy_image(int dst, const char *image_path, uint64_t *size)
{
	struct stat st;
	int src = open(image_path, O_RDONLY | O_CLOEXEC), e = 0;
	off_t off = 0;

	if (src < 0)
		return -errno;
	if (fstat(src, &st) < 0) {
		e = -errno;
		goto out;
	}
	while (off < st.st_size) {
		ssize_t n = sendfile(dst, src, &off, (size_t)(st.st_size - off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? -errno : -EIO;
			goto out;
		}
	}
	*size = (uint64_t)st.st_size;
out:
	close(src);
	return e;
}

int vigil_workload_initrd(const char *image_path, const char *file, size_t len)
{
	struct vigil_cpio c;
	uint64_t size = 0;
	int fd = memfd_create("vigil-initrd", 0), e;

	if (fd < 0)
		return -errno;
	e = copy_image(fd, image_path, &size);
	if (e < 0)
		goto fail;
	/* newc archives start on a 4-byte boundary */
	if (size % 4) {
		static const char zero[4];
		if (write(fd, zero, 4 - size % 4) != (ssize_t)(4 - size % 4)) {
			e = -EIO;
			goto fail;
		}
	}
	vigil_cpio_init(&c, fd);
	vigil_cpio_dir(&c, "etc", 0755);
	vigil_cpio_dir(&c, "etc/vigil", 0755);
	vigil_cpio_file(&c, VIGIL_WORKLOAD_PATH, 0644, file, len);
	e = vigil_cpio_finish(&c);
	if (e < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return e;
}

void vigil_workload_initrd_path(int fd, char *buf, size_t cap)
{
	snprintf(buf, cap, "/proc/self/fd/%d", fd);
}

bool vigil_input_waiting(int fd)
{
	struct stat st;
	int queued = 0;

	if (fstat(fd, &st) < 0)
		return false;
	if (S_ISREG(st.st_mode))
		return st.st_size > 0;
	return (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) &&
	       ioctl(fd, FIONREAD, &queued) == 0 && queued > 0;
}
