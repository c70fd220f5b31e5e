/*
 * The mesh transport over libuv TCP (see transport.h for the contract and
 * proto/PROTOCOL.md §12 for the bytes).  libuv belongs to the net and
 * daemon rooms; the build refuses uv.h anywhere else (crypto/deny.h).
 *
 * A connection reads into one shared 64 KiB buffer and parses incrementally:
 * fixed-size handshake messages, the peer's stream header, then frames whose
 * 4-byte length is judged (chan_frame_len) before anything is allocated for
 * the body.  Frames to send wait as plaintext in two queues (high, normal)
 * and are encrypted only when they are written, because the stream cipher's
 * order is the write order and a high-priority frame may overtake.  At most
 * one uv_write is in flight per connection.  What waits is bounded per
 * connection and in all, and a connection whose backlog does not drain is
 * closed (conn_drain), so that a slow reader costs bounded memory for a
 * bounded time.
 *
 * libuv memory rules: a connection's handles (tcp, timer) live inside it and
 * the connection is freed from the last close callback; the transport
 * itself once its listener, connections and dialers are all gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "handshake.h"
#include "rotate.h"
#include "reader.h"
#include "transport.h"

_Static_assert(TRANSPORT_FRAME_MAX == CHAN_FRAME_MAX, "frame limits agree");

#define TR_RBUF_LEN     (64 * 1024)
#define TR_WRITE_BATCH  (256 * 1024)     /* frames gathered into one write */
#define TR_CLOSE_GRACE  1000             /* ms to flush a closing frame and see EOF */
#define TR_REPLAY_CAP   4096
#define TR_LOG_WINDOW   60000            /* ms: lines about strangers are counted per minute */
#define TR_LOG_LINES    3                /* ... of each kind, printed per window; then counted */
#define TR_LOG_KINDS    16               /* kinds (address, reason) tracked; the rest share one */
#define TR_ACCEPT_BATCH 64               /* connections accepted per turn of the loop */
/* The kernel's queue of connections not yet accepted (clamped to
 * net.core.somaxconn, 4096 on current Linux).  While it is full, a new
 * SYN is dropped and its sender waits a second or more to try again: a
 * long queue makes an attacker who reconnects whatever we close keep that
 * many connections in flight before an honest peer waits at all. */
#define TR_BACKLOG      4096
/* handshake bytes and stream header; a responder's rotation frame after them */
#define TR_RAW_MAX      (HS_MSG_MAX + CHAN_HEADER_LEN + 16 + ROT_FRAME_MAX + CHAN_PREFIX_LEN + CHAN_ABYTES)
/* A responder never says why it did not answer message 1; its log does. */
#define TR_NO_MSG2      " (wrong network secret, peer key or clock? its log says which)"

enum tr_state {
	TR_CONNECTING,   /* outbound TCP connect in progress */
	TR_HANDSHAKE,
	TR_UP,           /* handshake done (announced once admitted) */
	TR_CLOSING,      /* sending the closing frame, waiting for EOF */
	TR_CLOSED,       /* handles closing */
};

struct tr_frame {
	struct tr_frame *next;
	size_t len;
	uint8_t data[];
};

struct tr_fqueue {
	struct tr_frame *head, *tail;
};

struct tr_ban {
	uint8_t pub[WM_PUB_LEN];
	uint64_t until;                    /* uv_now() ms */
};

/* One kind of line about connections that never came up: an address and a
 * reason, its numbers aside ("backed off for another 599 s" stays one
 * kind).  The slot TR_LOG_KINDS takes every kind the others miss. */
struct tr_logkind {
	char host[TRANSPORT_ADDR_LEN];
	char key[80];
	char last[WM_WHY_LEN];                 /* the last reason counted, for the summary */
	uint64_t since;                        /* uv_now() ms: the window's start; 0 = free */
	unsigned printed;                      /* lines printed in this window */
	uint64_t held;                         /* ... and not printed */
};

struct transport_conn {
	struct transport *t;
	struct transport_conn *prev, *next;    /* in t->conns */
	struct transport_dialer *dialer;       /* the dialer that made it, or NULL */
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t connect_req;
	uv_write_t write_req;
	uv_shutdown_t shutdown_req;
	int handles;                           /* handles initialised and not yet closed */
	uint64_t probe_deadline;               /* inbound: when a first message that never came
	                                        * or failed ends the connection (uv_now ms) */
	int doomed;                            /* inbound: message 1 failed; close at probe_deadline */
	uint64_t seq;                          /* inbound: accept order (the oldest go first) */
	int eager;                             /* inbound: bytes were waiting at accept */
	int preferred;                         /* inbound: from a configured peer's address */
	char doom_why[WM_WHY_LEN];             /* ... and log this then */
	enum tr_state state;
	int outbound;
	int admitted;                          /* passed conn_admit */
	int kept;                              /* ... with a key one of our dialers wants */
	int announced;                         /* on_up ran; on_down owed */
	int announce_pending;                  /* up; on_up at the end of this read */
	int have_pub;
	uint8_t pub[WM_PUB_LEN];
	char addr[TRANSPORT_ADDR_LEN];
	void *data;                            /* the glue's */
	int rotating;                          /* outbound: the peer proved another key than the
	                                        * dialer's; our stream header waits in rot_header
	                                        * until its rotation frame is judged */
	uint8_t rot_header[CHAN_HEADER_LEN];

	struct hs *hs;                         /* during the handshake */
	struct chan *chan;                     /* after it */
	int hs_msg;                            /* number of the message being received */

	/* receiving */
	struct reader rd;
	int discard;                           /* closing: ignore whatever comes */

	/* sending */
	uint8_t raw[TR_RAW_MAX];               /* handshake messages, stream header */
	size_t raw_len;
	struct tr_fqueue high, normal;
	size_t queued;                         /* plaintext bytes in high + normal */
	int writing;                           /* write_req in flight */
	uint8_t *wbuf;                         /* its buffer */
	size_t wlen;                           /* ... and its length */
	size_t drain_level;                    /* the backlog when it passed half of queue_max
	                                        * (0: it is below) ... */
	uint64_t drain_since;                  /* ... and when */
	uint8_t *final_wire;                   /* closing frame to write next */
	size_t final_len;
	int shutting_down;

	/* time, uv_now() ms */
	uint64_t started, up_since, last_rx, last_tx, write_started, closing_since;
};

struct transport_dialer {
	struct transport *t;
	struct transport_dialer *prev, *next;  /* in t->dialers */
	char addr[TRANSPORT_ADDR_LEN + 192];   /* as given */
	char host[256];
	char port_str[8];
	uint16_t port;
	int numeric;                           /* host is an IP literal */
	struct sockaddr_storage sa;            /* when numeric */
	int prefer;                            /* a configured peer (transport_dialer_prefer) */
	char ip[TRANSPORT_ADDR_LEN];           /* the address dialed last ("1.2.3.4", "[::1]"), or "" */
	int have_expected;
	uint8_t expected[WM_PUB_LEN];
	int have_last;                         /* the key seen last (or expected) */
	uint8_t last_pub[WM_PUB_LEN];
	uv_timer_t timer;
	uv_getaddrinfo_t gai;
	int gai_pending;
	int timer_open;
	int removed;
	int dormant;                           /* waiting for another connection to that key to end */
	unsigned failures;
	struct transport_conn *conn;
};

struct transport {
	uv_loop_t *loop;
	struct key *self;
	uint8_t *netsec;                       /* guarded copy (hs_secret_dup) */
	struct transport_callbacks cb;
	struct transport_options opt;
	struct hs_replay *replay;
	char *replay_path;                     /* where replay is kept, or NULL */
	size_t replay_appended;                /* records appended since the file was last rewritten */
	int replay_failed;                     /* a save failed and was logged */
	uv_tcp_t listener;
	int listening;                         /* listener handle initialised and not closed */
	struct transport_conn *conns;
	struct transport_dialer *dialers;
	unsigned nconns, nhandshakes_in;
	unsigned nopen;                        /* connections whose socket is not closed yet: what
	                                        * max_conns limits (a dropped one's memory goes
	                                        * only at the end of the loop's turn) */
	uint64_t accept_seq;                   /* inbound connections accepted so far */
	size_t queued;                         /* plaintext bytes queued on every connection */
	struct tr_ban *bans;
	size_t nbans, capbans;
	struct tr_logkind logkinds[TR_LOG_KINDS + 1];
	uv_timer_t logtimer;                   /* ends the windows with lines held */
	int logtimer_open;
	uv_check_t acceptcheck;                /* accepts again after the loop's poll */
	int acceptcheck_open;
	uint64_t accept_turn;                  /* uv_now() of the accepts counted ... */
	unsigned accepts;                      /* ... in accepts */
	int freeing;                           /* transport_free has run */
	int quiet;                             /* ... and returned: no more log lines */
	uint8_t rot_frame[ROT_FRAME_MAX];      /* transport_set_rotation's frame, if rot_len */
	size_t rot_len;
	uint8_t rot_old[ROT_MAX * WM_PUB_LEN]; /* ... and the keys it hands on from */
	size_t rot_nold;
	uint8_t rbuf[TR_RBUF_LEN];
};

static void conn_end(struct transport_conn *c, const char *reason, int goodbye);
static int conn_drain(struct transport_conn *c, uint64_t now);
static void conn_pump(struct transport_conn *c);
static void dialer_schedule(struct transport_dialer *d, uint64_t at_least);
static void dialer_attempt(struct transport_dialer *d);
static void tr_maybe_free(struct transport *t);

/* --- logging ------------------------------------------------------------------------ */

