/*
 * Fuzz target: the strict reader on arbitrary bytes, differentially against
 * msgpack-c.  Whatever mp_check_canonical accepts, msgpack-c must parse
 * completely and re-encode to the very same bytes (its packer writes
 * shortest forms), so "canonical" means the same thing to both.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[WM_WHY_LEN];
	uint8_t *again = NULL;
	size_t alen = 0;
	struct mp_reader r;
	struct mp_item it;
	int rc;

	why[0] = '\0';
	rc = mp_check_canonical(data, size, why);
	if (rc != 0) {
		if (why[0] == '\0')
			abort();
	} else {
		if (mp_msgpack_repack(data, size, &again, &alen) != 0)
			abort();
		if (alen != size || memcmp(again, data, size) != 0)
			abort();
		free(again);
	}
	/* the cursor API item by item: never reads past the end, always moves */
	mp_reader_init(&r, data, size, 0, why);
	while (mp_remaining(&r) > 0) {
		size_t before = mp_remaining(&r);

		if (mp_read(&r, "item", &it) != 0)
			break;
		if (mp_remaining(&r) >= before)
			abort();
		if ((it.type == MP_STR || it.type == MP_BIN) &&
		    (it.ptr < data || it.ptr + it.len > data + size))
			abort();
		if (it.type == MP_STR && !mp_utf8_valid(it.ptr, it.len))
			abort();
	}
	return 0;
}
