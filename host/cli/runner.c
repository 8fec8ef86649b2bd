/* SPDX-License-Identifier: MIT */
/*
 * runner: the epoll loop of `vigil run` and `vigil attach` (see runner.h).
 *
 * Lifecycle: launch (or connect) -> watch -> the session ends (or QEMU
 * goes away, or a signal) -> stop the guest (run only) -> finish -> write
 * the outputs. Output for the guest goes through a bounded queue
 * (RUN_TXQ_MAX); when it is full, frames are refused and the session
 * counts them.
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "console.h"
#include "finish.h"
#include "initramfs.h"
#include "junit.h"
#include "qmp.h"
#include "record.h"
#include "vcpu.h"

#define RUN_READ_BUDGET  (1u << 20)   /* port bytes per wake-up */
#define RUN_CON_BUDGET   (256u << 10) /* console bytes per wake-up */
#define RUN_TXQ_MAX      (256u << 10) /* bytes queued for the guest */
#define RUN_ERR_MAX      4096         /* QEMU stderr kept for error messages */
#define RUN_STATUS_NS    (250 * 1000000ull)
#define RUN_EXIT_WAIT_NS (5 * 1000000000ull) /* guest powers off after EXIT */
#define RUN_QUIT_WAIT_NS (2 * 1000000000ull) /* QMP quit -> SIGKILL */
#define RUN_RECONNECT_NS (200 * 1000000ull)
#define NSEC             1000000000ull

struct runner;

struct src {
	int fd;
	void (*ready)(struct runner *r, uint32_t events);
};

enum run_phase {
	PH_WATCH = 0, /* the run goes on */
	PH_STOPPING,  /* the session ended: waiting for QEMU to go */
	PH_DONE,
};

