/*
 * proto/negentropy: Negentropy protocol v1 (range-based set reconciliation),
 * wire-compatible with the reference implementations (hoytech/negentropy,
 * nostr-tools nip77): same splitting (16 buckets, an IdList below 32 items),
 * same frame-size rule, so a client's messages are byte-identical to theirs
 * for the same set.  Pure: no I/O, no msgpack; messages are their own varint
 * format (proto/PROTOCOL.md §14).
 *
 * Items are (timestamp, 32-byte id) sorted by timestamp, then id.  The
 * protocol reaches the items only through `struct neg_storage`, a table of
 * four functions over that sorted order.  neg_vec is the in-memory backend;
 * a store-backed one can answer fingerprint(i, j) from per-time-bucket
 * aggregates (count and id sum, see neg_acc_*) without scanning.
 *
 * The client (initiator) calls neg_initiate(), sends the message, then feeds
 * each answer to neg_reconcile_client() until it produces no message; the
 * ids it learns accumulate in caller-owned neg_ids lists.  The server feeds
 * each message to neg_reconcile_server() and sends back what it returns.
 * Every incoming message is hostile input: a malformed one is refused with
 * WM_EPROTO (or WM_EVERSION) and a reason in `why`; the peer should be
 * dropped.
 */
#ifndef WM_NEGENTROPY_H
#define WM_NEGENTROPY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define NEG_PROTOCOL_VERSION 0x61      /* v1 */
#define NEG_ID_LEN           32
#define NEG_FP_LEN           16
#define NEG_TS_INFINITY      UINT64_MAX /* reserved; no item may use it */
#define NEG_MIN_FRAME_LIMIT  4096      /* smallest non-zero frame limit */

/* One item of a set. */
struct neg_item {
	uint64_t ts;                    /* timestamp (created_at); < NEG_TS_INFINITY */
	uint8_t id[NEG_ID_LEN];
};

/* A range boundary: (ts, id) with the id given by a prefix of idlen bytes,
 * the rest zero.  Bounds are exclusive upper ends of ranges. */
struct neg_bound {
	uint64_t ts;
	uint8_t id[NEG_ID_LEN];         /* bytes past idlen are zero */
	size_t idlen;                   /* 0..32 */
};

/*
 * Storage: the sorted set as seen by the protocol.  Indexes are positions in
 * the sorted order, 0 <= i < size.  Each function returns 0 or a negative
 * WM_E* code (a store backend may fail); the protocol passes the code on.
 * The set must not change while a reconciliation uses it.
 */
struct neg_storage_ops {
	/* Number of items. */
	size_t (*size)(void *ctx);
	/* The item at index i (i < size). */
	int (*item)(void *ctx, size_t i, struct neg_item *out);
	/* The first index in [begin, end) whose item is >= b, or end if none. */
	int (*lower_bound)(void *ctx, size_t begin, size_t end,
	                   const struct neg_bound *b, size_t *out);
	/* The fingerprint of the items [begin, end) (begin <= end <= size);
	 * a backend with aggregates uses neg_acc_* to build it. */
	int (*fingerprint)(void *ctx, size_t begin, size_t end, uint8_t out[NEG_FP_LEN]);
};
struct neg_storage {
	const struct neg_storage_ops *ops;
	void *ctx;                      /* passed to every op */
};

/*
 * Fingerprint arithmetic for backends: the sum of ids as little-endian
 * 256-bit integers mod 2^256, and the fingerprint
 *   SHA-256(sum || varint(count))[0..16).
 * Sums can be added and subtracted, so prefix sums or per-bucket sums give
 * the fingerprint of any range.
 */
struct neg_acc {
	uint8_t sum[NEG_ID_LEN];        /* little-endian 256-bit */
};
void neg_acc_zero(struct neg_acc *a);
void neg_acc_add(struct neg_acc *a, const uint8_t id[NEG_ID_LEN]);
/* a -= b (mod 2^256). */
void neg_acc_sub(struct neg_acc *a, const struct neg_acc *b);
void neg_acc_fingerprint(const struct neg_acc *a, uint64_t count, uint8_t out[NEG_FP_LEN]);

