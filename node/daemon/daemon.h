/*
 * node/daemon: `watchmesh run DIR`, the glue between the libuv loop, the
 * transport (node/net/transport.h), the mesh logic (node/mesh/mesh.h), the
 * store and the LAN beacons (node/net/beacon.h).  One thread, one loop.
 *
 * What it does:
 *   - loads DIR: network, node.key, watchmesh.conf, store.db (daemon.c);
 *   - listens, dials the configured peers, starts beacons (beacons = on);
 *     hands every frame to the mesh and every mesh frame to the transport
 *     (peers.c); ticks the mesh at mesh_next_deadline (daemon.c);
 *   - stores the events of one loop turn in one transaction, and polls the
 *     store every DAEMON_POLL_MS for rows other processes wrote, skipping
 *     the rows the mesh stored here (local.c): this is how
 *     `watchmesh post --dir DIR` from another process, while the daemon
 *     runs, reaches the mesh at once (the CLI stays a plain SQLite writer
 *     and knows nothing of the daemon);
 *   - collects expired events every expire_interval;
 *   - writes DIR/status.json (atomically, by rename) every
 *     DAEMON_STATUS_MS and soon after a change; `watchmesh status` reads it
 *     (status.c); at the same tick judges again the key rotations of
 *     peers it follows (DIR/pins) against the store (peers.c);
 *   - SIGTERM/SIGINT: clean shutdown (exit 0); SIGHUP: re-reads
 *     watchmesh.conf: the peers list adds/removes dialers, log_level and
 *     disk_reserve apply, other changes are named as waiting for a restart;
 *   - serves the HTTP(S) API (serve.c, node/http) and keeps a full disk as
 *     one state (disk.c).
 *
 * Log lines go to stderr, one per significant event, each starting with the
 * UTC time and the node's name.
 */
#ifndef WM_DAEMON_H
#define WM_DAEMON_H

#include "error.h"

#define DAEMON_POLL_MS    200
#define DAEMON_STATUS_MS  2000
#define DAEMON_STATUS_FILE "status.json"

/*
 * Run the node in data directory `dir` until SIGTERM or SIGINT.  0 after a
 * clean shutdown; a negative code with why filled when the node cannot
 * start (no such directory, bad config, port in use, ...).
 */
int daemon_run(const char *dir, char why[WM_WHY_LEN]);

#endif
