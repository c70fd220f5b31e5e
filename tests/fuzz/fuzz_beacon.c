/*
 * Fuzz target: beacon_decode (node/net/beacon.c), the LAN discovery
 * datagram a stranger on the subnet can send.  First byte even: the rest is
 * the packet as received (it must fail to open unless it is a beacon of
 * the network).  Odd: the rest is the plaintext, sealed here with the
 * network's secret as a member would, so the parser behind the box is
 * reached.  Invariants (abort on violation): every refusal has a reason; an
 * accepted beacon names 1..BEACON_ADDRS_MAX addresses and a port, is within
 * the skew of the clock, and (when signed by the corpus's key, seed 3...)
 * re-encodes to a packet that decodes to the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"
#include "wmcrypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1770000000000ull

static const uint8_t secret[WM_SECRET_LEN] = { 7 };
static struct key *signer;

static void reencode(const struct beacon_info *bi)
{
	uint8_t pkt[BEACON_MAX];
	struct beacon_info again;
	size_t len = 0;
	char why[WM_WHY_LEN];

	if (memcmp(bi->pub, signer->pub, WM_PUB_LEN) != 0)
		return;
	if (beacon_encode(signer, "village", secret, bi->port, bi->addrs, bi->naddrs, bi->ts, pkt, &len) != 0 ||
	    beacon_decode("village", secret, pkt, len, NOW_MS, &again, why) != 0 ||
	    again.port != bi->port || again.ts != bi->ts || again.naddrs != bi->naddrs ||
	    memcmp(again.addrs, bi->addrs, sizeof again.addrs) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t box[BEACON_MAX + WMC_BOX_OVERHEAD];
	const uint8_t *pkt = data + 1;
	size_t len = size - 1;
	struct beacon_info bi;
	char why[WM_WHY_LEN];
	int rc;

	if (size < 1)
		return 0;
	if (signer == NULL) {
		uint8_t seed[32];

		memset(seed, 3, sizeof seed);
		if (wmc_init() != 0 || key_from_seed(seed, &signer) != 0)
			abort();
	}
	if (data[0] & 1) {
		if (wmc_box_seal(secret, BEACON_CONTEXT, data + 1, size - 1, box, sizeof box, &len) != 0)
			return 0;   /* more than a packet can hold */
		pkt = box;
	}
	why[0] = '\0';
	rc = beacon_decode("village", secret, pkt, len, NOW_MS, &bi, why);
	if (rc != 0) {
		if (why[0] == '\0')
			abort();
		return 0;
	}
	if (bi.naddrs == 0 || bi.naddrs > BEACON_ADDRS_MAX || bi.port == 0 ||
	    bi.ts > NOW_MS + BEACON_SKEW_MS || bi.ts + BEACON_SKEW_MS < NOW_MS)
		abort();
	reencode(&bi);
	return 0;
}
