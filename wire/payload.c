/* SPDX-License-Identifier: MIT */
/*
 * Typed payload codecs for every message in the catalogue.
 *
 * Decoders check the shape rules of docs/wire.md and return borrowed views;
 * every read is bounds-checked against the payload length first, so a
 * malformed payload is an error return, never a read past its end. Bytes
 * after a layout's last field are ignored (room for later versions), except
 * in AGENT_STATS whose length must be exactly 4 + 8 x count. Strings are
 * limited to 4096 bytes, or to their own limit where a layout gives one
 * (PROCESS_REPORT).
 * Encoders refuse values that would make a malformed payload (-EINVAL),
 * a payload over 65536 bytes (-EMSGSIZE) or a short buffer (-ENOBUFS).
 */
#include <vigil/wire.h>

#include <errno.h>
#include <string.h>

/* ---- decoding ---------------------------------------------------------- */

/* Reads a str of at most max bytes at *off; advances *off past it. */
static int get_str_max(const uint8_t *p, size_t len, size_t *off, size_t max, struct vigil_str *s)
{
	size_t n;

	if (len - *off < 2)
		return -EBADMSG;
	n = vigil_le16(p + *off);
	if (n > max || len - *off - 2 < n)
		return -EBADMSG;
	s->ptr = (const char *)p + *off + 2;
	s->len = (uint16_t)n;
	*off += 2 + n;
	return 0;
}

static int get_str(const uint8_t *p, size_t len, size_t *off, struct vigil_str *s)
{
	return get_str_max(p, len, off, VIGIL_WIRE_STR_MAX, s);
}

/* Parse HELLO into *h: the offset just past hostname, or -EBADMSG. */
static int hello_parse(const uint8_t *p, size_t len, struct vigil_hello *h)
{
	size_t off = 16;

	if (len < off)
		return -EBADMSG;
	h->proto_version = vigil_le16(p);
	h->capabilities = vigil_le32(p + 4);
	h->guest_boottime_ns = vigil_le64(p + 8);
	if (get_str(p, len, &off, &h->agent_version) || get_str(p, len, &off, &h->kernel_release) ||
	    get_str(p, len, &off, &h->hostname))
		return -EBADMSG;
	return (int)off;
}

int vigil_hello_decode(const uint8_t *p, size_t len, struct vigil_hello *out)
{
	struct vigil_hello h;

	if (hello_parse(p, len, &h) < 0)
		return -EBADMSG;
	*out = h;
	return 0;
}

int vigil_hello_agent_pid(const uint8_t *p, size_t len, uint32_t *pid)
{
	struct vigil_hello h;
	int end = hello_parse(p, len, &h);

	if (end < 0)
		return end;
	if (len - (size_t)end < 4)
		return 0; /* an agent from before the addition */
	*pid = vigil_le32(p + end);
	return 1;
}

int vigil_sys_rdy_decode(const uint8_t *p, size_t len)
{
	(void)p;
	return len == 0 ? 0 : -EBADMSG;
}

static bool zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

int vigil_flow_check(const uint8_t rec[VIGIL_WIRE_FLOW_LEN])
{
	uint8_t family = rec[0], event = rec[2];

	if (family != 4 && family != 6)
		return -EBADMSG;
	if (event < VIGIL_FLOW_OPENED || event > VIGIL_FLOW_ACTIVE)
		return -EBADMSG;
	if (family == 4 && (!zero(rec + 8 + 4, 12) || !zero(rec + 24 + 4, 12)))
		return -EBADMSG;
	return 0;
}

/* Inlined into each caller with its own check, so the per-record check is a
 * direct (and inlined) call on the per-frame path. */
static inline __attribute__((always_inline)) int records_decode(const uint8_t *p, size_t len,
								size_t rec_len,
								int (*check)(const uint8_t *),
								struct vigil_records *out)
{
	size_t count = len / rec_len;

