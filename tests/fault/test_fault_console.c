/* SPDX-License-Identifier: MIT */
/*
 * Fault injection into the serial console's reader (host/cli/console.c's
 * struct vigil_con_reader, as backend_qemu.c uses it for QEMU's serial
 * port) and the guest port beside it, on one loop; fault.h says how,
 * fault_fx.h what a run is.
 *
 * The test plays QEMU: its end of a socketpair is the serial port, and it
 * writes, phase by phase, a boot (CRLF endings, escape sequences, a line
 * over VIGIL_CON_LINE_MAX), kernel trouble (a WARNING with its trace, an
 * OOM kill, a hung task, a soft lockup), 300 KiB of chatter (more than a
 * wake-up's budget), then a panic with its trace and a last line without
 * newline. The panic ends the run; the backend's stop makes "QEMU" close
 * the console and exit (an eventfd stands for its pidfd), and the exit
 * drains the console before the guest is gone, as backend_qemu.c's
 * pid_ready does. --console is a pipe the test reads, under a
 * --file-limit that the chatter passes.
 *
 * Every run with a fault at call n (every n of the reference, every fault
 * that applies) must end:
 *   - EINTR, EAGAIN, short counts (console reads, copy writes, the port,
 *     epoll_wait): as the reference: the same lines (each hashed), the
 *     same findings (outcome, kind, pid, detail) and evidence (source,
 *     finding, time, text), the same events, the copy exactly the first
 *     --file-limit bytes of the console;
 *   - except EAGAIN on the copy (a non-blocking target that is full): the
 *     copy ends there, said once; everything else as the reference;
 *   - EPIPE on the copy (its reader went away): the same;
 *   - ECONNRESET on the console: the console is gone: the lines read
 *     before it are a prefix of the reference's, whole (the line the reset
 *     cut is dropped, never scanned as if whole), the findings those the
 *     reference had found by then (then LINK_LOST when the panic was not
 *     among them: the VM goes away without an EXIT), the copy a prefix;
 *   - ECONNRESET or EPIPE on the port: the console's lines and findings as
 *     the reference, the link's events aside; the evidence too, unless the
 *     port broke before READY (a crash before READY takes the boot's
 *     lines as evidence: evidence.c's evd_boot);
 * never a crash, a hang, a leak (ASan) or a wrong byte. Cap: RUNS_MAX.
 * Measured: 128 calls, 498 runs, 1.5 s (RelWithDebInfo), 2.5 s (ASan).
 *
 * Before it, single faults in one wake-up of the reader, each a bug once:
 * EINTR on the copy's write (it ended the copy), ECONNRESET in the middle
 * of a line (the cut line was scanned as if whole).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "console.h"
#include "fault.h"
#include "fault_fx.h"

#define RUNS_MAX   4000
#define TEXT_MAX   (400u << 10)
#define CHATTER    (300u << 10)
#define COPY_LIMIT 250000u /* --file-limit: inside the chatter */
#define LINES_MAX  8192
#define FND_MAX    16
#define EVD_MAX    256
#define PHASES     4

/* ---- the console's text, the same in every run ---------------------------------- */

static char text[TEXT_MAX];
static size_t text_len, phase_end[PHASES];

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void put(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text + text_len, sizeof(text) - text_len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(text) - text_len);
	text_len += (size_t)n;
}

