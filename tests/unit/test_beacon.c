/*
 * Unit tests of the LAN beacon codec (node/net/beacon.c) and the network-secret
 * box under it (crypto/wmcrypto.c, wmc_box_*): a beacon opens only for the
 * same network, and every kind of damage, replay-by-clock or forged key is
 * refused with its own code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "beacon.h"

static const uint64_t T0 = 1764400000000ull;

/* What a beacon knows of a network: its name and its secret. */
struct net {
	char name[BEACON_NAME_MAX + 1];
	uint8_t secret[WM_SECRET_LEN];
};

static void make_net(struct net *n, const char *name, uint8_t secret_byte)
{
	memset(n, 0, sizeof *n);
	snprintf(n->name, sizeof n->name, "%s", name);
	memset(n->secret, secret_byte, sizeof n->secret);
}

static struct key *seeded(uint8_t b)
{
	uint8_t seed[32];
	struct key *k = NULL;
	memset(seed, b, sizeof seed);
	assert_int_equal(key_from_seed(seed, &k), 0);
	return k;
}

static void test_box(void **state)
{
	uint8_t secret[WM_SECRET_LEN], other[WM_SECRET_LEN], box[128], out[128];
	const uint8_t msg[] = "hello, village";
	size_t bl = 0, ol = 0;
	(void)state;

	memset(secret, 1, sizeof secret);
	memset(other, 2, sizeof other);
	assert_int_equal(wmc_box_seal(secret, "ctx", msg, sizeof msg, box, sizeof box, &bl), 0);
	assert_int_equal(bl, sizeof msg + WMC_BOX_OVERHEAD);
	assert_int_equal(wmc_box_open(secret, "ctx", box, bl, out, sizeof out, &ol), 0);
	assert_int_equal(ol, sizeof msg);
	assert_memory_equal(out, msg, sizeof msg);
	/* another secret, another context, damage, truncation */
	assert_int_equal(wmc_box_open(other, "ctx", box, bl, out, sizeof out, &ol), WM_ECRYPTO);
	assert_int_equal(wmc_box_open(secret, "ctx2", box, bl, out, sizeof out, &ol), WM_ECRYPTO);
	box[30] ^= 4;
	assert_int_equal(wmc_box_open(secret, "ctx", box, bl, out, sizeof out, &ol), WM_ECRYPTO);
	box[30] ^= 4;
	assert_int_equal(wmc_box_open(secret, "ctx", box, bl - 1, out, sizeof out, &ol), WM_ECRYPTO);
	assert_int_equal(wmc_box_open(secret, "ctx", box, 10, out, sizeof out, &ol), WM_ECRYPTO);
	/* sizes */
	assert_int_equal(wmc_box_open(secret, "ctx", box, bl, out, 3, &ol), WM_EINVAL);
	assert_int_equal(wmc_box_seal(secret, "ctx", msg, sizeof msg, box, 20, &bl), WM_EINVAL);
	/* two seals of the same message differ (random nonce) */
	{
		uint8_t b2[128];
		size_t l2 = 0;
		assert_int_equal(wmc_box_seal(secret, "ctx", msg, sizeof msg, b2, sizeof b2, &l2), 0);
		assert_int_equal(wmc_box_seal(secret, "ctx", msg, sizeof msg, box, sizeof box, &bl), 0);
		assert_true(memcmp(b2, box, bl) != 0);
	}
}

static void test_round_trip(void **state)
{
	struct net net;
	struct key *k = seeded(9);
	struct beacon_info bi;
	uint8_t pkt[BEACON_MAX];
	size_t len = 0;
	char why[WM_WHY_LEN] = "";
	(void)state;

	make_net(&net, "gaobu-district", 0x42);
	assert_int_equal(beacon_encode(k, net.name, net.secret, 7700, T0, pkt, &len), 0);
	assert_true(len <= BEACON_MAX);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0 + 1000, &bi, why), 0);
	assert_memory_equal(bi.pub, k->pub, WM_PUB_LEN);
	assert_int_equal(bi.port, 7700);
	assert_int_equal(bi.ts, T0);
	/* the network name does not appear in clear */
	for (size_t i = 0; i + 5 <= len; i++)
		assert_true(memcmp(pkt + i, "gaobu", 5) != 0);
	/* a public-only key cannot make one */
	{
		struct key *pubonly = NULL;
		assert_int_equal(key_from_pub(k->pub, &pubonly), 0);
		assert_int_equal(beacon_encode(pubonly, net.name, net.secret, 7700, T0, pkt, &len), WM_EINVAL);
		key_free(pubonly);
	}
	key_free(k);
}

