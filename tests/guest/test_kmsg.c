/* SPDX-License-Identifier: MIT */
/* Tests for guest/kmsg.c: record parsing, escapes, gaps, rate bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kmsg.h"
#include "rx.h"

static void test_parse_vectors(void **state)
{
	static const struct {
		const char *rec;
		int ret;
		uint8_t level;
		uint64_t seq, ts;
		const char *text;
	} v[] = {
		{ "6,339,5140900,-;NET: Registered protocol family 10\n", 0, 6, 339, 5140900,
		  "NET: Registered protocol family 10" },
		{ "30,1,2,c;cont\n SUBSYSTEM=net\n DEVICE=n1\n", 0, 6, 1, 2, "cont" },
		{ "3,0,0,-,caller=T1;tab\\x09and\\x5cslash\n", 0, 3, 0, 0, "tab\tand\\slash" },
		{ "4,5,6,-;bad escape \\xZZ kept\n", 0, 4, 5, 6, "bad escape \\xZZ kept" },
		{ "7,8,9,-;", 0, 7, 8, 9, "" },
		{ "7,8,9,-;no newline", 0, 7, 8, 9, "no newline" },
		{ "x,1,2,-;t\n", -EBADMSG, 0, 0, 0, NULL },
		{ "1,2\n", -EBADMSG, 0, 0, 0, NULL },
		{ "1,2,3,-", -EBADMSG, 0, 0, 0, NULL },
		{ "", -EBADMSG, 0, 0, 0, NULL },
		{ "1,99999999999999999999999,3,-;t", -EBADMSG, 0, 0, 0, NULL },
	};
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct kmsg_rec r;
		int e = kmsg_parse(v[i].rec, strlen(v[i].rec), buf, sizeof(buf), &r);

		assert_int_equal(e, v[i].ret);
		if (e)
			continue;
		assert_int_equal(r.level, v[i].level);
		assert_int_equal(r.seq, v[i].seq);
		assert_int_equal(r.ts_us, v[i].ts);
		assert_int_equal(r.text_len, strlen(v[i].text));
		assert_memory_equal(r.text, v[i].text, r.text_len);
	}
}

static void test_parse_cut(void **state)
{
	char buf[4];
	struct kmsg_rec r;

	(void)state;
	assert_int_equal(kmsg_parse("6,1,1,-;abcdefgh\n", 17, buf, sizeof(buf), &r), 0);
	assert_int_equal(r.text_len, 4);
	assert_memory_equal(r.text, "abcd", 4);
}

/* A seqpacket pair reads one record per read(), like /dev/kmsg. */
static void test_forward_and_rate(void **state)
{
	struct kmsg k;
	struct chan c;
	struct rx rx;
	int kp[2], port[2];
	char rec[64];
	uint64_t t = 1000000000ull;
	int got;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, kp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, port), 0);
	fcntl(port[1], F_SETFL, O_NONBLOCK);
	assert_int_equal(chan_init(&c, port[1], NULL, NULL, NULL), 0);
	/* 10 lines/s, burst 5. */
	assert_int_equal(kmsg_open(&k, "/dev/null", 10, 5, t), 0);
	close(k.fd);
	k.fd = kp[0];
	fcntl(k.fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 8; i++) {
		/* seq 4 is missing: lost. */
		int n = snprintf(rec, sizeof(rec), "%d,%d,%d,-;line %d\n", i % 8, i < 4 ? i : i + 1,
				 i * 10, i);
		assert_int_equal(write(kp[1], rec, (size_t)n), n);
	}
	got = kmsg_read(&k, &c, t);
	assert_int_equal(got, -EAGAIN); /* the bucket ran dry after 5 */
	assert_int_equal(k.st.lines, 5);
	assert_int_equal(k.st.throttled, 1);
	assert_int_equal(kmsg_wake_ns(&k), t + 100000000ull);
	/* 300 ms later: three more lines are allowed, which is all that is left. */
	got = kmsg_read(&k, &c, t + 300000000ull);
	assert_int_equal(got, -EAGAIN);
	assert_int_equal(k.st.lines, 8);
	/* A second later: the bucket has room and the source is empty. */
	assert_int_equal(kmsg_read(&k, &c, t + 1300000000ull), 0);
	assert_int_equal(k.st.lost, 1);
	rx_init(&rx);
	while (chan_pending(&c)) {
		chan_flush(&c, 1);
		rx_pump(&rx, port[0], 100);
	}
	assert_int_equal(rx.n, 8);
	for (size_t i = 0; i < rx.n; i++) {
		struct vigil_dmesg d;
		char want[16];
		int n = snprintf(want, sizeof(want), "line %zu", i);

		assert_int_equal(rx.f[i].type, VIGIL_MSG_DMESG);
		assert_int_equal(vigil_dmesg_decode(rx_payload(&rx, i), rx.f[i].len, &d), 0);
		assert_int_equal(d.level, i % 8);
		assert_int_equal(d.kmsg_seq, i < 4 ? i : i + 1);
		assert_int_equal(d.ts_us, i * 10);
		assert_int_equal(d.text_len, (uint32_t)n);
		assert_memory_equal(d.text, want, (size_t)n);
	}
	rx_free(&rx);
	chan_fini(&c);
	close(kp[0]);
	close(kp[1]);
	close(port[0]);
	close(port[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_vectors),
		cmocka_unit_test(test_parse_cut),
		cmocka_unit_test(test_forward_and_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
