/* SPDX-License-Identifier: MIT */
/* ctl: control socket server and client (see ctl.h). */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

int ctl_open(struct ctl *s, const char *path, mode_t mode)
{
	size_t len = strlen(path);
	int fd;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	for (int i = 0; i < CTL_MAX_CONN; i++)
		s->conn[i].fd = -1;
	if (len >= sizeof(s->path))
		return -ENAMETOOLONG;
	fd = util_unix_bind(path, SOCK_STREAM, mode, CTL_MAX_CONN, false);
	if (fd < 0)
		return fd;
	memcpy(s->path, path, len + 1);
	s->fd = fd;
	return 0;
}

void ctl_drop(struct ctl *s, int i)
{
	if (s->conn[i].fd >= 0)
		close(s->conn[i].fd);
	s->conn[i].fd = -1;
	s->conn[i].len = 0;
	s->conn[i].snap_id = 0;
}

void ctl_close(struct ctl *s)
{
	for (int i = 0; i < CTL_MAX_CONN; i++)
		ctl_drop(s, i);
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	s->fd = -1;
}

int ctl_accept(struct ctl *s)
{
	int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	for (int i = 0; i < CTL_MAX_CONN; i++) {
		if (s->conn[i].fd < 0) {
			s->conn[i].fd = fd;
			s->conn[i].len = 0;
			s->conn[i].snap_id = 0;
			return i;
		}
	}
	s->st.refused++;
	close(fd);
	return -EMFILE;
}

static void reply(int fd, int32_t status, const char *detail, size_t n)
{
	uint8_t buf[10 + CTL_DETAIL_MAX];

	if (n > CTL_DETAIL_MAX)
		n = CTL_DETAIL_MAX;
	vigil_put32(buf, (uint32_t)(6 + n));
	vigil_put32(buf + 4, (uint32_t)status);
	vigil_put16(buf + 8, (uint16_t)n);
	memcpy(buf + 10, detail, n);
	/* A client that does not read its one small reply loses it. */
	if (send(fd, buf, 10 + n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return;
}

static bool allowed(uint16_t type)
{
	switch (type) {
	case VIGIL_MSG_SCENARIO_START:
	case VIGIL_MSG_SCENARIO_PAUSE:
	case VIGIL_MSG_SCENARIO_RESUME:
	case VIGIL_MSG_SCENARIO_END:
	case VIGIL_MSG_SCHED_EXIT:
	case VIGIL_MSG_TEST_RESULT:
	case VIGIL_MSG_SNAPSHOT_REQUEST:
		return true;
	default:
		return false;
	}
}

static int snap_waiting(const struct ctl *s)
{
	int n = 0;

	for (int i = 0; i < CTL_MAX_CONN; i++)
		n += s->conn[i].fd >= 0 && s->conn[i].snap_id;
	return n;
}

/* Handle one complete request in conn i. */
static void handle(struct ctl *s, int i, uint16_t type, uint8_t *p, uint32_t len, struct chan *c)
{
	struct ctl_conn *k = &s->conn[i];
	int e;

	s->st.requests++;
	if (!allowed(type) || vigil_payload_check(type, p, len) < 0) {
		s->st.rejected++;
		reply(k->fd, -EINVAL, "request not allowed or malformed", 32);
		return;
	}
	if (type == VIGIL_MSG_SNAPSHOT_REQUEST) {
		if (k->snap_id || snap_waiting(s) >= CTL_MAX_SNAP) {
			reply(k->fd, -EBUSY, "too many snapshots waiting", 26);
			return;
		}
		if (++s->next_id == 0)
			s->next_id = 1;
		vigil_put32(p, s->next_id);
	}
	e = chan_push(c, CHAN_Q_CTL_EXT, type, p, len, false);
	if (e < 0) {
		reply(k->fd, e, "agent queue full", 16);
		return;
	}
	if (type == VIGIL_MSG_SNAPSHOT_REQUEST)
		k->snap_id = s->next_id;
	else
		reply(k->fd, 0, "", 0);
}

int ctl_serve(struct ctl *s, int i, struct chan *c)
{
	struct ctl_conn *k = &s->conn[i];

	for (;;) {
		ssize_t n = recv(k->fd, k->buf + k->len, CTL_REQ_MAX - k->len, MSG_DONTWAIT);
		uint32_t need;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			ctl_drop(s, i);
			return -EPIPE;
		}
		k->len += (uint32_t)n;
		while (k->len >= 8) {
			need = vigil_le32(k->buf);
			if (need < 4 || need > CTL_REQ_MAX - 4) {
				s->st.rejected++;
				reply(k->fd, -EMSGSIZE, "request too large", 17);
				ctl_drop(s, i);
				return -EPIPE;
			}
			if (k->len < 4 + need)
				break;
			handle(s, i, vigil_le16(k->buf + 4), k->buf + 8, need - 4, c);
			memmove(k->buf, k->buf + 4 + need, k->len - 4 - need);
			k->len -= 4 + need;
		}
	}
}

int ctl_snapshot_reply(struct ctl *s, const struct vigil_snapshot_reply *r)
{
	for (int i = 0; i < CTL_MAX_CONN; i++) {
		struct ctl_conn *k = &s->conn[i];

		if (k->fd >= 0 && k->snap_id == r->request_id) {
			reply(k->fd, r->status, r->detail.ptr, r->detail.len);
			k->snap_id = 0;
			return 1;
		}
	}
	s->st.stale_replies++;
	return 0;
}

int ctl_call(const char *path, uint16_t type, const uint8_t *payload, uint32_t len, int timeout_ms,
	     char *detail, size_t detail_cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t hdr[8], rbuf[10 + CTL_DETAIL_MAX];
	size_t got = 0, plen = strlen(path);
	uint64_t deadline = mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	_cleanup_close_ int fd = -1;
	uint16_t n;
	int e;

	if (detail_cap)
		detail[0] = '\0';
	if (plen >= sizeof(sa.sun_path) || len > CTL_REQ_MAX - 8)
		return -EINVAL;
	memcpy(sa.sun_path, path, plen);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	vigil_put32(hdr, len + 4);
	vigil_put16(hdr + 4, type);
	vigil_put16(hdr + 6, 0);
	e = util_write_all(fd, hdr, sizeof(hdr));
	if (e == 0 && len)
		e = util_write_all(fd, payload, len);
	if (e < 0)
		return e;
	while (got < 10 || got < 4 + (size_t)vigil_le32(rbuf)) {
		uint64_t now = mono_ns();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (now >= deadline)
			return -ETIMEDOUT;
		e = poll(&p, 1, (int)((deadline - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC));
		if (e < 0 && errno == EINTR)
			continue;
		if (e < 0)
			return -errno;
		if (e == 0)
			return -ETIMEDOUT;
		r = read(fd, rbuf + got, sizeof(rbuf) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ECONNRESET;
		got += (size_t)r;
		if (got >= 4 && (vigil_le32(rbuf) < 6 || vigil_le32(rbuf) > 6 + CTL_DETAIL_MAX))
			return -EBADMSG;
	}
	n = vigil_le16(rbuf + 8);
	if ((size_t)n + 6 > vigil_le32(rbuf))
		return -EBADMSG;
	if (detail_cap) {
		size_t m = n < detail_cap - 1 ? n : detail_cap - 1;

		memcpy(detail, rbuf + 10, m);
		detail[m] = '\0';
	}
	return (int32_t)vigil_le32(rbuf + 4);
}
