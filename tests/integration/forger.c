/*
 * tests/integration/forger: a hostile member of the network for
 * test_mesh.py.  It holds the right network secret, so it completes a real
 * handshake (node/net/transport.c) with the node at ADDR, says HELLO like any
 * node (proto/frame.c), then pushes one event no honest node would pass on:
 *
 *   badsig       a request whose signature has one bit flipped
 *   othernet     a request correctly signed by SIGNER, but made in another
 *                network (a random network id): issue 8's item 5 over the
 *                mesh, a lasting refusal
 *   nonofficial  a bulletin with a valid signature by SIGNER, a plain key
 *                file of a resident: its certificate is known, so the
 *                refusal ("not signed by an official") is a lasting one
 *                (a key with no certificate at all would only be refused
 *                for now: its certificate may be on its way)
 *   flood0       1000 valid requests by SIGNER, each as EVENT push=0 (an
 *                answer to an IWANT the node never sent), at once: outside
 *                the rate limits if the node takes them for a repair fetch
 *   slowread     pushes one large request by SIGNER, then asks for it 1024
 *                times in an IWANT every second, and reads what comes back
 *                a few KiB a second: its receive buffer shrunk, its loop
 *                asleep 0.9 s of every second (it still pings, so the link
 *                is not silent).  The node's queue for it stays full.
 *   hold         a throwaway key that only says HELLO and holds the link (and
 *                redials when it is refused or closed), until it is killed;
 *                it prints "key <64 hex>" each time it is up
 *
 *   silent       no member at all: holds N silent TCP connections (GROUP is
 *                N), from 127.0.0.1 (SIGNER is 1) or spread over 127.0.0.2 ..
 *                127.0.0.(SIGNER + 1), each opened again at once when the node
 *                closes it, until TIMEOUT; then prints "silent: <opened>
 *                connections opened, <held> held at the end" and exits 0
 *                (issue 12 item 1: the handshake slots held shut)
 *   oversize     a member that completes the handshake by hand and then
 *                announces a frame of 2 MiB (the limit is 1 MiB), then dials
 *                again every 300 ms until TIMEOUT (GROUP and SIGNER are not
 *                used): prints "oversize sent" once, then for each later try
 *                "up" or "closed: <the reason in the node's closing frame>" (issue 12 item 3)
 *
 * It prints "key <64 hex>" (its own node key) and "id <64 hex>" (the
 * (first) forged event's id) once sent, then
 * "down: <reason>" and exits 0 when the node closes the link, or exits 1
 * after TIMEOUT seconds (default 20) if it was never disconnected.
 *
 *   usage: forger NETWORK-FILE HOST:PORT badsig|othernet|nonofficial|flood0|slowread|hold
 *                 GROUP SIGNER [TIMEOUT]
 *          forger NETWORK-FILE HOST:PORT silent N ADDRESSES [TIMEOUT]
 *          forger NETWORK-FILE HOST:PORT oversize - - [TIMEOUT]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "clock.h"
#include "event.h"
#include "frame.h"
#include "handshake.h"
#include "keyfile.h"
#include "netfile.h"
#include "transport.h"
#include "wmcrypto.h"

#define FLOOD_N 1000
#define SLOW_TEXT 12000                 /* bytes of text in slowread's event */

struct forger {
	uv_loop_t loop;
	uv_timer_t timeout;
	uv_timer_t slow;                /* slowread: ask, read a little, sleep */
	struct transport *tr;
	struct transport_conn *conn;
	uint8_t id[WM_ID_LEN];
	struct key *self;               /* the forger's node key (random) */
	struct key *signer;             /* the event's author */
	const char *mode, *group;
	uint8_t network[WM_NETWORK_LEN];  /* the id its events carry */
	int sent, down, finished, rc;
	int slowing;                    /* slowread: the receive buffer is shrunk */
	unsigned n;                     /* events forged so far */
};