	if (len % rec_len || count < 1 || count > VIGIL_WIRE_MAX_RECORDS)
		return -EBADMSG;
	for (size_t i = 0; i < count; i++)
		if (check(p + i * rec_len))
			return -EBADMSG;
	out->base = p;
	out->count = (uint32_t)count;
	return 0;
}

int vigil_beats_decode(const uint8_t *p, size_t len, struct vigil_records *out)
{
	return records_decode(p, len, VIGIL_WIRE_BEAT_LEN, vigil_beat_check, out);
}

int vigil_flows_decode(const uint8_t *p, size_t len, struct vigil_records *out)
{
	return records_decode(p, len, VIGIL_WIRE_FLOW_LEN, vigil_flow_check, out);
}

void vigil_flow_get(const struct vigil_records *r, uint32_t i, struct vigil_flow *out)
{
	const uint8_t *b = r->base + (size_t)i * VIGIL_WIRE_FLOW_LEN;

	out->family = b[0];
	out->protocol = b[1];
	out->event = b[2];
	out->verdict = b[3];
	out->src_port = vigil_le16(b + 4);
	out->dst_port = vigil_le16(b + 6);
	memcpy(out->src_addr, b + 8, 16);
	memcpy(out->dst_addr, b + 24, 16);
	out->first_seen_ns = vigil_le64(b + 40);
	out->bytes = vigil_le64(b + 48);
	out->packets = vigil_le32(b + 56);
	out->pid = vigil_le32(b + 60);
}

int vigil_sched_exit_decode(const uint8_t *p, size_t len, struct vigil_sched_exit *out)
{
	struct vigil_sched_exit e;
	size_t off = 8;

	if (len < off)
		return -EBADMSG;
	e.exit_code = (int32_t)vigil_le32(p);
	e.kind = vigil_le32(p + 4);
	if (get_str(p, len, &off, &e.reason))
		return -EBADMSG;
	*out = e;
	return 0;
}

int vigil_scenario_decode(const uint8_t *p, size_t len, struct vigil_str *name)
{
	struct vigil_str s;
	size_t off = 0;

	if (get_str(p, len, &off, &s))
		return -EBADMSG;
	*name = s;
	return 0;
}

int vigil_snapshot_request_decode(const uint8_t *p, size_t len, struct vigil_snapshot_request *out)
{
	struct vigil_snapshot_request r;
	size_t off = 8;

	if (len < off)
		return -EBADMSG;
	r.request_id = vigil_le32(p);
	r.kind = vigil_le32(p + 4);
	if (r.request_id == 0 || r.kind == 0 || get_str(p, len, &off, &r.tag))
		return -EBADMSG;
	*out = r;
	return 0;
}

int vigil_snapshot_reply_decode(const uint8_t *p, size_t len, struct vigil_snapshot_reply *out)
{
	struct vigil_snapshot_reply r;
	size_t off = 8;

	if (len < off)
		return -EBADMSG;
	r.request_id = vigil_le32(p);
	r.status = (int32_t)vigil_le32(p + 4);
	if (r.request_id == 0 || get_str(p, len, &off, &r.detail))
		return -EBADMSG;
	*out = r;
	return 0;
}

int vigil_exit_decode(const uint8_t *p, size_t len, struct vigil_exit *out)
{
	if (len < 8)
		return -EBADMSG;
	out->exit_status = (int32_t)vigil_le32(p);
	out->signal = (int32_t)vigil_le32(p + 4);
	return 0;
}

int vigil_test_result_decode(const uint8_t *p, size_t len, struct vigil_test_result *out)
{
	struct vigil_test_result t;
	size_t off = 16;

	if (len < off)
		return -EBADMSG;
	t.outcome = p[0];
	t.duration_ns = vigil_le64(p + 8);
	if (get_str(p, len, &off, &t.name) || get_str(p, len, &off, &t.message))
		return -EBADMSG;
	*out = t;
	return 0;
}

