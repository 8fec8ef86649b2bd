/* SPDX-License-Identifier: MIT */
/*
 * `vigil status`: asks a running `vigil watch` for its /status (libcurl,
 * one GET, 5 s timeout, 1 MiB at most) and says per domain what is
 * stalled, starved or paused now, for an operator without a Prometheus.
 */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fleet_args.h"
#include "fleet_int.h"

#define STATUS_MAX (1u << 20)

struct body {
	char *p;
	size_t len;
	bool over;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t len = size * n;
	char *p;

	if (b->len + len > STATUS_MAX) {
		b->over = true;
		return 0;
	}
	p = realloc(b->p, b->len + len + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, data, len);
	b->p = p;
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

/* "Authorization: Bearer TOKEN" from the token file's first line, or NULL. */
static struct curl_slist *auth_header(const char *file, int *err)
{
	char line[4200], hdr[4300];
	FILE *f;

	*err = 0;
	if (!file)
		return NULL;
	f = fopen(file, "re");
	if (!f || !fgets(line, sizeof(line), f)) {
		fprintf(stderr, "vigil status: cannot read the token from %s\n", file);
		if (f)
			fclose(f);
		*err = 1;
		return NULL;
	}
	fclose(f);
	line[strcspn(line, "\r\n \t")] = '\0';
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", line);
	return curl_slist_append(NULL, hdr);
}

static int fetch(const struct vigil_status_args *a, struct body *b)
{
	char url[300];
	long code = 0;
	int err;
	struct curl_slist *h = auth_header(a->token_file, &err);
	CURL *c;
	CURLcode r;

	if (err)
		return VIGIL_EXIT_HARNESS;
	c = curl_easy_init();
	if (!c)
		return VIGIL_EXIT_HARNESS;
	snprintf(url, sizeof(url), "http://%s/status", a->metrics);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	if (h)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	r = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (r != CURLE_OK || code != 200) {
		fprintf(stderr, "vigil status: %s: %s (is `vigil watch --metrics %s` running?)\n",
			url,
			r != CURLE_OK ? (b->over ? "answer over 1 MiB" : curl_easy_strerror(r))
			: code == 401 ? "401: pass its token with --metrics-token-file"
				      : "unexpected HTTP status",
			a->metrics);
		return VIGIL_EXIT_HARNESS;
	}
	return 0;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "?";
}

static void print_domain(struct json_object *d)
{
	struct json_object *st, *v;
	size_t n = json_object_object_get_ex(d, "stalled", &st) ? json_object_array_length(st) : 0;
	bool starved =
	    json_object_object_get_ex(d, "host_starved", &v) && json_object_get_boolean(v);

	printf("%-24s %-8s agent %-13s", str(d, "domain"), str(d, "state"), str(d, "agent"));
	if (starved)
		printf("  HOST STARVED");
	if (!n)
		printf("  no process stalled\n");
	else
		printf("  %zu stalled:", n);
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(st, i), *pid, *sil;
		const char *cls = str(p, "class");

		json_object_object_get_ex(p, "pid", &pid);
		json_object_object_get_ex(p, "silence_s", &sil);
		printf(" pid %lld silent %.1f s%s%s%s", (long long)json_object_get_int64(pid),
		       json_object_get_double(sil), strcmp(cls, "?") ? " " : "",
		       strcmp(cls, "?") ? cls : "", i + 1 < n ? "," : "\n");
	}
	if (strcmp(str(d, "channel"), "holding the channel"))
		printf("%-24s channel: %s\n", "", str(d, "channel"));
}

int vigil_cmd_status(int argc, char **argv)
{
	struct vigil_status_args a;
	struct body b = { 0 };
	struct json_object *o, *doms;
	int e = vigil_status_args_parse(&a, argc, argv);

	if (e)
		return e;
	if (a.help) {
		fputs(vigil_status_usage(), stdout);
		return 0;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	e = fetch(&a, &b);
	curl_global_cleanup();
	if (e) {
		free(b.p);
		return e;
	}
	if (a.json) {
		fputs(b.p ? b.p : "", stdout);
		free(b.p);
		return 0;
	}
	o = b.p ? json_tokener_parse(b.p) : NULL;
	free(b.p);
	if (!o || !json_object_object_get_ex(o, "domains", &doms)) {
		fputs("vigil status: the answer is not vigil watch's /status JSON\n", stderr);
		json_object_put(o);
		return VIGIL_EXIT_HARNESS;
	}
	printf("libvirt %s; %zu domain(s)\n", str(o, "libvirt"), json_object_array_length(doms));
	for (size_t i = 0; i < json_object_array_length(doms); i++)
		print_domain(json_object_array_get_idx(doms, i));
	json_object_put(o);
	return 0;
}
