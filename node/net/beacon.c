/*
 * node/net/beacon: signed, encrypted UDP beacons for finding members of the
 * network on the local network (format in beacon.h).  Two things to know:
 * everything that arrives is outside input and is judged by beacon_decode
 * before anything else happens, and the receive side is rate-limited (a
 * token bucket per source address, then one for all, plus one accepted
 * beacon per key per half interval) so a flood of packets from one address
 * costs little more than a table lookup each and does not crowd out the
 * beacons of another.
 */
#include "beacon.h"
#include "clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <uv.h>

#define BEACON_MAGIC      "WMB\x02"
#define BEACON_SIG_PREFIX "watchmesh beacon v1"
#define BEACON_RX_RATE    20.0     /* packets judged per second, all sources */
#define BEACON_RX_BURST   40.0
/* per source address: a host may run a few nodes behind one address */
#define BEACON_SRC_RATE   5.0
#define BEACON_SRC_BURST  10.0
#define BEACON_SRC_MAX    64       /* source addresses remembered */
#define BEACON_SEEN_MAX   256      /* keys remembered for replay checks */
#define BEACON_NETS_MAX   32       /* local subnets, and so addresses sent */
#define BEACON_NETS_AGE   10000    /* ms before the local subnets are read again */

/* --- the codec ---------------------------------------------------------------- */

static void beacon_sig_id(const uint8_t *body, size_t len, uint8_t id[WM_ID_LEN])
{
	uint8_t buf[BEACON_MAX + sizeof BEACON_SIG_PREFIX];
	memcpy(buf, BEACON_SIG_PREFIX, sizeof BEACON_SIG_PREFIX);   /* with its NUL */
	memcpy(buf + sizeof BEACON_SIG_PREFIX, body, len);
	id_compute(id, buf, sizeof BEACON_SIG_PREFIX + len);
}

int beacon_encode(const struct key *self, const char *netname, const uint8_t secret[WM_SECRET_LEN],
                  uint16_t port, const uint32_t *addrs, size_t naddrs, uint64_t now,
                  uint8_t out[BEACON_MAX], size_t *outlen)
{
	uint8_t plain[BEACON_MAX], id[WM_ID_LEN];
	size_t nl, n = 0, boxlen = 0, a;
	int i, rc;

	if (!self || !self->sec || !netname || !secret || !out || !outlen || !addrs || naddrs == 0 ||
	    naddrs > BEACON_ADDRS_MAX)
		return WM_EINVAL;
	nl = strlen(netname);
	if (nl == 0 || nl > BEACON_NAME_MAX)
		return WM_EINVAL;
	memcpy(plain, BEACON_MAGIC, 4);
	n = 4;
	plain[n++] = (uint8_t)nl;
	memcpy(plain + n, netname, nl);
	n += nl;
	memcpy(plain + n, self->pub, WM_PUB_LEN);
	n += WM_PUB_LEN;
	plain[n++] = (uint8_t)(port >> 8);
	plain[n++] = (uint8_t)port;
	for (i = 7; i >= 0; i--)
		plain[n++] = (uint8_t)(now >> (8 * i));
	plain[n++] = (uint8_t)naddrs;
	for (a = 0; a < naddrs; a++)
		for (i = 3; i >= 0; i--)
			plain[n++] = (uint8_t)(addrs[a] >> (8 * i));
	beacon_sig_id(plain, n, id);
	rc = key_sign_id(self, id, plain + n);
	if (rc)
		return rc;
	n += WM_SIG_LEN;
	rc = wmc_box_seal(secret, BEACON_CONTEXT, plain, n, out, BEACON_MAX, &boxlen);
	if (rc)
		return rc;
	*outlen = boxlen;
	return 0;
}

