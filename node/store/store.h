/*
 * node/store/store.h: the node's store -- one SQLite database per node
 * (DIR/store.db) in WAL mode, its schema versioned with PRAGMA user_version
 * and migrated forward on open.  The room's other public header,
 * store_neg.h, is the repair view of the same database; store_int.h holds
 * what only the room's own files share.  Other rooms see plain structs: the
 * build denies them sqlite3.h.
 *
 * The store keeps raw wire events plus the columns needed to find them; it
 * does not judge events: node/ingest.c decides what goes in, and
 * node/trust.c what a revocation takes out.  Every call returns 0 or a
 * negative WM_E* code (crypto/error.h); after WM_ESTORE, store_errmsg says
 * what SQLite said.  A writer that touches several tables is all-or-nothing:
 * inside the caller's transaction if there is one, else in its own.
 */
#ifndef WM_STORE_H
#define WM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event.h"

struct store;

/* --- open, close, transactions -------------------------------------------- */

/* Open (creating and migrating as needed).  WM_ESTORE with why filled. */
int store_open(const char *path, struct store **out, char why[WM_WHY_LEN]);
/*
 * Open a reader: a read-only connection (the reading calls below work on
 * it; writers fail) for queries off the writer's thread, such as the HTTP
 * API's.  It never creates or migrates: a missing file, or a file of
 * another schema version than this build's, is WM_ESTORE with why saying
 * so.  Its page cache and memory map are small (a node runs several), and
 * it holds no snapshot between calls, so the writer's checkpoints go on.
 * A handle is used by one thread at a time; each thread opens its own.
 * Close it with store_close.
 */
int store_open_reader(const char *path, struct store **out, char why[WM_WHY_LEN]);
void store_close(struct store *s);

/* The last SQLite error seen on this store, for logs ("" if none). */
const char *store_errmsg(struct store *s);

/* Transactions.  Writers batch many inserts in one transaction. */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);
/* 1 if a transaction is open, else 0. */
int store_in_transaction(struct store *s);
/* durable=1: each commit is fsynced before it returns (synchronous=FULL);
 * 0, the default: NORMAL (batched; made durable by store_checkpoint). */
int store_set_durable(struct store *s, int durable);
int store_is_durable(struct store *s);
int store_checkpoint(struct store *s);
/* Checkpoint and truncate the WAL to nothing, giving its disk space back
 * (the disk is full); fails while a reader holds an older snapshot. */
int store_shrink_wal(struct store *s);

/* --- reading -------------------------------------------------------------- */

/* A stored event as readers see it.  For a retracted event `wire` is its
 * withheld form [payload, sig].  Strings and buffers are owned by the store's
 * iterator and valid only inside the callback. */
struct stored_event {
	int64_t seq;                 /* arrival order; the API's cursor */
	uint8_t id[WM_ID_LEN];
	unsigned kind;
	uint64_t created_at;
	uint64_t expires_at;
	const char *group;
	const uint8_t *wire;
	size_t wire_len;
	int retracted;
};
/* Return nonzero from the callback to stop; that value is returned. */
typedef int (*store_event_cb)(void *ctx, const struct stored_event *e);

/* Every combination is served by an index in its order and stops after
 * limit rows (test_query_plans), however large the store. */
struct store_filter {
	const char *group;           /* NULL = any */
	const char *except_group;    /* NULL = none; this group's events are left out */
	unsigned kind;               /* 0 = any */
	int64_t after_seq;           /* only seq > after_seq */
	size_t limit;                /* 0 = no limit */
	int newest_first;            /* order by created_at desc (then seq desc) instead of seq */
	uint64_t now;                /* if nonzero, skip events expired at now */
};
int store_events(struct store *s, const struct store_filter *f, store_event_cb cb, void *ctx);

