/* SPDX-License-Identifier: MIT */
/* Helpers shared by the agent's modules (see util.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441 /* the same on every architecture (musl may lack it) */
#endif

size_t util_fmt_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

int util_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int util_parse_ms(const char *s, uint64_t *out_ms)
{
	char num[24];
	size_t n = 0;
	uint64_t v, mult = 1;

	if (!s)
		return -EINVAL;
	while (s[n] >= '0' && s[n] <= '9' && n < sizeof(num) - 1) {
		num[n] = s[n];
		n++;
	}
	num[n] = '\0';
	if (!strcmp(s + n, "") || !strcmp(s + n, "ms"))
		mult = 1;
	else if (!strcmp(s + n, "s"))
		mult = 1000;
	else if (!strcmp(s + n, "m"))
		mult = 60000;
	else
		return -EINVAL;
	if (util_parse_u64(num, UINT64_MAX / 60000, &v) < 0)
		return -EINVAL;
	*out_ms = v * mult;
	return 0;
}

int util_read_file(const char *path, char *buf, size_t cap)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	if (fd < 0)
		return -errno;
	if (cap == 0)
		return -ENOBUFS;
	while (n < cap - 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return (int)n;
}

int util_mkdir_p(const char *path, unsigned mode)
{
	char tmp[256];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = i == len ? '\0' : '/';
	}
	return 0;
}

int util_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int util_unix_bind(const char *path, int type, unsigned mode, int backlog, bool passcred)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	char dir[sizeof(sa.sun_path)];
	char *slash;
	int one = 1, fd, e;

	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(dir, path, len + 1);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		e = util_mkdir_p(dir, 0755);
		if (e < 0)
			return e;
	}
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (passcred && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	memcpy(sa.sun_path, path, len);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, (mode_t)mode) < 0 ||
	    (type == SOCK_STREAM && listen(fd, backlog) < 0)) {
		e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int util_epoll_wait_ns(int ep, struct epoll_event *ev, int max, int64_t timeout_ns)
{
	static bool no_pwait2;
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / (int64_t)NSEC_PER_SEC),
			       .tv_nsec = (long)(timeout_ns % (int64_t)NSEC_PER_SEC) };
	long n;

	if (!no_pwait2) {
		n = syscall(SYS_epoll_pwait2, ep, ev, max, timeout_ns < 0 ? NULL : &ts, NULL, 8);
		if (n >= 0 || errno != ENOSYS)
			return (int)n;
		no_pwait2 = true;
	}
	if (timeout_ns < 0)
		return epoll_wait(ep, ev, max, -1);
	if (timeout_ns > (int64_t)INT32_MAX * (int64_t)NSEC_PER_MSEC)
		timeout_ns = (int64_t)INT32_MAX * (int64_t)NSEC_PER_MSEC;
	return epoll_wait(
	    ep, ev, max, (int)((timeout_ns + (int64_t)NSEC_PER_MSEC - 1) / (int64_t)NSEC_PER_MSEC));
}
