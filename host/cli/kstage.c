/* SPDX-License-Identifier: MIT */
/* kstage: modules staged for depmod -b (see kstage.h). */
#include "kstage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t cap, int e, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return e;
}

void vigil_kstage_release(const char *dir, char *buf, size_t cap)
{
	const char *end = dir + strlen(dir), *base;
	unsigned d1, d2;

	while (end > dir + 1 && end[-1] == '/')
		end--;
	for (base = end; base > dir && base[-1] != '/'; base--)
		;
	/* depmod's own test for a version: "%u.%u" */
	if (end > base && (size_t)(end - base) < cap && sscanf(base, "%u.%u", &d1, &d2) == 2) {
		memcpy(buf, base, (size_t)(end - base));
		buf[end - base] = '\0';
	} else {
		snprintf(buf, cap, "0.0-staged");
	}
}

int vigil_kstage_new(const char *prefix, const char *release, struct vigil_kstage *s, char *err,
		     size_t cap)
{
	char path[PATH_MAX];

	memset(s, 0, sizeof(*s));
	if ((size_t)snprintf(s->base, sizeof(s->base), "/tmp/vigil-%s-XXXXXX", prefix) >=
	    sizeof(s->base)) {
		s->base[0] = '\0';
		return fail(err, cap, -ENAMETOOLONG, "staging prefix %s too long", prefix);
	}
	if (!mkdtemp(s->base)) {
		s->base[0] = '\0';
		return fail(err, cap, -errno, "cannot make a staging directory in /tmp: %s",
			    strerror(errno));
	}
	snprintf(s->release, sizeof(s->release), "%s", release);
	if ((size_t)snprintf(s->moddir, sizeof(s->moddir), "%s/lib/modules/%s", s->base, release) >=
	    sizeof(s->moddir))
		return fail(err, cap, -ENAMETOOLONG, "release %s too long", release);
	snprintf(path, sizeof(path), "%s/lib", s->base);
	if (mkdir(path, 0755) < 0 ||
	    (snprintf(path, sizeof(path), "%s/lib/modules", s->base), mkdir(path, 0755) < 0) ||
	    mkdir(s->moddir, 0755) < 0)
		return fail(err, cap, -errno, "cannot make %s: %s", s->moddir, strerror(errno));
	return 0;
}

/* What depmod writes (never linked: depmod would write through the link)
 * and what is not modules. depmod reads modules.order, modules.builtin
 * and modules.builtin.modinfo, so those are linked. */
static bool skip_entry(const char *name)
{
	static const char *const keep[] = { "modules.order", "modules.builtin",
					    "modules.builtin.modinfo" };

	if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "build") ||
	    !strcmp(name, "source"))
		return true;
	if (strncmp(name, "modules.", 8) != 0)
		return false;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (!strcmp(name, keep[i]))
			return false;
	return true;
}

int vigil_kstage_mirror(struct vigil_kstage *s, const char *dir, char *err, size_t cap)
{
	char abs[PATH_MAX], from[PATH_MAX * 2], to[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;
	int e = 0;

	if (!realpath(dir, abs))
		return fail(err, cap, -errno, "cannot open %s: %s", dir, strerror(errno));
	d = opendir(abs);
	if (!d)
		return fail(err, cap, -errno, "cannot list %s: %s", abs, strerror(errno));
	while (e == 0 && (de = readdir(d))) {
		if (skip_entry(de->d_name))
			continue;
		snprintf(from, sizeof(from), "%s/%s", abs, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", s->moddir, de->d_name);
		if (symlink(from, to) < 0)
			e = fail(err, cap, -errno, "cannot link %s into the staging directory: %s",
				 from, strerror(errno));
	}
	closedir(d);
	return e;
}

/* The first line of depmod's standard error that says ERROR, else the first. */
static void depmod_complaint(int fd, char *out, size_t cap)
{
	char buf[VIGIL_KSTAGE_ERR_MAX + 1];
	ssize_t n = pread(fd, buf, VIGIL_KSTAGE_ERR_MAX, 0);
	char *line;

	out[0] = '\0';
	if (n <= 0)
		return;
	buf[n] = '\0';
	line = strstr(buf, "ERROR");
	if (line)
		while (line > buf && line[-1] != '\n')
			line--;
	else
		line = buf;
	n = (ssize_t)strcspn(line, "\n");
	if ((size_t)n >= cap)
		n = (ssize_t)cap - 1;
	memcpy(out, line, (size_t)n);
	out[n] = '\0';
}

int vigil_kstage_depmod(const struct vigil_kstage *s, char *err, size_t cap)
{
	char *argv[] = { "depmod", "-b", (char *)s->base, (char *)s->release, NULL };
	char path[sizeof(s->base) + 16], said[256];
	int st = 0, efd;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/depmod.err", s->base);
	efd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (efd < 0)
		return fail(err, cap, -errno, "cannot write %s: %s", path, strerror(errno));
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 1);
		dup2(efd, 2);
		execvp("depmod", argv);
		execv("/usr/sbin/depmod", argv);
		execv("/sbin/depmod", argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		int e = -errno;
		close(efd);
		return fail(err, cap, e, "cannot run depmod: %s", strerror(-e));
	}
	depmod_complaint(efd, said, sizeof(said));
	close(efd);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return fail(err, cap, -ENOENT,
			    "depmod not found (install the Debian package kmod)");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return fail(err, cap, -EIO, "depmod failed on the modules staged in %s: %s",
			    s->moddir, said[0] ? said : "no message");
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

void vigil_kstage_remove(struct vigil_kstage *s)
{
	if (!s->base[0])
		return;
	/* FTW_PHYS: links are removed, never followed */
	if (nftw(s->base, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "vigil: could not remove %s\n", s->base);
	s->base[0] = '\0';
}
