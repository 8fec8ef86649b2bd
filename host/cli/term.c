/* SPDX-License-Identifier: MIT */
/* term: vigil's lines, the status line and echoed output (see term.h). */
#include "term.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct {
	bool quiet, tty, drawn;
	unsigned cols;
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

bool vigil_term_is_tty(void)
{
	return term.tty;
}

void vigil_term_clear(void)
{
	if (term.drawn) {
		fputs("\r\033[K", stderr);
		term.drawn = false;
	}
}

void vigil_term_say(const char *fmt, ...)
{
	va_list ap;

	if (term.quiet)
		return;
	vigil_term_clear();
	fputs("vigil: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void vigil_term_status(const char *line)
{
	size_t n = strlen(line);

	if (!term.tty || term.quiet)
		return;
	if (term.cols > 1 && n > term.cols - 1)
		n = term.cols - 1;
	fprintf(stderr, "\r\033[K%.*s", (int)n, line);
	fflush(stderr);
	term.drawn = true;
}

void vigil_term_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	vigil_term_clear();
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
