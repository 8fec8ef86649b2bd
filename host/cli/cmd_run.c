/* SPDX-License-Identifier: MIT */
/*
 * `vigil run` and `vigil attach`: parse (run_args.c), check every output
 * before anything boots (outputs.c), then for run: find the workload's
 * program, build the image, put the workload file after it (workload.c),
 * record the provenance, and hand over to watch.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "paths.h"
#include "provenance.h"
#include "qemu.h"
#include "run_args.h"
#include "watch.h"
#include "workload.h"

/* What `vigil run` prepares before the guest starts. */
struct run_prep {
	char kernel[PATH_MAX];
	char image[PATH_MAX];
	char image_hash[33];
	char initrd_path[64]; /* /proc/self/fd/N of the per-run initrd */
	char snapdir[PATH_MAX];
	char exe_paths[VIGIL_RUN_LIST_MAX + 1][PATH_MAX];
	const char *exes[VIGIL_RUN_LIST_MAX + 1];
	int initrd_fd;
};

static int check_outputs(const struct vigil_run_args *a)
{
	struct vigil_out_paths p;
	char err[PATH_MAX + 256];

	vigil_run_args_outputs(a, &p);
	if (vigil_outputs_check(&p, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil %s: %s\n", a->attach ? "attach" : "run", err);
		return VIGIL_EXIT_HARNESS;
	}
	return 0;
}

/* QEMU writes the dumps: give it a path that does not depend on its cwd. */
static int absolute_snapdir(struct vigil_run_opts *o, char *buf, size_t cap)
{
	char cwd[PATH_MAX];

	if (!o->snapshot_dir || o->snapshot_dir[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)) ||
	    (size_t)snprintf(buf, cap, "%s/%s", cwd, o->snapshot_dir) >= cap) {
		fprintf(stderr, "vigil: --snapshot-dir %s: path too long\n", o->snapshot_dir);
		return VIGIL_EXIT_HARNESS;
	}
	o->snapshot_dir = buf;
	return 0;
}

static int add_exe(struct vigil_run_args *a, struct run_prep *p, const char *name, const char *why)
{
	size_t i = a->img.n_exes;
	int e = vigil_find_program(name, getenv("PATH"), p->exe_paths[i], sizeof(p->exe_paths[i]));

	if (e < 0) {
		fprintf(stderr, "vigil run: %s%s: %s%s\n", why, name,
			strchr(name, '/') ? "" : "not found on $PATH: ",
			strchr(name, '/') ? strerror(-e)
			: getenv("PATH")  ? getenv("PATH")
					  : "");
		return VIGIL_EXIT_HARNESS;
	}
	p->exes[i] = p->exe_paths[i];
	a->img.exes = p->exes;
	a->img.n_exes = i + 1;
	return 0;
}

/*
 * The workload's program: a busybox applet, or a host program carried in
 * at its host path (the guest runs it there); then every --exe.
 */
static int resolve_programs(struct vigil_run_args *a, struct run_prep *p)
{
	const char *cmd = a->argv[0];
	int has = 0, e;

	if (!a->img.no_busybox && !strchr(cmd, '/'))
		has = vigil_busybox_has("/bin/busybox", cmd);
	if (has <= 0) {
		e = add_exe(a, p, cmd, "");
		if (e)
			return e;
		a->argv[0] = p->exe_paths[0];
	}
	for (size_t i = 0; i < a->n_exe_names; i++) {
		e = add_exe(a, p, a->exe_names[i], "--exe ");
		if (e)
			return e;
	}
	return 0;
}

static int prepare_image(struct vigil_run_args *a, struct run_prep *p)
{
	struct vigil_ird_result res;
	int e;

	if (a->initrd) {
		snprintf(p->image, sizeof(p->image), "%s", a->initrd);
		if (!a->o.qemu.kernel) {
			if (vigil_find_kernel("/boot", p->kernel, sizeof(p->kernel)) < 0) {
				fputs("vigil run: no kernel: pass --kernel\n", stderr);
				return VIGIL_EXIT_HARNESS;
			}
			a->o.qemu.kernel = p->kernel;
		}
	} else {
		e = resolve_programs(a, p);
		if (e)
			return e;
		e = vigil_image_build(&a->img, &res, p->kernel, sizeof(p->kernel));
		if (e < 0)
			return VIGIL_EXIT_HARNESS;
		snprintf(p->image, sizeof(p->image), "%s", res.path);
		snprintf(p->image_hash, sizeof(p->image_hash), "%s", res.hash);
		a->o.qemu.kernel = p->kernel;
		if (a->o.verbose)
			fprintf(stderr, "vigil: initramfs %s (%s, %zu entries)\n", res.path,
				res.cache_hit ? "cached" : "built", res.entries);
	}
	if (access(a->o.qemu.kernel, R_OK) < 0) {
		fprintf(stderr, "vigil run: cannot read the kernel %s: %s\n", a->o.qemu.kernel,
			strerror(errno));
		return VIGIL_EXIT_HARNESS;
	}
	return 0;
}

