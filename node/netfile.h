/*
 * node/netfile: the network file every node of a network holds, mode 0600
 * (it holds the network secret):
 *
 *   watchmesh-network 1
 *   name N
 *   id <32 hex: the network's id, which every event carries>
 *   root <64 hex: the root public key>
 *   secret <64 hex: the network secret>
 *   vouched G1,G2        (optional; or "vouched *")
 *
 * '#' lines and blank lines are skipped; each keyword at most once.  A
 * file without an id line was made before event format 2 and is refused:
 * nothing made then can join a network now.
 */
#ifndef WM_NETFILE_H
#define WM_NETFILE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event.h"
#include "wmcrypto.h"

#define NETWORK_NAME_MAX 64
#define NETWORK_VOUCHED_MAX 1024
struct network {
	char name[NETWORK_NAME_MAX + 1];
	uint8_t id[WM_NETWORK_LEN];     /* 16 random bytes from `network create` */
	uint8_t root[WM_PUB_LEN];
	uint8_t secret[WM_SECRET_LEN];
	/* groups where only keys with a resident (or officer, or station)
	 * certificate for the group may post: "g1,g2", "*" for all, "" none */
	char vouched[NETWORK_VOUCHED_MAX + 1];
};
/* Text <-> struct.  network_encode: *out malloc'd (holds the secret: the
 * caller wipes and frees it). */
int network_parse(const char *text, size_t len, struct network *out, char why[WM_WHY_LEN]);
int network_encode(const struct network *n, char **out, size_t *len);
int network_load(const char *path, struct network *out, char why[WM_WHY_LEN]);
/* 1 if list is "*" or group names separated by commas, "network" not among
 * them (the vouched line of a network file). */
int network_vouched_ok(const char *list);
/* 1 if the name is acceptable for a network or a node: 1-64 bytes, no
 * control characters. */
int network_name_ok(const char *name);

#endif
