/* SPDX-License-Identifier: MIT */
/*
 * Tests for guest/flows.c against real loopback sockets (sock_diag dumps
 * and destroy notifications; flowbpf is left off: it would attach to the
 * test machine's cgroups), and over fake notifications (flows_feed).
 */
#define _GNU_SOURCE /* unshare */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flows.h"
#include "rx.h"
#include "util.h"

struct got {
	struct vigil_flow f[256];
	int n;
};

/* Collect the FLOW records queued in c. */
static void collect(struct chan *c, int port_host, struct got *g)
{
	struct rx rx;

	g->n = 0;
	rx_init(&rx);
	while (chan_pending(c)) {
		chan_flush(c, 1);
		rx_pump(&rx, port_host, 100);
	}
	for (size_t i = 0; i < rx.n; i++) {
		struct vigil_records r;

		assert_int_equal(rx.f[i].type, VIGIL_MSG_FLOW);
		assert_int_equal(vigil_flows_decode(rx_payload(&rx, i), rx.f[i].len, &r), 0);
		for (uint32_t k = 0; k < r.count && g->n < 256; k++)
			vigil_flow_get(&r, k, &g->f[g->n++]);
	}
	rx_free(&rx);
}

/* Run one poll and collect the FLOW records it queued. */
static void poll_once(struct flows *fl, struct chan *c, int port_host, struct got *g, uint64_t now)
{
	assert_true(flows_poll(fl, c, now) >= 0);
	collect(c, port_host, g);
}

/* Read notifications until want records came (the kernel sends them from a
 * work queue, a moment after the close), within 2 s. */
static void read_events(struct flows *fl, struct chan *c, int port_host, struct got *g, int want)
{
	struct pollfd p = { .fd = flows_fd(fl), .events = POLLIN };
	uint64_t total = fl->st.records;

	for (int i = 0; i < 200 && fl->st.records - total < (uint64_t)want; i++) {
		poll(&p, 1, 10);
		flows_read(fl, c, 1000);
	}
	collect(c, port_host, g);
}

/* The record for (proto, family, local port, peer port or -1 any), event ev; NULL if none. */
static const struct vigil_flow *find2(const struct got *g, uint8_t proto, uint8_t fam,
				      uint16_t sport, int dport, uint8_t ev)
{
	for (int i = 0; i < g->n; i++) {
		const struct vigil_flow *f = &g->f[i];

		if (f->protocol == proto && f->family == fam && f->src_port == sport &&
		    (dport < 0 || f->dst_port == dport) && f->event == ev)
			return f;
	}
	return NULL;
}

static const struct vigil_flow *find(const struct got *g, uint8_t proto, uint8_t fam,
				     uint16_t sport, uint8_t ev)
{
	return find2(g, proto, fam, sport, -1, ev);
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &l), 0);
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A connected TCP pair on loopback of family fam: fds [0] client, [1] accepted, [2] listener. */
static void tcp_pair(int fam, int fds[3])
{
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr *sa = fam == AF_INET ? (struct sockaddr *)&a4 : (struct sockaddr *)&a6;
	socklen_t len = fam == AF_INET ? sizeof(a4) : sizeof(a6);

	fds[2] = socket(fam, SOCK_STREAM, 0);
	assert_int_equal(bind(fds[2], sa, len), 0);
	assert_int_equal(listen(fds[2], 4), 0);
	assert_int_equal(getsockname(fds[2], sa, &len), 0);
	fds[0] = socket(fam, SOCK_STREAM, 0);
	assert_int_equal(connect(fds[0], sa, len), 0);
	fds[1] = accept(fds[2], NULL, NULL);
	assert_true(fds[1] >= 0);
}

