/*
 * node/cap: CAP 1.2 messages and the Atom index (cap.h).  Each document is
 * written into a memory stream; a message's info goes into a stream of its
 * own first, because the note that says how many characters were replaced
 * comes before info in CAP's element order.
 */
#include "cap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "render.h"
#include "trust.h"
#include "xml.h"

#define SENDER_LEN (2 * WM_PUB_LEN + 1 + 2 * WM_NETWORK_LEN + 1)
#define TIME_LEN 32

/* --- a document in memory ---------------------------------------------------- */

struct doc {
	FILE *f;
	char *buf;
	size_t len;
	size_t replaced;             /* characters from the network written as U+FFFD */
};

static int doc_open(struct doc *d)
{
	memset(d, 0, sizeof *d);
	d->f = open_memstream(&d->buf, &d->len);
	return d->f ? 0 : WM_ENOMEM;
}

/* Close d; 0 and *buf, *len (the caller's) or WM_ENOMEM.  d is empty
 * after it either way (doc_drop does nothing). */
static int doc_take(struct doc *d, char **buf, size_t *len)
{
	int bad = ferror(d->f), rc = 0;

	if (fclose(d->f) != 0 || bad) {
		free(d->buf);
		rc = WM_ENOMEM;
	} else {
		*buf = d->buf;
		*len = d->len;
	}
	d->f = NULL;
	d->buf = NULL;
	return rc;
}

/* d->buf and d->len up to date, or WM_ENOMEM. */
static int doc_flush(struct doc *d)
{
	return fflush(d->f) == 0 && !ferror(d->f) ? 0 : WM_ENOMEM;
}

static void doc_drop(struct doc *d)
{
	if (d->f)
		fclose(d->f);
	free(d->buf);
}

/* <name>text</name> on a line of its own; text from the network. */
static void el(struct doc *d, const char *ind, const char *name, const char *s, size_t len)
{
	fprintf(d->f, "%s<%s>", ind, name);
	xml_put(d->f, s, len, &d->replaced);
	fprintf(d->f, "</%s>\n", name);
}

static void el_str(struct doc *d, const char *ind, const char *name, const char *s)
{
	el(d, ind, name, s, strlen(s));
}

/* The official's name, then ", " and the station's (none for a station). */
static void put_name(struct doc *d, const struct official *off)
{
	xml_put(d->f, off->name, strlen(off->name), &d->replaced);
	if (off->station[0]) {
		fputs(", ", d->f);
		xml_put(d->f, off->station, strlen(off->station), &d->replaced);
	}
}

/* A content string key as an element; nothing when absent. */
static void el_key(struct doc *d, const char *ind, const char *name, const struct event *ev,
                   const char *key)
{
	const char *s;
	size_t len;

	if (event_get_str(ev, key, &s, &len) == 0)
		el(d, ind, name, s, len);
}

/* --- fields ---------------------------------------------------------------------- */

/* CAP's form: no fractional seconds, and UTC written "-00:00" (CAP 1.2
 * section 3.3.2 forbids "Z"); atom = 1: RFC 3339's "Z".  WM_EINVAL for a
 * time whose year has more than four digits. */
static int fmt_time(char out[TIME_LEN], uint64_t ms, int atom)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms / 1000 > (uint64_t)INT64_MAX || !gmtime_r(&t, &tm) || tm.tm_year > 9999 - 1900)
		return WM_EINVAL;
	strftime(out, TIME_LEN, atom ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%S-00:00", &tm);
	return 0;
}

/* "<author hex>@<network id hex>": unique in the world, and free of the
 * spaces, commas, < and & that CAP forbids in a sender. */
static void fmt_sender(char out[SENDER_LEN], const uint8_t *author, const uint8_t *network)
{
	hex_encode(out, author, WM_PUB_LEN);
	out[2 * WM_PUB_LEN] = '@';
	hex_encode(out + 2 * WM_PUB_LEN + 1, network, WM_NETWORK_LEN);
}

/* One entry of CAP's references, "sender,identifier,sent". */
static int put_reference(FILE *f, const uint8_t *author, const uint8_t *network, const uint8_t *id,
                         uint64_t created_at)
{
	char sender[SENDER_LEN], hex[2 * WM_ID_LEN + 1], sent[TIME_LEN];

	if (fmt_time(sent, created_at, 0) != 0)
		return WM_EINVAL;
	fmt_sender(sender, author, network);
	hex_encode(hex, id, WM_ID_LEN);
	fprintf(f, "%s,%s,%s", sender, hex, sent);
	return 0;
}