struct runner {
	const struct vigil_run_opts *o;
	int epfd;
	struct src sig, timer, pid, port, qmp_src, con, err;
	pid_t qemu_pid;
	bool qemu_exited;
	bool qemu_up;    /* its QMP greeting or a guest byte arrived: it started */
	int qemu_status; /* exit status, or -1 when a signal killed it */
	int qemu_sig;    /* the signal that killed it, or 0 */
	enum vigil_accel accel;
	bool probing; /* accel auto: waiting for KVM's first byte */
	uint64_t probe_deadline;
	struct vigil_session *s;
	struct vigil_qmp *qmp;
	struct vigil_console con_scan;
	struct vigil_vcpu_probe vcpu;
	bool have_vcpu;
	/* guest-bound bytes not yet written */
	uint8_t *txq;
	size_t txq_len;
	bool port_out;  /* EPOLLOUT armed */
	bool port_open; /* the guest side (VSERPORT_CHANGE) */
	bool port_closed_seen;
	bool link_up;
	/* phase */
	enum run_phase phase;
	uint64_t stop_deadline;
	bool quit_sent, killed;
	bool saw_exit, crashed;
	int signal_seen;
	uint64_t reconnect_at;
	/* outputs */
	FILE *events;
	bool events_stdout;
	int console_fd;
	struct vigil_rec_writer rec;
	bool recording;
	char errbuf[RUN_ERR_MAX];
	char qemu_version[32]; /* from the QMP greeting */
	size_t errlen;
	/* status line */
	bool tty;
	unsigned cols; /* terminal width (TIOCGWINSZ, again on SIGWINCH) */
	bool status_drawn;
	uint64_t status_next;
	uint64_t t0;
	char phase_text[96];
	uint64_t rx_bytes;
	uint64_t first_byte_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void say(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void status_clear(struct runner *r)
{
	if (r->status_drawn) {
		fputs("\r\033[K", stderr);
		r->status_drawn = false;
	}
}

/* A line for the user on stderr (not with --quiet). */
static void say(struct runner *r, const char *fmt, ...)
{
	va_list ap;

	if (r->o->quiet)
		return;
	status_clear(r);
	fputs("vigil: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- recording wrappers: every session input goes through these -------- */

static void rec(struct runner *r, enum vigil_rec_kind k, uint64_t t, const void *d, size_t n)
{
	if (r->recording && vigil_rec_put(&r->rec, k, t, d, n) < 0) {
		say(r, "cannot write the recording %s: %s; recording stopped", r->o->record_path,
		    strerror(-r->rec.err));
		r->recording = false;
	}
}

static void s_feed(struct runner *r, const uint8_t *buf, size_t len, uint64_t t)
{
	rec(r, VIGIL_REC_RX, t, buf, len);
	vigil_session_feed(r->s, buf, len, t);
}

static void s_link(struct runner *r, bool up, uint64_t t)
{
	if (up == r->link_up)
		return;
	r->link_up = up;
	rec(r, up ? VIGIL_REC_LINK_UP : VIGIL_REC_LINK_DOWN, t, NULL, 0);
	if (up)
		vigil_session_link_up(r->s, t);
	else
		vigil_session_link_down(r->s, t);
}

static void s_vm(struct runner *r, bool stopped, uint64_t t)
{
	rec(r, stopped ? VIGIL_REC_VM_STOPPED : VIGIL_REC_VM_RESUMED, t, NULL, 0);
	if (stopped)
		vigil_session_vm_stopped(r->s, t);
	else
		vigil_session_vm_resumed(r->s, t);
}

static void s_crashed(struct runner *r, const char *evidence, uint64_t t)
{
	if (r->crashed)
		return;
	r->crashed = true;
	rec(r, VIGIL_REC_CRASHED, t, evidence, strlen(evidence));
	vigil_session_guest_crashed(r->s, t, evidence);
}

static void s_harness(struct runner *r, const char *msg, uint64_t t)
{
	rec(r, VIGIL_REC_HARNESS_ERROR, t, msg, strlen(msg));
	vigil_session_harness_error(r->s, t, msg);
}

static void s_snapshot_done(struct runner *r, uint32_t id, int status, const char *detail,
			    uint64_t t)
{
	uint8_t buf[8 + 4096];
	size_t dl = detail ? strlen(detail) : 0;

	if (dl > 4096)
		dl = 4096;
	vigil_put32(buf, id);
	vigil_put32(buf + 4, (uint32_t)status);
	if (dl)
		memcpy(buf + 8, detail, dl);
	rec(r, VIGIL_REC_SNAPSHOT_DONE, t, buf, 8 + dl);
	vigil_session_snapshot_done(r->s, id, status, detail, t);
}

static uint64_t s_tick(struct runner *r, uint64_t t)
{
	rec(r, VIGIL_REC_TICK, t, NULL, 0);
	return vigil_session_tick(r->s, t);
}

/* ---- session hooks ----------------------------------------------------- */

static void write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			poll(&pfd, 1, 100);
			continue;
		}
		if (n <= 0)
			return; /* the reader went away: the run goes on without it */
		p += n;
		len -= (size_t)n;
	}
}

static void on_event(void *ctx, const struct vigil_event *ev)
{
	struct runner *r = ctx;

	if (r->events) {
		char *json;
		int n = vigil_event_to_json(ev, &json);
		if (n >= 0) {
			if (r->events_stdout)
				status_clear(r);
			fwrite(json, 1, (size_t)n, r->events);
			fputc('\n', r->events);
			if (r->events_stdout)
				fflush(r->events);
			free(json);
		}
	}
	switch (ev->type) {
	case VIGIL_EV_OUTPUT:
		if (ev->output.stream == VIGIL_MSG_STDOUT && !r->events_stdout) {
			status_clear(r);
			write_all(1, ev->output.data, ev->output.len);
		} else if (ev->output.stream == VIGIL_MSG_STDERR) {
			status_clear(r);
			write_all(2, ev->output.data, ev->output.len);
		} else if (r->o->verbose && (ev->output.stream == VIGIL_MSG_LOG ||
					     ev->output.stream == VIGIL_MSG_DMESG)) {
			status_clear(r);
			write_all(2, ev->output.data, ev->output.len);
			if (ev->output.len && ev->output.data[ev->output.len - 1] != '\n')
				write_all(2, "\n", 1);
		}
		break;
	case VIGIL_EV_FIRST_BYTE:
		snprintf(r->phase_text, sizeof(r->phase_text), "agent starting");
		break;
	case VIGIL_EV_READY:
		snprintf(r->phase_text, sizeof(r->phase_text), "ready");
		if (r->o->verbose)
			say(r, "guest ready after %.3f s", (double)ev->t_ns / 1e9);
		break;
	case VIGIL_EV_SCENARIO: {
		static const char *const ph[] = { "", "running", "paused", "running", "ended" };
		unsigned p = ev->scenario.phase <= 4 ? ev->scenario.phase : 0;
		snprintf(r->phase_text, sizeof(r->phase_text), "scenario '%.*s' %s",
			 ev->scenario.name.len > 40 ? 40 : (int)ev->scenario.name.len,
			 ev->scenario.name.ptr ? ev->scenario.name.ptr : "", ph[p]);
		for (char *c = r->phase_text; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
				*c = '?';
		break;
	}
	case VIGIL_EV_EXIT:
		r->saw_exit = true;
		snprintf(r->phase_text, sizeof(r->phase_text), "workload exited");
		break;
	case VIGIL_EV_STALL:
		if (!r->o->quiet)
			say(r, "process %u stalled: silent for %.2f s%s", ev->process.pid,
			    (double)ev->process.silence_ns / 1e9,
			    ev->process.host_starved ? " (host starved the vCPUs)" : "");
		break;
	case VIGIL_EV_RECOVERY:
		if (!r->o->quiet)
			say(r, "process %u beats again after %.2f s", ev->process.pid,
			    (double)ev->process.silence_ns / 1e9);
		break;
	default:
		break;
	}
}

static int port_flush(struct runner *r);

static void port_want_out(struct runner *r, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = &r->port };

	if (r->port_out == on || r->port.fd < 0)
		return;
	r->port_out = on;
	epoll_ctl(r->epfd, EPOLL_CTL_MOD, r->port.fd, &ev);
}

/* Frames for the guest: write now, or queue in order, or refuse. */
static int guest_write(void *ctx, const uint8_t *frame, size_t len)
{
	struct runner *r = ctx;
	size_t full = len;

	if (r->port.fd < 0)
		return -ENOTCONN;
	if (r->txq_len == 0) {
		ssize_t n = send(r->port.fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n < 0)
			n = 0;
		frame += n;
		len -= (size_t)n;
	}
	/* A frame partly sent must be finished, whatever the queue holds (the
	 * buffer has room for one frame over the limit); a frame not started
	 * is refused when the queue is full, and the session counts it. */
	if (r->txq_len + len > RUN_TXQ_MAX && len == full)
		return -EAGAIN;
	memcpy(r->txq + r->txq_len, frame, len);
	r->txq_len += len;
	port_want_out(r, true);
	return 0;
}

static int port_flush(struct runner *r)
{
	size_t off = 0;

	while (off < r->txq_len) {
		ssize_t n =
		    send(r->port.fd, r->txq + off, r->txq_len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	memmove(r->txq, r->txq + off, r->txq_len - off);
	r->txq_len -= off;
	port_want_out(r, r->txq_len > 0);
	return 0;
}

static int progress_sample(void *ctx, uint64_t *cpu_ns)
{
	struct runner *r = ctx;
	uint8_t buf[16] = { 0 };
	uint64_t v = 0;
	int res = r->have_vcpu ? vigil_vcpu_sample(&r->vcpu, &v) : -ENOENT;

	vigil_put32(buf, (uint32_t)res);
	vigil_put64(buf + 8, v);
	rec(r, VIGIL_REC_PROGRESS, now_ns(), buf, sizeof(buf));
	if (res < 0)
		return res;
	*cpu_ns = v;
	return 0;
}

/* ---- snapshots --------------------------------------------------------- */

struct snap_req {
	struct runner *r;
	uint32_t id;
	uint32_t kind;
	char path[PATH_MAX];
};

static void snap_sanitize(char *out, size_t cap, struct vigil_str tag)
{
	size_t o = 0;

	for (size_t i = 0; i < tag.len && o + 1 < cap && o < 48; i++) {
		char c = tag.ptr[i];
		out[o++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_')
			       ? c
			       : '_';
	}
	if (o == 0 && cap > 8)
		o = (size_t)snprintf(out, cap, "snapshot");
	out[o] = '\0';
}

static void snap_dump_done(void *ctx, int err, struct json_object *ret, const char *desc)
{
	struct snap_req *q = ctx;

	(void)ret;
	if (err < 0 && q->r->o->verbose)
		say(q->r, "memory dump failed: %s", desc ? desc : strerror(-err));
	s_snapshot_done(q->r, q->id, err < 0 ? -EIO : 0, err < 0 ? desc : q->path, now_ns());
	free(q);
}

static void snap_cpu_done(void *ctx, int err, struct json_object *ret, const char *desc)
{
	struct snap_req *q = ctx;
	const char *text =
	    ret && json_object_is_type(ret, json_type_string) ? json_object_get_string(ret) : NULL;

	if (err < 0 || !text) {
		s_snapshot_done(q->r, q->id, -EIO, desc ? desc : "no reply", now_ns());
	} else if (q->path[0]) {
		FILE *f = fopen(q->path, "we");
		int ok = f && fputs(text, f) >= 0;
		if (f && fclose(f) != 0)
			ok = 0;
		s_snapshot_done(q->r, q->id, ok ? 0 : -EIO, ok ? q->path : "cannot write the file",
				now_ns());
	} else {
		s_snapshot_done(q->r, q->id, 0, text, now_ns());
	}
	free(q);
}

static void host_counters(struct runner *r, char *buf, size_t cap)
{
	char path[64], stat[1024];
	unsigned long long utime = 0, stime = 0, rss_pages = 0;
	uint64_t vcpu = 0;
	struct vigil_session_counters c;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)r->qemu_pid);
	fd = r->qemu_pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		ssize_t n = read(fd, stat, sizeof(stat) - 1);
		close(fd);
		if (n > 0) {
			char *p;
			stat[n] = '\0';
			p = strrchr(stat, ')');
			/* fields after ")": state(3) ... utime(14) stime(15) ... rss(24) */
			if (p)
				sscanf(
				    p + 2,
				    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
				    "%*d %*d %*d %*d %*u %*u %llu",
				    &utime, &stime, &rss_pages);
		}
	}
	if (r->have_vcpu)
		vigil_vcpu_sample(&r->vcpu, &vcpu);
	vigil_session_counters(r->s, &c);
	snprintf(buf, cap,
		 "{\"qemu_pid\":%d,\"qemu_utime_ticks\":%llu,\"qemu_stime_ticks\":%llu,"
		 "\"qemu_rss_kib\":%llu,\"vcpu_run_ns\":%llu,\"port_rx_bytes\":%llu,"
		 "\"frames\":%llu,\"lost_frames\":%llu,\"console_bytes\":%llu}",
		 (int)r->qemu_pid, utime, stime,
		 rss_pages * (unsigned long long)(getpagesize() / 1024), (unsigned long long)vcpu,
		 (unsigned long long)r->rx_bytes, (unsigned long long)c.stream.frames,
		 (unsigned long long)c.stream.lost_frames, (unsigned long long)r->con_scan.bytes);
}

static int snapshot_start(void *ctx, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct runner *r = ctx;
	const char *dir = r->o->snapshot_dir;
	struct snap_req *q;
	char name[64];
	uint8_t rb[4];
	int res;

	snap_sanitize(name, sizeof(name), tag);
	q = calloc(1, sizeof(*q));
	if (!q) {
		res = -ENOMEM;
		goto out;
	}
	q->r = r;
	q->id = id;
	q->kind = kind;
	switch (kind) {
	case VIGIL_SNAP_MEMORY_DUMP:
		if (!r->qmp || !dir) {
			res = -EOPNOTSUPP; /* no QMP, or nowhere to put it (--snapshot-dir) */
			break;
		}
		snprintf(q->path, sizeof(q->path), "%s/%s-%u.elf", dir, name, id);
		res = vigil_qmp_dump_memory(r->qmp, q->path, snap_dump_done, q);
		res = res > 0 ? 0 : res;
		if (res == 0)
			q = NULL;
		break;
	case VIGIL_SNAP_CPU_STATE:
		if (!r->qmp) {
			res = -EOPNOTSUPP;
			break;
		}
		if (dir)
			snprintf(q->path, sizeof(q->path), "%s/%s-%u-cpu.txt", dir, name, id);
		res = vigil_qmp_hmp(r->qmp, "info registers -a", snap_cpu_done, q);
		res = res > 0 ? 0 : res;
		if (res == 0)
			q = NULL;
		break;
	case VIGIL_SNAP_HOST_COUNTERS: {
		char json[1024];
		host_counters(r, json, sizeof(json));
		vigil_put32(rb, 0);
		rec(r, VIGIL_REC_SNAPSHOT_START, now_ns(), rb, 4);
		if (dir) {
			FILE *f;
			snprintf(q->path, sizeof(q->path), "%s/%s-%u-host.json", dir, name, id);
			f = fopen(q->path, "we");
			if (f) {
				fputs(json, f);
				fputc('\n', f);
				fclose(f);
			}
		}
		s_snapshot_done(r, id, 0, json, now_ns());
		free(q);
		return 0;
	}
	default:
		res = -EOPNOTSUPP;
		break;
	}
	free(q);
out:
	vigil_put32(rb, (uint32_t)res);
	rec(r, VIGIL_REC_SNAPSHOT_START, now_ns(), rb, 4);
	return res;
}

/* ---- epoll plumbing ---------------------------------------------------- */

static int ep_add(struct runner *r, struct src *s, int fd, uint32_t events,
		  void (*ready)(struct runner *, uint32_t))
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	s->fd = fd;
	s->ready = ready;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static void ep_del(struct runner *r, struct src *s)
{
	if (s->fd < 0)
		return;
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
}

/* ---- console ----------------------------------------------------------- */

static void on_console_line(void *ctx, const char *line, size_t len, enum vigil_kernel_trouble k)
{
	struct runner *r = ctx;
	uint64_t t = now_ns();

	rec(r, VIGIL_REC_CONSOLE, t, line, len);
	vigil_session_console_line(r->s, t, line, len);
	if (r->o->verbose) {
		status_clear(r);
		fprintf(stderr, "console: %s\n", line);
	}
	(void)k; /* the session classifies console lines itself (panic, OOM, ...) */
}

static void console_ready(struct runner *r, uint32_t events)
{
	char buf[16384];
	size_t budget = RUN_CON_BUDGET;

	(void)events;
	while (budget > 0) {
		ssize_t n = recv(r->con.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			vigil_console_flush(&r->con_scan, on_console_line, r);
			ep_del(r, &r->con);
			return;
		}
		if (r->console_fd >= 0)
			write_all(r->console_fd, buf, (size_t)n);
		vigil_console_feed(&r->con_scan, buf, (size_t)n, on_console_line, r);
		budget -= (size_t)n < budget ? (size_t)n : budget;
	}
}

/* ---- QEMU's stderr ----------------------------------------------------- */

static void err_ready(struct runner *r, uint32_t events)
{
	char buf[4096];
	ssize_t n;

	(void)events;
	n = read(r->err.fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ep_del(r, &r->err);
		return;
	}
	if (r->o->verbose) {
		status_clear(r);
		write_all(2, buf, (size_t)n);
	}
	/* keep the last RUN_ERR_MAX - 1 bytes: the end says why QEMU died */
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
}

/* ---- the port ---------------------------------------------------------- */

static void port_eof(struct runner *r)
{
	ep_del(r, &r->port);
	r->txq_len = 0;
	r->port_out = false;
	s_link(r, false, now_ns());
	if (r->o->attach && r->phase == PH_WATCH)
		r->reconnect_at = now_ns() + RUN_RECONNECT_NS;
}

static void port_ready(struct runner *r, uint32_t events)
{
	uint8_t buf[65536];
	size_t budget = RUN_READ_BUDGET;

	if (events & EPOLLOUT) {
		if (port_flush(r) < 0) {
			port_eof(r);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	while (budget > 0 && r->port.fd >= 0) {
		ssize_t n = recv(r->port.fd, buf, sizeof(buf), MSG_DONTWAIT);
		uint64_t t;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			port_eof(r);
			return;
		}
		t = now_ns();
		if (!r->first_byte_ns)
			r->first_byte_ns = t;
		r->qemu_up = true;
		if (r->probing) {
			r->probing = false;
			say(r, "accel kvm: the guest answered after %.2f s",
			    (double)(t - r->t0) / 1e9);
		}
		r->rx_bytes += (uint64_t)n;
		s_feed(r, buf, (size_t)n, t);
		budget -= (size_t)n < budget ? (size_t)n : budget;
	}
}

/* ---- QMP --------------------------------------------------------------- */

static void qmp_event(void *ctx, const char *name, struct json_object *data, uint64_t ts_us)
{
	struct runner *r = ctx;
	uint64_t t = now_ns();

	(void)ts_us;
	if (!strcmp(name, "STOP")) {
		s_vm(r, true, t);
	} else if (!strcmp(name, "RESUME")) {
		s_vm(r, false, t);
	} else if (!strcmp(name, "GUEST_PANICKED") || !strcmp(name, "GUEST_CRASHLOADED")) {
		char ev[VIGIL_CON_LINE_MAX + 64];
		snprintf(ev, sizeof(ev), "pvpanic: %s%s%s", name,
			 r->con_scan.first_line[0] ? "; console: " : "", r->con_scan.first_line);
		s_crashed(r, ev, t);
	} else if (!strcmp(name, "SHUTDOWN")) {
		struct json_object *reason;
		if (data && json_object_object_get_ex(data, "reason", &reason) &&
		    !strcmp(json_object_get_string(reason), "guest-panic"))
			s_crashed(r, "QEMU SHUTDOWN reason guest-panic", t);
	} else if (!strcmp(name, "VSERPORT_CHANGE")) {
		struct json_object *open, *id;
		bool is_open;
		if (!data || !json_object_object_get_ex(data, "open", &open))
			return;
		if (json_object_object_get_ex(data, "id", &id) &&
		    strcmp(json_object_get_string(id), "vport") != 0 && !r->o->attach)
			return;
		is_open = json_object_get_boolean(open);
		if (!is_open) {
			/* The agent closed the port: what it sends after reopening
			 * is a new stream (wire spec: drop what is held). */
			r->port_closed_seen = true;
			s_link(r, false, t);
		} else if (r->port_closed_seen && r->port.fd >= 0) {
			s_link(r, true, t);
		}
		r->port_open = is_open;
	}
}

static void qmp_ready(struct runner *r, uint32_t events)
{
	int e;

	if (events & EPOLLOUT)
		vigil_qmp_on_writable(r->qmp);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		e = vigil_qmp_on_readable(r->qmp);
		if (vigil_qmp_ready(r->qmp) && !r->qemu_up) {
			r->qemu_up = true;
			snprintf(r->qemu_version, sizeof(r->qemu_version), "%s",
				 vigil_qmp_version(r->qmp));
		}
		if (e < 0) {
			epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->qmp_src.fd, NULL);
			r->qmp_src.fd = -1;
			vigil_qmp_free(r->qmp);
			r->qmp = NULL;
			return;
		}
	}
	{
		struct epoll_event ev = {
			.events = EPOLLIN | (vigil_qmp_want_write(r->qmp) ? EPOLLOUT : 0),
			.data.ptr = &r->qmp_src,
		};
		epoll_ctl(r->epfd, EPOLL_CTL_MOD, r->qmp_src.fd, &ev);
	}
}

