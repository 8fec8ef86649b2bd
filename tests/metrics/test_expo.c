/* SPDX-License-Identifier: MIT */
/*
 * The exposition writer (host/metrics/expo.c):
 *  - HELP and TYPE first, HELP escaped (\\, \n);
 *  - label values escaped (\\, \", \n), table-driven UTF-8 vectors and a
 *    differential test against a naive decoder on random bytes: valid
 *    input comes out unchanged, every invalid byte becomes U+FFFD;
 *  - numbers: exact scaled integers (ns as seconds), shortest doubles,
 *    NaN and infinities as the format spells them;
 *  - a histogram's exact text, with and without labels;
 *  - the rules (names, _total on counters only, reserved labels, samples
 *    of the family's kind with every label) refused with -EINVAL that
 *    sticks; the per-family series bound drops and counts;
 *  - the buffer: its max gives -EMSGSIZE and cuts back to the last whole
 *    write; take hands the memory over.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "expo.h"

struct wbuf {
	struct vigil_buf b;
	struct vigil_expo w;
};

static void wb_init(struct wbuf *x, size_t max)
{
	vigil_buf_init(&x->b, max);
	vigil_expo_init(&x->w, &x->b);
}

static const char *text(const struct wbuf *x)
{
	return x->b.data ? x->b.data : "";
}

static const struct vigil_metric_family gauge_d = {
	.name = "vigil_g",
	.help = "A gauge.",
	.type = VIGIL_METRIC_GAUGE,
	.labels = { "domain" },
};

/* ---- HELP, TYPE, escaping -------------------------------------------------- */

static void test_family_lines(void **state)
{
	struct wbuf x;
	struct vigil_metric_family f = {
		.name = "vigil_x_total",
		.help = "a \\ b\nc \"q\"",
		.type = VIGIL_METRIC_COUNTER,
	};

	(void)state;
	wb_init(&x, 0);
	assert_int_equal(vigil_expo_family(&x.w, &f), 0);
	assert_int_equal(vigil_expo_sample(&x.w, NULL, 7, 1), 0);
	assert_string_equal(text(&x), "# HELP vigil_x_total a \\\\ b\\nc \"q\"\n"
				      "# TYPE vigil_x_total counter\n"
				      "vigil_x_total 7\n");
	assert_int_equal(vigil_expo_finish(&x.w), 0);
	vigil_buf_release(&x.b);
}

/* The sample line for one label value. */
static void one_value(const char *value, const char *want_line)
{
	struct wbuf x;
	const char *v[] = { value };
	const char *line;

	wb_init(&x, 0);
	assert_int_equal(vigil_expo_family(&x.w, &gauge_d), 0);
	assert_int_equal(vigil_expo_sample(&x.w, v, 1, 1), 0);
	line = strstr(text(&x), "\nvigil_g{");
	assert_non_null(line);
	assert_string_equal(line + 1, want_line);
	vigil_buf_release(&x.b);
}

static void test_label_escaping(void **state)
{
	(void)state;
	one_value("plain", "vigil_g{domain=\"plain\"} 1\n");
	one_value("", "vigil_g{domain=\"\"} 1\n");
	one_value("a\"b\\c\nd", "vigil_g{domain=\"a\\\"b\\\\c\\nd\"} 1\n");
	one_value("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "vigil_g{domain=\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"} 1\n");
	one_value("a\xff"
		  "b",
		  "vigil_g{domain=\"a\xef\xbf\xbd"
		  "b\"} 1\n");
	one_value("\xc0\xaf", "vigil_g{domain=\"\xef\xbf\xbd\xef\xbf\xbd\"} 1\n"); /* overlong */
	one_value("\xed\xa0\x80",                                                  /* a surrogate */
		  "vigil_g{domain=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"} 1\n");
	one_value("\xf4\x90\x80\x80x", /* past U+10FFFF */
		  "vigil_g{domain=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx\"} 1\n");
	one_value("\xe2\x82", "vigil_g{domain=\"\xef\xbf\xbd\xef\xbf\xbd\"} 1\n"); /* cut short */
}

/* ---- a naive reference for the label value escaping -------------------------- */

/* Length of a valid UTF-8 sequence at s, from its code point; 0 if invalid. */
static size_t ref_seq(const unsigned char *s, size_t n)
{
	static const uint32_t min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len = s[0] < 0x80         ? 1
		     : (s[0] >> 5) == 6  ? 2
		     : (s[0] >> 4) == 14 ? 3
		     : (s[0] >> 3) == 30 ? 4
					 : 0;
	uint32_t cp;

	if (!len || len > n)
		return 0;
	cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static size_t ref_escape(const unsigned char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		size_t len = ref_seq(s + i, n - i);

		if (!len) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else if (s[i] == '\\' || s[i] == '"' || s[i] == '\n') {
			out[o++] = '\\';
			out[o++] = s[i] == '\n' ? 'n' : (char)s[i];
			i++;
		} else {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		}
	}
	out[o] = '\0';
	return o;
}

static void test_escaping_differential(void **state)
{
	static const unsigned char pool[] = { 'a',  '"',  '\\', '\n', 0x7f, 0x80, 0xbf, 0xc0,
					      0xc2, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0,
					      0x90, 0xf4, 0x8f, 0xf5, 0xff, 0x82, 0xac, 0xe2 };
	uint64_t rng = 42;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		unsigned char in[24];
		char want[24 * 3 + 64], line[24 * 3 + 128];
		size_t n;

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		n = (size_t)(rng >> 60) + 1;
		for (size_t i = 0; i < n; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			in[i] = pool[(rng >> 33) % sizeof(pool)];
		}
		in[n] = '\0';
		if (memchr(in, 0, n))
			continue;
		ref_escape(in, n, want);
		snprintf(line, sizeof(line), "vigil_g{domain=\"%s\"} 1\n", want);
		one_value((const char *)in, line);
	}
}

