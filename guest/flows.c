/* SPDX-License-Identifier: MIT */
/* flows: sock_diag notifications, dumps and flowbpf into FLOW records (see flows.h). */
#include "flows.h"

#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

#define IDX_CAP             (FLOWS_CAP * 2)
#define TCP_ST_TIME_WAIT    6
#define TCP_ST_CLOSE        7 /* bound or unused: neither a flow nor a listener */
#define TCP_ST_NEW_SYN_RECV 12

/* ---- opening ------------------------------------------------------------ */

/* The first cgroup v2 mount in <proc>/self/mounts into out; 0 or -ENOENT. */
static int cgroup2_dir(const char *proc, char *out, size_t cap)
{
	char path[256], line[512], dir[256], type[32];
	FILE *f;
	int e = -ENOENT;

	snprintf(path, sizeof(path), "%s/self/mounts", proc);
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %255s %31s", dir, type) == 2 && !strcmp(type, "cgroup2") &&
		    strlen(dir) < cap) {
			memcpy(out, dir, strlen(dir) + 1);
			e = 0;
			break;
		}
	}
	fclose(f);
	return e;
}

/* The destroy-notification socket, or -errno (why says). */
static int open_events(struct flows *fl)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int rcvbuf = FLOWS_RCVBUF;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (fd < 0)
		return -errno;
	sa.nl_groups = 1u << (SKNLGRP_INET_TCP_DESTROY - 1) | 1u << (SKNLGRP_INET_UDP_DESTROY - 1) |
		       1u << (SKNLGRP_INET6_TCP_DESTROY - 1) |
		       1u << (SKNLGRP_INET6_UDP_DESTROY - 1);
	/* A burst of short connections outruns the default buffer (docs/agent.md). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		snprintf(fl->why, sizeof(fl->why),
			 "no destroy notifications (%s): flows shorter than the poll are missed",
			 strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

static void open_bpf(struct flows *fl)
{
	char dir[256], why[160];
	int e = cgroup2_dir(fl->proc, dir, sizeof(dir));

	if (e < 0) {
		snprintf(fl->why, sizeof(fl->why),
			 "no cgroup v2 mount: UDP bytes and short-lived owners unknown");
		return;
	}
	e = flowbpf_open(&fl->bpf, dir, why, sizeof(why));
	fl->have_bpf = e == 0;
	if (e < 0) {
		/* the reason is cut to leave room for what it costs */
		snprintf(fl->why, sizeof(fl->why),
			 "%.150s: UDP bytes and short-lived owners unknown", why);
	}
}

int flows_open(struct flows *fl, unsigned want)
{
	struct timeval tv = { .tv_sec = 1 };

	memset(fl, 0, sizeof(*fl));
	fl->ev = -1;
	fl->bpf.map = -1;
	fl->proc = "/proc";
	fl->ent = calloc(FLOWS_CAP, sizeof(*fl->ent));
	fl->idx = calloc(IDX_CAP, sizeof(*fl->idx));
	if (!fl->ent || !fl->idx) {
		flows_close(fl);
		return -ENOMEM;
	}
	flows_forget(fl);
	fl->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fl->nl < 0) {
		int e = -errno;

		flows_close(fl);
		return e;
	}
	/* Dumps answer at once; the timeout only guards against a kernel bug. */
	setsockopt(fl->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (want & FLOWS_WANT_EVENTS) {
		int fd = open_events(fl);

		fl->ev = fd < 0 ? -1 : fd;
	}
	if (want & FLOWS_WANT_BPF)
		open_bpf(fl);
	return 0;
}

void flows_forget(struct flows *fl)
{
	memset(fl->idx, 0, IDX_CAP * sizeof(*fl->idx));
	memset(fl->dead, 0, sizeof(fl->dead));
	memset(&fl->st, 0, sizeof(fl->st));
	fl->n = fl->nbatch = fl->dead_next = fl->gen = fl->step = 0;
	fl->more = false;
	fl->tokens = FLOWS_BURST;
	fl->refill_ns = 0;
}

void flows_close(struct flows *fl)
{
	if (fl->nl > 0)
		close(fl->nl);
	if (fl->ev > 0)
		close(fl->ev);
	if (fl->have_bpf)
		flowbpf_close(&fl->bpf);
	free(fl->ent);
	free(fl->idx);
	memset(fl, 0, sizeof(*fl));
	fl->nl = fl->ev = -1;
}

/* ---- the table of live sockets ------------------------------------------ */

