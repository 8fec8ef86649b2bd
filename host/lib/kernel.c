/* SPDX-License-Identifier: MIT */
/*
 * Kernel trouble (see kernel.h for what it owns, its limits and load): the
 * line classifier, the report ("splat") heuristics and the tracker.
 *
 * The patterns are the kernel's own message formats (6.1, with the older
 * and arm64 forms where they differ), matched at the start of the message:
 * a workload printing "WARNING: low disk" or "DEBUG: x" is not a kernel
 * WARNING or BUG. Everything works on (pointer, length): lines are not
 * NUL-terminated and may hold any byte.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <string.h>

#include "kernel.h"

#define LIT(s)       (s), (sizeof(s) - 1)
#define PFX(b, n, s) pfx((b), (n), LIT(s))
#define HAS(b, n, s) (memmem((b), (n), LIT(s)) != NULL)

static bool pfx(const char *b, size_t n, const char *lit, size_t ln)
{
	return n >= ln && memcmp(b, lit, ln) == 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_xdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

/* Skip at least one digit at b[*i]. */
static bool skip_digits(const char *b, size_t n, size_t *i)
{
	size_t j = *i;

	while (j < n && is_digit(b[j]))
		j++;
	if (j == *i)
		return false;
	*i = j;
	return true;
}

/* Skip the literal at b[*i]. */
static bool skip_lit(const char *b, size_t n, size_t *i, const char *lit, size_t ln)
{
	if (*i > n || !pfx(b + *i, n - *i, lit, ln))
		return false;
	*i += ln;
	return true;
}

/* ---- names ------------------------------------------------------------- */

static const char *const kt_names[VIGIL_KT__COUNT] = {
	[VIGIL_KT_NONE] = "none",           [VIGIL_KT_PANIC] = "panic",
	[VIGIL_KT_OOPS] = "oops",           [VIGIL_KT_BUG] = "bug",
	[VIGIL_KT_WARNING] = "warning",     [VIGIL_KT_OOM] = "oom",
	[VIGIL_KT_HUNG_TASK] = "hung_task", [VIGIL_KT_SOFT_LOCKUP] = "soft_lockup",
	[VIGIL_KT_RCU_STALL] = "rcu_stall",
};

const char *vigil_kernel_trouble_name(enum vigil_kernel_trouble k)
{
	if ((unsigned)k >= VIGIL_KT__COUNT)
		return kt_names[VIGIL_KT_NONE];
	return kt_names[k];
}

int vigil_kernel_trouble_parse(const char *name, size_t len)
{
	if (!name)
		return -EINVAL;
	for (int k = 0; k < VIGIL_KT__COUNT; k++) {
		const char *t = kt_names[k];
		size_t i = 0;

		for (; i < len && t[i]; i++) {
			char c = name[i];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c == '-')
				c = '_';
			if (c != t[i])
				break;
		}
		if (i == len && t[i] == '\0')
			return k;
	}
	return -EINVAL;
}

/* ---- the message of a line --------------------------------------------- */

/* "[   12.345678]" plus one space, at b[i]; returns the new offset. */
static size_t skip_stamp(const char *b, size_t n, size_t i)
{
	size_t j = i + 1;

	if (i >= n || b[i] != '[')
		return i;
	while (j < n && b[j] == ' ')
		j++;
	if (!skip_digits(b, n, &j) || !skip_lit(b, n, &j, LIT(".")) || !skip_digits(b, n, &j) ||
	    !skip_lit(b, n, &j, LIT("]")))
		return i;
	return j < n && b[j] == ' ' ? j + 1 : j;
}

/* The caller id "[    T1]" / "[    C0]" (CONFIG_PRINTK_CALLER) at b[i]. */
static size_t skip_caller(const char *b, size_t n, size_t i)
{
	size_t j = i + 1;

	if (i >= n || b[i] != '[')
		return i;
	while (j < n && b[j] == ' ')
		j++;
	if (j >= n || (b[j] != 'T' && b[j] != 'C'))
		return i;
	j++;
	if (!skip_digits(b, n, &j) || !skip_lit(b, n, &j, LIT("]")))
		return i;
	return j < n && b[j] == ' ' ? j + 1 : j;
}

