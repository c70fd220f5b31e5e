/*
 * Unit tests of proto/content: each kind's rules, through event_build (which
 * runs the real decoder and content_check on what it encodes) so that every
 * case is a real signed event, not a hand-made struct.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "content.h"
#include "event.h"

static struct key *alice;
static uint8_t target[WM_ID_LEN];
static char why[WM_WHY_LEN];

static int setup(void **state)
{
	uint8_t seed[32];

	(void)state;
	assert_int_equal(wmc_init(), 0);
	memset(seed, 0x11, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &alice), 0);
	memset(target, 0xab, sizeof(target));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	key_free(alice);
	return 0;
}

static void draft_init(struct event_draft *d, unsigned kind, const char *group)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	memcpy(d->author, alice->pub, WM_PUB_LEN);
	d->created_at = 1700000000000ull;
	d->group = group;
}

static int build(const struct event_draft *d)
{
	uint8_t *wire = NULL;
	size_t len = 0;
	uint8_t id[WM_ID_LEN];
	int rc;

	why[0] = '\0';
	rc = event_build(d, alice, &wire, &len, id, why);
	if (rc == 0) {
		struct event *ev = NULL;

		/* what event_build returns decodes, to the same id */
		assert_int_equal(event_decode(wire, len, &ev, why), 0);
		assert_memory_equal(ev->id, id, WM_ID_LEN);
		event_free(ev);
		free(wire);
	} else {
		assert_null(wire);
		assert_true(why[0] != '\0');
	}
	return rc;
}

static void expect_fail(const struct event_draft *d, int code, const char *needle)
{
	int rc = build(d);

	if (rc != code || strstr(why, needle) == NULL)
		fail_msg("expected %s mentioning \"%s\", got %s: %s", wm_errname(code), needle,
		         wm_errname(rc), why);
}

static void bulletin(struct event_draft *d)
{
	draft_init(d, KIND_BULLETIN, "gaobu.xinhua-village");
	draft_str(d, "title", "Phone scam");
	draft_str(d, "text", "Callers pretend to be the bank.\nHang up.");
	draft_str(d, "category", "fraud");
}

static void test_bulletin(void **state)
{
	struct event_draft d;
	char big[WM_TITLE_MAX + 2];

	(void)state;
	bulletin(&d);
	assert_int_equal(build(&d), 0);
	draft_str(&d, "lang", "zh-CN");
	assert_int_equal(build(&d), 0);
	draft_str(&d, "lang", "zh_CN");
	expect_fail(&d, WM_ECONTENT, "lang");

	bulletin(&d);
	d.ncontent = 2;   /* drop category */
	expect_fail(&d, WM_ECONTENT, "content key 'category' is missing");
	bulletin(&d);
	draft_str(&d, "category", "Fraud");
	expect_fail(&d, WM_ECONTENT, "expected one of: fraud, safety");
	bulletin(&d);
	draft_str(&d, "title", "");
	expect_fail(&d, WM_ECONTENT, "content key 'title' is empty");
	bulletin(&d);
	draft_str(&d, "title", "two\nlines");
	expect_fail(&d, WM_ECONTENT, "holds a newline (U+000A) at byte 3: it must be one line");
	memset(big, 'x', sizeof(big));
	big[WM_TITLE_MAX] = '\0';
	bulletin(&d);
	draft_str(&d, "title", big);
	assert_int_equal(build(&d), 0);
	big[WM_TITLE_MAX] = 'x';
	big[WM_TITLE_MAX + 1] = '\0';
	draft_str(&d, "title", big);
	expect_fail(&d, WM_ECONTENT, "201 bytes");
	bulletin(&d);
	draft_bin(&d, "title", (const uint8_t *)"abc", 3);
	expect_fail(&d, WM_ECONTENT, "must be a string, found a binary");
	/* unknown keys of allowed types pass; bad key names do not */
	bulletin(&d);
	draft_uint(&d, "x_later", 5);
	assert_int_equal(build(&d), 0);
	bulletin(&d);
	draft_uint(&d, "Later", 5);
	expect_fail(&d, WM_EMALFORMED, "a-z 0-9 _");
	/* the reserved group */
	bulletin(&d);
	d.group = "network";
	expect_fail(&d, WM_ECONTENT, "reserved");
}

