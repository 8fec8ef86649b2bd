/* SPDX-License-Identifier: MIT */
/*
 * flowbpf: the two cgroup programs and their map (see flowbpf.h). The
 * programs are a few dozen instructions written out below with the
 * kernel's uapi opcodes; each line's comment is the instruction in the
 * verifier's notation.
 */
#include "flowbpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CGROUP2_MAGIC 0x63677270

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV_REG(d, s)        INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i)        INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ALU_IMM(op, d, i)    INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define LDX(sz, d, s, o)     INSN(BPF_LDX | (sz) | BPF_MEM, d, s, o, 0)
#define STX(sz, d, s, o)     INSN(BPF_STX | (sz) | BPF_MEM, d, s, o, 0)
#define ST_IMM(sz, d, o, i)  INSN(BPF_ST | (sz) | BPF_MEM, d, 0, o, i)
#define XADD(sz, d, s, o)    INSN(BPF_STX | (sz) | BPF_ATOMIC, d, s, o, BPF_ADD)
#define JMP_IMM(op, d, i, o) INSN(BPF_JMP | (op) | BPF_K, d, 0, o, i)
#define JA(o)                INSN(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define CALL(fn)             INSN(BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define EXIT()               INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LD_MAP(d, fd)                                                                              \
	INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), INSN(0, 0, 0, 0, 0)

/* Stack: key (cookie) at -8, a struct flowbpf_val at -32. */
#define KEY   (-8)
#define VAL   (-32)
#define V_PKT (VAL + (int)offsetof(struct flowbpf_val, packets))
#define V_PID (VAL + (int)offsetof(struct flowbpf_val, pid))
#define V_T   (VAL + (int)offsetof(struct flowbpf_val, first_ns))

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/*
 * cgroup_skb: count a UDP socket's datagram. Jump offsets count the
 * instructions skipped (LD_MAP is two).
 */
static size_t prog_skb(struct bpf_insn *p, int map)
{
	const struct bpf_insn code[] = {
		MOV_REG(6, 1), /* r6 = skb */
		LDX(BPF_DW, 1, 6, offsetof(struct __sk_buff, sk)),
		JMP_IMM(BPF_JEQ, 1, 0, 37), /* no socket: out */
		CALL(BPF_FUNC_sk_fullsock), /* r0 = full socket or NULL */
		JMP_IMM(BPF_JEQ, 0, 0, 35), /* out */
		LDX(BPF_W, 2, 0, offsetof(struct bpf_sock, protocol)),
		JMP_IMM(BPF_JNE, 2, IPPROTO_UDP, 33), /* out */
		LDX(BPF_W, 7, 0, offsetof(struct bpf_sock, family)),
		LDX(BPF_W, 8, 6, offsetof(struct __sk_buff, len)), /* r8 = IP length */
		ALU_IMM(BPF_SUB, 8, 28),                           /* IPv4 + UDP headers */
		JMP_IMM(BPF_JNE, 7, AF_INET6, 1),
		ALU_IMM(BPF_SUB, 8, 20), /* IPv6's are 20 bytes longer */
		JMP_IMM(BPF_JSGE, 8, 0, 1),
		MOV_IMM(8, 0),
		MOV_REG(1, 6),
		CALL(BPF_FUNC_get_socket_cookie),
		STX(BPF_DW, 10, 0, KEY),
		LD_MAP(1, map),
		MOV_REG(2, 10),
		ALU_IMM(BPF_ADD, 2, KEY),
		CALL(BPF_FUNC_map_lookup_elem),
		JMP_IMM(BPF_JEQ, 0, 0, 4), /* none yet: insert */
		XADD(BPF_DW, 0, 8, offsetof(struct flowbpf_val, bytes)),
		MOV_IMM(1, 1),
		XADD(BPF_W, 0, 1, offsetof(struct flowbpf_val, packets)),
		JA(13), /* out */
		/* insert: */
		CALL(BPF_FUNC_ktime_get_ns),
		STX(BPF_DW, 10, 0, V_T),
		STX(BPF_DW, 10, 8, VAL),
		ST_IMM(BPF_W, 10, V_PKT, 1),
		ST_IMM(BPF_W, 10, V_PID, 0),
		LD_MAP(1, map),
		MOV_REG(2, 10),
		ALU_IMM(BPF_ADD, 2, KEY),
		MOV_REG(3, 10),
		ALU_IMM(BPF_ADD, 3, VAL),
		MOV_IMM(4, BPF_NOEXIST), /* lost a race with another CPU: one packet */
		CALL(BPF_FUNC_map_update_elem),
		/* out: */
		MOV_IMM(0, 1), /* allow */
		EXIT(),
	};

	memcpy(p, code, sizeof(code));
	return sizeof(code) / sizeof(code[0]);
}

