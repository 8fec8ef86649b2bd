/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/workload.c: the workload file's format (valid files,
 * limits at 0, max and max + 1, every invalid case), loading, the
 * environment merge, and a differential test against a naive reference
 * parser on random files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rx.h"
#include "workload.h"

static struct wl W;
static char err[WL_ERR_LEN];

/* A growable file image. */
struct img {
	char *p;
	size_t len, cap;
};

static void img_put(struct img *m, const void *p, size_t n)
{
	if (m->len + n > m->cap) {
		while (m->len + n > m->cap)
			m->cap = m->cap ? m->cap * 2 : 4096;
		m->p = realloc(m->p, m->cap);
		assert_non_null(m->p);
	}
	memcpy(m->p + m->len, p, n);
	m->len += n;
}

/* One record: key=value (value of n bytes) and its NUL. */
static void img_rec(struct img *m, const char *key, const void *val, size_t n)
{
	img_put(m, key, strlen(key));
	img_put(m, "=", 1);
	img_put(m, val, n);
	img_put(m, "", 1);
}

static void img_str(struct img *m, const char *key, const char *val)
{
	img_rec(m, key, val, strlen(val));
}

static int parse_img(struct img *m)
{
	return wl_parse(m->p, m->len, &W, err);
}

static void test_valid(void **state)
{
	static char f[] = "arg=/bin/echo\0arg=hello\0env=A=1\0scenario=boot\0cwd=/srv/x\0"
			  "env=B=x=y\0";

	(void)state;
	assert_int_equal(wl_parse(f, sizeof(f) - 1, &W, err), 0);
	assert_string_equal(err, "");
	assert_int_equal(W.argc, 2);
	assert_string_equal(W.argv[0], "/bin/echo");
	assert_string_equal(W.argv[1], "hello");
	assert_null(W.argv[2]);
	assert_int_equal(W.nenv, 2);
	assert_string_equal(W.env[0], "A=1");
	assert_string_equal(W.env[1], "B=x=y"); /* the value may hold '=' */
	assert_null(W.env[2]);
	assert_string_equal(W.scenario, "boot");
	assert_string_equal(W.cwd, "/srv/x");
	assert_int_equal(W.unknown_records, 0);
	/* Pointers into the buffer: nothing copied, nothing changed. */
	assert_ptr_equal(W.argv[0], f + 4);
	assert_memory_equal(f, "arg=/bin/echo\0arg=hello\0", 24);
	/* The minimum: one arg, nothing else. */
	{
		static char one[] = "arg=true\0";

		assert_int_equal(wl_parse(one, sizeof(one) - 1, &W, err), 0);
		assert_int_equal(W.argc, 1);
		assert_int_equal(W.nenv, 0);
		assert_null(W.env[0]);
		assert_null(W.scenario);
		assert_null(W.cwd);
	}
}

/* Words reach argv byte for byte: empty, spaces, quotes, newlines, UTF-8, '=', high bytes. */
static void test_rootfs_keys(void **state)
{
	static char f[] = "arg=./t.sh\0rootfs=host\0rw=/tmp/out\0bindsrc=/srv/d\0"
			  "binddst=/data\0uid=1000\0gid=0\0";
	static const char *const bad[] = {
		"arg=x\0rootfs=yes\0", "arg=x\0rw=relative\0",
		"arg=x\0binddst=/d\0", "arg=x\0bindsrc=/a\0bindsrc=/b\0binddst=/c\0",
		"arg=x\0bindsrc=/a\0", "arg=x\0uid=-1\0",
		"arg=x\0uid= 7\0",     "arg=x\0gid=4294967295\0",
		"arg=x\0uid=\0",       "arg=x\0gid=99999999999999999999\0",
	};

	(void)state;
	assert_int_equal(wl_parse(f, sizeof(f) - 1, &W, err), 0);
	assert_true(W.rootfs_host);
	assert_int_equal(W.nrw, 1);
	assert_string_equal(W.rw[0], "/tmp/out");
	assert_int_equal(W.nbind_src, 1);
	assert_string_equal(W.bind_src[0], "/srv/d");
	assert_string_equal(W.bind_dst[0], "/data");
	assert_true(W.has_uid && W.has_gid);
	assert_int_equal(W.uid, 1000);
	assert_int_equal(W.gid, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char b[128];
		size_t n = 0;

		/* the cases hold NULs: their length is up to the double NUL */
		while (bad[i][n] || bad[i][n + 1])
			n++;
		memcpy(b, bad[i], n + 1);
		if (wl_parse(b, n + 1, &W, err) != -EBADMSG)
			fail_msg("case %zu was accepted", i);
		assert_true(err[0] != '\0');
	}
}

