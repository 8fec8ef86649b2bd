/* SPDX-License-Identifier: MIT */
/* Tests for guest/core.c: the agent over a socketpair, as the host sees it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <vigil/agent.h>

#include "agent_fx.h"
#include "ctl.h"

static int setup(void **state)
{
	struct agent_fx *a = malloc(sizeof(*a));

	agent_fx_init(a);
	*state = a;
	return 0;
}

static int teardown(void **state)
{
	agent_fx_fini(*state);
	free(*state);
	return 0;
}

static void test_hello_then_sys_rdy(void **state)
{
	struct agent_fx *a = *state;
	struct vigil_hello h;
	struct utsname u;

	agent_fx_start(a);
	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_SYS_RDY, 5000) >= 0);
	assert_int_equal(a->rx.f[0].type, VIGIL_MSG_HELLO);
	assert_int_equal(a->rx.f[0].seq, 0);
	assert_int_equal(a->rx.f[1].type, VIGIL_MSG_SYS_RDY);
	assert_int_equal(a->rx.f[1].seq, 1);
	assert_int_equal(a->rx.f[1].len, 0);
	assert_int_equal(vigil_hello_decode(rx_payload(&a->rx, 0), a->rx.f[0].len, &h), 0);
	assert_int_equal(h.proto_version, 1);
	uname(&u);
	assert_int_equal(h.kernel_release.len, strlen(u.release));
	assert_memory_equal(h.kernel_release.ptr, u.release, h.kernel_release.len);
	assert_true(h.guest_boottime_ns > 0);
	{
		/* vigil's HELLO addition names the pid of the agent's own beat */
		uint32_t apid = 0;

		assert_int_equal(
		    vigil_hello_agent_pid(rx_payload(&a->rx, 0), a->rx.f[0].len, &apid), 1);
		assert_int_equal(apid, (uint32_t)a->pid);
	}
	/* The host says SHUTDOWN: the agent drains and exits 0. */
	assert_int_equal(rx_send(a->host, VIGIL_MSG_SHUTDOWN, 0, "\0\0\0\0", 4), 0);
	assert_int_equal(agent_fx_wait(a, 5000), 0);
	rx_drain(&a->rx, a->host, 1000);
	{
		/* Its last beat for itself says STOPPING. */
		struct vigil_records r;
		struct vigil_beat b = { 0 };
		ssize_t i, last = -1;

		for (i = 0; (i = rx_find(&a->rx, VIGIL_MSG_BEAT, (size_t)i)) >= 0; i++)
			last = i;
		assert_true(last >= 0);
		assert_int_equal(
		    vigil_beats_decode(rx_payload(&a->rx, (size_t)last), a->rx.f[last].len, &r), 0);
		vigil_beat_get(&r, r.count - 1, &b);
		assert_int_equal(b.status, VIGIL_BEAT_STOPPING);
	}
}

static void test_ping_pong(void **state)
{
	struct agent_fx *a = *state;
	uint8_t ping[8];
	struct vigil_pong p;
	ssize_t i;

	agent_fx_start(a);
	vigil_put64(ping, 0xDEADBEEFCAFEull);
	assert_int_equal(rx_send(a->host, VIGIL_MSG_PING, 0, ping, 8), 0);
	i = rx_until(&a->rx, a->host, VIGIL_MSG_PONG, 5000);
	assert_true(i >= 0);
	assert_int_equal(vigil_pong_decode(rx_payload(&a->rx, (size_t)i), a->rx.f[i].len, &p), 0);
	assert_int_equal(p.token, 0xDEADBEEFCAFEull);
	assert_true(p.guest_mono_ns > 0);
}

static void test_beats_relayed_and_forged_rejected(void **state)
{
	struct agent_fx *a = *state;
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = a->beat };
	bool mine = false, agents = false;
	uint64_t end;

	agent_fx_start(a);
	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_SYS_RDY, 5000) >= 0);
	assert_int_equal(vigil_agent_init(&o), 0);
	assert_int_equal(vigil_beat(VIGIL_STATUS_OK, 31337, 700), 0);
	{
		/* Forged: claims pid 2 (kthreadd, or whoever). */
		uint8_t d[VIGIL_BEAT_DGRAM_LEN];
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

		vigil_beat_dgram_encode(d, 2, 0, 0, 1, 0);
		strcpy(sa.sun_path, a->beat);
		assert_int_equal(sendto(fd, d, sizeof(d), 0, (struct sockaddr *)&sa, sizeof(sa)),
				 (ssize_t)sizeof(d));
		close(fd);
	}
	end = rx_now_ms() + 5000;
	while ((!mine || !agents || rx_last_stat(&a->rx, VIGIL_STAT_BEATS_REJECTED) != 1) &&
	       rx_now_ms() < end) {
		rx_pump(&a->rx, a->host, 50);
		for (size_t i = 0; i < a->rx.n; i++) {
			struct vigil_records r;
			struct vigil_beat b;

			if (a->rx.f[i].type != VIGIL_MSG_BEAT)
				continue;
			assert_int_equal(
			    vigil_beats_decode(rx_payload(&a->rx, i), a->rx.f[i].len, &r), 0);
			for (uint32_t k = 0; k < r.count; k++) {
				vigil_beat_get(&r, k, &b);
				assert_int_not_equal(b.pid, 2);
				if (b.pid == (uint32_t)getpid()) {
					assert_int_equal(b.app_payload, 31337);
					assert_int_equal(b.deadline_ms, 700);
					assert_int_equal(b.origin, VIGIL_ORIGIN_KERNEL_ATTESTED);
					assert_true(b.pidns_inode != 0);
					mine = true;
				}
				if (b.pid == (uint32_t)a->pid)
					agents = true; /* the agent beats for itself */
			}
		}
	}
	assert_true(mine);
	assert_true(agents);
	assert_int_equal(rx_last_stat(&a->rx, VIGIL_STAT_BEATS_REJECTED), 1);
	assert_true(rx_last_stat(&a->rx, VIGIL_STAT_BEATS_RELAYED) >= 1);
	vigil_agent_close();
}

