/*
 * node/store/store_bigram.c: what the search index needs registered on a
 * connection (store_search_register, store_int.h): the FTS5 tokenizer
 * "wm_bigram" and the SQL functions wm_search_key, wm_search_body and
 * wm_search_has; and the folding both sides of a search go through.
 *
 * Why bigrams: Chinese is written without spaces, and the words people
 * search for are often two characters (诈骗, 走失), below a trigram.  The
 * tokenizer cuts the text at blanks (ASCII blanks and U+3000, the same
 * set store_search splits a query on) and indexes every pair of
 * neighbouring characters, plus the last character of each run alone,
 * of the text folded (store_fold: NFKC, then lower case), so that ３栋
 * finds 3栋 and ７８岁 finds 78岁.  A two-character word is then one
 * token; one character is a prefix query over the tokens (a character is
 * either followed by another in its run, or last); a longer word is the
 * AND of its pairs, checked against the text (store_search).  A query
 * string is tokenized into pairs only, or its one character when it has
 * one, so that a quoted pair is one token, never a phrase.
 *
 * The index is contentless with detail=none (rowids only), under each
 * event's search key (events.search_key): the text is kept once, in the
 * event's raw bytes, and made from them again where it is needed.
 */
#define _GNU_SOURCE     /* memmem */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>

#include "store_int.h"

/*
 * Folding by table.  Most text here is ASCII, CJK ideographs and the
 * fullwidth punctuation written between them (，：！), and libunistring's
 * u8_tolower with NFKC was more than half of the tokenizer's instructions
 * (BENCHMARKS.md "Less work per event").  These characters fold by table
 * to the bytes it gives: ASCII (letters lowered), U+4E00..U+9FFF and 、。
 * (themselves), U+FF01..U+FF5E (the ASCII they are wide forms of, lowered)
 * and U+3000 (a space).  Character by character is exact for a text of
 * these alone: without a language the only case mapping that looks at its
 * neighbours is Σ's, and each of them folds to starters (combining class
 * 0) none of which composes with another.
 *
 * A text with other characters is folded by libunistring in runs, cut
 * before characters the fold of a text never reaches across: starters
 * that are never the second of a composition (so neither what comes
 * before composes with them nor, blocked by them, with what follows) and
 * are neither cased nor case-ignorable (so Σ's context, a cased letter
 * beside it through case-ignorable characters, stops at them as at an end
 * of text).  Those are ASCII but letters and ' . : ^ ` (case-ignorable),
 * U+4E00..U+9FFF, 、 and 。.  test_fold compares the two, byte for byte.
 */

/* The character at p (n bytes left) folded by table into out (at most as
 * many bytes as it takes); its length, 0 if the table has not got it.
 * *cut: whether the text can be cut before it (above). */
