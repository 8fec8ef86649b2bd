/* SPDX-License-Identifier: MIT */
/* backend_libvirt: one run of a libvirt domain (see backend_libvirt.h). */
#include "backend_libvirt.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu.h"
#include "qmplink.h"
#include "vcpu.h"

extern char **environ;

#define VIRT_PUMP_BUDGET (256u << 10) /* bytes moved per wake-up, each way */
#define VIRT_VCPU_MAX    256

struct vigil_virt_be {
	struct vigil_loop *loop;
	struct vigil_guest *g;
	virDomainPtr dom;
	char name[VIGIL_GUEST_NAME_MAX];
	bool force;
	vigil_virt_say_fn say;
	void *say_ctx;
	void (*ended)(void *ctx);
	void *ended_ctx;
	/* the channel */
	virStreamPtr st;
	struct vigil_source *pair;   /* our end of the socketpair */
	uint8_t in[VIRT_BRIDGE_BUF]; /* stream -> guest, not yet written */
	size_t in_len, in_off;
	uint8_t out[VIRT_BRIDGE_BUF]; /* guest -> stream, not yet sent */
	size_t out_len, out_off;
	int st_events; /* what the stream callback is registered for */
	/* retries */
	struct vigil_timer *retry;
	uint64_t retry_ns;
	bool stopping, lost;
	char status[160];
	/* vCPU time: QEMU's threads through /proc when local, else an RPC */
	bool local;
	struct vigil_vcpu_probe vcpu;
	bool have_vcpu;
	uint64_t vcpu_at;
	/* snapshots through libvirt's monitor pass-through */
	struct vigil_monitor mon;
	char snap_dir[PATH_MAX]; /* "" : none (dumps refused) */
	struct vigil_timer *dump_timer;
	struct vigil_source *dump_src; /* pidfd of the virsh dump child */
	pid_t dump_pid;
	vigil_qmp_reply_fn dump_cb; /* the dump in progress (one at a time) */
	void *dump_arg;
};

static void say(struct vigil_virt_be *b, const char *msg)
{
	if (b->say)
		b->say(b->say_ctx, b->name, msg);
}

static void set_status(struct vigil_virt_be *b, const char *s, bool tell)
{
	if (tell && strcmp(b->status, s))
		say(b, s);
	snprintf(b->status, sizeof(b->status), "%s", s);
}

/* The guest is DONE (the domain went away, the session ended): its owner
 * frees it. A channel that ends now is nobody's news, and not opened again. */
static bool run_over(const struct vigil_virt_be *b)
{
	return b->g && vigil_guest_state(b->g) == VIGIL_GUEST_DONE;
}

static void schedule_retry(struct vigil_virt_be *b)
{
	if (b->stopping || b->lost || run_over(b) || vigil_timer_armed(b->retry))
		return;
	b->retry_ns = b->retry_ns ? b->retry_ns * 2 : VIRT_RETRY_FIRST_NS;
	if (b->retry_ns > VIRT_RETRY_MAX_NS)
		b->retry_ns = VIRT_RETRY_MAX_NS;
	vigil_timer_arm(b->retry, vigil_loop_now(b->loop) + b->retry_ns);
}

/*
 * Drop the stream and our end of the pair: the guest reads EOF, its port
 * closes. Without the channel vigil sees nothing of the guest: the guest
 * is blind until it is open again, so that silence is not the guest's.
 */
static void close_channel(struct vigil_virt_be *b, bool abort_stream)
{
	if (b->g && (b->st || b->pair))
		vigil_guest_blind(b->g, true);
	if (b->st) {
		virStreamEventRemoveCallback(b->st);
		if (abort_stream)
			virStreamAbort(b->st);
		else
			virStreamFinish(b->st);
		virStreamFree(b->st);
		b->st = NULL;
	}
	vigil_source_free(b->pair);
	b->pair = NULL;
	b->in_len = b->in_off = b->out_len = b->out_off = 0;
}

/* why may be libvirt's last error message (virGetLastErrorMessage), which
 * the next libvirt call frees: the owner's ended() and close_channel()
 * make some. It is copied before either. */
static void channel_ended(struct vigil_virt_be *b, const char *why)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "channel closed: %s", why);
	/* first: a domain that is gone ends its run before the link goes down */
	if (b->ended && !run_over(b))
		b->ended(b->ended_ctx);
	close_channel(b, true);
	set_status(b, msg, false);
	schedule_retry(b);
}