static void qmp_sync_out(struct runner *r)
{
	if (r->qmp && r->qmp_src.fd >= 0) {
		struct epoll_event ev = {
			.events = EPOLLIN | (vigil_qmp_want_write(r->qmp) ? EPOLLOUT : 0),
			.data.ptr = &r->qmp_src,
		};
		epoll_ctl(r->epfd, EPOLL_CTL_MOD, r->qmp_src.fd, &ev);
	}
}

/* ---- QEMU process ------------------------------------------------------ */

static void drain_all(struct runner *r)
{
	/* QEMU is gone: what it wrote is still in the sockets. */
	for (int i = 0; i < 64 && r->port.fd >= 0; i++)
		port_ready(r, EPOLLIN);
	for (int i = 0; i < 64 && r->con.fd >= 0; i++)
		console_ready(r, EPOLLIN);
	for (int i = 0; i < 16 && r->qmp; i++)
		qmp_ready(r, EPOLLIN);
	for (int i = 0; i < 16 && r->err.fd >= 0; i++)
		err_ready(r, EPOLLIN);
}

static void pid_ready(struct runner *r, uint32_t events)
{
	siginfo_t si;

	(void)events;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)r->qemu_pid, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	r->qemu_exited = true;
	r->qemu_status = si.si_code == CLD_EXITED ? si.si_status : -1;
	r->qemu_sig = si.si_code == CLD_EXITED ? 0 : si.si_status;
	ep_del(r, &r->pid);
	drain_all(r);
}

