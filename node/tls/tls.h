/*
 * node/tls: the network's TLS authority and the nodes' TLS certificates
 * (proto/PROTOCOL.md §20).  The only room that includes gnutls.h; what it
 * hands out is PEM text in plain C strings.
 *
 * Browsers take no Ed25519 certificates, so HTTPS on the LAN has an
 * authority of its own: an ECDSA P-256 key made by `network create`,
 * sealed with the root key's passphrase (PKCS#8, PBES2 with AES-256), and a
 * self-signed certificate whose name constraints keep it to the network's
 * LAN names and the private address ranges, so a phone that installs it
 * trusts it for nothing else.  `tls issue` signs a node's certificate with
 * it; the daemon loads a pair with tls_load_pair (an operator's certificate
 * for a real domain loads the same way) and serves the authority's
 * certificate at /ca.crt, found with tls_ca_of_chain.
 *
 * Driving it:
 *
 *   char *crt, *key;
 *   tls_ca_new("gaobu", TLS_DEFAULT_NAMES, pass, passlen, time(NULL), &crt, &key, why);
 *   ... write crt and key (0600) beside the root key ...
 *   struct tls_leaf req = { .names = {"xinhua.local"}, .nnames = 1,
 *                           .addrs = {"192.168.1.10"}, .naddrs = 1, .days = TLS_LEAF_DAYS };
 *   tls_issue(crt, key, pass, passlen, &req, time(NULL), &chain, &leafkey, why);
 *   ... write chain to DIR/TLS_CERT_FILE and leafkey (0600) to DIR/TLS_KEY_FILE ...
 *   tls_free(crt); tls_free(key); ...
 *
 * Every string out is malloc'd and NUL-terminated; free it with tls_free,
 * which wipes it first (some are private keys).  Every function returns 0
 * or a negative code of crypto/error.h, with `why` saying what to do.
 */
#ifndef WM_TLS_H
#define WM_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

/* A node's pair, relative to its data directory: the defaults of the
 * tls_cert and tls_key settings and where `tls issue` writes. */
#define TLS_CERT_FILE "tls/node.crt"
#define TLS_KEY_FILE  "tls/node.key"

/* The DNS subtrees an authority permits unless --tls-names says otherwise:
 * mDNS (RFC 6762), the name routers hand out, RFC 8375's home network
 * domain, and ICANN's private-use TLD. */
#define TLS_DEFAULT_NAMES "local,lan,home.arpa,internal"
#define TLS_CA_DAYS   7305         /* the authority: 20 years */
#define TLS_LEAF_DAYS 397          /* a node: what browsers accept at most */
#define TLS_LEAF_DAYS_MAX 825
#define TLS_NAMES_MAX 16           /* DNS names in an authority or a certificate */
#define TLS_ADDRS_MAX 32           /* IP addresses in a certificate */
#define TLS_FILE_MAX  (1 << 20)    /* a certificate or key file, in bytes */

/* 0 if `names` (comma-separated DNS names) can be an authority's names:
 * 1 to TLS_NAMES_MAX well-formed names, none a single label that the public
 * DNS could delegate (a certificate for "com" would cover every bank). */
int tls_names_ok(const char *names, char why[WM_WHY_LEN]);

/* A new authority for network `netname`: its certificate (*crt_pem) and its
 * key sealed with pass (*key_pem).  Valid from an hour before `now` for
 * TLS_CA_DAYS days. */
int tls_ca_new(const char *netname, const char *names, const char *pass, size_t passlen,
               time_t now, char **crt_pem, char **key_pem, char why[WM_WHY_LEN]);

/* What a node's certificate is for.  days is at most TLS_LEAF_DAYS_MAX; the
 * certificate ends with its authority at the latest. */
struct tls_leaf {
	const char *names[TLS_NAMES_MAX];  /* DNS names */
	size_t nnames;
	const char *addrs[TLS_ADDRS_MAX];  /* IPv4 or IPv6 addresses, as text */
	size_t naddrs;
	unsigned days;
};

/* 1 if the authority ca_pem may certify `what` (a DNS name, or an IP
 * address as text), else 0 (also for anything malformed). */
int tls_ca_permits(const char *ca_pem, const char *what);

/* 0 if every name and address of req is well-formed and the authority
 * ca_pem may certify it; else WM_EINVAL with a why that names the
 * constraint broken.  tls_issue checks the same; this needs no passphrase. */
int tls_check_leaf(const char *ca_pem, const struct tls_leaf *req, char why[WM_WHY_LEN]);

/* A node's certificate: a new ECDSA P-256 key (*key_pem, plain PKCS#8 PEM)
 * and its certificate for serverAuth signed by the authority, followed by
 * the authority's (*chain_pem).  WM_EPASSPHRASE for a wrong passphrase;
 * WM_EINVAL, naming the constraint, for a name or address the authority may
 * not certify. */
int tls_issue(const char *ca_pem, const char *ca_key_pem, const char *pass, size_t passlen,
              const struct tls_leaf *req, time_t now, char **chain_pem, char **key_pem,
              char why[WM_WHY_LEN]);

/* What `tls show` prints of a certificate file (its first certificate). */
struct tls_info {
	char subject[256];
	char issuer[256];
	char san[1024];              /* "DNS:a.local, IP:192.168.1.10", or "" */
	time_t not_before, not_after;
	int self_signed;
	size_t chain_len;            /* certificates in the file */
	char sha256[96];             /* its own SHA-256 fingerprint, AB:CD:... (what
	                                /ca shows for the authority) */
	char issuer_sha256[96];      /* the issuer's certificate's SHA-256, AB:CD:...,
	                                when the file holds it; else "" */
};
int tls_info_of(const char *pem, struct tls_info *out, char why[WM_WHY_LEN]);

/* The daemon's pair: the certificate chain (leaf first, PEM) and its
 * unencrypted private key, each file's text as it is (*cert_pem, *key_pem),
 * once the key is known to match the first certificate and that certificate
 * has not expired.  Any certificate and key work, not only ours. */
int tls_load_pair(const char *cert_path, const char *key_path, char **cert_pem, char **key_pem,
                  char why[WM_WHY_LEN]);

/* What the node serves at /ca.crt: the last certificate of the chain, as
 * PEM, when the chain has more than one and the last is a self-signed
 * authority (ours is).  A chain that ends at a public CA's intermediate
 * has nothing to install: WM_ENOTFOUND, and the node serves no /ca.crt. */
int tls_ca_of_chain(const char *chain_pem, char **ca_pem, char why[WM_WHY_LEN]);

/* Wipe and free a string from this module; NULL is fine. */
void tls_free(char *pem);

#endif
