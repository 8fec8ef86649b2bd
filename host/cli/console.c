/* SPDX-License-Identifier: MIT */
/* console: the serial console's line splitter and its socket's reader
 * (see console.h). */
#include "console.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void vigil_console_init(struct vigil_console *c)
{
	memset(c, 0, sizeof(*c));
}

static void con_line(struct vigil_console *c, vigil_console_fn fn, void *ctx)
{
	c->line[c->len] = '\0';
	c->lines++;
	if (fn)
		fn(ctx, c->line, c->len);
	c->len = 0;
	c->cut = false;
}

void vigil_console_feed(struct vigil_console *c, const char *buf, size_t len, vigil_console_fn fn,
			void *ctx)
{
	c->bytes += len;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if (ch == '\n') {
			con_line(c, fn, ctx);
			continue;
		}
		if (ch == '\r' || ch == '\0')
			continue;
		if (ch < 0x20 && ch != '\t')
			ch = '?'; /* escape sequences and the like: keep the line readable */
		if (c->len == VIGIL_CON_LINE_MAX) {
			if (!c->cut)
				c->long_lines++;
			c->cut = true;
			continue;
		}
		c->line[c->len++] = (char)ch;
	}
}

void vigil_console_flush(struct vigil_console *c, vigil_console_fn fn, void *ctx)
{
	if (c->len > 0)
		con_line(c, fn, ctx);
}

void vigil_console_cut(struct vigil_console *c)
{
	if (c->len > 0 || c->cut)
		c->cut_lines++;
	c->len = 0;
	c->cut = false;
}

/* ---- the console's socket on a loop ------------------------------------------ */

void vigil_con_reader_init(struct vigil_con_reader *r, const struct vigil_con_reader_cfg *c)
{
	memset(r, 0, sizeof(*r));
	r->c = *c;
	vigil_console_init(&r->scan);
	r->copy_fd = c->copy_fd;
	r->cap.limit = c->copy_limit;
}

static void warn(const struct vigil_con_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(const struct vigil_con_reader *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!r->c.warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->c.warn(r->c.ctx, msg);
}

static void copy_end(struct vigil_con_reader *r, int err)
{
	warn(r,
	     "cannot write the console to %s: %s (no longer copied; the console is still read "
	     "and scanned)",
	     r->c.copy_path, strerror(err));
	close(r->copy_fd);
	r->copy_fd = -1;
}

/* --console: the bytes as they come, up to --file-limit: the copy is
 * exactly the console's first limit bytes, whatever the sizes of the
 * reads (a stream has no holes: the part of a read that fits goes in, and
 * once full nothing later does), whole (a short write goes on with the
 * rest, EINTR is tried again); a full disk loses the copy, not the run. */
static void copy(struct vigil_con_reader *r, const char *buf, size_t n)
{
	struct vigil_cap *c = &r->cap;
	size_t fit = n;

	if (r->copy_fd < 0)
		return;
	if (c->dropped) { /* full stays full */
		c->dropped++;
		c->dropped_bytes += n;
		return;
	}
	if (c->limit && (c->used >= c->limit || n > c->limit - c->used))
		fit = c->used >= c->limit ? 0 : (size_t)(c->limit - c->used);
	vigil_cap_take(c, fit);
	if (fit < n && vigil_cap_take(c, n - fit) == VIGIL_CAP_FULL_NOW)
		warn(r,
		     "%s reached --file-limit (%llu bytes): the console is no longer copied there "
		     "(it is still read and scanned)",
		     r->c.copy_path, (unsigned long long)c->limit);
	while (fit > 0) { /* a short write goes on with the rest */
		ssize_t w = write(r->copy_fd, buf, fit);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			copy_end(r, w < 0 ? errno : EIO);
			return;
		}
		r->copy_bytes += (uint64_t)w;
		buf += w;
		fit -= (size_t)w;
	}
}

/* The socket is gone: at its end (eof) the last line is whole as QEMU
 * left it; after an error it was cut by the transport and is dropped. */
static void reader_end(struct vigil_con_reader *r, bool eof)
{
	if (eof)
		vigil_console_flush(&r->scan, r->c.on_line, r->c.ctx);
	else
		vigil_console_cut(&r->scan);
	vigil_source_free(r->src);
	r->src = NULL;
}

/* One wake-up: up to VIGIL_CON_BUDGET bytes, then back to the loop. */
static int reader_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct vigil_con_reader *r = ctx;
	char buf[16384];
	size_t budget = VIGIL_CON_BUDGET;

	(void)s;
	(void)events;
	while (budget > 0 && r->src) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			r->read_errors += n < 0;
			reader_end(r, n == 0);
			return 0;
		}
		copy(r, buf, (size_t)n);
		vigil_console_feed(&r->scan, buf, (size_t)n, r->c.on_line, r->c.ctx);
		budget -= (size_t)n < budget ? (size_t)n : budget;
	}
	return 0;
}

int vigil_con_reader_attach(struct vigil_con_reader *r, struct vigil_loop *l, int fd)
{
	int e;

	vigil_con_reader_detach(r);
	vigil_console_init(&r->scan);
	e = vigil_source_add(l, fd, EPOLLIN, VIGIL_SOURCE_OWN_FD, reader_ready, r, "console",
			     &r->src);
	if (e < 0)
		close(fd);
	return e;
}

void vigil_con_reader_drain(struct vigil_con_reader *r)
{
	for (int i = 0; i < VIGIL_CON_DRAIN && r->src; i++)
		reader_ready(r->src, vigil_source_fd(r->src), EPOLLIN, r);
}

void vigil_con_reader_detach(struct vigil_con_reader *r)
{
	vigil_source_free(r->src);
	r->src = NULL;
}

void vigil_con_reader_release(struct vigil_con_reader *r)
{
	vigil_con_reader_detach(r);
	if (r->copy_fd >= 0)
		close(r->copy_fd);
	r->copy_fd = -1;
}
