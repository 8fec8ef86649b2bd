/* SPDX-License-Identifier: MIT */
/* Small helpers for the cli tests: temporary trees. Test use only. */
#ifndef VIGIL_TEST_CLI_UTIL_H
#define VIGIL_TEST_CLI_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A NULL-terminated argv from first and the NULL-terminated words after
 * it, copied (getopt may permute): at most 32 words of 255 bytes. The
 * storage is static: the next call reuses it. Returns argc.
 */
static inline int tu_argv(char ***argv_out, const char *first, va_list ap)
{
	static char store[32][256];
	static char *argv[33];
	int argc = 0;

	for (const char *s = first; s && argc < 32; s = va_arg(ap, const char *)) {
		snprintf(store[argc], sizeof(store[argc]), "%s", s);
		argv[argc] = store[argc];
		argc++;
	}
	argv[argc] = NULL;
	*argv_out = argv;
	return argc;
}

/* Write a file under dir (parents created); returns 0 or -1. */
static inline int tu_write(const char *dir, const char *rel, const void *data, size_t len,
			   mode_t mode)
{
	char path[PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
		return -1;
	for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	close(fd);
	chmod(path, mode);
	return 0;
}

static inline int tu_write_str(const char *dir, const char *rel, const char *s)
{
	return tu_write(dir, rel, s, strlen(s), 0644);
}

/* A fresh directory under /tmp; aborts the test program when it cannot. */
static inline __attribute__((returns_nonnull)) char *tu_mkdtemp(void)
{
	char tmpl[] = "/tmp/vigil-test-XXXXXX";
	char *d = mkdtemp(tmpl);

	d = d ? strdup(d) : NULL;
	if (!d)
		abort();
	return d;
}

static inline void tu_rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];

	if (!dir || strncmp(dir, "/tmp/vigil-test-", 16) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

#endif
