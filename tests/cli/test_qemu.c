/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/qemu.c: command lines and TSC parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qemu.h"

static const char *arg_after(const struct vigil_argv *a, const char *opt, int nth)
{
	for (size_t i = 0; i + 1 < a->n; i++)
		if (strcmp(a->v[i], opt) == 0 && nth-- == 0)
			return a->v[i + 1];
	return NULL;
}

static bool has_arg(const struct vigil_argv *a, const char *s)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], s) == 0)
			return true;
	return false;
}

static void test_microvm_defaults(void **state)
{
	struct vigil_qemu_cfg c = {
		.kernel = "/boot/vmlinuz",
		.initrd = "/tmp/i.cpio",
		.tsc_khz = 2299998,
		.guest_params = "vigil.x=1 -- uname -a",
		.port = { .fd = 7 },
		.qmp = { .fd = 8 },
		.console = { .fd = 9 },
	};
	struct vigil_argv a;
	const char *app;

	(void)state;
	assert_int_equal(vigil_qemu_argv(&c, &a), 0);
	assert_string_equal(a.v[0], "qemu-system-x86_64");
	assert_null(a.v[a.n]);
	assert_string_equal(arg_after(&a, "-M", 0), "microvm,x-option-roms=off");
	assert_string_equal(arg_after(&a, "-accel", 0), "tcg");
	assert_null(arg_after(&a, "-cpu", 0)); /* TCG: QEMU's default model */
	assert_string_equal(arg_after(&a, "-m", 0), "512");
	assert_string_equal(arg_after(&a, "-smp", 0), "1");
	assert_true(has_arg(&a, "-no-reboot"));
	assert_true(has_arg(&a, "-nodefaults"));
	assert_string_equal(arg_after(&a, "-chardev", 0), "socket,id=con,fd=9");
	assert_string_equal(arg_after(&a, "-chardev", 1), "socket,id=vport,fd=7");
	assert_string_equal(arg_after(&a, "-chardev", 2), "socket,id=qmp,fd=8");
	assert_string_equal(arg_after(&a, "-device", 0), "virtio-serial-device");
	assert_string_equal(arg_after(&a, "-device", 1),
			    "virtserialport,chardev=vport,name=org.vigil.bulk.0");
	assert_string_equal(arg_after(&a, "-device", 2), "pvpanic");
	/* a panic is reported, not acted on: the kernel's report reaches the console */
	assert_string_equal(arg_after(&a, "-action", 0), "panic=none");
	assert_null(arg_after(&a, "-action", 1));
	assert_string_equal(arg_after(&a, "-mon", 0), "chardev=qmp,mode=control");
	app = arg_after(&a, "-append", 0);
	assert_non_null(strstr(app, "console=ttyS0 "));
	assert_non_null(strstr(app, VIGIL_FAST_APPEND));
	assert_non_null(strstr(app, " tsc_early_khz=2299998"));
	assert_non_null(strstr(app, " panic=-1"));
	/* the workload stays last */
	assert_non_null(strstr(app, "vigil.x=1 -- uname -a"));
	assert_string_equal(app + strlen(app) - strlen("-- uname -a"), "-- uname -a");
	vigil_argv_free(&a);
}

/* --on-stall debug: the gdbstub on vigil's socket, the person's QMP, a
 * panic pauses, nokaslr before the user's words; otherwise none of it, and
 * a panic is only reported. */