static void tr_log(const struct transport *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tr_log(const struct transport *t, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (t->quiet)
		return;
	if (t->cb.on_log != NULL)
		t->cb.on_log(t->cb.ctx, line);
	else
		fprintf(stderr, "%s\n", line);
}

/* "peer 1.2.3.4:5 (key 0123abcd)" */
static void conn_name(const struct transport_conn *c, char *out, size_t len)
{
	char hex[WM_HEX_PUB + 1];

	if (c->have_pub) {
		hex_encode(hex, c->pub, WM_PUB_LEN);
		snprintf(out, len, "peer %s (key %.16s)", c->addr, hex);
	} else {
		snprintf(out, len, "peer %s", c->addr);
	}
}

/* A peer's closing reason is outside text: printable ASCII only in our logs. */
static void tr_sanitize(char *out, size_t outlen, const uint8_t *in, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 1 < outlen; i++)
		out[n++] = (in[i] >= 0x20 && in[i] < 0x7f) ? (char)in[i] : '?';
	out[n] = 0;
}

/* "34,112" */
static void tr_thousands(uint64_t n, char *out, size_t len)
{
	char digits[24];
	size_t nd = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, n), i, o = 0;

	for (i = 0; i < nd && o + 2 < len; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = 0;
}

/* The summary of a window in which lines were held, and the kind freed. */
static void tr_logkind_end(struct transport *t, struct tr_logkind *k)
{
	char n[32];
	const char *why = strncmp(k->last, "refused: ", 9) == 0 ? k->last + 9 : k->last;

	if (k->held > 0) {
		tr_thousands(k->held, n, sizeof(n));
		if (k->host[0] != 0)
			tr_log(t, "refused %s more connection%s from %s in the last minute: %s", n,
			       k->held == 1 ? "" : "s", k->host, why);
		else
			tr_log(t, "refused %s more connection%s from other addresses in the last minute "
			       "(the last: %s)", n, k->held == 1 ? "" : "s", why);
	}
	k->since = 0;
	k->held = 0;
	k->printed = 0;
}

static void tr_logtimer_cb(uv_timer_t *h)
{
	struct transport *t = h->data;
	uint64_t now = uv_now(t->loop), next = 0;
	size_t i;

	for (i = 0; i <= TR_LOG_KINDS; i++) {
		struct tr_logkind *k = &t->logkinds[i];

		if (k->since == 0)
			continue;
		if (now - k->since >= TR_LOG_WINDOW)
			tr_logkind_end(t, k);
		else if (k->held > 0 && (next == 0 || k->since + TR_LOG_WINDOW - now < next))
			next = k->since + TR_LOG_WINDOW - now;
	}
	if (next > 0)
		uv_timer_start(&t->logtimer, tr_logtimer_cb, next, 0);
}

/*
 * A line about a connection from `host` that never came up (a prober, a
 * flood of garbage, a backed-off key redialling): strangers choose how many
 * such lines we write, so each kind gets TR_LOG_LINES a minute and the
 * rest are counted into one summary line at the end of the minute.  1 if
 * the line is to be printed.
 */
static int tr_log_stranger(struct transport *t, const char *host, size_t hostlen, const char *reason)
{
	uint64_t now = uv_now(t->loop);
	struct tr_logkind *k = NULL, *free_k = NULL;
	char key[sizeof(k->key)];
	size_t i, n;

	for (i = n = 0; reason[i] != 0 && n + 1 < sizeof(key); i++) {
		int digit = reason[i] >= '0' && reason[i] <= '9';

		if (!digit)
			key[n++] = reason[i];
		else if (n == 0 || key[n - 1] != '#')
			key[n++] = '#';
	}
	key[n] = 0;
	if (hostlen >= sizeof(k->host))
		hostlen = sizeof(k->host) - 1;
	for (i = 0; i < TR_LOG_KINDS && k == NULL; i++) {
		struct tr_logkind *c = &t->logkinds[i];

		if (c->since != 0 && now - c->since >= TR_LOG_WINDOW)
			tr_logkind_end(t, c);
		if (c->since == 0) {
			if (free_k == NULL)
				free_k = c;
		} else if (strlen(c->host) == hostlen && memcmp(c->host, host, hostlen) == 0
		           && strcmp(c->key, key) == 0) {
			k = c;
		}
	}
	if (k == NULL && free_k != NULL) {
		k = free_k;
		memcpy(k->host, host, hostlen);
		k->host[hostlen] = 0;
		snprintf(k->key, sizeof(k->key), "%s", key);
	}
	if (k == NULL) {
		k = &t->logkinds[TR_LOG_KINDS];   /* every address and reason the table misses */
		if (k->since != 0 && now - k->since >= TR_LOG_WINDOW)
			tr_logkind_end(t, k);
		k->host[0] = 0;
	}
	if (k->since == 0)
		k->since = now;
	if (k->printed < TR_LOG_LINES) {
		k->printed++;
		return 1;
	}
	if (k->held++ == 0 && (!uv_is_active((uv_handle_t *)&t->logtimer)
	                       || uv_timer_get_due_in(&t->logtimer) > k->since + TR_LOG_WINDOW - now))
		uv_timer_start(&t->logtimer, tr_logtimer_cb, k->since + TR_LOG_WINDOW - now, 0);
	snprintf(k->last, sizeof(k->last), "%s", reason);
	return 0;
}

/* At shutdown: the summaries of the windows still open. */
static void tr_log_flush(struct transport *t)
{
	size_t i;

	for (i = 0; i <= TR_LOG_KINDS; i++)
		if (t->logkinds[i].since != 0)
			tr_logkind_end(t, &t->logkinds[i]);
}

/* --- options, bans ---------------------------------------------------------------------- */

void transport_options_default(struct transport_options *o)
{
	if (o == NULL)
		return;
	o->keepalive_ms = 15000;
	o->handshake_timeout_ms = 10000;
	o->backoff_min_ms = 1000;
	o->backoff_max_ms = 300000;
	o->stable_ms = 60000;
	o->queue_max = 2u * 1024 * 1024;
	o->queue_total_max = 64u * 1024 * 1024;
	o->drain_ms = 30000;
	o->max_conns = 256;
	o->max_handshakes = 64;
	o->max_handshakes_per_addr = 8;
	o->max_links_per_addr = 4;
	o->fault_backoff_ms = 600000;
	o->replay_path = NULL;
}

/* ms left on a ban of pub, 0 if none. */
static uint64_t tr_banned(struct transport *t, const uint8_t pub[WM_PUB_LEN])
{
	uint64_t now = uv_now(t->loop);
	size_t i;

	for (i = 0; i < t->nbans; i++)
		if (memcmp(t->bans[i].pub, pub, WM_PUB_LEN) == 0 && t->bans[i].until > now)
			return t->bans[i].until - now;
	return 0;
}

static void tr_ban(struct transport *t, const uint8_t pub[WM_PUB_LEN], uint64_t ms)
{
	uint64_t now = uv_now(t->loop);
	size_t i, n = 0;

	/* drop expired entries and any older one for this key */
	for (i = 0; i < t->nbans; i++)
		if (t->bans[i].until > now && memcmp(t->bans[i].pub, pub, WM_PUB_LEN) != 0)
			t->bans[n++] = t->bans[i];
	t->nbans = n;
	if (t->nbans == t->capbans) {
		size_t cap = t->capbans ? 2 * t->capbans : 8;
		struct tr_ban *b = realloc(t->bans, cap * sizeof(*b));

		if (b == NULL)
			return;   /* the ban is a courtesy; without memory, reconnects just come sooner */
		t->bans = b;
		t->capbans = cap;
	}
	memcpy(t->bans[t->nbans].pub, pub, WM_PUB_LEN);
	t->bans[t->nbans].until = now + ms;
	t->nbans++;
}

/* --- addresses ----------------------------------------------------------------------- */

/* "host:port" or "[v6]:port" into host and port.  port 0 only if allow0. */
static int tr_split_addr(const char *s, char *host, size_t hostlen, uint16_t *port, int allow0,
                         char *why)
{
	const char *colon, *h, *p;
	size_t hl;
	unsigned long v = 0;

	if (s == NULL || *s == 0) {
		snprintf(why, WM_WHY_LEN, "empty address");
		return WM_EINVAL;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(why, WM_WHY_LEN, "address '%.100s' is not [ipv6]:port", s);
			return WM_EINVAL;
		}
		h = s + 1;
		hl = (size_t)(close - h);
		p = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			snprintf(why, WM_WHY_LEN, "address '%.100s' has no port (host:port)", s);
			return WM_EINVAL;
		}
		if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
			snprintf(why, WM_WHY_LEN, "address '%.100s': write IPv6 addresses as [addr]:port", s);
			return WM_EINVAL;
		}
		h = s;
		hl = (size_t)(colon - s);
		p = colon + 1;
	}
	if (hl == 0 || hl >= hostlen) {
		snprintf(why, WM_WHY_LEN, "address '%.100s' has an empty or too long host", s);
		return WM_EINVAL;
	}
	if (*p == 0 || strlen(p) > 5) {
		snprintf(why, WM_WHY_LEN, "address '%.100s' has a bad port", s);
		return WM_EINVAL;
	}
	for (; *p; p++) {
		if (*p < '0' || *p > '9') {
			snprintf(why, WM_WHY_LEN, "address '%.100s' has a bad port", s);
			return WM_EINVAL;
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535 || (v == 0 && !allow0)) {
		snprintf(why, WM_WHY_LEN, "address '%.100s': port out of range", s);
		return WM_EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = (uint16_t)v;
	return 0;
}

/* IP literal into sa: 0, or -1 if host is not one. */
static int tr_numeric(const char *host, uint16_t port, struct sockaddr_storage *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)sa) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)sa) == 0)
		return 0;
	return -1;
}

