/* SPDX-License-Identifier: MIT */
/* qmplink: a guest's QMP monitor and QMP snapshots (see qmplink.h). */
#include "qmplink.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "qemu.h"

struct vigil_qmplink;

struct port_id {
	struct vigil_qmplink *q;
	char id[64];
	int vigil;  /* 1 the vigil port, 0 another, -1 asked, no answer yet */
	int opened; /* the last VSERPORT_CHANGE's "open" while asking, -1 none */
};

struct vigil_qmplink {
	struct vigil_loop *loop;
	struct vigil_guest *g;
	struct vigil_qmp *qmp;
	struct vigil_source *src;
	bool port_closed_seen;
	struct port_id ports[VIGIL_QMPLINK_PORTS];
	unsigned n_ports;
	struct vigil_monitor mon;
	void (*lost)(void *ctx); /* QMP went away (vigil_qmplink_on_lost) */
	void *lost_ctx;
	bool ram_asked; /* query-memory-size-summary sent */
};

/* ---- VSERPORT_CHANGE of the vigil port only ------------------------------ */

static void port_change(struct vigil_qmplink *q, bool open)
{
	if (!open) {
		/* the agent closed the port: what it sends after reopening is a
		 * new stream (wire spec: drop what is held) */
		q->port_closed_seen = true;
		vigil_guest_link(q->g, false);
	} else if (q->port_closed_seen && vigil_guest_port_attached(q->g)) {
		vigil_guest_link(q->g, true);
	}
}

static void port_name_done(void *ctx, int err, struct json_object *ret, const char *desc)
{
	struct port_id *p = ctx;

	(void)desc;
	if (p->vigil != -1)
		return;
	p->vigil = err == 0 && ret && json_object_is_type(ret, json_type_string) &&
		   !strcmp(json_object_get_string(ret), VIGIL_PORT_NAME);
	if (p->vigil == 1 && p->opened >= 0)
		port_change(p->q, p->opened);
	p->opened = -1;
}

static struct port_id *port_find(struct vigil_qmplink *q, const char *id)
{
	for (unsigned i = 0; i < q->n_ports; i++)
		if (!strcmp(q->ports[i].id, id))
			return &q->ports[i];
	return NULL;
}

/* 1 the vigil port, 0 not, -1 not known yet (asked). */
static int port_is_vigil(struct vigil_qmplink *q, const char *id)
{
	struct port_id *p = port_find(q, id);
	struct json_object *args;
	char path[128];

	if (p)
		return p->vigil;
	if (q->n_ports == VIGIL_QMPLINK_PORTS || strlen(id) >= sizeof(p->id))
		return 0;
	p = &q->ports[q->n_ports++];
	p->q = q;
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->vigil = -1;
	p->opened = -1;
	snprintf(path, sizeof(path), "/machine/peripheral/%s", id);
	args = json_object_new_object();
	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "property", json_object_new_string("name"));
	if (vigil_qmp_command(q->qmp, "qom-get", args, port_name_done, p) < 0)
		p->vigil = 0;
	return p->vigil;
}

static void on_vserport(struct vigil_qmplink *q, struct json_object *data)
{
	struct json_object *open, *id;
	int v;

	if (!data || !json_object_object_get_ex(data, "open", &open) ||
	    !json_object_object_get_ex(data, "id", &id))
		return;
	v = port_is_vigil(q, json_object_get_string(id));
	if (v == 1)
		port_change(q, json_object_get_boolean(open));
	else if (v == -1)
		port_find(q, json_object_get_string(id))->opened = json_object_get_boolean(open);
}

/* ---- events ------------------------------------------------------------------ */

static void on_event(void *ctx, const char *name, struct json_object *data, uint64_t ts_us)
{
	struct vigil_qmplink *q = ctx;

	(void)ts_us;
	if (!strcmp(name, "STOP")) {
		vigil_guest_vm_stopped(q->g, true);
	} else if (!strcmp(name, "RESUME")) {
		vigil_guest_vm_stopped(q->g, false);
	} else if (!strcmp(name, "GUEST_PANICKED") || !strcmp(name, "GUEST_CRASHLOADED")) {
		char ev[96];
		snprintf(ev, sizeof(ev), "pvpanic: %s", name);
		vigil_guest_crashed(q->g, ev);
	} else if (!strcmp(name, "SHUTDOWN")) {
		struct json_object *reason;
		if (data && json_object_object_get_ex(data, "reason", &reason) &&
		    !strcmp(json_object_get_string(reason), "guest-panic"))
			vigil_guest_crashed(q->g, "QEMU SHUTDOWN reason guest-panic");
	} else if (!strcmp(name, "VSERPORT_CHANGE")) {
		on_vserport(q, data);
	}
}

