/* SPDX-License-Identifier: MIT */
/*
 * The snapshot protocol, host side (see snapshot.h for its rules): checks
 * and duplicates, the one request in flight, the provider hand-off, the
 * replies and their ring, and vigil_session_snapshot_done().
 */
#include <errno.h>
#include <string.h>

#include "session.h"

static int snap_send_reply(struct vigil_session *s, uint32_t id, int32_t status, const char *detail,
			   size_t detail_len)
{
	struct vigil_snapshot_reply rep = {
		.request_id = id,
		.status = status,
		.detail = { detail, (uint16_t)detail_len },
	};

	return ses_tx_send(s, VIGIL_MSG_SNAPSHOT_REPLY,
			   vigil_snapshot_reply_encode(s->tx + VIGIL_WIRE_HDR_LEN,
						       sizeof(s->tx) - VIGIL_WIRE_HDR_LEN, &rep));
}

/* Reply, remember the answer (for repeats of the id) and report it. */
static void snap_answer(struct vigil_session *s, uint32_t id, uint32_t kind, struct vigil_str tag,
			int32_t status, const char *detail, size_t detail_len)
{
	struct snap *sn = &s->snap;
	struct snap_answer *a = &sn->answered[sn->answered_next];

	if (detail_len > VIGIL_WIRE_STR_MAX)
		detail_len = VIGIL_WIRE_STR_MAX;
	snap_send_reply(s, id, status, detail, detail_len);
	sn->answered_next = (sn->answered_next + 1) % SNAP_ANSWERED;
	a->id = id;
	a->status = status;
	a->detail_len = (uint16_t)(detail_len < sizeof(a->detail) ? detail_len : sizeof(a->detail));
	if (a->detail_len)
		memcpy(a->detail, detail, a->detail_len);

	struct vigil_event ev = { .type = VIGIL_EV_SNAPSHOT_DONE };

	ev.snapshot.request_id = id;
	ev.snapshot.kind = kind;
	ev.snapshot.status = status;
	ev.snapshot.tag = tag;
	ev.snapshot.detail = (struct vigil_str){ detail, (uint16_t)detail_len };
	ses_emit(s, &ev);
}

/*
 * A repeat: of the request in flight (ignored), or of one answered (the
 * guest missed the reply: it is sent again). true when rq is a repeat.
 */
static bool snap_duplicate(struct vigil_session *s, const struct vigil_snapshot_request *rq)
{
	const struct snap *sn = &s->snap;

	if (sn->busy && rq->request_id == sn->id) {
		s->c.snapshot_duplicates++;
		return true;
	}
	for (uint32_t i = 0; i < SNAP_ANSWERED; i++) {
		const struct snap_answer *a = &sn->answered[i];

		if (a->id != rq->request_id)
			continue;
		s->c.snapshot_duplicates++;
		snap_send_reply(s, a->id, a->status, a->detail, a->detail_len);
		return true;
	}
	return false;
}

/* Hand rq to the provider; its refusal is the reply. */
static void snap_hand_off(struct vigil_session *s, const struct vigil_snapshot_request *rq)
{
	struct snap *sn = &s->snap;
	int r;

	sn->busy = true;
	sn->id = rq->request_id;
	sn->kind = rq->kind;
	ses_copy_str(s, sn->tag, sizeof(sn->tag), rq->tag);
	sn->tag_len = (uint16_t)strlen(sn->tag);

	struct vigil_event ev = { .type = VIGIL_EV_SNAPSHOT_REQUEST };

	ev.snapshot.request_id = rq->request_id;
	ev.snapshot.kind = rq->kind;
	ev.snapshot.tag = rq->tag;
	ses_emit(s, &ev);
	/* The provider may complete inside start(): busy is already set. */
	ses_cb_enter(s);
	s->in_snap_start = true;
	r = s->h.snapshot.start(s->h.snapshot.ctx, rq->kind, rq->tag, rq->request_id);
	s->in_snap_start = false;
	ses_cb_leave(s);
	if (r < 0 && sn->busy && sn->id == rq->request_id) {
		sn->busy = false;
		s->c.snapshot_refused++;
		if (r == -EOPNOTSUPP)
			s->c.snapshot_unsupported++;
		snap_answer(s, rq->request_id, rq->kind, rq->tag, r, NULL, 0);
	}
}

int snap_request(struct vigil_session *s, const struct vigil_snapshot_request *rq)
{
	if (snap_duplicate(s, rq))
		return 1;
	if (rq->kind > VIGIL_SNAP_HOST_COUNTERS || !s->h.snapshot.start) {
		s->c.snapshot_unsupported++;
		snap_answer(s, rq->request_id, rq->kind, rq->tag, -EOPNOTSUPP, NULL, 0);
		return 0;
	}
	if (s->snap.busy) {
		s->c.snapshot_busy++;
		snap_answer(s, rq->request_id, rq->kind, rq->tag, -EBUSY, NULL, 0);
		return 0;
	}
	snap_hand_off(s, rq);
	return 0;
}

void snap_epoch_reset(struct vigil_session *s)
{
	memset(s->snap.answered, 0, sizeof(s->snap.answered));
}

int vigil_session_snapshot_done(struct vigil_session *s, uint32_t request_id, int status,
				const char *detail, uint64_t now_ns)
{
	struct snap *sn = &s->snap;

	/* The one call allowed from a callback: the provider's own start(). */
	if (s->finished)
		return -ESHUTDOWN;
	if (s->cb_depth > (s->in_snap_start ? 1u : 0u))
		return -EBUSY;
	ses_clock_in(s, now_ns);
	if (!sn->busy || sn->id != request_id)
		return -ENOENT;
	sn->busy = false;
	if (status > 0)
		status = 0;
	snap_answer(s, request_id, sn->kind, (struct vigil_str){ sn->tag, sn->tag_len }, status,
		    detail, detail ? strlen(detail) : 0);
	return 0;
}
