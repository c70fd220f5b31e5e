/*
 * Unit tests of proto/negentropy: known vectors (computed independently with
 * Python's hashlib and with nostr-tools 2.25.2), client against server
 * in-process over many seeded random sets and frame limits with the exact
 * differences checked (each id reported once) and every message not cut
 * short checked against a peer holding the sender's own set, cut-short
 * messages byte-identical to nostr-tools', a second (scanning) storage
 * backend against the prefix-sum one, and hostile messages: malformed,
 * truncated and mutated.
 *
 * NEG_TEST_SEED=<n> replays a run; the seed is printed when a test fails.
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

#include "negentropy.h"
#include "seeded.h"
#include "wmcrypto.h"

static void rnd_id(uint8_t id[NEG_ID_LEN])
{
	size_t i;

	for (i = 0; i < NEG_ID_LEN; i += 8) {
		uint64_t v = rnd();

		memcpy(id + i, &v, 8);
	}
}

static void unhex(uint8_t *out, size_t len, const char *hex)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(hex_decode(out, len, hex, 2 * len), 0);
}

/* ---- a second backend: no aggregates, every answer by scanning ---- */

struct scan {
	struct neg_item *items;         /* sorted */
	size_t n;
};

static size_t scan_size(void *ctx)
{
	return ((struct scan *)ctx)->n;
}

static int scan_item(void *ctx, size_t i, struct neg_item *out)
{
	struct scan *s = ctx;

	if (i >= s->n)
		return WM_EINVAL;
	*out = s->items[i];
	return 0;
}

static int scan_lower_bound(void *ctx, size_t begin, size_t end, const struct neg_bound *b,
                            size_t *out)
{
	struct scan *s = ctx;

	if (begin > end || end > s->n)
		return WM_EINVAL;
	while (begin < end && neg_item_bound_cmp(&s->items[begin], b) < 0)
		begin++;
	*out = begin;
	return 0;
}

static int scan_fingerprint(void *ctx, size_t begin, size_t end, uint8_t out[NEG_FP_LEN])
{
	struct scan *s = ctx;
	struct neg_acc a;
	size_t i;

	if (begin > end || end > s->n)
		return WM_EINVAL;
	neg_acc_zero(&a);
	for (i = begin; i < end; i++)
		neg_acc_add(&a, s->items[i].id);
	neg_acc_fingerprint(&a, end - begin, out);
	return 0;
}

static const struct neg_storage_ops scan_ops = {
	scan_size, scan_item, scan_lower_bound, scan_fingerprint,
};

/* A backend that fails on demand, as a store backend may. */
static int failing_fingerprint(void *ctx, size_t begin, size_t end, uint8_t out[NEG_FP_LEN])
{
	(void)ctx; (void)begin; (void)end; (void)out;
	return WM_ESTORE;
}

/* ---- helpers ---- */

static struct neg_vec *vec_of(const struct neg_item *items, size_t n)
{
	struct neg_vec *v = NULL;
	size_t i;

	assert_int_equal(neg_vec_new(&v), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(neg_vec_add(v, items[i].ts, items[i].id), 0);
	assert_int_equal(neg_vec_seal(v), 0);
	return v;
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, NEG_ID_LEN);
}

static int item_qcmp(const void *a, const void *b)
{
	return neg_item_cmp(a, b);
}

/* The whole conversation; every message within its side's limit. */
struct run_stats {
	size_t rounds, up, down;
};

/* Does a peer holding exactly the sender's set agree with every range of
 * the sender's message (every fingerprint matches, no id differs)?  True of
 * every message that was not cut short by the frame limit; a cut-short
 * message's closing fingerprint covers less than the range the peer reads
 * (the reference rule, proto/PROTOCOL.md §14), so there it may not hold. */
static int mirror_agrees(const struct neg_storage *same, const uint8_t *m, size_t len)
{
	struct neg *x = NULL;
	struct neg_ids h = { 0 }, nd = { 0 };
	uint8_t *init = NULL, *out = NULL;
	size_t il = 0, ol = 0;
	char why[WM_WHY_LEN];
	int agrees;

	assert_int_equal(neg_new(same, 0, &x), 0);
	assert_int_equal(neg_initiate(x, &init, &il), 0);
	free(init);
	assert_int_equal(neg_reconcile_client(x, m, len, &h, &nd, &out, &ol, why, sizeof why), 0);
	agrees = out == NULL && h.n == 0 && nd.n == 0;
	free(out);
	neg_ids_free(&h);
	neg_ids_free(&nd);
	neg_free(x);
	return agrees;
}

/* Could this message have been cut short by the limit?  Only a message
 * within one range's output (at most ~16 fingerprints, or 31 ids: 1,200
 * bytes) of limit - 200 can. */
static int maybe_cut(uint64_t limit, size_t len)
{
	return limit != 0 && len + 200 + 1300 > limit;
}

static unsigned cut_messages;          /* messages that may have been cut short */

static void run_pair(const struct neg_storage *cs, uint64_t climit,
                     const struct neg_storage *ss, uint64_t slimit,
                     struct neg_ids *have, struct neg_ids *need, struct run_stats *stats)
{
	struct neg *c = NULL, *s = NULL;
	uint8_t *msg = NULL, *ans = NULL;
	size_t len = 0, anslen = 0;
	char why[WM_WHY_LEN] = "";

