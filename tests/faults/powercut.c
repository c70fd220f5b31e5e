/*
 * tests/faults/powercut.c: a SQLite VFS shim, loaded with LD_PRELOAD, that
 * makes SIGKILL behave like a power cut for the store (test_power.py).
 *
 * A kill leaves the page cache, so every write survives it; a power cut
 * keeps only what was fsynced.  The shim registers itself as the default
 * VFS over the real one and, for the database and its WAL, writes through
 * as usual but first appends the bytes each write replaces (and the file's
 * size before it) to an undo file beside it, NAME-undo; an xSync empties
 * that file, since what came before is then on the disk.  After a kill,
 * the test plays the undo files backwards (powercut_undo in test_power.py):
 * the files are then as a power cut at that moment would have left them.
 * Writing through keeps what other processes read the same as without the
 * shim (they share the page cache, and the WAL index says what is there).
 *
 * Record: offset (8) | length (8) | file size before (8) | the old bytes
 * (length of them, the part below the old size), little-endian.  The undo
 * file is flock'ed around each record and its write, and around each sync
 * and its truncation, so that processes sharing a store agree.
 *
 * Not modelled: a file's creation, rename or removal (the store's files are
 * created at init, long before a cut), and writes reordered by the disk.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sqlite3.h>

struct pc_file {
	sqlite3_file base;               /* pMethods: pc_io, or the real file's */
	int undo;                        /* the undo file, or -1 when not tracked */
	sqlite3_file *real;              /* follows this struct */
};

static sqlite3_vfs *pc_real;
static sqlite3_vfs pc_vfs;
static sqlite3_io_methods pc_io;

static int pc_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Append to the undo file what [off, off + len) holds now and the size. */
static int pc_save(struct pc_file *f, sqlite3_int64 off, sqlite3_int64 len)
{
	sqlite3_int64 size = 0, keep;
	uint64_t head[3];
	char *old = NULL;
	int rc;

	rc = f->real->pMethods->xFileSize(f->real, &size);
	if (rc != SQLITE_OK)
		return rc;
	keep = off >= size ? 0 : (off + len <= size ? len : size - off);
	if (keep > 0) {
		old = malloc((size_t)keep);
		if (old == NULL)
			return SQLITE_NOMEM;
		rc = f->real->pMethods->xRead(f->real, old, (int)keep, off);
		if (rc != SQLITE_OK) {
			free(old);
			return rc;
		}
	}
	head[0] = (uint64_t)off;
	head[1] = (uint64_t)keep;
	head[2] = (uint64_t)size;
	rc = pc_all(f->undo, head, sizeof head) != 0 || (keep > 0 && pc_all(f->undo, old, (size_t)keep) != 0)
	     ? SQLITE_IOERR_WRITE : SQLITE_OK;
	free(old);
	return rc;
}

static int pc_write(sqlite3_file *file, const void *buf, int n, sqlite3_int64 off)
{
	struct pc_file *f = (struct pc_file *)file;
	int rc;

	if (f->undo < 0)
		return f->real->pMethods->xWrite(f->real, buf, n, off);
	flock(f->undo, LOCK_EX);
	rc = pc_save(f, off, n);
	if (rc == SQLITE_OK)
		rc = f->real->pMethods->xWrite(f->real, buf, n, off);
	flock(f->undo, LOCK_UN);
	return rc;
}

static int pc_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct pc_file *f = (struct pc_file *)file;
	sqlite3_int64 now = 0;
	int rc;

	if (f->undo < 0)
		return f->real->pMethods->xTruncate(f->real, size);
	flock(f->undo, LOCK_EX);
	rc = f->real->pMethods->xFileSize(f->real, &now);
	if (rc == SQLITE_OK && now > size)
		rc = pc_save(f, size, now - size);
	if (rc == SQLITE_OK)
		rc = f->real->pMethods->xTruncate(f->real, size);
	flock(f->undo, LOCK_UN);
	return rc;
}

static int pc_sync(sqlite3_file *file, int flags)
{
	struct pc_file *f = (struct pc_file *)file;
	int rc;

	if (f->undo < 0)
		return f->real->pMethods->xSync(f->real, flags);
	flock(f->undo, LOCK_EX);
	rc = f->real->pMethods->xSync(f->real, flags);
	if (rc == SQLITE_OK && ftruncate(f->undo, 0) != 0)
		rc = SQLITE_IOERR_FSYNC;
	flock(f->undo, LOCK_UN);
	return rc;
}

