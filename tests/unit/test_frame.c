/*
 * Unit tests of proto/frame: every message type round-trips; the decoder
 * refuses, with a reason, every shape outside the rules (counts, flags, id
 * lists, group lists, sizes, non-canonical forms, trailing bytes, every
 * truncation); the two openings for later versions (unknown types, extra
 * HELLO items) are accepted only in canonical form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "frame.h"

static uint8_t ids3[3 * 32];
static const uint8_t kinds3[3] = { 1, 2, 9 };

static void enc(const struct frame *f, uint8_t **b, size_t *n)
{
	char why[WM_WHY_LEN];

	if (frame_encode(f, b, n, why) != 0)
		fail_msg("frame_encode: %s", why);
}

/* Decode must succeed; every proper prefix must fail with a reason. */
static void dec_ok(const uint8_t *b, size_t n, struct frame *f)
{
	char why[WM_WHY_LEN];
	struct frame g;
	size_t k;

	if (frame_decode(b, n, f, why) != 0)
		fail_msg("frame_decode: %s", why);
	for (k = 0; k < n; k++) {
		why[0] = '\0';
		assert_int_not_equal(frame_decode(b, k, &g, why), 0);
		assert_true(strlen(why) > 0);
	}
}

static int dec_fail(const uint8_t *b, size_t n, const char *needle)
{
	char why[WM_WHY_LEN];
	struct frame f;
	int rc;

	memset(&f, 0x5a, sizeof(f));
	why[0] = '\0';
	rc = frame_decode(b, n, &f, why);
	assert_int_not_equal(rc, 0);
	assert_true(strlen(why) > 0);
	if (needle != NULL && strstr(why, needle) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", why, needle);
	assert_int_equal(f.type, 0x5a5a5a5a);   /* untouched on failure */
	return rc;
}

static void test_hello(void **state)
{
	struct frame f, g;
	uint8_t *b;
	size_t n;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.type = FRAME_HELLO;
	f.hello.version = FRAME_VERSION;
	f.hello.name = frame_str_c("新华村 node");
	assert_int_equal(frame_groups_parse("network,gaobu.xinhua-village,a_b", &f.hello.groups), 0);
	f.hello.software = frame_str_c("watchmesh 0.1.0");
	f.hello.repair_ms = 60000;
	enc(&f, &b, &n);
	dec_ok(b, n, &g);
	assert_int_equal(g.type, FRAME_HELLO);
	assert_int_equal(g.hello.version, 1);
	assert_int_equal(g.hello.name.len, strlen("新华村 node"));
	assert_memory_equal(g.hello.name.p, "新华村 node", g.hello.name.len);
	assert_int_equal(g.hello.groups.n, 3);
	assert_false(g.hello.groups.all);
	assert_true(frame_groups_has(&g.hello.groups, "gaobu.xinhua-village", 20));
	assert_false(frame_groups_has(&g.hello.groups, "gaobu", 5));
	assert_int_equal(g.hello.repair_ms, 60000);
	assert_int_equal(g.hello.software.len, 15);
	free(b);

	/* "*" means all groups */
	assert_int_equal(frame_groups_parse("*", &f.hello.groups), 0);
	enc(&f, &b, &n);
	dec_ok(b, n, &g);
	assert_true(g.hello.groups.all);
	assert_true(frame_groups_has(&g.hello.groups, "anything", 8));
	free(b);
}

static void test_hello_rules(void **state)
{
	struct frame_groups g;
	struct frame f;
	uint8_t *b;
	size_t n;

	(void)state;
	assert_int_equal(frame_groups_parse("a,*", &g), WM_EINVAL);
	assert_int_equal(frame_groups_parse("a,a", &g), WM_EINVAL);
	assert_int_equal(frame_groups_parse("A", &g), WM_EINVAL);
	assert_int_equal(frame_groups_parse("", &g), WM_EINVAL);
	assert_int_equal(frame_groups_parse("a,,b", &g), WM_EINVAL);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_HELLO;
	f.hello.version = 1;
	f.hello.name = frame_str_c("bad\nname");
	assert_int_equal(frame_groups_parse("*", &f.hello.groups), 0);
	assert_int_equal(frame_encode(&f, &b, &n, NULL), WM_EINVAL);
	f.hello.name = frame_str_c("");
	assert_int_equal(frame_encode(&f, &b, &n, NULL), WM_EINVAL);

	/* hand-made: [1, 1, "n", ["a","a"], "", 0] */
	{
		static const uint8_t dup[] = { 0x96, 0x01, 0x01, 0xa1, 'n', 0x92, 0xa1, 'a', 0xa1, 'a',
		                               0xa0, 0x00 };
		static const uint8_t star[] = { 0x96, 0x01, 0x01, 0xa1, 'n', 0x92, 0xa1, '*', 0xa1, 'a',
		                                0xa0, 0x00 };
		static const uint8_t ctl[] = { 0x96, 0x01, 0x01, 0xa1, 0x07, 0x91, 0xa1, 'a', 0xa0, 0x00 };
		/* a C1 CSI (U+009B) and a bidi override (U+202E) in the name:
		 * `watchmesh status` would hand them to a terminal */
		static const uint8_t c1[] = { 0x96, 0x01, 0x01, 0xa3, 'n', 0xc2, 0x9b, 0x91, 0xa1, 'a',
		                              0xa0, 0x00 };
		static const uint8_t bidi[] = { 0x96, 0x01, 0x01, 0xa4, 'n', 0xe2, 0x80, 0xae, 0x91, 0xa1,
		                                'a', 0xa0, 0x00 };
		static const uint8_t v0[] = { 0x96, 0x01, 0x00, 0xa1, 'n', 0x91, 0xa1, 'a', 0xa0, 0x00 };
		static const uint8_t few[] = { 0x95, 0x01, 0x01, 0xa1, 'n', 0x91, 0xa1, 'a', 0xa0 };
		/* two extra items, canonical: accepted and ignored */
		static const uint8_t ext[] = { 0x98, 0x01, 0x02, 0xa1, 'n', 0x91, 0xa1, 'a', 0xa0, 0x00,
		                               0x81, 0xa1, 'k', 0x05, 0x92, 0x01, 0xc4, 0x01, 0xff };
		/* an extra item with a non-shortest integer: refused */
		static const uint8_t extbad[] = { 0x97, 0x01, 0x02, 0xa1, 'n', 0x91, 0xa1, 'a', 0xa0, 0x00,
		                                  0xcc, 0x05 };
		struct frame h;

		dec_fail(dup, sizeof(dup), "twice");
		dec_fail(star, sizeof(star), "alone");
		dec_fail(ctl, sizeof(ctl), "control");
		dec_fail(c1, sizeof(c1), "control");
		dec_fail(bidi, sizeof(bidi), "control");
		dec_fail(v0, sizeof(v0), "version");
		dec_fail(few, sizeof(few), "items");
		dec_ok(ext, sizeof(ext), &h);
		assert_int_equal(h.hello.version, 2);
		dec_fail(extbad, sizeof(extbad), NULL);
	}
}

static void test_event_frame(void **state)
{
	static const uint8_t wire[] = { 0x92, 0xc4, 0x01, 0x00, 0xc4, 0x01, 0x00 };
	struct frame f, g;
	uint8_t *b;
	size_t n;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.type = FRAME_EVENT;
	f.event.push = 1;
	f.event.wire = wire;
	f.event.len = sizeof(wire);
	enc(&f, &b, &n);
	dec_ok(b, n, &g);
	assert_int_equal(g.type, FRAME_EVENT);
	assert_int_equal(g.event.push, 1);
	assert_int_equal(g.event.len, sizeof(wire));
	assert_memory_equal(g.event.wire, wire, sizeof(wire));
	b[2] = 0x02;                    /* push = 2 */
	dec_fail(b, n, "0 or 1");
	free(b);
	{
		static const uint8_t empty[] = { 0x93, 0x02, 0x00, 0xc4, 0x00 };
		static const uint8_t str[] = { 0x93, 0x02, 0x00, 0xa1, 'x' };
		static const uint8_t trail[] = { 0x93, 0x02, 0x00, 0xc4, 0x01, 0x00, 0x00 };
		static const uint8_t longhdr[] = { 0x93, 0x02, 0x00, 0xc5, 0x00, 0x01, 0x00 };

		dec_fail(empty, sizeof(empty), "event is 0 bytes");
		assert_int_equal(dec_fail(str, sizeof(str), NULL), WM_EMALFORMED);
		dec_fail(trail, sizeof(trail), "trailing");
		assert_int_equal(dec_fail(longhdr, sizeof(longhdr), NULL), WM_ECANONICAL);
	}
	f.event.push = 2;
	assert_int_equal(frame_encode(&f, &b, &n, NULL), WM_EINVAL);
}

static void test_ids(void **state)
{
	uint8_t many[(FRAME_MAX_IDS + 1) * 32], mk[FRAME_MAX_IDS + 1];
	struct frame f, g;
	uint8_t *b;
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(ids3); i++)
		ids3[i] = (uint8_t)(i * 7);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_IHAVE;
	f.ids.flag = 1;
	f.ids.n = 3;
	f.ids.ids = ids3;
	f.ids.kinds = kinds3;
	enc(&f, &b, &n);
	dec_ok(b, n, &g);
	assert_int_equal(g.type, FRAME_IHAVE);
	assert_int_equal(g.ids.flag, 1);
	assert_int_equal(g.ids.n, 3);
	assert_memory_equal(g.ids.ids, ids3, sizeof(ids3));
	assert_memory_equal(g.ids.kinds, kinds3, 3);
	free(b);

	f.type = FRAME_IWANT;
	enc(&f, &b, &n);
	dec_ok(b, n, &g);
	assert_int_equal(g.type, FRAME_IWANT);
	assert_int_equal(g.ids.flag, 1);
	assert_int_equal(g.ids.n, 3);
	free(b);

	f.type = FRAME_NOTHAVE;
	f.ids.flag = 0;
	enc(&f, &b, &n);
	dec_ok(b, n, &g);
	assert_int_equal(g.type, FRAME_NOTHAVE);
	assert_memory_equal(g.ids.ids, ids3, sizeof(ids3));
	free(b);

	/* the bounds: 1024 ids pass, 1025 do not, in either direction */
	memset(many, 1, sizeof(many));
	memset(mk, 3, sizeof(mk));
	f.type = FRAME_IHAVE;
	f.ids.ids = many;
	f.ids.kinds = mk;
	f.ids.n = FRAME_MAX_IDS;
	enc(&f, &b, &n);
	assert_int_equal(frame_decode(b, n, &g, NULL), 0);
	assert_int_equal(g.ids.n, FRAME_MAX_IDS);
	free(b);
	f.ids.n = FRAME_MAX_IDS + 1;
	assert_int_equal(frame_encode(&f, &b, &n, NULL), WM_EINVAL);
	f.ids.n = 0;
	assert_int_equal(frame_encode(&f, &b, &n, NULL), WM_EINVAL);
	{
		/* [4, 0, bin 31]: not a whole id; [3, 0, bin 32, bin 2]: kinds count wrong;
		 * [3, 0, bin 32, bin 1 = 0]: kind 0 */
		uint8_t odd[5 + 31] = { 0x93, 0x04, 0x00, 0xc4, 31 };
		uint8_t kc[3 + 2 + 32 + 4] = { 0x94, 0x03, 0x00, 0xc4, 32 };
		uint8_t k0[3 + 2 + 32 + 3] = { 0x94, 0x03, 0x00, 0xc4, 32 };

		dec_fail(odd, sizeof(odd), "32 times");
		kc[37] = 0xc4;
		kc[38] = 2;
		kc[39] = 1;
		kc[40] = 1;
		dec_fail(kc, sizeof(kc), "kinds");
		k0[37] = 0xc4;
		k0[38] = 1;
		k0[39] = 0;
		dec_fail(k0, sizeof(k0), "kind of id 0");
	}
}

