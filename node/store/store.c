/*
 * node/store/store.c: the node's SQLite database (store.h); the repair view
 * over the same file is store_neg.c, and the two share store_int.h.
 *
 * Two things a reader must know:
 *  - Every statement the hot paths use is prepared once and kept in
 *    struct store.  A callback may call back into the store while a cached
 *    statement is still stepping, so stmt_get() hands out a fresh,
 *    temporary statement whenever the cached one is busy.
 *  - The schema is versioned with PRAGMA user_version.  `migrations` below
 *    holds one step per version (N -> N+1); each runs in its own IMMEDIATE
 *    transaction, so two processes opening the same old file never both
 *    migrate it.  A file newer than this build is refused, never touched.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

/* The events table's indexes, made after its rows by schemas 12, 13 (seq
 * ", seq") and 14 (seq ""): events_grp and events_kind order a group's and
 * a kind's rows by seq, which an index holds anyway as the rowid; named,
 * it was held twice (schema 14). */
#define EVENTS_INDEXES(seq)                                                             \
	"CREATE INDEX events_id ON events(substr(id, 1, 8));"                           \
	"CREATE INDEX events_time ON events(created_at, id);"                           \
	"CREATE INDEX events_grp ON events(grp" seq ");"                                \
	"CREATE INDEX events_kind ON events(kind" seq ");"                              \
	"CREATE INDEX events_author ON events(author, created_at);"                     \
	"CREATE INDEX events_expiry ON events(expires_at) WHERE expires_at != 0;"       \
	"CREATE INDEX events_retracted ON events(seq) WHERE raw IS NULL;"               \
	"CREATE INDEX events_grp_time ON events(grp, created_at);"                      \
	"CREATE INDEX events_kind_time ON events(kind, created_at);"                    \
	"CREATE INDEX events_search ON events(search_key) WHERE search_key IS NOT NULL;"

/* Version N -> N+1 is migrations[N]. */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema. */
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"  /* never reused: API cursor */
	"  id BLOB NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  grp TEXT NOT NULL,"
	"  author BLOB NOT NULL,"
	"  expires_at INTEGER NOT NULL DEFAULT 0,"
	"  raw BLOB,"                               /* NULL once retracted */
	"  retracted_by BLOB,"
	"  received_at INTEGER NOT NULL);"
	"CREATE INDEX events_time ON events(created_at, id);"
	"CREATE INDEX events_grp ON events(grp, seq);"
	"CREATE INDEX events_kind ON events(kind, seq);"
	"CREATE INDEX events_author ON events(author, created_at);"
	"CREATE INDEX events_expiry ON events(expires_at) WHERE expires_at != 0;"
	"CREATE TABLE refs ("
	"  seq INTEGER NOT NULL,"                  /* events.seq of the referrer */
	"  pos INTEGER NOT NULL,"
	"  ref BLOB NOT NULL,"
	"  PRIMARY KEY (seq, pos)) WITHOUT ROWID;"
	"CREATE INDEX refs_ref ON refs(ref);"
	"CREATE TABLE certs ("
	"  event_id BLOB PRIMARY KEY,"
	"  issuer BLOB NOT NULL,"
	"  subject BLOB NOT NULL,"
	"  role INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  groups TEXT NOT NULL,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX certs_subject ON certs(subject);"
	"CREATE INDEX certs_issuer ON certs(issuer);"
	"CREATE TABLE revocations ("
	"  event_id BLOB PRIMARY KEY,"
	"  issuer BLOB NOT NULL,"                  /* the revoke's author */
	"  subject BLOB NOT NULL,"
	"  at INTEGER NOT NULL);"
	"CREATE INDEX revocations_subject ON revocations(subject);"
	"CREATE TABLE rejected ("
	"  id BLOB PRIMARY KEY,"
	"  code INTEGER NOT NULL,"
	"  why TEXT NOT NULL,"
	"  at INTEGER NOT NULL);"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	/* retractions stored before their target; almost always empty, so
	 * checking it on every insert costs next to nothing */
	"CREATE TABLE waiting ("
	"  target BLOB NOT NULL,"
	"  retract BLOB NOT NULL,"
	"  PRIMARY KEY (target, retract)) WITHOUT ROWID;"
	/* rowid = events.seq; the text of public events only.  detail=none
	 * halves the cost of indexing; searches use LIKE, which FTS5 answers
	 * from the trigrams and then checks against the stored text. */
	"CREATE VIRTUAL TABLE events_fts USING fts5(body, tokenize='trigram', detail=none);",
	/* 1 -> 2: created_at and group of remembered refusals, and the
	 * per-time-bucket aggregates of the negentropy view, kept by
	 * triggers (store_int.h). */
	STORE_NEG_MIGRATION,
	/* 2 -> 3: no insert trigger on events; store_insert keeps neg_agg. */
	STORE_NEG_MIGRATION_3,
	/* 3 -> 4: the fine (~65 s) aggregates beside neg_agg, so that repair
	 * reads a few dozen rows per boundary, not a whole ~35 min bucket;
	 * the retracted rows indexed, for store_counts; refusals' expiry. */
	STORE_NEG_MIGRATION_4
	"CREATE INDEX events_retracted ON events(seq) WHERE raw IS NULL;"
	/* refusals expire with the event refused (0 = never or unknown) */
	"ALTER TABLE rejected ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX rejected_expiry ON rejected(expires_at) WHERE expires_at != 0;",
	/* 4 -> 5: the triggers keep neg_fine too. */
	STORE_NEG_MIGRATION_5,
	/* 5 -> 6: event format 2; a retracted event keeps its withheld form
	 * [payload, sig] (raw stays NULL once retracted).  Only a store that
	 * holds no events gets here (migrate: format 1 events cannot be
	 * converted). */
	"ALTER TABLE events ADD COLUMN withheld BLOB;",
	/* 6 -> 7: revocations judged by ancestry.  Each event's chain link
	 * (NULL: the first of a branch; rows stored before stay NULL, so a
	 * walk back stops there); events hidden by revocations (store_hide):
	 * their bytes, and the revokes that decided each, so that a change
	 * to one of those revokes judges them again (the id stays in
	 * `rejected` too, which makes repair count it as held); per revoked
	 * author and revoker, the ids reached from its keep lists, and the
	 * links not held yet where a walk stopped. */
	"ALTER TABLE events ADD COLUMN prev BLOB;"
	"CREATE TABLE hidden ("
	"  id BLOB PRIMARY KEY,"
	"  author BLOB NOT NULL,"
	"  grp TEXT NOT NULL,"
	"  prev BLOB,"
	"  raw BLOB NOT NULL,"
	"  expires_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX hidden_expiry ON hidden(expires_at) WHERE expires_at != 0;"
	"CREATE TABLE hidden_by ("
	"  revoke BLOB NOT NULL,"
	"  id BLOB NOT NULL,"
	"  PRIMARY KEY (revoke, id)) WITHOUT ROWID;"
	"CREATE INDEX hidden_by_id ON hidden_by(id);"
	"CREATE TABLE kept ("
	"  author BLOB NOT NULL,"
	"  signer BLOB NOT NULL,"
	"  id BLOB NOT NULL,"
	"  PRIMARY KEY (author, signer, id)) WITHOUT ROWID;"
	"CREATE TABLE gaps ("
	"  id BLOB NOT NULL,"
	"  author BLOB NOT NULL,"
	"  signer BLOB NOT NULL,"
	"  grp TEXT NOT NULL,"
	"  PRIMARY KEY (id, author, signer)) WITHOUT ROWID;",
	/* 7 -> 8: the feed's newest-first orders of a group and of a kind,
	 * read from an index in order and stopped at the limit, not sorted
	 * (issue 11: 1.3 s at a million events); events of one millisecond
	 * by seq, which the index holds anyway (an id would add 33 bytes an
	 * event to each).  events_grp and events_kind (by seq) serve the
	 * API's arrival order. */
	"CREATE INDEX events_grp_time ON events(grp, created_at);"
	"CREATE INDEX events_kind_time ON events(kind, created_at);",
	/* 8 -> 9: search through an index for words of any length, newest
	 * first, stopping at a page (store_bigram.c): the text once, in
	 * search_text under a key ordered by time (store_int.h), its bigrams
	 * in a contentless index under the same key; each event notes its
	 * key.  Replaces the trigram index, which kept a second copy of the
	 * text and left one- and two-character words to a scan.  A key two
	 * events share here (the same millisecond and 4 bits of id) goes to
	 * the first, -seq to the others.  No token counts (columnsize=0:
	 * nothing is ranked) and no prefix index: a one-character word reads
	 * the lists of every pair it starts (15 ms at a million events),
	 * where a prefix index cost 61 bytes an event (BENCHMARKS.md). */
	"ALTER TABLE events ADD COLUMN search_key INTEGER;"
	"CREATE TABLE search_text ("
	"  key INTEGER PRIMARY KEY,"
	"  seq INTEGER NOT NULL,"                  /* events.seq */
	"  body TEXT NOT NULL);"
	"CREATE VIRTUAL TABLE search_idx USING fts5(body, content='', columnsize=0, detail=none, tokenize='wm_bigram');"
	"INSERT INTO search_text (key, seq, body) SELECT CASE WHEN row_number() OVER (PARTITION BY k"
	"  ORDER BY seq) = 1 THEN k ELSE -seq END, seq, body FROM (SELECT wm_search_key(e.created_at, e.id)"
	"  AS k, e.seq AS seq, f.body AS body FROM events_fts f JOIN events e ON e.seq = f.rowid);"
	"UPDATE events SET search_key = t.key FROM search_text t WHERE t.seq = events.seq;"
	"INSERT INTO search_idx (rowid, body) SELECT key, body FROM search_text;"
	"DROP TABLE events_fts;",
	/* 9 -> 10: search folds widths and case (NFKC: ３栋 is 3栋) and finds
	 * a bulletin's or alert's category by its name and labels
	 * (store_bigram.c): their text again with the category line, then
	 * the index again from the text, folded by the tokenizer. */
	"UPDATE search_text SET body = coalesce(wm_search_body(e.raw), search_text.body) FROM events e"
	"  WHERE e.seq = search_text.seq AND e.kind IN (1, 2) AND e.raw IS NOT NULL;"
	"INSERT INTO search_idx (search_idx) VALUES ('delete-all');"
	"INSERT INTO search_idx (rowid, body) SELECT key, body FROM search_text;",
	/* 10 -> 11: the search text kept once, in raw (issue 11: search_text
	 * was 122 of 933 bytes an event).  The index finds an event by its
	 * key; the check of a longer word and the delete of an index row read
	 * the text from raw (wm_search_body, wm_search_has), so the index is
	 * made again from raw: a delete must give the very text indexed. */
	"CREATE INDEX events_search ON events(search_key) WHERE search_key IS NOT NULL;"
	"DROP TABLE search_text;"
	"INSERT INTO search_idx (search_idx) VALUES ('delete-all');"
	"INSERT INTO search_idx (rowid, body) SELECT search_key, wm_search_body(raw) FROM events"
	"  WHERE search_key IS NOT NULL ORDER BY search_key;",
	/* 11 -> 12: authors and groups as small integers, and the id's index
	 * on its first 8 bytes (issue 11: the store at 2 x the event bytes).
	 * An author's key was 33 bytes in each row and in events_author, a
	 * group's name ~15 in each row, events_grp and events_grp_time; each
	 * is kept once, in `authors` and `grps` (it stays there when its
	 * events are gone: a few bytes, and a number is never given to
	 * another key or name).  The id's
	 * UNIQUE index copied all 33 bytes; events_id holds 9 and the row
	 * compares the rest (STORE_ID_IS), so the store checks for a
	 * duplicate itself before an insert.  The table is made again (a
	 * column's type cannot change), in seq order, the indexes after its
	 * rows (sorted once, not grown row by row); its AUTOINCREMENT
	 * counter moves with it, so no seq is given twice. */
	"CREATE TABLE authors (aid INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE);"
	"INSERT INTO authors (key) SELECT DISTINCT author FROM events ORDER BY author;"
	"CREATE TABLE grps (gid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
	"INSERT INTO grps (name) SELECT DISTINCT grp FROM events ORDER BY grp;"
	"CREATE TABLE events_12 ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  grp INTEGER NOT NULL,"                  /* grps.gid */
	"  author INTEGER NOT NULL,"               /* authors.aid */
	"  expires_at INTEGER NOT NULL DEFAULT 0,"
	"  raw BLOB,"
	"  retracted_by BLOB,"
	"  received_at INTEGER NOT NULL,"
	"  withheld BLOB,"
	"  prev BLOB,"
	"  search_key INTEGER);"
	"INSERT INTO events_12 SELECT seq, id, created_at, kind, (SELECT gid FROM grps g WHERE g.name = e.grp),"
	"  (SELECT aid FROM authors a WHERE a.key = e.author), expires_at, raw, retracted_by, received_at,"
	"  withheld, prev, search_key FROM events e ORDER BY seq;"
	"DELETE FROM sqlite_sequence WHERE name = 'events_12';"
	"UPDATE sqlite_sequence SET name = 'events_12' WHERE name = 'events';"
	"DROP TABLE events;"
	"ALTER TABLE events_12 RENAME TO events;"
	EVENTS_INDEXES(", seq")
	STORE_NEG_EVENTS_DEL_12,
	/* 12 -> 13: the events row without its search key, refs_ref on the
	 * ref's first 8 bytes (issue 11: the store at 2 x the event bytes).
	 * The key took 6 bytes in each row and is created_at's with a slot
	 * (store_int.h): the row keeps the slot, search_key is a virtual
	 * column, stored in events_search alone.  refs_ref copied all 32
	 * bytes of each ref; the rows of a ref compare the rest, as events_id
	 * does.  The table is made again as schema 12 made it (a column
	 * cannot become generated), which packs it. */
	"CREATE TABLE events_13 ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  grp INTEGER NOT NULL,"                  /* grps.gid */
	"  author INTEGER NOT NULL,"               /* authors.aid */
	"  expires_at INTEGER NOT NULL DEFAULT 0,"
	"  raw BLOB,"
	"  retracted_by BLOB,"
	"  received_at INTEGER NOT NULL,"
	"  withheld BLOB,"
	"  prev BLOB,"
	"  search_slot INTEGER,"
	"  search_key INTEGER AS (" STORE_SEARCH_KEY_SQL ") VIRTUAL);"
	/* slot = key - the key's base: the same key, whatever it was */
	"INSERT INTO events_13 (seq, id, created_at, kind, grp, author, expires_at, raw, retracted_by, received_at,"
	"  withheld, prev, search_slot) SELECT seq, id, created_at, kind, grp, author, expires_at, raw, retracted_by,"
	"  received_at, withheld, prev, CASE WHEN search_key < 0 THEN search_key"
	"  ELSE search_key - " STORE_SEARCH_BASE_SQL " END FROM events ORDER BY seq;"
	"DELETE FROM sqlite_sequence WHERE name = 'events_13';"
	"UPDATE sqlite_sequence SET name = 'events_13' WHERE name = 'events';"
	"DROP TABLE events;"
	"ALTER TABLE events_13 RENAME TO events;"
	EVENTS_INDEXES(", seq")
	STORE_NEG_EVENTS_DEL_12
	"DROP INDEX refs_ref;"
	"CREATE INDEX refs_ref ON refs(substr(ref, 1, 8));",
	/* 13 -> 14: raw without the author's key, events_grp and events_kind
	 * without a second seq (issue 11: the store at 2 x the event bytes).
	 * The key is kept once, in authors, and took 32 bytes of each row's
	 * raw (store_raw.c): a row of ~386 bytes fitted 21 to an 8 KiB page,
	 * one of ~354 fits 22 or 23.  The two indexes held (grp, seq, rowid),
	 * and the rowid is the seq (EVENTS_INDEXES).  The table is made again
	 * as schema 13 made it, which packs it. */
	"CREATE TABLE events_14 ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  grp INTEGER NOT NULL,"                  /* grps.gid */
	"  author INTEGER NOT NULL,"               /* authors.aid */
	"  expires_at INTEGER NOT NULL DEFAULT 0,"
	"  raw BLOB,"                              /* without the author's key */
	"  retracted_by BLOB,"
	"  received_at INTEGER NOT NULL,"
	"  withheld BLOB,"
	"  prev BLOB,"
	"  search_slot INTEGER,"
	"  search_key INTEGER AS (" STORE_SEARCH_KEY_SQL ") VIRTUAL);"
	"INSERT INTO events_14 (seq, id, created_at, kind, grp, author, expires_at, raw,"
	"  retracted_by, received_at, withheld, prev, search_slot) SELECT seq, id, created_at,"
	"  kind, grp, author, expires_at,"
	"  wm_raw_cut(raw, (SELECT key FROM authors a WHERE a.aid = e.author)),"
	"  retracted_by, received_at, withheld, prev, search_slot FROM events e ORDER BY seq;"
	"DELETE FROM sqlite_sequence WHERE name = 'events_14';"
	"UPDATE sqlite_sequence SET name = 'events_14' WHERE name = 'events';"
	"DROP TABLE events;"
	"ALTER TABLE events_14 RENAME TO events;"
	EVENTS_INDEXES("")
	STORE_NEG_EVENTS_DEL_12,
};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION, "one migration step per version");

