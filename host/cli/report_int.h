/* SPDX-License-Identifier: MIT */
/*
 * report_int: the report's model, shared by the builder (report.c: events
 * and samples in) and the renderer (report_html.c: the page out), and
 * read by the tests. Times are host ns since the session was created.
 * Every table is fixed-size; what does not fit is counted in dropped_*.
 */
#ifndef VIGIL_CLI_REPORT_INT_H
#define VIGIL_CLI_REPORT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "report.h"

#define REPORT_BINS         480        /* time bins over the whole run */
#define REPORT_BIN_MIN_NS   1000000ull /* the first bin width: 1 ms; doubles as needed */
#define REPORT_PROCS_MAX    256        /* processes with a record (lane candidates) */
#define REPORT_LANES        24         /* process lanes drawn: stalled first */
#define REPORT_STALLS_MAX   256
#define REPORT_STOPS_MAX    256 /* VM stops */
#define REPORT_SCEN_MAX     64
#define REPORT_PAUSES_MAX   256
#define REPORT_FINDINGS_MAX 128
#define REPORT_TESTS_MAX    256
#define REPORT_MARKS_MAX    128  /* exits, restarts, link changes, snapshots, ... */
#define REPORT_STREAMS      4    /* stdout, stderr, dmesg, log */
#define REPORT_SAMPLE_LEN   64   /* a bin's first output line, bytes */
#define REPORT_TAIL_LEN     4096 /* the workload's last output bytes */
#define REPORT_NAME_LEN     VIGIL_NAME_MAX
#define REPORT_DETAIL_LEN   VIGIL_DETAIL_MAX
#define REPORT_HASH         1024 /* pid index slots (power of 2, > 2 x PROCS_MAX) */

struct report_proc {
	uint32_t pid;
	uint64_t first_ns;    /* process_new (or its first sample) */
	uint64_t gone_ns;     /* process_gone; 0: still tracked */
	char gone_reason[16]; /* "stopping", "evicted" */
	uint64_t deadline_ns;
	uint64_t beats;         /* counted from samples */
	uint64_t tracker_beats; /* the tracker's count at the last sample */
	uint32_t stalls;
	uint64_t first_stall_ns;
	char comm[32];              /* the agent's, or from a stall's class samples; "" unknown */
	uint16_t bins[REPORT_BINS]; /* beats per bin (saturating) */
};

struct report_stall {
	uint32_t pid;
	uint64_t t_ns;       /* detected */
	uint64_t silence_ns; /* at detection (runnable time) */
	uint64_t deadline_ns;
	uint64_t recovered_ns; /* 0: did not beat again */
	uint64_t whole_silence_ns;
	uint64_t gone_ns; /* left the tracker while stalled; 0 not */
	bool host_starved;
	char cls[24];                /* stall_classified's class; "" none */
	char why[REPORT_DETAIL_LEN]; /* the class's samples in words */
};

struct report_span {
	uint64_t start_ns, end_ns; /* end 0: open at the end of the run */
	uint32_t scenario;         /* pauses: index into scen[] */
};

struct report_scenario {
	uint32_t index;
	char name[REPORT_NAME_LEN];
	uint64_t start_ns, end_ns; /* end 0: not ended */
	uint64_t run_ns, pause_ns;
};

struct report_finding {
	uint64_t t_ns;
	char outcome[32];
	bool fatal;
	uint32_t pid;
	uint64_t silence_ns;
	char trouble[16]; /* kernel trouble kind; "" none */
	char detail[REPORT_DETAIL_LEN];
	char evidence[2048]; /* the verdict's lines, joined by newlines */
};

struct report_test {
	uint64_t t_ns, duration_ns;
	char outcome[12];
	char name[REPORT_NAME_LEN];
	char message[REPORT_DETAIL_LEN];
};

struct report_mark {
	uint64_t t_ns;
	char what[24]; /* the event's name */
	char text[REPORT_DETAIL_LEN];
};

struct vigil_report {
	char title[80];
	uint64_t end_ns; /* the latest time seen */
	uint64_t bin_ns; /* the bins' width */
	/* boot */
	uint64_t link_up_ns, first_byte_ns, hello_ns, ready_ns; /* 0: did not happen */
	bool have_link_up, have_first_byte, have_hello, have_ready;
	uint64_t guest_boottime_ns;
	/* how far the guest's boot clock fell behind the TSC during boot, from
	 * the kernel's "sched_clock: Marking stable" line; 0: not seen */
	uint64_t clock_lag_ns;
	char agent_version[REPORT_NAME_LEN], kernel_release[REPORT_NAME_LEN],
	    hostname[REPORT_NAME_LEN];
	uint32_t agent_pid; /* the last HELLO's: the agent beating for itself (0: none) */
	/* the end */
	bool have_run_end;
	char outcome[32];
	int exit_code;
	/* processes */
	struct report_proc procs[REPORT_PROCS_MAX];
	uint32_t n_procs;
	int16_t hash[REPORT_HASH]; /* pid -> procs index + 1; 0 empty */
	struct report_stall stalls[REPORT_STALLS_MAX];
	uint32_t n_stalls;
	struct report_span stops[REPORT_STOPS_MAX];
	uint32_t n_stops;
	struct report_scenario scen[REPORT_SCEN_MAX];
	uint32_t n_scen;
	struct report_span pauses[REPORT_PAUSES_MAX];
	uint32_t n_pauses;
	struct report_finding findings[REPORT_FINDINGS_MAX];
	uint32_t n_findings;
	struct report_test tests[REPORT_TESTS_MAX];
	uint32_t n_tests;
	uint32_t tests_by[4]; /* PASS, FAIL, SKIP, ERROR (all, kept or not) */
	struct report_mark marks[REPORT_MARKS_MAX];
	uint32_t n_marks;
	/* output, by stream (stdout, stderr, dmesg, log) */
	uint64_t out_bytes[REPORT_STREAMS][REPORT_BINS];
	char out_sample[REPORT_STREAMS][REPORT_BINS][REPORT_SAMPLE_LEN];
	uint64_t out_total[REPORT_STREAMS];
	char tail[REPORT_TAIL_LEN]; /* ring of the workload's stdout and stderr */
	uint64_t tail_written;
	/* flows */
	uint32_t flows_opened[REPORT_BINS], flows_closed[REPORT_BINS];
	uint64_t flows_open_total, flows_close_total;
	/* counted */
	uint64_t samples, events, anomalies;
	uint64_t dropped_procs, dropped_stalls, dropped_stops, dropped_scen, dropped_pauses,
	    dropped_findings, dropped_tests, dropped_marks;
	struct json_object *verdict; /* with provenance; NULL: none given */
};

/* The bin of t (rebinning first when t is past the last one). */
uint32_t report_bin(struct vigil_report *r, uint64_t t_ns);
/* The record of pid, created when create and there is room; NULL otherwise. */
struct report_proc *report_proc(struct vigil_report *r, uint32_t pid, bool create);
/* Copy a string of len bytes into dst (cap bytes), cut on a UTF-8 boundary. */
void report_copy(char *dst, size_t cap, const char *src, size_t len);

#endif /* VIGIL_CLI_REPORT_INT_H */
