/* SPDX-License-Identifier: MIT */
/*
 * modload: PID 1 loads the initramfs's kernel modules with finit_module(2).
 *
 * The list (/etc/vigil/modules, written by the host; docs/agent.md): one
 * module a line, in modprobe's order, `#` starts a comment.
 *   PATH: PRE PRE ...   loads once every PRE (the PATH of an earlier line)
 *                       is loaded, in parallel with other lines; "PATH:"
 *                       alone has no prerequisite. A PRE that names no
 *                       earlier line (a built-in module) is ignored.
 *                       A word "@pci" among the PREs marks a module that
 *                       serves PCI devices alone: skipped (and counted
 *                       apart) on a guest with no PCI device (microvm).
 *   PATH                a barrier: loads once every earlier line is loaded,
 *                       and no later line starts before it is done. A list
 *                       of bare paths loads one by one, in its order.
 * Paths are absolute or relative to the module directory. Without a list,
 * every module of the directory's modules.dep that the image carries is
 * loaded, each after its dependencies, one by one.
 *
 * Why parallel: under TCG the Debian cloud kernel took 3-35 ms a module
 * (timed with a probe build; BENCHMARKS.md, boot-budget) (signature check,
 * relocation, the module's init), about 95 ms for the
 * 13 of a default image, of which the port's own chain (virtio_ring,
 * virtio, virtio_mmio, virtio_console) is about 55 ms; with a second vCPU
 * the others (PCI transports, pvpanic, sock_diag) load beside it. One
 * vCPU (vigil's default) gets one worker: more gained nothing there
 * (module loads do not sleep long enough for a second one to use it).
 *
 * A module that fails is logged and counts as done: what depends on it
 * then fails to load by itself (unknown symbols) and is logged too.
 * Limits: list files up to 1 MiB, MODLOAD_MAX lines, paths up to 511
 * bytes; at most MODLOAD_WORKERS loads at once (the main thread is one).
 * Load: once per boot.
 */
#ifndef VIGIL_AGENT_MODLOAD_H
#define VIGIL_AGENT_MODLOAD_H

#define MODLOAD_MAX     512
#define MODLOAD_WORKERS 4

typedef void (*modload_log_fn)(const char *what, const char *path, int err);
/* Load one module file: 0 (loaded, or already there) or -errno. */
typedef int (*modload_fn)(void *ctx, const char *path);

/* Flags of modload_list: the guest has no PCI device, "@pci" lines are skipped. */
#define MODLOAD_NO_PCI 1u

/*
 * Load the modules of list_path, or of dir/modules.dep when there is no
 * list, with the kernel's finit_module and one worker per online CPU (at
 * most MODLOAD_WORKERS), skipping "@pci" lines when /sys/bus/pci/devices
 * is empty. Returns the modules loaded (already loaded and built-in ones
 * count), the lines skipped in *skipped; failures go to log (may be NULL).
 */
int modload_boot(const char *dir, const char *list_path, modload_log_fn log, int *skipped);

/* The workers modload_boot uses: one per online CPU, at most MODLOAD_WORKERS. */
unsigned modload_workers(void);

/*
 * The same with the loader, the number of workers and the flags
 * (MODLOAD_*) given (tests): the list's scheduling, without the kernel;
 * *skipped (may be NULL) gets the lines skipped. -ENOENT when list_path
 * cannot be read, -EFBIG over the limits, -ENOMEM.
 */
int modload_list(const char *dir, const char *list_path, unsigned workers, unsigned flags,
		 modload_fn load, void *ctx, modload_log_fn log, int *skipped);

/* finit_module on path: compressed files flagged by their suffix; EEXIST is 0. */
int modload_finit(void *ctx, const char *path);

#endif /* VIGIL_AGENT_MODLOAD_H */
