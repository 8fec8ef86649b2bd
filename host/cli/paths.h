/* SPDX-License-Identifier: MIT */
/*
 * paths: where vigil finds the things a run needs on the host: the agent
 * binary, the default guest kernel, programs on $PATH; and a walk over a
 * path's components. No state.
 * Errors: negative errno; buffers are written only on success.
 */
#ifndef VIGIL_CLI_PATHS_H
#define VIGIL_CLI_PATHS_H

#include <stddef.h>

/*
 * The static agent: $VIGIL_AGENT, else guest/vigil-agent of the build tree
 * this vigil was built in (found relative to /proc/self/exe, then the path
 * recorded at build time), else <prefix>/libexec/vigil/vigil-agent.
 * -ENOENT when none is readable.
 */
int vigil_find_agent(char *buf, size_t cap);
/*
 * A program of vigil's own that vigil runs (vigil-fleet): beside this
 * vigil (the build tree), else <prefix>/libexec/vigil/NAME relative to
 * /proc/self/exe, else in the libexec directory recorded at build time.
 * -ENOENT when none is executable.
 */
int vigil_find_helper(const char *name, char *buf, size_t cap);

/* $VIGIL_KERNEL, else the newest /boot/vmlinuz-* (version order). */
int vigil_find_kernel(const char *boot_dir, char *buf, size_t cap);

/* name resolved like execvp: contains '/' -> itself; else the first
 * executable regular file in path_env (":"-separated). */
int vigil_find_program(const char *name, const char *path_env, char *buf, size_t cap);

/*
 * The next component of a '/'-separated path at *p, skipping empty ones and
 * "."; its length in *len, *p moved past it. NULL at the end. ".." is
 * returned like any other component: what it means is the caller's call.
 */
const char *vigil_path_next(const char **p, size_t *len);

#endif /* VIGIL_CLI_PATHS_H */
