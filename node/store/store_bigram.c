/*
 * node/store/store_bigram.c: what the search index needs registered on a
 * connection (store_search_register, store_int.h): the FTS5 tokenizer
 * "wm_bigram" and the SQL function wm_search_key.
 *
 * Why bigrams: Chinese is written without spaces, and the words people
 * search for are often two characters (诈骗, 走失), below a trigram.  The
 * tokenizer cuts the text at blanks (ASCII blanks and U+3000, the same
 * set store_search splits a query on) and indexes every pair of
 * neighbouring characters, plus the last character of each run alone,
 * ASCII letters folded to lower case.  A two-character word is then one
 * token; one character is a prefix query over the tokens (a character is
 * either followed by another in its run, or last); a longer word is the
 * AND of its pairs, checked against the text (store_search).  A query
 * string is tokenized into pairs only, or its one character when it has
 * one, so that a quoted pair is one token, never a phrase.
 *
 * The index is contentless with detail=none (rowids only): the text is
 * kept once, in search_text, under the same key.
 */
#include <string.h>

#include "store_int.h"

/* Length of the blank at p (n bytes left), 0 if none. */
size_t store_blank_len(const char *p, size_t n)
{
	if (n >= 1 && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v'))
		return 1;
	if (n >= 3 && (unsigned char)p[0] == 0xE3 && (unsigned char)p[1] == 0x80 && (unsigned char)p[2] == 0x80)
		return 3;
	return 0;
}

/* Length of the UTF-8 character at p, never past the n bytes left (the
 * text is valid UTF-8 by the content rules; anything else still cuts the
 * same way in a document and in a query). */
static size_t char_len(const unsigned char *p, size_t n)
{
	size_t l = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 1;

	return l > n ? n : l;
}

typedef int (*token_fn)(void *ctx, int tflags, const char *tok, int ntok, int start, int end);

/* Emit text[a, b) as a token, ASCII letters folded. */
static int emit(void *ctx, token_fn cb, const char *text, size_t a, size_t b)
{
	char tok[8];
	size_t i;

	for (i = a; i < b; i++)
		tok[i - a] = text[i] >= 'A' && text[i] <= 'Z' ? (char)(text[i] - 'A' + 'a') : text[i];
	return cb(ctx, 0, tok, (int)(b - a), (int)a, (int)b);
}

static int bigram_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int ntext, token_fn cb)
{
	const unsigned char *u = (const unsigned char *)text;
	size_t n = ntext > 0 ? (size_t)ntext : 0, i = 0, a, alen, b, blen, sp;
	int query = (flags & FTS5_TOKENIZE_QUERY) != 0, first, rc = SQLITE_OK;

	(void)t;
	while (i < n && rc == SQLITE_OK) {
		if ((sp = store_blank_len(text + i, n - i)) != 0) {
			i += sp;
			continue;
		}
		/* a run of characters between blanks: each pair, then the last */
		a = i;
		alen = char_len(u + a, n - a);
		for (first = 1; rc == SQLITE_OK; first = 0) {
			b = a + alen;
			if (b >= n || store_blank_len(text + b, n - b) != 0) {
				if (!query || first)
					rc = emit(ctx, cb, text, a, b);
				i = b;
				break;
			}
			blen = char_len(u + b, n - b);
			rc = emit(ctx, cb, text, a, b + blen);
			a = b;
			alen = blen;
		}
	}
	return rc;
}

/* The tokenizer keeps no state: every instance is this one. */
static int bigram_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **out)
{
	static int instance;

	(void)ctx;
	(void)argv;
	(void)argc;
	*out = (Fts5Tokenizer *)&instance;
	return SQLITE_OK;
}

static void bigram_delete(Fts5Tokenizer *t)
{
	(void)t;
}

/* wm_search_key(created_at, id) (store_int.h). */
static void search_key_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *id = sqlite3_value_blob(argv[1]);

	(void)argc;
	if (id == NULL || sqlite3_value_bytes(argv[1]) < 2) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_int64(ctx, store_search_key(sqlite3_value_int64(argv[0]), id));
}

int store_search_register(sqlite3 *db)
{
	static fts5_tokenizer tok = { bigram_create, bigram_delete, bigram_tokenize };
	fts5_api *api = NULL;
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_ERROR;

	if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
		sqlite3_step(st);
		if (api != NULL)
			rc = api->xCreateTokenizer(api, "wm_bigram", NULL, &tok, NULL);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(db, "wm_search_key", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
		                             search_key_fn, NULL, NULL);
	return rc == SQLITE_OK ? 0 : WM_ESTORE;
}
