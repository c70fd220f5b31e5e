/*
 * node/bundle: indexing, importing and exporting bundle files (bundle.h).
 *
 * The index trusts a wrapper's length headers only as far as the next
 * wrapper: when the bytes after an event do not start another one, the
 * event before is decoded; if it is bad too, its length was probably the
 * damaged byte and the scan for the next good event restarts just after its
 * first byte.  A resync point must both have a wrapper header and decode
 * fully (signature included), so random bytes are not taken for an event.
 *
 * Import runs as a pipeline of batches: the calling thread checks which ids
 * of batch k+1 the store holds already (those are not verified at all, so
 * importing a bundle twice stays cheap), hands the rest to the workers,
 * then commits batch k in file order while they verify.  Workers only run
 * ingest_prep_verify on their own slots; every store call stays on the
 * calling thread, and every event still goes through ingest_commit.
 *
 * The certificate lists trust reads are kept for the length of each of the
 * import's transactions (a trust_cache, node/trust.h): reading them for
 * every event was 8,000 of the 160,000 instructions an event beside the
 * verify (BENCHMARKS.md "Less work per event").
 * Each transaction starts with the cache cleared, since another process
 * may write certificates between two of them; within one, ingest clears it
 * after whatever it stores that may change them.
 */
#define _GNU_SOURCE     /* sched_getaffinity, CPU_COUNT */
#include "bundle.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "files.h"
#include "trust.h"

/* 1 if a whole, valid event starts at buf (len bytes available). */
static int event_at(const uint8_t *buf, size_t len, size_t *evlen)
{
	struct event_peek pk;
	struct event *ev = NULL;
	char why[WM_WHY_LEN];

	if (event_peek(buf, len, EVENT_PEEK_PREFIX, &pk, NULL) != 0)
		return 0;
	if (event_decode_peeked(&pk, &ev, why) != 0)
		return 0;
	event_free(ev);
	*evlen = pk.wire_len;
	return 1;
}

static int ix_push(struct bundle_index *ix, size_t *cap, size_t off, size_t len, const char *why)
{
	struct bundle_item *it;
	if (ix->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 1024;
		struct bundle_item *ni = realloc(ix->items, nc * sizeof *ni);
		if (!ni)
			return WM_ENOMEM;
		ix->items = ni;
		*cap = nc;
	}
	it = &ix->items[ix->n];
	memset(it, 0, sizeof *it);
	it->off = off;
	it->len = len;
	if (why) {
		it->bad = 1;
		it->why = strdup(why);
		if (!it->why)
			return WM_ENOMEM;
	}
	ix->n++;
	return 0;
}

int bundle_index(const uint8_t *buf, size_t len, struct bundle_index *out)
{
	struct bundle_index ix = { NULL, 0 };
	size_t cap = 0, pos = 0;
	int last_checked = 1;            /* the item before pos was decoded already */
	char why[WM_WHY_LEN];
	int rc;

	while (pos < len) {
		size_t n = 0, scan, gap_start, q = 0;
		struct event_peek pk;
		int r, cut;
		char wwhy[WM_WHY_LEN];

		/* the id is left to ingest, which hashes it once */
		memset(&pk, 0, sizeof pk);
		r = event_peek(buf + pos, len - pos, EVENT_PEEK_PREFIX | EVENT_PEEK_NO_ID, &pk, NULL);
		if (r == 0)
			n = pk.wire_len;
		else
			r = event_wire_len(buf + pos, len - pos, &n);   /* a longer header than needed */
		cut = r == WM_ETRUNCATED || (r == 0 && n > len - pos);
		if (r == 0 && n > 0 && n <= len - pos) {
			rc = ix_push(&ix, &cap, pos, n, NULL);
			if (rc)
				goto fail;
			ix.items[ix.n - 1].kind = pk.kind <= KIND_MAX ? pk.kind : 0;
			pos += n;
			last_checked = 0;
			continue;
		}
		snprintf(wwhy, sizeof wwhy, "%s",
		         r == WM_ETRUNCATED || (r == 0 && n > len - pos)
		         ? "the file ends in the middle of an event"
		         : r == WM_ETOOBIG ? "an event header announcing more than 64 KiB"
		         : "bytes that are not an event");
		/* Damage at pos.  Was the previous event's length the damaged part? */
		gap_start = pos;
		scan = pos + 1;
		if (!last_checked && ix.n > 0) {
			struct bundle_item *prev = &ix.items[ix.n - 1];
			struct event *ev = NULL;
			int d = event_decode(buf + prev->off, prev->len, &ev, why);
			/* a withheld event followed by damage is most likely a whole
			 * one whose wrapper header lost its third item */
			int withheld = d == 0 && ev->withheld;

			event_free(ev);
			if (withheld)
				snprintf(why, sizeof why, "a withheld event followed by bytes that are not an event");
			if (d != 0 || withheld) {
				snprintf(wwhy, sizeof wwhy, "%s", why);
				gap_start = prev->off;
				scan = prev->off + 1;
				ix.n--;
			}
		}
		while (scan < len && !event_at(buf + scan, len - scan, &q))
			scan++;
		{
			char msg[WM_WHY_LEN];
			snprintf(msg, sizeof msg, "%zu unreadable bytes skipped (%.180s)",
			         scan - gap_start, wwhy);
			rc = ix_push(&ix, &cap, gap_start, scan - gap_start, msg);
			if (rc)
				goto fail;
			ix.items[ix.n - 1].cut = cut && scan >= len;
		}
		pos = scan;
		last_checked = 1;        /* scan stopped at a decoded event (or the end) */
	}
	*out = ix;
	return 0;
fail:
	bundle_index_free(&ix);
	return rc;
}

