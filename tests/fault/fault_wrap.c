/* SPDX-License-Identifier: MIT */
/*
 * fault_wrap: fault.h's calls caught at link time (-Wl,--wrap=read,...):
 * calls from the test executable's own objects only. Test-only.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
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
