/* SPDX-License-Identifier: MIT */
/* watch: the owner of `vigil run` and `vigil attach` (see watch.h). */
#include "watch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_qemu.h"
#include "backend_socket.h"
#include "cap.h"
#include "cli.h"
#include "finish.h"
#include "guest.h"
#include "loop.h"
#include "qemu.h"
#include "report.h"
#include "term.h"

#define WATCH_STATUS_NS (250 * 1000000ull)
#define WATCH_FLUSH_MS  30000 /* at the end, how long a slow reader gets */
#define WATCH_SAY_BURST    10 /* stall lines said at once ... */
#define WATCH_SAY_EVERY_NS (6 * 1000000000ull) /* ... then one more this often */

struct watch;

/* One guest and what belongs to it: backend, events file, phase, verdict. */
struct wguest {
	struct watch *w;
	const struct vigil_run_opts *o;
	struct vigil_guest *g;
	struct vigil_qemu_be *qemu;     /* run */
	struct vigil_socket_be *socket; /* attach */
	FILE *events;
	bool events_stdout;
	struct vigil_cap events_cap; /* --file-limit on an events file (not stdout) */
	struct vigil_lines say;      /* the rate of stall lines on stderr */
	char held[64];               /* " (N earlier lines not shown)" or "" */
	char phase[96];
	char *note; /* the FINISH record's payload */
	const struct vigil_verdict *v;
	bool out_failed;             /* --verdict, --junit or --report could not be written */
	struct vigil_report *report; /* --report: built as the run goes */
	uint64_t report_t0;          /* the session it belongs to (a restart starts it again) */
	struct vigil_timer *sample;  /* the report's tracker samples */
};

struct watch {
	struct vigil_loop *loop;
	struct wguest *gs;
	size_t n, n_done;
	struct vigil_timer *status;
	int signals; /* SIGINT/SIGTERM/SIGHUP seen */
	bool quiet, verbose;
};

/* The session options a recording carries, as (name, field) pairs. */
#define REC_U64_FIELDS(X)                                                                          \
	X(stall_threshold_ns)                                                                      \
	X(boot_timeout_ns)                                                                         \
	X(workload_duration_ns)                                                                    \
	X(run_timeout_ns)                                                                          \
	X(link_grace_ns)                                                                           \
	X(ping_interval_ns)                                                                        \
	X(progress_interval_ns)

char *vigil_rec_header(const struct vigil_session_opts *so, uint64_t t0_ns, const char *what,
		       struct json_object *provenance, enum vigil_root root)
{
	struct json_object *o = json_object_new_object();
	char *out = NULL;
	const char *txt;

	if (!o)
		return NULL;
	json_object_object_add(o, "format", json_object_new_string("vigil-record"));
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "what", json_object_new_string(what));
	json_object_object_add(o, "t0_ns", json_object_new_uint64(t0_ns));
	json_object_object_add(o, "mode", json_object_new_int((int)so->mode));
	json_object_object_add(o, "on_stall", json_object_new_int((int)so->on_stall));
	json_object_object_add(o, "fail_on", json_object_new_int64(so->fail_on));
	json_object_object_add(o, "tracker_capacity", json_object_new_int64(so->tracker_capacity));
	json_object_object_add(o, "image_mode", json_object_new_boolean(root == VIGIL_ROOT_IMAGE));
	json_object_object_add(o, "rootfs", json_object_new_string(vigil_root_name(root)));
	json_object_object_add(o, "ack_exit", json_object_new_boolean(so->ack_exit));
#define U64(name) json_object_object_add(o, #name, json_object_new_uint64(so->name));
	REC_U64_FIELDS(U64)
#undef U64
	if (provenance) {
		json_object_object_add(o, "provenance", json_object_get(provenance));
		txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		if (!txt || strlen(txt) >= VIGIL_REC_HEADER_MAX) /* a huge argv: leave it out */
			json_object_object_del(o, "provenance");
	}
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	out = txt ? strdup(txt) : NULL;
	json_object_put(o);
	return out;
}

int vigil_rec_header_parse(const char *json, size_t len, struct vigil_session_opts *so,
			   uint64_t *t0_ns, struct json_object **provenance, enum vigil_root *root)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o, *v;

	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, json, (int)len);
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EBADMSG;
	}