/* a row's bytes are made whole from raw and author in C (row_raw) */
#define EV_COLS "seq, id, kind, created_at, expires_at, " STORE_GRP_NAME("grp") ", raw, withheld," \
	" author"
/* the rows of group p */
#define GRP_IS(c, p) c " = (SELECT gid FROM grps WHERE name = " p ")"
/* An events row's author's key, and the rows of the author of key p. */
#define AUTHOR_KEY "(SELECT key FROM authors WHERE aid = author)"
#define AUTHOR_IS(p) "author = (SELECT aid FROM authors WHERE key = " p ")"
/* An events row's wire bytes in SQL (store_raw.c); C reads them with row_raw. */
#define RAW_WHOLE "wm_raw(raw, " AUTHOR_KEY ")"
#define CERT_COLS "event_id, issuer, subject, role, name, groups, not_before, not_after, created_at"

enum stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_DATA_VERSION, ST_ANY_WAITING,
	ST_INSERT, ST_INSERT_REF, ST_INSERT_IDX, ST_KEY_TAKEN, ST_SEARCH_SLOTS, ST_SET_KEY,
	ST_HAS, ST_PRE_INSERT, ST_AUTHOR_ADD, ST_AUTHOR_KEY, ST_GRP_ADD, ST_LOOKUP, ST_GET, ST_INFO,
	ST_REFERRING, ST_ARRIVALS, ST_BY_AUTHOR,
	ST_CERTS_OF, ST_CERTS_BY, ST_ADD_CERT, ST_ADD_REVOKE, ST_REVOKED_BY, ST_REVOKES_OF,
	ST_SEQ_OF, ST_RAW_OF, ST_RETRACT, ST_DEL_IDX, ST_DEL_REFS, ST_DEL_EVENT, ST_DEL_CERT, ST_DEL_REVOKE,
	ST_REMEMBER, ST_WAS_REJECTED, ST_META_GET, ST_META_SET, ST_COUNTS, ST_PREFIX,
	ST_EXP_IDX, ST_EXP_REFS, ST_EXP_EVENTS, ST_EXP_REJECTED,
	ST_WAIT, ST_WAITING, ST_UNWAIT, ST_UNWAIT_RETRACT, ST_WAIT_EXPIRED,
	ST_NEG_AGG, ST_NEG_FINE,
	ST_HIDE, ST_HIDE_BY, ST_HIDE_BY_CHAIN, ST_HIDDEN_AUTHOR, ST_HIDDEN_BY, ST_UNHIDE, ST_UNHIDE_BY, ST_UNHIDE_REJ,
	ST_LINK, ST_KEPT_ADD, ST_IS_KEPT, ST_GAP_ADD, ST_GAPS_AT, ST_GAP_DEL,
	ST_EXP_HIDDEN, ST_EXP_HIDDEN_BY,
	ST__COUNT
};

/* Expired events are collected, except certificates and revocations: they
 * are the record that older events are judged by.  SQL text needs the two
 * kinds as digits, which an enum cannot give; the check keeps the digits
 * those of proto/event.h. */
#define SQL_KIND_CERT 7
#define SQL_KIND_REVOKE 8
_Static_assert(SQL_KIND_CERT == KIND_CERT && SQL_KIND_REVOKE == KIND_REVOKE,
               "the kinds never collected are proto/event.h's cert and revoke");
#define EXPIRED_WHERE "expires_at != 0 AND expires_at <= ?1 AND kind NOT IN (" \
	STORE_STR(SQL_KIND_CERT) ", " STORE_STR(SQL_KIND_REVOKE) ")"

static const char *const stmt_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_ANY_WAITING] = "SELECT EXISTS (SELECT 1 FROM waiting)",
	[ST_INSERT] = "INSERT INTO events (id, created_at, kind, grp, author, expires_at, raw, received_at,"
	              " prev, search_slot) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_INSERT_REF] = "INSERT OR IGNORE INTO refs (seq, pos, ref) VALUES (?1, ?2, ?3)",
	[ST_INSERT_IDX] = "INSERT INTO search_idx (rowid, body) VALUES (?1, ?2)",
	[ST_KEY_TAKEN] = "SELECT 1 FROM events WHERE search_key = ?1",
	[ST_SEARCH_SLOTS] = "SELECT search_key FROM events WHERE search_key BETWEEN ?1 AND ?2 ORDER BY search_key",
	[ST_SET_KEY] = "UPDATE events SET search_slot = ?2 WHERE seq = ?1",      /* -seq */
	[ST_HAS] = "SELECT 1 FROM events WHERE " STORE_ID_IS("", "?1"),
	/* before an insert, in one statement: a duplicate (unless ?4 says the
	 * handle knows it is not held)?  the author's and the group's numbers,
	 * if they have one */
	[ST_PRE_INSERT] = "SELECT CASE WHEN ?4 THEN 0 ELSE EXISTS (SELECT 1 FROM events WHERE "
	                  STORE_ID_IS("", "?1") ") END,"
	                  " (SELECT aid FROM authors WHERE key = ?2), (SELECT gid FROM grps WHERE name = ?3)",
	[ST_AUTHOR_ADD] = "INSERT INTO authors (key) VALUES (?1)",
	[ST_AUTHOR_KEY] = "SELECT key FROM authors WHERE aid = ?1",
	[ST_GRP_ADD] = "INSERT INTO grps (name) VALUES (?1)",
	/* held first, as ingest asks; the second probe only when not held */
	[ST_LOOKUP] = "SELECT 1, 0, NULL FROM events WHERE " STORE_ID_IS("", "?1")
	              " UNION ALL SELECT 2, code, why FROM rejected WHERE id = ?1 LIMIT 1",
	[ST_GET] = "SELECT raw, author, withheld FROM events WHERE " STORE_ID_IS("", "?1"),
	[ST_INFO] = "SELECT seq, kind, created_at, expires_at, " AUTHOR_KEY ", " STORE_GRP_NAME("grp") ","
	            " raw IS NULL FROM events"
	            " WHERE " STORE_ID_IS("", "?1"),
	[ST_REFERRING] = "SELECT " EV_COLS " FROM events WHERE seq IN (SELECT seq FROM refs WHERE " STORE_REF_IS("?1")
	                 ") ORDER BY seq",
	[ST_ARRIVALS] = "SELECT " EV_COLS ", received_at FROM events WHERE " AUTHOR_IS("?1") " ORDER BY seq",
	[ST_BY_AUTHOR] = "SELECT " EV_COLS " FROM events WHERE " AUTHOR_IS("?1") " AND created_at >= ?2"
	                 " ORDER BY created_at, id",
	[ST_CERTS_OF] = "SELECT " CERT_COLS " FROM certs WHERE subject = ?1 ORDER BY created_at, event_id",
	[ST_CERTS_BY] = "SELECT " CERT_COLS " FROM certs WHERE issuer = ?1 ORDER BY created_at, event_id",
	[ST_ADD_CERT] = "INSERT OR IGNORE INTO certs (" CERT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_ADD_REVOKE] = "INSERT OR IGNORE INTO revocations (event_id, issuer, subject, at) VALUES (?1, ?2, ?3, ?4)",
	[ST_REVOKED_BY] = "SELECT 1 FROM revocations WHERE subject = ?1 AND issuer = ?2 LIMIT 1",
	[ST_REVOKES_OF] = "SELECT event_id FROM revocations WHERE subject = ?1 ORDER BY event_id",
	[ST_SEQ_OF] = "SELECT seq, raw IS NULL FROM events WHERE " STORE_ID_IS("", "?1"),
	[ST_RAW_OF] = "SELECT raw, author FROM events WHERE seq = ?1",
	[ST_RETRACT] = "UPDATE events SET raw = NULL, withheld = ?3, retracted_by = ?2, search_slot = NULL"
	               " WHERE seq = ?1",
	/* the contentless index forgets a row given the text it was given */
	[ST_DEL_IDX] = "INSERT INTO search_idx (search_idx, rowid, body) SELECT 'delete', search_key,"
	               " wm_search_body(raw) FROM events WHERE seq = ?1 AND search_key IS NOT NULL",
	[ST_DEL_REFS] = "DELETE FROM refs WHERE seq = ?1",
	[ST_DEL_EVENT] = "DELETE FROM events WHERE seq = ?1",
	[ST_DEL_CERT] = "DELETE FROM certs WHERE event_id = ?1",
	[ST_DEL_REVOKE] = "DELETE FROM revocations WHERE event_id = ?1",
	[ST_REMEMBER] = "INSERT INTO rejected (id, code, why, at, created_at, grp, expires_at) "
	                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
	                "ON CONFLICT (id) DO UPDATE SET code = excluded.code, why = excluded.why, at = excluded.at,"
	                " expires_at = CASE WHEN rejected.created_at IS NULL THEN excluded.expires_at"
	                " ELSE rejected.expires_at END,"
	                " created_at = coalesce(rejected.created_at, excluded.created_at),"
	                " grp = coalesce(rejected.grp, excluded.grp)",
	[ST_WAS_REJECTED] = "SELECT 2, code, why FROM rejected WHERE id = ?1",      /* STORE_REFUSED */
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
	                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	/* without reading the events table (a full scan is ~1 s at a million
	 * events): its rows are the repair aggregates' '*' count less the
	 * refusals counted there; the retracted ones have a partial index */
	[ST_COUNTS] = "SELECT (SELECT total(cnt) FROM neg_agg WHERE grp = '*') - (SELECT count(*) FROM "
	              "rejected WHERE created_at IS NOT NULL AND grp IS NOT NULL) - r, r,"
	              " (SELECT count(*) FROM rejected), (SELECT count(*) FROM certs)"
	              " FROM (SELECT count(*) AS r FROM events WHERE raw IS NULL)",
	/* two ids or fewer between ?1 and ?2, in any order: one is an answer */
	[ST_PREFIX] = "SELECT id FROM events WHERE substr(id, 1, 8) BETWEEN substr(?1, 1, 8) AND substr(?2, 1, 8)"
	              " AND id BETWEEN ?1 AND ?2 LIMIT 2",
	[ST_EXP_IDX] = "INSERT INTO search_idx (search_idx, rowid, body) SELECT 'delete', search_key,"
	               " wm_search_body(raw) FROM events WHERE search_key IS NOT NULL AND " EXPIRED_WHERE,
	[ST_EXP_REFS] = "DELETE FROM refs WHERE seq IN (SELECT seq FROM events WHERE " EXPIRED_WHERE ")",
	[ST_EXP_EVENTS] = "DELETE FROM events WHERE " EXPIRED_WHERE,
	[ST_EXP_REJECTED] = "DELETE FROM rejected WHERE expires_at != 0 AND expires_at <= ?1",
	[ST_WAIT] = "INSERT OR IGNORE INTO waiting (target, retract) VALUES (?1, ?2)",
	[ST_WAITING] = "SELECT e.seq, e.id, e.kind, e.created_at, e.expires_at, " STORE_GRP_NAME("e.grp") ","
	               " e.raw, e.withheld, e.author"
	               " FROM waiting w JOIN events e ON " STORE_ID_IS("e.", "w.retract") " WHERE w.target = ?1"
	               " ORDER BY e.seq",
	[ST_UNWAIT] = "DELETE FROM waiting WHERE target = ?1",
	[ST_UNWAIT_RETRACT] = "DELETE FROM waiting WHERE retract = ?1",
	[ST_WAIT_EXPIRED] = "SELECT w.retract FROM waiting w JOIN events e ON " STORE_ID_IS("e.", "w.retract")
	                    " WHERE e.received_at <= ?1",
	[ST_HIDE] = "INSERT OR REPLACE INTO hidden (id, author, grp, prev, raw, expires_at)"
	            " SELECT id, " AUTHOR_KEY ", " STORE_GRP_NAME("grp") ", prev, " RAW_WHOLE ","
	            " expires_at FROM events"
	            " WHERE " STORE_ID_IS("", "?1") " AND raw IS NOT NULL",
	[ST_HIDE_BY] = "INSERT OR IGNORE INTO hidden_by (revoke, id) VALUES (?2, ?1)",
	/* every revocation that counts against the author's certs or its
	 * issuers' today: any of them may be what refuses the event */
	[ST_HIDE_BY_CHAIN] = "INSERT OR IGNORE INTO hidden_by (revoke, id) SELECT event_id, ?1 FROM revocations"
	                     " WHERE subject = ?2 OR subject IN (SELECT issuer FROM certs WHERE subject = ?2)",
	[ST_HIDDEN_AUTHOR] = "SELECT author FROM hidden WHERE id = ?1",
	[ST_HIDDEN_BY] = "SELECT h.id, h.raw FROM hidden_by b JOIN hidden h ON h.id = b.id WHERE b.revoke = ?1"
	                 " ORDER BY h.id",
	[ST_UNHIDE] = "DELETE FROM hidden WHERE id = ?1",
	[ST_UNHIDE_BY] = "DELETE FROM hidden_by WHERE id = ?1",
	[ST_UNHIDE_REJ] = "DELETE FROM rejected WHERE id = ?1",
	[ST_LINK] = "SELECT " AUTHOR_KEY ", " STORE_GRP_NAME("grp") ", expires_at, prev FROM events"
	            " WHERE " STORE_ID_IS("", "?1")
	            " UNION ALL"
	            " SELECT author, grp, expires_at, prev FROM hidden WHERE id = ?1 LIMIT 1",
	[ST_KEPT_ADD] = "INSERT OR IGNORE INTO kept (author, signer, id) VALUES (?1, ?2, ?3)",
	[ST_IS_KEPT] = "SELECT 1 FROM kept WHERE author = ?1 AND signer = ?2 AND id = ?3 UNION ALL"
	               " SELECT 1 FROM gaps WHERE id = ?3 AND author = ?1 AND signer = ?2 LIMIT 1",
	[ST_GAP_ADD] = "INSERT OR IGNORE INTO gaps (id, author, signer, grp) VALUES (?1, ?2, ?3, ?4)",
	[ST_GAPS_AT] = "SELECT author, signer, grp FROM gaps WHERE id = ?1 AND author = ?2",
	[ST_GAP_DEL] = "DELETE FROM gaps WHERE id = ?1",
	[ST_EXP_HIDDEN] = "DELETE FROM hidden WHERE expires_at != 0 AND expires_at <= ?1",
	[ST_EXP_HIDDEN_BY] = "DELETE FROM hidden_by WHERE id NOT IN (SELECT id FROM hidden)",
	[ST_NEG_AGG] = STORE_NEG_AGG_UPSERT,
	[ST_NEG_FINE] = STORE_NEG_FINE_UPSERT,
};

