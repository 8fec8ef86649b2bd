/* SPDX-License-Identifier: MIT */
/*
 * flowmsg: the NETLINK_SOCK_DIAG messages the agent reads, parsed from
 * bytes (no I/O, no allocation), so tests and the fuzzer can feed them.
 *
 * Kinds: a dump reply (SOCK_DIAG_BY_FAMILY: struct inet_diag_msg, then
 * attributes; INET_DIAG_INFO is struct tcp_info for TCP), a destroy
 * notification from the SKNLGRP_INET*_DESTROY groups (the same layout,
 * with INET_DIAG_PROTOCOL naming the protocol and no inode), NLMSG_DONE
 * and NLMSG_ERROR. Other message types are skipped.
 *
 * Limits: the kernel's bytes are checked, never trusted: a message shorter
 * than its header, an attribute running past its message, an address
 * family other than AF_INET/AF_INET6 or a protocol other than TCP/UDP is
 * malformed and counted by the caller; a tcp_info shorter than the
 * kernel's is read as far as it goes.
 */
#ifndef VIGIL_GUEST_FLOWMSG_H
#define VIGIL_GUEST_FLOWMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vigil/wire.h>

#define FLOWMSG_TCP_LISTEN 10 /* sk_state of a listening TCP socket */
#define FLOWMSG_UDP_UNCONN 7  /* TCP_CLOSE: a UDP socket with no peer */

/* One socket as sock_diag describes it. */
struct flowmsg {
	struct vigil_flow f; /* family, protocol, ports, addresses; TCP bytes and packets */
	uint64_t cookie;     /* the kernel's socket cookie */
	uint32_t inode;      /* 0 in destroy notifications */
	uint8_t state;       /* sk_state: TCP's numbering, UDP 1 connected or 7 not */
	bool info;           /* a tcp_info was present */
};

/*
 * Parse one message payload (after the nlmsghdr). protocol: the dump's
 * (6, 17), or 0 to take it from INET_DIAG_PROTOCOL (destroy
 * notifications). 0, or -EBADMSG.
 */
int flowmsg_parse(const uint8_t *p, size_t len, uint8_t protocol, struct flowmsg *m);

typedef void (*flowmsg_fn)(void *ctx, const struct flowmsg *m);

struct flowmsg_walk {
	uint32_t sockets; /* messages handed to fn */
	uint32_t bad;     /* malformed socket messages skipped */
	uint32_t other;   /* message types neither socket, DONE nor ERROR */
	int error;        /* NLMSG_ERROR's errno (negative), 0 if none */
	bool done;        /* NLMSG_DONE seen: the dump is over */
};

/*
 * Walk one datagram of netlink messages, calling fn for each socket. Stops
 * at NLMSG_DONE, NLMSG_ERROR, or a header that does not fit (the rest of a
 * torn datagram counts as one bad message). Any alignment of buf.
 */
void flowmsg_walk(const uint8_t *buf, size_t len, uint8_t protocol, flowmsg_fn fn, void *ctx,
		  struct flowmsg_walk *w);

#endif
