/* SPDX-License-Identifier: MIT */
/*
 * elfdeps: PT_INTERP / DT_NEEDED closure (see elfdeps.h). Every offset and
 * size read from a file is checked against the file's size before use; a
 * string is read with a bounded pread and must end inside PATH_MAX.
 */
#include "elfdeps.h"
#include "paths.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ELF_MAX_PHDRS  512
#define ELF_MAX_DYN    8192
#define ELF_CONF_DEPTH 8

static const char *const elf_default_dirs[] = {
	"/lib/x86_64-linux-gnu",
	"/usr/lib/x86_64-linux-gnu",
	"/lib64",
	"/usr/lib64",
	"/lib",
	"/usr/lib",
};

static int elf_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG; /* a header points past the end */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* A NUL-terminated string at off, at most cap - 1 bytes. */
static int elf_read_str(int fd, uint64_t fsize, uint64_t off, char *buf, size_t cap)
{
	size_t want = cap - 1;
	ssize_t n;

	if (off >= fsize)
		return -EBADMSG;
	if (fsize - off < want)
		want = (size_t)(fsize - off);
	do
		n = pread(fd, buf, want, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (strlen(buf) == (size_t)n)
		return n == (ssize_t)(cap - 1) ? -E2BIG : -EBADMSG; /* no terminator */
	return 0;
}

/* File offset of virtual address va through the PT_LOAD segments. */
static int elf_va_to_off(const Elf64_Phdr *ph, size_t n, uint64_t va, uint64_t *off)
{
	for (size_t i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (va >= ph[i].p_vaddr && va - ph[i].p_vaddr < ph[i].p_filesz) {
			*off = ph[i].p_offset + (va - ph[i].p_vaddr);
			return 0;
		}
	}
	return -EBADMSG;
}

void vigil_elf_info_free(struct vigil_elf_info *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->n_needed; i++)
		free(info->needed[i]);
	info->n_needed = 0;
	free(info->runpath);
	info->runpath = NULL;
}

static int elf_parse(int fd, struct vigil_elf_info *out)
{
	Elf64_Ehdr eh;
	Elf64_Phdr *ph = NULL;
	Elf64_Dyn *dyn = NULL;
	struct stat st;
	uint64_t strtab_va = 0, strtab_off, strsz = 0, dyn_off = 0, dyn_size = 0;
	size_t ndyn, needed_idx[VIGIL_ELF_MAX_NEEDED], nneeded = 0;
	uint64_t runpath = UINT64_MAX, rpath = UINT64_MAX;
	bool have_strtab = false;
	char buf[PATH_MAX];
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < sizeof(eh))
		return -ENOEXEC;
	r = elf_pread_all(fd, &eh, sizeof(eh), 0);
	if (r < 0)
		return r == -EBADMSG ? -ENOEXEC : r;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0)
		return -EBADMSG;
	if (eh.e_phnum > ELF_MAX_PHDRS)
		return -E2BIG;
	if (eh.e_phoff > (uint64_t)st.st_size ||
	    (uint64_t)st.st_size - eh.e_phoff < (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr))
		return -EBADMSG;
	ph = calloc(eh.e_phnum, sizeof(*ph));
	if (!ph)
		return -ENOMEM;
	r = elf_pread_all(fd, ph, eh.e_phnum * sizeof(*ph), eh.e_phoff);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_INTERP) {
			if (ph[i].p_filesz == 0 || ph[i].p_filesz > PATH_MAX ||
			    ph[i].p_offset > (uint64_t)st.st_size) {
				r = -EBADMSG;
				goto out;
			}
			r = elf_read_str(fd, (uint64_t)st.st_size, ph[i].p_offset, out->interp,
					 sizeof(out->interp));
			if (r < 0)
				goto out;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			out->dynamic = true;
			dyn_off = ph[i].p_offset;
			dyn_size = ph[i].p_filesz;
		}
	}
	if (!out->dynamic)
		goto out;
	if (dyn_off > (uint64_t)st.st_size || (uint64_t)st.st_size - dyn_off < dyn_size) {
		r = -EBADMSG;
		goto out;
	}
	ndyn = (size_t)(dyn_size / sizeof(Elf64_Dyn));
	if (ndyn > ELF_MAX_DYN) {
		r = -E2BIG;
		goto out;
	}
	dyn = calloc(ndyn ? ndyn : 1, sizeof(*dyn));
	if (!dyn) {
		r = -ENOMEM;
		goto out;
	}
	r = elf_pread_all(fd, dyn, ndyn * sizeof(*dyn), dyn_off);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		switch (dyn[i].d_tag) {
		case DT_STRTAB:
			strtab_va = dyn[i].d_un.d_ptr;
			have_strtab = true;
			break;
		case DT_STRSZ:
			strsz = dyn[i].d_un.d_val;
			break;
		case DT_NEEDED:
			if (nneeded == VIGIL_ELF_MAX_NEEDED) {
				r = -E2BIG;
				goto out;
			}
			needed_idx[nneeded++] = dyn[i].d_un.d_val;
			break;
		case DT_RUNPATH:
			runpath = dyn[i].d_un.d_val;
			break;
		case DT_RPATH:
			rpath = dyn[i].d_un.d_val;
			break;
		default:
			break;
		}
	}
	if (nneeded == 0 && runpath == UINT64_MAX && rpath == UINT64_MAX)
		goto out;
	if (!have_strtab || elf_va_to_off(ph, eh.e_phnum, strtab_va, &strtab_off) < 0) {
		r = -EBADMSG;
		goto out;
	}
	for (size_t i = 0; i < nneeded; i++) {
		if (needed_idx[i] >= strsz) {
			r = -EBADMSG;
			goto out;
		}
		r = elf_read_str(fd, (uint64_t)st.st_size, strtab_off + needed_idx[i], buf,
				 sizeof(buf));
		if (r < 0)
			goto out;
		if (!buf[0] || strchr(buf, '/') != NULL) {
			/* An empty or path-like DT_NEEDED is not something a
			 * search could satisfy; refuse it rather than guess. */
			r = -EBADMSG;
			goto out;
		}
		out->needed[out->n_needed] = strdup(buf);
		if (!out->needed[out->n_needed]) {
			r = -ENOMEM;
			goto out;
		}
		out->n_needed++;
	}
	if (runpath != UINT64_MAX || rpath != UINT64_MAX) {
		uint64_t idx = runpath != UINT64_MAX ? runpath : rpath;
		if (idx >= strsz) {
			r = -EBADMSG;
			goto out;
		}
		r = elf_read_str(fd, (uint64_t)st.st_size, strtab_off + idx, buf, sizeof(buf));
		if (r < 0)
			goto out;
		out->runpath = strdup(buf);
		out->runpath_is_rpath = runpath == UINT64_MAX;
		if (!out->runpath)
			r = -ENOMEM;
	}
