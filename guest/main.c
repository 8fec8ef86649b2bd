/* SPDX-License-Identifier: MIT */
/*
 * vigil-agent: entry point. Chooses the mode:
 *   PID 1                 init: mounts, modules, then the agent as a child
 *                         (so it can beat with a pid of its own), power-off
 *                         when it returns;
 *   beat | emit | snapshot  client subcommands (cli.c);
 *   otherwise             daemon: the agent in a full system (systemd unit).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core.h"
#include "init.h"
#include "modload.h"
#include "prio.h"
#include "rootfs.h"
#include "runner.h"
#include "util.h"
#include "workload.h"

extern char **environ;

static const char usage_text[] =
    "usage: vigil-agent [daemon] [OPTIONS] [-- COMMAND ARG...]\n"
    "       vigil-agent beat [--status ok|degraded|critical|stopping] [--payload N]\n"
    "                        [--deadline DUR] [--every DUR] [--sock PATH]\n"
    "       vigil-agent emit scenario-start NAME | scenario-pause [NAME] |\n"
    "                        scenario-resume [NAME] | scenario-end [NAME] |\n"
    "                        sched-exit [--code N] [--kind K] REASON |\n"
    "                        result NAME pass|fail|skip|error [--duration D] [MESSAGE]\n"
    "       vigil-agent snapshot --kind memory|cpu|counters [--tag T] [--timeout D]\n"
    "beat sends one beat, or with --every one per DUR until SIGTERM/SIGINT (then\n"
    "STOPPING). The host's --stall-threshold applies to every process unless it\n"
    "declares its own deadline with --deadline (or the deadline argument of\n"
    "vigil_beat()); --every alone declares none.\n"
    "As PID 1 it is an init: see docs/agent.md for the kernel command line and\n"
    "the workload file /etc/vigil/workload.\n"
    "Daemon options:\n"
    "  --port NAME          virtio-serial port name (org.vigil.bulk.0)\n"
    "  --port-fd N          use fd N as the port (tests, wrappers)\n"
    "  --port-wait MS       wait this long for the port to appear (10000)\n"
    "  --beat-sock PATH     beat socket (/run/vigil/beat.sock)\n"
    "  --beat-mode OCTAL    beat socket mode (0666; its directory is made 0755)\n"
    "  --ctl-sock PATH|off  control socket (/run/vigil/ctl.sock, mode 0600)\n"
    "  --ctl-mode OCTAL     control socket mode (0600)\n"
    "  --kmsg PATH|off      kernel log (/dev/kmsg)\n"
    "  --kmsg-rate N        DMESG lines per second (1000), burst 4x\n"
    "  --flows MS|off       sock_diag poll interval (1000)\n"
    "  --flows-bpf on|off   cgroup BPF counters for UDP bytes and owners (on)\n"
    "  --scx PATH|off       sched_ext state file (/sys/kernel/sched_ext/state)\n"
    "  --inspect PATH|off   answer the host's INSPECT from this proc (/proc)\n"
    "  --stats MS           AGENT_STATS period (1000)\n"
    "  --self-beat MS|off   the agent's own beat (1000)\n"
    "  --grace MS           SIGTERM to SIGKILL for the workload (5000)\n"
    "  --drain MS           flush bound before exiting (5000)\n"
    "  --pipe-size BYTES    the workload's stdout/stderr pipe size (kernel default;\n"
    "                       more than fs.pipe-max-size needs CAP_SYS_RESOURCE)\n"
    "  --stall MS           port stuck this long: drop output instead of holding it\n"
    "                       (2000; 0: never drop, hold the workload)\n"
    "  --on-shutdown ignore|exit|poweroff   host SHUTDOWN (ignore)\n"
    "  --quiet              no warnings on stderr\n"
    "With -- COMMAND, the agent runs it as the workload and exits with its status.\n";

static int parse_ms_opt(const char *s, uint64_t *out)
{
	if (!strcmp(s, "off")) {
		*out = 0;
		return 0;
	}
	return util_parse_ms(s, out);
}

static int parse_mode(const char *s, mode_t *out)
{
	mode_t m = 0;

	if (!*s || strlen(s) > 4)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return -EINVAL;
		m = (mode_t)(m * 8 + (mode_t)(*s - '0'));
	}
	*out = m & 0777;
	return 0;
}

static int daemon_main(int argc, char **argv)
{
	enum {
		O_PORT = 1,
		O_PORT_FD,
		O_PORT_WAIT,
		O_BEAT,
		O_BEAT_MODE,
		O_CTL,
		O_CTL_MODE,
		O_KMSG,
		O_KMSG_RATE,
		O_FLOWS,
		O_FLOWS_BPF,
		O_SCX,
		O_INSPECT,
		O_STATS,
		O_SELF,
		O_GRACE,
		O_DRAIN,
		O_STALL,
		O_PIPE,
		O_SHUT,
		O_QUIET,
		O_HELP
	};
	static const struct option opts[] = {
		{ "port", 1, NULL, O_PORT },
		{ "port-fd", 1, NULL, O_PORT_FD },
		{ "port-wait", 1, NULL, O_PORT_WAIT },
		{ "beat-sock", 1, NULL, O_BEAT },
		{ "beat-mode", 1, NULL, O_BEAT_MODE },
		{ "ctl-sock", 1, NULL, O_CTL },
		{ "ctl-mode", 1, NULL, O_CTL_MODE },
		{ "kmsg", 1, NULL, O_KMSG },
		{ "kmsg-rate", 1, NULL, O_KMSG_RATE },
		{ "flows", 1, NULL, O_FLOWS },
		{ "flows-bpf", 1, NULL, O_FLOWS_BPF },
		{ "scx", 1, NULL, O_SCX },
		{ "inspect", 1, NULL, O_INSPECT },
		{ "stats", 1, NULL, O_STATS },
		{ "self-beat", 1, NULL, O_SELF },
		{ "grace", 1, NULL, O_GRACE },
		{ "drain", 1, NULL, O_DRAIN },
		{ "stall", 1, NULL, O_STALL },
		{ "pipe-size", 1, NULL, O_PIPE },
		{ "on-shutdown", 1, NULL, O_SHUT },
		{ "quiet", 0, NULL, O_QUIET },
		{ "help", 0, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct core_cfg cfg;
	uint64_t v;
	int c, bad = 0;

	core_cfg_defaults(&cfg);
	cfg.on_shutdown = CORE_SHUTDOWN_IGNORE;
	cfg.notify = getenv("NOTIFY_SOCKET") != NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case O_PORT:
			cfg.port_name = optarg;
			break;
		case O_PORT_FD:
			bad |= util_parse_u64(optarg, 65535, &v);
			cfg.port_fd = (int)v;
			break;
		case O_PORT_WAIT:
			bad |= util_parse_ms(optarg, &cfg.port_wait_ms);
			break;
		case O_BEAT:
			cfg.beat_path = optarg;
			break;
		case O_CTL:
			cfg.ctl_path = strcmp(optarg, "off") ? optarg : NULL;
			break;
		case O_BEAT_MODE:
			bad |= parse_mode(optarg, &cfg.beat_mode);
			break;
		case O_CTL_MODE:
			bad |= parse_mode(optarg, &cfg.ctl_mode);
			break;
		case O_KMSG:
			cfg.kmsg_path = strcmp(optarg, "off") ? optarg : NULL;
			break;
		case O_KMSG_RATE:
			bad |= util_parse_u64(optarg, 1000000, &v);
			cfg.kmsg_rate = (uint32_t)v;
			cfg.kmsg_burst = (uint32_t)v * 4;
			break;
		case O_FLOWS:
			bad |= parse_ms_opt(optarg, &cfg.flows_ms);
			break;
		case O_FLOWS_BPF:
			cfg.flows_bpf = !strcmp(optarg, "on");
			bad |= !cfg.flows_bpf && strcmp(optarg, "off");
			break;
		case O_SCX:
			cfg.scx_path = strcmp(optarg, "off") ? optarg : NULL;
			break;
		case O_INSPECT:
			cfg.proc_path = strcmp(optarg, "off") ? optarg : NULL;
			break;
		case O_STATS:
			bad |= parse_ms_opt(optarg, &cfg.stats_ms);
			break;
		case O_SELF:
			bad |= parse_ms_opt(optarg, &cfg.self_beat_ms);
			break;
		case O_GRACE:
			bad |= util_parse_ms(optarg, &cfg.grace_ms);
			break;
		case O_DRAIN:
			bad |= util_parse_ms(optarg, &cfg.drain_ms);
			break;
		case O_STALL:
			bad |= util_parse_ms(optarg, &cfg.stall_ms);
			break;
		case O_PIPE:
			bad |= util_parse_u64(optarg, PIPE_BYTES_MAX, &v);
			cfg.pipe_bytes = (uint32_t)v;
			break;
		case O_SHUT:
			if (!strcmp(optarg, "ignore"))
				cfg.on_shutdown = CORE_SHUTDOWN_IGNORE;
			else if (!strcmp(optarg, "exit"))
				cfg.on_shutdown = CORE_SHUTDOWN_EXIT;
			else if (!strcmp(optarg, "poweroff"))
				cfg.on_shutdown = CORE_SHUTDOWN_POWEROFF;
			else
				bad = 1;
			break;
		case O_QUIET:
			cfg.log_fd = -1;
			break;
		case O_HELP:
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			bad = 1;
		}
		if (bad) {
			fprintf(stderr, "vigil-agent: bad value for an option (see --help)\n");
			return CLI_USAGE;
		}
	}
	if (optind < argc) {
		cfg.argv = argv + optind;
		cfg.exit_with_workload = true;
	}
	return core_run(&cfg);
}

/* ---- PID 1 ------------------------------------------------------------- */

