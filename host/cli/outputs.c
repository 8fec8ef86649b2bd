/* SPDX-License-Identifier: MIT */
/* outputs: output paths checked before the run (see outputs.h). */
#include "outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const opt_names[VIGIL_OUT__COUNT] = {
	[VIGIL_OUT_EVENTS] = "--events",   [VIGIL_OUT_VERDICT] = "--verdict",
	[VIGIL_OUT_JUNIT] = "--junit",     [VIGIL_OUT_RECORD] = "--record",
	[VIGIL_OUT_CONSOLE] = "--console", [VIGIL_OUT_SNAPSHOT_DIR] = "--snapshot-dir",
	[VIGIL_OUT_REPORT] = "--report",
};

const char *vigil_out_option(enum vigil_out_kind k)
{
	return k < VIGIL_OUT__COUNT ? opt_names[k] : "?";
}

static bool stdout_ok(enum vigil_out_kind k)
{
	return k == VIGIL_OUT_EVENTS || k == VIGIL_OUT_VERDICT || k == VIGIL_OUT_JUNIT;
}

static int fail(char *err, size_t cap, enum vigil_out_kind k, const char *path, int e,
		const char *why)
{
	snprintf(err, cap, "%s %s: %s", opt_names[k], path, why ? why : strerror(-e));
	return e;
}

/* A file the run will write: created if missing (left empty), else it must
 * be a writable regular file or a character device such as /dev/null. */
static int check_file(const char *path, struct stat *st)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	close(fd);
	return S_ISREG(st->st_mode) || S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode) ? 0 : -EISDIR;
}

static int check_dir(const char *path, struct stat *st)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (stat(path, st) < 0)
		return -errno;
	if (!S_ISDIR(st->st_mode))
		return -ENOTDIR;
	return access(path, W_OK | X_OK) < 0 ? -errno : 0;
}

int vigil_outputs_check(const struct vigil_out_paths *p, char *err, size_t cap)
{
	struct stat st[VIGIL_OUT__COUNT];
	int dash = -1, e;

	for (int k = 0; k < VIGIL_OUT__COUNT; k++) {
		const char *path = p->path[k];
		if (!path)
			continue;
		if (!path[0])
			return fail(err, cap, k, "''", -EINVAL, "an empty path");
		if (!strcmp(path, "-")) {
			if (!stdout_ok(k))
				return fail(err, cap, k, path, -EINVAL,
					    "standard output is only for --events, --verdict "
					    "or --junit");
			if (dash >= 0) {
				snprintf(err, cap,
					 "%s - and %s - would mix on standard output; give one "
					 "of them a file",
					 opt_names[dash], opt_names[k]);
				return -EINVAL;
			}
			dash = k;
			continue;
		}
		e = k == VIGIL_OUT_SNAPSHOT_DIR ? check_dir(path, &st[k])
						: check_file(path, &st[k]);
		if (e < 0)
			return fail(err, cap, k, path, e, NULL);
		for (int j = 0; j < k; j++) {
			const char *q = p->path[j];
			if (!q || !strcmp(q, "-") || S_ISCHR(st[k].st_mode))
				continue;
			if (st[j].st_dev == st[k].st_dev && st[j].st_ino == st[k].st_ino) {
				snprintf(err, cap, "%s and %s both name %s; give each its own file",
					 opt_names[j], opt_names[k], path);
				return -EINVAL;
			}
		}
	}
	return 0;
}
