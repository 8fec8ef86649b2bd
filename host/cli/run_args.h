/* SPDX-License-Identifier: MIT */
/*
 * run_args: the command line of `vigil run` and `vigil attach`, parsed into
 * one struct with no side effects (nothing is built, opened or started), so
 * every rule of it can be tested without a guest.
 *
 * Owns: the option table, the help texts, which options belong to which
 * command, value checks that name the option they belong to, and the
 * --env NAME form that takes the value from vigil's own environment.
 * Limits: at most VIGIL_RUN_LIST_MAX of each repeatable option.
 */
#ifndef VIGIL_CLI_RUN_ARGS_H
#define VIGIL_CLI_RUN_ARGS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "guest.h"
#include "outputs.h"
#include "watch.h"

#define VIGIL_RUN_LIST_MAX 64
#define VIGIL_RUN_ENV_MAX  256
/* --rootfs when neither it nor $VIGIL_ROOTFS is given: host (docs/cli.md says why) */
#define VIGIL_ROOTFS_HOST_DEFAULT true

/* The files of one guest under --out-dir. */
struct vigil_guest_paths {
	char dir[PATH_MAX];
	char verdict[PATH_MAX + 16], events[PATH_MAX + 16], junit[PATH_MAX + 16];
	char report[PATH_MAX + 256];
};

struct vigil_run_args {
	bool attach;
	struct vigil_run_opts o;     /* the runner's options (qemu, session, outputs) */
	struct vigil_image_args img; /* run: how to build the image */
	const char *initrd;          /* run: --initrd, or NULL to build one */
	const char *qemu_extra[VIGIL_RUN_LIST_MAX];
	const char *mods[VIGIL_RUN_LIST_MAX];
	const char *exe_names[VIGIL_RUN_LIST_MAX]; /* --exe, as given */
	size_t n_exe_names;
	char *env[VIGIL_RUN_ENV_MAX]; /* NAME=VALUE, malloc'ed */
	size_t n_env;
	const char *scenario;
	/* run --rootfs host (docs/cli.md, "Two root file systems") */
	bool rootfs_host;
	bool rootfs_given;                      /* --rootfs on the command line */
	bool kernel_bzimage; /* --kernel-boot bzimage: no PVH boot */
	const char *kernel_tree; /* --kernel-tree DIR */
	const char *rwdirs[VIGIL_RUN_LIST_MAX]; /* --rwdir DIR */
	size_t n_rwdirs;
	const char *rodirs[VIGIL_RUN_LIST_MAX]; /* --rodir SRC:DST, as given */
	size_t n_rodirs;
	const char *hides[VIGIL_RUN_LIST_MAX]; /* --hide PATH */
	size_t n_hides;
	const char *shows[VIGIL_RUN_LIST_MAX]; /* --show ENTRY */
	size_t n_shows;
	/* attach: one guest per --socket [NAME=]PATH; --qmp [NAME=]PATH pairs
	 * with the socket of the same NAME */
	const char *sock_name[VIGIL_RUN_LIST_MAX], *sock_path[VIGIL_RUN_LIST_MAX];
	size_t n_sock;
	const char *qmp_name[VIGIL_RUN_LIST_MAX], *qmp_path[VIGIL_RUN_LIST_MAX];
	size_t n_qmp;
	const char *out_dir; /* attach with several guests: DIR/NAME/{verdict.json,...} */
	struct vigil_guest_paths *paths; /* one per guest with out_dir (vigil_run_args_guests) */
	char **argv;                     /* run: the workload (points into the caller's argv) */
	int argc;
	bool help; /* -h: the caller prints the usage and exits 0 */
};

/*
 * Parse argv (argv[0] is the command's name). 0 ok; otherwise the process
 * exit code for a usage error (VIGIL_EXIT_USAGE), with the message already
 * printed to stderr. env_lookup resolves --env NAME (NULL: getenv).
 * Free with vigil_run_args_free() in every case.
 */
int vigil_run_args_parse(struct vigil_run_args *a, int argc, char **argv, bool attach,
			 const char *(*env_lookup)(const char *name));
void vigil_run_args_free(struct vigil_run_args *a);

/*
 * attach: the option set of each guest, from a->o: *out is a malloc'ed
 * array of a->n_sock sets (names, sockets, QMP paths, and with --out-dir
 * the files DIR/NAME/{verdict.json,events.jsonl,junit.xml}, directories
 * created). 0 or -errno (said on stderr).
 */
int vigil_run_args_guests(struct vigil_run_args *a, struct vigil_run_opts **out);

/* The output paths of a, for vigil_outputs_check(). */
void vigil_run_args_outputs(const struct vigil_run_args *a, struct vigil_out_paths *p);

const char *vigil_run_usage(bool attach);

#endif /* VIGIL_CLI_RUN_ARGS_H */
