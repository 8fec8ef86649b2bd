/* SPDX-License-Identifier: MIT */
/*
 * relay: the beat socket. A unix datagram socket with SO_PASSCRED; each
 * datagram (include/vigil/agent.h) is checked against the kernel's
 * SCM_CREDENTIALS: the claimed pid must be the sender's pid as the agent's
 * pid namespace sees it, or the beat is rejected and counted. Accepted
 * beats get the agent's CLOCK_MONOTONIC, the sender's pid-namespace inode
 * (/proc/<pid>/ns/pid) and origin KERNEL_ATTESTED, and go to the sink.
 *
 * Limits: 64 datagrams per recvmmsg, RELAY_READ_BUDGET per call, so a
 * flood cannot starve the loop; the socket's own queue bounds the rest
 * (a full socket makes senders' beats fail with EAGAIN, counted by them).
 * That queue is net.unix.max_dgram_qlen datagrams when the socket is made
 * (10 by default): the agent raises the sysctl to RELAY_QLEN_WANT around
 * the socket's creation and puts the old value back, when it may (root);
 * qlen says what the socket got, and the beat windows (pace.h) fit it.
 * Load: hundreds to thousands of beats per second. The pid-namespace
 * inode is cached per pid for RELAY_NS_TTL_NS, 10 s (a live process cannot
 * change its pid namespace), and forgotten at the pid's STOPPING beat: only
 * a pid that died without a goodbye and was reused within the TTL by a
 * process of another namespace could show its predecessor's inode (and
 * such a process's beats are refused anyway unless its own pid is the
 * same number in both namespaces). The stat was 7 % of the agent's CPU at
 * a 1 s TTL under 50 x 10 beats/s. The pid itself is checked on every
 * beat.
 */
#ifndef VIGIL_GUEST_RELAY_H
#define VIGIL_GUEST_RELAY_H

#include <stdint.h>
#include <sys/types.h>
#include <vigil/wire.h>

#define RELAY_BATCH       64
#define RELAY_READ_BUDGET 1024 /* datagrams per relay_read call */
#define RELAY_NS_CACHE    1024 /* pid-namespace inode cache entries (direct-mapped) */
#define RELAY_NS_TTL_NS   10000000000ull
#define RELAY_QLEN_WANT   512u /* datagrams the beat socket should queue */
#define RELAY_QLEN_SYSCTL "/proc/sys/net/unix/max_dgram_qlen"

struct relay_stats {
	uint64_t beats_relayed;
	uint64_t beats_rejected; /* all rejections below */
	uint64_t rej_shape;      /* wrong length, magic, version or status */
	uint64_t rej_no_cred;    /* no SCM_CREDENTIALS (cannot happen with SO_PASSCRED) */
	uint64_t rej_pid;        /* claimed pid != kernel pid, or pid 0/1 */
	uint64_t ns_lookups;     /* stat() of /proc/<pid>/ns/pid (cache misses) */
};

typedef void (*relay_sink_fn)(void *ctx, const struct vigil_beat *b);

struct relay_ns {
	uint32_t pid;
	uint64_t inode;
	uint64_t expires_ns;
};

struct relay {
	int fd;
	struct relay_ns ns[RELAY_NS_CACHE];
	char path[108];
	const char *proc; /* "/proc" normally */
	relay_sink_fn sink;
	void *ctx;
	uint32_t qlen; /* datagrams the socket queues before refusing more */
	struct relay_stats st;
};

/*
 * Bind path (its directory is created 0755, the socket chmod'ed to mode).
 * A stale socket file at path is replaced. 0 or -errno.
 */
int relay_open(struct relay *r, const char *path, mode_t mode, relay_sink_fn sink, void *ctx);
void relay_close(struct relay *r);
/* Drain queued datagrams (accepted or not). Beats accepted (>= 0) or -errno of recvmmsg. */
int relay_read(struct relay *r, uint64_t now_ns);
/*
 * The same, and known to have read the socket to its end: recvmmsg said
 * it was empty (a batch short of RELAY_BATCH is not taken for that). Beats
 * accepted, -errno of recvmmsg, or -EBUSY when RELAY_READ_BUDGET came
 * first: then the socket may hold more.
 */
int relay_drain(struct relay *r, uint64_t now_ns);

/*
 * Check one datagram against the sender's kernel pid; on success fill
 * pid, app_payload, nonce, status, deadline_ms of *out. 0, -EBADMSG for a
 * bad shape, -EPERM for a pid that is not the sender's.
 */
int relay_parse(const uint8_t *d, size_t len, pid_t cred_pid, struct vigil_beat *out);
/* Inode of /proc/<pid>/ns/pid under proc, 0 when unknown. */
uint64_t relay_pidns(const char *proc, uint32_t pid);

#endif
