/* SPDX-License-Identifier: MIT */
/*
 * initramfs: plan, hash, cache and write the guest image (see initramfs.h).
 * The plan is built first and hashed without writing anything, so a cache
 * hit costs one read of each source file.
 */
#include "initramfs.h"
#include "ktree.h"
#include "vmlinux.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpio.h"
#include "elfdeps.h"
#include "paths.h"

#define IRD_FORMAT      "vigil-initramfs-1"
#define IRD_DECOMP_MAX  (256u << 20) /* a decompressed module, bytes */
#define IRD_ADD_DEPTH   32
#define IRD_APPLETS_MAX (64u << 10) /* bytes of `busybox --list-full` output */

extern char **environ;

enum ird_kind { IRD_DIR, IRD_FILE, IRD_SYMLINK, IRD_CHR, IRD_DATA };
enum ird_decomp { IRD_RAW, IRD_XZ, IRD_ZSTD, IRD_GZIP };

struct ird_entry {
	char *dst; /* relative to the root, normalized */
	enum ird_kind kind;
	mode_t perm;
	char *src;  /* IRD_FILE host path, IRD_SYMLINK target */
	char *data; /* IRD_DATA bytes */
	size_t len;
	enum ird_decomp decomp;
	unsigned major, minor;
	bool dead; /* replaced by a later entry with the same dst */
};

struct ird_plan {
	struct ird_entry *e;
	size_t n, cap;
	struct vigil_ird_result *res;
};

static int ird_fail(struct ird_plan *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ird_fail(struct ird_plan *p, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->res->detail, sizeof(p->res->detail), fmt, ap);
	va_end(ap);
	return err;
}

/* ---- 128-bit content hash ------------------------------------------------
 * Two independent 64-bit multiply-rotate lanes over 8-byte words. A cache
 * key, not a security boundary: the cache lives in the user's own home. */

struct ird_hash {
	uint64_t a, b;
	uint64_t n;
	uint8_t tail[8];
	size_t tail_len;
};

static uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static void hash_init(struct ird_hash *h)
{
	h->a = 0x9E3779B97F4A7C15ull;
	h->b = 0xC2B2AE3D27D4EB4Full;
	h->n = 0;
	h->tail_len = 0;
}

static void hash_word(struct ird_hash *h, uint64_t w)
{
	h->a = rotl64((h->a ^ w) * 0x87C37B91114253D5ull, 31);
	h->b = rotl64((h->b + w) * 0x4CF5AD432745937Full, 27) ^ h->a;
}

static void hash_update(struct ird_hash *h, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	h->n += len;
	while (len > 0 && (h->tail_len > 0 || len < 8)) {
		h->tail[h->tail_len++] = *p++;
		len--;
		if (h->tail_len == 8) {
			uint64_t w;
			memcpy(&w, h->tail, 8);
			hash_word(h, w);
			h->tail_len = 0;
		}
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		hash_word(h, w);
		p += 8;
		len -= 8;
	}
	for (; len > 0; len--)
		h->tail[h->tail_len++] = *p++;
}

/* Length-prefixed, so ("ab","c") and ("a","bc") differ. */
static void hash_str(struct ird_hash *h, const char *s)
{
	uint64_t len = s ? strlen(s) : UINT64_MAX;

	hash_update(h, &len, sizeof(len));
	if (s)
		hash_update(h, s, strlen(s));
}

static void hash_final(struct ird_hash *h, char out[33])
{
	uint64_t w = 0, a, b;

	memcpy(&w, h->tail, h->tail_len);
	hash_word(h, w ^ ((uint64_t)h->tail_len << 56));
	hash_word(h, h->n);
	a = h->a ^ (h->b >> 29);
	a *= 0xFF51AFD7ED558CCDull;
	a ^= a >> 32;
	b = h->b ^ (h->a >> 31);
	b *= 0xC4CEB9FE1A85EC53ull;
	b ^= b >> 33;
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

static int hash_file(struct ird_hash *h, const char *path)
{
	uint8_t buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return (int)n;
		}
		hash_update(h, buf, (size_t)n);
	}
	close(fd);
	return 0;
}

