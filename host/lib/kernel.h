/* SPDX-License-Identifier: MIT */
/*
 * Kernel trouble: the classifier of kernel log lines (public:
 * vigil_kernel_line_classify) and the tracker that turns the lines of two
 * sources, the serial console and the DMESG stream, into troubles: one per
 * kernel report, not one per line and not one per source.
 *
 * Owns, in a fixed-size struct ktr (no allocation):
 * - a ring of the last KTR_SEEN trouble lines (hashes of the text without
 *   its timestamp) for the console/DMESG dedupe: a trouble line that
 *   matches one from the other source is a duplicate, and consumes it;
 * - one open "splat" per source: the lines that follow a trouble and look
 *   like its report (register dump, call trace, ...), at most
 *   KTR_SPLAT_LINES kept and KTR_SPLAT_LOOK looked at;
 * - the OOM kill being reported ("oom-kill:" and "Killed process" of the
 *   same victim pid are one kill), and the GUEST_CRASH finding, if any;
 * - per-kind finding counts: at most KTR_PER_KIND findings per kind.
 *
 * The tracker decides; the session records. Findings are named by the
 * session's stable ids (0: none).
 *
 * Load: every kernel line of a guest (thousands at boot, a few per second
 * after). A plain line costs one pass over its first bytes; a trouble line
 * O(KTR_SEEN) more. Troubles are rare.
 */
#ifndef VIGIL_HOST_KERNEL_H
#define VIGIL_HOST_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/session.h>

#define KTR_SEEN        32u  /* trouble lines remembered for the dedupe */
#define KTR_PER_KIND    8u   /* findings per kind; the rest are counted */
#define KTR_SPLAT_LINES 24u  /* evidence lines per trouble, its own line included */
#define KTR_SPLAT_LOOK  64u  /* lines looked at after a trouble line */
#define KTR_HASH_BYTES  160u /* bytes of a line the dedupe compares */

enum ktr_src {
	KTR_CONSOLE = 0,
	KTR_DMESG,
	KTR__SRC,
};

/* What to do with a line. */
enum ktr_act {
	KTR_SKIP = 0, /* nothing to keep */
	KTR_EVIDENCE, /* keep it as evidence of finding `id` */
	KTR_OPEN,     /* a new trouble: record a finding, then call ktr_opened() */
	KTR_DUP,      /* the other source already reported this trouble */
	KTR_DROP,     /* a new trouble past KTR_PER_KIND: count it, no finding */
};

struct ktr_res {
	enum ktr_act act;
	enum vigil_kernel_trouble kind; /* OPEN, DROP; EVIDENCE of a trouble line */
	uint32_t id;                    /* EVIDENCE: the finding */
	uint32_t pid;                   /* OPEN: the OOM victim or the hung task, else 0 */
	bool better_detail;             /* EVIDENCE: this line names the OOM kill better */
	const char *body;               /* the line without timestamp and trailing space */
	size_t len;
};

struct ktr_seen {
	uint64_t hash;
	uint8_t src;
	bool live; /* not yet matched by the other source */
};

struct ktr_splat {
	uint32_t id; /* 0: none open */
	enum vigil_kernel_trouble kind;
	uint16_t kept;   /* lines kept, the trouble line included */
	uint16_t looked; /* lines looked at since */
};

struct ktr {
	uint32_t fail_on;
	struct ktr_seen seen[KTR_SEEN];
	uint32_t seen_next;
	struct ktr_splat splat[KTR__SRC];
	uint32_t oom_id;   /* the OOM kill being reported, 0 none */
	uint32_t oom_pid;  /* its victim */
	uint8_t oom_forms; /* KT_OOM_KILL_LINE | KT_OOM_KILLED_LINE seen for it */
	bool oom_dropped;  /* it was past KTR_PER_KIND: its other line is dropped too */
	uint32_t crash_id; /* the GUEST_CRASH finding, 0 none */
	uint16_t kept[VIGIL_KT__COUNT];
};

/*
 * The message of a log line: skips a "<N>" level, a printk timestamp
 * "[   12.345678]" and a caller id "[    T1]" (each with the space after
 * it), and trailing CR, LF and blanks. Returns the offset of the message;
 * *n is its length.
 */
size_t kt_strip(const char *line, size_t len, size_t *n);
/* Classify a message (kt_strip'ed). */
enum vigil_kernel_trouble kt_classify(const char *b, size_t n);
/* A hash of a line's message (kt_strip'ed, its first KTR_HASH_BYTES
 * bytes): the same report from the console and from DMESG hash alike. */
uint64_t kt_line_hash(const char *line, size_t len);

void ktr_init(struct ktr *k, uint32_t fail_on);
/* One line (one kmsg record's first line, or one console line). */
void ktr_line(struct ktr *k, enum ktr_src src, const char *line, size_t len, struct ktr_res *r);
/* The finding for an OPEN result was recorded as id (0: the table did not
 * keep it). Opens the splat of src. */
void ktr_opened(struct ktr *k, enum ktr_src src, const struct ktr_res *r, uint32_t id);
/* A GUEST_CRASH finding id exists (vigil_session_guest_crashed): later panic
 * lines are its evidence, and the console lines that follow are its splat. */
void ktr_crashed(struct ktr *k, uint32_t id);

#endif /* VIGIL_HOST_KERNEL_H */
