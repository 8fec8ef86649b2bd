/* SPDX-License-Identifier: MIT */
/* paths: host-side lookups (see paths.h). */
#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef VIGIL_AGENT_BUILD_PATH
#define VIGIL_AGENT_BUILD_PATH ""
#endif
#ifndef VIGIL_LIBEXECDIR
#define VIGIL_LIBEXECDIR "/usr/local/libexec"
#endif

static int put(char *buf, size_t cap, const char *s)
{
	size_t len = strlen(s);

	if (len + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(buf, s, len + 1);
	return 0;
}

static int regular_readable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

int vigil_find_agent(char *buf, size_t cap)
{
	const char *env = getenv("VIGIL_AGENT");
	char self[PATH_MAX], cand[PATH_MAX + 64];
	ssize_t n;

	if (env && *env)
		return regular_readable(env) ? put(buf, cap, env) : -ENOENT;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			/* build tree: <build>/host/cli/vigil -> <build>/guest/vigil-agent */
			snprintf(cand, sizeof(cand), "%s/../../guest/vigil-agent", self);
			if (regular_readable(cand))
				return realpath(cand, self) ? put(buf, cap, self) : -errno;
			/* installed: <prefix>/bin/vigil -> <prefix>/libexec/vigil/vigil-agent */
			snprintf(cand, sizeof(cand), "%s/../libexec/vigil/vigil-agent", self);
			if (regular_readable(cand))
				return realpath(cand, self) ? put(buf, cap, self) : -errno;
		}
	}
	if (VIGIL_AGENT_BUILD_PATH[0] && regular_readable(VIGIL_AGENT_BUILD_PATH))
		return put(buf, cap, VIGIL_AGENT_BUILD_PATH);
	snprintf(cand, sizeof(cand), "%s/vigil/vigil-agent", VIGIL_LIBEXECDIR);
	if (regular_readable(cand))
		return put(buf, cap, cand);
	return -ENOENT;
}

int vigil_find_helper(const char *name, char *buf, size_t cap)
{
	char self[PATH_MAX], cand[2 * PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(cand, sizeof(cand), "%s/%s", self, name);
			if (access(cand, X_OK) == 0)
				return put(buf, cap, cand);
			snprintf(cand, sizeof(cand), "%s/../libexec/vigil/%s", self, name);
			if (access(cand, X_OK) == 0)
				return put(buf, cap, cand);
		}
	}
	snprintf(cand, sizeof(cand), "%s/vigil/%s", VIGIL_LIBEXECDIR, name);
	return access(cand, X_OK) == 0 ? put(buf, cap, cand) : -ENOENT;
}

int vigil_find_kernel(const char *boot_dir, char *buf, size_t cap)
{
	const char *env = getenv("VIGIL_KERNEL");
	char best[NAME_MAX + 1] = "";
	struct dirent *de;
	DIR *d;

	if (env && *env)
		return regular_readable(env) ? put(buf, cap, env) : -ENOENT;
	d = opendir(boot_dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		if (strncmp(de->d_name, "vmlinuz-", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", boot_dir, de->d_name);
		if (!regular_readable(path))
			continue;
		if (!best[0] || strverscmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	if (!best[0])
		return -ENOENT;
	if ((size_t)snprintf(buf, cap, "%s/%s", boot_dir, best) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int vigil_find_program(const char *name, const char *path_env, char *buf, size_t cap)
{
	const char *p = path_env;

	if (!name || !*name)
		return -EINVAL;
	if (strchr(name, '/')) {
		char cwd[PATH_MAX], abs[PATH_MAX * 2];
		if (access(name, X_OK) < 0)
			return -errno;
		if (name[0] == '/')
			return put(buf, cap, name);
		/* absolute, symlinks kept: the guest gets the file at this path */
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		snprintf(abs, sizeof(abs), "%s/%s", cwd, name);
		return put(buf, cap, abs);
	}
	while (p && *p) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		char cand[PATH_MAX];
		struct stat st;
		/* relative and empty elements are skipped: the guest has no cwd of ours */
		if (len > 0 && p[0] == '/' &&
		    (size_t)snprintf(cand, sizeof(cand), "%.*s/%s", (int)len, p, name) <
			sizeof(cand) &&
		    stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return put(buf, cap, cand);
		p = colon ? colon + 1 : NULL;
	}
	return -ENOENT;
}

const char *vigil_path_next(const char **p, size_t *len)
{
	const char *s = *p;

	for (;;) {
		const char *start;

		while (*s == '/')
			s++;
		if (!*s) {
			*p = s;
			return NULL;
		}
		start = s;
		while (*s && *s != '/')
			s++;
		if (s - start == 1 && start[0] == '.')
			continue;
		*p = s;
		*len = (size_t)(s - start);
		return start;
	}
}
