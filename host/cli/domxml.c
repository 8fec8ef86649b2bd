/* SPDX-License-Identifier: MIT */
/* domxml: facts from a libvirt domain's XML (see domxml.h). */
#include "domxml.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <stdio.h>
#include <string.h>

#include "qemu.h"

/* The first node matching expr under ctx's document, or NULL. */
static xmlNodePtr first(xmlXPathContextPtr ctx, const char *expr)
{
	xmlXPathObjectPtr r = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	xmlNodePtr n = NULL;

	if (r && r->nodesetval && r->nodesetval->nodeNr > 0)
		n = r->nodesetval->nodeTab[0];
	xmlXPathFreeObject(r);
	return n;
}

static void attr(xmlNodePtr n, const char *name, char *buf, size_t cap)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;

	snprintf(buf, cap, "%s", v ? (const char *)v : "");
	xmlFree(v);
}

int vigil_domxml_parse(const char *xml, size_t len, struct vigil_domxml *out)
{
	static const char chan[] = "/domain/devices/channel[target/@type='virtio' and "
				   "target/@name='" VIGIL_PORT_NAME "']";
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
	xmlNodePtr c;
	char expr[sizeof(chan) + 32], v[32];

	memset(out, 0, sizeof(*out));
	out->connected = -1;
	if (len > DOMXML_MAX || len > (size_t)INT32_MAX)
		return -EBADMSG;
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return -EBADMSG;
	ctx = xmlXPathNewContext(doc);
	if (!ctx) {
		xmlFreeDoc(doc);
		return -ENOMEM;
	}
	c = first(ctx, chan);
	if (c) {
		out->has_channel = true;
		attr(c, "type", v, sizeof(v));
		out->unix_channel = !strcmp(v, "unix");
		snprintf(expr, sizeof(expr), "%s/alias", chan);
		attr(first(ctx, expr), "name", out->alias, sizeof(out->alias));
		snprintf(expr, sizeof(expr), "%s/target", chan);
		attr(first(ctx, expr), "state", v, sizeof(v));
		out->connected = !strcmp(v, "connected") ? 1 : !strcmp(v, "disconnected") ? 0 : -1;
	}
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return 0;
}
