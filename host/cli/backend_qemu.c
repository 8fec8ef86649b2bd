/* SPDX-License-Identifier: MIT */
/* backend_qemu: QEMU launched by `vigil run` (see backend_qemu.h). */
#include "backend_qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cap.h"
#include "console.h"
#include "debughold.h"
#include "hostroot.h"
#include "initramfs.h"
#include "qmplink.h"
#include "term.h"
#include "vcpu.h"

#define QEMU_ERR_MAX      4096                /* QEMU stderr kept for messages */
#define QEMU_EXIT_WAIT_NS (5 * 1000000000ull) /* the agent powers off after EXIT */
#define QEMU_QUIT_WAIT_NS (2 * 1000000000ull) /* QMP quit -> SIGKILL */
#define QEMU_FS_GRACE_NS  (500 * 1000000ull)   /* virtiofsd's exit -> QEMU's, if that is why */

struct vigil_qemu_be {
	struct vigil_loop *loop;
	struct vigil_guest *g;
	const struct vigil_run_opts *o;
	enum vigil_accel accel;
	/* QEMU's process */
	pid_t qemu_pid;
	bool qemu_exited;
	int qemu_status; /* exit status, or -1 when a signal killed it */
	int qemu_sig;    /* the signal that killed it, or 0 */
	bool qemu_up;    /* its QMP greeting or a guest byte arrived: it started */
	struct vigil_source *pid_src, *err_src;
	struct vigil_qmplink *qmp;
	char version[32];
	/* KVM probe (--accel auto) */
	bool probing;
	struct vigil_timer *probe_timer;
	/* stop sequence: POWEROFF wait -> quit -> SIGKILL -> give up */
	struct vigil_timer *stop_timer;
	int stop_stage;
	/* console (copied to --console, scanned) and stderr */
	struct vigil_con_reader con;
	char errbuf[QEMU_ERR_MAX];
	size_t errlen;
	struct vigil_vcpu_probe vcpu;
	bool have_vcpu;
	/* --rootfs host: virtiofsd, one per launch */
	struct vigil_hostroot *fs;
	struct vigil_source *fs_src;
	struct vigil_timer *fs_grace; /* virtiofsd went first: QEMU's exit may follow */
	char fs_gone[800];            /* what is said if it does not */
	/* --on-stall debug: the gdbstub, the person's QMP, the hold */
	struct vigil_debug dbg;
};

static int launch(struct vigil_qemu_be *r, enum vigil_accel accel);

/* "<boot id> <qemu> <kernel>" of a host where KVM did not run a guest. */
static void kvm_cache_path(char *buf, size_t cap)
{
	char dir[PATH_MAX];

	buf[0] = '\0';
	if (vigil_ird_cache_dir(dir, sizeof(dir)) == 0 &&
	    (size_t)snprintf(buf, cap, "%s/kvm-probe-failed", dir) >= cap)
		buf[0] = '\0';
}

static void kvm_cache_key(const struct vigil_run_opts *o, char *buf, size_t cap)
{
	char boot[64] = "";
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n = read(fd, boot, sizeof(boot) - 1);
		close(fd);
		boot[n > 0 ? n : 0] = '\0';
		boot[strcspn(boot, "\n")] = '\0';
	}
	snprintf(buf, cap, "%s %s %s %s\n", boot,
		 o->qemu.qemu ? o->qemu.qemu : "qemu-system-x86_64", o->qemu.kernel,
		 vigil_machine_name(o->qemu.machine));
}

static bool kvm_known_bad(const struct vigil_run_opts *o)
{
	char path[PATH_MAX], key[PATH_MAX * 2], line[PATH_MAX * 2];
	FILE *f;
	bool bad = false;

	kvm_cache_path(path, sizeof(path));
	kvm_cache_key(o, key, sizeof(key));
	f = path[0] ? fopen(path, "re") : NULL;
	if (!f)
		return false;
	while (!bad && fgets(line, sizeof(line), f))
		bad = strcmp(line, key) == 0;
	fclose(f);
	return bad;
}