int vigil_dmesg_decode(const uint8_t *p, size_t len, struct vigil_dmesg *out)
{
	if (len < 24)
		return -EBADMSG;
	out->level = p[0];
	out->kmsg_seq = vigil_le64(p + 8);
	out->ts_us = vigil_le64(p + 16);
	out->text = p + 24;
	out->text_len = (uint32_t)(len - 24);
	return 0;
}

int vigil_log_decode(const uint8_t *p, size_t len, struct vigil_log *out)
{
	if (len < 1)
		return -EBADMSG;
	out->level = p[0];
	out->text = p + 1;
	out->text_len = (uint32_t)(len - 1);
	return 0;
}

int vigil_ping_decode(const uint8_t *p, size_t len, uint64_t *token)
{
	if (len < 8)
		return -EBADMSG;
	*token = vigil_le64(p);
	return 0;
}

int vigil_pong_decode(const uint8_t *p, size_t len, struct vigil_pong *out)
{
	if (len < 16)
		return -EBADMSG;
	out->token = vigil_le64(p);
	out->guest_mono_ns = vigil_le64(p + 8);
	return 0;
}

int vigil_agent_stats_decode(const uint8_t *p, size_t len, struct vigil_agent_stats *out)
{
	uint32_t count;

	if (len < 4)
		return -EBADMSG;
	count = vigil_le32(p);
	/* 64-bit arithmetic: 8 * count cannot wrap. */
	if (count > VIGIL_WIRE_MAX_STATS || (uint64_t)len != 4 + 8 * (uint64_t)count)
		return -EBADMSG;
	out->count = count;
	out->values = p + 4;
	return 0;
}

uint64_t vigil_agent_stats_get(const struct vigil_agent_stats *s, uint32_t i)
{
	return i < s->count ? vigil_le64(s->values + 8 * (size_t)i) : 0;
}

int vigil_shutdown_decode(const uint8_t *p, size_t len)
{
	(void)p;
	(void)len;
	return 0;
}

int vigil_inspect_decode(const uint8_t *p, size_t len, struct vigil_inspect *out)
{
	struct vigil_inspect r;

	if (len < VIGIL_WIRE_INSPECT_LEN)
		return -EBADMSG;
	r.request_id = vigil_le32(p);
	r.pid = vigil_le32(p + 4);
	if (r.request_id == 0 || r.pid < 2)
		return -EBADMSG;
	*out = r;
	return 0;
}

/* The four strings of a PROCESS_REPORT, in wire order, with their limits. */
static int report_strs(const uint8_t *p, size_t len, struct vigil_process_report *r)
{
	size_t off = VIGIL_WIRE_REPORT_FIXED_LEN;

	if (get_str_max(p, len, &off, VIGIL_WIRE_COMM_MAX, &r->comm) ||
	    get_str_max(p, len, &off, VIGIL_WIRE_WCHAN_MAX, &r->wchan) ||
	    get_str_max(p, len, &off, VIGIL_WIRE_STACK_MAX, &r->stack) ||
	    get_str_max(p, len, &off, VIGIL_WIRE_CGROUP_MAX, &r->cgroup))
		return -EBADMSG;
	return 0;
}

/* The fixed part after status of a report with status 0. */
static void report_fixed_get(const uint8_t *p, struct vigil_process_report *r)
{
	r->state = p[12];
	r->policy = vigil_le32(p + 16);
	r->last_cpu = vigil_le32(p + 20);
	r->run_ns = vigil_le64(p + 24);
	r->wait_ns = vigil_le64(p + 32);
	r->timeslices = vigil_le64(p + 40);
	r->voluntary_switches = vigil_le64(p + 48);
	r->involuntary_switches = vigil_le64(p + 56);
}

