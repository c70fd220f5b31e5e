/*
 * Unit tests of proto/mp (the strict reader) and proto/event (decode,
 * verify, build), plus the committed test vectors tests/vectors/events.json:
 * every vector's verdict and error code must match.  The vectors file is
 * found through $WATCHMESH_VECTORS, argv[1], or next to this source file
 * (meson runs tests from the build root, where __FILE__ is relative).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "mp.h"

static struct key *alice;
static char why[WM_WHY_LEN];
static const char *vectors_path;

static int setup(void **state)
{
	uint8_t seed[32];

	(void)state;
	assert_int_equal(wmc_init(), 0);
	memset(seed, 0x11, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &alice), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	key_free(alice);
	return 0;
}

/* --- the reader ----------------------------------------------------------- */

static int check(const char *hex)
{
	uint8_t buf[64];
	size_t n = strlen(hex) / 2;

	assert_true(n <= sizeof(buf));
	assert_int_equal(hex_decode(buf, n, hex, 2 * n), 0);
	why[0] = '\0';
	return mp_check_canonical(buf, n, why);
}

static void expect(const char *hex, int code)
{
	int rc = check(hex);

	if (rc != code)
		fail_msg("%s: expected %s, got %s (%s)", hex, wm_errname(code), wm_errname(rc), why);
	if (rc != 0 && why[0] == '\0')
		fail_msg("%s: no reason given", hex);
}

static void test_mp_ints(void **state)
{
	(void)state;
	expect("00", 0);
	expect("7f", 0);
	expect("cc80", 0);
	expect("cc7f", WM_ECANONICAL);
	expect("ccff", 0);
	expect("cd0100", 0);
	expect("cd00ff", WM_ECANONICAL);
	expect("ce00010000", 0);
	expect("ce0000ffff", WM_ECANONICAL);
	expect("cf0000000100000000", 0);
	expect("cf00000000ffffffff", WM_ECANONICAL);
	expect("cfffffffffffffffff", 0);
	expect("ff", 0);
	expect("e0", 0);
	expect("d0df", 0);            /* -33 */
	expect("d0e0", WM_ECANONICAL); /* -32 fits a negative fixint */
	expect("d000", WM_ECANONICAL); /* non-negative in signed form */
	expect("d07f", WM_ECANONICAL);
	expect("d1ff7f", 0);          /* -129 */
	expect("d1ff80", WM_ECANONICAL);
	expect("d2ffff7fff", 0);      /* -32769 */
	expect("d2ffff8000", WM_ECANONICAL);
	expect("d3ffffffff7fffffff", 0);
	expect("d3ffffffff80000000", WM_ECANONICAL);
	expect("d38000000000000000", 0); /* INT64_MIN */
	expect("d30000000000000001", WM_ECANONICAL);
	expect("cd01", WM_ETRUNCATED);
	expect("cf00", WM_ETRUNCATED);

	/* a value check, not just a verdict */
	struct mp_reader r;
	struct mp_item it;
	const uint8_t b[] = { 0xd1, 0x80, 0x00 };

	mp_reader_init(&r, b, sizeof(b), 0, why);
	assert_int_equal(mp_read(&r, "x", &it), 0);
	assert_int_equal(it.type, MP_NINT);
	assert_true(it.i == -32768);
	assert_int_equal(mp_remaining(&r), 0);
}

static void test_mp_lengths(void **state)
{
	(void)state;
	expect("a0", 0);
	expect("a161", 0);
	expect("d90161", WM_ECANONICAL);   /* str8 for 1 byte */
	expect("da000161", WM_ECANONICAL);
	expect("c40161", 0);
	expect("c5000161", WM_ECANONICAL);
	expect("c600000161", WM_ECANONICAL);
	expect("9101", 0);
	expect("dc000101", WM_ECANONICAL);
	expect("dd0000000101", WM_ECANONICAL);
	expect("81a16101", 0);
	expect("de0001a16101", WM_ECANONICAL);
	expect("df00000001a16101", WM_ECANONICAL);
	expect("a26162", 0);
	expect("a361", WM_ETRUNCATED);
	expect("c40561", WM_ETRUNCATED);
	expect("9301", WM_ETRUNCATED);
	expect("dcffff", WM_ETRUNCATED);   /* huge count, no bytes: no allocation */
}

