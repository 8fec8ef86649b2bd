/* SPDX-License-Identifier: MIT */
/*
 * flowbpf: what sock_diag cannot tell about a socket, counted by two small
 * cgroup BPF programs the agent assembles itself (no libbpf, no ELF): the
 * owner pid and creation time of every TCP and UDP socket made by socket(),
 * and the payload bytes and packets of every UDP socket (the kernel keeps no
 * per-socket UDP counters; TCP's come from tcp_info). Both programs write one
 * LRU hash keyed by the socket cookie, the same cookie sock_diag reports, so
 * flows.c reads a socket's entry (and deletes it) when the socket is
 * destroyed.
 *
 *   sock_create (cgroup/sock_create): entry = { pid, now, 0, 0 }
 *   cgroup_skb (ingress and egress):  UDP only; entry.bytes += payload,
 *                                     entry.packets++ (created on the first
 *                                     packet of a socket without one)
 *
 * The programs are attached to the root of the cgroup v2 hierarchy through
 * BPF links, so they see every process and detach when the agent exits.
 * UDP payload is the IP length less 28 bytes (IPv4: 20-byte header without
 * options) or 48 (IPv6 without extension headers).
 *
 * Limits: FLOWBPF_CAP entries (LRU: the least recently used is evicted when
 * full, so a socket whose destroy was never read cannot leak an entry). An
 * accepted TCP socket has no entry (it is not created by socket()).
 * Load: one map update per socket() and, for UDP, one lookup and two atomic
 * adds per packet in the kernel; two bpf() calls per destroyed socket in the
 * agent.
 */
#ifndef VIGIL_GUEST_FLOWBPF_H
#define VIGIL_GUEST_FLOWBPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOWBPF_CAP 16384u

/* One map value; the programs' stores use these offsets. */
struct flowbpf_val {
	uint64_t bytes;    /* UDP payload bytes, both directions */
	uint64_t first_ns; /* CLOCK_MONOTONIC at socket() or at the first packet */
	uint32_t packets;  /* UDP datagrams, both directions */
	uint32_t pid;      /* thread group that called socket(); 0 unknown */
};

struct flowbpf {
	int map;     /* -1 when off */
	int prog[2]; /* cgroup_skb, sock_create */
	int link[3]; /* ingress, egress, sock_create */
	bool pid;    /* the sock_create program records pids */
};

/*
 * Load and attach under the cgroup v2 directory cgroup (normally
 * /sys/fs/cgroup). 0, or -errno with a reason in why (cap bytes): not
 * root, no cgroup v2, a kernel without CONFIG_CGROUP_BPF or the helpers.
 * A kernel whose sock_create programs cannot read the current pid gets the
 * rest (b->pid false).
 */
int flowbpf_open(struct flowbpf *b, const char *cgroup, char *why, size_t cap);
/*
 * Load both programs through the verifier and free them, attaching
 * nothing: 0 (*pid: the pid variant loaded) or -errno with why. For tests.
 */
int flowbpf_check(bool *pid, char *why, size_t cap);
/* Detach and free; takes a closed or never-opened one. */
void flowbpf_close(struct flowbpf *b);
/* The entry for cookie into *v: 1, 0 none, -errno. del: remove it too. */
int flowbpf_get(struct flowbpf *b, uint64_t cookie, struct flowbpf_val *v, bool del);

#endif
