/* SPDX-License-Identifier: MIT */
/*
 * Fault injection into the agent's port and beat layers (guest/core.c's
 * loop, chan.c, relay.c, pace.c, runner.c's pipes), in this process, on a
 * fake clock (core_turn, core_cfg.clock), over a socketpair port
 * (fault.h says how the calls fail).
 *
 * The scenario, the same in every run: the agent starts with a real
 * workload (sh) it forks, and its beat socket; three beat processes
 * (children of the test, libvigil-agent's vigil_beat) beat, alone, together
 * and densely (1 ms apart on the fake clock, so pace.h's HOLD windows and
 * their coalescing are taken); inside a window the third sends a last beat
 * and its STOPPING goodbye (the stop socket, read out of turn, the beat
 * socket first); the workload writes 40 KB to stdout, then
 * 3 KB to stderr and 30 KB to stdout, then 100 KB to stdout and 1 KB to
 * stderr and exits 3; the host sends a PING between them and answers the
 * EXIT with SHUTDOWN; the agent drains and is done. Each step waits for the
 * workload's or beat process's acknowledgement, then the agent turns until
 * settled (nothing handled twice in a row, the port read both ways), so
 * the calls the agent makes are the same in every run.
 *
 * What the host gets is decoded with libvigil-wire; a run is judged on:
 * every frame's CRC, seq from 0 without a gap, HELLO then SYS_RDY first;
 * the stdout and stderr streams byte for byte against what the workload
 * wrote, and none of it after the EXIT; the EXIT (status 3); one PONG with
 * the PING's token and the fake time it was read at; each beat process's
 * beats in nonce order, nothing of a pid after its STOPPING, each
 * process's last beat delivered, and every beat accounted for (delivered
 * + coalesced + dropped by the agent == sent; pace.h may coalesce
 * differently when a fault moves a read); the agent's return (3) and its
 * disconnect counter; the test's fd count as before the run.
 *
 * A reference run counts the agent's calls (C); then for every n in 1..C
 * and every fault that applies to call n, one run with it. Each must end:
 *   - EINTR, EAGAIN, short counts, a datagram socket's ECONNRESET (once:
 *     fault.h), spurious or short epoll_pwait2 batches: everything above,
 *     as the reference;
 *   - EAGAIN from the beat socket at the read a goodbye makes out of turn
 *     (late_beat: a state the kernel never shows the socket's one reader):
 *     the same, but the goodbye's process may show a beat after its
 *     STOPPING;
 *   - ECONNRESET or EPIPE on the port (the host side went away for good):
 *     what the host got is a clean prefix (CRCs, seq, output bytes, beat
 *     order), the agent counts the disconnect, keeps probing the port,
 *     reaps the workload and, drain_ms after the last byte moved, returns
 *     the workload's status (3);
 * never a crash, a hang (TURN_MAX turns in a step, END_S fake seconds at
 * the end), a leak (ASan build), a lost or wrong byte. Cap: RUNS_MAX runs
 * (the test fails if the reference grows past it). Measured: 77 calls,
 * 266 runs, 4.7 s (RelWithDebInfo), 7.0 s under ASan; a run's time is
 * mostly the workload's fork and exec. One thread; the agent's state is
 * core.c's (one agent per process).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <vigil/agent.h>
#include <vigil/wire.h>

#include "core.h"
#include "fault.h"
#include "guest/rx.h"

#define MS       1000000ull
#define T0       (1000000ull * MS) /* the fake clock's start */
#define KIDS     3                 /* beat processes */
#define CMD_FD   8                 /* the workload's steps, as it sees them (dash: one digit) */
#define ACK_FD   9                 /* its acknowledgements */
#define TURN_MAX 400               /* agent turns a step may take: past it, a hang */
#define END_S    30                /* fake seconds the agent may take to end */
#define RUNS_MAX 4000              /* the cap on injected runs */
#define WAIT_MS  5000              /* bound on a peer's acknowledgement (real time) */
#define STAT_MAX 32