static void text_init(void)
{
	unsigned i = 0;

	if (text_len)
		return;
	for (i = 0; i < 150; i++)
		put("[    0.%06u] boot: step %u\tof the boot, \x1b[0msome words%s\r\n", i * 911, i,
		    i % 37 ? "" : " and more words to make it longer");
	put("[    0.900000] long: ");
	for (i = 0; i < 150; i++)
		put("0123456789");
	put("\r\n");
	phase_end[0] = text_len;
	put("[   12.000000] WARNING: CPU: 1 PID: 77 at mm/page_alloc.c:4000 "
	    "__alloc_pages+0x10/0x20\n"
	    "[   12.000001] Modules linked in: virtio_console\n"
	    "[   12.000002] RIP: 0010:__alloc_pages+0x10/0x20\n"
	    "[   12.000003] Call Trace:\n"
	    "[   12.000004]  <TASK>\n"
	    "[   12.000005]  dump_stack+0x10/0x20\n"
	    "[   12.000006]  </TASK>\n"
	    "[   12.000007] ---[ end trace 0000000000000000 ]---\n"
	    "[   12.500000] systemd[1]: ordinary line\n"
	    "[   13.000000] Out of memory: Killed process 4242 (hog) total-vm:1000kB, "
	    "anon-rss:900kB\n"
	    "[   13.500000] ordinary line again\n"
	    "[   14.000000] INFO: task kworker/0:1:55 blocked for more than 120 seconds.\n"
	    "[   14.000001]       Not tainted 6.1.0 #1\n"
	    "[   15.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [spin:99]\n");
	phase_end[1] = text_len;
	for (i = 0; text_len < phase_end[1] + CHATTER; i++)
		put("[   16.%06u] chatter %u: the quick brown fox jumps over the lazy dog\n", i, i);
	phase_end[2] = text_len;
	put("[   20.000000] Kernel panic - not syncing: Fatal exception in interrupt\n"
	    "[   20.000001] CPU: 0 PID: 0 Comm: swapper/0 Not tainted 6.1.0 #1\n"
	    "[   20.000002] Call Trace:\n"
	    "[   20.000003]  panic+0x10/0x20\n"
	    "[   20.000004] ---[ end Kernel panic - not syncing: Fatal exception in interrupt "
	    "]---\n"
	    "[   20.500000] Rebooting in 10 seconds..");
	phase_end[3] = text_len;
}

/* ---- a run ------------------------------------------------------------------------- */

struct fnd {
	uint8_t outcome;
	bool fatal;
	uint32_t kind, pid;
	char detail[VIGIL_DETAIL_MAX];
};

struct evd {
	uint16_t source;
	uint32_t finding;
	uint64_t t_ns;
	uint64_t hash;
};

struct crun {
	struct ffx x; /* first: the backend's be is the run */
	struct vigil_con_reader rd;
	int con;              /* the test's end of the console ("QEMU"); -1 once closed */
	int con_fd;           /* the host's end (owned by the reader) */
	int copy_rd, copy_wr; /* the --console pipe (the write end owned by the reader) */
	int exit_efd;         /* "QEMU's pidfd" */
	size_t queued, sent;  /* console bytes to send by now, and sent */
	bool quitting, exited;
	bool con_gone; /* the host's end was closed: nothing more is sent */
	/* what the run showed */
	size_t copied;
	bool copy_ok;
	unsigned n_lines;
	uint64_t line_hash[LINES_MAX];
	uint8_t line_nf[LINES_MAX]; /* FINDING events seen once the line was scanned */
	struct fnd f[FND_MAX];
	unsigned n_f;
	struct evd e[EVD_MAX];
	unsigned n_e;
	uint64_t read_errors;
	unsigned warned; /* the reader's warnings */
};

static uint64_t hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static unsigned findings_so_far(const struct ffx *x)
{
	unsigned n = 0;

	for (unsigned i = 0; i < x->n_ev; i++)
		n += x->ev[i] == VIGIL_EV_FINDING;
	return n;
}

/* backend_qemu.c's on_console_line, recorded */
static void on_line(void *ctx, const char *line, size_t len)
{
	struct crun *c = ctx;

	vigil_guest_console_line(c->x.g, line, len);
	if (c->n_lines < LINES_MAX) {
		c->line_hash[c->n_lines] = hash(line, len);
		c->line_nf[c->n_lines] = (uint8_t)findings_so_far(&c->x);
	}
	c->n_lines++;
}

static void on_warn(void *ctx, const char *msg)
{
	(void)msg;
	((struct crun *)ctx)->warned++;
}

