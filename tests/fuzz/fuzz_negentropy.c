/*
 * Fuzz target: the negentropy message decoders (proto/negentropy).  The
 * first input byte picks the side and the frame limit, the rest is one
 * message from a peer:
 *   bit 0 clear: our server, over a small fixed set, answers it;
 *   bit 0 set:   our client, over another fixed set, after neg_initiate(),
 *                takes it as the server's answer;
 *   bit 1:       frame limit 4096 instead of none.
 * Invariants: a refusal is WM_EPROTO (or WM_EVERSION for the client) with
 * a reason; an answer starts with the version byte and keeps the limit;
 * and our own server's answer is always well-formed for our client (fed to
 * one), so encoder and decoder agree on every message the server builds.
 * Seeds: real messages between these two sets (make_neg_corpus.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negentropy.h"
#include "wmcrypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct neg_vec *fz_server_set, *fz_client_set;

/* Items i of a set: id SHA-256("watchmesh-<i>"), ts 1000 + i / 3 (the
 * unit tests' items).  The server holds 0..59 but i % 10 == 7, the client
 * 0..59 but i % 10 == 3, so both sides have something to say. */
static struct neg_vec *fz_set(unsigned skip)
{
	struct neg_vec *v = NULL;
	unsigned i;

	if (neg_vec_new(&v) != 0)
		abort();
	for (i = 0; i < 60; i++) {
		char text[32];
		uint8_t id[NEG_ID_LEN];
		int len = snprintf(text, sizeof text, "watchmesh-%u", i);

		if (i % 10 == skip)
			continue;
		id_compute(id, (const uint8_t *)text, (size_t)len);
		if (neg_vec_add(v, 1000 + i / 3, id) != 0)
			abort();
	}
	if (neg_vec_seal(v) != 0)
		abort();
	return v;
}

static void fz_init(void)
{
	if (fz_server_set != NULL)
		return;
	if (wmc_init() < 0)
		abort();
	fz_server_set = fz_set(7);
	fz_client_set = fz_set(3);
}

/* Our client takes msg as the server's answer.  Returns its rc. */
static int fz_client(const uint8_t *msg, size_t len, uint64_t limit, int must_accept)
{
	struct neg_storage st = neg_vec_storage(fz_client_set);
	struct neg_ids have = { 0 }, need = { 0 };
	struct neg *c = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0;
	char why[WM_WHY_LEN];
	int rc;

	if (neg_new(&st, limit, &c) != 0 || neg_initiate(c, &out, &outlen) != 0)
		abort();
	free(out);
	out = NULL;
	why[0] = '\0';
	rc = neg_reconcile_client(c, msg, len, &have, &need, &out, &outlen, why, sizeof why);
	if (rc == 0) {
		if (out != NULL && (outlen < 1 || out[0] != NEG_PROTOCOL_VERSION))
			abort();
		if (out != NULL && limit && outlen > limit)
			abort();
		if (have.n > 60 || need.n > len / NEG_ID_LEN)
			abort();
	} else {
		if (must_accept || (rc != WM_EPROTO && rc != WM_EVERSION) || why[0] == '\0')
			abort();
		if (have.n != 0 || need.n != 0)
			abort();        /* nothing reported from a refused message */
	}
	free(out);
	neg_ids_free(&have);
	neg_ids_free(&need);
	neg_free(c);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct neg_storage st;
	struct neg *s = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0;
	uint64_t limit;
	char why[WM_WHY_LEN];
	int rc;

	if (size < 1)
		return 0;
	fz_init();
	limit = (data[0] & 2) ? 4096 : 0;
	if (data[0] & 1) {
		fz_client(data + 1, size - 1, limit, 0);
		return 0;
	}
	st = neg_vec_storage(fz_server_set);
	if (neg_new(&st, limit, &s) != 0)
		abort();
	why[0] = '\0';
	rc = neg_reconcile_server(s, data + 1, size - 1, &out, &outlen, why, sizeof why);
	if (rc == 0) {
		if (outlen < 1 || out[0] != NEG_PROTOCOL_VERSION || (limit && outlen > limit))
			abort();
		fz_client(out, outlen, limit, 1);
		free(out);
	} else if (rc != WM_EPROTO || why[0] == '\0' || out != NULL) {
		abort();
	}
	neg_free(s);
	return 0;
}
