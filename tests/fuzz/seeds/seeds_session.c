/* SPDX-License-Identifier: MIT */
/*
 * vigil-fuzz-seeds (see seeds.h): programs for fuzz-session (its input format is
 * in tests/fuzz/fuzz_session.c: op, arg, then arg bytes for the ops that
 * take bytes). Kernel reports as a 6.1 guest prints them (SLUB, lockdep,
 * x86 and arm64 Oopses with their register dumps, BUG() folding its
 * Oops, the printk caller id), sent as console lines and DMESG frames, and
 * valid FLOW, AGENT_STATS, SCHED_EXIT, TEST_RESULT and BEAT frames from
 * libvigil-wire's encoders. The input's size picks session options
 * (fuzz_session.c): finish() pads each program to the size that selects
 * the ones it needs.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seeds.h"

enum {
	OP_FRAME = 1,   /* bytes: type byte, then the payload */
	OP_CONSOLE = 9, /* bytes: one console line */
};
enum {
	OPT_BEAT_RATE = 2, /* 1000 beats/s, a burst of 16 */
	OPT_FAIL_ON = 4,   /* --fail-on oops,oom */
};

static void op_bytes(struct seed *s, uint8_t op, const void *d, size_t n)
{
	uint8_t h[2] = { op, (uint8_t)n };

	if (n > 255)
		seed_fail("a session op takes at most 255 bytes");
	seed_put(s, h, 2);
	seed_put(s, d, n);
}

static void frame(struct seed *s, uint16_t type, const uint8_t *pl, int n)
{
	uint8_t b[256];

	if (n < 0 || n > 254)
		seed_fail("a session frame op's payload is 0 to 254 bytes");
	b[0] = (uint8_t)type;
	memcpy(b + 1, pl, (size_t)n);
	op_bytes(s, OP_FRAME, b, (size_t)n + 1);
}

static void dmesg(struct seed *s, const char *line, uint64_t kseq)
{
	struct vigil_dmesg d = { .level = 4,
				 .kmsg_seq = kseq,
				 .ts_us = 5120533 + kseq,
				 .text = (const uint8_t *)line,
				 .text_len = (uint32_t)strlen(line) };
	uint8_t pl[256];

	frame(s, VIGIL_MSG_DMESG, pl, vigil_dmesg_encode(pl, sizeof(pl), &d));
}

/* Lines to the console; with both, each also as a DMESG record. */
static void report(struct seed *s, const char *const *lines, bool both)
{
	for (uint64_t i = 0; lines[i]; i++) {
		op_bytes(s, OP_CONSOLE, lines[i], strlen(lines[i]));
		if (both)
			dmesg(s, lines[i], i);
	}
}

/* Pad with no-op bytes (op 0 of no bytes) to a size that selects opts. */
static void finish(struct seed *s, unsigned opts, const char *name)
{
	static const uint8_t zero[128];

	seed_put(s, zero, (opts - s->len % 128 + 128) % 128);
	seed_write("session", name, s);
}

static const char *const slub[] = {
	"=============================================================================",
	"BUG kmalloc-64 (Not tainted): Poison overwritten",
	"-----------------------------------------------------------------------------",
	"",
	"0xffff888004a1c1a8-0xffff888004a1c1a8 @offset=424. First byte 0x0 instead of 0x6b",
	"Allocated in kmalloc_uaf2+0x44/0x150 age=13 cpu=0 pid=1",
	" __kmem_cache_alloc_node+0x2c9/0x3e0",
	"Slab 0xffffea0000128700 objects=21 used=21 fp=0x0000000000000000 "
	"flags=0x100000000000200(slab|node=0|zone=1)",
	"Object   0xffff888004a1c180: 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b  "
	"kkkkkkkkkkkkkkkk",
	"Redzone  0xffff888004a1c1c0: bb bb bb bb bb bb bb bb                          ........",
	"Padding  0xffff888004a1c1f4: 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a              "
	"ZZZZZZZZZZZZ",
	"CPU: 0 PID: 1 Comm: swapper/0 Tainted: G    B              6.1.0 #1",
	"Call Trace:",
	" <TASK>",
	" check_bytes_and_report.cold+0x57/0x89",
	" </TASK>",
	"FIX kmalloc-64: Restoring Poison 0xffff888004a1c1a8-0xffff888004a1c1a8=0x6b",
	"BUG kmalloc-128 (Tainted: G    B             ): Redzone overwritten",
	"BUG kmalloc-128 left a mark",  /* not a SLUB report: no " (" */
	"BUG  (Not tainted): no cache", /* not one either: no cache name */
	/* not one either: a cache name past the 64 characters kernel.c looks at */
	"BUG xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx (Tainted)",
	NULL,
};