static void test_words_byte_exact(void **state)
{
	static const char *const words[] = {
		"",
		"two words",
		"  lead and trail  ",
		"\"double\" 'single' `back`",
		"line1\nline2\r\n",
		"tab\there",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		"a=b=c",
		"\xff\xfe\x01\x7f",
		"$HOME ; rm -rf / # not a shell",
		"--",
		"\\",
	};
	struct img m = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		img_str(&m, "arg", words[i]);
	img_str(&m, "env", "SPACE=a b\nc");
	img_str(&m, "scenario", "name with spaces and \xc3\xa9");
	img_str(&m, "cwd", "/dir with space/\xc3\xa9");
	assert_int_equal(parse_img(&m), 0);
	assert_int_equal(W.argc, sizeof(words) / sizeof(words[0]));
	for (size_t i = 0; i < W.argc; i++) {
		assert_int_equal(strlen(W.argv[i]), strlen(words[i]));
		assert_memory_equal(W.argv[i], words[i], strlen(words[i]) + 1);
	}
	assert_string_equal(W.env[0], "SPACE=a b\nc");
	assert_string_equal(W.scenario, "name with spaces and \xc3\xa9");
	assert_string_equal(W.cwd, "/dir with space/\xc3\xa9");
	free(m.p);
}

static void many_args(uint32_t n, int want)
{
	struct img m = { 0 };
	char word[32];

	for (uint32_t i = 0; i < n; i++) {
		snprintf(word, sizeof(word), "w%u", i);
		img_str(&m, "arg", word);
	}
	assert_int_equal(parse_img(&m), want);
	if (want == 0) {
		assert_int_equal(W.argc, n);
		assert_null(W.argv[n]);
		for (uint32_t i = 0; i < n; i++) {
			snprintf(word, sizeof(word), "w%u", i);
			assert_string_equal(W.argv[i], word);
		}
	} else {
		snprintf(word, sizeof(word), "record %u:", n);
		assert_non_null(strstr(err, word));
	}
	free(m.p);
}

static void test_args_1000_65536(void **state)
{
	(void)state;
	many_args(1000, 0);
	many_args(WL_MAX_ARGS, 0);
	many_args(WL_MAX_ARGS + 1, -EMSGSIZE);
}

static void many_env(uint32_t n, int want)
{
	struct img m = { 0 };
	char var[32];

	img_str(&m, "arg", "env");
	for (uint32_t i = 0; i < n; i++) {
		snprintf(var, sizeof(var), "V%u=%u", i, i);
		img_str(&m, "env", var);
	}
	assert_int_equal(parse_img(&m), want);
	if (want == 0) {
		assert_int_equal(W.nenv, n);
		assert_null(W.env[n]);
		assert_string_equal(W.env[n - 1], var);
	} else {
		assert_non_null(strstr(err, "more than 4096 env records"));
	}
	free(m.p);
}

static void test_env_limit(void **state)
{
	(void)state;
	many_env(1, 0);
	many_env(WL_MAX_ENV, 0);
	many_env(WL_MAX_ENV + 1, -EMSGSIZE);
}

static void test_scenario_limit(void **state)
{
	struct img m = { 0 };
	char *name = malloc(WL_NAME_MAX + 1);

	(void)state;
	memset(name, 's', WL_NAME_MAX + 1);
	img_str(&m, "arg", "x");
	img_rec(&m, "scenario", name, WL_NAME_MAX);
	assert_int_equal(parse_img(&m), 0);
	assert_int_equal(strlen(W.scenario), WL_NAME_MAX);
	m.len = 0;
	img_str(&m, "arg", "x");
	img_rec(&m, "scenario", name, WL_NAME_MAX + 1);
	assert_int_equal(parse_img(&m), -EMSGSIZE);
	assert_string_equal(err,
			    "record 2: the scenario name is 4097 bytes, over the 4096-byte limit");
	free(name);
	free(m.p);
}

