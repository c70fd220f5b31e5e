/*
 * node/cli/main: the `watchmesh` binary: dispatch to the subcommands in
 * cmd_*.c, and the option parsing and error printing they share (cli.h).
 * Only this file's main() exits the process; subcommands return exit codes.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "render.h"
#include "wmcrypto.h"

static const char usage_main[] =
"watchmesh: a peer-to-peer neighbourhood-watch mesh\n"
"\n"
"usage: watchmesh COMMAND [options]      (watchmesh COMMAND --help for details)\n"
"\n"
"Setting up\n"
"  network create --name NAME --out FILE      new network: network file, encrypted root key,\n"
"                                              TLS authority\n"
"  init [DIR] --network FILE [--name NODE]     new data directory: node key, config, store\n"
"  key new --out FILE                          a personal key (officer, resident)\n"
"  key show FILE                               print a key file's public key\n"
"  key rotate [--dir DIR]                      a new key for the node (its daemon stopped)\n"
"  key agent --key KEY [--for 8h]             the passphrase once a shift: KEY signs unlocked\n"
"  key lock --key KEY                          end KEY's agent, wiping the key\n"
"  cert issue --issuer KEY --subject PUB --role ROLE --name NAME --groups G,...\n"
"  cert renew --issuer KEY --subject PUB --dir DIR   the same certificate, for --days more\n"
"  cert revoke --issuer KEY --subject PUB [--reason R]\n"
"  tls issue --ca CRT --ca-key KEY --dir DIR   a node's HTTPS certificate from the network's\n"
"                                              TLS authority\n"
"  tls show --dir DIR                          what a TLS certificate file holds\n"
"  certs [--json]                              every certificate: key (hex), role, state, name\n"
"\n"
"Using a node\n"
"  post KIND --dir DIR --key KEY --group G ... sign and store an event; prints its id\n"
"  feed --dir DIR [--group G] [--kind K]       what's new, newest first\n"
"  show ID --dir DIR                           one event and what refers to it\n"
"  search QUERY --dir DIR                      full-text search (Chinese works)\n"
"  export --dir DIR --out FILE                 all events as a bundle file\n"
"  import --dir DIR FILE                       validate and store a bundle's events\n"
"\n"
"Running a node\n"
"  run [DIR]                                   the mesh daemon (config: DIR/watchmesh.conf)\n"
"  status [DIR] [--json]                       the running daemon's peers, repairs, counts\n"
"  backup --dir DIR --out FILE [--with-keys]   copy the store while the node runs\n"
"  restore --dir DIR FILE [--with-keys]        check a backup and make it DIR's store\n"
"\n"
"The data directory: --dir DIR (run, init and status also take it as DIR);\n"
"without it $WATCHMESH_DIR, else " WM_DEFAULT_DIR " (the service's node), else\n"
"the current directory when it holds a node.  --key KEY: without it\n"
"$WATCHMESH_KEY.\n"
"PUB (a key): 64 hex digits or a key file; with --dir also a certificate's\n"
"name (王警官) or the first 6+ hex digits of a certified key (`watchmesh certs`).\n"
"\n"
"Exit status: 0 done, 1 failed or refused, 2 bad command line.\n"
"Passphrases are never arguments: --passphrase-file FILE, or typed at a prompt.\n";

void cli_err(const char *fmt, ...)
{
	va_list ap;
	char msg[2048], esc[4096];

	/* reasons may quote what came from the network or a file (a name in a
	 * certificate stored before the content rules): one escaped line */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	render_escape(esc, sizeof esc, msg);
	fprintf(stderr, "watchmesh: %s\n", esc);
}

int cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("watchmesh: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see `watchmesh %s --help`)\n", cmd ? cmd : "");
	return CLI_USAGE;
}

/* The defaults cli_parse fills in; cli_explicit knows them by address. */
static const char dir_here[] = ".", dir_system[] = WM_DEFAULT_DIR;

static const char *env_value(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] ? v : NULL;
}

const char *cli_default_dir(void)
{
	struct stat st;

	if (env_value("WATCHMESH_DIR"))
		return env_value("WATCHMESH_DIR");
	/* never one we may not read: where --dir is optional (post --out,
	 * cert issue --out) a default must not turn into "permission denied" */
	if (stat(dir_system, &st) == 0 && S_ISDIR(st.st_mode) && access(dir_system, R_OK | X_OK) == 0)
		return dir_system;
	if (stat("network", &st) == 0)
		return dir_here;
	return NULL;
}

int cli_no_dir(const char *cmd)
{
	struct stat st;

	if (stat(dir_system, &st) == 0 && access(dir_system, R_OK | X_OK) != 0)
		return cli_usage_err(cmd, "no data directory: permission denied reading " WM_DEFAULT_DIR
		                     " (the service's node: run the command as its user, sudo -u watchmesh "
		                     "watchmesh ...), or give --dir DIR or set WATCHMESH_DIR");
	return cli_usage_err(cmd, "no data directory: give --dir DIR or set WATCHMESH_DIR (without "
	                     "them, " WM_DEFAULT_DIR " or the current directory when it holds a node)");
}

int cli_dir_arg(const char *cmd, const struct cli_opt *opts, size_t nopts, const char **pos,
                size_t np, const char **dir)
{
	if (np > 1)
		return cli_usage_err(cmd, "unexpected argument '%s'", pos[1]);
	if (np == 1 && cli_explicit(opts, nopts, "dir"))
		return cli_usage_err(cmd, "give the data directory once: DIR or --dir DIR");
	*dir = np == 1 ? pos[0] : cli_get(opts, nopts, "dir");
	return *dir ? 0 : cli_no_dir(cmd);
}