void bundle_index_free(struct bundle_index *ix)
{
	size_t i;
	if (!ix)
		return;
	for (i = 0; i < ix->n; i++)
		free(ix->items[i].why);
	free(ix->items);
	ix->items = NULL;
	ix->n = 0;
}

/* --- import ----------------------------------------------------------------- */

struct importer {
	struct ingest_ctx ctx;          /* the caller's, with the import's own trust cache */
	const uint8_t *buf;
	const struct bundle_import_cbs *cbs;
	struct bundle_stats *st;
	size_t in_batch;
	size_t batch;                /* events per transaction and per verified batch */
	size_t done, total;
	char *why;
};

static void report(struct importer *im, size_t i, const struct bundle_item *it,
                   int has_id, const struct ingest_result *res)
{
	struct bundle_refusal r;
	im->st->refused++;
	if (!im->cbs || !im->cbs->refused)
		return;
	r.number = i + 1;
	r.off = it->off;
	r.has_id = has_id;
	r.res = res;
	im->cbs->refused(im->cbs->ctx, &r);
}

static void progress(struct importer *im)
{
	im->done++;
	if (im->cbs && im->cbs->progress && (im->done & 255) == 0)
		im->cbs->progress(im->cbs->ctx, im->done, im->total);
}

/* An item the indexer could not read: refused as malformed, with its reason. */
static void report_unreadable(struct importer *im, size_t i, const struct bundle_item *it)
{
	struct ingest_result res;

	memset(&res, 0, sizeof res);
	res.code = WM_EMALFORMED;
	snprintf(res.why, sizeof res.why, "%s", it->why);
	im->st->unreadable++;
	if (it->cut)
		im->st->truncated = 1;
	report(im, i, it, 0, &res);
	progress(im);
}

static int fatal(int code)
{
	return code == WM_ESTORE || code == WM_ENOMEM || code == WM_EIO;
}

/* A transaction of the import, its certificate lists read afresh. */
static int import_begin(struct importer *im)
{
	trust_cache_clear(im->ctx.trust_cache);
	return store_begin(im->ctx.store);
}

/* Keep transactions at im->batch events. */
static int next_in_batch(struct importer *im)
{
	int rc;
	if (im->in_batch >= im->batch) {
		rc = store_commit(im->ctx.store);
		if (rc == 0)
			rc = import_begin(im);
		if (rc) {
			wm_why(im->why, "cannot commit to the store: %s", wm_strerror(rc));
			return rc;
		}
		im->in_batch = 0;
	}
	return 0;
}

/* Ingest one item. */
static int ingest_one(struct importer *im, const struct bundle_item *it, struct ingest_result *res)
{
	int rc;
	if ((rc = next_in_batch(im)) != 0)
		return rc;
	memset(res, 0, sizeof *res);
	rc = ingest_event(&im->ctx, im->buf + it->off, it->len, INGEST_IMPORT, res);
	im->in_batch++;
	if (fatal(rc)) {
		wm_why(im->why, "store failed while importing: %s",
		         res->why[0] ? res->why : wm_strerror(rc));
		return rc;
	}
	return 0;
}

static int has_id(const struct ingest_result *r)
{
	static const uint8_t zero[WM_ID_LEN];
	return memcmp(r->id, zero, WM_ID_LEN) != 0;
}

