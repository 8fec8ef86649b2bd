/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/cli/kmod.c: resolution through libkmod, on module trees
 * that depmod indexes at test time from the fake modules of
 * kmod_fixture_mod.c, checked against modprobe's own answer
 * (`modprobe --show-depends`) as the reference.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kmod.h"
#include "kmod_fixture.h"

#define REL "6.1.0-test"

struct tree {
	char *base;
	char moddir[PATH_MAX];
};

static int setup_indexed(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	t->base = tu_mkdtemp();
	if (kfx_tree(t->base, REL, true, t->moddir, sizeof(t->moddir)) < 0)
		fail_msg("cannot lay out and depmod the fixture in %s", t->base);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tree *t = *state;

	tu_rm_rf(t->base);
	free(t->base);
	free(t);
	return 0;
}

/* What modprobe would insmod for each of names, in order, each once, as
 * paths relative to moddir (builtins print nothing): the reference. */
static size_t modprobe_order(const char *base, const char *release, const char *moddir,
			     const char *const *names, size_t n, char out[][PATH_MAX], size_t cap)
{
	size_t got = 0, ml = strlen(moddir);

	for (size_t i = 0; i < n; i++) {
		char cmd[PATH_MAX * 2], line[PATH_MAX + 64];
		FILE *f;

		snprintf(cmd, sizeof(cmd),
			 "PATH=\"$PATH:/usr/sbin:/sbin\" modprobe -C /dev/null -d '%s' -S '%s' "
			 "--show-depends '%s' 2>/dev/null",
			 base, release, names[i]);
		f = popen(cmd, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			char *p = line;
			bool dup = false;

			if (strncmp(p, "insmod ", 7) != 0)
				continue;
			p += 7;
			p[strcspn(p, " \n")] = '\0';
			while (p[0] == '/' && p[1] == '/')
				p++; /* "-d /" gives "//lib/modules/..." */
			assert_memory_equal(p, moddir, ml);
			p += ml + 1;
			for (size_t j = 0; j < got; j++)
				dup |= !strcmp(out[j], p);
			if (!dup && got < cap)
				snprintf(out[got++], PATH_MAX, "%s", p);
		}
		pclose(f);
	}
	return got;
}

static void assert_same_as_modprobe(const char *base, const char *release, const char *moddir,
				    const char *const *names, size_t n, bool required)
{
	static char ref[64][PATH_MAX];
	struct vigil_kmod_want w[16];
	struct vigil_kmods k;
	size_t nref = modprobe_order(base, release, moddir, names, n, ref, 64);

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		w[i] = (struct vigil_kmod_want){ names[i], required };
	assert_int_equal(vigil_kmod_resolve(moddir, w, n, &k), 0);
	assert_int_equal(k.n, nref);
	for (size_t i = 0; i < nref; i++)
		assert_string_equal(k.rel[i], ref[i]);
	vigil_kmods_free(&k);
}

static void test_load_order(void **state)
{
	struct tree *t = *state;
	struct vigil_kmod_want w[] = { { "virtio_pci", true }, { "virtio-console", true } };
	const char *const names[] = { "virtio_pci", "virtio-console" };
	struct vigil_kmods k;

	assert_int_equal(vigil_kmod_resolve(t->moddir, w, 2, &k), 0);
	/* ring, virtio, modern, legacy, pci, then the console with its softdeps */
	assert_int_equal(k.n, 9);
	assert_string_equal(k.rel[0], "kernel/drivers/virtio/virtio_ring.ko");
	assert_string_equal(k.rel[1], "kernel/drivers/virtio/virtio.ko");
	assert_string_equal(k.rel[4], "kernel/drivers/virtio/virtio_pci.ko");
	/* softdep pre: pvpanic before the console, post: tcp_diag after it */
	assert_string_equal(k.rel[5], "kernel/drivers/misc/pvpanic/pvpanic.ko");
	assert_string_equal(k.rel[6], "kernel/drivers/char/virtio_console.ko.xz");
	assert_string_equal(k.rel[7], "kernel/net/ipv4/inet_diag.ko.zst");
	assert_string_equal(k.rel[8], "kernel/net/ipv4/tcp-diag.ko");
	/* modules.dep's listing: users first */
	assert_string_equal(k.deps[6],
			    "kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko");
	assert_string_equal(k.deps[0], "");
	assert_false(k.staged);
	/* PCI alone: virtio_pci (its alias) and the two libraries only it
	 * uses; not what the console uses too, nor what no module uses */
	for (size_t i = 0; i < k.n; i++)
		if (k.pci[i] != (i >= 2 && i <= 4))
			fail_msg("%s: pci %d", k.rel[i], k.pci[i]);
	vigil_kmods_free(&k);
	assert_same_as_modprobe(t->base, REL, t->moddir, names, 2, true);
	/* a library named by a want is kept whoever uses it; without the
	 * console, virtio and its ring serve virtio_pci alone */
	{
		struct vigil_kmod_want w2[] = { { "virtio_pci_legacy_dev", true },
						{ "virtio_pci", true } };

		assert_int_equal(vigil_kmod_resolve(t->moddir, w2, 2, &k), 0);
		assert_int_equal(k.n, 5);
		for (size_t i = 0; i < k.n; i++)
			if (k.pci[i] != !strstr(k.rel[i], "legacy"))
				fail_msg("%s: pci %d, named", k.rel[i], k.pci[i]);
		vigil_kmods_free(&k);
	}
}