static void update_interest(struct vigil_virt_be *b)
{
	int ev = VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;

	if (!b->st)
		return;
	if (b->in_len == 0)
		ev |= VIR_STREAM_EVENT_READABLE;
	if (b->out_len)
		ev |= VIR_STREAM_EVENT_WRITABLE;
	if (ev != b->st_events && virStreamEventUpdateCallback(b->st, ev) == 0)
		b->st_events = ev;
	if (b->pair)
		vigil_source_set_events(b->pair, EPOLLIN | (b->in_len ? (uint32_t)EPOLLOUT : 0u));
}

/* stream -> guest. false when the channel ended. */
static bool pump_in(struct vigil_virt_be *b)
{
	size_t moved = 0;

	while (b->st && moved < VIRT_PUMP_BUDGET) {
		if (b->in_len) {
			ssize_t w = write(vigil_source_fd(b->pair), b->in + b->in_off,
					  b->in_len - b->in_off);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (w < 0) {
				channel_ended(b, "the guest's side closed");
				return false;
			}
			b->in_off += (size_t)w;
			moved += (size_t)w;
			if (b->in_off < b->in_len)
				break;
			b->in_len = b->in_off = 0;
		}
		int n = virStreamRecv(b->st, (char *)b->in, sizeof(b->in));
		if (n == -2)
			break;
		if (n <= 0) {
			channel_ended(b, n == 0 ? "end of stream" : virGetLastErrorMessage());
			return false;
		}
		b->in_len = (size_t)n;
	}
	return true;
}

/* guest -> stream. false when the channel ended. */
static bool pump_out(struct vigil_virt_be *b)
{
	size_t moved = 0;

	while (b->st && moved < VIRT_PUMP_BUDGET) {
		if (!b->out_len) {
			ssize_t r = read(vigil_source_fd(b->pair), b->out, sizeof(b->out));
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (r <= 0) {
				channel_ended(b, "the guest's side closed");
				return false;
			}
			b->out_len = (size_t)r;
			b->out_off = 0;
		}
		int n = virStreamSend(b->st, (const char *)b->out + b->out_off,
				      b->out_len - b->out_off);
		if (n == -2)
			break;
		if (n < 0) {
			channel_ended(b, virGetLastErrorMessage());
			return false;
		}
		b->out_off += (size_t)n;
		moved += (size_t)n;
		if (b->out_off == b->out_len)
			b->out_len = b->out_off = 0;
	}
	return true;
}

static void stream_cb(virStreamPtr st, int events, void *opaque)
{
	struct vigil_virt_be *b = opaque;

	(void)st;
	if ((events & VIR_STREAM_EVENT_READABLE) && !pump_in(b))
		return;
	if ((events & VIR_STREAM_EVENT_WRITABLE) && !pump_out(b))
		return;
	if ((events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP)) &&
	    !(events & VIR_STREAM_EVENT_READABLE)) {
		channel_ended(b, "the stream hung up");
		return;
	}
	update_interest(b);
}

static int pair_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct vigil_virt_be *b = ctx;

	(void)s;
	(void)fd;
	if ((events & EPOLLOUT) && !pump_in(b))
		return 0;
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !pump_out(b))
		return 0;
	update_interest(b);
	return 0;
}

/* The pair and the stream callback, once the channel is open. */
static int bridge(struct vigil_virt_be *b)
{
	int sv[2], e;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	e = vigil_source_add(b->loop, sv[1], EPOLLIN, VIGIL_SOURCE_OWN_FD, pair_ready, b,
			     "libvirt channel", &b->pair);
	if (e < 0) {
		close(sv[0]);
		close(sv[1]);
		return e;
	}
	b->st_events = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
	if (virStreamEventAddCallback(b->st, b->st_events, stream_cb, b, NULL) < 0) {
		close(sv[0]);
		return -EIO;
	}
	return vigil_guest_port_attach(b->g, sv[0]);
}

