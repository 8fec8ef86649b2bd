/* SPDX-License-Identifier: MIT */
/*
 * prio: the agent's real-time priority, so that it is the last thing in
 * the guest to starve (docs/agent.md, "Priority").
 *
 * In PID-1 mode the agent's threads (the event loop and the inspector's
 * worker) run SCHED_FIFO at PRIO_DEFAULT (vigil.rt_prio=N, 0 off), with
 * SCHED_RESET_ON_FORK: everything they start (the workload, `vigil-agent
 * beat`) begins at SCHED_OTHER, nice 0, as if the agent were not RT. A
 * workload's own RT task below that priority cannot keep the agent from
 * answering; one at or above it can, which is the tool for freezing a guest
 * on purpose (vmtest guest_freeze).
 *
 * Budget: RLIMIT_RTTIME, soft PRIO_BUDGET_US of CPU time without sleeping
 * (hard unlimited). The loop sleeps in epoll_wait whenever it is idle, so a
 * healthy agent never comes near; a bug that spins gets SIGXCPU from the
 * kernel, and the handler drops that thread to SCHED_OTHER for good: the
 * agent can never monopolise a vCPU for longer than the budget. The
 * workload's child resets the soft limit (prio_child), so the budget is the
 * agent's alone.
 *
 * No state but one flag; every call is a system call or two. Load: once at
 * start, once per worker thread, once per workload child.
 */
#ifndef VIGIL_GUEST_PRIO_H
#define VIGIL_GUEST_PRIO_H

#include <stdbool.h>

#define PRIO_DEFAULT   50       /* SCHED_FIFO priority of the agent in PID-1 mode */
#define PRIO_BUDGET_US 200000ul /* RT CPU time without sleeping before SIGXCPU */

/*
 * The calling thread and the process: SCHED_FIFO prio with
 * SCHED_RESET_ON_FORK, the RLIMIT_RTTIME budget and its SIGXCPU handler.
 * prio 0: nothing. 0, or a negative errno (the agent then runs as before).
 */
int prio_enter(int prio);
/* Another thread of the agent (prio_enter ran already): the policy only. */
int prio_thread(int prio);
/* In a child before exec: the budget is not the workload's. */
void prio_child(void);
/* Did a thread overrun the budget and lose its priority? */
bool prio_demoted(void);

#endif /* VIGIL_GUEST_PRIO_H */
