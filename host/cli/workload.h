/* SPDX-License-Identifier: MIT */
/*
 * workload: what the guest runs, handed to the agent as the file
 * /etc/vigil/workload (format: docs/agent.md, "The workload file") in a
 * small second newc archive that follows the image in a per-run memfd.
 * The kernel unpacks concatenated archives in order, so the cached image
 * is never written and any argv reaches the guest byte-exact, free of the
 * kernel command line's limits (32 init words, about 2 KiB).
 *
 * Owns: the encoding of argv, environment, scenario name and working
 * directory into that file, and the per-run initrd (image + archive).
 * Limits: the file is at most VIGIL_WORKLOAD_MAX bytes with at most
 * VIGIL_WORKLOAD_MAX_ARGS words and VIGIL_WORKLOAD_MAX_ENV variables, the
 * agent's own bounds. Load: once per run: one copy of the image (a few
 * MiB) into the memfd with sendfile.
 */
#ifndef VIGIL_CLI_WORKLOAD_H
#define VIGIL_CLI_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <vigil/session.h>

#include "hostroot.h"

/* Scenario names longer than this would be cut in the verdict. */
#define VIGIL_SCENARIO_NAME_MAX (VIGIL_NAME_MAX - 1)

#define VIGIL_WORKLOAD_PATH     "etc/vigil/workload"
#define VIGIL_WORKLOAD_MAX      (4u << 20)
#define VIGIL_WORKLOAD_MAX_ARGS 65536
#define VIGIL_WORKLOAD_MAX_ENV  4096

struct vigil_workload {
	char *const *argv; /* argc words, argc >= 1 */
	int argc;
	const char *const *env; /* NAME=VALUE each */
	size_t n_env;
	const char *scenario; /* NULL: no scenario around the workload */
	const char *cwd;      /* NULL: the agent's default */
	/* --rootfs host: the agent switches into the host's root first */
	bool rootfs_host;
	const struct vigil_hostroot_plan *plan; /* its rw directories (may be NULL) */
	const char *const *bind_src;            /* the guest's SRC also seen at DST */
	const char *const *bind_dst;
	size_t n_bind;
	bool set_ids; /* the workload runs as uid/gid */
	unsigned uid, gid;
};

/*
 * Encode w as the workload file: records KEY=VALUE each ended by a NUL.
 * *out is malloc'ed. 0, -EINVAL (no argv, an env entry without NAME= , a
 * scenario name too long or empty), -E2BIG (over a limit), -ENOMEM.
 */
int vigil_workload_encode(const struct vigil_workload *w, char **out, size_t *len);

/*
 * A memfd holding the image at image_path followed by a newc archive with
 * etc/vigil/workload = file[0..len). The fd is left inheritable, so the
 * QEMU child opens it as vigil_workload_initrd_path(); vigil starts no other
 * child while it is open. Returns the fd or a negative errno.
 */
int vigil_workload_initrd(const char *image_path, const char *file, size_t len);

/* "/proc/self/fd/N" for an fd QEMU inherits. */
void vigil_workload_initrd_path(int fd, char *buf, size_t cap);

/* Whether fd holds input waiting: a non-empty regular file, or a pipe or
 * socket with bytes queued. The workload's stdin in the guest is
 * /dev/null, so such input would not reach it; an idle pipe is not input. */
bool vigil_input_waiting(int fd);

#endif /* VIGIL_CLI_WORKLOAD_H */
