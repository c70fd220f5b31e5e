/*
 * Fuzz target: event_peek, event_decode and event_wire_len on arbitrary
 * bytes taken as a wire event (and as the start of a bundle).  Random bytes rarely carry a valid signature, so this one
 * mostly exercises the wrapper and the body up to the author; fuzz_payload
 * reaches the rest.  Invariants of an accepted event abort on violation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct event *ev = NULL;
	struct event_peek pk, pre;
	char why[WM_WHY_LEN];
	uint8_t id[WM_ID_LEN];
	size_t n = 0;
	int rc, pre_ok;

	if (!ready) {
		if (wmc_init() != 0)
			abort();
		ready = 1;
	}
	rc = event_wire_len(data, size, &n);
	if (rc == 0 && n > size)
		abort();
	/* a canonical wrapper is one that event_wire_len steps over alike */
	why[0] = '\0';
	pre_ok = event_peek(data, size, EVENT_PEEK_PREFIX, &pre, why) == 0;
	if (pre_ok) {
		if (pre.wire_len > size || event_wire_len(data, size, &n) != 0 || n != pre.wire_len)
			abort();
		if (pre.payload + pre.payload_len > data + pre.wire_len || (pre.group && !pre.author))
			abort();
	} else if (why[0] == '\0') {
		abort();
	}
	if (event_peek(data, size, 0, &pk, NULL) == 0 &&
	    (!pre_ok || pk.wire_len != size || pre.wire_len != size || memcmp(pk.id, pre.id, WM_ID_LEN) != 0))
		abort();
	why[0] = '\0';
	rc = event_decode(data, size, &ev, why);
	if (rc != 0) {
		if (why[0] == '\0' && rc != WM_ENOMEM)
			abort();                /* every refusal has a reason */
		return 0;
	}
	/* an accepted event: its extent, id and body are what they claim */
	if (event_wire_len(data, size, &n) != 0 || n != size)
		abort();
	if (event_peek(data, size, 0, &pk, NULL) != 0 || memcmp(pk.id, ev->id, WM_ID_LEN) != 0 ||
	    pk.kind != ev->kind || pk.author == NULL || memcmp(pk.author, ev->author, WM_PUB_LEN) != 0)
		abort();
	id_compute(id, ev->payload, ev->payload_len);
	if (memcmp(id, ev->id, WM_ID_LEN) != 0 || sig_verify(ev->author, ev->id, ev->sig) != 0)
		abort();
	if (mp_check_canonical(ev->payload, ev->payload_len, why) != 0)
		abort();
	event_free(ev);
	return 0;
}