/* ---- the plan ---------------------------------------------------------- */

/* "/usr//bin/./x" -> "usr/bin/x"; NULL for "", "/" or any ".." component. */
static char *norm_path(const char *in)
{
	const char *p = in, *s;
	char *out = malloc(strlen(in) + 1);
	size_t o = 0, l;

	if (!out)
		return NULL;
	while ((s = vigil_path_next(&p, &l))) {
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			free(out);
			return NULL;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, l);
		o += l;
	}
	out[o] = '\0';
	if (o == 0) {
		free(out);
		return NULL;
	}
	return out;
}

static void entry_free(struct ird_entry *e)
{
	free(e->dst);
	free(e->src);
	free(e->data);
}

static void plan_free(struct ird_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		entry_free(&p->e[i]);
	free(p->e);
	p->e = NULL;
	p->n = p->cap = 0;
}

/* Takes ownership of src and data, also on failure. */
static int plan_add(struct ird_plan *p, const char *dst, enum ird_kind kind, mode_t perm, char *src,
		    char *data, size_t len)
{
	struct ird_entry *e;
	char *nd = norm_path(dst);

	if (!nd) {
		free(src);
		free(data);
		return ird_fail(p, -EINVAL, "bad guest path '%s'", dst);
	}
	for (size_t i = 0; i < p->n; i++)
		if (!p->e[i].dead && strcmp(p->e[i].dst, nd) == 0)
			p->e[i].dead = true;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		struct ird_entry *ne;
		if (p->n >= VIGIL_IRD_MAX_ENTRIES) {
			free(nd);
			free(src);
			free(data);
			return ird_fail(p, -E2BIG, "more than %d entries in the image",
					VIGIL_IRD_MAX_ENTRIES);
		}
		ne = realloc(p->e, cap * sizeof(*ne));
		if (!ne) {
			free(nd);
			free(src);
			free(data);
			return -ENOMEM;
		}
		p->e = ne;
		p->cap = cap;
	}
	e = &p->e[p->n++];
	memset(e, 0, sizeof(*e));
	e->dst = nd;
	e->kind = kind;
	e->perm = perm;
	e->src = src;
	e->data = data;
	e->len = len;
	return 0;
}

static int plan_file(struct ird_plan *p, const char *dst, const char *src, mode_t perm)
{
	char *s = strdup(src);

	if (!s)
		return -ENOMEM;
	return plan_add(p, dst, IRD_FILE, perm, s, NULL, 0);
}

static int plan_symlink(struct ird_plan *p, const char *dst, const char *target)
{
	char *s = strdup(target);

	if (!s)
		return -ENOMEM;
	return plan_add(p, dst, IRD_SYMLINK, 0777, s, NULL, 0);
}

static int plan_text(struct ird_plan *p, const char *dst, const char *text, size_t len)
{
	char *d = malloc(len ? len : 1);

	if (!d)
		return -ENOMEM;
	memcpy(d, text, len);
	return plan_add(p, dst, IRD_DATA, 0644, NULL, d, len);
}

static int plan_chr(struct ird_plan *p, const char *dst, mode_t perm, unsigned ma, unsigned mi)
{
	int r = plan_add(p, dst, IRD_CHR, perm, NULL, NULL, 0);

	if (r == 0) {
		p->e[p->n - 1].major = ma;
		p->e[p->n - 1].minor = mi;
	}
	return r;
}

/* ---- running a helper program ------------------------------------------ */