/* AGENT_STATS indexes (docs/agent.md) */
#define ST_REJECTED    4
#define ST_COALESCED   8
#define ST_DROPPED     9
#define ST_DISCONNECTS 16

/* ---- what the workload writes, the same in every run ------------------- */

enum { O1, E1, O2, O3, E2, N_PIECES };
static const size_t piece_len[N_PIECES] = { 40000, 3000, 30000, 100000, 1000 };
static char *piece[N_PIECES];
static uint8_t *want_out, *want_err; /* O1 O2 O3, E1 E2 */
static size_t out_total, err_total;

static void pieces_init(void)
{
	uint64_t s = 0xa6e47;

	for (int i = 0; i < N_PIECES; i++) {
		piece[i] = malloc(piece_len[i] + 1);
		assert_non_null(piece[i]);
		for (size_t j = 0; j < piece_len[i]; j++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			piece[i][j] = (char)(0x21 + (s >> 33) % 94); /* printable: an argv word */
		}
		piece[i][piece_len[i]] = '\0';
	}
	out_total = piece_len[O1] + piece_len[O2] + piece_len[O3];
	err_total = piece_len[E1] + piece_len[E2];
	want_out = malloc(out_total);
	want_err = malloc(err_total);
	memcpy(want_out, piece[O1], piece_len[O1]);
	memcpy(want_out + piece_len[O1], piece[O2], piece_len[O2]);
	memcpy(want_out + piece_len[O1] + piece_len[O2], piece[O3], piece_len[O3]);
	memcpy(want_err, piece[E1], piece_len[E1]);
	memcpy(want_err + piece_len[E1], piece[E2], piece_len[E2]);
}

static void pieces_free(void)
{
	for (int i = 0; i < N_PIECES; i++)
		free(piece[i]);
	free(want_out);
	free(want_err);
}

/* Steps on CMD_FD, acknowledged on ACK_FD (the first with the shell's pid). */
static const char script[] =
    "read x <&8 && printf %s \"$1\" && echo $$ >&9 && "
    "read x <&8 && printf %s \"$2\" >&2 && printf %s \"$3\" && echo >&9 && "
    "read x <&8 && printf %s \"$4\" && printf %s \"$5\" >&2 && exit 3";

/* ---- the beat processes ---------------------------------------------------- */

struct kid {
	pid_t pid;
	int cmd, ack;  /* the test's ends */
	uint64_t sent; /* vigil_beat calls: its nonces so far */
};

static struct kid kids[KIDS];
static char dir[64], beat_path[128];

/* A beat process: 'o' beats OK, 's' says STOPPING, EOF ends it; each
 * acknowledged with 'k' (sent) or 'f' (refused). */
static void kid_main(int cmd, int ack, uint32_t idx)
{
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = beat_path };
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves nothing behind */
	if (getppid() == 1 || vigil_agent_init(&o) < 0)
		_exit(2);
	while (read(cmd, &c, 1) == 1 && c != 'q') {
		int r = vigil_beat(c == 's' ? VIGIL_STATUS_STOPPING : VIGIL_STATUS_OK, idx, 5000);

		if (write(ack, r == 0 ? "k" : "f", 1) != 1)
			_exit(3);
	}
	_exit(0);
}

/* CMD_FD and ACK_FD held on /dev/null between runs, so that nothing else
 * takes them. */
static void fds_hold(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	assert_true(null >= 0);
	assert_int_equal(dup2(null, CMD_FD), CMD_FD);
	assert_int_equal(dup2(null, ACK_FD), ACK_FD);
	close(null);
}

static void kids_start(void)
{
	for (uint32_t i = 0; i < KIDS; i++) {
		int c[2], a[2];

		assert_int_equal(pipe2(c, O_CLOEXEC), 0);
		assert_int_equal(pipe2(a, O_CLOEXEC), 0);
		kids[i].pid = fork();
		assert_true(kids[i].pid >= 0);
		if (kids[i].pid == 0)
			kid_main(c[0], a[1], i);
		close(c[0]);
		close(a[1]);
		kids[i].cmd = c[1];
		kids[i].ack = a[0];
	}
}