static void tr_format_sa(const struct sockaddr *sa, char *out, size_t len)
{
	char ip[64] = "?";
	int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		uv_ip4_name(in, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(out, len, "%s:%d", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		uv_ip6_name(in6, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(out, len, "[%s]:%d", ip, port);
	} else {
		snprintf(out, len, "?");
	}
}

/* The length of the IP part of an address made by tr_format_sa ("1.2.3.4"
 * of "1.2.3.4:5", "[::1]" of "[::1]:5"). */
static size_t tr_host_len(const char *addr)
{
	const char *colon = strrchr(addr, ':');

	return colon ? (size_t)(colon - addr) : strlen(addr);
}

/* --- the replay cache's file ---------------------------------------------------------- */

/* The wall clock (ms since the epoch): message 1's time is judged by it,
 * unlike every timer here, which runs on uv_now(). */
static uint64_t tr_wall_ms(void)
{
	uv_timeval64_t tv;

	if (uv_gettimeofday(&tv) != 0 || tv.tv_sec < 0)
		return 0;
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* Replace the file by the records still valid: written beside it, then
 * renamed over it, so a crash leaves the old file or the new one. */
static int tr_replay_rewrite(struct transport *t)
{
	size_t cap = TR_REPLAY_CAP * HS_REPLAY_REC_LEN, n, plen = strlen(t->replay_path) + 5;
	uint8_t *buf = malloc(cap);
	char *tmp = malloc(plen);
	int fd, ok, rc = -1, err = ENOMEM;

	if (buf == NULL || tmp == NULL)
		goto out;
	n = hs_replay_save(t->replay, buf, cap, tr_wall_ms());
	snprintf(tmp, plen, "%s.new", t->replay_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	errno = 0;
	ok = n == 0 || write(fd, buf, n) == (ssize_t)n;
	err = errno != 0 ? errno : EIO;   /* a short write sets none */
	if (close(fd) != 0 && ok) {
		ok = 0;
		err = errno;
	}
	if (ok && rename(tmp, t->replay_path) != 0) {
		ok = 0;
		err = errno;
	}
	if (!ok) {
		unlink(tmp);
		goto out;
	}
	t->replay_appended = 0;
	rc = 0;
out:
	free(buf);
	free(tmp);
	errno = err;   /* for the caller's log line */
	return rc;
}

/* At start: the records saved by the last run (a missing file is a first
 * run), then the file rewritten without the expired ones.  A file that
 * cannot be read or written is logged; the cache then lives in memory only. */
static void tr_replay_open(struct transport *t)
{
	size_t max = 2 * TR_REPLAY_CAP * HS_REPLAY_REC_LEN, len = 0;
	uint8_t *buf = malloc(max);
	ssize_t got;
	off_t size, start;
	int fd;

	if (buf == NULL)
		return;
	fd = open(t->replay_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		tr_log(t, "transport: cannot read the replay cache %s: %s", t->replay_path, strerror(errno));
		free(buf);
		return;
	}
	if (fd >= 0) {
		/* never more than two cache-fulls are written (see tr_replay_note);
		 * of a longer file, the newest records are at the end */
		size = lseek(fd, 0, SEEK_END);
		start = size > (off_t)max ? size - (off_t)max : 0;
		start += (HS_REPLAY_REC_LEN - start % HS_REPLAY_REC_LEN) % HS_REPLAY_REC_LEN;
		lseek(fd, start, SEEK_SET);
		while (len < max && (got = read(fd, buf + len, max - len)) > 0)
			len += (size_t)got;
		close(fd);
		hs_replay_load(t->replay, buf, len, tr_wall_ms());
	}
	free(buf);
	if (tr_replay_rewrite(t) != 0) {
		tr_log(t, "transport: cannot write the replay cache %s: %s", t->replay_path, strerror(errno));
		t->replay_failed = 1;
	}
}

/* A first message was answered: its record goes to the file before the
 * answer leaves, so a restart right after still knows it. */
static void tr_replay_note(struct transport *t, const struct hs *hs)
{
	uint8_t rec[HS_REPLAY_REC_LEN];
	int fd, ok;

	if (t->replay_path == NULL || hs_replay_record(hs, rec) != 0)
		return;
	if (t->replay_appended + 1 >= TR_REPLAY_CAP) {
		ok = tr_replay_rewrite(t) == 0;   /* the cache holds this record already */
	} else {
		fd = open(t->replay_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		ok = fd >= 0 && write(fd, rec, sizeof(rec)) == (ssize_t)sizeof(rec);
		if (fd >= 0 && close(fd) != 0)
			ok = 0;
		if (ok)
			t->replay_appended++;
	}
	if (!ok && !t->replay_failed)
		tr_log(t, "transport: cannot save the replay cache %s: %s; a restart would forget "
		       "the handshakes answered since", t->replay_path, strerror(errno));
	t->replay_failed = !ok;
}

/* --- transport ----------------------------------------------------------------------- */

int transport_new(struct uv_loop_s *loop, const struct key *self, const uint8_t *netsec,
                  const struct transport_callbacks *cb, const struct transport_options *opt,
                  struct transport **out)
{
	struct transport *t = NULL;
	int rc;

	if (loop == NULL || self == NULL || self->sec == NULL || netsec == NULL || cb == NULL || out == NULL)
		return WM_EINVAL;
	if (wmc_init() != 0)
		return WM_ECRYPTO;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return WM_ENOMEM;
	t->loop = loop;
	t->cb = *cb;
	if (opt != NULL)
		t->opt = *opt;
	else
		transport_options_default(&t->opt);
	if (t->opt.keepalive_ms == 0 || t->opt.handshake_timeout_ms == 0 || t->opt.backoff_min_ms == 0
	    || t->opt.backoff_max_ms < t->opt.backoff_min_ms || t->opt.queue_max < TRANSPORT_FRAME_MAX
	    || t->opt.queue_total_max < t->opt.queue_max || t->opt.drain_ms == 0
	    || t->opt.max_conns == 0 || t->opt.max_handshakes == 0
	    || t->opt.max_handshakes_per_addr == 0 || t->opt.max_links_per_addr == 0) {
		free(t);
		return WM_EINVAL;
	}
	/* the node key, re-derived from its seed into fresh guarded memory */
	rc = key_from_seed(self->sec, &t->self);
	if (rc != 0)
		goto fail;
	t->netsec = hs_secret_dup(netsec, WM_SECRET_LEN);
	rc = WM_ENOMEM;
	if (t->netsec == NULL)
		goto fail;
	rc = hs_replay_new(TR_REPLAY_CAP, &t->replay);
	if (rc != 0)
		goto fail;
	if (t->opt.replay_path != NULL) {
		rc = WM_ENOMEM;
		t->replay_path = strdup(t->opt.replay_path);
		if (t->replay_path == NULL)
			goto fail;
		tr_replay_open(t);
	}
	t->opt.replay_path = NULL;   /* the caller's string; ours is replay_path */
	uv_timer_init(loop, &t->logtimer);   /* cannot fail */
	t->logtimer.data = t;
	t->logtimer_open = 1;
	uv_check_init(loop, &t->acceptcheck);   /* cannot fail */
	t->acceptcheck.data = t;
	t->acceptcheck_open = 1;
	*out = t;
	return 0;
fail:
	free(t->replay_path);
	hs_secret_free(t->netsec);
	key_free(t->self);
	hs_replay_free(t->replay);
	free(t);
	return rc;
}

static void tr_logtimer_closed(uv_handle_t *h)
{
	struct transport *t = h->data;

	t->logtimer_open = 0;
	tr_maybe_free(t);
}

static void tr_acceptcheck_closed(uv_handle_t *h)
{
	struct transport *t = h->data;

	t->acceptcheck_open = 0;
	tr_maybe_free(t);
}

static void tr_maybe_free(struct transport *t)
{
	if (!t->freeing || t->conns != NULL || t->dialers != NULL || t->listening || t->logtimer_open
	    || t->acceptcheck_open)
		return;
	free(t->bans);
	free(t->replay_path);
	hs_replay_free(t->replay);
	hs_secret_free(t->netsec);
	key_free(t->self);
	free(t);
}

/* --- connections: lifetime ----------------------------------------------------------- */

static uint64_t conn_tick_ms(const struct transport *t)
{
	uint64_t tick = 1000;

	if (t->opt.keepalive_ms / 4 < tick)
		tick = t->opt.keepalive_ms / 4;
	if (t->opt.handshake_timeout_ms / 4 < tick)
		tick = t->opt.handshake_timeout_ms / 4;
	if (TR_CLOSE_GRACE / 4 < tick)
		tick = TR_CLOSE_GRACE / 4;
	return tick < 5 ? 5 : tick;
}

static void fqueue_clear(struct tr_fqueue *q)
{
	struct tr_frame *f = q->head, *next;

	for (; f != NULL; f = next) {
		next = f->next;
		free(f);
	}
	q->head = q->tail = NULL;
}

static void conn_destroy(struct transport_conn *c)
{
	struct transport *t = c->t;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	t->nconns--;
	fqueue_clear(&c->high);
	fqueue_clear(&c->normal);
	reader_clear(&c->rd);
	free(c->wbuf);
	free(c->final_wire);
	hs_free(c->hs);
	chan_free(c->chan);
	wmc_wipe(c->raw, sizeof(c->raw));
	free(c);
	tr_maybe_free(t);
}

static void conn_on_close(uv_handle_t *h)
{
	struct transport_conn *c = h->data;

	if (--c->handles == 0)
		conn_destroy(c);
}

static void conn_tick(uv_timer_t *h);

/* A connection with its two handles initialised, linked into t. */
static struct transport_conn *conn_new(struct transport *t, int outbound)
{
	struct transport_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->t = t;
	c->outbound = outbound;
	c->state = outbound ? TR_CONNECTING : TR_HANDSHAKE;
	snprintf(c->addr, sizeof(c->addr), "?");
	if (uv_tcp_init(t->loop, &c->tcp) != 0) {
		free(c);
		return NULL;
	}
	c->tcp.data = c;
	c->connect_req.data = c;
	c->write_req.data = c;
	c->shutdown_req.data = c;
	c->handles = 1;
	uv_timer_init(t->loop, &c->timer);   /* cannot fail */
	c->timer.data = c;
	c->handles = 2;
	c->started = c->last_rx = c->last_tx = uv_now(t->loop);
	uv_timer_start(&c->timer, conn_tick, conn_tick_ms(t), conn_tick_ms(t));
	c->next = t->conns;
	if (t->conns != NULL)
		t->conns->prev = c;
	t->conns = c;
	t->nconns++;
	t->nopen++;
	return c;
}

static void conn_close_handles(struct transport_conn *c)
{
	if (c->state == TR_CLOSED)
		return;
	c->state = TR_CLOSED;
	c->t->nopen--;
	/* its guarded memory goes now: a flood closes many in one turn */
	hs_free(c->hs);
	c->hs = NULL;
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, conn_on_close);
	if (!uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, conn_on_close);
}

static struct transport_conn *tr_find_up(struct transport *t, const uint8_t pub[WM_PUB_LEN],
                                         const struct transport_conn *except)
{
	struct transport_conn *c;

	for (c = t->conns; c != NULL; c = c->next)
		if (c != except && c->state == TR_UP && c->have_pub && memcmp(c->pub, pub, WM_PUB_LEN) == 0)
			return c;
	return NULL;
}

/* Dialers waiting because pub was connected the other way: try again. */
static void tr_wake_dialers(struct transport *t, const uint8_t pub[WM_PUB_LEN])
{
	struct transport_dialer *d;

	for (d = t->dialers; d != NULL; d = d->next)
		if (d->dormant && !d->removed && d->have_last && memcmp(d->last_pub, pub, WM_PUB_LEN) == 0) {
			d->failures = 0;
			dialer_schedule(d, 0);
		}
}

/* The dialer's connection ended after being up up_ms: when to try again.
 * Returns the delay in ms, or -1 if the dialer is waiting or gone. */
static int64_t dialer_conn_ended(struct transport_dialer *d, uint64_t up_ms);

/*
 * The one way a connection ends: log it (one line), tell the glue (on_down,
 * if it was up), let its dialer plan the next attempt, then either send the
 * peer a closing frame (goodbye=1 and the stream is open) or close at once.
 */
static void conn_end(struct transport_conn *c, const char *reason, int goodbye)
{
	struct transport *t = c->t;
	enum tr_state prev = c->state;
	char name[160], retry[64] = "";
	uint64_t now = uv_now(t->loop);
	int was_announced = c->announced;
	/* whose attempt failed, for on_fail (a removed dialer may be freed below) */
	struct transport_dialer *failed = c->dialer != NULL && !c->dialer->removed ? c->dialer : NULL;

	if (prev >= TR_CLOSING)
		return;
	if (!c->outbound && prev == TR_HANDSHAKE)
		t->nhandshakes_in--;
	c->state = TR_CLOSING;
	c->closing_since = now;
	c->announced = 0;
	c->announce_pending = 0;
	fqueue_clear(&c->high);
	fqueue_clear(&c->normal);
	t->queued -= c->queued;
	c->queued = 0;
	c->discard = 1;
	reader_clear(&c->rd);
	if (c->dialer != NULL) {
		struct transport_dialer *d = c->dialer;
		int64_t delay;

		c->dialer = NULL;
		d->conn = NULL;
		delay = dialer_conn_ended(d, prev == TR_UP ? now - c->up_since : 0);
		if (delay >= 0)
			snprintf(retry, sizeof(retry), "; retrying in %.1f s", (double)delay / 1000.0);
	}
	conn_name(c, name, sizeof(name));
	if (c->outbound || was_announced || tr_log_stranger(t, c->addr, tr_host_len(c->addr), reason))
		tr_log(t, "%s: %s%s", name, reason, retry);
	if (was_announced && t->cb.on_down != NULL)
		t->cb.on_down(t->cb.ctx, c, reason);
	else if (!was_announced && t->cb.on_fail != NULL && (failed != NULL || c->have_pub))
		t->cb.on_fail(t->cb.ctx, failed, c->have_pub ? c->pub : NULL, reason);
	if (prev == TR_UP && c->have_pub)
		tr_wake_dialers(t, c->pub);

	if (goodbye && c->chan != NULL) {   /* our stream header is sent or queued */
		size_t n = strlen(reason), wl, off;

		if (n > CHAN_REASON_MAX)
			n = CHAN_REASON_MAX;
		/* handshake bytes not yet written go first */
		c->final_wire = malloc(c->raw_len + chan_wire_len(n));
		if (c->final_wire != NULL) {
			memcpy(c->final_wire, c->raw, c->raw_len);
			off = c->raw_len;
			c->raw_len = 0;
			if (chan_seal(c->chan, (const uint8_t *)reason, n, 1, c->final_wire + off,
			              chan_wire_len(n), &wl) == 0) {
				c->final_len = off + wl;
				conn_pump(c);
				return;
			}
			free(c->final_wire);
			c->final_wire = NULL;
		}
	}
	conn_close_handles(c);
}

/* --- connections: sending ------------------------------------------------------------ */

static void conn_after_write(uv_write_t *req, int status)
{
	struct transport_conn *c = req->data;
	char reason[WM_WHY_LEN];

	c->writing = 0;
	free(c->wbuf);
	c->wbuf = NULL;
	c->wlen = 0;
	if (c->state == TR_CLOSED)
		return;
	if (status < 0) {
		if (c->state == TR_CLOSING) {
			conn_close_handles(c);
			return;
		}
		if (status == UV_ECONNRESET || status == UV_EPIPE)
			snprintf(reason, sizeof(reason), "connection reset");
		else
			snprintf(reason, sizeof(reason), "write failed: %s", uv_strerror(status));
		conn_end(c, reason, 0);
		return;
	}
	conn_pump(c);
}

static void conn_after_shutdown(uv_shutdown_t *req, int status)
{
	struct transport_conn *c = req->data;

	/* now wait for the peer's EOF (read callback) or the grace timer */
	if (status < 0 && c->state == TR_CLOSING)
		conn_close_handles(c);
}

static void conn_write(struct transport_conn *c, uint8_t *buf, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	int rc;
	char reason[WM_WHY_LEN];

	c->wbuf = buf;
	c->wlen = len;
	c->writing = 1;
	c->last_tx = c->write_started = uv_now(c->t->loop);
	rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, conn_after_write);
	if (rc != 0) {
		c->writing = 0;
		c->wbuf = NULL;
		c->wlen = 0;
		free(buf);
		if (c->state == TR_CLOSING) {
			conn_close_handles(c);
			return;
		}
		snprintf(reason, sizeof(reason), "write failed: %s", uv_strerror(rc));
		conn_end(c, reason, 0);
	}
}

static struct tr_frame *fqueue_pop(struct tr_fqueue *q)
{
	struct tr_frame *f = q->head;

	if (f != NULL) {
		q->head = f->next;
		if (q->head == NULL)
			q->tail = NULL;
	}
	return f;
}

/* Start the next write if none is in flight. */
static void conn_pump(struct transport_conn *c)
{
	size_t total, off, nframes;
	struct tr_frame *f;
	uint8_t *buf;

	if (c->writing || c->state == TR_CLOSED || c->state == TR_CONNECTING)
		return;
	if (c->state == TR_CLOSING) {
		if (c->final_wire != NULL) {
			buf = c->final_wire;
			c->final_wire = NULL;
			conn_write(c, buf, c->final_len);
		} else if (!c->shutting_down) {
			c->shutting_down = 1;
			if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, conn_after_shutdown) != 0)
				conn_close_handles(c);
		}
		return;
	}

	/* gather: handshake bytes, then high frames, then normal ones, up to a
	 * batch (a single frame may exceed it) */
	total = c->raw_len;
	nframes = 0;
	if (c->state == TR_UP) {
		int full = 0;

		for (f = c->high.head; f != NULL && !full; f = f->next) {
			if (total > 0 && total + chan_wire_len(f->len) > TR_WRITE_BATCH)
				full = 1;
			else {
				total += chan_wire_len(f->len);
				nframes++;
			}
		}
		for (f = c->normal.head; f != NULL && !full; f = f->next) {
			if (total > 0 && total + chan_wire_len(f->len) > TR_WRITE_BATCH)
				full = 1;
			else {
				total += chan_wire_len(f->len);
				nframes++;
			}
		}
	}
	if (total == 0)
		return;
	buf = malloc(total);
	if (buf == NULL) {
		conn_end(c, "out of memory for a write", 0);
		return;
	}
	memcpy(buf, c->raw, c->raw_len);
	off = c->raw_len;
	c->raw_len = 0;
	/* the same frames, in the same order: high ones first */
	for (; nframes > 0; nframes--) {
		size_t wl;

		f = c->high.head != NULL ? fqueue_pop(&c->high) : fqueue_pop(&c->normal);
		if (f == NULL || chan_seal(c->chan, f->data, f->len, 0, buf + off, total - off, &wl) != 0) {
			free(f);   /* cannot happen: the sizes were counted above */
			free(buf);
			conn_end(c, "internal error while encrypting a frame", 0);
			return;
		}
		c->queued -= f->len;
		c->t->queued -= f->len;
		off += wl;
		free(f);
	}
	conn_write(c, buf, total);
}

static int conn_raw_append(struct transport_conn *c, const uint8_t *b, size_t len)
{
	if (c->raw_len + len > sizeof(c->raw))
		return WM_EPROTO;   /* cannot happen: the handshake writes at most 2 messages ahead */
	memcpy(c->raw + c->raw_len, b, len);
	c->raw_len += len;
	return 0;
}

static int conn_enqueue(struct transport_conn *c, const uint8_t *bytes, size_t len, int high)
{
	struct tr_frame *f = malloc(sizeof(*f) + len);
	struct tr_fqueue *q = high ? &c->high : &c->normal;

	if (f == NULL)
		return WM_ENOMEM;
	f->next = NULL;
	f->len = len;
	if (len > 0)
		memcpy(f->data, bytes, len);
	if (q->tail != NULL)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	c->queued += len;
	c->t->queued += len;
	return 0;
}

int transport_send(struct transport_conn *c, const uint8_t *bytes, size_t len, int priority)
{
	size_t limit;
	int rc;

	if (c == NULL || bytes == NULL)
		return WM_EINVAL;
	if (len == 0 || len > TRANSPORT_FRAME_MAX)
		return WM_ETOOBIG;
	if (c->state != TR_UP || !c->announced)
		return WM_EIO;
	/* alerts may use as much again, per connection and in all */
	limit = c->t->opt.queue_max;
	if (priority == TRANSPORT_PRIO_HIGH)
		limit *= 2;
	if (c->queued + len > limit)
		return WM_ERATE;
	limit = c->t->opt.queue_total_max;
	if (priority == TRANSPORT_PRIO_HIGH)
		limit *= 2;
	if (c->t->queued + len > limit)
		return WM_ERATE;
	rc = conn_enqueue(c, bytes, len, priority == TRANSPORT_PRIO_HIGH);
	if (rc != 0)
		return rc;
	conn_pump(c);
	return 0;
}

/* --- connections: receiving ------------------------------------------------------------ */

/* A key one of our dialers expects, or found at its address last time. */
static int tr_wanted(const struct transport *t, const uint8_t pub[WM_PUB_LEN])
{
	const struct transport_dialer *d;

	for (d = t->dialers; d != NULL; d = d->next)
		if (!d->removed && d->have_last && memcmp(d->last_pub, pub, WM_PUB_LEN) == 0)
			return 1;
	return 0;
}

/* Inbound links admitted from c's host, other than c and than an older
 * link of c's key (which c replaces), ours (kept) aside. */
static unsigned tr_links_from(const struct transport *t, const struct transport_conn *c)
{
	size_t hl = tr_host_len(c->addr);
	const struct transport_conn *o;
	unsigned n = 0;

	for (o = t->conns; o != NULL; o = o->next)
		if (o != c && o->admitted && !o->kept && o->state < TR_CLOSING &&
		    memcmp(o->pub, c->pub, WM_PUB_LEN) != 0 &&
		    tr_host_len(o->addr) == hl && memcmp(o->addr, c->addr, hl) == 0)
			n++;
	return n;
}

/* Our side of the handshake is complete and our stream header queued:
 * refuse a banned or unwanted peer now, so that the refusal's closing frame
 * leaves in the same write as our last handshake bytes and the peer never
 * counts the connection as up.  0 if admitted; otherwise c is closing. */
static int conn_admit(struct transport_conn *c)
{
	struct transport *t = c->t;
	char why[WM_WHY_LEN], reason[WM_WHY_LEN + 32];
	uint64_t left;

	if (c->dialer != NULL) {
		c->dialer->have_last = 1;
		memcpy(c->dialer->last_pub, c->pub, WM_PUB_LEN);
	}
	left = tr_banned(t, c->pub);
	if (left > 0) {
		snprintf(reason, sizeof(reason), "refused: this peer is backed off for another %" PRIu64 " s",
		         (left + 999) / 1000);
		conn_end(c, reason, 1);
		return -1;
	}
	c->kept = c->outbound || tr_wanted(t, c->pub);
	if (!c->kept && tr_links_from(t, c) >= t->opt.max_links_per_addr) {
		snprintf(reason, sizeof(reason), "refused: too many links from %.*s (%u)",
		         (int)tr_host_len(c->addr), c->addr, t->opt.max_links_per_addr);
		conn_end(c, reason, 1);
		return -1;
	}
	why[0] = 0;
	if (t->cb.allow_peer != NULL && t->cb.allow_peer(t->cb.ctx, c, c->pub, why) != 0) {
		snprintf(reason, sizeof(reason), "refused: %s", why[0] ? why : "not admitted");
		conn_end(c, reason, 1);
		return -1;
	}
	c->admitted = 1;
	return 0;
}

/* on_up, once, when the peer's header has come and no closing frame came
 * with it (a refusal arrives in the same read as the header). */
static void conn_announce(struct transport_conn *c)
{
	struct transport *t = c->t;
	char name[160];

	if (!c->announce_pending || c->state != TR_UP)
		return;
	c->announce_pending = 0;
	conn_name(c, name, sizeof(name));
	tr_log(t, "%s: connected (%s)", name, c->outbound ? "outbound" : "inbound");
	c->announced = 1;
	if (t->cb.on_up != NULL)
		t->cb.on_up(t->cb.ctx, c, c->pub, c->outbound);
}

/* The peer's stream header arrived: the link is up on both ends.  At most
 * one up connection per key survives. */
static void conn_established(struct transport_conn *c)
{
	struct transport *t = c->t;
	struct transport_conn *o;

	if (!c->outbound)
		t->nhandshakes_in--;
	c->state = TR_UP;
	c->up_since = uv_now(t->loop);
	o = tr_find_up(t, c->pub, c);
	if (o != NULL) {
		int keep_new;

		if (o->outbound == c->outbound) {
			keep_new = 1;   /* the old one is most likely dead and not yet noticed */
		} else {
			/* keep the connection opened by the node with the smaller key */
			const uint8_t *init_c = c->outbound ? t->self->pub : c->pub;
			const uint8_t *init_o = o->outbound ? t->self->pub : o->pub;

			keep_new = memcmp(init_c, init_o, WM_PUB_LEN) < 0;
		}
		if (!keep_new) {
			conn_end(c, "duplicate connection: this peer is already connected", 1);
			return;
		}
		conn_end(o, "replaced by a newer connection to the same peer", 1);
		if (c->state != TR_UP)
			return;   /* a callback closed it */
	}
	c->announce_pending = 1;
}

/* An inbound connection whose first message failed, or that closed before
 * sending one: it sends nothing, keeps reading (and dropping) whatever
 * comes, and ends at its probe deadline like a silent one, so that neither
 * the bytes nor the moment of closing tell a prober what went wrong, or
 * that this is a watchmesh node. */
static int conn_probe_phase(const struct transport_conn *c)
{
	return !c->outbound && c->state == TR_HANDSHAKE && c->hs_msg == 1;
}

static void conn_doom(struct transport_conn *c, const char *why)
{
	c->doomed = 1;
	c->discard = 1;
	snprintf(c->doom_why, sizeof(c->doom_why), "%s", why);
}

/* A responder whose message 1 was made for a key it rotated away from:
 * its rotation frame goes right after its stream header, before the
 * initiator's header (which waits for it) makes the link up. */
static int conn_raw_rotation(struct transport_conn *c)
{
	size_t wl;

	if (c->t->rot_len == 0)
		return 0;
	if (chan_seal(c->chan, c->t->rot_frame, c->t->rot_len, 0, c->raw + c->raw_len,
	              sizeof(c->raw) - c->raw_len, &wl) != 0)
		return WM_EPROTO;
	c->raw_len += wl;
	return 0;
}

/* An outbound link whose peer proved another key than the one dialed:
 * its first frame must lead from that key to the one proved (the glue
 * judges, on_rotated); only then is our header sent and the link admitted,
 * the dialer expecting the new key from now on.  Else it is refused. */
static void conn_rotation_frame(struct transport_conn *c, const uint8_t *plain, size_t len)
{
	struct transport *t = c->t;
	struct transport_dialer *d = c->dialer;
	char why[WM_WHY_LEN], reason[WM_WHY_LEN + 32];

	c->rotating = 0;
	why[0] = 0;
	if (conn_raw_append(c, c->rot_header, sizeof(c->rot_header)) != 0) {
		conn_end(c, "internal error: the stream header does not fit", 0);
		return;
	}
	if (d == NULL || t->cb.on_rotated(t->cb.ctx, c, d->expected, c->pub, plain, len, why) != 0) {
		snprintf(reason, sizeof(reason), "refused: %s", why[0] ? why : "the key rotation is not followed");
		/* the key proved is not the dialer's peer: on_fail must not
		 * teach the glue that it is */
		c->have_pub = 0;
		conn_end(c, reason, 1);
		return;
	}
	memcpy(d->expected, c->pub, WM_PUB_LEN);
	if (conn_admit(c) != 0)
		return;
	conn_established(c);
	conn_pump(c);
}

/* c->rd.small holds a whole handshake message. */
static void conn_hs_message(struct transport_conn *c)
{
	uint8_t out[HS_MSG_MAX], header[CHAN_HEADER_LEN];
	size_t outlen = 0;
	char why[WM_WHY_LEN];
	int rc, alias;

	why[0] = 0;
	rc = hs_recv(c->hs, c->rd.small, c->rd.want, out, &outlen, why);
	if (rc != 0 && conn_probe_phase(c)) {
		conn_doom(c, why[0] ? why : "handshake failed");
		return;
	}
	if (rc != 0) {
		conn_end(c, why[0] ? why : "handshake failed", 0);
		return;
	}
	if (conn_probe_phase(c))
		tr_replay_note(c->t, c->hs);
	if (outlen > 0 && conn_raw_append(c, out, outlen) != 0) {
		conn_end(c, "internal error: handshake output does not fit", 0);
		return;
	}
	if (!hs_done(c->hs)) {
		reader_expect(&c->rd, hs_want(c->hs));
		c->hs_msg += 2;
		conn_pump(c);
		return;
	}
	memcpy(c->pub, hs_remote_pub(c->hs), WM_PUB_LEN);
	c->have_pub = 1;
	alias = hs_alias(c->hs);
	rc = chan_new(c->hs, &c->chan, header);
	hs_free(c->hs);
	c->hs = NULL;
	reader_expect(&c->rd, 0);
	c->hs_msg = 5;   /* now waiting for the peer's stream header */
	if (rc == 0 && c->dialer != NULL && c->dialer->have_expected &&
	    memcmp(c->pub, c->dialer->expected, WM_PUB_LEN) != 0) {
		/* the peer rotated away from the key we pinned: nothing is
		 * admitted, nor our header sent, before its statement is judged */
		c->rotating = 1;
		memcpy(c->rot_header, header, sizeof(header));
		return;
	}
	if (rc != 0 || conn_raw_append(c, header, sizeof(header)) != 0) {
		conn_end(c, "cannot start the encrypted stream", 0);
		return;
	}
	if (conn_admit(c) != 0)
		return;
	if (alias && conn_raw_rotation(c) != 0) {
		conn_end(c, "internal error: the rotation frame does not fit", 0);
		return;
	}
	/* Our last handshake bytes and stream header leave before anything else
	 * (a refusal's closing frame included).  The connection is admitted
	 * when the peer's header arrives: for a responder that is the proof the
	 * initiator accepted message 4, so neither side ever announces a
	 * connection the other has refused. */
	conn_pump(c);
}

/* One whole ciphertext (after c->rd.prefix). */
static void conn_frame(struct transport_conn *c, const uint8_t *ct, size_t ctlen)
{
	struct transport *t = c->t;
	uint8_t *plain;
	size_t plen = 0;
	int final = 0, rc;
	char why[WM_WHY_LEN], reason[WM_WHY_LEN + 48], text[CHAN_REASON_MAX + 1];

	plain = malloc(ctlen - CHAN_ABYTES + 1);
	if (plain == NULL) {
		conn_end(c, "out of memory for a frame", 0);
		return;
	}
	why[0] = 0;
	rc = chan_open(c->chan, c->rd.prefix, ct, ctlen, plain, &plen, &final, why);
	if (rc != 0) {
		snprintf(reason, sizeof(reason), "bad frame: %s", why);
		transport_close(c, reason, t->opt.fault_backoff_ms);
	} else if (final) {
		tr_sanitize(text, sizeof(text), plain, plen > CHAN_REASON_MAX ? CHAN_REASON_MAX : plen);
		snprintf(reason, sizeof(reason), "the peer closed the connection: %s", text);
		conn_end(c, reason, 0);
	} else if (plen > 0 && c->rotating) {
		conn_rotation_frame(c, plain, plen);
	} else if (plen > 0) {
		conn_announce(c);
		if (c->announced && t->cb.on_frame != NULL)
			t->cb.on_frame(t->cb.ctx, c, plain, plen);
	}
	free(plain);
}

static void conn_input(struct transport_conn *c, const uint8_t *p, size_t n)
{
	char why[WM_WHY_LEN];
	const uint8_t *ct = NULL;
	size_t ctlen = 0;
	int rc;

	while (n > 0 && !c->discard && (c->state == TR_HANDSHAKE || c->state == TR_UP)) {
		why[0] = 0;
		rc = reader_take(&c->rd, &p, &n, &ct, &ctlen, why);
		if (rc == READER_MESSAGE) {
			conn_hs_message(c);
		} else if (rc == READER_HEADER) {
			if (chan_set_rx_header(c->chan, c->rd.small, why) != 0) {
				conn_end(c, why, 1);
				return;
			}
			if (!c->rotating)
				conn_established(c);
		} else if (rc == READER_FRAME) {
			conn_frame(c, ct, ctlen);
		} else if (rc == WM_ENOMEM) {
			conn_end(c, why, 0);
			return;
		} else if (rc < 0) {
			transport_close(c, why, c->t->opt.fault_backoff_ms);
			return;
		}
	}
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct transport_conn *c = h->data;

	(void)suggested;
	buf->base = (char *)c->t->rbuf;
	buf->len = sizeof(c->t->rbuf);
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct transport_conn *c = s->data;
	char reason[WM_WHY_LEN];

	if (nread == 0 || c->state == TR_CLOSED)
		return;
	if (nread < 0) {
		if (c->state == TR_CLOSING) {
			conn_close_handles(c);   /* the peer's EOF after our closing frame */
			return;
		}
		if (nread == UV_EOF && conn_probe_phase(c)) {
			if (!c->doomed)
				conn_doom(c, "handshake failed: connection closed before message 1");
			return;   /* libuv reads no more after EOF */
		}
		if (nread == UV_EOF && c->state == TR_HANDSHAKE && c->hs_msg <= 4)
			snprintf(reason, sizeof(reason),
			         "handshake failed: connection closed before message %d%s", c->hs_msg,
			         c->hs_msg == 2 ? TR_NO_MSG2 : "");
		else if (nread == UV_EOF && c->state == TR_HANDSHAKE)
			snprintf(reason, sizeof(reason),
			         "handshake failed: connection closed before the peer confirmed it (it refused our key?)");
		else if (nread == UV_EOF)
			snprintf(reason, sizeof(reason), "connection closed by the peer");
		else if (nread == UV_ECONNRESET)
			snprintf(reason, sizeof(reason), "connection reset");
		else
			snprintf(reason, sizeof(reason), "read failed: %s", uv_strerror((int)nread));
		conn_end(c, reason, 0);
		return;
	}
	c->last_rx = uv_now(c->t->loop);
	if (c->state == TR_HANDSHAKE || c->state == TR_UP) {
		conn_input(c, (const uint8_t *)buf->base, (size_t)nread);
		conn_announce(c);
	}
}

static void conn_tick(uv_timer_t *h)
{
	struct transport_conn *c = h->data;
	struct transport *t = c->t;
	uint64_t now = uv_now(t->loop);
	char reason[WM_WHY_LEN];

	switch (c->state) {
	case TR_CONNECTING:
	case TR_HANDSHAKE:
		if (conn_probe_phase(c)) {
			if (now >= c->probe_deadline)
				conn_end(c, c->doomed ? c->doom_why : "handshake timed out waiting for message 1", 0);
		} else if (now - c->started >= t->opt.handshake_timeout_ms) {
			if (c->state == TR_CONNECTING)
				snprintf(reason, sizeof(reason), "connect timed out");
			else if (c->rotating)
				snprintf(reason, sizeof(reason), "handshake timed out waiting for the peer's key rotation statement");
			else if (c->hs_msg <= 4)
				snprintf(reason, sizeof(reason), "handshake timed out waiting for message %d%s",
				         c->hs_msg, c->hs_msg == 2 ? TR_NO_MSG2 : "");
			else
				snprintf(reason, sizeof(reason), "handshake timed out waiting for the peer's stream header");
			conn_end(c, reason, 0);
		}
		break;
	case TR_UP:
		if (now - c->last_rx >= 3 * t->opt.keepalive_ms) {
			snprintf(reason, sizeof(reason), "timed out: nothing received for %.1f s",
			         (double)(now - c->last_rx) / 1000.0);
			conn_end(c, reason, 1);
		} else if (c->writing && now - c->write_started >= 3 * t->opt.keepalive_ms) {
			snprintf(reason, sizeof(reason), "timed out: the peer is not reading (a write has waited %.1f s)",
			         (double)(now - c->write_started) / 1000.0);
			conn_end(c, reason, 0);
		} else if (conn_drain(c, now)) {
			break;
		} else if (now - c->last_tx >= t->opt.keepalive_ms && !c->writing
		           && c->high.head == NULL && c->normal.head == NULL) {
			if (conn_enqueue(c, NULL, 0, 0) == 0)   /* keepalive: an empty frame */
				conn_pump(c);
		}
		break;
	case TR_CLOSING:
		if (now - c->closing_since >= TR_CLOSE_GRACE)
			conn_close_handles(c);
		break;
	case TR_CLOSED:
		break;
	}
}

/*
 * A peer that reads, but too slowly for what we have to send it, holds up
 * to 2 x queue_max of our memory: once its backlog (queued and being
 * written) passes half of queue_max, it must fall to half of what it was
 * within drain_ms, or the connection is closed and the key kept away as
 * long.  (A peer that reads nothing at all is also closed once a write
 * has waited 3 x keepalive; one reading a little now and then is not.)
 * 1 if it was closed.
 */
static int conn_drain(struct transport_conn *c, uint64_t now)
{
	size_t backlog = c->queued + c->wlen;
	char reason[WM_WHY_LEN];

	if (c->drain_level != 0 && backlog <= c->drain_level / 2)
		c->drain_level = 0;
	if (c->drain_level == 0 && backlog > c->t->opt.queue_max / 2) {
		c->drain_since = now;
		c->drain_level = backlog;
	}
	if (c->drain_level == 0 || now - c->drain_since < c->t->opt.drain_ms)
		return 0;
	snprintf(reason, sizeof(reason), "too slow: %zu KiB waiting to be sent, less than half of it "
	         "sent in %.1f s", c->drain_level / 1024, (double)(now - c->drain_since) / 1000.0);
	transport_close(c, reason, c->t->opt.drain_ms);
	return 1;
}

/* Handshake state for a connection whose TCP is up. */
static int conn_start_handshake(struct transport_conn *c, const uint8_t *expected)
{
	struct transport *t = c->t;
	struct hs_params p = { t->self, t->netsec, expected, c->outbound ? NULL : t->replay, tr_wall_ms(),
	                       t->rot_old, t->rot_nold, t->cb.on_rotated != NULL };
	uint8_t msg[HS_MSG_MAX];
	size_t len;
	int rc;

	rc = hs_new(c->outbound, &p, &c->hs);
	if (rc != 0)
		return rc;
	uv_tcp_nodelay(&c->tcp, 1);
	rc = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read);
	if (rc != 0)
		return WM_EIO;
	if (c->outbound) {
		rc = hs_start(c->hs, msg, &len);
		if (rc != 0)
			return rc;
		conn_raw_append(c, msg, len);
		c->hs_msg = 2;
	} else {
		c->hs_msg = 1;
	}
	reader_init(&c->rd, hs_want(c->hs));
	conn_pump(c);
	return 0;
}

