/* SPDX-License-Identifier: MIT */
/* Tests for host/cli/debughold.c, rundir.c and vmlinux.c's symbol check:
 * what `--on-stall debug` holds for, the way in it prints, its runtime
 * directory and the removal of a dead vigil's. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "debughold.h"
#include "vmlinux.h"

static struct vigil_finding fnd(enum vigil_outcome o, uint32_t pid, bool fatal)
{
	struct vigil_finding f = { .outcome = o, .pid = pid, .fatal = fatal };
	return f;
}

/* The hold follows the finding that decides the verdict. */
static void test_consider(void **state)
{
	struct vigil_debug d;
	struct vigil_finding f;

	(void)state;
	vigil_debug_init(&d);
	f = fnd(VIGIL_OUTCOME_PROCESS_STALL, 84, false); /* --on-stall warn's kind */
	assert_false(vigil_debug_consider(&d, &f));
	assert_string_equal(d.why, "");
	f = fnd(VIGIL_OUTCOME_WORKLOAD_FAILED, 0, true);
	assert_false(vigil_debug_consider(&d, &f));
	f = fnd(VIGIL_OUTCOME_PROCESS_STALL, 84, true);
	assert_true(vigil_debug_consider(&d, &f));
	assert_string_equal(d.why, "process stall of pid 84");
	f = fnd(VIGIL_OUTCOME_PROCESS_STALL, 85, true); /* the first one stays */
	assert_false(vigil_debug_consider(&d, &f));
	assert_string_equal(d.why, "process stall of pid 84");
	f = fnd(VIGIL_OUTCOME_GUEST_STALL, 0, true); /* folds the process stall */
	assert_true(vigil_debug_consider(&d, &f));
	assert_string_equal(d.why, "guest stall");
	f = fnd(VIGIL_OUTCOME_HOST_STARVED, 84, true); /* the host's doing: no hold */
	assert_false(vigil_debug_consider(&d, &f));
	assert_string_equal(d.why, "");

	vigil_debug_init(&d);
	f = fnd(VIGIL_OUTCOME_GUEST_CRASH, 0, true);
	assert_true(vigil_debug_consider(&d, &f));
	assert_string_equal(d.why, "guest crash");
}

/* A runtime directory, the gdbstub's socket, the QEMU settings; all gone
 * after release. */
static void test_prepare_release(void **state)
{
	struct vigil_qemu_cfg c = { .gdb_fd = -1 };
	struct vigil_debug d;
	char err[160], dir[VIGIL_RUNDIR_MAX];
	struct stat st;
	int s;

	(void)state;
	setenv("XDG_RUNTIME_DIR", "/tmp", 1);
	vigil_debug_init(&d);
	assert_int_equal(vigil_debug_prepare(&d, &c, err, sizeof(err)), 0);
	assert_true(c.debug);
	assert_int_equal(c.gdb_fd, d.gdb_fd);
	assert_true(d.port > 0);
	assert_string_equal(c.qmp_debug, d.qmp);
	assert_int_equal(stat(d.dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_non_null(strstr(d.dir, "/tmp/dbg."));
	/* it listens: a connection is queued */
	s = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)d.port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	}
	close(s);
	snprintf(dir, sizeof(dir), "%s", d.dir);
	vigil_debug_launched(&d);
	assert_int_equal(d.gdb_fd, -1);
	vigil_debug_release(&d);
	assert_int_equal(stat(dir, &st), -1);
	vigil_debug_release(&d); /* twice is fine */
}

/* A dead vigil's directory goes (files and empty subdirectories); a live
 * one's, another kind's and anything not ours stay. */
static void test_rundir_stale(void **state)
{
	char base[] = "/tmp/vigil-rundir-XXXXXX", dead[PATH_MAX], live[PATH_MAX], other[PATH_MAX],
	     path[PATH_MAX + 16], mine[VIGIL_RUNDIR_MAX];
	pid_t child = fork();
	struct stat st;

	(void)state;
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0); /* its pid is gone now */
	assert_non_null(mkdtemp(base));
	setenv("XDG_RUNTIME_DIR", base, 1);
	snprintf(dead, sizeof(dead), "%s/vfs.%d.abcdef", base, (int)child);
	snprintf(live, sizeof(live), "%s/dbg.%d.abcdef", base, (int)getpid());
	snprintf(other, sizeof(other), "%s/tmux.%d.abcdef", base, (int)child);
	assert_int_equal(mkdir(dead, 0700), 0);
	snprintf(path, sizeof(path), "%s/root", dead);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/vfs.sock", dead);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(mkdir(live, 0700), 0);
	assert_int_equal(mkdir(other, 0700), 0);

	assert_int_equal(vigil_rundir_new("dbg", mine), 0);
	assert_int_equal(stat(dead, &st), -1);
	assert_int_equal(stat(live, &st), 0);
	assert_int_equal(stat(other, &st), 0);
	vigil_rundir_remove(mine);
	assert_int_equal(stat(mine, &st), -1);
	rmdir(live);
	rmdir(other);
	assert_int_equal(rmdir(base), 0);
}

static void test_elf_symtab(void **state)
{
	char junk[] = "/tmp/vigil-nosym-XXXXXX";
	int fd = mkstemp(junk);

	(void)state;
	/* this test program is an ELF with a symbol table (it is not stripped) */
	assert_int_equal(vigil_elf_file_has_symtab("/proc/self/exe"), 1);
	assert_int_equal(write(fd, "\177ELF not really", 15), 15);
	close(fd);
	assert_int_equal(vigil_elf_file_has_symtab(junk), 0);
	unlink(junk);
	assert_int_equal(vigil_elf_file_has_symtab("/nonexistent/vmlinux"), -ENOENT);
}

/* The way in: why, gdb with symbols when known, QMP, how to end. */
static void test_text(void **state)
{
	struct vigil_debug d;
	char buf[8192];
	size_t n;

	(void)state;
	vigil_debug_init(&d);
	d.port = 40321;
	snprintf(d.qmp, sizeof(d.qmp), "/run/vigil/dbg.7.abcdef/qmp.sock");
	snprintf(d.why, sizeof(d.why), "process stall of pid 84");
	n = vigil_debug_text(&d, 4242, "/proc/self/exe", "6.1.0-test", buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf, "process stall of pid 84; the VM is stopped, QEMU (pid 4242)"));
	assert_non_null(strstr(buf, "gdb /proc/self/exe -ex 'target remote 127.0.0.1:40321'"));
	assert_non_null(strstr(buf, "QMP:  /run/vigil/dbg.7.abcdef/qmp.sock"));
	assert_non_null(strstr(buf, "Ctrl-C"));
	assert_null(strstr(buf, "no symbols"));
	/* a kernel without symbols (a distro vmlinux): how to get them */
	n = vigil_debug_text(&d, 4242, "/nonexistent", "6.1.0-test", buf, sizeof(buf));
	assert_non_null(strstr(buf, "gdb -ex 'target remote 127.0.0.1:40321'"));
	assert_non_null(strstr(buf, "linux-image-6.1.0-test-dbg"));
	assert_non_null(strstr(buf, "/usr/lib/debug/boot/vmlinux-6.1.0-test"));
	/* cut, never overrun */
	n = vigil_debug_text(&d, 1, "/nonexistent", "r", buf, 32);
	assert_int_equal(n, 31);
	assert_int_equal(strlen(buf), 31);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_consider),     cmocka_unit_test(test_prepare_release),
		cmocka_unit_test(test_rundir_stale), cmocka_unit_test(test_elf_symtab),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
