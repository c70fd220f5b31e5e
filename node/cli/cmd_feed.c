/*
 * node/cli/cmd_feed: reading a node's events: `feed` (newest first, replies and
 * status updates nested under what they answer) and `show ID` (one event
 * and everything that refers to it).  Both have a --json form for scripts;
 * both can open sealed requests with --key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "event.h"
#include "keyfile.h"
#include "render.h"

static int load_reader(const char *keyfile, const char *passfile, struct key **k)
{
	char why[WM_WHY_LEN] = "";
	if (!keyfile)
		return 0;
	if (files_load_key(keyfile, passfile, 1, k, why) != 0) {
		cli_err("%s", why);
		return -1;
	}
	return 0;
}

static const char usage_feed[] =
"usage: watchmesh feed --dir DIR [--group G] [--kind K] [--limit N] [--all]\n"
"                      [--key KEY [--passphrase-file F]] [--json]\n"
"\n"
"What's new at the node, newest first: who posted (★ and the name and station\n"
"for officials), when (local time), the group and the kind, then the content.\n"
"Replies, status updates and acks are shown under what they answer.\n"
"\n"
"  --group G    only this group          --kind K   only this kind (bulletin, alert...)\n"
"  --limit N    at most N events (default 50; 0 = all)\n"
"  --all        include expired events, certificates and revocations (these\n"
"               are left out otherwise, unless asked for with --group network\n"
"               or --kind cert / --kind revoke)\n"
"  --key KEY    open sealed requests addressed to this key (shown as private)\n"
"  --json       one JSON array of events (keys and ids in hex, other binary\n"
"               fields base64; adds official, official_name, official_station,\n"
"               private_text or private_refused)\n";

int cmd_feed(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "dir", 1, NULL }, { "group", 1, NULL }, { "kind", 1, NULL }, { "limit", 1, NULL },
		{ "key", 1, NULL }, { "passphrase-file", 1, NULL }, { "json", 0, NULL },
		{ "all", 0, NULL },
	};
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[1], *v;
	size_t np = 0;
	struct store_filter f;
	struct cli_list l;
	struct node_dir *nd = NULL;
	struct key *k = NULL;
	uint64_t limit = 50;
	int r, ret = CLI_FAIL;

	r = cli_parse("feed", usage_feed, argc, argv, opts, no, pos, 1, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (np)
		return cli_usage_err("feed", "unexpected argument '%s'", pos[0]);
	memset(&f, 0, sizeof f);
	memset(&l, 0, sizeof l);
	if (!cli_get(opts, no, "dir"))
		return cli_no_dir("feed");
	if ((v = cli_get(opts, no, "kind")) && !(f.kind = kind_from_name(v)))
		return cli_usage_err("feed", "unknown kind '%s'", v);
	if ((v = cli_get(opts, no, "limit")) && cli_parse_uint(v, 10000000, &limit) != 0)
		return cli_usage_err("feed", "--limit wants a number");
	f.group = cli_get(opts, no, "group");
	f.newest_first = 1;
	f.limit = (size_t)limit;
	if (!cli_get(opts, no, "all")) {
		f.now = wm_now_ms();
		/* certificates are the network's plumbing: shown when asked for */
		if (!f.group && f.kind != KIND_CERT && f.kind != KIND_REVOKE)
			f.except_group = WM_NETWORK_GROUP;
	}
	if (!(nd = cli_open_dir(cli_get(opts, no, "dir"))))
		return CLI_FAIL;
	if (load_reader(cli_get(opts, no, "key"), cli_get(opts, no, "passphrase-file"), &k) != 0)
		goto out;
	r = store_events(nd->store, &f, cli_collect_cb, &l);
	if (r < 0 || l.err) {
		cli_err("cannot read the store: %s", wm_strerror(l.err ? l.err : r));
		goto out;
	}
	ret = cli_print_list(nd, k, &l, cli_get(opts, no, "json") != NULL, 1);
out:
	cli_list_free(&l);
	key_free(k);
	node_dir_close(nd);
	return ret;
}

static const char usage_show[] =
"usage: watchmesh show ID --dir DIR [--key KEY [--passphrase-file F]] [--json]\n"
"\n"
"One event (ID: the full id, or a unique prefix of 6 or more hex digits, such\n"
"as the 8 digits the feed shows), then every event that refers to it.\n"
"--json prints one object with the event's fields and \"referred_by\".\n";

int cmd_show(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "dir", 1, NULL }, { "key", 1, NULL }, { "passphrase-file", 1, NULL },
		{ "json", 0, NULL },
	};
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[2];
	size_t np = 0;
	struct node_dir *nd = NULL;
	struct key *k = NULL;
	struct cli_list self, refs;
	struct stored_event se;
	uint8_t id[WM_ID_LEN], *wire = NULL;
	size_t wlen = 0;
	char hex[2 * WM_ID_LEN + 1];
	int r, ret = CLI_FAIL, json;

	r = cli_parse("show", usage_show, argc, argv, opts, no, pos, 2, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (np != 1)
		return cli_usage_err("show", "expected one event id");
	if (!cli_get(opts, no, "dir"))
		return cli_no_dir("show");
	json = cli_get(opts, no, "json") != NULL;
	memset(&self, 0, sizeof self);
	memset(&refs, 0, sizeof refs);
	if (!(nd = cli_open_dir(cli_get(opts, no, "dir"))))
		return CLI_FAIL;
	if (cli_resolve_id(nd->store, pos[0], id) != 0)
		goto out;
	hex_encode(hex, id, WM_ID_LEN);
	if (load_reader(cli_get(opts, no, "key"), cli_get(opts, no, "passphrase-file"), &k) != 0)
		goto out;
	r = store_get(nd->store, id, &wire, &wlen);     /* a retracted one withheld */
	if (r) {
		cli_err("no event %s in this node", hex);
		goto out;
	}
	memset(&se, 0, sizeof se);
	se.wire = wire;
	se.wire_len = wlen;
	(void)cli_collect_cb(&self, &se);
	r = store_events_referring(nd->store, id, cli_collect_cb, &refs);
	if (self.err || refs.err || r < 0) {
		cli_err("cannot read the store");
		goto out;
	}
	if (json) {
		struct render_ctx rc;
		json_t *o, *arr;
		size_t i;
		cli_render_init(&rc, nd, k);
		cli_list_decode(&self);
		cli_list_decode(&refs);
		if (self.n != 1) {
			cli_err("event %s does not decode", hex);
			goto out;
		}
		o = render_event_json(&rc, self.v[0].ev);
		arr = json_array();
		if (!o || !arr) {
			json_decref(o);
			json_decref(arr);
			goto out;
		}
		for (i = 0; i < refs.n; i++)
			json_array_append_new(arr, render_event_json(&rc, refs.v[i].ev));
		json_object_set_new(o, "referred_by", arr);
		ret = cli_dump_json(o);
		goto out;
	}
	ret = cli_print_list(nd, k, &self, 0, 0);
	if (ret == CLI_OK && refs.n > 0) {
		struct render_ctx rc;
		size_t i;
		cli_render_init(&rc, nd, k);
		cli_list_decode(&refs);
		printf("referred to by %zu event%s:\n", refs.n, refs.n == 1 ? "" : "s");
		for (i = 0; i < refs.n; i++)
			render_event_text(stdout, &rc, refs.v[i].ev, 1);
	}
out:
	free(wire);
	cli_list_free(&self);
	cli_list_free(&refs);
	key_free(k);
	node_dir_close(nd);
	return ret;
}