/*
 * Dense beats (20 processes x 100/s, 2,000 beats/s: windows, pace.h) all
 * reach the host, each process's in order, and beats of several processes
 * share BEAT frames. A process's beat is replaced by its next when both
 * wait in one window (an agent descheduled for 10 ms on a busy machine)
 * or refused by a full socket queue; both are counted, so every beat is
 * accounted for.
 */
static void test_dense_beats_all_relayed(void **state)
{
	enum { KIDS = 20, BEATS = 100 };
	struct agent_fx *a = *state;
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = a->beat };
	uint64_t last[KIDS] = { 0 }, seen = 0, refused = 0, end;
	pid_t kids[KIDS];
	uint32_t multi = 0;

	a->cfg.self_beat_ms = 0; /* only the children's beats are counted */
	agent_fx_start(a);
	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_SYS_RDY, 5000) >= 0);
	for (int c = 0; c < KIDS; c++) {
		kids[c] = fork();
		if (kids[c] == 0) {
			if (vigil_agent_init(&o) < 0)
				_exit(255);
			usleep((useconds_t)(c * 500));
			for (uint32_t i = 0; i < BEATS; i++) {
				vigil_beat(VIGIL_STATUS_OK, (uint32_t)c, 0);
				usleep(10000);
			}
			_exit((int)vigil_beat_drops()); /* <= BEATS */
		}
	}
	end = rx_now_ms() + 20000;
	for (size_t i = 0; rx_now_ms() < end;) {
		rx_pump(&a->rx, a->host, 50);
		for (; i < a->rx.n; i++) {
			struct vigil_records r;
			uint32_t mine = 0;

			if (a->rx.f[i].type != VIGIL_MSG_BEAT)
				continue;
			assert_int_equal(
			    vigil_beats_decode(rx_payload(&a->rx, i), a->rx.f[i].len, &r), 0);
			for (uint32_t k = 0; k < r.count; k++) {
				struct vigil_beat b;

				vigil_beat_get(&r, k, &b);
				assert_true(b.app_payload < KIDS);
				assert_int_equal(b.pid, (uint32_t)abs(kids[b.app_payload]));
				assert_true(b.nonce > last[b.app_payload]);
				last[b.app_payload] = b.nonce;
				seen++;
				mine++;
			}
			multi += mine > 1;
		}
		if (seen + refused + rx_last_stat(&a->rx, VIGIL_STAT__KNOWN) >= KIDS * BEATS)
			break;
		for (int c = 0; c < KIDS; c++) {
			int st;

			if (kids[c] > 0 && waitpid(kids[c], &st, WNOHANG) == kids[c]) {
				assert_true(WIFEXITED(st) && WEXITSTATUS(st) <= BEATS);
				refused += (uint64_t)WEXITSTATUS(st);
				kids[c] = -kids[c];
			}
		}
	}
	/* beats_coalesced is the agent's first own counter, after the 8 known ones */
	assert_int_equal(seen + refused + rx_last_stat(&a->rx, VIGIL_STAT__KNOWN), KIDS * BEATS);
	assert_true(seen >= KIDS * BEATS / 2);
	assert_true(multi > 0);
}

/*
 * Goodbyes through the stop socket while beats are dense (HOLD): each
 * process's STOPPING reaches the host, after every beat it sent before it
 * and with nothing of that pid after it.
 */
static void test_stopping_through_stop_socket(void **state)
{
	enum { KIDS = 8, BEATS = 40 };
	struct agent_fx *a = *state;
	struct vigil_agent_opts o = { .sz = sizeof(o), .socket_path = a->beat };
	char stop[160];
	bool stopped[KIDS] = { false };
	uint64_t last[KIDS] = { 0 }, end;
	int done = 0;
	pid_t kids[KIDS];

	a->cfg.self_beat_ms = 0;
	agent_fx_start(a);
	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_SYS_RDY, 5000) >= 0);
	snprintf(stop, sizeof(stop), "%s%s", a->beat, VIGIL_BEAT_STOP_SUFFIX);
	assert_int_equal(access(stop, W_OK), 0);
	for (int c = 0; c < KIDS; c++) {
		kids[c] = fork();
		if (kids[c] == 0) {
			if (vigil_agent_init(&o) < 0)
				_exit(1);
			for (uint32_t i = 0; i < BEATS; i++) {
				vigil_beat(VIGIL_STATUS_OK, (uint32_t)c, 0);
				usleep(1000); /* 8 x 1,000 beats/s: dense */
			}
			_exit(vigil_beat(VIGIL_STATUS_STOPPING, (uint32_t)c, 0) == 0 ? 0 : 2);
		}
	}
	end = rx_now_ms() + 10000;
	for (size_t i = 0; done < KIDS && rx_now_ms() < end;) {
		rx_pump(&a->rx, a->host, 50);
		for (; i < a->rx.n; i++) {
			struct vigil_records r;

			if (a->rx.f[i].type != VIGIL_MSG_BEAT)
				continue;
			assert_int_equal(
			    vigil_beats_decode(rx_payload(&a->rx, i), a->rx.f[i].len, &r), 0);
			for (uint32_t k = 0; k < r.count; k++) {
				struct vigil_beat b;

				vigil_beat_get(&r, k, &b);
				assert_true(b.app_payload < KIDS);
				assert_false(stopped[b.app_payload]); /* nothing after a goodbye */
				assert_true(b.nonce > last[b.app_payload]);
				last[b.app_payload] = b.nonce;
				if (b.status == VIGIL_BEAT_STOPPING) {
					stopped[b.app_payload] = true;
					done++;
				}
			}
		}
	}
	for (int c = 0; c < KIDS; c++) {
		int st;

		assert_int_equal(waitpid(kids[c], &st, 0), kids[c]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		assert_true(stopped[c]);
		assert_int_equal(last[c], BEATS + 1); /* the goodbye is the last nonce */
	}
}

