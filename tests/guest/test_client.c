/* SPDX-License-Identifier: MIT */
/* Tests for guest/client.c (libvigil-agent): nonces, drops, encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
