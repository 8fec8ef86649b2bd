/* SPDX-License-Identifier: MIT */
/*
 * outputs: the files a run writes, checked before the guest boots, so a
 * typo in --verdict is found in a second, not after an hour-long run.
 *
 * Owns: the rules for output paths: '-' (standard output) is accepted by
 * --events, --verdict and --junit, and by at most one of them; no two
 * outputs may name the same file; every file is created (not truncated)
 * or must be writable; the snapshot directory is created (one level) and
 * must be writable. Files created here are left empty for the run to fill.
 */
#ifndef VIGIL_CLI_OUTPUTS_H
#define VIGIL_CLI_OUTPUTS_H

#include <stddef.h>

enum vigil_out_kind {
	VIGIL_OUT_EVENTS = 0,
	VIGIL_OUT_VERDICT,
	VIGIL_OUT_JUNIT,
	VIGIL_OUT_RECORD,
	VIGIL_OUT_CONSOLE,
	VIGIL_OUT_SNAPSHOT_DIR,
	VIGIL_OUT_REPORT,
	VIGIL_OUT__COUNT,
};

/* Paths by kind; NULL: not wanted. */
struct vigil_out_paths {
	const char *path[VIGIL_OUT__COUNT];
};

/* "--events", "--verdict", ... */
const char *vigil_out_option(enum vigil_out_kind k);

/*
 * Check every path. 0 when all are usable; else a negative errno with a
 * message for the user in err ("--verdict /x/v.json: No such file or
 * directory") naming the option.
 */
int vigil_outputs_check(const struct vigil_out_paths *p, char *err, size_t cap);

#endif /* VIGIL_CLI_OUTPUTS_H */
