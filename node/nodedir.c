/*
 * node/nodedir: a node's data directory opened as one thing (nodedir.h):
 * its network file, its settings and its store, with the ingest context
 * that joins them.
 */
#include "clock.h"
#include "conf.h"
#include "files.h"
#include "keyfile.h"
#include "netfile.h"
#include "nodedir.h"
#include "trust.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

/* Another user's node (the service's): say so, rather than "no node here". */
static int denied(const char *path, char why[WM_WHY_LEN])
{
	wm_why(why, "permission denied reading %s: run the command as the user that owns it "
	       "(for the service: sudo -u watchmesh watchmesh ...)", path);
	return WM_EIO;
}

int node_dir_open(const char *dir, struct node_dir **out, char why[WM_WHY_LEN])
{
	char path[PATH_MAX];
	struct node_dir *nd = NULL;
	struct stat st;
	int rc;

	snprintf(path, sizeof path, "%s/network", dir);
	if (stat(dir, &st) != 0) {
		if (errno == EACCES)
			return denied(dir, why);
		wm_why(why, "no data directory at %s (create one with `watchmesh init`)", dir);
		return WM_ENOTFOUND;
	}
	if (!S_ISDIR(st.st_mode)) {
		wm_why(why, "%s is not a directory", dir);
		return WM_ENOTFOUND;
	}
	if (access(path, R_OK) != 0 && errno == EACCES)
		return denied(path, why);
	if (!files_exists(path)) {
		wm_why(why, "%s is not a watchmesh data directory (no network file; "
		             "create one with `watchmesh init`)", dir);
		return WM_ENOTFOUND;
	}
	nd = calloc(1, sizeof *nd);
	if (!nd)
		return WM_ENOMEM;
	rc = network_load(path, &nd->net, why);
	if (rc)
		goto fail;
	snprintf(path, sizeof path, "%s/watchmesh.conf", dir);
	if (files_exists(path)) {
		rc = conf_load(path, &nd->conf, why);
		if (rc)
			goto fail;
	} else {
		conf_defaults(&nd->conf);
	}
	snprintf(path, sizeof path, "%s/store.db", dir);
	rc = store_open(path, &nd->store, why);
	if (rc)
		goto fail;
	if ((rc = trust_set_vouched(nd->store, nd->net.vouched)) != 0) {
		wm_why(why, "%s: cannot record the vouched groups: %s", path, store_errmsg(nd->store));
		store_close(nd->store);
		goto fail;
	}
	nd->ictx.store = nd->store;
	memcpy(nd->ictx.root, nd->net.root, WM_PUB_LEN);
	memcpy(nd->ictx.network, nd->net.id, WM_NETWORK_LEN);
	nd->ictx.network_name = nd->net.name;
	nd->ictx.now = wm_now_ms();
	*out = nd;
	return 0;
fail:
	wmc_wipe(nd, sizeof *nd);
	free(nd);
	return rc;
}

void node_dir_close(struct node_dir *nd)
{
	if (!nd)
		return;
	store_close(nd->store);
	wmc_wipe(nd, sizeof *nd);
	free(nd);
}

/* --- certificates about to end (nodedir.h) ------------------------------------------ */

#define DAY_MS (86400ll * 1000ll)

struct ending {
	struct node_dir *nd;
	struct cert c;               /* the newest unrevoked one */
	int found;
};

static int ending_cb(void *ctx, const struct cert *c)
{
	struct ending *e = ctx;

	if (store_revoked_by(e->nd->store, c->subject, c->issuer) == 1 ||
	    store_revoked_by(e->nd->store, c->subject, e->nd->net.root) == 1)
		return 0;
	if (!e->found || c->not_after > e->c.not_after) {
		e->c = *c;
		e->found = 1;
	}
	return 0;
}

/* Whole days, rounded up: a certificate of --days 3 ends "in 3 days". */
static long long days_left(long long ms)
{
	return ms <= 0 ? 0 : (ms + DAY_MS - 1) / DAY_MS;
}

/* The warning of key file DIR/name, if any, added to warns.  Its name is
 * given within DIR: /api/v1/status shows it, and need not show where the
 * node keeps its files. */
static void cert_warning(struct node_dir *nd, const char *dir, const char *name, long long now, json_t *warns)
{
	uint8_t pub[WM_PUB_LEN];
	char path[PATH_MAX], why[WM_WHY_LEN], hex[WM_HEX_PUB + 1];
	struct ending e;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (files_key_pub(path, pub, why) != 0)
		return;
	memset(&e, 0, sizeof e);
	e.nd = nd;
	if (store_certs_of(nd->store, pub, ending_cb, &e) != 0 || !e.found ||
	    (long long)e.c.not_after - now >= NODE_DIR_CERT_WARN_DAYS * DAY_MS)
		return;
	hex_encode(hex, pub, WM_PUB_LEN);
	json_array_append_new(warns, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "file", name, "key", hex,
	                                       "name", e.c.name, "role", role_name(e.c.role),
	                                       "not_after", (json_int_t)e.c.not_after,
	                                       "days_left", (json_int_t)days_left((long long)e.c.not_after - now)));
}

json_t *node_dir_cert_warnings(struct node_dir *nd, const char *dir, uint64_t at)
{
	json_t *warns = json_array();
	long long now = (long long)at;
	struct dirent *de;
	DIR *d;

	if (!warns)
		return NULL;
	cert_warning(nd, dir, "node.key", now, warns);
	if ((d = opendir(dir)) == NULL)
		return warns;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n <= 4 || strcmp(de->d_name + n - 4, ".key") != 0 || strcmp(de->d_name, "node.key") == 0)
			continue;
		cert_warning(nd, dir, de->d_name, now, warns);
	}
	closedir(d);
	return warns;
}
