/*
 * crypto/wmcrypto.c: the libsodium wrappers declared in wmcrypto.h.
 *
 * Two things a reader must know.  Key files are text a person may have
 * edited, so keyfile_decode parses them like hostile input: every field is
 * length-checked, hex is decoded without data-dependent branches, and the
 * Argon2id cost parameters read from a file are bounded by our own limits
 * (well below libsodium's maxima) before anything is allocated.  Secret
 * material only ever lives in sodium_malloc'd memory or in locals that are
 * wiped before return.
 */
#include "wmcrypto.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define KF_HEADER      "watchmesh-key 1"
#define KF_SALT_LEN    crypto_pwhash_argon2id_SALTBYTES
#define KF_NONCE_LEN   crypto_secretbox_NONCEBYTES
#define KF_BOX_LEN     (crypto_secretbox_MACBYTES + WM_SEC_LEN)

/*
 * Bounds on the cost parameters a key file may ask for.  libsodium's own
 * maxima (4 TiB of memory, 2^32 passes) would let a hostile file stall or
 * exhaust the machine; a node runs on 1-4 GB of RAM, so 1 GiB
 * (MEMLIMIT_SENSITIVE) and 16 passes are the most we will spend.
 */
#define KF_OPS_MAX     16ULL
#define KF_MEM_MAX     ((unsigned long long)crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE)

static int kdf_fast;

int wmc_init(void)
{
	return sodium_init() < 0 ? WM_ECRYPTO : 0;
}

void keyfile_set_fast_kdf(int fast)
{
	kdf_fast = fast != 0;
}

void keyfile_kdf_limits(enum keyfile_kdf level, unsigned long long *ops, unsigned long long *mem)
{
	if (level == KEYFILE_SENSITIVE) {
		*ops = crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE;
		*mem = crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE;
	} else {
		*ops = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
		*mem = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
	}
	if (kdf_fast)
		*mem = crypto_pwhash_argon2id_MEMLIMIT_MIN;
}

/* --- keys ------------------------------------------------------------------ */

static int key_alloc(int with_secret, struct key **out)
{
	struct key *k;

	if (wmc_init() < 0)
		return WM_ECRYPTO;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return WM_ENOMEM;
	if (with_secret) {
		k->sec = sodium_malloc(WM_SEC_LEN);
		if (k->sec == NULL) {
			free(k);
			return WM_ENOMEM;
		}
	}
	*out = k;
	return 0;
}

void key_free(struct key *k)
{
	if (k == NULL)
		return;
	sodium_free(k->sec);    /* wipes; accepts NULL */
	sodium_memzero(k, sizeof(*k));
	free(k);
}

int key_generate(struct key **out)
{
	struct key *k = NULL;
	int rc;

	if (out == NULL)
		return WM_EINVAL;
	if ((rc = key_alloc(1, &k)) < 0)
		return rc;
	if (crypto_sign_keypair(k->pub, k->sec) != 0) {
		key_free(k);
		return WM_ECRYPTO;
	}
	*out = k;
	return 0;
}

int key_from_seed(const uint8_t seed[32], struct key **out)
{
	struct key *k = NULL;
	int rc;

	if (seed == NULL || out == NULL)
		return WM_EINVAL;
	if ((rc = key_alloc(1, &k)) < 0)
		return rc;
	if (crypto_sign_seed_keypair(k->pub, k->sec, seed) != 0) {
		key_free(k);
		return WM_ECRYPTO;
	}
	*out = k;
	return 0;
}

int key_from_pub(const uint8_t pub[WM_PUB_LEN], struct key **out)
{
	struct key *k = NULL;
	int rc;

	if (pub == NULL || out == NULL)
		return WM_EINVAL;
	if ((rc = key_alloc(0, &k)) < 0)
		return rc;
	memcpy(k->pub, pub, WM_PUB_LEN);
	*out = k;
	return 0;
}

/* --- ids and signatures ------------------------------------------------------ */

void id_compute(uint8_t id[WM_ID_LEN], const uint8_t *payload, size_t len)
{
	static const uint8_t empty[1];

	crypto_hash_sha256(id, payload != NULL ? payload : empty,
	                   payload != NULL ? (unsigned long long)len : 0);
}

