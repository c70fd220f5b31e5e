/*
 * Unit tests of the CLI's own modules (node/files, node/bundle,
 * node/render) that the command-line tests reach only indirectly: the
 * passphrase strength rule, the network and config parsers on broken
 * input, base64, and the bundle indexer's resync on every kind of damage,
 * byte by byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bundle.h"
#include "event.h"
#include "conf.h"
#include "heads.h"
#include "keyfile.h"
#include "netfile.h"
#include "render.h"
#include "wmcrypto.h"

/* --- passphrase strength ---------------------------------------------------- */

/* What a thief with a stolen key file tries first is refused, with a reason
 * naming which rule; sentences, in any script, pass. */
static void test_pass_strength(void **state)
{
	static const struct {
		const char *pass;
		const char *reason;     /* NULL: accepted */
	} cases[] = {
		{ "a", "too short: 1 characters" },
		{ "123456", "too short" },
		{ "horse12", "too short" },
		{ "汉字九个字也不够", "too short: 8 characters" },
		{ "13812345678", "digits only" },
		{ "20260312000", "digits only" },
		{ "aaaaaaaaaaaa", "one key repeated" },
		{ "abcdefghijk", "run of keys" },
		{ "Password123", "most common" },
		{ "QWERTYUIOP", "most common" },
		{ "woaini1314", "most common" },
		{ "correct horse battery staple", NULL },
		{ "十个汉字也可以的吧对", NULL },
		{ "station passphrase", NULL },
		{ "xinhua-2026!", NULL },
	};
	char why[WM_WHY_LEN];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		why[0] = 0;
		rc = files_pass_strength(cases[i].pass, strlen(cases[i].pass), why);
		if (cases[i].reason == NULL) {
			if (rc != 0)
				fail_msg("'%s' refused: %s", cases[i].pass, why);
		} else if (rc != WM_EINVAL || strstr(why, cases[i].reason) == NULL) {
			fail_msg("'%s': rc %d, why '%s', expected '%s'", cases[i].pass, rc, why,
			         cases[i].reason);
		}
	}
}

/* --- network file ----------------------------------------------------------- */

static const char net_ok[] =
	"watchmesh-network 1\n"
	"name gaobu-district\n"
	"id 03030303030303030303030303030303\n"
	"root 0101010101010101010101010101010101010101010101010101010101010101\n"
	"secret 0202020202020202020202020202020202020202020202020202020202020202\n";

static void test_network_roundtrip(void **state)
{
	struct network n, m;
	char why[WM_WHY_LEN], *text = NULL;
	size_t len = 0;
	(void)state;

	assert_int_equal(network_parse(net_ok, strlen(net_ok), &n, why), 0);
	assert_string_equal(n.name, "gaobu-district");
	assert_int_equal(n.id[15], 3);
	assert_int_equal(n.root[0], 1);
	assert_int_equal(n.secret[31], 2);
	assert_int_equal(network_encode(&n, &text, &len), 0);
	assert_memory_equal(text, net_ok, strlen(net_ok));
	assert_int_equal(network_parse(text, len, &m, why), 0);
	assert_memory_equal(&n, &m, sizeof n);
	free(text);
}

