/* SPDX-License-Identifier: MIT */
/*
 * kmod-bench: what module resolution (host/cli/kmod.c, libkmod) costs an
 * image build, on a real module tree.
 *
 *   kmod-bench [MODULE_DIR]   (default: the newest in /lib/modules)
 *
 * Two cases, vigil's default module list each time:
 *   - indexed: MODULE_DIR as it is, with depmod's binary indexes
 *     (best and median of KMOD_BENCH_ROUNDS, default 50);
 *   - staged: a copy of MODULE_DIR without the indexes (links to its
 *     kernel/ and its modules.order, modules.builtin and
 *     modules.builtin.modinfo), so every resolution runs depmod over the
 *     whole tree (median of 3).
 * Last line: kmod-bench: modules=N indexed_best_ms=A indexed_median_ms=B
 * staged_median_ms=C. No target: a record for docs/cli.md's figures.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "cli.h"
#include "kmod.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* n resolutions of vigil's list in dir, sorted times into ns[]; modules out. */
static int rounds(const char *dir, int n, uint64_t *ns, size_t *modules)
{
	for (int i = 0; i < n; i++) {
		struct vigil_kmods k;
		uint64_t t0 = now_ns();
		int r = vigil_kmod_resolve(dir, vigil_default_mods, vigil_n_default_mods, &k);

		ns[i] = now_ns() - t0;
		*modules = k.n;
		if (r < 0) {
			fprintf(stderr, "kmod-bench: %s: %s\n", dir, k.detail);
			vigil_kmods_free(&k);
			return r;
		}
		vigil_kmods_free(&k);
	}
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	return 0;
}

/* base/RELEASE: links to dir's modules and the lists depmod reads. */
static int unindexed_copy(const char *dir, char *out, size_t cap)
{
	static const char *const links[] = { "kernel", "modules.order", "modules.builtin",
					     "modules.builtin.modinfo" };
	char tmpl[] = "/tmp/vigil-kmod-bench-XXXXXX", from[PATH_MAX * 2], to[PATH_MAX * 2];
	const char *rel = strrchr(dir, '/');

	if (!mkdtemp(tmpl))
		return -errno;
	if ((size_t)snprintf(out, cap, "%s/%s", tmpl, rel ? rel + 1 : dir) >= cap)
		return -ENAMETOOLONG;
	if (mkdir(out, 0755) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(from, sizeof(from), "%s/%s", dir, links[i]);
		snprintf(to, sizeof(to), "%s/%s", out, links[i]);
		if (access(from, F_OK) == 0 && symlink(from, to) < 0)
			return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("KMOD_BENCH_ROUNDS");
	int n = env ? atoi(env) : 50;
	char dir[PATH_MAX], copy[PATH_MAX], cmd[PATH_MAX * 2 + 16];
	uint64_t ns[1000], st[3];
	size_t modules = 0;

	if (n < 1 || n > 1000)
		n = 50;
	if (argc > 1) {
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	} else {
		FILE *f = popen("ls -d /lib/modules/* | sort -V | tail -n 1", "r");
		if (!f || !fgets(dir, sizeof(dir), f)) {
			fprintf(stderr,
				"kmod-bench: nothing in /lib/modules: pass a module directory\n");
			return 1;
		}
		pclose(f);
		dir[strcspn(dir, "\n")] = '\0';
	}
	if (rounds(dir, n, ns, &modules) < 0)
		return 1;
	if (unindexed_copy(dir, copy, sizeof(copy)) < 0 || rounds(copy, 3, st, &modules) < 0) {
		fprintf(stderr, "kmod-bench: the unindexed copy of %s failed\n", dir);
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strrchr(copy, '/') - copy), copy);
	if (system(cmd) != 0)
		fprintf(stderr, "kmod-bench: could not remove %s\n", copy);
	printf("%s: %zu modules, indexed: best %.2f ms median %.2f ms (%d rounds); "
	       "no indexes (depmod each time): median %.0f ms\n",
	       dir, modules, ns[0] / 1e6, ns[n / 2] / 1e6, n, st[1] / 1e6);
	printf("kmod-bench: modules=%zu indexed_best_ms=%.2f indexed_median_ms=%.2f "
	       "staged_median_ms=%.0f\n",
	       modules, ns[0] / 1e6, ns[n / 2] / 1e6, st[1] / 1e6);
	return 0;
}
