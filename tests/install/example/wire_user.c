/* SPDX-License-Identifier: MIT */
/*
 * libvigil-wire alone (docs/embedding.md shows this file): no session, no
 * json-c. Builds the frames a guest opens its stream with (HELLO seq 0,
 * SYS_RDY seq 1), splits them at every byte through the stream assembler
 * and decodes what comes out, as a reader of a virtio-serial port would.
 * Limits: two frames, one assembler (about 64 KiB, static).
 */
#include <stdio.h>
#include <string.h>

#include <vigil/wire.h>

static struct vigil_asm rx; /* holds one whole frame: keep it off the stack */

int main(void)
{
	uint8_t buf[256];
	size_t len = 0;
	struct vigil_hello h = { .proto_version = VIGIL_WIRE_VERSION,
				 .agent_version = VIGIL_STR("wire_user"),
				 .kernel_release = VIGIL_STR("6.1.0"),
				 .hostname = VIGIL_STR("guest") };
	int n = vigil_hello_encode(buf + VIGIL_WIRE_HDR_LEN, sizeof(buf) - VIGIL_WIRE_HDR_LEN, &h);

	if (n >= 0)
		n = vigil_frame_seal(buf, sizeof(buf), VIGIL_MSG_HELLO, 0, (size_t)n);
	if (n < 0)
		return 1;
	len = (size_t)n;
	/* An empty payload: vigil_frame_encode takes NULL with length 0. */
	n = vigil_frame_encode(buf + len, sizeof(buf) - len, VIGIL_MSG_SYS_RDY, 1, NULL, 0);
	if (n != VIGIL_WIRE_HDR_LEN)
		return 1;
	len += (size_t)n;

	/* One byte at a time: the assembler copes with any split. */
	struct vigil_frame f;
	unsigned got = 0;
	vigil_asm_init(&rx);
	for (size_t i = 0; i < len; i++) {
		vigil_asm_push(&rx, buf + i, 1);
		while (vigil_asm_next(&rx, &f) == 1) {
			int ok =
			    f.crc_ok && vigil_payload_check(f.hdr.type, f.payload, f.hdr.len) == 0;
			printf("frame: %s seq %u, %u payload bytes, %s\n",
			       vigil_msg_name(f.hdr.type), f.hdr.seq, f.hdr.len,
			       ok ? "valid" : "INVALID");
			got += (unsigned)ok;
		}
	}
	printf("libvigil-wire %s (headers %s), crc32c %s\n", vigil_version(), VIGIL_VERSION_STRING,
	       vigil_crc32c_impl());
	return got == 2 && vigil_version_number() >= VIGIL_VERSION_NUMBER ? 0 : 1;
}