static void kvm_mark_bad(const struct vigil_run_opts *o)
{
	char path[PATH_MAX], key[PATH_MAX * 2];
	FILE *f;

	kvm_cache_path(path, sizeof(path));
	kvm_cache_key(o, key, sizeof(key));
	f = path[0] ? fopen(path, "ae") : NULL;
	if (f) {
		fputs(key, f);
		fclose(f);
	}
}

/* "exited with status 1", "was killed by SIGKILL". */
static void qemu_how(const struct vigil_qemu_be *r, char *buf, size_t cap)
{
	if (r->qemu_sig)
		snprintf(buf, cap, "was killed by SIG%s",
			 sigabbrev_np(r->qemu_sig) ? sigabbrev_np(r->qemu_sig) : "?");
	else
		snprintf(buf, cap, "exited with status %d", r->qemu_status);
}

/* The last `lines` non-empty lines of QEMU's stderr joined with " | ",
 * without QEMU's "qemu-system-x86_64: " prefixes. */
static void qemu_err_tail(struct vigil_qemu_be *r, char *out, size_t cap, int lines)
{
	const char *start[8];
	size_t len[8];
	int n = 0;
	size_t o = 0, i = r->errlen;

	out[0] = '\0';
	if (lines > 8)
		lines = 8;
	while (i > 0 && n < lines) {
		size_t end = i, b;
		while (end > 0 && r->errbuf[end - 1] == '\n')
			end--;
		b = end;
		while (b > 0 && r->errbuf[b - 1] != '\n')
			b--;
		if (end > b) {
			const char *l = r->errbuf + b, *c = memchr(l, ':', end - b);
			/* drop "qemu-system-x86_64: " */
			if (c && c + 2 <= r->errbuf + end && !memchr(l, ' ', (size_t)(c - l)) &&
			    !strncmp(l, "qemu", 4))
				l = c + 2;
			start[n] = l;
			len[n++] = (size_t)(r->errbuf + end - l);
		}
		i = b;
	}
	while (n-- > 0 && o + 4 < cap)
		o += (size_t)snprintf(out + o, cap - o, "%s%.*s", o ? " | " : "", (int)len[n],
				      start[n]);
}

/* QEMU's part of the provenance: binary, argv, accelerator (the version
 * comes with the QMP greeting and is added at the end). */
static void provenance_qemu(struct vigil_qemu_be *r, const struct vigil_argv *argv,
			    enum vigil_accel accel)
{
	struct json_object *q, *a;

	if (!r->o->provenance)
		return;
	q = json_object_new_object();
	a = json_object_new_array();
	for (size_t i = 0; i < argv->n; i++)
		json_object_array_add(a, json_object_new_string(argv->v[i]));
	json_object_object_add(q, "binary", json_object_new_string(argv->v[0]));
	json_object_object_add(q, "argv", a);
	json_object_object_add(r->o->provenance, "qemu", q);
	json_object_object_add(r->o->provenance, "accel",
			       json_object_new_string(vigil_accel_name(accel)));
}

/* ---- console and stderr ----------------------------------------------------- */

static void on_console_line(void *ctx, const char *line, size_t len)
{
	struct vigil_qemu_be *r = ctx;

	vigil_guest_console_line(r->g, line, len); /* the session classifies it */
	if (r->o->verbose) {
		vigil_term_write(2, "console: ", 9);
		vigil_term_write(2, line, len);
		vigil_term_write(2, "\n", 1);
	}
}

static void on_console_warn(void *ctx, const char *msg)
{
	(void)ctx;
	vigil_term_warn("%s", msg);
}

