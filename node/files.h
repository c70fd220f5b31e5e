/*
 * node/files: plain files -- read whole, mapped, written atomically with a
 * mode, appended.  Files are written through a temporary file, fsync and
 * rename, so a crash leaves either the old file or the new one.  Readers
 * of a format treat the bytes as outside input: bad content is an error
 * with a reason in `why`, never a crash.
 *
 * The formats have their own modules:
 *   keyfile.h   passphrases and key files
 *   netfile.h   the network file
 *   conf.h      watchmesh.conf
 *   nodedir.h   the data directory: DIR/{node.key, network, watchmesh.conf, store.db}
 *   clock.h     the wall clock
 */
#ifndef WM_FILES_H
#define WM_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Whole file into *buf (malloc'd, NUL-terminated beyond len; caller frees).
 * Files larger than `max` bytes are refused (WM_ETOOBIG); so is, at once,
 * anything but a regular file (a FIFO without a writer, a device, a
 * directory: WM_EINVAL), which would block or never end. */
int files_read(const char *path, size_t max, uint8_t **buf, size_t *len, char why[WM_WHY_LEN]);

/* The same, but a FIFO or pipe is read too (`--passphrase-file <(pass show
 * x)`), if its first bytes or its end come within FILES_PIPE_WAIT_MS;
 * otherwise WM_EIO, why saying nothing came. */
#define FILES_PIPE_WAIT_MS 30000
int files_read_pipe(const char *path, size_t max, uint8_t **buf, size_t *len, char why[WM_WHY_LEN]);

/* A read-only mapping of a whole regular file (bundles may be hundreds of
 * MB); anything else is refused at once, as by files_read.  An empty file
 * maps to data == NULL, len == 0.  Unmap with files_unmap. */
struct files_map {
	const uint8_t *data;
	size_t len;
};
int files_map(const char *path, struct files_map *m, char why[WM_WHY_LEN]);
void files_unmap(struct files_map *m);

/* Write buf to path atomically with `mode` (e.g. 0600).  excl=1 refuses to
 * replace an existing file (WM_EINVAL, why says so). */
int files_write_atomic(const char *path, const void *buf, size_t len, mode_t mode, int excl,
                       char why[WM_WHY_LEN]);

/* May a new file be written at path?  0 if nothing is there, or a regular
 * file and replace=1; WM_EINVAL (why says what is there) for a symlink, a
 * FIFO, a device, a directory, which are never replaced, or a file without
 * replace; WM_EIO if path cannot be looked at. */
int files_check_out(const char *path, int replace, char why[WM_WHY_LEN]);

/* An atomic writer for large outputs: write to path.tmp.XXXXXX, then
 * files_writer_commit fsyncs and renames; files_writer_abort removes it.
 * Refuses (WM_EINVAL) a path that holds anything but a regular file
 * (files_check_out with replace=1). */
struct files_writer;
int files_writer_open(const char *path, mode_t mode, struct files_writer **out, char why[WM_WHY_LEN]);
int files_writer_put(struct files_writer *w, const void *buf, size_t len);
int files_writer_commit(struct files_writer *w, char why[WM_WHY_LEN]);   /* frees w */
void files_writer_abort(struct files_writer *w);                          /* frees w; NULL ok */

/* Append to a file (created 0600 if missing), fsynced. */
int files_append(const char *path, const void *buf, size_t len, char why[WM_WHY_LEN]);

/* 1 if path exists (any type), 0 if not. */
int files_exists(const char *path);

#endif
