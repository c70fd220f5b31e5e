/*
 * node/cli/cmd_feed: reading a node's events: `feed` (newest first, replies and
 * status updates nested under what they answer) and `show ID` (one event
 * and everything that refers to it).  Both have a --json form for scripts;
 * both can open sealed requests with --key.
 *
 * The feed is for people (issue 13): running alerts are pinned on top
 * whatever --limit says; an alert updated by a later one (CAP's Update:
 * an alert of the same group whose refs[0] is it, PROTOCOL.md section 19)
 * shows once, as its latest version, with the answers to every version
 * under it; a reply or ack to an alert without an expiry of its own goes
 * when the alert does (PROTOCOL.md section 5).
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
	if (files_load_key(keyfile, passfile, FILES_USE, k, why) != 0) {
		cli_err("%s", why);
		return -1;
	}
	return 0;
}

/* Updates followed at most (each is a signed alert of an official: a
 * longer chain is a fault, shown as far as this). */
#define UPDATE_CHAIN_MAX 64

struct successor {
	const uint8_t *of;
	const char *group;
	uint64_t created_at;         /* of the newest update found */
	uint64_t expires_at;
	uint8_t id[WM_ID_LEN];
	int found;
};

static int successor_cb(void *ctx, const struct stored_event *e)
{
	struct successor *x = ctx;
	struct event *ev = NULL;
	char why[WM_WHY_LEN];

	/* a retracted update is withdrawn: the alert it updated stands */
	if (e->kind != KIND_ALERT || e->retracted || strcmp(e->group, x->group) != 0 ||
	    (x->found && e->created_at <= x->created_at))
		return 0;
	if (event_decode(e->wire, e->wire_len, &ev, why) == 0 && ev->nrefs > 0 &&
	    memcmp(ev->refs[0], x->of, WM_ID_LEN) == 0) {
		memcpy(x->id, e->id, WM_ID_LEN);
		x->created_at = e->created_at;
		x->expires_at = e->expires_at;
		x->found = 1;
	}
	event_free(ev);
	return 0;
}

int cli_alert_latest(struct store *s, const uint8_t id[WM_ID_LEN], uint8_t latest[WM_ID_LEN],
                     uint64_t *expires_at)
{
	struct store_info info;
	struct successor x;
	uint8_t cur[WM_ID_LEN];
	int i, r;

	if ((r = store_info(s, id, &info)) != 0)
		return r;
	memcpy(cur, id, WM_ID_LEN);
	*expires_at = info.expires_at;
	for (i = 0; i < UPDATE_CHAIN_MAX; i++) {
		memset(&x, 0, sizeof x);
		x.of = cur;
		x.group = info.group;
		if ((r = store_events_referring(s, cur, successor_cb, &x)) < 0)
			return r;
		if (!x.found)
			break;
		memcpy(cur, x.id, WM_ID_LEN);
		*expires_at = x.expires_at;
	}
	memcpy(latest, cur, WM_ID_LEN);
	return 0;
}

static int in_list(const struct cli_list *l, const uint8_t id[WM_ID_LEN])
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (memcmp(l->v[i].id, id, WM_ID_LEN) == 0)
			return 1;
	return 0;
}

/* Move item i of from to the end of to. */
static int move_item(struct cli_list *to, struct cli_list *from, size_t i)
{
	if (to->n == to->cap) {
		size_t nc = to->cap ? to->cap * 2 : 64;
		struct cli_item *nv = realloc(to->v, nc * sizeof *nv);
		if (!nv)
			return WM_ENOMEM;
		to->v = nv;
		to->cap = nc;
	}
	to->v[to->n++] = from->v[i];
	memset(&from->v[i], 0, sizeof from->v[i]);
	return 0;
}

/*
 * Whether the feed shows item it (decoded), and under what: an alert
 * another has updated is not shown (its latest version is); an answer to
 * an alert goes under the alert's latest version, and is not shown once
 * that has expired unless it has an expiry of its own (all: shown).
 */
