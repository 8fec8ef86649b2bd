/* SPDX-License-Identifier: MIT */
/*
 * report_html: the page of a report (see report.h): one HTML file with
 * inline CSS, one inline SVG timeline (hover: SVG <title>) and a few lines
 * of script for zoom; readable without the script. Every string that came
 * from the guest or the command line goes through vigil_xml_escape().
 * Size: bounded by the model's tables (docs/report.md has the figures).
 */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "junit.h"
#include "report_int.h"

#define W        1000.0 /* the time SVG's width at zoom 1 */
#define LABEL_W  200    /* the label SVG's width, left of it */
#define X0       8.0    /* the time axis inside the time SVG */
#define X1       990.0
#define LANE_H   18
#define OUT_COLS 2 /* output bins drawn per column: 240 columns */

/* The layout of one page. */
struct lay {
	const struct vigil_report *r;
	FILE *f;     /* the time SVG */
	FILE *lab;   /* the label SVG beside it (a memory stream) */
	double span; /* ns the axis covers */
	uint32_t lanes[REPORT_LANES];
	uint32_t n_lanes;
	int y; /* the next row's top */
};

static double xt(const struct lay *L, uint64_t t)
{
	double x = X0 + (X1 - X0) * ((double)t / L->span);

	return x > X1 ? X1 : x;
}

static void esc(FILE *f, const char *s)
{
	vigil_xml_escape(f, s, strlen(s));
}

static const char *secs(char *buf, size_t cap, uint64_t ns)
{
	snprintf(buf, cap, "%.3f s", (double)ns / 1e9);
	return buf;
}

static const char *human_bytes(char *buf, size_t cap, uint64_t b)
{
	if (b < 1024)
		snprintf(buf, cap, "%llu B", (unsigned long long)b);
	else if (b < 1024 * 1024)
		snprintf(buf, cap, "%.1f KiB", (double)b / 1024);
	else
		snprintf(buf, cap, "%.1f MiB", (double)b / (1024.0 * 1024));
	return buf;
}

/* ---- the verdict JSON -------------------------------------------------------- */

static struct json_object *vget(const struct vigil_report *r, const char *key)
{
	struct json_object *v;

	return r->verdict && json_object_object_get_ex(r->verdict, key, &v) ? v : NULL;
}

static const char *outcome_of(const struct vigil_report *r)
{
	struct json_object *v = vget(r, "outcome");

	if (v && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return r->have_run_end ? r->outcome : "UNKNOWN";
}

static int exit_code_of(const struct vigil_report *r)
{
	struct json_object *v = vget(r, "exit_code");

	return v ? json_object_get_int(v) : r->exit_code;
}

/* The verdict's evidence of the finding found at t with this outcome,
 * lines joined, into buf; "" when none. */
static void evidence_of(const struct vigil_report *r, const struct report_finding *x, char *buf,
			size_t cap)
{
	struct json_object *a = vget(r, "findings"), *f, *ev, *line, *src;
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0;
	     a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a); i++) {
		f = json_object_array_get_idx(a, i);
		if (!json_object_object_get_ex(f, "t_ns", &ev) ||
		    json_object_get_uint64(ev) != x->t_ns ||
		    !json_object_object_get_ex(f, "outcome", &ev) ||
		    strcmp(json_object_get_string(ev), x->outcome) ||
		    !json_object_object_get_ex(f, "evidence", &ev) ||
		    !json_object_is_type(ev, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(ev) && off + 1 < cap; j++) {
			struct json_object *e = json_object_array_get_idx(ev, j);
			if (!json_object_object_get_ex(e, "line", &line) ||
			    !json_object_object_get_ex(e, "source", &src))
				continue;
			int n = snprintf(buf + off, cap - off, "%s%s: %s", off ? "\n" : "",
					 json_object_get_string(src), json_object_get_string(line));
			off = n < 0 ? off : off + (size_t)n >= cap ? cap - 1 : off + (size_t)n;
		}
		return;
	}
}

/* ---- head and header ------------------------------------------------------- */

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0 16px 32px;color:#1b1f24;background:#fff}"
    "h1{font-size:20px;margin:12px 0 4px}h2{font-size:16px;margin:20px 0 6px}"
    ".badge{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;"
    "background:#1a7f37}.bad .badge{background:#cf222e}"
    ".story{font-size:15px;margin:6px 0}.story li{margin:2px 0}"
    ".facts{color:#57606a;font-size:12px}"
    ".scroll{overflow-x:auto;border:1px solid #d0d7de}"
    "svg text{font:11px system-ui,sans-serif;fill:#1b1f24}svg .lab{font-size:11px}"
    "svg .dim{fill:#57606a}"
    "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #d0d7de;"
    "padding:2px 6px;text-align:left;vertical-align:top}th{background:#f6f8fa}"
    "pre{background:#f6f8fa;padding:6px;font-size:12px;white-space:pre-wrap;"
    "word-break:break-all;max-height:30em;overflow:auto}"
    ".legend span{display:inline-block;margin-right:14px;font-size:12px}"
    ".sw{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}"
    ".zoom button{margin-right:4px}.stalled td{background:#ffebe9}"
    ".tl{display:flex}.tl .labels{order:-1;flex:none;border:1px solid #d0d7de;border-right:0}"
    "#tl line,#tl rect{vector-effect:non-scaling-stroke}"
    ".tl .scroll{flex:1}svg .lab.stalled{fill:#cf222e;font-weight:bold}svg "
    ".on-red{fill:#fff;font-weight:bold}";

static void page_head(FILE *f, const struct vigil_report *r)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\n"
	      "<meta name=\"viewport\" content=\"width=device-width\"/>\n<title>vigil report: ",
	      f);
	esc(f, outcome_of(r));
	if (r->title[0]) {
		fputs(" \xe2\x80\x94 ", f);
		esc(f, r->title);
	}
	fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n", css);
}