size_t kt_strip(const char *line, size_t len, size_t *n)
{
	size_t i = 0;

	if (!line)
		len = 0;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
			   line[len - 1] == '\t'))
		len--;
	if (len >= 3 && line[0] == '<' && is_digit(line[1]) && line[2] == '>')
		i = 3;
	i = skip_stamp(line, len, i);
	i = skip_caller(line, len, i);
	*n = len - i;
	return i;
}

/* ---- the classifier ---------------------------------------------------- */

/* "rcu: INFO: rcu_sched detected stalls on CPUs/tasks:", "INFO: rcu_preempt
 * self-detected stall on CPU", "... detected expedited stalls ...", and the
 * RCU Tasks flavours. */
static bool rcu_stall(const char *b, size_t n)
{
	size_t i = 0;

	skip_lit(b, n, &i, LIT("rcu: "));
	if (!skip_lit(b, n, &i, LIT("INFO: ")))
		return false;
	if (!pfx(b + i, n - i, LIT("rcu")) && !pfx(b + i, n - i, LIT("RCU")))
		return false;
	n = n - i < 64 ? n : i + 64;
	return HAS(b + i, n - i, "detected stall") || HAS(b + i, n - i, "detected expedited stall");
}

/* "WARNING: CPU: 0 PID: 1 at kernel/foo.c:12 f+0x1/0x2" */
static bool warn_cpu(const char *b, size_t n)
{
	size_t i = 0;

	return skip_lit(b, n, &i, LIT("WARNING: CPU: ")) && skip_digits(b, n, &i) &&
	       skip_lit(b, n, &i, LIT(" PID: ")) && skip_digits(b, n, &i) &&
	       skip_lit(b, n, &i, LIT(" at "));
}

/* lockdep's and RCU-lockdep's reports, after "WARNING: ". */
static const char *const lockdep_warnings[] = {
	"possible circular locking dependency detected",
	"possible recursive locking detected",
	"inconsistent lock state",
	"possible irq lock inversion dependency detected",
	"HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
	"SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
	"bad unlock balance detected!",
	"bad contention detected!",
	"held lock freed!",
	"lock held when returning to user space!",
	"suspicious RCU usage",
	"Nested lock was not taken",
};

static bool lockdep_warning(const char *b, size_t n)
{
	if (!PFX(b, n, "WARNING: "))
		return false;
	for (size_t i = 0; i < sizeof(lockdep_warnings) / sizeof(lockdep_warnings[0]); i++)
		if (pfx(b + 9, n - 9, lockdep_warnings[i], strlen(lockdep_warnings[i])))
			return true;
	return false;
}

/* SLUB: "BUG kmalloc-64 (Not tainted): Poison overwritten",
 * "BUG kmalloc-64 (Tainted: G    B  ): Redzone overwritten". */
static bool slub_bug(const char *b, size_t n)
{
	size_t i = 4;

	if (!PFX(b, n, "BUG "))
		return false;
	while (i < n && i < 68 && b[i] != ' ')
		i++;
	if (i == 4)
		return false;
	return skip_lit(b, n, &i, LIT(" (")) &&
	       (pfx(b + i, n - i, LIT("Not tainted")) || pfx(b + i, n - i, LIT("Tainted")));
}

/*
 * A die() header: "Oops: 0002 [#1] PREEMPT SMP NOPTI", "general protection
 * fault, probably for non-canonical address 0x...: 0000 [#1] ...", "invalid
 * opcode: 0000 [#1] ...", arm64 "Internal error: Oops: 0000000096000005
 * [#1] ...": ": " then 4 to 16 hex digits, " [#", digits, "]".
 */
