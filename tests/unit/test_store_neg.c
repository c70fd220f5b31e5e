/*
 * Unit tests of node/store/store_neg, the store-backed negentropy view, against
 * neg_vec holding the same items: size, every item, lower bounds and
 * fingerprints of random ranges, and whole reconciliations whose every
 * message must be byte-identical to the same run over neg_vec -- on
 * scopes "*", one group, two groups and "network", after inserts, deletes,
 * retractions, refusals remembered, expiry collected and expiry pending.
 * Also: the migration from schema 1 builds the aggregates from the rows
 * already there; the session is a snapshot; damaged aggregates are reported, never
 * answered.  STORE_NEG_TEST_SEED=<n> replays a run (the seed is printed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "fixture.h"
#include "negentropy.h"
#include "store.h"
#include "store_neg.h"
/* the room's private header: store_db to damage the aggregates, the
 * session's size and counters, rows put in without events behind them */
#include "seeded.h"
#include "store_int.h"
#include "wmcrypto.h"

#define BASE_TS 1764000000000ULL       /* ms, late 2025 */
#define NOW     (BASE_TS + 40ULL * 86400 * 1000)

/* What the test believes the store holds. */
struct row {
	uint64_t ts, expires_at;
	uint8_t id[NEG_ID_LEN];
	const char *group;
	int present;            /* in events (stored or retracted) */
	int rejected;           /* remembered refusal with created_at/group */
};

struct fixture {
	struct fx_dir d;
	struct store *s;
	struct row *rows;
	size_t n;
};

static const char *const groups[] = { "g1", "g2", "network", "g3.village" };

static void fx_close(struct fixture *f)
{
	store_close(f->s);
	fx_store_remove(&f->d);
	free(f->rows);
}

/* n random rows: most spread over [lo, lo + span), a dense burst in one
 * bucket, some sharing a timestamp, a fifth expiring. */
static void fx_fill_in(struct fixture *f, size_t n, uint64_t lo, uint64_t span)
{
	struct store_neg_raw *raw = calloc(n, sizeof *raw);
	size_t i;

	assert_non_null(raw);
	f->rows = realloc(f->rows, (f->n + n) * sizeof *f->rows);
	assert_non_null(f->rows);
	for (i = 0; i < n; i++) {
		struct row *r = &f->rows[f->n + i];
		uint64_t k = rnd_below(10);
		size_t j;

		memset(r, 0, sizeof *r);
		if (k == 0)
			r->ts = BASE_TS + 5ULL * 86400 * 1000 + rnd_below(1000);      /* burst */
		else if (k == 1 && i > 0)
			r->ts = f->rows[f->n + i - 1].ts;                             /* same ts */
		else
			r->ts = lo + rnd_below(span);
		for (j = 0; j < NEG_ID_LEN; j += 8) {
			uint64_t v = rnd();

			memcpy(r->id + j, &v, 8);
		}
		if (k == 1 && i > 0 && rnd_below(2)) {                            /* long prefix */
			uint32_t tag = (uint32_t)(f->n + i);   /* unique tail */

			memcpy(r->id, f->rows[f->n + i - 1].id, NEG_ID_LEN - 4);
			memcpy(r->id + NEG_ID_LEN - 4, &tag, 4);
		}
		r->group = groups[rnd_below(4)];
		if (rnd_below(5) == 0)
			r->expires_at = r->ts + 1 + rnd_below(60ULL * 86400 * 1000); /* some before NOW */
		else if (rnd_below(50) == 0)
			r->expires_at = NOW;            /* expired exactly at NOW */
		r->present = 1;
		raw[i].created_at = r->ts;
		memcpy(raw[i].id, r->id, NEG_ID_LEN);
		raw[i].group = r->group;
		raw[i].expires_at = r->expires_at;
	}
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_neg_insert_raw(f->s, raw, n), 0);
	assert_int_equal(store_commit(f->s), 0);
	f->n += n;
	free(raw);
}

/* Over 30 days: ~600 buckets, ~3 items each (the burst aside). */
static void fx_fill(struct fixture *f, size_t n)
{
	fx_fill_in(f, n, BASE_TS, 30ULL * 86400 * 1000);
}

static int in_scope(const char *g, const char *const *scope, size_t ns)
{
	size_t i;

	for (i = 0; i < ns; i++)
		if (strcmp(scope[i], "*") == 0 || strcmp(scope[i], g) == 0)
			return 1;
	return 0;
}

/* The expected set of a scope at `now`, as a sealed neg_vec. */
static struct neg_vec *fx_expected(const struct fixture *f, const char *const *scope, size_t ns,
                                   uint64_t now)
{
	struct neg_vec *v = NULL;
	size_t i;

	assert_int_equal(neg_vec_new(&v), 0);
	for (i = 0; i < f->n; i++) {
		const struct row *r = &f->rows[i];

		if (!in_scope(r->group, scope, ns))
			continue;
		if (r->present && !(r->expires_at != 0 && r->expires_at <= now))
			assert_int_equal(neg_vec_add(v, r->ts, r->id), 0);
		else if (r->rejected && !(r->expires_at != 0 && r->expires_at <= now))
			assert_int_equal(neg_vec_add(v, r->ts, r->id), 0);
	}
	assert_int_equal(neg_vec_seal(v), 0);
	return v;
}

/* Every item of view v read in order: 0, or the first read's error. */
static int view_read_all(struct store_neg *v)
{
	struct neg_storage st = store_neg_storage(v);
	struct neg_item it;
	size_t i;
	int rc = 0;

	for (i = 0; i < st.ops->size(st.ctx) && rc == 0; i++)
		rc = st.ops->item(st.ctx, i, &it);
	return rc;
}

