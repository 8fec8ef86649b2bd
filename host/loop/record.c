/* SPDX-License-Identifier: MIT */
/* record: writer and reader of session input recordings (see record.h). */
#include "record.h"

#include <errno.h>
#include <string.h>
#include <vigil/wire.h>

int vigil_rec_open(struct vigil_rec_writer *w, const char *path, const char *header_json)
{
	uint8_t hdr[16];
	size_t hl = strlen(header_json);

	memset(w, 0, sizeof(*w));
	if (hl > VIGIL_REC_HEADER_MAX)
		return -EMSGSIZE;
	w->f = fopen(path, "we");
	if (!w->f)
		return -errno;
	setvbuf(w->f, NULL, _IOFBF, 65536);
	memcpy(hdr, VIGIL_REC_MAGIC, 8);
	vigil_put32(hdr + 8, VIGIL_REC_VERSION);
	vigil_put32(hdr + 12, (uint32_t)hl);
	if (fwrite(hdr, 1, sizeof(hdr), w->f) != sizeof(hdr) ||
	    fwrite(header_json, 1, hl, w->f) != hl)
		w->err = -EIO;
	w->bytes = sizeof(hdr) + hl;
	return w->err;
}

int vigil_rec_put(struct vigil_rec_writer *w, enum vigil_rec_kind kind, uint64_t t_ns,
		  const void *data, size_t len)
{
	const uint8_t *p = data;

	if (!w->f)
		return -EBADF;
	if (w->err)
		return w->err;
	do {
		uint8_t hdr[16] = { (uint8_t)kind };
		size_t n = len > VIGIL_REC_MAX ? VIGIL_REC_MAX : len;
		if (kind != VIGIL_REC_RX && len > VIGIL_REC_MAX)
			return -EMSGSIZE;
		vigil_put32(hdr + 4, (uint32_t)n);
		vigil_put64(hdr + 8, t_ns);
		if (w->limit && w->bytes + sizeof(hdr) + n > w->limit) {
			w->err = -EFBIG;
			return w->err;
		}
		if (fwrite(hdr, 1, sizeof(hdr), w->f) != sizeof(hdr) ||
		    (n && fwrite(p, 1, n, w->f) != n)) {
			w->err = -EIO;
			return w->err;
		}
		w->records++;
		w->bytes += sizeof(hdr) + n;
		p += n;
		len -= n;
	} while (len > 0);
	return 0;
}

int vigil_rec_close(struct vigil_rec_writer *w)
{
	int r = w->err;

	if (!w->f)
		return r;
	if (fclose(w->f) != 0 && r == 0)
		r = -errno;
	w->f = NULL;
	return r;
}

int vigil_rec_reader_init(struct vigil_rec_reader *r, const uint8_t *buf, size_t len)
{
	uint32_t hl;

	memset(r, 0, sizeof(*r));
	if (len < 8 || memcmp(buf, VIGIL_REC_MAGIC, 8) != 0)
		return 0;
	if (len < 16)
		return -EBADMSG;
	if (vigil_le32(buf + 8) != VIGIL_REC_VERSION)
		return -EPROTO;
	hl = vigil_le32(buf + 12);
	if (hl > VIGIL_REC_HEADER_MAX || len - 16 < hl)
		return -EBADMSG;
	r->buf = buf;
	r->len = len;
	r->header = (const char *)buf + 16;
	r->header_len = hl;
	r->off = 16 + (size_t)hl;
	return 1;
}

int vigil_rec_next(struct vigil_rec_reader *r, struct vigil_rec *out)
{
	uint32_t n;

	if (r->off == r->len)
		return 0;
	if (r->len - r->off < 16)
		return -EBADMSG;
	n = vigil_le32(r->buf + r->off + 4);
	if (n > VIGIL_REC_MAX || r->len - r->off - 16 < n)
		return -EBADMSG;
	out->kind = (enum vigil_rec_kind)r->buf[r->off];
	out->t_ns = vigil_le64(r->buf + r->off + 8);
	out->data = r->buf + r->off + 16;
	out->len = n;
	r->off += 16 + (size_t)n;
	return 1;
}

int vigil_rec_put_pair(struct vigil_rec_writer *w, enum vigil_rec_kind kind, uint64_t t_ns,
		       uint32_t a, uint32_t b, const char *text)
{
	uint8_t buf[8 + VIGIL_REC_TEXT_MAX];
	size_t n = text ? strnlen(text, VIGIL_REC_TEXT_MAX) : 0;

	vigil_put32(buf, a);
	vigil_put32(buf + 4, b);
	if (n)
		memcpy(buf + 8, text, n);
	return vigil_rec_put(w, kind, t_ns, buf, 8 + n);
}

int vigil_rec_pair(const struct vigil_rec *r, uint32_t *a, uint32_t *b, char *text)
{
	size_t n;

	if (r->len < 8)
		return -EBADMSG;
	n = r->len - 8 < VIGIL_REC_TEXT_MAX ? r->len - 8 : VIGIL_REC_TEXT_MAX;
	*a = vigil_le32(r->data);
	*b = vigil_le32(r->data + 4);
	memcpy(text, r->data + 8, n);
	text[n] = '\0';
	return 0;
}
