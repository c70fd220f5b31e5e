/*
 * node/daemon/daemon_int.h: what the daemon's files share (daemon.c the
 * start-up, the loop and its timers; peers.c the peers, dialers, beacon
 * members and transport callbacks; status.c status.json; local.c the write
 * batch and the poll, through local.h, which knows nothing of libuv).
 * Everything runs on the loop's one thread.
 */
#ifndef WM_DAEMON_INT_H
#define WM_DAEMON_INT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "beacon.h"
#include "clock.h"
#include "conf.h"
#include "files.h"
#include "frame.h"
#include "keyfile.h"
#include "local.h"
#include "mesh.h"
#include "nodedir.h"
#include "transport.h"
#include "verify.h"
#include "wmcrypto.h"

#define D_MAX_KNOWN    256      /* peers remembered for status */
#define D_MAX_DIALERS  256
#define D_ERR_LEN      200
#define D_CHAIN_MAX    8        /* keys between a pinned key and the one followed to (the newest) */

/* An up connection: the mesh's peer handle <-> the transport's conn. */
struct dconn {
	uint32_t handle;
	struct transport_conn *conn;
	uint8_t pub[WM_PUB_LEN];
	char addr[TRANSPORT_ADDR_LEN];
	int outbound;
	uint64_t since;
};

/* A peer we know of (configured, seen by beacon, or connected), for status. */
struct dknown {
	int used;
	int has_pub;
	uint8_t pub[WM_PUB_LEN];
	char addr[256];              /* configured or last seen address */
	char name[FRAME_NAME_MAX + 1];
	int configured, beacon;
	int up, outbound, eager;
	uint32_t handle;             /* while up */
	uint64_t since;              /* up since / down since (0 = never connected) */
	uint64_t banned_until;       /* the mesh asked for a backoff */
	char last_error[D_ERR_LEN];
};

struct ddialer {
	struct conf_peer cp;
	struct transport_dialer *d;
	int from_beacon;
	uint64_t heard_at;           /* from_beacon: the last beacon of this member (ms) */
	int pinned;                  /* cp.pub rotated to pin (DIR/pins), since pin_at (ms) */
	uint8_t pin[WM_PUB_LEN];
	uint64_t pin_at;
	uint8_t chain[D_CHAIN_MAX][WM_PUB_LEN];  /* the keys between cp.pub and pin, oldest first */
	size_t nchain;
	int dropped;                 /* that rotation stopped counting: cp.pub is dialed (peers.c) */
};

struct dpending {
	uint32_t handle;
	char why[D_ERR_LEN];
	uint64_t backoff;
};

struct daemon {
	uv_loop_t loop;
	char dir[PATH_MAX];
	int lockfd;
	struct node_dir *nd;
	struct key *self;
	char selfhex[WM_HEX_PUB + 1];
	struct transport *tr;
	struct mesh *mesh;
	struct beacon *bc;
	struct http *http;           /* the HTTP(S) API, or NULL when off */
	uv_timer_t mesh_timer, poll_timer, status_timer, expire_timer;
	uv_signal_t sigterm, sigint, sighup;
	uv_check_t batch_check;      /* ends the write batch after each loop turn's reads */
	struct local local;          /* the write batch and the poll (local.h) */
	struct vq *vq;               /* peers' frames, fetched events verified on the pool (verify.h) */
	struct trust_cache *tcache;  /* certificate lists read within a write batch (local.h) */
	int loop_inited;             /* uv_loop_init succeeded */
	int handles_open;            /* timers and signals initialised */
	int stopping;
	int log_level;
	char listen_addr[TRANSPORT_ADDR_LEN + 16];
	struct dconn **conns;
	size_t nconns;
	uint32_t next_handle;
	struct dknown known[D_MAX_KNOWN];
	struct ddialer dialers[D_MAX_DIALERS];
	size_t ndialers;
	struct dpending *pend;       /* disconnects the mesh asked for */
	size_t npend, pendcap;
	int flushing;
	uint64_t started_at;
	uint64_t expired;            /* events collected */
	uint64_t http_in, http_stored;       /* events POSTed, and of those stored */
	struct post *posts, *posts_tail;     /* POSTs being checked on the pool, in arrival order (serve.c) */
	uint64_t disk_full;          /* since (ms), or 0: below disk_reserve (disk.c) */
	uint64_t disk_free;          /* bytes free at the last check */
	uint64_t http_refused_by[MESH_REASONS];   /* ... refused, by -code */
	int status_dirty;
	unsigned status_ticks;
	struct mesh_stats last_stats;    /* as last written to status.json */
	struct json_t *cert_warns;   /* certificates ending (nodedir.h), read at cert_warns_at */
	uint64_t cert_warns_at;
	struct {                     /* the last repair that changed anything we know of */
		char peer[FRAME_NAME_MAX + 20];
		uint64_t at, need, have;
		uint64_t round_trips, bytes_out, bytes_in, ms;   /* negentropy cost, both stages */
	} last_repair;
};

