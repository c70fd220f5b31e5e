/*
 * bench_repair_gen: the data of the daemon-to-daemon repair benchmark
 * (tests/bench/bench_repair.py).
 *
 *   bench_repair_gen DIR N PERMILLE...      e.g. bench_repair_gen /tmp/x 1000000 1 10 100
 *
 * For stores of N real signed events that differ in PERMILLE/1000 of N
 * (half the difference on each side), writes:
 *   DIR/bench.network      a network (root fixed by a seed, random secret)
 *   DIR/common.wmb         what every store holds: the station's and the
 *                          officer's certificates first, then N - H events
 *   DIR/a_<P>.wmb          each side's rest for difference P: the pool events
 *   DIR/b_<P>.wmb          both sides hold at that level, then the N*P/2000
 *                          events only this side holds
 * where H is half the largest difference.  So the common part is imported
 * once and copied, and each store ends with exactly N events.  created_at
 * values are unique (2 s apart over about a month, in a random order), so
 * the differing events are spread evenly over the whole range, the hard
 * case for range-based reconciliation.  Prints "key value" lines.  Not a
 * test: run by tests/bench/bench_repair.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "event.h"
#include "fixture.h"
#include "mix.h"
#include "negentropy.h"
#include "wmcrypto.h"

#define BRG_RESIDENTS 64
#define BRG_RECENT    1024
#define BRG_STEP_MS   2000
#define BRG_MAX_LEVELS 8
#define BRG_FRAME_LIMIT 60000           /* the mesh's negentropy frame limit */
#define BRG_FRAME_MAX   524288          /* the largest a mesh frame carries */

static uint64_t brg_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t brg_rnd(void)
{
	brg_rng ^= brg_rng >> 12;
	brg_rng ^= brg_rng << 25;
	brg_rng ^= brg_rng >> 27;
	return brg_rng * 2685821657736338717ULL;
}

static void brg_die(const char *what)
{
	fprintf(stderr, "bench_repair_gen: %s\n", what);
	exit(1);
}

/* One built event, kept in memory for the side files. */
struct brg_wire {
	uint8_t *b;
	size_t len;
	uint64_t ts;
	uint8_t id[WM_ID_LEN];
};

struct brg {
	struct fx_cast c;                       /* BRG_RESIDENTS residents */
	uint8_t recent[BRG_RECENT][WM_ID_LEN];  /* ids of common events, for refs */
	size_t nrecent;
	uint32_t *slot;                         /* a permutation: created_at order */
	uint64_t *cts;                          /* created_at and id of each common event */
	uint8_t (*cid)[WM_ID_LEN];
	size_t ncommon;
	size_t next;                            /* events made so far */
	uint64_t t0;
};

/* For every group, from a second before t for ten years; a common event. */
static void brg_cert(struct brg *g, FILE *f, const struct key *issuer, const struct key *subject,
                     const char *role, const char *name, uint64_t t)
{
	struct fx_ev e = fx_cert(issuer, subject, role, name, "*", t - 1000, t + 10ull * 365 * 86400000, t);

	if (fwrite(e.wire, 1, e.len, f) != e.len)
		brg_die("write failed");
	free(e.wire);
	g->cts[g->ncommon] = t;
	memcpy(g->cid[g->ncommon++], e.id, WM_ID_LEN);
}

/* The next event of the mix (bulletins, requests, replies, acks); a common
 * one (`common`) is remembered as a possible target of later refs. */
static void brg_next(struct brg *g, int common, struct brg_wire *w)
{
	size_t i = g->next++;
	struct event_draft d = { .created_at = g->t0 + (uint64_t)g->slot[i] * BRG_STEP_MS,
	                         .group = mix_groups[brg_rnd() % 5] };
	const struct key *k = g->c.resident[brg_rnd() % BRG_RESIDENTS];
	struct fx_ev e;
	const uint8_t *ref = NULL;
	char title[64];
	unsigned r = (unsigned)(brg_rnd() % 10), text = 0;

	if (g->nrecent == 0 && r >= 7)
		r = 2;
	/* the same draws in the same order as before the mix was shared */
	if (r < 2)
		text = (unsigned)(brg_rnd() % 4);
	else if (r >= 7)
		ref = g->recent[brg_rnd() % g->nrecent];
	if (mix_draft(&d, r, i, text, ref, title))
		k = g->c.officer;
	memcpy(d.author, k->pub, WM_PUB_LEN);
	e = fx_build(&d, k);
	w->b = e.wire;
	w->len = e.len;
	w->ts = d.created_at;
	memcpy(w->id, e.id, WM_ID_LEN);
	if (common) {
		memcpy(g->recent[g->nrecent < BRG_RECENT ? g->nrecent : brg_rnd() % BRG_RECENT], e.id,
		       WM_ID_LEN);
		if (g->nrecent < BRG_RECENT)
			g->nrecent++;
	}
}

