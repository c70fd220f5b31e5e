/*
 * node/ingest: the one path by which an event enters a store, whether it
 * was authored here (post, cert issue), read from a bundle (import), or
 * received from a peer or a client.  It decodes and verifies the bytes
 * (proto/event), checks the clock, applies the trust rules (trust.c), then
 * stores the event and its effects (certificates, revocations, retractions).
 *
 * The work splits in two stages so that a bundle import can verify on
 * several threads: ingest_prepare is pure (no store, no clock, safe on any
 * thread) and does the costly part, ingest_commit judges the prepared event
 * against the store and stores it.  ingest_event is the two in a row, so
 * every path runs the same checks in the same order.
 */
#ifndef WM_INGEST_H
#define WM_INGEST_H

#include <stdint.h>

#include "error.h"
#include "event.h"
#include "store.h"

enum ingest_origin {
	INGEST_LOCAL,   /* authored on this node: on disk (fsync) before return */
	INGEST_IMPORT,  /* from a bundle: batched by the caller's transaction */
	INGEST_PEER,    /* from the mesh or a client */
};

struct trust_cache;

struct ingest_ctx {
	struct store *store;
	uint8_t root[WM_PUB_LEN];    /* the network's root public key */
	uint8_t network[WM_NETWORK_LEN];  /* the network's id: other networks' events are refused */
	const char *network_name;    /* for the reason of that refusal; NULL if unknown */
	uint64_t now;                /* ms since the epoch */
	/* May be NULL.  The event with this id, decoded and verified already
	 * (the daemon's workers, node/daemon/verify.h), handed over (ingest
	 * frees it) to be used instead of checking the bytes again; NULL if
	 * there is none. */
	struct event *(*verified)(void *ctx, const uint8_t id[WM_ID_LEN]);
	void *verified_ctx;
	/* May be NULL.  Certificate lists read while judging events inside
	 * the caller's transaction (node/trust.h); ingest clears it after
	 * anything that may change them.  The caller clears it whenever its
	 * transaction ends. */
	struct trust_cache *trust_cache;
};

struct ingest_result {
	int code;                    /* 0 stored, WM_EDUP, or a refusal */
	uint8_t id[WM_ID_LEN];       /* set whenever the id could be computed */
	unsigned kind;               /* 0 if not decoded */
	int64_t seq;                 /* code 0: the new row's seq in the store */
	char why[WM_WHY_LEN];        /* the reason, for a person */
};

/* Returns res->code.  Lasting refusals are remembered in the store.
 * Already held or refused ids are answered before any signature check. */
int ingest_event(const struct ingest_ctx *ctx, const uint8_t *wire, size_t len,
                 enum ingest_origin origin, struct ingest_result *res);

/*
 * The pure stage: size, wrapper and id (event_peek), and (verify = 1)
 * event_decode with the signature check.  With verify = 0 only the id is computed and
 * ingest_commit decodes when it needs to (a duplicate costs no signature
 * check then).  Touches nothing but *p; wire must outlive p.  Free what it
 * holds with ingest_prep_clear (also on a zeroed or cleared p).
 */
struct ingest_prep {
	const uint8_t *wire;
	size_t len;
	int code;                    /* 0, or a refusal found before the store */
	int has_id;                  /* the wrapper has its canonical shape: pk set */
	int looked_up;               /* the caller found pk.id neither held nor refused */
	int decoded;                 /* event_decode ran: ev or code/why from it */
	int authentic;               /* decode failed, but the author signed pk.id */
	struct event_peek pk;        /* the wrapper and the id, hashed once */
	struct event *ev;            /* decoded event, or NULL */
	char why[WM_WHY_LEN];
};
void ingest_prepare(const uint8_t *wire, size_t len, int verify, struct ingest_prep *p);
/* The pure stage for a caller that has peeked already (pk->has_id; the
 * mesh): nothing is read or hashed again.  looked_up = 1 says the caller
 * has just asked the store whether it holds or refused pk->id, and it does
 * neither: ingest_commit does not ask again.  pk->wire must outlive p. */
void ingest_prepare_peeked(const struct event_peek *pk, int looked_up, struct ingest_prep *p);
void ingest_prep_clear(struct ingest_prep *p);
/* The decode and signature check that ingest_prepare(verify = 0) left out;
 * nothing if done already.  Pure, like ingest_prepare. */
void ingest_prep_verify(struct ingest_prep *p);

/* The store stage of ingest_event for a prepared event (any thread, but one
 * at a time per store, like every store call).  Same result as ingest_event
 * on the same bytes.  p stays owned by the caller. */
int ingest_commit(const struct ingest_ctx *ctx, struct ingest_prep *p,
                  enum ingest_origin origin, struct ingest_result *res);

#endif
