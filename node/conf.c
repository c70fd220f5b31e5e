/*
 * node/conf: watchmesh.conf (keys and defaults in conf.h; the defaults of
 * the settings the mesh shares come from defaults.h).  The file is outside
 * input: a line that is not "key = value", an unknown key or a value out of
 * range is an error naming the line, never a guess.
 */
#include "conf.h"
#include "defaults.h"
#include "frame.h"
#include "files.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONF_FILE_MAX (1u << 20)
/* A default from defaults.h as text, for the comments conf_encode writes. */
#define STR_(x) #x
#define STR(x) STR_(x)

void conf_defaults(struct node_conf *c)
{
	memset(c, 0, sizeof *c);
	strcpy(c->groups, "*");
	strcpy(c->listen, "0.0.0.0:7700");
	c->repair_interval = WM_DEFAULT_REPAIR_INTERVAL_S;
	c->eager_peers = WM_DEFAULT_EAGER_PEERS;
	c->peer_rate = WM_DEFAULT_PEER_RATE;
	c->peer_burst = WM_DEFAULT_PEER_BURST;
	c->author_rate = WM_DEFAULT_AUTHOR_RATE_PER_MIN;
	c->author_burst = WM_DEFAULT_AUTHOR_BURST;
	c->max_peers = 32;
	c->beacons = 1;
	c->beacon_port = 7701;
	c->beacon_interval = 30;
	c->keepalive = 15;
	c->backoff_max = 300;
	c->expire_interval = 300;
	strcpy(c->log_level, "info");
	c->disk_reserve = 64;
	strcpy(c->http, "127.0.0.1:8080");
	strcpy(c->https, "0.0.0.0:8443");
	strcpy(c->tls_cert, "tls/node.crt");
	strcpy(c->tls_key, "tls/node.key");
	c->http_clients = 1024;
	c->http_per_ip = 64;
	c->http_rate = 50;
	snprintf(c->web_dir, sizeof c->web_dir, "%s", WM_WEB_DIR);
}

