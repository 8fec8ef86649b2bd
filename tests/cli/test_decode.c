/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/cli/cmd_decode.c: `vigil decode` on a plain byte stream
 * and on a recording, through the command's own entry point; and replay.c's
 * message for a file that holds no frame.
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
#include "replay.h"
#include "test_util.h"
#include "watch.h"

/* HELLO, SYS_RDY, STDOUT "hi\n", EXIT status into buf; returns the length. */
static size_t guest_stream(uint8_t *buf, size_t cap, int32_t status)
{
	struct vigil_hello h = { .proto_version = 1,
				 .agent_version = VIGIL_STR("t"),
				 .kernel_release = VIGIL_STR("6.1"),
				 .hostname = VIGIL_STR("g") };
	struct vigil_exit ex = { .exit_status = status };
	size_t o = 0;
	int n;

	n = vigil_hello_encode(buf + o + VIGIL_WIRE_HDR_LEN, cap - o - VIGIL_WIRE_HDR_LEN, &h);
	assert_true(n > 0);
	o += (size_t)vigil_frame_seal(buf + o, cap - o, VIGIL_MSG_HELLO, 0, (size_t)n);
	o += (size_t)vigil_frame_encode(buf + o, cap - o, VIGIL_MSG_SYS_RDY, 1, NULL, 0);
	o += (size_t)vigil_frame_encode(buf + o, cap - o, VIGIL_MSG_STDOUT, 2, "hi\n", 3);
	n = vigil_exit_encode(buf + o + VIGIL_WIRE_HDR_LEN, cap - o - VIGIL_WIRE_HDR_LEN, &ex);
	assert_true(n > 0);
	o += (size_t)vigil_frame_seal(buf + o, cap - o, VIGIL_MSG_EXIT, 3, (size_t)n);
	return o;
}

static int decode(const char *file, const char *verdict)
{
	char *argv[] = { (char *)"vigil decode", (char *)"-q",
			 (char *)"--events",     (char *)"none",
			 (char *)"--verdict",    (char *)verdict,
			 (char *)file,           NULL };

	return vigil_cmd_decode(7, argv);
}

static void test_plain_stream(void **state)
{
	char *d = tu_mkdtemp(), file[PATH_MAX], verdict[PATH_MAX];
	uint8_t buf[4096];
	size_t n = guest_stream(buf, sizeof(buf), 3), vl;
	uint8_t *v;

	(void)state;
	assert_int_equal(tu_write(d, "stream.bin", buf, n, 0644), 0);
	snprintf(file, sizeof(file), "%s/stream.bin", d);
	snprintf(verdict, sizeof(verdict), "%s/v.json", d);
	assert_int_equal(decode(file, verdict), 3); /* the workload's status */
	v = tcpio_slurp(verdict, &vl);
	assert_non_null(v);
	v[vl] = '\0';
	assert_non_null(strstr((char *)v, "\"outcome\": \"WORKLOAD_FAILED\""));
	assert_non_null(strstr((char *)v, "\"hostname\": \"g\""));
	free(v);
	/* status 0 passes */
	n = guest_stream(buf, sizeof(buf), 0);
	assert_int_equal(tu_write(d, "stream.bin", buf, n, 0644), 0);
	assert_int_equal(decode(file, verdict), 0);
	/* garbage only: no frame at all is vigil's error, not a guest verdict */
	assert_int_equal(tu_write(d, "stream.bin", "garbage", 7, 0644), 0);
	assert_int_equal(decode(file, verdict), 125);
	tu_rm_rf(d);
	free(d);
}

/* A file without a single frame is refused with a message; one that looks
 * like an events file says what takes it, for each command. */
static void test_no_frame_message(void **state)
{
	static const char ev[] = "{\"event\":\"link_up\",\"t_ns\":1}\n";
	static const char *const cmds[] = { "decode", "report" };
	static const char *const want[] = { "which is already decoded", "give it as --events FILE" };

	(void)state;
	for (int i = 0; i < 4; i++) {
		struct vigil_replay rp = { .cmd = cmds[i & 1] };
		const uint8_t *in = (const uint8_t *)(i < 2 ? ev : "garbage");
		size_t len = i < 2 ? sizeof(ev) - 1 : 7;
		char *msg = NULL;
		size_t n = 0;

		vigil_session_opts_default(&rp.so);
		rp.log = open_memstream(&msg, &n);
		assert_non_null(rp.log);
		assert_int_equal(vigil_replay_open(&rp, "f", in, len), 0);
		assert_int_equal(vigil_replay_run(&rp, "f", in, len), -1);
		fclose(rp.log);
		assert_non_null(strstr(msg, "holds no vigil frame"));
		if (i < 2)
			assert_non_null(strstr(msg, want[i & 1]));
		else
			assert_null(strstr(msg, "events file"));
		free(msg);
		vigil_replay_free(&rp);
	}
}

