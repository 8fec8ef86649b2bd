/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/cli/report.c, report_html.c and cmd_report.c: the page of
 * small event streams (escaping, the stall lane, bounds and bins checked
 * against a naive count), and `vigil report` on a recording.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <vigil/wire.h>

#include "cli.h"
#include "cpio_reader.h"
#include "record.h"
#include "report_int.h"
#include "test_util.h"
#include "watch.h"

static struct vigil_report *fresh(void)
{
	struct vigil_report *r = NULL;

	assert_int_equal(vigil_report_new(&r), 0);
	return r;
}

static void ev(struct vigil_report *r, const char *json)
{
	assert_int_equal(vigil_report_event_line(r, json, strlen(json)), 1);
}

/* The page as a string (malloc'ed). */
static char *page(const struct vigil_report *r, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	assert_int_equal(vigil_report_write(r, f), 0);
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Markup in every string a guest sends comes out as text. */
static void test_escaping(void **state)
{
	struct vigil_report *r = fresh();
	char *html;

	(void)state;
	ev(r, "{\"event\":\"hello\",\"t_ns\":1,\"hostname\":\"<img src=x onerror=alert(1)>\","
	      "\"kernel_release\":\"6.1\",\"agent_version\":\"a&b\",\"guest_boottime_ns\":0}");
	ev(r, "{\"event\":\"scenario\",\"t_ns\":10,\"phase\":\"start\",\"index\":0,"
	      "\"name\":\"<script>alert('scen')</script>\"}");
	ev(r, "{\"event\":\"test_result\",\"t_ns\":20,\"outcome\":\"FAIL\",\"duration_ns\":5,"
	      "\"name\":\"<script>alert('test')</script>\",\"message\":\"\\\"q\\\" \\u0001\"}");
	ev(r, "{\"event\":\"output\",\"t_ns\":30,\"stream\":\"stdout\",\"crc_ok\":true,"
	      "\"text\":\"<script>alert('out')</script>\\n\"}");
	ev(r, "{\"event\":\"finding\",\"t_ns\":40,\"finding\":{\"outcome\":\"KERNEL_TROUBLE\","
	      "\"fatal\":false,\"t_ns\":40,\"pid\":0,\"detail\":\"</title><script>x</script>\","
	      "\"trouble\":\"oom\"}}");
	html = page(r, NULL);
	assert_null(strstr(html, "<script>alert"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "</title><script>"));
	assert_int_equal(count(html, "<script"), 1); /* the page's own zoom */
	assert_true(count(html, "&lt;script&gt;alert(&apos;scen&apos;)") >= 2); /* bar, table */
	assert_non_null(strstr(html, "&lt;script&gt;alert(&apos;test&apos;)"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(&apos;out&apos;)"));
	assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_non_null(strstr(html, "a&amp;b"));
	assert_non_null(strstr(html, "&quot;q&quot; ?")); /* a control byte is '?' */
	free(html);
	vigil_report_free(r);
}

/* The boot row's mark of the guest clock's start: HELLO's time minus its
 * boottime, moved back by the lag the kernel's sched_clock line states; a
 * line that does not parse, says the TSC ran behind or states more lag than
 * fits before HELLO moves nothing. */
static double boot_mark(const char *dmesg, char **html_out)
{
	struct vigil_report *r = fresh();
	char line[512], *html, *m;
	double x;

	ev(r, "{\"event\":\"link_up\",\"t_ns\":1}");
	ev(r, "{\"event\":\"hello\",\"t_ns\":2000000000,\"guest_boottime_ns\":1200000000}");
	if (dmesg) {
		snprintf(line, sizeof(line),
			 "{\"event\":\"output\",\"t_ns\":2000000000,\"stream\":\"dmesg\","
			 "\"crc_ok\":true,\"level\":6,\"kmsg_seq\":900,\"ts_us\":978000,"
			 "\"text\":\"%s\"}",
			 dmesg);
		ev(r, line);
	}
	ev(r, "{\"event\":\"run_end\",\"t_ns\":3000000000,\"outcome\":\"PASS\","
	      "\"exit_code\":0}");
	html = page(r, NULL);
	m = strstr(html, "<g class=\"boot\">");
	assert_non_null(m);
	m = strstr(m, "<path d=\"M");
	assert_non_null(m);
	x = strtod(m + strlen("<path d=\"M"), NULL);
	vigil_report_free(r);
	*html_out = html;
	return x;
}

static void test_boot_clock_lag(void **state)
{
	static const char *const bad[] = {
		"sched_clock: Marking stable (954083465, 20793921)->(900000000, -387735117)",
		"sched_clock: Marking stable (954083465, 20793921)->(99999999999999999999, 1)",
		"sched_clock: Marking stable (954083465, 20793921)->(1362612503)",
		"sched_clock: Marking stable (954083465, 20793921)->(1362612503, -387735117) x",
		"sched_clock: Marking stable (1, 0)->(70000000001, 0)",
		/* 0.9 s: more than HELLO's time minus its boottime (0.8 s) */
		"sched_clock: Marking stable (100000000, 0)->(1000000000, 0)",
	};
	char *html;
	double plain, lagged;

	(void)state;
	plain = boot_mark(NULL, &html);
	assert_non_null(strstr(html, "said 1.200 s since boot)</title>"));
	free(html);
	lagged = boot_mark("sched_clock: Marking stable (954083465, 20793921)->(1362612503, "
			   "-387735117)",
			   &html);
	assert_non_null(strstr(html, "said 1.200 s since boot, and the kernel's sched_clock line "
				     "that the clock had fallen 0.409 s behind"));
	free(html);
	assert_true(lagged < plain - 1.0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(boot_mark(bad[i], &html) == plain);
		assert_null(strstr(html, "fallen"));
		free(html);
	}
}

/* A time near 2^64 (a recording's, or an events file's) gives an axis of
 * about ten ticks, not a tick count that wraps and never ends. */
static void test_axis_at_the_end_of_time(void **state)
{
	struct vigil_report *r = fresh();
	char *html, *axis, *end;
	size_t ticks;

	(void)state;
	ev(r, "{\"event\":\"link_up\",\"t_ns\":1}");
	ev(r, "{\"event\":\"link_down\",\"t_ns\":18446744073709551615}");
	html = page(r, NULL);
	axis = strstr(html, "<g class=\"axis\">");
	assert_non_null(axis);
	end = strstr(axis, "</g>");
	assert_non_null(end);
	*end = '\0';
	ticks = count(axis, "<line ");
	assert_true(ticks >= 5 && ticks <= 12);
	free(html);
	vigil_report_free(r);
}

static void stall_events(struct vigil_report *r, uint32_t pid, uint64_t t_ms)
{
	char line[512];

	snprintf(line, sizeof(line),
		 "{\"event\":\"process_new\",\"t_ns\":%llu,\"pid\":%u,\"deadline_ns\":1000000000}",
		 (unsigned long long)(t_ms - 2000) * 1000000, pid);
	ev(r, line);
	snprintf(line, sizeof(line),
		 "{\"event\":\"stall\",\"t_ns\":%llu,\"pid\":%u,\"deadline_ns\":1000000000,"
		 "\"silence_ns\":1000000000,\"host_starved\":false}",
		 (unsigned long long)t_ms * 1000000, pid);
	ev(r, line);
}

/* A stalled process gets the first lane, a red bar with its pid, its class
 * (when a stall_classified event came) and its recovery; the story names it. */
static void test_stall_lane(void **state)
{
	struct vigil_report *r = fresh();
	char line[256], *html, *lane;

	(void)state;
	for (uint32_t pid = 300; pid < 330; pid++) {
		snprintf(line, sizeof(line), "{\"event\":\"process_new\",\"t_ns\":1000,\"pid\":%u}",
			 pid);
		ev(r, line);
	}
	stall_events(r, 412, 4000);
	ev(r,
	   "{\"event\":\"stall_classified\",\"t_ns\":4100000000,\"class\":\"stopped\",\"pid\":412,"
	   "\"samples\":[{\"state\":\"T\",\"comm\":\"beater\",\"wchan\":\"do_signal_stop\"}]}");
	ev(r, "{\"event\":\"recovery\",\"t_ns\":6000000000,\"pid\":412,\"silence_ns\":3000000000}");
	html = page(r, NULL);
	lane = strstr(html, "<g class=\"lane");
	assert_non_null(lane);
	assert_memory_equal(lane, "<g class=\"lane stalled\" data-pid=\"412\"", 37);
	assert_int_equal(count(html, "<g class=\"lane"), REPORT_LANES);
	assert_non_null(strstr(html, "class=\"stall\" data-pid=\"412\""));
	assert_non_null(strstr(html, "<b>pid 412</b> (beater) stopped beating at 3.000 s"));
	assert_non_null(strstr(html, "class <b>stopped</b>: comm beater, state T, wchan "
				     "do_signal_stop"));
	assert_non_null(strstr(html, "it beat again at 6.000 s, after 3.000 s of silence"));
	assert_non_null(strstr(html, "pid 412 beat again (recovery)"));
	free(html);
	vigil_report_free(r);
	/* without a class event the stall is drawn all the same, without a class */
	r = fresh();
	stall_events(r, 77, 3000);
	html = page(r, NULL);
	assert_non_null(strstr(html, "class=\"stall\" data-pid=\"77\""));
	assert_null(strstr(html, "class <b>"));
	assert_non_null(strstr(html, "it was still silent at the end"));
	free(html);
	vigil_report_free(r);
}

/* The agent's own lane is named from HELLO's agent_pid, a restarted
 * agent's too; another pid's is not, and a HELLO without it names none. */
static void test_agent_lane(void **state)
{
	struct vigil_report *r = fresh();
	char *html;

	(void)state;
	ev(r, "{\"event\":\"hello\",\"t_ns\":1000,\"agent_pid\":79}");
	ev(r, "{\"event\":\"process_new\",\"t_ns\":2000,\"pid\":79,\"deadline_ns\":3000000000}");
	ev(r, "{\"event\":\"process_new\",\"t_ns\":2000,\"pid\":80,\"deadline_ns\":3000000000}");
	ev(r, "{\"event\":\"agent_restart\",\"t_ns\":5000,\"agent_pid\":91}");
	ev(r, "{\"event\":\"process_new\",\"t_ns\":6000,\"pid\":91,\"deadline_ns\":3000000000}");
	html = page(r, NULL);
	assert_int_equal(count(html, "<td>the agent</td>"), 2);
	assert_non_null(strstr(html, "pid 79 the agent"));
	assert_non_null(strstr(html, "pid 91 the agent"));
	assert_null(strstr(html, "pid 80 the agent"));
	free(html);
	vigil_report_free(r);
	r = fresh();
	ev(r, "{\"event\":\"hello\",\"t_ns\":1000}");
	ev(r, "{\"event\":\"process_new\",\"t_ns\":2000,\"pid\":79,\"deadline_ns\":3000000000}");
	html = page(r, NULL);
	assert_null(strstr(html, "pid 79 the agent"));
	assert_int_equal(count(html, "<td>the agent</td>"), 0);
	free(html);
	vigil_report_free(r);
}

/* Output bins against a naive count: the doubling bins hold exactly what a
 * count at the final width holds, for random times and sizes. */
static void test_bins_differential(void **state)
{
	struct vigil_report *r = fresh();
	static uint64_t ref[REPORT_BINS];
	uint64_t ts[3000], lens[3000], total = 0;
	uint32_t seed = 12345;
	char line[256];

	(void)state;
	for (int i = 0; i < 3000; i++) {
		seed = seed * 1103515245u + 12345u;
		ts[i] =
		    (uint64_t)(seed % 100000) * 37000 + (uint64_t)i * 1000000; /* up to ~6.7 s */
		lens[i] = 1 + seed % 7;
		snprintf(
		    line, sizeof(line),
		    "{\"event\":\"output\",\"t_ns\":%llu,\"stream\":\"stderr\",\"text\":\"%.*s\"}",
		    (unsigned long long)ts[i], (int)lens[i], "abcdefg");
		ev(r, line);
		total += lens[i];
	}
	assert_true(r->bin_ns > REPORT_BIN_MIN_NS);
	memset(ref, 0, sizeof(ref));
	for (int i = 0; i < 3000; i++) {
		assert_true(ts[i] / r->bin_ns < REPORT_BINS);
		ref[ts[i] / r->bin_ns] += lens[i];
	}
	for (int b = 0; b < REPORT_BINS; b++)
		assert_int_equal(r->out_bytes[1][b], ref[b]);
	assert_int_equal(r->out_total[1], total);
	vigil_report_free(r);
}

/* A huge run stays within its bounds: 2000 processes, 1000 stalls, 20000
 * output chunks over ten hours, 500 tests give a page of bounded size. */
static void test_bounds(void **state)
{
	struct vigil_report *r = fresh();
	char line[512], *html;
	size_t len;
	const uint64_t hour = 3600ull * 1000000000ull;

	(void)state;
	for (uint32_t pid = 2; pid < 2002; pid++) {
		snprintf(line, sizeof(line), "{\"event\":\"process_new\",\"t_ns\":%u,\"pid\":%u}",
			 pid, pid);
		ev(r, line);
	}
	for (uint32_t i = 0; i < 1000; i++)
		stall_events(r, 2 + i % 300, 3000 + (uint64_t)i * 30000);
	for (uint64_t i = 0; i < 20000; i++) {
		snprintf(line, sizeof(line),
			 "{\"event\":\"output\",\"t_ns\":%llu,\"stream\":\"%s\",\"text\":\"line "
			 "%llu of a long run with some words in it\\n\"}",
			 (unsigned long long)(i * 10 * hour / 20000), i % 2 ? "stdout" : "dmesg",
			 (unsigned long long)i);
		ev(r, line);
	}
	for (uint32_t i = 0; i < 500; i++) {
		snprintf(line, sizeof(line),
			 "{\"event\":\"test_result\",\"t_ns\":%llu,\"outcome\":\"PASS\",\"name\":"
			 "\"t%u\"}",
			 (unsigned long long)i * 60000000000ull, i);
		ev(r, line);
	}
	assert_int_equal(r->n_procs, REPORT_PROCS_MAX);
	assert_int_equal(r->n_stalls, REPORT_STALLS_MAX);
	assert_int_equal(r->dropped_stalls, 1000 - REPORT_STALLS_MAX);
	assert_int_equal(r->n_tests, REPORT_TESTS_MAX);
	assert_int_equal(r->tests_by[0], 500);
	assert_true(r->bin_ns * REPORT_BINS >= 10 * hour - hour / 2000);
	html = page(r, &len);
	assert_int_equal(count(html, "<g class=\"lane"), REPORT_LANES);
	assert_non_null(strstr(html, "the table was full"));
	assert_non_null(strstr(html, "744 more stalls not kept"));
	assert_true(len < 1024 * 1024); /* documented in docs/report.md */
	free(html);
	vigil_report_free(r);
}

static void test_bad_lines(void **state)
{
	struct vigil_report *r = fresh();
	const char *unknown = "{\"event\":\"from_the_future\",\"t_ns\":5}";

	(void)state;
	assert_int_equal(vigil_report_event_line(r, "not json", 8), -EBADMSG);
	assert_int_equal(vigil_report_event_line(r, "[1,2]", 5), -EBADMSG);
	assert_int_equal(vigil_report_event_line(r, "{\"t_ns\":5}", 10), -EBADMSG);
	assert_int_equal(vigil_report_event_line(r, unknown, strlen(unknown)), 0);
	assert_int_equal(r->end_ns, 5); /* still on the axis */
	vigil_report_free(r);
}

static int report_cmd(const char *first, ...)
{
	char **argv;
	va_list ap;
	int argc;

	va_start(ap, first);
	argc = tu_argv(&argv, first, ap);
	va_end(ap);
	return vigil_cmd_report(argc, argv);
}

/* A recording: pid 42 beats every 100 ms (9 beats), then is silent past its 200 ms
 * threshold. The page has its beats (sampled from the replayed tracker),
 * its stall and the verdict. */
static void write_recording(const char *file)
{
	struct vigil_hello h = { .proto_version = 1,
				 .agent_version = VIGIL_STR("t"),
				 .kernel_release = VIGIL_STR("6.1"),
				 .hostname = VIGIL_STR("g") };
	struct vigil_rec_writer w;
	uint8_t buf[512];
	uint64_t t0 = 1000000000ull, ms = 1000000ull;
	VIGIL_SESSION_OPTS(so, .stall_threshold_ns = 200 * ms);
	uint32_t seq = 0;
	char *hdr;
	int n;

	hdr = vigil_rec_header(&so, t0, "run", NULL, VIGIL_ROOT_OTHER);
	assert_int_equal(vigil_rec_open(&w, file, hdr), 0);
	free(hdr);
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_LINK_UP, t0, NULL, 0), 0);
	n = vigil_hello_encode(buf + VIGIL_WIRE_HDR_LEN, sizeof(buf) - VIGIL_WIRE_HDR_LEN, &h);
	n = vigil_frame_seal(buf, sizeof(buf), VIGIL_MSG_HELLO, seq++, (size_t)n);
	n +=
	    vigil_frame_encode(buf + n, sizeof(buf) - (size_t)n, VIGIL_MSG_SYS_RDY, seq++, NULL, 0);
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_RX, t0 + 100 * ms, buf, (size_t)n), 0);
	for (uint64_t t = 200; t <= 2000; t += 50) {
		if (t <= 1000 && t % 100 == 0) {
			struct vigil_beat b = { .pid = 42, .nonce = t };
			n = vigil_beats_encode(buf + VIGIL_WIRE_HDR_LEN,
					       sizeof(buf) - VIGIL_WIRE_HDR_LEN, &b, 1);
			n = vigil_frame_seal(buf, sizeof(buf), VIGIL_MSG_BEAT, seq++, (size_t)n);
			assert_int_equal(
			    vigil_rec_put(&w, VIGIL_REC_RX, t0 + t * ms, buf, (size_t)n), 0);
		}
		assert_int_equal(vigil_rec_put(&w, VIGIL_REC_TICK, t0 + t * ms, NULL, 0), 0);
	}
	/* the port closes, then the run is finished (as vigil_guest_gone records it) */
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_LINK_DOWN, t0 + 2000 * ms, NULL, 0), 0);
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_FINISH, t0 + 2000 * ms, NULL, 0), 0);
	assert_int_equal(vigil_rec_close(&w), 0);
}