/*
 * The repair aggregates of the rows inserted in the open transaction,
 * summed here and upserted once per (table, group, bucket) when it commits
 * (agg_flush): four upserts an event cost 7.6 us at import (issue 11).  The
 * sums only add, so rows the delete triggers subtract meanwhile come out
 * right whatever the order.  A rollback drops them with the rows they count.
 */
struct agg_sum {
	uint64_t bucket;                /* created_at >> the table's shift */
	uint32_t grp;                   /* index into agg_pending.grps */
	uint32_t cnt;                   /* 0: an empty slot */
	uint8_t fine;                   /* neg_fine, else neg_agg */
	struct neg_acc sum;
};
struct agg_pending {
	struct agg_sum *slot;           /* open addressing; cap a power of two */
	size_t cap, n;
	char **grps;                    /* the groups summed, '*' among them */
	size_t ngrps;
};

/*
 * The search index rows of the open transaction, written in key order when
 * it commits (idx_flush).  FTS5 writes its pending terms out as a new
 * segment whenever a row comes with a rowid below the last one, and keys
 * follow created_at, which a catch-up or a bundle brings in any order: one
 * segment (and its merges) for every other event, 200,000 instructions an
 * event in a daemon's catch-up (BENCHMARKS.md).  In key order a
 * transaction makes one segment.  Anything else that reads or deletes in
 * the index writes them first; a rollback drops them with their rows.
 */
struct idx_row {
	sqlite3_int64 key;
	char *text;
	size_t len;
};
struct idx_pending {
	struct idx_row *v;
	size_t n, cap;
};

/* Idle reader connections kept for repair sessions (a client and a server
 * session at once is the usual peak; more may be open, and are closed when
 * given back).  Few, because the simulator runs hundreds of stores. */
#define STORE_READERS_IDLE 2
#define STORE_META_CACHED 8     /* meta keys remembered per handle */
#define STORE_KEYS_CACHED 64    /* authors' keys remembered per handle, by number */

/* store_events() variants: group? x kind? x order x except?, built on first use. */
#define N_EV_VARIANTS 16

/*
 * What this handle found and takes as still true without asking SQLite
 * again (BENCHMARKS.md "One duplicate lookup"): ids store_lookup found
 * neither held nor refused, so that store_insert does not look for them a
 * second time (nor store_lookup inside a write transaction), and that no
 * retract waits for its target, so that store_waiting_retracts does not
 * run its join for every event.  Rows come into events, rejected and
 * waiting only through this connection's own inserts, each of which
 * forgets what it makes untrue, or through another connection's commit.
 * Another connection commits only while this one holds no write
 * transaction, and every insert is made inside one; PRAGMA data_version
 * (other connections' commits) read as each transaction begins, against
 * its value at the last begin, says whether one came since.  A rollback
 * may bring back rows this connection deleted: everything is forgotten,
 * as on any SQLite error.
 */
/* slots, 2 MB; full, everything is forgotten.  Bundle import looks up a
 * batch (10,000) while the one before is still to be stored: 32,768 slots
 * (16,384 ids) lost 55% of a 30,000-event import's ids */
#define STORE_KNOWN_MAX 65536
struct known {
	uint8_t (*ids)[WM_ID_LEN];      /* open addressing, cap a power of two; all zero: free */
	size_t cap, n;
	uint64_t mul;                   /* odd, random: ids chosen to collide do not */
	int no_waiting;                 /* the waiting table is empty */
	sqlite3_int64 version;          /* PRAGMA data_version at the last begin; -1 none */
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];            /* cached, prepared on first use */
	sqlite3_stmt *ev_st[N_EV_VARIANTS];     /* store_events() variants */
	int durable;                            /* synchronous = FULL */
	char err[WM_WHY_LEN];                   /* last SQLite error, for logs */
	/* the last event store_delete removed, for store_remember_rejected */
	struct store_info gone;
	uint8_t gone_id[WM_ID_LEN];
	int gone_valid;
	/* idle read-only connections for store_neg sessions (store_reader_get) */
	sqlite3 *readers[STORE_READERS_IDLE];
	size_t nreaders;
	/* meta values read or written through this handle (store_meta_get) */
	struct meta_cached { char key[32]; char *val; } meta[STORE_META_CACHED];
	size_t nmeta;
	/* authors' keys by number (author_key), for the rows' bytes */
	struct key_cached { sqlite3_int64 aid; uint8_t key[WM_PUB_LEN]; } keys[STORE_KEYS_CACHED];
	int64_t inserted_seq;                   /* the row the last store_insert added */
	struct agg_pending agg;                 /* repair aggregates not written yet */
	struct idx_pending idx;                 /* search index rows not written yet */
	struct known known;                     /* what the handle need not ask again */
};

/* --- helpers ---------------------------------------------------------------- */

/* The cached entry of key (NULL if none); val NULL = known absent. */
static struct meta_cached *meta_find(struct store *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->nmeta; i++)
		if (strcmp(s->meta[i].key, key) == 0)
			return &s->meta[i];
	return NULL;
}

/* Remember key = val (NULL: absent); silently not when full or too long. */
static void meta_remember(struct store *s, const char *key, const char *val)
{
	struct meta_cached *m = meta_find(s, key);
	char *copy = NULL;

	if (strlen(key) >= sizeof(m->key) || (val != NULL && (copy = strdup(val)) == NULL))
		return;
	if (m == NULL) {
		if (s->nmeta == STORE_META_CACHED) {
			free(copy);
			return;
		}
		m = &s->meta[s->nmeta++];
		snprintf(m->key, sizeof(m->key), "%s", key);
	} else {
		free(m->val);
	}
	m->val = copy;
}

/* Back from a column: a negative value (none of ours) reads as 0. */
static uint64_t i2u(sqlite3_int64 v)
{
	return v < 0 ? 0 : (uint64_t)v;
}


/* SQLite's message, and the system's where the file system failed it
 * ("disk I/O error (No space left on device)"): the operator's clue. */
static const char *sql_reason(sqlite3 *db, char *buf, size_t len)
{
	int code = db ? sqlite3_errcode(db) & 0xff : SQLITE_NOMEM;
	int sys = db ? sqlite3_system_errno(db) : 0;

	if (!db)
		return "out of memory";
	if (sys && (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN))
		snprintf(buf, len, "%s (%s)", sqlite3_errmsg(db), strerror(sys));
	else
		snprintf(buf, len, "%s", sqlite3_errmsg(db));
	return buf;
}

/* --- what the handle knows (struct known) ------------------------------------ */

static void known_forget(struct store *s)
{
	if (s->known.n > 0)
		memset(s->known.ids, 0, s->known.cap * sizeof(*s->known.ids));
	s->known.n = 0;
	s->known.no_waiting = 0;
}

void store_known_forget(struct store *s)
{
	known_forget(s);
}

/* SQLite rolled a transaction back, asked or on an error. */
static void known_rolled_back(void *arg)
{
	known_forget(arg);
}

static int id_is_zero(const uint8_t id[WM_ID_LEN])
{
	static const uint8_t zero[WM_ID_LEN];

	return memcmp(id, zero, WM_ID_LEN) == 0;
}

static size_t known_home(const struct known *k, const uint8_t id[WM_ID_LEN])
{
	uint64_t h;

	memcpy(&h, id, sizeof h);
	return (size_t)((h * k->mul) >> 32) & (k->cap - 1);
}

/* The slot of id, or the free one where it would go. */
static size_t known_find(const struct known *k, const uint8_t id[WM_ID_LEN])
{
	size_t i = known_home(k, id);

	while (!id_is_zero(k->ids[i]) && memcmp(k->ids[i], id, WM_ID_LEN) != 0)
		i = (i + 1) & (k->cap - 1);
	return i;
}

/* Room for one more id: a larger table, or, at STORE_KNOWN_MAX, an empty
 * one.  WM_ENOMEM leaves it as it was. */
static int known_room(struct known *k)
{
	struct known g = *k;
	size_t i;

	if (2 * (k->n + 1) <= k->cap)
		return 0;
	if (k->cap == STORE_KNOWN_MAX) {
		memset(k->ids, 0, k->cap * sizeof(*k->ids));
		k->n = 0;
		return 0;
	}
	g.cap = k->cap ? 2 * k->cap : 256;
	if ((g.ids = calloc(g.cap, sizeof(*g.ids))) == NULL)
		return WM_ENOMEM;
	if (k->cap == 0) {
		sqlite3_randomness(sizeof g.mul, &g.mul);
		g.mul |= 1;
	}
	for (i = 0; i < k->cap; i++)
		if (!id_is_zero(k->ids[i]))
			memcpy(g.ids[known_find(&g, k->ids[i])], k->ids[i], WM_ID_LEN);
	free(k->ids);
	*k = g;
	return 0;
}

/* id is neither held nor refused: remember it, if a transaction has begun
 * on this handle (read its data_version; never on a reader's). */
static void known_add(struct store *s, const uint8_t id[WM_ID_LEN])
{
	struct known *k = &s->known;
	size_t i;

	if (k->version < 0 || id_is_zero(id) || known_room(k) != 0)
		return;
	i = known_find(k, id);
	if (id_is_zero(k->ids[i])) {
		memcpy(k->ids[i], id, WM_ID_LEN);
		k->n++;
	}
}

/* 1 if id is known neither held nor refused. */
static int known_has(const struct store *s, const uint8_t id[WM_ID_LEN])
{
	const struct known *k = &s->known;

	return k->n > 0 && !id_is_zero(id) && !id_is_zero(k->ids[known_find(k, id)]);
}

/* known_has, and the id forgotten: the caller is about to store it, or
 * remember it refused. */
static int known_take(struct store *s, const uint8_t id[WM_ID_LEN])
{
	struct known *k = &s->known;
	size_t i, j, mask = k->cap - 1;

	if (k->n == 0 || id_is_zero(id) || id_is_zero(k->ids[i = known_find(k, id)]))
		return 0;
	/* the ids after it that would not be found across a free slot move up */
	for (j = (i + 1) & mask; !id_is_zero(k->ids[j]); j = (j + 1) & mask) {
		if (((j - known_home(k, k->ids[j])) & mask) >= ((j - i) & mask)) {
			memcpy(k->ids[i], k->ids[j], WM_ID_LEN);
			i = j;
		}
	}
	memset(k->ids[i], 0, WM_ID_LEN);
	k->n--;
	return 1;
}

/* Record a SQLite failure for store_errmsg; returns WM_ESTORE.  The
 * caller reports it, in its own words and log format.  What the handle
 * knew is forgotten: SQLite may have rolled back. */
static int store_fail(struct store *s, const char *what)
{
	char r[200];

	known_forget(s);
	snprintf(s->err, sizeof(s->err), "%s: %s", what, sql_reason(s->db, r, sizeof r));
	return WM_ESTORE;
}

static int prepare(struct store *s, const char *sql, sqlite3_stmt **out)
{
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
		*out = NULL;
		return store_fail(s, "prepare");
	}
	return 0;
}

/* The cached statement, or a temporary one if the cached one is in use by
 * an outer iteration.  Pair with stmt_put(). */
static sqlite3_stmt *stmt_get_slot(struct store *s, sqlite3_stmt **slot, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (*slot == NULL) {
		if (prepare(s, sql, slot) != 0)
			return NULL;
		return *slot;
	}
	if (!sqlite3_stmt_busy(*slot))
		return *slot;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_fail(s, "prepare");
		return NULL;
	}
	return st;
}

static sqlite3_stmt *stmt_get(struct store *s, enum stmt_id i)
{
	return stmt_get_slot(s, &s->st[i], stmt_sql[i]);
}

static int stmt_is_cached(struct store *s, sqlite3_stmt *st)
{
	size_t i;

	for (i = 0; i < ST__COUNT; i++)
		if (s->st[i] == st)
			return 1;
	for (i = 0; i < N_EV_VARIANTS; i++)
		if (s->ev_st[i] == st)
			return 1;
	return 0;
}

static void stmt_put(struct store *s, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	if (stmt_is_cached(s, st)) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else {
		sqlite3_finalize(st);
	}
}

/* After a BEGIN: forget what a commit of another connection may have made
 * untrue (a failure to read the version forgets everything too). */
static void known_check(struct store *s)
{
	sqlite3_stmt *st = stmt_get(s, ST_DATA_VERSION);
	sqlite3_int64 v = -1;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	stmt_put(s, st);
	if (v < 0 || v != s->known.version)
		known_forget(s);
	s->known.version = v;
}

/* Run a statement that returns no rows. */
static int stmt_exec(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return store_fail(s, what);
	return 0;
}

static int simple(struct store *s, enum stmt_id i, const char *what)
{
	sqlite3_stmt *st = stmt_get(s, i);
	int rc;

	if (st == NULL)
		return WM_ESTORE;
	rc = stmt_exec(s, st, what);
	stmt_put(s, st);
	return rc;
}

/* Slots kept from one transaction to the next: enough for a few events,
 * so that a transaction after a large batch does not clear its table. */
#define AGG_KEEP_SLOTS 256

/* Forget the sums not written (a rollback, or a transaction SQLite ended
 * by itself on an error). */
static void agg_drop(struct store *s)
{
	size_t i;

	if (s->agg.cap > AGG_KEEP_SLOTS) {
		free(s->agg.slot);
		s->agg.slot = NULL;
		s->agg.cap = 0;
	} else if (s->agg.n > 0) {
		memset(s->agg.slot, 0, s->agg.cap * sizeof(*s->agg.slot));
	}
	s->agg.n = 0;
	for (i = 0; i < s->agg.ngrps; i++)
		free(s->agg.grps[i]);
	free(s->agg.grps);
	s->agg.grps = NULL;
	s->agg.ngrps = 0;
}

static size_t agg_hash(uint64_t bucket, uint32_t grp, uint8_t fine, size_t cap)
{
	uint64_t h = (bucket ^ (uint64_t)grp << 40 ^ (uint64_t)fine << 63) * UINT64_C(0x9E3779B97F4A7C15);

	return (size_t)(h >> 32) & (cap - 1);
}

