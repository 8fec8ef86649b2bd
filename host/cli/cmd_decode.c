/* SPDX-License-Identifier: MIT */
/*
 * `vigil decode FILE`: replay a recording (`--record`) into a session with
 * the recorded options and print the same events and verdict; or decode a
 * plain byte stream (what the guest wrote to the port) as one burst.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/session.h>

#include "args.h"
#include "cli.h"
#include "finish.h"
#include "outputs.h"
#include "replay.h"

static const char decode_usage[] =
    "usage: vigil decode [OPTIONS] FILE\n"
    "\n"
    "Replay FILE, a recording made with `vigil run --record` (or attach), into\n"
    "the same events and verdict, offline. A file that is not a recording is\n"
    "taken as a plain byte stream from the guest's port and decoded at once.\n"
    "Events go to stdout as JSON lines unless --events says otherwise; the\n"
    "summary goes to stderr. The exit status is the one the run had.\n"
    "\n"
    "  --events FILE|-     events (default '-', stdout); 'none' for no events\n"
    "  --verdict FILE|-    the verdict as JSON\n"
    "  --junit FILE        JUnit XML\n"
    "  --stall-threshold DUR, --on-stall warn|fail  for a plain stream\n"
    "  -q, --quiet         no summary\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: the run's (see `vigil run --help`); 125 for a usage error, a\n"
    "file that cannot be read, or one that holds no vigil frame.\n";

static void dec_event(void *ctx, const struct vigil_event *ev)
{
	FILE *events = ctx;
	char *json;
	int n;

	n = vigil_event_to_json(ev, &json);
	if (n < 0)
		return;
	fwrite(json, 1, (size_t)n, events);
	fputc('\n', events);
	free(json);
}

struct decode_args {
	const char *events, *verdict, *junit, *file;
	struct vigil_session_opts so;
	bool quiet, help;
};

static int decode_parse(struct decode_args *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "verdict", required_argument, NULL, 'V' },
		{ "junit", required_argument, NULL, 'j' },
		{ "stall-threshold", required_argument, NULL, 's' },
		{ "on-stall", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(d, 0, sizeof(*d));
	d->events = "-";
	vigil_session_opts_default(&d->so);
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			d->events = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case 'V':
			d->verdict = optarg;
			break;
		case 'j':
			d->junit = optarg;
			break;
		case 's':
			if (vigil_parse_duration_opt(optarg, false, &d->so.stall_threshold_ns) <
			    0) {
				fprintf(stderr,
					"vigil decode: bad value '%s' for --stall-threshold (a "
					"duration above 0, such as 5s)\n",
					optarg);
				return VIGIL_EXIT_USAGE;
			}
			break;
		case 'o':
			if (strcmp(optarg, "warn") && strcmp(optarg, "fail")) {
				fprintf(stderr,
					"vigil decode: bad value '%s' for --on-stall (warn "
					"or fail)\n",
					optarg);
				return VIGIL_EXIT_USAGE;
			}
			d->so.on_stall =
			    strcmp(optarg, "fail") ? VIGIL_ON_STALL_WARN : VIGIL_ON_STALL_FAIL;
			break;
		case 'q':
			d->quiet = true;
			break;
		case 'h':
			d->help = true;
			return 0;
		default:
			fputs(decode_usage, stderr);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(decode_usage, stderr);
		return VIGIL_EXIT_USAGE;
	}
	d->file = argv[optind];
	return 0;
}

static int decode_outputs_check(const struct decode_args *d)
{
	struct vigil_out_paths p = { 0 };
	char err[4200];

	p.path[VIGIL_OUT_EVENTS] = d->events;
	p.path[VIGIL_OUT_VERDICT] = d->verdict;
	p.path[VIGIL_OUT_JUNIT] = d->junit;
	if (vigil_outputs_check(&p, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil decode: %s%s\n", err,
			d->events && !strcmp(d->events, "-") ? " (events go to stdout unless "
							       "--events FILE or --events none)"
							     : "");
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

static int decode_run(struct decode_args *d, uint8_t *buf, size_t len)
{
	struct vigil_replay rp = { .so = d->so, .cmd = "decode", .quiet = d->quiet };
	FILE *events = NULL;
	int code = VIGIL_EXIT_HARNESS;

	if (d->events) {
		events = strcmp(d->events, "-") ? fopen(d->events, "we") : stdout;
		if (!events) {
			fprintf(stderr, "vigil decode: cannot write %s: %s\n", d->events,
				strerror(errno));
			return VIGIL_EXIT_HARNESS;
		}
		rp.event = dec_event;
		rp.ctx = events;
	}
	if (vigil_replay_open(&rp, d->file, buf, len) == 0 &&
	    vigil_replay_run(&rp, d->file, buf, len) == 0) {
		const struct vigil_verdict *v = vigil_session_finish(rp.s, rp.last_ns);
		struct vigil_finish_in in = {
			.v = v,
			.provenance = rp.provenance,
			.root = rp.root,
			.verdict_path = d->verdict,
			.junit_path = d->junit,
			.cmd = "decode",
		};
		code = vigil_verdict_exit_code(v);
		if (!d->quiet)
			vigil_finish_summary(stderr, &in);
		if (events)
			fflush(events);
		if (vigil_finish_write(&in))
			code = VIGIL_EXIT_HARNESS;
	}
	if (events && events != stdout)
		fclose(events);
	else if (events)
		fflush(events);
	vigil_replay_free(&rp);
	return code;
}

int vigil_cmd_decode(int argc, char **argv)
{
	struct decode_args d;
	uint8_t *buf;
	size_t len;
	int code = decode_parse(&d, argc, argv);

	if (code)
		return code;
	if (d.help) {
		fputs(decode_usage, stdout);
		return VIGIL_EXIT_OK;
	}
	code = decode_outputs_check(&d);
	if (code)
		return code;
	buf = vigil_replay_slurp(d.file, &len);
	if (!buf) {
		fprintf(stderr, "vigil decode: cannot read %s: %s\n", d.file, strerror(errno));
		return VIGIL_EXIT_HARNESS;
	}
	code = decode_run(&d, buf, len);
	free(buf);
	return code;
}
