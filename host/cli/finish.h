/* SPDX-License-Identifier: MIT */
/*
 * finish: the end of a run, one place for `vigil run`, `vigil attach` and
 * `vigil decode`: the summary a person reads (the verdict's line, the
 * evidence of the finding that decided it, a hint on what to do), the
 * verdict JSON (the library's rendering plus the run's provenance and
 * hints), and JUnit XML; and the words run's and watch's live lines use
 * for a guest stall.
 */
#ifndef VIGIL_CLI_FINISH_H
#define VIGIL_CLI_FINISH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include <vigil/session.h>

#define VIGIL_FINISH_EVIDENCE_LINES 24 /* evidence lines in the summary */

/* Where the workload's files came from (for hints on exit 127). */
enum vigil_root {
	VIGIL_ROOT_OTHER = 0, /* a given --initrd, or attach: not vigil's to say */
	VIGIL_ROOT_IMAGE,     /* an image vigil built (--rootfs image) */
	VIGIL_ROOT_HOST,      /* the host's files (--rootfs host) */
};
const char *vigil_root_name(enum vigil_root r);
enum vigil_root vigil_root_parse(const char *name);

struct vigil_finish_in {
	const struct vigil_verdict *v;
	struct json_object *provenance; /* borrowed; NULL: none */
	enum vigil_root root;           /* where the workload's files came from */
	const char *verdict_path;       /* NULL: not wanted; "-": stdout */
	const char *junit_path;
	const char *cmd; /* "run", "attach", "decode": for messages */
};

/* A guest stall as a person reads it, for run's and watch's lines: "the
 * guest stalled: nothing came from it for 1.17 s (pid 82 folded in)". */
void vigil_guest_stall_words(const struct vigil_stall_info *in, char *buf, size_t cap);

/* What a person should do about this verdict, or NULL. */
const char *vigil_verdict_hint(const struct vigil_verdict *v, enum vigil_root root);
/* The summary on f: the verdict's line, the deciding finding's evidence, the hint. */
void vigil_finish_summary(FILE *f, const struct vigil_finish_in *in);
/* The verdict JSON with "provenance" and "hints"; *out malloc'ed. Length or -ENOMEM. */
int vigil_finish_verdict_json(const struct vigil_finish_in *in, char **out);
/* Write the verdict and JUnit files. 0, or 1 when one failed (said on stderr). */
int vigil_finish_write(const struct vigil_finish_in *in);

#endif /* VIGIL_CLI_FINISH_H */