static void pid1_log(const char *what, const char *path, int err)
{
	dprintf(2, "vigil-agent: %s %s: %s\n", what, path, strerror(-err));
}

static uint64_t param_ms(const struct init_cmdline *c, const char *key, uint64_t def)
{
	const char *v = init_param(c, key);
	uint64_t ms;

	if (!v)
		return def;
	if (util_parse_ms(v, &ms) < 0) {
		dprintf(2, "vigil-agent: ignoring vigil.%s=%s: not a duration\n", key, v);
		return def;
	}
	return ms;
}

static bool param_off(const struct init_cmdline *c, const char *key)
{
	const char *v = init_param(c, key);

	return v && (!strcmp(v, "0") || !strcmp(v, "off"));
}

/* The workload's environment: fixed defaults, then what the kernel passed to init. */
static char **build_env(char **store, size_t cap, const char *beat, const char *ctl)
{
	static char beat_env[160], ctl_env[160];
	size_t n = 0;

	snprintf(beat_env, sizeof(beat_env), "VIGIL_BEAT_SOCK=%s", beat);
	snprintf(ctl_env, sizeof(ctl_env), "VIGIL_CTL_SOCK=%s", ctl);
	store[n++] = "PATH=/bin:/sbin:/usr/bin:/usr/sbin";
	store[n++] = "HOME=/root";
	store[n++] = "TERM=linux";
	store[n++] = "LANG=C.UTF-8";
	store[n++] = "VIGIL_GUEST=1";
	store[n++] = beat_env;
	store[n++] = ctl_env;
	for (char **e = environ; *e && n < cap - 1; e++) {
		if (strncmp(*e, "PATH=", 5) && strncmp(*e, "HOME=", 5) && strncmp(*e, "TERM=", 5) &&
		    strncmp(*e, "LANG=", 5) && strncmp(*e, "VIGIL_", 6))
			store[n++] = *e;
	}
	store[n] = NULL;
	return store;
}

