/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/ctl.c and guest/cli.c: the control socket and the CLI's
 * exit codes, running the static vigil-agent binary against an agent whose
 * port is a socketpair (this test plays the host).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sys/stat.h>

#include "agent_fx.h"
#include "cli.h"
#include "ctl.h"

/* Run the binary with args (a printf format); exit code, stdout in out. */
static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	FILE *p;
	size_t n;
	int st;
	int len = snprintf(cmd, sizeof(cmd), "%s ", VIGIL_AGENT_BIN);

	va_start(ap, fmt);
	vsnprintf(cmd + len, sizeof(cmd) - (size_t)len, fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>/dev/null", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state)
{
	struct agent_fx *a = malloc(sizeof(*a));

	agent_fx_init(a);
	agent_fx_start(a);
	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_SYS_RDY, 5000) >= 0);
	*state = a;
	return 0;
}

static int teardown(void **state)
{
	agent_fx_fini(*state);
	free(*state);
	return 0;
}

static void test_usage_and_unreachable(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(run(out, sizeof(out), "emit"), CLI_USAGE);
	assert_int_equal(run(out, sizeof(out), "emit bogus x"), CLI_USAGE);
	assert_int_equal(run(out, sizeof(out), "emit scenario-start"), CLI_USAGE);
	assert_int_equal(run(out, sizeof(out), "emit result t maybe"), CLI_USAGE);
	assert_int_equal(run(out, sizeof(out), "emit sched-exit --kind nope x"), CLI_USAGE);
	assert_int_equal(run(out, sizeof(out), "snapshot"), CLI_USAGE);
	assert_int_equal(run(out, sizeof(out), "snapshot --kind disk"), CLI_USAGE);
	assert_int_equal(run(out, sizeof(out), "beat --status bogus"), CLI_USAGE);
	assert_int_equal(run(out, sizeof(out), "beat extra"), CLI_USAGE);
	assert_int_equal(
	    run(out, sizeof(out), "emit scenario-start x --sock /nonexistent/ctl.sock"),
	    CLI_UNREACHABLE);
	assert_int_equal(run(out, sizeof(out), "snapshot --kind cpu --sock /nonexistent/ctl.sock"),
			 CLI_UNREACHABLE);
	assert_int_equal(run(out, sizeof(out), "beat --sock /nonexistent/beat.sock"),
			 CLI_UNREACHABLE);
	assert_int_equal(run(out, sizeof(out), "--help"), 0);
}

