/* SPDX-License-Identifier: MIT */
/*
 * vigil-fuzz-seeds (see seeds.h): the file helpers, main, and the seeds of the
 * agent's port (host frames), QMP (replies and greetings) and the workload
 * file. Usage: vigil-fuzz-seeds OUTDIR.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "seeds.h"

static const char *outdir;

_Noreturn void seed_fail(const char *what)
{
	fprintf(stderr, "vigil-fuzz-seeds: %s\n", what);
	exit(1);
}

void seed_put(struct seed *s, const void *d, size_t n)
{
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		uint8_t *p;

		while (cap < s->len + n)
			cap *= 2;
		p = realloc(s->p, cap);
		if (!p)
			seed_fail("out of memory");
		s->p = p;
		s->cap = cap;
	}
	if (n)
		memcpy(s->p + s->len, d, n);
	s->len += n;
}

void seed_puts(struct seed *s, const char *str)
{
	seed_put(s, str, strlen(str));
}

void seed_frame(struct seed *s, uint16_t type, uint32_t seq, const uint8_t *pl, size_t n)
{
	static uint8_t f[VIGIL_WIRE_MAX_FRAME];
	int len;

	memcpy(f + VIGIL_WIRE_HDR_LEN, pl, n);
	len = vigil_frame_seal(f, sizeof(f), type, seq, n);
	if (len < 0)
		seed_fail("vigil_frame_seal refused a seed's frame");
	seed_put(s, f, (size_t)len);
}

struct vigil_str seed_str(const char *s)
{
	return (struct vigil_str){ s, (uint16_t)strlen(s) };
}

void seed_write(const char *corpus, const char *name, struct seed *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, corpus);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		seed_fail("cannot create a corpus directory under OUTDIR");
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, corpus, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->p, 1, s->len, f) != s->len || fclose(f) != 0)
		seed_fail("cannot write a seed under OUTDIR");
	s->len = 0;
}

/* ---- the agent's port: host frames -------------------------------------- */

static void host_frames(struct seed *s, uint32_t seq)
{
	struct vigil_snapshot_reply r = { .request_id = 7,
					  .status = -5,
					  .detail = VIGIL_STR("dump-guest-memory failed") };
	struct vigil_inspect in = { .request_id = 3, .pid = 1234 };
	uint8_t pl[256];
	int n;

	if ((n = vigil_ping_encode(pl, sizeof(pl), 0x1122334455667788ull)) < 0)
		seed_fail("vigil_ping_encode");
	seed_frame(s, VIGIL_MSG_PING, seq++, pl, (size_t)n);
	if ((n = vigil_snapshot_reply_encode(pl, sizeof(pl), &r)) < 0)
		seed_fail("vigil_snapshot_reply_encode");
	seed_frame(s, VIGIL_MSG_SNAPSHOT_REPLY, seq++, pl, (size_t)n);
	if ((n = vigil_inspect_encode(pl, sizeof(pl), &in)) < 0)
		seed_fail("vigil_inspect_encode");
	seed_frame(s, VIGIL_MSG_INSPECT, seq++, pl, (size_t)n);
	if ((n = vigil_shutdown_encode(pl, sizeof(pl))) < 0)
		seed_fail("vigil_shutdown_encode");
	seed_frame(s, VIGIL_MSG_SHUTDOWN, seq, pl, (size_t)n);
}

/*
 * The chan's frame reader past the CRC gate: every host frame, and frames
 * with valid CRCs that its direction and shape checks reject (a guest
 * type, a type no one names, a PING of the wrong size), then one cut by
 * the host going away.
 */
static void seeds_agent_host(void)
{
	struct vigil_hello h = { .proto_version = 1,
				 .agent_version = VIGIL_STR("0.9"),
				 .kernel_release = VIGIL_STR("6.1.0"),
				 .hostname = VIGIL_STR("guest") };
	struct seed s = { 0 };
	uint8_t pl[256] = { 0 };
	int n;

	host_frames(&s, 1);
	seed_write("agent-host", "host-frames", &s);

	if ((n = vigil_hello_encode(pl, sizeof(pl), &h)) < 0)
		seed_fail("vigil_hello_encode");
	seed_frame(&s, VIGIL_MSG_HELLO, 1, pl, (size_t)n); /* wrong direction */
	seed_frame(&s, 0x8007, 2, pl, 8);                  /* no such type */
	seed_frame(&s, VIGIL_MSG_PING, 3, pl, 3);          /* malformed PING */
	host_frames(&s, 4);
	seed_write("agent-host", "host-rejected", &s);

	host_frames(&s, 1);
	if ((n = vigil_ping_encode(pl, sizeof(pl), 9)) < 0)
		seed_fail("vigil_ping_encode");
	seed_frame(&s, VIGIL_MSG_PING, 5, pl, (size_t)n);
	s.len -= 5; /* the port closes mid-frame */
	seed_write("agent-host", "host-cut", &s);
	free(s.p);
}

