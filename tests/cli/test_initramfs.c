/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/initramfs.c: plan, cache and content of the image. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cpio_reader.h"
#include "initramfs.h"
#include "kmod_fixture.h"

struct fx {
	char *dir;
	char init[PATH_MAX], moddir[PATH_MAX], cache[PATH_MAX], tree[PATH_MAX];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = tu_mkdtemp();
	snprintf(f->init, sizeof(f->init), "%s/agent", f->dir);
	snprintf(f->cache, sizeof(f->cache), "%s/cache", f->dir);
	snprintf(f->tree, sizeof(f->tree), "%s/tree", f->dir);
	mkdir(f->cache, 0755);
	tu_write_str(f->dir, "agent", "#!/bin/sh\necho agent\n");
	/* fake modules indexed by depmod (kmod_fixture.h) */
	if (kfx_tree(f->dir, "6.1.0-test", true, f->moddir, sizeof(f->moddir)) < 0)
		fail_msg("cannot lay out and depmod the module fixture in %s", f->dir);
	tu_write_str(f->dir, "tree/a.txt", "A");
	tu_write_str(f->dir, "tree/sub/b.txt", "BB");
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	tu_rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static const struct vigil_kmod_want mods[] = { { "virtio_console", true }, { "tcp_diag", false } };

static void base_opts(struct fx *f, struct vigil_ird_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->init = f->init;
	o->init_is_agent = true;
	o->modules_dir = f->moddir;
	o->mods = mods;
	o->n_mods = 2;
	o->cache_dir = f->cache;
	o->ld_conf = "/etc/ld.so.conf";
}

static void test_layout(void **state)
{
	struct fx *f = *state;
	struct vigil_ird_add adds[] = { { f->tree, "/opt/tree" } };
	struct vigil_ird_opts o;
	struct vigil_ird_result res;
	struct tcpio_entry e;
	uint8_t *img;
	size_t len;

	base_opts(f, &o);
	o.adds = adds;
	o.n_adds = 1;
	assert_int_equal(vigil_ird_build(&o, NULL, &res), 0);
	assert_false(res.cache_hit);
	assert_int_equal(res.modules, 6); /* console, tcp_diag, deps, softdeps */
	assert_int_equal(strlen(res.hash), 32);
	img = tcpio_slurp(res.path, &len);
	assert_non_null(img);
	assert_int_equal(tcpio_find(img, len, "init", &e), 1);
	assert_int_equal(e.mode, S_IFREG | 0755);
	assert_memory_equal(e.data, "#!/bin/sh\necho agent\n", e.size);
	assert_int_equal(tcpio_find(img, len, "bin/vigil-agent", &e), 1);
	assert_int_equal(e.mode & S_IFMT, S_IFLNK);
	assert_memory_equal(e.data, "/init", 5);
	assert_int_equal(tcpio_find(img, len, "dev/console", &e), 1);
	assert_int_equal(e.mode, S_IFCHR | 0600);
	assert_int_equal(e.rmajor, 5);
	assert_int_equal(tcpio_find(img, len, "etc/vigil/modules", &e), 1);
	{
		/* modprobe's order, each after its dependencies; virtio_console
		 * has a softdep, so it is a barrier (no ':'); compressed
		 * modules carried decompressed */
#define M "/lib/modules/6.1.0-test/kernel/"
		const char want[] = M "drivers/virtio/virtio_ring.ko:\n" M
				    "drivers/virtio/virtio.ko: " M "drivers/virtio/virtio_ring.ko\n" M
				    "drivers/misc/pvpanic/pvpanic.ko:\n" M
				    "drivers/char/virtio_console.ko\n" M "net/ipv4/inet_diag.ko:\n" M
				    "net/ipv4/tcp-diag.ko: " M "net/ipv4/inet_diag.ko\n";
#undef M
		assert_int_equal(e.size, strlen(want));
		assert_memory_equal(e.data, want, strlen(want));
	}
	assert_int_equal(tcpio_find(img, len, "lib/modules/6.1.0-test/modules.dep", &e), 1);
	{
		const char *const lines[] = {
			"kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n",
			("kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko "
			 "kernel/drivers/virtio/virtio_ring.ko\n"),
			"kernel/net/ipv4/tcp-diag.ko: kernel/net/ipv4/inet_diag.ko\n",
		};
		for (size_t i = 0; i < 3; i++)
			assert_non_null(memmem(e.data, e.size, lines[i], strlen(lines[i])));
	}
	/* .ko.xz and .ko.zst: the bytes of the module before compression */
	{
		static const char *const pairs[][2] = {
			{ "lib/modules/6.1.0-test/kernel/drivers/char/virtio_console.ko",
			  VIGIL_KMOD_FIXTURE_DIR "/virtio_console.ko" },
			{ "lib/modules/6.1.0-test/kernel/net/ipv4/inet_diag.ko",
			  VIGIL_KMOD_FIXTURE_DIR "/inet_diag.ko" },
			{ "lib/modules/6.1.0-test/kernel/drivers/virtio/virtio.ko",
			  VIGIL_KMOD_FIXTURE_DIR "/virtio.ko" },
		};
		for (size_t i = 0; i < 3; i++) {
			size_t ol;
			char *orig = kfx_slurp(pairs[i][1], &ol);
			assert_non_null(orig);
			assert_int_equal(tcpio_find(img, len, pairs[i][0], &e), 1);
			assert_int_equal(e.size, ol);
			assert_memory_equal(e.data, orig, ol);
			free(orig);
		}
	}
	/* parents come before children */
	assert_int_equal(tcpio_find(img, len, "opt", &e), 1);
	assert_int_equal(e.mode & S_IFMT, S_IFDIR);
	assert_int_equal(tcpio_find(img, len, "opt/tree/sub/b.txt", &e), 1);
	assert_memory_equal(e.data, "BB", 2);
	{
		size_t off = 0;
		int seen_lib = 0, r;
		while ((r = tcpio_next(img, len, &off, &e)) == 1) {
			if (strcmp(e.name, "lib") == 0)
				seen_lib = 1;
			if (strncmp(e.name, "lib/", 4) == 0)
				assert_true(seen_lib);
		}
		assert_int_equal(r, 0);
	}
	free(img);
}

/* A compressed module and no tool to decompress it: the message says
 * which package to install. */
static void test_decompressor_missing(void **state)
{
	struct fx *f = *state;
	struct vigil_kmod_want need[] = { { "virtio_console", true } };
	char *path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin"), out[PATH_MAX];
	struct vigil_ird_opts o;
	struct vigil_ird_result res;
	int r;

	base_opts(f, &o);
	o.mods = need;
	o.n_mods = 1;
	o.cache_dir = NULL;
	snprintf(out, sizeof(out), "%s/out.cpio", f->dir);
	setenv("PATH", "/nonexistent", 1);
	r = vigil_ird_build(&o, out, &res);
	setenv("PATH", path, 1);
	free(path);
	assert_int_equal(r, -ENOENT);
	assert_non_null(strstr(res.detail, "virtio_console.ko.xz"));
	assert_non_null(strstr(res.detail, "xz-utils"));
}

static void test_cache_hit_and_invalidation(void **state)
{
	struct fx *f = *state;
	struct vigil_ird_opts o;
	struct vigil_ird_result a, b, c;

	base_opts(f, &o);
	assert_int_equal(vigil_ird_build(&o, NULL, &a), 0);
	assert_int_equal(vigil_ird_build(&o, NULL, &b), 0);
	assert_true(b.cache_hit);
	assert_string_equal(a.path, b.path);
	assert_string_equal(a.hash, b.hash);
	/* same size, different content: a new image */
	{
		char path[PATH_MAX * 2];
		size_t l = 0;
		char *data;
		snprintf(path, sizeof(path), "%s/kernel/drivers/virtio/virtio.ko", f->moddir);
		data = kfx_slurp(path, &l);
		assert_non_null(data);
		data[l - 1] ^= 1;
		assert_int_equal(
		    tu_write(f->moddir, "kernel/drivers/virtio/virtio.ko", data, l, 0644), 0);
		free(data);
	}
	assert_int_equal(vigil_ird_build(&o, NULL, &c), 0);
	assert_false(c.cache_hit);
	assert_string_not_equal(a.hash, c.hash);
	/* no busybox vs a different init program: different hashes too */
	o.init_is_agent = false;
	assert_int_equal(vigil_ird_build(&o, NULL, &b), 0);
	assert_string_not_equal(b.hash, c.hash);
}

static void test_add_overrides_and_errors(void **state)
{
	struct fx *f = *state;
	char other[PATH_MAX];
	struct vigil_ird_add adds[] = { { other, "/init" } };
	struct vigil_ird_add bad[] = { { other, "/../escape" } };
	struct vigil_ird_add missing[] = { { "/nonexistent/file", "/x" } };
	struct vigil_ird_opts o;
	struct vigil_ird_result res;
	struct tcpio_entry e;
	uint8_t *img;
	size_t len, count = 0, off = 0;

	snprintf(other, sizeof(other), "%s/tree/a.txt", f->dir);
	base_opts(f, &o);
	o.adds = adds;
	o.n_adds = 1;
	assert_int_equal(vigil_ird_build(&o, NULL, &res), 0);
	img = tcpio_slurp(res.path, &len);
	while (tcpio_next(img, len, &off, &e) == 1)
		count += strcmp(e.name, "init") == 0;
	assert_int_equal(count, 1); /* replaced, not duplicated */
	assert_int_equal(tcpio_find(img, len, "init", &e), 1);
	assert_memory_equal(e.data, "A", 1);
	free(img);

	o.adds = bad;
	assert_int_equal(vigil_ird_build(&o, NULL, &res), -EINVAL);
	assert_non_null(strstr(res.detail, "escape"));
	o.adds = missing;
	assert_int_equal(vigil_ird_build(&o, NULL, &res), -ENOENT);
	assert_non_null(strstr(res.detail, "/nonexistent/file"));
	/* a required module the kernel lacks */
	{
		struct vigil_kmod_want need[] = { { "virtio_gpu", true } };
		o.adds = NULL;
		o.n_adds = 0;
		o.mods = need;
		o.n_mods = 1;
		assert_int_equal(vigil_ird_build(&o, NULL, &res), -ENOENT);
		assert_non_null(strstr(res.detail, "virtio_gpu"));
	}
	/* a module directory without the console driver, and without
	 * indexes (depmod indexes an empty copy): the message names the
	 * option that builds it */
	{
		struct vigil_kmod_want need[] = { { "virtio_console", true } };
		char empty[PATH_MAX + 16];
		snprintf(empty, sizeof(empty), "%s/6.1.0-none", f->dir);
		assert_int_equal(mkdir(empty, 0755), 0);
		o.modules_dir = empty;
		o.mods = need;
		assert_int_equal(vigil_ird_build(&o, NULL, &res), -ENOENT);
		assert_non_null(strstr(res.detail, "CONFIG_VIRTIO_CONSOLE"));
		assert_non_null(strstr(res.detail, empty));
	}
}

/* A host program comes with its interpreter and libraries, at their paths. */
static void test_host_program(void **state)
{
	struct fx *f = *state;
	char self[PATH_MAX];
	const char *exes[1] = { self };
	struct vigil_ird_opts o;
	struct vigil_ird_result res;
	struct tcpio_entry e;
	uint8_t *img;
	size_t len, off = 0;
	bool libc = false;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	base_opts(f, &o);
	o.exes = exes;
	o.n_exes = 1;
	o.cache_dir = NULL;
	{
		char out[PATH_MAX];
		snprintf(out, sizeof(out), "%s/out.cpio", f->dir);
		assert_int_equal(vigil_ird_build(&o, out, &res), 0);
		assert_string_equal(res.path, out);
	}
	img = tcpio_slurp(res.path, &len);
	assert_int_equal(tcpio_find(img, len, self + 1, &e), 1);
	assert_int_equal(e.mode, S_IFREG | 0755);
	while (tcpio_next(img, len, &off, &e) == 1)
		libc |= strstr(e.name, "/libc.so.6") != NULL;
	assert_true(libc);
	free(img);
}

/* busybox's applets are links to it, except init and linuxrc (vigil's),
 * and modprobe is at /usr/sbin: the kernel's boot-time requests run
 * /sbin/modprobe (docs/cli.md, "Guest image"). */
static void test_busybox_applets(void **state)
{
	struct fx *f = *state;
	struct vigil_ird_opts o;
	struct vigil_ird_result res;
	struct tcpio_entry e;
	char bb[PATH_MAX];
	uint8_t *img;
	size_t len;

	tu_write_str(f->dir, "busybox",
		     "#!/bin/sh\nprintf 'bin/sh\\nsbin/modprobe\\nsbin/insmod\\nlinuxrc\\n"
		     "init\\nbin/busybox\\n'\n");
	snprintf(bb, sizeof(bb), "%s/busybox", f->dir);
	assert_int_equal(chmod(bb, 0755), 0);
	base_opts(f, &o);
	o.busybox = bb;
	assert_int_equal(vigil_ird_build(&o, NULL, &res), 0);
	img = tcpio_slurp(res.path, &len);
	assert_non_null(img);
	assert_int_equal(tcpio_find(img, len, "bin/busybox", &e), 1);
	assert_int_equal(e.mode, S_IFREG | 0755);
	{
		static const char *const links[] = { "bin/sh", "sbin/insmod", "usr/sbin/modprobe" };
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(tcpio_find(img, len, links[i], &e), 1);
			assert_int_equal(e.mode & S_IFMT, S_IFLNK);
			assert_memory_equal(e.data, "/bin/busybox", 12);
		}
	}
	assert_int_equal(tcpio_find(img, len, "sbin/modprobe", &e), 0);
	assert_int_equal(tcpio_find(img, len, "linuxrc", &e), 0);
	assert_int_equal(tcpio_find(img, len, "init", &e), 1);
	assert_int_equal(e.mode, S_IFREG | 0755); /* the agent, not a link */
	free(img);
}

