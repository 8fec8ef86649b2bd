/* SPDX-License-Identifier: MIT */
/*
 * Tests for host/cli/fleet_args.c (the options of `vigil watch` and `vigil
 * status`) and host/cli/domxml.c (what watch reads from a domain's XML).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "domxml.h"
#include "fleet_args.h"
#include "fleet_int.h"
#include "test_util.h"

static int parse(struct vigil_fleet_args *a, const char *first, ...)
{
	char **argv;
	va_list ap;
	int argc;

	va_start(ap, first);
	argc = tu_argv(&argv, first, ap);
	va_end(ap);
	return vigil_fleet_args_parse(a, argc, argv);
}

static void test_watch_defaults(void **state)
{
	struct vigil_fleet_args a;

	(void)state;
	assert_int_equal(parse(&a, "watch", NULL), 0);
	assert_null(a.uri);
	assert_string_equal(a.metrics, FLEET_METRICS_DEFAULT);
	assert_int_equal(a.keep_runs, FLEET_KEEP_RUNS_DEFAULT);
	assert_int_equal(a.sopts.mode, VIGIL_MODE_WATCH);
	assert_false(a.sopts.ack_exit); /* an observer never powers a guest off */
	assert_int_equal(a.sopts.boot_timeout_ns, 0);
}

static void test_watch_options(void **state)
{
	struct vigil_fleet_args a;

	(void)state;
	assert_int_equal(parse(&a, "watch", "--connect", "qemu+ssh://h/system", "--domain", "web",
			       "--domain", "db", "--metrics", "[::1]:9100", "--out-dir", "/o",
			       "--keep-runs", "3", "--stall-threshold", "2s", "--on-stall", "fail",
			       "--fail-on", "oom,oops", "--force", "--on-stall-exec", "hook {pid}",
			       "--on-stall-unattested", "--events", "-", NULL),
			 0);
	assert_string_equal(a.uri, "qemu+ssh://h/system");
	assert_int_equal(a.n_domains, 2);
	assert_string_equal(a.domains[1], "db");
	assert_string_equal(a.metrics, "[::1]:9100");
	assert_int_equal(a.keep_runs, 3);
	assert_int_equal(a.sopts.stall_threshold_ns, 2000000000ull);
	assert_int_equal(a.sopts.on_stall, VIGIL_ON_STALL_FAIL);
	assert_true(a.sopts.fail_on & (1u << VIGIL_KT_OOM));
	assert_true(a.force && a.on_stall_unattested);
	assert_int_equal(parse(&a, "watch", "--metrics", "off", NULL), 0);
	assert_null(a.metrics);
}

static void test_watch_refusals(void **state)
{
	struct vigil_fleet_args a;

	(void)state;
	assert_int_equal(parse(&a, "watch", "--keep-runs", "0", NULL), VIGIL_EXIT_USAGE);
	assert_int_equal(parse(&a, "watch", "--stall-threshold", "soon", NULL), VIGIL_EXIT_USAGE);
	assert_int_equal(parse(&a, "watch", "--on-stall", "panic", NULL), VIGIL_EXIT_USAGE);
	assert_int_equal(parse(&a, "watch", "--fail-on", "oom,nope", NULL), VIGIL_EXIT_USAGE);
	assert_int_equal(parse(&a, "watch", "--on-stall-unattested", NULL), VIGIL_EXIT_USAGE);
	assert_int_equal(parse(&a, "watch", "--metrics", "off", "--metrics-token-file", "t", NULL),
			 VIGIL_EXIT_USAGE);
	assert_int_equal(parse(&a, "watch", "extra", NULL), VIGIL_EXIT_USAGE);
	assert_int_equal(parse(&a, "watch", "--kernel", "k", NULL), VIGIL_EXIT_USAGE);
}

static void test_status_args(void **state)
{
	struct vigil_status_args a;
	char *argv[] = { "status", "--metrics", "127.0.0.1:1", "--json", NULL };

	(void)state;
	assert_int_equal(vigil_status_args_parse(&a, 4, argv), 0);
	assert_string_equal(a.metrics, "127.0.0.1:1");
	assert_true(a.json);
}

