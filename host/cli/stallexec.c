/* SPDX-License-Identifier: MIT */
/*
 * stallexec: runs the operator's --on-stall-exec program for a stalled
 * guest process, behind the origin check, the per-pid debounce and the
 * global concurrency and rate caps (stallexec.h says what and why).
 *
 * Owns: the parsed command, the debounce table, the run slots with their
 * timers, and each live run's pidfd and output pipe (sources on the loop).
 * Limits: VIGIL_STALLEXEC_MAX_CONCURRENT runs, VIGIL_STALLEXEC_MAX_KEYS
 * debounce keys, the word and argv bounds of stallexec.h. Expected load:
 * a fire per reported stall (rare; a hostile guest's fakes are refused
 * cheaply: a scan of the debounce table), a few runs a minute at most.
 * Allocation: at vigil_stallexec_new (the object, the table, the slots,
 * the timers); a run adds two loop sources and posix_spawn's attributes.
 */
#include "stallexec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vigil/wire.h>

extern char **environ;

#define SE_MAX_BURST    1000u       /* bound of cfg.burst */
#define SE_MAX_RATE     60000u      /* bound of cfg.rate_per_min: one a millisecond */
#define SE_MAX_OUTPUT   (1u << 20)  /* bound of cfg.output_max_bytes */
#define SE_READ_BUDGET  4096u       /* output bytes read per wake-up */
#define SE_DRAIN_MAX    65536u      /* output bytes read when the program has exited */
#define SE_POLL_NS      10000000ull /* reaping without a pidfd: a waitpid every 10 ms */
#define SE_PID_DIGITS   10u         /* a uint32_t in decimal */
#define SE_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define SE_ESC_MAX(n)   (4 * (n) + 1) /* \xNN for every byte, and a NUL */

/* ---- placeholders --------------------------------------------------------------- */

enum { PH_DOMAIN, PH_UUID, PH_PID, PH__COUNT, PH_LITERAL = -1, PH_UNKNOWN = -2 };

static const char *const ph_names[PH__COUNT] = { "domain", "uuid", "pid" };
static const size_t ph_worst[PH__COUNT] = { VIGIL_STALLEXEC_VALUE_MAX, VIGIL_STALLEXEC_UUID_MAX,
					    SE_PID_DIGITS };

/* At w[0] == '{': the placeholder there (PH_*), its length with the braces
 * in *len; PH_LITERAL when no '}' follows in the word (the '{' is a byte). */
static int ph_at(const char *w, size_t *len)
{
	const char *end = strchr(w + 1, '}');
	size_t n;

	if (!end)
		return PH_LITERAL;
	n = (size_t)(end - w - 1);
	*len = n + 2;
	for (int k = 0; k < PH__COUNT; k++) {
		if (strlen(ph_names[k]) == n && memcmp(w + 1, ph_names[k], n) == 0)
			return k;
	}
	return PH_UNKNOWN;
}

/* ---- parsing -------------------------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
say_err(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!err || !cap)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

static int split(const char *spec, struct vigil_stallexec_cmd *c, char *err, size_t cap)
{
	const char *p = spec;
	size_t n;

	c->nwords = 0;
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		n = strcspn(p, " ");
		if (c->nwords == VIGIL_STALLEXEC_MAX_WORDS) {
			say_err(err, cap, "more than %u words: pass fewer arguments",
				VIGIL_STALLEXEC_MAX_WORDS);
			return -EINVAL;
		}
		if (n > VIGIL_STALLEXEC_WORD_MAX) {
			say_err(err, cap, "word %u is %zu bytes long (at most %u)", c->nwords + 1,
				n, VIGIL_STALLEXEC_WORD_MAX);
			return -EINVAL;
		}
		memcpy(c->words[c->nwords], p, n);
		c->words[c->nwords++][n] = '\0';
		p += n;
	}
	if (!c->nwords) {
		say_err(err, cap, "empty command: give a program and its arguments");
		return -EINVAL;
	}
	return 0;
}

/* Placeholders known, none in the program word, the worst case bounded. */
static int check_words(const struct vigil_stallexec_cmd *c, char *err, size_t cap)
{
	size_t worst = 0, len;
	int k;

	for (uint32_t i = 0; i < c->nwords; i++) {
		const char *w = c->words[i];

		for (size_t j = 0; w[j]; j++) {
			if (w[j] != '{' || (k = ph_at(w + j, &len)) == PH_LITERAL) {
				worst++;
				continue;
			}
			if (k == PH_UNKNOWN) {
				say_err(
				    err, cap,
				    "unknown placeholder %.*s in word %u (known: {domain} {uuid} "
				    "{pid})",
				    (int)len, w + j, i + 1);
				return -EINVAL;
			}
			if (i == 0) {
				say_err(err, cap, "the program word %s cannot hold a placeholder",
					w);
				return -EINVAL;
			}
			worst += ph_worst[k];
			j += len - 1;
		}
		worst++; /* the NUL */
	}
	if (worst > VIGIL_STALLEXEC_ARGV_BYTES) {
		say_err(err, cap,
			"the command could grow to %zu bytes with its placeholders substituted "
			"(at most %u): use fewer placeholders",
			worst, VIGIL_STALLEXEC_ARGV_BYTES);
		return -EINVAL;
	}
	return 0;
}