static int send_frame(struct transport_conn *c, const struct frame *f)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[WM_WHY_LEN] = "";
	int rc = frame_encode(f, &buf, &len, why);

	if (rc) {
		fprintf(stderr, "forger: cannot encode %s: %s\n", frame_type_name(f->type), why);
		return rc;
	}
	rc = transport_send(c, buf, len, TRANSPORT_PRIO_NORMAL);
	free(buf);
	return rc;
}

static int forge(struct forger *fg, uint8_t **wire, size_t *len, uint8_t id[WM_ID_LEN])
{
	struct event_draft d;
	char why[WM_WHY_LEN] = "", text[64];
	int rc;

	memset(&d, 0, sizeof d);
	memcpy(d.author, fg->signer->pub, WM_PUB_LEN);
	d.created_at = wm_now_ms();
	memcpy(d.network, fg->network, WM_NETWORK_LEN);
	d.group = fg->group;
	if (strcmp(fg->mode, "othernet") == 0) {
		wmc_random(d.network, WM_NETWORK_LEN);
		d.kind = KIND_REQUEST;
		draft_str(&d, "topic", "other");
		draft_str(&d, "text", "a request from another network");
	} else if (strcmp(fg->mode, "badsig") == 0) {
		d.kind = KIND_REQUEST;
		draft_str(&d, "topic", "other");
		draft_str(&d, "text", "forged request: this signature was tampered with");
	} else if (strcmp(fg->mode, "slowread") == 0) {
		static char big[SLOW_TEXT + 1];

		for (size_t i = 0; i < SLOW_TEXT; i++)
			big[i] = "slow reader "[i % 12];
		d.kind = KIND_REQUEST;
		draft_str(&d, "topic", "other");
		draft_str(&d, "text", big);
	} else if (strcmp(fg->mode, "flood0") == 0) {
		snprintf(text, sizeof text, "flood %u: nobody asked for this", fg->n);
		d.kind = KIND_REQUEST;
		draft_str(&d, "topic", "other");
		draft_str(&d, "text", text);
	} else {
		d.kind = KIND_BULLETIN;
		draft_str(&d, "title", "假通知");
		draft_str(&d, "text", "forged bulletin by a key that is no officer");
		draft_str(&d, "category", "notice");
	}
	rc = event_build(&d, fg->signer, wire, len, id, why);
	fg->n++;
	if (rc) {
		fprintf(stderr, "forger: cannot build the event: %s\n", why);
		return rc;
	}
	if (strcmp(fg->mode, "badsig") == 0) {
		struct event_peek pk;

		if (event_peek(*wire, *len, 0, &pk, why) != 0) {
			fprintf(stderr, "forger: cannot read the event built: %s\n", why);
			return WM_EINVAL;
		}
		(*wire)[pk.sig - *wire] ^= 0x01;   /* the first byte of the signature */
	}
	return 0;
}

static void shrink_rcvbuf(uv_handle_t *h, void *arg)
{
	int v = 2048;

	(void)arg;
	if (h->type == UV_TCP)
		uv_recv_buffer_size(h, &v);
}

/* slowread, every second: ask for the event 1024 times over, then sleep
 * most of the second, so that the transport reads only now and then. */
static void on_slow(uv_timer_t *t)
{
	struct forger *fg = t->data;
	static uint8_t ids[FRAME_MAX_IDS][WM_ID_LEN];
	struct frame f;

	if (fg->down || fg->conn == NULL)
		return;
	if (!fg->slowing) {
		fg->slowing = 1;
		uv_walk(&fg->loop, shrink_rcvbuf, NULL);
	}
	for (size_t i = 0; i < FRAME_MAX_IDS; i++)
		memcpy(ids[i], fg->id, WM_ID_LEN);
	memset(&f, 0, sizeof f);
	f.type = FRAME_IWANT;
	f.ids.n = FRAME_MAX_IDS;
	f.ids.ids = &ids[0][0];
	(void)send_frame(fg->conn, &f);
	usleep(900 * 1000);
}