int vigil_process_report_decode(const uint8_t *p, size_t len, struct vigil_process_report *out)
{
	struct vigil_process_report r;

	if (len < VIGIL_WIRE_REPORT_MIN_LEN)
		return -EBADMSG;
	memset(&r, 0, sizeof(r));
	r.request_id = vigil_le32(p);
	r.pid = vigil_le32(p + 4);
	r.status = (int32_t)vigil_le32(p + 8);
	/* The strings are shape: checked whatever the status says. */
	if (r.request_id == 0 || r.status > 0 || report_strs(p, len, &r))
		return -EBADMSG;
	if (r.status == 0) {
		report_fixed_get(p, &r);
	} else {
		/* Fields after a non-zero status are ignored, not malformed. */
		struct vigil_str none = { (const char *)p + len, 0 };

		r.comm = r.wchan = r.stack = r.cgroup = none;
	}
	*out = r;
	return 0;
}

int vigil_payload_check(uint16_t type, const uint8_t *p, size_t len)
{
	union {
		struct vigil_hello hello;
		struct vigil_records recs;
		struct vigil_sched_exit sched_exit;
		struct vigil_str str;
		struct vigil_snapshot_request snap_req;
		struct vigil_snapshot_reply snap_rep;
		struct vigil_exit exit;
		struct vigil_test_result test;
		struct vigil_dmesg dmesg;
		struct vigil_log log;
		struct vigil_pong pong;
		struct vigil_agent_stats stats;
		struct vigil_inspect inspect;
		struct vigil_process_report report;
		uint64_t token;
	} u;

	switch (type) {
	case VIGIL_MSG_HELLO:
		return vigil_hello_decode(p, len, &u.hello);
	case VIGIL_MSG_SYS_RDY:
		return vigil_sys_rdy_decode(p, len);
	case VIGIL_MSG_BEAT:
		return vigil_beats_decode(p, len, &u.recs);
	case VIGIL_MSG_FLOW:
		return vigil_flows_decode(p, len, &u.recs);
	case VIGIL_MSG_SCHED_EXIT:
		return vigil_sched_exit_decode(p, len, &u.sched_exit);
	case VIGIL_MSG_SCENARIO_START:
	case VIGIL_MSG_SCENARIO_PAUSE:
	case VIGIL_MSG_SCENARIO_RESUME:
	case VIGIL_MSG_SCENARIO_END:
		return vigil_scenario_decode(p, len, &u.str);
	case VIGIL_MSG_SNAPSHOT_REQUEST:
		return vigil_snapshot_request_decode(p, len, &u.snap_req);
	case VIGIL_MSG_STDOUT:
	case VIGIL_MSG_STDERR:
		return 0;
	case VIGIL_MSG_EXIT:
		return vigil_exit_decode(p, len, &u.exit);
	case VIGIL_MSG_TEST_RESULT:
		return vigil_test_result_decode(p, len, &u.test);
	case VIGIL_MSG_DMESG:
		return vigil_dmesg_decode(p, len, &u.dmesg);
	case VIGIL_MSG_LOG:
		return vigil_log_decode(p, len, &u.log);
	case VIGIL_MSG_PONG:
		return vigil_pong_decode(p, len, &u.pong);
	case VIGIL_MSG_AGENT_STATS:
		return vigil_agent_stats_decode(p, len, &u.stats);
	case VIGIL_MSG_PROCESS_REPORT:
		return vigil_process_report_decode(p, len, &u.report);
	case VIGIL_MSG_SNAPSHOT_REPLY:
		return vigil_snapshot_reply_decode(p, len, &u.snap_rep);
	case VIGIL_MSG_PING:
		return vigil_ping_decode(p, len, &u.token);
	case VIGIL_MSG_SHUTDOWN:
		return vigil_shutdown_decode(p, len);
	case VIGIL_MSG_INSPECT:
		return vigil_inspect_decode(p, len, &u.inspect);
	default:
		return -ENOMSG;
	}
}

/* ---- encoding ---------------------------------------------------------- */