/* 0 when path is an executable regular file, else a negative errno. */
static int check_exec(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	return access(path, X_OK) < 0 ? -errno : 0;
}

/* dir "/" name into out (PATH_MAX), made absolute from the current
 * directory when dir is relative; dir NULL: name alone. */
static int join_abs(const char *dir, const char *name, char *out)
{
	char cwd[PATH_MAX];
	const char *d = dir ? dir : name;
	int n;

	if (d[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		n = dir ? snprintf(out, PATH_MAX, "%s/%s/%s", cwd, dir, name)
			: snprintf(out, PATH_MAX, "%s/%s", cwd, name);
	} else {
		n = dir ? snprintf(out, PATH_MAX, "%s/%s", dir, name)
			: snprintf(out, PATH_MAX, "%s", name);
	}
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* The first executable prog in $PATH's directories, into path. */
static int search_path(const char *prog, char *path, char *err, size_t cap)
{
	const char *env = getenv("PATH"), *p;
	char dir[PATH_MAX], denied[PATH_MAX] = "";
	size_t n;

	env = env ? env : SE_DEFAULT_PATH;
	for (p = env; *p; p += n + (p[n] == ':')) {
		n = strcspn(p, ":");
		if (n == 0 || n >= sizeof(dir))
			continue;
		memcpy(dir, p, n);
		dir[n] = '\0';
		if (join_abs(dir, prog, path) < 0)
			continue;
		if (check_exec(path) == 0)
			return 0;
		if (!denied[0] && access(path, F_OK) == 0)
			snprintf(denied, sizeof(denied), "%s", path);
	}
	if (denied[0]) {
		say_err(err, cap, "%s is not an executable file (found on $PATH as %s)", prog,
			denied);
		return -EACCES;
	}
	say_err(err, cap, "%s: not found on $PATH (give its full path)", prog);
	return -ENOENT;
}

static int resolve(const char *prog, char *path, char *err, size_t cap)
{
	int e;

	if (!strchr(prog, '/'))
		return search_path(prog, path, err, cap);
	if ((e = join_abs(NULL, prog, path)) < 0) {
		say_err(err, cap, "%s: %s", prog, strerror(-e));
		return e;
	}
	if ((e = check_exec(path)) < 0) {
		say_err(err, cap, "cannot run %s: %s", prog,
			e == -EACCES ? "not an executable file" : strerror(-e));
		return e;
	}
	return 0;
}

int vigil_stallexec_parse(const char *spec, struct vigil_stallexec_cmd *out, char *err, size_t cap)
{
	struct vigil_stallexec_cmd c; /* ~12 KiB: out is written only on success */
	int e;

	if (!spec || !out) {
		say_err(err, cap, "no command given");
		return -EINVAL;
	}
	if ((e = split(spec, &c, err, cap)) < 0 || (e = check_words(&c, err, cap)) < 0 ||
	    (e = resolve(c.words[0], c.path, err, cap)) < 0)
		return e;
	*out = c;
	return 0;
}

/* ---- substitution --------------------------------------------------------------- */

static int put(char *buf, size_t cap, size_t *o, const char *s, size_t n)
{
	if (cap - *o < n)
		return -ENOSPC;
	memcpy(buf + *o, s, n);
	*o += n;
	return 0;
}

int vigil_stallexec_expand(const struct vigil_stallexec_cmd *cmd, const char *domain,
			   const char *uuid, uint32_t pid, char *buf, size_t cap, char **argv)
{
	char pidbuf[SE_PID_DIGITS + 1];
	const char *val[PH__COUNT] = { domain, uuid, pidbuf };
	size_t vlen[PH__COUNT], o = 0, len;
	int k, e = 0;

	if (!cmd || !domain || !uuid || !buf || !argv || cmd->nwords > VIGIL_STALLEXEC_MAX_WORDS)
		return -EINVAL;
	vlen[PH_DOMAIN] = strnlen(domain, VIGIL_STALLEXEC_VALUE_MAX + 1);
	vlen[PH_UUID] = strnlen(uuid, VIGIL_STALLEXEC_UUID_MAX + 1);
	if (vlen[PH_DOMAIN] > VIGIL_STALLEXEC_VALUE_MAX || vlen[PH_UUID] > VIGIL_STALLEXEC_UUID_MAX)
		return -ENAMETOOLONG;
	vlen[PH_PID] = (size_t)snprintf(pidbuf, sizeof(pidbuf), "%" PRIu32, pid);
	for (uint32_t i = 0; i < cmd->nwords && !e; i++) {
		const char *w = cmd->words[i];

		argv[i] = buf + o;
		for (size_t j = 0; w[j] && !e; j++) {
			if (w[j] == '{' && (k = ph_at(w + j, &len)) >= 0) {
				e = put(buf, cap, &o, val[k], vlen[k]);
				j += len - 1;
			} else {
				e = put(buf, cap, &o, w + j, 1);
			}
		}
		if (!e)
			e = put(buf, cap, &o, "", 1);
	}
	if (e)
		return e;
	argv[cmd->nwords] = NULL;
	return (int)cmd->nwords;
}

/* ---- the object ------------------------------------------------------------------ */

struct se_key {
	bool used;
	uint32_t pid;     /* the guest's pid */
	uint64_t last_ns; /* loop clock: the last run's start */
	char uuid[VIGIL_STALLEXEC_UUID_MAX + 1];
};

struct se_run {
	struct vigil_stallexec *x;
	pid_t child;                  /* 0: the slot is free */
	bool polled;                  /* no pidfd: killed at once, reaped by the timer polling */
	int sent;                     /* 0, SIGTERM or SIGKILL: the last sent on timeout */
	struct vigil_source *pid_src; /* the child's pidfd (owned fd) */
	struct vigil_source *out_src; /* the output pipe's read end (owned); NULL: none or EOF */
	struct vigil_timer *timer;    /* the timeout, then the kill grace (lives with the slot) */
	uint64_t start_ns;            /* loop clock */
	uint32_t pid;                 /* the guest's pid it runs for */
	char uuid[VIGIL_STALLEXEC_UUID_MAX + 1];
	char who[SE_ESC_MAX(VIGIL_STALLEXEC_VALUE_MAX) + 32]; /* "domain D pid P", escaped */
	uint64_t kept, dropped;                               /* output bytes this run */
	size_t linelen;                                       /* bytes in line */
	char line[VIGIL_STALLEXEC_LINE_MAX];
};

enum { REF_UNATTESTED, REF_INVALID, REF_DEBOUNCED, REF_BUSY, REF_RATE, REF__COUNT };

struct se_reflog {
	bool said;
	uint64_t said_ns; /* loop clock: the last line said */
	uint64_t unsaid;  /* refusals since, not said */
};

struct vigil_stallexec {
	struct vigil_loop *loop;
	struct vigil_stallexec_cmd cmd;
	const char *name; /* the program's base name, in cmd.path */
	uint64_t debounce_ns, timeout_ns;
	uint32_t max_concurrent, rate_per_min, output_max, nkeys;
	bool output_discard, allow_unattested;
	vigil_log_fn log;
	void *log_ctx;
	int null_fd; /* /dev/null, the children's stdin (and output when discarded) */
	/* token bucket as time credit: a token is interval_ns of it */
	uint64_t interval_ns, credit_cap_ns, credit_ns, credit_at_ns;
	struct se_key *keys; /* nkeys */
	struct se_run *runs; /* max_concurrent */
	struct se_reflog reflog[REF__COUNT];
	struct vigil_stallexec_stats st;
	char argbuf[VIGIL_STALLEXEC_ARGV_BYTES];
	char *argv[VIGIL_STALLEXEC_MAX_WORDS + 1];
	char msg[2 * SE_ESC_MAX(VIGIL_STALLEXEC_LINE_MAX) + PATH_MAX]; /* the log line */
};

static void __attribute__((format(printf, 2, 3)))
say(struct vigil_stallexec *x, const char *fmt, ...)
{
	va_list ap;

	if (!x->log)
		return;
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
	x->log(x->log_ctx, x->msg);
}

/* src[0..n) with bytes outside printable ASCII as \xNN, NUL-terminated. */
static void esc(char *dst, size_t cap, const char *src, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 <= cap; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
	}
	dst[o] = '\0';
}

static void who(char *dst, size_t cap, const char *domain, uint32_t pid)
{
	char d[SE_ESC_MAX(VIGIL_STALLEXEC_VALUE_MAX)];

	esc(d, sizeof(d), domain, strnlen(domain, VIGIL_STALLEXEC_VALUE_MAX));
	snprintf(dst, cap, "domain %s pid %" PRIu32, d, pid);
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* ---- refusals -------------------------------------------------------------------- */

/* Each refusal: its errno and its counter. */
static const struct {
	int err;
	size_t ctr; /* offset in struct vigil_stallexec_stats */
} refs[REF__COUNT] = {
	[REF_UNATTESTED] = { -EPERM, offsetof(struct vigil_stallexec_stats, unattested_refused) },
	[REF_INVALID] = { -ENAMETOOLONG, offsetof(struct vigil_stallexec_stats, invalid) },
	[REF_DEBOUNCED] = { -EALREADY, offsetof(struct vigil_stallexec_stats, debounced) },
	[REF_BUSY] = { -EBUSY, offsetof(struct vigil_stallexec_stats, busy) },
	[REF_RATE] = { -EAGAIN, offsetof(struct vigil_stallexec_stats, rate_limited) },
};

/* Why, in words, for the log line. */
static void refusal_text(const struct vigil_stallexec *x, int why, uint8_t origin, char *buf,
			 size_t cap)
{
	uint64_t d = x->debounce_ns;

	switch (why) {
	case REF_UNATTESTED:
		snprintf(buf, cap,
			 "its beats are not kernel-attested (origin %u; --on-stall-unattested runs "
			 "anyway)",
			 origin);
		break;
	case REF_INVALID:
		snprintf(buf, cap, "domain name or uuid too long");
		break;
	case REF_DEBOUNCED:
		snprintf(buf, cap, "debounced (ran less than %" PRIu64 " %s ago, or still runs)",
			 d % 1000000000u ? d / 1000000u : d / 1000000000u,
			 d % 1000000000u ? "ms" : "s");
		break;
	case REF_BUSY:
		snprintf(buf, cap, "concurrency cap (%u runs alive)", x->max_concurrent);
		break;
	default:
		snprintf(buf, cap, "rate cap (%u a minute)", x->rate_per_min);
		break;
	}
}

/* Counts the refusal, says it (at most one line per reason per
 * VIGIL_STALLEXEC_REFUSAL_LOG_NS, with the count of those unsaid since)
 * and returns its errno. */
static int refuse(struct vigil_stallexec *x, int why, const char *domain, uint32_t pid,
		  uint8_t origin, uint64_t now)
{
	struct se_reflog *rl = &x->reflog[why];
	char w[sizeof(((struct se_run *)0)->who)], text[128], more[64] = "";

	(*(uint64_t *)((char *)&x->st + refs[why].ctr))++;
	if (rl->said && now - rl->said_ns < VIGIL_STALLEXEC_REFUSAL_LOG_NS) {
		rl->unsaid++;
		return refs[why].err;
	}
	if (rl->unsaid)
		snprintf(more, sizeof(more), " (and %" PRIu64 " more since the last such line)",
			 rl->unsaid);
	rl->said = true;
	rl->said_ns = now;
	rl->unsaid = 0;
	who(w, sizeof(w), domain, pid);
	refusal_text(x, why, origin, text, sizeof(text));
	say(x, "on-stall-exec: refused for %s: %s%s", w, text, more);
	return refs[why].err;
}

/* ---- debounce and rate ----------------------------------------------------------- */

static struct se_key *key_find(struct vigil_stallexec *x, const char *uuid, uint32_t pid)
{
	for (uint32_t i = 0; i < x->nkeys; i++) {
		struct se_key *k = &x->keys[i];

		if (k->used && k->pid == pid && strcmp(k->uuid, uuid) == 0)
			return k;
	}
	return NULL;
}

/* Where a new key goes: an unused or expired entry, else the oldest
 * (evicted: that pid may run again before its time; counted). */
static struct se_key *key_victim(struct vigil_stallexec *x, uint64_t now)
{
	struct se_key *old = &x->keys[0];

	for (uint32_t i = 0; i < x->nkeys; i++) {
		struct se_key *k = &x->keys[i];

		if (!k->used || now - k->last_ns >= x->debounce_ns)
			return k;
		if (k->last_ns < old->last_ns)
			old = k;
	}
	x->st.debounce_evicted++;
	return old;
}

static void key_record(struct vigil_stallexec *x, const char *uuid, uint32_t pid, uint64_t now)
{
	struct se_key *k = key_find(x, uuid, pid);

	if (!k) {
		k = key_victim(x, now);
		k->used = true;
		k->pid = pid;
		snprintf(k->uuid, sizeof(k->uuid), "%s", uuid);
	}
	k->last_ns = now;
}

/* Whether uuid/pid ran within the debounce time or runs now. */
static bool debounced(struct vigil_stallexec *x, const char *uuid, uint32_t pid, uint64_t now)
{
	const struct se_key *k;

	for (uint32_t i = 0; i < x->max_concurrent; i++) {
		const struct se_run *r = &x->runs[i];

		if (r->child && r->pid == pid && strcmp(r->uuid, uuid) == 0)
			return true;
	}
	k = key_find(x, uuid, pid);
	return k && now - k->last_ns < x->debounce_ns;
}

/* Refills the bucket up to now; whether a token is there. */
static bool bucket_has(struct vigil_stallexec *x, uint64_t now)
{
	if (now > x->credit_at_ns) {
		uint64_t add = now - x->credit_at_ns;

		x->credit_ns =
		    add >= x->credit_cap_ns - x->credit_ns ? x->credit_cap_ns : x->credit_ns + add;
		x->credit_at_ns = now;
	}
	return x->credit_ns >= x->interval_ns;
}

/* ---- a run's output --------------------------------------------------------------- */

static void out_line(struct se_run *r)
{
	char e[SE_ESC_MAX(VIGIL_STALLEXEC_LINE_MAX)];

	esc(e, sizeof(e), r->line, r->linelen);
	say(r->x, "on-stall-exec: %s[%d]: %s", r->x->name, (int)r->child, e);
	r->linelen = 0;
}

/* Up to output_max bytes a run become lines; the rest is counted. */
static void out_feed(struct se_run *r, const char *b, size_t n)
{
	struct vigil_stallexec *x = r->x;
	uint64_t room = x->output_max > r->kept ? x->output_max - r->kept : 0;
	size_t take = n < room ? n : (size_t)room;

	for (size_t i = 0; i < take; i++) {
		if (b[i] == '\n') {
			out_line(r);
			continue;
		}
		r->line[r->linelen++] = b[i];
		if (r->linelen == sizeof(r->line))
			out_line(r);
	}
	r->kept += take;
	r->dropped += n - take;
	x->st.output_dropped_bytes += n - take;
}

static void out_close(struct se_run *r)
{
	if (r->linelen)
		out_line(r);
	vigil_source_free(r->out_src);
	r->out_src = NULL;
}

/* One read a wake-up (SE_READ_BUDGET): a chatty program does not hold the loop. */
static int out_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct se_run *r = ctx;
	char buf[SE_READ_BUDGET];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)s;
	(void)events;
	if (n > 0)
		out_feed(r, buf, (size_t)n);
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		out_close(r);
	return 0;
}

