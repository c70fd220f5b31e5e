/*
 * node/daemon/disk.c: a full disk as one clear state.  The free space of
 * the data directory's file system is read every status tick and after a
 * write batch fails.  Below disk_reserve MB the node is "disk full": logged
 * once, shown by status, status.json, /api/v1/status and /metrics; the
 * mesh is paused (no repair, live events dropped without blaming the peer:
 * repair brings them later), clients' events are refused with that reason,
 * and the WAL is truncated to give its space back.  At twice the reserve
 * it recovers on its own and repairs with every peer at once.  The reserve
 * keeps the store from ever filling the disk to the last byte, where
 * SQLite fails half-way through batches and status.json cannot be written.
 */
#include <inttypes.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "daemon_int.h"
#include "store.h"

/* Free bytes for this user on the data directory's file system, or -1. */
static int64_t free_bytes(const char *dir)
{
	struct statvfs sv;

	if (statvfs(dir, &sv) != 0)
		return -1;
	return (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
}

void disk_check(struct daemon *d)
{
	int64_t reserve = (int64_t)d->nd->conf.disk_reserve << 20;
	int64_t avail = free_bytes(d->dir);
	uint64_t now = d_now_ms();

	if (avail < 0)
		return;
	d->disk_free = (uint64_t)avail;
	if (!d->disk_full && avail < reserve) {
		d->disk_full = now;
		d_log(d, D_WARN, "the disk of %s is full (%" PRId64 " MB free, disk_reserve is %u MB): "
		      "new events are refused and repair is paused until space is freed",
		      d->dir, avail >> 20, d->nd->conf.disk_reserve);
		local_batch_end(&d->local);
		mesh_pause(d->mesh, 1, now);
		if (store_shrink_wal(d->nd->store) != 0)
			d_log(d, D_DEBUG, "cannot truncate the WAL yet: %s", store_errmsg(d->nd->store));
		d->status_dirty = 1;
	} else if (d->disk_full && avail >= 2 * reserve) {
		d_log(d, D_INFO, "disk space is back (%" PRId64 " MB free): taking events again, "
		      "repairing with every peer", avail >> 20);
		d->disk_full = 0;
		mesh_pause(d->mesh, 0, now);
		d_after_mesh(d);
		d->status_dirty = 1;
	}
}

const char *disk_state(const struct daemon *d)
{
	return d->disk_full ? "disk full" : "running";
}