static const char *const lockdep[] = {
	"======================================================",
	"WARNING: possible circular locking dependency detected",
	"6.1.0 #1 Not tainted",
	"------------------------------------------------------",
	"kworker/0:1/23 is trying to acquire lock:",
	"ffff888003c2a0b8 (&dev->mutex){+.+.}-{3:3}, at: foo_work+0x20/0x60",
	"",
	"but task is already holding lock:",
	"other info that might help us debug this:",
	" Possible unsafe locking scenario:",
	"       CPU0                    CPU1",
	" *** DEADLOCK ***",
	"stack backtrace:",
	"CPU: 0 PID: 23 Comm: kworker/0:1 Not tainted 6.1.0 #1",
	"Call Trace:",
	"INFO: lockdep is turned off.",
	"WARNING: suspicious RCU usage",
	"WARNING: bad unlock balance detected!",
	NULL,
};

static const char *const oops_x86[] = {
	"BUG: kernel NULL pointer dereference, address: 0000000000000008",
	"#PF: supervisor read access in kernel mode",
	"PGD 0 P4D 0 ",
	"Oops: 0000 [#1] PREEMPT SMP NOPTI",
	"CPU: 0 PID: 95 Comm: insmod Not tainted 6.1.0 #1",
	"Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 "
	"04/01/2014",
	"RIP: 0010:oops_init+0x11/0x1000 [oops]",
	"Code: Unable to access opcode bytes at 0xffffffffc0004fe7.",
	"RSP: 0018:ffffc900001cbd80 EFLAGS: 00010246",
	"RAX: 0000000000000000 RBX: 0000000000000000 RCX: 0000000000000000",
	"R13: 0000000000000000 R14: ffffc900001cbe68 R15: 0000000000000000",
	"FS:  00007f2f1ad35740(0000) GS:ffff88803ec00000(0000) knlGS:0000000000000000",
	"CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033",
	"CR2: 0000000000000008 CR3: 0000000003d5e000 CR4: 00000000000006f0",
	"DR0: 0000000000000000 DR1: 0000000000000000 DR2: 0000000000000000",
	"DR3: 0000000000000000 DR6: 00000000fffe0ff0 DR7: 0000000000000400",
	"PKRU: 55555554",
	"Call Trace:",
	" <TASK>",
	" do_one_initcall+0x41/0x200",
	" </TASK>",
	"Modules linked in: oops(+)",
	"CR2: 0000000000000008",
	"---[ end trace 0000000000000000 ]---",
	NULL,
};

static const char *const oops_arm64[] = {
	"Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000",
	"Mem abort info:",
	"  ESR = 0x0000000096000005",
	"Data abort info:",
	"user pgtable: 4k pages, 48-bit VAs, pgdp=0000000041b9e000",
	"[0000000000000000] pgd=0000000000000000, p4d=0000000000000000",
	"Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP",
	"Modules linked in:",
	"CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1",
	"Hardware name: linux,dummy-virt (DT)",
	"pstate: 60000005 (nZCv daif -PAN -UAO -TCO -DIT -SSBS BTYPE=--)",
	"pc : foo_probe+0x1c/0x40",
	"lr : foo_probe+0x14/0x40",
	"sp : ffff80000802bd60",
	"x29: ffff80000802bd60 x28: 0000000000000000 x27: ffff800009a404d8",
	"x2 : 0000000000000000 x1 : 0000000000000000 x0 : 0000000000000000",
	"Call trace:",
	" foo_probe+0x1c/0x40",
	"Code: 52800020 d65f03c0 d503233f a9bf7bfd (b9400000) ",
	"---[ end trace 0000000000000000 ]---",
	"Kernel panic - not syncing: Oops: Fatal exception",
	NULL,
};