int conf_encode(const struct node_conf *c, char **out)
{
	size_t cap = 8192 + 10 * CONF_VAL_MAX;
	char *t = malloc(cap);
	int w;

	if (!t)
		return WM_ENOMEM;
	w = snprintf(t, cap,
		"# watchmesh node configuration: one \"key = value\" per line; '#' starts a comment.\n"
		"# An unknown key is an error.  `watchmesh run` reads this file at start; SIGHUP\n"
		"# applies peers, log_level and disk_reserve and names any other change as\n"
		"# waiting for a restart.\n"
		"\n"
		"# This node's name, shown to peers and in status output.  Default: the\n"
		"# --name given to `watchmesh init`, else the directory's name.\n"
		"name = %s\n"
		"\n"
		"# Groups this node carries, comma-separated (e.g. gaobu.xinhua-village,gaobu.police).\n"
		"# \"*\" carries every group.  The group \"network\" (certificates) is always carried.\n"
		"# Default: *\n"
		"groups = %s\n"
		"\n"
		"# Address and TCP port the mesh listens on for neighbouring nodes.\n"
		"# Default: 0.0.0.0:7700\n"
		"listen = %s\n"
		"\n"
		"# Neighbouring nodes to connect to, comma-separated host:port, each optionally\n"
		"# followed by @ and the node's public key to accept only that node there: 64\n"
		"# hex digits, the name of its certificate, or 6+ digits of a certified key.\n"
		"# SIGHUP re-reads this list.  Default: none\n"
		"peers = %s\n"
		"\n"
		"# Seconds between set reconciliations (repair) with each peer; repair also\n"
		"# runs whenever a peer connects.  Default: " STR(WM_DEFAULT_REPAIR_INTERVAL_S) "\n"
		"repair_interval = %" PRIu64 "\n"
		"\n"
		"# Peers that receive each new event whole at once; the others get its id\n"
		"# and ask if they miss it.  Default: " STR(WM_DEFAULT_EAGER_PEERS) "\n"
		"eager_peers = %u\n"
		"\n"
		"# Events not asked for (live pushes) accepted from one peer per second,\n"
		"# and the burst above it.\n"
		"# Default: " STR(WM_DEFAULT_PEER_RATE) " and " STR(WM_DEFAULT_PEER_BURST) "\n"
		"peer_rate = %u\n"
		"peer_burst = %u\n"
		"\n"
		"# Events not asked for accepted per author per minute, and the burst above it.\n"
		"# Default: " STR(WM_DEFAULT_AUTHOR_RATE_PER_MIN) " and " STR(WM_DEFAULT_AUTHOR_BURST) "\n"
		"author_rate = %u\n"
		"author_burst = %u\n"
		"\n"
		"# Connected peers at most.  Those in peers always get theirs; other nodes\n"
		"# share the rest, at most 4 from one IP address.  Default: 32\n"
		"max_peers = %u\n"
		"\n"
		"# Signed, encrypted UDP beacons that let nodes of the same network on the\n"
		"# local network find each other: on or off, the UDP port, seconds between\n"
		"# beacons.  Default: on, 7701, 30\n"
		"beacons = %s\n"
		"beacon_port = %u\n"
		"beacon_interval = %" PRIu64 "\n"
		"\n"
		"# Seconds a link may stay idle before a keepalive; silent for three times\n"
		"# this, it is closed.  Default: 15\n"
		"keepalive = %" PRIu64 "\n"
		"\n"
		"# Longest delay, in seconds, between attempts to reconnect to a peer (the\n"
		"# delay starts at 1 s and doubles, with jitter).  Default: 300\n"
		"backoff_max = %" PRIu64 "\n"
		"\n"
		"# Seconds between collections of expired events.  Default: 300\n"
		"expire_interval = %" PRIu64 "\n"
		"\n"
		"# What the daemon logs on stderr: debug, info or warn.  Default: info\n"
		"log_level = %s\n"
		"\n"
		"# Megabytes kept free on the data directory's disk: below this the node\n"
		"# stops storing events (it says \"disk full\") and starts again by itself at\n"
		"# twice this.  Default: 64\n"
		"disk_reserve = %u\n"
		"\n"
		"# The HTTP API and web app (README, \"HTTP API\"), plain HTTP for scripts on\n"
		"# this machine: address:port, or off.  Default: 127.0.0.1:8080\n"
		"http = %s\n"
		"\n"
		"# HTTPS for phones on the local network, served once the certificate and key\n"
		"# below exist (`watchmesh tls issue` makes them): address:port, or off.\n"
		"# Default: 0.0.0.0:8443\n"
		"https = %s\n"
		"\n"
		"# The HTTPS certificate chain and key (PEM), relative to this directory or\n"
		"# absolute; a certificate for a real domain may be given instead.\n"
		"# Default: tls/node.crt and tls/node.key\n"
		"tls_cert = %s\n"
		"tls_key = %s\n"
		"\n"
		"# HTTP(S) connections at most (live streams included), at most per IP\n"
		"# address, and requests per second from one IP address (bursts of ten\n"
		"# times that pass).  Default: 1024, 64, 50\n"
		"http_clients = %u\n"
		"http_per_ip = %u\n"
		"http_rate = %u\n"
		"\n"
		"# The web app's built files, an absolute path; where they are missing the\n"
		"# node serves a page saying the app was not built.  Default: where\n"
		"# `meson install` puts them; run from the build tree: build/node/web\n"
		"web_dir = %s\n",
		c->name, c->groups, c->listen, c->peers, c->repair_interval,
		c->eager_peers, c->peer_rate, c->peer_burst, c->author_rate, c->author_burst,
		c->max_peers, c->beacons ? "on" : "off", c->beacon_port, c->beacon_interval,
		c->keepalive, c->backoff_max, c->expire_interval, c->log_level, c->disk_reserve,
		c->http, c->https, c->tls_cert, c->tls_key, c->http_clients, c->http_per_ip,
		c->http_rate, c->web_dir);
	if (w < 0 || (size_t)w >= cap) {
		free(t);
		return WM_EINVAL;
	}
	*out = t;
	return 0;
}

