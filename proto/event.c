/*
 * proto/event: decode, verify and build v2 wire events (event.h,
 * PROTOCOL.md).  Decoding uses our strict reader (mp.c) so every refusal
 * names the field and the byte; encoding uses msgpack-c's packer, whose
 * output is the shortest form.  event_build decodes what it encoded, so a
 * bug here cannot put an invalid event on the network.
 *
 * Byte offsets in reasons count from the start of the wire event.
 */
#include "event.h"

#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "content.h"
#include "mp.h"

static const char *const kind_names[KIND_MAX + 1] = {
	NULL, "bulletin", "alert", "request", "reply", "status", "retract", "cert", "revoke", "ack",
};

const char *kind_name(unsigned kind)
{
	return kind >= 1 && kind <= KIND_MAX ? kind_names[kind] : NULL;
}

unsigned kind_from_name(const char *name)
{
	if (name == NULL)
		return 0;
	for (unsigned k = 1; k <= KIND_MAX; k++)
		if (strcmp(kind_names[k], name) == 0)
			return k;
	return 0;
}

int event_group_valid(const char *g, size_t len)
{
	if (g == NULL || len < 1 || len > WM_GROUP_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = g[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int key_valid(const uint8_t *k, size_t len)
{
	if (len < 1 || len > WM_MAX_KEY)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return 1;
}

static void cval_clear(struct cval *v)
{
	if (v->type != CV_ARRAY || v->items == NULL)
		return;
	for (size_t k = 0; k < v->len; k++)
		cval_clear(&v->items[k]);
	free(v->items);
}

void event_free(struct event *ev)
{
	if (ev == NULL)
		return;
	if (ev->content != NULL) {
		for (size_t i = 0; i < ev->ncontent; i++)
			cval_clear(&ev->content[i].val);
		free(ev->content);
	}
	free(ev);
}

/* The decoder reports input that ends early as WM_ETRUNCATED; inside an
 * event whose length the caller gave us, that is simply malformed. */
static int fix(int rc)
{
	return rc == WM_ETRUNCATED ? WM_EMALFORMED : rc;
}

/* One content value: str, bin, int, or a flat array of those; `outer` > 0
 * allows an array of up to `outer` items that may be flat arrays (a
 * revoke's keep). */
static int read_cval(struct mp_reader *r, const char *what, struct cval *v, int nested, size_t outer)
{
	struct mp_item it;
	int rc = mp_read(r, what, &it);

	if (rc != 0)
		return rc;
	memset(v, 0, sizeof(*v));
	switch (it.type) {
	case MP_STR: v->type = CV_STR; v->ptr = it.ptr; v->len = it.len; return 0;
	case MP_BIN: v->type = CV_BIN; v->ptr = it.ptr; v->len = it.len; return 0;
	case MP_UINT: v->type = CV_UINT; v->u = it.u; return 0;
	case MP_NINT: v->type = CV_INT; v->i = it.i; return 0;
	case MP_MAP:
		return mp_fail(r->why, WM_EMALFORMED, "%s: maps are not allowed in content (byte %zu)",
		               what, it.off);
	case MP_ARRAY:
		break;
	}
	if (nested)
		return mp_fail(r->why, WM_EMALFORMED, "%s: arrays inside arrays are not allowed (byte %zu)",
		               what, it.off);
	if (it.len > (outer > 0 ? outer : WM_MAX_ARRAY))
		return mp_fail(r->why, WM_EMALFORMED, "%s: array of %zu items, at most %zu allowed (byte %zu)",
		               what, it.len, outer > 0 ? outer : (size_t)WM_MAX_ARRAY, it.off);
	v->type = CV_ARRAY;
	v->len = it.len;
	if (it.len == 0)
		return 0;
	v->items = calloc(it.len, sizeof(*v->items));
	if (v->items == NULL)
		return WM_ENOMEM;
	for (size_t k = 0; k < it.len; k++) {
		/* an outer array's items may be flat arrays; content.c says which */
		if ((rc = read_cval(r, what, &v->items[k], outer == 0, 0)) != 0)
			return rc;    /* v->items freed by the caller via event_free */
	}
	return 0;
}

static int read_content(struct mp_reader *r, struct event *ev)
{
	size_t n;
	int rc;
	char qa[64], qb[64];

	if ((rc = mp_read_map(r, "content", &n)) != 0)
		return rc;
	if (n > WM_MAX_CONTENT)
		return mp_fail(r->why, WM_EMALFORMED, "content: %zu keys, at most %d allowed", n, WM_MAX_CONTENT);
	if (n == 0)
		return 0;
	ev->content = calloc(n, sizeof(*ev->content));
	if (ev->content == NULL)
		return WM_ENOMEM;
	for (size_t k = 0; k < n; k++) {
		struct centry *e = &ev->content[k];
		const uint8_t *kp;
		size_t kl, koff = r->base + r->pos;
		char what[96];

		if ((rc = mp_read_str(r, "content key", &kp, &kl)) != 0)
			return rc;
		if (!key_valid(kp, kl))
			return mp_fail(r->why, WM_EMALFORMED,
			               "content key '%s' is not 1-%d bytes of a-z 0-9 _ (byte %zu)",
			               mp_quote(qa, sizeof(qa), kp, kl), WM_MAX_KEY, koff);
		if (k > 0) {
			const struct centry *p = &ev->content[k - 1];
			int c = mp_key_cmp((const uint8_t *)p->key, p->keylen, kp, kl);

			if (c == 0)
				return mp_fail(r->why, WM_ECANONICAL, "content: key '%s' appears twice (byte %zu)",
				               mp_quote(qa, sizeof(qa), kp, kl), koff);
			if (c > 0)
				return mp_fail(r->why, WM_ECANONICAL, "content: keys not sorted ('%s' before '%s', byte %zu)",
				               mp_quote(qa, sizeof(qa), (const uint8_t *)p->key, p->keylen),
				               mp_quote(qb, sizeof(qb), kp, kl), koff);
		}
		e->key = (const char *)kp;
		e->keylen = kl;
		ev->ncontent = k + 1;     /* so event_free sees this entry's items */
		snprintf(what, sizeof(what), "content key '%s'", mp_quote(qa, sizeof(qa), kp, kl));
		if ((rc = read_cval(r, what, &e->val, 0, ev->kind == KIND_REVOKE && kl == 4 &&
		                    memcmp(kp, "keep", 4) == 0 ? WM_MAX_KEEP : 0)) != 0)
			return rc;
	}
	return 0;
}

/* The head of the header as far as it is canonical: routing fields, unjudged. */
static void peek_head(struct event_peek *pk)
{
	struct mp_reader r;
	const uint8_t *g, *net;
	uint64_t v, kind, at;
	size_t n;

	mp_reader_init(&r, pk->payload, pk->payload_len, 0, NULL);
	if (mp_read_array(&r, "", &n) != 0 || n != 10 || mp_read_uint(&r, "", &v) != 0 ||
	    v != WM_EVENT_VERSION || mp_read_uint(&r, "", &kind) != 0)
		return;
	pk->kind = kind >= 1 && kind <= 255 ? (unsigned)kind : 0;
	if (mp_read_bin_n(&r, "", WM_PUB_LEN, &pk->author) != 0)
		return;
	if (mp_read_uint(&r, "", &at) != 0 || mp_read_bin_n(&r, "", WM_NETWORK_LEN, &net) != 0 ||
	    mp_read_str(&r, "", &g, &n) != 0 || !event_group_valid((const char *)g, n))
		return;
	pk->group = (const char *)g;
	pk->glen = n;
}

int event_peek(const uint8_t *buf, size_t len, unsigned flags, struct event_peek *out,
               char why[WM_WHY_LEN])
{
	struct mp_reader r;
	struct event_peek pk;
	struct mp_item it;
	int rc;

	if (why != NULL)
		why[0] = '\0';
	if (buf == NULL || out == NULL)
		return mp_fail(why, WM_EINVAL, "event_peek: no input");
	memset(&pk, 0, sizeof(pk));
	mp_reader_init(&r, buf, len, 0, why);
	if ((rc = mp_read(&r, "event", &it)) != 0)
		goto out;
	if (it.type != MP_ARRAY) {
		rc = mp_fail(why, WM_EMALFORMED, "event: expected an array [payload, signature, content], found %s",
		             mp_type_name(it.type));
		goto out;
	}
	if (it.len != 3 && it.len != 2) {
		rc = mp_fail(why, WM_EMALFORMED,
		             "event: array of %zu items, expected 3 (payload, signature, content) or 2 (withheld)",
		             it.len);
		goto out;
	}
	pk.withheld = it.len == 2;
	if ((rc = mp_read(&r, "payload", &it)) != 0)
		goto out;
	if (it.type != MP_BIN) {
		rc = mp_fail(why, WM_EMALFORMED, "payload: expected a binary, found %s", mp_type_name(it.type));
		goto out;
	}
	if (it.len > WM_MAX_WIRE) {
		rc = mp_fail(why, WM_ETOOBIG, "payload: %zu bytes, an event is at most %d", it.len, WM_MAX_WIRE);
		goto out;
	}
	pk.payload = it.ptr;
	pk.payload_len = it.len;
	if ((rc = mp_read_bin_n(&r, "signature", WM_SIG_LEN, &pk.sig)) != 0)
		goto out;
	if (!pk.withheld) {
		if ((rc = mp_read(&r, "content", &it)) != 0)
			goto out;
		if (it.type != MP_BIN) {
			rc = mp_fail(why, WM_EMALFORMED, "content: expected a binary, found %s", mp_type_name(it.type));
			goto out;
		}
		pk.content = it.ptr;
		pk.content_len = it.len;
	}
	if (r.pos > WM_MAX_WIRE) {
		rc = mp_fail(why, WM_ETOOBIG, "event: %zu bytes, at most %d allowed", r.pos, WM_MAX_WIRE);
		goto out;
	}
	if (!(flags & EVENT_PEEK_PREFIX) && (rc = mp_expect_end(&r, "event")) != 0)
		goto out;
	pk.wire = buf;
	pk.wire_len = r.pos;
	if (!(flags & EVENT_PEEK_NO_ID)) {
		id_compute(pk.id, pk.payload, pk.payload_len);
		pk.has_id = 1;
	}
	peek_head(&pk);
	*out = pk;
	return 0;
out:
	/* in an event whose length the caller gave, input that ends early is
	 * simply malformed */
	return (flags & EVENT_PEEK_PREFIX) ? rc : fix(rc);
}

/* What decode_peeked checks beside the form: the signature (bytes from
 * anyone), the content's hash (bytes read back from a store). */
#define CHECK_SIG 1u
#define CHECK_HASH 2u
static int decode_peeked(const struct event_peek *pk, unsigned checks, struct event **out,
                         char why[WM_WHY_LEN]);

/* The event_decode* entry points: peek with peekflags, decode with checks. */
static int decode_buf(const char *name, const uint8_t *buf, size_t len, unsigned peekflags, unsigned checks,
                      struct event **out, char why[WM_WHY_LEN])
{
	struct event_peek pk;
	int rc;

	if (why != NULL)
		why[0] = '\0';
	if (buf == NULL || out == NULL)
		return mp_fail(why, WM_EINVAL, "%s: no input", name);
	if ((rc = event_peek(buf, len, peekflags, &pk, why)) != 0)
		return rc;
	if (peekflags & EVENT_PEEK_NO_ID)
		memset(pk.id, 0, WM_ID_LEN);
	return decode_peeked(&pk, checks, out, why);
}

int event_decode(const uint8_t *buf, size_t len, struct event **out, char why[WM_WHY_LEN])
{
	if (buf != NULL && len > WM_MAX_WIRE + 16)  /* leave a few bytes over to the wrapper's reasons */
		return mp_fail(why, WM_ETOOBIG, "event: %zu bytes, at most %d allowed", len, WM_MAX_WIRE);
	return decode_buf("event_decode", buf, len, 0, CHECK_SIG | CHECK_HASH, out, why);
}

int event_decode_peeked(const struct event_peek *pk, struct event **out, char why[WM_WHY_LEN])
{
	return decode_peeked(pk, CHECK_SIG | CHECK_HASH, out, why);
}

int event_decode_stored(const uint8_t *buf, size_t len, struct event **out, char why[WM_WHY_LEN])
{
	return decode_buf("event_decode_stored", buf, len, 0, CHECK_HASH, out, why);
}

int event_decode_unhashed(const uint8_t *buf, size_t len, struct event **out, char why[WM_WHY_LEN])
{
	return decode_buf("event_decode_unhashed", buf, len, EVENT_PEEK_NO_ID, 0, out, why);
}

static int decode_peeked(const struct event_peek *pk, unsigned checks, struct event **out,
                         char why[WM_WHY_LEN])
{
	struct mp_reader r;
	struct event *ev = NULL;
	const uint8_t *p;
	uint8_t chash[WM_ID_LEN];
	size_t n, glen;
	uint64_t kind;
	int rc;
	char q[64];

	if (why != NULL)
		why[0] = '\0';
	if (pk == NULL || (!pk->has_id && checks != 0) || out == NULL)
		return mp_fail(why, WM_EINVAL, "event_decode_peeked: no peeked event with its id");
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return WM_ENOMEM;
	ev->wire = pk->wire;
	ev->wire_len = pk->wire_len;
	ev->payload = pk->payload;
	ev->payload_len = pk->payload_len;
	memcpy(ev->sig, pk->sig, WM_SIG_LEN);
	memcpy(ev->id, pk->id, WM_ID_LEN);

	ev->withheld = pk->withheld;
	ev->cbytes = pk->content;
	ev->cbytes_len = pk->content_len;

	/* the header up to the author, enough to check the signature */
	mp_reader_init(&r, pk->payload, pk->payload_len, (size_t)(pk->payload - pk->wire), why);
	if ((rc = mp_read_array(&r, "header", &n)) != 0)
		goto out;
	if (n == 0) {
		rc = mp_fail(why, WM_EMALFORMED, "header: empty array, expected 10 fields");
		goto out;
	}
	if ((rc = mp_read_uint(&r, "version", &ev->version)) != 0)
		goto out;
	if (ev->version == 1) {
		rc = mp_fail(why, WM_EVERSION, "version 1 is retired: this node reads version 2 only "
		             "(make the event again with this version of watchmesh)");
		goto out;
	}
	if (ev->version != WM_EVENT_VERSION) {
		rc = mp_fail(why, WM_EVERSION, "version: %llu is not supported (this node reads version 2)",
		             (unsigned long long)ev->version);
		goto out;
	}
	if (n != 10) {
		rc = mp_fail(why, WM_EMALFORMED, "header: %zu fields, expected 10", n);
		goto out;
	}
	if ((rc = mp_read_uint(&r, "kind", &kind)) != 0)
		goto out;
	if ((rc = mp_read_bin_n(&r, "author", WM_PUB_LEN, &p)) != 0)
		goto out;
	memcpy(ev->author, p, WM_PUB_LEN);
	if ((checks & CHECK_SIG) && sig_verify(ev->author, ev->id, ev->sig) != 0) {
		rc = mp_fail(why, WM_ESIG, "signature does not verify");
		goto out;
	}

	/* the rest of the header */
	if (kind < 1 || kind > KIND_MAX) {
		rc = mp_fail(why, WM_EMALFORMED, "kind: %llu is not a known kind (1-%d)",
		             (unsigned long long)kind, KIND_MAX);
		goto out;
	}
	ev->kind = (unsigned)kind;
	if ((rc = mp_read_uint(&r, "created_at", &ev->created_at)) != 0)
		goto out;
	if (ev->created_at == 0) {
		rc = mp_fail(why, WM_EMALFORMED, "created_at: must be greater than 0");
		goto out;
	}
	if ((rc = mp_read_bin_n(&r, "network", WM_NETWORK_LEN, &p)) != 0)
		goto out;
	memcpy(ev->network, p, WM_NETWORK_LEN);
	if ((rc = mp_read_str(&r, "group", &p, &glen)) != 0)
		goto out;
	if (!event_group_valid((const char *)p, glen)) {
		rc = mp_fail(why, WM_EMALFORMED, glen < 1 || glen > WM_GROUP_MAX ?
		             "group '%s' is not 1-64 bytes long" :
		             "group '%s' has characters outside a-z 0-9 . _ -", mp_quote(q, sizeof(q), p, glen));
		goto out;
	}
	memcpy(ev->group, p, glen);
	ev->group[glen] = '\0';
	if ((rc = mp_read_bin(&r, "prev", &p, &n)) != 0)
		goto out;
	if (n != 0 && n != WM_ID_LEN) {
		rc = mp_fail(why, WM_EMALFORMED, "prev: %zu bytes, expected 0 (first of a branch) or %d", n, WM_ID_LEN);
		goto out;
	}
	ev->has_prev = n == WM_ID_LEN;
	if (ev->has_prev)
		memcpy(ev->prev, p, WM_ID_LEN);
	if ((rc = mp_read_array(&r, "refs", &n)) != 0)
		goto out;
	if (n > WM_MAX_REFS) {
		rc = mp_fail(why, WM_EMALFORMED, "refs: %zu ids, at most %d allowed", n, WM_MAX_REFS);
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		char what[32];

		snprintf(what, sizeof(what), "refs[%zu]", k);
		if ((rc = mp_read_bin_n(&r, what, WM_ID_LEN, &p)) != 0)
			goto out;
		memcpy(ev->refs[k], p, WM_ID_LEN);
	}
	ev->nrefs = n;
	if ((rc = mp_read_uint(&r, "expires_at", &ev->expires_at)) != 0)
		goto out;
	if (ev->expires_at != 0 && ev->expires_at <= ev->created_at) {
		rc = mp_fail(why, WM_EMALFORMED, "expires_at: %llu is not after created_at %llu (use 0 for never)",
		             (unsigned long long)ev->expires_at, (unsigned long long)ev->created_at);
		goto out;
	}
	if ((rc = mp_read_bin_n(&r, "content_hash", WM_ID_LEN, &p)) != 0)
		goto out;
	memcpy(ev->content_hash, p, WM_ID_LEN);
	if ((rc = mp_expect_end(&r, "header")) != 0)
		goto out;
	if (ev->withheld) {
		*out = ev;
		return 0;
	}

	/* the content: first that it is the one the author signed, so that
	 * whatever is wrong with it after that is the author's doing */
	if (checks & CHECK_HASH)
		id_compute(chash, pk->content, pk->content_len);
	if ((checks & CHECK_HASH) && memcmp(chash, ev->content_hash, WM_ID_LEN) != 0) {
		rc = mp_fail(why, WM_EHASH, "content: its SHA-256 is not the header's content_hash "
		             "(the content was changed or replaced after signing)");
		goto out;
	}
	mp_reader_init(&r, pk->content, pk->content_len, (size_t)(pk->content - pk->wire), why);
	if ((rc = read_content(&r, ev)) != 0)
		goto out;
	if ((rc = mp_expect_end(&r, "content")) != 0)
		goto out;
	if ((rc = content_check(ev, why)) != 0)
		goto out;
	*out = ev;
	return 0;
out:
	event_free(ev);
	return fix(rc);
}

int event_wire_len(const uint8_t *buf, size_t len, size_t *out)
{
	size_t hdr, items, pos;
	uint8_t c;

	if (buf == NULL || out == NULL)
		return WM_EINVAL;
	if (len == 0)
		return WM_ETRUNCATED;
	/* lenient about header forms: it only finds the extent; decode judges */
	c = buf[0];
	if (c == 0x92 || c == 0x93)
		hdr = 1;
	else if (c == 0xdc)
		hdr = 3;
	else if (c == 0xdd)
		hdr = 5;
	else
		return WM_EMALFORMED;
	if (len < hdr)
		return WM_ETRUNCATED;
	items = hdr == 1 ? (size_t)(c & 0x0f) : buf[hdr - 1];
	for (size_t k = 1; k + 1 < hdr; k++)
		if (buf[k] != 0)
			return WM_EMALFORMED;
	if (items != 2 && items != 3)
		return WM_EMALFORMED;

	pos = hdr;
	for (size_t field = 0; field < items; field++) {
		size_t h, blen = 0;

		if (len - pos < 1)
			return WM_ETRUNCATED;
		c = buf[pos];
		h = c == 0xc4 ? 2 : c == 0xc5 ? 3 : c == 0xc6 ? 5 : 0;
		if (h == 0)
			return WM_EMALFORMED;
		if (len - pos < h)
			return WM_ETRUNCATED;
		for (size_t k = 1; k < h; k++)
			blen = (blen << 8) | buf[pos + k];
		if (blen > WM_MAX_WIRE)
			return WM_ETOOBIG;
		if (field == 1 && blen != WM_SIG_LEN)
			return WM_EMALFORMED;
		pos += h;
		if (blen > WM_MAX_WIRE - pos)
			return WM_ETOOBIG;       /* the whole event, as event_peek counts it */
		if (len - pos < blen)
			return WM_ETRUNCATED;
		pos += blen;
	}
	*out = pos;
	return 0;
}

/* --- content lookups ------------------------------------------------------ */

const struct cval *event_get(const struct event *ev, const char *key)
{
	size_t kl;

	if (ev == NULL || key == NULL)
		return NULL;
	kl = strlen(key);
	for (size_t i = 0; i < ev->ncontent; i++)
		if (ev->content[i].keylen == kl && memcmp(ev->content[i].key, key, kl) == 0)
			return &ev->content[i].val;
	return NULL;
}

int event_get_str(const struct event *ev, const char *key, const char **s, size_t *len)
{
	const struct cval *v = event_get(ev, key);

	if (v == NULL || v->type != CV_STR)
		return WM_ENOTFOUND;
	*s = (const char *)v->ptr;
	*len = v->len;
	return 0;
}

int event_get_uint(const struct event *ev, const char *key, uint64_t *out)
{
	const struct cval *v = event_get(ev, key);

	if (v == NULL || v->type != CV_UINT)
		return WM_ENOTFOUND;
	*out = v->u;
	return 0;
}

int event_get_bin(const struct event *ev, const char *key, const uint8_t **p, size_t *len)
{
	const struct cval *v = event_get(ev, key);

	if (v == NULL || v->type != CV_BIN)
		return WM_ENOTFOUND;
	*p = v->ptr;
	*len = v->len;
	return 0;
}

/* --- drafts --------------------------------------------------------------- */

static struct centry *draft_slot(struct event_draft *d, const char *key)
{
	size_t kl;

	if (d == NULL || key == NULL || d->ncontent > WM_MAX_CONTENT)
		return NULL;
	kl = strlen(key);
	for (size_t i = 0; i < d->ncontent; i++)
		if (d->content[i].keylen == kl && memcmp(d->content[i].key, key, kl) == 0)
			return &d->content[i];
	if (d->ncontent == WM_MAX_CONTENT) {
		d->ncontent = WM_MAX_CONTENT + 1;   /* event_build refuses it */
		return NULL;
	}
	struct centry *e = &d->content[d->ncontent++];
	e->key = key;
	e->keylen = kl;
	return e;
}

struct cval cval_strn(const char *s, size_t len)
{
	struct cval v;

	memset(&v, 0, sizeof(v));
	v.type = CV_STR;
	v.ptr = (const uint8_t *)s;
	v.len = s != NULL ? len : 0;
	return v;
}

struct cval cval_str(const char *s)
{
	return cval_strn(s, s != NULL ? strlen(s) : 0);
}

struct cval cval_bin(const uint8_t *p, size_t len)
{
	struct cval v;

	memset(&v, 0, sizeof(v));
	v.type = CV_BIN;
	v.ptr = p;
	v.len = p != NULL ? len : 0;
	return v;
}

struct cval cval_uint(uint64_t u)
{
	struct cval v;

	memset(&v, 0, sizeof(v));
	v.type = CV_UINT;
	v.u = u;
	return v;
}

struct cval cval_int(int64_t i)
{
	struct cval v;

	if (i >= 0)
		return cval_uint((uint64_t)i);
	memset(&v, 0, sizeof(v));
	v.type = CV_INT;
	v.i = i;
	return v;
}

void draft_str(struct event_draft *d, const char *key, const char *val)
{
	struct centry *e = draft_slot(d, key);

	if (e != NULL)
		e->val = cval_str(val);
}

void draft_bin(struct event_draft *d, const char *key, const uint8_t *p, size_t len)
{
	struct centry *e = draft_slot(d, key);

	if (e != NULL)
		e->val = cval_bin(p, len);
}

void draft_uint(struct event_draft *d, const char *key, uint64_t v)
{
	struct centry *e = draft_slot(d, key);

	if (e != NULL)
		e->val = cval_uint(v);
}

void draft_int(struct event_draft *d, const char *key, int64_t v)
{
	struct centry *e = draft_slot(d, key);

	if (e != NULL)
		e->val = cval_int(v);
}

void draft_array(struct event_draft *d, const char *key, struct cval *items, size_t n)
{
	struct centry *e = draft_slot(d, key);

	if (e != NULL) {
		memset(&e->val, 0, sizeof(e->val));
		e->val.type = CV_ARRAY;
		e->val.items = items;
		e->val.len = items != NULL ? n : 0;
	}
}

/* --- encoding ------------------------------------------------------------- */

static int pack_str(msgpack_packer *pk, const void *p, size_t len)
{
	if (msgpack_pack_str(pk, len) != 0)
		return -1;
	return len > 0 ? msgpack_pack_str_body(pk, p, len) : 0;
}

static int pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
	if (msgpack_pack_bin(pk, len) != 0)
		return -1;
	return len > 0 ? msgpack_pack_bin_body(pk, p, len) : 0;
}

/* -2 for a value no decoder would take: arrays nest one level at most
 * (the decoder and content.c say where that is allowed) */
static int pack_cval(msgpack_packer *pk, const struct cval *v, int depth)
{
	switch (v->type) {
	case CV_STR:  return pack_str(pk, v->ptr, v->len);
	case CV_BIN:  return pack_bin(pk, v->ptr, v->len);
	case CV_UINT: return msgpack_pack_uint64(pk, v->u);
	case CV_INT:  return msgpack_pack_int64(pk, v->i);
	case CV_ARRAY:
		if (depth > 1)
			return -2;
		if (msgpack_pack_array(pk, v->len) != 0)
			return -1;
		for (size_t k = 0; k < v->len; k++) {
			int rc = pack_cval(pk, &v->items[k], depth + 1);

			if (rc != 0)
				return rc;
		}
		return 0;
	}
	return -2;
}

static int centry_cmp(const void *a, const void *b)
{
	const struct centry *x = *(const struct centry *const *)a;
	const struct centry *y = *(const struct centry *const *)b;

	return mp_key_cmp((const uint8_t *)x->key, x->keylen, (const uint8_t *)y->key, y->keylen);
}

int event_wrap(const uint8_t *payload, size_t len, const uint8_t *content, size_t clen,
               const struct key *k, uint8_t **wire, size_t *wire_len, uint8_t id[WM_ID_LEN])
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t myid[WM_ID_LEN], sig[WM_SIG_LEN];
	uint8_t *w;
	int rc;

	if ((payload == NULL && len > 0) || k == NULL || wire == NULL || wire_len == NULL)
		return WM_EINVAL;
	id_compute(myid, payload, len);
	if ((rc = key_sign_id(k, myid, sig)) != 0)
		return rc;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, content != NULL ? 3 : 2) != 0 || pack_bin(&pk, payload, len) != 0 ||
	    pack_bin(&pk, sig, WM_SIG_LEN) != 0 || (content != NULL && pack_bin(&pk, content, clen) != 0)) {
		msgpack_sbuffer_destroy(&sb);
		return WM_ENOMEM;
	}
	w = malloc(sb.size);
	if (w == NULL) {
		msgpack_sbuffer_destroy(&sb);
		return WM_ENOMEM;
	}
	memcpy(w, sb.data, sb.size);
	*wire = w;
	*wire_len = sb.size;
	if (id != NULL)
		memcpy(id, myid, WM_ID_LEN);
	msgpack_sbuffer_destroy(&sb);
	return 0;
}

