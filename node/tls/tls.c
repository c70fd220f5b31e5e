/*
 * node/tls: the network's TLS authority, node certificates, and loading a
 * pair for the daemon (tls.h; proto/PROTOCOL.md §20).
 *
 * Everything goes through GnuTLS's X.509 API; no ASN.1 is written by hand.
 * The one rule a reader must keep in mind: an authority's name constraints
 * are its whole point, and X.509 leaves a name type without any permitted
 * subtree unconstrained, so the authority always carries at least one DNS
 * subtree and the address ranges.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "files.h"
#include "tls.h"

/* The address ranges an authority permits: private (RFC 1918, RFC 4193),
 * link-local and loopback; nothing a public site can be reached at. */
static const struct {
	const char *addr;
	unsigned prefix;
} tls_ranges[] = {
	{ "10.0.0.0", 8 }, { "172.16.0.0", 12 }, { "192.168.0.0", 16 }, { "169.254.0.0", 16 },
	{ "127.0.0.0", 8 }, { "fc00::", 7 }, { "fe80::", 10 }, { "::1", 128 },
};

/* Single labels the public DNS does not delegate (special-use, ICANN's
 * private-use TLD, or names ICANN will not delegate for collisions): the
 * only one-label names an authority may hold. */
static const char *const tls_private_tlds[] = {
	"local", "internal", "lan", "home", "corp", "intranet", "private", "localdomain",
};

#define HOUR 3600

static int gt_fail(int rc, char why[WM_WHY_LEN], const char *what)
{
	wm_why(why, "%s: %s", what, gnutls_strerror(rc));
	return WM_ECRYPTO;
}

static int dup_datum(const gnutls_datum_t *d, char **out)
{
	char *s = malloc((size_t)d->size + 1);
	if (!s)
		return WM_ENOMEM;
	memcpy(s, d->data, d->size);
	s[d->size] = 0;
	*out = s;
	return 0;
}

static void wipe_datum(gnutls_datum_t *d)
{
	if (d->data) {
		gnutls_memset(d->data, 0, d->size);
		gnutls_free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

void tls_free(char *pem)
{
	if (!pem)
		return;
	gnutls_memset(pem, 0, strlen(pem));
	free(pem);
}

/* A host name in letters, digits, hyphens and dots (RFC 1123), no empty
 * label, no wildcard, no trailing dot. */
static int dns_name_ok(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && label > 0)))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

/* The next comma-separated item of *p, into out (NUL-terminated); 0 at the
 * end, -1 for an item that does not fit. */
static int next_item(const char **p, char *out, size_t cap)
{
	const char *s = *p, *e;
	size_t n;

	if (!*s)
		return 0;
	e = strchr(s, ',');
	n = e ? (size_t)(e - s) : strlen(s);
	*p = e ? e + 1 : s + n;
	if (n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = 0;
	return 1;
}

int tls_names_ok(const char *names, char why[WM_WHY_LEN])
{
	const char *p = names;
	char name[256];
	size_t count = 0, i;
	int r;

	while ((r = next_item(&p, name, sizeof name)) != 0) {
		int single, known = 0;
		if (r < 0 || !dns_name_ok(name, strlen(name))) {
			wm_why(why, "'%.64s' in the TLS names is not a DNS name (letters, digits, hyphens, "
			       "dots; no '*'; at most 253 bytes)", r < 0 ? "(too long)" : name);
			return WM_EINVAL;
		}
		single = strchr(name, '.') == NULL;
		for (i = 0; i < sizeof tls_private_tlds / sizeof tls_private_tlds[0]; i++)
			known |= strcasecmp(name, tls_private_tlds[i]) == 0;
		if (single && !known) {
			wm_why(why, "TLS name '%s' is a single label that the public DNS could hold: the "
			       "authority would cover every site under it; give a name with a dot or one "
			       "of local, lan, home, internal", name);
			return WM_EINVAL;
		}
		if (++count > TLS_NAMES_MAX) {
			wm_why(why, "more than %d TLS names", TLS_NAMES_MAX);
			return WM_EINVAL;
		}
	}
	if (count == 0) {
		/* no DNS subtree at all would leave DNS names unconstrained */
		wm_why(why, "the TLS names are empty; give at least one (default %s)", TLS_DEFAULT_NAMES);
		return WM_EINVAL;
	}
	return 0;
}

/* An address as text into raw bytes (4 or 16); 0 or -1. */
static int parse_addr(const char *s, unsigned char out[16], unsigned *len)
{
	if (inet_pton(AF_INET, s, out) == 1) {
		*len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*len = 16;
		return 0;
	}
	return -1;
}

static int set_serial(gnutls_x509_crt_t crt)
{
	unsigned char s[16];
	int rc = gnutls_rnd(GNUTLS_RND_NONCE, s, sizeof s);
	if (rc < 0)
		return rc;
	s[0] = (s[0] & 0x7f) | 0x40;        /* positive, and all 16 bytes long */
	return gnutls_x509_crt_set_serial(crt, s, sizeof s);
}

static int new_p256(gnutls_x509_privkey_t *key)
{
	int rc = gnutls_x509_privkey_init(key);
	if (rc < 0)
		return rc;
	return gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
	                                    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
}

/* The fields both kinds of certificate share: version, serial, CN, key,
 * validity and subject key id. */
static int fill_common(gnutls_x509_crt_t crt, const char *cn, gnutls_x509_privkey_t key,
                       time_t from, time_t until)
{
	unsigned char kid[64];
	size_t kidlen = sizeof kid;
	int rc;

	if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = set_serial(crt)) < 0 ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
	                                        (unsigned)strlen(cn))) < 0 ||
	    (rc = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, from)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt, until)) < 0 ||
	    (rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, kid, &kidlen)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen)) < 0)
		return rc;
	return 0;
}