static void test_file_size_limit(void **state)
{
	char *big = malloc(WL_FILE_MAX + 1);

	(void)state;
	/* Exactly the limit: one word of WL_FILE_MAX - 5 bytes. */
	memcpy(big, "arg=", 4);
	memset(big + 4, 'w', WL_FILE_MAX - 5);
	big[WL_FILE_MAX - 1] = '\0';
	assert_int_equal(wl_parse(big, WL_FILE_MAX, &W, err), 0);
	assert_int_equal(strlen(W.argv[0]), WL_FILE_MAX - 5);
	big[WL_FILE_MAX] = '\0';
	assert_int_equal(wl_parse(big, WL_FILE_MAX + 1, &W, err), -EMSGSIZE);
	assert_string_equal(err, "the file is 4194305 bytes, over the 4194304-byte limit");
	free(big);
}

static const struct bad {
	const char *bytes;
	size_t len;
	int e;
	const char *msg;
} bad[] = {
#define B(s) s, sizeof(s) - 1
	{ B(""), -EBADMSG, "no arg record: the workload needs at least one word" },
	{ B("env=A=1\0scenario=s\0cwd=/\0"), -EBADMSG,
	  "no arg record: the workload needs at least one word" },
	{ B("\0"), -EBADMSG, "record 1 has no '='" },
	{ B("arg\0"), -EBADMSG, "record 1 has no '='" },
	{ B("arg=a\0arg=b\0argc\0"), -EBADMSG, "record 3 has no '='" },
	{ B("arg=a\0\0"), -EBADMSG, "record 2 has no '='" },
	{ B("=a\0"), -EBADMSG, "record 1 has an empty key" },
	{ B("Arg=a\0"), -EBADMSG, "record 1: its key is not [a-z]+" },
	{ B("arg=a\0ar-g=b\0"), -EBADMSG, "record 2: its key is not [a-z]+" },
	{ B("arg1=a\0"), -EBADMSG, "record 1: its key is not [a-z]+" },
	{ B("a rg=a\0"), -EBADMSG, "record 1: its key is not [a-z]+" },
	{ B("\xc3\xa9=a\0"), -EBADMSG, "record 1: its key is not [a-z]+" },
	{ B("arg=a"), -EBADMSG, "record 1 (the last) does not end with a NUL byte" },
	{ B("arg=a\0arg=b"), -EBADMSG, "record 2 (the last) does not end with a NUL byte" },
	{ B("arg=a\0x"), -EBADMSG, "record 2 (the last) does not end with a NUL byte" },
	{ B("arg=a\0env=NOEQ\0"), -EBADMSG,
	  "record 2: env needs NAME=VALUE with a non-empty NAME" },
	{ B("arg=a\0env==v\0"), -EBADMSG, "record 2: env needs NAME=VALUE with a non-empty NAME" },
	{ B("arg=a\0env=\0"), -EBADMSG, "record 2: env needs NAME=VALUE with a non-empty NAME" },
	{ B("scenario=a\0arg=x\0scenario=a\0"), -EBADMSG, "record 3: a second scenario record" },
	{ B("arg=x\0scenario=\0"), -EBADMSG, "record 2: the scenario name is empty" },
	{ B("cwd=/a\0cwd=/a\0arg=x\0"), -EBADMSG, "record 2: a second cwd record" },
	{ B("arg=x\0cwd=rel/dir\0"), -EBADMSG, "record 2: cwd is not an absolute path" },
	{ B("arg=x\0cwd=\0"), -EBADMSG, "record 2: cwd is not an absolute path" },
#undef B
};

static void test_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *copy = malloc(bad[i].len + 1); /* exact size: ASan sees an overread */

		memcpy(copy, bad[i].bytes, bad[i].len);
		if (wl_parse(copy, bad[i].len, &W, err) != bad[i].e || strcmp(err, bad[i].msg))
			fail_msg("vector %zu: got \"%s\", want \"%s\"", i, err, bad[i].msg);
		free(copy);
	}
}