static void sync_out(struct vigil_qmplink *q)
{
	if (q->src && !vigil_source_disabled(q->src))
		vigil_source_set_events(q->src,
					EPOLLIN | (vigil_qmp_want_write(q->qmp) ? EPOLLOUT : 0));
}

/* The guest's memory, the size of a dump before one is done. */
static void ram_done(void *ctx, int err, struct json_object *ret, const char *desc)
{
	struct vigil_qmplink *q = ctx;
	struct json_object *v;
	uint64_t bytes = 0;

	(void)desc;
	if (err || !ret)
		return;
	if (json_object_object_get_ex(ret, "base-memory", &v))
		bytes += json_object_get_uint64(v);
	if (json_object_object_get_ex(ret, "plugged-memory", &v))
		bytes += json_object_get_uint64(v);
	q->mon.ram_bytes = bytes;
}

static int qmp_ready(struct vigil_source *s, int fd, uint32_t events, void *ctx)
{
	struct vigil_qmplink *q = ctx;
	int e = 0;

	(void)s;
	(void)fd;
	if (events & EPOLLOUT)
		e = vigil_qmp_on_writable(q->qmp);
	if (e == 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		e = vigil_qmp_on_readable(q->qmp);
	if (e < 0) {
		if (q->lost) { /* told once: the source is disabled now */
			void (*fn)(void *) = q->lost;
			q->lost = NULL;
			fn(q->lost_ctx);
		}
		return e; /* QMP is gone: this source only; the guest goes on */
	}
	if (!q->ram_asked && vigil_qmp_ready(q->qmp))
		q->ram_asked =
		    vigil_qmp_command(q->qmp, "query-memory-size-summary", NULL, ram_done, q) > 0;
	sync_out(q);
	return 0;
}

/* The monitor for snapshots, on QMP: refused until QEMU's greeting. */
static int mon_dump(void *ctx, const char *path, vigil_qmp_reply_fn cb, void *arg)
{
	struct vigil_qmplink *q = ctx;
	int e;

	if (!vigil_qmp_ready(q->qmp))
		return -EOPNOTSUPP;
	e = vigil_qmp_dump_memory(q->qmp, path, cb, arg);
	sync_out(q);
	return e;
}

static int mon_hmp(void *ctx, const char *cmd, vigil_qmp_reply_fn cb, void *arg)
{
	struct vigil_qmplink *q = ctx;
	int e;

	if (!vigil_qmp_ready(q->qmp))
		return -EOPNOTSUPP;
	e = vigil_qmp_hmp(q->qmp, cmd, cb, arg);
	sync_out(q);
	return e;
}

struct vigil_monitor *vigil_qmplink_monitor(struct vigil_qmplink *q)
{
	return q ? &q->mon : NULL;
}

int vigil_qmplink_new(struct vigil_loop *l, struct vigil_guest *g, int fd,
		      struct vigil_qmplink **out)
{
	struct vigil_qmplink *q = calloc(1, sizeof(*q));
	char name[VIGIL_GUEST_NAME_MAX + 8];
	int e;

	if (!q) {
		close(fd);
		return -ENOMEM;
	}
	q->loop = l;
	q->g = g;
	q->mon = (struct vigil_monitor){ .dump_memory = mon_dump, .hmp = mon_hmp, .ctx = q };
	e = vigil_qmp_new(fd, on_event, q, &q->qmp);
	if (e < 0) {
		close(fd);
		free(q);
		return e;
	}
	snprintf(name, sizeof(name), "%s qmp", vigil_guest_name(g));
	e = vigil_source_add(l, fd, EPOLLIN, 0, qmp_ready, q, name, &q->src);
	if (e < 0) {
		vigil_qmplink_free(q);
		return e;
	}
	*out = q;
	return 0;
}

void vigil_qmplink_free(struct vigil_qmplink *q)
{
	if (!q)
		return;
	vigil_source_free(q->src);
	vigil_qmp_free(q->qmp); /* closes the fd; pending snapshots fail -ECONNRESET */
	free(q);
}

bool vigil_qmplink_ready(const struct vigil_qmplink *q)
{
	return q && vigil_qmp_ready(q->qmp);
}

const char *vigil_qmplink_version(const struct vigil_qmplink *q)
{
	return q ? vigil_qmp_version(q->qmp) : "";
}

void vigil_qmplink_on_lost(struct vigil_qmplink *q, void (*fn)(void *ctx), void *ctx)
{
	q->lost = fn;
	q->lost_ctx = ctx;
}

void vigil_qmplink_inherit(struct vigil_qmplink *q, const struct vigil_qmplink *from)
{
	if (q && from) {
		q->mon.dumps = from->mon.dumps;
		q->mon.dumps_done = from->mon.dumps_done;
		q->mon.dump_bytes = from->mon.dump_bytes;
		q->mon.dump_bytes_kept = from->mon.dump_bytes_kept;
		q->mon.ram_bytes = from->mon.ram_bytes;
		q->mon.files = from->mon.files;
	}
}

void vigil_qmplink_drain(struct vigil_qmplink *q)
{
	for (int i = 0; q && i < 16 && !vigil_source_disabled(q->src); i++)
		if (vigil_qmp_on_readable(q->qmp) < 0)
			break;
}

int vigil_qmplink_quit(struct vigil_qmplink *q)
{
	int e;

	if (!q || !vigil_qmp_ready(q->qmp) || vigil_source_disabled(q->src))
		return -ENOTCONN;
	e = vigil_qmp_command(q->qmp, "quit", NULL, NULL, NULL);
	sync_out(q);
	return e < 0 ? e : 0;
}

/* ---- snapshots ------------------------------------------------------------- */

struct snap_req {
	struct vigil_guest *g;
	struct vigil_monitor *m;
	uint32_t id;
	char path[PATH_MAX];
};

static void snap_sanitize(char *out, size_t cap, struct vigil_str tag)
{
	size_t o = 0;

	for (size_t i = 0; i < tag.len && o + 1 < cap && o < 48; i++) {
		char c = tag.ptr[i];
		out[o++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_')
			       ? c
			       : '_';
	}
	if (o == 0 && cap > 8)
		o = (size_t)snprintf(out, cap, "snapshot");
	out[o] = '\0';
}

static void snap_dump_done(void *ctx, int err, struct json_object *ret, const char *desc)
{
	struct snap_req *r = ctx;
	struct stat st;

	(void)ret;
	if (stat(r->path, &st) < 0)
		st.st_size = 0;
	r->m->dump_bytes += (uint64_t)st.st_size;
	r->m->dumps_done++;
	if (err < 0 && st.st_size > 0) { /* what the VMM wrote before it failed */
		char part[sizeof(r->path) + 16], why[sizeof(part) + 128];
		snprintf(part, sizeof(part), "%s.partial", r->path);
		snprintf(why, sizeof(why), "%s; the cut dump is %s",
			 desc ? desc : "the VMM went away during the dump", part);
		rename(r->path, part);
		vigil_guest_snapshot_done(r->g, r->id, -EIO, why);
	} else {
		vigil_guest_snapshot_done(r->g, r->id, err < 0 ? -EIO : 0,
					  err < 0 ? (desc ? desc : "the VMM went away") : r->path);
	}
	free(r);
}

static void snap_cpu_done(void *ctx, int err, struct json_object *ret, const char *desc)
{
	struct snap_req *r = ctx;
	const char *text =
	    ret && json_object_is_type(ret, json_type_string) ? json_object_get_string(ret) : NULL;

	if (err < 0 || !text) {
		vigil_guest_snapshot_done(r->g, r->id, -EIO, desc ? desc : "no reply");
	} else if (r->path[0] && r->m->files < VIGIL_SNAP_FILES_MAX) {
		FILE *f = fopen(r->path, "we");
		int ok = f && fputs(text, f) >= 0;
		if (f && fclose(f) != 0)
			ok = 0;
		r->m->files++;
		vigil_guest_snapshot_done(r->g, r->id, ok ? 0 : -EIO,
					  ok ? r->path : "cannot write the file");
	} else {
		vigil_guest_snapshot_done(r->g, r->id, 0, text);
	}
	free(r);
}

/* The VMM's CPU ticks and RSS, the vCPU time, port and frame counters. */
static void host_counters(struct vigil_guest *g, const struct vigil_qmplink_facts *f, char *buf,
			  size_t cap)
{
	char path[64], stat[1024];
	unsigned long long utime = 0, stime = 0, rss_pages = 0;
	uint64_t vcpu = 0;
	VIGIL_SESSION_COUNTERS(c);
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)f->vmm_pid);
	fd = f->vmm_pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		ssize_t n = read(fd, stat, sizeof(stat) - 1);
		char *p;
		close(fd);
		stat[n > 0 ? n : 0] = '\0';
		p = strrchr(stat, ')');
		/* fields after ")": state(3) ... utime(14) stime(15) ... rss(24) */
		if (p && p[1])
			sscanf(p + 2,
			       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
			       "%*d %*d %*d %*d %*u %*u %llu",
			       &utime, &stime, &rss_pages);
	}
	if (f->vcpu)
		vigil_vcpu_sample(f->vcpu, &vcpu);
	vigil_session_counters(vigil_guest_session(g), &c);
	snprintf(buf, cap,
		 "{\"qemu_pid\":%d,\"qemu_utime_ticks\":%llu,\"qemu_stime_ticks\":%llu,"
		 "\"qemu_rss_kib\":%llu,\"vcpu_run_ns\":%llu,\"port_rx_bytes\":%llu,"
		 "\"frames\":%llu,\"lost_frames\":%llu,\"console_bytes\":%llu}",
		 (int)f->vmm_pid, utime, stime,
		 rss_pages * (unsigned long long)(getpagesize() / 1024), (unsigned long long)vcpu,
		 (unsigned long long)vigil_guest_rx_bytes(g), (unsigned long long)c.stream.frames,
		 (unsigned long long)c.stream.lost_frames, (unsigned long long)f->console_bytes);
}

