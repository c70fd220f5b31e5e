/*
 * crypto/rotate: rotation statements, by which a node's old key hands its
 * place to a new one so that neighbours that pinned the old key follow by
 * themselves (proto/PROTOCOL.md §10 "Rotating a node's key").
 *
 * A statement is the canonical msgpack array
 *     ["watchmesh-rotate", 1, network id (bin 16), old key (bin 32), new key (bin 32), at (ms)]
 * -- always ROT_STATEMENT_LEN bytes, since `at` is a time after 1970-02-19 and so
 * a uint64 -- followed by the old key's Ed25519 signature over its SHA-256:
 * a record of ROT_RECORD_LEN bytes.  DIR/rotation holds a node's records,
 * oldest first, at most ROT_MAX; after a handshake they travel in one frame,
 * [ROT_FRAME_TYPE, bin(records)], which a mesh reader of version 1 ignores
 * as a type from a later version.  Nothing here trusts its input.
 */
#ifndef WM_ROTATE_H
#define WM_ROTATE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "wmcrypto.h"

#define ROT_NET_LEN       16
#define ROT_STATEMENT_LEN 114
#define ROT_RECORD_LEN    (ROT_STATEMENT_LEN + WM_SIG_LEN)
#define ROT_MAX           8     /* records kept and followed: a chain of 8 rotations */
#define ROT_FRAME_TYPE    10
#define ROT_FRAME_MAX     (5 + ROT_MAX * ROT_RECORD_LEN)

struct rot_statement {
	uint8_t net[ROT_NET_LEN];
	uint8_t old_pub[WM_PUB_LEN];
	uint8_t new_pub[WM_PUB_LEN];
	uint64_t at;                  /* ms since the epoch */
	uint8_t sig[WM_SIG_LEN];
};

/* A record: the statement that old hands its place to new_pub at `at`
 * (>= 2^32), signed by old (which must be able to sign).  0 or WM_EINVAL. */
int rot_sign(const struct key *old, const uint8_t net[ROT_NET_LEN], const uint8_t new_pub[WM_PUB_LEN],
             uint64_t at, uint8_t rec[ROT_RECORD_LEN]);

/* The fields of a record, its signature not checked: 0, or WM_EPROTO
 * (not a statement in the one form above). */
int rot_decode(const uint8_t rec[ROT_RECORD_LEN], struct rot_statement *s);

/* The frame carrying n records (1..ROT_MAX) into out (ROT_FRAME_MAX bytes
 * are enough).  0 or WM_EINVAL. */
int rot_frame(const uint8_t *recs, size_t n, uint8_t *out, size_t cap, size_t *outlen);

/* The records in a frame: *recs points into it, *n of them (1..ROT_MAX).
 * 0, or WM_EPROTO with why. */
int rot_frame_records(const uint8_t *frame, size_t len, const uint8_t **recs, size_t *n,
                      char why[WM_WHY_LEN]);

/*
 * Follow the records of a frame from key `from` (known since `since`, ms;
 * 0 if never rotated) to key `to`: each step a record whose signature
 * verifies with the current key, for network net, not older than the step
 * before; at most ROT_MAX steps.  0 and *at (the last step's time), or
 * WM_EREJECTED with why naming what was missing or wrong.  signers (may be
 * NULL) gets the key that signed each step, `from` first, *nsigners of
 * them: the caller judges whether each could still hand its place on.
 */
int rot_follow(const uint8_t *frame, size_t len, const uint8_t net[ROT_NET_LEN],
               const uint8_t from[WM_PUB_LEN], uint64_t since, const uint8_t to[WM_PUB_LEN],
               uint64_t *at, uint8_t signers[ROT_MAX][WM_PUB_LEN], size_t *nsigners,
               char why[WM_WHY_LEN]);

#endif