static void kids_stop(void)
{
	for (int i = 0; i < KIDS; i++) {
		int st;

		assert_int_equal(write(kids[i].cmd, "q", 1), 1);
		close(kids[i].cmd);
		close(kids[i].ack);
		assert_int_equal(waitpid(kids[i].pid, &st, 0), kids[i].pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}

/* One byte from fd within WAIT_MS; -1 when none came. */
static int ack_byte(int fd, char *c)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, WAIT_MS) == 1 && read(fd, c, 1) == 1 ? 0 : -1;
}

/* ---- a run ------------------------------------------------------------------- */

struct track {
	uint32_t n;          /* beats delivered */
	uint64_t last;       /* the last nonce delivered (normalised: 1 = the run's first) */
	bool order_ok;       /* nonces increasing */
	bool stopped, after; /* its STOPPING came; something of its after it */
};

struct result {
	bool done, hung, loop_err;
	int hung_phase, rc;
	uint32_t frames;
	bool first_ok, seq_ok, crc_ok;
	size_t out, err;
	bool out_ok, err_ok, after_exit;
	bool have_exit;
	struct vigil_exit exit;
	uint32_t pongs;
	bool pong_ok;
	struct track beat[KIDS];
	bool stranger; /* a beat of a pid that is not a beat process */
	uint64_t kid_sent[KIDS], stats[STAT_MAX];
	bool fd_leak;
};

struct run {
	uint64_t now;
	int host, port;   /* the socketpair: the host's end, the agent's */
	int cmd_w, ack_r; /* the workload's steps */
	pid_t wpid;
	bool gone; /* the port's agent end failed for good (an injected reset) */
	struct core_cfg cfg;
	char *argv[10];
	struct vigil_asm a;
	uint32_t seq, host_seq;
	uint64_t base[KIDS];
	uint64_t ping_ns;
	bool shutdown_sent;
	struct result r;
};

static enum fault_kind armed; /* this run's fault */

static uint64_t fake_clock(void *ctx)
{
	return ((struct run *)ctx)->now;
}

static void host_send(struct run *x, uint16_t type, const void *p, size_t len)
{
	uint8_t buf[64];
	int n = vigil_frame_encode(buf, sizeof(buf), type, x->host_seq++, p, len);

	assert_true(n > 0);
	assert_int_equal(write(x->host, buf, (size_t)n), n);
}

static void on_output(struct run *x, const struct vigil_frame *f, bool out)
{
	size_t *at = out ? &x->r.out : &x->r.err;
	const uint8_t *want = out ? want_out : want_err;
	size_t total = out ? out_total : err_total;

	if (*at + f->hdr.len > total || memcmp(want + *at, f->payload, f->hdr.len) != 0)
		*(out ? &x->r.out_ok : &x->r.err_ok) = false;
	*at += f->hdr.len;
	if (x->r.have_exit)
		x->r.after_exit = true;
}

static void on_beats(struct run *x, const struct vigil_frame *f)
{
	struct vigil_records rec;

	if (vigil_beats_decode(f->payload, f->hdr.len, &rec) < 0) {
		x->r.crc_ok = false;
		return;
	}
	for (uint32_t i = 0; i < rec.count; i++) {
		struct vigil_beat b;
		struct track *t = NULL;
		int k;

		vigil_beat_get(&rec, i, &b);
		for (k = 0; k < KIDS; k++)
			if (b.pid == (uint32_t)kids[k].pid)
				t = &x->r.beat[k];
		k = t ? (int)(t - x->r.beat) : -1;
		if (!t || b.app_payload != (uint32_t)k) {
			x->r.stranger = true;
			continue;
		}
		b.nonce -= x->base[k];
		if (b.nonce <= t->last)
			t->order_ok = false;
		if (t->stopped)
			t->after = true;
		t->stopped |= b.status == VIGIL_BEAT_STOPPING;
		t->last = b.nonce;
		t->n++;
	}
}

