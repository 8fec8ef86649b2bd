/* SPDX-License-Identifier: MIT */
/* term: vigil's lines, the status line and echoed output (see term.h). */
#include "term.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "outq.h"

static struct {
	bool quiet, tty, drawn;
	unsigned cols;
	struct vigil_outq *q[3]; /* [1] stdout, [2] stderr, when attached */
	void (*drain)(void *ctx);
	void *drain_ctx;
} term;

void vigil_term_resize(void)
{
	struct winsize ws;

	term.cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

void vigil_term_init(bool quiet)
{
	term.quiet = quiet;
	term.tty = isatty(2);
	term.drawn = false;
	vigil_term_resize();
}

static void on_drain(void *ctx)
{
	(void)ctx;
	if (!vigil_term_backlogged() && term.drain)
		term.drain(term.drain_ctx);
}

int vigil_term_attach(struct vigil_loop *l, void (*drain)(void *ctx), void *ctx)
{
	static const char *const names[3] = { "", "stdout", "stderr" };
	int e;

	fflush(stdout);
	fflush(stderr);
	term.drain = drain;
	term.drain_ctx = ctx;
	for (int fd = 1; fd <= 2; fd++) {
		e = vigil_outq_new(l, fd, names[fd], &term.q[fd]);
		if (e < 0)
			return e;
		vigil_outq_on_drain(term.q[fd], on_drain, NULL);
	}
	return 0;
}

void vigil_term_detach(int timeout_ms)
{
	for (int fd = 1; fd <= 2; fd++) {
		struct vigil_outq *q = term.q[fd];
		if (!q)
			continue;
		struct vigil_outq_stats st;
		if (vigil_outq_flush(q, timeout_ms) == -ETIMEDOUT)
			fprintf(stderr,
				"vigil: %zu bytes of output for fd %d were not written: its reader "
				"stopped reading\n",
				vigil_outq_pending(q), fd);
		vigil_outq_stats(q, &st);
		if (st.refused)
			fprintf(stderr,
				"vigil: %llu bytes of output for fd %d were dropped: its queue was "
				"full\n",
				(unsigned long long)st.refused, fd);
		vigil_outq_free(q);
		term.q[fd] = NULL;
	}
}

bool vigil_term_backlogged(void)
{
	return vigil_outq_backlogged(term.q[1]) || vigil_outq_backlogged(term.q[2]);
}

bool vigil_term_is_tty(void)
{
	return term.tty;
}

/* To fd 1 or 2: through its queue when attached, else whole (blocking). */
static void out(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	if (term.q[fd]) {
		vigil_outq_put(term.q[fd], buf, len); /* refusals are counted there */
		return;
	}
	if (fd == 2)
		fflush(stderr);
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the reader went away: the run goes on without it */
		p += n;
		len -= (size_t)n;
	}
}

void vigil_term_clear(void)
{
	if (term.drawn) {
		out(2, "\r\033[K", 4);
		term.drawn = false;
	}
}

static void say_v(const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	vigil_term_clear();
	memcpy(line, "vigil: ", 7);
	n = vsnprintf(line + 7, sizeof(line) - 8, fmt, ap);
	if (n < 0)
		return;
	n = n < (int)sizeof(line) - 8 ? n : (int)sizeof(line) - 9;
	line[7 + n] = '\n';
	out(2, line, (size_t)(8 + n));
}

void vigil_term_say(const char *fmt, ...)
{
	va_list ap;

	if (term.quiet)
		return;
	va_start(ap, fmt);
	say_v(fmt, ap);
	va_end(ap);
}

void vigil_term_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_v(fmt, ap);
	va_end(ap);
}

void vigil_term_status(const char *line)
{
	char buf[512];
	size_t n = strlen(line);

	if (!term.tty || term.quiet || vigil_outq_pending(term.q[2]))
		return;
	if (term.cols > 1 && n > term.cols - 1)
		n = term.cols - 1;
	n = n < sizeof(buf) - 5 ? n : sizeof(buf) - 5;
	memcpy(buf, "\r\033[K", 4);
	memcpy(buf + 4, line, n);
	out(2, buf, n + 4);
	term.drawn = true;
}

void vigil_term_write(int fd, const void *buf, size_t len)
{
	vigil_term_clear();
	out(fd, buf, len);
}