/* Aliases, as modprobe takes them, and names with '-' for '_'. */
static void test_alias(void **state)
{
	struct tree *t = *state;
	const char *const names[] = { "virtio:d00000003v00001AF4",
				      "pci:v00001AF4d00001003sv00001AF4sd00000003bc07sc80i00",
				      "net-pf-16-proto-4-type-2-6", "tcp_diag" };
	struct vigil_kmod_want w[] = { { names[0], true } };
	struct vigil_kmods k;

	assert_int_equal(vigil_kmod_resolve(t->moddir, w, 1, &k), 0);
	assert_int_equal(k.n, 6); /* ring, virtio, pvpanic, console, inet_diag, tcp_diag */
	assert_string_equal(k.rel[3], "kernel/drivers/char/virtio_console.ko.xz");
	vigil_kmods_free(&k);
	assert_same_as_modprobe(t->base, REL, t->moddir, names, 4, true);
}

static void test_builtin_optional_missing(void **state)
{
	struct tree *t = *state;
	struct vigil_kmod_want w[] = {
		{ "8250", true },    /* built in, by name (modules.builtin) */
		{ "fs-ext4", true }, /* built in, by alias (modules.builtin.modinfo) */
		{ "nosuch", false }, /* absent, optional */
		{ "pvpanic", true },
	};
	struct vigil_kmod_want req[] = { { "no-such-required", true } };
	struct vigil_kmods k;

	assert_int_equal(vigil_kmod_resolve(t->moddir, w, 4, &k), 0);
	assert_int_equal(k.builtin, 2);
	assert_int_equal(k.absent_optional, 1);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.rel[0], "kernel/drivers/misc/pvpanic/pvpanic.ko");
	vigil_kmods_free(&k);
	assert_int_equal(vigil_kmod_resolve(t->moddir, req, 1, &k), -ENOENT);
	assert_string_equal(k.missing, "no_such_required");
	vigil_kmods_free(&k);
	assert_int_equal(vigil_kmod_resolve("/nonexistent-dir", req, 1, &k), -ENOENT);
	assert_non_null(strstr(k.detail, "/nonexistent-dir"));
	assert_string_equal(k.missing, "");
	vigil_kmods_free(&k);
}

