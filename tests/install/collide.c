/* SPDX-License-Identifier: MIT */
/*
 * A program that uses libvigil-host and defines names the library uses
 * inside itself (its modules' prefixes: flows_, trk_, ses_, crc32c_raw_).
 * tests/install/install_test.sh links it statically: against the installed
 * archives it must link and run (their internal names are local), against
 * the build tree's internal archives it must fail with a multiple
 * definition (so the check can fail). Limits: a few symbols stand for all.
 */
#include <stdio.h>

#include <vigil/session.h>

int flows_new(void);
int trk_new(void);
int ses_emit(void);
unsigned crc32c_raw_sw(void);

int flows_new(void)
{
	return 1;
}
int trk_new(void)
{
	return 2;
}
int ses_emit(void)
{
	return 3;
}
unsigned crc32c_raw_sw(void)
{
	return 4;
}

int main(void)
{
	struct vigil_session *s;

	if (vigil_session_new(NULL, NULL, 1, &s) < 0)
		return 1;
	const struct vigil_verdict *v = vigil_session_finish(s, 2);
	printf("collide: %s, own names %d %d %d %u, crc32c(\"123456789\") %08x\n",
	       vigil_outcome_name(v->outcome), flows_new(), trk_new(), ses_emit(), crc32c_raw_sw(),
	       vigil_crc32c("123456789", 9));
	vigil_session_free(s);
	return 0;
}
