/*
 * Fuzz target: the mesh link's handshake messages and encrypted frames
 * (crypto/handshake.c) as a peer can send them.  An honest initiator and
 * responder run the handshake in memory; the input picks one of the four
 * messages and replaces it (first byte even) or XORs into it (odd) with its
 * next bytes.  If the handshake still completes, the rest of the input is a
 * run of frames from the initiator to the responder, each honest, changed
 * or made of raw bytes.  Invariants (abort on violation): every refusal has
 * a reason; a changed message or frame is never accepted; an honest frame
 * opens to what was sealed while the channel lives; nothing is accepted
 * after a refusal or a closing frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "wmcrypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1770000000000ull

static struct key *ki, *kr;
static const uint8_t netsec[WM_SECRET_LEN] = { 0x42 };

static void setup(void)
{
	uint8_t seed[32];

	if (ki != NULL)
		return;
	if (wmc_init() != 0)
		abort();
	memset(seed, 1, sizeof seed);
	if (key_from_seed(seed, &ki) != 0)
		abort();
	memset(seed, 2, sizeof seed);
	if (key_from_seed(seed, &kr) != 0)
		abort();
}

/* The frames: each starts with an op byte; 0 honest, 1 honest with one
 * byte flipped, 2 raw prefix and ciphertext, 3 an honest closing frame. */
static void frames(struct chan *tx, struct chan *rx, const uint8_t *p, size_t n)
{
	static uint8_t wire[CHAN_PREFIX_LEN + 300 + CHAN_ABYTES], plain[300];
	int dead = 0;

	while (n >= 2) {
		uint8_t op = p[0] & 3, len = p[1];
		const uint8_t *sent = p + 2;
		size_t wl = 0, ctlen = 0, pl = 0;
		int final = 0, rc, changed = 0;
		char why[WM_WHY_LEN];

		p += 2;
		n -= 2;
		if (len > n)
			len = (uint8_t)n;
		if (op == 2) {
			if (len < CHAN_PREFIX_LEN)
				return;
			memcpy(wire, p, len);
			wl = len;
			changed = 1;
		} else {
			if (chan_seal(tx, sent, len, op == 3, wire, sizeof wire, &wl) != 0)
				return;   /* after our own closing frame */
			if (op == 1 && len > 0) {
				wire[p[0] % wl] ^= 0x80 | p[0];
				changed = 1;
			}
		}
		p += len;
		n -= len;
		why[0] = '\0';
		rc = chan_frame_len(wire, &ctlen, why);
		if (rc != 0) {
			/* the transport closes the link on a length no frame may have */
			if (why[0] == '\0' || !changed)
				abort();
			return;
		}
		if (ctlen != wl - CHAN_PREFIX_LEN) {
			/* the transport would wait for more bytes; a frame sealed
			 * and never delivered puts the stream out of step */
			dead |= op != 2;
			continue;
		}
		rc = chan_open(rx, wire, wire + CHAN_PREFIX_LEN, ctlen, plain, &pl, &final, why);
		if (rc != 0) {
			if (why[0] == '\0' || (!changed && !dead))
				abort();
			dead = 1;
			continue;
		}
		if (dead || changed || final != (op == 3) || pl != len || memcmp(plain, sent, len) != 0)
			abort();
		if (final)
			dead = 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs *hi = NULL, *hr = NULL, *to;
	struct chan *ci = NULL, *cr = NULL;
	struct hs_params pi, pr;
	uint8_t msg[HS_MSG_MAX], out[HS_MSG_MAX], hdr_i[CHAN_HEADER_LEN], hdr_r[CHAN_HEADER_LEN];
	size_t len = 0, outlen, step, use;
	int which, xor, changed;
	char why[WM_WHY_LEN];

	if (size < 1)
		return 0;
	setup();
	which = data[0] >> 1 & 3;
	xor = data[0] & 1;
	data++;
	size--;
	memset(&pi, 0, sizeof pi);
	pi.self = ki;
	pi.netsec = netsec;
	pi.expected_pub = kr->pub;
	pi.now_ms = NOW_MS;
	pr = pi;
	pr.self = kr;
	pr.expected_pub = NULL;
	if (hs_new(1, &pi, &hi) != 0 || hs_new(0, &pr, &hr) != 0 || hs_start(hi, msg, &len) != 0)
		abort();
	for (step = 0; step < 4; step++) {
		to = step % 2 == 0 ? hr : hi;
		changed = 0;
		if ((int)step == which) {
			use = size < HS_MSG_MAX ? size : HS_MSG_MAX;
			if (xor) {
				use = use < len ? use : len;
				for (size_t i = 0; i < use; i++) {
					changed |= data[i] != 0;
					msg[i] ^= data[i];
				}
			} else {
				changed = use != len || memcmp(msg, data, use) != 0;
				memcpy(msg, data, use);
				len = use;
			}
			data += use;
			size -= use;
		}
		why[0] = '\0';
		outlen = 0;
		if (hs_recv(to, msg, len, out, &outlen, why) != 0) {
			if (why[0] == '\0' || !changed)
				abort();
			goto out;
		}
		if (changed)
			abort();
		memcpy(msg, out, outlen);
		len = outlen;
	}
	if (!hs_done(hi) || !hs_done(hr) || memcmp(hs_remote_pub(hr), ki->pub, WM_PUB_LEN) != 0)
		abort();
	if (chan_new(hi, &ci, hdr_i) != 0 || chan_new(hr, &cr, hdr_r) != 0 ||
	    chan_set_rx_header(cr, hdr_i, why) != 0 || chan_set_rx_header(ci, hdr_r, why) != 0)
		abort();
	frames(ci, cr, data, size);
out:
	chan_free(ci);
	chan_free(cr);
	hs_free(hi);
	hs_free(hr);
	return 0;
}