int key_sign_id(const struct key *k, const uint8_t id[WM_ID_LEN], uint8_t sig[WM_SIG_LEN])
{
	uint8_t tmp[WM_SIG_LEN];

	if (k == NULL || (k->sec == NULL && k->sign == NULL) || id == NULL || sig == NULL)
		return WM_EINVAL;
	if (k->sec == NULL)
		return k->sign(k->pub, id, sig);
	if (crypto_sign_detached(tmp, NULL, id, WM_ID_LEN, k->sec) != 0)
		return WM_ECRYPTO;
	memcpy(sig, tmp, WM_SIG_LEN);
	return 0;
}

int sig_verify(const uint8_t pub[WM_PUB_LEN], const uint8_t id[WM_ID_LEN], const uint8_t sig[WM_SIG_LEN])
{
	if (pub == NULL || id == NULL || sig == NULL)
		return WM_ESIG;
	if (crypto_sign_verify_detached(sig, id, WM_ID_LEN, pub) != 0)
		return WM_ESIG;
	return 0;
}

/* --- small helpers ------------------------------------------------------------ */

void wmc_random(void *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return;
	(void)wmc_init();
	randombytes_buf(buf, len);
}

uint32_t wmc_random_uniform(uint32_t upper)
{
	if (upper < 2)
		return 0;
	(void)wmc_init();
	return randombytes_uniform(upper);
}

void wmc_wipe(void *buf, size_t len)
{
	if (buf != NULL && len > 0)
		sodium_memzero(buf, len);
}

int wmc_equal(const void *a, const void *b, size_t len)
{
	if (len == 0)
		return 1;
	if (a == NULL || b == NULL)
		return 0;
	return sodium_memcmp(a, b, len) == 0;
}

