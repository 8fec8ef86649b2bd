/* SPDX-License-Identifier: MIT */
/*
 * core: the agent's event loop (see core.h). One struct core per process;
 * every fd is an epoll source tagged with its kind; timers are the
 * epoll_wait timeout.
 */
#define _GNU_SOURCE
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vigil/agent.h>

#include "chan.h"
#include "crc32c_internal.h"
#include "ctl.h"
#include "flows.h"
#include "inspect.h"
#include "kmsg.h"
#include "pace.h"
#include "port.h"
#include "prio.h"
#include "relay.h"
#include "runner.h"
#include "scx.h"
#include "stages.h"
#include "util.h"

#ifndef VIGIL_AGENT_VERSION
#define VIGIL_AGENT_VERSION "0.0.0"
#endif

#define PORT_RETRY_MIN_MS 5
#define PORT_RETRY_MAX_MS 250
#define PIPE_BUDGET       (1024u * 1024) /* workload bytes per wakeup */
#define MAX_EVENTS        32

enum tag {
	TAG_PORT = 1,
	TAG_SIGNAL,
	TAG_BEAT,
	TAG_STOP,
	TAG_CTL,
	TAG_KMSG,
	TAG_FLOWS,
	TAG_OUT, /* + 0 stdout, + 1 stderr */
	TAG_ERR,
	TAG_INSPECT,
	TAG_CONN = 64, /* + connection index */
};

struct watch {
	int fd;
	uint32_t ev; /* registered events, valid when on */
	bool on;
};

struct core {
	const struct core_cfg *cfg;
	int ep;
	int sfd;
	struct chan ch;
	struct relay relay;
	struct relay stop; /* the stop socket: always watched (pace.h) */
	bool have_stop;
	struct pace pace; /* when the beat socket is read (adaptive coalescing) */
	struct ctl ctl;
	struct kmsg kmsg;
	struct flows flows;
	struct scx scx;
	struct runner run;
	struct inspector insp;
	bool have_ctl, have_kmsg, have_flows, have_scx, have_run, have_insp;
	struct watch w_port, w_sig, w_beat, w_stop, w_ctl, w_kmsg, w_flows, w_insp, w_pipe[2],
	    w_conn[CTL_MAX_CONN];
	uint64_t port_retry_ns; /* when disconnected: next probe */
	uint32_t port_backoff_ms;
	uint64_t kmsg_wake_ns;  /* when throttled: next read, else 0 */
	uint64_t flows_wake_ns; /* notifications read: the next read not before, else 0 */
	uint64_t next_stats_ns, next_flows_ns, next_self_ns;
	bool predecessor_done; /* its goodbye beat is queued */
	bool told_demoted;     /* the budget's SIGXCPU was reported (prio.h) */
	uint64_t self_nonce;
	uint32_t self_pid;
	uint64_t self_pidns;
	bool exiting;               /* draining; return when the queue is empty */
	uint64_t drain_deadline_ns; /* pushed out while the host keeps reading */
	uint64_t drain_sent;        /* ch.st.bytes_sent when last looked at */
	bool await_ack;             /* an EXIT went out: wait for the host's SHUTDOWN */
	bool host_done;             /* SHUTDOWN received: the host has read our EXIT */
	uint64_t ack_deadline_ns;   /* bound on that wait, 0 until the queue is empty */
	bool stopping;              /* shutdown asked: waiting for the workload to end */
	bool poweroff;
	/* boot marks (boot_marks): the port open, the sources open, HELLO */
	uint64_t boot_port_ns, boot_sources_ns, boot_hello_ns;
	int exit_code;
	uint64_t last_stats[32];
	uint32_t nlast;
	uint64_t shutdown_ignored;
	uint64_t pongs;
};

static struct core K;

static void core_log(struct core *k, uint8_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void core_log(struct core *k, uint8_t level, const char *fmt, ...)
{
	char buf[512];
	struct vigil_log lg = { .level = level };
	uint8_t *p;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (k->cfg->log_fd >= 0 && level <= 4)
		dprintf(k->cfg->log_fd, "vigil-agent: %s\n", buf);
	if (!k->ch.wbuf)
		return;
	lg.text = (const uint8_t *)buf;
	lg.text_len = (uint32_t)n;
	p = chan_reserve(&k->ch, CHAN_Q_OUT, 1 + (uint32_t)n);
	if (p && (n = vigil_log_encode(p, 1 + (size_t)n, &lg)) > 0)
		chan_commit(&k->ch, CHAN_Q_OUT, VIGIL_MSG_LOG, (uint32_t)n, false);
}

void core_cfg_defaults(struct core_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port_fd = -1;
	cfg->port_name = PORT_NAME_DEFAULT;
	cfg->port_wait_ms = 10000;
	cfg->beat_path = "/run/vigil/beat.sock";
	cfg->beat_mode = 0666;
	cfg->ctl_path = "/run/vigil/ctl.sock";
	cfg->ctl_mode = 0600;
	cfg->kmsg_path = "/dev/kmsg";
	cfg->kmsg_rate = 1000;
	cfg->kmsg_burst = 4000;
	cfg->flows_ms = 1000;
	cfg->flows_bpf = true;
	cfg->scx_path = SCX_STATE_PATH;
	cfg->proc_path = "/proc";
	cfg->stats_ms = 1000;
	cfg->self_beat_ms = 1000;
	cfg->grace_ms = 5000;
	cfg->drain_ms = 5000;
	cfg->ack_ms = 2000;
	cfg->stall_ms = 2000;
	cfg->on_shutdown = CORE_SHUTDOWN_EXIT;
	cfg->log_fd = 2;
}

static void watch_set(struct core *k, struct watch *w, uint64_t tag, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.u64 = tag };

	if (w->fd < 0) {
		w->on = false;
		return;
	}
	if (!ev) {
		if (w->on)
			epoll_ctl(k->ep, EPOLL_CTL_DEL, w->fd, NULL);
		w->on = false;
		return;
	}
	if (!w->on) {
		if (epoll_ctl(k->ep, EPOLL_CTL_ADD, w->fd, &e) == 0)
			w->on = true;
	} else if (w->ev != ev) {
		epoll_ctl(k->ep, EPOLL_CTL_MOD, w->fd, &e);
	}
	w->ev = ev;
}

