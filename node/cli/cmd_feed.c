/*
 * node/cmd_feed: reading a node's events: `feed` (newest first, replies and
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

int cli_collect_cb(void *ctx, const struct stored_event *e)
{
	struct cli_list *l = ctx;
	struct cli_item *it;
	if (!e->wire || e->retracted)
		return 0;
	if (l->skip_network && e->group && strcmp(e->group, WM_NETWORK_GROUP) == 0)
		return 0;
	if (l->limit && l->n >= l->limit)
		return 1;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct cli_item *nv = realloc(l->v, nc * sizeof *nv);
		if (!nv) {
			l->err = WM_ENOMEM;
			return 1;
		}
		l->v = nv;
		l->cap = nc;
	}
	it = &l->v[l->n];
	memset(it, 0, sizeof *it);
	it->parent = -1;
	it->wire = malloc(e->wire_len ? e->wire_len : 1);
	if (!it->wire) {
		l->err = WM_ENOMEM;
		return 1;
	}
	memcpy(it->wire, e->wire, e->wire_len);
	it->len = e->wire_len;
	it->created_at = e->created_at;
	memcpy(it->id, e->id, WM_ID_LEN);
	l->n++;
	return 0;
}

void cli_list_free(struct cli_list *l)
{
	size_t i;
	for (i = 0; i < l->n; i++) {
		event_free(l->v[i].ev);
		free(l->v[i].wire);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* Decode what was collected; events that no longer decode (they did on the
 * way in) are dropped with a note rather than trusted. */
static void list_decode(struct cli_list *l)
{
	size_t i, o = 0;
	char why[WM_WHY_LEN];
	for (i = 0; i < l->n; i++) {
		struct cli_item it = l->v[i];
		if (event_decode(it.wire, it.len, &it.ev, why) != 0) {
			cli_err("skipping a stored event that does not decode: %s", why);
			free(it.wire);
			continue;
		}
		l->v[o++] = it;
	}
	l->n = o;
}

static int answers(unsigned kind)
{
	return kind == KIND_REPLY || kind == KIND_STATUS || kind == KIND_ACK || kind == KIND_RETRACT;
}

static void print_tree(const struct render_ctx *rc, struct cli_list *l, size_t idx, int depth)
{
	size_t j;
	l->v[idx].shown = 1;
	render_event_text(stdout, rc, l->v[idx].ev, depth);
	/* children oldest first: the list is newest first, so walk it backwards */
	for (j = l->n; j-- > 0;)
		if (l->v[j].parent == (int)idx && !l->v[j].shown)
			print_tree(rc, l, j, depth < 6 ? depth + 1 : depth);
}

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

/* What rendering needs of this node and the reader's key (may be NULL). */
static void rctx_init(struct render_ctx *rc, struct node_dir *nd, const struct key *reader)
{
	memset(rc, 0, sizeof *rc);
	rc->store = nd->store;
	rc->root = nd->net.root;
	rc->reader = reader;
	rc->now = wm_now_ms();
}

static int dump_json(json_t *j)
{
	int r = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(j);
	return r == 0 && !ferror(stdout) ? CLI_OK : CLI_FAIL;
}

int cli_print_list(struct node_dir *nd, const struct key *reader, struct cli_list *l, int json,
                   int nest)
{
	struct render_ctx rc;
	size_t i, j;

	rctx_init(&rc, nd, reader);
	list_decode(l);
	if (json) {
		json_t *arr = json_array();
		if (!arr)
			return CLI_FAIL;
		for (i = 0; i < l->n; i++) {
			json_t *o = render_event_json(&rc, l->v[i].ev);
			if (!o || json_array_append_new(arr, o) != 0) {
				json_decref(arr);
				cli_err("out of memory");
				return CLI_FAIL;
			}
		}
		return dump_json(arr);
	}
	if (l->n == 0) {
		printf("(no events)\n");
		return CLI_OK;
	}
	if (nest)
		for (i = 0; i < l->n; i++) {
			const struct event *ev = l->v[i].ev;
			if (ev->nrefs == 0 || !answers(ev->kind))
				continue;
			for (j = 0; j < l->n; j++)
				if (j != i && memcmp(l->v[j].ev->id, ev->refs[0], WM_ID_LEN) == 0) {
					l->v[i].parent = (int)j;
					break;
				}
		}
	for (i = 0; i < l->n; i++) {
		if (l->v[i].shown || (l->v[i].parent >= 0 && nest))
			continue;
		print_tree(&rc, l, i, 0);
		printf("\n");
	}
	/* anything left (a loop of refs) still gets shown */
	for (i = 0; i < l->n; i++)
		if (!l->v[i].shown) {
			render_event_text(stdout, &rc, l->v[i].ev, 0);
			printf("\n");
		}
	return ferror(stdout) ? CLI_FAIL : CLI_OK;
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
"  --json       one JSON array of events (bin fields base64; adds official,\n"
"               official_name, official_station, private_text)\n";

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
		return cli_usage_err("feed", "--dir DIR is required");
	if ((v = cli_get(opts, no, "kind")) && !(f.kind = kind_from_name(v)))
		return cli_usage_err("feed", "unknown kind '%s'", v);
	if ((v = cli_get(opts, no, "limit")) && cli_parse_uint(v, 10000000, &limit) != 0)
		return cli_usage_err("feed", "--limit wants a number");
	f.group = cli_get(opts, no, "group");
	f.newest_first = 1;
	l.limit = (size_t)limit;
	if (!cli_get(opts, no, "all")) {
		f.now = wm_now_ms();
		/* certificates are the network's plumbing: shown when asked for */
		l.skip_network = !f.group && f.kind != KIND_CERT && f.kind != KIND_REVOKE;
	}
	if (!(nd = cli_open_dir(cli_get(opts, no, "dir"))))
		return CLI_FAIL;
	if (load_reader(cli_get(opts, no, "key"), cli_get(opts, no, "passphrase-file"), &k) != 0)
		goto out;
	r = store_events(nd->store, &f, cli_collect_cb, &l);
	if ((r < 0 && r != 1) || l.err) {
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
	struct store_info info;
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
		return cli_usage_err("show", "--dir DIR is required");
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
	r = store_get(nd->store, id, &wire, &wlen);
	if (r == WM_ENOTFOUND && store_info(nd->store, id, &info) == 0 && info.retracted) {
		cli_err("event %s was retracted; only its id is kept", hex);
		goto out;
	}
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
		rctx_init(&rc, nd, k);
		list_decode(&self);
		list_decode(&refs);
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
		ret = dump_json(o);
		goto out;
	}
	ret = cli_print_list(nd, k, &self, 0, 0);
	if (ret == CLI_OK && refs.n > 0) {
		struct render_ctx rc;
		size_t i;
		rctx_init(&rc, nd, k);
		list_decode(&refs);
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