/* ---- numbers ------------------------------------------------------------------- */

static void number(uint64_t raw, uint64_t scale, const char *want)
{
	struct wbuf x;
	char line[64];

	wb_init(&x, 0);
	assert_int_equal(
	    vigil_expo_family(&x.w, &(struct vigil_metric_family){ .name = "n",
								   .help = "h",
								   .type = VIGIL_METRIC_GAUGE }),
	    0);
	assert_int_equal(vigil_expo_sample(&x.w, NULL, raw, scale), 0);
	snprintf(line, sizeof(line), "\nn %s\n", want);
	assert_non_null(strstr(text(&x), line));
	vigil_buf_release(&x.b);
}

static void dnumber(double v, const char *want)
{
	struct wbuf x;
	char line[64];

	wb_init(&x, 0);
	assert_int_equal(
	    vigil_expo_family(&x.w, &(struct vigil_metric_family){ .name = "n",
								   .help = "h",
								   .type = VIGIL_METRIC_GAUGE }),
	    0);
	assert_int_equal(vigil_expo_sample_double(&x.w, NULL, v), 0);
	snprintf(line, sizeof(line), "\nn %s\n", want);
	assert_non_null(strstr(text(&x), line));
	vigil_buf_release(&x.b);
}

static void test_numbers(void **state)
{
	struct wbuf x;

	(void)state;
	number(0, 1, "0");
	number(42, 1, "42");
	number(UINT64_MAX, 1, "18446744073709551615");
	number(1500000000, 1000000000, "1.5");
	number(1, 1000000000, "0.000000001");
	number(1000000000, 1000000000, "1");
	number(123456789012ull, 1000000000, "123.456789012");
	number(UINT64_MAX, 1000000000000000000ull, "18.446744073709551615");
	number(2500, 1000, "2.5");
	dnumber(0.1, "0.1");
	dnumber(2.5, "2.5");
	dnumber(1e-9, "1e-09");
	dnumber(-3, "-3");
	dnumber(NAN, "NaN");
	dnumber(INFINITY, "+Inf");
	dnumber(-INFINITY, "-Inf");

	wb_init(&x, 0); /* a scale that is not a power of ten */
	assert_int_equal(vigil_expo_family(&x.w, &gauge_d), 0);
	assert_int_equal(vigil_expo_sample(&x.w, (const char *[]){ "d" }, 1, 3), -EINVAL);
	vigil_buf_release(&x.b);
}

/* ---- histograms ------------------------------------------------------------------ */

