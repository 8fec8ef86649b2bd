/* SPDX-License-Identifier: MIT */
/*
 * `vigil decode FILE`: replay a recording (`--record`) into a session with
 * the recorded options and print the same events and verdict; or decode a
 * plain byte stream (what the guest wrote to the port) as one burst.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vigil/session.h>

#include "args.h"
#include "cli.h"
#include "junit.h"
#include "record.h"
#include "runner.h"

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
    "  -h, --help          show this help\n";

struct replay {
	struct vigil_rec_reader rd;
	size_t scan; /* where the next provider/probe answer is looked for */
	size_t prog_scan;
	FILE *events;
};

static void dec_event(void *ctx, const struct vigil_event *ev)
{
	struct replay *rp = ctx;
	char *json;
	int n;

	if (!rp->events)
		return;
	n = vigil_event_to_json(ev, &json);
	if (n < 0)
		return;
	fwrite(json, 1, (size_t)n, rp->events);
	fputc('\n', rp->events);
	free(json);
}

/* The next record of a kind after *pos, or NULL; *pos moves past it. */
static int next_of(struct replay *rp, size_t *pos, enum vigil_rec_kind kind, struct vigil_rec *out)
{
	struct vigil_rec_reader r = rp->rd;

	r.off = *pos > r.off ? *pos : r.off;
	while (vigil_rec_next(&r, out) == 1) {
		if (out->kind == kind) {
			*pos = r.off;
			return 1;
		}
	}
	*pos = r.len;
	return 0;
}

static int dec_snapshot(void *ctx, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct replay *rp = ctx;
	struct vigil_rec rec;

	(void)kind;
	(void)tag;
	(void)id;
	if (next_of(rp, &rp->scan, VIGIL_REC_SNAPSHOT_START, &rec) && rec.len >= 4)
		return (int)(int32_t)vigil_le32(rec.data);
	return -EOPNOTSUPP;
}

static int dec_progress(void *ctx, uint64_t *cpu_ns)
{
	struct replay *rp = ctx;
	struct vigil_rec rec;
	int res;

	if (!next_of(rp, &rp->prog_scan, VIGIL_REC_PROGRESS, &rec) || rec.len < 16)
		return -ENOENT;
	res = (int)(int32_t)vigil_le32(rec.data);
	if (res < 0)
		return res;
	*cpu_ns = vigil_le64(rec.data + 8);
	return 0;
}

static int dec_write(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	(void)frame;
	(void)len;
	return 0; /* nothing to send to: the guest is a recording */
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf && done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	*len = done;
	return buf;
}

