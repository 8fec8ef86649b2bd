/* SPDX-License-Identifier: MIT */
/*
 * Stream assembler: bytes in, frames out, following the receive rules of
 * docs/wire.md exactly.
 *
 * Memory: one holding buffer of one maximum frame (24 + 65536 bytes) inside
 * struct vigil_asm; nothing is allocated. Frames lying wholly in the bytes
 * the caller pushed are delivered as views into those bytes (no copy); only
 * a frame cut by the end of a push is copied into hold[].
 *
 * Invariants of hold[] (hold_len > 0):
 *  - hold_need == 0: hold[] is a prefix of the stream starting at a magic
 *    candidate, shorter than a header (or exactly a header being checked);
 *  - hold_need > 0: hold[0..24) is a valid header, hold_need = 24 + len and
 *    hold_len < hold_need until the frame completes.
 * Because the scan over hold[] and the scan over pushed bytes apply the same
 * rules to the same stream positions, every counter is independent of how
 * the stream was split into pushes.
 *
 * Expected load: one stream per guest, up to a few hundred MB/s; the per
 * frame cost is a magic compare, two CRCs and the seq arithmetic.
 */
#include <vigil/wire.h>

#include <errno.h>
#include <string.h>

#define ASM_MAGIC_LE 0x314C4756u /* "VGL1" read as a little-endian u32 */

/*
 * Offset of the first magic candidate in b[0..n): a full "VGL1", or a prefix
 * of it running into the end of the bytes. n when there is none.
 */
static size_t asm_scan(const uint8_t *b, size_t n)
{
	size_t i = 0;

	/* Frames back to back: the magic is right here. */
	if (n >= VIGIL_WIRE_MAGIC_LEN && vigil_le32(b) == ASM_MAGIC_LE)
		return 0;
	while (i < n) {
		const uint8_t *v = memchr(b + i, 'V', n - i);
		size_t rem, m;

		if (!v)
			return n;
		i = (size_t)(v - b);
		rem = n - i;
		m = rem < VIGIL_WIRE_MAGIC_LEN ? rem : VIGIL_WIRE_MAGIC_LEN;
		if (memcmp(b + i, vigil_wire_magic, m) == 0)
			return i;
		i++;
	}
	return n;
}

/*
 * Header check for a buffer known to start with the magic and hold 24
 * bytes; the same rules as vigil_frame_hdr_decode without its magic compare.
 */
static inline void asm_fields(const uint8_t *b, struct vigil_frame_hdr *h)
{
	h->type = vigil_le16(b + 4);
	h->flags = vigil_le16(b + 6);
	h->seq = vigil_le32(b + 8);
	h->len = vigil_le32(b + 12);
	h->payload_crc = vigil_le32(b + 16);
}

static inline int asm_hdr(const uint8_t *b, struct vigil_frame_hdr *h)
{
	if (vigil_crc32c(b, 20) != vigil_le32(b + 20))
		return -EBADMSG;
	asm_fields(b, h);
	return h->len > VIGIL_WIRE_MAX_PAYLOAD ? -EMSGSIZE : 0;
}

static inline __attribute__((always_inline)) void asm_deliver(struct vigil_asm *a,
							      const uint8_t *frame,
							      const struct vigil_frame_hdr *h,
							      struct vigil_frame *out)
{
	const uint8_t *payload = frame + VIGIL_WIRE_HDR_LEN;
	bool ok = vigil_crc32c(payload, h->len) == h->payload_crc;
	bool epoch = h->type == VIGIL_MSG_HELLO && h->seq == 0;
	uint32_t lost = 0;
	bool regression = false;

	if (epoch) {
		a->st.epochs++;
	} else if (a->have_seq) {
		uint32_t d = h->seq - a->expect_seq;

		if (d >= 0x80000000u) {
			regression = true;
			a->st.seq_regressions++;
		} else {
			lost = d;
			a->st.lost_frames += d;
		}
	}
	a->have_seq = true;
	a->expect_seq = h->seq + 1;
	a->st.frames++;
	if (!ok)
		a->st.payload_crc_errors++;

	out->hdr = *h;
	out->payload = payload;
	out->crc_ok = ok;
	out->new_epoch = epoch;
	out->lost = lost;
	out->regression = regression;
}

void vigil_asm_reset(struct vigil_asm *a)
{
	/* hold[] needs no clearing: only hold[0..hold_len) is ever read. */
	a->in = NULL;
	a->in_len = 0;
	a->hold_len = 0;
	a->hold_need = 0;
	a->hold_done = false;
	a->st.resets++;
}

