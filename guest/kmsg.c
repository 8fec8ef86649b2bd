/* SPDX-License-Identifier: MIT */
/* kmsg: /dev/kmsg records to DMESG frames, rate-bounded (see kmsg.h). */
#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse a decimal field ending at sep; advance *p past sep. */
static int field(const char **p, const char *end, char sep1, char sep2, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -EBADMSG;
	while (s < end && *s >= '0' && *s <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*s++ - '0');
	}
	if (s >= end || (*s != sep1 && *s != sep2))
		return -EBADMSG;
	*out = v;
	*p = s;
	return 0;
}

int kmsg_parse(const char *rec, size_t len, char *buf, size_t cap, struct kmsg_rec *out)
{
	const char *p = rec, *end = rec + len, *semi, *text_end;
	uint64_t pri, seq, ts;
	size_t n = 0;

	if (field(&p, end, ',', ',', &pri) < 0 || pri > 0xffffff)
		return -EBADMSG;
	p++;
	if (field(&p, end, ',', ',', &seq) < 0)
		return -EBADMSG;
	p++;
	if (field(&p, end, ',', ';', &ts) < 0)
		return -EBADMSG;
	semi = memchr(p, ';', (size_t)(end - p));
	if (!semi)
		return -EBADMSG;
	p = semi + 1;
	text_end = memchr(p, '\n', (size_t)(end - p));
	if (!text_end)
		text_end = end;
	while (p < text_end && n < cap) {
		if (p[0] == '\\' && text_end - p >= 4 && p[1] == 'x' && hexval(p[2]) >= 0 &&
		    hexval(p[3]) >= 0) {
			buf[n++] = (char)(hexval(p[2]) << 4 | hexval(p[3]));
			p += 4;
		} else {
			buf[n++] = *p++;
		}
	}
	out->level = (uint8_t)(pri & 7);
	out->facility = (uint8_t)(pri >> 3);
	out->seq = seq;
	out->ts_us = ts;
	out->text = buf;
	out->text_len = n;
	return 0;
}

int kmsg_open(struct kmsg *k, const char *path, uint32_t rate, uint32_t burst, uint64_t now_ns)
{
	memset(k, 0, sizeof(*k));
	k->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->fd < 0)
		return -errno;
	k->rate = rate ? rate : 1;
	k->burst = burst ? burst : 1;
	k->tokens_ns = (uint64_t)k->burst * (1000000000ull / k->rate);
	k->refill_ns = now_ns;
	return 0;
}

void kmsg_close(struct kmsg *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

static uint64_t line_cost(const struct kmsg *k)
{
	return 1000000000ull / k->rate;
}

static void refill(struct kmsg *k, uint64_t now_ns)
{
	uint64_t max = (uint64_t)k->burst * line_cost(k);

	if (now_ns > k->refill_ns) {
		k->tokens_ns += now_ns - k->refill_ns;
		if (k->tokens_ns > max)
			k->tokens_ns = max;
	}
	k->refill_ns = now_ns;
}

uint64_t kmsg_wake_ns(const struct kmsg *k)
{
	uint64_t cost = line_cost(k);

	return k->tokens_ns >= cost ? k->refill_ns : k->refill_ns + (cost - k->tokens_ns);
}

int kmsg_read(struct kmsg *k, struct chan *c, uint64_t now_ns)
{
	static char rec[KMSG_REC_MAX];
	static char text[KMSG_REC_MAX];
	int done = 0;

	refill(k, now_ns);
	for (int i = 0; i < KMSG_READ_BUDGET; i++) {
		struct kmsg_rec r;
		struct vigil_dmesg d;
		uint8_t *p;
		ssize_t n;
		int e;

		if (k->tokens_ns < line_cost(k)) {
			k->st.throttled++;
			return -EAGAIN;
		}
		n = read(k->fd, rec, sizeof(rec));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE) {
			/* The ring overwrote records; the next read resumes at the oldest left. */
			k->st.lost++;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return done;
		if (n < 0)
			return -errno;
		if (n == 0)
			return done;
		if (kmsg_parse(rec, (size_t)n, text, sizeof(text), &r) < 0) {
			k->st.malformed++;
			continue;
		}
		if (k->next_seq && r.seq > k->next_seq)
			k->st.lost += r.seq - k->next_seq;
		k->next_seq = r.seq + 1;
		k->tokens_ns -= line_cost(k);
		d = (struct vigil_dmesg){ .level = r.level,
					  .kmsg_seq = r.seq,
					  .ts_us = r.ts_us,
					  .text = (const uint8_t *)r.text,
					  .text_len = (uint32_t)r.text_len };
		p = chan_reserve(c, CHAN_Q_OUT, 24 + (uint32_t)r.text_len);
		if (p) {
			e = vigil_dmesg_encode(p, 24 + r.text_len, &d);
			if (e >= 0)
				chan_commit(c, CHAN_Q_OUT, VIGIL_MSG_DMESG, (uint32_t)e, false);
		}
		k->st.lines++;
		done++;
		if (k->on_line)
			k->on_line(k->ctx, &r);
	}
	return done;
}
