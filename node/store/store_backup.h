/*
 * node/store/store_backup.h: a node's store copied while the daemon runs,
 * checked, and put back (`watchmesh backup`, `watchmesh restore`).
 *
 * A backup is one SQLite file (no -wal beside it): a consistent copy of
 * store.db made with SQLite's backup API from a read snapshot, so the
 * daemon keeps writing meanwhile, plus rows of the store's meta table
 * named "backup.*" that say what it is (the network's id, when it was made)
 * and may carry the node's key, sealed with a passphrase by the caller.
 * Putting it back removes those rows from the copy that becomes store.db.
 */
#ifndef WM_STORE_BACKUP_H
#define WM_STORE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* What a backup file says of itself (store_backup_check). */
struct store_backup_info {
	int version;                 /* its schema version (older ones migrate on open) */
	char network[33];            /* the network's id, 32 hex digits */
	char made_at[24];            /* ms since the epoch, as written */
	uint64_t events;             /* events it holds */
	char *sealed_key;            /* the node's key file text, encrypted; NULL if none (free) */
};

/*
 * Copy the store at db_path to a new file out_path (refused if it exists;
 * mode 0600), written beside it under a temporary name and renamed when
 * whole.  network_hex names the network; sealed_key, if not NULL, is an
 * encrypted key file's text to carry.  Readers and the writer of db_path
 * go on meanwhile.
 */
int store_backup(const char *db_path, const char *out_path, const char *network_hex,
                 const char *sealed_key, char why[WM_WHY_LEN]);

/*
 * Check a backup file: SQLite's integrity_check, a schema version of event
 * format 2 that this build can open (6 to current), the backup rows.  On
 * success *info is filled; free its sealed_key.
 */
int store_backup_check(const char *path, struct store_backup_info *info, char why[WM_WHY_LEN]);

/*
 * Make db_path a copy of the backup at path, without its backup rows: written
 * to db_path's directory under a temporary name, then the old file's -wal
 * and -shm removed and the copy renamed over it.  No process may have
 * db_path open (the caller holds the daemon's lock).
 */
int store_backup_install(const char *path, const char *db_path, char why[WM_WHY_LEN]);

#endif