#define U64(name)                                                                                  \
	if (json_object_object_get_ex(o, #name, &v))                                               \
		so->name = (uint64_t)json_object_get_uint64(v);
	REC_U64_FIELDS(U64)
#undef U64
	if (json_object_object_get_ex(o, "mode", &v))
		so->mode = (enum vigil_session_mode)json_object_get_int(v);
	if (json_object_object_get_ex(o, "on_stall", &v))
		so->on_stall = (enum vigil_on_stall)json_object_get_int(v);
	if (json_object_object_get_ex(o, "fail_on", &v))
		so->fail_on = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "tracker_capacity", &v))
		so->tracker_capacity = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "ack_exit", &v))
		so->ack_exit = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "t0_ns", &v))
		*t0_ns = json_object_get_uint64(v);
	if (root && json_object_object_get_ex(o, "rootfs", &v))
		*root = vigil_root_parse(json_object_get_string(v));
	else if (root) /* recordings from before --rootfs */
		*root = json_object_object_get_ex(o, "image_mode", &v) && json_object_get_boolean(v)
			    ? VIGIL_ROOT_IMAGE
			    : VIGIL_ROOT_OTHER;
	if (provenance)
		*provenance = json_object_object_get_ex(o, "provenance", &v) &&
				      json_object_is_type(v, json_type_object)
				  ? json_object_get(v)
				  : NULL;
	json_object_put(o);
	return 0;
}

/* ---- events: the file, the terminal -------------------------------------- */

static const char *who(const struct wguest *wg, char *buf, size_t cap);

/* One render buffer for every guest (the loop is single-threaded): an
 * event is written without allocating (OUTPUT chunks, the bulk). */
static char render_buf[VIGIL_EVENT_RENDER_MAX + 1];

/* Past --file-limit, events are counted, not written; the run's last
 * event (run_end) is always written, after one events_truncated line that
 * says how many were not (docs/events.md): two bounded lines past the cap. */
static void events_truncated(struct wguest *wg, const struct vigil_event *ev)
{
	const struct vigil_cap *c = &wg->events_cap;

	fprintf(wg->events,
		"{\"event\":\"events_truncated\",\"t_ns\":%llu,\"mono_ns\":%llu,"
		"\"dropped\":%llu,\"dropped_bytes\":%llu,\"limit\":%llu}\n",
		(unsigned long long)ev->t_ns, (unsigned long long)ev->now_ns,
		(unsigned long long)c->dropped, (unsigned long long)c->dropped_bytes,
		(unsigned long long)c->limit);
}

static void events_write(struct wguest *wg, const struct vigil_event *ev)
{
	int n = vigil_event_render(ev, render_buf, sizeof(render_buf) - 1);
	char name[VIGIL_GUEST_NAME_MAX + 4];

	if (n < 0)
		return;
	render_buf[n] = '\n';
	if (wg->events_stdout) { /* through the terminal's queue: in order, never blocking */
		vigil_term_write(1, render_buf, (size_t)n + 1);
		return;
	}
	if (ev->type == VIGIL_EV_RUN_END) {
		if (wg->events_cap.dropped)
			events_truncated(wg, ev);
	} else if (vigil_cap_take(&wg->events_cap, (size_t)n + 1) != VIGIL_CAP_OK) {
		if (wg->events_cap.dropped == 1)
			vigil_term_warn("%s%s reached --file-limit (%llu bytes): later events are "
				       "counted, not written",
				       who(wg, name, sizeof(name)), wg->o->events_path,
				       (unsigned long long)wg->events_cap.limit);
		return;
	}
	fwrite(render_buf, 1, (size_t)n + 1, wg->events);
	/* a reader following the file (tail -f, a test) sees each event as it
	 * comes; output, the bulk, waits for the buffer or the next event */
	if (ev->type != VIGIL_EV_OUTPUT)
		fflush(wg->events);
}

/* The workload's output on vigil's own stdout and stderr: one guest only
 * (several guests' output goes to their events files). */
static void echo_output(struct wguest *wg, const struct vigil_event *ev)
{
	uint16_t st = ev->output.stream;

	if (wg->w->n > 1)
		return;
	if (st == VIGIL_MSG_STDOUT && !wg->events_stdout) {
		vigil_term_write(1, ev->output.data, ev->output.len);
	} else if (st == VIGIL_MSG_STDERR) {
		vigil_term_write(2, ev->output.data, ev->output.len);
	} else if (wg->o->verbose && (st == VIGIL_MSG_LOG || st == VIGIL_MSG_DMESG)) {
		vigil_term_write(2, ev->output.data, ev->output.len);
		if (ev->output.len && ev->output.data[ev->output.len - 1] != '\n')
			vigil_term_write(2, "\n", 1);
	}
}