/* "QEMU" exits: the console is drained, then the guest is gone. */
static int exit_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct crun *c = ctx;

	(void)fd;
	(void)events;
	vigil_source_free(s);
	vigil_con_reader_drain(&c->rd);
	c->exited = true;
	vigil_guest_gone(c->x.g);
	return 0;
}

static void be_stop(void *be, enum vigil_stop_how how)
{
	(void)how;
	((struct crun *)be)->quitting = true; /* QMP quit: QEMU writes the rest, exits */
}

static void be_port_closed(void *be)
{
	((struct crun *)be)->x.port_closed++;
}

static void be_free(void *be)
{
	vigil_con_reader_release(&((struct crun *)be)->rd);
}

static const struct vigil_guest_ops ops = {
	.kind = "console",
	.stop = be_stop,
	.port_closed = be_port_closed,
	.free = be_free,
};

/* QEMU's side: sends the console up to what the phase queued, reads the
 * copy, and exits when told to quit and all is sent. */
static void qemu_side(struct ffx *x)
{
	struct crun *c = (struct crun *)x;
	char buf[65536];
	ssize_t n;

	while (c->con >= 0 && !c->con_gone && c->sent < c->queued) {
		n = send(c->con, text + c->sent, c->queued - c->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->con_gone = true; /* the reader is gone */
			break;
		}
		c->sent += (size_t)n;
	}
	while ((n = read(c->copy_rd, buf, sizeof(buf))) > 0) {
		if (c->copied + (size_t)n > text_len || memcmp(text + c->copied, buf, (size_t)n))
			c->copy_ok = false;
		c->copied += (size_t)n;
	}
	if (c->quitting && c->con >= 0 && (c->con_gone || c->sent == c->queued)) {
		close(c->con);
		c->con = -1;
		assert_int_equal(eventfd_write(c->exit_efd, 1), 0);
	}
}

static bool qemu_idle(struct ffx *x)
{
	struct crun *c = (struct crun *)x;
	int pending = 0;

	assert_int_equal(ioctl(c->copy_rd, FIONREAD, &pending), 0);
	return (c->con_gone || c->sent == c->queued) && pending == 0 &&
	       (!c->quitting || c->exited) && (!c->rd.src || c->con < 0 || ffx_unread(c->con) <= 0);
}

static void run_open(struct crun *c)
{
	int sp[2], cp[2];
	struct vigil_source *s;

	memset(c, 0, sizeof(*c));
	ffx_open(&c->x, &ops, c);
	c->x.side = qemu_side;
	c->x.idle = qemu_idle;
	c->copy_ok = true;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(pipe2(cp, O_CLOEXEC | O_NONBLOCK), 0);
	/* room for all of it: a full pipe would be a real EAGAIN */
	assert_true(fcntl(cp[1], F_SETPIPE_SZ, 1 << 20) >= (int)COPY_LIMIT);
	c->con = sp[1];
	c->con_fd = sp[0];
	c->copy_rd = cp[0];
	c->copy_wr = cp[1];
	vigil_con_reader_init(&c->rd, &(struct vigil_con_reader_cfg){ .on_line = on_line,
								      .warn = on_warn,
								      .ctx = c,
								      .copy_fd = cp[1],
								      .copy_path = "console.txt",
								      .copy_limit = COPY_LIMIT });
	assert_int_equal(vigil_con_reader_attach(&c->rd, c->x.l, sp[0]), 0);
	c->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(c->exit_efd >= 0);
	assert_int_equal(
	    vigil_source_add(c->x.l, c->exit_efd, EPOLLIN, 0, exit_ready, c, "qemu", &s), 0);
}

