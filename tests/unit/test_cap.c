/*
 * Unit tests of node/xml (the strict escaper, each class of character XML
 * 1.0 cannot hold) and node/cap (each msgType, references, areas, trust,
 * expiry, the Atom index) over a real store: alerts are real signed events
 * fed through ingest_event, as on a node.  tests/integration/test_cap.py
 * validates the same documents against the CAP 1.2 schema.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cap.h"
#include "event.h"
#include "fixture.h"
#include "ingest.h"
#include "xml.h"

#define T0 1700000000000ull     /* 2023-11-14T22:13:20Z */
#define HOUR 3600000ull
#define DAY (24 * HOUR)
#define NOW (T0 + HOUR)
#define BASE "http://node.lan"

enum { ROOT, STATION, OFFICER, STRANGER, RESIDENT, NKEYS };

/* --- the escaper ------------------------------------------------------------------ */

/* xml_put of s[0..len) into *out (malloc'd, NUL-terminated); its return. */
static int put(const char *s, size_t len, size_t *replaced, char **out)
{
	size_t n = 0;
	FILE *f = open_memstream(out, &n);
	int rc;

	assert_non_null(f);
	rc = xml_put(f, s, len, replaced);
	assert_int_equal(fclose(f), 0);
	return rc;
}

/* Strict: refused, nothing written.  Replacing: U+FFFD in its place. */
static void refused(const char *s, size_t len, const char *as_replaced, size_t nreplaced)
{
	char *out;
	size_t n = 0;

	assert_int_equal(put(s, len, NULL, &out), WM_EINVAL);
	assert_string_equal(out, "");
	free(out);
	assert_false(xml_valid(s, len));
	assert_int_equal(put(s, len, &n, &out), 0);
	assert_string_equal(out, as_replaced);
	assert_int_equal(n, nreplaced);
	free(out);
}

