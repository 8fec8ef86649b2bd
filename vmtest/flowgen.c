/* SPDX-License-Identifier: MIT */
/*
 * flowgen: the traffic of the vm_flows_short scenario, run inside the guest.
 *
 *   flowgen TCP_N UDP_N SECONDS
 *
 * Listens on TCP 127.0.0.1 and ::1, on a third TCP port for one connection
 * that lives 1 ms, and on UDP 127.0.0.1 and ::1; then makes TCP_N short TCP
 * connections (request, reply, close; IPv4 and IPv6 alternating) and UDP_N
 * UDP request/replies from a new connected socket each, paced over SECONDS,
 * and the 1 ms connection in the middle. It prints what the scenario checks
 * the flow events against, one line each:
 *
 *   pid PID
 *   listen tcp|udp 4|6 PORT            (also "listen tcp 4 PORT ms1")
 *   conn tcp|udp 4|6 CLIENT_PORT SERVER_PORT [ms1]
 *
 * Everything is on loopback, in one process, blocking (loopback answers at
 * once); the listeners stay open past the last connection so that a poll
 * sees them. Exit status 0, or 1 with a message when a socket call fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct ep {
	struct sockaddr_storage a;
	socklen_t len;
	int fd;
	int fam; /* 4 or 6 */
};

static void die(const char *what)
{
	fprintf(stderr, "flowgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint16_t port_of(const struct sockaddr_storage *a)
{
	return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
					     : ((const struct sockaddr_in6 *)a)->sin6_port);
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage a;
	socklen_t l = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		die("getsockname");
	return port_of(&a);
}

/* A bound loopback socket of type on an ephemeral port (listening for TCP). */
static struct ep server(int fam, int type)
{
	struct ep e = { .fam = fam };

	memset(&e.a, 0, sizeof(e.a));
	if (fam == 4) {
		struct sockaddr_in *a = (struct sockaddr_in *)&e.a;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		e.len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&e.a;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		e.len = sizeof(*a);
	}
	e.fd = socket(e.a.ss_family, type | SOCK_CLOEXEC, 0);
	if (e.fd < 0 || bind(e.fd, (struct sockaddr *)&e.a, e.len) < 0)
		die("bind");
	if (type == SOCK_STREAM && listen(e.fd, 64) < 0)
		die("listen");
	if (getsockname(e.fd, (struct sockaddr *)&e.a, &e.len) < 0)
		die("getsockname");
	return e;
}

/* One TCP connection: request, reply, close; hold_us between connect and close. */
static void tcp_conn(const struct ep *s, long hold_us, const char *tag)
{
	char buf[64];
	int c = socket(s->a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), a;
	struct timespec hold = { 0, hold_us * 1000 };

	if (c < 0 || connect(c, (const struct sockaddr *)&s->a, s->len) < 0)
		die("connect");
	a = accept(s->fd, NULL, NULL);
	if (a < 0)
		die("accept");
	if (write(c, "GET /flow\n", 10) != 10 || read(a, buf, sizeof(buf)) <= 0 ||
	    write(a, "200 OK, short flow\n", 19) != 19 || read(c, buf, sizeof(buf)) <= 0)
		die("tcp exchange");
	if (hold_us)
		nanosleep(&hold, NULL);
	printf("conn tcp %d %u %u%s\n", s->fam, local_port(c), port_of(&s->a), tag);
	close(c);
	close(a);
}

/* One UDP request/reply from a new connected socket. */
static void udp_conn(const struct ep *s)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	char buf[64];
	int c = socket(s->a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	if (c < 0 || connect(c, (const struct sockaddr *)&s->a, s->len) < 0)
		die("udp connect");
	if (send(c, "query flow", 10, 0) != 10)
		die("udp send");
	n = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	if (n <= 0 || sendto(s->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl) != n ||
	    recv(c, buf, sizeof(buf), 0) != n)
		die("udp exchange");
	printf("conn udp %d %u %u\n", s->fam, local_port(c), port_of(&s->a));
	close(c);
}

static void sleep_until(const struct timespec *t0, double at_s)
{
	struct timespec t = *t0;

	t.tv_sec += (time_t)at_s;
	t.tv_nsec += (long)((at_s - (double)(time_t)at_s) * 1e9);
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
}

int main(int argc, char **argv)
{
	int ntcp = argc > 1 ? atoi(argv[1]) : 200, nudp = argc > 2 ? atoi(argv[2]) : 50;
	double secs = argc > 3 ? atof(argv[3]) : 2.0;
	struct ep t[2] = { server(4, SOCK_STREAM), server(6, SOCK_STREAM) };
	struct ep u[2] = { server(4, SOCK_DGRAM), server(6, SOCK_DGRAM) };
	struct ep ms1 = server(4, SOCK_STREAM);
	struct timespec t0;
	int total = ntcp + nudp;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid %d\n", (int)getpid());
	for (int i = 0; i < 2; i++) {
		printf("listen tcp %d %u\n", t[i].fam, port_of(&t[i].a));
		printf("listen udp %d %u\n", u[i].fam, port_of(&u[i].a));
	}
	printf("listen tcp 4 %u ms1\n", port_of(&ms1.a));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0, ti = 0, ui = 0; i < total; i++) {
		/* interleave: UDP every (total / nudp)th slot */
		if (ui < nudp && (ti >= ntcp || (long)i * nudp >= (long)ui * total)) {
			udp_conn(&u[ui & 1]);
			ui++;
		} else {
			tcp_conn(&t[ti & 1], 0, "");
			ti++;
		}
		if (i == total / 2)
			tcp_conn(&ms1, 1000, " ms1");
		sleep_until(&t0, secs * (i + 1) / total);
	}
	/* Past the next poll (1 s): the listeners are seen alive. */
	sleep_until(&t0, secs + 1.2);
	for (int i = 0; i < 2; i++) {
		close(t[i].fd);
		close(u[i].fd);
	}
	close(ms1.fd);
	return 0;
}
