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
#include "finish.h"
#include "outputs.h"
#include "record.h"
#include "watch.h"

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

/* A recording from a vCPU state probe: its PROGRESS records carry the wait. */
static int dec_state(void *ctx, struct vigil_vcpu_state *st)
{
	struct replay *rp = ctx;
	struct vigil_rec rec;
	int res;

	if (!next_of(rp, &rp->prog_scan, VIGIL_REC_PROGRESS, &rec) || rec.len < 16)
		return -ENOENT;
	res = (int)(int32_t)vigil_le32(rec.data);
	if (res < 0)
		return res;
	st->cpu_ns = vigil_le64(rec.data + 8);
	st->wait_ns = rec.len >= 24 ? vigil_le64(rec.data + 16) : 0;
	st->stopped = (vigil_le32(rec.data + 4) & VIGIL_REC_PROGRESS_STOPPED) != 0;
	return 0;
}

/* Were the samples taken by a vCPU state probe? The first PROGRESS says. */
static bool rec_has_state(struct replay *rp)
{
	size_t pos = 0;
	struct vigil_rec rec;

	return next_of(rp, &pos, VIGIL_REC_PROGRESS, &rec) && rec.len >= 24 &&
	       (vigil_le32(rec.data + 4) & VIGIL_REC_PROGRESS_WAIT);
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

/* One record into the session; answers (SNAPSHOT_START, PROGRESS) are
 * consumed by the replay provider and probe where the session asks. */
static void replay_one(struct vigil_session *s, const struct vigil_rec *rec)
{
	char text[VIGIL_REC_TEXT_MAX + 1];
	size_t tl = rec->len < VIGIL_REC_TEXT_MAX ? rec->len : VIGIL_REC_TEXT_MAX;
	uint32_t a, b;

	memcpy(text, rec->data, tl);
	text[tl] = '\0';
	switch (rec->kind) {
	case VIGIL_REC_RX:
		vigil_session_feed(s, rec->data, rec->len, rec->t_ns);
		break;
	case VIGIL_REC_LINK_UP:
		vigil_session_link_up(s, rec->t_ns);
		break;
	case VIGIL_REC_LINK_DOWN:
		vigil_session_link_down(s, rec->t_ns);
		break;
	case VIGIL_REC_VM_STOPPED:
		vigil_session_vm_stopped(s, rec->t_ns);
		break;
	case VIGIL_REC_VM_RESUMED:
		vigil_session_vm_resumed(s, rec->t_ns);
		break;
	case VIGIL_REC_CONSOLE:
		vigil_session_console_line(s, rec->t_ns, text, tl);
		break;
	case VIGIL_REC_CRASHED:
		vigil_session_guest_crashed(s, rec->t_ns, text);
		break;
	case VIGIL_REC_HARNESS_ERROR:
		vigil_session_harness_error(s, rec->t_ns, text);
		break;
	case VIGIL_REC_VMM_EXITED:
		if (vigil_rec_pair(rec, &a, &b, text) == 0)
			vigil_session_vmm_exited(s, rec->t_ns, (int)(int32_t)a, (int)(int32_t)b,
						 text[0] ? text : NULL);
		break;
	case VIGIL_REC_SNAPSHOT_DONE:
		if (vigil_rec_pair(rec, &a, &b, text) == 0)
			vigil_session_snapshot_done(s, a, (int)(int32_t)b, text, rec->t_ns);
		break;
	case VIGIL_REC_HOST_PAUSED:
		if (rec->len >= 1)
			vigil_session_host_paused(s, rec->t_ns, rec->data[0] != 0);
		break;
	case VIGIL_REC_SHUTDOWN:
		vigil_session_request_shutdown(s, rec->t_ns);
		break;
	case VIGIL_REC_TICK:
		vigil_session_tick(s, rec->t_ns);
		break;
	default:
		break; /* FINISH, answers, kinds of later versions */
	}
}

/* FINISH carries the run's final provenance: it replaces the header's. */
static void finish_provenance(const struct vigil_rec *rec, struct json_object **prov)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (!rec->len || !(tok = json_tokener_new()))
		return;
	o = json_tokener_parse_ex(tok, (const char *)rec->data, (int)rec->len);
	json_tokener_free(tok);
	if (o && json_object_is_type(o, json_type_object)) {
		json_object_put(*prov);
		*prov = o;
	} else {
		json_object_put(o);
	}
}

/* Replay every record up to FINISH; returns the last time seen. */
static uint64_t replay_records(struct replay *rp, struct vigil_session *s, uint64_t last,
			       bool quiet, struct json_object **prov)
{
	struct vigil_rec rec;
	int e;

	while ((e = vigil_rec_next(&rp->rd, &rec)) == 1) {
		last = rec.t_ns ? rec.t_ns : last;
		replay_one(s, &rec);
		if (rec.kind == VIGIL_REC_FINISH) {
			finish_provenance(&rec, prov);
			break;
		}
	}
	if (e < 0 && !quiet)
		fprintf(stderr, "vigil decode: the recording ends in a damaged record; "
				"replayed up to it\n");
	return last;
}

