/* SPDX-License-Identifier: MIT */
/* qemu: command line builder and host TSC frequency (see qemu.h). */
#include "qemu.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <unistd.h>

#define TSC_KHZ_MIN 100000u   /* 100 MHz: below this a reading is wrong */
#define TSC_KHZ_MAX 20000000u /* 20 GHz */
#define KLOG_MAX    (16u << 20)

const char *vigil_machine_name(enum vigil_machine m)
{
	return m == VIGIL_MACHINE_PC ? "pc" : "microvm";
}

const char *vigil_accel_name(enum vigil_accel a)
{
	return a == VIGIL_ACCEL_KVM ? "kvm" : "tcg";
}

int vigil_argv_push(struct vigil_argv *a, const char *s)
{
	char *d;

	if (a->n + 2 > a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 64;
		char **nv = realloc(a->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		a->v = nv;
		a->cap = nc;
	}
	d = strdup(s);
	if (!d)
		return -ENOMEM;
	a->v[a->n++] = d;
	a->v[a->n] = NULL;
	return 0;
}

static int argv_pushf(struct vigil_argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int argv_pushf(struct vigil_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = vigil_argv_push(a, s);
	free(s);
	return r;
}

void vigil_argv_free(struct vigil_argv *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

char *vigil_argv_join(const struct vigil_argv *a)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < a->n; i++)
		len += strlen(a->v[i]) * 4 + 3;
	s = p = malloc(len);
	if (!s)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < a->n; i++) {
		const char *w = a->v[i];
		bool plain = *w != '\0';
		for (const char *c = w; *c; c++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				    "-_=,./:+@%",
				    *c))
				plain = false;
		if (i)
			*p++ = ' ';
		if (plain) {
			p = stpcpy(p, w);
			continue;
		}
		*p++ = '\'';
		for (const char *c = w; *c; c++) {
			if (*c == '\'')
				p = stpcpy(p, "'\\''");
			else
				*p++ = *c;
		}
		*p++ = '\'';
		*p = '\0';
	}
	return s;
}

/* "socket,id=ID,fd=N" or "socket,id=ID,path=P,server=on,wait=off" */
static int push_chardev(struct vigil_argv *a, const char *id, const struct vigil_qemu_chan *ch)
{
	int r = vigil_argv_push(a, "-chardev");

	if (r < 0)
		return r;
	if (ch->fd >= 0)
		return argv_pushf(a, "socket,id=%s,fd=%d", id, ch->fd);
	/* QEMU's option syntax doubles a comma to escape it. */
	if (strchr(ch->path, ','))
		return -EINVAL;
	return argv_pushf(a, "socket,id=%s,path=%s,server=on,wait=off", id, ch->path);
}

static bool chan_set(const struct vigil_qemu_chan *ch)
{
	return ch->fd >= 0 || (ch->path && *ch->path);
}

/*
 * The host's root over virtiofs: vhost-user needs guest memory the daemon
 * can map (a shared memfd as the machine's memory backend), and
 * virtiofsd refuses legacy virtio, which virtio-mmio is by default.
 */
static int push_fs(struct vigil_argv *a, const struct vigil_qemu_cfg *c)
{
	bool microvm = c->machine == VIGIL_MACHINE_MICROVM;
	int r = vigil_argv_push(a, "-object");

	if (r == 0)
		r = argv_pushf(a, "memory-backend-memfd,id=mem,size=%uM,share=on",
			       c->memory_mb ? c->memory_mb : 512);
	if (r == 0)
		r = vigil_argv_push(a, "-chardev");
	if (r == 0)
		r = argv_pushf(a, "socket,id=vfs,path=%s", c->fs_socket);
	if (r == 0)
		r = vigil_argv_push(a, "-device");
	if (r == 0)
		r = argv_pushf(a, "%s,chardev=vfs,tag=" VIGIL_FS_TAG,
			       microvm ? "vhost-user-fs-device" : "vhost-user-fs-pci");
	if (r == 0 && microvm)
		r = vigil_argv_push(a, "-global");
	if (r == 0 && microvm)
		r = vigil_argv_push(a, "virtio-mmio.force-legacy=false");
	return r;
}

/* --on-stall debug: the gdbstub and a QMP monitor for the person; a panic
 * pauses the VM (its state kept) instead of ending QEMU. */
