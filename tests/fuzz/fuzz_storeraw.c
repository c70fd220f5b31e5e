/*
 * Fuzz target: an events row's bytes without the author's key
 * (node/store/store_raw.c), the one reader of what the store keeps that
 * is not SQLite's own: a damaged file hands it any bytes.  The input is
 * taken both as wire bytes and as a row's kept bytes, with the author's
 * key read from where a payload would hold it (after a 3- or a 4-byte
 * header), so that real events reach the cut.  Whatever is cut must come
 * back whole byte for byte, whatever is made whole must cut back to the
 * row's bytes, and nothing may be read or written out of bounds.
 * Includes store_int.h (a test reaching into the store room).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data as wire bytes by author: a cut must come back whole. */
static void wire_round_trip(const uint8_t *data, size_t size, const uint8_t author[WM_PUB_LEN])
{
	uint8_t *kept = malloc(size ? size : 1), *back = malloc(size + STORE_RAW_WHOLE_MORE);
	size_t k, w;

	if (kept == NULL || back == NULL)
		abort();
	if ((k = store_raw_cut(data, size, author, kept)) != 0) {
		if (k >= size)
			abort();
		w = store_raw_whole(kept, k, author, back);
		if (w != size || memcmp(back, data, size) != 0)
			abort();
	}
	free(kept);
	free(back);
}

/* data as a row's kept bytes: made whole, they must cut back to data. */
static void kept_round_trip(const uint8_t *data, size_t size, const uint8_t author[WM_PUB_LEN])
{
	uint8_t *wire = malloc(size + STORE_RAW_WHOLE_MORE), *back;
	size_t w, k;

	if (wire == NULL)
		abort();
	if ((w = store_raw_whole(data, size, author, wire)) != 0) {
		if (w > size + STORE_RAW_WHOLE_MORE || (back = malloc(w)) == NULL)
			abort();
		k = store_raw_cut(wire, w, author, back);
		if (k != size || memcmp(back, data, size) != 0)
			abort();
		free(back);
	}
	free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t fixed[WM_PUB_LEN] = { 0x5a };
	size_t h;

	kept_round_trip(data, size, fixed);
	wire_round_trip(data, size, fixed);
	for (h = 3; h <= 4; h++) {
		if (size >= h + 5 + WM_PUB_LEN) {
			wire_round_trip(data, size, data + h + 5);
			kept_round_trip(data, size, data + h + 5);
		}
	}
	return 0;
}