static void feed_plain(struct vigil_session *s, const uint8_t *buf, size_t len, uint64_t t0)
{
	vigil_session_link_up(s, t0);
	for (size_t off = 0; off < len; off += 65536)
		vigil_session_feed(s, buf + off, len - off < 65536 ? len - off : 65536, t0);
	vigil_session_tick(s, t0);
}

static int decode_session(struct replay *rp, struct decode_args *d, bool is_rec, uint64_t t0,
			  struct vigil_session **s)
{
	struct vigil_session_hooks h = {
		.sink = { dec_event, rp },
		.writer = { dec_write, rp },
		.snapshot = { dec_snapshot, rp },
		.progress = { dec_progress, rp },
	};
	int e;

	if (!is_rec)
		h.progress.sample = NULL; /* nothing recorded: never conclude starvation */
	e = vigil_session_new(&d->so, &h, t0, s);
	if (e == 0 && is_rec && rec_has_state(rp)) {
		struct vigil_vcpu_state_probe sp = { dec_state, rp };

		e = vigil_session_set_vcpu_state_probe(*s, &sp);
	}
	if (e < 0)
		fprintf(stderr, "vigil decode: cannot create a session: %s\n", strerror(-e));
	return e;
}

/* The input: a recording (header parsed) or a plain stream. 1 recording,
 * 0 plain, or an exit code < 0 after the message. */
static int decode_open(struct replay *rp, struct decode_args *d, const uint8_t *buf, size_t len,
		       uint64_t *t0, struct json_object **prov, enum vigil_root *root)
{
	int e = vigil_rec_reader_init(&rp->rd, buf, len);

	if (e < 0) {
		fprintf(stderr, "vigil decode: %s is a damaged recording (%s)\n", d->file,
			e == -EPROTO ? "another format version" : "bad header");
		return -1;
	}
	if (e == 1 &&
	    vigil_rec_header_parse(rp->rd.header, rp->rd.header_len, &d->so, t0, prov, root) < 0) {
		fprintf(stderr, "vigil decode: %s has a bad header\n", d->file);
		return -1;
	}
	return e;
}

static int decode_run(struct decode_args *d, uint8_t *buf, size_t len)
{
	struct replay rp;
	struct vigil_session *s = NULL;
	struct json_object *prov = NULL;
	struct vigil_session_counters c;
	uint64_t t0 = 1000000000ull, last;
	enum vigil_root root = VIGIL_ROOT_OTHER;
	int is_rec, code = VIGIL_EXIT_HARNESS;

	memset(&rp, 0, sizeof(rp));
	is_rec = decode_open(&rp, d, buf, len, &t0, &prov, &root);
	if (is_rec < 0)
		return VIGIL_EXIT_HARNESS;
	if (d->events) {
		rp.events = strcmp(d->events, "-") ? fopen(d->events, "we") : stdout;
		if (!rp.events) {
			fprintf(stderr, "vigil decode: cannot write %s: %s\n", d->events,
				strerror(errno));
			goto out;
		}
	}
	if (decode_session(&rp, d, is_rec, t0, &s) < 0)
		goto out;
	last = t0;
	if (is_rec)
		last = replay_records(&rp, s, last, d->quiet, &prov);
	else
		feed_plain(s, buf, len, t0);
	vigil_session_counters(s, &c);
	if (!is_rec && c.stream.frames == 0) {
		fprintf(stderr,
			"vigil decode: %s holds no vigil frame (%zu bytes): it is neither a "
			"recording (vigil run --record) nor a stream from the guest's port\n",
			d->file, len);
		goto out;
	}
	{
		const struct vigil_verdict *v = vigil_session_finish(s, last);
		struct vigil_finish_in in = {
			.v = v,
			.provenance = prov,
			.root = root,
			.verdict_path = d->verdict,
			.junit_path = d->junit,
			.cmd = "decode",
		};
		code = vigil_verdict_exit_code(v);
		if (!d->quiet)
			vigil_finish_summary(stderr, &in);
		if (rp.events)
			fflush(rp.events);
		if (vigil_finish_write(&in))
			code = VIGIL_EXIT_HARNESS;
	}
out:
	if (rp.events && rp.events != stdout)
		fclose(rp.events);
	else if (rp.events)
		fflush(rp.events);
	json_object_put(prov);
	vigil_session_free(s);
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
	buf = slurp(d.file, &len);
	if (!buf) {
		fprintf(stderr, "vigil decode: cannot read %s: %s\n", d.file, strerror(errno));
		return VIGIL_EXIT_HARNESS;
	}
	code = decode_run(&d, buf, len);
	free(buf);
	return code;
}