static void phase_scenario(struct wguest *wg, const struct vigil_event *ev)
{
	static const char *const ph[] = { "", "running", "paused", "running", "ended" };
	unsigned p = ev->scenario.phase <= 4 ? ev->scenario.phase : 0;

	snprintf(wg->phase, sizeof(wg->phase), "scenario '%.*s' %s",
		 ev->scenario.name.len > 40 ? 40 : (int)ev->scenario.name.len,
		 ev->scenario.name.ptr ? ev->scenario.name.ptr : "", ph[p]);
	for (char *c = wg->phase; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
			*c = '?';
}

/* "" for one guest, "NAME: " for several. */
static const char *who(const struct wguest *wg, char *buf, size_t cap)
{
	if (wg->w->n == 1)
		return "";
	snprintf(buf, cap, "%s: ", vigil_guest_name(wg->g));
	return buf;
}

/* ---- the report -------------------------------------------------------------- */

/* The report of the guest's current session: a session created again (KVM
 * did not run the guest) starts a fresh one. NULL: none wanted, or no memory. */
static struct vigil_report *report_of(struct wguest *wg, struct vigil_guest *g)
{
	uint64_t t0;

	if (!wg->o->report_path || !g)
		return NULL;
	t0 = vigil_guest_t0(g);
	if (wg->report && wg->report_t0 == t0)
		return wg->report;
	vigil_report_free(wg->report);
	wg->report = NULL;
	if (vigil_report_new(&wg->report) < 0)
		return NULL;
	wg->report_t0 = t0;
	if (wg->w->n > 1)
		vigil_report_set_title(wg->report, vigil_guest_name(g));
	return wg->report;
}

static void report_sample(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct wguest *wg = ctx;
	struct vigil_report *r = report_of(wg, wg->g);

	if (r && vigil_guest_state(wg->g) != VIGIL_GUEST_DONE)
		vigil_report_sample(r, vigil_guest_session(wg->g), now, wg->report_t0);
	vigil_timer_arm(t, now + REPORT_SAMPLE_NS);
}

/* At the guest's end: the last sample, the verdict, the page. 1 when it
 * could not be written (said on stderr). */
static int report_write(struct wguest *wg, const struct vigil_finish_in *in)
{
	struct vigil_report *r = report_of(wg, wg->g);
	int e = r ? 0 : -ENOMEM;

	if (!wg->o->report_path)
		return 0;
	vigil_timer_free(wg->sample);
	wg->sample = NULL;
	if (r) {
		vigil_report_sample(r, vigil_guest_session(wg->g), vigil_loop_now(wg->w->loop),
				    wg->report_t0);
		e = vigil_report_finish(r, in);
	}
	if (e == 0)
		e = vigil_report_write_file(r, wg->o->report_path);
	if (e < 0)
		fprintf(stderr, "vigil %s: cannot write the report to %s: %s\n", in->cmd,
			wg->o->report_path, strerror(-e));
	return e < 0;
}

/* Stall and recovery lines, within a rate (cap.h): a guest whose
 * processes stall by the thousand cannot flood the terminal or a log; the
 * events, the verdict and the summary still have every one. */
static bool say_stall(struct wguest *wg, uint64_t now)
{
	wg->held[0] = '\0';
	if (!vigil_lines_take(&wg->say, now, WATCH_SAY_BURST, WATCH_SAY_EVERY_NS))
		return false;
	if (wg->say.dropped)
		snprintf(wg->held, sizeof(wg->held), " (%llu earlier line%s not shown)",
			 (unsigned long long)wg->say.dropped, wg->say.dropped == 1 ? "" : "s");
	wg->say.dropped = 0;
	return true;
}

/* The process stalls said before it are part of it. */
static void say_guest_stall(struct wguest *wg, const struct vigil_stall_info *in, uint64_t now)
{
	char name[VIGIL_GUEST_NAME_MAX + 4], words[160];

	vigil_guest_stall_words(in, words, sizeof(words));
	if (say_stall(wg, now))
		vigil_term_say("%s%s%s", who(wg, name, sizeof(name)), words, wg->held);
}

static void on_event(void *ctx, struct vigil_guest *g, const struct vigil_event *ev)
{
	struct wguest *wg = ctx;
	struct vigil_report *r = report_of(wg, g);
	char name[VIGIL_GUEST_NAME_MAX + 4];

	(void)g;
	if (wg->events)
		events_write(wg, ev);
	if (r)
		vigil_report_event(r, ev);
	switch (ev->type) {
	case VIGIL_EV_OUTPUT:
		echo_output(wg, ev);
		break;
	case VIGIL_EV_FIRST_BYTE:
		snprintf(wg->phase, sizeof(wg->phase), "agent starting");
		break;
	case VIGIL_EV_READY:
		snprintf(wg->phase, sizeof(wg->phase), "ready");
		if (wg->o->verbose)
			vigil_term_say("%sguest ready after %.3f s", who(wg, name, sizeof(name)),
				       (double)ev->t_ns / 1e9);
		break;
	case VIGIL_EV_SCENARIO:
		phase_scenario(wg, ev);
		break;
	case VIGIL_EV_EXIT:
		snprintf(wg->phase, sizeof(wg->phase), "workload exited");
		break;
	case VIGIL_EV_STALL:
		if (say_stall(wg, ev->now_ns))
			vigil_term_say("%sprocess %u stalled: silent for %.2f s%s%s",
				       who(wg, name, sizeof(name)), ev->process.pid,
				       (double)ev->process.silence_ns / 1e9,
				       ev->process.host_starved ? " (host starved the vCPUs)" : "",
				       wg->held);
		break;
	case VIGIL_EV_RECOVERY:
		if (say_stall(wg, ev->now_ns))
			vigil_term_say("%sprocess %u beats again after %.2f s%s",
				       who(wg, name, sizeof(name)), ev->process.pid,
				       (double)ev->process.silence_ns / 1e9, wg->held);
		break;
	case VIGIL_EV_STALL_CLASSIFIED:
		if (ev->classified.info && ev->classified.info->cls == VIGIL_STALL_GUEST)
			say_guest_stall(wg, ev->classified.info, ev->now_ns);
		break;
	case VIGIL_EV_FINDING:
		if (wg->qemu && ev->finding.finding)
			vigil_qemu_be_debug_consider(wg->qemu, ev->finding.finding);
		break;
	default:
		break;
	}
}

/* ---- the status line ------------------------------------------------------------ */

static void status_one(struct wguest *wg, uint64_t now, char *line, size_t cap)
{
	const struct vigil_run_opts *o = wg->o;
	VIGIL_SESSION_COUNTERS(c);

	vigil_session_counters(vigil_guest_session(wg->g), &c);
	snprintf(line, cap,
		 "[vigil %.1fs] %s | procs %u (%u stalled) | tests %llu | flows %u | %s %s",
		 (double)(now - vigil_guest_t0(wg->g)) / 1e9, wg->phase[0] ? wg->phase : "booting",
		 c.tracker.tracked, c.tracker.stalled,
		 (unsigned long long)c.type[VIGIL_MSG_TEST_RESULT].frames, c.flows.open_now,
		 o->attach ? "attach" : vigil_machine_name(o->qemu.machine),
		 o->attach ? (vigil_socket_be_has_qmp(wg->socket) ? "qmp" : "no-qmp")
			   : vigil_qemu_be_accel(wg->qemu));
}

static void status_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct watch *w = ctx;
	char line[256];

	if (w->n_done == w->n) {
		vigil_term_clear();
		return;
	}
	if (w->n == 1) {
		status_one(&w->gs[0], now, line, sizeof(line));
	} else {
		unsigned stalled = 0;
		for (size_t i = 0; i < w->n; i++) {
			VIGIL_SESSION_COUNTERS(c);
			if (vigil_guest_state(w->gs[i].g) == VIGIL_GUEST_DONE)
				continue;
			vigil_session_counters(vigil_guest_session(w->gs[i].g), &c);
			stalled += c.tracker.stalled;
		}
		snprintf(line, sizeof(line),
			 "[vigil] %zu guests: %zu watched, %zu done | %u stalled", w->n,
			 w->n - w->n_done, w->n_done, stalled);
	}
	vigil_term_status(line);
	vigil_timer_arm(t, now + WATCH_STATUS_NS);
}