static void test_tcp_udp_lifecycle(void **state)
{
	struct flows fl;
	struct chan c;
	struct got *g = calloc(1, sizeof(*g));
	int port[2], t4[3], t6[3], u4, u6;
	struct sockaddr_in ua = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 ua6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	const struct vigil_flow *f;
	char buf[5000] = { 0 };
	uint16_t c4, c6, pu4, pu6;
	uint64_t t = 1000;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, port), 0);
	fcntl(port[1], F_SETFL, O_NONBLOCK);
	assert_int_equal(chan_init(&c, port[1], NULL, NULL, NULL), 0);
	assert_int_equal(flows_open(&fl, 0), 0);
	poll_once(&fl, &c, port[0], g, t++); /* whatever the machine already has */

	tcp_pair(AF_INET, t4);
	tcp_pair(AF_INET6, t6);
	u4 = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(u4, (struct sockaddr *)&ua, sizeof(ua)), 0);
	u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_int_equal(bind(u6, (struct sockaddr *)&ua6, sizeof(ua6)), 0);
	c4 = local_port(t4[0]);
	c6 = local_port(t6[0]);
	pu4 = local_port(u4);
	pu6 = local_port(u6);

	poll_once(&fl, &c, port[0], g, t++);
	f = find(g, 6, 4, c4, VIGIL_FLOW_OPENED);
	assert_non_null(f);
	assert_int_equal(f->dst_port, local_port(t4[2]));
	assert_int_equal(f->src_addr[0], 127);
	assert_int_equal(f->pid, (uint32_t)getpid());
	/* accepted side: the listener's port to the client's */
	assert_non_null(find2(g, 6, 4, local_port(t4[1]), c4, VIGIL_FLOW_OPENED));
	f = find(g, 6, 6, c6, VIGIL_FLOW_OPENED);
	assert_non_null(f);
	assert_int_equal(f->src_addr[15], 1); /* ::1 */
	assert_int_equal(f->pid, (uint32_t)getpid());
	assert_non_null(find(g, 17, 4, pu4, VIGIL_FLOW_OPENED));
	assert_non_null(find(g, 17, 6, pu6, VIGIL_FLOW_OPENED));
	/* Listeners: OPENED with no peer, and the unconnected UDP sockets too. */
	f = find2(g, 6, 4, local_port(t4[2]), 0, VIGIL_FLOW_OPENED);
	assert_non_null(f);
	assert_int_equal(f->dst_addr[0], 0);
	assert_int_equal(f->pid, (uint32_t)getpid());
	assert_non_null(find2(g, 6, 6, local_port(t6[2]), 0, VIGIL_FLOW_OPENED));
	assert_int_equal(find(g, 17, 4, pu4, VIGIL_FLOW_OPENED)->dst_port, 0);
	assert_true(fl.st.listening >= 4);

	/* Move bytes on the v4 pair: ACTIVE with the counts. */
	assert_int_equal(write(t4[0], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	assert_int_equal(recv(t4[1], buf, sizeof(buf), MSG_WAITALL), (ssize_t)sizeof(buf));
	poll_once(&fl, &c, port[0], g, t++);
	f = find(g, 6, 4, c4, VIGIL_FLOW_ACTIVE);
	assert_non_null(f);
	assert_true(f->bytes >= sizeof(buf));
	assert_true(f->packets > 0);
	assert_null(find(g, 6, 6, c6, VIGIL_FLOW_ACTIVE)); /* idle: no record */

	/* Nothing moved: nothing reported; a listener is reported once. */
	poll_once(&fl, &c, port[0], g, t++);
	assert_null(find(g, 6, 4, c4, VIGIL_FLOW_ACTIVE));
	assert_null(find(g, 6, 4, local_port(t4[2]), VIGIL_FLOW_OPENED));
	assert_null(find(g, 6, 4, local_port(t4[2]), VIGIL_FLOW_ACTIVE));

	close(u4);
	close(t6[0]);
	close(t6[1]);
	poll_once(&fl, &c, port[0], g, t++);
	assert_non_null(find(g, 17, 4, pu4, VIGIL_FLOW_CLOSED));
	f = find(g, 6, 6, c6, VIGIL_FLOW_CLOSED);
	assert_non_null(f); /* the client side went to TIME_WAIT or away */
	assert_null(find(g, 6, 4, c4, VIGIL_FLOW_CLOSED));
	assert_true(fl.st.opened >= 6);
	assert_true(fl.st.closed >= 2);

	close(u6);
	close(t4[0]);
	close(t4[1]);
	close(t4[2]);
	close(t6[2]);
	flows_close(&fl);
	chan_fini(&c);
	close(port[0]);
	close(port[1]);
	free(g);
}

/* Open flows with notifications and a chan over a socketpair. */
static void setup_events(struct flows *fl, struct chan *c, int port[2], unsigned want)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, port), 0);
	fcntl(port[1], F_SETFL, O_NONBLOCK);
	assert_int_equal(chan_init(c, port[1], NULL, NULL, NULL), 0);
	assert_int_equal(flows_open(fl, want), 0);
	if (want & FLOWS_WANT_EVENTS)
		assert_true(flows_fd(fl) >= 0); /* the tests run as root */
}

