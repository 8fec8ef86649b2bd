/* SPDX-License-Identifier: MIT */
/*
 * qemu: the QEMU command line for a vigil guest, and the host facts it
 * needs (TSC frequency).
 *
 * Owns: machine defaults (microvm with virtio-mmio, or pc with virtio-pci),
 * the fast-boot kernel command line, the devices vigil relies on (the
 * org.vigil.bulk.0 port, a QMP monitor, the serial console, pvpanic) and
 * the order in which user overrides apply: vigil's words first, then
 * --append words (the kernel takes the last of a repeated parameter), then
 * --qemu-arg arguments after vigil's own.
 * The channels are either inherited socket fds (vigil run: socketpairs, no
 * paths, no races) or unix socket paths QEMU listens on (for attach).
 */
#ifndef VIGIL_CLI_QEMU_H
#define VIGIL_CLI_QEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vigil_machine {
	VIGIL_MACHINE_MICROVM = 0,
	VIGIL_MACHINE_PC,
};

enum vigil_accel {
	VIGIL_ACCEL_TCG = 0,
	VIGIL_ACCEL_KVM,
};

#define VIGIL_PORT_NAME "org.vigil.bulk.0"
#define VIGIL_FS_TAG    "vigilroot" /* the virtiofs tag of --rootfs host */
/* Appended to every kernel command line before --append. */
#define VIGIL_FAST_APPEND "loglevel=4 tsc=reliable no_timer_check noreplace-smp cryptomgr.notests"

/* One channel: an inherited socket fd (fd >= 0), else a server socket path. */
struct vigil_qemu_chan {
	int fd;
	const char *path;
};

struct vigil_qemu_cfg {
	const char *qemu; /* binary; NULL: "qemu-system-x86_64" */
	enum vigil_machine machine;
	enum vigil_accel accel;
	const char *kernel;
	const char *initrd;
	unsigned memory_mb;       /* 0: 512 */
	unsigned cpus;            /* 0: 1 */
	uint32_t tsc_khz;         /* microvm: tsc_early_khz; 0 unknown (left out) */
	const char *guest_params; /* vigil.* words for the agent, may be NULL */
	const char *append;       /* user's words, last; may be NULL */
	struct vigil_qemu_chan port;
	struct vigil_qemu_chan qmp;
	struct vigil_qemu_chan console; /* fd only: the serial console */
	/* --rootfs host: virtiofsd's vhost-user socket, shared as tag
	 * "vigilroot" (guest memory then is a shared memfd); NULL: none */
	const char *fs_socket;
	/* --on-stall debug (debughold.h): a gdbstub on the listening socket
	 * gdb_fd, a second QMP monitor at qmp_debug, nokaslr, and a panic
	 * pauses the VM. gdb_fd and qmp_debug are read only when debug is set. */
	bool debug;
	int gdb_fd;
	const char *qmp_debug;
	const char *const *extra; /* --qemu-arg, appended as given */
	size_t n_extra;
};

/* A NULL-terminated argv, owned. */
struct vigil_argv {
	char **v;
	size_t n, cap;
};

/*
 * Build the command line. 0, -EINVAL (no kernel, no channel for the port or
 * the console), -ENOMEM. Free with vigil_argv_free() in every case.
 */
int vigil_qemu_argv(const struct vigil_qemu_cfg *c, struct vigil_argv *out);
void vigil_argv_free(struct vigil_argv *a);
/* Append one string (copied). */
int vigil_argv_push(struct vigil_argv *a, const char *s);
/* The argv as one shell-readable line (for --verbose and errors); malloc'd. */
char *vigil_argv_join(const struct vigil_argv *a);

/*
 * The host TSC frequency in kHz: CPUID leaf 0x15 (crystal ratio), 0x16,
 * the hypervisor timing leaf 0x40000010, the kernel log ("tsc: Refined TSC
 * clocksource calibration" or "tsc: Detected"), then /proc/cpuinfo "cpu MHz"
 * when the TSC is constant. 0 and *khz, or -ENOENT.
 */
int vigil_tsc_khz(uint32_t *khz);
/* The parsers behind it, on given text (tests feed fixtures). */
int vigil_tsc_khz_from_kmsg(const char *text, uint32_t *khz);
int vigil_tsc_khz_from_cpuinfo(const char *text, uint32_t *khz);

const char *vigil_machine_name(enum vigil_machine m);
const char *vigil_accel_name(enum vigil_accel a);

#endif /* VIGIL_CLI_QEMU_H */