/* A provenance value by path ("qemu", "version"), or NULL. */
static const char *prov(const struct vigil_report *r, const char *a, const char *b)
{
	struct json_object *p = vget(r, "provenance"), *v;

	if (!p || !json_object_object_get_ex(p, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void fact(FILE *f, const char *name, const char *value)
{
	if (!value || !value[0])
		return;
	fprintf(f, "%s: <b>", name);
	esc(f, value);
	fputs("</b> \xc2\xb7 ", f);
}

static void facts(FILE *f, const struct vigil_report *r)
{
	struct json_object *p = vget(r, "provenance"), *argv;

	fputs("<p class=\"facts\" id=\"facts\">", f);
	fact(f, "guest kernel", r->kernel_release);
	fact(f, "hostname", r->hostname);
	fact(f, "agent", r->agent_version);
	fact(f, "vigil", prov(r, "vigil_version", NULL));
	fact(f, "kernel file", prov(r, "kernel", "path"));
	fact(f, "QEMU", prov(r, "qemu", "version"));
	fact(f, "accel", prov(r, "accel", NULL));
	fact(f, "scenario", prov(r, "workload", "scenario"));
	if (p && json_object_object_get_ex(p, "workload", &argv) &&
	    json_object_object_get_ex(argv, "argv", &argv) &&
	    json_object_is_type(argv, json_type_array)) {
		fputs("command: <code>", f);
		for (size_t i = 0; i < json_object_array_length(argv) && i < 64; i++) {
			if (i)
				fputc(' ', f);
			esc(f, json_object_get_string(json_object_array_get_idx(argv, i)));
		}
		fputs("</code>", f);
	}
	fputs("</p>\n", f);
}

static const struct report_proc *proc_of(const struct vigil_report *r, uint32_t pid)
{
	return report_proc((struct vigil_report *)r, pid, false);
}

/* One stall in words, as the story and the hover say it. */
static void stall_words(FILE *f, const struct vigil_report *r, const struct report_stall *s,
			bool html)
{
	const struct report_proc *p = proc_of(r, s->pid);
	char a[32], b[32], c[32];
	uint64_t start = s->t_ns > s->silence_ns ? s->t_ns - s->silence_ns : 0;

	fprintf(f, html ? "<b>pid %u</b>" : "pid %u", s->pid);
	if (p && p->comm[0]) {
		fputs(" (", f);
		esc(f, p->comm);
		fputc(')', f);
	}
	fprintf(f, " stopped beating at %s and was silent %s when found (deadline %s)",
		secs(a, sizeof(a), start), secs(b, sizeof(b), s->silence_ns),
		secs(c, sizeof(c), s->deadline_ns));
	if (s->cls[0]) {
		fputs(html ? "; class <b>" : "; class ", f);
		esc(f, s->cls);
		fputs(html ? "</b>" : "", f);
		if (s->why[0]) {
			fputs(": ", f);
			esc(f, s->why);
		}
	}
	if (s->host_starved)
		fputs("; the host starved the vCPUs (HOST_STARVED)", f);
	if (s->recovered_ns)
		fprintf(f, "; it beat again at %s, after %s of silence",
			secs(a, sizeof(a), s->recovered_ns),
			secs(b, sizeof(b), s->whole_silence_ns));
	else if (s->gone_ns)
		fprintf(f, "; it left the tracker at %s", secs(a, sizeof(a), s->gone_ns));
	else
		fputs("; it was still silent at the end", f);
}

static void story(FILE *f, const struct vigil_report *r)
{
	uint32_t told = 0, trouble = 0;

	fputs("<ul class=\"story\" id=\"story\">\n", f);
	for (uint32_t i = 0; i < r->n_stalls && i < 3; i++, told++) {
		fputs("<li>", f);
		stall_words(f, r, &r->stalls[i], true);
		fputs("</li>\n", f);
	}
	if (r->n_stalls > 3)
		fprintf(f, "<li>%u more stalls: see the table below</li>\n", r->n_stalls - 3);
	for (uint32_t i = 0; i < r->n_findings; i++) {
		const struct report_finding *x = &r->findings[i];
		if (x->trouble[0] && trouble++ >= 3)
			continue;
		if (!x->trouble[0] && (!x->fatal || strstr(x->outcome, "STALL")))
			continue;
		fputs("<li><b>", f);
		esc(f, x->outcome);
		fprintf(f, "</b>%s at %.3f s: ", x->fatal ? "" : " (not fatal)",
			(double)x->t_ns / 1e9);
		esc(f, x->detail);
		fputs("</li>\n", f);
		told++;
	}
	if (trouble > 3)
		fprintf(f, "<li>%u more kernel trouble reports below</li>\n", trouble - 3);
	if (!told)
		fputs("<li>No stall and no finding.</li>\n", f);
	fputs("</ul>\n", f);
}

static void header(FILE *f, const struct vigil_report *r)
{
	const char *o = outcome_of(r);

	fprintf(f, "<header class=\"%s\">\n<h1><span class=\"badge\" id=\"outcome\">",
		strcmp(o, "PASS") ? "bad" : "ok");
	esc(f, o);
	fprintf(f, "</span> exit <span id=\"exit-code\">%d</span> \xc2\xb7 %.2f s", exit_code_of(r),
		(double)r->end_ns / 1e9);
	if (r->title[0]) {
		fputs(" \xc2\xb7 ", f);
		esc(f, r->title);
	}
	fputs("</h1>\n", f);
	story(f, r);
	facts(f, r);
	fputs("</header>\n", f);
}

/* ---- the timeline -------------------------------------------------------- */

#define AXIS_H 24
#define ROW_H  18
#define OUT_H  26

/* Lanes: stalled processes first (by their first stall), then the most beats. */
static int lane_cmp(const void *a, const void *b, void *ctx)
{
	const struct vigil_report *r = ctx;
	const struct report_proc *p = &r->procs[*(const uint32_t *)a],
				 *q = &r->procs[*(const uint32_t *)b];

	if (!!p->stalls != !!q->stalls)
		return p->stalls ? -1 : 1;
	if (p->stalls && p->first_stall_ns != q->first_stall_ns)
		return p->first_stall_ns < q->first_stall_ns ? -1 : 1;
	if (p->beats != q->beats)
		return p->beats > q->beats ? -1 : 1;
	return p->pid < q->pid ? -1 : p->pid > q->pid;
}

static int n_out_rows(const struct vigil_report *r)
{
	int n = 0;

	for (int s = 0; s < REPORT_STREAMS; s++)
		n += s == 0 || r->out_total[s] > 0;
	return n;
}

static int timeline_height(const struct lay *L)
{
	const struct vigil_report *r = L->r;

	return AXIS_H + 2 * ROW_H + (L->n_lanes ? (int)L->n_lanes : 1) * LANE_H + 3 * ROW_H +
	       n_out_rows(r) * OUT_H + (r->flows_open_total + r->flows_close_total ? OUT_H : 0) + 6;
}

static void lay_init(struct lay *L, const struct vigil_report *r, FILE *f)
{
	uint32_t all[REPORT_PROCS_MAX];

	memset(L, 0, sizeof(*L));
	L->r = r;
	L->f = f;
	L->span = (double)(r->end_ns > 1000000 ? r->end_ns : 1000000);
	for (uint32_t i = 0; i < r->n_procs; i++)
		all[i] = i;
	qsort_r(all, r->n_procs, sizeof(all[0]), lane_cmp, (void *)r);
	L->n_lanes = r->n_procs < REPORT_LANES ? r->n_procs : REPORT_LANES;
	memcpy(L->lanes, all, L->n_lanes * sizeof(all[0]));
}

/* 1, 2 or 5 times a power of ten: about 10 ticks over the span. */
static uint64_t tick_step(double span)
{
	uint64_t step = 1000; /* 1 us */

	for (;;) {
		if (span / (double)step <= 10)
			return step;
		if (span / (double)(step * 2) <= 10)
			return step * 2;
		if (span / (double)(step * 5) <= 10)
			return step * 5;
		step *= 10;
	}
}

static void axis(struct lay *L, int height)
{
	FILE *f = L->f;
	uint64_t step = tick_step(L->span);

	fprintf(f, "<g class=\"axis\">");
	/* t stops before it wraps: a recording's times can reach 2^64 */
	for (uint64_t t = 0; (double)t <= L->span; t += step) {
		double x = xt(L, t);
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eaeef2\"/>"
			"<text x=\"%.1f\" y=\"14\" text-anchor=\"middle\" class=\"dim\">%g</text>",
			x, AXIS_H - 4, x, height, x, (double)t / 1e9);
		if (t > UINT64_MAX - step)
			break;
	}
	fputs("</g>\n", f);
	fprintf(L->lab, "<text x=\"4\" y=\"14\" class=\"dim\">host time (s)</text>\n");
	L->y = AXIS_H;
}

/* "<rect ...>" from x0 to x1 (at least 2 px wide); the caller adds its
 * <title> and closes it. extra: more attributes, or "". */
static void rect_open(FILE *f, double x0, double x1, int y, int h, const char *fill,
		      const char *extra)
{
	double w = x1 - x0 < 2 ? 2 : x1 - x0;

	fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"%s>", x0, y,
		w, h, fill, extra);
}

/* A row's name in the label SVG, which stays put when the time SVG scrolls. */
static void label(struct lay *L, int y, const char *text, const char *cls)
{
	fprintf(L->lab, "<text x=\"4\" y=\"%d\" class=\"lab %s\">", y + 13, cls);
	esc(L->lab, text);
	fputs("</text>\n", L->lab);
}

/* VM stops and host starvation, behind every row. */
static void shading(struct lay *L, int height)
{
	const struct vigil_report *r = L->r;
	FILE *f = L->f;
	char a[32], b[32];

	fputs("<g class=\"shade\">", f);
	for (uint32_t i = 0; i < r->n_stops; i++) {
		const struct report_span *s = &r->stops[i];
		uint64_t end = s->end_ns ? s->end_ns : r->end_ns;
		rect_open(f, xt(L, s->start_ns), xt(L, end), AXIS_H, height - AXIS_H,
			  "url(#stopped)", " class=\"vm-stopped\"");
		fprintf(f,
			"<title>VM stopped from %s to %s (not the guest's time: no stall runs "
			"on it)</title></rect>",
			secs(a, sizeof(a), s->start_ns), secs(b, sizeof(b), end));
	}
	for (uint32_t i = 0; i < r->n_stalls; i++) {
		const struct report_stall *s = &r->stalls[i];
		uint64_t start = s->t_ns > s->silence_ns ? s->t_ns - s->silence_ns : 0;
		if (!s->host_starved)
			continue;
		rect_open(f, xt(L, start), xt(L, s->t_ns), AXIS_H, height - AXIS_H, "#fff1d6",
			  " class=\"host-starved\"");
		fprintf(f,
			"<title>host starved: the vCPUs got almost no CPU time late in the "
			"silence of pid %u (%s to %s)</title></rect>",
			s->pid, secs(a, sizeof(a), start), secs(b, sizeof(b), s->t_ns));
	}
	fputs("</g>\n", f);
}

static void boot_seg(struct lay *L, uint64_t a, uint64_t b, const char *fill, const char *what)
{
	char s1[32], s2[32];

	if (b <= a)
		return;
	rect_open(L->f, xt(L, a), xt(L, b), L->y + 3, ROW_H - 6, fill, "");
	fprintf(L->f, "<title>%s: %s to %s</title></rect>", what, secs(s1, sizeof(s1), a),
		secs(s2, sizeof(s2), b));
}

static void boot_row(struct lay *L)
{
	const struct vigil_report *r = L->r;
	FILE *f = L->f;
	char a[32];

	fputs("<g class=\"boot\">", f);
	label(L, L->y, "boot", "");
	if (r->have_first_byte)
		boot_seg(L, 0, r->first_byte_ns, "#d0d7de",
			 "QEMU started, the guest kernel boots (until the first byte)");
	if (r->have_hello)
		boot_seg(L, r->have_first_byte ? r->first_byte_ns : 0, r->hello_ns, "#9ecbff",
			 "the agent starts (first byte to HELLO)");
	if (r->have_ready)
		boot_seg(L, r->have_hello ? r->hello_ns : 0, r->ready_ns, "#54aeff",
			 "the agent gets ready (HELLO to SYS_RDY)");
	if (r->have_hello && r->guest_boottime_ns && r->hello_ns >= r->guest_boottime_ns) {
		/* both numbers are the guest's: a lag that does not fit is dropped */
		uint64_t lag =
		    r->clock_lag_ns <= r->hello_ns - r->guest_boottime_ns ? r->clock_lag_ns : 0;
		double x = xt(L, r->hello_ns - r->guest_boottime_ns - lag);

		fprintf(f,
			"<path d=\"M%.1f %d l4 -6 h-8 z\" fill=\"#0969da\"><title>the guest's boot "
			"clock starts here (HELLO at %s said %s since boot",
			x, L->y + ROW_H, secs(a, sizeof(a), r->hello_ns),
			secs((char[32]){ 0 }, 32, r->guest_boottime_ns));
		if (lag)
			fprintf(f,
				", and the kernel's sched_clock line that the clock had "
				"fallen %s behind while the kernel kept time by its ticks",
				secs((char[32]){ 0 }, 32, lag));
		fputs(")</title></path>", f);
	}
	fputs("</g>\n", f);
	L->y += ROW_H;
}

static void scenario_row(struct lay *L)
{
	const struct vigil_report *r = L->r;
	FILE *f = L->f;
	char a[32], b[32], c[32];

	fputs("<g class=\"scenarios\">", f);
	label(L, L->y, "scenarios", "");
	for (uint32_t i = 0; i < r->n_scen; i++) {
		const struct report_scenario *s = &r->scen[i];
		uint64_t end = s->end_ns ? s->end_ns : r->end_ns;
		double x0 = xt(L, s->start_ns), x1 = xt(L, end);
		rect_open(f, x0, x1, L->y + 2, ROW_H - 4, "#ddf4ff",
			  " stroke=\"#54aeff\" class=\"scenario\"");
		fputs("<title>scenario ", f);
		esc(f, s->name);
		fprintf(f, ": %s to %s%s, running %s, paused %s</title></rect>",
			secs(a, sizeof(a), s->start_ns), secs(b, sizeof(b), end),
			s->end_ns ? "" : " (not ended)", secs(c, sizeof(c), s->run_ns),
			secs((char[32]){ 0 }, 32, s->pause_ns));
		if (x1 - x0 > 7.0 * (double)strlen(s->name) + 8) {
			fprintf(f, "<text x=\"%.1f\" y=\"%d\">", x0 + 4, L->y + 13);
			esc(f, s->name);
			fputs("</text>", f);
		}
	}
	for (uint32_t i = 0; i < r->n_pauses; i++) {
		const struct report_span *p = &r->pauses[i];
		uint64_t end = p->end_ns ? p->end_ns : r->end_ns;
		rect_open(f, xt(L, p->start_ns), xt(L, end), L->y + 2, ROW_H - 4, "url(#paused)",
			  " class=\"pause\"");
		fputs("<title>scenario ", f);
		esc(f, r->scen[p->scenario].name);
		fprintf(f, " paused from %s to %s</title></rect>", secs(a, sizeof(a), p->start_ns),
			secs(b, sizeof(b), end));
	}
	fputs("</g>\n", f);
	L->y += ROW_H;
}

/* Runs of bins with beats, one rect each: ticks where beats are sparse,
 * a band where they are dense. */
static void beat_ticks(struct lay *L, const struct report_proc *p)
{
	const struct vigil_report *r = L->r;
	FILE *f = L->f;

	fputs("<path class=\"beats\" fill=\"#1a7f37\" d=\"", f);
	for (uint32_t i = 0; i < REPORT_BINS; i++) {
		uint32_t j = i;
		if (!p->bins[i])
			continue;
		while (j + 1 < REPORT_BINS && p->bins[j + 1])
			j++;
		double x0 = xt(L, (uint64_t)i * r->bin_ns),
		       x1 = xt(L, (uint64_t)(j + 1) * r->bin_ns);
		fprintf(f, "M%.1f %dh%.1fv%dh%.1fz", x0, L->y + 4, x1 - x0 < 1 ? 1 : x1 - x0,
			LANE_H - 8, -(x1 - x0 < 1 ? 1 : x1 - x0));
		i = j;
	}
	fputs("\"/>", f);
}

static void lane_stalls(struct lay *L, const struct report_proc *p)
{
	const struct vigil_report *r = L->r;
	FILE *f = L->f;

	for (uint32_t i = 0; i < r->n_stalls; i++) {
		const struct report_stall *s = &r->stalls[i];
		uint64_t start = s->t_ns > s->silence_ns ? s->t_ns - s->silence_ns : 0;
		uint64_t end = s->recovered_ns ? s->recovered_ns
			       : s->gone_ns    ? s->gone_ns
					       : r->end_ns;
		char attrs[64];
		if (s->pid != p->pid)
			continue;
		snprintf(attrs, sizeof(attrs), " class=\"stall\" data-pid=\"%u\"", s->pid);
		rect_open(f, xt(L, start), xt(L, end), L->y + 2, LANE_H - 4, "#cf222e", attrs);
		fputs("<title>", f);
		stall_words(f, r, s, false);
		fputs("</title></rect>", f);
		if (xt(L, end) - xt(L, start) > 90)
			fprintf(
			    f, "<text x=\"%.1f\" y=\"%d\" class=\"on-red\">silent %.2f s</text>",
			    xt(L, start) + 4, L->y + 13,
			    (double)((s->recovered_ns ? s->whole_silence_ns : end - start)) / 1e9);
		fprintf(f,
			"<path d=\"M%.1f %d l5 -7 h-10 z\" fill=\"#82071e\" "
			"stroke=\"#fff\"><title>stall of pid %u "
			"found here</title></path>",
			xt(L, s->t_ns), L->y + LANE_H - 1, s->pid);
		if (s->recovered_ns)
			fprintf(f,
				"<path d=\"M%.1f %d l5 7 h-10 z\" fill=\"#1a7f37\" "
				"stroke=\"#fff\"><title>pid %u "
				"beat again (recovery)</title></path>",
				xt(L, s->recovered_ns), L->y + 1, s->pid);
	}
}

static void lane(struct lay *L, const struct report_proc *p)
{
	const struct vigil_report *r = L->r;
	FILE *f = L->f;
	char a[32], b[32], name[64];
	uint64_t end = p->gone_ns ? p->gone_ns : r->end_ns;

	fprintf(f, "<g class=\"lane%s\" data-pid=\"%u\"><title>pid %u", p->stalls ? " stalled" : "",
		p->pid, p->pid);
	if (p->comm[0]) {
		fputs(" (", f);
		esc(f, p->comm);
		fputc(')', f);
	}
	fprintf(f, ": %llu beats counted, deadline %s, %u stalls, tracked from %s",
		(unsigned long long)p->beats, secs(a, sizeof(a), p->deadline_ns), p->stalls,
		secs(b, sizeof(b), p->first_ns));
	if (p->gone_ns) {
		fprintf(f, " to %s (", secs(a, sizeof(a), p->gone_ns));
		esc(f, p->gone_reason);
		fputc(')', f);
	}
	fputs("</title>", f);
	snprintf(name, sizeof(name), "pid %u%s%s", p->pid, p->comm[0] ? " " : "", p->comm);
	label(L, L->y, name, p->stalls ? "stalled" : "");
	rect_open(f, xt(L, p->first_ns), xt(L, end), L->y + 3, LANE_H - 6, "#dafbe1", "");
	fputs("</rect>", f);
	beat_ticks(L, p);
	lane_stalls(L, p);
	fputs("</g>\n", f);
	L->y += LANE_H;
}

static void lanes(struct lay *L)
{
	if (!L->n_lanes) {
		label(L, L->y, "no tracked process", "dim");
		L->y += LANE_H;
		return;
	}
	for (uint32_t i = 0; i < L->n_lanes; i++)
		lane(L, &L->r->procs[L->lanes[i]]);
}

static const char *finding_color(const struct report_finding *x)
{
	if (x->trouble[0])
		return x->fatal ? "#82071e" : "#bc4c00";
	if (strstr(x->outcome, "STALL") || strstr(x->outcome, "STARVED"))
		return "#cf222e";
	return x->fatal ? "#82071e" : "#6e7781";
}

static void findings_row(struct lay *L)
{
	const struct vigil_report *r = L->r;
	FILE *f = L->f;
	char ev[2048];

	fputs("<g class=\"findings\">", f);
	label(L, L->y, "findings", "");
	for (uint32_t i = 0; i < r->n_findings; i++) {
		const struct report_finding *x = &r->findings[i];
		fprintf(
		    f,
		    "<path class=\"finding%s\" d=\"M%.1f %dl6 7l-6 7l-6 -7z\" fill=\"%s\"><title>",
		    x->trouble[0] ? " kernel" : "", xt(L, x->t_ns), L->y + 2, finding_color(x));
		esc(f, x->outcome);
		if (x->trouble[0]) {
			fputs(" (", f);
			esc(f, x->trouble);
			fputc(')', f);
		}
		fprintf(f, "%s at %.3f s: ", x->fatal ? ", fatal," : ", not fatal,",
			(double)x->t_ns / 1e9);
		esc(f, x->detail);
		evidence_of(r, x, ev, sizeof(ev));
		if (ev[0]) {
			fputs("\n\n", f);
			esc(f, ev);
		}
		fputs("</title></path>", f);
	}
	fputs("</g>\n", f);
	L->y += ROW_H;
}

static void marks_row(struct lay *L)
{
	const struct vigil_report *r = L->r;
	FILE *f = L->f;

	fputs("<g class=\"marks\">", f);
	label(L, L->y, "events", "");
	for (uint32_t i = 0; i < r->n_marks; i++) {
		const struct report_mark *m = &r->marks[i];
		fprintf(
		    f,
		    "<circle class=\"mark\" cx=\"%.1f\" cy=\"%d\" r=\"4\" fill=\"#8250df\"><title>",
		    xt(L, m->t_ns), L->y + ROW_H / 2);
		esc(f, m->text);
		fprintf(f, " (at %.3f s)</title></circle>", (double)m->t_ns / 1e9);
	}
	fputs("</g>\n", f);
	L->y += ROW_H;
}

static const char *test_color(const char *outcome)
{
	return !strcmp(outcome, "PASS")   ? "#1a7f37"
	       : !strcmp(outcome, "SKIP") ? "#8c959f"
	       : !strcmp(outcome, "FAIL") ? "#cf222e"
					  : "#bc4c00";
}

static void tests_row(struct lay *L)
{
	const struct vigil_report *r = L->r;
	FILE *f = L->f;
	char a[32];

	fputs("<g class=\"tests\">", f);
	label(L, L->y, "tests", "");
	for (uint32_t i = 0; i < r->n_tests; i++) {
		const struct report_test *x = &r->tests[i];
		uint64_t start = x->t_ns > x->duration_ns ? x->t_ns - x->duration_ns : 0;
		rect_open(f, xt(L, start), xt(L, x->t_ns), L->y + 4, ROW_H - 8,
			  test_color(x->outcome), " class=\"test\"");
		fputs("<title>test ", f);
		esc(f, x->name);
		fputs(": ", f);
		esc(f, x->outcome);
		fprintf(f, " in %s", secs(a, sizeof(a), x->duration_ns));
		if (x->message[0]) {
			fputs(": ", f);
			esc(f, x->message);
		}
		fputs("</title></rect>", f);
	}
	fputs("</g>\n", f);
	L->y += ROW_H;
}

static void out_row(struct lay *L, int s)
{
	static const char *const names[REPORT_STREAMS] = { "stdout", "stderr", "dmesg", "log" };
	static const char *const fills[REPORT_STREAMS] = { "#0969da", "#bc4c00", "#8250df",
							   "#6e7781" };
	const struct vigil_report *r = L->r;
	FILE *f = L->f;
	uint64_t max = 1, bytes;
	char a[32], b[32], c[32], lab[48];

	for (uint32_t i = 0; i < REPORT_BINS; i += OUT_COLS) {
		bytes = 0;
		for (uint32_t k = 0; k < OUT_COLS; k++)
			bytes += r->out_bytes[s][i + k];
		max = bytes > max ? bytes : max;
	}
	fprintf(f, "<g class=\"output\" data-stream=\"%s\">", names[s]);
	snprintf(lab, sizeof(lab), "%s %s", names[s], human_bytes(a, sizeof(a), r->out_total[s]));
	label(L, L->y + 4, lab, "");
	for (uint32_t i = 0; i < REPORT_BINS; i += OUT_COLS) {
		const char *sample = "";
		double h;
		bytes = 0;
		for (uint32_t k = 0; k < OUT_COLS; k++) {
			bytes += r->out_bytes[s][i + k];
			sample = sample[0] ? sample : r->out_sample[s][i + k];
		}
		if (!bytes)
			continue;
		h = (OUT_H - 4) * (double)bytes / (double)max;
		h = h < 1 ? 1 : h;
		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			"fill=\"%s\"><title>%s: %s from %s to %s",
			xt(L, (uint64_t)i * r->bin_ns), L->y + OUT_H - 2 - h,
			xt(L, (uint64_t)(i + OUT_COLS) * r->bin_ns) -
			    xt(L, (uint64_t)i * r->bin_ns),
			h, fills[s], names[s], human_bytes(a, sizeof(a), bytes),
			secs(b, sizeof(b), (uint64_t)i * r->bin_ns),
			secs(c, sizeof(c), (uint64_t)(i + OUT_COLS) * r->bin_ns));
		if (sample[0]) {
			fputs("\nfirst line: ", f);
			esc(f, sample);
		}
		fputs("</title></rect>", f);
	}
	fputs("</g>\n", f);
	L->y += OUT_H;
}

