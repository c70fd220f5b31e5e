/*
 * node/cli/cmd_tls: `watchmesh tls issue` (a node's HTTPS certificate from
 * the network's TLS authority) and `watchmesh tls show` (what a certificate
 * file holds).  The certificates themselves are node/tls's; this file finds
 * the defaults on the machine it runs on, asks the passphrase, and writes.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "files.h"
#include "keyfile.h"
#include "tls.h"

static const char usage_tls[] =
"usage: watchmesh tls issue --ca FILE.tls-ca.crt --ca-key FILE.tls-ca.key --dir DIR\n"
"                           [--name DNS]... [--address IP]... [--days N]\n"
"                           [--passphrase-file F]\n"
"       watchmesh tls show (--dir DIR | --cert FILE [--key FILE])\n"
"\n"
"tls issue  gives a node its HTTPS certificate, signed by the network's TLS\n"
"           authority (made by `network create`), and writes\n"
"             DIR/" TLS_CERT_FILE "   the certificate, then the authority's\n"
"             DIR/" TLS_KEY_FILE "   its key, plain, mode 0600 (the daemon reads\n"
"                                it unattended); both replaced if they exist\n"
"           Run it on the node's PC (bring the authority's files on a stick), or\n"
"           name the node's names and addresses yourself.  The authority certifies\n"
"           only its own names and private addresses: anything else is refused.\n"
"tls show   prints a certificate file's subject, names, validity and issuer\n"
"           (with the SHA-256 fingerprint a resident can compare on a phone);\n"
"           with a key (--dir: DIR/" TLS_KEY_FILE "), whether the node can serve the\n"
"           pair as it loads it, and what it serves at /ca.crt.\n"
"\n"
"  --ca FILE             the authority's certificate (FILE.tls-ca.crt)\n"
"  --ca-key FILE         its encrypted key (FILE.tls-ca.key)\n"
"  --dir DIR             the node's data directory\n"
"  --name DNS            a name the node is reached by; repeat it or separate\n"
"                        with commas (default: this host's name + .local)\n"
"  --address IP          an address the node is reached at; repeat it or separate\n"
"                        with commas (default: this machine's private addresses\n"
"                        and 127.0.0.1)\n"
"  --days N              validity, 1-825 days (default 397, what browsers accept)\n"
"  --passphrase-file F   the authority's passphrase (the root key's) from F's first\n"
"                        line; without it, asked on the terminal\n"
"  --cert FILE           (show) a certificate file other than DIR/" TLS_CERT_FILE "\n"
"  --key FILE            (show) its key, checked as the node checks it\n";

/* The values of a repeatable option, split at commas; strings malloc'd. */
struct multi {
	char *v[TLS_ADDRS_MAX + 1];
	size_t n;
};

static void multi_free(struct multi *m)
{
	size_t i;
	for (i = 0; i < m->n; i++)
		free(m->v[i]);
	m->n = 0;
}

/* Add the comma-separated items of s; -1 past max. */
static int multi_add(struct multi *m, const char *s, size_t max)
{
	while (*s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len) {
			if (m->n >= max)
				return -1;
			if (!(m->v[m->n] = strndup(s, len)))
				return -1;
			m->n++;
		}
		s += len + (e != NULL);
	}
	return 0;
}

/* cli_parse takes an option once; --name and --address may come many
 * times, so their words are taken out of argv first (up to "--"). */
static int take_multi(int *argc, char **argv, const char *opt, struct multi *m, size_t max)
{
	size_t ol = strlen(opt);
	int i = 0, j;

	while (i < *argc && strcmp(argv[i], "--") != 0) {
		const char *val = NULL;
		int words = 0;
		if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, opt, ol) == 0) {
			const char *rest = argv[i] + 2 + ol;
			if (*rest == '=')
				val = rest + 1, words = 1;
			else if (*rest == 0 && i + 1 < *argc)
				val = argv[i + 1], words = 2;
			else if (*rest == 0)
				return cli_usage_err("tls", "option --%s needs a value", opt), -1;
		}
		if (!words) {
			i++;
			continue;
		}
		if (multi_add(m, val, max) != 0)
			return cli_usage_err("tls", "more than %zu values of --%s", max, opt), -1;
		for (j = i; j + words < *argc; j++)
			argv[j] = argv[j + words];
		*argc -= words;
	}
	return 0;
}

