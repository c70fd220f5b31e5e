/*
 * node/pii.c: finds mobile, resident ID and bank card numbers in text
 * (rules in pii.h).
 *
 * The scan walks the text once.  At each digit that starts a group (the
 * visible character before it is not a digit) it reads ahead at most
 * RUN_MAX digits into a small run, with the positions where groups end,
 * then tries the longest span of whole groups first.  Spans always end at
 * a group end, so a number is never carved out of a longer digit run.  A
 * character is read by at most RUN_MAX read-aheads (invisible ones
 * included), so the whole scan is linear.
 */
#include "pii.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

enum ch_class {
	CH_OTHER,       /* a letter of a script, a control: ends a number */
	CH_DIGIT,
	CH_SEP,         /* punctuation, a symbol or a space: may join groups */
	CH_PLUS,        /* a plus sign: joins like CH_SEP, and may start "+86" */
	CH_X,           /* X or x: an ID number's check character */
	CH_ALNUM,       /* another Latin letter: after an X, a word goes on */
	CH_FORMAT,      /* invisible (zero-width, soft hyphen, combining mark):
	                 * skipped as if it were not there */
};

struct ch {
	enum ch_class cls;
	size_t len;             /* bytes */
	unsigned ndig;          /* CH_DIGIT: 1, or 2 for ⑬ (NFKC "13") */
	char dig[2];            /* '0'..'9' */
};

/* Decimal digits of other scripts (Unicode Nd): each block's zero, the
 * nine digits after it.  NFKC leaves most of them alone, but a reader
 * sees a number, so the scan does too. */
static const unsigned nd_zero[] = {
	0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66,
	0x0ce6, 0x0d66, 0x0de6, 0x0e50, 0x0ed0, 0x0f20, 0x1040, 0x1090, 0x17e0, 0x1810,
	0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0,
	0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x11066, 0x110f0,
	0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0,
	0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50, 0x1e140, 0x1e2f0,
	0x1e950, 0x1fbf0,
};

/* Numbers as single characters (Unicode No and the dingbats): the range
 * first..last stands for first_value, first_value + 1, ... */
static const struct { unsigned first, last, first_value; } numerals[] = {
	{ 0x00b2, 0x00b3, 2 }, { 0x00b9, 0x00b9, 1 },           /* ² ³ ¹ */
	{ 0x2070, 0x2070, 0 }, { 0x2074, 0x2079, 4 },           /* ⁰ ⁴-⁹ */
	{ 0x2080, 0x2089, 0 },                                  /* ₀-₉ */
	{ 0x2460, 0x2473, 1 }, { 0x2474, 0x2487, 1 },           /* ①-⑳ ⑴-⒇ */
	{ 0x2488, 0x249b, 1 }, { 0x24ea, 0x24ea, 0 },           /* ⒈-⒛ ⓪ */
	{ 0x24eb, 0x24f4, 11 }, { 0x24f5, 0x24fe, 1 },          /* ⓫-⓴ ⓵-⓾ */
	{ 0x24ff, 0x24ff, 0 },                                  /* ⓿ */
	{ 0x2776, 0x277f, 1 }, { 0x2780, 0x2789, 1 },           /* ❶-❿ ➀-➉ */
	{ 0x278a, 0x2793, 1 },                                  /* ➊-➓ */
	{ 0x3251, 0x325f, 21 }, { 0x32b1, 0x32bf, 36 },         /* ㉑-㉟ ㊱-㊿ */
	{ 0x1d7ce, 0x1d7d7, 0 }, { 0x1d7d8, 0x1d7e1, 0 },       /* 𝟎-𝟗 𝟘-𝟡 */
	{ 0x1d7e2, 0x1d7eb, 0 }, { 0x1d7ec, 0x1d7f5, 0 },       /* 𝟢-𝟫 𝟬-𝟵 */
	{ 0x1d7f6, 0x1d7ff, 0 },                                /* 𝟶-𝟿 */
	{ 0x1f100, 0x1f100, 0 }, { 0x1f101, 0x1f10a, 0 },       /* 🄀 🄁-🄊 */
	{ 0x1f10b, 0x1f10b, 0 }, { 0x1f10c, 0x1f10c, 0 },       /* 🄋 🄌: both zero */
};