static void flows_row(struct lay *L)
{
	const struct vigil_report *r = L->r;
	FILE *f = L->f;
	uint32_t max = 1, o, c;
	int mid = L->y + OUT_H / 2;
	char a[32];

	for (uint32_t i = 0; i < REPORT_BINS; i++) {
		max = r->flows_opened[i] > max ? r->flows_opened[i] : max;
		max = r->flows_closed[i] > max ? r->flows_closed[i] : max;
	}
	fprintf(f, "<g class=\"flows\">");
	label(L, L->y + 4, "flows", "");
	fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%d\" y2=\"%d\" stroke=\"#d0d7de\"/>", X0, X1,
		mid, mid);
	for (uint32_t i = 0; i < REPORT_BINS; i++) {
		double x = xt(L, (uint64_t)i * r->bin_ns), hw = OUT_H / 2.0 - 2;
		double w = xt(L, (uint64_t)(i + 1) * r->bin_ns) - x;
		o = r->flows_opened[i];
		c = r->flows_closed[i];
		if (!o && !c)
			continue;
		fprintf(f, "<g><title>%u opened, %u closed at %s</title>", o, c,
			secs(a, sizeof(a), (uint64_t)i * r->bin_ns));
		if (o)
			fprintf(f,
				"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				"fill=\"#0969da\"/>",
				x, mid - hw * o / max, w < 1 ? 1 : w, hw * o / max);
		if (c)
			fprintf(f,
				"<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" "
				"fill=\"#8250df\"/>",
				x, mid, w < 1 ? 1 : w, hw * c / max);
		fputs("</g>", f);
	}
	fputs("</g>\n", f);
	L->y += OUT_H;
}

