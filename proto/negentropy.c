/*
 * proto/negentropy: Negentropy protocol v1, client and server, over the
 * storage interface of negentropy.h, plus the in-memory backend neg_vec.
 *
 * Two things a reader must know.  The outgoing messages must stay
 * byte-identical to the reference implementations', so the splitting, the
 * frame-limit arithmetic (limit - 200, checked after each range) and the
 * order of bounds follow the reference exactly; change nothing here without
 * rerunning tests/interop.  And every incoming byte is hostile: the reader
 * below is bounds-checked, varints may not overflow 64 bits, an IdList may
 * not claim more ids than the message holds, and no range can make an index
 * go backwards (each lower bound search starts where the previous ended).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negentropy.h"
#include "wmcrypto.h"

#define NEG_BUCKETS       16
#define NEG_FRAME_RESERVE 200   /* the reference keeps this much headroom */

enum neg_mode {
	NEG_MODE_SKIP = 0,
	NEG_MODE_FINGERPRINT = 1,
	NEG_MODE_IDLIST = 2,
};

struct neg {
	struct neg_storage st;
	uint64_t frame_limit;           /* 0 = none */
	int initiator;                  /* set by neg_initiate() */
	uint64_t last_ts_in;            /* delta base of decoded bounds; reset per message */
	uint64_t last_ts_out;           /* delta base of encoded bounds; reset per message */
	struct neg_ids seen_have;       /* client: ids reported so far, sorted */
	struct neg_ids seen_need;
};

struct neg_vec {
	struct neg_item *items;
	size_t n;
	size_t cap;
	struct neg_acc *prefix;         /* n + 1 prefix sums once sealed */
	int sealed;
};

/* ---- reasons ---- */


/* ---- growable output buffer with a sticky out-of-memory flag ---- */

struct nbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	int err;                        /* WM_ENOMEM once an append failed */
};

