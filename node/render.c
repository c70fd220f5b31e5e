/*
 * node/render: the text and JSON forms of events (render.h).  The text form
 * is what an officer or resident reads in a terminal: who (with the
 * official badge computed by trust.c), when in local time, then the content
 * that matters for the kind.  Sealed requests stay sealed unless the reader
 * key opens them, and then they are marked private.
 */
#include "render.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "content.h"
#include "mp.h"
#include "trust.h"

#define IND "    "

static const char *rname(enum cert_role r)
{
	const char *n = role_name(r);
	return n ? n : "?";
}

void render_short(char out[9], const uint8_t *bytes)
{
	hex_encode(out, bytes, 4);
}

void render_time(char *buf, size_t len, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000u);
	struct tm tm;
	if (!localtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "%" PRIu64 " ms", ms);
}

void render_span(char *buf, size_t len, uint64_t ms)
{
	uint64_t m = ms / 60000u, h = m / 60, d = m / (60 * 24);

	if (m == 0)
		snprintf(buf, len, "less than a minute");
	else if (m < 60)
		snprintf(buf, len, "%" PRIu64 " minute%s", m, m == 1 ? "" : "s");
	else if (h < 3 && m % 60)
		snprintf(buf, len, "%" PRIu64 " hour%s %" PRIu64 " minute%s", h, h == 1 ? "" : "s", m % 60,
		         m % 60 == 1 ? "" : "s");
	else if (h < 48)
		snprintf(buf, len, "%" PRIu64 " hours", h);
	else
		snprintf(buf, len, "%" PRIu64 " days", d);
}

void render_when(char *buf, size_t len, uint64_t ms, uint64_t now)
{
	char t[64], span[64];

	render_time(t, sizeof t, ms);
	if (ms > now) {
		render_span(span, sizeof span, ms - now + 59999);   /* "in 1 minute", never "in less than" */
		snprintf(buf, len, "%s (in %s)", t, span);
	} else {
		render_span(span, sizeof span, now - ms);
		snprintf(buf, len, "%s (%s ago)", t, span);
	}
}

int render_base64(const uint8_t *in, size_t len, char **out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t olen = 4 * ((len + 2) / 3), i, o = 0;
	char *s;

	if (len > (SIZE_MAX / 4) * 3 - 3)
		return WM_ETOOBIG;
	s = malloc(olen + 1);
	if (!s)
		return WM_ENOMEM;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		s[o++] = tab[v >> 18];
		s[o++] = tab[(v >> 12) & 63];
		s[o++] = tab[(v >> 6) & 63];
		s[o++] = tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		s[o++] = tab[v >> 18];
		s[o++] = tab[(v >> 12) & 63];
		s[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		s[o++] = '=';
	}
	s[o] = 0;
	*out = s;
	return 0;
}

/* --- who wrote it ----------------------------------------------------------- */

struct who {
	int official;                /* shown with the badge: off.role station or officer */
	int named;                   /* shown by name: a certificate holds for this event */
	struct official off;         /* the name, role and station to show */
	int is_root;
};

/* Only what a certificate gives the author for this very event: a key
 * whose cert lapsed, was revoked or covers other groups is a plain key,
 * and no cert but the one that makes it what it claims names it. */
static void who_of(const struct render_ctx *rc, const struct event *ev, struct who *w)
{
	memset(w, 0, sizeof *w);
	if (rc->root && memcmp(rc->root, ev->author, WM_PUB_LEN) == 0)
		w->is_root = 1;
	if (!rc->store || !rc->root || trust_shown(rc->store, rc->root, ev, &w->off) != 0)
		return;
	w->named = 1;
	w->official = w->off.role == ROLE_STATION || w->off.role == ROLE_OFFICER;
}

/* --- printing what came from the network ------------------------------------ */

/*
 * Every string printed from an event or a certificate goes through here.
 * The content rules already refuse controls, but the store keeps the names
 * of certificates taken in before the rule, and a rule can miss a case: so
 * a terminal is never handed a character it would act on (ESC, CR, a C1
 * CSI, a bidi override...).  Those are shown as \x1b or \u009b; bytes that
 * are not UTF-8 as \xNN.  `tab` lets a tab through, in multi-line text.
 */
static void put_esc(FILE *f, const char *s, size_t len, int tab)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, n;
	uint32_t cp = 0;

	while (i < len) {
		n = mp_utf8_next(p + i, len - i, &cp);
		if (n == 0 || (cp < 0x80 && mp_char_control(cp) && !(tab && cp == '\t'))) {
			fprintf(f, "\\x%02x", p[i]);
			i++;
		} else if (mp_char_control(cp)) {
			fprintf(f, "\\u%04x", (unsigned)cp);
			i += n;
		} else {
			fwrite(p + i, 1, n, f);
			i += n;
		}
	}
}