/* --- daemon.c ---------------------------------------------------------------- */

uint64_t d_now_ms(void);
void d_log(struct daemon *d, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The first 8 bytes of a key in hex, for logs. */
void d_hex8(char out[17], const uint8_t *pub);
/* After every call into the mesh: the disconnects it asked for, then the
 * mesh timer re-armed at mesh_next_deadline(). */
void d_after_mesh(struct daemon *d);

/* --- peers.c ----------------------------------------------------------------- */

void peers_transport_callbacks(struct daemon *d, struct transport_callbacks *tcb);
/* A peer's frame to the mesh (the verify queue's deliver, in arrival order). */
void peers_frame(void *ctx, uint32_t handle, const uint8_t *bytes, size_t len,
                 const struct vq_event *ev);
/* io.send and io.disconnect */
void peers_mesh_io(struct mesh_io *io);
void peers_beacon_callbacks(struct daemon *d, struct beacon_callbacks *bcb);
/* Close the connections the mesh asked to close (io.disconnect queues them). */
void peers_close_pending(struct daemon *d);
/* Dial the peers of c (keys given by name resolved: node/keyname.h). */
int peers_start_dialers(struct daemon *d, const struct node_conf *c, char why[WM_WHY_LEN]);
/* SIGHUP: dialers added and removed to match c, the settings read again
 * (path names the file in messages).  0, or nonzero when c's list is not
 * applied (said in the log: nothing changed). */
int peers_reload(struct daemon *d, const struct node_conf *c, const char *path);
/* Judge every rotation followed (DIR/pins) against the store as it is now:
 * one stops counting, its link dropped and the configured key dialed, when
 * a key of its chain is revoked and the key it leads to holds no valid node
 * certificate; it counts again once that key holds one (status timer). */
void peers_judge_pins(struct daemon *d);
/* Stop dialing beacon members not heard for 3 beacon intervals. */
void peers_beacon_expire(struct daemon *d, uint64_t now);
struct dknown *peers_known_by_pub(struct daemon *d, const uint8_t pub[WM_PUB_LEN]);
/* "name (hex8)", or the address of a peer whose key is not known yet. */
void peers_known_name(const struct dknown *k, char *out, size_t len);

/* --- status.c ---------------------------------------------------------------- */

/* The status document: status.json's, and /api/v1/status's. */
struct json_t *status_json(struct daemon *d, const char *state);
/* Write DIR/status.json by rename, so a reader sees a whole file. */
void status_write(struct daemon *d, const char *state);
void status_timer_cb(uv_timer_t *t);

/* --- disk.c ------------------------------------------------------------------ */

/* Read the free space; enter or leave the "disk full" state. */
void disk_check(struct daemon *d);
/* "running", or "disk full": status.json's state. */
const char *disk_state(const struct daemon *d);

/* --- serve.c ----------------------------------------------------------------- */

/* Start the HTTP(S) API (node/http) as watchmesh.conf says. */
int serve_start(struct daemon *d, char why[WM_WHY_LEN]);
/* The store has committed rows: tell the live streams. */
void serve_rows(struct daemon *d);

#endif
