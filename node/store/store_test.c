/*
 * node/store/store_test.c: what only tests and benchmarks call (declared in
 * store_int.h), built into its own library, wmstore_test, so that the
 * program never links it: rows without events behind them, and savepoints
 * (ingest stopped using them; the tests still check that the store's
 * writes undo cleanly inside one).
 */
#include <stdio.h>

#include "store_int.h"

int store_neg_insert_raw(struct store *s, const struct store_neg_raw *rows, size_t n)
{
	static const uint8_t zero[32];
	sqlite3_stmt *st = NULL, *grp = NULL, *has = NULL, *agg = NULL, *fine = NULL;
	sqlite3 *db;
	size_t i;
	int rc = 0, step;

	if (s == NULL || (rows == NULL && n))
		return WM_EINVAL;
	db = store_db(s);
	store_known_forget(s);          /* its rows go in around store_insert */
	/* raw: the empty wrapper [b"", 64 zero bytes, b""], which store_retract
	 * can take apart like any stored event */
	if (sqlite3_exec(db, "INSERT OR IGNORE INTO authors (key) VALUES (zeroblob(32))", NULL, NULL,
	                 NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO grps (name) VALUES (?1)", -1, &grp, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM events WHERE " STORE_ID_IS("", "?1"), -1, &has, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO events (id, created_at, kind, grp, author, expires_at, raw,"
	                       " received_at) VALUES (?1, ?2, 0, (SELECT gid FROM grps WHERE name = ?3),"
	                       " (SELECT aid FROM authors WHERE key = ?4), ?5,"
	                       " x'93c400c440' || zeroblob(64) || x'c400', 0)", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, STORE_NEG_AGG_UPSERT, -1, &agg, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, STORE_NEG_FINE_UPSERT, -1, &fine, NULL) != SQLITE_OK) {
		sqlite3_finalize(grp);
		sqlite3_finalize(has);
		sqlite3_finalize(st);
		sqlite3_finalize(agg);
		return WM_ESTORE;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (rows[i].group == NULL) {
			rc = WM_EINVAL;
			break;
		}
		sqlite3_bind_text(grp, 1, rows[i].group, -1, SQLITE_STATIC);
		if (sqlite3_step(grp) != SQLITE_DONE) {
			fprintf(stderr, "watchmesh store: raw insert: %s\n", sqlite3_errmsg(db));
			rc = WM_ESTORE;
			break;
		}
		sqlite3_reset(grp);
		/* a row whose id is there is skipped (the id's index is not UNIQUE) */
		sqlite3_bind_blob(has, 1, rows[i].id, NEG_ID_LEN, SQLITE_STATIC);
		step = sqlite3_step(has);
		sqlite3_reset(has);
		if (step == SQLITE_ROW)
			continue;
		if (step != SQLITE_DONE) {
			fprintf(stderr, "watchmesh store: raw insert: %s\n", sqlite3_errmsg(db));
			rc = WM_ESTORE;
			break;
		}
		sqlite3_bind_blob(st, 1, rows[i].id, NEG_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, store_u2i(rows[i].created_at));
		sqlite3_bind_text(st, 3, rows[i].group, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, zero, sizeof zero, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, store_u2i(rows[i].expires_at));
		if (sqlite3_step(st) != SQLITE_DONE) {
			fprintf(stderr, "watchmesh store: raw insert: %s\n", sqlite3_errmsg(db));
			rc = WM_ESTORE;
		} else if (sqlite3_changes(db) == 1) {
			/* a new row: count it where the insert trigger did before schema 3 */
			const char *g[2] = { rows[i].group, "*" };
			int k;

			for (k = 0; k < 4 && rc == 0; k++) {
				sqlite3_stmt *u = k < 2 ? agg : fine;

				sqlite3_bind_text(u, 1, g[k % 2], -1, SQLITE_STATIC);
				sqlite3_bind_int64(u, 2, store_u2i(rows[i].created_at >> (k < 2 ? STORE_NEG_BUCKET_SHIFT
				                                                             : STORE_NEG_FINE_SHIFT)));
				sqlite3_bind_int(u, 3, 1);
				sqlite3_bind_blob(u, 4, rows[i].id, NEG_ID_LEN, SQLITE_STATIC);
				if (sqlite3_step(u) != SQLITE_DONE) {
					fprintf(stderr, "watchmesh store: raw insert: %s\n", sqlite3_errmsg(db));
					rc = WM_ESTORE;
				}
				sqlite3_reset(u);
			}
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(grp);
	sqlite3_finalize(has);
	sqlite3_finalize(st);
	sqlite3_finalize(agg);
	sqlite3_finalize(fine);
	return rc;
}

/* The savepoints are all named wm: RELEASE and ROLLBACK TO act on the
 * innermost, so SQLite itself keeps the nesting.  Asked for one that is
 * not there it answers SQLITE_ERROR ("no such savepoint"). */
static int savepoint_exec(struct store *s, const char *sql)
{
	sqlite3 *db = store_db(s);
	int rc;

	if (db == NULL)
		return WM_EINVAL;
	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) == SQLITE_OK)
		return 0;
	return rc == SQLITE_ERROR ? WM_EINVAL : WM_ESTORE;
}

/* The aggregates summed in memory go into the transaction before a
 * savepoint opens or ends, so a rollback to one drops exactly the sums
 * made since it opened. */
int store_savepoint(struct store *s)
{
	int rc = store_agg_flush(s);

	if (!store_in_transaction(s))
		store_known_forget(s);  /* a transaction begun without store_begin's check */

	return rc != 0 ? rc : savepoint_exec(s, "SAVEPOINT wm");
}

int store_release(struct store *s)
{
	int rc = store_agg_flush(s);

	return rc != 0 ? rc : savepoint_exec(s, "RELEASE wm");
}

int store_rollback_savepoint(struct store *s)
{
	store_agg_drop(s);
	store_known_forget(s);
	return savepoint_exec(s, "ROLLBACK TO wm; RELEASE wm");
}
