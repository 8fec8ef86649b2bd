/* SPDX-License-Identifier: MIT */
/*
 * ping-floor: the least any guest agent's answer to a host ping can cost,
 * run inside the guest beside vigil-agent (run-bench's ping floor).
 *
 *   ping-floor PORT_NAME SECONDS
 *
 * Opens the virtio-serial port named PORT_NAME, prints
 *   ping-floor: ready
 * on its stdout (which the agent relays to the host), then for SECONDS
 * writes back every read of the port as it came, blocking: no framing, no
 * checksum, no event loop, no other work. The host's side (run-bench) sends
 * a few bytes and times their return: the round trip of the port, QEMU and
 * the guest's wake-up alone, against which vigil's PING→PONG is read.
 *
 * Limits: one port; reads of at most 4 KiB. Load: one read and one write
 * per ping. Bench use only; built static so that it runs in any guest
 * image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vport.h"

static void on_alarm(int sig)
{
	(void)sig;
	_exit(0);
}

int main(int argc, char **argv)
{
	char buf[4096];
	int port;

	if (argc != 3 || atoi(argv[2]) <= 0) {
		fprintf(stderr, "usage: ping-floor PORT_NAME SECONDS\n");
		return 2;
	}
	port = vport_open(argv[1], O_RDWR);
	if (port < 0) {
		fprintf(stderr,
			"ping-floor: cannot open port %s: %s (is a virtserialport of "
			"that name on the guest?)\n",
			argv[1], strerror(-port));
		return 1;
	}
	signal(SIGALRM, on_alarm); /* SECONDS are up: exit 0 */
	alarm((unsigned)atoi(argv[2]));
	printf("ping-floor: ready\n");
	fflush(stdout);
	for (;;) {
		ssize_t n = read(port, buf, sizeof(buf)), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* no host on the port yet: a read returns 0 until one connects */
			usleep(1000);
			continue;
		}
		while (w < n) {
			ssize_t k = write(port, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				perror("ping-floor: write to the port");
				return 1;
			}
			w += k;
		}
	}
}