static void open_channel(struct vigil_virt_be *b)
{
	char msg[300];
	int e;

	if (b->st || b->stopping || b->lost || run_over(b))
		return;
	b->st = virStreamNew(virDomainGetConnect(b->dom), VIR_STREAM_NONBLOCK);
	if (!b->st || virDomainOpenChannel(b->dom, VIGIL_PORT_NAME, b->st,
					   b->force ? VIR_DOMAIN_CHANNEL_FORCE : 0) < 0) {
		snprintf(msg, sizeof(msg), "cannot open the vigil channel (%s); retrying%s",
			 virGetLastErrorMessage(), b->force ? "" : " (--force takes it)");
		if (b->st)
			virStreamFree(b->st);
		b->st = NULL;
		set_status(b, msg, true);
		schedule_retry(b);
		return;
	}
	e = bridge(b);
	if (e < 0) {
		snprintf(msg, sizeof(msg), "cannot bridge the channel: %s", strerror(-e));
		close_channel(b, true);
		set_status(b, msg, true);
		schedule_retry(b);
		return;
	}
	b->retry_ns = 0;
	vigil_guest_blind(b->g, false);
	set_status(b, "holding the channel", false);
}

static void retry_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	(void)t;
	(void)now;
	open_channel(ctx);
}

/* ---- snapshots: the monitor through libvirt ------------------------------------------- */

#define VIRT_DUMP_MAX_NS (600 * 1000000000ull) /* a dump still going after this failed */

/*
 * A memory dump: local domains only (a remote dump lands where vigil cannot
 * bound it), and not through the monitor pass-through: libvirt 9.0's QEMU
 * driver crashes on the DUMP_COMPLETED event of a dump it did not start
 * (seen here: libvirtd segfaulted in libvirt_driver_qemu.so). libvirt's own
 * dump job (virDomainCoreDumpWithFormat) blocks its caller for the dump's
 * length, so it runs in a child: `virsh dump --memory-only`, reaped by the
 * loop, killed past VIRT_DUMP_MAX_NS.
 */
static void dump_finish(struct vigil_virt_be *b, int err, const char *desc)
{
	vigil_qmp_reply_fn cb = b->dump_cb;

	b->dump_cb = NULL;
	vigil_source_free(b->dump_src);
	b->dump_src = NULL;
	vigil_timer_disarm(b->dump_timer);
	if (b->dump_pid > 0) {
		kill(b->dump_pid, SIGKILL);
		waitpid(b->dump_pid, NULL, 0); /* a virsh, not a QEMU: gone at once after SIGKILL */
		b->dump_pid = 0;
	}
	if (cb)
		cb(b->dump_arg, err, NULL, desc);
}

