/* SPDX-License-Identifier: MIT */
/* run_args: options of `vigil run` and `vigil attach` (see run_args.h). */
#include "run_args.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cap.h"

static const char run_usage[] =
    "usage: vigil run [OPTIONS] -- COMMAND [ARGS...]\n"
    "\n"
    "Boot a QEMU guest with the vigil agent as init, run COMMAND in it, stream\n"
    "its output, watch the guest, and exit with a code that says what happened.\n"
    "\n"
    "Guest:\n"
    "  --kernel FILE            guest kernel, a bzImage or a vmlinux (default:\n"
    "                           $VIGIL_KERNEL, else the newest /boot/vmlinuz-*)\n"
    "  --kernel-tree DIR        boot the kernel just built in DIR (its vmlinux, else\n"
    "                           arch/x86/boot/bzImage) with the modules of its\n"
    "                           modules.order (laid out and indexed with depmod)\n"
    "  --modules-dir DIR        the kernel's modules (default /lib/modules/RELEASE)\n"
    "  --kernel-boot auto|bzimage  auto (default): boot the vmlinux inside the\n"
    "                           bzImage through PVH when it has the PVH note (about\n"
    "                           0.8x the boot time; extracted once and cached), else\n"
    "                           the bzImage; bzimage: always the bzImage\n"
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
    "Root file system:\n"
    "  --rootfs host|image      host (default; $VIGIL_ROOTFS sets another): the guest\n"
    "                           sees the host's files read-only through virtiofs,\n"
    "                           with a tmpfs overlay for its writes, and runs COMMAND\n"
    "                           in the current directory with the host's $PATH and\n"
    "                           $HOME (needs root); image: a generated initramfs\n"
    "                           that carries only what the options below put in it,\n"
    "                           COMMAND run in /root\n"
    "  --rwdir DIR              host: DIR is writable in the guest; writes reach the\n"
    "                           host (repeatable). Nothing else of the host is written\n"
    "  --rodir SRC:DST          host: the host tree SRC is also seen at DST (repeatable)\n"
    "  --hide PATH              host: hide PATH (globs allowed) besides the defaults:\n"
    "                           /root, /etc/shadow, /etc/ssh/*key*, ~/.ssh, ~/.gnupg,\n"
    "                           ~/.aws, ... (docs/cli.md has the list); repeatable\n"
    "  --show ENTRY             host: do not hide ENTRY of the default list, as\n"
    "                           written there (e.g. ~/.ssh), or 'all'; repeatable\n"
    "  The working directory, paths named in COMMAND's words, --rwdir, --rodir,\n"
    "  --add and --exe paths, and what holds a $PATH entry are seen even under a\n"
    "  hidden directory.\n"
    "Workload:\n"
    "  --scenario NAME          run COMMAND as scenario NAME: the agent starts the\n"
    "                           scenario before it and ends it after it, and the run\n"
    "                           keeps COMMAND's exit status\n"
    "  --env NAME[=VALUE]       set a variable for COMMAND (NAME alone: its value\n"
    "                           here); repeatable\n"
    "  COMMAND and its arguments reach the guest byte-exact, any length; its stdin\n"
    "  there is /dev/null.\n"
    "Image (--rootfs image, when --initrd is not given; cached by content hash):\n"
    "  --agent FILE             the static agent (default: found beside vigil)\n"
    "  --no-busybox             leave busybox out\n"
    "  --exe PROGRAM            carry a host program (looked up on $PATH) with its\n"
    "                           loader and libraries, at its host path (repeatable)\n"
    "  --add SRC:DST            carry a host file or directory at DST (repeatable;\n"
    "                           with --rootfs host: SRC is seen at DST)\n"
    "  --module NAME            carry a kernel module and its dependencies (repeatable)\n"
    "  COMMAND runs as a busybox applet when busybox has it; otherwise it is\n"
    "  looked up on the host $PATH and carried like --exe. Anything else it\n"
    "  runs (a script, another program) must be carried with --exe or --add.\n"
    "Watching:\n"
    "  --boot-timeout DURATION  guest ready (SYS_RDY) within this (default 60s)\n"
    "  --timeout DURATION       the whole run, host time (default: none)\n"
    "  --workload-duration DUR  bounds COMMAND from its start to its exit, not\n"
    "                           counting VM stops, snapshot freezes and scenario\n"
    "                           pauses (default: none)\n"
    "  --stall-threshold DUR    a beating process silent this long stalls (default\n"
    "                           5s); applies to every process that does not declare\n"
    "                           its own deadline (vigil-agent beat --deadline)\n"
    "  --ping-interval DUR      PING the agent this often (default 1s); each PONG\n"
    "                           is a 'pong' event with its round trip\n"
    "  --on-stall warn|fail|debug  warn (default): a stall is a finding that does\n"
    "                           not fail the run; fail: the first stall ends the\n"
    "                           run once its class (runnable, sleeping, stopped,\n"
    "                           ...) is known, at most 1.1 s later; debug: as\n"
    "                           fail, but on a stall, guest stall or crash the VM\n"
    "                           is stopped and kept, with a gdbstub on a printed\n"
    "                           loopback port and a QMP socket, until Ctrl-C (the\n"
    "                           guest boots with nokaslr; docs/cli.md)\n"
    "  --fail-on KIND,...       kernel trouble that fails the run (exit 126): oom,\n"
    "                           warning, bug, oops, hung-task, soft-lockup,\n"
    "                           rcu-stall, or all. Without it, kernel trouble is a\n"
    "                           finding that does not fail the run\n"
    "Outputs (each checked before the guest boots):\n"
    "  --events FILE|-          JSON-lines events (docs/events.md); '-' is stdout,\n"
    "                           and the workload's stdout then goes only there\n"
    "  --verdict FILE|-         the verdict as JSON (docs/verdict.md)\n"
    "  --junit FILE|-           JUnit XML: one testcase per test result, one for the run\n"
    "  --report FILE            one HTML page with the run's timeline (docs/report.md)\n"
    "  --record FILE            every session input with its time, for `vigil decode`\n"
    "  --console FILE           the guest's serial console\n"
    "  --file-limit SIZE|none   bytes each of --events (a file), --console and\n"
    "                           --record may grow to (default 1G): past it,\n"
    "                           what a guest sends is counted, not written\n"
    "  --snapshot-dir DIR       where guest-requested memory dumps and CPU states go\n"
    "                           (memory dumps are refused without it)\n"
    "  Only one output may be '-'.\n"
    "  -q, --quiet              no status line, no summary\n"
    "  -v, --verbose            QEMU's command line, console and agent log on stderr\n"
    "  -h, --help               show this help\n"
    "\n"
    "Durations take ns, us, ms, s (default), m, h, and must be above 0; 'none'\n"
    "switches off --timeout, --workload-duration and --boot-timeout. Defaults\n"
    "boot fast: microvm, -nodefaults, -no-reboot, an uncompressed initramfs,\n"
    "pvpanic, and the kernel parameters 'console=ttyS0 " VIGIL_FAST_APPEND " panic=-1'\n"
    "plus tsc_early_khz=<host TSC kHz> on microvm.\n"
    "\n"
    "Exit status: 0 passed; 1-123 the workload's own status (a failed test with\n"
    "status 0 gives 1, a signal or a status above 123 gives 123); 120 the\n"
    "scheduler under test exited; 121 a process or the whole guest stalled or\n"
    "the host starved the guest (--on-stall fail), or the host starved it before\n"
    "a boot or watchdog timeout; 124 watchdog or run timeout, QEMU exited or was\n"
    "killed during the run, or the guest link was lost; 125 vigil's own error\n"
    "(bad options, QEMU would not start, SIGINT/SIGTERM); 126 guest kernel crash,\n"
    "or kernel trouble named by --fail-on; 127 boot timeout.\n";