static void on_frame(struct run *x, const struct vigil_frame *f)
{
	uint16_t t = f->hdr.type;

	x->r.crc_ok &= f->crc_ok;
	x->r.seq_ok &= f->hdr.seq == x->seq;
	x->seq = f->hdr.seq + 1;
	if ((x->r.frames == 0 && t != VIGIL_MSG_HELLO) ||
	    (x->r.frames == 1 && t != VIGIL_MSG_SYS_RDY))
		x->r.first_ok = false;
	x->r.frames++;
	if (t == VIGIL_MSG_STDOUT || t == VIGIL_MSG_STDERR) {
		on_output(x, f, t == VIGIL_MSG_STDOUT);
	} else if (t == VIGIL_MSG_BEAT) {
		on_beats(x, f);
	} else if (t == VIGIL_MSG_PONG) {
		struct vigil_pong p;

		x->r.pongs++;
		x->r.pong_ok = vigil_pong_decode(f->payload, f->hdr.len, &p) == 0 &&
			       p.token == 0x5eedf00d && p.guest_mono_ns == x->ping_ns;
	} else if (t == VIGIL_MSG_EXIT) {
		x->r.have_exit = vigil_exit_decode(f->payload, f->hdr.len, &x->r.exit) == 0;
		if (!x->shutdown_sent) /* as vigil does: the EXIT is read */
			host_send(x, VIGIL_MSG_SHUTDOWN, "\0\0\0\0", 4);
		x->shutdown_sent = true;
	}
}

/* The host: what the agent wrote, decoded. */
static void host_read(struct run *x)
{
	static uint8_t buf[1 << 17];
	struct vigil_frame f;
	ssize_t n;

	while ((n = read(x->host, buf, sizeof(buf))) > 0) {
		vigil_asm_push(&x->a, buf, (size_t)n);
		while (vigil_asm_next(&x->a, &f) > 0)
			on_frame(x, &f);
	}
}

static int unread(int fd)
{
	int n = 0;

	return ioctl(fd, SIOCOUTQ, &n) < 0 ? -errno : n;
}

/* One turn: the host reads, then the agent runs once, inside its turn. */
static int turn(struct run *x)
{
	bool done = false;
	int n;

	host_read(x);
	fault_host(true);
	n = core_turn(0, &done);
	fault_host(false);
	if (n < 0) {
		x->r.loop_err = true; /* core_run would end here */
		done = true;
	}
	x->r.done = done;
	return n;
}

/* Turns until nothing was handled twice in a row with the port read both
 * ways (one spurious empty wait is not the end), or the agent is done. */
static void settle(struct run *x, int phase)
{
	int calm = 0;

	for (int i = 0; i < TURN_MAX && !x->r.done; i++) {
		int n = turn(x);

		/* a reset port reads and writes nothing more: its bytes stay */
		x->gone = fault_fired() && fault_fired_fd() == x->port &&
			  (armed == FAULT_ECONNRESET || armed == FAULT_EPIPE);
		calm = n == 0 && (x->gone || (unread(x->port) == 0 && unread(x->host) == 0))
			   ? calm + 1
			   : 0;
		if (calm == 2)
			return;
	}
	if (!x->r.done && !x->r.hung) {
		x->r.hung = true;
		x->r.hung_phase = phase;
	}
}

static void tick(struct run *x, uint64_t ms, int phase)
{
	x->now += ms * MS;
	settle(x, phase);
}

/* The workload's next step, then the agent settles; a step not
 * acknowledged within WAIT_MS counts as a hang. */
static void work(struct run *x, int phase)
{
	char buf[32];
	ssize_t n;
	struct pollfd p = { .fd = x->ack_r, .events = POLLIN };

	if (write(x->cmd_w, "\n", 1) != 1 || poll(&p, 1, WAIT_MS) != 1 ||
	    (n = read(x->ack_r, buf, sizeof(buf) - 1)) <= 0) {
		x->r.hung = true;
		x->r.hung_phase = phase;
		return;
	}
	buf[n] = '\0';
	if (!x->wpid)
		x->wpid = atoi(buf);
	settle(x, phase);
}