/* Everything left gets SIGTERM, then 0.5 s later SIGKILL; then power off. */
static void end_all(void) __attribute__((noreturn));
static void end_all(void)
{
	kill(-1, SIGTERM);
	for (int i = 0; i < 50 && waitpid(-1, NULL, WNOHANG) >= 0; i++)
		usleep(10000);
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	init_poweroff();
}

/* The agent's settings from vigil.* parameters. */
static void pid1_config(const struct init_cmdline *cl, struct core_cfg *cfg)
{
	const char *v;

	core_cfg_defaults(cfg);
	cfg->port_name = (v = init_param(cl, "port")) && *v ? v : cfg->port_name;
	cfg->port_wait_ms = param_ms(cl, "port_wait_ms", cfg->port_wait_ms);
	cfg->flows_ms = param_off(cl, "flows") ? 0 : param_ms(cl, "flows_ms", cfg->flows_ms);
	cfg->flows_bpf = !param_off(cl, "flows_bpf");
	cfg->grace_ms = param_ms(cl, "grace_ms", cfg->grace_ms);
	cfg->drain_ms = param_ms(cl, "drain_ms", cfg->drain_ms);
	cfg->ack_ms = param_ms(cl, "ack_ms", cfg->ack_ms);
	cfg->stats_ms = param_ms(cl, "stats_ms", cfg->stats_ms);
	cfg->stall_ms = param_ms(cl, "stall_ms", cfg->stall_ms);
	if (param_off(cl, "kmsg"))
		cfg->kmsg_path = NULL;
	if ((v = init_param(cl, "kmsg_rate"))) {
		uint64_t r;

		if (util_parse_u64(v, 1000000, &r) == 0 && r) {
			cfg->kmsg_rate = (uint32_t)r;
			cfg->kmsg_burst = (uint32_t)r * 4;
		}
	}
	if ((v = init_param(cl, "pipe_size"))) {
		uint64_t b;

		if (util_parse_u64(v, PIPE_BYTES_MAX, &b) == 0)
			cfg->pipe_bytes = (uint32_t)b;
		else
			dprintf(2,
				"vigil-agent: ignoring vigil.pipe_size=%s: not a byte count "
				"up to 256 MiB\n",
				v);
	}
	cfg->on_shutdown = CORE_SHUTDOWN_POWEROFF;
	cfg->rt_prio = PRIO_DEFAULT;
	if ((v = init_param(cl, "rt_prio"))) {
		uint64_t p;

		if (util_parse_u64(v, 99, &p) == 0)
			cfg->rt_prio = (int)p;
	}
}

