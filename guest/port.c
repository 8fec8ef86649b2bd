/* SPDX-License-Identifier: MIT */
/* port: find and open the virtio-serial port by name (see port.h). */
#include "port.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int port_find(const char *sysfs_root, const char *name, char *dev, size_t cap)
{
	char path[512], got[256];
	struct dirent *de;
	DIR *d;
	int found = -ENOENT;

	snprintf(path, sizeof(path), "%s/class/virtio-ports", sysfs_root);
	d = opendir(path);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		int n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/class/virtio-ports/%s/name", sysfs_root,
			 de->d_name);
		n = util_read_file(path, got, sizeof(got));
		if (n <= 0)
			continue;
		while (n && (got[n - 1] == '\n' || got[n - 1] == ' '))
			got[--n] = '\0';
		if (strcmp(got, name) != 0)
			continue;
		if ((size_t)snprintf(dev, cap, "/dev/%s", de->d_name) < cap)
			found = 0;
		break;
	}
	closedir(d);
	return found;
}

int port_open(const char *name, uint64_t wait_ms)
{
	uint64_t deadline = mono_ns() + wait_ms * NSEC_PER_MSEC;
	int delay_ms = 5, err = -ENOENT;

	for (;;) {
		char dev[300];
		int fd = -1;

		snprintf(dev, sizeof(dev), "/dev/virtio-ports/%s", name);
		if (access(dev, F_OK) < 0 && port_find("/sys", name, dev, sizeof(dev)) < 0)
			err = -ENOENT;
		else if ((fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) >= 0)
			return fd;
		else
			err = -errno;
		if (err == -EBUSY || mono_ns() >= deadline)
			return err;
		/* Registration is in progress (ENXIO) or the driver is still probing. */
		poll(NULL, 0, delay_ms);
		if (delay_ms < 100)
			delay_ms *= 2;
	}
}
