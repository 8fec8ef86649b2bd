/* SPDX-License-Identifier: MIT */
/* prio: the agent's real-time priority and its budget (see prio.h). */
#define _GNU_SOURCE
#include "prio.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

static volatile sig_atomic_t demoted;

/*
 * The system call itself: it acts on the calling thread. musl's
 * sched_setscheduler() is a stub that returns ENOSYS, because POSIX means
 * the process and Linux acts on a thread.
 */
static int set_policy(int policy, int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	return (int)syscall(SYS_sched_setscheduler, 0, policy, &sp);
}

/* SIGXCPU: the budget ran out in the thread that gets it. The policy change
 * is a plain system call, safe in a handler. */
static void on_xcpu(int sig)
{
	int e = errno;

	(void)sig;
	set_policy(SCHED_OTHER, 0);
	demoted = 1;
	errno = e;
}

int prio_thread(int prio)
{
	if (prio <= 0)
		return 0;
	if (set_policy(SCHED_FIFO | SCHED_RESET_ON_FORK, prio) < 0)
		return -errno;
	return 0;
}

int prio_enter(int prio)
{
	struct rlimit rl = { .rlim_cur = PRIO_BUDGET_US, .rlim_max = RLIM_INFINITY };
	struct sigaction sa;

	if (prio <= 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_xcpu;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGXCPU, &sa, NULL) < 0)
		return -errno;
	if (getrlimit(RLIMIT_RTTIME, &rl) == 0)
		rl.rlim_cur = rl.rlim_max < PRIO_BUDGET_US ? rl.rlim_max : PRIO_BUDGET_US;
	if (setrlimit(RLIMIT_RTTIME, &rl) < 0)
		return -errno;
	return prio_thread(prio);
}

void prio_child(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_RTTIME, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_RTTIME, &rl);
	}
}

bool prio_demoted(void)
{
	return demoted != 0;
}
