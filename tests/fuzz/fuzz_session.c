/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the host session from guest bytes to verdict.
 *
 * The input is a program of small operations, so the fuzzer reaches deep
 * state instead of dying at the CRC: raw bytes, a sealed frame of any type
 * with a fuzzer-chosen payload (CRC made valid, or torn on request), ticks
 * with time moving forward (or backward), VM stop/resume, link down/up,
 * snapshot completion, console lines, kernel trouble lines (console or
 * DMESG, from a small table of real report lines, so dedupe, OOM merging,
 * report continuations and the per-kind bound are reached), crash,
 * harness error and the VMM's exit; a HELLO that offers INSPECT (and names
 * an agent pid), and PROCESS_REPORTs that answer the INSPECTs the session
 * sent (or match none), with fuzzer-chosen states and counters, so stall
 * classes, request matching, guest stalls and their folding are reached;
 * the vCPU state probe in place of the progress probe on some inputs, and
 * on some a beat budget small enough to run out. Seeds of real kernel
 * reports and valid frames: tests/fuzz/seeds/. Every event is rendered to
 * JSON and so is the verdict. Invariants checked: the tracker counts stay
 * within capacity, stalls = recoveries + stalled + forgotten-while-stalled
 * is never negative, finish() is idempotent, the exit code is one the
 * documentation lists, the primary finding is fatal, and every evidence
 * line belongs to a kept finding, grouped in finding order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#include "fuzz_check.h"

static uint8_t frame[VIGIL_WIRE_HDR_LEN + 4096];

struct ctx {
	struct vigil_session *s;
	uint32_t last_snap;
	int snap_ret;
	uint64_t now;               /* the fake clock */
	uint32_t seq;               /* the guest's frame counter */
	struct vigil_inspect rq[8]; /* the last INSPECTs sent */
	uint32_t n_rq;
	uint64_t cpu, wait; /* the fake vCPUs */
};

static void sink(void *c, const struct vigil_event *ev)
{
	char *txt = NULL;

	(void)c;
	if (vigil_event_to_json(ev, &txt) >= 0)
		free(txt);
}

static int writer(void *c, const uint8_t *buf, size_t len)
{
	struct ctx *x = c;
	struct vigil_frame_hdr h = { 0 };

	CHECK(len >= VIGIL_WIRE_HDR_LEN);
	CHECK(vigil_frame_hdr_decode(buf, len, &h) == 0);
	if (h.type == VIGIL_MSG_INSPECT)
		CHECK(vigil_inspect_decode(buf + VIGIL_WIRE_HDR_LEN, h.len,
					   &x->rq[x->n_rq++ % 8]) == 0);
	return 0;
}

static int snap(void *c, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct ctx *x = c;

	(void)kind;
	(void)tag;
	x->last_snap = id;
	return x->snap_ret;
}

/* Report lines the fuzzer picks by index (it rarely writes them itself). */
static const char *const kernel_lines[] = {
	"[    5.120533] WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1",
	"WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1",
	"Modules linked in: foo",
	" <TASK>",
	"RAX: 0000000000000000 RBX: 0000000000000001",
	"---[ end trace 0000000000000000 ]---",
	"BUG: kernel NULL pointer dereference, address: 0000000000000008",
	"Oops: 0000 [#1] PREEMPT SMP NOPTI",
	"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=sort,pid=123,uid=0",
	"Out of memory: Killed process 123 (sort) total-vm:1kB",
	"INFO: task kworker/0:1:23 blocked for more than 122 seconds.",
	"watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [spin:95]",
	"rcu: INFO: rcu_sched detected stalls on CPUs/tasks:",
	"Kernel panic - not syncing: Fatal exception",
	"---[ end Kernel panic - not syncing: Fatal exception ]---",
	"systemd[1]: Started foo.",
	/* SLUB, lockdep, die() headers, register dumps, arm64, the caller id */
	"BUG kmalloc-64 (Not tainted): Poison overwritten",
	"BUG kmalloc-128 (Tainted: G    B             ): Redzone overwritten",
	"Object   0xffff888004a1c180: 6b 6b 6b 6b 6b 6b 6b 6b  kkkkkkkk",
	"WARNING: possible circular locking dependency detected",
	" *** DEADLOCK ***",
	"kernel BUG at mm/slub.c:379!",
	"invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
	"RIP: 0010:oops_init+0x11/0x1000 [oops]",
	"CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033",
	"CR2: 0000000000000008 CR3: 0000000003d5e000 CR4: 00000000000006f0",
	"Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000",
	"Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP",
	"sp : ffff80000802bd60",
	"x29: ffff80000802bd60 x28: 0000000000000000 x27: ffff800009a404d8",
	"[    5.120533][    T1] WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1",
	"<4>[    7.001000] INFO: task sync:77 blocked for more than 120 seconds.",
};

