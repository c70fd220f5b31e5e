/*
 * node/ingest.c: the one path into a store (see ingest.h).  Order of the
 * checks: size, already held, refused earlier, decode and verify, network,
 * withheld, clock, trust, then store with effects -- all the writes of one event in one
 * transaction, or in the caller's batch.  No savepoint per event: SQLite's
 * statement journal made that cost more than the signature check.  Inside
 * a batch, a refusal writes nothing but its remembered rejection, and
 * anything that fails after the first write is reported as WM_ESTORE,
 * which tells the caller to roll the batch back.
 *
 * ingest_prepare is the part before the store (wrapper, id, decode and
 * signature), free of shared state so that bundle import can run it on
 * worker threads; ingest_commit is the rest, and decodes itself when the
 * prepare step was told not to (ingest_event: the duplicate check first).
 *
 * What a reader must know: a refusal is remembered by id only when the id
 * is authenticated, i.e. the author's signature over it verifies.  Bytes
 * that fail before that (bad signature, broken wrapper) say nothing about
 * the genuine event with that id, and remembering them would let anyone
 * who saw an event poison it on nodes that have not received it yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "render.h"
#include "trust.h"

#define INGEST_FUTURE_MS (10u * 60u * 1000u)


/* --- retractions that arrived before their target ------------------------------ */

struct early {
	struct early_item { uint8_t *wire; size_t len; } *v;
	size_t n, cap;
};

/* A copy of each event's bytes (hidden events, judged again). */
static int early_add_any(void *ctx, const struct stored_event *e)
{
	struct early *l = ctx;
	struct early_item *v;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4;

		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return WM_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n].wire = malloc(e->wire_len ? e->wire_len : 1)) == NULL)
		return WM_ENOMEM;
	memcpy(l->v[l->n].wire, e->wire, e->wire_len);
	l->v[l->n].len = e->wire_len;
	l->n++;
	return 0;
}

static int early_add(void *ctx, const struct stored_event *e)
{
	if (e->kind != KIND_RETRACT || e->retracted)
		return 0;
	return early_add_any(ctx, e);
}

static void early_free(struct early *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].wire);
	free(l->v);
}

/* The event `ev` was just stored: apply the retractions of it that came
 * first, or drop them (remembered) if their author may not retract it. */
static int apply_early_retracts(const struct ingest_ctx *ctx, const struct event *ev)
{
	struct early l = { NULL, 0, 0 };
	struct store_info target;
	struct event *r;
	char why[WM_WHY_LEN];
	int rc, applied = 0;
	size_t i;

	if ((rc = store_waiting_retracts(ctx->store, ev->id, early_add, &l)) != 0 || l.n == 0)
		goto out;
	if ((rc = store_unwait_retracts(ctx->store, ev->id)) != 0)
		goto out;
	if ((rc = store_info(ctx->store, ev->id, &target)) != 0)
		goto out;
	for (i = 0; i < l.n; i++) {
		if (event_decode(l.v[i].wire, l.v[i].len, &r, why) != 0)
			continue;
		if (r->nrefs < 1 || memcmp(r->refs[0], ev->id, WM_ID_LEN) != 0) {
			event_free(r);          /* it only mentions ev further down */
			continue;
		}
		rc = trust_retract_allowed(ctx->store, ctx->root, r, &target, why);
		if (rc == WM_EUNKNOWNCERT)
			rc = WM_EFORBIDDEN;     /* it waited for its target: judged now, once */
		if (rc == 0) {
			if (!applied && (rc = store_retract(ctx->store, ev->id, r->id)) == 0)
				applied = 1;
		} else if (wm_error_is_lasting(rc)) {
			int code = rc;

			if ((rc = store_delete(ctx->store, r->id)) == 0)
				rc = store_remember_rejected(ctx->store, r->id, code, why);
		} else if (rc != WM_ESTORE && rc != WM_ENOMEM) {
			rc = 0;                 /* passing: leave it for later */
		}
		event_free(r);
		if (rc != 0)
			goto out;
	}
out:
	early_free(&l);
	return rc;
}