/* --- listening ------------------------------------------------------------------------ */

static void tr_listener_closed(uv_handle_t *h)
{
	struct transport *t = h->data;

	t->listening = 0;
	tr_maybe_free(t);
}

/* Is host (of an "ip:port") the address of a configured peer? */
static int tr_preferred(const struct transport *t, const char *addr)
{
	size_t hl = tr_host_len(addr);
	const struct transport_dialer *d;

	for (d = t->dialers; d != NULL; d = d->next)
		if (d->prefer && !d->removed && strlen(d->ip) == hl && memcmp(d->ip, addr, hl) == 0)
			return 1;
	return 0;
}

static int tr_same_host(const struct transport_conn *a, const struct transport_conn *b)
{
	size_t hl = tr_host_len(a->addr);

	return tr_host_len(b->addr) == hl && memcmp(a->addr, b->addr, hl) == 0;
}

/*
 * The handshake slots are full (from c's address, same_host; or in all):
 * drop one inbound connection that has not proved anything yet, so that a
 * new connection always gets its chance and nobody can hold the slots shut
 * by keeping connections open.  Never dropped: one that sent a valid
 * message 1, one whose bytes were waiting at accept and are not read yet
 * (an honest initiator sends message 1 at once), and -- for a stranger --
 * one from a configured peer's address.  First a connection whose message
 * 1 already failed, else one of the older half of the silent ones, at
 * random (the oldest are likeliest to be idle, and random, so that an
 * attacker cannot time its connections to stay).  1 if one was dropped.
 */
