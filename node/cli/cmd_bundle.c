/*
 * node/cli/cmd_bundle: `export` and `import`, the USB-stick path between
 * villages.  The bundle logic is node/bundle.c; this file reports: one line
 * per refused event (its number in the file, byte offset, id prefix and
 * reason), a progress line for big files, and a summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "cli.h"
#include "clock.h"
#include "files.h"
#include "nodedir.h"
#include "render.h"

static const char usage_export[] =
"usage: watchmesh export --dir DIR --out FILE [--force]\n"
"\n"
"Writes every event the node holds to FILE, a bundle: wire events one after\n"
"another and nothing else, certificates and revocations first, then\n"
"retractions; a retracted event goes withheld (its header and signature,\n"
"without its content), as the node keeps it.  The file is written\n"
"atomically (a temporary file renamed into place), mode 0600: it holds\n"
"every request and reply the node has, so only its owner may read it.\n"
"An existing FILE is replaced only with --force, and only if it is a regular\n"
"file: a symbolic link, a FIFO, a device or a directory there is refused.\n";

int cmd_export(int argc, char **argv)
{
	struct cli_opt opts[] = { { "dir", 1, NULL }, { "out", 1, NULL }, { "force", 0, NULL } };
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[1], *out;
	size_t np = 0;
	char why[WM_WHY_LEN] = "";
	struct node_dir *nd;
	struct bundle_export_stats st;
	int r;

	r = cli_parse("export", usage_export, argc, argv, opts, no, pos, 1, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (np)
		return cli_usage_err("export", "unexpected argument '%s'", pos[0]);
	out = cli_get(opts, no, "out");
	if (!out)
		return cli_usage_err("export", "--out FILE is required");
	if (!cli_get(opts, no, "dir"))
		return cli_no_dir("export");
	if (files_check_out(out, cli_get(opts, no, "force") != NULL, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	if (!(nd = cli_open_dir(cli_get(opts, no, "dir"))))
		return CLI_FAIL;
	memset(&st, 0, sizeof st);
	r = bundle_export(nd->store, out, &st, why);
	node_dir_close(nd);
	if (r) {
		cli_err("%s", why[0] ? why : wm_strerror(r));
		return CLI_FAIL;
	}
	printf("exported %zu events (%zu certificate%s, %zu revocation%s", st.events, st.certs,
	       st.certs == 1 ? "" : "s", st.revocations, st.revocations == 1 ? "" : "s");
	if (st.withheld)
		printf(", %zu withheld", st.withheld);
	printf(") to %s, %llu bytes\n", out, (unsigned long long)st.bytes);
	return CLI_OK;
}

static const char usage_import[] =
"usage: watchmesh import --dir DIR FILE\n"
"\n"
"Validates and stores the events of the bundle FILE: certificates and\n"
"revocations first, whatever their order in the file, then the rest.  Each\n"
"refused event is reported on one line (its number in the file, byte offset,\n"
"id prefix and reason); duplicates are only counted.  Damaged bytes cost only\n"
"the event they hit: reading resumes at the next whole event.\n"
"Exit status 0 when the file was read, even if some events were refused or\n"
"damaged; 1 when it could not be read: missing, cut short in the middle of an\n"
"event (an interrupted copy), or holding no event at all.  What could be read\n"
"is stored all the same.\n"
"Signatures are checked on one thread per core; WATCHMESH_IMPORT_THREADS=N\n"
"in the environment sets the number (1: all on one thread).\n";

struct report {
	int tty;
	int shown;                   /* a progress line is on screen (tty) */
	int progress;                /* big file: report progress */
	struct timespec last;
	unsigned last_pct;
};