static int cval_int64(const struct cval *v, int64_t *out)
{
	if (v->type == CV_INT)
		*out = v->i;
	else if (v->type == CV_UINT && v->u <= INT64_MAX)
		*out = (int64_t)v->u;
	else
		return 0;
	return 1;
}

/* Micro-degrees as CAP's decimal degrees, "-33.856784". */
static void put_e6(FILE *f, int64_t v)
{
	uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	fprintf(f, "%s%" PRIu64 ".%06" PRIu64, v < 0 ? "-" : "", a / 1000000, a % 1000000);
}

/* circle [lat_e6, lon_e6, radius_m] as "lat,lon radius_km"; nothing if the
 * event has no circle (the content rules fixed its shape and ranges). */
static void put_circle(struct doc *d, const struct event *ev)
{
	const struct cval *c = event_get(ev, "circle");
	int64_t lat, lon, r;

	if (!c || c->type != CV_ARRAY || c->len != 3 || !cval_int64(&c->items[0], &lat) ||
	    !cval_int64(&c->items[1], &lon) || !cval_int64(&c->items[2], &r) || r < 0)
		return;
	fputs("      <circle>", d->f);
	put_e6(d->f, lat);
	fputc(',', d->f);
	put_e6(d->f, lon);
	fprintf(d->f, " %" PRId64 ".%03" PRId64 "</circle>\n", r / 1000, r % 1000);
}

/* CAP's language is an xs:language, [a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*,
 * stricter than the content rule for lang. */
static int lang_ok(const char *s, size_t len)
{
	size_t i, part = 0, n = 0;

	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '-') {
			if (n == 0 || n > 8)
				return 0;
			part++;
			n = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (part > 0 && s[i] >= '0' && s[i] <= '9')))
			return 0;
		n++;
	}
	return 1;
}

static int put_photo(struct doc *d, const struct event *ev)
{
	const uint8_t *p;
	size_t len;
	char *b64 = NULL;
	int rc;

	if (event_get_bin(ev, "photo", &p, &len) != 0)
		return 0;
	if ((rc = render_base64(p, len, &b64)) != 0)
		return rc;
	fputs("    <resource>\n      <resourceDesc>Photo</resourceDesc>\n", d->f);
	el_key(d, "      ", "mimeType", ev, "photo_type");
	fprintf(d->f, "      <size>%zu</size>\n      <derefUri>%s</derefUri>\n    </resource>\n", len, b64);
	free(b64);
	return 0;
}

/* --- one message -------------------------------------------------------------------- */

/* The head of a message, up to and including references: the note (from
 * the network, escaped) and references (ours) given whole. */
static void put_head(FILE *f, const uint8_t *id, const char *sender, const char *sent,
                     const char *msgtype)
{
	char hex[2 * WM_ID_LEN + 1];

	hex_encode(hex, id, WM_ID_LEN);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
	        "  <identifier>%s</identifier>\n  <sender>%s</sender>\n  <sent>%s</sent>\n"
	        "  <status>Actual</status>\n  <msgType>%s</msgType>\n  <scope>Public</scope>\n",
	        hex, sender, sent, msgtype);
}

/* The note: what a reader of the message must know that CAP has no element
 * for.  text (the retract's reason) may be NULL; replaced counts what the
 * rest of the message lost to U+FFFD, and the text's own losses are added. */
static void put_note(struct doc *d, const char *unofficial_group, const char *text, size_t textlen,
                     size_t replaced)
{
	size_t n = 0;

	if (!unofficial_group && !text && replaced == 0)
		return;
	fputs("  <note>", d->f);
	if (text)
		xml_put(d->f, text, textlen, &n);
	if (unofficial_group) {
		fprintf(d->f, "%sUnofficial: by the certificates this node holds, the sender is not an "
		        "official of group ", text ? " " : "");
		xml_put(d->f, unofficial_group, strlen(unofficial_group), &n);
		fputs(".", d->f);
	}
	n += replaced;
	if (n > 0)
		fprintf(d->f, "%s%zu character(s) that XML cannot hold were replaced with U+FFFD.",
		        text || unofficial_group ? " " : "", n);
	fputs("</note>\n", d->f);
}