static int tr_make_room(struct transport *t, struct transport_conn *c, int same_host)
{
	struct transport_conn *o, *doomed = NULL, **silent;
	unsigned n = 0, ndoomed = 0, i, j;

	silent = malloc(t->nconns * sizeof(*silent));
	if (silent == NULL)
		return 0;
	for (o = t->conns; o != NULL; o = o->next) {
		if (o == c || !conn_probe_phase(o) || (o->eager && !o->doomed))
			continue;
		if (same_host ? !tr_same_host(o, c) : (o->preferred && !c->preferred))
			continue;
		if (o->doomed) {
			if (wmc_random_uniform(++ndoomed) == 0)   /* one of them, uniformly */
				doomed = o;
		} else {
			silent[n++] = o;
		}
	}
	if (doomed != NULL) {
		o = doomed;
	} else if (n > 0) {
		/* the older half by accept order: selection of the (n+1)/2 smallest */
		for (i = 0; i < (n + 1) / 2; i++)
			for (j = i + 1; j < n; j++)
				if (silent[j]->seq < silent[i]->seq) {
					o = silent[i];
					silent[i] = silent[j];
					silent[j] = o;
				}
		o = silent[wmc_random_uniform((n + 1) / 2)];
	} else {
		o = NULL;
	}
	free(silent);
	if (o == NULL)
		return 0;
	conn_end(o, o->doomed ? o->doom_why : "handshake slots full: dropped for a newer connection", 0);
	return 1;
}