static int pc_close(sqlite3_file *file)
{
	struct pc_file *f = (struct pc_file *)file;
	int rc = f->real->pMethods->xClose(f->real);

	if (f->undo >= 0)
		close(f->undo);
	return rc;
}

/* The rest of the methods pass through to the real file. */
#define PC_PASS(name, params, args) \
	static int pc_##name params { return ((struct pc_file *)file)->real->pMethods->x##name args; }
PC_PASS(Read, (sqlite3_file *file, void *buf, int n, sqlite3_int64 off), (((struct pc_file *)file)->real, buf, n, off))
PC_PASS(FileSize, (sqlite3_file *file, sqlite3_int64 *size), (((struct pc_file *)file)->real, size))
PC_PASS(Lock, (sqlite3_file *file, int l), (((struct pc_file *)file)->real, l))
PC_PASS(Unlock, (sqlite3_file *file, int l), (((struct pc_file *)file)->real, l))
PC_PASS(CheckReservedLock, (sqlite3_file *file, int *out), (((struct pc_file *)file)->real, out))
PC_PASS(FileControl, (sqlite3_file *file, int op, void *arg), (((struct pc_file *)file)->real, op, arg))
PC_PASS(SectorSize, (sqlite3_file *file), (((struct pc_file *)file)->real))
PC_PASS(DeviceCharacteristics, (sqlite3_file *file), (((struct pc_file *)file)->real))
PC_PASS(ShmMap, (sqlite3_file *file, int pg, int sz, int ext, void volatile **p),
        (((struct pc_file *)file)->real, pg, sz, ext, p))
PC_PASS(ShmLock, (sqlite3_file *file, int off, int n, int flags), (((struct pc_file *)file)->real, off, n, flags))
PC_PASS(ShmUnmap, (sqlite3_file *file, int del), (((struct pc_file *)file)->real, del))
PC_PASS(Fetch, (sqlite3_file *file, sqlite3_int64 off, int n, void **p), (((struct pc_file *)file)->real, off, n, p))
PC_PASS(Unfetch, (sqlite3_file *file, sqlite3_int64 off, void *p), (((struct pc_file *)file)->real, off, p))

static void pc_ShmBarrier(sqlite3_file *file)
{
	((struct pc_file *)file)->real->pMethods->xShmBarrier(((struct pc_file *)file)->real);
}

static int pc_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *outflags)
{
	struct pc_file *f = (struct pc_file *)file;
	char path[4096];
	int rc;

	(void)vfs;
	f->real = (sqlite3_file *)(f + 1);
	f->undo = -1;
	rc = pc_real->xOpen(pc_real, name, f->real, flags, outflags);
	if (rc != SQLITE_OK) {
		f->base.pMethods = NULL;
		return rc;
	}
	f->base.pMethods = &pc_io;
	if (name == NULL || !(flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) ||
	    (flags & SQLITE_OPEN_READONLY))
		return SQLITE_OK;   /* temporary files and read-only handles: nothing to undo */
	snprintf(path, sizeof path, "%s-undo", name);
	f->undo = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (f->undo < 0) {
		f->real->pMethods->xClose(f->real);
		f->base.pMethods = NULL;
		return SQLITE_CANTOPEN;
	}
	return SQLITE_OK;
}

__attribute__((constructor)) static void pc_register(void)
{
	pc_real = sqlite3_vfs_find(NULL);
	if (pc_real == NULL || pc_real->iVersion < 2)
		abort();
	pc_vfs = *pc_real;
	pc_vfs.zName = "powercut";
	pc_vfs.szOsFile = (int)sizeof(struct pc_file) + pc_real->szOsFile;
	pc_vfs.xOpen = pc_open;
	pc_io = (sqlite3_io_methods){
		.iVersion = 3,
		.xClose = pc_close, .xRead = pc_Read, .xWrite = pc_write, .xTruncate = pc_truncate,
		.xSync = pc_sync, .xFileSize = pc_FileSize, .xLock = pc_Lock, .xUnlock = pc_Unlock,
		.xCheckReservedLock = pc_CheckReservedLock, .xFileControl = pc_FileControl,
		.xSectorSize = pc_SectorSize, .xDeviceCharacteristics = pc_DeviceCharacteristics,
		.xShmMap = pc_ShmMap, .xShmLock = pc_ShmLock, .xShmBarrier = pc_ShmBarrier,
		.xShmUnmap = pc_ShmUnmap, .xFetch = pc_Fetch, .xUnfetch = pc_Unfetch,
	};
	if (sqlite3_vfs_register(&pc_vfs, 1) != SQLITE_OK)
		abort();
}
