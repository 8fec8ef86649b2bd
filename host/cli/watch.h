/* SPDX-License-Identifier: MIT */
/*
 * watch: the owner side of `vigil run` and `vigil attach`: one loop
 * (host/loop), the guest object with its backend (QEMU launched, or a
 * socket), and what the person and the CI get: the echoed output, the
 * status line, stall lines, the events file, and at each guest's end the
 * summary, the verdict and JUnit. Signals end the run (a second one kills
 * QEMU at once); the process exits when the guest is done, with the exit
 * code of its verdict.
 *
 * The recording header (the session options and the provenance, for
 * `vigil decode`) is built and parsed here too.
 */
#ifndef VIGIL_CLI_WATCH_H
#define VIGIL_CLI_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <vigil/session.h>

#include "finish.h"
#include "hostroot.h"
#include "qemu.h"

enum vigil_accel_mode {
	VIGIL_ACCEL_MODE_AUTO = 0,
	VIGIL_ACCEL_MODE_KVM,
	VIGIL_ACCEL_MODE_TCG,
};

struct vigil_run_opts {
	bool attach;
	const char *name; /* the guest's name (attach: NAME of --socket NAME=PATH) */
	/* run: the QEMU to start (channels are set by the backend) */
	struct vigil_qemu_cfg qemu;
	enum vigil_accel_mode accel;
	uint64_t kvm_probe_ns; /* auto: KVM must produce a port byte this soon */
	/* attach */
	const char *socket_path;
	const char *qmp_path;
	/* the session */
	struct vigil_session_opts sopts;
	bool debug; /* --on-stall debug (sopts.on_stall is FAIL): hold the VM (debughold.h) */
	/* outputs, NULL when not wanted; "-" is stdout for events */
	const char *events_path;
	const char *verdict_path;
	const char *junit_path;
	const char *report_path; /* the HTML page (report.h) */
	const char *record_path;
	const char *console_path;
	const char *snapshot_dir;
	uint64_t file_limit; /* --file-limit: bytes of each of events (a file), console,
				record; 0 none (cap.h) */
	bool quiet;
	bool verbose;
	/* what the run is made of (provenance.h): put in the verdict and the
	 * recording; the backend adds QEMU's binary, version, argv and accel */
	struct json_object *provenance;
	enum vigil_root root; /* where the workload's files come from (hints on exit 127) */
	/* --rootfs host: what virtiofsd shares (hostroot.h); NULL: image mode */
	const struct vigil_hostroot_plan *hostroot;
};

/*
 * Watch n guests (one option set each: `vigil run` has one, `vigil attach`
 * one per --socket) to their ends. Returns the process exit code: the
 * worst verdict's (the highest outcome rank, mapped as for one guest), or
 * 125 when vigil failed (docs/cli.md).
 */
int vigil_watch_main(const struct vigil_run_opts *o, size_t n);

/* The recording header (JSON) for these session options, with the run's
 * provenance (may be NULL) when it fits the header; malloc'd. */
char *vigil_rec_header(const struct vigil_session_opts *so, uint64_t t0_ns, const char *what,
		       struct json_object *provenance, enum vigil_root root);
/* Parse it back into so (fields not present keep their values); *provenance
 * gets a new reference or NULL (provenance may be NULL: not wanted).
 * 0 or -EBADMSG. */
int vigil_rec_header_parse(const char *json, size_t len, struct vigil_session_opts *so,
			   uint64_t *t0_ns, struct json_object **provenance, enum vigil_root *root);

#endif /* VIGIL_CLI_WATCH_H */
