/* SPDX-License-Identifier: MIT */
/* Tests for guest/client.c (libvigil-agent): nonces, drops, encoding, the stop socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vigil/agent.h>
#include <vigil/wire.h>

#include "rx.h"

static void test_dgram_layout(void **state)
{
	uint8_t d[VIGIL_BEAT_DGRAM_LEN];

	(void)state;
	vigil_beat_dgram_encode(d, 0x01020304, 3, 0xAABBCCDD, 0x1122334455667788ull, 250);
	assert_memory_equal(d, "VGB1", 4);
	assert_int_equal(vigil_le16(d + 4), 1);
	assert_int_equal(vigil_le16(d + 6), 3);
	assert_int_equal(vigil_le32(d + 8), 0x01020304);
	assert_int_equal(vigil_le32(d + 12), 0xAABBCCDD);
	assert_int_equal(vigil_le64(d + 16), 0x1122334455667788ull);
	assert_int_equal(vigil_le32(d + 24), 250);
	assert_int_equal(vigil_le32(d + 28), 0);
}

static int bind_dgram(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	strcpy(sa.sun_path, path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void test_nonce_and_drops(void **state)
{
	char path[64];
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = path };
	uint8_t d[64];
	uint64_t drops0;
	int fd, sent = 0, e = 0;

	(void)state;
	close(mkstemp(tmp_template(path, sizeof(path), "/tmp/vigil-client-")));
	fd = bind_dgram(path);
	assert_int_equal(vigil_agent_init(&o), 0);
	assert_int_equal(vigil_beat(0, 0, 0), 0);
	drops0 = vigil_beat_drops();
	assert_int_equal(vigil_beat(0, 0, 0), 0);
	assert_int_equal(read(fd, d, sizeof(d)), VIGIL_BEAT_DGRAM_LEN);
	assert_int_equal(vigil_le64(d + 16), 1);
	assert_int_equal(read(fd, d, sizeof(d)), VIGIL_BEAT_DGRAM_LEN);
	assert_int_equal(vigil_le64(d + 16), 2);
	assert_int_equal(vigil_beat(9, 0, 0), -EINVAL);
	/* Nobody reads: the queue fills, beats fail fast with EAGAIN and count. */
	for (int i = 0; i < 100000 && e == 0; i++) {
		e = vigil_beat(0, 0, 0);
		sent += e == 0;
	}
	assert_int_equal(e, -EAGAIN);
	assert_true(sent > 0);
	assert_int_equal(vigil_beat_drops(), drops0 + 2); /* EINVAL and EAGAIN */
	close(fd);
	unlink(path);
	/* No agent at all. */
	assert_int_equal(vigil_beat(0, 0, 0), -ENOENT);
	vigil_agent_close();
}

/* The path given to init is kept across close; a failed init never falls
 * back to another path; every failure counts, the first ones included. */
static void test_path_kept_and_failed_init(void **state)
{
	char path[64], longp[200];
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = path };
	uint8_t d[64];
	uint64_t drops0;
	int fd;

	(void)state;
	close(mkstemp(tmp_template(path, sizeof(path), "/tmp/vigil-client-")));
	fd = bind_dgram(path);
	assert_int_equal(vigil_agent_init(&o), 0);
	vigil_agent_close();
	assert_int_equal(vigil_beat(0, 0, 0), 0); /* reopened on path, not the default */
	assert_int_equal(read(fd, d, sizeof(d)), VIGIL_BEAT_DGRAM_LEN);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	o.socket_path = longp;
	drops0 = vigil_beat_drops();
	assert_int_equal(vigil_agent_init(&o), -EINVAL);
	assert_int_equal(vigil_beat(0, 0, 0), -EINVAL); /* not silently elsewhere */
	assert_int_equal(vigil_beat_drops(), drops0 + 1);
	assert_int_equal(read(fd, d, sizeof(d)), -1); /* nothing reached the old path */
	o.socket_path = path;
	assert_int_equal(vigil_agent_init(&o), 0);
	assert_int_equal(vigil_beat(0, 0, 0), 0);
	vigil_agent_close();
	close(fd);
	unlink(path);
}

struct reader {
	int fd;
	int got_stopping;
};

/* Drains the socket after 30 ms, then notes whether a STOPPING arrived. */
static void *late_reader(void *arg)
{
	struct reader *r = arg;
	struct timespec t = { 0, 30 * 1000000L };
	uint8_t d[64];

	nanosleep(&t, NULL);
	for (int i = 0; i < 400; i++) {
		ssize_t n = read(r->fd, d, sizeof(d));
		if (n == VIGIL_BEAT_DGRAM_LEN && (d[6] | d[7] << 8) == VIGIL_STATUS_STOPPING)
			r->got_stopping = 1;
		if (n < 0) {
			nanosleep(&(struct timespec){ 0, 1000000L }, NULL);
			if (r->got_stopping)
				break;
		}
	}
	return NULL;
}