out:
	free(ph);
	free(dyn);
	return r;
}

int vigil_elf_read(const char *path, struct vigil_elf_info *out)
{
	struct vigil_elf_info info;
	int fd, r;

	memset(&info, 0, sizeof(info));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = elf_parse(fd, &info);
	close(fd);
	if (r < 0) {
		vigil_elf_info_free(&info);
		return r;
	}
	*out = info;
	return 0;
}

/* ---- search directories ------------------------------------------------ */

static int dirs_add(struct vigil_libdirs *d, const char *dir, size_t len)
{
	char *s;

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 0 || dir[0] != '/')
		return 0; /* relative entries are ignored by the loader too */
	for (size_t i = 0; i < d->n; i++)
		if (strlen(d->dir[i]) == len && memcmp(d->dir[i], dir, len) == 0)
			return 0;
	if (d->n == VIGIL_ELF_MAX_DIRS)
		return 0; /* later directories are only a fallback: drop them */
	s = strndup(dir, len);
	if (!s)
		return -ENOMEM;
	d->dir[d->n++] = s;
	return 0;
}

static int conf_parse(const char *path, struct vigil_libdirs *d, int depth)
{
	char line[PATH_MAX + 16];
	FILE *f;
	int r = 0;

	if (depth > ELF_CONF_DEPTH)
		return 0;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		char *p = line, *e;

		e = strchr(p, '#');
		if (e)
			*e = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		if (!*p)
			continue;
		if (strncmp(p, "include", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
			char pat[PATH_MAX];
			glob_t g;
			p += 8;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p != '/') {
				/* relative to the including file's directory */
				const char *slash = strrchr(path, '/');
				int dl = slash ? (int)(slash - path) : 0;
				if (snprintf(pat, sizeof(pat), "%.*s/%s", dl, path, p) >=
				    (int)sizeof(pat))
					continue;
			} else {
				snprintf(pat, sizeof(pat), "%s", p);
			}
			if (glob(pat, 0, NULL, &g) == 0) {
				for (size_t i = 0; r == 0 && i < g.gl_pathc; i++)
					r = conf_parse(g.gl_pathv[i], d, depth + 1);
				globfree(&g);
			}
			continue;
		}
		r = dirs_add(d, p, strlen(p));
	}
	fclose(f);
	return r;
}

int vigil_libdirs_system(const char *conf, struct vigil_libdirs *out)
{
	struct vigil_libdirs d = { .n = 0 };
	int r = conf ? conf_parse(conf, &d, 0) : 0;

	for (size_t i = 0; r == 0 && i < sizeof(elf_default_dirs) / sizeof(elf_default_dirs[0]);
	     i++)
		r = dirs_add(&d, elf_default_dirs[i], strlen(elf_default_dirs[i]));
	if (r < 0) {
		vigil_libdirs_free(&d);
		return r;
	}
	*out = d;
	return 0;
}