static void test_emit(void **state)
{
	struct agent_fx *a = *state;
	char out[256];
	struct vigil_str name;
	struct vigil_test_result tr;
	struct vigil_sched_exit se;
	struct stat st;
	ssize_t i;

	assert_int_equal(stat(a->ctl, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600); /* owner-only */
	assert_int_equal(run(out, sizeof(out), "emit scenario-start warmup --sock %s", a->ctl), 0);
	assert_int_equal(run(out, sizeof(out), "emit scenario-pause --sock %s", a->ctl), 0);
	assert_int_equal(run(out, sizeof(out),
			     "emit result t1 fail --duration 1500ms 'it broke' --sock %s", a->ctl),
			 0);
	assert_int_equal(run(out, sizeof(out),
			     "emit sched-exit --kind error-stall --code -3 stuck --sock %s",
			     a->ctl),
			 0);
	i = rx_until(&a->rx, a->host, VIGIL_MSG_SCHED_EXIT, 5000);
	assert_true(i >= 0);
	assert_int_equal(
	    vigil_sched_exit_decode(rx_payload(&a->rx, (size_t)i), a->rx.f[i].len, &se), 0);
	assert_int_equal(se.kind, VIGIL_SCX_ERROR_STALL);
	assert_int_equal(se.exit_code, -3);
	assert_memory_equal(se.reason.ptr, "stuck", 5);
	i = rx_find(&a->rx, VIGIL_MSG_SCENARIO_START, 0);
	assert_true(i >= 0);
	assert_int_equal(
	    vigil_scenario_decode(rx_payload(&a->rx, (size_t)i), a->rx.f[i].len, &name), 0);
	assert_int_equal(name.len, 6);
	assert_memory_equal(name.ptr, "warmup", 6);
	i = rx_find(&a->rx, VIGIL_MSG_SCENARIO_PAUSE, 0);
	assert_true(i >= 0);
	assert_int_equal(a->rx.f[i].len, 2); /* empty name */
	i = rx_find(&a->rx, VIGIL_MSG_TEST_RESULT, 0);
	assert_true(i >= 0);
	assert_int_equal(
	    vigil_test_result_decode(rx_payload(&a->rx, (size_t)i), a->rx.f[i].len, &tr), 0);
	assert_int_equal(tr.outcome, VIGIL_TEST_FAIL);
	assert_int_equal(tr.duration_ns, 1500000000ull);
	assert_memory_equal(tr.message.ptr, "it broke", 8);
}

static void test_beat_cli(void **state)
{
	struct agent_fx *a = *state;
	char out[64];
	bool seen = false;
	uint64_t end = rx_now_ms() + 5000;

	assert_int_equal(run(out, sizeof(out),
			     "beat --status degraded --payload 4242 --deadline 2s --sock %s",
			     a->beat),
			 0);
	while (!seen && rx_now_ms() < end) {
		rx_pump(&a->rx, a->host, 50);
		for (size_t i = 0; i < a->rx.n; i++) {
			struct vigil_records r;
			struct vigil_beat b;

			if (a->rx.f[i].type != VIGIL_MSG_BEAT ||
			    vigil_beats_decode(rx_payload(&a->rx, i), a->rx.f[i].len, &r) < 0)
				continue;
			for (uint32_t k = 0; k < r.count; k++) {
				vigil_beat_get(&r, k, &b);
				if (b.app_payload == 4242) {
					assert_int_equal(b.status, VIGIL_BEAT_DEGRADED);
					assert_int_equal(b.deadline_ms, 2000);
					seen = true;
				}
			}
		}
	}
	assert_true(seen);
}

/* Start `vigil-agent beat ARGS... --sock PATH` as a child; its pid. */
static pid_t beat_helper(const char *sock, const char *payload, const char *deadline)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (deadline)
			execl(VIGIL_AGENT_BIN, "vigil-agent", "beat", "--every", "50", "--payload",
			      payload, "--deadline", deadline, "--sock", sock, (char *)NULL);
		else
			execl(VIGIL_AGENT_BIN, "vigil-agent", "beat", "--every", "50", "--payload",
			      payload, "--sock", sock, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	return pid;
}

/* The beats of pid seen so far: how many, and the deadline of the last. */
static int beats_of(const struct rx *r, pid_t pid, uint32_t *deadline_ms, uint16_t *status)
{
	int n = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct vigil_records rec;
		struct vigil_beat b;

		if (r->f[i].type != VIGIL_MSG_BEAT ||
		    vigil_beats_decode(rx_payload(r, i), r->f[i].len, &rec) < 0)
			continue;
		for (uint32_t k = 0; k < rec.count; k++) {
			vigil_beat_get(&rec, k, &b);
			if (b.pid != (uint32_t)pid)
				continue;
			*deadline_ms = b.deadline_ms;
			*status = b.status;
			n++;
		}
	}
	return n;
}

/*
 * beat --every declares no deadline of its own (0: the host's
 * --stall-threshold applies); only --deadline declares one.
 */
static void test_beat_every_deadline(void **state)
{
	struct agent_fx *a = *state;
	pid_t plain = beat_helper(a->beat, "11", NULL), dl = beat_helper(a->beat, "12", "900");
	uint64_t end = rx_now_ms() + 5000;
	uint32_t d_plain = 1, d_dl = 0;
	uint16_t st = 0;
	int st_wait;

	while (
	    (beats_of(&a->rx, plain, &d_plain, &st) < 3 || beats_of(&a->rx, dl, &d_dl, &st) < 3) &&
	    rx_now_ms() < end)
		rx_pump(&a->rx, a->host, 50);
	assert_true(beats_of(&a->rx, plain, &d_plain, &st) >= 3);
	assert_int_equal(d_plain, 0);
	assert_int_equal(st, VIGIL_BEAT_OK);
	assert_true(beats_of(&a->rx, dl, &d_dl, &st) >= 3);
	assert_int_equal(d_dl, 900);
	/* SIGTERM: a last STOPPING beat, and a clean exit. */
	kill(plain, SIGTERM);
	assert_int_equal(waitpid(plain, &st_wait, 0), plain);
	assert_true(WIFEXITED(st_wait) && WEXITSTATUS(st_wait) == 0);
	end = rx_now_ms() + 5000;
	while ((beats_of(&a->rx, plain, &d_plain, &st), st != VIGIL_BEAT_STOPPING) &&
	       rx_now_ms() < end)
		rx_pump(&a->rx, a->host, 50);
	assert_int_equal(st, VIGIL_BEAT_STOPPING);
	kill(dl, SIGTERM);
	assert_int_equal(waitpid(dl, &st_wait, 0), dl);
}

