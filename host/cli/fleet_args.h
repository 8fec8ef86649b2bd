/* SPDX-License-Identifier: MIT */
/*
 * fleet_args: the command line of `vigil watch` (libvirt fleet mode) and
 * `vigil status`, parsed with no side effects so every rule is testable.
 *
 * Owns: the option tables, the help texts, value checks that name their
 * option. Limits: at most FLEET_DOMAINS_MAX --domain.
 */
#ifndef VIGIL_CLI_FLEET_ARGS_H
#define VIGIL_CLI_FLEET_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/session.h>

#define FLEET_DOMAINS_MAX       256
#define FLEET_METRICS_DEFAULT   "127.0.0.1:9466"
#define FLEET_KEEP_RUNS_DEFAULT 10
#define FLEET_EVENTS_FILE_MAX   (64ull << 20) /* bytes of one run's events.jsonl */

struct vigil_fleet_args {
	const char *uri;                        /* --connect; NULL: libvirt's default */
	const char *domains[FLEET_DOMAINS_MAX]; /* --domain: only these (none: all) */
	size_t n_domains;
	const char *metrics;             /* ADDR:PORT, or NULL when "off" */
	const char *token_file;          /* --metrics-token-file */
	const char *out_dir;             /* --out-dir */
	uint32_t keep_runs;              /* --keep-runs */
	const char *events;              /* --events FILE|- : every domain's events */
	uint64_t file_limit;             /* --file-limit: bytes of the --events FILE; 0 none */
	bool force;                      /* --force: take held channels */
	const char *on_stall_exec;       /* --on-stall-exec 'PROGRAM ARG...' */
	bool on_stall_unattested;        /* --on-stall-unattested */
	struct vigil_session_opts sopts; /* --stall-threshold, --on-stall, --fail-on */
	bool quiet, verbose;
	bool help;
};

/* Parse argv (argv[0] is "watch"). 0, or the exit code of a usage error
 * (VIGIL_EXIT_USAGE) with the message printed. */
int vigil_fleet_args_parse(struct vigil_fleet_args *a, int argc, char **argv);
const char *vigil_fleet_usage(void);

/* `vigil status [--metrics ADDR:PORT] [--metrics-token-file F] [--json]` */
struct vigil_status_args {
	const char *metrics;
	const char *token_file;
	bool json;
	bool help;
};
int vigil_status_args_parse(struct vigil_status_args *a, int argc, char **argv);
const char *vigil_status_usage(void);

#endif /* VIGIL_CLI_FLEET_ARGS_H */