/* A withheld event is taken only where a retract of it is held (waiting
 * for its target) that may retract it; apply() then stores it and applies
 * the retract, so it is kept as any retracted event is.  Its own kind's
 * rules are not judged: its content is gone, and the retract decides. */
static int withheld_wanted(const struct ingest_ctx *ctx, const struct event *ev, char *why)
{
	struct early l = { NULL, 0, 0 };
	struct store_info target;
	struct event *r;
	char rwhy[WM_WHY_LEN];
	int rc, ok = 0;
	size_t i;

	if ((rc = store_waiting_retracts(ctx->store, ev->id, early_add, &l)) != 0)
		goto out;
	memset(&target, 0, sizeof target);
	target.kind = ev->kind;
	target.created_at = ev->created_at;
	target.expires_at = ev->expires_at;
	memcpy(target.author, ev->author, WM_PUB_LEN);
	memcpy(target.group, ev->group, sizeof target.group);
	for (i = 0; i < l.n && !ok; i++) {
		if (event_decode(l.v[i].wire, l.v[i].len, &r, rwhy) != 0)
			continue;
		ok = r->nrefs > 0 && memcmp(r->refs[0], ev->id, WM_ID_LEN) == 0 &&
		     trust_retract_allowed(ctx->store, ctx->root, r, &target, rwhy) == 0;
		event_free(r);
	}
	if (!ok) {
		wm_why(why, "withheld (its content deleted after a retract), and this node holds no retract "
		       "of it that may retract it");
		rc = WM_EWITHHELD;
	}
out:
	early_free(&l);
	return rc;
}

/* --- revokes whose hidden events are judged again ---------------------------------- */

/* Revokes that stopped counting or whose kept set grew (trust.h). */
struct stopped {
	uint8_t (*v)[WM_ID_LEN];
	size_t n, cap;
};

static int stopped_add(void *ctx, const uint8_t revoke[WM_ID_LEN])
{
	struct stopped *l = ctx;
	uint8_t (*v)[WM_ID_LEN];
	size_t i;

	for (i = 0; i < l->n; i++)
		if (memcmp(l->v[i], revoke, WM_ID_LEN) == 0)
			return 0;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4;

		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return WM_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n++], revoke, WM_ID_LEN);
	return 0;
}

static int apply(const struct ingest_ctx *ctx, const struct event *ev, int64_t *seq, char *why,
                 struct stopped *stopped);

/* Judge again each event the revokes in `l` decided to hide, and store
 * those that stand now, with their effects, as if they had just come
 * (a restored revoke or cert may change what others need: l grows, and
 * rounds go on while one restores anything).  Those still refused stay
 * hidden, their notes renewed. */
static int restore_hidden(const struct ingest_ctx *ctx, struct stopped *l)
{
	struct early h = { NULL, 0, 0 };
	struct event *ev;
	char why[WM_WHY_LEN];
	int64_t seq;
	size_t i, k, restored = 1;
	int rc = 0;

	while (rc == 0 && restored > 0) {
		restored = 0;
		for (i = 0; rc == 0 && i < l->n; i++) {
			if ((rc = store_hidden_by(ctx->store, l->v[i], early_add_any, &h)) != 0)
				break;
			for (k = 0; rc == 0 && k < h.n; k++) {
				if (event_decode(h.v[k].wire, h.v[k].len, &ev, why) != 0)
					continue;       /* it passed once */
				rc = trust_check_event(ctx->store, ctx->root, ev, why);
				if (rc == 0) {
					if ((rc = store_unhide(ctx->store, ev->id)) == 0 &&
					    (rc = apply(ctx, ev, &seq, why, l)) == 0)
						restored++;
				} else if (rc != WM_ESTORE && rc != WM_ENOMEM) {
					rc = store_hide(ctx->store, ev->id, l->v[i], WM_EREVOKED, why);
				}
				event_free(ev);
			}
			early_free(&h);
			memset(&h, 0, sizeof h);
		}
	}
	early_free(&h);
	return rc;
}

/* Store ev and what it does to the store; *seq is the new row's.  Revokes
 * whose hidden events to judge again are added to stopped, for
 * restore_hidden. */
static int apply(const struct ingest_ctx *ctx, const struct event *ev, int64_t *seq, char *why,
                 struct stopped *stopped)
{
	struct store *s = ctx->store;
	const uint8_t *subject;
	struct cert c;
	size_t n;
	int rc;

