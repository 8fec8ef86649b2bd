/* SPDX-License-Identifier: MIT */
/*
 * vigil-fleet: `vigil watch` and `vigil status`, which vigil (main.c) runs
 * in its place so that its other commands do not load libvirt, libxml2,
 * libmicrohttpd, libcurl and libsystemd. Installed in
 * <prefix>/libexec/vigil; run by hand it takes the same arguments
 * (`vigil-fleet watch ...`).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
	static char name[32];

	if (argc >= 2 && (!strcmp(argv[1], "watch") || !strcmp(argv[1], "status"))) {
		/* getopt's messages then read "vigil watch: unrecognized option" */
		snprintf(name, sizeof(name), "vigil %s", argv[1]);
		argv[1] = name;
		return !strcmp(name, "vigil watch") ? vigil_cmd_watch(argc - 1, argv + 1)
						    : vigil_cmd_status(argc - 1, argv + 1);
	}
	fputs("usage: vigil-fleet watch|status [OPTIONS] (as `vigil watch`, `vigil status`)\n",
	      stderr);
	return VIGIL_EXIT_USAGE;
}
