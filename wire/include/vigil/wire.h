/* SPDX-License-Identifier: MIT */
/*
 * libvigil-wire: the vigil wire protocol, version 1 (docs/wire.md).
 *
 * Owns: CRC32C, the 24-byte frame header, the stream assembler and the typed
 * payload codecs. It does no I/O, no logging and no allocation: every buffer
 * is the caller's, decoded payloads are borrowed views.
 *
 * Error convention (every function returning int): negative errno on
 * failure, 0 or a positive count on success. Out-parameters are written only
 * on success. Decoders return -EBADMSG for a malformed payload and never
 * read past the payload they were given.
 *
 * Thread safety: an assembler belongs to one thread; everything else is
 * reentrant.
 */
#ifndef VIGIL_WIRE_H
#define VIGIL_WIRE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VIGIL_API __attribute__((visibility("default")))

/* ---- version ------------------------------------------------------------ */

/*
 * The version of the libvigil-wire the program runs with ("0.1.0") and the
 * same as VIGIL_VERSION_ENCODE() gives. Compare with VIGIL_VERSION_STRING
 * and VIGIL_VERSION_NUMBER, the headers' version, to learn whether the
 * library is older than the headers (docs/abi.md: a program built against
 * 0.N runs with any 0.M, M >= N).
 */
VIGIL_API const char *vigil_version(void);
VIGIL_API uint32_t vigil_version_number(void);

/* ---- limits ------------------------------------------------------------ */

#define VIGIL_WIRE_VERSION     1
#define VIGIL_WIRE_MAGIC_LEN   4
#define VIGIL_WIRE_HDR_LEN     24
#define VIGIL_WIRE_MAX_PAYLOAD 65536u
#define VIGIL_WIRE_MAX_FRAME   (VIGIL_WIRE_HDR_LEN + VIGIL_WIRE_MAX_PAYLOAD)
#define VIGIL_WIRE_STR_MAX     4096u /* bytes in a "str", unless stated */
#define VIGIL_WIRE_MAX_RECORDS 1024u /* BEAT/FLOW records per frame */
#define VIGIL_WIRE_BEAT_LEN    40u
#define VIGIL_WIRE_FLOW_LEN    64u
#define VIGIL_WIRE_MAX_STATS   1024u /* AGENT_STATS counters */
#define VIGIL_WIRE_INSPECT_LEN 8u    /* INSPECT: request_id, pid */
/* PROCESS_REPORT: a 64-byte fixed part, then comm, wchan, stack and cgroup,
 * each a str with its own limit; 72 bytes at least, 4872 at most. */
#define VIGIL_WIRE_REPORT_FIXED_LEN 64u
#define VIGIL_WIRE_REPORT_MIN_LEN   (VIGIL_WIRE_REPORT_FIXED_LEN + 4 * 2u)
#define VIGIL_WIRE_COMM_MAX         64u
#define VIGIL_WIRE_WCHAN_MAX        128u
#define VIGIL_WIRE_STACK_MAX        4096u
#define VIGIL_WIRE_CGROUP_MAX       512u
#define VIGIL_WIRE_REPORT_MAX_LEN                                                                  \
	(VIGIL_WIRE_REPORT_MIN_LEN + VIGIL_WIRE_COMM_MAX + VIGIL_WIRE_WCHAN_MAX +                  \
	 VIGIL_WIRE_STACK_MAX + VIGIL_WIRE_CGROUP_MAX)
#define VIGIL_WIRE_MAX_INSPECT 4u /* INSPECTs a host keeps in flight per guest */

/* HELLO capability bits the protocol itself defines (the others are the
 * agent's own, docs/agent.md). */
#define VIGIL_CAP_INSPECT (1u << 6) /* the agent answers INSPECT */

extern VIGIL_API const uint8_t vigil_wire_magic[VIGIL_WIRE_MAGIC_LEN]; /* "VGL1" */

/* ---- message types ----------------------------------------------------- */

