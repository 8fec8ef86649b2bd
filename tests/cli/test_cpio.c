/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/cpio.c against the naive reader in cpio_reader.h. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpio.h"
#include "cpio_reader.h"

static uint8_t *memfd_bytes(int fd, size_t *len)
{
	struct stat st;
	uint8_t *buf;

	assert_int_equal(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, *len, 0), (ssize_t)*len);
	return buf;
}

static void test_entries_roundtrip(void **state)
{
	struct vigil_cpio c;
	struct tcpio_entry e;
	int fd = memfd_create("cpio", 0), src = memfd_create("src", 0);
	uint8_t big[70000];
	size_t len, off = 0;
	uint8_t *buf;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(write(src, big, sizeof(big)), (ssize_t)sizeof(big));
	vigil_cpio_init(&c, fd);
	assert_int_equal(vigil_cpio_dir(&c, "/bin", 0755), 0);
	assert_int_equal(vigil_cpio_file(&c, "bin/a", 0644, "hello", 5), 0);
	assert_int_equal(vigil_cpio_file(&c, "bin/empty", 0600, "", 0), 0);
	assert_int_equal(vigil_cpio_file_fd(&c, "bin/big", 0755, src, sizeof(big)), 0);
	assert_int_equal(vigil_cpio_symlink(&c, "bin/sh", "/bin/busybox"), 0);
	assert_int_equal(vigil_cpio_chardev(&c, "dev/console", 0600, 5, 1), 0);
	assert_int_equal(vigil_cpio_finish(&c), 0);
	buf = memfd_bytes(fd, &len);
	assert_int_equal(len % 4, 0);
	assert_int_equal(c.off, len);

	assert_int_equal(tcpio_next(buf, len, &off, &e), 1);
	assert_string_equal(e.name, "bin"); /* leading slash stripped */
	assert_int_equal(e.mode, S_IFDIR | 0755);
	assert_int_equal(e.ino, 1);
	assert_int_equal(tcpio_next(buf, len, &off, &e), 1);
	assert_string_equal(e.name, "bin/a");
	assert_int_equal(e.mode, S_IFREG | 0644);
	assert_int_equal(e.size, 5);
	assert_memory_equal(e.data, "hello", 5);
	assert_int_equal(tcpio_next(buf, len, &off, &e), 1);
	assert_string_equal(e.name, "bin/empty");
	assert_int_equal(e.size, 0);
	assert_int_equal(tcpio_next(buf, len, &off, &e), 1);
	assert_string_equal(e.name, "bin/big");
	assert_int_equal(e.size, sizeof(big));
	assert_memory_equal(e.data, big, sizeof(big));
	assert_int_equal(tcpio_next(buf, len, &off, &e), 1);
	assert_string_equal(e.name, "bin/sh");
	assert_int_equal(e.mode, S_IFLNK | 0777);
	assert_int_equal(e.size, 12);
	assert_memory_equal(e.data, "/bin/busybox", 12);
	assert_int_equal(tcpio_next(buf, len, &off, &e), 1);
	assert_string_equal(e.name, "dev/console");
	assert_int_equal(e.mode, S_IFCHR | 0600);
	assert_int_equal(e.rmajor, 5);
	assert_int_equal(e.rminor, 1);
	assert_int_equal(e.ino, 6);
	assert_int_equal(tcpio_next(buf, len, &off, &e), 0);
	assert_int_equal(off, len);
	free(buf);
	close(fd);
	close(src);
}

/* Every name length 1..9 lands the data on a 4-byte boundary. */
static void test_padding_all_name_lengths(void **state)
{
	char name[16];
	int fd = memfd_create("cpio", 0);
	struct vigil_cpio c;
	struct tcpio_entry e;
	size_t len, off = 0;
	uint8_t *buf;

	(void)state;
	vigil_cpio_init(&c, fd);
	for (int n = 1; n <= 9; n++) {
		memset(name, 'a' + n, (size_t)n);
		name[n] = '\0';
		assert_int_equal(vigil_cpio_file(&c, name, 0644, name, (size_t)n), 0);
	}
	assert_int_equal(vigil_cpio_finish(&c), 0);
	buf = memfd_bytes(fd, &len);
	for (int n = 1; n <= 9; n++) {
		assert_int_equal(tcpio_next(buf, len, &off, &e), 1);
		assert_int_equal(strlen(e.name), (size_t)n);
		assert_int_equal(((uintptr_t)(e.data - buf)) % 4, 0);
		assert_memory_equal(e.data, e.name, (size_t)n);
	}
	assert_int_equal(tcpio_next(buf, len, &off, &e), 0);
	free(buf);
	close(fd);
}

static void test_bad_arguments_not_sticky(void **state)
{
	int fd = memfd_create("cpio", 0);
	struct vigil_cpio c;

	(void)state;
	vigil_cpio_init(&c, fd);
	assert_int_equal(vigil_cpio_file(&c, "/", 0644, "x", 1), -EINVAL);
	assert_int_equal(vigil_cpio_file(&c, "", 0644, "x", 1), -EINVAL);
	assert_int_equal(vigil_cpio_symlink(&c, "a", ""), -EINVAL);
	assert_int_equal(vigil_cpio_file(&c, "ok", 0644, "x", 1), 0);
	assert_int_equal(vigil_cpio_finish(&c), 0);
	/* nothing may follow the trailer */
	assert_int_equal(vigil_cpio_file(&c, "late", 0644, "x", 1), -EINVAL);
	close(fd);
}

static void test_write_error_sticky(void **state)
{
	int p[2];
	struct vigil_cpio c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	close(p[0]); /* writes now fail with EPIPE */
	signal(SIGPIPE, SIG_IGN);
	vigil_cpio_init(&c, p[1]);
	assert_int_equal(vigil_cpio_file(&c, "a", 0644, "x", 1), -EPIPE);
	assert_int_equal(vigil_cpio_dir(&c, "b", 0755), -EPIPE);
	assert_int_equal(vigil_cpio_finish(&c), -EPIPE);
	close(p[1]);
}

/* A source that is shorter than promised breaks the archive. */
static void test_short_source(void **state)
{
	int fd = memfd_create("cpio", 0), src = memfd_create("src", 0);
	struct vigil_cpio c;

	(void)state;
	assert_int_equal(write(src, "abc", 3), 3);
	vigil_cpio_init(&c, fd);
	assert_int_equal(vigil_cpio_file_fd(&c, "f", 0644, src, 10), -EIO);
	assert_int_equal(vigil_cpio_finish(&c), -EIO);
	close(fd);
	close(src);
}

/* Same calls, same bytes. */
static void test_deterministic(void **state)
{
	uint8_t *a, *b;
	size_t la, lb;
	int fds[2];

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct vigil_cpio c;
		fds[i] = memfd_create("cpio", 0);
		vigil_cpio_init(&c, fds[i]);
		assert_int_equal(vigil_cpio_dir(&c, "etc", 0755), 0);
		assert_int_equal(vigil_cpio_file(&c, "etc/x", 0644, "data", 4), 0);
		assert_int_equal(vigil_cpio_finish(&c), 0);
	}
	a = memfd_bytes(fds[0], &la);
	b = memfd_bytes(fds[1], &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries_roundtrip),
		cmocka_unit_test(test_padding_all_name_lengths),
		cmocka_unit_test(test_bad_arguments_not_sticky),
		cmocka_unit_test(test_write_error_sticky),
		cmocka_unit_test(test_short_source),
		cmocka_unit_test(test_deterministic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
