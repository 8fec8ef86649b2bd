/* SPDX-License-Identifier: MIT */
/*
 * libvigil-host's version at run time (vigil/version.h holds the numbers).
 * A constant answer; no state, no limits, called once by an embedder.
 */
#include <vigil/session.h>

const char *vigil_host_version(void)
{
	return VIGIL_VERSION_STRING;
}
