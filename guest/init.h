/* SPDX-License-Identifier: MIT */
/*
 * init: what the agent does as PID 1 in a bare initramfs, and the kernel
 * command line contract (docs/agent.md):
 *
 *   ... vigil.KEY=VALUE ... -- PROG ARG...     run PROG ARG... directly
 *   ... vigil.run="shell command" ...          run /bin/sh -c "shell command"
 *
 * Words after the first lone "--" form the workload's argv, split on
 * spaces; double quotes group words and are removed (as the kernel does).
 * vigil.run= wins over "--" when both are given. Only "vigil."-prefixed
 * words are vigil's: other words belong to the kernel. The workload file
 * (workload.h), when present, replaces the workload given here.
 *
 * Limits: INIT_MAX_ARGS words, INIT_MAX_PARAMS vigil parameters, a
 * command line of at most INIT_CMDLINE_MAX bytes (the kernel's own bound
 * is lower).
 */
#ifndef VIGIL_GUEST_INIT_H
#define VIGIL_GUEST_INIT_H

#include <stddef.h>
#include <sys/types.h>

#define INIT_CMDLINE_MAX 8192
#define INIT_MAX_ARGS    256
#define INIT_MAX_PARAMS  64

struct init_cmdline {
	char buf[INIT_CMDLINE_MAX];    /* words, each terminated, pointed into below */
	char *argv[INIT_MAX_ARGS + 1]; /* workload after "--", NULL-terminated */
	int argc;
	const char *run;                  /* vigil.run= value, or NULL */
	const char *key[INIT_MAX_PARAMS]; /* "run", "flows_ms", ... (prefix removed) */
	const char *val[INIT_MAX_PARAMS]; /* "" for a bare vigil.KEY */
	int nparams;
};

/* Parse a command line. 0, or -E2BIG when a bound was hit (the parse is kept up to it). */
int init_parse_cmdline(const char *s, size_t len, struct init_cmdline *out);
/* Value of vigil.KEY, or NULL. */
const char *init_param(const struct init_cmdline *c, const char *key);

/*
 * Mount proc, sys, devtmpfs, devpts, /dev/shm, and tmpfs on /run and /tmp
 * unless the host carried files there (init_tmpfs); 0 or the first -errno.
 */
int init_mounts(void);
/*
 * A tmpfs of this mode on dir (created if missing), unless dir already has
 * entries: those were carried in the initramfs, whose root is RAM-backed
 * and writable, and a mount would hide them; then dir keeps them and gets
 * the mode. 1 mounted, 0 kept, or -errno.
 */
int init_tmpfs(const char *dir, mode_t mode);
/* 1 when dir has an entry besides "." and "..", 0 when not or missing, or -errno. */
int init_dir_populated(const char *dir);
/* Bring the loopback interface up (the kernel then gives it 127.0.0.1/8 and ::1). 0 or -errno. */
int init_loopback(void);
/*
 * Point module autoloading (the file sysctl, /proc/sys/kernel/modprobe) at
 * the modprobe of root (the final root, "/"): /sbin/modprobe, else
 * /usr/sbin/modprobe, where
 * vigil's image keeps busybox's so that the kernel's own requests during
 * its boot fail at once (host/cli/initramfs.c). The path written, or NULL
 * when the root has neither or the write failed (autoloading unchanged).
 */
const char *init_modprobe_path(const char *root, const char *sysctl);
/* Make sure fds 0, 1, 2 are open (on /dev/console, else /dev/null). */
void init_console(void);
/* sync, then power off (or halt when that fails). Does not return. */
void init_poweroff(void) __attribute__((noreturn));

#endif
