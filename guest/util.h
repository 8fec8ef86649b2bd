/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the agent's modules: clocks, fd flags, decimal
 * formatting without stdio (per-beat paths format /proc paths with it) and
 * the cleanup attribute. No state.
 */
#ifndef VIGIL_GUEST_UTIL_H
#define VIGIL_GUEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC  1000000000ull

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(closep)))

static inline int take_fd(int *fd)
{
	int r = *fd;

	*fd = -1;
	return r;
}

/* Write the decimal form of v at p (no terminator); returns its length (<= 20). */
size_t util_fmt_u64(char *p, uint64_t v);
/* Parse an unsigned decimal; 0 or -EINVAL (empty, junk, over max). */
int util_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* Parse a duration "250ms", "2s", "1500" (ms); 0 or -EINVAL. */
int util_parse_ms(const char *s, uint64_t *out_ms);
/* Read a small file into buf (terminated); bytes read or -errno. */
int util_read_file(const char *path, char *buf, size_t cap);
/* mkdir -p with mode for every missing component; 0 or -errno. */
int util_mkdir_p(const char *path, unsigned mode);
/*
 * A non-blocking, close-on-exec unix socket of `type` bound at path with the
 * given mode; its directory is created (0755) if missing and a stale socket
 * file is replaced. SOCK_STREAM sockets also listen (backlog). With
 * passcred, SO_PASSCRED is on before the socket is reachable, so no message
 * arrives without credentials. Returns the fd or a negative errno.
 */
int util_unix_bind(const char *path, int type, unsigned mode, int backlog, bool passcred);
/*
 * epoll_wait with a timeout in ns (< 0: none), through epoll_pwait2 (Linux
 * 5.11) so that sub-millisecond deadlines (beat windows, pace.h) are kept;
 * on older kernels, epoll_wait with the timeout rounded up to a ms.
 * Returns as epoll_wait does.
 */
struct epoll_event;
int util_epoll_wait_ns(int ep, struct epoll_event *ev, int max, int64_t timeout_ns);
/* write() all of buf on a blocking fd; 0 or -errno. */
int util_write_all(int fd, const void *buf, size_t len);

#endif
