/* SPDX-License-Identifier: MIT */
/*
 * backend_qemu: the guest backend of `vigil run`: QEMU started by vigil,
 * with its port, QMP monitor and serial console on inherited socketpairs
 * (no paths, no races) and its stderr on a pipe.
 *
 * Owns: the launch (and the KVM probe of --accel auto with its fall back
 * to TCG, remembered per host boot), QEMU's process (a pidfd source), the
 * console (scanned, copied to --console), QEMU's stderr (its last 4 KiB
 * kept for messages), the stop sequence (wait for the agent's power-off,
 * QMP quit, SIGKILL), and the one place that says what QEMU's exit means
 * (qemu_gone in backend_qemu.c).
 */
#ifndef VIGIL_CLI_BACKEND_QEMU_H
#define VIGIL_CLI_BACKEND_QEMU_H

#include "guest.h"
#include "watch.h"

struct vigil_qemu_be;

extern const struct vigil_guest_ops vigil_qemu_ops;

/* A backend for o (kept by reference). Start it with vigil_qemu_be_start
 * once the guest exists. */
int vigil_qemu_be_new(struct vigil_loop *l, const struct vigil_run_opts *o,
		      struct vigil_qemu_be **out);
/* Launch QEMU for g (KVM probe included). 0 or -errno (said on stderr). */
int vigil_qemu_be_start(struct vigil_qemu_be *b, struct vigil_guest *g);
/* The accelerator running, the machine, and QEMU's version (for the
 * status line and the provenance). */
const char *vigil_qemu_be_accel(const struct vigil_qemu_be *b);
const char *vigil_qemu_be_version(const struct vigil_qemu_be *b);
/* --on-stall debug: a finding of the run (debughold.h says which hold). */
void vigil_qemu_be_debug_consider(struct vigil_qemu_be *b, const struct vigil_finding *f);

#endif /* VIGIL_CLI_BACKEND_QEMU_H */
