/* SPDX-License-Identifier: MIT */
/* ktree: a kernel build tree's kernel and modules (see ktree.h). */
#include "ktree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "initramfs.h"
#include "kstage.h"

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
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return; /* the link that follows fails and is skipped */
	memcpy(tmp, path, len + 1);
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
		    (size_t)snprintf(dst, sizeof(dst), "%s/kernel/%s", t->stage.moddir, line) >=
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

int vigil_ktree_open(const char *dir, struct vigil_ktree *t, char *err, size_t cap)
{
	char from[PATH_MAX + 40], to[PATH_MAX * 2], abs[PATH_MAX];
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
	if ((e = vigil_kstage_new("ktree", t->release, &t->stage, err, cap)) < 0)
		return e;
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		snprintf(from, sizeof(from), "%s/%s", dir, extra[i]);
		snprintf(to, sizeof(to), "%s/%s", t->stage.moddir, extra[i]);
		if (access(from, R_OK) == 0 && copy_file(from, to) < 0)
			return fail(err, cap, -EIO, "cannot copy %s", from);
	}
	/* the links must point at absolute paths ("--kernel-tree ." too) */
	if (!realpath(dir, abs))
		return fail(err, cap, -errno, "cannot resolve %s", dir);
	if ((e = link_modules(abs, t)) < 0)
		return e;
	if ((e = vigil_kstage_depmod(&t->stage, to, sizeof(to))) < 0) {
		snprintf(err, cap, "%s: %s", dir, to);
		return e;
	}
	return 0;
}

void vigil_ktree_close(struct vigil_ktree *t)
{
	vigil_kstage_remove(&t->stage);
}