static void on_up(void *ctx, struct transport_conn *c, const uint8_t pub[WM_PUB_LEN], int outbound)
{
	struct forger *fg = ctx;
	struct frame f;
	uint8_t *wire = NULL, id[WM_ID_LEN];
	size_t len = 0;
	char hex[2 * WM_ID_LEN + 1];

	(void)pub;
	(void)outbound;
	if (fg->sent)
		return;
	memset(&f, 0, sizeof f);
	f.type = FRAME_HELLO;
	f.hello.version = FRAME_VERSION;
	f.hello.name = frame_str_c("forger");
	frame_groups_parse("*", &f.hello.groups);
	f.hello.software = frame_str_c("forger 1");
	f.hello.repair_ms = 600000;
	if (strcmp(fg->mode, "hold") == 0) {
		hex_encode(hex, fg->self->pub, WM_PUB_LEN);
		printf("key %s\n", hex);
		fflush(stdout);
		if (send_frame(c, &f) != 0)
			transport_close(c, "forger failed", 0);
		return;
	}
	if (send_frame(c, &f) != 0 || forge(fg, &wire, &len, id) != 0) {
		fg->rc = 1;
		transport_close(c, "forger failed", 0);
		return;
	}
	hex_encode(hex, id, WM_ID_LEN);
	memset(&f, 0, sizeof f);
	f.type = FRAME_EVENT;
	f.event.push = strcmp(fg->mode, "flood0") != 0;
	for (;;) {
		f.event.wire = wire;
		f.event.len = len;
		if (send_frame(c, &f) != 0) {
			free(wire);
			fg->rc = 1;
			transport_close(c, "forger failed", 0);
			return;
		}
		free(wire);
		wire = NULL;
		if (f.event.push || fg->n == FLOOD_N)
			break;
		if (forge(fg, &wire, &len, id) != 0) {
			fg->rc = 1;
			transport_close(c, "forger failed", 0);
			return;
		}
	}
	fg->sent = 1;
	fg->conn = c;
	memcpy(fg->id, id, WM_ID_LEN);
	if (strcmp(fg->mode, "slowread") == 0)
		uv_timer_start(&fg->slow, on_slow, 500, 1000);
	printf("id %s\n", hex);
	hex_encode(hex, fg->self->pub, WM_PUB_LEN);
	printf("key %s\n", hex);
	fflush(stdout);
}

static void on_frame(void *ctx, struct transport_conn *c, const uint8_t *b, size_t len)
{
	(void)ctx;
	(void)c;
	(void)b;
	(void)len;
}

static void finish(struct forger *fg)
{
	if (fg->finished)
		return;
	fg->finished = 1;
	fg->conn = NULL;
	uv_timer_stop(&fg->timeout);
	uv_close((uv_handle_t *)&fg->timeout, NULL);
	uv_close((uv_handle_t *)&fg->slow, NULL);
	transport_free(fg->tr);
	fg->tr = NULL;
}

static void on_down(void *ctx, struct transport_conn *c, const char *reason)
{
	struct forger *fg = ctx;

	(void)c;
	if (fg->down || !fg->sent)
		return;
	fg->down = 1;
	printf("down: %s\n", reason);
	fflush(stdout);
	finish(fg);
}

static void on_log(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "forger: %s\n", line);
}

static void on_timeout(uv_timer_t *t)
{
	struct forger *fg = t->data;

	fprintf(stderr, "forger: %s\n", fg->sent ? "sent, but never disconnected"
	                                           : "never got a link up");
	fg->rc = 1;
	finish(fg);
}

/* --- silent: connections that say nothing ----------------------------------------- */

struct silent {
	uv_loop_t *loop;
	struct sockaddr_in to;
	unsigned naddrs;
	int stopping;
	unsigned long opened, held;
};

