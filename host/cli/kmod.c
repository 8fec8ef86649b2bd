/* SPDX-License-Identifier: MIT */
/* kmod: module resolution through libkmod (see kmod.h). */
#include "kmod.h"

#include <errno.h>
#include <libkmod.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "kstage.h"

/* One resolution in progress. */
struct kmod_run {
	struct vigil_kmods *out;
	const char *dir; /* libkmod's module directory: module paths start with it */
	size_t dirlen;
	int err;                          /* the first failure inside kmod_action, 0 none */
	signed char kind[VIGIL_KMOD_MAX]; /* out->rel[i]'s aliases: KMOD_ALIAS_* */
	bool named[VIGIL_KMOD_MAX];       /* out->rel[i] is what a want looked up */
	char logged[256];                 /* libkmod's first error message, "" none */
};

/* kmod_module_probe_insert_module's print_action gets no user data: the
 * run it reports to, per thread (resolution does not nest). */
static _Thread_local struct kmod_run *kmod_cur;

__attribute__((format(printf, 3, 4))) static int kmod_fail(struct kmod_run *r, int e,
							   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->out->detail, sizeof(r->out->detail), fmt, ap);
	va_end(ap);
	return e;
}

static void kmod_log(void *data, int prio, const char *file, int line, const char *fn,
		     const char *fmt, va_list ap)
{
	struct kmod_run *r = data;

	(void)file;
	(void)line;
	(void)fn;
	if (prio > LOG_ERR || r->logged[0])
		return;
	vsnprintf(r->logged, sizeof(r->logged), fmt, ap);
	r->logged[strcspn(r->logged, "\n")] = '\0';
}

/* A module path from libkmod, relative to the module directory. */
static const char *kmod_rel(const struct kmod_run *r, const char *path)
{
	if (strncmp(path, r->dir, r->dirlen) != 0 || path[r->dirlen] != '/')
		return NULL;
	return path + r->dirlen + 1;
}

/* m's dependencies as modules.dep lists them, relative, space-separated. */
static int kmod_deps(struct kmod_run *r, struct kmod_module *m, char **out)
{
	struct kmod_list *deps = kmod_module_get_dependencies(m), *l;
	size_t len = 1, at = 0;
	int e = 0;

	kmod_list_foreach (l, deps) {
		struct kmod_module *d = kmod_module_get_module(l);
		const char *p = kmod_module_get_path(d);

		len += (p ? strlen(p) : 0) + 1;
		kmod_module_unref(d); /* the list holds a reference of its own */
	}
	*out = malloc(len);
	if (!*out)
		e = -ENOMEM;
	/* libkmod keeps them in load order, modules.dep in the reverse */
	kmod_list_foreach_reverse (l, deps) {
		struct kmod_module *d = kmod_module_get_module(l);
		const char *p = kmod_module_get_path(d), *rel = p ? kmod_rel(r, p) : NULL;

		kmod_module_unref(d);
		if (e < 0)
			continue;
		if (!rel) {
			e = kmod_fail(r, -EBADMSG, "%s: a dependency of %s is outside it (%s)",
				      r->dir, kmod_module_get_name(m), p ? p : "no path");
			continue;
		}
		at += (size_t)snprintf(*out + at, len - at, "%s%s", at ? " " : "", rel);
	}
	if (*out && e == 0)
		(*out)[at] = '\0';
	kmod_module_unref_list(deps);
	return e;
}

/* Whether m names softdeps (pre: or post:) in the directory's modules.softdep. */
static bool kmod_has_softdeps(const struct kmod_module *m)
{
	struct kmod_list *pre = NULL, *post = NULL;
	bool any;

	if (kmod_module_get_softdeps(m, &pre, &post) < 0)
		return true; /* unknown: keep modprobe's order around it */
	any = pre || post;
	kmod_module_unref_list(pre);
	kmod_module_unref_list(post);
	return any;
}

enum { KMOD_ALIAS_NONE = -1, KMOD_ALIAS_OTHER = 0, KMOD_ALIAS_PCI = 1 };

/* What m's aliases say of the devices it serves: KMOD_ALIAS_PCI when each
 * is a "pci:" one, KMOD_ALIAS_NONE when it has none, else (or unreadable)
 * KMOD_ALIAS_OTHER. */
