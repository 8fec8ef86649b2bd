/* SPDX-License-Identifier: MIT */
/*
 * Module trees for the cli tests, made of the fake modules built from
 * kmod_fixture_mod.c (VIGIL_KMOD_FIXTURE_DIR) and indexed by the system's
 * depmod at test time. Test use only.
 */
#ifndef VIGIL_TEST_KMOD_FIXTURE_H
#define VIGIL_TEST_KMOD_FIXTURE_H

#include "test_util.h"

#include <stdbool.h>
#include <sys/wait.h>

struct kfx_mod {
	const char *file; /* in VIGIL_KMOD_FIXTURE_DIR */
	const char *rel;  /* in a kernel tree; under kernel/ in a module directory */
};

/* A virtio set as a distro lays it out: a compressed module of each kind,
 * a '-' in a file name. */
static const struct kfx_mod kfx_virtio[] = {
	{ "virtio_ring.ko", "drivers/virtio/virtio_ring.ko" },
	{ "virtio.ko", "drivers/virtio/virtio.ko" },
	{ "virtio_pci_modern_dev.ko", "drivers/virtio/virtio_pci_modern_dev.ko" },
	{ "virtio_pci_legacy_dev.ko", "drivers/virtio/virtio_pci_legacy_dev.ko" },
	{ "virtio_pci.ko", "drivers/virtio/virtio_pci.ko" },
	{ "virtio_console.ko.xz", "drivers/char/virtio_console.ko.xz" },
	{ "pvpanic.ko", "drivers/misc/pvpanic/pvpanic.ko" },
	{ "inet_diag.ko.zst", "net/ipv4/inet_diag.ko.zst" },
	{ "tcp-diag.ko", "net/ipv4/tcp-diag.ko" },
};

static const struct kfx_mod kfx_cycle[] = {
	{ "cyc_a.ko", "cyc/cyc_a.ko" },
	{ "cyc_b.ko", "cyc/cyc_b.ko" },
};

/* The whole of a fixture file (malloc'd, *len set), or NULL. */
static inline char *kfx_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	return buf;
}

/* Copy mods[0..n) under dir (which exists) to rel_base + their rel
 * paths, parents made; 0 or -1. */
static inline int kfx_lay(const char *dir, const char *rel_base, const struct kfx_mod *mods,
			  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char src[PATH_MAX], rel[512];
		size_t len;
		char *data;
		int r;

		snprintf(src, sizeof(src), "%s/%s", VIGIL_KMOD_FIXTURE_DIR, mods[i].file);
		if ((size_t)snprintf(rel, sizeof(rel), "%s%s", rel_base, mods[i].rel) >=
		    sizeof(rel))
			return -1;
		data = kfx_slurp(src, &len);
		if (!data)
			return -1;
		r = tu_write(dir, rel, data, len, 0644);
		free(data);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* What the kernel has built in: 8250 by name, ext4 (and its alias
 * fs-ext4, from modules.builtin.modinfo) as a built-in with aliases. */
static inline int kfx_builtins(const char *dir, const char *rel_base)
{
	static const char modinfo[] = "ext4.alias=fs-ext4\0ext4.license=GPL\0";
	char a[512], b[512];

	if ((size_t)snprintf(a, sizeof(a), "%smodules.builtin", rel_base) >= sizeof(a) ||
	    (size_t)snprintf(b, sizeof(b), "%smodules.builtin.modinfo", rel_base) >= sizeof(b))
		return -1;
	if (tu_write_str(dir, a, "kernel/drivers/tty/serial/8250.ko\nkernel/fs/ext4/ext4.ko\n") < 0)
		return -1;
	return tu_write(dir, b, modinfo, sizeof(modinfo) - 1, 0644);
}

/* depmod -b base release, quietly; its exit status (127: not installed). */
static inline int kfx_depmod(const char *base, const char *release)
{
	char cmd[PATH_MAX * 2];
	int st;

	snprintf(cmd, sizeof(cmd),
		 "PATH=\"$PATH:/usr/sbin:/sbin\" depmod -b '%s' '%s' >/dev/null 2>&1", base,
		 release);
	st = system(cmd);
	return st < 0 ? -1 : WEXITSTATUS(st);
}

/*
 * base/lib/modules/<release> with the virtio set and the built-ins,
 * indexed by depmod (index false: the modules only, no modules.* at all
 * but the built-in lists). The module directory into moddir.
 */
static inline int kfx_tree(const char *base, const char *release, bool index, char *moddir,
			   size_t cap)
{
	char rel[256];

	snprintf(moddir, cap, "%s/lib/modules/%s", base, release);
	if (strlen(release) > 200)
		return -1;
	snprintf(rel, sizeof(rel), "lib/modules/%s/kernel/", release);
	if (kfx_lay(base, rel, kfx_virtio, sizeof(kfx_virtio) / sizeof(kfx_virtio[0])) < 0)
		return -1;
	snprintf(rel, sizeof(rel), "lib/modules/%s/", release);
	if (kfx_builtins(base, rel) < 0)
		return -1;
	return index && kfx_depmod(base, release) != 0 ? -1 : 0;
}

#endif /* VIGIL_TEST_KMOD_FIXTURE_H */
