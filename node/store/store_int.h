/*
 * node/store/store_int.h: what only the store room's own files share --
 * the SQLite handles, and the SQL of the schema's repair aggregates that
 * store.c migrates and writes and store_neg.c reads.  Other rooms include
 * store.h and store_neg.h, which say nothing of SQLite; the build denies
 * them sqlite3.h (crypto/deny.h).  Tests and benchmarks that reach into
 * the store include this header too, and say so where they do.
 *
 * What a reader must know: the aggregates (neg_agg, neg_fine) are kept by
 * two writers at once -- triggers on deletes from events and on the
 * rejected table, and store.c's own sums of the new events rows, upserted
 * once per (group, bucket) when the transaction commits (an insert
 * trigger doubled the cost of store_insert in a batch) -- so a change to
 * one of them is a change to both.  proto/PROTOCOL.md ("The
 * store's view") describes the buckets.
 */
#ifndef WM_STORE_INT_H
#define WM_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "error.h"
#include "negentropy.h"
#include "store.h"
#include "store_neg.h"

/* The schema version this build writes; store_open migrates older files
 * forward and refuses newer ones. */
#define STORE_SCHEMA_VERSION 14
/* Schemas before this one held events of the retired format 1, which
 * nothing can convert (their signatures cover the old bytes). */
#define STORE_FORMAT2_VERSION 6

/* SQLite integers are signed; our times are uint64 from outside.  Anything
 * beyond INT64_MAX (far past any real date) is stored as INT64_MAX. */
