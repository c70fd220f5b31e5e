/*
 * crypto/rotate.c: rotation statements (rotate.h).  The statement has one
 * fixed shape, so it is written and read byte by byte: no msgpack library
 * is needed below node/, and a reader cannot be led anywhere by lengths.
 */
#include "rotate.h"

#include <stdio.h>
#include <string.h>

static const uint8_t rot_label[] = "watchmesh-rotate";
#define ROT_LABEL_LEN (sizeof(rot_label) - 1)

/* Offsets of the fields in a statement. */
#define ROT_OFF_NET (1 + 1 + ROT_LABEL_LEN + 1 + 2)
#define ROT_OFF_OLD (ROT_OFF_NET + ROT_NET_LEN + 2)
#define ROT_OFF_NEW (ROT_OFF_OLD + WM_PUB_LEN + 2)
#define ROT_OFF_AT  (ROT_OFF_NEW + WM_PUB_LEN + 1)

static void rot_say(char *why, const char *text)
{
	if (why != NULL)
		snprintf(why, WM_WHY_LEN, "%s", text);
}

/* The statement's bytes but for the fields: array of 6, the label, version
 * 1, and the bin headers; `at` is a uint64 (0xcf). */
static void rot_frame_bytes(uint8_t st[ROT_STATEMENT_LEN])
{
	memset(st, 0, ROT_STATEMENT_LEN);
	st[0] = 0x96;
	st[1] = 0xa0 | ROT_LABEL_LEN;
	memcpy(st + 2, rot_label, ROT_LABEL_LEN);
	st[2 + ROT_LABEL_LEN] = 0x01;
	st[ROT_OFF_NET - 2] = 0xc4;
	st[ROT_OFF_NET - 1] = ROT_NET_LEN;
	st[ROT_OFF_OLD - 2] = 0xc4;
	st[ROT_OFF_OLD - 1] = WM_PUB_LEN;
	st[ROT_OFF_NEW - 2] = 0xc4;
	st[ROT_OFF_NEW - 1] = WM_PUB_LEN;
	st[ROT_OFF_AT - 1] = 0xcf;
}

int rot_sign(const struct key *old, const uint8_t net[ROT_NET_LEN], const uint8_t new_pub[WM_PUB_LEN],
             uint64_t at, uint8_t rec[ROT_RECORD_LEN])
{
	uint8_t id[WM_ID_LEN];
	int i;

	if (old == NULL || net == NULL || new_pub == NULL || rec == NULL || at >> 32 == 0)
		return WM_EINVAL;
	rot_frame_bytes(rec);
	memcpy(rec + ROT_OFF_NET, net, ROT_NET_LEN);
	memcpy(rec + ROT_OFF_OLD, old->pub, WM_PUB_LEN);
	memcpy(rec + ROT_OFF_NEW, new_pub, WM_PUB_LEN);
	for (i = 0; i < 8; i++)
		rec[ROT_OFF_AT + i] = (uint8_t)(at >> (56 - 8 * i));
	id_compute(id, rec, ROT_STATEMENT_LEN);
	return key_sign_id(old, id, rec + ROT_STATEMENT_LEN) == 0 ? 0 : WM_EINVAL;
}

int rot_decode(const uint8_t rec[ROT_RECORD_LEN], struct rot_statement *s)
{
	uint8_t shape[ROT_STATEMENT_LEN], masked[ROT_STATEMENT_LEN];
	int i;

	/* everything but the fields must be exactly the fixed bytes */
	rot_frame_bytes(shape);
	memcpy(masked, rec, ROT_STATEMENT_LEN);
	memset(masked + ROT_OFF_NET, 0, ROT_NET_LEN);
	memset(masked + ROT_OFF_OLD, 0, WM_PUB_LEN);
	memset(masked + ROT_OFF_NEW, 0, WM_PUB_LEN);
	memset(masked + ROT_OFF_AT, 0, 8);
	if (memcmp(masked, shape, ROT_STATEMENT_LEN) != 0)
		return WM_EPROTO;
	memcpy(s->net, rec + ROT_OFF_NET, ROT_NET_LEN);
	memcpy(s->old_pub, rec + ROT_OFF_OLD, WM_PUB_LEN);
	memcpy(s->new_pub, rec + ROT_OFF_NEW, WM_PUB_LEN);
	s->at = 0;
	for (i = 0; i < 8; i++)
		s->at = s->at << 8 | rec[ROT_OFF_AT + i];
	if (s->at >> 32 == 0)
		return WM_EPROTO;   /* canonical msgpack would have a shorter form */
	memcpy(s->sig, rec + ROT_STATEMENT_LEN, WM_SIG_LEN);
	return 0;
}

