/* SPDX-License-Identifier: MIT */
/* fleet_args: options of `vigil watch` and `vigil status` (see fleet_args.h). */
#include "fleet_args.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cap.h"
#include "cli.h"

static const char watch_usage[] =
    "usage: vigil watch [--connect URI] [--domain NAME]... [OPTIONS]\n"
    "\n"
    "Watch every running libvirt domain that carries the vigil channel (a\n"
    "<channel type='unix'> with target name org.vigil.bulk.0; docs/watch.md),\n"
    "track the processes beating inside each, and serve it all on /metrics\n"
    "for Prometheus. Runs until SIGINT/SIGTERM; reconnects when libvirtd goes.\n"
    "\n"
    "  --connect URI            libvirt URI (default: libvirt's default, as virsh)\n"
    "  --domain NAME            watch only this domain (repeatable; default: all)\n"
    "  --metrics ADDR:PORT|off  /metrics and /status (default " FLEET_METRICS_DEFAULT ";\n"
    "                           127.0.0.1 unless an address is given)\n"
    "  --metrics-token-file F   require 'Authorization: Bearer TOKEN' (TOKEN: F's\n"
    "                           first line)\n"
    "  --out-dir DIR            each run of a domain (start to stop) gets\n"
    "                           DIR/NAME-UUID8/START/verdict.json and events.jsonl\n"
    "                           (at most 64 MiB of events a run)\n"
    "  --keep-runs N            runs kept per domain under --out-dir (default 10)\n"
    "  --events FILE|-          every domain's events as JSON lines, each with its\n"
    "                           \"domain\"; a FILE is appended to, and opened\n"
    "                           afresh on SIGHUP (log rotation)\n"
    "  --file-limit SIZE|none   bytes the --events FILE may grow to (default 1G;\n"
    "                           past it events are counted, not written)\n"
    "  --stall-threshold DUR    a beating process silent this long stalls (default 5s)\n"
    "  --on-stall warn|fail     fail: a stall ends that run of the domain (its\n"
    "                           verdict is written) and a new run starts\n"
    "  --fail-on KIND,...       kernel trouble that ends a run, as for vigil run\n"
    "  --on-stall-exec 'PROGRAM ARG...'  run PROGRAM on a stall, {domain}, {uuid}\n"
    "                           and {pid} substituted (one string split on spaces,\n"
    "                           no shell; debounced per pid, rate-capped;\n"
    "                           docs/watch.md)\n"
    "  --on-stall-unattested    also for beats whose pid the kernel did not attest\n"
    "  --force                  take a channel another client holds (default: report\n"
    "                           it and retry)\n"
    "  -q, --quiet              only errors on stderr\n"
    "  -v, --verbose            every domain event on stderr\n"
    "  -h, --help               show this help\n";

static const char status_usage[] =
    "usage: vigil status [--metrics ADDR:PORT] [--metrics-token-file F] [--json]\n"
    "\n"
    "Ask a running `vigil watch` (its /status endpoint) what is stalled, starved\n"
    "or paused now, per domain.\n"
    "\n"
    "  --metrics ADDR:PORT      where vigil watch serves (default " FLEET_METRICS_DEFAULT ")\n"
    "  --metrics-token-file F   its bearer token\n"
    "  --json                   print the JSON as served\n";

enum {
	O_CONNECT = 256,
	O_DOMAIN,
	O_METRICS,
	O_TOKEN,
	O_OUT_DIR,
	O_KEEP,
	O_EVENTS,
	O_FILE_LIMIT,
	O_STALL,
	O_ON_STALL,
	O_FAIL_ON,
	O_EXEC,
	O_UNATTESTED,
	O_FORCE,
	O_JSON,
};

static const struct option watch_opts[] = {
	{ "connect", required_argument, NULL, O_CONNECT },
	{ "domain", required_argument, NULL, O_DOMAIN },
	{ "metrics", required_argument, NULL, O_METRICS },
	{ "metrics-token-file", required_argument, NULL, O_TOKEN },
	{ "out-dir", required_argument, NULL, O_OUT_DIR },
	{ "keep-runs", required_argument, NULL, O_KEEP },
	{ "events", required_argument, NULL, O_EVENTS },
	{ "file-limit", required_argument, NULL, O_FILE_LIMIT },
	{ "stall-threshold", required_argument, NULL, O_STALL },
	{ "on-stall", required_argument, NULL, O_ON_STALL },
	{ "fail-on", required_argument, NULL, O_FAIL_ON },
	{ "on-stall-exec", required_argument, NULL, O_EXEC },
	{ "on-stall-unattested", no_argument, NULL, O_UNATTESTED },
	{ "force", no_argument, NULL, O_FORCE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

const char *vigil_fleet_usage(void)
{
	return watch_usage;
}

const char *vigil_status_usage(void)
{
	return status_usage;
}

static int bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "vigil watch: bad value '%s' for --%s (%s)\n", val, opt, want);
	return VIGIL_EXIT_USAGE;
}