/* Count an outcome of the main pass. */
static void count(struct importer *im, size_t i, const struct bundle_item *it,
                  const struct ingest_result *res)
{
	if (res->code == 0)
		im->st->stored++;
	else if (res->code == WM_EDUP)
		im->st->duplicates++;
	else
		report(im, i, it, has_id(res), res);
	progress(im);
}

/* Certificates and revocations, repeated while a round stores something. */
static int import_trust(struct importer *im, const struct bundle_index *ix)
{
	size_t *pending = NULL, np = 0, i;
	struct ingest_result *last = NULL;
	int rc = 0, progressed = 1;

	pending = malloc((ix->n ? ix->n : 1) * sizeof *pending);
	last = malloc((ix->n ? ix->n : 1) * sizeof *last);
	if (!pending || !last) {
		rc = WM_ENOMEM;
		wm_why(im->why, "out of memory");
		goto out;
	}
	for (i = 0; i < ix->n; i++)
		if (!ix->items[i].bad && (ix->items[i].kind == KIND_CERT || ix->items[i].kind == KIND_REVOKE))
			pending[np++] = i;
	while (np > 0 && progressed) {
		size_t keep = 0, k;
		progressed = 0;
		for (k = 0; k < np; k++) {
			size_t idx = pending[k];
			struct ingest_result *res = &last[idx];
			rc = ingest_one(im, &ix->items[idx], res);
			if (rc)
				goto out;
			if (res->code == 0) {
				im->st->stored++;
				progressed = 1;
				progress(im);
			} else if (res->code == WM_EDUP) {
				im->st->duplicates++;
				progress(im);
			} else if (!wm_error_is_lasting(res->code) && res->code != WM_EREJECTED) {
				pending[keep++] = idx;      /* may succeed once its issuer is in */
				im->total++;
				progress(im);
			} else {
				report(im, idx, &ix->items[idx], has_id(res), res);
				progress(im);
			}
		}
		np = keep;
	}
	for (i = 0; i < np; i++)
		report(im, pending[i], &ix->items[pending[i]], has_id(&last[pending[i]]), &last[pending[i]]);
out:
	free(pending);
	free(last);
	return rc;
}

/* --- the rest, verified on worker threads -------------------------------------- */

#define VCHUNK 32               /* events a worker takes at a time */
#define MAX_WORKERS 16

/* One batch of the pipeline: file items [from, to) and the events among them
 * that import_rest stores (not damaged, not certificates or revocations). */
struct batch {
	size_t from, to;
	size_t n;                    /* events in idx/prep/held */
	size_t *idx;                 /* their file indexes */
	struct ingest_prep *prep;
	unsigned char *held;         /* 1: the store had it already, not verified */
	atomic_size_t next;          /* next slot for a verifier to take */
	pthread_t th[MAX_WORKERS];
	unsigned nth;                /* running workers */
};

