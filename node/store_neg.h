/*
 * node/store_neg: the negentropy view of the store (struct neg_storage over
 * SQLite), so that repair never reads the whole set to answer a message.
 *
 * The set of a repair scope is (created_at, id) of every event held in its
 * groups -- retracted ones included (their ids are still held) -- and of
 * every remembered lasting refusal that knows its group and created_at, less
 * the events expired at the session's `now` (expires_at != 0 and
 * expires_at <= now).  A scope is "network" alone, a list of groups, or "*"
 * (every group, "network" included).
 *
 * How: store_insert (schema 3; a trigger before) and triggers on deletes
 * from events and on the rejected table keep per-(group, time
 * bucket) aggregates -- item count and id sum mod 2^256 -- in the table
 * neg_agg, with 2^21 ms (~35 min) buckets, plus one row per bucket under the
 * group "*" for all groups together.  A session loads the scope's bucket
 * aggregates once (a few thousand rows), builds prefix sums, and answers
 * fingerprint(i, j) from them plus the two edge buckets; item(i) and
 * lower_bound find their bucket by the prefix counts and load that bucket's
 * items (one index range scan, kept in a small per-session cache).  Events
 * expired but not collected yet (store_collect_expired deletes the others,
 * and their aggregates with them) are listed once per session through the
 * expiry index and subtracted.  A loaded bucket whose items disagree with
 * its aggregate is reported as WM_ESTORE rather than answered wrongly.
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

#define STORE_NEG_BUCKET_SHIFT 21      /* bucket = created_at >> 21 (ms) */
#define STORE_NEG_STR_(x) #x
#define STORE_NEG_STR(x) STORE_NEG_STR_(x)
#define STORE_NEG_SHIFT_SQL " >> " STORE_NEG_STR(STORE_NEG_BUCKET_SHIFT)

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
	uint64_t loads;                 /* buckets whose items were read */
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
 * aggregates of its group and of '*'. */
#define STORE_NEG_BOTH(r, op, sign)                                                        \
	"INSERT INTO neg_agg SELECT g, " r ".created_at" STORE_NEG_SHIFT_SQL ", " sign "1, "                \
	op "(zeroblob(32), " r ".id) FROM (SELECT " r ".grp AS g UNION ALL SELECT '*') "    \
	"WHERE 1 ON CONFLICT (grp, bucket) DO UPDATE SET cnt = cnt " sign " 1, "           \
	"sum = " op "(sum, " r ".id);"
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
	/* the store never updates id, created_at or grp of an events row */        \
	"CREATE TRIGGER neg_events_del AFTER DELETE ON events BEGIN "                       \
	STORE_NEG_BOTH("OLD", "wm_neg_sub", "-") " END;"                                   \
	"CREATE TRIGGER neg_rejected_ins AFTER INSERT ON rejected "                        \
	"WHEN NEW.created_at IS NOT NULL AND NEW.grp IS NOT NULL BEGIN "                   \
	STORE_NEG_BOTH("NEW", "wm_neg_add", "+") " END;"                                   \
	"CREATE TRIGGER neg_rejected_del AFTER DELETE ON rejected "                        \
	"WHEN OLD.created_at IS NOT NULL AND OLD.grp IS NOT NULL BEGIN "                   \
	STORE_NEG_BOTH("OLD", "wm_neg_sub", "-") " END;"                                   \
	"CREATE TRIGGER neg_rejected_upd_old AFTER UPDATE OF id, created_at, grp ON rejected " \
	"WHEN OLD.created_at IS NOT NULL AND OLD.grp IS NOT NULL BEGIN "                   \
	STORE_NEG_BOTH("OLD", "wm_neg_sub", "-") " END;"                                   \
	"CREATE TRIGGER neg_rejected_upd_new AFTER UPDATE OF id, created_at, grp ON rejected " \
	"WHEN NEW.created_at IS NOT NULL AND NEW.grp IS NOT NULL BEGIN "                   \
	STORE_NEG_BOTH("NEW", "wm_neg_add", "+") " END;"                                   \
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
 * Addition (polish): schema 3 drops the insert trigger on events -- its
 * statement journal doubled the cost of store_insert inside a batch -- and
 * the inserting code counts each new events row itself with this upsert,
 * once for the row's group and once for '*':  ?1 group, ?2 created_at, ?3 id.
 */
#define STORE_NEG_AGG_UPSERT                                                               \
	"INSERT INTO neg_agg (grp, bucket, cnt, sum) VALUES (?1, ?2" STORE_NEG_SHIFT_SQL ", 1, ?3) " \
	"ON CONFLICT (grp, bucket) DO UPDATE SET cnt = cnt + 1, sum = wm_neg_add(sum, excluded.sum)"
#define STORE_NEG_MIGRATION_3 "DROP TRIGGER IF EXISTS neg_events_ins;"

#endif
