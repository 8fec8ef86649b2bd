/* SPDX-License-Identifier: MIT */
/* Tests for guest/relay.c: datagram checks and SO_PASSCRED attestation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vigil/agent.h>

#include "relay.h"
#include "rx.h"

struct fx {
	char dir[64];
	char path[128];
	struct relay r;
	struct vigil_beat got[16];
	int ngot;
};

static void sink(void *ctx, const struct vigil_beat *b)
{
	struct fx *f = ctx;

	if (f->ngot < 16)
		f->got[f->ngot++] = *b;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	tmp_template(f->dir, sizeof(f->dir), "/tmp/vigil-relay-");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/run/beat.sock", f->dir);
	assert_int_equal(relay_open(&f->r, f->path, 0666, sink, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char run[160];

	relay_close(&f->r);
	snprintf(run, sizeof(run), "%s/run", f->dir);
	rmdir(run);
	rmdir(f->dir);
	vigil_agent_close();
	free(f);
	return 0;
}

static void test_parse_vectors(void **state)
{
	uint8_t d[VIGIL_BEAT_DGRAM_LEN];
	struct vigil_beat b;

	(void)state;
	vigil_beat_dgram_encode(d, 1234, 2, 77, 5, 900);
	assert_int_equal(relay_parse(d, sizeof(d), 1234, &b), 0);
	assert_int_equal(b.pid, 1234);
	assert_int_equal(b.status, 2);
	assert_int_equal(b.app_payload, 77);
	assert_int_equal(b.nonce, 5);
	assert_int_equal(b.deadline_ms, 900);
	assert_int_equal(b.origin, VIGIL_ORIGIN_KERNEL_ATTESTED);
	assert_int_equal(relay_parse(d, sizeof(d) - 1, 1234, &b), -EBADMSG);
	assert_int_equal(relay_parse(d, 0, 1234, &b), -EBADMSG);
	assert_int_equal(relay_parse(d, sizeof(d), 1235, &b), -EPERM); /* forged */
	assert_int_equal(relay_parse(d, sizeof(d), 0, &b), -EPERM);
	vigil_beat_dgram_encode(d, 1, 0, 0, 1, 0);
	assert_int_equal(relay_parse(d, sizeof(d), 1, &b), -EPERM); /* pid 1 is malformed */
	vigil_beat_dgram_encode(d, 1234, 4, 0, 1, 0);
	assert_int_equal(relay_parse(d, sizeof(d), 1234, &b), -EBADMSG); /* status */
	vigil_beat_dgram_encode(d, 1234, 0, 0, 1, 0);
	d[0] ^= 1;
	assert_int_equal(relay_parse(d, sizeof(d), 1234, &b), -EBADMSG); /* magic */
	d[0] ^= 1;
	d[4] = 2;
	assert_int_equal(relay_parse(d, sizeof(d), 1234, &b), -EBADMSG); /* version */
}

static void test_socket_modes(void **state)
{
	struct fx *f = *state;
	char run[160];
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0666);
	snprintf(run, sizeof(run), "%s/run", f->dir);
	assert_int_equal(stat(run, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
}

static void test_attested_beat(void **state)
{
	struct fx *f = *state;
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = f->path };
	struct stat ns;

	assert_int_equal(vigil_agent_init(&o), 0);
	assert_int_equal(vigil_beat(VIGIL_STATUS_DEGRADED, 42, 1500), 0);
	assert_int_equal(relay_read(&f->r, 777), 1);
	assert_int_equal(f->ngot, 1);
	assert_int_equal(f->got[0].pid, (uint32_t)getpid());
	assert_int_equal(f->got[0].status, VIGIL_STATUS_DEGRADED);
	assert_int_equal(f->got[0].app_payload, 42);
	assert_int_equal(f->got[0].deadline_ms, 1500);
	assert_int_equal(f->got[0].guest_mono_ns, 777);
	assert_int_equal(stat("/proc/self/ns/pid", &ns), 0);
	assert_int_equal(f->got[0].pidns_inode, (uint64_t)ns.st_ino);
	assert_int_equal(f->r.st.beats_relayed, 1);
	assert_int_equal(relay_read(&f->r, 778), 0); /* nothing left */
	/* The namespace inode is cached for a second, then looked up again. */
	assert_int_equal(f->r.st.ns_lookups, 1);
	assert_int_equal(vigil_beat(0, 0, 0), 0);
	assert_int_equal(relay_read(&f->r, 777 + RELAY_NS_TTL_NS - 1), 1);
	assert_int_equal(f->r.st.ns_lookups, 1);
	assert_int_equal(vigil_beat(0, 0, 0), 0);
	assert_int_equal(relay_read(&f->r, 777 + RELAY_NS_TTL_NS), 1);
	assert_int_equal(f->r.st.ns_lookups, 2);
	assert_int_equal(f->got[2].pidns_inode, (uint64_t)ns.st_ino);
	/* A goodbye forgets it: the pid may soon be another process's. */
	assert_int_equal(vigil_beat(VIGIL_STATUS_STOPPING, 0, 0), 0);
	assert_int_equal(relay_read(&f->r, 777 + RELAY_NS_TTL_NS + 1), 1);
	assert_int_equal(f->r.st.ns_lookups, 2);
	assert_int_equal(vigil_beat(0, 0, 0), 0);
	assert_int_equal(relay_read(&f->r, 777 + RELAY_NS_TTL_NS + 2), 1);
	assert_int_equal(f->r.st.ns_lookups, 3);
}

