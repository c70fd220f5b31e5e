/*
 * node/store/store_neg.c: the store-backed negentropy view (store_neg.h),
 * and the SQL functions behind the repair aggregates' upserts and triggers.
 *
 * How: store_insert and triggers on deletes from events and on the
 * rejected table keep per-(group, time bucket) aggregates -- item count and
 * id sum mod 2^256 -- at two sizes: the table neg_agg with 2^21 ms (~35 min)
 * buckets, and neg_fine with 2^16 ms (~65 s) buckets, 32 to a neg_agg
 * bucket; each with one row per bucket under the group "*" for all groups
 * together (their SQL: store_int.h).  A session loads the scope's neg_agg
 * rows once (a few thousand rows) and builds prefix sums.  A position
 * inside a bucket is found through that bucket's neg_fine rows (at most
 * 32, loaded when first needed), and only the one fine bucket's items are
 * read (an index range scan); both are kept in a small per-session cache.
 * So fingerprint(i, j), item(i) and lower_bound read a few dozen rows each
 * however full the store is: at a million events a month, a neg_agg bucket
 * holds ~800 items, a neg_fine one ~25.  A bucket of at most SN_WHOLE
 * items (a sparse set: about one item a fine bucket) is instead read whole
 * in one range scan and its fine buckets counted from its items: one query
 * where there were a neg_fine query and an item query a fine bucket.  The
 * scope's refusals are read once at the open when there are few, so that
 * a load asks the events index alone.  Events and refusals expired but
 * not collected yet (store_collect_expired deletes the others, and their
 * aggregates with them) are listed once per session through the expiry
 * indexes and subtracted.  A loaded bucket whose items disagree with its
 * aggregate (or fine rows that disagree with their neg_agg row) is
 * reported as WM_ESTORE rather than answered wrongly.
 *
 * Each session reads through a read-only connection of its own (the store's
 * readers, store_reader_get, reused from session to session).  Its set is
 * the store as it was at store_neg_open: events up to the largest seq then,
 * refusals up to the largest rowid.  The reads run in a read transaction
 * that store_neg_rest ends (the mesh rests the view after each message), so
 * that a session of many rounds does not hold one WAL snapshot throughout
 * and checkpoints can reset the WAL between rounds; the next read opens a
 * new one.  Rows added since (seq or rowid past those of the open) are
 * listed in `added`, read again from where it stopped in each new read
 * transaction, and taken out of the items and the fine aggregates read
 * later.  A row deleted or changed since the open (an expiry
 * collected, a refusal forgotten) makes the loads disagree with the
 * aggregates: WM_ESTORE, and the session is abandoned, never answered
 * wrongly.
 *
 * What a reader must know: positions are global indexes in the sorted set
 * of the session.  Bucket b (after dropping empty ones) holds positions
 * [pos[b], pos[b + 1]); the sum of all ids before it is psum[b].  The
 * prefix sum of the first i items is psum[b] plus the first i - pos[b]
 * items of bucket b, so a fingerprint costs at most two bucket loads, and
 * none when its ends fall on bucket boundaries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* slots of loaded fine buckets, direct-mapped: 8,192 consecutive fine
 * buckets (~6 days) at most, ~31 items each at 1M events a month; 4,096
 * made a session at 1M (10%) read every fine bucket 7 times, 8,192 about
 * 4 times (BENCHMARKS.md, "Dense repairs") */
#define SN_CACHE 8192
#define SN_CACHE_ITEMS 262144           /* items a session caches (~10.5 MB; a test: fewer) */
#define SN_DIRS 1024                    /* slots of loaded neg_fine rows, by bucket */
#define SN_ADDED_MAX 65536              /* rows stored during a session it keeps (2.5 MB) */
#define SN_FINE_PER (1u << (STORE_NEG_BUCKET_SHIFT - STORE_NEG_FINE_SHIFT))
/* a bucket of at most this many items (4 a fine bucket) is read whole:
 * bench_neg at 105 items a bucket took 5-60% less CPU so, at 210 up to
 * 15% more at 0.1% (BENCHMARKS.md, "Repair: fewer queries a load") */
#define SN_WHOLE 128
#define SN_REJ_MAX 65536                /* refusals held from the open (2.5 MB) */

struct sn_bucket {
	uint64_t key;                   /* created_at >> STORE_NEG_BUCKET_SHIFT */
	uint64_t cnt;
	struct neg_acc sum;
};

/* A bucket's non-empty fine buckets: keys, prefix counts and sums inside it;
 * and, for a bucket read whole, its items. */
struct sn_dir {
	size_t b;                       /* bucket index; SIZE_MAX = free slot */
	size_t n;                       /* <= SN_FINE_PER */
	struct neg_item *items;         /* the bucket's items, sorted; NULL if not read whole */
	size_t nitems;
	uint64_t key[SN_FINE_PER];      /* created_at >> STORE_NEG_FINE_SHIFT */
	uint64_t pos[SN_FINE_PER + 1];
	struct neg_acc psum[SN_FINE_PER + 1];
};

struct sn_loaded {
	uint64_t key;                   /* fine bucket key; UINT64_MAX = free slot */
	struct neg_item *items;         /* sorted */
	size_t n;
};

struct store_neg {
	sqlite3 *db;                    /* a reader of the store (store_reader_get) */
	struct store *store;            /* to give db back */
	sqlite3_stmt *q_ev, *q_rej;     /* a fine bucket's rows (q_rej: unless rej_held) */
	sqlite3_stmt *q_fine;           /* a bucket's neg_fine rows */
	sqlite3_stmt *q_total;          /* a group scope: a bucket's count of all groups */
	sqlite3_stmt *q_new_ev, *q_new_rej;  /* rows added since the open */
	int held;                       /* a read transaction is open */
	int fresh;                      /* `added` is read up to this transaction */
	sqlite3_int64 seen_seq, seen_rej;    /* added rows read up to these */
	struct neg_item *added;         /* in scope, added since the open; sorted */
	size_t nadded, capadded;
	int all;                        /* scope "*" */
	char **groups;                  /* sorted, unique; NULL when all */
	size_t ngroups;
	/* a group scope's view of events rows' group numbers (grps.gid): each
	 * number met and whether its group is in scope, by number, learnt
	 * once through q_gid (a number never changes its name) */
	struct sn_gid { sqlite3_int64 gid; int in; } *gids;
	size_t ngids, capgids;
	sqlite3_stmt *q_gid;
	sqlite3_int64 now;
	struct sn_bucket *bk;           /* non-empty buckets, by key */
	size_t nb;
	uint64_t *pos;                  /* nb + 1 prefix counts */
	struct neg_acc *psum;           /* nb + 1 prefix sums */
	struct neg_item *expired;       /* in scope, not collected yet; sorted */
	size_t nexpired;
	int rej_held;                   /* the set's refusals are all in rej */
	struct neg_item *rej;           /* sorted */
	size_t nrej;
	struct sn_loaded cache[SN_CACHE];  /* fine key k lives in slot k % SN_CACHE */
	size_t cache_items;             /* SN_CACHE_ITEMS, or a test's bound */
	size_t cached;                  /* items held by the cache and by dirs read whole */
	struct sn_dir *dirs[SN_DIRS];   /* bucket b's in slot b % SN_DIRS (allocated when used) */
	struct store_neg_stats stats;
};

