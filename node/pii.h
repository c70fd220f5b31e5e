/*
 * node/pii: the personal-data check that `post` (and the web app's server
 * side) runs on public text before it is signed (README.md, "Posting").  Pure
 * code: no I/O, no allocation, no locale.
 *
 * It finds, in UTF-8 text that may be Chinese with digits embedded:
 *   - mainland China mobile numbers: 11 digits 1[3-9]xxxxxxxxx, optionally
 *     after +86 / 86 / 0086, written whole or in groups ("138 1234 5678",
 *     "138-1234-5678", "+86 138-1234-5678");
 *   - 18-character resident ID numbers: 17 digits and a check character
 *     (0-9 or X/x) that passes ISO 7064 MOD 11-2, with a plausible birth
 *     date (YYYYMMDD at offset 6, year 1900-2099);
 *   - bank card numbers: 13-19 digits, first digit not 0, passing Luhn,
 *     whole or in groups of four (the last group 1-4), or Amex's 4-6-5.
 * Full-width digits (０-９), X (Ｘ ｘ), plus (＋), hyphen (－) and the
 * ideographic space count like their ASCII forms.  Groups are separated by
 * exactly one space or hyphen.  A number is only found as whole digit
 * groups: never inside a longer run of digits (a 20-digit run finds
 * nothing), so dates and amounts ("2026年11月29日", "损失50000元") do not
 * match.  Where several readings of the same digits are possible, the
 * longest wins, and an ID number wins over a card number.
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
