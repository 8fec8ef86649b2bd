/* SPDX-License-Identifier: MIT */
/*
 * rundir: vigil's private runtime directories, for the sockets and logs a
 * run hands to its children (virtiofsd's socket, the debug QMP socket).
 *
 * A directory is BASE/KIND.PID.XXXXXX, mode 0700, BASE being
 * $XDG_RUNTIME_DIR when it is short and writable, else /run/vigil, else
 * /tmp. Paths stay short: a unix socket's path must fit in 108 bytes.
 * Directories left by a vigil that was killed (its PID gone) are removed
 * by the next vigil that makes one: their files and empty subdirectories,
 * then the directory. Nothing deeper is ever removed. No state.
 */
#ifndef VIGIL_CLI_RUNDIR_H
#define VIGIL_CLI_RUNDIR_H

#include <stddef.h>

#define VIGIL_RUNDIR_MAX 80 /* the directory's path, NUL included */

/* Make a fresh directory for kind ("vfs" or "dbg": only these kinds are
 * known as stale, see rundir.c); its path in dir (VIGIL_RUNDIR_MAX
 * bytes). 0 or -errno. */
int vigil_rundir_new(const char *kind, char dir[VIGIL_RUNDIR_MAX]);

/* Remove dir's files and empty subdirectories, then dir. "" is ignored. */
void vigil_rundir_remove(const char *dir);

#endif /* VIGIL_CLI_RUNDIR_H */
