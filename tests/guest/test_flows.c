/* SPDX-License-Identifier: MIT */
/* Tests for guest/flows.c against real loopback sockets (sock_diag). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flows.h"
#include "rx.h"

struct got {
	struct vigil_flow f[256];
	int n;
};

/* Run one poll and collect the FLOW records it queued. */
static void poll_once(struct flows *fl, struct chan *c, int port_host, struct got *g, uint64_t now)
{
	struct rx rx;

	g->n = 0;
	assert_true(flows_poll(fl, c, now) >= 0);
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

/* The record for (proto, family, local port), event ev; NULL if none. */
static const struct vigil_flow *find(const struct got *g, uint8_t proto, uint8_t fam,
				     uint16_t sport, uint8_t ev)
{
	for (int i = 0; i < g->n; i++) {
		const struct vigil_flow *f = &g->f[i];

		if (f->protocol == proto && f->family == fam && f->src_port == sport &&
		    f->event == ev)
			return f;
	}
	return NULL;
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
	assert_int_equal(flows_open(&fl), 0);
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
	assert_non_null(find(g, 6, 4, local_port(t4[1]), VIGIL_FLOW_OPENED)); /* accepted side */
	f = find(g, 6, 6, c6, VIGIL_FLOW_OPENED);
	assert_non_null(f);
	assert_int_equal(f->src_addr[15], 1); /* ::1 */
	assert_int_equal(f->pid, (uint32_t)getpid());
	assert_non_null(find(g, 17, 4, pu4, VIGIL_FLOW_OPENED));
	assert_non_null(find(g, 17, 6, pu6, VIGIL_FLOW_OPENED));
	/* Listeners are not flows (the accepted socket shares their port). */
	f = find(g, 6, 4, local_port(t4[2]), VIGIL_FLOW_OPENED);
	assert_non_null(f);
	assert_int_equal(f->dst_port, c4);

	/* Move bytes on the v4 pair: ACTIVE with the counts. */
	assert_int_equal(write(t4[0], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	assert_int_equal(recv(t4[1], buf, sizeof(buf), MSG_WAITALL), (ssize_t)sizeof(buf));
	poll_once(&fl, &c, port[0], g, t++);
	f = find(g, 6, 4, c4, VIGIL_FLOW_ACTIVE);
	assert_non_null(f);
	assert_true(f->bytes >= sizeof(buf));
	assert_true(f->packets > 0);
	assert_null(find(g, 6, 6, c6, VIGIL_FLOW_ACTIVE)); /* idle: no record */

	/* Nothing moved: nothing reported. */
	poll_once(&fl, &c, port[0], g, t++);
	assert_null(find(g, 6, 4, c4, VIGIL_FLOW_ACTIVE));

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

static void test_parse_short(void **state)
{
	uint8_t b[8] = { 0 };
	struct vigil_flow f;
	uint64_t ck;
	uint32_t ino;

	(void)state;
	assert_int_equal(flows_parse_msg(b, sizeof(b), 6, &f, &ck, &ino), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_udp_lifecycle),
		cmocka_unit_test(test_parse_short),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
