/* SPDX-License-Identifier: MIT */
/* workload: the workload file's format, loading and environment (see workload.h). */
#define _GNU_SOURCE
#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_SHOWN 48 /* bytes of an unknown key quoted in a note */

static int fail(char *err, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, WL_ERR_LEN, fmt, ap);
	va_end(ap);
	return e;
}

static uint32_t name_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static bool key_is(const char *key, size_t len, const char *name)
{
	return len == strlen(name) && !memcmp(key, name, len);
}

static void note_unknown(struct wl *w, const char *key, size_t len, uint32_t rec)
{
	w->unknown_records++;
	for (uint32_t i = 0; i < w->nunknown; i++) {
		if (w->unknown[i].len == len && !memcmp(w->unknown[i].key, key, len))
			return;
	}
	if (w->nunknown == WL_UNKNOWN_MAX) {
		w->unknown_unnamed++;
		return;
	}
	w->unknown[w->nunknown++] = (struct wl_unknown){ key, len, rec };
}

static int take_id(const char *val, uint32_t rec, const char *what, uint32_t *out, char *err)
{
	uint64_t v = 0;

	for (const char *c = val; *c; c++) {
		if (*c < '0' || *c > '9' || v > 0xfffffffeull / 10)
			return fail(err, -EBADMSG, "record %u: %s is not a number", rec, what);
		v = v * 10 + (uint64_t)(*c - '0');
	}
	if (!*val || v > 0xfffffffeull) /* (uid_t)-1 means "unchanged" to setresuid */
		return fail(err, -EBADMSG, "record %u: %s is not a number", rec, what);
	*out = (uint32_t)v;
	return 0;
}

static int take_path(const char **list, uint32_t *n, char *val, uint32_t rec, const char *what,
		     char *err)
{
	if (val[0] != '/')
		return fail(err, -EBADMSG, "record %u: %s is not an absolute path", rec, what);
	if (*n == WL_MAX_MOUNTS)
		return fail(err, -EMSGSIZE, "record %u: more than %u %s records", rec,
			    WL_MAX_MOUNTS, what);
	list[(*n)++] = val;
	return 0;
}

/*
 * The --rootfs host keys. true when key is one of them (*e: 0 or the
 * error), false when it is not.
 */
static bool take_rootfs(struct wl *w, const char *key, size_t klen, char *val, uint32_t rec,
			char *err, int *e)
{
	if (key_is(key, klen, "rootfs")) {
		if (strcmp(val, "host") && strcmp(val, "image"))
			*e = fail(err, -EBADMSG, "record %u: rootfs is not host or image", rec);
		w->rootfs_host = !strcmp(val, "host");
	} else if (key_is(key, klen, "rw")) {
		*e = take_path(w->rw, &w->nrw, val, rec, "rw", err);
	} else if (key_is(key, klen, "bindsrc")) {
		if (w->nbind_src != w->nbind_dst)
			*e = fail(err, -EBADMSG, "record %u: bindsrc after bindsrc", rec);
		else
			*e = take_path(w->bind_src, &w->nbind_src, val, rec, "bindsrc", err);
	} else if (key_is(key, klen, "binddst")) {
		if (w->nbind_src != w->nbind_dst + 1)
			*e = fail(err, -EBADMSG, "record %u: binddst without its bindsrc", rec);
		else
			*e = take_path(w->bind_dst, &w->nbind_dst, val, rec, "binddst", err);
	} else if (key_is(key, klen, "uid")) {
		*e = take_id(val, rec, "uid", &w->uid, err);
		w->has_uid = *e == 0;
	} else if (key_is(key, klen, "gid")) {
		*e = take_id(val, rec, "gid", &w->gid, err);
		w->has_gid = *e == 0;
	} else {
		return false;
	}
	return true;
}

