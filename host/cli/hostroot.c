/* SPDX-License-Identifier: MIT */
/*
 * hostroot: virtiofsd for `--rootfs host`, serving a read-only view of the
 * host built in its own mount namespace (see hostroot.h). The plan is
 * hostroot_plan.c's.
 */
#include "hostroot.h"
#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define LOG_TAIL_MAX 4096

struct vigil_hostroot {
	char dir[VIGIL_RUNDIR_MAX]; /* private runtime directory (short: the socket's path must fit) */
	char sock[96];  /* dir/vfs.sock */
	char log[96];   /* dir/virtiofsd.log: its stderr */
	char view[96];  /* dir/root: the mount point of the view (in its namespace) */
	char empty[96]; /* dir/empty: what a hidden file shows */
	pid_t pid;
	bool reaped;
};

int vigil_hostroot_check(const char *virtiofsd, char *err, size_t cap)
{
	const char *bin = virtiofsd ? virtiofsd : getenv("VIGIL_VIRTIOFSD");

	bin = bin && *bin ? bin : VIGIL_VIRTIOFSD_PATH;
	if (access(bin, X_OK) < 0) {
		snprintf(err, cap,
			 "--rootfs host needs virtiofsd: %s: %s (install the Debian package "
			 "qemu-system-common, or set $VIGIL_VIRTIOFSD; or use --rootfs image)",
			 bin, strerror(errno));
		return -ENOENT;
	}
	if (geteuid() != 0) {
		snprintf(err, cap,
			 "--rootfs host needs root: QEMU 7.2's virtiofsd shares the host's "
			 "files only as root (run vigil as root, or use --rootfs image)");
		return -EPERM;
	}
	return 0;
}

/* ---- the child: the view, then virtiofsd ----------------------------------------- */

