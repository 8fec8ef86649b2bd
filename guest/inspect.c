/* SPDX-License-Identifier: MIT */
/*
 * inspect: /proc parsers, the sampler, and the inspector's worker thread
 * and slots (see inspect.h for the rules, limits and load).
 */
#define _GNU_SOURCE
#include "inspect.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "prio.h"
#include "util.h"

#define STAT_LAST_CPU 39 /* field numbers of proc(5) */
#define STAT_POLICY   41
#define STOP_WAIT_NS  (200 * NSEC_PER_MSEC)

/* ---- parsers ------------------------------------------------------------- */

/* A decimal u64 at [p, end), up to the first non-digit (*next). false
 * without a digit or on overflow. */
static bool parse_dec(const char *p, const char *end, uint64_t *out, const char **next)
{
	uint64_t v = 0;
	const char *s = p;

	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (p == s)
		return false;
	*out = v;
	*next = p;
	return true;
}

/* The token [tok, end) as a u32, or 0 when it is not exactly one. */
static uint32_t field_u32(const char *tok, const char *end)
{
	const char *next;
	uint64_t v;

	if (!parse_dec(tok, end, &v, &next) || next != end || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

int inspect_parse_stat(const char *buf, size_t len, struct inspect_stat *out)
{
	const char *end = buf + len, *p = NULL;
	struct inspect_stat st = { 0 };
	unsigned field = 3;

	for (size_t i = len; i-- > 0;) {
		if (buf[i] == ')') {
			p = buf + i + 1;
			break;
		}
	}
	/* ") S" then a space, the newline or the end. */
	if (!p || end - p < 2 || p[0] != ' ' || p[1] <= ' ' || p[1] > '~')
		return -EBADMSG;
	if (end - p > 2 && p[2] != ' ' && p[2] != '\n')
		return -EBADMSG;
	st.state = (uint8_t)p[1];
	p += 2;
	/* Fields 4, 5, ... each after one space; the newline ends the line. */
	while (p < end && *p == ' ' && field < STAT_POLICY) {
		const char *tok = ++p;

		field++;
		while (p < end && *p != ' ' && *p != '\n')
			p++;
		if (field == STAT_LAST_CPU)
			st.last_cpu = field_u32(tok, p);
		else if (field == STAT_POLICY)
			st.policy = field_u32(tok, p);
	}
	*out = st;
	return 0;
}

int inspect_parse_schedstat(const char *buf, size_t len, uint64_t v[3])
{
	const char *p = buf, *end = buf + len;
	int n = 0;

	v[0] = v[1] = v[2] = 0;
	while (n < 3) {
		while (p < end && *p == ' ')
			p++;
		if (!parse_dec(p, end, &v[n], &p))
			break;
		n++;
		if (p < end && *p != ' ' && *p != '\n')
			break; /* "12x": the rest is not schedstat */
	}
	return n;
}

/* "name:" then tabs or spaces, a decimal, and nothing else. */
static bool status_value(const char *l, size_t n, const char *name, uint64_t *out)
{
	size_t k = strlen(name);
	const char *p = l + k, *end = l + n, *next;
	uint64_t v;

	if (n <= k || memcmp(l, name, k) != 0)
		return false;
	while (p < end && (*p == '\t' || *p == ' '))
		p++;
	if (!parse_dec(p, end, &v, &next) || next != end)
		return false;
	*out = v;
	return true;
}

static void status_line(const char *l, size_t n, struct inspect_switches *sw)
{
	if (!status_value(l, n, "voluntary_ctxt_switches:", &sw->voluntary))
		status_value(l, n, "nonvoluntary_ctxt_switches:", &sw->involuntary);
}

size_t inspect_parse_status(const char *buf, size_t len, bool eof, struct inspect_switches *sw)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			status_line(buf + start, i - start, sw);
			start = i + 1;
		}
	}
	if (eof && start < len) {
		status_line(buf + start, len - start, sw);
		start = len;
	}
	return start;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

size_t inspect_comm_len(const char *buf, size_t len)
{
	if (len && buf[len - 1] == '\n')
		len--;
	return min_size(len, VIGIL_WIRE_COMM_MAX);
}

size_t inspect_wchan_len(const char *buf, size_t len)
{
	if (len == 1 && buf[0] == '0')
		return 0; /* the kernel's "not sleeping, or not allowed to say" */
	return min_size(len, VIGIL_WIRE_WCHAN_MAX);
}

size_t inspect_cgroup_len(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	return min_size(nl ? (size_t)(nl - buf) : len, VIGIL_WIRE_CGROUP_MAX);
}

/* ---- the sampler ---------------------------------------------------------- */

