/* SPDX-License-Identifier: MIT */
/*
 * Fault injection into QMP (host/cli/qmp.c through host/cli/qmplink.c, as
 * `vigil run` and `vigil attach` use it) and the guest port beside it, on
 * one loop; fault.h says how, fault_fx.h what a run is.
 *
 * A fake QMP server on a socketpair greets, answers qmp_capabilities,
 * qom-get, human-monitor-command and quit, and sends STOP, RESUME, an
 * unknown event 100 KiB long (a line across many reads) and a
 * VSERPORT_CHANGE of another port (qga's: looked up with qom-get, then
 * ignored). The honest guest beats, prints, asks for a CPU_STATE snapshot
 * (served by QMP's human-monitor-command, answered with SNAPSHOT_REPLY),
 * and exits 0; the backend's stop asks QEMU to quit over QMP and ends the
 * guest, its free frees the QMP link, as backend_qemu.c's do.
 *
 * Every run with a fault at call n (every n of the reference, every fault
 * that applies) must end:
 *   - EINTR, EAGAIN, short counts: as the reference (PASS, the same events
 *     with the same pids and snapshot status, every output byte);
 *   - ECONNRESET or EPIPE on QMP: QMP is lost and the run goes on: PASS,
 *     every output byte, the events the reference had but for VM_STOPPED,
 *     VM_RESUMED and SNAPSHOT_REQUEST that QMP did not deliver, and the
 *     snapshot answered before the run ends (SNAPSHOT_DONE, with an error
 *     status when QMP went first): a guest never waits for a reply that
 *     cannot come; the loop reports the QMP source at most once;
 *   - ECONNRESET or EPIPE on the port: LINK_LOST (BOOT_TIMEOUT before
 *     SYS_RDY), what was delivered a prefix of what was sent;
 * never a crash, a hang, a leak (ASan) or a wrong byte. Cap: RUNS_MAX.
 */
#include <errno.h>
#include <json-c/json.h>
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

#include "fault.h"
#include "fault_fx.h"
#include "qmplink.h"

#define RUNS_MAX 8000
#define BIG_LINE (100u << 10)
#define SRV_BUF  (256u << 10)

struct qrun {
	struct ffx x; /* first: the backend's be is the run */
	struct vigil_qmplink *qmp;
	int srv;          /* the fake server's end */
	int qmp_fd;       /* the host's end (owned by the QMP client) */
	char in[SRV_BUF]; /* what the host sent, not yet a whole line */
	size_t in_len;
	char out[SRV_BUF]; /* what the server sends, not yet written */
	size_t out_len;
	unsigned quits, hmps; /* commands seen */
};

/* ---- the fake QMP server ------------------------------------------------------ */

static void srv_say(struct qrun *q, const char *text)
{
	size_t n = strlen(text);

	assert_true(q->out_len + n + 1 <= sizeof(q->out));
	memcpy(q->out + q->out_len, text, n);
	q->out[q->out_len + n] = '\n';
	q->out_len += n + 1;
}

static void srv_answer(struct qrun *q, const char *line)
{
	struct json_object *msg = json_tokener_parse(line), *ex, *id;
	const char *cmd;
	char buf[256];
	long long n;

	assert_non_null(msg);
	assert_true(json_object_object_get_ex(msg, "execute", &ex));
	assert_true(json_object_object_get_ex(msg, "id", &id));
	cmd = json_object_get_string(ex);
	n = (long long)json_object_get_int64(id);
	if (!strcmp(cmd, "qom-get"))
		snprintf(buf, sizeof(buf), "{\"return\": \"org.qemu.guest_agent.0\", \"id\": %lld}",
			 n);
	else if (!strcmp(cmd, "human-monitor-command"))
		snprintf(buf, sizeof(buf),
			 "{\"return\": \"RAX=0000000000000001\\r\\n\", \"id\": %lld}", n);
	else
		snprintf(buf, sizeof(buf), "{\"return\": {}, \"id\": %lld}", n);
	q->quits += !strcmp(cmd, "quit");
	q->hmps += !strcmp(cmd, "human-monitor-command");
	srv_say(q, buf);
	json_object_put(msg);
}