/* The program has exited: what it wrote is in the pipe (a background
 * process it left may still write: SE_DRAIN_MAX bounds the read). */
static void out_drain(struct se_run *r)
{
	char buf[SE_READ_BUDGET];
	size_t total = 0;
	ssize_t n;
	int fd;

	if (!r->out_src)
		return;
	fd = vigil_source_fd(r->out_src);
	while (total < SE_DRAIN_MAX && (n = read(fd, buf, sizeof(buf))) > 0) {
		out_feed(r, buf, (size_t)n);
		total += (size_t)n;
	}
	out_close(r);
}

/* ---- a run's end ---------------------------------------------------------------------- */

static void run_clear(struct se_run *r)
{
	vigil_source_free(r->pid_src);
	r->pid_src = NULL;
	vigil_source_free(r->out_src);
	r->out_src = NULL;
	vigil_timer_disarm(r->timer);
	r->child = 0;
	r->polled = false;
}

/* How the run ended, said once; si NULL: reaped by someone else. */
static void run_end(struct se_run *r, const siginfo_t *si)
{
	struct vigil_stallexec *x = r->x;
	uint64_t ms = (vigil_loop_now(x->loop) - r->start_ns) / 1000000u;
	char how[96], drop[64] = "";

	out_drain(r);
	if (!si)
		snprintf(how, sizeof(how), "was reaped by someone else: its end is unknown");
	else if (r->sent)
		snprintf(how, sizeof(how), "killed after timeout (%" PRIu64 " ms, %s)",
			 x->timeout_ns / 1000000u, r->sent == SIGKILL ? "SIGKILL" : "SIGTERM");
	else if (si->si_code == CLD_EXITED)
		snprintf(how, sizeof(how), "exited %d after %" PRIu64 " ms", si->si_status, ms);
	else
		snprintf(how, sizeof(how), "killed by signal %d (%s) after %" PRIu64 " ms",
			 si->si_status, strsignal(si->si_status), ms);
	if (si && !r->sent && (si->si_code != CLD_EXITED || si->si_status != 0))
		x->st.exit_nonzero++;
	if (r->dropped)
		snprintf(drop, sizeof(drop), "; %" PRIu64 " bytes of its output dropped",
			 r->dropped);
	say(x, "on-stall-exec: %s for %s %s%s", x->name, r->who, how, drop);
	run_clear(r);
}

