/*
 * node/conf: watchmesh.conf, a node's settings: "key = value" lines, '#'
 * comments.  `watchmesh init` writes every key with a comment above it
 * (conf_encode); the same keys are listed in the README.
 */
#ifndef WM_CONF_H
#define WM_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "wmcrypto.h"

#define CONF_VAL_MAX 1024
/*
 * Every key, its unit and default; the same text is written as comments into
 * a new DIR/watchmesh.conf (conf_encode) and listed in the README.  An
 * unknown key, a value out of range or a line that is not "key = value" is
 * an error naming the line.
 */
struct node_conf {
	char name[CONF_VAL_MAX];
	char groups[CONF_VAL_MAX];   /* comma-separated; "*" = all */
	char listen[CONF_VAL_MAX];   /* mesh TCP address (0.0.0.0:7700) */
	char peers[CONF_VAL_MAX];    /* comma-separated host:port[@pubhex] */
	uint64_t repair_interval;    /* s between repairs with each peer (defaults.h) */
	unsigned eager_peers;        /* peers that get whole events at once (defaults.h) */
	unsigned peer_rate;          /* live events/s accepted from one peer (defaults.h) */
	unsigned peer_burst;         /* ... and its burst (defaults.h) */
	unsigned author_rate;        /* live events/min accepted per author (defaults.h) */
	unsigned author_burst;       /* ... and its burst (defaults.h) */
	unsigned max_peers;          /* connected peers at most (32) */
	int beacons;                 /* 1: LAN beacons on (default), 0: off */
	unsigned beacon_port;        /* UDP port of LAN beacons (7701) */
	uint64_t beacon_interval;    /* s between beacons (30) */
	uint64_t keepalive;          /* s idle before a ping; dead after 3x (15) */
	uint64_t backoff_max;        /* s, longest reconnect delay (300) */
	uint64_t expire_interval;    /* s between collections of expired events (300) */
	char log_level[16];          /* debug, info (default) or warn */
	unsigned disk_reserve;       /* MB kept free: below it the node stops storing (64) */
	char http[CONF_VAL_MAX];     /* plain HTTP API address (127.0.0.1:8080), or "off" */
	char https[CONF_VAL_MAX];    /* HTTPS address (0.0.0.0:8443) when a certificate exists, or "off" */
	char tls_cert[CONF_VAL_MAX]; /* PEM chain, relative to DIR (tls/node.crt) */
	char tls_key[CONF_VAL_MAX];  /* PEM key, relative to DIR (tls/node.key) */
	unsigned http_clients;       /* HTTP connections at most, streams included (1024) */
	unsigned http_per_ip;        /* ... from one IP address (64) */
	unsigned http_rate;          /* requests/s from one IP address; burst 10x (50) */
	char web_dir[CONF_VAL_MAX];  /* the web app's built assets, absolute (WM_WEB_DIR, set by meson) */
	unsigned peers_line;         /* the line that set a list of peers (0: none), for messages */
};
/* The defaults (see above). */
void conf_defaults(struct node_conf *c);
/* The default file text, with a comment above each key; *out malloc'd. */
int conf_encode(const struct node_conf *c, char **out);
/* Parse: unknown keys, bad values and lines that are not "key = value" are
 * errors (WM_EFORMAT) naming the line. */
int conf_parse(const char *text, size_t len, struct node_conf *c, char why[WM_WHY_LEN]);
int conf_load(const char *path, struct node_conf *c, char why[WM_WHY_LEN]);

/* One entry of the peers list: "host:port" or "host:port@KEY", KEY the
 * node's public key as 64 hex digits, or as the name of its certificate or
 * a prefix of 6+ hex digits of it (left in ref, for the daemon to resolve
 * against the store: node/keyname.h).  conf_parse refuses a list longer
 * than CONF_PEERS_MAX. */
#define CONF_PEERS_MAX 256
#define CONF_PEER_REF_MAX 128        /* a certificate's name at most, with its NUL */
struct conf_peer {
	char addr[256];              /* host:port, as written */
	int has_pub;                 /* pub is the key (given in hex, or ref resolved) */
	uint8_t pub[WM_PUB_LEN];
	char ref[CONF_PEER_REF_MAX]; /* KEY when not 64 hex digits, else "" */
};
/* Split a peers value into at most max entries (*n of them).  Spaces around
 * entries are ignored; an empty list is fine.  WM_EFORMAT with why naming
 * the entry when one is malformed; WM_ETOOBIG when there are more than max. */
int conf_peers_parse(const char *list, struct conf_peer *out, size_t max, size_t *n,
                     char why[WM_WHY_LEN]);

#endif