enum vigil_msg_type {
	/* guest to host */
	VIGIL_MSG_HELLO = 0x0001,
	VIGIL_MSG_SYS_RDY = 0x0002,
	VIGIL_MSG_BEAT = 0x0003,
	VIGIL_MSG_FLOW = 0x0004,
	VIGIL_MSG_SCHED_EXIT = 0x0005,
	VIGIL_MSG_SCENARIO_START = 0x0006,
	VIGIL_MSG_SCENARIO_PAUSE = 0x0007,
	VIGIL_MSG_SCENARIO_RESUME = 0x0008,
	VIGIL_MSG_SCENARIO_END = 0x0009,
	VIGIL_MSG_SNAPSHOT_REQUEST = 0x000A,
	VIGIL_MSG_STDOUT = 0x000B,
	VIGIL_MSG_STDERR = 0x000C,
	VIGIL_MSG_EXIT = 0x000D,
	VIGIL_MSG_TEST_RESULT = 0x000E,
	VIGIL_MSG_DMESG = 0x000F,
	VIGIL_MSG_LOG = 0x0010,
	VIGIL_MSG_PONG = 0x0011,
	VIGIL_MSG_AGENT_STATS = 0x0012,
	VIGIL_MSG_PROCESS_REPORT = 0x0013,
	/* host to guest */
	VIGIL_MSG_SNAPSHOT_REPLY = 0x8001,
	VIGIL_MSG_PING = 0x8002,
	VIGIL_MSG_SHUTDOWN = 0x8003,
	VIGIL_MSG_INSPECT = 0x8004,
};

#define VIGIL_MSG_HOST_BIT 0x8000u /* set on host-to-guest types */

enum vigil_msg_class {
	VIGIL_CLASS_UNKNOWN = 0,
	VIGIL_CLASS_CONTROL, /* acts only when crc_ok and well formed */
	VIGIL_CLASS_RECORD,  /* BEAT, FLOW, TEST_RESULT, AGENT_STATS */
	VIGIL_CLASS_OUTPUT,  /* STDOUT, STDERR, DMESG, LOG: delivered even torn */
};

/* Class of a known type, VIGIL_CLASS_UNKNOWN for any other value. */
VIGIL_API enum vigil_msg_class vigil_msg_class(uint16_t type);
/* "HELLO", "SYS_RDY", ...; NULL for an unknown type. */
VIGIL_API const char *vigil_msg_name(uint16_t type);
/* true for host-to-guest types (bit 15 set). */
static inline bool vigil_msg_to_guest(uint16_t type)
{
	return (type & VIGIL_MSG_HOST_BIT) != 0;
}

/* ---- CRC32C ------------------------------------------------------------ */

/*
 * CRC32C (Castagnoli, reflected 0x82F63B78, init and final xor 0xFFFFFFFF).
 * vigil_crc32c_extend(vigil_crc32c(a), b) == vigil_crc32c(a || b); the
 * CRC of nothing is 0. Uses the SSE4.2 instruction when cpuid has it.
 */
VIGIL_API uint32_t vigil_crc32c(const void *buf, size_t len);
VIGIL_API uint32_t vigil_crc32c_extend(uint32_t crc, const void *buf, size_t len);
/* "sse4.2" or "slice-by-8": what vigil_crc32c runs on this CPU. */
VIGIL_API const char *vigil_crc32c_impl(void);

/* ---- frame header ------------------------------------------------------ */

struct vigil_frame_hdr {
	uint16_t type;
	uint16_t flags;       /* senders write 0; receivers ignore */
	uint32_t seq;         /* modulo 2^32 */
	uint32_t len;         /* payload bytes, <= VIGIL_WIRE_MAX_PAYLOAD */
	uint32_t payload_crc; /* CRC32C of the payload, 0 when len = 0 */
};

/*
 * Decode and check the header in buf[0..24). Returns 0, -EAGAIN when
 * n < 24, -EBADMSG when the magic or header_crc is wrong, -EMSGSIZE when the
 * header is valid but len is over the limit (*out is still written then, so
 * the caller can report it).
 */
VIGIL_API int vigil_frame_hdr_decode(const uint8_t *buf, size_t n, struct vigil_frame_hdr *out);

/*
 * Write a whole frame into buf: header then payload (copied unless payload
 * already points at buf + 24). Returns the frame length, -EMSGSIZE when len
 * is over the limit, -ENOBUFS when cap is too small. Never allocates.
 * payload may be NULL when len is 0: a frame with an empty payload (SYS_RDY)
 * is its 24-byte header alone, with payload_crc 0. buf may be NULL only
 * with cap 0, which gives -ENOBUFS (there is no size query: a frame needs
 * 24 + len bytes).
 */
VIGIL_API int vigil_frame_encode(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq,
				 const void *payload, size_t len);

