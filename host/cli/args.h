/* SPDX-License-Identifier: MIT */
/*
 * args: parsing of command-line values (durations, memory sizes) and the
 * encoding of the workload's argv onto the guest kernel command line,
 * where the agent reads it after "--" (words split on spaces, double
 * quotes group and are removed, as the kernel does).
 */
#ifndef VIGIL_CLI_ARGS_H
#define VIGIL_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* The x86 kernel keeps at most this many bytes of its command line. */
#define VIGIL_KERNEL_CMDLINE_MAX 2048

/* "30", "30s", "250ms", "2m", "1h", "1.5s", "100us" -> ns. 0 or -EINVAL / -ERANGE. */
int vigil_parse_duration(const char *s, uint64_t *ns);
/* "512", "512M", "1G", "1024K"... -> MiB (a bare number is MiB). 0 or -EINVAL. */
int vigil_parse_mem_mb(const char *s, unsigned *mb);

/*
 * Append "-- ARG ARG..." to buf (NUL-terminated, cap bytes). An argument
 * with a space or tab is wrapped in double quotes, an empty one becomes
 * "". Returns the length written, -EINVAL (*bad set to the index) for an
 * argument holding a double quote or a control character, which the
 * kernel's parser cannot carry, or -E2BIG when it does not fit.
 */
int vigil_cmdline_argv(char *buf, size_t cap, char *const *argv, int argc, int *bad);

/*
 * The fallback for arguments the kernel's parser cannot carry: append
 *   -- /bin/sh -c "set -f;IFS=;eval $(printf %b 'ENCODED')"
 * where ENCODED is "exec 'ARG' 'ARG'..." (shell-quoted) with every double
 * quote, single quote, backslash and control byte written as a \0NNN
 * octal escape. The guest's shell (busybox) rebuilds the exact argv and
 * execs it. Returns the length, or -E2BIG.
 */
int vigil_cmdline_shell(char *buf, size_t cap, char *const *argv, int argc);

#endif /* VIGIL_CLI_ARGS_H */