/* The passphrase goes to GnuTLS as a C string. */
static int pass_ok(const char *pass, size_t passlen, char why[WM_WHY_LEN])
{
	if (!pass || strlen(pass) != passlen) {
		wm_why(why, "the passphrase holds a NUL byte, which the TLS authority's key cannot take");
		return WM_EINVAL;
	}
	return 0;
}

static int add_constraints(gnutls_x509_name_constraints_t nc, const char *names)
{
	const char *p = names;
	char name[256];
	unsigned char ip[32];
	gnutls_datum_t d;
	size_t i;
	int rc;

	while (next_item(&p, name, sizeof name) > 0) {
		d.data = (unsigned char *)name;
		d.size = (unsigned)strlen(name);
		if ((rc = gnutls_x509_name_constraints_add_permitted(nc, GNUTLS_SAN_DNSNAME, &d)) < 0)
			return rc;
	}
	for (i = 0; i < sizeof tls_ranges / sizeof tls_ranges[0]; i++) {
		unsigned len = 0, b;
		if (parse_addr(tls_ranges[i].addr, ip, &len) != 0)
			return GNUTLS_E_INTERNAL_ERROR;
		/* the mask follows the address (RFC 5280 4.2.1.10) */
		memset(ip + len, 0, len);
		for (b = 0; b < tls_ranges[i].prefix; b++)
			ip[len + b / 8] |= (unsigned char)(0x80 >> (b % 8));
		d.data = ip;
		d.size = 2 * len;
		if ((rc = gnutls_x509_name_constraints_add_permitted(nc, GNUTLS_SAN_IPADDRESS, &d)) < 0)
			return rc;
	}
	return 0;
}

/* X.520 holds a common name to 64 characters: a network name longer than
 * the 40 left beside "watchmesh ... TLS authority" is cut, at a character. */
static void ca_cn(char *out, size_t cap, const char *netname)
{
	size_t i, chars = 0;

	for (i = 0; netname[i]; i++) {
		int lead = ((unsigned char)netname[i] & 0xC0) != 0x80;
		if (lead && chars == 40)
			break;
		chars += lead;
	}
	snprintf(out, cap, "watchmesh %.*s TLS authority", (int)i, netname);
}