	memset(stats, 0, sizeof *stats);
	assert_int_equal(neg_new(cs, climit, &c), 0);
	assert_int_equal(neg_new(ss, slimit, &s), 0);
	assert_int_equal(neg_initiate(c, &msg, &len), 0);
	while (msg != NULL) {
		stats->rounds++;
		stats->up += len;
		if (stats->rounds > 1 && climit)
			assert_true(len <= climit);
		if (stats->rounds > 100000)
			fail_msg("no end after 100000 rounds (seed %llu)", (unsigned long long)seed);
		if (maybe_cut(climit, len))
			cut_messages++;
		else if (!mirror_agrees(cs, msg, len))
			fail_msg("client message %zu misdescribes the client's set (seed %llu)",
			         stats->rounds, (unsigned long long)seed);
		if (neg_reconcile_server(s, msg, len, &ans, &anslen, why, sizeof why) != 0)
			fail_msg("server: %s (seed %llu)", why, (unsigned long long)seed);
		free(msg);
		msg = NULL;
		stats->down += anslen;
		if (slimit)
			assert_true(anslen <= slimit);
		if (maybe_cut(slimit, anslen))
			cut_messages++;
		else if (!mirror_agrees(ss, ans, anslen))
			fail_msg("server message %zu misdescribes the server's set (seed %llu)",
			         stats->rounds, (unsigned long long)seed);
		if (neg_reconcile_client(c, ans, anslen, have, need, &msg, &len, why, sizeof why) != 0)
			fail_msg("client: %s (seed %llu)", why, (unsigned long long)seed);
		free(ans);
		ans = NULL;
	}
	neg_free(c);
	neg_free(s);
}

static void expect_ids(struct neg_ids *got, uint8_t (*want)[NEG_ID_LEN], size_t nwant,
                       const char *what)
{
	size_t i;

	if (got->n)
		qsort(got->ids, got->n, NEG_ID_LEN, id_cmp);
	if (nwant)
		qsort(want, nwant, NEG_ID_LEN, id_cmp);
	if (got->n != nwant)
		fail_msg("%s: %zu ids, expected %zu (seed %llu)", what, got->n, nwant,
		         (unsigned long long)seed);
	for (i = 0; i < nwant; i++)
		if (memcmp(got->ids[i], want[i], NEG_ID_LEN) != 0)
			fail_msg("%s: id %zu differs (seed %llu)", what, i, (unsigned long long)seed);
}

/* Random sets A (client) and B (server) from one universe; returns the
 * true differences.  Styles: 0 millisecond timestamps, 1 one timestamp
 * with pairs of ids that differ only in their last byte (bounds of 32
 * bytes), 2 few timestamps, 3 timestamps next to infinity, 4 anywhere,
 * 5 the server is ahead: it alone holds the newest tenth. */
struct sets {
	struct neg_item *a, *b;
	size_t na, nb;
	uint8_t (*have)[NEG_ID_LEN], (*need)[NEG_ID_LEN];
	size_t nhave, nneed;
};

static void make_sets(struct sets *st, size_t n, unsigned pdiff_permille, int style)
{
	struct neg_item prev;
	int prev_side = 0;
	size_t i;

	memset(&prev, 0, sizeof prev);
	memset(st, 0, sizeof *st);
	st->a = calloc(n + 1, sizeof *st->a);
	st->b = calloc(n + 1, sizeof *st->b);
	st->have = calloc(n + 1, NEG_ID_LEN);
	st->need = calloc(n + 1, NEG_ID_LEN);
	assert_non_null(st->a);
	assert_non_null(st->b);
	assert_non_null(st->have);
	assert_non_null(st->need);
	for (i = 0; i < n; i++) {
		struct neg_item it;
		uint64_t r = rnd_below(1000);
		int side = r < pdiff_permille / 2 ? 1 : r < pdiff_permille ? 2 : 0;

		switch (style) {
		case 0: it.ts = 1700000000000ULL + rnd_below(n * 10 + 1); break;  /* ms */
		case 1: it.ts = 42; break;                                        /* all equal */
		case 2: it.ts = rnd_below(4); break;                              /* few values */
		case 3: it.ts = UINT64_MAX - 1 - rnd_below(3); break;             /* near infinity */
		case 5: it.ts = 1700000000000ULL + i; if (i >= n - n / 10) side = 2; break;
		default: it.ts = rnd(); if (it.ts == UINT64_MAX) it.ts--; break;  /* anywhere */
		}
		rnd_id(it.id);
		if (style == 1 && i % 7 == 1) {
			/* only the last byte differs from the previous (random)
			 * item.  Both go to the same side: were they split, the
			 * two differences would cancel in a range's id sum one
			 * time in 256 (the fingerprint is a plain sum). */
			memcpy(it.id, prev.id, NEG_ID_LEN);
			it.id[NEG_ID_LEN - 1] ^= 1;
			side = prev_side;
		}
		prev = it;
		prev_side = side;
		if (side == 1) {
			st->a[st->na++] = it;
			memcpy(st->have[st->nhave++], it.id, NEG_ID_LEN);
		} else if (side == 2) {
			st->b[st->nb++] = it;
			memcpy(st->need[st->nneed++], it.id, NEG_ID_LEN);
		} else {
			st->a[st->na++] = it;
			st->b[st->nb++] = it;
		}
	}
}