/* ---- 256-bit sums as SQL functions ---- */

static void sn_fn_addsub(sqlite3_context *ctx, int argc, sqlite3_value **argv, int sub)
{
	struct neg_acc a, b;

	(void)argc;
	if (sqlite3_value_bytes(argv[0]) != NEG_ID_LEN || sqlite3_value_bytes(argv[1]) != NEG_ID_LEN ||
	    sqlite3_value_type(argv[0]) != SQLITE_BLOB || sqlite3_value_type(argv[1]) != SQLITE_BLOB) {
		sqlite3_result_error(ctx, "wm_neg_add/sub: two 32-byte blobs expected", -1);
		return;
	}
	memcpy(a.sum, sqlite3_value_blob(argv[0]), NEG_ID_LEN);
	if (sub) {
		memcpy(b.sum, sqlite3_value_blob(argv[1]), NEG_ID_LEN);
		neg_acc_sub(&a, &b);
	} else {
		neg_acc_add(&a, sqlite3_value_blob(argv[1]));
	}
	sqlite3_result_blob(ctx, a.sum, NEG_ID_LEN, SQLITE_TRANSIENT);
}

static void sn_fn_add(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sn_fn_addsub(ctx, argc, argv, 0);
}

static void sn_fn_sub(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sn_fn_addsub(ctx, argc, argv, 1);
}

static void sn_fn_total_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct neg_acc *a = sqlite3_aggregate_context(ctx, sizeof *a);

	(void)argc;
	if (a == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (sqlite3_value_type(argv[0]) != SQLITE_BLOB || sqlite3_value_bytes(argv[0]) != NEG_ID_LEN) {
		sqlite3_result_error(ctx, "wm_neg_total: 32-byte blobs expected", -1);
		return;
	}
	neg_acc_add(a, sqlite3_value_blob(argv[0]));   /* the context starts zeroed */
}

static void sn_fn_total_final(sqlite3_context *ctx)
{
	struct neg_acc *a = sqlite3_aggregate_context(ctx, 0);
	struct neg_acc zero;

	if (a == NULL) {
		neg_acc_zero(&zero);
		a = &zero;
	}
	sqlite3_result_blob(ctx, a->sum, NEG_ID_LEN, SQLITE_TRANSIENT);
}

