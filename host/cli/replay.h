/* SPDX-License-Identifier: MIT */
/*
 * replay: a recording (`--record`) or a plain port stream fed back into a
 * fresh session, for `vigil decode` and `vigil report`.
 *
 * Owns: the recording's header (session options, t0, provenance, root),
 * the order of the replayed calls (the same calls at the same times as
 * the run, so the same events and verdict), the answers a recording holds
 * for the snapshot provider and the progress probe, and the messages
 * about a damaged file. A plain stream is decoded in one burst at one
 * instant (no timeouts or stalls can fire).
 * Load: one pass over a file already in memory; the session's own costs.
 */
#ifndef VIGIL_CLI_REPLAY_H
#define VIGIL_CLI_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <vigil/session.h>

#include "finish.h"
#include "record.h"

struct vigil_replay {
	/* in: set before vigil_replay_open() */
	struct vigil_session_opts so; /* a plain stream's options; a header replaces them */
	void (*event)(void *ctx, const struct vigil_event *ev); /* NULL: none */
	/* After each record's call into the session (now_ns: its time). */
	void (*step)(void *ctx, struct vigil_session *s, uint64_t now_ns);
	void *ctx;
	const char *cmd; /* "decode", "report": for messages */
	bool quiet;      /* no message about a damaged tail */
	FILE *log;       /* where the messages go; NULL: stderr */
	/* out */
	struct vigil_session *s;
	struct json_object *provenance; /* the recording's (FINISH's, else the header's) */
	enum vigil_root root;
	bool is_rec;    /* a recording, not a plain stream */
	uint64_t t0_ns; /* the session's creation time */
	uint64_t last_ns;
	/* private */
	struct vigil_rec_reader rd;
	size_t scan, prog_scan;
};

/* Read the whole file at path (a regular file); malloc'ed, NULL with errno set. */
uint8_t *vigil_replay_slurp(const char *path, size_t *len);

/*
 * Take buf (borrowed until vigil_replay_free) as a recording or a plain
 * stream and create the session. 0, or -1 after a message (rp->log)
 * naming file.
 */
int vigil_replay_open(struct vigil_replay *rp, const char *file, const uint8_t *buf, size_t len);

/*
 * Replay everything up to the FINISH record (a plain stream: feed it). The
 * session is left unfinished for the caller's vigil_session_finish(s,
 * rp->last_ns). 0, or -1 after a message: a plain stream without a single
 * vigil frame is no guest at all.
 */
int vigil_replay_run(struct vigil_replay *rp, const char *file, const uint8_t *buf, size_t len);

/* The session and the provenance; rp may be zeroed or half opened. */
void vigil_replay_free(struct vigil_replay *rp);

#endif /* VIGIL_CLI_REPLAY_H */