/* ---- counters ---------------------------------------------------------- */

/*
 * AGENT_STATS: the 8 counters the protocol names, then the agent's own, in
 * this order (docs/agent.md): beats_coalesced, beats_dropped, kmsg_lost,
 * kmsg_throttled, ctl_requests, ctl_rejected, rx_frames, rx_rejected,
 * disconnects, flows_untracked, sched_exits, shutdown_ignored, ctl_ext_full,
 * inspections, inspect_busy, inspect_unanswered,
 * flows_listening, flows_short, flows_notify_lost, flows_poll_closed,
 * flows_rate_dropped, flows_not_flows, flows_bad_msgs, flows_dup_destroys.
 */
static uint32_t stats_fill(void *ctx, uint64_t *v, uint32_t max)
{
	struct core *k = ctx;
	uint64_t all[] = {
		k->ch.st.frames_sent,
		k->ch.st.frames_dropped,
		k->ch.st.bytes_dropped,
		k->relay.st.beats_relayed + k->stop.st.beats_relayed,
		k->relay.st.beats_rejected + k->stop.st.beats_rejected,
		k->flows.st.records,
		k->kmsg.st.lines,
		k->ch.st.write_stalls,
		k->ch.st.beats_coalesced,
		k->ch.st.beats_dropped,
		k->kmsg.st.lost,
		k->kmsg.st.throttled,
		k->ctl.st.requests,
		k->ctl.st.rejected,
		k->ch.st.rx_frames,
		k->ch.st.rx_rejected,
		k->ch.st.disconnects,
		k->flows.st.untracked,
		k->scx.sent,
		k->shutdown_ignored,
		k->ch.st.ctl_ext_full,
		k->insp.st.requests,
		k->insp.st.busy,
		k->insp.st.unanswered,
		k->flows.st.listening,
		k->flows.st.short_flows,
		k->flows.st.notify_lost,
		k->flows.st.poll_closed,
		k->flows.st.rate_dropped,
		k->flows.st.not_flows,
		k->flows.st.bad_msgs,
		k->flows.st.dup_destroys,
	};
	uint32_t n = ARRAY_SIZE(all) < max ? ARRAY_SIZE(all) : max;

	memcpy(v, all, n * sizeof(*v));
	return n;
}

/* ---- host frames ------------------------------------------------------- */

static void self_beat(struct core *k, uint64_t now);

static void begin_exit(struct core *k, uint64_t now)
{
	if (k->exiting)
		return;
	k->exiting = true;
	k->drain_deadline_ns = now + k->cfg->drain_ms * NSEC_PER_MSEC;
	chan_stats_due(&k->ch);
	if (k->cfg->self_beat_ms && k->self_pid >= 2)
		self_beat(k, now); /* STOPPING: a clean goodbye */
}

static void begin_stop(struct core *k, uint64_t now)
{
	/* Exited, its last output still in the pipes: its EXIT ends the run. */
	if (k->run.exited && !k->run.exit_queued) {
		k->stopping = true;
		return;
	}
	if (k->run.pid > 0) {
		if (!k->stopping) {
			runner_signal(&k->run, SIGTERM);
			k->run.kill_at_ns = now + k->cfg->grace_ms * NSEC_PER_MSEC;
		}
		k->stopping = true;
		return;
	}
	begin_exit(k, now);
}

static uint64_t clock_now(const struct core *k);

static void on_frame(void *ctx, const struct vigil_frame *f)
{
	struct core *k = ctx;
	uint64_t now = clock_now(k);

	switch (f->hdr.type) {
	case VIGIL_MSG_PING: {
		struct vigil_pong pong = { .guest_mono_ns = now };
		uint8_t buf[16];
		int n;

		if (vigil_ping_decode(f->payload, f->hdr.len, &pong.token) < 0)
			return;
		n = vigil_pong_encode(buf, sizeof(buf), &pong);
		if (n > 0 &&
		    chan_push(&k->ch, CHAN_Q_CTL_EXT, VIGIL_MSG_PONG, buf, (uint32_t)n, false) == 0)
			k->pongs++;
		break;
	}
	case VIGIL_MSG_SNAPSHOT_REPLY: {
		struct vigil_snapshot_reply r;

		if (vigil_snapshot_reply_decode(f->payload, f->hdr.len, &r) == 0 && k->have_ctl)
			ctl_snapshot_reply(&k->ctl, &r);
		break;
	}
	case VIGIL_MSG_INSPECT: {
		struct vigil_inspect rq;

		/* chan lets INSPECT through only with the inspector running. */
		if (vigil_inspect_decode(f->payload, f->hdr.len, &rq) == 0 && k->have_insp)
			inspector_request(&k->insp, &rq, &k->ch);
		break;
	}
	case VIGIL_MSG_SHUTDOWN:
		k->host_done = true;
		if (k->exiting)
			break; /* the host has read our EXIT: nothing more to stop */
		if (k->cfg->on_shutdown == CORE_SHUTDOWN_IGNORE) {
			k->shutdown_ignored++;
			core_log(k, 5, "SHUTDOWN from the host ignored (--on-shutdown ignore)");
			break;
		}
		core_log(k, 5, "SHUTDOWN from the host");
		k->poweroff = k->cfg->on_shutdown == CORE_SHUTDOWN_POWEROFF;
		begin_stop(k, now);
		break;
	default:
		break;
	}
}