/* The slot of (bucket, grp, fine): the one holding it, or the empty one
 * where it goes. */
static struct agg_sum *agg_slot(struct agg_sum *slot, size_t cap, uint64_t bucket, uint32_t grp, uint8_t fine)
{
	size_t i = agg_hash(bucket, grp, fine, cap);

	while (slot[i].cnt != 0 && (slot[i].bucket != bucket || slot[i].grp != grp || slot[i].fine != fine))
		i = (i + 1) & (cap - 1);
	return &slot[i];
}

/* Room for one more sum: the table at most half full. */
static int agg_room(struct agg_pending *a)
{
	struct agg_sum *slot, *to;
	size_t cap, i;

	if (2 * (a->n + 1) <= a->cap)
		return 0;
	cap = a->cap ? 2 * a->cap : AGG_KEEP_SLOTS;
	if ((slot = calloc(cap, sizeof(*slot))) == NULL)
		return WM_ENOMEM;
	for (i = 0; i < a->cap; i++) {
		if (a->slot[i].cnt == 0)
			continue;
		to = agg_slot(slot, cap, a->slot[i].bucket, a->slot[i].grp, a->slot[i].fine);
		*to = a->slot[i];
	}
	free(a->slot);
	a->slot = slot;
	a->cap = cap;
	return 0;
}

static int agg_grp(struct agg_pending *a, const char *grp, uint32_t *out)
{
	char **grps;
	size_t i;

	for (i = 0; i < a->ngrps; i++)
		if (strcmp(a->grps[i], grp) == 0)
			break;
	if (i == a->ngrps) {
		if ((grps = realloc(a->grps, (i + 1) * sizeof(*grps))) == NULL)
			return WM_ENOMEM;
		a->grps = grps;
		if ((grps[i] = strdup(grp)) == NULL)
			return WM_ENOMEM;
		a->ngrps++;
	}
	*out = (uint32_t)i;
	return 0;
}

/* A new events row in the repair aggregates, both sizes, of its group and
 * of '*' (store_int.h), summed until the transaction commits. */
static int agg_add(struct store *s, const char *grp, uint64_t created_at, const uint8_t id[WM_ID_LEN])
{
	const char *g[2] = { grp, "*" };
	struct agg_sum *e;
	uint32_t gi;
	uint8_t fine;
	int i, rc;

	for (i = 0; i < 4; i++) {
		fine = i >= 2;
		if ((rc = agg_grp(&s->agg, g[i % 2], &gi)) != 0 || (rc = agg_room(&s->agg)) != 0)
			return rc;
		e = agg_slot(s->agg.slot, s->agg.cap,
		             created_at >> (fine ? STORE_NEG_FINE_SHIFT : STORE_NEG_BUCKET_SHIFT), gi, fine);
		if (e->cnt == 0) {
			e->bucket = created_at >> (fine ? STORE_NEG_FINE_SHIFT : STORE_NEG_BUCKET_SHIFT);
			e->grp = gi;
			e->fine = fine;
			neg_acc_zero(&e->sum);
			s->agg.n++;
		}
		e->cnt++;
		neg_acc_add(&e->sum, id);
	}
	return 0;
}

/* Write the sums into the open transaction, one upsert each.  On an error
 * the transaction holds part of them: the caller rolls back. */
static int agg_flush(struct store *s)
{
	struct agg_sum *e;
	sqlite3_stmt *st;
	size_t i;
	int rc = 0;

	for (i = 0; i < s->agg.cap && s->agg.n > 0 && rc == 0; i++) {
		e = &s->agg.slot[i];
		if (e->cnt == 0)
			continue;
		if ((st = stmt_get(s, e->fine ? ST_NEG_FINE : ST_NEG_AGG)) == NULL) {
			rc = WM_ESTORE;
			break;
		}
		sqlite3_bind_text(st, 1, s->agg.grps[e->grp], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, store_u2i(e->bucket));
		sqlite3_bind_int64(st, 3, e->cnt);
		sqlite3_bind_blob(st, 4, e->sum.sum, NEG_ID_LEN, SQLITE_STATIC);
		rc = stmt_exec(s, st, "repair aggregates");
		stmt_put(s, st);
	}
	agg_drop(s);
	return rc;
}

static void idx_drop(struct store *s)
{
	size_t i;

	for (i = 0; i < s->idx.n; i++)
		free(s->idx.v[i].text);
	s->idx.n = 0;
}

static int idx_add(struct store *s, sqlite3_int64 key, const char *text, size_t len)
{
	struct idx_row *v;

	if (s->idx.n == s->idx.cap) {
		size_t cap = s->idx.cap ? 2 * s->idx.cap : 64;

		if ((v = realloc(s->idx.v, cap * sizeof(*v))) == NULL)
			return WM_ENOMEM;
		s->idx.v = v;
		s->idx.cap = cap;
	}
	v = &s->idx.v[s->idx.n];
	if ((v->text = malloc(len)) == NULL)
		return WM_ENOMEM;
	memcpy(v->text, text, len);
	v->len = len;
	v->key = key;
	s->idx.n++;
	return 0;
}

static int idx_cmp(const void *a, const void *b)
{
	const struct idx_row *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

/* Write the pending index rows into the open transaction, in key order.
 * On an error the transaction holds part of them: the caller rolls back. */
static int idx_flush(struct store *s)
{
	sqlite3_stmt *st;
	size_t i;
	int rc = 0;

	if (s->idx.n > 1)
		qsort(s->idx.v, s->idx.n, sizeof(*s->idx.v), idx_cmp);
	for (i = 0; i < s->idx.n && rc == 0; i++) {
		if ((st = stmt_get(s, ST_INSERT_IDX)) == NULL) {
			rc = WM_ESTORE;
			break;
		}
		sqlite3_bind_int64(st, 1, s->idx.v[i].key);
		sqlite3_bind_text(st, 2, s->idx.v[i].text, (int)s->idx.v[i].len, SQLITE_STATIC);
		rc = stmt_exec(s, st, "index text");
		stmt_put(s, st);
	}
	idx_drop(s);
	return rc;
}

/* What the open transaction keeps in memory: written before its commit
 * (or a savepoint), dropped with a rollback. */
static int pending_flush(struct store *s)
{
	int rc = idx_flush(s);

	if (rc != 0) {
		agg_drop(s);
		return rc;
	}
	return agg_flush(s);
}

static void pending_drop(struct store *s)
{
	idx_drop(s);
	agg_drop(s);
}

int store_agg_flush(struct store *s)
{
	return pending_flush(s);
}

void store_agg_drop(struct store *s)
{
	pending_drop(s);
}

/* Writers that touch several tables run in their own transaction when the
 * caller has none, so each call is all-or-nothing.  Inside a caller's
 * transaction a failure leaves the rollback to the caller. */
static int auto_begin(struct store *s, int *own)
{
	*own = sqlite3_get_autocommit(s->db);
	if (!*own)
		return 0;
	return store_begin(s);
}

static int auto_end(struct store *s, int own, int rc)
{
	if (!own)
		return rc;
	if (rc == 0 && (rc = pending_flush(s)) == 0)
		rc = simple(s, ST_COMMIT, "commit");
	if (rc != 0) {
		pending_drop(s);
		simple(s, ST_ROLLBACK, "rollback");
	}
	return rc;
}

const char *role_name(enum cert_role r)
{
	switch (r) {
	case ROLE_STATION: return "station";
	case ROLE_OFFICER: return "officer";
	case ROLE_NODE: return "node";
	case ROLE_RESIDENT: return "resident";
	}
	return "unknown";
}

enum cert_role role_from_name(const char *name)
{
	static const enum cert_role roles[] = { ROLE_STATION, ROLE_OFFICER, ROLE_NODE, ROLE_RESIDENT };
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(name, role_name(roles[i])) == 0)
			return roles[i];
	return 0;
}

/* --- open, close, migrate ---------------------------------------------------- */

static int exec_sql(sqlite3 *db, const char *sql, char *why, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		wm_why(why, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return WM_ESTORE;
	}
	return 0;
}