static void test_unknown_keys(void **state)
{
	static char f[] = "future=1\0arg=a\0future=2\0other=z\0arg=b\0";

	(void)state;
	assert_int_equal(wl_parse(f, sizeof(f) - 1, &W, err), 0);
	assert_int_equal(W.argc, 2);
	assert_string_equal(W.argv[1], "b");
	assert_int_equal(W.nunknown, 2);
	assert_int_equal(W.unknown_records, 3);
	assert_int_equal(W.unknown_unnamed, 0);
	assert_int_equal(W.unknown[0].len, 6);
	assert_memory_equal(W.unknown[0].key, "future", 6);
	assert_int_equal(W.unknown[0].record, 1);
	assert_memory_equal(W.unknown[1].key, "other", 5);
	assert_int_equal(W.unknown[1].record, 4);
}

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void test_load(void **state)
{
	char dir[64], path[128], want[256], cmd[160];
	struct img m = { 0 };

	(void)state;
	assert_non_null(mkdtemp(tmp_template(dir, sizeof(dir), "/tmp/vigil-wl-")));
	snprintf(path, sizeof(path), "%s/workload", dir);
	/* Absent: the command line applies. */
	assert_int_equal(wl_load(path, &W, err), 0);
	assert_null(W.buf);
	/* Valid, with unknown keys: one note per key, and one for the keys past the table. */
	img_str(&m, "arg", "/bin/true");
	for (char k = 'a'; k < 'a' + (char)WL_UNKNOWN_MAX + 2; k++) {
		char key[] = { 'k', k, '\0' };

		img_str(&m, key, "v");
		img_str(&m, key, "again");
	}
	write_file(path, m.p, m.len);
	assert_int_equal(wl_load(path, &W, err), 1);
	assert_string_equal(W.argv[0], "/bin/true");
	snprintf(want, sizeof(want), "%s: ignoring unknown key 'ka' (record 2)", path);
	assert_string_equal(W.notes[0], want);
	snprintf(want, sizeof(want), "%s: ignoring unknown key 'kh' (record 16)", path);
	assert_string_equal(W.notes[WL_UNKNOWN_MAX - 1], want);
	snprintf(want, sizeof(want), "%s: ignoring 4 more records with other unknown keys", path);
	assert_string_equal(W.notes[WL_UNKNOWN_MAX], want);
	assert_null(W.notes[WL_UNKNOWN_MAX + 1]);
	wl_free(&W);
	assert_null(W.buf);
	/* Invalid: the whole message for the workload's stderr. */
	write_file(path, "arg=a\0arg=b\0argc\0", 17);
	assert_int_equal(wl_load(path, &W, err), -EBADMSG);
	snprintf(want, sizeof(want), "vigil-agent: %s: record 3 has no '='\n", path);
	assert_string_equal(err, want);
	assert_null(W.buf);
	/* Over the size limit: refused before it is read. */
	assert_int_equal(truncate(path, WL_FILE_MAX + 1), 0);
	assert_int_equal(wl_load(path, &W, err), -EMSGSIZE);
	snprintf(want, sizeof(want),
		 "vigil-agent: %s: the file is 4194305 bytes, over the 4194304-byte limit\n", path);
	assert_string_equal(err, want);
	/* Empty file: no arg. */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(wl_load(path, &W, err), -EBADMSG);
	/* Unreadable (not a file): reported, not taken for "absent". */
	unlink(path);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(wl_load(path, &W, err), -EINVAL);
	snprintf(want, sizeof(want), "vigil-agent: %s: not a regular file\n", path);
	assert_string_equal(err, want);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(m.p);
}

static void test_env_merge(void **state)
{
	static char f[] = "arg=x\0env=HOME=/w\0env=NEW=1\0env=HOME=/w2\0env=PATH=/opt\0";
	char *base[] = { "PATH=/bin", "HOME=/root", "VIGIL_GUEST=1", "HOMEX=kept", "ODD", NULL };
	char *out[16];

	(void)state;
	assert_int_equal(wl_parse(f, sizeof(f) - 1, &W, err), 0);
	assert_int_equal(wl_env_merge(&W, base, out, 16), 6);
	assert_string_equal(out[0], "VIGIL_GUEST=1");
	assert_string_equal(out[1], "HOMEX=kept"); /* a longer name is another name */
	assert_string_equal(out[2], "ODD");
	assert_string_equal(out[3], "NEW=1");
	assert_string_equal(out[4], "HOME=/w2"); /* the last of a name wins */
	assert_string_equal(out[5], "PATH=/opt");
	assert_null(out[6]);
	assert_int_equal(wl_env_merge(&W, base, out, 7), 6);
	assert_null(out[6]);
	assert_int_equal(wl_env_merge(&W, base, out, 6), -E2BIG);
	assert_int_equal(wl_env_merge(&W, base, out, 0), -E2BIG);
	assert_int_equal(wl_env_merge(&W, NULL, out, 16), 3);
}

