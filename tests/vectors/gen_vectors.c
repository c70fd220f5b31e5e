/*
 * Generates tests/vectors/events.json: wire events, valid and broken, with
 * the verdict each must get.  Deterministic (fixed seeds, fixed times, fixed
 * placeholder bytes where the real thing would be random), so re-running it
 * gives the same file.  Not run by the test suite: its output is committed,
 * and test_event and tests/independent/check_events.py judge it.
 *
 * The payloads of broken vectors are written by hand here (not with
 * msgpack-c) so they can be exactly as broken as intended; most are then
 * signed properly, so the only fault is the one the name says.  Every
 * verdict is written by hand below and checked against event_decode: if the
 * decoder disagrees, this program stops instead of writing a wrong vector.
 *
 *   gen_vectors [OUT.json [OUT.bundle]]     (JSON on stdout without arguments)
 *
 * The bundle holds the valid vectors' wires, concatenated: a sample bundle
 * for importers and for check_events.py --bundle.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "event.h"

#define T0 1700000000000ull     /* 2023-11-14T22:13:20Z */

static struct key *alice, *bob;
static FILE *out, *bundle;
static int nvec, nbad;

/* --- a byte builder -------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void b_raw(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void b_u8(struct buf *b, unsigned v)
{
	uint8_t c = (uint8_t)v;

	b_raw(b, &c, 1);
}

static void b_be(struct buf *b, uint64_t v, int w)
{
	for (int k = w - 1; k >= 0; k--)
		b_u8(b, (unsigned)(v >> (8 * k)) & 0xff);
}

static void b_reset(struct buf *b)
{
	b->n = 0;
}

static void b_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Integer in a given width: 0 = fixint, else 1/2/4/8 bytes of uint. */
static void b_uint_w(struct buf *b, uint64_t v, int w)
{
	if (w == 0)
		b_u8(b, (unsigned)v);
	else {
		b_u8(b, w == 1 ? 0xcc : w == 2 ? 0xcd : w == 4 ? 0xce : 0xcf);
		b_be(b, v, w);
	}
}

static void b_uint(struct buf *b, uint64_t v)
{
	b_uint_w(b, v, v < 0x80 ? 0 : v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8);
}

/* Signed int in a given width: 0 = negative fixint, else int8..int64. */
static void b_int_w(struct buf *b, int64_t v, int w)
{
	if (w == 0)
		b_u8(b, (unsigned)(v & 0xff));
	else {
		b_u8(b, w == 1 ? 0xd0 : w == 2 ? 0xd1 : w == 4 ? 0xd2 : 0xd3);
		b_be(b, (uint64_t)v, w);
	}
}

static void b_int(struct buf *b, int64_t v)
{
	if (v >= 0)
		b_uint(b, (uint64_t)v);
	else
		b_int_w(b, v, v >= -32 ? 0 : v >= -128 ? 1 : v >= -32768 ? 2 : v >= -2147483647 - 1 ? 4 : 8);
}

/* Length headers: fam 's' str, 'b' bin, 'a' array, 'm' map; w = header
 * width in bytes after the type byte (0 = the fix form). */
static void b_hdr_w(struct buf *b, char fam, size_t n, int w)
{
	switch (fam) {
	case 's':
		if (w == 0) b_u8(b, 0xa0 | (unsigned)n);
		else { b_u8(b, w == 1 ? 0xd9 : w == 2 ? 0xda : 0xdb); b_be(b, n, w); }
		break;
	case 'b':
		b_u8(b, w == 1 ? 0xc4 : w == 2 ? 0xc5 : 0xc6);
		b_be(b, n, w);
		break;
	case 'a':
		if (w == 0) b_u8(b, 0x90 | (unsigned)n);
		else { b_u8(b, w == 2 ? 0xdc : 0xdd); b_be(b, n, w); }
		break;
	default:
		if (w == 0) b_u8(b, 0x80 | (unsigned)n);
		else { b_u8(b, w == 2 ? 0xde : 0xdf); b_be(b, n, w); }
		break;
	}
}

static void b_hdr(struct buf *b, char fam, size_t n)
{
	int w;

	switch (fam) {
	case 's': w = n < 32 ? 0 : n <= 0xff ? 1 : n <= 0xffff ? 2 : 4; break;
	case 'b': w = n <= 0xff ? 1 : n <= 0xffff ? 2 : 4; break;
	default:  w = n < 16 ? 0 : n <= 0xffff ? 2 : 4; break;
	}
	b_hdr_w(b, fam, n, w);
}

static void b_strn(struct buf *b, const char *s, size_t n)
{
	b_hdr(b, 's', n);
	b_raw(b, s, n);
}

static void b_str(struct buf *b, const char *s)
{
	b_strn(b, s, strlen(s));
}

static void b_bin(struct buf *b, const void *p, size_t n)
{
	b_hdr(b, 'b', n);
	b_raw(b, p, n);
}

static void b_fill_bin(struct buf *b, uint8_t fill, size_t n)
{
	b_hdr(b, 'b', n);
	for (size_t k = 0; k < n; k++)
		b_u8(b, fill);
}

/* --- content maps as sorted key/value lists -------------------------------- */

struct kvs {
	const char *k[24];
	struct buf v[24];
	size_t n;
};

static struct buf *kv_put(struct kvs *m, const char *k)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->k[i], k) == 0) {
			b_reset(&m->v[i]);
			return &m->v[i];
		}
	m->k[m->n] = k;
	memset(&m->v[m->n], 0, sizeof(m->v[0]));
	return &m->v[m->n++];
}

static void kv_str(struct kvs *m, const char *k, const char *s)
{
	b_str(kv_put(m, k), s);
}

static void kv_drop(struct kvs *m, const char *k)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->k[i], k) == 0) {
			b_free(&m->v[i]);
			memmove(&m->k[i], &m->k[i + 1], (m->n - i - 1) * sizeof(m->k[0]));
			memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(m->v[0]));
			m->n--;
			return;
		}
}

static void kv_free(struct kvs *m)
{
	for (size_t i = 0; i < m->n; i++)
		b_free(&m->v[i]);
	m->n = 0;
}

static int kcmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
	int c = memcmp(a, b, n);

	return c != 0 ? c : la < lb ? -1 : la > lb;
}