static int run_exited(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct se_run *r = ctx;
	siginfo_t si;

	(void)s;
	(void)events;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0) {
		if (errno != EINTR)
			run_end(r, NULL);
		return 0;
	}
	if (si.si_pid != 0)
		run_end(r, &si);
	return 0;
}

/* The timeout (SIGTERM to the process group, then the grace, then
 * SIGKILL), or, for a run without a pidfd, the polling reaper. */
static void run_timer(struct vigil_timer *t, uint64_t now_ns, void *ctx)
{
	struct se_run *r = ctx;

	if (r->polled) {
		if (waitpid(r->child, NULL, WNOHANG) == 0)
			vigil_timer_arm(t, now_ns + SE_POLL_NS);
		else
			run_clear(r);
		return;
	}
	if (!r->sent) {
		r->sent = SIGTERM;
		r->x->st.timed_out++;
		vigil_timer_arm(t, now_ns + VIGIL_STALLEXEC_KILL_GRACE_NS);
	} else {
		r->sent = SIGKILL;
	}
	/* the group: what the program started; the child too, had it left it */
	kill(-r->child, r->sent);
	kill(r->child, r->sent);
}

/* ---- a run's start ---------------------------------------------------------------- */

/* posix_spawn with the child's setup of stallexec.h; x->argv is set.
 * Returns 0 or a negative errno (exec's own included). */
