/*
 * negentropy-harness: proto/negentropy behind the line protocol of the
 * reference implementations' conformance harnesses (hoytech/negentropy
 * test/cpp/harness.cpp, driven by test/fuzz.pl), so the same drivers can
 * pit it against any other implementation.
 *
 *   item,<timestamp>,<64 hex id>   add an item (before seal)
 *   seal                           close the set
 *   initiate                       act as client: prints msg,<hex>
 *   msg,<hex>                      reconcile; a client prints have,<id> and
 *                                  need,<id> lines, then msg,<hex> or done;
 *                                  a server prints msg,<hex>
 *
 * FRAMESIZELIMIT (bytes, 0 or unset = none, else >= 4096) limits the
 * messages this side produces.  Any error ends the process with status 1
 * and a reason on stderr, as the reference harness does by throwing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negentropy.h"
#include "wmcrypto.h"

struct harness {
	struct neg_vec *vec;
	struct neg_storage st;
	struct neg *neg;
	uint64_t frame_limit;
	int initiated;
	struct neg_ids have, need;
	unsigned long lineno;
};

static void harness_fail(const struct harness *h, const char *what)
{
	fprintf(stderr, "negentropy-harness: line %lu: %s\n", h->lineno, what);
	exit(1);
}

static int harness_parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static void harness_print_msg(const struct harness *h, const uint8_t *msg, size_t len)
{
	char *hex = malloc(2 * len + 1);

	if (hex == NULL)
		harness_fail(h, "out of memory");
	hex_encode(hex, msg, len);
	printf("msg,%s\n", hex);
	free(hex);
}

static void harness_print_ids(const char *tag, const struct neg_ids *l, size_t from)
{
	char hex[2 * NEG_ID_LEN + 1];
	size_t i;

	for (i = from; i < l->n; i++) {
		hex_encode(hex, l->ids[i], NEG_ID_LEN);
		printf("%s,%s\n", tag, hex);
	}
}

static void harness_check_frame(const struct harness *h, size_t len)
{
	if (h->frame_limit && len > h->frame_limit) {
		char why[128];

		snprintf(why, sizeof why, "frame size limit exceeded: %zu > %" PRIu64,
		         len, h->frame_limit);
		harness_fail(h, why);
	}
}

static void harness_item(struct harness *h, char *args)
{
	char *comma = strchr(args, ',');
	uint8_t id[NEG_ID_LEN];
	uint64_t ts;
	int rc;

	if (comma == NULL)
		harness_fail(h, "item needs <timestamp>,<hex id>");
	*comma = '\0';
	if (harness_parse_u64(args, &ts) < 0)
		harness_fail(h, "bad timestamp");
	if (hex_decode(id, sizeof id, comma + 1, strlen(comma + 1)) < 0)
		harness_fail(h, "id is not 64 hex digits");
	if (h->neg != NULL)
		harness_fail(h, "item after seal");
	rc = neg_vec_add(h->vec, ts, id);
	if (rc < 0)
		harness_fail(h, rc == WM_EINVAL ? "timestamp 2^64-1 is reserved" : wm_strerror(rc));
}

static void harness_seal(struct harness *h)
{
	int rc;

	if (h->neg != NULL)
		harness_fail(h, "already sealed");
	rc = neg_vec_seal(h->vec);
	if (rc == WM_EDUP)
		harness_fail(h, "duplicate item inserted");
	if (rc < 0)
		harness_fail(h, wm_strerror(rc));
	h->st = neg_vec_storage(h->vec);
	if (neg_new(&h->st, h->frame_limit, &h->neg) < 0)
		harness_fail(h, "cannot start negentropy (FRAMESIZELIMIT below 4096?)");
}

static void harness_initiate(struct harness *h)
{
	uint8_t *msg = NULL;
	size_t len = 0;

	if (h->neg == NULL)
		harness_fail(h, "initiate before seal");
	if (neg_initiate(h->neg, &msg, &len) < 0)
		harness_fail(h, "already initiated");
	harness_check_frame(h, len);
	h->initiated = 1;
	harness_print_msg(h, msg, len);
	free(msg);
}

static void harness_msg(struct harness *h, const char *hex)
{
	char why[WM_WHY_LEN] = "";
	size_t hexlen = strlen(hex), inlen = hexlen / 2;
	uint8_t *in, *out = NULL;
	size_t outlen = 0;
	int rc;

	if (h->neg == NULL)
		harness_fail(h, "msg before seal");
	if (hexlen % 2)
		harness_fail(h, "odd number of hex digits");
	in = malloc(inlen ? inlen : 1);
	if (in == NULL)
		harness_fail(h, "out of memory");
	if (hex_decode(in, inlen, hex, hexlen) < 0)
		harness_fail(h, "msg is not hex");
	if (h->initiated) {
		size_t have0 = h->have.n, need0 = h->need.n;

		rc = neg_reconcile_client(h->neg, in, inlen, &h->have, &h->need,
		                          &out, &outlen, why, sizeof why);
		if (rc < 0)
			harness_fail(h, why[0] ? why : wm_strerror(rc));
		harness_print_ids("have", &h->have, have0);
		harness_print_ids("need", &h->need, need0);
		if (out == NULL) {
			printf("done\n");
			free(in);
			return;
		}
	} else {
		rc = neg_reconcile_server(h->neg, in, inlen, &out, &outlen, why, sizeof why);
		if (rc < 0)
			harness_fail(h, why[0] ? why : wm_strerror(rc));
	}
	harness_check_frame(h, outlen);
	harness_print_msg(h, out, outlen);
	free(out);
	free(in);
}

int main(void)
{
	struct harness h;
	const char *env = getenv("FRAMESIZELIMIT");
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;

	memset(&h, 0, sizeof h);
	if (wmc_init() < 0) {
		fprintf(stderr, "negentropy-harness: cannot initialise libsodium\n");
		return 1;
	}
	if (env != NULL && *env != '\0' && harness_parse_u64(env, &h.frame_limit) < 0) {
		fprintf(stderr, "negentropy-harness: FRAMESIZELIMIT must be a number of bytes\n");
		return 2;
	}
	if (neg_vec_new(&h.vec) < 0) {
		fprintf(stderr, "negentropy-harness: out of memory\n");
		return 1;
	}
	while ((got = getline(&line, &cap, stdin)) != -1) {
		h.lineno++;
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		if (got == 0)
			continue;
		if (strncmp(line, "item,", 5) == 0)
			harness_item(&h, line + 5);
		else if (strcmp(line, "seal") == 0)
			harness_seal(&h);
		else if (strcmp(line, "initiate") == 0)
			harness_initiate(&h);
		else if (strncmp(line, "msg,", 4) == 0)
			harness_msg(&h, line + 4);
		else if (strcmp(line, "msg") == 0)
			harness_msg(&h, "");
		else
			harness_fail(&h, "unknown command");
		fflush(stdout);
	}
	free(line);
	neg_ids_free(&h.have);
	neg_ids_free(&h.need);
	neg_free(h.neg);
	neg_vec_free(h.vec);
	return 0;
}
