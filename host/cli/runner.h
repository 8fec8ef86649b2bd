/* SPDX-License-Identifier: MIT */
/*
 * runner: one guest watched end to end in one epoll loop: QEMU launched
 * (vigil run) or found (vigil attach), its port, QMP and console, the
 * session, and the outputs (events, verdict, JUnit, recording, console log,
 * live status, the workload's output).
 *
 * Sources, each an fd in one epoll set: signalfd (SIGINT, SIGTERM), a
 * timerfd armed at the earliest of the session's next deadline and the
 * runner's own (status redraw, KVM probe, shutdown grace, reconnect), a
 * pidfd for QEMU, the port socket, the QMP socket, the console socket and
 * QEMU's stderr. Every handler reads at most a byte budget per wake-up.
 */
#ifndef VIGIL_CLI_RUNNER_H
#define VIGIL_CLI_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <vigil/session.h>

#include "qemu.h"

enum vigil_accel_mode {
	VIGIL_ACCEL_MODE_AUTO = 0,
	VIGIL_ACCEL_MODE_KVM,
	VIGIL_ACCEL_MODE_TCG,
};

struct vigil_run_opts {
	bool attach;
	/* run: the QEMU to start (channels are set by the runner) */
	struct vigil_qemu_cfg qemu;
	enum vigil_accel_mode accel;
	uint64_t kvm_probe_ns; /* auto: KVM must produce a port byte this soon */
	/* attach */
	const char *socket_path;
	const char *qmp_path;
	/* the session */
	struct vigil_session_opts sopts;
	/* outputs, NULL when not wanted; "-" is stdout for events */
	const char *events_path;
	const char *verdict_path;
	const char *junit_path;
	const char *record_path;
	const char *console_path;
	const char *snapshot_dir;
	bool quiet;
	bool verbose;
	/* what the run is made of (provenance.h): put in the verdict and the
	 * recording; the runner adds QEMU's binary, version, argv and accel */
	struct json_object *provenance;
	bool image_mode; /* the workload runs from a generated image (hints on exit 127) */
};

/* Run to the end; returns the process exit code (docs/cli.md). */
int vigil_runner_main(const struct vigil_run_opts *o);

/* The recording header (JSON) for these session options, with the run's
 * provenance (may be NULL) when it fits the header; malloc'd. */
char *vigil_runner_rec_header(const struct vigil_session_opts *so, uint64_t t0_ns, const char *what,
			      struct json_object *provenance, bool image_mode);
/* Parse it back into so (fields not present keep their values); *provenance
 * gets a new reference or NULL (provenance may be NULL: not wanted).
 * 0 or -EBADMSG. */
int vigil_runner_rec_header_parse(const char *json, size_t len, struct vigil_session_opts *so,
				  uint64_t *t0_ns, struct json_object **provenance,
				  bool *image_mode);

#endif /* VIGIL_CLI_RUNNER_H */