/* BUG() then its die() header: one trouble unless --fail-on takes the Oops alone. */
static const char *const bug_oops[] = {
	"------------[ cut here ]------------",
	"kernel BUG at mm/slub.c:379!",
	"invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
	"CPU: 1 PID: 230 Comm: modprobe Not tainted 6.1.0 #1",
	"RIP: 0010:__slab_free+0x1f7/0x2f0",
	"general protection fault, probably for non-canonical address 0xdead000000000122: 0000 "
	"[#2] PREEMPT SMP NOPTI",
	"stack segment: 0000 [#3] SMP",
	"double fault: 12 [#4] SMP",          /* too few hex digits for a die() header */
	"list_add corruption [#x] of a list", /* " [#" without its number */
	"[    1.000000] sysrq: HELP : loglevel(0-9) [#]",
	NULL,
};

/* The printk prefixes: the syslog level, the timestamp and the caller id. */
static const char *const prefixes[] = {
	"[    5.120533][    T1] WARNING: CPU: 0 PID: 1 at kernel/foo.c:12 foo_init+0x1/0x2",
	"[    5.120600][    T1] Modules linked in:",
	"[    6.000000][    C0] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [spin:95]",
	"[    6.000100][    X0] not a caller id",
	"[    6.000200][    T] not one either",
	"[    6.000300][ T12 ] nor this",
	"<4>[    7.001000] INFO: task sync:77 blocked for more than 120 seconds.",
	"<6>[    7.001100] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
	"Out of memory: Killed process 4294967296 (huge) total-vm:1kB, anon-rss:0kB",
	"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=huge,pid=99999999999,uid=0",
	NULL,
};

/* A WARNING whose report runs past the lines a splat is looked at for. */
static void long_splat(struct seed *s)
{
	static const char warn[] = "WARNING: CPU: 1 PID: 400 at mm/page_alloc.c:5525 "
				   "__alloc_pages+0x2dc/0x350";
	char line[96];

	op_bytes(s, OP_CONSOLE, warn, strlen(warn));
	for (int i = 0; i < 70; i++) {
		int n =
		    snprintf(line, sizeof(line), " ? stress_func_%02d+0x%x/0x200", i, 16 * i + 4);

		op_bytes(s, OP_CONSOLE, line, (size_t)n);
	}
	op_bytes(s, OP_CONSOLE, "---[ end trace 0000000000000000 ]---", 35);
}

static void kernel_reports(void)
{
	struct seed s = { 0 };

	report(&s, slub, true);
	finish(&s, 0, "kernel-slub");
	report(&s, lockdep, false);
	finish(&s, 0, "kernel-lockdep");
	report(&s, oops_x86, true);
	finish(&s, 0, "kernel-oops-x86");
	report(&s, oops_arm64, false);
	finish(&s, 0, "kernel-oops-arm64");
	report(&s, bug_oops, false);
	finish(&s, OPT_FAIL_ON, "kernel-bug-oops");
	report(&s, prefixes, true);
	finish(&s, 0, "kernel-prefixes");
	long_splat(&s);
	finish(&s, 0, "kernel-long-splat");
	free(s.p);
}

/* ---- frames -------------------------------------------------------------- */

static struct vigil_flow flow_of(uint8_t family, uint8_t proto, uint8_t ev, uint16_t sport)
{
	struct vigil_flow f = { .family = family,
				.protocol = proto,
				.event = ev,
				.verdict = 1,
				.src_port = sport,
				.dst_port = proto == 17 ? 53 : 443,
				.first_seen_ns = 1000000,
				.bytes = 4096,
				.packets = 9,
				.pid = 300 };

	f.src_addr[0] = family == 4 ? 10 : 0xfd;
	f.src_addr[family == 4 ? 3 : 15] = 15;
	f.dst_addr[0] = family == 4 ? 10 : 0xfd;
	f.dst_addr[family == 4 ? 3 : 15] = 2;
	return f;
}