static int err_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct vigil_qemu_be *r = ctx;
	char buf[4096];
	ssize_t n;

	(void)s;
	(void)events;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		vigil_source_free(r->err_src);
		r->err_src = NULL;
		return 0;
	}
	if (r->o->verbose)
		vigil_term_write(2, buf, (size_t)n);
	/* keep the last QEMU_ERR_MAX - 1 bytes: the end says why QEMU died */
	if (r->errlen + (size_t)n >= sizeof(r->errbuf)) {
		size_t drop = r->errlen + (size_t)n - (sizeof(r->errbuf) - 1);
		drop = drop < r->errlen ? drop : r->errlen;
		memmove(r->errbuf, r->errbuf + drop, r->errlen - drop);
		r->errlen -= drop;
	}
	if ((size_t)n > sizeof(r->errbuf) - 1 - r->errlen)
		n = (ssize_t)(sizeof(r->errbuf) - 1 - r->errlen);
	memcpy(r->errbuf + r->errlen, buf, (size_t)n);
	r->errlen += (size_t)n;
	return 0;
}

/* ---- when QEMU goes away ---------------------------------------------------- */

static void drain(struct vigil_qemu_be *r)
{
	/* QEMU is gone: what it wrote is still in the sockets */
	vigil_con_reader_drain(&r->con);
	for (int i = 0; i < 16 && r->err_src; i++)
		err_ready(r->err_src, vigil_source_fd(r->err_src), EPOLLIN, r);
	vigil_qmplink_drain(r->qmp);
	if (vigil_qmplink_ready(r->qmp)) {
		r->qemu_up = true; /* its QMP greeting came: it started */
		if (!r->version[0])
			snprintf(r->version, sizeof(r->version), "%s",
				 vigil_qmplink_version(r->qmp));
	}
	/* commands it never answered (a memory dump under way) fail now, while
	 * the run still takes their results: the guest's snapshot gets its
	 * error, and the cut dump is not left as if it were whole */
	vigil_qmplink_free(r->qmp);
	r->qmp = NULL;
}

/*
 * What QEMU's exit means, in one place. During the run: before it ever came
 * up (no QMP greeting, no guest byte: a bad option, an abort under KVM) it
 * would not start, which is vigil's error (125) with its stderr; after that
 * it is QEMU_EXITED with its status or signal and its last stderr lines
 * (124), whatever the guest was doing. While stopping: the expected end.
 * Under the KVM probe: the reason to fall back to TCG.
 */
static int kvm_fallback(struct vigil_qemu_be *r);

static void qemu_gone(struct vigil_qemu_be *r)
{
	char how[64], tail[600], msg[800];

	if (r->probing && !vigil_guest_first_byte_ns(r->g)) {
		if (kvm_fallback(r) < 0) /* KVM never ran the guest */
			vigil_guest_gone(r->g);
		return;
	}
	r->probing = false; /* the guest answered under KVM: an ordinary exit */
	if (vigil_guest_state(r->g) == VIGIL_GUEST_WATCH) {
		qemu_how(r, how, sizeof(how));
		qemu_err_tail(r, tail, sizeof(tail), 4);
		if (!r->qemu_up) {
			snprintf(msg, sizeof(msg), "QEMU would not start: it %s%s%s", how,
				 tail[0] ? ": " : "", tail);
			vigil_guest_harness_error(r->g, msg);
		} else {
			vigil_guest_vmm_exited(r->g, r->qemu_status, r->qemu_sig,
					       tail[0] ? tail : NULL);
		}
	}
	vigil_timer_disarm(r->stop_timer);
	vigil_guest_gone(r->g);
}

static int pid_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct vigil_qemu_be *r = ctx;
	siginfo_t si;

	(void)s;
	(void)fd;
	(void)events;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)r->qemu_pid, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return 0;
	r->qemu_exited = true;
	r->qemu_status = si.si_code == CLD_EXITED ? si.si_status : -1;
	r->qemu_sig = si.si_code == CLD_EXITED ? 0 : si.si_status;
	vigil_source_free(r->pid_src);
	r->pid_src = NULL;
	if (vigil_guest_first_byte_ns(r->g))
		r->qemu_up = true;
	drain(r);
	qemu_gone(r);
	return 0;
}

/* A killed QEMU is reaped when it is gone, from the loop: waitpid right
 * after SIGKILL can block (a vCPU stuck in the kernel under KVM). */
