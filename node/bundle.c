/*
 * node/bundle: indexing, importing and exporting bundle files (bundle.h).
 *
 * The index trusts a wrapper's length headers only as far as the next
 * wrapper: when the bytes after an event do not start another one, the
 * event before is decoded; if it is bad too, its length was probably the
 * damaged byte and the scan for the next good event restarts just after its
 * first byte.  A resync point must both have a wrapper header and decode
 * fully (signature included), so random bytes are not taken for an event.
 */
#include "bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "files.h"

/* The kind from the payload's first bytes: [0x98, version 1, kind]. */
static unsigned peek_kind(const uint8_t *w, size_t len)
{
	size_t p;
	if (len < 8 || w[0] != 0x92)
		return 0;
	switch (w[1]) {
	case 0xc4: p = 3; break;
	case 0xc5: p = 4; break;
	case 0xc6: p = 6; break;
	default: return 0;
	}
	if (p + 3 > len || w[p] != 0x98 || w[p + 1] != 0x01 || w[p + 2] > KIND_MAX)
		return 0;
	return w[p + 2];
}

/* 1 if a whole, valid event starts at buf (len bytes available). */
static int event_at(const uint8_t *buf, size_t len, size_t *evlen)
{
	struct event *ev = NULL;
	char why[WM_WHY_LEN];
	size_t n;

	if (len == 0 || buf[0] != 0x92)
		return 0;
	if (event_wire_len(buf, len, &n) != 0 || n > len)
		return 0;
	if (event_decode(buf, n, &ev, why) != 0)
		return 0;
	event_free(ev);
	*evlen = n;
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
		int r = event_wire_len(buf + pos, len - pos, &n);
		int cut = r == WM_ETRUNCATED || (r == 0 && n > len - pos);
		char wwhy[WM_WHY_LEN];

		if (r == 0 && n > 0 && n <= len - pos) {
			rc = ix_push(&ix, &cap, pos, n, NULL);
			if (rc)
				goto fail;
			ix.items[ix.n - 1].kind = peek_kind(buf + pos, n);
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
			event_free(ev);
			if (d != 0) {
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
	const struct ingest_ctx *ictx;
	const uint8_t *buf;
	const struct bundle_import_cbs *cbs;
	struct bundle_stats *st;
	size_t in_batch;
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

static int fatal(int code)
{
	return code == WM_ESTORE || code == WM_ENOMEM || code == WM_EIO;
}

/* Ingest one item, keeping transactions at BUNDLE_BATCH events. */
static int ingest_one(struct importer *im, const struct bundle_item *it, struct ingest_result *res)
{
	int rc;
	if (im->in_batch >= BUNDLE_BATCH) {
		rc = store_commit(im->ictx->store);
		if (rc == 0)
			rc = store_begin(im->ictx->store);
		if (rc) {
			files_why(im->why, "cannot commit to the store: %s", wm_strerror(rc));
			return rc;
		}
		im->in_batch = 0;
	}
	memset(res, 0, sizeof *res);
	rc = ingest_event(im->ictx, im->buf + it->off, it->len, INGEST_IMPORT, res);
	im->in_batch++;
	if (fatal(rc)) {
		files_why(im->why, "store failed while importing: %s",
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
		files_why(im->why, "out of memory");
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

int bundle_import(const struct ingest_ctx *ictx, const uint8_t *buf, size_t len,
                  const struct bundle_import_cbs *cbs, struct bundle_stats *st,
                  char why[WM_WHY_LEN])
{
	struct bundle_index ix = { NULL, 0 };
	struct bundle_stats s;
	struct importer im;
	struct ingest_result res;
	size_t i;
	int rc;

	memset(&s, 0, sizeof s);
	memset(&im, 0, sizeof im);
	rc = bundle_index(buf, len, &ix);
	if (rc) {
		files_why(why, "out of memory indexing the bundle");
		return rc;
	}
	s.events = ix.n;
	im.ictx = ictx;
	im.buf = buf;
	im.cbs = cbs;
	im.st = &s;
	im.total = ix.n;
	im.why = why;

	(void)store_set_durable(ictx->store, 0);
	rc = store_begin(ictx->store);
	if (rc) {
		files_why(why, "cannot start a store transaction: %s", wm_strerror(rc));
		goto out;
	}
	rc = import_trust(&im, &ix);
	if (rc)
		goto rollback;
	for (i = 0; i < ix.n; i++) {
		const struct bundle_item *it = &ix.items[i];
		if (it->bad) {
			memset(&res, 0, sizeof res);
			res.code = WM_EMALFORMED;
			snprintf(res.why, sizeof res.why, "%s", it->why);
			s.unreadable++;
			if (it->cut)
				s.truncated = 1;
			report(&im, i, it, 0, &res);
			progress(&im);
			continue;
		}
		if (it->kind == KIND_CERT || it->kind == KIND_REVOKE)
			continue;
		rc = ingest_one(&im, it, &res);
		if (rc)
			goto rollback;
		if (res.code == 0)
			s.stored++;
		else if (res.code == WM_EDUP)
			s.duplicates++;
		else
			report(&im, i, it, has_id(&res), &res);
		progress(&im);
	}
	rc = store_commit(ictx->store);
	if (rc) {
		files_why(why, "cannot commit to the store: %s", wm_strerror(rc));
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
	return rc;
}

/* --- export ----------------------------------------------------------------- */

struct exporter {
	struct files_writer *w;
	struct bundle_export_stats st;
	unsigned only, skip1, skip2;
	int err;
};

static int export_cb(void *ctx, const struct stored_event *e)
{
	struct exporter *ex = ctx;
	if (!e->wire || e->retracted)
		return 0;
	if (ex->only && e->kind != ex->only)
		return 0;
	if (e->kind == ex->skip1 || e->kind == ex->skip2)
		return 0;
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
	rc = files_writer_open(path, 0644, &ex.w, why);
	if (rc)
		return rc;
	for (pass = 0; pass < 3; pass++) {
		memset(&f, 0, sizeof f);
		ex.only = 0;
		ex.skip1 = ex.skip2 = 0;
		if (pass == 0)
			f.kind = ex.only = KIND_CERT;
		else if (pass == 1)
			f.kind = ex.only = KIND_REVOKE;
		else {
			ex.skip1 = KIND_CERT;
			ex.skip2 = KIND_REVOKE;
		}
		rc = store_events(s, &f, export_cb, &ex);
		if (ex.err) {
			files_writer_abort(ex.w);
			files_why(why, "cannot write %s", path);
			return ex.err;
		}
		if (rc < 0) {
			files_writer_abort(ex.w);
			files_why(why, "cannot read the store: %s", wm_strerror(rc));
			return rc;
		}
	}
	rc = files_writer_commit(ex.w, why);
	if (rc)
		return rc;
	*st = ex.st;
	return 0;
}
