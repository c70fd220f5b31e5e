/*
 * Fuzz target: arbitrary bytes taken as a payload, signed with a fixed key
 * and wrapped (event_wrap), then decoded.  Reaches the body and content
 * rules, which fuzz_event rarely gets past the signature to.  An accepted
 * event must be canonical, agree with msgpack-c's re-encoding, and survive
 * being rebuilt from its decoded fields with event_build byte for byte.
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
	d.group = ev->group;
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
	uint8_t *wire = NULL, *again = NULL;
	size_t len = 0, alen = 0;
	char why[WM_WHY_LEN];

	if (signer == NULL) {
		uint8_t seed[32];

		if (wmc_init() != 0)
			abort();
		memset(seed, 0x01, sizeof(seed));   /* the vectors' author */
		if (key_from_seed(seed, &signer) != 0)
			abort();
	}
	if (size > WM_MAX_PAYLOAD + 1)
		return 0;
	if (event_wrap(data, size, signer, &wire, &len, NULL) != 0)
		abort();
	why[0] = '\0';
	if (event_decode(wire, len, &ev, why) != 0) {
		if (why[0] == '\0')
			abort();
		free(wire);
		return 0;
	}
	if (mp_check_canonical(ev->payload, ev->payload_len, why) != 0)
		abort();
	if (mp_msgpack_repack(ev->payload, ev->payload_len, &again, &alen) != 0 ||
	    alen != ev->payload_len || memcmp(again, ev->payload, alen) != 0)
		abort();
	free(again);
	if (memcmp(ev->author, signer->pub, WM_PUB_LEN) == 0)
		rebuild(ev);
	event_free(ev);
	free(wire);
	return 0;
}
