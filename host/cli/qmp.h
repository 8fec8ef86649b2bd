/* SPDX-License-Identifier: MIT */
/*
 * qmp: a non-blocking QEMU Machine Protocol client for an epoll loop.
 *
 * Owns: the connected socket, the capabilities handshake, a queue of
 * commands sent once the handshake is done, the in-flight table matching
 * replies to callbacks by id, and the line parser (json-c) for replies and
 * events. The caller polls vigil_qmp_fd() for EPOLLIN, and for EPOLLOUT
 * while vigil_qmp_want_write() says so.
 * Limits: a message (one line) up to VIGIL_QMP_LINE_MAX bytes, longer
 * lines are dropped and counted; VIGIL_QMP_INFLIGHT commands in flight;
 * VIGIL_QMP_OUT_MAX bytes queued for sending. Reading stops after
 * VIGIL_QMP_READ_BUDGET bytes per call so one source cannot starve others.
 * Errors: negative errno; callbacks get a negative errno or 0.
 */
#ifndef VIGIL_CLI_QMP_H
#define VIGIL_CLI_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define VIGIL_QMP_LINE_MAX    (4u << 20)
#define VIGIL_QMP_INFLIGHT    64
#define VIGIL_QMP_OUT_MAX     (256u << 10)
#define VIGIL_QMP_READ_BUDGET (256u << 10)

struct vigil_qmp;

/* An event: name ("STOP", "GUEST_PANICKED", ...), data (may be NULL; borrowed
 * for the call), QEMU's timestamp in microseconds since the epoch. */
typedef void (*vigil_qmp_event_fn)(void *ctx, const char *name, struct json_object *data,
				   uint64_t ts_us);
/*
 * A command's end: err 0 and ret (borrowed) on success; -EREMOTEIO with
 * desc when QEMU answered with an error; -EPIPE/-ECONNRESET when the
 * connection ended first (ret and desc NULL).
 */
typedef void (*vigil_qmp_reply_fn)(void *ctx, int err, struct json_object *ret, const char *desc);

struct vigil_qmp_stats {
	uint64_t events;
	uint64_t replies;
	uint64_t errors;     /* error replies */
	uint64_t unmatched;  /* replies with an unknown id */
	uint64_t bad_lines;  /* not JSON or not a QMP message */
	uint64_t long_lines; /* over VIGIL_QMP_LINE_MAX, dropped */
	uint64_t bytes_in;
};

/* Take ownership of fd (a connected stream socket; made non-blocking). */
int vigil_qmp_new(int fd, vigil_qmp_event_fn on_event, void *ctx, struct vigil_qmp **out);
/* Fails every pending command with -ECONNRESET, closes the fd. NULL ok. */
void vigil_qmp_free(struct vigil_qmp *q);

int vigil_qmp_fd(const struct vigil_qmp *q);
bool vigil_qmp_want_write(const struct vigil_qmp *q);
/* The greeting arrived and qmp_capabilities succeeded. */
bool vigil_qmp_ready(const struct vigil_qmp *q);
const struct vigil_qmp_stats *vigil_qmp_stats(const struct vigil_qmp *q);
/* QEMU's version from the greeting ("7.2.19"); "" before the greeting. */
const char *vigil_qmp_version(const struct vigil_qmp *q);

/*
 * Read what is there (up to the budget) and dispatch. Returns 0, or -EPIPE
 * at end of stream, -EPROTO when the handshake failed, -errno on a read
 * error. After an error the client is dead: free it.
 */
int vigil_qmp_on_readable(struct vigil_qmp *q);
/* Flush queued output. 0, or -errno (-EPIPE on a dead client): a send
 * error ends the client as a read error does, every pending command failed
 * through its callback (-EPIPE/-ECONNRESET) before this returns. */
int vigil_qmp_on_writable(struct vigil_qmp *q);

/*
 * Queue a command. args may be NULL; its reference is taken in every case.
 * cb may be NULL (the reply is then only counted). Returns the command id
 * (> 0), -EBUSY with VIGIL_QMP_INFLIGHT commands outstanding, -ENOBUFS when
 * the output queue is full, -EPIPE on a dead client.
 */
int vigil_qmp_command(struct vigil_qmp *q, const char *cmd, struct json_object *args,
		      vigil_qmp_reply_fn cb, void *ctx);
/* human-monitor-command with command_line. */
int vigil_qmp_hmp(struct vigil_qmp *q, const char *command_line, vigil_qmp_reply_fn cb, void *ctx);
/* dump-guest-memory to an absolute file path (paging off, not detached). */
int vigil_qmp_dump_memory(struct vigil_qmp *q, const char *path, vigil_qmp_reply_fn cb, void *ctx);

#endif /* VIGIL_CLI_QMP_H */