static void keep_verdict(struct crun *c)
{
	const struct vigil_verdict *v = vigil_guest_verdict(c->x.g);

	assert_non_null(v);
	for (uint32_t i = 0; i < v->n_findings && c->n_f < FND_MAX; i++) {
		const struct vigil_finding *f = &v->findings[i];
		struct fnd *k = &c->f[c->n_f++];

		k->outcome = (uint8_t)f->outcome;
		k->fatal = f->fatal;
		k->kind = f->kind;
		k->pid = f->pid;
		memcpy(k->detail, f->detail, sizeof(k->detail));
	}
	for (uint32_t i = 0; i < v->n_evidence && c->n_e < EVD_MAX; i++) {
		const struct vigil_evidence *e = &v->evidence[i];

		c->e[c->n_e++] = (struct evd){ .source = e->source,
					       .finding = e->finding,
					       .t_ns = e->t_ns,
					       .hash = hash(e->line, strlen(e->line)) };
	}
}

static void scenario(struct crun *c)
{
	run_open(c);
	ffx_hello(&c->x);
	ffx_beat(&c->x, 100, 0);
	ffx_settle(&c->x, 0);
	for (int p = 0; p < PHASES; p++) {
		c->x.now += 100 * FFX_MS;
		c->queued = phase_end[p];
		ffx_settle(&c->x, p + 1);
	}
	ffx_end(&c->x); /* the console was cut before the panic: QEMU powers off */
	ffx_settle(&c->x, 9);
	keep_verdict(c);
	c->read_errors = c->rd.read_errors;
	ffx_close(&c->x);
	if (c->con >= 0)
		close(c->con);
	close(c->copy_rd);
	close(c->exit_efd);
}

/* ---- the verdicts ------------------------------------------------------------------ */

static bool same_findings(const struct crun *a, const struct crun *ref, unsigned n)
{
	if (a->n_f < n)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (a->f[i].outcome != ref->f[i].outcome || a->f[i].kind != ref->f[i].kind ||
		    a->f[i].pid != ref->f[i].pid || a->f[i].fatal != ref->f[i].fatal ||
		    strcmp(a->f[i].detail, ref->f[i].detail))
			return false;
	return a->n_f == n;
}

/* The reference's first n findings; then, when the panic was not among
 * them, the end of a run that lost its console before it: the VM went
 * away without an EXIT (LINK_LOST). */
static bool findings_then_lost(const struct crun *a, const struct crun *ref, unsigned n)
{
	static struct crun tmp;

	if (a->n_f == n)
		return same_findings(a, ref, n) && a->x.outcome == ref->x.outcome;
	if (a->n_f != n + 1 || a->f[n].outcome != VIGIL_OUTCOME_LINK_LOST)
		return false;
	memcpy(tmp.f, a->f, sizeof(a->f));
	tmp.n_f = n;
	return same_findings(&tmp, ref, n);
}

static bool same_evidence(const struct crun *a, const struct crun *ref)
{
	if (a->n_e != ref->n_e)
		return false;
	for (unsigned i = 0; i < a->n_e; i++)
		if (a->e[i].source != ref->e[i].source || a->e[i].finding != ref->e[i].finding ||
		    a->e[i].t_ns != ref->e[i].t_ns || a->e[i].hash != ref->e[i].hash)
			return false;
	return true;
}

/* The first n lines are the reference's. */
static bool same_lines(const struct crun *a, const struct crun *ref, unsigned n)
{
	if (a->n_lines < n || n > LINES_MAX)
		return false;
	return memcmp(a->line_hash, ref->line_hash, n * sizeof(a->line_hash[0])) == 0;
}

/* The console's findings and evidence, as the reference. */
static bool same_console(const struct crun *a, const struct crun *ref)
{
	return !a->x.hung && a->x.done && a->x.outcome == ref->x.outcome &&
	       a->n_lines == ref->n_lines && same_lines(a, ref, ref->n_lines) &&
	       same_findings(a, ref, ref->n_f) && same_evidence(a, ref) && a->x.reports == 0;
}

static bool full_copy(const struct crun *a)
{
	return a->copy_ok && a->copied == (text_len < COPY_LIMIT ? text_len : COPY_LIMIT);
}

