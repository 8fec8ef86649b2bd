/* SPDX-License-Identifier: MIT */
/*
 * qmplink: a guest's QMP monitor, for the backends that have one (QEMU
 * launched by `vigil run`, a QEMU `vigil attach` reaches by socket).
 *
 * Owns: the QMP client's loop source; what QMP events mean for the guest
 * (STOP/RESUME: the pause clock; GUEST_PANICKED, GUEST_CRASHLOADED and
 * SHUTDOWN for a guest panic: a crash; VSERPORT_CHANGE of the vigil port
 * only: the link), and snapshots served through QMP (memory dumps, CPU
 * state, host counters). VSERPORT_CHANGE carries the port device's id; an
 * id not yet known is looked up once with qom-get (its "name" property)
 * and remembered, so another port (qemu-ga closing its own) never moves
 * the vigil link.
 * Limits: VIGIL_QMPLINK_PORTS port ids remembered; one QMP command per
 * snapshot; the QMP client's own bounds (qmp.h).
 */
#ifndef VIGIL_CLI_QMPLINK_H
#define VIGIL_CLI_QMPLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest.h"
#include "qmp.h"
#include "vcpu.h"

#define VIGIL_QMPLINK_PORTS 8
/* Guest-requested memory dumps per run: a guest must not fill the host's
 * disk. A dump starts only while fewer than VIGIL_DUMPS_MAX were started
 * and the bytes written (with those of earlier runs a backend keeps on
 * disk: vigil watch's --keep-runs), plus one more dump of their average
 * size (before the first is done: the guest's memory, when the monitor
 * knows it), stay within VIGIL_DUMP_BYTES_MAX; otherwise it is refused with
 * -EDQUOT (the session counts it in snapshot_refused). CPU-state and
 * counters files: VIGIL_SNAP_FILES_MAX per run; past it the text goes back
 * in the reply only, as without a directory. */
#define VIGIL_DUMPS_MAX      4
#define VIGIL_DUMP_BYTES_MAX (8ull << 30)
#define VIGIL_SNAP_FILES_MAX 64

struct vigil_qmplink;

/*
 * What a guest's snapshot needs of its VMM's monitor, however the monitor
 * is reached (QMP on a socket here, libvirt's monitor pass-through in
 * backend_libvirt.c): a memory dump to a file and a human-monitor command,
 * each answered once through cb (QMP's reply shape: err, the return value
 * (for hmp its text as a JSON string), a description). A function returns
 * -EOPNOTSUPP when the monitor cannot do it now. The backend owns it, with
 * the run's dump bounds.
 */
struct vigil_monitor {
	int (*dump_memory)(void *ctx, const char *path, vigil_qmp_reply_fn cb, void *arg);
	int (*hmp)(void *ctx, const char *cmd, vigil_qmp_reply_fn cb, void *arg);
	void *ctx;
	unsigned dumps;           /* memory dumps started */
	unsigned dumps_done;      /* of those, finished (their bytes in dump_bytes) */
	uint64_t dump_bytes;      /* bytes of the finished ones */
	uint64_t dump_bytes_kept; /* earlier runs' dumps still on disk, counted
				     against the bound too (vigil watch) */
	uint64_t ram_bytes;       /* the guest's memory, a dump's size before one is
				     done; 0 unknown (the first dump then starts) */
	unsigned files;           /* CPU-state and counters files written */
};

/* Facts for the host-counters snapshot, from the backend. */
struct vigil_qmplink_facts {
	pid_t vmm_pid;                 /* 0: unknown */
	struct vigil_vcpu_probe *vcpu; /* NULL: unknown */
	uint64_t console_bytes;
};

/* Takes fd (a connected QMP socket). 0 or -errno (fd closed). */
int vigil_qmplink_new(struct vigil_loop *l, struct vigil_guest *g, int fd,
		      struct vigil_qmplink **out);
/* NULL ok. */
void vigil_qmplink_free(struct vigil_qmplink *q);
/* The greeting arrived and the handshake succeeded: QEMU is up. */
bool vigil_qmplink_ready(const struct vigil_qmplink *q);
/* QEMU's version from the greeting ("" before it). */
const char *vigil_qmplink_version(const struct vigil_qmplink *q);
/* fn(ctx), once, when QMP goes away (EOF, an error) while q lives: its
 * pending commands have failed by then. Not called for vigil_qmplink_free. */
void vigil_qmplink_on_lost(struct vigil_qmplink *q, void (*fn)(void *ctx), void *ctx);
/* A new link to the same VMM keeps the run's dump bounds of the old one. */
void vigil_qmplink_inherit(struct vigil_qmplink *q, const struct vigil_qmplink *from);
/* Read what is left (QEMU exited): events still in the socket. */
void vigil_qmplink_drain(struct vigil_qmplink *q);
/* Ask QEMU to quit. 0, or -errno when QMP is not there. */
int vigil_qmplink_quit(struct vigil_qmplink *q);
/* The QMP monitor for snapshots; NULL when q is NULL. */
struct vigil_monitor *vigil_qmplink_monitor(struct vigil_qmplink *q);
/*
 * A snapshot the guest asked for, as vigil_guest_ops.snapshot: memory dumps
 * (to dir, refused without it; within VIGIL_DUMPS_MAX and
 * VIGIL_DUMP_BYTES_MAX per monitor: -EDQUOT) and CPU state need a monitor's
 * operations (m may be NULL, or without them: then refused -EOPNOTSUPP);
 * host counters need only the facts. Files besides dumps count against
 * m's VIGIL_SNAP_FILES_MAX (none without m). Completion goes to
 * vigil_guest_snapshot_done (host counters: before this returns).
 */
int vigil_vmm_snapshot(struct vigil_monitor *m, struct vigil_guest *g, const char *dir,
		       const struct vigil_qmplink_facts *f, uint32_t kind, struct vigil_str tag,
		       uint32_t id);

#endif /* VIGIL_CLI_QMPLINK_H */
