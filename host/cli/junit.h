/* SPDX-License-Identifier: MIT */
/*
 * junit: the verdict as JUnit XML: one testcase per TEST_RESULT the guest
 * reported (kept ones), plus one testcase "run" for the run itself, failed
 * unless the outcome is PASS. Guest strings are escaped; bytes that XML 1.0
 * cannot carry (control characters, invalid UTF-8) become '?'.
 */
#ifndef VIGIL_CLI_JUNIT_H
#define VIGIL_CLI_JUNIT_H

#include <stdio.h>

#include <vigil/session.h>

/* Write the document to f. 0 or -EIO. */
int vigil_junit_write(FILE *f, const struct vigil_verdict *v, const char *suite);
/* Escape s[0..len) for XML text or attributes into f. */
void vigil_xml_escape(FILE *f, const char *s, size_t len);

#endif /* VIGIL_CLI_JUNIT_H */