/* 1 held (stored or retracted), 0 not, <0 error. */
int store_has(struct store *s, const uint8_t id[WM_ID_LEN]);
/* store_has and store_was_rejected in one statement: STORE_HELD,
 * STORE_REFUSED with the remembered code and why (each may be NULL), 0
 * neither, <0 error. */
enum { STORE_HELD = 1, STORE_REFUSED = 2 };
int store_lookup(struct store *s, const uint8_t id[WM_ID_LEN], int *code, char why[WM_WHY_LEN]);
/* Raw wire bytes of one event, the withheld form [payload, sig] of a
 * retracted one: *wire malloc'd, caller frees.  WM_ENOTFOUND if absent. */
int store_get(struct store *s, const uint8_t id[WM_ID_LEN], uint8_t **wire, size_t *len);
/* Events whose refs include id (replies, status, acks...). */
int store_events_referring(struct store *s, const uint8_t id[WM_ID_LEN], store_event_cb cb, void *ctx);

/*
 * Full-text search over the text fields of public events, through an index
 * for words of any length (store_bigram.c): every word must occur in the
 * text (as a substring; widths and case folded, NFKC: ３栋 is 3栋).  Words split on
 * ASCII blanks and U+3000; at most 16, and the query at most 1,024 bytes
 * (WM_EINVAL, store_errmsg says which).  Newest (created_at) first; the
 * limit newest (0 = no limit) after skipping offset; group NULL = any.
 * A page reads about its own rows, however many events match.
 * Searchable: bulletin title+text; alert event+headline+text+area_desc+
 * instruction; request text (not sealed ones), reply text, ack text,
 * status note; a bulletin's or alert's category, by its name and labels.
 */
int store_search(struct store *s, const char *query, const char *group, size_t limit, size_t offset,
                 store_event_cb cb, void *ctx);
/* How many events store_search lists for query and group, counting at
 * most cap + 1: *n is the number if it is at most cap, else cap + 1
 * ("more than cap"). */
int store_search_count(struct store *s, const char *query, const char *group, size_t cap, size_t *n);

/* Counts for status output. */
struct store_counts { int64_t events, retracted, rejected, certs; };
int store_counts(struct store *s, struct store_counts *c);

/* What the store keeps about a held event, even a retracted one. */
struct store_info {
	int64_t seq;
	unsigned kind;
	uint64_t created_at;
	uint64_t expires_at;
	uint8_t author[WM_PUB_LEN];
	char group[WM_GROUP_MAX + 1];
	int retracted;
};
/* 0 and *out, or WM_ENOTFOUND. */
int store_info(struct store *s, const uint8_t id[WM_ID_LEN], struct store_info *out);

/* A unique id prefix of 6..64 hex digits (either case) -> the full id of a
 * held event (stored or retracted).  WM_ENOTFOUND if none, WM_EINVAL if the
 * text is not such a prefix or several ids share it; store_errmsg() then
 * says which ("ambiguous: ..."). */
int store_resolve_prefix(struct store *s, const char *hex, size_t hexlen,
                         uint8_t id[WM_ID_LEN]);

/* Events signed by `author` in the order they arrived here (seq), each
 * with the time it arrived (received_at, ms; this node's clock). */
typedef int (*store_arrival_cb)(void *ctx, const struct stored_event *e, int64_t received_at);
int store_arrivals_of(struct store *s, const uint8_t author[WM_PUB_LEN], store_arrival_cb cb, void *ctx);

/* Events signed by `author` with created_at >= since, oldest first. */
int store_events_by_author(struct store *s, const uint8_t author[WM_PUB_LEN], uint64_t since,
                           store_event_cb cb, void *ctx);

/* --- certificates --------------------------------------------------------- */

enum cert_role { ROLE_STATION = 1, ROLE_OFFICER, ROLE_NODE, ROLE_RESIDENT };
const char *role_name(enum cert_role r);
enum cert_role role_from_name(const char *name);     /* 0 if unknown */