static void alert(struct event_draft *d)
{
	draft_init(d, KIND_ALERT, "gaobu");
	d->expires_at = d->created_at + 86400000;
	draft_str(d, "event", "Missing person");
	draft_str(d, "headline", "Boy, 8, missing near the river");
	draft_str(d, "text", "Wearing a red jacket.");
	draft_str(d, "category", "Rescue");
	draft_str(d, "urgency", "Immediate");
	draft_str(d, "severity", "Severe");
	draft_str(d, "certainty", "Observed");
	draft_str(d, "area_desc", "Xinhua village");
}

static void test_alert(void **state)
{
	struct event_draft d;
	struct cval c[3];
	uint8_t photo[100];

	(void)state;
	alert(&d);
	assert_int_equal(build(&d), 0);
	d.expires_at = 0;
	expect_fail(&d, WM_ECONTENT, "expires_at");
	alert(&d);
	draft_str(&d, "urgency", "immediate");
	expect_fail(&d, WM_ECONTENT, "'urgency'");

	c[0] = cval_int(-33868800);
	c[1] = cval_int(151209300);
	c[2] = cval_uint(500);
	alert(&d);
	draft_array(&d, "circle", c, 3);
	assert_int_equal(build(&d), 0);
	c[0] = cval_int(-90000001);
	expect_fail(&d, WM_ECONTENT, "lat_e6");
	c[0] = cval_int(0);
	c[2] = cval_uint(0);
	expect_fail(&d, WM_ECONTENT, "radius_m");
	c[2] = cval_uint(500);
	draft_array(&d, "circle", c, 2);
	expect_fail(&d, WM_ECONTENT, "expected 3");
	c[1] = cval_str("east");
	draft_array(&d, "circle", c, 3);
	expect_fail(&d, WM_ECONTENT, "lon_e6 must be an integer");

	memset(photo, 0xff, sizeof(photo));
	alert(&d);
	draft_bin(&d, "photo", photo, sizeof(photo));
	expect_fail(&d, WM_ECONTENT, "photo_type");
	draft_str(&d, "photo_type", "image/gif");
	expect_fail(&d, WM_ECONTENT, "image/jpeg");
	draft_str(&d, "photo_type", "image/png");
	assert_int_equal(build(&d), 0);
}

/* Build d signed by `by` and decode it: *ev points into *wire. */
static void make(struct event_draft *d, const struct key *by, uint8_t **wire, struct event **ev)
{
	size_t len = 0;
	uint8_t id[WM_ID_LEN];

	memcpy(d->author, by->pub, WM_PUB_LEN);
	if (event_build(d, by, wire, &len, id, why) != 0)
		fail_msg("cannot build: %s", why);
	assert_int_equal(event_decode(*wire, len, ev, why), 0);
}

