/* SPDX-License-Identifier: MIT */
/* args: value parsers and the workload's kernel command line (see args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vigil_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
		{ "ns", 1 },   { "us", 1e3 },   { "ms", 1e6 },   { "s", 1e9 },
		{ "m", 60e9 }, { "min", 60e9 }, { "h", 3600e9 }, { "", 1e9 },
	};
	char *end;
	double v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			double r = v * units[i].mult;
			if (r >= 1.8e19)
				return -ERANGE;
			*ns = (uint64_t)llround(r);
			return 0;
		}
	}
	return -EINVAL;
}

int vigil_parse_mem_mb(const char *s, unsigned *mb)
{
	char *end;
	unsigned long long v;
	double mult = 1;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (!strcmp(end, "") || !strcmp(end, "M") || !strcmp(end, "MiB") || !strcmp(end, "m"))
		mult = 1;
	else if (!strcmp(end, "G") || !strcmp(end, "GiB") || !strcmp(end, "g"))
		mult = 1024;
	else if (!strcmp(end, "K") || !strcmp(end, "KiB") || !strcmp(end, "k"))
		mult = 1.0 / 1024;
	else
		return -EINVAL;
	if (v * mult < 16 || v * mult > 1024 * 1024)
		return -EINVAL; /* below what a kernel boots in, or over 1 TiB */
	*mb = (unsigned)(v * mult);
	return 0;
}

int vigil_cmdline_argv(char *buf, size_t cap, char *const *argv, int argc, int *bad)
{
	size_t o = strlen(buf), o0 = o;

	/* on failure buf is left as it was */
#define PUT(c)                                                                                     \
	do {                                                                                       \
		if (o + 1 >= cap) {                                                                \
			buf[o0] = '\0';                                                            \
			return -E2BIG;                                                             \
		}                                                                                  \
		buf[o++] = (c);                                                                    \
	} while (0)
	if (o)
		PUT(' ');
	PUT('-');
	PUT('-');
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool quote = *a == '\0' || strpbrk(a, " \t") != NULL;
		for (const char *c = a; *c; c++) {
			if (*c == '"' || (unsigned char)*c < 0x20 || *c == 0x7f) {
				if (bad)
					*bad = i;
				buf[o0] = '\0';
				return -EINVAL;
			}
		}
		PUT(' ');
		if (quote)
			PUT('"');
		for (const char *c = a; *c; c++)
			PUT(*c);
		if (quote)
			PUT('"');
	}
	buf[o] = '\0';
#undef PUT
	return (int)o;
}

int vigil_cmdline_shell(char *buf, size_t cap, char *const *argv, int argc)
{
	static const char head[] = "-- /bin/sh -c \"set -f;IFS=;eval $(printf %b 'exec";
	static const char tail[] = "')\"";
	size_t o = strlen(buf), o0 = o;

	/* on failure buf is left as it was */
#define PUTS(str)                                                                                  \
	do {                                                                                       \
		size_t l_ = strlen(str);                                                           \
		if (o + l_ + 1 > cap) {                                                            \
			buf[o0] = '\0';                                                            \
			return -E2BIG;                                                             \
		}                                                                                  \
		memcpy(buf + o, str, l_);                                                          \
		o += l_;                                                                           \
	} while (0)
	if (o)
		PUTS(" ");
	PUTS(head);
	for (int i = 0; i < argc; i++) {
		/* ' ' then the argument in single quotes; a single quote inside
		 * is '\'' in shell terms, and every special byte is octal so
		 * neither the kernel nor the outer quotes see it */
		PUTS(" \\0047");
		for (const unsigned char *c = (const unsigned char *)argv[i]; *c; c++) {
			char esc[8];
			if (*c == '\'') {
				PUTS("\\0047\\0134\\0047\\0047");
			} else if (*c == '"' || *c == '\\' || *c < 0x20 || *c == 0x7f ||
				   *c == '%') {
				snprintf(esc, sizeof(esc), "\\0%03o", *c);
				PUTS(esc);
			} else {
				esc[0] = (char)*c;
				esc[1] = '\0';
				PUTS(esc);
			}
		}
		PUTS("\\0047");
	}
	PUTS(tail);
#undef PUTS
	buf[o] = '\0';
	return (int)o;
}
