/*
 * node/cli/cmd_run: `watchmesh run [DIR]`, the mesh daemon (node/daemon/ does
 * the work).  Exit status: 0 after SIGTERM/SIGINT and a clean shutdown; 1
 * when the node cannot start (one line on stderr says why); 2 for a wrong
 * command line.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "conf.h"
#include "daemon.h"

static const char usage_run[] =
"usage: watchmesh run [DIR | --dir DIR]\n"
"\n"
"The mesh daemon.  Loads the data directory DIR (network, node.key,\n"
"watchmesh.conf, store.db), listens for neighbouring nodes, dials the peers\n"
"in DIR/watchmesh.conf, pushes new events and repairs gaps with set\n"
"reconciliation.  Events posted with `watchmesh post --dir DIR` while it runs\n"
"are picked up from the store within a fraction of a second and pushed.\n"
"\n"
"Logs one line per significant event on stderr.  Writes DIR/status.json\n"
"every few seconds (read it with `watchmesh status --dir DIR`).\n"
"\n"
"Signals: SIGTERM or SIGINT shut down cleanly (exit 0); SIGHUP re-reads\n"
"watchmesh.conf, applies the peers, log_level and disk_reserve, and logs any\n"
"other setting that changed as waiting for a restart.\n"
"\n"
"Without DIR: $WATCHMESH_DIR, else " WM_DEFAULT_DIR " (the service's), else\n"
"the current directory when it holds a node.\n";

/* What would otherwise pass without a word before the daemon starts: a
 * missing watchmesh.conf, refused (a node on defaults it was never told
 * of listens where nobody expects and meshes with nobody), and a node key
 * that other users may read, warned of.  Nonzero: do not start. */
static int run_checks(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof path, "%s/network", dir);
	if (stat(path, &st) != 0)
		return 0;                 /* no node here: the daemon says so */
	snprintf(path, sizeof path, "%s/watchmesh.conf", dir);
	if (stat(path, &st) != 0 && errno == ENOENT) {
		cli_err("run: %s is missing: put back the one `watchmesh init` wrote, or have init write a "
		        "new one (watchmesh init --dir NEWDIR --network %s/network) and copy "
		        "NEWDIR/watchmesh.conf there", path, dir);
		return 1;
	}
	snprintf(path, sizeof path, "%s/node.key", dir);
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		cli_err("warning: %s may be read by other users (mode %04o), and whoever copies it "
		        "can pose as this node: run  chmod 600 %s", path, (unsigned)(st.st_mode & 07777),
		        path);
	return 0;
}

/* A failure to listen names the setting, its file and what to change:
 * the transport's reason quotes the address, not where it came from. */
static void listen_hint(const char *dir, const char *reason, char *hint, size_t len)
{
	char path[PATH_MAX], why[WM_WHY_LEN];
	struct node_conf c;

	hint[0] = 0;
	if (strstr(reason, "watchmesh.conf: line "))
		return;                   /* conf_parse's own line says what to change */
	snprintf(path, sizeof path, "%s/watchmesh.conf", dir);
	if (conf_load(path, &c, why) != 0)
		conf_defaults(&c);        /* a broken file is the reason itself */
	if (!strstr(reason, c.listen) && !strstr(reason, "listen address"))
		return;
	if (strstr(reason, "already in use"))
		snprintf(hint, len, " -- another program, perhaps another watchmesh node, has that port: "
		         "set `listen` in %s to a free port (e.g. listen = 0.0.0.0:7702) and start again",
		         path);
	else if (strstr(reason, "permission denied"))
		snprintf(hint, len, " -- ports below 1024 need root: set `listen` in %s to a port above "
		         "1024 (e.g. listen = 0.0.0.0:7700)", path);
	else
		snprintf(hint, len, " -- set `listen` in %s to an IP address and a port, e.g. "
		         "listen = 0.0.0.0:7700", path);
}

int cmd_run(int argc, char **argv)
{
	struct cli_opt opts[] = { { "dir", 1, NULL } };
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[2], *dir;
	char why[WM_WHY_LEN] = "", hint[PATH_MAX + 200];
	size_t np = 0;
	int r = cli_parse("run", usage_run, argc, argv, opts, no, pos, 2, &np);

	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if ((r = cli_dir_arg("run", opts, no, pos, np, &dir)) != 0)
		return r;
	if (run_checks(dir) != 0)
		return CLI_FAIL;
	r = daemon_run(dir, why);
	if (r) {
		listen_hint(dir, why, hint, sizeof hint);
		cli_err("run: %s%s", why[0] ? why : wm_strerror(r), hint);
		return CLI_FAIL;
	}
	return CLI_OK;
}
