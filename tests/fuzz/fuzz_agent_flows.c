/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: sock_diag datagrams (guest/flowmsg.c) read as dump replies of
 * either protocol and as destroy notifications fed to the flow tracker
 * (flows_feed), whose FLOW records must stay well formed.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "flows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(void *ctx, const struct flowmsg *m)
{
	static const uint8_t zero[12];

	(void)ctx;
	if (m->f.family != 4 && m->f.family != 6)
		__builtin_trap();
	if (m->f.protocol != IPPROTO_TCP && m->f.protocol != IPPROTO_UDP)
		__builtin_trap();
	if (m->f.family == 4 &&
	    (memcmp(m->f.src_addr + 4, zero, 12) || memcmp(m->f.dst_addr + 4, zero, 12)))
		__builtin_trap(); /* FLOW records would be malformed */
	if (!m->info && m->f.bytes)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct flows fl;
	static struct chan c;
	static int ready;
	static uint64_t now;
	struct flowmsg_walk w;
	uint64_t before;

	if (!ready) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0 ||
		    chan_init(&c, sv[1], NULL, NULL, NULL) < 0 || flows_open(&fl, 0) < 0)
			__builtin_trap();
		ready = 1;
	}
	flowmsg_walk(data, size, IPPROTO_TCP, check, NULL, &w);
	if (w.sockets + w.bad > size / 16 + 1)
		__builtin_trap(); /* each message takes at least a header */
	flowmsg_walk(data, size, IPPROTO_UDP, check, NULL, &w);
	flowmsg_walk(data, size, 0, check, NULL, &w);
	before = fl.st.records;
	now += 1000000;
	flows_feed(&fl, &c, data, size, now);
	if (fl.st.records - before > 2 * (uint64_t)w.sockets || fl.n != 0)
		__builtin_trap(); /* at most OPENED + CLOSED per socket; nothing tracked */
	return 0;
}
