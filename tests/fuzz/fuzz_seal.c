/*
 * Fuzz target: sealed boxes (crypto/wmcrypto.c's seal_shape and seal_open),
 * the "box" of a sealed request or reply, made by any author.  First byte
 * even: the rest is a box, opened by a recipient key.  Odd: the rest is a
 * message, sealed here for that recipient and another, opened, then opened
 * again with one byte changed (the second byte picks which).  Invariants
 * (abort on violation): a box seal_shape refuses never opens; an honest box
 * opens to its message for each recipient and the author; a changed box
 * never opens.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wmcrypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct key *reader, *other, *author;
static const uint8_t ad[] = "request|village|group";

static void setup(void)
{
	uint8_t seed[32];

	if (reader != NULL)
		return;
	memset(seed, 4, sizeof seed);
	if (wmc_init() != 0 || key_from_seed(seed, &reader) != 0)
		abort();
	memset(seed, 5, sizeof seed);
	if (key_from_seed(seed, &other) != 0)
		abort();
	memset(seed, 6, sizeof seed);
	if (key_from_seed(seed, &author) != 0)
		abort();
}

/* 0 if box opens for k to exactly msg, 1 if it does not open; aborts on
 * an open to anything else. */
static int opens(const uint8_t *box, size_t boxlen, const struct key *k, const uint8_t *msg, size_t len)
{
	uint8_t *m = NULL;
	size_t ml = 0, n;
	int rc = seal_open(box, boxlen, ad, sizeof ad, author->pub, k, &m, &ml);

	if (rc != 0)
		return 1;
	if (seal_shape(box, boxlen, &n) != 0 || (msg != NULL && (ml != len || memcmp(m, msg, len) != 0)))
		abort();
	seal_free_msg(m, ml);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t recips[2][WM_PUB_LEN], *box = NULL;
	size_t boxlen = 0, at;

	if (size < 2)
		return 0;
	setup();
	if (!(data[0] & 1)) {
		opens(data + 1, size - 1, reader, NULL, 0);
		return 0;
	}
	memcpy(recips[0], reader->pub, WM_PUB_LEN);
	memcpy(recips[1], other->pub, WM_PUB_LEN);
	if (seal_box(data + 2, size - 2, ad, sizeof ad, (const uint8_t (*)[WM_PUB_LEN])recips, 2,
	             author->pub, &box, &boxlen) != 0)
		return 0;   /* too big to seal */
	if (opens(box, boxlen, reader, data + 2, size - 2) != 0 ||
	    opens(box, boxlen, other, data + 2, size - 2) != 0 ||
	    opens(box, boxlen, author, data + 2, size - 2) != 0)
		abort();
	at = (size_t)data[1] * 97 % boxlen;
	box[at] ^= 1u << (data[1] & 7);
	if (opens(box, boxlen, reader, NULL, 0) == 0)
		abort();
	free(box);
	return 0;
}
