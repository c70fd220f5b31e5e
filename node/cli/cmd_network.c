/*
 * node/cli/cmd_network: `watchmesh network create` (a new network: its file,
 * its root key and its TLS authority) and `watchmesh init` (a node's data
 * directory).
 *
 * The root key is always encrypted: it certifies every station.  The TLS
 * authority's key is sealed with the same passphrase and kept with it.  The node
 * key in a data directory is plain (mode 0600), because the daemon must
 * start unattended after a power cut.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "frame.h"
#include "conf.h"
#include "files.h"
#include "keyfile.h"
#include "netfile.h"
#include "tls.h"

static const char usage_network[] =
"usage: watchmesh network create --name NAME --out FILE [--root-key PATH]\n"
"                                [--passphrase-file FILE] [--vouched GROUPS]\n"
"                                [--tls-names NAMES]\n"
"\n"
"Creates a new network: FILE, the network file every node of the network\n"
"holds (name, a random network id that every event carries, root public key,\n"
"network secret; mode 0600), and the network's\n"
"root key, encrypted with a passphrase, in FILE.root.key (or --root-key PATH),\n"
"and the network's TLS authority, which gives nodes their HTTPS certificates:\n"
"FILE.tls-ca.crt (residents install it once) and its key FILE.tls-ca.key,\n"
"encrypted with the same passphrase.\n"
"Keep the root key offline: it certifies the stations.  Opening it takes a few\n"
"seconds and 1 GiB of memory (Argon2id at libsodium's SENSITIVE limits), which\n"
"is what makes guessing its passphrase slow for a thief.  The passphrase needs\n"
"at least 10 characters and not digits only; four ordinary words make a good one.\n"
"\n"
"  --name NAME              the network's name (1-64 bytes), e.g. gaobu-district\n"
"  --out FILE               where to write the network file (not replaced if it exists)\n"
"  --root-key PATH          where to write the root key (default FILE.root.key)\n"
"  --passphrase-file FILE   read the root key's passphrase from FILE's first line;\n"
"                           without it, the passphrase is asked twice on the terminal\n"
"  --vouched GROUPS         groups (comma-separated, or *) where only keys with a\n"
"                           resident or officer certificate for the group may post\n"
"                           requests, replies and acks; others are open to any key.\n"
"                           Later: edit the file's `vouched` line and give every node\n"
"                           the new copy\n"
"  --tls-names NAMES        the DNS names (comma-separated) the TLS authority may\n"
"                           certify, with every name under them; it never certifies\n"
"                           others, nor addresses outside the private ranges\n"
"                           (default " TLS_DEFAULT_NAMES ")\n";

int cmd_network(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "name", 1, NULL }, { "out", 1, NULL }, { "root-key", 1, NULL },
		{ "passphrase-file", 1, NULL }, { "vouched", 1, NULL }, { "tls-names", 1, NULL },
	};
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[2], *name, *out, *rootpath, *passfile, *vouched, *tlsnames;
	char rootbuf[PATH_MAX], cakeypath[PATH_MAX], cacrtpath[PATH_MAX], why[WM_WHY_LEN] = "", hex[WM_HEX_PUB + 1], idhex[2 * WM_NETWORK_LEN + 1];
	size_t np = 0, passlen = 0, netlen = 0;
	char *pass = NULL, *nettext = NULL, *cacrt = NULL, *cakey = NULL;
	struct key *root = NULL;
	struct network net;
	int r, ret = CLI_FAIL;

	r = cli_parse("network", usage_network, argc, argv, opts, no, pos, 2, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (np != 1 || strcmp(pos[0], "create") != 0)
		return cli_usage_err("network", "expected `network create`");
	name = cli_get(opts, no, "name");
	out = cli_get(opts, no, "out");
	rootpath = cli_get(opts, no, "root-key");
	passfile = cli_get(opts, no, "passphrase-file");
	vouched = cli_get(opts, no, "vouched");
	tlsnames = cli_get(opts, no, "tls-names");
	if (!tlsnames)
		tlsnames = TLS_DEFAULT_NAMES;
	if (!name || !out)
		return cli_usage_err("network", "--name and --out are required");
	if (vouched && (strlen(vouched) > NETWORK_VOUCHED_MAX || !network_vouched_ok(vouched)))
		return cli_usage_err("network", "--vouched needs group names separated by commas, or *, "
		                     "and not 'network'");
	if (!network_name_ok(name))
		return cli_usage_err("network", "the name must be 1-64 bytes without control characters");
	if (tls_names_ok(tlsnames, why) != 0)
		return cli_usage_err("network", "%s", why);
	if (!rootpath) {
		if (snprintf(rootbuf, sizeof rootbuf, "%s.root.key", out) >= (int)sizeof rootbuf)
			return cli_usage_err("network", "path too long");
		rootpath = rootbuf;
	}
	if (snprintf(cakeypath, sizeof cakeypath, "%s.tls-ca.key", out) >= (int)sizeof cakeypath ||
	    snprintf(cacrtpath, sizeof cacrtpath, "%s.tls-ca.crt", out) >= (int)sizeof cacrtpath)
		return cli_usage_err("network", "path too long");
	if (files_exists(out)) {
		cli_err("%s already exists; not replacing a network file", out);
		return CLI_FAIL;
	}
	if (files_exists(rootpath) || files_exists(cakeypath) || files_exists(cacrtpath)) {
		cli_err("%s already exists; not replacing a key",
		        files_exists(rootpath) ? rootpath : files_exists(cakeypath) ? cakeypath : cacrtpath);
		return CLI_FAIL;
	}
	r = files_passphrase(passfile, "New passphrase for the network's root key: ", 1,
	                     &pass, &passlen, why);
	if (r) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	memset(&net, 0, sizeof net);
	if (key_generate(&root) != 0) {
		cli_err("cannot generate a key");
		goto out;
	}
	snprintf(net.name, sizeof net.name, "%s", name);
	memcpy(net.root, root->pub, WM_PUB_LEN);
	wmc_random(net.id, sizeof net.id);
	wmc_random(net.secret, sizeof net.secret);
	snprintf(net.vouched, sizeof net.vouched, "%s", vouched ? vouched : "");
	if (network_encode(&net, &nettext, &netlen) != 0) {
		cli_err("cannot encode the network file");
		goto out;
	}
	/* everything made before anything is written: a failure leaves no half network */
	if (tls_ca_new(name, tlsnames, pass, passlen, time(NULL), &cacrt, &cakey, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	if (files_save_key(rootpath, root, pass, passlen, KEYFILE_SENSITIVE, why) != 0 ||
	    files_write_atomic(cakeypath, cakey, strlen(cakey), 0600, 1, why) != 0 ||
	    files_write_atomic(cacrtpath, cacrt, strlen(cacrt), 0644, 1, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	if (files_write_atomic(out, nettext, netlen, 0600, 1, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	hex_encode(hex, root->pub, WM_PUB_LEN);
	printf("network %s\n", name);
	hex_encode(idhex, net.id, WM_NETWORK_LEN);
	printf("network id:   %s\n", idhex);
	printf("network file: %s (give a copy to every node of the network)\n", out);
	printf("root key:     %s (encrypted; keep it offline)\n", rootpath);
	printf("root public key: %s\n", hex);
	printf("TLS authority: %s (residents install it once; it certifies\n"
	       "               only names under %s, and private addresses)\n", cacrtpath, tlsnames);
	printf("TLS authority key: %s (encrypted with the same passphrase; keep it with the root key)\n",
	       cakeypath);
	if (net.vouched[0])
		printf("vouched groups: %s (residents need a certificate to post there)\n", net.vouched);
	ret = CLI_OK;
out:
	if (nettext) {
		wmc_wipe(nettext, netlen);
		free(nettext);
	}
	wmc_wipe(&net, sizeof net);
	key_free(root);
	files_pass_free(pass, passlen);
	tls_free(cacrt);
	tls_free(cakey);
	return ret;
}

static const char usage_init[] =
"usage: watchmesh init [DIR | --dir DIR] --network FILE [--name NODE]\n"
"\n"
"Creates a node's data directory (DIR is created if missing, mode 0700;\n"
"without DIR: $WATCHMESH_DIR, else " WM_DEFAULT_DIR " when it exists):\n"
"  DIR/node.key        the node's own key, plain, mode 0600 (the daemon starts\n"
"                      unattended)\n"
"  DIR/network         a copy of the network file, mode 0600\n"
"  DIR/watchmesh.conf  settings, each with a comment (name, groups, listen, peers)\n"
"  DIR/store.db        the event store (SQLite)\n"
"Refuses a directory that already holds a node.\n"
"\n"
"  --network FILE   the network file from `watchmesh network create`\n"
"  --name NODE      the node's name (default: the directory's name)\n";

int cmd_init(int argc, char **argv)
{
	struct cli_opt opts[] = { { "network", 1, NULL }, { "name", 1, NULL }, { "dir", 1, NULL } };
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[2], *dir, *netfile, *name;
	char path[PATH_MAX], why[WM_WHY_LEN] = "", hex[WM_HEX_PUB + 1], base[256];
	size_t np = 0, netlen = 0;
	char *nettext = NULL, *conftext = NULL;
	struct network net;
	struct node_conf conf;
	struct key *nodekey = NULL;
	struct store *st = NULL;
	struct stat sb;
	int r, ret = CLI_FAIL;
	const char *slash;

	r = cli_parse("init", usage_init, argc, argv, opts, no, pos, 2, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if ((r = cli_dir_arg("init", opts, no, pos, np, &dir)) != 0)
		return r;
	netfile = cli_get(opts, no, "network");
	name = cli_get(opts, no, "name");
	if (!netfile)
		return cli_usage_err("init", "--network FILE is required");
	if (strlen(dir) > PATH_MAX - 32)
		return cli_usage_err("init", "directory path too long");
	if (name && (!network_name_ok(name) || !frame_name_ok(name, strlen(name))))
		return cli_usage_err("init", "the node name must be 1-64 bytes of text (UTF-8) without "
		                     "control characters");
	memset(&net, 0, sizeof net);
	if (network_load(netfile, &net, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			cli_err("%s exists and is not a directory", dir);
			goto out;
		}
	} else if (mkdir(dir, 0700) != 0) {
		cli_err("cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof path, "%s/node.key", dir);
	if (files_exists(path)) {
		cli_err("%s already holds a node (%s exists); not touching it", dir, path);
		goto out;
	}
	snprintf(path, sizeof path, "%s/store.db", dir);
	if (files_exists(path)) {
		cli_err("%s already holds a store (%s exists); not touching it", dir, path);
		goto out;
	}
	if (!name) {
		size_t l = strlen(dir);
		while (l > 1 && dir[l - 1] == '/')
			l--;
		snprintf(base, sizeof base, "%.*s", (int)l, dir);
		slash = strrchr(base, '/');
		name = slash && slash[1] ? slash + 1 : base;
		if (!network_name_ok(name) || !frame_name_ok(name, strlen(name)))
			name = "node";
	}
	/* network first, so a failure leaves no half node (node.key marks a node) */
	if (network_encode(&net, &nettext, &netlen) != 0) {
		cli_err("cannot encode the network file");
		goto out;
	}
	snprintf(path, sizeof path, "%s/network", dir);
	if (files_write_atomic(path, nettext, netlen, 0600, 0, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	conf_defaults(&conf);
	snprintf(conf.name, sizeof conf.name, "%s", name);
	if (conf_encode(&conf, &conftext) != 0) {
		cli_err("cannot encode the configuration");
		goto out;
	}
	snprintf(path, sizeof path, "%s/watchmesh.conf", dir);
	if (files_write_atomic(path, conftext, strlen(conftext), 0644, 0, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	snprintf(path, sizeof path, "%s/store.db", dir);
	if (store_open(path, &st, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	if (key_generate(&nodekey) != 0) {
		cli_err("cannot generate a key");
		goto out;
	}
	snprintf(path, sizeof path, "%s/node.key", dir);
	if (files_save_key(path, nodekey, NULL, 0, KEYFILE_MODERATE, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	hex_encode(hex, nodekey->pub, WM_PUB_LEN);
	printf("node %s in %s (network %s)\n", name, dir, net.name);
	printf("node public key: %s\n", hex);
	printf("settings: %s/watchmesh.conf (add neighbours under 'peers')\n", dir);
	ret = CLI_OK;
out:
	store_close(st);
	key_free(nodekey);
	if (nettext) {
		wmc_wipe(nettext, netlen);
		free(nettext);
	}
	free(conftext);
	wmc_wipe(&net, sizeof net);
	return ret;
}