static void test_refusals(void **state)
{
	struct net net, other, renamed;
	struct key *k = seeded(9);
	struct beacon_info bi;
	uint8_t pkt[BEACON_MAX];
	size_t len = 0, i;
	char why[WM_WHY_LEN] = "";
	(void)state;

	make_net(&net, "gaobu-district", 0x42);
	make_net(&other, "gaobu-district", 0x43);
	make_net(&renamed, "other-district", 0x42);
	assert_int_equal(beacon_encode(k, net.name, net.secret, 7700, T0, pkt, &len), 0);

	assert_int_equal(beacon_decode(other.name, other.secret, pkt, len, T0, &bi, why), WM_ECRYPTO);
	assert_non_null(strstr(why, "not a beacon of this network"));
	assert_int_equal(beacon_decode(renamed.name, renamed.secret, pkt, len, T0, &bi, why), WM_EINVAL);
	assert_non_null(strstr(why, "another network"));
	/* clock skew both ways */
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0 + BEACON_SKEW_MS + 1, &bi, why), WM_EEXPIRED);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0 - BEACON_SKEW_MS - 1, &bi, why), WM_EEXPIRED);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0 + BEACON_SKEW_MS, &bi, why), 0);
	/* every single-byte change and every truncation fails */
	for (i = 0; i < len; i++) {
		pkt[i] ^= 0x20;
		assert_int_not_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), 0);
		pkt[i] ^= 0x20;
	}
	for (i = 0; i < len; i++)
		assert_int_not_equal(beacon_decode(net.name, net.secret, pkt, i, T0, &bi, why), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, BEACON_MAX + 1, T0, &bi, why), WM_ECRYPTO);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), 0);
	key_free(k);
}

/* A member of the network (it holds the secret) that puts another node's
 * key into its beacon, or garbles the inside: the signature and the layout
 * checks catch what the box cannot. */
static void test_inside(void **state)
{
	struct net net;
	struct key *k = seeded(9), *victim = seeded(10);
	struct beacon_info bi;
	uint8_t pkt[BEACON_MAX], plain[BEACON_MAX];
	size_t len = 0, pl = 0, nl;
	char why[WM_WHY_LEN] = "";
	(void)state;

	make_net(&net, "gaobu-district", 0x42);
	nl = strlen(net.name);
	assert_int_equal(beacon_encode(k, net.name, net.secret, 7700, T0, pkt, &len), 0);
	assert_int_equal(wmc_box_open(net.secret, BEACON_CONTEXT, pkt, len, plain, sizeof plain, &pl), 0);

	/* claim the victim's key */
	memcpy(plain + 5 + nl, victim->pub, WM_PUB_LEN);
	assert_int_equal(wmc_box_seal(net.secret, BEACON_CONTEXT, plain, pl, pkt, sizeof pkt, &len), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), WM_ESIG);
	memcpy(plain + 5 + nl, k->pub, WM_PUB_LEN);

	/* another port than signed */
	plain[5 + nl + WM_PUB_LEN + 1] ^= 1;
	assert_int_equal(wmc_box_seal(net.secret, BEACON_CONTEXT, plain, pl, pkt, sizeof pkt, &len), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), WM_ESIG);
	plain[5 + nl + WM_PUB_LEN + 1] ^= 1;

	/* unknown version, wrong length, port 0 */
	plain[3] = 2;
	assert_int_equal(wmc_box_seal(net.secret, BEACON_CONTEXT, plain, pl, pkt, sizeof pkt, &len), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), WM_EMALFORMED);
	plain[3] = 1;
	assert_int_equal(wmc_box_seal(net.secret, BEACON_CONTEXT, plain, pl - 1, pkt, sizeof pkt, &len), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), WM_EMALFORMED);
	plain[4] = 200;
	assert_int_equal(wmc_box_seal(net.secret, BEACON_CONTEXT, plain, pl, pkt, sizeof pkt, &len), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), WM_EMALFORMED);
	plain[4] = (uint8_t)nl;
	plain[5 + nl + WM_PUB_LEN] = 0;
	plain[5 + nl + WM_PUB_LEN + 1] = 0;
	assert_int_equal(wmc_box_seal(net.secret, BEACON_CONTEXT, plain, pl, pkt, sizeof pkt, &len), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), WM_EMALFORMED);
	key_free(k);
	key_free(victim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_box),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_inside),
	};
	if (wmc_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