/* Both storages answer alike: size, items, random lower bounds and
 * fingerprints. */
static void same_answers(struct neg_storage *a, struct neg_storage *b)
{
	size_t n = a->ops->size(a->ctx), i;

	assert_int_equal(n, b->ops->size(b->ctx));
	for (i = 0; i < n; i++) {
		struct neg_item x, y;

		assert_int_equal(a->ops->item(a->ctx, i, &x), 0);
		assert_int_equal(b->ops->item(b->ctx, i, &y), 0);
		if (neg_item_cmp(&x, &y) != 0)
			fail_msg("item %zu differs (seed %llu)", i, (unsigned long long)seed);
	}
	for (i = 0; i < 400; i++) {
		size_t lo = rnd_below(n + 1), hi = lo + rnd_below(n - lo + 1);
		uint8_t f1[NEG_FP_LEN], f2[NEG_FP_LEN];
		struct neg_bound bd;
		struct neg_item it;
		size_t p1, p2;

		if (i % 5 == 0) {               /* large ranges, many whole buckets */
			lo = rnd_below(n / 10 + 1);
			hi = n - rnd_below(n / 10 + 1);
			if (hi < lo)
				hi = lo;
		}
		assert_int_equal(a->ops->fingerprint(a->ctx, lo, hi, f1), 0);
		assert_int_equal(b->ops->fingerprint(b->ctx, lo, hi, f2), 0);
		if (memcmp(f1, f2, NEG_FP_LEN) != 0)
			fail_msg("fingerprint [%zu, %zu) differs (seed %llu)", lo, hi, (unsigned long long)seed);

		memset(&bd, 0, sizeof bd);
		if (n && i % 3 == 0) {          /* an item's own bound, or a prefix of it */
			assert_int_equal(b->ops->item(b->ctx, rnd_below(n), &it), 0);
			bd.ts = it.ts;
			bd.idlen = rnd_below(NEG_ID_LEN + 1);
			memcpy(bd.id, it.id, bd.idlen);
		} else if (i % 3 == 1) {
			bd.ts = BASE_TS + rnd_below(31ULL * 86400 * 1000);
		} else {
			bd.ts = i % 2 ? NEG_TS_INFINITY : rnd_below(2) ? 0 : BASE_TS - 1;
		}
		assert_int_equal(a->ops->lower_bound(a->ctx, lo, hi, &bd, &p1), 0);
		assert_int_equal(b->ops->lower_bound(b->ctx, lo, hi, &bd, &p2), 0);
		if (p1 != p2)
			fail_msg("lower bound in [%zu, %zu) is %zu, expected %zu (seed %llu)", lo, hi, p1, p2,
			         (unsigned long long)seed);
	}
	{
		uint8_t fp[NEG_FP_LEN];
		size_t p;
		struct neg_bound bd;
		struct neg_item it;

		memset(&bd, 0, sizeof bd);
		assert_int_equal(a->ops->fingerprint(a->ctx, 1, 0, fp), WM_EINVAL);
		assert_int_equal(a->ops->fingerprint(a->ctx, 0, n + 1, fp), WM_EINVAL);
		assert_int_equal(a->ops->lower_bound(a->ctx, 0, n + 1, &bd, &p), WM_EINVAL);
		assert_int_equal(a->ops->item(a->ctx, n, &it), WM_EINVAL);
	}
}

/* A whole reconciliation of `mine` (client) against `theirs` (server);
 * the messages of the client are appended to *log (one buffer). */
struct conv {
	uint8_t *bytes;
	size_t len, msgs;
	struct neg_ids have, need;
};

static void conv_add(struct conv *c, const uint8_t *m, size_t len)
{
	c->bytes = realloc(c->bytes, c->len + len + 8);
	assert_non_null(c->bytes);
	memcpy(c->bytes + c->len, &len, sizeof len);
	memcpy(c->bytes + c->len + sizeof len, m, len);
	c->len += len + sizeof len;
	c->msgs++;
}

static void reconcile(const struct neg_storage *mine, const struct neg_storage *theirs,
                      uint64_t limit, int mine_is_client, struct conv *c)
{
	struct neg *cl = NULL, *sv = NULL;
	uint8_t *msg = NULL, *ans = NULL;
	size_t len = 0, anslen = 0;
	char why[WM_WHY_LEN];

	assert_int_equal(neg_new(mine_is_client ? mine : theirs, limit, &cl), 0);
	assert_int_equal(neg_new(mine_is_client ? theirs : mine, limit, &sv), 0);
	assert_int_equal(neg_initiate(cl, &msg, &len), 0);
	while (msg != NULL) {
		conv_add(c, msg, len);
		if (neg_reconcile_server(sv, msg, len, &ans, &anslen, why, sizeof why) != 0)
			fail_msg("server: %s (seed %llu)", why, (unsigned long long)seed);
		conv_add(c, ans, anslen);
		free(msg);
		msg = NULL;
		if (neg_reconcile_client(cl, ans, anslen, &c->have, &c->need, &msg, &len, why,
		                         sizeof why) != 0)
			fail_msg("client: %s (seed %llu)", why, (unsigned long long)seed);
		free(ans);
		assert_true(c->msgs < 20000);
	}
	neg_free(cl);
	neg_free(sv);
}

static void conv_free(struct conv *c)
{
	free(c->bytes);
	neg_ids_free(&c->have);
	neg_ids_free(&c->need);
}

/* A peer's set: the expected one with ~3% left out and some of its own. */
static struct neg_vec *peer_of(struct neg_vec *exp, size_t *nmissing, size_t *nextra)
{
	struct neg_storage st = neg_vec_storage(exp);
	struct neg_vec *p = NULL;
	size_t n = st.ops->size(st.ctx), i;

