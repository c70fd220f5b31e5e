/*
 * node/net/reader: the transport's reader of a link's incoming bytes, with
 * no I/O, so that it can be fuzzed alone.  Bytes arrive in any chunks; the
 * reader cuts them into fixed-size handshake messages, the peer's stream
 * header, then frames (4-byte length, judged by chan_frame_len before
 * anything is allocated, then the ciphertext).  It does not decrypt: the
 * caller hands the units to crypto/handshake.
 *
 *     struct reader r;
 *     reader_init(&r, hs_want(hs));
 *     while (n > 0) {
 *         rc = reader_take(&r, &p, &n, &ct, &ctlen, why);
 *         READER_MESSAGE: r.small holds r.want bytes; then reader_expect()
 *         READER_HEADER:  r.small holds CHAN_HEADER_LEN bytes; frames follow
 *         READER_FRAME:   r.prefix and ct[0..ctlen)
 *         < 0:            the link is at fault (why), or out of memory
 *     }
 *     reader_clear(&r);
 */
#ifndef WM_READER_H
#define WM_READER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "handshake.h"

enum reader_state {
	READER_IN_HANDSHAKE,   /* small collects `want` bytes: a handshake message */
	READER_IN_HEADER,      /* small collects the peer's stream header */
	READER_IN_PREFIX,      /* prefix collects a frame's length */
	READER_IN_BODY,        /* body collects a frame's ciphertext */
};

enum reader_unit {
	READER_MORE,           /* every byte taken, no unit complete */
	READER_MESSAGE,
	READER_HEADER,
	READER_FRAME,
};

struct reader {
	enum reader_state state;
	uint8_t small[HS_MSG_MAX];
	size_t have, want;
	uint8_t prefix[CHAN_PREFIX_LEN];
	uint8_t *body;         /* malloc'd once a frame spans reads */
	size_t body_have, body_want;
};

/* A reader waiting for a first handshake message of `want` bytes. */
void reader_init(struct reader *r, size_t want);

/* After a READER_MESSAGE: wait for a handshake message of `want` bytes,
 * or (want = 0) for the peer's stream header. */
void reader_expect(struct reader *r, size_t want);

/* Take bytes from *p (*n of them), advancing both, up to the end of the
 * next unit.  A READER_FRAME's ct points into the caller's bytes when the
 * frame came in one piece, else into r->body, valid until the next call.
 * WM_ETOOBIG or WM_EPROTO for a length no frame may have, WM_ENOMEM; why
 * filled, and the reader must not be used again. */
int reader_take(struct reader *r, const uint8_t **p, size_t *n, const uint8_t **ct, size_t *ctlen,
                char why[WM_WHY_LEN]);

/* Free what the reader holds. */
void reader_clear(struct reader *r);

#endif
