/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/console.c: the line splitter and the socket's reader
 * (the classifier of the lines is the session's, tested in
 * tests/host/test_kernel.c; the reader under I/O faults in
 * tests/fault/test_fault_console.c). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "console.h"

struct seen {
	unsigned lines;
	char last[VIGIL_CON_LINE_MAX + 1];
};

static void on_line(void *ctx, const char *line, size_t len)
{
	struct seen *s = ctx;

	assert_int_equal(strlen(line), len);
	s->lines++;
	memcpy(s->last, line, len + 1);
}

/* Same lines whatever the split. */
static void test_split_invariance(void **state)
{
	const char text[] = "boot line one\r\nKernel panic - not syncing: x\n\x1b[0mcolour\nlast";
	size_t n = sizeof(text) - 1;

	(void)state;
	for (size_t step = 1; step <= n; step++) {
		struct vigil_console c;
		struct seen s = { 0 };
		vigil_console_init(&c);
		for (size_t off = 0; off < n; off += step)
			vigil_console_feed(&c, text + off, off + step > n ? n - off : step, on_line,
					   &s);
		assert_int_equal(s.lines, 3);
		assert_string_equal(s.last, "?[0mcolour");
		vigil_console_flush(&c, on_line, &s);
		assert_int_equal(s.lines, 4);
		assert_string_equal(s.last, "last");
		assert_int_equal(c.bytes, n);
	}
}

/* An over-long line is cut to VIGIL_CON_LINE_MAX and counted once. */
static void test_long_line(void **state)
{
	static char text[3 * VIGIL_CON_LINE_MAX + 2];
	struct vigil_console c;
	struct seen s = { 0 };

	(void)state;
	memset(text, 'a', sizeof(text) - 2);
	text[sizeof(text) - 2] = '\n';
	vigil_console_init(&c);
	vigil_console_feed(&c, text, sizeof(text) - 1, on_line, &s);
	assert_int_equal(s.lines, 1);
	assert_int_equal(strlen(s.last), VIGIL_CON_LINE_MAX);
	assert_int_equal(c.long_lines, 1);
}

/* The reader on a loop: a wake-up reads at most VIGIL_CON_BUDGET bytes;
 * every byte is copied and scanned; the end of the stream delivers the last
 * line; a drain reads what is left without the loop. */
static void test_reader(void **state)
{
	static char text[VIGIL_CON_BUDGET + 40000];
	static char got[sizeof(text)];
	struct vigil_con_reader r;
	struct vigil_loop *l;
	struct seen s = { 0 };
	int sp[2], cp[2];
	size_t lines = 0;
	ssize_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = i % 100 == 99 ? '\n' : (char)('a' + i % 26);
	memcpy(text + sizeof(text) - 5, "\nendx", 5); /* the last line has no newline */
	for (size_t i = 0; i < sizeof(text); i++)
		lines += text[i] == '\n';
	assert_int_equal(vigil_loop_new(&l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cp), 0);
	assert_int_equal(setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int)),
			 0);
	assert_int_equal(setsockopt(cp[0], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int)),
			 0);
	assert_int_equal(setsockopt(cp[1], SOL_SOCKET, SO_RCVBUF, &(int){ 1 << 20 }, sizeof(int)),
			 0);
	vigil_con_reader_init(
	    &r, &(struct vigil_con_reader_cfg){
		    .on_line = on_line, .ctx = &s, .copy_fd = cp[0], .copy_path = "copy" });
	assert_int_equal(vigil_con_reader_attach(&r, l, sp[0]), 0);
	assert_int_equal(send(sp[1], text, sizeof(text), MSG_DONTWAIT), (ssize_t)sizeof(text));
	assert_true(vigil_loop_run_once(l, 1000) >= 0);
	assert_int_equal(r.scan.bytes, VIGIL_CON_BUDGET); /* one budget a wake-up */
	close(sp[1]);
	vigil_con_reader_drain(&r); /* the rest, and the end */
	assert_null(r.src);
	assert_int_equal(r.scan.bytes, sizeof(text));
	assert_int_equal(s.lines, lines + 1);
	assert_string_equal(s.last, "endx");
	assert_int_equal(r.copy_bytes, sizeof(text));
	n = recv(cp[1], got, sizeof(got), MSG_WAITALL);
	assert_int_equal(n, (ssize_t)sizeof(text));
	assert_memory_equal(got, text, sizeof(text));
	vigil_con_reader_release(&r);
	assert_int_equal(r.copy_fd, -1);
	close(cp[1]);
	vigil_loop_free(l);
}