static int launch_qemu(struct runner *r, enum vigil_accel accel);

/* ---- signals and timer ------------------------------------------------- */

static void term_cols(struct runner *r);

static void sig_ready(struct runner *r, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(r->sig.fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGWINCH) {
			term_cols(r);
			continue;
		}
		if (r->signal_seen) {
			/* a second signal: stop waiting for the guest */
			if (r->qemu_pid > 0 && !r->qemu_exited)
				kill(r->qemu_pid, SIGKILL);
			r->phase = PH_DONE;
			continue;
		}
		r->signal_seen = (int)si.ssi_signo;
	}
}

static void timer_ready(struct runner *r, uint32_t events)
{
	uint64_t exp;

	(void)events;
	while (read(r->timer.fd, &exp, sizeof(exp)) == sizeof(exp))
		;
}

static void arm_timer(struct runner *r, uint64_t next)
{
	struct itimerspec its = { 0 };

	if (next == VIGIL_DEADLINE_NONE || next == 0)
		next = now_ns() + 3600 * NSEC;
	its.it_value.tv_sec = (time_t)(next / NSEC);
	its.it_value.tv_nsec = (long)(next % NSEC);
	timerfd_settime(r->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/*
 * The live status line on a terminal, cut to its width (a line that wraps
 * leaves a stale copy on every redraw). The most useful parts come first.
 */
static void status_draw(struct runner *r, uint64_t t)
{
	struct vigil_session_counters c;
	char line[256];
	int n;

	if (!r->tty || r->o->quiet || r->phase != PH_WATCH)
		return;
	vigil_session_counters(r->s, &c);
	n = snprintf(line, sizeof(line),
		     "[vigil %.1fs] %s | procs %u (%u stalled) | tests %llu | "
		     "flows %u | %s %s",
		     (double)(t - r->t0) / 1e9, r->phase_text[0] ? r->phase_text : "booting",
		     c.tracker.tracked, c.tracker.stalled,
		     (unsigned long long)c.type[VIGIL_MSG_TEST_RESULT].frames, c.flows.open_now,
		     r->o->attach ? "attach" : vigil_machine_name(r->o->qemu.machine),
		     r->o->attach ? (r->qmp ? "qmp" : "no-qmp") : vigil_accel_name(r->accel));
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (r->cols > 1 && (unsigned)n > r->cols - 1)
		n = (int)r->cols - 1;
	fprintf(stderr, "\r\033[K%.*s", n, line);
	fflush(stderr);
	r->status_drawn = true;
}

/* ---- launching --------------------------------------------------------- */

static int sockpair(int sv[2])
{
	/* sv[0] ours (close-on-exec), sv[1] QEMU's (inherited) */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -errno;
	if (fcntl(sv[0], F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

static void close_sources(struct runner *r)
{
	ep_del(r, &r->port);
	ep_del(r, &r->con);
	ep_del(r, &r->err);
	ep_del(r, &r->pid);
	if (r->qmp) {
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->qmp_src.fd, NULL);
		r->qmp_src.fd = -1;
		vigil_qmp_free(r->qmp);
		r->qmp = NULL;
	}
}

/* QEMU's part of the provenance: binary, argv, accelerator (the version
 * comes with the QMP greeting and is added at the end). */
static void provenance_qemu(struct runner *r, const struct vigil_argv *argv, enum vigil_accel accel)
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

static int launch_qemu(struct runner *r, enum vigil_accel accel)
{
	struct vigil_qemu_cfg c = r->o->qemu;
	struct vigil_argv argv;
	int port[2], qmp[2], con[2], errp[2], pidfd, e;
	pid_t pid;

	if ((e = sockpair(port)) < 0 || (e = sockpair(qmp)) < 0 || (e = sockpair(con)) < 0)
		return e;
	if (pipe2(errp, O_CLOEXEC) < 0)
		return -errno;
	c.accel = accel;
	c.port = (struct vigil_qemu_chan){ .fd = port[1] };
	c.qmp = (struct vigil_qemu_chan){ .fd = qmp[1] };
	c.console = (struct vigil_qemu_chan){ .fd = con[1] };
	e = vigil_qemu_argv(&c, &argv);
	if (e < 0)
		return e;
	provenance_qemu(r, &argv, accel);
	if (r->o->verbose) {
		char *line = vigil_argv_join(&argv);
		say(r, "starting %s", line ? line : argv.v[0]);
		free(line);
	}
	pid = fork();
	if (pid < 0) {
		vigil_argv_free(&argv);
		return -errno;
	}
	if (pid == 0) {
		sigset_t all;
		int devnull = open("/dev/null", O_RDWR);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		/* QEMU must not outlive vigil */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		dup2(errp[1], 2);
		/* a process group of its own: the user's Ctrl-C reaches vigil only */
		setpgid(0, 0);
		execvp(argv.v[0], argv.v);
		dprintf(2, "cannot run %s: %s\n", argv.v[0], strerror(errno));
		_exit(127);
	}
	vigil_argv_free(&argv);
	close(port[1]);
	close(qmp[1]);
	close(con[1]);
	close(errp[1]);
	r->qemu_pid = pid;
	r->qemu_exited = false;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	set_nonblock(port[0]);
	set_nonblock(con[0]);
	set_nonblock(errp[0]);
	if ((e = ep_add(r, &r->pid, pidfd, EPOLLIN, pid_ready)) < 0 ||
	    (e = ep_add(r, &r->port, port[0], EPOLLIN, port_ready)) < 0 ||
	    (e = ep_add(r, &r->con, con[0], EPOLLIN, console_ready)) < 0 ||
	    (e = ep_add(r, &r->err, errp[0], EPOLLIN, err_ready)) < 0)
		return e;
	e = vigil_qmp_new(qmp[0], qmp_event, r, &r->qmp);
	if (e < 0)
		return e;
	e = ep_add(r, &r->qmp_src, qmp[0], EPOLLIN, qmp_ready);
	if (e < 0)
		return e;
	vigil_vcpu_init(&r->vcpu, "/proc", pid);
	r->have_vcpu = true;
	r->accel = accel;
	return 0;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	set_nonblock(fd);
	return fd;
}

static int attach_port(struct runner *r)
{
	int fd = unix_connect(r->o->socket_path), e;

	if (fd < 0)
		return fd;
	e = ep_add(r, &r->port, fd, EPOLLIN, port_ready);
	if (e < 0) {
		close(fd);
		return e;
	}
	r->reconnect_at = 0;
	s_link(r, true, now_ns());
	return 0;
}

/* ---- KVM probe cache --------------------------------------------------- */

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

/* ---- the session ------------------------------------------------------- */

/* The session options a recording carries, as (name, field) pairs. */
#define REC_U64_FIELDS(X)                                                                          \
	X(stall_threshold_ns)                                                                      \
	X(boot_timeout_ns)                                                                         \
	X(workload_duration_ns)                                                                    \
	X(run_timeout_ns)                                                                          \
	X(link_grace_ns)                                                                           \
	X(ping_interval_ns)                                                                        \
	X(progress_interval_ns)

char *vigil_runner_rec_header(const struct vigil_session_opts *so, uint64_t t0_ns, const char *what,
			      struct json_object *provenance, bool image_mode)
{
	struct json_object *o = json_object_new_object();
	char *out = NULL;
	const char *txt;

	if (!o)
		return NULL;
	json_object_object_add(o, "format", json_object_new_string("vigil-record"));
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "what", json_object_new_string(what));
	json_object_object_add(o, "t0_ns", json_object_new_uint64(t0_ns));
	json_object_object_add(o, "mode", json_object_new_int((int)so->mode));
	json_object_object_add(o, "on_stall", json_object_new_int((int)so->on_stall));
	json_object_object_add(o, "fail_on", json_object_new_int64(so->fail_on));
	json_object_object_add(o, "tracker_capacity", json_object_new_int64(so->tracker_capacity));
	json_object_object_add(o, "image_mode", json_object_new_boolean(image_mode));
#define U64(name) json_object_object_add(o, #name, json_object_new_uint64(so->name));
	REC_U64_FIELDS(U64)
#undef U64
	if (provenance) {
		json_object_object_add(o, "provenance", json_object_get(provenance));
		txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		if (!txt || strlen(txt) >= VIGIL_REC_HEADER_MAX) /* a huge argv: leave it out */
			json_object_object_del(o, "provenance");
	}
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	out = txt ? strdup(txt) : NULL;
	json_object_put(o);
	return out;
}

int vigil_runner_rec_header_parse(const char *json, size_t len, struct vigil_session_opts *so,
				  uint64_t *t0_ns, struct json_object **provenance,
				  bool *image_mode)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o, *v;

	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, json, (int)len);
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EBADMSG;
	}
#define U64(name)                                                                                  \
	if (json_object_object_get_ex(o, #name, &v))                                               \
		so->name = (uint64_t)json_object_get_uint64(v);
	REC_U64_FIELDS(U64)
#undef U64
	if (json_object_object_get_ex(o, "mode", &v))
		so->mode = (enum vigil_session_mode)json_object_get_int(v);
	if (json_object_object_get_ex(o, "on_stall", &v))
		so->on_stall = (enum vigil_on_stall)json_object_get_int(v);
	if (json_object_object_get_ex(o, "fail_on", &v))
		so->fail_on = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "tracker_capacity", &v))
		so->tracker_capacity = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "t0_ns", &v))
		*t0_ns = json_object_get_uint64(v);
	if (image_mode)
		*image_mode =
		    json_object_object_get_ex(o, "image_mode", &v) && json_object_get_boolean(v);
	if (provenance)
		*provenance = json_object_object_get_ex(o, "provenance", &v) &&
				      json_object_is_type(v, json_type_object)
				  ? json_object_get(v)
				  : NULL;
	json_object_put(o);
	return 0;
}

