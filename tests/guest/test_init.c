/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/init.c (command line contract, tmpfs over /tmp and /run
 * only where nothing was carried) and guest/port.c (lookup by name).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "init.h"
#include "port.h"
#include "rx.h"

static struct init_cmdline cl;

static void parse(const char *s)
{
	assert_int_equal(init_parse_cmdline(s, strlen(s), &cl), 0);
}

static void test_dashes(void **state)
{
	(void)state;
	parse("console=ttyS0 quiet vigil.flows_ms=250 -- /bin/echo hello \"two words\" --x\n");
	assert_int_equal(cl.argc, 4);
	assert_string_equal(cl.argv[0], "/bin/echo");
	assert_string_equal(cl.argv[1], "hello");
	assert_string_equal(cl.argv[2], "two words");
	assert_string_equal(cl.argv[3], "--x");
	assert_null(cl.argv[4]);
	assert_null(cl.run);
	assert_string_equal(init_param(&cl, "flows_ms"), "250");
	assert_null(init_param(&cl, "console")); /* not vigil's */
}

static void test_run_param(void **state)
{
	(void)state;
	parse("vigil.run=\"echo a; exit 3\" vigil.kmsg=off vigil.kmsg vigil.flows_ms=1 "
	      "vigil.flows_ms=2");
	assert_string_equal(cl.run, "echo a; exit 3");
	assert_int_equal(cl.argc, 0);
	assert_string_equal(init_param(&cl, "kmsg"), ""); /* the last one wins */
	assert_string_equal(init_param(&cl, "flows_ms"), "2");
	/* Quotes around the whole word, as the kernel also accepts. */
	parse("\"vigil.run=ls -l /\"");
	assert_string_equal(cl.run, "ls -l /");
}

static void test_edges(void **state)
{
	char big[INIT_CMDLINE_MAX * 2];

	(void)state;
	parse("");
	assert_int_equal(cl.argc, 0);
	assert_int_equal(cl.nparams, 0);
	parse("--");
	assert_int_equal(cl.argc, 0);
	parse("a -- -- b");
	assert_int_equal(cl.argc, 2);
	assert_string_equal(cl.argv[0], "--");
	parse("vigil.x=\"unterminated");
	assert_string_equal(init_param(&cl, "x"), "unterminated");
	/* Over the bounds: cut, reported. */
	memset(big, 'a', sizeof(big));
	for (size_t i = 1; i < sizeof(big); i += 2)
		big[i] = ' ';
	memcpy(big, "-- ", 3);
	assert_int_equal(init_parse_cmdline(big, sizeof(big), &cl), -E2BIG);
	assert_int_equal(cl.argc, INIT_MAX_ARGS);
	assert_null(cl.argv[INIT_MAX_ARGS]);
}

static void test_port_find(void **state)
{
	char root[64], p[256], dev[64];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmp_template(root, sizeof(root), "/tmp/vigil-sys-")));
	assert_int_equal(port_find(root, PORT_NAME_DEFAULT, dev, sizeof(dev)), -ENOENT);
	snprintf(p, sizeof(p), "%s/class", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/class/virtio-ports", root);
	mkdir(p, 0755);
	const char *names[][2] = { { "vport0p0", "" },
				   { "vport1p1", "other.port\n" },
				   { "vport1p2", PORT_NAME_DEFAULT "\n" } };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/class/virtio-ports/%s", root, names[i][0]);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), "%s/class/virtio-ports/%s/name", root, names[i][0]);
		f = fopen(p, "w");
		fputs(names[i][1], f);
		fclose(f);
	}
	assert_int_equal(port_find(root, PORT_NAME_DEFAULT, dev, sizeof(dev)), 0);
	assert_string_equal(dev, "/dev/vport1p2");
	assert_int_equal(port_find(root, "org.vigil.bulk.1", dev, sizeof(dev)), -ENOENT);
	snprintf(p, sizeof(p), "rm -rf %s", root);
	assert_int_equal(system(p), 0);
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("#!/bin/sh\necho hello\n", f);
	fclose(f);
}

