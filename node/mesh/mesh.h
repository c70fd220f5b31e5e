/*
 * node/mesh: the mesh logic -- Plumtree push, negentropy repair, fetching,
 * rate limits -- and nothing else.  It never touches sockets, libuv or a
 * clock: the caller hands it decoded-to-bytes frames and the time, and it
 * answers through the callbacks of struct mesh_io.  The same code runs
 * in the daemon (node/daemon over node/net/transport.c) and in the simulator
 * (tests/sim).  proto/PROTOCOL.md §13 describes the messages and the rules.
 *
 * How the glue drives it:
 *
 *   m = mesh_new(&cfg, &io, &ictx, seed)            once
 *   mesh_peer_up(m, h, pub, outbound, now)          after a handshake succeeds;
 *                                                   h is any uint32 the glue picks,
 *                                                   unique among live peers
 *   mesh_receive(m, h, frame, len, now)             each frame that arrives
 *                                                   (or mesh_receive_event, for an
 *                                                   EVENT frame decoded already)
 *   mesh_peer_down(m, h, now)                       when the connection is gone
 *                                                   (also after io->disconnect)
 *   mesh_publish(m, wire, len, now)                 an event this node has just
 *                                                   ingested itself (post, HTTP)
 *   mesh_tick(m, now) at mesh_next_deadline(m)      timers; calling it early is harmless
 *   mesh_free(m)
 *
 * Rules for the callbacks: they must not call back into the mesh (no
 * mesh_peer_down from inside io->disconnect: queue it, do it after; the
 * readers mesh_get_stats and mesh_peer_info are fine).  The
 * mesh keeps no pointer to the bytes it passes.  After io->disconnect the
 * mesh ignores everything from that peer until mesh_peer_down.
 *
 * All times are milliseconds since the epoch (the same clock as ingest's
 * `now`).  Not thread-safe: one thread drives one mesh.  The store must be
 * file-backed (repair reads it through node/store/store_neg, a reader
 * connection per session, its read transaction ended after each message).  The mesh does not notice two connections to
 * the same node key: the glue must keep one (node/net/transport.c does: a
 * duplicate is closed, and its on_down runs, before the survivor's on_up).  A peer that sends no
 * HELLO within 30 s is disconnected with backoff 0.
 *
 * Each repair session (stage: scope "network", then the shared groups) is
 * summed up in one INFO log line once reconciled and once every id it
 * found missing was fetched (or given up on); benchmarks parse it, so the
 * format is fixed:
 *   repair with <hex8> (<name>): scope <network|groups>, <R> round trips,
 *   <bytes out>/<bytes in> bytes, need <N>, have <M>, fetched <K> in <T> ms
 * (one line; bytes are negentropy message bytes, T from NEG_OPEN; K counts
 * what this session's fetches stored: ids of its N that arrived another way
 * first, e.g. announced by the peer's own session, are not in K).  A session
 * still running after 5 s says how far it is every 5 s:
 *   repairing with <hex8> (<name>): scope <s>, reconciling, <R> round trips,
 *   need <N>, have <M>, fetched <K> so far, <T> s
 * ("reconciled in <R> round trips" once reconciled), and so does a long
 * fetch of what the peer announced while no session of ours runs:
 *   fetching from <hex8> (<name>): <K> events stored so far, <Q> ids to go
 */
#ifndef WM_MESH_H
#define WM_MESH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ingest.h"
#include "wmcrypto.h"

struct mesh;

enum mesh_log_level { MESH_LOG_DEBUG, MESH_LOG_INFO, MESH_LOG_WARN };