/*
 * Seal a frame whose payload the caller already wrote at buf + 24 (the
 * typed encoders below write there): fills in the header and both CRCs.
 * Returns 24 + len, -EMSGSIZE, or -ENOBUFS.
 */
VIGIL_API int vigil_frame_seal(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, size_t len);

/* ---- stream assembler -------------------------------------------------- */

/* Counters, named as in the spec; monotonic for the assembler's lifetime. */
struct vigil_asm_stats {
	uint64_t garbage_bytes;      /* bytes skipped while scanning for magic */
	uint64_t header_crc_errors;  /* each drops exactly one byte */
	uint64_t oversize_frames;    /* each drops exactly 24 bytes */
	uint64_t lost_frames;        /* sum of forward seq jumps */
	uint64_t seq_regressions;    /* backward seq steps (not a new epoch) */
	uint64_t epochs;             /* HELLO frames with seq 0 */
	uint64_t frames;             /* frames delivered (crc_ok or not) */
	uint64_t payload_crc_errors; /* frames delivered with crc_ok false */
	uint64_t bytes;              /* bytes fed */
	uint64_t resets;             /* vigil_asm_reset calls */
};

/* A delivered frame. payload is a borrowed view, valid until the next
 * vigil_asm_next/vigil_asm_push/vigil_asm_reset on the same assembler. */
struct vigil_frame {
	struct vigil_frame_hdr hdr;
	const uint8_t *payload;
	bool crc_ok;
	bool new_epoch;  /* HELLO with seq 0 */
	uint32_t lost;   /* frames lost just before this one */
	bool regression; /* seq stepped backwards */
};

/*
 * The assembler's state, including its one-frame holding buffer (about
 * 64 KiB). Treat the fields as private; the struct is public so callers can
 * place it (static, embedded, or allocated once at setup).
 */
struct vigil_asm {
	const uint8_t *in; /* caller's bytes not yet looked at */
	size_t in_len;
	uint32_t hold_len;  /* bytes in hold[] */
	uint32_t hold_need; /* total frame length once the header is valid, else 0 */
	bool have_seq;      /* a frame has been delivered: expect_seq is set */
	bool hold_done;     /* hold[] held the frame last delivered */
	uint32_t expect_seq;
	struct vigil_asm_stats st;
	uint8_t hold[VIGIL_WIRE_MAX_FRAME];
};

VIGIL_API void vigil_asm_init(struct vigil_asm *a);
/*
 * The other end closed and reopened: drop the bytes held (a sender that died
 * mid-payload must not swallow the new stream's HELLO). The expected seq is
 * kept, so frames the sender wrote meanwhile that never arrived count as
 * lost; a restarted sender begins with HELLO seq 0, a new epoch. Counters
 * stay.
 */
VIGIL_API void vigil_asm_reset(struct vigil_asm *a);
/*
 * Hand the assembler the next bytes of the stream. They are borrowed until
 * vigil_asm_next returns 0; frames lying wholly inside them are delivered
 * without a copy, a frame cut by the end is copied into the holding buffer.
 * Push only after vigil_asm_next has returned 0.
 */
VIGIL_API void vigil_asm_push(struct vigil_asm *a, const uint8_t *buf, size_t len);
/*
 * Next frame from the pushed bytes: 1 and *out written, or 0 when every
 * pushed byte has been consumed or held. Never fails.
 */
VIGIL_API int vigil_asm_next(struct vigil_asm *a, struct vigil_frame *out);
static inline const struct vigil_asm_stats *vigil_asm_stats(const struct vigil_asm *a)
{
	return &a->st;
}
/*
 * Bytes fed that are neither counted nor delivered yet: a partial magic,
 * header or frame being held, and pushed bytes not looked at. With the
 * counters and the frames delivered, every byte fed is accounted for once,
 * at any time:
 *   bytes = garbage_bytes + header_crc_errors + 24 * oversize_frames
 *           + sum of (24 + len) over the frames delivered + held
 *           + what vigil_asm_reset dropped (the held bytes just before it).
 */
static inline uint64_t vigil_asm_held(const struct vigil_asm *a)
{
	return (a->hold_done ? 0u : (uint64_t)a->hold_len) + a->in_len;
}

/* ---- payloads ---------------------------------------------------------- */

/* A borrowed string: not terminated, not trusted to be UTF-8. */
struct vigil_str {
	const char *ptr;
	uint16_t len;
};

