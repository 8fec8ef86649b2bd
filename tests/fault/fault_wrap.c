/* SPDX-License-Identifier: MIT */
/*
 * fault_wrap: fault.h's calls caught at link time (-Wl,--wrap=read,...):
 * calls from the test executable's own objects only. Test-only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fault_int.h"

ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __real_recv(int fd, void *buf, size_t n, int flags);
ssize_t __real_send(int fd, const void *buf, size_t n, int flags);
int __real_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags);
int __wrap_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout);
int __real_recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *t);
int __wrap_recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *t);
int __real_epoll_pwait2(int epfd, struct epoll_event *evs, int max, const struct timespec *t,
			const sigset_t *mask);
int __wrap_epoll_pwait2(int epfd, struct epoll_event *evs, int max, const struct timespec *t,
			const sigset_t *mask);
long __real_syscall(long nr, ...);
long __wrap_syscall(long nr, ...);

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	enum fault_kind k = fault_take(FAULT_READ, fd, n >= 2);

	if (k == FAULT_NONE)
		return __real_read(fd, buf, n);
	if (k == FAULT_SHORT)
		return __real_read(fd, buf, n / 2);
	if (k == FAULT_BROKEN)
		return 0;
	errno = fault_errno(k);
	return -1;
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	enum fault_kind k = fault_take(FAULT_WRITE, fd, n >= 2);

	if (k == FAULT_NONE)
		return __real_write(fd, buf, n);
	if (k == FAULT_SHORT)
		return __real_write(fd, buf, n / 2);
	errno = fault_errno(k);
	return -1;
}

ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags)
{
	enum fault_kind k = fault_take(FAULT_RECV, fd, n >= 2);

	if (k == FAULT_NONE)
		return __real_recv(fd, buf, n, flags);
	if (k == FAULT_SHORT)
		return __real_recv(fd, buf, n / 2, flags);
	if (k == FAULT_BROKEN)
		return 0;
	errno = fault_errno(k);
	return -1;
}

ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags)
{
	enum fault_kind k = fault_take(FAULT_SEND, fd, n >= 2);

	if (k == FAULT_NONE)
		return __real_send(fd, buf, n, flags);
	if (k == FAULT_SHORT)
		return __real_send(fd, buf, n / 2, flags);
	errno = fault_errno(k);
	return -1;
}

int __wrap_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	enum fault_kind k = fault_take(FAULT_EPOLL_WAIT, epfd, max >= 2);

	switch (k) {
	case FAULT_NONE:
		return __real_epoll_wait(epfd, evs, max, timeout);
	case FAULT_SHORT:
		return __real_epoll_wait(epfd, evs, 1, timeout);
	case FAULT_EAGAIN:
		return 0; /* a spurious wake-up with nothing in it */
	default:
		errno = EINTR;
		return -1;
	}
}

/* recvmmsg: SHORT is one message where more were asked for. */
int __wrap_recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *t)
{
	enum fault_kind k = fault_take(FAULT_RECVMMSG, fd, n >= 2);

	if (k == FAULT_NONE)
		return __real_recvmmsg(fd, v, n, flags, t);
	if (k == FAULT_SHORT)
		return __real_recvmmsg(fd, v, 1, flags, t);
	if (k == FAULT_BROKEN)
		return 0;
	errno = fault_errno(k);
	return -1;
}

int __wrap_epoll_pwait2(int epfd, struct epoll_event *evs, int max, const struct timespec *t,
			const sigset_t *mask)
{
	enum fault_kind k = fault_take(FAULT_EPOLL_PWAIT2, epfd, max >= 2);

	switch (k) {
	case FAULT_NONE:
		return __real_epoll_pwait2(epfd, evs, max, t, mask);
	case FAULT_SHORT:
		return __real_epoll_pwait2(epfd, evs, 1, t, mask);
	case FAULT_EAGAIN:
		return 0;
	default:
		errno = EINTR;
		return -1;
	}
}

/*
 * syscall(SYS_epoll_pwait2, ...) (the agent's wait: musl has no
 * epoll_pwait2()) counts as epoll_pwait2; every other number goes through.
 * Six arguments are taken whatever the caller passed, as glibc's syscall()
 * itself does (registers on the ABIs Linux runs on).
 */
long __wrap_syscall(long nr, ...)
{
	long a[6];
	va_list ap;
	enum fault_kind k;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr != SYS_epoll_pwait2)
		return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	k = fault_take(FAULT_EPOLL_PWAIT2, (int)a[0], a[2] >= 2);
	switch (k) {
	case FAULT_NONE:
		return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	case FAULT_SHORT:
		return __real_syscall(nr, a[0], a[1], 1L, a[3], a[4], a[5]);
	case FAULT_EAGAIN:
		return 0;
	default:
		errno = EINTR;
		return -1;
	}
}
