/*
 * Unit tests for crypto/handshake: the four-message handshake in memory in
 * both roles, every way a message can be wrong (other network, other key,
 * truncated, any byte flipped, replayed from an earlier session, dated
 * outside the window, made for another responder, out of turn), the replay
 * cache saved and loaded as after a restart, and the encrypted frames that
 * follow (round trip, 1 MiB, modified, reordered, truncated, oversize,
 * closing frame).  The first message is rebuilt here from proto/PROTOCOL.md
 * §12 with libsodium directly, so the test checks the documented
 * construction and not just self-consistency.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "error.h"
#include "handshake.h"
#include "wmcrypto.h"

static const uint8_t netsec_a[WM_SECRET_LEN] = { 0x11, 0x22, 0x33, 0x44 };
static const uint8_t netsec_b[WM_SECRET_LEN] = { 0x11, 0x22, 0x33, 0x45 };

#define NOW 1700000000000ull   /* both clocks, unless a test moves one */

struct fixture {
	struct key *ka, *kb, *kc;
};

static struct key *seed_key(uint8_t b)
{
	uint8_t seed[32];
	struct key *k = NULL;

	memset(seed, b, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &k), 0);
	return k;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(wmc_init(), 0);
	f->ka = seed_key(0xa1);
	f->kb = seed_key(0xb2);
	f->kc = seed_key(0xc3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	key_free(f->ka);
	key_free(f->kb);
	key_free(f->kc);
	free(f);
	return 0;
}

static struct hs *mk_at(int initiator, const struct key *self, const uint8_t *netsec,
                        const uint8_t *expected, struct hs_replay *replay, uint64_t now)
{
	struct hs_params p = { self, netsec, expected, replay, now, NULL, 0, 0 };
	struct hs *hs = NULL;

	assert_int_equal(hs_new(initiator, &p, &hs), 0);
	assert_non_null(hs);
	return hs;
}

static struct hs *mk(int initiator, const struct key *self, const uint8_t *netsec,
                     const uint8_t *expected, struct hs_replay *replay)
{
	return mk_at(initiator, self, netsec, expected, replay, NOW);
}

/* The four messages of one run, for replays and mutations. */
struct run {
	uint8_t m[5][HS_MSG_MAX];
	size_t len[5];
};

/* Runs a complete handshake; returns both sides (done) and records it. */
static void run_ok(const struct key *ki, const struct key *kr, const uint8_t *expect_r,
                   struct hs **pi, struct hs **pr, struct run *rec)
{
	struct hs *i = mk(1, ki, netsec_a, expect_r, NULL);
	struct hs *r = mk(0, kr, netsec_a, NULL, NULL);
	struct run local;
	char why[WM_WHY_LEN] = "";

	if (rec == NULL)
		rec = &local;
	assert_int_equal(hs_want(i), 0);
	assert_int_equal(hs_want(r), HS_MSG1_LEN);
	assert_int_equal(hs_start(i, rec->m[1], &rec->len[1]), 0);
	assert_int_equal(rec->len[1], HS_MSG1_LEN);
	assert_int_equal(rec->m[1][0], HS_VERSION);
	assert_int_equal(hs_want(i), HS_MSG2_LEN);

	assert_int_equal(hs_recv(r, rec->m[1], rec->len[1], rec->m[2], &rec->len[2], why), 0);
	assert_int_equal(rec->len[2], HS_MSG2_LEN);
	assert_int_equal(hs_want(r), HS_MSG3_LEN);
	assert_int_equal(hs_recv(i, rec->m[2], rec->len[2], rec->m[3], &rec->len[3], why), 0);
	assert_int_equal(rec->len[3], HS_MSG3_LEN);
	assert_null(hs_remote_pub(r));
	assert_int_equal(hs_recv(r, rec->m[3], rec->len[3], rec->m[4], &rec->len[4], why), 0);
	assert_int_equal(rec->len[4], HS_MSG4_LEN);
	assert_true(hs_done(r));
	assert_false(hs_done(i));
	rec->len[0] = 99;
	assert_int_equal(hs_recv(i, rec->m[4], rec->len[4], rec->m[0], &rec->len[0], why), 0);
	assert_int_equal(rec->len[0], 0);
	assert_true(hs_done(i));
	assert_int_equal(hs_want(i), 0);
	assert_int_equal(hs_want(r), 0);
	*pi = i;
	*pr = r;
}

/* --- handshake ------------------------------------------------------------------------ */

