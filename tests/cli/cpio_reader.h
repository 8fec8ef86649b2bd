/* SPDX-License-Identifier: MIT */
/*
 * A naive newc reader for the tests: an independent reference that parses
 * what host/cli/cpio.c writes. Header-only, test use only.
 */
#ifndef VIGIL_TEST_CPIO_READER_H
#define VIGIL_TEST_CPIO_READER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tcpio_entry {
	char name[4096];
	uint32_t ino, mode, nlink, size, rmajor, rminor;
	const uint8_t *data;
};

static inline uint32_t tcpio_hex(const uint8_t *p)
{
	char buf[9];

	memcpy(buf, p, 8);
	buf[8] = '\0';
	return (uint32_t)strtoul(buf, NULL, 16);
}

/* Parse the entry at *off; 1 ok, 0 at the trailer, -1 malformed. */
static inline int tcpio_next(const uint8_t *buf, size_t len, size_t *off, struct tcpio_entry *e)
{
	size_t o = *off, namesize;

	if (o + 110 > len || memcmp(buf + o, "070701", 6) != 0)
		return -1;
	e->ino = tcpio_hex(buf + o + 6);
	e->mode = tcpio_hex(buf + o + 14);
	e->nlink = tcpio_hex(buf + o + 38);
	e->size = tcpio_hex(buf + o + 54);
	e->rmajor = tcpio_hex(buf + o + 78);
	e->rminor = tcpio_hex(buf + o + 86);
	namesize = tcpio_hex(buf + o + 94);
	if (namesize == 0 || namesize > sizeof(e->name) || o + 110 + namesize > len)
		return -1;
	memcpy(e->name, buf + o + 110, namesize);
	if (e->name[namesize - 1] != '\0')
		return -1;
	o = (o + 110 + namesize + 3) & ~(size_t)3;
	if (o + e->size > len)
		return -1;
	e->data = buf + o;
	o = (o + e->size + 3) & ~(size_t)3;
	*off = o;
	return strcmp(e->name, "TRAILER!!!") == 0 ? 0 : 1;
}

static inline uint8_t *tcpio_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Find name in the archive; 1 found (*e written), 0 not, -1 malformed. */
static inline int tcpio_find(const uint8_t *buf, size_t len, const char *name,
			     struct tcpio_entry *e)
{
	size_t off = 0;
	int r;

	while ((r = tcpio_next(buf, len, &off, e)) == 1)
		if (strcmp(e->name, name) == 0)
			return 1;
	return r < 0 ? -1 : 0;
}

#endif /* VIGIL_TEST_CPIO_READER_H */