static void teardown_events(struct flows *fl, struct chan *c, int port[2])
{
	flows_close(fl);
	chan_fini(c);
	close(port[0]);
	close(port[1]);
}

/* A connection that lives well under a millisecond, never seen by a poll:
 * both ends come as OPENED + CLOSED, with addresses, ports and bytes. */
static void test_short_connections(void **state)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	struct flows fl;
	struct chan c;
	struct got *g = calloc(1, sizeof(*g));
	int port[2];
	char buf[8];

	(void)state;
	setup_events(&fl, &c, port, FLOWS_WANT_EVENTS);
	for (int i = 0; i < 2; i++) {
		int t[3], fam = fams[i] == AF_INET ? 4 : 6;
		uint16_t cp, lp;
		const struct vigil_flow *f;

		tcp_pair(fams[i], t);
		cp = local_port(t[0]);
		lp = local_port(t[2]);
		assert_int_equal(write(t[0], "hello", 5), 5);
		assert_int_equal(read(t[1], buf, sizeof(buf)), 5);
		close(t[0]);
		close(t[1]);
		read_events(&fl, &c, port[0], g, 4);
		f = find2(g, 6, (uint8_t)fam, cp, lp, VIGIL_FLOW_OPENED);
		assert_non_null(f);
		assert_true(f->bytes >= 5);
		f = find2(g, 6, (uint8_t)fam, cp, lp, VIGIL_FLOW_CLOSED);
		assert_non_null(f);
		assert_true(f->bytes >= 5);
		assert_true(f->packets >= 3);
		assert_int_equal(fam == 4 ? f->dst_addr[0] : f->dst_addr[15], fam == 4 ? 127 : 1);
		assert_non_null(find2(g, 6, (uint8_t)fam, lp, cp, VIGIL_FLOW_CLOSED));
		close(t[2]);
	}
	assert_true(fl.st.short_flows >= 4);
	/* A TCP socket that was bound but never connected is no flow (other
	 * sockets of the machine may close meanwhile: count at least one). */
	{
		uint64_t before = fl.st.not_flows;
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int s = socket(AF_INET, SOCK_STREAM, 0);
		uint16_t bp;

		assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
		bp = local_port(s);
		close(s);
		for (int i = 0; i < 200 && fl.st.not_flows == before; i++) {
			poll(&(struct pollfd){ .fd = flows_fd(&fl), .events = POLLIN }, 1, 10);
			flows_read(&fl, &c, 1000);
		}
		assert_true(fl.st.not_flows > before);
		collect(&c, port[0], g);
		assert_null(find(g, 6, 4, bp, VIGIL_FLOW_OPENED));
	}
	teardown_events(&fl, &c, port);
	free(g);
}

/* A short UDP exchange: without flowbpf it is reported, with no counts. */
static void test_short_udp(void **state)
{
	struct flows fl;
	struct chan c;
	struct got *g = calloc(1, sizeof(*g));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int port[2], srv, cli;
	uint16_t sp, cp;
	const struct vigil_flow *f;

	(void)state;
	setup_events(&fl, &c, port, FLOWS_WANT_EVENTS);
	srv = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(srv, (struct sockaddr *)&a, &al), 0);
	sp = ntohs(a.sin_port);
	cli = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(connect(cli, (struct sockaddr *)&a, sizeof(a)), 0);
	cp = local_port(cli);
	assert_int_equal(send(cli, "ping", 4, 0), 4);
	close(cli);
	read_events(&fl, &c, port[0], g, 2);
	f = find2(g, 17, 4, cp, sp, VIGIL_FLOW_CLOSED);
	assert_non_null(f);
	assert_non_null(find2(g, 17, 4, cp, sp, VIGIL_FLOW_OPENED));
	assert_int_equal(f->bytes, 0);
	close(srv);
	teardown_events(&fl, &c, port);
	free(g);
}

/* A connection a poll saw closes by its notification, with the final
 * counts, and a later poll does not close it again. */