/* One line: a newline in it is escaped too. */
static void put_line(FILE *f, const char *s)
{
	put_esc(f, s, strlen(s), 0);
}

void render_escape(char *out, size_t len, const char *s)
{
	FILE *f;

	if (len == 0)
		return;
	out[0] = 0;
	f = fmemopen(out, len, "w");
	if (!f)
		return;
	setbuf(f, NULL);
	put_esc(f, s, strlen(s), 0);
	fclose(f);
	out[len - 1] = 0;
}

/* --- content helpers -------------------------------------------------------- */

static int str_of(const struct event *ev, const char *key, const char **s, int *len)
{
	size_t l = 0;
	if (event_get_str(ev, key, s, &l) != 0 || l > 0x7fffffff)
		return 0;
	*len = (int)l;
	return 1;
}

/* Print text, each line indented. */
static void put_text(FILE *f, const char *ind, const char *s, int len)
{
	int i = 0;
	while (i < len) {
		int e = i;
		while (e < len && s[e] != '\n')
			e++;
		fputs(ind, f);
		put_esc(f, s + i, (size_t)(e - i), 1);
		fputc('\n', f);
		i = e + 1;
	}
}

/* A string key on one line, escaped; nothing if absent. */
static void put_key(FILE *f, const struct event *ev, const char *key)
{
	const char *s;
	int l;
	if (str_of(ev, key, &s, &l))
		put_esc(f, s, (size_t)l, 0);
}

/* "label: value"; the lines of a multi-line value after the first go
 * under it, indented further. */
static void put_field(FILE *f, const char *ind, const struct event *ev, const char *key,
                      const char *label)
{
	const char *s;
	char more[64];
	int l, e = 0;
	if (!str_of(ev, key, &s, &l))
		return;
	while (e < l && s[e] != '\n')
		e++;
	fprintf(f, "%s%s: ", ind, label);
	put_esc(f, s, (size_t)e, 1);
	fputc('\n', f);
	if (e < l) {
		snprintf(more, sizeof more, "%s  ", ind);
		put_text(f, more, s + e + 1, l - e - 1);
	}
}

static void put_size(char *buf, size_t len, size_t n)
{
	if (n < 1024)
		snprintf(buf, len, "%zu bytes", n);
	else
		snprintf(buf, len, "%.1f KiB", (double)n / 1024.0);
}

int render_open_sealed(const struct render_ctx *rc, const struct event *ev, struct sealed *out,
                       char why[WM_WHY_LEN])
{
	if (!key_can_open(rc->reader))
		return WM_ENOTFOUND;
	return content_open(ev, rc->reader, out, why);
}

/* --- text ------------------------------------------------------------------- */

/* A sealed request, reply or referral: opened for a reader among its
 * recipients, or said to be sealed; a box that opens but is refused (changed,
 * not bound to its author, text against the rules) shows why, never its text. */
static void put_sealed(FILE *f, const struct render_ctx *rc, const struct event *ev, const char *ind)
{
	const uint8_t *box;
	size_t boxlen, n = 0;
	struct sealed sd;
	char why[WM_WHY_LEN];
	int r;

	if (event_get_bin(ev, "box", &box, &boxlen) != 0 || seal_shape(box, boxlen, &n) != 0)
		return;
	r = render_open_sealed(rc, ev, &sd, why);
	if (r == WM_ENOTFOUND || r == WM_ENOMEM) {
		fprintf(f, "%s[sealed %s to %zu recipient%s]\n", ind, kind_name(ev->kind), n, n == 1 ? "" : "s");
		return;
	}
	if (r != 0) {
		/* why names the fault and its place, never the text */
		fprintf(f, "%s[private — sealed to %zu recipient%s, opened with your key; not shown: %s]\n",
		        ind, n, n == 1 ? "" : "s", why);
		return;
	}
	fprintf(f, "%s[private — sealed to %zu recipient%s, opened with your key]\n", ind, n, n == 1 ? "" : "s");
	if (sd.topiclen > 0) {
		fprintf(f, "%stopic: ", ind);
		put_esc(f, sd.topic, sd.topiclen, 0);
		fputc('\n', f);
	}
	put_text(f, ind, sd.text, (int)sd.textlen);
	content_sealed_free(&sd);
}