/*
 * total bytes of workload stdout (cat of a file) arrive byte-exact, in
 * order, then EXIT; nothing dropped. pipe_bytes sets the pipe size; the
 * host starts reading after hold_ms, so that at the exit the pipe still
 * holds what the output queue cannot.
 */
static void stdout_exact(struct agent_fx *a, size_t total, uint32_t pipe_bytes, int hold_ms)
{
	char file[160];
	char *argv[] = { "cat", file, NULL };
	uint8_t *want = malloc(total), *got = malloc(total);
	size_t have = 0;
	ssize_t ex = -1;
	struct vigil_exit e;
	FILE *f;

	snprintf(file, sizeof(file), "%s/data", a->dir);
	for (size_t i = 0; i < total; i++)
		want[i] = (uint8_t)((i * 2654435761u) >> 13);
	f = fopen(file, "w");
	assert_int_equal(fwrite(want, 1, total, f), total);
	fclose(f);
	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	a->cfg.pipe_bytes = pipe_bytes;
	a->cfg.stall_ms = 0; /* as vigil run: a live host, nothing may be dropped */
	agent_fx_start(a);
	if (hold_ms)
		usleep((useconds_t)hold_ms * 1000);
	/* as vigil run, the host answers the EXIT it has read */
	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_EXIT, 30000) >= 0);
	assert_int_equal(rx_send(a->host, VIGIL_MSG_SHUTDOWN, 0, "\0\0\0\0", 4), 0);
	assert_true(rx_drain(&a->rx, a->host, 5000));
	assert_int_equal(agent_fx_wait(a, 5000), 0);
	for (size_t i = 0; i < a->rx.n; i++) {
		if (a->rx.f[i].type == VIGIL_MSG_EXIT) {
			ex = (ssize_t)i;
			assert_int_equal(have, total); /* EXIT after the last byte */
		}
		if (a->rx.f[i].type != VIGIL_MSG_STDOUT)
			continue;
		assert_true(have + a->rx.f[i].len <= total);
		memcpy(got + have, rx_payload(&a->rx, i), a->rx.f[i].len);
		have += a->rx.f[i].len;
	}
	assert_int_equal(have, total);
	assert_memory_equal(got, want, total);
	assert_true(ex >= 0);
	assert_int_equal(vigil_exit_decode(rx_payload(&a->rx, (size_t)ex), a->rx.f[ex].len, &e), 0);
	assert_int_equal(e.exit_status, 0);
	assert_int_equal(e.signal, 0);
	assert_int_equal(a->rx.a->st.lost_frames, 0);
	assert_int_equal(rx_last_stat(&a->rx, VIGIL_STAT_FRAMES_DROPPED), 0);
	free(want);
	free(got);
}

/* 10 MiB of workload stdout arrive byte-exact, in order, then EXIT. */
static void test_stdout_10mib(void **state)
{
	stdout_exact(*state, 10u << 20, 0, 0);
}

/* The same through 1 MiB pipes (twice the output queue). */
static void test_stdout_10mib_big_pipe(void **state)
{
	stdout_exact(*state, 10u << 20, 1u << 20, 0);
}

/*
 * A 1 MiB pipe full at the exit, while the host is not reading yet: what
 * the pipe holds then is more than the output queue, and is taken only as
 * the queue drains (the exit does not flood the queue and drop its oldest).
 */
static void test_exit_full_big_pipe(void **state)
{
	stdout_exact(*state, 1000u * 1024, 1u << 20, 500);
}

/*
 * A process that outlives the workload and is still writing to its pipe
 * when the workload exits: the EXIT comes after the workload's own output,
 * not after the writer's 8 MB.
 */
static void test_exit_despite_writer(void **state)
{
	struct agent_fx *a = *state;
	char *argv[] = { "sh", "-c", "(head -c 8000000 /dev/zero &); echo last; exit 5", NULL };
	uint64_t before = 0;
	ssize_t ex;

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	a->cfg.pipe_bytes = 1u << 20;
	agent_fx_start(a);
	assert_true(rx_drain(&a->rx, a->host, 30000));
	assert_int_equal(agent_fx_wait(a, 5000), 5);
	ex = rx_find(&a->rx, VIGIL_MSG_EXIT, 0);
	assert_true(ex > 0);
	for (ssize_t i = 0; i < ex; i++) {
		if (a->rx.f[i].type == VIGIL_MSG_STDOUT)
			before += a->rx.f[i].len;
	}
	assert_true(before >= 5);
	assert_true(before < 8000000 + 5);
}

/*
 * A host that stops reading: the workload is not blocked for ever, control
 * frames queued meanwhile survive, output drops are counted.
 */
