/* SPDX-License-Identifier: MIT */
/*
 * rootfs: PID 1's switch into the host's root for `vigil run --rootfs
 * host` (docs/agent.md, "The host's root").
 *
 * From the initramfs, before the agent starts: the virtiofs share tagged
 * ROOTFS_TAG is mounted at ROOTFS_LOWER; an overlay whose lower layer is
 * the share and whose upper layer is a tmpfs becomes the new root, so the
 * workload may write anywhere and its writes vanish with the guest; each
 * rw record binds the share's own directory over the overlay's (writes
 * reach the host, where the host allows them); each bindsrc/binddst pair
 * binds the overlay's SRC at DST; /proc, /sys and /dev move over; /run is
 * a fresh tmpfs holding vigil-agent (ROOTFS_AGENT_DIR, a bind of /init)
 * and the agent's sockets; then PID 1 chroots into it. The initramfs stays
 * below, unreachable.
 *
 * Trust: read-only is enforced by the host (hostroot.h), not here: the
 * guest may remount whatever it likes. Limits: the workload file's
 * (WL_MAX_MOUNTS). Load: once per boot, a dozen mount calls.
 */
#ifndef VIGIL_GUEST_ROOTFS_H
#define VIGIL_GUEST_ROOTFS_H

#include <stddef.h>

#include "workload.h"

#define ROOTFS_TAG       "vigilroot"
#define ROOTFS_LOWER     "/vigil/host"  /* the share, in the initramfs */
#define ROOTFS_UPPER     "/vigil/upper" /* the overlay's tmpfs */
#define ROOTFS_NEW       "/vigil/root"  /* the overlay, before the switch */
#define ROOTFS_AGENT_DIR "/run/vigil/bin"

/*
 * Switch into the host's root as w says. 0, or a negative errno with err
 * saying which step failed (then nothing is switched: the caller reports
 * the workload as failed).
 */
int rootfs_enter(const struct wl *w, char *err, size_t cap);

#endif
