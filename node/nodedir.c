/*
 * node/nodedir: a node's data directory opened as one thing (nodedir.h):
 * its network file, its settings and its store, with the ingest context
 * that joins them.
 */
#include "clock.h"
#include "conf.h"
#include "files.h"
#include "netfile.h"
#include "nodedir.h"
#include "trust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