	if ((rc = store_insert(s, ev, (int64_t)(ctx->now > INT64_MAX ? INT64_MAX : ctx->now))) != 0)
		return rc;
	*seq = store_inserted_seq(s);
	if ((rc = trust_after_insert(s, ev, stopped_add, stopped)) != 0)
		return rc;
	switch (ev->kind) {
	case KIND_CERT:
		if ((rc = trust_cert_from_event(ev, &c, why)) != 0)
			return rc;
		if ((rc = store_add_cert(s, ev, &c)) != 0)
			return rc;
		break;
	case KIND_REVOKE:
		if (event_get_bin(ev, "subject", &subject, &n) != 0 || n != WM_PUB_LEN) {
			wm_why(why, "revocation has no 32-byte 'subject'");
			return WM_ECONTENT;
		}
		if ((rc = store_add_revocation(s, ev, subject, ev->created_at)) != 0)
			return rc;
		if ((rc = trust_after_revocation(s, ctx->root, ev, stopped_add, stopped, NULL)) != 0)
			return rc;
		break;
	case KIND_RETRACT:
		/* trust allowed it; a target not held yet is judged when it comes */
		rc = store_retract(s, ev->refs[0], ev->id);
		if (rc == WM_ENOTFOUND)
			rc = store_wait_retract(s, ev->refs[0], ev->id);
		if (rc != 0)
			return rc;
		break;
	default:
		break;
	}
	return apply_early_retracts(ctx, ev);
}

/* A refusal: fill res and remember it if lasting and the id is genuine.
 * With the decoded event, its created_at and group are kept too, so that
 * repair counts the id as held (node/store/store_neg.h). */
static int refuse(const struct ingest_ctx *ctx, struct ingest_result *res, int code, int remember,
                  const struct event *ev)
{
	int rc;

	res->code = code;
	if (res->why[0] == '\0')
		wm_why(res->why, "%s", wm_strerror(code));
	if (!remember || !wm_error_is_lasting(code))
		return code;
	/* The caller's lookup may be older than this transaction (bundle
	 * import looks a batch up before the one ahead of it is stored): a
	 * held event is never remembered as refused, whatever it is judged now. */
	if ((rc = store_has(ctx->store, res->id)) != 0) {
		if (rc < 0) {
			wm_why(res->why, "store: %s", store_errmsg(ctx->store));
			return res->code = WM_ESTORE;
		}
		wm_why(res->why, "already stored");
		return res->code = WM_EDUP;
	}
	if (ev != NULL)
		rc = store_remember_rejected_item(ctx->store, res->id, code, res->why, ev->created_at,
		                                  ev->group, ev->expires_at);
	else
		rc = store_remember_rejected(ctx->store, res->id, code, res->why);
	if (rc != 0)
		return res->code = WM_ESTORE;
	return code;
}

static void prep_decode(struct ingest_prep *p)
{
	const struct event_peek *pk = &p->pk;

	if (p->decoded || p->code != 0)
		return;
	p->decoded = 1;
	if (p->has_id)
		p->code = event_decode_peeked(pk, &p->ev, p->why);
	else
		p->code = event_decode(p->wire, p->len, &p->ev, p->why);   /* says what is wrong */
	if (p->code != 0) {
		p->ev = NULL;
		/* the author named at the head of the payload signed this id */
		p->authentic = p->has_id && pk->author != NULL &&
		               sig_verify(pk->author, pk->id, pk->sig) == 0;
	}
}

void ingest_prepare(const uint8_t *wire, size_t len, int verify, struct ingest_prep *p)
{
	if (p == NULL)
		return;
	memset(p, 0, sizeof(*p));
	p->wire = wire;
	p->len = len;
	if (wire == NULL || len == 0) {
		wm_why(p->why, "empty event");
		p->code = WM_EMALFORMED;
		return;
	}
	if (len > WM_MAX_WIRE) {
		wm_why(p->why, "event is %zu bytes, at most %d", len, (int)WM_MAX_WIRE);
		p->code = WM_ETOOBIG;
		return;
	}
	p->has_id = event_peek(wire, len, 0, &p->pk, NULL) == 0;
	if (verify)
		prep_decode(p);
}