static void test_request(void **state)
{
	struct event_draft d;
	struct key *officer = NULL;
	uint8_t seed[32], net[WM_NETWORK_LEN] = { 0 };
	uint8_t *box = NULL;
	size_t boxlen = 0;
	struct sealed parts = { 0 };
	struct cval to[1];

	(void)state;
	draft_init(&d, KIND_REQUEST, "gaobu");
	draft_str(&d, "topic", "police");
	expect_fail(&d, WM_ECONTENT, "'text' is missing");
	draft_str(&d, "text", "My neighbour's dog is loose");
	assert_int_equal(build(&d), 0);
	draft_str(&d, "topic", "fire");
	expect_fail(&d, WM_ECONTENT, "'topic'");
	draft_init(&d, KIND_REQUEST, "gaobu");
	draft_str(&d, "text", "no topic");
	expect_fail(&d, WM_ECONTENT, "'topic' is missing");

	memset(seed, 0x22, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &officer), 0);
	parts.nto = 1;
	parts.to = officer->pub;
	parts.topic = "police";
	parts.topiclen = 6;
	parts.text = "secret";
	parts.textlen = 6;
	assert_int_equal(content_seal(alice, KIND_REQUEST, net, "gaobu", &parts, &box, &boxlen, why), 0);
	to[0] = cval_bin(officer->pub, WM_PUB_LEN);

	/* the box only: topic, language, text and recipients are inside */
	draft_init(&d, KIND_REQUEST, "gaobu");
	draft_bin(&d, "box", box, boxlen);
	assert_int_equal(build(&d), 0);
	draft_str(&d, "topic", "police");
	expect_fail(&d, WM_ECONTENT, "carries 'topic' inside its box, never in clear");
	draft_init(&d, KIND_REQUEST, "gaobu");
	draft_bin(&d, "box", box, boxlen);
	draft_str(&d, "lang", "zh");
	expect_fail(&d, WM_ECONTENT, "carries 'lang' inside");
	draft_init(&d, KIND_REQUEST, "gaobu");
	draft_bin(&d, "box", box, boxlen);
	draft_str(&d, "text", "and plain");
	expect_fail(&d, WM_ECONTENT, "carries 'text' inside");
	draft_init(&d, KIND_REQUEST, "gaobu");
	draft_bin(&d, "box", box, boxlen);
	draft_array(&d, "to", to, 1);
	expect_fail(&d, WM_ECONTENT, "names recipients in clear");
	/* its shape: a count of 1-16, the slots, whole blocks of 256 */
	draft_init(&d, KIND_REQUEST, "gaobu");
	draft_bin(&d, "box", box, boxlen - 1);
	expect_fail(&d, WM_ECONTENT, "not a sealed box");
	box[0] = 0;
	draft_bin(&d, "box", box, boxlen);
	expect_fail(&d, WM_ECONTENT, "not a sealed box");
	box[0] = 2;
	expect_fail(&d, WM_ECONTENT, "not a sealed box");
	free(box);

	/* a request's box needs its topic; a reply's has none */
	parts.topic = NULL;
	parts.topiclen = 0;
	assert_int_equal(content_seal(alice, KIND_REQUEST, net, "gaobu", &parts, &box, &boxlen, why),
	                 WM_ECONTENT);
	assert_non_null(strstr(why, "no topic"));
	parts.topic = "fire";
	parts.topiclen = 4;
	assert_int_equal(content_seal(alice, KIND_REQUEST, net, "gaobu", &parts, &box, &boxlen, why),
	                 WM_ECONTENT);
	assert_int_equal(content_seal(alice, KIND_REPLY, net, "gaobu", &parts, &box, &boxlen, why),
	                 WM_ECONTENT);
	parts.text = "\x1b[2J";
	parts.textlen = 4;
	parts.topic = NULL;
	parts.topiclen = 0;
	assert_int_equal(content_seal(alice, KIND_REPLY, net, "gaobu", &parts, &box, &boxlen, why),
	                 WM_ECONTENT);
	assert_non_null(strstr(why, "U+001B"));
	key_free(officer);
}

/* The associated data content.c binds a box to (PROTOCOL.md section 6), made
 * here by hand so a test can re-seal an opened box as another author. */
static size_t ad_of(uint8_t *ad, unsigned kind, const uint8_t *net, const uint8_t *author, const char *group)
{
	size_t n = 18;

	memcpy(ad, "watchmesh sealed 2", 18);
	ad[n++] = (uint8_t)kind;
	memcpy(ad + n, net, WM_NETWORK_LEN);
	n += WM_NETWORK_LEN;
	memcpy(ad + n, author, WM_PUB_LEN);
	n += WM_PUB_LEN;
	ad[n++] = (uint8_t)strlen(group);
	memcpy(ad + n, group, strlen(group));
	return n + strlen(group);
}