static void test_full_handshake(void **state)
{
	struct fixture *f = *state;
	struct hs *i, *r;
	struct run rec;

	run_ok(f->ka, f->kb, f->kb->pub, &i, &r, &rec);
	assert_memory_equal(hs_remote_pub(i), f->kb->pub, WM_PUB_LEN);
	assert_memory_equal(hs_remote_pub(r), f->ka->pub, WM_PUB_LEN);
	/* identities never appear in clear on the wire */
	for (int m = 1; m <= 4; m++)
		for (size_t o = 0; o + 8 <= rec.len[m]; o++) {
			assert_memory_not_equal(rec.m[m] + o, f->ka->pub, 8);
			assert_memory_not_equal(rec.m[m] + o, f->kb->pub, 8);
		}
	hs_free(i);
	hs_free(r);

	/* and without an expected key, the other way round */
	run_ok(f->kb, f->ka, NULL, &i, &r, NULL);
	assert_memory_equal(hs_remote_pub(i), f->ka->pub, WM_PUB_LEN);
	assert_memory_equal(hs_remote_pub(r), f->kb->pub, WM_PUB_LEN);
	hs_free(i);
	hs_free(r);
}

/* Message 1 as proto/PROTOCOL.md §12 builds it, from E_I, the time and the
 * responder's key (32 zero bytes for any member). */
static void doc_msg1(const uint8_t e_i[32], uint64_t t, const uint8_t *to, uint8_t m1[HS_MSG1_LEN])
{
	static const uint8_t zeros[32];
	uint8_t mk_[32], mask[32];
	crypto_generichash_state st;

	crypto_generichash(mk_, 32, (const uint8_t *)"watchmesh hs2 mac", 17, netsec_a, 32);
	crypto_generichash_init(&st, mk_, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)"watchmesh hs2 time", 18);
	crypto_generichash_update(&st, e_i, 32);
	crypto_generichash_final(&st, mask, 32);
	m1[0] = 2;
	memcpy(m1 + 1, e_i, 32);
	for (int b = 0; b < 8; b++)
		m1[33 + b] = (uint8_t)(t >> (56 - 8 * b)) ^ mask[b];
	crypto_generichash_init(&st, mk_, 32, 32);
	crypto_generichash_update(&st, m1, 41);
	crypto_generichash_update(&st, to != NULL ? to : zeros, 32);
	crypto_generichash_final(&st, m1 + 41, 32);
}

static void test_msg1_matches_doc(void **state)
{
	struct fixture *f = *state;
	struct hs *i = mk(1, f->ka, netsec_a, NULL, NULL);
	uint8_t m1[HS_MSG_MAX], doc[HS_MSG1_LEN];
	size_t len;

	assert_int_equal(hs_start(i, m1, &len), 0);
	assert_int_equal(len, 73);
	doc_msg1(m1 + 1, NOW, NULL, doc);
	assert_memory_equal(m1, doc, HS_MSG1_LEN);
	hs_free(i);

	/* made for one responder: its key is under the MAC */
	i = mk(1, f->ka, netsec_a, f->kb->pub, NULL);
	assert_int_equal(hs_start(i, m1, &len), 0);
	doc_msg1(m1 + 1, NOW, f->kb->pub, doc);
	assert_memory_equal(m1, doc, HS_MSG1_LEN);
	hs_free(i);
}

static void test_wrong_network_secret(void **state)
{
	struct fixture *f = *state;
	struct hs *i = mk(1, f->ka, netsec_a, NULL, NULL);
	struct hs *r = mk(0, f->kb, netsec_b, NULL, NULL);
	uint8_t m1[HS_MSG_MAX], m2[HS_MSG_MAX];
	size_t l1, l2 = 12345;
	char why[WM_WHY_LEN] = "";

	assert_int_equal(hs_start(i, m1, &l1), 0);
	assert_int_equal(hs_recv(r, m1, l1, m2, &l2, why), WM_ECRYPTO);
	assert_int_equal(l2, 12345);   /* silent: nothing to send */
	assert_non_null(strstr(why, "network secret does not match"));
	assert_int_equal(hs_want(r), 0);
	assert_false(hs_done(r));
	hs_free(i);
	hs_free(r);

	/* a responder with the right secret answering an initiator with another */
	i = mk(1, f->ka, netsec_b, NULL, NULL);
	r = mk(0, f->kb, netsec_a, NULL, NULL);
	assert_int_equal(hs_start(i, m1, &l1), 0);
	/* forge: the responder sees a message it cannot verify either way */
	assert_int_equal(hs_recv(r, m1, l1, m2, &l2, why), WM_ECRYPTO);
	hs_free(r);
	/* a message 2 from the other network does not verify at the initiator */
	r = mk(0, f->kb, netsec_a, NULL, NULL);
	{
		struct hs *i2 = mk(1, f->kc, netsec_a, NULL, NULL);
		uint8_t m1b[HS_MSG_MAX], m2b[HS_MSG_MAX], m3[HS_MSG_MAX];
		size_t l1b, l2b, l3;

		assert_int_equal(hs_start(i2, m1b, &l1b), 0);
		assert_int_equal(hs_recv(r, m1b, l1b, m2b, &l2b, why), 0);
		hs_free(i2);
		/* i (netsec_b) gets an answer from the netsec_a network */
		assert_int_equal(hs_recv(i, m2b, l2b, m3, &l3, why), WM_ECRYPTO);
		assert_non_null(strstr(why, "network secret does not match"));
	}
	hs_free(i);
	hs_free(r);
}

