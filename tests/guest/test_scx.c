/* SPDX-License-Identifier: MIT */
/* Tests for guest/scx.c: kernel-line parsing and the state watcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rx.h"
#include "scx.h"

static void test_parse_lines(void **state)
{
	static const struct {
		const char *line;
		int ret;
		uint32_t kind;
	} v[] = {
		{ "sched_ext: BPF scheduler \"simple\" disabled (unregistered from user space)", 1,
		  VIGIL_SCX_UNREG },
		{ "sched_ext: BPF scheduler \"s\" disabled (unregistered from BPF)", 1,
		  VIGIL_SCX_UNREG_BPF },
		{ "sched_ext: BPF scheduler \"s\" disabled (unregistered from the main kernel)", 1,
		  VIGIL_SCX_UNREG_KERN },
		{ "sched_ext: BPF scheduler \"s\" disabled (disabled by sysrq-S)", 1,
		  VIGIL_SCX_SYSRQ },
		{ "sched_ext: BPF scheduler \"s\" disabled (runnable task stall)", 1,
		  VIGIL_SCX_ERROR_STALL },
		{ "sched_ext: BPF scheduler \"s\" disabled (scx_bpf_error)", 1,
		  VIGIL_SCX_ERROR_BPF },
		{ "sched_ext: BPF scheduler \"s\" errored, disabling", 1, VIGIL_SCX_ERROR },
		{ "sched_ext: BPF scheduler \"s\" disabled (something new)", 1, VIGIL_SCX_UNKNOWN },
		{ "sched_ext: BPF scheduler \"s\" enabled", 0, 0 },
		{ "random line", 0, 0 },
		{ "", 0, 0 },
	};
	char reason[SCX_REASON_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint32_t kind = 99;
		int r = scx_parse_line(v[i].line, strlen(v[i].line), &kind, reason, sizeof(reason));

		assert_int_equal(r, v[i].ret);
		if (r) {
			assert_int_equal(kind, v[i].kind);
			assert_string_equal(reason, v[i].line);
		}
	}
}

struct fx {
	char path[64];
	int port[2];
	struct chan c;
	struct scx s;
};

static void set_state(struct fx *f, const char *st)
{
	FILE *fp = fopen(f->path, "w");

	fprintf(fp, "%s\n", st);
	fclose(fp);
}

static size_t sched_exits(struct fx *f, struct vigil_sched_exit *last, char *reason)
{
	struct rx rx;
	size_t n = 0;

	rx_init(&rx);
	while (chan_pending(&f->c)) {
		chan_flush(&f->c, 1);
		rx_pump(&rx, f->port[0], 100);
	}
	for (size_t i = 0; i < rx.n; i++) {
		if (rx.f[i].type != VIGIL_MSG_SCHED_EXIT)
			continue;
		assert_int_equal(vigil_sched_exit_decode(rx_payload(&rx, i), rx.f[i].len, last), 0);
		memcpy(reason, last->reason.ptr, last->reason.len);
		reason[last->reason.len] = '\0';
		n++;
	}
	rx_free(&rx);
	return n;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	tmp_template(f->path, sizeof(f->path), "/tmp/vigil-scx-");
	close(mkstemp(f->path));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->port), 0);
	fcntl(f->port[1], F_SETFL, O_NONBLOCK);
	assert_int_equal(chan_init(&f->c, f->port[1], NULL, NULL, NULL), 0);
	scx_init(&f->s, f->path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	chan_fini(&f->c);
	close(f->port[0]);
	close(f->port[1]);
	free(f);
	return 0;
}

#define MS 1000000ull

static void test_state_without_log(void **state)
{
	struct fx *f = *state;
	struct vigil_sched_exit ex;
	char reason[600];

	set_state(f, "disabled");
	scx_poll(&f->s, &f->c, 1000 * MS);
	assert_int_equal(sched_exits(f, &ex, reason), 0); /* never enabled: nothing */
	set_state(f, "enabled");
	scx_poll(&f->s, &f->c, 1200 * MS);
	set_state(f, "disabled");
	scx_poll(&f->s, &f->c, 1300 * MS);
	assert_int_equal(sched_exits(f, &ex, reason), 0); /* waits for a kernel line */
	scx_poll(&f->s, &f->c, 1300 * MS + SCX_KMSG_WAIT_MS * MS);
	assert_int_equal(sched_exits(f, &ex, reason), 1);
	assert_int_equal(ex.kind, VIGIL_SCX_UNKNOWN);
	assert_string_equal(reason, "sched_ext state: disabled");
	scx_poll(&f->s, &f->c, 3000 * MS);
	assert_int_equal(sched_exits(f, &ex, reason), 0); /* once per enabled period */
}

static void test_state_with_log(void **state)
{
	struct fx *f = *state;
	struct vigil_sched_exit ex;
	char reason[600];
	const char *line = "sched_ext: BPF scheduler \"lavd\" disabled (runnable task stall)";

	/* Boot history before any scheduler: ignored. */
	scx_kmsg(&f->s, line, strlen(line), &f->c, 10 * MS);
	set_state(f, "enabled");
	scx_poll(&f->s, &f->c, 100 * MS);
	assert_int_equal(sched_exits(f, &ex, reason), 0);
	scx_kmsg(&f->s, line, strlen(line), &f->c, 150 * MS);
	assert_int_equal(sched_exits(f, &ex, reason), 1);
	assert_int_equal(ex.kind, VIGIL_SCX_ERROR_STALL);
	assert_string_equal(reason, line);
	set_state(f, "disabled");
	scx_poll(&f->s, &f->c, 400 * MS);
	scx_poll(&f->s, &f->c, 900 * MS);
	assert_int_equal(sched_exits(f, &ex, reason), 0); /* the same exit, not a second */
	assert_int_equal(f->s.sent, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_lines),
		cmocka_unit_test_setup_teardown(test_state_without_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_with_log, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