/* An index that names files no longer there is reported, not skipped. */
static void test_stale_index(void **state)
{
	struct tree *t = *state;
	struct vigil_kmod_want pci[] = { { "virtio_pci", true } };
	struct vigil_kmod_want pv[] = { { "pvpanic", true } };
	char path[PATH_MAX * 2];
	struct vigil_kmods k;

	snprintf(path, sizeof(path), "%s/kernel/drivers/misc/pvpanic/pvpanic.ko", t->moddir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(vigil_kmod_resolve(t->moddir, pv, 1, &k), -ENOENT);
	assert_non_null(strstr(k.detail, "pvpanic.ko"));
	assert_non_null(strstr(k.detail, "run depmod"));
	vigil_kmods_free(&k);
	snprintf(path, sizeof(path), "%s/kernel/drivers/virtio/virtio.ko", t->moddir);
	assert_int_equal(unlink(path), 0);
	/* a dependency gone: libkmod only logs it, vigil stops on it */
	assert_int_equal(vigil_kmod_resolve(t->moddir, pci, 1, &k), -EBADMSG);
	assert_non_null(strstr(k.detail, "virtio.ko"));
	assert_non_null(strstr(k.detail, "depmod"));
	vigil_kmods_free(&k);
}

/*
 * A hand-copied tree: the modules, a text modules.dep that is wrong, no
 * indexes, a directory name that is not a release. depmod indexes a copy;
 * the text is not read; the directory is left as it was.
 */
static void test_unindexed_dir(void **state)
{
	struct vigil_kmod_want w[] = { { "virtio_console", true }, { "8250", true } };
	char *base = tu_mkdtemp(), moddir[PATH_MAX], mods[PATH_MAX + 8], path[PATH_MAX * 2];
	struct vigil_kmods k;

	(void)state;
	assert_int_equal(kfx_tree(base, "mods", false, moddir, sizeof(moddir)), 0);
	snprintf(mods, sizeof(mods), "%s/", moddir); /* a trailing '/' too */
	assert_int_equal(
	    tu_write_str(moddir, "modules.dep", "kernel/drivers/char/virtio_console.ko.xz:\n"), 0);
	assert_int_equal(vigil_kmod_resolve(mods, w, 2, &k), 0);
	assert_true(k.staged);
	assert_int_equal(k.builtin, 1);
	assert_int_equal(k.n, 6); /* ring, virtio, pvpanic, console, inet_diag, tcp_diag */
	assert_string_equal(k.rel[0], "kernel/drivers/virtio/virtio_ring.ko");
	assert_string_equal(k.rel[3], "kernel/drivers/char/virtio_console.ko.xz");
	for (size_t i = 0; i < k.n; i++) {
		snprintf(path, sizeof(path), "%s/%s", moddir, k.rel[i]);
		assert_int_equal(access(path, R_OK), 0);
	}
	vigil_kmods_free(&k);
	snprintf(path, sizeof(path), "%s/modules.dep.bin", moddir);
	assert_int_equal(access(path, F_OK), -1); /* nothing written into it */
	tu_rm_rf(base);
	free(base);
}

/* depmod's refusal (a dependency cycle) is passed on with its words. */
static void test_unindexed_cycle(void **state)
{
	struct vigil_kmod_want w[] = { { "cyc_a", true } };
	char *base = tu_mkdtemp();
	struct vigil_kmods k;
	char moddir[PATH_MAX];

	(void)state;
	assert_int_equal(kfx_lay(base, "6.1.0-cyc/kernel/", kfx_cycle, 2), 0);
	snprintf(moddir, sizeof(moddir), "%s/6.1.0-cyc", base);
	assert_int_equal(vigil_kmod_resolve(moddir, w, 1, &k), -EIO);
	assert_non_null(strstr(k.detail, "no modules.dep.bin"));
	assert_non_null(strstr(k.detail, "Cycle detected"));
	vigil_kmods_free(&k);
	tu_rm_rf(base);
	free(base);
}

/* The host's own kernels: vigil's module list resolves as modprobe's. */
static void test_real_kernel(void **state)
{
	const char *const names[] = { "virtio_ring",  "virtio",      "virtio_pci_modern_dev",
				      "virtio_pci",   "virtio_mmio", "virtio_console",
				      "pvpanic_mmio", "pvpanic_pci", "inet_diag",
				      "tcp_diag",     "udp_diag" };
	char rel[128], dir[PATH_MAX];
	FILE *f = popen("ls /lib/modules | sort -V | tail -1", "r");
	bool have = f && fgets(rel, sizeof(rel), f);

	(void)state;
	if (f)
		pclose(f);
	if (!have)
		skip();
	rel[strcspn(rel, "\n")] = '\0';
	snprintf(dir, sizeof(dir), "/lib/modules/%s", rel);
	if (!rel[0] || access(dir, R_OK) < 0)
		skip();
	assert_same_as_modprobe("/", rel, dir, names, sizeof(names) / sizeof(names[0]), false);
	/* what serves PCI devices alone, from the modules' own aliases */
	{
		struct vigil_kmod_want w[sizeof(names) / sizeof(names[0])];
		struct vigil_kmods k;
		size_t npci = 0;

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			w[i] = (struct vigil_kmod_want){ names[i], false };
		w[2].name = "virtio_mmio"; /* virtio_pci_modern_dev: not by name */
		assert_int_equal(vigil_kmod_resolve(dir, w, sizeof(w) / sizeof(w[0]), &k), 0);
		for (size_t i = 0; i < k.n; i++) {
			const char *b = strrchr(k.rel[i], '/') + 1;
			bool want = !strncmp(b, "virtio_pci", 10) || !strncmp(b, "pvpanic-pci", 11);

			if (k.pci[i] != want)
				fail_msg("%s: pci %d", k.rel[i], k.pci[i]);
			npci += k.pci[i];
		}
		vigil_kmods_free(&k);
		if (npci == 0)
			skip(); /* a kernel with PCI and virtio built in */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_order, setup_indexed, teardown),
		cmocka_unit_test_setup_teardown(test_alias, setup_indexed, teardown),
		cmocka_unit_test_setup_teardown(test_builtin_optional_missing, setup_indexed,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_index, setup_indexed, teardown),
		cmocka_unit_test(test_unindexed_dir),
		cmocka_unit_test(test_unindexed_cycle),
		cmocka_unit_test(test_real_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