static void test_debug(void **state)
{
	struct vigil_qemu_cfg c = {
		.kernel = "/boot/vmlinuz",
		.initrd = "/tmp/i.cpio",
		.append = "quiet user-last",
		.port = { .fd = 7 },
		.qmp = { .fd = 8 },
		.console = { .fd = 9 },
		.debug = true,
		.gdb_fd = 11,
		.qmp_debug = "/run/vigil/dbg.1.abcdef/qmp.sock",
	};
	struct vigil_argv a;
	const char *app;

	(void)state;
	assert_int_equal(vigil_qemu_argv(&c, &a), 0);
	assert_string_equal(arg_after(&a, "-chardev", 3), "socket,id=gdb,fd=11,server=on,wait=off");
	assert_string_equal(arg_after(&a, "-gdb", 0), "chardev:gdb");
	assert_string_equal(arg_after(&a, "-chardev", 4),
			    "socket,id=qmpdbg,path=/run/vigil/dbg.1.abcdef/qmp.sock,server=on,wait=off");
	assert_string_equal(arg_after(&a, "-mon", 1), "chardev=qmpdbg,mode=control");
	assert_string_equal(arg_after(&a, "-action", 0), "panic=pause");
	assert_null(arg_after(&a, "-action", 1)); /* not also none */
	app = arg_after(&a, "-append", 0);
	assert_non_null(strstr(app, " nokaslr "));
	assert_true(strstr(app, " nokaslr ") < strstr(app, "user-last"));
	vigil_argv_free(&a);

	c.gdb_fd = -1; /* debug without its socket: refused */
	assert_int_equal(vigil_qemu_argv(&c, &a), -EINVAL);
	vigil_argv_free(&a);

	c.debug = false;
	assert_int_equal(vigil_qemu_argv(&c, &a), 0);
	assert_null(arg_after(&a, "-gdb", 0));
	assert_string_equal(arg_after(&a, "-action", 0), "panic=none");
	assert_null(strstr(arg_after(&a, "-append", 0), "nokaslr "));
	vigil_argv_free(&a);
}

static void test_host_root_share(void **state)
{
	struct vigil_qemu_cfg c = {
		.kernel = "/boot/vmlinuz",
		.initrd = "/tmp/i.cpio",
		.memory_mb = 1024,
		.port = { .fd = 7 },
		.console = { .fd = 9 },
		.qmp = { .fd = -1 },
		.fs_socket = "/run/vigil/vfs.1.x/vfs.sock",
	};
	struct vigil_argv a;

	(void)state;
	assert_int_equal(vigil_qemu_argv(&c, &a), 0);
	assert_string_equal(arg_after(&a, "-M", 0), "microvm,x-option-roms=off,memory-backend=mem");
	assert_string_equal(arg_after(&a, "-object", 0),
			    "memory-backend-memfd,id=mem,size=1024M,share=on");
	assert_string_equal(arg_after(&a, "-chardev", 2),
			    "socket,id=vfs,path=/run/vigil/vfs.1.x/vfs.sock");
	assert_string_equal(arg_after(&a, "-device", 2),
			    "vhost-user-fs-device,chardev=vfs,tag=" VIGIL_FS_TAG);
	assert_string_equal(arg_after(&a, "-global", 0), "virtio-mmio.force-legacy=false");
	vigil_argv_free(&a);
	c.machine = VIGIL_MACHINE_PC;
	assert_int_equal(vigil_qemu_argv(&c, &a), 0);
	assert_string_equal(arg_after(&a, "-M", 0), "pc,memory-backend=mem");
	assert_string_equal(arg_after(&a, "-device", 2),
			    "vhost-user-fs-pci,chardev=vfs,tag=" VIGIL_FS_TAG);
	assert_null(arg_after(&a, "-global", 0)); /* virtio-pci is modern already */
	vigil_argv_free(&a);
	c.fs_socket = NULL; /* image mode: none of it */
	assert_int_equal(vigil_qemu_argv(&c, &a), 0);
	assert_null(arg_after(&a, "-object", 0));
	assert_string_equal(arg_after(&a, "-M", 0), "pc");
	vigil_argv_free(&a);
}

