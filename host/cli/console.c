/* SPDX-License-Identifier: MIT */
/* console: line scanner for the serial console (see console.h). */
#include "console.h"

#include <string.h>

static const char *const con_names[VIGIL_CON__COUNT] = {
	"none", "panic", "oops", "bug", "warning", "hung_task", "soft_lockup", "rcu_stall",
};

const char *vigil_con_kind_name(enum vigil_con_kind k)
{
	return (unsigned)k < VIGIL_CON__COUNT ? con_names[k] : "none";
}

/* Checked in order: the first match decides ("BUG: soft lockup" is a soft
 * lockup, not a BUG). */
static const struct {
	const char *needle;
	enum vigil_con_kind kind;
} con_patterns[] = {
	{ "Kernel panic - not syncing", VIGIL_CON_PANIC },
	{ "---[ end Kernel panic", VIGIL_CON_PANIC },
	{ "soft lockup", VIGIL_CON_SOFT_LOCKUP },
	{ "blocked for more than", VIGIL_CON_HUNG_TASK },
	{ "self-detected stall", VIGIL_CON_RCU_STALL },
	{ "detected stalls on CPUs", VIGIL_CON_RCU_STALL },
	{ "detected expedited stalls", VIGIL_CON_RCU_STALL },
	{ "Oops:", VIGIL_CON_OOPS },
	{ "general protection fault", VIGIL_CON_OOPS },
	{ "BUG:", VIGIL_CON_BUG },
	{ "kernel BUG at", VIGIL_CON_BUG },
	{ "WARNING: CPU:", VIGIL_CON_WARNING },
};

enum vigil_con_kind vigil_console_classify(const char *line)
{
	for (size_t i = 0; i < sizeof(con_patterns) / sizeof(con_patterns[0]); i++)
		if (strstr(line, con_patterns[i].needle))
			return con_patterns[i].kind;
	return VIGIL_CON_NONE;
}

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
	enum vigil_con_kind k;

	c->line[c->len] = '\0';
	k = vigil_console_classify(c->line);
	c->lines++;
	c->counts[k]++;
	if (c->first == VIGIL_CON_NONE && k != VIGIL_CON_NONE) {
		unsigned start = (c->ctx_next + VIGIL_CON_CONTEXT - c->ctx_n) % VIGIL_CON_CONTEXT;
		c->first = k;
		memcpy(c->first_line, c->line, c->len + 1);
		for (unsigned i = 0; i < c->ctx_n; i++) {
			const char *l = c->ctx[(start + i) % VIGIL_CON_CONTEXT];
			excerpt_add(c, l, strlen(l));
		}
		excerpt_add(c, c->line, c->len);
	} else if (c->first != VIGIL_CON_NONE) {
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