/* The last step: the workload writes and exits; on once it is a zombie, so
 * that its SIGCHLD is queued before the agent turns. */
static void work_last(struct run *x, int phase)
{
	uint64_t end = rx_now_ms() + WAIT_MS;
	siginfo_t si;

	if (write(x->cmd_w, "\n", 1) != 1)
		x->r.hung = true;
	do {
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)x->wpid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
			break;
		if (!si.si_pid)
			usleep(100);
	} while (!si.si_pid && rx_now_ms() < end);
	if (!si.si_pid) {
		x->r.hung = true;
		x->r.hung_phase = phase;
		return;
	}
	settle(x, phase);
}

static void beat(struct run *x, int k, bool stopping)
{
	char c;

	kids[k].sent++;
	x->r.kid_sent[k]++;
	if (write(kids[k].cmd, stopping ? "s" : "o", 1) != 1 || ack_byte(kids[k].ack, &c) < 0 ||
	    c != 'k')
		x->r.hung = true; /* a refused beat: the scenario no longer holds */
}

static void ping(struct run *x)
{
	uint8_t p[8];

	vigil_put64(p, 0x5eedf00d);
	x->ping_ns = x->now;
	host_send(x, VIGIL_MSG_PING, p, sizeof(p));
}

static void run_open(struct run *x)
{
	int sv[2], c[2], a[2], e;

	memset(x, 0, sizeof(*x));
	x->now = T0;
	x->r.first_ok = x->r.seq_ok = x->r.crc_ok = x->r.out_ok = x->r.err_ok = true;
	for (int k = 0; k < KIDS; k++) {
		x->base[k] = kids[k].sent;
		x->r.beat[k].order_ok = true;
	}
	vigil_asm_init(&x->a);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	x->host = sv[0];
	x->port = sv[1];
	/* the workload's step pipes, inherited at its fork (not close-on-exec) */
	assert_int_equal(pipe2(c, O_CLOEXEC), 0);
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(dup2(c[0], CMD_FD), CMD_FD);
	assert_int_equal(dup2(a[1], ACK_FD), ACK_FD);
	close(c[0]);
	close(a[1]);
	x->cmd_w = c[1];
	x->ack_r = a[0];
	x->argv[0] = "sh";
	x->argv[1] = "-c";
	x->argv[2] = (char *)script;
	x->argv[3] = "sh";
	for (int i = 0; i < N_PIECES; i++)
		x->argv[4 + i] = piece[i];
	core_cfg_defaults(&x->cfg);
	x->cfg.port_fd = x->port;
	x->cfg.beat_path = beat_path;
	x->cfg.ctl_path = NULL;
	x->cfg.kmsg_path = NULL;
	x->cfg.flows_ms = 0;
	x->cfg.scx_path = NULL;
	x->cfg.proc_path = NULL;
	x->cfg.self_beat_ms = 0; /* every beat is a beat process's: all accounted for */
	x->cfg.drain_ms = 2000;
	x->cfg.ack_ms = 1000;
	x->cfg.log_fd = -1;
	x->cfg.argv = x->argv;
	x->cfg.exit_with_workload = true;
	x->cfg.pipe_bytes = 256u << 10; /* a step's output fits while the agent waits */
	x->cfg.clock = fake_clock;
	x->cfg.clock_ctx = x;
	fault_host(true);
	e = core_start(&x->cfg);
	fault_host(false);
	assert_int_equal(e, 0);
	fds_hold();
}

