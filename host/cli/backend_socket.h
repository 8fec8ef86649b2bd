/* SPDX-License-Identifier: MIT */
/*
 * backend_socket: the guest backend of `vigil attach`: a QEMU started
 * elsewhere serves the vigil port on a unix socket (and maybe QMP on
 * another). The guest is never stopped: stopping lets go of the sockets.
 *
 * Owns: connecting, connecting again every VIGIL_SOCKET_RECONNECT_NS while
 * the port is closed (QEMU serves one client at a time; the session's link
 * grace decides LINK_LOST), the QMP link when given, snapshots through it.
 */
#ifndef VIGIL_CLI_BACKEND_SOCKET_H
#define VIGIL_CLI_BACKEND_SOCKET_H

#include "guest.h"
#include "watch.h"

#define VIGIL_SOCKET_RECONNECT_NS (200 * 1000000ull)

struct vigil_socket_be;

extern const struct vigil_guest_ops vigil_socket_ops;

int vigil_socket_be_new(struct vigil_loop *l, const struct vigil_run_opts *o,
			struct vigil_socket_be **out);
/* Connect the port (and QMP). 0 or -errno (said on stderr). */
int vigil_socket_be_start(struct vigil_socket_be *b, struct vigil_guest *g);
const char *vigil_socket_be_version(const struct vigil_socket_be *b);
bool vigil_socket_be_has_qmp(const struct vigil_socket_be *b);

#endif /* VIGIL_CLI_BACKEND_SOCKET_H */
