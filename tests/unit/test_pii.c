/*
 * Unit tests for node/pii: what the personal-data check finds and, just as
 * important, what it leaves alone.  Valid ID and card numbers below were
 * computed with their check algorithms (GB 11643 MOD 11-2, Luhn); each
 * negative that is meant to fail a check is paired with a positive that
 * differs only there, so the test cannot pass by finding nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pii.h"

#define MAXF 8

/* Scan a NUL-terminated string; returns the count, findings in f. */
static int scan(const char *t, struct pii_finding f[MAXF])
{
	memset(f, 0, sizeof(struct pii_finding) * MAXF);
	return pii_scan(t, strlen(t), f, MAXF);
}

/* Exactly one finding, of this type, covering exactly `what` inside t. */
static void expect_one(const char *t, enum pii_type type, const char *what, const char *masked)
{
	struct pii_finding f[MAXF];
	const char *at = strstr(t, what);
	int n = scan(t, f);

	assert_non_null(at);
	if (n != 1)
		fail_msg("expected 1 finding in \"%s\", got %d", t, n);
	if (f[0].type != type)
		fail_msg("\"%s\": expected %s, got %s", t, pii_type_name(type), pii_type_name(f[0].type));
	assert_int_equal(f[0].offset, (size_t)(at - t));
	assert_int_equal(f[0].len, strlen(what));
	if (masked != NULL)
		assert_string_equal(f[0].masked, masked);
}

static void expect_none(const char *t)
{
	struct pii_finding f[MAXF];
	int n = scan(t, f);

	if (n != 0)
		fail_msg("expected nothing in \"%s\", got %d: %s %s", t, n, pii_type_name(f[0].type), f[0].masked);
}

static void test_mobile(void **state)
{
	(void)state;
	expect_one("13812345678", PII_MOBILE, "13812345678", "138****5678");
	expect_one("请联系13812345678王先生", PII_MOBILE, "13812345678", "138****5678");
	expect_one("电话：19912345678。", PII_MOBILE, "19912345678", "199****5678");
	expect_one("call 138 1234 5678 now", PII_MOBILE, "138 1234 5678", "138****5678");
	expect_one("手机138-1234-5678", PII_MOBILE, "138-1234-5678", "138****5678");
	expect_one("手机 138 12345678", PII_MOBILE, "138 12345678", NULL);
	expect_one("手机+86 138 1234 5678。", PII_MOBILE, "+86 138 1234 5678", "138****5678");
	expect_one("手机+86-138-1234-5678", PII_MOBILE, "+86-138-1234-5678", "138****5678");
	expect_one("(+8613812345678)", PII_MOBILE, "+8613812345678", "138****5678");
	expect_one("0086 13812345678", PII_MOBILE, "0086 13812345678", "138****5678");
	expect_one("0086-138-1234-5678", PII_MOBILE, "0086-138-1234-5678", "138****5678");
	expect_one("86 13812345678", PII_MOBILE, "86 13812345678", "138****5678");
	/* 8613812345678 also passes Luhn: the phone reading wins */
	expect_one("8613812345678", PII_MOBILE, "8613812345678", "138****5678");
	/* full-width digits, plus, hyphen, ideographic space */
	expect_one("联系１３８１２３４５６７８谢谢", PII_MOBILE, "１３８１２３４５６７８", "138****5678");
	expect_one("＋８６　１３８－１２３４－５６７８", PII_MOBILE, "＋８６　１３８－１２３４－５６７８",
	           "138****5678");
	expect_one("mixed 138１２３４5678.", PII_MOBILE, "138１２３４5678", "138****5678");
	/* an extension after a hyphen, or a word after the number */
	expect_one("13812345678-1", PII_MOBILE, "13812345678", NULL);
	expect_one("13812345678abc", PII_MOBILE, "13812345678", NULL);
	expect_one("tel:15912345678", PII_MOBILE, "15912345678", NULL);
	/* the date before is not glued on, even though 2026112913812340000
	 * passes Luhn: a date is not a card's grouping */
	expect_one("2026-11-29 13812340000", PII_MOBILE, "13812340000", NULL);
}

