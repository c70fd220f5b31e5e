/*
 * node/cli/cmd_certs: `watchmesh certs [--dir DIR] [--json]` (also `cert
 * list`): every certificate the node holds, with its subject's whole key in
 * hex, so that revoking a lost laptop's key is a copy and paste; and
 * cli_resolve_key and cli_resolve_subject, which take a key as hex, a key
 * file, the name of a certificate or a unique prefix of a key such a
 * certificate names: every option that takes a key reads it through them.
 *
 * The certificates are found as trust finds them: those root issued, then
 * those each station issued (only root and stations issue), so a
 * certificate whose issuer the node does not know is not listed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "clock.h"
#include "keyfile.h"

static const char usage_certs[] =
"usage: watchmesh certs [--dir DIR] [--json]      (also: watchmesh cert list)\n"
"\n"
"Every certificate the node holds: its subject's key (64 hex digits, as\n"
"`cert revoke --subject` and `post --to` take it), role, state (valid,\n"
"expired, not yet valid, revoked), window, name, groups and issuer.\n"
"\n"
"  --json   one JSON array: subject, name, role, groups, not_before,\n"
"           not_after (ms), state, revoked, issuer, issuer_name, id\n";

#define CERTS_STATIONS_MAX 4096      /* stations walked, at most */

struct walk {
	struct node_dir *nd;
	store_cert_cb cb;
	void *ctx;
	uint8_t (*stations)[WM_PUB_LEN];   /* subjects already walked into */
	size_t nstations;
	int stop;
};

static int walk_cb(void *vw, const struct cert *c)
{
	struct walk *w = vw;
	size_t i;

	if ((w->stop = w->cb(w->ctx, c)) != 0)
		return 1;
	if (c->role != ROLE_STATION || memcmp(c->issuer, w->nd->net.root, WM_PUB_LEN) != 0)
		return 0;
	for (i = 0; i < w->nstations; i++)
		if (memcmp(w->stations[i], c->subject, WM_PUB_LEN) == 0)
			return 0;                /* a renewal: its certificates are listed already */
	if (w->nstations >= CERTS_STATIONS_MAX)
		return 0;
	memcpy(w->stations[w->nstations++], c->subject, WM_PUB_LEN);
	return store_certs_issued_by(w->nd->store, c->subject, walk_cb, w) != 0;
}

int cli_certs_each(struct node_dir *nd, store_cert_cb cb, void *ctx)
{
	struct walk w = { nd, cb, ctx, NULL, 0, 0 };
	int rc;

	w.stations = calloc(CERTS_STATIONS_MAX, sizeof *w.stations);
	if (!w.stations)
		return WM_ENOMEM;
	rc = store_certs_issued_by(nd->store, nd->net.root, walk_cb, &w);
	free(w.stations);
	return w.stop ? 0 : rc;
}

/* --- the listing ---------------------------------------------------------------------- */

struct listing {
	struct node_dir *nd;
	json_t *arr;                 /* --json, else NULL */
	uint64_t now;
	size_t n;
	int err;
};

static const char *cert_state(struct node_dir *nd, const struct cert *c, uint64_t now, int *revoked)
{
	*revoked = store_revoked_by(nd->store, c->subject, c->issuer) == 1 ||
	           store_revoked_by(nd->store, c->subject, nd->net.root) == 1;
	if (*revoked)
		return "revoked";
	if (now < c->not_before)
		return "not yet valid";
	if (now >= c->not_after)
		return "expired";
	return "valid";
}

/* The name the issuer's own certificate gives it ("root" for root; "" if
 * the node holds no certificate of it). */
static int name_cb(void *name, const struct cert *c)
{
	snprintf(name, 128, "%s", c->name);
	return 1;
}

static void issuer_name(struct node_dir *nd, const uint8_t pub[WM_PUB_LEN], char out[128])
{
	out[0] = 0;
	if (memcmp(pub, nd->net.root, WM_PUB_LEN) == 0)
		snprintf(out, 128, "root");
	else
		(void)store_certs_of(nd->store, pub, name_cb, out);
}