static void test_mp_types(void **state)
{
	(void)state;
	expect("c0", WM_EMALFORMED);
	expect("c2", WM_EMALFORMED);
	expect("c3", WM_EMALFORMED);
	expect("ca00000000", WM_EMALFORMED);
	expect("cb0000000000000000", WM_EMALFORMED);
	expect("d40100", WM_EMALFORMED);
	expect("c70101ff", WM_EMALFORMED);
	expect("c1", WM_EMALFORMED);
	expect("9100c0", WM_EMALFORMED);   /* trailing nil after the array */
	expect("0000", WM_EMALFORMED);     /* trailing bytes */
	expect("", WM_ETRUNCATED);
	/* maps: string keys, sorted, unique */
	expect("82a16101a16202", 0);
	expect("82a16201a16102", WM_ECANONICAL);
	expect("82a16101a16102", WM_ECANONICAL);
	expect("82a16101a2616102", 0);      /* "a" < "aa": shorter first */
	expect("82a2616101a16102", WM_ECANONICAL);
	expect("810101", WM_EMALFORMED);    /* integer key */
}

static void test_mp_utf8(void **state)
{
	static const struct { const char *s; int ok; } cases[] = {
		{ "", 1 }, { "abc", 1 },
		{ "\xe5\x85\xac\xe5\xae\x89", 1 },          /* 公安 */
		{ "\xf0\x9f\x9a\x93", 1 },                  /* U+1F693 */
		{ "\xf4\x8f\xbf\xbf", 1 },                  /* U+10FFFF */
		{ "\xc0\x80", 0 }, { "\xc1\xbf", 0 },       /* overlong */
		{ "\xe0\x80\x80", 0 }, { "\xf0\x80\x80\x80", 0 },
		{ "\xed\xa0\x80", 0 }, { "\xed\xbf\xbf", 0 }, /* surrogates */
		{ "\xf4\x90\x80\x80", 0 },                  /* > U+10FFFF */
		{ "\xf8\x88\x80\x80\x80", 0 }, { "\xff", 0 }, { "\x80", 0 },
		{ "\xe5\x85", 0 }, { "a\xc3", 0 },          /* cut short */
		{ "\xc3\x28", 0 },                          /* bad continuation */
	};
	uint8_t buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].s);

		if (mp_utf8_valid((const uint8_t *)cases[i].s, n) != cases[i].ok)
			fail_msg("case %zu: expected %d", i, cases[i].ok);
		buf[0] = (uint8_t)(0xa0 | n);
		memcpy(buf + 1, cases[i].s, n);
		assert_int_equal(mp_check_canonical(buf, n + 1, why), cases[i].ok ? 0 : WM_EMALFORMED);
	}
}

static void test_mp_reasons(void **state)
{
	struct mp_reader r;
	uint64_t v;
	const uint8_t b[] = { 0xcf, 0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00 };
	const uint8_t s[] = { 0xa1, 'x' };

	(void)state;
	mp_reader_init(&r, b, sizeof(b), 40, why);
	assert_int_equal(mp_read_uint(&r, "created_at", &v), WM_ECANONICAL);
	assert_non_null(strstr(why, "created_at"));
	assert_non_null(strstr(why, "uint64 form where uint32 is shortest"));
	assert_non_null(strstr(why, "byte 40"));
	mp_reader_init(&r, s, sizeof(s), 0, why);
	assert_int_equal(mp_read_uint(&r, "kind", &v), WM_EMALFORMED);
	assert_non_null(strstr(why, "expected an unsigned integer, found a string"));
	assert_int_equal(mp_remaining(&r), 2);   /* nothing consumed */
}

/* --- events --------------------------------------------------------------- */

static void sample(struct event_draft *d)
{
	memset(d, 0, sizeof(*d));
	d->kind = KIND_REPLY;
	memcpy(d->author, alice->pub, WM_PUB_LEN);
	d->created_at = 1700000000123ull;
	memset(d->network, 0x4e, WM_NETWORK_LEN);
	d->group = "gaobu.xinhua-village";
	d->has_prev = 1;
	memset(d->prev, 0x9a, WM_ID_LEN);
	d->nrefs = 2;
	memset(d->refs[0], 0xaa, WM_ID_LEN);
	memset(d->refs[1], 0xbb, WM_ID_LEN);
	d->expires_at = 1800000000000ull;
	draft_str(d, "text", "\xe6\x88\x91\xe7\x9c\x8b\xe8\xa7\x81\xe4\xbb\x96\xe4\xba\x86");  /* 我看见他了 */
	draft_int(d, "zz_neg", -5);
	draft_uint(d, "aa_big", 1ull << 40);
}