static void vline(struct lay *L, uint64_t t, int height, const char *what)
{
	double x = xt(L, t);

	fprintf(
	    L->f,
	    "<g class=\"vline\"><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
	    "stroke=\"#57606a\" stroke-dasharray=\"3 3\"/>"
	    "<text x=\"%.1f\" y=\"%d\" class=\"dim\">%s</text><title>%s at %.3f s</title></g>\n",
	    x, x, AXIS_H, height, x + 3, AXIS_H + 13, what, what, (double)t / 1e9);
}

static const char svg_defs[] =
    "<defs><pattern id=\"stopped\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
    "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#eaeef2\"/>"
    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#afb8c1\" stroke-width=\"3\"/></pattern>"
    "<pattern id=\"paused\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" "
    "patternTransform=\"rotate(-45)\"><rect width=\"5\" height=\"5\" fill=\"#fff8c5\"/>"
    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"#d4a72c\" stroke-width=\"2\"/></pattern>"
    "</defs>\n";

static void legend(FILE *f)
{
	static const struct {
		const char *style, *what;
	} items[] = {
		{ "background:#1a7f37", "beats" },
		{ "background:#dafbe1", "tracked" },
		{ "background:#cf222e", "stall: from the last beat to the recovery" },
		{ "background:repeating-linear-gradient(45deg,#afb8c1 0 3px,#eaeef2 3px 6px)",
		  "VM stopped" },
		{ "background:#fff1d6", "host starved the vCPUs" },
		{ "background:repeating-linear-gradient(-45deg,#d4a72c 0 2px,#fff8c5 2px 5px)",
		  "scenario paused" },
		{ "background:#bc4c00", "kernel trouble" },
		{ "background:#8250df", "other events" },
	};

	fputs("<p class=\"legend\">", f);
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		fprintf(f, "<span><i class=\"sw\" style=\"%s\"></i>%s</span>", items[i].style,
			items[i].what);
	fputs("</p>\n", f);
}