int tls_ca_new(const char *netname, const char *names, const char *pass, size_t passlen,
               time_t now, char **crt_pem, char **key_pem, char why[WM_WHY_LEN])
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_name_constraints_t nc = NULL;
	gnutls_datum_t c = { NULL, 0 }, k = { NULL, 0 };
	char cn[160], *co = NULL, *ko = NULL;
	int rc, ret;

	if ((ret = tls_names_ok(names, why)) != 0 || (ret = pass_ok(pass, passlen, why)) != 0)
		return ret;
	ca_cn(cn, sizeof cn, netname);
	ret = WM_ECRYPTO;
	if ((rc = new_p256(&key)) < 0) {
		gt_fail(rc, why, "cannot make the TLS authority's key");
		goto out;
	}
	if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rc = fill_common(crt, cn, key, now - HOUR, now + (time_t)TLS_CA_DAYS * 86400)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 1, 0)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0 ||
	    (rc = gnutls_x509_name_constraints_init(&nc)) < 0 ||
	    (rc = add_constraints(nc, names)) < 0 ||
	    (rc = gnutls_x509_crt_set_name_constraints(crt, nc, 1)) < 0 ||
	    (rc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0 ||
	    (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &c)) < 0 ||
	    (rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, pass,
	                                            GNUTLS_PKCS_PBES2_AES_256, &k)) < 0) {
		gt_fail(rc, why, "cannot make the TLS authority's certificate");
		goto out;
	}
	if ((ret = dup_datum(&c, &co)) != 0 || (ret = dup_datum(&k, &ko)) != 0)
		goto out;
	*crt_pem = co;
	*key_pem = ko;
	co = ko = NULL;
	ret = 0;
out:
	free(co);
	tls_free(ko);
	gnutls_free(c.data);
	wipe_datum(&k);
	if (nc)
		gnutls_x509_name_constraints_deinit(nc);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return ret;
}

/* The first certificate of a PEM text. */
static int load_crt(const char *pem, gnutls_x509_crt_t *out, const char *what, char why[WM_WHY_LEN])
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };
	int rc = gnutls_x509_crt_init(out);

	if (rc >= 0)
		rc = gnutls_x509_crt_import(*out, &d, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		wm_why(why, "%s holds no certificate in PEM: %s", what, gnutls_strerror(rc));
		return WM_EFORMAT;
	}
	return 0;
}

/* The authority's constraints; an authority without any permits all. */
static int load_nc(gnutls_x509_crt_t ca, gnutls_x509_name_constraints_t *nc)
{
	int rc = gnutls_x509_name_constraints_init(nc);
	if (rc < 0)
		return rc;
	rc = gnutls_x509_crt_get_name_constraints(ca, *nc, 0, NULL);
	return rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE ? 0 : rc;
}

/* 1 if nc permits what (a DNS name or an address as text), 0 if not, -1
 * if what is neither; *is_addr says which it was. */
static int nc_permits(gnutls_x509_name_constraints_t nc, const char *what, int *is_addr)
{
	unsigned char ip[16];
	unsigned len = 0;
	gnutls_datum_t d;

	*is_addr = parse_addr(what, ip, &len) == 0;
	if (*is_addr) {
		d.data = ip;
		d.size = len;
		return gnutls_x509_name_constraints_check(nc, GNUTLS_SAN_IPADDRESS, &d) ? 1 : 0;
	}
	if (!dns_name_ok(what, strlen(what)))
		return -1;
	d.data = (unsigned char *)what;
	d.size = (unsigned)strlen(what);
	return gnutls_x509_name_constraints_check(nc, GNUTLS_SAN_DNSNAME, &d) ? 1 : 0;
}

int tls_ca_permits(const char *ca_pem, const char *what)
{
	gnutls_x509_crt_t ca = NULL;
	gnutls_x509_name_constraints_t nc = NULL;
	char why[WM_WHY_LEN];
	int is_addr, ok = 0;

	if (load_crt(ca_pem, &ca, "the authority", why) == 0 && load_nc(ca, &nc) >= 0)
		ok = nc_permits(nc, what, &is_addr) == 1;
	if (nc)
		gnutls_x509_name_constraints_deinit(nc);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	return ok;
}

/* "local, lan, ..." or "10.0.0.0/8, ...": the subtrees of one type, for a
 * refusal that says which constraint a name broke. */
static void describe_nc(gnutls_x509_name_constraints_t nc, unsigned want, char *buf, size_t cap)
{
	gnutls_datum_t d;
	unsigned type, i, b;
	size_t at = 0;
	char item[INET6_ADDRSTRLEN + 8];

	buf[0] = 0;
	for (i = 0; gnutls_x509_name_constraints_get_permitted(nc, i, &type, &d) >= 0; i++) {
		if (type != want)
			continue;
		if (type == GNUTLS_SAN_IPADDRESS && (d.size == 8 || d.size == 32)) {
			unsigned len = d.size / 2, prefix = 0;
			char a[INET6_ADDRSTRLEN];
			for (b = 0; b < 8 * len; b++)
				prefix += (d.data[len + b / 8] >> (7 - b % 8)) & 1;
			inet_ntop(len == 4 ? AF_INET : AF_INET6, d.data, a, sizeof a);
			snprintf(item, sizeof item, "%s/%u", a, prefix);
		} else {
			snprintf(item, sizeof item, "%.*s", (int)(d.size < 64 ? d.size : 64), (const char *)d.data);
		}
		at += (size_t)snprintf(buf + at, cap - at, "%s%s", at ? ", " : "", item);
		if (at >= cap)
			return;
	}
}

