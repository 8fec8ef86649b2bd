/* SPDX-License-Identifier: MIT */
/*
 * relay-floor: the least any agent that relays a workload's stdout can
 * cost, run inside the guest beside vigil-agent (run-bench's
 * relay_floor_MBps).
 *
 *   relay-floor PORT_NAME COMMAND [ARG...]
 *
 * Starts COMMAND with its stdout on a pipe of the kernel's default size (as
 * the agent's workload gets), reads it 64 KiB at a time and writes each read
 * to the virtio-serial port named PORT_NAME (found through
 * /sys/class/virtio-ports/), blocking: no framing, no checksum, no event
 * loop. Prints, on its own stdout (which the agent relays to the host),
 *   relay-floor: bytes=N MBps=F
 * where F is N over the guest's CLOCK_MONOTONIC time from the end of the
 * first read to the end of the last write.
 *
 * Limits: one command, one port; the port is opened write-only and is not
 * read. Load: one read and one or two writes per 64 KiB (the guest driver
 * takes at most 32 KiB a write). Bench use only; built static so that it
 * runs in any guest image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vport.h"

#define CHUNK (64u * 1024)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t buf[CHUNK];
	uint64_t first = 0, last = 0, bytes = 0;
	int p[2], port, st = 0;
	pid_t pid;
	ssize_t n;

	if (argc < 3) {
		fprintf(stderr, "usage: relay-floor PORT_NAME COMMAND [ARG...]\n");
		return 2;
	}
	port = vport_open(argv[1], O_WRONLY);
	if (port < 0) {
		fprintf(stderr, "relay-floor: cannot open port %s: %s (is a virtserialport of "
				"that name on the guest?)\n",
			argv[1], strerror(-port));
		return 1;
	}
	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		perror("relay-floor: cannot start the command");
		return 1;
	}
	if (pid == 0) {
		dup2(p[1], 1);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("relay-floor: read");
			return 1;
		}
		if (!first)
			first = now_ns();
		if (write_all(port, buf, (size_t)n) < 0) {
			perror("relay-floor: write to the port");
			return 1;
		}
		bytes += (uint64_t)n;
		last = now_ns();
	}
	waitpid(pid, &st, 0);
	printf("relay-floor: bytes=%llu MBps=%.1f\n", (unsigned long long)bytes,
	       last > first ? bytes / (1024.0 * 1024.0) / ((last - first) / 1e9) : 0.0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