static void day(char out[16], uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

static int list_cb(void *vl, const struct cert *c)
{
	struct listing *l = vl;
	char subj[WM_HEX_PUB + 1], iss[WM_HEX_PUB + 1], id[2 * WM_ID_LEN + 1], iname[128];
	char from[16], to[16], esc[3][1100];
	const char *state;
	int revoked;

	hex_encode(subj, c->subject, WM_PUB_LEN);
	hex_encode(iss, c->issuer, WM_PUB_LEN);
	hex_encode(id, c->event_id, WM_ID_LEN);
	issuer_name(l->nd, c->issuer, iname);
	state = cert_state(l->nd, c, l->now, &revoked);
	l->n++;
	if (l->arr) {
		json_t *o = json_object(), *groups = json_array();
		char *g = strdup(c->groups), *p, *comma;

		for (p = g; p && *p; p = comma) {
			comma = strchr(p, ',');
			if (comma)
				*comma++ = 0;
			json_array_append_new(groups, json_string(p));
		}
		free(g);
		json_object_set_new(o, "subject", json_string(subj));
		json_object_set_new(o, "name", json_string(c->name));
		json_object_set_new(o, "role", json_string(role_name(c->role)));
		json_object_set_new(o, "groups", groups);
		json_object_set_new(o, "not_before", json_integer((json_int_t)c->not_before));
		json_object_set_new(o, "not_after", json_integer((json_int_t)c->not_after));
		json_object_set_new(o, "state", json_string(state));
		json_object_set_new(o, "revoked", json_boolean(revoked));
		json_object_set_new(o, "issuer", json_string(iss));
		json_object_set_new(o, "issuer_name", json_string(iname));
		json_object_set_new(o, "id", json_string(id));
		if (json_array_append_new(l->arr, o) != 0)
			l->err = 1;
		return l->err;
	}
	/* names and groups come from the network: escaped for the terminal */
	render_escape(esc[0], sizeof esc[0], c->name);
	render_escape(esc[1], sizeof esc[1], c->groups);
	render_escape(esc[2], sizeof esc[2], iname);
	day(from, c->not_before);
	day(to, c->not_after);
	printf("%s  %-8s  %-13s  %s to %s  %s  groups %s  (issued by %s)\n", subj, role_name(c->role),
	       state, from, to, esc[0], esc[1], esc[2][0] ? esc[2] : iss);
	return 0;
}

int cmd_certs(int argc, char **argv)
{
	struct cli_opt opts[] = { { "dir", 1, NULL }, { "json", 0, NULL } };
	const size_t no = sizeof opts / sizeof opts[0];
	const char *pos[1];
	struct listing l;
	size_t np = 0;
	int r, ret = CLI_FAIL;

	r = cli_parse("certs", usage_certs, argc, argv, opts, no, pos, 0, &np);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	if (!cli_get(opts, no, "dir"))
		return cli_no_dir("certs");
	memset(&l, 0, sizeof l);
	l.now = wm_now_ms();
	if (!(l.nd = cli_open_dir(cli_get(opts, no, "dir"))))
		return CLI_FAIL;
	if (cli_get(opts, no, "json") && !(l.arr = json_array())) {
		cli_err("out of memory");
		goto out;
	}
	if (cli_certs_each(l.nd, list_cb, &l) != 0 || l.err) {
		cli_err("cannot read the certificates: %s", store_errmsg(l.nd->store));
		goto out;
	}
	if (l.arr) {
		ret = cli_dump_json(l.arr);
		l.arr = NULL;
	} else {
		if (l.n == 0)
			printf("no certificates yet (root's certificates for stations come first: "
			       "`watchmesh cert issue --issuer ROOT.key ... --dir DIR`)\n");
		ret = CLI_OK;
	}
out:
	json_decref(l.arr);
	node_dir_close(l.nd);
	return ret;
}

/* --- keys by name or prefix ------------------------------------------------------------- */

/* The shortest key prefix taken: as for event ids, short enough to read
 * off `watchmesh certs`, long enough that a typo rarely names another key. */
#define KEY_PREFIX_MIN 6

struct match {
	struct node_dir *nd;
	uint64_t now;
	const char *arg;
	size_t len;
	int prefix;                  /* arg is 6+ hex digits: a key's prefix too */
	int valid_only;              /* only certificates that hold now */
	uint8_t keys[8][WM_PUB_LEN];
	char names[8][128];
	size_t n;                    /* distinct keys found (at most 8 kept) */
};

static int match_cb(void *vm, const struct cert *c)
{
	struct match *m = vm;
	char hex[WM_HEX_PUB + 1];
	size_t i;
	int revoked;

	hex_encode(hex, c->subject, WM_PUB_LEN);
	if (strcmp(c->name, m->arg) != 0 && !(m->prefix && strncasecmp(hex, m->arg, m->len) == 0))
		return 0;
	if (m->valid_only && strcmp(cert_state(m->nd, c, m->now, &revoked), "valid") != 0)
		return 0;
	for (i = 0; i < m->n && i < 8; i++)
		if (memcmp(m->keys[i], c->subject, WM_PUB_LEN) == 0)
			return 0;
	if (m->n < 8) {
		memcpy(m->keys[m->n], c->subject, WM_PUB_LEN);
		snprintf(m->names[m->n], sizeof m->names[0], "%s", c->name);
	}
	m->n++;
	return 0;
}

/* any: a certificate in any state names its key (to renew or revoke it),
 * those that hold now first, so a name reissued to a new key after a
 * revocation means the new key. */
static int resolve(const char *cmd, struct node_dir *nd, const char *arg, int any,
                   uint8_t pub[WM_PUB_LEN])
{
	struct match m;
	char why[WM_WHY_LEN] = "", list[600] = "", hex[WM_HEX_PUB + 1];
	size_t i, used = 0;
	int r;

	if (files_parse_pub(arg, pub, why) == 0)
		return 0;
	if (!nd)
		return cli_usage_err(cmd, "%s (a name or a key prefix needs --dir: the node's "
		                     "certificates say whose it is)", why);
	memset(&m, 0, sizeof m);
	m.nd = nd;
	m.now = wm_now_ms();
	m.arg = arg;
	m.len = strlen(arg);
	for (i = 0; i < m.len && isxdigit((unsigned char)arg[i]); i++)
		;
	m.prefix = i == m.len && m.len >= KEY_PREFIX_MIN;
	m.valid_only = 1;
	r = cli_certs_each(nd, match_cb, &m);
	if (r == 0 && m.n == 0 && any) {
		m.valid_only = 0;
		r = cli_certs_each(nd, match_cb, &m);
	}
	if (r != 0) {
		cli_err("cannot read the certificates: %s", store_errmsg(nd->store));
		return CLI_FAIL;
	}
	if (m.n == 1) {
		memcpy(pub, m.keys[0], WM_PUB_LEN);
		return 0;
	}
	if (m.n == 0)
		return cli_usage_err(cmd, "'%s' is not a key, a key file or the name of a %scertificate "
		                     "here%s; `watchmesh certs` lists the keys", arg, any ? "" : "valid ",
		                     m.prefix ? ", nor the start of a certified key" :
		                     " (a key prefix needs at least 6 hex digits)");
	for (i = 0; i < m.n && i < 8; i++) {
		char esc[300];

		hex_encode(hex, m.keys[i], WM_PUB_LEN);
		render_escape(esc, sizeof esc, m.names[i]);
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%s (%.16s)", i ? ", " : "",
		                         esc, hex);
		if (used >= sizeof list)
			break;
	}
	return cli_usage_err(cmd, "'%s' matches %zu keys: %s%s; give the one you mean (enough of "
	                     "its hex digits to tell it apart)", arg, m.n, list, m.n > 8 ? ", ..." : "");
}

int cli_resolve_key(const char *cmd, struct node_dir *nd, const char *arg, uint8_t pub[WM_PUB_LEN])
{
	return resolve(cmd, nd, arg, 0, pub);
}

int cli_resolve_subject(const char *cmd, struct node_dir *nd, const char *arg, uint8_t pub[WM_PUB_LEN])
{
	return resolve(cmd, nd, arg, 1, pub);
}
