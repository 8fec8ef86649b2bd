/* SPDX-License-Identifier: MIT */
/* relay: the beat socket with SO_PASSCRED checks (see relay.h). */
#define _GNU_SOURCE
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vigil/agent.h>

#include "util.h"

int relay_parse(const uint8_t *d, size_t len, pid_t cred_pid, struct vigil_beat *out)
{
	uint32_t pid;
	uint16_t status;

	if (len != VIGIL_BEAT_DGRAM_LEN || vigil_le32(d) != VIGIL_BEAT_MAGIC ||
	    vigil_le16(d + 4) != VIGIL_BEAT_VERSION)
		return -EBADMSG;
	status = vigil_le16(d + 6);
	if (status > VIGIL_BEAT_STOPPING)
		return -EBADMSG;
	pid = vigil_le32(d + 8);
	if (pid < 2 || cred_pid <= 0 || pid != (uint32_t)cred_pid)
		return -EPERM;
	memset(out, 0, sizeof(*out));
	out->pid = pid;
	out->status = status;
	out->app_payload = vigil_le32(d + 12);
	out->nonce = vigil_le64(d + 16);
	out->deadline_ms = vigil_le32(d + 24);
	out->origin = VIGIL_ORIGIN_KERNEL_ATTESTED;
	return 0;
}

