/*
 * Unit tests for node/tls: the authority's names and constraints, the
 * node certificates it issues and refuses, and loading a pair.  The
 * attacks with a real TLS client (OpenSSL, which enforces the name
 * constraints) are in tests/integration/test_tls.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <gnutls/gnutls.h>

#include "tls.h"

#define PASS "correct horse battery staple"

/* One authority for the whole program: made once, used by every test. */
static char *ca_crt, *ca_key;
static time_t t0;

static int setup(void **state)
{
	char why[WM_WHY_LEN] = "";
	(void)state;
	t0 = time(NULL);
	if (tls_ca_new("gaobu", TLS_DEFAULT_NAMES, PASS, strlen(PASS), t0, &ca_crt, &ca_key, why) != 0) {
		fprintf(stderr, "tls_ca_new: %s\n", why);
		return -1;
	}
	return 0;
}

static char tmpdir[] = "/tmp/wm-test-tls-XXXXXX";
static const char *const tmpfiles[] = { "node.crt", "node.key", "other.key", "ca.key", "junk.crt",
                                        "old.crt", "old.key" };

static int teardown(void **state)
{
	char p[256];
	size_t i;
	(void)state;
	for (i = 0; i < sizeof tmpfiles / sizeof tmpfiles[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", tmpdir, tmpfiles[i]);
		(void)unlink(p);
	}
	(void)rmdir(tmpdir);
	tls_free(ca_crt);
	tls_free(ca_key);
	return 0;
}

static struct tls_leaf leaf(const char *name, const char *addr)
{
	struct tls_leaf r;
	memset(&r, 0, sizeof r);
	if (name)
		r.names[r.nnames++] = name;
	if (addr)
		r.addrs[r.naddrs++] = addr;
	r.days = TLS_LEAF_DAYS;
	return r;
}

static int issue(const struct tls_leaf *r, time_t now, char **chain, char **key, char why[WM_WHY_LEN])
{
	return tls_issue(ca_crt, ca_key, PASS, strlen(PASS), r, now, chain, key, why);
}

static void test_names(void **state)
{
	char why[WM_WHY_LEN];
	(void)state;
	assert_int_equal(tls_names_ok(TLS_DEFAULT_NAMES, why), 0);
	assert_int_equal(tls_names_ok("village.example.cn", why), 0);
	assert_int_equal(tls_names_ok("lan,Home", why), 0);
	/* no DNS subtree would leave every DNS name unconstrained */
	assert_int_equal(tls_names_ok("", why), WM_EINVAL);
	assert_non_null(strstr(why, "empty"));
	/* one label the public DNS holds: every bank under it */
	assert_int_equal(tls_names_ok("local,com", why), WM_EINVAL);
	assert_non_null(strstr(why, "'com'"));
	assert_int_equal(tls_names_ok("*.local", why), WM_EINVAL);
	assert_int_equal(tls_names_ok("a..local", why), WM_EINVAL);
	assert_int_equal(tls_names_ok("local,", why), 0);
	assert_int_equal(tls_names_ok(",", why), WM_EINVAL);
	assert_int_equal(tls_names_ok("-x.local", why), WM_EINVAL);
	assert_int_equal(tls_names_ok("a.b.c.d.e.f.g.h.i.j,1.x,2.x,3.x,4.x,5.x,6.x,7.x,8.x,9.x,10.x,11.x,"
	                              "12.x,13.x,14.x,15.x,16.x", why), WM_EINVAL);
}

/* The constraints in the certificate, as a verifier reads them. */
static void test_permits(void **state)
{
	static const char *const yes[] = {
		"xinhua.local", "local", "a.b.lan", "nas.home.arpa", "x.internal", "10.1.2.3",
		"172.31.255.254", "192.168.1.10", "169.254.3.4", "127.0.0.1", "fd12:3456::1", "fe80::1", "::1",
	};
	static const char *const no[] = {
		"bank.example.com", "evillocal", "local.evil.com", "arpa", "home.arpa.evil.com",
		"8.8.8.8", "172.32.0.1", "11.0.0.1", "192.169.0.1", "2001:db8::1", "::2", "not a name",
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (!tls_ca_permits(ca_crt, yes[i]))
			fail_msg("%s should be permitted", yes[i]);
	for (i = 0; i < sizeof no / sizeof no[0]; i++)
		if (tls_ca_permits(ca_crt, no[i]))
			fail_msg("%s should not be permitted", no[i]);
}

static void test_ca_shape(void **state)
{
	struct tls_info info;
	char why[WM_WHY_LEN];
	(void)state;
	assert_int_equal(tls_info_of(ca_crt, &info, why), 0);
	assert_string_equal(info.subject, "CN=watchmesh gaobu TLS authority");
	assert_string_equal(info.issuer, info.subject);
	assert_true(info.self_signed);
	assert_true(info.not_after - t0 >= (time_t)TLS_CA_DAYS * 86400 - 1);
	assert_true(info.not_before <= t0);
	/* the key is sealed: PBES2, not a plain key */
	assert_non_null(strstr(ca_key, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	assert_null(strstr(ca_key, "-----BEGIN PRIVATE KEY-----"));
}

static void test_issue(void **state)
{
	struct tls_leaf r = leaf("xinhua.local", "192.168.1.10");
	struct tls_info info, cainfo;
	char why[WM_WHY_LEN], *chain = NULL, *key = NULL, *ca = NULL;
	(void)state;
	r.addrs[r.naddrs++] = "127.0.0.1";
	r.addrs[r.naddrs++] = "fd00::7";
	assert_int_equal(issue(&r, t0, &chain, &key, why), 0);
	assert_non_null(strstr(key, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(tls_info_of(chain, &info, why), 0);
	assert_int_equal(info.chain_len, 2);
	assert_false(info.self_signed);
	assert_string_equal(info.subject, "CN=xinhua.local");
	assert_string_equal(info.san, "DNS:xinhua.local, IP:192.168.1.10, IP:127.0.0.1, IP:fd00::7");
	assert_true(info.not_after - t0 == (time_t)TLS_LEAF_DAYS * 86400);
	assert_int_equal(tls_ca_of_chain(chain, &ca, why), 0);
	assert_string_equal(ca, ca_crt);
	assert_int_equal(tls_info_of(ca, &cainfo, why), 0);
	assert_string_equal(info.issuer_sha256, cainfo.sha256);
	assert_string_equal(cainfo.issuer_sha256, cainfo.sha256);        /* self-signed */
	assert_string_not_equal(info.sha256, cainfo.sha256);
	assert_int_equal(strlen(info.sha256), 32 * 3 - 1);
	tls_free(chain);
	tls_free(key);
	tls_free(ca);
}

static void test_refusals(void **state)
{
	struct tls_leaf r;
	char why[WM_WHY_LEN], *chain = NULL, *key = NULL;
	(void)state;
	r = leaf("bank.example.com", NULL);
	assert_int_equal(issue(&r, t0, &chain, &key, why), WM_EINVAL);
	assert_string_equal(why, "bank.example.com is outside the TLS authority's names (local, lan, "
	                    "home.arpa, internal, and names under them)");
	assert_int_equal(tls_check_leaf(ca_crt, &r, why), WM_EINVAL);
	assert_non_null(strstr(why, "outside the TLS authority's names"));
	r = leaf(NULL, "8.8.8.8");
	assert_int_equal(issue(&r, t0, &chain, &key, why), WM_EINVAL);
	assert_string_equal(why, "8.8.8.8 is outside the TLS authority's address ranges (10.0.0.0/8, "
	                    "172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, 127.0.0.0/8, fc00::/7, "
	                    "fe80::/10, ::1/128)");
	assert_int_equal(tls_check_leaf(ca_crt, &r, why), WM_EINVAL);
	r = leaf("x.local", "10.9.8.7");
	assert_int_equal(tls_check_leaf(ca_crt, &r, why), 0);
	r = leaf("192.168.1.1", NULL);                 /* an address given as a name */
	assert_int_equal(issue(&r, t0, &chain, &key, why), WM_EINVAL);
	r = leaf(NULL, NULL);
	assert_int_equal(issue(&r, t0, &chain, &key, why), WM_EINVAL);
	r = leaf("x.local", NULL);
	r.days = TLS_LEAF_DAYS_MAX + 1;
	assert_int_equal(issue(&r, t0, &chain, &key, why), WM_EINVAL);
	r.days = TLS_LEAF_DAYS;
	assert_int_equal(tls_issue(ca_crt, ca_key, "wrong horse", 11, &r, t0, &chain, &key, why),
	                 WM_EPASSPHRASE);
	assert_non_null(strstr(why, "wrong passphrase"));
	/* the authority's certificate with another authority's key */
	{
		char *c2 = NULL, *k2 = NULL;
		assert_int_equal(tls_ca_new("other", "lan", PASS, strlen(PASS), t0, &c2, &k2, why), 0);
		assert_int_equal(tls_issue(ca_crt, k2, PASS, strlen(PASS), &r, t0, &chain, &key, why), WM_EINVAL);
		assert_non_null(strstr(why, "not the key of its certificate"));
		tls_free(c2);
		tls_free(k2);
	}
	assert_null(chain);
	assert_null(key);
}

/* A certificate never outlives its authority. */
static void test_clamped(void **state)
{
	struct tls_leaf r = leaf("x.local", NULL);
	struct tls_info ci, li;
	char why[WM_WHY_LEN], *chain = NULL, *key = NULL;
	(void)state;
	assert_int_equal(tls_info_of(ca_crt, &ci, why), 0);
	assert_int_equal(issue(&r, ci.not_after - 10 * 86400, &chain, &key, why), 0);
	assert_int_equal(tls_info_of(chain, &li, why), 0);
	assert_true(li.not_after == ci.not_after);
	tls_free(chain);
	tls_free(key);
	assert_int_equal(issue(&r, ci.not_after + 1, &chain, &key, why), WM_EEXPIRED);
}

/* X.520's limit of 64 characters on a common name: a long network name is
 * cut at a character, never inside one. */
static void test_long_names(void **state)
{
	static const char name[] = "高埔高埔高埔高埔高埔高埔高埔高埔高埔高埔高埔高埔"; /* 24 characters */
	char why[WM_WHY_LEN], *c = NULL, *k = NULL, *chain = NULL, *key = NULL, big[300];
	struct tls_info info;
	struct tls_leaf r;
	char want[160];
	(void)state;
	snprintf(big, sizeof big, "%s%s", name, name);
	assert_int_equal(tls_ca_new(big, "lan", PASS, strlen(PASS), t0, &c, &k, why), 0);
	assert_int_equal(tls_info_of(c, &info, why), 0);
	/* 40 characters of 48: 20 times 高埔 */
	snprintf(want, sizeof want, "CN=watchmesh %s%.*s TLS authority", name, (int)(16 * 3), name);
	assert_string_equal(info.subject, want);
	/* a name of 70 bytes is a good SAN but too long for a CN */
	memset(big, 'a', 63);
	strcpy(big + 63, ".x.lan");
	r = leaf(big, NULL);
	assert_int_equal(tls_issue(c, k, PASS, strlen(PASS), &r, t0, &chain, &key, why), 0);
	assert_int_equal(tls_info_of(chain, &info, why), 0);
	assert_string_equal(info.subject, "CN=watchmesh node");
	tls_free(chain);
	tls_free(key);
	tls_free(c);
	tls_free(k);
}

static void test_utf8_pass(void **state)
{
	static const char pass[] = "我们村的钥匙很安全";
	struct tls_leaf r = leaf("x.lan", NULL);
	char why[WM_WHY_LEN], *c = NULL, *k = NULL, *chain = NULL, *key = NULL;
	(void)state;
	assert_int_equal(tls_ca_new("高埔", "lan", pass, strlen(pass), t0, &c, &k, why), 0);
	assert_int_equal(tls_issue(c, k, pass, strlen(pass), &r, t0, &chain, &key, why), 0);
	tls_free(chain);
	tls_free(key);
	tls_free(c);
	tls_free(k);
}

static const char *put(const char *name, const char *text)
{
	static char path[4][256];
	static int slot;
	char *p = path[slot++ % 4];
	FILE *f;
	snprintf(p, 256, "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

/* What the HTTP server does with a loaded pair (libmicrohttpd hands both
 * texts to GnuTLS's server credentials). */
static void serves(const char *cert_pem, const char *key_pem)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_datum_t c = { (unsigned char *)cert_pem, (unsigned)strlen(cert_pem) };
	gnutls_datum_t k = { (unsigned char *)key_pem, (unsigned)strlen(key_pem) };
	int rc;

	assert_int_equal(gnutls_certificate_allocate_credentials(&cred), 0);
	rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0)
		fail_msg("GnuTLS refuses the pair as server credentials: %s", gnutls_strerror(rc));
	gnutls_certificate_free_credentials(cred);
}

static void test_load_pair(void **state)
{
	struct tls_leaf r = leaf("x.local", "127.0.0.1");
	char why[WM_WHY_LEN], *chain = NULL, *key = NULL, *chain2 = NULL, *key2 = NULL;
	char *cp = NULL, *kp = NULL;
	const char *crt_path, *key_path;
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(issue(&r, t0, &chain, &key, why), 0);
	assert_int_equal(issue(&r, t0, &chain2, &key2, why), 0);
	crt_path = put("node.crt", chain);
	key_path = put("node.key", key);
	assert_int_equal(tls_load_pair(crt_path, key_path, &cp, &kp, why), 0);
	assert_string_equal(cp, chain);
	assert_string_equal(kp, key);
	serves(cp, kp);
	tls_free(cp);
	tls_free(kp);
	cp = kp = NULL;
	/* another certificate's key */
	key_path = put("other.key", key2);
	assert_int_equal(tls_load_pair(crt_path, key_path, &cp, &kp, why), WM_EINVAL);
	assert_non_null(strstr(why, "is not the key of the first certificate"));
	/* an encrypted key cannot start unattended */
	key_path = put("ca.key", ca_key);
	assert_int_equal(tls_load_pair(crt_path, key_path, &cp, &kp, why), WM_EFORMAT);
	assert_non_null(strstr(why, "is encrypted"));
	/* garbage for a certificate */
	assert_int_equal(tls_load_pair(put("junk.crt", "hello\n"), put("node.key", key), &cp, &kp, why),
	                 WM_EFORMAT);
	assert_int_equal(tls_load_pair("/nonexistent/node.crt", key_path, &cp, &kp, why), WM_ENOTFOUND);
	tls_free(chain);
	tls_free(key);
	/* expired yesterday */
	r.days = 1;
	assert_int_equal(issue(&r, t0 - 2 * 86400, &chain, &key, why), 0);
	assert_int_equal(tls_load_pair(put("old.crt", chain), put("old.key", key), &cp, &kp, why),
	                 WM_EEXPIRED);
	assert_non_null(strstr(why, "expired on"));
	assert_null(cp);
	assert_null(kp);
	/* the leaf alone: loads, but has no authority to serve */
	*strstr(chain, "-----END CERTIFICATE-----") = 0;
	strcat(chain, "-----END CERTIFICATE-----\n");
	assert_int_equal(tls_ca_of_chain(chain, &cp, why), WM_ENOTFOUND);
	tls_free(chain);
	tls_free(key);
	tls_free(chain2);
	tls_free(key2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_permits),
		cmocka_unit_test(test_ca_shape),
		cmocka_unit_test(test_issue),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_clamped),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_utf8_pass),
		cmocka_unit_test(test_load_pair),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