/* Writes a str at *off; -EINVAL over max, -ENOBUFS out of room. */
static int put_str_max(uint8_t *out, size_t cap, size_t *off, size_t max, struct vigil_str s)
{
	if (s.len > max)
		return -EINVAL;
	if (cap - *off < 2u + s.len)
		return -ENOBUFS;
	vigil_put16(out + *off, s.len);
	if (s.len)
		memcpy(out + *off + 2, s.ptr, s.len);
	*off += 2u + s.len;
	return 0;
}

static int put_str(uint8_t *out, size_t cap, size_t *off, struct vigil_str s)
{
	return put_str_max(out, cap, off, VIGIL_WIRE_STR_MAX, s);
}

/* Checks room for a fixed part of n bytes and zeroes it (reserved fields). */
static int put_fixed(uint8_t *out, size_t cap, size_t n)
{
	if (cap < n)
		return -ENOBUFS;
	memset(out, 0, n);
	return 0;
}

int vigil_hello_encode(uint8_t *out, size_t cap, const struct vigil_hello *in)
{
	size_t off = 16;
	int rc;

	if ((rc = put_fixed(out, cap, off)))
		return rc;
	vigil_put16(out, in->proto_version);
	vigil_put32(out + 4, in->capabilities);
	vigil_put64(out + 8, in->guest_boottime_ns);
	if ((rc = put_str(out, cap, &off, in->agent_version)) ||
	    (rc = put_str(out, cap, &off, in->kernel_release)) ||
	    (rc = put_str(out, cap, &off, in->hostname)))
		return rc;
	return (int)off;
}

int vigil_hello_encode_agent_pid(uint8_t *out, size_t cap, const struct vigil_hello *in,
				 uint32_t agent_pid)
{
	int n = vigil_hello_encode(out, cap, in);

	if (n < 0)
		return n;
	if (cap - (size_t)n < 4)
		return -ENOBUFS;
	vigil_put32(out + n, agent_pid);
	return n + 4;
}

static int records_room(size_t cap, size_t n, size_t rec_len)
{
	if (n < 1 || n > VIGIL_WIRE_MAX_RECORDS)
		return -EINVAL;
	if (cap < n * rec_len)
		return -ENOBUFS;
	return 0;
}

int vigil_sys_rdy_encode(uint8_t *out, size_t cap)
{
	(void)out;
	(void)cap;
	return 0;
}

int vigil_beats_encode(uint8_t *out, size_t cap, const struct vigil_beat *in, size_t n)
{
	int rc = records_room(cap, n, VIGIL_WIRE_BEAT_LEN);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (in[i].pid < 2 || in[i].status > VIGIL_BEAT_STOPPING)
			return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		uint8_t *b = out + i * VIGIL_WIRE_BEAT_LEN;

		vigil_put32(b, in[i].pid);
		vigil_put32(b + 4, in[i].app_payload);
		vigil_put64(b + 8, in[i].nonce);
		vigil_put64(b + 16, in[i].guest_mono_ns);
		vigil_put64(b + 24, in[i].pidns_inode);
		vigil_put16(b + 32, in[i].status);
		b[34] = in[i].origin;
		b[35] = 0;
		vigil_put32(b + 36, in[i].deadline_ms);
	}
	return (int)(n * VIGIL_WIRE_BEAT_LEN);
}

int vigil_flows_encode(uint8_t *out, size_t cap, const struct vigil_flow *in, size_t n)
{
	int rc = records_room(cap, n, VIGIL_WIRE_FLOW_LEN);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint8_t *b = out + i * VIGIL_WIRE_FLOW_LEN;

		b[0] = in[i].family;
		b[1] = in[i].protocol;
		b[2] = in[i].event;
		b[3] = in[i].verdict;
		vigil_put16(b + 4, in[i].src_port);
		vigil_put16(b + 6, in[i].dst_port);
		memcpy(b + 8, in[i].src_addr, 16);
		memcpy(b + 24, in[i].dst_addr, 16);
		vigil_put64(b + 40, in[i].first_seen_ns);
		vigil_put64(b + 48, in[i].bytes);
		vigil_put32(b + 56, in[i].packets);
		vigil_put32(b + 60, in[i].pid);
		if (vigil_flow_check(b))
			return -EINVAL;
	}
	return (int)(n * VIGIL_WIRE_FLOW_LEN);
}