/* ---- differential: a naive reference on random files --------------------- */

#define REF_MAX 64

struct ref {
	int e;
	size_t argc, nenv;
	const char *argv[REF_MAX], *env[REF_MAX];
	const char *scenario, *cwd;
	const char *rw[REF_MAX], *bsrc[REF_MAX], *bdst[REF_MAX];
	size_t nrw, nsrc, ndst;
	bool host, has_uid, has_gid;
	uint32_t uid, gid;
};

/* uid=, gid=: decimal digits only, at most 4294967294. */
static bool ref_id(const char *v, uint32_t *out)
{
	unsigned long long n = 0;
	size_t len = strlen(v);

	if (len == 0 || len > 10 || strspn(v, "0123456789") != len)
		return false;
	n = strtoull(v, NULL, 10);
	*out = (uint32_t)n;
	return n <= 4294967294ull;
}

/* The --rootfs host keys; false when k is not one of them. */
static bool ref_rootfs(const char *r, size_t k, struct ref *o)
{
	const char *v = r + k + 1;

	if (k == 6 && !strncmp(r, "rootfs", 6)) {
		o->e = strcmp(v, "host") && strcmp(v, "image") ? -EBADMSG : 0;
		o->host = !strcmp(v, "host");
	} else if (k == 2 && !strncmp(r, "rw", 2)) {
		o->e = v[0] != '/' ? -EBADMSG : 0;
		o->rw[o->nrw++] = v;
	} else if (k == 7 && !strncmp(r, "bindsrc", 7)) {
		o->e = v[0] != '/' || o->nsrc != o->ndst ? -EBADMSG : 0;
		o->bsrc[o->nsrc++] = v;
	} else if (k == 7 && !strncmp(r, "binddst", 7)) {
		o->e = v[0] != '/' || o->nsrc != o->ndst + 1 ? -EBADMSG : 0;
		o->bdst[o->ndst++] = v;
	} else if (k == 3 && !strncmp(r, "uid", 3)) {
		o->has_uid = ref_id(v, &o->uid);
		o->e = o->has_uid ? 0 : -EBADMSG;
	} else if (k == 3 && !strncmp(r, "gid", 3)) {
		o->has_gid = ref_id(v, &o->gid);
		o->e = o->has_gid ? 0 : -EBADMSG;
	} else {
		return false;
	}
	return true;
}

/* The format, written the obvious way: split into records, then judge each. */
static void ref_record(const char *r, size_t n, struct ref *o)
{
	size_t k = 0;

	while (k < n && r[k] != '=')
		k++;
	if (k == n || k == 0) {
		o->e = -EBADMSG;
		return;
	}
	for (size_t i = 0; i < k; i++) {
		if (!(r[i] >= 'a' && r[i] <= 'z'))
			o->e = -EBADMSG;
	}
	if (o->e)
		return;
	if (k == 3 && !strncmp(r, "arg", 3)) {
		o->argv[o->argc++] = r + 4;
	} else if (k == 3 && !strncmp(r, "env", 3)) {
		const char *v = r + 4, *eq = strchr(v, '=');

		if (!eq || eq == v)
			o->e = -EBADMSG;
		else
			o->env[o->nenv++] = v;
	} else if (k == 8 && !strncmp(r, "scenario", 8)) {
		o->e = o->scenario || !r[9] ? -EBADMSG : 0;
		o->scenario = r + 9;
	} else if (k == 3 && !strncmp(r, "cwd", 3)) {
		o->e = o->cwd || r[4] != '/' ? -EBADMSG : 0;
		o->cwd = r + 4;
	} else {
		ref_rootfs(r, k, o);
	}
}

static void ref_parse(const char *b, size_t len, struct ref *o)
{
	size_t start = 0;

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < len && !o->e; i++) {
		if (b[i] != '\0')
			continue;
		ref_record(b + start, i - start, o);
		start = i + 1;
	}
	if (!o->e && start != len)
		o->e = -EBADMSG; /* bytes after the last NUL */
	if (!o->e && o->argc == 0)
		o->e = -EBADMSG;
	if (!o->e && o->nsrc != o->ndst)
		o->e = -EBADMSG;
}