static uint32_t cookie_hash(uint64_t c)
{
	return (uint32_t)((c * 0x9E3779B97F4A7C15ull) >> 51); /* 13 bits == IDX_CAP */
}

/* The index slot holding cookie, or the free slot where it would go (*found false). */
static uint32_t slot_of(const struct flows *fl, uint64_t cookie, bool *found)
{
	uint32_t h = cookie_hash(cookie);

	while (fl->idx[h]) {
		if (fl->ent[fl->idx[h] - 1].cookie == cookie) {
			*found = true;
			return h;
		}
		h = (h + 1) & (IDX_CAP - 1);
	}
	*found = false;
	return h;
}

static struct flow_ent *lookup(struct flows *fl, uint64_t cookie)
{
	bool found;
	uint32_t h = slot_of(fl, cookie, &found);

	return found ? &fl->ent[fl->idx[h] - 1] : NULL;
}

/* Backward-shift deletion of index slot pos (linear probing). */
static void idx_delete(struct flows *fl, uint32_t pos)
{
	uint32_t hole = pos, cur = pos;

	for (;;) {
		cur = (cur + 1) & (IDX_CAP - 1);
		if (!fl->idx[cur])
			break;
		uint32_t home = cookie_hash(fl->ent[fl->idx[cur] - 1].cookie);

		if (((cur - home) & (IDX_CAP - 1)) >= ((cur - hole) & (IDX_CAP - 1))) {
			fl->idx[hole] = fl->idx[cur];
			hole = cur;
		}
	}
	fl->idx[hole] = 0;
}

/* Remove entry e: the last entry moves into its place. */
static void remove_ent(struct flows *fl, struct flow_ent *e)
{
	uint32_t i = (uint32_t)(e - fl->ent);
	bool found;

	idx_delete(fl, slot_of(fl, e->cookie, &found));
	if (i != fl->n - 1) {
		uint32_t h = slot_of(fl, fl->ent[fl->n - 1].cookie, &found);

		fl->ent[i] = fl->ent[fl->n - 1];
		fl->idx[h] = (uint16_t)(i + 1);
	}
	fl->n--;
}

/* ---- records ------------------------------------------------------------- */

static void flush_batch(struct flows *fl, struct chan *c)
{
	uint32_t len = fl->nbatch * VIGIL_WIRE_FLOW_LEN;
	uint8_t *p;
	int e;

	if (!fl->nbatch)
		return;
	p = chan_reserve(c, CHAN_Q_REC, len);
	if (p) {
		e = vigil_flows_encode(p, len, fl->batch, fl->nbatch);
		if (e > 0)
			chan_commit(c, CHAN_Q_REC, VIGIL_MSG_FLOW, (uint32_t)e, false);
	}
	fl->st.records += fl->nbatch;
	fl->nbatch = 0;
}

static void put(struct flows *fl, struct chan *c, const struct vigil_flow *f)
{
	fl->batch[fl->nbatch++] = *f;
	if (fl->nbatch == FLOWS_BATCH)
		flush_batch(fl, c);
}

static void emit(struct flows *fl, struct chan *c, struct flow_ent *e, uint8_t ev)
{
	e->f.event = ev;
	e->f.bytes = e->bytes;
	e->f.packets = e->packets;
	put(fl, c, &e->f);
	if (ev == VIGIL_FLOW_OPENED) {
		fl->st.opened++;
		fl->st.listening += e->listen;
	} else if (ev == VIGIL_FLOW_CLOSED) {
		fl->st.closed++;
	} else {
		fl->st.active++;
	}
}

/* Take n records from the rate bound; false when it is empty. */
static bool rate_take(struct flows *fl, uint32_t n, uint64_t now_ns)
{
	if (now_ns > fl->refill_ns) {
		uint64_t add = (now_ns - fl->refill_ns) * FLOWS_RATE / NSEC_PER_SEC;

		if (add) {
			fl->tokens =
			    fl->tokens + add > FLOWS_BURST ? FLOWS_BURST : fl->tokens + add;
			fl->refill_ns = now_ns;
		}
	}
	if (fl->tokens < n)
		return false;
	fl->tokens -= n;
	return true;
}

/* ---- destroy notifications ---------------------------------------------- */

struct ctx {
	struct flows *fl;
	struct chan *c;
	uint64_t now_ns;
};

/* A listening socket: TCP in LISTEN, UDP without a peer (as `ss -l` counts them). */
static bool is_listen(const struct flowmsg *m)
{
	if (m->f.protocol == IPPROTO_TCP)
		return m->state == FLOWMSG_TCP_LISTEN;
	return m->f.dst_port == 0;
}

