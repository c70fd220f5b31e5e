/*
 * bench_neg: negentropy repair between two stores of a million events.
 *
 *   bench_neg [N [DIR]]        (N = 1000000, DIR = /tmp by default)
 *
 * Store A holds N items spread over one year in 8 groups; store B is A
 * with a share of the items taken out and as many new ones put in (0.1%,
 * 1%, 10% of N differ in all).  Rows go in through store_neg_insert_raw
 * (created_at, id, group only: nothing is signed, signatures are not what
 * is measured here), the neg_agg triggers keeping the aggregates as they
 * would for real events.  For each difference and frame limit, an
 * in-process client over A's store view reconciles with a server over
 * B's: round trips, bytes each way, wall time (session opening included),
 * and the time to the first reply of a session (open the view and answer
 * the client's first message) on the 1M store.  The same sets are then
 * reconciled with neg_vec, and every message must be byte-identical
 * (the reference splitting), with exactly the true differences found.
 * Not a test: run it by hand, e.g. build/tests/bench/bench_neg (about
 * four minutes and 1.2 GB of disk for N = 1,000,000); BENCH_NEG_VERBOSE=1
 * adds the server view's bucket loads; BENCH_NEG_DAYS=N spreads the items
 * over N days instead of a year (5: as dense as bench_repair's 200,000);
 * BENCH_NEG_CPU=1 times in CPU time, which a loaded machine moves least.
 * The last column counts the read system calls of the views' run: the
 * pages their readers' caches lacked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "negentropy.h"
#include "store.h"
#include "store_neg.h"
/* the room's private header: store_db for the cache size, the session's
 * size and counters, rows put in without events behind them */
#include "store_int.h"
#include "wmcrypto.h"

#define BASE_TS 1735689600000ULL        /* 2025-01-01, ms */
#define YEAR_MS (365ULL * 86400 * 1000)

static const char *const bn_groups[] = {
	"network", "xinhua-village", "gaobu.east", "gaobu.west", "harbour.park",
	"station-7", "old-town", "riverside",
};
static const char *const bn_all[] = { "*" };

static uint64_t bn_rng = 0x243f6a8885a308d3ULL;

static uint64_t bn_rnd(void)
{
	bn_rng ^= bn_rng >> 12;
	bn_rng ^= bn_rng << 25;
	bn_rng ^= bn_rng >> 27;
	return bn_rng * 2685821657736338717ULL;
}

static uint64_t bn_span_ms = YEAR_MS;  /* BENCH_NEG_DAYS */
static clockid_t bn_clock = CLOCK_MONOTONIC;    /* BENCH_NEG_CPU=1: CPU time */

