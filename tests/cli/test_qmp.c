/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/qmp.c against a scripted QMP server on a socketpair. */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "qmp.h"

struct rec {
	int calls;
	int err;
	char ret[256];
	char desc[128];
	char events[512];
	uint64_t ts;
};

static void on_event(void *ctx, const char *name, struct json_object *data, uint64_t ts_us)
{
	struct rec *r = ctx;

	strcat(r->events, name);
	if (data)
		strcat(r->events, json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN));
	strcat(r->events, ";");
	r->ts = ts_us;
}

static void on_reply(void *ctx, int err, struct json_object *ret, const char *desc)
{
	struct rec *r = ctx;

	r->calls++;
	r->err = err;
	snprintf(r->ret, sizeof(r->ret), "%s",
		 ret ? json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN) : "");
	snprintf(r->desc, sizeof(r->desc), "%s", desc ? desc : "");
}

static void srv_send(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Read one line the client sent; returns its "id" (or -1) and copies it. */
static int srv_recv(int fd, char *line, size_t cap)
{
	size_t n = 0;
	struct json_object *o, *id;
	int v = -1;

	while (n + 1 < cap) {
		char c;
		assert_int_equal(read(fd, &c, 1), 1);
		if (c == '\n')
			break;
		line[n++] = c;
	}
	line[n] = '\0';
	o = json_tokener_parse(line);
	assert_non_null(o);
	if (json_object_object_get_ex(o, "id", &id))
		v = json_object_get_int(id);
	json_object_put(o);
	return v;
}

static const char greeting[] = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, "
			       "\"major\": 7}}, \"capabilities\": [\"oob\"]}}\r\n";

/* Handshake, then a command queued before it was done. */
static void test_handshake_and_queue(void **state)
{
	struct vigil_qmp *q;
	struct rec r = { 0 };
	char line[1024], buf[256];
	int sv[2], id, cid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(vigil_qmp_new(sv[0], on_event, &r, &q), 0);
	cid = vigil_qmp_command(q, "query-status", NULL, on_reply, &r);
	assert_true(cid > 0);
	assert_false(vigil_qmp_want_write(q)); /* held until the handshake */
	assert_string_equal(vigil_qmp_version(q), "");
	srv_send(sv[1], greeting);
	assert_int_equal(vigil_qmp_on_readable(q), 0);
	assert_string_equal(vigil_qmp_version(q), "7.2.22");
	id = srv_recv(sv[1], line, sizeof(line));
	assert_non_null(strstr(line, "\"execute\":\"qmp_capabilities\""));
	assert_false(vigil_qmp_ready(q));
	snprintf(buf, sizeof(buf), "{\"return\": {}, \"id\": %d}\r\n", id);
	srv_send(sv[1], buf);
	assert_int_equal(vigil_qmp_on_readable(q), 0);
	assert_true(vigil_qmp_ready(q));
	assert_int_equal(srv_recv(sv[1], line, sizeof(line)), cid);
	assert_non_null(strstr(line, "\"execute\":\"query-status\""));
	snprintf(buf, sizeof(buf),
		 "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %d}\n", cid);
	/* byte by byte */
	for (size_t i = 0; buf[i]; i++) {
		assert_int_equal(write(sv[1], buf + i, 1), 1);
		assert_int_equal(vigil_qmp_on_readable(q), 0);
	}
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.ret, "{\"status\":\"running\",\"running\":true}");
	vigil_qmp_free(q);
	close(sv[1]);
}

static struct vigil_qmp *ready_client(int sv[2], struct rec *r)
{
	struct vigil_qmp *q;
	char line[512], buf[64];
	int id;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(vigil_qmp_new(sv[0], on_event, r, &q), 0);
	srv_send(sv[1], greeting);
	assert_int_equal(vigil_qmp_on_readable(q), 0);
	id = srv_recv(sv[1], line, sizeof(line));
	snprintf(buf, sizeof(buf), "{\"return\": {}, \"id\": %d}\n", id);
	srv_send(sv[1], buf);
	assert_int_equal(vigil_qmp_on_readable(q), 0);
	assert_true(vigil_qmp_ready(q));
	return q;
}