static void brg_write(FILE *f, const struct brg_wire *w, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		if (fwrite(w[i].b, 1, w[i].len, f) != w[i].len)
			brg_die("write failed");
}

static struct neg_vec *brg_set(const struct brg *g, const struct brg_wire *pool, size_t h,
                               size_t hmax, const struct brg_wire *own)
{
	struct neg_vec *v = NULL;
	size_t i;
	int rc = neg_vec_new(&v);

	for (i = 0; rc == 0 && i < g->ncommon; i++)
		rc = neg_vec_add(v, g->cts[i], g->cid[i]);
	for (i = h; rc == 0 && i < hmax; i++)
		rc = neg_vec_add(v, pool[i].ts, pool[i].id);
	for (i = 0; rc == 0 && i < h; i++)
		rc = neg_vec_add(v, own[i].ts, own[i].id);
	if (rc != 0 || (rc = neg_vec_seal(v)) != 0)
		brg_die("neg_vec failed");
	return v;
}

/*
 * The reference figures for one level: the same two sets reconciled in
 * process over neg_vec (the reference splitting; the daemons' messages are
 * byte-identical for the same sets), client A, server B, the mesh's frame
 * limit.  Printed as "ref PERMILLE round_trips bytes_a_to_b bytes_b_to_a
 * have need us cpu_us"; "ref512 ..." the same at the largest frame limit a
 * mesh frame allows (what the mesh would need for 3 round trips at 0.1%).
 * `us` is the reconciliation alone in memory, both sides on one thread, in
 * microseconds of wall time, `cpu_us` of CPU time: the reference the
 * daemons' reconciliation is measured against (issue 11: at most 3 times
 * it).
 */
