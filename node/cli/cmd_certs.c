/*
 * node/cli/cmd_certs: `watchmesh certs [--dir DIR] [--json]` (also `cert
 * list`): every certificate the node holds, with its subject's whole key in
 * hex, so that revoking a lost laptop's key is a copy and paste; and
 * cli_resolve_key and cli_resolve_subject, which take a key as hex, a key
 * file, the name of a certificate or a unique prefix of a key such a
 * certificate names: every option that takes a key reads it through them
 * (node/keyname.h, which the daemon's `peers` setting shares).
 *
 * The certificates are found as trust finds them (keyname_certs_each), so a
 * certificate whose issuer the node does not know is not listed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "clock.h"
#include "keyfile.h"
#include "keyname.h"

static const char usage_certs[] =
"usage: watchmesh certs [--dir DIR] [--json]      (also: watchmesh cert list)\n"
"\n"
"Every certificate the node holds: its subject's key (64 hex digits, as\n"
"`cert revoke --subject` and `post --to` take it), role, state (valid,\n"
"expired, not yet valid, revoked), window, name, groups and issuer.\n"
"\n"
"  --json   one JSON array: subject, name, role, groups, not_before,\n"
"           not_after (ms), state, revoked, issuer, issuer_name, id\n";

/* --- the listing ---------------------------------------------------------------------- */

struct listing {
	struct node_dir *nd;
	json_t *arr;                 /* --json, else NULL */
	uint64_t now;
	size_t n;
	int err;
};

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
	state = keyname_cert_state(l->nd, c, l->now, &revoked);
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
	if (keyname_certs_each(l.nd, list_cb, &l) != 0 || l.err) {
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

/* --- keys by name or prefix (node/keyname.h) ----------------------------------------- */

static int resolve(const char *cmd, struct node_dir *nd, const char *arg, int any,
                   uint8_t pub[WM_PUB_LEN])
{
	char why[WM_WHY_LEN] = "";
	int r;

	if (!nd) {
		if (files_parse_pub(arg, pub, why) == 0)
			return 0;
		return cli_usage_err(cmd, "%s (a name or a key prefix needs --dir: the node's "
		                     "certificates say whose it is)", why);
	}
	r = keyname_resolve(nd, arg, any, wm_now_ms(), pub, why);
	if (r == 0)
		return 0;
	if (r == WM_ENOTFOUND || r == WM_EINVAL)
		return cli_usage_err(cmd, "%s", why);
	cli_err("%s", why);
	return CLI_FAIL;
}

int cli_resolve_key(const char *cmd, struct node_dir *nd, const char *arg, uint8_t pub[WM_PUB_LEN])
{
	return resolve(cmd, nd, arg, 0, pub);
}

int cli_resolve_subject(const char *cmd, struct node_dir *nd, const char *arg, uint8_t pub[WM_PUB_LEN])
{
	return resolve(cmd, nd, arg, 1, pub);
}
