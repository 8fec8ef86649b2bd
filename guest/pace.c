/* SPDX-License-Identifier: MIT */
/* pace: adaptive beat coalescing (see pace.h). */
#include "pace.h"

#include <string.h>

void pace_init(struct pace *p, uint32_t qlen)
{
	memset(p, 0, sizeof(*p));
	p->qlen = qlen ? qlen : 1;
	p->window_ns = PACE_WINDOW_NS;
}

/* HOLD: the next window's length from what the last one brought. */
static uint64_t next_window(const struct pace *p, uint32_t n)
{
	uint64_t half = p->qlen / 2 ? p->qlen / 2 : 1, w = p->window_ns;

	if (n > half) {
		w = w * half / n;
		return w < PACE_MIN_WINDOW_NS ? PACE_MIN_WINDOW_NS : w;
	}
	if ((uint64_t)n * 4 < p->qlen) {
		w *= 2;
		return w > PACE_WINDOW_NS ? PACE_WINDOW_NS : w;
	}
	return w;
}

void pace_urgent(struct pace *p, uint64_t now_ns, uint32_t n)
{
	p->urgent++;
	if (!p->hold) {
		pace_read(p, now_ns, n);
		return;
	}
	/* HOLD: the window's end stays where it was; beats read early only
	 * waited less. */
	if (n)
		p->last_ns = now_ns;
}

void pace_read(struct pace *p, uint64_t now_ns, uint32_t n)
{
	if (p->hold) {
		p->windows++;
		if (!n) {
			p->hold = false; /* a silent window: the next beat goes at once */
			return;
		}
		p->window_ns = next_window(p, n);
		p->due_ns = now_ns + p->window_ns;
		p->last_ns = now_ns;
		return;
	}
	if (!n)
		return;
	if (p->last_ns && now_ns - p->last_ns < PACE_WINDOW_NS) {
		/* n beats came in the last gap: a first window that, at that
		 * rate, brings at most half the queue. */
		uint64_t half = p->qlen / 2 ? p->qlen / 2 : 1;
		uint64_t w = (now_ns - p->last_ns) * half / n;

		p->hold = true;
		p->holds++;
		p->window_ns = w > PACE_WINDOW_NS       ? PACE_WINDOW_NS
			       : w < PACE_MIN_WINDOW_NS ? PACE_MIN_WINDOW_NS
							: w;
		p->due_ns = now_ns + p->window_ns;
	}
	p->last_ns = now_ns;
}