	*nmissing = *nextra = 0;
	assert_int_equal(neg_vec_new(&p), 0);
	for (i = 0; i < n; i++) {
		struct neg_item it;

		assert_int_equal(st.ops->item(st.ctx, i, &it), 0);
		if (rnd_below(100) < 3) {
			(*nmissing)++;
			continue;
		}
		assert_int_equal(neg_vec_add(p, it.ts, it.id), 0);
		if (rnd_below(100) < 2) {
			it.id[0] ^= 0xff;
			it.id[31] ^= 0x11;
			assert_int_equal(neg_vec_add(p, it.ts + rnd_below(2), it.id), 0);
			(*nextra)++;
		}
	}
	assert_int_equal(neg_vec_seal(p), 0);
	return p;
}

/* The view of a scope against its expectation, answers and messages. */
static void check_scope(struct fixture *f, const char *const *scope, size_t ns, uint64_t now)
{
	struct store_neg *v = NULL;
	struct neg_vec *exp = fx_expected(f, scope, ns, now), *peer;
	struct neg_storage sv, se, sp;
	char why[WM_WHY_LEN];
	size_t nmiss, nextra, k;
	static const uint64_t limits[] = { 0, 4096, 60000 };

	if (store_neg_open(f->s, scope, ns, now, &v, why) != 0)
		fail_msg("store_neg_open: %s", why);
	sv = store_neg_storage(v);
	se = neg_vec_storage(exp);
	same_answers(&sv, &se);
	peer = peer_of(exp, &nmiss, &nextra);
	sp = neg_vec_storage(peer);
	for (k = 0; k < 3; k++) {
		struct conv a, b;
		int client = k != 1;

		memset(&a, 0, sizeof a);
		memset(&b, 0, sizeof b);
		reconcile(&sv, &sp, limits[k], client, &a);
		reconcile(&se, &sp, limits[k], client, &b);
		assert_int_equal(a.msgs, b.msgs);
		assert_int_equal(a.len, b.len);
		if (memcmp(a.bytes, b.bytes, a.len) != 0)
			fail_msg("the store view's conversation differs from neg_vec's (seed %llu)",
			         (unsigned long long)seed);
		assert_int_equal(a.have.n, client ? nmiss : nextra);
		assert_int_equal(a.need.n, client ? nextra : nmiss);
		conv_free(&a);
		conv_free(&b);
	}
	store_neg_close(v);
	neg_vec_free(exp);
	neg_vec_free(peer);
}

static const char *const scope_all[] = { "*" };
static const char *const scope_g1[] = { "g1" };
static const char *const scope_two[] = { "g2", "g3.village", "g2" };
static const char *const scope_net[] = { "network" };

/* 1 if the store remembers a refusal of id. */
static int rejected_with_id(struct fixture *f, const uint8_t id[NEG_ID_LEN])
{
	int code;
	char why[WM_WHY_LEN];

	return store_was_rejected(f->s, id, &code, why);
}

static void check_all_scopes(struct fixture *f, uint64_t now)
{
	check_scope(f, scope_all, 1, now);
	check_scope(f, scope_g1, 1, now);
	check_scope(f, scope_two, 3, now);
	check_scope(f, scope_net, 1, now);
}

/* ---- tests ---- */

static void test_view_matches_vec(void **state)
{
	struct fixture f;

	(void)state;
	memset(&f, 0, sizeof f);
	fx_store_new(&f.d, "store_neg", &f.s);
	check_all_scopes(&f, NOW);              /* empty store */
	fx_fill(&f, 6000);
	check_all_scopes(&f, NOW);
	check_all_scopes(&f, BASE_TS);          /* nothing expired yet */
	fx_fill(&f, 3000);                      /* inserts after the first sessions */
	check_all_scopes(&f, NOW);
	fx_close(&f);
}