static void test_mobile_second_digit(void **state)
{
	char t[16];
	int d;

	(void)state;
	for (d = 0; d <= 9; d++) {
		snprintf(t, sizeof(t), "1%d812345678", d);
		if (d >= 3)
			expect_one(t, PII_MOBILE, t, NULL);
		else
			expect_none(t);
	}
	expect_none("23812345678");
}

static void test_mobile_negatives(void **state)
{
	(void)state;
	expect_none("1381234567");                  /* 10 digits */
	expect_none("138123456789");                /* 12 digits */
	expect_none("编号2013912340000号");          /* inside a longer run (fails Luhn) */
	expect_none("13812345678901234567");        /* 20 digits */
	expect_none("138    1234 5678");            /* four separators: not one number */
	expect_none("13 812345678");                /* a two-digit group: a date's or a time's */
	expect_none("13.81.23.45.678");
	expect_none("8612812345678");               /* 86 and not a mobile number */
	expect_none("+87 138123456");
}

/* Issue 8, item 12: each way of writing the number that got through. */
static void test_spellings(void **state)
{
	static const char *const mobiles[] = {
		"138.1234.5678", "138/1234/5678", "138)1234-5678", "1 3 8 1 2 3 4 5 6 7 8",
		"1-3-8-1-2-3-4-5-6-7-8", "1.3812345678", "138  1234 5678", "138 — 1234 — 5678",
		"138\u200b1234\u200b5678",                                  /* zero-width space */
		"1\u200b3\u200b8\u200b1\u200b2\u200b3\u200b4\u200b5\u200b6\u200b7\u200b8",
		"138\u00ad1234\u00ad5678",                                  /* soft hyphen */
		"138\u200d1234\u2060\ufeff5678",                            /* joiner, word joiner, BOM */
		"138\ufe631234\ufe635678",                                  /* ﹣ */
		"138\u20141234\u20145678",                                  /* — */
		"138\u22121234\u22125678", "138\u30fb1234\u30fb5678", "138\u30011234\u30015678",
		"\u2460\u2462\u2467\u2460\u2461\u2462\u2463\u2464\u2465\u2466\u2467",   /* ①③⑧… */
		"\u246c\u2467\u2460\u2461\u2462\u2463\u2464\u2465\u2466\u2467",         /* ⑬⑧… */
		"\u2780\u2782\u2787\u2780\u2781\u2782\u2783\u2784\u2785\u2786\u2787",   /* ➀➂➇… */
		"\u2474\u2476\u247b\u2474\u2475\u2476\u2477\u2478\u2479\u247a\u247b",   /* ⑴⑶⑻… */
		"\U0001d7cf\U0001d7d1\U0001d7d6\U0001d7cf\U0001d7d0\U0001d7d1"
		"\U0001d7d2\U0001d7d3\U0001d7d4\U0001d7d5\U0001d7d6",                  /* 𝟏𝟑𝟖… */
		"\U0001d7d9\U0001d7db\U0001d7e0\U0001d7d9\U0001d7da\U0001d7db"
		"\U0001d7dc\U0001d7dd\U0001d7de\U0001d7df\U0001d7e0",                  /* 𝟙𝟛𝟠… */
		"1\ufe0f\u20e33\ufe0f\u20e38\ufe0f\u20e31\ufe0f\u20e32\ufe0f\u20e33\ufe0f\u20e3"
		"4\ufe0f\u20e35\ufe0f\u20e36\ufe0f\u20e37\ufe0f\u20e38",   /* 1️⃣3️⃣… */
		"1\u03323\u03328\u03321\u03322\u03323\u03324\u03325\u03326\u03327\u03328",
		"\u00b9\u00b3\u2078\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078",   /* ¹³⁸… */
		"\u0661\u0663\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",   /* Arabic-Indic */
		"\uff11\uff13\uff18\uff0e\uff11\uff12\uff13\uff14\uff0e\uff15\uff16\uff17\uff18",
		"+86.138.1234.5678", "(+86)138 1234 5678",
	};
	size_t i;
	char t[160];

	(void)state;
	/* (the finding ends with the last digit: a keycap or an underline
	 * after it would be outside) */
	for (i = 0; i < sizeof(mobiles) / sizeof(mobiles[0]); i++) {
		snprintf(t, sizeof(t), "联系%s王先生", mobiles[i]);
		expect_one(t, PII_MOBILE, mobiles[i][0] == '(' ? mobiles[i] + 1 : mobiles[i], "138****5678");
	}
	/* 🄌 (U+1F10C) is a zero, as 🄋 is: the mask shows the digits read */
	expect_one("联系138123456\U0001f10c8王先生", PII_MOBILE, "138123456\U0001f10c8", "138****5608");
	/* "(138)1234-5678": the finding starts at the first digit */
	expect_one("电话(138)1234-5678", PII_MOBILE, "138)1234-5678", "138****5678");

	/* an ID number with dots, with spaces, full-width with a middle dot */
	expect_one("身份证110105.19491231.002X。", PII_ID_NUMBER, "110105.19491231.002X", "110***********002X");
	expect_one("身份证 1101 0519 4912 3100 2X", PII_ID_NUMBER, "1101 0519 4912 3100 2X", NULL);
	expect_one("身份证110105-19491231-002-X", PII_ID_NUMBER, "110105-19491231-002-X", NULL);
	expect_one("证件\uff11\uff11\uff10\uff11\uff10\uff15\u00b7\uff11\uff19\uff14\uff19\uff11\uff12"
	           "\uff13\uff11\u00b7\uff10\uff10\uff12\uff38", PII_ID_NUMBER,
	           "\uff11\uff11\uff10\uff11\uff10\uff15\u00b7\uff11\uff19\uff14\uff19\uff11\uff12"
	           "\uff13\uff11\u00b7\uff10\uff10\uff12\uff38", "110***********002X");

	/* a card number in groups of 3, 6-6-7, single digits, with dots */
	expect_one("卡号622 202 123 456 789 4", PII_BANK_CARD, "622 202 123 456 789 4", "6222********7894");
	expect_one("卡号621700 123456 7890122", PII_BANK_CARD, "621700 123456 7890122", "6217***********0122");
	expect_one("卡号6 2 2 2 0 2 1 2 3 4 5 6 7 8 9 4", PII_BANK_CARD, "6 2 2 2 0 2 1 2 3 4 5 6 7 8 9 4", NULL);
	expect_one("卡号6222.0212.3456.7894", PII_BANK_CARD, "6222.0212.3456.7894", NULL);
	expect_one("卡号\u2465\u2461\u2461\u2461\u24ea\u2461\u2460\u2461\u2462\u2463\u2464"
	           "\u2465\u2466\u2467\u2468\u2463", PII_BANK_CARD,
	           "\u2465\u2461\u2461\u2461\u24ea\u2461\u2460\u2461\u2462\u2463\u2464"
	           "\u2465\u2466\u2467\u2468\u2463", "6222********7894");
}