static void free_sets(struct sets *st)
{
	free(st->a);
	free(st->b);
	free(st->have);
	free(st->need);
}

/* ---- tests ---- */

static void test_varint(void **state)
{
	static const struct { uint64_t v; const char *hex; } cases[] = {
		{ 0, "00" }, { 1, "01" }, { 127, "7f" }, { 128, "8100" }, { 255, "817f" },
		{ 16383, "ff7f" }, { 16384, "818000" },
		{ UINT64_MAX, "81ffffffffffffffff7f" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t got[10], want[10];
		size_t n = strlen(cases[i].hex) / 2;

		unhex(want, n, cases[i].hex);
		assert_int_equal(neg_varint_encode(got, cases[i].v), n);
		assert_memory_equal(got, want, n);
	}
}

static void test_fingerprint_vectors(void **state)
{
	/* expected values from Python hashlib and from nostr-tools */
	uint8_t id[3][NEG_ID_LEN], fp[NEG_FP_LEN], want[NEG_FP_LEN], ff[NEG_ID_LEN], one[NEG_ID_LEN];
	struct neg_acc a, b;

	(void)state;
	unhex(id[0], 32, "8c5efdfc9bfd85bac0e69c1ab46426e6d8d2d75ae029ed4e1b89d27347075a5a");
	unhex(id[1], 32, "b449712aca68adc76941fd269f36b6bd1ef2ea662e76bf8eb1dbb20386be47bd");
	unhex(id[2], 32, "3af87579738aa3796ef5132d0f5d095fdc113e83bc3289be37502d8875bc5710");

	neg_acc_zero(&a);
	neg_acc_fingerprint(&a, 0, fp);
	unhex(want, 16, "7f9c9e31ac8256ca2f258583df262dbc");
	assert_memory_equal(fp, want, 16);

	neg_acc_add(&a, id[0]);
	neg_acc_add(&a, id[1]);
	neg_acc_add(&a, id[2]);
	neg_acc_fingerprint(&a, 3, fp);
	unhex(want, 16, "1dc21fd9675545f189d7d7f4a83d41fc");
	assert_memory_equal(fp, want, 16);

	/* subtraction undoes addition: (a - id0 - id1) is id2 alone */
	neg_acc_zero(&b);
	neg_acc_add(&b, id[0]);
	neg_acc_add(&b, id[1]);
	neg_acc_sub(&a, &b);
	assert_memory_equal(a.sum, id[2], 32);

	/* carry through all 256 bits wraps to zero */
	memset(ff, 0xff, sizeof ff);
	memset(one, 0, sizeof one);
	one[0] = 1;
	neg_acc_zero(&a);
	neg_acc_add(&a, ff);
	neg_acc_add(&a, one);
	neg_acc_fingerprint(&a, 2, fp);
	unhex(want, 16, "58cc2f44d3a27866874701fbad573da9");
	assert_memory_equal(fp, want, 16);

	/* a two-byte varint count */
	neg_acc_zero(&a);
	neg_acc_fingerprint(&a, 300, fp);
	unhex(want, 16, "b53f5b9f0fd92f5376a1898ad07296ff");
	assert_memory_equal(fp, want, 16);
}

static void item_of_index(struct neg_item *it, unsigned i, uint64_t ts)
{
	char text[32];
	int len = snprintf(text, sizeof text, "watchmesh-%u", i);

	it->ts = ts;
	id_compute(it->id, (const uint8_t *)text, (size_t)len);
}

static void test_initiate_matches_nostr_tools(void **state)
{
	/* nostr-tools 2.25.2 initiate() for the same sets (limit 4096) */
	static const char init3[] =
		"61000002033af87579738aa3796ef5132d0f5d095fdc113e83bc3289be37502d8875bc5710"
		"8c5efdfc9bfd85bac0e69c1ab46426e6d8d2d75ae029ed4e1b89d27347075a5ab449712a"
		"ca68adc76941fd269f36b6bd1ef2ea662e76bf8eb1dbb20386be47bd";
	static const char init40[] =
		"61876a00011dc21fd9675545f189d7d7f4a83d41fc020001caf2a19c7bf62b123832354c"
		"6b828c6e02000191b32819d296136cfcf2248efe8859600200017030b4f498ad03ccacaa"
		"5dfcf6f3bd490200015d328b9585ac9db1e7e66dffe2f28bd7020001236f3c967d728645"
		"44518d1648d59b850200016508bea481f9e3efb00b398a97de5cc602000130748109fbd1"
		"f8ec18fffc7cae9e22fd0101ef01cd7a7a8719bff699b09ce193adba4ba30201780162d9"
		"bb6836c0edd778c134714dcc933102000187de7d634d0651d096bd8528156b88e10101d1"
		"014211acfee0aaee473c38ba8b47cc010002017d01e52b0782a1c53c21846e3dab319bef"
		"c6020001d076ef16d06b23dffd0b1f297cea5c0b0101ff01edb00fbab7969308252774f4"
		"946f2d510000013226e27b391842a0fd81155d5d8f7aaa";
	struct neg_item items[40];
	struct neg_vec *v;
	struct neg_storage st;
	struct neg *n = NULL;
	uint8_t *msg = NULL, want[sizeof init40 / 2];
	size_t len = 0;
	unsigned i;

	(void)state;
	for (i = 0; i < 3; i++)
		item_of_index(&items[i], i, 5);
	v = vec_of(items, 3);
	st = neg_vec_storage(v);
	assert_int_equal(neg_new(&st, 4096, &n), 0);
	assert_int_equal(neg_initiate(n, &msg, &len), 0);
	assert_int_equal(len, strlen(init3) / 2);
	unhex(want, len, init3);
	assert_memory_equal(msg, want, len);
	assert_int_equal(neg_initiate(n, &msg, &len), WM_EINVAL);  /* only once */
	free(msg);
	neg_free(n);
	neg_vec_free(v);

	for (i = 0; i < 40; i++)
		item_of_index(&items[i], i, 1000 + i / 3);
	v = vec_of(items, 40);
	st = neg_vec_storage(v);
	assert_int_equal(neg_new(&st, 4096, &n), 0);
	assert_int_equal(neg_initiate(n, &msg, &len), 0);
	assert_int_equal(len, strlen(init40) / 2);
	unhex(want, len, init40);
	assert_memory_equal(msg, want, len);
	free(msg);
	neg_free(n);
	neg_vec_free(v);
}

static void test_cut_short_matches_nostr_tools(void **state)
{
	/* nostr-tools 2.25.2 as the client (limit 4096) against our server
	 * (limit 8192): the length and SHA-256 of each of its messages, most
	 * of them cut short by the limit (tests/interop checks the same on
	 * random sets; this runs without Node).  A = items 0..2999 but those
	 * with i % 10 == 3, B = all but i % 10 == 7, at ts 1000 + i / 3. */
	static const struct { size_t len; const char *sha; } want[] = {
		{ 316, "7d10511daaa78945e46c318cd3aff457250f00148ade7976887ae43594d9b3d8" },
		{ 3880, "f927ee738cc4fd21642c2fbe85daf9a41c668556b3151f3c9a2fc37283469cd9" },
		{ 3798, "6388a93cfd5f7e993d85d128650bf7249452948db5427432354ea236a7cb5465" },
		{ 318, "f4a49f62549302303b8f4b325460b6ac93990a6211d70a1c03d0b6b8a54a6c66" },
		{ 3661, "5597a681c80992b705e730222beeefeb9443961457a64a0db9717b4148ca3766" },
		{ 3772, "27bc99dcfe2ca0ecace29bc8971c133dd3b01d4c399492a0ccff8dace2d8604e" },
		{ 320, "7314d6f378376c590883775232d6e2dfe0675432e3671a38aabc8d71c747d913" },
		{ 3838, "1995f0e8393274770a62a2ea484acfa09858816cf953d3069b883b2aa6668cc5" },
		{ 3793, "d094d9eb74a23e19167435338d0975cfb06e30354c655426645752d0976d1aeb" },
		{ 320, "bdb6766d8e331cec29c43a9bfb62a90e83cabbeaa70c5fb38d606aae8256fbd9" },
		{ 3852, "eda0fd591bd03f041477f4bdc560d4bba71db171ee72ca82b6942e07c640424d" },
		{ 3795, "0e56d02372c634d4be2f39c64244b0da7466d0c698df8c3a6643bd38cb0036b4" },
		{ 321, "2e18c5bd4b6e77f98c12785935797b99645cd62c705be639415a1a7cdcdf8d11" },
		{ 3790, "6dc50cef7fac5057ca28927644071d06bf82dd948125c011acc507f56adda9ca" },
		{ 3798, "20731f79e372563f391024b998708569070005c3dc837b92a37715cc1c610eab" },
		{ 314, "4e0ad052a80e4861c2a978418f889c34c07c73979bc95c218a1322fad0567e6f" },
		{ 3912, "777e91cbee740a335267736c657a959a25ca1a675fae68d99e276ea87106f30b" },
		{ 3801, "95f479d47f26d84af5d890ce9fe2a6b2eb22ae999307b93de4464d9ba4718e67" },
		{ 317, "c575791539d593535d567307ceb7aab990a091dd817f69ccf362e2fc4cee2706" },
		{ 319, "6652424c2e2216e9b6bed24bddfb434f0c86900aa12468c6e890068bc66e981f" },
	};
	static struct neg_item a[3000], b[3000];
	size_t na = 0, nb = 0, k = 0, cut = 0;
	struct neg_vec *va, *vb;
	struct neg_storage sa, sb;
	struct neg *c = NULL, *s = NULL;
	struct neg_ids have = { 0 }, need = { 0 };
	uint8_t *msg = NULL, *ans = NULL, hash[WM_ID_LEN], w[WM_ID_LEN];
	size_t len = 0, anslen = 0;
	char why[WM_WHY_LEN];
	unsigned i;

	(void)state;
	for (i = 0; i < 3000; i++) {
		if (i % 10 != 3)
			item_of_index(&a[na++], i, 1000 + i / 3);
		if (i % 10 != 7)
			item_of_index(&b[nb++], i, 1000 + i / 3);
	}
	va = vec_of(a, na);
	vb = vec_of(b, nb);
	sa = neg_vec_storage(va);
	sb = neg_vec_storage(vb);
	assert_int_equal(neg_new(&sa, 4096, &c), 0);
	assert_int_equal(neg_new(&sb, 8192, &s), 0);
	assert_int_equal(neg_initiate(c, &msg, &len), 0);
	while (msg != NULL) {
		assert_true(k < sizeof want / sizeof want[0]);
		assert_int_equal(len, want[k].len);
		id_compute(hash, msg, len);
		unhex(w, sizeof w, want[k].sha);
		if (memcmp(hash, w, sizeof w) != 0)
			fail_msg("client message %zu differs from nostr-tools'", k);
		if (len > 4096 - 200 - 1300)
			cut++;
		k++;
		assert_int_equal(neg_reconcile_server(s, msg, len, &ans, &anslen, why, sizeof why), 0);
		free(msg);
		msg = NULL;
		assert_int_equal(neg_reconcile_client(c, ans, anslen, &have, &need, &msg, &len,
		                                      why, sizeof why), 0);
		free(ans);
	}
	assert_int_equal(k, sizeof want / sizeof want[0]);
	assert_true(cut >= 10);
	assert_int_equal(have.n, 300);  /* exact, each once */
	assert_int_equal(need.n, 300);
	for (i = 0; i < have.n; i++) {
		/* have = the i % 10 == 7 items, need = the i % 10 == 3 ones */
		size_t j;
		int found = 0;

		for (j = 0; j < na && !found; j++)
			found = memcmp(a[j].id, have.ids[i], NEG_ID_LEN) == 0;
		assert_true(found);
	}
	neg_ids_free(&have);
	neg_ids_free(&need);
	neg_free(c);
	neg_free(s);
	neg_vec_free(va);
	neg_vec_free(vb);
}

static void test_random_reconcile(void **state)
{
	static const uint64_t limits[] = { 0, 4096, 5000, 8192, 60000 };
	unsigned iter;

	(void)state;
	for (iter = 0; iter < 120; iter++) {
		size_t n = iter % 10 == 0 ? rnd_below(20000) : rnd_below(iter % 3 ? 300 : 3000);
		unsigned pdiff = iter % 7 == 0 ? 1000 : iter % 5 == 0 ? 0 : (unsigned)rnd_below(300) + 1;
		int style = (int)(iter % 6);
		uint64_t cl = limits[rnd_below(5)], sl = limits[rnd_below(5)];
		struct sets st;
		struct neg_vec *va, *vb;
		struct neg_storage sa, sb;
		struct neg_ids have = { 0 }, need = { 0 };
		struct run_stats rs;

		if (getenv("NEG_TEST_VERBOSE"))
			printf("iter %u n %zu pdiff %u style %d limits %llu %llu\n", iter, n,
			       pdiff, style, (unsigned long long)cl, (unsigned long long)sl);
		make_sets(&st, n, pdiff, style);
		va = vec_of(st.a, st.na);
		vb = vec_of(st.b, st.nb);
		sa = neg_vec_storage(va);
		sb = neg_vec_storage(vb);
		run_pair(&sa, cl, &sb, sl, &have, &need, &rs);
		expect_ids(&have, st.have, st.nhave, "have");
		expect_ids(&need, st.need, st.nneed, "need");
		neg_ids_free(&have);
		neg_ids_free(&need);
		neg_vec_free(va);
		neg_vec_free(vb);
		free_sets(&st);
	}
	assert_true(cut_messages > 0);  /* the frame limit was exercised */
}

static void test_scan_backend(void **state)
{
	unsigned iter;

	(void)state;
	for (iter = 0; iter < 20; iter++) {
		struct sets st;
		struct scan sc;
		struct neg_vec *va, *vb;
		struct neg_storage sa, sb, ss;
		struct neg_ids have = { 0 }, need = { 0 }, have2 = { 0 }, need2 = { 0 };
		struct run_stats rs, rs2;
		size_t i, j;

		make_sets(&st, 50 + rnd_below(2000), (unsigned)rnd_below(200) + 1, (int)(iter % 5));
		va = vec_of(st.a, st.na);
		vb = vec_of(st.b, st.nb);
		sa = neg_vec_storage(va);
		sb = neg_vec_storage(vb);
		sc.items = st.a;
		sc.n = st.na;
		qsort(sc.items, sc.n, sizeof *sc.items, item_qcmp);
		ss.ops = &scan_ops;
		ss.ctx = &sc;

		/* both backends give the same fingerprints for every range tried */
		for (i = 0; i < 50; i++) {
			uint8_t f1[NEG_FP_LEN], f2[NEG_FP_LEN];
			size_t b = rnd_below(sc.n + 1), e = b + rnd_below(sc.n - b + 1);

			assert_int_equal(sa.ops->fingerprint(sa.ctx, b, e, f1), 0);
			assert_int_equal(ss.ops->fingerprint(ss.ctx, b, e, f2), 0);
			assert_memory_equal(f1, f2, NEG_FP_LEN);
		}
		assert_int_equal(sa.ops->fingerprint(sa.ctx, 1, 0, (uint8_t[16]){ 0 }), WM_EINVAL);

		run_pair(&ss, 4096, &sb, 0, &have, &need, &rs);
		run_pair(&sa, 4096, &sb, 0, &have2, &need2, &rs2);
		assert_int_equal(rs.rounds, rs2.rounds);
		assert_int_equal(rs.up, rs2.up);
		for (j = 0; j < have.n && j < have2.n; j++)
			assert_memory_equal(have.ids[j], have2.ids[j], NEG_ID_LEN);
		expect_ids(&have, st.have, st.nhave, "have");
		expect_ids(&need, st.need, st.nneed, "need");
		neg_ids_free(&have);
		neg_ids_free(&need);
		neg_ids_free(&have2);
		neg_ids_free(&need2);
		neg_vec_free(va);
		neg_vec_free(vb);
		free_sets(&st);
	}
}

static void test_versions(void **state)
{
	struct neg_item it;
	struct neg_vec *v;
	struct neg_storage st;
	struct neg *srv = NULL, *cli = NULL;
	uint8_t *out = NULL, *msg = NULL;
	size_t outlen = 99, len = 0;
	struct neg_ids have = { 0 }, need = { 0 };
	char why[WM_WHY_LEN] = "";
	static const uint8_t v2[] = { 0x62, 0xaa, 0xbb }, v0[] = { 0x60 }, vf[] = { 0x6f, 0 };

	(void)state;
	item_of_index(&it, 1, 12345);
	v = vec_of(&it, 1);
	st = neg_vec_storage(v);
	assert_int_equal(neg_new(&st, 0, &srv), 0);

	assert_int_equal(neg_reconcile_server(srv, v2, sizeof v2, &out, &outlen, why, sizeof why), 0);
	assert_int_equal(outlen, 1);
	assert_int_equal(out[0], 0x61);
	free(out);
	assert_int_equal(neg_reconcile_server(srv, v0, sizeof v0, &out, &outlen, why, sizeof why), 0);
	assert_int_equal(outlen, 1);
	free(out);
	assert_int_equal(neg_reconcile_server(srv, vf, sizeof vf, &out, &outlen, why, sizeof why), 0);
	assert_int_equal(outlen, 1);
	free(out);

	/* a client is told it speaks the wrong version */
	assert_int_equal(neg_new(&st, 0, &cli), 0);
	assert_int_equal(neg_reconcile_client(cli, v2, sizeof v2, &have, &need, &msg, &len,
	                                      why, sizeof why), WM_EINVAL);  /* not initiated */
	assert_int_equal(neg_initiate(cli, &msg, &len), 0);
	free(msg);
	msg = NULL;
	why[0] = '\0';
	assert_int_equal(neg_reconcile_client(cli, v2, sizeof v2, &have, &need, &msg, &len,
	                                      why, sizeof why), WM_EVERSION);
	assert_non_null(strstr(why, "version 2"));
	assert_null(msg);
	/* roles are fixed */
	assert_int_equal(neg_reconcile_server(cli, v2, sizeof v2, &out, &outlen, why, sizeof why),
	                 WM_EINVAL);
	neg_free(cli);
	neg_free(srv);
	neg_vec_free(v);
}

static void test_malformed(void **state)
{
	static const char *bad[] = {
		"",                                     /* empty */
		"5f",                                   /* not a version byte */
		"70",
		"ff",
		"6100",                                 /* bound without id length */
		"61000021",                             /* id prefix of 33 bytes */
		"610000",                               /* no mode */
		"6100000a",                             /* unknown mode */
		"61000003",                             /* unknown mode */
		"61000080",                             /* mode varint cut short */
		"610000ffffffffffffffffffff7f",         /* mode varint over 64 bits */
		"6100000100112233",                     /* fingerprint cut short */
		"610000020100",                         /* IdList longer than the message */
		"61000002ffffffffffffffff7f",           /* IdList count absurd */
		"61ffffffffffffffffffff7f000000",       /* timestamp varint over 64 bits */
	};
	struct neg_item it;
	struct neg_vec *v;
	struct neg_storage st;
	struct neg *srv = NULL, *cli = NULL;
	struct neg_ids have = { 0 }, need = { 0 };
	uint8_t buf[64], *init = NULL;
	size_t i, initlen;

	(void)state;
	item_of_index(&it, 7, 1);
	v = vec_of(&it, 1);
	st = neg_vec_storage(v);
	assert_int_equal(neg_new(&st, 0, &srv), 0);
	assert_int_equal(neg_new(&st, 0, &cli), 0);
	assert_int_equal(neg_initiate(cli, &init, &initlen), 0);
	free(init);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = strlen(bad[i]) / 2;
		uint8_t *out = (uint8_t *)buf;
		size_t outlen = 12345;
		char why[WM_WHY_LEN] = "";
		int rc;

		unhex(buf, len, bad[i]);
		rc = neg_reconcile_server(srv, buf, len, &out, &outlen, why, sizeof why);
		if (rc != WM_EPROTO)
			fail_msg("server accepted malformed message '%s' (rc %d)", bad[i], rc);
		assert_ptr_equal(out, buf);     /* out-parameters untouched */
		assert_int_equal(outlen, 12345);
		assert_true(strlen(why) > 10);

		why[0] = '\0';
		rc = neg_reconcile_client(cli, buf, len, &have, &need, &out, &outlen, why, sizeof why);
		if (rc != WM_EPROTO)
			fail_msg("client accepted malformed message '%s' (rc %d)", bad[i], rc);
		assert_true(strlen(why) > 10);
		assert_int_equal(have.n, 0);
		assert_int_equal(need.n, 0);
	}

	/* ids learned from the first ranges of a message that then turns out
	 * malformed are not reported */
	{
		uint8_t m[1 + 3 + 1 + 32 + 2];
		uint8_t *out = NULL;
		size_t outlen = 0;
		char why[WM_WHY_LEN];

		m[0] = 0x61;
		m[1] = 0x03; m[2] = 0x00; m[3] = 0x02;  /* bound ts 2, IdList */
		m[4] = 0x01;
		memset(m + 5, 0xab, 32);                /* an id we lack */
		m[37] = 0x00; m[38] = 0x00;             /* infinity bound, no mode */
		assert_int_equal(neg_reconcile_client(cli, m, sizeof m, &have, &need, &out, &outlen,
		                                      why, sizeof why), WM_EPROTO);
		assert_int_equal(need.n, 0);
		assert_int_equal(neg_reconcile_client(cli, m, sizeof m - 2, &have, &need, &out,
		                                      &outlen, why, sizeof why), 0);
		assert_int_equal(need.n, 1);    /* reported once the message is well-formed */
		assert_memory_equal(need.ids[0], m + 5, 32);
		assert_int_equal(have.n, 1);    /* ours (ts 1) is in [0, 2) and not theirs */
		assert_memory_equal(have.ids[0], it.id, 32);
		assert_null(out);               /* nothing left to ask */
		free(out);
	}
	neg_ids_free(&have);
	neg_ids_free(&need);
	neg_free(cli);
	neg_free(srv);
	neg_vec_free(v);
}