/* Sealed content opened, and the attacks on it: re-signed by another key,
 * moved to another group or kind, re-sealed by a recipient as its own. */
static void test_sealed_open(void **state)
{
	struct event_draft d;
	struct key *officer = NULL, *mallory = NULL, *office = NULL;
	uint8_t seed[32], net[WM_NETWORK_LEN], recips[2][WM_PUB_LEN], ad[128];
	uint8_t *box = NULL, *box2 = NULL, *wire = NULL, *m = NULL;
	size_t boxlen = 0, box2len = 0, ml = 0, adlen;
	struct sealed parts = { 0 }, got;
	struct event *ev = NULL;

	(void)state;
	memset(net, 0x5e, sizeof net);
	memset(seed, 0x22, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &officer), 0);
	memset(seed, 0x33, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &mallory), 0);
	memset(seed, 0x44, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &office), 0);
	memcpy(recips[0], officer->pub, WM_PUB_LEN);
	memcpy(recips[1], mallory->pub, WM_PUB_LEN);
	parts.nto = 2;
	parts.to = recips[0];
	parts.topic = "dispute";
	parts.topiclen = 7;
	parts.lang = "zh";
	parts.langlen = 2;
	parts.text = "楼上漏水，请调解";
	parts.textlen = strlen(parts.text);
	assert_int_equal(content_seal(alice, KIND_REQUEST, net, "gaobu", &parts, &box, &boxlen, why), 0);

	draft_init(&d, KIND_REQUEST, "gaobu");
	memcpy(d.network, net, sizeof net);
	draft_bin(&d, "box", box, boxlen);
	make(&d, alice, &wire, &ev);
	/* each recipient and the author read it; nobody else */
	assert_int_equal(content_open(ev, officer, &got, why), 0);
	assert_int_equal(got.textlen, parts.textlen);
	assert_memory_equal(got.text, parts.text, got.textlen);
	assert_int_equal(got.topiclen, 7);
	assert_memory_equal(got.topic, "dispute", 7);
	assert_int_equal(got.langlen, 2);
	assert_int_equal(got.nto, 2);
	assert_memory_equal(got.to, recips, sizeof recips);
	content_sealed_free(&got);
	assert_int_equal(content_open(ev, alice, &got, why), 0);
	content_sealed_free(&got);
	assert_int_equal(content_open(ev, office, &got, why), WM_ENOTFOUND);

	/* mallory: Alice's box re-signed under her own key, in another group */
	event_free(ev);
	free(wire);
	make(&d, mallory, &wire, &ev);
	assert_int_equal(content_open(ev, officer, &got, why), WM_ECRYPTO);
	assert_non_null(strstr(why, "does not open"));
	event_free(ev);
	free(wire);
	draft_init(&d, KIND_REQUEST, "gaobu.other");
	memcpy(d.network, net, sizeof net);
	draft_bin(&d, "box", box, boxlen);
	make(&d, alice, &wire, &ev);
	assert_int_equal(content_open(ev, officer, &got, why), WM_ECRYPTO);
	event_free(ev);
	free(wire);
	/* ... or as a reply */
	draft_init(&d, KIND_REPLY, "gaobu");
	memcpy(d.network, net, sizeof net);
	d.nrefs = 1;
	memcpy(d.refs[0], target, WM_ID_LEN);
	draft_bin(&d, "box", box, boxlen);
	make(&d, alice, &wire, &ev);
	assert_int_equal(content_open(ev, officer, &got, why), WM_ECRYPTO);
	event_free(ev);
	free(wire);

	/* mallory is a recipient: she opens the box and seals its inside, with
	 * Alice's signature, under her own key: not bound to her */
	adlen = ad_of(ad, KIND_REQUEST, net, alice->pub, "gaobu");
	assert_int_equal(seal_open(box, boxlen, ad, adlen, alice->pub, mallory, &m, &ml), 0);
	adlen = ad_of(ad, KIND_REQUEST, net, mallory->pub, "gaobu");
	assert_int_equal(seal_box(m, ml, ad, adlen, (const uint8_t (*)[WM_PUB_LEN])recips, 2, mallory->pub,
	                          &box2, &box2len), 0);
	draft_init(&d, KIND_REQUEST, "gaobu");
	memcpy(d.network, net, sizeof net);
	draft_bin(&d, "box", box2, box2len);
	make(&d, mallory, &wire, &ev);
	assert_int_equal(content_open(ev, officer, &got, why), WM_ESIG);
	assert_non_null(strstr(why, "not bound to this author"));
	event_free(ev);
	free(wire);
	free(box2);
	/* ... or drops the officer (one slot, the signed list still names two) */
	adlen = ad_of(ad, KIND_REQUEST, net, alice->pub, "gaobu");
	assert_int_equal(seal_box(m, ml, ad, adlen, (const uint8_t (*)[WM_PUB_LEN])recips + 1, 1, alice->pub,
	                          &box2, &box2len), 0);
	draft_init(&d, KIND_REQUEST, "gaobu");
	memcpy(d.network, net, sizeof net);
	draft_bin(&d, "box", box2, box2len);
	make(&d, alice, &wire, &ev);
	assert_int_equal(content_open(ev, mallory, &got, why), WM_ECONTENT);
	assert_non_null(strstr(why, "dropped"));
	event_free(ev);
	free(wire);
	free(box2);
	seal_free_msg(m, ml);
	free(box);

	/* a hostile author's box, bound right but with a broken inside: refused
	 * with a reason, never read past its end */
	{
		static const struct { size_t len; uint8_t fill; const char *why; } bad[] = {
			{ 10, 0x01, "too short" },            /* no count */
			{ 64 + 1, 0x01, "cut short" },        /* a count of 1, no key */
			{ 64 + 1 + 32, 0x01, "cut short" },   /* no topic length */
			{ 64 + 1 + 32 + 1, 0x01, "cut short" },  /* topic length 1, no topic */
			{ 64 + 1 + 32 + 3, 0x02, "slots" },   /* a count of 2 for one slot */
			{ 64 + 1 + 32 + 3, 0x00, "slots" },   /* a count of 0 */
		};
		uint8_t inner[128];

		adlen = ad_of(ad, KIND_REQUEST, net, alice->pub, "gaobu");
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			memset(inner, bad[i].fill, sizeof inner);
			assert_int_equal(seal_box(inner, bad[i].len, ad, adlen,
			                          (const uint8_t (*)[WM_PUB_LEN])recips, 1, alice->pub, &box2,
			                          &box2len), 0);
			draft_init(&d, KIND_REQUEST, "gaobu");
			memcpy(d.network, net, sizeof net);
			draft_bin(&d, "box", box2, box2len);
			make(&d, alice, &wire, &ev);
			assert_int_equal(content_open(ev, officer, &got, why), WM_ECONTENT);
			if (strstr(why, bad[i].why) == NULL)
				fail_msg("case %zu: %s", i, why);
			event_free(ev);
			free(wire);
			free(box2);
		}
		/* well-formed but signed by nobody */
		memset(inner, 0, sizeof inner);
		inner[64] = 1;
		memcpy(inner + 65, officer->pub, WM_PUB_LEN);
		memcpy(inner + 97, "\x06police\x00hi", 10);
		assert_int_equal(seal_box(inner, 107, ad, adlen, (const uint8_t (*)[WM_PUB_LEN])recips, 1,
		                          alice->pub, &box2, &box2len), 0);
		draft_init(&d, KIND_REQUEST, "gaobu");
		memcpy(d.network, net, sizeof net);
		draft_bin(&d, "box", box2, box2len);
		make(&d, alice, &wire, &ev);
		assert_int_equal(content_open(ev, officer, &got, why), WM_ESIG);
		event_free(ev);
		free(wire);
		free(box2);
	}

	/* a referral: only a status 'referred' carries a box */
	parts.nto = 1;
	parts.to = office->pub;
	assert_int_equal(content_seal(officer, KIND_STATUS, net, "gaobu", &parts, &box, &boxlen, why), 0);
	draft_init(&d, KIND_STATUS, "gaobu");
	memcpy(d.network, net, sizeof net);
	d.nrefs = 1;
	memcpy(d.refs[0], target, WM_ID_LEN);
	draft_str(&d, "state", "assigned");
	draft_bin(&d, "box", box, boxlen);
	expect_fail(&d, WM_ECONTENT, "only a status 'referred' carries a box");
	draft_str(&d, "state", "referred");
	make(&d, officer, &wire, &ev);
	assert_int_equal(content_open(ev, office, &got, why), 0);
	assert_memory_equal(got.text, parts.text, got.textlen);
	content_sealed_free(&got);
	assert_int_equal(content_open(ev, alice, &got, why), WM_ENOTFOUND);
	event_free(ev);
	free(wire);
	free(box);
	key_free(officer);
	key_free(mallory);
	key_free(office);
}

