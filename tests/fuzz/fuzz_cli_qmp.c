/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the QMP client (host/cli/qmp.c) reading arbitrary
 * bytes from its peer: greeting, replies, events and garbage, then EOF. A
 * command is queued first so replies have something to match.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp.h"

static void on_event(void *ctx, const char *name, struct json_object *data, uint64_t ts)
{
	(void)ctx;
	(void)name;
	(void)data;
	(void)ts;
}

static void on_reply(void *ctx, int err, struct json_object *ret, const char *desc)
{
	(void)ctx;
	(void)err;
	(void)ret;
	(void)desc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vigil_qmp *q;
	int sv[2];

	if (size > 200000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	if (vigil_qmp_new(sv[0], on_event, NULL, &q) < 0) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	vigil_qmp_command(q, "query-status", NULL, on_reply, NULL);
	if (write(sv[1], data, size) == (ssize_t)size) {
		while (vigil_qmp_on_readable(q) == 0 && vigil_qmp_stats(q)->bytes_in < size)
			;
		/* Then EOF (QEMU gone): the client dies, and a dead one stays dead. */
		if (shutdown(sv[1], SHUT_WR) < 0)
			abort();
		while (vigil_qmp_on_readable(q) == 0)
			;
		if (vigil_qmp_on_readable(q) != -EPIPE || vigil_qmp_stats(q)->bytes_in > size)
			__builtin_trap();
	}
	vigil_qmp_free(q);
	close(sv[1]);
	return 0;
}