static void test_mutated_messages(void **state)
{
	/* every prefix and many random corruptions of real messages: each call
	 * either succeeds or fails with a reason; the sanitizer build checks
	 * that nothing is read out of bounds */
	struct sets st;
	struct neg_vec *va, *vb;
	struct neg_storage sa, sb;
	struct neg *c = NULL, *s = NULL;
	uint8_t *msg = NULL, *ans = NULL;
	size_t len = 0, anslen = 0, round = 0;
	struct neg_ids have = { 0 }, need = { 0 };
	char why[WM_WHY_LEN];

	(void)state;
	make_sets(&st, 3000, 40, 2);
	va = vec_of(st.a, st.na);
	vb = vec_of(st.b, st.nb);
	sa = neg_vec_storage(va);
	sb = neg_vec_storage(vb);
	assert_int_equal(neg_new(&sa, 4096, &c), 0);
	assert_int_equal(neg_new(&sb, 4096, &s), 0);
	assert_int_equal(neg_initiate(c, &msg, &len), 0);
	while (msg != NULL && round++ < 50) {
		size_t cut, k;
		uint8_t *copy = malloc(len + 1);

		assert_non_null(copy);
		for (cut = 0; cut <= len; cut += 1 + cut / 64) {
			struct neg *s2 = NULL;
			uint8_t *o = NULL;
			size_t ol = 0;
			int rc;

			assert_int_equal(neg_new(&sb, 4096, &s2), 0);
			memcpy(copy, msg, cut);
			why[0] = '\0';
			rc = neg_reconcile_server(s2, copy, cut, &o, &ol, why, sizeof why);
			if (rc == 0) {
				assert_true(ol >= 1 && ol <= 4096);
				free(o);
			} else {
				assert_int_equal(rc, WM_EPROTO);
				assert_true(why[0] != '\0');
			}
			neg_free(s2);
		}
		for (k = 0; k < 200; k++) {
			struct neg *s2 = NULL;
			uint8_t *o = NULL;
			size_t ol = 0, flips = 1 + rnd_below(4), f;
			int rc;

			assert_int_equal(neg_new(&sb, 4096, &s2), 0);
			memcpy(copy, msg, len);
			for (f = 0; f < flips; f++)
				copy[rnd_below(len)] ^= (uint8_t)(1u << rnd_below(8));
			rc = neg_reconcile_server(s2, copy, len, &o, &ol, why, sizeof why);
			if (rc == 0)
				free(o);
			else
				assert_true(rc == WM_EPROTO);
			neg_free(s2);
		}
		free(copy);

		assert_int_equal(neg_reconcile_server(s, msg, len, &ans, &anslen, why, sizeof why), 0);
		free(msg);
		msg = NULL;
		/* the client side: mutated answers, each fed to a fresh client */
		{
			uint8_t *bad = malloc(anslen);
			struct neg_ids h2 = { 0 }, n2 = { 0 };
			uint8_t *o = NULL;
			size_t ol = 0;
			struct neg *c2 = NULL;

			assert_non_null(bad);
			for (k = 0; k < 100; k++) {
				int rc;

				assert_int_equal(neg_new(&sa, 4096, &c2), 0);
				assert_int_equal(neg_initiate(c2, &o, &ol), 0);
				free(o);
				o = NULL;
				memcpy(bad, ans, anslen);
				bad[rnd_below(anslen)] ^= (uint8_t)(1u << rnd_below(8));
				rc = neg_reconcile_client(c2, bad, rnd_below(anslen + 1), &h2, &n2, &o, &ol,
				                          why, sizeof why);
				if (rc == 0)
					free(o);
				else
					assert_true(rc == WM_EPROTO || rc == WM_EVERSION);
				o = NULL;
				neg_free(c2);
			}
			neg_ids_free(&h2);
			neg_ids_free(&n2);
			free(bad);
		}
		assert_int_equal(neg_reconcile_client(c, ans, anslen, &have, &need, &msg, &len,
		                                      why, sizeof why), 0);
		free(ans);
		ans = NULL;
	}
	assert_null(msg);
	expect_ids(&have, st.have, st.nhave, "have");
	expect_ids(&need, st.need, st.nneed, "need");
	neg_ids_free(&have);
	neg_ids_free(&need);
	neg_free(c);
	neg_free(s);
	neg_vec_free(va);
	neg_vec_free(vb);
	free_sets(&st);
}