static void put_header(FILE *f, const struct render_ctx *rc, const struct event *ev,
                       const char *ind, int depth)
{
	struct who w;
	char t[64], sid[9];
	const char *kn = kind_name(ev->kind);

	who_of(rc, ev, &w);
	fprintf(f, "%s%s", ind, depth ? "↳ " : "");
	/* names come from certificates: escaped like the content */
	if (w.official) {
		fputs("★ ", f);
		put_line(f, w.off.name);
		if (w.off.station[0]) {
			fputs(" · ", f);
			put_line(f, w.off.station);
		}
	} else if (w.is_root) {
		fputs("network root", f);
	} else if (w.named) {
		put_line(f, w.off.name);
		fprintf(f, " (%s)", rname(w.off.role));
	} else {
		render_short(sid, ev->author);
		fprintf(f, "key %s", sid);
	}
	render_time(t, sizeof t, ev->created_at);
	render_short(sid, ev->id);
	fprintf(f, " — %s · ", ev->kind == KIND_ALERT ? "ALERT" : kn ? kn : "?");
	put_line(f, ev->group);
	fprintf(f, " · %s · %s\n", t, sid);
}

static void put_expiry(FILE *f, const char *ind, const struct render_ctx *rc, const struct event *ev)
{
	char span[64], t[64];
	if (!ev->expires_at)
		return;
	render_time(t, sizeof t, ev->expires_at);
	if (ev->expires_at > rc->now) {
		render_span(span, sizeof span, ev->expires_at - rc->now + 59999);
		fprintf(f, "%sexpires in %s, at %s\n", ind, span, t);
	} else {
		render_span(span, sizeof span, rc->now - ev->expires_at);
		fprintf(f, "%sexpired %s ago, at %s\n", ind, span, t);
	}
}

