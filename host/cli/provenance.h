/* SPDX-License-Identifier: MIT */
/*
 * provenance: what a run was made of, recorded in its verdict so a CI
 * result can be reproduced: vigil's version, the kernel (path, release,
 * SHA-256), the image (path, content hash), the workload's full argv and
 * the names (never the values) of the variables --env passed, and, added
 * by the runner once QEMU runs, QEMU's binary, version and command line
 * and the accelerator.
 *
 * Owns: the JSON object (json-c) and the SHA-256 of files, remembered in
 * the cache directory by (device, inode, size, mtime) so a kernel is
 * hashed once, not on every run.
 */
#ifndef VIGIL_CLI_PROVENANCE_H
#define VIGIL_CLI_PROVENANCE_H

#include <json-c/json.h>
#include <stddef.h>

struct vigil_provenance_in {
	const char *kernel;
	const char *image;      /* the initramfs given to QEMU (before the workload archive) */
	const char *image_hash; /* the cache's content hash, or NULL (a given --initrd) */
	char *const *argv;
	int argc;
	const char *const *env; /* NAME=VALUE: only NAME is recorded */
	size_t n_env;
	const char *scenario;
};

/* A new object (the caller puts it), or NULL on ENOMEM; with in->kernel
 * NULL, only vigil's version. Files that cannot
 * be read get "sha256": null and an "error" string; never fails for them. */
struct json_object *vigil_provenance_new(const struct vigil_provenance_in *in);

/* SHA-256 of a file as 64 hex digits (+ NUL), through the cache. 0 or -errno. */
int vigil_file_sha256(const char *path, char out[65]);

#endif /* VIGIL_CLI_PROVENANCE_H */
