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
#include "cli.h"
#include "finish.h"
#include "guest.h"
#include "loop.h"
#include "qemu.h"
#include "term.h"

#define WATCH_STATUS_NS (250 * 1000000ull)
#define WATCH_FLUSH_MS  30000 /* at the end, how long a slow reader gets */

struct watch {
	const struct vigil_run_opts *o;
	struct vigil_loop *loop;
	struct vigil_guest *g;
	struct vigil_qemu_be *qemu;     /* run */
	struct vigil_socket_be *socket; /* attach */
	struct vigil_timer *status;
	FILE *events;
	bool events_stdout;
	int signals; /* SIGINT/SIGTERM/SIGHUP seen */
	int code;    /* the exit code, once the guest is done */
	char phase[96];
	char *note; /* the FINISH record's payload */
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
		       struct json_object *provenance, bool image_mode)
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
	json_object_object_add(o, "image_mode", json_object_new_boolean(image_mode));
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
			   uint64_t *t0_ns, struct json_object **provenance, bool *image_mode)
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
	if (image_mode)
		*image_mode =
		    json_object_object_get_ex(o, "image_mode", &v) && json_object_get_boolean(v);
	if (provenance)
		*provenance = json_object_object_get_ex(o, "provenance", &v) &&
				      json_object_is_type(v, json_type_object)
				  ? json_object_get(v)
				  : NULL;
	json_object_put(o);
	return 0;
}

/* ---- events: the file, the terminal -------------------------------------- */

static void events_write(struct watch *w, const struct vigil_event *ev)
{
	char *json;
	int n = vigil_event_to_json(ev, &json);

	if (n < 0)
		return;
	if (w->events_stdout) {
		/* through the terminal's stdout queue: in order, never blocking */
		json[n] = '\n';
		vigil_term_write(1, json, (size_t)n + 1);
	} else {
		fwrite(json, 1, (size_t)n, w->events);
		fputc('\n', w->events);
	}
	free(json);
}

static void echo_output(struct watch *w, const struct vigil_event *ev)
{
	uint16_t st = ev->output.stream;

	if (st == VIGIL_MSG_STDOUT && !w->events_stdout) {
		vigil_term_write(1, ev->output.data, ev->output.len);
	} else if (st == VIGIL_MSG_STDERR) {
		vigil_term_write(2, ev->output.data, ev->output.len);
	} else if (w->o->verbose && (st == VIGIL_MSG_LOG || st == VIGIL_MSG_DMESG)) {
		vigil_term_write(2, ev->output.data, ev->output.len);
		if (ev->output.len && ev->output.data[ev->output.len - 1] != '\n')
			vigil_term_write(2, "\n", 1);
	}
}

