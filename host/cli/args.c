/* SPDX-License-Identifier: MIT */
/* args: value parsers and the workload's kernel command line (see args.h). */
#include "args.h"

#include <vigil/session.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

int vigil_parse_duration_opt(const char *s, bool allow_none, uint64_t *ns)
{
	uint64_t v;
	int e;

	if (s && !strcmp(s, "none")) {
		if (!allow_none)
			return -EDOM;
		*ns = 0;
		return 0;
	}
	e = vigil_parse_duration(s, &v);
	if (e < 0)
		return e;
	if (v == 0)
		return -EDOM;
	*ns = v;
	return 0;
}

int vigil_parse_bytes_opt(const char *s, uint64_t *bytes)
{
	static const char *const units[] = { "", "K", "M", "G", "T" };
	unsigned long long v;
	char *end;

	if (s && !strcmp(s, "none")) {
		*bytes = 0;
		return 0;
	}
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t ul = strlen(units[i]);
		if (strncasecmp(end, units[i], ul) ||
		    (end[ul] && strcmp(end + ul, "iB") && strcmp(end + ul, "B")) || (!i && *end))
			continue;
		if (v > (1ull << 60) >> (10 * i))
			return -ERANGE;
		v <<= 10 * i;
		if (v < 4096)
			return -EINVAL;
		*bytes = v;
		return 0;
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

int vigil_parse_fail_on(const char *s, uint32_t *mask, char *bad, size_t cap)
{
	uint32_t m = 0;

	snprintf(bad, cap, "%s", "");
	if (!*s)
		return -EINVAL;
	while (*s) {
		size_t n = strcspn(s, ",");
		int k;

		if (n == 3 && !strncmp(s, "all", 3)) {
			m = ~0u;
		} else if ((k = vigil_kernel_trouble_parse(s, n)) > 0 && k != VIGIL_KT_PANIC) {
			m |= 1u << k;
		} else {
			snprintf(bad, cap, "%.*s", (int)n, s);
			return -EINVAL;
		}
		s += n;
		if (*s == ',')
			s++;
	}
	*mask = m;
	return 0;
}