static int user_version(sqlite3 *db, int *v, char *why)
{
	sqlite3_stmt *st = NULL;
	int rc = WM_ESTORE;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		wm_why(why, "cannot read the schema version: %s", sqlite3_errmsg(db));
		goto out;
	}
	*v = sqlite3_column_int(st, 0);
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int holds_no_events(sqlite3 *db, const char *path, char *why)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT EXISTS (SELECT 1 FROM events)", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		wm_why(why, "cannot read %s: %s", path, sqlite3_errmsg(db));
		rc = WM_ESTORE;
	} else if (sqlite3_column_int(st, 0) != 0) {
		wm_why(why, "%s holds events of the retired event format 1, which this watchmesh cannot "
		       "read or convert; make a new data directory (watchmesh init) for this node", path);
		rc = WM_ESTORE;
	} else {
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static int migrate(sqlite3 *db, const char *path, char *why)
{
	char sql[64];
	int v, rc;

	for (;;) {
		if ((rc = exec_sql(db, "BEGIN IMMEDIATE", why, "cannot lock the database")) != 0)
			return rc;
		if ((rc = user_version(db, &v, why)) != 0)
			goto fail;
		if (v < 0 || v > STORE_SCHEMA_VERSION) {
			wm_why(why, "%s has schema version %d, newer than this watchmesh understands (%d); "
			        "use a newer watchmesh", path, v, STORE_SCHEMA_VERSION);
			rc = WM_ESTORE;
			goto fail;
		}
		if (v == STORE_SCHEMA_VERSION)
			return exec_sql(db, "COMMIT", why, "commit");
		if (v >= 1 && v < STORE_FORMAT2_VERSION && (rc = holds_no_events(db, path, why)) != 0)
			goto fail;
		if ((rc = exec_sql(db, migrations[v], why, "schema migration")) != 0)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if ((rc = exec_sql(db, sql, why, "schema migration")) != 0 ||
		    (rc = exec_sql(db, "COMMIT", why, "commit")) != 0)
			goto fail;
	}
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* SQLite's count of its memory took a global mutex around each of its
 * ~100 allocations an event; nothing here reads it.  Before SQLite's first
 * use (later, SQLite refuses and nothing changes). */
static pthread_once_t configured = PTHREAD_ONCE_INIT;
static void configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_open(const char *path, struct store **out, char why[WM_WHY_LEN])
{
	struct store *s = NULL;
	sqlite3_stmt *st = NULL;
	int rc = WM_ESTORE, fd;
	char reason[200];

	if (path == NULL || out == NULL) {
		wm_why(why, "no database path");
		return WM_EINVAL;
	}
	(void)pthread_once(&configured, configure);
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		wm_why(why, "out of memory");
		return WM_ENOMEM;
	}
	s->known.version = -1;
	/* sqlite would create the file by the umask (0644 in a 0755 directory),
	 * and -wal and -shm take the file's mode: made 0600 here, the residents'
	 * requests are for no other account on the machine.  Only a file that
	 * does not exist yet (O_EXCL): closing a descriptor of one this process
	 * has open in sqlite would drop every POSIX lock sqlite holds on it.  An
	 * error is sqlite's to report. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		wm_why(why, "cannot open %s: %s", path, sql_reason(s->db, reason, sizeof reason));
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	sqlite3_rollback_hook(s->db, known_rolled_back, s);
	/* A new file takes pages of 8 KiB: an events row of ~385 bytes fits
	 * 10 to a 4 KiB page (5% of it empty), 21 to 8 KiB (BENCHMARKS.md "The
	 * store at 2 x, the rest").  A file that exists keeps its size (the
	 * pragma does nothing there, and WAL mode forbids a change). */
	if (exec_sql(s->db, "PRAGMA page_size = 8192", why, "cannot configure") != 0)
		goto out;

	/* journal_mode answers with the mode in force: a file that is not a
	 * database fails here, a read-only medium answers "delete". */
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		wm_why(why, "cannot open %s: %s", path, sql_reason(s->db, reason, sizeof reason));
		goto out;
	}
	if (sqlite3_column_text(st, 0) == NULL ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		wm_why(why, "cannot put %s in WAL mode (journal mode is %s)", path,
		        sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "unknown");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* journal_size_limit: once a checkpoint has reset the WAL, it is cut
	 * back to 64 MB instead of keeping the largest size it ever reached */
	if ((rc = exec_sql(s->db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;"
	                   "PRAGMA cache_size = -8000;"
	                   "PRAGMA journal_size_limit = 67108864;", why, "cannot configure")) != 0)
		goto out;
	if (store_neg_register(s->db) != 0 ||       /* the neg_agg triggers call these */
	    store_search_register(s->db) != 0 ||    /* the search index's tokenizer */
	    store_raw_register(s->db) != 0) {       /* the rows' bytes */
		wm_why(why, "cannot register SQL functions: %s", sqlite3_errmsg(s->db));
		rc = WM_ESTORE;
		goto out;
	}
	/* temporary data in memory once migrated: a migration's (schema 12's
	 * DROP of the old events table) took 750 MB at a million events */
	if ((rc = migrate(s->db, path, why)) != 0 ||
	    (rc = exec_sql(s->db, "PRAGMA temp_store = MEMORY", why, "cannot configure")) != 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	sqlite3_finalize(st);
	if (s != NULL)
		store_close(s);
	if (rc == 0 && why != NULL)
		why[0] = '\0';
	return rc;
}

/* A reader's page cache (KiB) and memory map: small, because a node opens
 * one per thread that serves queries, and the indexes make its queries
 * read a few pages each (issue 11: 1 GiB maps held readers at 500 MB). */
#define STORE_READER_CACHE_KIB 2048
#define STORE_READER_MMAP 0

int store_open_reader(const char *path, struct store **out, char why[WM_WHY_LEN])
{
	struct store *s = NULL;
	char sql[160];
	int rc = WM_ESTORE, v;

	if (path == NULL || out == NULL) {
		wm_why(why, "no database path");
		return WM_EINVAL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		wm_why(why, "out of memory");
		return WM_ENOMEM;
	}
	s->known.version = -1;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		wm_why(why, "cannot open %s to read: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	snprintf(sql, sizeof(sql), "PRAGMA query_only = 1; PRAGMA temp_store = MEMORY;"
	         " PRAGMA cache_size = -%d; PRAGMA mmap_size = %d;", STORE_READER_CACHE_KIB, STORE_READER_MMAP);
	if ((rc = exec_sql(s->db, sql, why, "cannot configure a reader")) != 0 ||
	    (rc = user_version(s->db, &v, why)) != 0)
		goto out;
	if (store_search_register(s->db) != 0 || store_raw_register(s->db) != 0) {
		wm_why(why, "cannot register SQL functions: %s", sqlite3_errmsg(s->db));
		rc = WM_ESTORE;
		goto out;
	}
	/* A reader never migrates: the writer (store_open) does, once. */
	if (v != STORE_SCHEMA_VERSION) {
		wm_why(why, "%s has schema version %d, and this watchmesh reads version %d only; %s", path, v,
		       STORE_SCHEMA_VERSION, v < STORE_SCHEMA_VERSION
		       ? "open it with the node's writer first (watchmesh run, or any command that stores), which migrates it"
		       : "use a newer watchmesh");
		rc = WM_ESTORE;
		goto out;
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	if (s != NULL)
		store_close(s);
	if (rc == 0 && why != NULL)
		why[0] = '\0';
	return rc;
}

void store_close(struct store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	for (i = 0; i < N_EV_VARIANTS; i++)
		sqlite3_finalize(s->ev_st[i]);
	for (i = 0; i < s->nreaders; i++)
		sqlite3_close_v2(s->readers[i]);
	for (i = 0; i < s->nmeta; i++)
		free(s->meta[i].val);
	pending_drop(s);
	free(s->agg.slot);
	free(s->idx.v);
	/* A transaction left open is rolled back by close. */
	sqlite3_close_v2(s->db);
	free(s->known.ids);
	free(s);
}

sqlite3 *store_db(struct store *s)
{
	return s == NULL ? NULL : s->db;
}

sqlite3 *store_reader_get(struct store *s, char why[WM_WHY_LEN])
{
	const char *path;
	sqlite3 *db = NULL;

	if (s == NULL)
		return NULL;
	if (s->nreaders > 0)
		return s->readers[--s->nreaders];
	path = sqlite3_db_filename(s->db, "main");
	if (path == NULL || path[0] == '\0') {
		wm_why(why, "the store has no file to read from");
		return NULL;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		wm_why(why, "cannot open a reader of %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close_v2(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	/* no memory map: a map of the whole store counted in the daemon's
	 * resident memory for as long as the reader was kept (over 500 MB at
	 * 1M events, BENCHMARKS.md); 16 MB of page cache, kept between
	 * sessions and checked against the WAL at each BEGIN */
	sqlite3_exec(db, "PRAGMA mmap_size = 0; PRAGMA cache_size = -16000", NULL, NULL, NULL);
	return db;
}

void store_reader_put(struct store *s, sqlite3 *db)
{
	if (db == NULL)
		return;
	if (s == NULL || s->nreaders == STORE_READERS_IDLE || !sqlite3_get_autocommit(db)) {
		sqlite3_close_v2(db);
		return;
	}
	s->readers[s->nreaders++] = db;
}

const char *store_errmsg(struct store *s)
{
	return s == NULL ? "" : s->err;
}

/* --- transactions ------------------------------------------------------------ */

int store_begin(struct store *s)
{
	int rc;

	pending_drop(s);
	if ((rc = simple(s, ST_BEGIN, "begin")) == 0)
		known_check(s);
	return rc;
}

int store_commit(struct store *s)
{
	int rc = pending_flush(s);

	return rc != 0 ? rc : simple(s, ST_COMMIT, "commit");
}

int store_rollback(struct store *s)
{
	pending_drop(s);
	if (sqlite3_get_autocommit(s->db))
		return 0;
	return simple(s, ST_ROLLBACK, "rollback");
}

int store_in_transaction(struct store *s)
{
	return !sqlite3_get_autocommit(s->db);
}

int store_set_durable(struct store *s, int durable)
{
	const char *sql = durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";

	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(s, "synchronous");
	s->durable = durable != 0;
	return 0;
}

int store_is_durable(struct store *s)
{
	return s != NULL && s->durable;
}

int store_shrink_wal(struct store *s)
{
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

	if (rc != SQLITE_OK)
		return store_fail(s, "checkpoint");
	return 0;
}

int store_checkpoint(struct store *s)
{
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_FULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return store_fail(s, "checkpoint");
	return 0;
}

/* --- reading ------------------------------------------------------------------- */

/* The key of author number aid (authors), into key: 0, or WM_ESTORE.
 * Kept when read outside this connection's transactions (or by a
 * reader): a committed number keeps its key for good, where one added in
 * a transaction that rolls back is given to the next new key. */
static int author_key(struct store *s, sqlite3_int64 aid, uint8_t key[WM_PUB_LEN])
{
	struct key_cached *c = &s->keys[(uint64_t)aid % STORE_KEYS_CACHED];
	sqlite3_stmt *st;
	int rc = WM_ESTORE;

	if (c->aid == aid && aid != 0) {
		memcpy(key, c->key, WM_PUB_LEN);
		return 0;
	}
	if ((st = stmt_get(s, ST_AUTHOR_KEY)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_int64(st, 1, aid);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == WM_PUB_LEN) {
		memcpy(key, sqlite3_column_blob(st, 0), WM_PUB_LEN);
		rc = 0;
	} else {
		snprintf(s->err, sizeof(s->err), "an event's author number %lld is not in authors",
		         (long long)aid);
	}
	stmt_put(s, st);
	if (rc == 0 && (sqlite3_get_autocommit(s->db) || sqlite3_db_readonly(s->db, "main") == 1)) {
		c->aid = aid;
		memcpy(c->key, key, WM_PUB_LEN);
	}
	return rc;
}

/* Room for a row's bytes made whole (row_raw), reused row after row. */
struct raw_buf {
	uint8_t *p;
	size_t cap;
};

/* The wire bytes of the events row st is on: raw in column col, the
 * author's number in column aidcol, made whole (store_raw.c) in b, or
 * raw itself when it was kept whole; *wire NULL when raw is NULL.  Valid
 * until the next row or b's next use.  0, WM_ENOMEM or WM_ESTORE. */
static int row_raw(struct store *s, sqlite3_stmt *st, int col, int aidcol, struct raw_buf *b,
                   const uint8_t **wire, size_t *len)
{
	const uint8_t *kept = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col), k;
	uint8_t key[WM_PUB_LEN], *p;
	int rc;

	*wire = kept;
	*len = n;
	if (kept == NULL)
		return 0;
	if (b->cap < n + STORE_RAW_WHOLE_MORE) {
		if ((p = realloc(b->p, n + STORE_RAW_WHOLE_MORE)) == NULL)
			return WM_ENOMEM;
		b->p = p;
		b->cap = n + STORE_RAW_WHOLE_MORE;
	}
	if ((rc = author_key(s, sqlite3_column_int64(st, aidcol), key)) != 0)
		return rc;
	if ((k = store_raw_whole(kept, n, key, b->p)) != 0) {
		*wire = b->p;
		*len = k;
	} else {
		*wire = kept;
	}
	return 0;
}

/* Fill a stored_event from a row of EV_COLS, its bytes made whole in b. */
static int row_event(struct store *s, sqlite3_stmt *st, struct stored_event *e, struct raw_buf *b)
{
	const void *id = sqlite3_column_blob(st, 1);

	memset(e, 0, sizeof(*e));
	if (id == NULL || sqlite3_column_bytes(st, 1) != WM_ID_LEN) {
		snprintf(s->err, sizeof(s->err), "a stored event has a bad id");
		return WM_ESTORE;
	}
	e->seq = sqlite3_column_int64(st, 0);
	memcpy(e->id, id, WM_ID_LEN);
	e->kind = (unsigned)sqlite3_column_int(st, 2);
	e->created_at = i2u(sqlite3_column_int64(st, 3));
	e->expires_at = i2u(sqlite3_column_int64(st, 4));
	e->group = (const char *)sqlite3_column_text(st, 5);
	if (e->group == NULL)
		e->group = "";
	if (sqlite3_column_type(st, 6) == SQLITE_NULL) {
		e->retracted = 1;
		e->wire = sqlite3_column_blob(st, 7);
		e->wire_len = (size_t)sqlite3_column_bytes(st, 7);
		return 0;
	}
	return row_raw(s, st, 6, 8, b, &e->wire, &e->wire_len);
}

/* Step through rows of EV_COLS, calling cb; puts the statement back. */
static int iterate_events(struct store *s, sqlite3_stmt *st, store_event_cb cb, void *ctx)
{
	struct stored_event e;
	struct raw_buf b = { 0 };
	int rc = 0, step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = row_event(s, st, &e, &b)) != 0)
			break;
		if (cb != NULL && (rc = cb(ctx, &e)) != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = store_fail(s, "read events");
	stmt_put(s, st);
	free(b.p);
	return rc;
}

int store_events_sql(const struct store_filter *f, char *sql, size_t len)
{
	int variant = (f->group != NULL) | (f->kind != 0) << 1 | (f->newest_first != 0) << 2 |
	              (f->except_group != NULL) << 3;

	/* In the newest-first orders `+seq` keeps the planner from picking
	 * the index by seq for that term and sorting the whole group. */
	snprintf(sql, len,
	         "SELECT " EV_COLS " FROM events WHERE %s > ?1 %s %s %s"
	         " AND (?4 = 0 OR expires_at = 0 OR expires_at > ?4)"
	         " ORDER BY %s LIMIT ?5",
	         (variant & 4) ? "+seq" : "seq",
	         (variant & 1) ? "AND " GRP_IS("grp", "?2") : "",
	         (variant & 2) ? "AND kind = ?3" : "",
	         (variant & 8) ? "AND grp IS NOT (SELECT gid FROM grps WHERE name = ?6)" : "",
	         (variant & 4) ? "created_at DESC, seq DESC" : "seq");
	return variant;
}

int store_events(struct store *s, const struct store_filter *f, store_event_cb cb, void *ctx)
{
	static const struct store_filter none;
	char sql[512];
	sqlite3_stmt *st;
	int variant;

	if (s == NULL)
		return WM_EINVAL;
	if (f == NULL)
		f = &none;
	variant = store_events_sql(f, sql, sizeof(sql));
	if ((st = stmt_get_slot(s, &s->ev_st[variant], sql)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_int64(st, 1, f->after_seq);
	if (variant & 1)
		sqlite3_bind_text(st, 2, f->group, -1, SQLITE_TRANSIENT);
	if (variant & 2)
		sqlite3_bind_int(st, 3, (int)f->kind);
	if (variant & 8)
		sqlite3_bind_text(st, 6, f->except_group, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, store_u2i(f->now));
	sqlite3_bind_int64(st, 5, f->limit == 0 || f->limit > INT64_MAX ? -1 : (sqlite3_int64)f->limit);
	return iterate_events(s, st, cb, ctx);
}

int store_has(struct store *s, const uint8_t id[WM_ID_LEN])
{
	sqlite3_stmt *st;
	int rc;

	if ((st = stmt_get(s, ST_HAS)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = 1;
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = store_fail(s, "has");
	stmt_put(s, st);
	return rc;
}

/* One row of (STORE_HELD or STORE_REFUSED, code, why) for id from statement
 * i: its first column, and a refusal's code and why (each may be NULL); 0
 * when there is none, <0 on error. */
static int lookup_row(struct store *s, enum stmt_id i, const uint8_t id[WM_ID_LEN], int *code,
                      char why[WM_WHY_LEN])
{
	sqlite3_stmt *st;
	const char *t;
	int rc;

	if (s == NULL || id == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, i)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = sqlite3_column_int(st, 0);
		if (rc == STORE_REFUSED && code != NULL)
			*code = sqlite3_column_int(st, 1);
		t = (const char *)sqlite3_column_text(st, 2);
		if (rc == STORE_REFUSED && why != NULL)
			snprintf(why, WM_WHY_LEN, "%s", t ? t : "");
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = store_fail(s, "look up");
	}
	stmt_put(s, st);
	return rc;
}

int store_lookup(struct store *s, const uint8_t id[WM_ID_LEN], int *code, char why[WM_WHY_LEN])
{
	int rc;

	/* known is true inside a write transaction; outside one, another
	 * connection may have stored it since the last BEGIN */
	if (s != NULL && id != NULL && store_in_transaction(s) && known_has(s, id))
		return 0;
	if ((rc = lookup_row(s, ST_LOOKUP, id, code, why)) == 0)
		known_add(s, id);
	return rc;
}

int store_get(struct store *s, const uint8_t id[WM_ID_LEN], uint8_t **wire, size_t *len)
{
	sqlite3_stmt *st;
	struct raw_buf b = { 0 };
	const uint8_t *p = NULL;
	size_t n = 0;
	int rc;

	if ((st = stmt_get(s, ST_GET)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_NULL) {
		p = sqlite3_column_blob(st, 2);         /* retracted: withheld */
		n = (size_t)sqlite3_column_bytes(st, 2);
		rc = p == NULL ? WM_ENOTFOUND : 0;
	} else if (rc == SQLITE_ROW) {
		rc = row_raw(s, st, 0, 1, &b, &p, &n);
	} else {
		rc = rc == SQLITE_DONE ? WM_ENOTFOUND : store_fail(s, "get");
	}
	if (rc == 0 && b.p != NULL && p == b.p) {       /* made whole: the caller's */
		*wire = b.p;
		*len = n;
		b.p = NULL;
	} else if (rc == 0 && (*wire = malloc(n ? n : 1)) == NULL) {
		rc = WM_ENOMEM;
	} else if (rc == 0) {
		if (n)
			memcpy(*wire, p, n);
		*len = n;
	}
	stmt_put(s, st);
	free(b.p);
	return rc;
}

int store_info(struct store *s, const uint8_t id[WM_ID_LEN], struct store_info *out)
{
	struct store_info info;
	sqlite3_stmt *st;
	const char *g;
	int rc;

	if ((st = stmt_get(s, ST_INFO)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = WM_ENOTFOUND;
	} else if (rc != SQLITE_ROW) {
		rc = store_fail(s, "info");
	} else if (sqlite3_column_bytes(st, 4) != WM_PUB_LEN) {
		snprintf(s->err, sizeof(s->err), "a stored event has a bad author");
		rc = WM_ESTORE;
	} else {
		memset(&info, 0, sizeof(info));
		info.seq = sqlite3_column_int64(st, 0);
		info.kind = (unsigned)sqlite3_column_int(st, 1);
		info.created_at = i2u(sqlite3_column_int64(st, 2));
		info.expires_at = i2u(sqlite3_column_int64(st, 3));
		memcpy(info.author, sqlite3_column_blob(st, 4), WM_PUB_LEN);
		g = (const char *)sqlite3_column_text(st, 5);
		snprintf(info.group, sizeof(info.group), "%s", g ? g : "");
		info.retracted = sqlite3_column_int(st, 6);
		*out = info;
		rc = 0;
	}
	stmt_put(s, st);
	return rc;
}

int store_events_referring(struct store *s, const uint8_t id[WM_ID_LEN], store_event_cb cb, void *ctx)
{
	sqlite3_stmt *st;

	if ((st = stmt_get(s, ST_REFERRING)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_TRANSIENT);
	return iterate_events(s, st, cb, ctx);
}

int store_arrivals_of(struct store *s, const uint8_t author[WM_PUB_LEN], store_arrival_cb cb, void *ctx)
{
	struct stored_event e;
	struct raw_buf b = { 0 };
	sqlite3_stmt *st;
	int rc = 0, step;

	if (s == NULL || author == NULL || cb == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_ARRIVALS)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, author, WM_PUB_LEN, SQLITE_TRANSIENT);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = row_event(s, st, &e, &b)) != 0)
			break;
		if ((rc = cb(ctx, &e, sqlite3_column_int64(st, 9))) != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = store_fail(s, "read events");
	stmt_put(s, st);
	free(b.p);
	return rc;
}

int store_events_by_author(struct store *s, const uint8_t author[WM_PUB_LEN], uint64_t since,
                           store_event_cb cb, void *ctx)
{
	sqlite3_stmt *st;

	if ((st = stmt_get(s, ST_BY_AUTHOR)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, author, WM_PUB_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, store_u2i(since));
	return iterate_events(s, st, cb, ctx);
}

/* --- search ------------------------------------------------------------------------ */

#define SEARCH_MAX_WORDS 16
/* A query is bounded: each of its characters becomes a term of the
 * index's expression, and a client of the API may send anything. */
#define SEARCH_MAX_BYTES 1024

/* Length of the UTF-8 character at p, never past the n bytes left. */
static size_t utf8_len(const char *p, size_t n)
{
	unsigned char c = (unsigned char)p[0];
	size_t l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

	return l > n ? n : l;
}

struct search_q {
	struct { const char *p; size_t len, nchars; } w[SEARCH_MAX_WORDS];     /* in folded */
	size_t nwords;
	char *folded;           /* the query as the index saw its text (store_fold), malloc'd */
	char *match;            /* the index's expression, malloc'd */
};

/* Append the FTS5 string "p[0..len)" (quotes doubled) to out. */
static char *fts_string(char *out, const char *p, size_t len)
{
	size_t i;

	*out++ = '"';
	for (i = 0; i < len; i++) {
		if (p[i] == '"')
			*out++ = '"';
		*out++ = p[i];
	}
	*out++ = '"';
	return out;
}

/*
 * Words, and the index's expression for them (store_bigram.c): a word of
 * one character is a prefix query on its character, a longer one the AND
 * of its character pairs; a word of three or more characters is then
 * checked against the text (search_sql), since pairs can be found apart.
 */
static int search_parse(const char *query, struct search_q *q, char *err, size_t errlen)
{
	const char *p, *end;
	size_t i, qlen;
	char *m;
	int rc;

	memset(q, 0, sizeof(*q));
	/* twice: before folding, which costs by the byte, and after it, as
	 * NFKC makes some characters many (U+FDFA is 18) */
	if ((qlen = strlen(query)) <= SEARCH_MAX_BYTES) {
		if ((rc = store_fold(query, qlen, &q->folded, &qlen)) != 0)
			return rc;
	}
	if (qlen > SEARCH_MAX_BYTES) {
		snprintf(err, errlen, "a search is at most %d bytes, not %zu; search for fewer words",
		         SEARCH_MAX_BYTES, qlen);
		return WM_EINVAL;
	}
	end = q->folded + qlen;
	for (p = q->folded; p < end;) {
		size_t sp = store_blank_len(p, (size_t)(end - p)), len = 0, nchars = 0;

		if (sp) {
			p += sp;
			continue;
		}
		while (p + len < end && store_blank_len(p + len, (size_t)(end - p - len)) == 0) {
			len += utf8_len(p + len, (size_t)(end - p - len));
			nchars++;
		}
		if (q->nwords == SEARCH_MAX_WORDS) {
			snprintf(err, errlen, "more than %d words in a search", SEARCH_MAX_WORDS);
			return WM_EINVAL;
		}
		q->w[q->nwords].p = p;
		q->w[q->nwords].len = len;
		q->w[q->nwords].nchars = nchars;
		q->nwords++;
		p += len;
	}
	/* per character at most: a pair of 8 bytes, quoted, doubled, " AND " */
	if ((q->match = m = malloc(26 * qlen + 1)) == NULL)
		return WM_ENOMEM;
	for (i = 0; i < q->nwords; i++) {
		const char *w = q->w[i].p, *a = w, *b;

		if (i > 0)
			m += sprintf(m, " AND ");
		if (q->w[i].nchars == 1) {
			m = fts_string(m, w, q->w[i].len);
			*m++ = '*';
			continue;
		}
		const char *e = w + q->w[i].len;

		for (b = a + utf8_len(a, (size_t)(e - a)); b < e; a = b, b += utf8_len(b, (size_t)(e - b))) {
			if (a != w)
				m += sprintf(m, " AND ");
			m = fts_string(m, a, (size_t)(b - a) + utf8_len(b, (size_t)(e - b)));
		}
	}
	*m = '\0';
	return 0;
}

/*
 * The search's SQL: the index in its key order (newest first) joined to
 * the event, so that a page reads its own rows and stops.
 * Parameters: ?1 the expression, then one per word to check, the group,
 * the limit and (not count) the offset.  count: at most LIMIT matches,
 * counted.
 */
static char *search_sql(const struct search_q *q, const char *group, int count)
{
	size_t len = 512 + q->nwords * 96, k, i;
	char *sql = malloc(len);
	int param = 2, check = 0;

	if (sql == NULL)
		return NULL;
	for (i = 0; i < q->nwords; i++)
		check |= q->w[i].nchars >= 3;
	/* a count joins only what its conditions read: a word of one or two
	 * characters in any group is the index alone */
	k = (size_t)snprintf(sql, len, "%s FROM search_idx i%s WHERE i.search_idx MATCH ?1",
	                     count ? "SELECT count(*) FROM (SELECT 1"
	                           : "SELECT e.seq, e.id, e.kind, e.created_at, e.expires_at, "
	                             STORE_GRP_NAME("e.grp") ", e.raw, e.withheld, e.author",
	                     !count || check || group != NULL ? " CROSS JOIN events e ON e.search_key = i.rowid" : "");
	/* the index holds the pairs of characters: a longer word is checked
	 * against the text, which wm_search_has reads from raw */
	for (i = 0; i < q->nwords; i++)
		if (q->w[i].nchars >= 3)
			k += (size_t)snprintf(sql + k, len - k, " AND wm_search_has(e.raw, ?%d)", param++);
	if (group != NULL)
		k += (size_t)snprintf(sql + k, len - k, " AND " GRP_IS("e.grp", "?%d"), param++);
	if (count)
		snprintf(sql + k, len - k, " LIMIT ?%d)", param);
	else
		snprintf(sql + k, len - k, " ORDER BY i.rowid DESC LIMIT ?%d OFFSET ?%d", param, param + 1);
	return sql;
}

int store_search_sql(const char *query, const char *group, int count, char **sql)
{
	struct search_q q;
	char err[WM_WHY_LEN];
	int rc = search_parse(query, &q, err, sizeof(err));

	if (rc == 0 && (*sql = search_sql(&q, group, count)) == NULL)
		rc = WM_ENOMEM;
	free(q.folded);
	free(q.match);
	return rc;
}

/* The search's statement, bound up to the limit; NULL *out for a query
 * of no words. */
static int search_prepare(struct store *s, const char *query, const char *group, int count,
                          sqlite3_int64 limit, sqlite3_int64 offset, sqlite3_stmt **out)
{
	struct search_q q;
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int rc, param = 1;
	size_t i;

	*out = NULL;
	if (s == NULL || query == NULL)
		return WM_EINVAL;
	if ((rc = idx_flush(s)) != 0)   /* the open transaction's rows are found too */
		return rc;
	if ((rc = search_parse(query, &q, s->err, sizeof(s->err))) != 0 || q.nwords == 0)
		goto out;
	if ((sql = search_sql(&q, group, count)) == NULL) {
		rc = WM_ENOMEM;
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = store_fail(s, "search");
		goto out;
	}
	sqlite3_bind_text(st, param++, q.match, -1, SQLITE_TRANSIENT);
	for (i = 0; i < q.nwords; i++)
		if (q.w[i].nchars >= 3)
			sqlite3_bind_text(st, param++, q.w[i].p, (int)q.w[i].len, SQLITE_TRANSIENT);
	if (group != NULL)
		sqlite3_bind_text(st, param++, group, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, param++, limit);
	if (!count)
		sqlite3_bind_int64(st, param, offset);
	*out = st;
	st = NULL;
out:
	sqlite3_finalize(st);
	free(sql);
	free(q.folded);
	free(q.match);
	return rc;
}

static sqlite3_int64 size2i(size_t v)
{
	return v > INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

int store_search(struct store *s, const char *query, const char *group, size_t limit, size_t offset,
                 store_event_cb cb, void *ctx)
{
	sqlite3_stmt *st;
	int rc = search_prepare(s, query, group, 0, limit == 0 ? -1 : size2i(limit), size2i(offset), &st);

	if (rc != 0 || st == NULL)
		return rc;
	return iterate_events(s, st, cb, ctx);     /* finalizes st: not cached */
}

int store_search_count(struct store *s, const char *query, const char *group, size_t cap, size_t *n)
{
	sqlite3_stmt *st;
	int rc = search_prepare(s, query, group, 1, cap >= INT64_MAX ? INT64_MAX : (sqlite3_int64)cap + 1,
	                        0, &st);

	if (rc != 0)
		return rc;
	*n = 0;
	if (st == NULL)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = (size_t)sqlite3_column_int64(st, 0);
	else
		rc = store_fail(s, "search count");
	sqlite3_finalize(st);
	return rc;
}

int store_counts(struct store *s, struct store_counts *c)
{
	sqlite3_stmt *st;
	int rc;

	/* the count reads the aggregates: the open transaction's rows too */
	if ((rc = agg_flush(s)) != 0)
		return rc;
	if ((st = stmt_get(s, ST_COUNTS)) == NULL)
		return WM_ESTORE;
	if (sqlite3_step(st) == SQLITE_ROW) {
		c->events = sqlite3_column_int64(st, 0);
		c->retracted = sqlite3_column_int64(st, 1);
		c->rejected = sqlite3_column_int64(st, 2);
		c->certs = sqlite3_column_int64(st, 3);
		rc = 0;
	} else {
		rc = store_fail(s, "counts");
	}
	stmt_put(s, st);
	return rc;
}

int store_resolve_prefix(struct store *s, const char *hex, size_t hexlen, uint8_t id[WM_ID_LEN])
{
	uint8_t lo[WM_ID_LEN], hi[WM_ID_LEN], found[WM_ID_LEN];
	char padded[2 * WM_ID_LEN];
	sqlite3_stmt *st;
	int rc, n = 0;

	if (s == NULL || hex == NULL)
		return WM_EINVAL;
	if (hexlen < 6 || hexlen > 2 * WM_ID_LEN) {
		snprintf(s->err, sizeof(s->err), "an id prefix has 6 to 64 hex digits, not %zu", hexlen);
		return WM_EINVAL;
	}
	/* The prefix padded with 0s and with fs bounds the ids that share it. */
	memcpy(padded, hex, hexlen);
	memset(padded + hexlen, '0', sizeof(padded) - hexlen);
	if (hex_decode(lo, WM_ID_LEN, padded, sizeof(padded)) != 0) {
		snprintf(s->err, sizeof(s->err), "an id prefix has only hex digits 0-9 a-f");
		return WM_EINVAL;
	}
	memset(padded + hexlen, 'f', sizeof(padded) - hexlen);
	if (hex_decode(hi, WM_ID_LEN, padded, sizeof(padded)) != 0)
		return WM_EINVAL;

	if ((st = stmt_get(s, ST_PREFIX)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, lo, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hi, WM_ID_LEN, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) == WM_ID_LEN && n == 0)
			memcpy(found, sqlite3_column_blob(st, 0), WM_ID_LEN);
		n++;
	}
	if (rc != SQLITE_DONE) {
		rc = store_fail(s, "resolve prefix");
	} else if (n == 0) {
		snprintf(s->err, sizeof(s->err), "no event id starts with %.*s", (int)hexlen, hex);
		rc = WM_ENOTFOUND;
	} else if (n > 1) {
		snprintf(s->err, sizeof(s->err), "ambiguous: several event ids start with %.*s; give more digits",
		         (int)hexlen, hex);
		rc = WM_EINVAL;
	} else {
		memcpy(id, found, WM_ID_LEN);
		rc = 0;
	}
	stmt_put(s, st);
	return rc;
}

/* --- certificates -------------------------------------------------------------------- */

static int iterate_certs(struct store *s, sqlite3_stmt *st, store_cert_cb cb, void *ctx)
{
	struct cert c;
	const char *t;
	int rc = 0, step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) != WM_ID_LEN || sqlite3_column_bytes(st, 1) != WM_PUB_LEN ||
		    sqlite3_column_bytes(st, 2) != WM_PUB_LEN) {
			snprintf(s->err, sizeof(s->err), "a stored certificate is damaged");
			rc = WM_ESTORE;
			break;
		}
		memset(&c, 0, sizeof(c));
		memcpy(c.event_id, sqlite3_column_blob(st, 0), WM_ID_LEN);
		memcpy(c.issuer, sqlite3_column_blob(st, 1), WM_PUB_LEN);
		memcpy(c.subject, sqlite3_column_blob(st, 2), WM_PUB_LEN);
		c.role = (enum cert_role)sqlite3_column_int(st, 3);
		t = (const char *)sqlite3_column_text(st, 4);
		snprintf(c.name, sizeof(c.name), "%s", t ? t : "");
		t = (const char *)sqlite3_column_text(st, 5);
		snprintf(c.groups, sizeof(c.groups), "%s", t ? t : "");
		c.not_before = i2u(sqlite3_column_int64(st, 6));
		c.not_after = i2u(sqlite3_column_int64(st, 7));
		c.created_at = i2u(sqlite3_column_int64(st, 8));
		if (cb != NULL && (rc = cb(ctx, &c)) != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = store_fail(s, "read certs");
	stmt_put(s, st);
	return rc;
}

int store_certs_of(struct store *s, const uint8_t subject[WM_PUB_LEN], store_cert_cb cb, void *ctx)
{
	sqlite3_stmt *st;

	if ((st = stmt_get(s, ST_CERTS_OF)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, subject, WM_PUB_LEN, SQLITE_TRANSIENT);
	return iterate_certs(s, st, cb, ctx);
}

int store_certs_issued_by(struct store *s, const uint8_t issuer[WM_PUB_LEN], store_cert_cb cb, void *ctx)
{
	sqlite3_stmt *st;

	if ((st = stmt_get(s, ST_CERTS_BY)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, issuer, WM_PUB_LEN, SQLITE_TRANSIENT);
	return iterate_certs(s, st, cb, ctx);
}

int store_revoked_by(struct store *s, const uint8_t subject[WM_PUB_LEN], const uint8_t signer[WM_PUB_LEN])
{
	sqlite3_stmt *st;
	int rc, step;

	if (s == NULL || subject == NULL || signer == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_REVOKED_BY)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, subject, WM_PUB_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, signer, WM_PUB_LEN, SQLITE_STATIC);
	step = sqlite3_step(st);
	rc = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : store_fail(s, "revoked by");
	stmt_put(s, st);
	return rc;
}

int store_revokes_of(struct store *s, const uint8_t subject[WM_PUB_LEN], store_id_cb cb, void *ctx)
{
	sqlite3_stmt *st;
	int rc = 0, step;

	if (s == NULL || subject == NULL || cb == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_REVOKES_OF)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, subject, WM_PUB_LEN, SQLITE_TRANSIENT);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) != WM_ID_LEN)
			continue;
		if ((rc = cb(ctx, sqlite3_column_blob(st, 0))) != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = store_fail(s, "read revocations");
	stmt_put(s, st);
	return rc;
}

/* --- chains and kept sets ------------------------------------------------------------------ */

static int exec_id(struct store *s, enum stmt_id i, const uint8_t id[WM_ID_LEN], const char *what);

int store_link(struct store *s, const uint8_t id[WM_ID_LEN], struct store_link *out)
{
	sqlite3_stmt *st;
	const char *g;
	int rc = WM_ENOTFOUND, step;

	if (s == NULL || id == NULL || out == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_LINK)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		g = (const char *)sqlite3_column_text(st, 1);
		if (sqlite3_column_bytes(st, 0) != WM_PUB_LEN || g == NULL) {
			rc = WM_ESTORE;
			snprintf(s->err, sizeof(s->err), "a stored event has a bad author or group");
		} else {
			memcpy(out->author, sqlite3_column_blob(st, 0), WM_PUB_LEN);
			snprintf(out->group, sizeof(out->group), "%s", g);
			out->expires_at = i2u(sqlite3_column_int64(st, 2));
			if (sqlite3_column_bytes(st, 3) == WM_ID_LEN) {
				out->has_prev = 1;
				memcpy(out->prev, sqlite3_column_blob(st, 3), WM_ID_LEN);
			}
			rc = 0;
		}
	} else if (step != SQLITE_DONE) {
		rc = store_fail(s, "read a chain link");
	}
	stmt_put(s, st);
	return rc;
}

/* Bind author, signer, id as ?1 ?2 ?3 and run (or step once: *row). */
static int kept_stmt(struct store *s, enum stmt_id i, const uint8_t author[WM_PUB_LEN],
                     const uint8_t signer[WM_PUB_LEN], const uint8_t id[WM_ID_LEN], int *row)
{
	sqlite3_stmt *st;
	int rc = 0, step;

	if (s == NULL || author == NULL || signer == NULL || id == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, i)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, author, WM_PUB_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, signer, WM_PUB_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, id, WM_ID_LEN, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && row != NULL)
		*row = 1;
	else if (step != SQLITE_DONE && step != SQLITE_ROW)
		rc = store_fail(s, "kept set");
	stmt_put(s, st);
	return rc;
}

int store_kept_add(struct store *s, const uint8_t author[WM_PUB_LEN], const uint8_t signer[WM_PUB_LEN],
                   const uint8_t id[WM_ID_LEN])
{
	return kept_stmt(s, ST_KEPT_ADD, author, signer, id, NULL);
}

int store_is_kept(struct store *s, const uint8_t author[WM_PUB_LEN], const uint8_t signer[WM_PUB_LEN],
                  const uint8_t id[WM_ID_LEN])
{
	int row = 0, rc = kept_stmt(s, ST_IS_KEPT, author, signer, id, &row);

	return rc != 0 ? rc : row;
}

int store_gap_add(struct store *s, const uint8_t id[WM_ID_LEN], const uint8_t author[WM_PUB_LEN],
                  const uint8_t signer[WM_PUB_LEN], const char *group)
{
	sqlite3_stmt *st;
	int rc;

	if (s == NULL || id == NULL || author == NULL || signer == NULL || group == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_GAP_ADD)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, author, WM_PUB_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, signer, WM_PUB_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, group, -1, SQLITE_STATIC);
	rc = stmt_exec(s, st, "note a gap");
	stmt_put(s, st);
	return rc;
}

int store_gaps_take(struct store *s, const uint8_t id[WM_ID_LEN], const uint8_t author[WM_PUB_LEN],
                    struct store_gap *out, size_t max, size_t *n)
{
	sqlite3_stmt *st;
	const char *g;
	int rc = 0, step;

	if (s == NULL || id == NULL || author == NULL || out == NULL || n == NULL)
		return WM_EINVAL;
	*n = 0;
	if ((st = stmt_get(s, ST_GAPS_AT)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, author, WM_PUB_LEN, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		g = (const char *)sqlite3_column_text(st, 2);
		if (sqlite3_column_bytes(st, 0) != WM_PUB_LEN || sqlite3_column_bytes(st, 1) != WM_PUB_LEN ||
		    g == NULL)
			continue;
		memcpy(out[*n].author, sqlite3_column_blob(st, 0), WM_PUB_LEN);
		memcpy(out[*n].signer, sqlite3_column_blob(st, 1), WM_PUB_LEN);
		snprintf(out[*n].group, sizeof(out[*n].group), "%s", g);
		(*n)++;
	}
	if (step != SQLITE_DONE && step != SQLITE_ROW)
		rc = store_fail(s, "read gaps");
	stmt_put(s, st);
	if (rc == 0 && *n > 0)
		rc = exec_id(s, ST_GAP_DEL, id, "close a gap");
	return rc;
}

/* --- writing ------------------------------------------------------------------------------ */

/* The search key of an event made at created_at with this id: its own
 * (store_search_key), or when another event of the same millisecond holds
 * that, the first free one of the millisecond; *none when all 16 are
 * taken (the event then gets -seq, listed after all others, once its seq
 * is known).  Reads one key, or at most the 16 of one millisecond. */
static int search_key_free(struct store *s, sqlite3_int64 key, sqlite3_int64 *out, int *none)
{
	const sqlite3_int64 slots = (sqlite3_int64)1 << STORE_SEARCH_SLOT_BITS;
	const sqlite3_int64 base = key & ~(slots - 1);
	sqlite3_int64 want = base;
	sqlite3_stmt *st;
	int step;

	if ((st = stmt_get(s, ST_KEY_TAKEN)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_int64(st, 1, key);
	step = sqlite3_step(st);
	stmt_put(s, st);
	if (step == SQLITE_DONE) {
		*out = key;
		*none = 0;
		return 0;
	}
	if (step != SQLITE_ROW)
		return store_fail(s, "search keys");
	if ((st = stmt_get(s, ST_SEARCH_SLOTS)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_int64(st, 1, base);
	sqlite3_bind_int64(st, 2, base + slots - 1);
	/* the keys come in order: the first one missing is free */
	while ((step = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_int64(st, 0) == want)
		want++;
	stmt_put(s, st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return store_fail(s, "search keys");
	*out = want;
	*none = want >= base + slots;
	return 0;
}

/* Add v (text: a group's name, else an author's key) with statement i,
 * and its number in *out. */
static int add_name(struct store *s, enum stmt_id i, const char *v, int text, sqlite3_int64 *out)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = stmt_get(s, i)) == NULL)
		return WM_ESTORE;
	if (text)
		sqlite3_bind_text(st, 1, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_blob(st, 1, v, WM_PUB_LEN, SQLITE_STATIC);
	rc = stmt_exec(s, st, text ? "add group" : "add author");
	stmt_put(s, st);
	if (rc == 0)
		*out = sqlite3_last_insert_rowid(s->db);
	return rc;
}

/* Before ev's insert: WM_EDUP if it is held (the id's index is not
 * UNIQUE: STORE_ID_IS; not looked for again when the handle knows it is
 * not, struct known), else the numbers of its author and group, added to
 * `authors` and `grps` when new. */
static int pre_insert(struct store *s, const struct event *ev, sqlite3_int64 *aid, sqlite3_int64 *gid)
{
	sqlite3_stmt *st;
	int step, dup = 0, noaid = 0, nogid = 0, rc = 0;

	if ((st = stmt_get(s, ST_PRE_INSERT)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, ev->id, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, ev->author, WM_PUB_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ev->group, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, known_take(s, ev->id));
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		dup = sqlite3_column_int(st, 0);
		noaid = sqlite3_column_type(st, 1) == SQLITE_NULL;
		nogid = sqlite3_column_type(st, 2) == SQLITE_NULL;
		*aid = sqlite3_column_int64(st, 1);
		*gid = sqlite3_column_int64(st, 2);
	}
	stmt_put(s, st);
	if (step != SQLITE_ROW)
		return store_fail(s, "look up before an insert");
	if (dup)
		return WM_EDUP;
	if (noaid)
		rc = add_name(s, ST_AUTHOR_ADD, (const char *)ev->author, 0, aid);
	if (rc == 0 && nogid)
		rc = add_name(s, ST_GRP_ADD, ev->group, 1, gid);
	return rc;
}

static int insert_locked(struct store *s, const struct event *ev, int64_t received_at)
{
	sqlite3_stmt *st;
	sqlite3_int64 seq, key = 0, aid = 0, gid = 0;
	char *text = NULL;
	uint8_t *raw = NULL;
	size_t textlen, rawlen, i;
	int rc, nokey = 0;

	if ((rc = pre_insert(s, ev, &aid, &gid)) != 0 || (rc = store_search_text(ev, &text, &textlen)) != 0)
		return rc;
	if ((raw = malloc(ev->wire_len)) == NULL) {
		rc = WM_ENOMEM;
		goto out;
	}
	if ((rawlen = store_raw_cut(ev->wire, ev->wire_len, ev->author, raw)) == 0) {
		memcpy(raw, ev->wire, ev->wire_len);   /* not of an event's shape: kept whole */
		rawlen = ev->wire_len;
	}
	if (textlen > 0 &&
	    (rc = search_key_free(s, store_search_key(store_u2i(ev->created_at), ev->id), &key, &nokey)) != 0)
		goto out;
	if ((st = stmt_get(s, ST_INSERT)) == NULL) {
		rc = WM_ESTORE;
		goto out;
	}
	sqlite3_bind_blob(st, 1, ev->id, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, store_u2i(ev->created_at));
	sqlite3_bind_int(st, 3, (int)ev->kind);
	sqlite3_bind_int64(st, 4, gid);
	sqlite3_bind_int64(st, 5, aid);
	sqlite3_bind_int64(st, 6, store_u2i(ev->expires_at));
	sqlite3_bind_blob(st, 7, raw, (int)rawlen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, received_at);
	if (ev->has_prev)
		sqlite3_bind_blob(st, 9, ev->prev, WM_ID_LEN, SQLITE_STATIC);
	if (textlen > 0 && !nokey)          /* its slot: search_key is computed (store_int.h) */
		sqlite3_bind_int64(st, 10, key & (((sqlite3_int64)1 << STORE_SEARCH_SLOT_BITS) - 1));
	rc = stmt_exec(s, st, "insert event");
	stmt_put(s, st);
	if (rc != 0)
		goto out;
	seq = sqlite3_last_insert_rowid(s->db);
	s->inserted_seq = seq;
	if ((rc = agg_add(s, ev->group, ev->created_at, ev->id)) != 0)
		goto out;

	for (i = 0; i < ev->nrefs && i < WM_MAX_REFS; i++) {
		if ((st = stmt_get(s, ST_INSERT_REF)) == NULL) {
			rc = WM_ESTORE;
			goto out;
		}
		sqlite3_bind_int64(st, 1, seq);
		sqlite3_bind_int(st, 2, (int)i);
		sqlite3_bind_blob(st, 3, ev->refs[i], WM_ID_LEN, SQLITE_STATIC);
		rc = stmt_exec(s, st, "insert ref");
		stmt_put(s, st);
		if (rc != 0)
			goto out;
	}
	if (textlen > 0 && nokey) {
		key = -seq;
		if ((st = stmt_get(s, ST_SET_KEY)) == NULL) {
			rc = WM_ESTORE;
			goto out;
		}
		sqlite3_bind_int64(st, 1, seq);
		sqlite3_bind_int64(st, 2, key);
		rc = stmt_exec(s, st, "index text");
		stmt_put(s, st);
	}
	if (rc == 0 && textlen > 0)
		rc = idx_add(s, key, text, textlen);
out:
	free(text);
	free(raw);
	return rc;
}

int store_insert(struct store *s, const struct event *ev, int64_t received_at)
{
	int own, rc;

	if (s == NULL || ev == NULL || ev->wire == NULL)
		return WM_EINVAL;
	if ((rc = auto_begin(s, &own)) != 0)
		return rc;
	rc = insert_locked(s, ev, received_at);
	if (rc == WM_EDUP) {
		auto_end(s, own, 0);
		return WM_EDUP;
	}
	return auto_end(s, own, rc);
}

int64_t store_inserted_seq(const struct store *s)
{
	return s != NULL ? s->inserted_seq : 0;
}

int store_add_cert(struct store *s, const struct event *ev, const struct cert *c)
{
	sqlite3_stmt *st;
	int rc;

	if (s == NULL || ev == NULL || c == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_ADD_CERT)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, ev->id, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, c->issuer, WM_PUB_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, c->subject, WM_PUB_LEN, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, (int)c->role);
	sqlite3_bind_text(st, 5, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, c->groups, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, store_u2i(c->not_before));
	sqlite3_bind_int64(st, 8, store_u2i(c->not_after));
	sqlite3_bind_int64(st, 9, store_u2i(c->created_at));
	rc = stmt_exec(s, st, "add cert");
	stmt_put(s, st);
	return rc;
}

int store_add_revocation(struct store *s, const struct event *ev,
                         const uint8_t subject[WM_PUB_LEN], uint64_t at)
{
	sqlite3_stmt *st;
	int rc;

	if (s == NULL || ev == NULL || subject == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_ADD_REVOKE)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, ev->id, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, ev->author, WM_PUB_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, subject, WM_PUB_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, store_u2i(at));
	rc = stmt_exec(s, st, "add revocation");
	stmt_put(s, st);
	return rc;
}

/* seq of a held event and whether it is retracted; WM_ENOTFOUND if absent. */
static int seq_of(struct store *s, const uint8_t id[WM_ID_LEN], sqlite3_int64 *seq, int *retracted)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = stmt_get(s, ST_SEQ_OF)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		*retracted = sqlite3_column_int(st, 1);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = WM_ENOTFOUND;
	} else {
		rc = store_fail(s, "find event");
	}
	stmt_put(s, st);
	return rc;
}

static int exec_seq(struct store *s, enum stmt_id i, sqlite3_int64 seq, const char *what)
{
	sqlite3_stmt *st = stmt_get(s, i);
	int rc;

	if (st == NULL)
		return WM_ESTORE;
	sqlite3_bind_int64(st, 1, seq);
	rc = stmt_exec(s, st, what);
	stmt_put(s, st);
	return rc;
}

static int exec_id(struct store *s, enum stmt_id i, const uint8_t id[WM_ID_LEN], const char *what)
{
	sqlite3_stmt *st = stmt_get(s, i);
	int rc;

	if (st == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	rc = stmt_exec(s, st, what);
	stmt_put(s, st);
	return rc;
}

/* Take the text of the event at seq out of search, while raw still has
 * the text the index forgets it by. */
static int unindex(struct store *s, sqlite3_int64 seq)
{
	int rc = idx_flush(s);

	return rc != 0 ? rc : exec_seq(s, ST_DEL_IDX, seq, "unindex text");
}

/* The withheld form of the stored event at seq (*wh malloc'd). */
static int withheld_of(struct store *s, sqlite3_int64 seq, uint8_t **wh, size_t *whlen)
{
	sqlite3_stmt *st;
	struct raw_buf b = { 0 };
	const uint8_t *wire;
	size_t n;
	int rc;

	if ((st = stmt_get(s, ST_RAW_OF)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = store_fail(s, "read the event to withhold");
	} else if ((rc = row_raw(s, st, 0, 1, &b, &wire, &n)) == 0) {
		rc = event_withheld(wire, n, wh, whlen);
		if (rc != 0 && rc != WM_ENOMEM) {
			snprintf(s->err, sizeof(s->err), "a stored event is not a wire event (%s)", wm_strerror(rc));
			rc = WM_ESTORE;
		}
	}
	stmt_put(s, st);
	free(b.p);
	return rc;
}

int store_retract(struct store *s, const uint8_t target[WM_ID_LEN], const uint8_t by[WM_ID_LEN])
{
	sqlite3_stmt *st;
	sqlite3_int64 seq;
	uint8_t *wh = NULL;
	size_t whlen = 0;
	int own, retracted, rc;

	if (s == NULL || target == NULL || by == NULL)
		return WM_EINVAL;
	if ((rc = auto_begin(s, &own)) != 0)
		return rc;
	if ((rc = seq_of(s, target, &seq, &retracted)) != 0 || retracted)
		goto out;       /* retracting twice keeps the first retraction */
	if ((rc = withheld_of(s, seq, &wh, &whlen)) != 0)
		goto out;
	if ((rc = unindex(s, seq)) != 0)
		goto out;
	if ((st = stmt_get(s, ST_RETRACT)) == NULL) {
		rc = WM_ESTORE;
		goto out;
	}
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_blob(st, 2, by, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, wh, (int)whlen, SQLITE_STATIC);
	rc = stmt_exec(s, st, "retract");
	stmt_put(s, st);
	if (rc == 0)
		rc = exec_seq(s, ST_DEL_REFS, seq, "drop refs");
out:
	free(wh);
	if (rc == WM_ENOTFOUND) {
		auto_end(s, own, 0);
		return rc;
	}
	return auto_end(s, own, rc);
}

int store_delete(struct store *s, const uint8_t id[WM_ID_LEN])
{
	sqlite3_int64 seq;
	int own, retracted, rc;

	if (s == NULL || id == NULL)
		return WM_EINVAL;
	if ((rc = auto_begin(s, &own)) != 0)
		return rc;
	if ((rc = seq_of(s, id, &seq, &retracted)) != 0)
		goto out;
	s->gone_valid = store_info(s, id, &s->gone) == 0;
	memcpy(s->gone_id, id, WM_ID_LEN);
	if ((rc = unindex(s, seq)) != 0 ||
	    (rc = exec_seq(s, ST_DEL_REFS, seq, "drop refs")) != 0 ||
	    (rc = exec_id(s, ST_DEL_CERT, id, "drop cert")) != 0 ||
	    (rc = exec_id(s, ST_DEL_REVOKE, id, "drop revocation")) != 0 ||
	    (rc = exec_id(s, ST_UNWAIT_RETRACT, id, "drop waiting retraction")) != 0 ||
	    (rc = exec_seq(s, ST_DEL_EVENT, seq, "delete event")) != 0)
		goto out;
out:
	if (rc == WM_ENOTFOUND) {
		auto_end(s, own, 0);
		return rc;
	}
	return auto_end(s, own, rc);
}

static int remember(struct store *s, const uint8_t id[WM_ID_LEN], int code, const char *why,
                    int known, uint64_t created_at, const char *group, uint64_t expires_at)
{
	sqlite3_stmt *st;
	int rc;

	if (s == NULL || id == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_REMEMBER)) == NULL)
		return WM_ESTORE;
	(void)known_take(s, id);
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, code);
	sqlite3_bind_text(st, 3, why && why[0] ? why : wm_strerror(code), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL) * 1000);
	sqlite3_bind_int64(st, 7, 0);
	if (known && group != NULL) {   /* else NULL: not counted by repair */
		sqlite3_bind_int64(st, 5, store_u2i(created_at));
		sqlite3_bind_text(st, 6, group, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, store_u2i(expires_at));
	}
	rc = stmt_exec(s, st, "remember rejection");
	stmt_put(s, st);
	return rc;
}

int store_remember_rejected(struct store *s, const uint8_t id[WM_ID_LEN], int code, const char *why)
{
	int known;

	if (s == NULL || id == NULL)
		return WM_EINVAL;
	known = s->gone_valid && memcmp(s->gone_id, id, WM_ID_LEN) == 0;
	return remember(s, id, code, why, known, known ? s->gone.created_at : 0,
	                known ? s->gone.group : NULL, known ? s->gone.expires_at : 0);
}

int store_remember_rejected_item(struct store *s, const uint8_t id[WM_ID_LEN], int code,
                                 const char *why, uint64_t created_at, const char *group,
                                 uint64_t expires_at)
{
	return remember(s, id, code, why, 1, created_at, group, expires_at);
}

/* Note `by` (unless NULL) and the revocations that count against the
 * author's chain now as what decided the hidden event id. */
static int hidden_notes(struct store *s, const uint8_t id[WM_ID_LEN], const uint8_t author[WM_PUB_LEN],
                        const uint8_t *by)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = exec_id(s, ST_UNHIDE_BY, id, "forget what hid an event")) != 0)
		return rc;
	if (by != NULL) {
		if ((st = stmt_get(s, ST_HIDE_BY)) == NULL)
			return WM_ESTORE;
		sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, by, WM_ID_LEN, SQLITE_STATIC);
		rc = stmt_exec(s, st, "note what hid an event");
		stmt_put(s, st);
		if (rc != 0)
			return rc;
	}
	if ((st = stmt_get(s, ST_HIDE_BY_CHAIN)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, author, WM_PUB_LEN, SQLITE_STATIC);
	rc = stmt_exec(s, st, "note what hid an event");
	stmt_put(s, st);
	return rc;
}