struct silent_conn {
	struct silent *s;
	unsigned i;
	uv_tcp_t tcp;
	uv_connect_t req;
	int up;
};

static void silent_open(struct silent_conn *sc);

static void silent_alloc(uv_handle_t *h, size_t sug, uv_buf_t *buf)
{
	static char scratch[4096];

	(void)h;
	(void)sug;
	buf->base = scratch;
	buf->len = sizeof(scratch);
}

static void silent_closed(uv_handle_t *h)
{
	struct silent_conn *sc = h->data;

	if (!sc->s->stopping)
		silent_open(sc);   /* at once: the attack keeps every connection it can */
}

static void silent_drop(struct silent_conn *sc)
{
	if (sc->up)
		sc->s->held--;
	sc->up = 0;
	if (!uv_is_closing((uv_handle_t *)&sc->tcp))
		uv_close((uv_handle_t *)&sc->tcp, silent_closed);
}

static void silent_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	if (n < 0)
		silent_drop(st->data);   /* the node closed it */
}

static void silent_connected(uv_connect_t *req, int status)
{
	struct silent_conn *sc = req->data;

	if (status < 0 || sc->s->stopping) {
		silent_drop(sc);
		return;
	}
	sc->up = 1;
	sc->s->held++;
	sc->s->opened++;
	uv_read_start((uv_stream_t *)&sc->tcp, silent_alloc, silent_read);
}

static void silent_open(struct silent_conn *sc)
{
	struct sockaddr_in from;
	char ip[32];

	snprintf(ip, sizeof(ip), "127.0.0.%u", sc->s->naddrs <= 1 ? 1 : 2 + sc->i % sc->s->naddrs);
	uv_ip4_addr(ip, 0, &from);
	uv_tcp_init(sc->s->loop, &sc->tcp);
	sc->tcp.data = sc;
	sc->req.data = sc;
	if (uv_tcp_bind(&sc->tcp, (const struct sockaddr *)&from, 0) != 0 ||
	    uv_tcp_connect(&sc->req, &sc->tcp, (const struct sockaddr *)&sc->s->to, silent_connected) != 0)
		uv_close((uv_handle_t *)&sc->tcp, NULL);   /* out of ports: one slot less */
}

