/*
 * node/nodedir: a node's data directory, DIR/{node.key, network,
 * watchmesh.conf, store.db}, opened as one: its network, its settings, its
 * store and an ingest context over them.
 */
#ifndef WM_NODEDIR_H
#define WM_NODEDIR_H

#include "conf.h"
#include "error.h"
#include "ingest.h"
#include "netfile.h"
#include "store.h"

/* An opened data directory: its network, its store, an ingest context. */
struct node_dir {
	struct network net;
	struct node_conf conf;
	struct store *store;
	struct ingest_ctx ictx;      /* .now is set at open; refresh before use */
};
/* Opens DIR/network, DIR/watchmesh.conf (defaults if absent) and
 * DIR/store.db.  WM_ENOTFOUND with a why when DIR is not a data directory. */
int node_dir_open(const char *dir, struct node_dir **out, char why[WM_WHY_LEN]);
void node_dir_close(struct node_dir *nd);

#endif