/* A goodbye that finds the agent's queue full still arrives. */
static void test_stopping_on_full_queue(void **state)
{
	char path[64];
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = path };
	struct reader r = { -1, 0 };
	pthread_t th;
	int e = 0;

	(void)state;
	close(mkstemp(tmp_template(path, sizeof(path), "/tmp/vigil-client-")));
	r.fd = bind_dgram(path);
	assert_int_equal(vigil_agent_init(&o), 0);
	for (int i = 0; i < 100000 && e == 0; i++)
		e = vigil_beat(0, 0, 0);
	assert_int_equal(e, -EAGAIN); /* full */
	assert_int_equal(pthread_create(&th, NULL, late_reader, &r), 0);
	assert_int_equal(vigil_beat(VIGIL_STATUS_STOPPING, 0, 0), 0);
	pthread_join(th, NULL);
	assert_true(r.got_stopping);
	vigil_agent_close();
	close(r.fd);
	unlink(path);
}

struct racer {
	atomic_int stop;
	atomic_int bad;
};

static void *beat_racer(void *arg)
{
	struct racer *x = arg;

	while (!atomic_load(&x->stop)) {
		int e = vigil_beat(0, 0, 0);
		if (e == -EBADF || e == -ENOTSOCK)
			atomic_fetch_add(&x->bad, 1);
	}
	return NULL;
}

/* init and close racing beats never send on a closed or reused fd. */
static void test_init_close_race(void **state)
{
	char path[64];
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = path };
	struct racer x = { 0, 0 };
	pthread_t th[3];
	uint8_t d[64];
	int fd;

	(void)state;
	close(mkstemp(tmp_template(path, sizeof(path), "/tmp/vigil-client-")));
	fd = bind_dgram(path);
	assert_int_equal(vigil_agent_init(&o), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, beat_racer, &x), 0);
	for (int i = 0; i < 3000; i++) {
		vigil_agent_close();
		assert_int_equal(vigil_agent_init(&o), 0);
		while (read(fd, d, sizeof(d)) > 0)
			;
	}
	atomic_store(&x.stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&x.bad), 0);
	vigil_agent_close();
	close(fd);
	unlink(path);
}

/* STOPPING goes to the stop socket when one listens, else to the beat
 * socket (an older agent); other beats always to the beat socket. */
static void test_stopping_to_stop_socket(void **state)
{
	char path[64], stop[80];
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = path };
	uint8_t d[64];
	int fd, sfd;

	(void)state;
	close(mkstemp(tmp_template(path, sizeof(path), "/tmp/vigil-client-")));
	snprintf(stop, sizeof(stop), "%s%s", path, VIGIL_BEAT_STOP_SUFFIX);
	fd = bind_dgram(path);
	sfd = bind_dgram(stop);
	assert_int_equal(vigil_agent_init(&o), 0);
	assert_int_equal(vigil_beat(VIGIL_STATUS_OK, 1, 0), 0);
	assert_int_equal(vigil_beat(VIGIL_STATUS_STOPPING, 2, 0), 0);
	assert_int_equal(read(fd, d, sizeof(d)), VIGIL_BEAT_DGRAM_LEN);
	assert_int_equal(vigil_le32(d + 12), 1);
	assert_int_equal(read(fd, d, sizeof(d)), -1); /* the goodbye went elsewhere */
	assert_int_equal(read(sfd, d, sizeof(d)), VIGIL_BEAT_DGRAM_LEN);
	assert_int_equal(vigil_le16(d + 6), VIGIL_STATUS_STOPPING);
	assert_int_equal(vigil_le32(d + 12), 2);
	/* No stop socket: the goodbye takes the beat socket. */
	close(sfd);
	unlink(stop);
	assert_int_equal(vigil_beat(VIGIL_STATUS_STOPPING, 3, 0), 0);
	assert_int_equal(read(fd, d, sizeof(d)), VIGIL_BEAT_DGRAM_LEN);
	assert_int_equal(vigil_le16(d + 6), VIGIL_STATUS_STOPPING);
	assert_int_equal(vigil_le32(d + 12), 3);
	vigil_agent_close();
	close(fd);
	unlink(path);
}

static void test_bad_opts(void **state)
{
	struct vigil_agent_opts o = { .sz = 1 };
	char longp[200];

	(void)state;
	assert_int_equal(vigil_agent_init(&o), -EINVAL);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	o.sz = sizeof(o);
	o.socket_path = longp;
	assert_int_equal(vigil_agent_init(&o), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dgram_layout),
		cmocka_unit_test(test_nonce_and_drops),
		cmocka_unit_test(test_bad_opts),
		cmocka_unit_test(test_path_kept_and_failed_init),
		cmocka_unit_test(test_stopping_on_full_queue),
		cmocka_unit_test(test_stopping_to_stop_socket),
		cmocka_unit_test(test_init_close_race),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