static void test_events_errors_and_junk(void **state)
{
	struct rec r = { 0 };
	char line[1024], buf[256];
	int sv[2], id;
	struct vigil_qmp *q = ready_client(sv, &r);
	char *huge;

	(void)state;
	srv_send(sv[1], "{\"timestamp\": {\"seconds\": 1795438340, \"microseconds\": 424622}, "
			"\"event\": \"GUEST_PANICKED\", \"data\": {\"action\": \"poweroff\"}}\n"
			"{\"event\": \"STOP\"}\n"
			"not json at all\n"
			"{\"return\": {}, \"id\": 999}\n"
			"{\"return\": {}, \"id\": \"str\"}\n"
			"[1,2]\n");
	assert_int_equal(vigil_qmp_on_readable(q), 0);
	assert_string_equal(r.events, "GUEST_PANICKED{\"action\":\"poweroff\"};STOP;");
	assert_int_equal(vigil_qmp_stats(q)->events, 2);
	assert_int_equal(vigil_qmp_stats(q)->bad_lines, 2);
	assert_int_equal(vigil_qmp_stats(q)->unmatched, 2);

	id = vigil_qmp_hmp(q, "info registers -a", on_reply, &r);
	assert_true(id > 0);
	assert_int_equal(srv_recv(sv[1], line, sizeof(line)), id);
	assert_non_null(strstr(line, "\"command-line\":\"info registers -a\""));
	snprintf(buf, sizeof(buf),
		 "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no such thing\"}, "
		 "\"id\": %d}\n",
		 id);
	srv_send(sv[1], buf);
	assert_int_equal(vigil_qmp_on_readable(q), 0);
	assert_int_equal(r.err, -EREMOTEIO);
	assert_string_equal(r.desc, "no such thing");
	assert_int_equal(vigil_qmp_stats(q)->errors, 1);

	/* a line over the limit is dropped; the stream goes on */
	huge = malloc(VIGIL_QMP_LINE_MAX + 100);
	memset(huge, 'x', VIGIL_QMP_LINE_MAX + 99);
	huge[VIGIL_QMP_LINE_MAX + 99] = '\n';
	{
		size_t off = 0, total = VIGIL_QMP_LINE_MAX + 100;
		while (off < total) {
			ssize_t n =
			    write(sv[1], huge + off, total - off > 65536 ? 65536 : total - off);
			assert_true(n > 0);
			off += (size_t)n;
			assert_int_equal(vigil_qmp_on_readable(q), 0);
		}
	}
	free(huge);
	srv_send(sv[1], "{\"event\": \"RESUME\"}\n");
	while (!strstr(r.events, "RESUME"))
		assert_int_equal(vigil_qmp_on_readable(q), 0);
	assert_int_equal(vigil_qmp_stats(q)->long_lines, 1);

	/* dump-guest-memory's arguments */
	id = vigil_qmp_dump_memory(q, "/tmp/dump.elf", on_reply, &r);
	assert_true(id > 0);
	assert_int_equal(srv_recv(sv[1], line, sizeof(line)), id);
	assert_non_null(strstr(line, "\"protocol\":\"file:/tmp/dump.elf\""));
	assert_non_null(strstr(line, "\"paging\":false"));
	assert_int_equal(vigil_qmp_dump_memory(q, "relative", on_reply, &r), -EINVAL);
	vigil_qmp_free(q); /* the pending dump fails with -ECONNRESET */
	assert_int_equal(r.err, -ECONNRESET);
	close(sv[1]);
}

