/* SPDX-License-Identifier: MIT */
/*
 * Internal: the parts of libvigil-host shared between session.c (state),
 * verdict.c (precedence, exit codes, summary) and json.c (rendering). Not
 * installed.
 */
#ifndef VIGIL_HOST_SESSION_INTERNAL_H
#define VIGIL_HOST_SESSION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <vigil/session.h>

/* Pick the primary finding: the fatal one with the highest rank, the
 * earliest among equals. NULL when there is no fatal finding. */
const struct vigil_finding *vigil__primary_finding(const struct vigil_finding *f, uint32_t n);

/*
 * Copy guest bytes into a NUL-terminated field of cap bytes: cut at cap - 1,
 * NUL bytes replaced by '?'. Returns true when it had to cut.
 */
bool vigil__copy_text(char *dst, size_t cap, const void *src, size_t len);

#endif /* VIGIL_HOST_SESSION_INTERNAL_H */
