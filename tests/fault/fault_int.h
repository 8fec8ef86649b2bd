/* SPDX-License-Identifier: MIT */
/*
 * fault_int: what the two front ends of fault.h (fault_wrap.c,
 * fault_interpose.c) share with the countdown in fault.c. Test-only.
 */
#ifndef VIGIL_TESTS_FAULT_INT_H
#define VIGIL_TESTS_FAULT_INT_H

#include <stdbool.h>

#include "fault.h"

/* The pseudo-kind of a call on a broken connection: EOF or EPIPE. */
#define FAULT_BROKEN FAULT__COUNT

/*
 * Counts a call of the host's and says which fault to inject into it
 * (FAULT_NONE: go through; FAULT_BROKEN: the connection is gone). fd -1:
 * an epoll_wait.
 */
enum fault_kind fault_take(enum fault_call c, int fd, bool shortable);
/* The errno of an injected error. */
int fault_errno(enum fault_kind k);

#endif /* VIGIL_TESTS_FAULT_INT_H */
