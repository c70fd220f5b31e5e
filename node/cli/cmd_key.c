/*
 * node/cli/cmd_key: personal keys (`key new`, `key show`) and certificates
 * (`cert issue`, `cert revoke`; their drafts, which `post cert` and `post
 * revoke` share, are in sign.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "event.h"
#include "files.h"
#include "keyfile.h"
#include "nodedir.h"

static const char usage_key[] =
"usage: watchmesh key new --out FILE [--passphrase-file F | --no-passphrase]\n"
"       watchmesh key show FILE\n"
"\n"
"key new    makes a personal key (an officer's, a resident's) and prints its\n"
"           public key.  The file is mode 0600 and never replaced.  Officers'\n"
"           keys should be encrypted: the passphrase comes from --passphrase-file\n"
"           or is asked twice on the terminal; residents on their own devices\n"
"           typically use --no-passphrase.  A passphrase needs at least 10\n"
"           characters and not digits only; four ordinary words make a good one.\n"
"key show   prints the public key of a key file (64 hex digits), to hand to\n"
"           the station that issues your certificate.  Needs no passphrase.\n";

int cmd_key(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "out", 1, NULL }, { "passphrase-file", 1, NULL }, { "no-passphrase", 0, NULL },
	};
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[3], *out, *passfile;
	char why[WM_WHY_LEN] = "", hex[WM_HEX_PUB + 1];
	size_t np = 0, passlen = 0;
	char *pass = NULL;
	struct key *k = NULL;
	uint8_t pub[WM_PUB_LEN];
	int r, ret = CLI_FAIL;

	r = cli_parse("key", usage_key, argc, argv, opts, no, pos, 3, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (np >= 1 && strcmp(pos[0], "show") == 0) {
		if (np != 2)
			return cli_usage_err("key", "expected `key show FILE`");
		if (files_key_pub(pos[1], pub, why) != 0) {
			cli_err("%s", why);
			return CLI_FAIL;
		}
		hex_encode(hex, pub, WM_PUB_LEN);
		printf("%s\n", hex);
		return CLI_OK;
	}
	if (np != 1 || strcmp(pos[0], "new") != 0)
		return cli_usage_err("key", "expected `key new` or `key show`");
	out = cli_get(opts, no, "out");
	passfile = cli_get(opts, no, "passphrase-file");
	if (!out)
		return cli_usage_err("key", "--out FILE is required");
	if (passfile && cli_get(opts, no, "no-passphrase"))
		return cli_usage_err("key", "--passphrase-file and --no-passphrase exclude each other");
	if (files_exists(out)) {
		cli_err("%s already exists; not replacing a key", out);
		return CLI_FAIL;
	}
	if (!cli_get(opts, no, "no-passphrase")) {
		if (!passfile && !isatty(STDIN_FILENO)) {
			cli_err("a passphrase is needed and stdin is not a terminal: "
			        "use --passphrase-file FILE, or --no-passphrase for a plain key");
			return CLI_FAIL;
		}
		r = files_passphrase(passfile, "New passphrase for the key: ", 1, &pass, &passlen, why);
		if (r) {
			cli_err("%s", why);
			return CLI_FAIL;
		}
	}
	if (key_generate(&k) != 0) {
		cli_err("cannot generate a key");
		goto out;
	}
	if (files_save_key(out, k, pass, passlen, KEYFILE_MODERATE, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	hex_encode(hex, k->pub, WM_PUB_LEN);
	printf("%s\n", hex);
	ret = CLI_OK;
out:
	key_free(k);
	files_pass_free(pass, passlen);
	return ret;
}

static const char usage_cert[] =
"usage: watchmesh cert issue --issuer KEY --subject PUB --role ROLE --name NAME\n"
"                            --groups G,... [--days N]\n"
"                            (--dir DIR | --out FILE --network NETFILE)\n"
"       watchmesh cert revoke --issuer KEY --subject PUB [--reason R]\n"
"                            [--compromised-since TIME] [--yes]\n"
"                            (--dir DIR | --out FILE --network NETFILE)\n"
"       watchmesh cert list [--dir DIR] [--json]      (= watchmesh certs)\n"
"\n"
"cert issue   signs a certificate (a kind 7 event in the group \"network\").\n"
"             The root key certifies stations; a station certifies its\n"
"             officers, nodes and residents.\n"
"cert revoke  withdraws what the issuer's certificates gave a key (kind 8),\n"
"             except from the events its keep list reaches.  With --dir,\n"
"             keep is filled from that node's store by the order in which\n"
"             the key's events arrived there (never by their dates): each\n"
"             chain's tip and its alerts still running.  It shows the tips,\n"
"             the gaps and every event of the key not kept, and asks to\n"
"             confirm.  Without --dir, keep is empty: nothing stays.\n"
"\n"
"  --issuer KEY        the signing key file (asks its passphrase if encrypted)\n"
"  --subject PUB       the key being certified: 64 hex digits or a key file\n"
"  --role ROLE         station, officer, node or resident\n"
"  --name NAME         shown with everything the subject signs, e.g. 王警官\n"
"  --groups G,...      groups it covers, comma-separated; \"*\" for all\n"
"  --days N            valid for N days from now (default 365)\n"
"  --reason R          why the key is revoked (revoke only)\n"
"  --compromised-since TIME  keep only what arrived before TIME (ms since the\n"
"                      epoch, or YYYY-MM-DDTHH:MM:SSZ)\n"
"  --yes               sign without asking (scripts)\n"
"  --dir DIR           store it in this node (its id is printed once stored)\n"
"  --out FILE          append it to a bundle file (to carry to a node)\n"
"  --network NETFILE   with --out and no --dir: the network file (the event\n"
"                      carries its id)\n"
"  --passphrase-file F the issuer key's passphrase\n";

int cmd_cert(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "issuer", 1, NULL }, { "subject", 1, NULL }, { "role", 1, NULL },
		{ "name", 1, NULL }, { "groups", 1, NULL }, { "days", 1, NULL },
		{ "reason", 1, NULL }, { "dir", 1, NULL }, { "out", 1, NULL }, { "network", 1, NULL },
		{ "passphrase-file", 1, NULL }, { "compromised-since", 1, NULL }, { "yes", 0, NULL },
	};
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[2], *dir, *out, *issuer;
	char why[WM_WHY_LEN] = "";
	size_t np = 0;
	struct event_draft d;
	uint8_t subject[WM_PUB_LEN];
	char *gbuf = NULL;
	struct cval *items = NULL;
	struct key *k = NULL;
	struct node_dir *nd = NULL;
	struct cli_keep keep = { NULL, NULL, NULL };
	const char *since;
	int64_t cut = 0;
	int r, ret = CLI_FAIL, revoke;

	if (argc > 0 && strcmp(argv[0], "list") == 0)
		return cmd_certs(argc - 1, argv + 1);
	r = cli_parse("cert", usage_cert, argc, argv, opts, no, pos, 2, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (np != 1 || (strcmp(pos[0], "issue") != 0 && strcmp(pos[0], "revoke") != 0))
		return cli_usage_err("cert", "expected `cert issue` or `cert revoke`");
	revoke = strcmp(pos[0], "revoke") == 0;
	dir = cli_get(opts, no, "dir");
	out = cli_get(opts, no, "out");
	issuer = cli_get(opts, no, "issuer");
	if (!issuer)
		return cli_usage_err("cert", "--issuer KEY is required");
	if (!dir && !out)
		return cli_usage_err("cert", "give --dir DIR (store it) or --out FILE (a bundle), or both");
	if ((r = cli_need_network("cert", dir, cli_get(opts, no, "network"))) != 0)
		return r;
	if (revoke && (cli_get(opts, no, "role") || cli_get(opts, no, "groups") ||
	               cli_get(opts, no, "days") || cli_get(opts, no, "name")))
		return cli_usage_err("cert", "revoke takes --subject and --reason only");
	if (!revoke && (cli_get(opts, no, "reason") || cli_get(opts, no, "compromised-since") ||
	                cli_get(opts, no, "yes")))
		return cli_usage_err("cert", "--reason, --compromised-since and --yes are for `cert revoke`");
	since = cli_get(opts, no, "compromised-since");
	if (since && !dir)
		return cli_usage_err("cert", "--compromised-since needs --dir (the store that fills keep)");
	if (since && cli_parse_time(since, &cut) != 0)
		return cli_usage_err("cert", "--compromised-since: '%s' is not ms since the epoch nor "
		                     "YYYY-MM-DDTHH:MM:SSZ", since);
	memset(&d, 0, sizeof d);
	r = revoke ? cli_revoke_draft("cert", opts, no, &d, subject)
	           : cli_cert_draft("cert", opts, no, &d, subject, &gbuf, &items);
	if (r)
		return r;
	if (files_load_key(issuer, cli_get(opts, no, "passphrase-file"), 1, &k, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	if (dir && !(nd = cli_open_dir(dir)))
		goto out;
	if (revoke && nd && cli_fill_keep(nd, subject, cut, nd->ictx.now, cli_get(opts, no, "yes") != NULL,
	                                  &d, &keep) != CLI_OK)
		goto out;
	ret = cli_sign_and_deliver(&d, k, issuer, nd, cli_get(opts, no, "network"), out);
out:
	cli_keep_free(&keep);
	node_dir_close(nd);
	key_free(k);
	free(gbuf);
	free(items);
	return ret;
}