static void on_refused(void *ctx, const struct bundle_refusal *r)
{
	struct report *rp = ctx;
	char sid[9], why[2 * WM_WHY_LEN];

	/* the reason may quote a certificate's name: escaped, like all we print */
	render_escape(why, sizeof why, r->res->why[0] ? r->res->why : wm_strerror(r->res->code));
	if (rp->shown) {
		fputc('\n', stderr);
		rp->shown = 0;
	}
	if (r->has_id) {
		render_short(sid, r->res->id);
		fprintf(stderr, "watchmesh: event %zu (byte %zu, id %s): refused: %s\n",
		        r->number, r->off, sid, why);
	} else {
		fprintf(stderr, "watchmesh: event %zu (byte %zu): unreadable: %s\n",
		        r->number, r->off, why);
	}
}

static void on_progress(void *ctx, size_t done, size_t total)
{
	struct report *rp = ctx;
	struct timespec now;
	unsigned pct;
	double dt;

	if (!rp->progress || total == 0)
		return;
	pct = (unsigned)((done * 100) / total);
	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - rp->last.tv_sec) + (double)(now.tv_nsec - rp->last.tv_nsec) / 1e9;
	if (done < total && pct < rp->last_pct + 2 && dt < 1.0)
		return;
	rp->last = now;
	rp->last_pct = pct;
	if (rp->tty) {
		fprintf(stderr, "\rimporting: %3u%% (%zu of %zu)", pct, done, total);
		rp->shown = 1;
		if (done >= total) {
			fputc('\n', stderr);
			rp->shown = 0;
		}
	} else {
		fprintf(stderr, "importing: %u%% (%zu of %zu)\n", pct, done, total);
	}
	fflush(stderr);
}

int cmd_import(int argc, char **argv)
{
	struct cli_opt opts[] = { { "dir", 1, NULL } };
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[2];
	size_t np = 0;
	char why[WM_WHY_LEN] = "";
	struct node_dir *nd = NULL;
	struct files_map m = { NULL, 0 };
	struct bundle_stats st;
	struct bundle_import_cbs cbs;
	struct report rp;
	const char *env;
	int r, ret = CLI_FAIL;

	r = cli_parse("import", usage_import, argc, argv, opts, no, pos, 2, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (np != 1)
		return cli_usage_err("import", "expected one bundle FILE");
	if (!cli_get(opts, no, "dir"))
		return cli_no_dir("import");
	if (files_map(pos[0], &m, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	if (!(nd = cli_open_dir(cli_get(opts, no, "dir"))))
		goto out;
	memset(&rp, 0, sizeof rp);
	rp.tty = isatty(STDERR_FILENO);
	rp.progress = m.len >= (4u << 20);
	clock_gettime(CLOCK_MONOTONIC, &rp.last);
	memset(&cbs, 0, sizeof cbs);
	cbs.refused = on_refused;
	cbs.progress = on_progress;
	cbs.ctx = &rp;
	if ((env = getenv("WATCHMESH_IMPORT_THREADS")) != NULL) {
		char *end = NULL;
		unsigned long t = strtoul(env, &end, 10);

		if (end == env || *end != '\0' || t < 1 || t > 64) {
			cli_err("WATCHMESH_IMPORT_THREADS must be a number from 1 to 64, not '%s'", env);
			goto out;
		}
		cbs.threads = (unsigned)t;
	}
	memset(&st, 0, sizeof st);
	nd->ictx.now = wm_now_ms();
	r = bundle_import(&nd->ictx, m.data, m.len, &cbs, &st, why);
	if (rp.shown)
		fputc('\n', stderr);
	if (r) {
		cli_err("import stopped: %s", why[0] ? why : wm_strerror(r));
		goto out;
	}
	printf("%zu events: %zu stored, %zu duplicates, %zu refused\n",
	       st.events, st.stored, st.duplicates, st.refused);
	/* Refusals and damage the reader stepped over are the bundle's
	 * business.  A file cut short (an interrupted copy) or holding nothing
	 * readable could not be read, and a script must notice. */
	ret = st.truncated || (st.unreadable && st.unreadable == st.events) ? CLI_FAIL : CLI_OK;
out:
	node_dir_close(nd);
	files_unmap(&m);
	return ret;
}