static void test_wrong_expected_key(void **state)
{
	struct fixture *f = *state;
	struct hs *i = mk(1, f->ka, netsec_a, f->kc->pub, NULL);
	struct hs *r = mk(0, f->kb, netsec_a, NULL, NULL);
	uint8_t m[5][HS_MSG_MAX];
	size_t l[5];
	char why[WM_WHY_LEN] = "";

	/* message 1 is made for kc: kb does not answer it (an initiator's own
	 * check of the key in message 4 stays, against a member that answers
	 * regardless) */
	assert_int_equal(hs_start(i, m[1], &l[1]), 0);
	l[2] = 9;
	assert_int_equal(hs_recv(r, m[1], l[1], m[2], &l[2], why), WM_ECRYPTO);
	assert_int_equal(l[2], 9);
	assert_non_null(strstr(why, "made for another node"));
	assert_false(hs_done(i));
	assert_null(hs_remote_pub(i));
	hs_free(i);
	hs_free(r);

	/* a responder that expects someone else refuses at message 3 */
	i = mk(1, f->ka, netsec_a, NULL, NULL);
	r = mk(0, f->kb, netsec_a, f->kc->pub, NULL);
	assert_int_equal(hs_start(i, m[1], &l[1]), 0);
	assert_int_equal(hs_recv(r, m[1], l[1], m[2], &l[2], why), 0);
	assert_int_equal(hs_recv(i, m[2], l[2], m[3], &l[3], why), 0);
	assert_int_equal(hs_recv(r, m[3], l[3], m[4], &l[4], why), WM_EREJECTED);
	assert_non_null(strstr(why, "expected"));
	hs_free(i);
	hs_free(r);
}

static void test_self_connection_refused(void **state)
{
	struct fixture *f = *state;
	struct hs *i = mk(1, f->ka, netsec_a, NULL, NULL);
	struct hs *r = mk(0, f->ka, netsec_a, NULL, NULL);
	uint8_t m[5][HS_MSG_MAX];
	size_t l[5];
	char why[WM_WHY_LEN] = "";

	assert_int_equal(hs_start(i, m[1], &l[1]), 0);
	assert_int_equal(hs_recv(r, m[1], l[1], m[2], &l[2], why), 0);
	assert_int_equal(hs_recv(i, m[2], l[2], m[3], &l[3], why), 0);
	assert_int_equal(hs_recv(r, m[3], l[3], m[4], &l[4], why), WM_EREJECTED);
	assert_non_null(strstr(why, "itself"));
	hs_free(i);
	hs_free(r);
}

/* Drive a fresh handshake up to the point where `which` (1..4) is received,
 * feeding `msg` instead of the genuine message.  Returns hs_recv's result. */
static int feed_at(const struct fixture *f, int which, const uint8_t *msg, size_t len,
                   struct hs_replay *replay, char why[WM_WHY_LEN])
{
	struct hs *i = mk(1, f->ka, netsec_a, NULL, NULL);
	struct hs *r = mk(0, f->kb, netsec_a, NULL, replay);
	uint8_t m[5][HS_MSG_MAX], out[HS_MSG_MAX];
	size_t l[5], outlen = 777;
	int rc;

	assert_int_equal(hs_start(i, m[1], &l[1]), 0);
	if (which == 1) {
		rc = hs_recv(r, msg, len, out, &outlen, why);
		goto out;
	}
	assert_int_equal(hs_recv(r, m[1], l[1], m[2], &l[2], why), 0);
	if (which == 2) {
		rc = hs_recv(i, msg, len, out, &outlen, why);
		goto out;
	}
	assert_int_equal(hs_recv(i, m[2], l[2], m[3], &l[3], why), 0);
	if (which == 3) {
		rc = hs_recv(r, msg, len, out, &outlen, why);
		goto out;
	}
	assert_int_equal(hs_recv(r, m[3], l[3], m[4], &l[4], why), 0);
	rc = hs_recv(i, msg, len, out, &outlen, why);
out:
	if (rc != 0) {
		assert_int_equal(outlen, 777);   /* nothing to send after a failure */
		assert_false(hs_done(i) && hs_done(r));
		assert_true(why[0] != 0);
	}
	hs_free(i);
	hs_free(r);
	return rc;
}