static int session_start(struct runner *r, uint64_t t)
{
	struct vigil_session_hooks h = {
		.sink = { on_event, r },
		.writer = { guest_write, r },
		.snapshot = { snapshot_start, r },
		.progress = { progress_sample, r },
	};
	int e;

	if (r->o->record_path) {
		char *hdr =
		    vigil_runner_rec_header(&r->o->sopts, t, r->o->attach ? "attach" : "run",
					    r->o->provenance, r->o->image_mode);
		if (r->recording)
			vigil_rec_close(&r->rec);
		e = hdr ? vigil_rec_open(&r->rec, r->o->record_path, hdr) : -ENOMEM;
		free(hdr);
		if (e < 0) {
			fprintf(stderr, "vigil: cannot write the recording %s: %s\n",
				r->o->record_path, strerror(-e));
			return e;
		}
		r->recording = true;
	}
	vigil_session_free(r->s);
	r->s = NULL;
	e = vigil_session_new(&r->o->sopts, &h, t, &r->s);
	if (e < 0)
		fprintf(stderr, "vigil: cannot create the session: %s\n", strerror(-e));
	r->link_up = false;
	return e;
}

/* ---- when QEMU goes away ---------------------------------------------- */

/* "exited with status 1", "was killed by SIGKILL". */
static void qemu_how(const struct runner *r, char *buf, size_t cap)
{
	if (r->qemu_sig)
		snprintf(buf, cap, "was killed by SIG%s",
			 sigabbrev_np(r->qemu_sig) ? sigabbrev_np(r->qemu_sig) : "?");
	else
		snprintf(buf, cap, "exited with status %d", r->qemu_status);
}