static double bn_now(void)
{
	struct timespec ts;

	clock_gettime(bn_clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bn_die(const char *what, int rc)
{
	fprintf(stderr, "bench_neg: %s: %s\n", what, rc < 0 ? wm_strerror(rc) : "failed");
	exit(1);
}

static void bn_random_row(struct store_neg_raw *r)
{
	size_t j;

	r->created_at = BASE_TS + bn_rnd() % bn_span_ms;
	for (j = 0; j < NEG_ID_LEN; j += 8) {
		uint64_t v = bn_rnd();

		memcpy(r->id + j, &v, 8);
	}
	r->group = bn_groups[bn_rnd() % 8];
	r->expires_at = 0;
}

static void bn_insert(struct store *s, const struct store_neg_raw *rows, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i += 20000) {
		size_t k = n - i < 20000 ? n - i : 20000;

		if ((rc = store_begin(s)) != 0 || (rc = store_neg_insert_raw(s, rows + i, k)) != 0 ||
		    (rc = store_commit(s)) != 0)
			bn_die("insert", rc);
	}
}

static struct neg_vec *bn_vec(const struct store_neg_raw *a, size_t na, const uint8_t *skip,
                              const struct store_neg_raw *b, size_t nb)
{
	struct neg_vec *v = NULL;
	size_t i;

	if (neg_vec_new(&v) != 0)
		bn_die("neg_vec", WM_ENOMEM);
	for (i = 0; i < na; i++)
		if ((skip == NULL || !skip[i]) && neg_vec_add(v, a[i].created_at, a[i].id) != 0)
			bn_die("neg_vec_add", WM_ENOMEM);
	for (i = 0; i < nb; i++)
		if (neg_vec_add(v, b[i].created_at, b[i].id) != 0)
			bn_die("neg_vec_add", WM_ENOMEM);
	if (neg_vec_seal(v) != 0)
		bn_die("neg_vec_seal", WM_EINVAL);
	return v;
}

/* Read system calls of this process so far (/proc/self/io syscr): with
 * the readers' mmap off, each page a view reads that its page cache does
 * not hold is one pread.  0 where /proc does not say. */
static uint64_t bn_syscr(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	unsigned long long n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "syscr: %llu", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* One reconciliation: the client's and server's storages, opened by the
 * callers (times of opening are added by them). */
struct bn_run {
	size_t rounds, up, down, have, need;
	double secs;
	uint8_t digest[WM_ID_LEN];      /* SHA-256 chain over every message */
};

static void bn_chain(uint8_t d[WM_ID_LEN], const uint8_t *m, size_t len)
{
	uint8_t *buf = malloc(WM_ID_LEN + len);

	if (buf == NULL)
		bn_die("digest", WM_ENOMEM);
	memcpy(buf, d, WM_ID_LEN);
	memcpy(buf + WM_ID_LEN, m, len);
	id_compute(d, buf, WM_ID_LEN + len);
	free(buf);
}

static void bn_reconcile(const struct neg_storage *cs, const struct neg_storage *ss, uint64_t limit,
                         struct bn_run *r)
{
	struct neg *c = NULL, *s = NULL;
	struct neg_ids have = { 0 }, need = { 0 };
	uint8_t *msg = NULL, *ans = NULL;
	size_t len = 0, anslen = 0;
	char why[WM_WHY_LEN];
	double t0 = bn_now();
	int rc;

	memset(r, 0, sizeof *r);
	if ((rc = neg_new(cs, limit, &c)) != 0 || (rc = neg_new(ss, limit, &s)) != 0 ||
	    (rc = neg_initiate(c, &msg, &len)) != 0)
		bn_die("start", rc);
	while (msg != NULL) {
		r->rounds++;
		r->up += len;
		bn_chain(r->digest, msg, len);
		if ((rc = neg_reconcile_server(s, msg, len, &ans, &anslen, why, sizeof why)) != 0)
			bn_die(why, rc);
		free(msg);
		msg = NULL;
		r->down += anslen;
		bn_chain(r->digest, ans, anslen);
		if ((rc = neg_reconcile_client(c, ans, anslen, &have, &need, &msg, &len, why,
		                               sizeof why)) != 0)
			bn_die(why, rc);
		free(ans);
	}
	r->secs = bn_now() - t0;
	r->have = have.n;
	r->need = need.n;
	neg_ids_free(&have);
	neg_ids_free(&need);
	neg_free(c);
	neg_free(s);
}

static struct store_neg *bn_view(struct store *s, double *secs)
{
	struct store_neg *v = NULL;
	char why[WM_WHY_LEN];
	double t0 = bn_now();
	int rc;

	if ((rc = store_neg_open(s, bn_all, 1, BASE_TS + 2 * YEAR_MS, &v, why)) != 0)
		bn_die(why, rc);
	*secs = bn_now() - t0;
	return v;
}

/* Time to the first reply on B: open B's view, answer A's first message. */
static double bn_first_reply(struct store *a, struct store *b, uint64_t limit, double *initiate)
{
	struct store_neg *va, *vb;
	struct neg_storage sa, sb;
	struct neg *c = NULL, *s = NULL;
	uint8_t *msg = NULL, *ans = NULL;
	size_t len = 0, anslen = 0;
	char why[WM_WHY_LEN];
	double t0, open_a, open_b, t;
	int rc;

	t0 = bn_now();
	va = bn_view(a, &open_a);
	sa = store_neg_storage(va);
	if ((rc = neg_new(&sa, limit, &c)) != 0 || (rc = neg_initiate(c, &msg, &len)) != 0)
		bn_die("initiate", rc);
	*initiate = bn_now() - t0;
	t0 = bn_now();
	vb = bn_view(b, &open_b);
	sb = store_neg_storage(vb);
	if ((rc = neg_new(&sb, limit, &s)) != 0 ||
	    (rc = neg_reconcile_server(s, msg, len, &ans, &anslen, why, sizeof why)) != 0)
		bn_die("first reply", rc);
	t = bn_now() - t0;
	free(msg);
	free(ans);
	neg_free(c);
	neg_free(s);
	store_neg_close(va);
	store_neg_close(vb);
	return t;
}

static int bn_copy(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[1 << 16];
	size_t n;
	int rc = 0;

	if (in == NULL || out == NULL)
		rc = -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in != NULL)
		fclose(in);
	if (out != NULL && fclose(out) != 0)
		rc = -1;
	return rc;
}

int main(int argc, char **argv)
{
	static const double shares[] = { 0.001, 0.01, 0.10 };
	static const uint64_t limits[] = { 512 * 1024, 60000 };
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	const char *days = getenv("BENCH_NEG_DAYS");
	char pa[600], pb[600], gone[700], why[WM_WHY_LEN], tmpl[512];
	struct store_neg_raw *a, *added;
	uint8_t *removed;
	size_t *perm, nadded_max, k_prev = 0, i, l;
	struct store *sa = NULL, *sb = NULL;
	struct neg_vec *vec_a;
	double t0, t_ins;
	int rc;

	if (n < 1000 || wmc_init() < 0 || (days != NULL && atoi(days) < 1)) {
		fprintf(stderr, "usage: bench_neg [N >= 1000 [DIR]]   (BENCH_NEG_DAYS=1.. the span "
		        "of the items, 365 by default; BENCH_NEG_CPU=1 CPU time, not wall time)\n");
		return 2;
	}
	if (days != NULL)
		bn_span_ms = (uint64_t)atoi(days) * 86400000ULL;
	if (getenv("BENCH_NEG_CPU") != NULL && strcmp(getenv("BENCH_NEG_CPU"), "1") == 0)
		bn_clock = CLOCK_PROCESS_CPUTIME_ID;
	snprintf(tmpl, sizeof tmpl, "%s/bench_neg.XXXXXX", dir);
	if (mkdtemp(tmpl) == NULL) {
		perror(tmpl);
		return 1;
	}
	snprintf(pa, sizeof pa, "%s/a.db", tmpl);
	snprintf(pb, sizeof pb, "%s/b.db", tmpl);
	nadded_max = (size_t)((double)n * shares[2] / 2);
	a = calloc(n, sizeof *a);
	added = calloc(nadded_max + 1, sizeof *added);
	removed = calloc(n, 1);
	perm = calloc(n, sizeof *perm);
	if (a == NULL || added == NULL || removed == NULL || perm == NULL)
		bn_die("memory", WM_ENOMEM);
	for (i = 0; i < n; i++) {
		bn_random_row(&a[i]);
		perm[i] = i;
	}
	for (i = 0; i < nadded_max; i++)
		bn_random_row(&added[i]);
	for (i = n - 1; i > 0; i--) {   /* which of A's items B lacks, in order */
		size_t j = bn_rnd() % (i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}

	printf("bench_neg: two stores of %zu items over %.0f days, 8 groups, scope \"*\"; times in %s; "
	       "%s\n", n, (double)bn_span_ms / 86400000.0,
	       bn_clock == CLOCK_MONOTONIC ? "wall time" : "CPU time", tmpl);
	if (store_open(pa, &sa, why) != 0)
		bn_die(why, WM_ESTORE);
	/* loading a million rows is not what is measured: a larger page cache
	 * than the node's keeps the random id index from going to disk */
	sqlite3_exec(store_db(sa), "PRAGMA cache_size = -262144", NULL, NULL, NULL);
	t0 = bn_now();
	bn_insert(sa, a, n);
	t_ins = bn_now() - t0;
	printf("insert of %zu rows into A (indexes and aggregate triggers, 256 MiB page cache): "
	       "%.1f s, %.0f rows/s\n", n,
	       t_ins, (double)n / t_ins);
	if ((rc = store_checkpoint(sa)) != 0)
		bn_die("checkpoint", rc);
	if (bn_copy(pa, pb) != 0)
		bn_die("copy", -1);
	if (store_open(pb, &sb, why) != 0)
		bn_die(why, WM_ESTORE);
	sqlite3_exec(store_db(sb), "PRAGMA cache_size = -262144", NULL, NULL, NULL);
	vec_a = bn_vec(a, n, NULL, NULL, 0);

	printf("\n| differ | frame limit | round trips | bytes A->B | bytes B->A | store views | "
	       "neg_vec | first reply (B) | initiate (A) | found | bytes = neg_vec | views' reads |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (l = 0; l < sizeof shares / sizeof shares[0]; l++) {
		size_t k = (size_t)((double)n * shares[l] / 2);
		struct neg_vec *vec_b;
		size_t li;

		/* B: k of A's items taken out, k new ones in */
		for (i = k_prev; i < k; i++) {
			removed[perm[i]] = 1;
			if ((rc = store_delete(sb, a[perm[i]].id)) != 0)
				bn_die("delete", rc);
		}
		bn_insert(sb, added + k_prev, k - k_prev);
		k_prev = k;
		vec_b = bn_vec(a, n, removed, added, k);

		for (li = 0; li < sizeof limits / sizeof limits[0]; li++) {
			struct store_neg *va, *vb;
			struct neg_storage s1, s2;
			struct bn_run rs, rv;
			struct store_neg_stats st;
			double oa, ob, first, init;
			uint64_t r0 = bn_syscr();
			int same;

			va = bn_view(sa, &oa);
			vb = bn_view(sb, &ob);
			s1 = store_neg_storage(va);
			s2 = store_neg_storage(vb);
			if (store_neg_size(va) != n || store_neg_size(vb) != n)
				bn_die("view sizes", WM_ESTORE);
			bn_reconcile(&s1, &s2, limits[li], &rs);
			rs.secs += oa + ob;
			r0 = bn_syscr() - r0;
			store_neg_get_stats(vb, &st);
			store_neg_close(va);
			store_neg_close(vb);
			s1 = neg_vec_storage(vec_a);
			s2 = neg_vec_storage(vec_b);
			bn_reconcile(&s1, &s2, limits[li], &rv);
			same = memcmp(rs.digest, rv.digest, WM_ID_LEN) == 0 && rs.rounds == rv.rounds;
			first = bn_first_reply(sa, sb, limits[li], &init);
			printf("| %.1f%% (%zu+%zu) | %llu | %zu | %zu | %zu | %.0f ms | %.0f ms | %.1f ms | "
			       "%.1f ms | %zu+%zu%s | %s | %llu |\n",
			       shares[l] * 100, k, k, (unsigned long long)limits[li], rs.rounds, rs.up, rs.down,
			       rs.secs * 1e3, rv.secs * 1e3, first * 1e3, init * 1e3, rs.have, rs.need,
			       rs.have == k && rs.need == k ? " exact" : " WRONG", same ? "yes" : "NO",
			       (unsigned long long)r0);
			fflush(stdout);
			if (getenv("BENCH_NEG_VERBOSE"))
				printf("   (server view: %llu buckets, %llu bucket loads, %llu rows read)\n",
				       (unsigned long long)st.buckets, (unsigned long long)st.loads,
				       (unsigned long long)st.rows);
			if (!same || rs.have != k || rs.need != k || rv.have != k || rv.need != k) {
				fprintf(stderr, "bench_neg: results differ\n");
				return 1;
			}
		}
		neg_vec_free(vec_b);
	}
	neg_vec_free(vec_a);
	store_close(sa);
	store_close(sb);
	snprintf(gone, sizeof gone, "%s-wal", pa);
	unlink(gone);
	snprintf(gone, sizeof gone, "%s-shm", pa);
	unlink(gone);
	snprintf(gone, sizeof gone, "%s-wal", pb);
	unlink(gone);
	snprintf(gone, sizeof gone, "%s-shm", pb);
	unlink(gone);
	unlink(pa);
	unlink(pb);
	rmdir(tmpl);
	free(a);
	free(added);
	free(removed);
	free(perm);
	return 0;
}