/* Reads the host's commands, answers each, writes what waits. */
static void srv_side(struct ffx *x)
{
	struct qrun *q = (struct qrun *)x;
	ssize_t n;
	char *nl;

	while ((n = recv(q->srv, q->in + q->in_len, sizeof(q->in) - 1 - q->in_len, MSG_DONTWAIT)) >
	       0)
		q->in_len += (size_t)n;
	q->in[q->in_len] = '\0';
	while ((nl = memchr(q->in, '\n', q->in_len))) {
		*nl = '\0';
		srv_answer(q, q->in);
		q->in_len -= (size_t)(nl + 1 - q->in);
		memmove(q->in, nl + 1, q->in_len);
	}
	if (q->out_len) {
		n = send(q->srv, q->out, q->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			q->out_len -= (size_t)n;
			memmove(q->out, q->out + n, q->out_len);
		} else if (n < 0 && errno != EAGAIN) {
			q->out_len = 0; /* the host closed QMP: nobody to tell */
		}
	}
}

static bool srv_idle(struct ffx *x)
{
	struct qrun *q = (struct qrun *)x;

	/* everything said was read by the host, everything it said answered */
	if (q->x.reports)
		return true; /* QMP's source was disabled: nobody reads it any more */
	return q->out_len == 0 && ffx_unread(q->srv) <= 0 && q->in_len == 0 &&
	       ffx_unread(q->qmp_fd) <= 0;
}

/* ---- the backend: QMP as backend_qemu.c uses it ---------------------------------- */

static void be_stop(void *be, enum vigil_stop_how how)
{
	struct qrun *q = be;

	(void)how;
	vigil_qmplink_quit(q->qmp); /* -ENOTCONN without QMP: nothing to ask */
	vigil_guest_gone(q->x.g);
}

static void be_port_closed(void *be)
{
	((struct qrun *)be)->x.port_closed++;
}

static int be_snapshot(void *be, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct qrun *q = be;
	struct vigil_qmplink_facts f = { 0 };

	return vigil_vmm_snapshot(vigil_qmplink_monitor(q->qmp), q->x.g, NULL, &f, kind, tag, id);
}

static void be_free(void *be)
{
	struct qrun *q = be;

	vigil_qmplink_free(q->qmp); /* commands in flight fail here */
	q->qmp = NULL;
}

static const struct vigil_guest_ops ops = {
	.kind = "qmp",
	.stop = be_stop,
	.port_closed = be_port_closed,
	.snapshot = be_snapshot,
	.free = be_free,
};

/* ---- the scenario ------------------------------------------------------------------ */

static void big_event(struct qrun *q)
{
	static char line[BIG_LINE + 128];
	int n = snprintf(line, sizeof(line), "{\"event\": \"BIG\", \"data\": {\"x\": \"");

	memset(line + n, 'a', BIG_LINE);
	snprintf(line + n + BIG_LINE, sizeof(line) - (size_t)n - BIG_LINE,
		 "\"}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}");
	srv_say(q, line);
}

static void scenario(struct qrun *q)
{
	int m[2];

	memset(q, 0, sizeof(*q));
	ffx_open(&q->x, &ops, q);
	q->x.side = srv_side;
	q->x.idle = srv_idle;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, m), 0);
	q->srv = m[1];
	q->qmp_fd = m[0];
	assert_int_equal(vigil_qmplink_new(q->x.l, q->x.g, m[0], &q->qmp), 0);
	srv_say(q, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
		   "\"major\": 7}}, \"capabilities\": []}}");
	ffx_hello(&q->x);
	ffx_beat(&q->x, 100, 0);
	ffx_settle(&q->x, 1);
	srv_say(q, "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}");
	ffx_settle(&q->x, 2);
	q->x.now += 100 * FFX_MS;
	srv_say(q, "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 1}}");
	ffx_settle(&q->x, 3);
	big_event(q);
	srv_say(q,
		"{\"event\": \"VSERPORT_CHANGE\", \"data\": {\"id\": \"qga0\", \"open\": false}}");
	ffx_settle(&q->x, 4);
	ffx_stdout(&q->x, 4000);
	ffx_snapshot_request(&q->x, VIGIL_SNAP_CPU_STATE, 7);
	ffx_settle(&q->x, 5);
	ffx_stdout(&q->x, 3000);
	ffx_exit(&q->x, 0);
	ffx_settle(&q->x, 6);
	ffx_end(&q->x);
	ffx_settle(&q->x, 7); /* the quit reaches the server */
	ffx_close(&q->x);
	close(q->srv);
}