static bool acceptable(const struct crun *c, enum fault_kind k, const struct crun *ref)
{
	int fd = fault_fired_fd();
	unsigned n = c->n_lines;

	if (same_console(c, ref) && ffx_same_events(&c->x, &ref->x, 0) && full_copy(c) &&
	    c->warned == ref->warned)
		return true;
	if (fd == c->copy_wr && (k == FAULT_EAGAIN || k == FAULT_EPIPE))
		return same_console(c, ref) && ffx_same_events(&c->x, &ref->x, 0) && c->copy_ok &&
		       c->copied < COPY_LIMIT &&
		       /* the copy ended, said once (after the limit's warning when
			  the write that failed was the one that reached it) */
		       (c->warned == 1 || c->warned == 2);
	if (fd == c->con_fd && k == FAULT_ECONNRESET)
		return !c->x.hung && c->x.done && c->read_errors == 1 && n < ref->n_lines &&
		       same_lines(c, ref, n) && c->copy_ok &&
		       findings_then_lost(c, ref, n ? ref->line_nf[n - 1] : 0);
	if (fd == c->x.port_fd && (k == FAULT_ECONNRESET || k == FAULT_EPIPE))
		return !c->x.hung && c->x.done && c->x.outcome == ref->x.outcome &&
		       c->n_lines == ref->n_lines && same_lines(c, ref, ref->n_lines) &&
		       same_findings(c, ref, ref->n_f) && full_copy(c) &&
		       (same_evidence(c, ref) || !ffx_saw(&c->x, VIGIL_EV_READY));
	return false;
}

static void describe(const struct crun *c, const char *what)
{
	ffx_describe(&c->x, what);
	fprintf(
	    stderr, "  lines %u, findings %u, evidence %u, copied %zu ok %d, read_errors %llu\n",
	    c->n_lines, c->n_f, c->n_e, c->copied, c->copy_ok, (unsigned long long)c->read_errors);
	for (unsigned i = 0; i < c->n_f; i++)
		fprintf(stderr, "  finding %s kind %u pid %u: %s\n",
			vigil_outcome_name(c->f[i].outcome), c->f[i].kind, c->f[i].pid,
			c->f[i].detail);
}

/* ---- single faults, one wake-up of the reader ------------------------------------- */

struct one {
	struct vigil_loop *l;
	struct vigil_con_reader r;
	int con, copy_rd;
	unsigned lines, warned;
	char last[VIGIL_CON_LINE_MAX + 1];
};

static void one_line(void *ctx, const char *line, size_t len)
{
	struct one *o = ctx;

	o->lines++;
	memcpy(o->last, line, len + 1);
}

static void one_warn(void *ctx, const char *msg)
{
	(void)msg;
	((struct one *)ctx)->warned++;
}

/* A reader with a copy, the console's bytes sent, one wake-up with fault
 * k at the nth call of kind c (0: none) of a run of the same. */
static void one_run(struct one *o, const char *bytes, enum fault_call c, unsigned nth,
		    enum fault_kind k)
{
	int sp[2], cp[2];
	uint64_t at = 0;

