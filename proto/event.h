/*
 * proto/event: the v2 event format of proto/PROTOCOL.md (§2, §3), exactly.
 *
 *   wire    = [payload : bin, sig : bin(64), content : bin]   canonical msgpack
 *   id      = SHA-256(payload); sig signs the id
 *   payload = [version 2, kind, author, created_at, network, group, prev, refs,
 *              expires_at, content_hash]                     (the header)
 *   content = canonical map; SHA-256(content) = content_hash
 *
 * A withheld event is [payload, sig]: the header stays provable, the content
 * is gone (a node keeps an event so once a retract of it is held).
 *
 * The decoder is strict: it accepts only the one canonical byte form and
 * rejects everything else with a reason a person can read.  It hashes the
 * bytes that arrived (nothing is re-encoded), checks the signature, decodes
 * the header, then checks the content against its hash and the kind's rules.
 * A decoded event points into the caller's wire buffer, which must outlive
 * it.  proto/ does no I/O and knows nothing of trust or of which network it
 * runs in: those are node/'s business (trust.c, ingest.c).
 */
#ifndef WM_EVENT_H
#define WM_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "wmcrypto.h"

#define WM_MAX_WIRE     65536   /* a whole event, wrapper included */
#define WM_NETWORK_LEN  16      /* the network id of header field 4 */
#define WM_EVENT_VERSION 2
#define WM_MAX_REFS     16
#define WM_GROUP_MAX    64
#define WM_NETWORK_GROUP "network"   /* certs and revocations live here */

enum event_kind {
	KIND_BULLETIN = 1,
	KIND_ALERT    = 2,
	KIND_REQUEST  = 3,
	KIND_REPLY    = 4,
	KIND_STATUS   = 5,
	KIND_RETRACT  = 6,
	KIND_CERT     = 7,
	KIND_REVOKE   = 8,
	KIND_ACK      = 9,
};
#define KIND_MAX 9

/* "bulletin" .. "ack"; NULL for an unknown kind. */
const char *kind_name(unsigned kind);
/* 1..9, or 0 if the name is not a kind. */
unsigned kind_from_name(const char *name);

/* A content value.  Strings and binaries point into the content bytes. */
enum cval_type { CV_STR, CV_BIN, CV_UINT, CV_INT, CV_ARRAY };
struct cval {
	enum cval_type type;
	const uint8_t *ptr;     /* CV_STR (not NUL-terminated), CV_BIN */
	size_t len;             /* bytes for STR/BIN, items for ARRAY */
	uint64_t u;             /* CV_UINT */
	int64_t i;              /* CV_INT: negative values only (canonical) */
	struct cval *items;     /* CV_ARRAY: len items; nested only in a revoke's keep */
};
struct centry {
	const char *key;        /* points into the content; not NUL-terminated */
	size_t keylen;
	struct cval val;
};

/* A decoded, verified event.  Free with event_free(). */
struct event {
	uint8_t id[WM_ID_LEN];
	const uint8_t *wire;    /* the whole wire event (caller's buffer) */
	size_t wire_len;
	const uint8_t *payload;         /* the header's bytes */
	size_t payload_len;
	uint8_t sig[WM_SIG_LEN];
	const uint8_t *cbytes;          /* the content's bytes; NULL when withheld */
	size_t cbytes_len;
	int withheld;                   /* [payload, sig]: no content, ncontent 0 */

	uint64_t version;
	unsigned kind;
	uint8_t author[WM_PUB_LEN];
	uint64_t created_at;            /* ms since the epoch */
	uint8_t network[WM_NETWORK_LEN];
	char group[WM_GROUP_MAX + 1];   /* NUL-terminated copy */
	int has_prev;                   /* 0: the first of a branch */
	uint8_t prev[WM_ID_LEN];
	size_t nrefs;
	uint8_t refs[WM_MAX_REFS][WM_ID_LEN];
	uint64_t expires_at;            /* 0 = never */
	uint8_t content_hash[WM_ID_LEN];
	size_t ncontent;
	struct centry *content;         /* sorted by key, as on the wire */
};