static void test_network_broken(void **state)
{
	char buf[512], why[WM_WHY_LEN];
	struct network n;
	size_t i, len = strlen(net_ok);
	(void)state;

	/* every truncation and every single-byte change is refused or parsed
	 * cleanly, never a crash; truncations lose a required line; the same
	 * with a vouched line */
	for (int v = 0; v < 2; v++) {
		char src[512];

		snprintf(src, sizeof src, "%s%s", net_ok, v ? "vouched gaobu.a,gaobu.b-c\n" : "");
		len = strlen(src);
		for (i = 0; i < len - 1; i++) {
			memcpy(buf, src, i);
			why[0] = 0;
			if (network_parse(buf, i, &n, why) != 0)
				assert_true(why[0] != 0);
		}
		for (i = 0; i < len; i++) {
			memcpy(buf, src, len);
			buf[i] = (char)(buf[i] ^ 0x5a);
			why[0] = 0;
			if (network_parse(buf, len, &n, why) != 0)
				assert_true(why[0] != 0);
			else
				assert_true(n.vouched[0] == 0 || network_vouched_ok(n.vouched));
		}
	}
	len = strlen(net_ok);
	assert_int_equal(network_parse("", 0, &n, why), WM_EFORMAT);
	assert_int_equal(network_parse("watchmesh-network 2\n", 20, &n, why), WM_EFORMAT);
	snprintf(buf, sizeof buf, "%s", net_ok);
	buf[strlen("watchmesh-network 1\nname gaobu-district\nid 03030303030303030303030303030303\nroot 01")] = 'x';
	assert_int_equal(network_parse(buf, len, &n, why), WM_EFORMAT);
	assert_non_null(strstr(why, "root"));
	/* a network file of the retired format 1, without an id: refused,
	 * saying to make a new network */
	snprintf(buf, sizeof buf, "watchmesh-network 1\nname old\n"
	         "root 0101010101010101010101010101010101010101010101010101010101010101\n"
	         "secret 0202020202020202020202020202020202020202020202020202020202020202\n");
	assert_int_equal(network_parse(buf, strlen(buf), &n, why), WM_EFORMAT);
	assert_non_null(strstr(why, "lacks an 'id' line"));
	assert_non_null(strstr(why, "network create"));
}

static void test_network_vouched(void **state)
{
	static const char *const good[] = { "gaobu.xinhua", "a,b.c,d-e", "*" };
	static const char *const bad[] = { "", "a,", ",a", "a,,b", "A", "network", "a,network", "a b", "*,a" };
	char buf[2048], why[WM_WHY_LEN], *text = NULL;
	struct network n, m;
	size_t i, len = 0;
	(void)state;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(buf, sizeof buf, "%svouched %s\n", net_ok, good[i]);
		assert_int_equal(network_parse(buf, strlen(buf), &n, why), 0);
		assert_string_equal(n.vouched, good[i]);
		assert_int_equal(network_encode(&n, &text, &len), 0);
		assert_memory_equal(text, buf, strlen(buf));
		assert_int_equal(network_parse(text, len, &m, why), 0);
		assert_memory_equal(&n, &m, sizeof n);
		free(text);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(buf, sizeof buf, "%svouched %s\n", net_ok, bad[i]);
		why[0] = 0;
		assert_int_equal(network_parse(buf, strlen(buf), &n, why), WM_EFORMAT);
		assert_non_null(strstr(why, "line 6"));
	}
	/* a line given twice, a NUL byte: refused, saying which line */
	snprintf(buf, sizeof buf, "%sname other\n", net_ok);
	assert_int_equal(network_parse(buf, strlen(buf), &n, why), WM_EFORMAT);
	assert_non_null(strstr(why, "line 6: a second 'name' line"));
	snprintf(buf, sizeof buf, "%svouched a\nvouched b\n", net_ok);
	assert_int_equal(network_parse(buf, strlen(buf), &n, why), WM_EFORMAT);
	assert_non_null(strstr(why, "line 7: a second 'vouched' line"));
	memcpy(buf, net_ok, strlen(net_ok));
	buf[strlen("watchmesh-network 1\nname gaobu")] = '\0';
	assert_int_equal(network_parse(buf, strlen(net_ok), &n, why), WM_EFORMAT);
	assert_non_null(strstr(why, "line 2: a NUL byte"));
	/* no vouched line: none */
	assert_int_equal(network_parse(net_ok, strlen(net_ok), &n, why), 0);
	assert_string_equal(n.vouched, "");
}

/* --- the signer's heads file ------------------------------------------------ */

