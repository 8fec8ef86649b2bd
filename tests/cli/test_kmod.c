/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/kmod.c: modules.dep resolution on fixture trees. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kmod.h"
#include "test_util.h"

static const char fixture_dep[] =
    "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/virtio/virtio_ring.ko:\n"
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko "
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/char/virtio_console.ko.xz: kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/net/ipv4/tcp-diag.ko: kernel/net/ipv4/inet_diag.ko\n"
    "kernel/net/ipv4/inet_diag.ko:\n"
    "kernel/a.ko: kernel/b.ko\n"
    "kernel/b.ko: kernel/a.ko\n"
    "kernel/ghost.ko: kernel/not-described.ko\n";

static char *fixture(void)
{
	char *d = tu_mkdtemp();

	assert_non_null(d);
	assert_int_equal(tu_write_str(d, "modules.dep", fixture_dep), 0);
	assert_int_equal(tu_write_str(d, "modules.builtin",
				      "kernel/drivers/tty/serial/8250.ko\n"
				      "kernel/fs/ext4/ext4.ko\n"),
			 0);
	return d;
}

static size_t index_of(const struct vigil_kmods *k, const char *suffix)
{
	for (size_t i = 0; i < k->n; i++) {
		size_t l = strlen(k->rel[i]), s = strlen(suffix);
		if (l >= s && strcmp(k->rel[i] + l - s, suffix) == 0)
			return i;
	}
	fail_msg("%s not in the result", suffix);
	return SIZE_MAX;
}

static void test_load_order(void **state)
{
	struct vigil_kmod_want w[] = { { "virtio_pci", true }, { "virtio-console", true } };
	struct vigil_kmods k;
	char *d = fixture();

	(void)state;
	assert_int_equal(vigil_kmod_resolve(d, w, 2, &k), 0);
	assert_int_equal(k.n, 6); /* ring, virtio, modern, legacy, pci, console */
	assert_true(index_of(&k, "/virtio_ring.ko") < index_of(&k, "/virtio.ko"));
	assert_true(index_of(&k, "/virtio.ko") < index_of(&k, "/virtio_pci.ko"));
	assert_true(index_of(&k, "/virtio_pci_modern_dev.ko") < index_of(&k, "/virtio_pci.ko"));
	assert_true(index_of(&k, "/virtio_pci_legacy_dev.ko") < index_of(&k, "/virtio_pci.ko"));
	assert_int_equal(index_of(&k, "/virtio_console.ko.xz"), 5);
	/* modprobe's order: the deps' listing reversed */
	assert_string_equal(k.rel[0], "kernel/drivers/virtio/virtio_ring.ko");
	assert_string_equal(k.rel[1], "kernel/drivers/virtio/virtio.ko");
	assert_string_equal(k.rel[2], "kernel/drivers/virtio/virtio_pci_modern_dev.ko");
	assert_string_equal(k.rel[3], "kernel/drivers/virtio/virtio_pci_legacy_dev.ko");
	assert_string_equal(k.deps[5],
			    "kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko");
	vigil_kmods_free(&k);
	tu_rm_rf(d);
	free(d);
}

static void test_builtin_optional_missing(void **state)
{
	struct vigil_kmod_want w[] = {
		{ "8250", true },      /* built in */
		{ "nosuch", false },   /* absent, optional */
		{ "tcp_diag", false }, /* '-' in the file name */
	};
	struct vigil_kmod_want req[] = { { "nosuch_required", true } };
	struct vigil_kmods k;
	char *d = fixture();

	(void)state;
	assert_int_equal(vigil_kmod_resolve(d, w, 3, &k), 0);
	assert_int_equal(k.builtin, 1);
	assert_int_equal(k.absent_optional, 1);
	assert_int_equal(k.n, 2);
	assert_string_equal(k.rel[0], "kernel/net/ipv4/inet_diag.ko");
	assert_string_equal(k.rel[1], "kernel/net/ipv4/tcp-diag.ko");
	vigil_kmods_free(&k);
	assert_int_equal(vigil_kmod_resolve(d, req, 1, &k), -ENOENT);
	assert_string_equal(k.missing, "nosuch_required");
	vigil_kmods_free(&k);
	tu_rm_rf(d);
	free(d);
}

static void test_cycle_and_dangling(void **state)
{
	struct vigil_kmod_want cyc[] = { { "a", true } };
	struct vigil_kmod_want dang[] = { { "ghost", true } };
	struct vigil_kmods k;
	char *d = fixture();

	(void)state;
	assert_int_equal(vigil_kmod_resolve(d, cyc, 1, &k), -ELOOP);
	vigil_kmods_free(&k);
	assert_int_equal(vigil_kmod_resolve(d, dang, 1, &k), -ENOENT);
	assert_string_equal(k.missing, "");
	vigil_kmods_free(&k);
	assert_int_equal(vigil_kmod_resolve("/nonexistent-dir", cyc, 1, &k), -ENOENT);
	vigil_kmods_free(&k);
	tu_rm_rf(d);
	free(d);
}

static void test_name(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(vigil_kmod_name("kernel/x/virtio-pci.ko.zst", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "virtio_pci");
	assert_int_equal(vigil_kmod_name("plain", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "plain");
	assert_int_equal(vigil_kmod_name("a/0123456789abcdef.ko", buf, sizeof(buf)), -ENAMETOOLONG);
	assert_int_equal(vigil_kmod_name("a/0123456789abcde.ko", buf, sizeof(buf)), 0);
}

/* The host's own kernel, when it has one: virtio_console resolves. */
static void test_real_kernel(void **state)
{
	struct vigil_kmod_want w[] = { { "virtio_console", true }, { "virtio_pci", false } };
	char dir[PATH_MAX], rel[128];
	struct vigil_kmods k;
	FILE *f = popen("ls /lib/modules | sort -V | tail -1", "r");

	(void)state;
	if (!f || !fgets(rel, sizeof(rel), f)) {
		if (f)
			pclose(f);
		skip();
	}
	pclose(f);
	rel[strcspn(rel, "\n")] = '\0';
	snprintf(dir, sizeof(dir), "/lib/modules/%s", rel);
	if (access(dir, R_OK) < 0 || strlen(rel) == 0)
		skip();
	assert_int_equal(vigil_kmod_resolve(dir, w, 2, &k), 0);
	assert_true(k.n + k.builtin >= 1);
	vigil_kmods_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_order),
		cmocka_unit_test(test_builtin_optional_missing),
		cmocka_unit_test(test_cycle_and_dangling),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_real_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
