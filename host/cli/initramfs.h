/* SPDX-License-Identifier: MIT */
/*
 * initramfs: build the guest's root file system as one uncompressed newc
 * cpio, cached by content hash.
 *
 * Layout of the image (the contract with the agent, docs/cli.md):
 *   /init                      the agent (or a caller's --init program)
 *   /bin/vigil-agent           symlink to /init, so workloads can run it
 *   /bin/busybox + applets     symlinks from `busybox --list-full`
 *                              (modprobe at /usr/sbin, not /sbin)
 *   /lib/modules/<release>/    the chosen modules (decompressed) and a
 *                              modules.dep describing only those
 *   /etc/vigil/modules         absolute .ko paths, one a line, load order
 *   /dev/console, /dev/null    device nodes, for init's first open
 *   host programs              at their host paths, with interpreter and
 *                              libraries at the paths the loader searches,
 *                              and /etc/ld.so.cache
 *   --add SRC:DST              files or directory trees, applied last
 *
 * Owns: the plan (entries, de-duplicated, later wins), the content hash
 * that keys the cache, the cache directory and its pruning (at most
 * VIGIL_IRD_CACHE_KEEP images, least recently used go first).
 * Expected load: a few hundred entries and 5-20 MiB per image; hashing
 * reads every source once (tens of milliseconds); a cache hit writes nothing.
 */
#ifndef VIGIL_CLI_INITRAMFS_H
#define VIGIL_CLI_INITRAMFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "kmod.h"

#define VIGIL_IRD_CACHE_KEEP  16
#define VIGIL_IRD_MAX_ENTRIES 8192

struct vigil_ird_add {
	const char *src; /* host file or directory */
	const char *dst; /* absolute guest path */
};

struct vigil_ird_opts {
	const char *init;        /* host file placed as /init (the agent), required */
	bool init_is_agent;      /* also link /bin/vigil-agent to it */
	const char *busybox;     /* static busybox to include, NULL for none */
	const char *modules_dir; /* /lib/modules/<release>; NULL: no modules */
	const struct vigil_kmod_want *mods;
	size_t n_mods;
	const char *const *exes; /* host programs to copy with their libraries */
	size_t n_exes;
	const struct vigil_ird_add *adds;
	size_t n_adds;
	const char *cache_dir; /* NULL: write to out_path, no cache */
	const char *ld_conf;   /* normally "/etc/ld.so.conf" */
};

struct vigil_ird_result {
	char path[PATH_MAX]; /* the image */
	bool cache_hit;
	char hash[33]; /* 128-bit content hash, hex */
	size_t entries;
	size_t modules;   /* .ko files carried */
	char detail[512]; /* on failure: what failed, on what */
};

/*
 * Build (or find in the cache) the image for o. When o->cache_dir is NULL
 * the image is written to out_path. 0 ok; negative errno with res->detail
 * saying what failed.
 */
int vigil_ird_build(const struct vigil_ird_opts *o, const char *out_path,
		    struct vigil_ird_result *res);

/* $XDG_CACHE_HOME/vigil or $HOME/.cache/vigil into buf, created if needed. */
int vigil_ird_cache_dir(char *buf, size_t cap);

/* The kernel release string stored in a bzImage's setup header. 0 or
 * -ENOEXEC (not a bzImage) / -errno. */
int vigil_kernel_release(const char *kernel, char *buf, size_t cap);

/* 1 when busybox provides the applet name, 0 when not, -errno when it
 * cannot be run. */
int vigil_busybox_has(const char *busybox, const char *name);

#endif /* VIGIL_CLI_INITRAMFS_H */