/* Ranges [first, last] of a class, outside ASCII. */
static const struct { unsigned first, last; enum ch_class cls; } ranges[] = {
	{ 0x00a0, 0x00bf, CH_SEP },     /* Latin-1 punctuation (No and letters below) */
	{ 0x00d7, 0x00d7, CH_SEP }, { 0x00f7, 0x00f7, CH_SEP },
	{ 0x0300, 0x036f, CH_FORMAT },  /* combining marks: 1̲3̲8̲ */
	{ 0x061c, 0x061c, CH_FORMAT }, { 0x115f, 0x1160, CH_FORMAT },
	{ 0x17b4, 0x17b5, CH_FORMAT }, { 0x180b, 0x180f, CH_FORMAT },
	{ 0x2000, 0x200a, CH_SEP },     /* spaces */
	{ 0x200b, 0x200f, CH_FORMAT },  /* zero-width space, (non-)joiner, marks */
	{ 0x2010, 0x2029, CH_SEP },     /* dashes ‐ – — ―, quotes, dots, line separators */
	{ 0x202a, 0x202e, CH_FORMAT }, { 0x202f, 0x205f, CH_SEP },
	{ 0x2060, 0x206f, CH_FORMAT },  /* word joiner, invisible operators */
	{ 0x20d0, 0x20ff, CH_FORMAT },  /* enclosing marks: the keycap of 1️⃣ */
	{ 0x2212, 0x2219, CH_SEP },     /* − ∕ ∗ ∙ */
	{ 0x2500, 0x257f, CH_SEP },     /* box drawing: ─ as a dash */
	{ 0x2e00, 0x2e7f, CH_SEP },     /* supplemental punctuation: ⸺ */
	{ 0x3000, 0x3004, CH_SEP },     /* ideographic space, 、 。 */
	{ 0x3008, 0x3020, CH_SEP },     /* brackets 【】「」, 〜 */
	{ 0x3030, 0x3030, CH_SEP }, { 0x303d, 0x303d, CH_SEP },
	{ 0x30fb, 0x30fb, CH_SEP },     /* ・ */
	{ 0x3164, 0x3164, CH_FORMAT },
	{ 0xfe00, 0xfe0f, CH_FORMAT },  /* variation selectors */
	{ 0xfe10, 0xfe19, CH_SEP }, { 0xfe20, 0xfe2f, CH_FORMAT },
	{ 0xfe30, 0xfe6b, CH_SEP },     /* compatibility and small forms: ﹣ ﹒ */
	{ 0xfeff, 0xfeff, CH_FORMAT },
	{ 0xff01, 0xff0f, CH_SEP }, { 0xff1a, 0xff20, CH_SEP },   /* full-width ！ － ： */
	{ 0xff21, 0xff3a, CH_ALNUM }, { 0xff3b, 0xff40, CH_SEP },
	{ 0xff41, 0xff5a, CH_ALNUM }, { 0xff5b, 0xff65, CH_SEP },
	{ 0xffa0, 0xffa0, CH_FORMAT }, { 0xffe0, 0xffee, CH_SEP },
	{ 0xfff9, 0xfffb, CH_FORMAT }, { 0x1d173, 0x1d17a, CH_FORMAT },
	{ 0xe0000, 0xe007f, CH_FORMAT }, { 0xe0100, 0xe01ef, CH_FORMAT },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The code point at s[i], or -1 for a byte that does not start well-formed
 * UTF-8 (then read as one byte of CH_OTHER: no continuation byte looks like
 * anything we look for). */
static long utf8_at(const unsigned char *s, size_t len, size_t i, size_t *n)
{
	unsigned char b = s[i];
	size_t need, k;
	unsigned long cp;

	*n = 1;
	if (b < 0x80)
		return b;
	if (b >= 0xc2 && b <= 0xdf) {
		need = 1;
		cp = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		need = 2;
		cp = b & 0x0f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		need = 3;
		cp = b & 0x07;
	} else {
		return -1;
	}
	if (len - i <= need)
		return -1;
	for (k = 1; k <= need; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i + k] & 0x3f);
	}
	/* overlong, surrogate or beyond U+10FFFF */
	if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*n = need + 1;
	return (long)cp;
}