int beacon_decode(const char *netname, const uint8_t secret[WM_SECRET_LEN], const uint8_t *buf,
                  size_t len, uint64_t now, struct beacon_info *out, char why[WM_WHY_LEN])
{
	uint8_t plain[BEACON_MAX], id[WM_ID_LEN];
	size_t n = 0, pl = 0, nl, a;
	struct beacon_info bi;
	int i;

	if (!netname || !secret || (!buf && len) || !out)
		return WM_EINVAL;
	if (len > BEACON_MAX || wmc_box_open(secret, BEACON_CONTEXT, buf, len, plain,
	                                     sizeof plain, &pl) != 0) {
		wm_why(why, "not a beacon of this network");
		return WM_ECRYPTO;
	}
	if (pl < 5 || memcmp(plain, BEACON_MAGIC, 4) != 0) {
		wm_why(why, "unknown beacon version");
		return WM_EMALFORMED;
	}
	nl = plain[4];
	n = 5;
	if (pl < n + nl + WM_PUB_LEN + 2 + 8 + 1) {
		wm_why(why, "beacon of %zu bytes is too short for its name length %zu", pl, nl);
		return WM_EMALFORMED;
	}
	memset(&bi, 0, sizeof bi);
	bi.naddrs = plain[n + nl + WM_PUB_LEN + 2 + 8];
	if (bi.naddrs == 0 || bi.naddrs > BEACON_ADDRS_MAX ||
	    pl != n + nl + WM_PUB_LEN + 2 + 8 + 1 + 4 * bi.naddrs + WM_SIG_LEN) {
		wm_why(why, "beacon of %zu bytes does not match its name length %zu and %zu addresses",
		       pl, nl, bi.naddrs);
		return WM_EMALFORMED;
	}
	if (nl != strlen(netname) || memcmp(plain + n, netname, nl) != 0) {
		wm_why(why, "beacon names another network");
		return WM_EINVAL;
	}
	n += nl;
	memcpy(bi.pub, plain + n, WM_PUB_LEN);
	n += WM_PUB_LEN;
	bi.port = (uint16_t)((plain[n] << 8) | plain[n + 1]);
	n += 2;
	for (i = 0; i < 8; i++)
		bi.ts = (bi.ts << 8) | plain[n++];
	n++;                                     /* naddrs, read above */
	for (a = 0; a < bi.naddrs; a++)
		for (i = 0; i < 4; i++)
			bi.addrs[a] = (bi.addrs[a] << 8) | plain[n++];
	if (bi.port == 0) {
		wm_why(why, "beacon announces port 0");
		return WM_EMALFORMED;
	}
	if (bi.ts > now + BEACON_SKEW_MS || bi.ts + BEACON_SKEW_MS < now) {
		wm_why(why, "beacon timestamp is more than %d minutes off our clock",
		          BEACON_SKEW_MS / 60000);
		return WM_EEXPIRED;
	}
	beacon_sig_id(plain, n, id);
	if (sig_verify(bi.pub, id, plain + n) != 0) {
		wm_why(why, "beacon signature does not verify");
		return WM_ESIG;
	}
	*out = bi;
	return 0;
}

int beacon_on_link(uint32_t ip, const struct beacon_net *nets, size_t n)
{
	size_t i;

	for (i = 0; nets && i < n; i++)
		if ((ip & nets[i].mask) == (nets[i].addr & nets[i].mask))
			return 1;
	return 0;
}

/* --- on the loop -------------------------------------------------------------- */

struct beacon_seen {
	uint8_t pub[WM_PUB_LEN];
	uint64_t ts;                 /* newest beacon timestamp accepted */
	uint64_t at;                 /* our clock when accepted */
};

/* The receive rate limit of one source address. */
struct beacon_src {
	uint32_t ip;                 /* host byte order */
	double tokens;
	uint64_t at;                 /* our clock when last refilled */
};