/* Start `snapshot` in the background, answer its request with status, return its exit code. */
static int snapshot_answered(struct agent_fx *a, int32_t status, const char *detail, char *out,
			     size_t cap, bool answer)
{
	char cmd[512];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd),
		 "%s snapshot --kind memory --tag pre --timeout %s --sock %s 2>/dev/null",
		 VIGIL_AGENT_BIN, answer ? "5s" : "300ms", a->ctl);
	p = popen(cmd, "r");
	if (answer) {
		struct vigil_snapshot_request req;
		struct vigil_snapshot_reply rep = { .status = status };
		uint8_t buf[256];
		ssize_t i = rx_until(&a->rx, a->host, VIGIL_MSG_SNAPSHOT_REQUEST, 5000);
		int len;

		assert_true(i >= 0);
		assert_int_equal(vigil_snapshot_request_decode(rx_payload(&a->rx, (size_t)i),
							       a->rx.f[i].len, &req),
				 0);
		assert_int_equal(req.kind, VIGIL_SNAP_MEMORY_DUMP);
		assert_memory_equal(req.tag.ptr, "pre", 3);
		a->rx.f[i].type = 0;                    /* consumed */
		rep.request_id = req.request_id + 1000; /* stale first: must be ignored */
		rep.detail = (struct vigil_str){ "stale", 5 };
		len = vigil_snapshot_reply_encode(buf, sizeof(buf), &rep);
		assert_int_equal(rx_send(a->host, VIGIL_MSG_SNAPSHOT_REPLY, 0, buf, (size_t)len),
				 0);
		rep.request_id = req.request_id;
		rep.detail = (struct vigil_str){ detail, (uint16_t)strlen(detail) };
		len = vigil_snapshot_reply_encode(buf, sizeof(buf), &rep);
		assert_int_equal(rx_send(a->host, VIGIL_MSG_SNAPSHOT_REPLY, 1, buf, (size_t)len),
				 0);
	}
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_snapshot(void **state)
{
	struct agent_fx *a = *state;
	char out[256];

	assert_int_equal(snapshot_answered(a, 0, "/var/tmp/dump.elf", out, sizeof(out), true), 0);
	assert_string_equal(out, "/var/tmp/dump.elf\n");
	assert_int_equal(snapshot_answered(a, -95, "not supported", out, sizeof(out), true),
			 CLI_FAILED);
	assert_string_equal(out, "");
	assert_int_equal(snapshot_answered(a, 0, "", out, sizeof(out), false), CLI_TIMEOUT);
}

static void test_ctl_rejects(void **state)
{
	struct agent_fx *a = *state;
	char detail[128];
	uint8_t bad[4] = { 9, 0, 'x', 'y' }; /* str length past the payload */
	uint8_t pong[16] = { 0 };
	uint8_t ok[8];
	int n = vigil_scenario_encode(ok, sizeof(ok), VIGIL_STR("ok"));

	assert_int_equal(ctl_call(a->ctl, VIGIL_MSG_PONG, pong, 16, 2000, detail, sizeof(detail)),
			 -EINVAL); /* not a type a guest program may send */
	assert_int_equal(
	    ctl_call(a->ctl, VIGIL_MSG_SCENARIO_START, bad, 4, 2000, detail, sizeof(detail)),
	    -EINVAL);
	assert_int_equal(
	    ctl_call(a->ctl, VIGIL_MSG_SNAPSHOT_REQUEST, pong, 8, 2000, detail, sizeof(detail)),
	    -EINVAL); /* kind 0 */
	assert_int_equal(
	    ctl_call(a->ctl, VIGIL_MSG_SCENARIO_END, ok, (uint32_t)n, 2000, detail, sizeof(detail)),
	    0);
	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_SCENARIO_END, 5000) >= 0);
	assert_int_equal(rx_find(&a->rx, VIGIL_MSG_PONG, 0), -1);
	assert_int_equal(rx_find(&a->rx, VIGIL_MSG_SCENARIO_START, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_and_unreachable),
		cmocka_unit_test_setup_teardown(test_emit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_beat_cli, setup, teardown),
		cmocka_unit_test_setup_teardown(test_beat_every_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_rejects, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
