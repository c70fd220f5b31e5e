/*
 * The mesh link's handshake and encrypted framing (see handshake.h and
 * proto/PROTOCOL.md §12 for the wire description).  A pure state machine: no
 * I/O, no clock of its own (the caller says what time it is).  Every hash is
 * BLAKE2b (crypto_generichash); every label and every concatenated part has
 * a fixed length, so no two inputs can be confused.  The whole state lives in one sodium_malloc'd block that is
 * wiped on free.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "handshake.h"

#define HS_ELEN 32   /* X25519 public key */
#define HS_HLEN 32   /* transcript hash, MAC */
#define HS_TLEN 8    /* message 1's time, masked */
#define HS_TAGLEN 16 /* a replay cache tag: the start of h1 */
#define HS_AEAD_PLAIN (WM_PUB_LEN + WM_SIG_LEN)
#define HS_AEAD_LEN (HS_AEAD_PLAIN + crypto_aead_chacha20poly1305_ietf_ABYTES)

#define HS_L_START  "watchmesh handshake 2"
#define HS_L_MAC    "watchmesh hs2 mac"
#define HS_L_TIME   "watchmesh hs2 time"
#define HS_L_AUTH   "watchmesh hs2 auth"
#define HS_L_SESS   "watchmesh hs2 session"
#define HS_L_SIGI   "watchmesh hs2 initiator"
#define HS_L_SIGR   "watchmesh hs2 responder"
#define HS_LABEL(s) (const uint8_t *)(s), (sizeof(s) - 1)

_Static_assert(HS_MSG1_LEN == 1 + HS_ELEN + HS_TLEN + HS_HLEN, "message 1 size");
_Static_assert(HS_MSG2_LEN == 1 + HS_ELEN + HS_HLEN, "message 2 size");
_Static_assert(HS_REPLAY_REC_LEN == HS_TAGLEN + 8, "replay record size");
_Static_assert(HS_MSG3_LEN == 1 + HS_AEAD_LEN, "message 3 size");
_Static_assert(CHAN_ABYTES == crypto_secretstream_xchacha20poly1305_ABYTES, "abytes");
_Static_assert(CHAN_HEADER_LEN == crypto_secretstream_xchacha20poly1305_HEADERBYTES, "header");

enum hs_state {
	HS_I_INIT,     /* initiator, before hs_start */
	HS_I_WAIT2,    /* initiator, sent 1, waits for 2 */
	HS_I_WAIT4,    /* initiator, sent 3, waits for 4 */
	HS_R_WAIT1,    /* responder, waits for 1 */
	HS_R_WAIT3,    /* responder, sent 2, waits for 3 */
	HS_DONE,
	HS_FAILED,
};

struct hs {
	enum hs_state state;
	int initiator;
	int have_expected;
	int follow;                            /* initiator: the peer may prove another key */
	int alias;                             /* responder: message 1 was made for an alias */
	const uint8_t *aliases;                /* not owned (struct hs_params) */
	size_t naliases;
	struct hs_replay *replay;
	uint64_t now_ms;                       /* the caller's wall clock at hs_new */
	int have_rec;                          /* responder: message 1 accepted, rec is its record */
	uint8_t rec[HS_REPLAY_REC_LEN];
	uint8_t self_sec[WM_SEC_LEN];          /* Ed25519 seed || pub */
	uint8_t self_pub[WM_PUB_LEN];
	uint8_t expected[WM_PUB_LEN];
	uint8_t netsec[WM_SECRET_LEN];
	uint8_t mac_key[HS_HLEN];              /* from the network secret */
	uint8_t e_sec[crypto_scalarmult_SCALARBYTES];
	uint8_t e_pub[HS_ELEN];
	uint8_t ee[crypto_scalarmult_BYTES];   /* X25519(e, peer's e) */
	uint8_t h[HS_HLEN];                    /* running transcript hash */
	uint8_t k3[32], k4[32];                /* message 3 and 4 keys */
	uint8_t init_pub[WM_PUB_LEN];          /* the initiator's node key */
	uint8_t remote_pub[WM_PUB_LEN];
	uint8_t key_i2r[32], key_r2i[32];      /* session keys */
};