const char *cli_get(const struct cli_opt *opts, size_t nopts, const char *name)
{
	size_t i;
	for (i = 0; i < nopts; i++)
		if (strcmp(opts[i].name, name) == 0)
			return opts[i].val;
	return NULL;
}

int cli_parse(const char *cmd, const char *usage, int argc, char **argv,
              struct cli_opt *opts, size_t nopts, const char **pos, size_t maxpos, size_t *npos)
{
	int i;
	size_t np = 0, k;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
	for (k = 0; k < nopts; k++)
		opts[k].val = NULL;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *eq, *name;
		size_t nl;
		struct cli_opt *o = NULL;

		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++) {
				if (np >= maxpos)
					return cli_usage_err(cmd, "unexpected argument '%s'", argv[i]), -1;
				pos[np++] = argv[i];
			}
			break;
		}
		if (a[0] != '-' || a[1] == 0) {
			if (np >= maxpos)
				return cli_usage_err(cmd, "unexpected argument '%s'", a), -1;
			pos[np++] = a;
			continue;
		}
		if (a[1] != '-')
			return cli_usage_err(cmd, "unknown option '%s'", a), -1;
		name = a + 2;
		eq = strchr(name, '=');
		nl = eq ? (size_t)(eq - name) : strlen(name);
		for (k = 0; k < nopts; k++)
			if (strlen(opts[k].name) == nl && memcmp(opts[k].name, name, nl) == 0)
				o = &opts[k];
		if (!o)
			return cli_usage_err(cmd, "unknown option '--%.*s'", (int)nl, name), -1;
		if (o->val)
			return cli_usage_err(cmd, "option --%s given twice", o->name), -1;
		if (o->has_arg) {
			if (eq)
				o->val = eq + 1;
			else if (i + 1 < argc)
				o->val = argv[++i];
			else
				return cli_usage_err(cmd, "option --%s needs a value", o->name), -1;
		} else {
			if (eq)
				return cli_usage_err(cmd, "option --%s takes no value", o->name), -1;
			o->val = "";
		}
	}
	for (k = 0; k < nopts; k++)
		if (!opts[k].val && opts[k].has_arg && strcmp(opts[k].name, "dir") == 0)
			opts[k].val = cli_default_dir();
		else if (!opts[k].val && opts[k].has_arg && strcmp(opts[k].name, "key") == 0)
			opts[k].val = env_value("WATCHMESH_KEY");
	*npos = np;
	return 0;
}

int cli_explicit(const struct cli_opt *opts, size_t nopts, const char *name)
{
	const char *v = cli_get(opts, nopts, name);

	return v && v != env_value("WATCHMESH_DIR") && v != env_value("WATCHMESH_KEY") &&
	       v != dir_here && v != dir_system;
}

int cli_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

struct node_dir *cli_open_dir(const char *dir)
{
	struct node_dir *nd = NULL;
	char why[WM_WHY_LEN] = "";
	int rc = node_dir_open(dir, &nd, why);
	if (rc) {
		cli_err("%s", why[0] ? why : wm_strerror(rc));
		return NULL;
	}
	return nd;
}

int cli_resolve_id(struct store *s, const char *arg, uint8_t id[WM_ID_LEN])
{
	size_t n = arg ? strlen(arg) : 0, i;
	int r;

	if (n == 2 * WM_ID_LEN && hex_decode(id, WM_ID_LEN, arg, n) == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)arg[i]))
			break;
	if (n == 0 || i < n || n > 2 * WM_ID_LEN) {
		cli_err("'%s' is not an event id (64 hex digits, or a unique prefix)", arg ? arg : "");
		return -1;
	}
	if (!s) {
		cli_err("'%s' is a prefix; give the whole 64-digit id, or --dir to look it up", arg);
		return -1;
	}
	if (n < 6) {
		cli_err("id prefix '%s' is too short; give at least 6 hex digits", arg);
		return -1;
	}
	r = store_resolve_prefix(s, arg, n, id);
	if (r == WM_ENOTFOUND) {
		cli_err("no event with an id starting '%s'", arg);
		return -1;
	}
	if (r == WM_EINVAL && strncmp(store_errmsg(s), "ambiguous", 9) == 0) {
		cli_err("'%s' matches several events; give more digits", arg);
		return -1;
	}
	if (r) {                /* not "several": a bad prefix or the store failing */
		cli_err("cannot look up '%s': %s", arg, store_errmsg(s)[0] ? store_errmsg(s) : wm_strerror(r));
		return -1;
	}
	return 0;
}

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "network", cmd_network },
	{ "init", cmd_init },
	{ "run", cmd_run },
	{ "status", cmd_status },
	{ "key", cmd_key },
	{ "cert", cmd_cert },
	{ "tls", cmd_tls },
	{ "certs", cmd_certs },
	{ "post", cmd_post },
	{ "feed", cmd_feed },
	{ "show", cmd_show },
	{ "search", cmd_search },
	{ "export", cmd_export },
	{ "import", cmd_import },
	{ "backup", cmd_backup },
	{ "restore", cmd_restore },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		cli_err("no command given (see `watchmesh --help`)");
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_main, stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("watchmesh " WM_VERSION "\n");
		return CLI_OK;
	}
	if (wmc_init() != 0) {
		cli_err("cannot initialise the cryptography library");
		return CLI_FAIL;
	}
#ifdef WM_TEST_KDF
	/* a build for tests (meson option test_kdf): the suite writes many keys */
	{
		const char *fast = getenv("WATCHMESH_TEST_FAST_KDF");
		if (fast && strcmp(fast, "1") == 0)
			keyfile_set_fast_kdf(1);
	}
#endif
	tzset();        /* times are shown in local time */
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 2, argv + 2);
	cli_err("unknown command '%s' (see `watchmesh --help`)", argv[1]);
	return CLI_USAGE;
}