/* Canonical map: keys sorted bytewise. */
static void kv_encode(const struct kvs *m, struct buf *b)
{
	size_t idx[24];

	for (size_t i = 0; i < m->n; i++)
		idx[i] = i;
	for (size_t i = 1; i < m->n; i++)
		for (size_t j = i; j > 0 && kcmp(m->k[idx[j - 1]], m->k[idx[j]]) > 0; j--) {
			size_t t = idx[j];

			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	b_hdr(b, 'm', m->n);
	for (size_t i = 0; i < m->n; i++) {
		b_str(b, m->k[idx[i]]);
		b_raw(b, m->v[idx[i]].p, m->v[idx[i]].n);
	}
}

/* --- headers and contents ---------------------------------------------------- */

enum { F_VERSION, F_KIND, F_AUTHOR, F_CREATED, F_NETWORK, F_GROUP, F_PREV, F_REFS, F_EXPIRES, F_HASH, NF };

/* The network every vector is made in and judged in (the "network" of each
 * vector in the JSON), and another one. */
static uint8_t net_ours[WM_NETWORK_LEN], net_other[WM_NETWORK_LEN];

struct body {
	struct buf f[NF];
	int nfields;            /* header count; fields beyond 10 get `extra_field` */
	struct buf hdr;         /* non-empty: use instead of the canonical header */
	struct buf extra_field; /* an 11th field */
	struct buf trailing;    /* bytes after the header inside the payload */
	struct kvs content;
	struct buf cbytes;      /* the content as it goes on the wire */
	int raw_content;        /* 1: cbytes was set by hand */
	int raw_hash;           /* 1: f[F_HASH] was set by hand */
	const struct key *signer;
};

static uint8_t ref_a[WM_ID_LEN], ref_b[WM_ID_LEN];

static void body_free(struct body *b)
{
	for (int i = 0; i < NF; i++)
		b_free(&b->f[i]);
	b_free(&b->hdr);
	b_free(&b->extra_field);
	b_free(&b->trailing);
	b_free(&b->cbytes);
	kv_free(&b->content);
}

static void set_refs(struct body *b, size_t n)
{
	b_reset(&b->f[F_REFS]);
	b_hdr(&b->f[F_REFS], 'a', n);
	for (size_t i = 0; i < n; i++) {
		uint8_t r[WM_ID_LEN];

		memset(r, (int)(0x10 + i), sizeof(r));
		if (i == 0)
			memcpy(r, ref_a, sizeof(r));
		b_bin(&b->f[F_REFS], r, sizeof(r));
	}
}

/* A keep entry [group, id, expires_at]. */
static void keep_entry(struct buf *k, const char *group, uint8_t fill, uint64_t expires)
{
	b_hdr(k, 'a', 3);
	b_str(k, group);
	b_fill_bin(k, fill, WM_ID_LEN);
	b_uint(k, expires);
}

/* A valid event of each kind, minimal but with every required key. */
static void body_init(struct body *b, unsigned kind)
{
	struct kvs *m = &b->content;

	memset(b, 0, sizeof(*b));
	b->nfields = NF;
	b->signer = alice;
	b_uint(&b->f[F_VERSION], 2);
	b_uint(&b->f[F_KIND], kind);
	b_bin(&b->f[F_AUTHOR], alice->pub, WM_PUB_LEN);
	b_uint(&b->f[F_CREATED], T0);
	b_bin(&b->f[F_NETWORK], net_ours, WM_NETWORK_LEN);
	b_str(&b->f[F_GROUP], kind == KIND_CERT || kind == KIND_REVOKE ? "network" : "gaobu.xinhua-village");
	b_bin(&b->f[F_PREV], ref_b, kind == KIND_BULLETIN ? WM_ID_LEN : 0);
	set_refs(b, 0);
	b_uint(&b->f[F_EXPIRES], 0);
	switch (kind) {
	case KIND_BULLETIN:
		kv_str(m, "title", "Fake bank calls");
		kv_str(m, "text", "Callers claiming to be from the bank ask for card codes. Hang up and call 110.");
		kv_str(m, "category", "fraud");
		kv_str(m, "lang", "en");
		break;
	case KIND_ALERT: {
		struct buf *c;

		b_reset(&b->f[F_EXPIRES]);
		b_uint(&b->f[F_EXPIRES], T0 + 86400000);
		kv_str(m, "event", "Missing person");
		kv_str(m, "headline", "Boy, 8, missing near the river");
		kv_str(m, "text", "\xe7\xba\xa2\xe8\x89\xb2\xe5\xa4\x96\xe5\xa5\x97 red jacket, blue shoes.");
		kv_str(m, "category", "Rescue");
		kv_str(m, "urgency", "Immediate");
		kv_str(m, "severity", "Severe");
		kv_str(m, "certainty", "Observed");
		kv_str(m, "area_desc", "Xinhua village, east bank");
		c = kv_put(m, "circle");
		b_hdr(c, 'a', 3);
		b_int(c, 30572815);      /* 30.572815 N */
		b_int(c, -104066801);    /* a western longitude, to have a negative int */
		b_uint(c, 1500);
		kv_str(m, "photo_type", "image/png");
		b_fill_bin(kv_put(m, "photo"), 0x89, 40);
		break;
	}
	case KIND_REQUEST:
		kv_str(m, "topic", "lost-found");
		kv_str(m, "text", "Lost a grey cat near the school.");
		break;
	case KIND_REPLY:
		set_refs(b, 1);
		kv_str(m, "text", "I saw him at the bridge at 3 pm.");
		break;
	case KIND_STATUS:
		set_refs(b, 1);
		kv_str(m, "state", "referred");
		kv_str(m, "referred_to", "Xinhua mediation centre");
		break;
	case KIND_RETRACT:
		set_refs(b, 1);
		kv_str(m, "reason", "posted twice");
		break;
	case KIND_CERT: {
		struct buf *g;

		b_bin(kv_put(m, "subject"), bob->pub, WM_PUB_LEN);
		kv_str(m, "role", "officer");
		kv_str(m, "name", "Officer Wang Fang");
		g = kv_put(m, "groups");
		b_hdr(g, 'a', 2);
		b_str(g, "gaobu");
		b_str(g, "gaobu.xinhua-village");
		b_uint(kv_put(m, "not_before"), T0);
		b_uint(kv_put(m, "not_after"), T0 + 365ull * 86400000);
		break;
	}
	case KIND_REVOKE: {
		struct buf *k;

		b_bin(kv_put(m, "subject"), bob->pub, WM_PUB_LEN);
		kv_str(m, "reason", "key lost");
		k = kv_put(m, "keep");
		b_hdr(k, 'a', 2);
		keep_entry(k, "gaobu", 0xc1, 0);
		keep_entry(k, "gaobu.xinhua-village", 0xc2, T0 + 3600000);
		break;
	}
	case KIND_ACK:
		set_refs(b, 1);
		kv_str(m, "what", "helping");
		break;
	default:
		break;
	}
}

/* The header (payload) and content bytes of b. */
static void body_payload(struct body *b, struct buf *p)
{
	uint8_t h[WM_ID_LEN];

	if (!b->raw_content) {
		b_reset(&b->cbytes);
		kv_encode(&b->content, &b->cbytes);
	}
	if (!b->raw_hash) {
		b_reset(&b->f[F_HASH]);
		id_compute(h, b->cbytes.p, b->cbytes.n);
		b_bin(&b->f[F_HASH], h, WM_ID_LEN);
	}
	b_reset(p);
	if (b->hdr.n > 0)
		b_raw(p, b->hdr.p, b->hdr.n);
	else
		b_hdr(p, 'a', (size_t)b->nfields);
	for (int i = 0; i < NF && i < b->nfields; i++)
		b_raw(p, b->f[i].p, b->f[i].n);
	if (b->nfields > NF)
		b_raw(p, b->extra_field.p, b->extra_field.n);
	b_raw(p, b->trailing.p, b->trailing.n);
}

/* --- output ------------------------------------------------------------------ */

static void json_string(const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void hex_out(const uint8_t *p, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
	fputc('"', out);
}

/* Judge wire as a node of network net_ours does before its store has a say:
 * the decoder, then the network. */
static int judge(const uint8_t *wire, size_t len, struct event **ev, char *why)
{
	int rc = event_decode(wire, len, ev, why);

	if (rc == 0 && memcmp((*ev)->network, net_ours, WM_NETWORK_LEN) != 0) {
		snprintf(why, WM_WHY_LEN, "made in another network");
		event_free(*ev);
		*ev = NULL;
		return WM_ENETWORK;
	}
	return rc;
}

/* The open_* keys of the next vector emitted: what bob finds in its box. */
static const char *open_note;
static char open_buf[1024];

/* Judge wire, compare with the intended verdict, write. */
static void emit(const char *name, const uint8_t *wire, size_t len, const uint8_t *id, int want)
{
	struct event *ev = NULL;
	char why[WM_WHY_LEN] = "";
	int rc = judge(wire, len, &ev, why);
	int withheld = rc == 0 && ev->withheld;

	if (rc != want) {
		fprintf(stderr, "gen_vectors: %s: decoder says %s (%s), intended %s\n", name,
		        wm_errname(rc), why, wm_errname(want));
		nbad++;
	}
	if (rc == 0 && id != NULL && memcmp(ev->id, id, WM_ID_LEN) != 0) {
		fprintf(stderr, "gen_vectors: %s: id mismatch\n", name);
		nbad++;
	}
	event_free(ev);
	if (want == 0 && !withheld && bundle != NULL && fwrite(wire, 1, len, bundle) != len) {
		perror("bundle");
		exit(1);
	}
	fprintf(out, "%s\n  {\"name\": ", nvec++ ? "," : "");
	json_string(name);
	fprintf(out, ", \"valid\": %s", want == 0 ? "true" : "false");
	if (withheld)
		fprintf(out, ", \"withheld\": true");
	fprintf(out, ", \"network\": ");
	hex_out(net_ours, WM_NETWORK_LEN);
	if (id != NULL) {
		fprintf(out, ", \"id\": ");
		hex_out(id, WM_ID_LEN);
	}
	if (open_note != NULL)
		fprintf(out, ", %s", open_note);
	if (want != 0) {
		fprintf(out, ", \"error\": ");
		json_string(wm_errname(want));
		fprintf(out, ", \"reason\": ");
		json_string(why);
	}
	fprintf(out, ",\n   \"wire\": ");
	hex_out(wire, len);
	fputc('}', out);
}

/* Sign the body's payload, wrap it with its content and emit it. */
static void emit_body(const char *name, struct body *b, int want)
{
	struct buf p = { 0 };
	uint8_t *wire = NULL, id[WM_ID_LEN];
	size_t len = 0;

	body_payload(b, &p);
	if (event_wrap(p.p, p.n, b->cbytes.p != NULL ? b->cbytes.p : (const uint8_t *)"", b->cbytes.n,
	               b->signer, &wire, &len, id) != 0) {
		fprintf(stderr, "gen_vectors: %s: cannot sign\n", name);
		exit(1);
	}
	emit(name, wire, len, id, want);
	free(wire);
	b_free(&p);
}

/* Body of a kind with one content key dropped / replaced by a string. */
static void kind_case(const char *name, unsigned kind, const char *drop, const char *key,
                      const char *val, int want)
{
	struct body b;

	body_init(&b, kind);
	if (drop != NULL)
		kv_drop(&b.content, drop);
	if (key != NULL)
		kv_str(&b.content, key, val);
	emit_body(name, &b, want);
	body_free(&b);
}

/* A header field replaced by raw bytes. */
static void field_case(const char *name, unsigned kind, int field, const void *bytes, size_t n, int want)
{
	struct body b;

	body_init(&b, kind);
	b_reset(&b.f[field]);
	b_raw(&b.f[field], bytes, n);
	if (field == F_HASH)
		b.raw_hash = 1;
	emit_body(name, &b, want);
	body_free(&b);
}

/* The content replaced by raw bytes, the header's hash theirs: what is
 * judged is their form. */
static void content_case(const char *name, unsigned kind, const void *bytes, size_t n, int want)
{
	struct body b;

	body_init(&b, kind);
	b_raw(&b.cbytes, bytes, n);
	b.raw_content = 1;
	emit_body(name, &b, want);
	body_free(&b);
}

/* A content value replaced by raw bytes (still in the sorted place). */
static void value_case(const char *name, unsigned kind, const char *key, const void *bytes, size_t n, int want)
{
	struct body b;
	struct buf *v;

	body_init(&b, kind);
	v = kv_put(&b.content, key);
	b_raw(v, bytes, n);
	emit_body(name, &b, want);
	body_free(&b);
}

static const char *const kinds[] = { NULL, "bulletin", "alert", "request", "reply", "status",
	"retract", "cert", "revoke", "ack" };

/* A box of the right shape (section 6) for n recipients and blocks of 256
 * bytes; its bytes are placeholders. */
static void placeholder_box(struct buf *to, unsigned n, unsigned blocks)
{
	size_t len = WM_SEAL_HDR(n) + 16 + blocks * WM_SEAL_PAD;
	uint8_t *p = malloc(len);

	if (p == NULL)
		exit(1);
	memset(p, 0x5a, len);
	p[0] = (uint8_t)n;
	b_bin(to, p, len);
	free(p);
}

/* A real box by alice for bob in the body's group, with lang zh. */
static void sealed_box(struct body *b, unsigned kind, const char *topic, const char *text)
{
	struct sealed parts = { 0 };
	char why[WM_WHY_LEN] = "";
	uint8_t *box = NULL;
	size_t boxlen = 0;

	parts.nto = 1;
	parts.to = bob->pub;
	parts.topic = topic;
	parts.topiclen = strlen(topic);
	parts.lang = "zh";
	parts.langlen = 2;
	parts.text = text;
	parts.textlen = strlen(text);
	if (content_seal(alice, kind, net_ours, "gaobu.xinhua-village", &parts, &box, &boxlen, why) != 0) {
		fprintf(stderr, "gen_vectors: cannot seal: %s\n", why);
		exit(1);
	}
	b_bin(kv_put(&b->content, "box"), box, boxlen);
	free(box);
	/* flat keys: test_event's reader takes strings, not objects */
	snprintf(open_buf, sizeof open_buf, "\"open_seed\": \"%s\", \"open_topic\": \"%s\", "
	         "\"open_lang\": \"zh\", \"open_text_sha256\": \"",
	         "0202020202020202020202020202020202020202020202020202020202020202", topic);
	{
		uint8_t h[WM_ID_LEN];
		size_t o = strlen(open_buf);

		id_compute(h, (const uint8_t *)text, strlen(text));
		hex_encode(open_buf + o, h, WM_ID_LEN);
		snprintf(open_buf + o + 2 * WM_ID_LEN, sizeof open_buf - o - 2 * WM_ID_LEN, "\"");
	}
	open_note = open_buf;
}

static void valid_vectors(void)
{
	struct body b;
	char name[64];

	for (unsigned k = 1; k <= KIND_MAX; k++) {
		snprintf(name, sizeof(name), "valid %s", kinds[k]);
		body_init(&b, k);
		emit_body(name, &b, 0);
		body_free(&b);
	}
	/* the worked example of PROTOCOL.md, byte for byte */
	body_init(&b, KIND_ACK);
	b_reset(&b.f[F_GROUP]);
	b_str(&b.f[F_GROUP], "gaobu");
	kv_str(&b.content, "what", "seen");
	emit_body("valid ack: the worked example of PROTOCOL.md", &b, 0);
	body_free(&b);

	/* a sealed request: the box only, of the right shape (placeholder bytes:
	 * the content rules check its shape, only readers can open it) */
	body_init(&b, KIND_REQUEST);
	kv_drop(&b.content, "text");
	kv_drop(&b.content, "topic");
	placeholder_box(kv_put(&b.content, "box"), 2, 1);
	emit_body("valid request, sealed for two recipients (placeholder box)", &b, 0);
	body_free(&b);

	/* a real box, sealed to bob: a third party with bob's secret seed opens
	 * it, checks alice's signature inside and finds what "open" says */
	body_init(&b, KIND_REQUEST);
	kv_drop(&b.content, "text");
	kv_drop(&b.content, "topic");
	sealed_box(&b, KIND_REQUEST, "police", "\xe6\xa5\xbc\xe9\x81\x93\xe9\x87\x8c\xe6\x9c\x89\xe4\xba\xba"
	           "\xe5\x8f\x91\xe4\xbc\xa0\xe9\x94\x80\xe5\x8d\x95 someone hands out pyramid-scheme flyers");
	emit_body("valid request, sealed to bob (opens with bob's seed)", &b, 0);
	open_note = NULL;
	body_free(&b);

	/* a sealed reply, and a referral re-sealed for an office */
	body_init(&b, KIND_REPLY);
	kv_drop(&b.content, "text");
	placeholder_box(kv_put(&b.content, "box"), 1, 2);
	emit_body("valid reply, sealed (placeholder box)", &b, 0);
	body_free(&b);
	body_init(&b, KIND_STATUS);
	placeholder_box(kv_put(&b.content, "box"), 1, 1);
	emit_body("valid status referred, the request re-sealed for the office (placeholder box)", &b, 0);
	body_free(&b);

	body_init(&b, KIND_REPLY);
	set_refs(&b, WM_MAX_REFS);
	b_reset(&b.f[F_EXPIRES]);
	b_uint(&b.f[F_EXPIRES], T0 + 1);
	b_reset(&b.f[F_GROUP]);
	b_str(&b.f[F_GROUP], "a234567890123456789012345678901234567890123456789012345678901234");
	kv_str(&b.content, "text", "\xe6\x88\x91\xe7\x9c\x8b\xe8\xa7\x81\xe4\xbb\x96\xe4\xba\x86 \xf0\x9f\x91\x8d");
	emit_body("valid reply: 16 refs, 64-byte group, expires 1 ms after creation, CJK and emoji", &b, 0);
	body_free(&b);

	body_init(&b, KIND_REPLY);
	kv_str(&b.content, "text", "tab\there\nnew line, a family emoji with zero-width joiners "
	       "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7");
	emit_body("valid reply with tab, newline and zero-width joiners", &b, 0);
	body_free(&b);

	body_init(&b, KIND_BULLETIN);
	kv_str(&b.content, "x_future_field", "later versions may add optional keys");
	b_int(kv_put(&b.content, "x_future_num"), -100000);
	{
		struct buf *a = kv_put(&b.content, "x_future_list");

		b_hdr(a, 'a', 3);
		b_str(a, "s");
		b_bin(a, "b", 1);
		b_uint(a, 70000);
	}
	emit_body("valid bulletin with unknown keys of allowed types", &b, 0);
	body_free(&b);

	/* a whole event of exactly 64 KiB: padding in an unknown key */
	body_init(&b, KIND_BULLETIN);
	{
		struct buf p = { 0 };
		size_t pad, wlen;

		b_fill_bin(kv_put(&b.content, "x_pad"), 0, 60000);
		body_payload(&b, &p);
		/* [payload, sig, content]: 1 + 2 + header + 66 + 3 + content */
		wlen = 1 + 2 + p.n + 2 + WM_SIG_LEN + 3 + b.cbytes.n;
		pad = 60000 + (WM_MAX_WIRE - wlen);
		b_reset(kv_put(&b.content, "x_pad"));
		b_fill_bin(kv_put(&b.content, "x_pad"), 0, pad);
		emit_body("valid bulletin of exactly 65536 bytes", &b, 0);
		b_reset(kv_put(&b.content, "x_pad"));
		b_fill_bin(kv_put(&b.content, "x_pad"), 0, pad + 1);
		emit_body("event of 65537 bytes (one too many)", &b, WM_ETOOBIG);
		b_free(&p);
	}
	body_free(&b);

	/* a withheld event: [payload, sig], its header as signed */
	body_init(&b, KIND_BULLETIN);
	{
		struct buf p = { 0 };
		uint8_t *wire = NULL, id[WM_ID_LEN];
		size_t len = 0;

		body_payload(&b, &p);
		if (event_wrap(p.p, p.n, NULL, 0, alice, &wire, &len, id) != 0)
			exit(1);
		emit("valid withheld bulletin (no content; taken only where a retract of it is held)",
		     wire, len, id, 0);
		free(wire);
		b_free(&p);
	}
	body_free(&b);

	body_init(&b, KIND_REVOKE);
	kv_put(&b.content, "keep");
	b_hdr(kv_put(&b.content, "keep"), 'a', 0);
	emit_body("valid revoke with an empty keep", &b, 0);
	body_free(&b);
}

static void wrapper_vectors(void)
{
	struct body b;
	struct buf p = { 0 }, w = { 0 };
	uint8_t *wire = NULL, id[WM_ID_LEN], sig[WM_SIG_LEN];
	const uint8_t *c;
	size_t len = 0, cn;

	body_init(&b, KIND_BULLETIN);
	body_payload(&b, &p);
	c = b.cbytes.p;
	cn = b.cbytes.n;
	if (event_wrap(p.p, p.n, c, cn, alice, &wire, &len, id) != 0)
		exit(1);
	memcpy(sig, wire + 1 + 2 + p.n + 2, WM_SIG_LEN);

#define WRAP(name, want, ...) do { b_reset(&w); __VA_ARGS__; emit(name, w.p, w.n, id, want); } while (0)
	WRAP("signature byte flipped", WM_ESIG,
	     b_raw(&w, wire, len); w.p[1 + 2 + p.n + 2 + 10] ^= 0x01);
	WRAP("header byte flipped (the group)", WM_ESIG,
	     b_raw(&w, wire, len); w.p[1 + 2 + p.n - 40] ^= 0x20;
	     id_compute(id, w.p + 3, p.n));
	id_compute(id, p.p, p.n);
	WRAP("content byte flipped (inside the text): wrong content hash", WM_EHASH,
	     b_raw(&w, wire, len); w.p[len - 20] ^= 0x20);
	WRAP("content replaced by another valid content", WM_EHASH,
	     b_hdr(&w, 'a', 3); b_bin(&w, p.p, p.n); b_bin(&w, sig, WM_SIG_LEN);
	     b_bin(&w, "\x83\xa8" "category\xa5" "other\xa4text\xa1x\xa5title\xa1t", 29));
	WRAP("content as nil (missing)", WM_EMALFORMED,
	     b_hdr(&w, 'a', 3); b_bin(&w, p.p, p.n); b_bin(&w, sig, WM_SIG_LEN); b_u8(&w, 0xc0));
	WRAP("content as a map, not a binary", WM_EMALFORMED,
	     b_hdr(&w, 'a', 3); b_bin(&w, p.p, p.n); b_bin(&w, sig, WM_SIG_LEN); b_raw(&w, c, cn));
	WRAP("content with a bin16 header for fewer than 256 bytes", WM_ECANONICAL,
	     b_hdr(&w, 'a', 3); b_bin(&w, p.p, p.n); b_bin(&w, sig, WM_SIG_LEN); b_hdr_w(&w, 'b', cn, 2);
	     b_raw(&w, c, cn));
	WRAP("trailing byte after the wrapper", WM_EMALFORMED,
	     b_raw(&w, wire, len); b_u8(&w, 0x00));
	WRAP("wrapper truncated by one byte", WM_EMALFORMED,
	     b_raw(&w, wire, len - 1));
	WRAP("wrapper of four items", WM_EMALFORMED,
	     b_hdr(&w, 'a', 4); b_bin(&w, p.p, p.n); b_bin(&w, sig, WM_SIG_LEN); b_bin(&w, c, cn); b_bin(&w, sig, 1));
	WRAP("wrapper of one item", WM_EMALFORMED,
	     b_hdr(&w, 'a', 1); b_bin(&w, p.p, p.n));
	WRAP("wrapper array16 header", WM_ECANONICAL,
	     b_hdr_w(&w, 'a', 3, 2); b_bin(&w, p.p, p.n); b_bin(&w, sig, WM_SIG_LEN); b_bin(&w, c, cn));
	WRAP("wrapper is a map", WM_EMALFORMED,
	     b_hdr(&w, 'm', 1); b_bin(&w, p.p, p.n); b_bin(&w, sig, WM_SIG_LEN));
	WRAP("payload with a bin16 header for fewer than 256 bytes", WM_ECANONICAL,
	     b_hdr(&w, 'a', 3); b_hdr_w(&w, 'b', p.n, 2); b_raw(&w, p.p, p.n); b_bin(&w, sig, WM_SIG_LEN);
	     b_bin(&w, c, cn));
	WRAP("payload as a string, not a binary", WM_EMALFORMED,
	     b_hdr(&w, 'a', 3); b_strn(&w, (const char *)p.p, p.n); b_bin(&w, sig, WM_SIG_LEN); b_bin(&w, c, cn));
	WRAP("signature of 63 bytes", WM_EMALFORMED,
	     b_hdr(&w, 'a', 3); b_bin(&w, p.p, p.n); b_bin(&w, sig, 63); b_bin(&w, c, cn));
	WRAP("signature with a bin16 header", WM_ECANONICAL,
	     b_hdr(&w, 'a', 3); b_bin(&w, p.p, p.n); b_hdr_w(&w, 'b', 64, 2); b_raw(&w, sig, 64); b_bin(&w, c, cn));
#undef WRAP
	free(wire);

	/* signed by bob, claiming alice as author */
	b.signer = bob;
	emit_body("signed by another key than the author", &b, WM_ESIG);
	body_free(&b);
	b_free(&p);
	b_free(&w);
}

static void body_vectors(void)
{
	struct body b;
	uint8_t u8 = 0, big[64];

	/* the header array */
	body_init(&b, KIND_BULLETIN);
	b.nfields = 9;
	emit_body("header of 9 fields", &b, WM_EMALFORMED);
	b.nfields = 11;
	b_uint(&b.extra_field, 0);
	emit_body("header of 11 fields", &b, WM_EMALFORMED);
	b.nfields = NF;
	b_hdr_w(&b.hdr, 'a', NF, 2);
	emit_body("header with an array16 header", &b, WM_ECANONICAL);
	b_reset(&b.hdr);
	b_u8(&b.trailing, 0x00);
	emit_body("trailing byte inside the payload, after the header", &b, WM_EMALFORMED);
	body_free(&b);
	body_init(&b, KIND_BULLETIN);
	b_hdr(&b.hdr, 'm', 5);
	emit_body("header is a map", &b, WM_EMALFORMED);
	body_free(&b);

	/* version */
	u8 = 3;
	field_case("version 3", KIND_BULLETIN, F_VERSION, &u8, 1, WM_EVERSION);
	u8 = 1;
	field_case("version 1 in a v2 header (retired)", KIND_BULLETIN, F_VERSION, &u8, 1, WM_EVERSION);
	u8 = 0;
	field_case("version 0", KIND_BULLETIN, F_VERSION, &u8, 1, WM_EVERSION);
	field_case("version 2 as uint8 (cc 02)", KIND_BULLETIN, F_VERSION, "\xcc\x02", 2, WM_ECANONICAL);
	field_case("version as a string", KIND_BULLETIN, F_VERSION, "\xa1" "2", 2, WM_EMALFORMED);
	{
		/* a whole v1 event, as version 1 made them: [payload, sig] around
		 * [1, kind, author, created_at, group, refs, expires_at, content] */
		struct buf v1 = { 0 };
		uint8_t *wire = NULL, id[WM_ID_LEN];
		size_t len = 0;

		b_hdr(&v1, 'a', 8);
		b_uint(&v1, 1);
		b_uint(&v1, KIND_ACK);
		b_bin(&v1, alice->pub, WM_PUB_LEN);
		b_uint(&v1, T0);
		b_str(&v1, "gaobu");
		b_hdr(&v1, 'a', 1);
		b_bin(&v1, ref_a, WM_ID_LEN);
		b_uint(&v1, 0);
		b_hdr(&v1, 'm', 1);
		b_str(&v1, "what");
		b_str(&v1, "seen");
		if (event_wrap(v1.p, v1.n, NULL, 0, alice, &wire, &len, id) != 0)
			exit(1);
		emit("a version 1 event (retired)", wire, len, id, WM_EVERSION);
		free(wire);
		b_free(&v1);
	}

	/* network, prev, content_hash */
	{
		struct buf t = { 0 };

		b_bin(&t, net_other, WM_NETWORK_LEN);
		field_case("made in another network", KIND_REQUEST, F_NETWORK, t.p, t.n, WM_ENETWORK);
		b_reset(&t);
		b_fill_bin(&t, 0x4e, WM_NETWORK_LEN - 1);
		field_case("network id of 15 bytes", KIND_REQUEST, F_NETWORK, t.p, t.n, WM_EMALFORMED);
		b_reset(&t);
		b_strn(&t, (const char *)net_ours, WM_NETWORK_LEN);
		field_case("network id as a string", KIND_REQUEST, F_NETWORK, t.p, t.n, WM_EMALFORMED);
		b_reset(&t);
		b_fill_bin(&t, 0x9a, WM_ID_LEN - 1);
		field_case("prev of 31 bytes", KIND_BULLETIN, F_PREV, t.p, t.n, WM_EMALFORMED);
		b_reset(&t);
		b_fill_bin(&t, 0x9a, WM_ID_LEN + 1);
		field_case("prev of 33 bytes", KIND_BULLETIN, F_PREV, t.p, t.n, WM_EMALFORMED);
		field_case("prev as nil", KIND_BULLETIN, F_PREV, "\xc0", 1, WM_EMALFORMED);
		field_case("prev as an empty array", KIND_BULLETIN, F_PREV, "\x90", 1, WM_EMALFORMED);
		b_reset(&t);
		b_fill_bin(&t, 0x00, WM_ID_LEN);
		field_case("content_hash of zeros", KIND_BULLETIN, F_HASH, t.p, t.n, WM_EHASH);
		b_reset(&t);
		b_fill_bin(&t, 0x00, WM_ID_LEN - 1);
		field_case("content_hash of 31 bytes", KIND_BULLETIN, F_HASH, t.p, t.n, WM_EMALFORMED);
		b_free(&t);
	}

	/* kind */
	field_case("kind 0", KIND_BULLETIN, F_KIND, "\x00", 1, WM_EMALFORMED);
	field_case("kind 10", KIND_BULLETIN, F_KIND, "\x0a", 1, WM_EMALFORMED);
	field_case("kind 1 as uint16", KIND_BULLETIN, F_KIND, "\xcd\x00\x01", 3, WM_ECANONICAL);
	field_case("kind as a negative integer", KIND_BULLETIN, F_KIND, "\xff", 1, WM_EMALFORMED);

	/* author */
	memcpy(big, "\xc4\x1f", 2);
	memcpy(big + 2, alice->pub, 31);
	field_case("author of 31 bytes", KIND_BULLETIN, F_AUTHOR, big, 33, WM_EMALFORMED);
	big[0] = 0xa0 | 31;
	memset(big + 1, 'x', 31);
	field_case("author as a string", KIND_BULLETIN, F_AUTHOR, big, 32, WM_EMALFORMED);

	/* created_at */
	{
		struct buf t = { 0 };

		b_uint_w(&t, 1700000000, 8);
		field_case("created_at 1700000000 (seconds, by mistake) in uint64 form where uint32 is shortest",
		           KIND_BULLETIN, F_CREATED, t.p, t.n, WM_ECANONICAL);
		b_reset(&t);
		b_uint_w(&t, 5, 1);
		field_case("created_at 5 in uint8 form where fixint is shortest", KIND_BULLETIN, F_CREATED,
		           t.p, t.n, WM_ECANONICAL);
		b_free(&t);
	}
	field_case("created_at 0", KIND_BULLETIN, F_CREATED, "\x00", 1, WM_EMALFORMED);
	field_case("created_at negative", KIND_BULLETIN, F_CREATED, "\xff", 1, WM_EMALFORMED);
	field_case("created_at as a float64", KIND_BULLETIN, F_CREATED,
	           "\xcb\x42\x78\xbc\xfe\x56\x80\x00\x00", 9, WM_EMALFORMED);
	field_case("created_at nil", KIND_BULLETIN, F_CREATED, "\xc0", 1, WM_EMALFORMED);
	field_case("created_at true", KIND_BULLETIN, F_CREATED, "\xc3", 1, WM_EMALFORMED);
	field_case("created_at as a timestamp ext", KIND_BULLETIN, F_CREATED,
	           "\xd6\xff\x65\x53\xf1\x00", 6, WM_EMALFORMED);
	field_case("created_at signed int64 form of a positive value", KIND_BULLETIN, F_CREATED,
	           "\xd3\x00\x00\x01\x8b\xcf\xe5\x68\x00", 9, WM_ECANONICAL);

	/* group */
	field_case("group with upper case 'Gaobu'", KIND_BULLETIN, F_GROUP, "\xa5" "Gaobu", 6, WM_EMALFORMED);
	field_case("group empty", KIND_BULLETIN, F_GROUP, "\xa0", 1, WM_EMALFORMED);
	field_case("group with a space", KIND_BULLETIN, F_GROUP, "\xa5" "ga bu", 6, WM_EMALFORMED);
	field_case("group in Chinese (valid UTF-8, not allowed)", KIND_BULLETIN, F_GROUP,
	           "\xa6\xe9\xab\x98\xe5\x9f\xa0", 7, WM_EMALFORMED);
	field_case("group with a str8 header for 5 bytes", KIND_BULLETIN, F_GROUP, "\xd9\x05gaobu", 7, WM_ECANONICAL);
	field_case("group with invalid UTF-8", KIND_BULLETIN, F_GROUP, "\xa2\xc3\x28", 3, WM_EMALFORMED);
	field_case("group as a binary", KIND_BULLETIN, F_GROUP, "\xc4\x05gaobu", 7, WM_EMALFORMED);
	{
		char g[66];

		memset(g, 'a', sizeof(g));
		g[0] = (char)0xd9;
		g[1] = 65;
		struct buf t = { 0 };

		b_raw(&t, g, 2);
		for (int i = 0; i < 65; i++)
			b_u8(&t, 'g');
		field_case("group of 65 bytes", KIND_BULLETIN, F_GROUP, t.p, t.n, WM_EMALFORMED);
		b_free(&t);
	}

	/* refs */
	body_init(&b, KIND_REPLY);
	set_refs(&b, WM_MAX_REFS + 1);
	emit_body("17 refs", &b, WM_EMALFORMED);
	b_reset(&b.f[F_REFS]);
	b_hdr(&b.f[F_REFS], 'a', 1);
	b_fill_bin(&b.f[F_REFS], 1, 31);
	emit_body("a ref of 31 bytes", &b, WM_EMALFORMED);
	b_reset(&b.f[F_REFS]);
	b_hdr_w(&b.f[F_REFS], 'a', 1, 2);
	b_bin(&b.f[F_REFS], ref_a, WM_ID_LEN);
	emit_body("refs with an array16 header", &b, WM_ECANONICAL);
	b_reset(&b.f[F_REFS]);
	b_hdr(&b.f[F_REFS], 'a', 1);
	b_hdr_w(&b.f[F_REFS], 'b', WM_ID_LEN, 2);
	b_raw(&b.f[F_REFS], ref_a, WM_ID_LEN);
	emit_body("a ref with a bin16 header", &b, WM_ECANONICAL);
	b_reset(&b.f[F_REFS]);
	b_hdr(&b.f[F_REFS], 'm', 0);
	emit_body("refs as a map", &b, WM_EMALFORMED);
	body_free(&b);

	/* expires_at */
	{
		struct buf t = { 0 };

		b_uint(&t, T0);
		field_case("expires_at equal to created_at", KIND_BULLETIN, F_EXPIRES, t.p, t.n, WM_EMALFORMED);
		b_reset(&t);
		b_uint(&t, T0 - 1);
		field_case("expires_at before created_at", KIND_BULLETIN, F_EXPIRES, t.p, t.n, WM_EMALFORMED);
		b_reset(&t);
		b_uint_w(&t, 0, 1);
		field_case("expires_at 0 as uint8", KIND_BULLETIN, F_EXPIRES, t.p, t.n, WM_ECANONICAL);
		b_free(&t);
	}
}

static void content_form_vectors(void)
{
	struct body b;
	struct buf *c;

	content_case("content as an array", KIND_RETRACT, "\x90", 1, WM_EMALFORMED);
	content_case("content with a map16 header", KIND_RETRACT, "\xde\x00\x00", 3, WM_ECANONICAL);
	content_case("content keys not sorted", KIND_ACK,
	           "\x82\xa4what\xa4seen\xa4text\xa2hi", 19, WM_ECANONICAL);
	content_case("content keys not sorted (shorter key second)", KIND_ACK,
	           "\x82\xa4what\xa4seen\xa3wha\xa2hi", 18, WM_ECANONICAL);
	content_case("content key duplicated", KIND_ACK,
	           "\x82\xa4what\xa4seen\xa4what\xa5" "found", 22, WM_ECANONICAL);
	content_case("content key as an integer", KIND_ACK,
	           "\x82\x01\x01\xa4what\xa4seen", 13, WM_EMALFORMED);
	content_case("content key with upper case", KIND_ACK,
	           "\x82\xa4Note\xa1x\xa4what\xa4seen", 18, WM_EMALFORMED);
	content_case("content key empty", KIND_ACK,
	           "\x82\xa0\xa1x\xa4what\xa4seen", 14, WM_EMALFORMED);
	content_case("content key with a str8 header", KIND_ACK,
	           "\x81\xd9\x04what\xa4seen", 12, WM_ECANONICAL);

	value_case("content value nil", KIND_ACK, "text", "\xc0", 1, WM_EMALFORMED);
	value_case("content value false", KIND_ACK, "text", "\xc2", 1, WM_EMALFORMED);
	value_case("content value float32", KIND_ACK, "text", "\xca\x3f\x80\x00\x00", 5, WM_EMALFORMED);
	value_case("content value ext", KIND_ACK, "text", "\xd4\x01\x00", 3, WM_EMALFORMED);
	value_case("content value a map", KIND_ACK, "text", "\x81\xa1" "a\x01", 4, WM_EMALFORMED);
	value_case("content value a nested array", KIND_ACK, "x_list", "\x91\x91\x01", 3, WM_EMALFORMED);
	value_case("content value of 65 array items", KIND_ACK, "x_list",
	           "\xdc\x00\x41" "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	           "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	           "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	           "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	           3 + 65, WM_EMALFORMED);
	value_case("text with an overlong UTF-8 sequence", KIND_ACK, "text", "\xa3" "a\xc0\xaf", 4, WM_EMALFORMED);
	value_case("text with a UTF-16 surrogate", KIND_ACK, "text", "\xa3\xed\xa0\x80", 4, WM_EMALFORMED);
	value_case("text with a code point above U+10FFFF", KIND_ACK, "text", "\xa4\xf4\x90\x80\x80", 5, WM_EMALFORMED);
	value_case("text cut inside a UTF-8 sequence", KIND_ACK, "text", "\xa2\xe5\x85", 3, WM_EMALFORMED);
	value_case("text with a str16 header for 2 bytes", KIND_ACK, "text", "\xda\x00\x02hi", 5, WM_ECANONICAL);
	value_case("text with a str8 header for 31 bytes", KIND_ACK, "text",
	           "\xd9\x1f" "0123456789012345678901234567890", 33, WM_ECANONICAL);
	value_case("photo with a bin16 header for 40 bytes", KIND_ALERT, "photo",
	           "\xc5\x00\x28" "0123456789012345678901234567890123456789", 43, WM_ECANONICAL);
	value_case("string length runs past the end of the payload", KIND_ACK, "zz_last", "\xa5" "ab", 3, WM_EMALFORMED);

	body_init(&b, KIND_ALERT);
	c = kv_put(&b.content, "circle");
	b_hdr(c, 'a', 3);
	b_int_w(c, -5, 4);
	b_int(c, 0);
	b_uint(c, 10);
	emit_body("circle latitude -5 in int32 form", &b, WM_ECANONICAL);
	c = kv_put(&b.content, "circle");
	b_hdr(c, 'a', 3);
	b_int(c, 0);
	b_int(c, 0);
	b_int_w(c, 10, 1);
	emit_body("circle radius 10 in signed int8 form", &b, WM_ECANONICAL);
	c = kv_put(&b.content, "circle");
	b_hdr(c, 'a', 3);
	b_int(c, 90000001);
	b_int(c, 0);
	b_uint(c, 10);
	emit_body("circle latitude above 90 degrees", &b, WM_ECONTENT);
	c = kv_put(&b.content, "circle");
	b_hdr(c, 'a', 2);
	b_int(c, 0);
	b_int(c, 0);
	emit_body("circle of two items", &b, WM_ECONTENT);
	body_free(&b);
}

static void content_rule_vectors(void)
{
	static const struct { unsigned kind; const char *keys[9]; } req[] = {
		{ KIND_BULLETIN, { "title", "text", "category" } },
		{ KIND_ALERT, { "event", "headline", "text", "category", "urgency", "severity", "certainty", "area_desc" } },
		{ KIND_REQUEST, { "topic", "text" } },
		{ KIND_REPLY, { "text" } },
		{ KIND_STATUS, { "state" } },
		{ KIND_CERT, { "subject", "role", "name", "groups", "not_before", "not_after" } },
		{ KIND_REVOKE, { "subject", "keep" } },
		{ KIND_ACK, { "what" } },
	};
	static const struct { unsigned kind; const char *key, *val; } enums[] = {
		{ KIND_BULLETIN, "category", "scam" },
		{ KIND_ALERT, "category", "rescue" },
		{ KIND_ALERT, "urgency", "Now" },
		{ KIND_ALERT, "severity", "High" },
		{ KIND_ALERT, "certainty", "Sure" },
		{ KIND_ALERT, "photo_type", "image/gif" },
		{ KIND_REQUEST, "topic", "fire" },
		{ KIND_STATUS, "state", "open" },
		{ KIND_CERT, "role", "root" },
		{ KIND_ACK, "what", "ok" },
	};
	char name[128];
	struct body b;

	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		for (size_t k = 0; req[i].keys[k] != NULL; k++) {
			snprintf(name, sizeof(name), "%s without '%s'", kinds[req[i].kind], req[i].keys[k]);
			kind_case(name, req[i].kind, req[i].keys[k], NULL, NULL, WM_ECONTENT);
		}
	for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
		snprintf(name, sizeof(name), "%s with %s '%s'", kinds[enums[i].kind], enums[i].key, enums[i].val);
		kind_case(name, enums[i].kind, NULL, enums[i].key, enums[i].val, WM_ECONTENT);
	}
	kind_case("bulletin with an empty title", KIND_BULLETIN, NULL, "title", "", WM_ECONTENT);
	kind_case("bulletin title of two lines", KIND_BULLETIN, NULL, "title", "a\nb", WM_ECONTENT);
	{
		char t[WM_TITLE_MAX + 2];

		memset(t, 't', sizeof(t));
		t[WM_TITLE_MAX + 1] = '\0';
		kind_case("bulletin title of 201 bytes", KIND_BULLETIN, NULL, "title", t, WM_ECONTENT);
	}
	kind_case("bulletin with a bad lang tag", KIND_BULLETIN, NULL, "lang", "zh_CN", WM_ECONTENT);
	/* what a terminal acts on instead of showing (issue 8, item 4) */
	kind_case("bulletin text with ESC (a clear-screen sequence)", KIND_BULLETIN, NULL, "text",
	          "\x1b[2J\x1b[H\xe2\x98\x85 fake bulletin", WM_ECONTENT);
	kind_case("reply text with CR", KIND_REPLY, NULL, "text", "ok\rforged line", WM_ECONTENT);
	kind_case("reply text with C1 U+009B (CSI)", KIND_REPLY, NULL, "text", "\xc2\x9b" "2J", WM_ECONTENT);
	kind_case("cert name with U+202E (right-to-left override)", KIND_CERT, NULL, "name",
	          "Wang \xe2\x80\xae" "reciffO", WM_ECONTENT);
	kind_case("request text with U+2066 (left-to-right isolate)", KIND_REQUEST, NULL, "text",
	          "\xe2\x81\xa6" "isolated\xe2\x81\xa9", WM_ECONTENT);
	kind_case("bulletin title with DEL", KIND_BULLETIN, NULL, "title", "title\x7f", WM_ECONTENT);
	kind_case("bulletin unknown key with ESC", KIND_BULLETIN, NULL, "x_future_field", "\x1b]52;c;aGk=\x07",
	          WM_ECONTENT);
	kind_case("alert photo without photo_type", KIND_ALERT, "photo_type", NULL, NULL, WM_ECONTENT);

	body_init(&b, KIND_REQUEST);
	placeholder_box(kv_put(&b.content, "box"), 1, 1);
	emit_body("request with both text and box", &b, WM_ECONTENT);
	kv_drop(&b.content, "text");
	emit_body("sealed request with its topic in clear", &b, WM_ECONTENT);
	kv_drop(&b.content, "topic");
	{
		struct buf *to = kv_put(&b.content, "to");

		b_hdr(to, 'a', 1);
		b_bin(to, bob->pub, WM_PUB_LEN);
	}
	emit_body("sealed request naming its recipients in clear ('to')", &b, WM_ECONTENT);
	kv_drop(&b.content, "to");
	placeholder_box(kv_put(&b.content, "box"), 17, 1);
	emit_body("sealed request with 17 slots", &b, WM_ECONTENT);
	b_fill_bin(kv_put(&b.content, "box"), 0x01, WM_SEAL_HDR(1) + 16 + 100);
	emit_body("sealed request whose box is not padded to 256", &b, WM_ECONTENT);
	body_free(&b);
	body_init(&b, KIND_STATUS);
	kv_str(&b.content, "state", "assigned");
	placeholder_box(kv_put(&b.content, "box"), 1, 1);
	emit_body("status 'assigned' with a box (only a referral carries one)", &b, WM_ECONTENT);
	body_free(&b);

	body_init(&b, KIND_ALERT);
	b_reset(&b.f[F_EXPIRES]);
	b_uint(&b.f[F_EXPIRES], 0);
	emit_body("alert without expires_at", &b, WM_ECONTENT);
	body_free(&b);

	for (unsigned k = KIND_REPLY; k <= KIND_ACK; k++) {
		if (k == KIND_CERT || k == KIND_REVOKE)
			continue;
		body_init(&b, k);
		set_refs(&b, 0);
		snprintf(name, sizeof(name), "%s without refs[0]", kinds[k]);
		emit_body(name, &b, WM_ECONTENT);
		body_free(&b);
	}

	body_init(&b, KIND_CERT);
	b_reset(&b.f[F_GROUP]);
	b_str(&b.f[F_GROUP], "gaobu");
	emit_body("cert outside group 'network'", &b, WM_ECONTENT);
	body_free(&b);
	body_init(&b, KIND_BULLETIN);
	b_reset(&b.f[F_GROUP]);
	b_str(&b.f[F_GROUP], "network");
	emit_body("bulletin in group 'network'", &b, WM_ECONTENT);
	body_free(&b);
	body_init(&b, KIND_CERT);
	b_reset(kv_put(&b.content, "not_after"));
	b_uint(kv_put(&b.content, "not_after"), T0);
	emit_body("cert with not_after equal to not_before", &b, WM_ECONTENT);
	body_free(&b);
	body_init(&b, KIND_CERT);
	{
		struct buf *g = kv_put(&b.content, "groups");

		b_hdr(g, 'a', 2);
		b_str(g, "*");
		b_str(g, "gaobu");
	}
	emit_body("cert with '*' and another group", &b, WM_ECONTENT);
	body_free(&b);
	body_init(&b, KIND_CERT);
	b_reset(kv_put(&b.content, "subject"));
	b_fill_bin(kv_put(&b.content, "subject"), 1, 33);
	emit_body("cert subject of 33 bytes", &b, WM_ECONTENT);
	body_free(&b);
	body_init(&b, KIND_CERT);
	b_reset(kv_put(&b.content, "not_before"));
	b_str(kv_put(&b.content, "not_before"), "2023-11-14");
	emit_body("cert not_before as a string", &b, WM_ECONTENT);
	body_free(&b);
}

/* A revoke's keep: [group, id, expires_at] entries, at most WM_MAX_KEEP. */
static void keep_vectors(void)
{
	static const struct { const char *name; int want; } cases[] = {
		{ "revoke keep entry of two items", WM_ECONTENT },
		{ "revoke keep entry with group 'Gaobu'", WM_ECONTENT },
		{ "revoke keep entry with an id of 31 bytes", WM_ECONTENT },
		{ "revoke keep entry with expires_at as a string", WM_ECONTENT },
		{ "revoke keep entry that is a string", WM_ECONTENT },
		{ "revoke keep of 257 entries", WM_EMALFORMED },
		{ "valid revoke keep of 256 entries", 0 },
		{ "revoke keep entry holding an array", WM_EMALFORMED },
		{ "revoke keep as a binary", WM_ECONTENT },
	};
	struct body b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf *k;

		body_init(&b, KIND_REVOKE);
		k = kv_put(&b.content, "keep");
		switch (i) {
		case 0: b_hdr(k, 'a', 1); b_hdr(k, 'a', 2); b_str(k, "gaobu"); b_fill_bin(k, 1, WM_ID_LEN); break;
		case 1: b_hdr(k, 'a', 1); keep_entry(k, "Gaobu", 1, 0); break;
		case 2: b_hdr(k, 'a', 1); b_hdr(k, 'a', 3); b_str(k, "gaobu"); b_fill_bin(k, 1, 31); b_uint(k, 0); break;
		case 3: b_hdr(k, 'a', 1); b_hdr(k, 'a', 3); b_str(k, "gaobu"); b_fill_bin(k, 1, WM_ID_LEN); b_str(k, "0");
			break;
		case 4: b_hdr(k, 'a', 1); b_str(k, "gaobu"); break;
		case 5: case 6:
			b_hdr(k, 'a', i == 5 ? WM_MAX_KEEP + 1 : WM_MAX_KEEP);
			for (size_t j = 0; j < (i == 5 ? WM_MAX_KEEP + 1 : WM_MAX_KEEP); j++)
				keep_entry(k, "gaobu", (uint8_t)j, 0);
			break;
		case 7: b_hdr(k, 'a', 1); b_hdr(k, 'a', 3); b_str(k, "gaobu"); b_hdr(k, 'a', 0); b_uint(k, 0); break;
		default: b_fill_bin(k, 1, WM_ID_LEN); break;
		}
		emit_body(cases[i].name, &b, cases[i].want);
		body_free(&b);
	}
}

