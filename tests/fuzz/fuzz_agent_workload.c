/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the workload file (wl_parse) and the environment built from it
 * (wl_env_merge). The input is copied into an allocation of exactly its
 * size, so a read past the file is an ASan report; the parser must not
 * change it, and every view it returns must lie inside it and be
 * terminated there.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *buf, size_t size, const char *p)
{
	if (p < buf || p >= buf + size || memchr(p, '\0', (size_t)(buf + size - p)) == NULL)
		__builtin_trap();
}

static void check(const struct wl *w, const char *buf, size_t size)
{
	static char *merged[WL_MAX_ENV + 4];
	char *base[] = { "PATH=/bin", "HOME=/root", "VIGIL_GUEST=1", NULL };

	if (w->argc == 0 || w->argc > WL_MAX_ARGS || w->argv[w->argc] || w->nenv > WL_MAX_ENV ||
	    w->env[w->nenv])
		__builtin_trap();
	for (uint32_t i = 0; i < w->argc; i++) {
		inside(buf, size, w->argv[i]);
		if (memcmp(w->argv[i] - 4, "arg=", 4))
			__builtin_trap();
	}
	for (uint32_t i = 0; i < w->nenv; i++) {
		inside(buf, size, w->env[i]);
		if (w->env[i][0] == '=' || !strchr(w->env[i], '='))
			__builtin_trap();
	}
	if (w->scenario) {
		inside(buf, size, w->scenario);
		if (!w->scenario[0] || strlen(w->scenario) > WL_NAME_MAX)
			__builtin_trap();
	}
	if (w->cwd) {
		inside(buf, size, w->cwd);
		if (w->cwd[0] != '/')
			__builtin_trap();
	}
	if (w->nunknown > WL_UNKNOWN_MAX || w->unknown_records < w->nunknown)
		__builtin_trap();
	if (wl_env_merge(w, base, merged, sizeof(merged) / sizeof(merged[0])) < 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wl w;
	char err[WL_ERR_LEN];
	char *buf = malloc(size ? size : 1);
	int e;

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	e = wl_parse(buf, size, &w, err);
	if (e == 0)
		check(&w, buf, size);
	else if ((e != -EBADMSG && e != -EMSGSIZE) || !err[0] || !memchr(err, '\0', WL_ERR_LEN))
		__builtin_trap();
	if (size && memcmp(buf, data, size))
		__builtin_trap();
	free(buf);
	return 0;
}