static void test_eof_fails_pending(void **state)
{
	struct rec r = { 0 };
	int sv[2];
	struct vigil_qmp *q = ready_client(sv, &r);
	char line[256];

	(void)state;

	assert_true(vigil_qmp_command(q, "stop", NULL, on_reply, &r) > 0);
	assert_true(srv_recv(sv[1], line, sizeof(line)) > 0);
	close(sv[1]);
	assert_int_equal(vigil_qmp_on_readable(q), -EPIPE);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, -EPIPE);
	assert_int_equal(vigil_qmp_command(q, "cont", NULL, on_reply, &r), -EPIPE);
	vigil_qmp_free(q);
	assert_int_equal(r.calls, 1); /* not failed twice */
}

/* A send error ends the client as EOF does: the command in flight fails
 * then (a snapshot waiting on it is answered), not when the client is
 * freed, which may be after its owner is gone. */
static void test_send_error_fails_pending(void **state)
{
	struct rec r = { 0 };
	int sv[2];
	struct vigil_qmp *q = ready_client(sv, &r);

	(void)state;
	assert_int_equal(shutdown(sv[1], SHUT_RD), 0); /* sends now fail: EPIPE */
	assert_true(vigil_qmp_command(q, "stop", NULL, on_reply, &r) > 0);
	assert_int_equal(r.calls, 0); /* never from inside the command */
	assert_true(vigil_qmp_want_write(q));
	assert_int_equal(vigil_qmp_on_writable(q), -EPIPE);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, -EPIPE);
	assert_false(vigil_qmp_want_write(q));
	assert_int_equal(vigil_qmp_on_writable(q), -EPIPE);
	assert_int_equal(vigil_qmp_command(q, "cont", NULL, on_reply, &r), -EPIPE);
	vigil_qmp_free(q);
	assert_int_equal(r.calls, 1); /* not failed twice */
	close(sv[1]);
}

static void test_bad_greeting_and_inflight_limit(void **state)
{
	struct vigil_qmp *q;
	struct rec r = { 0 };
	int sv[2], i, last = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(vigil_qmp_new(sv[0], on_event, &r, &q), 0);
	srv_send(sv[1], "{\"hello\": 1}\n");
	assert_int_equal(vigil_qmp_on_readable(q), -EPROTO);
	vigil_qmp_free(q);
	close(sv[1]);

	q = ready_client(sv, &r);
	for (i = 0; i < VIGIL_QMP_INFLIGHT; i++) {
		last = vigil_qmp_command(q, "query-status", NULL, NULL, NULL);
		assert_true(last > 0);
	}
	assert_int_equal(vigil_qmp_command(q, "query-status", NULL, NULL, NULL), -EBUSY);
	{
		char buf[64];
		snprintf(buf, sizeof(buf), "{\"return\": {}, \"id\": %d}\n", last);
		srv_send(sv[1], buf);
		assert_int_equal(vigil_qmp_on_readable(q), 0);
	}
	assert_true(vigil_qmp_command(q, "query-status", NULL, NULL, NULL) > 0);
	vigil_qmp_free(q);
	close(sv[1]);
}

/* A failed capabilities negotiation kills the client. */
static void test_caps_refused(void **state)
{
	struct vigil_qmp *q;
	struct rec r = { 0 };
	char line[512], buf[128];
	int sv[2], id;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(vigil_qmp_new(sv[0], on_event, &r, &q), 0);
	srv_send(sv[1], greeting);
	assert_int_equal(vigil_qmp_on_readable(q), 0);
	id = srv_recv(sv[1], line, sizeof(line));
	snprintf(buf, sizeof(buf),
		 "{\"error\": {\"class\": \"X\", \"desc\": \"no\"}, \"id\": %d}\n", id);
	srv_send(sv[1], buf);
	assert_int_equal(vigil_qmp_on_readable(q), -EPROTO);
	assert_false(vigil_qmp_ready(q));
	vigil_qmp_free(q);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_queue),
		cmocka_unit_test(test_events_errors_and_junk),
		cmocka_unit_test(test_eof_fails_pending),
		cmocka_unit_test(test_send_error_fails_pending),
		cmocka_unit_test(test_bad_greeting_and_inflight_limit),
		cmocka_unit_test(test_caps_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
