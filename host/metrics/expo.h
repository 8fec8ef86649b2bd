/* SPDX-License-Identifier: MIT */
/*
 * expo: the Prometheus text exposition format (version 0.0.4), written
 * into a growable buffer the caller owns.
 *
 * Owns: struct vigil_buf (a byte buffer with a cap and a sticky error) and
 * the writer, struct vigil_expo, which appends families to one: HELP and
 * TYPE first, then samples of counters, gauges and histograms with fixed
 * buckets. It never prints and allocates only when the buffer grows.
 *
 * What it enforces, so a caller cannot write what `promtool check
 * metrics` or a scraper would refuse:
 *  - metric and label names valid ([a-zA-Z_][a-zA-Z0-9_]*, no ':', at most
 *    VIGIL_EXPO_NAME_MAX and VIGIL_EXPO_LABEL_MAX bytes, label names not
 *    starting with "__", no "le" or "quantile" label); "_total"
 *    ends every counter's name and no other's; a histogram's name does not
 *    end in _bucket, _sum or _count;
 *  - every family has HELP and TYPE; samples only after their family;
 *  - bounded labels by construction: a family declares its label names
 *    (at most VIGIL_EXPO_MAX_LABELS) once, every sample gives exactly that
 *    many values, and a family takes at most max_series samples (the rest
 *    are dropped and counted, the output stays well formed);
 *  - label values escaped (\\, \", \n), invalid UTF-8 replaced by U+FFFD;
 *    HELP escaped (\\, \n);
 *  - values exact: integers as integers, raw/scale (scale a power of ten,
 *    e.g. ns -> s with 10^9) as a decimal without rounding; doubles as %.17g
 *    with NaN, +Inf and -Inf spelled as the format wants.
 * A misuse is -EINVAL and sticks (vigil_expo_finish returns it), as does
 * the buffer's -ENOMEM or -EMSGSIZE; what was written stays well formed up
 * to the last complete line.
 *
 * Load: one scrape every few seconds; a few hundred guests times ~100
 * families, i.e. 10^4..10^5 lines (a few MiB) per scrape.
 */
#ifndef VIGIL_METRICS_EXPO_H
#define VIGIL_METRICS_EXPO_H

#include <stddef.h>
#include <stdint.h>

#define VIGIL_BUF_MAX_DEFAULT     (64u << 20) /* vigil_buf_init(b, 0) */
#define VIGIL_EXPO_MAX_LABELS     4
#define VIGIL_EXPO_SERIES_DEFAULT 10000 /* a family's max_series when 0 */
#define VIGIL_EXPO_NAME_MAX       200   /* bytes of a metric name */
#define VIGIL_EXPO_LABEL_MAX      64    /* bytes of a label name */
#define VIGIL_EXPO_CONTENT_TYPE   "text/plain; version=0.0.4; charset=utf-8"

struct vigil_buf {
	char *data; /* NUL-terminated when not NULL */
	size_t len; /* bytes written, NUL excluded */
	size_t cap; /* bytes allocated */
	size_t max; /* len never goes past it */
	int err;    /* the first error: -ENOMEM, -EMSGSIZE; appends do nothing after it */
};

/* An empty buffer holding at most max bytes (0: VIGIL_BUF_MAX_DEFAULT). */
void vigil_buf_init(struct vigil_buf *b, size_t max);
/* Empty again, error cleared, memory kept. */
void vigil_buf_reset(struct vigil_buf *b);
/* Gives the memory back; the buffer is empty after (as vigil_buf_init). */
void vigil_buf_release(struct vigil_buf *b);
/* 0 or the buffer's error (set now or earlier). */
int vigil_buf_append(struct vigil_buf *b, const void *p, size_t n);
/* Hands the data over (free() it; NULL when empty or on error) and empties
 * the buffer. *len gets its length. */
char *vigil_buf_take(struct vigil_buf *b, size_t *len);

enum vigil_metric_type {
	VIGIL_METRIC_COUNTER = 0,
	VIGIL_METRIC_GAUGE = 1,
	VIGIL_METRIC_HISTOGRAM = 2,
};

struct vigil_metric_family {
	const char *name; /* the whole name: "vigil_stream_frames_total" */
	const char *help; /* one sentence, any bytes (escaped) */
	enum vigil_metric_type type;
	/* label names in sample order, NULL after the last (or all NULL) */
	const char *labels[VIGIL_EXPO_MAX_LABELS];
	uint32_t max_series; /* samples (histograms: series) taken; 0: the default */
};

/* A histogram with fixed buckets, in raw units (ns) shown as raw / scale. */
struct vigil_expo_hist {
	const uint64_t *bounds;  /* upper bounds, ascending, nbounds of them */
	const uint64_t *buckets; /* nbounds + 1 counts, not cumulative; the last
				    is above the last bound */
	size_t nbounds;
	uint64_t sum;   /* of the observations, raw */
	uint64_t scale; /* a power of ten: bounds and sum are shown / scale */
};

struct vigil_expo {
	struct vigil_buf *b;
	/* The current family, copied (the caller's may be gone): */
	enum vigil_metric_type type;
	char name[VIGIL_EXPO_NAME_MAX + 1]; /* "" before the first family */
	char labels[VIGIL_EXPO_MAX_LABELS][VIGIL_EXPO_LABEL_MAX + 1];
	unsigned nlabels;            /* its label count */
	uint32_t series, max_series; /* samples taken in it, and its bound */
	uint64_t dropped;            /* samples dropped over max_series, in all */
	int err;                     /* the first misuse (-EINVAL) */
};

void vigil_expo_init(struct vigil_expo *w, struct vigil_buf *b);
/* Starts a family: checks it (-EINVAL), writes HELP and TYPE. f is copied
 * (names, not help): it need not outlive the call. */
int vigil_expo_family(struct vigil_expo *w, const struct vigil_metric_family *f);
/* A counter's or gauge's sample: raw / scale (scale 1, 10, ..., 10^18). */
int vigil_expo_sample(struct vigil_expo *w, const char *const *values, uint64_t raw,
		      uint64_t scale);
int vigil_expo_sample_double(struct vigil_expo *w, const char *const *values, double v);
/* A histogram's series: _bucket lines (cumulative, le ascending, +Inf),
 * _sum and _count (the sum of the buckets). */
int vigil_expo_histogram(struct vigil_expo *w, const char *const *values,
			 const struct vigil_expo_hist *h);
/* 0, or the first error of the writer or of its buffer. */
int vigil_expo_finish(const struct vigil_expo *w);

#endif /* VIGIL_METRICS_EXPO_H */