struct cert {
	uint8_t event_id[WM_ID_LEN];
	uint8_t issuer[WM_PUB_LEN];
	uint8_t subject[WM_PUB_LEN];
	enum cert_role role;
	char name[128];
	char groups[1024];           /* comma-separated; "*" = all */
	uint64_t not_before, not_after, created_at;
};
/* All certs for a subject (there may be several: renewals, roles). */
typedef int (*store_cert_cb)(void *ctx, const struct cert *c);
int store_certs_of(struct store *s, const uint8_t subject[WM_PUB_LEN], store_cert_cb cb, void *ctx);
/* 1 if `signer` has revoked `subject` (any revocation held), 0 if not. */
int store_revoked_by(struct store *s, const uint8_t subject[WM_PUB_LEN], const uint8_t signer[WM_PUB_LEN]);
/* The ids of the revocations of `subject` held, by any signer. */
typedef int (*store_id_cb)(void *ctx, const uint8_t id[WM_ID_LEN]);
int store_revokes_of(struct store *s, const uint8_t subject[WM_PUB_LEN], store_id_cb cb, void *ctx);

/*
 * Chains and kept sets (node/trust.c judges revocations by them).
 * store_link: what a chain walk needs of an event held or hidden.  The kept
 * set of (author, signer): ids reached from the keep lists of signer's
 * revocations of author; a gap is a link a walk needed and the store did
 * not hold, and counts as kept until it comes (store_is_kept: 1 kept or a
 * gap, 0 not).  store_gaps_take lists up to max gaps waiting for id that
 * name `author` (the event with that id, by author, has just come: only
 * its own author's walks continue through it, so gaps claiming another
 * author, decoys a hostile signer could plant to crowd out the real one,
 * are never read) and forgets every gap on id.
 */
struct store_link {
	uint8_t author[WM_PUB_LEN];
	char group[WM_GROUP_MAX + 1];
	uint64_t expires_at;
	int has_prev;
	uint8_t prev[WM_ID_LEN];
};
int store_link(struct store *s, const uint8_t id[WM_ID_LEN], struct store_link *out);
int store_kept_add(struct store *s, const uint8_t author[WM_PUB_LEN], const uint8_t signer[WM_PUB_LEN],
                   const uint8_t id[WM_ID_LEN]);
int store_is_kept(struct store *s, const uint8_t author[WM_PUB_LEN], const uint8_t signer[WM_PUB_LEN],
                  const uint8_t id[WM_ID_LEN]);
int store_gap_add(struct store *s, const uint8_t id[WM_ID_LEN], const uint8_t author[WM_PUB_LEN],
                  const uint8_t signer[WM_PUB_LEN], const char *group);
struct store_gap {
	uint8_t author[WM_PUB_LEN];
	uint8_t signer[WM_PUB_LEN];
	char group[WM_GROUP_MAX + 1];
};
int store_gaps_take(struct store *s, const uint8_t id[WM_ID_LEN], const uint8_t author[WM_PUB_LEN],
                    struct store_gap *out, size_t max, size_t *n);

/* Certs issued by `issuer` (a station's officers, nodes, residents). */
int store_certs_issued_by(struct store *s, const uint8_t issuer[WM_PUB_LEN],
                          store_cert_cb cb, void *ctx);

/* --- writing: what node/ingest.c and node/trust.c decided ----------------- */

/* Idempotent: the same event twice is one row.  Returns 0, or WM_EDUP. */
int store_insert(struct store *s, const struct event *ev, int64_t received_at);
/* The seq of the row the last successful store_insert on s added (ingest
 * hands it on, so that the daemon knows which rows it wrote itself). */
int64_t store_inserted_seq(const struct store *s);
int store_add_cert(struct store *s, const struct event *ev, const struct cert *c);
int store_add_revocation(struct store *s, const struct event *ev,
                         const uint8_t subject[WM_PUB_LEN], uint64_t at);