void render_event_text(FILE *f, const struct render_ctx *rc, const struct event *ev, int depth)
{
	char ind[64], sid[9];
	const char *s, *s2;
	int l, l2, d;
	const uint8_t *p;
	size_t pl;
	uint64_t u;

	ind[0] = 0;
	for (d = 0; d < depth && d < 8; d++)
		strcat(ind, IND);
	put_header(f, rc, ev, ind, depth);
	strcat(ind, "  ");
	if (ev->nrefs > 0 && ev->kind == KIND_ALERT) {
		render_short(sid, ev->refs[0]);
		fprintf(f, "%supdates the alert %s\n", ind, sid);
	} else if (ev->nrefs > 0 && depth == 0 && ev->kind != KIND_CERT && ev->kind != KIND_REVOKE) {
		render_short(sid, ev->refs[0]);
		fprintf(f, "%s↳ re %s\n", ind, sid);
	}
	if (ev->withheld) {
		fprintf(f, "%s(withheld: retracted, its content deleted)\n", ind);
		return;
	}
	switch (ev->kind) {
	case KIND_BULLETIN:
		if (event_get(ev, "title")) {
			fputs(ind, f);
			if (event_get(ev, "category")) {
				fputc('[', f);
				put_key(f, ev, "category");
				fputs("] ", f);
			}
			put_key(f, ev, "title");
			fputc('\n', f);
		}
		if (str_of(ev, "text", &s, &l))
			put_text(f, ind, s, l);
		break;
	case KIND_ALERT: {
		const struct cval *c;
		fprintf(f, "%s[", ind);
		put_key(f, ev, "severity");
		fputs(" · ", f);
		put_key(f, ev, "urgency");
		fputs(" · ", f);
		put_key(f, ev, "certainty");
		fputc(']', f);
		if (event_get(ev, "event")) {
			fputc(' ', f);
			put_key(f, ev, "event");
		}
		if (event_get(ev, "category")) {
			fputs(" (", f);
			put_key(f, ev, "category");
			fputc(')', f);
		}
		fprintf(f, "\n");
		if (str_of(ev, "headline", &s, &l) &&
		    !(str_of(ev, "event", &s2, &l2) && l2 == l && memcmp(s, s2, (size_t)l) == 0)) {
			fputs(ind, f);
			put_esc(f, s, (size_t)l, 0);
			fputc('\n', f);
		}
		put_expiry(f, ind, rc, ev);
		if (str_of(ev, "text", &s, &l))
			put_text(f, ind, s, l);
		put_field(f, ind, ev, "area_desc", "area");
		c = event_get(ev, "circle");
		if (c && c->type == CV_ARRAY && c->len == 3) {
			int64_t v[3];
			int i, ok = 1;
			for (i = 0; i < 3; i++) {
				if (c->items[i].type == CV_UINT && c->items[i].u <= INT64_MAX)
					v[i] = (int64_t)c->items[i].u;
				else if (c->items[i].type == CV_INT)
					v[i] = c->items[i].i;
				else
					ok = 0;
			}
			if (ok)
				fprintf(f, "%scircle: %.6f,%.6f radius %" PRId64 " m\n", ind,
				        (double)v[0] / 1e6, (double)v[1] / 1e6, v[2]);
		}
		put_field(f, ind, ev, "instruction", "instruction");
		put_field(f, ind, ev, "contact", "contact");
		if (event_get_bin(ev, "photo", &p, &pl) == 0) {
			char sz[32];
			put_size(sz, sizeof sz, pl);
			fprintf(f, "%sphoto: ", ind);
			if (event_get(ev, "photo_type")) {
				put_key(f, ev, "photo_type");
				fputs(", ", f);
			}
			fprintf(f, "%s\n", sz);
		}
		break;
	}
	case KIND_REQUEST:
		put_field(f, ind, ev, "topic", "topic");
		if (str_of(ev, "text", &s, &l))
			put_text(f, ind, s, l);
		else
			put_sealed(f, rc, ev, ind);
		break;
	case KIND_REPLY:
		if (str_of(ev, "text", &s, &l))
			put_text(f, ind, s, l);
		else
			put_sealed(f, rc, ev, ind);
		break;
	case KIND_STATUS:
		if (event_get(ev, "state")) {
			fprintf(f, "%sstatus: ", ind);
			put_key(f, ev, "state");
			if (event_get(ev, "referred_to")) {
				fputs(" → ", f);
				put_key(f, ev, "referred_to");
			}
			fprintf(f, "\n");
		}
		if (str_of(ev, "note", &s, &l))
			put_text(f, ind, s, l);
		if (event_get(ev, "box"))
			put_sealed(f, rc, ev, ind);
		break;
	case KIND_RETRACT:
		if (ev->nrefs > 0) {
			render_short(sid, ev->refs[0]);
			fprintf(f, "%sretracts %s\n", ind, sid);
		}
		put_field(f, ind, ev, "reason", "reason");
		break;
	case KIND_CERT: {
		const struct cval *g = event_get(ev, "groups");
		char until[64];
		if (event_get(ev, "name") && event_get(ev, "role")) {
			fprintf(f, "%scertifies ", ind);
			put_key(f, ev, "name");
			fputs(" as ", f);
			put_key(f, ev, "role");
		}
		if (event_get_bin(ev, "subject", &p, &pl) == 0 && pl >= 4) {
			render_short(sid, p);
			fprintf(f, " (key %s)", sid);
		}
		fprintf(f, "\n");
		if (g && g->type == CV_ARRAY) {
			size_t i;
			fprintf(f, "%sgroups:", ind);
			for (i = 0; i < g->len; i++)
				if (g->items[i].type == CV_STR) {
					fputs(i ? ", " : " ", f);
					put_esc(f, (const char *)g->items[i].ptr, g->items[i].len, 0);
				}
			fprintf(f, "\n");
		}
		if (event_get_uint(ev, "not_after", &u) == 0) {
			render_time(until, sizeof until, u);
			fprintf(f, "%svalid until %s\n", ind, until);
		}
		break;
	}
	case KIND_REVOKE:
		if (event_get_bin(ev, "subject", &p, &pl) == 0 && pl >= 4) {
			render_short(sid, p);
			fprintf(f, "%srevokes key %s\n", ind, sid);
		}
		put_field(f, ind, ev, "reason", "reason");
		break;
	case KIND_ACK:
		if (event_get(ev, "what")) {
			fputs(ind, f);
			put_key(f, ev, "what");
			fputc('\n', f);
		}
		if (str_of(ev, "text", &s, &l))
			put_text(f, ind, s, l);
		break;
	default:
		break;
	}
	if (ev->kind != KIND_ALERT)
		put_expiry(f, ind, rc, ev);
}

/* --- JSON ------------------------------------------------------------------- */

static json_t *hex_json(const uint8_t *b, size_t len)
{
	char buf[2 * 64 + 1];
	if (len > 64)
		return NULL;
	hex_encode(buf, b, len);
	return json_string(buf);
}

static json_t *uint_json(uint64_t u)
{
	if (u <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)u);
	{
		char buf[32];
		snprintf(buf, sizeof buf, "%" PRIu64, u);
		return json_string(buf);
	}
}