/* Run argv with stdout captured into a malloc'd buffer of at most max bytes. */
static int run_capture(char *const argv[], size_t max, char **out, size_t *out_len)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], status, r = 0;
	size_t len = 0, cap = 65536;
	char *buf;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return -r;
	}
	buf = malloc(cap);
	while (buf) {
		ssize_t n;
		if (len == cap) {
			char *nb = cap * 2 <= max + 1 ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				r = -EFBIG;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(pipefd[0], buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (!buf)
		r = -ENOMEM;
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		r = -EIO;
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/* ---- building the plan ------------------------------------------------- */

static const char *const ird_dirs[] = {
	"bin",  "sbin", "usr/bin", "usr/sbin", "lib",  "etc/vigil", "dev",
	"proc", "sys",  "tmp",     "run",      "root", "var/tmp",   "mnt",
};

static int plan_busybox(struct ird_plan *p, const char *busybox)
{
	char *argv[] = { (char *)busybox, (char *)"--list-full", NULL };
	char *out, *line;
	size_t len;
	int r;

	r = run_capture(argv, IRD_APPLETS_MAX, &out, &len);
	if (r < 0)
		return ird_fail(p, r, "cannot list the applets of %s (%s)", busybox, strerror(-r));
	r = plan_file(p, "bin/busybox", busybox, 0755);
	for (line = out; r == 0 && line < out + len;) {
		char *nl = memchr(line, '\n', (size_t)(out + len - line));
		size_t l = nl ? (size_t)(nl - line) : (size_t)(out + len - line);
		char name[PATH_MAX];
		if (l > 0 && l < sizeof(name)) {
			memcpy(name, line, l);
			name[l] = '\0';
			/* /init and /linuxrc belong to vigil; busybox's own
			 * path is the file itself. modprobe goes to /usr/sbin:
			 * the kernel runs /sbin/modprobe for each request_module
			 * of its own boot (crypto templates, none of which the
			 * image carries: about 0.1-0.3 s of busybox under TCG),
			 * before /init; the agent points autoloading at
			 * /usr/sbin/modprobe once the root is final. */
			if (strcmp(name, "sbin/modprobe") == 0)
				snprintf(name, sizeof(name), "usr/sbin/modprobe");
			if (strcmp(name, "linuxrc") != 0 && strcmp(name, "bin/busybox") != 0 &&
			    strcmp(name, "init") != 0)
				r = plan_symlink(p, name, "/bin/busybox");
		}
		line = nl ? nl + 1 : out + len;
	}
	free(out);
	return r;
}

static enum ird_decomp mod_decomp(const char *rel)
{
	size_t l = strlen(rel);

	if (l > 3 && strcmp(rel + l - 3, ".xz") == 0)
		return IRD_XZ;
	if (l > 4 && strcmp(rel + l - 4, ".zst") == 0)
		return IRD_ZSTD;
	if (l > 3 && strcmp(rel + l - 3, ".gz") == 0)
		return IRD_GZIP;
	return IRD_RAW;
}

/* "kernel/x.ko.xz" -> "kernel/x.ko" (in place, returns s). */
static char *mod_strip(char *s)
{
	char *ko = strstr(s, ".ko");

	if (ko)
		ko[3] = '\0';
	return s;
}

static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t l = strlen(s);

	if (*len + l + 1 > *cap) {
		size_t nc = (*cap ? *cap : 1024);
		char *nb;
		while (nc < *len + l + 1)
			nc *= 2;
		nb = realloc(*buf, nc);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, l + 1);
	*len += l;
	return 0;
}

/*
 * One module's line in the image's modules.dep (its graph, decompressed
 * names) and in the load list (docs/agent.md): "PATH: DEP..." loads beside
 * others once its dependencies are in, and ends in "@pci" when the module
 * serves PCI devices alone (the agent skips it on a guest without any); a
 * module with softdeps stays a bare PATH, a barrier that keeps modprobe's
 * order around it.
 */
static int mod_lines(const char *gdir, const char *dst, const char *rel, const char *deps,
		     bool barrier, bool pci, char **dep, size_t *dl, size_t *dc, char **order,
		     size_t *ol, size_t *oc)
{
	char line[2 * PATH_MAX + 8];
	int r;

	snprintf(line, sizeof(line), "/%s%s", dst, barrier ? "" : ":");
	r = append(order, ol, oc, line);
	if (r == 0)
		r = append(dep, dl, dc, rel);
	if (r == 0)
		r = append(dep, dl, dc, ":");
	for (const char *d = deps; r == 0 && *d;) {
		char word[PATH_MAX];
		size_t wl = strcspn(d, " \t");

		if (wl > 0 && wl < sizeof(word)) {
			memcpy(word, d, wl);
			word[wl] = '\0';
			mod_strip(word);
			snprintf(line, sizeof(line), " %s", word);
			r = append(dep, dl, dc, line);
			snprintf(line, sizeof(line), " /%s/%s", gdir, word);
			if (r == 0 && !barrier)
				r = append(order, ol, oc, line);
		}
		d += wl;
		d += strspn(d, " \t");
	}
	if (r == 0)
		r = append(dep, dl, dc, "\n");
	if (r == 0 && pci && !barrier)
		r = append(order, ol, oc, " @pci");
	if (r == 0)
		r = append(order, ol, oc, "\n");
	return r;
}

static int plan_modules(struct ird_plan *p, const struct vigil_ird_opts *o)
{
	struct vigil_kmods km;
	char *dep = NULL, *order = NULL, release[256], gdir[512];
	size_t dl = 0, dc = 0, ol = 0, oc = 0;
	const char *base;
	int r;

	base = strrchr(o->modules_dir, '/');
	base = base && base[1] ? base + 1 : o->modules_dir;
	snprintf(release, sizeof(release), "%s", base);
	snprintf(gdir, sizeof(gdir), "lib/modules/%s", release);
	r = vigil_kmod_resolve(o->modules_dir, o->mods, o->n_mods, &km);
	if (r == -ENOENT && km.missing[0])
		r = ird_fail(
		    p, r,
		    "kernel module %s is neither built into the kernel nor in %s "
		    "(build the kernel with %s=y or =m, or use one that has it, such as "
		    "Debian's linux-image-cloud-amd64)%s",
		    km.missing, o->modules_dir,
		    vigil_module_config(km.missing) ? vigil_module_config(km.missing) : "it",
		    km.staged ? "; the directory had no modules.dep.bin, so depmod indexed "
				"a copy, leaving out what it cannot read (Debian's depmod "
				"reads no .ko.gz): copy the tree's modules.*.bin too"
			      : "");
	else if (r < 0)
		r = ird_fail(p, r, "cannot resolve modules in %s: %s", o->modules_dir,
			     km.detail[0] ? km.detail : strerror(-r));
	for (size_t i = 0; r == 0 && i < km.n; i++) {
		char src[PATH_MAX], dst[PATH_MAX];
		char *rel = strdup(km.rel[i]);
		enum ird_decomp dc_kind = mod_decomp(km.rel[i]);

		if (!rel) {
			r = -ENOMEM;
			break;
		}
		snprintf(src, sizeof(src), "%s/%s", o->modules_dir, km.rel[i]);
		snprintf(dst, sizeof(dst), "%s/%s", gdir, mod_strip(rel));
		r = plan_file(p, dst, src, 0644);
		if (r == 0)
			p->e[p->n - 1].decomp = dc_kind;
		if (r == 0)
			r = mod_lines(gdir, dst, rel, km.deps[i], km.softdeps[i], km.pci[i], &dep,
				      &dl, &dc, &order, &ol, &oc);
		free(rel);
	}
	if (r == 0) {
		char dpath[PATH_MAX];
		snprintf(dpath, sizeof(dpath), "%s/modules.dep", gdir);
		r = plan_text(p, dpath, dep ? dep : "", dl);
		if (r == 0)
			r = plan_text(p, "etc/vigil/modules", order ? order : "", ol);
		p->res->modules = km.n;
	}
	free(dep);
	free(order);
	vigil_kmods_free(&km);
	return r;
}

static int plan_exes(struct ird_plan *p, const struct vigil_ird_opts *o)
{
	struct vigil_libdirs dirs;
	bool need_cache = false;
	int r;

	r = vigil_libdirs_system(o->ld_conf, &dirs);
	if (r < 0)
		return ird_fail(p, r, "cannot read %s (%s)", o->ld_conf, strerror(-r));
	for (size_t i = 0; r == 0 && i < o->n_exes; i++) {
		struct vigil_elf_closure c;
		r = vigil_elf_closure(o->exes[i], &dirs, &c);
		if (r == -ENOENT && c.missing[0])
			r = ird_fail(p, r, "%s needs %s, which is not in the loader's search path",
				     o->exes[i], c.missing);
		else if (r < 0)
			r = ird_fail(p, r, "cannot read the ELF headers of %s (%s)", o->exes[i],
				     strerror(-r));
		for (size_t j = 0; r == 0 && j < c.n; j++)
			r = plan_file(p, c.file[j], c.file[j], 0755);
		need_cache |= r == 0 && !c.is_static;
		vigil_elf_closure_free(&c);
	}
	vigil_libdirs_free(&dirs);
	/* Libraries found through ld.so.conf outside the default directories
	 * are only found again through the cache. */
	if (r == 0 && need_cache && access("/etc/ld.so.cache", R_OK) == 0)
		r = plan_file(p, "etc/ld.so.cache", "/etc/ld.so.cache", 0644);
	return r;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int plan_tree(struct ird_plan *p, const char *src, const char *dst, int depth)
{
	struct stat st;
	int r = 0;

	if (lstat(src, &st) < 0)
		return ird_fail(p, -errno, "cannot add %s (%s)", src, strerror(errno));
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return ird_fail(p, -errno, "cannot read link %s", src);
		target[n] = '\0';
		return plan_symlink(p, dst, target);
	}
	if (S_ISREG(st.st_mode))
		return plan_file(p, dst, src, st.st_mode & 07777);
	if (!S_ISDIR(st.st_mode))
		return ird_fail(p, -EINVAL, "cannot add %s: not a file, link or directory", src);
	if (depth > IRD_ADD_DEPTH)
		return ird_fail(p, -ELOOP, "cannot add %s: deeper than %d levels", src,
				IRD_ADD_DEPTH);
	r = plan_add(p, dst, IRD_DIR, st.st_mode & 07777, NULL, NULL, 0);
	if (r == 0) {
		struct dirent **names;
		int n = scandir(src, &names, NULL, name_cmp);
		if (n < 0)
			return ird_fail(p, -errno, "cannot list %s", src);
		for (int i = 0; i < n; i++) {
			const char *nm = names[i]->d_name;
			if (r == 0 && strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
				char s[PATH_MAX], d[PATH_MAX];
				if ((size_t)snprintf(s, sizeof(s), "%s/%s", src, nm) >= sizeof(s) ||
				    (size_t)snprintf(d, sizeof(d), "%s/%s", dst, nm) >= sizeof(d))
					r = ird_fail(p, -ENAMETOOLONG, "path too long under %s",
						     src);
				else
					r = plan_tree(p, s, d, depth + 1);
			}
			free(names[i]);
		}
		free(names);
	}
	return r;
}

static int plan_build(struct ird_plan *p, const struct vigil_ird_opts *o)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < sizeof(ird_dirs) / sizeof(ird_dirs[0]); i++)
		r = plan_add(p, ird_dirs[i], IRD_DIR, 0755, NULL, NULL, 0);
	if (r == 0)
		r = plan_chr(p, "dev/console", 0600, 5, 1);
	if (r == 0)
		r = plan_chr(p, "dev/null", 0666, 1, 3);
	if (r == 0 && o->busybox)
		r = plan_busybox(p, o->busybox);
	if (r == 0 && o->modules_dir)
		r = plan_modules(p, o);
	if (r == 0 && o->n_exes)
		r = plan_exes(p, o);
	if (r == 0) {
		if (access(o->init, R_OK) < 0)
			r = ird_fail(p, -errno, "cannot read the init program %s (%s)", o->init,
				     strerror(errno));
		else
			r = plan_file(p, "init", o->init, 0755);
	}
	if (r == 0 && o->init_is_agent)
		r = plan_symlink(p, "bin/vigil-agent", "/init");
	for (size_t i = 0; r == 0 && i < o->n_adds; i++)
		r = plan_tree(p, o->adds[i].src, o->adds[i].dst, 0);
	return r;
}