/*
 * Decode and verify one wire event that occupies exactly buf[0..len).
 * Checks, in this order: wrapper shape and canonical form, size, id, the
 * author field, the signature, the rest of the header, the content against
 * content_hash (WM_EHASH, a passing refusal: anyone can pair a genuine
 * header with other bytes), the content's form and the kind's rules
 * (required keys, types, enumerations, sizes).  A withheld event decodes
 * with ev->withheld set and no content: whether to take it is the caller's
 * business.  Does not check created_at against a clock, the network, nor
 * who may sign what.  Returns 0 and *out (caller frees with event_free), or
 * a WM_E* code with `why` filled.
 */
int event_decode(const uint8_t *buf, size_t len, struct event **out, char why[WM_WHY_LEN]);
void event_free(struct event *ev);

/*
 * What can be read of a wire event before its signature is checked, read
 * once through proto/mp's cursor: the wrapper's spans, the id, and the head
 * of the header for routing.  The one reader of the wrapper: event_decode
 * starts from it, and so do ingest, the mesh and the bundle reader, so the
 * id of bytes that arrive is hashed once and handed along.
 *
 * The wrapper must be canonical (shortest headers, a 64-byte signature,
 * at most WM_MAX_WIRE bytes in all); it holds three items, or two when the
 * event is withheld.  The head is read from a header that starts as version
 * 2's array of 10, as far as it is canonical, and is not judged: kind,
 * author and group stay 0 / NULL where it stops.  Nothing in it is verified, so use it to route
 * and to count, never to trust.
 */
struct event_peek {
	const uint8_t *wire;        /* buf as given */
	size_t wire_len;            /* bytes the wrapper occupies from wire */
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *sig;         /* WM_SIG_LEN bytes */
	const uint8_t *content;     /* NULL when withheld */
	size_t content_len;
	int withheld;               /* the wrapper is [payload, sig] */
	int has_id;                 /* 0 with EVENT_PEEK_NO_ID */
	uint8_t id[WM_ID_LEN];      /* SHA-256(payload) */
	/* the head: [2, kind, author, created_at, network, group, ...] */
	unsigned kind;              /* 1..255, or 0 if unread (or larger) */
	const uint8_t *author;      /* WM_PUB_LEN bytes, or NULL if unread */
	const char *group;          /* a valid group name (not NUL-terminated), or NULL */
	size_t glen;
};
#define EVENT_PEEK_PREFIX 1u    /* more bytes may follow the event (a bundle); else it fills buf */
#define EVENT_PEEK_NO_ID  2u    /* leave the hash to whoever ingests (a reader that only steps) */

/*
 * Peek at the wire event at buf (len bytes).  0 and *out, or WM_ETRUNCATED
 * (EVENT_PEEK_PREFIX only: the buffer ends inside the event), WM_ETOOBIG
 * (an event over WM_MAX_WIRE), WM_ECANONICAL, WM_EMALFORMED or
 * WM_EINVAL (no buffer), with why filled (why may be NULL).  *out is set
 * only on success and points into buf.
 */
int event_peek(const uint8_t *buf, size_t len, unsigned flags, struct event_peek *out,
               char why[WM_WHY_LEN]);

/* event_decode of an event already peeked with its id (has_id): the
 * wrapper is neither read nor hashed again.  Same result as event_decode
 * on pk->wire[0..pk->wire_len). */
int event_decode_peeked(const struct event_peek *pk, struct event **out, char why[WM_WHY_LEN]);

/* event_decode without the signature check, for bytes read back from a
 * store, which holds only events that passed event_decode: rendering a
 * page of them costs no Ed25519.  Every other check runs.  Never for bytes
 * from a peer, a client or a file. */
int event_decode_stored(const uint8_t *buf, size_t len, struct event **out, char why[WM_WHY_LEN]);
/* event_decode_stored without hashing: ev->id is all zeros and the
 * content is not checked against its hash.  For the store's search, which
 * reads the text of up to a thousand stored events per query, and where
 * the two hashes were most of its cost.  Never for bytes that have not
 * passed event_decode on their way into this node's store. */
int event_decode_unhashed(const uint8_t *buf, size_t len, struct event **out, char why[WM_WHY_LEN]);

/*
 * Length of the wire event that starts at buf (which holds len bytes), read
 * from the wrapper's headers alone: lets a bundle reader step from event to
 * event.  WM_ETRUNCATED if the buffer ends first, WM_EMALFORMED if the
 * bytes there are not a wrapper, WM_ETOOBIG when its headers announce more
 * than WM_MAX_WIRE bytes.  Unlike event_peek it accepts
 * longer headers than needed, so that a bundle reader can step over such
 * an event and report it as refused rather than as unreadable bytes.
 */