/* The authority's key, opened with pass, and known to be the certificate's. */
static int load_ca_key(gnutls_x509_crt_t ca, const char *key_pem, const char *pass,
                       gnutls_x509_privkey_t *key, char why[WM_WHY_LEN])
{
	gnutls_datum_t d = { (unsigned char *)key_pem, (unsigned)strlen(key_pem) };
	unsigned char a[64], b[64];
	size_t alen = sizeof a, blen = sizeof b;
	int rc = gnutls_x509_privkey_init(key);

	if (rc < 0)
		return gt_fail(rc, why, "cannot open the TLS authority's key");
	if (!strstr(key_pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
		wm_why(why, "the TLS authority's key file is not an encrypted PKCS#8 key "
		       "(the FILE.tls-ca.key that `network create` wrote)");
		return WM_EFORMAT;
	}
	rc = gnutls_x509_privkey_import_pkcs8(*key, &d, GNUTLS_X509_FMT_PEM, pass, 0);
	if (rc == GNUTLS_E_BASE64_DECODING_ERROR || rc == GNUTLS_E_BASE64_UNEXPECTED_HEADER_ERROR) {
		wm_why(why, "the TLS authority's key file is damaged: %s", gnutls_strerror(rc));
		return WM_EFORMAT;
	}
	if (rc < 0) {
		/* a wrong key mostly fails the padding, now and then the DER after it */
		wm_why(why, "wrong passphrase for the TLS authority's key (it is the root key's "
		       "passphrase from `network create`)");
		return WM_EPASSPHRASE;
	}
	if (gnutls_x509_crt_get_key_id(ca, GNUTLS_KEYID_USE_SHA256, a, &alen) < 0 ||
	    gnutls_x509_privkey_get_key_id(*key, GNUTLS_KEYID_USE_SHA256, b, &blen) < 0 ||
	    alen != blen || memcmp(a, b, alen) != 0) {
		wm_why(why, "the TLS authority's key is not the key of its certificate: give the "
		       ".tls-ca.key and .tls-ca.crt that `network create` wrote together");
		return WM_EINVAL;
	}
	return 0;
}

/* Every name and address of req, well-formed and permitted by nc. */
static int check_leaf(gnutls_x509_name_constraints_t nc, const struct tls_leaf *req, char why[WM_WHY_LEN])
{
	char allowed[512];
	size_t i;
	int is_addr, r;

	if (req->nnames + req->naddrs == 0 || req->nnames > TLS_NAMES_MAX || req->naddrs > TLS_ADDRS_MAX) {
		wm_why(why, "a certificate needs 1 to %d names and at most %d addresses",
		       TLS_NAMES_MAX, TLS_ADDRS_MAX);
		return WM_EINVAL;
	}
	if (req->days < 1 || req->days > TLS_LEAF_DAYS_MAX) {
		wm_why(why, "a node's certificate lasts 1 to %d days (browsers refuse longer)",
		       TLS_LEAF_DAYS_MAX);
		return WM_EINVAL;
	}
	for (i = 0; i < req->nnames + req->naddrs; i++) {
		const char *what = i < req->nnames ? req->names[i] : req->addrs[i - req->nnames];
		r = nc_permits(nc, what, &is_addr);
		if (r < 0 || is_addr != (i >= req->nnames)) {
			wm_why(why, i < req->nnames ? "'%.64s' is not a DNS name (letters, digits, hyphens, dots)"
			                            : "'%.64s' is not an IPv4 or IPv6 address", what);
			return WM_EINVAL;
		}
		if (r == 0) {
			describe_nc(nc, is_addr ? GNUTLS_SAN_IPADDRESS : GNUTLS_SAN_DNSNAME,
			            allowed, sizeof allowed);
			wm_why(why, is_addr ? "%.64s is outside the TLS authority's address ranges (%.150s)"
			                    : "%.64s is outside the TLS authority's names (%.150s, and names "
			                      "under them)", what, allowed);
			return WM_EINVAL;
		}
	}
	return 0;
}

int tls_check_leaf(const char *ca_pem, const struct tls_leaf *req, char why[WM_WHY_LEN])
{
	gnutls_x509_crt_t ca = NULL;
	gnutls_x509_name_constraints_t nc = NULL;
	int rc, ret;

	if ((ret = load_crt(ca_pem, &ca, "the TLS authority's certificate file", why)) != 0)
		goto out;
	if ((rc = load_nc(ca, &nc)) < 0) {
		ret = gt_fail(rc, why, "cannot read the TLS authority's name constraints");
		goto out;
	}
	ret = check_leaf(nc, req, why);
out:
	if (nc)
		gnutls_x509_name_constraints_deinit(nc);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	return ret;
}

static int add_sans(gnutls_x509_crt_t crt, const struct tls_leaf *req)
{
	unsigned char ip[16];
	unsigned len;
	size_t i;
	int rc;

	for (i = 0; i < req->nnames; i++)
		if ((rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, req->names[i],
		                                              (unsigned)strlen(req->names[i]),
		                                              GNUTLS_FSAN_APPEND)) < 0)
			return rc;
	for (i = 0; i < req->naddrs; i++) {
		if (parse_addr(req->addrs[i], ip, &len) != 0)
			return GNUTLS_E_INVALID_REQUEST;
		if ((rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, len,
		                                              GNUTLS_FSAN_APPEND)) < 0)
			return rc;
	}
	return 0;
}

