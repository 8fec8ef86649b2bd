/* SPDX-License-Identifier: MIT */
/*
 * guest: one watched guest on the loop, with its own lifecycle
 * (WATCH -> STOPPING -> DONE) that never ends the process.
 *
 * Owns: the guest's session; its port transport (one fd source, read up to
 * a budget per wake-up, paused while the owner's sinks are backlogged);
 * its bounded guest-bound queue (frames the session sends: PING, SHUTDOWN,
 * SNAPSHOT_REPLY); its recorder (every session input with its time, for
 * `vigil decode`); its timer, armed at the session's next deadline and
 * moved only when that changes; and the hand-off to its backend.
 *
 * What differs between QEMU launched by vigil, a socket QEMU serves and a
 * libvirt domain is a backend: a table of operations (struct
 * vigil_guest_ops, after kvmtool's virtio_ops). The backend tells the guest
 * what it sees (port up/down, VM stopped, console lines, the VMM's death)
 * through the vigil_guest_* calls below, and is told to stop when the run
 * ends. No QEMU or libvirt knowledge lives here.
 *
 * Limits: VIGIL_GUEST_READ_BUDGET port bytes per wake-up (so one flooding
 * guest cannot starve the others); VIGIL_GUEST_TXQ_MAX guest-bound bytes
 * queued (a frame not started beyond it is refused and counted by the
 * session). Expected load: 1 guest in `vigil run`, hundreds in `watch`.
 */
#ifndef VIGIL_LOOP_GUEST_H
#define VIGIL_LOOP_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/session.h>

#include "loop.h"
#include "record.h"

#define VIGIL_GUEST_READ_BUDGET (256u << 10)
#define VIGIL_GUEST_TXQ_MAX     (256u << 10)
#define VIGIL_GUEST_NAME_MAX    64

enum vigil_guest_state {
	VIGIL_GUEST_WATCH = 0, /* the run goes on */
	VIGIL_GUEST_STOPPING,  /* the session ended: the backend stops the VM */
	VIGIL_GUEST_DONE,      /* finished: the verdict is decided */
};

struct vigil_guest;

/* How a backend is asked to stop. */
enum vigil_stop_how {
	VIGIL_STOP_POWEROFF = 0, /* the guest ends by itself: after the workload's
				    EXIT the agent powers it off (after SHUTDOWN); a
				    panicking kernel resets it once its report is out
				    (panic=-1); wait for it */
	VIGIL_STOP_QUIT,         /* the run ended otherwise: stop the VM now, cleanly */
	VIGIL_STOP_KILL,         /* a second signal: kill the VMM at once */
};

/* A backend. be is the backend's own object, given at vigil_guest_new. */
struct vigil_guest_ops {
	const char *kind; /* "qemu", "socket", ... */
	/*
	 * The run ended (or the owner stops the guest): power the VM off, quit
	 * the VMM, or let go of the link, as how says. Called again with a
	 * harder how if the owner insists. The backend calls vigil_guest_gone()
	 * once nothing more will come; it may do so from inside stop().
	 */
	void (*stop)(void *be, enum vigil_stop_how how);
	/* The port socket closed (EOF or error): a backend that can, connects
	 * again (vigil_guest_port_attach). NULL: nothing to do. */
	void (*port_closed)(void *be);
	/* SNAPSHOT_REQUEST hand-off, as vigil_snapshot_provider.start. NULL: refused. */
	int (*snapshot)(void *be, uint32_t kind, struct vigil_str tag, uint32_t id);
	/* vCPU CPU time, as vigil_progress_probe.sample. NULL: unknown. */
	int (*vcpu_sample)(void *be, uint64_t *cpu_ns);
	/* vCPU CPU and wait time and stopped state, as vigil_vcpu_state_probe;
	 * used instead of vcpu_sample when set. NULL: not known. */
	int (*vcpu_state)(void *be, struct vigil_vcpu_state *st);
	/* Free the backend (the guest is being freed). NULL ok. */
	void (*free)(void *be);
};

/* The owner's side: where events go, and the guest's end. */
struct vigil_guest_sinks {
	/* Every event of the session. */
	void (*event)(void *ctx, struct vigil_guest *g, const struct vigil_event *ev);
	/* True while an output of the owner is full: the guest stops reading
	 * its port until vigil_guest_port_resume(). NULL: never. */
	bool (*backlogged)(void *ctx, struct vigil_guest *g);
	/* Just before the session finishes: the payload of the recording's
	 * FINISH record (the run's final provenance), or NULL. NULL: none. */
	const char *(*finish_note)(void *ctx, struct vigil_guest *g, size_t *len);
	/* The guest is DONE; v is valid until vigil_guest_free. */
	void (*done)(void *ctx, struct vigil_guest *g, const struct vigil_verdict *v);
	void *ctx;
};

