/* SPDX-License-Identifier: MIT */
/*
 * http: the /metrics and /status server, libmicrohttpd in external epoll
 * mode inside a vigil loop: no thread of its own, no hand-written HTTP.
 *
 * Owns: the MHD daemon (MHD_USE_EPOLL, no internal thread); a loop source
 * on MHD's epoll fd and a loop timer armed from MHD_get_timeout, both of
 * which call MHD_run (which never blocks) and re-arm the timer; the
 * listening socket, bound here (so a bind error says what failed) and
 * handed to MHD; the SHA-256 of the bearer token, never the token.
 *
 * Serves:
 *   GET /metrics  200 text/plain; version=0.0.4; charset=utf-8, written by
 *                 the owner's metrics callback (a writer on a fresh buffer)
 *   GET /status   200 application/json, the owner's status callback fills
 *                 a json-c object
 *   other paths   404; other methods 405 (HEAD is GET without the body)
 *   callback or writer error: 500 (the first one is logged)
 * With a token, every request needs "Authorization: Bearer TOKEN" (scheme
 * case-insensitive); missing or wrong: 401 with WWW-Authenticate. The
 * presented token is hashed and the digests compared in constant time.
 *
 * Limits: max_connections at once (MHD refuses more), each closed after
 * timeout_s idle, conn_memory bytes for a connection's request (MHD
 * answers 431 past it), max_body bytes of a /metrics body (500 past it).
 * Listens on 127.0.0.1 unless told otherwise. A client that holds
 * max_connections connections open can still keep scrapers out: the limit
 * bounds the harm (fds, memory), loopback and the token bound who can.
 * Measured under 1,000 slow clients by tests/bench/metrics-bench.
 * Expected load: a scraper or two every few seconds; a scrape renders every guest's families on the
 * loop (a few ms with hundreds of guests), nothing else is per-request.
 */
#ifndef VIGIL_METRICS_HTTP_H
#define VIGIL_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "expo.h"
#include "loop.h"

#define VIGIL_HTTP_DEFAULT_ADDR   "127.0.0.1" /* when the listen string has none */
#define VIGIL_HTTP_DEFAULT_LISTEN "127.0.0.1:9100"
/* Room for many slow or idle clients (slowloris) beside the scrapers: a
 * connection costs an fd and at most VIGIL_HTTP_CONN_MEMORY (16 MiB for all
 * of them); the owner raises RLIMIT_NOFILE to fit (vigil_http_fd_room). */
#define VIGIL_HTTP_MAX_CONNS      1024
#define VIGIL_HTTP_TIMEOUT_S      10
#define VIGIL_HTTP_CONN_MEMORY    (16u << 10) /* a scrape's request is under 1 KiB */
#define VIGIL_HTTP_TOKEN_MAX      4096 /* bytes of a token file */

struct json_object;
struct vigil_http;

struct vigil_http_opts {
	size_t sz; /* sizeof(struct vigil_http_opts): the struct may grow */
	/* "ADDR:PORT", "[V6ADDR]:PORT", ":PORT" or "PORT" (ADDR numeric; port 0:
	 * any free one, see vigil_http_port). NULL: VIGIL_HTTP_DEFAULT_LISTEN. */
	const char *listen;
	/* A file holding the bearer token (trailing whitespace ignored); NULL:
	 * no authentication. */
	const char *token_file;
	unsigned max_connections; /* 0: VIGIL_HTTP_MAX_CONNS */
	unsigned timeout_s;       /* idle seconds before a connection is closed; 0: default */
	size_t conn_memory;       /* bytes per connection; 0: VIGIL_HTTP_CONN_MEMORY */
	size_t max_body;          /* bytes of a /metrics body; 0: VIGIL_BUF_MAX_DEFAULT */
	/* Writes the owner's families; 0, or a negative errno (500). */
	int (*metrics)(void *ctx, struct vigil_expo *w);
	/* Fills obj (an empty object); 0, or a negative errno (500). NULL: 404. */
	int (*status)(void *ctx, struct json_object *obj);
	void *ctx;
	/* Where errors go (bind, token file, MHD's own, a failing callback). */
	vigil_log_fn log;
	void *log_ctx;
};

struct vigil_http_stats {
	uint64_t requests;       /* answered, whatever the status */
	uint64_t metrics;        /* 200 on /metrics */
	uint64_t status;         /* 200 on /status */
	uint64_t not_found;      /* 404 and 405 */
	uint64_t unauthorized;   /* 401 */
	uint64_t errors;         /* 500 */
	uint64_t dropped_series; /* samples the writer dropped over a family's bound */
	uint64_t mhd_messages;   /* libmicrohttpd's messages (the first 16 are logged) */
	uint64_t connections;    /* accepted, in all */
	uint32_t open_now;       /* connections open now */
	uint32_t open_max;       /* the most open at once */
};

/*
 * Listens and serves on l. The error is logged with what failed and how
 * to fix it, and returned: -EINVAL (listen or an option), the token file's
 * errno (-EINVAL when empty or over VIGIL_HTTP_TOKEN_MAX), bind's errno
 * (-EADDRINUSE, ...), -ENOMEM, -EIO when MHD would not start.
 */
int vigil_http_new(struct vigil_loop *l, const struct vigil_http_opts *o, struct vigil_http **out);
/* Closes the listening socket and every connection. NULL ok. */
void vigil_http_free(struct vigil_http *h);
/* The port bound (the one chosen for port 0). */
uint16_t vigil_http_port(const struct vigil_http *h);
void vigil_http_stats(const struct vigil_http *h, struct vigil_http_stats *out);

/* Raises this process's soft RLIMIT_NOFILE (up to the hard one) so that
 * max_connections (0: the default) fit beside `others` fds of its own. 0,
 * or -EMFILE when the hard limit is lower (the limit then stays as high as
 * it goes; connections past it are refused by accept). */
int vigil_http_fd_room(unsigned max_connections, unsigned others);

/* Parses a listen string as vigil_http_opts.listen says. 0 or -EINVAL. */
int vigil_http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif /* VIGIL_METRICS_HTTP_H */
