/*
 * node/pii.c: finds mobile, resident ID and bank card numbers in text
 * (rules in pii.h).
 *
 * The scan walks the text once.  At each digit that starts a group (the
 * character before it is not a digit) it reads ahead at most a few dozen
 * characters into a small run of digits with the positions where groups
 * end, then tries the longest span of whole groups first.  Spans always end
 * at a group end, so a number is never carved out of a longer digit run.
 * Work per group start is bounded, so the whole scan is linear.
 */
#include "pii.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

enum ch_class { CH_OTHER, CH_DIGIT, CH_SEP, CH_PLUS, CH_X, CH_ALNUM };

struct ch {
	enum ch_class cls;
	size_t len;             /* bytes */
	char digit;             /* '0'..'9' for CH_DIGIT */
};

/* The character at s[i] (i < len).  Malformed UTF-8 is read a byte at a
 * time as CH_OTHER, which is safe: no continuation byte looks like any of
 * the characters we look for. */
static struct ch ch_at(const unsigned char *s, size_t len, size_t i)
{
	struct ch c = { CH_OTHER, 1, 0 };
	unsigned char b = s[i];

	if (b >= '0' && b <= '9') {
		c.cls = CH_DIGIT;
		c.digit = (char)b;
	} else if (b == ' ' || b == '-') {
		c.cls = CH_SEP;
	} else if (b == '+') {
		c.cls = CH_PLUS;
	} else if (b == 'X' || b == 'x') {
		c.cls = CH_X;
	} else if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z')) {
		c.cls = CH_ALNUM;
	} else if (b == 0xef && i + 2 < len) {
		unsigned char b1 = s[i + 1], b2 = s[i + 2];

		if (b1 == 0xbc && b2 >= 0x90 && b2 <= 0x99) {          /* ０-９ */
			c.cls = CH_DIGIT;
			c.digit = (char)('0' + (b2 - 0x90));
		} else if (b1 == 0xbc && b2 == 0x8d) {                  /* － */
			c.cls = CH_SEP;
		} else if (b1 == 0xbc && b2 == 0x8b) {                  /* ＋ */
			c.cls = CH_PLUS;
		} else if ((b1 == 0xbc && b2 == 0xb8) || (b1 == 0xbd && b2 == 0x98)) {  /* Ｘ ｘ */
			c.cls = CH_X;
		} else if ((b1 == 0xbc && b2 >= 0xa1 && b2 <= 0xba) ||
		           (b1 == 0xbd && b2 >= 0x81 && b2 <= 0x9a)) {  /* Ａ-Ｚ ａ-ｚ */
			c.cls = CH_ALNUM;
		} else {
			return c;
		}
		c.len = 3;
	} else if (b == 0xe3 && i + 2 < len && s[i + 1] == 0x80 && s[i + 2] == 0x80) {
		c.cls = CH_SEP;                                         /* ideographic space */
		c.len = 3;
	} else if (b == 0xe2 && i + 2 < len && s[i + 1] == 0x80 &&
	           s[i + 2] >= 0x90 && s[i + 2] <= 0x93) {
		c.cls = CH_SEP;                                         /* ‐ ‑ ‒ – */
		c.len = 3;
	}
	return c;
}

/* Enough for the longest span we test (19) plus one, to know a group goes on. */
#define RUN_MAX 20

/* Digits read ahead from a group start. */
struct run {
	size_t n;
	char d[RUN_MAX];                /* '0'..'9' or 'X' (only last, ends the run) */
	size_t start[RUN_MAX];          /* byte offset of each character */
	size_t end[RUN_MAX];            /* byte offset just after it */
	unsigned char group_end[RUN_MAX];  /* a group ends after d[i] */
};

