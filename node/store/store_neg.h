/*
 * node/store_neg: the negentropy view of the store (struct neg_storage over
 * SQLite), so that repair never reads the whole set to answer a message.
 *
 * The set of a repair scope is (created_at, id) of every event held in its
 * groups -- retracted ones included (their ids are still held) -- and of
 * every remembered lasting refusal that knows its group and created_at, less
 * the events and refusals expired at the session's `now` (expires_at != 0
 * and expires_at <= now).  A scope is "network" alone, a list of groups, or "*"
 * (every group, "network" included).
 *
 * How: store_insert (schema 3; a trigger before) and triggers on deletes
 * from events and on the rejected table keep per-(group, time
 * bucket) aggregates -- item count and id sum mod 2^256 -- at two sizes:
 * the table neg_agg with 2^21 ms (~35 min) buckets, and (schema 4)
 * neg_fine with 2^16 ms (~65 s) buckets, 32 to a neg_agg bucket; each with
 * one row per bucket under the group "*" for all groups together.  A
 * session loads the scope's neg_agg rows once (a few thousand rows) and
 * builds prefix sums.  A position inside a bucket is found through that
 * bucket's neg_fine rows (at most 32, loaded when first needed), and only
 * the one fine bucket's items are read (an index range scan); both are
 * kept in a small per-session cache.  So fingerprint(i, j), item(i) and
 * lower_bound read a few dozen rows each however full the store is: at
 * a million events a month, a neg_agg bucket holds ~800 items, a neg_fine
 * one ~25.  Events and refusals expired but not collected yet
 * (store_collect_expired deletes the others, and their aggregates with
 * them) are listed once per session through the expiry indexes and
 * subtracted.  A loaded bucket whose items disagree with
 * its aggregate (or fine rows that disagree with their neg_agg row) is
 * reported as WM_ESTORE rather than answered wrongly.
 *
 * Each session reads through a read-only connection of its own inside one
 * read transaction (WAL snapshot), so the set cannot change under it while
 * the node keeps writing through the store's connection; the connections
 * are the store's readers (store_reader_get), reused from session to
 * session, so a session costs a BEGIN rather than an open.  A file-backed store
 * is required (not ":memory:").
 */
#ifndef WM_STORE_NEG_H
#define WM_STORE_NEG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "negentropy.h"
#include "store.h"

#define STORE_NEG_BUCKET_SHIFT 21      /* neg_agg bucket = created_at >> 21 (ms) */
#define STORE_NEG_FINE_SHIFT 16        /* neg_fine bucket = created_at >> 16 (ms) */
#define STORE_NEG_STR_(x) #x
#define STORE_NEG_STR(x) STORE_NEG_STR_(x)
#define STORE_NEG_SHIFT_SQL " >> " STORE_NEG_STR(STORE_NEG_BUCKET_SHIFT)
#define STORE_NEG_FINE_SHIFT_SQL " >> " STORE_NEG_STR(STORE_NEG_FINE_SHIFT)

struct sqlite3;
struct store_neg;

/*
 * A view of the scope `groups` (n names; a single "*" = every group) as it
 * is now, with events expired at `now` left out.  WM_EINVAL for an empty
 * scope or a bad group name, WM_ESTORE (why filled) if the database cannot
 * be read.  Free with store_neg_close().
 */
int store_neg_open(struct store *s, const char *const *groups, size_t n, uint64_t now,
                   struct store_neg **out, char why[WM_WHY_LEN]);
void store_neg_close(struct store_neg *v);

/* The backend for neg_new(); valid while v lives. */
struct neg_storage store_neg_storage(struct store_neg *v);
size_t store_neg_size(const struct store_neg *v);

/* Counters of the session, for benchmarks and logs. */
struct store_neg_stats {
	uint64_t buckets;               /* non-empty buckets in scope */
	uint64_t dirs;                  /* buckets whose neg_fine rows were read */
	uint64_t loads;                 /* fine buckets whose items were read */
	uint64_t rows;                  /* item rows read by those loads */
	uint64_t expired;               /* expired items subtracted */
};
void store_neg_get_stats(const struct store_neg *v, struct store_neg_stats *out);

/*
 * For store.c: the SQL functions the triggers call (wm_neg_add,
 * wm_neg_sub: 256-bit little-endian sums), registered on every connection
 * that writes, before the schema migration; and that migration step.
 */
int store_neg_register(struct sqlite3 *db);
/* Add (op wm_neg_add, sign +) or remove (wm_neg_sub, -) the row r in the
 * aggregates (table t, bucket shift sh) of its group and of '*'. */
#define STORE_NEG_BOTH_IN(t, sh, r, op, sign)                                              \
	"INSERT INTO " t " SELECT g, " r ".created_at" sh ", " sign "1, "                   \
	op "(zeroblob(32), " r ".id) FROM (SELECT " r ".grp AS g UNION ALL SELECT '*') "    \
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
 * Bench and test only: add item rows straight into the events table (no
 * event bytes behind them: kind 0, a zero author, an empty raw), as if
 * events of `group` with that created_at and id had been stored; a row
 * whose id is already there is skipped.  The triggers maintain the
 * aggregates as for any insert.  Wrap many in store_begin/store_commit.
 * Never in a node: nothing here is signed or checked.
 */
struct store_neg_raw {
	uint64_t created_at;
	uint8_t id[NEG_ID_LEN];
	const char *group;
	uint64_t expires_at;            /* 0 = never */
};
int store_neg_insert_raw(struct store *s, const struct store_neg_raw *rows, size_t n);

/*
 * Schema 3 drops the insert trigger on events -- its statement journal
 * doubled the cost of store_insert inside a batch -- and the inserting code
 * counts each new events row itself with these upserts (both sizes), once
 * for the row's group and once for '*':  ?1 group, ?2 created_at, ?3 id.
 */
#define STORE_NEG_UPSERT_IN(t, sh)                                                         \
	"INSERT INTO " t " (grp, bucket, cnt, sum) VALUES (?1, ?2" sh ", 1, ?3) "           \
	"ON CONFLICT (grp, bucket) DO UPDATE SET cnt = cnt + 1, sum = wm_neg_add(sum, excluded.sum)"
#define STORE_NEG_AGG_UPSERT STORE_NEG_UPSERT_IN("neg_agg", STORE_NEG_SHIFT_SQL)
#define STORE_NEG_FINE_UPSERT STORE_NEG_UPSERT_IN("neg_fine", STORE_NEG_FINE_SHIFT_SQL)
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

#endif