/* Text officers post, with dates, times, prices, hotlines and short numbers:
 * none of it is personal data.  (A false positive costs an officer in a
 * hurry a second try with --allow-personal-data.) */
static void test_bulletins(void **state)
{
	static const char *const texts[] = {
		"【防诈骗提醒】2026年11月29日14:30，新华村一居民接到自称“公检法”的电话，被骗转账3.8万元。"
		"请勿向陌生账户转账，如有疑问请拨打110或96110咨询。",
		"停水通知：因管道维修，12月3日8:00-18:00新华村1-5栋停水，请提前储水。",
		"寻物启事：11/28 晚19:30左右在东门菜市场遗失黑色钱包一个，内有现金约500元及证件。",
		"交通提示：2026-12-01 07:00至2026-12-01 09:30，幸福路（1号-88号）施工，单向通行。",
		"交通提示：2026-12-01 07:00 - 2026-12-03 19:30 幸福路施工。",
		"电动车充电安全：每晚22:00-次日6:00禁止在楼道充电，违者罚款200-500元。",
		"天气预警：预计12月5日至7日最低气温2-4℃，局部有雨，降雨量10~25毫米。",
		"Lost dog, brown, about 12 kg, last seen 2026/11/30 around 18:45 near gate 3.",
		"报警电话110，消防119，急救120，交通事故122，市民热线12345，反诈专线96110。",
		"本周巡逻时间：周一至周五 19:00-21:00，周六 09:00-11:30、14:00-17:00。",
		"时间：13:30-14:45、15:00-16:15、16:30-17:45、18:00-19:15",
		"2026.12.01—2026.12.31 社区开展反诈宣传，地点：3栋101室。",
		"2026.12.1-2026.12.31, 2027.1.3-2027.1.18",
		"价格：白菜1.5元/斤，猪肉13.8元/斤，鸡蛋6.5元/斤。",
		"会议于2026年12月1日（周二）15:00在村委会二楼会议室召开，预计90分钟。",
		"损失金额：¥12,800.00；另 1,234,567.89 元已追回。",
		"车牌号粤B·12345的白色轿车请于12月2日前挪车。",
		"疫苗接种：12月8日-12月10日，上午8:30-11:30，下午14:00-16:30。",
		"第1、3、5、7、9号楼本周六上午9点消杀。",
		"体温36.5℃，血压120/80，心率72次/分。",
		"集合地点 18.252847, 109.511909（三亚湾路口），13.5 km。",
		"坐标 22.543096,114.057865 半径 2000 米",
		"座机 0755-8345 6789，传真 (0755) 8345-6780。",
		"邮编 518000，第 12 号楼 3 单元 501 室，门禁码 1357#。",
		"2026-11-29 14:30:00 ~ 2026-11-29 16:45:30",
		"比分 3:1，第 2、3 名各奖 500 元。",
		/* room numbers that pass Luhn together (15 and 18 digits) */
		"3栋127、128、129、130、131室今晚停电。",
		"停电：101 102 103 104 105 106 室。",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		expect_none(texts[i]);
}

static void test_id_number(void **state)
{
	(void)state;
	expect_one("11010519491231002X", PII_ID_NUMBER, "11010519491231002X", "110***********002X");
	expect_one("身份证号11010519491231002x，", PII_ID_NUMBER, "11010519491231002x", "110***********002X");
	expect_one("身份证号１１０１０５１９４９１２３１００２Ｘ。", PII_ID_NUMBER,
	           "１１０１０５１９４９１２３１００２Ｘ", "110***********002X");
	expect_one("ID 440308199003071235 ok", PII_ID_NUMBER, "440308199003071235", "440***********1235");
	expect_one("ID 110105 19491231 002X ok", PII_ID_NUMBER, "110105 19491231 002X", NULL);
	/* passes Luhn as well: reported once, as an ID number */
	expect_one("证件440308199003070056", PII_ID_NUMBER, "440308199003070056", NULL);
	/* an X followed by more letters is a word, not a check character */
	expect_none("11010519491231002XYZ");
}

static void test_id_negatives(void **state)
{
	(void)state;
	/* wrong check character (the right ones are X and 5) */
	expect_none("110105194912310021");
	expect_none("11010519491231002 ");
	expect_none("440308199003071236");
	expect_none("44030819900307123X");
	/* a valid check character but month 13 */
	expect_none("440308199013071239");
	/* 17 and 19 characters, region 0 */
	expect_none("44030819900307123");
	expect_none("4403081990030712351");
	expect_none("040308199003071235");
}

static void test_bank_card(void **state)
{
	(void)state;
	expect_one("卡号6222021234567894", PII_BANK_CARD, "6222021234567894", "6222********7894");
	expect_one("卡号 6222 0212 3456 7894 工商银行", PII_BANK_CARD, "6222 0212 3456 7894", "6222********7894");
	expect_one("4111-1111-1111-1111", PII_BANK_CARD, "4111-1111-1111-1111", "4111********1111");
	expect_one("银联6217001234567890122", PII_BANK_CARD, "6217001234567890122", "6217***********0122");
	expect_one("6217 0012 3456 7890 122", PII_BANK_CARD, "6217 0012 3456 7890 122", NULL);
	expect_one("Amex 3782 822463 10005.", PII_BANK_CARD, "3782 822463 10005", "3782*******0005");
	expect_one("６２２２０２１２３４５６７８９４", PII_BANK_CARD, "６２２２０２１２３４５６７８９４",
	           "6222********7894");
	expect_one("6225880137906708", PII_BANK_CARD, "6225880137906708", NULL);
}

static void test_bank_card_negatives(void **state)
{
	(void)state;
	expect_none("6222021234567891");            /* Luhn fails (…94 passes) */
	expect_none("6222 0212 3456 7891");
	expect_none("4111111111111112");
	expect_none("622202123456");                /* 12 digits */
	expect_none("62220212345678940");           /* 17 digits, Luhn fails */
	expect_none("62220212345678941234");        /* 20 digits */
	expect_none("0000000000000000");            /* starts with 0 */
	expect_none("62220 21234 567894");          /* not a card's grouping */
}

static void test_ordinary_numbers(void **state)
{
	(void)state;
	expect_none("");
	expect_none("2026年11月29日");
	expect_none("损失50000元");
	expect_none("2026-11-29 14:30 在新华村东门");
	expect_none("金额 1,234,567.89 元，共 3 人");
	expect_none("请拨打110或12345");
	expect_none("第 12 号楼 3 单元 501 室");
	expect_none("12345678901234567890");                        /* a 20-digit run */
	expect_none("123456789012345678901234567890123456789");    /* longer */
	expect_none("邮编 518000，电话区号 0755");
	expect_none("+86");
	expect_none("XXXXXXXX xxxxx");
}

static void test_several_and_limits(void **state)
{
	const char *t = "张三 13812345678，身份证 11010519491231002X，卡 6222 0212 3456 7894，李四 15912345678";
	struct pii_finding f[MAXF], two[2];
	char why[WM_WHY_LEN];
	int n;

	(void)state;
	n = scan(t, f);
	assert_int_equal(n, 4);
	assert_int_equal(f[0].type, PII_MOBILE);
	assert_int_equal(f[1].type, PII_ID_NUMBER);
	assert_int_equal(f[2].type, PII_BANK_CARD);
	assert_int_equal(f[3].type, PII_MOBILE);
	assert_string_equal(f[3].masked, "159****5678");
	assert_true(f[0].offset < f[1].offset && f[1].offset < f[2].offset && f[2].offset < f[3].offset);

	/* fewer slots than findings: the count is still the total */
	memset(two, 0, sizeof(two));
	assert_int_equal(pii_scan(t, strlen(t), two, 2), 4);
	assert_int_equal(two[1].type, PII_ID_NUMBER);
	assert_int_equal(pii_scan(t, strlen(t), NULL, 0), 4);
	/* only len bytes are read: cut inside the first number */
	assert_int_equal(pii_scan(t, strlen("张三 1381234567"), f, MAXF), 0);
	assert_int_equal(pii_scan(t, strlen("张三 13812345678"), f, MAXF), 1);

	assert_int_equal(pii_scan(NULL, 0, NULL, 0), 0);
	assert_int_equal(pii_scan(NULL, 5, f, MAXF), WM_EINVAL);
	assert_int_equal(pii_scan(t, 5, NULL, 3), WM_EINVAL);

	/* pii_check */
	assert_int_equal(pii_check("nothing here 2026", 17, why, sizeof(why)), 0);
	assert_int_equal(pii_check(t, strlen(t), why, sizeof(why)), WM_EPERSONAL);
	assert_string_equal(why, "the text contains a mobile number (138****5678), a resident ID number "
	                         "(110***********002X), a bank card number (6222********7894) and 1 more");
	assert_int_equal(pii_check("x 13812345678", 13, why, sizeof(why)), WM_EPERSONAL);
	assert_string_equal(why, "the text contains a mobile number (138****5678)");
	assert_int_equal(pii_check("13812345678 15912345678", 23, why, 20), WM_EPERSONAL);
	assert_int_equal(strlen(why), 19);
	assert_int_equal(pii_check("13812345678", 11, NULL, 0), WM_EPERSONAL);

	assert_string_equal(pii_type_name(PII_MOBILE), "mobile number");
	assert_string_equal(pii_type_name(PII_ID_NUMBER), "resident ID number");
	assert_string_equal(pii_type_name(PII_BANK_CARD), "bank card number");
}

/* A NUL byte or broken UTF-8 is just a non-digit. */
static void test_odd_bytes(void **state)
{
	const char t[] = "a\0" "13812345678\0" "\xef\xbc" "13912345678" "\xe3\x80";
	const char lead[] = "\xef" "13812345678";
	struct pii_finding f[MAXF];

	(void)state;
	assert_int_equal(pii_scan(t, sizeof(t) - 1, f, MAXF), 2);
	assert_int_equal(f[0].offset, 2);
	assert_int_equal(f[1].offset, 16);
	assert_int_equal(pii_scan(lead, sizeof(lead) - 1, f, MAXF), 1);
	/* a full-width digit cut off by the end of the buffer */
	assert_int_equal(pii_scan("1381234567\xef\xbc", 12, f, MAXF), 0);
}

/* Random text never crashes, and every finding lies inside the text and
 * starts and ends where the text has a digit, X or plus sign. */
static void test_random_text(void **state)
{
	static const char *pieces[] = { "1", "3", "8", "6", "0", "9", "X", " ", "-", "+", "年",
	                                "１", "３", "８", "Ｘ", "　", "－", "a", "\xef", "\xbc" };
	unsigned seed = 12345;
	int round;

	(void)state;
	for (round = 0; round < 20000; round++) {
		char t[256];
		size_t len = 0;
		struct pii_finding f[MAXF];
		int n, i, parts;

		seed = seed * 1103515245u + 12345u;
		parts = 1 + (int)((seed >> 16) % 40);
		for (i = 0; i < parts; i++) {
			const char *p;

			seed = seed * 1103515245u + 12345u;
			/* digits much more often than the rest */
			p = pieces[(seed >> 16) % 3 == 0 ? (seed >> 20) % 20 : (seed >> 20) % 6];
			if (len + strlen(p) >= sizeof(t))
				break;
			memcpy(t + len, p, strlen(p));
			len += strlen(p);
		}
		n = pii_scan(t, len, f, MAXF);
		assert_true(n >= 0);
		for (i = 0; i < n && i < MAXF; i++) {
			assert_true(f[i].offset + f[i].len <= len);
			assert_true(f[i].len >= 11);
			assert_true(strlen(f[i].masked) >= 11);
			if (i > 0)
				assert_true(f[i].offset >= f[i - 1].offset + f[i - 1].len);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mobile),
		cmocka_unit_test(test_mobile_second_digit),
		cmocka_unit_test(test_mobile_negatives),
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_bulletins),
		cmocka_unit_test(test_id_number),
		cmocka_unit_test(test_id_negatives),
		cmocka_unit_test(test_bank_card),
		cmocka_unit_test(test_bank_card_negatives),
		cmocka_unit_test(test_ordinary_numbers),
		cmocka_unit_test(test_several_and_limits),
		cmocka_unit_test(test_odd_bytes),
		cmocka_unit_test(test_random_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