struct beacon {
	uv_udp_t udp;
	uv_timer_t timer;
	int closing, open_handles;
	struct key *self;
	char netname[BEACON_NAME_MAX + 1];
	uint8_t secret[WM_SECRET_LEN];
	uint16_t udp_port, listen_port;
	uint64_t interval_ms;
	struct beacon_callbacks cb;
	double tokens;               /* receive rate limit, all sources */
	uint64_t tokens_at;
	struct beacon_src srcs[BEACON_SRC_MAX];
	size_t nsrcs;
	struct beacon_net nets[BEACON_NETS_MAX];   /* this host's IPv4 subnets */
	size_t nnets;
	uint64_t nets_at;            /* when read (interfaces come and go) */
	/* A key not in seen acts only with a beacon dated after this: when we
	 * started listening, or the newest beacon of a key we forgot.  What
	 * came before it may have been sent before and be a recording. */
	uint64_t floor;
	struct beacon_seen seen[BEACON_SEEN_MAX];
	size_t nseen;
	uint8_t rxbuf[BEACON_MAX + 1];
};

static void beacon_log(struct beacon *b, int debug, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void beacon_log(struct beacon *b, int debug, const char *fmt, ...)
{
	char line[400];
	va_list ap;

	if (!b->cb.on_log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	b->cb.on_log(b->cb.ctx, debug, line);
}

/* This host's IPv4 subnets, read again once they are BEACON_NETS_AGE old. */
static void beacon_read_nets(struct beacon *b, uint64_t now)
{
	uv_interface_address_t *ifs = NULL;
	int n = 0, i, rc;

	if (b->nets_at && now - b->nets_at < BEACON_NETS_AGE)
		return;
	b->nets_at = now;
	rc = uv_interface_addresses(&ifs, &n);
	if (rc) {
		beacon_log(b, 1, "beacons: cannot list interfaces: %s", uv_strerror(rc));
		return;          /* keep the last list */
	}
	b->nnets = 0;
	for (i = 0; i < n && b->nnets < BEACON_NETS_MAX; i++) {
		if (ifs[i].address.address4.sin_family != AF_INET)
			continue;
		b->nets[b->nnets].addr = ntohl(ifs[i].address.address4.sin_addr.s_addr);
		b->nets[b->nnets].mask = ntohl(ifs[i].netmask.netmask4.sin_addr.s_addr);
		b->nnets++;
	}
	uv_free_interface_addresses(ifs, n);
}

struct beacon_send {
	uv_udp_send_t req;
	uint8_t buf[BEACON_MAX];
};

static void beacon_sent(uv_udp_send_t *req, int status)
{
	(void)status;    /* a lost beacon is the next one's job */
	free(req->data);
}

static void beacon_send_now(struct beacon *b)
{
	struct beacon_send *s;
	struct sockaddr_in to;
	uint32_t addrs[BEACON_ADDRS_MAX];
	size_t len = 0, n, i;
	uv_buf_t ub;
	int rc;

	if (b->listen_port == 0)
		return;                  /* listening only: nothing of ours to announce */
	beacon_read_nets(b, wm_now_ms());
	n = b->nnets < BEACON_ADDRS_MAX ? b->nnets : BEACON_ADDRS_MAX;
	for (i = 0; i < n; i++)
		addrs[i] = b->nets[i].addr;
	s = malloc(sizeof *s);
	if (!s)
		return;
	if (beacon_encode(b->self, b->netname, b->secret, b->listen_port, addrs, n, wm_now_ms(),
	                  s->buf, &len) != 0) {
		beacon_log(b, 1, "beacon not sent: no IPv4 address to name in it");
		free(s);
		return;
	}
	s->req.data = s;
	uv_ip4_addr("255.255.255.255", b->udp_port, &to);
	ub = uv_buf_init((char *)s->buf, (unsigned)len);
	rc = uv_udp_send(&s->req, &b->udp, &ub, 1, (const struct sockaddr *)&to, beacon_sent);
	if (rc) {
		beacon_log(b, 1, "beacon not sent: %s", uv_strerror(rc));
		free(s);
		return;
	}
}

static void beacon_timer_cb(uv_timer_t *t)
{
	struct beacon *b = t->data;
	uint64_t j = b->interval_ms / 5, next;

	beacon_send_now(b);
	next = b->interval_ms - j + (j ? wmc_random_uniform((uint32_t)(2 * j > UINT32_MAX ? UINT32_MAX : 2 * j)) : 0);
	uv_timer_start(&b->timer, beacon_timer_cb, next ? next : 1, 0);
}

/* Take one token from a bucket refilled at rate per second up to burst;
 * 0 if it is empty. */
static int beacon_take(double *tokens, uint64_t *at, double rate, double burst, uint64_t now)
{
	*tokens += (double)(now - *at) / 1000.0 * rate;
	*at = now;
	if (*tokens > burst)
		*tokens = burst;
	if (*tokens < 1.0)
		return 0;
	*tokens -= 1.0;
	return 1;
}

/* 1 if a packet from ip may be judged now: its source's bucket, then the
 * one for all.  A source not in the table takes the slot of the one heard
 * from longest ago, with a full bucket. */
static int beacon_rate_ok(struct beacon *b, uint32_t ip, uint64_t now)
{
	struct beacon_src *s = NULL;
	size_t i;

	for (i = 0; i < b->nsrcs; i++)
		if (b->srcs[i].ip == ip) {
			s = &b->srcs[i];
			break;
		}
	if (!s) {
		if (b->nsrcs < BEACON_SRC_MAX) {
			s = &b->srcs[b->nsrcs++];
		} else {
			s = &b->srcs[0];
			for (i = 1; i < b->nsrcs; i++)
				if (b->srcs[i].at < s->at)
					s = &b->srcs[i];
		}
		s->ip = ip;
		s->tokens = BEACON_SRC_BURST;
		s->at = now;
	}
	if (!beacon_take(&s->tokens, &s->at, BEACON_SRC_RATE, BEACON_SRC_BURST, now))
		return 0;
	return beacon_take(&b->tokens, &b->tokens_at, BEACON_RX_RATE, BEACON_RX_BURST, now);
}

/* 1 if a beacon from pub with timestamp ts is new enough to act on. */
static int beacon_fresh(struct beacon *b, const struct beacon_info *bi, uint64_t now)
{
	size_t i, oldest = 0;

	for (i = 0; i < b->nseen; i++) {
		struct beacon_seen *s = &b->seen[i];
		if (memcmp(s->pub, bi->pub, WM_PUB_LEN) != 0) {
			if (s->at < b->seen[oldest].at)
				oldest = i;
			continue;
		}
		if (bi->ts <= s->ts)
			return 0;                        /* a replay or a reordered copy */
		s->ts = bi->ts;
		if (now - s->at < b->interval_ms / 2)
			return 0;                        /* acted on it moments ago */
		s->at = now;
		return 1;
	}
	if (bi->ts <= b->floor) {
		beacon_log(b, 1, "beacon dropped: dated before we listened for this key (a replay?)");
		return 0;
	}
	if (b->nseen < BEACON_SEEN_MAX) {
		i = b->nseen++;
	} else {
		i = oldest;
		if (b->seen[i].ts > b->floor)
			b->floor = b->seen[i].ts;    /* its recordings must not act again */
	}
	memcpy(b->seen[i].pub, bi->pub, WM_PUB_LEN);
	b->seen[i].ts = bi->ts;
	b->seen[i].at = now;
	return 1;
}

static void beacon_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct beacon *b = h->data;
	(void)suggested;
	*buf = uv_buf_init((char *)b->rxbuf, sizeof b->rxbuf);
}

static void beacon_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                        unsigned flags)
{
	struct beacon *b = u->data;
	struct beacon_info bi;
	char why[WM_WHY_LEN] = "", ip[64] = "", addr[96];
	uint64_t now = wm_now_ms();
	uint32_t src;
	size_t i;

	(void)buf;
	if (b->closing || nread <= 0 || from == NULL || from->sa_family != AF_INET)
		return;
	if (flags & UV_UDP_PARTIAL || (size_t)nread > BEACON_MAX)
		return;
	src = ntohl(((const struct sockaddr_in *)(const void *)from)->sin_addr.s_addr);
	beacon_read_nets(b, now);
	if (!beacon_on_link(src, b->nets, b->nnets) || !beacon_rate_ok(b, src, now))
		return;
	uv_ip4_name((const struct sockaddr_in *)(const void *)from, ip, sizeof ip);
	if (beacon_decode(b->netname, b->secret, b->rxbuf, (size_t)nread, now, &bi, why) != 0) {
		beacon_log(b, 1, "beacon dropped: %s", why);
		return;
	}
	for (i = 0; i < bi.naddrs && bi.addrs[i] != src; i++)
		;
	if (i == bi.naddrs) {
		beacon_log(b, 1, "beacon dropped: sent from %s, an address it does not name", ip);
		return;
	}
	if (memcmp(bi.pub, b->self->pub, WM_PUB_LEN) == 0 || !beacon_fresh(b, &bi, now))
		return;
	snprintf(addr, sizeof addr, "%s:%u", ip, (unsigned)bi.port);
	if (b->cb.on_member)
		b->cb.on_member(b->cb.ctx, bi.pub, addr);
}
int beacon_new(struct uv_loop_s *loop, const struct key *self, const char *netname,
               const uint8_t secret[WM_SECRET_LEN], uint16_t udp_port, uint16_t listen_port,
               uint64_t interval_ms,
               const struct beacon_callbacks *cb, struct beacon **out, char why[WM_WHY_LEN])
{
	struct beacon *b;
	struct sockaddr_in any;
	int rc;

	if (!loop || !self || !self->sec || !netname || strlen(netname) > BEACON_NAME_MAX || !secret ||
	    !cb || !out || udp_port == 0 || interval_ms == 0)
		return WM_EINVAL;
	b = calloc(1, sizeof *b);
	if (!b)
		return WM_ENOMEM;
	if (key_from_seed(self->sec, &b->self) != 0) {
		free(b);
		return WM_ENOMEM;
	}
	memcpy(b->netname, netname, strlen(netname) + 1);
	memcpy(b->secret, secret, WM_SECRET_LEN);
	b->udp_port = udp_port;
	b->listen_port = listen_port;
	b->interval_ms = interval_ms;
	b->cb = *cb;
	b->tokens = BEACON_RX_BURST;
	b->tokens_at = wm_now_ms();
	b->floor = b->tokens_at;
	uv_udp_init(loop, &b->udp);
	uv_timer_init(loop, &b->timer);
	b->udp.data = b;
	b->timer.data = b;
	b->open_handles = 2;
	uv_ip4_addr("0.0.0.0", udp_port, &any);
	rc = uv_udp_bind(&b->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR);
	if (rc == 0)
		rc = uv_udp_set_broadcast(&b->udp, 1);
	if (rc == 0)
		rc = uv_udp_recv_start(&b->udp, beacon_alloc, beacon_recv);
	if (rc) {
		wm_why(why, "beacons: cannot use UDP port %u: %s", (unsigned)udp_port, uv_strerror(rc));
		beacon_free(b);
		return WM_EIO;
	}
	uv_timer_start(&b->timer, beacon_timer_cb, 0, 0);
	*out = b;
	return 0;
}

static void beacon_closed(uv_handle_t *h)
{
	struct beacon *b = h->data;

	if (--b->open_handles > 0)
		return;
	key_free(b->self);
	wmc_wipe(b->secret, sizeof b->secret);
	free(b);
}

void beacon_free(struct beacon *b)
{
	if (!b || b->closing)
		return;
	b->closing = 1;
	uv_udp_recv_stop(&b->udp);
	uv_close((uv_handle_t *)&b->udp, beacon_closed);
	uv_close((uv_handle_t *)&b->timer, beacon_closed);
}