static void test_heads(void **state)
{
	static const char ok[] =
		"watchmesh-heads 1\n"
		"gaobu.xinhua abababababababababababababababababababababababababababababababab\n"
		"network 0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f\n";
	static const char *const bad[] = {
		"",
		"watchmesh-heads 2\n",
		"watchmesh-heads 1\ng ab\n",
		"watchmesh-heads 1\nGaobu abababababababababababababababababababababababababababababababab\n",
		"watchmesh-heads 1\ng abababababababababababababababababababababababababababababababab\n"
		"g 0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f\n",
	};
	struct heads h;
	uint8_t id[WM_ID_LEN];
	char why[WM_WHY_LEN], *text = NULL;
	size_t len = 0;
	(void)state;

	memset(&h, 0, sizeof h);
	h.fd = -1;
	assert_int_equal(heads_parse(ok, strlen(ok), &h, why), 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(heads_prev(&h, "network", id), 1);
	assert_int_equal(id[0], 0x0f);
	assert_int_equal(heads_prev(&h, "gaobu", id), 0);
	assert_int_equal(heads_encode(&h, &text, &len), 0);
	assert_int_equal(len, strlen(ok));
	assert_memory_equal(text, ok, len);
	free(text);
	heads_close(&h);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&h, 0, sizeof h);
		h.fd = -1;
		why[0] = '\0';
		assert_int_equal(heads_parse(bad[i], strlen(bad[i]), &h, why), WM_EFORMAT);
		assert_true(why[0] != '\0');
		heads_close(&h);
	}
}

/* --- watchmesh.conf --------------------------------------------------------- */