static size_t table_char(const unsigned char *p, size_t n, unsigned char *out, size_t *outn, int *cut)
{
	if (p[0] < 0x80) {
		*out = p[0] >= 'A' && p[0] <= 'Z' ? (unsigned char)(p[0] - 'A' + 'a') : p[0];
		*outn = 1;
		*cut = !((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z') && !strchr("'.:^`", p[0]);
		return 1;
	}
	if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
		return 0;
	if ((p[0] == 0xE4 && p[1] >= 0xB8) || (p[0] >= 0xE5 && p[0] <= 0xE9) ||
	    (p[0] == 0xE3 && p[1] == 0x80 && (p[2] == 0x81 || p[2] == 0x82))) {
		memcpy(out, p, 3);      /* U+4E00..U+9FFF, 、。 */
		*outn = 3;
		*cut = 1;
		return 3;
	}
	*cut = 0;
	*outn = 1;
	if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) {
		*out = ' ';             /* U+3000 */
		return 3;
	}
	if (p[0] == 0xEF && ((p[1] == 0xBC && p[2] >= 0x81) || (p[1] == 0xBD && p[2] <= 0x9E))) {
		*out = (unsigned char)(((p[1] - 0xBC) << 6 | (p[2] & 0x3F)) + 0x20);  /* U+FF01..U+FF5E */
		*out = *out >= 'A' && *out <= 'Z' ? (unsigned char)(*out - 'A' + 'a') : *out;
		return 3;
	}
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

/* Where the piece of u[0..n) from p ends: before the next character the
 * text can be cut at, or n.  *table: whether the table has all of it. */
static size_t piece_end(const unsigned char *u, size_t n, size_t p, int *table)
{
	unsigned char o[3];
	size_t i, k, m;
	int cut;

	*table = 1;
	for (i = p; i < n; i += k) {
		if ((k = table_char(u + i, n - i, o, &m, &cut)) == 0) {
			*table = 0;
			k = char_len(u + i, n - i);
		} else if (cut && i > p) {
			break;
		}
	}
	return i;
}

int store_fold(const char *s, size_t n, char **out, size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k, m, e, len = 0, cap = n + 1, cut_in = 0, cut_out = 0, rlen, need;
	uint8_t *f, *g, *r;
	int cut, table, in_place;

	/* room for the rest of the text, n - i + 1, is kept: the table never
	 * makes a character longer */
	if ((f = malloc(cap)) == NULL)
		return WM_ENOMEM;
	while (i < n) {
		while (i < n && (k = table_char(u + i, n - i, f + len, &m, &cut)) != 0) {
			if (cut) {
				cut_in = i;
				cut_out = len;
			}
			i += k;
			len += m;
		}
		if (i == n)
			break;
		/* libunistring, from the last cut to the end of the pieces
		 * after it that the table has not got */
		e = piece_end(u, n, i, &table);
		while (e < n && (k = piece_end(u, n, e, &table), !table))
			e = k;
		rlen = cap - cut_out;
		r = u8_tolower(u + cut_in, e - cut_in, NULL, UNINORM_NFKC, f + cut_out, &rlen);
		if (r == NULL) {
			free(f);
			if (errno == ENOMEM)
				return WM_ENOMEM;
			goto ascii;
		}
		in_place = r == f + cut_out;
		if ((need = cut_out + rlen + (n - e) + 1) > cap) {
			if ((g = realloc(f, need)) == NULL) {
				if (!in_place)
					free(r);
				free(f);
				return WM_ENOMEM;
			}
			f = g;
			cap = need;
		}
		if (!in_place) {
			memcpy(f + cut_out, r, rlen);
			free(r);
		}
		i = e;
		cut_in = e;
		cut_out = len = cut_out + rlen;
	}
	*out = (char *)f;
	*outlen = len;
	return 0;

ascii:
	/* not UTF-8 (the content rules refuse that in an event, a query may
	 * hold anything): ASCII letters folded */
	if ((f = malloc(n + 1)) == NULL)
		return WM_ENOMEM;
	for (i = 0; i < n; i++)
		f[i] = s[i] >= 'A' && s[i] <= 'Z' ? (uint8_t)(s[i] - 'A' + 'a') : (uint8_t)s[i];
	*out = (char *)f;
	*outlen = n;
	return 0;
}

/* Length of the blank at p (n bytes left), 0 if none. */
size_t store_blank_len(const char *p, size_t n)
{
	if (n >= 1 && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v'))
		return 1;
	if (n >= 3 && (unsigned char)p[0] == 0xE3 && (unsigned char)p[1] == 0x80 && (unsigned char)p[2] == 0x80)
		return 3;
	return 0;
}

/* Content keys whose text is searchable, per kind.  Sealed requests have
 * no "text" (only a box), so nothing of theirs is indexed. */
static const char *const *search_keys(unsigned kind)
{
	static const char *const bulletin[] = { "title", "text", NULL };
	static const char *const alert[] = { "event", "headline", "text", "area_desc", "instruction", NULL };
	static const char *const text[] = { "text", NULL };
	static const char *const status[] = { "note", NULL };

	switch (kind) {
	case KIND_BULLETIN: return bulletin;
	case KIND_ALERT: return alert;
	case KIND_REQUEST: case KIND_REPLY: case KIND_ACK: return text;
	case KIND_STATUS: return status;
	default: return NULL;
	}
}

/*
 * A category is searched by its name and by the words a resident would
 * type for it: the Chinese labels the web app shows (node/web/src/i18n.js)
 * for a bulletin's, and for an alert's CAP category its Chinese and the
 * English it abbreviates.  Indexed as one more line of the text, so a
 * change here reaches stored events only through a migration.
 */
static const struct { const char *name, *words; } category_words[] = {
	/* bulletins (proto/content.c) */
	{ "fraud", "防诈骗 诈骗" },
	{ "safety", "安全" },
	{ "traffic", "交通" },
	{ "weather", "天气" },
	{ "notice", "通知" },
	{ "lost-found", "失物招领 lost and found" },
	{ "other", "其他" },
	/* alerts: CAP 1.2's categories */
	{ "Geo", "地质灾害 geophysical" },
	{ "Met", "气象 天气 weather meteorological" },
	{ "Safety", "安全" },
	{ "Security", "治安 安全" },
	{ "Rescue", "救援" },
	{ "Fire", "火灾 消防" },
	{ "Health", "卫生 健康" },
	{ "Env", "环境 environment" },
	{ "Transport", "交通 transport" },
	{ "Infra", "基础设施 infrastructure" },
	{ "CBRNE", "危险化学品 核辐射 chemical" },
	{ "Other", "其他" },
};

static const char *category_label(const char *cat, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof category_words / sizeof category_words[0]; i++)
		if (strlen(category_words[i].name) == len && memcmp(category_words[i].name, cat, len) == 0)
			return category_words[i].words;
	return "";
}

int store_search_text(const struct event *ev, char **buf, size_t *len)
{
	const char *const *keys = search_keys(ev->kind);
	const char *p, *cat = NULL, *words = "";
	size_t n, catlen = 0, total = 0, i;
	char *out;

	*buf = NULL;
	*len = 0;
	if (keys == NULL)
		return 0;
	for (i = 0; keys[i] != NULL; i++)
		if (event_get_str(ev, keys[i], &p, &n) == 0)
			total += n + 1;
	if (event_get_str(ev, "category", &cat, &catlen) == 0) {
		words = category_label(cat, catlen);
		total += catlen + 1 + strlen(words) + 1;
	}
	if (total == 0)
		return 0;
	if ((out = malloc(total)) == NULL)
		return WM_ENOMEM;
	total = 0;
	for (i = 0; keys[i] != NULL; i++) {
		if (event_get_str(ev, keys[i], &p, &n) != 0)
			continue;
		if (total > 0)
			out[total++] = '\n';
		memcpy(out + total, p, n);
		total += n;
	}
	if (cat != NULL) {
		if (total > 0)
			out[total++] = '\n';
		memcpy(out + total, cat, catlen);
		total += catlen;
		if (*words) {
			out[total++] = ' ';
			memcpy(out + total, words, strlen(words));
			total += strlen(words);
		}
	}
	*buf = out;
	*len = total;
	return 0;
}

typedef int (*token_fn)(void *ctx, int tflags, const char *tok, int ntok, int start, int end);

/* Emit text[a, b) as a token.  The offsets are into the folded text:
 * with detail=none nothing reads them. */
static int emit(void *ctx, token_fn cb, const char *text, size_t a, size_t b)
{
	return cb(ctx, 0, text + a, (int)(b - a), (int)a, (int)b);
}

static int bigram_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *raw, int nraw, token_fn cb)
{
	const unsigned char *u;
	char *text = NULL;
	size_t n, i = 0, a, alen, b, blen, sp;
	int query = (flags & FTS5_TOKENIZE_QUERY) != 0, first, rc = SQLITE_OK;

	(void)t;
	if (store_fold(raw, nraw > 0 ? (size_t)nraw : 0, &text, &n) != 0)
		return SQLITE_NOMEM;
	if (n > INT_MAX)
		n = 0;          /* an offset must fit an int: index nothing rather than part */
	u = (const unsigned char *)text;
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
	free(text);
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

/* The searchable text of the stored event whose row's raw is v (*text
 * malloc'd, caller frees); *len 0 when there is none or raw does not
 * decode (NULL: retracted).  Neither verified nor hashed again: a search
 * checks up to a thousand rows (BENCHMARKS.md "A smaller store").  A row
 * keeps raw without its author's key (store_raw.c), which the text does
 * not depend on: any 32 bytes stand in for it. */
static int text_of_raw(sqlite3_value *v, char **text, size_t *len)
{
	static const uint8_t anyone[WM_PUB_LEN];
	const uint8_t *raw = sqlite3_value_blob(v);
	size_t n = (size_t)sqlite3_value_bytes(v), k = 0;
	uint8_t small[1024], *whole = small, *big = NULL;  /* most events are a few hundred bytes */
	struct event *ev = NULL;
	char why[WM_WHY_LEN];
	int rc = 0;

	*text = NULL;
	*len = 0;
	if (raw == NULL)
		return 0;
	if (n + STORE_RAW_WHOLE_MORE > sizeof(small) &&
	    (whole = big = malloc(n + STORE_RAW_WHOLE_MORE)) == NULL)
		return WM_ENOMEM;
	if ((k = store_raw_whole(raw, n, anyone, whole)) != 0) {
		raw = whole;
		n = k;
	}
	if (event_decode_unhashed(raw, n, &ev, why) == 0)
		rc = store_search_text(ev, text, len);
	event_free(ev);
	free(big);
	return rc;
}

/* wm_search_body(raw): the searchable text of a stored event
 * (store_search_text), NULL if there is none or it does not decode: what
 * the index was given for it, and so what deleting it from the index
 * gives again (the search keeps no other copy of the text). */
static void search_body_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char *text = NULL;
	size_t len = 0;

	(void)argc;
	if (text_of_raw(argv[0], &text, &len) != 0) {
		sqlite3_result_error_nomem(ctx);
	} else if (len > 0 && len <= INT_MAX) {
		sqlite3_result_text(ctx, text, (int)len, free);
		text = NULL;
	} else {
		sqlite3_result_null(ctx);
	}
	free(text);
}

/* wm_search_has(raw, word): whether the searchable text of a stored event
 * holds word (folded already, as the query is), as written or folded:
 * folding every row (NFKC) was most of a search's instructions, and only
 * a text that holds the word in another width or case needs it. */
static void search_has_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *w = (const char *)sqlite3_value_text(argv[1]);
	size_t wn = (size_t)sqlite3_value_bytes(argv[1]), len = 0, flen = 0;
	char *text = NULL, *folded = NULL;
	int rc, has = 0;

	(void)argc;
	if (w == NULL) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	rc = text_of_raw(argv[0], &text, &len);
	if (rc == 0 && len > 0 && !(has = memmem(text, len, w, wn) != NULL) &&
	    (rc = store_fold(text, len, &folded, &flen)) == 0)
		has = memmem(folded, flen, w, wn) != NULL;
	if (rc != 0)
		sqlite3_result_error_nomem(ctx);
	else
		sqlite3_result_int(ctx, has);
	free(text);
	free(folded);
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
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(db, "wm_search_body", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
		                             search_body_fn, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(db, "wm_search_has", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
		                             search_has_fn, NULL, NULL);
	return rc == SQLITE_OK ? 0 : WM_ESTORE;
}