/* One value of a known key; val is terminated (by the record's NUL). */
static int take_value(struct wl *w, const char *key, size_t klen, char *val, size_t vlen,
		      uint32_t rec, char *err)
{
	int e = 0;

	if (key_is(key, klen, "arg")) {
		if (w->argc == WL_MAX_ARGS)
			return fail(err, -EMSGSIZE, "record %u: more than %u arg records", rec,
				    WL_MAX_ARGS);
		w->argv[w->argc++] = val;
	} else if (key_is(key, klen, "env")) {
		const char *eq = memchr(val, '=', vlen);

		if (!eq || eq == val)
			return fail(err, -EBADMSG,
				    "record %u: env needs NAME=VALUE with a non-empty NAME", rec);
		if (w->nenv == WL_MAX_ENV)
			return fail(err, -EMSGSIZE, "record %u: more than %u env records", rec,
				    WL_MAX_ENV);
		w->env_name_len[w->nenv] = (uint32_t)(eq - val);
		w->env_name_hash[w->nenv] = name_hash(val, (size_t)(eq - val));
		w->env[w->nenv++] = val;
	} else if (key_is(key, klen, "scenario")) {
		if (w->scenario)
			return fail(err, -EBADMSG, "record %u: a second scenario record", rec);
		if (vlen == 0)
			return fail(err, -EBADMSG, "record %u: the scenario name is empty", rec);
		if (vlen > WL_NAME_MAX)
			return fail(err, -EMSGSIZE,
				    "record %u: the scenario name is %zu bytes, over the %u-byte "
				    "limit",
				    rec, vlen, WL_NAME_MAX);
		w->scenario = val;
	} else if (key_is(key, klen, "cwd")) {
		if (w->cwd)
			return fail(err, -EBADMSG, "record %u: a second cwd record", rec);
		if (val[0] != '/')
			return fail(err, -EBADMSG, "record %u: cwd is not an absolute path", rec);
		w->cwd = val;
	} else if (!take_rootfs(w, key, klen, val, rec, err, &e)) {
		note_unknown(w, key, klen, rec);
	}
	return e;
}

/* The record at rec[0..n), terminated at rec[n]. */
static int parse_record(struct wl *w, char *rec, size_t n, uint32_t idx, char *err)
{
	const char *eq = memchr(rec, '=', n);
	size_t klen;

	if (!eq)
		return fail(err, -EBADMSG, "record %u has no '='", idx);
	klen = (size_t)(eq - rec);
	if (klen == 0)
		return fail(err, -EBADMSG, "record %u has an empty key", idx);
	for (size_t i = 0; i < klen; i++) {
		if (rec[i] < 'a' || rec[i] > 'z')
			return fail(err, -EBADMSG, "record %u: its key is not [a-z]+", idx);
	}
	return take_value(w, rec, klen, rec + klen + 1, n - klen - 1, idx, err);
}

int wl_parse(char *buf, size_t len, struct wl *w, char err[WL_ERR_LEN])
{
	uint32_t idx = 1;
	size_t off = 0;
	int e;

	w->argc = w->nenv = w->nunknown = w->unknown_records = w->unknown_unnamed = 0;
	w->argv[0] = w->env[0] = NULL;
	w->scenario = w->cwd = NULL;
	w->rootfs_host = w->has_uid = w->has_gid = false;
	w->nrw = w->nbind_src = w->nbind_dst = 0;
	err[0] = '\0';
	if (len > WL_FILE_MAX)
		return fail(err, -EMSGSIZE, "the file is %zu bytes, over the %u-byte limit", len,
			    WL_FILE_MAX);
	for (; off < len; idx++) {
		char *rec = buf + off, *nul = memchr(rec, '\0', len - off);

		if (!nul)
			return fail(err, -EBADMSG,
				    "record %u (the last) does not end with a NUL byte", idx);
		e = parse_record(w, rec, (size_t)(nul - rec), idx, err);
		if (e < 0)
			return e;
		off += (size_t)(nul - rec) + 1;
	}
	if (w->argc == 0)
		return fail(err, -EBADMSG, "no arg record: the workload needs at least one word");
	if (w->nbind_src != w->nbind_dst)
		return fail(err, -EBADMSG, "the last bindsrc record has no binddst");
	w->argv[w->argc] = NULL;
	w->env[w->nenv] = NULL;
	return 0;
}

