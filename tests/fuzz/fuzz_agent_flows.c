/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: sock_diag datagrams (guest/flowmsg.c) read as dump replies of
 * either protocol and as destroy notifications fed to the flow tracker
 * (flows_feed), whose FLOW records must stay well formed: once into an
 * empty table (sockets first seen at their end), once after the same bytes
 * were a dump's reply (sockets the table holds).
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "flows.h"
#include "util.h"

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
	/* The port's record queue drops its oldest items when full; nothing
	 * the tracker does depends on what it holds, so it is kept. */
	static struct chan c;
	static int ready;
	static struct flows fl;
	struct flowmsg_walk w, wd;
	uint32_t held;

	if (!ready) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0 ||
		    chan_init(&c, sv[1], NULL, NULL, NULL) < 0 || flows_open(&fl, 0) < 0)
			__builtin_trap();
		ready = 1;
	}
	flowmsg_walk(data, size, IPPROTO_TCP, check, NULL, &wd);
	if (wd.sockets + wd.bad > size / 16 + 1)
		__builtin_trap(); /* each message takes at least a header */
	flowmsg_walk(data, size, IPPROTO_UDP, check, NULL, &w);
	flowmsg_walk(data, size, 0, check, NULL, &w);

	/* Destroy notifications of sockets no dump saw. A table forgotten
	 * before each run: nothing (sockets, the ring of recently destroyed
	 * cookies, the rate bound) is carried from one input to the next. */
	flows_forget(&fl);
	flows_feed(&fl, &c, data, size, NSEC_PER_SEC);
	if (fl.st.records > 2 * (uint64_t)w.sockets || fl.n != 0)
		__builtin_trap(); /* at most OPENED + CLOSED per socket; nothing tracked */

	/* The same bytes as a TCP dump's reply first (a poll in progress: the
	 * table holds its sockets, nothing is reported yet), then as destroy
	 * notifications, which close the sockets the table holds. */
	flows_forget(&fl);
	flows_feed_dump(&fl, &c, data, size, IPPROTO_TCP, NSEC_PER_SEC);
	held = fl.n;
	if (fl.st.records != 0 || held > wd.sockets)
		__builtin_trap();
	flows_feed(&fl, &c, data, size, 2 * NSEC_PER_SEC);
	if (fl.st.records > 2 * (uint64_t)w.sockets || fl.n > held)
		__builtin_trap(); /* a destroy closes, it never adds */
	return 0;
}