/*
 * A vigil_str for a string literal, its length counted at compile time:
 * VIGIL_STR("sched/latency"). Literals only: the argument is pasted
 * between two empty literals ("" s ""), which compiles only for a string
 * literal (or a macro that expands to one), so VIGIL_STR(ptr) and
 * VIGIL_STR(array) are compile-time errors (sizeof would have counted the
 * pointer). For any other string: (struct vigil_str){ p, (uint16_t)strlen(p) },
 * checking the length against the field's limit first.
 */
#ifdef __cplusplus
#define VIGIL_STR(s) (vigil_str{ "" s "", (uint16_t)(sizeof("" s "") - 1) })
#else
#define VIGIL_STR(s) ((struct vigil_str){ "" s "", (uint16_t)(sizeof("" s "") - 1) })
#endif

enum vigil_beat_status {
	VIGIL_BEAT_OK = 0,
	VIGIL_BEAT_DEGRADED = 1,
	VIGIL_BEAT_CRITICAL = 2,
	VIGIL_BEAT_STOPPING = 3,
};

enum vigil_beat_origin {
	VIGIL_ORIGIN_KERNEL_ATTESTED = 0,
	VIGIL_ORIGIN_SOCKET_MODE = 1,
	VIGIL_ORIGIN_UNVERIFIED = 2,
};

enum vigil_flow_event {
	VIGIL_FLOW_OPENED = 1,
	VIGIL_FLOW_CLOSED = 2,
	VIGIL_FLOW_ACTIVE = 3,
};

enum vigil_snapshot_kind {
	VIGIL_SNAP_MEMORY_DUMP = 1,
	VIGIL_SNAP_CPU_STATE = 2,
	VIGIL_SNAP_HOST_COUNTERS = 3,
};

enum vigil_test_outcome {
	VIGIL_TEST_PASS = 0,
	VIGIL_TEST_FAIL = 1,
	VIGIL_TEST_SKIP = 2,
	VIGIL_TEST_ERROR = 3,
};

enum vigil_sched_exit_kind {
	VIGIL_SCX_UNKNOWN = 0,
	VIGIL_SCX_DONE = 1,
	VIGIL_SCX_UNREG = 64,
	VIGIL_SCX_UNREG_BPF = 65,
	VIGIL_SCX_UNREG_KERN = 66,
	VIGIL_SCX_SYSRQ = 67,
	VIGIL_SCX_ERROR = 1024,
	VIGIL_SCX_ERROR_BPF = 1025,
	VIGIL_SCX_ERROR_STALL = 1026,
};

/* PROCESS_REPORT policy: the kernel's SCHED_* numbers (4 is unused). */
enum vigil_sched_policy {
	VIGIL_POLICY_NORMAL = 0,
	VIGIL_POLICY_FIFO = 1,
	VIGIL_POLICY_RR = 2,
	VIGIL_POLICY_BATCH = 3,
	VIGIL_POLICY_IDLE = 5,
	VIGIL_POLICY_DEADLINE = 6,
	VIGIL_POLICY_EXT = 7,
};

/* AGENT_STATS counter indexes, in wire order. */
enum vigil_agent_stat {
	VIGIL_STAT_FRAMES_SENT = 0,
	VIGIL_STAT_FRAMES_DROPPED,
	VIGIL_STAT_BYTES_DROPPED,
	VIGIL_STAT_BEATS_RELAYED,
	VIGIL_STAT_BEATS_REJECTED,
	VIGIL_STAT_FLOWS_SENT,
	VIGIL_STAT_KMSG_LINES,
	VIGIL_STAT_WRITE_STALLS,
	VIGIL_STAT__KNOWN, /* counters this version names; a sender may send more */
};

struct vigil_hello {
	uint16_t proto_version;
	uint32_t capabilities;
	uint64_t guest_boottime_ns;
	struct vigil_str agent_version;
	struct vigil_str kernel_release;
	struct vigil_str hostname;
};

struct vigil_beat {
	uint32_t pid; /* >= 2 */
	uint32_t app_payload;
	uint64_t nonce;
	uint64_t guest_mono_ns;
	uint64_t pidns_inode; /* 0 if unknown */
	uint16_t status;      /* enum vigil_beat_status */
	uint8_t origin;       /* enum vigil_beat_origin; other values kept */
	uint32_t deadline_ms; /* 0: the host's default threshold */
};