static int reap_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	(void)fd;
	(void)events;
	if (waitpid((pid_t)(intptr_t)ctx, NULL, WNOHANG) != 0)
		vigil_source_free(s); /* reaped (or not ours any more) */
	return 0;
}

static void kill_and_reap(struct vigil_qemu_be *r)
{
	struct vigil_source *s;

	kill(r->qemu_pid, SIGKILL);
	if (waitpid(r->qemu_pid, NULL, WNOHANG) != 0)
		return;
	/* on failure, left to init when vigil exits (QEMU dies with vigil: PDEATHSIG) */
	vigil_loop_child(r->loop, r->qemu_pid, reap_ready, (void *)(intptr_t)r->qemu_pid, "reaper",
			 &s);
}

/* ---- virtiofsd (--rootfs host) ---------------------------------------------------- */

/* virtiofsd ended: while the guest runs, its root file system is gone. */
static int fs_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct vigil_qemu_be *r = ctx;
	char tail[600];
	siginfo_t si;

	(void)s;
	(void)fd;
	(void)events;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)vigil_hostroot_pid(r->fs), &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return 0;
	vigil_hostroot_reaped(r->fs);
	vigil_source_free(r->fs_src);
	r->fs_src = NULL;
	if (r->qemu_exited || vigil_guest_state(r->g) != VIGIL_GUEST_WATCH)
		return 0; /* it follows QEMU out: the expected end */
	vigil_hostroot_log_tail(r->fs, tail, sizeof(tail));
	snprintf(r->fs_gone, sizeof(r->fs_gone),
		 "virtiofsd %s %d during the run: the guest lost the host's root file "
		 "system%s%s",
		 si.si_code == CLD_EXITED ? "exited with status" : "was killed by signal",
		 si.si_status, tail[0] ? ": " : "", tail);
	/* QEMU killed makes virtiofsd go too, and its exit may be seen first:
	 * QEMU's own, if it comes within the grace, says what happened */
	vigil_timer_arm(r->fs_grace, vigil_loop_now(r->loop) + QEMU_FS_GRACE_NS);
	return 0;
}

static void fs_grace_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct vigil_qemu_be *r = ctx;

	(void)t;
	(void)now;
	if (!r->qemu_exited && vigil_guest_state(r->g) == VIGIL_GUEST_WATCH)
		vigil_guest_harness_error(r->g, r->fs_gone);
}

static int fs_start(struct vigil_qemu_be *r, struct vigil_qemu_cfg *c)
{
	char err[PATH_MAX + 256];
	int e;

	if (!r->o->hostroot)
		return 0;
	e = vigil_hostroot_start(r->o->hostroot, NULL, &r->fs, err, sizeof(err));
	if (e < 0) {
		vigil_term_say("--rootfs host: %s", err);
		return e;
	}
	e = vigil_loop_child(r->loop, vigil_hostroot_pid(r->fs), fs_ready, r, "virtiofsd",
			     &r->fs_src);
	if (e < 0)
		return e;
	c->fs_socket = vigil_hostroot_socket(r->fs);
	return 0;
}

/* virtiofsd is told to end, reaped from the loop, its directory removed. */
static void fs_close(struct vigil_qemu_be *r)
{
	pid_t pid = r->fs ? vigil_hostroot_pid(r->fs) : -1;
	bool live = r->fs_src != NULL;
	struct vigil_source *s;

	vigil_source_free(r->fs_src);
	r->fs_src = NULL;
	if (live && pid > 0) {
		vigil_loop_child(r->loop, pid, reap_ready, (void *)(intptr_t)pid, "reaper", &s);
	} else if (r->fs) {
		vigil_hostroot_reaped(r->fs);
	}
	vigil_hostroot_free(r->fs); /* SIGTERM unless reaped */
	r->fs = NULL;
}

/* Everything a launch of QEMU leaves behind, closed and cleared. */
static void close_vmm(struct vigil_qemu_be *r)
{
	if (r->qemu_pid > 0 && !r->qemu_exited)
		kill_and_reap(r);
	r->qemu_exited = true;
	vigil_source_free(r->pid_src);
	vigil_con_reader_detach(&r->con);
	vigil_source_free(r->err_src);
	r->pid_src = r->err_src = NULL;
	vigil_qmplink_free(r->qmp);
	r->qmp = NULL;
	vigil_guest_port_detach(r->g);
	r->have_vcpu = false;
	fs_close(r);
}

