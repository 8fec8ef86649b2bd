/* SPDX-License-Identifier: MIT */
/*
 * Test helper: the host side of a socketpair port. Reads with poll
 * timeouts, decodes with libvigil-wire and keeps every frame (type, seq,
 * crc_ok, a copy of the payload) for assertions. Header-only, static.
 */
#ifndef VIGIL_TEST_RX_H
#define VIGIL_TEST_RX_H

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vigil/wire.h>

struct rx_frame {
	uint16_t type;
	uint32_t seq;
	bool crc_ok;
	size_t off; /* payload in rx.data */
	uint32_t len;
};

struct rx {
	struct vigil_asm *a;
	uint8_t *data;
	size_t len, cap;
	struct rx_frame *f;
	size_t n, fcap;
	bool eof;
};

/* "prefix" plus the six template characters mkstemp/mkdtemp replace. */
static inline char *tmp_template(char *buf, size_t cap, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n + 7 > cap)
		abort();
	memcpy(buf, prefix, n);
	memset(buf + n, 'X', 6);
	buf[n + 6] = '\0';
	return buf;
}

static inline void rx_init(struct rx *r)
{
	memset(r, 0, sizeof(*r));
	r->a = malloc(sizeof(*r->a));
	vigil_asm_init(r->a);
}

static inline void rx_free(struct rx *r)
{
	free(r->a);
	free(r->data);
	free(r->f);
	memset(r, 0, sizeof(*r));
}

static inline uint64_t rx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void rx_add(struct rx *r, const struct vigil_frame *fr)
{
	if (r->n == r->fcap) {
		r->fcap = r->fcap ? r->fcap * 2 : 256;
		r->f = realloc(r->f, r->fcap * sizeof(*r->f));
	}
	if (r->len + fr->hdr.len > r->cap) {
		while (r->len + fr->hdr.len > r->cap)
			r->cap = r->cap ? r->cap * 2 : 1 << 20;
		r->data = realloc(r->data, r->cap);
	}
	if (fr->hdr.len)
		memcpy(r->data + r->len, fr->payload, fr->hdr.len);
	r->f[r->n++] =
	    (struct rx_frame){ fr->hdr.type, fr->hdr.seq, fr->crc_ok, r->len, fr->hdr.len };
	r->len += fr->hdr.len;
}

/* Read what arrives within timeout_ms; returns bytes read (0 on timeout or EOF). */
static inline ssize_t rx_pump(struct rx *r, int fd, int timeout_ms)
{
	static uint8_t buf[1 << 17];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct vigil_frame fr;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		r->eof = true;
		return 0;
	}
	vigil_asm_push(r->a, buf, (size_t)n);
	while (vigil_asm_next(r->a, &fr) > 0)
		rx_add(r, &fr);
	return n;
}

static inline ssize_t rx_find(const struct rx *r, uint16_t type, size_t from)
{
	for (size_t i = from; i < r->n; i++) {
		if (r->f[i].type == type)
			return (ssize_t)i;
	}
	return -1;
}

/* Pump until a frame of type shows up (its index) or timeout_ms pass (-1). */
static inline ssize_t rx_until(struct rx *r, int fd, uint16_t type, int timeout_ms)
{
	uint64_t end = rx_now_ms() + (uint64_t)timeout_ms;
	ssize_t i;

	while ((i = rx_find(r, type, 0)) < 0 && rx_now_ms() < end && !r->eof)
		rx_pump(r, fd, (int)(end - rx_now_ms()));
	return i;
}

/* Pump until the other end closes or timeout_ms pass; true at EOF. */
static inline bool rx_drain(struct rx *r, int fd, int timeout_ms)
{
	uint64_t end = rx_now_ms() + (uint64_t)timeout_ms;

	while (!r->eof && rx_now_ms() < end)
		rx_pump(r, fd, (int)(end - rx_now_ms()));
	return r->eof;
}

static inline const uint8_t *rx_payload(const struct rx *r, size_t i)
{
	return r->data + r->f[i].off;
}

/* Counter i of the last AGENT_STATS frame, or UINT64_MAX when none. */
static inline uint64_t rx_last_stat(const struct rx *r, uint32_t i)
{
	for (size_t k = r->n; k-- > 0;) {
		struct vigil_agent_stats s;

		if (r->f[k].type == VIGIL_MSG_AGENT_STATS &&
		    vigil_agent_stats_decode(rx_payload(r, k), r->f[k].len, &s) == 0)
			return vigil_agent_stats_get(&s, i);
	}
	return UINT64_MAX;
}

/* Send one host frame. */
static inline int rx_send(int fd, uint16_t type, uint32_t seq, const void *p, size_t len)
{
	uint8_t buf[VIGIL_WIRE_MAX_FRAME];
	int n = vigil_frame_encode(buf, sizeof(buf), type, seq, p, len);

	if (n < 0)
		return n;
	return write(fd, buf, (size_t)n) == n ? 0 : -errno;
}

#endif
