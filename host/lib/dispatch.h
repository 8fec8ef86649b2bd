/* SPDX-License-Identifier: MIT */
/*
 * Frame dispatch: one table from guest-to-host message type to its
 * handler. A frame of a type the table does not hold, or of a host-to-guest
 * type, is counted and dropped; a control or record frame with a payload
 * CRC mismatch is counted and dropped before its handler; output frames
 * (STDOUT, STDERR, DMESG, LOG) reach theirs either way, flagged. Handlers
 * decode their payload (a wrong shape is counted as malformed) and act;
 * the rules that cut across types live in their own modules (watchdog.h,
 * snapshot.h, scenario.h, evidence.h).
 *
 * No state of its own; no allocation. Load: every frame a guest sends.
 */
#ifndef VIGIL_HOST_DISPATCH_H
#define VIGIL_HOST_DISPATCH_H

#include <vigil/wire.h>

struct vigil_session;

/* Count and act on one frame from the assembler. */
void dsp_frame(struct vigil_session *s, const struct vigil_frame *f);

#endif /* VIGIL_HOST_DISPATCH_H */
