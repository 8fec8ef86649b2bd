/* SPDX-License-Identifier: MIT */
/* rundir: vigil's private runtime directories (see rundir.h). */
#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void vigil_rundir_remove(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dp;

	if (!dir || !dir[0])
		return;
	dp = opendir(dir);
	while (dp && (d = readdir(dp))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) >= sizeof(path))
			continue;
		if (unlink(path) < 0 && (errno == EISDIR || errno == EPERM))
			rmdir(path);
	}
	if (dp)
		closedir(dp);
	rmdir(dir);
}

/* The kinds vigil makes: only their directories are ever removed (BASE may
 * be /tmp, shared with every other program). */
static const char *const kinds[] = { "vfs", "dbg" };

/* KIND.PID.XXXXXX whose PID is gone (a PID we may not signal is alive). */
static bool stale(const char *name)
{
	const char *dot = strchr(name, '.');
	bool known = false;
	char *end;
	long pid;

	for (size_t i = 0; dot && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		known |= strlen(kinds[i]) == (size_t)(dot - name) &&
			 !strncmp(name, kinds[i], (size_t)(dot - name));
	if (!known)
		return false;
	pid = strtol(dot + 1, &end, 10);
	if (end == dot + 1 || *end != '.' || pid <= 0 || strlen(end) != 7)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static void remove_stale(const char *base)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dp = opendir(base);

	while (dp && (d = readdir(dp))) {
		if (d->d_name[0] == '.' || !stale(d->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", base, d->d_name) < sizeof(path))
			vigil_rundir_remove(path);
	}
	if (dp)
		closedir(dp);
}

int vigil_rundir_new(const char *kind, char dir[VIGIL_RUNDIR_MAX])
{
	const char *base = getenv("XDG_RUNTIME_DIR");

	if (!base || base[0] != '/' || strlen(base) > 48 || access(base, W_OK) < 0) {
		base = "/run/vigil";
		if (mkdir(base, 0755) < 0 && errno != EEXIST)
			base = "/tmp";
	}
	remove_stale(base);
	if ((size_t)snprintf(dir, VIGIL_RUNDIR_MAX, "%s/%s.%d.XXXXXX", base, kind, (int)getpid()) >=
	    VIGIL_RUNDIR_MAX)
		return -ENAMETOOLONG;
	if (!mkdtemp(dir)) { /* mode 0700 */
		int e = -errno;
		dir[0] = '\0';
		return e;
	}
	return 0;
}