/* An alert's info element into d: trust decides senderName. */
static int put_info(struct doc *d, const struct event *ev, const struct official *off, int official,
                    const char *base_url)
{
	const char *lang;
	size_t langlen;
	char exp[TIME_LEN], hex[2 * WM_ID_LEN + 1];
	int rc;

	fputs("  <info>\n", d->f);
	/* no lang, or one CAP cannot take: "und" (undetermined, BCP 47), rather
	 * than CAP's default en-US, which would be wrong for most alerts here */
	if (event_get_str(ev, "lang", &lang, &langlen) == 0 && lang_ok(lang, langlen))
		el(d, "    ", "language", lang, langlen);
	else
		el_str(d, "    ", "language", "und");
	el_key(d, "    ", "category", ev, "category");
	el_key(d, "    ", "event", ev, "event");
	el_key(d, "    ", "urgency", ev, "urgency");
	el_key(d, "    ", "severity", ev, "severity");
	el_key(d, "    ", "certainty", ev, "certainty");
	/* a date past year 9999 is as good as never: CAP's form cannot write it */
	if (fmt_time(exp, ev->expires_at, 0) == 0)
		el_str(d, "    ", "expires", exp);
	if (official) {
		fputs("    <senderName>", d->f);
		put_name(d, off);
		fputs("</senderName>\n", d->f);
	}
	el_key(d, "    ", "headline", ev, "headline");
	el_key(d, "    ", "description", ev, "text");
	el_key(d, "    ", "instruction", ev, "instruction");
	if (base_url && base_url[0]) {
		hex_encode(hex, ev->id, WM_ID_LEN);
		fputs("    <web>", d->f);
		xml_put(d->f, base_url, strlen(base_url), NULL);
		fprintf(d->f, "/api/v1/events/%s</web>\n", hex);
	}
	el_key(d, "    ", "contact", ev, "contact");
	if ((rc = put_photo(d, ev)) != 0)
		return rc;
	fputs("    <area>\n", d->f);
	el_key(d, "      ", "areaDesc", ev, "area_desc");
	put_circle(d, ev);
	fputs("    </area>\n  </info>\n", d->f);
	return 0;
}

/* The stored event with this id, decoded (also when withheld); *wire holds
 * its bytes and must outlive *ev. */
static int load(struct store *s, const uint8_t id[WM_ID_LEN], uint8_t **wire, struct event **ev)
{
	char why[WM_WHY_LEN];
	size_t len;
	int rc;

	if ((rc = store_get(s, id, wire, &len)) != 0)
		return rc;
	if (event_decode(*wire, len, ev, why) != 0) {
		free(*wire);
		*wire = NULL;
		return WM_ECONTENT;
	}
	return 0;
}

/* The first retract stored of `target`: the one that took effect
 * (retracting twice keeps the first, and a retract refused is deleted).
 * Decoded here, from a copy of its bytes: the store's buffer lives only
 * inside the callback. */
struct first_retract {
	const uint8_t *target;
	uint8_t *wire;
	struct event *ev;
	int err;
};

static int first_retract_cb(void *ctx, const struct stored_event *e)
{
	struct first_retract *fr = ctx;
	char why[WM_WHY_LEN];

	if (e->kind != KIND_RETRACT || e->retracted)
		return 0;
	if (!(fr->wire = malloc(e->wire_len))) {
		fr->err = WM_ENOMEM;
		return 1;
	}
	memcpy(fr->wire, e->wire, e->wire_len);
	/* the store's refs index holds every ref; the target is refs[0] */
	if (event_decode(fr->wire, e->wire_len, &fr->ev, why) == 0 && fr->ev->nrefs > 0 &&
	    memcmp(fr->ev->refs[0], fr->target, WM_ID_LEN) == 0)
		return 1;
	event_free(fr->ev);
	fr->ev = NULL;
	free(fr->wire);
	fr->wire = NULL;
	return 0;
}

/* The Cancel message of retracted alert `al`. */
static int put_cancel(struct doc *d, struct store *s, const struct event *al)
{
	struct first_retract fr = { .target = al->id };
	char sender[SENDER_LEN], sent[TIME_LEN];
	const char *reason = NULL;
	size_t reasonlen = 0;
	int rc;

	if ((rc = store_events_referring(s, al->id, first_retract_cb, &fr)) < 0)
		goto out;
	rc = fr.err ? fr.err : fr.ev ? 0 : WM_ENOTFOUND;
	if (rc != 0 || (rc = fmt_time(sent, fr.ev->created_at, 0)) != 0)
		goto out;
	fmt_sender(sender, fr.ev->author, fr.ev->network);
	put_head(d->f, fr.ev->id, sender, sent, "Cancel");
	if (event_get_str(fr.ev, "reason", &reason, &reasonlen) != 0)
		reason = "Withdrawn by its sender.", reasonlen = strlen(reason);
	put_note(d, NULL, reason, reasonlen, 0);
	fputs("  <references>", d->f);
	if ((rc = put_reference(d->f, al->author, al->network, al->id, al->created_at)) != 0)
		goto out;
	fputs("</references>\n</alert>\n", d->f);
out:
	event_free(fr.ev);
	free(fr.wire);
	return rc;
}