/*
 * The workload: the workload file when it exists (it replaces the command
 * line's; an invalid one is reported as the workload's failure, never
 * replaced by the command line's), else vigil.run=, else the words after
 * "--", else none (monitor until SHUTDOWN).
 */
static void pid1_workload(const struct init_cmdline *cl, struct core_cfg *cfg)
{
	static struct wl wl;
	static char err[WL_ERR_LEN + 256];
	static char *env[128], *merged[WL_MAX_ENV + ARRAY_SIZE(env)];
	static char *sh_argv[4];
	const char *v;
	int r;

	cfg->exit_with_workload = true;
	cfg->envp = build_env(env, ARRAY_SIZE(env), cfg->beat_path, cfg->ctl_path);
	cfg->cwd = (v = init_param(cl, "cwd")) && *v ? v : "/root";
	r = wl_load(WL_PATH, &wl, err);
	if (r < 0) {
		cfg->workload_error = err;
	} else if (r > 0) {
		/* Cannot fail: merged holds all of env and WL_MAX_ENV more. */
		if (wl_env_merge(&wl, env, merged, ARRAY_SIZE(merged)) >= 0)
			cfg->envp = merged;
		cfg->argv = wl.argv;
		cfg->cwd = wl.cwd ? wl.cwd : cfg->cwd;
		cfg->scenario = wl.scenario;
		cfg->notes = wl.notes;
		cfg->set_ids = wl.has_uid && wl.has_gid;
		cfg->uid = wl.uid;
		cfg->gid = wl.gid;
		if (wl.rootfs_host && rootfs_enter(&wl, err, sizeof(err)) < 0) {
			cfg->argv = NULL;
			cfg->workload_error = err;
		} else if (wl.rootfs_host) {
			cfg->boot_root_ns = boot_ns();
		}
	} else if (cl->run) {
		sh_argv[0] = "/bin/sh";
		sh_argv[1] = "-c";
		sh_argv[2] = (char *)cl->run;
		sh_argv[3] = NULL;
		cfg->argv = sh_argv;
	} else if (cl->argc) {
		cfg->argv = cl->argv;
	} else {
		cfg->exit_with_workload = false;
	}
}

/* The agent as PID 1's child: a pid of its own, the workload's orphans its own. */
static pid_t pid1_fork_agent(struct core_cfg *cfg, const sigset_t *mask)
{
	pid_t agent = fork();

	if (agent == 0) {
		int e;

		sigprocmask(SIG_UNBLOCK, mask, NULL);
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		setsid();
		/* the last thing in the guest to starve (prio.h) */
		if ((e = prio_enter(cfg->rt_prio)) < 0) {
			dprintf(2,
				"vigil-agent: no real-time priority (%s): running as SCHED_OTHER\n",
				strerror(-e));
			cfg->rt_prio = 0;
		}
		_exit(core_run(cfg));
	}
	return agent;
}

/*
 * A dead agent: killed by a signal (the OOM killer, a person testing it, a
 * crash) it is started again, as an agent without a workload (the old
 * workload, now PID 1's, goes on; its beats reach the new agent's socket),
 * so the host sees a new epoch instead of a silent guest. At most
 * PID1_RESPAWN_MAX times, and not when it died within PID1_RESPAWN_MIN_S of
 * its start three times running: then it cannot stay up, and the guest
 * powers off. An agent that exits by itself (its workload ended, SHUTDOWN)
 * ends the guest as before.
 */
#define PID1_RESPAWN_MAX   16
#define PID1_RESPAWN_MIN_S 1