static bool die_header(const char *b, size_t n)
{
	size_t lim = n < 256 ? n : 256;

	for (size_t i = 0; i + 3 < lim; i++) {
		size_t j = i + 3, k = i, h = 0;

		if (b[i] != ' ' || b[i + 1] != '[' || b[i + 2] != '#')
			continue;
		if (!skip_digits(b, n, &j) || j >= n || b[j] != ']')
			continue;
		while (k > 0 && is_xdigit(b[k - 1])) {
			k--;
			h++;
		}
		if (h >= 4 && h <= 16 && k >= 2 && b[k - 1] == ' ' && b[k - 2] == ':')
			return true;
	}
	return false;
}

static enum vigil_kernel_trouble classify_bug(const char *b, size_t n)
{
	if (PFX(b, n, "Oops:") || PFX(b, n, "general protection fault") || die_header(b, n))
		return VIGIL_KT_OOPS;
	if (PFX(b, n, "BUG: ") || PFX(b, n, "kernel BUG at ") || slub_bug(b, n) ||
	    PFX(b, n, "UBSAN: ") || PFX(b, n, "Unable to handle kernel "))
		return VIGIL_KT_BUG;
	if (warn_cpu(b, n) || lockdep_warning(b, n))
		return VIGIL_KT_WARNING;
	return VIGIL_KT_NONE;
}

enum vigil_kernel_trouble kt_classify(const char *b, size_t n)
{
	size_t w = 0;

	if (PFX(b, n, "Kernel panic - not syncing") ||
	    PFX(b, n, "---[ end Kernel panic - not syncing"))
		return VIGIL_KT_PANIC;
	/* The lockup detector: "watchdog: " (6.x) or "NMI watchdog: " (4.x),
	 * or no prefix (3.x). A hard LOCKUP is reported as a lockup too. */
	if (!skip_lit(b, n, &w, LIT("watchdog: ")))
		skip_lit(b, n, &w, LIT("NMI watchdog: "));
	if (pfx(b + w, n - w, LIT("BUG: soft lockup")) ||
	    pfx(b + w, n - w, LIT("Watchdog detected hard LOCKUP")))
		return VIGIL_KT_SOFT_LOCKUP;
	if (PFX(b, n, "INFO: task ") && HAS(b, n, " blocked for more than "))
		return VIGIL_KT_HUNG_TASK;
	if (rcu_stall(b, n))
		return VIGIL_KT_RCU_STALL;
	if (PFX(b, n, "Out of memory: Killed process ") ||
	    PFX(b, n, "Memory cgroup out of memory: Killed process ") || PFX(b, n, "oom-kill:"))
		return VIGIL_KT_OOM;
	return classify_bug(b, n);
}

enum vigil_kernel_trouble vigil_kernel_line_classify(const char *line, size_t len)
{
	size_t n, off = kt_strip(line, len, &n);

	return n ? kt_classify(line + off, n) : VIGIL_KT_NONE;
}

/* ---- what a trouble line names ----------------------------------------- */

static uint32_t parse_u32(const char *b, size_t n, size_t i)
{
	uint64_t v = 0;

	for (; i < n && is_digit(b[i]); i++) {
		v = v * 10 + (uint64_t)(b[i] - '0');
		if (v > UINT32_MAX)
			return 0;
	}
	return (uint32_t)v;
}

/* OOM: the victim ("Killed process 123 (sort)", "...,pid=123,uid=0");
 * hung task: "INFO: task kworker/0:1:23 blocked ...". 0 when not named. */
static uint32_t kt_pid(enum vigil_kernel_trouble k, const char *b, size_t n)
{
	const char *p;

	if (k == VIGIL_KT_OOM && PFX(b, n, "oom-kill:")) {
		const char *last = NULL;

		for (p = b; (p = memmem(p, n - (size_t)(p - b), LIT(",pid="))); p++)
			last = p;
		return last ? parse_u32(b, n, (size_t)(last - b) + 5) : 0;
	}
	if (k == VIGIL_KT_OOM) {
		p = memmem(b, n, LIT("Killed process "));
		return p ? parse_u32(b, n, (size_t)(p - b) + 15) : 0;
	}
	if (k == VIGIL_KT_HUNG_TASK) {
		size_t i;

		p = memmem(b, n, LIT(" blocked for more than "));
		if (!p)
			return 0;
		i = (size_t)(p - b);
		while (i > 0 && is_digit(b[i - 1]))
			i--;
		return i > 0 && b[i - 1] == ':' ? parse_u32(b, n, i) : 0;
	}
	return 0;
}

