/*
 * Fuzz target: photo_strip (node/photo.c) on arbitrary bytes, the JPEG,
 * PNG and WebP walkers that `post --photo` runs on a file from anyone.
 * Invariants (abort on violation): every refusal has a reason; a stripped
 * photo is no longer than what came in, is the same stripped in place, and
 * strips again to itself with nothing removed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "photo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = malloc(size + 1), *again = malloc(size + 1);
	struct photo_result res, res2;
	char why[WM_WHY_LEN];

	if (out == NULL || again == NULL)
		abort();
	why[0] = '\0';
	if (photo_strip(data, size, out, &res, why) != 0) {
		if (why[0] == '\0')
			abort();
		goto out;
	}
	if (res.type == NULL || res.len > size)
		abort();
	memcpy(again, data, size);
	if (photo_strip(again, size, again, &res2, why) != 0 || res2.len != res.len ||
	    res2.removed != res.removed || memcmp(again, out, res.len) != 0)
		abort();
	if (photo_strip(out, res.len, again, &res2, why) != 0 || res2.removed != 0 ||
	    res2.len != res.len || memcmp(again, out, res.len) != 0)
		abort();
out:
	free(out);
	free(again);
	return 0;
}