static void kernel_op(struct vigil_session *s, uint8_t arg, uint64_t now, uint32_t *seq)
{
	const char *l = kernel_lines[(arg >> 1) % (sizeof(kernel_lines) / sizeof(kernel_lines[0]))];
	size_t len = strlen(l);
	struct vigil_dmesg d = { .level = 4,
				 .text = (const uint8_t *)l,
				 .text_len = (uint32_t)len };
	int n;

	if (!(arg & 1)) {
		vigil_session_console_line(s, now, l, len);
		return;
	}
	n = vigil_dmesg_encode(frame + VIGIL_WIRE_HDR_LEN, sizeof(frame) - VIGIL_WIRE_HDR_LEN, &d);
	if (n < 0)
		return;
	n = vigil_frame_seal(frame, sizeof(frame), VIGIL_MSG_DMESG, (*seq)++, (size_t)n);
	if (n > 0)
		vigil_session_feed(s, frame, (size_t)n, now);
}

static void verdict_check(const struct vigil_verdict *v)
{
	uint32_t total = 0;

	CHECK(v->n_findings <= 64);
	CHECK(!v->primary || v->primary->fatal);
	CHECK((v->primary == NULL) == (v->outcome == VIGIL_OUTCOME_PASS));
	for (uint32_t i = 0; i < v->n_evidence; i++) {
		CHECK(v->evidence[i].finding < v->n_findings);
		CHECK(i == 0 || v->evidence[i - 1].finding <= v->evidence[i].finding);
	}
	for (uint32_t i = 0; i < v->n_findings; i++) {
		const struct vigil_evidence *e;

		total += vigil_verdict_finding_evidence(v, i, &e);
	}
	CHECK(total == v->n_evidence);
}

static int progress(void *c, uint64_t *cpu)
{
	(void)c;
	*cpu = 0;
	return 0;
}

static int vcpu_state(void *c, struct vigil_vcpu_state *st)
{
	struct ctx *x = c;

	st->cpu_ns = x->cpu;
	st->wait_ns = x->wait;
	st->stopped = (x->cpu & 3) == 3;
	return 0;
}

static void send(struct ctx *x, uint16_t type, int plen, uint32_t seq, uint64_t now)
{
	int n;

	if (plen < 0)
		return;
	n = vigil_frame_seal(frame, sizeof(frame), type, seq, (size_t)plen);
	if (n > 0)
		vigil_session_feed(x->s, frame, (size_t)n, now);
}

/* HELLO offering INSPECT or not, naming an agent pid (2 + arg / 4) or none. */
static void hello_op(struct ctx *x, uint8_t arg, uint64_t now, uint32_t *seq)
{
	struct vigil_hello h = { .proto_version = 1,
				 .capabilities = arg & 1 ? VIGIL_CAP_INSPECT : 0,
				 .agent_version = VIGIL_STR("f"),
				 .kernel_release = VIGIL_STR("k"),
				 .hostname = VIGIL_STR("h") };
	uint8_t *pl = frame + VIGIL_WIRE_HDR_LEN;
	size_t cap = sizeof(frame) - VIGIL_WIRE_HDR_LEN;

	send(x, VIGIL_MSG_HELLO,
	     arg & 2 ? vigil_hello_encode_agent_pid(pl, cap, &h, 2u + arg / 4u)
		     : vigil_hello_encode(pl, cap, &h),
	     arg & 4 ? 0 : (*seq)++, now);
}