int vigil_cmd_decode(int argc, char **argv)
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
	const char *events = "-", *verdict = NULL, *junit = NULL;
	struct vigil_session_opts so;
	struct replay rp;
	struct vigil_session *s = NULL;
	const struct vigil_verdict *v;
	struct vigil_rec rec;
	bool quiet = false, is_rec;
	uint64_t t0 = 1000000000ull, last = 0;
	uint8_t *buf;
	size_t len;
	int c, e, code;

	memset(&rp, 0, sizeof(rp));
	vigil_session_opts_default(&so);
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			events = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case 'V':
			verdict = optarg;
			break;
		case 'j':
			junit = optarg;
			break;
		case 's': {
			if (vigil_parse_duration(optarg, &so.stall_threshold_ns) < 0 ||
			    !so.stall_threshold_ns) {
				fprintf(stderr, "vigil decode: bad --stall-threshold '%s'\n",
					optarg);
				return VIGIL_EXIT_USAGE;
			}
			break;
		}
		case 'o':
			if (strcmp(optarg, "warn") && strcmp(optarg, "fail")) {
				fprintf(stderr, "vigil decode: --on-stall wants warn or fail\n");
				return VIGIL_EXIT_USAGE;
			}
			so.on_stall =
			    strcmp(optarg, "fail") ? VIGIL_ON_STALL_WARN : VIGIL_ON_STALL_FAIL;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(decode_usage, stdout);
			return VIGIL_EXIT_OK;
		default:
			fputs(decode_usage, stderr);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(decode_usage, stderr);
		return VIGIL_EXIT_USAGE;
	}
	buf = slurp(argv[optind], &len);
	if (!buf) {
		fprintf(stderr, "vigil decode: cannot read %s: %s\n", argv[optind],
			strerror(errno));
		return VIGIL_EXIT_HARNESS;
	}
	e = vigil_rec_reader_init(&rp.rd, buf, len);
	if (e < 0) {
		fprintf(stderr, "vigil decode: %s is a damaged recording (%s)\n", argv[optind],
			e == -EPROTO ? "another format version" : "bad header");
		free(buf);
		return VIGIL_EXIT_HARNESS;
	}
	is_rec = e == 1;
	if (is_rec && vigil_runner_rec_header_parse(rp.rd.header, rp.rd.header_len, &so, &t0) < 0) {
		fprintf(stderr, "vigil decode: %s has a bad header\n", argv[optind]);
		free(buf);
		return VIGIL_EXIT_HARNESS;
	}
	if (events) {
		rp.events = strcmp(events, "-") ? fopen(events, "we") : stdout;
		if (!rp.events) {
			fprintf(stderr, "vigil decode: cannot write %s: %s\n", events,
				strerror(errno));
			free(buf);
			return VIGIL_EXIT_HARNESS;
		}
	}
	{
		struct vigil_session_hooks h = {
			.sink = { dec_event, &rp },
			.writer = { dec_write, &rp },
			.snapshot = { dec_snapshot, &rp },
			.progress = { dec_progress, &rp },
		};
		if (!is_rec)
			h.progress.sample = NULL; /* nothing recorded: never conclude starvation */
		e = vigil_session_new(&so, &h, t0, &s);
		if (e < 0) {
			fprintf(stderr, "vigil decode: cannot create a session: %s\n",
				strerror(-e));
			free(buf);
			return VIGIL_EXIT_HARNESS;
		}
	}
	last = t0;
	if (!is_rec) {
		vigil_session_link_up(s, t0);
		for (size_t off = 0; off < len; off += 65536)
			vigil_session_feed(s, buf + off, len - off < 65536 ? len - off : 65536, t0);
		vigil_session_tick(s, t0);
	} else {
		bool damaged = false;
		while ((e = vigil_rec_next(&rp.rd, &rec)) == 1) {
			char text[4097];
			size_t tl = rec.len < 4096 ? rec.len : 4096;
			last = rec.t_ns ? rec.t_ns : last;
			/* SNAPSHOT_START and PROGRESS are answers: the replay provider
			 * and probe consume them where the session asks (default below) */
			memcpy(text, rec.data, tl);
			text[tl] = '\0';
			switch (rec.kind) {
			case VIGIL_REC_RX:
				vigil_session_feed(s, rec.data, rec.len, rec.t_ns);
				break;
			case VIGIL_REC_LINK_UP:
				vigil_session_link_up(s, rec.t_ns);
				break;
			case VIGIL_REC_LINK_DOWN:
				vigil_session_link_down(s, rec.t_ns);
				break;
			case VIGIL_REC_VM_STOPPED:
				vigil_session_vm_stopped(s, rec.t_ns);
				break;
			case VIGIL_REC_VM_RESUMED:
				vigil_session_vm_resumed(s, rec.t_ns);
				break;
			case VIGIL_REC_CONSOLE:
				vigil_session_console_line(s, rec.t_ns, text, tl);
				break;
			case VIGIL_REC_CRASHED:
				vigil_session_guest_crashed(s, rec.t_ns, text);
				break;
			case VIGIL_REC_HARNESS_ERROR:
				vigil_session_harness_error(s, rec.t_ns, text);
				break;
			case VIGIL_REC_SNAPSHOT_DONE:
				if (rec.len >= 8) {
					size_t dl = rec.len - 8 < 4096 ? rec.len - 8 : 4096;
					memcpy(text, rec.data + 8, dl);
					text[dl] = '\0';
					vigil_session_snapshot_done(
					    s, vigil_le32(rec.data),
					    (int)(int32_t)vigil_le32(rec.data + 4), text, rec.t_ns);
				}
				break;
			case VIGIL_REC_SHUTDOWN:
				vigil_session_request_shutdown(s, rec.t_ns);
				break;
			case VIGIL_REC_TICK:
				vigil_session_tick(s, rec.t_ns);
				break;
			default:
				break; /* FINISH, answers, kinds of later versions */
			}
			if (rec.kind == VIGIL_REC_FINISH)
				break;
		}
		damaged = e < 0;
		if (damaged && !quiet)
			fprintf(stderr, "vigil decode: the recording ends in a damaged record; "
					"replayed up to it\n");
	}
	v = vigil_session_finish(s, last);
	code = vigil_verdict_exit_code(v);
	if (!quiet) {
		char line[1024];
		vigil_verdict_summary(v, line, sizeof(line));
		fprintf(stderr, "vigil: %s\n", line);
	}
	if (rp.events && rp.events != stdout)
		fclose(rp.events);
	else if (rp.events)
		fflush(rp.events);
	if (verdict) {
		char *json;
		int n = vigil_verdict_to_json(v, VIGIL_JSON_PRETTY, &json);
		FILE *f = n < 0 ? NULL : strcmp(verdict, "-") ? fopen(verdict, "we") : stdout;
		if (f) {
			fwrite(json, 1, (size_t)n, f);
			fputc('\n', f);
			if (f != stdout)
				fclose(f);
		} else {
			fprintf(stderr, "vigil decode: cannot write the verdict to %s\n", verdict);
			code = VIGIL_EXIT_HARNESS;
		}
		if (n >= 0)
			free(json);
	}
	if (junit) {
		FILE *f = fopen(junit, "we");
		if (!f || vigil_junit_write(f, v, "vigil") < 0) {
			fprintf(stderr, "vigil decode: cannot write %s\n", junit);
			code = VIGIL_EXIT_HARNESS;
		}
		if (f)
			fclose(f);
	}
	vigil_session_free(s);
	free(buf);
	return code;
}