/* The author of a hidden event; WM_ENOTFOUND if id is not hidden. */
static int hidden_author(struct store *s, const uint8_t id[WM_ID_LEN], uint8_t author[WM_PUB_LEN])
{
	sqlite3_stmt *st = stmt_get(s, ST_HIDDEN_AUTHOR);
	int rc = WM_ENOTFOUND, step;

	if (st == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, id, WM_ID_LEN, SQLITE_STATIC);
	if ((step = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == WM_PUB_LEN) {
		memcpy(author, sqlite3_column_blob(st, 0), WM_PUB_LEN);
		rc = 0;
	} else if (step != SQLITE_DONE && step != SQLITE_ROW) {
		rc = store_fail(s, "read a hidden event");
	}
	stmt_put(s, st);
	return rc;
}

int store_hide(struct store *s, const uint8_t id[WM_ID_LEN], const uint8_t *by, int code,
               const char *why)
{
	struct store_info info;
	uint8_t author[WM_PUB_LEN];
	int own, rc;

	if (s == NULL || id == NULL)
		return WM_EINVAL;
	if ((rc = auto_begin(s, &own)) != 0)
		return rc;
	rc = store_info(s, id, &info);
	if (rc == WM_ENOTFOUND) {
		/* hidden already: judged again, still refused */
		if ((rc = hidden_author(s, id, author)) == 0 && (rc = hidden_notes(s, id, author, by)) == 0)
			rc = remember(s, id, code, why, 0, 0, NULL, 0);
		goto out;
	}
	if (rc != 0)
		goto out;
	if (info.retracted) {
		/* its content is gone already: nothing to hide or give back */
		snprintf(s->err, sizeof(s->err), "a retracted event cannot be hidden");
		rc = WM_EINVAL;
		goto out;
	}
	if ((rc = exec_id(s, ST_HIDE, id, "hide event")) != 0 ||
	    (rc = hidden_notes(s, id, info.author, by)) != 0 ||
	    (rc = store_delete(s, id)) != 0)
		goto out;
	rc = remember(s, id, code, why, 1, info.created_at, info.group, info.expires_at);
out:
	return auto_end(s, own, rc);
}

int store_hidden_by(struct store *s, const uint8_t revoke[WM_ID_LEN], store_event_cb cb, void *ctx)
{
	struct stored_event e;
	sqlite3_stmt *st;
	int rc = 0, step;

	if (s == NULL || revoke == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_HIDDEN_BY)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, revoke, WM_ID_LEN, SQLITE_TRANSIENT);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&e, 0, sizeof(e));
		if (sqlite3_column_bytes(st, 0) != WM_ID_LEN) {
			snprintf(s->err, sizeof(s->err), "a hidden event has a bad id");
			rc = WM_ESTORE;
			break;
		}
		memcpy(e.id, sqlite3_column_blob(st, 0), WM_ID_LEN);
		e.wire = sqlite3_column_blob(st, 1);
		e.wire_len = (size_t)sqlite3_column_bytes(st, 1);
		e.group = "";
		if ((rc = cb(ctx, &e)) != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = store_fail(s, "read hidden events");
	stmt_put(s, st);
	return rc;
}