static int snap_counters(struct vigil_monitor *m, struct vigil_guest *g, const char *dir,
			 const struct vigil_qmplink_facts *f, const char *name, uint32_t id)
{
	char json[1024], path[PATH_MAX];

	host_counters(g, f, json, sizeof(json));
	if (dir && m && m->files < VIGIL_SNAP_FILES_MAX) {
		FILE *fp;
		snprintf(path, sizeof(path), "%s/%s-%u-host.json", dir, name, id);
		fp = fopen(path, "we");
		if (fp) {
			m->files++;
			fprintf(fp, "%s\n", json);
			fclose(fp);
		}
	}
	vigil_guest_snapshot_done(g, id, 0, json);
	return 0;
}

/* Another dump keeps within the bounds (qmplink.h): fewer than
 * VIGIL_DUMPS_MAX started, and one more of the average size so far fits. */
static bool snap_dump_fits(const struct vigil_monitor *m)
{
	uint64_t next = m->dumps_done ? m->dump_bytes / m->dumps_done : m->ram_bytes;
	uint64_t used = m->dump_bytes + m->dump_bytes_kept;

	if (m->dumps >= VIGIL_DUMPS_MAX || used >= VIGIL_DUMP_BYTES_MAX)
		return false;
	return next <= VIGIL_DUMP_BYTES_MAX - used;
}