/* ---- sources ----------------------------------------------------------- */

static void port_lost(struct core *k, uint64_t now)
{
	k->ch.connected = false;
	watch_set(k, &k->w_port, TAG_PORT, 0);
	k->port_backoff_ms = PORT_RETRY_MIN_MS;
	k->port_retry_ns = now + k->port_backoff_ms * NSEC_PER_MSEC;
}

static void port_ready(struct core *k, uint32_t ev, uint64_t now)
{
	if (ev & EPOLLIN) {
		if (chan_read(&k->ch) == -EPIPE) {
			port_lost(k, now);
			return;
		}
		/* Replies (PONG) go out now, not after the other sources' turn. */
		if (k->ch.ctl.count && chan_flush(&k->ch, now) == -EPIPE) {
			port_lost(k, now);
			return;
		}
	}
	if (ev & (EPOLLHUP | EPOLLERR)) {
		/* The host is not connected: reads EOF, writes refused. Probe later. */
		k->ch.st.disconnects++;
		port_lost(k, now);
	}
}

static void self_beat(struct core *k, uint64_t now)
{
	struct vigil_beat b = {
		.pid = k->self_pid,
		.nonce = ++k->self_nonce,
		.guest_mono_ns = now,
		.pidns_inode = k->self_pidns,
		.status = k->exiting ? VIGIL_BEAT_STOPPING : VIGIL_BEAT_OK,
		.origin = VIGIL_ORIGIN_KERNEL_ATTESTED,
		.deadline_ms = (uint32_t)(k->cfg->self_beat_ms * 3),
	};

	chan_beat(&k->ch, &b);
}

/* The dead predecessor's self-beat: a clean goodbye on its behalf. Its
 * nonces counted seconds: this agent's monotonic ns is above any of them. */
static void predecessor_goodbye(struct core *k, uint64_t now)
{
	struct vigil_beat b = {
		.pid = k->cfg->predecessor,
		.nonce = now,
		.guest_mono_ns = now,
		.pidns_inode = k->self_pidns,
		.status = VIGIL_BEAT_STOPPING,
		.origin = VIGIL_ORIGIN_KERNEL_ATTESTED,
		.deadline_ms = (uint32_t)(k->cfg->self_beat_ms * 3),
	};

	if (b.pid >= 2)
		chan_beat(&k->ch, &b);
}

static void beat_sink(void *ctx, const struct vigil_beat *b)
{
	struct core *k = ctx;

	chan_beat(&k->ch, b);
}

static void kmsg_line(void *ctx, const struct kmsg_rec *r)
{
	struct core *k = ctx;

	if (k->have_scx)
		scx_kmsg(&k->scx, r->text, r->text_len, &k->ch, clock_now(k));
}

/* The workload is over (reaped, or refused before it started): its EXIT is queued. */
static void workload_over(struct core *k, int exit_code, uint64_t now)
{
	k->exit_code = exit_code;
	k->await_ack = true;
	if (k->cfg->exit_with_workload || k->stopping)
		begin_exit(k, now);
}

/* The workload's last output is in the queue: its EXIT goes in now. */
static void workload_settle(struct core *k, uint64_t now)
{
	int st = k->run.status;

	if (runner_settle(&k->run, &k->ch) > 0)
		workload_over(k, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), now);
}

static void reap(struct core *k, uint64_t now)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		if (!runner_reaped(&k->run, pid, status))
			continue;
		core_log(k, 6, "workload exited: %s %d", WIFEXITED(status) ? "status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		/* What the pipes still hold is read by pipe_ready, as the queue drains. */
		workload_settle(k, now);
	}
}