static const char attach_usage[] =
    "usage: vigil attach --socket [NAME=]PATH [--qmp [NAME=]PATH] ... [OPTIONS]\n"
    "\n"
    "Watch guests whose QEMU was started elsewhere, each with its port's chardev in\n"
    "server mode:\n"
    "  -chardev socket,id=vport,path=PATH,server=on,wait=off\n"
    "  -device virtserialport,chardev=vport,name=org.vigil.bulk.0\n"
    "  [-qmp unix:QMP,server=on,wait=off]\n"
    "vigil can be stopped (Ctrl-C) and attached again; the guest keeps running,\n"
    "and the stream counters (lost_frames) show what was missed meanwhile.\n"
    "The run ends when the workload exits, on a finding that ends it, or on\n"
    "SIGINT/SIGTERM. The guest is never stopped by attach.\n"
    "\n"
    "  --socket [NAME=]PATH     the port's chardev socket (required); repeat it to\n"
    "                           watch several guests in one process (NAME: the\n"
    "                           socket's file name unless given; names are unique)\n"
    "  --qmp [NAME=]PATH        QEMU's QMP socket for the guest NAME: VM stop/resume,\n"
    "                           panics, snapshots (optional; NAME may be left out\n"
    "                           with one --socket)\n"
    "  --out-dir DIR            with several guests: DIR/NAME/verdict.json,\n"
    "                           events.jsonl and junit.xml for each\n"
    "  --report NAME            with --out-dir: the HTML page of each guest as\n"
    "                           DIR/GUEST/NAME; one guest: --report FILE\n"
    "  --stall-threshold DUR, --on-stall warn|fail, --fail-on KIND,...,\n"
    "  --timeout DUR, --workload-duration DUR, --boot-timeout DUR (default: none\n"
    "  here), --events FILE|-, --verdict FILE|-, --junit FILE|-, --record FILE,\n"
    "  --file-limit SIZE|none, --snapshot-dir DIR, -q, -v, -h   as for `vigil run`\n"
    "\n"
    "Exit status: as for `vigil run`; with several guests, that of the worst\n"
    "verdict (the outcome of highest precedence, docs/verdict.md); 125 also for\n"
    "a usage error. The process ends when every guest is done.\n";

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
	O_EXE,
	O_SCENARIO,
	O_ENV,
	O_ROOTFS,
	O_KERNEL_BOOT,
	O_KERNEL_TREE,
	O_MODULES_DIR,
	O_RWDIR,
	O_RODIR,
	O_HIDE,
	O_SHOW,
	O_CONSOLE, /* last of the run-only options */
	O_BOOT_TIMEOUT,
	O_TIMEOUT,
	O_WL_DURATION,
	O_STALL,
	O_PING,
	O_ON_STALL,
	O_FAIL_ON,
	O_EVENTS,
	O_VERDICT,
	O_JUNIT,
	O_REPORT,
	O_RECORD,
	O_SNAPDIR,
	O_FILE_LIMIT,
	O_SOCKET,
	O_QMP,
	O_OUT_DIR,
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
	{ "exe", required_argument, NULL, O_EXE },
	{ "scenario", required_argument, NULL, O_SCENARIO },
	{ "env", required_argument, NULL, O_ENV },
	{ "rootfs", required_argument, NULL, O_ROOTFS },
	{ "kernel-boot", required_argument, NULL, O_KERNEL_BOOT },
	{ "kernel-tree", required_argument, NULL, O_KERNEL_TREE },
	{ "modules-dir", required_argument, NULL, O_MODULES_DIR },
	{ "rwdir", required_argument, NULL, O_RWDIR },
	{ "rodir", required_argument, NULL, O_RODIR },
	{ "hide", required_argument, NULL, O_HIDE },
	{ "show", required_argument, NULL, O_SHOW },
	{ "console", required_argument, NULL, O_CONSOLE },
	{ "boot-timeout", required_argument, NULL, O_BOOT_TIMEOUT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "workload-duration", required_argument, NULL, O_WL_DURATION },
	{ "stall-threshold", required_argument, NULL, O_STALL },
	{ "ping-interval", required_argument, NULL, O_PING },
	{ "on-stall", required_argument, NULL, O_ON_STALL },
	{ "fail-on", required_argument, NULL, O_FAIL_ON },
	{ "events", required_argument, NULL, O_EVENTS },
	{ "verdict", required_argument, NULL, O_VERDICT },
	{ "junit", required_argument, NULL, O_JUNIT },
	{ "report", required_argument, NULL, O_REPORT },
	{ "record", required_argument, NULL, O_RECORD },
	{ "snapshot-dir", required_argument, NULL, O_SNAPDIR },
	{ "file-limit", required_argument, NULL, O_FILE_LIMIT },
	{ "socket", required_argument, NULL, O_SOCKET },
	{ "qmp", required_argument, NULL, O_QMP },
	{ "out-dir", required_argument, NULL, O_OUT_DIR },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