static inline sqlite3_int64 store_u2i(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

/* The store's own connection, for store_neg.c's SQL functions and for
 * tests that look at the tables. */
sqlite3 *store_db(struct store *s);

/*
 * For store_neg.c: a read-only connection to the store's file, reused across
 * repair sessions: idle ones are kept (a few), so a session costs a BEGIN,
 * not an open with a cold cache.  NULL, why filled, if none can be opened
 * (":memory:" stores have no file).  Give it back with store_reader_put
 * outside any transaction, before store_close, which closes the idle ones.
 */
sqlite3 *store_reader_get(struct store *s, char why[WM_WHY_LEN]);
void store_reader_put(struct store *s, sqlite3 *db);

/*
 * For store.c: the SQL functions the triggers call (wm_neg_add,
 * wm_neg_sub: 256-bit little-endian sums), registered on every connection
 * that writes, before the schema migration.
 */
int store_neg_register(sqlite3 *db);

/* The events row of id p (SQL): events_id finds the rows of the id's first
 * 8 bytes, the row's id decides; t is the table's name and a dot, or "".
 * Schema 12 (store.c) says why the index is not on the whole id. */
#define STORE_ID_IS(t, p) "substr(" t "id, 1, 8) = substr(" p ", 1, 8) AND " t "id = " p
/* The refs rows of the referred id p, the same way: refs_ref holds 8 bytes
 * of each (schema 13). */
#define STORE_REF_IS(p) "substr(ref, 1, 8) = substr(" p ", 1, 8) AND ref = " p

/* --- an events row's bytes (store_raw.c) ----------------------------------- */

/*
 * An events row keeps its event's wire bytes without the author's key
 * (schema 14): the key is kept once, in authors, and was 32 of the ~316
 * bytes an event (BENCHMARKS.md "The store at 2 x, the author's key").
 * The payload's author becomes bin(0), its header the shorter length.
 * Whatever reads raw for its bytes makes them whole: store.c in C
 * (row_raw, from the row's author number), SQL with wm_raw; the
 * search's text needs no key (store_bigram.c).  raw IS NULL still means
 * retracted.
 */
/* What the row keeps of wire[0..n), an event by author, at out (n bytes
 * free): its length, or 0 if the bytes are not of an event by author in
 * their shortest form; then the row keeps them whole. */
size_t store_raw_cut(const uint8_t *wire, size_t n, const uint8_t author[WM_PUB_LEN],
                     uint8_t *out);
/* The wire bytes of a row's kept[0..n) and its author's key, at out (n +
 * STORE_RAW_WHOLE_MORE bytes free): their length, or 0 if kept was not
 * cut (it is the wire bytes itself). */
#define STORE_RAW_WHOLE_MORE (WM_PUB_LEN + 1)
size_t store_raw_whole(const uint8_t *kept, size_t n, const uint8_t author[WM_PUB_LEN],
                       uint8_t *out);
/* The SQL functions wm_raw(raw, key), the wire bytes, and wm_raw_cut(wire,
 * key), what a row keeps (the migration's), on db: every connection that
 * reads events. */
int store_raw_register(sqlite3 *db);

/* --- the search index (store_bigram.c) ------------------------------------ */

/*
 * The search index holds each searchable event's pairs under a key (its
 * events row's search_key) that orders it by time: created_at in the high
 * bits, so that the index's rowid order is newest first and a search
 * reads its first page and stops, and 4 bits of the id below, so that events of one millisecond rarely share
 * a key (store.c takes a free one when they do, or -seq once all 16 of a
 * millisecond are taken; a created_at past 2^59 ms counts as 2^59 - 1).
 * Few bits, because the index stores the gaps between keys: 20 ms apart
 * is 320, two bytes, where 10 bits made it three.
 */
#define STORE_SEARCH_SLOT_BITS 4
static inline sqlite3_int64 store_search_key(sqlite3_int64 created_at, const uint8_t *id)
{
	const sqlite3_int64 top = ((sqlite3_int64)1 << (63 - STORE_SEARCH_SLOT_BITS)) - 1;

	if (created_at < 0)
		created_at = 0;
	if (created_at > top)
		created_at = top;
	return created_at << STORE_SEARCH_SLOT_BITS | (sqlite3_int64)(id[0] >> (8 - STORE_SEARCH_SLOT_BITS));
}
/* The events row keeps the key's slot in its millisecond (search_slot:
 * 0..15, a byte or none where the key took 6) or the whole key when it is
 * negative (-seq); search_key is computed from it and created_at as
 * store_search_key computes, and only the index events_search stores it. */
#define STORE_SEARCH_BASE_SQL                                                               \
	"(max(0, min(created_at, (1 << (63 - " STORE_STR(STORE_SEARCH_SLOT_BITS) ")) - 1)) << " \
	STORE_STR(STORE_SEARCH_SLOT_BITS) ")"
#define STORE_SEARCH_KEY_SQL \
	"CASE WHEN search_slot < 0 THEN search_slot ELSE " STORE_SEARCH_BASE_SQL " + search_slot END"

/* Register the FTS5 tokenizer wm_bigram and the SQL function
 * wm_search_key(created_at, id) (the migration's store_search_key) on db,
 * which any connection that reads or writes the search index needs. */
int store_search_register(sqlite3 *db);

/* Length of the blank at p (n bytes left; ASCII blanks and U+3000), 0 if
 * none: what a search query is split at and the tokenizer cuts at. */
size_t store_blank_len(const char *p, size_t n);

/* s[0..n) folded for search: NFKC, then lower case (full-width ３ and
 * half-width 3 alike), in *out (n_out bytes, malloc'd, caller frees, not
 * NUL-terminated).  Bytes that are not UTF-8 get ASCII letters folded
 * only.  0, or WM_ENOMEM. */
int store_fold(const char *s, size_t n, char **out, size_t *outlen);

/* The searchable text of an event: its text fields joined by newlines,
 * then its category and the words it is searched by, in *buf (malloc'd,
 * caller frees); *len = 0 and *buf NULL when there is none.  0 or
 * WM_ENOMEM. */
int store_search_text(const struct event *ev, char **buf, size_t *len);

/* --- the repair aggregates' SQL ------------------------------------------- */

#define STORE_STR_(x) #x
#define STORE_STR(x) STORE_STR_(x)
#define STORE_NEG_BUCKET_SHIFT 21      /* neg_agg bucket = created_at >> 21 (ms) */
#define STORE_NEG_FINE_SHIFT 16        /* neg_fine bucket = created_at >> 16 (ms) */
#define STORE_NEG_SHIFT_SQL " >> " STORE_STR(STORE_NEG_BUCKET_SHIFT)
#define STORE_NEG_FINE_SHIFT_SQL " >> " STORE_STR(STORE_NEG_FINE_SHIFT)

/*
 * For store.c: the SQL functions the triggers call (wm_neg_add,
 * wm_neg_sub: 256-bit little-endian sums), registered on every connection
 * that writes, before the schema migration; and that migration step.
 */
int store_neg_register(struct sqlite3 *db);
/* Add (op wm_neg_add, sign +) or remove (wm_neg_sub, -) the row r in the
 * aggregates (table t, bucket shift sh) of its group and of '*'. */
#define STORE_NEG_BOTH_IN(t, sh, r, op, sign) STORE_NEG_BOTH_G(t, sh, r, r ".grp", op, sign)
/* the same for a row whose group's name is the SQL g */
#define STORE_NEG_BOTH_G(t, sh, r, g, op, sign)                                            \
	"INSERT INTO " t " SELECT g, " r ".created_at" sh ", " sign "1, "                   \
	op "(zeroblob(32), " r ".id) FROM (SELECT " g " AS g UNION ALL SELECT '*') "        \
	"WHERE 1 ON CONFLICT (grp, bucket) DO UPDATE SET cnt = cnt " sign " 1, "           \
	"sum = " op "(sum, " r ".id);"
#define STORE_NEG_BOTH(r, op, sign) STORE_NEG_BOTH_IN("neg_agg", STORE_NEG_SHIFT_SQL, r, op, sign)
/* both sizes (the triggers of schema 5) */
#define STORE_NEG_BOTH2(r, op, sign)                                                       \
	STORE_NEG_BOTH(r, op, sign) STORE_NEG_BOTH_IN("neg_fine", STORE_NEG_FINE_SHIFT_SQL, r, op, sign)
/* The triggers on deletes from events and on rejected, each body made by
 * `both` (STORE_NEG_BOTH, or STORE_NEG_BOTH2 for both sizes).  The store
 * never updates id, created_at or grp of an events row. */
#define STORE_NEG_TRIGGERS(both)                                                           \
	"CREATE TRIGGER neg_events_del AFTER DELETE ON events BEGIN "                       \
	both("OLD", "wm_neg_sub", "-") " END;"                                             \
	"CREATE TRIGGER neg_rejected_ins AFTER INSERT ON rejected "                        \
	"WHEN NEW.created_at IS NOT NULL AND NEW.grp IS NOT NULL BEGIN "                   \
	both("NEW", "wm_neg_add", "+") " END;"                                             \
	"CREATE TRIGGER neg_rejected_del AFTER DELETE ON rejected "                        \
	"WHEN OLD.created_at IS NOT NULL AND OLD.grp IS NOT NULL BEGIN "                   \
	both("OLD", "wm_neg_sub", "-") " END;"                                             \
	"CREATE TRIGGER neg_rejected_upd_old AFTER UPDATE OF id, created_at, grp ON rejected " \
	"WHEN OLD.created_at IS NOT NULL AND OLD.grp IS NOT NULL BEGIN "                   \
	both("OLD", "wm_neg_sub", "-") " END;"                                             \
	"CREATE TRIGGER neg_rejected_upd_new AFTER UPDATE OF id, created_at, grp ON rejected " \
	"WHEN NEW.created_at IS NOT NULL AND NEW.grp IS NOT NULL BEGIN "                   \
	both("NEW", "wm_neg_add", "+") " END;"
#define STORE_NEG_MIGRATION                                                                \
	"ALTER TABLE rejected ADD COLUMN created_at INTEGER;"                              \
	"ALTER TABLE rejected ADD COLUMN grp TEXT;"                                        \
	"CREATE INDEX rejected_time ON rejected(created_at, id) WHERE created_at IS NOT NULL;" \
	"CREATE TABLE neg_agg ("                                                           \
	"  grp TEXT NOT NULL,"              /* a group, or '*' for all */                  \
	"  bucket INTEGER NOT NULL,"        /* created_at >> shift */                      \
	"  cnt INTEGER NOT NULL,"                                                          \
	"  sum BLOB NOT NULL,"              /* ids summed, 32 bytes little-endian */       \
	"  PRIMARY KEY (grp, bucket)) WITHOUT ROWID;"                                      \
	"CREATE TRIGGER neg_events_ins AFTER INSERT ON events BEGIN "                       \
	STORE_NEG_BOTH("NEW", "wm_neg_add", "+") " END;"                                   \
	STORE_NEG_TRIGGERS(STORE_NEG_BOTH)                                                 \
	"INSERT INTO neg_agg (grp, bucket, cnt, sum) "                                     \
	"SELECT grp, created_at" STORE_NEG_SHIFT_SQL ", count(*), wm_neg_total(id) "       \
	"FROM events GROUP BY 1, 2;"                                                       \
	"INSERT INTO neg_agg (grp, bucket, cnt, sum) "                                     \
	"SELECT '*', created_at" STORE_NEG_SHIFT_SQL ", count(*), wm_neg_total(id) "       \
	"FROM events GROUP BY 2;"

/*
 * Schema 3 drops the insert trigger on events -- its statement journal
 * doubled the cost of store_insert inside a batch -- and the inserting code
 * counts new events rows itself (both sizes, the row's group and '*'),
 * summed per transaction and added with these upserts at its commit:
 * ?1 group, ?2 bucket, ?3 count, ?4 the ids' sum.
 */
#define STORE_NEG_UPSERT_IN(t)                                                             \
	"INSERT INTO " t " (grp, bucket, cnt, sum) VALUES (?1, ?2, ?3, ?4) "               \
	"ON CONFLICT (grp, bucket) DO UPDATE SET cnt = cnt + excluded.cnt, "               \
	"sum = wm_neg_add(sum, excluded.sum)"
#define STORE_NEG_AGG_UPSERT STORE_NEG_UPSERT_IN("neg_agg")
#define STORE_NEG_FINE_UPSERT STORE_NEG_UPSERT_IN("neg_fine")
#define STORE_NEG_MIGRATION_3 "DROP TRIGGER IF EXISTS neg_events_ins;"

/*
 * Schema 4: the fine aggregates, built from the rows already there; schema
 * 5: the triggers keeping both sizes (the inserting code upserts both).
 * Two steps only because one SQL string of both would pass C's 4095.
 */
#define STORE_NEG_FINE_FILL(src, where)                                                    \
	"INSERT INTO neg_fine (grp, bucket, cnt, sum) SELECT g, b, c, s FROM ("              \
	"SELECT grp AS g, created_at" STORE_NEG_FINE_SHIFT_SQL " AS b, count(*) AS c, "     \
	"wm_neg_total(id) AS s FROM " src " " where " GROUP BY 1, 2 UNION ALL "              \
	"SELECT '*', created_at" STORE_NEG_FINE_SHIFT_SQL ", count(*), wm_neg_total(id) "   \
	"FROM " src " " where " GROUP BY 2) WHERE 1 ON CONFLICT (grp, bucket) DO UPDATE SET " \
	"cnt = cnt + excluded.cnt, sum = wm_neg_add(sum, excluded.sum);"
#define STORE_NEG_MIGRATION_4                                                              \
	"CREATE TABLE neg_fine ("                                                          \
	"  grp TEXT NOT NULL, bucket INTEGER NOT NULL, cnt INTEGER NOT NULL, sum BLOB NOT NULL," \
	"  PRIMARY KEY (grp, bucket)) WITHOUT ROWID;"                                      \
	STORE_NEG_FINE_FILL("events", "WHERE 1")                                           \
	STORE_NEG_FINE_FILL("rejected", "WHERE created_at IS NOT NULL AND grp IS NOT NULL")
#define STORE_NEG_MIGRATION_5                                                              \
	"DROP TRIGGER neg_events_del; DROP TRIGGER neg_rejected_ins;"                      \
	"DROP TRIGGER neg_rejected_del; DROP TRIGGER neg_rejected_upd_old;"                \
	"DROP TRIGGER neg_rejected_upd_new;"                                               \
	STORE_NEG_TRIGGERS(STORE_NEG_BOTH2)

/* Schema 12: an events row's group is a number, grps.gid (store.c), and
 * STORE_GRP_NAME(c) the name of group number c; the aggregates keep names,
 * so the delete trigger on events looks its row's up. */
#define STORE_GRP_NAME(c) "(SELECT name FROM grps WHERE gid = " c ")"
#define STORE_NEG_EVENTS_DEL_12                                                            \
	"CREATE TRIGGER neg_events_del AFTER DELETE ON events BEGIN "                       \
	STORE_NEG_BOTH_G("neg_agg", STORE_NEG_SHIFT_SQL, "OLD", STORE_GRP_NAME("OLD.grp"),   \
	                 "wm_neg_sub", "-")                                                \
	STORE_NEG_BOTH_G("neg_fine", STORE_NEG_FINE_SHIFT_SQL, "OLD", STORE_GRP_NAME("OLD.grp"), \
	                 "wm_neg_sub", "-") " END;"

/* The repair aggregates of the open transaction's inserts, summed in
 * memory, and their search index rows, kept in memory to be written in
 * key order (store.c): written into it now (before a savepoint, so that
 * rolling back to one drops exactly what came after), or forgotten (a
 * rollback to a savepoint).  Commit and rollback do this themselves. */
int store_agg_flush(struct store *s);
void store_agg_drop(struct store *s);
/* Forget what the handle knew of its rows without asking (store.c, struct
 * known): for writes that go around store.c's own (store_test.c). */
void store_known_forget(struct store *s);

/* --- for tests and benchmarks only ---------------------------------------- */

/* The SQL store_events runs for f (into sql, len bytes), so that a test
 * can ask SQLite for its plan.  Returns the variant number. */
int store_events_sql(const struct store_filter *f, char *sql, size_t len);
/* The same for store_search (count: store_search_count's): *sql malloc'd,
 * caller frees.  WM_EINVAL for a query store_search refuses. */
int store_search_sql(const char *query, const char *group, int count, char **sql);

/*
 * The size and the counters of a session, and its cache's bound.  They
 * touch the view's private state, so they live beside it in store_neg.c;
 * the mesh needs none (it reads the size through the storage's ops).
 */
size_t store_neg_size(const struct store_neg *v);
struct store_neg_stats {
	uint64_t buckets;               /* non-empty buckets in scope */
	uint64_t dirs;                  /* buckets whose neg_fine rows were read */
	uint64_t loads;                 /* fine buckets whose items were read */
	uint64_t rows;                  /* item rows read by those loads */
	uint64_t expired;               /* expired items subtracted */
};
void store_neg_get_stats(const struct store_neg *v, struct store_neg_stats *out);
/* For tests: the items v's cache may hold (SN_CACHE_ITEMS, 262,144, from
 * the open), so that a small set meets the bound. */
void store_neg_set_cache(struct store_neg *v, size_t items);

/*
 * The rest is in store_test.c, built into the library wmstore_test that
 * only tests and benchmarks link (store_test_dep), so a node can never call it.
 */

/* Add item rows straight into the events table (no event bytes behind
 * them: kind 0, a zero author, an empty wrapper as raw), as if events of `group` with
 * that created_at and id had been stored; a row whose id is already there
 * is skipped.  The aggregates are kept as for any insert.  Wrap many in
 * store_begin/store_commit.  Nothing here is signed or checked. */
struct store_neg_raw {
	uint64_t created_at;
	uint8_t id[NEG_ID_LEN];
	const char *group;
	uint64_t expires_at;            /* 0 = never */
};
int store_neg_insert_raw(struct store *s, const struct store_neg_raw *rows, size_t n);

/* Nested, unnamed savepoints, inside or outside a transaction (one
 * outside commits on release).  Every store_savepoint is ended by exactly
 * one release or rollback; WM_EINVAL if none is open. */
int store_savepoint(struct store *s);
int store_release(struct store *s);
int store_rollback_savepoint(struct store *s);

#endif