static void test_refs_needed(void **state)
{
	struct event_draft d;

	(void)state;
	draft_init(&d, KIND_REPLY, "gaobu");
	draft_str(&d, "text", "I saw him at the bridge");
	expect_fail(&d, WM_ECONTENT, "refs[0]");
	d.nrefs = 1;
	memcpy(d.refs[0], target, WM_ID_LEN);
	assert_int_equal(build(&d), 0);

	draft_init(&d, KIND_STATUS, "gaobu");
	draft_str(&d, "state", "referred");
	draft_str(&d, "referred_to", "Mediation centre");
	expect_fail(&d, WM_ECONTENT, "refs[0]");
	d.nrefs = 1;
	assert_int_equal(build(&d), 0);
	draft_str(&d, "state", "done");
	expect_fail(&d, WM_ECONTENT, "'state'");

	draft_init(&d, KIND_RETRACT, "gaobu");
	expect_fail(&d, WM_ECONTENT, "refs[0]");
	d.nrefs = 1;
	assert_int_equal(build(&d), 0);

	draft_init(&d, KIND_ACK, "gaobu");
	draft_str(&d, "what", "helping");
	expect_fail(&d, WM_ECONTENT, "refs[0]");
	d.nrefs = 1;
	assert_int_equal(build(&d), 0);
	draft_str(&d, "what", "ok");
	expect_fail(&d, WM_ECONTENT, "'what'");
}