const char *vigil_run_usage(bool attach)
{
	return attach ? attach_usage : run_usage;
}

/* The option's name for messages, from its code. */
static const char *opt_name(int c)
{
	for (const struct option *o = run_opts; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

static int bad_value(const struct vigil_run_args *a, int c, const char *val, const char *want)
{
	fprintf(stderr, "vigil %s: bad value '%s' for --%s (%s)\n", a->attach ? "attach" : "run",
		val, opt_name(c), want);
	return VIGIL_EXIT_USAGE;
}

static int usage_error(const struct vigil_run_args *a, const char *msg, const char *what)
{
	fprintf(stderr, "vigil %s: %s%s\n", a->attach ? "attach" : "run", msg, what ? what : "");
	return VIGIL_EXIT_USAGE;
}

static int take_duration(struct vigil_run_args *a, int c, const char *val)
{
	struct vigil_session_opts *so = &a->o.sopts;
	bool can_none = c == O_BOOT_TIMEOUT || c == O_TIMEOUT || c == O_WL_DURATION;
	uint64_t ns;
	int e = vigil_parse_duration_opt(val, can_none, &ns);

	if (e == -EDOM)
		return bad_value(a, c, val,
				 can_none ? "above 0, or 'none' to switch it off" : "above 0");
	if (e < 0)
		return bad_value(a, c, val, "a duration such as 30s, 500ms or 2m");
	if (c == O_BOOT_TIMEOUT)
		so->boot_timeout_ns = ns;
	else if (c == O_TIMEOUT)
		so->run_timeout_ns = ns;
	else if (c == O_WL_DURATION)
		so->workload_duration_ns = ns;
	else if (c == O_STALL)
		so->stall_threshold_ns = ns;
	else if (c == O_PING)
		so->ping_interval_ns = ns;
	else
		a->o.kvm_probe_ns = ns;
	return 0;
}

static int take_fail_on(struct vigil_run_args *a, const char *val)
{
	char bad[64];

	if (vigil_parse_fail_on(val, &a->o.sopts.fail_on, bad, sizeof(bad)) == 0)
		return 0;
	if (!bad[0])
		return bad_value(a, O_FAIL_ON, val, "a list such as oom,warning");
	fprintf(stderr,
		"vigil %s: unknown kind '%s' for --fail-on (oom, warning, bug, oops, hung-task, "
		"soft-lockup, rcu-stall, all)\n",
		a->attach ? "attach" : "run", bad);
	return VIGIL_EXIT_USAGE;
}

static int take_env(struct vigil_run_args *a, const char *val,
		    const char *(*lookup)(const char *name))
{
	const char *eq = strchr(val, '='), *v;
	char *e;

	if (eq == val || !*val)
		return bad_value(a, O_ENV, val, "NAME=VALUE or NAME");
	if (a->n_env == VIGIL_RUN_ENV_MAX)
		return bad_value(a, O_ENV, val, "at most 256");
	if (eq) {
		e = strdup(val);
	} else {
		v = lookup(val);
		if (!v)
			return usage_error(a, "--env: no variable here named ", val);
		e = NULL;
		if (asprintf(&e, "%s=%s", val, v) < 0)
			e = NULL;
	}
	if (!e)
		return usage_error(a, "out of memory", NULL);
	a->env[a->n_env++] = e;
	return 0;
}

/* "[NAME=]PATH": NAME defaults to PATH's basename (--qmp: to the only socket). */
static int take_named(struct vigil_run_args *a, int c, char *val)
{
	char *eq = strchr(val, '='), *slash;
	const char *name = NULL, *path = val;
	const char **names = c == O_SOCKET ? a->sock_name : a->qmp_name;
	const char **paths = c == O_SOCKET ? a->sock_path : a->qmp_path;
	size_t *n = c == O_SOCKET ? &a->n_sock : &a->n_qmp;

	if (eq && (slash = strchr(val, '/')) && slash < eq)
		eq = NULL; /* a '=' inside the path, not a NAME */
	if (eq) {
		*eq = '\0';
		name = val;
		path = eq + 1;
		if (!*name || strlen(name) >= VIGIL_GUEST_NAME_MAX || strchr(name, '/'))
			return bad_value(a, c, val, "NAME=PATH, NAME without '/', under 64 bytes");
	} else if (c == O_SOCKET) {
		slash = strrchr(val, '/');
		name = slash && slash[1] ? slash + 1 : val;
	}
	if (!*path)
		return bad_value(a, c, val, "[NAME=]PATH");
	if (*n == VIGIL_RUN_LIST_MAX)
		return bad_value(a, c, val, "at most 64 of them");
	names[*n] = name;
	paths[(*n)++] = path;
	return 0;
}

static int take_enum(struct vigil_run_args *a, int c, const char *val)
{
	static const struct {
		int opt;
		const char *name;
		int value;
	} t[] = {
		{ O_MACHINE, "microvm", VIGIL_MACHINE_MICROVM },
		{ O_MACHINE, "pc", VIGIL_MACHINE_PC },
		{ O_ACCEL, "auto", VIGIL_ACCEL_MODE_AUTO },
		{ O_ACCEL, "kvm", VIGIL_ACCEL_MODE_KVM },
		{ O_ACCEL, "tcg", VIGIL_ACCEL_MODE_TCG },
		{ O_ON_STALL, "warn", VIGIL_ON_STALL_WARN },
		{ O_ON_STALL, "fail", VIGIL_ON_STALL_FAIL },
		{ O_ON_STALL, "debug", -1 }, /* fail, then hold the VM (debughold.h) */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].opt != c || strcmp(t[i].name, val) != 0)
			continue;
		if (c == O_MACHINE) {
			a->o.qemu.machine = (enum vigil_machine)t[i].value;
		} else if (c == O_ACCEL) {
			a->o.accel = (enum vigil_accel_mode)t[i].value;
		} else if (t[i].value < 0 && a->attach) {
			return usage_error(a, "--on-stall debug is for `vigil run`: it starts QEMU with "
					      "a gdbstub (attach to your QEMU's own -gdb instead)",
					   NULL);
		} else {
			a->o.debug = t[i].value < 0;
			a->o.sopts.on_stall = a->o.debug ? VIGIL_ON_STALL_FAIL
							 : (enum vigil_on_stall)t[i].value;
		}
		return 0;
	}
	return bad_value(a, c, val,
			 c == O_MACHINE ? "microvm or pc"
			 : c == O_ACCEL ? "auto, kvm or tcg"
					: a->attach ? "warn or fail" : "warn, fail or debug");
}