static int dump_exited(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct vigil_virt_be *b = ctx;
	siginfo_t si;
	char desc[96];

	(void)s;
	(void)fd;
	(void)events;
	memset(&si, 0, sizeof(si));
	if (b->dump_pid <= 0 || waitid(P_PID, (id_t)b->dump_pid, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return 0;
	b->dump_pid = 0;
	if (si.si_code == CLD_EXITED && si.si_status == 0) {
		dump_finish(b, 0, NULL);
		return 0;
	}
	snprintf(desc, sizeof(desc), "virsh dump %s %d",
		 si.si_code == CLD_EXITED ? "exited" : "killed by signal", si.si_status);
	dump_finish(b, -EIO, desc);
	return 0;
}

static void dump_too_long(struct vigil_timer *t, uint64_t now, void *ctx)
{
	(void)t;
	(void)now;
	dump_finish(ctx, -ETIMEDOUT, "the dump did not finish in 10 minutes");
}

static int spawn_dump(struct vigil_virt_be *b, const char *path, pid_t *pid)
{
	char *uri = virConnectGetURI(virDomainGetConnect(b->dom));
	char *argv[] = { "virsh",    "-q",  "-c",    uri,          "dump", "--memory-only",
			 "--format", "elf", b->name, (char *)path, NULL };
	posix_spawn_file_actions_t fa;
	int e;

	if (!uri)
		return -EIO;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	e = posix_spawnp(pid, "virsh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(uri);
	return e == ENOENT ? -EOPNOTSUPP : -e; /* no virsh: libvirt-clients */
}

static int mon_dump(void *ctx, const char *path, vigil_qmp_reply_fn cb, void *arg)
{
	struct vigil_virt_be *b = ctx;
	pid_t pid;
	int e;

	if (!b->local || b->lost)
		return -EOPNOTSUPP;
	if (b->dump_cb)
		return -EBUSY;
	if ((e = spawn_dump(b, path, &pid)) < 0)
		return e;
	if (vigil_loop_child(b->loop, pid, dump_exited, b, "virsh dump", &b->dump_src) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -EIO;
	}
	b->dump_pid = pid;
	b->dump_cb = cb;
	b->dump_arg = arg;
	vigil_timer_arm(b->dump_timer, vigil_loop_now(b->loop) + VIRT_DUMP_MAX_NS);
	return 0;
}

/* A human-monitor command ("info registers -a"): one RPC, answered at once. */
static int mon_hmp(void *ctx, const char *cmd, vigil_qmp_reply_fn cb, void *arg)
{
	struct vigil_virt_be *b = ctx;
	char *out = NULL;
	struct json_object *text;

	if (b->lost)
		return -EOPNOTSUPP;
	if (virDomainQemuMonitorCommand(b->dom, cmd, &out, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) <
	    0) {
		cb(arg, -EIO, NULL, virGetLastErrorMessage());
		return 0;
	}
	text = json_object_new_string(out ? out : "");
	free(out);
	cb(arg, 0, text, NULL);
	json_object_put(text);
	return 0;
}

static int virt_snapshot(void *be, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct vigil_virt_be *b = be;
	struct vigil_qmplink_facts f = {
		.vmm_pid = b->have_vcpu ? b->vcpu.pid : 0,
		.vcpu = b->have_vcpu ? &b->vcpu : NULL,
	};

	if (b->snap_dir[0] && mkdir(b->snap_dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return vigil_vmm_snapshot(&b->mon, b->g, b->snap_dir[0] ? b->snap_dir : NULL, &f, kind, tag,
				  id);
}

void vigil_virt_be_set_snapshot_dir(struct vigil_virt_be *b, const char *dir, uint64_t dumps_kept)
{
	snprintf(b->snap_dir, sizeof(b->snap_dir), "%s", dir ? dir : "");
	b->mon.dump_bytes_kept = dumps_kept;
}

/* ---- ops ------------------------------------------------------------------- */

static void virt_stop(void *be, enum vigil_stop_how how)
{
	struct vigil_virt_be *b = be;

	(void)how; /* the domain is not ours to stop: let go of it */
	b->stopping = true;
	vigil_timer_disarm(b->retry);
	close_channel(b, true);
	vigil_guest_gone(b->g);
}

static void virt_port_closed(void *be)
{
	struct vigil_virt_be *b = be;

	if (b->pair || b->st) { /* the guest closed its side: ours goes too */
		close_channel(b, true);
		set_status(b, "channel closed: the guest's port closed", false);
	}
	schedule_retry(b);
}

/* A local domain's QEMU pid, from the pid file libvirt keeps while it runs. */
static bool find_qemu(struct vigil_virt_be *b)
{
	char path[PATH_MAX], buf[32];
	FILE *f;
	long pid = 0;

	snprintf(path, sizeof(path), VIRT_QEMU_PID_DIR "/%s.pid", b->name);
	f = fopen(path, "re");
	if (f && fgets(buf, sizeof(buf), f))
		pid = strtol(buf, NULL, 10);
	if (f)
		fclose(f);
	if (pid <= 0)
		return false;
	vigil_vcpu_init(&b->vcpu, "/proc", (pid_t)pid);
	b->have_vcpu = true;
	return true;
}

/*
 * Local: the vCPU threads' run time from /proc (cheap, as for `vigil run`).
 * Remote: virDomainGetVcpus, one RPC, at most every VIRT_VCPU_MIN_NS; a
 * call sooner is "unknown" (-EAGAIN), never a stale value, which would
 * read as no progress.
 */
static int virt_vcpu(void *be, uint64_t *cpu_ns)
{
	struct vigil_virt_be *b = be;
	virVcpuInfo info[VIRT_VCPU_MAX];
	uint64_t now = vigil_loop_now(b->loop), sum = 0;
	int n;

	if (b->local && (b->have_vcpu || find_qemu(b)))
		return vigil_vcpu_sample(&b->vcpu, cpu_ns);
	if (b->lost)
		return -ENOTCONN;
	if (b->vcpu_at && now - b->vcpu_at < VIRT_VCPU_MIN_NS)
		return -EAGAIN;
	b->vcpu_at = now;
	n = virDomainGetVcpus(b->dom, info, VIRT_VCPU_MAX, NULL, 0);
	if (n <= 0)
		return -EIO;
	for (int i = 0; i < n; i++)
		sum += info[i].cpuTime;
	*cpu_ns = sum;
	return 0;
}

/* Local domains only (see vigil_virt_be_ops): the wait time and the
 * stopped state come from /proc, which a remote host's libvirt does not give. */
static int virt_vcpu_state(void *be, struct vigil_vcpu_state *st)
{
	struct vigil_virt_be *b = be;

	if (b->have_vcpu || find_qemu(b))
		return vigil_vcpu_state(&b->vcpu, st);
	return -ENOENT;
}

static void virt_free(void *be)
{
	struct vigil_virt_be *b = be;

	if (!b)
		return;
	dump_finish(b, -ECONNRESET, "the run ended"); /* as QMP's pending replies */
	b->g = NULL; /* being freed: not told of the channel's end */
	close_channel(b, true);
	vigil_timer_free(b->retry);
	vigil_timer_free(b->dump_timer);
	if (b->dom)
		virDomainFree(b->dom);
	free(b);
}

static const struct vigil_guest_ops virt_ops_remote = {
	.kind = "libvirt",
	.stop = virt_stop,
	.port_closed = virt_port_closed,
	.snapshot = virt_snapshot,
	.vcpu_sample = virt_vcpu,
	.free = virt_free,
};

/* A local domain's vCPU threads are read like `vigil run`'s: with their
 * runqueue wait, so a starved vCPU is told from a halted guest. */
static const struct vigil_guest_ops virt_ops_local = {
	.kind = "libvirt",
	.stop = virt_stop,
	.port_closed = virt_port_closed,
	.snapshot = virt_snapshot,
	.vcpu_sample = virt_vcpu,
	.vcpu_state = virt_vcpu_state,
	.free = virt_free,
};

const struct vigil_guest_ops *vigil_virt_be_ops(const struct vigil_virt_be *b)
{
	return b->local ? &virt_ops_local : &virt_ops_remote;
}

int vigil_virt_be_new(struct vigil_loop *l, const struct vigil_virt_be_cfg *c,
		      struct vigil_virt_be **out)
{
	struct vigil_virt_be *b = calloc(1, sizeof(*b));
	int e;

	if (!b)
		return -ENOMEM;
	b->loop = l;
	snprintf(b->name, sizeof(b->name), "%s", c->name);
	b->force = c->force;
	b->local = c->local;
	b->say = c->say;
	b->say_ctx = c->say_ctx;
	b->ended = c->ended;
	b->ended_ctx = c->ended_ctx;
	snprintf(b->status, sizeof(b->status), "starting");
	b->mon = (struct vigil_monitor){ .dump_memory = mon_dump, .hmp = mon_hmp, .ctx = b };
	/* A dump's size before one is done (KiB; 0 when libvirt cannot say). */
	b->mon.ram_bytes = (uint64_t)virDomainGetMaxMemory(c->dom) * 1024;
	e = vigil_timer_new(l, retry_due, b, &b->retry);
	if (e == 0)
		e = vigil_timer_new(l, dump_too_long, b, &b->dump_timer);
	if (e < 0 || virDomainRef(c->dom) < 0) {
		vigil_timer_free(b->retry);
		vigil_timer_free(b->dump_timer);
		free(b);
		return e < 0 ? e : -EIO;
	}
	b->dom = c->dom;
	*out = b;
	return 0;
}

void vigil_virt_be_start(struct vigil_virt_be *b, struct vigil_guest *g)
{
	b->g = g;
	open_channel(b);
}

void vigil_virt_be_lost(struct vigil_virt_be *b)
{
	b->lost = true;
	vigil_timer_disarm(b->retry);
	close_channel(b, true);
	set_status(b, "libvirtd connection lost", false);
}

void vigil_virt_be_reconnected(struct vigil_virt_be *b, virDomainPtr dom)
{
	if (virDomainRef(dom) == 0) {
		virDomainFree(b->dom);
		b->dom = dom;
	}
	b->lost = false;
	b->retry_ns = 0;
	open_channel(b);
}

const char *vigil_virt_be_status(const struct vigil_virt_be *b)
{
	return b->status;
}

bool vigil_virt_be_holding(const struct vigil_virt_be *b)
{
	return b->st != NULL;
}
