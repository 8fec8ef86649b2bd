/* SPDX-License-Identifier: MIT */
/*
 * hostroot_plan: what a guest of `--rootfs host` sees of the host (see
 * hostroot.h): the default list of hidden paths and the resolution of a
 * request into a plan. Touches the host only to read (glob, realpath,
 * stat). Load: once per run, a few dozen paths.
 */
#include "hostroot.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Always hidden and never shown again: the guest mounts its own. */
static const char *const fixed_hide[] = { "/proc", "/sys", "/dev", "/run", NULL };

/*
 * Hidden unless --show names the entry: what a guest could print into a
 * CI log without anyone meaning it to. "~/" is the run's $HOME.
 */
const char *const vigil_hostroot_default_hide[] = {
	"/root",
	"/etc/shadow",
	"/etc/shadow-",
	"/etc/gshadow",
	"/etc/gshadow-",
	"/etc/ssh/*key*",
	"/etc/ssl/private",
	"/etc/krb5.keytab",
	"/etc/libvirt",
	"/var/lib/libvirt",
	"/var/lib/vigil",
	"/var/lib/sss",
	"~/.ssh",
	"~/.gnupg",
	"~/.aws",
	"~/.azure",
	"~/.kube",
	"~/.docker",
	"~/.netrc",
	"~/.git-credentials",
	"~/.config/gcloud",
	"~/.config/gh",
	"~/.password-store",
	"~/.cache/vigil",
	NULL,
};

bool vigil_path_under(const char *path, const char *p)
{
	size_t n = strlen(p);

	if (n == 1 && p[0] == '/')
		return path[0] == '/';
	return strncmp(path, p, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int fail(char *err, size_t cap, int e, const char *fmt, const char *arg)
{
	snprintf(err, cap, fmt, arg);
	return e;
}

static bool under_fixed(const char *path)
{
	for (const char *const *f = fixed_hide; *f; f++) {
		if (vigil_path_under(path, *f))
			return true;
	}
	return false;
}

static bool in_list(const struct vigil_hostroot_path *l, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(l[i].path, path))
			return true;
	}
	return false;
}

/* Resolve one existing host path into l (deduplicated). 1 added, 0 skipped, or -E2BIG. */
static int add_path(struct vigil_hostroot_path *l, size_t *n, const char *path)
{
	char real[PATH_MAX];
	struct stat st;

	if (!realpath(path, real) || stat(real, &st) < 0)
		return 0;
	if (in_list(l, *n, real))
		return 0;
	if (*n >= VIGIL_HOSTROOT_MAX)
		return -E2BIG;
	snprintf(l[*n].path, sizeof(l[*n].path), "%s", real);
	l[*n].dir = S_ISDIR(st.st_mode);
	(*n)++;
	return 1;
}

