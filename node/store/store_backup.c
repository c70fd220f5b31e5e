/*
 * node/store/store_backup.c: backups of a node's store (store_backup.h).
 *
 * The copy is read in one step from one read transaction: in WAL mode that
 * is a snapshot, so the daemon's writes go on and the copy is of one
 * moment.  (A copy in several steps would start over each time another
 * process writes, and a busy node writes all the time.)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_backup.h"
#include "store_int.h"

static int fail(sqlite3 *db, char why[WM_WHY_LEN], const char *what, const char *path)
{
	wm_why(why, "%s %s: %s", what, path, db ? sqlite3_errmsg(db) : "out of memory");
	return WM_ESTORE;
}

/* Copy src's main database into dst's, whole, from one snapshot. */
static int copy_db(sqlite3 *src, sqlite3 *dst, const char *src_path, char why[WM_WHY_LEN])
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc;

	if (!b)
		return fail(dst, why, "cannot start copying", src_path);
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		return fail(dst, why, "cannot copy", src_path);
	return 0;
}

static int exec(sqlite3 *db, const char *sql, const char *path, char why[WM_WHY_LEN])
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(db, why, "cannot write", path);
}

static int meta_put(sqlite3 *db, const char *key, const char *val, const char *path, char why[WM_WHY_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", -1, &st,
	                       NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		rc = fail(db, why, "cannot write", path);
	sqlite3_finalize(st);
	return rc;
}

/* Open a new file for the copy, refusing one that exists. */
static int open_new(const char *path, sqlite3 **db, char why[WM_WHY_LEN])
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		wm_why(why, errno == EEXIST ? "%s already exists; not replacing it" : "cannot create %s: %s", path,
		       strerror(errno));
		return WM_EIO;
	}
	close(fd);
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		int rc = fail(*db, why, "cannot open", path);
		sqlite3_close(*db);
		*db = NULL;
		unlink(path);
		return rc;
	}
	sqlite3_busy_timeout(*db, 5000);
	return 0;
}

/* The copy as one file that stands alone: a WAL header would make anyone
 * who opens it write -wal and -shm beside it. */
static int finish_copy(sqlite3 *db, const char *path, char why[WM_WHY_LEN])
{
	return exec(db, "PRAGMA journal_mode = DELETE", path, why);
}

