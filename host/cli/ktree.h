/* SPDX-License-Identifier: MIT */
/*
 * ktree: a kernel build tree as `vigil run --kernel-tree DIR` boots it
 * (what a kernel or scheduler developer just built, as virtme-ng's
 * `vng -r .`).
 *
 * Owns: the tree's kernel (DIR/vmlinux, booted through PVH, else
 * DIR/arch/x86/boot/bzImage), its release (DIR/include/config/
 * kernel.release, else read from the kernel), and a module directory laid
 * out as `make modules_install INSTALL_MOD_PATH=` would lay it: a private
 * staging directory with lib/modules/RELEASE/kernel/PATH linked to each
 * module of DIR/modules.order (`.o` names read as `.ko`), the tree's
 * modules.builtin and modules.builtin.modinfo, and the indexes made by
 * the system's `depmod -b` (package kmod), so modules resolve as modprobe
 * would resolve them. A tree built without modules gets an empty one
 * (everything vigil needs must then be built in). The staging directory
 * is removed by vigil_ktree_close.
 *
 * Limits: modules.order lines of at most PATH_MAX bytes. Load: once per
 * run; symlinks, no copies of modules (kstage.h).
 */
#ifndef VIGIL_CLI_KTREE_H
#define VIGIL_CLI_KTREE_H

#include <limits.h>
#include <stddef.h>

#include "kstage.h"

struct vigil_ktree {
	char kernel[PATH_MAX]; /* vmlinux or bzImage in the tree */
	char release[256];
	struct vigil_kstage stage; /* stage.moddir: lib/modules/RELEASE, indexed */
	unsigned modules;          /* modules linked from modules.order */
};

/* Open DIR as a build tree. 0, or -errno with err saying what is missing. */
int vigil_ktree_open(const char *dir, struct vigil_ktree *t, char *err, size_t cap);
/* Remove the staging directory. */
void vigil_ktree_close(struct vigil_ktree *t);

/* The kernel option that builds a module vigil needs ("CONFIG_VIRTIO_CONSOLE"), or NULL. */
const char *vigil_module_config(const char *name);

#endif /* VIGIL_CLI_KTREE_H */