static void test_api_edges(void **state)
{
	struct neg_vec *v = NULL;
	struct neg_storage st, fst;
	struct neg *n = NULL;
	uint8_t id[NEG_ID_LEN] = { 1 }, *msg = NULL;
	size_t len = 0;
	struct neg_storage_ops fops;
	struct neg_item items[40];
	unsigned i;

	(void)state;
	neg_free(NULL);
	neg_vec_free(NULL);
	neg_ids_free(NULL);
	assert_int_equal(neg_vec_new(&v), 0);
	assert_int_equal(neg_vec_add(v, NEG_TS_INFINITY, id), WM_EINVAL);
	assert_int_equal(neg_vec_add(v, 5, id), 0);
	assert_int_equal(neg_vec_add(v, 5, id), 0);
	assert_int_equal(neg_vec_seal(v), WM_EDUP);
	neg_vec_free(v);

	assert_int_equal(neg_vec_new(&v), 0);
	assert_int_equal(neg_vec_add(v, 5, id), 0);
	assert_int_equal(neg_vec_seal(v), 0);
	assert_int_equal(neg_vec_seal(v), WM_EINVAL);
	assert_int_equal(neg_vec_add(v, 6, id), WM_EINVAL);
	assert_int_equal(neg_vec_size(v), 1);
	st = neg_vec_storage(v);
	assert_int_equal(neg_new(&st, 4095, &n), WM_EINVAL);
	assert_int_equal(neg_new(&st, 1, &n), WM_EINVAL);
	assert_null(n);
	assert_int_equal(neg_new(&st, 4096, &n), 0);
	neg_free(n);
	neg_vec_free(v);

	/* a backend error reaches the caller */
	for (i = 0; i < 40; i++)
		item_of_index(&items[i], i, i);
	v = vec_of(items, 40);
	st = neg_vec_storage(v);
	fops = *st.ops;
	fops.fingerprint = failing_fingerprint;
	fst.ops = &fops;
	fst.ctx = st.ctx;
	assert_int_equal(neg_new(&fst, 0, &n), 0);
	assert_int_equal(neg_initiate(n, &msg, &len), WM_ESTORE);
	assert_null(msg);
	assert_int_equal(neg_initiate(n, &msg, &len), WM_ESTORE);  /* not marked initiated */
	neg_free(n);
	neg_vec_free(v);
}

