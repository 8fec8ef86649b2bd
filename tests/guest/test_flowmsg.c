/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/flowmsg.c over fake netlink streams: one test per message
 * kind the agent reads (dump reply, TCP and UDP destroy notifications,
 * NLMSG_DONE, NLMSG_ERROR, other types) and the boundaries of each length
 * the kernel sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "flowmsg.h"

/* A datagram being built. */
struct dg {
	uint8_t b[4096] __attribute__((aligned(8)));
	size_t len;
	size_t msg; /* offset of the message being built */
};

static void begin(struct dg *d, uint16_t type)
{
	struct nlmsghdr h = { .nlmsg_type = type };

	d->msg = d->len;
	memcpy(d->b + d->len, &h, sizeof(h));
	d->len += NLMSG_HDRLEN;
}

static void put(struct dg *d, const void *p, size_t n)
{
	memcpy(d->b + d->len, p, n);
	d->len += NLMSG_ALIGN(n);
}

static void attr(struct dg *d, uint16_t type, const void *p, size_t n)
{
	struct rtattr a = { .rta_len = (unsigned short)RTA_LENGTH(n), .rta_type = type };

	memcpy(d->b + d->len, &a, sizeof(a));
	memcpy(d->b + d->len + RTA_LENGTH(0), p, n);
	d->len += RTA_ALIGN(a.rta_len);
}

static void end(struct dg *d)
{
	struct nlmsghdr h;

	memcpy(&h, d->b + d->msg, sizeof(h));
	h.nlmsg_len = (uint32_t)(d->len - d->msg);
	memcpy(d->b + d->msg, &h, sizeof(h));
}

/* An inet_diag_msg: 127.0.0.1:sport -> 127.0.0.1:dport, or ::1 for family 6. */
static struct inet_diag_msg diag(int fam, uint16_t sport, uint16_t dport, uint8_t state,
				 uint64_t cookie, uint32_t inode)
{
	struct inet_diag_msg m;

	memset(&m, 0, sizeof(m));
	m.idiag_family = (uint8_t)fam;
	m.idiag_state = state;
	m.id.idiag_sport = htons(sport);
	m.id.idiag_dport = htons(dport);
	if (fam == AF_INET) {
		m.id.idiag_src[0] = htonl(INADDR_LOOPBACK);
		m.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
	} else {
		m.id.idiag_src[3] = htonl(1);
		m.id.idiag_dst[3] = htonl(1);
	}
	m.id.idiag_cookie[0] = (uint32_t)cookie;
	m.id.idiag_cookie[1] = (uint32_t)(cookie >> 32);
	m.idiag_inode = inode;
	return m;
}

static struct tcp_info tinfo(uint64_t acked, uint64_t rcvd, uint32_t out, uint32_t in)
{
	struct tcp_info t;

	memset(&t, 0, sizeof(t));
	t.tcpi_bytes_acked = acked;
	t.tcpi_bytes_received = rcvd;
	t.tcpi_segs_out = out;
	t.tcpi_segs_in = in;
	return t;
}

struct seen {
	struct flowmsg m[8];
	int n;
};

static void collect(void *ctx, const struct flowmsg *m)
{
	struct seen *s = ctx;

	if (s->n < 8)
		s->m[s->n++] = *m;
}

static void walk(const struct dg *d, uint8_t proto, struct seen *s, struct flowmsg_walk *w)
{
	memset(s, 0, sizeof(*s));
	flowmsg_walk(d->b, d->len, proto, collect, s, w);
}

/* A dump reply: TCP over IPv4 with tcp_info, the protocol from the request. */
static void test_dump_reply(void **state)
{
	struct dg d = { .len = 0 };
	struct inet_diag_msg m = diag(AF_INET, 40000, 8080, 1, 0x1122334455667788ull, 4242);
	struct tcp_info t = tinfo(100, 50, 3, 4);
	struct flowmsg_walk w;
	struct seen s;

	(void)state;
	begin(&d, SOCK_DIAG_BY_FAMILY);
	put(&d, &m, sizeof(m));
	attr(&d, INET_DIAG_INFO, &t, sizeof(t));
	end(&d);
	walk(&d, IPPROTO_TCP, &s, &w);
	assert_int_equal(w.sockets, 1);
	assert_int_equal(w.bad, 0);
	assert_false(w.done);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.m[0].f.family, 4);
	assert_int_equal(s.m[0].f.protocol, 6);
	assert_int_equal(s.m[0].f.src_port, 40000);
	assert_int_equal(s.m[0].f.dst_port, 8080);
	assert_int_equal(s.m[0].f.src_addr[0], 127);
	assert_int_equal(s.m[0].f.src_addr[3], 1);
	assert_int_equal(s.m[0].f.dst_addr[4], 0); /* IPv4: bytes 4..15 zero */
	assert_int_equal(s.m[0].f.bytes, 150);
	assert_int_equal(s.m[0].f.packets, 7);
	assert_int_equal(s.m[0].cookie, 0x1122334455667788ull);
	assert_int_equal(s.m[0].inode, 4242);
	assert_int_equal(s.m[0].state, 1);
	assert_true(s.m[0].info);
}