static void test_roundtrip(void **state)
{
	struct event_draft d;
	struct event *ev = NULL;
	uint8_t *wire = NULL, id[WM_ID_LEN], id2[WM_ID_LEN];
	size_t len = 0, wl = 0, sl = 0;
	const char *s;
	uint64_t u;
	const struct cval *v;

	(void)state;
	sample(&d);
	assert_int_equal(event_build(&d, alice, &wire, &len, id, why), 0);
	assert_int_equal(event_decode(wire, len, &ev, why), 0);
	assert_memory_equal(ev->id, id, WM_ID_LEN);
	id_compute(id2, ev->payload, ev->payload_len);
	assert_memory_equal(id2, id, WM_ID_LEN);
	assert_int_equal(sig_verify(alice->pub, id, ev->sig), 0);
	assert_int_equal(ev->version, 2);
	assert_int_equal(ev->kind, KIND_REPLY);
	assert_memory_equal(ev->author, alice->pub, WM_PUB_LEN);
	assert_true(ev->created_at == 1700000000123ull);
	assert_int_equal(ev->network[15], 0x4e);
	assert_string_equal(ev->group, "gaobu.xinhua-village");
	assert_int_equal(ev->has_prev, 1);
	assert_int_equal(ev->prev[31], 0x9a);
	assert_int_equal(ev->withheld, 0);
	id_compute(id2, ev->cbytes, ev->cbytes_len);
	assert_memory_equal(id2, ev->content_hash, WM_ID_LEN);
	assert_int_equal(ev->nrefs, 2);
	assert_int_equal(ev->refs[1][0], 0xbb);
	assert_true(ev->expires_at == 1800000000000ull);
	assert_int_equal(ev->ncontent, 3);
	/* sorted on the wire, whatever order the draft had */
	assert_int_equal(ev->content[0].keylen, 6);
	assert_memory_equal(ev->content[0].key, "aa_big", 6);
	assert_memory_equal(ev->content[2].key, "zz_neg", 6);
	assert_int_equal(event_get_str(ev, "text", &s, &sl), 0);
	assert_int_equal(sl, 15);
	assert_int_equal(event_get_uint(ev, "aa_big", &u), 0);
	assert_true(u == (1ull << 40));
	v = event_get(ev, "zz_neg");
	assert_non_null(v);
	assert_int_equal(v->type, CV_INT);
	assert_true(v->i == -5);
	assert_int_equal(event_get_uint(ev, "text", &u), WM_ENOTFOUND);
	assert_null(event_get(ev, "nope"));
	assert_int_equal(event_wire_len(wire, len, &wl), 0);
	assert_int_equal(wl, len);
	event_free(ev);
	event_free(NULL);

	/* a different signer than the author is refused */
	d.author[0] ^= 1;
	assert_int_equal(event_build(&d, alice, &wire, &len, id, why), WM_EINVAL);
	free(wire);
}

/* Every single-byte change and every truncation of a valid event must be
 * refused: one byte form per event, and the signature covers the payload. */
static void test_mutations(void **state)
{
	struct event_draft d;
	struct event *ev = NULL;
	uint8_t *wire = NULL, *copy;
	size_t len = 0;
	static const uint8_t masks[] = { 0x01, 0x80, 0xff, 0x10 };

	(void)state;
	sample(&d);
	assert_int_equal(event_build(&d, alice, &wire, &len, NULL, why), 0);
	copy = malloc(len + 1);
	assert_non_null(copy);
	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			int rc;

			memcpy(copy, wire, len);
			copy[i] ^= masks[m];
			why[0] = '\0';
			rc = event_decode(copy, len, &ev, why);
			if (rc == 0)
				fail_msg("byte %zu ^ 0x%02x accepted", i, masks[m]);
			assert_true(why[0] != '\0');
		}
	}
	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(event_decode(wire, n, &ev, why), 0);
	memcpy(copy, wire, len);
	copy[len] = 0;
	assert_int_equal(event_decode(copy, len + 1, &ev, why), WM_EMALFORMED);
	assert_non_null(strstr(why, "trailing"));
	free(copy);
	free(wire);
}

