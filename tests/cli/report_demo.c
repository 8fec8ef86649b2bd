/* SPDX-License-Identifier: MIT */
/*
 * report-demo: writes a deterministic recording of a made-up 8.15 s run for
 * the report's browser test and the screenshot in docs/report.md: a boot,
 * scenario "load <script>alert(1)</script>" with a pause, three beating
 * processes of which pid 102 stops for 2.2 s (a stall and its recovery)
 * and pid 103 beats to a 300 ms deadline, a VM stop, stdout lines, a
 * kernel WARNING, two tests (one fails), a TCP flow, and EXIT 0. Every
 * string a guest could send carries markup, to prove it is escaped.
 * Usage: report-demo FILE. Test use only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#include "record.h"
#include "watch.h"

#define MS   1000000ull
#define T0   1000000000ull
#define SCEN "load <script>alert(1)</script>" /* a literal: VIGIL_STR takes no array */

static struct vigil_rec_writer w;
static uint32_t seq;
static uint8_t frame[VIGIL_WIRE_HDR_LEN + 65536];

static void die(const char *what)
{
	fprintf(stderr, "report-demo: %s failed\n", what);
	exit(1);
}

/* The payload encoded at frame + HDR (n bytes), sealed and recorded at ms. */
static void put(uint16_t type, int n, uint64_t ms)
{
	if (n < 0)
		die("encode");
	n = vigil_frame_seal(frame, sizeof(frame), type, seq++, (size_t)n);
	if (n < 0 || vigil_rec_put(&w, VIGIL_REC_RX, T0 + ms * MS, frame, (size_t)n) < 0)
		die("record");
}

static uint8_t *pl(void)
{
	return frame + VIGIL_WIRE_HDR_LEN;
}

static const size_t cap = sizeof(frame) - VIGIL_WIRE_HDR_LEN;

static void text(uint16_t type, const char *s, uint64_t ms)
{
	memcpy(pl(), s, strlen(s));
	put(type, (int)strlen(s), ms);
}

static void dmesg(const char *s, uint8_t level, uint64_t ms)
{
	struct vigil_dmesg d = { .level = level,
				 .kmsg_seq = ms,
				 .ts_us = ms * 1000,
				 .text = (const uint8_t *)s,
				 .text_len = (uint32_t)strlen(s) };

	put(VIGIL_MSG_DMESG, vigil_dmesg_encode(pl(), cap, &d), ms);
}

static void boot(void)
{
	struct vigil_hello h = { .proto_version = 1,
				 .guest_boottime_ns = 1400 * MS,
				 .agent_version = VIGIL_STR("0.1.0"),
				 .kernel_release = VIGIL_STR("6.1.0-demo"),
				 .hostname = VIGIL_STR("demo<i>host</i>") };

	vigil_rec_put(&w, VIGIL_REC_LINK_UP, T0, NULL, 0);
	dmesg("Linux version 6.1.0-demo", 5, 1100);
	dmesg("virtio_console: port org.vigil.bulk.0 ready", 6, 1300);
	put(VIGIL_MSG_HELLO, vigil_hello_encode(pl(), cap, &h), 1500);
	put(VIGIL_MSG_SYS_RDY, 0, 1700);
}

static void beat(uint32_t pid, uint32_t deadline_ms, uint64_t nonce, uint64_t ms)
{
	struct vigil_beat b = {
		.pid = pid, .nonce = nonce, .guest_mono_ns = ms * MS, .deadline_ms = deadline_ms
	};

	put(VIGIL_MSG_BEAT, vigil_beats_encode(pl(), cap, &b, 1), ms);
}

static void test(const char *name, uint8_t outcome, const char *msg, uint64_t ms)
{
	struct vigil_test_result t = { .outcome = outcome,
				       .duration_ns = 400 * MS,
				       .name = { name, (uint32_t)strlen(name) },
				       .message = { msg, (uint32_t)strlen(msg) } };

	put(VIGIL_MSG_TEST_RESULT, vigil_test_result_encode(pl(), cap, &t), ms);
}