static int kmod_alias_kind(const struct kmod_module *m)
{
	struct kmod_list *info = NULL, *l;
	int kind = KMOD_ALIAS_NONE;

	if (kmod_module_get_info(m, &info) < 0)
		return KMOD_ALIAS_OTHER;
	kmod_list_foreach (l, info) {
		const char *v = kmod_module_info_get_value(l);

		if (strcmp(kmod_module_info_get_key(l), "alias") != 0)
			continue;
		kind = v && !strncmp(v, "pci:", 4) && kind != KMOD_ALIAS_OTHER ? KMOD_ALIAS_PCI
									       : KMOD_ALIAS_OTHER;
	}
	kmod_module_info_free_list(info);
	return kind;
}

/* Whether rel is one of the space-separated words of list. */
static bool kmod_word_in(const char *list, const char *rel)
{
	size_t l = strlen(rel);

	for (const char *p = list; (p = strstr(p, rel)); p += l)
		if ((p == list || p[-1] == ' ') && (p[l] == ' ' || p[l] == '\0'))
			return true;
	return false;
}

/* out->pci (vigil_kmod_resolve): dependents come after their dependencies
 * in the load order, so one pass from the end settles each module. */
static void kmod_mark_pci(struct kmod_run *r)
{
	struct vigil_kmods *o = r->out;

	for (size_t i = o->n; i-- > 0;) {
		bool any = false, all = true;

		if (r->kind[i] != KMOD_ALIAS_NONE || r->named[i]) {
			o->pci[i] = r->kind[i] == KMOD_ALIAS_PCI;
			continue;
		}
		for (size_t j = i + 1; j < o->n; j++) {
			if (kmod_word_in(o->deps[j], o->rel[i])) {
				any = true;
				all = all && o->pci[j];
			}
		}
		o->pci[i] = any && all;
	}
}

/* One module of a probe list, unless built in or already there. */
static int kmod_add(struct kmod_run *r, struct kmod_module *m)
{
	struct vigil_kmods *o = r->out;
	const char *path = kmod_module_get_path(m), *rel;
	int e;

	if (!path)
		return 0; /* built in: a softdep can be */
	rel = kmod_rel(r, path);
	if (!rel)
		return kmod_fail(r, -EBADMSG, "%s: module %s is outside it (%s)", r->dir,
				 kmod_module_get_name(m), path);
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->rel[i], rel))
			return 0;
	if (o->n == VIGIL_KMOD_MAX)
		return kmod_fail(r, -E2BIG, "more than %d modules to carry", VIGIL_KMOD_MAX);
	if (access(path, R_OK) < 0)
		return kmod_fail(r, -ENOENT,
				 "%s: its index names %s, which cannot be read (%s; a stale index: "
				 "run depmod)",
				 r->dir, rel, strerror(errno));
	e = kmod_deps(r, m, &o->deps[o->n]);
	o->softdeps[o->n] = kmod_has_softdeps(m);
	r->kind[o->n] = (signed char)kmod_alias_kind(m);
	if (e == 0 && !(o->rel[o->n] = strdup(rel)))
		e = -ENOMEM;
	if (e < 0) {
		free(o->deps[o->n]);
		o->deps[o->n] = NULL;
		return e;
	}
	o->n++;
	return 0;
}

static void kmod_action(struct kmod_module *m, bool install, const char *options)
{
	(void)install;
	(void)options;
	if (kmod_cur && kmod_cur->err == 0)
		kmod_cur->err = kmod_add(kmod_cur, m);
}

/* m, found by a want's lookup, is named (kmod_mark_pci). */
static void kmod_mark_named(struct kmod_run *r, struct kmod_module *m)
{
	const char *p = kmod_module_get_path(m), *rel = p ? kmod_rel(r, p) : NULL;

	for (size_t i = 0; rel && i < r->out->n; i++)
		if (!strcmp(r->out->rel[i], rel))
			r->named[i] = true;
}

