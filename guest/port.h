/* SPDX-License-Identifier: MIT */
/*
 * port: finds and opens the virtio-serial port by name. The device is the
 * /dev/vportNpM whose /sys/class/virtio-ports/vportNpM/name holds the name
 * (or /dev/virtio-ports/<name> where udev made that link). The node can
 * exist before the port is registered: open() then fails with ENXIO and is
 * retried, with a bounded wait; a second opener gets EBUSY.
 */
#ifndef VIGIL_GUEST_PORT_H
#define VIGIL_GUEST_PORT_H

#include <stddef.h>
#include <stdint.h>

#define PORT_NAME_DEFAULT "org.vigil.bulk.0"

/* Device path of the port called name under sysfs_root (normally "/sys"). 0 or -ENOENT. */
int port_find(const char *sysfs_root, const char *name, char *dev, size_t cap);
/* Find and open (O_RDWR | O_NONBLOCK), waiting up to wait_ms. fd or -errno. */
int port_open(const char *name, uint64_t wait_ms);

#endif
