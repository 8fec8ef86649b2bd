/* SPDX-License-Identifier: MIT */
/*
 * domxml: what `vigil watch` reads from a libvirt domain's XML, through
 * libxml2's XPath (no hand-written XML): whether the domain carries the
 * vigil channel (a virtio channel whose target name is VIGIL_PORT_NAME),
 * its device alias (QEMU's VSERPORT_CHANGE names the port by it), its
 * state in the live XML ("connected" while the agent holds the port), and
 * the socket path of a unix channel.
 *
 * Limits: documents of at most DOMXML_MAX bytes (libvirt's are a few KiB);
 * no network access, no DTD loading, no entity expansion. Load: once per
 * domain start and per reconnect.
 */
#ifndef VIGIL_CLI_DOMXML_H
#define VIGIL_CLI_DOMXML_H

#include <stdbool.h>
#include <stddef.h>

#define DOMXML_MAX       (4u << 20)
#define DOMXML_ALIAS_MAX 64

struct vigil_domxml {
	bool has_channel;             /* a virtio channel named VIGIL_PORT_NAME */
	bool unix_channel;            /* of type 'unix' (virDomainOpenChannel needs it) */
	char alias[DOMXML_ALIAS_MAX]; /* its <alias name=...> ("" when absent) */
	int connected;                /* target state: 1 connected, 0 disconnected, -1 unknown */
};

/* Parse len bytes of domain XML into out. 0, or -EBADMSG (not XML, or
 * over DOMXML_MAX). A domain without the channel is 0 with has_channel false. */
int vigil_domxml_parse(const char *xml, size_t len, struct vigil_domxml *out);

#endif /* VIGIL_CLI_DOMXML_H */
