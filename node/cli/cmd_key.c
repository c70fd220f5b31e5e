/*
 * node/cli/cmd_key: personal keys (`key new`, `key show`) and certificates
 * (`cert issue`, `cert revoke`; their drafts, which `post cert` and `post
 * revoke` share, are in sign.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "event.h"
#include "files.h"
#include "keyfile.h"
#include "nodedir.h"
#include "rotate.h"

static const char usage_key[] =
"usage: watchmesh key new --out FILE [--passphrase-file F | --no-passphrase]\n"
"       watchmesh key show FILE\n"
"       watchmesh key rotate [--dir DIR]\n"
"       watchmesh key agent --key KEY [--for 8h] [--passphrase-file F]\n"
"       watchmesh key lock --key KEY\n"
"\n"
"key new    makes a personal key (an officer's, a resident's) and prints its\n"
"           public key.  The file is mode 0600 and never replaced.  Officers'\n"
"           keys should be encrypted: the passphrase comes from --passphrase-file\n"
"           or is asked twice on the terminal; residents on their own devices\n"
"           typically use --no-passphrase.  A passphrase needs at least 10\n"
"           characters and not digits only; four ordinary words make a good one.\n"
"key show   prints the public key of a key file (64 hex digits), to hand to\n"
"           the station that issues your certificate.  Needs no passphrase.\n"
"key rotate gives the node at DIR a new key (the daemon stopped): the old\n"
"           one is kept as DIR/node.key.old-TIME and signs a statement naming\n"
"           the new one (DIR/rotation), so that neighbours whose `peers` line\n"
"           pins this node (ADDR@OLDKEY) follow by themselves (an older\n"
"           watchmesh needs the new key put in the line, and SIGHUP); one that\n"
"           gives the address alone needs nothing.  A node certificate of the\n"
"           old key is reissued for the new one by its station (`cert issue`),\n"
"           before the old one is revoked.\n"
"key agent  asks KEY's passphrase once and keeps the key unlocked, in locked\n"
"           memory, in a process of its own for --for (8h by default, at most\n"
"           24h): until then `post`, `cert`, `feed --key` and the other\n"
"           commands that sign or open sealed text with KEY go through it\n"
"           and ask nothing.  Only your own user's processes reach it (a\n"
"           private directory, and the caller's uid is checked); it signs\n"
"           and opens, and never hands the key out.\n"
"key lock   ends KEY's agent at once, wiping the key (end of the shift).\n";

/* The statements in DIR/rotation with rec, the new one, after them: the
 * oldest go beyond ROT_MAX (a neighbour silent through 8 rotations is
 * told by hand). */
static int rotation_append(const char *dir, const uint8_t rec[ROT_RECORD_LEN], char why[WM_WHY_LEN])
{
	char path[PATH_MAX];
	uint8_t *buf = NULL, *all;
	size_t len = 0, keep;
	int rc;

	snprintf(path, sizeof path, "%s/rotation", dir);
	if (files_exists(path) && (rc = files_read(path, ROT_MAX * ROT_RECORD_LEN, &buf, &len, why)) != 0)
		return rc;
	keep = len - len % ROT_RECORD_LEN;
	if (keep > (ROT_MAX - 1) * ROT_RECORD_LEN)
		keep = (ROT_MAX - 1) * ROT_RECORD_LEN;
	all = malloc(keep + ROT_RECORD_LEN);
	if (!all) {
		free(buf);
		wm_why(why, "out of memory");
		return WM_ENOMEM;
	}
	if (keep > 0)
		memcpy(all, buf + (len - len % ROT_RECORD_LEN - keep), keep);
	memcpy(all + keep, rec, ROT_RECORD_LEN);
	rc = files_write_atomic(path, all, keep + ROT_RECORD_LEN, 0644, 0, why);
	free(all);
	free(buf);
	return rc;
}

/* `key rotate`: a new node key, the old one kept beside it, and the old
 * key's statement naming the new one in DIR/rotation, by which neighbours
 * that pinned the old key follow (PROTOCOL.md §10).  The daemon's lock is
 * held throughout, so no daemon starts on a half-made change. */
