/* SPDX-License-Identifier: MIT */
/*
 * libvigil-wire's version at run time (vigil/version.h holds the numbers).
 * Two constant answers; no state, no limits, called once by an embedder.
 */
#include <vigil/wire.h>

const char *vigil_version(void)
{
	return VIGIL_VERSION_STRING;
}

uint32_t vigil_version_number(void)
{
	return VIGIL_VERSION_NUMBER;
}
