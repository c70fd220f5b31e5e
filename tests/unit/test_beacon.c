/*
 * Unit tests of the LAN beacon codec (node/net/beacon.c) and the network-secret
 * box under it (crypto/wmcrypto.c, wmc_box_*): a beacon opens only for the
 * same network, and every kind of damage, replay-by-clock or forged key is
 * refused with its own code.  Then the receiver on a real UDP socket on
 * 127.0.0.1, attacked as issue 8 item 10 did: a recorded beacon sent again
 * (from another address, and after the receiver restarts) and a junk flood
 * from one address while a member beacons from another.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "beacon.h"
#include "clock.h"

static const uint64_t T0 = 1764400000000ull;
static const uint32_t ADDRS[] = { 0xc0000202u, 0x7f000001u };   /* 192.0.2.2, 127.0.0.1 */
#define NADDRS (sizeof ADDRS / sizeof ADDRS[0])

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
	assert_int_equal(beacon_encode(k, net.name, net.secret, 7700, ADDRS, NADDRS, T0, pkt, &len), 0);
	assert_true(len <= BEACON_MAX);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0 + 1000, &bi, why), 0);
	assert_memory_equal(bi.pub, k->pub, WM_PUB_LEN);
	assert_int_equal(bi.port, 7700);
	assert_int_equal(bi.ts, T0);
	assert_int_equal(bi.naddrs, NADDRS);
	assert_memory_equal(bi.addrs, ADDRS, sizeof ADDRS);
	/* the network name does not appear in clear */
	for (size_t i = 0; i + 5 <= len; i++)
		assert_true(memcmp(pkt + i, "gaobu", 5) != 0);
	/* a public-only key cannot make one */
	{
		struct key *pubonly = NULL;
		assert_int_equal(key_from_pub(k->pub, &pubonly), 0);
		assert_int_equal(beacon_encode(pubonly, net.name, net.secret, 7700, ADDRS, NADDRS, T0, pkt, &len), WM_EINVAL);
		key_free(pubonly);
	}
	/* one address at least, BEACON_ADDRS_MAX at most */
	{
		uint32_t many[BEACON_ADDRS_MAX + 1] = { 0 };
		assert_int_equal(beacon_encode(k, net.name, net.secret, 7700, ADDRS, 0, T0, pkt, &len), WM_EINVAL);
		assert_int_equal(beacon_encode(k, net.name, net.secret, 7700, many, BEACON_ADDRS_MAX + 1, T0,
		                               pkt, &len), WM_EINVAL);
		assert_int_equal(beacon_encode(k, net.name, net.secret, 7700, many, BEACON_ADDRS_MAX, T0,
		                               pkt, &len), 0);
		assert_true(len <= BEACON_MAX);
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
	assert_int_equal(beacon_encode(k, net.name, net.secret, 7700, ADDRS, NADDRS, T0, pkt, &len), 0);

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
	assert_int_equal(beacon_encode(k, net.name, net.secret, 7700, ADDRS, NADDRS, T0, pkt, &len), 0);
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

	/* another address than signed */
	plain[5 + nl + WM_PUB_LEN + 2 + 8 + 1 + 3] ^= 1;
	assert_int_equal(wmc_box_seal(net.secret, BEACON_CONTEXT, plain, pl, pkt, sizeof pkt, &len), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), WM_ESIG);
	plain[5 + nl + WM_PUB_LEN + 2 + 8 + 1 + 3] ^= 1;

	/* no address, more addresses than there are bytes */
	plain[5 + nl + WM_PUB_LEN + 2 + 8] = 0;
	assert_int_equal(wmc_box_seal(net.secret, BEACON_CONTEXT, plain, pl, pkt, sizeof pkt, &len), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), WM_EMALFORMED);
	plain[5 + nl + WM_PUB_LEN + 2 + 8] = NADDRS + 1;
	assert_int_equal(wmc_box_seal(net.secret, BEACON_CONTEXT, plain, pl, pkt, sizeof pkt, &len), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), WM_EMALFORMED);
	plain[5 + nl + WM_PUB_LEN + 2 + 8] = NADDRS;

	/* unknown version (1, before beacons named their addresses), wrong length, port 0 */
	plain[3] = 1;
	assert_int_equal(wmc_box_seal(net.secret, BEACON_CONTEXT, plain, pl, pkt, sizeof pkt, &len), 0);
	assert_int_equal(beacon_decode(net.name, net.secret, pkt, len, T0, &bi, why), WM_EMALFORMED);
	plain[3] = 2;
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

/* The subnet rule: only a source on one of our subnets can make us dial. */
static void test_on_link(void **state)
{
	const struct beacon_net nets[] = {
		{ 0x7f000001u, 0xff000000u },        /* 127.0.0.1/8 */
		{ 0xc0000202u, 0xffffff00u },        /* 192.0.2.2/24 */
		{ 0x0a000005u, 0xffffffffu },        /* 10.0.0.5/32, point to point */
	};
	(void)state;

	assert_true(beacon_on_link(0xc0000277u, nets, 3));     /* 192.0.2.119 */
	assert_true(beacon_on_link(0x7f000002u, nets, 3));
	assert_true(beacon_on_link(0x0a000005u, nets, 3));
	assert_false(beacon_on_link(0xc0000302u, nets, 3));    /* 192.0.3.2 */
	assert_false(beacon_on_link(0x0a000006u, nets, 3));
	assert_false(beacon_on_link(0x08080808u, nets, 3));
	assert_false(beacon_on_link(0xc0000277u, nets, 0));
	assert_false(beacon_on_link(0xc0000277u, NULL, 3));
}

