/* SPDX-License-Identifier: MIT */
/* replay: a recording or a plain stream into a session (see replay.h). */
#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "watch.h"

static FILE *msg_out(const struct vigil_replay *rp)
{
	return rp->log ? rp->log : stderr;
}

static void rp_event(void *ctx, const struct vigil_event *ev)
{
	struct vigil_replay *rp = ctx;

	if (rp->event)
		rp->event(rp->ctx, ev);
}

/* The next record of a kind after *pos, or 0; *pos moves past it. */
static int next_of(struct vigil_replay *rp, size_t *pos, enum vigil_rec_kind kind,
		   struct vigil_rec *out)
{
	struct vigil_rec_reader r = rp->rd;

	r.off = *pos > r.off ? *pos : r.off;
	while (vigil_rec_next(&r, out) == 1) {
		if (out->kind == kind) {
			*pos = r.off;
			return 1;
		}
	}
	*pos = r.len;
	return 0;
}

static int rp_snapshot(void *ctx, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct vigil_replay *rp = ctx;
	struct vigil_rec rec;

	(void)kind;
	(void)tag;
	(void)id;
	if (next_of(rp, &rp->scan, VIGIL_REC_SNAPSHOT_START, &rec) && rec.len >= 4)
		return (int)(int32_t)vigil_le32(rec.data);
	return -EOPNOTSUPP;
}

/* A recording from a vCPU state probe: its PROGRESS records carry the wait. */
static int rp_state(void *ctx, struct vigil_vcpu_state *st)
{
	struct vigil_replay *rp = ctx;
	struct vigil_rec rec;
	int res;

	if (!next_of(rp, &rp->prog_scan, VIGIL_REC_PROGRESS, &rec) || rec.len < 16)
		return -ENOENT;
	res = (int)(int32_t)vigil_le32(rec.data);
	if (res < 0)
		return res;
	st->cpu_ns = vigil_le64(rec.data + 8);
	st->wait_ns = rec.len >= 24 ? vigil_le64(rec.data + 16) : 0;
	st->stopped = (vigil_le32(rec.data + 4) & VIGIL_REC_PROGRESS_STOPPED) != 0;
	return 0;
}

/* The CPU-time probe: the same PROGRESS records, their CPU time only. */
static int rp_progress(void *ctx, uint64_t *cpu_ns)
{
	struct vigil_vcpu_state st;
	int res = rp_state(ctx, &st);

	if (res == 0)
		*cpu_ns = st.cpu_ns;
	return res;
}

/* Were the samples taken by a vCPU state probe? The first PROGRESS says. */
static bool rec_has_state(struct vigil_replay *rp)
{
	size_t pos = 0;
	struct vigil_rec rec;

	return next_of(rp, &pos, VIGIL_REC_PROGRESS, &rec) && rec.len >= 24 &&
	       (vigil_le32(rec.data + 4) & VIGIL_REC_PROGRESS_WAIT);
}

static int rp_write(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	(void)frame;
	(void)len;
	return 0; /* nothing to send to: the guest is a recording */
}

uint8_t *vigil_replay_slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf && done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	*len = done;
	return buf;
}

int vigil_replay_open(struct vigil_replay *rp, const char *file, const uint8_t *buf, size_t len)
{
	struct vigil_session_hooks h = {
		.sink = { rp_event, rp },
		.writer = { rp_write, rp },
		.snapshot = { rp_snapshot, rp },
		.progress = { rp_progress, rp },
	};
	const char *field = NULL;
	int e = vigil_rec_reader_init(&rp->rd, buf, len);

	rp->t0_ns = 1000000000ull;
	rp->root = VIGIL_ROOT_OTHER;
	if (e < 0) {
		fprintf(msg_out(rp), "vigil %s: %s is a damaged recording (%s)\n", rp->cmd, file,
			e == -EPROTO ? "another format version" : "bad header");
		return -1;
	}
	rp->is_rec = e == 1;
	if (rp->is_rec && vigil_rec_header_parse(rp->rd.header, rp->rd.header_len, &rp->so,
						 &rp->t0_ns, &rp->provenance, &rp->root) < 0) {
		fprintf(msg_out(rp), "vigil %s: %s has a bad header\n", rp->cmd, file);
		return -1;
	}
	if (!rp->is_rec)
		h.progress.sample = NULL; /* nothing recorded: never conclude starvation */
	e = vigil_session_new(&rp->so, &h, rp->t0_ns, &rp->s);
	if (e == 0 && rp->is_rec && rec_has_state(rp)) {
		struct vigil_vcpu_state_probe sp = { rp_state, rp };

		e = vigil_session_set_vcpu_state_probe(rp->s, &sp);
	}
	if (e == -EINVAL && vigil_session_opts_check(&rp->so, &field) < 0) {
		fprintf(msg_out(rp),
			"vigil %s: %s records a session option out of range (%s): it was "
			"made by another vigil version, or damaged\n",
			rp->cmd, file, field);
		return -1;
	}
	if (e < 0) {
		fprintf(msg_out(rp), "vigil %s: cannot create a session: %s\n", rp->cmd,
			strerror(-e));
		return -1;
	}
	rp->last_ns = rp->t0_ns;
	return 0;
}

/* One record into the session; answers (SNAPSHOT_START, PROGRESS) are
 * consumed by the replay provider and probe where the session asks. */