static void test_histogram(void **state)
{
	static const uint64_t bounds[] = { 10, 100, 1000 };
	static const uint64_t buckets[] = { 1, 2, 0, 4 };
	const struct vigil_expo_hist h = {
		.bounds = bounds, .buckets = buckets, .nbounds = 3, .sum = 5000, .scale = 1000
	};
	struct vigil_metric_family f = {
		.name = "vigil_h_seconds",
		.help = "H.",
		.type = VIGIL_METRIC_HISTOGRAM,
		.labels = { "domain" },
	};
	struct wbuf x;

	(void)state;
	wb_init(&x, 0);
	assert_int_equal(vigil_expo_family(&x.w, &f), 0);
	assert_int_equal(vigil_expo_histogram(&x.w, (const char *[]){ "d" }, &h), 0);
	f.labels[0] = NULL;
	f.name = "vigil_i_seconds";
	assert_int_equal(vigil_expo_family(&x.w, &f), 0);
	assert_int_equal(vigil_expo_histogram(&x.w, NULL, &h), 0);
	assert_string_equal(text(&x), "# HELP vigil_h_seconds H.\n"
				      "# TYPE vigil_h_seconds histogram\n"
				      "vigil_h_seconds_bucket{domain=\"d\",le=\"0.01\"} 1\n"
				      "vigil_h_seconds_bucket{domain=\"d\",le=\"0.1\"} 3\n"
				      "vigil_h_seconds_bucket{domain=\"d\",le=\"1\"} 3\n"
				      "vigil_h_seconds_bucket{domain=\"d\",le=\"+Inf\"} 7\n"
				      "vigil_h_seconds_sum{domain=\"d\"} 5\n"
				      "vigil_h_seconds_count{domain=\"d\"} 7\n"
				      "# HELP vigil_i_seconds H.\n"
				      "# TYPE vigil_i_seconds histogram\n"
				      "vigil_i_seconds_bucket{le=\"0.01\"} 1\n"
				      "vigil_i_seconds_bucket{le=\"0.1\"} 3\n"
				      "vigil_i_seconds_bucket{le=\"1\"} 3\n"
				      "vigil_i_seconds_bucket{le=\"+Inf\"} 7\n"
				      "vigil_i_seconds_sum 5\n"
				      "vigil_i_seconds_count 7\n");
	vigil_buf_release(&x.b);
}

/* ---- the rules -------------------------------------------------------------------- */

static void bad_family(const struct vigil_metric_family *f)
{
	struct wbuf x;

	wb_init(&x, 0);
	assert_int_equal(vigil_expo_family(&x.w, f), -EINVAL);
	assert_int_equal(x.b.len, 0); /* nothing written */
	/* it sticks: a good family after it is refused too */
	assert_int_equal(vigil_expo_family(&x.w, &gauge_d), -EINVAL);
	assert_int_equal(vigil_expo_finish(&x.w), -EINVAL);
	vigil_buf_release(&x.b);
}

#define FAM(n, t, ...)                                                                             \
	(&(struct vigil_metric_family){                                                            \
	    .name = n, .help = "h", .type = t, .labels = { __VA_ARGS__ } })

static void test_rules(void **state)
{
	struct wbuf x;

	(void)state;
	bad_family(FAM("vigil_frames", VIGIL_METRIC_COUNTER, NULL));
	bad_family(FAM("_total", VIGIL_METRIC_COUNTER, NULL));
	bad_family(FAM("vigil_open_total", VIGIL_METRIC_GAUGE, NULL));
	bad_family(FAM("vigil_h_bucket", VIGIL_METRIC_HISTOGRAM, NULL));
	bad_family(FAM("vigil_h_count", VIGIL_METRIC_HISTOGRAM, NULL));
	bad_family(FAM("vigil_h_total", VIGIL_METRIC_HISTOGRAM, NULL));
	bad_family(FAM("1abc", VIGIL_METRIC_GAUGE, NULL));
	bad_family(FAM("a-b", VIGIL_METRIC_GAUGE, NULL));
	bad_family(FAM("a:b", VIGIL_METRIC_GAUGE, NULL));
	bad_family(FAM("", VIGIL_METRIC_GAUGE, NULL));
	bad_family(FAM("g", VIGIL_METRIC_GAUGE, "le"));
	bad_family(FAM("g", VIGIL_METRIC_GAUGE, "quantile"));
	bad_family(FAM("g", VIGIL_METRIC_GAUGE, "__name"));
	bad_family(FAM("g", VIGIL_METRIC_GAUGE, "a", "a"));
	bad_family(FAM("g", VIGIL_METRIC_GAUGE, "a b"));
	bad_family(FAM("g", VIGIL_METRIC_GAUGE, "a", NULL, "b")); /* a hole */
	bad_family(&(struct vigil_metric_family){ .name = "g", .type = VIGIL_METRIC_GAUGE });
	bad_family(&(struct vigil_metric_family){ .name = "g", .help = "h", .type = 7 });

	wb_init(&x, 0); /* a sample before any family */
	assert_int_equal(vigil_expo_sample(&x.w, NULL, 1, 1), -EINVAL);
	vigil_buf_release(&x.b);

	wb_init(&x, 0); /* a label without its value */
	assert_int_equal(vigil_expo_family(&x.w, &gauge_d), 0);
	assert_int_equal(vigil_expo_sample(&x.w, NULL, 1, 1), -EINVAL);
	vigil_buf_release(&x.b);

	wb_init(&x, 0);
	assert_int_equal(vigil_expo_family(&x.w, &gauge_d), 0);
	assert_int_equal(vigil_expo_sample(&x.w, (const char *[]){ NULL }, 1, 1), -EINVAL);
	vigil_buf_release(&x.b);

	wb_init(&x, 0); /* a histogram in a gauge's family, and a gauge's sample in a histogram's */
	assert_int_equal(vigil_expo_family(&x.w, &gauge_d), 0);
	assert_int_equal(vigil_expo_histogram(
			     &x.w, (const char *[]){ "d" },
			     &(struct vigil_expo_hist){ .buckets = (uint64_t[]){ 0 }, .scale = 1 }),
			 -EINVAL);
	vigil_buf_release(&x.b);
	wb_init(&x, 0);
	assert_int_equal(vigil_expo_family(&x.w, FAM("h", VIGIL_METRIC_HISTOGRAM, NULL)), 0);
	assert_int_equal(vigil_expo_sample(&x.w, NULL, 1, 1), -EINVAL);
	vigil_buf_release(&x.b);

	wb_init(&x, 0); /* bounds not ascending */
	assert_int_equal(vigil_expo_family(&x.w, FAM("h", VIGIL_METRIC_HISTOGRAM, NULL)), 0);
	assert_int_equal(
	    vigil_expo_histogram(&x.w, NULL,
				 &(struct vigil_expo_hist){ .bounds = (uint64_t[]){ 5, 5 },
							    .buckets = (uint64_t[]){ 0, 0, 0 },
							    .nbounds = 2,
							    .scale = 1 }),
	    -EINVAL);
	vigil_buf_release(&x.b);
}

