/* SPDX-License-Identifier: MIT */
/* init: PID 1 duties and the command line contract (see init.h). */
#define _GNU_SOURCE
#include "init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int init_parse_cmdline(const char *s, size_t len, struct init_cmdline *out)
{
	size_t i = 0, o = 0;
	bool after_dashes = false;
	int e = 0;

	memset(out, 0, sizeof(*out));
	while (i < len) {
		char *word;
		bool quoted = false;

		while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\0'))
			i++;
		if (i >= len)
			break;
		if (o >= sizeof(out->buf) - 1) {
			e = -E2BIG;
			break;
		}
		word = out->buf + o;
		while (i < len && (quoted || (s[i] != ' ' && s[i] != '\n' && s[i] != '\t')) &&
		       s[i] != '\0') {
			if (s[i] == '"') {
				quoted = !quoted;
				i++;
				continue;
			}
			if (o >= sizeof(out->buf) - 1)
				break;
			out->buf[o++] = s[i++];
		}
		out->buf[o++] = '\0';
		if (after_dashes) {
			if (out->argc >= INIT_MAX_ARGS) {
				e = -E2BIG;
				break;
			}
			out->argv[out->argc++] = word;
			continue;
		}
		if (!strcmp(word, "--")) {
			after_dashes = true;
			continue;
		}
		if (strncmp(word, "vigil.", 6) != 0)
			continue;
		if (out->nparams >= INIT_MAX_PARAMS) {
			e = -E2BIG;
			continue;
		}
		{
			char *eq = strchr(word + 6, '=');

			out->key[out->nparams] = word + 6;
			out->val[out->nparams] = eq ? eq + 1 : "";
			if (eq)
				*eq = '\0';
			if (!strcmp(word + 6, "run"))
				out->run = out->val[out->nparams];
			out->nparams++;
		}
	}
	out->argv[out->argc] = NULL;
	return e;
}

const char *init_param(const struct init_cmdline *c, const char *key)
{
	/* The last occurrence wins, as for kernel parameters. */
	for (int i = c->nparams - 1; i >= 0; i--) {
		if (!strcmp(c->key[i], key))
			return c->val[i];
	}
	return NULL;
}

static int mount_one(const char *src, const char *dst, const char *type, unsigned long flags,
		     const char *data, mode_t mode)
{
	if (mkdir(dst, mode) < 0 && errno != EEXIST)
		return -errno;
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
		return -errno;
	return 0;
}

int init_dir_populated(const char *dir)
{
	struct dirent *d;
	DIR *dp = opendir(dir);
	int r = 0;

	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((d = readdir(dp))) {
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) {
			r = 1;
			break;
		}
	}
	closedir(dp);
	return r;
}

int init_tmpfs(const char *dir, mode_t mode)
{
	char data[16];
	int r = init_dir_populated(dir);

	if (r < 0)
		return r;
	if (r > 0) {
		/* Carried by the host in the initramfs: keep it, with the tmpfs's mode. */
		return chmod(dir, mode) < 0 ? -errno : 0;
	}
	snprintf(data, sizeof(data), "mode=%04o", (unsigned)mode);
	r = mount_one("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, data, mode);
	return r < 0 ? r : 1;
}

int init_mounts(void)
{
	static const struct {
		const char *src, *dst, *type, *data;
		unsigned long flags;
		mode_t mode;
	} m[] = {
		{ "proc", "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555 },
		{ "sysfs", "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555 },
		/* flowbpf attaches its programs to the root of this hierarchy */
		{ "cgroup2", "/sys/fs/cgroup", "cgroup2", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  0555 },
		{ "devtmpfs", "/dev", "devtmpfs", "mode=0755", MS_NOSUID, 0755 },
		{ "devpts", "/dev/pts", "devpts", "gid=5,mode=620,ptmxmode=666",
		  MS_NOSUID | MS_NOEXEC, 0755 },
		{ "tmpfs", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 01777 },
	};
	int e, first = 0;

	umask(022);
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		e = mount_one(m[i].src, m[i].dst, m[i].type, m[i].flags, m[i].data, m[i].mode);
		if (e < 0 && !first)
			first = e;
	}
	if ((e = init_tmpfs("/run", 0755)) < 0 && !first)
		first = e;
	if ((e = init_tmpfs("/tmp", 01777)) < 0 && !first)
		first = e;
	return first;
}

int init_loopback(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), e = 0;

	if (fd < 0)
		return -errno;
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		e = -errno;
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			e = -errno;
	}
	close(fd);
	return e;
}

const char *init_modprobe_path(const char *root, const char *sysctl)
{
	static const char *const paths[] = { "/sbin/modprobe", "/usr/sbin/modprobe" };
	char at[PATH_MAX];
	ssize_t w;
	int fd;

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		snprintf(at, sizeof(at), "%s%s", strcmp(root, "/") ? root : "", paths[i]);
		if (access(at, X_OK) < 0)
			continue;
		fd = open(sysctl, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0)
			return NULL;
		w = write(fd, paths[i], strlen(paths[i]));
		close(fd);
		return w == (ssize_t)strlen(paths[i]) ? paths[i] : NULL;
	}
	return NULL;
}

void init_console(void)
{
	int fd = -1;

	for (int i = 0; i < 3; i++) {
		if (fcntl(i, F_GETFD) >= 0)
			continue;
		if (fd < 0)
			fd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (fd < 0)
			fd = open("/dev/null", O_RDWR);
		if (fd >= 0 && fd != i)
			dup2(fd, i);
	}
	if (fd > 2)
		close(fd);
}

void init_poweroff(void)
{
	sync();
	reboot(RB_POWER_OFF);
	reboot(RB_HALT_SYSTEM);
	for (;;)
		pause();
}
