/* SPDX-License-Identifier: MIT */
/*
 * vigil's families (host/metrics/families.c):
 *  - every counter descriptor is one family (HELP and TYPE once, "vigil_"
 *    prefix, "_total" exactly on counters) with a series per guest, and per
 *    labelled element for array counters; a guest with zero (or no)
 *    counters has every series, at 0;
 *  - each value lands in its series: distinct values poked into every
 *    descriptor's bytes come out as raw / scale (ns shown as seconds),
 *    checked against the test's own formatter;
 *  - the read-time and loop histograms;
 *  - `promtool check metrics` accepts a body with several guests (one with
 *    quotes and a backslash in its name) and refuses a broken one, so the
 *    check can fail. Skipped when promtool is not installed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "expo.h"
#include "families.h"
#include "loop.h"

static const char *const domains[] = { "alpha", "beta", "we\"ird\\name" };
#define WEIRD_ESCAPED "we\\\"ird\\\\name"

/* Distinct raw values in every descriptor's bytes of c. */
static void poke(struct vigil_session_counters *c)
{
	size_t nd;
	const struct vigil_counter_desc *d = vigil_session_counter_descs(&nd);

	for (size_t i = 0; i < nd; i++) {
		for (uint32_t j = 0; j < d[i].count; j++) {
			uint8_t *p = (uint8_t *)c + d[i].offset + (size_t)j * d[i].stride;
			uint64_t v = (uint64_t)(i + 1) * 1000 + j;

			if (d[i].size == 8)
				memcpy(p, &v, 8);
			else
				memcpy(p, &(uint32_t){ (uint32_t)v }, 4);
		}
	}
}

/* The test's own rendering of raw / scale (scale 1 or 10^9). */
static void show(char *out, size_t size, uint64_t raw, uint32_t scale)
{
	size_t n;

	if (scale == 1) {
		snprintf(out, size, "%llu", (unsigned long long)raw);
		return;
	}
	snprintf(out, size, "%llu.%09llu", (unsigned long long)(raw / scale),
		 (unsigned long long)(raw % scale));
	n = strlen(out);
	while (out[n - 1] == '0')
		out[--n] = '\0';
	if (out[n - 1] == '.')
		out[n - 1] = '\0';
}

struct body {
	struct vigil_buf b;
	struct vigil_loop *loop;
	struct vigil_session_counters zero, poked;
	struct vigil_loop_hist h1, h2;
};

static void render(struct body *x)
{
	struct vigil_metrics_guest g[] = {
		{ domains[0], &x->zero, &x->h1 },
		{ domains[1], &x->poked, &x->h2 },
		{ domains[2], NULL, NULL },
	};
	struct vigil_expo w;

	memset(x, 0, sizeof(*x));
	x->poked.sz = sizeof(x->poked);
	poke(&x->poked);
	vigil_loop_hist_add(&x->h1, 7000);
	vigil_loop_hist_add(&x->h2, 3000000);
	vigil_loop_hist_add(&x->h2, 2000000000);
	assert_int_equal(vigil_loop_new(&x->loop), 0);
	assert_true(vigil_loop_run_once(x->loop, 0) >= 0);
	vigil_buf_init(&x->b, 0);
	vigil_expo_init(&w, &x->b);
	assert_int_equal(vigil_metrics_session_families(&w, g, 3), 0);
	assert_int_equal(vigil_metrics_read_families(&w, g, 3), 0);
	assert_int_equal(vigil_metrics_loop_families(&w, x->loop), 0);
	assert_int_equal(vigil_expo_finish(&w), 0);
	assert_int_equal(w.dropped, 0);
}