/* A TCP destroy notification over IPv6: the protocol comes from its attribute. */
static void test_destroy_tcp6(void **state)
{
	struct dg d = { .len = 0 };
	struct inet_diag_msg m = diag(AF_INET6, 5555, 41000, 7, 99, 0);
	struct tcp_info t = tinfo(7, 9, 5, 6);
	uint8_t proto = IPPROTO_TCP;
	struct flowmsg_walk w;
	struct seen s;

	(void)state;
	begin(&d, SOCK_DIAG_BY_FAMILY);
	put(&d, &m, sizeof(m));
	attr(&d, INET_DIAG_PROTOCOL, &proto, 1);
	attr(&d, INET_DIAG_INFO, &t, sizeof(t));
	end(&d);
	walk(&d, 0, &s, &w);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.m[0].f.family, 6);
	assert_int_equal(s.m[0].f.protocol, 6);
	assert_int_equal(s.m[0].f.src_addr[15], 1);
	assert_int_equal(s.m[0].f.dst_addr[15], 1);
	assert_int_equal(s.m[0].f.bytes, 16);
	assert_int_equal(s.m[0].f.packets, 11);
	assert_int_equal(s.m[0].state, 7);

	/* Without the attribute a notification names no protocol: malformed. */
	d.len = 0;
	begin(&d, SOCK_DIAG_BY_FAMILY);
	put(&d, &m, sizeof(m));
	end(&d);
	walk(&d, 0, &s, &w);
	assert_int_equal(s.n, 0);
	assert_int_equal(w.bad, 1);
}

/* A UDP destroy notification: no tcp_info, so no counts from sock_diag. */
static void test_destroy_udp(void **state)
{
	struct dg d = { .len = 0 };
	struct inet_diag_msg m = diag(AF_INET, 33000, 53, 1, 5, 0);
	struct tcp_info t = tinfo(1000, 1000, 1, 1);
	uint8_t proto = IPPROTO_UDP;
	struct flowmsg_walk w;
	struct seen s;

	(void)state;
	begin(&d, SOCK_DIAG_BY_FAMILY);
	put(&d, &m, sizeof(m));
	attr(&d, INET_DIAG_PROTOCOL, &proto, 1);
	attr(&d, INET_DIAG_INFO, &t, sizeof(t)); /* not tcp_info for UDP: ignored */
	end(&d);
	walk(&d, 0, &s, &w);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.m[0].f.protocol, 17);
	assert_int_equal(s.m[0].f.dst_port, 53);
	assert_int_equal(s.m[0].f.bytes, 0);
	assert_false(s.m[0].info);

	/* Another protocol (raw, ICMP) is not one the agent reports. */
	proto = IPPROTO_ICMP;
	d.len = 0;
	begin(&d, SOCK_DIAG_BY_FAMILY);
	put(&d, &m, sizeof(m));
	attr(&d, INET_DIAG_PROTOCOL, &proto, 1);
	end(&d);
	walk(&d, 0, &s, &w);
	assert_int_equal(w.bad, 1);
}

/* NLMSG_DONE ends a dump; messages before it in the datagram are read. */
static void test_done(void **state)
{
	struct dg d = { .len = 0 };
	struct inet_diag_msg m = diag(AF_INET, 1, 2, 1, 1, 0);
	int zero = 0;
	struct flowmsg_walk w;
	struct seen s;

	(void)state;
	for (int i = 0; i < 3; i++) {
		begin(&d, SOCK_DIAG_BY_FAMILY);
		m.id.idiag_sport = htons((uint16_t)(100 + i));
		put(&d, &m, sizeof(m));
		end(&d);
	}
	begin(&d, NLMSG_DONE);
	put(&d, &zero, sizeof(zero));
	end(&d);
	begin(&d, SOCK_DIAG_BY_FAMILY); /* after DONE: not read */
	put(&d, &m, sizeof(m));
	end(&d);
	walk(&d, IPPROTO_UDP, &s, &w);
	assert_true(w.done);
	assert_int_equal(w.sockets, 3);
	assert_int_equal(s.m[2].f.src_port, 102);
}

/* NLMSG_ERROR: its errno; an ACK (0) ends the request; a cut one is -EPROTO. */
static void test_error(void **state)
{
	struct dg d = { .len = 0 };
	struct nlmsgerr e = { .error = -EPERM };
	struct flowmsg_walk w;
	struct seen s;

	(void)state;
	begin(&d, NLMSG_ERROR);
	put(&d, &e, sizeof(e));
	end(&d);
	walk(&d, IPPROTO_TCP, &s, &w);
	assert_int_equal(w.error, -EPERM);
	assert_false(w.done);

	e.error = 0;
	d.len = 0;
	begin(&d, NLMSG_ERROR);
	put(&d, &e, sizeof(e));
	end(&d);
	walk(&d, IPPROTO_TCP, &s, &w);
	assert_int_equal(w.error, 0);
	assert_true(w.done);

	d.len = 0;
	begin(&d, NLMSG_ERROR);
	put(&d, &e, 2);
	end(&d);
	walk(&d, IPPROTO_TCP, &s, &w);
	assert_int_equal(w.error, -EPROTO);
}