static void signal_ready(struct core *k, uint64_t now)
{
	struct signalfd_siginfo si;

	while (read(k->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(k, now);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			begin_stop(k, now);
	}
}

/*
 * The port has not moved for stall_ms: stop holding producers and drop the
 * oldest output instead (a dead host never blocks the workload). stall_ms
 * 0: never (a host that promises to read again, as `vigil run` does).
 */
static bool port_given_up(const struct core *k, uint64_t now)
{
	return k->cfg->stall_ms && chan_stalled(&k->ch, now, k->cfg->stall_ms * NSEC_PER_MSEC);
}

static void pipe_ready(struct core *k, int i, uint64_t now)
{
	uint64_t moved = 0;

	while (moved < PIPE_BUDGET) {
		ssize_t n;

		if (chan_out_pressure(&k->ch) && !port_given_up(k, now))
			break;
		n = runner_pump(&k->run, i, &k->ch);
		if (n == 0) {
			k->w_pipe[i].on = false; /* closed: epoll forgot it */
			k->w_pipe[i].fd = -1;
			break;
		}
		if (n < 0)
			break;
		moved += (uint64_t)n;
		/* Read straight into the write buffer: out now, so the next read
		 * finds room there too (else it takes the queue, a copy more). */
		if (k->ch.connected && chan_staged(&k->ch) && chan_flush(&k->ch, now) == -EPIPE)
			port_lost(k, now);
		/* All the pipe held: epoll (level-triggered) says when more
		 * comes, without a FIONREAD and a read that would find none. */
		if (k->run.drained[i])
			break;
	}
	if (k->run.exited)
		workload_settle(k, now);
}

static void ctl_conn_ready(struct core *k, int i)
{
	if (ctl_serve(&k->ctl, i, &k->ch) < 0) {
		k->w_conn[i].on = false;
		k->w_conn[i].fd = -1;
	}
}

static void ctl_listen_ready(struct core *k)
{
	int i;

	while ((i = ctl_accept(&k->ctl)) != -EAGAIN) {
		if (i < 0) {
			if (i == -EMFILE)
				continue; /* table full: that one was refused */
			return;
		}
		k->w_conn[i].fd = k->ctl.conn[i].fd;
		k->w_conn[i].on = false;
		watch_set(k, &k->w_conn[i], TAG_CONN + (uint64_t)i, EPOLLIN);
	}
}

/* Read the beat socket; pace decides when the next read is. */
static void beats_read(struct core *k, uint64_t now)
{
	uint64_t before = k->relay.st.beats_relayed + k->relay.st.beats_rejected;

	relay_read(&k->relay, now);
	pace_read(&k->pace, now,
		  (uint32_t)(k->relay.st.beats_relayed + k->relay.st.beats_rejected - before));
}

/*
 * A beat came to the stop socket: read the beat socket first, out of turn,
 * to its end, so that what the same process sent before its goodbye goes
 * ahead of it (and is replaced by it in the pending table), then the stop
 * socket. Both go out at the next flush, at the top of the loop. A beat
 * socket not read to its end (a failed or short read) keeps the goodbyes
 * waiting in theirs, which stays readable: the next turn tries again.
 */
static void stop_read(struct core *k, uint64_t now)
{
	uint64_t before = k->relay.st.beats_relayed + k->relay.st.beats_rejected;
	int e = relay_drain(&k->relay, now);

	pace_urgent(&k->pace, now,
		    (uint32_t)(k->relay.st.beats_relayed + k->relay.st.beats_rejected - before));
	if (e >= 0)
		relay_read(&k->stop, now);
}

/* ---- timers ------------------------------------------------------------ */

static uint64_t min_ns(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

static void stats_tick(struct core *k)
{
	uint64_t v[32];
	uint32_t n = stats_fill(k, v, ARRAY_SIZE(v));

	/* frames_sent moves with every frame: compare the rest. */
	if (n != k->nlast || memcmp(v + 1, k->last_stats + 1, (n - 1) * sizeof(*v)) != 0 ||
	    (k->last_stats[0] == 0 && v[0] != 0)) {
		chan_stats_due(&k->ch);
		memcpy(k->last_stats, v, n * sizeof(*v));
		k->nlast = n;
	}
}

/*
 * At the exit, hold on to the host however long it does not read: with
 * stall_ms 0 (vigil run) the host pauses reading the port while its own
 * outputs are backlogged, and pings nothing meanwhile, so no silence says
 * it is gone; what says so is the port closing (or the VM ending with
 * vigil). Bounding the drain or the SHUTDOWN's wait then lost the tail of
 * the output, and the EXIT, to a reader that stopped longer than they.
 */
static bool exit_holds(const struct core *k)
{
	return !k->cfg->stall_ms && k->ch.connected;
}

static uint64_t timers(struct core *k, uint64_t now)
{
	const struct core_cfg *cfg = k->cfg;
	uint64_t next = 0;

	if (!k->ch.connected) {
		if (now >= k->port_retry_ns) {
			if (chan_probe(&k->ch)) {
				k->w_port.on = false;
				watch_set(k, &k->w_port, TAG_PORT, EPOLLIN);
			} else {
				if (k->port_backoff_ms < PORT_RETRY_MAX_MS)
					k->port_backoff_ms *= 2;
				if (k->port_backoff_ms > PORT_RETRY_MAX_MS)
					k->port_backoff_ms = PORT_RETRY_MAX_MS;
				k->port_retry_ns = now + k->port_backoff_ms * NSEC_PER_MSEC;
			}
		}
		if (!k->ch.connected)
			next = min_ns(next, k->port_retry_ns);
	}
	if (cfg->self_beat_ms && k->self_pid >= 2) {
		if (!k->predecessor_done) {
			predecessor_goodbye(k, now); /* once, with the first self-beat */
			k->predecessor_done = true;
		}
		if (now >= k->next_self_ns) {
			self_beat(k, now);
			k->next_self_ns = now + cfg->self_beat_ms * NSEC_PER_MSEC;
		}
		next = min_ns(next, k->next_self_ns);
	}
	if (cfg->stats_ms) {
		if (now >= k->next_stats_ns) {
			if (prio_demoted() && !k->told_demoted) {
				k->told_demoted = true;
				core_log(k, 4,
					 "the agent ran %lu ms without sleeping: its real-time "
					 "priority is dropped",
					 PRIO_BUDGET_US / 1000);
			}
			stats_tick(k);
			k->next_stats_ns = now + cfg->stats_ms * NSEC_PER_MSEC;
		}
		next = min_ns(next, k->next_stats_ns);
	}
	if (k->have_flows) {
		if (now >= k->next_flows_ns) {
			/* One table a turn of the loop: a dump walks the kernel's
			 * whole table, TIME_WAIT sockets included (docs/agent.md). */
			if (flows_poll_step(&k->flows, &k->ch, now) > 0)
				k->next_flows_ns = now + 1;
			else
				k->next_flows_ns = now + cfg->flows_ms * NSEC_PER_MSEC;
		}
		next = min_ns(next, k->next_flows_ns);
	}
	if (k->have_scx) {
		scx_poll(&k->scx, &k->ch, now);
		next = min_ns(next, k->scx.next_ns);
	}
	if (k->flows_wake_ns) {
		if (now >= k->flows_wake_ns)
			k->flows_wake_ns = 0;
		else
			next = min_ns(next, k->flows_wake_ns);
	}
	if (k->kmsg_wake_ns) {
		if (now >= k->kmsg_wake_ns)
			k->kmsg_wake_ns = 0;
		else
			next = min_ns(next, k->kmsg_wake_ns);
	}
	if (k->run.kill_at_ns) {
		if (now >= k->run.kill_at_ns) {
			core_log(k, 4, "workload still running %llu ms after SIGTERM: SIGKILL",
				 (unsigned long long)cfg->grace_ms);
			runner_signal(&k->run, SIGKILL);
			k->run.kill_at_ns = 0;
		} else {
			next = min_ns(next, k->run.kill_at_ns);
		}
	}
	if (pace_due_ns(&k->pace)) {
		/* HOLD: the window is over; what came in it goes out now. */
		if (now >= pace_due_ns(&k->pace))
			beats_read(k, now);
		if (pace_due_ns(&k->pace))
			next = min_ns(next, pace_due_ns(&k->pace));
	}
	if (k->exiting && !exit_holds(k))
		next = min_ns(next, k->drain_deadline_ns);
	if (k->exiting && !exit_holds(k) && k->ack_deadline_ns)
		next = min_ns(next, k->ack_deadline_ns);
	/* Paused producers resume when the port is declared stalled. */
	if (k->ch.blocked_since && chan_out_pressure(&k->ch) && cfg->stall_ms)
		next = min_ns(next, k->ch.blocked_since + cfg->stall_ms * NSEC_PER_MSEC);
	return next;
}

/* Register the producers that may run now. */
static void interest(struct core *k, uint64_t now)
{
	bool hold = chan_out_pressure(&k->ch) && !port_given_up(k, now);
	uint32_t port_ev = 0;

	if (k->ch.connected) {
		/* A host flooding PINGs waits while the control queue is half full. */
		if (!chan_ctl_pressure(&k->ch))
			port_ev |= EPOLLIN;
		if (chan_pending(&k->ch) && k->ch.blocked_since)
			port_ev |= EPOLLOUT;
		/* With neither, stay registered (edge-triggered, no readiness bits)
		 * so a hang-up is still reported. */
		watch_set(k, &k->w_port, TAG_PORT, port_ev ? port_ev : EPOLLET);
	}
	watch_set(k, &k->w_pipe[0], TAG_OUT, hold ? 0 : EPOLLIN);
	watch_set(k, &k->w_pipe[1], TAG_ERR, hold ? 0 : EPOLLIN);
	/* Dense beats wait in the socket until their window ends (pace.h). */
	watch_set(k, &k->w_beat, TAG_BEAT, pace_watch(&k->pace) ? EPOLLIN : 0);
	if (k->have_kmsg)
		watch_set(k, &k->w_kmsg, TAG_KMSG, hold || k->kmsg_wake_ns ? 0 : EPOLLIN);
	/* Not held with output: FLOW records have their own queue, which drops
	 * its oldest, while an unread notification buffer loses the newest. */
	if (k->w_flows.fd >= 0)
		watch_set(k, &k->w_flows, TAG_FLOWS, k->flows_wake_ns ? 0 : EPOLLIN);
	if (k->have_ctl) {
		bool full = chan_ctl_pressure(&k->ch);

		for (int i = 0; i < CTL_MAX_CONN; i++) {
			if (k->w_conn[i].fd >= 0)
				watch_set(k, &k->w_conn[i], TAG_CONN + (uint64_t)i,
					  full ? 0 : EPOLLIN);
		}
	}
}

/* ---- setup ------------------------------------------------------------- */

static int send_hello(struct core *k)
{
	struct utsname u;
	char host[65] = "";
	uint8_t buf[3 * 4096 + 32];
	struct vigil_hello h = { .proto_version = VIGIL_WIRE_VERSION };
	int n;

	uname(&u);
	gethostname(host, sizeof(host) - 1);
	h.capabilities = CORE_CAP_BEATS | (k->have_ctl ? CORE_CAP_CTL : 0) |
			 (k->cfg->argv || k->cfg->workload_error ? CORE_CAP_WORKLOAD : 0) |
			 (k->have_kmsg ? CORE_CAP_KMSG : 0) | (k->have_flows ? CORE_CAP_FLOWS : 0) |
			 (k->have_scx ? CORE_CAP_SCX : 0) | (k->have_insp ? CORE_CAP_INSPECT : 0);
	h.guest_boottime_ns = boot_ns();
	h.agent_version =
	    (struct vigil_str){ VIGIL_AGENT_VERSION, sizeof(VIGIL_AGENT_VERSION) - 1 };
	h.kernel_release = (struct vigil_str){ u.release, (uint16_t)strlen(u.release) };
	h.hostname = (struct vigil_str){ host, (uint16_t)strlen(host) };
	/* The pid of the agent's own beat (0: none), so that the host tells
	 * the agent's silence from a process's (docs/wire.md, "HELLO: the
	 * agent's own pid"). */
	n = vigil_hello_encode_agent_pid(
	    buf, sizeof(buf), &h, k->cfg->self_beat_ms && k->self_pid >= 2 ? k->self_pid : 0);
	if (n < 0)
		return n;
	return chan_push(&k->ch, CHAN_Q_CTL, VIGIL_MSG_HELLO, buf, (uint32_t)n, false);
}

static void sd_notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

/* The workload, or its refusal (which ends it at once). */
static int start_workload(struct core *k, uint64_t now)
{
	const struct core_cfg *cfg = k->cfg;
	struct runner_spec rs = { .argv = cfg->argv,
				  .envp = cfg->envp,
				  .cwd = cfg->cwd,
				  .scenario = cfg->scenario,
				  .set_ids = cfg->set_ids,
				  .uid = cfg->uid,
				  .gid = cfg->gid,
				  .pipe_bytes = cfg->pipe_bytes };
	int e;

	if (cfg->workload_error) {
		if (cfg->log_fd >= 0)
			dprintf(cfg->log_fd, "%s", cfg->workload_error);
		e = runner_refuse(&k->ch, cfg->workload_error, CORE_WORKLOAD_REFUSED);
		if (e < 0)
			return e;
		workload_over(k, CORE_WORKLOAD_REFUSED, now);
		return 0;
	}
	if (!cfg->argv)
		return 0;
	e = runner_start(&k->run, &rs, &k->ch);
	if (e < 0) {
		core_log(k, 3, "cannot start workload %s: %s", cfg->argv[0], strerror(-e));
		return e;
	}
	k->have_run = true;
	k->w_pipe[0].fd = k->run.fd[0];
	k->w_pipe[1].fd = k->run.fd[1];
	return 0;
}

/* The port: found by name, or the fd given; then its queues. */
static int open_port(struct core *k)
{
	const struct core_cfg *cfg = k->cfg;
	int fd = cfg->port_fd, e;

	if (fd < 0) {
		fd = port_open(cfg->port_name, cfg->port_wait_ms);
		if (fd < 0) {
			core_log(k, 3, "cannot open port %s: %s (is the virtserialport named %s?)",
				 cfg->port_name, strerror(-fd), cfg->port_name);
			return fd;
		}
	} else {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	}
	e = chan_init(&k->ch, fd, on_frame, stats_fill, k);
	if (e < 0) {
		if (cfg->port_fd < 0)
			close(fd);
		return e;
	}
	k->w_port.fd = fd;
	return 0;
}

/*
 * The inspector's thread: after the signal mask is set (it blocks them all
 * anyway) and before HELLO, whose capability bit 6 says INSPECT is answered.
 */
static void open_inspector(struct core *k)
{
	int e;

	if (!k->cfg->proc_path)
		return;
	e = inspector_start(&k->insp, k->cfg->proc_path, k->cfg->rt_prio);
	if (e < 0) {
		core_log(k, 4, "process inspection unavailable (%s): INSPECT not answered",
			 strerror(-e));
		return;
	}
	k->have_insp = true;
	k->ch.rx_inspect = true;
	k->w_insp.fd = inspector_fd(&k->insp);
}

/*
 * The fastest exact CRC32C on this CPU, timed (wire/crc32c.c): cpuid cannot
 * tell a real crc32 instruction from one QEMU's TCG emulates at a fifth of
 * the tables' speed. Well under a millisecond, once.
 */
static void pick_crc(struct core *k)
{
	uint64_t ns[CRC32C__N];
	enum crc32c_impl i = crc32c_calibrate(mono_ns, ns);

	core_log(k, 6,
		 "crc32c: %s (ns per %u bytes: slice-by-8 %llu, slice-by-16 %llu, sse4.2 %llu)",
		 crc32c_impl_name(i), CRC32C_CAL_BYTES, (unsigned long long)ns[CRC32C_SLICE8],
		 (unsigned long long)ns[CRC32C_SLICE16], (unsigned long long)ns[CRC32C_SSE42]);
}

/* Kernel log, flows and sched_ext: each optional, a failure only disables it. */
static void open_sources(struct core *k, uint64_t now)
{
	const struct core_cfg *cfg = k->cfg;

	k->have_kmsg = cfg->kmsg_path && kmsg_open(&k->kmsg, cfg->kmsg_path, cfg->kmsg_rate,
						   cfg->kmsg_burst, now) == 0;
	if (k->have_kmsg) {
		k->kmsg.on_line = kmsg_line;
		k->kmsg.ctx = k;
		k->w_kmsg.fd = k->kmsg.fd;
	}
	k->have_flows =
	    cfg->flows_ms &&
	    flows_open(&k->flows, FLOWS_WANT_EVENTS | (cfg->flows_bpf ? FLOWS_WANT_BPF : 0)) == 0;
	if (k->have_flows)
		k->w_flows.fd = flows_fd(&k->flows);
	if (cfg->scx_path) {
		scx_init(&k->scx, cfg->scx_path);
		k->have_scx = true;
	}
}

/* The stop socket beside the beat socket; without it, goodbyes come through
 * the beat socket (at most one window late). */
static void open_stop(struct core *k)
{
	char path[sizeof(k->stop.path)];
	int n = snprintf(path, sizeof(path), "%s%s", k->cfg->beat_path, VIGIL_BEAT_STOP_SUFFIX);
	int e = n > 0 && (size_t)n < sizeof(path) ? 0 : -ENAMETOOLONG;

	if (e == 0)
		e = relay_open(&k->stop, path, k->cfg->beat_mode, beat_sink, k);
	if (e < 0) {
		core_log(k, 4,
			 "cannot bind stop socket %s%s: %s (STOPPING beats wait up to %llu us)",
			 k->cfg->beat_path, VIGIL_BEAT_STOP_SUFFIX, strerror(-e),
			 (unsigned long long)(PACE_WINDOW_NS / 1000));
		return;
	}
	k->have_stop = true;
	k->w_stop.fd = k->stop.fd;
}

/* The beat and control sockets. */
static int open_sockets(struct core *k)
{
	const struct core_cfg *cfg = k->cfg;
	int e = relay_open(&k->relay, cfg->beat_path, cfg->beat_mode, beat_sink, k);

	if (e < 0) {
		core_log(k, 3, "cannot bind beat socket %s: %s", cfg->beat_path, strerror(-e));
		return e;
	}
	k->w_beat.fd = k->relay.fd;
	pace_init(&k->pace, k->relay.qlen);
	open_stop(k);
	if (cfg->ctl_path) {
		e = ctl_open(&k->ctl, cfg->ctl_path, cfg->ctl_mode);
		if (e < 0) {
			core_log(k, 3, "cannot bind control socket %s: %s", cfg->ctl_path,
				 strerror(-e));
			return e;
		}
		k->have_ctl = true;
		k->w_ctl.fd = k->ctl.fd;
	}
	return 0;
}

/*
 * Where PID 1's and the agent's start went, once, as a LOG line (level 6)
 * the host shows as an event: the guest's boot clock in us at PID 1's
 * start, its modules loaded (and skipped: PCI drivers on a guest without
 * PCI), the host's root entered (0: image mode), the
 * port open, the kernel log, flows and inspector open, HELLO.
 * tests/bench/boot_budget.py reads it.
 */
static void boot_marks(struct core *k)
{
	const struct core_cfg *c = k->cfg;

	if (!c->boot_init_ns)
		return;
	core_log(k, 6,
		 "boot marks us: init=%llu modules=%llu root=%llu port=%llu sources=%llu "
		 "hello=%llu modules_loaded=%u workers=%u modules_skipped=%u",
		 (unsigned long long)(c->boot_init_ns / 1000),
		 (unsigned long long)(c->boot_modules_ns / 1000),
		 (unsigned long long)(c->boot_root_ns / 1000),
		 (unsigned long long)(k->boot_port_ns / 1000),
		 (unsigned long long)(k->boot_sources_ns / 1000),
		 (unsigned long long)(k->boot_hello_ns / 1000), c->boot_modules,
		 c->boot_mod_workers, c->boot_mod_skipped);
}

static int setup(struct core *k, const struct core_cfg *cfg)
{
	sigset_t mask;
	int e;
	uint64_t now;

	memset(k, 0, sizeof(*k));
	k->cfg = cfg;
	now = clock_now(k);
	k->w_port.fd = k->w_sig.fd = k->w_beat.fd = k->w_stop.fd = k->w_ctl.fd = k->w_kmsg.fd =
	    k->w_flows.fd = k->w_insp.fd = -1;
	k->w_pipe[0].fd = k->w_pipe[1].fd = -1;
	for (int i = 0; i < CTL_MAX_CONN; i++)
		k->w_conn[i].fd = -1;
	k->run.fd[0] = k->run.fd[1] = -1;
	k->relay.fd = k->stop.fd = k->ctl.fd = k->kmsg.fd = k->flows.nl = k->sfd = -1;
	signal(SIGPIPE, SIG_IGN);
	k->ep = epoll_create1(EPOLL_CLOEXEC);
	if (k->ep < 0)
		return -errno;
	e = open_port(k);
	if (e < 0)
		return e;
	k->boot_port_ns = boot_ns();

	/* Signals before anything forks, so no SIGCHLD is missed. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	k->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (k->sfd < 0)
		return -errno;
	k->w_sig.fd = k->sfd;

	pick_crc(k);
	open_sources(k, now);
	open_inspector(k);
	k->boot_sources_ns = boot_ns();
	k->self_pid = (uint32_t)getpid();
	k->self_pidns = relay_pidns("/proc", k->self_pid);
	k->boot_hello_ns = boot_ns();
	if ((e = send_hello(k)) < 0 || (e = open_sockets(k)) < 0)
		return e;
	/* Ready to relay. */
	e = chan_push(&k->ch, CHAN_Q_CTL, VIGIL_MSG_SYS_RDY, NULL, 0, false);
	if (e < 0)
		return e;
	boot_marks(k);
	if (cfg->notify)
		sd_notify_ready();

	watch_set(k, &k->w_port, TAG_PORT, EPOLLIN);
	watch_set(k, &k->w_sig, TAG_SIGNAL, EPOLLIN);
	watch_set(k, &k->w_beat, TAG_BEAT, EPOLLIN);
	if (k->have_stop)
		watch_set(k, &k->w_stop, TAG_STOP, EPOLLIN);
	if (k->have_ctl)
		watch_set(k, &k->w_ctl, TAG_CTL, EPOLLIN);
	if (k->have_insp)
		watch_set(k, &k->w_insp, TAG_INSPECT, EPOLLIN);
	if (!k->have_kmsg && cfg->kmsg_path)
		core_log(k, 4, "kernel log %s not readable: no DMESG frames", cfg->kmsg_path);
	if (!k->have_flows && cfg->flows_ms)
		core_log(k, 4,
			 "NETLINK_SOCK_DIAG unavailable (inet_diag module?): no FLOW records");
	if (k->have_flows && k->flows.why[0])
		core_log(k, 4, "flows: %s", k->flows.why);
	for (const char *const *note = cfg->notes; note && *note; note++)
		core_log(k, 4, "%s", *note);
	k->next_stats_ns = now + cfg->stats_ms * NSEC_PER_MSEC;
	k->next_flows_ns = now;
	k->next_self_ns = now;
	return start_workload(k, now);
}

static void teardown(struct core *k)
{
	if (k->have_insp)
		inspector_stop(&k->insp);
	runner_close(&k->run);
	relay_close(&k->relay);
	relay_close(&k->stop);
	if (k->have_ctl)
		ctl_close(&k->ctl);
	if (k->have_kmsg)
		kmsg_close(&k->kmsg);
	if (k->have_flows)
		flows_close(&k->flows);
	if (k->sfd >= 0)
		close(k->sfd);
	if (k->ep >= 0)
		close(k->ep);
	/* the port's fd as opened (chan's is 0 until chan_init, and after chan_fini) */
	if (k->w_port.fd >= 0 && k->cfg->port_fd < 0)
		close(k->w_port.fd);
	chan_fini(&k->ch);
}

/* ---- loop -------------------------------------------------------------- */

/*
 * Done draining? A host that keeps reading keeps the drain going (the
 * deadline counts from the last byte moved), so a slow reader loses
 * nothing. An empty queue is not enough after an EXIT: the last bytes
 * written may still sit in the VMM, and powering off would drop them. The
 * host answers the EXIT with SHUTDOWN once it has read it; wait for that,
 * bounded by ack_ms (a host that does not answer, or none connected).
 * Neither bound applies while exit_holds().
 */
static bool drained(struct core *k, uint64_t now)
{
	if (k->ch.st.bytes_sent != k->drain_sent) {
		k->drain_sent = k->ch.st.bytes_sent;
		k->drain_deadline_ns = now + k->cfg->drain_ms * NSEC_PER_MSEC;
	}
	if (!exit_holds(k) && now >= k->drain_deadline_ns)
		return true;
	if (chan_pending(&k->ch))
		return false;
	if (!k->await_ack || k->host_done || !k->ch.connected)
		return true;
	if (exit_holds(k))
		return false;
	if (!k->ack_deadline_ns)
		k->ack_deadline_ns = now + k->cfg->ack_ms * NSEC_PER_MSEC;
	return now >= k->ack_deadline_ns;
}

/* The loop's clock: the configured one (tests), else CLOCK_MONOTONIC. */
static uint64_t clock_now(const struct core *k)
{
	return k->cfg->clock ? k->cfg->clock(k->cfg->clock_ctx) : mono_ns();
}

/* One ready source's handler. */
static void dispatch(struct core *k, const struct epoll_event *e, uint64_t now)
{
	uint64_t tag = e->data.u64;

	if (tag == TAG_PORT)
		port_ready(k, e->events, now);
	else if (tag == TAG_SIGNAL)
		signal_ready(k, now);
	else if (tag == TAG_BEAT)
		beats_read(k, now);
	else if (tag == TAG_STOP)
		stop_read(k, now);
	else if (tag == TAG_CTL)
		ctl_listen_ready(k);
	else if (tag == TAG_INSPECT)
		inspector_collect(&k->insp, &k->ch);
	else if (tag == TAG_FLOWS) {
		/* Batched: a wakeup per FLOWS_EV_GAP_MS at most, not per
		 * socket; the kernel's buffer holds what comes meanwhile.
		 * A read that stopped at its budget goes on at the next
		 * turn of the loop, after the other sources. */
		flows_read(&k->flows, &k->ch, now);
		k->flows_wake_ns = k->flows.more ? 0 : now + FLOWS_EV_GAP_MS * NSEC_PER_MSEC;
	} else if (tag == TAG_KMSG) {
		if (kmsg_read(&k->kmsg, &k->ch, now) == -EAGAIN)
			k->kmsg_wake_ns = kmsg_wake_ns(&k->kmsg);
	} else if (tag == TAG_OUT || tag == TAG_ERR)
		pipe_ready(k, (int)(tag - TAG_OUT), now);
	else if (tag >= TAG_CONN && tag < TAG_CONN + CTL_MAX_CONN)
		ctl_conn_ready(k, (int)(tag - TAG_CONN));
}

/*
 * The top of a turn: due timers, what waited for room, the flush. True
 * when the agent is done (drained after its exit); else *next is the
 * next timer (0: none).
 */
static bool turn_begin(struct core *k, uint64_t *next)
{
	uint64_t now = clock_now(k);

	*next = timers(k, now);
	/* Reports that found the control queue full, now that it may have room. */
	if (k->have_insp && k->insp.held && !chan_ctl_pressure(&k->ch))
		inspector_collect(&k->insp, &k->ch);
	/* Host frames held back by control pressure, now that it eased. */
	if (k->ch.connected && k->ch.rx_held && !chan_ctl_pressure(&k->ch) &&
	    chan_read(&k->ch) == -EPIPE)
		port_lost(k, now);
	if (k->ch.connected && chan_pending(&k->ch)) {
		if (chan_flush(&k->ch, now) == -EPIPE)
			port_lost(k, now);
	}
	if (k->exiting && drained(k, now))
		return true;
	interest(k, now);
	return false;
}

int core_turn(int64_t wait_ns, bool *done)
{
	struct core *k = &K;
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next, now, t0;
	int64_t timeout;
	int n;

	*done = turn_begin(k, &next);
	if (*done)
		return 0;
	now = clock_now(k);
	timeout = !next ? -1 : next > now ? (int64_t)(next - now) : 0;
	if (wait_ns >= 0 && (timeout < 0 || timeout > wait_ns))
		timeout = wait_ns;
	t0 = stage_begin();
	n = util_epoll_wait_ns(k->ep, ev, MAX_EVENTS, timeout);
	stage_end(STAGE_WAIT, t0, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	now = clock_now(k);
	for (int i = 0; i < n; i++)
		dispatch(k, &ev[i], now);
	return n;
}

int core_start(const struct core_cfg *cfg)
{
	int e = setup(&K, cfg);

	if (e < 0)
		teardown(&K);
	return e;
}

int core_end(void)
{
	struct core *k = &K;

	if (chan_pending(&k->ch))
		core_log(k, 4,
			 "power-off/exit with frames still queued: the host did not read them");
	stages_report(k->cfg->log_fd);
	teardown(k);
	return k->exit_code;
}

uint32_t core_stats(uint64_t *vals, uint32_t max)
{
	return stats_fill(&K, vals, max);
}

int core_run(const struct core_cfg *cfg)
{
	bool done = false;
	int e;

	if (core_start(cfg) < 0)
		return 1;
	while (!done && core_turn(-1, &done) >= 0)
		;
	e = core_end();
	if (K.poweroff && getpid() != 1 && cfg->port_fd < 0)
		execl("/bin/systemctl", "systemctl", "poweroff", (char *)NULL);
	return e;
}
