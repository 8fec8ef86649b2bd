/* SPDX-License-Identifier: MIT */
/*
 * report: one run as a self-contained HTML page (`vigil report`, `vigil
 * run/attach --report`): a timeline on one host-time axis (boot phases,
 * scenarios and their pauses, one lane per tracked process with its beats
 * and stalls, VM stops and host starvation, findings, kernel trouble,
 * tests, output volume per stream, flows) over a header with the verdict,
 * and tables with the evidence, the counters and the provenance.
 *
 * Input: the session's events (docs/events.md), as JSON objects (an
 * events file, parsed with json-c) or as they happen (a run, a replayed
 * recording); beat counts sampled from the session's tracker (events carry
 * no beats: without samples a lane shows the process's life and its
 * silences only); the verdict JSON with its provenance.
 *
 * Limits (docs/report.md): the run is cut into REPORT_BINS time bins whose
 * width doubles as the run grows, so memory and page size do not grow
 * with the run's length: beats and output bytes are counted per bin.
 * Everything else is kept up to a fixed count and what is past it is
 * counted and said on the page. Memory: about 1 MB per report, taken at
 * vigil_report_new(); nothing is allocated per output chunk.
 * Load: every event of a run (output chunks included) and a sample per
 * REPORT_SAMPLE_NS in a run; rendering is one pass at the end.
 *
 * Every string from the guest is escaped on the page (control bytes and
 * invalid UTF-8 become '?').
 */
#ifndef VIGIL_CLI_REPORT_H
#define VIGIL_CLI_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <vigil/session.h>

#include "finish.h"

#define REPORT_SAMPLE_NS (20 * 1000000ull) /* a run samples the tracker this often */

struct vigil_report;

/* 0 or -ENOMEM. */
int vigil_report_new(struct vigil_report **out);
void vigil_report_free(struct vigil_report *r);

/* The page's title (the guest's name under attach); copied. */
void vigil_report_set_title(struct vigil_report *r, const char *title);

/* One event as JSON (borrowed). 1 taken, 0 not an event the page shows
 * (unknown names included), -EBADMSG not an event object. */
int vigil_report_event_json(struct vigil_report *r, struct json_object *ev);
/* One line of an events file. As above; -EBADMSG for a line that is not JSON. */
int vigil_report_event_line(struct vigil_report *r, const char *line, size_t len);
/* One event as the session raises it. */
void vigil_report_event(struct vigil_report *r, const struct vigil_event *ev);

/* The tracker's beat counts now (now_ns: the session's clock, t0_ns: its
 * creation); new beats are counted in the bin of now. */
void vigil_report_sample(struct vigil_report *r, const struct vigil_session *s, uint64_t now_ns,
			 uint64_t t0_ns);

/* The verdict JSON (docs/verdict.md, with provenance): the page's header,
 * the findings' evidence, the counters. A new reference is taken. */
void vigil_report_verdict(struct vigil_report *r, struct json_object *verdict);

/* The verdict of a finished session as vigil_finish_verdict_json() renders
 * it (with provenance and hints). 0 or -ENOMEM. */
int vigil_report_finish(struct vigil_report *r, const struct vigil_finish_in *in);

/* A recording (`vigil run --record`) or a plain port stream in buf,
 * replayed into the report as `vigil decode` replays it, the verdict
 * included. file names the input in messages, which go to log (NULL:
 * stderr). 0, or -1 after a message. */
int vigil_report_replay(struct vigil_report *r, const char *file, const uint8_t *buf, size_t len,
			FILE *log);

/* The page. 0 or -EIO. */
int vigil_report_write(const struct vigil_report *r, FILE *f);
/* The page to path (written to path.tmp, renamed). 0 or negative errno. */
int vigil_report_write_file(const struct vigil_report *r, const char *path);

#endif /* VIGIL_CLI_REPORT_H */