static void test_wire_len(void **state)
{
	struct event_draft d;
	uint8_t *w1 = NULL, *w2 = NULL, *both;
	size_t l1 = 0, l2 = 0, n = 0;

	(void)state;
	sample(&d);
	assert_int_equal(event_build(&d, alice, &w1, &l1, NULL, why), 0);
	draft_str(&d, "text", "second");
	assert_int_equal(event_build(&d, alice, &w2, &l2, NULL, why), 0);
	both = malloc(l1 + l2);
	assert_non_null(both);
	memcpy(both, w1, l1);
	memcpy(both + l1, w2, l2);
	assert_int_equal(event_wire_len(both, l1 + l2, &n), 0);
	assert_int_equal(n, l1);
	assert_int_equal(event_wire_len(both + l1, l2, &n), 0);
	assert_int_equal(n, l2);
	for (size_t k = 0; k < l1; k++)
		assert_int_equal(event_wire_len(both, k, &n), WM_ETRUNCATED);
	assert_int_equal(event_wire_len((const uint8_t *)"\x94", 1, &n), WM_EMALFORMED);
	assert_int_equal(event_wire_len((const uint8_t *)"\x93\xa1", 2, &n), WM_EMALFORMED);
	assert_int_equal(event_wire_len((const uint8_t *)"\x93\xc6\x00\x01\x00\x01", 6, &n), WM_ETOOBIG);
	free(both);
	free(w1);
	free(w2);
}

/* event_peek: the one reader of the wrapper.  Every truncation, every
 * longer-than-needed header and trailing bytes are refused; what it reads
 * of a valid event is what event_decode finds. */
