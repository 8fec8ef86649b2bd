/* SPDX-License-Identifier: MIT */
/*
 * vport: a virtio-serial port found by its name, for the static programs
 * run-bench carries into the guest (relay-floor, ping-floor).
 */
#ifndef VIGIL_BENCH_VPORT_H
#define VIGIL_BENCH_VPORT_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* /dev/vportNpM whose sysfs name is `name`, opened with flags; -errno. */
static inline int vport_open(const char *name, int flags)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	int fd = -ENOENT;

	if (!d)
		return -errno;
	while (fd < 0 && (e = readdir(d))) {
		char path[320], got[128];
		ssize_t n;
		int nf;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		nf = open(path, O_RDONLY | O_CLOEXEC);
		if (nf < 0)
			continue;
		n = read(nf, got, sizeof(got) - 1);
		close(nf);
		if (n <= 0)
			continue;
		got[n] = '\0';
		got[strcspn(got, "\n")] = '\0';
		if (strcmp(got, name) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
		fd = open(path, flags | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	closedir(d);
	return fd;
}

#endif