struct chan {
	crypto_secretstream_xchacha20poly1305_state tx;
	crypto_secretstream_xchacha20poly1305_state rx;
	uint8_t rx_key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	int rx_ready;     /* peer's header accepted */
	int rx_closed;    /* final frame received, or a failure */
	int tx_closed;    /* final frame sent */
};

struct hs_replay {
	size_t cap, n, next;                   /* a ring: next is the oldest once n == cap */
	uint8_t (*seen)[HS_REPLAY_REC_LEN];    /* records, as saved */
};

/* --- small helpers ---------------------------------------------------------------- */

static void hs_say(char *why, const char *text)
{
	if (why != NULL)
		snprintf(why, WM_WHY_LEN, "%s", text);
}

/* out = BLAKE2b-256(a || b || c), keyed when key != NULL. */
static void hs_hash(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
                    const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                    const uint8_t *c, size_t clen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, key != NULL ? keylen : 0, outlen);
	if (alen > 0)
		crypto_generichash_update(&st, a, alen);
	if (blen > 0)
		crypto_generichash_update(&st, b, blen);
	if (clen > 0)
		crypto_generichash_update(&st, c, clen);
	crypto_generichash_final(&st, out, outlen);
	sodium_memzero(&st, sizeof(st));
}

/* h = H(h || msg) */
static void hs_mix(struct hs *hs, const uint8_t *msg, size_t len)
{
	uint8_t prev[HS_HLEN];

	memcpy(prev, hs->h, sizeof(prev));
	hs_hash(hs->h, HS_HLEN, NULL, 0, prev, sizeof(prev), msg, len, NULL, 0);
}

static int hs_fail(struct hs *hs, int code)
{
	hs->state = HS_FAILED;
	sodium_memzero(hs->e_sec, sizeof(hs->e_sec));
	sodium_memzero(hs->ee, sizeof(hs->ee));
	sodium_memzero(hs->k3, sizeof(hs->k3));
	sodium_memzero(hs->k4, sizeof(hs->k4));
	return code;
}

static size_t hs_expected_len(enum hs_state s)
{
	switch (s) {
	case HS_I_WAIT2: return HS_MSG2_LEN;
	case HS_I_WAIT4: return HS_MSG4_LEN;
	case HS_R_WAIT1: return HS_MSG1_LEN;
	case HS_R_WAIT3: return HS_MSG3_LEN;
	default: return 0;
	}
}

static int hs_msg_number(enum hs_state s)
{
	switch (s) {
	case HS_I_WAIT2: return 2;
	case HS_I_WAIT4: return 4;
	case HS_R_WAIT1: return 1;
	case HS_R_WAIT3: return 3;
	default: return 0;
	}
}

/* --- guarded secrets -------------------------------------------------------------- */

uint8_t *hs_secret_dup(const uint8_t *src, size_t len)
{
	uint8_t *p;

	if (src == NULL || len == 0 || sodium_init() < 0)
		return NULL;
	p = sodium_malloc(len);
	if (p != NULL)
		memcpy(p, src, len);
	return p;
}

void hs_secret_free(uint8_t *p)
{
	if (p != NULL)
		sodium_free(p);   /* wipes */
}

/* --- replay cache ----------------------------------------------------------------- */

int hs_replay_new(size_t capacity, struct hs_replay **out)
{
	struct hs_replay *r;

	if (out == NULL || capacity == 0 || capacity > (1u << 24))
		return WM_EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return WM_ENOMEM;
	r->seen = calloc(capacity, sizeof(*r->seen));
	if (r->seen == NULL) {
		free(r);
		return WM_ENOMEM;
	}
	r->cap = capacity;
	*out = r;
	return 0;
}

void hs_replay_free(struct hs_replay *r)
{
	if (r == NULL)
		return;
	free(r->seen);
	free(r);
}