/* The workload, when the agent did not reap it. */
static void workload_gone(struct run *x)
{
	siginfo_t si = { 0 };

	if (x->wpid <= 0 || waitid(P_PID, (id_t)x->wpid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return; /* reaped */
	if (!si.si_pid)
		kill(x->wpid, SIGKILL);
	waitpid(x->wpid, NULL, 0);
}

static void run_close(struct run *x)
{
	sigset_t chld;
	struct timespec zero = { 0 };

	core_stats(x->r.stats, STAT_MAX);
	fault_host(true);
	x->r.rc = core_end();
	fault_host(false);
	close(x->host);
	close(x->port);
	close(x->cmd_w); /* a workload still waiting reads EOF and ends */
	close(x->ack_r);
	workload_gone(x);
	/* a SIGCHLD the agent did not read would wake the next run's */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (sigtimedwait(&chld, NULL, &zero) > 0)
		;
}

/* The whole scenario (see the top). */
static void scenario(struct run *x)
{
	int fds = fault_open_fds();

	run_open(x);
	settle(x, 1); /* HELLO, SYS_RDY */
	work(x, 2);   /* 40 KB of stdout */
	beat(x, 0, false);
	beat(x, 1, false);
	beat(x, 2, false);
	settle(x, 3);
	tick(x, 10, 4);
	ping(x);
	settle(x, 5);
	work(x, 6);                   /* stderr, then stdout */
	for (int i = 0; i < 4; i++) { /* dense: HOLD windows */
		x->now += MS;
		beat(x, 0, false);
		beat(x, 1, false);
		if (i == 3) { /* the third's last beat, then its goodbye, in a window */
			beat(x, 2, false);
			beat(x, 2, true);
		}
		settle(x, 7);
	}
	tick(x, 5, 8); /* the last window, then a silent one */
	tick(x, 5, 9);
	tick(x, 1000, 10);
	work_last(x, 11);
	for (int i = 0; i < END_S * 10 && !x->r.done && !x->r.hung; i++)
		tick(x, 100, 12); /* the SHUTDOWN, or drain_ms when the port is gone */
	if (!x->r.done && !x->r.hung) {
		x->r.hung = true;
		x->r.hung_phase = 12;
	}
	run_close(x);
	x->r.fd_leak = fault_open_fds() != fds;
}

/* ---- the verdicts ------------------------------------------------------------ */

/* What the host got is clean, whatever came of it: a prefix of the streams. */
static bool clean(const struct result *a)
{
	bool beats = !a->stranger;

	for (int k = 0; k < KIDS; k++)
		beats &= a->beat[k].order_ok && !a->beat[k].after;
	return !a->hung && a->done && !a->loop_err && !a->fd_leak && a->first_ok && a->seq_ok &&
	       a->crc_ok && a->out_ok && a->err_ok && !a->after_exit && beats && a->pongs <= 1 &&
	       (a->pongs == 0 || a->pong_ok) && a->rc == 3 && a->stats[ST_REJECTED] == 0;
}

/* Everything delivered, every beat accounted for, each process's last
 * beat (its STOPPING for the third) among them. */
static bool whole(const struct result *a)
{
	uint64_t got = 0, sent = 0;
	bool last = true;

	for (int k = 0; k < KIDS; k++) {
		got += a->beat[k].n;
		sent += a->kid_sent[k];
		last &= a->beat[k].last == a->kid_sent[k];
	}
	return clean(a) && a->out == out_total && a->err == err_total && a->have_exit &&
	       a->exit.exit_status == 3 && a->exit.signal == 0 && a->pongs == 1 && last &&
	       a->beat[2].stopped && a->stats[ST_DISCONNECTS] == 0 &&
	       got + a->stats[ST_COALESCED] + a->stats[ST_DROPPED] == sent;
}

/* The port reset for good: a clean prefix, the disconnect counted, and the
 * agent ended all the same with the workload's status (clean: rc 3). */
static bool port_gone(const struct result *a)
{
	return clean(a) && a->stats[ST_DISCONNECTS] >= 1;
}

static void describe(const char *what, uint64_t n, enum fault_kind k, const struct result *a)
{
	print_message(
	    "%s: call %llu (%s on fd %d), %s: done %d hung %d (phase %d) loop_err %d rc %d "
	    "fd_leak %d; %u frames first %d seq %d crc %d; stdout %zu/%zu ok %d, stderr %zu/%zu "
	    "ok %d, after exit %d; exit %d status %d; pongs %u ok %d; stranger %d, "
	    "coalesced %llu dropped %llu rejected %llu disconnects %llu; beats",
	    what, (unsigned long long)n, fault_call_name(fault_fired_call()), fault_fired_fd(),
	    fault_kind_name(k), a->done, a->hung, a->hung_phase, a->loop_err, a->rc, a->fd_leak,
	    a->frames, a->first_ok, a->seq_ok, a->crc_ok, a->out, out_total, a->out_ok, a->err,
	    err_total, a->err_ok, a->after_exit, a->have_exit, a->exit.exit_status, a->pongs,
	    a->pong_ok, a->stranger, (unsigned long long)a->stats[ST_COALESCED],
	    (unsigned long long)a->stats[ST_DROPPED], (unsigned long long)a->stats[ST_REJECTED],
	    (unsigned long long)a->stats[ST_DISCONNECTS]);
	for (int i = 0; i < KIDS; i++)
		print_message(" [%d: %u of %llu, last %llu, order %d, stopped %d, after %d]", i,
			      a->beat[i].n, (unsigned long long)a->kid_sent[i],
			      (unsigned long long)a->beat[i].last, a->beat[i].order_ok,
			      a->beat[i].stopped, a->beat[i].after);
	print_message("\n");
}

/*
 * An EAGAIN from the beat socket while it holds datagrams, at the read
 * made out of turn for a goodbye: the kernel says EAGAIN to a datagram
 * socket's one reader only when it is empty, so the agent takes it for
 * that, and a beat its process sent before the goodbye follows it (the
 * host sees the pid again after its STOPPING). The one way a run may
 * differ from the reference that is not an error of the agent's.
 */
static bool late_beat(const struct result *a, enum fault_kind k)
{
	struct result b = *a;

	if (k != FAULT_EAGAIN || fault_fired_call() != FAULT_RECVMMSG || !a->beat[2].after)
		return false;
	b.beat[2].after = false;
	b.beat[2].order_ok = true;
	b.beat[2].last = b.kid_sent[2];
	return whole(&b);
}

/* What a run with fault k must show (see the top). */
static bool acceptable(const struct run *x, enum fault_kind k)
{
	if (whole(&x->r) || late_beat(&x->r, k))
		return true;
	return (k == FAULT_ECONNRESET || k == FAULT_EPIPE) && fault_fired_fd() == x->port &&
	       port_gone(&x->r);
}

/* A sweep's run: the scenario with the fault armed, judged against the reference. */
struct sweep_ctx {
	struct run *x;
};

static bool sweep_run(void *ctx, uint64_t n, enum fault_kind k)
{
	struct sweep_ctx *c = ctx;

	armed = k;
	scenario(c->x);
	if (acceptable(c->x, k))
		return true;
	describe("FAILED", n, k, &c->x->r);
	return false;
}

static void test_agent_port_and_beats(void **state)
{
	static struct run x;
	uint64_t calls;
	struct fault_rec *trace;
	struct fault_sweep sw;
	struct sweep_ctx ctx = { &x };

	(void)state;
	pieces_init();
	tmp_template(dir, sizeof(dir), "/tmp/vigil-fault-agent-");
	assert_non_null(mkdtemp(dir));
	snprintf(beat_path, sizeof(beat_path), "%s/beat.sock", dir);
	fds_hold();
	kids_start();
	fault_reset();
	armed = FAULT_NONE;
	scenario(&x);
	calls = fault_calls();
	describe("reference", 0, FAULT_NONE, &x.r);
	assert_true(whole(&x.r));
	assert_true(x.r.stats[ST_COALESCED] > 0); /* the HOLD windows were taken */
	assert_true(calls > 0 && calls <= FAULT_TRACE_MAX);
	trace = malloc(calls * sizeof(*trace));
	assert_non_null(trace);
	memcpy(trace, fault_trace(), calls * sizeof(*trace));
	assert_int_equal(fault_sweep(trace, calls, RUNS_MAX, NULL, sweep_run, &ctx, &sw), 0);
	fault_sweep_print(&sw, calls);
	free(trace);
	kids_stop();
	close(CMD_FD);
	close(ACK_FD);
	pieces_free();
	unlink(beat_path);
	rmdir(dir);
	assert_int_equal(sw.failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_port_and_beats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
