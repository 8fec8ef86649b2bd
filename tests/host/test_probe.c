/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/lib/probe.c through the session: with the vCPU state
 * probe, a halted guest (vCPUs asleep) is a guest stall while a stopped or
 * runqueue-starved one is HOST_STARVED; the plain progress probe keeps
 * today's rule; boot and watchdog timeouts on a starved or overloaded host
 * get HOST_STARVED as their primary finding and the timeout as a secondary
 * one (exit 121), never on a host that gave the guest its CPU.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vigil/session.h>
#include <vigil/wire.h>

#define MS 1000000ull
#define S  1000000000ull
#define T0 (1000 * S)

/* What the fake vCPUs do per 10 ms of host time. */
enum vcpu_mode {
	BUSY,     /* run the whole time */
	HALTED,   /* sleep: no run, no wait */
	STOPPED,  /* SIGSTOPped by the host */
	QUEUED,   /* runnable, never picked: wait grows */
	OVERLOAD, /* run 4 ms, wait 6 ms */
};

struct fx {
	struct vigil_session *s;
	uint32_t seq;
	uint64_t at;
	enum vcpu_mode mode;
	struct vigil_vcpu_state st;
	uint64_t ping_token;
};

static int writer(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return 0;
}

static int state_probe(void *ctx, struct vigil_vcpu_state *out)
{
	struct fx *f = ctx;

	*out = f->st;
	return 0;
}

static int plain_probe(void *ctx, uint64_t *cpu)
{
	struct fx *f = ctx;

	*cpu = f->st.cpu_ns;
	return 0;
}

static struct fx *fx_new(void (*tune)(struct vigil_session_opts *o), bool state)
{
	struct fx *f = calloc(1, sizeof(*f));
	VIGIL_SESSION_OPTS(o, .ping_interval_ns = 200 * MS, .stall_threshold_ns = 2 * S);
	struct vigil_session_hooks h = { .writer = { writer, f }, .progress = { plain_probe, f } };
	struct vigil_vcpu_state_probe sp = { state_probe, f };

	assert_non_null(f);
	if (tune)
		tune(&o);
	assert_int_equal(vigil_session_new(&o, &h, T0, &f->s), 0);
	if (state)
		assert_int_equal(vigil_session_set_vcpu_state_probe(f->s, &sp), 0);
	vigil_session_link_up(f->s, T0);
	return f;
}

static uint8_t fb[VIGIL_WIRE_MAX_FRAME];
#define PL   (fb + VIGIL_WIRE_HDR_LEN)
#define PCAP (sizeof(fb) - VIGIL_WIRE_HDR_LEN)

static void send_frame(struct fx *f, uint16_t type, int plen)
{
	int n = vigil_frame_seal(fb, sizeof(fb), type, f->seq++, (size_t)plen);

	assert_true(n > 0);
	assert_true(vigil_session_feed(f->s, fb, (size_t)n, T0 + f->at) >= 0);
}

static void hello_ready(struct fx *f)
{
	struct vigil_hello h = { .proto_version = 1,
				 .agent_version = VIGIL_STR("t"),
				 .kernel_release = VIGIL_STR("k"),
				 .hostname = VIGIL_STR("g") };

	send_frame(f, VIGIL_MSG_HELLO, vigil_hello_encode(PL, PCAP, &h));
	send_frame(f, VIGIL_MSG_SYS_RDY, 0);
}

static void run_to(struct fx *f, uint64_t at_ms)
{
	while (f->at < at_ms * MS) {
		f->at += 10 * MS;
		switch (f->mode) {
		case BUSY:
			f->st.cpu_ns += 10 * MS;
			break;
		case QUEUED:
			f->st.wait_ns += 10 * MS;
			break;
		case OVERLOAD:
			f->st.cpu_ns += 4 * MS;
			f->st.wait_ns += 6 * MS;
			break;
		case HALTED:
		case STOPPED:
			break;
		}
		f->st.stopped = f->mode == STOPPED;
		vigil_session_tick(f->s, T0 + f->at);
	}
}

static uint32_t findings_of(const struct vigil_verdict *v, enum vigil_outcome oc)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < v->n_findings; i++)
		n += v->findings[i].outcome == oc;
	return n;
}

/* The guest goes silent at 1 s with the vCPUs in mode m: the finding. */
static enum vigil_outcome silent_guest(enum vcpu_mode m, bool state)
{
	struct fx *f = fx_new(NULL, state);
	const struct vigil_verdict *v;
	enum vigil_outcome oc = VIGIL_OUTCOME_PASS;

