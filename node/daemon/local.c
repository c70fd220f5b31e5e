/*
 * node/daemon/local.c: the write batch, the seq ranges the daemon wrote and
 * the poll of the rows other processes wrote (local.h).  No libuv here: the
 * loop glue calls these from its hooks, the unit tests call them directly.
 */
#include "local.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trust.h"
#include "wmcrypto.h"

static void llog(struct local *l, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void llog(struct local *l, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (l->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	l->log(l->log_ctx, level, line);
}

static int stop_cb(void *ctx, const struct stored_event *e)
{
	(void)ctx;
	(void)e;
	return 1;
}

/* 1 if an event has seq > x (store_events is all the store offers). */
static int seq_above(struct store *s, int64_t x)
{
	struct store_filter f;

	memset(&f, 0, sizeof f);
	f.after_seq = x;
	f.limit = 1;
	return store_events(s, &f, stop_cb, NULL) == 1;
}

static int64_t max_seq(struct store *s)
{
	int64_t lo = 0, hi = 1;

	while (seq_above(s, hi) && hi < INT64_MAX / 2)
		hi *= 2;
	/* no event above hi; lo is 0 or has one above it */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (seq_above(s, mid))
			lo = mid;
		else
			hi = mid;
	}
	return seq_above(s, lo) ? hi : lo;
}

void local_init(struct local *l, struct store *s, struct mesh *m,
                void (*log)(void *ctx, int level, const char *line), void *log_ctx)
{
	memset(l, 0, sizeof *l);
	l->store = s;
	l->mesh = m;
	l->log = log;
	l->log_ctx = log_ctx;
	l->batch_max = LOCAL_BATCH_MAX;
	l->batch_ms = LOCAL_BATCH_MS;
	l->last_seq = max_seq(s);
}

void local_free(struct local *l)
{
	if (l == NULL)
		return;
	free(l->mine);
	l->mine = NULL;
	l->nmine = l->capmine = 0;
	free(l->waiters);
	l->waiters = NULL;
	l->nwaiters = l->capwaiters = 0;
}

/* --- the write batch --------------------------------------------------------- */

void local_batch_begin(struct local *l)
{
	struct mesh_stats ms;

	if (l->batch_open || store_in_transaction(l->store))
		return;
	trust_cache_clear(l->trust_cache);
	if (store_begin(l->store) != 0) {
		llog(l, D_WARN, "cannot begin a write batch: %s; storing event by event",
		     store_errmsg(l->store));
		return;
	}
	mesh_get_stats(l->mesh, &ms);
	l->batch_open = 1;
	l->batch_errors = ms.store_errors;
	l->batch_first = l->nmine;
}

/* Commit or roll back the open batch: 1 committed, 0 rolled back. */
static int batch_close(struct local *l)
{
	struct mesh_stats ms;
	uint64_t n = 0;
	size_t i;

	l->batch_open = 0;
	l->batch_since = 0;
	l->batch_events = 0;
	trust_cache_clear(l->trust_cache);
	mesh_get_stats(l->mesh, &ms);
	if (!l->batch_bad && ms.store_errors == l->batch_errors && store_commit(l->store) == 0) {
		l->durable_commits += l->batch_durable;
		return 1;
	}
	for (i = l->batch_first; i < l->nmine; i++)
		n += (uint64_t)(l->mine[i].hi - l->mine[i].lo + 1);
	llog(l, D_WARN, "the store failed (%s): the %" PRIu64 " events stored in this batch are not kept; "
	     "repair will fetch them again", store_errmsg(l->store)[0] ? store_errmsg(l->store)
	     : "an event could not be stored", n);
	(void)store_rollback(l->store);
	/* SQLite may hand the rolled-back seqs out again, to anyone */
	l->nmine = l->batch_first;
	l->batch_failures++;
	l->rolled_back += n;
	return 0;
}

void local_batch_end(struct local *l)
{
	struct local_waiter *w;
	size_t nw, i;
	int committed;

	/* a waiter's answer may bring the next POST (a kept-alive connection):
	 * its batch is ended here too, not left open while the loop sleeps */
	while (l->batch_open) {
		committed = batch_close(l);
		if (l->made_durable)
			(void)store_set_durable(l->store, 0);
		l->batch_durable = l->made_durable = l->batch_bad = 0;
		w = l->waiters;
		nw = l->nwaiters;
		l->waiters = NULL;
		l->nwaiters = l->capwaiters = 0;
		for (i = 0; i < nw; i++)
			w[i].fn(w[i].arg, committed);
		free(w);
	}
}

int local_batch_hold(struct local *l, uint64_t now)
{
	if (!l->batch_open || l->batch_durable || l->nwaiters > 0)
		return 0;
	if (l->batch_since == 0)
		l->batch_since = now;
	return l->batch_events < l->batch_max && now - l->batch_since < l->batch_ms;
}

int local_batch_durable(struct local *l)
{
	if (l->batch_open && l->batch_durable)
		return 0;
	local_batch_end(l);          /* the mesh's batch so far, committed as it is */
	if (!store_is_durable(l->store)) {
		if (store_set_durable(l->store, 1) != 0)
			return -1;
		l->made_durable = 1;
	}
	local_batch_begin(l);
	if (!l->batch_open) {
		if (l->made_durable)
			(void)store_set_durable(l->store, 0);
		l->made_durable = 0;
		return -1;
	}
	l->batch_durable = 1;
	return 0;
}

void local_batch_fail(struct local *l)
{
	if (l->batch_open)
		l->batch_bad = 1;
}

int local_batch_wait(struct local *l, void (*fn)(void *arg, int committed), void *arg)
{
	if (l->nwaiters == l->capwaiters) {
		size_t cap = l->capwaiters ? 2 * l->capwaiters : 16;
		struct local_waiter *v = realloc(l->waiters, cap * sizeof *v);

		if (v == NULL)
			return WM_ENOMEM;
		l->waiters = v;
		l->capwaiters = cap;
	}
	l->waiters[l->nwaiters].fn = fn;
	l->waiters[l->nwaiters].arg = arg;
	l->nwaiters++;
	return 0;
}

/* --- the rows the daemon wrote ------------------------------------------------ */

void local_stored(struct local *l, int64_t seq)
{
	struct seq_range *last = l->nmine > 0 ? &l->mine[l->nmine - 1] : NULL;

	if (l->batch_open)
		l->batch_events++;

	/* extend the last range, but never across the start of the open
	 * batch: a rollback drops exactly the batch's ranges */
	if (last != NULL && seq == last->hi + 1 && (!l->batch_open || l->nmine > l->batch_first)) {
		last->hi = seq;
		return;
	}
	if (l->nmine == l->capmine) {
		size_t cap = l->capmine ? 2 * l->capmine : 16;
		struct seq_range *v = realloc(l->mine, cap * sizeof *v);

		if (v == NULL)
			return;      /* the poll reads the row and publishes it once more: harmless */
		l->mine = v;
		l->capmine = cap;
	}
	l->mine[l->nmine].lo = seq;
	l->mine[l->nmine].hi = seq;
	l->nmine++;
}

int64_t local_head(const struct local *l)
{
	size_t n = l->batch_open ? l->batch_first : l->nmine;
	int64_t head = l->last_seq;

	if (n > 0 && l->mine[n - 1].hi > head)
		head = l->mine[n - 1].hi;
	return head;
}

/* --- the poll ------------------------------------------------------------------ */

struct poll_item {
	uint8_t *wire;
	size_t len;
	uint8_t id[WM_ID_LEN];
	unsigned kind;
};
struct poll_ctx {
	struct poll_item items[LOCAL_POLL_BATCH];
	size_t n;
	size_t rows;                 /* rows met in the gap, with or without bytes */
	int64_t end;                 /* the gap ends before this seq */
	int64_t last;
	int stopped;                 /* met the end of the gap */
	int err;
};

static int poll_cb(void *ctx, const struct stored_event *e)
{
	struct poll_ctx *pc = ctx;
	struct poll_item *it = &pc->items[pc->n];

	if (e->seq >= pc->end) {
		pc->stopped = 1;         /* the daemon's own rows start here */
		return 1;
	}
	pc->last = e->seq;
	pc->rows++;
	if (!e->wire)
		return 0;
	if ((it->wire = malloc(e->wire_len)) == NULL) {
		pc->err = WM_ENOMEM;
		return 1;
	}
	memcpy(it->wire, e->wire, e->wire_len);
	it->len = e->wire_len;
	memcpy(it->id, e->id, WM_ID_LEN);
	it->kind = e->kind;
	pc->n++;
	return 0;
}

/* Drop the ranges the poll has passed; step over the one it stands at. */
static void skip_mine(struct local *l)
{
	size_t k = 0;

	while (k < l->nmine && l->mine[k].lo <= l->last_seq + 1) {
		if (l->mine[k].hi > l->last_seq)
			l->last_seq = l->mine[k].hi;
		k++;
	}
	if (k > 0) {
		memmove(l->mine, l->mine + k, (l->nmine - k) * sizeof *l->mine);
		l->nmine -= k;
		l->batch_first = l->batch_first > k ? l->batch_first - k : 0;
	}
}

size_t local_poll(struct local *l, unsigned rounds, uint64_t now)
{
	struct poll_ctx *pc;
	struct store_filter f;
	size_t i, published = 0;
	int64_t end, room;
	int rc;

	/* A batch the mesh holds open across turns (local_batch_hold) ends
	 * here, so another process's post waits at most one tick however long a
	 * catch-up keeps batches coming.  A durable one holds POSTs: it ends in
	 * this turn's check, and its rows are not settled yet. */
	if (l->batch_open && !l->batch_durable)
		local_batch_end(l);
	if (l->batch_open || (pc = malloc(sizeof *pc)) == NULL)
		return 0;
	while (rounds-- > 0) {
		skip_mine(l);
		end = l->nmine > 0 ? l->mine[0].lo : INT64_MAX;
		room = end - l->last_seq - 1;      /* seqs in the gap, at least 1 here */
		memset(&f, 0, sizeof f);
		f.after_seq = l->last_seq;
		f.limit = room < LOCAL_POLL_BATCH ? (size_t)room : LOCAL_POLL_BATCH;
		pc->n = pc->rows = 0;
		pc->end = end;
		pc->last = l->last_seq;
		pc->stopped = pc->err = 0;
		rc = store_events(l->store, &f, poll_cb, pc);
		if (rc < 0 && !pc->err) {
			llog(l, D_WARN, "store poll failed: %s", store_errmsg(l->store));
			for (i = 0; i < pc->n; i++)
				free(pc->items[i].wire);
			break;
		}
		l->rows_read += pc->n;
		for (i = 0; i < pc->n; i++) {
			char h[17];

			hex_encode(h, pc->items[i].id, 8);
			if (mesh_publish(l->mesh, pc->items[i].wire, pc->items[i].len, now) == 0) {
				published++;
				llog(l, D_INFO, "local %s %s published to the mesh",
				     kind_name(pc->items[i].kind) ? kind_name(pc->items[i].kind) : "event", h);
			}
			free(pc->items[i].wire);
		}
		if (pc->err)
			break;
		if (pc->stopped || pc->rows < f.limit) {
			/* the gap is read to its end: up to the next range, or all */
			if (l->nmine == 0) {
				l->last_seq = pc->last;
				break;
			}
			l->last_seq = end - 1;
			continue;
		}
		l->last_seq = pc->last;
	}
	free(pc);
	l->published += published;
	return published;
}