/* Bytes already waiting on a new connection: an initiator that sent its
 * message 1 at once, as ours do. */
static int conn_eager(struct transport_conn *c)
{
	uv_os_fd_t fd;
	char b;

	return uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0
	       && recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

static void tr_accept(struct transport *t);

/* The poll is over: the connections' reads of this turn have run. */
static void tr_accept_resume(uv_check_t *h)
{
	struct transport *t = h->data;

	uv_check_stop(h);
	t->accept_turn = uv_now(t->loop);
	t->accepts = 0;
	if (!t->freeing)
		tr_accept(t);
}

/*
 * At most TR_ACCEPT_BATCH accepts a turn: libuv accepts until the queue is
 * empty, and a client that reconnects as fast as we close could keep it
 * from ever being empty, so that the reads of the other connections (an
 * honest peer's message 1) would never run.  Not accepting makes libuv
 * stop watching the listener; tr_accept_resume takes it up after the poll.
 */
static void tr_on_connection(uv_stream_t *server, int status)
{
	struct transport *t = server->data;
	uint64_t now = uv_now(t->loop);

	if (status < 0) {
		tr_log(t, "transport: accept failed: %s", uv_strerror(status));
		return;
	}
	if (now != t->accept_turn) {
		t->accept_turn = now;
		t->accepts = 0;
	}
	if (++t->accepts > TR_ACCEPT_BATCH) {
		uv_check_start(&t->acceptcheck, tr_accept_resume);
		return;
	}
	tr_accept(t);
}

static void tr_accept(struct transport *t)
{
	uv_stream_t *server = (uv_stream_t *)&t->listener;
	struct transport_conn *c, *o;
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	unsigned same = 0;
	uint64_t timeout;
	char reason[WM_WHY_LEN];

	c = conn_new(t, 0);
	if (c == NULL) {
		tr_log(t, "transport: out of memory accepting a connection");
		uv_check_start(&t->acceptcheck, tr_accept_resume);   /* try again next turn */
		return;
	}
	t->nhandshakes_in++;   /* conn_end and conn_established count it down */
	c->seq = ++t->accept_seq;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_end(c, "accept failed", 0);
		return;
	}
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0)
		tr_format_sa((const struct sockaddr *)&ss, c->addr, sizeof(c->addr));
	if (t->freeing) {
		conn_end(c, "refused: shutting down", 0);
		return;
	}
	if (t->nopen > t->opt.max_conns) {
		snprintf(reason, sizeof(reason), "refused: too many connections (%u)", t->opt.max_conns);
		conn_end(c, reason, 0);
		return;
	}
	c->eager = conn_eager(c);
	c->preferred = tr_preferred(t, c->addr);
	/* one address cannot take all the handshake slots, nor can all of them
	 * be held shut: see tr_make_room */
	for (o = t->conns; o != NULL; o = o->next)
		if (o != c && !o->outbound && o->state == TR_HANDSHAKE && tr_same_host(o, c))
			same++;
	if (same >= t->opt.max_handshakes_per_addr && !tr_make_room(t, c, 1) && !c->eager) {
		snprintf(reason, sizeof(reason), "refused: too many handshakes in progress from %.*s (%u)",
		         (int)tr_host_len(c->addr), c->addr, t->opt.max_handshakes_per_addr);
		conn_end(c, reason, 0);
		return;
	}
	if (t->nhandshakes_in > t->opt.max_handshakes && !tr_make_room(t, c, 0) && !c->eager
	    && !c->preferred) {
		snprintf(reason, sizeof(reason), "refused: too many handshakes in progress (%u)",
		         t->opt.max_handshakes);
		conn_end(c, reason, 0);
		return;
	}
	/* under pressure (half the slots taken, or this address's all), a
	 * connection that proves nothing is given a fifth of the time */
	timeout = t->opt.handshake_timeout_ms;
	if (2 * t->nhandshakes_in > t->opt.max_handshakes || same >= t->opt.max_handshakes_per_addr)
		timeout /= 5;
	c->probe_deadline = c->started + timeout * (50 + wmc_random_uniform(51)) / 100;
	if (conn_start_handshake(c, NULL) != 0)
		conn_end(c, "cannot start the handshake", 0);
}