static void cert(struct event_draft *d, struct cval *groups, size_t n)
{
	static uint8_t subject[WM_PUB_LEN];

	memset(subject, 0x42, sizeof(subject));
	draft_init(d, KIND_CERT, "network");
	draft_bin(d, "subject", subject, sizeof(subject));
	draft_str(d, "role", "officer");
	draft_str(d, "name", "Officer Wang");
	draft_array(d, "groups", groups, n);
	draft_uint(d, "not_before", 1700000000000ull);
	draft_uint(d, "not_after", 1731536000000ull);
}

static void test_cert_revoke(void **state)
{
	struct event_draft d;
	struct cval g[3];
	char name[WM_NAME_MAX + 2];
	uint8_t subject[WM_PUB_LEN] = { 0 };

	(void)state;
	g[0] = cval_str("gaobu");
	g[1] = cval_str("gaobu.xinhua-village");
	g[2] = cval_str("*");
	cert(&d, g, 2);
	assert_int_equal(build(&d), 0);
	cert(&d, g + 2, 1);
	assert_int_equal(build(&d), 0);
	cert(&d, g, 3);
	expect_fail(&d, WM_ECONTENT, "only entry");
	cert(&d, g, 0);
	expect_fail(&d, WM_ECONTENT, "'groups' has 0 items");
	g[1] = cval_str("Gaobu");
	cert(&d, g, 2);
	expect_fail(&d, WM_ECONTENT, "groups[1] 'Gaobu'");
	g[1] = cval_str("gaobu");
	cert(&d, g, 2);
	expect_fail(&d, WM_ECONTENT, "repeats");
	cert(&d, g, 1);
	d.group = "gaobu";
	expect_fail(&d, WM_ECONTENT, "belongs in group 'network'");
	cert(&d, g, 1);
	draft_uint(&d, "not_after", 1700000000000ull);
	expect_fail(&d, WM_ECONTENT, "not_before");
	cert(&d, g, 1);
	draft_str(&d, "role", "root");
	expect_fail(&d, WM_ECONTENT, "'role'");
	cert(&d, g, 1);
	draft_bin(&d, "subject", subject, 31);
	expect_fail(&d, WM_ECONTENT, "public key");
	memset(name, 'n', sizeof(name));
	name[WM_NAME_MAX] = '\0';
	cert(&d, g, 1);
	draft_str(&d, "name", name);
	assert_int_equal(build(&d), 0);
	name[WM_NAME_MAX] = 'n';
	name[WM_NAME_MAX + 1] = '\0';
	draft_str(&d, "name", name);
	expect_fail(&d, WM_ECONTENT, "'name' is 128 bytes");

	memset(subject, 0x42, sizeof(subject));
	draft_init(&d, KIND_REVOKE, "network");
	expect_fail(&d, WM_ECONTENT, "'subject' is missing");
	draft_bin(&d, "subject", subject, sizeof(subject));
	expect_fail(&d, WM_ECONTENT, "'keep' is missing");
	draft_array(&d, "keep", NULL, 0);
	assert_int_equal(build(&d), 0);
	d.group = "gaobu";
	expect_fail(&d, WM_ECONTENT, "network");
}

