/*
 * Unit tests for crypto/: keys, ids, signatures, hex, key files, sealed
 * boxes and the error table.  Known-answer vectors come from FIPS 180-2
 * (SHA-256) and RFC 8032 (Ed25519) so that a wrong primitive cannot pass.
 * Run with WATCHMESH_TEST_FAST_KDF=1 to keep Argon2id cheap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "error.h"
#include "wmcrypto.h"

static const uint8_t seed_a[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const uint8_t seed_b[32] = { 0xb0, 0xb1, 0xb2 };

static struct key *seed_key(const uint8_t seed[32])
{
	struct key *k = NULL;

	assert_int_equal(key_from_seed(seed, &k), 0);
	assert_non_null(k);
	assert_non_null(k->sec);
	return k;
}

static void unhex(uint8_t *out, size_t len, const char *hex)
{
	assert_int_equal(hex_decode(out, len, hex, strlen(hex)), 0);
}

/* --- ids, keys, signatures ---------------------------------------------------- */

static void test_id_sha256_vectors(void **state)
{
	uint8_t id[WM_ID_LEN], want[WM_ID_LEN];
	const char *abc = "abc";
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	(void)state;
	id_compute(id, (const uint8_t *)abc, 3);
	unhex(want, sizeof(want), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_memory_equal(id, want, WM_ID_LEN);

	id_compute(id, (const uint8_t *)two, strlen(two));
	unhex(want, sizeof(want), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	assert_memory_equal(id, want, WM_ID_LEN);

	id_compute(id, (const uint8_t *)"", 0);
	unhex(want, sizeof(want), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_memory_equal(id, want, WM_ID_LEN);
}

static void test_key_from_seed_rfc8032(void **state)
{
	uint8_t seed[32], pub[32];
	struct key *k1, *k2;

	(void)state;
	/* RFC 8032 section 7.1, TEST 1 */
	unhex(seed, 32, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
	unhex(pub, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
	k1 = seed_key(seed);
	k2 = seed_key(seed);
	assert_memory_equal(k1->pub, pub, 32);
	assert_memory_equal(k1->pub, k2->pub, 32);
	assert_memory_equal(k1->sec, k2->sec, WM_SEC_LEN);
	assert_memory_equal(k1->sec, seed, 32);          /* seed || pub */
	assert_memory_equal(k1->sec + 32, pub, 32);
	key_free(k1);
	key_free(k2);

	k1 = seed_key(seed_a);
	k2 = seed_key(seed_b);
	assert_memory_not_equal(k1->pub, k2->pub, 32);
	key_free(k1);
	key_free(k2);
}

static void test_sign_verify(void **state)
{
	struct key *k = NULL, *other = NULL, *pubonly = NULL;
	uint8_t id[WM_ID_LEN], sig[WM_SIG_LEN], sig2[WM_SIG_LEN], bad[WM_ID_LEN];
	size_t i;

	(void)state;
	assert_int_equal(key_generate(&k), 0);
	assert_int_equal(key_generate(&other), 0);
	assert_memory_not_equal(k->pub, other->pub, WM_PUB_LEN);
	id_compute(id, (const uint8_t *)"payload", 7);
	assert_int_equal(key_sign_id(k, id, sig), 0);
	assert_int_equal(sig_verify(k->pub, id, sig), 0);

	/* Ed25519 is deterministic */
	assert_int_equal(key_sign_id(k, id, sig2), 0);
	assert_memory_equal(sig, sig2, WM_SIG_LEN);

	/* every single-bit change of the id or the signature is refused */
	for (i = 0; i < WM_ID_LEN * 8; i++) {
		memcpy(bad, id, WM_ID_LEN);
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(sig_verify(k->pub, bad, sig), WM_ESIG);
	}
	for (i = 0; i < WM_SIG_LEN * 8; i++) {
		memcpy(sig2, sig, WM_SIG_LEN);
		sig2[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(sig_verify(k->pub, id, sig2), WM_ESIG);
	}
	/* another key's public key */
	assert_int_equal(sig_verify(other->pub, id, sig), WM_ESIG);

	/* public-only keys cannot sign; the output is untouched */
	assert_int_equal(key_from_pub(k->pub, &pubonly), 0);
	assert_null(pubonly->sec);
	memset(sig2, 0x5a, sizeof(sig2));
	assert_int_equal(key_sign_id(pubonly, id, sig2), WM_EINVAL);
	assert_int_equal(sig2[0], 0x5a);
	assert_int_equal(sig_verify(pubonly->pub, id, sig), 0);

	key_free(k);
	key_free(other);
	key_free(pubonly);
	key_free(NULL);
}

static void test_helpers(void **state)
{
	uint8_t a[16], b[16];
	uint32_t seen = 0;
	int i;

	(void)state;
	wmc_random(a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_int_equal(wmc_equal(a, b, sizeof(a)), 1);
	b[15] ^= 1;
	assert_int_equal(wmc_equal(a, b, sizeof(a)), 0);
	wmc_wipe(b, sizeof(b));
	for (i = 0; i < 16; i++)
		assert_int_equal(b[i], 0);
	for (i = 0; i < 1000; i++) {
		uint32_t r = wmc_random_uniform(5);

		assert_true(r < 5);
		seen |= 1u << r;
	}
	assert_int_equal(seen, 0x1f);
	assert_int_equal(wmc_random_uniform(1), 0);
	assert_int_equal(wmc_random_uniform(0), 0);
}

/* --- hex ---------------------------------------------------------------------- */

static void test_hex(void **state)
{
	const uint8_t in[5] = { 0x00, 0x7f, 0x80, 0xab, 0xff };
	char out[11];
	uint8_t back[5], one;
	char pair[2];
	int c;

	(void)state;
	hex_encode(out, in, sizeof(in));
	assert_string_equal(out, "007f80abff");
	assert_int_equal(hex_decode(back, sizeof(back), out, 10), 0);
	assert_memory_equal(back, in, sizeof(in));
	assert_int_equal(hex_decode(back, sizeof(back), "007F80ABFF", 10), 0);
	assert_memory_equal(back, in, sizeof(in));
	hex_encode(out, in, 0);
	assert_string_equal(out, "");

	/* every byte value: valid exactly for 0-9 a-f A-F, with the right value */
	for (c = 0; c < 256; c++) {
		int want = (c >= '0' && c <= '9') ? c - '0'
		         : (c >= 'a' && c <= 'f') ? c - 'a' + 10
		         : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;

		pair[0] = '0';
		pair[1] = (char)c;
		one = 0xee;
		if (want < 0) {
			assert_int_equal(hex_decode(&one, 1, pair, 2), WM_EINVAL);
			assert_int_equal(one, 0xee);
		} else {
			assert_int_equal(hex_decode(&one, 1, pair, 2), 0);
			assert_int_equal(one, want);
		}
		pair[0] = (char)c;
		pair[1] = '0';
		one = 0xee;
		if (want < 0) {
			assert_int_equal(hex_decode(&one, 1, pair, 2), WM_EINVAL);
			assert_int_equal(one, 0xee);
		} else {
			assert_int_equal(hex_decode(&one, 1, pair, 2), 0);
			assert_int_equal(one, want << 4);
		}
	}

	/* wrong lengths, bad characters late in the string; out untouched */
	memset(back, 0xee, sizeof(back));
	assert_int_equal(hex_decode(back, 5, "007f80abf", 9), WM_EINVAL);
	assert_int_equal(hex_decode(back, 5, "007f80abff00", 12), WM_EINVAL);
	assert_int_equal(hex_decode(back, 5, "007f80abfg", 10), WM_EINVAL);
	assert_int_equal(hex_decode(back, 5, "007f80ab f", 10), WM_EINVAL);
	assert_int_equal(hex_decode(back, 5, "007f\00080abf", 10), WM_EINVAL);
	assert_int_equal(hex_decode(back, 5, "0x7f80abff", 10), WM_EINVAL);
	assert_int_equal(hex_decode(back, 5, "", 0), WM_EINVAL);
	assert_int_equal(back[0], 0xee);
	assert_int_equal(back[4], 0xee);
	assert_int_equal(hex_decode(back, 5, NULL, 10), WM_EINVAL);
	/* not NUL-terminated: only hexlen bytes are read */
	assert_int_equal(hex_decode(back, 2, "abcdZZ", 4), 0);
	assert_int_equal(back[0], 0xab);
	assert_int_equal(back[1], 0xcd);
}

/* --- key files -------------------------------------------------------------- */

static void test_keyfile_plain_roundtrip(void **state)
{
	struct key *k = seed_key(seed_a), *back = NULL, *pub = NULL;
	char *text = NULL, *text2 = NULL;
	char why[WM_WHY_LEN];
	char pubhex[65];

	(void)state;
	assert_int_equal(keyfile_encode(k, NULL, 0, KEYFILE_MODERATE, &text), 0);
	hex_encode(pubhex, k->pub, 32);
	assert_true(strncmp(text, "watchmesh-key 1\npublic ", 23) == 0);
	assert_non_null(strstr(text, pubhex));
	assert_non_null(strstr(text, "\nsecret "));
	assert_int_equal(keyfile_is_encrypted(text, strlen(text)), 0);
	assert_int_equal(keyfile_decode(text, strlen(text), NULL, 0, &back, why, sizeof(why)), 0);
	assert_memory_equal(back->pub, k->pub, 32);
	assert_non_null(back->sec);
	assert_memory_equal(back->sec, k->sec, WM_SEC_LEN);
	key_free(back);
	back = NULL;

	/* a passphrase given for a plain file is simply not needed */
	assert_int_equal(keyfile_decode(text, strlen(text), "x", 1, &back, why, sizeof(why)), 0);
	key_free(back);
	back = NULL;

	/* the same file written on Windows, or without the last newline */
	{
		char crlf[512];
		size_t i, j = 0;

		for (i = 0; text[i] != '\0'; i++) {
			if (text[i] == '\n')
				crlf[j++] = '\r';
			crlf[j++] = text[i];
		}
		assert_int_equal(keyfile_decode(crlf, j, NULL, 0, &back, why, sizeof(why)), 0);
		assert_memory_equal(back->sec, k->sec, WM_SEC_LEN);
		key_free(back);
		back = NULL;
		assert_int_equal(keyfile_decode(text, strlen(text) - 1, NULL, 0, &back, why, sizeof(why)), 0);
		key_free(back);
		back = NULL;
	}

	/* public-only */
	assert_int_equal(key_from_pub(k->pub, &pub), 0);
	assert_int_equal(keyfile_encode(pub, NULL, 0, KEYFILE_MODERATE, &text2), 0);
	assert_null(strstr(text2, "secret"));
	assert_int_equal(keyfile_is_encrypted(text2, strlen(text2)), 0);
	assert_int_equal(keyfile_decode(text2, strlen(text2), NULL, 0, &back, why, sizeof(why)), 0);
	assert_memory_equal(back->pub, k->pub, 32);
	assert_null(back->sec);
	key_free(back);

	wmc_wipe(text, strlen(text));
	free(text);
	free(text2);
	key_free(pub);
	key_free(k);
}

static void test_keyfile_encrypted_roundtrip(void **state)
{
	struct key *k = seed_key(seed_a), *b = seed_key(seed_b), *back = NULL;
	char *text = NULL, *text2 = NULL, *swapped;
	char why[WM_WHY_LEN];
	const char *pass = "correct horse 电池 staple";
	char sechex[129];

	(void)state;
	assert_int_equal(keyfile_encode(k, pass, strlen(pass), KEYFILE_MODERATE, &text), 0);
	assert_non_null(strstr(text, "\nargon2id 3 8192 "));   /* fast KDF in tests */
	hex_encode(sechex, k->sec, WM_SEC_LEN);
	assert_null(strstr(text, sechex));                     /* no plain secret */
	assert_null(strstr(text, "secret"));
	assert_int_equal(keyfile_is_encrypted(text, strlen(text)), 1);

	assert_int_equal(keyfile_decode(text, strlen(text), pass, strlen(pass), &back, why, sizeof(why)), 0);
	assert_memory_equal(back->pub, k->pub, 32);
	assert_memory_equal(back->sec, k->sec, WM_SEC_LEN);
	key_free(back);
	back = NULL;

	/* wrong passphrase, a prefix of it, the empty one */
	why[0] = '\0';
	assert_int_equal(keyfile_decode(text, strlen(text), "correct horse", 13, &back, why, sizeof(why)),
	                 WM_EPASSPHRASE);
	assert_null(back);
	assert_true(strlen(why) > 0);
	assert_int_equal(keyfile_decode(text, strlen(text), pass, strlen(pass) - 1, &back, why, sizeof(why)),
	                 WM_EPASSPHRASE);
	assert_int_equal(keyfile_decode(text, strlen(text), "", 0, &back, why, sizeof(why)), WM_EPASSPHRASE);
	/* missing passphrase */
	why[0] = '\0';
	assert_int_equal(keyfile_decode(text, strlen(text), NULL, 0, &back, why, sizeof(why)), WM_ENEEDPASS);
	assert_true(strlen(why) > 0);
	assert_null(back);
	/* why may be NULL */
	assert_int_equal(keyfile_decode(text, strlen(text), NULL, 0, &back, NULL, 0), WM_ENEEDPASS);

	/* two encodings of one key differ (fresh salt and nonce) */
	assert_int_equal(keyfile_encode(k, pass, strlen(pass), KEYFILE_MODERATE, &text2), 0);
	assert_string_not_equal(text, text2);

	/* the right passphrase but another key's public line */
	{
		char pa[65], pb[65];
		char *at;

		hex_encode(pa, k->pub, 32);
		hex_encode(pb, b->pub, 32);
		swapped = strdup(text);
		at = strstr(swapped, pa);
		assert_non_null(at);
		memcpy(at, pb, 64);
		assert_int_equal(keyfile_decode(swapped, strlen(swapped), pass, strlen(pass), &back, why,
		                                sizeof(why)), WM_EFORMAT);
		assert_null(back);
		free(swapped);
	}

	/* the cost parameters are read from the file: changing them changes the
	 * derived key, so the right passphrase no longer opens the box */
	swapped = strdup(text);
	memcpy(strstr(swapped, "argon2id 3 8192"), "argon2id 2 8192", 15);
	assert_int_equal(keyfile_decode(swapped, strlen(swapped), pass, strlen(pass), &back, why, sizeof(why)),
	                 WM_EPASSPHRASE);
	/* (Argon2 counts memory in KiB blocks: 9216 bytes, not 9000) */
	memcpy(strstr(swapped, "argon2id 2 8192"), "argon2id 3 9216", 15);
	assert_int_equal(keyfile_decode(swapped, strlen(swapped), pass, strlen(pass), &back, why, sizeof(why)),
	                 WM_EPASSPHRASE);
	free(swapped);

	/* a public-only key ignores the passphrase */
	{
		struct key *p = NULL;
		char *t = NULL;

		assert_int_equal(key_from_pub(b->pub, &p), 0);
		assert_int_equal(keyfile_encode(p, pass, strlen(pass), KEYFILE_MODERATE, &t), 0);
		assert_int_equal(keyfile_is_encrypted(t, strlen(t)), 0);
		free(t);
		key_free(p);
	}

	free(text);
	free(text2);
	key_free(k);
	key_free(b);
}

/* The levels are libsodium's own limits, SENSITIVE for the root key and
 * MODERATE for the rest; the test suite's fast mode keeps the passes. */
static void test_keyfile_levels(void **state)
{
	unsigned long long ops = 0, mem = 0;

	(void)state;
	keyfile_set_fast_kdf(0);
	keyfile_kdf_limits(KEYFILE_SENSITIVE, &ops, &mem);
	assert_int_equal(ops, 4);
	assert_int_equal(mem, 1073741824ULL);
	keyfile_kdf_limits(KEYFILE_MODERATE, &ops, &mem);
	assert_int_equal(ops, 3);
	assert_int_equal(mem, 268435456ULL);
	keyfile_set_fast_kdf(1);
	keyfile_kdf_limits(KEYFILE_SENSITIVE, &ops, &mem);
	assert_int_equal(ops, 4);
	assert_int_equal(mem, 8192);
}

/* One real MODERATE derive each way (about 0.4 s apiece): the written file
 * records the limits it was sealed with. */
static void test_keyfile_moderate(void **state)
{
	struct key *k = seed_key(seed_b), *back = NULL;
	char *text = NULL;

	(void)state;
	keyfile_set_fast_kdf(0);
	assert_int_equal(keyfile_encode(k, "pw", 2, KEYFILE_MODERATE, &text), 0);
	keyfile_set_fast_kdf(1);
	assert_non_null(strstr(text, "\nargon2id 3 268435456 "));
	assert_int_equal(keyfile_decode(text, strlen(text), "pw", 2, &back, NULL, 0), 0);
	assert_memory_equal(back->sec, k->sec, WM_SEC_LEN);
	key_free(back);
	free(text);
	key_free(k);
}

/* A file from before the levels (INTERACTIVE: 2 passes, 64 MiB), sealed by
 * PyNaCl with seed_b's key and the passphrase "old passphrase", still
 * opens: the reader takes the limits from the file. */
static void test_keyfile_old_cost(void **state)
{
	static const char old[] =
		"watchmesh-key 1\n"
		"public 45be6370cc5cf6a5c09e0bd19041a9f2914e5922af230874d4db11b9c5bc2f0c\n"
		"argon2id 2 67108864 000102030405060708090a0b0c0d0e0f "
		"6465666768696a6b6c6d6e6f707172737475767778797a7b "
		"41ba8e50726b20cdbe349d6ade6be03b4438d4f11372b5be3e973e43a2f70cc93aacfc5485455b5df67aab297f1a9e44"
		"670d56d752087b49d5797c144aa6e9efa505c573c7ad8a9051d6a88d13516e5f\n";
	struct key *k = seed_key(seed_b), *back = NULL;

	(void)state;
	assert_int_equal(keyfile_decode(old, strlen(old), "old passphrase", 14, &back, NULL, 0), 0);
	assert_memory_equal(back->sec, k->sec, WM_SEC_LEN);
	key_free(back);
	key_free(k);
}

static char *fmt(const char *f, ...)
{
	static char buf[1024];
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	return buf;
}

static void test_keyfile_broken(void **state)
{
	struct key *a = seed_key(seed_a), *b = seed_key(seed_b);
	char pa[65], pb[65], sa[129], sb[129], sa_mixed[129];
	char salt[33], nonce[49], box[161];
	char argon[400];
	char *cases[64];
	size_t lens[64];
	size_t n = 0, i;

	(void)state;
	hex_encode(pa, a->pub, 32);
	hex_encode(pb, b->pub, 32);
	hex_encode(sa, a->sec, 64);
	hex_encode(sb, b->sec, 64);
	/* a's seed with b's public half: seed and public key disagree */
	memcpy(sa_mixed, sa, 64);
	memcpy(sa_mixed + 64, pb, 65);
	memset(salt, 'a', 32);
	salt[32] = '\0';
	memset(nonce, 'b', 48);
	nonce[48] = '\0';
	memset(box, 'c', 160);
	box[160] = '\0';
	snprintf(argon, sizeof(argon), "argon2id 1 8192 %s %s %s", salt, nonce, box);

#define CASE(s) do { cases[n] = strdup(s); lens[n] = strlen(cases[n]); n++; } while (0)
	CASE("");
	CASE("\n\n");
	CASE(fmt("watchmesh-key 2\npublic %s\n", pa));
	CASE(fmt("WATCHMESH-KEY 1\npublic %s\n", pa));
	CASE(fmt("watchmesh-key 1 \npublic %s\n", pa));
	CASE(fmt(" watchmesh-key 1\npublic %s\n", pa));
	CASE(fmt("public %s\nsecret %s\n", pa, sa));                   /* no header */
	CASE("watchmesh-key 1\n");                                      /* no public */
	CASE(fmt("watchmesh-key 1\nsecret %s\n", sa));
	CASE(fmt("watchmesh-key 1\npublic %.63s\n", pa));               /* short */
	CASE(fmt("watchmesh-key 1\npublic %s0\n", pa));                 /* long */
	CASE(fmt("watchmesh-key 1\npublic g%s\n", pa + 1));             /* bad hex */
	CASE(fmt("watchmesh-key 1\npublic\n"));
	CASE(fmt("watchmesh-key 1\npublic \n"));
	CASE(fmt("watchmesh-key 1\npublic  %s\n", pa));                 /* two spaces */
	CASE(fmt("watchmesh-key 1\npublic %s \n", pa));                 /* trailing space */
	CASE(fmt("watchmesh-key 1\npublic %s extra\n", pa));
	CASE(fmt("watchmesh-key 1\npublic\t%s\n", pa));
	CASE(fmt("watchmesh-key 1\npublic %s\npublic %s\n", pa, pa));   /* duplicate */
	CASE(fmt("watchmesh-key 1\npublic %s\nsecret %.127s\n", pa, sa));
	CASE(fmt("watchmesh-key 1\npublic %s\nsecret %s00\n", pa, sa));
	CASE(fmt("watchmesh-key 1\npublic %s\nsecret %.127sz\n", pa, sa));
	CASE(fmt("watchmesh-key 1\npublic %s\nsecret %s\n", pb, sa));   /* wrong pair */
	CASE(fmt("watchmesh-key 1\npublic %s\nsecret %s\n", pb, sa_mixed));
	CASE(fmt("watchmesh-key 1\npublic %s\nsecret %s\n", pa, sa_mixed));
	CASE(fmt("watchmesh-key 1\npublic %s\nsecret %s\nsecret %s\n", pa, sa, sa));
	CASE(fmt("watchmesh-key 1\npublic %s\nsecret %s\n%s\n", pa, sa, argon));
	CASE(fmt("watchmesh-key 1\npublic %s\nsecret %s\nname alice\n", pa, sa));  /* unknown line */
	CASE(fmt("watchmesh-key 1\npublic %s\n# comment\n", pa));
	CASE(fmt("watchmesh-key 1\npublic %s\nSecret %s\n", pa, sa));
	CASE(fmt("watchmesh-key 1\npublic %s\n%s\n%s\n", pa, argon, argon));
	/* argon2id lines: every field checked before any work is done */
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 0 8192 %s %s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 17 8192 %s %s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 4294967295 8192 %s %s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 99999999999999999999999 8192 %s %s %s\n",
	         pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id -1 8192 %s %s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 01 8192 %s %s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 8191 %s %s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 1099511627776 %s %s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 1073741825 %s %s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 8k %s %s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 8192 %.30s %s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 8192 %s %.46s %s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 8192 %s %s %.158s\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 8192 %s %s %s00\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 8192 %s %s\n", pa, salt, nonce));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 8192 %s %s %s x\n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 8192 %s %s %s \n", pa, salt, nonce, box));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id\n", pa));
	CASE(fmt("watchmesh-key 1\npublic %s\nargon2id 1 8192 %s %s x%.159s\n", pa, salt, nonce, box));
	CASE("\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
#undef CASE
	/* a NUL byte inside an otherwise valid file */
	{
		char *t = strdup(fmt("watchmesh-key 1\npublic %s\nsecret %s\n", pa, sa));

		t[20] = '\0';
		cases[n] = malloc(200);
		memcpy(cases[n], t, 190);
		lens[n] = 190;
		n++;
		free(t);
	}
	assert_true(n <= 64);

	for (i = 0; i < n; i++) {
		struct key *out = NULL;
		char why[WM_WHY_LEN];
		int rc;

		why[0] = '\0';
		/* with and without a passphrase: the format is judged first */
		rc = keyfile_decode(cases[i], lens[i], "pw", 2, &out, why, sizeof(why));
		if (rc != WM_EFORMAT)
			fail_msg("case %zu: got %s (%s) for:\n%.*s", i, wm_errname(rc), why, (int)lens[i], cases[i]);
		assert_null(out);
		assert_true(strlen(why) > 0);
		rc = keyfile_decode(cases[i], lens[i], NULL, 0, &out, why, sizeof(why));
		if (rc != WM_EFORMAT)
			fail_msg("case %zu (no passphrase): got %s (%s)", i, wm_errname(rc), why);
		/* keyfile_is_encrypted agrees, except for pairs that only
		 * decoding can tell apart */
		rc = keyfile_is_encrypted(cases[i], lens[i]);
		assert_true(rc == WM_EFORMAT || rc == 0);
		free(cases[i]);
	}

	/* the sanity of the base: the valid forms decode */
	{
		struct key *out = NULL;
		const char *ok = fmt("watchmesh-key 1\n\npublic %s\nsecret %s\n\n", pa, sa);

		assert_int_equal(keyfile_decode(ok, strlen(ok), NULL, 0, &out, NULL, 0), 0);
		key_free(out);
		out = NULL;
		ok = fmt("watchmesh-key 1\nsecret %s\npublic %s\n", sa, pa);
		assert_int_equal(keyfile_decode(ok, strlen(ok), NULL, 0, &out, NULL, 0), 0);
		key_free(out);
		out = NULL;
		ok = fmt("watchmesh-key 1\npublic %s\n%s\n", pa, argon);
		assert_int_equal(keyfile_decode(ok, strlen(ok), "pw", 2, &out, NULL, 0), WM_EPASSPHRASE);
		assert_int_equal(keyfile_decode(ok, strlen(ok), NULL, 0, &out, NULL, 0), WM_ENEEDPASS);
		assert_int_equal(keyfile_is_encrypted(ok, strlen(ok)), 1);
		assert_null(out);
	}
	key_free(a);
	key_free(b);
}

/* Random damage to valid files never crashes and never yields a key that
 * does not match its file's public line. */
static void test_keyfile_mutations(void **state)
{
	struct key *k = seed_key(seed_a);
	char *plain = NULL, *enc = NULL;
	int round;

	(void)state;
	assert_int_equal(keyfile_encode(k, NULL, 0, KEYFILE_MODERATE, &plain), 0);
	assert_int_equal(keyfile_encode(k, "pw", 2, KEYFILE_MODERATE, &enc), 0);
	for (round = 0; round < 3000; round++) {
		const char *src = (round & 1) ? enc : plain;
		size_t len = strlen(src);
		char buf[512];
		struct key *out = NULL;
		char why[WM_WHY_LEN];
		int flips = 1 + (int)wmc_random_uniform(3), j, rc;

		memcpy(buf, src, len);
		for (j = 0; j < flips; j++) {
			size_t at = wmc_random_uniform((uint32_t)len);

			switch (wmc_random_uniform(3)) {
			case 0: buf[at] = (char)wmc_random_uniform(256); break;
			case 1: buf[at] ^= (char)(1 << wmc_random_uniform(8)); break;
			default: len = at; break;
			}
		}
		rc = keyfile_decode(buf, len, "pw", 2, &out, why, sizeof(why));
		assert_true(rc <= 0);
		if (rc == 0) {
			if (out->sec != NULL)
				assert_memory_equal(out->sec + 32, out->pub, 32);
			key_free(out);
		} else {
			assert_null(out);
			assert_true(rc == WM_EFORMAT || rc == WM_EPASSPHRASE);
		}
	}
	free(plain);
	free(enc);
	key_free(k);
}

/* --- sealed boxes --------------------------------------------------------------- */

#define R3 (const uint8_t(*)[WM_PUB_LEN])

/* A reader whose secret half is held elsewhere (the key agent): its unseal
 * hands seal_open_slot's answer back for the key it stands for. */
static const struct key *held;
static size_t unseal_calls, unseal_slots;

static int held_unseal(const uint8_t pub[WM_PUB_LEN], const uint8_t *slots, size_t n, uint8_t *boxkey)
{
	assert_memory_equal(pub, held->pub, WM_PUB_LEN);
	unseal_calls++;
	unseal_slots = n;
	return seal_open_slot(slots, n, held, boxkey);
}

static void test_seal_unseal(void **state)
{
	struct key *author = NULL, *r = NULL, *other = NULL, *stranger = NULL, *agent = NULL;
	uint8_t recips[2][WM_PUB_LEN], boxkey[WM_SEAL_KEY_LEN];
	const uint8_t ad[] = "kind network author group";
	uint8_t *box = NULL, *msg = NULL;
	size_t boxlen = 0, msglen = 0;

	(void)state;
	assert_int_equal(key_generate(&author), 0);
	assert_int_equal(key_generate(&r), 0);
	assert_int_equal(key_generate(&other), 0);
	assert_int_equal(key_generate(&stranger), 0);
	memcpy(recips[0], other->pub, WM_PUB_LEN);
	memcpy(recips[1], r->pub, WM_PUB_LEN);
	assert_int_equal(seal_box((const uint8_t *)"请帮忙", 9, ad, sizeof ad, R3 recips, 2, author->pub,
	                          &box, &boxlen), 0);
	/* r through its agent: both recipients' slots asked for, the box opens */
	held = r;
	assert_int_equal(key_from_pub(r->pub, &agent), 0);
	agent->unseal = held_unseal;
	assert_true(key_can_open(agent));
	assert_int_equal(seal_open(box, boxlen, ad, sizeof ad, author->pub, agent, &msg, &msglen), 0);
	assert_int_equal(msglen, 9);
	assert_memory_equal(msg, "请帮忙", 9);
	seal_free_msg(msg, msglen);
	msg = NULL;
	assert_int_equal(unseal_calls, 1);
	assert_int_equal(unseal_slots, 2);
	/* the author's own agent is asked for its slot alone */
	held = author;
	memcpy(agent->pub, author->pub, WM_PUB_LEN);
	assert_int_equal(seal_open(box, boxlen, ad, sizeof ad, author->pub, agent, &msg, &msglen), 0);
	seal_free_msg(msg, msglen);
	msg = NULL;
	assert_int_equal(unseal_slots, 1);
	/* an agent for a key that is no recipient opens nothing */
	held = stranger;
	memcpy(agent->pub, held->pub, WM_PUB_LEN);
	assert_int_equal(seal_open(box, boxlen, ad, sizeof ad, author->pub, agent, &msg, &msglen), WM_ENOTFOUND);
	assert_null(msg);
	/* seal_open_slot alone: the recipients' slots, the author's not for r */
	assert_int_equal(seal_open_slot(box + 25, 2, r, boxkey), 0);
	assert_int_equal(seal_open_slot(box + 25 + 2 * WM_SEAL_SLOT_LEN, 1, r, boxkey), WM_ENOTFOUND);
	assert_int_equal(seal_open_slot(box + 25, 2, agent, boxkey), WM_EINVAL);   /* no secret half */
	key_free(agent);
	agent = NULL;
	assert_false(key_can_open(NULL));
	assert_int_equal(key_from_pub(r->pub, &agent), 0);
	assert_false(key_can_open(agent));
	free(box);
	key_free(agent);
	key_free(author);
	key_free(r);
	key_free(other);
	key_free(stranger);
}

static void test_seal_roundtrip(void **state)
{
	struct key *author = NULL, *r[3] = { NULL }, *stranger = NULL, *pubonly = NULL;
	uint8_t recips[3][WM_PUB_LEN];
	const char *text = "我家门口有可疑人员，请民警联系我";
	const uint8_t ad[] = "kind network author group";
	size_t tlen = strlen(text);
	uint8_t *box = NULL, *msg = NULL, *copy;
	size_t boxlen = 0, msglen = 0, i, n = 0;

	(void)state;
	assert_int_equal(key_generate(&author), 0);
	assert_int_equal(key_generate(&stranger), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(key_generate(&r[i]), 0);
		memcpy(recips[i], r[i]->pub, WM_PUB_LEN);
	}
	assert_int_equal(seal_box((const uint8_t *)text, tlen, ad, sizeof ad, R3 recips, 3, author->pub,
	                          &box, &boxlen), 0);
	/* padded to whole blocks: the length says the block count, not the text's */
	assert_int_equal(boxlen, 1 + 24 + 4 * WM_SEAL_SLOT_LEN + WM_SEAL_PAD + 16);
	assert_int_equal(seal_shape(box, boxlen, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i + tlen <= boxlen; i++)
		assert_memory_not_equal(box + i, text, tlen);   /* no plaintext */
	for (i = 0; i + WM_PUB_LEN <= boxlen; i++)            /* no recipient named */
		for (size_t k = 0; k < 3; k++)
			assert_memory_not_equal(box + i, recips[k], WM_PUB_LEN);

	for (i = 0; i < 3; i++) {
		assert_int_equal(seal_open(box, boxlen, ad, sizeof ad, author->pub, r[i], &msg, &msglen), 0);
		assert_int_equal(msglen, tlen);
		assert_memory_equal(msg, text, tlen);
		seal_free_msg(msg, msglen);
		msg = NULL;
	}
	assert_int_equal(seal_open(box, boxlen, ad, sizeof ad, author->pub, author, &msg, &msglen), 0);
	assert_memory_equal(msg, text, tlen);
	seal_free_msg(msg, msglen);
	msg = NULL;

	/* a stranger finds no slot, as author or reader; a recipient with other
	 * associated data opens a slot but not the box (the author is bound by
	 * the caller's associated data: proto/content.c, test_content) */
	assert_int_equal(seal_open(box, boxlen, ad, sizeof ad, author->pub, stranger, &msg, &msglen),
	                 WM_ENOTFOUND);
	assert_null(msg);
	assert_int_equal(seal_open(box, boxlen, ad, sizeof ad - 1, author->pub, r[0], &msg, &msglen),
	                 WM_ECRYPTO);
	assert_int_equal(seal_open(box, boxlen, ad, sizeof ad, stranger->pub, stranger, &msg, &msglen),
	                 WM_ENOTFOUND);
	/* a reader without a secret key */
	assert_int_equal(key_from_pub(r[0]->pub, &pubonly), 0);
	assert_int_equal(seal_open(box, boxlen, ad, sizeof ad, author->pub, pubonly, &msg, &msglen),
	                 WM_EINVAL);

	/* every truncation is refused */
	for (i = 0; i < boxlen; i++)
		assert_true(seal_open(box, i, ad, sizeof ad, author->pub, r[1], &msg, &msglen) < 0);
	/* a changed byte anywhere but another reader's slot fails for r[1]; in
	 * another slot too, as the aead covers the slots */
	copy = malloc(boxlen);
	for (i = 0; i < boxlen; i++) {
		int r1_slot = i >= 25 + WM_SEAL_SLOT_LEN && i < 25 + 2 * WM_SEAL_SLOT_LEN;

		memcpy(copy, box, boxlen);
		copy[i] ^= 0x20;
		if (i == 0)
			assert_true(seal_open(copy, boxlen, ad, sizeof ad, author->pub, r[1], &msg, &msglen) < 0);
		else
			assert_int_equal(seal_open(copy, boxlen, ad, sizeof ad, author->pub, r[1], &msg, &msglen),
			                 r1_slot ? WM_ENOTFOUND : WM_ECRYPTO);
	}
	/* a recipient's slot dropped (the count and length put right): nobody opens it */
	memcpy(copy, box, boxlen);
	copy[0] = 2;
	memmove(copy + 25, copy + 25 + WM_SEAL_SLOT_LEN, boxlen - 25 - WM_SEAL_SLOT_LEN);
	for (i = 1; i < 3; i++)
		assert_int_equal(seal_open(copy, boxlen - WM_SEAL_SLOT_LEN, ad, sizeof ad, author->pub, r[i],
		                           &msg, &msglen), WM_ECRYPTO);
	assert_int_equal(seal_open(copy, boxlen - WM_SEAL_SLOT_LEN, ad, sizeof ad, author->pub, author,
	                           &msg, &msglen), WM_ECRYPTO);
	/* an appended byte */
	copy = realloc(copy, boxlen + 1);
	memcpy(copy, box, boxlen);
	copy[boxlen] = 0;
	assert_int_equal(seal_open(copy, boxlen + 1, ad, sizeof ad, author->pub, r[1], &msg, &msglen),
	                 WM_EINVAL);
	assert_null(msg);
	free(copy);
	free(box);
	box = NULL;

	/* padding: 255 bytes fill one block with its marker, 256 take two */
	{
		static uint8_t big[WM_SEAL_PAD_MAX];

		memset(big, 'a', sizeof big);
		assert_int_equal(seal_box(big, 255, NULL, 0, R3 recips, 1, author->pub, &box, &boxlen), 0);
		assert_int_equal(boxlen, WM_SEAL_HDR(1) + WM_SEAL_PAD + 16);
		free(box);
		assert_int_equal(seal_box(big, 256, NULL, 0, R3 recips, 1, author->pub, &box, &boxlen), 0);
		assert_int_equal(boxlen, WM_SEAL_HDR(1) + 2 * WM_SEAL_PAD + 16);
		assert_int_equal(seal_open(box, boxlen, NULL, 0, author->pub, r[0], &msg, &msglen), 0);
		assert_int_equal(msglen, 256);
		seal_free_msg(msg, msglen);
		msg = NULL;
		free(box);
		box = NULL;
		assert_int_equal(seal_box(big, WM_SEAL_PAD_MAX, NULL, 0, R3 recips, 1, author->pub, &box,
		                          &boxlen), WM_ETOOBIG);
		assert_null(box);
	}

	/* no recipients, too many; a key that is not a curve point */
	{
		uint8_t many[WM_SEAL_MAX_RECIPIENTS + 1][WM_PUB_LEN];
		uint8_t bad[1][WM_PUB_LEN];

		assert_int_equal(seal_box((const uint8_t *)"x", 1, NULL, 0, R3 recips, 0, author->pub, &box,
		                          &boxlen), WM_EINVAL);
		for (i = 0; i <= WM_SEAL_MAX_RECIPIENTS; i++)
			memcpy(many[i], recips[i % 3], 32);
		assert_int_equal(seal_box((const uint8_t *)"x", 1, NULL, 0, R3 many, WM_SEAL_MAX_RECIPIENTS + 1,
		                          author->pub, &box, &boxlen), WM_EINVAL);
		assert_null(box);
		assert_int_equal(seal_box((const uint8_t *)"x", 1, NULL, 0, R3 many, WM_SEAL_MAX_RECIPIENTS,
		                          author->pub, &box, &boxlen), 0);
		/* the last recipient tries all 16 slots' worth and finds its own */
		memcpy(many[15], stranger->pub, WM_PUB_LEN);
		free(box);
		assert_int_equal(seal_box((const uint8_t *)"x", 1, NULL, 0, R3 many, WM_SEAL_MAX_RECIPIENTS,
		                          author->pub, &box, &boxlen), 0);
		assert_int_equal(seal_open(box, boxlen, NULL, 0, author->pub, stranger, &msg, &msglen), 0);
		seal_free_msg(msg, msglen);
		msg = NULL;
		free(box);
		box = NULL;
		memset(bad[0], 0, WM_PUB_LEN);     /* small-order point */
		assert_int_equal(seal_box((const uint8_t *)"x", 1, NULL, 0, R3 bad, 1, author->pub, &box,
		                          &boxlen), WM_ECRYPTO);
		assert_null(box);
	}

	for (i = 0; i < 3; i++)
		key_free(r[i]);
	key_free(author);
	key_free(stranger);
	key_free(pubonly);
	seal_free_msg(NULL, 0);
}

/*
 * Vectors made by another implementation (PyNaCl 1.5, Debian 12), so that
 * the formats in wmcrypto.h are checked, not just our own round trips:
 *
 *   pa, sa = crypto_sign_seed_keypair(bytes(range(1, 33)))
 *   pr, sr = crypto_sign_seed_keypair(bytes([0x42] * 32))
 *   salt = bytes(range(16)); nonce = bytes(range(100, 124))
 *   k = argon2id.kdf(32, b"vector passphrase", salt, opslimit=1, memlimit=8192)
 *   line = SecretBox(k).encrypt(sa, nonce).ciphertext          (MAC || c)
 *   K = bytes([7] * 32); n = bytes([9] * 24)
 *   slot(pk) = SealedBox(PublicKey(crypto_sign_ed25519_pk_to_curve25519(pk))).encrypt(K)
 *   p = msg + b"\x80"; p += bytes(-len(p) % 256)
 *   hdr = bytes([1]) + n + slot(pr) + slot(pa)
 *   box = hdr + crypto_aead_xchacha20poly1305_ietf_encrypt(p, b"vector ad" + hdr, n, K)
 */
static const char vec_keyfile[] =
	"watchmesh-key 1\n"
	"public 79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664\n"
	"argon2id 1 8192 000102030405060708090a0b0c0d0e0f 6465666768696a6b6c6d6e6f707172737475767778797a7b "
		"08bf1b719da1c5bc611129e3ffa0f2d40639bd1065fdf02108f5b163aaea1125"
		"a45217832fa5f8d113293218e6a6857c7d63392b9b43cf1412e9e983f180174d"
		"69aa94ad1aa5a6cb579f36131bf7307c"
	"\n";

static const char vec_box_hex[] =
	"01090909090909090909090909090909090909090909090909842734e47ec121"
	"ff7f836ca8e4278885f48251dacf6ae053d444b60f314b063b06f5c8b9822a40"
	"edfd204873af04f2296c5378f3dfad6ac02d0c4e68b74c9f2d33a7aed4d1a699"
	"9cc723dcae23912add8225d55adc4da3e65e40e9628767f08cbec4777f66f957"
	"c4ad71189c24be8179ff3d9e495f80507d943afcaf01af99fe2b1debf123cc5a"
	"93242260495f121238941347fdd4634467dd791708d8a3e2b158c3606ff60396"
	"de6efb8a878dc2820e84455106c9842163431cabb36faabbf435ccf04a3a2613"
	"b0b4ff5540a0383522b017a29d3f17b54bfbeab551d085319abd720f93b571d8"
	"92a95d25001671bf98e7192508b2f1e33a9c049ed3230822ab2e56a53957745b"
	"1f2e9af2dfe804aa6e846e516dfec1af6bff81fc33e5f5ef555b642f3b40409a"
	"896626c8101552291ce9f8eb4bb73ec35428762b764c3dc76a52927887e80514"
	"59ab51d22725d87144895d37756efa64af5e0be913a7e9a17d15e4d4a51031d0"
	"0b59cec07be05c61b2552d576189600fcc59d5133e32cbc2690c3d38b09a2d14"
	"f06f9c25412eb6494a236990926f6aab13a5bb0d6308a75d81b1d23a08396fde"
	"a9cd2651c83aa9e9ed";

static void test_interop_vectors(void **state)
{
	const char *msg = "求助：邻居家有异味，请民警上门查看";
	uint8_t seed_r[32];
	struct key *a = seed_key(seed_a), *r, *back = NULL;
	const uint8_t ad[] = "vector ad";
	uint8_t box[457];
	uint8_t *out = NULL;
	size_t outlen = 0;

	(void)state;
	memset(seed_r, 0x42, sizeof(seed_r));
	r = seed_key(seed_r);

	assert_int_equal(keyfile_decode(vec_keyfile, strlen(vec_keyfile), "vector passphrase", 17,
	                                &back, NULL, 0), 0);
	assert_memory_equal(back->pub, a->pub, WM_PUB_LEN);
	assert_memory_equal(back->sec, a->sec, WM_SEC_LEN);
	key_free(back);
	back = NULL;
	assert_int_equal(keyfile_decode(vec_keyfile, strlen(vec_keyfile), "vector passphras", 16,
	                                &back, NULL, 0), WM_EPASSPHRASE);

	assert_int_equal(hex_decode(box, sizeof(box), vec_box_hex, strlen(vec_box_hex)), 0);
	assert_int_equal(seal_open(box, sizeof(box), ad, sizeof ad - 1, a->pub, r, &out, &outlen), 0);
	assert_int_equal(outlen, strlen(msg));
	assert_memory_equal(out, msg, outlen);
	seal_free_msg(out, outlen);
	out = NULL;
	assert_int_equal(seal_open(box, sizeof(box), ad, sizeof ad - 1, a->pub, a, &out, &outlen), 0);
	assert_memory_equal(out, msg, outlen);
	seal_free_msg(out, outlen);
	key_free(a);
	key_free(r);
}

/* --- error table ------------------------------------------------------------------ */

static void test_error_table(void **state)
{
	(void)state;
	assert_string_equal(wm_strerror(0), "ok");
	assert_string_equal(wm_strerror(WM_ESIG), "bad signature");
	assert_string_equal(wm_errname(WM_EPASSPHRASE), "WM_EPASSPHRASE");
	assert_string_equal(wm_strerror(-9999), "unknown error");
	assert_string_equal(wm_errname(12345), "WM_E?");
	assert_int_equal(wm_error_is_lasting(WM_ESIG), 1);
	assert_int_equal(wm_error_is_lasting(WM_EUNKNOWNCERT), 0);
	assert_int_equal(wm_error_is_lasting(WM_ERATE), 0);
#define CHECK(name, value, msg) assert_string_equal(wm_strerror(value), msg); \
	assert_string_equal(wm_errname(value), #name);
	WM_ERRORS(CHECK)
#undef CHECK
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_sha256_vectors),
		cmocka_unit_test(test_key_from_seed_rfc8032),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_keyfile_plain_roundtrip),
		cmocka_unit_test(test_keyfile_encrypted_roundtrip),
		cmocka_unit_test(test_keyfile_levels),
		cmocka_unit_test(test_keyfile_moderate),
		cmocka_unit_test(test_keyfile_old_cost),
		cmocka_unit_test(test_keyfile_broken),
		cmocka_unit_test(test_keyfile_mutations),
		cmocka_unit_test(test_seal_roundtrip),
		cmocka_unit_test(test_seal_unseal),
		cmocka_unit_test(test_interop_vectors),
		cmocka_unit_test(test_error_table),
	};

	if (wmc_init() != 0)
		return 1;
	/* The tests look for the fast cost in encoded files, so it is on
	 * whatever WATCHMESH_TEST_FAST_KDF says; test_keyfile_levels and
	 * test_keyfile_moderate check the real ones. */
	keyfile_set_fast_kdf(1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