struct mesh_io {
	void *ctx;                      /* passed to every callback */
	/*
	 * Queue one frame for the peer.  prio = 1 for alerts and whatever
	 * leads to them: the transport sends it before everything not yet
	 * started.  Returns 0, or a negative code when the peer's queue is
	 * full (the mesh drops the frame; repair makes up for it).
	 */
	int (*send)(void *ctx, uint32_t peer, const uint8_t *buf, size_t len, int prio);
	/*
	 * Close the connection (the peer broke the rules or sent an invalid
	 * event): `why` is for the log; do not reconnect to or accept this peer
	 * key for backoff_ms (0 = the ordinary reconnect policy).  The glue
	 * calls mesh_peer_down later, when the connection is closed.
	 */
	void (*disconnect)(void *ctx, uint32_t peer, const char *why, uint64_t backoff_ms);
	/* One log line, without newline.  May be NULL. */
	void (*log)(void *ctx, enum mesh_log_level level, const char *line);
	/* May be NULL.  The mesh has just stored an event received from
	 * `peer` (ingest said 0) as row `seq` of the store: for the daemon's
	 * bookkeeping (its store poll skips the rows it wrote itself) and for
	 * live feeds (SSE).  Not called for mesh_publish. */
	void (*stored)(void *ctx, uint32_t peer, const uint8_t id[WM_ID_LEN], unsigned kind,
	               int64_t seq);
	/* May be NULL.  The mesh is about to hand an event from a peer to
	 * ingest, which may write: a glue that batches writes opens its
	 * transaction here. */
	void (*ingesting)(void *ctx);
	/* May be NULL.  The event at wire[0..len) of the frame being received,
	 * peeked with its id already (a worker that checked it): 1 and *out,
	 * else 0.  The mesh takes it only when *out describes these very bytes
	 * (its wire is `wire`, its length `len`); otherwise it hashes them. */
	int (*peeked)(void *ctx, const uint8_t *wire, size_t len, struct event_peek *out);
};

struct mesh_config {
	const char *name;               /* this node's name for HELLO (1..64 bytes) */
	const char *groups;             /* carried groups, "a,b" or "*"; "network" is always carried */
	const char *software;           /* e.g. "watchmesh 0.1.0" */
	unsigned eager_fanout;          /* eager peers chosen at connect (3) */
	uint64_t ihave_delay_ms;        /* lazy announcements are batched this long (50) */
	uint64_t graft_timeout_ms;      /* wait for the eager copy before IWANT (300; alerts 1/3) */
	uint64_t fetch_timeout_ms;      /* an IWANT unanswered this long is asked elsewhere (2000) */
	uint64_t repair_interval_ms;    /* periodic repair with each peer (60000) */
	uint64_t repair_soon_ms;        /* repair again this soon after one stored events (1000) */
	size_t fetch_batch;             /* ids in one repair IWANT (64) */
	size_t fetch_window;            /* repair ids in flight per peer (256) */
	/* events not asked for (live pushes, late answers): per second */
	double peer_rate, peer_burst;   /* from one peer (200, 2000) */
	double author_rate, author_burst; /* per author (10, 100) */
	uint64_t invalid_backoff_ms;    /* backoff for a peer that sent an invalid event (600000) */
	uint64_t neg_frame_limit;       /* negentropy frame limit (FRAME_NEG_MAX, 512 KiB) */
	int verbose;                    /* 1: MESH_LOG_DEBUG lines too */
};
/* Fill c with the defaults above (name "node", groups "*"); those an
 * operator can change come from node/defaults.h, as watchmesh.conf's do. */
void mesh_config_defaults(struct mesh_config *c);

/*
 * A new mesh.  cfg's strings are copied.  ictx gives the store events go
 * into and the network's root; its `now` is replaced by the mesh's own on
 * each call.  The store must outlive the mesh.  seed drives every random
 * choice (eager peers, jitter), so a simulation replays exactly.
 * 0 and *out (free with mesh_free), WM_EINVAL (bad config; why filled) or
 * WM_ENOMEM.
 */
int mesh_new(const struct mesh_config *cfg, const struct mesh_io *io, const struct ingest_ctx *ictx,
             uint64_t seed, struct mesh **out, char why[WM_WHY_LEN]);
void mesh_free(struct mesh *m);

/* A connection to node `pub` is up (handshake done).  The mesh sends its
 * HELLO at once.  WM_EINVAL if the handle is already in use. */
int mesh_peer_up(struct mesh *m, uint32_t peer, const uint8_t pub[WM_PUB_LEN], int outbound,
                 uint64_t now);
/* The connection is gone.  Unknown handles are ignored. */
void mesh_peer_down(struct mesh *m, uint32_t peer, uint64_t now);