static uint32_t rnd(uint32_t *seed, uint32_t n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) % n;
}

/*
 * A random file of up to 12 records: mostly well formed (so valid files
 * come up), with every way to break one mixed in: keys that are not
 * [a-z]+, no '=', env without NAME, a relative cwd, repeats, no last NUL.
 */
static size_t random_file(char *buf, uint32_t *seed)
{
	static const char *const key[] = { "arg",     "arg",      "arg",  "arg",    "arg",
					   "env",     "scenario", "cwd",  "zz",     "",
					   "A",       "a-b",      "argv", "rootfs", "rw",
					   "bindsrc", "binddst",  "uid",  "gid" };
	static const char *const val[] = { "x", "=",  "/",    "A=1", "",  "host",
					   " ", "\n", "\xc3", "/d",  "7", "4294967294" };
	size_t len = 0, nrec = rnd(seed, 12);

	for (size_t r = 0; r < nrec; r++) {
		const char *k = key[rnd(seed, sizeof(key) / sizeof(key[0]))];
		size_t nval = rnd(seed, 4);

		memcpy(buf + len, k, strlen(k));
		len += strlen(k);
		if (rnd(seed, 16))
			buf[len++] = '=';
		for (size_t v = 0; v < nval; v++) {
			const char *s = val[rnd(seed, sizeof(val) / sizeof(val[0]))];

			memcpy(buf + len, s, strlen(s));
			len += strlen(s);
		}
		if (r + 1 < nrec || rnd(seed, 16))
			buf[len++] = '\0';
	}
	return len;
}

static void test_differential(void **state)
{
	struct ref ref;
	char buf[512];
	uint32_t seed = 12345;
	int valid = 0, rootfs_seen = 0;

	(void)state;
	for (int iter = 0; iter < 100000; iter++) {
		size_t len = random_file(buf, &seed);

		ref_parse(buf, len, &ref);
		if (wl_parse(buf, len, &W, err) != ref.e)
			fail_msg("iteration %d: parsers disagree (ref %d, err \"%s\")", iter, ref.e,
				 err);
		if (ref.e)
			continue;
		valid++;
		assert_int_equal(W.argc, ref.argc);
		assert_int_equal(W.nenv, ref.nenv);
		for (size_t i = 0; i < ref.argc; i++)
			assert_ptr_equal(W.argv[i], ref.argv[i]);
		for (size_t i = 0; i < ref.nenv; i++)
			assert_ptr_equal(W.env[i], ref.env[i]);
		assert_ptr_equal(W.scenario, ref.scenario);
		assert_ptr_equal(W.cwd, ref.cwd);
		assert_int_equal(W.rootfs_host, ref.host);
		assert_int_equal(W.nrw, ref.nrw);
		assert_int_equal(W.nbind_src, ref.nsrc);
		for (size_t i = 0; i < ref.nrw; i++)
			assert_ptr_equal(W.rw[i], ref.rw[i]);
		for (size_t i = 0; i < ref.nsrc; i++) {
			assert_ptr_equal(W.bind_src[i], ref.bsrc[i]);
			assert_ptr_equal(W.bind_dst[i], ref.bdst[i]);
		}
		assert_int_equal(W.has_uid, ref.has_uid);
		assert_int_equal(W.has_gid, ref.has_gid);
		if (ref.has_uid)
			assert_int_equal(W.uid, ref.uid);
		if (ref.has_gid)
			assert_int_equal(W.gid, ref.gid);
		rootfs_seen += ref.host || ref.nrw || ref.nsrc || ref.has_uid || ref.has_gid;
	}
	/* Both outcomes are well represented. */
	assert_true(valid > 2000);
	assert_true(valid < 96000);
	assert_true(rootfs_seen > 100); /* the rootfs keys come up in valid files too */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_rootfs_keys),
		cmocka_unit_test(test_words_byte_exact),
		cmocka_unit_test(test_args_1000_65536),
		cmocka_unit_test(test_env_limit),
		cmocka_unit_test(test_scenario_limit),
		cmocka_unit_test(test_file_size_limit),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_env_merge),
		cmocka_unit_test(test_differential),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