static int feed_keeps(struct store *s, struct cli_item *it, uint64_t now, int all)
{
	const struct event *ev = it->ev;
	struct store_info info;
	uint8_t latest[WM_ID_LEN];
	uint64_t until = 0;

	if (ev->kind == KIND_ALERT && !ev->withheld) {
		if (cli_alert_latest(s, ev->id, latest, &until) != 0)
			return 1;
		return memcmp(latest, ev->id, WM_ID_LEN) == 0;
	}
	if ((ev->kind != KIND_REPLY && ev->kind != KIND_ACK) || ev->nrefs == 0 ||
	    store_info(s, ev->refs[0], &info) != 0 || info.kind != KIND_ALERT || info.retracted ||
	    cli_alert_latest(s, ev->refs[0], latest, &until) != 0)
		return 1;
	if (memcmp(latest, ev->refs[0], WM_ID_LEN) != 0) {
		it->has_under = 1;
		memcpy(it->under, latest, WM_ID_LEN);
	}
	return all || ev->expires_at != 0 || until == 0 || until > now;
}

/*
 * The feed into out: the running alerts (pinned, when the filter admits
 * alerts), then the newest events the filter gives, limit of them at most,
 * less those the feed does not show (feed_keeps): fetched again with a
 * larger limit while too many were left out.
 */
static int feed_collect(struct store *s, const struct store_filter *f, int all, struct cli_list *out)
{
	struct store_filter pf = *f, mf = *f;
	struct cli_list got;
	uint64_t now = wm_now_ms();
	size_t i, pinned, fetch = f->limit;
	int r = 0;

	memset(&got, 0, sizeof got);
	if (f->kind == 0 || f->kind == KIND_ALERT) {
		pf.kind = KIND_ALERT;
		pf.now = now;
		pf.limit = 0;
		if ((r = store_events(s, &pf, cli_collect_cb, &got)) < 0 || got.err)
			goto out;
		cli_list_decode(&got);
		for (i = 0; i < got.n && r == 0; i++)
			if (!got.v[i].ev->withheld && feed_keeps(s, &got.v[i], now, all))
				r = move_item(out, &got, i);
		cli_list_free(&got);
	}
	pinned = out->n;
	for (;;) {
		size_t kept = 0, fetched;

		mf.limit = fetch;
		if (r != 0 || (r = store_events(s, &mf, cli_collect_cb, &got)) < 0 || got.err)
			goto out;
		fetched = got.n;
		cli_list_decode(&got);
		for (i = 0; i < got.n; i++)
			kept += !in_list(out, got.v[i].id) && feed_keeps(s, &got.v[i], now, all);
		if (f->limit == 0 || kept >= f->limit || fetched < fetch)
			break;
		fetch *= 4;
		cli_list_free(&got);
	}
	for (i = 0; i < got.n && r == 0 && (f->limit == 0 || out->n - pinned < f->limit); i++)
		if (!in_list(out, got.v[i].id) && feed_keeps(s, &got.v[i], now, all))
			r = move_item(out, &got, i);
out:
	if (got.err)
		r = got.err;            /* the callback stopped the read with a positive value */
	cli_list_free(&got);
	return r < 0 ? r : 0;
}

static const char usage_feed[] =
"usage: watchmesh feed --dir DIR [--group G] [--kind K] [--limit N] [--all]\n"
"                      [--key KEY [--passphrase-file F]] [--json]\n"
"\n"
"What's new at the node, newest first: who posted (★ and the name and station\n"
"for officials), when (local time), the group and the kind, then the content.\n"
"Replies, status updates and acks are shown under what they answer.  Running\n"
"alerts come first, whatever --limit says; an updated alert shows once, as its\n"
"latest version; a reply or ack to an alert goes when the alert expires, unless\n"
"it was posted with an --expires of its own.\n"
"\n"
"  --group G    only this group          --kind K   only this kind (bulletin, alert...)\n"
"  --limit N    at most N events besides the running alerts (default 50; 0 = all)\n"
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
	if ((r = feed_collect(nd->store, &f, cli_get(opts, no, "all") != NULL, &l)) != 0) {
		cli_err("cannot read the store: %s", wm_strerror(r));
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
