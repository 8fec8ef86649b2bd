/* SPDX-License-Identifier: MIT */
/*
 * Tests for the snapshots host/cli/qmplink.c serves (vigil_vmm_snapshot),
 * through a guest on the loop (tests/loop/synth.h) whose backend hands its
 * SNAPSHOT_REQUESTs to vigil_vmm_snapshot over a fake monitor: memory
 * dumps are sparse files of a set apparent size, CPU state a fixed text.
 * What a guest can write to the host's disk is bounded: memory dumps by
 * count and by bytes (one more of the size seen must fit), CPU-state and
 * counters files by count; past the file bound the answer still reaches
 * the guest, in the reply.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "qmplink.h"
#include "synth.h"

struct fx {
	struct vigil_loop *loop;
	struct synth_fleet *f;
	struct synth_tx t;
	struct vigil_monitor mon;
	bool no_monitor;     /* hand vigil_vmm_snapshot a NULL monitor */
	uint64_t dump_bytes; /* apparent size of each fake dump */
	char dir[64];
	uint32_t done;  /* SNAPSHOT_DONE events */
	int32_t status; /* the last one's */
	char detail[128];
};

static int mon_dump(void *ctx, const char *path, vigil_qmp_reply_fn cb, void *arg)
{
	struct fx *x = ctx;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || ftruncate(fd, (off_t)x->dump_bytes) < 0)
		fail_msg("cannot make %s: %s", path, strerror(errno));
	close(fd);
	cb(arg, 0, NULL, NULL);
	return 0;
}

static int mon_hmp(void *ctx, const char *cmd, vigil_qmp_reply_fn cb, void *arg)
{
	struct json_object *s = json_object_new_string("RAX=0000000000000001");

	(void)ctx;
	assert_string_equal(cmd, "info registers -a");
	cb(arg, 0, s, NULL);
	json_object_put(s);
	return 0;
}

static int on_snapshot(void *ctx, unsigned i, uint32_t kind, struct vigil_str tag, uint32_t id)
{
	struct fx *x = ctx;
	struct vigil_qmplink_facts facts = { 0 };

	return vigil_vmm_snapshot(x->no_monitor ? NULL : &x->mon, synth_guest(x->f, i), x->dir,
				  &facts, kind, tag, id);
}

static void on_event(void *ctx, unsigned i, const struct vigil_event *ev, uint64_t seen_ns)
{
	struct fx *x = ctx;
	size_t n;

	(void)i;
	(void)seen_ns;
	if (ev->type != VIGIL_EV_SNAPSHOT_DONE)
		return;
	x->done++;
	x->status = ev->snapshot.status;
	n = ev->snapshot.detail.len < sizeof(x->detail) - 1 ? ev->snapshot.detail.len
							    : sizeof(x->detail) - 1;
	if (n) /* an empty detail may have no pointer */
		memcpy(x->detail, ev->snapshot.detail.ptr, n);
	x->detail[n] = '\0';
}

static struct fx *fx_new(uint64_t dump_bytes)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct synth_fleet_opts o = { .n = 1, .event = on_event, .snapshot = on_snapshot };

	assert_non_null(x);
	o.ctx = x;
	x->dump_bytes = dump_bytes;
	x->mon = (struct vigil_monitor){ .dump_memory = mon_dump, .hmp = mon_hmp, .ctx = x };
	snprintf(x->dir, sizeof(x->dir), "/tmp/vigil-snap-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	assert_int_equal(vigil_loop_new(&x->loop), 0);
	assert_int_equal(synth_fleet_new(x->loop, &o, &x->f), 0);
	assert_int_equal(synth_tx_init(&x->t, synth_peer_fd(x->f, 0), 0, 1), 0);
	assert_int_equal(synth_tx_hello(&x->t, "snap"), 0);
	return x;
}

/* Files in the directory, removed; their apparent bytes in *bytes. */
static unsigned files(struct fx *x, const char *suffix, uint64_t *bytes)
{
	DIR *d = opendir(x->dir);
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	if (bytes)
		*bytes = 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), s = strlen(suffix);
		struct stat st;

		if (de->d_name[0] == '.' || l < s || strcmp(de->d_name + l - s, suffix))
			continue;
		assert_int_equal(fstatat(dirfd(d), de->d_name, &st, 0), 0);
		n++;
		if (bytes)
			*bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	return n;
}