static void send_raw(const char *path, const void *d, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	strcpy(sa.sun_path, path);
	assert_int_equal(sendto(fd, d, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len);
	close(fd);
}

static void test_forged_pid_rejected(void **state)
{
	struct fx *f = *state;
	uint8_t d[VIGIL_BEAT_DGRAM_LEN + 8] = { 0 };

	/* Claim the parent's pid: the kernel says otherwise. */
	vigil_beat_dgram_encode(d, (uint32_t)getppid(), 0, 0, 1, 0);
	send_raw(f->path, d, VIGIL_BEAT_DGRAM_LEN);
	/* Oversized and undersized datagrams. */
	vigil_beat_dgram_encode(d, (uint32_t)getpid(), 0, 0, 1, 0);
	send_raw(f->path, d, sizeof(d));
	send_raw(f->path, d, 8);
	/* And one good beat after them. */
	send_raw(f->path, d, VIGIL_BEAT_DGRAM_LEN);
	assert_int_equal(relay_read(&f->r, 1), 1);
	assert_int_equal(f->ngot, 1);
	assert_int_equal(f->got[0].pid, (uint32_t)getpid());
	assert_int_equal(f->r.st.rej_pid, 1);
	assert_int_equal(f->r.st.rej_shape, 2);
	assert_int_equal(f->r.st.beats_rejected, 3);
}

static void test_child_beats_as_itself(void **state)
{
	struct fx *f = *state;
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = f->path };
	pid_t pid;
	int st;

	assert_int_equal(vigil_agent_init(&o), 0);
	assert_int_equal(vigil_beat(0, 1, 0), 0);
	assert_int_equal(vigil_beat(0, 2, 0), 0);
	pid = fork();
	if (pid == 0)
		_exit(vigil_beat(0, 3, 0) == 0 ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(relay_read(&f->r, 1), 3);
	assert_int_equal(f->got[1].nonce, f->got[0].nonce + 1);
	assert_int_equal(f->got[2].pid, (uint32_t)pid);
	assert_int_equal(f->got[2].nonce, 1); /* its own nonce space */
	assert_int_equal(f->got[2].app_payload, 3);
}

/*
 * The socket queues qlen datagrams: RELAY_QLEN_WANT when the agent could
 * raise net.unix.max_dgram_qlen around the socket's creation (as root;
 * the sysctl is back to its old value after), else the sysctl's value.
 */
static void test_queue_length(void **state)
{
	struct fx *f = *state;
	uint8_t d[VIGIL_BEAT_DGRAM_LEN];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char was[32] = "", now[32] = "";
	int fd[16];
	uint32_t sent = 0;
	FILE *q = fopen(RELAY_QLEN_SYSCTL, "r");

	if (q) {
		assert_non_null(fgets(was, sizeof(was), q));
		fclose(q);
	}
	if (geteuid() == 0 && atoi(was) < (int)RELAY_QLEN_WANT)
		assert_int_equal(f->r.qlen, RELAY_QLEN_WANT);
	else
		assert_int_equal(f->r.qlen, was[0] ? (uint32_t)atoi(was) : 10);
	relay_close(&f->r);
	assert_int_equal(relay_open(&f->r, f->path, 0666, NULL, NULL), 0);
	q = fopen(RELAY_QLEN_SYSCTL, "r");
	if (q) {
		assert_non_null(fgets(now, sizeof(now), q));
		fclose(q);
	}
	assert_string_equal(now, was); /* put back */
	/* qlen datagrams fit without a read (the kernel takes one more); 64
	 * per sender, whose own send buffer bounds it too. */
	vigil_beat_dgram_encode(d, (uint32_t)getpid(), 0, 0, 1, 0);
	strcpy(sa.sun_path, f->path);
	for (int i = 0; i < 16; i++) {
		fd[i] = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		for (int k = 0; k < 64; k++) {
			if (sendto(fd[i], d, sizeof(d), 0, (struct sockaddr *)&sa, sizeof(sa)) !=
			    sizeof(d)) {
				assert_int_equal(errno, EAGAIN);
				break;
			}
			sent++;
		}
	}
	assert_true(sent >= f->r.qlen && sent <= f->r.qlen + 1);
	for (int i = 0; i < 16; i++)
		close(fd[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_vectors),
		cmocka_unit_test_setup_teardown(test_socket_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attested_beat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_pid_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_beats_as_itself, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_length, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
