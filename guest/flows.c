/* SPDX-License-Identifier: MIT */
/* flows: sock_diag polling into FLOW records (see flows.h). */
#include "flows.h"

#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

#define IDX_CAP             (FLOWS_CAP * 2)
#define TCP_ST_LISTEN       10
#define TCP_ST_TIME_WAIT    6
#define TCP_ST_NEW_SYN_RECV 12

int flows_open(struct flows *fl)
{
	struct timeval tv = { .tv_sec = 1 };

	memset(fl, 0, sizeof(*fl));
	fl->proc = "/proc";
	fl->ent = calloc(FLOWS_CAP, sizeof(*fl->ent));
	fl->idx = calloc(IDX_CAP, sizeof(*fl->idx));
	if (!fl->ent || !fl->idx) {
		flows_close(fl);
		return -ENOMEM;
	}
	fl->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fl->nl < 0) {
		int e = -errno;

		flows_close(fl);
		return e;
	}
	/* Dumps answer at once; the timeout only guards against a kernel bug. */
	setsockopt(fl->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

void flows_close(struct flows *fl)
{
	if (fl->nl > 0)
		close(fl->nl);
	free(fl->ent);
	free(fl->idx);
	memset(fl, 0, sizeof(*fl));
	fl->nl = -1;
}

static uint32_t cookie_hash(uint64_t c)
{
	return (uint32_t)((c * 0x9E3779B97F4A7C15ull) >> 51); /* 13 bits == IDX_CAP */
}

/* The entry for cookie, or NULL with *slot set to the free index slot. */
static struct flow_ent *lookup(struct flows *fl, uint64_t cookie, uint32_t *slot)
{
	uint32_t h = cookie_hash(cookie);

	while (fl->idx[h]) {
		struct flow_ent *e = &fl->ent[fl->idx[h] - 1];

		if (e->cookie == cookie)
			return e;
		h = (h + 1) & (IDX_CAP - 1);
	}
	*slot = h;
	return NULL;
}

static void reindex(struct flows *fl)
{
	memset(fl->idx, 0, IDX_CAP * sizeof(*fl->idx));
	for (uint32_t i = 0; i < fl->n; i++) {
		uint32_t h = cookie_hash(fl->ent[i].cookie);

		while (fl->idx[h])
			h = (h + 1) & (IDX_CAP - 1);
		fl->idx[h] = (uint16_t)(i + 1);
	}
}

int flows_parse_msg(const uint8_t *p, size_t len, uint8_t protocol, struct vigil_flow *f,
		    uint64_t *cookie, uint32_t *inode)
{
	struct inet_diag_msg m;
	size_t off;

	if (len < sizeof(m))
		return -EBADMSG;
	memcpy(&m, p, sizeof(m));
	if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6)
		return -EBADMSG;
	memset(f, 0, sizeof(*f));
	f->family = m.idiag_family == AF_INET ? 4 : 6;
	f->protocol = protocol;
	f->src_port = ntohs(m.id.idiag_sport);
	f->dst_port = ntohs(m.id.idiag_dport);
	memcpy(f->src_addr, m.id.idiag_src, f->family == 4 ? 4 : 16);
	memcpy(f->dst_addr, m.id.idiag_dst, f->family == 4 ? 4 : 16);
	*cookie = (uint64_t)m.id.idiag_cookie[0] | ((uint64_t)m.id.idiag_cookie[1] << 32);
	*inode = m.idiag_inode;
	off = NLMSG_ALIGN(sizeof(m));
	while (off + sizeof(struct rtattr) <= len) {
		struct rtattr a;

		memcpy(&a, p + off, sizeof(a));
		if (a.rta_len < sizeof(a) || off + a.rta_len > len)
			break;
		if (a.rta_type == INET_DIAG_INFO && protocol == IPPROTO_TCP) {
			struct tcp_info ti;
			size_t n = a.rta_len - RTA_LENGTH(0);

			memset(&ti, 0, sizeof(ti));
			memcpy(&ti, p + off + RTA_LENGTH(0), n < sizeof(ti) ? n : sizeof(ti));
			f->bytes = ti.tcpi_bytes_acked + ti.tcpi_bytes_received;
			f->packets = ti.tcpi_segs_out + ti.tcpi_segs_in;
		}
		off += RTA_ALIGN(a.rta_len);
	}
	return 0;
}

static void see(struct flows *fl, const struct vigil_flow *f, uint64_t cookie, uint32_t inode,
		uint64_t now_ns)
{
	uint32_t slot = 0;
	struct flow_ent *e = lookup(fl, cookie, &slot);

	if (!e) {
		if (fl->n >= FLOWS_CAP) {
			fl->st.untracked++;
			return;
		}
		e = &fl->ent[fl->n];
		memset(e, 0, sizeof(*e));
		e->cookie = cookie;
		e->inode = inode;
		e->f = *f;
		e->f.event = 0; /* not reported yet */
		e->f.first_seen_ns = now_ns;
		fl->idx[slot] = (uint16_t)(++fl->n);
	}
	e->gen = fl->gen;
	e->bytes = f->bytes;
	e->packets = f->packets;
	/* Addresses of a UDP socket change when it connects: keep the latest. */
	memcpy(e->f.dst_addr, f->dst_addr, 16);
	e->f.dst_port = f->dst_port;
}

