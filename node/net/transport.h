/*
 * node/transport: the mesh's links over TCP with libuv.  It listens, dials
 * configured peers and keeps them dialed, runs the handshake of
 * crypto/handshake.h on every connection, and then moves opaque frames (up to
 * TRANSPORT_FRAME_MAX bytes each) both ways, encrypted.  It knows nothing of
 * mesh messages; the glue (node/daemon.c) hands frames to node/mesh.
 *
 *   t = transport_new(loop, node key, network secret, &callbacks, &options)
 *   transport_listen(t, "0.0.0.0:7400")          optional; port 0 picks one
 *   transport_connect(t, "village-b.lan:7400", pub or NULL, &dialer)
 *        ... callbacks run from the loop:
 *        on_up(conn, remote key, outbound)       handshake done: frames may flow
 *        on_frame(conn, bytes, len)              one frame from the peer
 *        on_down(conn, reason)                   that connection is gone
 *   transport_send(conn, bytes, len, priority) / transport_close(conn, why, backoff)
 *   transport_free(t); then let the loop run: it ends with no handles left
 *
 * Guarantees: on_down comes exactly once for each connection that had an
 * on_up, and never for one that did not; after on_down the conn pointer is
 * dead.  There is at most one up connection per remote key: when two
 * appear (both nodes dialed each other, or a peer reconnected before its old
 * connection died) the transport keeps one by a rule both ends agree on and
 * closes the other, calling on_down for the old one before on_up for the new.
 * A connection is up only once both ends have finished the handshake and
 * neither refused the other (a refusal -- ban, allow_peer -- travels with
 * the handshake's last bytes in one write), so a refused link does not show
 * as up -- unless TCP splits that write, and then on_down follows at once.
 * Every failure (a connection refused, a handshake that fails, a peer that
 * times out or sends a bad frame) produces one log line naming the peer's
 * address and, when known, its key -- or, for an inbound connection that
 * never came up, past a few a minute, a count in a summary line.
 *
 * Probes: an inbound connection whose first message fails (garbage, another
 * network, a replayed or stale message 1, a peer that closes early) is not
 * closed at once: it is read and ignored until a deadline drawn at random
 * between 1/2 and 1 x handshake_timeout_ms after accept, the same deadline a
 * silent connection gets, so a prober learns nothing from when it closes.
 * The replay cache of answered first messages is kept in replay_path, if
 * given, so that it survives a restart.
 *
 * Rotated keys: a dialer that expected key K and meets a peer proving N
 * sends nothing more until the peer's first frame, which on_rotated judges
 * (statements signed by K leading to N, crypto/rotate.h); a node given its
 * own statements (transport_set_rotation) answers a message 1 made for a
 * key it rotated from and sends them right after its stream header.
 *
 * A peer that breaks the framing after the handshake (a frame announced
 * larger than TRANSPORT_FRAME_MAX, one that does not decrypt) is closed and
 * its key refused for fault_backoff_ms, like any other protocol fault.
 *
 * Handshake slots: inbound connections still in their handshake are at
 * most max_handshakes, max_handshakes_per_addr of them from one address.
 * When the slots are full, a new connection takes the place of one that
 * has proved nothing yet (its message 1 failed; or, at random, one of the
 * older half of the silent ones), so that no client can hold them shut;
 * one whose bytes were already waiting at accept (an honest initiator
 * sends message 1 at once) is never dropped before they are read, nor
 * refused for lack of a slot (max_conns still holds).  Connections from the
 * address of a configured peer (transport_dialer_prefer) are not dropped
 * for strangers' and may exceed max_handshakes.  While more than half the
 * slots are taken, or all of its address's, a new connection has a fifth
 * of the usual deadline to send its message 1.  Lines about
 * connections that never came up are at most a few a minute for each
 * address and reason; one line at the end of the minute counts the rest.
 *
 * Keepalive: a connection idle for keepalive_ms sends an empty frame (never
 * passed to on_frame); one that hears nothing for 3 x keepalive_ms is closed
 * as "timed out".  A handshake (TCP connect included) that takes longer than
 * handshake_timeout_ms is closed.  Closing an up connection sends the peer a
 * last frame with the reason, which its log shows.
 *
 * Dialers reconnect with exponential backoff: backoff_min_ms doubling up to
 * backoff_max_ms, each delay +-25% random; a connection that stayed up
 * stable_ms resets it.  A dialer whose peer is already connected the other
 * way waits quietly until that connection goes down.
 *
 * A peer that stops reading is closed once a write has waited 3 x
 * keepalive_ms ("the peer is not reading"); one that reads too slowly for
 * what we send it, once its backlog passed half of queue_max and did not
 * halve within drain_ms ("too slow"; its key is then refused for drain_ms).
 * What waits to be sent is bounded per connection (queue_max) and for all
 * of them (queue_total_max): beyond, transport_send says WM_ERATE.
 *
 * Callbacks may call any transport function, including transport_close on
 * any connection and transport_free.  Single-threaded, like libuv.  The
 * process must ignore SIGPIPE (libuv writes with plain write(2)).
 */