/* A socket first seen at its end: OPENED and CLOSED at once, if it is a flow. */
static void short_flow(struct ctx *x, const struct flowmsg *m, const struct flowbpf_val *v,
		       bool got)
{
	struct flows *fl = x->fl;
	struct vigil_flow f = m->f;

	if (m->f.protocol == IPPROTO_TCP ? m->f.dst_port == 0
					 : (fl->have_bpf && (!got || !v->packets))) {
		fl->st.not_flows++; /* never connected, or never moved a datagram */
		return;
	}
	if (!rate_take(fl, 2, x->now_ns)) {
		fl->st.rate_dropped++;
		return;
	}
	if (got) {
		f.pid = v->pid;
		f.first_seen_ns = v->first_ns ? v->first_ns : x->now_ns;
		if (m->f.protocol == IPPROTO_UDP) {
			f.bytes = v->bytes;
			f.packets = v->packets;
		}
	} else {
		f.first_seen_ns = x->now_ns;
	}
	f.event = VIGIL_FLOW_OPENED;
	put(fl, x->c, &f);
	f.event = VIGIL_FLOW_CLOSED;
	put(fl, x->c, &f);
	fl->st.short_flows++;
	fl->st.opened++;
	fl->st.closed++;
	fl->st.listening += is_listen(m);
}

static bool recently_dead(const struct flows *fl, uint64_t cookie)
{
	for (uint32_t i = 0; i < FLOWS_DEAD; i++) {
		if (fl->dead[i] == cookie)
			return cookie != 0;
	}
	return false;
}

static void on_destroy(void *ctx, const struct flowmsg *m)
{
	struct ctx *x = ctx;
	struct flows *fl = x->fl;
	struct flowbpf_val v = { 0 };
	int got = fl->have_bpf ? flowbpf_get(&fl->bpf, m->cookie, &v, true) : 0;
	struct flow_ent *e = lookup(fl, m->cookie);

	if (!e && recently_dead(fl, m->cookie)) {
		fl->st.dup_destroys++; /* its close is out: the same socket told twice */
		return;
	}
	fl->dead[fl->dead_next] = m->cookie;
	fl->dead_next = (fl->dead_next + 1) % FLOWS_DEAD;

	if (!e) {
		short_flow(x, m, &v, got > 0);
		return;
	}
	if (m->info) {
		e->bytes = m->f.bytes;
		e->packets = m->f.packets;
	} else if (got > 0 && m->f.protocol == IPPROTO_UDP) {
		e->bytes = v.bytes;
		e->packets = v.packets;
	}
	if (!e->f.pid && got > 0)
		e->f.pid = v.pid;
	/* A dump saw it but the poll has not reported it yet (the poll is
	 * spread over turns of the loop): it opens and closes now. */
	if (!e->f.event)
		emit(fl, x->c, e, VIGIL_FLOW_OPENED);
	emit(fl, x->c, e, VIGIL_FLOW_CLOSED);
	remove_ent(fl, e);
}

static void feed(struct flows *fl, struct chan *c, const uint8_t *buf, size_t len, uint64_t now_ns)
{
	struct ctx x = { fl, c, now_ns };
	struct flowmsg_walk w;

	flowmsg_walk(buf, len, 0, on_destroy, &x, &w);
	fl->st.bad_msgs += w.bad;
}

void flows_feed(struct flows *fl, struct chan *c, const uint8_t *buf, size_t len, uint64_t now_ns)
{
	feed(fl, c, buf, len, now_ns);
	flush_batch(fl, c);
}

