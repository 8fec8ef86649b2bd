/* SPDX-License-Identifier: MIT */
/*
 * kstage: a private staging directory of kernel modules, indexed by the
 * system's depmod(8) (Debian package kmod), for module sets that do not
 * come with the binary indexes libkmod reads (modules.dep.bin,
 * modules.alias.bin, modules.builtin.bin, ...): a kernel build tree
 * (ktree.c) and a hand-copied module directory that carries only a text
 * modules.dep, or none (kmod.c).
 *
 * Owns: the staging directory, laid out as depmod -b wants it
 * (BASE/lib/modules/RELEASE, BASE a fresh /tmp/vigil-PREFIX-XXXXXX);
 * mirroring a module directory into it as symlinks, one per entry
 * (depmod follows them; the indexes depmod writes, and a text modules.dep
 * that depmod would replace, are not linked); running
 * `depmod -b BASE RELEASE` with its standard error kept for the error
 * message; removing the staging directory (links, copies and indexes:
 * nothing a link points to is followed).
 *
 * Limits: RELEASE must read as a version (depmod refuses others;
 * vigil_kstage_release gives one that does); the first
 * VIGIL_KSTAGE_ERR_MAX bytes of depmod's standard error are kept.
 * Load: at most once per image build; depmod reads every module once
 * (about a second for a full distro module tree, milliseconds for a few).
 */
#ifndef VIGIL_CLI_KSTAGE_H
#define VIGIL_CLI_KSTAGE_H

#include <limits.h>
#include <stddef.h>

#define VIGIL_KSTAGE_ERR_MAX 1024

struct vigil_kstage {
	char base[64];         /* the staging directory, "" when none */
	char release[256];     /* the RELEASE it is laid out under */
	char moddir[PATH_MAX]; /* base/lib/modules/RELEASE, created */
};

/*
 * Make /tmp/vigil-PREFIX-XXXXXX/lib/modules/RELEASE. 0, or -errno with err
 * saying what failed. Call vigil_kstage_remove in every case.
 */
int vigil_kstage_new(const char *prefix, const char *release, struct vigil_kstage *s, char *err,
		     size_t cap);

/*
 * Link every entry of dir into s->moddir (directories as one link each),
 * except the files depmod writes. 0, or -errno with err saying what failed.
 */
int vigil_kstage_mirror(struct vigil_kstage *s, const char *dir, char *err, size_t cap);

/*
 * depmod -b BASE RELEASE over the staged modules. 0; -ENOENT when depmod
 * is not installed; -EIO when it fails (err carries its first complaint).
 */
int vigil_kstage_depmod(const struct vigil_kstage *s, char *err, size_t cap);

/* Remove the staging directory; a second call does nothing. */
void vigil_kstage_remove(struct vigil_kstage *s);

/*
 * A RELEASE depmod accepts for dir: its last path element when that reads
 * as a version ("6.1.0-57-cloud-amd64"), else "0.0-staged".
 */
void vigil_kstage_release(const char *dir, char *buf, size_t cap);

#endif /* VIGIL_CLI_KSTAGE_H */
