/* SPDX-License-Identifier: MIT */
/* runner: the workload child and its output pipes (see runner.h). */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void child(char *const argv[], char *const envp[], const char *cwd, int out, int err)
{
	sigset_t none;
	int null = open("/dev/null", O_RDONLY);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setsid();
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	if (cwd && chdir(cwd) < 0)
		dprintf(2, "vigil-agent: cannot enter %s: %s\n", cwd, strerror(errno));
	if (envp)
		execvpe(argv[0], argv, envp);
	else
		execvp(argv[0], argv);
	dprintf(2, "vigil-agent: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int runner_start(struct runner *w, char *const argv[], char *const envp[], const char *cwd)
{
	int out[2], err[2], e;
	pid_t pid;

	memset(w, 0, sizeof(*w));
	w->fd[0] = w->fd[1] = -1;
	if (!argv || !argv[0])
		return -EINVAL;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		e = -errno;
		close(out[0]);
		close(out[1]);
		return e;
	}
	pid = fork();
	if (pid == 0)
		child(argv, envp, cwd, out[1], err[1]);
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

ssize_t runner_pump(struct runner *w, int i, struct chan *c)
{
	uint16_t type = i == 0 ? VIGIL_MSG_STDOUT : VIGIL_MSG_STDERR;
	int avail = 0;
	uint32_t want;
	uint8_t *p;
	ssize_t n;

	if (w->fd[i] < 0)
		return 0;
	if (ioctl(w->fd[i], FIONREAD, &avail) < 0 || avail <= 0)
		avail = 1; /* EOF or nothing yet: a read tells which */
	want = (uint32_t)avail < RUNNER_CHUNK ? (uint32_t)avail : RUNNER_CHUNK;
	p = chan_reserve(c, CHAN_Q_OUT, want);
	if (!p)
		return -ENOBUFS;
	do
		n = read(w->fd[i], p, want);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		chan_commit(c, CHAN_Q_OUT, type, (uint32_t)n, false);
		w->bytes[i] += (uint64_t)n;
		return n;
	}
	if (n < 0 && errno == EAGAIN)
		return -EAGAIN;
	close(w->fd[i]);
	w->fd[i] = -1;
	return 0;
}

int runner_reaped(struct runner *w, pid_t pid, int status, struct chan *c)
{
	struct vigil_exit ex;
	uint8_t buf[8];
	int n;

	if (w->pid <= 0 || pid != w->pid)
		return 0;
	w->exited = true;
	w->status = status;
	w->pid = 0;
	w->kill_at_ns = 0;
	/* Output written before the exit is in the pipes now: take it first. */
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 64 && runner_pump(w, i, c) > 0; k++)
			;
	}
	ex.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	ex.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	n = vigil_exit_encode(buf, sizeof(buf), &ex);
	if (n > 0)
		chan_push(c, CHAN_Q_CTL, VIGIL_MSG_EXIT, buf, (uint32_t)n, true);
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
