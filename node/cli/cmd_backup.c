/*
 * node/cli/cmd_backup: `watchmesh backup` and `watchmesh restore`
 * (node/store/store_backup.h does the copying).
 *
 * A backup holds the store and names its network; the node's key goes in
 * only with --with-keys, and then sealed with a passphrase asked for here.
 * Restore goes into a data directory made by `watchmesh init` for the same
 * network, holding the daemon's lock so that no daemon starts meanwhile;
 * the store it replaces is kept beside it as store.db.before-restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli.h"
#include "files.h"
#include "keyfile.h"
#include "netfile.h"
#include "store_backup.h"

static const char usage_backup[] =
"usage: watchmesh backup [--dir DIR] --out FILE [--with-keys [--passphrase-file F]]\n"
"       watchmesh restore [--dir DIR] FILE [--with-keys [--passphrase-file F]]\n"
"\n"
"backup    copies the node's store (every event, certificate and setting kept\n"
"          in it) to FILE, a new file, mode 0600, while the node runs.  The\n"
"          node's key is left out unless --with-keys, and then sealed with a\n"
"          passphrase (asked twice, or from --passphrase-file).\n"
"restore   checks FILE (SQLite's integrity check, its schema version, its\n"
"          network) and makes it DIR's store; the store it replaces is kept\n"
"          as DIR/store.db.before-restore.  DIR is made first with\n"
"          `watchmesh init DIR --network FILE` for the same network, and no\n"
"          daemon may be running on it.  --with-keys also puts back the node's\n"
"          key from the backup (asking its passphrase), so the node keeps the\n"
"          key its peers know; without it the node keeps DIR's key.  A backup\n"
"          made by an older watchmesh is upgraded when the node opens it.\n";

int cli_lock_dir(const char *dir, const char *then, int *fd)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/daemon.lock", dir);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0) {
		cli_err("cannot open %s: %s (is %s a data directory?)", path, strerror(errno), dir);
		return CLI_FAIL;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		cli_err("a watchmesh daemon is running on %s; stop it first (systemctl stop watchmesh), "
		        "then %s", dir, then);
		close(*fd);
		*fd = -1;
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* The node's key sealed with a new passphrase, as key file text. */
static int seal_node_key(const char *dir, const char *passfile, char **out)
{
	char path[PATH_MAX], why[WM_WHY_LEN] = "";
	struct key *k = NULL;
	char *pass = NULL;
	size_t passlen = 0;
	int r;

	snprintf(path, sizeof path, "%s/node.key", dir);
	if (files_load_key(path, NULL, FILES_SECRET, &k, why) != 0 ||
	    files_passphrase(passfile, "New passphrase for the node's key in the backup: ", 1, &pass, &passlen,
	                     why) != 0) {
		cli_err("%s", why);
		key_free(k);
		return CLI_FAIL;
	}
	r = keyfile_encode(k, pass, passlen, KEYFILE_MODERATE, out);
	if (r)
		cli_err("cannot seal the node's key: %s", wm_strerror(r));
	key_free(k);
	files_pass_free(pass, passlen);
	return r ? CLI_FAIL : CLI_OK;
}