/*
 * --accel auto: KVM did not run the guest (QEMU died, or no byte came in
 * time). Say why, once: the verdict is remembered until the host reboots,
 * and later runs go straight to TCG without a word (-v says it).
 */
static int kvm_fallback(struct vigil_qemu_be *r)
{
	char why[700], tail[600];

	if (r->qemu_exited) {
		char how[64];
		qemu_how(r, how, sizeof(how));
		qemu_err_tail(r, tail, sizeof(tail), 1);
		snprintf(why, sizeof(why), "QEMU %s under KVM%s%s",
			 r->qemu_sig == SIGABRT ? "aborted" : how, tail[0] ? ": " : "", tail);
	} else {
		snprintf(why, sizeof(why), "no byte from the guest within %.1f s",
			 (double)r->o->kvm_probe_ns / 1e9);
	}
	vigil_term_say("accel kvm: %s; using TCG (remembered until this host reboots)", why);
	kvm_mark_bad(r->o);
	r->probing = false;
	vigil_timer_disarm(r->probe_timer);
	close_vmm(r);
	r->errlen = 0;
	r->qemu_up = false;
	r->qemu_sig = r->qemu_status = 0;
	if (vigil_guest_restart(r->g, vigil_loop_now(r->loop)) < 0 ||
	    launch(r, VIGIL_ACCEL_TCG) < 0) {
		fprintf(stderr, "vigil: cannot restart QEMU under TCG\n");
		return -EIO;
	}
	return 0;
}

static void probe_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct vigil_qemu_be *r = ctx;

	(void)t;
	(void)now;
	if (!r->probing)
		return;
	if (vigil_guest_first_byte_ns(r->g)) {
		r->probing = false; /* KVM runs the guest */
		return;
	}
	if (kvm_fallback(r) < 0)
		vigil_guest_gone(r->g);
}

/* ---- stopping ------------------------------------------------------------------ */

static void quit_now(struct vigil_qemu_be *r)
{
	if (vigil_qmplink_quit(r->qmp) < 0 && r->qemu_pid > 0 && !r->qemu_exited)
		kill(r->qemu_pid, SIGTERM);
}

/* Each stage gives QEMU time, then the next is harder: quit, SIGKILL, give up. */
static void stop_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct vigil_qemu_be *r = ctx;

	if (r->qemu_exited)
		return;
	switch (r->stop_stage++) {
	case 0:
		quit_now(r);
		vigil_timer_arm(t, now + QEMU_QUIT_WAIT_NS);
		break;
	case 1:
		kill(r->qemu_pid, SIGKILL);
		vigil_timer_arm(t, now + QEMU_QUIT_WAIT_NS);
		break;
	default:
		vigil_guest_gone(r->g); /* not reaped: nothing more to wait for */
		break;
	}
}

static void hold_stopped(void *ctx, int err, struct json_object *ret, const char *desc)
{
	(void)ctx;
	(void)ret;
	if (err)
		vigil_term_warn("--on-stall debug: QMP 'stop' failed: %s (the VM may still run)",
			       desc ? desc : strerror(-err));
}

/* --on-stall debug: the run ended on a stall or a crash. Stop the VM, say
 * how to get in, and wait with no timer: the next stop (vigil told to
 * end) or QEMU's exit ends the hold. false: not holding, stop as usual. */