/* The errors that say the task is not there (any more). */
static bool gone_err(int e)
{
	return e == -ENOENT || e == -ESRCH;
}

/* Read name under dfd into buf, up to cap bytes: the bytes read, or -errno. */
static ssize_t read_at(int dfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t have = 0;
	int e = 0;

	if (fd < 0)
		return -errno;
	while (have < cap) {
		ssize_t n = read(fd, buf + have, cap - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = -errno;
			break;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	return e ? e : (ssize_t)have;
}

/* A file read after stat: its bytes, or 0 when it cannot be read. */
static size_t read_opt(int dfd, const char *name, char *buf, size_t cap, bool *maybe_gone)
{
	ssize_t n = read_at(dfd, name, buf, cap);

	if (n < 0) {
		*maybe_gone |= gone_err((int)n);
		return 0;
	}
	return (size_t)n;
}

/* Drop up to and including the first newline of buf[0..*have); true when
 * one was found (the over-long line is over). */
static bool skip_line(char *buf, size_t *have)
{
	char *nl = memchr(buf, '\n', *have);

	if (!nl) {
		*have = 0;
		return false;
	}
	*have -= (size_t)(nl + 1 - buf);
	memmove(buf, nl + 1, *have);
	return true;
}

/*
 * /proc/PID/status through a fixed buffer, line by line, however long the
 * file: a line longer than the buffer (no kernel writes one) is skipped.
 * 0 or -errno.
 */
static int read_status(int dfd, char *buf, struct inspect_switches *sw)
{
	int fd = openat(dfd, "status", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t have = 0, total = 0;
	bool skipping = false;
	int e = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + have, INSPECT_STATUS_CAP - have);
		bool eof;
		size_t used;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = -errno;
			break;
		}
		have += (size_t)n;
		total += (size_t)n;
		eof = n == 0 || total >= INSPECT_STATUS_MAX;
		if (skipping)
			skipping = !skip_line(buf, &have); /* still inside it: have is 0 */
		used = inspect_parse_status(buf, have, eof, sw);
		if (eof)
			break;
		if (used == 0 && have == INSPECT_STATUS_CAP) {
			skipping = true; /* a line as long as the buffer */
			used = have;
		}
		have -= used;
		memmove(buf, buf + used, have);
	}
	close(fd);
	return e;
}

/* stat: state, last_cpu, policy. 0, -ESRCH, or -EACCES (unreadable). */
static int sample_stat(int dfd, struct inspect_bufs *b, struct vigil_process_report *r)
{
	ssize_t n = read_at(dfd, "stat", b->stat, sizeof(b->stat));
	struct inspect_stat st;

	if (n < 0)
		return gone_err((int)n) ? -ESRCH : -EACCES;
	if (inspect_parse_stat(b->stat, (size_t)n, &st) < 0)
		return -EACCES; /* not what the kernel writes: as good as unreadable */
	r->state = st.state;
	r->last_cpu = st.last_cpu;
	r->policy = st.policy;
	return 0;
}

/* schedstat and status: the numbers a rate is computed from. */
static void sample_sched(int dfd, struct inspect_bufs *b, struct vigil_process_report *r,
			 bool *maybe_gone)
{
	struct inspect_switches sw = { 0, 0 };
	uint64_t v[3];
	size_t n = read_opt(dfd, "schedstat", b->schedstat, sizeof(b->schedstat), maybe_gone);
	int e;

	inspect_parse_schedstat(b->schedstat, n, v);
	r->run_ns = v[0];
	r->wait_ns = v[1];
	r->timeslices = v[2];
	e = read_status(dfd, b->status, &sw);
	if (e < 0) {
		*maybe_gone |= gone_err(e);
		sw = (struct inspect_switches){ 0, 0 }; /* a part read is not the count */
	}
	r->voluntary_switches = sw.voluntary;
	r->involuntary_switches = sw.involuntary;
}

static struct vigil_str str_of(const char *p, size_t len)
{
	return (struct vigil_str){ p, (uint16_t)len };
}

/* comm, wchan, stack, cgroup, each cut to its limit. */
static void sample_strings(int dfd, struct inspect_bufs *b, struct vigil_process_report *r,
			   bool *maybe_gone)
{
	size_t n;

	n = read_opt(dfd, "comm", b->comm, sizeof(b->comm), maybe_gone);
	r->comm = str_of(b->comm, inspect_comm_len(b->comm, n));
	n = read_opt(dfd, "wchan", b->wchan, sizeof(b->wchan), maybe_gone);
	r->wchan = str_of(b->wchan, inspect_wchan_len(b->wchan, n));
	n = read_opt(dfd, "stack", b->stack, sizeof(b->stack), maybe_gone);
	r->stack = str_of(b->stack, n);
	n = read_opt(dfd, "cgroup", b->cgroup, sizeof(b->cgroup), maybe_gone);
	r->cgroup = str_of(b->cgroup, inspect_cgroup_len(b->cgroup, n));
}

