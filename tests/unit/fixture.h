/*
 * Shared by the unit tests that need a real store: a store in a fresh
 * temporary directory, and real signed events built from drafts.  Failures
 * end the test through cmocka's assertions.
 */
#ifndef WM_TEST_FIXTURE_H
#define WM_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "ingest.h"
#include "store.h"

/* A temporary directory holding store.db. */
struct fx_dir {
	char dir[64];
	char path[96];                  /* dir/store.db */
};
/* mkdtemp /tmp/wm-test-<tag>-XXXXXX and open a store there. */
void fx_store_new(struct fx_dir *d, const char *tag, struct store **s);
/* Remove every file in the directory, then the directory (the store must
 * be closed first). */
void fx_store_remove(const struct fx_dir *d);

/* n deterministic keys, key i from the seed of 32 bytes (base + i). */
void fx_keys_new(struct key **k, size_t n, uint8_t base);
void fx_keys_free(struct key **k, size_t n);

/* A store, nkeys deterministic keys (k[0] is the network's root) and an
 * ingest context over them: what the trust and ingest tests start from. */
#define FX_NODE_KEYS 16
struct fx_node {
	struct fx_dir d;
	struct store *s;
	struct key *k[FX_NODE_KEYS];
	size_t nkeys;
	struct ingest_ctx ctx;          /* root = k[0], now as given */
	struct ingest_result res;       /* for the tests' own use */
};
struct fx_node *fx_node_new(const char *tag, size_t nkeys, uint8_t key_base, uint64_t now);
void fx_node_free(struct fx_node *f);

/* A built event: its wire bytes (malloc'd) and id. */
struct fx_ev {
	uint8_t *wire;
	size_t len;
	uint8_t id[WM_ID_LEN];
};
/* A zeroed draft of `kind` by k in group at time `created`. */
void fx_draft(struct event_draft *d, const struct key *k, unsigned kind, const char *group,
              uint64_t created);
/* event_build, failing the test with the reason if it refuses. */
struct fx_ev fx_build(const struct event_draft *d, const struct key *k);

#endif
