/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/elfdeps.c on crafted ELF files and on real binaries. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "elfdeps.h"
#include "test_util.h"

/*
 * A minimal ELF64: header, 3 program headers (PT_LOAD over the whole file
 * at vaddr 0x400000, PT_DYNAMIC, PT_INTERP when interp is set), the
 * dynamic entries, then the string table.
 */
struct mkelf {
	const char *interp;
	const char *needed[4];
	const char *runpath;
	bool rpath; /* emit DT_RPATH instead of DT_RUNPATH */
	/* corruptions */
	bool strtab_unmapped;
	uint64_t needed_off_bias;
	bool interp_unterminated;
	uint16_t phnum_override;
};

#define VBASE 0x400000u

static size_t mkelf(const struct mkelf *m, uint8_t *buf, size_t cap)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh));
	size_t dyn_off = sizeof(*eh) + 3 * sizeof(Elf64_Phdr);
	Elf64_Dyn *dyn = (Elf64_Dyn *)(buf + dyn_off);
	size_t nd = 0, str_off, str_len = 1, interp_off = 0, total;
	char *str;
	size_t name_at[4] = { 0 }, rp_at = 0;

	memset(buf, 0, cap);
	/* room for 8 dynamic entries */
	str_off = dyn_off + 8 * sizeof(Elf64_Dyn);
	str = (char *)buf + str_off;
	str[0] = '\0';
	for (int i = 0; i < 4 && m->needed[i]; i++) {
		name_at[i] = str_len;
		strcpy(str + str_len, m->needed[i]);
		str_len += strlen(m->needed[i]) + 1;
	}
	if (m->runpath) {
		rp_at = str_len;
		strcpy(str + str_len, m->runpath);
		str_len += strlen(m->runpath) + 1;
	}
	for (int i = 0; i < 4 && m->needed[i]; i++)
		dyn[nd++] = (Elf64_Dyn){ DT_NEEDED, { name_at[i] + m->needed_off_bias } };
	if (m->runpath)
		dyn[nd++] = (Elf64_Dyn){ m->rpath ? DT_RPATH : DT_RUNPATH, { rp_at } };
	dyn[nd++] =
	    (Elf64_Dyn){ DT_STRTAB, { (m->strtab_unmapped ? 0x9000000u : VBASE) + str_off } };
	dyn[nd++] = (Elf64_Dyn){ DT_STRSZ, { str_len } };
	dyn[nd++] = (Elf64_Dyn){ DT_NULL, { 0 } };
	total = str_off + str_len;
	if (m->interp) {
		interp_off = total;
		strcpy((char *)buf + interp_off, m->interp);
		total += strlen(m->interp) + (m->interp_unterminated ? 0 : 1);
		if (m->interp_unterminated)
			buf[interp_off + strlen(m->interp)] = 'X';
	}
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = m->phnum_override ? m->phnum_override : (m->interp ? 3 : 2);
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
			      .p_offset = 0,
			      .p_vaddr = VBASE,
			      .p_filesz = total,
			      .p_memsz = total };
	ph[1] = (Elf64_Phdr){ .p_type = PT_DYNAMIC,
			      .p_offset = dyn_off,
			      .p_vaddr = VBASE + dyn_off,
			      .p_filesz = nd * sizeof(Elf64_Dyn) };
	if (m->interp)
		ph[2] = (Elf64_Phdr){ .p_type = PT_INTERP,
				      .p_offset = interp_off,
				      .p_filesz = strlen(m->interp) + 1 };
	return total;
}

static void put_elf(const char *dir, const char *rel, const struct mkelf *m)
{
	uint8_t buf[4096];
	size_t n = mkelf(m, buf, sizeof(buf));

	assert_int_equal(tu_write(dir, rel, buf, n, 0755), 0);
}