struct vigil_guest_cfg {
	const char *name; /* copied, at most VIGIL_GUEST_NAME_MAX - 1 bytes kept */
	const struct vigil_session_opts *sopts;
	const struct vigil_guest_ops *ops;
	void *be;
	struct vigil_guest_sinks sinks;
	/* Recording (NULL: none): the file, and its header for a session
	 * created at t0 (malloc'ed JSON, see vigil_rec_header). */
	const char *record_path;
	char *(*record_header)(void *ctx, uint64_t t0_ns);
	void *record_ctx;
	uint64_t record_limit; /* bytes of the recording; 0 none (record.h) */
};

/* A guest in WATCH with a fresh session created at t0_ns. 0 or -errno. */
int vigil_guest_new(struct vigil_loop *l, const struct vigil_guest_cfg *c, uint64_t t0_ns,
		    struct vigil_guest **out);
/* Frees the session, closes the port, frees the backend. What the backend
 * reports while it is freed (vigil_guest_* calls from its free: a QMP
 * command in flight failing) is dropped. NULL ok. */
void vigil_guest_free(struct vigil_guest *g);

/*
 * A fresh session at t0_ns, the recording started again, nothing of the
 * previous run carried over (the port is closed). For a backend that had
 * to start its VMM again (KVM did not run the guest). 0 or -errno.
 */
int vigil_guest_restart(struct vigil_guest *g, uint64_t t0_ns);

/* ---- the backend tells the guest ---------------------------------------- */

/* The port is connected: fd (a stream socket, owned from now on) is read
 * and written by the guest. The link goes up. 0 or -errno (fd closed). */
int vigil_guest_port_attach(struct vigil_guest *g, int fd);
/* The port closed (the guest does this itself at EOF): link down. */
void vigil_guest_port_detach(struct vigil_guest *g);
bool vigil_guest_port_attached(const struct vigil_guest *g);
/* The agent closed its end (VSERPORT_CHANGE): the link is down although
 * the socket stays; up again when it reopens. */
void vigil_guest_link(struct vigil_guest *g, bool up);
void vigil_guest_vm_stopped(struct vigil_guest *g, bool stopped);
/* vigil cannot reach the guest for a reason of its own (libvirtd went
 * away): until it can again, the time is not the guest's silence (no
 * stall, no timeout), as while the owner's outputs are backlogged. */
void vigil_guest_blind(struct vigil_guest *g, bool blind);
void vigil_guest_console_line(struct vigil_guest *g, const char *line, size_t len);
void vigil_guest_crashed(struct vigil_guest *g, const char *evidence);
void vigil_guest_vmm_exited(struct vigil_guest *g, int status, int sig, const char *detail);
void vigil_guest_harness_error(struct vigil_guest *g, const char *msg);
void vigil_guest_snapshot_done(struct vigil_guest *g, uint32_t id, int status, const char *detail);
/* Nothing more will come (the VM is gone, or the link let go): the session
 * finishes, the sinks get the verdict, the guest is DONE. */
void vigil_guest_gone(struct vigil_guest *g);

/* ---- the owner ------------------------------------------------------------ */

/* The owner ends the run (a signal): a harness error "interrupted by ...",
 * then the backend stops. urgent: a second signal, stop now. */
void vigil_guest_interrupt(struct vigil_guest *g, const char *why, bool urgent);
/* The owner's sinks drained: read the port again. */
void vigil_guest_port_resume(struct vigil_guest *g);

enum vigil_guest_state vigil_guest_state(const struct vigil_guest *g);
const char *vigil_guest_name(const struct vigil_guest *g);
struct vigil_session *vigil_guest_session(const struct vigil_guest *g);
/* The session's creation time (host CLOCK_MONOTONIC ns). */
uint64_t vigil_guest_t0(const struct vigil_guest *g);
/* Port bytes read; the time of the first (0: none yet). */
uint64_t vigil_guest_rx_bytes(const struct vigil_guest *g);
uint64_t vigil_guest_first_byte_ns(const struct vigil_guest *g);
/* How long each wake-up of the port took (read, feed, flush), on the
 * loop's clock, over every port this guest had. */
const struct vigil_loop_hist *vigil_guest_read_hist(const struct vigil_guest *g);
/* Close the recording (it ends with FINISH once DONE): 0, or the first
 * write error, which stopped the recording where it happened. */
int vigil_guest_record_close(struct vigil_guest *g);
/* The verdict once DONE, else NULL. */
const struct vigil_verdict *vigil_guest_verdict(const struct vigil_guest *g);

#endif /* VIGIL_LOOP_GUEST_H */