int vigil_sched_exit_encode(uint8_t *out, size_t cap, const struct vigil_sched_exit *in)
{
	size_t off = 8;
	int rc;

	if ((rc = put_fixed(out, cap, off)))
		return rc;
	vigil_put32(out, (uint32_t)in->exit_code);
	vigil_put32(out + 4, in->kind);
	if ((rc = put_str(out, cap, &off, in->reason)))
		return rc;
	return (int)off;
}

int vigil_scenario_encode(uint8_t *out, size_t cap, struct vigil_str name)
{
	size_t off = 0;
	int rc = put_str(out, cap, &off, name);

	return rc ? rc : (int)off;
}

int vigil_snapshot_request_encode(uint8_t *out, size_t cap, const struct vigil_snapshot_request *in)
{
	size_t off = 8;
	int rc;

	if (in->request_id == 0 || in->kind == 0)
		return -EINVAL;
	if ((rc = put_fixed(out, cap, off)))
		return rc;
	vigil_put32(out, in->request_id);
	vigil_put32(out + 4, in->kind);
	if ((rc = put_str(out, cap, &off, in->tag)))
		return rc;
	return (int)off;
}

int vigil_snapshot_reply_encode(uint8_t *out, size_t cap, const struct vigil_snapshot_reply *in)
{
	size_t off = 8;
	int rc;

	if (in->request_id == 0)
		return -EINVAL;
	if ((rc = put_fixed(out, cap, off)))
		return rc;
	vigil_put32(out, in->request_id);
	vigil_put32(out + 4, (uint32_t)in->status);
	if ((rc = put_str(out, cap, &off, in->detail)))
		return rc;
	return (int)off;
}

int vigil_exit_encode(uint8_t *out, size_t cap, const struct vigil_exit *in)
{
	if (cap < 8)
		return -ENOBUFS;
	vigil_put32(out, (uint32_t)in->exit_status);
	vigil_put32(out + 4, (uint32_t)in->signal);
	return 8;
}

int vigil_test_result_encode(uint8_t *out, size_t cap, const struct vigil_test_result *in)
{
	size_t off = 16;
	int rc;

	if ((rc = put_fixed(out, cap, off)))
		return rc;
	out[0] = in->outcome;
	vigil_put64(out + 8, in->duration_ns);
	if ((rc = put_str(out, cap, &off, in->name)) || (rc = put_str(out, cap, &off, in->message)))
		return rc;
	return (int)off;
}

/* A fixed head of `head` bytes followed by text: checks both limits. */
static int text_room(size_t cap, size_t head, size_t text_len)
{
	if (text_len > VIGIL_WIRE_MAX_PAYLOAD - head)
		return -EMSGSIZE;
	if (cap < head + text_len)
		return -ENOBUFS;
	return 0;
}

int vigil_dmesg_encode(uint8_t *out, size_t cap, const struct vigil_dmesg *in)
{
	int rc = text_room(cap, 24, in->text_len);

	if (rc)
		return rc;
	memset(out, 0, 24);
	out[0] = in->level;
	vigil_put64(out + 8, in->kmsg_seq);
	vigil_put64(out + 16, in->ts_us);
	if (in->text_len)
		memcpy(out + 24, in->text, in->text_len);
	return (int)(24 + in->text_len);
}

int vigil_log_encode(uint8_t *out, size_t cap, const struct vigil_log *in)
{
	int rc = text_room(cap, 1, in->text_len);

	if (rc)
		return rc;
	out[0] = in->level;
	if (in->text_len)
		memcpy(out + 1, in->text, in->text_len);
	return (int)(1 + in->text_len);
}