static void test_reader_stops(void **state)
{
	struct agent_fx *a = *state;
	char *argv[] = { "sh", "-c", "head -c 41943040 /dev/zero; echo done >&2", NULL };
	uint8_t buf[64];
	char detail[64];
	uint64_t t0, stdout_bytes = 0;
	int n;

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	a->cfg.stall_ms = 200;
	agent_fx_start(a);
	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_SYS_RDY, 5000) >= 0);
	/* Stop reading for 1.5 s. The control socket answers meanwhile. */
	t0 = rx_now_ms();
	usleep(300000);
	n = vigil_scenario_encode(buf, sizeof(buf), VIGIL_STR("while-stalled"));
	assert_int_equal(ctl_call(a->ctl, VIGIL_MSG_SCENARIO_START, buf, (uint32_t)n, 2000, detail,
				  sizeof(detail)),
			 0);
	assert_true(rx_now_ms() - t0 < 1500);
	usleep(1200000);
	assert_true(rx_drain(&a->rx, a->host, 30000));
	assert_int_equal(agent_fx_wait(a, 5000), 0);
	assert_true(rx_find(&a->rx, VIGIL_MSG_SCENARIO_START, 0) >= 0);
	assert_true(rx_find(&a->rx, VIGIL_MSG_EXIT, 0) >= 0);
	for (size_t i = 0; i < a->rx.n; i++) {
		if (a->rx.f[i].type == VIGIL_MSG_STDOUT)
			stdout_bytes += a->rx.f[i].len;
	}
	assert_true(stdout_bytes < 41943040u);
	assert_true(rx_last_stat(&a->rx, VIGIL_STAT_FRAMES_DROPPED) > 0);
	assert_true(rx_last_stat(&a->rx, VIGIL_STAT_BYTES_DROPPED) >= 41943040u - stdout_bytes);
	assert_true(rx_last_stat(&a->rx, VIGIL_STAT_WRITE_STALLS) > 0);
	assert_int_equal(a->rx.a->st.lost_frames, 0); /* drops happen before seq is assigned */
}

static void test_shutdown_term_then_kill(void **state)
{
	struct agent_fx *a = *state;
	char *argv[] = { "sh", "-c", "trap '' TERM; echo up; sleep 30", NULL };
	struct vigil_exit e;
	uint64_t t0;
	ssize_t i;

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	a->cfg.grace_ms = 300;
	agent_fx_start(a);
	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_STDOUT, 5000) >= 0);
	t0 = rx_now_ms();
	assert_int_equal(rx_send(a->host, VIGIL_MSG_SHUTDOWN, 0, NULL, 0), 0);
	i = rx_until(&a->rx, a->host, VIGIL_MSG_EXIT, 5000);
	assert_true(i >= 0);
	assert_true(rx_now_ms() - t0 >= 250 && rx_now_ms() - t0 < 3000);
	assert_int_equal(vigil_exit_decode(rx_payload(&a->rx, (size_t)i), a->rx.f[i].len, &e), 0);
	assert_int_equal(e.exit_status, -1);
	assert_int_equal(e.signal, SIGKILL);
	assert_int_equal(agent_fx_wait(a, 5000), 128 + SIGKILL);
}

static void test_workload_status(void **state)
{
	struct agent_fx *a = *state;
	char *argv[] = { "sh", "-c", "printf out; printf err >&2; exit 7", NULL };
	struct vigil_exit e;
	ssize_t i, o, r;

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	/* This host never answers the EXIT: the agent falls back after ack_ms. */
	agent_fx_start(a);
	assert_true(rx_drain(&a->rx, a->host, 5000));
	assert_int_equal(agent_fx_wait(a, 5000), 7);
	i = rx_find(&a->rx, VIGIL_MSG_EXIT, 0);
	o = rx_find(&a->rx, VIGIL_MSG_STDOUT, 0);
	r = rx_find(&a->rx, VIGIL_MSG_STDERR, 0);
	assert_true(i > o && i > r && o > 0 && r > 0);
	assert_memory_equal(rx_payload(&a->rx, (size_t)o), "out", 3);
	assert_memory_equal(rx_payload(&a->rx, (size_t)r), "err", 3);
	assert_int_equal(vigil_exit_decode(rx_payload(&a->rx, (size_t)i), a->rx.f[i].len, &e), 0);
	assert_int_equal(e.exit_status, 7);
}

/* After EXIT the agent keeps the guest up until the host says it has read
 * it (SHUTDOWN), so nothing still inside the VMM is lost at power-off. */
static void test_exit_waits_for_shutdown(void **state)
{
	struct agent_fx *a = *state;
	char *argv[] = { "sh", "-c", "echo bye", NULL };

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	a->cfg.ack_ms = 20000;
	agent_fx_start(a);
	/* Still up 700 ms after the workload, its EXIT long delivered. */
	assert_int_equal(agent_fx_wait(a, 700), -1);
	assert_true(rx_find(&a->rx, VIGIL_MSG_EXIT, 0) > 0);
	assert_int_equal(rx_send(a->host, VIGIL_MSG_SHUTDOWN, 0, "\0\0\0\0", 4), 0);
	assert_int_equal(agent_fx_wait(a, 3000), 0);
}

/*
 * As under vigil run (stall_ms 0), the host stops reading for ten times
 * drain_ms and ack_ms while the workload ends with its output still
 * queued: the agent stays up, and once the host reads again every byte
 * arrives, then the EXIT; it ends at the SHUTDOWN.
 */