static void flow(uint8_t event, uint64_t ms)
{
	struct vigil_flow f = { .family = 4,
				.protocol = 6,
				.event = event,
				.src_port = 40000,
				.dst_port = 8080,
				.src_addr = { 127, 0, 0, 1 },
				.dst_addr = { 127, 0, 0, 1 },
				.bytes = 4096,
				.packets = 8,
				.pid = 101 };

	put(VIGIL_MSG_FLOW, vigil_flows_encode(pl(), cap, &f, 1), ms);
}

/* What happens at ms (every 10 ms from 1.7 s to 8.15 s). */
static void at(uint64_t ms, uint64_t *nonce)
{
	bool stopped = ms >= 6000 && ms < 6400; /* the VM: nothing from the guest */
	char line[96];

	if (ms == 1800)
		put(VIGIL_MSG_SCENARIO_START, vigil_scenario_encode(pl(), cap, VIGIL_STR(SCEN)),
		    ms);
	if (ms == 6000)
		vigil_rec_put(&w, VIGIL_REC_VM_STOPPED, T0 + ms * MS, NULL, 0);
	if (ms == 6400)
		vigil_rec_put(&w, VIGIL_REC_VM_RESUMED, T0 + ms * MS, NULL, 0);
	if (ms == 6600 || ms == 7000)
		put(ms == 6600 ? VIGIL_MSG_SCENARIO_PAUSE : VIGIL_MSG_SCENARIO_RESUME,
		    vigil_scenario_encode(pl(), cap, VIGIL_STR(SCEN)), ms);
	if (!stopped && ms >= 1800 && ms < 8000 && ms % 100 == 0) {
		beat(101, 0, ++nonce[0], ms);
		if (ms < 3000 || ms >= 5200)
			beat(102, 0, ++nonce[1], ms);
		beat(103, 300, ++nonce[2], ms + 5);
	}
	if (!stopped && ms >= 1900 && ms < 8000 && ms % 250 == 0) {
		snprintf(line, sizeof(line), "step %llu <script>x</script> done\n",
			 (unsigned long long)ms / 250);
		text(VIGIL_MSG_STDOUT, line, ms);
	}
	if (ms == 2500)
		test("boot <script>t</script>", VIGIL_TEST_PASS, "", ms);
	if (ms == 7500)
		test("io_latency", VIGIL_TEST_FAIL, "p99 42 ms > 10 ms <b>bold</b>", ms);
	if (ms == 3500 || ms == 4500)
		flow(ms == 3500 ? VIGIL_FLOW_OPENED : VIGIL_FLOW_CLOSED, ms);
	if (ms == 7200)
		dmesg("WARNING: CPU: 0 PID: 103 at kernel/sched/core.c:1234 demo_tick+0x10/0x20", 4,
		      ms);
	if (ms == 8100)
		put(VIGIL_MSG_EXIT,
		    vigil_exit_encode(pl(), cap, &(struct vigil_exit){ .exit_status = 0 }), ms);
	if (ms == 8000)
		put(VIGIL_MSG_SCENARIO_END, vigil_scenario_encode(pl(), cap, VIGIL_STR(SCEN)), ms);
	vigil_rec_put(&w, VIGIL_REC_TICK, T0 + ms * MS, NULL, 0);
}

int main(int argc, char **argv)
{
	VIGIL_SESSION_OPTS(so, .stall_threshold_ns = 1000 * MS, .ack_exit = true);
	uint64_t nonce[3] = { 0 };
	char *hdr;

	if (argc != 2) {
		fputs("usage: report-demo FILE\n", stderr);
		return 2;
	}
	hdr = vigil_rec_header(&so, T0, "run", NULL, VIGIL_ROOT_OTHER);
	if (!hdr || vigil_rec_open(&w, argv[1], hdr) < 0)
		die("open");
	free(hdr);
	boot();
	for (uint64_t ms = 1700; ms <= 8150; ms += 10)
		at(ms, nonce);
	vigil_rec_put(&w, VIGIL_REC_FINISH, T0 + 8150 * MS, NULL, 0);
	return vigil_rec_close(&w) < 0;
}
