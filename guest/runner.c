/* SPDX-License-Identifier: MIT */
/* runner: the workload child and its output pipes (see runner.h). */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prio.h"
#include "stages.h"

extern char **environ;

/* Bytes exec needs for the strings and pointers of argv and envp. */
static size_t exec_bytes(char *const argv[], char *const envp[])
{
	size_t n = sizeof(char *);

	for (char *const *a = argv; *a; a++)
		n += strlen(*a) + 1 + sizeof(char *);
	for (char *const *e = envp; e && *e; e++)
		n += strlen(*e) + 1 + sizeof(char *);
	return n;
}

/*
 * exec refuses strings over a quarter of the soft stack limit: raise it
 * (in the child only) so that a large argv fits, up to the hard limit.
 */
static void fit_stack(char *const argv[], char *const envp[])
{
	rlim_t need = (rlim_t)exec_bytes(argv, envp) * 4 + (1u << 20);
	struct rlimit rl;

	if (getrlimit(RLIMIT_STACK, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
	setrlimit(RLIMIT_STACK, &rl);
}

static void child(const struct runner_spec *s, int out, int err)
{
	sigset_t none;
	int null = open("/dev/null", O_RDONLY);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	setsid();
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	if (s->cwd && chdir(s->cwd) < 0)
		dprintf(2, "vigil-agent: cannot enter %s: %s\n", s->cwd, strerror(errno));
	if (s->set_ids && (setgroups(0, NULL) < 0 || setresgid(s->gid, s->gid, s->gid) < 0 ||
			   setresuid(s->uid, s->uid, s->uid) < 0)) {
		dprintf(2, "vigil-agent: cannot become uid %u gid %u: %s\n", (unsigned)s->uid,
			(unsigned)s->gid, strerror(errno));
		_exit(126);
	}
	fit_stack(s->argv, s->envp ? s->envp : environ);
	prio_child();
	/* execvp searches the caller's PATH: make it the workload's */
	if (s->envp)
		environ = (char **)s->envp;
	execvp(s->argv[0], s->argv);
	dprintf(2, "vigil-agent: cannot run %s: %s\n", s->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static int push_scenario(struct chan *c, uint16_t type, const char *name, bool after_output)
{
	uint8_t buf[2 + VIGIL_WIRE_STR_MAX];
	size_t len = strlen(name);
	int n;

	if (len > VIGIL_WIRE_STR_MAX)
		return -EINVAL;
	n = vigil_scenario_encode(buf, sizeof(buf), (struct vigil_str){ name, (uint16_t)len });
	if (n < 0)
		return n;
	return chan_push(c, CHAN_Q_CTL, type, buf, (uint32_t)n, after_output);
}

static int push_exit(struct chan *c, int32_t status, int32_t sig)
{
	struct vigil_exit ex = { .exit_status = status, .signal = sig };
	uint8_t buf[8];
	int n = vigil_exit_encode(buf, sizeof(buf), &ex);

	if (n < 0)
		return n;
	return chan_push(c, CHAN_Q_CTL, VIGIL_MSG_EXIT, buf, (uint32_t)n, true);
}

static int spawn(struct runner *w, const struct runner_spec *s)
{
	int out[2], err[2], e;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		e = -errno;
		close(out[0]);
		close(out[1]);
		return e;
	}
	if (s->pipe_bytes) {
		/* Before the fork, so the child writes into the larger pipe. A
		 * size over fs.pipe-max-size fails without privilege: the
		 * default size then stays, which is only slower. */
		fcntl(out[0], F_SETPIPE_SZ, (int)s->pipe_bytes);
		fcntl(err[0], F_SETPIPE_SZ, (int)s->pipe_bytes);
	}
	pid = fork();
	if (pid == 0)
		child(s, out[1], err[1]);
	e = pid < 0 ? -errno : 0;
	close(out[1]);
	close(err[1]);
	if (e < 0) {
		close(out[0]);
		close(err[0]);
		return e;
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	w->pid = pid;
	w->fd[0] = out[0];
	w->fd[1] = err[0];
	return 0;
}

int runner_start(struct runner *w, const struct runner_spec *s, struct chan *c)
{
	int e;

	memset(w, 0, sizeof(*w));
	w->fd[0] = w->fd[1] = -1;
	if (!s->argv || !s->argv[0])
		return -EINVAL;
	if (s->scenario) {
		e = push_scenario(c, VIGIL_MSG_SCENARIO_START, s->scenario, false);
		if (e < 0)
			return e;
	}
	e = spawn(w, s);
	if (e < 0) {
		if (s->scenario) /* keep the pair: the host saw the START */
			push_scenario(c, VIGIL_MSG_SCENARIO_END, s->scenario, true);
		return e;
	}
	w->scenario = s->scenario;
	return 0;
}

int runner_refuse(struct chan *c, const char *msg, int status)
{
	size_t len = strlen(msg);
	int e;

	if (len > RUNNER_CHUNK)
		len = RUNNER_CHUNK;
	e = chan_push(c, CHAN_Q_OUT, VIGIL_MSG_STDERR, msg, (uint32_t)len, false);
	if (e < 0)
		return e;
	return push_exit(c, status, 0);
}

/* Pipe i has given what it held at the exit (read past it, found empty or at EOF). */
static void tail_done(struct runner *w, int i, uint64_t n)
{
	w->tail[i] = n >= w->tail[i] ? 0 : w->tail[i] - (uint32_t)n;
}

ssize_t runner_pump(struct runner *w, int i, struct chan *c)
{
	uint16_t type = i == 0 ? VIGIL_MSG_STDOUT : VIGIL_MSG_STDERR;
	int avail = 0;
	uint32_t want;
	uint8_t *p;
	ssize_t n;
	uint64_t t0;
	bool staged;

	if (w->fd[i] < 0)
		return 0;
	t0 = stage_begin();
	w->drained[i] = false;
	if (ioctl(w->fd[i], FIONREAD, &avail) < 0 || avail <= 0)
		avail = 0; /* EOF or nothing yet: a read of 1 tells which */
	want = !avail ? 1 : (uint32_t)avail < RUNNER_CHUNK ? (uint32_t)avail : RUNNER_CHUNK;
	/* Straight into the write buffer when it has room and nothing queued
	 * must go first; else into the output queue (a copy more). */
	p = chan_stage_reserve(c, want);
	staged = p != NULL;
	if (!p)
		p = chan_reserve(c, CHAN_Q_OUT, want);
	if (!p)
		return -ENOBUFS;
	do
		n = read(w->fd[i], p, want);
	while (n < 0 && errno == EINTR);
	stage_end(STAGE_PIPE_READ, t0, n > 0 ? (uint64_t)n : 0);
	if (n > 0) {
		if (staged)
			chan_stage_commit(c, type, (uint32_t)n);
		else
			chan_commit(c, CHAN_Q_OUT, type, (uint32_t)n, false);
		w->bytes[i] += (uint64_t)n;
		w->drained[i] = avail && (uint32_t)n == (uint32_t)avail;
		tail_done(w, i, (uint64_t)n);
		return n;
	}
	tail_done(w, i, UINT64_MAX);
	if (n < 0 && errno == EAGAIN)
		return -EAGAIN;
	close(w->fd[i]);
	w->fd[i] = -1;
	return 0;
}

int runner_reaped(struct runner *w, pid_t pid, int status)
{
	if (w->pid <= 0 || pid != w->pid)
		return 0;
	w->exited = true;
	w->status = status;
	w->pid = 0;
	w->kill_at_ns = 0;
	/*
	 * Output written before the exit is in the pipes now: note how much,
	 * so EXIT follows exactly those bytes. They are read by runner_pump
	 * as the queue drains (whatever the pipe's size), and not more: a
	 * process that outlived the workload and keeps writing cannot hold
	 * the EXIT back.
	 */
	for (int i = 0; i < 2; i++) {
		int avail = 0;

		if (w->fd[i] >= 0 && ioctl(w->fd[i], FIONREAD, &avail) == 0 && avail > 0)
			w->tail[i] = (uint32_t)avail;
	}
	return 1;
}

int runner_settle(struct runner *w, struct chan *c)
{
	int status = w->status;

	if (!w->exited || w->exit_queued || w->tail[0] || w->tail[1])
		return 0;
	/* Both after that output: control frames wait for earlier output items. */
	if (w->scenario)
		push_scenario(c, VIGIL_MSG_SCENARIO_END, w->scenario, true);
	push_exit(c, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	w->exit_queued = true;
	return 1;
}

void runner_signal(struct runner *w, int sig)
{
	if (w->pid > 0 && kill(-w->pid, sig) < 0)
		kill(w->pid, sig);
}

void runner_close(struct runner *w)
{
	for (int i = 0; i < 2; i++) {
		if (w->fd[i] >= 0)
			close(w->fd[i]);
		w->fd[i] = -1;
	}
}