static void test_exit_holds_for_paused_host(void **state)
{
	struct agent_fx *a = *state;
	char *argv[] = { "head", "-c", "600000", "/dev/zero", NULL };
	size_t have = 0;
	ssize_t x;
	int st;

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	a->cfg.stall_ms = 0;
	a->cfg.drain_ms = 100;
	a->cfg.ack_ms = 100;
	agent_fx_start(a);
	usleep(1000 * 1000); /* the host reads nothing */
	assert_int_equal(waitpid(a->pid, &st, WNOHANG), 0);
	x = rx_until(&a->rx, a->host, VIGIL_MSG_EXIT, 10000);
	assert_true(x > 0);
	for (ssize_t i = 0; i < x; i++)
		if (a->rx.f[i].type == VIGIL_MSG_STDOUT)
			have += a->rx.f[i].len;
	assert_int_equal(have, 600000);
	assert_int_equal(rx_find(&a->rx, VIGIL_MSG_STDOUT, (size_t)x), -1);
	/* read, but not answered: still up */
	assert_int_equal(agent_fx_wait(a, 500), -1);
	assert_int_equal(rx_send(a->host, VIGIL_MSG_SHUTDOWN, 0, "\0\0\0\0", 4), 0);
	assert_int_equal(agent_fx_wait(a, 3000), 0);
}

/* A port that cannot be opened fails the start, and the teardown closes
 * nothing it did not open (fd 0 among them). */
static void test_start_without_port(void **state)
{
	static struct core_cfg cfg;
	int fd0 = dup(0);

	(void)state;
	assert_true(fd0 >= 0);
	core_cfg_defaults(&cfg);
	cfg.port_name = "org.vigil.absent";
	cfg.port_wait_ms = 0;
	cfg.log_fd = -1;
	assert_true(core_start(&cfg) < 0);
	assert_true(fcntl(0, F_GETFD) >= 0);
	dup2(fd0, 0);
	close(fd0);
}

/*
 * The frames the host acts on, in arrival order (beats, stats and logs
 * left out), as a string of letters: H HELLO, R SYS_RDY, S SCENARIO_START,
 * o STDOUT, e STDERR, s SCENARIO_END, X EXIT.
 */
static void frame_order(const struct rx *r, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n && n + 1 < cap; i++) {
		switch (r->f[i].type) {
		case VIGIL_MSG_HELLO:
			out[n++] = 'H';
			break;
		case VIGIL_MSG_SYS_RDY:
			out[n++] = 'R';
			break;
		case VIGIL_MSG_SCENARIO_START:
			out[n++] = 'S';
			break;
		case VIGIL_MSG_STDOUT:
			out[n++] = 'o';
			break;
		case VIGIL_MSG_STDERR:
			out[n++] = 'e';
			break;
		case VIGIL_MSG_SCENARIO_END:
			out[n++] = 's';
			break;
		case VIGIL_MSG_EXIT:
			out[n++] = 'X';
			break;
		default:
			break;
		}
	}
	out[n] = '\0';
}

static void scenario_run(struct agent_fx *a, const char *script, int status)
{
	char *argv[] = { "sh", "-c", (char *)script, NULL };
	char order[64];
	struct vigil_str name;
	struct vigil_exit e;
	ssize_t i;

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	a->cfg.scenario = "from-file \xc3\xa9";
	agent_fx_start(a);
	assert_true(rx_drain(&a->rx, a->host, 10000));
	assert_int_equal(agent_fx_wait(a, 5000), status);
	frame_order(&a->rx, order, sizeof(order));
	/* One write, one STDOUT frame: the whole order is known. */
	assert_string_equal(order, "HRSosX");
	i = rx_find(&a->rx, VIGIL_MSG_STDOUT, 0);
	assert_int_equal(a->rx.f[i].len, 12);
	assert_memory_equal(rx_payload(&a->rx, (size_t)i), "all of it\n\n\n", 12);
	for (uint16_t t = VIGIL_MSG_SCENARIO_START; t <= VIGIL_MSG_SCENARIO_END;
	     t += VIGIL_MSG_SCENARIO_END - VIGIL_MSG_SCENARIO_START) {
		i = rx_find(&a->rx, t, 0);
		assert_int_equal(
		    vigil_scenario_decode(rx_payload(&a->rx, (size_t)i), a->rx.f[i].len, &name), 0);
		assert_int_equal(name.len, 12);
		assert_memory_equal(name.ptr, "from-file \xc3\xa9", 12);
	}
	i = rx_find(&a->rx, VIGIL_MSG_EXIT, 0);
	assert_int_equal(vigil_exit_decode(rx_payload(&a->rx, (size_t)i), a->rx.f[i].len, &e), 0);
	assert_int_equal(e.exit_status, status);
	assert_int_equal(e.signal, 0);
}

/* A scenario around the workload: START before it, END after its output, before EXIT. */
static void test_scenario_exit_0(void **state)
{
	scenario_run(*state, "printf 'all of it\\n\\n\\n'", 0);
}

static void test_scenario_exit_7(void **state)
{
	scenario_run(*state, "printf 'all of it\\n\\n\\n'; exit 7", 7);
}

