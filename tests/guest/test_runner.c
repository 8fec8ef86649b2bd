/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/runner.c's pump: a pipe's bytes go into one frame each
 * call, straight into the write buffer when it has room, and `drained`
 * says when a call took all the pipe held.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chan.h"
#include "runner.h"

static void test_pump_drained(void **state)
{
	static uint8_t big[100000];
	struct chan c;
	struct runner w;
	int sv[2], p[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(chan_init(&c, sv[1], NULL, NULL, NULL), 0);
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_true(fcntl(p[0], F_SETPIPE_SZ, 1 << 17) >= (int)sizeof(big));
	memset(&w, 0, sizeof(w));
	w.fd[0] = p[0];
	w.fd[1] = -1;

	assert_int_equal(write(p[1], "hello", 5), 5);
	assert_int_equal(runner_pump(&w, 0, &c), 5);
	assert_true(w.drained[0]); /* all it held */
	assert_int_equal(c.st.frames_staged, 1);

	assert_int_equal(write(p[1], big, sizeof(big)), (ssize_t)sizeof(big));
	assert_int_equal(chan_flush(&c, 1), 0);
	assert_int_equal(runner_pump(&w, 0, &c), RUNNER_CHUNK); /* one frame at most */
	assert_false(w.drained[0]);
	assert_int_equal(chan_flush(&c, 1), 0);
	assert_int_equal(runner_pump(&w, 0, &c), sizeof(big) - RUNNER_CHUNK);
	assert_true(w.drained[0]);
	assert_int_equal(runner_pump(&w, 0, &c), -EAGAIN);
	assert_false(w.drained[0]);
	assert_int_equal(w.bytes[0], 5 + sizeof(big));

	close(p[1]);
	assert_int_equal(runner_pump(&w, 0, &c), 0); /* EOF: closed */
	assert_int_equal(w.fd[0], -1);
	chan_fini(&c);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pump_drained),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