static unsigned usable_cores(void)
{
	long n;
#ifdef CPU_COUNT
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
#endif
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* Verify slots until none is left; run by the workers and the caller. */
static void batch_verify(struct batch *b)
{
	size_t a, e, k;

	for (;;) {
		a = atomic_fetch_add(&b->next, VCHUNK);
		if (a >= b->n)
			return;
		e = b->n - a < VCHUNK ? b->n : a + VCHUNK;
		for (k = a; k < e; k++)
			if (!b->held[k])
				ingest_prep_verify(&b->prep[k]);
	}
}

static void *batch_worker(void *arg)
{
	batch_verify(arg);
	return NULL;
}

static int batch_alloc(struct batch *b, size_t cap)
{
	memset(b, 0, sizeof *b);
	b->idx = malloc(cap * sizeof *b->idx);
	b->prep = calloc(cap, sizeof *b->prep);
	b->held = malloc(cap);
	return b->idx && b->prep && b->held ? 0 : WM_ENOMEM;
}

/* Join the workers, then make sure every slot is done (the caller helps). */
static void batch_finish(struct batch *b)
{
	unsigned t;

	batch_verify(b);
	for (t = 0; t < b->nth; t++)
		(void)pthread_join(b->th[t], NULL);
	b->nth = 0;
}

static void batch_clear(struct batch *b)
{
	size_t k;

	batch_finish(b);
	for (k = 0; k < b->n; k++)
		ingest_prep_clear(&b->prep[k]);
	b->n = 0;
}

static void batch_free(struct batch *b)
{
	batch_clear(b);
	free(b->idx);
	free(b->prep);
	free(b->held);
}

/* Take the next im->batch events from *pos, find those already held,
 * and start nth workers verifying the others (fewer if threads cannot be
 * had: batch_finish does what is left). */
static void batch_fill(struct importer *im, const struct bundle_index *ix, size_t *pos,
                       struct batch *b, unsigned nth)
{
	struct store *s = im->ctx.store;
	size_t i = *pos;
	unsigned t;
	int lookup;

	b->from = i;
	b->n = 0;
	for (; i < ix->n && b->n < im->batch; i++) {
		const struct bundle_item *it = &ix->items[i];
		struct ingest_prep *p = &b->prep[b->n];

		if (it->bad || it->kind == KIND_CERT || it->kind == KIND_REVOKE)
			continue;
		ingest_prepare(im->buf + it->off, it->len, 0, p);
		/* The one lookup: held or refused earlier skips the signature
		 * check, and ingest_commit asks again to say which; neither is
		 * not asked again (the insert looks again only for an id that
		 * may have been stored since, store.c's struct known, and a
		 * refusal checks that it is not held).  An error here is the
		 * commit's to report. */
		lookup = p->has_id ? store_lookup(s, p->pk.id, NULL, NULL) : -1;
		b->held[b->n] = lookup > 0;
		p->looked_up = lookup == 0;
		b->idx[b->n++] = i;
	}
	b->to = *pos = i;
	atomic_store(&b->next, 0);
	b->nth = 0;
	for (t = 0; t < nth && t < MAX_WORKERS; t++) {
		if (pthread_create(&b->th[b->nth], NULL, batch_worker, b) != 0)
			break;
		b->nth++;
	}
}

/* Store a verified batch in file order, reporting damage where it lies. */
static int batch_commit(struct importer *im, const struct bundle_index *ix, struct batch *b)
{
	struct ingest_result res;
	size_t i, k = 0;
	int rc;

	for (i = b->from; i < b->to; i++) {
		const struct bundle_item *it = &ix->items[i];

		if (it->bad) {
			report_unreadable(im, i, it);
			continue;
		}
		if (k >= b->n || b->idx[k] != i)
			continue;       /* a certificate or revocation, stored first */
		if ((rc = next_in_batch(im)) != 0)
			return rc;
		rc = ingest_commit(&im->ctx, &b->prep[k++], INGEST_IMPORT, &res);
		im->in_batch++;
		if (fatal(rc)) {
			wm_why(im->why, "store failed while importing: %s",
			          res.why[0] ? res.why : wm_strerror(rc));
			return rc;
		}
		count(im, i, it, &res);
	}
	return 0;
}

static int import_rest_threads(struct importer *im, const struct bundle_index *ix, unsigned nth)
{
	struct batch b[2];
	size_t pos = 0, cap = ix->n < im->batch ? ix->n + 1 : im->batch;
	int rc, cur = 0;

	memset(b, 0, sizeof b);
	if (batch_alloc(&b[0], cap) != 0 || batch_alloc(&b[1], cap) != 0) {
		rc = WM_ENOMEM;
		wm_why(im->why, "out of memory");
		goto out;
	}
	batch_fill(im, ix, &pos, &b[0], nth);
	rc = 0;
	while (b[cur].to > b[cur].from) {
		batch_finish(&b[cur]);
		if (pos < ix->n)
			batch_fill(im, ix, &pos, &b[!cur], nth);
		rc = batch_commit(im, ix, &b[cur]);
		batch_clear(&b[cur]);
		b[cur].from = b[cur].to = 0;
		if (rc)
			break;
		cur = !cur;
	}
out:
	batch_free(&b[0]);
	batch_free(&b[1]);
	return rc;
}

/* Everything but certificates and revocations, one event at a time. */
static int import_rest_serial(struct importer *im, const struct bundle_index *ix)
{
	struct ingest_result res;
	size_t i;
	int rc;

	for (i = 0; i < ix->n; i++) {
		const struct bundle_item *it = &ix->items[i];
		if (it->bad) {
			report_unreadable(im, i, it);
			continue;
		}
		if (it->kind == KIND_CERT || it->kind == KIND_REVOKE)
			continue;
		rc = ingest_one(im, it, &res);
		if (rc)
			return rc;
		count(im, i, it, &res);
	}
	return 0;
}

int bundle_import(const struct ingest_ctx *ictx, const uint8_t *buf, size_t len,
                  const struct bundle_import_cbs *cbs, struct bundle_stats *st,
                  char why[WM_WHY_LEN])
{
	struct bundle_index ix = { NULL, 0 };
	struct bundle_stats s;
	struct importer im;
	unsigned nth;
	int rc;

	memset(&s, 0, sizeof s);
	memset(&im, 0, sizeof im);
	im.ctx = *ictx;
	if ((rc = trust_cache_new(&im.ctx.trust_cache)) != 0 || (rc = bundle_index(buf, len, &ix)) != 0) {
		trust_cache_free(im.ctx.trust_cache);
		wm_why(why, "out of memory indexing the bundle");
		return rc;
	}
	s.events = ix.n;
	im.buf = buf;
	im.cbs = cbs;
	im.st = &s;
	im.total = ix.n;
	im.why = why;
	im.batch = cbs && cbs->batch ? cbs->batch : BUNDLE_BATCH;
	nth = cbs && cbs->threads ? cbs->threads : usable_cores();
	if (nth > MAX_WORKERS)
		nth = MAX_WORKERS;

	(void)store_set_durable(ictx->store, 0);
	rc = import_begin(&im);
	if (rc) {
		wm_why(why, "cannot start a store transaction: %s", wm_strerror(rc));
		goto out;
	}
	rc = import_trust(&im, &ix);
	if (rc)
		goto rollback;
	rc = nth > 1 ? import_rest_threads(&im, &ix, nth) : import_rest_serial(&im, &ix);
	if (rc)
		goto rollback;
	rc = store_commit(ictx->store);
	if (rc) {
		wm_why(why, "cannot commit to the store: %s", wm_strerror(rc));
		goto rollback;
	}
	(void)store_checkpoint(ictx->store);
	if (cbs && cbs->progress)
		cbs->progress(cbs->ctx, im.total, im.total);
	*st = s;
	goto out;
rollback:
	(void)store_rollback(ictx->store);
	*st = s;
out:
	(void)store_set_durable(ictx->store, 1);
	bundle_index_free(&ix);
	trust_cache_free(im.ctx.trust_cache);
	trust_cache_clear(ictx->trust_cache);   /* a caller's: the import wrote certs past it */
	return rc;
}

/* --- export ----------------------------------------------------------------- */

struct exporter {
	struct files_writer *w;
	struct bundle_export_stats st;
	unsigned only;                  /* 0: every kind not in skip */
	unsigned skip;                  /* bit k: kind k */
	int err;
};

static int export_cb(void *ctx, const struct stored_event *e)
{
	struct exporter *ex = ctx;
	if (!e->wire || (ex->only ? e->kind != ex->only : e->kind <= KIND_MAX && (ex->skip >> e->kind) & 1))
		return 0;
	if (e->retracted)
		ex->st.withheld++;
	if (files_writer_put(ex->w, e->wire, e->wire_len) != 0) {
		ex->err = WM_EIO;
		return 1;
	}
	ex->st.events++;
	ex->st.bytes += e->wire_len;
	if (e->kind == KIND_CERT)
		ex->st.certs++;
	else if (e->kind == KIND_REVOKE)
		ex->st.revocations++;
	return 0;
}

int bundle_export(struct store *s, const char *path, struct bundle_export_stats *st,
                  char why[WM_WHY_LEN])
{
	struct exporter ex;
	struct store_filter f;
	int rc, pass;

	memset(&ex, 0, sizeof ex);
	rc = files_writer_open(path, 0600, &ex.w, why);
	if (rc)
		return rc;
	for (pass = 0; pass < 4; pass++) {
		static const unsigned first[3] = { KIND_CERT, KIND_REVOKE, KIND_RETRACT };

		memset(&f, 0, sizeof f);
		ex.only = pass < 3 ? first[pass] : 0;
		ex.skip = 1u << KIND_CERT | 1u << KIND_REVOKE | 1u << KIND_RETRACT;
		f.kind = ex.only;
		rc = store_events(s, &f, export_cb, &ex);
		if (ex.err) {
			/* commit refuses a writer whose write failed: it says why
			 * (strerror) and removes the temporary file */
			(void)files_writer_commit(ex.w, why);
			return ex.err;
		}
		if (rc < 0) {
			files_writer_abort(ex.w);
			wm_why(why, "cannot read the store: %s", wm_strerror(rc));
			return rc;
		}
	}
	rc = files_writer_commit(ex.w, why);
	if (rc)
		return rc;
	*st = ex.st;
	return 0;
}