static int dump(struct flows *fl, uint8_t family, uint8_t protocol, uint64_t now_ns)
{
	static uint8_t buf[32768] __attribute__((aligned(8)));
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req = { 0 };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = fl->gen;
	req.r.sdiag_family = family;
	req.r.sdiag_protocol = protocol;
	req.r.idiag_ext = 1u << (INET_DIAG_INFO - 1);
	req.r.idiag_states =
	    protocol == IPPROTO_TCP
		? ~((1u << TCP_ST_LISTEN) | (1u << TCP_ST_TIME_WAIT) | (1u << TCP_ST_NEW_SYN_RECV))
		: ~0u;
	if (sendto(fl->nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fl->nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h;
		size_t left;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		left = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			struct vigil_flow f;
			uint64_t cookie;
			uint32_t inode;

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *err = NLMSG_DATA(h);

				return h->nlmsg_len >= NLMSG_LENGTH(sizeof(*err)) && err->error
					   ? err->error
					   : -EPROTO;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
				continue;
			if (flows_parse_msg(NLMSG_DATA(h), h->nlmsg_len - NLMSG_LENGTH(0), protocol,
					    &f, &cookie, &inode) == 0)
				see(fl, &f, cookie, inode, now_ns);
		}
	}
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
		char path[600], link[64];
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
			uint64_t ino;
			ssize_t n;
			char *end;

			if (fe->d_name[0] == '.')
				continue;
			budget--;
			snprintf(path, sizeof(path), "%s/%s/fd/%s", fl->proc, de->d_name,
				 fe->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n < 9 || memcmp(link, "socket:[", 8) != 0)
				continue;
			link[n] = '\0';
			end = strchr(link + 8, ']');
			if (!end)
				continue;
			*end = '\0';
			if (util_parse_u64(link + 8, UINT32_MAX, &ino) < 0)
				continue;
			for (uint32_t i = 0; i < fl->n; i++) {
				struct flow_ent *e = &fl->ent[i];

				if (!e->pid_known && e->inode == ino) {
					e->f.pid = (uint32_t)pid;
					e->pid_known = true;
					want--;
				}
			}
		}
		closedir(fd_dir);
	}
	closedir(d);
	/* Whatever was not found stays unknown (0): do not scan for it again. */
	for (uint32_t i = 0; i < fl->n; i++)
		fl->ent[i].pid_known = true;
}

/* Queue one record; frames of up to 1024 records are built in *batch. */
struct batch {
	struct vigil_flow rec[64];
	uint32_t n;
};

static void flush_batch(struct flows *fl, struct chan *c, struct batch *b)
{
	uint32_t len = b->n * VIGIL_WIRE_FLOW_LEN;
	uint8_t *p;
	int e;

	if (!b->n)
		return;
	p = chan_reserve(c, CHAN_Q_REC, len);
	if (p) {
		e = vigil_flows_encode(p, len, b->rec, b->n);
		if (e > 0)
			chan_commit(c, CHAN_Q_REC, VIGIL_MSG_FLOW, (uint32_t)e, false);
	}
	fl->st.records += b->n;
	b->n = 0;
}

static void emit(struct flows *fl, struct chan *c, struct batch *b, struct flow_ent *e, uint8_t ev)
{
	e->f.event = ev;
	e->f.bytes = e->bytes;
	e->f.packets = e->packets;
	b->rec[b->n++] = e->f;
	if (b->n == ARRAY_SIZE(b->rec))
		flush_batch(fl, c, b);
}

int flows_poll(struct flows *fl, struct chan *c, uint64_t now_ns)
{
	static const uint8_t fam[] = { AF_INET, AF_INET6 };
	static const uint8_t proto[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct batch b = { .n = 0 };
	uint32_t out = 0;
	int e;

	fl->gen++;
	for (size_t i = 0; i < ARRAY_SIZE(fam); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(proto); j++) {
			e = dump(fl, fam[i], proto[j], now_ns);
			if (e < 0) {
				/* A partial view must not read as "everything closed". */
				fl->st.dump_errors++;
				for (uint32_t k = 0; k < fl->n; k++)
					fl->ent[k].gen = fl->gen;
				return e;
			}
		}
	}
	find_pids(fl);
	for (uint32_t i = 0; i < fl->n;) {
		struct flow_ent *en = &fl->ent[i];

		if (en->gen != fl->gen) {
			if (en->f.event) {
				emit(fl, c, &b, en, VIGIL_FLOW_CLOSED);
				fl->st.closed++;
				out++;
			}
			fl->ent[i] = fl->ent[--fl->n];
			continue;
		}
		if (!en->f.event) {
			emit(fl, c, &b, en, VIGIL_FLOW_OPENED);
			fl->st.opened++;
			out++;
		} else if (en->bytes != en->f.bytes || en->packets != en->f.packets) {
			emit(fl, c, &b, en, VIGIL_FLOW_ACTIVE);
			fl->st.active++;
			out++;
		}
		i++;
	}
	flush_batch(fl, c, &b);
	reindex(fl);
	return (int)out;
}