int store_unhide(struct store *s, const uint8_t id[WM_ID_LEN])
{
	int own, rc;

	if (s == NULL || id == NULL)
		return WM_EINVAL;
	if ((rc = auto_begin(s, &own)) != 0)
		return rc;
	if ((rc = exec_id(s, ST_UNHIDE, id, "unhide event")) == 0 &&
	    (rc = exec_id(s, ST_UNHIDE_BY, id, "unhide event")) == 0)
		rc = exec_id(s, ST_UNHIDE_REJ, id, "unhide event");
	return auto_end(s, own, rc);
}

int store_was_rejected(struct store *s, const uint8_t id[WM_ID_LEN], int *code, char why[WM_WHY_LEN])
{
	int rc = lookup_row(s, ST_WAS_REJECTED, id, code, why);

	return rc == STORE_REFUSED ? 1 : rc;
}

/* Retractions that waited STORE_RETRACT_WAIT_MS for a target that never
 * came: deleted, and remembered so that repair counts them as held and
 * does not fetch them back from a neighbour whose wait is not over. */
static int collect_waiting(struct store *s, uint64_t now, int64_t *deleted)
{
	uint8_t (*ids)[WM_ID_LEN] = NULL, (*v)[WM_ID_LEN];
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *st;
	char why[WM_WHY_LEN];
	int rc;

	if (now < STORE_RETRACT_WAIT_MS)
		return 0;
	if ((st = stmt_get(s, ST_WAIT_EXPIRED)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_int64(st, 1, store_u2i(now - STORE_RETRACT_WAIT_MS));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) != WM_ID_LEN)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if ((v = realloc(ids, cap * sizeof(*ids))) == NULL) {
				rc = WM_ENOMEM;
				break;
			}
			ids = v;
		}
		memcpy(ids[n++], sqlite3_column_blob(st, 0), WM_ID_LEN);
	}
	rc = rc == SQLITE_DONE ? 0 : rc == WM_ENOMEM ? rc : store_fail(s, "waiting retractions");
	stmt_put(s, st);
	wm_why(why, "a retraction whose target never came (waited %llu days)",
	       (unsigned long long)(STORE_RETRACT_WAIT_MS / 86400000u));
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = store_delete(s, ids[i])) == 0)
			rc = store_remember_rejected(s, ids[i], WM_EEXPIRED, why);
		if (rc == 0)
			(*deleted)++;
	}
	free(ids);
	return rc;
}

