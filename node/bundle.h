/*
 * node/bundle: bundle files, the concatenation of wire events that carries
 * a village's events to another on a USB stick (proto/PROTOCOL.md §9).
 *
 * Reading is built for damaged sticks and big files: the whole file is
 * indexed first by the wrappers' length headers; where the bytes stop
 * making sense, the reader resyncs at the next offset where a whole event
 * decodes, so one bad byte costs one event, not the rest of the file.
 * Import then ingests certificates and revocations first (repeating while
 * that makes progress, so their order in the file does not matter), then
 * everything else in file order, in transactions of BUNDLE_BATCH events.
 * While one batch is committed on the calling thread, worker threads (one
 * per usable core) decode and verify the next (ingest_prepare); the store
 * is only ever touched by the calling thread.
 */
#ifndef WM_BUNDLE_H
#define WM_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ingest.h"
#include "store.h"

#define BUNDLE_BATCH 10000

/* One stretch of a bundle: a candidate event, or bytes that could not be
 * read as one (bad = 1, with the reason). */
struct bundle_item {
	size_t off, len;
	unsigned kind;               /* from the payload's header; 0 if unknown */
	int bad;
	int cut;                     /* bad, and the file ends inside it (truncated) */
	char *why;                   /* bad items only; owned by the index */
};
struct bundle_index {
	struct bundle_item *items;   /* in file order */
	size_t n;
};
/* Index buf[0..len).  Only WM_ENOMEM can fail; damage becomes bad items. */
int bundle_index(const uint8_t *buf, size_t len, struct bundle_index *out);
void bundle_index_free(struct bundle_index *ix);

/* A refused event, as import reports it.  `number` is 1-based in file order. */
struct bundle_refusal {
	size_t number;
	size_t off;
	int has_id;                  /* 0 for unreadable bytes */
	const struct ingest_result *res;
};
struct bundle_stats {
	size_t events;               /* items in the file, readable or not */
	size_t stored, duplicates, refused;
	size_t unreadable;           /* of the refused: damaged bytes, not events */
	int truncated;               /* the file ends in the middle of an event */
};
struct bundle_import_cbs {
	void (*refused)(void *ctx, const struct bundle_refusal *r);
	/* called now and then with done <= total; may be NULL */
	void (*progress)(void *ctx, size_t done, size_t total);
	void *ctx;
	/* verifying threads: 0 = one per core the process may use; 1 = none,
	 * everything on the calling thread through ingest_event.  The result
	 * is the same either way. */
	unsigned threads;
	size_t batch;                /* events per transaction; 0 = BUNDLE_BATCH (tests) */
};
/* Import a bundle through ingest (INGEST_IMPORT).  cbs may be NULL.  Returns 0 when the
 * bundle was read to its end (refusals are not errors), or a store error
 * that stopped it (why filled).  The import keeps a trust cache of its own
 * for each of its transactions; ictx's is cleared at the end. */
int bundle_import(const struct ingest_ctx *ictx, const uint8_t *buf, size_t len,
                  const struct bundle_import_cbs *cbs, struct bundle_stats *st,
                  char why[WM_WHY_LEN]);

struct bundle_export_stats {
	size_t events, certs, revocations, withheld;
	uint64_t bytes;
};
/* Write every stored event to path atomically, a retracted one in its
 * withheld form: certificates, then revocations, then retracts (so that an
 * importer holds them when the withheld events come), then everything
 * else, in arrival order. */
int bundle_export(struct store *s, const char *path, struct bundle_export_stats *st,
                  char why[WM_WHY_LEN]);

#endif
