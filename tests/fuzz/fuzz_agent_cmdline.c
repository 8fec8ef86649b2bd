/* SPDX-License-Identifier: MIT */
/* libFuzzer: the kernel command line contract (init_parse_cmdline). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "init.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct init_cmdline cl;

	init_parse_cmdline((const char *)data, size, &cl);
	if (cl.argc > INIT_MAX_ARGS || cl.argv[cl.argc] || cl.nparams > INIT_MAX_PARAMS)
		__builtin_trap();
	for (int i = 0; i < cl.argc; i++) {
		if (cl.argv[i] < cl.buf || cl.argv[i] >= cl.buf + sizeof(cl.buf))
			__builtin_trap();
	}
	for (int i = 0; i < cl.nparams; i++)
		(void)strlen(cl.key[i]), (void)strlen(cl.val[i]);
	init_param(&cl, "run");
	return 0;
}