/* "~/x" with home; every glob match of the pattern added to l. */
static int add_pattern(struct vigil_hostroot_path *l, size_t *n, const char *pat, const char *home)
{
	char full[PATH_MAX];
	glob_t g;
	int e = 0;

	if (!strncmp(pat, "~/", 2)) {
		if (!home || home[0] != '/')
			return 0;
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", home, pat + 2) >= sizeof(full))
			return 0;
		pat = full;
	}
	if (glob(pat, GLOB_NOSORT, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc && e >= 0; i++)
		e = add_path(l, n, g.gl_pathv[i]);
	globfree(&g);
	return e < 0 ? e : 0;
}

static bool shown_default(const struct vigil_hostroot_req *r, const char *entry)
{
	for (size_t i = 0; i < r->n_show; i++) {
		if (!strcmp(r->show[i], "all") || !strcmp(r->show[i], entry))
			return true;
	}
	return false;
}

static int check_show(const struct vigil_hostroot_req *r, char *err, size_t cap)
{
	for (size_t i = 0; i < r->n_show; i++) {
		bool known = !strcmp(r->show[i], "all");

		for (const char *const *d = vigil_hostroot_default_hide; *d && !known; d++)
			known = !strcmp(*d, r->show[i]);
		if (!known)
			return fail(err, cap, -EINVAL,
				    "--show %s: not an entry of the default hidden list "
				    "(see vigil run --help; or `all`)",
				    r->show[i]);
	}
	return 0;
}

static int plan_hide(const struct vigil_hostroot_req *r, struct vigil_hostroot_plan *p, char *err,
		     size_t cap)
{
	int e = check_show(r, err, cap);

	for (const char *const *f = fixed_hide; *f && e >= 0; f++)
		e = add_path(p->hide, &p->n_hide, *f);
	for (const char *const *d = vigil_hostroot_default_hide; *d && e >= 0; d++) {
		if (!shown_default(r, *d))
			e = add_pattern(p->hide, &p->n_hide, *d, r->home);
	}
	for (size_t i = 0; i < r->n_hide && e >= 0; i++) {
		if (r->hide[i][0] != '/' && strncmp(r->hide[i], "~/", 2))
			return fail(err, cap, -EINVAL, "--hide %s: not an absolute path",
				    r->hide[i]);
		e = add_pattern(p->hide, &p->n_hide, r->hide[i], r->home);
	}
	if (e == -E2BIG)
		return fail(err, cap, e, "more than %s paths to hide", "256");
	return e;
}

static int plan_rw(const struct vigil_hostroot_req *r, struct vigil_hostroot_plan *p, char *err,
		   size_t cap)
{
	for (size_t i = 0; i < r->n_rw; i++) {
		char real[PATH_MAX];
		struct stat st;

		if (!realpath(r->rw[i], real) || stat(real, &st) < 0)
			return fail(err, cap, -EINVAL, "--rwdir %s: no such directory", r->rw[i]);
		if (!S_ISDIR(st.st_mode))
			return fail(err, cap, -EINVAL, "--rwdir %s: not a directory", r->rw[i]);
		if (under_fixed(real))
			return fail(err, cap, -EINVAL,
				    "--rwdir %s: under /proc, /sys, /dev or /run, which the guest "
				    "has of its own",
				    r->rw[i]);
		if (add_path(p->rw, &p->n_rw, real) < 0)
			return fail(err, cap, -E2BIG, "more than %s --rwdir", "256");
	}
	return 0;
}

/* The hidden path that holds path (the longest), or NULL. */
static const char *hidden_by(const struct vigil_hostroot_plan *p, const char *path)
{
	const char *by = NULL;

	for (size_t h = 0; h < p->n_hide; h++) {
		if (vigil_path_under(path, p->hide[h].path) &&
		    (!by || strlen(p->hide[h].path) > strlen(by)))
			by = p->hide[h].path;
	}
	return by;
}

/* Show path again (read-only) when a hidden path holds it. */
static int show_one(struct vigil_hostroot_plan *p, const char *path)
{
	struct vigil_hostroot_path one[1];
	size_t n = 0;

	if (add_path(one, &n, path) <= 0 || under_fixed(one[0].path) ||
	    !hidden_by(p, one[0].path) || in_list(p->show, p->n_show, one[0].path))
		return 0;
	if (p->n_show >= VIGIL_HOSTROOT_MAX)
		return -E2BIG;
	p->show[p->n_show++] = one[0];
	return 0;
}

/* PATH entry dir under hidden H: show H's child that holds dir (~/.pyenv). */
static int show_path_entry(struct vigil_hostroot_plan *p, const char *dir, size_t len)
{
	char entry[PATH_MAX], real[PATH_MAX], top[PATH_MAX];
	const char *by, *rest;
	size_t bl;

	if (!len || len >= sizeof(entry) || dir[0] != '/')
		return 0;
	memcpy(entry, dir, len);
	entry[len] = '\0';
	if (!realpath(entry, real) || under_fixed(real) || !(by = hidden_by(p, real)))
		return 0;
	bl = strlen(by);
	rest = real + (bl == 1 ? 0 : bl);
	if (rest[0] != '/') /* the hidden path itself is on PATH */
		return show_one(p, real);
	bl = (size_t)(strchrnul(rest + 1, '/') - real);
	snprintf(top, sizeof(top), "%.*s", (int)bl, real);
	return show_one(p, top);
}

/* Named paths, and what PATH needs, shown again when hidden. */
static int plan_show(const struct vigil_hostroot_req *r, struct vigil_hostroot_plan *p)
{
	int e = 0;

	for (size_t i = 0; i < r->n_named && e == 0; i++)
		e = show_one(p, r->named[i]);
	for (const char *s = r->path; s && *s && e == 0;) {
		const char *end = strchrnul(s, ':');

		e = show_path_entry(p, s, (size_t)(end - s));
		s = *end ? end + 1 : end;
	}
	return e;
}

static int by_length(const void *a, const void *b)
{
	size_t la = strlen(((const struct vigil_hostroot_path *)a)->path);
	size_t lb = strlen(((const struct vigil_hostroot_path *)b)->path);

	return la < lb ? -1 : la > lb;
}

int vigil_hostroot_plan(const struct vigil_hostroot_req *req, struct vigil_hostroot_plan *plan,
			char *err, size_t cap)
{
	int e;

	memset(plan, 0, sizeof(*plan));
	err[0] = '\0';
	if ((e = plan_hide(req, plan, err, cap)) < 0 || (e = plan_rw(req, plan, err, cap)) < 0)
		return e;
	if (plan_show(req, plan) < 0)
		return fail(err, cap, -E2BIG, "more than %s paths to show", "256");
	/* parents before children: mount points exist when their turn comes */
	qsort(plan->hide, plan->n_hide, sizeof(plan->hide[0]), by_length);
	qsort(plan->show, plan->n_show, sizeof(plan->show[0]), by_length);
	qsort(plan->rw, plan->n_rw, sizeof(plan->rw[0]), by_length);
	return 0;
}
