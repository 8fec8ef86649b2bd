/* SPDX-License-Identifier: MIT */
/*
 * Evidence: the lines that explain findings, and the findings the guest's
 * kernel lines and the VMM's exit make.
 *
 * Owns three line rings (the console's and the DMESG/LOG stream's last
 * evidence_lines lines, the boot's evidence; the workload's last
 * EVD_OUTPUT_LINES output lines, its failure's), the workload's unfinished
 * output lines, the kernel-trouble tracker (kernel.h) and the GUEST_CRASH
 * finding. Which lines go to which finding: docs/verdict.md, "Evidence".
 *
 * Memory: the rings are allocated by evd_init(); nothing after. Load: every
 * console, DMESG and LOG line of a guest (thousands at boot, a few per
 * second after) and every CRC-valid output chunk (bulk: a chunk is scanned
 * once backwards over its last EVD_OUTPUT_LINES lines and once forwards
 * from there, whatever its size).
 */
#ifndef VIGIL_HOST_EVIDENCE_H
#define VIGIL_HOST_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/session.h>

#include "kernel.h"

#define EVD_OUTPUT_LINES 20u /* workload output lines kept for its failure */
#define EVD_VMM_LINES    8u  /* lines of vigil_session_vmm_exited's detail kept */

struct vigil_session;

/* The last cap lines of a source. */
struct evd_ring {
	struct vigil_evidence *e; /* [cap]; .finding unused */
	uint64_t *hash;           /* [cap] kt_line_hash of each line, or NULL */
	uint32_t cap, head, n;
};

struct evd {
	struct ktr ktr;
	struct evd_ring con;                /* console lines, the boot's evidence */
	struct evd_ring kern;               /* DMESG and LOG lines, the boot's evidence */
	struct evd_ring out;                /* workload STDOUT/STDERR lines */
	char out_part[2][VIGIL_DETAIL_MAX]; /* STDOUT, STDERR: the line being written */
	uint32_t out_part_len[2];
	bool boot_given;   /* the boot lines went to a finding (once) */
	uint32_t crash_id; /* the GUEST_CRASH finding, 0 none */
};

/*
 * The rings and the session's findings table with its evidence pool, sized
 * from the options: the pool holds one copy of the boot lines, three of the
 * workload's output, eight kernel reports, the VMM's lines and a few crash
 * lines. 0 or -ENOMEM (evd_fini() cleans up either way).
 */
int evd_init(struct vigil_session *s);
void evd_fini(struct vigil_session *s);

/* Finding id (0: none) gets the boot's last lines, once per run. */
void evd_boot(struct vigil_session *s, uint32_t id);
/* Finding id (0: none) gets the workload's last output lines. */
void evd_output(struct vigil_session *s, uint32_t id);
/* A CRC-valid STDOUT/STDERR chunk: its lines go to the output ring. */
void evd_output_chunk(struct vigil_session *s, uint16_t stream, const uint8_t *p, size_t len);
/* A CRC-valid DMESG or LOG record: the kernel ring and the trouble scan. */
void evd_kernel_record(struct vigil_session *s, uint16_t source, const uint8_t *text, size_t len);

#endif /* VIGIL_HOST_EVIDENCE_H */