int store_neg_register(struct sqlite3 *db)
{
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;

	if (db == NULL)
		return WM_EINVAL;
	if (sqlite3_create_function_v2(db, "wm_neg_add", 2, flags, NULL, sn_fn_add, NULL, NULL,
	                               NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(db, "wm_neg_sub", 2, flags, NULL, sn_fn_sub, NULL, NULL,
	                               NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(db, "wm_neg_total", 1, flags, NULL, NULL, sn_fn_total_step,
	                               sn_fn_total_final, NULL) != SQLITE_OK)
		return WM_ESTORE;
	return 0;
}

/* ---- helpers ---- */

static int sn_fail(char *why, sqlite3 *db, const char *what)
{
	if (why != NULL)
		snprintf(why, WM_WHY_LEN, "negentropy view: %s: %s", what,
		         db ? sqlite3_errmsg(db) : "out of memory");
	return WM_ESTORE;
}

static int sn_str_qcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sn_in_scope(const struct store_neg *v, const char *grp)
{
	if (v->all)
		return 1;
	if (grp == NULL)
		return 0;
	return bsearch(&grp, v->groups, v->ngroups, sizeof *v->groups, sn_str_qcmp) != NULL;
}

/* 1 if group number gid is in the scope, 0 if not, <0 on error. */
static int sn_gid_in_scope(struct store_neg *v, sqlite3_int64 gid)
{
	size_t lo = 0, hi = v->ngids;
	int in, step;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->gids[mid].gid == gid)
			return v->gids[mid].in;
		if (v->gids[mid].gid < gid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (v->q_gid == NULL &&
	    sqlite3_prepare_v3(v->db, "SELECT name FROM grps WHERE gid = ?1", -1, SQLITE_PREPARE_PERSISTENT,
	                       &v->q_gid, NULL) != SQLITE_OK)
		return WM_ESTORE;
	sqlite3_bind_int64(v->q_gid, 1, gid);
	step = sqlite3_step(v->q_gid);
	in = step == SQLITE_ROW && sn_in_scope(v, (const char *)sqlite3_column_text(v->q_gid, 0));
	sqlite3_reset(v->q_gid);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return WM_ESTORE;
	if (v->ngids == v->capgids) {
		size_t ncap = v->capgids ? v->capgids * 2 : 16;
		struct sn_gid *ng;

		if (ncap > SIZE_MAX / sizeof *ng || (ng = realloc(v->gids, ncap * sizeof *ng)) == NULL)
			return WM_ENOMEM;
		v->gids = ng;
		v->capgids = ncap;
	}
	memmove(v->gids + lo + 1, v->gids + lo, (v->ngids - lo) * sizeof *v->gids);
	v->gids[lo].gid = gid;
	v->gids[lo].in = in;
	v->ngids++;
	return in;
}

static int sn_item_qcmp(const void *a, const void *b)
{
	return neg_item_cmp(a, b);
}

/* The index of the bucket with this key, or nb. */
static size_t sn_find_key(const struct store_neg *v, uint64_t key)
{
	size_t lo = 0, hi = v->nb;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->bk[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;                      /* first with key >= the one asked */
}

/* The bucket holding position i (i < size). */
static size_t sn_find_pos(const struct store_neg *v, uint64_t i)
{
	size_t lo = 0, hi = v->nb;      /* last b with pos[b] <= i */

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->pos[mid] <= i)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* ---- opening a session ---- */

static int sn_bucket_qcmp(const void *a, const void *b)
{
	const struct sn_bucket *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

static int sn_push_bucket(struct store_neg *v, size_t *cap, uint64_t key, uint64_t cnt,
                          const void *sum)
{
	if (v->nb == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		struct sn_bucket *nbk;

		if (ncap > SIZE_MAX / sizeof *nbk)
			return WM_ENOMEM;
		nbk = realloc(v->bk, ncap * sizeof *nbk);
		if (nbk == NULL)
			return WM_ENOMEM;
		v->bk = nbk;
		*cap = ncap;
	}
	v->bk[v->nb].key = key;
	v->bk[v->nb].cnt = cnt;
	memcpy(v->bk[v->nb].sum.sum, sum, NEG_ID_LEN);
	v->nb++;
	return 0;
}

/* The aggregates of the scope, merged per bucket. */
static int sn_load_aggregates(struct store_neg *v, char *why)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0, g, i, w;
	int rc = 0, step;

	if (sqlite3_prepare_v2(v->db, "SELECT bucket, cnt, sum FROM neg_agg WHERE grp = ?1 AND cnt > 0 "
	                       "ORDER BY bucket", -1, &st, NULL) != SQLITE_OK)
		return sn_fail(why, v->db, "aggregates");
	for (g = 0; g < (v->all ? 1 : v->ngroups) && rc == 0; g++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, v->all ? "*" : v->groups[g], -1, SQLITE_STATIC);
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			sqlite3_int64 key = sqlite3_column_int64(st, 0), cnt = sqlite3_column_int64(st, 1);

			if (key < 0 || cnt < 0 || sqlite3_column_bytes(st, 2) != NEG_ID_LEN) {
				if (why != NULL)
					snprintf(why, WM_WHY_LEN, "negentropy view: a damaged aggregate row");
				rc = WM_ESTORE;
				break;
			}
			if ((rc = sn_push_bucket(v, &cap, (uint64_t)key, (uint64_t)cnt,
			                         sqlite3_column_blob(st, 2))) != 0)
				break;
		}
		if (rc == 0 && step != SQLITE_DONE)
			rc = sn_fail(why, v->db, "aggregates");
	}
	sqlite3_finalize(st);
	if (rc != 0)
		return rc;
	/* several groups: one row per bucket */
	if (!v->all && v->ngroups > 1 && v->nb > 1) {
		qsort(v->bk, v->nb, sizeof *v->bk, sn_bucket_qcmp);
		for (i = 1, w = 0; i < v->nb; i++) {
			if (v->bk[i].key == v->bk[w].key) {
				v->bk[w].cnt += v->bk[i].cnt;
				neg_acc_add(&v->bk[w].sum, v->bk[i].sum.sum);
			} else {
				v->bk[++w] = v->bk[i];
			}
		}
		v->nb = w + 1;
	}
	return 0;
}

/* Subtract the events and refusals expired at `now` but not collected yet. */
static int sn_subtract_expired(struct store_neg *v, char *why)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc = 0, step;

	if (sqlite3_prepare_v2(v->db, "SELECT created_at, id, " STORE_GRP_NAME("grp") " FROM events "
	                       "WHERE expires_at != 0 AND expires_at <= ?1 UNION ALL "
	                       "SELECT created_at, id, grp FROM rejected WHERE expires_at != 0 AND "
	                       "expires_at <= ?1 AND created_at IS NOT NULL AND grp IS NOT NULL",
	                       -1, &st, NULL) != SQLITE_OK)
		return sn_fail(why, v->db, "expired events");
	sqlite3_bind_int64(st, 1, v->now);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 ts = sqlite3_column_int64(st, 0);
		size_t b;
		struct neg_acc id;

		if (!sn_in_scope(v, (const char *)sqlite3_column_text(st, 2)))
			continue;
		if (ts < 0 || sqlite3_column_bytes(st, 1) != NEG_ID_LEN) {
			rc = WM_ESTORE;
			break;
		}
		b = sn_find_key(v, (uint64_t)ts >> STORE_NEG_BUCKET_SHIFT);
		if (b == v->nb || v->bk[b].key != (uint64_t)ts >> STORE_NEG_BUCKET_SHIFT ||
		    v->bk[b].cnt == 0) {
			rc = WM_ESTORE;         /* an event the aggregates do not know */
			break;
		}
		memcpy(id.sum, sqlite3_column_blob(st, 1), NEG_ID_LEN);
		if (v->nexpired == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct neg_item *ni;

			if (ncap > SIZE_MAX / sizeof *ni ||
			    (ni = realloc(v->expired, ncap * sizeof *ni)) == NULL) {
				rc = WM_ENOMEM;
				break;
			}
			v->expired = ni;
			cap = ncap;
		}
		v->expired[v->nexpired].ts = (uint64_t)ts;
		memcpy(v->expired[v->nexpired].id, id.sum, NEG_ID_LEN);
		v->nexpired++;
		v->bk[b].cnt--;
		neg_acc_sub(&v->bk[b].sum, &id);
		v->stats.expired++;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = sn_fail(why, v->db, "expired events");
	else if (rc == 0 && v->nexpired > 1)
		qsort(v->expired, v->nexpired, sizeof *v->expired, sn_item_qcmp);
	else if (rc == WM_ESTORE && why != NULL && why[0] == '\0')
		snprintf(why, WM_WHY_LEN, "negentropy view: aggregates disagree with the events table");
	sqlite3_finalize(st);
	return rc;
}

/* The refusals of the session's set, held from the open unless the table
 * holds more than SN_REJ_MAX with a time and group: a load then adds those
 * of its range from memory instead of asking the rejected table, an empty
 * answer almost always (that query cost up to 15% of the views' CPU at
 * 200k, dense).  Held ones stay the open's set whatever happens to the table. */
static int sn_load_refusals(struct store_neg *v, char *why)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0, seen = 0;
	int rc = 0, step;

	if (sqlite3_prepare_v2(v->db, "SELECT created_at, id, grp, expires_at FROM rejected WHERE "
	                       "created_at IS NOT NULL AND grp IS NOT NULL LIMIT ?1", -1, &st,
	                       NULL) != SQLITE_OK)
		return sn_fail(why, v->db, "refusals");
	sqlite3_bind_int64(st, 1, SN_REJ_MAX + 1);
	v->rej_held = 1;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 ts = sqlite3_column_int64(st, 0), exp = sqlite3_column_int64(st, 3);

		if (++seen > SN_REJ_MAX) {      /* the table holds more: read by bucket */
			v->rej_held = 0;
			break;
		}
		if (!sn_in_scope(v, (const char *)sqlite3_column_text(st, 2)) ||
		    (exp != 0 && exp <= v->now))        /* expired at `now`: not in the set */
			continue;
		if (ts < 0 || sqlite3_column_bytes(st, 1) != NEG_ID_LEN) {
			if (why != NULL)
				snprintf(why, WM_WHY_LEN, "negentropy view: a damaged refusal row");
			rc = WM_ESTORE;
			break;
		}
		if (v->nrej == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct neg_item *ni;

			if ((ni = realloc(v->rej, ncap * sizeof *ni)) == NULL) {
				rc = WM_ENOMEM;
				break;
			}
			v->rej = ni;
			cap = ncap;
		}
		v->rej[v->nrej].ts = (uint64_t)ts;
		memcpy(v->rej[v->nrej++].id, sqlite3_column_blob(st, 1), NEG_ID_LEN);
	}
	if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = sn_fail(why, v->db, "refusals");
	sqlite3_finalize(st);
	if (rc == 0 && !v->rej_held) {
		free(v->rej);
		v->rej = NULL;
		v->nrej = 0;
	} else if (rc == 0 && v->nrej > 1) {
		qsort(v->rej, v->nrej, sizeof *v->rej, sn_item_qcmp);
	}
	return rc;
}