static bool hold(struct vigil_qemu_be *r, enum vigil_stop_how how)
{
	struct vigil_monitor *m = r->qmp ? vigil_qmplink_monitor(r->qmp) : NULL;
	char text[8192], rel[256] = "";
	size_t n;

	/* a crash ends the run as POWEROFF (the guest would reset itself), a
	 * stall as QUIT; a second signal (KILL) never holds */
	if (!r->o->debug || how == VIGIL_STOP_KILL || !r->dbg.why[0] || r->dbg.held)
		return false;
	r->dbg.held = true;
	if (!m || !m->hmp || m->hmp(m->ctx, "stop", hold_stopped, r) < 0) {
		vigil_term_warn("--on-stall debug: cannot stop the VM through QMP: QEMU is quit");
		return false;
	}
	vigil_kernel_release(r->o->qemu.kernel, rel, sizeof(rel));
	n = vigil_debug_text(&r->dbg, (int)r->qemu_pid, r->o->qemu.kernel, rel, text, sizeof(text));
	vigil_term_clear();
	vigil_term_write(2, text, n);
	return true;
}

void vigil_qemu_be_debug_consider(struct vigil_qemu_be *r, const struct vigil_finding *f)
{
	if (r->o->debug)
		vigil_debug_consider(&r->dbg, f);
}

static void qemu_stop(void *be, enum vigil_stop_how how)
{
	struct vigil_qemu_be *r = be;
	uint64_t now = vigil_loop_now(r->loop);

	if (r->qemu_exited) {
		vigil_guest_gone(r->g);
		return;
	}
	if (hold(r, how))
		return;
	if (how == VIGIL_STOP_KILL) {
		kill(r->qemu_pid, SIGKILL);
		r->stop_stage = 2;
		vigil_timer_arm(r->stop_timer, now + QEMU_QUIT_WAIT_NS);
	} else if (how == VIGIL_STOP_POWEROFF) {
		r->stop_stage = 0; /* the agent powers the guest off by itself */
		vigil_timer_arm(r->stop_timer, now + QEMU_EXIT_WAIT_NS);
	} else {
		quit_now(r);
		r->stop_stage = 1;
		vigil_timer_arm(r->stop_timer, now + QEMU_QUIT_WAIT_NS);
	}
}

static int qemu_snapshot(void *be, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct vigil_qemu_be *r = be;
	struct vigil_qmplink_facts f = {
		.vmm_pid = r->qemu_pid,
		.vcpu = r->have_vcpu ? &r->vcpu : NULL,
		.console_bytes = r->con.scan.bytes,
	};

	return vigil_vmm_snapshot(vigil_qmplink_monitor(r->qmp), r->g, r->o->snapshot_dir, &f, kind, tag, id);
}

static int qemu_vcpu(void *be, uint64_t *cpu_ns)
{
	struct vigil_qemu_be *r = be;

	return r->have_vcpu ? vigil_vcpu_sample(&r->vcpu, cpu_ns) : -ENOENT;
}

static int qemu_vcpu_state(void *be, struct vigil_vcpu_state *st)
{
	struct vigil_qemu_be *r = be;

	return r->have_vcpu ? vigil_vcpu_state(&r->vcpu, st) : -ENOENT;
}

static void qemu_free(void *be)
{
	struct vigil_qemu_be *r = be;

	if (!r)
		return;
	close_vmm(r);
	vigil_debug_release(&r->dbg);
	vigil_timer_free(r->probe_timer);
	vigil_timer_free(r->stop_timer);
	vigil_timer_free(r->fs_grace);
	vigil_con_reader_release(&r->con);
	free(r);
}

const struct vigil_guest_ops vigil_qemu_ops = {
	.kind = "qemu",
	.stop = qemu_stop,
	.snapshot = qemu_snapshot,
	.vcpu_sample = qemu_vcpu,
	.vcpu_state = qemu_vcpu_state,
	.free = qemu_free,
};

/* ---- launching ------------------------------------------------------------------ */