int tls_issue(const char *ca_pem, const char *ca_key_pem, const char *pass, size_t passlen,
              const struct tls_leaf *req, time_t now, char **chain_pem, char **key_pem,
              char why[WM_WHY_LEN])
{
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_x509_privkey_t cakey = NULL, key = NULL;
	gnutls_x509_name_constraints_t nc = NULL;
	gnutls_datum_t c = { NULL, 0 }, a = { NULL, 0 }, k = { NULL, 0 };
	unsigned char kid[64];
	size_t kidlen = sizeof kid;
	unsigned critical = 0;
	time_t until, ca_until;
	char *chain = NULL, *ko = NULL;
	int rc, ret;

	if ((ret = load_crt(ca_pem, &ca, "the TLS authority's certificate file", why)) != 0)
		goto out;
	if (gnutls_x509_crt_get_basic_constraints(ca, &critical, NULL, NULL) != 1) {
		wm_why(why, "the TLS authority's certificate file holds no authority (give the "
		       ".tls-ca.crt that `network create` wrote)");
		ret = WM_EINVAL;
		goto out;
	}
	ca_until = gnutls_x509_crt_get_expiration_time(ca);
	if (ca_until <= now) {
		wm_why(why, "the TLS authority's certificate has expired; it can issue nothing");
		ret = WM_EEXPIRED;
		goto out;
	}
	if ((rc = load_nc(ca, &nc)) < 0) {
		ret = gt_fail(rc, why, "cannot read the TLS authority's name constraints");
		goto out;
	}
	if ((ret = check_leaf(nc, req, why)) != 0 || (ret = pass_ok(pass, passlen, why)) != 0 ||
	    (ret = load_ca_key(ca, ca_key_pem, pass, &cakey, why)) != 0)
		goto out;
	/* a certificate never outlives its authority */
	until = now + (time_t)req->days * 86400;
	if (until > ca_until)
		until = ca_until;
	ret = WM_ECRYPTO;
	if ((rc = new_p256(&key)) < 0 ||
	    (rc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rc = fill_common(crt, req->nnames && strlen(req->names[0]) <= 64 ? req->names[0]
	                                                                     : "watchmesh node", key, now - HOUR,
	                      until)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (rc = add_sans(crt, req)) < 0 ||
	    (rc = gnutls_x509_crt_get_subject_key_id(ca, kid, &kidlen, &critical)) < 0 ||
	    (rc = gnutls_x509_crt_set_authority_key_id(crt, kid, kidlen)) < 0 ||
	    (rc = gnutls_x509_crt_sign2(crt, ca, cakey, GNUTLS_DIG_SHA256, 0)) < 0 ||
	    (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &c)) < 0 ||
	    (rc = gnutls_x509_crt_export2(ca, GNUTLS_X509_FMT_PEM, &a)) < 0 ||
	    (rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
	                                            &k)) < 0) {
		gt_fail(rc, why, "cannot make the node's certificate");
		goto out;
	}
	chain = malloc((size_t)c.size + a.size + 1);
	if (!chain || (ret = dup_datum(&k, &ko)) != 0) {
		ret = WM_ENOMEM;
		goto out;
	}
	memcpy(chain, c.data, c.size);
	memcpy(chain + c.size, a.data, a.size);
	chain[c.size + a.size] = 0;
	*chain_pem = chain;
	*key_pem = ko;
	chain = ko = NULL;
	ret = 0;