static void phase_scenario(struct watch *w, const struct vigil_event *ev)
{
	static const char *const ph[] = { "", "running", "paused", "running", "ended" };
	unsigned p = ev->scenario.phase <= 4 ? ev->scenario.phase : 0;

	snprintf(w->phase, sizeof(w->phase), "scenario '%.*s' %s",
		 ev->scenario.name.len > 40 ? 40 : (int)ev->scenario.name.len,
		 ev->scenario.name.ptr ? ev->scenario.name.ptr : "", ph[p]);
	for (char *c = w->phase; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
			*c = '?';
}

static void on_event(void *ctx, struct vigil_guest *g, const struct vigil_event *ev)
{
	struct watch *w = ctx;

	(void)g;
	if (w->events)
		events_write(w, ev);
	switch (ev->type) {
	case VIGIL_EV_OUTPUT:
		echo_output(w, ev);
		break;
	case VIGIL_EV_FIRST_BYTE:
		snprintf(w->phase, sizeof(w->phase), "agent starting");
		break;
	case VIGIL_EV_READY:
		snprintf(w->phase, sizeof(w->phase), "ready");
		if (w->o->verbose)
			vigil_term_say("guest ready after %.3f s", (double)ev->t_ns / 1e9);
		break;
	case VIGIL_EV_SCENARIO:
		phase_scenario(w, ev);
		break;
	case VIGIL_EV_EXIT:
		snprintf(w->phase, sizeof(w->phase), "workload exited");
		break;
	case VIGIL_EV_STALL:
		vigil_term_say("process %u stalled: silent for %.2f s%s", ev->process.pid,
			       (double)ev->process.silence_ns / 1e9,
			       ev->process.host_starved ? " (host starved the vCPUs)" : "");
		break;
	case VIGIL_EV_RECOVERY:
		vigil_term_say("process %u beats again after %.2f s", ev->process.pid,
			       (double)ev->process.silence_ns / 1e9);
		break;
	default:
		break;
	}
}

/* ---- the status line ------------------------------------------------------------ */

static void status_due(struct vigil_timer *t, uint64_t now, void *ctx)
{
	struct watch *w = ctx;
	struct vigil_session_counters c;
	char line[256];

	if (vigil_guest_state(w->g) != VIGIL_GUEST_WATCH) {
		vigil_term_clear();
		return;
	}
	vigil_session_counters(vigil_guest_session(w->g), &c);
	snprintf(line, sizeof(line),
		 "[vigil %.1fs] %s | procs %u (%u stalled) | tests %llu | flows %u | %s %s",
		 (double)(now - vigil_guest_t0(w->g)) / 1e9, w->phase[0] ? w->phase : "booting",
		 c.tracker.tracked, c.tracker.stalled,
		 (unsigned long long)c.type[VIGIL_MSG_TEST_RESULT].frames, c.flows.open_now,
		 w->o->attach ? "attach" : vigil_machine_name(w->o->qemu.machine),
		 w->o->attach ? (vigil_socket_be_has_qmp(w->socket) ? "qmp" : "no-qmp")
			      : vigil_qemu_be_accel(w->qemu));
	vigil_term_status(line);
	vigil_timer_arm(t, now + WATCH_STATUS_NS);
}

/* ---- the end ------------------------------------------------------------------ */

/* The provenance gets QEMU's version (from the QMP greeting) and goes into
 * the FINISH record whole, so `vigil decode` puts the same one in its
 * verdict (the header's copy lacks the version). */
static const char *finish_note(void *ctx, struct vigil_guest *g, size_t *len)
{
	struct watch *w = ctx;
	struct json_object *p = w->o->provenance, *q;
	const char *ver =
	    w->qemu ? vigil_qemu_be_version(w->qemu) : vigil_socket_be_version(w->socket);
	const char *txt;

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
	free(w->note);
	w->note = txt ? strdup(txt) : NULL;
	*len = w->note ? strlen(w->note) : 0;
	return w->note;
}

static void on_done(void *ctx, struct vigil_guest *g, const struct vigil_verdict *v)
{
	struct watch *w = ctx;
	struct vigil_finish_in in = {
		.v = v,
		.provenance = w->o->provenance,
		.image_mode = w->o->image_mode,
		.verdict_path = w->o->verdict_path,
		.junit_path = w->o->junit_path,
		.cmd = w->o->attach ? "attach" : "run",
	};

	w->code = vigil_verdict_exit_code(v);
	if (w->events)
		fflush(w->events);
	vigil_term_detach(WATCH_FLUSH_MS); /* the output first, then the summary */
	if (vigil_guest_record_close(g) < 0)
		fprintf(stderr, "vigil: the recording %s is incomplete: a write failed\n",
			w->o->record_path);
	if (!w->o->quiet) {
		vigil_term_clear();
		vigil_finish_summary(stderr, &in);
	}
	if (vigil_finish_write(&in) && w->code == 0)
		w->code = VIGIL_EXIT_HARNESS;
	vigil_loop_exit(w->loop, 0);
}

/* ---- signals ------------------------------------------------------------------ */

static void on_signal(int signo, void *ctx)
{
	struct watch *w = ctx;
	char why[64];

	if (signo == SIGWINCH) {
		vigil_term_resize();
		return;
	}
	snprintf(why, sizeof(why), "interrupted by %s", strsignal(signo));
	/* a second signal: stop waiting for the guest */
	vigil_guest_interrupt(w->g, why, w->signals++ > 0);
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

	if (w->g)
		vigil_guest_port_resume(w->g);
}

static void on_loop_log(void *ctx, const char *msg)
{
	struct watch *w = ctx;

	if (w->o->verbose)
		vigil_term_say("%s", msg);
}

static char *rec_header_cb(void *ctx, uint64_t t0)
{
	struct watch *w = ctx;

	return vigil_rec_header(&w->o->sopts, t0, w->o->attach ? "attach" : "run", w->o->provenance,
				w->o->image_mode);
}

/* ---- setup ------------------------------------------------------------------------ */

static int setup(struct watch *w)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH };
	const struct vigil_run_opts *o = w->o;
	int e = vigil_loop_new(&w->loop);

	if (e < 0)
		return e;
	vigil_loop_set_log(w->loop, on_loop_log, w);
	e = vigil_term_attach(w->loop, drained, w);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]) && e == 0; i++)
		e = vigil_loop_signal(w->loop, sigs[i], on_signal, w);
	if (e == 0 && vigil_term_is_tty() && !o->quiet)
		e = vigil_timer_new(w->loop, status_due, w, &w->status);
	if (e < 0)
		return e;
	if (o->events_path) {
		w->events_stdout = !strcmp(o->events_path, "-");
		w->events = w->events_stdout ? stdout : fopen(o->events_path, "we");
		if (!w->events) {
			fprintf(stderr, "vigil: cannot write events to %s: %s\n", o->events_path,
				strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int start_guest(struct watch *w)
{
	const struct vigil_run_opts *o = w->o;
	struct vigil_guest_cfg c = {
		.name = o->attach ? o->socket_path : "guest",
		.sopts = &o->sopts,
		.sinks = { .event = on_event,
			   .backlogged = backlogged,
			   .finish_note = finish_note,
			   .done = on_done,
			   .ctx = w },
		.record_path = o->record_path,
		.record_header = rec_header_cb,
		.record_ctx = w,
	};
	int e = o->attach ? vigil_socket_be_new(w->loop, o, &w->socket)
			  : vigil_qemu_be_new(w->loop, o, &w->qemu);

	if (e < 0)
		return e;
	c.ops = o->attach ? &vigil_socket_ops : &vigil_qemu_ops;
	c.be = o->attach ? (void *)w->socket : (void *)w->qemu;
	e = vigil_guest_new(w->loop, &c, vigil_loop_now(w->loop), &w->g);
	if (e < 0) {
		c.ops->free(c.be);
		if (e != -ENOMEM && o->record_path)
			fprintf(stderr, "vigil: cannot write the recording %s: %s\n",
				o->record_path, strerror(-e));
		return e;
	}
	if (w->status)
		vigil_timer_arm(w->status, vigil_loop_now(w->loop));
	return o->attach ? vigil_socket_be_start(w->socket, w->g)
			 : vigil_qemu_be_start(w->qemu, w->g);
}

int vigil_watch_main(const struct vigil_run_opts *o)
{
	struct watch w = { .o = o, .code = VIGIL_EXIT_HARNESS };
	int e;

	vigil_term_init(o->quiet);
	e = setup(&w);
	if (e == 0)
		e = start_guest(&w);
	if (e == 0) {
		e = vigil_loop_run(w.loop);
		if (e < 0)
			fprintf(stderr, "vigil: event loop failed: %s\n", strerror(-e));
	}
	vigil_term_detach(WATCH_FLUSH_MS);
	vigil_guest_free(w.g); /* kills a QEMU still there, frees its backend */
	vigil_timer_free(w.status);
	if (w.events && w.events != stdout)
		fclose(w.events);
	vigil_loop_free(w.loop);
	free(w.note);
	return w.g && e >= 0 ? w.code : VIGIL_EXIT_HARNESS;
}