static void test_tracked_close(void **state)
{
	struct flows fl;
	struct chan c;
	struct got *g = calloc(1, sizeof(*g));
	char buf[3000] = { 0 };
	int port[2], t[3];
	uint16_t cp;
	const struct vigil_flow *f;

	(void)state;
	setup_events(&fl, &c, port, FLOWS_WANT_EVENTS);
	tcp_pair(AF_INET, t);
	cp = local_port(t[0]);
	poll_once(&fl, &c, port[0], g, 10);
	assert_non_null(find(g, 6, 4, cp, VIGIL_FLOW_OPENED));
	assert_int_equal(write(t[0], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	assert_int_equal(recv(t[1], buf, sizeof(buf), MSG_WAITALL), (ssize_t)sizeof(buf));
	close(t[0]);
	close(t[1]);
	read_events(&fl, &c, port[0], g, 2);
	f = find(g, 6, 4, cp, VIGIL_FLOW_CLOSED);
	assert_non_null(f);
	assert_true(f->bytes >= sizeof(buf));
	assert_null(find(g, 6, 4, cp, VIGIL_FLOW_OPENED)); /* not a second flow */
	poll_once(&fl, &c, port[0], g, 11);
	poll_once(&fl, &c, port[0], g, 12);
	assert_null(find(g, 6, 4, cp, VIGIL_FLOW_CLOSED));
	assert_int_equal(fl.st.poll_closed, 0);
	close(t[2]);
	teardown_events(&fl, &c, port);
	free(g);
}

/* A UDP socket reported without a peer that connects: the listener closes,
 * the connected flow opens (the host keys flows by addresses). */
static void test_udp_connects(void **state)
{
	struct flows fl;
	struct chan c;
	struct got *g = calloc(1, sizeof(*g));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int port[2], srv, u;
	uint16_t sp, up;

	(void)state;
	setup_events(&fl, &c, port, 0);
	srv = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(srv, (struct sockaddr *)&a, &al), 0);
	sp = ntohs(a.sin_port);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = 0;
	assert_int_equal(bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
	up = local_port(u);
	poll_once(&fl, &c, port[0], g, 20);
	assert_non_null(find2(g, 17, 4, up, 0, VIGIL_FLOW_OPENED));
	a.sin_port = htons(sp);
	assert_int_equal(connect(u, (struct sockaddr *)&a, sizeof(a)), 0);
	poll_once(&fl, &c, port[0], g, 21);
	assert_non_null(find2(g, 17, 4, up, 0, VIGIL_FLOW_CLOSED));
	assert_non_null(find2(g, 17, 4, up, sp, VIGIL_FLOW_OPENED));
	poll_once(&fl, &c, port[0], g, 22); /* settled: nothing more */
	assert_null(find(g, 17, 4, up, VIGIL_FLOW_OPENED));
	assert_null(find(g, 17, 4, up, VIGIL_FLOW_CLOSED));
	close(u);
	close(srv);
	teardown_events(&fl, &c, port);
	free(g);
}

/* A socket a poll's first dump saw closes before the poll ends (the loop
 * reads notifications between its steps): OPENED and CLOSED, not lost. */
static void test_close_mid_poll(void **state)
{
	struct flows fl;
	struct chan c;
	struct got *g = calloc(1, sizeof(*g));
	int port[2], t[3];
	uint16_t cp;

	(void)state;
	setup_events(&fl, &c, port, FLOWS_WANT_EVENTS);
	tcp_pair(AF_INET, t);
	cp = local_port(t[0]);
	assert_int_equal(flows_poll_step(&fl, &c, 30), 1); /* TCP over IPv4: seen */
	assert_int_equal(write(t[0], "x", 1), 1);
	close(t[0]);
	close(t[1]);
	read_events(&fl, &c, port[0], g, 2);
	assert_non_null(find(g, 6, 4, cp, VIGIL_FLOW_OPENED));
	assert_non_null(find(g, 6, 4, cp, VIGIL_FLOW_CLOSED));
	while (flows_poll_step(&fl, &c, 31) > 0)
		;
	collect(&c, port[0], g);
	assert_null(find(g, 6, 4, cp, VIGIL_FLOW_OPENED)); /* reported once */
	close(t[2]);
	teardown_events(&fl, &c, port);
	free(g);
}

/* A fake destroy notification: TCP over IPv4, cookie, dport, bytes. */
static size_t fake_destroy(uint8_t *b, uint64_t cookie, uint16_t dport, uint8_t proto)
{
	struct nlmsghdr h = { .nlmsg_type = SOCK_DIAG_BY_FAMILY };
	struct inet_diag_msg m;
	struct tcp_info ti;
	struct rtattr a;
	size_t off = NLMSG_HDRLEN;

	memset(&m, 0, sizeof(m));
	m.idiag_family = AF_INET;
	m.idiag_state = 7;
	m.id.idiag_sport = htons(40000);
	m.id.idiag_dport = htons(dport);
	m.id.idiag_src[0] = m.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
	m.id.idiag_cookie[0] = (uint32_t)cookie;
	memcpy(b + off, &m, sizeof(m));
	off += NLMSG_ALIGN(sizeof(m));
	a = (struct rtattr){ .rta_len = RTA_LENGTH(1), .rta_type = INET_DIAG_PROTOCOL };
	memcpy(b + off, &a, sizeof(a));
	b[off + RTA_LENGTH(0)] = proto;
	off += RTA_ALIGN(a.rta_len);
	memset(&ti, 0, sizeof(ti));
	ti.tcpi_bytes_acked = 300;
	ti.tcpi_bytes_received = 20;
	a = (struct rtattr){ .rta_len = RTA_LENGTH(sizeof(ti)), .rta_type = INET_DIAG_INFO };
	memcpy(b + off, &a, sizeof(a));
	memcpy(b + off + RTA_LENGTH(0), &ti, sizeof(ti));
	off += RTA_ALIGN(a.rta_len);
	h.nlmsg_len = (uint32_t)off;
	memcpy(b, &h, sizeof(h));
	return off;
}

/* flows_feed over fake notifications: the records, what is not a flow, the rate bound. */
static void test_feed(void **state)
{
	static uint8_t b[1024] __attribute__((aligned(8)));
	struct flows fl;
	struct chan c;
	struct got *g = calloc(1, sizeof(*g));
	int port[2];
	size_t n;
	uint64_t now = 5 * NSEC_PER_SEC;

	(void)state;
	setup_events(&fl, &c, port, 0);
	n = fake_destroy(b, 77, 8080, IPPROTO_TCP);
	flows_feed(&fl, &c, b, n, now);
	collect(&c, port[0], g);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->f[0].event, VIGIL_FLOW_OPENED);
	assert_int_equal(g->f[1].event, VIGIL_FLOW_CLOSED);
	assert_int_equal(g->f[1].dst_port, 8080);
	assert_int_equal(g->f[1].bytes, 320);
	assert_int_equal(g->f[1].first_seen_ns, now);
	/* Never connected: no record. */
	n = fake_destroy(b, 78, 0, IPPROTO_TCP);
	flows_feed(&fl, &c, b, n, now);
	assert_int_equal(fl.st.not_flows, 1);
	/* A torn message is counted and skipped. */
	flows_feed(&fl, &c, b, n - 1, now);
	assert_int_equal(fl.st.bad_msgs, 1);
	collect(&c, port[0], g);
	assert_int_equal(g->n, 0);
	/* The rate bound: the burst, then nothing until time refills it (each
	 * a socket of its own: a cookie told twice is a duplicate). */
	for (uint32_t i = 1; i < FLOWS_BURST / 2; i++) {
		n = fake_destroy(b, 1000 + i, 8080, IPPROTO_UDP);
		flows_feed(&fl, &c, b, n, now);
	}
	assert_int_equal(fl.st.rate_dropped, 0);
	n = fake_destroy(b, 999, 8080, IPPROTO_UDP);
	flows_feed(&fl, &c, b, n, now);
	assert_int_equal(fl.st.rate_dropped, 1);
	n = fake_destroy(b, 998, 8080, IPPROTO_UDP);
	flows_feed(&fl, &c, b, n, now + NSEC_PER_SEC / 1000); /* 1 ms: 20 records */
	assert_int_equal(fl.st.rate_dropped, 1);
	assert_int_equal(fl.st.short_flows, FLOWS_BURST / 2 + 1);
	teardown_events(&fl, &c, port);
	free(g);
}

/* A dump reply written before a socket went, read after its destroy
 * notification, does not bring the socket back (reported twice). */
static void test_dump_after_destroy(void **state)
{
	static uint8_t b[1024] __attribute__((aligned(8)));
	struct flows fl;
	struct chan c;
	struct got *g = calloc(1, sizeof(*g));
	int port[2];
	size_t n;

	(void)state;
	setup_events(&fl, &c, port, 0);
	n = fake_destroy(b, 91, 8080, IPPROTO_TCP);
	flows_feed(&fl, &c, b, n, 1000);
	collect(&c, port[0], g);
	assert_int_equal(g->n, 2);                         /* OPENED, CLOSED */
	flows_feed_dump(&fl, &c, b, n, IPPROTO_TCP, 2000); /* the same socket, late */
	assert_int_equal(fl.n, 0);
	n = fake_destroy(b, 92, 8081, IPPROTO_TCP); /* another socket: seen */
	flows_feed_dump(&fl, &c, b, n, IPPROTO_TCP, 3000);
	assert_int_equal(fl.n, 1);
	teardown_events(&fl, &c, port);
	free(g);
}

/*
 * The tests read every socket of their network namespace (sock_diag dumps
 * and destroy notifications), as the agent does in a guest: in the host's
 * namespace, other programs' sockets (a busy machine holds thousands) fill
 * the polls and the tables. So they run in a namespace of their own, with
 * only loopback up, where they can (root; else the host's, as before).
 */
/* The same socket's destroy told twice (two notification reads, a dump's
 * echo): one OPENED and one CLOSED, the second counted. */
static void test_destroy_twice(void **state)
{
	struct flows fl;
	struct chan c;
	struct got *g = calloc(1, sizeof(*g));
	uint8_t b[1024];
	int port[2];
	size_t n;

	(void)state;
	setup_events(&fl, &c, port, 0);
	n = fake_destroy(b, 93, 8082, IPPROTO_TCP);
	flows_feed(&fl, &c, b, n, 1000);
	flows_feed(&fl, &c, b, n, 1001);
	collect(&c, port[0], g);
	assert_int_equal(g->n, 2); /* OPENED, CLOSED: once */
	assert_int_equal(fl.st.dup_destroys, 1);
	teardown_events(&fl, &c, port);
	free(g);
}

/* After flows_forget, nothing of before counts: a socket the table held
 * is gone, a destroy already handled is a new short flow, not a repeat. */
static void test_forget(void **state)
{
	struct flows fl;
	struct chan c;
	struct got *g = calloc(1, sizeof(*g));
	uint8_t b[1024];
	int port[2];
	size_t n, m;

	(void)state;
	setup_events(&fl, &c, port, 0);
	n = fake_destroy(b, 94, 8083, IPPROTO_TCP);
	flows_feed(&fl, &c, b, n, 1000);
	m = fake_destroy(b + n, 95, 8084, IPPROTO_TCP);
	flows_feed_dump(&fl, &c, b + n, m, IPPROTO_TCP, 2000);
	assert_int_equal(fl.n, 1);
	flows_forget(&fl);
	assert_int_equal(fl.n, 0);
	assert_int_equal(fl.st.records, 0);
	flows_feed(&fl, &c, b, n, 3000); /* the first socket's destroy again */
	assert_int_equal(fl.st.dup_destroys, 0);
	assert_int_equal(fl.st.short_flows, 1);
	flows_feed(&fl, &c, b + n, m, 4000); /* the second: not held any more */
	assert_int_equal(fl.st.short_flows, 2);
	collect(&c, port[0], g);
	assert_int_equal(g->n, 6); /* OPENED, CLOSED: before, and twice after */
	teardown_events(&fl, &c, port);
	free(g);
}

static void own_netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	if (unshare(CLONE_NEWNET) < 0)
		return;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_udp_lifecycle),
		cmocka_unit_test(test_short_connections),
		cmocka_unit_test(test_short_udp),
		cmocka_unit_test(test_tracked_close),
		cmocka_unit_test(test_udp_connects),
		cmocka_unit_test(test_close_mid_poll),
		cmocka_unit_test(test_feed),
		cmocka_unit_test(test_dump_after_destroy),
		cmocka_unit_test(test_destroy_twice),
		cmocka_unit_test(test_forget),
	};
	own_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