/* Keep the target withheld: its header and signature, [payload, sig], so
 * that it stays provable and is served so; drop its content, its text from
 * the index and its refs. */
int store_retract(struct store *s, const uint8_t target[WM_ID_LEN], const uint8_t by[WM_ID_LEN]);
/* Remove an event entirely (a retraction refused once its target came). */
int store_delete(struct store *s, const uint8_t id[WM_ID_LEN]);
/* Remembered lasting refusals: counted as held by repair, never retried
 * (forgotten by store_collect_expired when the event would have expired). */
int store_remember_rejected(struct store *s, const uint8_t id[WM_ID_LEN], int code, const char *why);
/* store_remember_rejected with what repair needs to count the id as held:
 * the event's created_at and group (when it could be decoded), and its
 * expires_at (0 = never): store_collect_expired forgets the refusal when
 * the event would have expired, and repair leaves it out from then on, as
 * for a held event.  Plain store_remember_rejected right after store_delete
 * of the same id takes them from the deleted row; otherwise the id is
 * remembered without them, repair does not count it, and it never expires. */
int store_remember_rejected_item(struct store *s, const uint8_t id[WM_ID_LEN], int code,
                                 const char *why, uint64_t created_at, const char *group,
                                 uint64_t expires_at);
/*
 * Hidden events: refused only because of revocations, so kept to be judged
 * again (node/trust.c), never deleted for good.  store_hide moves a held,
 * not retracted event out of every reader's sight (feed, serving, search)
 * into the hidden table, and remembers its id as refused with code and why
 * (so repair counts it as held and a neighbour's copy is WM_EREJECTED); it
 * notes `by` (a revoke's id, or NULL) and every revocation that counts
 * against the author's certs or their issuers' now as what decided it.
 * On an event hidden already, it renews those notes and the reason.  store_hidden_by lists the
 * hidden events a revoke decided (e->id and e->wire only); store_unhide
 * forgets one (hidden, its notes, its refusal) so the caller can store it
 * again.  Collected when the event would have expired.
 */
int store_hide(struct store *s, const uint8_t id[WM_ID_LEN], const uint8_t *by, int code,
               const char *why);
int store_hidden_by(struct store *s, const uint8_t revoke[WM_ID_LEN], store_event_cb cb, void *ctx);
int store_unhide(struct store *s, const uint8_t id[WM_ID_LEN]);
/* 1 and the remembered reason if id was refused earlier, 0 if not. */
int store_was_rejected(struct store *s, const uint8_t id[WM_ID_LEN], int *code, char why[WM_WHY_LEN]);
/* Delete events expired at `now`, except certificates and revocations
 * (older events are judged by them), and retractions received
 * STORE_RETRACT_WAIT_MS or more before `now` still waiting for their
 * target (remembered as refused, WM_EEXPIRED); *n = how many. */
#define STORE_RETRACT_WAIT_MS (7ull * 24 * 3600 * 1000)
int store_collect_expired(struct store *s, uint64_t now, int64_t *n);

/* Retractions stored before their target (ingest.c): note one, list the
 * retraction events waiting for a target, forget them once judged.
 * store_delete of a retraction forgets it too. */
int store_wait_retract(struct store *s, const uint8_t target[WM_ID_LEN], const uint8_t retract[WM_ID_LEN]);
int store_waiting_retracts(struct store *s, const uint8_t target[WM_ID_LEN], store_event_cb cb, void *ctx);
int store_unwait_retracts(struct store *s, const uint8_t target[WM_ID_LEN]);

/* --- meta ----------------------------------------------------------------- */

/* Key/value settings of the node (e.g. the network's root key).  A value
 * is read from the file once per store handle and remembered (ingest asks
 * for the vouched groups at every request): a handle sees its own writes,
 * and another process's writes from its next open. */
int store_meta_get(struct store *s, const char *key, char *val, size_t vallen);
int store_meta_set(struct store *s, const char *key, const char *val);

#endif