static void silent_stop_one(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void silent_timeout(uv_timer_t *t)
{
	struct silent *s = t->data;

	s->stopping = 1;
	printf("silent: %lu connections opened, %lu held at the end\n", s->opened, s->held);
	fflush(stdout);
	uv_walk(s->loop, silent_stop_one, NULL);
}

static int silent_main(const char *addr, const char *n_str, const char *naddrs_str, long secs)
{
	uv_loop_t loop;
	uv_timer_t timer;
	struct silent s;
	struct silent_conn *conns;
	char host[64];
	const char *colon = strrchr(addr, ':');
	long n = strtol(n_str, NULL, 10), naddrs = strtol(naddrs_str, NULL, 10);

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host) || n < 1 || n > 5000 || naddrs < 1
	    || naddrs > 250) {
		fprintf(stderr, "forger: silent needs HOST:PORT, 1..5000 connections, 1..250 addresses\n");
		return 2;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	memset(&s, 0, sizeof(s));
	uv_loop_init(&loop);
	s.loop = &loop;
	s.naddrs = (unsigned)naddrs;
	if (uv_ip4_addr(host, atoi(colon + 1), &s.to) != 0) {
		fprintf(stderr, "forger: silent: %s is not an IPv4 address\n", host);
		return 2;
	}
	conns = calloc((size_t)n, sizeof(*conns));
	if (conns == NULL)
		return 2;
	for (long i = 0; i < n; i++) {
		conns[i].s = &s;
		conns[i].i = (unsigned)i;
		silent_open(&conns[i]);
	}
	uv_timer_init(&loop, &timer);
	timer.data = &s;
	uv_timer_start(&timer, silent_timeout, (uint64_t)secs * 1000, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(conns);
	return 0;
}

/* --- oversize: a frame above the limit, by hand, then dial again ----------------------- */

static int recv_exact(int fd, uint8_t *b, size_t n)
{
	size_t have = 0;

	while (have < n) {
		ssize_t r = recv(fd, b + have, n - have, 0);

		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	return 0;
}

/* One connection: the handshake as initiator with blocking sockets.  Then
 * either the 2 MiB announcement (first), or a wait for what the node says:
 * a closing frame (a refusal) or nothing within a second (up). */
static int oversize_try(const struct sockaddr_in *to, const struct key *self, const uint8_t *netsec,
                        int first)
{
	struct hs_params p = { self, netsec, NULL, NULL, wm_now_ms(), NULL, 0, 0 };
	struct hs *hs = NULL;
	struct chan *ch = NULL;
	uint8_t m[HS_MSG_MAX], in[HS_MSG4_LEN + CHAN_HEADER_LEN], header[CHAN_HEADER_LEN];
	uint8_t prefix[CHAN_PREFIX_LEN], body[512], plain[512];
	uint32_t big = 2u * 1024 * 1024;
	size_t len = 0, ct = 0, plen = 0;
	char why[WM_WHY_LEN] = "", text[256];
	struct timeval tv = { 1, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), fin = 0, rc = -1;

	if (fd < 0 || connect(fd, (const struct sockaddr *)to, sizeof(*to)) != 0 || hs_new(1, &p, &hs) != 0
	    || hs_start(hs, m, &len) != 0 || send(fd, m, len, 0) != (ssize_t)len
	    || recv_exact(fd, in, HS_MSG2_LEN) != 0 || hs_recv(hs, in, HS_MSG2_LEN, m, &len, why) != 0
	    || send(fd, m, len, 0) != (ssize_t)len || recv_exact(fd, in, sizeof(in)) != 0
	    || hs_recv(hs, in, HS_MSG4_LEN, m, &len, why) != 0 || chan_new(hs, &ch, header) != 0
	    || chan_set_rx_header(ch, in + HS_MSG4_LEN, why) != 0
	    || send(fd, header, sizeof(header), 0) != (ssize_t)sizeof(header)) {
		printf("failed: %s\n", why[0] ? why : "connect or handshake");
		goto out;
	}
	if (first) {
		prefix[0] = (uint8_t)(big >> 24);
		prefix[1] = (uint8_t)(big >> 16);
		prefix[2] = (uint8_t)(big >> 8);
		prefix[3] = (uint8_t)big;
		if (send(fd, prefix, sizeof(prefix), 0) == (ssize_t)sizeof(prefix))
			printf("oversize sent\n");
		rc = 0;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv_exact(fd, prefix, sizeof(prefix)) != 0) {
		printf("up\n");   /* a second of silence: the node took us */
		rc = 0;
		goto out;
	}
	if (chan_frame_len(prefix, &ct, why) != 0 || ct > sizeof(body) || recv_exact(fd, body, ct) != 0
	    || chan_open(ch, prefix, body, ct, plain, &plen, &fin, why) != 0) {
		printf("failed: %s\n", why[0] ? why : "the node's first frame");
		goto out;
	}
	if (!fin) {
		printf("up\n");   /* the node speaks to us (its HELLO) */
		rc = 0;
		goto out;
	}
	snprintf(text, sizeof(text), "%.*s", (int)plen, (const char *)plain);
	printf("closed: %s\n", text);
	rc = 0;
out:
	fflush(stdout);
	hs_free(hs);
	chan_free(ch);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int oversize_main(const char *netfile, const char *addr, long secs)
{
	struct network net;
	struct sockaddr_in to;
	struct key *self = NULL;
	char why[WM_WHY_LEN] = "", host[64];
	const char *colon = strrchr(addr, ':');
	time_t end = time(NULL) + secs;
	int first = 1;

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
		return 2;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &to.sin_addr) != 1 || wmc_init() != 0
	    || network_load(netfile, &net, why) != 0 || key_generate(&self) != 0) {
		fprintf(stderr, "forger: %s\n", why[0] ? why : "cannot initialise");
		return 2;
	}
	while (time(NULL) < end) {
		if (oversize_try(&to, self, net.secret, first) != 0)
			break;
		first = 0;
		usleep(300 * 1000);
	}
	wmc_wipe(&net, sizeof net);
	key_free(self);
	return 0;
}

int main(int argc, char **argv)
{
	struct forger fg;
	struct network net;
	struct transport_callbacks cb;
	struct transport_options opt;
	char why[WM_WHY_LEN] = "";
	long secs = 20;

	if (argc >= 6 && argc <= 7 && strcmp(argv[3], "oversize") == 0) {
		signal(SIGPIPE, SIG_IGN);
		return oversize_main(argv[1], argv[2], argc == 7 ? strtol(argv[6], NULL, 10) : 20);
	}
	if (argc >= 6 && argc <= 7 && strcmp(argv[3], "silent") == 0) {
		signal(SIGPIPE, SIG_IGN);
		return silent_main(argv[2], argv[4], argv[5], argc == 7 ? strtol(argv[6], NULL, 10) : 20);
	}
	if (argc < 6 || argc > 7 ||
	    (strcmp(argv[3], "badsig") && strcmp(argv[3], "othernet") && strcmp(argv[3], "nonofficial") &&
	     strcmp(argv[3], "flood0") && strcmp(argv[3], "slowread") && strcmp(argv[3], "hold"))) {
		fprintf(stderr, "usage: forger NETWORK-FILE HOST:PORT badsig|othernet|nonofficial|flood0|"
		                "slowread|hold GROUP SIGNER [TIMEOUT]\n");
		return 2;
	}
	if (argc == 7)
		secs = strtol(argv[6], NULL, 10);
	if (secs <= 0 || secs > 3600)
		secs = 20;
	signal(SIGPIPE, SIG_IGN);
	memset(&fg, 0, sizeof fg);
	fg.mode = argv[3];
	fg.group = argv[4];
	if (wmc_init() != 0 || network_load(argv[1], &net, why) != 0) {
		fprintf(stderr, "forger: %s\n", why[0] ? why : "cannot initialise");
		return 2;
	}
	memcpy(fg.network, net.id, WM_NETWORK_LEN);
	if (key_generate(&fg.self) != 0)
		return 2;
	if (files_load_key(argv[5], NULL, 1, &fg.signer, why) != 0) {
		fprintf(stderr, "forger: %s: %s\n", argv[5], why);
		return 2;
	}
	uv_loop_init(&fg.loop);
	memset(&cb, 0, sizeof cb);
	cb.ctx = &fg;
	cb.on_up = on_up;
	cb.on_frame = on_frame;
	cb.on_down = on_down;
	cb.on_log = on_log;
	transport_options_default(&opt);
	opt.backoff_min_ms = 200;
	if (transport_new(&fg.loop, fg.self, net.secret, &cb, &opt, &fg.tr) != 0 ||
	    transport_connect(fg.tr, argv[2], NULL, NULL, why) != 0) {
		fprintf(stderr, "forger: cannot dial %s: %s\n", argv[2], why);
		return 2;
	}
	wmc_wipe(&net, sizeof net);
	uv_timer_init(&fg.loop, &fg.timeout);
	fg.timeout.data = &fg;
	uv_timer_init(&fg.loop, &fg.slow);
	fg.slow.data = &fg;
	uv_timer_start(&fg.timeout, on_timeout, (uint64_t)secs * 1000, 0);
	uv_run(&fg.loop, UV_RUN_DEFAULT);
	uv_loop_close(&fg.loop);
	key_free(fg.self);
	key_free(fg.signer);
	return fg.rc ? 1 : (fg.down ? 0 : 1);
}
