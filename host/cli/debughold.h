/* SPDX-License-Identifier: MIT */
/*
 * debughold: `vigil run --on-stall debug` — keep a stalled or crashed guest
 * for a person to look at, instead of quitting it.
 *
 * Owns: what QEMU gets at launch in this mode (a gdbstub on a loopback TCP
 * port vigil binds itself, so the port is known and no other program can
 * take it in between; a second QMP monitor on a unix socket in a private
 * runtime directory, since vigil holds the first; `nokaslr`, so the
 * kernel's symbols match its addresses; `-action panic=pause`, so a panic
 * keeps the VM's state instead of ending QEMU), the decision to hold (the
 * run ended on a process stall, a guest stall or a crash: never on the
 * host's starvation, a timeout or the workload's exit), the way in printed
 * for the person, and the runtime directory's removal.
 *
 * The hold itself is the QEMU backend's: it stops the VM through QMP and
 * waits, with no timer, until vigil is told to end (SIGINT, SIGTERM) or
 * QEMU exits (the person quit it through gdb or QMP). One per launch.
 */
#ifndef VIGIL_CLI_DEBUGHOLD_H
#define VIGIL_CLI_DEBUGHOLD_H

#include <stdbool.h>
#include <stddef.h>

#include <vigil/session.h>

#include "qemu.h"
#include "rundir.h"

#define VIGIL_DEBUG_WHY_MAX 256

struct vigil_debug {
	int gdb_fd;    /* the listening socket until QEMU has it; -1 */
	unsigned port; /* the gdbstub's loopback TCP port */
	char dir[VIGIL_RUNDIR_MAX];
	char qmp[VIGIL_RUNDIR_MAX + 16]; /* dir/qmp.sock */
	char why[VIGIL_DEBUG_WHY_MAX];   /* the finding to hold for; "" none */
	enum vigil_outcome outcome;      /* of the highest-ranked fatal finding seen */
	bool outcome_set;
	bool held;
};

/* Zeroed and closed: nothing made yet. */
void vigil_debug_init(struct vigil_debug *d);
/* For one launch: the listening socket and the runtime directory; the
 * QEMU settings go into c. 0, or -errno with err saying what failed. */
int vigil_debug_prepare(struct vigil_debug *d, struct vigil_qemu_cfg *c, char *err, size_t cap);
/* QEMU has its copy of the gdbstub's socket: close ours. */
void vigil_debug_launched(struct vigil_debug *d);
/* Close what is open, remove the runtime directory. Safe to repeat. */
void vigil_debug_release(struct vigil_debug *d);

/* A fatal finding of the run. The highest-ranked one decides (as it decides
 * the verdict): PROCESS_STALL, GUEST_STALL or GUEST_CRASH is a reason to
 * hold, kept in words in d->why; any other outcome (HOST_STARVED, a
 * timeout, the workload's exit, ...) clears it. true: d->why is set now. */
bool vigil_debug_consider(struct vigil_debug *d, const struct vigil_finding *f);

/*
 * The way in, for a person, into buf (NUL-terminated, cut at cap):
 * why vigil holds, the gdb command (with symbols when a file with them is
 * known: the booted kernel if it has a symbol table, the Debian debug
 * package's vmlinux for release; else how to get them), the QMP socket,
 * how to end. Returns the length written.
 */
size_t vigil_debug_text(const struct vigil_debug *d, int qemu_pid, const char *kernel,
			const char *release, char *buf, size_t cap);

#endif /* VIGIL_CLI_DEBUGHOLD_H */
