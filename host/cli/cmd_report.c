/* SPDX-License-Identifier: MIT */
/*
 * `vigil report`: a run as one HTML page (report.h), from an events file
 * (with its verdict, when given) or from a recording, replayed through the
 * same session code as `vigil decode` (replay.h), which also gives the
 * beats and the verdict. Load: one pass over the input; the page is
 * written at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "replay.h"
#include "report.h"

static const char report_usage[] =
    "usage: vigil report [OPTIONS] -o FILE (--events FILE | RECORDING)\n"
    "\n"
    "Write one self-contained HTML page with the run's timeline: boot phases,\n"
    "scenarios and their pauses, one lane per tracked process with its beats and\n"
    "stalls, VM stops and host starvation, findings and kernel trouble, tests,\n"
    "output volume per stream and flows, under a header with the verdict\n"
    "(docs/report.md). The input is a recording (`vigil run --record`), replayed\n"
    "as `vigil decode` does, or an events file (`--events`, JSON lines), which\n"
    "carries no beats: its lanes show when each process was tracked and silent.\n"
    "\n"
    "  -o, --output FILE|-  the page (required)\n"
    "  --events FILE        read events (JSON lines) instead of a recording\n"
    "  --verdict FILE       with --events: the run's verdict JSON, for the header,\n"
    "                       the evidence, the counters and the provenance\n"
    "  --title TEXT         shown in the page's title and header\n"
    "  -q, --quiet          no message about bad event lines\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 when the page was written; 125 for a usage error or an input\n"
    "that cannot be read.\n";

struct report_args {
	const char *out, *events, *verdict, *title, *recording;
	bool quiet, help;
};

static int report_parse(struct report_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "events", required_argument, NULL, 'e' },
		{ "verdict", required_argument, NULL, 'V' },
		{ "title", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a->out = optarg;
			break;
		case 'e':
			a->events = optarg;
			break;
		case 'V':
			a->verdict = optarg;
			break;
		case 't':
			a->title = optarg;
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'h':
			a->help = true;
			return 0;
		default:
			fputs(report_usage, stderr);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (optind < argc)
		a->recording = argv[optind++];
	if (optind < argc || !a->out || !a->events == !a->recording || (a->verdict && !a->events)) {
		fputs(
		    a->verdict && a->recording
			? "vigil report: --verdict goes with --events (a recording gives its own)\n"
			: report_usage,
		    stderr);
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

/* Every line of the events file into the report. 0, or -1 after a message. */
static int read_events(struct vigil_report *r, const struct report_args *a)
{
	FILE *f = fopen(a->events, "re");
	char *line = NULL;
	size_t cap = 0, bad = 0, lineno = 0, first_bad = 0;
	ssize_t n;

	if (!f) {
		fprintf(stderr, "vigil report: cannot read %s: %s\n", a->events, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n && vigil_report_event_line(r, line, (size_t)n) < 0 && !bad++)
			first_bad = lineno;
	}
	free(line);
	fclose(f);
	if (bad && !a->quiet)
		fprintf(stderr,
			"vigil report: %s: %zu lines are not events (the first: line %zu); "
			"left out\n",
			a->events, bad, first_bad);
	return 0;
}

/* A JSON file (the verdict) into the report. 0, or -1 after a message. */
static int read_verdict(struct vigil_report *r, const char *path)
{
	struct json_object *o = json_object_from_file(path);

	if (!o || !json_object_is_type(o, json_type_object)) {
		fprintf(stderr, "vigil report: %s is not a verdict (JSON object): %s\n", path,
			json_util_get_last_err() ? json_util_get_last_err() : "wrong type");
		json_object_put(o);
		return -1;
	}
	vigil_report_verdict(r, o);
	json_object_put(o);
	return 0;
}

/* The recording replayed into the report. 0, or -1 after a message. */
static int read_recording(struct vigil_report *r, const char *file)
{
	uint8_t *buf;
	size_t len;
	int e;

	buf = vigil_replay_slurp(file, &len);
	if (!buf) {
		fprintf(stderr, "vigil report: cannot read %s: %s\n", file, strerror(errno));
		return -1;
	}
	e = vigil_report_replay(r, file, buf, len, NULL);
	free(buf);
	return e;
}

static int report_write(const struct vigil_report *r, const char *out)
{
	int e;

	if (!strcmp(out, "-")) {
		e = vigil_report_write(r, stdout);
		if (fflush(stdout) != 0 && e == 0)
			e = -errno;
	} else {
		e = vigil_report_write_file(r, out);
	}
	if (e < 0) {
		fprintf(stderr, "vigil report: cannot write %s: %s\n", out, strerror(-e));
		return VIGIL_EXIT_HARNESS;
	}
	return VIGIL_EXIT_OK;
}

int vigil_cmd_report(int argc, char **argv)
{
	struct report_args a;
	struct vigil_report *r = NULL;
	int code = report_parse(&a, argc, argv), e;

	if (code)
		return code;
	if (a.help) {
		fputs(report_usage, stdout);
		return VIGIL_EXIT_OK;
	}
	if (vigil_report_new(&r) < 0) {
		fprintf(stderr, "vigil report: out of memory\n");
		return VIGIL_EXIT_HARNESS;
	}
	if (a.title)
		vigil_report_set_title(r, a.title);
	if (a.events)
		e = read_events(r, &a) < 0 || (a.verdict && read_verdict(r, a.verdict) < 0) ? -1
											    : 0;
	else
		e = read_recording(r, a.recording);
	code = e < 0 ? VIGIL_EXIT_HARNESS : report_write(r, a.out);
	vigil_report_free(r);
	return code;
}
