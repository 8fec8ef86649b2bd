/* SPDX-License-Identifier: MIT */
/*
 * fault_interpose: fault.h's calls caught by symbol interposition. The
 * executable defines read, write, recv, send, sendmsg, accept4 and
 * epoll_wait (default visibility, so that they are in its dynamic symbol
 * table); the dynamic linker then binds every shared library's PLT entry
 * for them here, before libc (libmicrohttpd's own I/O included), and the
 * executable's own calls bind here at link time. Each goes to the next
 * definition (dlsym(RTLD_NEXT): libc's, or ASan's interceptor, which then
 * calls libc's). Test-only; compiled into the test executable itself (a
 * static archive's member would be left out once libc resolved the names).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fault_int.h"

#define API __attribute__((visibility("default")))

API ssize_t read(int fd, void *buf, size_t n);
API ssize_t write(int fd, const void *buf, size_t n);
API ssize_t recv(int fd, void *buf, size_t n, int flags);
API ssize_t send(int fd, const void *buf, size_t n, int flags);
API ssize_t sendmsg(int fd, const struct msghdr *msg, int flags);
API int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
API int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout);

/* The next definition of name, looked up once. */
#define NEXT(name, type)                                                                           \
	static type next_##name;                                                                   \
	if (!next_##name) {                                                                        \
		next_##name = (type)dlsym(RTLD_NEXT, #name);                                       \
		if (!next_##name)                                                                  \
			abort();                                                                   \
	}

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*epoll_wait_fn)(int, struct epoll_event *, int, int);

static ssize_t fail(enum fault_kind k)
{
	errno = fault_errno(k);
	return -1;
}

ssize_t read(int fd, void *buf, size_t n)
{
	NEXT(read, read_fn);
	enum fault_kind k = fault_take(FAULT_READ, fd, n >= 2);

	if (k == FAULT_NONE)
		return next_read(fd, buf, n);
	if (k == FAULT_SHORT)
		return next_read(fd, buf, n / 2);
	return k == FAULT_BROKEN ? 0 : fail(k);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	NEXT(write, write_fn);
	enum fault_kind k = fault_take(FAULT_WRITE, fd, n >= 2);

	if (k == FAULT_NONE)
		return next_write(fd, buf, n);
	if (k == FAULT_SHORT)
		return next_write(fd, buf, n / 2);
	return fail(k);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	NEXT(recv, recv_fn);
	enum fault_kind k = fault_take(FAULT_RECV, fd, n >= 2);

	if (k == FAULT_NONE)
		return next_recv(fd, buf, n, flags);
	if (k == FAULT_SHORT)
		return next_recv(fd, buf, n / 2, flags);
	return k == FAULT_BROKEN ? 0 : fail(k);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	NEXT(send, send_fn);
	enum fault_kind k = fault_take(FAULT_SEND, fd, n >= 2);

	if (k == FAULT_NONE)
		return next_send(fd, buf, n, flags);
	if (k == FAULT_SHORT)
		return next_send(fd, buf, n / 2, flags);
	return fail(k);
}

static size_t iov_bytes(const struct msghdr *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->msg_iovlen; i++)
		n += m->msg_iov[i].iov_len;
	return n;
}

/* A short sendmsg: the first half of the bytes, the iovecs cut to fit. */
static ssize_t sendmsg_half(sendmsg_fn fn, int fd, const struct msghdr *m, int flags)
{
	struct iovec iov[64];
	struct msghdr h = *m;
	size_t want = iov_bytes(m) / 2, n = 0;

	for (h.msg_iovlen = 0; h.msg_iovlen < m->msg_iovlen && h.msg_iovlen < 64 && n < want;
	     h.msg_iovlen++) {
		iov[h.msg_iovlen] = m->msg_iov[h.msg_iovlen];
		if (iov[h.msg_iovlen].iov_len > want - n)
			iov[h.msg_iovlen].iov_len = want - n;
		n += iov[h.msg_iovlen].iov_len;
	}
	h.msg_iov = iov;
	return fn(fd, &h, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	NEXT(sendmsg, sendmsg_fn);
	enum fault_kind k = fault_take(FAULT_SENDMSG, fd, iov_bytes(msg) >= 2);

	if (k == FAULT_NONE)
		return next_sendmsg(fd, msg, flags);
	if (k == FAULT_SHORT)
		return sendmsg_half(next_sendmsg, fd, msg, flags);
	return fail(k);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	NEXT(accept4, accept4_fn);
	enum fault_kind k = fault_take(FAULT_ACCEPT, fd, false);
	int c;

	if (k == FAULT_NONE)
		return next_accept4(fd, addr, len, flags);
	if (k != FAULT_ECONNRESET)
		return (int)fail(k);
	/* the client went before it was accepted: it sees a reset */
	c = next_accept4(fd, addr, len, flags);
	if (c < 0)
		return c;
	setsockopt(c, SOL_SOCKET, SO_LINGER, &(struct linger){ .l_onoff = 1 },
		   sizeof(struct linger));
	close(c);
	errno = ECONNABORTED;
	return -1;
}

int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	NEXT(epoll_wait, epoll_wait_fn);
	enum fault_kind k = fault_take(FAULT_EPOLL_WAIT, epfd, max >= 2);

	switch (k) {
	case FAULT_NONE:
		return next_epoll_wait(epfd, evs, max, timeout);
	case FAULT_SHORT:
		return next_epoll_wait(epfd, evs, 1, timeout);
	case FAULT_EAGAIN:
		return 0; /* a spurious wake-up with nothing in it */
	default:
		errno = EINTR;
		return -1;
	}
}