/* A PROCESS_REPORT for a recent INSPECT (or an id none sent), its sample
 * from the input: state, status and counters. */
static void report_op(struct ctx *x, const uint8_t *d, size_t len, uint64_t now, uint32_t *seq)
{
	static const char states[] = "RSDTtZXIP?";
	static const int32_t statuses[] = { 0, 0, 0, 0, -3, -13, -16, -5 };
	struct vigil_process_report r = { .comm = VIGIL_STR("w"),
					  .wchan = VIGIL_STR("do_nanosleep"),
					  .stack = VIGIL_STR("[<0>] a\n[<0>] b\n") };
	uint8_t b[8] = { 0 };

	memcpy(b, d, len < 8 ? len : 8);
	if (x->n_rq && !(b[0] & 0x80)) {
		r.request_id = x->rq[b[0] % (x->n_rq < 8 ? x->n_rq : 8)].request_id;
		r.pid = x->rq[b[0] % (x->n_rq < 8 ? x->n_rq : 8)].pid + (b[1] == 0xff);
	} else {
		r.request_id = 1u + b[0];
		r.pid = 2u + b[1];
	}
	r.status = statuses[b[2] % 8];
	r.state = (uint8_t)states[b[3] % (sizeof(states) - 1)];
	r.policy = b[4] % 9;
	r.run_ns = (uint64_t)b[5] * 1000000;
	r.wait_ns = (uint64_t)b[6] * 1000000;
	r.timeslices = b[7];
	send(x, VIGIL_MSG_PROCESS_REPORT,
	     vigil_process_report_encode(frame + VIGIL_WIRE_HDR_LEN,
					 sizeof(frame) - VIGIL_WIRE_HDR_LEN, &r),
	     (*seq)++, now);
}

/* A sealed frame of the type the first byte picks (a host-to-guest one from
 * 0xf0 up), the rest its payload; op 2 tears it, op 3 makes a HELLO start
 * an epoch. The bytes it took. */
static size_t frame_op(struct ctx *x, uint8_t op, const uint8_t *d, size_t len)
{
	uint16_t type;
	int n;

	if (len < 1)
		return 0;
	type = d[0] % 0x14;
	if (d[0] >= 0xf0)
		type = (uint16_t)(0x8000 | (d[0] & 7));
	memcpy(frame + VIGIL_WIRE_HDR_LEN, d + 1, len - 1);
	n = vigil_frame_seal(frame, sizeof(frame), type,
			     op == 3 && type == VIGIL_MSG_HELLO ? 0 : x->seq++, len - 1);
	if (n > 0) {
		if (op == 2 && len > 1)
			frame[n - 1] ^= 1; /* torn */
		vigil_session_feed(x->s, frame, (size_t)n, x->now);
	}
	return len;
}

/* One operation of the program: op, its argument, and the input bytes
 * after them (len of them are its own if it takes any). The bytes it took. */