/* Output written just before the exit, in pieces, still comes before END. */
static void test_scenario_end_after_output(void **state)
{
	struct agent_fx *a = *state;
	char *argv[] = { "sh", "-c",
			 "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done; "
			 "echo last >&2; exit 3",
			 NULL };
	ssize_t end, ex, lastout = -1;

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	a->cfg.scenario = "s";
	agent_fx_start(a);
	assert_true(rx_drain(&a->rx, a->host, 10000));
	assert_int_equal(agent_fx_wait(a, 5000), 3);
	end = rx_find(&a->rx, VIGIL_MSG_SCENARIO_END, 0);
	ex = rx_find(&a->rx, VIGIL_MSG_EXIT, 0);
	for (size_t i = 0; i < a->rx.n; i++) {
		if (a->rx.f[i].type == VIGIL_MSG_STDOUT || a->rx.f[i].type == VIGIL_MSG_STDERR)
			lastout = (ssize_t)i;
	}
	assert_true(rx_find(&a->rx, VIGIL_MSG_SCENARIO_START, 0) <
		    rx_find(&a->rx, VIGIL_MSG_STDOUT, 0));
	assert_true(lastout > 0 && end > lastout && ex == end + 1);
	assert_int_equal(rx_find(&a->rx, VIGIL_MSG_SCENARIO_END, (size_t)end + 1), -1);
}

/* An invalid workload file: its message as the workload's stderr, EXIT 126, nothing run. */
static void test_workload_refused(void **state)
{
	struct agent_fx *a = *state;
	static const char msg[] = "vigil-agent: /etc/vigil/workload: record 3 has no '='\n";
	char order[64];
	struct vigil_hello h;
	struct vigil_exit e;
	ssize_t i;

	a->cfg.workload_error = msg;
	a->cfg.exit_with_workload = true;
	a->cfg.scenario = NULL;
	agent_fx_start(a);
	assert_true(rx_drain(&a->rx, a->host, 10000));
	assert_int_equal(agent_fx_wait(a, 5000), 126);
	frame_order(&a->rx, order, sizeof(order));
	assert_string_equal(order, "HReX");
	i = rx_find(&a->rx, VIGIL_MSG_STDERR, 0);
	assert_int_equal(a->rx.f[i].len, sizeof(msg) - 1);
	assert_memory_equal(rx_payload(&a->rx, (size_t)i), msg, sizeof(msg) - 1);
	i = rx_find(&a->rx, VIGIL_MSG_EXIT, 0);
	assert_int_equal(vigil_exit_decode(rx_payload(&a->rx, (size_t)i), a->rx.f[i].len, &e), 0);
	assert_int_equal(e.exit_status, 126);
	assert_int_equal(e.signal, 0);
	assert_int_equal(vigil_hello_decode(rx_payload(&a->rx, 0), a->rx.f[0].len, &h), 0);
	assert_true(h.capabilities & CORE_CAP_WORKLOAD);
}

/* Notes (unknown workload-file keys) go out as LOG lines. */
static void test_notes_logged(void **state)
{
	struct agent_fx *a = *state;
	static const char *const notes[] = { "f: ignoring unknown key 'zz' (record 2)", NULL };
	char *argv[] = { "true", NULL };
	struct vigil_log lg;
	bool seen = false;

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	a->cfg.notes = notes;
	agent_fx_start(a);
	assert_true(rx_drain(&a->rx, a->host, 10000));
	assert_int_equal(agent_fx_wait(a, 5000), 0);
	for (size_t i = 0; i < a->rx.n; i++) {
		if (a->rx.f[i].type != VIGIL_MSG_LOG)
			continue;
		assert_int_equal(vigil_log_decode(rx_payload(&a->rx, i), a->rx.f[i].len, &lg), 0);
		if (lg.text_len == strlen(notes[0]) && !memcmp(lg.text, notes[0], lg.text_len)) {
			assert_int_equal(lg.level, 4);
			seen = true;
		}
	}
	assert_true(seen);
}

/* The LOG line "boot marks us: ..." of a run (NULL none), in buf. */
static const char *boot_marks_line(struct agent_fx *a, char *buf, size_t cap)
{
	struct vigil_log lg;
	const char *found = NULL;

	for (size_t i = 0; i < a->rx.n; i++) {
		if (a->rx.f[i].type != VIGIL_MSG_LOG ||
		    vigil_log_decode(rx_payload(&a->rx, i), a->rx.f[i].len, &lg) < 0 ||
		    lg.text_len < 14 || memcmp(lg.text, "boot marks us:", 14) != 0)
			continue;
		assert_null(found); /* once */
		assert_int_equal(lg.level, 6);
		assert_true(rx_find(&a->rx, VIGIL_MSG_SYS_RDY, 0) < (ssize_t)i);
		snprintf(buf, cap, "%.*s", (int)lg.text_len, (const char *)lg.text);
		found = buf;
	}
	return found;
}

/* PID 1's marks and the agent's own go out once after SYS_RDY; none
 * without PID 1's (an agent not started by it, or started again). */
static void test_boot_marks(void **state)
{
	struct agent_fx *a = *state;
	char *argv[] = { "true", NULL };
	char line[512];
	unsigned long long init, mod, root, port, src, hello;
	unsigned loaded, workers, skipped;

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	a->cfg.boot_init_ns = 1000000;
	a->cfg.boot_modules_ns = 2500000;
	a->cfg.boot_modules = 13;
	a->cfg.boot_mod_workers = 2;
	a->cfg.boot_mod_skipped = 4;
	agent_fx_start(a);
	assert_true(rx_drain(&a->rx, a->host, 10000));
	assert_int_equal(agent_fx_wait(a, 5000), 0);
	assert_non_null(boot_marks_line(a, line, sizeof(line)));
	assert_int_equal(sscanf(line,
				"boot marks us: init=%llu modules=%llu root=%llu port=%llu "
				"sources=%llu hello=%llu modules_loaded=%u workers=%u "
				"modules_skipped=%u",
				&init, &mod, &root, &port, &src, &hello, &loaded, &workers,
				&skipped),
			 9);
	assert_int_equal(init, 1000);
	assert_int_equal(mod, 2500);
	assert_int_equal(root, 0);
	assert_true(port > 0 && port <= src && src <= hello);
	assert_int_equal(loaded, 13);
	assert_int_equal(workers, 2);
	assert_int_equal(skipped, 4);
}