static void test_cache_prune(void **state)
{
	struct fx *f = *state;
	struct vigil_ird_opts o;
	struct vigil_ird_result res;
	char body[32];
	size_t n = 0;
	FILE *p;
	char cmd[PATH_MAX + 32], line[64];

	base_opts(f, &o);
	for (int i = 0; i < VIGIL_IRD_CACHE_KEEP + 3; i++) {
		snprintf(body, sizeof(body), "init %d\n", i);
		tu_write_str(f->dir, "agent", body);
		assert_int_equal(vigil_ird_build(&o, NULL, &res), 0);
	}
	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^initramfs-'", f->cache);
	p = popen(cmd, "r");
	assert_non_null(fgets(line, sizeof(line), p));
	pclose(p);
	n = strtoul(line, NULL, 10);
	assert_int_equal(n, VIGIL_IRD_CACHE_KEEP);
	/* the newest survives */
	assert_int_equal(access(res.path, R_OK), 0);
}

static void test_kernel_release(void **state)
{
	struct fx *f = *state;
	uint8_t hdr[0x400];
	char rel[64], path[PATH_MAX];

	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr + 0x202, "HdrS", 4);
	hdr[0x20E] = 0x00; /* version string at 0x100 + 0x200 */
	hdr[0x20F] = 0x01;
	memcpy(hdr + 0x300, "6.1.0-99-test (someone@host) #1 SMP", 35);
	assert_int_equal(tu_write(f->dir, "bzImage", hdr, sizeof(hdr), 0644), 0);
	snprintf(path, sizeof(path), "%s/bzImage", f->dir);
	assert_int_equal(vigil_kernel_release(path, rel, sizeof(rel)), 0);
	assert_string_equal(rel, "6.1.0-99-test");
	assert_int_equal(vigil_kernel_release(path, rel, 5), -ENOEXEC);
	hdr[0x202] = 'X';
	assert_int_equal(tu_write(f->dir, "bzImage", hdr, sizeof(hdr), 0644), 0);
	assert_int_equal(vigil_kernel_release(path, rel, sizeof(rel)), -ENOEXEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_decompressor_missing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cache_hit_and_invalidation, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_add_overrides_and_errors, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_program, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_busybox_applets, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cache_prune, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_kernel_release, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