int store_backup(const char *db_path, const char *out_path, const char *network_hex,
                 const char *sealed_key, char why[WM_WHY_LEN])
{
	sqlite3 *src = NULL, *dst = NULL;
	char tmp[PATH_MAX], made[24];
	struct timespec ts;
	int rc;

	if (access(out_path, F_OK) == 0) {
		wm_why(why, "%s already exists; not replacing it (choose another --out)", out_path);
		return WM_EIO;
	}
	if (snprintf(tmp, sizeof tmp, "%s.tmp", out_path) >= (int)sizeof tmp) {
		wm_why(why, "path too long: %s", out_path);
		return WM_EINVAL;
	}
	if (sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = fail(src, why, "cannot open", db_path);
		goto out;
	}
	sqlite3_busy_timeout(src, 5000);
	if ((rc = open_new(tmp, &dst, why)) != 0)
		goto out;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(made, sizeof made, "%" PRId64, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	if ((rc = copy_db(src, dst, db_path, why)) != 0 ||
	    (rc = meta_put(dst, "backup.network", network_hex, tmp, why)) != 0 ||
	    (rc = meta_put(dst, "backup.made_at", made, tmp, why)) != 0 ||
	    (sealed_key && (rc = meta_put(dst, "backup.node_key", sealed_key, tmp, why)) != 0) ||
	    (rc = finish_copy(dst, tmp, why)) != 0)
		goto out;
	if (sqlite3_close(dst) != SQLITE_OK) {
		rc = fail(dst, why, "cannot close", tmp);
		goto out;
	}
	dst = NULL;
	if (rename(tmp, out_path) != 0) {
		wm_why(why, "cannot rename %s to %s: %s", tmp, out_path, strerror(errno));
		rc = WM_EIO;
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(src);
	if (dst || rc) {
		sqlite3_close(dst);
		unlink(tmp);
	}
	return rc;
}

/* One value of the meta table as a string; "" if absent. */
static int meta_read(sqlite3 *db, const char *key, char **out)
{
	sqlite3_stmt *st = NULL;
	int rc = WM_ESTORE;

	*out = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*out = strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
		break;
	case SQLITE_DONE:
		*out = strdup("");
		break;
	default:
		goto out;
	}
	rc = *out ? 0 : WM_ENOMEM;
out:
	sqlite3_finalize(st);
	return rc;
}

static int one_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int rc = WM_ESTORE;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int store_backup_check(const char *path, struct store_backup_info *info, char why[WM_WHY_LEN])
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *net = NULL, *made = NULL, *key = NULL;
	int64_t v = 0, n = 0;
	const char *res;
	int rc = WM_EFORMAT;

	memset(info, 0, sizeof *info);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = fail(db, why, "cannot open", path);
		goto out;
	}
	/* the search index's tokenizer: integrity_check reads that table too */
	if (store_search_register(db) != 0 || one_int(db, "PRAGMA user_version", &v) != 0) {
		wm_why(why, "%s is not a watchmesh backup (not a database SQLite can read)", path);
		goto out;
	}
	if (v < STORE_FORMAT2_VERSION || v > STORE_SCHEMA_VERSION) {
		wm_why(why, v > STORE_SCHEMA_VERSION
		       ? "%s is of store schema %d, newer than this watchmesh reads (%d); restore it with a newer watchmesh"
		       : "%s is of store schema %d, from before event format 2 (schema %d), which nothing can convert",
		       path, (int)v, v > STORE_SCHEMA_VERSION ? STORE_SCHEMA_VERSION : STORE_FORMAT2_VERSION);
		goto out;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		wm_why(why, "%s is damaged or no watchmesh backup (SQLite: %s); use another backup", path,
		       sqlite3_errmsg(db));
		goto out;
	}
	res = (const char *)sqlite3_column_text(st, 0);
	if (!res || strcmp(res, "ok") != 0) {
		wm_why(why, "%s is damaged (SQLite's integrity check: %s); use another backup", path,
		       res ? res : "no answer");
		goto out;
	}
	if (meta_read(db, "backup.network", &net) != 0 || meta_read(db, "backup.made_at", &made) != 0 ||
	    meta_read(db, "backup.node_key", &key) != 0 || one_int(db, "SELECT count(*) FROM events", &n) != 0) {
		wm_why(why, "%s is not a watchmesh backup: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (strlen(net) != 32 || strspn(net, "0123456789abcdef") != 32 || strlen(made) >= sizeof info->made_at) {
		wm_why(why, "%s is a store but not a backup (no network named in it); "
		       "make backups with `watchmesh backup`", path);
		goto out;
	}
	info->version = (int)v;
	memcpy(info->network, net, 33);
	memcpy(info->made_at, made, strlen(made) + 1);
	info->events = (uint64_t)n;
	if (key[0]) {
		info->sealed_key = key;
		key = NULL;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(net);
	free(made);
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	return rc;
}

int store_backup_install(const char *path, const char *db_path, char why[WM_WHY_LEN])
{
	sqlite3 *src = NULL, *dst = NULL;
	char tmp[PATH_MAX], side[PATH_MAX];
	int rc;

	if (snprintf(tmp, sizeof tmp, "%s.restore", db_path) >= (int)sizeof tmp) {
		wm_why(why, "path too long: %s", db_path);
		return WM_EINVAL;
	}
	unlink(tmp);        /* left by a restore that was killed */
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = fail(src, why, "cannot open", path);
		goto out;
	}
	if ((rc = open_new(tmp, &dst, why)) != 0 || (rc = copy_db(src, dst, path, why)) != 0 ||
	    (rc = exec(dst, "DELETE FROM meta WHERE key LIKE 'backup.%'", tmp, why)) != 0 ||
	    (rc = finish_copy(dst, tmp, why)) != 0)
		goto out;
	if (sqlite3_close(dst) != SQLITE_OK) {
		rc = fail(dst, why, "cannot close", tmp);
		goto out;
	}
	dst = NULL;
	/* the old file's log would be replayed into the new one */
	snprintf(side, sizeof side, "%s-wal", db_path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", db_path);
	unlink(side);
	if (rename(tmp, db_path) != 0) {
		wm_why(why, "cannot rename %s to %s: %s", tmp, db_path, strerror(errno));
		rc = WM_EIO;
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(src);
	if (dst || rc) {
		sqlite3_close(dst);
		unlink(tmp);
	}
	return rc;
}