struct vigil_flow {
	uint8_t family;   /* 4 or 6 */
	uint8_t protocol; /* IANA number */
	uint8_t event;    /* enum vigil_flow_event */
	uint8_t verdict;  /* 0 unknown, 1 accept, 2 drop; others kept */
	uint16_t src_port;
	uint16_t dst_port;
	uint8_t src_addr[16]; /* network byte order; IPv4 in [0..4) */
	uint8_t dst_addr[16];
	uint64_t first_seen_ns;
	uint64_t bytes;
	uint32_t packets;
	uint32_t pid;
};

/* A validated run of BEAT or FLOW records inside a payload. */
struct vigil_records {
	const uint8_t *base;
	uint32_t count; /* 1..1024 */
};

struct vigil_sched_exit {
	int32_t exit_code;
	uint32_t kind; /* enum vigil_sched_exit_kind; others kept */
	struct vigil_str reason;
};

struct vigil_snapshot_request {
	uint32_t request_id; /* != 0 */
	uint32_t kind;       /* != 0; enum vigil_snapshot_kind */
	struct vigil_str tag;
};

struct vigil_snapshot_reply {
	uint32_t request_id; /* != 0 */
	int32_t status;      /* 0 or negative errno */
	struct vigil_str detail;
};

struct vigil_exit {
	int32_t exit_status; /* -1 if killed */
	int32_t signal;      /* 0 if none */
};

struct vigil_test_result {
	uint8_t outcome; /* enum vigil_test_outcome; others kept */
	uint64_t duration_ns;
	struct vigil_str name;
	struct vigil_str message;
};

struct vigil_dmesg {
	uint8_t level; /* 0-7; others kept */
	uint64_t kmsg_seq;
	uint64_t ts_us;
	const uint8_t *text; /* rest of the payload */
	uint32_t text_len;
};

struct vigil_log {
	uint8_t level;
	const uint8_t *text;
	uint32_t text_len;
};

struct vigil_pong {
	uint64_t token;
	uint64_t guest_mono_ns;
};

struct vigil_agent_stats {
	uint32_t count;        /* 0..1024 */
	const uint8_t *values; /* count little-endian u64s */
};

struct vigil_inspect {
	uint32_t request_id; /* != 0 */
	uint32_t pid;        /* >= 2: a thread or process id in the agent's PID namespace */
};

/*
 * PROCESS_REPORT: one sample of /proc/PID. With a non-zero status every
 * field after it is 0 and every string empty (the decoder shows them so
 * whatever the sender wrote; the encoder writes them so).
 */
struct vigil_process_report {
	uint32_t request_id; /* != 0, from the INSPECT */
	uint32_t pid;        /* from the INSPECT */
	int32_t status;      /* 0, -ESRCH, -EACCES, -EBUSY; other negative values kept */
	uint8_t state;       /* /proc/PID/stat state letter as ASCII; any value kept */
	uint32_t policy;     /* enum vigil_sched_policy; others kept */
	uint32_t last_cpu;
	uint64_t run_ns;     /* schedstat: time on a CPU */
	uint64_t wait_ns;    /* schedstat: time runnable, waiting on a runqueue */
	uint64_t timeslices; /* schedstat: times run on a CPU */
	uint64_t voluntary_switches;
	uint64_t involuntary_switches;
	struct vigil_str comm;   /* <= VIGIL_WIRE_COMM_MAX bytes, no newline */
	struct vigil_str wchan;  /* <= VIGIL_WIRE_WCHAN_MAX; empty for the kernel's "0" */
	struct vigil_str stack;  /* <= VIGIL_WIRE_STACK_MAX, /proc/PID/stack as read */
	struct vigil_str cgroup; /* <= VIGIL_WIRE_CGROUP_MAX, first line, no newline */
};

/*
 * Decoders: (payload, len) -> struct. 0 on success, -EBADMSG when the shape
 * is wrong for the type. Strings and record runs point into the payload.
 */
VIGIL_API int vigil_hello_decode(const uint8_t *p, size_t len, struct vigil_hello *out);
/*
 * vigil's addition to HELLO (docs/wire.md, "HELLO: the agent's own pid"):
 * a u32 right after hostname, the pid the agent beats for itself (0: it
 * does not). Receivers that do not know it ignore it, as they ignore any
 * bytes after a layout's last field. Returns 1 and *pid when present, 0
 * when the HELLO ends before it (an older agent), -EBADMSG when the HELLO
 * itself is malformed.
 */
