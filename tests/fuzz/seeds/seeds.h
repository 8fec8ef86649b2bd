/* SPDX-License-Identifier: MIT */
/*
 * vigil-fuzz-seeds: seed inputs for the fuzz targets, of the shapes their
 * fuzzing rarely builds alone (FUZZING.md, "Coverage"): real kernel
 * reports as dmesg prints them, valid FLOW and AGENT_STATS frames made
 * with libvigil-wire's encoders, host frames with correct CRCs, sock_diag
 * datagrams as the kernel sends them, QMP replies and workload files at
 * their limits. scripts/fuzz_corpus.sh merges them into the kept corpora;
 * scripts/fuzz.sh replays them too.
 *
 * Each seed is one file, OUTDIR/<corpus name>/<seed name>, rewritten on
 * every run. Limits: a seed stays within what the target's corpus keeps
 * (64 KiB for the agent and CLI targets, 140,000 bytes for the session).
 * Load: a few dozen files, once per merge or fuzzing run.
 */
#ifndef VIGIL_FUZZ_SEEDS_H
#define VIGIL_FUZZ_SEEDS_H

#include <stddef.h>
#include <stdint.h>
#include <vigil/wire.h>

/* A growing byte buffer; a failed allocation ends the program. */
struct seed {
	uint8_t *p;
	size_t len, cap;
};

void seed_put(struct seed *s, const void *d, size_t n);
void seed_puts(struct seed *s, const char *str);
/* A sealed frame of type with the payload pl (n bytes), as the sender writes it. */
void seed_frame(struct seed *s, uint16_t type, uint32_t seq, const uint8_t *pl, size_t n);
/* Write OUTDIR/corpus/name and empty s. */
void seed_write(const char *corpus, const char *name, struct seed *s);
/* Stop with what failed: an encoder refusing what a seed builds is a bug here. */
_Noreturn void seed_fail(const char *what);

/* A runtime string as a wire str. */
struct vigil_str seed_str(const char *s);

void seeds_session(void);
void seeds_agent_flows(void);

#endif
