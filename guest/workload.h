/* SPDX-License-Identifier: MIT */
/*
 * workload: the workload file /etc/vigil/workload, which the host puts into
 * the initramfs and which, when present, replaces the workload of the
 * kernel command line (docs/agent.md, "The workload file"). Owns its
 * format, its limits and the environment it adds.
 *
 * Format: records, each KEY=VALUE and one NUL byte. KEY is [a-z]+, VALUE
 * any bytes but NUL. Keys:
 *   arg=WORD            one argv word, in order; at least one
 *   env=NAME=VALUE      added to the environment (NAME non-empty, no '=')
 *   scenario=NAME       at most once: SCENARIO_START/END around the workload
 *   cwd=/ABS/PATH       at most once: the workload's directory
 *   rootfs=host|image   host: switch into the host's root over virtiofs
 *                       (rootfs.h) before the agent starts
 *   rw=/ABS/PATH        with rootfs=host: a host directory written through
 *   bindsrc=/ABS/PATH   with rootfs=host, paired with the binddst record
 *   binddst=/ABS/PATH     that follows: SRC of the guest's root bound at DST
 *   uid=N, gid=N        the workload's user and group (numbers)
 * Any other [a-z]+ key is ignored (forward compatible) and reported.
 *
 * Limits: WL_FILE_MAX bytes, WL_MAX_ARGS arg and WL_MAX_ENV env records, a
 * scenario name of 1..VIGIL_WIRE_STR_MAX bytes. Anything else that breaks
 * the format makes the whole file invalid: there is no partial workload.
 *
 * Memory: the file is read into one allocation of its size; argv, env,
 * scenario and cwd point into it (each value is already terminated by its
 * record's NUL). struct wl is fixed-size (about 600 KiB: keep it static);
 * parsing allocates nothing. Load: once per boot.
 */
#ifndef VIGIL_GUEST_WORKLOAD_H
#define VIGIL_GUEST_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vigil/wire.h>

#define WL_PATH        "/etc/vigil/workload"
#define WL_FILE_MAX    (4u << 20)         /* bytes */
#define WL_MAX_ARGS    65536u             /* arg records */
#define WL_MAX_ENV     4096u              /* env records */
#define WL_NAME_MAX    VIGIL_WIRE_STR_MAX /* scenario name bytes: a wire str */
#define WL_UNKNOWN_MAX 8u                 /* distinct unknown keys named in notes */
#define WL_ERR_LEN     192u               /* an error message, terminated */
#define WL_NOTE_LEN    160u               /* one note, terminated */
#define WL_MAX_MOUNTS  256u               /* rw records; bindsrc/binddst pairs */

struct wl_unknown {
	const char *key; /* into the buffer, not terminated */
	size_t len;
	uint32_t record; /* 1-based index of its first record */
};

struct wl {
	char *buf;                          /* the file: wl_load's allocation, or NULL */
	size_t len;                         /* bytes in buf */
	char *argv[WL_MAX_ARGS + 1];        /* arg values in order, NULL-terminated */
	uint32_t argc;                      /* 1..WL_MAX_ARGS once parsed */
	char *env[WL_MAX_ENV + 1];          /* env values "NAME=VALUE" in order, NULL-terminated */
	uint32_t env_name_len[WL_MAX_ENV];  /* bytes of each env NAME */
	uint32_t env_name_hash[WL_MAX_ENV]; /* FNV-1a of each NAME: merging compares these first */
	uint32_t nenv;
	const char *scenario;          /* NULL when absent */
	const char *cwd;               /* NULL when absent; absolute */
	bool rootfs_host;              /* rootfs=host */
	const char *rw[WL_MAX_MOUNTS]; /* rw paths, in order */
	uint32_t nrw;
	const char *bind_src[WL_MAX_MOUNTS], *bind_dst[WL_MAX_MOUNTS];
	uint32_t nbind_src, nbind_dst; /* equal once parsed */
	bool has_uid, has_gid;
	uint32_t uid, gid;
	struct wl_unknown unknown[WL_UNKNOWN_MAX]; /* distinct unknown keys, first seen first */
	uint32_t nunknown;                         /* entries in unknown[] */
	uint32_t unknown_records;                  /* every record with an unknown key */
	uint32_t unknown_unnamed; /* of those, keys not in unknown[] (it was full) */
	/* Filled by wl_load: one line per unknown key (and one for the rest), NULL-terminated. */
	char note_buf[WL_UNKNOWN_MAX + 1][WL_NOTE_LEN];
	const char *notes[WL_UNKNOWN_MAX + 2];
};

/*
 * Parse len bytes at buf into w (buf is not modified; w's pointers point
 * into it, so it must outlive w; w->buf, w->len and the notes are not
 * touched). 0 when the file is valid; -EBADMSG when
 * it breaks the format, -EMSGSIZE when it is over a limit. On failure err
 * holds why, e.g. "record 3 has no '='" (records count from 1), and w is
 * not usable.
 */
int wl_parse(char *buf, size_t len, struct wl *w, char err[WL_ERR_LEN]);

/*
 * Read and parse the file at path. 0 when there is no such file (the
 * kernel command line applies), 1 when w holds a valid workload (and its
 * notes), a negative errno when the file is unreadable or invalid: err
 * then holds the whole message for the workload's stderr, e.g.
 * "vigil-agent: /etc/vigil/workload: record 3 has no '='\n".
 */
int wl_load(const char *path, struct wl *w, char err[WL_ERR_LEN]);
/* Free what wl_load allocated. NULL ok. */
void wl_free(struct wl *w);

/*
 * The workload's environment: base (NULL-terminated, "NAME=VALUE") without
 * the names the file sets, then the file's env records; of a name the file
 * sets twice, the last wins. Writes at most cap pointers, the NULL
 * included, to out. Returns the count without the NULL, or -E2BIG.
 * Cost: names are compared by length and hash before their bytes, so 4096
 * records of long names cost about 8 M integer compares, not 8 M memcmps.
 */
int wl_env_merge(const struct wl *w, char *const *base, char **out, size_t cap);

#endif