/* ---- the end ------------------------------------------------------------------ */

static const char *vmm_version(const struct wguest *wg)
{
	return wg->qemu ? vigil_qemu_be_version(wg->qemu) : vigil_socket_be_version(wg->socket);
}

/* The provenance gets QEMU's version (from the QMP greeting) and goes into
 * the FINISH record whole, so `vigil decode` puts the same one in its
 * verdict (the header's copy lacks the version). */
static const char *finish_note(void *ctx, struct vigil_guest *g, size_t *len)
{
	struct wguest *wg = ctx;
	struct json_object *p = wg->o->provenance, *q;
	const char *ver = vmm_version(wg), *txt;

	(void)g;
	if (!p)
		return NULL;
	if (ver && ver[0]) {
		if (!json_object_object_get_ex(p, "qemu", &q)) {
			q = json_object_new_object();
			json_object_object_add(p, "qemu", q);
		}
		json_object_object_add(q, "version", json_object_new_string(ver));
	}
	txt = json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN);
	free(wg->note);
	wg->note = txt ? strdup(txt) : NULL;
	*len = wg->note ? strlen(wg->note) : 0;
	return wg->note;
}

static void summary(struct wguest *wg, const struct vigil_finish_in *in)
{
	if (wg->w->n == 1) {
		vigil_finish_summary(stderr, in);
		return;
	}
	fprintf(stderr, "vigil: %s:\n", vigil_guest_name(wg->g));
	vigil_finish_summary(stderr, in);
}