out:
	free(chain);
	tls_free(ko);
	gnutls_free(c.data);
	gnutls_free(a.data);
	wipe_datum(&k);
	if (nc)
		gnutls_x509_name_constraints_deinit(nc);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (cakey)
		gnutls_x509_privkey_deinit(cakey);
	return ret;
}

/* Every certificate of a PEM text, in order; at least one. */
static int load_list(const char *pem, gnutls_x509_crt_t **list, unsigned *n, const char *what,
                     char why[WM_WHY_LEN])
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };
	int rc = gnutls_x509_crt_list_import2(list, n, &d, GNUTLS_X509_FMT_PEM, 0);

	if (rc < 0 || *n == 0) {
		wm_why(why, "%s holds no certificate in PEM: %s", what,
		       rc < 0 ? gnutls_strerror(rc) : "none found");
		return WM_EFORMAT;
	}
	return 0;
}

static void free_list(gnutls_x509_crt_t *list, unsigned n)
{
	unsigned i;
	for (i = 0; list && i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
}

/* A certificate that is an authority and signed itself. */
static int is_root_ca(gnutls_x509_crt_t crt)
{
	unsigned critical = 0, status = 1;

	return gnutls_x509_crt_get_basic_constraints(crt, &critical, NULL, NULL) == 1 &&
	       gnutls_x509_crt_check_issuer(crt, crt) &&
	       gnutls_x509_crt_verify(crt, &crt, 1, 0, &status) >= 0 && status == 0;
}

static void copy_dn(gnutls_x509_crt_t crt, int issuer, char *out, size_t cap)
{
	gnutls_datum_t d = { NULL, 0 };
	int rc = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &d, 0) : gnutls_x509_crt_get_dn3(crt, &d, 0);

	snprintf(out, cap, "%.*s", rc < 0 ? 0 : (int)d.size, rc < 0 ? "" : (const char *)d.data);
	gnutls_free(d.data);
}

static void fingerprint(gnutls_x509_crt_t crt, char *out, size_t cap)
{
	unsigned char fp[32];
	size_t n = sizeof fp, i, at = 0;

	out[0] = 0;
	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &n) < 0)
		return;
	for (i = 0; i < n && at + 3 < cap; i++)
		at += (size_t)snprintf(out + at, cap - at, "%s%02X", i ? ":" : "", fp[i]);
}

int tls_info_of(const char *pem, struct tls_info *out, char why[WM_WHY_LEN])
{
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0, i, type;
	size_t at = 0;
	int ret;

	if ((ret = load_list(pem, &list, &n, "the certificate file", why)) != 0)
		return ret;
	memset(out, 0, sizeof *out);
	copy_dn(list[0], 0, out->subject, sizeof out->subject);
	copy_dn(list[0], 1, out->issuer, sizeof out->issuer);
	out->not_before = gnutls_x509_crt_get_activation_time(list[0]);
	out->not_after = gnutls_x509_crt_get_expiration_time(list[0]);
	out->self_signed = gnutls_x509_crt_check_issuer(list[0], list[0]) != 0;
	out->chain_len = n;
	fingerprint(list[0], out->sha256, sizeof out->sha256);
	for (i = 0;; i++) {
		unsigned char v[256];
		size_t vlen = sizeof v - 1;
		char text[INET6_ADDRSTRLEN + 8];
		int rc = gnutls_x509_crt_get_subject_alt_name2(list[0], i, v, &vlen, &type, NULL);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc < 0)
			continue;                  /* one too long for us: the others still show */
		if (type == GNUTLS_SAN_IPADDRESS && (vlen == 4 || vlen == 16)) {
			char a[INET6_ADDRSTRLEN];
			inet_ntop(vlen == 4 ? AF_INET : AF_INET6, v, a, sizeof a);
			snprintf(text, sizeof text, "IP:%s", a);
		} else if (type == GNUTLS_SAN_DNSNAME) {
			snprintf(text, sizeof text, "DNS:%.*s", (int)(vlen < 40 ? vlen : 40), (const char *)v);
		} else {
			continue;
		}
		if (at + strlen(text) + 3 >= sizeof out->san)
			break;
		at += (size_t)snprintf(out->san + at, sizeof out->san - at, "%s%s", at ? ", " : "", text);
	}
	for (i = out->self_signed ? 0 : 1; i < n; i++)
		if (gnutls_x509_crt_check_issuer(list[0], list[i])) {
			fingerprint(list[i], out->issuer_sha256, sizeof out->issuer_sha256);
			break;
		}
	free_list(list, n);
	return 0;
}

