/* SPDX-License-Identifier: MIT */
/* cli: beat, emit and snapshot subcommands (see cli.h). */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vigil/agent.h>
#include <vigil/wire.h>

#include "ctl.h"
#include "util.h"

static const char *ctl_path(const char *opt)
{
	const char *env = getenv("VIGIL_CTL_SOCK");

	return opt ? opt : env && *env ? env : VIGIL_CTL_SOCK_DEFAULT;
}

static int usage(const char *msg)
{
	fprintf(stderr, "vigil-agent: %s (see vigil-agent --help)\n", msg);
	return CLI_USAGE;
}

static int map_err(const char *what, const char *path, int e, const char *detail)
{
	if (e == 0)
		return CLI_OK;
	if (e == -ETIMEDOUT) {
		fprintf(stderr, "vigil-agent: %s: no answer in time\n", what);
		return CLI_TIMEOUT;
	}
	if (e == -ENOENT || e == -ECONNREFUSED || e == -EACCES || e == -ECONNRESET) {
		fprintf(stderr,
			"vigil-agent: %s: cannot reach the agent at %s: %s (is it running?)\n",
			what, path, strerror(-e));
		return CLI_UNREACHABLE;
	}
	fprintf(stderr, "vigil-agent: %s failed: %s%s%s\n", what, strerror(-e), *detail ? ": " : "",
		detail);
	return CLI_FAILED;
}

static int parse_status(const char *s, uint16_t *out)
{
	static const char *names[] = { "ok", "degraded", "critical", "stopping" };
	uint64_t v;

	for (uint16_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	}
	if (util_parse_u64(s, 3, &v) < 0)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static volatile sig_atomic_t beat_stop;

static void on_stop(int sig)
{
	(void)sig;
	beat_stop = 1;
}

int cli_beat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "payload", required_argument, NULL, 'p' },
		{ "deadline", required_argument, NULL, 'd' },
		{ "every", required_argument, NULL, 'e' },
		{ "sock", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct vigil_agent_opts ao = { .sz = sizeof(ao) };
	uint16_t status = VIGIL_STATUS_OK;
	uint64_t payload = 0, deadline = 0, every = 0;
	int c, e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's' && parse_status(optarg, &status) == 0)
			continue;
		if (c == 'p' && util_parse_u64(optarg, UINT32_MAX, &payload) == 0)
			continue;
		if (c == 'd' && util_parse_ms(optarg, &deadline) == 0 && deadline <= UINT32_MAX)
			continue;
		if (c == 'e' && util_parse_ms(optarg, &every) == 0 && every > 0)
			continue;
		if (c == 'S') {
			ao.socket_path = optarg;
			continue;
		}
		return usage("beat: bad option or value");
	}
	if (optind != argc)
		return usage("beat takes no arguments");
	e = vigil_agent_init(&ao);
	if (e < 0)
		return map_err("beat", ao.socket_path ? ao.socket_path : "", e, "");
	if (!every) {
		e = vigil_beat(status, (uint32_t)payload, (uint32_t)deadline);
		return map_err("beat", ao.socket_path ? ao.socket_path : VIGIL_BEAT_SOCK_DEFAULT, e,
			       "");
	}
	/*
	 * A long-lived helper: one identity (this pid) until SIGTERM/SIGINT.
	 * No --deadline: deadline 0, so the host's --stall-threshold applies
	 * (a deadline derived from --every would silently override it).
	 */
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	while (!beat_stop) {
		vigil_beat(status, (uint32_t)payload, (uint32_t)deadline);
		poll(NULL, 0, (int)(every < INT32_MAX ? every : INT32_MAX));
	}
	vigil_beat(VIGIL_STATUS_STOPPING, (uint32_t)payload, 0);
	return CLI_OK;
}