/*
 * PID under the proc directory procfd, as a directory fd: it pins the
 * task, so a pid reused meanwhile is never read in its place. Relative to
 * an fd opened once, the lookup never walks the root: a root on virtiofs
 * revalidates its dentries through FUSE requests, which a kernel worker
 * completes, and a starved worker would hold the answer back (vmtest
 * classify_runnable). The fd, -ESRCH or -EACCES.
 */
static int open_pid_dir(int procfd, uint32_t pid)
{
	char name[24];
	int fd;

	name[util_fmt_u64(name, pid)] = '\0';
	fd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return gone_err(-errno) ? -ESRCH : -EACCES;
	return fd;
}

/* Every field after status 0, every string empty. */
static void report_clear(struct vigil_process_report *r)
{
	static const struct vigil_str none = { "", 0 };
	uint32_t id = r->request_id, pid = r->pid;

	memset(r, 0, sizeof(*r));
	r->request_id = id;
	r->pid = pid;
	r->comm = r->wchan = r->stack = r->cgroup = none;
}

/* Set the status; a non-zero one clears every field after it. */
static int report_status(struct vigil_process_report *r, int status)
{
	if (status)
		report_clear(r);
	r->status = status;
	return status;
}

int inspect_sample(const char *proc, uint32_t pid, struct inspect_bufs *b,
		   struct vigil_process_report *r)
{
	int procfd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC), st;

	if (procfd < 0) {
		report_clear(r);
		return report_status(r, -EACCES);
	}
	st = inspect_sample_at(procfd, pid, b, r);
	close(procfd);
	return st;
}

int inspect_sample_at(int procfd, uint32_t pid, struct inspect_bufs *b,
		      struct vigil_process_report *r)
{
	bool maybe_gone = false;
	int dfd, st;

	report_clear(r);
	dfd = open_pid_dir(procfd, pid);
	if (dfd < 0)
		return report_status(r, dfd);
	st = sample_stat(dfd, b, r);
	if (st == 0) {
		sample_sched(dfd, b, r, &maybe_gone);
		sample_strings(dfd, b, r, &maybe_gone);
		/* A file was missing: not provided by this kernel, or the task
		 * exited meanwhile. Its stat says which. */
		if (maybe_gone && gone_err((int)read_at(dfd, "stat", b->schedstat, 1)))
			st = -ESRCH;
	}
	close(dfd);
	return report_status(r, st);
}

/* ---- the inspector -------------------------------------------------------- */

/* The slot in state that came first, or NULL. Under mu. */
static struct inspect_slot *oldest(struct inspector *in, enum inspect_slot_state state)
{
	struct inspect_slot *best = NULL;

	for (unsigned i = 0; i < INSPECT_SLOTS; i++) {
		struct inspect_slot *s = &in->slot[i];

		if (s->state == state && (!best || s->ticket < best->ticket))
			best = s;
	}
	return best;
}

/* Sample s into its payload (the worker, without the lock). */
static void slot_sample(struct inspector *in, struct inspect_slot *s)
{
	struct vigil_process_report r = { .request_id = s->request_id, .pid = s->pid };
	int n;

	inspect_sample_at(in->proc_fd, s->pid, &in->bufs, &r);
	n = vigil_process_report_encode(s->payload, sizeof(s->payload), &r);
	if (n < 0) {
		/* Cannot happen (the sampler keeps every limit); answer anyway. */
		report_status(&r, -EIO);
		n = vigil_process_report_encode(s->payload, sizeof(s->payload), &r);
	}
	s->len = n > 0 ? (uint32_t)n : 0;
}

static void *worker(void *arg)
{
	struct inspector *in = arg;
	const uint64_t one = 1;

	prio_thread(in->rt_prio); /* a failure leaves it as it was: nothing to do */

	pthread_mutex_lock(&in->mu);
	for (;;) {
		struct inspect_slot *s = NULL;

		while (!in->stop && !(s = oldest(in, INSPECT_QUEUED)))
			pthread_cond_wait(&in->cv, &in->mu);
		if (in->stop)
			break;
		s->state = INSPECT_SAMPLING;
		pthread_mutex_unlock(&in->mu);
		slot_sample(in, s);
		pthread_mutex_lock(&in->mu);
		s->state = INSPECT_DONE;
		pthread_mutex_unlock(&in->mu);
		if (write(in->efd, &one, sizeof(one)) < 0) {
			/* The counter is far from full: cannot fail. */
		}
		pthread_mutex_lock(&in->mu);
	}
	in->exited = true;
	pthread_cond_broadcast(&in->gone);
	pthread_mutex_unlock(&in->mu);
	return NULL;
}

