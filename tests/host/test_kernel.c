/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/kernel.c: the classifier on real kernel 6.1 log lines
 * of every kind (with and without printk timestamps, console and kmsg
 * forms), lines that must not match (a workload's "WARNING: low disk", BUG
 * inside a word, the lines around a report), names and their parser, and
 * the tracker: console/DMESG dedupe, the report's lines, one OOM kill per
 * victim, the per-kind bound, an Oops inside a BUG's report, panic lines
 * after a crash.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kernel.h"

struct vec {
	const char *line;
	enum vigil_kernel_trouble kind;
};

/* Real formats (kernel 6.1 unless noted), as the console or kmsg shows them. */
static const struct vec real[] = {
	{ "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
	  VIGIL_KT_PANIC },
	{ "[    2.861047] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100",
	  VIGIL_KT_PANIC },
	{ "[   31.022102] ---[ end Kernel panic - not syncing: Fatal exception ]---",
	  VIGIL_KT_PANIC },
	{ "Kernel panic - not syncing: Out of memory and no killable processes...",
	  VIGIL_KT_PANIC },
	{ "[   18.313870] Oops: 0002 [#1] PREEMPT SMP NOPTI", VIGIL_KT_OOPS },
	{ "general protection fault, probably for non-canonical address 0xdead000000000122: "
	  "0000 [#1] PREEMPT SMP NOPTI",
	  VIGIL_KT_OOPS },
	{ "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI", VIGIL_KT_OOPS },
	{ "divide error: 0000 [#1] PREEMPT SMP NOPTI", VIGIL_KT_OOPS },
	{ "Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP", VIGIL_KT_OOPS }, /* arm64 */
	{ "[   18.313421] BUG: kernel NULL pointer dereference, address: 0000000000000008",
	  VIGIL_KT_BUG },
	{ "BUG: unable to handle page fault for address: ffffffffc0a01000", VIGIL_KT_BUG },
	{ "kernel BUG at mm/slub.c:4350!", VIGIL_KT_BUG },
	{ "BUG: scheduling while atomic: swapper/0/0/0x00000002", VIGIL_KT_BUG },
	{ "BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580",
	  VIGIL_KT_BUG },
	{ "BUG: KASAN: slab-out-of-bounds in foo_write+0x5c/0x90 [foo]", VIGIL_KT_BUG },
	{ "BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 31s!",
	  VIGIL_KT_BUG },
	{ "BUG kmalloc-64 (Not tainted): Poison overwritten", VIGIL_KT_BUG },
	{ "BUG kmalloc-128 (Tainted: G    B             ): Redzone overwritten", VIGIL_KT_BUG },
	{ "UBSAN: array-index-out-of-bounds in drivers/foo/bar.c:123:45", VIGIL_KT_BUG },
	{ "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000",
	  VIGIL_KT_BUG }, /* arm64 */
	{ "[    5.120533] WARNING: CPU: 0 PID: 1 at kernel/workqueue.c:1438 "
	  "__queue_work+0x3b1/0x4c0",
	  VIGIL_KT_WARNING },
	{ "WARNING: CPU: 3 PID: 1234 at net/core/dev.c:10330 netdev_run_todo+0x2c7/0x2e0",
	  VIGIL_KT_WARNING },
	{ "WARNING: CPU: 1 PID: 0 at drivers/foo.c:12", VIGIL_KT_WARNING },
	{ "WARNING: possible circular locking dependency detected", VIGIL_KT_WARNING },
	{ "WARNING: suspicious RCU usage", VIGIL_KT_WARNING },
	{ "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected", VIGIL_KT_WARNING },
	{ "[   40.118270] Out of memory: Killed process 123 (sort) total-vm:1052444kB, "
	  "anon-rss:1034764kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:2096kB "
	  "oom_score_adj:0",
	  VIGIL_KT_OOM },
	{ "Memory cgroup out of memory: Killed process 4567 (stress) total-vm:264964kB, "
	  "anon-rss:262144kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:560kB "
	  "oom_score_adj:0",
	  VIGIL_KT_OOM },
	{ "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
	  "global_oom,task_memcg=/,task=sort,pid=123,uid=0",
	  VIGIL_KT_OOM },
	{ "[  245.780147] INFO: task kworker/0:1:23 blocked for more than 122 seconds.",
	  VIGIL_KT_HUNG_TASK },
	{ "INFO: task jbd2/vda1-8:117 blocked for more than 120 seconds.", VIGIL_KT_HUNG_TASK },
	{ "[   56.101934] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [spin:95]",
	  VIGIL_KT_SOFT_LOCKUP },
	{ "NMI watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [kworker/1:1:36]",
	  VIGIL_KT_SOFT_LOCKUP },                                                  /* 4.x */
	{ "BUG: soft lockup - CPU#0 stuck for 22s! [x:1]", VIGIL_KT_SOFT_LOCKUP }, /* 3.x */
	{ "watchdog: Watchdog detected hard LOCKUP on cpu 1", VIGIL_KT_SOFT_LOCKUP },
	{ "[   84.529170] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:",
	  VIGIL_KT_RCU_STALL },
	{ "rcu: INFO: rcu_preempt self-detected stall on CPU", VIGIL_KT_RCU_STALL },
	{ "rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 1-... } 21002 "
	  "jiffies s: 389 root: 0x2/.",
	  VIGIL_KT_RCU_STALL },
	{ "INFO: rcu_sched self-detected stall on CPU", VIGIL_KT_RCU_STALL }, /* 4.x */
	{ "INFO: rcu_tasks detected stalls on tasks:", VIGIL_KT_RCU_STALL },
	/* prefixes the classifier skips */
	{ "[   12.345678] [    T1] WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1", VIGIL_KT_WARNING },
	{ "<4>[   12.345678] WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1", VIGIL_KT_WARNING },
	{ "[ 3.5] Oops: 0000 [#1] SMP\r\n", VIGIL_KT_OOPS },
};