static void test_cmd_recording(void **state)
{
	char *d = tu_mkdtemp(), rec[PATH_MAX], out[PATH_MAX];
	uint8_t *html;
	size_t len;

	(void)state;
	snprintf(rec, sizeof(rec), "%s/r.rec", d);
	snprintf(out, sizeof(out), "%s/r.html", d);
	write_recording(rec);
	assert_int_equal(report_cmd("vigil report", "-o", out, rec, NULL), 0);
	html = tcpio_slurp(out, &len);
	assert_non_null(html);
	html[len] = '\0';
	assert_non_null(strstr((char *)html, "class=\"stall\" data-pid=\"42\""));
	assert_non_null(strstr((char *)html, "<path class=\"beats\" fill=\"#1a7f37\" d=\"M"));
	assert_non_null(strstr((char *)html, "9 beats counted"));
	/* no EXIT: the verdict's outcome and exit code lead the page */
	assert_non_null(strstr((char *)html, "id=\"outcome\">LINK_LOST</span> exit <span "
					     "id=\"exit-code\">124</span>"));
	free(html);
	/* usage errors: no -o, two inputs, --verdict with a recording, a missing file */
	assert_int_equal(report_cmd("vigil report", rec, NULL), VIGIL_EXIT_USAGE);
	assert_int_equal(report_cmd("vigil report", "-o", out, "--events", rec, rec, NULL),
			 VIGIL_EXIT_USAGE);
	assert_int_equal(report_cmd("vigil report", "-o", out, "--verdict", rec, rec, NULL),
			 VIGIL_EXIT_USAGE);
	assert_int_equal(report_cmd("vigil report", "-o", out, "/nonexistent.rec", NULL),
			 VIGIL_EXIT_HARNESS);
	tu_rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_stall_lane),
		cmocka_unit_test(test_agent_lane),
		cmocka_unit_test(test_bins_differential),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_cmd_recording),
		cmocka_unit_test(test_boot_clock_lag),
		cmocka_unit_test(test_axis_at_the_end_of_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
