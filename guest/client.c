/* SPDX-License-Identifier: MIT */
/*
 * libvigil-agent: the beat client (see include/vigil/agent.h).
 *
 * State: the socket and its path under one mutex (init, close and a beat's
 * send never race: a beat cannot send on an fd another thread closed and
 * the kernel gave to someone else), and atomics for the pid that owns the
 * nonce sequence, the nonce and the drop counter. A beat is one sendto()
 * with MSG_DONTWAIT, except STOPPING: a goodbye goes to the stop socket
 * (the beat socket's path + VIGIL_BEAT_STOP_SUFFIX, always watched by the
 * agent, so it is never held for a coalescing window), or to the beat
 * socket when nothing listens there (an older agent); one that finds the
 * agent's queue full is retried for at most VIGIL_STOPPING_WAIT_MS (a
 * dropped goodbye would be reported as a stall). Nothing is allocated after
 * vigil_agent_init. Fork is noticed by comparing getpid() with the owner
 * pid, so it works without pthread_atfork and after a raw clone() too.
 */
#define _POSIX_C_SOURCE 200809L
#include <vigil/agent.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t cl_lock = PTHREAD_MUTEX_INITIALIZER;
static int cl_fd = -1;             /* under cl_lock */
static struct sockaddr_un cl_addr; /* under cl_lock */
static socklen_t cl_addrlen;       /* under cl_lock; 0: no path chosen yet */
static struct sockaddr_un cl_stop; /* under cl_lock: the stop socket */
static socklen_t cl_stoplen;       /* under cl_lock; 0: path too long for one */
static int cl_init_err;            /* under cl_lock: the last init's failure, 0 none */
static _Atomic uint32_t cl_owner;  /* pid the nonce sequence belongs to */
static _Atomic uint64_t cl_nonce;  /* last nonce sent by cl_owner */
static _Atomic uint64_t cl_drops;

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

/* The path init asked for: opts', else $VIGIL_BEAT_SOCK, else the default. */
static const char *choose_path(const struct vigil_agent_opts *opts)
{
	const char *path = opts ? opts->socket_path : NULL;

	if (!path)
		path = getenv("VIGIL_BEAT_SOCK");
	return path && *path ? path : VIGIL_BEAT_SOCK_DEFAULT;
}

/* Under cl_lock: a socket for the chosen path. */
static int open_locked(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (cl_fd >= 0)
		close(cl_fd);
	cl_fd = fd;
	return 0;
}

int vigil_agent_init(const struct vigil_agent_opts *opts)
{
	const char *path;
	size_t len;
	int e;

	pthread_mutex_lock(&cl_lock);
	if (opts && opts->sz < offsetof(struct vigil_agent_opts, socket_path) + sizeof(char *)) {
		e = -EINVAL;
		goto out;
	}
	path = choose_path(opts);
	len = strlen(path);
	if (len >= sizeof(cl_addr.sun_path)) {
		e = -EINVAL;
		goto out;
	}
	memset(&cl_addr, 0, sizeof(cl_addr));
	cl_addr.sun_family = AF_UNIX;
	memcpy(cl_addr.sun_path, path, len);
	cl_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	cl_stop = cl_addr;
	cl_stoplen = 0;
	if (len + sizeof(VIGIL_BEAT_STOP_SUFFIX) <= sizeof(cl_stop.sun_path)) {
		memcpy(cl_stop.sun_path + len, VIGIL_BEAT_STOP_SUFFIX,
		       sizeof(VIGIL_BEAT_STOP_SUFFIX));
		cl_stoplen = (socklen_t)(cl_addrlen + sizeof(VIGIL_BEAT_STOP_SUFFIX) - 1);
	}
	e = open_locked();
out:
	/* A failed init is not papered over: beats fail with its error (and
	 * count) until an init succeeds, rather than go to another path. */
	cl_init_err = e;
	if (e < 0 && cl_fd >= 0) {
		close(cl_fd);
		cl_fd = -1;
	}
	pthread_mutex_unlock(&cl_lock);
	return e;
}

void vigil_agent_close(void)
{
	pthread_mutex_lock(&cl_lock);
	if (cl_fd >= 0)
		close(cl_fd);
	cl_fd = -1; /* the path is kept: the next beat opens it again */
	pthread_mutex_unlock(&cl_lock);
}

uint64_t vigil_beat_drops(void)
{
	return atomic_load(&cl_drops);
}

/*
 * Under cl_lock: one send; STOPPING goes to the stop socket when an agent
 * listens there, and waits (bounded) for room in the agent's queue.
 */
static int send_locked(const uint8_t *d, bool stopping)
{
	struct timespec nap = { 0, 2 * 1000000L };
	const struct sockaddr_un *to = &cl_addr;
	socklen_t tolen = cl_addrlen;
	int waited_ms = 0;

	if (stopping && cl_stoplen) {
		to = &cl_stop;
		tolen = cl_stoplen;
	}
	for (;;) {
		if (sendto(cl_fd, d, VIGIL_BEAT_DGRAM_LEN, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)to, tolen) == VIGIL_BEAT_DGRAM_LEN)
			return 0;
		if (to == &cl_stop && (errno == ENOENT || errno == ECONNREFUSED)) {
			/* No stop socket: an older agent reads goodbyes on the beat socket. */
			to = &cl_addr;
			tolen = cl_addrlen;
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (!stopping || waited_ms >= VIGIL_STOPPING_WAIT_MS)
			return -EAGAIN;
		nanosleep(&nap, NULL);
		waited_ms += 2;
	}
}

int vigil_beat(uint16_t status, uint32_t app_payload, uint32_t deadline_ms)
{
	uint8_t d[VIGIL_BEAT_DGRAM_LEN];
	uint32_t pid = (uint32_t)getpid();
	uint32_t owner = atomic_load(&cl_owner);
	int r;

	if (owner != pid && atomic_compare_exchange_strong(&cl_owner, &owner, pid)) {
		/* First beat, or first beat after fork: a fresh nonce space; after a
		 * fork the parent's drops are not the child's. */
		atomic_store(&cl_nonce, 0);
		if (owner != 0)
			atomic_store(&cl_drops, 0);
	}
	if (status > VIGIL_STATUS_STOPPING) {
		atomic_fetch_add(&cl_drops, 1);
		return -EINVAL;
	}
	pthread_mutex_lock(&cl_lock);
	r = cl_init_err;
	if (r == 0 && cl_addrlen == 0) { /* never initialised: the defaults */
		pthread_mutex_unlock(&cl_lock);
		r = vigil_agent_init(NULL);
		pthread_mutex_lock(&cl_lock);
	}
	if (r == 0 && cl_fd < 0)
		r = open_locked(); /* after vigil_agent_close: the same path */
	if (r == 0) {
		uint64_t nonce = atomic_fetch_add(&cl_nonce, 1) + 1;

		vigil_beat_dgram_encode(d, pid, status, app_payload, nonce, deadline_ms);
		r = send_locked(d, status == VIGIL_STATUS_STOPPING);
	}
	pthread_mutex_unlock(&cl_lock);
	if (r < 0)
		atomic_fetch_add(&cl_drops, 1);
	return r;
}