static void test_peek(void **state)
{
	struct event_draft d;
	struct event_peek pk;
	struct event *ev = NULL, *ev2 = NULL;
	uint8_t *w = NULL, *w2 = NULL, *both, *long_hdr, *big;
	size_t l = 0, l2 = 0, plen, wl;

	(void)state;
	sample(&d);
	assert_int_equal(event_build(&d, alice, &w, &l, NULL, why), 0);
	draft_str(&d, "text", "second");
	assert_int_equal(event_build(&d, alice, &w2, &l2, NULL, why), 0);
	assert_int_equal(event_decode(w, l, &ev, why), 0);

	assert_int_equal(event_peek(w, l, 0, &pk, why), 0);
	assert_ptr_equal(pk.wire, w);
	assert_int_equal(pk.wire_len, l);
	assert_ptr_equal(pk.payload, ev->payload);
	assert_int_equal(pk.payload_len, ev->payload_len);
	assert_memory_equal(pk.sig, ev->sig, WM_SIG_LEN);
	assert_int_equal(pk.has_id, 1);
	assert_memory_equal(pk.id, ev->id, WM_ID_LEN);
	assert_int_equal(pk.kind, ev->kind);
	assert_memory_equal(pk.author, ev->author, WM_PUB_LEN);
	assert_int_equal(pk.glen, strlen(ev->group));
	assert_memory_equal(pk.group, ev->group, pk.glen);
	assert_int_equal(event_decode_peeked(&pk, &ev2, why), 0);
	assert_memory_equal(ev2->id, ev->id, WM_ID_LEN);
	assert_int_equal(ev2->wire_len, l);
	event_free(ev2);
	assert_int_equal(event_peek(w, l, EVENT_PEEK_NO_ID, &pk, why), 0);
	assert_int_equal(pk.has_id, 0);
	assert_int_equal(event_decode_peeked(&pk, &ev2, why), WM_EINVAL);

	/* every truncation: malformed when the length was given, truncated
	 * when more may follow */
	for (size_t n = 0; n < l; n++) {
		why[0] = '\0';
		assert_int_equal(event_peek(w, n, 0, &pk, why), WM_EMALFORMED);
		assert_true(why[0] != '\0');
		assert_int_equal(event_peek(w, n, EVENT_PEEK_PREFIX, &pk, why), WM_ETRUNCATED);
	}

	/* trailing bytes: refused, unless more may follow */
	both = malloc(l + l2);
	assert_non_null(both);
	memcpy(both, w, l);
	memcpy(both + l, w2, l2);
	assert_int_equal(event_peek(both, l + l2, 0, &pk, why), WM_EMALFORMED);
	assert_non_null(strstr(why, "trailing"));
	assert_int_equal(event_peek(both, l + l2, EVENT_PEEK_PREFIX, &pk, why), 0);
	assert_int_equal(pk.wire_len, l);
	assert_memory_equal(pk.id, ev->id, WM_ID_LEN);
	assert_int_equal(event_peek(both + l, l2, EVENT_PEEK_PREFIX, &pk, why), 0);
	assert_int_equal(pk.wire_len, l2);

	/* longer headers than needed: the array, the payload, the signature */
	assert_int_equal(w[0], 0x93);
	assert_int_equal(w[1], 0xc4);
	plen = w[2];
	long_hdr = malloc(l + 4);
	assert_non_null(long_hdr);
	long_hdr[0] = 0xdc;
	long_hdr[1] = 0;
	long_hdr[2] = 3;
	memcpy(long_hdr + 3, w + 1, l - 1);
	for (unsigned f = 0; f <= EVENT_PEEK_PREFIX; f++)
		assert_int_equal(event_peek(long_hdr, l + 2, f, &pk, why), WM_ECANONICAL);
	long_hdr[0] = 0x93;
	long_hdr[1] = 0xc5;
	long_hdr[2] = 0;
	long_hdr[3] = (uint8_t)plen;
	memcpy(long_hdr + 4, w + 3, l - 3);
	for (unsigned f = 0; f <= EVENT_PEEK_PREFIX; f++)
		assert_int_equal(event_peek(long_hdr, l + 1, f, &pk, why), WM_ECANONICAL);
	memcpy(long_hdr, w, 3 + plen);
	long_hdr[3 + plen] = 0xc5;
	long_hdr[4 + plen] = 0;
	long_hdr[5 + plen] = WM_SIG_LEN;
	memcpy(long_hdr + 6 + plen, w + 5 + plen, l - 5 - plen);
	assert_int_equal(event_peek(long_hdr, l + 1, 0, &pk, why), WM_ECANONICAL);
	/* a signature of another length */
	long_hdr[3 + plen] = 0xc4;
	long_hdr[4 + plen] = WM_SIG_LEN - 1;
	assert_int_not_equal(event_peek(long_hdr, l - 1, 0, &pk, why), 0);

	/* a payload over the limit, whole */
	big = calloc(1, 6 + WM_MAX_WIRE + 1 + 2 + WM_SIG_LEN + 1);
	assert_non_null(big);
	memcpy(big, "\x93\xc6\x00\x01\x00\x01", 6);
	big[6 + WM_MAX_WIRE + 1] = 0xc4;
	big[6 + WM_MAX_WIRE + 2] = WM_SIG_LEN;
	big[6 + WM_MAX_WIRE + 3 + WM_SIG_LEN] = 0xc4;
	assert_int_equal(event_peek(big, 6 + WM_MAX_WIRE + 1 + 2 + WM_SIG_LEN + 1, 0, &pk, why), WM_ETOOBIG);
	/* each part under the limit, the whole event over it */
	{
		uint8_t *x = NULL, *c = calloc(1, WM_MAX_WIRE - 100);
		size_t xl = 0;

		assert_non_null(c);
		assert_int_equal(event_wrap(ev->payload, ev->payload_len, c, WM_MAX_WIRE - 100, alice, &x, &xl, NULL), 0);
		assert_true(xl > WM_MAX_WIRE);
		assert_int_equal(event_peek(x, xl, 0, &pk, why), WM_ETOOBIG);
		/* and the bundle's stepper, which runs where the peek failed,
		 * counts the whole event too */
		assert_int_equal(event_wire_len(x, xl, &wl), WM_ETOOBIG);
		free(x);
		free(c);
	}

	/* a wrapper around bytes that are no header: read, with no head */
	{
		uint8_t *x = NULL;
		size_t xl = 0;
		uint8_t xid[WM_ID_LEN];

		assert_int_equal(event_wrap((const uint8_t *)"\x93\x01\x02\x03", 4, (const uint8_t *)"\x80", 1,
		                            alice, &x, &xl, xid), 0);
		assert_int_equal(event_peek(x, xl, 0, &pk, why), 0);
		assert_memory_equal(pk.id, xid, WM_ID_LEN);
		assert_int_equal(pk.kind, 0);
		assert_null(pk.author);
		assert_null(pk.group);
		free(x);
	}

	free(big);
	free(long_hdr);
	free(both);
	event_free(ev);
	free(w);
	free(w2);
}

/* What v2 adds: the content is held to its hash, a withheld event keeps
 * its header provable, version 1 is refused as retired, and only a
 * revoke's keep may nest arrays. */
