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

/*
 * Certificates about to end: for DIR/node.key and every other key file in
 * DIR (an officer's kept there), the newest unrevoked certificate of its
 * key, when it ends less than NODE_DIR_CERT_WARN_DAYS after `now` (or has
 * ended) and no later one is held.  A JSON array (empty if none; NULL out
 * of memory) of {file (its name in DIR), key (hex), name, role, not_after
 * (ms), days_left (whole days, rounded up)}: `watchmesh status` prints it, the daemon puts
 * it in status.json and /api/v1/status as certificates_ending.
 */
#define NODE_DIR_CERT_WARN_DAYS 30
struct json_t;
struct json_t *node_dir_cert_warnings(struct node_dir *nd, const char *dir, uint64_t now);

#endif
