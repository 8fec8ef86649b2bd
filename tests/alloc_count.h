/* SPDX-License-Identifier: MIT */
/*
 * Allocation counting for tests that prove a path does not allocate: the
 * test links with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc and reads
 * alloc_calls before and after. Include it in one test file only (it
 * defines the wrappers). Test use only.
 */
#ifndef VIGIL_TEST_ALLOC_COUNT_H
#define VIGIL_TEST_ALLOC_COUNT_H

#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

/* volatile: the compiler assumes malloc leaves globals alone. */
static volatile unsigned long alloc_calls;

void *__wrap_malloc(size_t n)
{
	alloc_calls++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	alloc_calls++;
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	alloc_calls++;
	return __real_realloc(p, n);
}

#endif /* VIGIL_TEST_ALLOC_COUNT_H */