/* cgroup/sock_create: remember who made a TCP or UDP socket, and when. */
static size_t prog_sock(struct bpf_insn *p, int map, bool pid)
{
	const struct bpf_insn head[] = {
		MOV_REG(6, 1), /* r6 = sk */
		LDX(BPF_W, 2, 6, offsetof(struct bpf_sock, protocol)),
		JMP_IMM(BPF_JEQ, 2, IPPROTO_UDP, 1),
		JMP_IMM(BPF_JNE, 2, IPPROTO_TCP, pid ? 19 : 16), /* out */
		MOV_REG(1, 6),
		CALL(BPF_FUNC_get_socket_cookie),
		STX(BPF_DW, 10, 0, KEY),
		ST_IMM(BPF_W, 10, V_PID, 0),
	};
	const struct bpf_insn with_pid[] = {
		CALL(BPF_FUNC_get_current_pid_tgid),
		ALU_IMM(BPF_RSH, 0, 32), /* the thread group: the process */
		STX(BPF_W, 10, 0, V_PID),
	};
	const struct bpf_insn tail[] = {
		CALL(BPF_FUNC_ktime_get_ns),
		STX(BPF_DW, 10, 0, V_T),
		ST_IMM(BPF_DW, 10, VAL, 0),
		ST_IMM(BPF_W, 10, V_PKT, 0),
		LD_MAP(1, map),
		MOV_REG(2, 10),
		ALU_IMM(BPF_ADD, 2, KEY),
		MOV_REG(3, 10),
		ALU_IMM(BPF_ADD, 3, VAL),
		MOV_IMM(4, BPF_ANY),
		CALL(BPF_FUNC_map_update_elem),
		/* out: */
		MOV_IMM(0, 1), /* allow */
		EXIT(),
	};
	size_t n = 0;

	memcpy(p, head, sizeof(head));
	n += sizeof(head) / sizeof(head[0]);
	if (pid) {
		memcpy(p + n, with_pid, sizeof(with_pid));
		n += sizeof(with_pid) / sizeof(with_pid[0]);
	}
	memcpy(p + n, tail, sizeof(tail));
	return n + sizeof(tail) / sizeof(tail[0]);
}

/* Load a program; on failure the verifier's last line goes to why. */
static int load(enum bpf_prog_type type, enum bpf_attach_type at, const struct bpf_insn *insn,
		size_t n, char *why, size_t cap)
{
	static char log[8192];
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.expected_attach_type = at;
	a.insns = (uint64_t)(uintptr_t)insn;
	a.insn_cnt = (uint32_t)n;
	a.license = (uint64_t)(uintptr_t) "MIT";
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	log[0] = '\0';
	memcpy(a.prog_name, "vigil_flows", sizeof("vigil_flows"));
	fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (fd < 0) {
		int e = -errno;
		size_t l = strlen(log);
		const char *last;

		while (l && log[l - 1] == '\n')
			log[--l] = '\0';
		last = strrchr(log, '\n');
		/* The log ends with its statistics: the reason is the line before. */
		if (last && !strncmp(last + 1, "processed ", 10)) {
			*(char *)last = '\0';
			last = strrchr(log, '\n');
		}
		snprintf(why, cap, "BPF program rejected: %s%s%s", strerror(-e), l ? ": " : "",
			 last ? last + 1 : log);
		return e;
	}
	return fd;
}

static int attach(int prog, int cg, enum bpf_attach_type at)
{
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (uint32_t)prog;
	a.link_create.target_fd = (uint32_t)cg;
	a.link_create.attach_type = at;
	fd = (int)sys_bpf(BPF_LINK_CREATE, &a);
	return fd < 0 ? -errno : fd;
}