static void test_truncated_and_flipped(void **state)
{
	struct fixture *f = *state;
	struct hs *i, *r;
	struct run rec;
	uint8_t buf[HS_MSG_MAX + 1];
	char why[WM_WHY_LEN];
	int which;
	size_t b;
	int bit;

	run_ok(f->ka, f->kb, NULL, &i, &r, &rec);
	hs_free(i);
	hs_free(r);
	for (which = 1; which <= 4; which++) {
		size_t len = rec.len[which];

		/* truncated at every length, and one byte too long */
		for (b = 0; b < len; b++) {
			memcpy(buf, rec.m[which], len);
			why[0] = 0;
			assert_int_equal(feed_at(f, which, buf, b, NULL, why), WM_ETRUNCATED);
			assert_non_null(strstr(why, "bytes, expected"));
		}
		memcpy(buf, rec.m[which], len);
		buf[len] = 0;
		assert_int_equal(feed_at(f, which, buf, len + 1, NULL, why), WM_ETRUNCATED);

		/* every byte flipped (one bit each, varying), and the version byte */
		for (b = 0; b < len; b++) {
			bit = (int)(b % 8);
			memcpy(buf, rec.m[which], len);
			buf[b] ^= (uint8_t)(1u << bit);
			why[0] = 0;
			int rc = feed_at(f, which, buf, len, NULL, why);
			assert_int_not_equal(rc, 0);
			if (b == 0)
				assert_int_equal(rc, WM_EVERSION);
			else
				assert_int_equal(rc, WM_ECRYPTO);
		}
	}
}

/* Messages recorded from one session are useless in another. */
static void test_replays(void **state)
{
	struct fixture *f = *state;
	struct hs *i, *r;
	struct run old;
	struct hs_replay *cache = NULL;
	uint8_t out[HS_MSG_MAX], m[5][HS_MSG_MAX];
	size_t outlen, l[5];
	char why[WM_WHY_LEN] = "";

	run_ok(f->ka, f->kb, NULL, &i, &r, &old);
	hs_free(i);
	hs_free(r);

	/* old message 1 without a replay cache: answered, but old message 3 then fails */
	r = mk(0, f->kb, netsec_a, NULL, NULL);
	assert_int_equal(hs_recv(r, old.m[1], old.len[1], out, &outlen, why), 0);
	assert_memory_not_equal(out, old.m[2], HS_MSG2_LEN);   /* fresh ephemeral */
	assert_int_equal(hs_recv(r, old.m[3], old.len[3], out, &outlen, why), WM_ECRYPTO);
	assert_non_null(strstr(why, "message 3 does not decrypt"));
	hs_free(r);

	/* with a cache, a replayed message 1 gets no answer at all */
	assert_int_equal(hs_replay_new(4, &cache), 0);
	r = mk(0, f->kb, netsec_a, NULL, cache);
	assert_int_equal(hs_recv(r, old.m[1], old.len[1], out, &outlen, why), 0);
	hs_free(r);
	r = mk(0, f->kb, netsec_a, NULL, cache);
	outlen = 5;
	assert_int_equal(hs_recv(r, old.m[1], old.len[1], out, &outlen, why), WM_ECRYPTO);
	assert_int_equal(outlen, 5);
	assert_non_null(strstr(why, "replay"));
	hs_free(r);
	/* the cache is a ring: after 4 others the old one is forgotten (and the
	 * session still cannot complete) */
	for (int n = 0; n < 4; n++) {
		struct hs *x = mk(1, f->kc, netsec_a, NULL, NULL);
		uint8_t m1[HS_MSG_MAX];
		size_t ml;

		assert_int_equal(hs_start(x, m1, &ml), 0);
		r = mk(0, f->kb, netsec_a, NULL, cache);
		assert_int_equal(hs_recv(r, m1, ml, out, &outlen, why), 0);
		hs_free(r);
		hs_free(x);
	}
	r = mk(0, f->kb, netsec_a, NULL, cache);
	assert_int_equal(hs_recv(r, old.m[1], old.len[1], out, &outlen, why), 0);
	hs_free(r);
	hs_replay_free(cache);

	/* old message 2 to a new initiator */
	assert_int_equal(feed_at(f, 2, old.m[2], old.len[2], NULL, why), WM_ECRYPTO);
	/* old message 3 and 4 into new sessions */
	assert_int_equal(feed_at(f, 3, old.m[3], old.len[3], NULL, why), WM_ECRYPTO);
	assert_int_equal(feed_at(f, 4, old.m[4], old.len[4], NULL, why), WM_ECRYPTO);

	/* a session's own message fed twice: out of turn after completion */
	i = mk(1, f->ka, netsec_a, NULL, NULL);
	r = mk(0, f->kb, netsec_a, NULL, NULL);
	assert_int_equal(hs_start(i, m[1], &l[1]), 0);
	assert_int_equal(hs_recv(r, m[1], l[1], m[2], &l[2], why), 0);
	assert_int_equal(hs_recv(r, m[1], l[1], m[2], &l[2], why), WM_ETRUNCATED);   /* 1 where 3 is due */
	hs_free(i);
	hs_free(r);
}

