/*
 * Fuzz target: bundle_index (node/bundle.c), the import reader that splits
 * a bundle file from a stranger's USB stick into events and resyncs past
 * damage.  Invariants (abort on violation): the items tile the input
 * exactly, in order, none empty; a good item is one whole event that
 * event_peek reads to its end; a bad item has a reason, and only the last
 * item may be cut short by the end of the file.
 */
#include <stdint.h>
#include <stdlib.h>

#include "bundle.h"
#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_index ix;
	size_t pos = 0;

	if (bundle_index(data, size, &ix) != 0)
		return 0;   /* out of memory */
	for (size_t i = 0; i < ix.n; i++) {
		const struct bundle_item *it = &ix.items[i];
		struct event_peek pk;

		if (it->off != pos || it->len == 0 || it->len > size - pos)
			abort();
		if (it->bad) {
			if (it->why == NULL || it->why[0] == '\0' || (it->cut && i + 1 != ix.n))
				abort();
		} else if (it->cut || event_peek(data + it->off, it->len, EVENT_PEEK_NO_ID, &pk, NULL) != 0 ||
		           pk.wire_len != it->len) {
			abort();
		}
		pos += it->len;
	}
	if (pos != size)
		abort();
	bundle_index_free(&ix);
	return 0;
}
