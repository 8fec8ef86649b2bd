/* SPDX-License-Identifier: MIT */
/*
 * libvigil-agent: heartbeats from guest programs to the vigil agent.
 *
 * A beat is one 32-byte datagram on the agent's unix socket (default
 * /run/vigil/beat.sock, or $VIGIL_BEAT_SOCK). The agent checks the claimed
 * pid against the kernel's SCM_CREDENTIALS and relays it to the host.
 *
 * vigil_beat() never allocates and does not block, but for a STOPPING beat
 * that finds the agent's queue full: that goodbye is retried for at most
 * VIGIL_STOPPING_WAIT_MS, since a dropped goodbye reads as a stall. When
 * the agent is busy or absent a beat is dropped and counted
 * (vigil_beat_drops()). After fork() a child beats as itself with its own
 * nonce sequence, starting at 1, and its own drop count.
 *
 * Error convention: negative errno on failure, 0 on success.
 * Thread safety: every function may be called from any thread; init,
 * close and beats are serialised by one lock (a beat never sends on a
 * socket another thread closed).
 */
#ifndef VIGIL_AGENT_H
#define VIGIL_AGENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VIGIL_AGENT_API __attribute__((visibility("default")))

#define VIGIL_BEAT_SOCK_DEFAULT "/run/vigil/beat.sock"
/*
 * The stop socket: the beat socket's path with this suffix
 * (/run/vigil/beat.sock.stop). The agent always watches it, while it reads
 * the beat socket once per coalescing window when beats are dense (up to
 * 3 ms later), so a STOPPING beat sent there is relayed at once.
 * vigil_beat() sends STOPPING there, and to the beat socket when it is
 * missing (an older agent). Other clients may send the same datagram to
 * either; on the beat socket a goodbye waits at most one window.
 */
#define VIGIL_BEAT_STOP_SUFFIX ".stop"
#define VIGIL_STOPPING_WAIT_MS  100 /* a STOPPING beat waits this long for room */
#define VIGIL_CTL_SOCK_DEFAULT  "/run/vigil/ctl.sock"

/* Beat status, as on the wire. */
#define VIGIL_STATUS_OK       0
#define VIGIL_STATUS_DEGRADED 1
#define VIGIL_STATUS_CRITICAL 2
#define VIGIL_STATUS_STOPPING 3 /* clean goodbye: the host forgets this pid */

/*
 * The datagram, little-endian, 32 bytes (other languages may send it too):
 *   0 u32 magic "VGB1"   4 u16 version (1)   6 u16 status
 *   8 u32 pid (getpid()) 12 u32 app_payload  16 u64 nonce (strictly rising)
 *  24 u32 deadline_ms   28 u32 reserved (0)
 */
#define VIGIL_BEAT_DGRAM_LEN 32
#define VIGIL_BEAT_MAGIC     0x31424756u /* "VGB1" read as little-endian */
#define VIGIL_BEAT_VERSION   1

struct vigil_agent_opts {
	size_t sz;               /* sizeof(struct vigil_agent_opts) */
	const char *socket_path; /* NULL: $VIGIL_BEAT_SOCK, then the default */
};

/*
 * Open the beat socket. Optional: vigil_beat() calls it with defaults on
 * first use. Calling it again switches the socket path; the path is kept
 * across vigil_agent_close(). Returns 0, -EINVAL for a bad opts or a path
 * too long, or -errno of socket(); after a failure every vigil_beat()
 * fails with that error (counted) until an init succeeds: beats never go
 * to a path other than the one asked for.
 */
VIGIL_AGENT_API int vigil_agent_init(const struct vigil_agent_opts *opts);

/*
 * Send one beat: status (VIGIL_STATUS_*), an opaque app_payload, and
 * deadline_ms, the promise of the next beat within that many ms. The
 * host's --stall-threshold applies to every process unless it declares its
 * own deadline this way; 0 declares none (the threshold applies). The host
 * clamps a declared deadline to its bounds. Returns 0 when the datagram
 * was queued to the agent, -EINVAL for a status over 3, -EAGAIN when the
 * agent's queue is full, -ENOENT or -ECONNREFUSED when no agent listens;
 * every failure is counted.
 */
VIGIL_AGENT_API int vigil_beat(uint16_t status, uint32_t app_payload, uint32_t deadline_ms);

/* Beats this process could not hand to the agent, every failure (since
 * start, or since fork in a child). */
VIGIL_AGENT_API uint64_t vigil_beat_drops(void);

/* Close the socket; the next vigil_beat() opens it again, on the same path. */
VIGIL_AGENT_API void vigil_agent_close(void);

/* Encode one beat datagram into out[VIGIL_BEAT_DGRAM_LEN]. */
VIGIL_AGENT_API void vigil_beat_dgram_encode(uint8_t out[VIGIL_BEAT_DGRAM_LEN], uint32_t pid,
					     uint16_t status, uint32_t app_payload, uint64_t nonce,
					     uint32_t deadline_ms);

#ifdef __cplusplus
}
#endif
#endif /* VIGIL_AGENT_H */