static void test_conf(void **state)
{
	struct node_conf c, d;
	char *text = NULL, why[WM_WHY_LEN];
	const char *custom = "# c\n  name = 新华村 \npeers=a:1, b:2\nrepair_interval = 5\nbeacons = off\n\n";
	struct conf_peer peers[4];
	size_t np = 0;
	(void)state;

	conf_defaults(&c);
	strcpy(c.name, "xinhua");
	assert_int_equal(conf_encode(&c, &text), 0);
	assert_int_equal(conf_parse(text, strlen(text), &d, why), 0);
	assert_memory_equal(&c, &d, sizeof c);
	assert_non_null(strstr(text, "Default: 0.0.0.0:7700"));
	free(text);

	assert_int_equal(conf_parse(custom, strlen(custom), &d, why), 0);
	assert_string_equal(d.name, "新华村");
	assert_string_equal(d.peers, "a:1, b:2");
	assert_string_equal(d.groups, "*");
	assert_int_equal(d.repair_interval, 5);
	assert_int_equal(d.beacons, 0);
	assert_int_equal(d.eager_peers, 3);
	assert_int_equal(conf_parse("name\n", 5, &d, why), WM_EFORMAT);
	assert_non_null(strstr(why, "line 1"));
	/* unknown keys and bad values name their line */
	assert_int_equal(conf_parse("name = a\nfuture_key = 5\n", 24, &d, why), WM_EFORMAT);
	assert_non_null(strstr(why, "line 2"));
	assert_non_null(strstr(why, "future_key"));
	assert_int_equal(conf_parse("eager_peers = -1\n", 17, &d, why), WM_EFORMAT);
	assert_non_null(strstr(why, "eager_peers"));
	assert_int_equal(conf_parse("max_peers = 0\n", 14, &d, why), WM_EFORMAT);
	assert_int_equal(conf_parse("beacons = maybe\n", 16, &d, why), WM_EFORMAT);
	assert_int_equal(conf_parse("log_level = loud\n", 17, &d, why), WM_EFORMAT);
	assert_int_equal(conf_parse("keepalive = 99999999999999\n", 27, &d, why), WM_EFORMAT);
	/* a name HELLO could not carry is refused here, naming its line, not
	 * cut or left for the first peer to refuse */
	{
		char longname[128];
		snprintf(longname, sizeof longname, "# x\nname = %065d\n", 0);
		assert_int_equal(conf_parse(longname, strlen(longname), &d, why), WM_EFORMAT);
		assert_non_null(strstr(why, "line 2"));
		assert_non_null(strstr(why, "at most 64 bytes"));
		snprintf(longname, sizeof longname, "name = %064d\n", 0);
		assert_int_equal(conf_parse(longname, strlen(longname), &d, why), 0);
	}
	assert_int_equal(conf_parse("name = ab\xff" "cd\n", 11, &d, why), WM_EFORMAT);
	assert_non_null(strstr(why, "UTF-8"));
	assert_int_equal(conf_parse("name = \xe6\x96\xb0\xe5\x8d\x8e\n", 14, &d, why), 0);
	/* addresses: the shape at load, naming the line */
	assert_int_equal(conf_parse("listen = 7799\n", 14, &d, why), WM_EFORMAT);
	assert_non_null(strstr(why, "line 1"));
	assert_int_equal(conf_parse("http = off\nhttps = 0.0.0.0:8443\n", 32, &d, why), 0);
	assert_int_equal(conf_parse("http = localhost\n", 17, &d, why), WM_EFORMAT);

	assert_int_equal(conf_parse("# x\npeers = a:1, nohost\n", 24, &d, why), WM_EFORMAT);
	assert_non_null(strstr(why, "line 2"));
	assert_non_null(strstr(why, "nohost"));

	/* the peers list */
	assert_int_equal(conf_peers_parse("", peers, 4, &np, why), 0);
	assert_int_equal(np, 0);
	assert_int_equal(conf_peers_parse(" 10.0.0.1:7700 , [::1]:7701,b.lan:1@"
	                                  "0101010101010101010101010101010101010101010101010101010101010101",
	                                  peers, 4, &np, why), 0);
	assert_int_equal(np, 3);
	assert_string_equal(peers[0].addr, "10.0.0.1:7700");
	assert_int_equal(peers[0].has_pub, 0);
	assert_string_equal(peers[1].addr, "[::1]:7701");
	assert_string_equal(peers[2].addr, "b.lan:1");
	assert_int_equal(peers[2].has_pub, 1);
	assert_int_equal(peers[2].pub[31], 1);
	assert_int_equal(conf_peers_parse("a:1,b:2,c:3", peers, 2, &np, why), WM_ETOOBIG);
	assert_int_equal(conf_peers_parse("nohost", peers, 4, &np, why), WM_EFORMAT);
	assert_non_null(strstr(why, "nohost"));
	assert_int_equal(conf_peers_parse("a:0", peers, 4, &np, why), WM_EFORMAT);
	assert_int_equal(conf_peers_parse("a:70000", peers, 4, &np, why), WM_EFORMAT);
	assert_int_equal(conf_peers_parse(":5", peers, 4, &np, why), WM_EFORMAT);
	/* a key by name or prefix is left for the daemon to resolve */
	assert_int_equal(conf_peers_parse("a:5@12ab34, b:6@东风村节点", peers, 4, &np, why), 0);
	assert_int_equal(np, 2);
	assert_int_equal(peers[0].has_pub, 0);
	assert_string_equal(peers[0].ref, "12ab34");
	assert_string_equal(peers[1].ref, "东风村节点");
	assert_int_equal(conf_peers_parse("a:5@", peers, 4, &np, why), WM_EFORMAT);
	assert_int_equal(conf_parse("\npeers = a:1@x\n", 15, &d, why), 0);
	assert_int_equal(d.peers_line, 2);
	assert_int_equal(conf_peers_parse("a b:5", peers, 4, &np, why), WM_EFORMAT);
}

/* --- base64 ----------------------------------------------------------------- */

/* what `watchmesh status` prints of a peer's name or error: nothing a
 * terminal would act on, cut to the buffer */
static void test_render_escape(void **state)
{
	char out[64];

	(void)state;
	render_escape(out, sizeof out, "\x1b]0;owned\x07 \xc2\x9b" "2J \xe2\x80\xae \xe9\xab\x98\xe5\x9f\x94\r\n");
	assert_string_equal(out, "\\x1b]0;owned\\x07 \\u009b2J \\u202e \xe9\xab\x98\xe5\x9f\x94\\x0d\\x0a");
	render_escape(out, 8, "abcdefghij");
	assert_string_equal(out, "abcdefg");
	render_escape(out, sizeof out, "\xff");
	assert_string_equal(out, "\\xff");
}

