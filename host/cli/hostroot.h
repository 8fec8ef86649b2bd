/* SPDX-License-Identifier: MIT */
/*
 * hostroot: the host's root file system shared with a guest for
 * `vigil run --rootfs host` (docs/cli.md, "Two root file systems").
 *
 * Owns: the plan of what the guest may see (vigil_hostroot_plan: which
 * host paths are hidden, which are shown again, which are writable), and
 * the virtiofsd child that serves it: its private runtime directory, its
 * listening socket, its read-only view, its stderr, its end.
 *
 * The view is built on the host, not trusted to the guest: virtiofsd runs
 * in a mount namespace of its own where the source it shares is a
 * recursive bind of "/" made read-only, nodev and nosuid with
 * mount_setattr(2) (QEMU 7.2's virtiofsd has no read-only option).
 * /proc, /sys, /dev and /run are hidden under empty read-only tmpfs (the
 * guest mounts its own); each hidden directory gets an empty read-only
 * tmpfs, each hidden file an empty read-only file. Paths the run names
 * (the working directory, --rwdir, --rodir and --add sources, argv words
 * that name host files) are shown again when they lie under a hidden
 * path, read-only; each --rwdir is a writable bind of the host directory;
 * hidden paths under a shown path are hidden again. The mounts live and
 * die with virtiofsd's namespace: nothing is left mounted on the host.
 *
 * Limits: VIGIL_HOSTROOT_MAX paths of each kind after glob expansion;
 * paths of at most PATH_MAX bytes. Needs root (virtiofsd does) and
 * Linux 5.12 (mount_setattr). Load: one virtiofsd per QEMU launch; the
 * setup is a few dozen mount calls, done in the child before it execs.
 */
#ifndef VIGIL_CLI_HOSTROOT_H
#define VIGIL_CLI_HOSTROOT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define VIGIL_HOSTROOT_MAX   256
#define VIGIL_VIRTIOFSD_PATH "/usr/lib/qemu/virtiofsd"

/* What the run asks for (paths as the user gave them; globs in hide). */
struct vigil_hostroot_req {
	const char *const *hide; /* extra paths to hide (--hide), globs allowed */
	size_t n_hide;
	const char *const *show; /* default entries not to hide (--show), or "all" */
	size_t n_show;
	const char *const *rw; /* --rwdir: host directories the guest may write */
	size_t n_rw;
	const char *const *named; /* paths to show again if hidden (cwd, argv, --rodir ...) */
	size_t n_named;
	const char *home; /* $HOME of the run, for the default list; may be NULL */
	/* $PATH of the workload: for each entry under a hidden directory H,
	 * the directory of H that holds it is shown (~/.pyenv for
	 * ~/.pyenv/shims), so the programs on PATH run; may be NULL */
	const char *path;
};

struct vigil_hostroot_path {
	char path[PATH_MAX]; /* absolute, resolved on the host */
	bool dir;
};

/* The resolved plan: every path absolute and existing on the host. */
struct vigil_hostroot_plan {
	struct vigil_hostroot_path hide[VIGIL_HOSTROOT_MAX];
	size_t n_hide;
	struct vigil_hostroot_path show[VIGIL_HOSTROOT_MAX]; /* read-only, under a hidden path */
	size_t n_show;
	struct vigil_hostroot_path rw[VIGIL_HOSTROOT_MAX];
	size_t n_rw;
};

/* The default list of hidden paths ("~/" is $HOME), NULL-terminated. */
extern const char *const vigil_hostroot_default_hide[];

/*
 * Resolve req into plan (globs expanded, symlinks resolved, missing paths
 * dropped, duplicates merged). 0, or -EINVAL with err saying which path is
 * wrong (an --rwdir that is not a directory, a --show that is not in the
 * default list), -E2BIG over a limit.
 */
int vigil_hostroot_plan(const struct vigil_hostroot_req *req, struct vigil_hostroot_plan *plan,
			char *err, size_t cap);

/* True when path is p or lies under p ("/a/b" under "/a", not under "/ab"). */
bool vigil_path_under(const char *path, const char *p);

/*
 * Why --rootfs host cannot run here, or 0: not root, no virtiofsd at
 * virtiofsd (NULL: $VIGIL_VIRTIOFSD or the default). err says what to do.
 */
int vigil_hostroot_check(const char *virtiofsd, char *err, size_t cap);

struct vigil_hostroot;

/*
 * Start virtiofsd serving plan: a private runtime directory (mode 0700,
 * under $XDG_RUNTIME_DIR, /run/vigil or /tmp), a listening socket in it
 * handed to virtiofsd (so QEMU may connect at once), the view built in the
 * child. Blocks until the child has exec'd virtiofsd or failed (a few
 * milliseconds). 0 or -errno with err saying what failed.
 */
int vigil_hostroot_start(const struct vigil_hostroot_plan *plan, const char *virtiofsd,
			 struct vigil_hostroot **out, char *err, size_t cap);
const char *vigil_hostroot_socket(const struct vigil_hostroot *h);
pid_t vigil_hostroot_pid(const struct vigil_hostroot *h);
/* The last lines virtiofsd wrote to its stderr, joined by "; " ("" none). */
void vigil_hostroot_log_tail(const struct vigil_hostroot *h, char *buf, size_t cap);
/* virtiofsd was reaped by the caller (its status): do not signal it again. */
void vigil_hostroot_reaped(struct vigil_hostroot *h);
/* SIGTERM to virtiofsd unless reaped, then its runtime directory removed. */
void vigil_hostroot_free(struct vigil_hostroot *h);

#endif /* VIGIL_CLI_HOSTROOT_H */