/* Lines that are not kernel trouble, some of them close to it. */
static const char *const not_trouble[] = {
	"WARNING: low disk space on /var",
	"WARNING: CPU: high load",
	"DEBUG: starting worker",
	"DEBUGBUG: x",
	"myBUG: in the middle of a word",
	"BUGS: 3 open",
	"test output: WARNING: CPU: 0 PID: 1 at x.c:1 f",
	"worker says Kernel panic - not syncing: no",
	"Kernel panic",
	"------------[ cut here ]------------",
	("sort invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, "
	 "oom_score_adj=0"),
	"oom_reaper: reaped process 123 (sort), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
	"Out of memory",
	"rcu: Hierarchical RCU implementation.",
	"rcu: INFO: nothing detected here",
	"INFO: task foo:1 is fine",
	"Oopsie: a workload",
	"[    0.000000] Linux version 6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org)",
	"soft lockup detector enabled",
	"CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1",
	"Call Trace:",
	" <TASK>",
	"",
	"[   12.345678] ",
	"[   12.345678]",
	"[",
	"\xff\xfe\x00BUG: x",
};

static void test_real_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		enum vigil_kernel_trouble k =
		    vigil_kernel_line_classify(real[i].line, strlen(real[i].line));

		if (k != real[i].kind)
			fail_msg("'%s': %s, want %s", real[i].line, vigil_kernel_trouble_name(k),
				 vigil_kernel_trouble_name(real[i].kind));
	}
}

static void test_not_trouble(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(not_trouble) / sizeof(not_trouble[0]); i++) {
		const char *l = not_trouble[i];
		size_t len = strlen(l);

		if (l[0] == '\xff')
			len = 8; /* with its NUL byte */
		if (vigil_kernel_line_classify(l, len) != VIGIL_KT_NONE)
			fail_msg("'%s' classified as trouble", l);
	}
	assert_int_equal(vigil_kernel_line_classify(NULL, 5), VIGIL_KT_NONE);
}

/* Every length of a trouble line: only the whole pattern matches, and no
 * read goes past len (ASan). */
static void test_lengths(void **state)
{
	static const char l[] = "[    1.000000] Oops: 0002 [#1] PREEMPT SMP NOPTI";

	(void)state;
	for (size_t n = 0; n <= sizeof(l) - 1; n++) {
		char *copy = test_malloc(n ? n : 1);
		enum vigil_kernel_trouble k;

		memcpy(copy, l, n);
		k = vigil_kernel_line_classify(copy, n);
		assert_int_equal(k, n >= 20 ? VIGIL_KT_OOPS : VIGIL_KT_NONE);
		test_free(copy);
	}
}