#ifndef WM_TRANSPORT_H
#define WM_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "wmcrypto.h"

struct uv_loop_s;   /* uv_loop_t; users of this header need not include uv.h */

#define TRANSPORT_FRAME_MAX (1024u * 1024u)   /* = CHAN_FRAME_MAX */
#define TRANSPORT_ADDR_LEN  64                /* "ip:port" strings, NUL included */

enum transport_prio {
	TRANSPORT_PRIO_NORMAL = 0,
	TRANSPORT_PRIO_HIGH = 1,   /* alerts: sent before every normal frame not yet started */
};

struct transport;
struct transport_conn;
struct transport_dialer;

struct transport_callbacks {
	void *ctx;   /* passed to every callback */
	/* Handshake done: remote_pub is the peer's verified node key (and, for
	 * a dialer with an expected key, that key).  outbound=1 if we dialed. */
	void (*on_up)(void *ctx, struct transport_conn *c, const uint8_t remote_pub[WM_PUB_LEN],
	              int outbound);
	/* One frame, 1..TRANSPORT_FRAME_MAX bytes; bytes are valid only during
	 * the call. */
	void (*on_frame)(void *ctx, struct transport_conn *c, const uint8_t *bytes, size_t len);
	/* The connection is gone (reason as logged).  c must not be used after. */
	void (*on_down)(void *ctx, struct transport_conn *c, const char *reason);
	/* One log line without newline; NULL prints to stderr. */
	void (*on_log)(void *ctx, const char *line);
	/* Optional: admit a peer after its handshake (0), or refuse it (nonzero,
	 * why filled; the peer is told why and the refusal logged).  c is not
	 * up yet: only the transport_conn_* readers may be used on it. */
	int (*allow_peer)(void *ctx, struct transport_conn *c, const uint8_t remote_pub[WM_PUB_LEN],
	                  char why[WM_WHY_LEN]);
	/* Optional: a connection that ended before on_up (reason as logged),
	 * when a dialer of ours made it (d) or the peer proved its key (pub);
	 * also a dialer's host that did not resolve (pub NULL).  d is NULL for
	 * an inbound connection, pub NULL before the key was proven.  So the
	 * glue can keep each peer's own last failure without reading logs. */
	void (*on_fail)(void *ctx, struct transport_dialer *d, const uint8_t *pub, const char *reason);
	/* Optional: a dialer that expected key old reached a peer that proved
	 * key new_pub instead; frame is the first frame the peer sent (its
	 * rotation statements, crypto/rotate.h, if it rotated).  0 admits the
	 * link (and the dialer expects new_pub from then on); nonzero refuses
	 * it with why.  Without it such a link fails in the handshake. */
	int (*on_rotated)(void *ctx, struct transport_conn *c, const uint8_t old[WM_PUB_LEN],
	                  const uint8_t new_pub[WM_PUB_LEN], const uint8_t *frame, size_t len,
	                  char why[WM_WHY_LEN]);
};

struct transport_options {
	uint64_t keepalive_ms;          /* ping when idle this long; dead after 3x (15000) */
	uint64_t handshake_timeout_ms;  /* connect + handshake (10000) */
	uint64_t backoff_min_ms;        /* first reconnect delay (1000) */
	uint64_t backoff_max_ms;        /* longest reconnect delay (300000) */
	uint64_t stable_ms;             /* up this long resets the backoff (60000) */
	size_t queue_max;               /* bytes of normal frames queued per connection; high
	                                 * priority frames may use as much again (2 MiB) */
	size_t queue_total_max;         /* the same for all connections together (64 MiB) */
	uint64_t drain_ms;              /* a backlog above queue_max / 2 must halve this fast (30000) */
	unsigned max_conns;             /* connections open (their socket not yet closed); more
	                                 * inbound are refused, no more dialed (256) */
	unsigned max_handshakes;        /* inbound connections still in their handshake (64) */
	unsigned max_handshakes_per_addr; /* ... of those, from one IP address (8) */
	unsigned max_links_per_addr;    /* inbound links admitted from one IP address, those
	                                 * with a key a dialer of ours wants aside (4) */
	uint64_t fault_backoff_ms;      /* a key that breaks the framing once up (a frame too
	                                 * large or short, one that does not decrypt) is
	                                 * refused this long, as the mesh's invalid_backoff_ms
	                                 * refuses one that sends a bad frame (600000) */
	const char *replay_path;        /* the replay cache's file (copied), so that it survives
	                                 * a restart; NULL: in memory only (NULL) */
};
/* Fill o with the defaults above. */
void transport_options_default(struct transport_options *o);