VIGIL_API int vigil_hello_agent_pid(const uint8_t *p, size_t len, uint32_t *pid);
/* SYS_RDY: 0 for the empty payload, -EBADMSG for any byte. */
VIGIL_API int vigil_sys_rdy_decode(const uint8_t *p, size_t len);
VIGIL_API int vigil_beats_decode(const uint8_t *p, size_t len, struct vigil_records *out);
VIGIL_API int vigil_flows_decode(const uint8_t *p, size_t len, struct vigil_records *out);
VIGIL_API int vigil_sched_exit_decode(const uint8_t *p, size_t len, struct vigil_sched_exit *out);
/* SCENARIO_START/PAUSE/RESUME/END: one str. */
VIGIL_API int vigil_scenario_decode(const uint8_t *p, size_t len, struct vigil_str *name);
VIGIL_API int vigil_snapshot_request_decode(const uint8_t *p, size_t len,
					    struct vigil_snapshot_request *out);
VIGIL_API int vigil_snapshot_reply_decode(const uint8_t *p, size_t len,
					  struct vigil_snapshot_reply *out);
VIGIL_API int vigil_exit_decode(const uint8_t *p, size_t len, struct vigil_exit *out);
VIGIL_API int vigil_test_result_decode(const uint8_t *p, size_t len, struct vigil_test_result *out);
VIGIL_API int vigil_dmesg_decode(const uint8_t *p, size_t len, struct vigil_dmesg *out);
VIGIL_API int vigil_log_decode(const uint8_t *p, size_t len, struct vigil_log *out);
VIGIL_API int vigil_ping_decode(const uint8_t *p, size_t len, uint64_t *token);
VIGIL_API int vigil_pong_decode(const uint8_t *p, size_t len, struct vigil_pong *out);
VIGIL_API int vigil_agent_stats_decode(const uint8_t *p, size_t len, struct vigil_agent_stats *out);
/* SHUTDOWN's payload is ignored: always 0. */
VIGIL_API int vigil_shutdown_decode(const uint8_t *p, size_t len);
/* INSPECT: malformed under 8 bytes, with request_id 0, or pid 0 or 1. */
VIGIL_API int vigil_inspect_decode(const uint8_t *p, size_t len, struct vigil_inspect *out);
/*
 * PROCESS_REPORT: malformed under 72 bytes, when one of the four strings
 * runs past the payload or over its own limit (checked whatever the
 * status), with request_id 0, or with a positive status. With a negative
 * status the fields after it are ignored: *out has them 0 and empty.
 */
VIGIL_API int vigil_process_report_decode(const uint8_t *p, size_t len,
					  struct vigil_process_report *out);

/* Record access in a run validated by vigil_beats_decode / vigil_flows_decode
 * (vigil_beat_get is inline below: it runs once per beat). */
VIGIL_API void vigil_flow_get(const struct vigil_records *r, uint32_t i, struct vigil_flow *out);
/* One AGENT_STATS counter; 0 for an index past count. */
VIGIL_API uint64_t vigil_agent_stats_get(const struct vigil_agent_stats *s, uint32_t i);

/* Check one record's shape: 0 or -EBADMSG (vigil_beat_check is inline below). */
VIGIL_API int vigil_flow_check(const uint8_t rec[VIGIL_WIRE_FLOW_LEN]);

/*
 * The shape check of any known type, as the receiver rules define it: 0
 * well formed, -EBADMSG malformed, -ENOMSG unknown type. STDOUT/STDERR
 * accept any payload.
 */
VIGIL_API int vigil_payload_check(uint16_t type, const uint8_t *p, size_t len);

/*
 * Encoders: write the payload into out[0..cap) and return its length,
 * -ENOBUFS when cap is too small, -EINVAL when a value breaks the shape
 * rules (a string over its limit, a zero request id, a record count outside
 * 1..1024, a bad beat pid or status, a bad flow family/event/address, ...),
 * -EMSGSIZE when DMESG/LOG text would make the payload exceed 65536 bytes.
 * To build a frame, encode at buf + VIGIL_WIRE_HDR_LEN and call
 * vigil_frame_seal.
 */
VIGIL_API int vigil_hello_encode(uint8_t *out, size_t cap, const struct vigil_hello *in);
/* HELLO with vigil's addition: the agent's own beat pid after hostname. */
VIGIL_API int vigil_hello_encode_agent_pid(uint8_t *out, size_t cap, const struct vigil_hello *in,
					   uint32_t agent_pid);
