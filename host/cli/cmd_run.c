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
#include "hostroot.h"
#include "ktree.h"
#include "paths.h"
#include "provenance.h"
#include "qemu.h"
#include "run_args.h"
#include "vmlinux.h"
#include "watch.h"
#include "workload.h"

/* What `vigil run` prepares before the guest starts. */
struct run_prep {
	char kernel[PATH_MAX];
	char vmlinux[PATH_MAX];    /* what QEMU boots through PVH, or "" */
	char kernel_src[PATH_MAX]; /* the kernel as given or found (the bzImage) */
	char image[PATH_MAX];
	char image_hash[33];
	char initrd_path[64]; /* /proc/self/fd/N of the per-run initrd */
	char snapdir[PATH_MAX];
	char exe_paths[VIGIL_RUN_LIST_MAX + 1][PATH_MAX];
	const char *exes[VIGIL_RUN_LIST_MAX + 1];
	int initrd_fd;
	struct vigil_ktree tree; /* --kernel-tree */
	/* --rootfs host */
	struct vigil_hostroot_plan plan;
	char cwd[PATH_MAX];
	char path_env[PATH_MAX + 64], home_env[PATH_MAX + 8];
	const char *named[5 * VIGIL_RUN_LIST_MAX + 1]; /* cwd, argv, --exe, --rodir, --add */
	size_t n_named;
	const char *env[VIGIL_RUN_ENV_MAX + 2]; /* PATH and HOME, then --env */
	char bind_src[VIGIL_RUN_LIST_MAX * 2][PATH_MAX];
	const char *bsrc[VIGIL_RUN_LIST_MAX * 2], *bdst[VIGIL_RUN_LIST_MAX * 2];
	size_t n_bind;
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

/* ---- --rootfs host ---------------------------------------------------------- */

/* SRC:DST of --rodir and --add: SRC resolved on the host, shown, bound at DST. */
static int hostroot_binds(struct vigil_run_args *a, struct run_prep *p)
{
	for (size_t i = 0; i < a->n_rodirs + a->img.n_adds; i++) {
		char src[PATH_MAX];
		const char *dst;

		if (i < a->n_rodirs) {
			const char *colon = strrchr(a->rodirs[i], ':');
			snprintf(src, sizeof(src), "%.*s", (int)(colon - a->rodirs[i]),
				 a->rodirs[i]);
			dst = colon + 1;
		} else {
			snprintf(src, sizeof(src), "%s", a->img.adds[i - a->n_rodirs].src);
			dst = a->img.adds[i - a->n_rodirs].dst;
		}
		if (p->n_bind == VIGIL_RUN_LIST_MAX * 2 ||
		    p->n_named == sizeof(p->named) / sizeof(p->named[0])) {
			fprintf(stderr, "vigil run: more than %d --rodir and --add together\n",
				VIGIL_RUN_LIST_MAX * 2);
			return VIGIL_EXIT_USAGE;
		}
		if (dst[0] != '/' || !realpath(src, p->bind_src[p->n_bind])) {
			fprintf(stderr, "vigil run: --%s %s:%s: %s\n",
				i < a->n_rodirs ? "rodir" : "add", src, dst,
				dst[0] != '/' ? "DST must be an absolute guest path"
					      : strerror(errno));
			return VIGIL_EXIT_USAGE;
		}
		p->bsrc[p->n_bind] = p->bind_src[p->n_bind];
		p->bdst[p->n_bind] = dst;
		p->named[p->n_named++] = p->bind_src[p->n_bind];
		p->n_bind++;
	}
	return 0;
}

/* Paths the run names: shown again in the guest when the default hides them. */
static int hostroot_named(struct vigil_run_args *a, struct run_prep *p)
{
	p->named[p->n_named++] = p->cwd;
	for (int i = 0; i < a->argc && p->n_named < VIGIL_RUN_LIST_MAX; i++) {
		if (strchr(a->argv[i], '/') && access(a->argv[i], F_OK) == 0)
			p->named[p->n_named++] = a->argv[i];
	}
	for (size_t i = 0; i < a->n_exe_names; i++) {
		int e = add_exe(a, p, a->exe_names[i], "--exe ");
		if (e)
			return e;
		p->named[p->n_named++] = p->exes[i];
	}
	a->img.n_exes = 0; /* seen in place, not carried */
	return hostroot_binds(a, p);
}

/*
 * The plan of what the guest sees, and an image that carries only the
 * agent and the modules of virtiofs and overlayfs.
 */
static int prepare_hostroot(struct vigil_run_args *a, struct run_prep *p)
{
	static const char *const mods[] = { "fuse", "virtiofs", "overlay" };
	struct vigil_hostroot_req req = {
		.hide = a->hides,
		.n_hide = a->n_hides,
		.show = a->shows,
		.n_show = a->n_shows,
		.rw = a->rwdirs,
		.n_rw = a->n_rwdirs,
		.named = p->named,
		.home = getenv("HOME"),
		.path = getenv("PATH"),
	};
	char err[PATH_MAX + 256];
	int e;

	if (vigil_hostroot_check(NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil run: %s\n", err);
		return VIGIL_EXIT_HARNESS;
	}
	if (!getcwd(p->cwd, sizeof(p->cwd))) {
		fprintf(stderr, "vigil run: cannot read the current directory: %s\n",
			strerror(errno));
		return VIGIL_EXIT_HARNESS;
	}
	if ((e = hostroot_named(a, p)))
		return e;
	req.n_named = p->n_named;
	if (vigil_hostroot_plan(&req, &p->plan, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil run: %s\n", err);
		return VIGIL_EXIT_USAGE;
	}
	a->img.no_busybox = true;
	for (size_t i = 0; i < 3 && a->img.n_extra_mods < VIGIL_RUN_LIST_MAX; i++)
		a->mods[a->img.n_extra_mods++] = mods[i];
	a->o.hostroot = &p->plan;
	return 0;
}

/* What the agent needs to switch into the host's root, as workload records. */
static void hostroot_workload(struct vigil_run_args *a, struct run_prep *p,
			      struct vigil_workload *w)
{
	const char *path = getenv("PATH"), *home = getenv("HOME");

	snprintf(p->path_env, sizeof(p->path_env), "PATH=/run/vigil/bin:%s",
		 path && *path ? path
			       : "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin");
	snprintf(p->home_env, sizeof(p->home_env), "HOME=%s", home && *home ? home : "/");
	p->env[0] = p->path_env;
	p->env[1] = p->home_env;
	for (size_t i = 0; i < a->n_env; i++)
		p->env[2 + i] = a->env[i];
	w->env = p->env;
	w->n_env = a->n_env + 2;
	w->cwd = p->cwd;
	w->rootfs_host = true;
	w->plan = &p->plan;
	w->bind_src = p->bsrc;
	w->bind_dst = p->bdst;
	w->n_bind = p->n_bind;
	w->set_ids = true;
	w->uid = getuid();
	w->gid = getgid();
}

/*
 * PVH boot of the kernel's own vmlinux when it can (vmlinux.h); else the
 * bzImage as given, said only with -v: never an error.
 */
static void prepare_pvh(struct vigil_run_args *a, struct run_prep *p)
{
	char why[PATH_MAX + 128];

	snprintf(p->kernel_src, sizeof(p->kernel_src), "%s", a->o.qemu.kernel);
	if (a->kernel_bzimage)
		return;
	if (vigil_vmlinux_for(a->o.qemu.kernel, p->vmlinux, sizeof(p->vmlinux), why, sizeof(why)) <
	    0) {
		p->vmlinux[0] = '\0';
		if (a->o.verbose)
			fprintf(stderr, "vigil: booting the bzImage %s: %s\n", a->o.qemu.kernel,
				why);
		return;
	}
	a->o.qemu.kernel = p->vmlinux;
	if (a->o.verbose)
		fprintf(stderr, "vigil: booting %s through PVH\n", p->vmlinux);
}

/* --kernel-tree DIR: its kernel, and its modules staged for the image. */
static int open_tree(struct vigil_run_args *a, struct run_prep *p)
{
	char err[PATH_MAX + 128];

	if (vigil_ktree_open(a->kernel_tree, &p->tree, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil run: --kernel-tree %s\n", err);
		vigil_ktree_close(&p->tree);
		return VIGIL_EXIT_HARNESS;
	}
	a->img.kernel = p->tree.kernel;
	a->img.modules_dir = p->tree.stage.moddir;
	if (a->o.verbose)
		fprintf(stderr, "vigil: kernel %s (%s), %u modules from %s/modules.order\n",
			p->tree.kernel, p->tree.release, p->tree.modules, a->kernel_tree);
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
		e = a->rootfs_host ? prepare_hostroot(a, p) : resolve_programs(a, p);
		if (e)
			return e;
		if (a->kernel_tree && (e = open_tree(a, p)))
			return e;
		e = vigil_image_build(&a->img, &res, p->kernel, sizeof(p->kernel));
		vigil_ktree_close(&p->tree); /* the image carries what it needs */
		if (e < 0 && a->rootfs_host)
			fputs(
			    "vigil run: --rootfs host needs the guest kernel's fuse, virtiofs and "
			    "overlay drivers (--rootfs image does not)\n",
			    stderr);
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
	prepare_pvh(a, p);
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

	if (a->rootfs_host)
		hostroot_workload(a, p, &w);
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
		.kernel = p->kernel_src,
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

/* The workload's stdin in the guest is /dev/null (the stream carries no
 * input): input waiting on vigil's own stdin would be lost unseen, so it
 * is said. An idle pipe (a CI runner's) says nothing. */
static void note_stdin(const struct vigil_run_args *a)
{
	if (!a->o.quiet && vigil_input_waiting(STDIN_FILENO))
		fprintf(stderr,
			"vigil: note: the command's stdin in the guest is /dev/null: what is piped "
			"into vigil does not reach it (give it a file instead%s)\n",
			a->rootfs_host ? ": the guest sees the host's files"
				       : ", carried with --add SRC:DST");
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
		a->o.root = a->initrd        ? VIGIL_ROOT_OTHER
			    : a->rootfs_host ? VIGIL_ROOT_HOST
					     : VIGIL_ROOT_IMAGE;
		a->o.provenance = provenance(a, p);
		if (a->o.provenance) {
			json_object_object_add(a->o.provenance, "rootfs",
					       json_object_new_string(vigil_root_name(a->o.root)));
			json_object_object_add(
			    a->o.provenance, "boot",
			    json_object_new_string(p->vmlinux[0] ? "pvh" : "bzimage"));
		}
		if (a->o.qemu.machine == VIGIL_MACHINE_MICROVM) {
			if (vigil_tsc_khz(&tsc) < 0 && !a->o.quiet)
				fprintf(
				    stderr,
				    "vigil: note: host TSC frequency unknown; microvm boots may "
				    "stall calibrating it (use --machine pc, or --append "
				    "tsc_early_khz=N)\n");
			a->o.qemu.tsc_khz = tsc;
		}
		note_stdin(a);
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