/* References of an update: each ref that is an alert of the same group
 * held here, whole or retracted.  *update = 1 when refs[0] is one: an alert
 * that points at another group's alert does not replace it. */
static int put_references(FILE *f, struct store *s, const struct event *ev, int *update)
{
	struct store_info inf;
	size_t i, n = 0;
	int rc;

	*update = 0;
	for (i = 0; i < ev->nrefs; i++) {
		rc = store_info(s, ev->refs[i], &inf);
		if (rc == WM_ENOTFOUND || (rc == 0 && (inf.kind != KIND_ALERT || strcmp(inf.group, ev->group) != 0)))
			continue;
		if (rc != 0)
			return rc;
		if (i == 0)
			*update = 1;
		else if (!*update)
			continue;
		fputs(n++ ? " " : "  <references>", f);
		if ((rc = put_reference(f, inf.author, ev->network, ev->refs[i], inf.created_at)) != 0)
			return rc;
	}
	if (n)
		fputs("</references>\n", f);
	return 0;
}

/* *official = 1 when a certificate makes ev's author an official of its
 * group at its time (off filled, as the feed shows the badge); 0 and
 * *official = 0 when none does; else trust's error. */
static int official_of(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev,
                       struct official *off, int *official)
{
	int rc = trust_shown(s, root, ev, off);

	*official = rc == 0 && (off->role == ROLE_STATION || off->role == ROLE_OFFICER);
	return rc == WM_ENOTFOUND ? 0 : rc;
}

static int put_alert(struct doc *d, struct store *s, const uint8_t root[WM_PUB_LEN],
                     const struct event *ev, const char *base_url)
{
	struct official off;
	struct doc info, refs;
	char sender[SENDER_LEN], sent[TIME_LEN];
	int official, update = 0, rc;

	memset(&info, 0, sizeof info);
	memset(&refs, 0, sizeof refs);
	if ((rc = official_of(s, root, ev, &off, &official)) != 0 ||
	    (rc = fmt_time(sent, ev->created_at, 0)) != 0)
		return rc;
	if ((rc = doc_open(&info)) != 0 || (rc = doc_open(&refs)) != 0 ||
	    (rc = put_info(&info, ev, &off, official, base_url)) != 0 ||
	    (rc = put_references(refs.f, s, ev, &update)) != 0 ||
	    (rc = doc_flush(&info)) != 0 || (rc = doc_flush(&refs)) != 0)
		goto out;
	fmt_sender(sender, ev->author, ev->network);
	put_head(d->f, ev->id, sender, sent, update ? "Update" : "Alert");
	put_note(d, official ? NULL : ev->group, NULL, 0, info.replaced);
	fwrite(refs.buf, 1, refs.len, d->f);
	fwrite(info.buf, 1, info.len, d->f);
	fputs("</alert>\n", d->f);
out:
	doc_drop(&info);
	doc_drop(&refs);
	return rc;
}

static int url_ok(const char *base_url)
{
	return !base_url || xml_valid(base_url, strlen(base_url));
}

int cap_alert_xml(struct store *s, const uint8_t root[WM_PUB_LEN], uint64_t now,
                  const uint8_t id[WM_ID_LEN], const char *base_url, char **xml, size_t *len)
{
	struct event *ev = NULL;
	uint8_t *wire = NULL;
	struct doc d;
	int rc;

	if (!s || !root || !id || !xml || !len)
		return WM_EINVAL;
	if (!url_ok(base_url))
		return WM_EINVAL;
	if ((rc = load(s, id, &wire, &ev)) != 0)
		return rc;
	/* expired is gone, whether or not the store has collected it yet */
	if (ev->kind != KIND_ALERT || ev->expires_at <= now) {
		rc = WM_ENOTFOUND;
		goto out;
	}
	if ((rc = doc_open(&d)) != 0)
		goto out;
	rc = ev->withheld ? put_cancel(&d, s, ev) : put_alert(&d, s, root, ev, base_url);
	if (rc == 0)
		rc = doc_take(&d, xml, len);
	doc_drop(&d);
out:
	event_free(ev);
	free(wire);
	return rc;
}

/* --- the Atom index ------------------------------------------------------------------ */

struct held {
	uint8_t *wire;
	size_t len;
};
struct alerts {
	struct held *v;
	size_t n;
	uint64_t newest;             /* created_at of the newest, for the feed's updated */
	int err;
};

/* Copies: the store's buffers live only inside the callback, and trust
 * reads the store again for each alert.  Stops at CAP_ATOM_MAX. */
