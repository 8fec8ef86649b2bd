/* SPDX-License-Identifier: MIT */
/*
 * vigil: the command-line entry point. Dispatches to one subcommand; the
 * logic lives in the modules beside this file. `watch` and `status` are
 * vigil-fleet's (fleet_main.c), which this program runs in its place: only
 * they need libvirt, libxml2, libmicrohttpd, libcurl and libsystemd, whose
 * loading (about 45 ms here) every other command no longer pays.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "paths.h"

#define FLEET "vigil-fleet"

/* Run vigil-fleet with the same arguments (argv[1] its command), in this
 * process's place. Returns only when it cannot. */
static int fleet(char **argv)
{
	char path[PATH_MAX];
	int e = ENOENT;

	argv[0] = (char *)FLEET;
	if (vigil_find_helper(FLEET, path, sizeof(path)) == 0) {
		execv(path, argv);
		e = errno;
	}
	fprintf(stderr,
		"vigil: cannot run %s for `vigil %s` (%s): it belongs beside vigil in the build "
		"tree, or in <prefix>/libexec/vigil; reinstall vigil\n",
		FLEET, argv[1], strerror(e));
	return VIGIL_EXIT_USAGE;
}

struct vigil_subcommand {
	const char *name;
	int (*run)(int argc, char **argv); /* NULL: vigil-fleet's */
	const char *summary;
};

static const struct vigil_subcommand subcommands[] = {
	{ "run", vigil_cmd_run,
	  "boot a QEMU guest, run a command in it, watch it, give a verdict" },
	{ "attach", vigil_cmd_attach, "watch a guest whose QEMU was started elsewhere" },
	{ "watch", NULL, "watch every libvirt guest with the vigil channel; serve /metrics" },
	{ "status", NULL, "what a running `vigil watch` sees now" },
	{ "decode", vigil_cmd_decode, "replay a --record file (or a raw port stream) offline" },
	{ "report", vigil_cmd_report,
	  "one HTML page with a run's timeline (from events or a recording)" },
	{ "initramfs", vigil_cmd_initramfs, "build (or find in the cache) the guest's initramfs" },
};

static void usage(FILE *f)
{
	fputs("usage: vigil COMMAND [OPTIONS] [ARGS]\n\ncommands:\n", f);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fputs("\n`vigil COMMAND --help` describes a command. A usage error exits 125.\n", f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return VIGIL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return VIGIL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("vigil %s\n", VIGIL_VERSION);
		return VIGIL_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		static char name[64];
		if (strcmp(argv[1], subcommands[i].name) != 0)
			continue;
		if (!subcommands[i].run)
			return fleet(argv);
		/* getopt's messages then read "vigil run: unrecognized option" */
		snprintf(name, sizeof(name), "vigil %s", subcommands[i].name);
		argv[1] = name;
		return subcommands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "vigil: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return VIGIL_EXIT_USAGE;
}