/* Message 1 is answered only within HS_WINDOW_MS of the responder's clock,
 * either way, to the millisecond. */
static void test_time_window(void **state)
{
	struct fixture *f = *state;
	static const int64_t offs[] = { 0, -(int64_t)HS_WINDOW_MS, (int64_t)HS_WINDOW_MS,
	                                -(int64_t)HS_WINDOW_MS - 1, (int64_t)HS_WINDOW_MS + 1,
	                                -86400000, 86400000 };
	uint8_t m1[HS_MSG_MAX], out[HS_MSG_MAX];
	size_t l1, ol;
	char why[WM_WHY_LEN];

	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		struct hs *i = mk_at(1, f->ka, netsec_a, NULL, NULL, (uint64_t)((int64_t)NOW + offs[k]));
		struct hs *r = mk(0, f->kb, netsec_a, NULL, NULL);
		int rc, want = offs[k] < -(int64_t)HS_WINDOW_MS ? WM_EEXPIRED
		             : offs[k] > (int64_t)HS_WINDOW_MS ? WM_EFUTURE : 0;

		assert_int_equal(hs_start(i, m1, &l1), 0);
		why[0] = 0;
		ol = 9;
		rc = hs_recv(r, m1, l1, out, &ol, why);
		assert_int_equal(rc, want);
		if (want != 0) {
			assert_int_equal(ol, 9);   /* not answered */
			assert_non_null(strstr(why, offs[k] < 0 ? "behind" : "ahead of"));
			assert_non_null(strstr(why, "more than 600 s"));
		}
		hs_free(i);
		hs_free(r);
	}
}

/* A message 1 made for one responder's key is answered by that responder
 * only; one made for any member by every member. */
static void test_bound_to_responder(void **state)
{
	struct fixture *f = *state;
	uint8_t m1[HS_MSG_MAX], out[HS_MSG_MAX];
	size_t l1, ol;
	char why[WM_WHY_LEN] = "";
	struct hs *i = mk(1, f->ka, netsec_a, f->kb->pub, NULL);
	struct hs *r;

	assert_int_equal(hs_start(i, m1, &l1), 0);
	hs_free(i);
	r = mk(0, f->kc, netsec_a, NULL, NULL);
	ol = 9;
	assert_int_equal(hs_recv(r, m1, l1, out, &ol, why), WM_ECRYPTO);
	assert_int_equal(ol, 9);
	assert_non_null(strstr(why, "made for another node"));
	hs_free(r);
	r = mk(0, f->kb, netsec_a, NULL, NULL);
	assert_int_equal(hs_recv(r, m1, l1, out, &ol, why), 0);
	assert_int_equal(ol, HS_MSG2_LEN);
	hs_free(r);
}

/* The cache saved and loaded (a restart): a replay is still refused, and a
 * record is dropped once its message has left the window. */
static void test_replay_saved(void **state)
{
	struct fixture *f = *state;
	struct hs_replay *c1 = NULL, *c2 = NULL;
	uint8_t m1[HS_MSG_MAX], out[HS_MSG_MAX], rec[HS_REPLAY_REC_LEN], saved[4 * HS_REPLAY_REC_LEN + 5];
	size_t l1, ol, n;
	char why[WM_WHY_LEN] = "";
	struct hs *i = mk(1, f->ka, netsec_a, NULL, NULL);
	struct hs *r;

	assert_int_equal(hs_start(i, m1, &l1), 0);
	hs_free(i);
	assert_int_equal(hs_replay_new(4, &c1), 0);
	r = mk(0, f->kb, netsec_a, NULL, c1);
	assert_int_equal(hs_replay_record(r, rec), WM_EPROTO);   /* nothing accepted yet */
	assert_int_equal(hs_recv(r, m1, l1, out, &ol, why), 0);
	assert_int_equal(hs_replay_record(r, rec), 0);
	hs_free(r);
	n = hs_replay_save(c1, saved, sizeof(saved), NOW);
	assert_int_equal(n, HS_REPLAY_REC_LEN);
	assert_memory_equal(saved, rec, HS_REPLAY_REC_LEN);
	hs_replay_free(c1);

	/* "restarted" 9 minutes later, the file ending in half a record */
	memcpy(saved + n, "junk!", 5);
	assert_int_equal(hs_replay_new(4, &c2), 0);
	assert_int_equal(hs_replay_load(c2, saved, n + 5, NOW + 9 * 60000), 1);
	r = mk_at(0, f->kb, netsec_a, NULL, c2, NOW + 9 * 60000);
	ol = 9;
	assert_int_equal(hs_recv(r, m1, l1, out, &ol, why), WM_ECRYPTO);
	assert_int_equal(ol, 9);
	assert_non_null(strstr(why, "replay"));
	hs_free(r);
	/* past the window the record is gone, and the message is stale anyway */
	assert_int_equal(hs_replay_save(c2, saved, sizeof(saved), NOW + HS_WINDOW_MS + 1), 0);
	hs_replay_free(c2);
	assert_int_equal(hs_replay_new(4, &c2), 0);
	assert_int_equal(hs_replay_load(c2, saved, n, NOW + HS_WINDOW_MS + 1), 0);
	hs_replay_free(c2);
}