/* Two SVGs side by side: the rows' names, and the time axis in a box that
 * scrolls when zoomed. */
static int timeline(FILE *f, const struct vigil_report *r)
{
	struct lay L;
	char *labels = NULL;
	size_t labels_len = 0;
	int height;

	lay_init(&L, r, f);
	L.lab = open_memstream(&labels, &labels_len);
	if (!L.lab)
		return -ENOMEM;
	height = timeline_height(&L);
	fprintf(f,
		"<section id=\"timeline\"><h2>Timeline</h2>\n"
		"<div class=\"zoom\">zoom <button type=\"button\" data-z=\"2\">+</button>"
		"<button type=\"button\" data-z=\"0.5\">\xe2\x88\x92</button>"
		"<button type=\"button\" data-z=\"0\">fit</button> "
		"<span class=\"facts\">hover anything for its details</span></div>\n"
		"<div class=\"tl\"><div class=\"scroll\"><svg id=\"tl\" "
		"xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%d\" "
		"viewBox=\"0 0 %.0f %d\" preserveAspectRatio=\"none\">\n%s",
		W, height, W, height, svg_defs);
	shading(&L, height);
	axis(&L, height);
	boot_row(&L);
	scenario_row(&L);
	lanes(&L);
	findings_row(&L);
	marks_row(&L);
	tests_row(&L);
	for (int s = 0; s < REPORT_STREAMS; s++)
		if (s == 0 || r->out_total[s])
			out_row(&L, s);
	if (r->flows_open_total + r->flows_close_total)
		flows_row(&L);
	if (r->have_ready)
		vline(&L, r->ready_ns, height, "ready");
	fclose(L.lab);
	fprintf(f,
		"</svg></div><svg class=\"labels\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%d\" height=\"%d\">\n",
		LABEL_W, height);
	fwrite(labels, 1, labels_len, f);
	free(labels);
	fputs("</svg></div>\n", f);
	legend(f);
	fputs("</section>\n", f);
	return 0;
}