/* --- the receiver on a real socket ---------------------------------------------- */

struct heard {
	int n;                       /* members reported */
	char addr[96];               /* the last one's address */
};

static void heard_member(void *ctx, const uint8_t pub[WM_PUB_LEN], const char *addr)
{
	struct heard *h = ctx;
	(void)pub;
	h->n++;
	snprintf(h->addr, sizeof h->addr, "%s", addr);
}

static void pump_stop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Run the loop for ms (the beacon's own timer keeps it busy). */
static void pump(uv_loop_t *loop, uint64_t ms)
{
	uv_timer_t t;
	uv_timer_init(loop, &t);
	uv_timer_start(&t, pump_stop, ms, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static uint16_t free_udp_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* A socket sending from the loopback address ip (host order), as any
 * program on the host can: every 127.x.y.z is ours. */
static int sender(uint32_t ip)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(ip);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

static void send_to(int fd, uint16_t port, const uint8_t *buf, size_t len)
{
	struct sockaddr_in to;

	memset(&to, 0, sizeof to);
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(port);
	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
}

static struct beacon *listen_on(uv_loop_t *loop, const struct key *self, const struct net *net,
                                uint16_t port, struct heard *h)
{
	struct beacon_callbacks cb = { .ctx = h, .on_member = heard_member };
	struct beacon *b = NULL;
	char why[WM_WHY_LEN] = "";

	assert_int_equal(beacon_new(loop, self, net->name, net->secret, port, 7000, 60000, &cb, &b, why), 0);
	return b;
}

static void test_wire(void **state)
{
	const uint32_t LO1 = 0x7f000001u, LO2 = 0x7f000002u;
	struct net net;
	struct key *self = seeded(1), *m1 = seeded(9), *m2 = seeded(10), *m3 = seeded(11);
	struct heard h = { 0 };
	struct beacon *b;
	uv_loop_t loop;
	uint8_t recorded[BEACON_MAX], pkt[BEACON_MAX], junk[300];
	size_t rlen = 0, len = 0, i;
	uint16_t port = free_udp_port();
	int fd1 = sender(LO1), fd2 = sender(LO2);
	(void)state;

	make_net(&net, "gaobu-district", 0x42);
	assert_int_equal(uv_loop_init(&loop), 0);
	b = listen_on(&loop, self, &net, port, &h);
	pump(&loop, 5);

	/* a member beaconing from 127.0.0.1, which its beacon names: dialed there */
	assert_int_equal(beacon_encode(m1, net.name, net.secret, 7701, &LO1, 1, wm_now_ms(), recorded,
	                               &rlen), 0);
	send_to(fd1, port, recorded, rlen);
	pump(&loop, 50);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.addr, "127.0.0.1:7701");

	/* the recording sent again, from its address and from another one */
	send_to(fd1, port, recorded, rlen);
	send_to(fd2, port, recorded, rlen);
	pump(&loop, 50);
	assert_int_equal(h.n, 1);

	/* a fresh beacon of a key never heard, from an address it does not name */
	assert_int_equal(beacon_encode(m2, net.name, net.secret, 7702, &LO1, 1, wm_now_ms(), pkt, &len), 0);
	send_to(fd2, port, pkt, len);
	pump(&loop, 50);
	assert_int_equal(h.n, 1);

	/* the receiver restarts: the recording, from the address it names, is
	 * still not acted on; the member's next beacon is */
	beacon_free(b);
	pump(&loop, 5);
	b = listen_on(&loop, self, &net, port, &h);
	pump(&loop, 5);
	send_to(fd1, port, recorded, rlen);
	pump(&loop, 50);
	assert_int_equal(h.n, 1);
	assert_int_equal(beacon_encode(m1, net.name, net.secret, 7701, &LO1, 1, wm_now_ms(), pkt, &len), 0);
	send_to(fd1, port, pkt, len);
	pump(&loop, 50);
	assert_int_equal(h.n, 2);

	/* 200 junk packets from 127.0.0.2, then a member from 127.0.0.1: found
	 * (in batches the socket's buffer holds; the rate limits refill by a
	 * fraction of a packet meanwhile) */
	for (i = 0; i < 200; i++) {
		wmc_random(junk, sizeof junk);
		send_to(fd2, port, junk, 60 + i % 200);
		if (i % 40 == 39)
			pump(&loop, 1);
	}
	assert_int_equal(beacon_encode(m3, net.name, net.secret, 7703, &LO1, 1, wm_now_ms(), pkt, &len), 0);
	send_to(fd1, port, pkt, len);
	pump(&loop, 50);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.addr, "127.0.0.1:7703");

	beacon_free(b);
	pump(&loop, 5);
	assert_int_equal(uv_loop_close(&loop), 0);
	close(fd1);
	close(fd2);
	key_free(self);
	key_free(m1);
	key_free(m2);
	key_free(m3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_box),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_inside),
		cmocka_unit_test(test_on_link),
		cmocka_unit_test(test_wire),
	};
	if (wmc_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