int event_wire_len(const uint8_t *buf, size_t len, size_t *out);

/* Content lookups: NULL / WM_ENOTFOUND when the key is absent or of another
 * type.  The string accessor does not NUL-terminate. */
const struct cval *event_get(const struct event *ev, const char *key);
int event_get_str(const struct event *ev, const char *key, const char **s, size_t *len);
int event_get_uint(const struct event *ev, const char *key, uint64_t *v);
int event_get_bin(const struct event *ev, const char *key, const uint8_t **p, size_t *len);

/*
 * Building an event.  Fill a draft; content entries may come in any order
 * (the encoder sorts them) and their str/bin pointers may point anywhere.
 * event_build encodes canonically, signs with `signer` (whose public key
 * must equal draft->author), then decodes the result with event_decode so
 * nothing invalid is ever produced.  *wire is malloc'd; caller frees.
 */
struct event_draft {
	unsigned kind;
	uint8_t author[WM_PUB_LEN];
	uint64_t created_at;
	uint8_t network[WM_NETWORK_LEN];
	const char *group;
	int has_prev;                   /* 0: prev is empty */
	uint8_t prev[WM_ID_LEN];
	size_t nrefs;
	uint8_t refs[WM_MAX_REFS][WM_ID_LEN];
	uint64_t expires_at;
	size_t ncontent;
	struct centry content[32];
};
int event_build(const struct event_draft *d, const struct key *signer,
                uint8_t **wire, size_t *wire_len, uint8_t id[WM_ID_LEN], char why[WM_WHY_LEN]);

/* Convenience for drafts: set content entry i to a string / bin / uint. */
void draft_str(struct event_draft *d, const char *key, const char *val);
void draft_bin(struct event_draft *d, const char *key, const uint8_t *p, size_t len);
void draft_uint(struct event_draft *d, const char *key, uint64_t v);

/*
 * The draft_* setters replace an entry with
 * the same key, else append one; on a full draft (32 entries) they set
 * ncontent to WM_MAX_CONTENT + 1, which event_build refuses (WM_EINVAL),
 * so never index content[] by ncontent without checking it.  Keys and
 * values are not copied: they must outlive event_build.
 */
#define WM_MAX_CONTENT  32      /* content entries per event */
#define WM_MAX_ARRAY    64      /* items in a content array */
#define WM_MAX_KEEP     256     /* entries in a revoke's keep, each a flat array */
#define WM_MAX_KEY      32      /* bytes in a content key: a-z 0-9 _ */

/* A signed integer (negative or not); circle coordinates. */
void draft_int(struct event_draft *d, const char *key, int64_t v);
/* An array of n items (strings, binaries, integers; arrays of those only
 * where the content rules allow, as in a revoke's keep).  `items`
 * is the caller's and must outlive event_build; build them with cval_*:
 *   struct cval c[3] = { cval_int(lat), cval_int(lon), cval_uint(r) };
 *   draft_array(&d, "circle", c, 3);                                      */
void draft_array(struct event_draft *d, const char *key, struct cval *items, size_t n);
struct cval cval_str(const char *s);
struct cval cval_strn(const char *s, size_t len);
struct cval cval_bin(const uint8_t *p, size_t len);
struct cval cval_uint(uint64_t v);
struct cval cval_int(int64_t v);     /* CV_UINT when v >= 0, as decoded */

/* 1 if g[0..len) is a valid group name (1-64 bytes of a-z 0-9 . _ -). */
int event_group_valid(const char *g, size_t len);

/*
 * For tools and tests: sign any payload bytes with k and wrap them
 * canonically with the content bytes (content NULL: a withheld event), with
 * no checks of either (the result may not decode).  *wire malloc'd; caller
 * frees.  WM_EINVAL if k has no secret half.
 */
int event_wrap(const uint8_t *payload, size_t len, const uint8_t *content, size_t clen,
               const struct key *k, uint8_t **wire, size_t *wire_len, uint8_t id[WM_ID_LEN]);

/* The withheld form [payload, sig] of the wire event (whole or withheld
 * already) that fills buf[0..len): what a node keeps of an event once a
 * retract of it is held.  *out malloc'd, caller frees.  0, or event_peek's
 * refusal of the wrapper, or WM_ENOMEM. */
int event_withheld(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen);

#endif
