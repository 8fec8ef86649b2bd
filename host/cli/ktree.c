/* SPDX-License-Identifier: MIT */
/* ktree: a kernel build tree's kernel and modules (see ktree.h). */
#include "ktree.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "initramfs.h"

const char *vigil_module_config(const char *name)
{
	static const char *const map[][2] = {
		{ "virtio_console", "CONFIG_VIRTIO_CONSOLE" },
		{ "virtio_pci", "CONFIG_VIRTIO_PCI" },
		{ "virtio_mmio", "CONFIG_VIRTIO_MMIO" },
		{ "virtiofs", "CONFIG_VIRTIO_FS" },
		{ "fuse", "CONFIG_FUSE_FS" },
		{ "overlay", "CONFIG_OVERLAY_FS" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (!strcmp(map[i][0], name))
			return map[i][1];
	}
	return NULL;
}

static int fail(char *err, size_t cap, int e, const char *fmt, const char *arg)
{
	snprintf(err, cap, fmt, arg);
	return e;
}

/* mkdir -p for the parents of path. */
static void make_parents(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *s = strchr(tmp + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(tmp, 0755);
		*s = '/';
	}
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC), out, e = 0;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		e = -errno;
		close(in);
		return e;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			e = -EIO;
			break;
		}
	}
	if (n < 0)
		e = -errno;
	close(in);
	if (close(out) < 0 && !e)
		e = -errno;
	return e;
}

static void read_release(const char *dir, struct vigil_ktree *t)
{
	char path[PATH_MAX + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/include/config/kernel.release", dir);
	f = fopen(path, "re");
	t->release[0] = '\0';
	if (f && fgets(t->release, sizeof(t->release), f))
		t->release[strcspn(t->release, "\r\n")] = '\0';
	if (f)
		fclose(f);
	if (!t->release[0] && vigil_kernel_release(t->kernel, t->release, sizeof(t->release)) < 0)
		t->release[0] = '\0';
}

/* Each module of modules.order linked into moddir/kernel/ ("x.o" is "x.ko"). */
static int link_modules(const char *dir, struct vigil_ktree *t)
{
	char path[PATH_MAX + 16], line[PATH_MAX], src[PATH_MAX * 2], dst[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/modules.order", dir);
	f = fopen(path, "re");
	if (!f)
		return 0; /* built without modules */
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");

		line[n] = '\0';
		if (n > 2 && !strcmp(line + n - 2, ".o") && n + 1 < sizeof(line))
			memcpy(line + n - 2, ".ko", 4);
		if (!n || (size_t)snprintf(src, sizeof(src), "%s/%s", dir, line) >= sizeof(src) ||
		    (size_t)snprintf(dst, sizeof(dst), "%s/kernel/%s", t->moddir, line) >=
			sizeof(dst) ||
		    access(src, R_OK) < 0)
			continue; /* listed but not built */
		make_parents(dst);
		if (symlink(src, dst) == 0)
			t->modules++;
	}
	fclose(f);
	return 0;
}

static int run_depmod(const struct vigil_ktree *t, char *err, size_t cap)
{
	char *argv[] = { "depmod", "-b", (char *)t->stage, (char *)t->release, NULL };
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 1);
		execvp("depmod", argv);
		execv("/usr/sbin/depmod", argv);
		execv("/sbin/depmod", argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return fail(err, cap, -errno, "cannot run depmod: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return fail(err, cap, -EIO,
			    WIFEXITED(st) && WEXITSTATUS(st) == 127
				? "%s: depmod not found (install the Debian package kmod)"
				: "depmod failed on the modules of %s",
			    t->kernel);
	return 0;
}

int vigil_ktree_open(const char *dir, struct vigil_ktree *t, char *err, size_t cap)
{
	char from[PATH_MAX + 40], to[PATH_MAX * 2];
	static const char *const extra[] = { "modules.builtin", "modules.builtin.modinfo" };
	int e;

	memset(t, 0, sizeof(*t));
	snprintf(t->kernel, sizeof(t->kernel), "%s/vmlinux", dir);
	if (access(t->kernel, R_OK) < 0)
		snprintf(t->kernel, sizeof(t->kernel), "%s/arch/x86/boot/bzImage", dir);
	if (access(t->kernel, R_OK) < 0)
		return fail(err, cap, -ENOENT,
			    "%s: no vmlinux and no arch/x86/boot/bzImage (is it a built kernel "
			    "tree?)",
			    dir);
	read_release(dir, t);
	if (!t->release[0])
		return fail(err, cap, -ENOEXEC,
			    "%s: no include/config/kernel.release and no release in the kernel",
			    dir);
	snprintf(t->stage, sizeof(t->stage), "/tmp/vigil-ktree-XXXXXX");
	if (!mkdtemp(t->stage)) {
		t->stage[0] = '\0';
		return fail(err, cap, -errno, "cannot make a staging directory: %s",
			    strerror(errno));
	}
	if ((size_t)snprintf(t->moddir, sizeof(t->moddir), "%s/lib/modules/%s", t->stage,
			     t->release) >= sizeof(t->moddir))
		return fail(err, cap, -ENAMETOOLONG, "%s: release name too long", dir);
	snprintf(to, sizeof(to), "%s/x", t->moddir);
	make_parents(to);
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		snprintf(from, sizeof(from), "%s/%s", dir, extra[i]);
		snprintf(to, sizeof(to), "%s/%s", t->moddir, extra[i]);
		if (access(from, R_OK) == 0 && copy_file(from, to) < 0)
			return fail(err, cap, -EIO, "cannot copy %s", from);
	}
	if ((e = link_modules(dir, t)) < 0 || (e = run_depmod(t, err, cap)) < 0)
		return e;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

void vigil_ktree_close(struct vigil_ktree *t)
{
	if (!t->stage[0])
		return;
	/* only links (never followed), copies and depmod's indexes */
	if (nftw(t->stage, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "vigil: could not remove %s\n", t->stage);
	t->stage[0] = '\0';
}