int transport_listen(struct transport *t, const char *addr, char why[WM_WHY_LEN])
{
	char host[256], dummy[WM_WHY_LEN];
	uint16_t port;
	struct sockaddr_storage sa;
	int rc;

	if (why == NULL)
		why = dummy;
	if (t == NULL || addr == NULL) {
		snprintf(why, WM_WHY_LEN, "no address");
		return WM_EINVAL;
	}
	if (t->listening || t->freeing) {
		snprintf(why, WM_WHY_LEN, "already listening");
		return WM_EINVAL;
	}
	rc = tr_split_addr(addr, host, sizeof(host), &port, 1, why);
	if (rc != 0)
		return rc;
	if (tr_numeric(host, port, &sa) != 0) {
		snprintf(why, WM_WHY_LEN, "listen address '%.100s' must be an IP address", host);
		return WM_EINVAL;
	}
	if (uv_tcp_init(t->loop, &t->listener) != 0) {
		snprintf(why, WM_WHY_LEN, "cannot create a socket");
		return WM_EIO;
	}
	t->listener.data = t;
	t->listening = 1;
	rc = uv_tcp_bind(&t->listener, (const struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&t->listener, TR_BACKLOG, tr_on_connection);
	if (rc != 0) {
		snprintf(why, WM_WHY_LEN, "cannot listen on %.100s: %s", addr, uv_strerror(rc));
		uv_close((uv_handle_t *)&t->listener, tr_listener_closed);
		return WM_EIO;
	}
	return 0;
}

int transport_listen_port(const struct transport *t)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (t == NULL || !t->listening)
		return WM_EINVAL;
	if (uv_tcp_getsockname(&t->listener, (struct sockaddr *)&ss, &len) != 0)
		return WM_EIO;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return WM_EIO;
}

/* --- dialing --------------------------------------------------------------------------- */

static void dialer_maybe_free(struct transport_dialer *d)
{
	struct transport *t = d->t;

	if (!d->removed || d->timer_open || d->gai_pending)
		return;
	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		t->dialers = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	free(d);
	tr_maybe_free(t);
}

static void dialer_timer_closed(uv_handle_t *h)
{
	struct transport_dialer *d = h->data;

	d->timer_open = 0;
	dialer_maybe_free(d);
}

static void dialer_timer_cb(uv_timer_t *h)
{
	dialer_attempt(h->data);
}

/* Plan the next attempt: exponential backoff with +-25% jitter, never
 * sooner than at_least or a ban on the peer's key. */
static int64_t dialer_plan(struct transport_dialer *d, uint64_t at_least)
{
	struct transport *t = d->t;
	uint64_t base = t->opt.backoff_min_ms, delay, ban;
	unsigned i;

	if (d->removed || t->freeing)
		return -1;
	if (d->have_last && tr_find_up(t, d->last_pub, NULL) != NULL) {
		d->dormant = 1;   /* connected the other way; tr_wake_dialers restarts us */
		uv_timer_stop(&d->timer);
		return -1;
	}
	d->dormant = 0;
	for (i = 0; i < d->failures && base < t->opt.backoff_max_ms; i++)
		base *= 2;
	if (base > t->opt.backoff_max_ms)
		base = t->opt.backoff_max_ms;
	delay = base * (75 + wmc_random_uniform(51)) / 100;
	if (d->failures < 64)
		d->failures++;
	if (delay < at_least)
		delay = at_least;
	ban = d->have_last ? tr_banned(t, d->last_pub) : 0;
	if (delay < ban)
		delay = ban;
	uv_timer_start(&d->timer, dialer_timer_cb, delay, 0);
	return (int64_t)delay;
}

static void dialer_schedule(struct transport_dialer *d, uint64_t at_least)
{
	(void)dialer_plan(d, at_least);
}

static int64_t dialer_conn_ended(struct transport_dialer *d, uint64_t up_ms)
{
	if (d->removed) {
		dialer_maybe_free(d);
		return -1;
	}
	if (up_ms >= d->t->opt.stable_ms)
		d->failures = 0;
	return dialer_plan(d, 0);
}

