/* SPDX-License-Identifier: MIT */
/*
 * args: parsing of command-line values (durations, memory sizes). The
 * workload's argv goes to the guest in a file (workload.h), not on the
 * kernel command line.
 */
#ifndef VIGIL_CLI_ARGS_H
#define VIGIL_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "30", "30s", "250ms", "2m", "1h", "1.5s", "100us" -> ns. 0 or -EINVAL / -ERANGE. */
int vigil_parse_duration(const char *s, uint64_t *ns);
/*
 * The value of a duration option: above 0, or "none" (*ns = 0) where the
 * option can be switched off (allow_none). 0, -EINVAL (not a duration),
 * -ERANGE (too large), -EDOM (0, or "none" where it is not allowed).
 */
int vigil_parse_duration_opt(const char *s, bool allow_none, uint64_t *ns);
/*
 * A --fail-on list ("oom,hung-task", "all") into a mask of 1u << VIGIL_KT_x
 * (panic is not a kind: it always fails). 0, or -EINVAL with the first
 * unknown kind in bad (empty: an empty list).
 */
int vigil_parse_fail_on(const char *s, uint32_t *mask, char *bad, size_t cap);
/* A size of a file limit: "4096", "64K", "512M", "1G", "2T" (binary
 * multiples; a bare number is bytes; KiB, MiB, ... too), or "none" (0).
 * 0, -EINVAL (not a size, or under 4096 bytes), -ERANGE (over 2^60). */
int vigil_parse_bytes_opt(const char *s, uint64_t *bytes);
/* "512", "512M", "1G", "1024K"... -> MiB (a bare number is MiB). 0 or -EINVAL. */
int vigil_parse_mem_mb(const char *s, unsigned *mb);

#endif /* VIGIL_CLI_ARGS_H */
