/*
 * Fuzz target: arbitrary bytes taken as a header and a content, signed
 * with a fixed key and wrapped (event_wrap), then decoded.  Reaches the
 * header and content rules, which fuzz_event rarely gets past the signature
 * to.  Input: 2 bytes (big-endian) giving the header's length, the header,
 * then the content.  When the header ends as a canonical content_hash
 * (c4 20 + 32 bytes), those 32 bytes are set to the content's hash, so
 * that mutations of the content reach its rules instead of stopping at the
 * hash.  An accepted event's header and content must be canonical, agree
 * with msgpack-c's re-encoding, and survive being rebuilt from the decoded
 * fields with event_build byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct key *signer;

/* Rebuild the event from its decoded fields: the same payload must come out. */
static void rebuild(const struct event *ev)
{
	struct event_draft d;
	uint8_t *wire = NULL, id[WM_ID_LEN];
	size_t len = 0;
	char why[WM_WHY_LEN];

	memset(&d, 0, sizeof(d));
	d.kind = ev->kind;
	memcpy(d.author, ev->author, WM_PUB_LEN);
	d.created_at = ev->created_at;
	memcpy(d.network, ev->network, WM_NETWORK_LEN);
	d.group = ev->group;
	d.has_prev = ev->has_prev;
	memcpy(d.prev, ev->prev, WM_ID_LEN);
	d.nrefs = ev->nrefs;
	memcpy(d.refs, ev->refs, sizeof(d.refs));
	d.expires_at = ev->expires_at;
	d.ncontent = ev->ncontent;
	for (size_t i = 0; i < ev->ncontent; i++)
		d.content[i] = ev->content[i];
	if (event_build(&d, signer, &wire, &len, id, why) != 0)
		abort();
	if (memcmp(id, ev->id, WM_ID_LEN) != 0 || len != ev->wire_len || memcmp(wire, ev->wire, len) != 0)
		abort();
	free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event *ev = NULL;
	uint8_t *wire = NULL, *again = NULL, *hdr;
	size_t len = 0, alen = 0, hlen;
	char why[WM_WHY_LEN];

	if (signer == NULL) {
		uint8_t seed[32];

		if (wmc_init() != 0)
			abort();
		memset(seed, 0x01, sizeof(seed));   /* the vectors' author */
		if (key_from_seed(seed, &signer) != 0)
			abort();
	}
	if (size < 2 || size > WM_MAX_WIRE + 1)
		return 0;
	hlen = (size_t)data[0] << 8 | data[1];
	if (hlen > size - 2)
		return 0;
	if ((hdr = malloc(hlen + 1)) == NULL)
		abort();
	memcpy(hdr, data + 2, hlen);
	if (hlen >= 2 + WM_ID_LEN && hdr[hlen - 2 - WM_ID_LEN] == 0xc4 && hdr[hlen - 1 - WM_ID_LEN] == WM_ID_LEN)
		id_compute(hdr + hlen - WM_ID_LEN, data + 2 + hlen, size - 2 - hlen);
	if (event_wrap(hdr, hlen, data + 2 + hlen, size - 2 - hlen, signer, &wire, &len, NULL) != 0)
		abort();
	free(hdr);
	why[0] = '\0';
	if (event_decode(wire, len, &ev, why) != 0) {
		if (why[0] == '\0')
			abort();
		free(wire);
		return 0;
	}
	for (int part = 0; part < 2; part++) {
		const uint8_t *p = part == 0 ? ev->payload : ev->cbytes;
		size_t n = part == 0 ? ev->payload_len : ev->cbytes_len;

		if (mp_check_canonical(p, n, why) != 0)
			abort();
		if (mp_msgpack_repack(p, n, &again, &alen) != 0 || alen != n || memcmp(again, p, alen) != 0)
			abort();
		free(again);
	}
	if (memcmp(ev->author, signer->pub, WM_PUB_LEN) == 0)
		rebuild(ev);
	event_free(ev);
	free(wire);
	return 0;
}