static int plan_hash(struct ird_plan *p, char out[33])
{
	struct ird_hash h;

	hash_init(&h);
	hash_str(&h, IRD_FORMAT);
	for (size_t i = 0; i < p->n; i++) {
		const struct ird_entry *e = &p->e[i];
		uint64_t meta[5] = { e->kind, e->perm, e->decomp, e->major, e->minor };
		if (e->dead)
			continue;
		hash_str(&h, e->dst);
		hash_update(&h, meta, sizeof(meta));
		if (e->kind == IRD_SYMLINK)
			hash_str(&h, e->src);
		else if (e->kind == IRD_DATA) {
			hash_update(&h, &e->len, sizeof(e->len));
			hash_update(&h, e->data, e->len);
		} else if (e->kind == IRD_FILE) {
			int r = hash_file(&h, e->src);
			if (r < 0)
				return ird_fail(p, r, "cannot read %s (%s)", e->src, strerror(-r));
		}
	}
	hash_final(&h, out);
	return 0;
}

/* ---- writing ----------------------------------------------------------- */

struct ird_dirset {
	char **d;
	size_t n, cap;
};

static bool dirset_has(const struct ird_dirset *s, const char *d, size_t len)
{
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->d[i]) == len && memcmp(s->d[i], d, len) == 0)
			return true;
	return false;
}