static int parse_kind(const char *s, uint32_t *out)
{
	static const struct {
		const char *name;
		uint32_t kind;
	} k[] = {
		{ "done", VIGIL_SCX_DONE },           { "unreg", VIGIL_SCX_UNREG },
		{ "unreg-bpf", VIGIL_SCX_UNREG_BPF }, { "unreg-kern", VIGIL_SCX_UNREG_KERN },
		{ "sysrq", VIGIL_SCX_SYSRQ },         { "error", VIGIL_SCX_ERROR },
		{ "error-bpf", VIGIL_SCX_ERROR_BPF }, { "error-stall", VIGIL_SCX_ERROR_STALL },
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(k); i++) {
		if (!strcmp(s, k[i].name)) {
			*out = k[i].kind;
			return 0;
		}
	}
	if (util_parse_u64(s, UINT32_MAX, &v) < 0)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_i32(const char *s, int32_t *out)
{
	uint64_t v;
	bool neg = *s == '-';

	if (util_parse_u64(s + neg, neg ? 2147483648ull : INT32_MAX, &v) < 0)
		return -EINVAL;
	*out = neg ? (int32_t)(-(int64_t)v) : (int32_t)v;
	return 0;
}

static struct vigil_str str_of(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return (struct vigil_str){ s ? s : "", (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n) };
}

int cli_emit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "code", required_argument, NULL, 'c' },
		{ "kind", required_argument, NULL, 'k' },
		{ "duration", required_argument, NULL, 'd' },
		{ "sock", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	uint8_t buf[CTL_REQ_MAX];
	char detail[CTL_DETAIL_MAX + 1];
	const char *sock = NULL, *what;
	int32_t code = 0;
	uint32_t kind = 0;
	uint64_t duration_ms = 0, timeout_ms = 5000;
	uint16_t type;
	int c, n, npos;
	char **pos;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c' && parse_i32(optarg, &code) == 0)
			continue;
		if (c == 'k' && parse_kind(optarg, &kind) == 0)
			continue;
		if (c == 'd' && util_parse_ms(optarg, &duration_ms) == 0)
			continue;
		if (c == 't' && util_parse_ms(optarg, &timeout_ms) == 0 && timeout_ms < INT32_MAX)
			continue;
		if (c == 'S') {
			sock = optarg;
			continue;
		}
		return usage("emit: bad option or value");
	}
	pos = argv + optind;
	npos = argc - optind;
	if (npos < 1)
		return usage("emit: what? (scenario-start, scenario-pause, scenario-resume, "
			     "scenario-end, sched-exit, result)");
	what = pos[0];
	for (int i = 1; i < npos; i++) {
		if (strlen(pos[i]) > VIGIL_WIRE_STR_MAX)
			return usage("emit: a string is over 4096 bytes");
	}
	if (!strncmp(what, "scenario-", 9)) {
		if (!strcmp(what, "scenario-start") && npos == 2)
			type = VIGIL_MSG_SCENARIO_START;
		else if (!strcmp(what, "scenario-pause") && npos <= 2)
			type = VIGIL_MSG_SCENARIO_PAUSE;
		else if (!strcmp(what, "scenario-resume") && npos <= 2)
			type = VIGIL_MSG_SCENARIO_RESUME;
		else if (!strcmp(what, "scenario-end") && npos <= 2)
			type = VIGIL_MSG_SCENARIO_END;
		else
			return usage(
			    "emit: scenario-start NAME | scenario-pause|resume|end [NAME]");
		n = vigil_scenario_encode(buf, sizeof(buf), str_of(npos == 2 ? pos[1] : NULL));
	} else if (!strcmp(what, "sched-exit")) {
		struct vigil_sched_exit ex = { .exit_code = code, .kind = kind };

		if (npos != 2)
			return usage("emit: sched-exit [--code N] [--kind K] REASON");
		ex.reason = str_of(pos[1]);
		type = VIGIL_MSG_SCHED_EXIT;
		n = vigil_sched_exit_encode(buf, sizeof(buf), &ex);
	} else if (!strcmp(what, "result")) {
		static const char *outcomes[] = { "pass", "fail", "skip", "error" };
		struct vigil_test_result r = { .duration_ns = duration_ms * NSEC_PER_MSEC };
		size_t i;

		if (npos < 3 || npos > 4)
			return usage(
			    "emit: result NAME pass|fail|skip|error [--duration D] [MESSAGE]");
		for (i = 0; i < ARRAY_SIZE(outcomes) && strcmp(pos[2], outcomes[i]); i++)
			;
		if (i == ARRAY_SIZE(outcomes))
			return usage("emit: result outcome is pass, fail, skip or error");
		r.outcome = (uint8_t)i;
		r.name = str_of(pos[1]);
		r.message = str_of(npos == 4 ? pos[3] : NULL);
		type = VIGIL_MSG_TEST_RESULT;
		n = vigil_test_result_encode(buf, sizeof(buf), &r);
	} else {
		return usage("emit: unknown event");
	}
	if (n < 0)
		return usage("emit: value out of range");
	sock = ctl_path(sock);
	n = ctl_call(sock, type, buf, (uint32_t)n, (int)timeout_ms, detail, sizeof(detail));
	return map_err("emit", sock, n, detail);
}

int cli_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "tag", required_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 't' },
		{ "sock", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct vigil_snapshot_request req = { .request_id = 1 };
	uint8_t buf[16 + VIGIL_WIRE_STR_MAX];
	char detail[CTL_DETAIL_MAX + 1];
	const char *sock = NULL;
	uint64_t timeout_ms = 60000;
	int c, n;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'k') {
			if (!strcmp(optarg, "memory"))
				req.kind = VIGIL_SNAP_MEMORY_DUMP;
			else if (!strcmp(optarg, "cpu"))
				req.kind = VIGIL_SNAP_CPU_STATE;
			else if (!strcmp(optarg, "counters"))
				req.kind = VIGIL_SNAP_HOST_COUNTERS;
			else
				return usage("snapshot: --kind is memory, cpu or counters");
			continue;
		}
		if (c == 'g' && strlen(optarg) <= VIGIL_WIRE_STR_MAX) {
			req.tag = str_of(optarg);
			continue;
		}
		if (c == 't' && util_parse_ms(optarg, &timeout_ms) == 0 && timeout_ms < INT32_MAX)
			continue;
		if (c == 'S') {
			sock = optarg;
			continue;
		}
		return usage("snapshot: bad option or value");
	}
	if (optind != argc || !req.kind)
		return usage("snapshot --kind memory|cpu|counters [--tag T] [--timeout D]");
	n = vigil_snapshot_request_encode(buf, sizeof(buf), &req);
	if (n < 0)
		return usage("snapshot: value out of range");
	sock = ctl_path(sock);
	n = ctl_call(sock, VIGIL_MSG_SNAPSHOT_REQUEST, buf, (uint32_t)n, (int)timeout_ms, detail,
		     sizeof(detail));
	if (n == 0) {
		printf("%s\n", detail);
		return CLI_OK;
	}
	return map_err("snapshot", sock, n, detail);
}