static int push(struct vigil_run_args *a, int c, const char **list, size_t *n, const char *val)
{
	if (*n == VIGIL_RUN_LIST_MAX)
		return bad_value(a, c, val, "at most 64 of them");
	list[(*n)++] = val;
	return 0;
}

/* Options that take a value straight into a field. */
static int take_plain(struct vigil_run_args *a, int c, char *val)
{
	switch (c) {
	case O_KERNEL:
		a->o.qemu.kernel = a->img.kernel = val;
		return 0;
	case O_INITRD:
		a->initrd = val;
		return 0;
	case O_APPEND:
		a->o.qemu.append = val;
		return 0;
	case O_QEMU:
		a->o.qemu.qemu = val;
		return 0;
	case O_AGENT:
		a->img.agent = val;
		return 0;
	case O_SCENARIO:
		if (!*val || strlen(val) > VIGIL_NAME_MAX - 1)
			return bad_value(a, c, val, "1 to 127 bytes");
		a->scenario = val;
		return 0;
	case O_EVENTS:
		a->o.events_path = val;
		return 0;
	case O_VERDICT:
		a->o.verdict_path = val;
		return 0;
	case O_JUNIT:
		a->o.junit_path = val;
		return 0;
	case O_REPORT:
		a->o.report_path = val;
		return 0;
	case O_RECORD:
		a->o.record_path = val;
		return 0;
	case O_CONSOLE:
		a->o.console_path = val;
		return 0;
	case O_SNAPDIR:
		a->o.snapshot_dir = val;
		return 0;
	case O_OUT_DIR:
		a->out_dir = val;
		return 0;
	default:
		return -1;
	}
}