static void run_read(const unsigned char *s, size_t len, size_t p, struct run *r)
{
	memset(r, 0, sizeof(*r));
	while (p < len) {
		struct ch c = ch_at(s, len, p);

		if (c.cls == CH_DIGIT) {
			if (r->n == RUN_MAX)
				return;         /* the group goes on beyond any span we test */
			r->d[r->n] = c.digit;
			r->start[r->n] = p;
			r->end[r->n] = p + c.len;
			r->n++;
			p += c.len;
			continue;
		}
		if (r->n == 0)
			return;
		if (c.cls == CH_X && r->n < RUN_MAX) {
			/* An ID's check character, unless a word goes on after it. */
			size_t q = p + c.len;
			enum ch_class next = q < len ? ch_at(s, len, q).cls : CH_OTHER;

			if (next != CH_DIGIT && next != CH_X && next != CH_ALNUM) {
				r->d[r->n] = 'X';
				r->start[r->n] = p;
				r->end[r->n] = q;
				r->group_end[r->n] = 1;
				r->n++;
				return;
			}
		}
		r->group_end[r->n - 1] = 1;
		if (c.cls == CH_SEP && p + c.len < len) {
			struct ch next = ch_at(s, len, p + c.len);

			if (next.cls == CH_DIGIT) {
				p += c.len;
				continue;
			}
		}
		return;
	}
	if (r->n > 0)
		r->group_end[r->n - 1] = 1;
}

/* Lengths of the groups in d[from..to) of the run; returns how many. */
static size_t run_groups(const struct run *r, size_t from, size_t to, size_t g[RUN_MAX])
{
	size_t i, n = 0, cur = 0;

	for (i = from; i < to; i++) {
		cur++;
		if (r->group_end[i] || i + 1 == to) {
			g[n++] = cur;
			cur = 0;
		}
	}
	return n;
}

static int all_digits(const char *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (d[i] < '0' || d[i] > '9')
			return 0;
	return 1;
}

static int is_mobile(const char *d)
{
	return all_digits(d, 11) && d[0] == '1' && d[1] >= '3' && d[1] <= '9';
}

/* Mobile and ID numbers are written whole or in groups of three or more. */
static int grouped_by_3(const struct run *r, size_t from, size_t to)
{
	size_t g[RUN_MAX], n = run_groups(r, from, to, g), i;

	for (i = 0; i < n; i++)
		if (g[i] < 3)
			return 0;
	return 1;
}

static int leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned num(const char *d, size_t n)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return v;
}