/* Files the host carried under /tmp or /run stay visible: no tmpfs over them. */
static void test_tmpfs_keeps_carried(void **state)
{
	char root[64], p[256];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(tmp_template(root, sizeof(root), "/tmp/vigil-root-")));
	snprintf(p, sizeof(p), "%s/tmp", root);
	assert_int_equal(mkdir(p, 0755), 0); /* as the host's cpio makes it */
	snprintf(p, sizeof(p), "%s/tmp/x", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/tmp/x/hello", root);
	touch(p);
	snprintf(p, sizeof(p), "%s/tmp", root);
	assert_int_equal(init_dir_populated(p), 1);
	assert_int_equal(init_tmpfs(p, 01777), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 01777); /* sticky, world-writable */
	snprintf(p, sizeof(p), "%s/tmp/x/hello", root);
	assert_int_equal(access(p, R_OK), 0); /* still there */
	/* A dot file is an entry too. */
	snprintf(p, sizeof(p), "%s/run", root);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(init_dir_populated(p), 0);
	snprintf(p, sizeof(p), "%s/run/.keep", root);
	touch(p);
	snprintf(p, sizeof(p), "%s/run", root);
	assert_int_equal(init_dir_populated(p), 1);
	assert_int_equal(init_tmpfs(p, 0755), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	snprintf(p, sizeof(p), "%s/missing", root);
	assert_int_equal(init_dir_populated(p), 0);
	snprintf(p, sizeof(p), "rm -rf %s", root);
	assert_int_equal(system(p), 0);
}

/* An empty or missing directory gets its tmpfs (where this test may mount). */
static void test_tmpfs_mounts_empty(void **state)
{
	char root[64], p[256];
	struct statfs sf;
	struct stat st;
	int r;

	(void)state;
	assert_non_null(mkdtemp(tmp_template(root, sizeof(root), "/tmp/vigil-root-")));
	snprintf(p, sizeof(p), "%s/tmp", root); /* missing: created */
	r = init_tmpfs(p, 01777);
	if (r == -EPERM) {
		/* No CAP_SYS_ADMIN here: the directory was made, the mount refused. */
		assert_int_equal(stat(p, &st), 0);
	} else {
		assert_int_equal(r, 1);
		assert_int_equal(statfs(p, &sf), 0);
		assert_true(sf.f_type == TMPFS_MAGIC);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 07777, 01777);
		assert_int_equal(umount2(p, MNT_DETACH), 0);
	}
	snprintf(p, sizeof(p), "rm -rf %s", root);
	assert_int_equal(system(p), 0);
}

static void put_exe(const char *root, const char *rel)
{
	char p[256], cmd[1024];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname %s)\" && : > %s && chmod 755 %s", p, p, p);
	assert_int_equal(system(cmd), 0);
}

static void slurp_eq(const char *path, const char *want)
{
	char b[64] = { 0 };
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_int_equal(fread(b, 1, sizeof(b) - 1, f), strlen(want));
	fclose(f);
	assert_string_equal(b, want);
}

/* Autoloading follows the root's modprobe: /sbin's first, then /usr/sbin's
 * (vigil's image); with neither, the sysctl is left as it was. */
static void test_modprobe_path(void **state)
{
	char root[64], sysctl[128], p[256];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmp_template(root, sizeof(root), "/tmp/vigil-root-")));
	snprintf(sysctl, sizeof(sysctl), "%s/modprobe-sysctl", root);
	f = fopen(sysctl, "w");
	assert_non_null(f);
	fputs("/sbin/modprobe\n", f); /* the kernel's default */
	fclose(f);
	assert_null(init_modprobe_path(root, sysctl));
	slurp_eq(sysctl, "/sbin/modprobe\n");
	put_exe(root, "usr/sbin/modprobe");
	assert_string_equal(init_modprobe_path(root, sysctl), "/usr/sbin/modprobe");
	slurp_eq(sysctl, "/usr/sbin/modprobe");
	put_exe(root, "sbin/modprobe");
	assert_string_equal(init_modprobe_path(root, sysctl), "/sbin/modprobe");
	slurp_eq(sysctl, "/sbin/modprobe");
	snprintf(p, sizeof(p), "%s/nodir/sysctl", root);
	assert_null(init_modprobe_path(root, p)); /* the write failed */
	snprintf(p, sizeof(p), "rm -rf %s", root);
	assert_int_equal(system(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dashes),
		cmocka_unit_test(test_run_param),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_port_find),
		cmocka_unit_test(test_tmpfs_keeps_carried),
		cmocka_unit_test(test_tmpfs_mounts_empty),
		cmocka_unit_test(test_modprobe_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
