/* SPDX-License-Identifier: MIT */
/*
 * image: command-line level glue for building the guest image: defaults
 * (kernel, modules dir, agent, busybox, cache) on top of initramfs.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "paths.h"

const struct vigil_kmod_want vigil_default_mods[] = {
	{ "virtio_ring", false },
	{ "virtio", false },
	{ "virtio_pci", false },
	{ "virtio_mmio", false },
	{ "virtio_console", true },
	{ "pvpanic_mmio", false },
	{ "pvpanic_pci", false },
	{ "inet_diag", false },
	{ "tcp_diag", false },
	{ "udp_diag", false },
};
const size_t vigil_n_default_mods = sizeof(vigil_default_mods) / sizeof(vigil_default_mods[0]);

int vigil_image_add_arg(struct vigil_image_args *a, char *arg)
{
	char *colon = strrchr(arg, ':');
	struct vigil_ird_add *n;

	if (!colon || colon == arg || colon[1] != '/')
		return -EINVAL;
	n = realloc(a->adds, (a->n_adds + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	*colon = '\0';
	n[a->n_adds].src = arg;
	n[a->n_adds].dst = colon + 1;
	a->adds = n;
	a->n_adds++;
	return 0;
}

void vigil_image_args_free(struct vigil_image_args *a)
{
	free(a->adds);
	a->adds = NULL;
	a->n_adds = 0;
}

int vigil_image_build(const struct vigil_image_args *a, struct vigil_ird_result *res,
		      char *kernel_out, size_t kernel_cap)
{
	struct vigil_kmod_want mods[64];
	char kernel[PATH_MAX], moddir[PATH_MAX], agent[PATH_MAX], cache[PATH_MAX];
	char release[256];
	struct vigil_ird_opts o = { 0 };
	size_t nm = 0;
	struct stat st;
	int r;

	if (a->kernel) {
		if (access(a->kernel, R_OK) < 0) {
			fprintf(stderr, "vigil: cannot read the kernel %s: %s\n", a->kernel,
				strerror(errno));
			return -errno;
		}
		snprintf(kernel, sizeof(kernel), "%s", a->kernel);
	} else {
		r = vigil_find_kernel("/boot", kernel, sizeof(kernel));
		if (r < 0) {
			fprintf(
			    stderr,
			    "vigil: no guest kernel: $VIGIL_KERNEL unset and no /boot/vmlinuz-* "
			    "(%s; install linux-image-cloud-amd64 or pass --kernel)\n",
			    strerror(-r));
			return r;
		}
	}
	if (kernel_out)
		snprintf(kernel_out, kernel_cap, "%s", kernel);
	if (a->modules_dir) {
		snprintf(moddir, sizeof(moddir), "%s", a->modules_dir);
	} else {
		r = vigil_kernel_release(kernel, release, sizeof(release));
		if (r < 0) {
			fprintf(stderr,
				"vigil: cannot read the release of %s (%s; pass --modules-dir)\n",
				kernel, strerror(-r));
			return r;
		}
		snprintf(moddir, sizeof(moddir), "/lib/modules/%s", release);
	}
	if (stat(moddir, &st) == 0 && S_ISDIR(st.st_mode)) {
		o.modules_dir = moddir;
		for (size_t i = 0; i < vigil_n_default_mods; i++)
			mods[nm++] = vigil_default_mods[i];
		for (size_t i = 0; i < a->n_extra_mods && nm < sizeof(mods) / sizeof(mods[0]); i++)
			mods[nm++] = (struct vigil_kmod_want){ a->extra_mods[i], true };
		o.mods = mods;
		o.n_mods = nm;
	} else if (a->modules_dir) {
		fprintf(stderr, "vigil: %s is not a directory\n", moddir);
		return -ENOENT;
	} else {
		fprintf(stderr,
			"vigil: note: no %s; assuming the kernel has its virtio drivers built in\n",
			moddir);
	}
	if (a->init) {
		o.init = a->init;
	} else if (a->agent) {
		o.init = a->agent;
		o.init_is_agent = true;
	} else {
		r = vigil_find_agent(agent, sizeof(agent));
		if (r < 0) {
			fprintf(stderr,
				"vigil: cannot find the guest agent vigil-agent (build it, or set "
				"$VIGIL_AGENT or --agent)\n");
			return r;
		}
		o.init = agent;
		o.init_is_agent = true;
	}
	if (!a->no_busybox)
		o.busybox = a->busybox ? a->busybox : "/bin/busybox";
	if (o.busybox && access(o.busybox, X_OK) < 0) {
		fprintf(stderr,
			"vigil: cannot run %s (%s; install busybox-static, or pass --no-busybox)\n",
			o.busybox, strerror(errno));
		return -errno;
	}
	o.exes = a->exes;
	o.n_exes = a->n_exes;
	o.adds = a->adds;
	o.n_adds = a->n_adds;
	o.ld_conf = "/etc/ld.so.conf";
	if (!a->no_cache) {
		r = vigil_ird_cache_dir(cache, sizeof(cache));
		if (r < 0) {
			fprintf(stderr,
				"vigil: no cache directory ($XDG_CACHE_HOME or $HOME: %s); "
				"use --no-cache -o FILE\n",
				strerror(-r));
			return r;
		}
		o.cache_dir = cache;
	}
	r = vigil_ird_build(&o, a->no_cache ? a->output : NULL, res);
	if (r < 0)
		fprintf(stderr, "vigil: cannot build the initramfs: %s\n", res->detail);
	return r;
}