static void trim(const char **s, size_t *l)
{
	while (*l > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
		(*s)++;
		(*l)--;
	}
	while (*l > 0 && ((*s)[*l - 1] == ' ' || (*s)[*l - 1] == '\t' || (*s)[*l - 1] == '\r'))
		(*l)--;
}

/* A decimal in [lo, hi] from v[0..vl). */
static int conf_uint(const char *v, size_t vl, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (vl == 0 || vl > 12)
		return -1;
	for (i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

/* "host:port" with a port of 0-65535 (or "off" where off_ok): the shape
 * only; whether the host is an address this machine has shows at listen. */
static int addr_port_ok(const char *v, int off_ok)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;

	if (off_ok && strcmp(v, "off") == 0)
		return 1;
	return colon && colon > v && conf_uint(colon + 1, strlen(colon + 1), 0, 65535, &port) == 0;
}

/* The numeric keys: name, where, bounds. */
struct conf_num {
	const char *key;
	size_t off;
	int is64;
	uint64_t lo, hi;
};
static const struct conf_num conf_nums[] = {
	{ "repair_interval", offsetof(struct node_conf, repair_interval), 1, 1, 86400 },
	{ "eager_peers", offsetof(struct node_conf, eager_peers), 0, 0, 64 },
	{ "peer_rate", offsetof(struct node_conf, peer_rate), 0, 1, 1000000 },
	{ "peer_burst", offsetof(struct node_conf, peer_burst), 0, 1, 10000000 },
	{ "author_rate", offsetof(struct node_conf, author_rate), 0, 1, 1000000 },
	{ "author_burst", offsetof(struct node_conf, author_burst), 0, 1, 10000000 },
	{ "max_peers", offsetof(struct node_conf, max_peers), 0, 1, 4096 },
	{ "beacon_port", offsetof(struct node_conf, beacon_port), 0, 1, 65535 },
	{ "beacon_interval", offsetof(struct node_conf, beacon_interval), 1, 1, 86400 },
	{ "keepalive", offsetof(struct node_conf, keepalive), 1, 1, 3600 },
	{ "backoff_max", offsetof(struct node_conf, backoff_max), 1, 1, 86400 },
	{ "expire_interval", offsetof(struct node_conf, expire_interval), 1, 1, 86400 },
	{ "disk_reserve", offsetof(struct node_conf, disk_reserve), 0, 1, 1000000 },
	{ "http_clients", offsetof(struct node_conf, http_clients), 0, 1, 100000 },
	{ "http_per_ip", offsetof(struct node_conf, http_per_ip), 0, 1, 100000 },
	{ "http_rate", offsetof(struct node_conf, http_rate), 0, 1, 100000 },
};

static int conf_is(const char *k, size_t kl, const char *name)
{
	return strlen(name) == kl && memcmp(k, name, kl) == 0;
}

int conf_parse(const char *text, size_t len, struct node_conf *out, char why[WM_WHY_LEN])
{
	struct node_conf c;
	size_t i = 0, lineno = 0, j;
	char ln[16];

	conf_defaults(&c);
	while (i < len) {
		size_t e = i, l, kl, vl;
		const char *s = text + i, *eq, *k, *v;
		char *dst = NULL;
		size_t dstcap = CONF_VAL_MAX;
		int done = 0;
		while (e < len && text[e] != '\n')
			e++;
		l = e - i;
		i = e + 1;
		lineno++;
		snprintf(ln, sizeof ln, "%zu", lineno);
		trim(&s, &l);
		if (l == 0 || s[0] == '#')
			continue;
		eq = memchr(s, '=', l);
		if (!eq) {
			wm_why(why, "line %s: expected \"key = value\"", ln);
			return WM_EFORMAT;
		}
		k = s;
		kl = (size_t)(eq - s);
		v = eq + 1;
		vl = l - kl - 1;
		trim(&k, &kl);
		trim(&v, &vl);
		if (memchr(v, 0, vl)) {
			wm_why(why, "line %s: NUL byte in value", ln);
			return WM_EFORMAT;
		}
		if (conf_is(k, kl, "name"))
			dst = c.name;
		else if (conf_is(k, kl, "groups"))
			dst = c.groups;
		else if (conf_is(k, kl, "listen"))
			dst = c.listen;
		else if (conf_is(k, kl, "peers"))
			dst = c.peers;
		else if (conf_is(k, kl, "http"))
			dst = c.http;
		else if (conf_is(k, kl, "https"))
			dst = c.https;
		else if (conf_is(k, kl, "tls_cert"))
			dst = c.tls_cert;
		else if (conf_is(k, kl, "tls_key"))
			dst = c.tls_key;
		else if (conf_is(k, kl, "web_dir")) {
			/* the daemon's working directory is no place to look for it */
			if (vl == 0 || v[0] != '/') {
				wm_why(why, "line %s: web_dir must be an absolute path", ln);
				return WM_EFORMAT;
			}
			dst = c.web_dir;
		}
		else if (conf_is(k, kl, "log_level")) {
			if (!conf_is(v, vl, "debug") && !conf_is(v, vl, "info") && !conf_is(v, vl, "warn")) {
				wm_why(why, "line %s: log_level must be debug, info or warn", ln);
				return WM_EFORMAT;
			}
			dst = c.log_level;
			dstcap = sizeof c.log_level;
		} else if (conf_is(k, kl, "beacons")) {
			if (conf_is(v, vl, "on") || conf_is(v, vl, "yes") || conf_is(v, vl, "1"))
				c.beacons = 1;
			else if (conf_is(v, vl, "off") || conf_is(v, vl, "no") || conf_is(v, vl, "0"))
				c.beacons = 0;
			else {
				wm_why(why, "line %s: beacons must be on or off", ln);
				return WM_EFORMAT;
			}
			done = 1;
		} else {
			for (j = 0; j < sizeof conf_nums / sizeof conf_nums[0]; j++) {
				const struct conf_num *cn = &conf_nums[j];
				uint64_t x;
				if (!conf_is(k, kl, cn->key))
					continue;
				if (conf_uint(v, vl, cn->lo, cn->hi, &x) != 0) {
					wm_why(why, "line %s: %s must be a whole number from %" PRIu64
					          " to %" PRIu64, ln, cn->key, cn->lo, cn->hi);
					return WM_EFORMAT;
				}
				if (cn->is64)
					*(uint64_t *)(void *)((char *)&c + cn->off) = x;
				else
					*(unsigned *)(void *)((char *)&c + cn->off) = (unsigned)x;
				done = 1;
				break;
			}
		}
		if (done)
			continue;
		if (!dst) {
			wm_why(why, "line %s: unknown key '%.*s'", ln, (int)(kl > 64 ? 64 : kl), k);
			return WM_EFORMAT;
		}
		if (vl >= dstcap) {
			wm_why(why, "line %s: value too long", ln);
			return WM_EFORMAT;
		}
		memset(dst, 0, dstcap);         /* a key given twice: the last wins, whole */
		memcpy(dst, v, vl);
		if (dst == c.name && vl > 0 && !frame_name_ok(dst, vl)) {
			if (vl > FRAME_NAME_MAX)
				wm_why(why, "line %s: name is at most %d bytes (it is %zu)", ln, FRAME_NAME_MAX, vl);
			else
				wm_why(why, "line %s: name must be text (UTF-8) without control characters", ln);
			return WM_EFORMAT;
		}
		if ((dst == c.listen || dst == c.http || dst == c.https) && !addr_port_ok(dst, dst != c.listen)) {
			wm_why(why, "line %s: %.*s must be an address and a port, such as %s%s", ln,
			       (int)kl, k, dst == c.listen ? "0.0.0.0:7700" : dst == c.http ? "127.0.0.1:8080"
			       : "0.0.0.0:8443", dst == c.listen ? "" : ", or off");
			return WM_EFORMAT;
		}
		if (dst == c.peers) {
			/* judged here so that a bad entry names its line */
			struct conf_peer *ps = malloc(CONF_PEERS_MAX * sizeof *ps);
			char inner[WM_WHY_LEN] = "";
			size_t np = 0;
			int prc = ps ? conf_peers_parse(c.peers, ps, CONF_PEERS_MAX, &np, inner) : WM_ENOMEM;
			free(ps);
			/* ... and the daemon's (a name it cannot resolve) too */
			c.peers_line = vl ? (unsigned)lineno : 0;
			if (prc) {
				wm_why(why, "line %s: %s", ln, inner[0] ? inner : wm_strerror(prc));
				return prc == WM_ENOMEM ? prc : WM_EFORMAT;
			}
		}
	}
	if (!c.groups[0])
		strcpy(c.groups, "*");
	*out = c;
	return 0;
}

int conf_peers_parse(const char *list, struct conf_peer *out, size_t max, size_t *n,
                     char why[WM_WHY_LEN])
{
	size_t cnt = 0;
	const char *p = list ? list : "";

	while (*p) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		const char *s = p, *at, *colon;
		struct conf_peer cp;
		size_t al;

		p = e ? e + 1 : p + l;
		trim(&s, &l);
		if (l == 0)
			continue;
		memset(&cp, 0, sizeof cp);
		at = memchr(s, '@', l);
		al = at ? (size_t)(at - s) : l;
		if (at) {
			const char *h = at + 1;
			size_t hl = l - al - 1;
			if (hl == 2 * WM_PUB_LEN && hex_decode(cp.pub, WM_PUB_LEN, h, hl) == 0) {
				cp.has_pub = 1;
			} else if (hl == 0 || hl >= sizeof cp.ref || memchr(h, 0, hl)) {
				wm_why(why, "peer '%.*s': after '@' expected the node's public key (64 hex "
				          "digits, the name of its certificate or 6+ digits of it)",
				          (int)(l > 100 ? 100 : l), s);
				return WM_EFORMAT;
			} else {
				memcpy(cp.ref, h, hl);   /* resolved by the daemon, which has the store */
			}
		}
		colon = NULL;
		for (size_t k = al; k > 0; k--)
			if (s[k - 1] == ':') {
				colon = s + k - 1;
				break;
			}
		if (!colon || colon == s || al >= sizeof cp.addr) {
			wm_why(why, "peer '%.*s': expected host:port", (int)(al > 100 ? 100 : al), s);
			return WM_EFORMAT;
		}
		{
			uint64_t port;
			size_t pl = al - (size_t)(colon - s) - 1;
			if (conf_uint(colon + 1, pl, 1, 65535, &port) != 0) {
				wm_why(why, "peer '%.*s': the port must be 1 to 65535",
				          (int)(al > 100 ? 100 : al), s);
				return WM_EFORMAT;
			}
		}
		for (size_t k = 0; k < al; k++)
			if ((unsigned char)s[k] <= ' ') {
				wm_why(why, "peer '%.*s': space or control character in the address",
				          (int)(al > 100 ? 100 : al), s);
				return WM_EFORMAT;
			}
		memcpy(cp.addr, s, al);
		cp.addr[al] = 0;
		if (cnt >= max) {
			wm_why(why, "more than %zu peers", max);
			return WM_ETOOBIG;
		}
		out[cnt++] = cp;
	}
	*n = cnt;
	return 0;
}

int conf_load(const char *path, struct node_conf *c, char why[WM_WHY_LEN])
{
	uint8_t *text = NULL;
	size_t len = 0;
	char inner[WM_WHY_LEN];
	int rc = files_read(path, CONF_FILE_MAX, &text, &len, why);
	if (rc)
		return rc;
	rc = conf_parse((const char *)text, len, c, inner);
	if (rc)
		wm_why(why, "%s: %s", path, inner);
	free(text);
	return rc;
}

