/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: `vigil report` on any file it is given
 * (host/cli/report.c, report_html.c): an input that starts with '{' is an
 * events file (`--events`, JSON lines, each line into the report), any
 * other a recording or a stream from a guest's port, replayed through a
 * session with every event into the report's bounded model (the guest's
 * strings, its kernel lines, its process and flow events); then the page.
 * Checks: the page is written, and no guest string becomes markup: the
 * page holds its own <script> element and no other. The replay's messages
 * about a damaged input go to /dev/null.
 * Load: one report (about 1 MB, taken and freed) per input.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_check.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Occurrences of needle in hay[0..n), ASCII case ignored. */
static size_t count_ci(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle), c = 0;

	for (size_t i = 0; i + k <= n; i++)
		if (!strncasecmp(hay + i, needle, k))
			c++;
	return c;
}

/* Each line, as `vigil report --events` reads them (a line's end trimmed). */
static void events_file(struct vigil_report *r, const char *p, size_t size)
{
	const char *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);

		while (len && p[len - 1] == '\r')
			len--;
		if (len)
			CHECK(vigil_report_event_line(r, p, len) != -ENOMEM);
		p = nl ? nl + 1 : end;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct vigil_report *r = NULL;
	char *page = NULL;
	size_t n = 0;
	FILE *f;
	int ok;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	CHECK(devnull);
	CHECK(vigil_report_new(&r) == 0);
	if (size && data[0] == '{') {
		events_file(r, (const char *)data, size);
		ok = 0;
	} else {
		ok = vigil_report_replay(r, "input", data, size, devnull);
	}
	if (ok == 0) {
		f = open_memstream(&page, &n);
		CHECK(f);
		CHECK(vigil_report_write(r, f) == 0);
		CHECK(fclose(f) == 0);
		CHECK(count_ci(page, n, "<script") == 1);
		free(page);
	}
	vigil_report_free(r);
	return 0;
}
