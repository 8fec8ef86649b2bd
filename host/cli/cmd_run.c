/* SPDX-License-Identifier: MIT */
/* `vigil run` and `vigil attach`: options, then the runner. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "paths.h"
#include "qemu.h"
#include "runner.h"

static const char run_usage[] =
    "usage: vigil run [OPTIONS] -- COMMAND [ARGS...]\n"
    "\n"
    "Boot a QEMU guest with the vigil agent as init, run COMMAND in it, stream\n"
    "its output, watch the guest, and exit with a code that says what happened.\n"
    "\n"
    "Guest:\n"
    "  --kernel FILE            guest kernel (default: $VIGIL_KERNEL, else the newest\n"
    "                           /boot/vmlinuz-*)\n"
    "  --initrd FILE            use this initramfs instead of building one\n"
    "  --append WORDS           more kernel parameters, after vigil's (the kernel\n"
    "                           takes the last of a repeated one)\n"
    "  --memory SIZE            guest memory, e.g. 512M, 2G (default 512M)\n"
    "  --cpus N                 vCPUs (default 1)\n"
    "  --machine microvm|pc     machine type (default microvm: virtio-mmio, no\n"
    "                           firmware, fastest boot; pc: virtio-pci)\n"
    "  --accel auto|kvm|tcg     auto (default) uses KVM only when /dev/kvm is usable\n"
    "                           and the guest's first byte arrives within\n"
    "                           --kvm-probe; otherwise it restarts under TCG\n"
    "  --kvm-probe DURATION     KVM proof deadline for --accel auto (default 3s)\n"
    "  --qemu PATH              QEMU binary (default qemu-system-x86_64)\n"
    "  --qemu-arg ARG           extra QEMU argument, after vigil's (repeatable)\n"
    "Image (when --initrd is not given; cached by content hash):\n"
    "  --agent FILE             the static agent (default: found beside vigil)\n"
    "  --no-busybox             leave busybox out\n"
    "  --add SRC:DST            carry a host file or directory at DST (repeatable)\n"
    "  --module NAME            carry a kernel module and its dependencies (repeatable)\n"
    "  COMMAND runs as a busybox applet when busybox has it; otherwise it is\n"
    "  looked up on the host $PATH and carried with its loader and libraries.\n"
    "Watching:\n"
    "  --boot-timeout DURATION  guest ready (SYS_RDY) within this (default 60s)\n"
    "  --timeout DURATION       the whole run, host time (default: none)\n"
    "  --workload-duration DUR  workload watchdog, pauses excluded (default: none)\n"
    "  --stall-threshold DUR    a beating process silent this long stalls (default 5s)\n"
    "  --on-stall warn|fail     end the run on the first stall (default warn)\n"
    "Outputs:\n"
    "  --events FILE|-          JSON-lines events (docs/events.md); '-' is stdout,\n"
    "                           and the workload's stdout then goes only there\n"
    "  --verdict FILE|-         the verdict as JSON (docs/verdict.md)\n"
    "  --junit FILE             JUnit XML: one testcase per test result, one for the run\n"
    "  --record FILE            every session input with its time, for `vigil decode`\n"
    "  --console FILE           the guest's serial console\n"
    "  --snapshot-dir DIR       where guest-requested memory dumps and CPU states go\n"
    "                           (memory dumps are refused without it)\n"
    "  -q, --quiet              no status line, no summary\n"
    "  -v, --verbose            QEMU's command line, console and agent log on stderr\n"
    "  -h, --help               show this help\n"
    "\n"
    "Durations take ns, us, ms, s (default), m, h. Defaults boot fast: microvm,\n"
    "-nodefaults, -no-reboot, an uncompressed initramfs, pvpanic, and the kernel\n"
    "parameters 'console=ttyS0 " VIGIL_FAST_APPEND " panic=-1'\n"
    "plus tsc_early_khz=<host TSC kHz> on microvm.\n"
    "\n"
    "Exit status: 0 passed; 1-123 the workload's own status (a failed test with\n"
    "status 0 gives 1, a signal or a status above 123 gives 123); 120 the\n"
    "scheduler under test exited; 121 a process stalled or the host starved the\n"
    "guest (--on-stall fail); 124 watchdog or run timeout, or the guest link was\n"
    "lost; 125 vigil's own error (also SIGINT/SIGTERM); 126 guest kernel crash;\n"
    "127 boot timeout.\n";

static const char attach_usage[] =
    "usage: vigil attach --socket PATH [--qmp PATH] [OPTIONS]\n"
    "\n"
    "Watch a guest whose QEMU was started elsewhere, with the port's chardev in\n"
    "server mode:\n"
    "  -chardev socket,id=vport,path=PATH,server=on,wait=off\n"
    "  -device virtserialport,chardev=vport,name=org.vigil.bulk.0\n"
    "  [-qmp unix:QMP,server=on,wait=off]\n"
    "vigil can be stopped (Ctrl-C) and attached again; the guest keeps running,\n"
    "and the stream counters (lost_frames) show what was missed meanwhile.\n"
    "The run ends when the workload exits, on a finding that ends it, or on\n"
    "SIGINT/SIGTERM. The guest is never stopped by attach.\n"
    "\n"
    "  --socket PATH            the port's chardev socket (required)\n"
    "  --qmp PATH               QEMU's QMP socket: VM stop/resume, panics,\n"
    "                           snapshots (optional)\n"
    "  --stall-threshold DUR, --on-stall warn|fail, --timeout DUR,\n"
    "  --workload-duration DUR, --boot-timeout DUR (default: none here),\n"
    "  --events FILE|-, --verdict FILE|-, --junit FILE, --record FILE,\n"
    "  --snapshot-dir DIR, -q, -v, -h   as for `vigil run`\n";

enum {
	O_KERNEL = 256,
	O_INITRD,
	O_APPEND,
	O_MEMORY,
	O_CPUS,
	O_MACHINE,
	O_ACCEL,
	O_KVM_PROBE,
	O_QEMU,
	O_QEMU_ARG,
	O_AGENT,
	O_NO_BUSYBOX,
	O_ADD,
	O_MODULE,
	O_BOOT_TIMEOUT,
	O_TIMEOUT,
	O_WL_DURATION,
	O_STALL,
	O_ON_STALL,
	O_EVENTS,
	O_VERDICT,
	O_JUNIT,
	O_RECORD,
	O_CONSOLE,
	O_SNAPDIR,
	O_SOCKET,
	O_QMP,
};

static const struct option run_opts[] = {
	{ "kernel", required_argument, NULL, O_KERNEL },
	{ "initrd", required_argument, NULL, O_INITRD },
	{ "append", required_argument, NULL, O_APPEND },
	{ "memory", required_argument, NULL, O_MEMORY },
	{ "cpus", required_argument, NULL, O_CPUS },
	{ "machine", required_argument, NULL, O_MACHINE },
	{ "accel", required_argument, NULL, O_ACCEL },
	{ "kvm-probe", required_argument, NULL, O_KVM_PROBE },
	{ "qemu", required_argument, NULL, O_QEMU },
	{ "qemu-arg", required_argument, NULL, O_QEMU_ARG },
	{ "agent", required_argument, NULL, O_AGENT },
	{ "no-busybox", no_argument, NULL, O_NO_BUSYBOX },
	{ "add", required_argument, NULL, O_ADD },
	{ "module", required_argument, NULL, O_MODULE },
	{ "boot-timeout", required_argument, NULL, O_BOOT_TIMEOUT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "workload-duration", required_argument, NULL, O_WL_DURATION },
	{ "stall-threshold", required_argument, NULL, O_STALL },
	{ "on-stall", required_argument, NULL, O_ON_STALL },
	{ "events", required_argument, NULL, O_EVENTS },
	{ "verdict", required_argument, NULL, O_VERDICT },
	{ "junit", required_argument, NULL, O_JUNIT },
	{ "record", required_argument, NULL, O_RECORD },
	{ "console", required_argument, NULL, O_CONSOLE },
	{ "snapshot-dir", required_argument, NULL, O_SNAPDIR },
	{ "socket", required_argument, NULL, O_SOCKET },
	{ "qmp", required_argument, NULL, O_QMP },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

#define MAX_LIST 64

/* Options attach does not take. */
static bool run_only(int c)
{
	return (c >= O_KERNEL && c <= O_MODULE) || c == O_CONSOLE;
}