/* A recording: a stall is found on replay from the recorded times alone. */
static void test_recording_replay(void **state)
{
	char *d = tu_mkdtemp(), file[PATH_MAX], verdict[PATH_MAX], *hdr;
	struct vigil_rec_writer w;
	uint8_t buf[4096], beat[VIGIL_WIRE_HDR_LEN + 64];
	struct vigil_beat b = { .pid = 42, .nonce = 1 };
	uint64_t t0 = 1000000000ull, ms = 1000000ull;
	VIGIL_SESSION_OPTS(so, .stall_threshold_ns = 200 * ms);
	size_t n = guest_stream(buf, sizeof(buf), 0);
	uint8_t *v;
	size_t vl;
	int bn;

	(void)state;
	snprintf(file, sizeof(file), "%s/r.rec", d);
	snprintf(verdict, sizeof(verdict), "%s/v.json", d);
	{
		struct json_object *prov = json_object_new_object();
		json_object_object_add(prov, "from", json_object_new_string("header"));
		hdr = vigil_rec_header(&so, t0, "run", prov, true);
		json_object_put(prov);
	}
	assert_non_null(hdr);
	assert_int_equal(vigil_rec_open(&w, file, hdr), 0);
	free(hdr);
	bn =
	    vigil_beats_encode(beat + VIGIL_WIRE_HDR_LEN, sizeof(beat) - VIGIL_WIRE_HDR_LEN, &b, 1);
	assert_true(bn > 0);
	bn = vigil_frame_seal(beat, sizeof(beat), VIGIL_MSG_BEAT, 3, (size_t)bn);
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_LINK_UP, t0, NULL, 0), 0);
	/* HELLO and SYS_RDY (not the EXIT), a beat, then silence past the threshold */
	{
		size_t hello_rdy = 0;
		struct vigil_frame_hdr h;
		for (int i = 0; i < 2; i++) {
			assert_int_equal(vigil_frame_hdr_decode(buf + hello_rdy, n - hello_rdy, &h),
					 0);
			hello_rdy += VIGIL_WIRE_HDR_LEN + h.len;
		}
		assert_int_equal(vigil_rec_put(&w, VIGIL_REC_RX, t0 + 100 * ms, buf, hello_rdy), 0);
		assert_int_equal(vigil_rec_put(&w, VIGIL_REC_RX, t0 + 150 * ms, beat, (size_t)bn),
				 0);
		for (uint64_t t = 200; t <= 1000; t += 100)
			assert_int_equal(vigil_rec_put(&w, VIGIL_REC_TICK, t0 + t * ms, NULL, 0),
					 0);
	}
	/* FINISH carries the final provenance: it wins over the header's */
	assert_int_equal(
	    vigil_rec_put(&w, VIGIL_REC_FINISH, t0 + 1000 * ms, "{\"from\":\"finish\"}", 17), 0);
	assert_int_equal(vigil_rec_close(&w), 0);
	/* no EXIT with the link up: the run was stopped, nothing the session
	 * saw explains it (HARNESS_ERROR) */
	assert_int_equal(decode(file, verdict), 125);
	v = tcpio_slurp(verdict, &vl);
	assert_non_null(v);
	v[vl] = '\0';
	assert_non_null(strstr((char *)v, "\"stalls\": 1"));
	assert_non_null(strstr((char *)v, "\"outcome\": \"HARNESS_ERROR\""));
	assert_non_null(strstr((char *)v, "\"from\": \"finish\""));
	free(v);
	/* a damaged header is refused */
	assert_int_equal(tu_write(d, "r.rec", "VIGILREC\x02\0\0\0\0\0\0\0", 16, 0644), 0);
	assert_int_equal(decode(file, verdict), 125);
	tu_rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_stream),
		cmocka_unit_test(test_recording_replay),
		cmocka_unit_test(test_no_frame_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
