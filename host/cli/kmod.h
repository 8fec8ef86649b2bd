/* SPDX-License-Identifier: MIT */
/*
 * kmod: resolve kernel modules by name through a kernel's modules.dep, with
 * their dependencies, into a load order.
 *
 * Owns: parsing modules.dep and modules.builtin of one module directory
 * (/lib/modules/<release>), name matching as modprobe does ('-' and '_' are
 * the same; ".ko", ".ko.xz", ".ko.zst", ".ko.gz" are stripped), and a
 * depth-first ordering in which every module comes after its dependencies.
 * Limits: a modules.dep up to 64 MiB, dependency chains up to 64 deep, at
 * most VIGIL_KMOD_MAX modules in one result.
 */
#ifndef VIGIL_CLI_KMOD_H
#define VIGIL_CLI_KMOD_H

#include <stdbool.h>
#include <stddef.h>

#define VIGIL_KMOD_MAX      256
#define VIGIL_KMOD_NAME_MAX 64

struct vigil_kmod_want {
	const char *name; /* "virtio_pci" or "virtio-pci" */
	bool required;    /* absent (neither module nor built in) is an error */
};

struct vigil_kmods {
	char *rel[VIGIL_KMOD_MAX];  /* paths relative to the module dir, load order */
	char *deps[VIGIL_KMOD_MAX]; /* rel[i]'s modules.dep right-hand side ("" if none) */
	size_t n;
	size_t builtin;                    /* wanted names found built in */
	char missing[VIGIL_KMOD_NAME_MAX]; /* first absent required name */
	size_t absent_optional;            /* optional names neither module nor built in */
};

/*
 * Resolve want[0..n) in dir. 0 on success; -ENOENT when a required module
 * is absent (its name in out->missing) or dir has no modules.dep; -ELOOP
 * for a dependency cycle or chain deeper than 64; -E2BIG over
 * VIGIL_KMOD_MAX; -ENOMEM. Free with vigil_kmods_free() in every case.
 */
int vigil_kmod_resolve(const char *dir, const struct vigil_kmod_want *want, size_t n,
		       struct vigil_kmods *out);
void vigil_kmods_free(struct vigil_kmods *k);
/* "kernel/a/virtio-pci.ko.xz" -> "virtio_pci" in buf. -ENAMETOOLONG if it does not fit. */
int vigil_kmod_name(const char *path, char *buf, size_t cap);

#endif /* VIGIL_CLI_KMOD_H */