static void rec_closed(struct wguest *wg, struct vigil_guest *g)
{
	int e = vigil_guest_record_close(g);

	if (e == -EFBIG)
		fprintf(stderr,
			"vigil: the recording %s stops at --file-limit (%llu bytes): `vigil decode` "
			"replays the run up to there\n",
			wg->o->record_path, (unsigned long long)wg->o->file_limit);
	else if (e < 0)
		fprintf(stderr, "vigil: the recording %s is incomplete: a write failed\n",
			wg->o->record_path);
}

static void on_done(void *ctx, struct vigil_guest *g, const struct vigil_verdict *v)
{
	struct wguest *wg = ctx;
	struct watch *w = wg->w;
	struct vigil_finish_in in = {
		.v = v,
		.provenance = wg->o->provenance,
		.root = wg->o->root,
		.verdict_path = wg->o->verdict_path,
		.junit_path = wg->o->junit_path,
		.cmd = wg->o->attach ? "attach" : "run",
	};

	wg->v = v;
	if (wg->events && wg->events != stdout)
		fclose(wg->events);
	wg->events = NULL;
	rec_closed(wg, g);
	if (++w->n_done == w->n)
		vigil_term_detach(WATCH_FLUSH_MS); /* the output first, then the summary */
	if (!wg->o->quiet) {
		vigil_term_clear();
		summary(wg, &in);
	}
	wg->out_failed = vigil_finish_write(&in) != 0;
	wg->out_failed |= report_write(wg, &in) != 0;
	if (w->n_done == w->n)
		vigil_loop_exit(w->loop, 0);
}

/* The worst verdict decides: the highest outcome rank, then its exit code;
 * a passing run whose verdict or JUnit file could not be written is 125. */
static int exit_code(const struct watch *w)
{
	const struct vigil_verdict *worst = NULL;
	bool out_failed = false;
	int code;

	for (size_t i = 0; i < w->n; i++) {
		const struct vigil_verdict *v = w->gs[i].v;
		if (!v)
			return VIGIL_EXIT_HARNESS; /* not finished */
		out_failed |= w->gs[i].out_failed;
		if (!worst || vigil_outcome_rank(v->outcome) > vigil_outcome_rank(worst->outcome))
			worst = v;
	}
	code = worst ? vigil_verdict_exit_code(worst) : VIGIL_EXIT_HARNESS;
	return code == 0 && out_failed ? VIGIL_EXIT_HARNESS : code;
}

/* ---- signals and the loop ---------------------------------------------------- */

static void on_signal(int signo, void *ctx)
{
	struct watch *w = ctx;
	char why[64];
	bool urgent;

	if (signo == SIGWINCH) {
		vigil_term_resize();
		return;
	}
	snprintf(why, sizeof(why), "interrupted by %s", strsignal(signo));
	urgent = w->signals++ > 0; /* a second signal: stop waiting for the guests */
	for (size_t i = 0; i < w->n; i++)
		vigil_guest_interrupt(w->gs[i].g, why, urgent);
}

static bool backlogged(void *ctx, struct vigil_guest *g)
{
	(void)ctx;
	(void)g;
	return vigil_term_backlogged();
}

static void drained(void *ctx)
{
	struct watch *w = ctx;

	for (size_t i = 0; i < w->n; i++)
		if (w->gs[i].g)
			vigil_guest_port_resume(w->gs[i].g);
}

static void on_loop_log(void *ctx, const char *msg)
{
	struct watch *w = ctx;

	if (w->verbose)
		vigil_term_say("%s", msg);
}

