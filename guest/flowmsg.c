/* SPDX-License-Identifier: MIT */
/* flowmsg: sock_diag message parsing (see flowmsg.h). */
#include "flowmsg.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static void read_tcp_info(const uint8_t *p, size_t n, struct flowmsg *m)
{
	struct tcp_info ti;

	memset(&ti, 0, sizeof(ti));
	memcpy(&ti, p, n < sizeof(ti) ? n : sizeof(ti));
	m->f.bytes = ti.tcpi_bytes_acked + ti.tcpi_bytes_received;
	m->f.packets = ti.tcpi_segs_out + ti.tcpi_segs_in;
	m->info = true;
}

/* The attributes after the fixed part; *protocol may be set by one. */
static int read_attrs(const uint8_t *p, size_t len, size_t off, uint8_t *protocol,
		      struct flowmsg *m)
{
	const uint8_t *info = NULL;
	size_t info_len = 0;

	while (off + sizeof(struct rtattr) <= len) {
		struct rtattr a;

		memcpy(&a, p + off, sizeof(a));
		if (a.rta_len < sizeof(a) || a.rta_len > len - off)
			return -EBADMSG;
		if (a.rta_type == INET_DIAG_PROTOCOL && a.rta_len >= RTA_LENGTH(1)) {
			if (!*protocol)
				*protocol = p[off + RTA_LENGTH(0)];
		} else if (a.rta_type == INET_DIAG_INFO) {
			info = p + off + RTA_LENGTH(0);
			info_len = a.rta_len - RTA_LENGTH(0);
		}
		off += RTA_ALIGN(a.rta_len);
	}
	if (info && *protocol == IPPROTO_TCP)
		read_tcp_info(info, info_len, m);
	return 0;
}

int flowmsg_parse(const uint8_t *p, size_t len, uint8_t protocol, struct flowmsg *m)
{
	struct inet_diag_msg d;

	if (len < sizeof(d))
		return -EBADMSG;
	memcpy(&d, p, sizeof(d));
	if (d.idiag_family != AF_INET && d.idiag_family != AF_INET6)
		return -EBADMSG;
	memset(m, 0, sizeof(*m));
	if (read_attrs(p, len, NLMSG_ALIGN(sizeof(d)), &protocol, m) < 0)
		return -EBADMSG;
	if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP)
		return -EBADMSG;
	m->f.family = d.idiag_family == AF_INET ? 4 : 6;
	m->f.protocol = protocol;
	m->f.src_port = ntohs(d.id.idiag_sport);
	m->f.dst_port = ntohs(d.id.idiag_dport);
	memcpy(m->f.src_addr, d.id.idiag_src, m->f.family == 4 ? 4 : 16);
	memcpy(m->f.dst_addr, d.id.idiag_dst, m->f.family == 4 ? 4 : 16);
	m->cookie = (uint64_t)d.id.idiag_cookie[0] | ((uint64_t)d.id.idiag_cookie[1] << 32);
	m->inode = d.idiag_inode;
	m->state = d.idiag_state;
	return 0;
}

/* NLMSG_ERROR's errno: negative, or -EPROTO when the message is cut. */
static int error_of(const uint8_t *p, size_t len)
{
	struct nlmsgerr e;

	if (len < sizeof(e))
		return -EPROTO;
	memcpy(&e, p, sizeof(e));
	if (e.error >= 0)
		return e.error ? -EPROTO : 0; /* 0: an ACK */
	return e.error < -4095 ? -EPROTO : e.error;
}

void flowmsg_walk(const uint8_t *buf, size_t len, uint8_t protocol, flowmsg_fn fn, void *ctx,
		  struct flowmsg_walk *w)
{
	size_t off = 0;

	memset(w, 0, sizeof(*w));
	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		struct flowmsg m;
		const uint8_t *pl = buf + off + NLMSG_HDRLEN;

		memcpy(&h, buf + off, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off) {
			w->bad++;
			return;
		}
		if (h.nlmsg_type == NLMSG_DONE) {
			w->done = true;
			return;
		}
		if (h.nlmsg_type == NLMSG_ERROR) {
			w->error = error_of(pl, h.nlmsg_len - NLMSG_HDRLEN);
			w->done = w->error == 0; /* an ACK also ends a request */
			return;
		}
		if (h.nlmsg_type != SOCK_DIAG_BY_FAMILY)
			w->other++;
		else if (flowmsg_parse(pl, h.nlmsg_len - NLMSG_HDRLEN, protocol, &m) < 0)
			w->bad++;
		else {
			w->sockets++;
			fn(ctx, &m);
		}
		if (NLMSG_ALIGN(h.nlmsg_len) >= len - off)
			return;
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	if (off < len)
		w->bad++; /* a tail too short for a header */
}