/* ---- tables ------------------------------------------------------------------ */

static void td_secs(FILE *f, uint64_t ns, bool have)
{
	if (have)
		fprintf(f, "<td>%.3f s</td>", (double)ns / 1e9);
	else
		fputs("<td>\xe2\x80\x94</td>", f);
}

static void td_text(FILE *f, const char *s)
{
	fputs("<td>", f);
	esc(f, s);
	fputs("</td>", f);
}

static void stalls_table(FILE *f, const struct vigil_report *r)
{
	if (!r->n_stalls)
		return;
	fputs("<section id=\"stalls\"><h2>Stalls</h2>\n<table><tr><th>pid</th><th>comm</th>"
	      "<th>last beat</th><th>found</th><th>silence when found</th><th>deadline</th>"
	      "<th>class</th><th>state</th><th>beat again</th><th>whole silence</th>"
	      "<th>host starved</th></tr>\n",
	      f);
	for (uint32_t i = 0; i < r->n_stalls; i++) {
		const struct report_stall *s = &r->stalls[i];
		const struct report_proc *p = proc_of(r, s->pid);
		fprintf(f, "<tr class=\"stalled\" data-pid=\"%u\"><td>%u</td>", s->pid, s->pid);
		td_text(f, p ? p->comm : "");
		td_secs(f, s->t_ns > s->silence_ns ? s->t_ns - s->silence_ns : 0, true);
		td_secs(f, s->t_ns, true);
		td_secs(f, s->silence_ns, true);
		td_secs(f, s->deadline_ns, true);
		td_text(f, s->cls[0] ? s->cls : "\xe2\x80\x94");
		td_text(f, s->why);
		td_secs(f, s->recovered_ns, s->recovered_ns != 0);
		td_secs(f, s->whole_silence_ns, s->recovered_ns != 0);
		fprintf(f, "<td>%s</td></tr>\n", s->host_starved ? "yes" : "no");
	}
	if (r->dropped_stalls)
		fprintf(f, "<tr><td colspan=\"11\">%llu more stalls not kept</td></tr>\n",
			(unsigned long long)r->dropped_stalls);
	fputs("</table></section>\n", f);
}

