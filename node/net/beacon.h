/*
 * node/net/beacon: LAN discovery.  A node that has beacons on broadcasts a small
 * UDP datagram every beacon_interval (with jitter) and listens for others';
 * a beacon from another member of the same network makes the daemon dial
 * it.  Only members can read or make one:
 *
 *   plain  = "WMB" 0x02 | name_len (1) | network name | node pub (32)
 *            | listen port (2, big-endian) | timestamp ms (8, big-endian)
 *            | naddr (1, 1..BEACON_ADDRS_MAX) | naddr IPv4 addresses (4 each)
 *            | sig (64)
 *   sig    = Ed25519 by the node key over SHA-256("watchmesh beacon v1" 0x00
 *            || plain without sig)
 *   packet = wmc_box_seal(network secret, "watchmesh beacon v1", plain)
 *
 * The addresses are the sender's own (every IPv4 address of the host).  The
 * address dialed is the packet's source IP with the port from inside the
 * beacon, and only if that source is one of the addresses the beacon names:
 * a recorded beacon sent again from another address makes nobody dial that
 * address.  A receiver drops, before opening it, a packet whose source is
 * outside the subnet of every local interface, or beyond the receive rate
 * limits (a token bucket per source address, then one for all); these
 * without a log line, as they cost nothing.  It then drops (a debug line)
 * packets that do not open, name another network, are more than
 * BEACON_SKEW_MS off its clock, come from an address they do not name, are
 * not newer than the last one from that key (replays), are from a key it does
 * not remember and dated before it started listening (replays after a
 * restart), or come from itself.
 *
 * beacon_encode/beacon_decode/beacon_on_link are pure (unit-tested);
 * beacon_new runs them on a libuv UDP handle.  Of the network they need only
 * its name and its secret (the network file's, node/netfile.h).
 */
#ifndef WM_BEACON_H
#define WM_BEACON_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "wmcrypto.h"

struct uv_loop_s;

#define BEACON_MAX      512          /* bytes of a packet, at most */
#define BEACON_SKEW_MS  (5 * 60 * 1000)
#define BEACON_CONTEXT  "watchmesh beacon v1"
#define BEACON_NAME_MAX 255          /* the name's length is one byte */
#define BEACON_ADDRS_MAX 16          /* addresses a beacon names, at most */

struct beacon_info {
	uint8_t pub[WM_PUB_LEN];         /* the sender's node key (signature checked) */
	uint16_t port;                   /* its mesh listen port */
	uint64_t ts;                     /* its clock when sent, ms */
	uint32_t addrs[BEACON_ADDRS_MAX]; /* its IPv4 addresses, host byte order */
	size_t naddrs;                   /* 1..BEACON_ADDRS_MAX */
};

/* A local IPv4 subnet: addr and mask in host byte order. */
struct beacon_net {
	uint32_t addr, mask;
};

/* One packet for the network named `netname` with `secret`, from `self`
 * (secret half needed) listening on port at the naddrs (1..BEACON_ADDRS_MAX)
 * IPv4 addresses addrs (host byte order).  out must hold BEACON_MAX bytes.
 * 0, or WM_EINVAL. */
int beacon_encode(const struct key *self, const char *netname, const uint8_t secret[WM_SECRET_LEN],
                  uint16_t port, const uint32_t *addrs, size_t naddrs, uint64_t now,
                  uint8_t out[BEACON_MAX], size_t *outlen);
/* Judge a received packet at `now`: 0 and *out, or WM_ECRYPTO (not of this
 * network, or tampered), WM_EMALFORMED, WM_EINVAL (another network's name),
 * WM_EEXPIRED (clock skew), WM_ESIG; why filled. */
int beacon_decode(const char *netname, const uint8_t secret[WM_SECRET_LEN], const uint8_t *buf,
                  size_t len, uint64_t now, struct beacon_info *out, char why[WM_WHY_LEN]);
/* 1 if the IPv4 address ip (host byte order) is in one of the n subnets. */
int beacon_on_link(uint32_t ip, const struct beacon_net *nets, size_t n);

struct beacon;
struct beacon_callbacks {
	void *ctx;
	/* A member at "ip:port" (port from the beacon) with key pub. */
	void (*on_member)(void *ctx, const uint8_t pub[WM_PUB_LEN], const char *addr);
	/* One log line (debug=1 for the chatty ones). */
	void (*on_log)(void *ctx, int debug, const char *line);
};

/*
 * Start beaconing on `loop`: bind UDP udp_port on all interfaces (shared
 * with other nodes on the same host), broadcast to 255.255.255.255:udp_port
 * every interval_ms +-20%, the first time at once (listen_port 0: never;
 * only hear the others, for a node no other machine can reach).  self, netname and
 * secret are copied.  0 and *out, or WM_EINVAL / WM_EIO (why filled) /
 * WM_ENOMEM.
 */
int beacon_new(struct uv_loop_s *loop, const struct key *self, const char *netname,
               const uint8_t secret[WM_SECRET_LEN], uint16_t udp_port, uint16_t listen_port,
               uint64_t interval_ms,
               const struct beacon_callbacks *cb, struct beacon **out, char why[WM_WHY_LEN]);
/* Stop: no callback runs after it returns; memory is released from the close
 * callbacks (keep running the loop).  NULL ok. */
void beacon_free(struct beacon *b);

#endif
