/* SPDX-License-Identifier: MIT */
/* scx: sched_ext exit detection (see scx.h). */
#include "scx.h"

#include <errno.h>
#include <string.h>

#include "util.h"

static const struct {
	const char *text; /* the kernel's scx_exit_reason() */
	uint32_t kind;
} reasons[] = {
	{ "unregistered from user space", VIGIL_SCX_UNREG },
	{ "unregistered from BPF", VIGIL_SCX_UNREG_BPF },
	{ "unregistered from the main kernel", VIGIL_SCX_UNREG_KERN },
	{ "disabled by sysrq-S", VIGIL_SCX_SYSRQ },
	{ "runtime error", VIGIL_SCX_ERROR },
	{ "scx_bpf_error", VIGIL_SCX_ERROR_BPF },
	{ "runnable task stall", VIGIL_SCX_ERROR_STALL },
};

static const char *find(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	for (size_t i = 0; m <= n && i <= n - m; i++) {
		if (!memcmp(hay + i, needle, m))
			return hay + i;
	}
	return NULL;
}

int scx_parse_line(const char *text, size_t len, uint32_t *kind, char *reason, size_t cap)
{
	const char *p = find(text, len, "sched_ext: BPF scheduler \"");
	size_t n;

	if (!p || cap == 0)
		return 0;
	if (!find(p, len - (size_t)(p - text), "disabled (") &&
	    !find(p, len - (size_t)(p - text), "errored"))
		return 0;
	*kind = find(p, len - (size_t)(p - text), "errored") ? VIGIL_SCX_ERROR : VIGIL_SCX_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++) {
		if (find(p, len - (size_t)(p - text), reasons[i].text)) {
			*kind = reasons[i].kind;
			break;
		}
	}
	n = len < cap - 1 ? len : cap - 1;
	memcpy(reason, text, n);
	reason[n] = '\0';
	return 1;
}

void scx_init(struct scx *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->path = path ? path : SCX_STATE_PATH;
}

static void send_exit(struct scx *s, struct chan *c)
{
	struct vigil_sched_exit ex = { .exit_code = 0, .kind = s->kind };
	uint8_t buf[8 + 2 + SCX_REASON_MAX];
	int n;

	if (!s->reason[0])
		memcpy(s->reason, "sched_ext state left enabled", 29);
	ex.reason.ptr = s->reason;
	ex.reason.len = (uint16_t)strlen(s->reason);
	n = vigil_sched_exit_encode(buf, sizeof(buf), &ex);
	if (n > 0 && chan_push(c, CHAN_Q_CTL, VIGIL_MSG_SCHED_EXIT, buf, (uint32_t)n, false) == 0)
		s->sent++;
	s->enabled = false;
	s->gone_at_ns = 0;
	s->kind = 0;
	s->reason[0] = '\0';
}

void scx_kmsg(struct scx *s, const char *text, size_t len, struct chan *c, uint64_t now_ns)
{
	uint32_t kind;

	/* Lines from before a scheduler was seen enabled (boot history) are ignored. */
	if (!s->enabled || !scx_parse_line(text, len, &kind, s->reason, sizeof(s->reason)))
		return;
	s->kind = kind;
	send_exit(s, c);
	/* The state file will read "disabled" next: that is this same exit. */
	s->next_ns = now_ns + SCX_POLL_MS * NSEC_PER_MSEC;
}

void scx_poll(struct scx *s, struct chan *c, uint64_t now_ns)
{
	char st[32];
	int n;

	if (now_ns < s->next_ns)
		return;
	n = util_read_file(s->path, st, sizeof(st));
	if (n < 0) {
		s->next_ns = now_ns + SCX_ABSENT_MS * NSEC_PER_MSEC;
		return;
	}
	s->next_ns = now_ns + SCX_POLL_MS * NSEC_PER_MSEC;
	if (!strncmp(st, "enabled", 7)) {
		if (!s->enabled) {
			s->kind = 0;
			s->reason[0] = '\0';
		}
		s->enabled = true;
		s->gone_at_ns = 0;
		return;
	}
	if (!s->enabled)
		return;
	if (!s->gone_at_ns)
		s->gone_at_ns = now_ns;
	if (s->kind || now_ns - s->gone_at_ns >= SCX_KMSG_WAIT_MS * NSEC_PER_MSEC) {
		if (!s->kind && !s->reason[0]) {
			size_t m = (size_t)n;

			while (m && (st[m - 1] == '\n' || st[m - 1] == ' '))
				m--;
			st[m] = '\0';
			memcpy(s->reason, "sched_ext state: ", 17);
			memcpy(s->reason + 17, st, m + 1);
		}
		send_exit(s, c);
	} else {
		s->next_ns = now_ns + 10 * NSEC_PER_MSEC;
	}
}