static void set_number(struct ch *c, unsigned v)
{
	c->cls = CH_DIGIT;
	if (v >= 10) {
		c->ndig = 2;
		c->dig[0] = (char)('0' + v / 10);
		c->dig[1] = (char)('0' + v % 10);
	} else {
		c->ndig = 1;
		c->dig[0] = (char)('0' + v);
	}
}

static enum ch_class ascii_class(unsigned b)
{
	if (b == 'X' || b == 'x')
		return CH_X;
	if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'))
		return CH_ALNUM;
	if (b == '+')
		return CH_PLUS;
	if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || (b > ' ' && b < 0x7f))
		return CH_SEP;
	return CH_OTHER;
}

/* The character at s[i] (i < len), its digits folded as NFKC would (and
 * further: every decimal digit of every script), its class otherwise. */
static struct ch ch_at(const unsigned char *s, size_t len, size_t i)
{
	struct ch c = { CH_OTHER, 1, 0, { 0, 0 } };
	long cp = utf8_at(s, len, i, &c.len);
	unsigned u, k;

	if (cp < 0)
		return c;
	u = (unsigned)cp;
	if (u >= '0' && u <= '9') {
		set_number(&c, u - '0');
		return c;
	}
	if (u < 0x80) {
		c.cls = ascii_class(u);
		return c;
	}
	if (u >= 0x3400 && u <= 0x9fff)
		return c;                               /* Chinese characters: most of the text */
	for (k = 0; k < NELEM(nd_zero); k++)
		if (u >= nd_zero[k] && u <= nd_zero[k] + 9) {
			set_number(&c, u - nd_zero[k]);
			return c;
		}
	for (k = 0; k < NELEM(numerals); k++)
		if (u >= numerals[k].first && u <= numerals[k].last) {
			set_number(&c, numerals[k].first_value + (u - numerals[k].first));
			return c;
		}
	if (u == 0xff38 || u == 0xff58) {               /* Ｘ ｘ */
		c.cls = CH_X;
		return c;
	}
	if (u == 0xff0b || u == 0xfe62) {               /* ＋ ﹢ */
		c.cls = CH_PLUS;
		return c;
	}
	if (u == 0xad) {                                /* soft hyphen */
		c.cls = CH_FORMAT;
		return c;
	}
	if (u == 0xaa || u == 0xb5 || u == 0xba || (u >= 0xbc && u <= 0xbe))
		return c;                               /* ª µ º, ¼ ½ ¾ */
	for (k = 0; k < NELEM(ranges); k++)
		if (u >= ranges[k].first && u <= ranges[k].last) {
			c.cls = ranges[k].cls;
			return c;
		}
	return c;
}

/* Enough for the longest span we test (19) plus one, to know a group goes on. */
#define RUN_MAX 20

/* Visible separators allowed between two groups of one number: "-",
 * ") ", " - ", " — " (invisible ones are not counted). */
#define SEP_MAX 3

/* Digits read ahead from a group start. */
struct run {
	size_t n;
	char d[RUN_MAX];                /* '0'..'9' or 'X' (only last, ends the run) */
	size_t start[RUN_MAX];          /* byte offset of each character */
	size_t end[RUN_MAX];            /* byte offset just after it */
	unsigned char group_end[RUN_MAX];  /* a group ends after d[i] */
};

/* The next character at or after p that is not CH_FORMAT; *at = where. */
static struct ch visible_at(const unsigned char *s, size_t len, size_t p, size_t *at)
{
	struct ch c = { CH_OTHER, 0, 0, { 0, 0 } };

	while (p < len) {
		c = ch_at(s, len, p);
		if (c.cls != CH_FORMAT)
			break;
		p += c.len;
	}
	*at = p;
	return p < len ? c : (struct ch){ CH_OTHER, 0, 0, { 0, 0 } };
}