static int dirset_add(struct ird_dirset *s, const char *d, size_t len)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		char **nd = realloc(s->d, nc * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		s->d = nd;
		s->cap = nc;
	}
	s->d[s->n] = strndup(d, len);
	if (!s->d[s->n])
		return -ENOMEM;
	s->n++;
	return 0;
}

/* Emit every missing parent directory of path. */
static int write_parents(struct vigil_cpio *c, struct ird_dirset *s, const char *path)
{
	for (const char *sl = strchr(path, '/'); sl; sl = strchr(sl + 1, '/')) {
		size_t len = (size_t)(sl - path);
		char d[PATH_MAX];
		int r;
		if (dirset_has(s, path, len))
			continue;
		memcpy(d, path, len);
		d[len] = '\0';
		r = vigil_cpio_dir(c, d, 0755);
		if (r == 0)
			r = dirset_add(s, path, len);
		if (r < 0)
			return r;
	}
	return 0;
}

static int write_entry(struct ird_plan *p, struct vigil_cpio *c, const struct ird_entry *e)
{
	static const char *const tool[] = { NULL, "xz", "zstd", "gzip" };
	static const char *const package[] = { NULL, "xz-utils", "zstd", "gzip" };
	struct stat st;
	int fd, r;

	switch (e->kind) {
	case IRD_DIR:
		return vigil_cpio_dir(c, e->dst, e->perm);
	case IRD_SYMLINK:
		return vigil_cpio_symlink(c, e->dst, e->src);
	case IRD_CHR:
		return vigil_cpio_chardev(c, e->dst, e->perm, e->major, e->minor);
	case IRD_DATA:
		return vigil_cpio_file(c, e->dst, e->perm, e->data, e->len);
	case IRD_FILE:
		break;
	}
	if (e->decomp != IRD_RAW) {
		char *argv[] = { (char *)tool[e->decomp], (char *)"-dc", e->src, NULL };
		char *buf;
		size_t len;
		r = run_capture(argv, IRD_DECOMP_MAX, &buf, &len);
		if (r == -ENOENT)
			return ird_fail(p, r,
					"cannot decompress %s: %s is not installed (install "
					"the Debian package %s)",
					e->src, tool[e->decomp], package[e->decomp]);
		if (r < 0)
			return ird_fail(p, r, "cannot decompress %s with %s (%s)", e->src,
					tool[e->decomp], strerror(-r));
		r = vigil_cpio_file(c, e->dst, e->perm, buf, len);
		free(buf);
		return r;
	}
	fd = open(e->src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ird_fail(p, -errno, "cannot open %s (%s)", e->src, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = vigil_cpio_file_fd(c, e->dst, e->perm, fd, (uint64_t)st.st_size);
	close(fd);
	if (r < 0)
		return ird_fail(p, r, "cannot copy %s into the image (%s)", e->src, strerror(-r));
	return 0;
}

static int plan_write(struct ird_plan *p, int fd)
{
	struct ird_dirset dirs = { 0 };
	struct vigil_cpio c;
	int r = 0;

	vigil_cpio_init(&c, fd);
	for (size_t i = 0; r == 0 && i < p->n; i++) {
		const struct ird_entry *e = &p->e[i];
		if (e->dead)
			continue;
		r = write_parents(&c, &dirs, e->dst);
		if (r == 0 && e->kind == IRD_DIR) {
			if (dirset_has(&dirs, e->dst, strlen(e->dst)))
				continue;
			r = dirset_add(&dirs, e->dst, strlen(e->dst));
		}
		if (r == 0)
			r = write_entry(p, &c, e);
		if (r == 0)
			p->res->entries++;
	}
	if (r == 0)
		r = vigil_cpio_finish(&c);
	for (size_t i = 0; i < dirs.n; i++)
		free(dirs.d[i]);
	free(dirs.d);
	if (r < 0 && !p->res->detail[0])
		ird_fail(p, r, "cannot write the image (%s)", strerror(-r));
	return r;
}

/* ---- cache ------------------------------------------------------------- */

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int vigil_ird_cache_dir(char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/vigil", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, cap, "%s/.cache/vigil", home);
	else
		return -ENOENT;
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return mkdir_p(buf);
}

struct cache_file {
	char name[NAME_MAX + 1];
	struct timespec mtime;
};

static int cache_cmp(const void *a, const void *b)
{
	const struct cache_file *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Keep the VIGIL_IRD_CACHE_KEEP most recently used images. */
static void cache_prune(const char *dir)
{
	struct cache_file files[256];
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)) && n < sizeof(files) / sizeof(files[0])) {
		struct stat st;
		if (strncmp(de->d_name, "initramfs-", 10) != 0 || strlen(de->d_name) < 15 ||
		    strcmp(de->d_name + strlen(de->d_name) - 5, ".cpio") != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		snprintf(files[n].name, sizeof(files[n].name), "%s", de->d_name);
		files[n].mtime = st.st_mtim;
		n++;
	}
	qsort(files, n, sizeof(files[0]), cache_cmp);
	for (size_t i = VIGIL_IRD_CACHE_KEEP; i < n; i++)
		unlinkat(dirfd(d), files[i].name, 0);
	closedir(d);
}

int vigil_ird_build(const struct vigil_ird_opts *o, const char *out_path,
		    struct vigil_ird_result *res)
{
	struct ird_plan p = { .res = res };
	char tmp[PATH_MAX];
	int fd, r;

	memset(res, 0, sizeof(*res));
	if (!o->init)
		return ird_fail(&p, -EINVAL, "no init program given");
	if (!o->cache_dir && !out_path)
		return ird_fail(&p, -EINVAL, "no output path and no cache directory");
	r = plan_build(&p, o);
	if (r == 0)
		r = plan_hash(&p, res->hash);
	if (r < 0)
		goto out;
	if (o->cache_dir) {
		if ((size_t)snprintf(res->path, sizeof(res->path), "%s/initramfs-%s.cpio",
				     o->cache_dir, res->hash) >= sizeof(res->path)) {
			r = ird_fail(&p, -ENAMETOOLONG, "cache path too long");
			goto out;
		}
		if (access(res->path, R_OK) == 0) {
			/* mark as recently used for pruning */
			utimensat(AT_FDCWD, res->path, NULL, 0);
			res->cache_hit = true;
			for (size_t i = 0; i < p.n; i++)
				res->entries += !p.e[i].dead;
			goto out;
		}
	} else {
		snprintf(res->path, sizeof(res->path), "%s", out_path);
	}
	/* Write beside the target and rename, so a reader never sees half an
	 * image and two concurrent builders of the same image do not collide. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", res->path, (long)getpid()) >=
	    sizeof(tmp)) {
		r = ird_fail(&p, -ENAMETOOLONG, "output path too long: %s", res->path);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = ird_fail(&p, -errno, "cannot create %s (%s)", tmp, strerror(errno));
		goto out;
	}
	r = plan_write(&p, fd);
	if (close(fd) < 0 && r == 0)
		r = ird_fail(&p, -errno, "cannot write %s (%s)", tmp, strerror(errno));
	if (r == 0 && rename(tmp, res->path) < 0)
		r = ird_fail(&p, -errno, "cannot rename %s to %s (%s)", tmp, res->path,
			     strerror(errno));
	if (r < 0)
		unlink(tmp);
	else if (o->cache_dir)
		cache_prune(o->cache_dir);
out:
	plan_free(&p);
	return r;
}

int vigil_kernel_release(const char *kernel, char *buf, size_t cap)
{
	uint8_t hdr[0x210];
	char ver[256];
	int fd = open(kernel, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	uint16_t off;
	size_t len;

	if (fd < 0)
		return -errno;
	n = pread(fd, hdr, sizeof(hdr), 0);
	if (n >= 4 && !memcmp(hdr, "\177ELF", 4)) {
		close(fd);
		return vigil_vmlinux_release(kernel, buf, cap); /* a vmlinux */
	}
	if (n != (ssize_t)sizeof(hdr) || memcmp(hdr + 0x202, "HdrS", 4) != 0) {
		close(fd);
		return n < 0 ? -errno : -ENOEXEC;
	}
	off = (uint16_t)(hdr[0x20E] | (hdr[0x20F] << 8));
	n = pread(fd, ver, sizeof(ver) - 1, (off_t)off + 0x200);
	close(fd);
	if (off == 0 || n <= 0)
		return -ENOEXEC;
	ver[n] = '\0';
	len = strcspn(ver, " \n");
	if (len == 0 || len >= cap || len == (size_t)n)
		return -ENOEXEC;
	memcpy(buf, ver, len);
	buf[len] = '\0';
	return 0;
}

int vigil_busybox_has(const char *busybox, const char *name)
{
	char *argv[] = { (char *)busybox, (char *)"--list", NULL };
	char *out, *line;
	size_t len, nl = strlen(name);
	int r = run_capture(argv, IRD_APPLETS_MAX, &out, &len);

	if (r < 0)
		return r;
	r = 0;
	for (line = out; line < out + len;) {
		char *end = memchr(line, '\n', (size_t)(out + len - line));
		size_t l = end ? (size_t)(end - line) : (size_t)(out + len - line);
		if (l == nl && memcmp(line, name, nl) == 0) {
			r = 1;
			break;
		}
		line = end ? end + 1 : out + len;
	}
	free(out);
	return r;
}