static int take(struct vigil_fleet_args *a, int c, char *val)
{
	char kind[64];
	uint64_t v;

	switch (c) {
	case O_CONNECT:
		a->uri = val;
		return 0;
	case O_DOMAIN:
		if (a->n_domains == FLEET_DOMAINS_MAX)
			return bad("domain", val, "at most 256 of them");
		a->domains[a->n_domains++] = val;
		return 0;
	case O_METRICS:
		a->metrics = strcmp(val, "off") ? val : NULL;
		return 0;
	case O_TOKEN:
		a->token_file = val;
		return 0;
	case O_OUT_DIR:
		a->out_dir = val;
		return 0;
	case O_KEEP: {
		char *end;
		unsigned long n = strtoul(val, &end, 10);
		if (!*val || *end || n < 1 || n > 100000)
			return bad("keep-runs", val, "1..100000");
		a->keep_runs = (uint32_t)n;
		return 0;
	}
	case O_EVENTS:
		a->events = val;
		return 0;
	case O_FILE_LIMIT:
		if (vigil_parse_bytes_opt(val, &a->file_limit) < 0)
			return bad("file-limit", val, "a size of at least 4K, e.g. 512M or 2G, or none");
		return 0;
	case O_STALL:
		if (vigil_parse_duration_opt(val, false, &v) < 0)
			return bad("stall-threshold", val, "a duration above 0, such as 5s");
		a->sopts.stall_threshold_ns = v;
		return 0;
	case O_ON_STALL:
		if (strcmp(val, "warn") && strcmp(val, "fail"))
			return bad("on-stall", val, "warn or fail");
		a->sopts.on_stall = val[0] == 'f' ? VIGIL_ON_STALL_FAIL : VIGIL_ON_STALL_WARN;
		return 0;
	case O_FAIL_ON:
		if (vigil_parse_fail_on(val, &a->sopts.fail_on, kind, sizeof(kind)) < 0)
			return bad(
			    "fail-on", kind[0] ? kind : val,
			    "oom, warning, bug, oops, hung-task, soft-lockup, rcu-stall, all");
		return 0;
	case O_EXEC:
		a->on_stall_exec = val;
		return 0;
	case O_UNATTESTED:
		a->on_stall_unattested = true;
		return 0;
	case O_FORCE:
		a->force = true;
		return 0;
	case 'q':
		a->quiet = true;
		return 0;
	case 'v':
		a->verbose = true;
		return 0;
	default:
		fputs("vigil watch: see --help\n", stderr);
		return VIGIL_EXIT_USAGE;
	}
}

int vigil_fleet_args_parse(struct vigil_fleet_args *a, int argc, char **argv)
{
	int c, e;

	memset(a, 0, sizeof(*a));
	a->metrics = FLEET_METRICS_DEFAULT;
	a->keep_runs = FLEET_KEEP_RUNS_DEFAULT;
	a->file_limit = VIGIL_CAP_DEFAULT;
	vigil_session_opts_default(&a->sopts);
	a->sopts.mode = VIGIL_MODE_WATCH;
	a->sopts.boot_timeout_ns = 0;
	a->sopts.ack_exit = false;                     /* an observer never powers a guest off */
	a->sopts.progress_interval_ns = 1000000000ull; /* vCPU times: an RPC each */
	optind = 0;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "+qvh", watch_opts, NULL)) != -1) {
		if (c == 'h') {
			a->help = true;
			return 0;
		}
		if ((e = take(a, c, optarg)) != 0)
			return e;
	}
	if (optind < argc) {
		fprintf(stderr, "vigil watch: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return VIGIL_EXIT_USAGE;
	}
	if (a->on_stall_unattested && !a->on_stall_exec) {
		fputs("vigil watch: --on-stall-unattested needs --on-stall-exec\n", stderr);
		return VIGIL_EXIT_USAGE;
	}
	if (a->token_file && !a->metrics) {
		fputs("vigil watch: --metrics-token-file needs --metrics\n", stderr);
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

int vigil_status_args_parse(struct vigil_status_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "metrics-token-file", required_argument, NULL, O_TOKEN },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->metrics = FLEET_METRICS_DEFAULT;
	optind = 0;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h')
			a->help = true;
		else if (c == O_METRICS)
			a->metrics = optarg;
		else if (c == O_TOKEN)
			a->token_file = optarg;
		else if (c == O_JSON)
			a->json = true;
		else {
			fputs("vigil status: see --help\n", stderr);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigil status: unexpected argument '%s'\n", argv[optind]);
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}