/* This host's name + ".local", if the authority may certify it. */
static int default_name(const char *ca, struct multi *names)
{
	char host[256] = "", name[300];
	size_t i;

	if (gethostname(host, sizeof host - 1) != 0 || !host[0])
		return 0;
	host[strcspn(host, ".")] = 0;
	for (i = 0; host[i]; i++)
		host[i] = (char)tolower((unsigned char)host[i]);
	snprintf(name, sizeof name, "%s.local", host);
	if (!tls_ca_permits(ca, name)) {
		fprintf(stderr, "watchmesh: note: %s is not a name the authority may certify; "
		        "give --name to add one\n", name);
		return 0;
	}
	return multi_add(names, name, TLS_NAMES_MAX);
}

/* Every address of this machine's interfaces that are up, loopback left
 * out, that the authority may certify (its private ranges), and 127.0.0.1
 * for the node's own scripts. */
static int default_addrs(const char *ca, struct multi *addrs)
{
	struct ifaddrs *ifs = NULL, *i;
	char text[INET6_ADDRSTRLEN];
	size_t k;
	int r = 0;

	if (getifaddrs(&ifs) != 0)
		ifs = NULL;                 /* then 127.0.0.1 alone; the output shows it */
	for (i = ifs; i && r == 0; i = i->ifa_next) {
		const void *a;
		int dup = 0;
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			a = &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
		else
			continue;
		if (!inet_ntop(i->ifa_addr->sa_family, a, text, sizeof text) || !tls_ca_permits(ca, text))
			continue;
		for (k = 0; k < addrs->n; k++)
			dup |= strcmp(addrs->v[k], text) == 0;
		if (!dup && addrs->n < TLS_ADDRS_MAX - 1)
			r = multi_add(addrs, text, TLS_ADDRS_MAX);
	}
	if (ifs)
		freeifaddrs(ifs);
	return r ? r : multi_add(addrs, "127.0.0.1", TLS_ADDRS_MAX);
}

