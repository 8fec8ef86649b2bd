/* SPDX-License-Identifier: MIT */
/* rootfs: PID 1's switch into the host's root over virtiofs (see rootfs.h). */
#define _GNU_SOURCE
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...)
{
	int e = -errno;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	n = strlen(err);
	snprintf(err + n, cap - n, ": %s", strerror(-e));
	return e ? e : -EIO;
}

/* ROOTFS_NEW + path into buf (PATH_MAX); false when it does not fit. */
static bool in_new(char *buf, const char *path)
{
	return (size_t)snprintf(buf, PATH_MAX, "%s%s", ROOTFS_NEW, path) < PATH_MAX;
}

/* mkdir -p, then the last component as a directory or an empty file. */
static int make_point(const char *path, bool dir)
{
	char tmp[PATH_MAX];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *s = strchr(tmp + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (dir)
		return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -errno : 0;
	fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EISDIR ? 0 : -errno;
	close(fd);
	return 0;
}

static int mount_layers(char *err, size_t cap)
{
	if (mkdir("/vigil", 0755) < 0 && errno != EEXIST)
		return fail(err, cap, "mkdir /vigil");
	if (make_point(ROOTFS_LOWER, true) < 0 || make_point(ROOTFS_UPPER, true) < 0 ||
	    make_point(ROOTFS_NEW, true) < 0)
		return fail(err, cap, "cannot make the mount points under /vigil");
	if (mount(ROOTFS_TAG, ROOTFS_LOWER, "virtiofs", MS_NODEV, NULL) < 0)
		return fail(err, cap,
			    "cannot mount the host's root (virtiofs tag " ROOTFS_TAG
			    "; does the kernel have virtiofs?)");
	if (mount("tmpfs", ROOTFS_UPPER, "tmpfs", 0, "mode=0755") < 0 ||
	    make_point(ROOTFS_UPPER "/u", true) < 0 || make_point(ROOTFS_UPPER "/w", true) < 0)
		return fail(err, cap, "cannot make the overlay's tmpfs");
	if (mount("overlay", ROOTFS_NEW, "overlay", 0,
		  "lowerdir=" ROOTFS_LOWER ",upperdir=" ROOTFS_UPPER "/u,workdir=" ROOTFS_UPPER
		  "/w") < 0)
		return fail(err, cap, "cannot mount the overlay on the host's root");
	return 0;
}

/* rw: the share's own directory over the overlay's (writes reach the host). */
static int bind_rw(const struct wl *w, char *err, size_t cap)
{
	char src[PATH_MAX], dst[PATH_MAX];

	for (uint32_t i = 0; i < w->nrw; i++) {
		if ((size_t)snprintf(src, sizeof(src), "%s%s", ROOTFS_LOWER, w->rw[i]) >=
			sizeof(src) ||
		    !in_new(dst, w->rw[i]))
			return fail(err, cap, "rw %s: path too long", w->rw[i]);
		if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
			return fail(err, cap, "cannot bind %s writable", w->rw[i]);
	}
	return 0;
}

/* bindsrc/binddst: the overlay's SRC also at DST (guest writes stay in the guest). */
static int bind_maps(const struct wl *w, char *err, size_t cap)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct stat st;

	for (uint32_t i = 0; i < w->nbind_src; i++) {
		if (!in_new(src, w->bind_src[i]) || !in_new(dst, w->bind_dst[i]))
			return fail(err, cap, "%s: path too long", w->bind_dst[i]);
		if (stat(src, &st) < 0)
			return fail(err, cap, "%s (for %s)", w->bind_src[i], w->bind_dst[i]);
		if (make_point(dst, S_ISDIR(st.st_mode)) < 0)
			return fail(err, cap, "cannot make %s", w->bind_dst[i]);
		if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
			return fail(err, cap, "cannot bind %s at %s", w->bind_src[i],
				    w->bind_dst[i]);
	}
	return 0;
}

/* /proc, /sys, /dev (with /dev/pts, /dev/shm) move; /run is new, with the agent in it. */
static int system_dirs(char *err, size_t cap)
{
	static const char *const moved[] = { "/proc", "/sys", "/dev" };
	char dst[PATH_MAX];

	for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
		in_new(dst, moved[i]);
		if (make_point(dst, true) < 0 || mount(moved[i], dst, NULL, MS_MOVE, NULL) < 0)
			return fail(err, cap, "cannot move %s into the host's root", moved[i]);
	}
	in_new(dst, "/run");
	if (make_point(dst, true) < 0 ||
	    mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return fail(err, cap, "cannot mount a tmpfs on /run");
	in_new(dst, ROOTFS_AGENT_DIR "/vigil-agent");
	if (make_point(dst, false) < 0 || mount("/init", dst, NULL, MS_BIND, NULL) < 0)
		return fail(err, cap, "cannot put vigil-agent in " ROOTFS_AGENT_DIR);
	return 0;
}

int rootfs_enter(const struct wl *w, char *err, size_t cap)
{
	int e;

	err[0] = '\0';
	if ((e = mount_layers(err, cap)) < 0 || (e = bind_rw(w, err, cap)) < 0 ||
	    (e = bind_maps(w, err, cap)) < 0 || (e = system_dirs(err, cap)) < 0)
		return e;
	if (chdir(ROOTFS_NEW) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		return fail(err, cap, "cannot switch into the host's root");
	return 0;
}