static json_t *cval_json(const struct cval *v)
{
	json_t *j = NULL;
	switch (v->type) {
	case CV_STR:
		return json_stringn((const char *)v->ptr, v->len);
	case CV_BIN: {
		char *b64 = NULL;
		if (render_base64(v->ptr, v->len, &b64) != 0)
			return NULL;
		j = json_string(b64);
		free(b64);
		return j;
	}
	case CV_UINT:
		return uint_json(v->u);
	case CV_INT:
		return json_integer((json_int_t)v->i);
	case CV_ARRAY: {
		size_t i;
		j = json_array();
		if (!j)
			return NULL;
		for (i = 0; i < v->len; i++) {
			json_t *it = v->items[i].type == CV_ARRAY ? json_null() : cval_json(&v->items[i]);
			if (!it || json_array_append_new(j, it) != 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	}
	}
	return NULL;
}

/* json_object_set_new that remembers a failure. */
static void put(json_t *o, const char *k, json_t *v, int *bad)
{
	if (!v || json_object_set_new(o, k, v) != 0)
		*bad = 1;
}

json_t *render_event_json(const struct render_ctx *rc, const struct event *ev)
{
	json_t *o = json_object(), *refs = json_array(), *content = json_object();
	struct who w;
	size_t i;
	int bad = 0;
	const char *kn = kind_name(ev->kind);

	if (!o || !refs || !content) {
		json_decref(o);
		json_decref(refs);
		json_decref(content);
		return NULL;
	}
	who_of(rc, ev, &w);
	put(o, "id", hex_json(ev->id, WM_ID_LEN), &bad);
	put(o, "kind", json_string(kn ? kn : "unknown"), &bad);
	put(o, "author", hex_json(ev->author, WM_PUB_LEN), &bad);
	put(o, "created_at", uint_json(ev->created_at), &bad);
	put(o, "group", json_string(ev->group), &bad);
	put(o, "prev", ev->has_prev ? hex_json(ev->prev, WM_ID_LEN) : json_null(), &bad);
	for (i = 0; i < ev->nrefs; i++)
		if (json_array_append_new(refs, hex_json(ev->refs[i], WM_ID_LEN)) != 0)
			bad = 1;
	put(o, "refs", refs, &bad);
	put(o, "expires_at", uint_json(ev->expires_at), &bad);
	for (i = 0; i < ev->ncontent; i++) {
		char key[256];
		const struct centry *c = &ev->content[i];
		if (c->keylen >= sizeof key)
			continue;
		memcpy(key, c->key, c->keylen);
		key[c->keylen] = 0;
		/* a certificate's or revocation's subject is a key: hex, as the
		 * author is and as commands take keys; other binaries base64 */
		if (strcmp(key, "subject") == 0 && c->val.type == CV_BIN && c->val.len == WM_PUB_LEN)
			put(content, key, hex_json(c->val.ptr, WM_PUB_LEN), &bad);
		else
			put(content, key, cval_json(&c->val), &bad);
	}
	put(o, "content", content, &bad);
	put(o, "withheld", json_boolean(ev->withheld), &bad);
	put(o, "official", json_boolean(w.official), &bad);
	if (w.official) {
		put(o, "official_name", json_string(w.off.name), &bad);
		put(o, "official_station", json_string(w.off.station), &bad);
		put(o, "official_role", json_string(rname(w.off.role)), &bad);
	}
	if (w.named) {
		put(o, "author_name", json_string(w.off.name), &bad);
		put(o, "author_role", json_string(rname(w.off.role)), &bad);
	}
	if (event_get(ev, "box")) {
		struct sealed sd;
		char why[WM_WHY_LEN];
		int r = render_open_sealed(rc, ev, &sd, why);
		if (r == 0) {
			json_t *to = json_array();
			for (i = 0; to && i < sd.nto; i++)
				if (json_array_append_new(to, hex_json(sd.to + i * WM_PUB_LEN, WM_PUB_LEN)) != 0)
					bad = 1;
			put(o, "private_text", json_stringn(sd.text, sd.textlen), &bad);
			if (sd.topiclen > 0)
				put(o, "private_topic", json_stringn(sd.topic, sd.topiclen), &bad);
			if (sd.langlen > 0)
				put(o, "private_lang", json_stringn(sd.lang, sd.langlen), &bad);
			put(o, "private_to", to, &bad);
			content_sealed_free(&sd);
		} else if (r != WM_ENOTFOUND && r != WM_ENOMEM) {
			put(o, "private_refused", json_string(why), &bad);
		}
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
