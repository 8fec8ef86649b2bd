/* SPDX-License-Identifier: MIT */
/*
 * Fault injection into the serial console's reader (host/cli/console.c's
 * struct vigil_con_reader, as backend_qemu.c uses it for QEMU's serial
 * port); fault.h says how.
 *
 * Single faults in one wake-up of the reader, each a bug once: EINTR on
 * the --console copy's write; ECONNRESET in the middle of a line.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "console.h"
#include "fault.h"

/* ---- single faults, one wake-up of the reader ------------------------------------- */

struct one {
	struct vigil_loop *l;
	struct vigil_con_reader r;
	int con, copy_rd;
	unsigned lines, warned;
	char last[VIGIL_CON_LINE_MAX + 1];
};

static void one_line(void *ctx, const char *line, size_t len)
{
	struct one *o = ctx;

	o->lines++;
	memcpy(o->last, line, len + 1);
}

static void one_warn(void *ctx, const char *msg)
{
	(void)msg;
	((struct one *)ctx)->warned++;
}

/* A reader with a copy, the console's bytes sent, one wake-up with fault
 * k at the nth call of kind c (0: none) of a run of the same. */
static void one_run(struct one *o, const char *bytes, enum fault_call c, unsigned nth,
		    enum fault_kind k)
{
	int sp[2], cp[2];
	uint64_t at = 0;

	if (nth) { /* where that call is, from a run without faults */
		one_run(o, bytes, 0, 0, FAULT_NONE);
		for (uint64_t i = 0, seen = 0; i < fault_calls() && !at; i++)
			if (fault_trace()[i].call == c && ++seen == nth)
				at = i + 1;
		assert_true(at > 0);
		vigil_con_reader_release(&o->r);
		vigil_loop_free(o->l);
		close(o->con);
		close(o->copy_rd);
	}
	memset(o, 0, sizeof(*o));
	assert_int_equal(vigil_loop_new(&o->l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(pipe2(cp, O_CLOEXEC | O_NONBLOCK), 0);
	vigil_con_reader_init(&o->r, &(struct vigil_con_reader_cfg){ .on_line = one_line,
								     .warn = one_warn,
								     .ctx = o,
								     .copy_fd = cp[1],
								     .copy_path = "copy" });
	assert_int_equal(vigil_con_reader_attach(&o->r, o->l, sp[0]), 0);
	o->con = sp[1];
	o->copy_rd = cp[0];
	assert_int_equal(send(o->con, bytes, strlen(bytes), 0), (ssize_t)strlen(bytes));
	fault_reset();
	fault_arm(at, k);
	fault_host(true);
	assert_true(vigil_loop_run_once(o->l, 0) >= 0);
	fault_host(false);
	assert_true(!at || fault_fired());
}

static void one_close(struct one *o)
{
	vigil_con_reader_release(&o->r);
	vigil_loop_free(o->l);
	if (o->con >= 0)
		close(o->con);
	close(o->copy_rd);
}

/* EINTR on the copy's write: written again, the copy whole (it ended the
 * copy, as if the disk were full). */
static void test_copy_eintr(void **state)
{
	static const char two[] = "one\ntwo\n";
	struct one o;
	char got[64];

	(void)state;
	one_run(&o, two, FAULT_WRITE, 1, FAULT_EINTR);
	assert_int_equal(o.lines, 2);
	assert_int_equal(o.warned, 0);
	assert_true(o.r.copy_fd >= 0);
	assert_int_equal(o.r.copy_bytes, strlen(two));
	assert_int_equal(read(o.copy_rd, got, sizeof(got)), (ssize_t)strlen(two));
	one_close(&o);
}

/* ECONNRESET after "whole line\npartial li": the whole line is scanned,
 * the one the reset cut is dropped and counted, not scanned as if whole
 * (it was, by the flush meant for QEMU's last words at end of stream). */
static void test_reset_cuts_line(void **state)
{
	struct one o;

	(void)state;
	one_run(&o, "whole line\npartial li", FAULT_RECV, 2, FAULT_ECONNRESET);
	assert_int_equal(o.lines, 1);
	assert_string_equal(o.last, "whole line");
	assert_int_equal(o.r.scan.cut_lines, 1);
	assert_int_equal(o.r.read_errors, 1);
	assert_null(o.r.src);
	one_close(&o);
	/* at the end of the stream, the last line is QEMU's and delivered */
	one_run(&o, "whole line\nlast words", FAULT_RECV, 0, FAULT_NONE);
	close(o.con);
	o.con = -1;
	vigil_con_reader_drain(&o.r);
	assert_int_equal(o.lines, 2);
	assert_string_equal(o.last, "last words");
	assert_int_equal(o.r.scan.cut_lines, 0);
	one_close(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_eintr),
		cmocka_unit_test(test_reset_cuts_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