static void test_neg(void **state)
{
	static const uint8_t msg[] = { 0x61, 0x00, 0x00 };
	struct frame f, g;
	uint8_t *b;
	size_t n;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.type = FRAME_NEG_OPEN;
	f.neg.session = 1u << 20;
	assert_int_equal(frame_groups_parse("network", &f.neg.scope), 0);
	f.neg.msg = msg;
	f.neg.len = sizeof(msg);
	enc(&f, &b, &n);
	dec_ok(b, n, &g);
	assert_int_equal(g.type, FRAME_NEG_OPEN);
	assert_int_equal(g.neg.session, 1u << 20);
	assert_int_equal(g.neg.scope.n, 1);
	assert_memory_equal(g.neg.scope.g[0].p, "network", 7);
	assert_memory_equal(g.neg.msg, msg, sizeof(msg));
	free(b);

	f.type = FRAME_NEG_MSG;
	enc(&f, &b, &n);
	dec_ok(b, n, &g);
	assert_int_equal(g.type, FRAME_NEG_MSG);
	assert_int_equal(g.neg.len, 3);
	free(b);

	f.type = FRAME_NEG_CLOSE;
	f.neg.reason = frame_str_c("busy");
	enc(&f, &b, &n);
	dec_ok(b, n, &g);
	assert_int_equal(g.type, FRAME_NEG_CLOSE);
	assert_int_equal(g.neg.reason.len, 4);
	free(b);

	f.type = FRAME_NEG_MSG;
	f.neg.len = 0;
	assert_int_equal(frame_encode(&f, &b, &n, NULL), WM_EINVAL);
	{
		static const uint8_t emptymsg[] = { 0x93, 0x07, 0x01, 0xc4, 0x00 };
		static const uint8_t noscope[] = { 0x94, 0x06, 0x01, 0x90, 0xc4, 0x01, 0x61 };

		dec_fail(emptymsg, sizeof(emptymsg), "negentropy message");
		dec_fail(noscope, sizeof(noscope), "scope");
	}
}