static void run_read(const unsigned char *s, size_t len, size_t p, struct run *r)
{
	memset(r, 0, sizeof(*r));
	for (;;) {
		size_t q, nsep = 0, k;
		struct ch c = visible_at(s, len, p, &p);

		if (c.cls == CH_DIGIT) {
			if (r->n + c.ndig > RUN_MAX)
				return;         /* the group goes on beyond any span we test */
			for (k = 0; k < c.ndig; k++) {
				r->d[r->n] = c.dig[k];
				r->start[r->n] = p;
				r->end[r->n] = p + c.len;
				r->n++;
			}
			p += c.len;
			continue;
		}
		if (r->n == 0)
			return;
		r->group_end[r->n - 1] = 1;
		/* at most SEP_MAX separators, then another group or a check X */
		while ((c.cls == CH_SEP || c.cls == CH_PLUS) && nsep < SEP_MAX) {
			nsep++;
			c = visible_at(s, len, p + c.len, &p);
		}
		if (c.cls == CH_X && r->n < RUN_MAX) {
			/* an ID's check character, unless a word goes on after it */
			enum ch_class next = visible_at(s, len, p + c.len, &q).cls;

			if (next != CH_DIGIT && next != CH_X && next != CH_ALNUM) {
				r->d[r->n] = 'X';
				r->start[r->n] = p;
				r->end[r->n] = p + c.len;
				r->group_end[r->n] = 1;
				r->n++;
			}
			return;
		}
		if (c.cls != CH_DIGIT || nsep == 0)
			return;
	}
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

/* A mobile number in any grouping but one with a group of two digits: that
 * is how dates, times, prices and coordinates are written ("18.252847,
 * 109.511909" holds 18252847109), and how nobody writes a phone number. */
static int mobile_grouping(const struct run *r, size_t from, size_t to)
{
	size_t g[RUN_MAX], n = run_groups(r, from, to, g), i;

	for (i = 0; i < n; i++)
		if (g[i] == 2)
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

/* Whole; in groups of four (the last one shorter), Amex's 4-6-5 or the
 * 6-6-7 of 19-digit cards, as printed on cards; or, spelt out to slip
 * past a scan, in groups of one other length (single digits, or three and
 * more; the last group no longer) if the length is that of a mainland card
 * (16 or 19).  Not any grouping: a date and a time glued to a number
 * ("2026-11-29 1381...") or a list of room numbers ("127、128、129、130、
 * 131") would then make a card one time in ten. */
static int card_grouping(const struct run *r, size_t to)
{
	size_t g[RUN_MAX], n = run_groups(r, 0, to, g), i;

	if (n == 1)
		return 1;
	if (n == 3 && ((g[0] == 4 && g[1] == 6 && g[2] == 5) || (g[0] == 6 && g[1] == 6 && g[2] == 7)))
		return 1;
	if (g[0] == 2 || (g[0] != 4 && to != 16 && to != 19))
		return 0;
	for (i = 1; i + 1 < n; i++)
		if (g[i] != g[0])
			return 0;
	return g[n - 1] <= g[0];
}

/* What the span d[0..e) of the run is, if anything; *skip = how many
 * leading digits are a country prefix rather than the number.  ID numbers
 * may be grouped any way: MOD 11-2 and a birth date keep dates and amounts
 * out. */
static enum pii_type span_type(const struct run *r, size_t e, size_t *skip)
{
	const char *d = r->d;

	*skip = 0;
	if (e == 18 && is_id_number(d))
		return PII_ID_NUMBER;
	if (!all_digits(d, e))
		return 0;
	if (e == 11 && is_mobile(d) && mobile_grouping(r, 0, e))
		return PII_MOBILE;
	if (e == 13 && d[0] == '8' && d[1] == '6' && is_mobile(d + 2) && mobile_grouping(r, 2, e)) {
		*skip = 2;
		return PII_MOBILE;
	}
	if (e == 15 && memcmp(d, "0086", 4) == 0 && is_mobile(d + 4) && mobile_grouping(r, 4, e)) {
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

		if (c.cls == CH_FORMAT) {
			p += c.len;     /* invisible: "1\u200b3" is one group */
			continue;
		}
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
