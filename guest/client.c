/* SPDX-License-Identifier: MIT */
/*
 * libvigil-agent: the beat client (see include/vigil/agent.h).
 *
 * State is a handful of atomics: the socket fd, the pid that owns the nonce
 * sequence, the nonce and the drop counter. A beat is one sendto() with
 * MSG_DONTWAIT; nothing is allocated after vigil_agent_init. Fork is
 * noticed by comparing getpid() with the owner pid, so it works without
 * pthread_atfork and after a raw clone() too.
 */
#include <vigil/agent.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static _Atomic int cl_fd = -1;
static _Atomic uint32_t cl_owner; /* pid the nonce sequence belongs to */
static _Atomic uint64_t cl_nonce; /* last nonce sent by cl_owner */
static _Atomic uint64_t cl_drops;
static struct sockaddr_un cl_addr; /* written by init only */
static _Atomic socklen_t cl_addrlen;

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void vigil_beat_dgram_encode(uint8_t out[VIGIL_BEAT_DGRAM_LEN], uint32_t pid, uint16_t status,
			     uint32_t app_payload, uint64_t nonce, uint32_t deadline_ms)
{
	put32(out, VIGIL_BEAT_MAGIC);
	out[4] = VIGIL_BEAT_VERSION;
	out[5] = 0;
	out[6] = (uint8_t)status;
	out[7] = (uint8_t)(status >> 8);
	put32(out + 8, pid);
	put32(out + 12, app_payload);
	put32(out + 16, (uint32_t)nonce);
	put32(out + 20, (uint32_t)(nonce >> 32));
	put32(out + 24, deadline_ms);
	put32(out + 28, 0);
}

int vigil_agent_init(const struct vigil_agent_opts *opts)
{
	const char *path = NULL;
	size_t len;
	int fd, old;

	if (opts && opts->sz < offsetof(struct vigil_agent_opts, socket_path) + sizeof(char *))
		return -EINVAL;
	if (opts)
		path = opts->socket_path;
	if (!path)
		path = getenv("VIGIL_BEAT_SOCK");
	if (!path || !*path)
		path = VIGIL_BEAT_SOCK_DEFAULT;
	len = strlen(path);
	if (len >= sizeof(cl_addr.sun_path))
		return -EINVAL;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&cl_addr, 0, sizeof(cl_addr));
	cl_addr.sun_family = AF_UNIX;
	memcpy(cl_addr.sun_path, path, len);
	atomic_store(&cl_addrlen, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1));
	old = atomic_exchange(&cl_fd, fd);
	if (old >= 0)
		close(old);
	return 0;
}

void vigil_agent_close(void)
{
	int old = atomic_exchange(&cl_fd, -1);

	if (old >= 0)
		close(old);
}

uint64_t vigil_beat_drops(void)
{
	return atomic_load(&cl_drops);
}

int vigil_beat(uint16_t status, uint32_t app_payload, uint32_t deadline_ms)
{
	uint8_t d[VIGIL_BEAT_DGRAM_LEN];
	uint32_t pid = (uint32_t)getpid();
	uint32_t owner = atomic_load(&cl_owner);
	uint64_t nonce;
	int fd, r;

	if (status > VIGIL_STATUS_STOPPING) {
		atomic_fetch_add(&cl_drops, 1);
		return -EINVAL;
	}
	if (owner != pid) {
		/* First beat, or first beat after fork: a fresh nonce space. */
		if (atomic_compare_exchange_strong(&cl_owner, &owner, pid)) {
			atomic_store(&cl_nonce, 0);
			atomic_store(&cl_drops, 0);
		}
	}
	fd = atomic_load(&cl_fd);
	if (fd < 0) {
		r = vigil_agent_init(NULL);
		if (r < 0) {
			atomic_fetch_add(&cl_drops, 1);
			return r;
		}
		fd = atomic_load(&cl_fd);
	}
	nonce = atomic_fetch_add(&cl_nonce, 1) + 1;
	vigil_beat_dgram_encode(d, pid, status, app_payload, nonce, deadline_ms);
	if (sendto(fd, d, sizeof(d), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&cl_addr,
		   atomic_load(&cl_addrlen)) == (ssize_t)sizeof(d))
		return 0;
	r = errno == EWOULDBLOCK ? -EAGAIN : -errno;
	atomic_fetch_add(&cl_drops, 1);
	return r;
}