static int take_number(struct vigil_run_args *a, int c, const char *val)
{
	char *end;
	long n;

	if (c == O_MEMORY) {
		if (vigil_parse_mem_mb(val, &a->o.qemu.memory_mb) < 0)
			return bad_value(a, c, val, "16M..1T, e.g. 512M or 2G");
		return 0;
	}
	n = strtol(val, &end, 10);
	if (*end || end == val || n < 1 || n > 256)
		return bad_value(a, c, val, "1..256");
	a->o.qemu.cpus = (unsigned)n;
	return 0;
}

static int take(struct vigil_run_args *a, int c, char *val, const char *(*lookup)(const char *))
{
	switch (c) {
	case O_MEMORY:
	case O_CPUS:
		return take_number(a, c, val);
	case O_MACHINE:
	case O_ACCEL:
	case O_ON_STALL:
		return take_enum(a, c, val);
	case O_KVM_PROBE:
	case O_BOOT_TIMEOUT:
	case O_TIMEOUT:
	case O_WL_DURATION:
	case O_STALL:
	case O_PING:
		return take_duration(a, c, val);
	case O_FAIL_ON:
		return take_fail_on(a, val);
	case O_FILE_LIMIT:
		if (vigil_parse_bytes_opt(val, &a->o.file_limit) < 0)
			return bad_value(a, c, val, "a size of at least 4K, e.g. 512M or 2G, or none");
		return 0;
	case O_ENV:
		return take_env(a, val, lookup);
	case O_QEMU_ARG:
		return push(a, c, a->qemu_extra, &a->o.qemu.n_extra, val);
	case O_SOCKET:
	case O_QMP:
		return take_named(a, c, val);
	case O_MODULE:
		return push(a, c, a->mods, &a->img.n_extra_mods, val);
	case O_ROOTFS:
		if (!strcmp(val, "host") || !strcmp(val, "image")) {
			a->rootfs_host = val[0] == 'h';
			a->rootfs_given = true;
			return 0;
		}
		return bad_value(a, c, val, "host or image");
	case O_KERNEL_TREE:
		a->kernel_tree = val;
		return 0;
	case O_MODULES_DIR:
		a->img.modules_dir = val;
		return 0;
	case O_KERNEL_BOOT:
		if (strcmp(val, "auto") && strcmp(val, "bzimage"))
			return bad_value(a, c, val, "auto or bzimage");
		a->kernel_bzimage = val[0] == 'b';
		return 0;
	case O_RWDIR:
		return push(a, c, a->rwdirs, &a->n_rwdirs, val);
	case O_RODIR:
		if (!strchr(val, ':') || val[0] == ':' || !strchr(val, ':')[1])
			return bad_value(a, c, val, "SRC:/GUEST/PATH");
		return push(a, c, a->rodirs, &a->n_rodirs, val);
	case O_HIDE:
		return push(a, c, a->hides, &a->n_hides, val);
	case O_SHOW:
		return push(a, c, a->shows, &a->n_shows, val);
	case O_EXE:
		return push(a, c, a->exe_names, &a->n_exe_names, val);
	case O_ADD:
		return vigil_image_add_arg(&a->img, val) < 0
			   ? bad_value(a, c, val, "SRC:/GUEST/PATH")
			   : 0;
	case O_NO_BUSYBOX:
		a->img.no_busybox = true;
		return 0;
	case 'q':
		a->o.quiet = true;
		return 0;
	case 'v':
		a->o.verbose = true;
		return 0;
	default:
		return take_plain(a, c, val);
	}
}

