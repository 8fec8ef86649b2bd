/* SPDX-License-Identifier: MIT */
/*
 * vigil-fuzz-seeds (see seeds.h): sock_diag datagrams as the kernel sends them,
 * for fuzz-agent-flows. A destroy notification is a SOCK_DIAG_BY_FAMILY
 * message (struct inet_diag_msg, inode 0) with INET_DIAG_PROTOCOL and, for
 * TCP, INET_DIAG_INFO (the final struct tcp_info); a dump reply is the
 * same without INET_DIAG_PROTOCOL, ended by NLMSG_DONE. The target reads
 * each datagram as notifications into an empty table and, after a dump of
 * the same bytes, into a table that holds its sockets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "seeds.h"

#define TCP_ESTABLISHED_ST 1
#define TCP_LISTEN_ST      10
#define UDP_UNCONN_ST      7

struct sock_desc {
	uint8_t family; /* AF_INET, AF_INET6 */
	uint8_t protocol;
	uint8_t state;
	uint16_t sport, dport;
	uint8_t last; /* last byte of both addresses: 10.0.2.x, fd00::x */
	uint64_t cookie;
	uint32_t inode;    /* 0 in notifications */
	bool notify;       /* INET_DIAG_PROTOCOL: a destroy notification */
	uint32_t info_len; /* INET_DIAG_INFO bytes (TCP), 0 for none */
	uint64_t bytes;    /* tcp_info bytes_acked + bytes_received */
	uint32_t packets;  /* tcp_info segs_out + segs_in */
};

static void put_attr(struct seed *s, uint16_t type, const void *d, size_t n)
{
	static const uint8_t pad[4];
	struct rtattr a = { .rta_len = (unsigned short)RTA_LENGTH(n), .rta_type = type };

	seed_put(s, &a, sizeof(a));
	seed_put(s, d, n);
	seed_put(s, pad, RTA_ALIGN(a.rta_len) - a.rta_len);
}

static void put_sock(struct seed *s, const struct sock_desc *d)
{
	struct nlmsghdr h = { .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_MULTI };
	struct inet_diag_msg m = { .idiag_family = d->family, .idiag_state = d->state };
	struct tcp_info ti;
	size_t start = s->len;

	m.id.idiag_sport = htons(d->sport);
	m.id.idiag_dport = htons(d->dport);
	if (d->family == AF_INET) {
		m.id.idiag_src[0] = htonl(0x0a000200u | d->last);
		m.id.idiag_dst[0] = d->dport ? htonl(0x0a000202u) : 0;
	} else {
		m.id.idiag_src[0] = htonl(0xfd000000u);
		m.id.idiag_src[3] = htonl(d->last);
		m.id.idiag_dst[0] = d->dport ? htonl(0xfd000000u) : 0;
		m.id.idiag_dst[3] = d->dport ? htonl(2) : 0;
	}
	m.id.idiag_cookie[0] = (uint32_t)d->cookie;
	m.id.idiag_cookie[1] = (uint32_t)(d->cookie >> 32);
	m.idiag_inode = d->inode;
	seed_put(s, &h, sizeof(h));
	seed_put(s, &m, sizeof(m));
	if (d->notify)
		put_attr(s, INET_DIAG_PROTOCOL, &d->protocol, 1);
	if (d->info_len) {
		memset(&ti, 0, sizeof(ti));
		ti.tcpi_state = d->state;
		ti.tcpi_bytes_acked = d->bytes / 2;
		ti.tcpi_bytes_received = d->bytes - d->bytes / 2;
		ti.tcpi_segs_out = d->packets / 2;
		ti.tcpi_segs_in = d->packets - d->packets / 2;
		put_attr(s, INET_DIAG_INFO, &ti,
			 d->info_len < sizeof(ti) ? d->info_len : sizeof(ti));
	}
	h.nlmsg_len = (uint32_t)(s->len - start);
	memcpy(s->p + start, &h, sizeof(h));
}

static void put_ctl(struct seed *s, uint16_t type, int error)
{
	struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = NLM_F_MULTI };
	struct nlmsgerr e = { .error = error };

	h.nlmsg_len = NLMSG_LENGTH(type == NLMSG_ERROR ? sizeof(e) : sizeof(int));
	seed_put(s, &h, sizeof(h));
	if (type == NLMSG_ERROR)
		seed_put(s, &e, sizeof(e));
	else
		seed_put(s, &error, sizeof(int));
}

static const struct sock_desc tcp4 = {
	.family = AF_INET,
	.protocol = IPPROTO_TCP,
	.state = TCP_ESTABLISHED_ST,
	.sport = 41000,
	.dport = 443,
	.last = 15,
	.cookie = 0x1000,
	.notify = true,
	.info_len = sizeof(struct tcp_info),
	.bytes = 81234,
	.packets = 120,
};

/* One datagram of notifications: TCP and UDP, both families, the states
 * that are not flows, a tcp_info of an older kernel (shorter). */
static void mixed(struct seed *s, bool notify)
{
	struct sock_desc d = tcp4;

	d.notify = notify;
	put_sock(s, &d);
	d.family = AF_INET6;
	d.cookie++;
	d.sport++;
	d.info_len = 104; /* a 4.x kernel's shorter tcp_info */
	put_sock(s, &d);
	d.state = TCP_LISTEN_ST; /* never connected */
	d.dport = 0;
	d.cookie++;
	d.info_len = 0;
	put_sock(s, &d);
	d = (struct sock_desc){ .family = AF_INET,
				.protocol = IPPROTO_UDP,
				.state = 1,
				.sport = 53000,
				.dport = 53,
				.last = 15,
				.cookie = 0x2000,
				.notify = notify };
	put_sock(s, &d);
	d.family = AF_INET6;
	d.state = UDP_UNCONN_ST;
	d.dport = 0;
	d.cookie++;
	put_sock(s, &d);
}

void seeds_agent_flows(void)
{
	struct seed s = { 0 };
	struct sock_desc d = tcp4;

	mixed(&s, true);
	seed_write("agent-flows", "destroy-mixed", &s);

	for (int i = 0; i < 40; i++) { /* 80 records: a full FLOW batch and more */
		d.cookie = 0x3000u + (unsigned)i;
		d.sport = (uint16_t)(42000 + i);
		d.info_len = i % 3 ? sizeof(struct tcp_info) : 0;
		put_sock(&s, &d);
	}
	seed_write("agent-flows", "destroy-batch", &s);

	d = tcp4;
	put_sock(&s, &d);
	put_sock(&s, &d); /* the same socket told twice */
	d.cookie = 0;
	d.sport++;
	put_sock(&s, &d);
	put_sock(&s, &d); /* cookie 0: not a cookie to remember */
	seed_write("agent-flows", "destroy-twice", &s);

	mixed(&s, false);
	d = tcp4;
	d.notify = false;
	d.inode = 31337;
	put_sock(&s, &d);
	put_ctl(&s, NLMSG_DONE, 0);
	seed_write("agent-flows", "dump-done", &s);

	mixed(&s, false);
	put_ctl(&s, NLMSG_ERROR, -EPERM);
	seed_write("agent-flows", "dump-error", &s);
	free(s.p);
}