int main(int argc, char **argv)
{
	uint8_t seed[32];

	if (wmc_init() != 0)
		return 1;
	memset(seed, 0x01, sizeof(seed));
	if (key_from_seed(seed, &alice) != 0)
		return 1;
	memset(seed, 0x02, sizeof(seed));
	if (key_from_seed(seed, &bob) != 0)
		return 1;
	memset(ref_a, 0xee, sizeof(ref_a));
	memset(ref_b, 0xdd, sizeof(ref_b));
	memset(net_ours, 0x4e, sizeof(net_ours));
	memset(net_other, 0x6f, sizeof(net_other));
	out = argc > 1 ? fopen(argv[1], "w") : stdout;
	if (out == NULL) {
		perror(argv[1]);
		return 1;
	}
	if (argc > 2 && (bundle = fopen(argv[2], "wb")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	fprintf(out, "[");
	valid_vectors();
	wrapper_vectors();
	body_vectors();
	content_form_vectors();
	content_rule_vectors();
	keep_vectors();
	fprintf(out, "\n]\n");
	if (out != stdout)
		fclose(out);
	if (bundle != NULL)
		fclose(bundle);
	key_free(alice);
	key_free(bob);
	fprintf(stderr, "gen_vectors: %d vectors, %d disagreements\n", nvec, nbad);
	return nbad != 0;
}