	hello_ready(f);
	run_to(f, 1000);
	send_frame(f, VIGIL_MSG_SYS_RDY, 0); /* heard at 1 s */
	f->mode = m;
	run_to(f, 6000);
	v = vigil_session_finish(f->s, T0 + f->at);
	for (uint32_t i = 0; i < v->n_findings; i++)
		if (v->findings[i].outcome == VIGIL_OUTCOME_GUEST_STALL ||
		    v->findings[i].outcome == VIGIL_OUTCOME_HOST_STARVED) {
			assert_int_equal(oc, VIGIL_OUTCOME_PASS); /* one finding */
			oc = v->findings[i].outcome;
		}
	vigil_session_free(f->s);
	free(f);
	return oc;
}

static void test_halted_is_guest_stall(void **state)
{
	(void)state;
	assert_int_equal(silent_guest(HALTED, true), VIGIL_OUTCOME_GUEST_STALL);
	assert_int_equal(silent_guest(BUSY, true), VIGIL_OUTCOME_GUEST_STALL);
}

static void test_stopped_or_queued_is_host_starved(void **state)
{
	(void)state;
	assert_int_equal(silent_guest(STOPPED, true), VIGIL_OUTCOME_HOST_STARVED);
	assert_int_equal(silent_guest(QUEUED, true), VIGIL_OUTCOME_HOST_STARVED);
}

/* The plain progress probe cannot tell: no CPU time is starvation, as before. */
static void test_plain_probe_keeps_rule(void **state)
{
	(void)state;
	assert_int_equal(silent_guest(HALTED, false), VIGIL_OUTCOME_HOST_STARVED);
	assert_int_equal(silent_guest(BUSY, false), VIGIL_OUTCOME_GUEST_STALL);
}

static void tune_boot(struct vigil_session_opts *o)
{
	o->boot_timeout_ns = 4 * S;
	o->ping_interval_ns = 0;
}

/* A boot timeout: HOST_STARVED first when the host starved or overloaded
 * the guest, the timeout second; a plain timeout otherwise. */
static void boot_case(enum vcpu_mode m, enum vigil_outcome want, int code)
{
	struct fx *f = fx_new(tune_boot, true);
	const struct vigil_verdict *v;

	f->mode = m;
	run_to(f, 4010);
	assert_int_equal(vigil_session_ended(f->s), 1);
	v = vigil_session_finish(f->s, T0 + f->at);
	assert_int_equal(v->outcome, want);
	assert_int_equal(vigil_verdict_exit_code(v), code);
	assert_int_equal(findings_of(v, VIGIL_OUTCOME_BOOT_TIMEOUT), 1);
	vigil_session_free(f->s);
	free(f);
}

static void test_boot_timeout(void **state)
{
	(void)state;
	boot_case(OVERLOAD, VIGIL_OUTCOME_HOST_STARVED, 121);
	boot_case(STOPPED, VIGIL_OUTCOME_HOST_STARVED, 121);
	boot_case(QUEUED, VIGIL_OUTCOME_HOST_STARVED, 121);
	boot_case(BUSY, VIGIL_OUTCOME_BOOT_TIMEOUT, 127);
	boot_case(HALTED, VIGIL_OUTCOME_BOOT_TIMEOUT, 127);
}

static void tune_wdg(struct vigil_session_opts *o)
{
	o->workload_duration_ns = 3 * S;
	o->ping_interval_ns = 0;
}

static void test_watchdog_timeout(void **state)
{
	struct fx *f = fx_new(tune_wdg, true);
	const struct vigil_verdict *v;

	(void)state;
	hello_ready(f);
	run_to(f, 1000);
	f->mode = STOPPED;
	run_to(f, 3010);
	v = vigil_session_finish(f->s, T0 + f->at);
	assert_int_equal(v->outcome, VIGIL_OUTCOME_HOST_STARVED);
	assert_int_equal(vigil_verdict_exit_code(v), 121);
	assert_int_equal(findings_of(v, VIGIL_OUTCOME_WATCHDOG_TIMEOUT), 1);
	vigil_session_free(f->s);
	free(f);
}

static void test_set_probe(void **state)
{
	struct fx *f = fx_new(NULL, false);
	struct vigil_vcpu_state_probe bad = { NULL, NULL };

	(void)state;
	assert_int_equal(vigil_session_set_vcpu_state_probe(f->s, &bad), -EINVAL);
	assert_int_equal(vigil_session_set_vcpu_state_probe(f->s, NULL), 0);
	vigil_session_free(f->s);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_halted_is_guest_stall),
		cmocka_unit_test(test_stopped_or_queued_is_host_starved),
		cmocka_unit_test(test_plain_probe_keeps_rule),
		cmocka_unit_test(test_boot_timeout),
		cmocka_unit_test(test_watchdog_timeout),
		cmocka_unit_test(test_set_probe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