static void defaults(struct vigil_run_args *a, bool attach)
{
	memset(a, 0, sizeof(*a));
	a->attach = attach;
	a->o.attach = attach;
	a->o.kvm_probe_ns = 3000000000ull;
	a->o.qemu.port.fd = a->o.qemu.qmp.fd = a->o.qemu.console.fd = -1;
	vigil_session_opts_default(&a->o.sopts);
	a->o.sopts.boot_timeout_ns = attach ? 0 : 60000000000ull;
	a->o.sopts.ack_exit = !attach;
	a->o.file_limit = VIGIL_CAP_DEFAULT;
	a->o.qemu.extra = a->qemu_extra;
	a->img.extra_mods = a->mods;
	a->rootfs_host = VIGIL_ROOTFS_HOST_DEFAULT;
}

/* $VIGIL_ROOTFS: the default of --rootfs (a machine without root or virtiofsd). */
static int rootfs_env(struct vigil_run_args *a, const char *(*lookup)(const char *))
{
	const char *v = lookup("VIGIL_ROOTFS");

	if (!v || !*v)
		return 0;
	if (strcmp(v, "host") && strcmp(v, "image")) {
		fprintf(stderr, "vigil run: bad value '%s' for $VIGIL_ROOTFS (host or image)\n", v);
		return VIGIL_EXIT_USAGE;
	}
	a->rootfs_host = v[0] == 'h';
	return 0;
}