void vigil_libdirs_free(struct vigil_libdirs *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->dir[i]);
	d->n = 0;
}

/* ---- closure ----------------------------------------------------------- */

static bool closure_has(const struct vigil_elf_closure *c, const char *path)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->file[i], path) == 0)
			return true;
	return false;
}

/* Collapse "//", "." and ".." lexically, in place ("/a/bin/../lib" -> "/a/lib"). The
 * guest gets files at these paths, and its loader walks $ORIGIN/.. the same
 * way as long as the directories are real ones, which they are there. */
static void lexical_norm(char *path)
{
	const char *p = path, *s;
	char *out = path;
	size_t l;

	/* Writing trails reading: out never passes the component being read. */
	while ((s = vigil_path_next(&p, &l))) {
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			while (out > path && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, s, l);
		out += l;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

static int closure_add(struct vigil_elf_closure *c, const char *path_in)
{
	char path[PATH_MAX];

	if (path_in[0] != '/' || strlen(path_in) >= sizeof(path))
		return -EINVAL;
	strcpy(path, path_in);
	lexical_norm(path);
	if (closure_has(c, path))
		return 0;
	if (c->n == VIGIL_ELF_MAX_FILES)
		return -E2BIG;
	c->file[c->n] = strdup(path);
	if (!c->file[c->n])
		return -ENOMEM;
	c->n++;
	return 1;
}

static bool is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Look for name in one colon-separated RPATH/RUNPATH list. */
static bool search_runpath(const char *list, const char *origin, const char *name, char *out,
			   size_t cap)
{
	const char *p = list;

	while (p && *p) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		char dir[PATH_MAX];
		size_t dl = 0;

		for (size_t i = 0; i < len && dl < sizeof(dir) - 1;) {
			if (strncmp(p + i, "$ORIGIN", 7) == 0 ||
			    strncmp(p + i, "${ORIGIN}", 9) == 0) {
				size_t ol = strlen(origin);
				if (dl + ol >= sizeof(dir))
					break;
				memcpy(dir + dl, origin, ol);
				dl += ol;
				i += p[i + 1] == '{' ? 9 : 7;
			} else {
				dir[dl++] = p[i++];
			}
		}
		dir[dl] = '\0';
		if (dl > 0 && dir[0] == '/' &&
		    (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap && is_regular(out))
			return true;
		p = colon ? colon + 1 : NULL;
	}
	return false;
}

static bool search_lib(const struct vigil_elf_info *who, const char *who_path,
		       const struct vigil_libdirs *dirs, const char *name, char *out, size_t cap)
{
	if (who->runpath) {
		char origin[PATH_MAX];
		const char *slash = strrchr(who_path, '/');
		snprintf(origin, sizeof(origin), "%.*s",
			 slash ? (int)(slash == who_path ? 1 : slash - who_path) : 1,
			 slash ? who_path : "/");
		if (search_runpath(who->runpath, origin, name, out, cap))
			return true;
	}
	for (size_t i = 0; i < dirs->n; i++)
		if ((size_t)snprintf(out, cap, "%s/%s", dirs->dir[i], name) < cap &&
		    is_regular(out))
			return true;
	return false;
}

int vigil_elf_closure(const char *exe, const struct vigil_libdirs *dirs,
		      struct vigil_elf_closure *out)
{
	size_t next = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = closure_add(out, exe);
	if (r < 0)
		return r;
	/* Breadth first over the files found so far; each is read once. */
	while (next < out->n) {
		struct vigil_elf_info info;
		const char *path = out->file[next];

		memset(&info, 0, sizeof(info));
		r = vigil_elf_read(path, &info);
		if (r < 0) {
			/* The interpreter and libraries must be ELF; the program
			 * itself may be a script run by a guest interpreter. */
			if (next == 0 && r == -ENOEXEC) {
				out->is_static = true;
				return 0;
			}
			return r;
		}
		if (next == 0)
			out->is_static = !info.dynamic && !info.interp[0];
		if (info.interp[0]) {
			r = closure_add(out, info.interp);
			if (r < 0) {
				vigil_elf_info_free(&info);
				return r;
			}
		}
		for (size_t i = 0; i < info.n_needed; i++) {
			char found[PATH_MAX];
			if (!search_lib(&info, path, dirs, info.needed[i], found, sizeof(found))) {
				snprintf(out->missing, sizeof(out->missing), "%s", info.needed[i]);
				vigil_elf_info_free(&info);
				return -ENOENT;
			}
			r = closure_add(out, found);
			if (r < 0) {
				vigil_elf_info_free(&info);
				return r;
			}
		}
		vigil_elf_info_free(&info);
		next++;
	}
	return 0;
}

void vigil_elf_closure_free(struct vigil_elf_closure *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->file[i]);
	c->n = 0;
}
