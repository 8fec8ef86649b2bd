/* SPDX-License-Identifier: MIT */
/* finish: summary, verdict and JUnit at the end of a run (see finish.h). */
#include "finish.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "junit.h"

const char *vigil_root_name(enum vigil_root r)
{
	return r == VIGIL_ROOT_IMAGE ? "image" : r == VIGIL_ROOT_HOST ? "host" : "other";
}

enum vigil_root vigil_root_parse(const char *name)
{
	return !strcmp(name, "image")  ? VIGIL_ROOT_IMAGE
	       : !strcmp(name, "host") ? VIGIL_ROOT_HOST
				       : VIGIL_ROOT_OTHER;
}

void vigil_guest_stall_words(const struct vigil_stall_info *in, char *buf, size_t cap)
{
	static const char *const why[] = {
		[VIGIL_GSTALL_NO_ANSWER] = "the agent did not answer",
		[VIGIL_GSTALL_AGENT_BEAT] = "the agent's own beat is overdue",
		[VIGIL_GSTALL_SILENCE] = "nothing came from it",
	};
	const char *w = (size_t)in->cause < sizeof(why) / sizeof(why[0]) && why[in->cause]
			    ? why[in->cause]
			    : "the agent did not run";
	char folded[64] = "";

	if (in->folded == 1)
		snprintf(folded, sizeof(folded), " (pid %u folded in)", in->folded_pids[0]);
	else if (in->folded > 1)
		snprintf(folded, sizeof(folded), " (%u process stalls folded in)", in->folded);
	snprintf(buf, cap, "the guest stalled: %s for %.2f s%s", w, (double)in->silence_ns / 1e9,
		 folded);
}

const char *vigil_verdict_hint(const struct vigil_verdict *v, enum vigil_root root)
{
	bool e127 =
	    v->outcome == VIGIL_OUTCOME_WORKLOAD_FAILED && v->have_exit && v->exit_status == 127;

	if (e127 && root == VIGIL_ROOT_IMAGE)
		return "the workload exited 127: a program it runs was not found in the guest. "
		       "The image carries COMMAND itself and busybox's applets; carry anything "
		       "else it runs with --exe PROGRAM (a host program with its libraries) or "
		       "--add SRC:DST (a script, data), or run with --rootfs host, where the "
		       "guest sees the host's files";
	if (e127 && root == VIGIL_ROOT_HOST)
		return "the workload exited 127: a program it runs was not found in the guest, "
		       "which sees the host's files with the host's $PATH and working directory: "
		       "is it installed here, or under a path vigil hides (see --show in "
		       "`vigil run --help`)?";
	if (v->outcome == VIGIL_OUTCOME_WORKLOAD_FAILED && v->have_exit && v->exit_status == 126)
		return "the workload exited 126: a program was found but could not be run in "
		       "the guest (not executable, or its interpreter is missing: carry it with "
		       "--exe)";
	return NULL;
}

static void summary_evidence(FILE *f, const struct vigil_verdict *v)
{
	const struct vigil_evidence *ev;
	uint32_t n;

	if (!v->primary)
		return;
	n = vigil_verdict_finding_evidence(v, (uint32_t)(v->primary - v->findings), &ev);
	if (n > VIGIL_FINISH_EVIDENCE_LINES)
		n = VIGIL_FINISH_EVIDENCE_LINES;
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "%s  %s\n", i ? "" : "vigil: evidence:\n", ev[i].line);
}

void vigil_finish_summary(FILE *f, const struct vigil_finish_in *in)
{
	char line[2048];
	const char *hint = vigil_verdict_hint(in->v, in->root);

	vigil_verdict_summary(in->v, line, sizeof(line));
	fprintf(f, "vigil: %s\n", line);
	if (in->v->outcome != VIGIL_OUTCOME_WORKLOAD_FAILED)
		summary_evidence(f, in->v);
	if (hint)
		fprintf(f, "vigil: hint: %s\n", hint);
}

int vigil_finish_verdict_json(const struct vigil_finish_in *in, char **out)
{
	struct json_tokener *tok;
	struct json_object *o, *hints;
	const char *hint = vigil_verdict_hint(in->v, in->root), *txt;
	char *base;
	int n = vigil_verdict_to_json(in->v, 0, &base);

	if (n < 0)
		return n;
	tok = json_tokener_new();
	o = tok ? json_tokener_parse_ex(tok, base, n) : NULL;
	json_tokener_free(tok);
	free(base);
	if (!o)
		return -ENOMEM;
	if (in->provenance)
		json_object_object_add(o, "provenance", json_object_get(in->provenance));
	hints = json_object_new_array();
	if (hint)
		json_object_array_add(hints, json_object_new_string(hint));
	json_object_object_add(o, "hints", hints);
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						    JSON_C_TO_STRING_NOSLASHESCAPE);
	*out = txt ? strdup(txt) : NULL;
	json_object_put(o);
	if (!*out)
		return -ENOMEM;
	return (int)strlen(*out);
}

static int write_verdict(const struct vigil_finish_in *in)
{
	char *json;
	int n = vigil_finish_verdict_json(in, &json), e = 0;
	FILE *f;

	if (n < 0)
		return n;
	f = strcmp(in->verdict_path, "-") ? fopen(in->verdict_path, "we") : stdout;
	if (!f)
		e = -errno;
	else if (fwrite(json, 1, (size_t)n, f) != (size_t)n || fputc('\n', f) == EOF)
		e = -EIO;
	if (f == stdout) {
		if (fflush(f) != 0 && e == 0)
			e = -errno;
	} else if (f && fclose(f) != 0 && e == 0) {
		e = -errno;
	}
	free(json);
	return e;
}

static int write_junit(const struct vigil_finish_in *in)
{
	FILE *f = strcmp(in->junit_path, "-") ? fopen(in->junit_path, "we") : stdout;
	int e = f ? vigil_junit_write(f, in->v, "vigil") : -errno;

	if (f == stdout) {
		if (fflush(f) != 0 && e == 0)
			e = -errno;
	} else if (f && fclose(f) != 0 && e == 0) {
		e = -errno;
	}
	return e;
}

int vigil_finish_write(const struct vigil_finish_in *in)
{
	int bad = 0, e;

	if (in->verdict_path && (e = write_verdict(in)) < 0) {
		fprintf(stderr, "vigil %s: cannot write the verdict to %s: %s\n", in->cmd,
			in->verdict_path, strerror(-e));
		bad = 1;
	}
	if (in->junit_path && (e = write_junit(in)) < 0) {
		fprintf(stderr, "vigil %s: cannot write JUnit XML to %s: %s\n", in->cmd,
			in->junit_path, strerror(-e));
		bad = 1;
	}
	return bad;
}