static void test_after_changes(void **state)
{
	struct fixture f;
	int64_t collected = 0, want = 0;
	size_t i, deleted = 0, retracted = 0, rejected = 0;
	uint8_t by[WM_ID_LEN];

	(void)state;
	memset(&f, 0, sizeof f);
	fx_store_new(&f.d, "store_neg", &f.s);
	fx_fill(&f, 5000);
	memset(by, 0xee, sizeof by);
	for (i = 0; i < f.n; i++) {
		struct row *r = &f.rows[i];
		uint64_t k = rnd_below(20);

		if (k == 0) {                   /* deleted: gone from repair */
			assert_int_equal(store_delete(f.s, r->id), 0);
			r->present = 0;
			deleted++;
		} else if (k == 1) {            /* retracted: its id is still held */
			assert_int_equal(store_retract(f.s, r->id, by), 0);
			retracted++;
		} else if (k == 2) {            /* refused after the fact: counted */
			assert_int_equal(store_delete(f.s, r->id), 0);
			assert_int_equal(store_remember_rejected(f.s, r->id, WM_EREVOKED, "test"), 0);
			r->present = 0;
			r->rejected = 1;
			rejected++;
		}
	}
	/* a refusal remembered with its time and group, of an event never held */
	f.rows = realloc(f.rows, (f.n + 4) * sizeof *f.rows);
	assert_non_null(f.rows);
	memset(&f.rows[f.n], 0, 4 * sizeof *f.rows);
	f.rows[f.n].ts = BASE_TS + 12345;
	memset(f.rows[f.n].id, 0x42, NEG_ID_LEN);
	f.rows[f.n].group = "g1";
	f.rows[f.n].rejected = 1;
	assert_int_equal(store_remember_rejected_item(f.s, f.rows[f.n].id, WM_ESIG, "test",
	                                              f.rows[f.n].ts, "g1", 0), 0);
	/* remembered twice: still one item */
	assert_int_equal(store_remember_rejected_item(f.s, f.rows[f.n].id, WM_ESIG, "again",
	                                              f.rows[f.n].ts, "g1", 0), 0);
	/* one without time or group: not counted */
	memset(f.rows[f.n + 1].id, 0x43, NEG_ID_LEN);
	f.rows[f.n + 1].group = "g1";
	assert_int_equal(store_remember_rejected(f.s, f.rows[f.n + 1].id, WM_ESIG, "test"), 0);
	/* refusals of events that expire: one before the collection below,
	 * one after it but before NOW (pending: the view leaves it out) */
	for (i = 2; i < 4; i++) {
		struct row *r = &f.rows[f.n + i];

		r->ts = BASE_TS + 1000 * i;
		memset(r->id, 0x44 + (int)i, NEG_ID_LEN);
		r->group = "g2";
		r->rejected = 1;
		r->expires_at = i == 2 ? BASE_TS + 86400000 : NOW - 1000;
		assert_int_equal(store_remember_rejected_item(f.s, r->id, WM_ESIG, "test", r->ts, "g2",
		                                              r->expires_at), 0);
	}
	f.n += 4;
	print_message("deleted %zu, retracted %zu, refused %zu\n", deleted, retracted, rejected);
	assert_true(deleted > 0 && retracted > 0 && rejected > 0);
	check_all_scopes(&f, NOW);

	/* expiry collected up to a time before NOW: the rest stay pending,
	 * and the view leaves those out by itself */
	for (i = 0; i < f.n; i++)
		if (f.rows[i].present && f.rows[i].expires_at != 0 &&
		    f.rows[i].expires_at <= BASE_TS + 20ULL * 86400 * 1000)
			want++;
	assert_int_equal(store_collect_expired(f.s, BASE_TS + 20ULL * 86400 * 1000, &collected), 0);
	assert_int_equal(collected, want);
	for (i = 0; i < f.n; i++)
		if (f.rows[i].expires_at != 0 && f.rows[i].expires_at <= BASE_TS + 20ULL * 86400 * 1000)
			f.rows[i].present = f.rows[i].rejected = 0;
	assert_int_equal(rejected_with_id(&f, f.rows[f.n - 2].id), 0);         /* collected */
	assert_int_equal(rejected_with_id(&f, f.rows[f.n - 1].id), 1);         /* pending */
	check_all_scopes(&f, NOW);
	assert_int_equal(store_collect_expired(f.s, NOW, &collected), 0);
	assert_true(collected > 0);
	check_all_scopes(&f, NOW);
	fx_close(&f);
}

static void test_migration_format1(void **state)
{
	/* a store of an older schema with events in it holds events of the
	 * retired format 1: refused, saying what to do; an empty one migrates,
	 * and the aggregates and their triggers work */
	struct fixture f;
	char why[WM_WHY_LEN];
	const char *old_schema =
		"DROP TRIGGER IF EXISTS neg_events_ins; DROP TRIGGER neg_events_del;"
		"DROP TRIGGER neg_rejected_ins; DROP TRIGGER neg_rejected_del;"
		"DROP TRIGGER neg_rejected_upd_old; DROP TRIGGER neg_rejected_upd_new;"
		"DROP TABLE neg_agg; DROP TABLE neg_fine; DROP INDEX rejected_time;"
		"DROP INDEX events_retracted; DROP INDEX rejected_expiry;"
		"ALTER TABLE rejected DROP COLUMN expires_at;"
		"ALTER TABLE rejected DROP COLUMN created_at;"
		"ALTER TABLE rejected DROP COLUMN grp;"
		"ALTER TABLE events DROP COLUMN withheld;"
		"DROP TABLE hidden; DROP TABLE hidden_by; DROP TABLE kept; DROP TABLE gaps;"
		"ALTER TABLE events DROP COLUMN prev;"
		"DROP INDEX events_grp_time; DROP INDEX events_kind_time;"
		"DROP TABLE search_idx; DROP INDEX events_search; ALTER TABLE events DROP COLUMN search_key;"
		"CREATE VIRTUAL TABLE events_fts USING fts5(body, tokenize='trigram', detail=none);"
		"UPDATE events SET author = (SELECT key FROM authors WHERE aid = events.author),"
		"  grp = (SELECT name FROM grps WHERE gid = events.grp);"
		"DROP TABLE authors; DROP TABLE grps;"
		"PRAGMA user_version = 1;";

	(void)state;
	memset(&f, 0, sizeof f);
	fx_store_new(&f.d, "store_neg", &f.s);
	fx_fill(&f, 300);
	assert_int_equal(sqlite3_exec(store_db(f.s), old_schema, NULL, NULL, NULL), SQLITE_OK);
	store_close(f.s);
	f.s = NULL;
	assert_int_equal(store_open(f.d.path, &f.s, why), WM_ESTORE);
	assert_non_null(strstr(why, "retired event format 1"));
	assert_non_null(strstr(why, "make a new data directory"));
	free(f.rows);
	fx_store_remove(&f.d);

	memset(&f, 0, sizeof f);
	fx_store_new(&f.d, "store_neg", &f.s);
	assert_int_equal(sqlite3_exec(store_db(f.s), old_schema, NULL, NULL, NULL), SQLITE_OK);
	store_close(f.s);
	if (store_open(f.d.path, &f.s, why) != 0)
		fail_msg("store_open: %s", why);
	fx_fill(&f, 500);
	check_all_scopes(&f, NOW);
	fx_close(&f);
}