static void replay_one(struct vigil_session *s, const struct vigil_rec *rec)
{
	char text[VIGIL_REC_TEXT_MAX + 1];
	size_t tl = rec->len < VIGIL_REC_TEXT_MAX ? rec->len : VIGIL_REC_TEXT_MAX;
	uint32_t a, b;

	memcpy(text, rec->data, tl);
	text[tl] = '\0';
	switch (rec->kind) {
	case VIGIL_REC_RX:
		vigil_session_feed(s, rec->data, rec->len, rec->t_ns);
		break;
	case VIGIL_REC_LINK_UP:
		vigil_session_link_up(s, rec->t_ns);
		break;
	case VIGIL_REC_LINK_DOWN:
		vigil_session_link_down(s, rec->t_ns);
		break;
	case VIGIL_REC_VM_STOPPED:
		vigil_session_vm_stopped(s, rec->t_ns);
		break;
	case VIGIL_REC_VM_RESUMED:
		vigil_session_vm_resumed(s, rec->t_ns);
		break;
	case VIGIL_REC_CONSOLE:
		vigil_session_console_line(s, rec->t_ns, text, tl);
		break;
	case VIGIL_REC_CRASHED:
		vigil_session_guest_crashed(s, rec->t_ns, text);
		break;
	case VIGIL_REC_HARNESS_ERROR:
		vigil_session_harness_error(s, rec->t_ns, text);
		break;
	case VIGIL_REC_VMM_EXITED:
		if (vigil_rec_pair(rec, &a, &b, text) == 0)
			vigil_session_vmm_exited(s, rec->t_ns, (int)(int32_t)a, (int)(int32_t)b,
						 text[0] ? text : NULL);
		break;
	case VIGIL_REC_SNAPSHOT_DONE:
		if (vigil_rec_pair(rec, &a, &b, text) == 0)
			vigil_session_snapshot_done(s, a, (int)(int32_t)b, text, rec->t_ns);
		break;
	case VIGIL_REC_HOST_PAUSED:
		if (rec->len >= 1)
			vigil_session_host_paused(s, rec->t_ns, rec->data[0] != 0);
		break;
	case VIGIL_REC_SHUTDOWN:
		vigil_session_request_shutdown(s, rec->t_ns);
		break;
	case VIGIL_REC_TICK:
		vigil_session_tick(s, rec->t_ns);
		break;
	default:
		break; /* FINISH, answers, kinds of later versions */
	}
}

/* FINISH carries the run's final provenance: it replaces the header's. */
static void finish_provenance(const struct vigil_rec *rec, struct json_object **prov)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (!rec->len || !(tok = json_tokener_new()))
		return;
	o = json_tokener_parse_ex(tok, (const char *)rec->data, (int)rec->len);
	json_tokener_free(tok);
	if (o && json_object_is_type(o, json_type_object)) {
		json_object_put(*prov);
		*prov = o;
	} else {
		json_object_put(o);
	}
}

static void replay_records(struct vigil_replay *rp)
{
	struct vigil_rec rec;
	int e;

	while ((e = vigil_rec_next(&rp->rd, &rec)) == 1) {
		rp->last_ns = rec.t_ns ? rec.t_ns : rp->last_ns;
		replay_one(rp->s, &rec);
		if (rp->step)
			rp->step(rp->ctx, rp->s, rp->last_ns);
		if (rec.kind == VIGIL_REC_FINISH) {
			finish_provenance(&rec, &rp->provenance);
			break;
		}
	}
	if (e < 0 && !rp->quiet)
		fprintf(msg_out(rp),
			"vigil %s: the recording ends in a damaged record; "
			"replayed up to it\n",
			rp->cmd);
}

int vigil_replay_run(struct vigil_replay *rp, const char *file, const uint8_t *buf, size_t len)
{
	VIGIL_SESSION_COUNTERS(c);

	if (rp->is_rec) {
		replay_records(rp);
		return 0;
	}
	vigil_session_link_up(rp->s, rp->t0_ns);
	for (size_t off = 0; off < len; off += 65536)
		vigil_session_feed(rp->s, buf + off, len - off < 65536 ? len - off : 65536,
				   rp->t0_ns);
	vigil_session_tick(rp->s, rp->t0_ns);
	if (rp->step)
		rp->step(rp->ctx, rp->s, rp->t0_ns);
	vigil_session_counters(rp->s, &c);
	if (c.stream.frames == 0) {
		/* An events file (JSON lines) is the likely mistake: say what takes it. */
		bool json = len && buf[0] == '{';

		fprintf(msg_out(rp),
			"vigil %s: %s holds no vigil frame (%zu bytes): it is neither a "
			"recording (vigil run --record) nor a stream from the guest's port%s\n",
			rp->cmd, file, len,
			!json ? ""
			: strcmp(rp->cmd, "report")
			    ? "; it looks like an events file (vigil run --events), which is "
			      "already decoded"
			    : "; it looks like an events file (vigil run --events): give it as "
			      "--events FILE");
		return -1;
	}
	return 0;
}

void vigil_replay_free(struct vigil_replay *rp)
{
	vigil_session_free(rp->s);
	rp->s = NULL;
	json_object_put(rp->provenance);
	rp->provenance = NULL;
}