int flows_read(struct flows *fl, struct chan *c, uint64_t now_ns)
{
	static uint8_t buf[8192] __attribute__((aligned(8)));
	uint64_t before = fl->st.records;

	fl->more = false;
	if (fl->ev < 0)
		return 0;
	for (uint32_t i = 0; i < FLOWS_EV_BUDGET; i++) {
		struct sockaddr_nl from = { 0 };
		socklen_t fl_len = sizeof(from);
		ssize_t n =
		    recvfrom(fl->ev, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl_len);

		if (n < 0 && errno == ENOBUFS) {
			fl->st.notify_lost++; /* the next dumps close what was lost */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		fl->more = i + 1 == FLOWS_EV_BUDGET;
		if (from.nl_pid != 0) {
			fl->st.bad_msgs++; /* not from the kernel */
			continue;
		}
		feed(fl, c, buf, (size_t)n, now_ns); /* one FLOW frame per FLOWS_BATCH records */
	}
	flush_batch(fl, c);
	return (int)(fl->st.records - before);
}

/* ---- dumps --------------------------------------------------------------- */

/* The socket's addresses differ from the ones reported. */
static bool moved(const struct flow_ent *e, const struct flowmsg *m)
{
	return e->f.src_port != m->f.src_port || e->f.dst_port != m->f.dst_port ||
	       memcmp(e->f.src_addr, m->f.src_addr, 16) || memcmp(e->f.dst_addr, m->f.dst_addr, 16);
}

static void see(void *ctx, const struct flowmsg *m)
{
	struct ctx *x = ctx;
	struct flows *fl = x->fl;
	struct flowbpf_val v;
	struct flow_ent *e = lookup(fl, m->cookie);
	int got = 0;

	if (!e && recently_dead(fl, m->cookie))
		return; /* a dump written before the socket went: its close is out */
	if (fl->have_bpf && (!e || m->f.protocol == IPPROTO_UDP))
		got = flowbpf_get(&fl->bpf, m->cookie, &v, false);
	if (!e) {
		bool found;
		uint32_t slot = slot_of(fl, m->cookie, &found);

		if (fl->n >= FLOWS_CAP) {
			fl->st.untracked++;
			return;
		}
		e = &fl->ent[fl->n];
		memset(e, 0, sizeof(*e));
		e->cookie = m->cookie;
		e->inode = m->inode;
		e->listen = is_listen(m);
		e->f = m->f;
		e->f.event = 0; /* not reported yet */
		e->f.first_seen_ns = got > 0 && v.first_ns ? v.first_ns : x->now_ns;
		e->f.pid = got > 0 ? v.pid : 0;
		e->pid_known = e->f.pid != 0;
		fl->idx[slot] = (uint16_t)(++fl->n);
	}
	e->gen = fl->gen;
	e->bytes = m->f.bytes;
	e->packets = m->f.packets;
	if (got > 0 && m->f.protocol == IPPROTO_UDP) {
		e->bytes = v.bytes;
		e->packets = v.packets;
	}
	/* A UDP socket that connects (or reconnects) changes addresses; the
	 * host keys flows by them: the old flow closes, the new one opens. */
	if (e->f.event && moved(e, m)) {
		emit(fl, x->c, e, VIGIL_FLOW_CLOSED);
		e->f.event = 0;
	}
	e->listen = is_listen(m);
	e->f.src_port = m->f.src_port;
	e->f.dst_port = m->f.dst_port;
	memcpy(e->f.src_addr, m->f.src_addr, 16);
	memcpy(e->f.dst_addr, m->f.dst_addr, 16);
}

static int dump(struct flows *fl, struct chan *c, uint8_t family, uint8_t protocol, uint64_t now_ns)
{
	static uint8_t buf[32768] __attribute__((aligned(8)));
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req = { 0 };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct ctx x = { fl, c, now_ns };

	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = fl->gen;
	req.r.sdiag_family = family;
	req.r.sdiag_protocol = protocol;
	req.r.idiag_ext = 1u << (INET_DIAG_INFO - 1);
	req.r.idiag_states =
	    protocol == IPPROTO_TCP
		? ~((1u << TCP_ST_TIME_WAIT) | (1u << TCP_ST_NEW_SYN_RECV) | (1u << TCP_ST_CLOSE))
		: ~0u;
	if (sendto(fl->nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fl->nl, buf, sizeof(buf), 0);
		struct flowmsg_walk w;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		flowmsg_walk(buf, (size_t)n, protocol, see, &x, &w);
		fl->st.bad_msgs += w.bad;
		if (w.error)
			return w.error;
		if (w.done || n == 0)
			return 0;
	}
}

/* Match one /proc/<pid>/fd link to the entries still without a pid. */
static uint32_t match_fd(struct flows *fl, const char *path, uint32_t pid)
{
	char link[64];
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	uint64_t ino;
	char *end;
	uint32_t hit = 0;

	if (n < 9 || memcmp(link, "socket:[", 8) != 0)
		return 0;
	link[n] = '\0';
	end = strchr(link + 8, ']');
	if (!end)
		return 0;
	*end = '\0';
	if (util_parse_u64(link + 8, UINT32_MAX, &ino) < 0)
		return 0;
	for (uint32_t i = 0; i < fl->n; i++) {
		struct flow_ent *e = &fl->ent[i];

		if (!e->pid_known && e->inode == ino) {
			e->f.pid = pid;
			e->pid_known = true;
			hit++;
		}
	}
	return hit;
}

/* Fill pids of new entries from /proc/<pid>/fd links, within FLOWS_FD_SCAN. */
static void find_pids(struct flows *fl)
{
	uint32_t want = 0, budget = FLOWS_FD_SCAN;
	DIR *d;
	struct dirent *de;

	for (uint32_t i = 0; i < fl->n; i++)
		want += !fl->ent[i].pid_known && fl->ent[i].inode;
	if (!want || !(d = opendir(fl->proc)))
		return;
	while (want && budget && (de = readdir(d))) {
		char path[600];
		uint64_t pid;
		DIR *fd_dir;
		struct dirent *fe;

		if (util_parse_u64(de->d_name, UINT32_MAX, &pid) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/fd", fl->proc, de->d_name);
		fd_dir = opendir(path);
		if (!fd_dir)
			continue;
		while (want && budget && (fe = readdir(fd_dir))) {
			if (fe->d_name[0] == '.')
				continue;
			budget--;
			snprintf(path, sizeof(path), "%s/%s/fd/%s", fl->proc, de->d_name,
				 fe->d_name);
			uint32_t hit = match_fd(fl, path, (uint32_t)pid);

			want -= hit < want ? hit : want;
		}
		closedir(fd_dir);
	}
	closedir(d);
	/* Whatever was not found stays unknown (0): do not scan for it again. */
	for (uint32_t i = 0; i < fl->n; i++)
		fl->ent[i].pid_known = true;
}

/* After a dump: report what it changed. */
static void diff(struct flows *fl, struct chan *c)
{
	for (uint32_t i = 0; i < fl->n;) {
		struct flow_ent *en = &fl->ent[i];

		if (en->gen != fl->gen) {
			/* With notifications, a socket gone from one dump may only be
			 * waiting for its notification: close at the second miss. */
			if (fl->ev >= 0 && fl->gen - en->gen < 2) {
				i++;
				continue;
			}
			if (en->f.event) {
				emit(fl, c, en, VIGIL_FLOW_CLOSED);
				fl->st.poll_closed += fl->ev >= 0;
			}
			remove_ent(fl, en);
			continue; /* the last entry moved into i */
		}
		if (!en->f.event)
			emit(fl, c, en, VIGIL_FLOW_OPENED);
		else if (!en->listen && (en->bytes != en->f.bytes || en->packets != en->f.packets))
			emit(fl, c, en, VIGIL_FLOW_ACTIVE);
		i++;
	}
}

int flows_poll_step(struct flows *fl, struct chan *c, uint64_t now_ns)
{
	static const uint8_t fam[FLOWS_TABLES] = { AF_INET, AF_INET, AF_INET6, AF_INET6 };
	static const uint8_t proto[FLOWS_TABLES] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_TCP,
						     IPPROTO_UDP };
	int e;

	/* Closes already reported go first, so a dump cannot reopen them. */
	flows_read(fl, c, now_ns);
	if (fl->step == 0)
		fl->gen++;
	e = dump(fl, c, fam[fl->step], proto[fl->step], now_ns);
	if (e < 0) {
		/* A partial view must not read as "everything closed". */
		fl->st.dump_errors++;
		for (uint32_t k = 0; k < fl->n; k++)
			fl->ent[k].gen = fl->gen;
		fl->step = 0;
		flush_batch(fl, c);
		return e;
	}
	if (++fl->step < FLOWS_TABLES) {
		flush_batch(fl, c);
		return 1;
	}
	fl->step = 0;
	find_pids(fl);
	diff(fl, c);
	flush_batch(fl, c);
	return 0;
}

int flows_poll(struct flows *fl, struct chan *c, uint64_t now_ns)
{
	uint64_t before = fl->st.records;
	int e;

	while ((e = flows_poll_step(fl, c, now_ns)) > 0)
		;
	return e < 0 ? e : (int)(fl->st.records - before);
}

void flows_feed_dump(struct flows *fl, struct chan *c, const uint8_t *buf, size_t len,
		     uint8_t protocol, uint64_t now_ns)
{
	struct ctx x = { fl, c, now_ns };
	struct flowmsg_walk w;

	flowmsg_walk(buf, len, protocol, see, &x, &w);
	fl->st.bad_msgs += w.bad;
	flush_batch(fl, c);
}