static void test_snapshot(void **state)
{
	struct fixture f;
	struct store_neg *v = NULL, *v2 = NULL;
	struct neg_storage st;
	struct store_neg_stats stats;
	uint8_t fp1[NEG_FP_LEN], fp2[NEG_FP_LEN];
	char why[WM_WHY_LEN];
	size_t n;

	(void)state;
	memset(&f, 0, sizeof f);
	fx_store_new(&f.d, "store_neg", &f.s);
	fx_fill(&f, 2000);
	assert_int_equal(store_neg_open(f.s, scope_all, 1, NOW, &v, why), 0);
	st = store_neg_storage(v);
	n = st.ops->size(st.ctx);
	assert_int_equal(st.ops->fingerprint(st.ctx, 0, n, fp1), 0);
	/* the node keeps writing through its own connection */
	fx_fill(&f, 500);
	assert_int_equal(store_delete(f.s, f.rows[0].id), 0);
	assert_int_equal(st.ops->size(st.ctx), n);
	assert_int_equal(st.ops->fingerprint(st.ctx, 0, n, fp2), 0);
	assert_memory_equal(fp1, fp2, NEG_FP_LEN);
	{       /* and every item still reads (the new rows are not seen) */
		struct neg_item it;
		size_t i;

		for (i = 0; i < n; i++)
			assert_int_equal(st.ops->item(st.ctx, i, &it), 0);
	}
	store_neg_get_stats(v, &stats);
	assert_true(stats.buckets > 100 && stats.loads > 0);
	/* a new session sees the change */
	assert_int_equal(store_neg_open(f.s, scope_all, 1, NOW, &v2, why), 0);
	assert_true(store_neg_size(v2) > n);
	store_neg_close(v2);
	store_neg_close(v);
	store_neg_close(NULL);
	fx_close(&f);
}

/* Rested between messages, a view holds no snapshot (the WAL can be reset
 * by a checkpoint), and still answers for the set of its open: rows added
 * since are left out, however late its buckets are first read. */
static void test_rest(void **state)
{
	struct fixture f;
	struct store_neg *v = NULL;
	struct neg_vec *exp;
	struct neg_storage st, se;
	struct neg_item it;
	char why[WM_WHY_LEN];
	uint8_t id[NEG_ID_LEN];
	int logged = -1, done = -1;
	size_t i;

	(void)state;
	memset(&f, 0, sizeof f);
	fx_store_new(&f.d, "store_neg", &f.s);
	fx_fill(&f, 2000);
	exp = fx_expected(&f, scope_all, 1, NOW);
	se = neg_vec_storage(exp);
	assert_int_equal(store_neg_open(f.s, scope_all, 1, NOW, &v, why), 0);
	st = store_neg_storage(v);
	assert_int_equal(st.ops->item(st.ctx, 0, &it), 0);     /* one bucket read */
	store_neg_rest(v);
	/* the node writes: events and a refusal in the same buckets */
	fx_fill(&f, 500);
	memset(id, 0x5a, sizeof id);
	assert_int_equal(store_remember_rejected_item(f.s, id, WM_ESIG, "test", f.rows[7].ts, "g2", 0),
	                 0);
	assert_int_equal(sqlite3_wal_checkpoint_v2(store_db(f.s), NULL, SQLITE_CHECKPOINT_TRUNCATE,
	                                           &logged, &done), SQLITE_OK);
	assert_int_equal(logged, 0);    /* the WAL was reset: no reader held it */
	same_answers(&st, &se);
	store_neg_rest(v);
	fx_fill(&f, 300);
	same_answers(&st, &se);
	store_neg_close(v);
	/* a row deleted after the open: a bucket read later disagrees with
	 * the aggregates of the open, an error rather than a wrong answer */
	for (i = 0; f.rows[i].expires_at != 0; i++)     /* a row in the set at NOW */
		;
	assert_int_equal(store_neg_open(f.s, scope_all, 1, NOW, &v, why), 0);
	store_neg_rest(v);
	assert_int_equal(store_delete(f.s, f.rows[i].id), 0);
	assert_int_equal(view_read_all(v), WM_ESTORE);
	store_neg_close(v);
	store_neg_rest(NULL);
	neg_vec_free(exp);
	/* what a session keeps of the rows stored meanwhile is bounded: a
	 * session kept open while the node stores more ends with an error */
	assert_int_equal(store_neg_open(f.s, scope_all, 1, NOW, &v, why), 0);
	store_neg_rest(v);
	fx_fill(&f, 65537);
	assert_int_equal(view_read_all(v), WM_ESTORE);
	store_neg_close(v);
	fx_close(&f);
}

/* One change of the store between two messages of a session: rows and
 * refusals stored (the session leaves them out), and, if `del`, rows
 * deleted and expiry collected (the session may then end with
 * WM_ESTORE).  Returns 1 if a row of the session's set may be gone. */
static int change_between(struct fixture *f, int del)
{
	uint8_t id[NEG_ID_LEN];
	int64_t collected = 0;
	size_t i, n = rnd_below(4);

	fx_fill(f, 1 + rnd_below(60));
	for (i = 0; i < n; i++) {
		memset(id, 0, sizeof id);
		memcpy(id, &f->n, sizeof f->n);
		id[31] = (uint8_t)(0x80 | i);
		assert_int_equal(store_remember_rejected_item(f->s, id, WM_ESIG, "test",
		                                              f->rows[rnd_below(f->n)].ts,
		                                              groups[rnd_below(4)], 0), 0);
	}
	if (!del)
		return 0;
	for (i = 0; i < 3; i++) {
		struct row *r = &f->rows[rnd_below(f->n)];

		if (r->present && store_delete(f->s, r->id) == 0)
			r->present = 0;
	}
	assert_int_equal(store_collect_expired(f->s, BASE_TS + rnd_below(NOW - BASE_TS), &collected), 0);
	return 1;
}

