/*
 * node/cli/cmd_run: `watchmesh run [DIR]`, the mesh daemon (node/daemon/ does
 * the work).  Exit status: 0 after SIGTERM/SIGINT and a clean shutdown; 1
 * when the node cannot start (one line on stderr says why); 2 for a wrong
 * command line.
 */
#include <stdio.h>

#include "cli.h"
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
"Signals: SIGTERM or SIGINT shut down cleanly (exit 0); SIGHUP re-reads the\n"
"peers list of watchmesh.conf.\n"
"\n"
"Without DIR: $WATCHMESH_DIR, else " WM_DEFAULT_DIR " (the service's), else\n"
"the current directory when it holds a node.\n";

int cmd_run(int argc, char **argv)
{
	struct cli_opt opts[] = { { "dir", 1, NULL } };
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[2], *dir;
	char why[WM_WHY_LEN] = "";
	size_t np = 0;
	int r = cli_parse("run", usage_run, argc, argv, opts, no, pos, 2, &np);

	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if ((r = cli_dir_arg("run", opts, no, pos, np, &dir)) != 0)
		return r;
	r = daemon_run(dir, why);
	if (r) {
		cli_err("run: %s", why[0] ? why : wm_strerror(r));
		return CLI_FAIL;
	}
	return CLI_OK;
}