static int sockpair(int sv[2])
{
	/* sv[0] ours (close-on-exec, non-blocking), sv[1] QEMU's (inherited) */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -errno;
	if (fcntl(sv[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) < 0) {
		int e = -errno;
		close(sv[0]);
		close(sv[1]);
		return e;
	}
	return 0;
}

/*
 * QEMU's end of the port: room for VIGIL_PORT_SNDBUF bytes on their way to
 * vigil. With the kernel's default (net.core.wmem_default, 208 KiB here)
 * QEMU's write would block every 1.6 ms at the output rate, and while it
 * waits for vigil's loop to read, virtio-serial stops taking the guest's
 * writes. SO_SNDBUFFORCE needs CAP_NET_ADMIN; without it SO_SNDBUF gets
 * what net.core.wmem_max allows. Best effort: the default works, slower.
 */
#define VIGIL_PORT_SNDBUF (4 << 20)
static void port_sndbuf(int fd)
{
	int v = VIGIL_PORT_SNDBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

static void close_pair(int sv[2])
{
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	sv[0] = sv[1] = -1;
}

static pid_t spawn(struct vigil_argv *argv, int err_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t none;
		int devnull = open("/dev/null", O_RDWR);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* QEMU must not outlive vigil */
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		dup2(err_fd, 2);
		setpgid(0, 0); /* the user's Ctrl-C reaches vigil only */
		execvp(argv->v[0], argv->v);
		dprintf(2, "cannot run %s: %s\n", argv->v[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Our ends of the channels, as sources (or the guest's port). */
static int watch(struct vigil_qemu_be *r, int port, int qmp, int con, int err)
{
	int e;

	if ((e = vigil_loop_child(r->loop, r->qemu_pid, pid_ready, r, "qemu", &r->pid_src)) < 0)
		goto fail;
	e = vigil_con_reader_attach(&r->con, r->loop, con);
	con = -1;
	if (e < 0)
		goto fail;
	if ((e = vigil_source_add(r->loop, err, EPOLLIN, VIGIL_SOURCE_OWN_FD, err_ready, r,
				  "qemu stderr", &r->err_src)) < 0) {
		close(err);
		goto fail;
	}
	err = -1;
	e = vigil_qmplink_new(r->loop, r->g, qmp, &r->qmp);
	qmp = -1;
	if (e == 0)
		e = vigil_guest_port_attach(r->g, port);
	port = -1;
	if (e == 0)
		return 0;
fail:
	if (port >= 0)
		close(port);
	if (qmp >= 0)
		close(qmp);
	if (con >= 0)
		close(con);
	if (err >= 0)
		close(err);
	return e;
}

static int launch(struct vigil_qemu_be *r, enum vigil_accel accel)
{
	struct vigil_qemu_cfg c = r->o->qemu;
	struct vigil_argv argv = { 0 };
	int port[2] = { -1, -1 }, qmp[2] = { -1, -1 }, con[2] = { -1, -1 }, errp[2] = { -1, -1 };
	char dbg_err[160];
	int e;

	if ((e = sockpair(port)) < 0 || (e = sockpair(qmp)) < 0 || (e = sockpair(con)) < 0)
		goto fail;
	port_sndbuf(port[1]);
	if (pipe2(errp, O_CLOEXEC) < 0 || fcntl(errp[0], F_SETFL, O_NONBLOCK) < 0) {
		e = -errno;
		goto fail;
	}
	if ((e = fs_start(r, &c)) < 0)
		goto fail;
	if (r->o->debug && (e = vigil_debug_prepare(&r->dbg, &c, dbg_err, sizeof(dbg_err))) < 0) {
		fprintf(stderr, "vigil: %s\n", dbg_err);
		goto fail;
	}
	c.accel = accel;
	c.port = (struct vigil_qemu_chan){ .fd = port[1] };
	c.qmp = (struct vigil_qemu_chan){ .fd = qmp[1] };
	c.console = (struct vigil_qemu_chan){ .fd = con[1] };
	if ((e = vigil_qemu_argv(&c, &argv)) < 0)
		goto fail;
	provenance_qemu(r, &argv, accel);
	if (r->o->verbose) {
		char *line = vigil_argv_join(&argv);
		vigil_term_say("starting %s", line ? line : argv.v[0]);
		free(line);
	}
	r->qemu_pid = spawn(&argv, errp[1]);
	if (r->qemu_pid < 0) {
		e = -errno;
		goto fail;
	}
	close(port[1]);
	close(qmp[1]);
	close(con[1]);
	close(errp[1]);
	vigil_debug_launched(&r->dbg);
	r->qemu_exited = false;
	r->accel = accel;
	vigil_vcpu_init(&r->vcpu, "/proc", r->qemu_pid);
	r->have_vcpu = true;
	e = watch(r, port[0], qmp[0], con[0], errp[0]);
	goto out;
fail:
	fs_close(r);
	vigil_debug_release(&r->dbg);
	close_pair(port);
	close_pair(qmp);
	close_pair(con);
	close_pair(errp);
out:
	vigil_argv_free(&argv);
	return e;
}

/* --accel: KVM when asked; with auto, when /dev/kvm is usable and KVM has
 * not failed on this host since it booted (then a probe proves it). */
static enum vigil_accel choose_accel(struct vigil_qemu_be *r)
{
	const struct vigil_run_opts *o = r->o;

	if (o->accel == VIGIL_ACCEL_MODE_KVM)
		return VIGIL_ACCEL_KVM;
	if (o->accel == VIGIL_ACCEL_MODE_TCG)
		return VIGIL_ACCEL_TCG;
	if (access("/dev/kvm", R_OK | W_OK) < 0) {
		if (o->verbose)
			vigil_term_say("accel tcg: /dev/kvm: %s", strerror(errno));
		return VIGIL_ACCEL_TCG;
	}
	if (kvm_known_bad(o)) {
		if (o->verbose)
			vigil_term_say("accel tcg: KVM did not run a guest since this host booted");
		return VIGIL_ACCEL_TCG;
	}
	r->probing = true;
	vigil_timer_arm(r->probe_timer, vigil_loop_now(r->loop) + o->kvm_probe_ns);
	return VIGIL_ACCEL_KVM;
}

int vigil_qemu_be_new(struct vigil_loop *l, const struct vigil_run_opts *o,
		      struct vigil_qemu_be **out)
{
	struct vigil_qemu_be *r = calloc(1, sizeof(*r));
	struct vigil_con_reader_cfg cc = {
		.on_line = on_console_line,
		.warn = on_console_warn,
		.ctx = r,
		.copy_fd = -1,
		.copy_path = o->console_path,
		.copy_limit = o->file_limit,
	};
	int e = 0;

	if (!r)
		return -ENOMEM;
	r->loop = l;
	r->o = o;
	vigil_debug_init(&r->dbg);
	if (o->console_path) {
		cc.copy_fd = open(o->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		e = cc.copy_fd < 0 ? -errno : 0;
		if (e < 0)
			fprintf(stderr, "vigil: cannot write the console to %s: %s\n",
				o->console_path, strerror(-e));
	}
	vigil_con_reader_init(&r->con, &cc); /* qemu_free may run from here on */
	if (e == 0)
		e = vigil_timer_new(l, probe_due, r, &r->probe_timer);
	if (e == 0)
		e = vigil_timer_new(l, stop_due, r, &r->stop_timer);
	if (e == 0)
		e = vigil_timer_new(l, fs_grace_due, r, &r->fs_grace);
	if (e < 0) {
		qemu_free(r);
		return e;
	}
	*out = r;
	return 0;
}

int vigil_qemu_be_start(struct vigil_qemu_be *r, struct vigil_guest *g)
{
	enum vigil_accel accel;
	int e;

	r->g = g;
	accel = choose_accel(r);
	e = launch(r, accel);
	if (e < 0) {
		fprintf(stderr, "vigil: cannot start QEMU: %s\n", strerror(-e));
		return e;
	}
	if (!r->probing && r->o->verbose)
		vigil_term_say("accel %s", vigil_accel_name(accel));
	return 0;
}

const char *vigil_qemu_be_accel(const struct vigil_qemu_be *r)
{
	return vigil_accel_name(r->accel);
}

const char *vigil_qemu_be_version(const struct vigil_qemu_be *r)
{
	if (!r->version[0] && vigil_qmplink_ready(r->qmp))
		return vigil_qmplink_version(r->qmp);
	return r->version;
}
