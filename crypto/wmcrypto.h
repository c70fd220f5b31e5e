/*
 * crypto/: everything watchmesh does with libsodium, and the only place that
 * includes sodium.h.  No I/O: key files are encoded to and decoded from
 * memory here; node/ reads and writes them.
 *
 * Identities are Ed25519 keys.  Event ids are SHA-256 of the payload bytes;
 * signatures are Ed25519 over the 32-byte id.  Secret keys live in
 * sodium_malloc'd memory and are wiped when freed.
 *
 * Return values: 0 on success, a negative WM_E* code (error.h) on
 * failure.  Out-parameters are set only on success.
 */
#ifndef WM_CRYPTO_H
#define WM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define WM_PUB_LEN    32
#define WM_SEC_LEN    64   /* libsodium's Ed25519 secret key: seed || pub */
#define WM_SIG_LEN    64
#define WM_ID_LEN     32
#define WM_SECRET_LEN 32   /* network secret */
#define WM_HEX_PUB    (2 * WM_PUB_LEN)

/* Call once before anything else; safe to call again.  0 or WM_ECRYPTO. */
int wmc_init(void);

/* An Ed25519 identity.  `sec` is sodium_malloc'd and NULL for a key that
 * holds only the public half.  Free with key_free(), which wipes it.  A key
 * whose secret half is held elsewhere (the key agent) has sec NULL, `sign`,
 * which key_sign_id calls, and `unseal`, which seal_open calls with the n
 * slots of a sealed box this key may hold (seal_open_slot's contract).
 * Neither hands the key out. */
struct key {
	uint8_t pub[WM_PUB_LEN];
	uint8_t *sec;
	int (*sign)(const uint8_t pub[WM_PUB_LEN], const uint8_t id[WM_ID_LEN], uint8_t sig[WM_SIG_LEN]);
	int (*unseal)(const uint8_t pub[WM_PUB_LEN], const uint8_t *slots, size_t n, uint8_t *boxkey);
};

/* New random key pair; caller frees with key_free(). */
int key_generate(struct key **out);
/* Deterministic key pair from a 32-byte seed (test vectors, examples). */
int key_from_seed(const uint8_t seed[32], struct key **out);
/* A public-only key. */
int key_from_pub(const uint8_t pub[WM_PUB_LEN], struct key **out);
void key_free(struct key *k);

/* id = SHA-256(payload). */
void id_compute(uint8_t id[WM_ID_LEN], const uint8_t *payload, size_t len);

/* Ed25519 signature over the id, by sec or through sign.  WM_EINVAL if k
 * has neither. */
int key_sign_id(const struct key *k, const uint8_t id[WM_ID_LEN], uint8_t sig[WM_SIG_LEN]);
/* 0 if sig is pub's signature over id, WM_ESIG otherwise. */
int sig_verify(const uint8_t pub[WM_PUB_LEN], const uint8_t id[WM_ID_LEN], const uint8_t sig[WM_SIG_LEN]);

/* Random bytes from the OS. */
void wmc_random(void *buf, size_t len);
/* Uniform random integer in [0, upper). */
uint32_t wmc_random_uniform(uint32_t upper);
/* Wipe memory the compiler may not optimise away. */
void wmc_wipe(void *buf, size_t len);
/* Constant-time equality; 1 if equal. */
int wmc_equal(const void *a, const void *b, size_t len);

/* Lower-case hex.  `out` must hold 2*len+1 bytes; it is NUL-terminated. */
void hex_encode(char *out, const uint8_t *in, size_t len);
/* Exactly 2*len hex digits (either case) into out[len]: 0 or WM_EINVAL.
 * `hex` need not be NUL-terminated; hexlen is its length. */
int hex_decode(uint8_t *out, size_t len, const char *hex, size_t hexlen);