static int push_debug(struct vigil_argv *a, const struct vigil_qemu_cfg *c)
{
	const struct vigil_qemu_chan qmp = { .fd = -1, .path = c->qmp_debug };
	int r;

	if (c->gdb_fd < 0 || !c->qmp_debug)
		return -EINVAL;
	r = vigil_argv_push(a, "-chardev");
	if (r == 0)
		r = argv_pushf(a, "socket,id=gdb,fd=%d,server=on,wait=off", c->gdb_fd);
	if (r == 0)
		r = vigil_argv_push(a, "-gdb");
	if (r == 0)
		r = vigil_argv_push(a, "chardev:gdb");
	if (r == 0)
		r = push_chardev(a, "qmpdbg", &qmp);
	if (r == 0)
		r = vigil_argv_push(a, "-mon");
	if (r == 0)
		r = vigil_argv_push(a, "chardev=qmpdbg,mode=control");
	if (r == 0)
		r = vigil_argv_push(a, "-action");
	if (r == 0)
		r = vigil_argv_push(a, "panic=pause");
	return r;
}

int vigil_qemu_argv(const struct vigil_qemu_cfg *c, struct vigil_argv *out)
{
	struct vigil_argv a = { 0 };
	char *append = NULL, tsc[32] = "";
	bool microvm = c->machine == VIGIL_MACHINE_MICROVM;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!c->kernel || !c->initrd || !chan_set(&c->port) || c->console.fd < 0)
		return -EINVAL;
	if (microvm && c->tsc_khz)
		snprintf(tsc, sizeof(tsc), " tsc_early_khz=%u", c->tsc_khz);
	if (asprintf(&append, "console=ttyS0 %s panic=-1%s%s%s%s%s%s", VIGIL_FAST_APPEND, tsc,
		     c->debug ? " nokaslr" : "",
		     c->guest_params && *c->guest_params ? " " : "",
		     c->guest_params ? c->guest_params : "", c->append && *c->append ? " " : "",
		     c->append ? c->append : "") < 0)
		return -ENOMEM;
#define PUSH(s)                                                                                    \
	do {                                                                                       \
		if (r == 0)                                                                        \
			r = vigil_argv_push(&a, s);                                                \
	} while (0)
#define PUSHF(...)                                                                                 \
	do {                                                                                       \
		if (r == 0)                                                                        \
			r = argv_pushf(&a, __VA_ARGS__);                                           \
	} while (0)
	PUSH(c->qemu ? c->qemu : "qemu-system-x86_64");
	PUSH("-M");
	/* microvm: no option ROMs. rtc=off is not used: measured here it
	 * costs the guest about 2 s more to boot. */
	if (c->fs_socket)
		PUSHF("%s,memory-backend=mem", microvm ? "microvm,x-option-roms=off" : "pc");
	else
		PUSH(microvm ? "microvm,x-option-roms=off" : "pc");
	PUSH("-accel");
	PUSH(vigil_accel_name(c->accel));
	/* TCG keeps QEMU's default model (qemu64). Measured here, "max" boots
	 * 100-250 ms slower and halves the agent's output rate: TCG runs the
	 * SSE4.2 crc32 instruction slower than the software CRC it replaces. */
	if (c->accel == VIGIL_ACCEL_KVM) {
		PUSH("-cpu");
		PUSH("host");
	}
	PUSH("-m");
	PUSHF("%u", c->memory_mb ? c->memory_mb : 512);
	PUSH("-smp");
	PUSHF("%u", c->cpus ? c->cpus : 1);
	/* thread names ("CPU 0/TCG") let vigil find the vCPU threads */
	PUSH("-name");
	PUSH("vigil,debug-threads=on");
	PUSH("-nodefaults");
	PUSH("-no-user-config");
	PUSH("-display");
	PUSH("none");
	PUSH("-no-reboot");
	PUSH("-kernel");
	PUSH(c->kernel);
	PUSH("-initrd");
	PUSH(c->initrd);
	PUSH("-append");
	PUSH(append);
	if (r == 0)
		r = push_chardev(&a, "con", &c->console);
	PUSH("-serial");
	PUSH("chardev:con");
	PUSH("-device");
	PUSH(microvm ? "virtio-serial-device" : "virtio-serial-pci");
	if (r == 0)
		r = push_chardev(&a, "vport", &c->port);
	PUSH("-device");
	PUSH("virtserialport,chardev=vport,name=" VIGIL_PORT_NAME);
	if (chan_set(&c->qmp)) {
		if (r == 0)
			r = push_chardev(&a, "qmp", &c->qmp);
		PUSH("-mon");
		PUSH("chardev=qmp,mode=control");
	}
	if (c->fs_socket && r == 0)
		r = push_fs(&a, c);
	if (c->debug && r == 0)
		r = push_debug(&a, c);
	/* ISA pvpanic: on pc and on microvm (ACPI QEMU0001, pvpanic_mmio). It
	 * only reports (GUEST_PANICKED): QEMU's default action would end the
	 * VM at once, before the kernel has written its report to the
	 * console; the kernel resets the guest itself after it (panic=-1),
	 * which -no-reboot makes QEMU's exit. --on-stall debug pauses instead. */
	PUSH("-device");
	PUSH("pvpanic");
	if (!c->debug) {
		PUSH("-action");
		PUSH("panic=none");
	}
	for (size_t i = 0; i < c->n_extra; i++)
		PUSH(c->extra[i]);