void ingest_prepare_peeked(const struct event_peek *pk, int looked_up, struct ingest_prep *p)
{
	if (p == NULL)
		return;
	memset(p, 0, sizeof(*p));
	if (pk == NULL || !pk->has_id) {
		wm_why(p->why, "no peeked event");
		p->code = WM_EINVAL;
		return;
	}
	p->wire = pk->wire;
	p->len = pk->wire_len;
	p->pk = *pk;
	p->has_id = 1;
	p->looked_up = looked_up != 0;
}

void ingest_prep_verify(struct ingest_prep *p)
{
	if (p != NULL)
		prep_decode(p);
}

void ingest_prep_clear(struct ingest_prep *p)
{
	if (p == NULL)
		return;
	event_free(p->ev);
	memset(p, 0, sizeof(*p));
}

int ingest_event(const struct ingest_ctx *ctx, const uint8_t *wire, size_t len,
                 enum ingest_origin origin, struct ingest_result *res)
{
	struct ingest_prep p;
	int rc;

	ingest_prepare(wire, len, 0, &p);
	rc = ingest_commit(ctx, &p, origin, res);
	ingest_prep_clear(&p);
	return rc;
}

int ingest_commit(const struct ingest_ctx *ctx, struct ingest_prep *p,
                  enum ingest_origin origin, struct ingest_result *res)
{
	struct stopped stopped = { NULL, 0, 0 };
	const struct event *ev = NULL;
	struct store *s;
	char why[WM_WHY_LEN];
	int rc, code, own = 0, was_durable = 0, open = 0, failed = 0;

	if (res == NULL)
		return WM_EINVAL;
	memset(res, 0, sizeof(*res));
	if (ctx == NULL || ctx->store == NULL || p == NULL) {
		wm_why(res->why, "no store to ingest into");
		return res->code = WM_EINVAL;
	}
	s = ctx->store;
	if (p->code != 0 && !p->decoded) {     /* empty or too big */
		wm_why(res->why, "%s", p->why);
		return res->code = p->code;
	}

	if (p->has_id)
		memcpy(res->id, p->pk.id, WM_ID_LEN);
	if (p->has_id && !p->looked_up) {
		rc = store_lookup(s, res->id, &code, why);
		if (rc < 0) {
			wm_why(res->why, "store: %s", store_errmsg(s));
			return res->code = WM_ESTORE;
		}
		if (rc == STORE_HELD) {
			wm_why(res->why, "already stored");
			return res->code = WM_EDUP;
		}
		if (rc == STORE_REFUSED) {
			wm_why(res->why, "refused earlier (%s): %s", wm_errname(code), why);
			return res->code = WM_EREJECTED;
		}
	}

	if (!p->decoded && p->code == 0 && p->has_id && ctx->verified != NULL &&
	    (p->ev = ctx->verified(ctx->verified_ctx, p->pk.id)) != NULL)
		p->decoded = 1;
	prep_decode(p);
	if (p->code != 0) {
		wm_why(res->why, "%s", p->why);
		return refuse(ctx, res, p->code, p->authentic, NULL);
	}
	ev = p->ev;
	memcpy(res->id, ev->id, WM_ID_LEN);
	res->kind = ev->kind;

	if (memcmp(ev->network, ctx->network, WM_NETWORK_LEN) != 0) {
		char theirs[2 * WM_NETWORK_LEN + 1], ours[2 * WM_NETWORK_LEN + 1];

		hex_encode(theirs, ev->network, WM_NETWORK_LEN);
		hex_encode(ours, ctx->network, WM_NETWORK_LEN);
		wm_why(res->why, "made in another network (id %s); this node is in network %s%s%s%s", theirs,
		       ctx->network_name ? "'" : "", ctx->network_name ? ctx->network_name : "",
		       ctx->network_name ? "', id " : "id ", ours);
		rc = refuse(ctx, res, WM_ENETWORK, 1, ev);
		goto out;
	}