/* ---- the verdicts ------------------------------------------------------------------ */

#define QMP_EVENTS                                                                                 \
	((1ull << VIGIL_EV_VM_STOPPED) | (1ull << VIGIL_EV_VM_RESUMED) |                           \
	 (1ull << VIGIL_EV_SNAPSHOT_REQUEST) | (1ull << VIGIL_EV_SNAPSHOT_DONE))

static bool all_output(const struct ffx *a)
{
	return !a->hung && a->done && a->delivered == a->sent && a->delivered_ok;
}

/* The snapshot was answered while the run went on. */
static bool snapshot_answered(const struct ffx *a)
{
	for (unsigned i = 0; i < a->n_ev; i++) {
		if (a->ev[i] == VIGIL_EV_SNAPSHOT_DONE)
			return true;
		if (a->ev[i] == VIGIL_EV_EXIT)
			return false;
	}
	return false;
}

static bool acceptable(const struct qrun *q, enum fault_kind k, const struct ffx *ref)
{
	const struct ffx *a = &q->x;
	bool lost;

	if (all_output(a) && a->outcome == ref->outcome && ffx_same_events(a, ref, 0))
		return true;
	if (k != FAULT_ECONNRESET && k != FAULT_EPIPE)
		return false;
	if (fault_fired_fd() == q->qmp_fd)
		return all_output(a) && a->outcome == ref->outcome &&
		       ffx_same_events(a, ref, QMP_EVENTS) && snapshot_answered(a) &&
		       a->reports <= 1;
	lost = a->outcome == VIGIL_OUTCOME_LINK_LOST ||
	       (a->outcome == VIGIL_OUTCOME_BOOT_TIMEOUT && !ffx_saw(a, VIGIL_EV_READY));
	return fault_fired_fd() == a->port_fd && !a->hung && a->done && lost &&
	       a->port_closed == 1 && a->delivered_ok;
}

/* A sweep's run: the scenario with the fault armed, judged against the reference. */
struct sweep_ctx {
	struct qrun *q;
	struct ffx *ref;
};

static bool sweep_run(void *ctx, uint64_t n, enum fault_kind k)
{
	struct sweep_ctx *c = ctx;

	(void)n;
	scenario(c->q);
	if (acceptable(c->q, k, c->ref))
		return true;
	ffx_describe(&c->q->x, "FAILED");
	return false;
}

static void test_qmp(void **state)
{
	static struct qrun q;
	static struct ffx ref;
	static struct fault_rec trace[FAULT_TRACE_MAX];
	uint64_t calls;
	struct fault_sweep sw;
	struct sweep_ctx ctx = { &q, &ref };

	(void)state;
	fault_reset();
	scenario(&q);
	ref = q.x;
	calls = fault_calls();
	ffx_describe(&ref, "reference");
	assert_true(all_output(&ref));
	assert_int_equal(ref.outcome, VIGIL_OUTCOME_PASS);
	assert_int_equal(q.hmps, 1);
	assert_int_equal(q.quits, 1);
	assert_true(ffx_saw(&ref, VIGIL_EV_VM_STOPPED) && ffx_saw(&ref, VIGIL_EV_VM_RESUMED));
	assert_true(snapshot_answered(&ref));
	assert_true(calls > 0 && calls <= FAULT_TRACE_MAX);
	memcpy(trace, fault_trace(), calls * sizeof(trace[0]));
	assert_int_equal(fault_sweep(trace, calls, RUNS_MAX, NULL, sweep_run, &ctx, &sw), 0);
	fault_sweep_print(&sw, calls);
	assert_int_equal(sw.failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
