/* SPDX-License-Identifier: MIT */
/* outq: a bounded, non-blocking writer drained by the loop (see outq.h). */
#include "outq.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum outq_mode {
	OUTQ_FILE = 0, /* a regular file (or anything epoll cannot watch): plain writes */
	OUTQ_FD,       /* our own non-blocking description */
	OUTQ_SOCKET,   /* send with MSG_DONTWAIT */
};

struct vigil_outq {
	struct vigil_loop *loop;
	enum outq_mode mode;
	int fd;     /* what we write to */
	bool owned; /* fd is our reopened description */
	struct vigil_source *src;
	uint8_t *buf; /* VIGIL_OUTQ_MAX bytes: [off, len) pending, compacted on demand */
	size_t off, len;
	bool dead; /* the reader went away */
	void (*on_drain)(void *ctx);
	void *drain_ctx;
	struct vigil_outq_stats st;
};

static ssize_t raw_write(struct vigil_outq *q, const void *d, size_t n)
{
	if (q->mode == OUTQ_SOCKET)
		return send(q->fd, d, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	return write(q->fd, d, n);
}

/* Write what the fd takes. 0, or -EPIPE when the reader went away. */
static int push(struct vigil_outq *q)
{
	while (q->len > q->off) {
		ssize_t n = raw_write(q, q->buf + q->off, q->len - q->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			q->dead = true;
			q->st.errors++;
			q->off = q->len = 0;
			return -EPIPE;
		}
		q->off += (size_t)n;
		q->st.bytes += (uint64_t)n;
	}
	if (q->off == q->len)
		q->off = q->len = 0;
	return 0;
}

static void sync_events(struct vigil_outq *q)
{
	if (q->src)
		vigil_source_set_events(q->src, q->len > q->off ? EPOLLOUT : 0);
}

static int ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct vigil_outq *q = ctx;
	bool was = vigil_outq_backlogged(q);

	(void)s;
	(void)fd;
	(void)events;
	push(q);
	sync_events(q);
	if (was && !vigil_outq_backlogged(q) && q->on_drain)
		q->on_drain(q->drain_ctx);
	return 0;
}

/* Our own non-blocking description of fd, or a mode that needs none. */
static int open_mode(struct vigil_outq *q, int fd)
{
	struct stat st;
	char path[64];
	int nfd;

	q->fd = fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		q->mode = OUTQ_FILE;
		return 0;
	}
	if (S_ISSOCK(st.st_mode)) {
		q->mode = OUTQ_SOCKET;
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (nfd < 0) {
		q->mode = OUTQ_FILE; /* cannot reopen: blocking writes, as a file */
		return 0;
	}
	q->mode = OUTQ_FD;
	q->fd = nfd;
	q->owned = true;
	return 0;
}

int vigil_outq_new(struct vigil_loop *l, int fd, const char *name, struct vigil_outq **out)
{
	struct vigil_outq *q = calloc(1, sizeof(*q));
	int e;

	if (!q)
		return -ENOMEM;
	q->loop = l;
	q->buf = malloc(VIGIL_OUTQ_MAX);
	e = q->buf ? open_mode(q, fd) : -ENOMEM;
	if (e == 0 && q->mode != OUTQ_FILE)
		e = vigil_source_add(l, q->fd, 0, 0, ready, q, name, &q->src);
	if (e < 0) {
		vigil_outq_free(q);
		return e;
	}
	*out = q;
	return 0;
}

/* Room for len more bytes; the buffer is VIGIL_OUTQ_MAX from the start
 * (pages are committed only when a backlog first reaches them), so a put
 * never allocates. */
static int reserve(struct vigil_outq *q, size_t len)
{
	if (q->len + len <= VIGIL_OUTQ_MAX)
		return 0;
	if (q->off) { /* compact only when the tail is full: O(1) amortised */
		memmove(q->buf, q->buf + q->off, q->len - q->off);
		q->len -= q->off;
		q->off = 0;
	}
	return q->len + len <= VIGIL_OUTQ_MAX ? 0 : -ENOBUFS;
}

int vigil_outq_put(struct vigil_outq *q, const void *data, size_t len)
{
	if (q->dead)
		return -EPIPE;
	if (q->len == q->off && q->mode != OUTQ_FILE) {
		/* nothing waiting: try the fd first, queue only the rest */
		ssize_t n = raw_write(q, data, len);
		if (n > 0) {
			q->st.bytes += (uint64_t)n;
			data = (const uint8_t *)data + n;
			len -= (size_t)n;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			q->dead = true;
			q->st.errors++;
			return -EPIPE;
		}
	}
	if (len == 0)
		return 0;
	if (reserve(q, len) < 0) {
		q->st.refused += len;
		return -ENOBUFS;
	}
	memcpy(q->buf + q->len, data, len);
	q->len += len;
	if (q->mode == OUTQ_FILE)
		return push(q);
	if (q->len - q->off > q->st.queued_max)
		q->st.queued_max = q->len - q->off;
	sync_events(q);
	return 0;
}

bool vigil_outq_backlogged(const struct vigil_outq *q)
{
	return q && q->len - q->off > VIGIL_OUTQ_HIGH;
}

size_t vigil_outq_pending(const struct vigil_outq *q)
{
	return q ? q->len - q->off : 0;
}

void vigil_outq_on_drain(struct vigil_outq *q, void (*fn)(void *ctx), void *ctx)
{
	q->on_drain = fn;
	q->drain_ctx = ctx;
}

int vigil_outq_flush(struct vigil_outq *q, int timeout_ms)
{
	uint64_t end = vigil_loop_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	while (q->len > q->off && !q->dead) {
		struct pollfd p = { .fd = q->fd, .events = POLLOUT };
		uint64_t now = vigil_loop_now_ns();
		if (now >= end)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)((end - now) / 1000000ull) + 1) < 0 && errno != EINTR)
			return -errno;
		push(q);
	}
	sync_events(q);
	return q->dead ? -EPIPE : 0;
}

void vigil_outq_stats(const struct vigil_outq *q, struct vigil_outq_stats *out)
{
	*out = q->st;
}

void vigil_outq_free(struct vigil_outq *q)
{
	if (!q)
		return;
	if (q->len > q->off && !q->dead)
		push(q);
	vigil_source_free(q->src);
	if (q->owned)
		close(q->fd);
	free(q->buf);
	free(q);
}