/* The whole regular file in one allocation of its size. */
static int read_whole(int fd, struct wl *w, char *why)
{
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st) < 0)
		return fail(why, -errno, "cannot read: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(why, -EINVAL, "not a regular file");
	if ((uint64_t)st.st_size > WL_FILE_MAX)
		return fail(why, -EMSGSIZE, "the file is %llu bytes, over the %u-byte limit",
			    (unsigned long long)st.st_size, WL_FILE_MAX);
	w->buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!w->buf)
		return fail(why, -ENOMEM, "cannot read: %s", strerror(ENOMEM));
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, w->buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(why, -errno, "cannot read: %s", strerror(errno));
		if (n == 0)
			break; /* shrank since fstat: what is there is the file */
		got += (size_t)n;
	}
	w->len = got;
	return 0;
}

static void make_notes(struct wl *w, const char *path)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < w->nunknown; i++, n++) {
		const struct wl_unknown *u = &w->unknown[i];

		snprintf(w->note_buf[n], WL_NOTE_LEN,
			 "%s: ignoring unknown key '%.*s%s' (record %u)", path,
			 (int)(u->len < KEY_SHOWN ? u->len : KEY_SHOWN), u->key,
			 u->len > KEY_SHOWN ? "..." : "", u->record);
		w->notes[n] = w->note_buf[n];
	}
	if (w->unknown_unnamed) {
		snprintf(w->note_buf[n], WL_NOTE_LEN,
			 "%s: ignoring %u more records with other unknown keys", path,
			 w->unknown_unnamed);
		w->notes[n] = w->note_buf[n];
		n++;
	}
	w->notes[n] = NULL;
}

int wl_load(const char *path, struct wl *w, char err[WL_ERR_LEN])
{
	char why[WL_ERR_LEN];
	int fd, e;

	w->buf = NULL;
	w->len = 0;
	w->notes[0] = NULL;
	err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		e = fail(why, -errno, "cannot open: %s", strerror(errno));
	} else {
		e = read_whole(fd, w, why);
		close(fd);
	}
	if (e == 0)
		e = wl_parse(w->buf, w->len, w, why);
	if (e < 0) {
		fail(err, e, "vigil-agent: %s: %s\n", path, why);
		wl_free(w);
		return e;
	}
	make_notes(w, path);
	return 1;
}

void wl_free(struct wl *w)
{
	if (!w)
		return;
	free(w->buf);
	w->buf = NULL;
	w->len = 0;
}

/* Does an env record from index `from` on set the NAME of n bytes at name (hash h)? */
static bool file_sets(const struct wl *w, const char *name, size_t n, uint32_t h, uint32_t from)
{
	for (uint32_t i = from; i < w->nenv; i++) {
		if (w->env_name_hash[i] == h && w->env_name_len[i] == n &&
		    !memcmp(w->env[i], name, n))
			return true;
	}
	return false;
}

int wl_env_merge(const struct wl *w, char *const *base, char **out, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return -E2BIG;
	for (; base && *base; base++) {
		const char *eq = strchr(*base, '=');
		size_t nl = eq ? (size_t)(eq - *base) : strlen(*base);

		if (file_sets(w, *base, nl, name_hash(*base, nl), 0))
			continue;
		if (n + 1 >= cap)
			return -E2BIG;
		out[n++] = *base;
	}
	for (uint32_t i = 0; i < w->nenv; i++) {
		if (file_sets(w, w->env[i], w->env_name_len[i], w->env_name_hash[i], i + 1))
			continue; /* a later record sets it again */
		if (n + 1 >= cap)
			return -E2BIG;
		out[n++] = w->env[i];
	}
	out[n] = NULL;
	return (int)n;
}
