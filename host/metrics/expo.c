/* SPDX-License-Identifier: MIT */
/*
 * expo: the text exposition writer and its buffer (see expo.h for what it
 * enforces). Owns nothing beyond the caller's buffer; allocation happens
 * only when the buffer grows (doubling, up to its max). Each public write
 * is a whole line or lines: when the buffer fails in the middle, it is cut
 * back to where that write began, so the text stays well formed.
 * Load: 10^4..10^5 lines a scrape; a line costs a few appends, the escape
 * scan of its label values and one or two number conversions.
 */
#include "expo.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the buffer ------------------------------------------------------------ */

void vigil_buf_init(struct vigil_buf *b, size_t max)
{
	*b = (struct vigil_buf){ .max = max ? max : VIGIL_BUF_MAX_DEFAULT };
}

void vigil_buf_reset(struct vigil_buf *b)
{
	b->len = 0;
	b->err = 0;
	if (b->data)
		b->data[0] = '\0';
}

void vigil_buf_release(struct vigil_buf *b)
{
	free(b->data);
	vigil_buf_init(b, b->max);
}

static int buf_grow(struct vigil_buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int vigil_buf_append(struct vigil_buf *b, const void *p, size_t n)
{
	if (b->err)
		return b->err;
	if (n > b->max - b->len) {
		b->err = -EMSGSIZE;
		return b->err;
	}
	if (b->len + n + 1 > b->cap && (b->err = buf_grow(b, b->len + n + 1)) < 0)
		return b->err;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

char *vigil_buf_take(struct vigil_buf *b, size_t *len)
{
	char *d = b->err || !b->len ? NULL : b->data;

	*len = d ? b->len : 0;
	if (d)
		b->data = NULL;
	free(b->data);
	vigil_buf_init(b, b->max);
	return d;
}

static void put(struct vigil_buf *b, const char *s, size_t n)
{
	vigil_buf_append(b, s, n);
}

static void puts0(struct vigil_buf *b, const char *s)
{
	vigil_buf_append(b, s, strlen(s));
}

/* ---- numbers ----------------------------------------------------------------- */

static size_t fmt_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out[i++] = tmp[--n];
	out[i] = '\0';
	return i;
}

/* Zeros in scale when it is a power of ten, else -1. */
static int scale_digits(uint64_t scale)
{
	int d = 0;

	if (!scale)
		return -1;
	while (scale % 10 == 0) {
		scale /= 10;
		d++;
	}
	return scale == 1 ? d : -1;
}

/* raw / scale as an exact decimal, trailing zeros of the fraction cut.
 * out holds at least 42 bytes. -EINVAL when scale is not a power of ten. */
static int fmt_scaled(char *out, uint64_t raw, uint64_t scale)
{
	int digits = scale_digits(scale);
	uint64_t frac;
	size_t n;

	if (digits < 0)
		return -EINVAL;
	n = fmt_u64(out, raw / scale);
	frac = raw % scale;
	if (!frac)
		return 0;
	out[n++] = '.';
	for (int i = digits - 1; i >= 0; i--, frac /= 10)
		out[n + (size_t)i] = (char)('0' + frac % 10);
	n += (size_t)digits;
	while (out[n - 1] == '0')
		n--;
	out[n] = '\0';
	return 0;
}

/* The shortest %g that reads back as v (as Go's strconv does). */
static void fmt_double(char *out, size_t size, double v)
{
	if (isnan(v)) {
		snprintf(out, size, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, size, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* ---- names and escaping --------------------------------------------------------- */

static bool name_ok(const char *s, size_t max)
{
	size_t n;

	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return n <= max;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Bytes of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* past U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* s escaped: \\ and \n always, \" in label values; invalid UTF-8 as U+FFFD. */
static void put_escaped(struct vigil_buf *b, const char *str, bool quote)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), run = 0;

	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(s + i, n - i);
		const char *esc = !len                   ? "\xef\xbf\xbd"
				  : s[i] == '\\'         ? "\\\\"
				  : s[i] == '\n'         ? "\\n"
				  : s[i] == '"' && quote ? "\\\""
							 : NULL;

		if (!esc) {
			i += len;
			continue;
		}
		put(b, (const char *)s + run, i - run);
		puts0(b, esc);
		i += len ? len : 1;
		run = i;
	}
	put(b, (const char *)s + run, n - run);
}

/* ---- the writer ------------------------------------------------------------------ */

void vigil_expo_init(struct vigil_expo *w, struct vigil_buf *b)
{
	*w = (struct vigil_expo){ .b = b };
}

static int fail(struct vigil_expo *w)
{
	if (!w->err)
		w->err = -EINVAL;
	return w->err;
}

/* The end of one public write: on a buffer error, cut back to mark. */
static int done(struct vigil_expo *w, size_t mark)
{
	struct vigil_buf *b = w->b;

	if (!b->err)
		return w->err;
	if (b->data && b->len > mark) {
		b->len = mark;
		b->data[mark] = '\0';
	}
	return b->err;
}

/* Label names: valid, not reserved, distinct. The count, or -EINVAL. */
static int labels_check(const struct vigil_metric_family *f)
{
	unsigned n = 0;

	while (n < VIGIL_EXPO_MAX_LABELS && f->labels[n])
		n++;
	for (unsigned i = n; i < VIGIL_EXPO_MAX_LABELS; i++)
		if (f->labels[i])
			return -EINVAL; /* a hole */
	for (unsigned i = 0; i < n; i++) {
		const char *l = f->labels[i];

		if (!name_ok(l, VIGIL_EXPO_LABEL_MAX) || strncmp(l, "__", 2) == 0 ||
		    !strcmp(l, "le") || !strcmp(l, "quantile"))
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(l, f->labels[j]))
				return -EINVAL;
	}
	return (int)n;
}

static bool family_ok(const struct vigil_metric_family *f)
{
	if (!f || !name_ok(f->name, VIGIL_EXPO_NAME_MAX) || !f->help)
		return false;
	switch (f->type) {
	case VIGIL_METRIC_COUNTER:
		return ends_with(f->name, "_total");
	case VIGIL_METRIC_GAUGE:
		return !ends_with(f->name, "_total");
	case VIGIL_METRIC_HISTOGRAM:
		return !ends_with(f->name, "_total") && !ends_with(f->name, "_bucket") &&
		       !ends_with(f->name, "_sum") && !ends_with(f->name, "_count");
	}
	return false;
}

int vigil_expo_family(struct vigil_expo *w, const struct vigil_metric_family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	size_t mark = w->b->len;
	int n;

	w->name[0] = '\0';
	if (w->err)
		return w->err;
	if (!family_ok(f) || (n = labels_check(f)) < 0)
		return fail(w);
	snprintf(w->name, sizeof(w->name), "%s", f->name);
	for (int i = 0; i < n; i++)
		snprintf(w->labels[i], sizeof(w->labels[i]), "%s", f->labels[i]);
	w->type = f->type;
	w->nlabels = (unsigned)n;
	w->series = 0;
	w->max_series = f->max_series ? f->max_series : VIGIL_EXPO_SERIES_DEFAULT;
	puts0(w->b, "# HELP ");
	puts0(w->b, f->name);
	put(w->b, " ", 1);
	put_escaped(w->b, f->help, false);
	puts0(w->b, "\n# TYPE ");
	puts0(w->b, f->name);
	put(w->b, " ", 1);
	puts0(w->b, types[f->type]);
	put(w->b, "\n", 1);
	return done(w, mark);
}

/* {name="value",...[,le="le"]}, nothing when there is no label. */
static void put_labels(struct vigil_expo *w, const char *const *values, const char *le)
{
	if (!w->nlabels && !le)
		return;
	put(w->b, "{", 1);
	for (unsigned i = 0; i < w->nlabels; i++) {
		if (i)
			put(w->b, ",", 1);
		puts0(w->b, w->labels[i]);
		put(w->b, "=\"", 2);
		put_escaped(w->b, values[i], true);
		put(w->b, "\"", 1);
	}
	if (le) {
		puts0(w->b, w->nlabels ? ",le=\"" : "le=\"");
		puts0(w->b, le);
		put(w->b, "\"", 1);
	}
	put(w->b, "}", 1);
}

/*
 * Whether a sample (or histogram series) of the current family may be
 * written: the family is of that kind and every label has a value (else
 * -EINVAL); 0 when it is one too many (dropped, counted); 1 when it may.
 */
static int sample_begin(struct vigil_expo *w, const char *const *values, bool hist)
{
	if (w->err)
		return w->err;
	if (!w->name[0] || (w->type == VIGIL_METRIC_HISTOGRAM) != hist || (w->nlabels && !values))
		return fail(w);
	for (unsigned i = 0; i < w->nlabels; i++)
		if (!values[i])
			return fail(w);
	if (w->series >= w->max_series) {
		w->dropped++;
		return 0;
	}
	w->series++;
	return 1;
}

static int sample_line(struct vigil_expo *w, const char *const *values, const char *num)
{
	size_t mark = w->b->len;

	puts0(w->b, w->name);
	put_labels(w, values, NULL);
	put(w->b, " ", 1);
	puts0(w->b, num);
	put(w->b, "\n", 1);
	return done(w, mark);
}

int vigil_expo_sample(struct vigil_expo *w, const char *const *values, uint64_t raw, uint64_t scale)
{
	char num[48];
	int r = sample_begin(w, values, false);

	if (r <= 0)
		return r;
	if (fmt_scaled(num, raw, scale) < 0)
		return fail(w);
	return sample_line(w, values, num);
}

int vigil_expo_sample_double(struct vigil_expo *w, const char *const *values, double v)
{
	char num[48];
	int r = sample_begin(w, values, false);

	if (r <= 0)
		return r;
	fmt_double(num, sizeof(num), v);
	return sample_line(w, values, num);
}

/* name + suffix, labels (with le when given), value. */
static void hist_line(struct vigil_expo *w, const char *suffix, const char *const *values,
		      const char *le, const char *num)
{
	puts0(w->b, w->name);
	puts0(w->b, suffix);
	put_labels(w, values, le);
	put(w->b, " ", 1);
	puts0(w->b, num);
	put(w->b, "\n", 1);
}

static bool hist_ok(const struct vigil_expo_hist *h)
{
	if (!h || (h->nbounds && !h->bounds) || !h->buckets || scale_digits(h->scale) < 0)
		return false;
	for (size_t i = 1; i < h->nbounds; i++)
		if (h->bounds[i] <= h->bounds[i - 1])
			return false;
	return true;
}

int vigil_expo_histogram(struct vigil_expo *w, const char *const *values,
			 const struct vigil_expo_hist *h)
{
	char le[48], num[48];
	uint64_t cum = 0;
	size_t mark = w->b->len;
	int r = sample_begin(w, values, true);

	if (r <= 0)
		return r;
	if (!hist_ok(h))
		return fail(w);
	for (size_t i = 0; i <= h->nbounds; i++) {
		cum += h->buckets[i];
		if (i < h->nbounds)
			fmt_scaled(le, h->bounds[i], h->scale);
		else
			snprintf(le, sizeof(le), "+Inf");
		fmt_u64(num, cum);
		hist_line(w, "_bucket", values, le, num);
	}
	fmt_scaled(num, h->sum, h->scale);
	hist_line(w, "_sum", values, NULL, num);
	fmt_u64(num, cum);
	hist_line(w, "_count", values, NULL, num);
	return done(w, mark);
}

int vigil_expo_finish(const struct vigil_expo *w)
{
	return w->err ? w->err : w->b->err;
}