static int spawn(struct vigil_stallexec *x, int outfd, pid_t *child)
{
	posix_spawnattr_t a;
	posix_spawn_file_actions_t fa;
	sigset_t none, all;
	int e;

	sigemptyset(&none);
	sigfillset(&all);
	if ((e = posix_spawnattr_init(&a)) != 0)
		return -e;
	if ((e = posix_spawn_file_actions_init(&fa)) != 0) {
		posix_spawnattr_destroy(&a);
		return -e;
	}
	e = posix_spawnattr_setflags(&a, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					     POSIX_SPAWN_SETSIGDEF);
	if (!e)
		e = posix_spawnattr_setpgroup(&a, 0);
	if (!e)
		e = posix_spawnattr_setsigmask(&a, &none); /* the loop blocks its signals */
	if (!e)
		e = posix_spawnattr_setsigdefault(&a, &all);
	if (!e)
		e = posix_spawn_file_actions_adddup2(&fa, x->null_fd, 0);
	if (!e)
		e = posix_spawn_file_actions_adddup2(&fa, outfd, 1);
	if (!e)
		e = posix_spawn_file_actions_adddup2(&fa, outfd, 2);
	if (!e)
		e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (!e)
		e = posix_spawn(child, x->cmd.path, &fa, &a, x->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&a);
	return -e;
}