static void test_measure_100k(void **state)
{
	/* the figure for the report: two 100,000-item sets differing by 1% */
	struct sets st;
	struct neg_vec *va, *vb;
	struct neg_storage sa, sb;
	struct neg_ids have = { 0 }, need = { 0 };
	struct run_stats rs;
	struct timespec t0, t1;

	(void)state;
	make_sets(&st, 100500, 10, 0);  /* 0.5% only on A, 0.5% only on B */
	va = vec_of(st.a, st.na);
	vb = vec_of(st.b, st.nb);
	sa = neg_vec_storage(va);
	sb = neg_vec_storage(vb);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_pair(&sa, 60000, &sb, 60000, &have, &need, &rs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("100k sets (%zu/%zu items, %zu+%zu differences), limit 60000: %zu round trips, "
	              "%zu bytes up, %zu down, %.1f ms in-process\n",
	              st.na, st.nb, st.nhave, st.nneed, rs.rounds, rs.up, rs.down,
	              (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	expect_ids(&have, st.have, st.nhave, "have");
	expect_ids(&need, st.need, st.nneed, "need");
	neg_ids_free(&have);
	neg_ids_free(&need);
	neg_vec_free(va);
	neg_vec_free(vb);
	free_sets(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint),
		cmocka_unit_test(test_fingerprint_vectors),
		cmocka_unit_test(test_initiate_matches_nostr_tools),
		cmocka_unit_test(test_cut_short_matches_nostr_tools),
		cmocka_unit_test(test_random_reconcile),
		cmocka_unit_test(test_scan_backend),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_mutated_messages),
		cmocka_unit_test(test_api_edges),
		cmocka_unit_test(test_measure_100k),
	};

	if (wmc_init() < 0)
		return 1;
	seeded_start("NEG_TEST_SEED", "negentropy tests");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
