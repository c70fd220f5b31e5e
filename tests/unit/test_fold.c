/*
 * Unit test of the search's folding (store_fold, node/store/store_bigram.c),
 * which folds most characters by table and the rest by libunistring in runs
 * cut where the fold never reaches across: byte for byte against what it
 * stands for, u8_tolower with NFKC of the whole text (ASCII letters folded
 * alone when the text is not UTF-8), on real texts and on many generated
 * ones: random code points from the blocks where folding is hard (combining
 * marks after ASCII letters, Σ beside letters and case-ignorable
 * characters, fullwidth forms, U+3000, compatibility ideographs, Hangul
 * jamo, kana voicing marks) mixed with what the table has.
 * FOLD_TEST_SEED=<n> replays a run (the seed is printed).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <unicase.h>

#include "seeded.h"
#include "store_int.h"

/* The fold store_fold must give: the whole text through libunistring. */
static uint8_t *fold_whole(const char *s, size_t n, size_t *len)
{
	uint8_t *f = u8_tolower((const uint8_t *)s, n, NULL, UNINORM_NFKC, NULL, len);
	size_t i;

	if (f == NULL) {
		assert_int_not_equal(errno, ENOMEM);
		assert_non_null(f = malloc(n + 1));
		for (i = 0; i < n; i++)
			f[i] = s[i] >= 'A' && s[i] <= 'Z' ? (uint8_t)(s[i] - 'A' + 'a') : (uint8_t)s[i];
		*len = n;
	}
	return f;
}

static void check(const char *s, size_t n)
{
	char *got = NULL;
	uint8_t *want;
	size_t glen = 0, wlen = 0, i;

	assert_int_equal(store_fold(s, n, &got, &glen), 0);
	want = fold_whole(s, n, &wlen);
	if (glen != wlen || memcmp(got, want, wlen) != 0) {
		printf("# seed %llu: the fold of", (unsigned long long)seed);
		for (i = 0; i < n; i++)
			printf(" %02x", (unsigned char)s[i]);
		printf("\n# is");
		for (i = 0; i < glen; i++)
			printf(" %02x", (unsigned char)got[i]);
		printf("\n# not");
		for (i = 0; i < wlen; i++)
			printf(" %02x", want[i]);
		printf("\n");
		fail();
	}
	free(got);
	free(want);
}

static void check_str(const char *s)
{
	check(s, strlen(s));
}