static bool pid1_respawn(struct core_cfg *cfg, pid_t dead, int st, time_t started, int *respawns,
			 int *quick)
{
	time_t now = time(NULL);

	if (!WIFSIGNALED(st) || *respawns >= PID1_RESPAWN_MAX)
		return false;
	*quick = now - started < PID1_RESPAWN_MIN_S ? *quick + 1 : 0;
	if (*quick >= 3)
		return false;
	(*respawns)++;
	dprintf(2, "vigil-agent: agent killed by signal %d: starting it again (%d of %d)\n",
		WTERMSIG(st), *respawns, PID1_RESPAWN_MAX);
	cfg->argv = NULL; /* the workload is not started twice */
	cfg->workload_error = NULL;
	cfg->scenario = NULL;
	cfg->exit_with_workload = false;
	cfg->predecessor = (uint32_t)dead;
	cfg->boot_init_ns = 0; /* the boot marks were the first agent's to tell */
	return true;
}

/* PID 1 from here on: reap whatever reaches us; power off when the agent ends. */
static void pid1_wait(pid_t agent, struct core_cfg *cfg, const sigset_t *mask)
    __attribute__((noreturn));
static void pid1_wait(pid_t agent, struct core_cfg *cfg, const sigset_t *mask)
{
	time_t started = time(NULL);
	int respawns = 0, quick = 0;

	for (;;) {
		siginfo_t si;
		pid_t pid;
		int st;

		if (sigwaitinfo(mask, &si) < 0)
			continue;
		if (si.si_signo != SIGCHLD) {
			kill(agent, SIGTERM);
			continue;
		}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			if (pid != agent)
				continue;
			if (pid1_respawn(cfg, pid, st, started, &respawns, &quick)) {
				started = time(NULL);
				agent = pid1_fork_agent(cfg, mask);
				if (agent > 0)
					continue;
			}
			if (!WIFEXITED(st))
				dprintf(2, "vigil-agent: agent died (signal %d): powering off\n",
					WTERMSIG(st));
			end_all();
		}
	}
}

static int pid1_main(void)
{
	static struct init_cmdline cl;
	char cmdline[INIT_CMDLINE_MAX], moddir[300];
	static struct core_cfg cfg;
	struct utsname u;
	sigset_t mask;
	pid_t agent;
	int n, loaded, skipped;
	uint64_t init_ns = boot_ns(), modules_ns;
	const char *v;

	init_mounts();
	init_console();
	init_loopback();
	reboot(RB_DISABLE_CAD); /* Ctrl-Alt-Del becomes SIGINT to us */
	n = util_read_file("/proc/cmdline", cmdline, sizeof(cmdline));
	if (n < 0)
		n = 0;
	if (init_parse_cmdline(cmdline, (size_t)n, &cl) < 0)
		dprintf(2, "vigil-agent: kernel command line over the parser's limits: cut\n");
	if ((v = init_param(&cl, "hostname")) && *v)
		sethostname(v, strlen(v));
	uname(&u);
	snprintf(moddir, sizeof(moddir), "/lib/modules/%s", u.release);
	loaded = modload_boot(moddir, "/etc/vigil/modules", pid1_log, &skipped);
	modules_ns = boot_ns();
	mkdir("/root", 0700);
	pid1_config(&cl, &cfg);
	cfg.boot_init_ns = init_ns;
	cfg.boot_modules_ns = modules_ns;
	cfg.boot_modules = loaded > 0 ? (uint32_t)loaded : 0;
	cfg.boot_mod_workers = modload_workers();
	cfg.boot_mod_skipped = (uint32_t)skipped;
	pid1_workload(&cl, &cfg);
	init_modprobe_path("/", "/proc/sys/kernel/modprobe"); /* the root is final */
	if (loaded == 0)
		dprintf(2, "vigil-agent: no kernel modules loaded from %s\n", moddir);

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPWR);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	agent = pid1_fork_agent(&cfg, &mask);
	if (agent < 0) {
		dprintf(2, "vigil-agent: fork: %s: powering off\n", strerror(errno));
		init_poweroff();
	}
	pid1_wait(agent, &cfg, &mask);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	/* As init, argv holds the kernel's leftovers (the workload's words), never a subcommand. */
	if (getpid() == 1)
		return pid1_main();
	if (!strcmp(cmd, "beat"))
		return cli_beat(argc - 1, argv + 1);
	if (!strcmp(cmd, "emit"))
		return cli_emit(argc - 1, argv + 1);
	if (!strcmp(cmd, "snapshot"))
		return cli_snapshot(argc - 1, argv + 1);
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "help") || !strcmp(cmd, "-h")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("vigil-agent %s\n", VIGIL_AGENT_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "daemon"))
		return daemon_main(argc - 1, argv + 1);
	return daemon_main(argc, argv);
}
