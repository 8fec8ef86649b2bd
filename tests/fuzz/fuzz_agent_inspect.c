/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the agent's /proc text parsers (guest/inspect.c), which read
 * what the guest kernel writes about any process, and the sampler that
 * strings them together.
 *
 * The input is cut at NUL bytes into the seven files of a fake /proc/PID
 * (stat, schedstat, status, comm, wchan, stack, cgroup, in that order; a
 * file the input does not reach is missing). Each piece goes through its
 * parser directly; status also in two pieces at a split taken from the
 * input, which must give what it gives whole. Then the pieces are written
 * to a fake tree (made once, in /dev/shm or /tmp, removed at exit) and
 * sampled: the report must keep every limit, encode, and decode back to
 * itself.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const files[7] = { "stat",  "schedstat", "status", "comm",
				      "wchan", "stack",     "cgroup" };
static char root[64], dir[96];
static struct inspect_bufs bufs;
static uint8_t payload[VIGIL_WIRE_REPORT_MAX_LEN];

static void parsers(const char *p, size_t n, size_t split)
{
	struct inspect_stat st;
	struct inspect_switches whole = { 0, 0 }, parts = { 0, 0 };
	uint64_t v[3];
	size_t used;

	if (inspect_parse_stat(p, n, &st) == 0)
		CHECK(st.state > ' ' && st.state <= '~');
	CHECK(inspect_parse_schedstat(p, n, v) <= 3);
	CHECK(inspect_parse_status(p, n, true, &whole) == n);
	split = n ? split % (n + 1) : 0;
	used = inspect_parse_status(p, split, false, &parts);
	CHECK(used <= split);
	inspect_parse_status(p + used, n - used, true, &parts);
	CHECK(parts.voluntary == whole.voluntary && parts.involuntary == whole.involuntary);
	CHECK(inspect_comm_len(p, n) <= VIGIL_WIRE_COMM_MAX && inspect_comm_len(p, n) <= n);
	CHECK(inspect_wchan_len(p, n) <= VIGIL_WIRE_WCHAN_MAX && inspect_wchan_len(p, n) <= n);
	CHECK(inspect_cgroup_len(p, n) <= VIGIL_WIRE_CGROUP_MAX && inspect_cgroup_len(p, n) <= n);
}

/* The fake tree goes when the fuzzer exits. */
static void remove_tree(void)
{
	char path[128];

	for (int i = 0; i < 7; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	rmdir(root);
}

static void put(const char *name, const uint8_t *p, size_t n)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!p) {
		unlink(path);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static void sample(void)
{
	struct vigil_process_report r = { .request_id = 1, .pid = 4242 }, back;
	int n, st = inspect_sample(root, 4242, &bufs, &r);

	CHECK(st == r.status && (st == 0 || st == -ESRCH || st == -EACCES));
	CHECK(r.comm.len <= VIGIL_WIRE_COMM_MAX && r.wchan.len <= VIGIL_WIRE_WCHAN_MAX);
	CHECK(r.stack.len <= VIGIL_WIRE_STACK_MAX && r.cgroup.len <= VIGIL_WIRE_CGROUP_MAX);
	n = vigil_process_report_encode(payload, sizeof(payload), &r);
	CHECK(n >= (int)VIGIL_WIRE_REPORT_MIN_LEN);
	CHECK(vigil_process_report_decode(payload, (size_t)n, &back) == 0);
	CHECK(back.status == r.status && back.state == r.state && back.policy == r.policy);
	CHECK(back.voluntary_switches == r.voluntary_switches);
	CHECK(back.cgroup.len == r.cgroup.len && back.stack.len == r.stack.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t rest = size, split = size ? data[0] * 31u : 0;
	bool more = true;

	if (!root[0]) {
		/* tmpfs where there is one: seven files per input on a disk are slow */
		snprintf(root, sizeof(root), "%s/vigil-fuzz-proc-XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		CHECK(mkdtemp(root) != NULL);
		snprintf(dir, sizeof(dir), "%s/4242", root);
		CHECK(mkdir(dir, 0700) == 0);
		atexit(remove_tree);
	}
	parsers((const char *)data, size, split);
	for (int i = 0; i < 7; i++) {
		const uint8_t *nul;
		size_t n;

		if (!more) {
			put(files[i], NULL, 0); /* the input ended before this file */
			continue;
		}
		nul = memchr(p, 0, rest);
		n = nul ? (size_t)(nul - p) : rest;
		parsers((const char *)p, n, split);
		put(files[i], p, n);
		if (nul) {
			p = nul + 1;
			rest -= n + 1;
		} else {
			more = false;
		}
	}
	sample();
	return 0;
}
