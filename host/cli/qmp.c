/* SPDX-License-Identifier: MIT */
/*
 * qmp: QMP client (see qmp.h). Messages are one JSON object per line in
 * both directions. Input is split on '\n' into a line buffer that grows up
 * to VIGIL_QMP_LINE_MAX; a longer line is skipped to its end and counted.
 */
#include "qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct qmp_pending {
	uint32_t id; /* 0: slot free */
	vigil_qmp_reply_fn cb;
	void *ctx;
};

struct vigil_qmp {
	int fd;
	bool greeted, ready, dead, skipping;
	vigil_qmp_event_fn on_event;
	void *ctx;
	uint32_t next_id;
	struct qmp_pending pending[VIGIL_QMP_INFLIGHT];
	char *line; /* current partial line */
	size_t line_len, line_cap;
	char *out; /* bytes to send */
	size_t out_len, out_off;
	char *held; /* commands queued before the handshake ended */
	size_t held_len;
	struct vigil_qmp_stats st;
	char version[32]; /* "7.2.19" from the greeting; "" before it */
};

/* The greeting's {"QMP": {"version": {"qemu": {"major", "minor", "micro"}}}}. */
static void qmp_keep_version(struct vigil_qmp *q, struct json_object *qmp)
{
	struct json_object *ver, *qemu, *part[3];
	static const char *const key[3] = { "major", "minor", "micro" };

	if (!json_object_object_get_ex(qmp, "version", &ver) ||
	    !json_object_object_get_ex(ver, "qemu", &qemu))
		return;
	for (int i = 0; i < 3; i++)
		if (!json_object_object_get_ex(qemu, key[i], &part[i]))
			return;
	snprintf(q->version, sizeof(q->version), "%d.%d.%d", json_object_get_int(part[0]),
		 json_object_get_int(part[1]), json_object_get_int(part[2]));
}

const char *vigil_qmp_version(const struct vigil_qmp *q)
{
	return q->version;
}

