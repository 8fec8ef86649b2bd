/* SPDX-License-Identifier: MIT */
/*
 * kmod: resolve the kernel modules a guest needs, by name or alias, in one
 * module directory (/lib/modules/<release>, a --modules-dir, a kernel
 * tree's staging directory), into a load order, as modprobe would.
 *
 * Resolution is libkmod's (Debian libkmod-dev): kmod_module_new_from_lookup
 * (names, aliases, modules.builtin.bin and modules.builtin.alias.bin: a
 * built-in module needs no file), then modprobe's own probe list
 * (kmod_module_probe_insert_module as a dry run): dependencies from
 * modules.dep.bin first, softdep pre: modules before and post: modules
 * after. Only the directory's own modules.softdep is read: the host's
 * /etc/modprobe.d configures the host, not the guest, so it is not.
 *
 * A directory without modules.dep.bin (a hand-copied tree with only a text
 * modules.dep, or none) is indexed by the system's depmod in a private
 * staging copy (kstage.h), removed before returning: its text modules.dep
 * is not read, depmod recomputes the graph from the modules themselves.
 * Without depmod installed that is an error that says so.
 *
 * Owns: the libkmod context for one call, the result's strings.
 * Limits: at most VIGIL_KMOD_MAX modules in one result; names and aliases
 * up to VIGIL_KMOD_NAME_MAX - 1 bytes in out->missing.
 * Load: one call per image build; with the indexes, 3 ms for vigil's
 * dozen names on the Debian kernel's 1,100 modules (0.4 of it the lookups,
 * the rest reading each module's aliases); without, a depmod run (0.6-0.7
 * s for that whole tree). kmod-bench measures both.
 */
#ifndef VIGIL_CLI_KMOD_H
#define VIGIL_CLI_KMOD_H

#include <stdbool.h>
#include <stddef.h>

#define VIGIL_KMOD_MAX      256
#define VIGIL_KMOD_NAME_MAX 64

struct vigil_kmod_want {
	const char *name; /* "virtio_pci", "virtio-pci" or an alias */
	bool required;    /* absent (neither module nor built in) is an error */
};

struct vigil_kmods {
	char *rel[VIGIL_KMOD_MAX];  /* module files relative to the dir, load order */
	char *deps[VIGIL_KMOD_MAX]; /* rel[i]'s dependencies as modules.dep lists
				       them (users first), space-separated, "" none */
	bool softdeps[VIGIL_KMOD_MAX]; /* rel[i] has softdeps: its place in the order
					  matters beyond its dependencies */
	bool pci[VIGIL_KMOD_MAX];      /* rel[i] serves PCI devices alone (below) */
	size_t n;
	size_t builtin;                    /* wanted names found built in */
	char missing[VIGIL_KMOD_NAME_MAX]; /* first absent required name, '-' as '_' */
	size_t absent_optional;            /* optional names neither module nor built in */
	bool staged;                       /* the dir had no modules.dep.bin: depmod ran */
	char detail[512];                  /* on other failures: what failed */
};

/*
 * Resolve want[0..n) in dir. A module serves PCI devices alone (out->pci)
 * when each of its aliases is a "pci:" one (virtio_pci, pvpanic_pci), or
 * when it has none, no want names it, and each module of the result that
 * depends on it serves PCI devices alone (virtio_pci_modern_dev): a guest
 * with no PCI device has no use for it. A module whose aliases cannot be
 * read is taken as not. 0 on success; -ENOENT when a required name is
 * absent (out->missing names it), when dir does not exist, or when a module
 * the index names is not there; -ENOENT, -EIO when dir has no indexes and
 * depmod is missing or fails; -EBADMSG when libkmod reports a broken index;
 * -E2BIG over VIGIL_KMOD_MAX; -ENOMEM. out->detail says what failed in
 * every failure but the first. Free with vigil_kmods_free() in every case.
 */
int vigil_kmod_resolve(const char *dir, const struct vigil_kmod_want *want, size_t n,
		       struct vigil_kmods *out);
void vigil_kmods_free(struct vigil_kmods *k);

#endif /* VIGIL_CLI_KMOD_H */