int tls_load_pair(const char *cert_path, const char *key_path, char **cert_pem, char **key_pem,
                  char why[WM_WHY_LEN])
{
	uint8_t *cert = NULL, *keytext = NULL;
	size_t certlen = 0, keylen = 0;
	gnutls_x509_crt_t *list = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t d;
	unsigned n = 0;
	unsigned char a[64], b[64];
	size_t alen = sizeof a, blen = sizeof b;
	time_t until;
	char when[32];
	int rc, ret;

	if ((ret = files_read(cert_path, TLS_FILE_MAX, &cert, &certlen, why)) != 0 ||
	    (ret = files_read(key_path, TLS_FILE_MAX, &keytext, &keylen, why)) != 0)
		goto out;
	if (memchr(cert, 0, certlen) || memchr(keytext, 0, keylen)) {
		wm_why(why, "%s or %s is not a PEM text file", cert_path, key_path);
		ret = WM_EFORMAT;
		goto out;
	}
	if ((ret = load_list((char *)cert, &list, &n, cert_path, why)) != 0)
		goto out;
	until = gnutls_x509_crt_get_expiration_time(list[0]);
	if (until <= time(NULL)) {
		struct tm tm;
		strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&until, &tm));
		wm_why(why, "the certificate in %s expired on %s; issue a new one (watchmesh tls issue)",
		       cert_path, when);
		ret = WM_EEXPIRED;
		goto out;
	}
	ret = WM_EFORMAT;
	if (strstr((char *)keytext, "ENCRYPTED")) {
		wm_why(why, "%s is encrypted; the daemon starts unattended and needs the key plain "
		       "(mode 0600)", key_path);
		goto out;
	}
	d.data = keytext;
	d.size = (unsigned)keylen;
	if ((rc = gnutls_x509_privkey_init(&key)) < 0 ||
	    (rc = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		wm_why(why, "%s holds no private key in PEM: %s", key_path, gnutls_strerror(rc));
		goto out;
	}
	if (gnutls_x509_crt_get_key_id(list[0], GNUTLS_KEYID_USE_SHA256, a, &alen) < 0 ||
	    gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, b, &blen) < 0 ||
	    alen != blen || memcmp(a, b, alen) != 0) {
		wm_why(why, "the key in %s is not the key of the first certificate in %s", key_path,
		       cert_path);
		ret = WM_EINVAL;
		goto out;
	}
	/* files_read ends both with a NUL */
	*cert_pem = (char *)cert;
	*key_pem = (char *)keytext;
	cert = keytext = NULL;
	ret = 0;
out:
	free(cert);
	if (keytext) {
		gnutls_memset(keytext, 0, keylen);
		free(keytext);
	}
	free_list(list, n);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return ret;
}

int tls_ca_of_chain(const char *chain_pem, char **ca_pem, char why[WM_WHY_LEN])
{
	gnutls_x509_crt_t *list = NULL;
	gnutls_datum_t d = { NULL, 0 };
	unsigned n = 0;
	int rc, ret;

	if ((ret = load_list(chain_pem, &list, &n, "the certificate chain", why)) != 0)
		return ret;
	if (n < 2 || !is_root_ca(list[n - 1])) {
		wm_why(why, "the certificate chain does not end with a self-signed authority: "
		       "nothing for residents to install");
		ret = WM_ENOTFOUND;
		goto out;
	}
	if ((rc = gnutls_x509_crt_export2(list[n - 1], GNUTLS_X509_FMT_PEM, &d)) < 0) {
		ret = gt_fail(rc, why, "cannot write the authority's certificate");
		goto out;
	}
	ret = dup_datum(&d, ca_pem);
out:
	gnutls_free(d.data);
	free_list(list, n);
	return ret;
}