static void test_v2(void **state)
{
	struct event_draft d;
	struct event *ev = NULL;
	uint8_t *w = NULL, *x = NULL, id[WM_ID_LEN];
	size_t l = 0, xl = 0;
	uint8_t ids[2][WM_ID_LEN];
	struct cval e[2][3], keep[2];

	(void)state;
	sample(&d);
	assert_int_equal(event_build(&d, alice, &w, &l, id, why), 0);
	assert_int_equal(event_decode(w, l, &ev, why), 0);

	/* a genuine header with other content: refused, and for a passing
	 * reason, since anyone can pair a header with other bytes */
	assert_int_equal(event_wrap(ev->payload, ev->payload_len, (const uint8_t *)"\x81\xa4text\xa2hi", 8,
	                            alice, &x, &xl, NULL), 0);
	assert_int_equal(event_decode(x, xl, &ev, why), WM_EHASH);
	assert_non_null(strstr(why, "content_hash"));
	assert_int_equal(wm_error_is_lasting(WM_EHASH), 0);
	free(x);

	/* withheld: [payload, sig], the header verified, no content */
	assert_int_equal(event_wrap(ev->payload, ev->payload_len, NULL, 0, alice, &x, &xl, NULL), 0);
	event_free(ev);
	ev = NULL;
	assert_int_equal(x[0], 0x92);
	assert_int_equal(event_decode(x, xl, &ev, why), 0);
	assert_int_equal(ev->withheld, 1);
	assert_int_equal(ev->ncontent, 0);
	assert_null(ev->cbytes);
	assert_memory_equal(ev->id, id, WM_ID_LEN);
	assert_string_equal(ev->group, "gaobu.xinhua-village");
	event_free(ev);
	x[xl - 1] ^= 1;              /* its signature still counts */
	assert_int_equal(event_decode(x, xl, &ev, why), WM_ESIG);
	free(x);
	free(w);

	/* version 1 is retired, and says so */
	assert_int_equal(event_wrap((const uint8_t *)"\x98\x01\x09\x00\x00\x00\x00\x00\x00", 9, NULL, 0,
	                            alice, &x, &xl, NULL), 0);
	assert_int_equal(event_decode(x, xl, &ev, why), WM_EVERSION);
	assert_non_null(strstr(why, "retired"));
	free(x);

	/* keep: an array of [group, id, expires_at]; nested arrays nowhere else */
	memset(&d, 0, sizeof(d));
	d.kind = KIND_REVOKE;
	memcpy(d.author, alice->pub, WM_PUB_LEN);
	d.created_at = 1700000000123ull;
	d.group = WM_NETWORK_GROUP;
	draft_bin(&d, "subject", alice->pub, WM_PUB_LEN);
	memset(ids, 0x33, sizeof(ids));
	for (int i = 0; i < 2; i++) {
		e[i][0] = cval_str("gaobu");
		e[i][1] = cval_bin(ids[i], WM_ID_LEN);
		e[i][2] = cval_uint((uint64_t)i);
		keep[i].type = CV_ARRAY;
		keep[i].items = e[i];
		keep[i].len = 3;
	}
	draft_array(&d, "keep", keep, 2);
	assert_int_equal(event_build(&d, alice, &w, &l, NULL, why), 0);
	assert_int_equal(event_decode(w, l, &ev, why), 0);
	assert_int_equal(event_get(ev, "keep")->len, 2);
	assert_int_equal(event_get(ev, "keep")->items[1].items[2].u, 1);
	event_free(ev);
	free(w);
	e[1][1] = cval_bin(ids[1], 31);
	assert_int_equal(event_build(&d, alice, &w, &l, NULL, why), WM_ECONTENT);
	assert_non_null(strstr(why, "keep[1]"));
	draft_array(&d, "keep", NULL, 0);
	assert_int_equal(event_build(&d, alice, &w, &l, NULL, why), 0);
	free(w);
	d.kind = KIND_CERT;          /* a cert's groups may not nest */
	draft_array(&d, "groups", keep, 1);
	assert_int_not_equal(event_build(&d, alice, &w, &l, NULL, why), 0);
}

/* event_decode_stored: every check but the signature's (bytes the store
 * took through event_decode) */
static void test_decode_stored(void **state)
{
	struct event_draft d;
	struct event *ev = NULL;
	uint8_t *w = NULL, *x = NULL, id[WM_ID_LEN];
	size_t l = 0, xl = 0;

	(void)state;
	sample(&d);
	assert_int_equal(event_build(&d, alice, &w, &l, id, why), 0);
	assert_int_equal(event_decode_stored(w, l, &ev, why), 0);
	assert_memory_equal(ev->id, id, WM_ID_LEN);
	assert_string_equal(ev->group, "gaobu.xinhua-village");
	assert_true(ev->ncontent > 0);
	event_free(ev);
	ev = NULL;
	w[l - 1 - 2] ^= 1;           /* inside the content: its hash no longer matches */
	assert_int_equal(event_decode_stored(w, l, &ev, why), WM_EHASH);
	w[l - 1 - 2] ^= 1;
	assert_int_equal(event_decode(w, l, &ev, why), 0);
	assert_int_equal(event_wrap(ev->payload, ev->payload_len, NULL, 0, alice, &x, &xl, NULL), 0);
	event_free(ev);
	ev = NULL;
	x[xl - 1] ^= 1;              /* a signature that does not verify: not looked at */
	assert_int_equal(event_decode(x, xl, &ev, why), WM_ESIG);
	assert_int_equal(event_decode_stored(x, xl, &ev, why), 0);
	assert_int_equal(ev->withheld, 1);
	event_free(ev);
	assert_int_equal(event_decode_stored(w, l - 1, &ev, why), WM_EMALFORMED);
	free(x);
	free(w);
}