/*
 * SYS_RDY's payload is empty: returns 0 and writes nothing (out may be
 * NULL). vigil_frame_seal(buf, cap, VIGIL_MSG_SYS_RDY, seq,
 * vigil_sys_rdy_encode(...)) builds the frame, as for any other type.
 */
VIGIL_API int vigil_sys_rdy_encode(uint8_t *out, size_t cap);
VIGIL_API int vigil_beats_encode(uint8_t *out, size_t cap, const struct vigil_beat *in, size_t n);
VIGIL_API int vigil_flows_encode(uint8_t *out, size_t cap, const struct vigil_flow *in, size_t n);
VIGIL_API int vigil_sched_exit_encode(uint8_t *out, size_t cap, const struct vigil_sched_exit *in);
VIGIL_API int vigil_scenario_encode(uint8_t *out, size_t cap, struct vigil_str name);
VIGIL_API int vigil_snapshot_request_encode(uint8_t *out, size_t cap,
					    const struct vigil_snapshot_request *in);
VIGIL_API int vigil_snapshot_reply_encode(uint8_t *out, size_t cap,
					  const struct vigil_snapshot_reply *in);
VIGIL_API int vigil_exit_encode(uint8_t *out, size_t cap, const struct vigil_exit *in);
VIGIL_API int vigil_test_result_encode(uint8_t *out, size_t cap,
				       const struct vigil_test_result *in);
/* text_len must leave the payload within VIGIL_WIRE_MAX_PAYLOAD. */
VIGIL_API int vigil_dmesg_encode(uint8_t *out, size_t cap, const struct vigil_dmesg *in);
VIGIL_API int vigil_log_encode(uint8_t *out, size_t cap, const struct vigil_log *in);
VIGIL_API int vigil_ping_encode(uint8_t *out, size_t cap, uint64_t token);
VIGIL_API int vigil_pong_encode(uint8_t *out, size_t cap, const struct vigil_pong *in);
/* values: count u64s in host order. */
VIGIL_API int vigil_agent_stats_encode(uint8_t *out, size_t cap, const uint64_t *values,
				       uint32_t count);
VIGIL_API int vigil_shutdown_encode(uint8_t *out, size_t cap);
/* -EINVAL for request_id 0 or pid 0 or 1. */
VIGIL_API int vigil_inspect_encode(uint8_t *out, size_t cap, const struct vigil_inspect *in);
/*
 * -EINVAL for request_id 0, a positive status, or (status 0) a string over
 * its limit: the caller truncates. With a negative status the fields after
 * it are written as 0 and the strings empty, whatever *in holds; the
 * payload is then 72 bytes.
 */
VIGIL_API int vigil_process_report_encode(uint8_t *out, size_t cap,
					  const struct vigil_process_report *in);

/* ---- little-endian helpers (shared by host and guest code) ------------- */

static inline uint16_t vigil_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t vigil_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}
static inline uint64_t vigil_le64(const uint8_t *p)
{
	return (uint64_t)vigil_le32(p) | ((uint64_t)vigil_le32(p + 4) << 32);
}
static inline void vigil_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void vigil_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void vigil_put64(uint8_t *p, uint64_t v)
{
	vigil_put32(p, (uint32_t)v);
	vigil_put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- per-beat accessors (inline: the tracker's hot path) ---------------- */

static inline int vigil_beat_check(const uint8_t *rec)
{
	if (vigil_le32(rec) < 2 || vigil_le16(rec + 32) > VIGIL_BEAT_STOPPING)
		return -EBADMSG;
	return 0;
}

static inline void vigil_beat_get(const struct vigil_records *r, uint32_t i, struct vigil_beat *out)
{
	const uint8_t *b = r->base + (size_t)i * VIGIL_WIRE_BEAT_LEN;

	out->pid = vigil_le32(b);
	out->app_payload = vigil_le32(b + 4);
	out->nonce = vigil_le64(b + 8);
	out->guest_mono_ns = vigil_le64(b + 16);
	out->pidns_inode = vigil_le64(b + 24);
	out->status = vigil_le16(b + 32);
	out->origin = b[34];
	out->deadline_ms = vigil_le32(b + 36);
}

#ifdef __cplusplus
}
#endif
#endif /* VIGIL_WIRE_H */