static void findings_table(FILE *f, const struct vigil_report *r)
{
	char ev[2048];

	if (!r->n_findings)
		return;
	fputs("<section id=\"findings\"><h2>Findings</h2>\n<table><tr><th>time</th><th>outcome</th>"
	      "<th>fatal</th><th>pid</th><th>detail and evidence</th></tr>\n",
	      f);
	for (uint32_t i = 0; i < r->n_findings; i++) {
		const struct report_finding *x = &r->findings[i];
		fputs("<tr>", f);
		td_secs(f, x->t_ns, true);
		fputs("<td>", f);
		esc(f, x->outcome);
		if (x->trouble[0]) {
			fputs(" (", f);
			esc(f, x->trouble);
			fputc(')', f);
		}
		fprintf(f, "</td><td>%s</td><td>%u</td><td>", x->fatal ? "yes" : "no", x->pid);
		esc(f, x->detail);
		evidence_of(r, x, ev, sizeof(ev));
		if (ev[0]) {
			fputs("<details><summary>evidence</summary><pre>", f);
			esc(f, ev);
			fputs("</pre></details>", f);
		}
		fputs("</td></tr>\n", f);
	}
	if (r->dropped_findings)
		fprintf(f, "<tr><td colspan=\"5\">%llu more findings not kept</td></tr>\n",
			(unsigned long long)r->dropped_findings);
	fputs("</table></section>\n", f);
}

static void tests_table(FILE *f, const struct vigil_report *r)
{
	if (!r->n_tests)
		return;
	fprintf(
	    f,
	    "<section id=\"tests\"><h2>Tests: %u passed, %u failed, %u skipped, %u errors</h2>\n"
	    "<table><tr><th>time</th><th>name</th><th>outcome</th><th>duration</th><th>message</"
	    "th></tr>\n",
	    r->tests_by[0], r->tests_by[1], r->tests_by[2], r->tests_by[3]);
	for (uint32_t i = 0; i < r->n_tests; i++) {
		const struct report_test *x = &r->tests[i];
		fputs("<tr>", f);
		td_secs(f, x->t_ns, true);
		td_text(f, x->name);
		td_text(f, x->outcome);
		td_secs(f, x->duration_ns, true);
		td_text(f, x->message);
		fputs("</tr>\n", f);
	}
	if (r->dropped_tests)
		fprintf(f, "<tr><td colspan=\"5\">%llu more results not kept</td></tr>\n",
			(unsigned long long)r->dropped_tests);
	fputs("</table></section>\n", f);
}

static void procs_table(FILE *f, const struct vigil_report *r)
{
	if (!r->n_procs)
		return;
	fprintf(f,
		"<section id=\"processes\"><h2>Tracked processes (%u kept, %d drawn)</h2>\n"
		"<table><tr><th>pid</th><th>comm</th><th>beats counted</th><th>deadline</th>"
		"<th>from</th><th>gone</th><th>stalls</th></tr>\n",
		r->n_procs, r->n_procs < REPORT_LANES ? (int)r->n_procs : REPORT_LANES);
	for (uint32_t i = 0; i < r->n_procs; i++) {
		const struct report_proc *p = &r->procs[i];
		fprintf(f, "<tr%s><td>%u</td>", p->stalls ? " class=\"stalled\"" : "", p->pid);
		td_text(f, p->comm);
		fprintf(f, "<td>%llu</td>", (unsigned long long)p->beats);
		td_secs(f, p->deadline_ns, true);
		td_secs(f, p->first_ns, true);
		td_secs(f, p->gone_ns, p->gone_ns != 0);
		fprintf(f, "<td>%u</td></tr>\n", p->stalls);
	}
	if (r->dropped_procs)
		fprintf(f,
			"<tr><td colspan=\"7\">the table was full (%d): later processes were "
			"not kept</td></tr>\n",
			REPORT_PROCS_MAX);
	fputs("</table></section>\n", f);
}

static void scenarios_table(FILE *f, const struct vigil_report *r)
{
	if (!r->n_scen)
		return;
	fputs("<section id=\"scenarios\"><h2>Scenarios</h2>\n<table><tr><th>name</th><th>start</th>"
	      "<th>end</th><th>running</th><th>paused</th></tr>\n",
	      f);
	for (uint32_t i = 0; i < r->n_scen; i++) {
		const struct report_scenario *s = &r->scen[i];
		fputs("<tr>", f);
		td_text(f, s->name);
		td_secs(f, s->start_ns, true);
		td_secs(f, s->end_ns, s->end_ns != 0);
		td_secs(f, s->run_ns, s->end_ns != 0);
		td_secs(f, s->pause_ns, s->end_ns != 0);
		fputs("</tr>\n", f);
	}
	fputs("</table></section>\n", f);
}