static void test_drafts(void **state)
{
	struct event_draft d;
	uint8_t *wire = NULL;
	size_t len = 0;
	char keys[WM_MAX_CONTENT + 1][8];

	(void)state;
	sample(&d);
	draft_str(&d, "text", "replaced");
	assert_int_equal(d.ncontent, 3);
	d.ncontent = 0;
	for (int i = 0; i <= WM_MAX_CONTENT; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%02d", i);
		draft_uint(&d, keys[i], (uint64_t)i);
	}
	assert_int_equal(d.ncontent, WM_MAX_CONTENT + 1);
	assert_int_equal(event_build(&d, alice, &wire, &len, NULL, why), WM_EINVAL);
	/* a group the decoder would refuse never gets signed */
	sample(&d);
	d.group = "Gaobu";
	assert_int_equal(event_build(&d, alice, &wire, &len, NULL, why), WM_EMALFORMED);
	assert_non_null(strstr(why, "group 'Gaobu' has characters outside a-z 0-9 . _ -"));
	assert_int_equal(event_group_valid("a", 1), 1);
	assert_int_equal(event_group_valid("", 0), 0);
	assert_int_equal(kind_from_name("alert"), KIND_ALERT);
	assert_int_equal(kind_from_name("nope"), 0);
	assert_string_equal(kind_name(KIND_ACK), "ack");
	assert_null(kind_name(0));
	assert_null(kind_name(10));
}

/* --- the vectors ---------------------------------------------------------- */

/* A minimal reader for the generator's JSON: an array of flat objects whose
 * values are strings or booleans.  Enough for our own file, nothing more. */
struct vec {
	char name[128];
	char *wire;
	char id[65];
	int valid;
	int withheld;
	char network[2 * WM_NETWORK_LEN + 1];
	char error[32];
	char reason[WM_WHY_LEN * 2];
};

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

/* Parses a JSON string at p (which is at the opening quote) into a
 * malloc'd buffer; returns the position after the closing quote. */