/* Total order of the protocol: -1, 0, 1. */
int neg_item_cmp(const struct neg_item *a, const struct neg_item *b);
/* -1 if the item sorts before the bound, else 0 or 1. */
int neg_item_bound_cmp(const struct neg_item *a, const struct neg_bound *b);

/*
 * neg_vec: an in-memory backend.  Add items, seal (sorts, refuses
 * duplicates, builds prefix sums so fingerprints cost O(1)), then use
 * neg_vec_storage().  Free with neg_vec_free().
 */
struct neg_vec;
int neg_vec_new(struct neg_vec **out);
void neg_vec_free(struct neg_vec *v);
/* WM_EINVAL if sealed or ts == NEG_TS_INFINITY; WM_ENOMEM. */
int neg_vec_add(struct neg_vec *v, uint64_t ts, const uint8_t id[NEG_ID_LEN]);
/* WM_EINVAL if already sealed, WM_EDUP if an item was added twice. */
int neg_vec_seal(struct neg_vec *v);
size_t neg_vec_size(const struct neg_vec *v);
/* The backend view; valid while v lives.  v must be sealed first. */
struct neg_storage neg_vec_storage(struct neg_vec *v);

/* A growing list of ids, owned by the caller; free with neg_ids_free(),
 * which leaves an empty list (the struct itself is not freed). */
struct neg_ids {
	uint8_t (*ids)[NEG_ID_LEN];
	size_t n;
	size_t cap;
};
void neg_ids_free(struct neg_ids *l);

/*
 * One side of a reconciliation.  st must outlive it.  frame_limit is the
 * largest message this side produces (0 = no limit; otherwise at least
 * NEG_MIN_FRAME_LIMIT, else WM_EINVAL); like the reference, it keeps
 * 200 bytes in reserve and hands the rest of the set to the next round.
 * nostr-tools uses 60000 by default.  A message cut short by the limit
 * ends, as in the reference, with one fingerprint over the items after the
 * last range that did not fit (proto/PROTOCOL.md §14, "Frame limit").
 */
struct neg;
int neg_new(const struct neg_storage *st, uint64_t frame_limit, struct neg **out);
void neg_free(struct neg *n);

/* Client: the first message.  *msg is malloc'd; the caller frees it.
 * WM_EINVAL if this side already initiated. */
int neg_initiate(struct neg *n, uint8_t **msg, size_t *len);

/*
 * Client: process the server's answer.  Appends to *have the ids this side
 * has and the server lacks, to *need those the server has and this side
 * lacks (appended only on success).  *msg is the next message to send
 * (malloc'd, caller frees) or NULL when reconciliation is complete.
 * WM_EVERSION if the server speaks another version, WM_EPROTO for a
 * malformed message, WM_EINVAL if neg_initiate() was not called.
 */
int neg_reconcile_client(struct neg *n, const uint8_t *in, size_t inlen,
                         struct neg_ids *have, struct neg_ids *need,
                         uint8_t **msg, size_t *len, char *why, size_t whylen);

/*
 * Server: answer one client message.  *msg is malloc'd; the caller frees it
 * and sends it even when it is a single version byte (the answer to a
 * version this side does not speak, so the client can fall back).
 * WM_EPROTO for a malformed message, WM_EINVAL if this side initiated.
 */
int neg_reconcile_server(struct neg *n, const uint8_t *in, size_t inlen,
                         uint8_t **msg, size_t *len, char *why, size_t whylen);

/* Varints of the protocol (base 128, most significant digit first).
 * neg_varint_encode writes at most 10 bytes and returns how many. */
size_t neg_varint_encode(uint8_t out[10], uint64_t v);

#endif
