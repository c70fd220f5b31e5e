/*
 * Fuzz target: rotation statements (crypto/rotate.c), the first frame a
 * node that rotated its key sends a dialer that pinned an old one: the
 * input is that frame as received.  Invariants (abort on violation): every
 * refusal has a reason; a frame that reads re-encodes to the same bytes
 * (there is one encoding); a record that decodes has a time of at least
 * 2^32 ms and, signed again here by a fixed key, decodes to the same fields
 * and is followed from that key; a rotation followed ends at a record that
 * names the key it was followed to.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rotate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct key *signer;

static void setup(void)
{
	uint8_t seed[32];

	if (signer != NULL)
		return;
	memset(seed, 7, sizeof seed);
	if (wmc_init() != 0 || key_from_seed(seed, &signer) != 0)
		abort();
}

/* A record of s's fields signed again by signer: decodes to them, and is
 * followed from signer's key to s's new key. */
static void check_resigned(const struct rot_statement *s)
{
	uint8_t rec[ROT_RECORD_LEN], frame[ROT_FRAME_MAX];
	struct rot_statement t;
	char why[WM_WHY_LEN] = "";
	size_t flen;
	uint64_t at = 0;

	if (rot_sign(signer, s->net, s->new_pub, s->at, rec) != 0 || rot_decode(rec, &t) != 0)
		abort();
	if (memcmp(t.net, s->net, ROT_NET_LEN) != 0 || memcmp(t.new_pub, s->new_pub, WM_PUB_LEN) != 0 ||
	    memcmp(t.old_pub, signer->pub, WM_PUB_LEN) != 0 || t.at != s->at)
		abort();
	if (rot_frame(rec, 1, frame, sizeof frame, &flen) != 0)
		abort();
	if (memcmp(s->new_pub, signer->pub, WM_PUB_LEN) != 0 &&
	    (rot_follow(frame, flen, s->net, signer->pub, s->at, s->new_pub, &at, NULL, NULL, why) != 0 || at != s->at))
		abort();
	/* ... but not by a neighbour whose record is newer */
	if (memcmp(s->new_pub, signer->pub, WM_PUB_LEN) != 0 && s->at < UINT64_MAX &&
	    (rot_follow(frame, flen, s->net, signer->pub, s->at + 1, s->new_pub, &at, NULL, NULL, why) == 0 || !why[0]))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t again[ROT_FRAME_MAX];
	char why[WM_WHY_LEN] = "";
	const uint8_t *recs;
	size_t n, len, i, j;
	uint64_t at;

	setup();
	if (rot_frame_records(data, size, &recs, &n, why) != 0) {
		if (!why[0])
			abort();
		return 0;
	}
	if (n < 1 || n > ROT_MAX || recs < data || recs + n * ROT_RECORD_LEN != data + size)
		abort();
	if (rot_frame(recs, n, again, sizeof again, &len) != 0 || len != size || memcmp(again, data, size) != 0)
		abort();
	for (i = 0; i < n; i++) {
		struct rot_statement s;

		if (rot_decode(recs + i * ROT_RECORD_LEN, &s) != 0)
			continue;
		if (s.at >> 32 == 0)
			abort();
		check_resigned(&s);
		why[0] = 0;
		if (memcmp(s.old_pub, s.new_pub, WM_PUB_LEN) == 0)
			continue;
		if (rot_follow(data, size, s.net, s.old_pub, 0, s.new_pub, &at, NULL, NULL, why) == 0) {
			int named = 0;

			for (j = 0; j < n; j++) {
				struct rot_statement u;

				named |= rot_decode(recs + j * ROT_RECORD_LEN, &u) == 0 &&
				         memcmp(u.new_pub, s.new_pub, WM_PUB_LEN) == 0 && u.at == at;
			}
			if (!named)
				abort();
		} else if (!why[0]) {
			abort();
		}
	}
	return 0;
}