static void hs_put_be64(uint8_t p[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t hs_get_be64(const uint8_t p[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void hs_replay_put(struct hs_replay *r, const uint8_t rec[HS_REPLAY_REC_LEN])
{
	memcpy(r->seen[r->next], rec, HS_REPLAY_REC_LEN);
	r->next = (r->next + 1) % r->cap;
	if (r->n < r->cap)
		r->n++;
}

/* 1 if rec's tag is held and still valid at now; otherwise records rec and
 * returns 0. */
static int hs_replay_check_add(struct hs_replay *r, const uint8_t rec[HS_REPLAY_REC_LEN], uint64_t now)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (memcmp(r->seen[i], rec, HS_TAGLEN) == 0 && hs_get_be64(r->seen[i] + HS_TAGLEN) >= now)
			return 1;
	hs_replay_put(r, rec);
	return 0;
}

size_t hs_replay_load(struct hs_replay *r, const uint8_t *bytes, size_t len, uint64_t now_ms)
{
	size_t off, added = 0;

	if (r == NULL || bytes == NULL)
		return 0;
	for (off = 0; off + HS_REPLAY_REC_LEN <= len; off += HS_REPLAY_REC_LEN)
		if (hs_get_be64(bytes + off + HS_TAGLEN) >= now_ms) {
			hs_replay_put(r, bytes + off);
			added++;
		}
	return added;
}

size_t hs_replay_save(const struct hs_replay *r, uint8_t *out, size_t cap, uint64_t now_ms)
{
	size_t i, k, n = 0;

	if (r == NULL || out == NULL)
		return 0;
	/* oldest first, so that loading them back keeps the ring's order */
	for (k = 0; k < r->n; k++) {
		i = r->n < r->cap ? k : (r->next + k) % r->cap;
		if (hs_get_be64(r->seen[i] + HS_TAGLEN) < now_ms || n + HS_REPLAY_REC_LEN > cap)
			continue;
		memcpy(out + n, r->seen[i], HS_REPLAY_REC_LEN);
		n += HS_REPLAY_REC_LEN;
	}
	return n;
}

/* --- handshake -------------------------------------------------------------------- */

int hs_new(int initiator, const struct hs_params *p, struct hs **out)
{
	struct hs *hs;

	if (out == NULL || p == NULL || p->self == NULL || p->self->sec == NULL || p->netsec == NULL)
		return WM_EINVAL;
	if (sodium_init() < 0)
		return WM_ECRYPTO;
	hs = sodium_malloc(sizeof(*hs));
	if (hs == NULL)
		return WM_ENOMEM;
	sodium_memzero(hs, sizeof(*hs));
	hs->initiator = initiator != 0;
	hs->state = hs->initiator ? HS_I_INIT : HS_R_WAIT1;
	hs->replay = hs->initiator ? NULL : p->replay;
	hs->now_ms = p->now_ms;
	hs->follow = hs->initiator && p->follow;
	if (!hs->initiator && p->aliases != NULL) {
		hs->aliases = p->aliases;
		hs->naliases = p->naliases;
	}
	memcpy(hs->self_sec, p->self->sec, WM_SEC_LEN);
	memcpy(hs->self_pub, p->self->pub, WM_PUB_LEN);
	memcpy(hs->netsec, p->netsec, WM_SECRET_LEN);
	if (p->expected_pub != NULL) {
		hs->have_expected = 1;
		memcpy(hs->expected, p->expected_pub, WM_PUB_LEN);
	}
	hs_hash(hs->mac_key, HS_HLEN, hs->netsec, WM_SECRET_LEN, HS_LABEL(HS_L_MAC), NULL, 0, NULL, 0);
	hs_hash(hs->h, HS_HLEN, NULL, 0, HS_LABEL(HS_L_START), NULL, 0, NULL, 0);
	crypto_box_keypair(hs->e_pub, hs->e_sec);
	*out = hs;
	return 0;
}

void hs_free(struct hs *hs)
{
	if (hs != NULL)
		sodium_free(hs);   /* wipes */
}

size_t hs_want(const struct hs *hs)
{
	return hs != NULL ? hs_expected_len(hs->state) : 0;
}

int hs_done(const struct hs *hs)
{
	return hs != NULL && hs->state == HS_DONE;
}

int hs_alias(const struct hs *hs)
{
	return hs != NULL && hs->alias;
}

const uint8_t *hs_remote_pub(const struct hs *hs)
{
	return hs_done(hs) ? hs->remote_pub : NULL;
}

/* Message 2: version || e_pub || MAC(mac_key, version || e_pub || h1). */
static void hs_write_msg2(const struct hs *hs, uint8_t *out)
{
	out[0] = HS_VERSION;
	memcpy(out + 1, hs->e_pub, HS_ELEN);
	hs_hash(out + 1 + HS_ELEN, HS_HLEN, hs->mac_key, HS_HLEN, out, 1 + HS_ELEN,
	        hs->h, HS_HLEN, NULL, 0);
}

static int hs_check_msg2(const struct hs *hs, const uint8_t *msg)
{
	uint8_t mac[HS_HLEN];
	int ok;

	hs_hash(mac, HS_HLEN, hs->mac_key, HS_HLEN, msg, 1 + HS_ELEN, hs->h, HS_HLEN, NULL, 0);
	ok = sodium_memcmp(mac, msg + 1 + HS_ELEN, HS_HLEN) == 0;
	sodium_memzero(mac, sizeof(mac));
	return ok;
}

/* The mask that hides message 1's time from everyone without the secret:
 * the first 8 bytes of H_mk(label || E_I), new with every ephemeral key. */
static void hs_time_mask(const struct hs *hs, const uint8_t e_i[HS_ELEN], uint8_t mask[HS_TLEN])
{
	uint8_t full[HS_HLEN];

	hs_hash(full, HS_HLEN, hs->mac_key, HS_HLEN, HS_LABEL(HS_L_TIME), e_i, HS_ELEN, NULL, 0);
	memcpy(mask, full, HS_TLEN);
	sodium_memzero(full, sizeof(full));
}

/* The MAC of message 1 for responder key `to` (NULL: any member). */
static void hs_msg1_mac(const struct hs *hs, const uint8_t *msg, const uint8_t *to, uint8_t mac[HS_HLEN])
{
	static const uint8_t anyone[WM_PUB_LEN];

	hs_hash(mac, HS_HLEN, hs->mac_key, HS_HLEN, msg, 1 + HS_ELEN + HS_TLEN,
	        to != NULL ? to : anyone, WM_PUB_LEN, NULL, 0);
}

/* Message 1: version || e_pub || (time xor mask) || MAC(mk, those || to). */
static void hs_write_msg1(const struct hs *hs, uint8_t *out)
{
	uint8_t mask[HS_TLEN];
	int i;

	out[0] = HS_VERSION;
	memcpy(out + 1, hs->e_pub, HS_ELEN);
	hs_put_be64(out + 1 + HS_ELEN, hs->now_ms);
	hs_time_mask(hs, hs->e_pub, mask);
	for (i = 0; i < HS_TLEN; i++)
		out[1 + HS_ELEN + i] ^= mask[i];
	hs_msg1_mac(hs, out, hs->have_expected ? hs->expected : NULL, out + 1 + HS_ELEN + HS_TLEN);
}

/* A responder accepts message 1 made for its own key or for any member,
 * or for a key it rotated away from (hs->alias is then set). */
static int hs_check_msg1(struct hs *hs, const uint8_t *msg)
{
	uint8_t mac[HS_HLEN];
	size_t i;
	int ok;

	hs_msg1_mac(hs, msg, hs->self_pub, mac);
	ok = sodium_memcmp(mac, msg + 1 + HS_ELEN + HS_TLEN, HS_HLEN) == 0;
	hs_msg1_mac(hs, msg, NULL, mac);
	ok |= sodium_memcmp(mac, msg + 1 + HS_ELEN + HS_TLEN, HS_HLEN) == 0;
	for (i = 0; !ok && i < hs->naliases; i++) {
		hs_msg1_mac(hs, msg, hs->aliases + i * WM_PUB_LEN, mac);
		hs->alias = ok = sodium_memcmp(mac, msg + 1 + HS_ELEN + HS_TLEN, HS_HLEN) == 0;
	}
	sodium_memzero(mac, sizeof(mac));
	return ok;
}

/* Message 1's time, unmasked (after its MAC verified). */
static uint64_t hs_msg1_time(const struct hs *hs, const uint8_t *msg)
{
	uint8_t t[HS_TLEN], mask[HS_TLEN];
	int i;

	hs_time_mask(hs, msg + 1, mask);
	for (i = 0; i < HS_TLEN; i++)
		t[i] = msg[1 + HS_ELEN + i] ^ mask[i];
	return hs_get_be64(t);
}

/* After both ephemerals are in the transcript (h = h2): ee, k3, k4. */
static int hs_derive_auth(struct hs *hs, const uint8_t peer_e[HS_ELEN])
{
	uint8_t k[64];

	if (crypto_scalarmult(hs->ee, hs->e_sec, peer_e) != 0)
		return -1;   /* low-order point: the shared secret would be known */
	sodium_memzero(hs->e_sec, sizeof(hs->e_sec));
	hs_hash(k, sizeof(k), hs->netsec, WM_SECRET_LEN, HS_LABEL(HS_L_AUTH),
	        hs->ee, sizeof(hs->ee), hs->h, HS_HLEN);
	memcpy(hs->k3, k, 32);
	memcpy(hs->k4, k + 32, 32);
	sodium_memzero(k, sizeof(k));
	return 0;
}

/* After message 4 is in the transcript (h = h4): the session keys. */
static void hs_derive_session(struct hs *hs)
{
	uint8_t k[64];

	hs_hash(k, sizeof(k), hs->netsec, WM_SECRET_LEN, HS_LABEL(HS_L_SESS),
	        hs->ee, sizeof(hs->ee), hs->h, HS_HLEN);
	memcpy(hs->key_i2r, k, 32);
	memcpy(hs->key_r2i, k + 32, 32);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(hs->ee, sizeof(hs->ee));
	sodium_memzero(hs->k3, sizeof(hs->k3));
	sodium_memzero(hs->k4, sizeof(hs->k4));
}

/* version || AEAD(key, nonce 0, ad = version || h, self_pub || sig(label || h || pubs)) */
/* What message 3 (by the initiator) or 4 (by the responder) signs: its
 * label, the transcript hash, the initiator's key when the responder
 * signs, and the signer's key.  Returns the length. */
#define HS_SIGNED_MAX (32 + HS_HLEN + 2 * WM_PUB_LEN)
static size_t hs_signed(const struct hs *hs, int by_responder, const uint8_t signer[WM_PUB_LEN],
                        uint8_t out[HS_SIGNED_MAX])
{
	const char *label = by_responder ? HS_L_SIGR : HS_L_SIGI;
	size_t n = strlen(label);

	memcpy(out, label, n);
	memcpy(out + n, hs->h, HS_HLEN);
	n += HS_HLEN;
	if (by_responder) {
		memcpy(out + n, hs->init_pub, WM_PUB_LEN);
		n += WM_PUB_LEN;
	}
	memcpy(out + n, signer, WM_PUB_LEN);
	return n + WM_PUB_LEN;
}

static void hs_write_auth(struct hs *hs, uint8_t *out, const uint8_t key[32], int responder)
{
	uint8_t plain[HS_AEAD_PLAIN], ad[1 + HS_HLEN], nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t signed_msg[HS_SIGNED_MAX];
	size_t slen = hs_signed(hs, responder, hs->self_pub, signed_msg);
	unsigned long long clen;

	memcpy(plain, hs->self_pub, WM_PUB_LEN);
	crypto_sign_detached(plain + WM_PUB_LEN, NULL, signed_msg, slen, hs->self_sec);
	ad[0] = HS_VERSION;
	memcpy(ad + 1, hs->h, HS_HLEN);
	memset(nonce, 0, sizeof(nonce));   /* each key encrypts exactly one message */
	out[0] = HS_VERSION;
	crypto_aead_chacha20poly1305_ietf_encrypt(out + 1, &clen, plain, sizeof(plain), ad, sizeof(ad),
	                                          NULL, nonce, key);
	sodium_memzero(plain, sizeof(plain));
}

/* Opens and verifies message 3 or 4; fills hs->remote_pub (and init_pub
 * for message 3).  0 or a WM_E code with why. */
static int hs_read_auth(struct hs *hs, const uint8_t *msg, const uint8_t key[32], int from_responder,
                        char *why)
{
	uint8_t plain[HS_AEAD_PLAIN], ad[1 + HS_HLEN], nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t signed_msg[HS_SIGNED_MAX];
	unsigned long long plen;
	size_t slen;
	char hex_got[WM_HEX_PUB + 1], hex_want[WM_HEX_PUB + 1];
	int rc = 0;

	ad[0] = HS_VERSION;
	memcpy(ad + 1, hs->h, HS_HLEN);
	memset(nonce, 0, sizeof(nonce));
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plen, NULL, msg + 1, HS_AEAD_LEN,
	                                              ad, sizeof(ad), nonce, key) != 0
	    || plen != HS_AEAD_PLAIN) {
		if (why != NULL)
			snprintf(why, WM_WHY_LEN, "handshake failed: message %d does not decrypt (garbled, replayed, or another network's secret)",
			         from_responder ? 4 : 3);
		return WM_ECRYPTO;
	}
	slen = hs_signed(hs, from_responder, plain, signed_msg);
	if (crypto_sign_verify_detached(plain + WM_PUB_LEN, signed_msg, slen, plain) != 0) {
		hs_say(why, "handshake failed: the peer's signature does not verify");
		rc = WM_ECRYPTO;
		goto out;
	}
	if (sodium_memcmp(plain, hs->self_pub, WM_PUB_LEN) == 0) {
		hs_say(why, "handshake failed: the peer is this node itself");
		rc = WM_EREJECTED;
		goto out;
	}
	if (hs->have_expected && !hs->follow && sodium_memcmp(plain, hs->expected, WM_PUB_LEN) != 0) {
		hex_encode(hex_got, plain, WM_PUB_LEN);
		hex_encode(hex_want, hs->expected, WM_PUB_LEN);
		if (why != NULL)
			snprintf(why, WM_WHY_LEN, "handshake failed: peer key is %.16s..., expected %.16s...",
			         hex_got, hex_want);
		rc = WM_EREJECTED;
		goto out;
	}
	memcpy(hs->remote_pub, plain, WM_PUB_LEN);
	if (!from_responder)
		memcpy(hs->init_pub, plain, WM_PUB_LEN);
out:
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

int hs_start(struct hs *hs, uint8_t out[HS_MSG_MAX], size_t *outlen)
{
	if (hs == NULL || out == NULL || outlen == NULL)
		return WM_EINVAL;
	if (hs->state != HS_I_INIT)
		return WM_EPROTO;
	hs_write_msg1(hs, out);
	hs_mix(hs, out, HS_MSG1_LEN);
	memcpy(hs->init_pub, hs->self_pub, WM_PUB_LEN);
	hs->state = HS_I_WAIT2;
	*outlen = HS_MSG1_LEN;
	return 0;
}

int hs_replay_record(const struct hs *hs, uint8_t rec[HS_REPLAY_REC_LEN])
{
	if (hs == NULL || rec == NULL)
		return WM_EINVAL;
	if (!hs->have_rec)
		return WM_EPROTO;
	memcpy(rec, hs->rec, HS_REPLAY_REC_LEN);
	return 0;
}

int hs_recv(struct hs *hs, const uint8_t *msg, size_t len, uint8_t out[HS_MSG_MAX],
            size_t *outlen, char why[WM_WHY_LEN])
{
	size_t want;
	uint64_t t;
	int rc, late;

	if (hs == NULL || out == NULL || outlen == NULL || (msg == NULL && len > 0))
		return WM_EINVAL;
	want = hs_expected_len(hs->state);
	if (want == 0) {
		if (why != NULL)
			snprintf(why, WM_WHY_LEN, "handshake failed: no message expected now (%s)",
			         hs->state == HS_DONE ? "done" : hs->state == HS_FAILED ? "failed" : "not started");
		return WM_EPROTO;
	}
	if (len != want) {
		if (why != NULL)
			snprintf(why, WM_WHY_LEN, "handshake failed: message %d is %zu bytes, expected %zu",
			         hs_msg_number(hs->state), len, want);
		return hs_fail(hs, WM_ETRUNCATED);
	}
	if (msg[0] != HS_VERSION) {
		if (why != NULL)
			snprintf(why, WM_WHY_LEN, "handshake failed: the peer speaks handshake version %u, we speak %u",
			         (unsigned)msg[0], (unsigned)HS_VERSION);
		return hs_fail(hs, WM_EVERSION);
	}

	switch (hs->state) {
	case HS_R_WAIT1:
		if (!hs_check_msg1(hs, msg)) {
			hs_say(why, "handshake failed: network secret does not match (or message 1 was garbled, or made for another node)");
			return hs_fail(hs, WM_ECRYPTO);
		}
		t = hs_msg1_time(hs, msg);
		late = t < hs->now_ms;
		if ((late ? hs->now_ms - t : t - hs->now_ms) > HS_WINDOW_MS) {
			uint64_t off = late ? hs->now_ms - t : t - hs->now_ms;

			if (why != NULL)
				snprintf(why, WM_WHY_LEN, "handshake failed: message 1 is dated %" PRIu64 " s %s our clock, more than %u s (a replay, or a clock is wrong)",
				         off / 1000, late ? "behind" : "ahead of", HS_WINDOW_MS / 1000);
			return hs_fail(hs, late ? WM_EEXPIRED : WM_EFUTURE);
		}
		hs_mix(hs, msg, HS_MSG1_LEN);
		memcpy(hs->rec, hs->h, HS_TAGLEN);
		hs_put_be64(hs->rec + HS_TAGLEN, t + HS_WINDOW_MS);
		if (hs->replay != NULL && hs_replay_check_add(hs->replay, hs->rec, hs->now_ms)) {
			hs_say(why, "handshake failed: message 1 is a replay");
			return hs_fail(hs, WM_ECRYPTO);
		}
		hs->have_rec = 1;
		hs_write_msg2(hs, out);
		hs_mix(hs, out, HS_MSG2_LEN);
		if (hs_derive_auth(hs, msg + 1) != 0) {
			hs_say(why, "handshake failed: the peer's ephemeral key is invalid");
			return hs_fail(hs, WM_ECRYPTO);
		}
		hs->state = HS_R_WAIT3;
		*outlen = HS_MSG2_LEN;
		return 0;

	case HS_I_WAIT2:
		if (!hs_check_msg2(hs, msg)) {
			hs_say(why, "handshake failed: network secret does not match (message 2 does not verify)");
			return hs_fail(hs, WM_ECRYPTO);
		}
		hs_mix(hs, msg, HS_MSG2_LEN);
		if (hs_derive_auth(hs, msg + 1) != 0) {
			hs_say(why, "handshake failed: the peer's ephemeral key is invalid");
			return hs_fail(hs, WM_ECRYPTO);
		}
		hs_write_auth(hs, out, hs->k3, 0);
		hs_mix(hs, out, HS_MSG3_LEN);
		hs->state = HS_I_WAIT4;
		*outlen = HS_MSG3_LEN;
		return 0;

	case HS_R_WAIT3:
		rc = hs_read_auth(hs, msg, hs->k3, 0, why);
		if (rc != 0)
			return hs_fail(hs, rc);
		hs_mix(hs, msg, HS_MSG3_LEN);
		hs_write_auth(hs, out, hs->k4, 1);
		hs_mix(hs, out, HS_MSG4_LEN);
		hs_derive_session(hs);
		hs->state = HS_DONE;
		*outlen = HS_MSG4_LEN;
		return 0;

	case HS_I_WAIT4:
		rc = hs_read_auth(hs, msg, hs->k4, 1, why);
		if (rc != 0)
			return hs_fail(hs, rc);
		hs_mix(hs, msg, HS_MSG4_LEN);
		hs_derive_session(hs);
		hs->state = HS_DONE;
		*outlen = 0;
		return 0;

	default:
		return WM_EPROTO;
	}
}

/* --- channel ----------------------------------------------------------------------- */

int chan_new(const struct hs *hs, struct chan **out, uint8_t header[CHAN_HEADER_LEN])
{
	struct chan *c;
	const uint8_t *tx_key, *rx_key;

	if (hs == NULL || out == NULL || header == NULL)
		return WM_EINVAL;
	if (hs->state != HS_DONE)
		return WM_EPROTO;
	c = sodium_malloc(sizeof(*c));
	if (c == NULL)
		return WM_ENOMEM;
	sodium_memzero(c, sizeof(*c));
	tx_key = hs->initiator ? hs->key_i2r : hs->key_r2i;
	rx_key = hs->initiator ? hs->key_r2i : hs->key_i2r;
	if (crypto_secretstream_xchacha20poly1305_init_push(&c->tx, header, tx_key) != 0) {
		sodium_free(c);
		return WM_ECRYPTO;
	}
	memcpy(c->rx_key, rx_key, sizeof(c->rx_key));
	*out = c;
	return 0;
}

void chan_free(struct chan *c)
{
	if (c != NULL)
		sodium_free(c);
}

int chan_set_rx_header(struct chan *c, const uint8_t header[CHAN_HEADER_LEN], char why[WM_WHY_LEN])
{
	if (c == NULL || header == NULL)
		return WM_EINVAL;
	if (c->rx_ready || c->rx_closed) {
		hs_say(why, "stream header received twice");
		return WM_EPROTO;
	}
	if (crypto_secretstream_xchacha20poly1305_init_pull(&c->rx, header, c->rx_key) != 0) {
		c->rx_closed = 1;
		hs_say(why, "the peer's stream header is invalid");
		return WM_ECRYPTO;
	}
	sodium_memzero(c->rx_key, sizeof(c->rx_key));
	c->rx_ready = 1;
	return 0;
}

size_t chan_wire_len(size_t plainlen)
{
	return CHAN_PREFIX_LEN + plainlen + CHAN_ABYTES;
}

static void chan_put_be32(uint8_t p[4], uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int chan_seal(struct chan *c, const uint8_t *plain, size_t len, int final,
              uint8_t *out, size_t outcap, size_t *outlen)
{
	unsigned long long clen;
	size_t need;

	if (c == NULL || out == NULL || outlen == NULL || (plain == NULL && len > 0))
		return WM_EINVAL;
	if (len > CHAN_FRAME_MAX)
		return WM_ETOOBIG;
	if (c->tx_closed)
		return WM_EPROTO;
	need = chan_wire_len(len);
	if (outcap < need)
		return WM_EINVAL;
	chan_put_be32(out, (uint32_t)(len + CHAN_ABYTES));
	if (crypto_secretstream_xchacha20poly1305_push(&c->tx, out + CHAN_PREFIX_LEN, &clen, plain, len,
	                                               out, CHAN_PREFIX_LEN,
	                                               final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
	                                                     : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) != 0)
		return WM_ECRYPTO;
	if (final)
		c->tx_closed = 1;
	*outlen = need;
	return 0;
}

int chan_frame_len(const uint8_t prefix[CHAN_PREFIX_LEN], size_t *ctlen, char why[WM_WHY_LEN])
{
	uint32_t n;

	if (prefix == NULL || ctlen == NULL)
		return WM_EINVAL;
	n = (uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16 | (uint32_t)prefix[2] << 8 | prefix[3];
	if (n > CHAN_FRAME_MAX + CHAN_ABYTES) {
		if (why != NULL)
			snprintf(why, WM_WHY_LEN, "frame too large: %lu bytes announced, at most %u allowed",
			         (unsigned long)n, (unsigned)(CHAN_FRAME_MAX + CHAN_ABYTES));
		return WM_ETOOBIG;
	}
	if (n < CHAN_ABYTES) {
		if (why != NULL)
			snprintf(why, WM_WHY_LEN, "frame length %lu is shorter than any frame",
			         (unsigned long)n);
		return WM_EPROTO;
	}
	*ctlen = n;
	return 0;
}

int chan_open(struct chan *c, const uint8_t prefix[CHAN_PREFIX_LEN], const uint8_t *ct,
              size_t ctlen, uint8_t *plain, size_t *plainlen, int *final, char why[WM_WHY_LEN])
{
	unsigned long long mlen;
	unsigned char tag;
	size_t announced;
	int rc;

	if (c == NULL || prefix == NULL || ct == NULL || plainlen == NULL || final == NULL)
		return WM_EINVAL;
	if (!c->rx_ready) {
		hs_say(why, "frame before the stream header");
		return WM_EPROTO;
	}
	if (c->rx_closed) {
		hs_say(why, "frame after the peer's closing frame");
		return WM_EPROTO;
	}
	rc = chan_frame_len(prefix, &announced, why);
	if (rc != 0) {
		c->rx_closed = 1;
		return rc;
	}
	if (announced != ctlen) {
		c->rx_closed = 1;
		if (why != NULL)
			snprintf(why, WM_WHY_LEN, "frame truncated: %zu of %zu bytes", ctlen, announced);
		return WM_ETRUNCATED;
	}
	if (plain == NULL && ctlen > CHAN_ABYTES)
		return WM_EINVAL;
	if (crypto_secretstream_xchacha20poly1305_pull(&c->rx, plain, &mlen, &tag, ct, ctlen,
	                                               prefix, CHAN_PREFIX_LEN) != 0) {
		c->rx_closed = 1;
		hs_say(why, "frame does not decrypt (modified, reordered or replayed)");
		return WM_ECRYPTO;
	}
	if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
	    && tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		c->rx_closed = 1;
		if (plain != NULL)
			sodium_memzero(plain, (size_t)mlen);
		hs_say(why, "frame has an unexpected stream tag");
		return WM_EPROTO;
	}
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL)
		c->rx_closed = 1;
	*final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	*plainlen = (size_t)mlen;
	return 0;
}