static bool wrong_command(const struct vigil_run_args *a, int c)
{
	if (a->attach)
		return c >= O_KERNEL && c <= O_CONSOLE;
	return c == O_SOCKET || c == O_QMP || c == O_OUT_DIR;
}

static const char *default_lookup(const char *name)
{
	return getenv(name);
}

/* What must hold once every option is read. */
static ssize_t sock_index(const struct vigil_run_args *a, const char *name)
{
	for (size_t i = 0; i < a->n_sock; i++)
		if (!strcmp(a->sock_name[i], name))
			return (ssize_t)i;
	return -1;
}

/* Unique names, each --qmp paired with one socket, files per guest. */
static int check_guests(struct vigil_run_args *a)
{
	if (!a->n_sock)
		return usage_error(a, "--socket PATH is required", NULL);
	for (size_t i = 0; i < a->n_sock; i++)
		if (sock_index(a, a->sock_name[i]) != (ssize_t)i) {
			fprintf(stderr,
				"vigil attach: two guests are named '%s': name them with "
				"--socket NAME=PATH\n",
				a->sock_name[i]);
			return VIGIL_EXIT_USAGE;
		}
	for (size_t i = 0; i < a->n_qmp; i++) {
		if (!a->qmp_name[i] && a->n_sock == 1)
			a->qmp_name[i] = a->sock_name[0];
		if (!a->qmp_name[i])
			return usage_error(a, "with several --socket, give each --qmp as NAME=PATH",
					   NULL);
		if (sock_index(a, a->qmp_name[i]) < 0) {
			fprintf(stderr, "vigil attach: --qmp %s=%s: no --socket is named '%s'\n",
				a->qmp_name[i], a->qmp_path[i], a->qmp_name[i]);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (a->n_sock > 1 &&
	    (a->o.events_path || a->o.verdict_path || a->o.junit_path || a->o.record_path))
		return usage_error(a,
				   "with several guests, outputs go to --out-dir DIR "
				   "(DIR/NAME/verdict.json, events.jsonl, junit.xml)",
				   NULL);
	if (a->n_sock > 1 && a->o.report_path && (!a->out_dir || strchr(a->o.report_path, '/')))
		return usage_error(a,
				   "with several guests, --report NAME (a file name, no '/') "
				   "writes DIR/GUEST/NAME under --out-dir DIR",
				   NULL);
	if (a->n_sock == 1 && a->out_dir)
		return usage_error(a,
				   "--out-dir is for several guests; with one, use --verdict, "
				   "--events and --junit",
				   NULL);
	return 0;
}

static int check_rest(struct vigil_run_args *a, int argc, char **argv)
{
	if (a->attach) {
		if (optind < argc)
			return usage_error(a, "unexpected argument: ", argv[optind]);
		return check_guests(a);
	}
	if (optind >= argc)
		return usage_error(a, "no command given: vigil run [OPTIONS] -- COMMAND [ARGS...]",
				   NULL);
	a->argv = argv + optind;
	a->argc = argc - optind;
	if (a->initrd && (a->n_exe_names || a->img.n_adds || a->img.n_extra_mods))
		return usage_error(a,
				   "--exe, --add and --module build an image; they cannot "
				   "be combined with --initrd",
				   NULL);
	if (a->initrd && !a->rootfs_given)
		a->rootfs_host = false; /* a given image is the root */
	if (a->kernel_tree && (a->o.qemu.kernel || a->img.modules_dir || a->initrd))
		return usage_error(a,
				   "--kernel-tree gives the kernel and its modules: not with "
				   "--kernel, --modules-dir or --initrd",
				   NULL);
	if (a->rootfs_host && a->initrd)
		return usage_error(a,
				   "--rootfs host builds its own small image; it cannot be "
				   "combined with --initrd",
				   NULL);
	if (!a->rootfs_host && (a->n_rwdirs || a->n_rodirs || a->n_hides || a->n_shows))
		return usage_error(a,
				   "--rwdir, --rodir, --hide and --show shape the host's "
				   "files in the guest: they need --rootfs host",
				   NULL);
	return 0;
}

int vigil_run_args_parse(struct vigil_run_args *a, int argc, char **argv, bool attach,
			 const char *(*env_lookup)(const char *name))
{
	int c, e;

	defaults(a, attach);
	if (!env_lookup)
		env_lookup = default_lookup;
	if (!attach && (e = rootfs_env(a, env_lookup)) != 0)
		return e;
	optind = 0; /* glibc: a full re-initialisation, also after an early return */
	opterr = 1;
	while ((c = getopt_long(argc, argv, "+qvh", run_opts, NULL)) != -1) {
		if (c == 'h') {
			a->help = true;
			return 0;
		}
		if (c == '?' || c == ':')
			return usage_error(a, "see --help", NULL);
		if (wrong_command(a, c)) {
			fprintf(stderr, "vigil %s: --%s is an option of `vigil %s`\n",
				attach ? "attach" : "run", opt_name(c), attach ? "run" : "attach");
			return VIGIL_EXIT_USAGE;
		}
		e = take(a, c, optarg, env_lookup);
		if (e != 0)
			return e > 0 ? e : VIGIL_EXIT_USAGE;
	}
	return check_rest(a, argc, argv);
}

void vigil_run_args_free(struct vigil_run_args *a)
{
	free(a->paths);
	a->paths = NULL;
	for (size_t i = 0; i < a->n_env; i++)
		free(a->env[i]);
	a->n_env = 0;
	vigil_image_args_free(&a->img);
}

void vigil_run_args_outputs(const struct vigil_run_args *a, struct vigil_out_paths *p)
{
	memset(p, 0, sizeof(*p));
	p->path[VIGIL_OUT_EVENTS] = a->o.events_path;
	p->path[VIGIL_OUT_VERDICT] = a->o.verdict_path;
	p->path[VIGIL_OUT_JUNIT] = a->o.junit_path;
	p->path[VIGIL_OUT_REPORT] = a->n_sock > 1 ? NULL : a->o.report_path;
	p->path[VIGIL_OUT_RECORD] = a->o.record_path;
	p->path[VIGIL_OUT_CONSOLE] = a->o.console_path;
	p->path[VIGIL_OUT_SNAPSHOT_DIR] = a->o.snapshot_dir;
}

/* DIR/NAME and its three files for one guest; directories created. */
static int guest_files(const struct vigil_run_args *a, struct vigil_run_opts *g,
		       struct vigil_guest_paths *p)
{
	if ((size_t)snprintf(p->dir, sizeof(p->dir), "%s/%s", a->out_dir, g->name) >=
	    sizeof(p->dir))
		return -ENAMETOOLONG;
	snprintf(p->verdict, sizeof(p->verdict), "%s/verdict.json", p->dir);
	snprintf(p->events, sizeof(p->events), "%s/events.jsonl", p->dir);
	snprintf(p->junit, sizeof(p->junit), "%s/junit.xml", p->dir);
	if (a->o.report_path)
		snprintf(p->report, sizeof(p->report), "%s/%s", p->dir, a->o.report_path);
	if ((mkdir(a->out_dir, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(p->dir, 0755) < 0 && errno != EEXIST)) {
		int e = -errno;
		fprintf(stderr, "vigil attach: cannot create %s: %s\n", p->dir, strerror(-e));
		return e;
	}
	g->verdict_path = p->verdict;
	g->events_path = p->events;
	g->junit_path = p->junit;
	g->report_path = a->o.report_path ? p->report : NULL;
	return 0;
}

int vigil_run_args_guests(struct vigil_run_args *a, struct vigil_run_opts **out)
{
	struct vigil_run_opts *gs = calloc(a->n_sock, sizeof(*gs));
	int e = 0;

	free(a->paths);
	a->paths = a->out_dir ? calloc(a->n_sock, sizeof(*a->paths)) : NULL;
	if (!gs || (a->out_dir && !a->paths))
		e = -ENOMEM;
	for (size_t i = 0; i < a->n_sock && e == 0; i++) {
		gs[i] = a->o;
		gs[i].name = a->sock_name[i];
		gs[i].socket_path = a->sock_path[i];
		for (size_t q = 0; q < a->n_qmp; q++)
			if (!strcmp(a->qmp_name[q], a->sock_name[i]))
				gs[i].qmp_path = a->qmp_path[q];
		if (a->out_dir)
			e = guest_files(a, &gs[i], &a->paths[i]);
	}
	if (e < 0) {
		free(gs);
		return e;
	}
	*out = gs;
	return 0;
}