static void body_free(struct body *x)
{
	vigil_buf_release(&x->b);
	vigil_loop_free(x->loop);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* The line "name{domain="dom"[,label="lv"]} value" is in the body. */
static void expect_line(const char *body, const char *name, const char *dom, const char *label,
			const char *lv, const char *value)
{
	char line[512];

	if (label)
		snprintf(line, sizeof(line), "\n%s{domain=\"%s\",%s=\"%s\"} %s\n", name, dom, label,
			 lv, value);
	else
		snprintf(line, sizeof(line), "\n%s{domain=\"%s\"} %s\n", name, dom, value);
	if (!strstr(body, line))
		fail_msg("missing:%s", line);
}

static void check_desc(const char *body, const struct vigil_counter_desc *d)
{
	bool counter = d->kind == VIGIL_COUNTER;
	char name[256], help[512], v[64];

	snprintf(name, sizeof(name), "vigil_%s%s", d->name, counter ? "_total" : "");
	snprintf(help, sizeof(help), "# HELP %s ", name);
	assert_int_equal(count(body, help), 1);
	snprintf(help, sizeof(help), "# TYPE %s %s\n", name, counter ? "counter" : "gauge");
	assert_int_equal(count(body, help), 1);
	for (uint32_t j = 0; j < d->count; j++) {
		const char *lv = d->count > 1 ? vigil_counter_label(d, j) : NULL;

		if (d->count > 1 && !lv)
			continue;
		show(v, sizeof(v), (uint64_t)(d - vigil_session_counter_descs(NULL) + 1) * 1000 + j,
		     d->scale);
		expect_line(body, name, "beta", d->count > 1 ? d->label : NULL, lv, v);
		expect_line(body, name, "alpha", d->count > 1 ? d->label : NULL, lv, "0");
		expect_line(body, name, WEIRD_ESCAPED, d->count > 1 ? d->label : NULL, lv, "0");
	}
}

static void test_session_families(void **state)
{
	struct body x;
	size_t nd;
	const struct vigil_counter_desc *d = vigil_session_counter_descs(&nd);

	(void)state;
	render(&x);
	for (size_t i = 0; i < nd; i++)
		check_desc(x.b.data, &d[i]);
	/* nothing but vigil's families, each with HELP and TYPE */
	assert_int_equal(count(x.b.data, "# HELP "), count(x.b.data, "# TYPE "));
	assert_int_equal(count(x.b.data, "# HELP vigil_"), count(x.b.data, "# HELP "));
	assert_int_equal(count(x.b.data, "\n_total"), 0);
	body_free(&x);
}

static void test_histogram_families(void **state)
{
	struct body x;

	(void)state;
	render(&x);
	assert_non_null(strstr(x.b.data, "# TYPE vigil_guest_read_seconds histogram\n"));
	assert_non_null(strstr(x.b.data, "\nvigil_guest_read_seconds_bucket{domain=\"alpha\","
					 "le=\"0.00001\"} 1\n"));
	assert_non_null(strstr(x.b.data, "\nvigil_guest_read_seconds_bucket{domain=\"beta\","
					 "le=\"0.0025\"} 0\n"));
	assert_non_null(strstr(x.b.data, "\nvigil_guest_read_seconds_bucket{domain=\"beta\","
					 "le=\"0.005\"} 1\n"));
	assert_non_null(strstr(x.b.data, "\nvigil_guest_read_seconds_bucket{domain=\"beta\","
					 "le=\"+Inf\"} 2\n"));
	assert_non_null(
	    strstr(x.b.data, "\nvigil_guest_read_seconds_sum{domain=\"beta\"} 2.003\n"));
	assert_non_null(
	    strstr(x.b.data, "\nvigil_guest_read_seconds_count{domain=\"" WEIRD_ESCAPED "\"} 0\n"));
	assert_non_null(strstr(x.b.data, "# TYPE vigil_loop_wakeup_latency_seconds histogram\n"));
	assert_non_null(strstr(x.b.data, "\nvigil_loop_wakeup_latency_seconds_bucket{le=\"1\"} "));
	assert_non_null(strstr(x.b.data, "\nvigil_loop_wakeups_total 1\n"));
	body_free(&x);
}

/* ---- promtool ------------------------------------------------------------------ */

static const char *promtool(void)
{
	static char path[512];
	const char *env = getenv("PATH");
	char dirs[4096];

	snprintf(dirs, sizeof(dirs), "%s:/usr/bin", env ? env : "");
	for (char *dir = strtok(dirs, ":"); dir; dir = strtok(NULL, ":")) {
		snprintf(path, sizeof(path), "%s/promtool", dir);
		if (access(path, X_OK) == 0)
			return path;
	}
	return NULL;
}

/* Runs `promtool check metrics` on body; its exit status, its output in out. */
static int check_metrics(const char *tool, const char *body, char *out, size_t size)
{
	char in_path[] = "/tmp/vigil-metrics-XXXXXX", cmd[1024];
	int fd = mkstemp(in_path), status;
	size_t len = strlen(body), n;
	FILE *p;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "'%s' check metrics < '%s' 2>&1", tool, in_path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	status = pclose(p);
	unlink(in_path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_promtool(void **state)
{
	const char *tool = promtool();
	char out[8192];
	struct body x;
	int st;

	(void)state;
	if (!tool) {
		print_message("promtool not found (Debian package prometheus): skipped\n");
		skip();
	}
	render(&x);
	st = check_metrics(tool, x.b.data, out, sizeof(out));
	if (st != 0 || out[0])
		fail_msg("promtool check metrics: status %d:\n%s", st, out);
	body_free(&x);

	/* the check can fail: a counter without _total, a family without HELP */
	st = check_metrics(tool,
			   "# HELP vigil_frames Frames.\n# TYPE vigil_frames counter\n"
			   "vigil_frames 1\n# TYPE vigil_x gauge\nvigil_x 1\n",
			   out, sizeof(out));
	assert_true(st != 0);
	assert_non_null(strstr(out, "vigil_frames"));
	assert_non_null(strstr(out, "vigil_x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_families),
		cmocka_unit_test(test_histogram_families),
		cmocka_unit_test(test_promtool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