/* The output pipe, its read end a source of r; *wfd the write end (or
 * /dev/null's fd when output is discarded, not to be closed). */
static int out_open(struct vigil_stallexec *x, struct se_run *r, int *wfd)
{
	int p[2], e;

	*wfd = x->null_fd;
	if (x->output_discard)
		return 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0)
		e = -errno;
	else
		e = vigil_source_add(x->loop, p[0], EPOLLIN, VIGIL_SOURCE_OWN_FD, out_ready, r,
				     "stall-exec-output", &r->out_src);
	if (e < 0) {
		close(p[0]);
		close(p[1]);
		return e;
	}
	*wfd = p[1];
	return 0;
}

/* The child is running: watch it. Without a pidfd or its source (fds or
 * memory exhausted), it is killed and reaped by polling from r's timer,
 * never by a waitpid that blocks. */
static int watch_child(struct vigil_stallexec *x, struct se_run *r, uint64_t now)
{
	int fd = pidfd_open_(r->child), e;

	if (fd < 0)
		e = -errno;
	else if ((e = vigil_source_add(x->loop, fd, EPOLLIN, VIGIL_SOURCE_OWN_FD, run_exited, r,
				       "stall-exec", &r->pid_src)) < 0)
		close(fd);
	if (e < 0) {
		kill(-r->child, SIGKILL);
		kill(r->child, SIGKILL);
		vigil_source_free(r->out_src);
		r->out_src = NULL;
		r->polled = true;
		vigil_timer_arm(r->timer, now);
		return e;
	}
	vigil_timer_arm(r->timer, now + x->timeout_ns);
	return 0;
}

static int run_start(struct vigil_stallexec *x, struct se_run *r, const char *domain,
		     const char *uuid, uint32_t pid, uint64_t now)
{
	int wfd, e;

	e = vigil_stallexec_expand(&x->cmd, domain, uuid, pid, x->argbuf, sizeof(x->argbuf),
				   x->argv);
	if (e < 0 || (e = out_open(x, r, &wfd)) < 0)
		return e;
	e = spawn(x, wfd, &r->child);
	if (wfd != x->null_fd)
		close(wfd);
	if (e < 0) {
		r->child = 0;
		vigil_source_free(r->out_src);
		r->out_src = NULL;
		return e;
	}
	r->sent = 0;
	r->start_ns = now;
	r->pid = pid;
	snprintf(r->uuid, sizeof(r->uuid), "%s", uuid);
	who(r->who, sizeof(r->who), domain, pid);
	r->kept = r->dropped = 0;
	r->linelen = 0;
	return watch_child(x, r, now);
}