/* GB 11643-1999: MOD 11-2 check character, birth date YYYYMMDD at 6. */
static int is_id_number(const char *d)
{
	static const unsigned weight[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
	static const char check[] = "10X98765432";
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned sum = 0, y, m, day, dim;
	size_t i;

	if (!all_digits(d, 17) || d[0] == '0')
		return 0;
	if (!((d[17] >= '0' && d[17] <= '9') || d[17] == 'X'))
		return 0;
	for (i = 0; i < 17; i++)
		sum += weight[i] * (unsigned)(d[i] - '0');
	if (check[sum % 11] != d[17])
		return 0;
	y = num(d + 6, 4);
	m = num(d + 10, 2);
	day = num(d + 12, 2);
	if (y < 1900 || y > 2099 || m < 1 || m > 12)
		return 0;
	dim = mdays[m - 1] + (m == 2 && leap(y));
	return day >= 1 && day <= dim;
}

static int luhn(const char *d, size_t n)
{
	unsigned sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned v = (unsigned)(d[n - 1 - i] - '0');

		if (i % 2 == 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

/* Whole, groups of four with a shorter last group, or Amex's 4-6-5. */
static int card_grouping(const struct run *r, size_t to)
{
	size_t g[RUN_MAX], n = run_groups(r, 0, to, g), i;

	if (n == 1)
		return 1;
	if (n == 3 && g[0] == 4 && g[1] == 6 && g[2] == 5)
		return 1;
	for (i = 0; i + 1 < n; i++)
		if (g[i] != 4)
			return 0;
	return g[n - 1] >= 1 && g[n - 1] <= 4;
}

/* What the span d[0..e) of the run is, if anything; *skip = how many
 * leading digits are a country prefix rather than the number. */
static enum pii_type span_type(const struct run *r, size_t e, size_t *skip)
{
	const char *d = r->d;

	*skip = 0;
	if (e == 18 && is_id_number(d) && grouped_by_3(r, 0, e))
		return PII_ID_NUMBER;
	if (!all_digits(d, e))
		return 0;
	if (e == 11 && is_mobile(d) && grouped_by_3(r, 0, e))
		return PII_MOBILE;
	if (e == 13 && d[0] == '8' && d[1] == '6' && is_mobile(d + 2) && grouped_by_3(r, 2, e)) {
		*skip = 2;
		return PII_MOBILE;
	}
	if (e == 15 && memcmp(d, "0086", 4) == 0 && is_mobile(d + 4) && grouped_by_3(r, 4, e)) {
		*skip = 4;
		return PII_MOBILE;
	}
	if (e >= 13 && e <= 19 && d[0] != '0' && luhn(d, e) && card_grouping(r, e))
		return PII_BANK_CARD;
	return 0;
}

static void mask(char out[PII_MASKED_LEN], const char *d, size_t n, size_t head, size_t tail)
{
	size_t i;

	for (i = 0; i < n && i < PII_MASKED_LEN - 1; i++)
		out[i] = (i < head || i + tail >= n) ? d[i] : '*';
	out[i] = '\0';
}

int pii_scan(const char *text, size_t len, struct pii_finding *out, size_t max)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t p = 0, found = 0;
	size_t prev_start = 0;
	enum ch_class prev = CH_OTHER;

	if ((text == NULL && len > 0) || (out == NULL && max > 0))
		return WM_EINVAL;
	while (p < len) {
		struct ch c = ch_at(s, len, p);
		struct run r;
		size_t e, skip = 0;
		enum pii_type type = 0;

		if (c.cls != CH_DIGIT || prev == CH_DIGIT) {
			prev = c.cls;
			prev_start = p;
			p += c.len;
			continue;
		}
		run_read(s, len, p, &r);
		for (e = r.n; e > 0; e--) {
			if (!r.group_end[e - 1])
				continue;       /* spans end where a group ends */
			type = span_type(&r, e, &skip);
			if (type != 0)
				break;
		}
		if (type == 0) {
			prev = CH_DIGIT;
			prev_start = p;
			p += c.len;
			continue;
		}
		if (found < max) {
			struct pii_finding *f = &out[found];
			size_t from = (skip > 0 && prev == CH_PLUS) ? prev_start : r.start[0];

			f->type = type;
			f->offset = from;
			f->len = r.end[e - 1] - from;
			if (type == PII_MOBILE)
				mask(f->masked, r.d + skip, e - skip, 3, 4);
			else if (type == PII_ID_NUMBER)
				mask(f->masked, r.d, e, 3, 4);
			else
				mask(f->masked, r.d, e, 4, 4);
		}
		found++;
		/* The span ends at a group end: what follows is not a digit. */
		prev = r.d[e - 1] == 'X' ? CH_X : CH_DIGIT;
		prev_start = r.start[e - 1];
		p = r.end[e - 1];
	}
	return found > INT_MAX ? INT_MAX : (int)found;
}

const char *pii_type_name(enum pii_type t)
{
	switch (t) {
	case PII_MOBILE: return "mobile number";
	case PII_ID_NUMBER: return "resident ID number";
	case PII_BANK_CARD: return "bank card number";
	}
	return "personal data";
}

int pii_check(const char *text, size_t len, char *why, size_t whylen)
{
	struct pii_finding f[3];
	int n = pii_scan(text, len, f, 3), i;
	size_t used = 0;

	if (n <= 0)
		return n;
	if (why == NULL || whylen == 0)
		return WM_EPERSONAL;
	why[0] = '\0';
	for (i = 0; i < n && i < 3; i++) {
		int w = snprintf(why + used, whylen - used, "%s a %s (%s)",
		                 i == 0 ? "the text contains" : (i + 1 == n ? " and" : ","),
		                 pii_type_name(f[i].type), f[i].masked);

		if (w < 0 || (size_t)w >= whylen - used)
			return WM_EPERSONAL;   /* truncated, still NUL-terminated */
		used += (size_t)w;
	}
	if (n > 3)
		snprintf(why + used, whylen - used, " and %d more", n - 3);
	return WM_EPERSONAL;
}