static int bad_value(const char *cmd, const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "vigil %s: bad value '%s' for --%s (%s)\n", cmd, val, opt, want);
	return VIGIL_EXIT_HARNESS;
}

static int common_main(int argc, char **argv, bool attach)
{
	const char *cmd = attach ? "attach" : "run";
	struct vigil_run_opts o;
	struct vigil_image_args img = { 0 };
	const char *qemu_extra[MAX_LIST], *mods[MAX_LIST];
	char kernel[PATH_MAX], initrd[PATH_MAX], prog[PATH_MAX];
	const char *exes[1];
	char cmdline[VIGIL_KERNEL_CMDLINE_MAX];
	char **wl = NULL;
	int wlc = 0, c, e, code;
	uint32_t tsc = 0;
	const char *initrd_arg = NULL;

	memset(&o, 0, sizeof(o));
	o.attach = attach;
	o.kvm_probe_ns = 3000000000ull;
	o.qemu.port.fd = o.qemu.qmp.fd = o.qemu.console.fd = -1;
	vigil_session_opts_default(&o.sopts);
	o.sopts.boot_timeout_ns = attach ? 0 : 60000000000ull;
	o.qemu.extra = qemu_extra;
	img.extra_mods = mods;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+qvh", run_opts, NULL)) != -1) {
		uint64_t ns;
		if (attach && run_only(c)) {
			fprintf(stderr, "vigil attach: --%s is an option of `vigil run`\n",
				argv[optind - 1] + 2);
			return VIGIL_EXIT_HARNESS;
		}
		switch (c) {
		case O_KERNEL:
			o.qemu.kernel = optarg;
			break;
		case O_INITRD:
			initrd_arg = optarg;
			break;
		case O_APPEND:
			o.qemu.append = optarg;
			break;
		case O_MEMORY:
			if (vigil_parse_mem_mb(optarg, &o.qemu.memory_mb) < 0)
				return bad_value(cmd, "memory", optarg, "16M..1T, e.g. 512M or 2G");
			break;
		case O_CPUS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 256)
				return bad_value(cmd, "cpus", optarg, "1..256");
			o.qemu.cpus = (unsigned)n;
			break;
		}
		case O_MACHINE:
			if (!strcmp(optarg, "microvm"))
				o.qemu.machine = VIGIL_MACHINE_MICROVM;
			else if (!strcmp(optarg, "pc"))
				o.qemu.machine = VIGIL_MACHINE_PC;
			else
				return bad_value(cmd, "machine", optarg, "microvm or pc");
			break;
		case O_ACCEL:
			if (!strcmp(optarg, "auto"))
				o.accel = VIGIL_ACCEL_MODE_AUTO;
			else if (!strcmp(optarg, "kvm"))
				o.accel = VIGIL_ACCEL_MODE_KVM;
			else if (!strcmp(optarg, "tcg"))
				o.accel = VIGIL_ACCEL_MODE_TCG;
			else
				return bad_value(cmd, "accel", optarg, "auto, kvm or tcg");
			break;
		case O_KVM_PROBE:
			if (vigil_parse_duration(optarg, &o.kvm_probe_ns) < 0 || !o.kvm_probe_ns)
				return bad_value(cmd, "kvm-probe", optarg, "a duration above 0");
			break;
		case O_QEMU:
			o.qemu.qemu = optarg;
			break;
		case O_QEMU_ARG:
			if (o.qemu.n_extra == MAX_LIST)
				return bad_value(cmd, "qemu-arg", optarg, "at most 64");
			qemu_extra[o.qemu.n_extra++] = optarg;
			break;
		case O_AGENT:
			img.agent = optarg;
			break;
		case O_NO_BUSYBOX:
			img.no_busybox = true;
			break;
		case O_ADD:
			if (vigil_image_add_arg(&img, optarg) < 0)
				return bad_value(cmd, "add", optarg, "SRC:/GUEST/PATH");
			break;
		case O_MODULE:
			if (img.n_extra_mods == MAX_LIST)
				return bad_value(cmd, "module", optarg, "at most 64");
			mods[img.n_extra_mods++] = optarg;
			break;
		case O_BOOT_TIMEOUT:
		case O_TIMEOUT:
		case O_WL_DURATION:
		case O_STALL:
			if (vigil_parse_duration(optarg, &ns) < 0)
				return bad_value(cmd, argv[optind - 1] + 2, optarg,
						 "a duration: 30s, 500ms, 2m");
			if (c == O_BOOT_TIMEOUT)
				o.sopts.boot_timeout_ns = ns;
			else if (c == O_TIMEOUT)
				o.sopts.run_timeout_ns = ns;
			else if (c == O_WL_DURATION)
				o.sopts.workload_duration_ns = ns;
			else if (ns == 0)
				return bad_value(cmd, "stall-threshold", optarg, "above 0");
			else
				o.sopts.stall_threshold_ns = ns;
			break;
		case O_ON_STALL:
			if (!strcmp(optarg, "warn"))
				o.sopts.on_stall = VIGIL_ON_STALL_WARN;
			else if (!strcmp(optarg, "fail"))
				o.sopts.on_stall = VIGIL_ON_STALL_FAIL;
			else
				return bad_value(cmd, "on-stall", optarg, "warn or fail");
			break;
		case O_EVENTS:
			o.events_path = optarg;
			break;
		case O_VERDICT:
			o.verdict_path = optarg;
			break;
		case O_JUNIT:
			o.junit_path = optarg;
			break;
		case O_RECORD:
			o.record_path = optarg;
			break;
		case O_CONSOLE:
			o.console_path = optarg;
			break;
		case O_SNAPDIR:
			o.snapshot_dir = optarg;
			break;
		case O_SOCKET:
		case O_QMP:
			if (!attach) {
				fprintf(stderr, "vigil run: --%s is an option of `vigil attach`\n",
					argv[optind - 1] + 2);
				return VIGIL_EXIT_HARNESS;
			}
			if (c == O_SOCKET)
				o.socket_path = optarg;
			else
				o.qmp_path = optarg;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			fputs(attach ? attach_usage : run_usage, stdout);
			return VIGIL_EXIT_OK;
		default:
			fputs(attach ? attach_usage : run_usage, stderr);
			return VIGIL_EXIT_HARNESS;
		}
	}
	if (o.snapshot_dir && o.snapshot_dir[0] != '/') {
		/* QEMU writes the dumps; give it a path that does not depend on its cwd */
		static char abs[PATH_MAX * 2];
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return VIGIL_EXIT_HARNESS;
		snprintf(abs, sizeof(abs), "%s/%s", cwd, o.snapshot_dir);
		o.snapshot_dir = abs;
	}
	if (attach) {
		if (!o.socket_path) {
			fputs("vigil attach: --socket PATH is required\n", stderr);
			return VIGIL_EXIT_HARNESS;
		}
		if (optind < argc) {
			fprintf(stderr, "vigil attach: unexpected argument '%s'\n", argv[optind]);
			return VIGIL_EXIT_HARNESS;
		}
		return vigil_runner_main(&o);
	}
	if (optind >= argc) {
		fputs("vigil run: no command given: vigil run [OPTIONS] -- COMMAND [ARGS...]\n",
		      stderr);
		return VIGIL_EXIT_HARNESS;
	}
	wl = argv + optind;
	wlc = argc - optind;

	/* The workload's program: a busybox applet, or a host program carried in. */
	img.kernel = o.qemu.kernel;
	if (!initrd_arg) {
		int has = 0;
		const char *bb = "/bin/busybox";
		if (!img.no_busybox && !strchr(wl[0], '/'))
			has = vigil_busybox_has(bb, wl[0]);
		if (has <= 0) {
			e = vigil_find_program(wl[0], getenv("PATH"), prog, sizeof(prog));
			if (e < 0 && !strchr(wl[0], '/') && has < 0) {
				fprintf(stderr, "vigil run: cannot find %s on $PATH\n", wl[0]);
				return VIGIL_EXIT_HARNESS;
			}
			if (e == 0) {
				exes[0] = prog;
				img.exes = exes;
				img.n_exes = 1;
				wl[0] = prog; /* the guest runs it at the same path */
			} else if (img.no_busybox || strchr(wl[0], '/')) {
				fprintf(stderr, "vigil run: cannot find %s (%s)\n", wl[0],
					strerror(-e));
				return VIGIL_EXIT_HARNESS;
			} else {
				fprintf(stderr,
					"vigil run: %s is neither a busybox applet nor on $PATH\n",
					wl[0]);
				return VIGIL_EXIT_HARNESS;
			}
		}
	}
	cmdline[0] = '\0';
	{
		int bad = -1;
		e = vigil_cmdline_argv(cmdline, sizeof(cmdline) - 512, wl, wlc, &bad);
		if (e == -EINVAL && !img.no_busybox)
			/* the guest's shell rebuilds the argv from octal escapes */
			e = vigil_cmdline_shell(cmdline, sizeof(cmdline) - 512, wl, wlc);
		if (e == -EINVAL) {
			fprintf(stderr,
				"vigil run: argument %d has a double quote or a control character, "
				"which the kernel command line cannot carry without busybox in the "
				"guest; put the command in a script and --add it\n",
				bad + 1);
			return VIGIL_EXIT_HARNESS;
		}
		if (e < 0) {
			fprintf(stderr, "vigil run: the command is too long for the kernel command "
					"line; put it in a script and --add it\n");
			return VIGIL_EXIT_HARNESS;
		}
	}
	o.qemu.guest_params = cmdline;

	if (initrd_arg) {
		snprintf(initrd, sizeof(initrd), "%s", initrd_arg);
		if (!o.qemu.kernel) {
			e = vigil_find_kernel("/boot", kernel, sizeof(kernel));
			if (e < 0) {
				fprintf(stderr, "vigil run: no kernel: pass --kernel\n");
				return VIGIL_EXIT_HARNESS;
			}
			o.qemu.kernel = kernel;
		}
	} else {
		struct vigil_ird_result res;
		e = vigil_image_build(&img, &res, kernel, sizeof(kernel));
		vigil_image_args_free(&img);
		if (e < 0)
			return VIGIL_EXIT_HARNESS;
		snprintf(initrd, sizeof(initrd), "%s", res.path);
		o.qemu.kernel = kernel;
		if (o.verbose)
			fprintf(stderr, "vigil: initramfs %s (%s, %zu entries)\n", res.path,
				res.cache_hit ? "cached" : "built", res.entries);
	}
	o.qemu.initrd = initrd;
	if (access(o.qemu.kernel, R_OK) < 0) {
		fprintf(stderr, "vigil run: cannot read the kernel %s: %s\n", o.qemu.kernel,
			strerror(errno));
		return VIGIL_EXIT_HARNESS;
	}
	if (o.qemu.machine == VIGIL_MACHINE_MICROVM) {
		if (vigil_tsc_khz(&tsc) < 0 && !o.quiet)
			fprintf(stderr,
				"vigil: note: host TSC frequency unknown; microvm boots may "
				"stall calibrating it (use --machine pc, or --append "
				"tsc_early_khz=N)\n");
		o.qemu.tsc_khz = tsc;
	}
	code = vigil_runner_main(&o);
	return code;
}

int vigil_cmd_run(int argc, char **argv)
{
	return common_main(argc, argv, false);
}

int vigil_cmd_attach(int argc, char **argv)
{
	return common_main(argc, argv, true);
}