static int qmp_append(char **buf, size_t *len, const char *s, size_t n, size_t max)
{
	char *nb;

	if (*len + n > max)
		return -ENOBUFS;
	nb = realloc(*buf, *len + n + 1);
	if (!nb)
		return -ENOMEM;
	memcpy(nb + *len, s, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
	return 0;
}

static int qmp_send_raw(struct vigil_qmp *q, const char *s, size_t n)
{
	/* compact the sent prefix before growing */
	if (q->out_off > 0) {
		memmove(q->out, q->out + q->out_off, q->out_len - q->out_off);
		q->out_len -= q->out_off;
		q->out_off = 0;
	}
	return qmp_append(&q->out, &q->out_len, s, n, VIGIL_QMP_OUT_MAX);
}

int vigil_qmp_new(int fd, vigil_qmp_event_fn on_event, void *ctx, struct vigil_qmp **out)
{
	struct vigil_qmp *q;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->fd = fd;
	q->on_event = on_event;
	q->ctx = ctx;
	q->next_id = 1;
	*out = q;
	return 0;
}

static void qmp_fail_all(struct vigil_qmp *q, int err)
{
	for (size_t i = 0; i < VIGIL_QMP_INFLIGHT; i++) {
		struct qmp_pending p = q->pending[i];
		if (!p.id)
			continue;
		q->pending[i].id = 0;
		if (p.cb)
			p.cb(p.ctx, err, NULL, "QMP closed before it answered");
	}
}

void vigil_qmp_free(struct vigil_qmp *q)
{
	if (!q)
		return;
	q->dead = true;
	qmp_fail_all(q, -ECONNRESET);
	if (q->fd >= 0)
		close(q->fd);
	free(q->line);
	free(q->out);
	free(q->held);
	free(q);
}

int vigil_qmp_fd(const struct vigil_qmp *q)
{
	return q->fd;
}

bool vigil_qmp_want_write(const struct vigil_qmp *q)
{
	return !q->dead && q->out_off < q->out_len;
}

bool vigil_qmp_ready(const struct vigil_qmp *q)
{
	return q->ready;
}

const struct vigil_qmp_stats *vigil_qmp_stats(const struct vigil_qmp *q)
{
	return &q->st;
}

/* Send what is queued: 0 (all sent, or the socket is full), or -errno. */
static int qmp_flush(struct vigil_qmp *q)
{
	while (q->out_off < q->out_len) {
		ssize_t n = send(q->fd, q->out + q->out_off, q->out_len - q->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		q->out_off += (size_t)n;
	}
	q->out_off = q->out_len = 0;
	return 0;
}

/* The connection is gone: every command in flight fails now (a snapshot
 * waiting on one is answered), none is accepted from here on. */
static void qmp_die(struct vigil_qmp *q, int err)
{
	q->dead = true;
	q->out_off = q->out_len = 0;
	qmp_fail_all(q, err == -EPIPE ? -EPIPE : -ECONNRESET);
}

int vigil_qmp_on_writable(struct vigil_qmp *q)
{
	int r;

	if (q->dead)
		return -EPIPE;
	r = qmp_flush(q);
	if (r < 0)
		qmp_die(q, r);
	return r;
}

static int qmp_slot(struct vigil_qmp *q)
{
	for (int i = 0; i < VIGIL_QMP_INFLIGHT; i++)
		if (!q->pending[i].id)
			return i;
	return -1;
}

int vigil_qmp_command(struct vigil_qmp *q, const char *cmd, struct json_object *args,
		      vigil_qmp_reply_fn cb, void *ctx)
{
	struct json_object *msg;
	const char *text;
	size_t len;
	uint32_t id;
	int slot, r;

	if (q->dead) {
		json_object_put(args);
		return -EPIPE;
	}
	slot = qmp_slot(q);
	if (slot < 0) {
		json_object_put(args);
		return -EBUSY;
	}
	id = q->next_id++;
	if (q->next_id == 0 || q->next_id > INT32_MAX)
		q->next_id = 1; /* ids are returned as positive ints */
	msg = json_object_new_object();
	if (!msg) {
		json_object_put(args);
		return -ENOMEM;
	}
	json_object_object_add(msg, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(msg, "arguments", args);
	json_object_object_add(msg, "id", json_object_new_int64(id));
	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	if (q->ready)
		r = qmp_send_raw(q, text, len);
	else
		r = qmp_append(&q->held, &q->held_len, text, len, VIGIL_QMP_OUT_MAX);
	if (r == 0)
		r = q->ready ? qmp_send_raw(q, "\n", 1)
			     : qmp_append(&q->held, &q->held_len, "\n", 1, VIGIL_QMP_OUT_MAX);
	json_object_put(msg);
	if (r < 0)
		return r;
	q->pending[slot] = (struct qmp_pending){ .id = id, .cb = cb, .ctx = ctx };
	if (q->ready)
		qmp_flush(q); /* errors show up on the next EPOLLOUT/IN, not in here */
	return (int)id;
}

int vigil_qmp_hmp(struct vigil_qmp *q, const char *command_line, vigil_qmp_reply_fn cb, void *ctx)
{
	struct json_object *args = json_object_new_object();

	if (!args)
		return -ENOMEM;
	json_object_object_add(args, "command-line", json_object_new_string(command_line));
	return vigil_qmp_command(q, "human-monitor-command", args, cb, ctx);
}

int vigil_qmp_dump_memory(struct vigil_qmp *q, const char *path, vigil_qmp_reply_fn cb, void *ctx)
{
	struct json_object *args;
	char *proto;

	if (path[0] != '/')
		return -EINVAL;
	if (asprintf(&proto, "file:%s", path) < 0)
		return -ENOMEM;
	args = json_object_new_object();
	if (!args) {
		free(proto);
		return -ENOMEM;
	}
	json_object_object_add(args, "paging", json_object_new_boolean(0));
	json_object_object_add(args, "protocol", json_object_new_string(proto));
	json_object_object_add(args, "detach", json_object_new_boolean(0));
	free(proto);
	return vigil_qmp_command(q, "dump-guest-memory", args, cb, ctx);
}

static void qmp_caps_done(void *ctx, int err, struct json_object *ret, const char *desc)
{
	struct vigil_qmp *q = ctx;

	(void)ret;
	(void)desc;
	if (err < 0) {
		q->dead = true;
		return;
	}
	q->ready = true;
	if (q->held_len) {
		if (qmp_send_raw(q, q->held, q->held_len) < 0)
			q->dead = true;
		free(q->held);
		q->held = NULL;
		q->held_len = 0;
	}
}

static void qmp_reply(struct vigil_qmp *q, struct json_object *msg, struct json_object *id_obj)
{
	struct json_object *ret = NULL, *err = NULL, *desc = NULL;
	int64_t id = json_object_get_int64(id_obj);

	if (!json_object_is_type(id_obj, json_type_int) || id <= 0 || id > UINT32_MAX) {
		q->st.unmatched++;
		return;
	}
	for (size_t i = 0; i < VIGIL_QMP_INFLIGHT; i++) {
		struct qmp_pending p = q->pending[i];
		if (p.id != (uint32_t)id)
			continue;
		q->pending[i].id = 0;
		q->st.replies++;
		if (json_object_object_get_ex(msg, "error", &err)) {
			q->st.errors++;
			json_object_object_get_ex(err, "desc", &desc);
			if (p.cb)
				p.cb(p.ctx, -EREMOTEIO, NULL,
				     desc ? json_object_get_string(desc) : "unknown error");
		} else {
			json_object_object_get_ex(msg, "return", &ret);
			if (p.cb)
				p.cb(p.ctx, 0, ret, NULL);
		}
		return;
	}
	q->st.unmatched++;
}

static int qmp_line(struct vigil_qmp *q, const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *msg, *v;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return 0;
	tok = json_tokener_new_ex(64);
	if (!tok)
		return -ENOMEM;
	msg = json_tokener_parse_ex(tok, line, (int)len);
	if (!msg || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(msg, json_type_object)) {
		json_tokener_free(tok);
		json_object_put(msg);
		q->st.bad_lines++;
		return 0;
	}
	json_tokener_free(tok);
	if (!q->greeted) {
		if (!json_object_object_get_ex(msg, "QMP", &v)) {
			json_object_put(msg);
			q->st.bad_lines++;
			return -EPROTO;
		}
		q->greeted = true;
		qmp_keep_version(q, v);
		json_object_put(msg);
		/* The handshake goes first, ahead of anything held. */
		{
			int slot = qmp_slot(q);
			char buf[96];
			int n;
			uint32_t id = q->next_id++;
			if (slot < 0)
				return -EPROTO;
			n = snprintf(buf, sizeof(buf),
				     "{\"execute\":\"qmp_capabilities\",\"id\":%u}\n", id);
			q->pending[slot] =
			    (struct qmp_pending){ .id = id, .cb = qmp_caps_done, .ctx = q };
			if (qmp_send_raw(q, buf, (size_t)n) < 0)
				return -ENOBUFS;
		}
		return 0;
	}
	if (json_object_object_get_ex(msg, "event", &v)) {
		struct json_object *data = NULL, *ts, *sec, *usec;
		uint64_t ts_us = 0;
		q->st.events++;
		json_object_object_get_ex(msg, "data", &data);
		if (json_object_object_get_ex(msg, "timestamp", &ts) &&
		    json_object_object_get_ex(ts, "seconds", &sec) &&
		    json_object_object_get_ex(ts, "microseconds", &usec))
			ts_us = (uint64_t)json_object_get_int64(sec) * 1000000u +
				(uint64_t)json_object_get_int64(usec);
		if (q->on_event && json_object_is_type(v, json_type_string))
			q->on_event(q->ctx, json_object_get_string(v), data, ts_us);
	} else if (json_object_object_get_ex(msg, "id", &v)) {
		qmp_reply(q, msg, v);
	} else {
		q->st.bad_lines++;
	}
	json_object_put(msg);
	if (q->greeted && !q->ready && q->dead)
		return -EPROTO;
	return 0;
}

int vigil_qmp_on_readable(struct vigil_qmp *q)
{
	char buf[16384];
	size_t budget = VIGIL_QMP_READ_BUDGET;
	int r;

	if (q->dead)
		return -EPIPE;
	while (budget > 0) {
		ssize_t n =
		    recv(q->fd, buf, sizeof(buf) < budget ? sizeof(buf) : budget, MSG_DONTWAIT);
		char *p, *end;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			r = -errno;
			goto dead;
		}
		if (n == 0) {
			r = -EPIPE;
			goto dead;
		}
		q->st.bytes_in += (uint64_t)n;
		budget -= (size_t)n;
		for (p = buf, end = buf + n; p < end;) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t chunk = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (q->skipping) {
				if (nl)
					q->skipping = false;
			} else if (q->line_len + chunk > VIGIL_QMP_LINE_MAX) {
				q->st.long_lines++;
				q->line_len = 0;
				q->skipping = !nl;
			} else {
				if (q->line_len + chunk + 1 > q->line_cap) {
					size_t nc = q->line_cap ? q->line_cap : 4096;
					char *nb;
					while (nc < q->line_len + chunk + 1)
						nc *= 2;
					nb = realloc(q->line, nc);
					if (!nb) {
						r = -ENOMEM;
						goto dead;
					}
					q->line = nb;
					q->line_cap = nc;
				}
				memcpy(q->line + q->line_len, p, chunk);
				q->line_len += chunk;
				if (nl) {
					r = qmp_line(q, q->line, q->line_len);
					q->line_len = 0;
					if (r < 0)
						goto dead;
				}
			}
			p += chunk + (nl ? 1 : 0);
		}
	}
	if (q->out_off < q->out_len) {
		r = qmp_flush(q);
		if (r < 0)
			goto dead;
	}
	return 0;
dead:
	qmp_die(q, r);
	return r;
}