/*
 * A new transport on `loop`.  self must hold the secret half; it and netsec
 * (WM_SECRET_LEN bytes) are copied (into guarded memory).  cb is copied;
 * opt NULL means the defaults.  0 and *out, or WM_EINVAL / WM_ENOMEM.
 */
int transport_new(struct uv_loop_s *loop, const struct key *self, const uint8_t *netsec,
                  const struct transport_callbacks *cb, const struct transport_options *opt,
                  struct transport **out);

/*
 * Closes the listener, every connection (on_down is called for the up ones
 * before this returns, each peer gets a closing frame if it can be sent
 * within a second) and every dialer.  No callback runs after it returns.
 * The memory is released from libuv's close callbacks: keep running the
 * loop (uv_run) until it ends.  NULL is fine.
 */
void transport_free(struct transport *t);

/*
 * Listen on "ip:port" ("0.0.0.0:7400", "[::]:7400", "127.0.0.1:0").  One
 * listener per transport.  0, or WM_EINVAL (bad address) / WM_EIO (bind or
 * listen failed), why filled.
 */
int transport_listen(struct transport *t, const char *addr, char why[WM_WHY_LEN]);
/* The port actually bound (useful after port 0), or a negative code. */
int transport_listen_port(const struct transport *t);

/*
 * Keep a connection to "host:port" up ("10.0.0.7:7400", "[fe80::1]:7400",
 * "village-b.lan:7400").  expected_pub (copied) is the peer's node key, or
 * NULL to accept any member of the network.  The first attempt starts at
 * once.  *out (optional) identifies the dialer for transport_dialer_remove;
 * it stays valid until then or until transport_free.  WM_EINVAL on a bad
 * address (why filled), WM_ENOMEM.
 */
int transport_connect(struct transport *t, const char *addr, const uint8_t *expected_pub,
                      struct transport_dialer **out, char why[WM_WHY_LEN]);
/* Stop dialing (a peer removed from the config on SIGHUP): its connection,
 * if any, is closed ("peer removed from the configuration").  NULL ok. */
void transport_dialer_remove(struct transport_dialer *d);
/* The dialer's peer is configured by the operator (not found by a beacon):
 * inbound connections from the address it dials keep their handshake slots
 * when strangers fill them (see "Handshake slots" above).  NULL ok. */
void transport_dialer_prefer(struct transport_dialer *d);
/* The address the dialer was given. */
const char *transport_dialer_addr(const struct transport_dialer *d);

/*
 * Queue a frame (1..TRANSPORT_FRAME_MAX bytes, copied) for an up
 * connection.  Frames go out in order within a priority; high ones overtake
 * normal ones not yet started.  0, or:
 *   WM_ETOOBIG  len is 0 or above TRANSPORT_FRAME_MAX
 *   WM_ERATE    the queue is full: the peer is not keeping up; drop or retry later
 *   WM_EIO      the connection is not up (closing, or not yet up)
 */
int transport_send(struct transport_conn *c, const uint8_t *bytes, size_t len, int priority);

/*
 * Close a connection; `why` goes to the log and, as its closing frame, to the
 * peer.  backoff_ms > 0 refuses this peer's key (inbound and by our dialers)
 * for that long.  on_down follows at once (from inside this call) if the
 * connection was up.  NULL or an already closing connection: no-op.
 */
void transport_close(struct transport_conn *c, const char *why, uint64_t backoff_ms);

/*
 * This node's rotation statements (n records of crypto/rotate.h, copied;
 * n = 0 clears them): a dialer's message 1 made for a key they hand on from
 * is answered, and they are sent to it as the first frame, so that a
 * neighbour that pinned that key can follow (on_rotated).  0, or WM_EFORMAT
 * with why (not statements, or more than ROT_MAX).
 */
int transport_set_rotation(struct transport *t, const uint8_t *recs, size_t n, char why[WM_WHY_LEN]);

/* About a connection.  The key is valid once on_up has run. */
const uint8_t *transport_conn_pub(const struct transport_conn *c);
const char *transport_conn_addr(const struct transport_conn *c);   /* "ip:port" of the peer */
int transport_conn_outbound(const struct transport_conn *c);
/* The dialer that made an outbound connection; NULL for an inbound one. */
struct transport_dialer *transport_conn_dialer(const struct transport_conn *c);
/* Connections admitted (allow_peer said yes) whose on_up has not run yet:
 * an admission policy counts them with the ones up. */
unsigned transport_admitting(const struct transport *t);
size_t transport_conn_queued(const struct transport_conn *c);      /* bytes waiting to be sent */
/* One pointer for the glue (e.g. its peer handle); NULL until set. */
void transport_conn_set_data(struct transport_conn *c, void *data);
void *transport_conn_data(const struct transport_conn *c);

#endif