/* ---- the lines after a trouble line ------------------------------------ */

enum kt_cont {
	KT_END = 0, /* not part of the report: the splat ends */
	KT_KEEP,    /* part of it, worth keeping */
	KT_QUIET,   /* part of it, not worth a line of evidence (registers, code bytes) */
	KT_LAST,    /* its last line ("---[ end trace ... ]---") */
};

/* Register dump lines: "RAX: ...", "R13: ...", "FS:  ...", "CR2: ...",
 * "EFLAGS: ...", arm64 "x29: ...", "sp : ...". RIP and pc/lr are kept. */
static bool reg_dump(const char *b, size_t n)
{
	size_t i = 0;

	if (PFX(b, n, "sp : "))
		return true;
	if (n > 1 && b[0] == 'x' && is_digit(b[1])) {
		i = 1;
		skip_digits(b, n, &i);
		return i < n && b[i] == ':';
	}
	while (i < n && i < 7 && (is_upper(b[i]) || is_digit(b[i])))
		i++;
	if (i < 2 || i >= n || b[i] != ':')
		return false;
	if (i == 3 && (b[0] == 'R' || b[0] == 'E'))
		return true; /* RAX R08 RSP EAX ESI ... */
	if (i == 2 && b[1] == 'S')
		return true; /* CS DS ES FS GS SS */
	if (i == 3 && (b[0] == 'C' || b[0] == 'D') && b[1] == 'R')
		return true; /* CR0..CR4, DR0..DR7 */
	return pfx(b, i, LIT("PKRU")) || pfx(b, i, LIT("EFLAGS"));
}

static const char *const splat_prefixes[] = {
	"CPU: ",
	"Hardware name:",
	"Call Trace:",
	"Call trace:",
	"Modules linked in:",
	"Kernel Offset:",
	"#PF: ",
	"PGD ",
	"invalid opcode:",
	"irq event stamp:",
	"hardirqs last",
	"softirqs last",
	"Workqueue: ",
	"Tainted: ",
	"task:",
	"\"echo 0 > ",
	"Sending NMI",
	"NMI backtrace",
	"rcu: ",
	"INFO: ",
	"Mem-Info:",
	"Node ",
	"lowmem_reserve",
	"oom-kill:",
	"oom_reaper:",
	"Memory cgroup stats",
	"memory: usage",
	"memory+swap: usage",
	"swap: usage",
	"kmem: usage",
	"Tasks state",
	"Free swap",
	"Total swap",
	"active_anon:",
	"Unreclaimable slab",
	"Preemption disabled at:",
	"in_atomic(): ",
	"preempt_count: ",
	"RCU nest depth: ",
	"caller is ",
	"Showing busy workqueues",
	"Showing all locks held",
	"other info that might help",
	"Possible unsafe locking scenario",
	"stack backtrace:",
	"*** DEADLOCK ***",
	"Allocated by task",
	"Freed by task",
	"The buggy address",
	"Memory state around",
	"Read of size",
	"Write of size",
	"===",
	"---",
	"Internal error",
	"Mem abort info:",
	"Data abort info:",
	"ESR = ",
	"EC = ",
	"pstate:",
	"user pgtable:",
	"Disabling lock debugging",
	"Fixing recursive fault",
	"note: ",
	"Dumping ftrace buffer",
	"Rebooting in ",
	"Shutting down cpus",
	"SMP: stopping",
	"page:",
	"flags:",
	"raw: ",
	"page dumped because",
	"Object ",
	"Redzone ",
	"Padding ",
	"Uninterruptible",
};