/* What changes between two messages of a session (served_session). */
struct between {
	int change;             /* change_between */
	int del;                /* and with deletions */
	uint64_t lo, span;      /* and rows stored in [lo, lo + span), span != 0 */
};

/* A session of the view of `scope` as server against a peer a few percent
 * apart (limit: the frame limit), rested between every two messages and
 * the store changed then as `bt` says; each answer must be neg_vec's over
 * the set of the open, byte for byte, or (rows of the set deleted
 * meanwhile) the session ends with WM_ESTORE.  cache: the view's cache
 * bound, 0 for its own.  Returns 1 if the session ran whole, 0 if it
 * ended so; *stats: the view's counters. */
static int served_session(struct fixture *f, const char *const *scope, size_t ns, uint64_t limit,
                          const struct between *bt, size_t cache, struct store_neg_stats *stats)
{
	struct store_neg *v = NULL;
	struct neg_vec *exp = fx_expected(f, scope, ns, NOW), *peer;
	struct neg_storage sv, se, sp;
	struct neg *cl = NULL, *s1 = NULL, *s2 = NULL;
	struct neg_ids have = { 0 }, need = { 0 };
	uint8_t *msg = NULL, *a1 = NULL, *a2 = NULL;
	size_t len = 0, l1 = 0, l2 = 0, nmiss, nextra;
	char why[WM_WHY_LEN];
	int gone = 0, rc = 0, whole = 0;

	peer = peer_of(exp, &nmiss, &nextra);
	if (store_neg_open(f->s, scope, ns, NOW, &v, why) != 0)
		fail_msg("store_neg_open: %s", why);
	if (cache != 0)
		store_neg_set_cache(v, cache);
	sv = store_neg_storage(v);
	se = neg_vec_storage(exp);
	sp = neg_vec_storage(peer);
	/* the peer asks, the view and neg_vec answer each message */
	assert_int_equal(neg_new(&sp, limit, &cl), 0);
	assert_int_equal(neg_new(&sv, limit, &s1), 0);
	assert_int_equal(neg_new(&se, limit, &s2), 0);
	assert_int_equal(neg_initiate(cl, &msg, &len), 0);
	while (msg != NULL) {
		store_neg_rest(v);
		if (bt->span != 0)
			fx_fill_in(f, 1 + rnd_below(20), bt->lo, bt->span);
		if (bt->change)
			gone |= change_between(f, bt->del);
		rc = neg_reconcile_server(s1, msg, len, &a1, &l1, why, sizeof why);
		assert_int_equal(neg_reconcile_server(s2, msg, len, &a2, &l2, why, sizeof why), 0);
		free(msg);
		msg = NULL;
		if (rc != 0) {
			if (!gone || rc != WM_ESTORE)
				fail_msg("the view failed (%d) with its set intact (seed %llu)", rc,
				         (unsigned long long)seed);
			free(a2);
			break;
		}
		if (l1 != l2 || memcmp(a1, a2, l1) != 0)
			fail_msg("the view's answer differs from neg_vec's (seed %llu)",
			         (unsigned long long)seed);
		free(a1);
		assert_int_equal(neg_reconcile_client(cl, a2, l2, &have, &need, &msg, &len, why,
		                                      sizeof why), 0);
		free(a2);
	}
	if (msg == NULL && rc == 0) {
		whole = 1;
		assert_int_equal(have.n, nextra);
		assert_int_equal(need.n, nmiss);
	}
	store_neg_get_stats(v, stats);
	free(msg);
	neg_ids_free(&have);
	neg_ids_free(&need);
	neg_free(cl);
	neg_free(s1);
	neg_free(s2);
	store_neg_close(v);
	neg_vec_free(exp);
	neg_vec_free(peer);
	return whole;
}

/* A session rested and the store changed between every two messages,
 * against neg_vec over the set of its open: the same messages byte for
 * byte, or (rows of the set deleted meanwhile) an end with WM_ESTORE,
 * never a different message. */
static void test_changes_between_messages(void **state)
{
	static const char *const *const scopes[] = { scope_all, scope_two, scope_g1 };
	static const size_t nscope[] = { 1, 3, 1 };
	size_t round, k, failed = 0, whole = 0;

	(void)state;
	for (round = 0; round < 12; round++) {
		struct fixture f;
		struct between bt = { 1, (int)(round % 2), 0, 0 };
		struct store_neg_stats stats;

		k = round % 3;
		memset(&f, 0, sizeof f);
		fx_store_new(&f.d, "store_neg", &f.s);
		fx_fill(&f, 1500 + rnd_below(1500));
		if (served_session(&f, scopes[k], nscope[k], 4096, &bt, 0, &stats))
			whole++;
		else
			failed++;
		fx_close(&f);
	}
	print_message("sessions whole %zu, ended by a deletion %zu\n", whole, failed);
	assert_true(whole >= 6);
}