static int key_rotate(const char *dir)
{
	char path[PATH_MAX], old[PATH_MAX], why[WM_WHY_LEN] = "", ohex[WM_HEX_PUB + 1], nhex[WM_HEX_PUB + 1];
	uint8_t rec[ROT_RECORD_LEN];
	struct network net;
	struct key *k = NULL, *ok = NULL;
	int fd = -1, ret = CLI_FAIL;
	unsigned n;

	if (!dir)
		return cli_no_dir("key");
	if (cli_lock_dir(dir, "rotate the key and start it again", &fd) != CLI_OK)
		return CLI_FAIL;
	snprintf(path, sizeof path, "%s/network", dir);
	if (network_load(path, &net, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	snprintf(path, sizeof path, "%s/node.key", dir);
	if (files_load_key(path, NULL, FILES_USE, &ok, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	hex_encode(ohex, ok->pub, WM_PUB_LEN);
	/* a second rotation within the same second keeps its old key as -2 */
	snprintf(old, sizeof old, "%s/node.key.old-%llu", dir, (unsigned long long)time(NULL));
	for (n = 2; files_exists(old) && n < 100; n++)
		snprintf(old, sizeof old, "%s/node.key.old-%llu-%u", dir, (unsigned long long)time(NULL), n);
	if (key_generate(&k) != 0 || rot_sign(ok, net.id, k->pub, wm_now_ms(), rec) != 0) {
		cli_err("cannot generate a key and its rotation statement");
		goto out;
	}
	/* the old key is moved aside only once the new one is made, and put
	 * back if the new one or its statement cannot be written */
	if (files_exists(old) || rename(path, old) != 0) {
		cli_err("cannot keep the old key as %s: %s", old, files_exists(old) ? "it exists" : strerror(errno));
		goto out;
	}
	if (files_save_key(path, k, NULL, 0, KEYFILE_MODERATE, why) != 0 ||
	    rotation_append(dir, rec, why) != 0) {
		cli_err("%s (the old key is back in place)", why);
		(void)rename(old, path);
		goto out;
	}
	hex_encode(nhex, k->pub, WM_PUB_LEN);
	printf("%s\n", nhex);
	fprintf(stderr, "the node's new key is %s; the old one, %s, is kept as %s.\n"
	        "Neighbours whose `peers` line pins this node by key (ADDR@%.16s...) follow by themselves\n"
	        "(the old key signed the change, in %s/rotation); an older watchmesh there needs its line\n"
	        "changed to ADDR@%s and SIGHUP.  If the old key held a node certificate, its station issues\n"
	        "one for the new key: watchmesh cert issue --issuer STATION.key --subject %s --role node ...\n"
	        "before it revokes the old key's (docs/keys.md).\n",
	        nhex, ohex, old, ohex, dir, nhex, nhex);
	ret = CLI_OK;
out:
	wmc_wipe(&net, sizeof net);
	key_free(ok);
	key_free(k);
	close(fd);
	return ret;
}

int cmd_key(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "out", 1, NULL }, { "passphrase-file", 1, NULL }, { "no-passphrase", 0, NULL },
		{ "dir", 1, NULL }, { "key", 1, NULL }, { "for", 1, NULL },
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
	if (np == 1 && strcmp(pos[0], "rotate") == 0)
		return key_rotate(cli_get(opts, no, "dir"));
	if (np == 1 && strcmp(pos[0], "agent") == 0)
		return cli_key_agent(cli_get(opts, no, "key"), cli_get(opts, no, "passphrase-file"),
		                     cli_get(opts, no, "for"));
	if (np == 1 && strcmp(pos[0], "lock") == 0)
		return cli_key_lock(cli_get(opts, no, "key"));
	if (cli_explicit(opts, no, "key") || cli_get(opts, no, "for"))
		return cli_usage_err("key", "--key and --for are for `key agent` and `key lock`");
	if (cli_explicit(opts, no, "dir"))
		return cli_usage_err("key", "--dir is for `key rotate` (the node's key)");
	if (np != 1 || strcmp(pos[0], "new") != 0)
		return cli_usage_err("key", "expected `key new`, `key show`, `key rotate`, `key agent` or `key lock`");
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
"       watchmesh cert renew --issuer KEY --subject PUB [--days N] --dir DIR [--out FILE]\n"
"       watchmesh cert list [--dir DIR] [--json]      (= watchmesh certs)\n"
"\n"
"cert issue   signs a certificate (a kind 7 event in the group \"network\").\n"
"             The root key certifies stations; a station certifies its\n"
"             officers, nodes and residents.\n"
"cert renew   signs a new certificate for a key that the issuer certified\n"
"             before, with the same role, name and groups, valid for --days\n"
"             from now: the newest of the issuer's certificates of the key in\n"
"             DIR's store, which must not be revoked.  Renew before the old\n"
"             one ends (`watchmesh status` warns 30 days ahead); the old one\n"
"             stays valid until its end.\n"
"cert revoke  withdraws what the issuer's certificates gave a key (kind 8),\n"
"             except from the events its keep list reaches.  With --dir,\n"
"             keep is filled from that node's store by the order in which\n"
"             the key's events arrived there (never by their dates): each\n"
"             chain's tip and its alerts still running.  It shows the tips,\n"
"             the gaps and every event of the key not kept, and asks to\n"
"             confirm.  Without --dir, keep is empty: nothing stays.\n"
"\n"
"  --issuer KEY        the signing key file (asks its passphrase if encrypted)\n"
"  --subject PUB       the key being certified: 64 hex digits or a key file;\n"
"                      with --dir also a certificate's name or a unique\n"
"                      prefix of 6+ hex digits of its key (`watchmesh certs`)\n"
"  --role ROLE         station, officer, node or resident\n"
"  --name NAME         shown with everything the subject signs, e.g. 王警官\n"
"  --groups G,...      groups it covers, comma-separated; \"*\" for all\n"
"  --days N            valid for N days from now (default 365; issue, renew)\n"
"  --reason R          why the key is revoked (revoke only)\n"
"  --compromised-since TIME  keep only what arrived before TIME (ms since the\n"
"                      epoch, or YYYY-MM-DDTHH:MM:SSZ)\n"
"  --yes               sign without asking (scripts)\n"
"  --dir DIR           store it in this node (its id is printed once stored)\n"
"  --out FILE          append it to a bundle file (to carry to a node)\n"
"  --network NETFILE   with --out and no --dir: the network file (the event\n"
"                      carries its id)\n"
"  --passphrase-file F the issuer key's passphrase\n";

/* The newest certificate of a subject by one issuer (renew's model). */
struct newest {
	const uint8_t *issuer;
	struct cert c;
	int found;
};

static int newest_cb(void *ctx, const struct cert *c)
{
	struct newest *n = ctx;

	if (memcmp(c->issuer, n->issuer, WM_PUB_LEN) == 0 && (!n->found || c->not_after > n->c.not_after)) {
		n->c = *c;
		n->found = 1;
	}
	return 0;
}

/* `cert renew`: cert issue with the role, name and groups of the issuer's
 * newest certificate of the subject. */
static int cert_renew(struct cli_opt *opts, size_t no)
{
	const char *dir = cli_get(opts, no, "dir"), *issuer = cli_get(opts, no, "issuer");
	const char *subj = cli_get(opts, no, "subject");
	char why[WM_WHY_LEN] = "", hex[WM_HEX_PUB + 1];
	uint8_t ipub[WM_PUB_LEN], subject[WM_PUB_LEN];
	struct node_dir *nd = NULL;
	struct newest n;
	struct event_draft d;
	struct cval *items = NULL;
	struct key *k = NULL;
	char *gbuf = NULL;
	size_t i;
	int ret = CLI_FAIL;

	if (!issuer || !subj || !dir)
		return cli_usage_err("cert", "renew needs --issuer KEY, --subject PUB and --dir DIR (the store "
		                     "that holds the certificate being renewed)");
	if (cli_get(opts, no, "role") || cli_get(opts, no, "name") || cli_get(opts, no, "groups") ||
	    cli_get(opts, no, "reason") || cli_get(opts, no, "compromised-since") || cli_get(opts, no, "yes"))
		return cli_usage_err("cert", "renew keeps the role, name and groups; to change them, `cert issue`");
	if (files_key_pub(issuer, ipub, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	if (!(nd = cli_open_dir(dir)))
		return CLI_FAIL;
	if (cli_resolve_subject("cert", nd, subj, subject) != 0)
		goto out;
	hex_encode(hex, subject, WM_PUB_LEN);
	memset(&n, 0, sizeof n);
	n.issuer = ipub;
	if (store_certs_of(nd->store, subject, newest_cb, &n) != 0) {
		cli_err("cannot read the certificates in %s: %s", dir, store_errmsg(nd->store));
		goto out;
	}
	if (!n.found) {
		cli_err("%s holds no certificate of %.16s… by %s; make one with `watchmesh cert issue`", dir, hex,
		        issuer);
		goto out;
	}
	if (store_revoked_by(nd->store, subject, ipub) == 1 || store_revoked_by(nd->store, subject, nd->net.root) == 1) {
		cli_err("%s (%.16s…) is revoked; a revoked key is never renewed: make a new key and "
		        "`watchmesh cert issue` it", n.c.name, hex);
		goto out;
	}
	/* the draft reads its fields from the options, as `cert issue` gives them */
	for (i = 0; i < no; i++) {
		if (strcmp(opts[i].name, "subject") == 0)
			opts[i].val = hex;
		else if (strcmp(opts[i].name, "role") == 0)
			opts[i].val = role_name(n.c.role);
		else if (strcmp(opts[i].name, "name") == 0)
			opts[i].val = n.c.name;
		else if (strcmp(opts[i].name, "groups") == 0)
			opts[i].val = n.c.groups;
	}
	memset(&d, 0, sizeof d);
	if ((ret = cli_cert_draft("cert", opts, no, nd, &d, subject, &gbuf, &items)) != 0)
		goto out;
	ret = CLI_FAIL;
	if (files_load_key(issuer, cli_get(opts, no, "passphrase-file"), FILES_USE, &k, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	ret = cli_sign_and_deliver(&d, k, issuer, nd, NULL, cli_get(opts, no, "out"));
out:
	node_dir_close(nd);
	key_free(k);
	free(gbuf);
	free(items);
	return ret;
}

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
	if (np == 1 && strcmp(pos[0], "renew") == 0)
		return cert_renew(opts, no);
	if (np != 1 || (strcmp(pos[0], "issue") != 0 && strcmp(pos[0], "revoke") != 0))
		return cli_usage_err("cert", "expected `cert issue`, `cert renew`, `cert revoke` or `cert list`");
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
	if (dir && !(nd = cli_open_dir(dir)))
		return CLI_FAIL;
	memset(&d, 0, sizeof d);
	r = revoke ? cli_revoke_draft("cert", opts, no, nd, &d, subject)
	           : cli_cert_draft("cert", opts, no, nd, &d, subject, &gbuf, &items);
	if (r) {
		ret = r;
		goto out;
	}
	if (files_load_key(issuer, cli_get(opts, no, "passphrase-file"), FILES_USE, &k, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
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