/* Say what failed on the status pipe and end the child. */
static void die(int st, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void die(int st, const char *fmt, ...)
{
	char msg[PATH_MAX + 256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0 && write(st, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

/* buf (PATH_MAX) = the view's path of a host path; over PATH_MAX ends the child. */
static void at(char *buf, const struct vigil_hostroot *h, const char *path)
{
	size_t v = strlen(h->view), n = strlen(path);

	if (v + n >= PATH_MAX)
		_exit(1);
	memcpy(buf, h->view, v);
	memcpy(buf + v, path, n + 1);
}

static int set_attr(int fd, uint64_t set, unsigned flags)
{
	struct mount_attr a = { .attr_set = set };

	return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &a, sizeof(a));
}

static int clone_tree(const char *path)
{
	return (int)syscall(SYS_open_tree, AT_FDCWD, path,
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
}

static int attach(int fd, const char *where)
{
	return (int)syscall(SYS_move_mount, fd, "", AT_FDCWD, where, MOVE_MOUNT_F_EMPTY_PATH);
}

/* Make the mount point of a shown path inside a hidden (writable) tmpfs. */
static void make_point(const char *full, bool dir)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", full);
	for (char *s = strchr(tmp + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(tmp, 0755);
		*s = '/';
	}
	if (dir) {
		mkdir(tmp, 0755);
	} else {
		int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
		if (fd >= 0)
			close(fd);
	}
}

/* Hide one path: an empty tmpfs on a directory, the empty file on a file. -> O_PATH fd. */
static int hide(const struct vigil_hostroot *h, const struct vigil_hostroot_path *p, int st)
{
	char full[PATH_MAX];
	int fd;

	at(full, h, p->path);
	if (p->dir ? mount("vigil-hidden", full, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			   "mode=0755,size=64k,nr_inodes=1024")
		   : mount(h->empty, full, NULL, MS_BIND, NULL))
		die(st, "cannot hide %s: %s", p->path, strerror(errno));
	fd = open(full, O_PATH | O_CLOEXEC);
	if (fd < 0)
		die(st, "cannot open %s: %s", full, strerror(errno));
	return fd;
}

static bool under_any(const char *path, const struct vigil_hostroot_path *l, size_t n, bool strict)
{
	for (size_t i = 0; i < n; i++) {
		if (vigil_path_under(path, l[i].path) && (!strict || strcmp(path, l[i].path)))
			return true;
	}
	return false;
}

static void build_view(const struct vigil_hostroot *h, const struct vigil_hostroot_plan *p, int st)
{
	static int show_fd[VIGIL_HOSTROOT_MAX], rw_fd[VIGIL_HOSTROOT_MAX];
	static int hide_fd[2 * VIGIL_HOSTROOT_MAX];
	char full[PATH_MAX];
	size_t nh = 0;
	int tree;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die(st, "cannot make a mount namespace for virtiofsd: %s", strerror(errno));
	tree = clone_tree("/");
	if (tree < 0 ||
	    set_attr(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, AT_RECURSIVE) <
		0 ||
	    attach(tree, h->view) < 0)
		die(st, "cannot make a read-only view of / (needs Linux 5.12): %s",
		    strerror(errno));
	for (size_t i = 0; i < p->n_show; i++) {
		at(full, h, p->show[i].path);
		if ((show_fd[i] = clone_tree(full)) < 0)
			die(st, "cannot show %s: %s", p->show[i].path, strerror(errno));
	}
	for (size_t i = 0; i < p->n_rw; i++) {
		if ((rw_fd[i] = clone_tree(p->rw[i].path)) < 0 ||
		    set_attr(rw_fd[i], MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, AT_RECURSIVE) < 0)
			die(st, "cannot share %s writable: %s", p->rw[i].path, strerror(errno));
	}
	/* hidden: outermost first; inner ones only where a shown path uncovers them */
	for (size_t i = 0; i < p->n_hide; i++) {
		if (!under_any(p->hide[i].path, p->hide, i, true))
			hide_fd[nh++] = hide(h, &p->hide[i], st);
	}
	for (size_t i = 0; i < p->n_show; i++) {
		at(full, h, p->show[i].path);
		make_point(full, p->show[i].dir);
		if (attach(show_fd[i], full) < 0)
			die(st, "cannot show %s: %s", p->show[i].path, strerror(errno));
	}
	for (size_t i = 0; i < p->n_rw; i++) {
		at(full, h, p->rw[i].path);
		make_point(full, true);
		if (attach(rw_fd[i], full) < 0)
			die(st, "cannot share %s writable: %s", p->rw[i].path, strerror(errno));
	}
	for (size_t i = 0; i < p->n_hide; i++) {
		if (under_any(p->hide[i].path, p->show, p->n_show, true) ||
		    under_any(p->hide[i].path, p->rw, p->n_rw, true))
			hide_fd[nh++] = hide(h, &p->hide[i], st);
	}
	for (size_t i = 0; i < nh; i++) {
		if (set_attr(hide_fd[i], MOUNT_ATTR_RDONLY, 0) < 0)
			die(st, "cannot make a hidden path read-only: %s", strerror(errno));
	}
}

static void child(const struct vigil_hostroot *h, const struct vigil_hostroot_plan *p,
		  const char *bin, int sock, int st)
{
	char fdarg[32], src[PATH_MAX + 16];
	char *argv[] = { (char *)bin,      fdarg, "-o", src, "-o", "cache=auto", "-o",
			 "log_level=warn", NULL };
	sigset_t none;
	int log, null;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM); /* virtiofsd must not outlive vigil */
	setpgid(0, 0);                    /* the user's Ctrl-C reaches vigil only */
	log = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(log, 2) < 0)
		die(st, "cannot set up virtiofsd's stdio: %s", strerror(errno));
	build_view(h, p, st);
	if (fcntl(sock, F_SETFD, 0) < 0)
		die(st, "cannot hand the socket to virtiofsd: %s", strerror(errno));
	snprintf(fdarg, sizeof(fdarg), "--fd=%d", sock);
	snprintf(src, sizeof(src), "source=%s", h->view);
	execv(bin, argv);
	die(st, "cannot run %s: %s", bin, strerror(errno));
}

/* ---- the parent ---------------------------------------------------------------- */

static int runtime_dir(struct vigil_hostroot *h)
{
	int fd, e = vigil_rundir_new("vfs", h->dir);

	if (e < 0)
		return e;
	snprintf(h->sock, sizeof(h->sock), "%s/vfs.sock", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/virtiofsd.log", h->dir);
	snprintf(h->view, sizeof(h->view), "%s/root", h->dir);
	snprintf(h->empty, sizeof(h->empty), "%s/empty", h->dir);
	if (mkdir(h->view, 0700) < 0)
		return -errno;
	fd = open(h->empty, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int listen_sock(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Wait for the child's exec (EOF on the status pipe) or its message. */
static int child_status(int st, char *err, size_t cap)
{
	char msg[PATH_MAX + 256];
	ssize_t n;

	do
		n = read(st, msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	msg[n] = '\0';
	snprintf(err, cap, "%s", msg);
	return -EIO;
}

int vigil_hostroot_start(const struct vigil_hostroot_plan *plan, const char *virtiofsd,
			 struct vigil_hostroot **out, char *err, size_t cap)
{
	struct vigil_hostroot *h = calloc(1, sizeof(*h));
	const char *bin = virtiofsd ? virtiofsd : getenv("VIGIL_VIRTIOFSD");
	int st[2] = { -1, -1 }, sock = -1, e;

	bin = bin && *bin ? bin : VIGIL_VIRTIOFSD_PATH;
	if (!h)
		return -ENOMEM;
	h->pid = -1;
	if ((e = runtime_dir(h)) < 0) {
		snprintf(err, cap, "cannot make a private runtime directory: %s", strerror(-e));
		goto fail;
	}
	if ((sock = listen_sock(h->sock)) < 0) {
		e = sock;
		snprintf(err, cap, "cannot listen on %s: %s", h->sock, strerror(-e));
		goto fail;
	}
	if (pipe2(st, O_CLOEXEC) < 0) {
		e = -errno;
		snprintf(err, cap, "pipe: %s", strerror(errno));
		goto fail;
	}
	h->pid = fork();
	if (h->pid == 0) {
		close(st[0]);
		child(h, plan, bin, sock, st[1]);
	}
	e = h->pid < 0 ? -errno : 0;
	close(st[1]);
	close(sock);
	sock = -1;
	if (e < 0) {
		snprintf(err, cap, "fork: %s", strerror(-e));
		goto fail;
	}
	e = child_status(st[0], err, cap);
	close(st[0]);
	if (e < 0)
		goto fail;
	*out = h;
	return 0;
fail:
	if (sock >= 0)
		close(sock);
	vigil_hostroot_free(h);
	return e;
}

const char *vigil_hostroot_socket(const struct vigil_hostroot *h)
{
	return h->sock;
}

pid_t vigil_hostroot_pid(const struct vigil_hostroot *h)
{
	return h->pid;
}

void vigil_hostroot_log_tail(const struct vigil_hostroot *h, char *buf, size_t cap)
{
	char text[LOG_TAIL_MAX + 1];
	int fd = open(h->log, O_RDONLY | O_CLOEXEC);
	off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	ssize_t n = -1;
	size_t o = 0;

	buf[0] = '\0';
	if (size >= 0 && lseek(fd, size > LOG_TAIL_MAX ? size - LOG_TAIL_MAX : 0, SEEK_SET) >= 0)
		n = read(fd, text, LOG_TAIL_MAX);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	text[n] = '\0';
	/* the last three lines, joined */
	char *line[3] = { 0 }, *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line[0] = line[1];
		line[1] = line[2];
		line[2] = l;
	}
	for (int i = 0; i < 3 && o < cap; i++) {
		if (line[i])
			o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? "; " : "", line[i]);
	}
}

void vigil_hostroot_reaped(struct vigil_hostroot *h)
{
	h->reaped = true;
}

void vigil_hostroot_free(struct vigil_hostroot *h)
{
	if (!h)
		return;
	if (h->pid > 0 && !h->reaped)
		kill(h->pid, SIGTERM);
	vigil_rundir_remove(h->dir);
	free(h);
}