int event_withheld(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen)
{
	struct event_peek pk;
	msgpack_sbuffer sb;
	msgpack_packer p;
	int rc;

	if (out == NULL || outlen == NULL)
		return WM_EINVAL;
	if ((rc = event_peek(buf, len, EVENT_PEEK_NO_ID, &pk, NULL)) != 0)
		return rc;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_array(&p, 2) != 0 || pack_bin(&p, pk.payload, pk.payload_len) != 0 ||
	    pack_bin(&p, pk.sig, WM_SIG_LEN) != 0 || (*out = malloc(sb.size)) == NULL) {
		msgpack_sbuffer_destroy(&sb);
		return WM_ENOMEM;
	}
	memcpy(*out, sb.data, sb.size);
	*outlen = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return 0;
}

int event_build(const struct event_draft *d, const struct key *signer,
                uint8_t **wire, size_t *wire_len, uint8_t id[WM_ID_LEN], char why[WM_WHY_LEN])
{
	msgpack_sbuffer sb, cb;
	msgpack_packer pk;
	const struct centry *sorted[WM_MAX_CONTENT];
	uint8_t chash[WM_ID_LEN];
	struct event *ev = NULL;
	uint8_t *w = NULL;
	size_t wlen = 0;
	int rc, bad = 0;
	char q[64];

	if (why != NULL)
		why[0] = '\0';
	if (d == NULL || signer == NULL || wire == NULL || wire_len == NULL)
		return mp_fail(why, WM_EINVAL, "event_build: missing argument");
	if (d->group == NULL)
		return mp_fail(why, WM_EINVAL, "group is not set");
	if (d->nrefs > WM_MAX_REFS)
		return mp_fail(why, WM_EINVAL, "refs: %zu ids, at most %d allowed", d->nrefs, WM_MAX_REFS);
	if (d->ncontent > WM_MAX_CONTENT)
		return mp_fail(why, WM_EINVAL, "content: more than %d keys", WM_MAX_CONTENT);
	if ((signer->sec == NULL && signer->sign == NULL) || memcmp(signer->pub, d->author, WM_PUB_LEN) != 0)
		return mp_fail(why, WM_EINVAL, "the signing key is not the draft's author, or has no secret half");
	for (size_t i = 0; i < d->ncontent; i++) {
		if (d->content[i].key == NULL)
			return mp_fail(why, WM_EINVAL, "content entry %zu has no key", i);
		sorted[i] = &d->content[i];
	}
	if (d->ncontent > 1)
		qsort(sorted, d->ncontent, sizeof(sorted[0]), centry_cmp);
	for (size_t i = 1; i < d->ncontent; i++)
		if (centry_cmp(&sorted[i - 1], &sorted[i]) == 0)
			return mp_fail(why, WM_EINVAL, "content key '%s' is set twice",
			               mp_quote(q, sizeof(q), (const uint8_t *)sorted[i]->key, sorted[i]->keylen));

	/* the content first: the header carries its hash */
	msgpack_sbuffer_init(&cb);
	msgpack_packer_init(&pk, &cb, msgpack_sbuffer_write);
	bad |= msgpack_pack_map(&pk, d->ncontent);
	for (size_t i = 0; i < d->ncontent && bad == 0; i++) {
		int prc;

		bad |= pack_str(&pk, sorted[i]->key, sorted[i]->keylen);
		prc = pack_cval(&pk, &sorted[i]->val, 0);
		if (prc == -2) {
			msgpack_sbuffer_destroy(&cb);
			return mp_fail(why, WM_EINVAL, "content key '%s': bad value (nested array or unknown type)",
			               mp_quote(q, sizeof(q), (const uint8_t *)sorted[i]->key, sorted[i]->keylen));
		}
		bad |= prc;
	}
	if (bad != 0) {
		msgpack_sbuffer_destroy(&cb);
		return WM_ENOMEM;
	}
	id_compute(chash, (const uint8_t *)cb.data, cb.size);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	bad |= msgpack_pack_array(&pk, 10);
	bad |= msgpack_pack_uint64(&pk, WM_EVENT_VERSION);
	bad |= msgpack_pack_uint64(&pk, d->kind);
	bad |= pack_bin(&pk, d->author, WM_PUB_LEN);
	bad |= msgpack_pack_uint64(&pk, d->created_at);
	bad |= pack_bin(&pk, d->network, WM_NETWORK_LEN);
	bad |= pack_str(&pk, d->group, strlen(d->group));
	bad |= pack_bin(&pk, d->prev, d->has_prev ? WM_ID_LEN : 0);
	bad |= msgpack_pack_array(&pk, d->nrefs);
	for (size_t i = 0; i < d->nrefs; i++)
		bad |= pack_bin(&pk, d->refs[i], WM_ID_LEN);
	bad |= msgpack_pack_uint64(&pk, d->expires_at);
	bad |= pack_bin(&pk, chash, WM_ID_LEN);
	if (bad != 0) {
		msgpack_sbuffer_destroy(&sb);
		msgpack_sbuffer_destroy(&cb);
		return WM_ENOMEM;
	}
	rc = event_wrap((const uint8_t *)sb.data, sb.size, (const uint8_t *)cb.data, cb.size, signer,
	                &w, &wlen, NULL);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&cb);
	if (rc != 0)
		return mp_fail(why, rc, "could not sign the event");
	if (wlen > WM_MAX_WIRE) {
		free(w);
		return mp_fail(why, WM_ETOOBIG, "event: %zu bytes, at most %d allowed", wlen, WM_MAX_WIRE);
	}
	if ((rc = event_decode(w, wlen, &ev, why)) != 0) {
		free(w);
		return rc;
	}
	if (id != NULL)
		memcpy(id, ev->id, WM_ID_LEN);
	event_free(ev);
	*wire = w;
	*wire_len = wlen;
	return 0;
}