static void test_no_boot_marks(void **state)
{
	struct agent_fx *a = *state;
	char *argv[] = { "true", NULL };
	char line[512];

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	agent_fx_start(a);
	assert_true(rx_drain(&a->rx, a->host, 10000));
	assert_int_equal(agent_fx_wait(a, 5000), 0);
	assert_null(boot_marks_line(a, line, sizeof(line)));
}

/*
 * The workload file allows 65536 words: more than exec takes under the
 * usual 8 MiB stack limit (2 MiB of strings). The runner makes room.
 */
static void test_big_argv(void **state)
{
	struct agent_fx *a = *state;
	const size_t n = 65536, wlen = 47;
	char **argv = calloc(n + 1, sizeof(*argv));
	char *words = malloc((n - 4) * (wlen + 1));
	ssize_t i;

	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = "echo $# ${65532}";
	argv[3] = "sh";
	for (size_t k = 0; k < n - 4; k++) {
		char *w = words + k * (wlen + 1);

		memset(w, 'a' + (int)(k % 26), wlen);
		snprintf(w, wlen + 1, "%zu", k + 1);
		w[strlen(w)] = 'w'; /* the number, then letters up to wlen */
		w[wlen] = '\0';
		argv[4 + k] = w;
	}
	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	agent_fx_start(a);
	assert_true(rx_drain(&a->rx, a->host, 20000));
	assert_int_equal(agent_fx_wait(a, 5000), 0);
	i = rx_find(&a->rx, VIGIL_MSG_STDOUT, 0);
	assert_true(i >= 0);
	assert_int_equal(a->rx.f[i].len, 6 + wlen + 1);
	assert_memory_equal(rx_payload(&a->rx, (size_t)i), "65532 65532w", 12);
	free(words);
	free(argv);
}

/* AGENT_STATS carries the protocol's 8 counters and the agent's 24, in
 * docs/agent.md's order, flows_dup_destroys last. */
static void test_stats_layout(void **state)
{
	struct agent_fx *a = *state;
	char *argv[] = { "true", NULL };
	struct vigil_agent_stats st = { 0 };
	bool seen = false;

	a->cfg.argv = argv;
	a->cfg.exit_with_workload = true;
	agent_fx_start(a);
	assert_true(rx_drain(&a->rx, a->host, 10000));
	assert_int_equal(agent_fx_wait(a, 5000), 0);
	for (size_t k = 0; k < a->rx.n; k++)
		if (a->rx.f[k].type == VIGIL_MSG_AGENT_STATS)
			seen = vigil_agent_stats_decode(rx_payload(&a->rx, k), a->rx.f[k].len,
							&st) == 0;
	assert_true(seen);
	assert_int_equal(st.count, 32);
	assert_int_equal(vigil_agent_stats_get(&st, 31), 0); /* no socket told twice */
}

/* ---- INSPECT ----------------------------------------------------------- */

/* AGENT_STATS indexes of the agent's own counters (docs/agent.md). */
#define STAT_RX_REJECTED  15
#define STAT_INSPECTIONS  21
#define STAT_INSPECT_BUSY 22

/* Every PROCESS_REPORT received so far for request id: how many (out: the last). */
static int reports_for(const struct rx *r, uint32_t id, struct vigil_process_report *out)
{
	int n = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct vigil_process_report rep;

		if (r->f[i].type != VIGIL_MSG_PROCESS_REPORT)
			continue;
		assert_int_equal(vigil_process_report_decode(rx_payload(r, i), r->f[i].len, &rep),
				 0);
		if (rep.request_id == id) {
			*out = rep;
			n++;
		}
	}
	return n;
}

static size_t inspect_frame(uint8_t *buf, size_t cap, uint32_t seq, uint32_t id, uint32_t pid)
{
	uint8_t p[8];
	int n;

	vigil_put32(p, id);
	vigil_put32(p + 4, pid);
	n = vigil_frame_encode(buf, cap, VIGIL_MSG_INSPECT, seq, p, 8);
	assert_int_equal(n, 32);
	return 32;
}

static uint32_t hello_caps(struct agent_fx *a)
{
	struct vigil_hello h;

	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_SYS_RDY, 5000) >= 0);
	assert_int_equal(a->rx.f[0].type, VIGIL_MSG_HELLO);
	assert_int_equal(vigil_hello_decode(rx_payload(&a->rx, 0), a->rx.f[0].len, &h), 0);
	return h.capabilities;
}

/* The agent (a child of this test) inspects this test process. */
static void test_inspect_self(void **state)
{
	struct agent_fx *a = *state;
	struct vigil_process_report r;
	uint8_t f[32];
	char comm[80];
	FILE *fp;
	size_t n;

	agent_fx_start(a);
	assert_true(hello_caps(a) & VIGIL_CAP_INSPECT);
	inspect_frame(f, sizeof(f), 0, 1, (uint32_t)getpid());
	assert_int_equal(write(a->host, f, sizeof(f)), (ssize_t)sizeof(f));
	assert_true(rx_until(&a->rx, a->host, VIGIL_MSG_PROCESS_REPORT, 5000) >= 0);
	assert_int_equal(reports_for(&a->rx, 1, &r), 1);
	assert_int_equal(r.pid, getpid());
	assert_int_equal(r.status, 0);
	assert_true(r.state == 'R' || r.state == 'S'); /* running, or in poll() */
	assert_int_equal(r.policy, (uint32_t)sched_getscheduler(0));
	fp = fopen("/proc/self/comm", "r");
	assert_non_null(fp);
	n = fread(comm, 1, sizeof(comm), fp);
	fclose(fp);
	assert_true(n > 1);
	assert_int_equal(r.comm.len, n - 1);
	assert_memory_equal(r.comm.ptr, comm, n - 1);
	assert_true(r.cgroup.len > 0);
}

