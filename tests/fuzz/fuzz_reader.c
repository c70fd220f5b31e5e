/*
 * Fuzz target: the transport's reader of a link's bytes (node/net/reader.c)
 * as a responder sees them: message 1, message 3, the stream header, then
 * frames, arriving in chunks of the sizes the first byte picks.
 * Invariants (abort on violation): the units are the stream cut in order,
 * byte for byte, with nothing lost or repeated; a frame is as long as its
 * prefix says; the reader refuses only a prefix chan_frame_len refuses, and
 * then with a reason; every byte is taken unless it refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t messages[] = { HS_MSG1_LEN, HS_MSG3_LEN };
	struct reader r;
	const uint8_t *p, *ct = NULL;
	size_t at = 0, fed = 0, chunk, n, ctlen = 0, nmsg = 0, expect;
	char why[WM_WHY_LEN];
	int rc, header = 0;

	if (size < 1)
		return 0;
	chunk = data[0] ? data[0] : 4096;
	data++;
	size--;
	reader_init(&r, messages[0]);
	while (fed < size) {
		n = size - fed < chunk ? size - fed : chunk;
		p = data + fed;
		fed += n;
		while (n > 0) {
			why[0] = '\0';
			rc = reader_take(&r, &p, &n, &ct, &ctlen, why);
			if (rc == WM_ENOMEM)
				goto out;
			if (rc < 0) {
				if (!header || why[0] == '\0' || chan_frame_len(data + at, &expect, NULL) == 0)
					abort();
				goto out;
			}
			/* what was taken is the stream from `at` up to p */
			switch (rc) {
			case READER_MESSAGE:
				if (header || nmsg == 2 || data + at + messages[nmsg] != p ||
				    memcmp(r.small, data + at, messages[nmsg]) != 0)
					abort();
				at += messages[nmsg++];
				reader_expect(&r, nmsg < 2 ? messages[nmsg] : 0);
				break;
			case READER_HEADER:
				if (header || nmsg != 2 || data + at + CHAN_HEADER_LEN != p ||
				    memcmp(r.small, data + at, CHAN_HEADER_LEN) != 0)
					abort();
				at += CHAN_HEADER_LEN;
				header = 1;
				break;
			case READER_FRAME:
				if (!header || chan_frame_len(data + at, &expect, NULL) != 0 || expect != ctlen ||
				    memcmp(r.prefix, data + at, CHAN_PREFIX_LEN) != 0 ||
				    data + at + CHAN_PREFIX_LEN + ctlen != p ||
				    memcmp(ct, data + at + CHAN_PREFIX_LEN, ctlen) != 0)
					abort();
				at += CHAN_PREFIX_LEN + ctlen;
				break;
			case READER_MORE:
				if (n != 0)
					abort();
				break;
			}
		}
	}
	if (at > size)
		abort();
out:
	reader_clear(&r);
	return 0;
}
