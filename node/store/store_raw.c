/*
 * node/store/store_raw.c: an events row's bytes without its author's key
 * (schema 14, store_int.h), and the SQL functions that cut and make them
 * whole again.
 *
 * The wire event (proto/PROTOCOL.md sections 2 and 3) is `93`, the
 * payload as bin with the shortest header (`c4 LL`, or `c5 LLLL` above
 * 255 bytes), then the signature and the content.  The payload starts
 * `9a 02 KIND c4 20` and the author's 32 bytes: at a fixed place, so the
 * row keeps `c4 00` there instead, and the payload's header says the
 * shorter length, in its shortest form again.  Bytes of any other shape
 * (none that ingest stores) are kept whole: a cut row is told by its
 * `c4 00`, which no wire event has there.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define PAYLOAD_AUTHOR 5                /* 9a 02 KIND c4 20: then the key */

/* The payload's place in w[0..n): its header's length (2 or 3 bytes after
 * the 93) in *h, its length in *len; 0 if w does not start as an event
 * with a shortest header and a payload that holds an author's place. */
static int payload_of(const uint8_t *w, size_t n, size_t *h, size_t *len)
{
	if (n < 3 || w[0] != 0x93)
		return 0;
	if (w[1] == 0xc4) {
		*h = 3;
		*len = w[2];
	} else if (w[1] == 0xc5 && n >= 4) {
		*h = 4;
		*len = (size_t)w[2] << 8 | w[3];
		if (*len <= 255)
			return 0;               /* not the shortest: kept whole */
	} else {
		return 0;
	}
	return *len >= PAYLOAD_AUTHOR && *len <= n - *h && w[*h] == 0x9a && w[*h + 1] == 0x02 &&
	       w[*h + 2] < 0x80 && w[*h + 3] == 0xc4;
}

/* 93 and the shortest bin header of a payload of len bytes, at out;
 * returns its length. */
static size_t put_head(uint8_t *out, size_t len)
{
	out[0] = 0x93;
	if (len <= 255) {
		out[1] = 0xc4;
		out[2] = (uint8_t)len;
		return 3;
	}
	out[1] = 0xc5;
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	return 4;
}

size_t store_raw_cut(const uint8_t *wire, size_t n, const uint8_t author[WM_PUB_LEN], uint8_t *out)
{
	size_t h, len, k, rest;

	if (!payload_of(wire, n, &h, &len) || len < PAYLOAD_AUTHOR + WM_PUB_LEN ||
	    wire[h + 4] != WM_PUB_LEN || memcmp(wire + h + PAYLOAD_AUTHOR, author, WM_PUB_LEN) != 0)
		return 0;
	rest = n - h - PAYLOAD_AUTHOR - WM_PUB_LEN;
	k = put_head(out, len - WM_PUB_LEN);
	memcpy(out + k, wire + h, PAYLOAD_AUTHOR);
	out[k + 4] = 0;
	memcpy(out + k + PAYLOAD_AUTHOR, wire + h + PAYLOAD_AUTHOR + WM_PUB_LEN, rest);
	return k + PAYLOAD_AUTHOR + rest;
}

size_t store_raw_whole(const uint8_t *kept, size_t n, const uint8_t author[WM_PUB_LEN],
                       uint8_t *out)
{
	size_t h, len, k, rest;

	if (!payload_of(kept, n, &h, &len) || kept[h + 4] != 0 || len + WM_PUB_LEN > 0xffff)
		return 0;
	rest = n - h - PAYLOAD_AUTHOR;
	k = put_head(out, len + WM_PUB_LEN);
	memcpy(out + k, kept + h, PAYLOAD_AUTHOR);
	out[k + 4] = WM_PUB_LEN;
	memcpy(out + k + PAYLOAD_AUTHOR, author, WM_PUB_LEN);
	memcpy(out + k + PAYLOAD_AUTHOR + WM_PUB_LEN, kept + h + PAYLOAD_AUTHOR, rest);
	return k + PAYLOAD_AUTHOR + WM_PUB_LEN + rest;
}

/* One of store_raw_whole and store_raw_cut: what a row keeps or the wire
 * bytes, at out (n + STORE_RAW_WHOLE_MORE bytes free), or 0 to give the
 * bytes back as they are. */
typedef size_t raw_fn(const uint8_t *in, size_t n, const uint8_t author[WM_PUB_LEN], uint8_t *out);

/* wm_raw(raw, key): the event's wire bytes from an events row's raw and
 * its author's key (authors.key); raw itself when it was kept whole, or
 * when no key is given (a row's author is always in authors; a cut row
 * without it would not decode); NULL for NULL (retracted).
 * wm_raw_cut(wire, key): what an events row keeps of the wire bytes of an
 * event by key (the migration to schema 14; store_insert cuts in C).
 * Both are this function, with (a pointer to) their raw_fn as the user
 * data. */
static void raw_sql(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	raw_fn *fn = *(raw_fn *const *)sqlite3_user_data(ctx);
	const uint8_t *in = sqlite3_value_blob(argv[0]), *key = sqlite3_value_blob(argv[1]);
	size_t n = (size_t)sqlite3_value_bytes(argv[0]), k;
	uint8_t *out;

	(void)argc;
	if (in == NULL || key == NULL || sqlite3_value_bytes(argv[1]) != WM_PUB_LEN) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	if ((out = sqlite3_malloc64(n + STORE_RAW_WHOLE_MORE)) == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if ((k = fn(in, n, key, out)) == 0) {
		sqlite3_free(out);
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	sqlite3_result_blob64(ctx, out, k, sqlite3_free);
}

int store_raw_register(sqlite3 *db)
{
	static raw_fn *const whole = store_raw_whole, *const cut = store_raw_cut;
	int rc = sqlite3_create_function(db, "wm_raw", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
	                                 (void *)&whole, raw_sql, NULL, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(db, "wm_raw_cut", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
		                             (void *)&cut, raw_sql, NULL, NULL);
	return rc == SQLITE_OK ? 0 : WM_ESTORE;
}
