/* SPDX-License-Identifier: MIT */
/* debughold: `vigil run --on-stall debug` (see debughold.h). */
#include "debughold.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmlinux.h"

void vigil_debug_init(struct vigil_debug *d)
{
	memset(d, 0, sizeof(*d));
	d->gdb_fd = -1;
}

/* A listening loopback socket on a port the kernel picks; inherited by QEMU. */
static int gdb_listen(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), e;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

int vigil_debug_prepare(struct vigil_debug *d, struct vigil_qemu_cfg *c, char *err, size_t cap)
{
	int e;

	vigil_debug_release(d);
	e = gdb_listen(&d->port);
	if (e < 0) {
		snprintf(err, cap, "--on-stall debug: cannot listen on a loopback TCP port: %s",
			 strerror(-e));
		return e;
	}
	d->gdb_fd = e;
	e = vigil_rundir_new("dbg", d->dir);
	if (e < 0) {
		snprintf(err, cap, "--on-stall debug: cannot make a private runtime directory: %s",
			 strerror(-e));
		vigil_debug_release(d);
		return e;
	}
	snprintf(d->qmp, sizeof(d->qmp), "%s/qmp.sock", d->dir);
	c->debug = true;
	c->gdb_fd = d->gdb_fd;
	c->qmp_debug = d->qmp;
	return 0;
}

void vigil_debug_launched(struct vigil_debug *d)
{
	if (d->gdb_fd >= 0)
		close(d->gdb_fd);
	d->gdb_fd = -1;
}

void vigil_debug_release(struct vigil_debug *d)
{
	vigil_debug_launched(d);
	vigil_rundir_remove(d->dir); /* the socket QEMU made, then the directory */
	d->dir[0] = d->qmp[0] = '\0';
}

/* The run's verdict goes to its highest-ranked fatal finding (docs/verdict.md):
 * the hold follows the same one, so a stall the host caused (HOST_STARVED
 * ranks above a process stall) or one folded into a guest stall is said as
 * the verdict will say it. */
bool vigil_debug_consider(struct vigil_debug *d, const struct vigil_finding *f)
{
	const char *what;

	if (!f->fatal ||
	    (d->outcome_set && vigil_outcome_rank(f->outcome) <= vigil_outcome_rank(d->outcome)))
		return false;
	d->outcome = f->outcome;
	d->outcome_set = true;
	d->why[0] = '\0';
	switch (f->outcome) {
	case VIGIL_OUTCOME_PROCESS_STALL:
		what = "process stall";
		break;
	case VIGIL_OUTCOME_GUEST_STALL:
		what = "guest stall";
		break;
	case VIGIL_OUTCOME_GUEST_CRASH:
		what = "guest crash";
		break;
	default:
		return false; /* not a reason to hold, and it decides the verdict */
	}
	if (f->pid)
		snprintf(d->why, sizeof(d->why), "%s of pid %u", what, f->pid);
	else
		snprintf(d->why, sizeof(d->why), "%s", what);
	return true;
}

/* Where gdb finds the kernel's symbols, or "" (said why in hint). */
static void symbols(const char *kernel, const char *release, char *file, size_t cap, char *hint,
		    size_t hcap)
{
	char dbg[2][600];
	int n = 0;

	file[0] = hint[0] = '\0';
	if (kernel && vigil_elf_file_has_symtab(kernel) == 1) {
		snprintf(file, cap, "%s", kernel);
		return;
	}
	if (release && release[0]) {
		snprintf(dbg[n++], sizeof(dbg[0]), "/usr/lib/debug/boot/vmlinux-%s", release);
		snprintf(dbg[n++], sizeof(dbg[0]), "/usr/lib/debug/lib/modules/%s/vmlinux",
			 release);
	}
	for (int i = 0; i < n; i++)
		if (vigil_elf_file_has_symtab(dbg[i]) == 1) {
			snprintf(file, cap, "%s", dbg[i]);
			return;
		}
	if (release && release[0])
		snprintf(hint, hcap,
			 "  (no symbols for %s here: `apt-get install linux-image-%s-dbg` puts "
			 "them in %s, or boot your own build with --kernel-tree)\n",
			 release, release, dbg[0]);
	else
		snprintf(hint, hcap,
			 "  (no kernel symbols found: boot a kernel built with them, "
			 "e.g. --kernel-tree DIR)\n");
}

size_t vigil_debug_text(const struct vigil_debug *d, int qemu_pid, const char *kernel,
			const char *release, char *buf, size_t cap)
{
	char file[PATH_MAX], hint[1600];
	int n;

	symbols(kernel, release, file, sizeof(file), hint, sizeof(hint));
	n = snprintf(buf, cap,
		     "vigil: --on-stall debug: %s; the VM is stopped, QEMU (pid %d) keeps it\n"
		     "  gdb:  gdb%s%s -ex 'target remote 127.0.0.1:%u'\n"
		     "%s"
		     "  QMP:  %s  (e.g. `socat - UNIX-CONNECT:%s`, then "
		     "{\"execute\":\"qmp_capabilities\"}; {\"execute\":\"cont\"} runs the guest)\n"
		     "  end:  Ctrl-C, or SIGTERM to vigil (pid %d): QEMU is quit and the verdict "
		     "written\n",
		     d->why[0] ? d->why : "the run ended", qemu_pid, file[0] ? " " : "", file,
		     d->port, hint, d->qmp, d->qmp, (int)getpid());
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap ? cap - 1 : 0;
}
