/* SPDX-License-Identifier: MIT */
/* junit: JUnit XML from a verdict (see junit.h). */
#include "junit.h"

#include <errno.h>
#include <string.h>

/* Length of a valid UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0)
		len = 2, cp = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3, cp = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates, past U+10FFFF, and U+FFFE/FFFF */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF || cp == 0xFFFE || cp == 0xFFFF)
		return 0;
	return len;
}

void vigil_xml_escape(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		size_t l;
		switch (c) {
		case '<':
			fputs("&lt;", f);
			i++;
			continue;
		case '>':
			fputs("&gt;", f);
			i++;
			continue;
		case '&':
			fputs("&amp;", f);
			i++;
			continue;
		case '"':
			fputs("&quot;", f);
			i++;
			continue;
		case '\'':
			fputs("&apos;", f);
			i++;
			continue;
		case '\n':
			fputs("&#10;", f);
			i++;
			continue;
		case '\t':
			fputs("&#9;", f);
			i++;
			continue;
		default:
			break;
		}
		if (c < 0x20 || c == 0x7F) {
			fputc('?', f);
			i++;
			continue;
		}
		l = utf8_len(p + i, len - i);
		if (l == 0) {
			fputc('?', f);
			i++;
			continue;
		}
		fwrite(p + i, 1, l, f);
		i += l;
	}
}

static void xml_str(FILE *f, const char *s)
{
	vigil_xml_escape(f, s, strlen(s));
}

/*
 * The body of the run's failure: the workload's exit status or signal,
 * then the evidence of the finding that decided the outcome (for a failed
 * workload, its last output lines; for kernel trouble, the splat).
 */
static void run_failure_body(FILE *f, const struct vigil_verdict *v)
{
	const struct vigil_evidence *ev = NULL;
	uint32_t n =
	    v->primary
		? vigil_verdict_finding_evidence(v, (uint32_t)(v->primary - v->findings), &ev)
		: 0;

	if (v->have_exit && v->exit_signal)
		fprintf(f, "workload killed by signal %d&#10;", (int)v->exit_signal);
	else if (v->have_exit)
		fprintf(f, "workload exit status %d&#10;", (int)v->exit_status);
	else
		fputs("the workload did not exit&#10;", f);
	for (uint32_t i = 0; i < n; i++) {
		xml_str(f, ev[i].line);
		fputs("&#10;", f);
	}
}

int vigil_junit_write(FILE *f, const struct vigil_verdict *v, const char *suite)
{
	unsigned fails = 0, errors = 0, skipped = 0;
	double run_s = (double)v->timeline.end_ns / 1e9;

	for (uint32_t i = 0; i < v->n_tests; i++) {
		fails += v->tests[i].outcome == VIGIL_TEST_FAIL;
		errors += v->tests[i].outcome == VIGIL_TEST_ERROR ||
			  v->tests[i].outcome > VIGIL_TEST_ERROR;
		skipped += v->tests[i].outcome == VIGIL_TEST_SKIP;
	}
	if (v->outcome != VIGIL_OUTCOME_PASS)
		fails++;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"", f);
	xml_str(f, suite);
	fprintf(f, "\" tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\" time=\"%.3f\">\n",
		v->n_tests + 1, fails, errors, skipped, run_s);
	for (uint32_t i = 0; i < v->n_tests; i++) {
		const struct vigil_test *t = &v->tests[i];
		fputs("  <testcase classname=\"", f);
		xml_str(f, suite);
		fputs(".tests\" name=\"", f);
		xml_str(f, t->name);
		fprintf(f, "\" time=\"%.3f\"", (double)t->duration_ns / 1e9);
		switch (t->outcome) {
		case VIGIL_TEST_PASS:
			fputs("/>\n", f);
			continue;
		case VIGIL_TEST_SKIP:
			fputs("><skipped message=\"", f);
			xml_str(f, t->message);
			fputs("\"/></testcase>\n", f);
			continue;
		case VIGIL_TEST_FAIL:
			fputs("><failure message=\"", f);
			xml_str(f, t->message);
			fputs("\" type=\"FAIL\"/></testcase>\n", f);
			continue;
		default:
			/* ERROR, and outcomes of later protocol versions, as the verdict
			 * names them */
			fputs("><error message=\"", f);
			xml_str(f, t->message);
			if (t->outcome == VIGIL_TEST_ERROR)
				fputs("\" type=\"ERROR\"/></testcase>\n", f);
			else
				fprintf(f, "\" type=\"outcome %u\"/></testcase>\n", t->outcome);
			continue;
		}
	}
	fputs("  <testcase classname=\"", f);
	xml_str(f, suite);
	fprintf(f, "\" name=\"run\" time=\"%.3f\"", run_s);
	if (v->outcome == VIGIL_OUTCOME_PASS) {
		fputs("/>\n", f);
	} else {
		fprintf(f, "><failure type=\"%s\" message=\"", vigil_outcome_name(v->outcome));
		xml_str(f, vigil_outcome_name(v->outcome));
		if (v->primary && v->primary->detail[0]) {
			fputs(": ", f);
			xml_str(f, v->primary->detail);
		}
		fputs("\">", f);
		run_failure_body(f, v);
		fputs("</failure></testcase>\n", f);
	}
	fputs("</testsuite>\n</testsuites>\n", f);
	return ferror(f) ? -EIO : 0;
}