static size_t run_op(struct ctx *x, uint8_t op, uint8_t arg, const uint8_t *d, size_t len)
{
	switch (op % 16) {
	case 0: /* raw bytes */
		vigil_session_feed(x->s, d, len, x->now);
		return len;
	case 1:
	case 2:
	case 3:
		return frame_op(x, op, d, len);
	case 4:
		x->now += (uint64_t)arg * 100000;
		x->cpu += (uint64_t)(arg & 0x0f) * 100000;
		x->wait += (uint64_t)(arg >> 4) * 100000;
		vigil_session_tick(x->s, x->now);
		break;
	case 5:
		vigil_session_tick(x->s, x->now - arg); /* a regression */
		break;
	case 6:
		if (arg & 1)
			vigil_session_vm_stopped(x->s, x->now);
		else
			vigil_session_vm_resumed(x->s, x->now);
		break;
	case 7:
		if (arg & 1)
			vigil_session_link_down(x->s, x->now);
		else
			vigil_session_link_up(x->s, x->now);
		break;
	case 8:
		vigil_session_snapshot_done(x->s, arg & 1 ? x->last_snap : arg, -(int)(arg % 5),
					    "detail", x->now);
		x->snap_ret = arg & 2 ? -5 : 0;
		break;
	case 9:
		vigil_session_console_line(x->s, x->now, (const char *)d, len);
		return len;
	case 10:
		if (arg == 0xc3)
			vigil_session_guest_crashed(x->s, x->now, "panic");
		else if (arg == 0xe4)
			vigil_session_harness_error(x->s, x->now, "error");
		else
			vigil_session_request_shutdown(x->s, x->now);
		break;
	case 11:
		x->now += (uint64_t)arg * 10000000;
		vigil_session_tick(x->s, x->now);
		break;
	case 12:
		kernel_op(x->s, arg, x->now, &x->seq);
		break;
	case 14:
		hello_op(x, arg, x->now, &x->seq);
		break;
	case 15:
		report_op(x, d, len, x->now, &x->seq);
		return len;
	case 13: /* the VMM's exit, its stderr from the input */
		memcpy(frame, d, len);
		frame[len] = 0;
		vigil_session_vmm_exited(x->s, x->now, arg & 0x80 ? -1 : arg, arg & 0x1f,
					 len ? (const char *)frame : NULL);
		return len;
	}

	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx x = { .now = 1000000000ull };
	VIGIL_SESSION_OPTS(o, .tracker_capacity = 64, .flow_capacity = 16, .max_scenarios = 4,
			   .max_tests = 4, .evidence_lines = 4, .stall_threshold_ns = 1000000,
			   .workload_duration_ns = 50000000, .boot_timeout_ns = 500000000,
			   .on_stall = size & 1 ? VIGIL_ON_STALL_FAIL : VIGIL_ON_STALL_WARN,
			   .beat_rate_per_s = size & 2 ? 1000 : 0, .beat_burst = 16,
			   .fail_on = size & 4 ? (1u << VIGIL_KT_OOPS | 1u << VIGIL_KT_OOM) : 0,
			   .mode = size & 8 ? VIGIL_MODE_WATCH : VIGIL_MODE_RUN,
			   /* EXIT answered with SHUTDOWN, or not (attach) */
			   .ack_exit = size & 16, .inspect_rate_per_s = size & 64 ? 2 : 8);
	struct vigil_session_hooks h = {
		.sink = { sink, &x },
		.writer = { writer, &x },
		.snapshot = { snap, &x },
		.progress = { progress, &x },
	};
	size_t i = 0;

	if (vigil_session_new(&o, &h, x.now, &x.s) < 0)
		return 0;
	if (size & 32) {
		struct vigil_vcpu_state_probe sp = { vcpu_state, &x };

		CHECK(vigil_session_set_vcpu_state_probe(x.s, &sp) == 0);
	}
	while (i + 2 <= size) {
		uint8_t op = data[i++];
		uint8_t arg = data[i++];
		size_t len = arg;

		if (len > size - i)
			len = size - i;
		i += run_op(&x, op, arg, data + i, len);
		VIGIL_SESSION_COUNTERS(c);

		vigil_session_counters(x.s, &c);
		CHECK(c.tracker.tracked <= 64);
		CHECK(c.tracker.stalled <= c.tracker.tracked);
		CHECK(c.tracker.stalls >= c.tracker.recoveries + c.tracker.stalled);
		CHECK(c.flows.in_table <= 16 && c.flows.open_now <= c.flows.in_table);
		CHECK(c.inspect.reports <= c.inspect.sent);
		CHECK(c.inspect.classified <= c.tracker.stalls);
		CHECK(c.inspect.busy <= c.inspect.reports);
	}

	const struct vigil_verdict *v = vigil_session_finish(x.s, x.now);
	char *txt = NULL;
	char line[256];
	int code = vigil_verdict_exit_code(v);

	CHECK(vigil_session_finish(x.s, x.now + 1) == v);
	CHECK(code >= 0 && code <= 127);
	CHECK(v->n_scenarios <= 4 && v->n_tests <= 4);
	verdict_check(v);
	if (vigil_verdict_to_json(v, 0, &txt) >= 0)
		free(txt);
	vigil_verdict_summary(v, line, sizeof(line));
	vigil_session_free(x.s);
	return 0;
}
