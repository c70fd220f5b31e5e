/*
 * node/pii: the personal-data check that `post` (and the web app's server
 * side) runs on public text before it is signed (README.md, "Posting").  Pure
 * code: no I/O, no allocation, no locale.
 *
 * It finds, in UTF-8 text that may be Chinese with digits embedded:
 *   - mainland China mobile numbers: 11 digits 1[3-9]xxxxxxxxx, optionally
 *     after +86 / 86 / 0086;
 *   - 18-character resident ID numbers: 17 digits and a check character
 *     (0-9 or X/x) that passes ISO 7064 MOD 11-2, with a plausible birth
 *     date (YYYYMMDD at offset 6, year 1900-2099);
 *   - bank card numbers: 13-19 digits, first digit not 0, passing Luhn.
 * The text is read as a reader sees it, not as its bytes spell it (issue 8,
 * item 12: each of these got through):
 *   - every decimal digit counts: full-width ０-９, the digits of other
 *     scripts, and numbers that NFKC folds to digits -- circled ①-⑳ and
 *     ❶ ➀ ➊, parenthesised ⑴, with a full stop ⒈, super- and subscript
 *     ¹ ₁, mathematical 𝟏 𝟙 𝟣 𝟭 𝟷 (⑬ is the two digits 13);
 *   - invisible characters are skipped as if absent: zero-width space,
 *     joiners, soft hyphen, word joiner, BOM, variation selectors and
 *     combining marks (the keycap of 1️⃣, the underline of 1̲);
 *   - any punctuation, symbol or space joins two groups of one number,
 *     up to three of them in a row: "138.1234.5678", "138/1234/5678",
 *     "(138)1234-5678", "1 3 8 1 2 3 4 5 6 7 8", "138﹣1234—5678",
 *     "110105.19491231.002X".  A letter or a Chinese character ends it.
 * ID numbers may be grouped in any way; mobile numbers in any way without
 * a group of two digits (dates, times and coordinates are written so:
 * "18.252847, 109.511909" holds 18252847109); a card number whole, in
 * fours, 4-6-5 or 6-6-7, or, when 16 or 19 digits long, in groups of one
 * other length (1, or 3 and more) with a last group no longer.  Spans are
 * whole groups: a number is never found inside a longer run of digits (a
 * 20-digit run finds nothing), so dates and amounts ("2026年11月29日",
 * "损失50000元", "2026-11-29 14:30") do not match.  Where several readings
 * of the same digits are possible, the longest wins, and an ID number wins
 * over a card number.
 *
 * Not found: numbers spelt in Chinese numerals (一三八…) or as words, digits
 * that are letters (O for 0, l for 1), a mobile number with a two-digit
 * group ("13 8123 45678"), a number split across fields or by more than
 * three separators.
 *
 * False positives are possible (an order number that happens to pass
 * Luhn); the check exists to make the author confirm, not to refuse.
 */
#ifndef WM_PII_H
#define WM_PII_H

#include <stddef.h>

#include "error.h"

enum pii_type {
	PII_MOBILE = 1,         /* mainland mobile number */
	PII_ID_NUMBER = 2,      /* 18-character resident ID number */
	PII_BANK_CARD = 3,      /* bank card number */
};

#define PII_MASKED_LEN 48

struct pii_finding {
	enum pii_type type;
	size_t offset;          /* byte offset in the text, including a "+86" prefix */
	size_t len;             /* bytes, separators included */
	char masked[PII_MASKED_LEN];  /* ASCII, digits in the middle starred:
	                               * "138****5678", "110***********002X",
	                               * "6222********7897"; NUL-terminated */
};

/*
 * Scan text[0..len) (need not be NUL-terminated; NUL bytes are ordinary
 * non-digits).  Stores up to `max` findings in out[], in text order, and
 * returns how many there are in all (which may exceed max), or WM_EINVAL
 * if text is NULL with len > 0, or out is NULL with max > 0.
 */
int pii_scan(const char *text, size_t len, struct pii_finding *out, size_t max);

/* "mobile number", "resident ID number", "bank card number"; "personal data"
 * for an unknown value. */
const char *pii_type_name(enum pii_type t);

/*
 * Convenience for callers that only need a yes/no and a sentence: 0 if the
 * text holds none of the above, else WM_EPERSONAL with `why` (if not NULL)
 * set to e.g. "the text contains a mobile number (138****5678) and a bank
 * card number (6222********7897)".  WM_EINVAL as for pii_scan.
 */
int pii_check(const char *text, size_t len, char *why, size_t whylen);

#endif