static const char dom_xml[] =
    "<domain type='qemu' id='3'><name>web</name><devices>"
    "<channel type='pty'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
    "<channel type='unix'><source mode='bind' path='/run/x.sock'/>"
    "<target type='virtio' name='org.vigil.bulk.0' state='connected'/>"
    "<alias name='channel1'/></channel></devices></domain>";

static void test_domxml(void **state)
{
	struct vigil_domxml x;
	char big[64];

	(void)state;
	assert_int_equal(vigil_domxml_parse(dom_xml, strlen(dom_xml), &x), 0);
	assert_true(x.has_channel);
	assert_true(x.unix_channel);
	assert_string_equal(x.alias, "channel1");
	assert_int_equal(x.connected, 1);
	/* qemu-ga's channel alone is not ours */
	static const char ga[] = "<domain><devices><channel type='unix'><target type='virtio' "
				 "name='org.qemu.guest_agent.0'/></channel></devices></domain>";
	assert_int_equal(vigil_domxml_parse(ga, strlen(ga), &x), 0);
	assert_false(x.has_channel);
	/* a pty channel is seen, but libvirt cannot open it for a client */
	static const char pty[] = "<domain><devices><channel type='pty'><target type='virtio' "
				  "name='org.vigil.bulk.0' state='disconnected'/></channel>"
				  "</devices></domain>";
	assert_int_equal(vigil_domxml_parse(pty, strlen(pty), &x), 0);
	assert_true(x.has_channel);
	assert_false(x.unix_channel);
	assert_int_equal(x.connected, 0);
	assert_string_equal(x.alias, "");
	/* not XML, and no network or entities */
	snprintf(big, sizeof(big), "<domain><devices>");
	assert_int_equal(vigil_domxml_parse(big, strlen(big), &x), -EBADMSG);
	static const char ent[] = "<!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
				  "<domain><name>&e;</name></domain>";
	assert_int_equal(vigil_domxml_parse(ent, strlen(ent), &x), 0);
	assert_false(x.has_channel);
}

/* --out-dir's runs of a domain: the oldest past --keep-runs go, and the
 * dumps the kept ones hold are what the next run's dump bound starts from. */
static void test_prune_runs_dumps_kept(void **state)
{
	char *dir = tu_mkdtemp(), p[PATH_MAX];
	static const char big[4 * 4096];

	(void)state;
	/* four runs, oldest first: run r has a dump of r pages, a cut one of a
	 * page and a CPU-state file */
	for (int r = 1; r <= 4; r++) {
		snprintf(p, sizeof(p), "2026120%dT000000Z/verdict.json", r);
		tu_write_str(dir, p, "{}");
		snprintf(p, sizeof(p), "2026120%dT000000Z/snapshots/g-%d.elf", r, r);
		assert_int_equal(tu_write(dir, p, big, 4096u * (size_t)r, 0644), 0);
		snprintf(p, sizeof(p), "2026120%dT000000Z/snapshots/g-9.elf.partial", r);
		assert_int_equal(tu_write(dir, p, big, 4096, 0644), 0);
		snprintf(p, sizeof(p), "2026120%dT000000Z/snapshots/g-%d-cpu.txt", r, r);
		tu_write_str(dir, p, "RAX=1");
	}
	/* keep 3: run 1 goes; runs 2-4 hold 2 + 1, 3 + 1 and 4 + 1 pages of dumps */
	assert_int_equal(vigil_fleet_prune_runs(dir, 3), 4096u * (3 + 4 + 5));
	snprintf(p, sizeof(p), "%s/20261201T000000Z", dir);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/20261202T000000Z/snapshots/g-2-cpu.txt", dir);
	assert_int_equal(access(p, F_OK), 0);
	/* keep 1: only the newest, with its dumps */
	assert_int_equal(vigil_fleet_prune_runs(dir, 1), 4096u * 5);
	snprintf(p, sizeof(p), "%s/20261203T000000Z", dir);
	assert_int_equal(access(p, F_OK), -1);
	tu_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_defaults), cmocka_unit_test(test_watch_options),
		cmocka_unit_test(test_watch_refusals), cmocka_unit_test(test_status_args),
		cmocka_unit_test(test_domxml),         cmocka_unit_test(test_prune_runs_dumps_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