static enum kt_cont kt_continues(const char *b, size_t n)
{
	if (n == 0)
		return KT_QUIET;
	if (b[0] == ' ' || b[0] == '\t')
		return KT_KEEP; /* call trace frames, "<TASK>", indented details */
	if (PFX(b, n, "---[ end "))
		return KT_LAST;
	if (PFX(b, n, "RIP: ") || PFX(b, n, "pc : ") || PFX(b, n, "lr : "))
		return KT_KEEP;
	if (reg_dump(b, n) || PFX(b, n, "Code: "))
		return KT_QUIET;
	for (size_t i = 0; i < sizeof(splat_prefixes) / sizeof(splat_prefixes[0]); i++)
		if (pfx(b, n, splat_prefixes[i], strlen(splat_prefixes[i])))
			return KT_KEEP;
	if (b[0] == '[')
		return KT_KEEP; /* the OOM killer's task table */
	if (is_digit(b[0]) && HAS(b, n, " pages"))
		return KT_KEEP; /* the OOM killer's memory totals */
	if (HAS(b, n < 200 ? n : 200, "+0x"))
		return KT_KEEP; /* a symbol+offset: a frame, a lock site */
	return KT_END;
}

/* ---- the tracker ------------------------------------------------------- */

#define KT_OOM_KILL_LINE   1u         /* "oom-kill:constraint=...,pid=N,uid=N" */
#define KT_OOM_KILLED_LINE 2u         /* "...: Killed process N (comm) total-vm:..." */
#define KT_SWALLOWED       UINT32_MAX /* fold_target(): part of a dropped trouble */

static uint8_t oom_form(const char *b, size_t n)
{
	return PFX(b, n, "oom-kill:") ? KT_OOM_KILL_LINE : KT_OOM_KILLED_LINE;
}