int vigil_vmm_snapshot(struct vigil_monitor *m, struct vigil_guest *g, const char *dir,
		       const struct vigil_qmplink_facts *f, uint32_t kind, struct vigil_str tag,
		       uint32_t id)
{
	struct snap_req *r;
	char name[64];
	int res;

	snap_sanitize(name, sizeof(name), tag);
	if (kind == VIGIL_SNAP_HOST_COUNTERS)
		return snap_counters(m, g, dir, f, name, id);
	if ((kind != VIGIL_SNAP_MEMORY_DUMP && kind != VIGIL_SNAP_CPU_STATE) || !m ||
	    (kind == VIGIL_SNAP_MEMORY_DUMP && (!dir || !m->dump_memory)) ||
	    (kind == VIGIL_SNAP_CPU_STATE && !m->hmp))
		return -EOPNOTSUPP; /* no monitor, or nowhere to put a dump (--snapshot-dir) */
	if (kind == VIGIL_SNAP_MEMORY_DUMP && !snap_dump_fits(m))
		return -EDQUOT;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->g = g;
	r->m = m;
	r->id = id;
	if (kind == VIGIL_SNAP_MEMORY_DUMP) {
		snprintf(r->path, sizeof(r->path), "%s/%s-%u.elf", dir, name, id);
		res = m->dump_memory(m->ctx, r->path, snap_dump_done, r);
		if (res >= 0)
			m->dumps++;
	} else {
		if (dir)
			snprintf(r->path, sizeof(r->path), "%s/%s-%u-cpu.txt", dir, name, id);
		res = m->hmp(m->ctx, "info registers -a", snap_cpu_done, r);
	}
	if (res < 0) {
		free(r);
		return res;
	}
	return 0;
}