static int make_map(void)
{
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_LRU_HASH;
	a.key_size = sizeof(uint64_t);
	a.value_size = sizeof(struct flowbpf_val);
	a.max_entries = FLOWBPF_CAP;
	memcpy(a.map_name, "vigil_flows", sizeof("vigil_flows"));
	fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
	return fd < 0 ? -errno : fd;
}

/* Both programs, the sock_create one with pids if the kernel lets it. */
static int load_both(struct flowbpf *b, char *why, size_t cap)
{
	struct bpf_insn p[64];
	size_t n = prog_skb(p, b->map);
	int fd = load(BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS, p, n, why, cap);

	if (fd < 0)
		return fd;
	b->prog[0] = fd;
	b->pid = true;
	n = prog_sock(p, b->map, true);
	fd = load(BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, p, n, why, cap);
	if (fd < 0) {
		b->pid = false;
		n = prog_sock(p, b->map, false);
		fd = load(BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, p, n, why, cap);
	}
	if (fd < 0)
		return fd;
	b->prog[1] = fd;
	return 0;
}

int flowbpf_check(bool *pid, char *why, size_t cap)
{
	struct flowbpf b;
	int e;

	memset(&b, 0, sizeof(b));
	b.prog[0] = b.prog[1] = b.link[0] = b.link[1] = b.link[2] = -1;
	b.map = make_map();
	if (b.map < 0) {
		snprintf(why, cap, "cannot create a BPF map: %s", strerror(-b.map));
		return b.map;
	}
	e = load_both(&b, why, cap);
	*pid = b.pid;
	flowbpf_close(&b);
	return e;
}

int flowbpf_open(struct flowbpf *b, const char *cgroup, char *why, size_t cap)
{
	static const enum bpf_attach_type at[3] = { BPF_CGROUP_INET_INGRESS, BPF_CGROUP_INET_EGRESS,
						    BPF_CGROUP_INET_SOCK_CREATE };
	struct statfs sf;
	int cg, e;

	memset(b, 0, sizeof(*b));
	b->map = b->prog[0] = b->prog[1] = b->link[0] = b->link[1] = b->link[2] = -1;
	cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0 || fstatfs(cg, &sf) < 0 || sf.f_type != CGROUP2_MAGIC) {
		e = cg < 0 ? -errno : -ENOTSUP;
		snprintf(why, cap, "%s is not a cgroup v2 hierarchy", cgroup);
		goto fail;
	}
	b->map = make_map();
	if (b->map < 0) {
		e = b->map;
		snprintf(why, cap, "cannot create a BPF map: %s", strerror(-e));
		goto fail;
	}
	if ((e = load_both(b, why, cap)) < 0)
		goto fail;
	for (int i = 0; i < 3; i++) {
		b->link[i] = attach(b->prog[i == 2], cg, at[i]);
		if (b->link[i] < 0) {
			e = b->link[i];
			snprintf(why, cap, "cannot attach a BPF program to %s: %s", cgroup,
				 strerror(-e));
			goto fail;
		}
	}
	close(cg);
	return 0;
fail:
	if (cg >= 0)
		close(cg);
	flowbpf_close(b);
	return e;
}

void flowbpf_close(struct flowbpf *b)
{
	int *fds[] = { &b->link[0], &b->link[1], &b->link[2], &b->prog[0], &b->prog[1], &b->map };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] > 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int flowbpf_get(struct flowbpf *b, uint64_t cookie, struct flowbpf_val *v, bool del)
{
	union bpf_attr a;

	if (b->map < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)b->map;
	a.key = (uint64_t)(uintptr_t)&cookie;
	a.value = (uint64_t)(uintptr_t)v;
	/* One call where the kernel has it (hash maps: 5.14), else two. */
	if (del && sys_bpf(BPF_MAP_LOOKUP_AND_DELETE_ELEM, &a) == 0)
		return 1;
	if (del && errno == ENOENT)
		return 0;
	if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (del)
		sys_bpf(BPF_MAP_DELETE_ELEM, &a);
	return 1;
}