/* The image followed by the workload file, in a memfd QEMU inherits. */
static int prepare_initrd(struct vigil_run_args *a, struct run_prep *p)
{
	struct vigil_workload w = {
		.argv = a->argv,
		.argc = a->argc,
		.env = (const char *const *)a->env,
		.n_env = a->n_env,
		.scenario = a->scenario,
	};
	char *file;
	size_t len;
	int e = vigil_workload_encode(&w, &file, &len);

	if (e < 0) {
		fprintf(stderr, "vigil run: the command cannot be passed to the guest: %s\n",
			e == -E2BIG ? "over 4 MiB, 65536 words or 4096 variables" : strerror(-e));
		return VIGIL_EXIT_HARNESS;
	}
	p->initrd_fd = vigil_workload_initrd(p->image, file, len);
	free(file);
	if (p->initrd_fd < 0) {
		fprintf(stderr, "vigil run: cannot prepare the initrd from %s: %s\n", p->image,
			strerror(-p->initrd_fd));
		return VIGIL_EXIT_HARNESS;
	}
	vigil_workload_initrd_path(p->initrd_fd, p->initrd_path, sizeof(p->initrd_path));
	a->o.qemu.initrd = p->initrd_path;
	return 0;
}

static struct json_object *provenance(const struct vigil_run_args *a, const struct run_prep *p)
{
	struct vigil_provenance_in in = {
		.kernel = a->o.qemu.kernel,
		.image = p->image,
		.image_hash = p->image_hash[0] ? p->image_hash : NULL,
		.argv = a->argv,
		.argc = a->argc,
		.env = (const char *const *)a->env,
		.n_env = a->n_env,
		.scenario = a->scenario,
	};

	return vigil_provenance_new(&in);
}

static int run_main(struct vigil_run_args *a)
{
	struct run_prep *p = calloc(1, sizeof(*p));
	uint32_t tsc = 0;
	int code;

	if (!p)
		return VIGIL_EXIT_HARNESS;
	p->initrd_fd = -1;
	code = absolute_snapdir(&a->o, p->snapdir, sizeof(p->snapdir));
	if (!code)
		code = prepare_image(a, p);
	if (!code)
		code = prepare_initrd(a, p);
	if (!code) {
		/* vigil reads the port again whenever it pauses (its own output
		 * backlogged): the agent holds the workload rather than drop */
		a->o.qemu.guest_params = "vigil.stall_ms=0";
		a->o.image_mode = !a->initrd;
		a->o.provenance = provenance(a, p);
		if (a->o.qemu.machine == VIGIL_MACHINE_MICROVM) {
			if (vigil_tsc_khz(&tsc) < 0 && !a->o.quiet)
				fprintf(
				    stderr,
				    "vigil: note: host TSC frequency unknown; microvm boots may "
				    "stall calibrating it (use --machine pc, or --append "
				    "tsc_early_khz=N)\n");
			a->o.qemu.tsc_khz = tsc;
		}
		code = vigil_watch_main(&a->o, 1);
		json_object_put(a->o.provenance);
	}
	if (p->initrd_fd >= 0)
		close(p->initrd_fd);
	free(p);
	return code;
}

/* What attach knows of a run: vigil itself, the sockets, and QEMU's
 * version once QMP greets (added at the end). */
static struct json_object *attach_provenance(const struct vigil_run_opts *g)
{
	struct json_object *p = vigil_provenance_new(&(struct vigil_provenance_in){ 0 });
	struct json_object *at = json_object_new_object();

	json_object_object_add(at, "name", json_object_new_string(g->name));
	json_object_object_add(at, "socket", json_object_new_string(g->socket_path));
	json_object_object_add(at, "qmp", g->qmp_path ? json_object_new_string(g->qmp_path) : NULL);
	json_object_object_add(p, "attach", at);
	return p;
}

static int attach_main(struct vigil_run_args *a)
{
	static char snapdir[PATH_MAX];
	struct vigil_run_opts *gs = NULL;
	int code = absolute_snapdir(&a->o, snapdir, sizeof(snapdir));

	if (code)
		return code;
	if (vigil_run_args_guests(a, &gs) < 0)
		return VIGIL_EXIT_HARNESS;
	for (size_t i = 0; i < a->n_sock; i++)
		gs[i].provenance = attach_provenance(&gs[i]);
	code = vigil_watch_main(gs, a->n_sock);
	for (size_t i = 0; i < a->n_sock; i++)
		json_object_put(gs[i].provenance);
	free(gs);
	return code;
}

static int common_main(int argc, char **argv, bool attach)
{
	struct vigil_run_args *a = malloc(sizeof(*a));
	int code;

	if (!a)
		return VIGIL_EXIT_HARNESS;
	code = vigil_run_args_parse(a, argc, argv, attach, NULL);
	if (!code && a->help)
		fputs(vigil_run_usage(attach), stdout);
	if (!code && !a->help)
		code = check_outputs(a);
	if (!code && !a->help)
		code = attach ? attach_main(a) : run_main(a);
	vigil_run_args_free(a);
	free(a);
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
