/* SPDX-License-Identifier: MIT */
/*
 * cli: the subcommands of `vigil` and what they share (exit codes, the
 * default guest image). Each cmd_*.c parses its own options.
 */
#ifndef VIGIL_CLI_CLI_H
#define VIGIL_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "initramfs.h"

/* Exit codes of vigil itself (docs/cli.md); the run's come from the verdict. */
#define VIGIL_EXIT_OK      0
#define VIGIL_EXIT_HARNESS 125 /* vigil's own error */
/* A bad command line, in every subcommand: 125 too, since `vigil run`
 * passes the workload's own statuses 1..123 through. */
#define VIGIL_EXIT_USAGE VIGIL_EXIT_HARNESS

/* The kernel modules every image carries when the kernel has them as
 * modules (both transports, so one image boots on pc and microvm). */
extern const struct vigil_kmod_want vigil_default_mods[];
extern const size_t vigil_n_default_mods;

/*
 * Image options shared by `vigil initramfs` and `vigil run`: filled from
 * the command line, then turned into a build by vigil_image_build().
 */
struct vigil_image_args {
	const char *kernel;      /* NULL: default kernel */
	const char *modules_dir; /* NULL: /lib/modules/<release of kernel> */
	const char *init;        /* NULL: the agent */
	const char *agent;       /* NULL: found by vigil_find_agent */
	const char *busybox;     /* default /bin/busybox */
	bool no_busybox;
	const char **exes;
	size_t n_exes;
	struct vigil_ird_add *adds;
	size_t n_adds;
	const char **extra_mods;
	size_t n_extra_mods;
	bool no_cache;
	const char *output; /* with no_cache: where to write */
};

/* Parse "SRC:DST" into adds (appends; the strings point into arg). */
int vigil_image_add_arg(struct vigil_image_args *a, char *arg);
/* Resolve defaults and build. Prints errors to stderr. 0 or negative errno. */
int vigil_image_build(const struct vigil_image_args *a, struct vigil_ird_result *res,
		      char *kernel_out, size_t kernel_cap);
void vigil_image_args_free(struct vigil_image_args *a);

int vigil_cmd_initramfs(int argc, char **argv);
int vigil_cmd_run(int argc, char **argv);
int vigil_cmd_attach(int argc, char **argv);
int vigil_cmd_decode(int argc, char **argv);
int vigil_cmd_report(int argc, char **argv);
int vigil_cmd_watch(int argc, char **argv);
int vigil_cmd_status(int argc, char **argv);

#endif /* VIGIL_CLI_CLI_H */