int vigil_ping_encode(uint8_t *out, size_t cap, uint64_t token)
{
	if (cap < 8)
		return -ENOBUFS;
	vigil_put64(out, token);
	return 8;
}

int vigil_pong_encode(uint8_t *out, size_t cap, const struct vigil_pong *in)
{
	if (cap < 16)
		return -ENOBUFS;
	vigil_put64(out, in->token);
	vigil_put64(out + 8, in->guest_mono_ns);
	return 16;
}

int vigil_agent_stats_encode(uint8_t *out, size_t cap, const uint64_t *values, uint32_t count)
{
	size_t n = 4 + 8 * (size_t)count;

	if (count > VIGIL_WIRE_MAX_STATS)
		return -EINVAL;
	if (cap < n)
		return -ENOBUFS;
	vigil_put32(out, count);
	for (uint32_t i = 0; i < count; i++)
		vigil_put64(out + 4 + 8 * (size_t)i, values[i]);
	return (int)n;
}

int vigil_shutdown_encode(uint8_t *out, size_t cap)
{
	if (cap < 4)
		return -ENOBUFS;
	vigil_put32(out, 0);
	return 4;
}

int vigil_inspect_encode(uint8_t *out, size_t cap, const struct vigil_inspect *in)
{
	if (in->request_id == 0 || in->pid < 2)
		return -EINVAL;
	if (cap < VIGIL_WIRE_INSPECT_LEN)
		return -ENOBUFS;
	vigil_put32(out, in->request_id);
	vigil_put32(out + 4, in->pid);
	return VIGIL_WIRE_INSPECT_LEN;
}

/* The fixed part after status of a report with status 0. */
static void report_fixed_put(uint8_t *out, const struct vigil_process_report *in)
{
	out[12] = in->state;
	vigil_put32(out + 16, in->policy);
	vigil_put32(out + 20, in->last_cpu);
	vigil_put64(out + 24, in->run_ns);
	vigil_put64(out + 32, in->wait_ns);
	vigil_put64(out + 40, in->timeslices);
	vigil_put64(out + 48, in->voluntary_switches);
	vigil_put64(out + 56, in->involuntary_switches);
}

int vigil_process_report_encode(uint8_t *out, size_t cap, const struct vigil_process_report *in)
{
	static const struct vigil_str none = { "", 0 };
	size_t off = VIGIL_WIRE_REPORT_FIXED_LEN;
	bool ok = in->status == 0;
	int rc;

	if (in->request_id == 0 || in->status > 0)
		return -EINVAL;
	if (ok && (in->comm.len > VIGIL_WIRE_COMM_MAX || in->wchan.len > VIGIL_WIRE_WCHAN_MAX ||
		   in->stack.len > VIGIL_WIRE_STACK_MAX || in->cgroup.len > VIGIL_WIRE_CGROUP_MAX))
		return -EINVAL;
	if ((rc = put_fixed(out, cap, off)))
		return rc;
	vigil_put32(out, in->request_id);
	vigil_put32(out + 4, in->pid);
	vigil_put32(out + 8, (uint32_t)in->status);
	if (ok)
		report_fixed_put(out, in);
	if ((rc = put_str_max(out, cap, &off, VIGIL_WIRE_COMM_MAX, ok ? in->comm : none)) ||
	    (rc = put_str_max(out, cap, &off, VIGIL_WIRE_WCHAN_MAX, ok ? in->wchan : none)) ||
	    (rc = put_str_max(out, cap, &off, VIGIL_WIRE_STACK_MAX, ok ? in->stack : none)) ||
	    (rc = put_str_max(out, cap, &off, VIGIL_WIRE_CGROUP_MAX, ok ? in->cgroup : none)))
		return rc;
	return (int)off;
}