static void test_read_fields(void **state)
{
	struct mkelf m = { .interp = "/lib64/ld-test.so.2",
			   .needed = { "liba.so.1", "libb.so.2" },
			   .runpath = "$ORIGIN/../lib" };
	struct vigil_elf_info info;
	char path[PATH_MAX], *d = tu_mkdtemp();

	(void)state;
	put_elf(d, "bin/prog", &m);
	snprintf(path, sizeof(path), "%s/bin/prog", d);
	assert_int_equal(vigil_elf_read(path, &info), 0);
	assert_true(info.dynamic);
	assert_string_equal(info.interp, "/lib64/ld-test.so.2");
	assert_int_equal(info.n_needed, 2);
	assert_string_equal(info.needed[0], "liba.so.1");
	assert_string_equal(info.needed[1], "libb.so.2");
	assert_string_equal(info.runpath, "$ORIGIN/../lib");
	assert_false(info.runpath_is_rpath);
	vigil_elf_info_free(&info);
	tu_rm_rf(d);
	free(d);
}

static void test_malformed(void **state)
{
	const struct mkelf bad[] = {
		{ .needed = { "liba.so" }, .strtab_unmapped = true },
		{ .needed = { "liba.so" }, .needed_off_bias = 5000 },
		{ .interp = "/lib/ld.so", .interp_unterminated = true },
		{ .needed = { "liba.so" }, .phnum_override = 600 },
		{ .needed = { "liba.so" }, .phnum_override = 100 }, /* past the end */
		{ .needed = { "../evil.so" } },
	};
	const int want[] = { -EBADMSG, -EBADMSG, -EBADMSG, -E2BIG, -EBADMSG, -EBADMSG };
	char path[PATH_MAX], *d = tu_mkdtemp();
	struct vigil_elf_info info;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_elf(d, "bad", &bad[i]);
		snprintf(path, sizeof(path), "%s/bad", d);
		assert_int_equal(vigil_elf_read(path, &info), want[i]);
	}
	/* not ELF at all; a truncated header; a 32-bit class */
	assert_int_equal(tu_write_str(d, "script", "#!/bin/sh\necho hi\n"), 0);
	snprintf(path, sizeof(path), "%s/script", d);
	assert_int_equal(vigil_elf_read(path, &info), -ENOEXEC);
	assert_int_equal(tu_write(d, "short",
				  "\x7f"
				  "ELF\x02\x01",
				  6, 0644),
			 0);
	snprintf(path, sizeof(path), "%s/short", d);
	assert_int_equal(vigil_elf_read(path, &info), -ENOEXEC);
	{
		uint8_t buf[4096];
		struct mkelf m = { .needed = { "x.so" } };
		size_t n = mkelf(&m, buf, sizeof(buf));
		buf[EI_CLASS] = ELFCLASS32;
		assert_int_equal(tu_write(d, "e32", buf, n, 0644), 0);
		snprintf(path, sizeof(path), "%s/e32", d);
		assert_int_equal(vigil_elf_read(path, &info), -ENOEXEC);
	}
	assert_int_equal(vigil_elf_read("/nonexistent/x", &info), -ENOENT);
	tu_rm_rf(d);
	free(d);
}

/* A program, its interpreter, a library through $ORIGIN, and a library's
 * own dependency through the system directories. */