#undef PUSH
#undef PUSHF
	free(append);
	if (r < 0) {
		vigil_argv_free(&a);
		return r;
	}
	*out = a;
	return 0;
}

/* ---- TSC frequency ----------------------------------------------------- */

static int khz_ok(double khz, uint32_t *out)
{
	if (!(khz >= TSC_KHZ_MIN && khz <= TSC_KHZ_MAX))
		return -ENOENT;
	*out = (uint32_t)lround(khz);
	return 0;
}

/* The last "<key> <x> MHz" in text. */
static int find_mhz(const char *text, const char *key, double *mhz)
{
	const char *p = text, *hit = NULL;

	while ((p = strstr(p, key))) {
		hit = p;
		p += strlen(key);
	}
	if (!hit)
		return -ENOENT;
	*mhz = strtod(hit + strlen(key), NULL);
	return 0;
}

int vigil_tsc_khz_from_kmsg(const char *text, uint32_t *khz)
{
	double mhz;

	if (find_mhz(text, "tsc: Refined TSC clocksource calibration: ", &mhz) == 0 &&
	    khz_ok(mhz * 1000.0, khz) == 0)
		return 0;
	if (find_mhz(text, "tsc: Detected ", &mhz) == 0)
		return khz_ok(mhz * 1000.0, khz);
	return -ENOENT;
}

int vigil_tsc_khz_from_cpuinfo(const char *text, uint32_t *khz)
{
	const char *flags = strstr(text, "\nflags"), *mhz = strstr(text, "\ncpu MHz");
	const char *eol;

	if (!flags || !mhz)
		return -ENOENT;
	eol = strchr(flags + 1, '\n');
	/* Without a constant TSC, "cpu MHz" is the core clock, not the TSC's. */
	{
		size_t len = eol ? (size_t)(eol - flags) : strlen(flags);
		char line[4096];
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, flags, len);
		line[len] = '\0';
		strcat(line, " ");
		if (!strstr(line, " constant_tsc "))
			return -ENOENT;
	}
	mhz = strchr(mhz, ':');
	if (!mhz)
		return -ENOENT;
	return khz_ok(strtod(mhz + 1, NULL) * 1000.0, khz);
}

static int tsc_cpuid(uint32_t *khz)
{
	unsigned a, b, c, d, max = __get_cpuid_max(0, NULL);

	if (max >= 0x15) {
		__cpuid(0x15, a, b, c, d);
		if (a && b && c && khz_ok((double)c * b / a / 1000.0, khz) == 0)
			return 0;
	}
	if (max >= 0x16) {
		__cpuid(0x16, a, b, c, d);
		if (a && khz_ok(a * 1000.0, khz) == 0)
			return 0;
	}
	__cpuid(1, a, b, c, d);
	if (c & (1u << 31)) { /* running under a hypervisor */
		__cpuid(0x40000000, a, b, c, d);
		if (a >= 0x40000010) {
			__cpuid(0x40000010, a, b, c, d);
			if (khz_ok(a, khz) == 0)
				return 0;
		}
	}
	return -ENOENT;
}

static char *slurp_small(const char *path, size_t max)
{
	char *buf = malloc(max + 1);
	size_t len = 0;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while (len < max) {
		ssize_t n = read(fd, buf + len, max - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

int vigil_tsc_khz(uint32_t *khz)
{
	int size, r = -ENOENT;
	char *buf;

	if (tsc_cpuid(khz) == 0)
		return 0;
	size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	if (size > 0 && (unsigned)size <= KLOG_MAX) {
		buf = malloc((size_t)size + 1);
		if (buf) {
			int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
			if (n > 0) {
				buf[n] = '\0';
				r = vigil_tsc_khz_from_kmsg(buf, khz);
			}
			free(buf);
			if (r == 0)
				return 0;
		}
	}
	buf = slurp_small("/proc/cpuinfo", 1u << 20);
	if (buf) {
		/* a leading newline lets the parser anchor on "\nflags" */
		char *nb = malloc(strlen(buf) + 2);
		if (nb) {
			nb[0] = '\n';
			strcpy(nb + 1, buf);
			r = vigil_tsc_khz_from_cpuinfo(nb, khz);
			free(nb);
		}
		free(buf);
	}
	return r;
}