static const char *json_str(const char *p, char **out)
{
	size_t cap = 64, n = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	assert_int_equal(*p, '"');
	p++;
	while (*p != '"') {
		char c = *p++;

		assert_true(c != '\0');
		if (c == '\\') {
			c = *p++;
			if (c == 'n') c = '\n';
			else if (c == 't') c = '\t';
			else if (c == 'r') c = '\r';
			else if (c == 'u') {
				unsigned v = 0;

				assert_int_equal(sscanf(p, "%4x", &v), 1);
				p += 4;
				c = v < 0x80 ? (char)v : '?';
			}
		}
		if (n + 2 > cap) {
			cap *= 2;
			s = realloc(s, cap);
			assert_non_null(s);
		}
		s[n++] = c;
	}
	s[n] = '\0';
	*out = s;
	return p + 1;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static const char *hex_of(const uint8_t *p, size_t n, char *out)
{
	hex_encode(out, p, n);
	return out;
}

static void run_vector(const struct vec *v, size_t *nvalid, size_t *ninvalid)
{
	char net[2 * WM_NETWORK_LEN + 1];
	size_t wl = strlen(v->wire) / 2;
	uint8_t *wire = malloc(wl + 1);
	struct event *ev = NULL;
	int rc;

	assert_non_null(wire);
	if (hex_decode(wire, wl, v->wire, 2 * wl) != 0)
		fail_msg("%s: wire is not hex", v->name);
	why[0] = '\0';
	rc = event_decode(wire, wl, &ev, why);
	/* judged as a node of the vector's network judges it */
	if (rc == 0 && strcmp(v->network, hex_of(ev->network, WM_NETWORK_LEN, net)) != 0) {
		event_free(ev);
		rc = WM_ENETWORK;
		snprintf(why, sizeof(why), "made in another network");
	}
	if (v->valid) {
		char hex[2 * WM_ID_LEN + 1];

		if (rc != 0)
			fail_msg("%s: valid vector refused: %s: %s", v->name, wm_errname(rc), why);
		hex_encode(hex, ev->id, WM_ID_LEN);
		if (strcmp(hex, v->id) != 0)
			fail_msg("%s: id %s, vector says %s", v->name, hex, v->id);
		if (ev->withheld != v->withheld)
			fail_msg("%s: withheld %d, vector says %d", v->name, ev->withheld, v->withheld);
		event_free(ev);
		(*nvalid)++;
	} else {
		if (rc == 0)
			fail_msg("%s: invalid vector accepted", v->name);
		if (strcmp(wm_errname(rc), v->error) != 0)
			fail_msg("%s: got %s (%s), vector says %s (%s)", v->name, wm_errname(rc), why,
			         v->error, v->reason);
		if (why[0] == '\0')
			fail_msg("%s: no reason given", v->name);
		if (strcmp(why, v->reason) != 0)
			print_message("note: %s: reason now \"%s\", vector has \"%s\"\n", v->name, why, v->reason);
		(*ninvalid)++;
	}
	free(wire);
}

static void test_vectors(void **state)
{
	size_t len = 0, nvalid = 0, ninvalid = 0;
	char *json = slurp(vectors_path, &len);
	const char *p;

	(void)state;
	if (json == NULL)
		fail_msg("cannot read the vectors at %s (set WATCHMESH_VECTORS)", vectors_path);
	p = skip_ws(json);
	assert_int_equal(*p, '[');
	p = skip_ws(p + 1);
	while (*p == '{') {
		struct vec v;

		memset(&v, 0, sizeof(v));
		v.valid = -1;
		p = skip_ws(p + 1);
		while (*p == '"') {
			char *k = NULL, *val = NULL;

			p = skip_ws(json_str(p, &k));
			assert_int_equal(*p, ':');
			p = skip_ws(p + 1);
			if (*p == '"') {
				p = json_str(p, &val);
				if (strcmp(k, "name") == 0)
					snprintf(v.name, sizeof(v.name), "%s", val);
				else if (strcmp(k, "id") == 0)
					snprintf(v.id, sizeof(v.id), "%s", val);
				else if (strcmp(k, "network") == 0)
					snprintf(v.network, sizeof(v.network), "%s", val);
				else if (strcmp(k, "error") == 0)
					snprintf(v.error, sizeof(v.error), "%s", val);
				else if (strcmp(k, "reason") == 0)
					snprintf(v.reason, sizeof(v.reason), "%s", val);
				if (strcmp(k, "wire") == 0)
					v.wire = val;
				else
					free(val);
			} else if (strncmp(p, "true", 4) == 0) {
				p += 4;
				if (strcmp(k, "valid") == 0)
					v.valid = 1;
				else if (strcmp(k, "withheld") == 0)
					v.withheld = 1;
			} else if (strncmp(p, "false", 5) == 0) {
				p += 5;
				if (strcmp(k, "valid") == 0)
					v.valid = 0;
			} else {
				fail_msg("unexpected value for key %s", k);
			}
			free(k);
			p = skip_ws(p);
			if (*p == ',')
				p = skip_ws(p + 1);
		}
		assert_int_equal(*p, '}');
		p = skip_ws(p + 1);
		if (*p == ',')
			p = skip_ws(p + 1);
		if (v.wire == NULL || v.valid < 0)
			fail_msg("vector %s lacks wire or valid", v.name);
		run_vector(&v, &nvalid, &ninvalid);
		free(v.wire);
	}
	assert_int_equal(*p, ']');
	print_message("vectors: %zu valid and %zu invalid, all as expected\n", nvalid, ninvalid);
	/* nine kinds, and the broken ones the brief lists */
	assert_true(nvalid >= 9);
	assert_true(ninvalid >= 40);
	free(json);
}

int main(int argc, char **argv)
{
	static char fallback[4096];
	const char *env = getenv("WATCHMESH_VECTORS");
	const char *src = __FILE__, *slash = strrchr(src, '/');

	snprintf(fallback, sizeof(fallback), "%.*s/../vectors/events.json",
	         slash != NULL ? (int)(slash - src) : 1, slash != NULL ? src : ".");
	vectors_path = env != NULL ? env : argc > 1 ? argv[1] : fallback;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mp_ints),
		cmocka_unit_test(test_mp_lengths),
		cmocka_unit_test(test_mp_types),
		cmocka_unit_test(test_mp_utf8),
		cmocka_unit_test(test_mp_reasons),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_wire_len),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_v2),
		cmocka_unit_test(test_decode_stored),
		cmocka_unit_test(test_drafts),
		cmocka_unit_test(test_vectors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