/* ---- the public calls ---------------------------------------------------------------- */

static int cfg_check(const struct vigil_stallexec_cfg *c)
{
	const struct vigil_stallexec_cmd *m = c->cmd;

	if (!m || m->nwords == 0 || m->nwords > VIGIL_STALLEXEC_MAX_WORDS || m->path[0] != '/' ||
	    !memchr(m->path, '\0', sizeof(m->path)))
		return -EINVAL;
	if (c->max_concurrent > VIGIL_STALLEXEC_MAX_CONCURRENT || c->rate_per_min > SE_MAX_RATE ||
	    c->burst > SE_MAX_BURST || c->debounce_keys > VIGIL_STALLEXEC_MAX_KEYS ||
	    c->output_max_bytes > SE_MAX_OUTPUT)
		return -EINVAL;
	return 0;
}

/* The settings, defaults for 0, the bucket full. */
static void cfg_take(struct vigil_stallexec *x, const struct vigil_stallexec_cfg *c)
{
	uint32_t burst;
	const char *slash;

	x->cmd = *c->cmd;
	slash = strrchr(x->cmd.path, '/');
	x->name = slash ? slash + 1 : x->cmd.path;
	x->debounce_ns = c->debounce_ns ? c->debounce_ns : VIGIL_STALLEXEC_DEFAULT_DEBOUNCE_NS;
	x->timeout_ns = c->timeout_ns ? c->timeout_ns : VIGIL_STALLEXEC_DEFAULT_TIMEOUT_NS;
	x->max_concurrent =
	    c->max_concurrent ? c->max_concurrent : VIGIL_STALLEXEC_DEFAULT_CONCURRENT;
	x->rate_per_min = c->rate_per_min ? c->rate_per_min : VIGIL_STALLEXEC_DEFAULT_RATE_PER_MIN;
	x->nkeys = c->debounce_keys ? c->debounce_keys : VIGIL_STALLEXEC_DEFAULT_KEYS;
	x->output_max =
	    c->output_max_bytes ? c->output_max_bytes : VIGIL_STALLEXEC_DEFAULT_OUTPUT_MAX;
	x->output_discard = c->output_discard;
	x->allow_unattested = c->allow_unattested;
	x->log = c->log;
	x->log_ctx = c->log_ctx;
	burst = c->burst ? c->burst : x->max_concurrent;
	x->interval_ns = 60000000000ull / x->rate_per_min;
	x->credit_cap_ns = x->interval_ns * burst;
	x->credit_ns = x->credit_cap_ns;
	x->credit_at_ns = vigil_loop_now(x->loop);
}

int vigil_stallexec_new(struct vigil_loop *l, const struct vigil_stallexec_cfg *c,
			struct vigil_stallexec **out)
{
	struct vigil_stallexec *x;
	int fd, e;