/* Texts people write here, and the bench's (tests/bench/mix.c). */
static void test_fold_real(void **state)
{
	static const char *const texts[] = {
		"",
		"Lost and found: a black CAT near Gate 3, call 138-0000-0000.",
		"近期我辖区发生多起冒充客服退款的电信诈骗案件，骗子以商品质量问题为由诱导下载会议软件并共享屏幕。",
		"提醒：公检法机关不会通过电话要求转账到安全账户，遇到此类情况请立即挂断并拨打110。",
		"今晚八点起新华村口道路施工，请绕行东风路，注意安全。",
		"收到，已通知巡逻组，谢谢提供线索。",
		"反诈提醒 第12期\nfraud 防诈骗 诈骗",
		"３栋７８岁老人走失　请联系ＡＢＣ物业（电话：１１０）",
		"「通知」《安全手册》【重要】——请于１２月３日前提交。",
		"Café crème, naïve Zoë; ΟΔΥΣΣΕΥΣ ΣΑΣ, Σ. ΑΣ: ΑΣ'Β ΑΣ.Β",
		"ΑΣ.b ΑΣ:b ΑΣ'b ΑΣ^b ΑΣ`b ΑΣb ΑΣ1b a.ΣΑ aΣΑ",
		"Straße İstanbul ﬁle ﬀ ㍿ ① ㈱ Ⅻ ℃ ㎏ Ω Å",
		"ｶﾞｷﾞ ガギ か\xe3\x82\x99 ᄀ\xe1\x85\xa1\xe1\x86\xa8 한국어 豈更車",
		"e\xcc\x81 A\xcc\x8a\xcc\x81 \xef\xbd\x85\xcc\x81 ，\xcc\x81 。\xcc\x81 中\xcc\x81",
		"not UTF-8: \xff\xfe ABC \xe4\xb8 中文",
		"\xe4\xb8\xad\xe6\x96",
		"\xed\xa0\x80 surrogate, \xc0\xaf overlong",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
		check_str(texts[i]);
}

/* Blocks to draw code points from: [lo, hi]. */
static const uint32_t blocks[][2] = {
	{ 0x20, 0x7E },         /* ASCII */
	{ 'A', 'Z' },           /* letters, cased, beside Σ */
	{ '\'', '\'' },         /* case-ignorable ASCII */
	{ '.', '.' },
	{ ':', ':' },
	{ '^', '^' },
	{ '`', '`' },
	{ 0x4E00, 0x9FFF },     /* CJK Unified Ideographs */
	{ 0x3000, 0x303F },     /* CJK punctuation, U+3000 */
	{ 0xFF00, 0xFFEF },     /* fullwidth and halfwidth forms */
	{ 0xF900, 0xFAFF },     /* compatibility ideographs */
	{ 0x0300, 0x036F },     /* combining marks */
	{ 0x0300, 0x0301 },
	{ 0x0338, 0x0338 },     /* composes with < = > */
	{ 0x3099, 0x309A },     /* kana voicing marks */
	{ 0x3040, 0x30FF },     /* kana */
	{ 0x0391, 0x03C9 },     /* Greek */
	{ 0x03A3, 0x03A3 },     /* Σ */
	{ 0x00AD, 0x00AD },     /* soft hyphen: case-ignorable */
	{ 0x00C0, 0x024F },     /* Latin-1 and Latin Extended */
	{ 0x1100, 0x11FF },     /* Hangul jamo */
	{ 0xAC00, 0xAC40 },     /* Hangul syllables */
	{ 0x2100, 0x218F },     /* letterlike forms, number forms */
	{ 0x3200, 0x33FF },     /* enclosed CJK, CJK compatibility */
	{ 0xFB00, 0xFB06 },     /* ligatures */
	{ 0x1E00, 0x1EFF },     /* Latin Extended Additional */
	{ 0x0130, 0x0131 },     /* İ ı */
	{ 0x20000, 0x2A6DF },   /* CJK Extension B */
};

static size_t put_utf8(uint32_t c, char *o)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xC0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xE0 | c >> 12);
		o[1] = (char)(0x80 | (c >> 6 & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | c >> 18);
	o[1] = (char)(0x80 | (c >> 12 & 0x3F));
	o[2] = (char)(0x80 | (c >> 6 & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* Random texts: mostly of a few blocks each, so that runs of the table's
 * characters and runs of others meet in every way; one in a hundred with a
 * byte that is not UTF-8. */
static void test_fold_generated(void **state)
{
	char buf[64 * 4 + 1];
	size_t t, i, n, len, nb = sizeof blocks / sizeof blocks[0];
	uint32_t c;
	size_t pick[3];

	(void)state;
	for (t = 0; t < 200000; t++) {
		for (i = 0; i < 3; i++)
			pick[i] = (size_t)(rnd() % nb);
		len = (size_t)(rnd() % 24);
		for (i = n = 0; i < len; i++) {
			const uint32_t *b = blocks[rnd() % 4 == 0 ? rnd() % nb : pick[rnd() % 3]];

			c = b[0] + (uint32_t)(rnd() % (b[1] - b[0] + 1));
			n += put_utf8(c, buf + n);
		}
		if (n > 0 && rnd() % 100 == 0)
			buf[rnd() % n] = (char)(0x80 + rnd() % 0x80);
		check(buf, n);
	}
}

/* Every code point of the table's blocks alone, and after A, Σ and ΑΣ. */
static void test_fold_blocks(void **state)
{
	static const char *const before[] = { "", "A", "\xce\xa3", "\xce\x91\xce\xa3" };
	static const uint32_t ranges[][2] = {
		{ 0x00, 0x7F }, { 0x3000, 0x303F }, { 0x4E00, 0x9FFF }, { 0xFF00, 0xFFEF },
	};
	char buf[16];
	size_t r, b, n;
	uint32_t c;

	(void)state;
	for (r = 0; r < sizeof ranges / sizeof ranges[0]; r++)
		for (c = ranges[r][0]; c <= ranges[r][1]; c++)
			for (b = 0; b < sizeof before / sizeof before[0]; b++) {
				n = strlen(before[b]);
				memcpy(buf, before[b], n);
				n += put_utf8(c, buf + n);
				check(buf, n);
				/* a combining acute after it */
				buf[n] = (char)0xCC;
				buf[n + 1] = (char)0x81;
				check(buf, n + 2);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_real),
		cmocka_unit_test(test_fold_blocks),
		cmocka_unit_test(test_fold_generated),
	};

	seeded_start("FOLD_TEST_SEED", "fold tests");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