static void fx_free(struct fx *x)
{
	DIR *d = opendir(x->dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(x->dir);
	synth_tx_free(&x->t);
	synth_fleet_free(x->f);
	vigil_loop_free(x->loop);
	free(x);
}

struct want_done {
	struct fx *x;
	uint32_t n;
};

static bool done_reached(void *ctx)
{
	struct want_done *w = ctx;

	return w->x->done >= w->n;
}

/* The guest asks for a snapshot; the reply's status. */
static int32_t request(struct fx *x, uint32_t id, uint32_t kind)
{
	uint8_t fr[64];
	struct vigil_snapshot_request rq = { .request_id = id,
					     .kind = kind,
					     .tag = VIGIL_STR("t") };
	int n = vigil_snapshot_request_encode(fr + VIGIL_WIRE_HDR_LEN, 40, &rq);
	struct want_done w = { x, x->done + 1 };

	assert_true(n > 0);
	n = vigil_frame_seal(fr, sizeof(fr), VIGIL_MSG_SNAPSHOT_REQUEST, x->t.seq++, (size_t)n);
	assert_true(n > 0);
	assert_int_equal(synth_tx_raw(&x->t, fr, (size_t)n), 0);
	assert_int_equal(synth_run_until(x->loop, done_reached, &w, 5000), 0);
	return x->status;
}

/* Before any dump is done, the guest's memory is the size to expect: a
 * guest larger than the bound gets no dump at all, a smaller one its first. */
static void test_first_dump_by_ram(void **state)
{
	struct fx *x = fx_new(1ull << 30);

	(void)state;
	x->mon.ram_bytes = VIGIL_DUMP_BYTES_MAX + 1;
	assert_int_equal(request(x, 1, VIGIL_SNAP_MEMORY_DUMP), -EDQUOT);
	assert_int_equal(files(x, ".elf", NULL), 0);
	x->mon.ram_bytes = VIGIL_DUMP_BYTES_MAX;
	assert_int_equal(request(x, 2, VIGIL_SNAP_MEMORY_DUMP), 0);
	/* then the average of what was written (1 GiB) decides, not the memory */
	assert_int_equal(request(x, 3, VIGIL_SNAP_MEMORY_DUMP), 0);
	assert_int_equal(files(x, ".elf", NULL), 2);
	fx_free(x);
}

/* Dumps of 3 GiB: two fit 8 GiB, a third would pass it. */
static void test_dump_bytes_bound(void **state)
{
	struct fx *x = fx_new(3ull << 30);
	uint64_t bytes;

	(void)state;
	assert_int_equal(request(x, 1, VIGIL_SNAP_MEMORY_DUMP), 0);
	assert_int_equal(request(x, 2, VIGIL_SNAP_MEMORY_DUMP), 0);
	assert_int_equal(request(x, 3, VIGIL_SNAP_MEMORY_DUMP), -EDQUOT);
	assert_int_equal(files(x, ".elf", &bytes), 2);
	assert_int_equal(bytes, 6ull << 30);
	assert_true(bytes <= VIGIL_DUMP_BYTES_MAX);
	assert_int_equal(x->mon.dump_bytes, 6ull << 30);
	fx_free(x);
}

/* Dumps an earlier run left on disk (vigil watch's kept runs) count: with
 * 4 GiB of them, one 3 GiB dump fits 8 GiB, a second would pass it. */
static void test_dump_bytes_kept(void **state)
{
	struct fx *x = fx_new(3ull << 30);

	(void)state;
	x->mon.dump_bytes_kept = 4ull << 30;
	assert_int_equal(request(x, 1, VIGIL_SNAP_MEMORY_DUMP), 0);
	assert_int_equal(request(x, 2, VIGIL_SNAP_MEMORY_DUMP), -EDQUOT);
	assert_int_equal(files(x, ".elf", NULL), 1);
	/* with the bound already reached, none starts */
	x->mon.dump_bytes_kept = VIGIL_DUMP_BYTES_MAX;
	x->mon.dumps = x->mon.dumps_done = 0;
	x->mon.dump_bytes = 0;
	assert_int_equal(request(x, 3, VIGIL_SNAP_MEMORY_DUMP), -EDQUOT);
	assert_int_equal(files(x, ".elf", NULL), 1); /* the one above, no other */
	assert_int_equal(x->mon.dumps, 0);
	fx_free(x);
}

/* The first dump always starts (its size is the guest's memory). */
static void test_dump_first_larger(void **state)
{
	struct fx *x = fx_new(5ull << 30);

	(void)state;
	assert_int_equal(request(x, 1, VIGIL_SNAP_MEMORY_DUMP), 0);
	assert_int_equal(request(x, 2, VIGIL_SNAP_MEMORY_DUMP), -EDQUOT);
	assert_int_equal(files(x, ".elf", NULL), 1);
	fx_free(x);
}

/* Small dumps: the count bound. */
static void test_dump_count_bound(void **state)
{
	struct fx *x = fx_new(1u << 20);

	(void)state;
	for (uint32_t id = 1; id <= VIGIL_DUMPS_MAX; id++)
		assert_int_equal(request(x, id, VIGIL_SNAP_MEMORY_DUMP), 0);
	assert_int_equal(request(x, 100, VIGIL_SNAP_MEMORY_DUMP), -EDQUOT);
	assert_int_equal(files(x, ".elf", NULL), VIGIL_DUMPS_MAX);
	fx_free(x);
}

/* A storm of counters and CPU-state requests writes at most
 * VIGIL_SNAP_FILES_MAX files; every request is still answered. */
static void test_small_files_bound(void **state)
{
	struct fx *x = fx_new(0);
	uint32_t id = 1;

	(void)state;
	for (; id <= VIGIL_SNAP_FILES_MAX + 10; id++) {
		assert_int_equal(request(x, id, VIGIL_SNAP_HOST_COUNTERS), 0);
		assert_non_null(strstr(x->detail, "\"frames\":"));
	}
	assert_int_equal(files(x, "-host.json", NULL), VIGIL_SNAP_FILES_MAX);
	assert_int_equal(request(x, id++, VIGIL_SNAP_CPU_STATE), 0);
	assert_string_equal(x->detail, "RAX=0000000000000001"); /* in the reply, no file */
	assert_int_equal(files(x, "-cpu.txt", NULL), 0);
	assert_int_equal(x->mon.files, VIGIL_SNAP_FILES_MAX);
	fx_free(x);
}

/* Under the bound, CPU state goes to a file named in the reply. */
static void test_cpu_state_file(void **state)
{
	struct fx *x = fx_new(0);

	(void)state;
	assert_int_equal(request(x, 1, VIGIL_SNAP_CPU_STATE), 0);
	assert_non_null(strstr(x->detail, "-cpu.txt"));
	assert_int_equal(files(x, "-cpu.txt", NULL), 1);
	fx_free(x);
}

/* No monitor: counters answered in the reply, no file; dumps refused. */
static void test_no_monitor(void **state)
{
	struct fx *x = fx_new(1u << 20);

	(void)state;
	x->no_monitor = true;
	assert_int_equal(request(x, 1, VIGIL_SNAP_HOST_COUNTERS), 0);
	assert_non_null(strstr(x->detail, "\"frames\":"));
	assert_int_equal(request(x, 2, VIGIL_SNAP_MEMORY_DUMP), -EOPNOTSUPP);
	assert_int_equal(files(x, "", NULL), 0);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_dump_by_ram),
		cmocka_unit_test(test_dump_bytes_bound), cmocka_unit_test(test_dump_bytes_kept),
		cmocka_unit_test(test_dump_first_larger),
		cmocka_unit_test(test_dump_count_bound), cmocka_unit_test(test_small_files_bound),
		cmocka_unit_test(test_cpu_state_file),   cmocka_unit_test(test_no_monitor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