/* Issue 8, item 4: what a terminal acts on instead of showing is refused in
 * every string a person reads, with the character and its place. */
static void test_controls(void **state)
{
	static const struct { const char *kind_key, *text, *needle; } bad[] = {
		{ "text", "ok\x1b]0;pwned\x07", "an escape (U+001B) at byte 2: a terminal would act on it" },
		{ "text", "\x1b[2J\x1b[H", "U+001B" },
		{ "text", "\x1b]52;c;ZWNobyBwd25lZA==\x07", "U+001B" },
		{ "text", "real line\rfake line", "a carriage return (U+000D) at byte 9" },
		{ "text", "bell\x07", "a control character (U+0007)" },
		{ "text", "\xc2\x9b" "2J", "a C1 control character (U+009B) at byte 0" },
		{ "text", "abc\xe2\x80\xae", "a bidi embedding or override (U+202E) at byte 3: it would reorder" },
		{ "text", "\xe2\x81\xa6x\xe2\x81\xa9", "a bidi isolate (U+2066)" },
		{ "title", "del\x7f", "a control character (U+007F)" },
		{ "title", "a\tb", "a tab (U+0009) at byte 1: it must be one line" },
		{ "title", "\xc2\x85", "U+0085" },
	};
	struct event_draft d;
	struct cval items[2];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bulletin(&d);
		draft_str(&d, bad[i].kind_key, bad[i].text);
		expect_fail(&d, WM_ECONTENT, bad[i].needle);
	}
	/* tab and newline in text; a zero-width joiner (a family emoji); CJK */
	bulletin(&d);
	draft_str(&d, "text", "a\tb\nc \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 \xe8\xad\xa6");
	assert_int_equal(build(&d), 0);

	/* every kind's strings: a reply, a cert's name, a status note */
	draft_init(&d, KIND_REPLY, "gaobu");
	d.nrefs = 1;
	draft_str(&d, "text", "\xe2\x98\x85 \xc2\x9b" "2J bulletin");
	expect_fail(&d, WM_ECONTENT, "content key 'text' holds a C1 control character (U+009B)");
	cert(&d, items, 0);
	items[0] = cval_str("gaobu");
	draft_array(&d, "groups", items, 1);
	draft_str(&d, "name", "Wang\x1b[8m");
	expect_fail(&d, WM_ECONTENT, "content key 'name' holds an escape");
	draft_init(&d, KIND_STATUS, "gaobu");
	d.nrefs = 1;
	draft_str(&d, "state", "resolved");
	draft_str(&d, "note", "done\r");
	expect_fail(&d, WM_ECONTENT, "content key 'note' holds a carriage return");

	/* unknown keys too, alone or in an array; they may hold newlines */
	bulletin(&d);
	draft_str(&d, "x_later", "one\ntwo");
	assert_int_equal(build(&d), 0);
	draft_str(&d, "x_later", "\x1b" "c");
	expect_fail(&d, WM_ECONTENT, "content key 'x_later' holds an escape");
	bulletin(&d);
	items[0] = cval_str("fine");
	items[1] = cval_str("\xe2\x80\xaa");
	draft_array(&d, "x_list", items, 2);
	expect_fail(&d, WM_ECONTENT, "content key 'x_list' holds a bidi embedding or override (U+202A)");

	/* an enumeration's refusal quotes the value without passing on its C1 */
	bulletin(&d);
	draft_str(&d, "category", "\xc2\x9b" "2J");
	expect_fail(&d, WM_ECONTENT, "'category' is '\\u009b2J'");
	assert_null(strstr(why, "\xc2\x9b"));
}

