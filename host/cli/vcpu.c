/* SPDX-License-Identifier: MIT */
/* vcpu: vCPU progress from schedstat (see vcpu.h). */
#include "vcpu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void vigil_vcpu_init(struct vigil_vcpu_probe *p, const char *proc, pid_t pid)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->proc, sizeof(p->proc), "%s", proc ? proc : "/proc");
	p->pid = pid;
}

static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, cap - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* "CPU 0/TCG", "CPU 12/KVM" */
static int is_vcpu_comm(const char *comm)
{
	const char *p = comm;

	if (strncmp(p, "CPU ", 4) != 0)
		return 0;
	p += 4;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return strncmp(p, "/TCG", 4) == 0 || strncmp(p, "/KVM", 4) == 0 ||
	       strncmp(p, "/HVF", 4) == 0;
}

static int vcpu_scan(struct vigil_vcpu_probe *p)
{
	char path[128];
	struct dirent *de;
	DIR *d;

	p->n = 0;
	p->n_other = 0;
	p->rescans++;
	snprintf(path, sizeof(path), "%s/%d/task", p->proc, (int)p->pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && p->n < VIGIL_VCPU_MAX) {
		char comm_path[512], comm[64];
		long tid = strtol(de->d_name, NULL, 10);
		if (tid <= 0)
			continue;
		snprintf(comm_path, sizeof(comm_path), "%s/%s/comm", path, de->d_name);
		if (read_small(comm_path, comm, sizeof(comm)) > 0 && is_vcpu_comm(comm))
			p->tid[p->n++] = (pid_t)tid;
		else if (p->n_other < VIGIL_VCPU_MAX)
			p->other[p->n_other++] = (pid_t)tid;
	}
	closedir(d);
	p->all_threads = false;
	if (p->n == 0 && p->n_other > 0) {
		/* QEMU without debug-threads=on names no thread: count them all.
		 * Coarser (I/O threads count too), but a stopped QEMU still reads 0. */
		memcpy(p->tid, p->other, p->n_other * sizeof(p->tid[0]));
		p->n = p->n_other;
		p->all_threads = true;
	}
	return p->n ? 0 : -ENOENT;
}

/* Thread tid is stopped (state T or t in its stat); false when unreadable. */
static bool vcpu_stopped(const struct vigil_vcpu_probe *p, pid_t tid)
{
	char path[128], buf[512], *rp;

	snprintf(path, sizeof(path), "%s/%d/task/%d/stat", p->proc, (int)p->pid, (int)tid);
	if (read_small(path, buf, sizeof(buf)) <= 0 || !(rp = strrchr(buf, ')')))
		return false;
	return rp[1] == ' ' && (rp[2] == 'T' || rp[2] == 't');
}

/* Sum the vCPU threads' schedstat run and wait times; with st, also
 * whether one is stopped. */
static int vcpu_sum(struct vigil_vcpu_probe *p, struct vigil_vcpu_state *st)
{
	struct vigil_vcpu_state sum = { 0 };

	for (unsigned i = 0; i < p->n; i++) {
		char path[128], buf[128], *end, *end2;
		unsigned long long run, wait;
		snprintf(path, sizeof(path), "%s/%d/task/%d/schedstat", p->proc, (int)p->pid,
			 (int)p->tid[i]);
		if (read_small(path, buf, sizeof(buf)) <= 0)
			return -ESTALE;
		errno = 0;
		run = strtoull(buf, &end, 10);
		if (end == buf || errno)
			return -EBADMSG;
		wait = strtoull(end, &end2, 10);
		if (end2 == end || errno)
			wait = 0; /* an old kernel's one field: no wait time */
		sum.cpu_ns += run;
		sum.wait_ns += wait;
		sum.stopped |= vcpu_stopped(p, p->tid[i]);
	}
	*st = sum;
	return 0;
}

int vigil_vcpu_state(struct vigil_vcpu_probe *p, struct vigil_vcpu_state *st)
{
	int r;

	if (p->n == 0) {
		r = vcpu_scan(p);
		if (r < 0)
			return r;
	}
	r = vcpu_sum(p, st);
	if (r == -ESTALE) {
		/* a vCPU thread went away (hot-unplug, QEMU exiting): look again */
		r = vcpu_scan(p);
		if (r == 0)
			r = vcpu_sum(p, st);
	}
	return r;
}

int vigil_vcpu_sample(struct vigil_vcpu_probe *p, uint64_t *ns)
{
	struct vigil_vcpu_state st;
	int r = vigil_vcpu_state(p, &st);

	if (r == 0)
		*ns = st.cpu_ns;
	return r;
}