static void test_escape(void **state)
{
	const char ok[] = "a&b<c>d\"e'f\tg\nh\ri ]]> \xef\xbf\xbd \xf4\x8f\xbf\xbf \xed\x9f\xbf \xee\x80\x80";
	char *out;
	size_t n = 0;

	(void)state;
	assert_int_equal(put(ok, strlen(ok), NULL, &out), 0);
	/* the five, CR as a reference (a parser turns a literal CR into LF);
	 * tab and LF as they are; U+FFFD, U+10FFFF, U+D7FF and U+E000 pass */
	assert_string_equal(out, "a&amp;b&lt;c&gt;d&quot;e&apos;f\tg\nh&#xD;i ]]&gt; \xef\xbf\xbd \xf4\x8f\xbf\xbf "
	                         "\xed\x9f\xbf \xee\x80\x80");
	free(out);
	assert_int_equal(put(ok, strlen(ok), &n, &out), 0);
	assert_int_equal(n, 0);
	free(out);

	/* C0 controls but tab, LF and CR: NUL, ESC, the last one */
	refused("a\0b", 3, "a\xef\xbf\xbd" "b", 1);
	refused("x\x1b[2J", 5, "x\xef\xbf\xbd[2J", 1);
	refused("\x01\x1f", 2, "\xef\xbf\xbd\xef\xbf\xbd", 2);
	/* U+FFFE and U+FFFF */
	refused("\xef\xbf\xbe", 3, "\xef\xbf\xbd", 1);
	refused("q\xef\xbf\xbf", 4, "q\xef\xbf\xbd", 1);
	/* a lone surrogate (U+D800 as UTF-8 would write it) */
	refused("\xed\xa0\x80z", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz", 3);
	/* invalid UTF-8: a stray byte, an overlong '/', a cut sequence */
	refused("\xff", 1, "\xef\xbf\xbd", 1);
	refused("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 2);
	refused("ok\xe4\xb8", 4, "ok\xef\xbf\xbd\xef\xbf\xbd", 2);
}

/* Any bytes at all, replaced: the result is text XML can hold, with no
 * markup left (every < and & it holds starts an escape of ours). */
static void test_escape_random(void **state)
{
	unsigned seed = 20261203, round;
	char in[64], *out;
	size_t i, len, n;

	(void)state;
	srand(seed);
	for (round = 0; round < 20000; round++) {
		len = (size_t)rand() % sizeof in;
		for (i = 0; i < len; i++)       /* skewed to the bytes that matter */
			in[i] = (char)(rand() % 4 ? rand() % 256 : "<&>\"'\r\x01\xef\xbf\xbe\xed\xa0"[rand() % 12]);
		n = 0;
		assert_int_equal(put(in, len, &n, &out), 0);
		if (!xml_valid(out, strlen(out)) || strchr(out, '<') || strchr(out, '>') || strchr(out, '\r') ||
		    (n == 0) != xml_valid(in, len))
			fail_msg("seed %u round %u: %zu bytes in, out \"%s\"", seed, round, len, out);
		for (i = 0; out[i]; i++)
			if (out[i] == '&' && strncmp(out + i, "&amp;", 5) && strncmp(out + i, "&lt;", 4) &&
			    strncmp(out + i, "&gt;", 4) && strncmp(out + i, "&quot;", 6) &&
			    strncmp(out + i, "&apos;", 6) && strncmp(out + i, "&#xD;", 5))
				fail_msg("seed %u round %u: a bare & in \"%s\"", seed, round, out);
		free(out);
	}
}

/* --- a node with alerts ------------------------------------------------------------- */

static int setup(void **state)
{
	struct fx_node *f = fx_node_new("cap", NKEYS, 0x50, NOW);
	struct fx_ev chain[2];
	int i;

	fx_chain(f->k[ROOT], f->k[STATION], f->k[OFFICER], T0 - DAY, T0 + 365 * DAY, chain);
	for (i = 0; i < 2; i++) {
		assert_int_equal(ingest_event(&f->ctx, chain[i].wire, chain[i].len, INGEST_PEER, &f->res), 0);
		free(chain[i].wire);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_node_free(*state);
	return 0;
}

struct shape {
	const char *group;
	uint64_t created;
	const uint8_t *ref;          /* refs[0], or NULL */
	const char *headline;
	const char *lang;
	int circle;                  /* lat, lon, r below */
	int64_t lat, lon, r;
};

static struct fx_ev build_alert(const struct key *k, const struct shape *sh)
{
	struct event_draft d;
	struct cval c[3];

	fx_draft(&d, k, KIND_ALERT, sh->group ? sh->group : "gaobu", sh->created);
	d.expires_at = sh->created + DAY;
	if (sh->ref) {
		d.nrefs = 1;
		memcpy(d.refs[0], sh->ref, WM_ID_LEN);
	}
	draft_str(&d, "event", "Flood");
	draft_str(&d, "headline", sh->headline ? sh->headline : "Leave the river bank");
	draft_str(&d, "text", "Water rising");
	draft_str(&d, "category", "Met");
	draft_str(&d, "urgency", "Immediate");
	draft_str(&d, "severity", "Extreme");
	draft_str(&d, "certainty", "Observed");
	draft_str(&d, "area_desc", "Gaobu");
	if (sh->lang)
		draft_str(&d, "lang", sh->lang);
	if (sh->circle) {
		c[0] = cval_int(sh->lat);
		c[1] = cval_int(sh->lon);
		c[2] = cval_int(sh->r);
		draft_array(&d, "circle", c, 3);
	}
	return fx_build(&d, k);
}

/* An officer's alert of the given shape, ingested; its id into id. */
static void post(struct fx_node *f, const struct shape *sh, uint8_t id[WM_ID_LEN])
{
	struct fx_ev e = build_alert(f->k[OFFICER], sh);
	int rc = ingest_event(&f->ctx, e.wire, e.len, INGEST_PEER, &f->res);

	if (rc != 0)
		fail_msg("ingest: %s: %s", wm_errname(rc), f->res.why);
	memcpy(id, e.id, WM_ID_LEN);
	free(e.wire);
}

static char *cap(struct fx_node *f, const uint8_t id[WM_ID_LEN])
{
	char *xml = NULL;
	size_t len = 0;
	int rc = cap_alert_xml(f->s, f->k[ROOT]->pub, NOW, id, BASE, &xml, &len);

	if (rc != 0)
		fail_msg("cap_alert_xml: %s", wm_errname(rc));
	assert_int_equal(strlen(xml), len);
	return xml;
}

/* "<tag>...</tag>" of xml's first such element, in buf. */
static const char *el(const char *xml, const char *tag, char *buf, size_t len)
{
	char open[64], close[64];
	const char *a, *b;

	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	if (!(a = strstr(xml, open)) || !(b = strstr(a, close)))
		return NULL;
	a += strlen(open);
	snprintf(buf, len, "%.*s", (int)(b - a), a);
	return buf;
}

static void assert_el(const char *xml, const char *tag, const char *want)
{
	char buf[1024];
	const char *got = el(xml, tag, buf, sizeof buf);

	if (!got || strcmp(got, want) != 0)
		fail_msg("<%s>: got %s, want %s\n%s", tag, got ? got : "(none)", want, xml);
}

static void test_alert(void **state)
{
	struct fx_node *f = *state;
	struct shape sh = { .created = T0, .lang = "zh-CN", .circle = 1,
	                    .lat = -33856784, .lon = 151215297, .r = 1500 };
	char id_hex[65], off_hex[65], sender[100];
	uint8_t id[WM_ID_LEN];
	char *x;

	post(f, &sh, id);
	x = cap(f, id);
	hex_encode(id_hex, id, WM_ID_LEN);
	hex_encode(off_hex, f->k[OFFICER]->pub, WM_PUB_LEN);
	snprintf(sender, sizeof sender, "%s@00000000000000000000000000000000", off_hex);
	assert_el(x, "identifier", id_hex);
	assert_el(x, "sender", sender);
	assert_el(x, "sent", "2023-11-14T22:13:20-00:00");
	assert_el(x, "expires", "2023-11-15T22:13:20-00:00");
	assert_el(x, "status", "Actual");
	assert_el(x, "msgType", "Alert");
	assert_el(x, "scope", "Public");
	assert_el(x, "language", "zh-CN");
	assert_el(x, "category", "Met");
	assert_el(x, "severity", "Extreme");
	assert_el(x, "senderName", "officer, station");
	assert_el(x, "areaDesc", "Gaobu");
	assert_el(x, "circle", "-33.856784,151.215297 1.500");
	assert_null(strstr(x, "<references>"));
	assert_null(strstr(x, "<note>"));
	free(x);
}

/* Circles at the edges of their ranges; no circle, no <circle>. */
static void test_areas(void **state)
{
	struct fx_node *f = *state;
	struct shape sh[] = {
		{ .created = T0 + 1, .circle = 1, .lat = 90000000, .lon = -180000000, .r = 1 },
		{ .created = T0 + 2, .circle = 1, .lat = -5, .lon = 0, .r = 1000000 },
		{ .created = T0 + 3 },
	};
	const char *want[] = { "90.000000,-180.000000 0.001", "-0.000005,0.000000 1000.000", NULL };
	uint8_t id[WM_ID_LEN];
	size_t i;
	char *x;

	for (i = 0; i < 3; i++) {
		post(f, &sh[i], id);
		x = cap(f, id);
		if (want[i])
			assert_el(x, "circle", want[i]);
		else
			assert_null(strstr(x, "<circle>"));
		assert_el(x, "areaDesc", "Gaobu");
		free(x);
	}
}

/* An update lists the alert it updates as "sender,identifier,sent"; an
 * alert of another group pointing at it is not an update of it. */
static void test_update(void **state)
{
	struct fx_node *f = *state;
	struct shape first = { .created = T0 }, upd = { .created = T0 + 60000 };
	struct shape other = { .created = T0 + 120000, .group = "market" };
	char want[300], off_hex[65], id_hex[65];
	uint8_t a[WM_ID_LEN], b[WM_ID_LEN], c[WM_ID_LEN];
	char *x;

	post(f, &first, a);
	upd.ref = other.ref = a;
	post(f, &upd, b);
	post(f, &other, c);
	hex_encode(off_hex, f->k[OFFICER]->pub, WM_PUB_LEN);
	hex_encode(id_hex, a, WM_ID_LEN);
	snprintf(want, sizeof want, "%s@00000000000000000000000000000000,%s,2023-11-14T22:13:20-00:00",
	         off_hex, id_hex);
	x = cap(f, b);
	assert_el(x, "msgType", "Update");
	assert_el(x, "references", want);
	assert_el(x, "sent", "2023-11-14T22:14:20-00:00");
	free(x);
	x = cap(f, c);
	assert_el(x, "msgType", "Alert");
	assert_null(strstr(x, "<references>"));
	free(x);
}

/* A retracted alert gives the retract's Cancel, referencing the alert; it
 * leaves the Atom index. */
static void test_cancel(void **state)
{
	struct fx_node *f = *state;
	struct shape sh = { .created = T0 };
	struct event_draft d;
	struct fx_ev r;
	char want[300], off_hex[65], id_hex[65], *x;
	uint8_t id[WM_ID_LEN];
	size_t len;

	post(f, &sh, id);
	fx_draft(&d, f->k[OFFICER], KIND_RETRACT, "gaobu", T0 + HOUR / 2);
	d.nrefs = 1;
	memcpy(d.refs[0], id, WM_ID_LEN);
	draft_str(&d, "reason", "a <test> & \"drill\"");
	r = fx_build(&d, f->k[OFFICER]);
	assert_int_equal(ingest_event(&f->ctx, r.wire, r.len, INGEST_PEER, &f->res), 0);
	free(r.wire);

	x = cap(f, id);
	hex_encode(id_hex, r.id, WM_ID_LEN);
	assert_el(x, "identifier", id_hex);
	assert_el(x, "msgType", "Cancel");
	assert_el(x, "sent", "2023-11-14T22:43:20-00:00");
	assert_el(x, "note", "a &lt;test&gt; &amp; &quot;drill&quot;");
	hex_encode(off_hex, f->k[OFFICER]->pub, WM_PUB_LEN);
	hex_encode(id_hex, id, WM_ID_LEN);
	snprintf(want, sizeof want, "%s@00000000000000000000000000000000,%s,2023-11-14T22:13:20-00:00",
	         off_hex, id_hex);
	assert_el(x, "references", want);
	assert_null(strstr(x, "<info>"));
	free(x);

	assert_int_equal(cap_atom(f->s, f->k[ROOT]->pub, NOW, BASE, &x, &len), 0);
	assert_null(strstr(x, id_hex));
	free(x);
}

/* Alerts stored without an official behind them (as a rule gap or a
 * store written by hand could leave one): a key with no certificate, and a
 * resident's.  Exported, without senderName, and the note says so. */
static void test_unofficial(void **state)
{
	struct fx_node *f = *state;
	struct shape sh = { .created = T0 };
	struct fx_ev c = fx_cert(f->k[STATION], f->k[RESIDENT], "resident", "resident", "gaobu", T0 - DAY,
	                         T0 + DAY, T0 - DAY);
	const int who[] = { STRANGER, RESIDENT };
	struct event *ev;
	struct fx_ev e;
	char why[WM_WHY_LEN], *x;
	size_t i;

	assert_int_equal(ingest_event(&f->ctx, c.wire, c.len, INGEST_PEER, &f->res), 0);
	free(c.wire);
	for (i = 0; i < 2; i++) {
		e = build_alert(f->k[who[i]], &sh);
		assert_int_equal(event_decode(e.wire, e.len, &ev, why), 0);
		assert_int_equal(store_insert(f->s, ev, (int64_t)NOW), 0);
		event_free(ev);
		x = cap(f, e.id);
		assert_null(strstr(x, "<senderName>"));
		assert_non_null(strstr(x, "<note>Unofficial: by the certificates this node holds, the sender is "
		                          "not an official of group gaobu.</note>"));
		free(x);
		free(e.wire);
	}
}

/* Text XML cannot hold (U+FFFF: the content rules let it through) becomes
 * U+FFFD and the note counts it; a language tag CAP cannot take is "und". */
static void test_replaced(void **state)
{
	struct fx_node *f = *state;
	struct shape sh = { .created = T0, .headline = "Flood\xef\xbf\xbf<now>", .lang = "toolongtag-x" };
	uint8_t id[WM_ID_LEN];
	char *x;

	post(f, &sh, id);
	x = cap(f, id);
	assert_el(x, "headline", "Flood\xef\xbf\xbd&lt;now&gt;");
	assert_el(x, "note", "1 character(s) that XML cannot hold were replaced with U+FFFD.");
	assert_el(x, "language", "und");
	free(x);
}

static void test_not_found(void **state)
{
	struct fx_node *f = *state;
	struct shape sh = { .created = T0 };
	uint8_t id[WM_ID_LEN], none[WM_ID_LEN] = { 1 };
	struct fx_ev b;
	struct event_draft d;
	char *x = NULL;
	size_t len;

	post(f, &sh, id);
	/* expired: gone, whether or not the store has collected it */
	assert_int_equal(cap_alert_xml(f->s, f->k[ROOT]->pub, T0 + DAY, id, BASE, &x, &len), WM_ENOTFOUND);
	assert_int_equal(cap_alert_xml(f->s, f->k[ROOT]->pub, NOW, none, BASE, &x, &len), WM_ENOTFOUND);
	fx_draft(&d, f->k[OFFICER], KIND_BULLETIN, "gaobu", T0);
	draft_str(&d, "title", "t");
	draft_str(&d, "text", "t");
	draft_str(&d, "category", "notice");
	b = fx_build(&d, f->k[OFFICER]);
	assert_int_equal(ingest_event(&f->ctx, b.wire, b.len, INGEST_PEER, &f->res), 0);
	assert_int_equal(cap_alert_xml(f->s, f->k[ROOT]->pub, NOW, b.id, BASE, &x, &len), WM_ENOTFOUND);
	free(b.wire);
	/* a base URL XML cannot hold is the caller's mistake, refused */
	assert_int_equal(cap_alert_xml(f->s, f->k[ROOT]->pub, NOW, id, "http://x\x01", &x, &len), WM_EINVAL);
	assert_int_equal(cap_atom(f->s, f->k[ROOT]->pub, NOW, "http://x\x01", &x, &len), WM_EINVAL);
	assert_null(x);
}

/* The index: active alerts newest first, each linking its CAP message;
 * the expired left out. */
static void test_atom(void **state)
{
	struct fx_node *f = *state;
	struct shape old = { .created = T0 - DAY + 1000 }, a = { .created = T0 }, b = { .created = T0 + 5000 };
	uint8_t ida[WM_ID_LEN], idb[WM_ID_LEN], ido[WM_ID_LEN];
	char link[200], hex[65], *x;
	const char *pa, *pb;
	size_t len;

	f->ctx.now = T0 - DAY + 2000;
	post(f, &old, ido);
	f->ctx.now = NOW;
	post(f, &a, ida);
	post(f, &b, idb);
	assert_int_equal(cap_atom(f->s, f->k[ROOT]->pub, NOW, BASE, &x, &len), 0);
	assert_int_equal(strlen(x), len);
	assert_non_null(strstr(x, "<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
	assert_el(x, "updated", "2023-11-14T22:13:25Z");
	assert_non_null(strstr(x, "<link rel=\"self\" type=\"application/atom+xml\" href=\"" BASE "/cap/alerts.atom\"/>"));
	hex_encode(hex, ida, WM_ID_LEN);
	snprintf(link, sizeof link, "href=\"" BASE "/cap/alerts/%s.xml\"", hex);
	assert_non_null(pa = strstr(x, link));
	hex_encode(hex, idb, WM_ID_LEN);
	snprintf(link, sizeof link, "href=\"" BASE "/cap/alerts/%s.xml\"", hex);
	assert_non_null(pb = strstr(x, link));
	assert_true(pb < pa);
	hex_encode(hex, ido, WM_ID_LEN);
	assert_null(strstr(x, hex));
	assert_non_null(strstr(x, "<author><name>officer, station</name></author>"));
	free(x);
}

/* The index holds the newest CAP_ATOM_MAX active alerts; a retracted one
 * does not take a place: of CAP_ATOM_MAX + 2, the newest retracted, all but
 * the oldest are in. */
static void test_atom_limit(void **state)
{
	struct fx_node *f = *state;
	struct shape sh = { .created = T0 };
	uint8_t oldest[WM_ID_LEN], second[WM_ID_LEN], id[WM_ID_LEN];
	struct event_draft d;
	struct fx_ev r;
	char hex[65], *x, *p;
	size_t i, n = 0, len;

	for (i = 0; i < CAP_ATOM_MAX + 2; i++) {
		sh.created = T0 + i;
		post(f, &sh, i == 0 ? oldest : i == 1 ? second : id);
	}
	fx_draft(&d, f->k[OFFICER], KIND_RETRACT, "gaobu", T0 + HOUR / 2);
	d.nrefs = 1;
	memcpy(d.refs[0], id, WM_ID_LEN);
	r = fx_build(&d, f->k[OFFICER]);
	assert_int_equal(ingest_event(&f->ctx, r.wire, r.len, INGEST_PEER, &f->res), 0);
	free(r.wire);
	assert_int_equal(cap_atom(f->s, f->k[ROOT]->pub, NOW, BASE, &x, &len), 0);
	for (p = x; (p = strstr(p, "<entry>")); p++)
		n++;
	assert_int_equal(n, CAP_ATOM_MAX);
	hex_encode(hex, second, WM_ID_LEN);
	assert_non_null(strstr(x, hex));
	hex_encode(hex, oldest, WM_ID_LEN);
	assert_null(strstr(x, hex));
	hex_encode(hex, id, WM_ID_LEN);
	assert_null(strstr(x, hex));
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_random),
		cmocka_unit_test_setup_teardown(test_alert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_areas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unofficial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atom_limit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