static void dialer_on_connect(uv_connect_t *req, int status)
{
	struct transport_conn *c = req->data;
	char reason[WM_WHY_LEN];
	struct transport_dialer *d = c->dialer;

	if (status == UV_ECANCELED || c->state != TR_CONNECTING)
		return;
	if (status < 0) {
		snprintf(reason, sizeof(reason), "connect failed: %s", uv_strerror(status));
		conn_end(c, reason, 0);
		return;
	}
	c->state = TR_HANDSHAKE;
	if (conn_start_handshake(c, d != NULL && d->have_expected ? d->expected : NULL) != 0)
		conn_end(c, "cannot start the handshake", 0);
}

static void dialer_dial(struct transport_dialer *d, const struct sockaddr *sa)
{
	struct transport *t = d->t;
	struct transport_conn *c;
	char reason[WM_WHY_LEN];
	int rc;

	if (t->nopen >= t->opt.max_conns) {
		tr_log(t, "peer %s: not dialing, too many connections (%u)", d->addr, t->opt.max_conns);
		dialer_schedule(d, 0);
		return;
	}
	c = conn_new(t, 1);
	if (c == NULL) {
		tr_log(t, "peer %s: out of memory for a connection", d->addr);
		dialer_schedule(d, 0);
		return;
	}
	c->dialer = d;
	d->conn = c;
	tr_format_sa(sa, c->addr, sizeof(c->addr));
	snprintf(d->ip, sizeof(d->ip), "%.*s", (int)tr_host_len(c->addr), c->addr);
	rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, dialer_on_connect);
	if (rc != 0) {
		snprintf(reason, sizeof(reason), "connect failed: %s", uv_strerror(rc));
		conn_end(c, reason, 0);
	}
}

/* A host that did not resolve: one log line, and on_fail. */
static void dialer_failed(struct transport_dialer *d, const char *err, int64_t delay)
{
	struct transport *t = d->t;
	char reason[WM_WHY_LEN];

	snprintf(reason, sizeof(reason), "cannot resolve the host: %s", err);
	tr_log(t, "peer %s: %s; retrying in %.1f s", d->addr, reason,
	       (double)(delay < 0 ? 0 : delay) / 1000.0);
	if (t->cb.on_fail != NULL)
		t->cb.on_fail(t->cb.ctx, d, NULL, reason);
}

static void dialer_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct transport_dialer *d = req->data;
	struct addrinfo *ai;
	struct sockaddr_storage sa;
	int found = 0;

	d->gai_pending = 0;
	if (d->removed) {
		uv_freeaddrinfo(res);
		dialer_maybe_free(d);
		return;
	}
	if (status == 0)
		for (ai = res; ai != NULL && !found; ai = ai->ai_next)
			if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			    && ai->ai_addrlen <= sizeof(sa)) {
				memset(&sa, 0, sizeof(sa));
				memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
				found = 1;
			}
	uv_freeaddrinfo(res);
	if (!found) {
		dialer_failed(d, status < 0 ? uv_strerror(status) : "no IPv4 or IPv6 address",
		              dialer_plan(d, 0));
		return;
	}
	dialer_dial(d, (const struct sockaddr *)&sa);
}

static void dialer_attempt(struct transport_dialer *d)
{
	struct transport *t = d->t;
	struct addrinfo hints;
	int rc;

	if (d->removed || t->freeing || d->conn != NULL || d->gai_pending)
		return;
	if (d->have_last && (tr_find_up(t, d->last_pub, NULL) != NULL || tr_banned(t, d->last_pub) > 0)) {
		dialer_schedule(d, 0);
		return;
	}
	if (d->numeric) {
		dialer_dial(d, (const struct sockaddr *)&d->sa);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	d->gai.data = d;
	rc = uv_getaddrinfo(t->loop, &d->gai, dialer_on_resolved, d->host, d->port_str, &hints);
	if (rc != 0) {
		dialer_failed(d, uv_strerror(rc), dialer_plan(d, 0));
		return;
	}
	d->gai_pending = 1;
}

int transport_connect(struct transport *t, const char *addr, const uint8_t *expected_pub,
                      struct transport_dialer **out, char why[WM_WHY_LEN])
{
	struct transport_dialer *d;
	char dummy[WM_WHY_LEN];
	int rc;

	if (why == NULL)
		why = dummy;
	if (t == NULL || addr == NULL || t->freeing) {
		snprintf(why, WM_WHY_LEN, "no address");
		return WM_EINVAL;
	}
	if (strlen(addr) >= sizeof(d->addr)) {
		snprintf(why, WM_WHY_LEN, "address too long");
		return WM_EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return WM_ENOMEM;
	d->t = t;
	rc = tr_split_addr(addr, d->host, sizeof(d->host), &d->port, 0, why);
	if (rc != 0) {
		free(d);
		return rc;
	}
	snprintf(d->addr, sizeof(d->addr), "%s", addr);
	snprintf(d->port_str, sizeof(d->port_str), "%u", (unsigned)d->port);
	d->numeric = tr_numeric(d->host, d->port, &d->sa) == 0;
	if (expected_pub != NULL) {
		d->have_expected = d->have_last = 1;
		memcpy(d->expected, expected_pub, WM_PUB_LEN);
		memcpy(d->last_pub, expected_pub, WM_PUB_LEN);
	}
	uv_timer_init(t->loop, &d->timer);
	d->timer.data = d;
	d->timer_open = 1;
	d->next = t->dialers;
	if (t->dialers != NULL)
		t->dialers->prev = d;
	t->dialers = d;
	uv_timer_start(&d->timer, dialer_timer_cb, 0, 0);
	if (out != NULL)
		*out = d;
	return 0;
}

void transport_dialer_remove(struct transport_dialer *d)
{
	struct transport_conn *c;

	if (d == NULL || d->removed)
		return;
	d->removed = 1;
	c = d->conn;
	if (c != NULL) {
		c->dialer = NULL;
		d->conn = NULL;
		conn_end(c, d->t->freeing ? "shutting down" : "peer removed from the configuration", 1);
	}
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, dialer_timer_closed);
	if (d->gai_pending)
		uv_cancel((uv_req_t *)&d->gai);   /* its callback still comes, and frees */
}

void transport_dialer_prefer(struct transport_dialer *d)
{
	if (d != NULL)
		d->prefer = 1;
}

const char *transport_dialer_addr(const struct transport_dialer *d)
{
	return d != NULL ? d->addr : "";
}

/* --- the rest of the API ------------------------------------------------------------------ */

void transport_close(struct transport_conn *c, const char *why, uint64_t backoff_ms)
{
	char reason[WM_WHY_LEN + 48];

	if (c == NULL || c->state >= TR_CLOSING)
		return;
	if (backoff_ms > 0 && c->have_pub) {
		tr_ban(c->t, c->pub, backoff_ms);
		snprintf(reason, sizeof(reason), "%s (backed off for %" PRIu64 " s)",
		         why != NULL && *why ? why : "closed", (backoff_ms + 999) / 1000);
	} else {
		snprintf(reason, sizeof(reason), "%s", why != NULL && *why ? why : "closed");
	}
	conn_end(c, reason, 1);
}

void transport_free(struct transport *t)
{
	struct transport_dialer *d;
	struct transport_conn *c;

	if (t == NULL || t->freeing)
		return;
	t->freeing = 1;
	for (d = t->dialers; d != NULL; d = d->next)
		transport_dialer_remove(d);
	for (c = t->conns; c != NULL; c = c->next)
		conn_end(c, "shutting down", 1);
	tr_log_flush(t);
	/* from here on nobody hears from us */
	t->cb.on_up = NULL;
	t->cb.on_frame = NULL;
	t->cb.on_down = NULL;
	t->cb.on_fail = NULL;
	t->cb.allow_peer = NULL;
	t->cb.on_rotated = NULL;
	t->cb.on_log = NULL;
	t->quiet = 1;
	if (t->listening && !uv_is_closing((uv_handle_t *)&t->listener))
		uv_close((uv_handle_t *)&t->listener, tr_listener_closed);
	uv_close((uv_handle_t *)&t->logtimer, tr_logtimer_closed);
	uv_close((uv_handle_t *)&t->acceptcheck, tr_acceptcheck_closed);
	tr_maybe_free(t);
}

int transport_set_rotation(struct transport *t, const uint8_t *recs, size_t n, char why[WM_WHY_LEN])
{
	struct rot_statement st;
	size_t i;

	t->rot_len = t->rot_nold = 0;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (i >= ROT_MAX || rot_decode(recs + i * ROT_RECORD_LEN, &st) != 0) {
			wm_why(why, "record %zu is not a rotation statement", i + 1);
			return WM_EFORMAT;
		}
		memcpy(t->rot_old + i * WM_PUB_LEN, st.old_pub, WM_PUB_LEN);
	}
	if (rot_frame(recs, n, t->rot_frame, sizeof(t->rot_frame), &t->rot_len) != 0) {
		wm_why(why, "too many rotation statements (at most %d)", ROT_MAX);
		return WM_EFORMAT;
	}
	t->rot_nold = n;
	return 0;
}

const uint8_t *transport_conn_pub(const struct transport_conn *c)
{
	return c != NULL && c->have_pub ? c->pub : NULL;
}

const char *transport_conn_addr(const struct transport_conn *c)
{
	return c != NULL ? c->addr : "";
}

int transport_conn_outbound(const struct transport_conn *c)
{
	return c != NULL && c->outbound;
}

struct transport_dialer *transport_conn_dialer(const struct transport_conn *c)
{
	return c != NULL ? c->dialer : NULL;
}

unsigned transport_admitting(const struct transport *t)
{
	const struct transport_conn *o;
	unsigned n = 0;

	for (o = t != NULL ? t->conns : NULL; o != NULL; o = o->next)
		n += o->admitted && !o->announced && o->state < TR_CLOSING;
	return n;
}

size_t transport_conn_queued(const struct transport_conn *c)
{
	return c != NULL ? c->queued + c->raw_len : 0;
}

void transport_conn_set_data(struct transport_conn *c, void *data)
{
	if (c != NULL)
		c->data = data;
}

void *transport_conn_data(const struct transport_conn *c)
{
	return c != NULL ? c->data : NULL;
}