static uint64_t kt_hash(const char *b, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	if (n > KTR_HASH_BYTES)
		n = KTR_HASH_BYTES;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t kt_line_hash(const char *line, size_t len)
{
	size_t n, off = kt_strip(line, len, &n);

	return kt_hash(line + off, n);
}

void ktr_init(struct ktr *k, uint32_t fail_on)
{
	memset(k, 0, sizeof(*k));
	k->fail_on = fail_on;
}

/* True when the other source already reported this line (which is then
 * used up); else the line is remembered. */
static bool seen(struct ktr *k, enum ktr_src src, uint64_t h)
{
	for (uint32_t i = 0; i < KTR_SEEN; i++) {
		struct ktr_seen *e = &k->seen[i];

		if (e->live && e->hash == h && e->src != src) {
			e->live = false;
			return true;
		}
	}
	k->seen[k->seen_next] = (struct ktr_seen){ .hash = h, .src = (uint8_t)src, .live = true };
	k->seen_next = (k->seen_next + 1) % KTR_SEEN;
	return false;
}

static void splat_next(struct ktr *k, enum ktr_src src, const char *b, size_t n, struct ktr_res *r)
{
	struct ktr_splat *sp = &k->splat[src];
	enum kt_cont c;

	if (!sp->id)
		return;
	if (++sp->looked > KTR_SPLAT_LOOK) {
		sp->id = 0;
		return;
	}
	c = kt_continues(b, n);
	if (c == KT_END) {
		sp->id = 0;
		return;
	}
	if ((c == KT_KEEP || c == KT_LAST) && sp->kept < KTR_SPLAT_LINES) {
		sp->kept++;
		r->act = KTR_EVIDENCE;
		r->id = sp->id;
	}
	if (c == KT_LAST)
		sp->id = 0;
}

static bool bit(uint32_t mask, enum vigil_kernel_trouble k)
{
	return mask & (1u << k);
}

/*
 * A trouble line that belongs to a trouble already found: a panic line once
 * the guest crashed ("---[ end Kernel panic"), the other line of the same
 * OOM kill, an Oops inside a BUG's report (x86 prints "BUG: kernel NULL
 * pointer dereference" then "Oops: 0000 [#1]"; BUG() prints "kernel BUG at"
 * then "invalid opcode: 0000 [#1]") unless fail_on would fail the Oops and
 * not the BUG. Returns the finding, or 0.
 */
static uint32_t fold_target(struct ktr *k, enum ktr_src src, struct ktr_res *r)
{
	const struct ktr_splat *sp = &k->splat[src];
	uint8_t form;

	switch (r->kind) {
	case VIGIL_KT_PANIC:
		return k->crash_id;
	case VIGIL_KT_OOM:
		form = oom_form(r->body, r->len);
		if ((!k->oom_id && !k->oom_dropped) || !r->pid || r->pid != k->oom_pid ||
		    (k->oom_forms & form))
			return 0;
		k->oom_forms |= form;
		r->better_detail = form == KT_OOM_KILLED_LINE;
		return k->oom_dropped ? KT_SWALLOWED : k->oom_id;
	case VIGIL_KT_OOPS:
		if (sp->id && sp->kind == VIGIL_KT_BUG &&
		    !(bit(k->fail_on, VIGIL_KT_OOPS) && !bit(k->fail_on, VIGIL_KT_BUG)))
			return sp->id;
		return 0;
	default:
		return 0;
	}
}

static bool fold(struct ktr *k, enum ktr_src src, struct ktr_res *r)
{
	struct ktr_splat *sp = &k->splat[src];
	uint32_t id = fold_target(k, src, r);

	if (!id)
		return false;
	if (id == KT_SWALLOWED)
		return true; /* r->act stays KTR_SKIP */
	if (sp->id != id)
		*sp = (struct ktr_splat){ .id = id, .kind = r->kind };
	if (sp->kept < KTR_SPLAT_LINES) {
		sp->kept++;
		r->act = KTR_EVIDENCE;
		r->id = id;
	}
	return true;
}

void ktr_line(struct ktr *k, enum ktr_src src, const char *line, size_t len, struct ktr_res *r)
{
	size_t n, off = kt_strip(line, len, &n);

	memset(r, 0, sizeof(*r));
	r->body = line + off;
	r->len = n;
	r->kind = n ? kt_classify(r->body, n) : VIGIL_KT_NONE;
	if (r->kind == VIGIL_KT_NONE) {
		splat_next(k, src, r->body, n, r);
		return;
	}
	if (seen(k, src, kt_hash(r->body, n))) {
		/* The other source's finding has this report. */
		k->splat[src].id = 0;
		r->act = KTR_DUP;
		return;
	}
	r->pid = kt_pid(r->kind, r->body, n);
	if (fold(k, src, r))
		return;
	k->splat[src].id = 0;
	r->act = KTR_OPEN;
	if (r->kind != VIGIL_KT_PANIC && k->kept[r->kind] >= KTR_PER_KIND) {
		r->act = KTR_DROP;
		if (r->kind == VIGIL_KT_OOM) {
			/* Its other line must not count as a second kill. */
			k->oom_id = 0;
			k->oom_dropped = true;
			k->oom_pid = r->pid;
			k->oom_forms = oom_form(r->body, r->len);
		}
	}
}

void ktr_opened(struct ktr *k, enum ktr_src src, const struct ktr_res *r, uint32_t id)
{
	if (!id || r->kind == VIGIL_KT_NONE || r->kind >= VIGIL_KT__COUNT)
		return;
	k->kept[r->kind]++;
	k->splat[src] = (struct ktr_splat){ .id = id, .kind = r->kind, .kept = 1 };
	if (r->kind == VIGIL_KT_OOM) {
		k->oom_id = id;
		k->oom_dropped = false;
		k->oom_pid = r->pid;
		k->oom_forms = oom_form(r->body, r->len);
	}
	if (r->kind == VIGIL_KT_PANIC)
		k->crash_id = id;
}

void ktr_crashed(struct ktr *k, uint32_t id)
{
	k->crash_id = id;
	k->splat[KTR_CONSOLE] = (struct ktr_splat){ .id = id, .kind = VIGIL_KT_PANIC, .kept = 1 };
}