uint64_t relay_pidns(const char *proc, uint32_t pid)
{
	char path[64];
	size_t n = strlen(proc);
	struct stat st;

	if (n > 32)
		return 0;
	memcpy(path, proc, n);
	path[n++] = '/';
	n += util_fmt_u64(path + n, pid);
	memcpy(path + n, "/ns/pid", 8);
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

_Static_assert(RELAY_NS_CACHE == 1024, "pidns_cached hashes to 10 bits");

static uint64_t pidns_cached(struct relay *r, uint32_t pid, uint64_t now_ns)
{
	struct relay_ns *e = &r->ns[(pid * 0x9E3779B1u) >> 22]; /* 10 bits */

	if (e->pid == pid && now_ns < e->expires_ns)
		return e->inode;
	r->st.ns_lookups++;
	e->pid = pid;
	e->inode = relay_pidns(r->proc, pid);
	e->expires_ns = now_ns + RELAY_NS_TTL_NS;
	return e->inode;
}

static void pidns_forget(struct relay *r, uint32_t pid)
{
	struct relay_ns *e = &r->ns[(pid * 0x9E3779B1u) >> 22];

	if (e->pid == pid)
		e->expires_ns = 0;
}

/* The kernel's datagram queue length for new unix sockets; 0 when unknown. */
static uint32_t qlen_read(void)
{
	char buf[32];
	uint64_t v;
	int n = util_read_file(RELAY_QLEN_SYSCTL, buf, sizeof(buf));

	if (n <= 0)
		return 0;
	if (buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return util_parse_u64(buf, UINT32_MAX, &v) == 0 ? (uint32_t)v : 0;
}

static int qlen_write(uint32_t v)
{
	char buf[16];
	size_t n = util_fmt_u64(buf, v);
	_cleanup_close_ int fd = open(RELAY_QLEN_SYSCTL, O_WRONLY | O_CLOEXEC);

	buf[n++] = '\n';
	return fd >= 0 && write(fd, buf, n) == (ssize_t)n ? 0 : -1;
}

int relay_open(struct relay *r, const char *path, mode_t mode, relay_sink_fn sink, void *ctx)
{
	size_t len = strlen(path);
	uint32_t was;
	bool raised;
	int fd;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->proc = "/proc";
	r->sink = sink;
	r->ctx = ctx;
	if (len >= sizeof(r->path))
		return -ENAMETOOLONG;
	/* The queue length is taken from the sysctl when the socket is made. */
	was = qlen_read();
	raised = was && was < RELAY_QLEN_WANT && qlen_write(RELAY_QLEN_WANT) == 0;
	fd = util_unix_bind(path, SOCK_DGRAM, mode, 0, true);
	if (raised)
		qlen_write(was);
	r->qlen = raised ? RELAY_QLEN_WANT : was ? was : 10;
	if (fd < 0)
		return fd;
	memcpy(r->path, path, len + 1);
	r->fd = fd;
	return 0;
}

void relay_close(struct relay *r)
{
	if (r->fd >= 0) {
		close(r->fd);
		unlink(r->path);
	}
	r->fd = -1;
}

/* Static: the relay is one per process and these are 10 KiB. */
static uint8_t data[RELAY_BATCH][VIGIL_BEAT_DGRAM_LEN + 1];
static union {
	struct cmsghdr h;
	uint8_t b[CMSG_SPACE(sizeof(struct ucred))];
} cbuf[RELAY_BATCH];
/* Headers are set up once; only what the kernel changed is reset. */
static struct mmsghdr mm[RELAY_BATCH];
static struct iovec iov[RELAY_BATCH];
static int last = RELAY_BATCH - 1;

static void headers_reset(void)
{
	static bool ready;

	if (!ready) {
		for (int i = 0; i < RELAY_BATCH; i++) {
			iov[i].iov_base = data[i];
			iov[i].iov_len = sizeof(data[i]);
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = cbuf[i].b;
		}
		ready = true;
	}
	/* The kernel rewrites these two of the headers it filled last time. */
	for (int i = 0; i < RELAY_BATCH && i <= last; i++) {
		mm[i].msg_hdr.msg_controllen = sizeof(cbuf[i].b);
		mm[i].msg_hdr.msg_flags = 0;
	}
}

/* Datagram i of the batch: checked, and to the sink. 1 accepted, else 0. */
static int relay_one(struct relay *r, int i, uint64_t now_ns)
{
	struct msghdr *h = &mm[i].msg_hdr;
	struct ucred cred = { 0 };
	bool have = false;
	struct vigil_beat b;
	int e;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(cred))) {
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			have = true;
		}
	}
	if (!have) {
		r->st.rej_no_cred++;
		r->st.beats_rejected++;
		return 0;
	}
	e = (h->msg_flags & MSG_TRUNC) ? -EBADMSG
				       : relay_parse(data[i], mm[i].msg_len, cred.pid, &b);
	if (e < 0) {
		if (e == -EPERM)
			r->st.rej_pid++;
		else
			r->st.rej_shape++;
		r->st.beats_rejected++;
		return 0;
	}
	b.guest_mono_ns = now_ns;
	b.pidns_inode = pidns_cached(r, b.pid, now_ns);
	if (b.status == VIGIL_BEAT_STOPPING)
		pidns_forget(r, b.pid); /* its pid may be reused soon */
	r->st.beats_relayed++;
	if (r->sink)
		r->sink(r->ctx, &b);
	return 1;
}

/*
 * Up to RELAY_READ_BUDGET datagrams. to_end: until recvmmsg finds the
 * socket empty (-EBUSY when the budget ran out first); else a batch short
 * of RELAY_BATCH is taken to mean empty, saving that last call.
 */
static int relay_take(struct relay *r, uint64_t now_ns, bool to_end)
{
	int accepted = 0, total = 0;

	while (total < RELAY_READ_BUDGET) {
		int n;

		headers_reset();
		n = recvmmsg(r->fd, mm, RELAY_BATCH, MSG_DONTWAIT, NULL);
		last = n > 0 ? n - 1 : -1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? accepted : -errno;
		for (int i = 0; i < n; i++)
			accepted += relay_one(r, i, now_ns);
		total += n;
		if (n < RELAY_BATCH && !to_end)
			break;
	}
	return to_end && total >= RELAY_READ_BUDGET ? -EBUSY : accepted;
}

int relay_read(struct relay *r, uint64_t now_ns)
{
	return relay_take(r, now_ns, false);
}

int relay_drain(struct relay *r, uint64_t now_ns)
{
	return relay_take(r, now_ns, true);
}