/* Spans and times in words, for people: never "0m", never milliseconds. */
static void test_render_times(void **state)
{
	const uint64_t min = 60000, now = 1796284028094ull;
	char out[160], t[64];

	(void)state;
	render_span(out, sizeof out, 5000);
	assert_string_equal(out, "less than a minute");
	render_span(out, sizeof out, min);
	assert_string_equal(out, "1 minute");
	render_span(out, sizeof out, 75 * min);
	assert_string_equal(out, "1 hour 15 minutes");
	render_span(out, sizeof out, 5 * 60 * min + 59 * min);
	assert_string_equal(out, "5 hours");
	render_span(out, sizeof out, 3 * 24 * 60 * min);
	assert_string_equal(out, "3 days");
	render_time(t, sizeof t, now - 3 * 60 * min);
	render_when(out, sizeof out, now - 3 * 60 * min, now);
	assert_true(strncmp(out, t, strlen(t)) == 0);
	assert_string_equal(out + strlen(t), " (3 hours ago)");
	render_when(out, sizeof out, now + 2 * 24 * 60 * min, now);
	assert_non_null(strstr(out, " (in 2 days)"));
	assert_null(strstr(out, "1796"));
}

static void test_base64(void **state)
{
	static const char *const want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	size_t i;
	(void)state;
	for (i = 0; i < 7; i++) {
		char *s = NULL;
		assert_int_equal(render_base64((const uint8_t *)"foobar", i, &s), 0);
		assert_string_equal(s, want[i]);
		free(s);
	}
}

/* --- bundle indexing -------------------------------------------------------- */

#define NEV 6

struct bundle_fixture {
	uint8_t *buf;
	size_t len;
	size_t off[NEV + 1];
};

static void make_bundle(struct bundle_fixture *b)
{
	uint8_t seed[32];
	struct key *k = NULL;
	size_t i;
	char why[WM_WHY_LEN], text[64];

	memset(seed, 7, sizeof seed);
	assert_int_equal(key_from_seed(seed, &k), 0);
	b->buf = NULL;
	b->len = 0;
	for (i = 0; i < NEV; i++) {
		struct event_draft d;
		uint8_t *w = NULL, id[WM_ID_LEN];
		size_t wl = 0;
		memset(&d, 0, sizeof d);
		d.kind = KIND_REQUEST;
		memcpy(d.author, k->pub, WM_PUB_LEN);
		d.created_at = 1700000000000ull + i;
		d.group = "gaobu.xinhua";
		/* sizes vary so that some wrappers use bin16 */
		snprintf(text, sizeof text, "help %zu", i);
		draft_str(&d, "topic", "other");
		if (i % 2) {
			static char longtext[400];
			memset(longtext, 'a' + (int)i, sizeof longtext - 1);
			draft_str(&d, "text", longtext);
		} else {
			draft_str(&d, "text", text);
		}
		assert_int_equal(event_build(&d, k, &w, &wl, id, why), 0);
		b->buf = realloc(b->buf, b->len + wl);
		assert_non_null(b->buf);
		b->off[i] = b->len;
		memcpy(b->buf + b->len, w, wl);
		b->len += wl;
		free(w);
	}
	b->off[NEV] = b->len;
	key_free(k);
}

static size_t good_items(const struct bundle_index *ix)
{
	size_t i, n = 0;
	for (i = 0; i < ix->n; i++)
		n += !ix->items[i].bad;
	return n;
}