static void test_pc_paths_and_overrides(void **state)
{
	const char *extra[] = { "-smp", "4" };
	struct vigil_qemu_cfg c = {
		.qemu = "/opt/qemu",
		.machine = VIGIL_MACHINE_PC,
		.accel = VIGIL_ACCEL_KVM,
		.kernel = "k",
		.initrd = "i",
		.memory_mb = 1024,
		.cpus = 2,
		.tsc_khz = 1000000,
		.append = "loglevel=7",
		.port = { .fd = -1, .path = "/run/x/port.sock" },
		.qmp = { .fd = -1, .path = NULL },
		.console = { .fd = 3 },
		.extra = extra,
		.n_extra = 2,
	};
	struct vigil_argv a;
	const char *app;

	(void)state;
	assert_int_equal(vigil_qemu_argv(&c, &a), 0);
	assert_string_equal(a.v[0], "/opt/qemu");
	assert_string_equal(arg_after(&a, "-M", 0), "pc");
	assert_string_equal(arg_after(&a, "-accel", 0), "kvm");
	assert_string_equal(arg_after(&a, "-cpu", 0), "host");
	assert_string_equal(arg_after(&a, "-m", 0), "1024");
	assert_string_equal(arg_after(&a, "-device", 0), "virtio-serial-pci");
	assert_string_equal(arg_after(&a, "-chardev", 1),
			    "socket,id=vport,path=/run/x/port.sock,server=on,wait=off");
	assert_null(arg_after(&a, "-mon", 0)); /* no QMP channel given */
	app = arg_after(&a, "-append", 0);
	assert_null(strstr(app, "tsc_early_khz")); /* microvm only */
	/* the user's words come after vigil's, so the kernel takes them */
	assert_true(strstr(app, "loglevel=7") > strstr(app, "loglevel=4"));
	/* --qemu-arg goes last: QEMU takes the last -smp */
	assert_string_equal(a.v[a.n - 2], "-smp");
	assert_string_equal(a.v[a.n - 1], "4");
	vigil_argv_free(&a);

	c.port.path = "/bad,path";
	assert_int_equal(vigil_qemu_argv(&c, &a), -EINVAL);
	c.port.path = NULL;
	assert_int_equal(vigil_qemu_argv(&c, &a), -EINVAL);
	c.port.fd = 4;
	c.console.fd = -1;
	assert_int_equal(vigil_qemu_argv(&c, &a), -EINVAL);
}

static void test_join_quotes(void **state)
{
	struct vigil_argv a = { 0 };
	char *s;

	(void)state;
	assert_int_equal(vigil_argv_push(&a, "qemu"), 0);
	assert_int_equal(vigil_argv_push(&a, "a b"), 0);
	assert_int_equal(vigil_argv_push(&a, "it's"), 0);
	assert_int_equal(vigil_argv_push(&a, ""), 0);
	s = vigil_argv_join(&a);
	assert_string_equal(s, "qemu 'a b' 'it'\\''s' ''");
	free(s);
	vigil_argv_free(&a);
}

static void test_tsc_parsers(void **state)
{
	uint32_t khz = 0;

	(void)state;
	assert_int_equal(
	    vigil_tsc_khz_from_kmsg("<6>[0.0] tsc: Detected 2299.998 MHz processor\n"
				    "<6>[2.2] tsc: Refined TSC clocksource calibration: "
				    "2299.974 MHz\n",
				    &khz),
	    0);
	assert_int_equal(khz, 2299974);
	assert_int_equal(vigil_tsc_khz_from_kmsg("tsc: Detected 3000.000 MHz processor\n", &khz),
			 0);
	assert_int_equal(khz, 3000000);
	assert_int_equal(vigil_tsc_khz_from_kmsg("nothing here\n", &khz), -ENOENT);
	assert_int_equal(vigil_tsc_khz_from_kmsg("tsc: Detected 0.5 MHz processor\n", &khz),
			 -ENOENT);
	assert_int_equal(vigil_tsc_khz_from_cpuinfo("\ncpu MHz\t\t: 2299.998\n"
						    "flags\t\t: fpu tsc constant_tsc nonstop_tsc\n",
						    &khz),
			 0);
	assert_int_equal(khz, 2299998);
	assert_int_equal(vigil_tsc_khz_from_cpuinfo("\ncpu MHz\t\t: 2299.998\n"
						    "flags\t\t: fpu tsc\n",
						    &khz),
			 -ENOENT);
	/* this host: some source must work, and the number must be sane */
	assert_int_equal(vigil_tsc_khz(&khz), 0);
	assert_true(khz >= 100000 && khz <= 20000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_microvm_defaults),
		cmocka_unit_test(test_host_root_share),
		cmocka_unit_test(test_debug),
		cmocka_unit_test(test_pc_paths_and_overrides),
		cmocka_unit_test(test_join_quotes),
		cmocka_unit_test(test_tsc_parsers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