/* The last `lines` non-empty lines of QEMU's stderr joined with " | ",
 * without QEMU's "qemu-system-x86_64: " prefixes. */
static void qemu_err_tail(struct runner *r, char *out, size_t cap, int lines)
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

/*
 * QEMU is gone while the run went on: before it ever came up (no QMP
 * greeting, no guest byte: a bad option, an abort under KVM) it would not
 * start, which is vigil's error (125) with its stderr; after that it is
 * QEMU_EXITED with its status or signal and its last stderr lines (124),
 * whatever the guest was doing.
 */
static void qemu_gone(struct runner *r, uint64_t t)
{
	char how[64], tail[600], msg[800];

	qemu_how(r, how, sizeof(how));
	qemu_err_tail(r, tail, sizeof(tail), 4);
	if (!r->qemu_up) {
		snprintf(msg, sizeof(msg), "QEMU would not start: it %s%s%s", how,
			 tail[0] ? ": " : "", tail);
		s_harness(r, msg, t);
	} else {
		uint8_t rb[8 + 600];
		size_t tl = strlen(tail);
		vigil_put32(rb, (uint32_t)r->qemu_status);
		vigil_put32(rb + 4, (uint32_t)r->qemu_sig);
		memcpy(rb + 8, tail, tl);
		rec(r, VIGIL_REC_VMM_EXITED, t, rb, 8 + tl);
		vigil_session_vmm_exited(r->s, t, r->qemu_status, r->qemu_sig,
					 tail[0] ? tail : NULL);
	}
	r->phase = PH_DONE;
}

/* Everything a launch of QEMU (and its guest) leaves behind, cleared for
 * the next one. */