/* The copy is exactly the console's first --file-limit bytes, whatever
 * the reads' sizes: the part of a read that fits goes in, and once full
 * nothing later does (a smaller read after a refused one would leave a
 * hole in the copy). */
static void test_reader_copy_limit(void **state)
{
	static const size_t chunks[] = { 100, 80, 10, 5 };
	char text[200], got[400];
	struct vigil_con_reader r;
	struct vigil_loop *l;
	int sp[2], cp[2];
	size_t off = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + i % 26);
	assert_int_equal(vigil_loop_new(&l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cp), 0);
	vigil_con_reader_init(&r, &(struct vigil_con_reader_cfg){
				      .copy_fd = cp[0], .copy_path = "copy", .copy_limit = 150 });
	assert_int_equal(vigil_con_reader_attach(&r, l, sp[0]), 0);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		assert_int_equal(send(sp[1], text + off, chunks[i], 0), (ssize_t)chunks[i]);
		off += chunks[i];
		assert_true(vigil_loop_run_once(l, 1000) >= 0);
		assert_int_equal(r.scan.bytes, off);
	}
	assert_int_equal(r.copy_bytes, 150);
	assert_int_equal(r.cap.dropped, 3);
	assert_int_equal(r.cap.dropped_bytes, off - 150);
	vigil_con_reader_release(&r);
	assert_int_equal(recv(cp[1], got, sizeof(got), 0), 150);
	assert_memory_equal(got, text, 150);
	close(sp[1]);
	close(cp[1]);
	vigil_loop_free(l);
}

static void on_warn(void *ctx, const char *msg)
{
	(void)msg;
	(*(unsigned *)ctx)++;
}

/* A short write of the copy goes on with the rest: here a non-blocking
 * pipe takes 4096 bytes of a 6000-byte read, then is full (EAGAIN): the
 * copy holds what was written, no more is claimed, and it ends, said once
 * (a short write taken for a whole one lost the rest without a word). */
static void test_reader_copy_short(void **state)
{
	char text[6000], got[8192];
	struct vigil_con_reader r;
	struct vigil_loop *l;
	unsigned warned = 0;
	int sp[2], cp[2];

	(void)state;
	memset(text, 'c', sizeof(text));
	assert_int_equal(vigil_loop_new(&l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(pipe2(cp, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(fcntl(cp[1], F_SETPIPE_SZ, 4096), 4096);
	vigil_con_reader_init(
	    &r, &(struct vigil_con_reader_cfg){
		    .warn = on_warn, .ctx = &warned, .copy_fd = cp[1], .copy_path = "copy" });
	assert_int_equal(vigil_con_reader_attach(&r, l, sp[0]), 0);
	assert_int_equal(send(sp[1], text, sizeof(text), 0), (ssize_t)sizeof(text));
	assert_true(vigil_loop_run_once(l, 1000) >= 0);
	assert_int_equal(r.scan.bytes, sizeof(text));
	assert_int_equal(r.copy_bytes, 4096);
	assert_int_equal(r.copy_fd, -1); /* ended at EAGAIN */
	assert_int_equal(warned, 1);
	assert_int_equal(read(cp[0], got, sizeof(got)), 4096);
	vigil_con_reader_release(&r);
	close(sp[1]);
	close(cp[0]);
	vigil_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_invariance),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_reader_copy_limit),
		cmocka_unit_test(test_reader_copy_short),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
