/* SPDX-License-Identifier: MIT */
/* modload: the initramfs's kernel modules, in parallel where the list allows (modload.h). */
#define _GNU_SOURCE
#include "modload.h"
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

#define MODLOAD_FILE_MAX (1u << 20)

enum { ML_NEW, ML_LOADING, ML_DONE };

struct ml_mod {
	char *path;   /* as written in the list */
	char *pre;    /* the words after ':', NULL for a barrier */
	int *pre_idx; /* the earlier lines they name */
	int npre;
	int state;
	bool pci; /* tagged @pci: serves PCI devices alone */
};

struct ml_run {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ml_mod *m;
	int n, loaded, skipped;
	bool no_pci; /* MODLOAD_NO_PCI */
	const char *dir;
	modload_fn load;
	void *ctx;
	modload_log_fn log;
};

int modload_finit(void *ctx, const char *path)
{
	size_t n = strlen(path);
	int flags = 0, fd, r;

	(void)ctx;
	if ((n > 3 && !strcmp(path + n - 3, ".xz")) || (n > 4 && !strcmp(path + n - 4, ".zst")) ||
	    (n > 3 && !strcmp(path + n - 3, ".gz")))
		flags = MODULE_INIT_COMPRESSED_FILE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = (int)syscall(SYS_finit_module, fd, "", flags);
	r = r < 0 ? -errno : 0;
	close(fd);
	return r == -EEXIST ? 0 : r;
}

/* The whole of a file up to MODLOAD_FILE_MAX, NUL-terminated; -errno. */
static int ml_slurp(const char *path, char **out)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e = 0;
	char *buf = NULL;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		e = -errno;
	else if (st.st_size > (off_t)MODLOAD_FILE_MAX)
		e = -EFBIG;
	else if (!(buf = malloc((size_t)st.st_size + 1)))
		e = -ENOMEM;
	else if (read(fd, buf, (size_t)st.st_size) != st.st_size)
		e = -EIO;
	close(fd);
	if (e < 0) {
		free(buf);
		return e;
	}
	buf[st.st_size] = '\0';
	*out = buf;
	return 0;
}

/* Resolve m[i]'s prerequisites to earlier lines. */
static int ml_link(struct ml_mod *m, int i)
{
	char *save = NULL, *w;
	int cap = 0;

	if (!m[i].pre)
		return 0;
	for (const char *p = m[i].pre; *p; p++)
		cap += *p == ' ' || *p == '\t' || *p == '\r';
	m[i].pre_idx = calloc((size_t)cap + 1, sizeof(int));
	if (!m[i].pre_idx)
		return -ENOMEM;
	for (w = strtok_r(m[i].pre, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		m[i].pci |= !strcmp(w, "@pci");
		for (int j = 0; j < i; j++) {
			if (!strcmp(m[j].path, w) && m[i].npre <= cap) {
				m[i].pre_idx[m[i].npre++] = j;
				break;
			}
		}
	}
	return 0;
}

/* Split the list into lines; n lines or -errno. */
static int ml_parse(char *buf, struct ml_mod *m)
{
	char *save = NULL, *line;
	int n = 0, e;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon, *end;

		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		if (n == MODLOAD_MAX)
			return -EFBIG;
		colon = strchr(line, ':');
		m[n].pre = colon ? colon + 1 : NULL;
		if (colon)
			*colon = '\0';
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		m[n].path = line;
		if ((e = ml_link(m, n)) < 0)
			return e;
		n++;
	}
	return n;
}

static bool ml_ready(const struct ml_run *r, int i)
{
	const struct ml_mod *m = &r->m[i];

	for (int j = 0; j < i; j++)
		if (r->m[j].state != ML_DONE && (!m->pre || !r->m[j].pre))
			return false; /* m or an unfinished earlier line is a barrier */
	for (int k = 0; k < m->npre; k++)
		if (r->m[m->pre_idx[k]].state != ML_DONE)
			return false;
	return true;
}

/* Under the lock: the next line that may start, -1 when all started, -2 when none may yet. */
static int ml_next(const struct ml_run *r)
{
	bool pending = false;

	for (int i = 0; i < r->n; i++) {
		if (r->m[i].state != ML_NEW)
			continue;
		if (ml_ready(r, i))
			return i;
		pending = true;
	}
	return pending ? -2 : -1;
}