	if (ev->created_at > ctx->now && ev->created_at - ctx->now > INGEST_FUTURE_MS) {
		char when[96], most[64];

		render_when(when, sizeof when, ev->created_at, ctx->now);
		render_span(most, sizeof most, INGEST_FUTURE_MS);
		wm_why(res->why, "dated %s by its author's clock; at most %s ahead of this node's clock "
		       "is accepted: check the clocks", when, most);
		rc = refuse(ctx, res, WM_EFUTURE, 0, ev);
		goto out;
	}
	if (ev->expires_at != 0 && ev->expires_at <= ctx->now) {
		char when[96];

		render_when(when, sizeof when, ev->expires_at, ctx->now);
		wm_why(res->why, "expired %s", when);
		rc = refuse(ctx, res, WM_EEXPIRED, 0, ev);
		goto out;
	}

	/* From here on, everything happens in one transaction. */
	own = !store_in_transaction(s);
	was_durable = store_is_durable(s);
	if (origin == INGEST_LOCAL && !was_durable && (rc = store_set_durable(s, 1)) != 0)
		goto store_error;
	if (own) {
		if ((rc = store_begin(s)) != 0)
			goto store_error;
		open = 1;
	}

	/* the cache only inside the caller's transaction: in ours, it would
	 * outlive it */
	rc = ev->withheld ? withheld_wanted(ctx, ev, res->why)
	                  : trust_check_event_cached(own ? NULL : ctx->trust_cache, s, ctx->root, ev, res->why);
	if (rc == WM_ESTORE || rc == WM_ENOMEM || rc == WM_EINVAL)
		goto store_error;
	if (rc == WM_EREVOKED && !ev->withheld) {
		/* refused only because of revocations: kept hidden, to be judged
		 * again when they change (a keep list grows) */
		res->code = rc;
		rc = store_insert(s, ev, (int64_t)(ctx->now > INT64_MAX ? INT64_MAX : ctx->now));
		if (rc == WM_EDUP) {            /* another writer stored it first */
			wm_why(res->why, "already stored");
			res->code = WM_EDUP;
			goto finish;
		}
		if (rc != 0 || (rc = store_hide(s, ev->id, NULL, WM_EREVOKED, res->why)) != 0)
			goto store_error;
		goto finish;
	}
	if (rc != 0) {
		rc = refuse(ctx, res, rc, 1, ev);
		if (rc == WM_ESTORE)
			goto store_error;
		goto finish;
	}
	rc = apply(ctx, ev, &res->seq, res->why, &stopped);
	if (rc == 0)
		rc = restore_hidden(ctx, &stopped);
	if (rc == WM_EDUP) {            /* another writer got there first */
		wm_why(res->why, "already stored");
		res->code = WM_EDUP;
		goto finish;
	}
	if (rc != 0) {
		if (rc == WM_ESTORE || rc == WM_ENOMEM)
			goto store_error;
		/* Cannot happen once trust passed.  Never leave half an event:
		 * inside the caller's batch, only a rollback undoes it. */
		if (res->why[0] == '\0')
			wm_why(res->why, "%s", wm_strerror(rc));
		res->code = own ? rc : WM_ESTORE;
		goto rollback;
	}
	res->why[0] = '\0';
	res->code = 0;
finish:
	rc = open ? store_commit(s) : 0;
	open = 0;
	if (rc != 0)
		goto store_error;
	rc = res->code;
	goto out;
store_error:
	wm_why(res->why, "store: %s", store_errmsg(s)[0] ? store_errmsg(s) : wm_strerror(rc));
	res->code = rc == WM_ENOMEM ? WM_ENOMEM : WM_ESTORE;
rollback:
	failed = 1;
	if (open)
		(void)store_rollback(s);
	rc = res->code;
out:
	/* What may change a certificate list: a cert or revoke (its late pass
	 * hides what it no longer allows), a hidden event restored, a write
	 * half done and rolled back. */
	if (failed || stopped.n > 0 || (ev != NULL && (ev->kind == KIND_CERT || ev->kind == KIND_REVOKE)))
		trust_cache_clear(ctx->trust_cache);
	/* Inside a caller's transaction the caller's commit is the durable one. */
	if (origin == INGEST_LOCAL && !was_durable && own)
		(void)store_set_durable(s, 0);
	free(stopped.v);
	return rc;
}