void hex_encode(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (out == NULL)
		return;
	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/*
 * Value of one hex digit, or -1, without branching on the character (it may
 * be key material).  Each term is all-ones when c is in its range.
 */
static int hex_nibble(unsigned char c)
{
	int ch = c;
	int num = ((('0' - 1) - ch) & (ch - ('9' + 1))) >> 8;        /* '0'..'9' */
	int up = ((('A' - 1) - ch) & (ch - ('F' + 1))) >> 8;         /* 'A'..'F' */
	int lo = ((('a' - 1) - ch) & (ch - ('f' + 1))) >> 8;         /* 'a'..'f' */
	int val = (num & (ch - '0')) | (up & (ch - 'A' + 10)) | (lo & (ch - 'a' + 10));

	return val | ~(num | up | lo);  /* -1 when no range matched */
}

int hex_decode(uint8_t *out, size_t len, const char *hex, size_t hexlen)
{
	size_t i;
	int bad = 0;

	if (out == NULL || hex == NULL || len > SIZE_MAX / 2 || hexlen != 2 * len)
		return WM_EINVAL;
	/* Validate everything first so that out is untouched on failure. */
	for (i = 0; i < hexlen; i++)
		bad |= hex_nibble((unsigned char)hex[i]);
	if (bad < 0)
		return WM_EINVAL;
	for (i = 0; i < len; i++)
		out[i] = (uint8_t)((hex_nibble((unsigned char)hex[2 * i]) << 4) |
		                    hex_nibble((unsigned char)hex[2 * i + 1]));
	return 0;
}

/* --- key files ---------------------------------------------------------------- */


/* A key file taken apart; secret fields are wiped by kf_wipe. */
struct kf_parsed {
	int has_public, has_secret, has_argon;
	uint8_t pub[WM_PUB_LEN];
	uint8_t sec[WM_SEC_LEN];                /* plain form only */
	unsigned long long opslimit, memlimit;  /* encrypted form only */
	uint8_t salt[KF_SALT_LEN];
	uint8_t nonce[KF_NONCE_LEN];
	uint8_t box[KF_BOX_LEN];
};

static void kf_wipe(struct kf_parsed *p)
{
	sodium_memzero(p, sizeof(*p));
}

/* Next field of line[*pos..len): fields are separated by exactly one
 * space, so two spaces or a trailing space make an empty field, refused. */
static int kf_field(const char *line, size_t len, size_t *pos, const char **f, size_t *flen)
{
	size_t start = *pos, end;

	if (start < len && start > 0 && line[start] == ' ')
		start++;
	end = start;
	while (end < len && line[end] != ' ')
		end++;
	if (end == start)
		return 0;
	*f = line + start;
	*flen = end - start;
	*pos = end;
	return 1;
}

/* A decimal number without sign or leading zeros, at most `max`. */
static int kf_number(const char *s, size_t len, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return 0;
		d = (unsigned)(s[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (v > max)
		return 0;
	*out = v;
	return 1;
}

static int kf_hex_field(const char *line, size_t len, size_t *pos, uint8_t *out, size_t outlen,
                        const char *what, unsigned lineno, char *why, size_t whylen)
{
	const char *f;
	size_t flen;

	if (!kf_field(line, len, pos, &f, &flen)) {
		wm_whyn(why, whylen, "line %u: %s is missing", lineno, what);
		return 0;
	}
	if (flen != 2 * outlen) {
		wm_whyn(why, whylen, "line %u: %s must be %zu hex digits, not %zu",
		        lineno, what, 2 * outlen, flen);
		return 0;
	}
	if (hex_decode(out, outlen, f, flen) < 0) {
		wm_whyn(why, whylen, "line %u: %s is not valid hex", lineno, what);
		return 0;
	}
	return 1;
}

static int kf_argon_line(const char *line, size_t len, size_t pos, unsigned lineno,
                         struct kf_parsed *p, char *why, size_t whylen)
{
	const char *f;
	size_t flen;

	if (!kf_field(line, len, &pos, &f, &flen) ||
	    !kf_number(f, flen, KF_OPS_MAX, &p->opslimit) ||
	    p->opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN) {
		wm_whyn(why, whylen, "line %u: argon2id opslimit must be a number from %u to %llu",
		        lineno, (unsigned)crypto_pwhash_argon2id_OPSLIMIT_MIN, KF_OPS_MAX);
		return 0;
	}
	if (!kf_field(line, len, &pos, &f, &flen) ||
	    !kf_number(f, flen, KF_MEM_MAX, &p->memlimit) ||
	    p->memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN) {
		wm_whyn(why, whylen, "line %u: argon2id memlimit must be a number of bytes from %u to %llu",
		        lineno, (unsigned)crypto_pwhash_argon2id_MEMLIMIT_MIN, KF_MEM_MAX);
		return 0;
	}
	if (!kf_hex_field(line, len, &pos, p->salt, sizeof(p->salt), "argon2id salt", lineno, why, whylen) ||
	    !kf_hex_field(line, len, &pos, p->nonce, sizeof(p->nonce), "argon2id nonce", lineno, why, whylen) ||
	    !kf_hex_field(line, len, &pos, p->box, sizeof(p->box), "encrypted secret key", lineno, why, whylen))
		return 0;
	if (pos < len) {
		wm_whyn(why, whylen, "line %u: unexpected text after the encrypted secret key", lineno);
		return 0;
	}
	return 1;
}

/*
 * Take a key file apart without decrypting anything.  Lines end in "\n" or
 * "\r\n"; the last newline is optional; empty lines are ignored.  The header
 * comes first; "public", "secret" and "argon2id" lines follow in any order,
 * each at most once, "secret" and "argon2id" excluding each other.
 */
static int kf_parse(const char *text, size_t len, struct kf_parsed *p, char *why, size_t whylen)
{
	size_t start = 0;
	unsigned lineno = 0;
	int seen_header = 0;

	memset(p, 0, sizeof(*p));
	if (text == NULL) {
		wm_whyn(why, whylen, "no key file text");
		return WM_EFORMAT;
	}
	if (memchr(text, '\0', len) != NULL) {
		wm_whyn(why, whylen, "key file contains a NUL byte (binary data?)");
		return WM_EFORMAT;
	}
	while (start < len) {
		const char *line = text + start;
		const char *nl = memchr(line, '\n', len - start);
		size_t linelen = nl != NULL ? (size_t)(nl - line) : len - start;
		size_t pos = 0;
		const char *kw;
		size_t kwlen;

		start += linelen + (nl != NULL);
		lineno++;
		if (linelen > 0 && line[linelen - 1] == '\r')
			linelen--;
		if (linelen == 0)
			continue;
		if (!seen_header) {
			if (linelen != strlen(KF_HEADER) || memcmp(line, KF_HEADER, linelen) != 0) {
				wm_whyn(why, whylen, "not a watchmesh key file: the first line must be \"%s\"",
				        KF_HEADER);
				goto fail;
			}
			seen_header = 1;
			continue;
		}
		if (!kf_field(line, linelen, &pos, &kw, &kwlen)) {
			wm_whyn(why, whylen, "line %u: unrecognised line", lineno);
			goto fail;
		}
		if (kwlen == 6 && memcmp(kw, "public", 6) == 0) {
			if (p->has_public) {
				wm_whyn(why, whylen, "line %u: a second \"public\" line", lineno);
				goto fail;
			}
			if (!kf_hex_field(line, linelen, &pos, p->pub, sizeof(p->pub), "public key",
			                  lineno, why, whylen))
				goto fail;
			p->has_public = 1;
		} else if (kwlen == 6 && memcmp(kw, "secret", 6) == 0) {
			if (p->has_secret || p->has_argon) {
				wm_whyn(why, whylen, "line %u: a second secret key line", lineno);
				goto fail;
			}
			if (!kf_hex_field(line, linelen, &pos, p->sec, sizeof(p->sec), "secret key",
			                  lineno, why, whylen))
				goto fail;
			p->has_secret = 1;
		} else if (kwlen == 8 && memcmp(kw, "argon2id", 8) == 0) {
			if (p->has_secret || p->has_argon) {
				wm_whyn(why, whylen, "line %u: a second secret key line", lineno);
				goto fail;
			}
			if (!kf_argon_line(line, linelen, pos, lineno, p, why, whylen))
				goto fail;
			p->has_argon = 1;
			continue;
		} else {
			wm_whyn(why, whylen, "line %u: unrecognised line (expected public, secret or argon2id)",
			        lineno);
			goto fail;
		}
		if (pos < linelen) {
			wm_whyn(why, whylen, "line %u: unexpected text after the key", lineno);
			goto fail;
		}
	}
	if (!seen_header) {
		wm_whyn(why, whylen, "not a watchmesh key file: it is empty");
		goto fail;
	}
	if (!p->has_public) {
		wm_whyn(why, whylen, "the \"public\" line is missing");
		goto fail;
	}
	return 0;
fail:
	kf_wipe(p);
	return WM_EFORMAT;
}

/* 1 if sec is the secret key of pub: its seed must yield pub, and its
 * second half (libsodium keeps the public key there) must be pub too. */
static int kf_pair_matches(const uint8_t pub[WM_PUB_LEN], const uint8_t sec[WM_SEC_LEN])
{
	uint8_t dpub[WM_PUB_LEN];
	uint8_t dsec[WM_SEC_LEN];
	int ok;

	if (crypto_sign_seed_keypair(dpub, dsec, sec) != 0)
		return 0;
	ok = sodium_memcmp(dpub, pub, WM_PUB_LEN) == 0 &&
	     sodium_memcmp(sec + 32, pub, WM_PUB_LEN) == 0;
	sodium_memzero(dsec, sizeof(dsec));
	return ok;
}

int keyfile_is_encrypted(const char *text, size_t len)
{
	struct kf_parsed p;
	int enc;

	if (kf_parse(text, len, &p, NULL, 0) < 0)
		return WM_EFORMAT;
	enc = p.has_argon;
	kf_wipe(&p);
	return enc;
}

int keyfile_public(const char *text, size_t len, uint8_t pub[WM_PUB_LEN], char *why, size_t whylen)
{
	struct kf_parsed p;
	int rc = kf_parse(text, len, &p, why, whylen);

	if (rc == 0)
		memcpy(pub, p.pub, WM_PUB_LEN);
	kf_wipe(&p);
	return rc < 0 ? rc : 0;
}

static int kf_derive(uint8_t key[crypto_secretbox_KEYBYTES], const char *pass, size_t passlen,
                     const uint8_t salt[KF_SALT_LEN], unsigned long long ops, unsigned long long mem)
{
	static const char empty[1];

	if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, pass != NULL ? pass : empty,
	                  (unsigned long long)passlen, salt, ops, (size_t)mem,
	                  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return errno == ENOMEM ? WM_ENOMEM : WM_ECRYPTO;
	return 0;
}

int keyfile_decode(const char *text, size_t len, const char *passphrase, size_t passlen,
                   struct key **out, char *why, size_t whylen)
{
	struct kf_parsed p;
	struct key *k = NULL;
	uint8_t *dk = NULL;
	int rc;

	if (out == NULL)
		return WM_EINVAL;
	if (wmc_init() < 0)
		return WM_ECRYPTO;
	if ((rc = kf_parse(text, len, &p, why, whylen)) < 0)
		return rc;
	if (!p.has_secret && !p.has_argon) {
		rc = key_from_pub(p.pub, &k);
		goto out;
	}
	if (p.has_argon) {
		if (passphrase == NULL) {
			wm_whyn(why, whylen, "the secret key is encrypted: a passphrase is needed");
			rc = WM_ENEEDPASS;
			goto out;
		}
		dk = sodium_malloc(crypto_secretbox_KEYBYTES);
		if (dk == NULL) {
			rc = WM_ENOMEM;
			goto out;
		}
		rc = kf_derive(dk, passphrase, passlen, p.salt, p.opslimit, p.memlimit);
		if (rc < 0) {
			wm_whyn(why, whylen, "cannot derive the key from the passphrase (%s)", wm_strerror(rc));
			goto out;
		}
		if (crypto_secretbox_open_easy(p.sec, p.box, sizeof(p.box), p.nonce, dk) != 0) {
			wm_whyn(why, whylen, "wrong passphrase (or the encrypted key was altered)");
			rc = WM_EPASSPHRASE;
			goto out;
		}
	}
	if (!kf_pair_matches(p.pub, p.sec)) {
		wm_whyn(why, whylen, "the public key does not belong to the secret key");
		rc = WM_EFORMAT;
		goto out;
	}
	if ((rc = key_alloc(1, &k)) < 0)
		goto out;
	memcpy(k->pub, p.pub, WM_PUB_LEN);
	memcpy(k->sec, p.sec, WM_SEC_LEN);
out:
	sodium_free(dk);
	kf_wipe(&p);
	if (rc == 0)
		*out = k;
	else
		key_free(k);
	return rc;
}

int keyfile_encode(const struct key *k, const char *passphrase, size_t passlen,
                   enum keyfile_kdf level, char **out)
{
	char pubhex[2 * WM_PUB_LEN + 1];
	uint8_t salt[KF_SALT_LEN], nonce[KF_NONCE_LEN], box[KF_BOX_LEN];
	char salthex[2 * KF_SALT_LEN + 1], noncehex[2 * KF_NONCE_LEN + 1];
	char *sechex = NULL, *text = NULL;
	uint8_t *dk = NULL;
	size_t cap;
	int n, rc = 0;

	if (k == NULL || out == NULL)
		return WM_EINVAL;
	if (wmc_init() < 0)
		return WM_ECRYPTO;
	hex_encode(pubhex, k->pub, WM_PUB_LEN);
	/* header, public line, the longest secret line, slack for the numbers */
	cap = sizeof(KF_HEADER) + 8 + sizeof(pubhex) + 10 + 2 * 20 + sizeof(salthex) +
	      sizeof(noncehex) + 2 * KF_BOX_LEN + 2 * WM_SEC_LEN + 16;
	text = malloc(cap);
	/* Hex of secret material goes in guarded memory. */
	sechex = sodium_malloc(2 * KF_BOX_LEN + 2 * WM_SEC_LEN + 2);
	if (text == NULL || sechex == NULL) {
		rc = WM_ENOMEM;
		goto out;
	}
	if (k->sec == NULL) {
		n = snprintf(text, cap, "%s\npublic %s\n", KF_HEADER, pubhex);
	} else if (passphrase == NULL) {
		hex_encode(sechex, k->sec, WM_SEC_LEN);
		n = snprintf(text, cap, "%s\npublic %s\nsecret %s\n", KF_HEADER, pubhex, sechex);
	} else {
		unsigned long long ops, mem;

		keyfile_kdf_limits(level, &ops, &mem);
		dk = sodium_malloc(crypto_secretbox_KEYBYTES);
		if (dk == NULL) {
			rc = WM_ENOMEM;
			goto out;
		}
		randombytes_buf(salt, sizeof(salt));
		randombytes_buf(nonce, sizeof(nonce));
		if ((rc = kf_derive(dk, passphrase, passlen, salt, ops, mem)) < 0)
			goto out;
		if (crypto_secretbox_easy(box, k->sec, WM_SEC_LEN, nonce, dk) != 0) {
			rc = WM_ECRYPTO;
			goto out;
		}
		hex_encode(salthex, salt, sizeof(salt));
		hex_encode(noncehex, nonce, sizeof(nonce));
		hex_encode(sechex, box, sizeof(box));
		n = snprintf(text, cap, "%s\npublic %s\nargon2id %llu %llu %s %s %s\n", KF_HEADER,
		             pubhex, ops, mem, salthex, noncehex, sechex);
	}
	if (n < 0 || (size_t)n >= cap)
		rc = WM_EINVAL;    /* cannot happen: cap covers the longest form */
out:
	sodium_free(dk);
	sodium_free(sechex);
	if (rc < 0 && text != NULL) {
		sodium_memzero(text, cap);
		free(text);
		text = NULL;
	}
	if (rc == 0)
		*out = text;
	return rc;
}

/* --- sealed boxes ---------------------------------------------------------------- */

#define SEAL_KEY_LEN WM_SEAL_KEY_LEN
_Static_assert(WM_SEAL_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "the box key is the AEAD's");
#define SEAL_MAC_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

/* The AEAD's associated data: the caller's, then the box's clear part
 * (count, nonce, slots), so a dropped or changed slot fails it for everyone. */
static uint8_t *seal_ad(const uint8_t *ad, size_t adlen, const uint8_t *box, size_t hdr, size_t *len)
{
	uint8_t *full;

	if (adlen > SIZE_MAX - hdr)
		return NULL;
	full = malloc(adlen + hdr);
	if (full == NULL)
		return NULL;
	if (adlen > 0)
		memcpy(full, ad, adlen);
	memcpy(full + adlen, box, hdr);
	*len = adlen + hdr;
	return full;
}

int seal_box(const uint8_t *msg, size_t len, const uint8_t *ad, size_t adlen,
             const uint8_t (*recips)[WM_PUB_LEN], size_t n, const uint8_t author[WM_PUB_LEN],
             uint8_t **box, size_t *boxlen)
{
	uint8_t *kbuf = NULL, *b = NULL, *fullad = NULL;
	uint8_t xpk[crypto_box_PUBLICKEYBYTES];
	size_t hdr = WM_SEAL_HDR(n), padded, plen = 0, total, fulladlen = 0, i;
	int rc = 0;

	if ((msg == NULL && len > 0) || (ad == NULL && adlen > 0) || recips == NULL || n == 0 ||
	    author == NULL || box == NULL || boxlen == NULL || n > WM_SEAL_MAX_RECIPIENTS)
		return WM_EINVAL;
	if (wmc_init() < 0)
		return WM_ECRYPTO;
	/* sodium_pad always adds at least one byte (0x80) */
	padded = (len / WM_SEAL_PAD + 1) * WM_SEAL_PAD;
	if (padded > WM_SEAL_PAD_MAX)
		return WM_ETOOBIG;
	total = hdr + padded + SEAL_MAC_LEN;
	kbuf = sodium_malloc(SEAL_KEY_LEN);
	b = malloc(total);
	if (kbuf == NULL || b == NULL) {
		rc = WM_ENOMEM;
		goto out;
	}
	randombytes_buf(kbuf, SEAL_KEY_LEN);
	b[0] = (uint8_t)n;
	randombytes_buf(b + 1, WM_SEAL_NONCE_LEN);
	for (i = 0; i <= n; i++) {
		const uint8_t *pk = i < n ? recips[i] : author;

		if (crypto_sign_ed25519_pk_to_curve25519(xpk, pk) != 0 ||
		    crypto_box_seal(b + 1 + WM_SEAL_NONCE_LEN + i * WM_SEAL_SLOT_LEN, kbuf, SEAL_KEY_LEN,
		                    xpk) != 0) {
			rc = WM_ECRYPTO;   /* not a valid Ed25519 public key */
			goto out;
		}
	}
	/* the plaintext is padded in place, where the ciphertext goes */
	if (len > 0)
		memcpy(b + hdr, msg, len);
	if (sodium_pad(&plen, b + hdr, len, WM_SEAL_PAD, padded) != 0 || plen != padded ||
	    (fullad = seal_ad(ad, adlen, b, hdr, &fulladlen)) == NULL) {
		rc = fullad == NULL ? WM_ENOMEM : WM_ECRYPTO;
		goto out;
	}
	crypto_aead_xchacha20poly1305_ietf_encrypt(b + hdr, NULL, b + hdr, padded, fullad, fulladlen,
	                                           NULL, b + 1, kbuf);
out:
	sodium_free(kbuf);
	free(fullad);
	if (rc < 0) {
		if (b != NULL)
			sodium_memzero(b, total);
		free(b);
		return rc;
	}
	*box = b;
	*boxlen = total;
	return 0;
}

int seal_shape(const uint8_t *box, size_t boxlen, size_t *n)
{
	size_t body;

	if (box == NULL || boxlen < 1 || box[0] < 1 || box[0] > WM_SEAL_MAX_RECIPIENTS)
		return WM_EINVAL;
	if (boxlen < WM_SEAL_HDR(box[0]) + SEAL_MAC_LEN)
		return WM_EINVAL;
	body = boxlen - WM_SEAL_HDR(box[0]) - SEAL_MAC_LEN;
	if (body == 0 || body % WM_SEAL_PAD != 0 || body > WM_SEAL_PAD_MAX)
		return WM_EINVAL;
	if (n != NULL)
		*n = box[0];
	return 0;
}

int key_can_open(const struct key *k)
{
	return k != NULL && (k->sec != NULL || k->unseal != NULL);
}

int seal_open_slot(const uint8_t *slots, size_t n, const struct key *reader, uint8_t *boxkey)
{
	uint8_t xpk[crypto_box_PUBLICKEYBYTES], *xsk;
	size_t i;
	int rc = WM_ENOTFOUND;

	if (slots == NULL || reader == NULL || reader->sec == NULL || boxkey == NULL)
		return WM_EINVAL;
	if (wmc_init() < 0 || (xsk = sodium_malloc(crypto_box_SECRETKEYBYTES)) == NULL)
		return WM_ENOMEM;
	if (crypto_sign_ed25519_pk_to_curve25519(xpk, reader->pub) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(xsk, reader->sec) != 0)
		rc = WM_ECRYPTO;
	for (i = 0; i < n && rc == WM_ENOTFOUND; i++)
		if (crypto_box_seal_open(boxkey, slots + i * WM_SEAL_SLOT_LEN, WM_SEAL_SLOT_LEN, xpk, xsk) == 0)
			rc = 0;
	sodium_free(xsk);
	return rc;
}

int seal_open(const uint8_t *box, size_t boxlen, const uint8_t *ad, size_t adlen,
              const uint8_t author[WM_PUB_LEN], const struct key *reader,
              uint8_t **msg, size_t *msglen)
{
	uint8_t *kbuf = NULL, *m = NULL, *fullad = NULL;
	const uint8_t *slots;
	size_t n = 0, hdr, nslots, padded, fulladlen = 0;
	unsigned long long mlen = 0;
	int rc = 0;

	if ((ad == NULL && adlen > 0) || author == NULL || !key_can_open(reader) ||
	    msg == NULL || msglen == NULL)
		return WM_EINVAL;
	if (seal_shape(box, boxlen, &n) != 0)
		return WM_EINVAL;
	if (wmc_init() < 0)
		return WM_ECRYPTO;
	hdr = WM_SEAL_HDR(n);
	padded = boxlen - hdr - SEAL_MAC_LEN;
	/* the slots name nobody: a recipient tries each (at most 16); the
	 * author's is the last */
	slots = box + 1 + WM_SEAL_NONCE_LEN;
	if (memcmp(author, reader->pub, WM_PUB_LEN) == 0) {
		slots += n * WM_SEAL_SLOT_LEN;
		nslots = 1;
	} else {
		nslots = n;
	}
	kbuf = sodium_malloc(SEAL_KEY_LEN);
	m = sodium_malloc(padded);
	if (kbuf == NULL || m == NULL) {
		rc = WM_ENOMEM;
		goto out;
	}
	rc = reader->sec ? seal_open_slot(slots, nslots, reader, kbuf) : reader->unseal(reader->pub, slots, nslots, kbuf);
	if (rc != 0)
		goto out;
	if ((fullad = seal_ad(ad, adlen, box, hdr, &fulladlen)) == NULL) {
		rc = WM_ENOMEM;
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(m, &mlen, NULL, box + hdr, padded + SEAL_MAC_LEN,
	                                               fullad, fulladlen, box + 1, kbuf) != 0 ||
	    sodium_unpad(&padded, m, (size_t)mlen, WM_SEAL_PAD) != 0) {
		rc = WM_ECRYPTO;
		goto out;
	}
out:
	sodium_free(kbuf);
	free(fullad);
	if (rc < 0) {
		sodium_free(m);
		return rc;
	}
	*msg = m;
	*msglen = padded;
	return 0;
}

void seal_free_msg(uint8_t *msg, size_t len)
{
	(void)len;         /* sodium_free wipes the whole allocation */
	sodium_free(msg);
}

/* --- boxes keyed by the network secret (the LAN beacons, node/net/beacon.c) --- */

static int box_key(uint8_t key[32], const uint8_t secret[WM_SECRET_LEN], const char *context)
{
	return crypto_generichash(key, 32, (const unsigned char *)context, strlen(context),
	                          secret, WM_SECRET_LEN) == 0 ? 0 : WM_ECRYPTO;
}

int wmc_box_seal(const uint8_t secret[WM_SECRET_LEN], const char *context,
                 const uint8_t *msg, size_t len, uint8_t *out, size_t outcap, size_t *outlen)
{
	uint8_t key[32];
	unsigned long long clen = 0;
	int rc;

	if (!secret || !context || (!msg && len) || !out || len > SIZE_MAX - WMC_BOX_OVERHEAD ||
	    outcap < len + WMC_BOX_OVERHEAD)
		return WM_EINVAL;
	rc = box_key(key, secret, context);
	if (rc == 0) {
		randombytes_buf(out, 24);
		if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + 24, &clen, msg, len, NULL, 0,
		                                               NULL, out, key) != 0)
			rc = WM_ECRYPTO;
	}
	sodium_memzero(key, sizeof key);
	if (rc)
		return rc;
	*outlen = 24 + (size_t)clen;
	return 0;
}

int wmc_box_open(const uint8_t secret[WM_SECRET_LEN], const char *context,
                 const uint8_t *box, size_t len, uint8_t *out, size_t outcap, size_t *outlen)
{
	uint8_t key[32];
	unsigned long long mlen = 0;
	int rc;

	if (!secret || !context || (!box && len) || !out)
		return WM_EINVAL;
	if (len < WMC_BOX_OVERHEAD)
		return WM_ECRYPTO;
	if (outcap < len - WMC_BOX_OVERHEAD)
		return WM_EINVAL;
	rc = box_key(key, secret, context);
	if (rc == 0 && crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, box + 24,
	                                                          len - 24, NULL, 0, box, key) != 0)
		rc = WM_ECRYPTO;
	sodium_memzero(key, sizeof key);
	if (rc)
		return rc;
	*outlen = (size_t)mlen;
	return 0;
}