/* Every module a lookup of w finds, each with modprobe's probe list. */
static int kmod_want(struct kmod_run *r, struct kmod_ctx *ctx, const struct vigil_kmod_want *w)
{
	struct kmod_list *list = NULL, *l;
	bool found = false;
	int e = kmod_module_new_from_lookup(ctx, w->name, &list);

	if (e < 0)
		return kmod_fail(r, e, "cannot look %s up in %s (%s)", w->name, r->dir,
				 strerror(-e));
	kmod_list_foreach (l, list) {
		struct kmod_module *m = kmod_module_get_module(l);

		if (kmod_module_get_path(m)) {
			found = true;
			kmod_cur = r;
			e = kmod_module_probe_insert_module(
			    m, KMOD_PROBE_DRY_RUN | KMOD_PROBE_IGNORE_LOADED, NULL, NULL, NULL,
			    kmod_action);
			kmod_cur = NULL;
			e = e < 0 ? kmod_fail(r, e, "cannot order the modules of %s in %s (%s)",
					      w->name, r->dir, strerror(-e))
				  : r->err;
			kmod_mark_named(r, m);
		} else if (kmod_module_get_initstate(m) == KMOD_MODULE_BUILTIN && !found) {
			found = true;
			r->out->builtin++;
		}
		kmod_module_unref(m);
		if (e < 0)
			break;
	}
	kmod_module_unref_list(list);
	if (e == 0 && r->logged[0])
		e = kmod_fail(r, -EBADMSG, "libkmod, on %s in %s: %s (a stale index? run depmod)",
			      w->name, r->dir, r->logged);
	if (e < 0 || found)
		return e;
	if (!w->required) {
		r->out->absent_optional++;
		return 0;
	}
	snprintf(r->out->missing, sizeof(r->out->missing), "%s", w->name);
	for (char *c = r->out->missing; *c; c++)
		*c = *c == '-' ? '_' : *c;
	return -ENOENT;
}

/* dir without modules.dep.bin: its modules indexed by depmod in a copy. */
static int kmod_stage(struct kmod_run *r, const char *dir, struct vigil_kstage *st)
{
	char release[256], why[PATH_MAX + 128];
	int e;

	vigil_kstage_release(dir, release, sizeof(release));
	e = vigil_kstage_new("kmod", release, st, why, sizeof(why));
	if (e == 0)
		e = vigil_kstage_mirror(st, dir, why, sizeof(why));
	if (e == 0)
		e = vigil_kstage_depmod(st, why, sizeof(why));
	if (e < 0)
		return kmod_fail(r, e,
				 "%s has no modules.dep.bin, so vigil indexes a copy of it with "
				 "depmod: %s (or index it yourself: depmod -b BASE RELEASE)",
				 dir, why);
	r->out->staged = true;
	return 0;
}

int vigil_kmod_resolve(const char *dir, const struct vigil_kmod_want *want, size_t n,
		       struct vigil_kmods *out)
{
	static const char *const no_config[] = { NULL };
	struct kmod_run r = { .out = out };
	struct vigil_kstage st = { 0 };
	char base[PATH_MAX], idx[PATH_MAX + 32];
	struct kmod_ctx *ctx;
	struct stat sb;
	size_t len = strlen(dir);
	int e = 0;

	memset(out, 0, sizeof(*out));
	while (len > 1 && dir[len - 1] == '/')
		len--; /* libkmod joins paths with a '/' of its own */
	if (len >= sizeof(base))
		return kmod_fail(&r, -ENAMETOOLONG, "module directory name too long");
	memcpy(base, dir, len);
	base[len] = '\0';
	if (stat(base, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return kmod_fail(&r, -ENOENT, "%s is not a module directory", base);
	snprintf(idx, sizeof(idx), "%s/modules.dep.bin", base);
	r.dir = base;
	if (access(idx, R_OK) < 0) {
		e = kmod_stage(&r, base, &st);
		r.dir = st.moddir;
	}
	r.dirlen = strlen(r.dir);
	ctx = e == 0 ? kmod_new(r.dir, no_config) : NULL;
	if (e == 0 && !ctx)
		e = kmod_fail(&r, -ENOMEM, "cannot start libkmod on %s", r.dir);
	if (ctx) {
		kmod_set_log_priority(ctx, LOG_ERR);
		kmod_set_log_fn(ctx, kmod_log, &r);
	}
	for (size_t i = 0; e == 0 && i < n; i++)
		e = kmod_want(&r, ctx, &want[i]);
	if (e == 0)
		kmod_mark_pci(&r);
	kmod_unref(ctx);
	vigil_kstage_remove(&st);
	return e;
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