static int tls_issue_cmd(const struct cli_opt *opts, size_t no, struct multi *names, struct multi *addrs)
{
	const char *ca_path = cli_get(opts, no, "ca"), *key_path = cli_get(opts, no, "ca-key");
	const char *dir = cli_get(opts, no, "dir"), *days_s = cli_get(opts, no, "days");
	const char *passfile = cli_get(opts, no, "passphrase-file");
	char why[WM_WHY_LEN] = "", crt_out[PATH_MAX], key_out[PATH_MAX], tlsdir[PATH_MAX], when[64];
	uint8_t *ca = NULL, *cakey = NULL;
	size_t calen = 0, cakeylen = 0, passlen = 0, i;
	char *pass = NULL, *chain = NULL, *key = NULL, esc[WM_WHY_LEN];
	struct tls_leaf req;
	struct tls_info info;
	uint64_t days = TLS_LEAF_DAYS;
	const char *lan = NULL;
	struct stat sb;
	int ret = CLI_FAIL;

	if (!ca_path || !key_path || !dir)
		return cli_usage_err("tls", "tls issue needs --ca, --ca-key and --dir");
	if (days_s && cli_parse_uint(days_s, TLS_LEAF_DAYS_MAX, &days) != 0)
		return cli_usage_err("tls", "--days takes 1 to %d", TLS_LEAF_DAYS_MAX);
	if (days == 0)
		return cli_usage_err("tls", "--days takes 1 to %d", TLS_LEAF_DAYS_MAX);
	if (snprintf(tlsdir, sizeof tlsdir, "%s/tls", dir) >= (int)sizeof tlsdir ||
	    snprintf(crt_out, sizeof crt_out, "%s/" TLS_CERT_FILE, dir) >= (int)sizeof crt_out ||
	    snprintf(key_out, sizeof key_out, "%s/" TLS_KEY_FILE, dir) >= (int)sizeof key_out)
		return cli_usage_err("tls", "--dir path too long");
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		cli_err("%s is not a directory (the node's data directory, from `watchmesh init`)", dir);
		return CLI_FAIL;
	}
	if (files_read(ca_path, TLS_FILE_MAX, &ca, &calen, why) != 0 ||
	    files_read(key_path, TLS_FILE_MAX, &cakey, &cakeylen, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	if (memchr(ca, 0, calen) || memchr(cakey, 0, cakeylen)) {
		cli_err("%s or %s is not a PEM text file", ca_path, key_path);
		goto out;
	}
	if ((names->n == 0 && default_name((char *)ca, names) != 0) ||
	    (addrs->n == 0 && default_addrs((char *)ca, addrs) != 0)) {
		cli_err("out of memory");
		goto out;
	}
	memset(&req, 0, sizeof req);
	for (i = 0; i < names->n && i < TLS_NAMES_MAX; i++)
		req.names[req.nnames++] = names->v[i];
	for (i = 0; i < addrs->n && i < TLS_ADDRS_MAX; i++)
		req.addrs[req.naddrs++] = addrs->v[i];
	req.days = (unsigned)days;
	/* refused before the passphrase is asked */
	if (tls_check_leaf((char *)ca, &req, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	if (files_passphrase(passfile, "Passphrase of the TLS authority (the root key's): ", 0,
	                     &pass, &passlen, why) != 0 ||
	    tls_issue((char *)ca, (char *)cakey, pass, passlen, &req, time(NULL), &chain, &key, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	if (mkdir(tlsdir, 0700) != 0 && errno != EEXIST) {
		cli_err("cannot create %s: %s", tlsdir, strerror(errno));
		goto out;
	}
	if (files_write_atomic(key_out, key, strlen(key), 0600, 0, why) != 0 ||
	    files_write_atomic(crt_out, chain, strlen(chain), 0644, 0, why) != 0 ||
	    tls_info_of(chain, &info, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	render_escape(esc, sizeof esc, info.san);
	printf("issued a TLS certificate for %s\n", esc);
	printf("  certificate  %s (then the authority's: the chain the node serves)\n", crt_out);
	printf("  key          %s (plain, mode 0600: the daemon reads it unattended)\n", key_out);
	render_time(when, sizeof when, (uint64_t)info.not_after * 1000);
	printf("  valid until  %s (%u days)\n", when,
	       (unsigned)((info.not_after - time(NULL) + 43200) / 86400));
	for (i = 0; i < req.naddrs && !lan; i++)
		if (strcmp(req.addrs[i], "127.0.0.1") != 0 && !strchr(req.addrs[i], ':'))
			lan = req.addrs[i];
	printf("next: restart the node (watchmesh run %s): it serves HTTPS on the port of `https`\n"
	       "      in its watchmesh.conf (default 8443); residents open https://%s:8443/ca\n"
	       "      once to install the authority.  Issue again before the date above.\n",
	       dir, lan ? lan : req.nnames ? req.names[0] : "192.168.1.10");
	ret = CLI_OK;
out:
	free(ca);
	if (cakey) {
		wmc_wipe(cakey, cakeylen);
		free(cakey);
	}
	files_pass_free(pass, passlen);
	tls_free(chain);
	tls_free(key);
	return ret;
}

static int tls_show_cmd(const struct cli_opt *opts, size_t no)
{
	const char *dir = cli_get(opts, no, "dir"), *cert = cli_get(opts, no, "cert");
	const char *keyp = cli_get(opts, no, "key");
	char path[PATH_MAX], kpath[PATH_MAX], why[WM_WHY_LEN] = "", esc[1024], from[64], until[64];
	char *cpem = NULL, *kpem = NULL, *ca = NULL;
	struct tls_info cainfo;
	uint8_t *text = NULL;
	size_t len = 0;
	struct tls_info info;
	time_t now = time(NULL);

	if (!dir == !cert || (dir && keyp))
		return cli_usage_err("tls", "tls show needs --dir DIR, or --cert FILE [--key FILE]");
	if (!cert) {
		if (snprintf(path, sizeof path, "%s/" TLS_CERT_FILE, dir) >= (int)sizeof path ||
		    snprintf(kpath, sizeof kpath, "%s/" TLS_KEY_FILE, dir) >= (int)sizeof kpath)
			return cli_usage_err("tls", "--dir path too long");
		cert = path;
		keyp = kpath;
	}
	if (files_read(cert, TLS_FILE_MAX, &text, &len, why) != 0) {
		cli_err("%s%s", why, dir && !files_exists(cert) ? " (make one with `watchmesh tls issue`)" : "");
		return CLI_FAIL;
	}
	if (memchr(text, 0, len) || tls_info_of((char *)text, &info, why) != 0) {
		cli_err("%s", memchr(text, 0, len) ? "not a PEM text file" : why);
		free(text);
		return CLI_FAIL;
	}
	free(text);
	printf("file         %s (%zu certificate%s)\n", cert, info.chain_len, info.chain_len == 1 ? "" : "s");
	render_escape(esc, sizeof esc, info.subject);
	printf("subject      %s\n", esc);
	render_escape(esc, sizeof esc, info.san[0] ? info.san : "(none)");
	printf("names        %s\n", esc);
	render_time(from, sizeof from, (uint64_t)(info.not_before > 0 ? info.not_before : 0) * 1000);
	render_time(until, sizeof until, (uint64_t)(info.not_after > 0 ? info.not_after : 0) * 1000);
	if (info.not_after <= now)
		printf("valid        %s to %s: EXPIRED\n", from, until);
	else
		printf("valid        %s to %s (expires in %lld days)\n", from, until,
		       (long long)((info.not_after - now + 43200) / 86400));
	render_escape(esc, sizeof esc, info.issuer);
	printf("issuer       %s%s\n", esc, info.self_signed ? " (itself: an authority)" : "");
	printf("SHA-256      %s\n", info.sha256);
	printf("issuer SHA-256 %s\n", info.issuer_sha256[0] ? info.issuer_sha256
	                                                     : "(the issuer's certificate is not in the file)");
	if (!keyp)
		return CLI_OK;
	/* the daemon's own checks, so an operator learns before a restart */
	if (tls_load_pair(cert, keyp, &cpem, &kpem, why) != 0) {
		cli_err("the node cannot serve this pair: %s", why);
		return CLI_FAIL;
	}
	printf("key          %s: the certificate's, plain: the node can serve the pair\n", keyp);
	if (tls_ca_of_chain(cpem, &ca, why) == 0 && tls_info_of(ca, &cainfo, why) == 0) {
		render_escape(esc, sizeof esc, cainfo.subject);
		printf("/ca.crt      %s, for residents to install\n", esc);
	} else {
		printf("/ca.crt      not served: the chain does not end with a self-signed authority\n");
	}
	tls_free(cpem);
	tls_free(kpem);
	tls_free(ca);
	return CLI_OK;
}

int cmd_tls(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "ca", 1, NULL }, { "ca-key", 1, NULL }, { "dir", 1, NULL }, { "days", 1, NULL },
		{ "passphrase-file", 1, NULL }, { "cert", 1, NULL }, { "key", 1, NULL },
	};
	const size_t no = sizeof opts / sizeof opts[0];
	struct multi names = { { NULL }, 0 }, addrs = { { NULL }, 0 };
	const char *pos[2];
	size_t np = 0;
	int r, ret;

	if (take_multi(&argc, argv, "name", &names, TLS_NAMES_MAX) != 0 ||
	    take_multi(&argc, argv, "address", &addrs, TLS_ADDRS_MAX) != 0) {
		ret = CLI_USAGE;
		goto out;
	}
	r = cli_parse("tls", usage_tls, argc, argv, opts, no, pos, 2, &np);
	if (r) {
		ret = r > 0 ? CLI_OK : CLI_USAGE;
		goto out;
	}
	if (np == 1 && strcmp(pos[0], "issue") == 0) {
		ret = tls_issue_cmd(opts, no, &names, &addrs);
	} else if (np == 1 && strcmp(pos[0], "show") == 0) {
		ret = names.n || addrs.n ? cli_usage_err("tls", "--name and --address are for tls issue")
		                         : tls_show_cmd(opts, no);
	} else {
		ret = cli_usage_err("tls", "expected `tls issue` or `tls show`");
	}
out:
	multi_free(&names);
	multi_free(&addrs);
	return ret;
}
