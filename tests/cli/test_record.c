/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/record.c: round trip, splitting, damage. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpio_reader.h"
#include "record.h"
#include "test_util.h"

static void test_roundtrip(void **state)
{
	char *d = tu_mkdtemp(), path[PATH_MAX];
	struct vigil_rec_writer w;
	struct vigil_rec_reader r;
	struct vigil_rec rec;
	uint8_t *big = malloc(150000), *buf;
	size_t len, got = 0;

	(void)state;
	for (size_t i = 0; i < 150000; i++)
		big[i] = (uint8_t)(i * 31);
	snprintf(path, sizeof(path), "%s/r.rec", d);
	assert_int_equal(vigil_rec_open(&w, path, "{\"t0_ns\":5}"), 0);
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_LINK_UP, 10, NULL, 0), 0);
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_RX, 20, big, 150000), 0); /* 3 records */
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_CONSOLE, 30, "line", 4), 0);
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_CRASHED, 40, big, VIGIL_REC_MAX + 1),
			 -EMSGSIZE);
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_FINISH, 50, NULL, 0), 0);
	assert_int_equal(w.records, 6);
	assert_int_equal(vigil_rec_close(&w), 0);

	buf = tcpio_slurp(path, &len);
	assert_int_equal(vigil_rec_reader_init(&r, buf, len), 1);
	assert_int_equal(r.header_len, 11);
	assert_memory_equal(r.header, "{\"t0_ns\":5}", 11);
	assert_int_equal(vigil_rec_next(&r, &rec), 1);
	assert_int_equal(rec.kind, VIGIL_REC_LINK_UP);
	assert_int_equal(rec.t_ns, 10);
	assert_int_equal(rec.len, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vigil_rec_next(&r, &rec), 1);
		assert_int_equal(rec.kind, VIGIL_REC_RX);
		assert_int_equal(rec.t_ns, 20);
		assert_true(rec.len <= VIGIL_REC_MAX);
		assert_memory_equal(rec.data, big + got, rec.len);
		got += rec.len;
	}
	assert_int_equal(got, 150000);
	assert_int_equal(vigil_rec_next(&r, &rec), 1);
	assert_int_equal(rec.kind, VIGIL_REC_CONSOLE);
	assert_memory_equal(rec.data, "line", 4);
	assert_int_equal(vigil_rec_next(&r, &rec), 1);
	assert_int_equal(rec.kind, VIGIL_REC_FINISH);
	assert_int_equal(vigil_rec_next(&r, &rec), 0);

	/* truncated in the middle of the last record */
	r.off = 0;
	assert_int_equal(vigil_rec_reader_init(&r, buf, len - 3), 1);
	while (vigil_rec_next(&r, &rec) == 1)
		;
	assert_int_equal(vigil_rec_next(&r, &rec), -EBADMSG);
	free(buf);
	free(big);
	tu_rm_rf(d);
	free(d);
}

/* Two numbers and a text: written and read back, the text cut at its bound. */
static void test_pair(void **state)
{
	static char text[VIGIL_REC_TEXT_MAX + 100], got[VIGIL_REC_TEXT_MAX + 1];
	char *d = tu_mkdtemp(), path[PATH_MAX];
	struct vigil_rec_writer w;
	struct vigil_rec_reader r;
	struct vigil_rec rec;
	uint32_t a, b;
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(text, 'x', sizeof(text) - 1);
	snprintf(path, sizeof(path), "%s/p.rec", d);
	assert_int_equal(vigil_rec_open(&w, path, "{}"), 0);
	assert_int_equal(vigil_rec_put_pair(&w, VIGIL_REC_VMM_EXITED, 7, (uint32_t)-1, 9, "gone"),
			 0);
	assert_int_equal(vigil_rec_put_pair(&w, VIGIL_REC_SNAPSHOT_DONE, 8, 3, 0, text), 0);
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_SNAPSHOT_DONE, 9, "abc", 3), 0);
	assert_int_equal(vigil_rec_close(&w), 0);
	buf = tcpio_slurp(path, &len);
	assert_int_equal(vigil_rec_reader_init(&r, buf, len), 1);
	assert_int_equal(vigil_rec_next(&r, &rec), 1);
	assert_int_equal(vigil_rec_pair(&rec, &a, &b, got), 0);
	assert_int_equal((int32_t)a, -1);
	assert_int_equal(b, 9);
	assert_string_equal(got, "gone");
	assert_int_equal(vigil_rec_next(&r, &rec), 1);
	assert_int_equal(vigil_rec_pair(&rec, &a, &b, got), 0);
	assert_int_equal(strlen(got), VIGIL_REC_TEXT_MAX);
	assert_int_equal(vigil_rec_next(&r, &rec), 1);
	assert_int_equal(vigil_rec_pair(&rec, &a, &b, got), -EBADMSG); /* too short */
	free(buf);
	tu_rm_rf(d);
	free(d);
}