/* Types that are neither sockets nor the end are counted and skipped. */
static void test_other_types(void **state)
{
	struct dg d = { .len = 0 };
	struct inet_diag_msg m = diag(AF_INET, 7, 8, 1, 1, 0);
	struct flowmsg_walk w;
	struct seen s;

	(void)state;
	begin(&d, NLMSG_NOOP);
	end(&d);
	begin(&d, SOCK_DIAG_BY_FAMILY);
	put(&d, &m, sizeof(m));
	end(&d);
	walk(&d, IPPROTO_TCP, &s, &w);
	assert_int_equal(w.other, 1);
	assert_int_equal(w.sockets, 1);
}

/* Lengths: the fixed part 0, exact, -1; attributes and headers cut. */
static void test_boundaries(void **state)
{
	struct inet_diag_msg m = diag(AF_INET, 7, 8, 1, 1, 0);
	struct tcp_info t = tinfo(10, 20, 1, 2);
	uint8_t buf[sizeof(m) + 64] = { 0 };
	struct rtattr a = { .rta_len = (unsigned short)RTA_LENGTH(16), .rta_type = INET_DIAG_INFO };
	struct flowmsg out;

	(void)state;
	memcpy(buf, &m, sizeof(m));
	assert_int_equal(flowmsg_parse(buf, 0, 6, &out), -EBADMSG);
	assert_int_equal(flowmsg_parse(buf, sizeof(m) - 1, 6, &out), -EBADMSG);
	assert_int_equal(flowmsg_parse(buf, sizeof(m), 6, &out), 0);
	assert_false(out.info);
	/* A tcp_info shorter than the kernel's: read as far as it goes. */
	memcpy(buf + sizeof(m), &a, sizeof(a));
	memcpy(buf + sizeof(m) + RTA_LENGTH(0), &t, 16);
	assert_int_equal(flowmsg_parse(buf, sizeof(m) + RTA_LENGTH(16), 6, &out), 0);
	assert_true(out.info);
	assert_int_equal(out.f.bytes, 0); /* bytes_acked lies past 16 bytes */
	/* An attribute running past its message. */
	assert_int_equal(flowmsg_parse(buf, sizeof(m) + RTA_LENGTH(16) - 1, 6, &out), -EBADMSG);
	/* An attribute length below its own header. */
	a.rta_len = 2;
	memcpy(buf + sizeof(m), &a, sizeof(a));
	assert_int_equal(flowmsg_parse(buf, sizeof(m) + 8, 6, &out), -EBADMSG);
	/* Not AF_INET or AF_INET6. */
	m.idiag_family = AF_UNIX;
	memcpy(buf, &m, sizeof(m));
	assert_int_equal(flowmsg_parse(buf, sizeof(m), 6, &out), -EBADMSG);
}

/* Torn datagrams: a length past the end, below the header, a short tail. */
static void test_torn(void **state)
{
	struct dg d = { .len = 0 };
	struct inet_diag_msg m = diag(AF_INET, 7, 8, 1, 1, 0);
	struct nlmsghdr h;
	struct flowmsg_walk w;
	struct seen s;

	(void)state;
	begin(&d, SOCK_DIAG_BY_FAMILY);
	put(&d, &m, sizeof(m));
	end(&d);
	memcpy(&h, d.b, sizeof(h));
	walk(&(struct dg){ .len = 0 }, 6, &s, &w);
	assert_int_equal(w.sockets + w.bad, 0); /* empty: nothing */
	d.len -= 1;
	walk(&d, IPPROTO_TCP, &s, &w); /* nlmsg_len one past the datagram */
	assert_int_equal(w.bad, 1);
	assert_int_equal(w.sockets, 0);
	h.nlmsg_len = NLMSG_HDRLEN - 1;
	memcpy(d.b, &h, sizeof(h));
	walk(&d, IPPROTO_TCP, &s, &w);
	assert_int_equal(w.bad, 1);
	d.len = NLMSG_HDRLEN - 1; /* a tail too short for a header */
	walk(&d, IPPROTO_TCP, &s, &w);
	assert_int_equal(w.bad, 1);
	/* Unaligned: the walk copies, never casts. */
	{
		struct dg u = { .len = 0 };

		begin(&u, SOCK_DIAG_BY_FAMILY);
		put(&u, &m, sizeof(m));
		end(&u);
		memmove(u.b + 1, u.b, u.len);
		memset(&s, 0, sizeof(s));
		flowmsg_walk(u.b + 1, u.len, IPPROTO_TCP, collect, &s, &w);
		assert_int_equal(w.sockets, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_reply),  cmocka_unit_test(test_destroy_tcp6),
		cmocka_unit_test(test_destroy_udp), cmocka_unit_test(test_done),
		cmocka_unit_test(test_error),       cmocka_unit_test(test_other_types),
		cmocka_unit_test(test_boundaries),  cmocka_unit_test(test_torn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