static int sn_build_prefix(struct store_neg *v)
{
	size_t b, w = 0;

	for (b = 0; b < v->nb; b++)     /* drop buckets left empty */
		if (v->bk[b].cnt > 0)
			v->bk[w++] = v->bk[b];
	v->nb = w;
	v->pos = malloc((v->nb + 1) * sizeof *v->pos);
	v->psum = malloc((v->nb + 1) * sizeof *v->psum);
	if (v->pos == NULL || v->psum == NULL)
		return WM_ENOMEM;
	v->pos[0] = 0;
	neg_acc_zero(&v->psum[0]);
	for (b = 0; b < v->nb; b++) {
		v->pos[b + 1] = v->pos[b] + v->bk[b].cnt;
		v->psum[b + 1] = v->psum[b];
		neg_acc_add(&v->psum[b + 1], v->bk[b].sum.sum);
	}
	v->stats.buckets = v->nb;
	return 0;
}

/* The largest events.seq and rejected rowid of the session's snapshot. */
static int sn_read_max(struct store_neg *v, char *why)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(v->db, "SELECT (SELECT coalesce(max(seq), 0) FROM events), "
	                       "(SELECT coalesce(max(rowid), 0) FROM rejected)", -1, &st,
	                       NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		rc = sn_fail(why, v->db, "largest seq");
	else {
		v->seen_seq = sqlite3_column_int64(st, 0);
		v->seen_rej = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc;
}

/* A read transaction for the next reads (store_neg_rest ends it). */
static int sn_hold(struct store_neg *v)
{
	if (v->held)
		return 0;
	if (sqlite3_exec(v->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return WM_ESTORE;
	v->held = 1;
	v->fresh = 0;
	return 0;
}

/* Rows of st (seq or rowid, created_at, id, grp) into `added`; *seen moves
 * past them. */
static int sn_add_new(struct store_neg *v, sqlite3_stmt *st, sqlite3_int64 *seen)
{
	int step, rc = 0;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, *seen);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 ts = sqlite3_column_int64(st, 1);

		if (sqlite3_column_int64(st, 0) > *seen)
			*seen = sqlite3_column_int64(st, 0);
		if (!sn_in_scope(v, (const char *)sqlite3_column_text(st, 3)))
			continue;
		if (ts < 0 || sqlite3_column_bytes(st, 2) != NEG_ID_LEN) {
			rc = WM_ESTORE;
			break;
		}
		if (v->nadded == SN_ADDED_MAX) {
			/* a session that lasts while the node stores this much
			 * ends; the next one starts from the store as it is */
			fprintf(stderr, "watchmesh store: more than %d rows stored during one negentropy "
			        "session; it ends\n", SN_ADDED_MAX);
			rc = WM_ESTORE;
			break;
		}
		if (v->nadded == v->capadded) {
			size_t ncap = v->capadded ? v->capadded * 2 : 64;
			struct neg_item *ni;

			if (ncap > SIZE_MAX / sizeof *ni ||
			    (ni = realloc(v->added, ncap * sizeof *ni)) == NULL) {
				rc = WM_ENOMEM;
				break;
			}
			v->added = ni;
			v->capadded = ncap;
		}
		v->added[v->nadded].ts = (uint64_t)ts;
		memcpy(v->added[v->nadded++].id, sqlite3_column_blob(st, 2), NEG_ID_LEN);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = WM_ESTORE;
	sqlite3_reset(st);
	return rc;
}

/* `added` as of the open read transaction. */
static int sn_refresh_added(struct store_neg *v)
{
	size_t before = v->nadded;
	int rc;

	if (v->fresh)
		return 0;
	if ((rc = sn_add_new(v, v->q_new_ev, &v->seen_seq)) != 0 ||
	    (rc = sn_add_new(v, v->q_new_rej, &v->seen_rej)) != 0)
		return rc;
	if (v->nadded > before)
		qsort(v->added, v->nadded, sizeof *v->added, sn_item_qcmp);
	v->fresh = 1;
	return 0;
}

void store_neg_rest(struct store_neg *v)
{
	if (v == NULL || !v->held)
		return;
	sqlite3_exec(v->db, "COMMIT", NULL, NULL, NULL);
	v->held = 0;
	v->fresh = 0;
}

int store_neg_open(struct store *s, const char *const *groups, size_t n, uint64_t now,
                   struct store_neg **out, char why[WM_WHY_LEN])
{
	struct store_neg *v = NULL;
	const char *path;
	size_t i, k;
	int rc;

	if (why != NULL)
		why[0] = '\0';
	if (s == NULL || groups == NULL || n == 0 || out == NULL) {
		if (why != NULL)
			snprintf(why, WM_WHY_LEN, "negentropy view: no store or an empty scope");
		return WM_EINVAL;
	}
	path = sqlite3_db_filename(store_db(s), "main");
	if (path == NULL || path[0] == '\0') {
		if (why != NULL)
			snprintf(why, WM_WHY_LEN, "negentropy view: the store has no file");
		return WM_EINVAL;
	}
	if ((v = calloc(1, sizeof *v)) == NULL)
		return WM_ENOMEM;
	for (i = 0; i < SN_CACHE; i++)
		v->cache[i].key = UINT64_MAX;
	v->cache_items = SN_CACHE_ITEMS;
	v->now = store_u2i(now);
	for (i = 0; i < n; i++) {
		if (groups[i] == NULL || groups[i][0] == '\0' || strlen(groups[i]) > WM_GROUP_MAX) {
			if (why != NULL)
				snprintf(why, WM_WHY_LEN, "negentropy view: bad group name in the scope");
			rc = WM_EINVAL;
			goto fail;
		}
		if (strcmp(groups[i], "*") == 0)
			v->all = 1;
	}
	if (!v->all) {
		if ((v->groups = calloc(n, sizeof *v->groups)) == NULL) {
			rc = WM_ENOMEM;
			goto fail;
		}
		for (i = 0; i < n; i++)
			if ((v->groups[i] = strdup(groups[i])) == NULL) {
				v->ngroups = i;
				rc = WM_ENOMEM;
				goto fail;
			}
		v->ngroups = n;
		qsort(v->groups, n, sizeof *v->groups, sn_str_qcmp);
		for (i = 1, k = 0; i < n; i++) {
			if (strcmp(v->groups[i], v->groups[k]) == 0)
				free(v->groups[i]);
			else
				v->groups[++k] = v->groups[i];
		}
		v->ngroups = k + 1;
	}
	/* the store's reader connections are reused from session to session */
	v->store = s;
	if ((v->db = store_reader_get(s, why)) == NULL) {
		rc = WM_ESTORE;
		goto fail;
	}
	/* the snapshot that fixes the session's set: the aggregates, what
	 * expired, the largest seq and rowid, read together */
	if (sqlite3_exec(v->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		rc = sn_fail(why, v->db, "begin");
		goto fail;
	}
	v->held = v->fresh = 1;
	if ((rc = sn_load_aggregates(v, why)) != 0 || (rc = sn_subtract_expired(v, why)) != 0 ||
	    (rc = sn_load_refusals(v, why)) != 0 || (rc = sn_build_prefix(v)) != 0 ||
	    (rc = sn_read_max(v, why)) != 0)
		goto fail;
	/* scope "*" reads the (created_at, id) index alone; a group scope
	 * needs each row's group number (sn_gid_in_scope: a look-up of its
	 * name a row cost 47% more instructions) */
	if (sqlite3_prepare_v3(v->db, v->all ? "SELECT created_at, id FROM events "
	                       "WHERE created_at >= ?1 AND created_at < ?2 ORDER BY created_at, id" :
	                       "SELECT created_at, id, grp FROM events "
	                       "WHERE created_at >= ?1 AND created_at < ?2 ORDER BY created_at, id", -1,
	                       SQLITE_PREPARE_PERSISTENT, &v->q_ev, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(v->db, "SELECT created_at, id, grp FROM rejected "
	                       "WHERE created_at >= ?1 AND created_at < ?2 AND grp IS NOT NULL", -1,
	                       SQLITE_PREPARE_PERSISTENT, &v->q_rej, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(v->db, "SELECT seq, created_at, id, " STORE_GRP_NAME("grp") " FROM events"
	                       " WHERE seq > ?1", -1, SQLITE_PREPARE_PERSISTENT, &v->q_new_ev, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(v->db, "SELECT rowid, created_at, id, grp FROM rejected "
	                       "WHERE rowid > ?1 AND created_at IS NOT NULL AND grp IS NOT NULL",
	                       -1, SQLITE_PREPARE_PERSISTENT, &v->q_new_rej, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(v->db, "SELECT bucket, cnt, sum FROM neg_fine WHERE grp = ?1 AND "
	                       "bucket >= ?2 AND bucket < ?3 AND cnt > 0 ORDER BY bucket", -1,
	                       SQLITE_PREPARE_PERSISTENT, &v->q_fine, NULL) != SQLITE_OK) {
		rc = sn_fail(why, v->db, "prepare");
		goto fail;
	}
	*out = v;
	return 0;
fail:
	store_neg_close(v);
	return rc;
}

void store_neg_close(struct store_neg *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < SN_CACHE; i++)
		free(v->cache[i].items);
	for (i = 0; i < SN_DIRS; i++) {
		if (v->dirs[i] != NULL)
			free(v->dirs[i]->items);
		free(v->dirs[i]);
	}
	sqlite3_finalize(v->q_ev);
	sqlite3_finalize(v->q_rej);
	sqlite3_finalize(v->q_fine);
	sqlite3_finalize(v->q_total);
	sqlite3_finalize(v->q_new_ev);
	sqlite3_finalize(v->q_new_rej);
	sqlite3_finalize(v->q_gid);
	if (v->db != NULL) {
		if (v->held)
			sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
		store_reader_put(v->store, v->db);
	}
	free(v->added);
	free(v->gids);
	for (i = 0; i < v->ngroups; i++)
		free(v->groups[i]);
	free(v->groups);
	free(v->bk);
	free(v->pos);
	free(v->psum);
	free(v->expired);
	free(v->rej);
	free(v);
}

size_t store_neg_size(const struct store_neg *v)
{
	return v == NULL || v->nb == 0 ? 0 : (size_t)v->pos[v->nb];
}

void store_neg_get_stats(const struct store_neg *v, struct store_neg_stats *out)
{
	if (v != NULL && out != NULL)
		*out = v->stats;
}

void store_neg_set_cache(struct store_neg *v, size_t items)
{
	if (v != NULL)
		v->cache_items = items;
}

/* ---- loading a bucket's items ---- */

static int sn_add_rows(struct store_neg *v, sqlite3_stmt *st, int events, struct neg_item **items,
                       size_t *n, size_t *cap)
{
	int step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 ts = sqlite3_column_int64(st, 0);

		v->stats.rows++;
		if (events && !v->all) {
			int in = sn_gid_in_scope(v, sqlite3_column_int64(st, 2));

			if (in < 0)
				return in;
			if (!in)
				continue;
		} else if (!events && !sn_in_scope(v, (const char *)sqlite3_column_text(st, 2))) {
			continue;
		}
		if (ts < 0 || sqlite3_column_bytes(st, 1) != NEG_ID_LEN)
			return WM_ESTORE;
		if (v->nexpired || v->nadded) { /* expired at `now`, or not in the set */
			struct neg_item it;

			it.ts = (uint64_t)ts;
			memcpy(it.id, sqlite3_column_blob(st, 1), NEG_ID_LEN);
			if ((v->nexpired && bsearch(&it, v->expired, v->nexpired, sizeof it, sn_item_qcmp)) ||
			    (v->nadded && bsearch(&it, v->added, v->nadded, sizeof it, sn_item_qcmp)))
				continue;
		}
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 256;
			struct neg_item *ni;

			if (ncap > SIZE_MAX / sizeof *ni)
				return WM_ENOMEM;
			if ((ni = realloc(*items, ncap * sizeof *ni)) == NULL)
				return WM_ENOMEM;
			*items = ni;
			*cap = ncap;
		}
		(*items)[*n].ts = (uint64_t)ts;
		memcpy((*items)[*n].id, sqlite3_column_blob(st, 1), NEG_ID_LEN);
		(*n)++;
	}
	return step == SQLITE_DONE ? 0 : WM_ESTORE;
}

static void sn_cache_drop(struct sn_loaded *l)
{
	free(l->items);
	l->items = NULL;
	l->n = 0;
	l->key = UINT64_MAX;
}

/* Free what d holds of a bucket read whole; d then holds no bucket. */
static void sn_dir_drop(struct store_neg *v, struct sn_dir *d)
{
	v->cached -= d->nitems;
	free(d->items);
	d->items = NULL;
	d->nitems = 0;
	d->b = SIZE_MAX;
}

/* Make room for n more items: over budget, the cache and the buckets read
 * whole are all dropped and read again when asked. */
static void sn_cache_room(struct store_neg *v, size_t n)
{
	size_t i;

	if (v->cached + n <= v->cache_items)
		return;
	for (i = 0; i < SN_CACHE; i++) {
		v->cached -= v->cache[i].n;
		sn_cache_drop(&v->cache[i]);
	}
	for (i = 0; i < SN_DIRS; i++)
		if (v->dirs[i] != NULL && v->dirs[i]->items != NULL)
			sn_dir_drop(v, v->dirs[i]);
}

static int sn_acc_equal(const struct neg_acc *a, const struct neg_acc *b)
{
	return memcmp(a->sum, b->sum, NEG_ID_LEN) == 0;
}

static int sn_disagree(const char *what, uint64_t key, size_t n, uint64_t cnt)
{
	fprintf(stderr, "watchmesh store: negentropy aggregates of %s %llu disagree with its rows "
	        "(%zu rows, %llu counted)\n", what, (unsigned long long)key, n, (unsigned long long)cnt);
	return WM_ESTORE;
}

/* Add one neg_fine row to d (keys arrive sorted per group; merged here). */
static int sn_dir_add(struct sn_dir *d, uint64_t key, uint64_t cnt, const uint8_t *sum)
{
	size_t i = d->n;

	while (i > 0 && d->key[i - 1] > key)
		i--;
	if (i > 0 && d->key[i - 1] == key) {
		d->pos[i - 1] += cnt;   /* pos[] holds counts until the prefix pass */
		neg_acc_add(&d->psum[i - 1], sum);
		return 0;
	}
	if (d->n == SN_FINE_PER)
		return WM_ESTORE;       /* more fine buckets than fit: a damaged row */
	memmove(&d->key[i + 1], &d->key[i], (d->n - i) * sizeof d->key[0]);
	memmove(&d->pos[i + 1], &d->pos[i], (d->n - i) * sizeof d->pos[0]);
	memmove(&d->psum[i + 1], &d->psum[i], (d->n - i) * sizeof d->psum[0]);
	d->key[i] = key;
	d->pos[i] = cnt;
	neg_acc_zero(&d->psum[i]);
	neg_acc_add(&d->psum[i], sum);
	d->n++;
	return 0;
}

/* Take the items of the sorted list it[0, n) that fall in d's bucket (fine
 * keys from key0) out of d's fine counts and sums: what expired, or was
 * added since the open. */
static int sn_dir_sub(struct sn_dir *d, const struct neg_item *it, size_t n, uint64_t key0)
{
	size_t lo = 0, hi = n, i, w;

	while (lo < hi) {               /* the first in this bucket */
		size_t mid = lo + (hi - lo) / 2;

		if ((it[mid].ts >> STORE_NEG_FINE_SHIFT) < key0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < n && (it[i].ts >> STORE_NEG_FINE_SHIFT) < key0 + SN_FINE_PER; i++) {
		uint64_t fk = it[i].ts >> STORE_NEG_FINE_SHIFT;
		struct neg_acc id;

		for (w = 0; w < d->n && d->key[w] != fk; w++)
			;
		if (w == d->n || d->pos[w] == 0)
			return sn_disagree("fine bucket", fk, 0, 0);
		memcpy(id.sum, it[i].id, NEG_ID_LEN);
		d->pos[w]--;
		neg_acc_sub(&d->psum[w], &id);
	}
	return 0;
}

/* Those of the sorted list it[0, nit) with created_at in [lo, hi) onto items. */
static int sn_add_held(const struct neg_item *it, size_t nit, uint64_t lo, uint64_t hi,
                       struct neg_item **items, size_t *n, size_t *cap)
{
	size_t a = 0, b, z = nit;

	while (a < z) {                 /* the first at lo or later */
		size_t mid = a + (z - a) / 2;

		if (it[mid].ts < lo)
			a = mid + 1;
		else
			z = mid;
	}
	for (b = a; b < nit && it[b].ts < hi; b++)
		;
	if (b == a)
		return 0;
	if (*n + (b - a) > *cap) {
		struct neg_item *ni = realloc(*items, (*n + (b - a)) * sizeof *ni);

		if (ni == NULL)
			return WM_ENOMEM;
		*items = ni;
		*cap = *n + (b - a);
	}
	memcpy(*items + *n, it + a, (b - a) * sizeof *it);
	*n += b - a;
	return 0;
}

/* The items in scope of the session's set with created_at in [lo, hi),
 * sorted (cap: what the aggregates count, usually exact). */
static int sn_read_range(struct store_neg *v, uint64_t lo, uint64_t hi, size_t cap,
                         struct neg_item **out, size_t *nout)
{
	struct neg_item *items;
	size_t n = 0, nev, i;
	int rc;

	/* rows added since the open are in the range too: `added`, as of
	 * this read transaction, takes them out (a filter by seq in the SQL
	 * cost a tenth of each row's read) */
	if ((rc = sn_hold(v)) != 0 || (rc = sn_refresh_added(v)) != 0)
		return rc;
	if (cap == 0 || cap > SIZE_MAX / sizeof *items || (items = malloc(cap * sizeof *items)) == NULL)
		return WM_ENOMEM;
	sqlite3_reset(v->q_ev);
	sqlite3_bind_int64(v->q_ev, 1, store_u2i(lo));
	sqlite3_bind_int64(v->q_ev, 2, store_u2i(hi));
	rc = sn_add_rows(v, v->q_ev, 1, &items, &n, &cap);
	sqlite3_reset(v->q_ev);
	nev = n;
	if (rc == 0 && v->rej_held) {
		rc = sn_add_held(v->rej, v->nrej, lo, hi, &items, &n, &cap);
	} else if (rc == 0) {
		sqlite3_reset(v->q_rej);
		sqlite3_bind_int64(v->q_rej, 1, store_u2i(lo));
		sqlite3_bind_int64(v->q_rej, 2, store_u2i(hi));
		rc = sn_add_rows(v, v->q_rej, 0, &items, &n, &cap);
		sqlite3_reset(v->q_rej);
	}
	if (rc != 0)
		goto fail;
	v->stats.loads++;
	/* the (created_at, id) index gives events in order; refusals need a
	 * sort (and a duplicate would be a damaged store) */
	if (n > nev)
		qsort(items, n, sizeof *items, sn_item_qcmp);
	for (i = 1; i < n; i++)
		if (neg_item_cmp(&items[i - 1], &items[i]) >= 0) {
			rc = WM_ESTORE;
			goto fail;
		}
	*out = items;
	*nout = n;
	return 0;
fail:
	free(items);
	return rc;
}

/* Bucket b read whole into d, in one range scan: its items, and its fine
 * buckets counted and summed from them, checked against b's aggregate.
 * A bucket of a sparse set holds a few items a fine bucket, where a
 * neg_fine query and an item query a fine bucket cost more than the rows. */
static int sn_dir_whole(struct store_neg *v, size_t b, struct sn_dir *d)
{
	struct neg_item *items;
	struct neg_acc acc;
	size_t n, i;
	int rc;

	if ((rc = sn_read_range(v, v->bk[b].key << STORE_NEG_BUCKET_SHIFT,
	                        (v->bk[b].key + 1) << STORE_NEG_BUCKET_SHIFT, (size_t)v->bk[b].cnt + 1,
	                        &items, &n)) != 0)
		return rc;
	neg_acc_zero(&acc);
	for (i = 0; i < n; i++) {
		uint64_t fk = items[i].ts >> STORE_NEG_FINE_SHIFT;

		if (d->n == 0 || d->key[d->n - 1] != fk) {      /* at most SN_FINE_PER: the range */
			d->key[d->n] = fk;
			d->pos[d->n] = i;
			d->psum[d->n++] = acc;
		}
		neg_acc_add(&acc, items[i].id);
	}
	d->pos[d->n] = n;
	d->psum[d->n] = acc;
	if (n != v->bk[b].cnt || !sn_acc_equal(&acc, &v->bk[b].sum)) {
		free(items);
		return sn_disagree("bucket", v->bk[b].key, n, v->bk[b].cnt);
	}
	sn_cache_room(v, n);
	d->items = items;
	d->nitems = n;
	v->cached += n;
	return 0;
}

/* 1 if bucket b is read whole, 0 if not, <0 on error: few items, and,
 * for a group scope, few rows of all groups (the read goes through every
 * group's rows of its time: a small group's bucket among a thousand rows
 * of others reads less through its neg_fine rows).  Only the path is
 * chosen here, by the store as it is now; both check what they read
 * against the aggregates of the open. */
static int sn_whole(struct store_neg *v, size_t b)
{
	int step, small;

	if (v->bk[b].cnt > SN_WHOLE)
		return 0;
	if (v->all)
		return 1;
	if (v->q_total == NULL &&
	    sqlite3_prepare_v3(v->db, "SELECT cnt FROM neg_agg WHERE grp = '*' AND bucket = ?1", -1,
	                       SQLITE_PREPARE_PERSISTENT, &v->q_total, NULL) != SQLITE_OK)
		return WM_ESTORE;
	sqlite3_bind_int64(v->q_total, 1, store_u2i(v->bk[b].key));
	step = sqlite3_step(v->q_total);
	small = step == SQLITE_ROW && sqlite3_column_int64(v->q_total, 0) <= SN_WHOLE;
	sqlite3_reset(v->q_total);
	return step == SQLITE_ROW || step == SQLITE_DONE ? small : WM_ESTORE;
}

/* Bucket b's fine buckets: read whole if it is small, else its neg_fine
 * rows in scope, less what expired and what was added since the open,
 * checked against b's own aggregate. */
static int sn_dir(struct store_neg *v, size_t b, const struct sn_dir **out)
{
	struct sn_dir **slot = &v->dirs[b % SN_DIRS], *d = *slot;
	uint64_t key0 = v->bk[b].key << (STORE_NEG_BUCKET_SHIFT - STORE_NEG_FINE_SHIFT);
	struct neg_acc total;
	size_t g, i, w;
	int rc = 0, step;

	if (d != NULL && d->b == b) {
		*out = d;
		return 0;
	}
	if ((rc = sn_hold(v)) != 0 || (rc = sn_refresh_added(v)) != 0)
		return rc;
	if (d == NULL && (d = *slot = calloc(1, sizeof *d)) == NULL)
		return WM_ENOMEM;
	sn_dir_drop(v, d);
	d->n = 0;
	if ((rc = sn_whole(v, b)) < 0)
		return rc;
	if (rc == 1) {
		if ((rc = sn_dir_whole(v, b, d)) != 0)
			return rc;
		d->b = b;
		*out = d;
		return 0;
	}
	for (g = 0; g < (v->all ? 1 : v->ngroups) && rc == 0; g++) {
		sqlite3_reset(v->q_fine);
		sqlite3_bind_text(v->q_fine, 1, v->all ? "*" : v->groups[g], -1, SQLITE_STATIC);
		sqlite3_bind_int64(v->q_fine, 2, store_u2i(key0));
		sqlite3_bind_int64(v->q_fine, 3, store_u2i(key0 + SN_FINE_PER));
		while ((step = sqlite3_step(v->q_fine)) == SQLITE_ROW) {
			sqlite3_int64 key = sqlite3_column_int64(v->q_fine, 0);
			sqlite3_int64 cnt = sqlite3_column_int64(v->q_fine, 1);

			if (key < 0 || cnt < 0 || sqlite3_column_bytes(v->q_fine, 2) != NEG_ID_LEN ||
			    (rc = sn_dir_add(d, (uint64_t)key, (uint64_t)cnt,
			                     sqlite3_column_blob(v->q_fine, 2))) != 0) {
				rc = WM_ESTORE;
				break;
			}
		}
		if (rc == 0 && step != SQLITE_DONE)
			rc = WM_ESTORE;
	}
	sqlite3_reset(v->q_fine);
	if (rc != 0)
		return rc;
	v->stats.dirs++;
	if ((rc = sn_dir_sub(d, v->expired, v->nexpired, key0)) != 0 ||
	    (rc = sn_dir_sub(d, v->added, v->nadded, key0)) != 0)
		return rc;
	/* drop the emptied ones, then counts and sums become prefixes */
	for (i = 0, w = 0; i < d->n; i++)
		if (d->pos[i] > 0) {
			d->key[w] = d->key[i];
			d->pos[w] = d->pos[i];
			d->psum[w++] = d->psum[i];
		}
	d->n = w;
	{
		uint64_t c = 0, cnt;
		struct neg_acc acc, part;

		neg_acc_zero(&acc);
		for (i = 0; i < d->n; i++) {
			cnt = d->pos[i];
			part = d->psum[i];
			d->pos[i] = c;
			d->psum[i] = acc;
			c += cnt;
			neg_acc_add(&acc, part.sum);
		}
		d->pos[d->n] = c;
		d->psum[d->n] = acc;
	}
	total = d->psum[d->n];
	if (d->pos[d->n] != v->bk[b].cnt || !sn_acc_equal(&total, &v->bk[b].sum))
		return sn_disagree("bucket", v->bk[b].key, (size_t)d->pos[d->n], v->bk[b].cnt);
	d->b = b;
	*out = d;
	return 0;
}

/* Fine bucket f of directory d: its items, sorted.  No prefix sums kept:
 * 40 bytes an item rather than 72, so the same memory holds twice the
 * items (the cache dropped and read again half the set at 10% of 200k),
 * and a sum inside a fine bucket adds its first ids, linear in the
 * bucket's size as reading it is. */
static int sn_load(struct store_neg *v, const struct sn_dir *d, size_t f,
                   const struct neg_item **out, size_t *nout)
{
	uint64_t key = d->key[f], cnt = d->pos[f + 1] - d->pos[f];
	struct sn_loaded *slot = &v->cache[key % SN_CACHE];
	struct neg_item *items = NULL;
	struct neg_acc total, want;
	size_t n = 0, i;
	int rc;

	if (d->items != NULL) {         /* read whole */
		*out = d->items + d->pos[f];
		*nout = (size_t)cnt;
		return 0;
	}
	if (slot->key != key) {
		if ((rc = sn_read_range(v, key << STORE_NEG_FINE_SHIFT, (key + 1) << STORE_NEG_FINE_SHIFT,
		                        (size_t)cnt + 1, &items, &n)) != 0)
			return rc;
		neg_acc_zero(&total);
		for (i = 0; i < n; i++)
			neg_acc_add(&total, items[i].id);
		/* the rows must be what the aggregates counted */
		want = d->psum[f + 1];
		neg_acc_sub(&want, &d->psum[f]);
		if (n != cnt || !sn_acc_equal(&total, &want)) {
			free(items);
			return sn_disagree("fine bucket", key, n, cnt);
		}
		v->cached -= slot->n;
		sn_cache_drop(slot);
		sn_cache_room(v, n);
		slot->key = key;
		slot->items = items;
		slot->n = n;
		v->cached += n;
	}
	*out = slot->items;
	*nout = slot->n;
	return 0;
}

/* Where position i (< size) is inside bucket b (the one holding it): its
 * directory, fine bucket *f (the last with pos <= the offset in b), and
 * *off = i - pos[b]. */
static int sn_locate(struct store_neg *v, uint64_t i, size_t b, const struct sn_dir **d,
                     size_t *f, uint64_t *off)
{
	size_t lo, hi;
	int rc;

	*off = i - v->pos[b];
	if ((rc = sn_dir(v, b, d)) != 0)
		return rc;
	lo = 0;
	hi = (*d)->n;                   /* last f with pos[f] <= off */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if ((*d)->pos[mid] <= *off)
			lo = mid;
		else
			hi = mid;
	}
	*f = lo;
	return 0;
}

/* Sum of the first i items (i <= size). */
static int sn_prefix(struct store_neg *v, uint64_t i, struct neg_acc *out)
{
	const struct neg_item *items;
	const struct sn_dir *d;
	size_t b, f, k, n;
	uint64_t off;
	int rc;

	if (i >= store_neg_size(v)) {
		*out = v->psum[v->nb];
		return 0;
	}
	b = sn_find_pos(v, i);
	if (i == v->pos[b]) {
		*out = v->psum[b];
		return 0;
	}
	if ((rc = sn_locate(v, i, b, &d, &f, &off)) != 0)
		return rc;
	*out = v->psum[b];
	if (off == d->pos[f]) {
		neg_acc_add(out, d->psum[f].sum);
		return 0;
	}
	if ((rc = sn_load(v, d, f, &items, &n)) != 0)
		return rc;
	/* from the nearer end of the fine bucket: half the adds on average */
	k = (size_t)(off - d->pos[f]);
	if (k <= n / 2) {
		neg_acc_add(out, d->psum[f].sum);
		while (k > 0)
			neg_acc_add(out, items[--k].id);
	} else {
		struct neg_acc rest;

		neg_acc_zero(&rest);
		for (; k < n; k++)
			neg_acc_add(&rest, items[k].id);
		neg_acc_add(out, d->psum[f + 1].sum);
		neg_acc_sub(out, &rest);
	}
	return 0;
}

/* ---- the storage operations ---- */

static size_t sn_op_size(void *ctx)
{
	return store_neg_size(ctx);
}

static int sn_op_item(void *ctx, size_t i, struct neg_item *out)
{
	struct store_neg *v = ctx;
	const struct neg_item *items;
	const struct sn_dir *d;
	size_t b, f, n;
	uint64_t off;
	int rc;

	if (i >= store_neg_size(v))
		return WM_EINVAL;
	b = sn_find_pos(v, i);
	if ((rc = sn_locate(v, i, b, &d, &f, &off)) != 0 || (rc = sn_load(v, d, f, &items, &n)) != 0)
		return rc;
	*out = items[off - d->pos[f]];
	return 0;
}

static int sn_op_lower_bound(void *ctx, size_t begin, size_t end, const struct neg_bound *bd,
                             size_t *out)
{
	struct store_neg *v = ctx;
	const struct neg_item *items;
	const struct sn_dir *d;
	uint64_t key = bd->ts >> STORE_NEG_BUCKET_SHIFT, fk = bd->ts >> STORE_NEG_FINE_SHIFT, g;
	size_t b, f;
	int rc;

	if (begin > end || end > store_neg_size(v))
		return WM_EINVAL;
	b = sn_find_key(v, key);
	if (b == v->nb) {
		g = store_neg_size(v);
	} else if (v->bk[b].key > key) {
		g = v->pos[b];
	} else {
		if ((rc = sn_dir(v, b, &d)) != 0)
			return rc;
		for (f = 0; f < d->n && d->key[f] < fk; f++)
			;
		if (f == d->n || d->key[f] > fk) {
			g = v->pos[b] + d->pos[f];
		} else {
			size_t lo = 0, hi;

			if ((rc = sn_load(v, d, f, &items, &hi)) != 0)
				return rc;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (neg_item_bound_cmp(&items[mid], bd) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			g = v->pos[b] + d->pos[f] + lo;
		}
	}
	*out = g < begin ? begin : g > end ? end : (size_t)g;
	return 0;
}

static int sn_op_fingerprint(void *ctx, size_t begin, size_t end, uint8_t out[NEG_FP_LEN])
{
	struct store_neg *v = ctx;
	struct neg_acc a, b;
	int rc;

	if (begin > end || end > store_neg_size(v))
		return WM_EINVAL;
	if ((rc = sn_prefix(v, end, &a)) != 0 || (rc = sn_prefix(v, begin, &b)) != 0)
		return rc;
	neg_acc_sub(&a, &b);
	neg_acc_fingerprint(&a, end - begin, out);
	return 0;
}

static const struct neg_storage_ops sn_ops = {
	.size = sn_op_size,
	.item = sn_op_item,
	.lower_bound = sn_op_lower_bound,
	.fingerprint = sn_op_fingerprint,
};

struct neg_storage store_neg_storage(struct store_neg *v)
{
	struct neg_storage st = { &sn_ops, v };

	return st;
}
