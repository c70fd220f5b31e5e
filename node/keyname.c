/*
 * node/keyname: keys by the names people give them (keyname.h): the
 * certificates a node holds, walked as trust reaches them, and a key given
 * as hex, a key file, a certificate's name or a prefix of a certified key.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keyfile.h"
#include "keyname.h"
#include "render.h"

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

int keyname_certs_each(struct node_dir *nd, store_cert_cb cb, void *ctx)
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

const char *keyname_cert_state(struct node_dir *nd, const struct cert *c, uint64_t now, int *revoked)
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

/* --- keys by name or prefix ---------------------------------------------------------- */

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
	if (m->valid_only && strcmp(keyname_cert_state(m->nd, c, m->now, &revoked), "valid") != 0)
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
int keyname_resolve(struct node_dir *nd, const char *arg, int any, uint64_t now, uint8_t pub[WM_PUB_LEN],
                    char why[WM_WHY_LEN])
{
	struct match m;
	char list[600] = "", hex[WM_HEX_PUB + 1];
	size_t i, used = 0;
	int r;

	if (files_parse_pub(arg, pub, why) == 0)
		return 0;
	memset(&m, 0, sizeof m);
	m.nd = nd;
	m.now = now;
	m.arg = arg;
	m.len = strlen(arg);
	for (i = 0; i < m.len && isxdigit((unsigned char)arg[i]); i++)
		;
	m.prefix = i == m.len && m.len >= KEY_PREFIX_MIN;
	m.valid_only = 1;
	r = keyname_certs_each(nd, match_cb, &m);
	if (r == 0 && m.n == 0 && any) {
		m.valid_only = 0;
		r = keyname_certs_each(nd, match_cb, &m);
	}
	if (r != 0) {
		wm_why(why, "cannot read the certificates: %s", store_errmsg(nd->store));
		return r;
	}
	if (m.n == 1) {
		memcpy(pub, m.keys[0], WM_PUB_LEN);
		return 0;
	}
	if (m.n == 0) {
		wm_why(why, "'%s' is not a key, a key file or the name of a %scertificate here%s; "
		       "`watchmesh certs` lists the keys", arg, any ? "" : "valid ",
		       m.prefix ? ", nor the start of a certified key" :
		       " (a key prefix needs at least 6 hex digits)");
		return WM_ENOTFOUND;
	}
	for (i = 0; i < m.n && i < 8; i++) {
		char esc[300];

		hex_encode(hex, m.keys[i], WM_PUB_LEN);
		render_escape(esc, sizeof esc, m.names[i]);
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%s (%.16s)", i ? ", " : "",
		                         esc, hex);
		if (used >= sizeof list)
			break;
	}
	wm_why(why, "'%s' matches %zu keys: %s%s; give the one you mean (enough of its hex digits to "
	       "tell it apart)", arg, m.n, list, m.n > 8 ? ", ..." : "");
	return WM_EINVAL;
}
