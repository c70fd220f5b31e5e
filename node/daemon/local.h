/*
 * node/daemon/local: the daemon's own writes and the events other processes
 * write into its store, without libuv, so that tests can drive it.
 *
 *   - The write batch: every event the mesh ingests in one loop turn goes
 *     into one transaction.  local_batch_begin runs from the mesh's
 *     io.ingesting hook (the batch opens at the first event that may be
 *     written, whatever frame brought it), local_batch_end once the turn's
 *     I/O is done.  If the store failed on one event the whole batch is
 *     rolled back (ingest cannot undo half an event inside a caller's
 *     transaction); repair fetches it again.
 *   - The durable batch: events POSTed to the API join a batch whose commit
 *     is fsynced (synchronous = FULL), one fsync for the turn's posts, and
 *     their answers wait for it (local_batch_wait): an answer never says
 *     stored before the event is on disk.
 *   - The rows it wrote: io.stored hands over each row's seq.  Rows written
 *     in one batch are contiguous (the batch holds SQLite's write lock), so
 *     they are kept as seq ranges; a rolled-back batch's ranges are
 *     forgotten, since SQLite may hand out its seqs again.
 *   - The poll: `watchmesh post --dir` and `import` write into the store of
 *     a running daemon as plain SQLite writers.  local_poll reads the rows
 *     above the last seq it met, only in the gaps between the ranges the
 *     daemon wrote itself, and publishes them to the mesh.
 *
 * One thread; the store and the mesh are the daemon's.
 */
#ifndef WM_DAEMON_LOCAL_H
#define WM_DAEMON_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "mesh.h"
#include "store.h"

enum { D_DEBUG = 0, D_INFO = 1, D_WARN = 2 };

/* Told once its batch has ended: committed 1 (on disk), or 0 (rolled back). */
struct local_waiter {
	void (*fn)(void *arg, int committed);
	void *arg;
};

/* A stretch of seqs the daemon wrote itself: lo..hi, both included. */
struct seq_range {
	int64_t lo, hi;
};

struct local {
	struct store *store;
	struct mesh *mesh;
	/* one log line (no newline) at D_INFO or D_WARN */
	void (*log)(void *ctx, int level, const char *line);
	void *log_ctx;
	/* May be NULL.  Cleared as each batch begins and ends: what another
	 * process wrote between two batches is read afresh (node/trust.h). */
	struct trust_cache *trust_cache;

	int batch_open;              /* a write transaction around this turn's events */
	uint64_t batch_errors;       /* the mesh's store_errors when it opened */
	size_t batch_first;          /* the batch's first range in `mine` */
	uint64_t batch_failures;     /* batches rolled back */
	uint64_t rolled_back;        /* events of those batches (counted as stored by the mesh) */
	int batch_durable;           /* its commit is fsynced: POSTs are waiting for it */
	int made_durable;            /* ... and the store is put back to NORMAL after it */
	int batch_bad;               /* an event was left half-written: roll back */
	struct local_waiter *waiters;    /* the open batch's */
	size_t nwaiters, capwaiters;
	uint64_t durable_commits;    /* durable batches committed (one fsync each) */
	uint64_t batch_since;        /* ms: when a turn's end first found it open (local_batch_hold) */
	size_t batch_events;         /* rows it wrote */
	size_t batch_max;            /* local_batch_hold's bounds: LOCAL_BATCH_MAX, */
	uint64_t batch_ms;           /* LOCAL_BATCH_MS (tests lower them) */

	struct seq_range *mine;      /* committed (and the open batch's), ascending */
	size_t nmine, capmine;
	int64_t last_seq;            /* the poll has met every row up to here */
	uint64_t published;          /* rows of other writers pushed to the mesh */
	uint64_t rows_read;          /* rows the poll read (for tests) */
};

/* Start at the store's highest seq: rows already there are not news. */
void local_init(struct local *l, struct store *s, struct mesh *m,
                void (*log)(void *ctx, int level, const char *line), void *log_ctx);
void local_free(struct local *l);

/* The batch: open (io.ingesting; nothing if open already) and close it. */
void local_batch_begin(struct local *l);
void local_batch_end(struct local *l);

/* At a turn's end, while more fetched events are on their way: 1 if the
 * open batch may stay open into the next turns (no POST waits on it, it
 * holds fewer than batch_max events and is younger than batch_ms), else 0
 * and the caller ends it.  A catch-up's events then share a commit (and
 * the pages of every index) by the thousand, not by the few a turn
 * brings; peer events may be lost by a power cut anyway (PROTOCOL.md
 * §16), and other writers wait at most batch_ms for the write lock. */
#define LOCAL_BATCH_MAX 2000
#define LOCAL_BATCH_MS 250
int local_batch_hold(struct local *l, uint64_t now);

/* Open a durable batch, committing first an open batch that is not (it
 * holds no waiters).  0, or -1 when none could be opened (the store's
 * errmsg says why). */
int local_batch_durable(struct local *l);
/* The open batch must not be committed: an event was left half-written. */
void local_batch_fail(struct local *l);
/* fn(arg, committed) once the open durable batch ends, after its commit
 * or rollback (fn may open the next batch).  0, or WM_ENOMEM. */
int local_batch_wait(struct local *l, void (*fn)(void *arg, int committed), void *arg);

/* io.stored: the daemon wrote row seq. */
void local_stored(struct local *l, int64_t seq);

/* The highest seq known committed: the rows the poll met and the daemon's
 * own rows outside an open batch (a rolled-back batch's seqs may be handed
 * out again, so they are never told as committed). */
int64_t local_head(const struct local *l);

/* Publish what other writers stored since the last poll (at most
 * `rounds` reads of LOCAL_POLL_BATCH rows).  Returns the number published. */
#define LOCAL_POLL_BATCH 256
size_t local_poll(struct local *l, unsigned rounds, uint64_t now);

#endif