static void test_prune_unknown_limits(void **state)
{
	static const uint8_t prune[] = { 0x91, 0x05 };
	static const uint8_t prune_extra[] = { 0x92, 0x05, 0x00 };
	static const uint8_t future[] = { 0x92, 0x20, 0x81, 0xa1, 'a', 0x01 };
	static const uint8_t future_bad[] = { 0x92, 0x20, 0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x01 };
	static const uint8_t type0[] = { 0x91, 0x00 };
	static const uint8_t notarray[] = { 0x05 };
	static const uint8_t emptyarr[] = { 0x90 };
	static const uint8_t neg[] = { 0x91, 0xff };
	struct frame f;
	uint8_t *big;
	uint8_t *b;
	size_t n;

	(void)state;
	dec_ok(prune, sizeof(prune), &f);
	assert_int_equal(f.type, FRAME_PRUNE);
	dec_fail(prune_extra, sizeof(prune_extra), "items");
	dec_ok(future, sizeof(future), &f);
	assert_int_equal(f.type, FRAME_UNKNOWN);
	assert_int_equal(f.raw_type, 0x20);
	dec_fail(future_bad, sizeof(future_bad), NULL);          /* keys out of order */
	dec_fail(type0, sizeof(type0), "type 0");
	dec_fail(notarray, sizeof(notarray), NULL);
	dec_fail(emptyarr, sizeof(emptyarr), "empty");
	dec_fail(neg, sizeof(neg), NULL);
	dec_fail(prune, 0, "empty");
	big = calloc(1, FRAME_MAX + 1);
	assert_non_null(big);
	assert_int_equal(dec_fail(big, FRAME_MAX + 1, NULL), WM_ETOOBIG);
	free(big);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_PRUNE;
	enc(&f, &b, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(b, prune, 2);
	free(b);
	f.type = FRAME_UNKNOWN;
	assert_int_equal(frame_encode(&f, &b, &n, NULL), WM_EINVAL);
	assert_string_equal(frame_type_name(FRAME_NEG_CLOSE), "NEG_CLOSE");
	assert_string_equal(frame_type_name(77), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_rules),
		cmocka_unit_test(test_event_frame),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_neg),
		cmocka_unit_test(test_prune_unknown_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