static void reset_guest_state(struct runner *r)
{
	close_sources(r);
	r->errlen = 0;
	r->first_byte_ns = 0;
	r->rx_bytes = 0;
	r->qemu_up = false;
	r->qemu_sig = r->qemu_status = 0;
	r->txq_len = 0;
	r->port_out = r->port_open = r->port_closed_seen = false;
	r->quit_sent = r->killed = r->saw_exit = r->crashed = false;
	r->phase_text[0] = '\0';
	vigil_console_init(&r->con_scan);
}

/*
 * --accel auto: KVM did not run the guest (QEMU died, or no byte came in
 * time). Say why, once: the verdict is remembered until the host reboots,
 * and later runs go straight to TCG without a word (-v says it).
 */
static int kvm_fallback(struct runner *r)
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
	say(r, "accel kvm: %s; using TCG (remembered until this host reboots)", why);
	kvm_mark_bad(r->o);
	r->probing = false;
	r->probe_deadline = 0;
	if (!r->qemu_exited) {
		kill(r->qemu_pid, SIGKILL);
		waitpid(r->qemu_pid, NULL, 0);
	}
	reset_guest_state(r);
	r->t0 = now_ns();
	if (launch_qemu(r, VIGIL_ACCEL_TCG) < 0 || session_start(r, r->t0) < 0) {
		fprintf(stderr, "vigil: cannot restart QEMU under TCG\n");
		return -EIO;
	}
	s_link(r, true, r->t0);
	return 0;
}

/* ---- the loop ---------------------------------------------------------- */

static void begin_stop(struct runner *r, uint64_t t)
{
	if (r->phase != PH_WATCH)
		return;
	r->phase = PH_STOPPING;
	status_clear(r);
	if (r->o->attach) {
		r->phase = PH_DONE; /* the guest is not ours to stop */
		return;
	}
	if (r->saw_exit && !r->signal_seen) {
		/* the agent powers the guest off by itself */
		r->stop_deadline = t + RUN_EXIT_WAIT_NS;
		return;
	}
	if (r->qmp && vigil_qmp_ready(r->qmp)) {
		vigil_qmp_command(r->qmp, "quit", NULL, NULL, NULL);
		qmp_sync_out(r);
	} else if (r->qemu_pid > 0 && !r->qemu_exited) {
		kill(r->qemu_pid, SIGTERM);
	}
	r->quit_sent = true;
	r->stop_deadline = t + RUN_QUIT_WAIT_NS;
}

static int loop(struct runner *r)
{
	struct epoll_event evs[16];

	while (r->phase != PH_DONE) {
		uint64_t t = now_ns(), next, dl;
		int n;

		if (r->s && r->phase == PH_WATCH) {
			next = s_tick(r, t);
			if (vigil_session_ended(r->s))
				begin_stop(r, t);
		} else {
			next = VIGIL_DEADLINE_NONE;
		}
		if (r->signal_seen && r->phase == PH_WATCH) {
			char msg[64];
			snprintf(msg, sizeof(msg), "interrupted by %s", strsignal(r->signal_seen));
			s_harness(r, msg, t);
			begin_stop(r, t);
		}
		if (r->probing && (r->qemu_exited || t >= r->probe_deadline)) {
			if (kvm_fallback(r) < 0)
				return -EIO;
			continue;
		}
		if (r->qemu_exited && r->phase == PH_WATCH) {
			qemu_gone(r, now_ns());
			break;
		}
		if (r->phase == PH_STOPPING) {
			if (r->qemu_exited) {
				r->phase = PH_DONE;
				break;
			}
			if (t >= r->stop_deadline) {
				if (!r->quit_sent && r->qmp && vigil_qmp_ready(r->qmp)) {
					vigil_qmp_command(r->qmp, "quit", NULL, NULL, NULL);
					qmp_sync_out(r);
					r->quit_sent = true;
					r->stop_deadline = t + RUN_QUIT_WAIT_NS;
				} else if (!r->killed) {
					kill(r->qemu_pid, SIGKILL);
					r->killed = true;
					r->stop_deadline = t + RUN_QUIT_WAIT_NS;
				} else {
					r->phase = PH_DONE;
					break;
				}
			}
			dl = r->stop_deadline;
			next = next < dl ? next : dl;
		}
		if (r->o->attach && r->reconnect_at && r->phase == PH_WATCH) {
			if (t >= r->reconnect_at) {
				if (attach_port(r) < 0)
					r->reconnect_at = t + RUN_RECONNECT_NS;
			}
			if (r->reconnect_at)
				next = next < r->reconnect_at ? next : r->reconnect_at;
		}
		if (r->probing && r->probe_deadline)
			next = next < r->probe_deadline ? next : r->probe_deadline;
		if (r->tty && !r->o->quiet && r->phase == PH_WATCH) {
			if (t >= r->status_next) {
				status_draw(r, t);
				r->status_next = t + RUN_STATUS_NS;
			}
			next = next < r->status_next ? next : r->status_next;
		}
		arm_timer(r, next);
		n = epoll_wait(r->epfd, evs, 16, -1);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct src *s = evs[i].data.ptr;
			if (s->fd >= 0 && s->ready)
				s->ready(r, evs[i].events);
		}
		qmp_sync_out(r);
	}
	return 0;
}

/* ---- setup and the end ---------------------------------------------- */

/*
 * The provenance gets QEMU's version (from the QMP greeting) and goes into
 * the FINISH record whole, so `vigil decode` puts the same one in its
 * verdict (the header's copy lacks the version).
 */
static void provenance_final(struct runner *r, uint64_t t)
{
	struct json_object *p = r->o->provenance, *q;
	const char *txt = NULL;
	size_t len = 0;

	if (p && r->qemu_version[0]) {
		if (!json_object_object_get_ex(p, "qemu", &q)) {
			q = json_object_new_object();
			json_object_object_add(p, "qemu", q);
		}
		json_object_object_add(q, "version", json_object_new_string(r->qemu_version));
	}
	if (p) {
		txt = json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN);
		len = txt ? strlen(txt) : 0;
		if (len > VIGIL_REC_MAX)
			len = 0; /* a huge argv: the header's copy is what decode gets */
	}
	rec(r, VIGIL_REC_FINISH, t, len ? txt : NULL, len);
}

static void finish_outputs(struct runner *r, const struct vigil_verdict *v, int *code)
{
	struct vigil_finish_in in = {
		.v = v,
		.provenance = r->o->provenance,
		.image_mode = r->o->image_mode,
		.verdict_path = r->o->verdict_path,
		.junit_path = r->o->junit_path,
		.cmd = r->o->attach ? "attach" : "run",
	};

	if (!r->o->quiet) {
		status_clear(r);
		vigil_finish_summary(stderr, &in);
	}
	if (vigil_finish_write(&in) && *code == 0)
		*code = VIGIL_EXIT_HARNESS;
}