static void test_strip(void **state)
{
	size_t n, off;

	(void)state;
	off = kt_strip("[   12.345678] hello\r\n", 22, &n);
	assert_int_equal(off, 15);
	assert_int_equal(n, 5);
	off = kt_strip("[    0.1] [  C12] x", 19, &n);
	assert_int_equal(off, 18);
	assert_int_equal(n, 1);
	/* Not a timestamp: kept. */
	off = kt_strip("[  pid  ]   uid  tgid", 21, &n);
	assert_int_equal(off, 0);
	assert_int_equal(n, 21);
	off = kt_strip("  indented  ", 12, &n);
	assert_int_equal(off, 0);
	assert_int_equal(n, 10);
}

static void test_names(void **state)
{
	static const char *const names[] = { "none",      "panic",       "oops",
					     "bug",       "warning",     "oom",
					     "hung_task", "soft_lockup", "rcu_stall" };

	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), VIGIL_KT__COUNT);
	for (int k = 0; k < VIGIL_KT__COUNT; k++) {
		assert_string_equal(vigil_kernel_trouble_name((enum vigil_kernel_trouble)k),
				    names[k]);
		assert_int_equal(vigil_kernel_trouble_parse(names[k], strlen(names[k])), k);
	}
	assert_string_equal(vigil_kernel_trouble_name((enum vigil_kernel_trouble)99), "none");
	assert_int_equal(vigil_kernel_trouble_parse("hung-task", 9), VIGIL_KT_HUNG_TASK);
	assert_int_equal(vigil_kernel_trouble_parse("Soft-Lockup", 11), VIGIL_KT_SOFT_LOCKUP);
	assert_int_equal(vigil_kernel_trouble_parse("oopsx", 4), VIGIL_KT_OOPS); /* len rules */
	assert_int_equal(vigil_kernel_trouble_parse("oops", 3), -EINVAL);
	assert_int_equal(vigil_kernel_trouble_parse("oopsx", 5), -EINVAL);
	assert_int_equal(vigil_kernel_trouble_parse("", 0), -EINVAL);
	assert_int_equal(vigil_kernel_trouble_parse(NULL, 0), -EINVAL);
	assert_int_equal(vigil_kernel_trouble_parse("rcu stall", 9), -EINVAL);
}

/* ---- the tracker ------------------------------------------------------- */

static enum ktr_act line(struct ktr *k, enum ktr_src src, const char *l, struct ktr_res *r)
{
	ktr_line(k, src, l, strlen(l), r);
	return r->act;
}

static void test_dedupe(void **state)
{
	static const char w[] = "WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1";
	struct ktr k;
	struct ktr_res r;

	(void)state;
	ktr_init(&k, 0);
	assert_int_equal(line(&k, KTR_CONSOLE,
			      "[    5.120533] WARNING: CPU: 0 PID: 1 at a.c:1 "
			      "f+0x0/0x1",
			      &r),
			 KTR_OPEN);
	assert_int_equal(r.kind, VIGIL_KT_WARNING);
	assert_int_equal(r.len, sizeof(w) - 1);
	assert_memory_equal(r.body, w, r.len);
	ktr_opened(&k, KTR_CONSOLE, &r, 1);
	/* The same report from the other source: one trouble. */
	assert_int_equal(line(&k, KTR_DMESG, w, &r), KTR_DUP);
	/* The same line again on one source is a second trouble, and its
	 * twin on the other source is a duplicate again. */
	assert_int_equal(line(&k, KTR_DMESG, w, &r), KTR_OPEN);
	ktr_opened(&k, KTR_DMESG, &r, 2);
	assert_int_equal(line(&k, KTR_CONSOLE, w, &r), KTR_DUP);
	assert_int_equal(line(&k, KTR_CONSOLE, w, &r), KTR_OPEN);
}

