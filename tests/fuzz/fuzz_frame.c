/*
 * Fuzz target: frame_decode on arbitrary bytes taken as one mesh frame.
 * Invariants (abort on violation): every refusal has a reason; an accepted
 * frame of a known type re-encodes to exactly the input (one byte form per
 * message), except a HELLO carrying extra items, which re-encodes to its
 * first six; an accepted unknown type is canonical msgpack.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame *f = malloc(sizeof(*f)), *g = malloc(sizeof(*g));
	char why[WM_WHY_LEN];
	uint8_t *out = NULL;
	size_t n = 0;
	int rc;

	if (f == NULL || g == NULL)
		abort();
	why[0] = '\0';
	rc = frame_decode(data, size, f, why);
	if (rc != 0) {
		if (why[0] == '\0' && rc != WM_ENOMEM)
			abort();
		goto out;
	}
	if (f->type == FRAME_UNKNOWN) {
		if (mp_check_canonical(data, size, why) != 0)
			abort();
		goto out;
	}
	if (frame_encode(f, &out, &n, why) != 0)
		abort();
	if (f->type == FRAME_HELLO && data[0] != 0x96) {
		/* extra items: the known ones must still read back the same */
		if (frame_decode(out, n, g, why) != 0 || g->hello.repair_ms != f->hello.repair_ms ||
		    g->hello.groups.n != f->hello.groups.n)
			abort();
	} else if (n != size || memcmp(out, data, size) != 0) {
		abort();
	}
out:
	free(out);
	free(f);
	free(g);
	return 0;
}
