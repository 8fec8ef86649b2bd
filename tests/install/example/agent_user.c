/* SPDX-License-Identifier: MIT */
/*
 * A guest program using the client library (docs/embedding.md shows this
 * file). It stands in for the agent too: it binds its own datagram socket,
 * points the library at it, beats twice (OK, then the STOPPING goodbye)
 * and checks the two datagrams it receives against the layout in
 * vigil/agent.h. Limits: one process, two beats, a socket in a fresh
 * directory under $TMPDIR (or /tmp).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <vigil/agent.h>

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Receive one beat and check it says what was sent. */
static int expect(int fd, uint16_t status, uint32_t payload, uint64_t nonce)
{
	uint8_t d[64];
	ssize_t n = recv(fd, d, sizeof(d), MSG_DONTWAIT);

	if (n != VIGIL_BEAT_DGRAM_LEN) {
		fprintf(stderr, "agent_user: expected a %d-byte beat, got %zd (%s)\n",
			VIGIL_BEAT_DGRAM_LEN, n, n < 0 ? strerror(errno) : "short");
		return -1;
	}
	if (le32(d) != VIGIL_BEAT_MAGIC || (d[6] | d[7] << 8) != status ||
	    le32(d + 8) != (uint32_t)getpid() || le32(d + 12) != payload || le32(d + 16) != nonce) {
		fprintf(stderr, "agent_user: the beat does not say what was sent\n");
		return -1;
	}
	printf("beat: pid %u status %u payload %u nonce %u\n", le32(d + 8), status, payload,
	       le32(d + 16));
	return 0;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[sizeof(a.sun_path)];
	const char *path = a.sun_path;
	int fd = -1, r = 1, n;

	n = snprintf(dir, sizeof(dir), "%s/agent_user.XXXXXX", tmp);
	if (n < 0 || (size_t)n + sizeof("/beat.sock") > sizeof(a.sun_path)) {
		fprintf(stderr, "agent_user: TMPDIR %s is too long for a socket path\n", tmp);
		return 1;
	}
	if (!mkdtemp(dir)) {
		perror("agent_user: mkdtemp");
		return 1;
	}
	memcpy(a.sun_path, dir, (size_t)n);
	memcpy(a.sun_path + n, "/beat.sock", sizeof("/beat.sock"));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("agent_user: the stand-in agent's socket");
		goto out;
	}

	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = path };
	int e = vigil_agent_init(&o);
	if (e == 0)
		e = vigil_beat(VIGIL_STATUS_OK, 7, 500);
	if (e == 0)
		e = vigil_beat(VIGIL_STATUS_STOPPING, 8, 0);
	if (e < 0) {
		fprintf(stderr, "agent_user: beat: %s\n", strerror(-e));
		goto out;
	}
	if (expect(fd, VIGIL_STATUS_OK, 7, 1) == 0 && expect(fd, VIGIL_STATUS_STOPPING, 8, 2) == 0)
		r = 0;
	printf("drops: %llu\n", (unsigned long long)vigil_beat_drops());
	vigil_agent_close();
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
	rmdir(dir);
	return r;
}