static void test_splat(void **state)
{
	struct ktr k;
	struct ktr_res r;
	char frame[32];
	uint32_t kept = 0;

	(void)state;
	ktr_init(&k, 0);
	assert_int_equal(line(&k, KTR_DMESG, "WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1", &r),
			 KTR_OPEN);
	ktr_opened(&k, KTR_DMESG, &r, 7);
	assert_int_equal(line(&k, KTR_DMESG, "Modules linked in: foo", &r), KTR_EVIDENCE);
	assert_int_equal(r.id, 7);
	assert_int_equal(line(&k, KTR_DMESG, "RIP: 0010:f+0x0/0x1", &r), KTR_EVIDENCE);
	/* The register dump is part of it, not worth a line. */
	assert_int_equal(line(&k, KTR_DMESG, "RAX: 0000000000000000 RBX: ffff888003a0e000", &r),
			 KTR_SKIP);
	assert_int_equal(line(&k, KTR_DMESG, "Code: 48 89 e5 0f 0b", &r), KTR_SKIP);
	/* The console's lines are not this report's. */
	assert_int_equal(line(&k, KTR_CONSOLE, "Call Trace:", &r), KTR_SKIP);
	assert_int_equal(line(&k, KTR_DMESG, "Call Trace:", &r), KTR_EVIDENCE);
	kept = 4; /* the trouble line and three */
	for (int i = 0; i < 30; i++) {
		snprintf(frame, sizeof(frame), " func%d+0x1/0x2", i);
		if (line(&k, KTR_DMESG, frame, &r) == KTR_EVIDENCE)
			kept++;
	}
	assert_int_equal(kept, KTR_SPLAT_LINES);
	/* Past the bound the report is still read, not kept, to its end. */
	assert_int_equal(line(&k, KTR_DMESG, "---[ end trace 0000000000000000 ]---", &r), KTR_SKIP);
	ktr_init(&k, 0);
	line(&k, KTR_DMESG, "WARNING: CPU: 0 PID: 1 at a.c:1 f+0x0/0x1", &r);
	ktr_opened(&k, KTR_DMESG, &r, 8);
	assert_int_equal(line(&k, KTR_DMESG, "---[ end trace 0000000000000000 ]---", &r),
			 KTR_EVIDENCE);
	assert_int_equal(line(&k, KTR_DMESG, " more", &r), KTR_SKIP);
	line(&k, KTR_DMESG, "WARNING: CPU: 0 PID: 2 at a.c:1 f+0x0/0x1", &r);
	ktr_opened(&k, KTR_DMESG, &r, 9);
	assert_int_equal(line(&k, KTR_DMESG, "EXT4-fs (vda): mounted filesystem", &r), KTR_SKIP);
	assert_int_equal(line(&k, KTR_DMESG, " <TASK>", &r), KTR_SKIP);
}

static void test_oom_one_kill(void **state)
{
	static const char kill[] = "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
				   "mems_allowed=0,global_oom,task_memcg=/,task=sort,pid=123,uid=0";
	static const char killed[] = "Out of memory: Killed process 123 (sort) total-vm:1052444kB, "
				     "anon-rss:1034764kB, file-rss:4kB, shmem-rss:0kB, UID:0 "
				     "pgtables:2096kB oom_score_adj:0";
	struct ktr k;
	struct ktr_res r;
	char con[300];

	(void)state;
	ktr_init(&k, 0);
	assert_int_equal(line(&k, KTR_DMESG, kill, &r), KTR_OPEN);
	assert_int_equal(r.pid, 123);
	ktr_opened(&k, KTR_DMESG, &r, 5);
	assert_int_equal(line(&k, KTR_DMESG, killed, &r), KTR_EVIDENCE);
	assert_int_equal(r.id, 5);
	assert_true(r.better_detail);
	snprintf(con, sizeof(con), "[   40.118270] %s", killed);
	assert_int_equal(line(&k, KTR_CONSOLE, con, &r), KTR_DUP);
	assert_int_equal(line(&k, KTR_DMESG,
			      "oom_reaper: reaped process 123 (sort), now "
			      "anon-rss:0kB",
			      &r),
			 KTR_EVIDENCE);
	/* The console first, then the kmsg lines: still one kill. */
	ktr_init(&k, 0);
	assert_int_equal(line(&k, KTR_CONSOLE, con, &r), KTR_OPEN);
	ktr_opened(&k, KTR_CONSOLE, &r, 6);
	assert_int_equal(line(&k, KTR_DMESG, kill, &r), KTR_EVIDENCE);
	assert_false(r.better_detail);
	assert_int_equal(line(&k, KTR_DMESG, killed, &r), KTR_DUP);
	/* Another victim is another kill. */
	assert_int_equal(line(&k, KTR_DMESG,
			      "Memory cgroup out of memory: Killed process 124 (b) total-vm:1kB",
			      &r),
			 KTR_OPEN);
	assert_int_equal(r.pid, 124);
}