/* The workload's last output lines (stdout and stderr as they came). */
static void output_tail(FILE *f, const struct vigil_report *r)
{
	uint64_t n = r->tail_written < REPORT_TAIL_LEN ? r->tail_written : REPORT_TAIL_LEN;
	uint64_t start = r->tail_written - n;
	char buf[REPORT_TAIL_LEN];
	size_t i = 0;

	if (!n)
		return;
	for (uint64_t k = 0; k < n; k++)
		buf[k] = r->tail[(start + k) % REPORT_TAIL_LEN];
	if (start) /* the ring cut a line and maybe a UTF-8 sequence: start after it */
		while (i < n && buf[i++] != '\n')
			;
	fprintf(f, "<section id=\"output\"><h2>The workload's last output (%s)</h2><pre>",
		start ? "its last 4 KiB" : "all of it");
	vigil_xml_escape(f, buf + i, n - i);
	fputs("</pre></section>\n", f);
}

/* The verdict's counters that are not 0, as group.name = value. */
static void counter_rows(FILE *f, struct json_object *o, const char *prefix, int *n)
{
	char name[160];

	json_object_object_foreach(o, key, v)
	{
		snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", key);
		if (json_object_is_type(v, json_type_object)) {
			counter_rows(f, v, name, n);
		} else if (json_object_is_type(v, json_type_int) && json_object_get_int64(v)) {
			fputs(*n % 4 ? "" : "<tr>", f);
			td_text(f, name);
			fprintf(f, "<td>%lld</td>%s", (long long)json_object_get_int64(v),
				++*n % 4 ? "" : "</tr>\n");
		}
	}
}

static void counters(FILE *f, const struct vigil_report *r)
{
	struct json_object *c = vget(r, "counters"), *fl = vget(r, "flows");
	int n = 0;

	if (!c)
		return;
	fputs("<section id=\"counters\"><h2>Counters (those not 0)</h2>\n<table>", f);
	counter_rows(f, c, "", &n);
	if (fl)
		counter_rows(f, fl, "flows", &n);
	fputs(n % 4 ? "</tr>\n" : "", f);
	fputs("</table></section>\n", f);
}

static void provenance(FILE *f, const struct vigil_report *r)
{
	struct json_object *p = vget(r, "provenance");

	if (!p)
		return;
	fputs("<section id=\"provenance\"><h2>Provenance</h2><pre>", f);
	esc(f, json_object_to_json_string_ext(p, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	fputs("</pre></section>\n", f);
}

static void limits(FILE *f, const struct vigil_report *r)
{
	fprintf(f,
		"<section id=\"about\"><h2>About this page</h2><p class=\"facts\">"
		"%llu events; time bins of %.3f ms (%d over the run); beats ",
		(unsigned long long)r->events, (double)r->bin_ns / 1e6, REPORT_BINS);
	if (r->samples)
		fprintf(f,
			"from %llu samples of the tracker, each counted in the bin it was "
			"read in",
			(unsigned long long)r->samples);
	else
		fputs("not known (an events file carries none: lanes show when a process was "
		      "tracked and when it was silent)",
		      f);
	fprintf(f,
		"; %llu anomaly reports; at most %d lanes, %d processes, %d stalls, %d "
		"findings, %d tests, %d other events kept",
		(unsigned long long)r->anomalies, REPORT_LANES, REPORT_PROCS_MAX, REPORT_STALLS_MAX,
		REPORT_FINDINGS_MAX, REPORT_TESTS_MAX, REPORT_MARKS_MAX);
	if (r->dropped_marks + r->dropped_scen + r->dropped_pauses + r->dropped_stops)
		fprintf(f, "; not kept: %llu events, %llu scenarios, %llu pauses, %llu VM stops",
			(unsigned long long)r->dropped_marks, (unsigned long long)r->dropped_scen,
			(unsigned long long)r->dropped_pauses,
			(unsigned long long)r->dropped_stops);
	fputs(". Times are host time since vigil started watching the guest.</p></section>\n", f);
}

/* Zoom: the time SVG gets wider inside its scrolling box; text and point
 * markers are scaled back so they keep their shape. "#zoom=N" in the
 * address opens the page zoomed N times. */
static const char zoom_js[] =
    "<script>(function(){var s=document.getElementById('tl');if(!s)return;"
    "var "
    "W=+s.getAttribute('width'),k=1,c=[],each=function(l,f){Array.prototype.forEach.call(l,f);},"
    "e=s.querySelectorAll('text,circle,path:not(.beats)');"
    "each(e,function(x){var b=x.getBBox();var m=b.x+b.width/2;c.push(x.tagName!='text'?m:"
    "x.getAttribute('text-anchor')=='middle'?m:b.x);});"
    "function z(n){k=n;s.setAttribute('width',W*k);each(e,function(x,i){"
    "x.setAttribute('transform','translate('+c[i]+' 0) scale('+(1/k)+' 1) translate('"
    "+(-c[i])+' 0)');});}"
    "each(document.querySelectorAll('.zoom button'),function(b){b.onclick=function(){"
    "var d=+b.getAttribute('data-z');z(d?Math.min(256,Math.max(1,k*d)):1);};});"
    "var m=/zoom=([0-9]+)/.exec(location.hash);if(m)z(Math.min(256,Math.max(1,+m[1])));})();"
    "</script>\n";

int vigil_report_write(const struct vigil_report *r, FILE *f)
{
	page_head(f, r);
	header(f, r);
	if (timeline(f, r) < 0)
		return -ENOMEM;
	stalls_table(f, r);
	findings_table(f, r);
	tests_table(f, r);
	scenarios_table(f, r);
	procs_table(f, r);
	output_tail(f, r);
	counters(f, r);
	provenance(f, r);
	limits(f, r);
	fputs(zoom_js, f);
	fputs("</body></html>\n", f);
	return ferror(f) ? -EIO : 0;
}

int vigil_report_write_file(const struct vigil_report *r, const char *path)
{
	char tmp[4096];
	FILE *f;
	int e;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	e = vigil_report_write(r, f);
	if (fclose(f) != 0 && e == 0)
		e = -errno;
	if (e == 0 && rename(tmp, path) < 0)
		e = -errno;
	if (e < 0)
		unlink(tmp);
	return e;
}