static int do_backup(const char *dir, const char *out, int with_keys, const char *passfile)
{
	char path[PATH_MAX], why[WM_WHY_LEN] = "", net_hex[33];
	struct network net;
	char *sealed = NULL;
	int ret = CLI_FAIL;

	snprintf(path, sizeof path, "%s/network", dir);
	if (network_load(path, &net, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	hex_encode(net_hex, net.id, WM_NETWORK_LEN);
	wmc_wipe(&net, sizeof net);
	if (with_keys && seal_node_key(dir, passfile, &sealed) != CLI_OK)
		return CLI_FAIL;
	snprintf(path, sizeof path, "%s/store.db", dir);
	if (store_backup(path, out, net_hex, sealed, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	printf("backed up %s to %s%s\n", dir, out, with_keys ? " with the node's key, sealed" : " (no keys)");
	ret = CLI_OK;
out:
	if (sealed) {
		wmc_wipe(sealed, strlen(sealed));
		free(sealed);
	}
	return ret;
}

/* The sealed node key of a backup, opened and written as DIR/node.key. */
static int restore_key(const char *dir, const char *sealed, const char *passfile)
{
	char path[PATH_MAX], why[WM_WHY_LEN] = "", inner[WM_WHY_LEN] = "";
	struct key *k = NULL;
	char *pass = NULL, *plain = NULL;
	size_t passlen = 0;
	int r, ret = CLI_FAIL;

	if (files_passphrase(passfile, "Passphrase of the node's key in the backup: ", 0, &pass, &passlen,
	                     why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	r = keyfile_decode(sealed, strlen(sealed), pass, passlen, &k, inner, sizeof inner);
	if (r == WM_EPASSPHRASE) {
		cli_err("wrong passphrase for the node's key in the backup");
		goto out;
	}
	if (r) {
		cli_err("the node's key in the backup is damaged: %s", inner[0] ? inner : wm_strerror(r));
		goto out;
	}
	/* the daemon reads its key plain, as `init` writes it */
	if ((r = keyfile_encode(k, NULL, 0, KEYFILE_MODERATE, &plain)) != 0) {
		cli_err("cannot write the node's key: %s", wm_strerror(r));
		goto out;
	}
	snprintf(path, sizeof path, "%s/node.key", dir);
	if (files_write_atomic(path, plain, strlen(plain), 0600, 0, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	ret = CLI_OK;
out:
	if (plain) {
		wmc_wipe(plain, strlen(plain));
		free(plain);
	}
	key_free(k);
	files_pass_free(pass, passlen);
	return ret;
}

static int do_restore(const char *dir, const char *file, int with_keys, const char *passfile)
{
	char path[PATH_MAX], old[PATH_MAX], why[WM_WHY_LEN] = "", net_hex[33];
	struct store_backup_info info;
	struct network net;
	struct node_dir *nd = NULL;
	int fd = -1, ret = CLI_FAIL;

	memset(&info, 0, sizeof info);
	snprintf(path, sizeof path, "%s/network", dir);
	if (!files_exists(path)) {
		cli_err("%s is not a watchmesh data directory; make it first with "
		        "`watchmesh init %s --network FILE` (the backup's network)", dir, dir);
		return CLI_FAIL;
	}
	if (network_load(path, &net, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	hex_encode(net_hex, net.id, WM_NETWORK_LEN);
	wmc_wipe(&net, sizeof net);
	if (cli_lock_dir(dir, "restore", &fd) != CLI_OK)
		return CLI_FAIL;
	if (store_backup_check(file, &info, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	if (strcmp(info.network, net_hex) != 0) {
		cli_err("%s is a backup of another network (%s) than %s's (%s); restore it into a directory "
		        "made with that network's file", file, info.network, dir, net_hex);
		goto out;
	}
	if (with_keys && !info.sealed_key) {
		cli_err("%s holds no key (it was made without --with-keys); restore without --with-keys", file);
		goto out;
	}
	if (with_keys && restore_key(dir, info.sealed_key, passfile) != CLI_OK)
		goto out;
	snprintf(path, sizeof path, "%s/store.db", dir);
	snprintf(old, sizeof old, "%s/store.db.before-restore", dir);
	if (files_exists(path) && rename(path, old) != 0) {
		cli_err("cannot keep the old store as %s: %s", old, strerror(errno));
		goto out;
	}
	if (store_backup_install(file, path, why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	/* opened once as the node opens it: an older schema is upgraded now,
	 * not at the daemon's start */
	if (node_dir_open(dir, &nd, why) != 0) {
		cli_err("the store was put back but does not open: %s", why);
		goto out;
	}
	node_dir_close(nd);
	printf("restored %llu events into %s%s%s\n", (unsigned long long)info.events, dir,
	       with_keys ? " with the node's key" : "",
	       info.sealed_key && !with_keys ? " (the backup's key was left out: --with-keys restores it)" : "");
	ret = CLI_OK;
out:
	if (info.sealed_key) {
		wmc_wipe(info.sealed_key, strlen(info.sealed_key));
		free(info.sealed_key);
	}
	close(fd);
	return ret;
}

static int backup_main(const char *cmd, int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "dir", 1, NULL }, { "out", 1, NULL }, { "with-keys", 0, NULL },
		{ "passphrase-file", 1, NULL },
	};
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[2], *dir, *passfile;
	size_t np = 0;
	int r, restore = strcmp(cmd, "restore") == 0, with_keys;

	r = cli_parse(cmd, usage_backup, argc, argv, opts, no, pos, 2, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	dir = cli_get(opts, no, "dir");
	if (!dir)
		return cli_no_dir(cmd);
	with_keys = cli_get(opts, no, "with-keys") != NULL;
	passfile = cli_get(opts, no, "passphrase-file");
	if (passfile && !with_keys)
		return cli_usage_err(cmd, "--passphrase-file is for the key that --with-keys carries");
	if (restore) {
		if (np != 1 || cli_get(opts, no, "out"))
			return cli_usage_err(cmd, "expected `restore --dir DIR FILE`");
		return do_restore(dir, pos[0], with_keys, passfile);
	}
	if (np != 0 || !cli_get(opts, no, "out"))
		return cli_usage_err(cmd, "expected `backup --dir DIR --out FILE`");
	return do_backup(dir, cli_get(opts, no, "out"), with_keys, passfile);
}

int cmd_backup(int argc, char **argv)
{
	return backup_main("backup", argc, argv);
}

int cmd_restore(int argc, char **argv)
{
	return backup_main("restore", argc, argv);
}