/* --file-limit: the recording ends whole before the record that would pass
 * the limit; what is there reads back. */
static void test_limit(void **state)
{
	char *d = tu_mkdtemp(), path[PATH_MAX];
	uint8_t chunk[1000] = { 0 }, *buf;
	struct vigil_rec_writer w;
	struct vigil_rec_reader r;
	struct vigil_rec rec;
	int n = 0, e = 0;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/l.rec", d);
	assert_int_equal(vigil_rec_open(&w, path, "{}"), 0);
	w.limit = 10000;
	for (int i = 0; i < 100 && (e = vigil_rec_put(&w, VIGIL_REC_RX, (uint64_t)i, chunk,
						      sizeof(chunk))) == 0;
	     i++)
		;
	assert_int_equal(e, -EFBIG);
	assert_int_equal(vigil_rec_put(&w, VIGIL_REC_TICK, 1000, NULL, 0), -EFBIG); /* sticky */
	assert_true(w.bytes <= 10000);
	assert_int_equal(vigil_rec_close(&w), -EFBIG);
	buf = tcpio_slurp(path, &len);
	assert_int_equal(len, w.bytes);
	assert_int_equal(vigil_rec_reader_init(&r, buf, len), 1);
	while (vigil_rec_next(&r, &rec) == 1) {
		assert_int_equal(rec.len, sizeof(chunk));
		n++;
	}
	assert_int_equal(n, 9); /* 16 + 2 header bytes, then 9 x 1016 */
	free(buf);
	tu_rm_rf(d);
	free(d);
}

static void test_headers(void **state)
{
	struct vigil_rec_reader r;
	uint8_t buf[64];

	(void)state;
	/* not a recording: a plain stream */
	assert_int_equal(vigil_rec_reader_init(&r, (const uint8_t *)"VGL1xxxx", 8), 0);
	assert_int_equal(vigil_rec_reader_init(&r, (const uint8_t *)"VIG", 3), 0);
	memcpy(buf, VIGIL_REC_MAGIC, 8);
	assert_int_equal(vigil_rec_reader_init(&r, buf, 10), -EBADMSG);
	buf[8] = 2, buf[9] = buf[10] = buf[11] = 0; /* version 2 */
	buf[12] = buf[13] = buf[14] = buf[15] = 0;
	assert_int_equal(vigil_rec_reader_init(&r, buf, 16), -EPROTO);
	buf[8] = 1;
	buf[12] = 100; /* header longer than the file */
	assert_int_equal(vigil_rec_reader_init(&r, buf, 16), -EBADMSG);
	buf[12] = 0;
	assert_int_equal(vigil_rec_reader_init(&r, buf, 16), 1);
	/* a record claiming more than the limit */
	memset(buf + 16, 0, 16);
	buf[16] = VIGIL_REC_RX;
	buf[20] = 0x01, buf[21] = 0x00, buf[22] = 0x02; /* 0x20001 > 64 KiB */
	assert_int_equal(vigil_rec_reader_init(&r, buf, 32), 1);
	{
		struct vigil_rec rec;
		assert_int_equal(vigil_rec_next(&r, &rec), -EBADMSG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_pair),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