static void flow_frame(struct seed *s, const struct vigil_flow *f, size_t n)
{
	uint8_t pl[256];

	frame(s, VIGIL_MSG_FLOW, pl, vigil_flows_encode(pl, sizeof(pl), f, n));
}

/* Flows opened, active, closed, closed unseen, and more than the table holds (16). */
static void flows(void)
{
	struct seed s = { 0 };
	struct vigil_flow f[3] = { flow_of(4, 6, VIGIL_FLOW_OPENED, 41000),
				   flow_of(6, 17, VIGIL_FLOW_ACTIVE, 41001),
				   flow_of(4, 6, VIGIL_FLOW_CLOSED, 41002) };

	flow_frame(&s, f, 3);
	f[0].event = VIGIL_FLOW_ACTIVE;
	f[0].bytes *= 2;
	f[1].event = VIGIL_FLOW_ACTIVE;
	flow_frame(&s, f, 2);
	f[0].event = f[1].event = VIGIL_FLOW_CLOSED;
	flow_frame(&s, f, 3);
	for (uint16_t p = 0; p < 18; p += 3) {
		for (int i = 0; i < 3; i++)
			f[i] = flow_of(i == 1 ? 6 : 4, i == 2 ? 17 : 6, VIGIL_FLOW_OPENED,
				       (uint16_t)(50000 + p + i));
		flow_frame(&s, f, 3);
	}
	finish(&s, 0, "frames-flow");
	free(s.p);
}

static void stats_and_exits(void)
{
	uint64_t v[10] = { 1200, 3, 4096, 800, 2, 17, 250, 1, 7, 9 };
	struct vigil_sched_exit se = { .exit_code = 0,
				       .kind = VIGIL_SCX_ERROR_STALL,
				       .reason = VIGIL_STR("runnable task stall (kworker/0:1[23] "
							   "failed to run for 30.1s)") };
	struct seed s = { 0 };
	uint8_t pl[256];

	frame(&s, VIGIL_MSG_AGENT_STATS, pl,
	      vigil_agent_stats_encode(pl, sizeof(pl), v, VIGIL_STAT__KNOWN));
	frame(&s, VIGIL_MSG_AGENT_STATS, pl, vigil_agent_stats_encode(pl, sizeof(pl), v, 10));
	frame(&s, VIGIL_MSG_SCHED_EXIT, pl, vigil_sched_exit_encode(pl, sizeof(pl), &se));
	se.kind = VIGIL_SCX_UNREG;
	frame(&s, VIGIL_MSG_SCHED_EXIT, pl, vigil_sched_exit_encode(pl, sizeof(pl), &se));
	finish(&s, 0, "frames-stats-sched-exit");

	for (int i = 0; i < 6; i++) { /* more than the session keeps (4) */
		struct vigil_test_result t = { .outcome = (uint8_t)(i % 4),
					       .duration_ns = 1000000u * (unsigned)i,
					       .name = VIGIL_STR("net/udp_gro"),
					       .message = VIGIL_STR("ok") };

		frame(&s, VIGIL_MSG_TEST_RESULT, pl, vigil_test_result_encode(pl, sizeof(pl), &t));
	}
	finish(&s, 0, "frames-test-results");
	free(s.p);
}

/* BEAT frames of 6 records, faster than 1000/s with a burst of 16. */
static void beats(void)
{
	struct seed s = { 0 };
	struct vigil_beat b[6];
	uint8_t pl[256];

	for (uint32_t k = 0; k < 8; k++) {
		for (uint32_t i = 0; i < 6; i++)
			b[i] = (struct vigil_beat){ .pid = 100 + i,
						    .nonce = k,
						    .guest_mono_ns = 1000000ull * k,
						    .status = VIGIL_BEAT_OK };
		frame(&s, VIGIL_MSG_BEAT, pl, vigil_beats_encode(pl, sizeof(pl), b, 6));
	}
	finish(&s, OPT_BEAT_RATE, "frames-beats-throttled");
	free(s.p);
}

void seeds_session(void)
{
	kernel_reports();
	flows();
	stats_and_exits();
	beats();
}