/*
 * Key files: small text files a person can recognise.
 *
 *   watchmesh-key 1
 *   public <64 hex>
 *   secret <128 hex>                                  (plain), or
 *   argon2id <opslimit> <memlimit> <salt hex> <nonce hex> <secretbox hex>
 *
 * The encrypted form seals the 64-byte secret key with crypto_secretbox under
 * a key derived by Argon2id (crypto_pwhash ALG_ARGON2ID13) from the
 * passphrase.  A public-only file has just the first two lines.
 *
 * Exactly: opslimit and memlimit (bytes) are decimal without leading zeros;
 * salt is 16 bytes, nonce 24; the last field is crypto_secretbox_easy's
 * output, MAC (16) || ciphertext (64), 160 hex digits; the 32-byte box key is
 * crypto_pwhash(32, passphrase, salt, opslimit, memlimit, ARGON2ID13).  The
 * writer uses the limits of the level it is given (keyfile_kdf_limits); the
 * reader uses whatever the file records, so files written at older levels
 * (INTERACTIVE, 2 and 67108864) keep opening.  The reader accepts opslimit 1..16 and memlimit
 * 8192..1073741824 (1 GiB) and refuses anything else before doing any work,
 * so a hostile file cannot make us allocate or compute without bound.
 * Lines end in "\n" or "\r\n", the last one optionally; empty lines are
 * ignored; the header comes first, then "public", "secret"/"argon2id" in any
 * order, each once; fields are separated by exactly one space; hex in either
 * case (written lower-case); a secret whose seed does not yield the public
 * key is refused.
 *
 * keyfile_encode: passphrase NULL writes the plain form.  *out is malloc'd
 * text (NUL-terminated) that the caller frees; it holds secret material, so
 * wipe it (wmc_wipe) before free.
 * keyfile_decode: WM_EFORMAT (not a key file; why says what is wrong),
 * WM_ENEEDPASS (encrypted, passphrase NULL), WM_EPASSPHRASE (wrong one).
 * keyfile_is_encrypted: 1, 0, or WM_EFORMAT.
 * keyfile_public: the public key a key file names, read by the same rules
 * without decrypting anything; 0, or WM_EFORMAT (why says what is wrong).
 */
enum keyfile_kdf {
	KEYFILE_MODERATE,     /* personal and station keys: 3 passes, 256 MiB */
	KEYFILE_SENSITIVE,    /* the network's root key: 4 passes, 1 GiB */
};
int keyfile_encode(const struct key *k, const char *passphrase, size_t passlen,
                   enum keyfile_kdf level, char **out);
int keyfile_decode(const char *text, size_t len, const char *passphrase, size_t passlen,
                   struct key **out, char *why, size_t whylen);
int keyfile_is_encrypted(const char *text, size_t len);
int keyfile_public(const char *text, size_t len, uint8_t pub[WM_PUB_LEN], char *why, size_t whylen);

/*
 * Sealed boxes (PROTOCOL.md section 6): a message readable by each of n
 * recipients (1-16) and by the author, and by nobody else, bound to the
 * associated data `ad` the caller gives (proto/content.c: the kind, network,
 * author and group).
 *
 *   box  = n (1) || nonce (24) || slot[0] .. slot[n-1] || slot[n] || aead
 *   K    = 32 random bytes, fresh per box
 *   slot = crypto_box_seal(K, X25519(pk))      80 bytes: recipients, then the author
 *   aead = XChaCha20-Poly1305-IETF(pad(msg), ad || box[0 .. hdr), nonce, K)
 *   pad  = sodium_pad (0x80, then zeros) to a multiple of 256 bytes, at least one byte added
 *
 * The X25519 keys are the birationally converted Ed25519 keys.  The slots
 * name nobody: a recipient tries each of the n; the author opens the last.
 * The aead covers the clear part, so a dropped or changed slot fails the box
 * for everyone.
 *
 * seal_box: *box malloc'd, caller frees; WM_ETOOBIG above WM_SEAL_PAD_MAX
 * padded.  seal_shape: 0 (and *n) if boxlen fits n, the slots and whole pad
 * blocks, else WM_EINVAL.  seal_open: 0 and *msg (sodium_malloc'd; free with
 * seal_free_msg, which wipes); WM_ENOTFOUND when no slot opens for reader (it
 * is not a recipient); WM_ECRYPTO when one does but the rest does not (changed
 * bytes, or other associated data: another author, group or kind);
 * WM_EINVAL for a box of the wrong shape.
 */