static void nbuf_put(struct nbuf *b, const void *data, size_t len)
{
	if (b->err)
		return;
	if (len > SIZE_MAX - b->len) {
		b->err = WM_ENOMEM;
		return;
	}
	if (b->len + len > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		uint8_t *np;

		while (ncap < b->len + len) {
			if (ncap > SIZE_MAX / 2) {
				ncap = b->len + len;
				break;
			}
			ncap *= 2;
		}
		np = realloc(b->p, ncap);
		if (np == NULL) {
			b->err = WM_ENOMEM;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void nbuf_byte(struct nbuf *b, uint8_t c)
{
	nbuf_put(b, &c, 1);
}

static void nbuf_varint(struct nbuf *b, uint64_t v)
{
	uint8_t tmp[10];

	nbuf_put(b, tmp, neg_varint_encode(tmp, v));
}

static void nbuf_free(struct nbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- bounds-checked reader of incoming messages ---- */

struct nrd {
	const uint8_t *p;
	size_t len;
};

static int nrd_varint(struct nrd *r, uint64_t *out, char *why, size_t whylen)
{
	uint64_t v = 0;

	for (;;) {
		uint8_t c;

		if (r->len == 0) {
			wm_whyn(why, whylen, "negentropy message ends inside a varint");
			return WM_EPROTO;
		}
		c = r->p[0];
		r->p++;
		r->len--;
		if (v >> 57) {
			wm_whyn(why, whylen, "negentropy varint exceeds 64 bits");
			return WM_EPROTO;
		}
		v = (v << 7) | (c & 0x7f);
		if ((c & 0x80) == 0)
			break;
	}
	*out = v;
	return 0;
}

static int nrd_bytes(struct nrd *r, size_t n, const uint8_t **out, const char *what,
                     char *why, size_t whylen)
{
	if (r->len < n) {
		wm_whyn(why, whylen, "negentropy message ends inside %s (%zu of %zu bytes)",
		        what, r->len, n);
		return WM_EPROTO;
	}
	*out = r->p;
	r->p += n;
	r->len -= n;
	return 0;
}

/* ---- varints, accumulators, order ---- */

size_t neg_varint_encode(uint8_t out[10], uint64_t v)
{
	uint8_t rev[10];
	size_t n = 0, i;

	do {
		rev[n++] = (uint8_t)(v & 0x7f);
		v >>= 7;
	} while (v != 0);
	for (i = 0; i < n; i++)
		out[i] = (uint8_t)(rev[n - 1 - i] | (i + 1 < n ? 0x80 : 0));
	return n;
}

void neg_acc_zero(struct neg_acc *a)
{
	memset(a->sum, 0, sizeof a->sum);
}

/* The sums in 64-bit words: the store's view adds the ids of a fine
 * bucket for each boundary inside it, and byte by byte that was a third
 * of a large repair's instructions.  Written with shifts so that it does
 * not depend on the host's byte order (compilers make one load of it). */
static uint64_t acc_word(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static void acc_put(uint8_t *p, uint64_t v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

void neg_acc_add(struct neg_acc *a, const uint8_t id[NEG_ID_LEN])
{
	uint64_t carry = 0, x, s, c;
	size_t i;

	for (i = 0; i < NEG_ID_LEN; i += 8) {
		x = acc_word(a->sum + i);
		s = x + acc_word(id + i);
		c = s < x;
		s += carry;
		carry = c | (s < carry);
		acc_put(a->sum + i, s);
	}
}

void neg_acc_sub(struct neg_acc *a, const struct neg_acc *b)
{
	uint64_t borrow = 0, x, y, d, c;
	size_t i;

	for (i = 0; i < NEG_ID_LEN; i += 8) {
		x = acc_word(a->sum + i);
		y = acc_word(b->sum + i);
		d = x - y;
		c = x < y;
		x = d - borrow;
		borrow = c | (d < borrow);
		acc_put(a->sum + i, x);
	}
}

void neg_acc_fingerprint(const struct neg_acc *a, uint64_t count, uint8_t out[NEG_FP_LEN])
{
	uint8_t buf[NEG_ID_LEN + 10];
	uint8_t hash[WM_ID_LEN];
	size_t len;

	memcpy(buf, a->sum, NEG_ID_LEN);
	len = NEG_ID_LEN + neg_varint_encode(buf + NEG_ID_LEN, count);
	id_compute(hash, buf, len);     /* SHA-256 of arbitrary bytes */
	memcpy(out, hash, NEG_FP_LEN);
}

int neg_item_cmp(const struct neg_item *a, const struct neg_item *b)
{
	int c;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	c = memcmp(a->id, b->id, NEG_ID_LEN);
	return (c > 0) - (c < 0);
}

int neg_item_bound_cmp(const struct neg_item *a, const struct neg_bound *b)
{
	int c;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	/* b->id is zero past idlen, as the protocol says */
	c = memcmp(a->id, b->id, NEG_ID_LEN);
	return (c > 0) - (c < 0);
}

/* ---- neg_vec: sorted array with prefix sums ---- */

int neg_vec_new(struct neg_vec **out)
{
	struct neg_vec *v = calloc(1, sizeof *v);

	if (v == NULL)
		return WM_ENOMEM;
	*out = v;
	return 0;
}

void neg_vec_free(struct neg_vec *v)
{
	if (v == NULL)
		return;
	free(v->items);
	free(v->prefix);
	free(v);
}

int neg_vec_add(struct neg_vec *v, uint64_t ts, const uint8_t id[NEG_ID_LEN])
{
	if (v == NULL || v->sealed || ts == NEG_TS_INFINITY)
		return WM_EINVAL;
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 64;
		struct neg_item *ni;

		if (ncap > SIZE_MAX / sizeof *ni)
			return WM_ENOMEM;
		ni = realloc(v->items, ncap * sizeof *ni);
		if (ni == NULL)
			return WM_ENOMEM;
		v->items = ni;
		v->cap = ncap;
	}
	v->items[v->n].ts = ts;
	memcpy(v->items[v->n].id, id, NEG_ID_LEN);
	v->n++;
	return 0;
}

static int neg_vec_qcmp(const void *a, const void *b)
{
	return neg_item_cmp(a, b);
}

int neg_vec_seal(struct neg_vec *v)
{
	size_t i;

	if (v == NULL || v->sealed)
		return WM_EINVAL;
	if (v->n)
		qsort(v->items, v->n, sizeof *v->items, neg_vec_qcmp);
	for (i = 1; i < v->n; i++)
		if (neg_item_cmp(&v->items[i - 1], &v->items[i]) == 0)
			return WM_EDUP;
	if (v->n + 1 > SIZE_MAX / sizeof *v->prefix)
		return WM_ENOMEM;
	v->prefix = malloc((v->n + 1) * sizeof *v->prefix);
	if (v->prefix == NULL)
		return WM_ENOMEM;
	neg_acc_zero(&v->prefix[0]);
	for (i = 0; i < v->n; i++) {
		v->prefix[i + 1] = v->prefix[i];
		neg_acc_add(&v->prefix[i + 1], v->items[i].id);
	}
	v->sealed = 1;
	return 0;
}

size_t neg_vec_size(const struct neg_vec *v)
{
	return v ? v->n : 0;
}

static size_t neg_vec_op_size(void *ctx)
{
	struct neg_vec *v = ctx;

	return v->sealed ? v->n : 0;
}

static int neg_vec_op_item(void *ctx, size_t i, struct neg_item *out)
{
	struct neg_vec *v = ctx;

	if (!v->sealed || i >= v->n)
		return WM_EINVAL;
	*out = v->items[i];
	return 0;
}

static int neg_vec_op_lower_bound(void *ctx, size_t begin, size_t end,
                                  const struct neg_bound *b, size_t *out)
{
	struct neg_vec *v = ctx;

	if (!v->sealed || begin > end || end > v->n)
		return WM_EINVAL;
	while (begin < end) {
		size_t mid = begin + (end - begin) / 2;

		if (neg_item_bound_cmp(&v->items[mid], b) < 0)
			begin = mid + 1;
		else
			end = mid;
	}
	*out = begin;
	return 0;
}

static int neg_vec_op_fingerprint(void *ctx, size_t begin, size_t end, uint8_t out[NEG_FP_LEN])
{
	struct neg_vec *v = ctx;
	struct neg_acc a;

	if (!v->sealed || begin > end || end > v->n)
		return WM_EINVAL;
	a = v->prefix[end];
	neg_acc_sub(&a, &v->prefix[begin]);
	neg_acc_fingerprint(&a, end - begin, out);
	return 0;
}

static const struct neg_storage_ops neg_vec_ops = {
	.size = neg_vec_op_size,
	.item = neg_vec_op_item,
	.lower_bound = neg_vec_op_lower_bound,
	.fingerprint = neg_vec_op_fingerprint,
};

struct neg_storage neg_vec_storage(struct neg_vec *v)
{
	struct neg_storage s = { &neg_vec_ops, v };

	return s;
}

/* ---- id lists ---- */

static int neg_id_qcmp(const void *a, const void *b)
{
	return memcmp(a, b, NEG_ID_LEN);
}

static int neg_ids_push(struct neg_ids *l, const uint8_t id[NEG_ID_LEN])
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		uint8_t (*ni)[NEG_ID_LEN];

		if (ncap > SIZE_MAX / NEG_ID_LEN)
			return WM_ENOMEM;
		ni = realloc(l->ids, ncap * NEG_ID_LEN);
		if (ni == NULL)
			return WM_ENOMEM;
		l->ids = ni;
		l->cap = ncap;
	}
	memcpy(l->ids[l->n], id, NEG_ID_LEN);
	l->n++;
	return 0;
}

void neg_ids_free(struct neg_ids *l)
{
	if (l == NULL)
		return;
	free(l->ids);
	l->ids = NULL;
	l->n = l->cap = 0;
}

/* Keep in l[from..) only ids not reported before, and remember them in
 * seen (sorted).  A range can come back after a cut-short frame (the
 * closing fingerprint covers everything after the cut, ranges already
 * settled included), and the same ids would be reported again. */
static int neg_ids_keep_new(struct neg_ids *seen, struct neg_ids *l, size_t from)
{
	size_t k = l->n - from, m = 0, i, a, b, w;

	if (k == 0)
		return 0;
	qsort(l->ids[from], k, NEG_ID_LEN, neg_id_qcmp);
	for (i = 0; i < k; i++) {
		const uint8_t *id = l->ids[from + i];

		if (m && memcmp(l->ids[from + m - 1], id, NEG_ID_LEN) == 0)
			continue;
		if (seen->n && bsearch(id, seen->ids, seen->n, NEG_ID_LEN, neg_id_qcmp))
			continue;
		memmove(l->ids[from + m++], id, NEG_ID_LEN);
	}
	l->n = from + m;
	if (m == 0)
		return 0;
	if (seen->n + m > seen->cap) {
		uint8_t (*ni)[NEG_ID_LEN];
		size_t ncap = seen->n + m;

		if (ncap < 2 * seen->cap)
			ncap = 2 * seen->cap;
		if (ncap > SIZE_MAX / NEG_ID_LEN)
			return WM_ENOMEM;
		ni = realloc(seen->ids, ncap * NEG_ID_LEN);
		if (ni == NULL)
			return WM_ENOMEM;
		seen->ids = ni;
		seen->cap = ncap;
	}
	/* merge from the back: both runs are sorted */
	a = seen->n;
	b = m;
	w = seen->n + m;
	while (b > 0) {
		if (a > 0 && memcmp(seen->ids[a - 1], l->ids[from + b - 1], NEG_ID_LEN) > 0)
			memcpy(seen->ids[--w], seen->ids[--a], NEG_ID_LEN);
		else
			memcpy(seen->ids[--w], l->ids[from + --b], NEG_ID_LEN);
	}
	seen->n += m;
	return 0;
}

/* ---- the protocol ---- */

int neg_new(const struct neg_storage *st, uint64_t frame_limit, struct neg **out)
{
	struct neg *n;

	if (st == NULL || st->ops == NULL || out == NULL)
		return WM_EINVAL;
	if (frame_limit != 0 && frame_limit < NEG_MIN_FRAME_LIMIT)
		return WM_EINVAL;
	n = calloc(1, sizeof *n);
	if (n == NULL)
		return WM_ENOMEM;
	n->st = *st;
	n->frame_limit = frame_limit;
	*out = n;
	return 0;
}

void neg_free(struct neg *n)
{
	if (n == NULL)
		return;
	neg_ids_free(&n->seen_have);
	neg_ids_free(&n->seen_need);
	free(n);
}

static int neg_exceeded(const struct neg *n, size_t len)
{
	return n->frame_limit && (uint64_t)len > n->frame_limit - NEG_FRAME_RESERVE;
}

static void neg_encode_bound(struct neg *n, struct nbuf *o, const struct neg_bound *b)
{
	if (b->ts == NEG_TS_INFINITY) {
		n->last_ts_out = NEG_TS_INFINITY;
		nbuf_varint(o, 0);
	} else {
		uint64_t delta = b->ts - n->last_ts_out;

		n->last_ts_out = b->ts;
		nbuf_varint(o, delta + 1);
	}
	nbuf_varint(o, b->idlen);
	nbuf_put(o, b->id, b->idlen);
}

static void neg_bound_infinity(struct neg_bound *b)
{
	memset(b, 0, sizeof *b);
	b->ts = NEG_TS_INFINITY;
}

static void neg_bound_of_item(struct neg_bound *b, const struct neg_item *it)
{
	b->ts = it->ts;
	memcpy(b->id, it->id, NEG_ID_LEN);
	b->idlen = NEG_ID_LEN;
}

/* The shortest bound that separates prev from curr (prev < curr). */
static void neg_minimal_bound(struct neg_bound *b, const struct neg_item *prev,
                              const struct neg_item *curr)
{
	size_t shared = 0;

	memset(b, 0, sizeof *b);
	b->ts = curr->ts;
	if (curr->ts != prev->ts)
		return;
	while (shared < NEG_ID_LEN && curr->id[shared] == prev->id[shared])
		shared++;
	/* prev < curr, so they differ somewhere and shared < 32 */
	b->idlen = shared < NEG_ID_LEN ? shared + 1 : NEG_ID_LEN;
	memcpy(b->id, curr->id, b->idlen);
}

static int neg_decode_bound(struct neg *n, struct nrd *r, struct neg_bound *b,
                            char *why, size_t whylen)
{
	uint64_t v, len, ts;
	const uint8_t *id;
	int rc;

	if ((rc = nrd_varint(r, &v, why, whylen)) < 0)
		return rc;
	ts = v == 0 ? NEG_TS_INFINITY : v - 1;
	ts += n->last_ts_in;
	if (ts < n->last_ts_in)
		ts = NEG_TS_INFINITY;   /* saturate, as the reference does */
	n->last_ts_in = ts;
	if ((rc = nrd_varint(r, &len, why, whylen)) < 0)
		return rc;
	if (len > NEG_ID_LEN) {
		wm_whyn(why, whylen, "negentropy bound id prefix of %llu bytes (at most 32)",
		        (unsigned long long)len);
		return WM_EPROTO;
	}
	if ((rc = nrd_bytes(r, (size_t)len, &id, "a bound", why, whylen)) < 0)
		return rc;
	memset(b, 0, sizeof *b);
	b->ts = ts;
	b->idlen = (size_t)len;
	memcpy(b->id, id, b->idlen);
	return 0;
}

/* Describe [lower, upper) to the peer: an IdList when small, else 16
 * fingerprinted buckets, the last one ending at upper_bound. */
static int neg_split_range(struct neg *n, size_t lower, size_t upper,
                           const struct neg_bound *upper_bound, struct nbuf *o)
{
	const struct neg_storage_ops *ops = n->st.ops;
	size_t num = upper - lower;
	struct neg_item it, prev;
	int rc;

	if (num < NEG_BUCKETS * 2) {
		size_t i;

		neg_encode_bound(n, o, upper_bound);
		nbuf_varint(o, NEG_MODE_IDLIST);
		nbuf_varint(o, num);
		for (i = lower; i < upper; i++) {
			if ((rc = ops->item(n->st.ctx, i, &it)) < 0)
				return rc;
			nbuf_put(o, it.id, NEG_ID_LEN);
		}
	} else {
		size_t per = num / NEG_BUCKETS, extra = num % NEG_BUCKETS;
		size_t curr = lower, i;

		for (i = 0; i < NEG_BUCKETS; i++) {
			size_t bsize = per + (i < extra ? 1 : 0);
			uint8_t fp[NEG_FP_LEN];
			struct neg_bound nb;

			if ((rc = ops->fingerprint(n->st.ctx, curr, curr + bsize, fp)) < 0)
				return rc;
			curr += bsize;
			if (curr == upper) {
				nb = *upper_bound;
			} else {
				if ((rc = ops->item(n->st.ctx, curr - 1, &prev)) < 0 ||
				    (rc = ops->item(n->st.ctx, curr, &it)) < 0)
					return rc;
				neg_minimal_bound(&nb, &prev, &it);
			}
			neg_encode_bound(n, o, &nb);
			nbuf_varint(o, NEG_MODE_FINGERPRINT);
			nbuf_put(o, fp, NEG_FP_LEN);
		}
	}
	return o->err;
}

/* Client side of an IdList: what we have that they lack, what they have
 * that we lack.  ids are the peer's count ids, as they arrived. */
static int neg_client_idlist(struct neg *n, size_t lower, size_t upper,
                             const uint8_t *ids, size_t count,
                             struct neg_ids *have, struct neg_ids *need)
{
	const struct neg_storage_ops *ops = n->st.ops;
	uint8_t (*theirs)[NEG_ID_LEN] = NULL;
	uint8_t *seen = NULL;
	size_t m = 0, i;
	struct neg_item it;
	int rc = 0;

	if (count) {
		theirs = malloc(count * NEG_ID_LEN);
		seen = calloc(count, 1);
		if (theirs == NULL || seen == NULL) {
			rc = WM_ENOMEM;
			goto out;
		}
		memcpy(theirs, ids, count * NEG_ID_LEN);
		qsort(theirs, count, NEG_ID_LEN, neg_id_qcmp);
		/* a hostile peer may repeat ids; count each once */
		for (i = 0; i < count; i++)
			if (m == 0 || memcmp(theirs[m - 1], theirs[i], NEG_ID_LEN) != 0)
				memmove(theirs[m++], theirs[i], NEG_ID_LEN);
	}
	for (i = lower; i < upper; i++) {
		uint8_t (*hit)[NEG_ID_LEN] = NULL;

		if ((rc = ops->item(n->st.ctx, i, &it)) < 0)
			goto out;
		if (m)
			hit = bsearch(it.id, theirs, m, NEG_ID_LEN, neg_id_qcmp);
		if (hit)
			seen[hit - theirs] = 1;
		else if ((rc = neg_ids_push(have, it.id)) < 0)
			goto out;
	}
	for (i = 0; i < m; i++)
		if (!seen[i] && (rc = neg_ids_push(need, theirs[i])) < 0)
			goto out;
out:
	free(theirs);
	free(seen);
	return rc;
}

/* One message in, one message out (into *full), for either role. */
static int neg_process(struct neg *n, const uint8_t *in, size_t inlen,
                       struct neg_ids *have, struct neg_ids *need,
                       struct nbuf *full, char *why, size_t whylen)
{
	const struct neg_storage_ops *ops = n->st.ops;
	struct nrd r = { in, inlen };
	struct nbuf o = { 0 };
	struct neg_bound prev_bound, cur;
	size_t size, prev_index = 0;
	int skip = 0, rc = 0;
	uint8_t version;

	n->last_ts_in = n->last_ts_out = 0;
	nbuf_byte(full, NEG_PROTOCOL_VERSION);
	if (inlen == 0) {
		wm_whyn(why, whylen, "empty negentropy message");
		return WM_EPROTO;
	}
	version = in[0];
	r.p++;
	r.len--;
	if (version < 0x60 || version > 0x6f) {
		wm_whyn(why, whylen, "0x%02x is not a negentropy protocol version byte", version);
		return WM_EPROTO;
	}
	if (version != NEG_PROTOCOL_VERSION) {
		if (n->initiator) {
			wm_whyn(why, whylen, "server speaks negentropy version %d only; we speak 1",
			        version - 0x60);
			return WM_EVERSION;
		}
		return full->err;       /* our version byte alone: "use v1" */
	}

	size = ops->size(n->st.ctx);
	memset(&prev_bound, 0, sizeof prev_bound);
	while (r.len) {
		uint64_t mode;
		size_t lower = prev_index, upper;

		o.len = 0;
		if ((rc = neg_decode_bound(n, &r, &cur, why, whylen)) < 0)
			goto out;
		if ((rc = nrd_varint(&r, &mode, why, whylen)) < 0)
			goto out;
		if ((rc = ops->lower_bound(n->st.ctx, prev_index, size, &cur, &upper)) < 0)
			goto out;

		if (mode == NEG_MODE_SKIP) {
			skip = 1;
		} else if (mode == NEG_MODE_FINGERPRINT) {
			const uint8_t *theirs;
			uint8_t ours[NEG_FP_LEN];

			if ((rc = nrd_bytes(&r, NEG_FP_LEN, &theirs, "a fingerprint", why, whylen)) < 0)
				goto out;
			if ((rc = ops->fingerprint(n->st.ctx, lower, upper, ours)) < 0)
				goto out;
			if (memcmp(theirs, ours, NEG_FP_LEN) != 0) {
				if (skip) {
					skip = 0;
					neg_encode_bound(n, &o, &prev_bound);
					nbuf_varint(&o, NEG_MODE_SKIP);
				}
				if ((rc = neg_split_range(n, lower, upper, &cur, &o)) < 0)
					goto out;
			} else {
				skip = 1;
			}
		} else if (mode == NEG_MODE_IDLIST) {
			uint64_t count;
			const uint8_t *ids;

			if ((rc = nrd_varint(&r, &count, why, whylen)) < 0)
				goto out;
			if (count > r.len / NEG_ID_LEN) {
				wm_whyn(why, whylen, "negentropy IdList claims %llu ids; the message holds %zu",
				        (unsigned long long)count, r.len / NEG_ID_LEN);
				rc = WM_EPROTO;
				goto out;
			}
			if ((rc = nrd_bytes(&r, (size_t)count * NEG_ID_LEN, &ids, "an IdList",
			                    why, whylen)) < 0)
				goto out;
			if (n->initiator) {
				rc = neg_client_idlist(n, lower, upper, ids, (size_t)count, have, need);
				if (rc < 0)
					goto out;
				skip = 1;
			} else {
				/* the server answers with all its ids of the range, as
				 * many as fit; the rest of the set goes to the next round */
				struct nbuf resp = { 0 };
				struct neg_bound end = cur;
				size_t nresp = 0, i;
				struct neg_item it;

				if (skip) {
					skip = 0;
					neg_encode_bound(n, &o, &prev_bound);
					nbuf_varint(&o, NEG_MODE_SKIP);
				}
				for (i = lower; i < upper; i++) {
					if ((rc = ops->item(n->st.ctx, i, &it)) < 0) {
						nbuf_free(&resp);
						goto out;
					}
					if (neg_exceeded(n, full->len + resp.len)) {
						neg_bound_of_item(&end, &it);
						upper = i;
						break;
					}
					nbuf_put(&resp, it.id, NEG_ID_LEN);
					nresp++;
				}
				neg_encode_bound(n, &o, &end);
				nbuf_varint(&o, NEG_MODE_IDLIST);
				nbuf_varint(&o, nresp);
				nbuf_put(&o, resp.p, resp.len);
				rc = resp.err;
				nbuf_free(&resp);
				if (rc < 0)
					goto out;
				nbuf_put(full, o.p, o.len);
				o.len = 0;
			}
		} else {
			wm_whyn(why, whylen, "unknown negentropy range mode %llu",
			        (unsigned long long)mode);
			rc = WM_EPROTO;
			goto out;
		}

		if (neg_exceeded(n, full->len + o.len)) {
			/* Frame full: this range's output o is dropped and one
			 * fingerprint closes the message, over the items from
			 * `upper` (the end of this range) to the end of the set.
			 * This is the reference rule, kept for byte identity:
			 * the peer reads the closing range as starting at the
			 * last bound on the wire, so it also covers this range
			 * and any Skip not yet written (proto/PROTOCOL.md §14). */
			uint8_t fp[NEG_FP_LEN];
			struct neg_bound inf;

			if ((rc = ops->fingerprint(n->st.ctx, upper, size, fp)) < 0)
				goto out;
			neg_bound_infinity(&inf);
			neg_encode_bound(n, full, &inf);
			nbuf_varint(full, NEG_MODE_FINGERPRINT);
			nbuf_put(full, fp, NEG_FP_LEN);
			break;
		}
		nbuf_put(full, o.p, o.len);
		if ((rc = o.err) < 0 || (rc = full->err) < 0)
			goto out;
		prev_index = upper;
		prev_bound = cur;
	}
	rc = full->err ? full->err : o.err;
out:
	nbuf_free(&o);
	return rc;
}

int neg_initiate(struct neg *n, uint8_t **msg, size_t *len)
{
	struct nbuf full = { 0 };
	struct neg_bound inf;
	int rc;

	if (n == NULL || msg == NULL || len == NULL || n->initiator)
		return WM_EINVAL;
	n->last_ts_out = 0;
	neg_bound_infinity(&inf);
	nbuf_byte(&full, NEG_PROTOCOL_VERSION);
	rc = neg_split_range(n, 0, n->st.ops->size(n->st.ctx), &inf, &full);
	if (rc < 0) {
		nbuf_free(&full);
		return rc;
	}
	n->initiator = 1;
	*msg = full.p;
	*len = full.len;
	return 0;
}

int neg_reconcile_client(struct neg *n, const uint8_t *in, size_t inlen,
                         struct neg_ids *have, struct neg_ids *need,
                         uint8_t **msg, size_t *len, char *why, size_t whylen)
{
	struct nbuf full = { 0 };
	size_t have0, need0;
	int rc;

	if (n == NULL || (in == NULL && inlen) || have == NULL || need == NULL ||
	    msg == NULL || len == NULL)
		return WM_EINVAL;
	if (!n->initiator) {
		wm_whyn(why, whylen, "negentropy client has not initiated");
		return WM_EINVAL;
	}
	have0 = have->n;
	need0 = need->n;
	rc = neg_process(n, in, inlen, have, need, &full, why, whylen);
	if (rc == 0)
		rc = neg_ids_keep_new(&n->seen_have, have, have0);
	if (rc == 0)
		rc = neg_ids_keep_new(&n->seen_need, need, need0);
	if (rc < 0) {
		have->n = have0;
		need->n = need0;
		nbuf_free(&full);
		return rc;
	}
	if (full.len == 1) {            /* nothing left to ask: done */
		nbuf_free(&full);
		*msg = NULL;
		*len = 0;
		return 0;
	}
	*msg = full.p;
	*len = full.len;
	return 0;
}

int neg_reconcile_server(struct neg *n, const uint8_t *in, size_t inlen,
                         uint8_t **msg, size_t *len, char *why, size_t whylen)
{
	struct nbuf full = { 0 };
	int rc;

	if (n == NULL || (in == NULL && inlen) || msg == NULL || len == NULL)
		return WM_EINVAL;
	if (n->initiator) {
		wm_whyn(why, whylen, "negentropy client asked to act as server");
		return WM_EINVAL;
	}
	rc = neg_process(n, in, inlen, NULL, NULL, &full, why, whylen);
	if (rc < 0) {
		nbuf_free(&full);
		return rc;
	}
	*msg = full.p;
	*len = full.len;
	return 0;
}