/* The opened text of a sealed request, which content_check cannot see. */
static void test_sealed_text(void **state)
{
	static const char fake[] = "help\x1b[2J\x1b[H\xe2\x98\x85 Officer \xc2\xb7 bulletin";
	char big[WM_TEXT_MAX + 1];

	(void)state;
	assert_int_equal(content_check_sealed_text((const uint8_t *)"line\nline\ttab", 13, why), 0);
	assert_int_equal(content_check_sealed_text((const uint8_t *)fake, strlen(fake), why), WM_ECONTENT);
	assert_non_null(strstr(why, "holds an escape (U+001B) at byte 4"));
	assert_int_equal(content_check_sealed_text((const uint8_t *)"a\rb", 3, why), WM_ECONTENT);
	assert_non_null(strstr(why, "carriage return"));
	assert_int_equal(content_check_sealed_text((const uint8_t *)"\xc2", 1, why), WM_ECONTENT);
	assert_non_null(strstr(why, "not UTF-8"));
	assert_int_equal(content_check_sealed_text((const uint8_t *)"", 0, why), WM_ECONTENT);
	memset(big, 'x', sizeof(big));
	assert_int_equal(content_check_sealed_text((const uint8_t *)big, WM_TEXT_MAX, why), 0);
	assert_int_equal(content_check_sealed_text((const uint8_t *)big, WM_TEXT_MAX + 1, why), WM_ECONTENT);
	assert_non_null(strstr(why, "16001 bytes"));
}

static void test_enums(void **state)
{
	const char *const *v;

	(void)state;
	v = content_enum(KIND_BULLETIN, "category");
	assert_non_null(v);
	assert_string_equal(v[0], "fraud");
	v = content_enum(KIND_ALERT, "severity");
	assert_non_null(v);
	assert_string_equal(v[0], "Extreme");
	assert_null(content_enum(KIND_BULLETIN, "title"));
	assert_null(content_enum(0, "category"));
	assert_null(content_enum(KIND_CERT, NULL));
	assert_non_null(content_enum(KIND_CERT, "role"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bulletin),
		cmocka_unit_test(test_alert),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_sealed_open),
		cmocka_unit_test(test_refs_needed),
		cmocka_unit_test(test_cert_revoke),
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_sealed_text),
		cmocka_unit_test(test_enums),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