/*
 * One write: a pid that does not exist, three that do, a fifth request
 * while those four are in flight, then a malformed (pid 1), a zero id and a
 * torn INSPECT. The agent decodes all of them in one turn of its loop and
 * frees a slot only when it queues a report, in a later turn: so the fifth
 * is refused, whatever the worker has finished meanwhile.
 */
static void test_inspect_gone_busy_malformed(void **state)
{
	struct agent_fx *a = *state;
	const uint32_t me = (uint32_t)getpid();
	struct vigil_process_report r;
	uint8_t buf[8 * 32];
	size_t len = 0;
	uint64_t end;

	agent_fx_start(a);
	assert_true(hello_caps(a) & VIGIL_CAP_INSPECT);
	len += inspect_frame(buf + len, sizeof(buf) - len, 0, 20, INT32_MAX);
	for (uint32_t id = 21; id <= 24; id++)
		len += inspect_frame(buf + len, sizeof(buf) - len, id - 20, id, me);
	len += inspect_frame(buf + len, sizeof(buf) - len, 5, 25, 1);
	len += inspect_frame(buf + len, sizeof(buf) - len, 6, 0, me);
	len += inspect_frame(buf + len, sizeof(buf) - len, 7, 26, me);
	buf[len - 1] ^= 0x40; /* torn: the payload CRC no longer holds */
	assert_int_equal(write(a->host, buf, len), (ssize_t)len);
	end = rx_now_ms() + 5000;
	while (rx_now_ms() < end && reports_for(&a->rx, 23, &r) + reports_for(&a->rx, 24, &r) < 2)
		rx_pump(&a->rx, a->host, 50);
	rx_pump(&a->rx, a->host, 300); /* anything that should not come */
	assert_int_equal(reports_for(&a->rx, 20, &r), 1);
	assert_int_equal(r.status, -ESRCH);
	assert_int_equal(r.pid, INT32_MAX);
	for (uint32_t id = 21; id <= 23; id++) {
		assert_int_equal(reports_for(&a->rx, id, &r), 1);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.pid, me);
	}
	assert_int_equal(reports_for(&a->rx, 24, &r), 1);
	assert_int_equal(r.status, -EBUSY);
	assert_int_equal(r.pid, me);
	assert_int_equal(reports_for(&a->rx, 25, &r), 0);
	assert_int_equal(reports_for(&a->rx, 26, &r), 0);
	assert_int_equal(reports_for(&a->rx, 0, &r), 0);
	/* The slots are free again. */
	len = inspect_frame(buf, sizeof(buf), 8, 27, me);
	assert_int_equal(write(a->host, buf, len), (ssize_t)len);
	end = rx_now_ms() + 5000;
	while (rx_now_ms() < end &&
	       (reports_for(&a->rx, 27, &r) == 0 || rx_last_stat(&a->rx, STAT_INSPECTIONS) != 5))
		rx_pump(&a->rx, a->host, 50);
	assert_int_equal(reports_for(&a->rx, 27, &r), 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(rx_last_stat(&a->rx, STAT_INSPECTIONS), 5);
	assert_int_equal(rx_last_stat(&a->rx, STAT_INSPECT_BUSY), 1);
	assert_int_equal(rx_last_stat(&a->rx, STAT_RX_REJECTED), 3);
}

/* No inspector: no bit 6, and INSPECT is an unknown type, unanswered. */
static void test_inspect_off(void **state)
{
	struct agent_fx *a = *state;
	struct vigil_process_report r;
	uint8_t f[32];
	uint64_t end;

	a->cfg.proc_path = NULL;
	agent_fx_start(a);
	assert_false(hello_caps(a) & VIGIL_CAP_INSPECT);
	inspect_frame(f, sizeof(f), 0, 1, (uint32_t)getpid());
	assert_int_equal(write(a->host, f, sizeof(f)), (ssize_t)sizeof(f));
	end = rx_now_ms() + 5000;
	while (rx_now_ms() < end && rx_last_stat(&a->rx, STAT_RX_REJECTED) != 1)
		rx_pump(&a->rx, a->host, 50);
	assert_int_equal(rx_last_stat(&a->rx, STAT_RX_REJECTED), 1);
	assert_int_equal(reports_for(&a->rx, 1, &r), 0);
	assert_int_equal(rx_last_stat(&a->rx, STAT_INSPECTIONS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello_then_sys_rdy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_pong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_beats_relayed_and_forged_rejected, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dense_beats_all_relayed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopping_through_stop_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdout_10mib, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdout_10mib_big_pipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_full_big_pipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_despite_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_term_then_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workload_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_waits_for_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_holds_for_paused_host, setup, teardown),
		cmocka_unit_test(test_start_without_port),
		cmocka_unit_test_setup_teardown(test_boot_marks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_boot_marks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scenario_exit_0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scenario_exit_7, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scenario_end_after_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workload_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notes_logged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_argv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inspect_self, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inspect_gone_busy_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inspect_off, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