static void test_damage_and_args(void **state)
{
	struct fixture f;
	struct store_neg *v = (struct store_neg *)&f;
	char why[WM_WHY_LEN];
	const char *bad[] = { "" };

	(void)state;
	memset(&f, 0, sizeof f);
	fx_store_new(&f.d, "store_neg", &f.s);
	fx_fill(&f, 1000);
	assert_int_equal(store_neg_open(f.s, scope_all, 0, NOW, &v, why), WM_EINVAL);
	assert_int_equal(store_neg_open(f.s, bad, 1, NOW, &v, why), WM_EINVAL);
	assert_true(strlen(why) > 10);
	assert_ptr_equal(v, (struct store_neg *)&f);    /* untouched on failure */

	/* an aggregate that no longer matches its rows is an error, not an
	 * answer */
	assert_int_equal(sqlite3_exec(store_db(f.s),
	                              "UPDATE neg_agg SET cnt = cnt + 1 WHERE grp = '*' AND bucket = "
	                              "(SELECT min(bucket) FROM neg_agg WHERE grp = '*')",
	                              NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_neg_open(f.s, scope_all, 1, NOW, &v, why), 0);
	assert_int_equal(view_read_all(v), WM_ESTORE);
	store_neg_close(v);
	/* other scopes are unaffected */
	assert_int_equal(store_neg_open(f.s, scope_g1, 1, NOW, &v, why), 0);
	assert_int_equal(view_read_all(v), 0);
	store_neg_close(v);
	/* a row gone behind the aggregates' back (both sizes still count it):
	 * the fine bucket's load finds it missing */
	assert_int_equal(sqlite3_exec(store_db(f.s),
	                              "DROP TRIGGER neg_events_del;"
	                              "DELETE FROM events WHERE seq = (SELECT max(seq) FROM events "
	                              "WHERE grp = (SELECT gid FROM grps WHERE name = 'g1'))",
	                              NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_neg_open(f.s, scope_g1, 1, NOW, &v, why), 0);
	assert_int_equal(view_read_all(v), WM_ESTORE);
	store_neg_close(v);
	fx_close(&f);
}

/* A bucket too full to be read whole (the burst: ~400 items in one) goes
 * through its neg_fine rows; a row gone there behind the aggregates' back is
 * found missing by its fine bucket's load. */
static void test_damage_large_bucket(void **state)
{
	struct fixture f;
	struct store_neg *v = NULL;
	struct store_neg_stats stats;
	char why[WM_WHY_LEN];

	(void)state;
	memset(&f, 0, sizeof f);
	fx_store_new(&f.d, "store_neg", &f.s);
	fx_fill(&f, 4000);
	check_scope(&f, scope_all, 1, NOW);     /* whole and fine buckets alike */
	assert_int_equal(store_neg_open(f.s, scope_all, 1, NOW, &v, why), 0);
	assert_int_equal(view_read_all(v), 0);
	store_neg_get_stats(v, &stats);
	assert_true(stats.dirs > 0);            /* the burst's neg_fine rows were read */
	store_neg_close(v);
	/* g1's part of the burst is small, but the bucket's rows of all
	 * groups are not: read through its neg_fine rows too */
	check_scope(&f, scope_g1, 1, NOW);
	assert_int_equal(store_neg_open(f.s, scope_g1, 1, NOW, &v, why), 0);
	assert_int_equal(view_read_all(v), 0);
	store_neg_get_stats(v, &stats);
	assert_true(stats.dirs > 0);
	store_neg_close(v);
	assert_int_equal(sqlite3_exec(store_db(f.s),
	                              "DROP TRIGGER neg_events_del;"
	                              "DELETE FROM events WHERE seq = (SELECT max(seq) FROM events "
	                              "WHERE created_at >= 1764432000000 AND created_at < 1764432001000)",
	                              NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(store_db(f.s)), 1);
	assert_int_equal(store_neg_open(f.s, scope_all, 1, NOW, &v, why), 0);
	assert_int_equal(view_read_all(v), WM_ESTORE);
	store_neg_close(v);
	fx_close(&f);
}

/* Three buckets of ~1,000 items each (~31 a fine bucket, as at 200,000
 * events in 5 days: read through their neg_fine rows, a fine bucket at a
 * time, each kept in the session's cache), against a peer a few percent
 * apart, so that a session reads most fine buckets and answers from cached
 * ones in later messages.  Its answers stay neg_vec's with rows stored in
 * those very buckets and rows deleted between messages (an end with
 * WM_ESTORE then allowed), also with the cache's bound so low (1,500 items)
 * that it is dropped and read again within a message.  A row moved to the
 * next fine bucket of its bucket behind the aggregates' back (the bucket's
 * count and sum unchanged) is found by the fine bucket's load: an error,
 * never an item out of place. */
static void test_dense_buckets(void **state)
{
	const uint64_t b0 = ((BASE_TS >> STORE_NEG_BUCKET_SHIFT) + 100) << STORE_NEG_BUCKET_SHIFT;
	const uint64_t span = 3ULL << STORE_NEG_BUCKET_SHIFT, fine = 1ULL << STORE_NEG_FINE_SHIFT;
	size_t round, whole = 0, failed = 0, i;
	uint64_t rows[2] = { 0, 0 };

	(void)state;
	for (round = 0; round < 6; round++) {
		struct fixture f;
		struct between bt = { round >= 2, round >= 4, b0, round >= 2 ? span : 0 };
		struct store_neg_stats stats;
		int ran;

		memset(&f, 0, sizeof f);
		fx_store_new(&f.d, "store_neg", &f.s);
		fx_fill(&f, 300);
		fx_fill_in(&f, 3000, b0, span);
		/* odd rounds: a bound of about one bucket's items */
		ran = served_session(&f, scope_all, 1, round < 2 ? 0 : 4096, &bt,
		                     round % 2 ? 1500 : 0, &stats);
		whole += ran;
		failed += !ran;
		assert_true(stats.dirs >= 3 || !ran);  /* the dense buckets' neg_fine rows */
		if (round < 2)                          /* no changes between messages */
			rows[round % 2] = stats.rows;
		fx_close(&f);
	}
	print_message("rows read %llu, %llu with the low bound; sessions whole %zu, ended by a "
	              "deletion %zu\n", (unsigned long long)rows[0], (unsigned long long)rows[1],
	              whole, failed);
	assert_true(rows[1] > rows[0]);         /* the low bound dropped and read again */
	assert_true(whole >= 4);

	/* a row moved from fine bucket 24 to 25 of the second bucket: its
	 * aggregates still count it at 24 */
	{
		struct fixture f;
		struct store_neg *v = NULL;
		struct neg_vec *exp;
		struct neg_storage sv, se;
		struct neg_item x, y;
		char why[WM_WHY_LEN], sql[300];
		int bad = 0;

		memset(&f, 0, sizeof f);
		fx_store_new(&f.d, "store_neg", &f.s);
		fx_fill_in(&f, 3000, b0, span);
		exp = fx_expected(&f, scope_all, 1, NOW);
		snprintf(sql, sizeof sql, "UPDATE events SET created_at = created_at + %llu "
		         "WHERE seq = (SELECT seq FROM events WHERE created_at >= %llu AND "
		         "created_at < %llu LIMIT 1)",
		         (unsigned long long)fine, (unsigned long long)(b0 + 32 * fine + 24 * fine),
		         (unsigned long long)(b0 + 32 * fine + 25 * fine));
		assert_int_equal(sqlite3_exec(store_db(f.s), sql, NULL, NULL, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_changes(store_db(f.s)), 1);
		assert_int_equal(store_neg_open(f.s, scope_all, 1, NOW, &v, why), 0);
		sv = store_neg_storage(v);
		se = neg_vec_storage(exp);
		for (i = 0; i < sv.ops->size(sv.ctx) && !bad; i++) {
			bad = sv.ops->item(sv.ctx, i, &x);
			assert_int_equal(se.ops->item(se.ctx, i, &y), 0);
			if (bad == 0 && neg_item_cmp(&x, &y) != 0)
				fail_msg("item %zu out of place (seed %llu)", i,
				         (unsigned long long)seed);
		}
		assert_int_equal(bad, WM_ESTORE);
		store_neg_close(v);
		neg_vec_free(exp);
		fx_close(&f);
	}
}

/* A session's cache holds 8,192 consecutive fine buckets (~6 days): a
 * set over 6,000 fine buckets of ~6 items (buckets of ~190, read fine
 * bucket by fine bucket) walked twice reads its rows once.  At 1M events a
 * month a 10% session read each fine bucket 7 times when it held 4,096. */
static void test_cache_window(void **state)
{
	const uint64_t b0 = ((BASE_TS >> STORE_NEG_BUCKET_SHIFT) + 100) << STORE_NEG_BUCKET_SHIFT;
	struct fixture f;
	struct store_neg *v = NULL;
	struct store_neg_stats stats;
	struct neg_storage sv;
	struct neg_item it;
	char why[WM_WHY_LEN];
	uint64_t rows = 0;
	size_t pass, i;

	(void)state;
	memset(&f, 0, sizeof f);
	fx_store_new(&f.d, "store_neg", &f.s);
	fx_fill_in(&f, 45000, b0, 6000ULL << STORE_NEG_FINE_SHIFT);
	assert_int_equal(store_neg_open(f.s, scope_all, 1, NOW, &v, why), 0);
	sv = store_neg_storage(v);
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < sv.ops->size(sv.ctx); i++)
			assert_int_equal(sv.ops->item(sv.ctx, i, &it), 0);
		store_neg_get_stats(v, &stats);
		if (pass == 0)
			rows = stats.rows;
	}
	print_message("rows read %llu, then %llu more\n", (unsigned long long)rows,
	              (unsigned long long)(stats.rows - rows));
	assert_true(stats.dirs > 100);          /* through neg_fine: not read whole */
	assert_int_equal(stats.rows, rows);
	store_neg_close(v);
	fx_close(&f);
}

/* More remembered refusals than a view holds from its open (65,536): the
 * view reads them by bucket instead, with the same answers. */
static void test_many_refusals(void **state)
{
	struct fixture f;
	size_t i, n = 70000;

	(void)state;
	memset(&f, 0, sizeof f);
	fx_store_new(&f.d, "store_neg", &f.s);
	fx_fill(&f, 1000);
	f.rows = realloc(f.rows, (f.n + n) * sizeof *f.rows);
	assert_non_null(f.rows);
	memset(f.rows + f.n, 0, n * sizeof *f.rows);
	assert_int_equal(store_begin(f.s), 0);
	for (i = 0; i < n; i++) {
		struct row *r = &f.rows[f.n + i];
		size_t j;

		r->ts = BASE_TS + rnd_below(30ULL * 86400 * 1000);
		for (j = 0; j < NEG_ID_LEN; j += 8) {
			uint64_t x = rnd();

			memcpy(r->id + j, &x, 8);
		}
		r->group = groups[rnd_below(4)];
		if (rnd_below(10) == 0)
			r->expires_at = r->ts + 1 + rnd_below(60ULL * 86400 * 1000);
		r->rejected = 1;
		assert_int_equal(store_remember_rejected_item(f.s, r->id, WM_ESIG, "test", r->ts, r->group,
		                                              r->expires_at), 0);
	}
	assert_int_equal(store_commit(f.s), 0);
	f.n += n;
	check_scope(&f, scope_all, 1, NOW);
	check_scope(&f, scope_two, 3, NOW);
	fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view_matches_vec),
		cmocka_unit_test(test_after_changes),
		cmocka_unit_test(test_migration_format1),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_rest),
		cmocka_unit_test(test_changes_between_messages),
		cmocka_unit_test(test_damage_and_args),
		cmocka_unit_test(test_damage_large_bucket),
		cmocka_unit_test(test_many_refusals),
		cmocka_unit_test(test_dense_buckets),
		cmocka_unit_test(test_cache_window),
	};

	if (wmc_init() < 0)
		return 1;
	seeded_start("STORE_NEG_TEST_SEED", "store_neg tests");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