/* ---- QMP: replies QEMU sends ------------------------------------------- */

#define QMP_GREETING                                                                               \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 19, \"minor\": 2, \"major\": 7}, "         \
	"\"package\": \"Debian 1:7.2+dfsg-7+deb12u6\"}, \"capabilities\": [\"oob\"]}}\r\n"

/*
 * The target queues query-status (id 1); the greeting's handshake is id 2.
 * Replies to both, errors for both, replies to ids never sent, greetings
 * without QEMU's version, and a message longer than the first line buffer.
 */
static void seeds_cli_qmp(void)
{
	struct seed s = { 0 };

	seed_puts(&s, "{\"QMP\": {\"version\": {\"package\": \"\"}, \"capabilities\": []}}\r\n"
		      "{\"return\": {}, \"id\": 2}\r\n");
	seed_write("cli-qmp", "greeting-no-qemu", &s);

	seed_puts(&s, "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 8, \"minor\": 0}}, "
		      "\"capabilities\": []}}\r\n");
	seed_write("cli-qmp", "greeting-no-micro", &s);

	seed_puts(&s, QMP_GREETING
		  "{\"id\": 2, \"error\": {\"class\": \"CommandNotFound\", "
		  "\"desc\": \"The command qmp_capabilities has not been found\"}}\r\n");
	seed_write("cli-qmp", "capabilities-refused", &s);

	seed_puts(&s, QMP_GREETING
		  "{\"return\": {}, \"id\": 2}\r\n"
		  "{\"return\": {}, \"id\": 77}\r\n"
		  "{\"return\": {}, \"id\": 4294967296}\r\n"
		  "{\"return\": {}, \"id\": \"1\"}\r\n"
		  "{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}, \"id\": 3}\r\n"
		  "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, "
		  "\"event\": \"STOP\"}\r\n"
		  "{\"id\": 1, \"error\": {\"class\": \"GenericError\", "
		  "\"desc\": \"Guest has not initialized the display (yet)\"}}\r\n");
	seed_write("cli-qmp", "replies-unmatched", &s);

	seed_puts(&s,
		  QMP_GREETING "{\"return\": {}, \"id\": 2}\r\n"
			       "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 1}, "
			       "\"event\": \"GUEST_PANICKED\", \"data\": {\"action\": \"pause\", "
			       "\"info\": {\"type\": \"hyper-v\", \"arg1\": 0, \"message\": \"");
	for (int i = 0; i < 1200; i++)
		seed_puts(&s, "panic: ");
	seed_puts(&s, "\"}}}\r\n{\"return\": {\"running\": false, \"status\": \"guest-panicked\"}, "
		      "\"id\": 1}\r\n");
	seed_write("cli-qmp", "event-long", &s);
	free(s.p);
}

/* ---- the workload file at its limits ------------------------------------ */

static void seeds_agent_workload(void)
{
	struct seed s = { 0 };
	char rec[32];

	seed_put(&s, "arg=sleep\0arg=1\0", 16);
	for (unsigned i = 0; i <= 4096; i++) { /* one env record over WL_MAX_ENV */
		int n = snprintf(rec, sizeof(rec), "env=V%u=1", i % 10);

		seed_put(&s, rec, (size_t)n + 1);
	}
	seed_write("agent-workload", "env-over-limit", &s);

	seed_put(&s, "arg=true\0scenario=", 18);
	for (unsigned i = 0; i <= VIGIL_WIRE_STR_MAX; i++) /* one byte over */
		seed_put(&s, "s", 1);
	seed_put(&s, "", 1);
	seed_write("agent-workload", "scenario-too-long", &s);

	seed_put(&s, "arg=true\0scenario=", 18);
	for (unsigned i = 0; i < VIGIL_WIRE_STR_MAX; i++) /* at the limit */
		seed_put(&s, "s", 1);
	seed_put(&s, "\0env=A=1\0env=PATH=/usr/bin\0env=A=2\0", 35);
	seed_write("agent-workload", "scenario-at-limit", &s);
	free(s.p);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: vigil-fuzz-seeds OUTDIR (writes OUTDIR/<corpus>/<seed>)\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST)
		seed_fail("cannot create OUTDIR");
	seeds_agent_host();
	seeds_agent_flows();
	seeds_agent_workload();
	seeds_cli_qmp();
	seeds_session();
	return 0;
}
