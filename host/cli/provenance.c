/* SPDX-License-Identifier: MIT */
/* provenance: the verdict's record of what ran (see provenance.h). */
#include "provenance.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "initramfs.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "unknown"
#endif

#define SHA_CACHE_MAX (64u << 10) /* the cache file is started afresh past this */

static int sha256_fd(int fd, char out[65])
{
	struct sha256_ctx ctx;
	uint8_t buf[1 << 16], dig[SHA256_DIGEST_SIZE];
	ssize_t n;

	sha256_init(&ctx);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		sha256_update(&ctx, (size_t)n, buf);
	}
	sha256_digest(&ctx, sizeof(dig), dig);
	for (size_t i = 0; i < sizeof(dig); i++)
		snprintf(out + 2 * i, 3, "%02x", dig[i]);
	return 0;
}

/* "dev ino size mtime_sec mtime_nsec" of st: the cache key. */
static void sha_key(const struct stat *st, char *buf, size_t cap)
{
	snprintf(buf, cap, "%ju %ju %jd %jd %ld", (uintmax_t)st->st_dev, (uintmax_t)st->st_ino,
		 (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

static bool sha_cache_find(const char *cache, const char *key, char out[65])
{
	char line[256];
	size_t kl = strlen(key);
	bool hit = false;
	FILE *f = fopen(cache, "re");

	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && line[kl] == ' ' && strlen(line + kl + 1) >= 64) {
			memcpy(out, line + kl + 1, 64);
			out[64] = '\0';
			hit = true;
		}
	}
	fclose(f);
	return hit;
}

static void sha_cache_put(const char *cache, const char *key, const char *hex)
{
	struct stat st;
	FILE *f;

	f = fopen(cache, stat(cache, &st) == 0 && st.st_size > SHA_CACHE_MAX ? "we" : "ae");
	if (f) {
		fprintf(f, "%s %s\n", key, hex);
		fclose(f);
	}
}

int vigil_file_sha256(const char *path, char out[65])
{
	char dir[PATH_MAX], cache[PATH_MAX + 16], key[128];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;
	bool cached = false;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	sha_key(&st, key, sizeof(key));
	if (vigil_ird_cache_dir(dir, sizeof(dir)) == 0) {
		snprintf(cache, sizeof(cache), "%s/sha256", dir);
		cached = true;
		if (sha_cache_find(cache, key, out)) {
			close(fd);
			return 0;
		}
	}
	e = sha256_fd(fd, out);
	close(fd);
	if (e == 0 && cached)
		sha_cache_put(cache, key, out);
	return e;
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static struct json_object *file_obj(const char *path, const char *hash_key, const char *hash)
{
	struct json_object *o = json_object_new_object();
	char hex[65];
	int e;

	if (!o)
		return NULL;
	add_str(o, "path", path);
	if (hash_key)
		add_str(o, hash_key, hash);
	e = path ? vigil_file_sha256(path, hex) : -ENOENT;
	add_str(o, "sha256", e == 0 ? hex : NULL);
	if (e < 0)
		add_str(o, "error", strerror(-e));
	return o;
}

static struct json_object *workload_obj(const struct vigil_provenance_in *in)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array(),
			   *env = json_object_new_array();

	for (int i = 0; i < in->argc; i++)
		json_object_array_add(a, json_object_new_string(in->argv[i]));
	for (size_t i = 0; i < in->n_env; i++) {
		const char *eq = strchr(in->env[i], '=');
		json_object_array_add(
		    env, json_object_new_string_len(in->env[i], eq ? (int)(eq - in->env[i])
								   : (int)strlen(in->env[i])));
	}
	json_object_object_add(o, "argv", a);
	json_object_object_add(o, "env", env);
	add_str(o, "scenario", in->scenario);
	return o;
}

struct json_object *vigil_provenance_new(const struct vigil_provenance_in *in)
{
	struct json_object *p = json_object_new_object(), *k;
	char rel[256];

	if (!p)
		return NULL;
	add_str(p, "vigil_version", VIGIL_VERSION);
	if (!in->kernel)
		return p; /* attach: the guest's kernel is not vigil's to know */
	k = file_obj(in->kernel, NULL, NULL);
	if (k)
		add_str(k, "release",
			vigil_kernel_release(in->kernel, rel, sizeof(rel)) == 0 ? rel : NULL);
	json_object_object_add(p, "kernel", k);
	json_object_object_add(p, "image", file_obj(in->image, "content_hash", in->image_hash));
	json_object_object_add(p, "workload", workload_obj(in));
	return p;
}