static void test_out_of_turn(void **state)
{
	struct fixture *f = *state;
	struct hs *i = mk(1, f->ka, netsec_a, NULL, NULL);
	struct hs *r = mk(0, f->kb, netsec_a, NULL, NULL);
	uint8_t m[HS_MSG_MAX], out[HS_MSG_MAX];
	size_t l, ol;
	char why[WM_WHY_LEN] = "";
	struct hs_params bad = { f->ka, NULL, NULL, NULL, NOW, NULL, 0, 0 };
	struct hs *none = (struct hs *)&bad;
	struct key *pubonly = NULL;
	uint8_t hdr[CHAN_HEADER_LEN];
	struct chan *c = NULL;

	memset(m, 0, sizeof(m));
	assert_int_equal(hs_recv(i, m, HS_MSG2_LEN, out, &ol, why), WM_EPROTO);   /* before start */
	assert_int_equal(hs_start(r, m, &l), WM_EPROTO);                          /* responders don't start */
	assert_int_equal(hs_start(i, m, &l), 0);
	assert_int_equal(hs_start(i, m, &l), WM_EPROTO);
	assert_int_equal(chan_new(i, &c, hdr), WM_EPROTO);                        /* not done */
	assert_null(c);
	hs_free(i);
	hs_free(r);

	assert_int_equal(hs_new(1, &bad, &none), WM_EINVAL);
	assert_ptr_equal(none, (struct hs *)&bad);   /* untouched */
	assert_int_equal(key_from_pub(f->ka->pub, &pubonly), 0);
	bad.self = pubonly;
	bad.netsec = netsec_a;
	assert_int_equal(hs_new(1, &bad, &none), WM_EINVAL);
	key_free(pubonly);
	hs_free(NULL);
	chan_free(NULL);
	hs_replay_free(NULL);
}

/* A responder must not be fooled into a known shared secret. */
static void test_low_order_ephemeral(void **state)
{
	struct fixture *f = *state;
	uint8_t m1[HS_MSG1_LEN], zero[32];
	char why[WM_WHY_LEN] = "";

	memset(zero, 0, sizeof(zero));   /* the all-zero point */
	doc_msg1(zero, NOW, NULL, m1);
	assert_int_equal(feed_at(f, 1, m1, sizeof(m1), NULL, why), WM_ECRYPTO);
	assert_non_null(strstr(why, "ephemeral key is invalid"));
}

/* --- channel ---------------------------------------------------------------------------- */

struct pair {
	struct chan *a, *b;   /* a = initiator side */
};

static void make_pair(const struct fixture *f, struct pair *p)
{
	struct hs *i, *r;
	uint8_t ha[CHAN_HEADER_LEN], hb[CHAN_HEADER_LEN];
	char why[WM_WHY_LEN];

	run_ok(f->ka, f->kb, NULL, &i, &r, NULL);
	assert_int_equal(chan_new(i, &p->a, ha), 0);
	assert_int_equal(chan_new(r, &p->b, hb), 0);
	hs_free(i);
	hs_free(r);
	assert_int_equal(chan_set_rx_header(p->a, hb, why), 0);
	assert_int_equal(chan_set_rx_header(p->b, ha, why), 0);
	assert_int_equal(chan_set_rx_header(p->b, ha, why), WM_EPROTO);   /* once */
}

static void free_pair(struct pair *p)
{
	chan_free(p->a);
	chan_free(p->b);
}

/* seal on one side, open on the other; returns chan_open's result */
static int pass(struct chan *from, struct chan *to, const uint8_t *msg, size_t len,
                uint8_t *wire, size_t *wlen, uint8_t *plain, size_t *plen, int final)
{
	size_t ct;
	int fin = -1;
	char why[WM_WHY_LEN];

	assert_int_equal(chan_seal(from, msg, len, final, wire, chan_wire_len(len), wlen), 0);
	assert_int_equal(*wlen, chan_wire_len(len));
	assert_int_equal(chan_frame_len(wire, &ct, why), 0);
	assert_int_equal(ct, *wlen - CHAN_PREFIX_LEN);
	int rc = chan_open(to, wire, wire + CHAN_PREFIX_LEN, ct, plain, plen, &fin, why);
	if (rc == 0)
		assert_int_equal(fin, final);
	return rc;
}