static void test_per_kind_bound(void **state)
{
	struct ktr k;
	struct ktr_res r;
	char l[96];
	int open = 0, drop = 0;

	(void)state;
	ktr_init(&k, 0);
	for (int i = 0; i < 12; i++) {
		snprintf(l, sizeof(l), "WARNING: CPU: 0 PID: %d at a.c:1 f+0x0/0x1", i + 1);
		line(&k, KTR_DMESG, l, &r);
		if (r.act == KTR_OPEN) {
			open++;
			ktr_opened(&k, KTR_DMESG, &r, (uint32_t)i + 1);
		}
		drop += r.act == KTR_DROP;
	}
	assert_int_equal(open, KTR_PER_KIND);
	assert_int_equal(drop, 12 - KTR_PER_KIND);
	/* Other kinds are not affected. */
	assert_int_equal(line(&k, KTR_DMESG, "BUG: x", &r), KTR_OPEN);
	/* A dropped OOM kill's other line is not a second kill. */
	for (uint32_t i = 0; i < KTR_PER_KIND; i++) {
		snprintf(l, sizeof(l), "Out of memory: Killed process %u (x)", 200 + i);
		line(&k, KTR_DMESG, l, &r);
		ktr_opened(&k, KTR_DMESG, &r, 100 + i);
	}
	assert_int_equal(
	    line(&k, KTR_DMESG, "oom-kill:constraint=CONSTRAINT_NONE,pid=300,uid=0", &r), KTR_DROP);
	assert_int_equal(line(&k, KTR_DMESG, "Out of memory: Killed process 300 (x)", &r),
			 KTR_SKIP);
}

static void test_bug_then_oops(void **state)
{
	struct ktr k;
	struct ktr_res r;

	(void)state;
	ktr_init(&k, 0);
	line(&k, KTR_DMESG, "BUG: kernel NULL pointer dereference, address: 0000000000000008", &r);
	assert_int_equal(r.act, KTR_OPEN);
	ktr_opened(&k, KTR_DMESG, &r, 3);
	assert_int_equal(line(&k, KTR_DMESG, "#PF: supervisor read access in kernel mode", &r),
			 KTR_EVIDENCE);
	assert_int_equal(line(&k, KTR_DMESG, "PGD 0 P4D 0", &r), KTR_EVIDENCE);
	/* One report: the Oops line is the BUG's. */
	assert_int_equal(line(&k, KTR_DMESG, "Oops: 0000 [#1] PREEMPT SMP NOPTI", &r),
			 KTR_EVIDENCE);
	assert_int_equal(r.id, 3);
	/* Unless fail_on would fail an Oops and not a BUG. */
	ktr_init(&k, 1u << VIGIL_KT_OOPS);
	line(&k, KTR_DMESG, "BUG: kernel NULL pointer dereference, address: 0000000000000008", &r);
	ktr_opened(&k, KTR_DMESG, &r, 3);
	assert_int_equal(line(&k, KTR_DMESG, "Oops: 0000 [#1] PREEMPT SMP NOPTI", &r), KTR_OPEN);
	/* An Oops on its own is its own trouble. */
	ktr_init(&k, 0);
	assert_int_equal(line(&k, KTR_DMESG, "Oops: 0000 [#1] PREEMPT SMP NOPTI", &r), KTR_OPEN);
}

static void test_panic_after_crash(void **state)
{
	struct ktr k;
	struct ktr_res r;

	(void)state;
	ktr_init(&k, 0);
	assert_int_equal(line(&k, KTR_CONSOLE, "Kernel panic - not syncing: Fatal exception", &r),
			 KTR_OPEN);
	assert_int_equal(r.kind, VIGIL_KT_PANIC);
	ktr_opened(&k, KTR_CONSOLE, &r, 4);
	assert_int_equal(line(&k, KTR_CONSOLE, "Kernel Offset: disabled", &r), KTR_EVIDENCE);
	assert_int_equal(
	    line(&k, KTR_CONSOLE, "---[ end Kernel panic - not syncing: Fatal exception ]---", &r),
	    KTR_EVIDENCE);
	assert_int_equal(r.id, 4);
	/* Reported by the runner first (pvpanic): the panic line is its. */
	ktr_init(&k, 0);
	ktr_crashed(&k, 9);
	assert_int_equal(line(&k, KTR_DMESG, "Kernel panic - not syncing: x", &r), KTR_EVIDENCE);
	assert_int_equal(r.id, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_lines),
		cmocka_unit_test(test_not_trouble),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_strip),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_dedupe),
		cmocka_unit_test(test_splat),
		cmocka_unit_test(test_oom_one_kill),
		cmocka_unit_test(test_per_kind_bound),
		cmocka_unit_test(test_bug_then_oops),
		cmocka_unit_test(test_panic_after_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