static void test_index_clean(void **state)
{
	struct bundle_fixture b;
	struct bundle_index ix;
	size_t i;
	(void)state;

	make_bundle(&b);
	assert_int_equal(bundle_index(b.buf, b.len, &ix), 0);
	assert_int_equal(ix.n, NEV);
	for (i = 0; i < NEV; i++) {
		assert_int_equal(ix.items[i].off, b.off[i]);
		assert_int_equal(ix.items[i].len, b.off[i + 1] - b.off[i]);
		assert_int_equal(ix.items[i].kind, KIND_REQUEST);
		assert_false(ix.items[i].bad);
	}
	bundle_index_free(&ix);
	assert_int_equal(bundle_index(NULL, 0, &ix), 0);
	assert_int_equal(ix.n, 0);
	bundle_index_free(&ix);
	free(b.buf);
}

/* Damage each byte of the wrapper headers of event 2 in turn: the other
 * five events are always found, and the damage is at most one bad item
 * plus (when only the signature suffers) the event itself. */
static void test_index_damaged_headers(void **state)
{
	struct bundle_fixture b;
	size_t k, flip;
	(void)state;

	make_bundle(&b);
	for (k = 0; k < 4; k++) {
		for (flip = 1; flip < 256; flip <<= 1) {
			struct bundle_index ix;
			uint8_t *copy = malloc(b.len);
			size_t i, found = 0, bad = 0;
			assert_non_null(copy);
			memcpy(copy, b.buf, b.len);
			copy[b.off[2] + k] ^= (uint8_t)flip;
			assert_int_equal(bundle_index(copy, b.len, &ix), 0);
			for (i = 0; i < ix.n; i++) {
				size_t e;
				if (ix.items[i].bad) {
					bad++;
					continue;
				}
				for (e = 0; e < NEV; e++)
					if (e != 2 && ix.items[i].off == b.off[e] &&
					    ix.items[i].len == b.off[e + 1] - b.off[e])
						found++;
			}
			assert_int_equal(found, NEV - 1);
			assert_true(bad <= 1);
			assert_true(ix.n <= NEV);
			bundle_index_free(&ix);
			free(copy);
		}
	}
	free(b.buf);
}

static void test_index_truncated_and_garbage(void **state)
{
	struct bundle_fixture b;
	struct bundle_index ix;
	uint8_t *g;
	size_t cut;
	(void)state;

	make_bundle(&b);
	/* every truncation: the whole events before the cut are found */
	for (cut = 0; cut < b.len; cut++) {
		size_t whole = 0;
		while (whole < NEV && b.off[whole + 1] <= cut)
			whole++;
		assert_int_equal(bundle_index(b.buf, cut, &ix), 0);
		assert_int_equal(good_items(&ix), whole);
		assert_true(ix.n <= whole + 1);
		if (ix.n > whole) {
			assert_non_null(strstr(ix.items[ix.n - 1].why, "ends in the middle"));
			assert_true(ix.items[ix.n - 1].cut);
		}
		bundle_index_free(&ix);
	}
	/* garbage in front and between */
	g = malloc(b.len + 200);
	assert_non_null(g);
	memset(g, 0x92, 100);
	memcpy(g + 100, b.buf, b.off[3]);
	memset(g + 100 + b.off[3], 0xc4, 100);
	memcpy(g + 200 + b.off[3], b.buf + b.off[3], b.len - b.off[3]);
	assert_int_equal(bundle_index(g, b.len + 200, &ix), 0);
	assert_int_equal(good_items(&ix), NEV);
	assert_int_equal(ix.n, NEV + 2);
	assert_true(ix.items[0].bad && ix.items[0].len == 100 && !ix.items[0].cut);
	assert_true(ix.items[4].bad && ix.items[4].len == 100 && !ix.items[4].cut);
	bundle_index_free(&ix);
	free(g);
	free(b.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_strength),
		cmocka_unit_test(test_network_roundtrip),
		cmocka_unit_test(test_network_broken),
		cmocka_unit_test(test_network_vouched),
		cmocka_unit_test(test_heads),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_render_escape),
		cmocka_unit_test(test_render_times),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_index_clean),
		cmocka_unit_test(test_index_damaged_headers),
		cmocka_unit_test(test_index_truncated_and_garbage),
	};
	if (wmc_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