static void test_series_bound(void **state)
{
	struct vigil_metric_family f = gauge_d;
	struct wbuf x;
	const char *lines;
	int n = 0;

	(void)state;
	f.max_series = 3;
	wb_init(&x, 0);
	assert_int_equal(vigil_expo_family(&x.w, &f), 0);
	for (int i = 0; i < 5; i++) {
		char d[8];

		snprintf(d, sizeof(d), "d%d", i);
		assert_int_equal(vigil_expo_sample(&x.w, (const char *[]){ d }, 1, 1), 0);
	}
	assert_int_equal(x.w.dropped, 2);
	assert_int_equal(vigil_expo_finish(&x.w), 0);
	for (lines = text(&x); (lines = strstr(lines, "\nvigil_g{")); lines++)
		n++;
	assert_int_equal(n, 3);
	assert_null(strstr(text(&x), "d3"));
	/* the bound is per family: the next one starts again */
	assert_int_equal(vigil_expo_family(&x.w, FAM("vigil_h", VIGIL_METRIC_GAUGE, "domain")), 0);
	assert_int_equal(vigil_expo_sample(&x.w, (const char *[]){ "d9" }, 1, 1), 0);
	assert_non_null(strstr(text(&x), "vigil_h{domain=\"d9\"} 1\n"));
	vigil_buf_release(&x.b);
}

/* ---- the buffer -------------------------------------------------------------------- */

static void test_buffer_max(void **state)
{
	struct wbuf x;
	int e = 0, i;

	(void)state;
	wb_init(&x, 100);
	assert_int_equal(vigil_expo_family(&x.w, &gauge_d), 0);
	for (i = 0; i < 100 && !e; i++)
		e = vigil_expo_sample(&x.w, (const char *[]){ "some-domain" }, (uint64_t)i, 1);
	assert_int_equal(e, -EMSGSIZE);
	assert_true(i > 1);
	assert_true(x.b.len <= 100);
	assert_int_equal(x.b.data[x.b.len - 1], '\n'); /* cut back to the last whole line */
	assert_int_equal(strlen(x.b.data), x.b.len);
	assert_int_equal(vigil_expo_finish(&x.w), -EMSGSIZE);
	assert_int_equal(vigil_buf_append(&x.b, "x", 1), -EMSGSIZE); /* it sticks */
	vigil_buf_reset(&x.b);
	assert_int_equal(x.b.len, 0);
	assert_int_equal(vigil_buf_append(&x.b, "x", 1), 0);
	vigil_buf_release(&x.b);
}

static void test_buffer_take(void **state)
{
	struct vigil_buf b;
	size_t len = 99;
	char *p;

	(void)state;
	vigil_buf_init(&b, 0);
	assert_null(vigil_buf_take(&b, &len));
	assert_int_equal(len, 0);
	for (int i = 0; i < 3000; i++) /* grows past the first 4 KiB */
		assert_int_equal(vigil_buf_append(&b, "abc", 3), 0);
	p = vigil_buf_take(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 9000);
	assert_int_equal(strlen(p), 9000);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_lines),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_escaping_differential),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_series_bound),
		cmocka_unit_test(test_buffer_max),
		cmocka_unit_test(test_buffer_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