static void test_frames_round_trip(void **state)
{
	struct fixture *f = *state;
	struct pair p;
	uint8_t *big = malloc(CHAN_FRAME_MAX), *wire = malloc(CHAN_WIRE_MAX), *plain = malloc(CHAN_FRAME_MAX);
	size_t wlen, plen;
	const char *hello = "hello from a", *back = "and back from b";

	make_pair(f, &p);
	assert_int_equal(pass(p.a, p.b, (const uint8_t *)hello, strlen(hello), wire, &wlen, plain, &plen, 0), 0);
	assert_int_equal(plen, strlen(hello));
	assert_memory_equal(plain, hello, plen);
	assert_memory_not_equal(wire + CHAN_PREFIX_LEN, hello, plen);   /* encrypted */
	assert_int_equal(pass(p.b, p.a, (const uint8_t *)back, strlen(back), wire, &wlen, plain, &plen, 0), 0);
	assert_memory_equal(plain, back, plen);
	/* empty frame (keepalive) */
	assert_int_equal(pass(p.a, p.b, NULL, 0, wire, &wlen, plain, &plen, 0), 0);
	assert_int_equal(plen, 0);
	/* the largest frame */
	for (size_t k = 0; k < CHAN_FRAME_MAX; k++)
		big[k] = (uint8_t)(k * 7 + 3);
	assert_int_equal(pass(p.a, p.b, big, CHAN_FRAME_MAX, wire, &wlen, plain, &plen, 0), 0);
	assert_int_equal(plen, CHAN_FRAME_MAX);
	assert_memory_equal(plain, big, CHAN_FRAME_MAX);
	assert_int_equal(wlen, CHAN_WIRE_MAX);
	/* a closing frame, then nothing more either way */
	assert_int_equal(pass(p.b, p.a, (const uint8_t *)"bye", 3, wire, &wlen, plain, &plen, 1), 0);
	assert_int_equal(chan_seal(p.b, (const uint8_t *)"x", 1, 0, wire, CHAN_WIRE_MAX, &wlen), WM_EPROTO);
	free_pair(&p);
	free(big);
	free(wire);
	free(plain);
}

static void test_frames_refused(void **state)
{
	struct fixture *f = *state;
	struct pair p;
	uint8_t w1[64], w2[64], w3[64], plain[64];
	size_t l1, l2, l3, plen, ct;
	int fin;
	char why[WM_WHY_LEN];

	/* modified: each byte of a frame (prefix included) flipped */
	for (size_t b = 0; b < chan_wire_len(5); b++) {
		make_pair(f, &p);
		assert_int_equal(chan_seal(p.a, (const uint8_t *)"abcde", 5, 0, w1, sizeof(w1), &l1), 0);
		w1[b] ^= 0x40;
		if (b < CHAN_PREFIX_LEN) {
			/* a changed length: either refused outright or it no longer fits */
			if (chan_frame_len(w1, &ct, why) == 0)
				assert_int_not_equal(chan_open(p.b, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), 0);
		} else {
			assert_int_equal(chan_open(p.b, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), WM_ECRYPTO);
			assert_non_null(strstr(why, "does not decrypt"));
		}
		free_pair(&p);
	}

	/* reordered: second frame before the first */
	make_pair(f, &p);
	assert_int_equal(chan_seal(p.a, (const uint8_t *)"one", 3, 0, w1, sizeof(w1), &l1), 0);
	assert_int_equal(chan_seal(p.a, (const uint8_t *)"two", 3, 0, w2, sizeof(w2), &l2), 0);
	assert_int_equal(chan_open(p.b, w2, w2 + 4, l2 - 4, plain, &plen, &fin, why), WM_ECRYPTO);
	/* and the channel stays dead afterwards */
	assert_int_equal(chan_open(p.b, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), WM_EPROTO);
	free_pair(&p);

	/* replayed: the same frame twice */
	make_pair(f, &p);
	assert_int_equal(chan_seal(p.a, (const uint8_t *)"one", 3, 0, w1, sizeof(w1), &l1), 0);
	assert_int_equal(chan_open(p.b, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), 0);
	assert_int_equal(chan_open(p.b, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), WM_ECRYPTO);
	free_pair(&p);

	/* truncated: fewer bytes than announced */
	make_pair(f, &p);
	assert_int_equal(chan_seal(p.a, (const uint8_t *)"abcdef", 6, 0, w3, sizeof(w3), &l3), 0);
	assert_int_equal(chan_open(p.b, w3, w3 + 4, l3 - 5, plain, &plen, &fin, why), WM_ETRUNCATED);
	assert_non_null(strstr(why, "truncated"));
	free_pair(&p);
	/* a frame cut short with a matching (forged) length */
	make_pair(f, &p);
	assert_int_equal(chan_seal(p.a, (const uint8_t *)"abcdef", 6, 0, w3, sizeof(w3), &l3), 0);
	w3[3]--;
	assert_int_equal(chan_open(p.b, w3, w3 + 4, l3 - 5, plain, &plen, &fin, why), WM_ECRYPTO);
	free_pair(&p);

	/* another session's frame */
	{
		struct pair q;

		make_pair(f, &p);
		make_pair(f, &q);
		assert_int_equal(chan_seal(p.a, (const uint8_t *)"one", 3, 0, w1, sizeof(w1), &l1), 0);
		assert_int_equal(chan_open(q.b, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), WM_ECRYPTO);
		/* nor does a frame cross directions */
		assert_int_equal(chan_open(p.a, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), WM_ECRYPTO);
		free_pair(&p);
		free_pair(&q);
	}

	/* frames after a closing frame */
	make_pair(f, &p);
	assert_int_equal(chan_seal(p.a, (const uint8_t *)"bye", 3, 1, w1, sizeof(w1), &l1), 0);
	assert_int_equal(chan_open(p.b, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), 0);
	assert_int_equal(fin, 1);
	assert_int_equal(chan_open(p.b, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), WM_EPROTO);
	free_pair(&p);

	/* before the peer's header */
	{
		struct hs *i, *r;
		struct chan *a = NULL, *b = NULL;
		uint8_t ha[CHAN_HEADER_LEN], hb[CHAN_HEADER_LEN];

		run_ok(f->ka, f->kb, NULL, &i, &r, NULL);
		assert_int_equal(chan_new(i, &a, ha), 0);
		assert_int_equal(chan_new(r, &b, hb), 0);
		assert_int_equal(chan_seal(a, (const uint8_t *)"x", 1, 0, w1, sizeof(w1), &l1), 0);
		assert_int_equal(chan_open(b, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), WM_EPROTO);
		/* a wrong header: decryption fails later */
		ha[0] ^= 1;
		assert_int_equal(chan_set_rx_header(b, ha, why), 0);
		assert_int_equal(chan_open(b, w1, w1 + 4, l1 - 4, plain, &plen, &fin, why), WM_ECRYPTO);
		chan_free(a);
		chan_free(b);
		hs_free(i);
		hs_free(r);
	}
}