static void brg_reference(const struct brg *g, const struct brg_wire *pool, size_t h, size_t hmax,
                          const struct brg_wire *xa, const struct brg_wire *xb, unsigned long per,
                          const char *tag, uint64_t limit)
{
	struct neg_vec *va = brg_set(g, pool, h, hmax, xa), *vb = brg_set(g, pool, h, hmax, xb);
	struct neg_storage sa = neg_vec_storage(va), sb = neg_vec_storage(vb);
	struct neg *c = NULL, *s = NULL;
	struct neg_ids have = { NULL, 0, 0 }, need = { NULL, 0, 0 };
	uint8_t *msg = NULL, *ans = NULL;
	size_t len = 0, anslen = 0;
	uint64_t rt = 0, out = 0, in = 0;
	char why[WM_WHY_LEN];
	struct timespec t0, t1, c0, c1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	if (neg_new(&sa, limit, &c) != 0 || neg_new(&sb, limit, &s) != 0 ||
	    neg_initiate(c, &msg, &len) != 0)
		brg_die("negentropy start failed");
	while (msg != NULL) {
		out += len;
		if (neg_reconcile_server(s, msg, len, &ans, &anslen, why, sizeof why) != 0)
			brg_die(why);
		free(msg);
		msg = NULL;
		rt++;
		in += anslen;
		if (neg_reconcile_client(c, ans, anslen, &have, &need, &msg, &len, why, sizeof why) != 0)
			brg_die(why);
		free(ans);
		ans = NULL;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (have.n != h || need.n != h)
		brg_die("the reference found the wrong differences");
	printf("%s %lu %llu %llu %llu %zu %zu %lld %lld\n", tag, per, (unsigned long long)rt,
	       (unsigned long long)out, (unsigned long long)in, have.n, need.n,
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000,
	       (long long)(c1.tv_sec - c0.tv_sec) * 1000000 + (c1.tv_nsec - c0.tv_nsec) / 1000);
	neg_ids_free(&have);
	neg_ids_free(&need);
	neg_free(c);
	neg_free(s);
	neg_vec_free(va);
	neg_vec_free(vb);
}

/*
 * sets.bin: (created_at, id) of the common events, the pool and each side's
 * own, so that `bench_repair_gen --ref DIR PERMILLE...` reconciles the same
 * sets in memory again in a later run without signing anything: the
 * reference of every run, measured in that run (bench_repair.py).
 */
static void brg_sets_io(FILE *f, int out, struct brg *g, struct brg_wire *pool, struct brg_wire *xa,
                        struct brg_wire *xb, size_t hmax)
{
	struct brg_wire *sides[3] = { pool, xa, xb };
	size_t i, k, ok = 1;

	for (i = 0; i < g->ncommon && ok; i++)
		ok = out ? fwrite(&g->cts[i], sizeof g->cts[i], 1, f) == 1 &&
		           fwrite(g->cid[i], WM_ID_LEN, 1, f) == 1
		         : fread(&g->cts[i], sizeof g->cts[i], 1, f) == 1 &&
		           fread(g->cid[i], WM_ID_LEN, 1, f) == 1;
	for (k = 0; k < 3 && ok; k++)
		for (i = 0; i < hmax && ok; i++)
			ok = out ? fwrite(&sides[k][i].ts, sizeof sides[k][i].ts, 1, f) == 1 &&
			           fwrite(sides[k][i].id, WM_ID_LEN, 1, f) == 1
			         : fread(&sides[k][i].ts, sizeof sides[k][i].ts, 1, f) == 1 &&
			           fread(sides[k][i].id, WM_ID_LEN, 1, f) == 1;
	if (!ok)
		brg_die(out ? "cannot write sets.bin" : "cannot read sets.bin (generated by another N?)");
}

int main(int argc, char **argv)
{
	char path[4096], why[WM_WHY_LEN];
	size_t n, total, hmax = 0, h[BRG_MAX_LEVELS], nlev, i, l;
	unsigned long per[BRG_MAX_LEVELS];
	struct brg g;
	struct brg_wire *pool, *xa, *xb;
	FILE *f;
	int ref_only = argc > 1 && strcmp(argv[1], "--ref") == 0;

	if (ref_only) {
		argv++;
		argc--;
	}
	if (argc < 4 || argc - 3 > BRG_MAX_LEVELS || (n = strtoul(argv[2], NULL, 10)) < 1000) {
		fprintf(stderr, "usage: bench_repair_gen [--ref] DIR N PERMILLE...   (N >= 1000, up to %d "
		        "levels; --ref: the references alone, from the sets.bin of an earlier run)\n",
		        BRG_MAX_LEVELS);
		return 2;
	}
	nlev = (size_t)argc - 3;
	for (l = 0; l < nlev; l++) {
		char *end = NULL;

		per[l] = strtoul(argv[3 + l], &end, 10);
		if (end == argv[3 + l] || *end != '\0' || per[l] < 1 || per[l] > 500) {
			fprintf(stderr, "bench_repair_gen: PERMILLE must be 1..500\n");
			return 2;
		}
		h[l] = n * per[l] / 2000;
		if (h[l] < 1)
			h[l] = 1;
		if (h[l] > hmax)
			hmax = h[l];
	}
	if (wmc_init() != 0)
		return 1;
	memset(&g, 0, sizeof g);
	if (ref_only) {
		g.ncommon = n - hmax;
		g.cts = calloc(n, sizeof *g.cts);
		g.cid = calloc(n, WM_ID_LEN);
		pool = calloc(hmax, sizeof *pool);
		xa = calloc(hmax, sizeof *xa);
		xb = calloc(hmax, sizeof *xb);
		snprintf(path, sizeof path, "%s/sets.bin", argv[1]);
		if (g.cts == NULL || g.cid == NULL || pool == NULL || xa == NULL || xb == NULL)
			brg_die("out of memory");
		if ((f = fopen(path, "rb")) == NULL)
			brg_die("no sets.bin there");
		brg_sets_io(f, 0, &g, pool, xa, xb, hmax);
		fclose(f);
		for (l = 0; l < nlev; l++) {
			printf("level %lu each_side_only %zu\n", per[l], h[l]);
			brg_reference(&g, pool, h[l], hmax, xa, xb, per[l], "ref", BRG_FRAME_LIMIT);
			brg_reference(&g, pool, h[l], hmax, xa, xb, per[l], "ref512", BRG_FRAME_MAX);
		}
		free(pool);
		free(xa);
		free(xb);
		free(g.cts);
		free(g.cid);
		return 0;
	}
	fx_cast_numbered(&g.c, BRG_RESIDENTS);
	/* common N - hmax (two of them certificates), then the pool and the
	 * two sides' own events, hmax each */
	total = n + 2 * hmax;
	g.t0 = wm_now_ms() - (uint64_t)total * BRG_STEP_MS - 3600000;
	g.cts = calloc(n, sizeof *g.cts);
	g.cid = calloc(n, WM_ID_LEN);
	if ((g.slot = malloc(total * sizeof *g.slot)) == NULL || g.cts == NULL || g.cid == NULL)
		brg_die("out of memory");
	for (i = 0; i < total; i++)
		g.slot[i] = (uint32_t)i;
	for (i = total - 1; i > 0; i--) {
		size_t j = (size_t)(brg_rnd() % (i + 1));
		uint32_t t = g.slot[i];

		g.slot[i] = g.slot[j];
		g.slot[j] = t;
	}

	if (mix_write_network(argv[1], g.c.root, why) != 0) {
		fprintf(stderr, "bench_repair_gen: %s/bench.network: %s\n", argv[1], why);
		return 1;
	}

	snprintf(path, sizeof path, "%s/common.wmb", argv[1]);
	if ((f = fopen(path, "wb")) == NULL)
		brg_die("cannot create common.wmb");
	brg_cert(&g, f, g.c.root, g.c.station, "station", "高埔派出所", g.t0 - 10);
	brg_cert(&g, f, g.c.station, g.c.officer, "officer", "王警官", g.t0 - 9);
	for (i = 2; i < n - hmax; i++) {
		struct brg_wire w;

		brg_next(&g, 1, &w);
		if (fwrite(w.b, 1, w.len, f) != w.len)
			brg_die("write failed");
		free(w.b);
		g.cts[g.ncommon] = w.ts;
		memcpy(g.cid[g.ncommon++], w.id, WM_ID_LEN);
	}
	if (fclose(f) != 0)
		brg_die("close failed");

	pool = calloc(hmax, sizeof *pool);
	xa = calloc(hmax, sizeof *xa);
	xb = calloc(hmax, sizeof *xb);
	if (pool == NULL || xa == NULL || xb == NULL)
		brg_die("out of memory");
	for (i = 0; i < hmax; i++) {
		brg_next(&g, 0, &pool[i]);
		brg_next(&g, 0, &xa[i]);
		brg_next(&g, 0, &xb[i]);
	}
	snprintf(path, sizeof path, "%s/sets.bin", argv[1]);
	if ((f = fopen(path, "wb")) == NULL)
		brg_die("cannot create sets.bin");
	brg_sets_io(f, 1, &g, pool, xa, xb, hmax);
	if (fclose(f) != 0)
		brg_die("close failed");
	for (l = 0; l < nlev; l++) {
		int side;

		for (side = 0; side < 2; side++) {
			snprintf(path, sizeof path, "%s/%c_%lu.wmb", argv[1], side ? 'b' : 'a', per[l]);
			if ((f = fopen(path, "wb")) == NULL)
				brg_die("cannot create a side file");
			/* the pool events both hold at this level, then this side's own */
			brg_write(f, pool, h[l], hmax);
			brg_write(f, side ? xb : xa, 0, h[l]);
			if (fclose(f) != 0)
				brg_die("close failed");
		}
		printf("level %lu each_side_only %zu\n", per[l], h[l]);
		brg_reference(&g, pool, h[l], hmax, xa, xb, per[l], "ref", BRG_FRAME_LIMIT);
		brg_reference(&g, pool, h[l], hmax, xa, xb, per[l], "ref512", BRG_FRAME_MAX);
	}
	printf("events_per_store %zu\n", n);
	printf("common %zu\n", n - hmax);
	printf("pool %zu\n", hmax);
	for (i = 0; i < hmax; i++) {
		free(pool[i].b);
		free(xa[i].b);
		free(xb[i].b);
	}
	free(pool);
	free(xa);
	free(xb);
	free(g.slot);
	free(g.cts);
	free(g.cid);
	fx_cast_free(&g.c);
	return 0;
}