/*
 * One frame from a peer.  Returns 0, or the reason the peer was
 * disconnected (WM_EPROTO, WM_ESIG, ...): the mesh has then already called
 * io->disconnect.  Frames from unknown or disconnected peers are ignored.
 */
int mesh_receive(struct mesh *m, uint32_t peer, const uint8_t *buf, size_t len, uint64_t now);

/* mesh_receive of an EVENT frame the glue has decoded already (frame_decode
 * said FRAME_EVENT): its push flag and its event's bytes, so that the frame
 * is not decoded twice. */
int mesh_receive_event(struct mesh *m, uint32_t peer, int push, const uint8_t *wire, size_t len,
                       uint64_t now);

/* An event this node has already ingested (stored now): push it to the
 * neighbours.  WM_EMALFORMED if the bytes do not decode. */
int mesh_publish(struct mesh *m, const uint8_t *wire, size_t len, uint64_t now);

/* Run the timers that are due. */
void mesh_tick(struct mesh *m, uint64_t now);
/* When mesh_tick should run next (ms since the epoch); UINT64_MAX if no
 * timer is set. */
uint64_t mesh_next_deadline(const struct mesh *m);

/* --- status ---------------------------------------------------------------- */

#define MESH_REASONS 64
struct mesh_stats {
	uint64_t events_in;             /* EVENT frames received */
	uint64_t stored;                /* of those, new and stored */
	uint64_t duplicates;            /* of those, already held */
	uint64_t refused;               /* refused by ingest (any reason) */
	uint64_t refused_by[MESH_REASONS];   /* ... by -code (crypto/error.h) */
	uint64_t store_errors;          /* of those, not stored because the store failed
	                                 * (the glue rolls back a batch it wraps around them) */
	uint64_t invalid;               /* refused as the peer's fault (disconnects) */
	uint64_t rate_limited;          /* dropped by a rate limit */
	uint64_t events_out;            /* EVENT frames sent */
	uint64_t ihave_out, iwant_out, prune_out;
	uint64_t repairs;               /* reconciliations completed as client */
	uint64_t fetched;               /* events stored that repair fetched */
	uint64_t repair_bytes_out, repair_bytes_in;   /* negentropy messages of repairs completed */
	uint64_t paused_dropped;        /* events dropped while paused (mesh_pause) */
	size_t peers;                   /* peers known (ready or not) */
};
void mesh_get_stats(const struct mesh *m, struct mesh_stats *out);

/* Paused (the node cannot store: its disk is full), the mesh starts no
 * repair and drops the events peers push, without blaming them; resumed,
 * it repairs with every peer at once, which brings what it dropped. */
void mesh_pause(struct mesh *m, int paused, uint64_t now);

struct mesh_peer_info {
	uint32_t peer;
	uint8_t pub[WM_PUB_LEN];
	char name[65];                  /* from its HELLO ("" before) */
	char groups[1024];              /* from its HELLO, comma-separated */
	int outbound;
	int ready;                      /* HELLO received */
	int eager;                      /* we push whole events to it */
	uint64_t up_since;
	uint64_t events_in, events_out, duplicates_in;
	uint64_t fetch_queued;          /* ids queued or in flight to be fetched from it */
	uint64_t last_repair_at;        /* 0 = never */
	uint64_t last_repair_need;      /* ids it had that we lacked, at the last repair */
	uint64_t last_repair_have;      /* ids we had that it lacked */
	/* the last repair's negentropy cost, both stages together */
	uint64_t last_repair_round_trips;
	uint64_t last_repair_bytes_out, last_repair_bytes_in;
	uint64_t last_repair_ms;        /* first NEG_OPEN to the end of reconciliation */
};
/* Number of peers; mesh_peer_info(m, i, &info) for i < n fills the i-th. */
size_t mesh_peer_count(const struct mesh *m);
int mesh_peer_info(const struct mesh *m, size_t i, struct mesh_peer_info *out);

/* Is `code` from ingest_event the sending peer's fault (invalid bytes, a
 * signature or content no honest node would pass on)?  Such a peer is
 * disconnected and backed off.  Passing refusals, EREVOKED (the peer may
 * not know the revocation yet) and ENOTVOUCHED (its network file may not
 * list the group as vouched yet) are not. */
int mesh_refusal_is_fault(int code);

#endif
