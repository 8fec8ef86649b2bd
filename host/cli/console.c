/* SPDX-License-Identifier: MIT */
/* console: the serial console's line splitter (see console.h). */
#include "console.h"

#include <string.h>

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
