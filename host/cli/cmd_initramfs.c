/* SPDX-License-Identifier: MIT */
/* `vigil initramfs`: build the guest image and print where it is. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "paths.h"

static const char initramfs_usage[] =
    "usage: vigil initramfs [OPTIONS]\n"
    "\n"
    "Build the guest's initramfs (uncompressed newc cpio) and print its path.\n"
    "Images are cached by content hash under $XDG_CACHE_HOME/vigil (or\n"
    "~/.cache/vigil); an unchanged set of inputs reuses the cached image.\n"
    "\n"
    "  -o, --output FILE      write the image to FILE instead of the cache\n"
    "      --kernel FILE      kernel whose modules to carry (default: $VIGIL_KERNEL,\n"
    "                         else the newest /boot/vmlinuz-*)\n"
    "      --modules-dir DIR  module tree (default: /lib/modules/<kernel release>)\n"
    "      --module NAME      also carry this module and its dependencies (repeatable)\n"
    "      --agent FILE       the static agent, installed as /init and\n"
    "                         /bin/vigil-agent (default: found beside vigil)\n"
    "      --init FILE        install FILE as /init instead of the agent\n"
    "      --busybox FILE     static busybox to carry (default: /bin/busybox)\n"
    "      --no-busybox       carry no busybox\n"
    "      --exe PROGRAM      carry a host program (looked up on $PATH) with its\n"
    "                         interpreter and shared libraries (repeatable)\n"
    "      --add SRC:DST      carry a host file or directory at guest path DST\n"
    "                         (repeatable; applied last, so it can replace files)\n"
    "  -q, --quiet            print only the path\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 with the image's path on stdout; 125 for a usage error or\n"
    "an image that could not be built (as every vigil command).\n";

enum {
	OPT_KERNEL = 256,
	OPT_MODDIR,
	OPT_MODULE,
	OPT_AGENT,
	OPT_INIT,
	OPT_BUSYBOX,
	OPT_NO_BUSYBOX,
	OPT_EXE,
	OPT_ADD,
};

static const struct option initramfs_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "modules-dir", required_argument, NULL, OPT_MODDIR },
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "agent", required_argument, NULL, OPT_AGENT },
	{ "init", required_argument, NULL, OPT_INIT },
	{ "busybox", required_argument, NULL, OPT_BUSYBOX },
	{ "no-busybox", no_argument, NULL, OPT_NO_BUSYBOX },
	{ "exe", required_argument, NULL, OPT_EXE },
	{ "add", required_argument, NULL, OPT_ADD },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

#define MAX_LIST 64

int vigil_cmd_initramfs(int argc, char **argv)
{
	struct vigil_image_args a = { 0 };
	static char exe_paths[MAX_LIST][PATH_MAX];
	const char *exes[MAX_LIST], *mods[MAX_LIST];
	struct vigil_ird_result res;
	bool quiet = false;
	int c, r;

	a.exes = exes;
	a.extra_mods = mods;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", initramfs_opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a.output = optarg;
			a.no_cache = true;
			break;
		case OPT_KERNEL:
			a.kernel = optarg;
			break;
		case OPT_MODDIR:
			a.modules_dir = optarg;
			break;
		case OPT_MODULE:
			if (a.n_extra_mods == MAX_LIST) {
				fprintf(stderr, "vigil initramfs: at most %d --module\n", MAX_LIST);
				return VIGIL_EXIT_USAGE;
			}
			mods[a.n_extra_mods++] = optarg;
			break;
		case OPT_AGENT:
			a.agent = optarg;
			break;
		case OPT_INIT:
			a.init = optarg;
			break;
		case OPT_BUSYBOX:
			a.busybox = optarg;
			break;
		case OPT_NO_BUSYBOX:
			a.no_busybox = true;
			break;
		case OPT_EXE:
			if (a.n_exes == MAX_LIST) {
				fprintf(stderr, "vigil initramfs: at most %d --exe\n", MAX_LIST);
				return VIGIL_EXIT_USAGE;
			}
			r = vigil_find_program(optarg, getenv("PATH"), exe_paths[a.n_exes],
					       PATH_MAX);
			if (r < 0) {
				fprintf(stderr, "vigil initramfs: cannot find program %s (%s)\n",
					optarg, strerror(-r));
				vigil_image_args_free(&a);
				return VIGIL_EXIT_USAGE;
			}
			exes[a.n_exes] = exe_paths[a.n_exes];
			a.n_exes++;
			break;
		case OPT_ADD:
			r = vigil_image_add_arg(&a, optarg);
			if (r < 0) {
				fprintf(stderr,
					"vigil initramfs: --add wants SRC:/GUEST/PATH, got '%s'\n",
					optarg);
				vigil_image_args_free(&a);
				return VIGIL_EXIT_USAGE;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(initramfs_usage, stdout);
			vigil_image_args_free(&a);
			return VIGIL_EXIT_OK;
		default:
			fputs(initramfs_usage, stderr);
			vigil_image_args_free(&a);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigil initramfs: unexpected argument '%s'\n", argv[optind]);
		vigil_image_args_free(&a);
		return VIGIL_EXIT_USAGE;
	}
	r = vigil_image_build(&a, &res, NULL, 0);
	vigil_image_args_free(&a);
	if (r < 0)
		return VIGIL_EXIT_HARNESS;
	if (!quiet)
		fprintf(stderr, "vigil: initramfs %s: %zu entries, %zu modules (%s)\n", res.hash,
			res.entries, res.modules, res.cache_hit ? "cached" : "built");
	printf("%s\n", res.path);
	return VIGIL_EXIT_OK;
}