#define WM_SEAL_MAX_RECIPIENTS 16
#define WM_SEAL_SLOT_LEN  80
#define WM_SEAL_NONCE_LEN 24
#define WM_SEAL_PAD       256
#define WM_SEAL_PAD_MAX   (72 * WM_SEAL_PAD)     /* 18432: a text of 16000 and all it carries */
#define WM_SEAL_HDR(n)    (1 + WM_SEAL_NONCE_LEN + WM_SEAL_SLOT_LEN * ((size_t)(n) + 1))
int seal_box(const uint8_t *msg, size_t len, const uint8_t *ad, size_t adlen,
             const uint8_t (*recips)[WM_PUB_LEN], size_t n, const uint8_t author[WM_PUB_LEN],
             uint8_t **box, size_t *boxlen);
int seal_shape(const uint8_t *box, size_t boxlen, size_t *n);
int seal_open(const uint8_t *box, size_t boxlen, const uint8_t *ad, size_t adlen,
              const uint8_t author[WM_PUB_LEN], const struct key *reader,
              uint8_t **msg, size_t *msglen);
/* The box key (WM_SEAL_KEY_LEN bytes) from the first of n slots (80 bytes
 * each, one after the other) that reader's secret half opens: 0, or
 * WM_ENOTFOUND when none does, WM_EINVAL without a secret half.  What
 * seal_open does for a reader it holds, and the key agent for one it holds
 * for others.  key_can_open: 1 if k holds its secret half or an agent
 * opens for it. */
#define WM_SEAL_KEY_LEN 32
int seal_open_slot(const uint8_t *slots, size_t n, const struct key *reader, uint8_t *boxkey);
int key_can_open(const struct key *k);
void seal_free_msg(uint8_t *msg, size_t len);

/* Passphrase cost: libsodium's MODERATE or SENSITIVE limits (Argon2id
 * opslimit and memlimit in bytes) for a level.  The test suite may lower
 * them through WATCHMESH_TEST_FAST_KDF=1 being set in the environment of the
 * caller, which then passes fast=1 here: memory drops to the minimum (8 KiB)
 * but the level's passes stay, so a test can still tell the levels apart in
 * a written file. */
void keyfile_kdf_limits(enum keyfile_kdf level, unsigned long long *ops, unsigned long long *mem);
void keyfile_set_fast_kdf(int fast);

/*
 * A small authenticated-encryption box for datagrams keyed by the network
 * secret (the LAN beacons of node/net/beacon.c).
 *
 *   key = BLAKE2b-256(message = context, key = secret)     (crypto_generichash)
 *   box = nonce (24, random) || XChaCha20-Poly1305-IETF(msg, ad = "", key, nonce)
 *
 * so boxlen = msglen + WMC_BOX_OVERHEAD.  Distinct contexts give unrelated
 * keys.  wmc_box_seal: WM_EINVAL if outcap is too small.  wmc_box_open:
 * WM_ECRYPTO for anything that does not verify (another network's box,
 * modified or cut bytes), WM_EINVAL if outcap is too small.  The derived key
 * lives on the stack and is wiped before return.
 */
#define WMC_BOX_OVERHEAD (24 + 16)
int wmc_box_seal(const uint8_t secret[WM_SECRET_LEN], const char *context,
                 const uint8_t *msg, size_t len, uint8_t *out, size_t outcap, size_t *outlen);
int wmc_box_open(const uint8_t secret[WM_SECRET_LEN], const char *context,
                 const uint8_t *box, size_t len, uint8_t *out, size_t outcap, size_t *outlen);

#endif