	if (!l || !c || !out || (e = cfg_check(c)) < 0)
		return -EINVAL;
	fd = pidfd_open_(getpid()); /* runs are reaped through pidfds: Linux 5.3 */
	if (fd < 0 && errno == ENOSYS)
		return -ENOSYS;
	if (fd >= 0)
		close(fd);
	if (!(x = calloc(1, sizeof(*x))))
		return -ENOMEM;
	x->loop = l;
	x->null_fd = -1;
	cfg_take(x, c);
	x->keys = calloc(x->nkeys, sizeof(*x->keys));
	x->runs = calloc(x->max_concurrent, sizeof(*x->runs));
	e = x->keys && x->runs ? 0 : -ENOMEM;
	if (!e && (x->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		e = -errno;
	for (uint32_t i = 0; !e && i < x->max_concurrent; i++) {
		x->runs[i].x = x;
		e = vigil_timer_new(l, run_timer, &x->runs[i], &x->runs[i].timer);
	}
	if (e < 0) {
		vigil_stallexec_free(x);
		return e;
	}
	*out = x;
	return 0;
}

static struct se_run *run_slot(struct vigil_stallexec *x)
{
	for (uint32_t i = 0; i < x->max_concurrent; i++) {
		if (!x->runs[i].child)
			return &x->runs[i];
	}
	return NULL;
}

int vigil_stallexec_fire(struct vigil_stallexec *x, const char *domain, const char *uuid,
			 uint32_t pid, uint8_t origin)
{
	struct se_run *r;
	uint64_t now;
	int e;

	if (!x || !domain || !uuid)
		return -EINVAL;
	now = vigil_loop_now(x->loop);
	if (origin != VIGIL_ORIGIN_KERNEL_ATTESTED && !x->allow_unattested)
		return refuse(x, REF_UNATTESTED, domain, pid, origin, now);
	if (strnlen(domain, VIGIL_STALLEXEC_VALUE_MAX + 1) > VIGIL_STALLEXEC_VALUE_MAX ||
	    strnlen(uuid, VIGIL_STALLEXEC_UUID_MAX + 1) > VIGIL_STALLEXEC_UUID_MAX)
		return refuse(x, REF_INVALID, domain, pid, origin, now);
	if (debounced(x, uuid, pid, now))
		return refuse(x, REF_DEBOUNCED, domain, pid, origin, now);
	if (!(r = run_slot(x)))
		return refuse(x, REF_BUSY, domain, pid, origin, now);
	if (!bucket_has(x, now))
		return refuse(x, REF_RATE, domain, pid, origin, now);
	if ((e = run_start(x, r, domain, uuid, pid, now)) < 0) {
		char w[sizeof(r->who)];

		x->st.spawn_failed++;
		who(w, sizeof(w), domain, pid);
		say(x, "on-stall-exec: cannot run %s for %s: %s", x->cmd.path, w, strerror(-e));
		return e;
	}
	x->credit_ns -= x->interval_ns;
	key_record(x, uuid, pid, now);
	x->st.started++;
	say(x, "on-stall-exec: ran %s for %s (child %d)", x->cmd.path, r->who, (int)r->child);
	return 0;
}

size_t vigil_stallexec_children(const struct vigil_stallexec *x, pid_t *pids, size_t cap)
{
	size_t n = 0;

	for (uint32_t i = 0; x && i < x->max_concurrent; i++) {
		if (!x->runs[i].child)
			continue;
		if (pids && n < cap)
			pids[n] = x->runs[i].child;
		n++;
	}
	return n;
}

void vigil_stallexec_stats(const struct vigil_stallexec *x, struct vigil_stallexec_stats *out)
{
	if (x && out)
		*out = x->st;
}

/* ---- free -------------------------------------------------------------------------------- */

/* A run abandoned by vigil_stallexec_free, not reaped in time: reaped when
 * it goes (the source is not OWN_FD: the fd is ctx, closed in destroy). */
static int reaper_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	siginfo_t si;

	(void)events;
	(void)ctx;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid != 0)
		vigil_source_free(s);
	return 0;
}

/* Runs when the reaper is freed, or with the loop: one last try. */
static void reaper_destroy(void *ctx)
{
	int fd = (int)(intptr_t)ctx;
	siginfo_t si;

	waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG);
	close(fd);
}

/* r's child has had SIGKILL: wait for it on its pidfd until deadline_ns
 * (CLOCK_MONOTONIC), then reap it or hand it to a reaper source. */
static void run_abandon(struct vigil_stallexec *x, struct se_run *r, uint64_t deadline_ns)
{
	struct vigil_source *s;
	struct pollfd p = { .fd = vigil_source_fd(r->pid_src), .events = POLLIN };
	uint64_t now = vigil_loop_now_ns();
	siginfo_t si;
	int fd;

	if (r->polled || p.fd < 0) {
		waitpid(r->child, NULL, WNOHANG); /* no pidfd: init's if not gone yet */
		return;
	}
	if (now < deadline_ns)
		poll(&p, 1, (int)((deadline_ns - now + 999999) / 1000000));
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)p.fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid != 0)
		return;
	fd = fcntl(p.fd, F_DUPFD_CLOEXEC, 3);
	vigil_source_free(r->pid_src); /* out of epoll before its dup goes in */
	r->pid_src = NULL;
	if (fd < 0)
		return;
	if (vigil_source_add(x->loop, fd, EPOLLIN, 0, reaper_ready, (void *)(intptr_t)fd,
			     "stall-exec-reaper", &s) < 0) {
		close(fd);
		return;
	}
	vigil_source_set_destroy(s, reaper_destroy);
}

void vigil_stallexec_free(struct vigil_stallexec *x)
{
	uint64_t deadline;

	if (!x)
		return;
	for (uint32_t i = 0; x->runs && i < x->max_concurrent; i++) {
		if (x->runs[i].child) {
			kill(-x->runs[i].child, SIGKILL);
			kill(x->runs[i].child, SIGKILL);
		}
	}
	deadline = vigil_loop_now_ns() + VIGIL_STALLEXEC_FREE_WAIT_MS * 1000000ull;
	for (uint32_t i = 0; x->runs && i < x->max_concurrent; i++) {
		struct se_run *r = &x->runs[i];

		if (r->child)
			run_abandon(x, r, deadline);
		vigil_source_free(r->pid_src);
		vigil_source_free(r->out_src);
		vigil_timer_free(r->timer);
	}
	if (x->null_fd >= 0)
		close(x->null_fd);
	free(x->keys);
	free(x->runs);
	free(x);
}
