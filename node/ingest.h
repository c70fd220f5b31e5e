/*
 * node/ingest: the one path by which an event enters a store, whether it
 * was authored here (post, cert issue), read from a bundle (import), or
 * received from a peer or a client.  It decodes and verifies the bytes
 * (proto/event), checks the clock, applies the trust rules (trust.c), then
 * stores the event and its effects (certificates, revocations, retractions).
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

struct ingest_ctx {
	struct store *store;
	uint8_t root[WM_PUB_LEN];    /* the network's root public key */
	uint64_t now;                /* ms since the epoch */
};

struct ingest_result {
	int code;                    /* 0 stored, WM_EDUP, or a refusal */
	uint8_t id[WM_ID_LEN];       /* set whenever the id could be computed */
	unsigned kind;               /* 0 if not decoded */
	char why[WM_WHY_LEN];        /* the reason, for a person */
};

/* Returns res->code.  Lasting refusals are remembered in the store. */
int ingest_event(const struct ingest_ctx *ctx, const uint8_t *wire, size_t len,
                 enum ingest_origin origin, struct ingest_result *res);

#endif