int store_collect_expired(struct store *s, uint64_t now, int64_t *n)
{
	static const enum stmt_id steps[] = { ST_EXP_IDX, ST_EXP_REFS, ST_EXP_EVENTS, ST_EXP_REJECTED,
	                                      ST_EXP_HIDDEN, ST_EXP_HIDDEN_BY };
	sqlite3_stmt *st;
	int64_t deleted = 0;
	int own, rc = 0;
	size_t i;

	if (s == NULL)
		return WM_EINVAL;
	if ((rc = auto_begin(s, &own)) != 0)
		return rc;
	rc = idx_flush(s);              /* ST_EXP_IDX deletes from the index */
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]) && rc == 0; i++) {
		if ((st = stmt_get(s, steps[i])) == NULL) {
			rc = WM_ESTORE;
			break;
		}
		sqlite3_bind_int64(st, 1, store_u2i(now));
		rc = stmt_exec(s, st, "collect expired");
		stmt_put(s, st);
		if (rc == 0 && steps[i] == ST_EXP_EVENTS)
			deleted = sqlite3_changes64(s->db);
	}
	if (rc == 0)
		rc = collect_waiting(s, now, &deleted);
	rc = auto_end(s, own, rc);
	if (rc == 0 && n != NULL)
		*n = deleted;
	return rc;
}

int store_meta_get(struct store *s, const char *key, char *val, size_t vallen)
{
	sqlite3_stmt *st;
	const char *t;
	size_t n;
	int rc;

	struct meta_cached *m;

	if (s == NULL || key == NULL || val == NULL || vallen == 0)
		return WM_EINVAL;
	if ((m = meta_find(s, key)) != NULL) {
		if (m->val == NULL)
			return WM_ENOTFOUND;
		if (strlen(m->val) >= vallen)
			return WM_ETOOBIG;
		memcpy(val, m->val, strlen(m->val) + 1);
		return 0;
	}
	if ((st = stmt_get(s, ST_META_GET)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		t = (const char *)sqlite3_column_text(st, 0);
		n = (size_t)sqlite3_column_bytes(st, 0);
		if (n >= vallen) {
			rc = WM_ETOOBIG;
		} else {
			memcpy(val, t ? t : "", n);
			val[n] = '\0';
			rc = 0;
			meta_remember(s, key, val);
		}
	} else if (rc == SQLITE_DONE) {
		rc = WM_ENOTFOUND;
		meta_remember(s, key, NULL);
	} else {
		rc = store_fail(s, "meta get");
	}
	stmt_put(s, st);
	return rc;
}

int store_meta_set(struct store *s, const char *key, const char *val)
{
	sqlite3_stmt *st;
	int rc;

	if (s == NULL || key == NULL || val == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_META_SET)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
	rc = stmt_exec(s, st, "meta set");
	stmt_put(s, st);
	if (rc == 0)
		meta_remember(s, key, val);
	return rc;
}

int store_wait_retract(struct store *s, const uint8_t target[WM_ID_LEN], const uint8_t retract[WM_ID_LEN])
{
	sqlite3_stmt *st;
	int rc;

	if (s == NULL || target == NULL || retract == NULL)
		return WM_EINVAL;
	if ((st = stmt_get(s, ST_WAIT)) == NULL)
		return WM_ESTORE;
	s->known.no_waiting = 0;
	sqlite3_bind_blob(st, 1, target, WM_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, retract, WM_ID_LEN, SQLITE_STATIC);
	rc = stmt_exec(s, st, "wait retraction");
	stmt_put(s, st);
	return rc;
}

/* 1 if no retract waits (known, or asked: what a write transaction finds
 * is kept, struct known), 0 if one may, <0 on error. */
static int none_waiting(struct store *s)
{
	sqlite3_stmt *st;
	int rc;

	if (!store_in_transaction(s))
		return 0;
	if (s->known.no_waiting)
		return 1;
	if ((st = stmt_get(s, ST_ANY_WAITING)) == NULL)
		return WM_ESTORE;
	rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) == 0
	                                    : store_fail(s, "look for waiting retracts");
	stmt_put(s, st);
	if (rc == 1)
		s->known.no_waiting = 1;
	return rc;
}

int store_waiting_retracts(struct store *s, const uint8_t target[WM_ID_LEN], store_event_cb cb, void *ctx)
{
	sqlite3_stmt *st;
	int rc;

	if (s == NULL || target == NULL)
		return WM_EINVAL;
	if ((rc = none_waiting(s)) != 0)
		return rc < 0 ? rc : 0;
	if ((st = stmt_get(s, ST_WAITING)) == NULL)
		return WM_ESTORE;
	sqlite3_bind_blob(st, 1, target, WM_ID_LEN, SQLITE_TRANSIENT);
	return iterate_events(s, st, cb, ctx);
}

int store_unwait_retracts(struct store *s, const uint8_t target[WM_ID_LEN])
{
	if (s == NULL || target == NULL)
		return WM_EINVAL;
	return exec_id(s, ST_UNWAIT, target, "unwait retractions");
}