static char *rec_header_cb(void *ctx, uint64_t t0)
{
	struct wguest *wg = ctx;

	return vigil_rec_header(&wg->o->sopts, t0, wg->o->attach ? "attach" : "run",
				wg->o->provenance, wg->o->root);
}

/* ---- setup ------------------------------------------------------------------------ */

static int setup(struct watch *w)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH };
	int e = vigil_loop_new(&w->loop);

	if (e < 0)
		return e;
	vigil_loop_set_log(w->loop, on_loop_log, w);
	e = vigil_term_attach(w->loop, drained, w);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]) && e == 0; i++)
		e = vigil_loop_signal(w->loop, sigs[i], on_signal, w);
	if (e == 0 && vigil_term_is_tty() && !w->quiet)
		e = vigil_timer_new(w->loop, status_due, w, &w->status);
	return e;
}

static int open_events(struct wguest *wg)
{
	const char *path = wg->o->events_path;

	if (!path)
		return 0;
	wg->events_stdout = !strcmp(path, "-");
	wg->events_cap = (struct vigil_cap){ .limit = wg->o->file_limit };
	wg->events = wg->events_stdout ? stdout : fopen(path, "we");
	if (!wg->events) {
		fprintf(stderr, "vigil: cannot write events to %s: %s\n", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int start_guest(struct watch *w, struct wguest *wg)
{
	const struct vigil_run_opts *o = wg->o;
	struct vigil_guest_cfg c = {
		.name = o->name ? o->name : "guest",
		.sopts = &o->sopts,
		.sinks = { .event = on_event,
			   .backlogged = backlogged,
			   .finish_note = finish_note,
			   .done = on_done,
			   .ctx = wg },
		.record_path = o->record_path,
		.record_header = rec_header_cb,
		.record_ctx = wg,
		.record_limit = o->file_limit,
	};
	int e = open_events(wg);

	if (e == 0)
		e = o->attach ? vigil_socket_be_new(w->loop, o, &wg->socket)
			      : vigil_qemu_be_new(w->loop, o, &wg->qemu);
	if (e < 0)
		return e;
	c.ops = o->attach ? &vigil_socket_ops : &vigil_qemu_ops;
	c.be = o->attach ? (void *)wg->socket : (void *)wg->qemu;
	e = vigil_guest_new(w->loop, &c, vigil_loop_now(w->loop), &wg->g);
	if (e == 0 && o->report_path &&
	    (e = vigil_timer_new(w->loop, report_sample, wg, &wg->sample)) == 0)
		vigil_timer_arm(wg->sample, vigil_loop_now(w->loop) + REPORT_SAMPLE_NS);
	if (e < 0) {
		c.ops->free(c.be);
		if (e != -ENOMEM && o->record_path)
			fprintf(stderr, "vigil: cannot write the recording %s: %s\n",
				o->record_path, strerror(-e));
		return e;
	}
	return o->attach ? vigil_socket_be_start(wg->socket, wg->g)
			 : vigil_qemu_be_start(wg->qemu, wg->g);
}

int vigil_watch_main(const struct vigil_run_opts *o, size_t n)
{
	struct watch w = { .n = n, .quiet = o[0].quiet, .verbose = o[0].verbose };
	int e, code = VIGIL_EXIT_HARNESS;

	vigil_term_init(w.quiet);
	w.gs = calloc(n, sizeof(*w.gs));
	e = w.gs ? setup(&w) : -ENOMEM;
	for (size_t i = 0; i < n && e == 0; i++) {
		w.gs[i].w = &w;
		w.gs[i].o = &o[i];
		e = start_guest(&w, &w.gs[i]);
	}
	if (e == 0 && w.status)
		vigil_timer_arm(w.status, vigil_loop_now(w.loop));
	if (e == 0) {
		e = vigil_loop_run(w.loop);
		if (e < 0)
			fprintf(stderr, "vigil: event loop failed: %s\n", strerror(-e));
		else
			code = exit_code(&w);
	}
	vigil_term_detach(WATCH_FLUSH_MS);
	for (size_t i = 0; w.gs && i < n; i++) {
		vigil_guest_free(w.gs[i].g); /* kills a QEMU still there, frees its backend */
		if (w.gs[i].events && w.gs[i].events != stdout)
			fclose(w.gs[i].events);
		free(w.gs[i].note);
		vigil_timer_free(w.gs[i].sample);
		vigil_report_free(w.gs[i].report);
	}
	vigil_timer_free(w.status);
	vigil_loop_free(w.loop);
	free(w.gs);
	return code;
}