	if (nth) { /* where that call is, from a run without faults */
		one_run(o, bytes, 0, 0, FAULT_NONE);
		for (uint64_t i = 0, seen = 0; i < fault_calls() && !at; i++)
			if (fault_trace()[i].call == c && ++seen == nth)
				at = i + 1;
		assert_true(at > 0);
		vigil_con_reader_release(&o->r);
		vigil_loop_free(o->l);
		close(o->con);
		close(o->copy_rd);
	}
	memset(o, 0, sizeof(*o));
	assert_int_equal(vigil_loop_new(&o->l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(pipe2(cp, O_CLOEXEC | O_NONBLOCK), 0);
	vigil_con_reader_init(&o->r, &(struct vigil_con_reader_cfg){ .on_line = one_line,
								     .warn = one_warn,
								     .ctx = o,
								     .copy_fd = cp[1],
								     .copy_path = "copy" });
	assert_int_equal(vigil_con_reader_attach(&o->r, o->l, sp[0]), 0);
	o->con = sp[1];
	o->copy_rd = cp[0];
	assert_int_equal(send(o->con, bytes, strlen(bytes), 0), (ssize_t)strlen(bytes));
	fault_reset();
	fault_arm(at, k);
	fault_host(true);
	assert_true(vigil_loop_run_once(o->l, 0) >= 0);
	fault_host(false);
	assert_true(!at || fault_fired());
}

static void one_close(struct one *o)
{
	vigil_con_reader_release(&o->r);
	vigil_loop_free(o->l);
	if (o->con >= 0)
		close(o->con);
	close(o->copy_rd);
}

/* EINTR on the copy's write: written again, the copy whole (it ended the
 * copy, as if the disk were full). */
static void test_copy_eintr(void **state)
{
	static const char two[] = "one\ntwo\n";
	struct one o;
	char got[64];

	(void)state;
	one_run(&o, two, FAULT_WRITE, 1, FAULT_EINTR);
	assert_int_equal(o.lines, 2);
	assert_int_equal(o.warned, 0);
	assert_true(o.r.copy_fd >= 0);
	assert_int_equal(o.r.copy_bytes, strlen(two));
	assert_int_equal(read(o.copy_rd, got, sizeof(got)), (ssize_t)strlen(two));
	one_close(&o);
}

/* ECONNRESET after "whole line\npartial li": the whole line is scanned,
 * the one the reset cut is dropped and counted, not scanned as if whole
 * (it was, by the flush meant for QEMU's last words at end of stream). */
static void test_reset_cuts_line(void **state)
{
	struct one o;

	(void)state;
	one_run(&o, "whole line\npartial li", FAULT_RECV, 2, FAULT_ECONNRESET);
	assert_int_equal(o.lines, 1);
	assert_string_equal(o.last, "whole line");
	assert_int_equal(o.r.scan.cut_lines, 1);
	assert_int_equal(o.r.read_errors, 1);
	assert_null(o.r.src);
	one_close(&o);
	/* at the end of the stream, the last line is QEMU's and delivered */
	one_run(&o, "whole line\nlast words", FAULT_RECV, 0, FAULT_NONE);
	close(o.con);
	o.con = -1;
	vigil_con_reader_drain(&o.r);
	assert_int_equal(o.lines, 2);
	assert_string_equal(o.last, "last words");
	assert_int_equal(o.r.scan.cut_lines, 0);
	one_close(&o);
}

/* A sweep's run: the scenario with the fault armed, judged against the reference. */
struct sweep_ctx {
	struct crun *c, *ref;
};

static bool sweep_run(void *ctx, uint64_t n, enum fault_kind k)
{
	struct sweep_ctx *c = ctx;

	(void)n;
	scenario(c->c);
	if (acceptable(c->c, k, c->ref))
		return true;
	describe(c->c, "FAILED");
	return false;
}

static void test_console(void **state)
{
	static struct crun c, ref;
	static struct fault_rec trace[FAULT_TRACE_MAX];
	uint64_t calls;
	struct fault_sweep sw;
	struct sweep_ctx ctx = { &c, &ref };

	(void)state;
	text_init();
	fault_reset();
	scenario(&c);
	ref = c;
	calls = fault_calls();
	describe(&ref, "reference");
	assert_int_equal(ref.x.outcome, VIGIL_OUTCOME_GUEST_CRASH);
	assert_true(full_copy(&ref));
	assert_int_equal(ref.warned, 1); /* the copy reached --file-limit */
	assert_true(ref.n_lines > 4000 && ref.n_lines < LINES_MAX);
	assert_true(ref.n_f >= 5); /* WARNING, OOM, hung task, soft lockup, panic */
	assert_true(calls > 0 && calls <= FAULT_TRACE_MAX);
	memcpy(trace, fault_trace(), calls * sizeof(trace[0]));
	assert_int_equal(fault_sweep(trace, calls, RUNS_MAX, NULL, sweep_run, &ctx, &sw), 0);
	fault_sweep_print(&sw, calls);
	assert_int_equal(sw.failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_eintr),
		cmocka_unit_test(test_reset_cuts_line),
		cmocka_unit_test(test_console),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
