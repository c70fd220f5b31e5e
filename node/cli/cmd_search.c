/*
 * node/cli/cmd_search: `watchmesh search QUERY --dir DIR`, full-text search over
 * the public text of a node's events.  The store's index of character
 * pairs handles Chinese words of any length (诈骗, 走失, 电信诈骗), folded
 * for width and case (store_bigram.c), and gives the newest page first, so
 * a search of a large store reads about what it shows; the total is
 * counted up to SEARCH_COUNT_CAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keyfile.h"

static const char usage_search[] =
"usage: watchmesh search QUERY --dir DIR [--group G] [--limit N] [--key KEY] [--json]\n"
"\n"
"Events whose text contains every word of QUERY (words separated by spaces;\n"
"Chinese works, e.g. `watchmesh search 诈骗 --dir village`), newest first,\n"
"shown as in the feed.  Full and half width and case are alike (３栋 finds 3栋);\n"
"a category is found by its name or its Chinese (失物招领, 火灾).  Sealed\n"
"requests are never searched.\n"
"\n"
"  --group G   only this group\n"
"  --limit N   the N newest results (default 50; 0 = all)\n"
"  --key KEY   open sealed requests addressed to this key when showing results\n"
"  --json      one JSON array, as `feed --json`\n";

/* Matches counted for "of more than N" (counting reads each one). */
#define SEARCH_COUNT_CAP 1000

int cmd_search(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "dir", 1, NULL }, { "group", 1, NULL }, { "key", 1, NULL },
		{ "passphrase-file", 1, NULL }, { "json", 0, NULL }, { "limit", 1, NULL },
	};
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[8];
	char query[4096], why[WM_WHY_LEN] = "";
	const char *group;
	size_t np = 0, i, o = 0;
	struct node_dir *nd = NULL;
	struct key *k = NULL;
	struct cli_list l;
	uint64_t limit = 50;
	int r, ret = CLI_FAIL;

	r = cli_parse("search", usage_search, argc, argv, opts, no, pos, 8, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (np == 0)
		return cli_usage_err("search", "expected a QUERY");
	if (!cli_get(opts, no, "dir"))
		return cli_no_dir("search");
	if (cli_get(opts, no, "limit") && cli_parse_uint(cli_get(opts, no, "limit"), 10000000, &limit) != 0)
		return cli_usage_err("search", "--limit wants a number");
	/* several words on the command line form one query */
	query[0] = 0;
	for (i = 0; i < np; i++) {
		int w = snprintf(query + o, sizeof query - o, "%s%s", i ? " " : "", pos[i]);
		if (w < 0 || (size_t)w >= sizeof query - o)
			return cli_usage_err("search", "the query is too long");
		o += (size_t)w;
	}
	if (strspn(query, " \t") == strlen(query))
		return cli_usage_err("search", "the query is empty");
	group = cli_get(opts, no, "group");
	memset(&l, 0, sizeof l);
	if (!(nd = cli_open_dir(cli_get(opts, no, "dir"))))
		return CLI_FAIL;
	if (cli_get(opts, no, "key") &&
	    files_load_key(cli_get(opts, no, "key"), cli_get(opts, no, "passphrase-file"), FILES_USE, &k,
	                   why) != 0) {
		cli_err("%s", why);
		goto out;
	}
	r = store_search(nd->store, query, group, (size_t)limit, 0, cli_collect_cb, &l);
	if (r == WM_EINVAL) {
		cli_err("%s", store_errmsg(nd->store));
		goto out;
	}
	if (r < 0 || l.err) {
		cli_err("search failed: %s", wm_strerror(l.err ? l.err : r));
		goto out;
	}
	if (limit && l.n == limit && !cli_get(opts, no, "json")) {
		size_t total = 0;
		if (store_search_count(nd->store, query, group, SEARCH_COUNT_CAP, &total) != 0) {
			cli_err("search failed: %s", store_errmsg(nd->store));
			goto out;
		}
		if (total > SEARCH_COUNT_CAP)
			fprintf(stderr, "showing the newest %zu of more than %d results (--limit 0 for all)\n",
			        l.n, SEARCH_COUNT_CAP);
		else if (total > l.n)
			fprintf(stderr, "showing the newest %zu of %zu results (--limit 0 for all)\n", l.n, total);
	}
	ret = cli_print_list(nd, k, &l, cli_get(opts, no, "json") != NULL, 1);
	if (ret == CLI_OK && !cli_get(opts, no, "json"))
		fprintf(stderr, "%zu result%s\n", l.n, l.n == 1 ? "" : "s");
out:
	cli_list_free(&l);
	key_free(k);
	node_dir_close(nd);
	return ret;
}