static int collect_cb(void *ctx, const struct stored_event *e)
{
	struct alerts *l = ctx;
	struct held *h;

	if (e->retracted)
		return 0;
	if (l->n == CAP_ATOM_MAX)
		return 1;
	if (!(h = realloc(l->v, (l->n + 1) * sizeof *h)) || !(h[l->n].wire = malloc(e->wire_len))) {
		if (h)
			l->v = h;
		l->err = WM_ENOMEM;
		return 1;
	}
	l->v = h;
	memcpy(h[l->n].wire, e->wire, e->wire_len);
	h[l->n].len = e->wire_len;
	l->n++;
	if (e->created_at > l->newest)
		l->newest = e->created_at;
	return 0;
}

static void put_entry(struct doc *d, const struct event *ev, const struct official *off, int official,
                      const char *base_url)
{
	char hex[2 * WM_ID_LEN + 1], t[TIME_LEN], who[9];
	const char *s;
	size_t len;

	hex_encode(hex, ev->id, WM_ID_LEN);
	fmt_time(t, ev->created_at, 1);
	fprintf(d->f, "  <entry>\n    <id>urn:watchmesh:alert:%s</id>\n", hex);
	el_key(d, "    ", "title", ev, "headline");
	fprintf(d->f, "    <updated>%s</updated>\n    <published>%s</published>\n    <author><name>", t, t);
	if (official) {
		put_name(d, off);
	} else {
		render_short(who, ev->author);
		fprintf(d->f, "Unofficial %s", who);
	}
	fputs("</name></author>\n", d->f);
	if (event_get_str(ev, "category", &s, &len) == 0) {
		fputs("    <category term=\"", d->f);
		xml_put(d->f, s, len, &d->replaced);
		fputs("\"/>\n", d->f);
	}
	fputs("    <summary>", d->f);
	if (event_get_str(ev, "event", &s, &len) == 0) {
		xml_put(d->f, s, len, &d->replaced);
		fputs(": ", d->f);
	}
	if (event_get_str(ev, "area_desc", &s, &len) == 0)
		xml_put(d->f, s, len, &d->replaced);
	fputs("</summary>\n    <link rel=\"alternate\" type=\"application/cap+xml\" href=\"", d->f);
	xml_put(d->f, base_url, strlen(base_url), NULL);
	fprintf(d->f, "/cap/alerts/%s.xml\"/>\n  </entry>\n", hex);
}

int cap_atom(struct store *s, const uint8_t root[WM_PUB_LEN], uint64_t now,
             const char *base_url, char **xml, size_t *len)
{
	struct store_filter f = { .kind = KIND_ALERT, .newest_first = 1, .now = now };
	struct alerts l = { 0 };
	struct official off;
	struct event *ev;
	char why[WM_WHY_LEN], t[TIME_LEN], hex[2 * WM_PUB_LEN + 1];
	struct doc d = { 0 };
	size_t i;
	int rc, official;

	if (!s || !root || !xml || !len)
		return WM_EINVAL;
	if (!base_url)
		base_url = "";
	if (!url_ok(base_url))
		return WM_EINVAL;
	rc = store_events(s, &f, collect_cb, &l);
	if (rc == 0 && l.err)
		rc = l.err;
	if (rc < 0 || (rc = doc_open(&d)) != 0)
		goto out;
	if (fmt_time(t, l.n ? l.newest : now, 1) != 0)
		fmt_time(t, now, 1);
	hex_encode(hex, root, WM_PUB_LEN);
	fprintf(d.f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
	        "  <id>urn:watchmesh:root:%s:alerts</id>\n"
	        "  <title>Active alerts</title>\n  <updated>%s</updated>\n"
	        "  <author><name>watchmesh</name></author>\n"
	        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"", hex, t);
	xml_put(d.f, base_url, strlen(base_url), NULL);
	fputs("/cap/alerts.atom\"/>\n", d.f);
	for (i = 0; i < l.n; i++) {
		/* one alert that no longer decodes, or whose date CAP cannot
		 * write, is left out; the feed stands */
		if (event_decode(l.v[i].wire, l.v[i].len, &ev, why) != 0)
			continue;
		if ((rc = official_of(s, root, ev, &off, &official)) != 0) {
			event_free(ev);
			goto out;
		}
		if (fmt_time(t, ev->created_at, 1) == 0)
			put_entry(&d, ev, &off, official, base_url);
		event_free(ev);
	}
	fputs("</feed>\n", d.f);
	rc = doc_take(&d, xml, len);
out:
	doc_drop(&d);
	for (i = 0; i < l.n; i++)
		free(l.v[i].wire);
	free(l.v);
	return rc;
}