static void term_cols(struct runner *r)
{
	struct winsize ws;

	r->cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

static int setup_loop(struct runner *r)
{
	sigset_t mask;
	int tfd, sfd;

	r->txq = malloc(RUN_TXQ_MAX + VIGIL_WIRE_MAX_FRAME);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!r->txq || r->epfd < 0) {
		fprintf(stderr, "vigil: cannot set up the event loop: %s\n", strerror(errno));
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGWINCH);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sfd < 0 || tfd < 0 || ep_add(r, &r->sig, sfd, EPOLLIN, sig_ready) < 0 ||
	    ep_add(r, &r->timer, tfd, EPOLLIN, timer_ready) < 0) {
		fprintf(stderr, "vigil: cannot set up signals and timers: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* The outputs written while the run goes on (all checked before, see outputs.c). */
static int open_outputs(struct runner *r)
{
	const struct vigil_run_opts *o = r->o;

	if (o->events_path) {
		r->events_stdout = !strcmp(o->events_path, "-");
		r->events = r->events_stdout ? stdout : fopen(o->events_path, "we");
		if (!r->events) {
			fprintf(stderr, "vigil: cannot write events to %s: %s\n", o->events_path,
				strerror(errno));
			return -1;
		}
	}
	if (o->console_path) {
		r->console_fd =
		    open(o->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (r->console_fd < 0) {
			fprintf(stderr, "vigil: cannot write the console to %s: %s\n",
				o->console_path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int start_attach(struct runner *r)
{
	const struct vigil_run_opts *o = r->o;
	int e;

	if (session_start(r, r->t0) < 0)
		return -1;
	e = attach_port(r);
	if (e < 0) {
		fprintf(stderr,
			"vigil: cannot connect to %s: %s (is QEMU running with "
			"-chardev socket,path=%s,server=on?)\n",
			o->socket_path, strerror(-e), o->socket_path);
		return -1;
	}
	if (o->qmp_path) {
		int fd = unix_connect(o->qmp_path);
		if (fd < 0 || vigil_qmp_new(fd, qmp_event, r, &r->qmp) < 0 ||
		    ep_add(r, &r->qmp_src, fd, EPOLLIN, qmp_ready) < 0) {
			fprintf(stderr, "vigil: cannot connect to QMP at %s: %s\n", o->qmp_path,
				strerror(fd < 0 ? -fd : errno));
			return -1;
		}
	}
	r->accel = o->qemu.accel;
	return 0;
}

/* --accel: KVM when asked; with auto, when /dev/kvm is usable and KVM has
 * not failed on this host since it booted (then a probe proves it). */
static enum vigil_accel choose_accel(struct runner *r)
{
	const struct vigil_run_opts *o = r->o;

	if (o->accel == VIGIL_ACCEL_MODE_KVM)
		return VIGIL_ACCEL_KVM;
	if (o->accel == VIGIL_ACCEL_MODE_TCG)
		return VIGIL_ACCEL_TCG;
	if (access("/dev/kvm", R_OK | W_OK) < 0) {
		if (o->verbose)
			say(r, "accel tcg: /dev/kvm: %s", strerror(errno));
		return VIGIL_ACCEL_TCG;
	}
	if (kvm_known_bad(o)) {
		if (o->verbose)
			say(r, "accel tcg: KVM did not run a guest since this host booted");
		return VIGIL_ACCEL_TCG;
	}
	r->probing = true;
	r->probe_deadline = r->t0 + o->kvm_probe_ns;
	return VIGIL_ACCEL_KVM;
}

static int start_run(struct runner *r)
{
	enum vigil_accel accel = choose_accel(r);
	int e = launch_qemu(r, accel);

	if (e < 0) {
		fprintf(stderr, "vigil: cannot start QEMU: %s\n", strerror(-e));
		return -1;
	}
	if (session_start(r, r->t0) < 0)
		return -1;
	if (!r->probing && r->o->verbose)
		say(r, "accel %s", vigil_accel_name(accel));
	s_link(r, true, r->t0);
	return 0;
}

static void teardown(struct runner *r)
{
	if (r->events && r->events != stdout)
		fclose(r->events);
	else if (r->events)
		fflush(r->events);
	if (r->recording && vigil_rec_close(&r->rec) < 0)
		fprintf(stderr, "vigil: the recording %s is incomplete\n", r->o->record_path);
	if (r->console_fd >= 0)
		close(r->console_fd);
	close_sources(r);
	vigil_session_free(r->s);
	free(r->txq);
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->sig.fd >= 0)
		close(r->sig.fd);
	if (r->timer.fd >= 0)
		close(r->timer.fd);
}

int vigil_runner_main(const struct vigil_run_opts *o)
{
	struct runner rr, *r = &rr;
	const struct vigil_verdict *v;
	uint64_t t;
	int e, code = VIGIL_EXIT_HARNESS;

	memset(r, 0, sizeof(*r));
	r->o = o;
	r->sig.fd = r->timer.fd = r->pid.fd = r->port.fd = r->qmp_src.fd = r->con.fd = r->err.fd =
	    -1;
	r->epfd = r->console_fd = -1;
	r->tty = isatty(2);
	term_cols(r);
	vigil_console_init(&r->con_scan);
	r->t0 = now_ns();
	if (setup_loop(r) < 0 || open_outputs(r) < 0 ||
	    (o->attach ? start_attach(r) : start_run(r)) < 0)
		goto out;
	e = loop(r);
	if (e < 0)
		fprintf(stderr, "vigil: event loop failed: %s\n", strerror(-e));
	if (r->qemu_pid > 0 && !r->qemu_exited) {
		kill(r->qemu_pid, SIGKILL);
		waitpid(r->qemu_pid, NULL, 0);
	}
	vigil_console_flush(&r->con_scan, on_console_line, r);
	t = now_ns();
	provenance_final(r, t);
	v = vigil_session_finish(r->s, t);
	code = vigil_verdict_exit_code(v);
	finish_outputs(r, v, &code);
out:
	if (r->qemu_pid > 0 && !r->qemu_exited) {
		kill(r->qemu_pid, SIGKILL);
		waitpid(r->qemu_pid, NULL, 0);
	}
	teardown(r);
	return code;
}