static void test_frames_oversize(void **state)
{
	struct fixture *f = *state;
	struct pair p;
	uint8_t *big = calloc(1, CHAN_FRAME_MAX + 1), *wire = malloc(CHAN_WIRE_MAX + 1);
	uint8_t prefix[4];
	size_t wlen = 42, ct = 42;
	char why[WM_WHY_LEN] = "";
	uint32_t n;

	make_pair(f, &p);
	assert_int_equal(chan_seal(p.a, big, CHAN_FRAME_MAX + 1, 0, wire, CHAN_WIRE_MAX + 1, &wlen), WM_ETOOBIG);
	assert_int_equal(wlen, 42);
	/* too small an output buffer */
	assert_int_equal(chan_seal(p.a, big, 10, 0, wire, chan_wire_len(10) - 1, &wlen), WM_EINVAL);

	/* announced lengths: the largest allowed, one more, the 4 GiB one, too short */
	n = CHAN_FRAME_MAX + CHAN_ABYTES;
	prefix[0] = (uint8_t)(n >> 24); prefix[1] = (uint8_t)(n >> 16); prefix[2] = (uint8_t)(n >> 8); prefix[3] = (uint8_t)n;
	assert_int_equal(chan_frame_len(prefix, &ct, why), 0);
	assert_int_equal(ct, n);
	n++;
	prefix[0] = (uint8_t)(n >> 24); prefix[1] = (uint8_t)(n >> 16); prefix[2] = (uint8_t)(n >> 8); prefix[3] = (uint8_t)n;
	ct = 42;
	assert_int_equal(chan_frame_len(prefix, &ct, why), WM_ETOOBIG);
	assert_int_equal(ct, 42);
	assert_non_null(strstr(why, "frame too large"));
	memset(prefix, 0xff, 4);
	assert_int_equal(chan_frame_len(prefix, &ct, why), WM_ETOOBIG);
	memset(prefix, 0, 4);
	prefix[3] = CHAN_ABYTES - 1;
	assert_int_equal(chan_frame_len(prefix, &ct, why), WM_EPROTO);
	free_pair(&p);
	free(big);
	free(wire);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_handshake),
		cmocka_unit_test(test_msg1_matches_doc),
		cmocka_unit_test(test_wrong_network_secret),
		cmocka_unit_test(test_wrong_expected_key),
		cmocka_unit_test(test_self_connection_refused),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_replays),
		cmocka_unit_test(test_time_window),
		cmocka_unit_test(test_bound_to_responder),
		cmocka_unit_test(test_replay_saved),
		cmocka_unit_test(test_out_of_turn),
		cmocka_unit_test(test_low_order_ephemeral),
		cmocka_unit_test(test_frames_round_trip),
		cmocka_unit_test(test_frames_refused),
		cmocka_unit_test(test_frames_oversize),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