int rot_frame(const uint8_t *recs, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t len = n * ROT_RECORD_LEN, head;

	if (recs == NULL || n == 0 || n > ROT_MAX)
		return WM_EINVAL;
	head = len < 256 ? 4 : 5;
	if (cap < head + len)
		return WM_EINVAL;
	out[0] = 0x92;
	out[1] = ROT_FRAME_TYPE;
	if (len < 256) {
		out[2] = 0xc4;
		out[3] = (uint8_t)len;
	} else {
		out[2] = 0xc5;
		out[3] = (uint8_t)(len >> 8);
		out[4] = (uint8_t)len;
	}
	memcpy(out + head, recs, len);
	*outlen = head + len;
	return 0;
}

int rot_frame_records(const uint8_t *frame, size_t len, const uint8_t **recs, size_t *n,
                      char why[WM_WHY_LEN])
{
	size_t blen, head;

	if (len < 4 || frame[0] != 0x92 || frame[1] != ROT_FRAME_TYPE) {
		rot_say(why, "the peer's first frame is not a rotation statement");
		return WM_EPROTO;
	}
	if (frame[2] == 0xc4) {
		head = 4;
		blen = frame[3];
	} else if (frame[2] == 0xc5 && len >= 5) {
		head = 5;
		blen = (size_t)frame[3] << 8 | frame[4];
		if (blen < 256)
			blen = 0;   /* not canonical: refused below */
	} else {
		blen = 0;
		head = len;
	}
	if (blen == 0 || blen % ROT_RECORD_LEN != 0 || blen / ROT_RECORD_LEN > ROT_MAX || head + blen != len) {
		rot_say(why, "the peer's rotation frame is malformed");
		return WM_EPROTO;
	}
	*recs = frame + head;
	*n = blen / ROT_RECORD_LEN;
	return 0;
}

int rot_follow(const uint8_t *frame, size_t len, const uint8_t net[ROT_NET_LEN],
               const uint8_t from[WM_PUB_LEN], uint64_t since, const uint8_t to[WM_PUB_LEN],
               uint64_t *at, uint8_t signers[ROT_MAX][WM_PUB_LEN], size_t *nsigners,
               char why[WM_WHY_LEN])
{
	uint8_t cur[WM_PUB_LEN], id[WM_ID_LEN];
	char hex[WM_HEX_PUB + 1];
	const uint8_t *recs;
	const char *fault;
	size_t n, i, step;
	int rc;

	rc = rot_frame_records(frame, len, &recs, &n, why);
	if (rc != 0)
		return rc;
	memcpy(cur, from, WM_PUB_LEN);
	for (step = 0; step < ROT_MAX && memcmp(cur, to, WM_PUB_LEN) != 0; step++) {
		struct rot_statement s;
		int found = 0;

		fault = "no statement from it";
		for (i = 0; i < n && !found; i++) {
			const uint8_t *r = recs + i * ROT_RECORD_LEN;

			if (rot_decode(r, &s) != 0 || memcmp(s.old_pub, cur, WM_PUB_LEN) != 0)
				continue;
			id_compute(id, r, ROT_STATEMENT_LEN);
			if (sig_verify(cur, id, s.sig) != 0)
				fault = "its statement's signature does not verify";
			else if (memcmp(s.net, net, ROT_NET_LEN) != 0)
				fault = "its statement is for another network";
			else if (s.at < since)
				fault = "its statement is older than the rotation we follow (a replay?)";
			else
				found = 1;
		}
		if (!found) {
			hex_encode(hex, cur, WM_PUB_LEN);
			if (why != NULL)
				snprintf(why, WM_WHY_LEN, "the peer's key rotation does not verify from %.16s...: %s",
				         hex, fault);
			return WM_EREJECTED;
		}
		if (signers != NULL)
			memcpy(signers[step], cur, WM_PUB_LEN);
		memcpy(cur, s.new_pub, WM_PUB_LEN);
		since = s.at;
	}
	if (memcmp(cur, to, WM_PUB_LEN) != 0) {
		rot_say(why, "the peer's key rotation does not lead to its key");
		return WM_EREJECTED;
	}
	*at = since;
	if (nsigners != NULL)
		*nsigners = step;
	return 0;
}
