/* SPDX-License-Identifier: MIT */
/*
 * Test helper: runs the agent (core_run) in a child process with its port
 * on a socketpair and its sockets in a private temporary directory.
 * Header-only, static.
 */
#ifndef VIGIL_TEST_AGENT_FX_H
#define VIGIL_TEST_AGENT_FX_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"
#include "rx.h"

struct agent_fx {
	char dir[64];
	char beat[128];
	char ctl[128];
	int host;  /* our end of the port */
	pid_t pid; /* the agent */
	struct rx rx;
	struct core_cfg cfg;
};

/* Defaults for tests: no kernel log, flows or sched_ext; fast stats. */
static inline void agent_fx_init(struct agent_fx *a)
{
	memset(a, 0, sizeof(*a));
	tmp_template(a->dir, sizeof(a->dir), "/tmp/vigil-agent-");
	if (!mkdtemp(a->dir))
		abort();
	snprintf(a->beat, sizeof(a->beat), "%s/beat.sock", a->dir);
	snprintf(a->ctl, sizeof(a->ctl), "%s/ctl.sock", a->dir);
	core_cfg_defaults(&a->cfg);
	a->cfg.beat_path = a->beat;
	a->cfg.ctl_path = a->ctl;
	a->cfg.kmsg_path = NULL;
	a->cfg.scx_path = NULL;
	a->cfg.flows_ms = 0;
	a->cfg.stats_ms = 50;
	a->cfg.self_beat_ms = 100;
	a->cfg.log_fd = -1;
	a->cfg.on_shutdown = CORE_SHUTDOWN_EXIT;
	a->cfg.ack_ms = 100; /* these hosts do not answer EXIT with SHUTDOWN */
	a->host = -1;
	rx_init(&a->rx);
}

static inline void agent_fx_start(struct agent_fx *a)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	a->pid = fork();
	if (a->pid == 0) {
		close(sv[0]);
		a->cfg.port_fd = sv[1];
		_exit(core_run(&a->cfg));
	}
	close(sv[1]);
	a->host = sv[0];
}

/* Wait for the agent to exit (up to timeout_ms); its exit code, or -1. */
static inline int agent_fx_wait(struct agent_fx *a, int timeout_ms)
{
	uint64_t end = rx_now_ms() + (uint64_t)timeout_ms;
	int st;

	while (rx_now_ms() < end) {
		pid_t p = waitpid(a->pid, &st, WNOHANG);

		if (p == a->pid) {
			a->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		rx_pump(&a->rx, a->host, 10);
	}
	return -1;
}

static inline void agent_fx_fini(struct agent_fx *a)
{
	char cmd[128];

	if (a->pid > 0) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, NULL, 0);
	}
	if (a->host >= 0)
		close(a->host);
	rx_free(&a->rx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", a->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", a->dir);
}

#endif
