/* SPDX-License-Identifier: MIT */
/* console: line scanner for the serial console (see console.h). */
#include "console.h"

#include <string.h>

void vigil_console_init(struct vigil_console *c)
{
	memset(c, 0, sizeof(*c));
}

static void excerpt_add(struct vigil_console *c, const char *line, size_t len)
{
	if (c->excerpt_full)
		return;
	if (c->excerpt_len + len + 1 > VIGIL_CON_EXCERPT_MAX) {
		c->excerpt_full = true;
		return;
	}
	memcpy(c->excerpt + c->excerpt_len, line, len);
	c->excerpt_len += len;
	c->excerpt[c->excerpt_len++] = '\n';
	c->excerpt[c->excerpt_len] = '\0';
}

static void con_line(struct vigil_console *c, vigil_console_fn fn, void *ctx)
{
	enum vigil_kernel_trouble k;

	c->line[c->len] = '\0';
	k = vigil_kernel_line_classify(c->line, c->len);
	c->lines++;
	c->counts[k]++;
	if (c->first == VIGIL_KT_NONE && k != VIGIL_KT_NONE) {
		unsigned start = (c->ctx_next + VIGIL_CON_CONTEXT - c->ctx_n) % VIGIL_CON_CONTEXT;
		c->first = k;
		memcpy(c->first_line, c->line, c->len + 1);
		for (unsigned i = 0; i < c->ctx_n; i++) {
			const char *l = c->ctx[(start + i) % VIGIL_CON_CONTEXT];
			excerpt_add(c, l, strlen(l));
		}
		excerpt_add(c, c->line, c->len);
	} else if (c->first != VIGIL_KT_NONE) {
		if (++c->excerpt_lines >= VIGIL_CON_EXCERPT_LINES)
			c->excerpt_full = true;
		excerpt_add(c, c->line, c->len);
	}
	memcpy(c->ctx[c->ctx_next], c->line, c->len + 1);
	c->ctx_next = (c->ctx_next + 1) % VIGIL_CON_CONTEXT;
	if (c->ctx_n < VIGIL_CON_CONTEXT)
		c->ctx_n++;
	if (fn)
		fn(ctx, c->line, c->len, k);
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
