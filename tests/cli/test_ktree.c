/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/cli/ktree.c: a kernel build tree (fake vmlinux, the fake
 * modules of kmod_fixture_mod.c at in-tree paths, kbuild's modules.order)
 * staged and indexed by depmod, then resolved through libkmod (kmod.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kmod.h"
#include "kmod_fixture.h"
#include "ktree.h"

/* A tree's modules are not compressed. */
static const struct kfx_mod tree_mods[] = {
	{ "virtio_ring.ko", "drivers/virtio/virtio_ring.ko" },
	{ "virtio.ko", "drivers/virtio/virtio.ko" },
	{ "virtio_console.ko", "drivers/char/virtio_console.ko" },
	{ "pvpanic.ko", "drivers/misc/pvpanic/pvpanic.ko" },
};

/* A tree as kbuild leaves it: modules beside their sources, .o names in
 * modules.order, one listed module not built. */
static char *make_tree(void)
{
	char *d = tu_mkdtemp();

	assert_int_equal(tu_write_str(d, "tree/vmlinux", "not a kernel, never booted"), 0);
	assert_int_equal(tu_write_str(d, "tree/include/config/kernel.release", "6.9.0-dev+\n"), 0);
	assert_int_equal(kfx_lay(d, "tree/", tree_mods, sizeof(tree_mods) / sizeof(tree_mods[0])),
			 0);
	assert_int_equal(kfx_builtins(d, "tree/"), 0);
	assert_int_equal(tu_write_str(d, "tree/modules.order",
				      "drivers/virtio/virtio_ring.o\n"
				      "drivers/virtio/virtio.o\n"
				      "drivers/char/virtio_console.o\n"
				      "drivers/misc/pvpanic/pvpanic.o\n"
				      "drivers/not/built.o\n"),
			 0);
	return d;
}

static void test_relative_tree(void **state)
{
	struct vigil_kmod_want w[] = { { "virtio_console", true }, { "8250", true } };
	char *d = make_tree(), cwd[PATH_MAX], err[512], stage[64];
	struct vigil_ktree t;
	struct vigil_kmods k;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d), 0);
	/* `--kernel-tree tree` from its parent, as `vng -r .` users type it */
	assert_int_equal(vigil_ktree_open("tree", &t, err, sizeof(err)), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(t.release, "6.9.0-dev+");
	assert_int_equal(t.modules, 4);
	assert_non_null(strstr(t.stage.moddir, "/lib/modules/6.9.0-dev+"));
	assert_int_equal(vigil_kmod_resolve(t.stage.moddir, w, 2, &k), 0);
	assert_false(k.staged); /* ktree indexed it already */
	assert_int_equal(k.builtin, 1);
	assert_int_equal(k.n, 4); /* ring, virtio, pvpanic (softdep), console */
	assert_string_equal(k.rel[0], "kernel/drivers/virtio/virtio_ring.ko");
	assert_string_equal(k.rel[3], "kernel/drivers/char/virtio_console.ko");
	vigil_kmods_free(&k);
	snprintf(stage, sizeof(stage), "%s", t.stage.base);
	vigil_ktree_close(&t);
	assert_int_equal(access(stage, F_OK), -1);
	vigil_ktree_close(&t); /* twice is harmless */
	tu_rm_rf(d);
	free(d);
}

static void test_not_a_tree(void **state)
{
	char *d = tu_mkdtemp(), err[512];
	struct vigil_ktree t;

	(void)state;
	assert_int_equal(vigil_ktree_open(d, &t, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no vmlinux"));
	vigil_ktree_close(&t);
	tu_rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relative_tree),
		cmocka_unit_test(test_not_a_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