static void test_closure(void **state)
{
	char *d = tu_mkdtemp(), exe[PATH_MAX], sysdir[PATH_MAX], want[PATH_MAX];
	struct mkelf prog = { .interp = NULL,
			      .needed = { "libone.so", "libc.so.6" },
			      .runpath = "$ORIGIN/../lib" };
	struct mkelf one = { .needed = { "libtwo.so" } };
	struct mkelf two = { 0 };
	struct mkelf libc = { 0 };
	struct mkelf ld = { 0 };
	struct vigil_libdirs dirs = { 0 };
	struct vigil_elf_closure c;
	char interp[PATH_MAX];

	(void)state;
	snprintf(interp, sizeof(interp), "%s/lib64/ld.so", d);
	prog.interp = interp;
	put_elf(d, "app/bin/prog", &prog);
	put_elf(d, "app/lib/libone.so", &one);
	put_elf(d, "sys/libtwo.so", &two);
	put_elf(d, "sys/libc.so.6", &libc);
	put_elf(d, "lib64/ld.so", &ld);
	snprintf(exe, sizeof(exe), "%s/app/bin/prog", d);
	snprintf(sysdir, sizeof(sysdir), "%s/sys", d);
	dirs.dir[0] = sysdir;
	dirs.n = 1;
	assert_int_equal(vigil_elf_closure(exe, &dirs, &c), 0);
	assert_false(c.is_static);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.file[0], exe);
	assert_string_equal(c.file[1], interp);
	snprintf(want, sizeof(want), "%s/app/lib/libone.so", d);
	assert_string_equal(c.file[2], want);
	snprintf(want, sizeof(want), "%s/sys/libc.so.6", d);
	assert_string_equal(c.file[3], want);
	snprintf(want, sizeof(want), "%s/sys/libtwo.so", d);
	assert_string_equal(c.file[4], want);
	vigil_elf_closure_free(&c);

	/* a missing library is named */
	unlink(want);
	assert_int_equal(vigil_elf_closure(exe, &dirs, &c), -ENOENT);
	assert_string_equal(c.missing, "libtwo.so");
	vigil_elf_closure_free(&c);
	tu_rm_rf(d);
	free(d);
}

static void test_ld_conf(void **state)
{
	char *d = tu_mkdtemp(), conf[PATH_MAX], want[PATH_MAX];
	struct vigil_libdirs dirs;
	char body[PATH_MAX * 2];

	(void)state;
	snprintf(body, sizeof(body),
		 "# comment\n/opt/one  \ninclude %s/conf.d/*.conf\n\nrel/ignored\n", d);
	assert_int_equal(tu_write_str(d, "ld.so.conf", body), 0);
	assert_int_equal(tu_write_str(d, "conf.d/b.conf", "/opt/b\n"), 0);
	assert_int_equal(tu_write_str(d, "conf.d/a.conf", "/opt/a/\n/opt/one\n"), 0);
	snprintf(conf, sizeof(conf), "%s/ld.so.conf", d);
	assert_int_equal(vigil_libdirs_system(conf, &dirs), 0);
	assert_true(dirs.n >= 4);
	assert_string_equal(dirs.dir[0], "/opt/one");
	assert_string_equal(dirs.dir[1], "/opt/a"); /* glob order, slash trimmed */
	assert_string_equal(dirs.dir[2], "/opt/b");
	assert_string_equal(dirs.dir[3], "/lib/x86_64-linux-gnu");
	vigil_libdirs_free(&dirs);
	(void)want;
	/* a missing file still gives the defaults */
	assert_int_equal(vigil_libdirs_system("/nonexistent/ld.so.conf", &dirs), 0);
	assert_string_equal(dirs.dir[0], "/lib/x86_64-linux-gnu");
	vigil_libdirs_free(&dirs);
	tu_rm_rf(d);
	free(d);
}

/* Real binaries: a static busybox needs nothing; this test program needs
 * its interpreter and libc. */
static void test_real_binaries(void **state)
{
	struct vigil_libdirs dirs;
	struct vigil_elf_closure c;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	bool have_libc = false;

	(void)state;
	assert_true(n > 0);
	self[n] = '\0';
	assert_int_equal(vigil_libdirs_system("/etc/ld.so.conf", &dirs), 0);
	assert_int_equal(vigil_elf_closure(self, &dirs, &c), 0);
	assert_false(c.is_static);
	assert_true(c.n >= 3);
	for (size_t i = 0; i < c.n; i++)
		have_libc |= strstr(c.file[i], "/libc.so.6") != NULL;
	assert_true(have_libc);
	vigil_elf_closure_free(&c);
	if (access("/bin/busybox", R_OK) == 0) {
		assert_int_equal(vigil_elf_closure("/bin/busybox", &dirs, &c), 0);
		assert_int_equal(c.n, 1);
		vigil_elf_closure_free(&c);
	}
	vigil_libdirs_free(&dirs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_fields),   cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_closure),       cmocka_unit_test(test_ld_conf),
		cmocka_unit_test(test_real_binaries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