static void ml_one(struct ml_run *r, int i)
{
	char full[512];
	const char *p = r->m[i].path;
	bool skip = r->no_pci && r->m[i].pci;
	int e;

	if (*p == '/')
		snprintf(full, sizeof(full), "%s", p);
	else
		snprintf(full, sizeof(full), "%s/%s", r->dir, p);
	e = skip ? 0 : r->load(r->ctx, full);
	if (e < 0 && r->log)
		r->log("cannot load module", full, e);
	pthread_mutex_lock(&r->mu);
	r->m[i].state = ML_DONE;
	r->loaded += e == 0 && !skip;
	r->skipped += skip;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* A worker: take lines as they become ready until every line has started. */
static void *ml_worker(void *arg)
{
	struct ml_run *r = arg;
	int i;

	pthread_mutex_lock(&r->mu);
	while ((i = ml_next(r)) != -1) {
		if (i == -2) {
			pthread_cond_wait(&r->cv, &r->mu);
			continue;
		}
		r->m[i].state = ML_LOADING;
		pthread_mutex_unlock(&r->mu);
		ml_one(r, i);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Run the parsed list on the calling thread and up to workers - 1 more. */
static int ml_schedule(struct ml_run *r, unsigned workers)
{
	pthread_t t[MODLOAD_WORKERS];
	pthread_attr_t attr;
	unsigned started = 0;

	if (workers > MODLOAD_WORKERS)
		workers = MODLOAD_WORKERS;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	/* A thread that cannot be made leaves its share to the others. */
	while (started + 1 < workers && pthread_create(&t[started], &attr, ml_worker, r) == 0)
		started++;
	pthread_attr_destroy(&attr);
	ml_worker(r);
	for (unsigned k = 0; k < started; k++)
		pthread_join(t[k], NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	return r->loaded;
}

int modload_list(const char *dir, const char *list_path, unsigned workers, unsigned flags,
		 modload_fn load, void *ctx, modload_log_fn log, int *skipped)
{
	struct ml_run r = {
		.dir = dir, .load = load, .ctx = ctx, .log = log, .no_pci = flags & MODLOAD_NO_PCI
	};
	char *buf = NULL;
	int n;

	if ((n = ml_slurp(list_path, &buf)) < 0)
		return n;
	r.m = calloc(MODLOAD_MAX, sizeof(*r.m));
	n = r.m ? ml_parse(buf, r.m) : -ENOMEM;
	if (n >= 0) {
		r.n = n;
		n = ml_schedule(&r, workers ? workers : 1);
	}
	if (skipped)
		*skipped = r.skipped;
	for (int i = 0; r.m && i < MODLOAD_MAX; i++)
		free(r.m[i].pre_idx);
	free(r.m);
	free(buf);
	return n;
}

/* One modules.dep line: "path: dep dep ...", split in place. */
struct dep_mod {
	char *path;
	char *deps;
	int state; /* 0 new, 1 loading, 2 done */
};

static struct dep_mod *dep_find(struct dep_mod *m, int n, const char *path)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(m[i].path, path))
			return &m[i];
	return NULL;
}

/* m after its dependencies (depth-bounded: modules.dep can be cyclic when broken). */
static int dep_load(const char *dir, struct dep_mod *all, int n, struct dep_mod *m, int depth,
		    modload_log_fn log)
{
	char full[512], *save = NULL, *dep, deps[4096];
	int r;

	if (m->state || depth > 32)
		return 0;
	m->state = 1;
	snprintf(deps, sizeof(deps), "%s", m->deps);
	for (dep = strtok_r(deps, " \t", &save); dep; dep = strtok_r(NULL, " \t", &save)) {
		struct dep_mod *d = dep_find(all, n, dep);

		if (d)
			dep_load(dir, all, n, d, depth + 1, log);
	}
	m->state = 2;
	snprintf(full, sizeof(full), "%s/%s", dir, m->path);
	if (access(full, F_OK) < 0)
		return 0; /* not shipped in this initramfs */
	r = modload_finit(NULL, full);
	if (r < 0) {
		if (log)
			log("cannot load module", full, r);
		return 0;
	}
	return 1;
}

/* Every module of dir/modules.dep the image carries, one by one. */
static int dep_load_all(const char *dir, modload_log_fn log)
{
	char path[512], *buf = NULL, *line, *save = NULL;
	struct dep_mod *mods;
	int n = 0, cap = 0, loaded = 0;

	snprintf(path, sizeof(path), "%s/modules.dep", dir);
	if (ml_slurp(path, &buf) < 0)
		return 0;
	for (const char *p = buf; *p; p++)
		cap += *p == '\n';
	mods = calloc((size_t)cap + 1, sizeof(*mods));
	if (!mods) {
		free(buf);
		return 0;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');

		line += strspn(line, " \t");
		if (!colon || *line == '#' || n > cap)
			continue;
		*colon = '\0';
		mods[n].path = line;
		mods[n].deps = colon + 1;
		n++;
	}
	for (int i = 0; i < n; i++)
		loaded += dep_load(dir, mods, n, &mods[i], 0, log);
	free(mods);
	free(buf);
	return loaded;
}

unsigned modload_workers(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus < 1 ? 1 : cpus > MODLOAD_WORKERS ? MODLOAD_WORKERS : (unsigned)cpus;
}

int modload_boot(const char *dir, const char *list_path, modload_log_fn log, int *skipped)
{
	/* PCI enumeration is over before /init: no device now means none. */
	unsigned flags = init_dir_populated("/sys/bus/pci/devices") > 0 ? 0 : MODLOAD_NO_PCI;
	int r;

	*skipped = 0;
	r = modload_list(dir, list_path, modload_workers(), flags, modload_finit, NULL, log,
			 skipped);
	if (r == -ENOENT)
		return dep_load_all(dir, log);
	if (r < 0 && log)
		log("cannot read the module list", list_path, r);
	return r < 0 ? 0 : r;
}