static int sync_init(struct inspector *in)
{
	pthread_condattr_t ca;
	int e;

	if ((e = pthread_mutex_init(&in->mu, NULL)))
		return -e;
	if ((e = pthread_condattr_init(&ca)))
		return -e;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	e = pthread_cond_init(&in->cv, &ca);
	if (!e)
		e = pthread_cond_init(&in->gone, &ca);
	pthread_condattr_destroy(&ca);
	return -e;
}

int inspector_start(struct inspector *in, const char *proc, int rt_prio)
{
	sigset_t all, old;
	size_t n = strlen(proc);
	int e;

	memset(in, 0, sizeof(*in));
	in->efd = -1;
	if (n > INSPECT_PROC_MAX)
		return -ENAMETOOLONG;
	memcpy(in->proc, proc, n + 1);
	in->rt_prio = rt_prio;
	in->proc_fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (in->proc_fd < 0)
		return -errno;
	if ((e = sync_init(in)) < 0)
		goto fail;
	in->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (in->efd < 0) {
		e = -errno;
		goto fail;
	}
	/* Signals stay with the event loop's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = -pthread_create(&in->thread, NULL, worker, in);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e == 0)
		return 0;
fail:
	if (in->efd >= 0)
		close(in->efd);
	close(in->proc_fd);
	in->efd = in->proc_fd = -1;
	return e;
}

void inspector_stop(struct inspector *in)
{
	struct timespec until;
	bool exited;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (long)STOP_WAIT_NS;
	until.tv_sec += until.tv_nsec / (long)NSEC_PER_SEC;
	until.tv_nsec %= (long)NSEC_PER_SEC;
	pthread_mutex_lock(&in->mu);
	in->stop = true;
	pthread_cond_broadcast(&in->cv);
	while (!in->exited)
		if (pthread_cond_timedwait(&in->gone, &in->mu, &until) == ETIMEDOUT)
			break;
	exited = in->exited;
	pthread_mutex_unlock(&in->mu);
	if (!exited) {
		/* Stuck in a /proc read: the process's exit ends it. */
		pthread_detach(in->thread);
		return;
	}
	pthread_join(in->thread, NULL);
	close(in->efd);
	in->efd = -1;
	close(in->proc_fd);
	in->proc_fd = -1;
}

/* The answer to a request no slot could take. */
static void answer_busy(struct inspector *in, const struct vigil_inspect *rq, struct chan *c)
{
	struct vigil_process_report r = { .request_id = rq->request_id,
					  .pid = rq->pid,
					  .status = -EBUSY };
	uint8_t buf[VIGIL_WIRE_REPORT_MIN_LEN];
	int n = vigil_process_report_encode(buf, sizeof(buf), &r);

	in->st.busy++;
	if (n > 0 &&
	    chan_push(c, CHAN_Q_CTL_EXT, VIGIL_MSG_PROCESS_REPORT, buf, (uint32_t)n, false) == 0)
		in->st.reports++;
	else
		in->st.unanswered++;
}

int inspector_request(struct inspector *in, const struct vigil_inspect *rq, struct chan *c)
{
	struct inspect_slot *s;

	pthread_mutex_lock(&in->mu);
	s = oldest(in, INSPECT_FREE);
	if (s) {
		s->state = INSPECT_QUEUED;
		s->request_id = rq->request_id;
		s->pid = rq->pid;
		s->ticket = ++in->next_ticket;
		pthread_cond_signal(&in->cv);
	}
	pthread_mutex_unlock(&in->mu);
	if (!s) {
		answer_busy(in, rq, c);
		return -EBUSY;
	}
	in->st.requests++;
	return 0;
}

int inspector_collect(struct inspector *in, struct chan *c)
{
	uint64_t v;
	int queued = 0;

	if (read(in->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: called for held slots, or woken for one already taken */
	}
	in->held = false;
	for (;;) {
		struct inspect_slot *s;

		pthread_mutex_lock(&in->mu);
		s = oldest(in, INSPECT_DONE);
		pthread_mutex_unlock(&in->mu);
		if (!s)
			break;
		/* DONE: the worker is done with s; only this thread touches it. */
		if (chan_push(c, CHAN_Q_CTL_EXT, VIGIL_MSG_PROCESS_REPORT, s->payload, s->len,
			      false) < 0) {
			in->held = true;
			break;
		}
		in->st.reports++;
		queued++;
		pthread_mutex_lock(&in->mu);
		s->state = INSPECT_FREE;
		pthread_mutex_unlock(&in->mu);
	}
	return queued;
}