void vigil_asm_init(struct vigil_asm *a)
{
	a->have_seq = false;
	a->expect_seq = 0;
	vigil_asm_reset(a);
	memset(&a->st, 0, sizeof(a->st));
}

void vigil_asm_push(struct vigil_asm *a, const uint8_t *buf, size_t len)
{
	a->in = buf;
	a->in_len = len;
	a->st.bytes += len;
}

/* Move len bytes of input into hold[]. */
static void asm_take(struct vigil_asm *a, size_t len)
{
	memcpy(a->hold + a->hold_len, a->in, len);
	a->hold_len += (uint32_t)len;
	a->in += len;
	a->in_len -= len;
}

/* Drop the first n bytes of hold[] and rescan what is left for a magic. */
static void asm_hold_drop(struct vigil_asm *a, size_t n)
{
	size_t left = a->hold_len - n;
	size_t p = asm_scan(a->hold + n, left);

	a->st.garbage_bytes += p;
	memmove(a->hold, a->hold + n + p, left - p);
	a->hold_len = (uint32_t)(left - p);
}

/* Slow path: a frame or header is being collected in hold[]. */
static int asm_next_held(struct vigil_asm *a, struct vigil_frame *out)
{
	struct vigil_frame_hdr h;
	int rc;

	while (a->hold_len > 0) {
		if (a->hold_need) {
			size_t want = a->hold_need - a->hold_len;
			size_t take = want < a->in_len ? want : a->in_len;

			asm_take(a, take);
			if (a->hold_len < a->hold_need)
				return 0;
			asm_fields(a->hold, &h); /* checked when it was taken */
			asm_deliver(a, a->hold, &h, out);
			a->hold_done = true;
			return 1;
		}
		if (a->hold_len < VIGIL_WIRE_HDR_LEN) {
			size_t want = VIGIL_WIRE_HDR_LEN - a->hold_len;
			size_t take = want < a->in_len ? want : a->in_len;

			if (take == 0)
				return 0;
			asm_take(a, take);
			/* New bytes may break the magic prefix held so far. */
			asm_hold_drop(a, 0);
			if (a->hold_len < VIGIL_WIRE_HDR_LEN)
				continue;
		}
		rc = asm_hdr(a->hold, &h);
		if (rc == -EBADMSG) {
			a->st.header_crc_errors++;
			asm_hold_drop(a, 1);
		} else if (rc == -EMSGSIZE) {
			a->st.oversize_frames++;
			asm_hold_drop(a, VIGIL_WIRE_HDR_LEN);
		} else if (h.len == 0) {
			asm_deliver(a, a->hold, &h, out);
			a->hold_done = true;
			return 1;
		} else {
			a->hold_need = VIGIL_WIRE_HDR_LEN + h.len;
		}
	}
	return 0;
}

int vigil_asm_next(struct vigil_asm *a, struct vigil_frame *out)
{
	struct vigil_frame_hdr h;
	int rc;

	if (a->hold_done) {
		a->hold_done = false;
		a->hold_len = 0;
		a->hold_need = 0;
	}
	if (a->hold_len > 0) {
		rc = asm_next_held(a, out);
		if (rc || a->hold_len > 0)
			return rc;
	}
	while (a->in_len > 0) {
		size_t p = asm_scan(a->in, a->in_len);
		size_t total;

		a->st.garbage_bytes += p;
		a->in += p;
		a->in_len -= p;
		if (a->in_len < VIGIL_WIRE_HDR_LEN) {
			/* Empty, a partial magic or a partial header: hold it. */
			asm_take(a, a->in_len);
			return 0;
		}
		rc = asm_hdr(a->in, &h);
		if (rc == -EBADMSG) {
			a->st.header_crc_errors++;
			a->in++;
			a->in_len--;
			continue;
		}
		if (rc == -EMSGSIZE) {
			a->st.oversize_frames++;
			a->in += VIGIL_WIRE_HDR_LEN;
			a->in_len -= VIGIL_WIRE_HDR_LEN;
			continue;
		}
		total = VIGIL_WIRE_HDR_LEN + h.len;
		if (a->in_len < total) {
			a->hold_need = (uint32_t)total;
			asm_take(a, a->in_len);
			return 0;
		}
		asm_deliver(a, a->in, &h, out);
		a->in += total;
		a->in_len -= total;
		return 1;
	}
	return 0;
}
