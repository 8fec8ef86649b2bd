/* SPDX-License-Identifier: MIT */
/*
 * kmod: modules.dep resolution (see kmod.h). The files are read whole once
 * per call; lookups are linear scans over a few thousand lines, which costs
 * well under a millisecond for the handful of names vigil asks for.
 */
#include "kmod.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KMOD_FILE_MAX  (64u << 20)
#define KMOD_DEPTH_MAX 64

struct kmod_entry {
	char *path; /* NUL-terminated, inside the file buffer */
	char *deps; /* NUL-terminated, whitespace-separated */
	char name[VIGIL_KMOD_NAME_MAX];
	int state; /* 0 unvisited, 1 on the DFS stack, 2 emitted */
};

struct kmod_db {
	char *dep_buf;
	struct kmod_entry *e;
	size_t n;
	char *builtin_buf;
};

static const char *const kmod_suffixes[] = { ".ko.xz", ".ko.zst", ".ko.gz", ".ko" };

int vigil_kmod_name(const char *path, char *buf, size_t cap)
{
	const char *base = strrchr(path, '/');
	size_t len, i;

	base = base ? base + 1 : path;
	len = strlen(base);
	for (i = 0; i < sizeof(kmod_suffixes) / sizeof(kmod_suffixes[0]); i++) {
		size_t sl = strlen(kmod_suffixes[i]);
		if (len > sl && strcmp(base + len - sl, kmod_suffixes[i]) == 0) {
			len -= sl;
			break;
		}
	}
	if (len + 1 > cap)
		return -ENAMETOOLONG;
	for (i = 0; i < len; i++)
		buf[i] = base[i] == '-' ? '_' : base[i];
	buf[len] = '\0';
	return 0;
}

static int kmod_slurp(const char *dir, const char *file, char **out)
{
	char path[4096];
	struct stat st;
	char *buf;
	size_t done = 0;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if ((uint64_t)st.st_size > KMOD_FILE_MAX) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	buf[done] = '\0';
	*out = buf;
	return 0;
}

static void kmod_db_free(struct kmod_db *db)
{
	free(db->dep_buf);
	free(db->e);
	free(db->builtin_buf);
}

static int kmod_db_load(const char *dir, struct kmod_db *db)
{
	size_t lines = 0, cap;
	char *p, *line;
	int r;

	memset(db, 0, sizeof(*db));
	r = kmod_slurp(dir, "modules.dep", &db->dep_buf);
	if (r < 0)
		return r;
	for (p = db->dep_buf; *p; p++)
		lines += *p == '\n';
	cap = lines + 1;
	db->e = calloc(cap, sizeof(*db->e));
	if (!db->e)
		return -ENOMEM;
	for (line = db->dep_buf; line && *line;) {
		char *nl = strchr(line, '\n');
		char *colon;

		if (nl)
			*nl = '\0';
		colon = strchr(line, ':');
		if (colon && colon != line && db->n < cap) {
			struct kmod_entry *e = &db->e[db->n];
			*colon = '\0';
			e->path = line;
			e->deps = colon + 1;
			while (*e->deps == ' ' || *e->deps == '\t')
				e->deps++;
			if (vigil_kmod_name(line, e->name, sizeof(e->name)) == 0)
				db->n++;
		}
		line = nl ? nl + 1 : NULL;
	}
	/* modules.builtin is optional: old or custom kernels may lack it. */
	if (kmod_slurp(dir, "modules.builtin", &db->builtin_buf) < 0)
		db->builtin_buf = NULL;
	return 0;
}

static struct kmod_entry *kmod_find(struct kmod_db *db, const char *name)
{
	for (size_t i = 0; i < db->n; i++)
		if (strcmp(db->e[i].name, name) == 0)
			return &db->e[i];
	return NULL;
}

static struct kmod_entry *kmod_find_path(struct kmod_db *db, const char *path, size_t len)
{
	for (size_t i = 0; i < db->n; i++)
		if (strncmp(db->e[i].path, path, len) == 0 && db->e[i].path[len] == '\0')
			return &db->e[i];
	return NULL;
}

static bool kmod_is_builtin(const struct kmod_db *db, const char *name)
{
	const char *line = db->builtin_buf;
	char buf[VIGIL_KMOD_NAME_MAX], path[512];

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > 0 && len < sizeof(path)) {
			memcpy(path, line, len);
			path[len] = '\0';
			if (vigil_kmod_name(path, buf, sizeof(buf)) == 0 && strcmp(buf, name) == 0)
				return true;
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

static int kmod_emit(struct kmod_db *db, struct kmod_entry *e, struct vigil_kmods *out, int depth)
{
	const char *end;
	int r;

	if (e->state == 2)
		return 0;
	if (e->state == 1 || depth > KMOD_DEPTH_MAX)
		return -ELOOP;
	e->state = 1;
	/* modules.dep lists the users before what they use; walk it backwards
	 * so the order matches modprobe's when the graph allows several. */
	end = e->deps + strlen(e->deps);
	for (;;) {
		const char *start;
		struct kmod_entry *d;

		while (end > e->deps && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end == e->deps)
			break;
		start = end;
		while (start > e->deps && start[-1] != ' ' && start[-1] != '\t')
			start--;
		d = kmod_find_path(db, start, (size_t)(end - start));
		if (!d)
			return -ENOENT; /* modules.dep names a file it does not describe */
		r = kmod_emit(db, d, out, depth + 1);
		if (r < 0)
			return r;
		end = start;
	}
	if (out->n == VIGIL_KMOD_MAX)
		return -E2BIG;
	out->rel[out->n] = strdup(e->path);
	out->deps[out->n] = strdup(e->deps);
	if (!out->rel[out->n] || !out->deps[out->n]) {
		free(out->rel[out->n]);
		free(out->deps[out->n]);
		out->rel[out->n] = out->deps[out->n] = NULL;
		return -ENOMEM;
	}
	out->n++;
	e->state = 2;
	return 0;
}

int vigil_kmod_resolve(const char *dir, const struct vigil_kmod_want *want, size_t n,
		       struct vigil_kmods *out)
{
	struct kmod_db db;
	int r;

	memset(out, 0, sizeof(*out));
	r = kmod_db_load(dir, &db);
	for (size_t i = 0; r == 0 && i < n; i++) {
		char name[VIGIL_KMOD_NAME_MAX];
		struct kmod_entry *e;

		r = vigil_kmod_name(want[i].name, name, sizeof(name));
		if (r < 0)
			break;
		e = kmod_find(&db, name);
		if (e) {
			r = kmod_emit(&db, e, out, 0);
		} else if (kmod_is_builtin(&db, name)) {
			out->builtin++;
		} else if (want[i].required) {
			snprintf(out->missing, sizeof(out->missing), "%s", name);
			r = -ENOENT;
		} else {
			out->absent_optional++;
		}
	}
	kmod_db_free(&db);
	return r;
}

void vigil_kmods_free(struct vigil_kmods *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++) {
		free(k->rel[i]);
		free(k->deps[i]);
	}
	k->n = 0;
}
