/*
 * node/transport over real loopback sockets: several transports in one uv
 * loop on 127.0.0.1 with port 0, plus "raw" peers that speak the wire by
 * hand (crypto/handshake.h driven from the test) to send garbage, truncated,
 * replayed and oversize input.  Every check is on outcomes -- callbacks,
 * frames, log lines -- never on how long something took; time limits only
 * keep a broken build from hanging.  Every test ends with the loop empty:
 * a leaked handle fails it.
 *
 *   test_transport links    transports talking to each other
 *   test_transport raw      hand-made bytes against a listening transport
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <uv.h>

#include "handshake.h"
#include "transport.h"
#include "wmcrypto.h"

#define WAIT_MS 10000   /* only a guard against hangs; nothing waits this long when it works */

static const uint8_t net1[WM_SECRET_LEN] = { 0x5e, 0xc1 };
static const uint8_t net2[WM_SECRET_LEN] = { 0x5e, 0xc2 };

/* --- harness ---------------------------------------------------------------------------- */

struct harness {
	uv_loop_t loop;
	uv_timer_t ticker;   /* wakes uv_run(ONCE) so conditions are re-checked */
};

struct frame_copy {
	uint8_t *b;
	size_t len;
};

struct peer {
	const char *name;
	struct harness *h;
	struct key *key;
	struct transport *t;
	struct transport_options opt;
	int ups, downs;
	struct transport_conn *conn;   /* the last one up, NULL once down */
	uint8_t up_pub[WM_PUB_LEN];
	int up_outbound;
	char last_down[512];
	int fails;                     /* on_fail: links that ended before they were up */
	struct transport_dialer *fail_dialer;
	int fail_has_pub;
	uint8_t fail_pub[WM_PUB_LEN];
	char last_fail[512];
	struct frame_copy *frames;
	size_t nframes, capframes;
	char **lines;
	size_t nlines;
	const char *refuse;            /* allow_peer refuses with this text */
};

/* The wall clock, as the transport reads it for message 1's time. */
static uint64_t wall_ms(void)
{
	uv_timeval64_t tv;

	assert_int_equal(uv_gettimeofday(&tv), 0);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void ticker_cb(uv_timer_t *t)
{
	(void)t;
}

static void harness_init(struct harness *h)
{
	assert_int_equal(uv_loop_init(&h->loop), 0);
	uv_timer_init(&h->loop, &h->ticker);
}

#define RUN_UNTIL(h, cond, ms)                                                             \
	do {                                                                                \
		uint64_t dl_ = uv_hrtime() + (uint64_t)(ms) * 1000000u;                     \
		uv_timer_start(&(h)->ticker, ticker_cb, 5, 5);                              \
		while (!(cond) && uv_hrtime() < dl_)                                        \
			uv_run(&(h)->loop, UV_RUN_ONCE);                                    \
		uv_timer_stop(&(h)->ticker);                                                \
	} while (0)

static void on_up(void *ctx, struct transport_conn *c, const uint8_t pub[WM_PUB_LEN], int outbound)
{
	struct peer *p = ctx;

	p->ups++;
	p->conn = c;
	memcpy(p->up_pub, pub, WM_PUB_LEN);
	p->up_outbound = outbound;
	assert_memory_equal(transport_conn_pub(c), pub, WM_PUB_LEN);
	assert_int_equal(transport_conn_outbound(c), outbound);
}

static void on_frame(void *ctx, struct transport_conn *c, const uint8_t *b, size_t len)
{
	struct peer *p = ctx;

	(void)c;
	assert_true(len > 0 && len <= TRANSPORT_FRAME_MAX);
	if (p->nframes == p->capframes) {
		p->capframes = p->capframes ? 2 * p->capframes : 16;
		p->frames = realloc(p->frames, p->capframes * sizeof(*p->frames));
		assert_non_null(p->frames);
	}
	p->frames[p->nframes].b = malloc(len);
	assert_non_null(p->frames[p->nframes].b);
	memcpy(p->frames[p->nframes].b, b, len);
	p->frames[p->nframes].len = len;
	p->nframes++;
}

static void on_down(void *ctx, struct transport_conn *c, const char *reason)
{
	struct peer *p = ctx;

	p->downs++;
	if (p->conn == c)
		p->conn = NULL;
	snprintf(p->last_down, sizeof(p->last_down), "%s", reason);
}

static void on_fail(void *ctx, struct transport_dialer *d, const uint8_t *pub, const char *reason)
{
	struct peer *p = ctx;

	p->fails++;
	p->fail_dialer = d;
	p->fail_has_pub = pub != NULL;
	if (pub != NULL)
		memcpy(p->fail_pub, pub, WM_PUB_LEN);
	snprintf(p->last_fail, sizeof(p->last_fail), "%s", reason);
}

static void on_log(void *ctx, const char *line)
{
	struct peer *p = ctx;

	fprintf(stderr, "  [%s] %s\n", p->name, line);
	p->lines = realloc(p->lines, (p->nlines + 1) * sizeof(*p->lines));
	assert_non_null(p->lines);
	p->lines[p->nlines] = strdup(line);
	assert_non_null(p->lines[p->nlines]);
	p->nlines++;
}

static int allow_peer(void *ctx, struct transport_conn *c, const uint8_t pub[WM_PUB_LEN],
                      char why[WM_WHY_LEN])
{
	struct peer *p = ctx;

	(void)pub;
	/* what the daemon's admission reads: the dialer of an outbound link */
	assert_true((transport_conn_dialer(c) != NULL) == transport_conn_outbound(c));
	if (p->refuse == NULL)
		return 0;
	snprintf(why, WM_WHY_LEN, "%s", p->refuse);
	return 1;
}

/* Lines of p's log that contain all of the given substrings (NULL-ended). */
static int log_count(const struct peer *p, const char *a, const char *b)
{
	int n = 0;

	for (size_t i = 0; i < p->nlines; i++)
		if (strstr(p->lines[i], a) != NULL && (b == NULL || strstr(p->lines[i], b) != NULL))
			n++;
	return n;
}

static void test_options(struct transport_options *o)
{
	transport_options_default(o);
	o->keepalive_ms = 10000;
	o->handshake_timeout_ms = 3000;
	o->backoff_min_ms = 50;
	o->backoff_max_ms = 400;
}

static void peer_init(struct peer *p, struct harness *h, const char *name, uint8_t seedbyte,
                      const uint8_t *netsec, const struct transport_options *opt)
{
	uint8_t seed[32];
	struct transport_callbacks cb = { p, on_up, on_frame, on_down, on_log, allow_peer, on_fail, NULL };

	memset(p, 0, sizeof(*p));
	p->name = name;
	p->h = h;
	memset(seed, seedbyte, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &p->key), 0);
	if (opt != NULL)
		p->opt = *opt;
	else
		test_options(&p->opt);
	assert_int_equal(transport_new(&h->loop, p->key, netsec, &cb, &p->opt, &p->t), 0);
}

static int peer_listen(struct peer *p)
{
	char why[WM_WHY_LEN] = "";
	int port;

	assert_int_equal(transport_listen(p->t, "127.0.0.1:0", why), 0);
	port = transport_listen_port(p->t);
	assert_true(port > 0);
	return port;
}

static struct transport_dialer *peer_dial(struct peer *p, int port, const uint8_t *expected)
{
	char addr[64], why[WM_WHY_LEN] = "";
	struct transport_dialer *d = NULL;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(transport_connect(p->t, addr, expected, &d, why), 0);
	assert_non_null(d);
	return d;
}

/* Free the transport; keeps the log for later checks. */
static void peer_stop(struct peer *p)
{
	transport_free(p->t);
	p->t = NULL;
}

static void peer_clear(struct peer *p)
{
	transport_free(p->t);
	p->t = NULL;
	key_free(p->key);
	for (size_t i = 0; i < p->nframes; i++)
		free(p->frames[i].b);
	free(p->frames);
	for (size_t i = 0; i < p->nlines; i++)
		free(p->lines[i]);
	free(p->lines);
	memset(p, 0, sizeof(*p));
}

static void close_walk(uv_handle_t *hd, void *arg)
{
	(void)arg;
	fprintf(stderr, "  leaked handle of type %s\n", uv_handle_type_name(uv_handle_get_type(hd)));
}

/* Everything freed: the loop must then run dry. */
static void harness_finish(struct harness *h)
{
	uint64_t dl = uv_hrtime() + 5000ull * 1000000u;

	uv_close((uv_handle_t *)&h->ticker, NULL);
	while (uv_loop_alive(&h->loop) && uv_hrtime() < dl)
		uv_run(&h->loop, UV_RUN_ONCE);
	if (uv_loop_alive(&h->loop))
		uv_walk(&h->loop, close_walk, NULL);
	assert_false(uv_loop_alive(&h->loop));
	assert_int_equal(uv_loop_close(&h->loop), 0);
}

/* --- transports talking to each other ----------------------------------------------------- */

static void test_up_and_frames(void **state)
{
	struct harness h;
	struct peer a, b;
	int port;
	uint8_t *big = malloc(TRANSPORT_FRAME_MAX);
	const char *hi = "hello a", *back = "hello b";

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	peer_init(&b, &h, "b", 0xb2, net1, NULL);
	port = peer_listen(&a);
	peer_dial(&b, port, a.key->pub);
	RUN_UNTIL(&h, a.ups == 1 && b.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	assert_int_equal(b.ups, 1);
	assert_memory_equal(a.up_pub, b.key->pub, WM_PUB_LEN);
	assert_memory_equal(b.up_pub, a.key->pub, WM_PUB_LEN);
	assert_int_equal(a.up_outbound, 0);
	assert_int_equal(b.up_outbound, 1);
	assert_int_equal(log_count(&a, "connected (inbound)", NULL), 1);
	assert_int_equal(log_count(&b, "connected (outbound)", NULL), 1);
	assert_string_equal(transport_conn_addr(b.conn), transport_conn_addr(b.conn));
	assert_non_null(strstr(transport_conn_addr(b.conn), "127.0.0.1:"));

	/* small frames both ways, then the largest one */
	assert_int_equal(transport_send(b.conn, (const uint8_t *)hi, strlen(hi), TRANSPORT_PRIO_NORMAL), 0);
	assert_int_equal(transport_send(a.conn, (const uint8_t *)back, strlen(back), TRANSPORT_PRIO_NORMAL), 0);
	for (size_t i = 0; i < TRANSPORT_FRAME_MAX; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(transport_send(b.conn, big, TRANSPORT_FRAME_MAX, TRANSPORT_PRIO_NORMAL), 0);
	RUN_UNTIL(&h, a.nframes == 2 && b.nframes == 1, WAIT_MS);
	assert_int_equal(a.nframes, 2);
	assert_int_equal(b.nframes, 1);
	assert_int_equal(a.frames[0].len, strlen(hi));
	assert_memory_equal(a.frames[0].b, hi, strlen(hi));
	assert_int_equal(a.frames[1].len, TRANSPORT_FRAME_MAX);
	assert_memory_equal(a.frames[1].b, big, TRANSPORT_FRAME_MAX);
	assert_memory_equal(b.frames[0].b, back, strlen(back));

	/* what transport_send refuses */
	assert_int_equal(transport_send(b.conn, big, 0, TRANSPORT_PRIO_NORMAL), WM_ETOOBIG);
	assert_int_equal(transport_send(b.conn, big, TRANSPORT_FRAME_MAX + 1, TRANSPORT_PRIO_NORMAL), WM_ETOOBIG);
	assert_int_equal(transport_send(b.conn, NULL, 5, TRANSPORT_PRIO_NORMAL), WM_EINVAL);
	assert_int_equal(transport_send(NULL, big, 5, TRANSPORT_PRIO_NORMAL), WM_EINVAL);

	/* many frames in order */
	for (uint32_t i = 0; i < 1000; i++) {
		uint8_t msg[4] = { (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };

		assert_int_equal(transport_send(a.conn, msg, sizeof(msg), TRANSPORT_PRIO_NORMAL), 0);
	}
	RUN_UNTIL(&h, b.nframes == 1001, WAIT_MS);
	assert_int_equal(b.nframes, 1001);
	for (uint32_t i = 0; i < 1000; i++) {
		const uint8_t *m = b.frames[1 + i].b;

		assert_int_equal(b.frames[1 + i].len, 4);
		assert_int_equal((uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3], i);
	}

	/* shutting down: the other side hears why */
	peer_stop(&a);
	assert_int_equal(a.downs, 1);   /* on_down inside transport_free */
	RUN_UNTIL(&h, b.downs == 1, WAIT_MS);
	assert_int_equal(b.downs, 1);
	assert_non_null(strstr(b.last_down, "the peer closed the connection: shutting down"));
	peer_clear(&a);
	peer_clear(&b);
	harness_finish(&h);
	free(big);
}

/* Three nodes in a line, a <- b <- c: b holds two links and each frame
 * goes where it was sent. */
static void test_three_in_a_line(void **state)
{
	struct harness h;
	struct peer a, b, c;
	struct transport_conn *b_to_a = NULL, *b_to_c = NULL;
	int pa, pb;

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	peer_init(&b, &h, "b", 0xb2, net1, NULL);
	peer_init(&c, &h, "c", 0xc3, net1, NULL);
	pa = peer_listen(&a);
	pb = peer_listen(&b);
	peer_dial(&b, pa, a.key->pub);
	RUN_UNTIL(&h, a.ups == 1 && b.ups == 1, WAIT_MS);
	assert_int_equal(b.ups, 1);
	b_to_a = b.conn;
	peer_dial(&c, pb, b.key->pub);
	RUN_UNTIL(&h, b.ups == 2 && c.ups == 1, WAIT_MS);
	assert_int_equal(b.ups, 2);
	b_to_c = b.conn;
	assert_ptr_not_equal(b_to_a, b_to_c);
	assert_memory_equal(transport_conn_pub(b_to_a), a.key->pub, WM_PUB_LEN);
	assert_memory_equal(transport_conn_pub(b_to_c), c.key->pub, WM_PUB_LEN);
	assert_int_equal(transport_conn_outbound(b_to_a), 1);
	assert_int_equal(transport_conn_outbound(b_to_c), 0);
	transport_conn_set_data(b_to_c, &c);
	assert_ptr_equal(transport_conn_data(b_to_c), &c);
	assert_null(transport_conn_data(b_to_a));

	assert_int_equal(transport_send(b_to_a, (const uint8_t *)"to a", 4, TRANSPORT_PRIO_NORMAL), 0);
	assert_int_equal(transport_send(b_to_c, (const uint8_t *)"to c", 4, TRANSPORT_PRIO_HIGH), 0);
	assert_int_equal(transport_send(a.conn, (const uint8_t *)"from a", 6, TRANSPORT_PRIO_NORMAL), 0);
	assert_int_equal(transport_send(c.conn, (const uint8_t *)"from c", 6, TRANSPORT_PRIO_NORMAL), 0);
	RUN_UNTIL(&h, a.nframes == 1 && c.nframes == 1 && b.nframes == 2, WAIT_MS);
	assert_int_equal(a.nframes, 1);
	assert_int_equal(c.nframes, 1);
	assert_int_equal(b.nframes, 2);
	assert_memory_equal(a.frames[0].b, "to a", 4);
	assert_memory_equal(c.frames[0].b, "to c", 4);

	/* the middle node stops: both ends hear it, and a's link to nobody stays down */
	peer_stop(&b);
	assert_int_equal(b.downs, 2);
	RUN_UNTIL(&h, a.downs == 1 && c.downs == 1, WAIT_MS);
	assert_int_equal(a.downs, 1);
	assert_int_equal(c.downs, 1);
	peer_clear(&a);
	peer_clear(&b);
	peer_clear(&c);
	harness_finish(&h);
}

/* A full queue refuses normal frames; high ones overtake everything not started. */
static void test_queue_and_priority(void **state)
{
	struct harness h;
	struct peer a, b;
	struct transport_options o;
	uint8_t *big = calloc(1, TRANSPORT_FRAME_MAX);
	int port, rc = 0, sent = 0, high_at = -1;

	(void)state;
	harness_init(&h);
	test_options(&o);
	o.queue_max = 8u * TRANSPORT_FRAME_MAX;
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	peer_init(&b, &h, "b", 0xb2, net1, &o);
	port = peer_listen(&a);
	peer_dial(&b, port, NULL);
	RUN_UNTIL(&h, a.ups == 1 && b.ups == 1, WAIT_MS);
	assert_int_equal(b.ups, 1);

	/* without running the loop nothing drains: the queue fills */
	while (sent < 20) {
		big[0] = (uint8_t)sent;
		rc = transport_send(b.conn, big, TRANSPORT_FRAME_MAX, TRANSPORT_PRIO_NORMAL);
		if (rc != 0)
			break;
		sent++;
	}
	assert_int_equal(rc, WM_ERATE);
	assert_true(sent >= 8 && sent <= 10);   /* 8 MiB queued, plus what the first write took */
	assert_true(transport_conn_queued(b.conn) >= 7u * TRANSPORT_FRAME_MAX);
	big[0] = 0xee;
	assert_int_equal(transport_send(b.conn, big, 100, TRANSPORT_PRIO_HIGH), 0);

	RUN_UNTIL(&h, (int)a.nframes == sent + 1, WAIT_MS);
	assert_int_equal(a.nframes, sent + 1);
	for (size_t i = 0; i < a.nframes; i++)
		if (a.frames[i].len == 100) {
			assert_int_equal(a.frames[i].b[0], 0xee);
			high_at = (int)i;
		}
	/* the high frame arrived before the normal frames queued ahead of it */
	assert_true(high_at >= 0 && high_at < sent - 4);
	/* and the normal ones kept their order */
	for (size_t i = 0, want = 0; i < a.nframes; i++)
		if ((int)i != high_at)
			assert_int_equal(a.frames[i].b[0], want++);

	/* more high frames than one write takes, behind a row of small normal ones
	 * (a batch must not mix in a normal frame while high ones wait) */
	{
		size_t base = a.nframes, last_high = 0, first_late_normal = SIZE_MAX;
		uint8_t next_n = 0, next_h = 0;

		for (int i = 0; i < 12; i++) {
			big[0] = 'n';
			big[1] = (uint8_t)i;
			assert_int_equal(transport_send(b.conn, big, 10000, TRANSPORT_PRIO_NORMAL), 0);
		}
		for (int i = 0; i < 6; i++) {
			big[0] = 'h';
			big[1] = (uint8_t)i;
			assert_int_equal(transport_send(b.conn, big, 200000, TRANSPORT_PRIO_HIGH), 0);
		}
		RUN_UNTIL(&h, a.nframes == base + 18 || b.downs > 0, WAIT_MS);
		assert_int_equal(a.nframes, base + 18);
		for (size_t i = base; i < a.nframes; i++) {
			assert_int_equal(a.frames[i].len, a.frames[i].b[0] == 'h' ? 200000 : 10000);
			if (a.frames[i].b[0] == 'h') {
				assert_int_equal(a.frames[i].b[1], next_h++);
				last_high = i;
			} else {
				assert_int_equal(a.frames[i].b[0], 'n');
				assert_int_equal(a.frames[i].b[1], next_n++);
				if (next_n > 6 && first_late_normal == SIZE_MAX)
					first_late_normal = i;
			}
		}
		assert_int_equal(next_h, 6);
		assert_int_equal(next_n, 12);
		/* all high frames left before the second half of the normal ones */
		assert_true(last_high < first_late_normal);
	}
	peer_clear(&a);
	peer_clear(&b);
	harness_finish(&h);
	free(big);
}

/* Issue 8 item 15: what waits to be sent is bounded for all connections
 * together, not only per connection. */
static void test_queue_total(void **state)
{
	struct harness h;
	struct peer a, b, c;
	struct transport_options o;
	struct transport_conn *to_b, *to_c;
	uint8_t *big = calloc(1, TRANSPORT_FRAME_MAX);
	int sent_b = 0, sent_c = 0;

	(void)state;
	assert_non_null(big);
	harness_init(&h);
	test_options(&o);
	o.queue_max = 2u * TRANSPORT_FRAME_MAX;
	o.queue_total_max = 3u * TRANSPORT_FRAME_MAX;
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	peer_init(&b, &h, "b", 0xb2, net1, NULL);
	peer_init(&c, &h, "c", 0xc3, net1, NULL);
	peer_dial(&a, peer_listen(&b), NULL);
	RUN_UNTIL(&h, a.ups == 1 && b.ups == 1, WAIT_MS);
	to_b = a.conn;
	peer_dial(&a, peer_listen(&c), NULL);
	RUN_UNTIL(&h, a.ups == 2 && c.ups == 1, WAIT_MS);
	to_c = a.conn;
	assert_true(to_b != NULL && to_c != NULL && to_b != to_c);

	/* without running the loop nothing drains: each connection's first
	 * frame goes into a write, the rest waits in the queues */
	while (sent_b < 10 && transport_send(to_b, big, TRANSPORT_FRAME_MAX, TRANSPORT_PRIO_NORMAL) == 0)
		sent_b++;
	assert_int_equal(sent_b, 3);    /* its own bound: 2 MiB waiting */
	while (sent_c < 10 && transport_send(to_c, big, TRANSPORT_FRAME_MAX, TRANSPORT_PRIO_NORMAL) == 0)
		sent_c++;
	assert_int_equal(sent_c, 2);    /* the total's: 1 MiB left of 3 */
	assert_int_equal(transport_send(to_c, big, 100, TRANSPORT_PRIO_NORMAL), WM_ERATE);
	/* once the queues drain, there is room again */
	RUN_UNTIL(&h, b.nframes == 3 && c.nframes == 2, WAIT_MS);
	assert_int_equal(b.nframes, 3);
	assert_int_equal(c.nframes, 2);
	assert_int_equal(transport_send(to_c, big, TRANSPORT_FRAME_MAX, TRANSPORT_PRIO_NORMAL), 0);
	RUN_UNTIL(&h, c.nframes == 3, WAIT_MS);
	assert_int_equal(c.nframes, 3);
	peer_clear(&a);
	peer_clear(&b);
	peer_clear(&c);
	harness_finish(&h);
	free(big);
}

static void test_wrong_network_secret(void **state)
{
	struct harness h;
	struct peer a, b;
	struct transport_options oa, ob;
	int port;

	(void)state;
	harness_init(&h);
	/* a closes a failed first message at 0.5 to 1 s, before b gives up */
	test_options(&oa);
	oa.handshake_timeout_ms = 1000;
	test_options(&ob);
	ob.handshake_timeout_ms = 5000;
	peer_init(&a, &h, "a", 0xa1, net1, &oa);
	peer_init(&b, &h, "b", 0xb2, net2, &ob);
	port = peer_listen(&a);
	peer_dial(&b, port, NULL);
	RUN_UNTIL(&h, log_count(&a, "network secret does not match", NULL) >= 2
	              && log_count(&b, "handshake failed", "wrong network secret") >= 2, WAIT_MS);
	assert_true(log_count(&a, "network secret does not match", NULL) >= 2);
	assert_true(log_count(&b, "handshake failed: connection closed before message 2", "wrong network secret") >= 2);
	/* and it keeps retrying with backoff, saying when */
	assert_true(log_count(&b, "retrying in", NULL) >= 2);
	assert_int_equal(a.ups + b.ups, 0);
	assert_int_equal(a.downs + b.downs, 0);
	peer_clear(&a);
	peer_clear(&b);
	harness_finish(&h);
}

static void test_wrong_expected_key(void **state)
{
	struct harness h;
	struct peer a, b, c;
	struct transport_options oa, ob;
	int port;

	(void)state;
	harness_init(&h);
	test_options(&oa);
	oa.handshake_timeout_ms = 1000;   /* a closes before b gives up */
	test_options(&ob);
	ob.handshake_timeout_ms = 5000;
	peer_init(&a, &h, "a", 0xa1, net1, &oa);
	peer_init(&b, &h, "b", 0xb2, net1, &ob);
	peer_init(&c, &h, "c", 0xc3, net1, NULL);
	port = peer_listen(&a);
	peer_dial(&b, port, c.key->pub);   /* b thinks c is at a's address */
	/* b's message 1 is made for c: a does not answer it, and says why */
	RUN_UNTIL(&h, log_count(&a, "made for another node", NULL) >= 1
	              && log_count(&b, "connection closed before message 2", NULL) >= 1, WAIT_MS);
	assert_true(log_count(&a, "made for another node", NULL) >= 1);
	assert_true(log_count(&b, "connection closed before message 2", NULL) >= 1);
	/* neither side ever announced the connection */
	assert_int_equal(a.ups + b.ups, 0);
	peer_clear(&a);
	peer_clear(&b);
	peer_clear(&c);
	harness_finish(&h);
}

static void test_refused_peer(void **state)
{
	struct harness h;
	struct peer a, b;
	int port;

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	peer_init(&b, &h, "b", 0xb2, net1, NULL);
	a.refuse = "key revoked";
	port = peer_listen(&a);
	peer_dial(&b, port, NULL);
	RUN_UNTIL(&h, log_count(&b, "the peer closed the connection: refused: key revoked", NULL) >= 1, WAIT_MS);
	assert_true(log_count(&b, "the peer closed the connection: refused: key revoked", NULL) >= 1);
	assert_true(log_count(&a, "refused: key revoked", NULL) >= 1);
	/* the refusal came with the handshake's last bytes: nobody saw the link up */
	assert_int_equal(a.ups + b.ups, 0);
	peer_clear(&a);
	peer_clear(&b);
	harness_finish(&h);
}

/* on_fail: each attempt that ends before it is up, with its dialer and the
 * key once proven (the glue keeps it as that peer's last error); never for
 * a link that was up, which has on_down. */
static void test_on_fail(void **state)
{
	struct harness h;
	struct peer a, b;
	struct transport_dialer *d;
	int port;

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	peer_init(&b, &h, "b", 0xb2, net1, NULL);
	port = peer_listen(&a);
	transport_free(a.t);           /* nothing listens there now */
	a.t = NULL;
	d = peer_dial(&b, port, NULL);
	RUN_UNTIL(&h, b.fails >= 1, WAIT_MS);
	assert_true(b.fails >= 1);
	assert_ptr_equal(b.fail_dialer, d);
	assert_false(b.fail_has_pub);
	assert_non_null(strstr(b.last_fail, "connect failed"));
	transport_dialer_remove(d);

	/* refused after the handshake: both sides know who failed */
	assert_int_equal(transport_new(&h.loop, a.key, net1,
	                               &(struct transport_callbacks){ &a, on_up, on_frame, on_down, on_log,
	                                                              allow_peer, on_fail, NULL },
	                               &a.opt, &a.t), 0);
	a.refuse = "key revoked";
	port = peer_listen(&a);
	b.fails = 0;
	d = peer_dial(&b, port, NULL);
	RUN_UNTIL(&h, b.fails >= 1 && b.fail_has_pub && a.fails >= 1, WAIT_MS);
	assert_ptr_equal(b.fail_dialer, d);
	assert_true(b.fail_has_pub);
	assert_memory_equal(b.fail_pub, a.key->pub, WM_PUB_LEN);
	assert_non_null(strstr(b.last_fail, "refused: key revoked"));
	assert_null(a.fail_dialer);
	assert_true(a.fail_has_pub);
	assert_memory_equal(a.fail_pub, b.key->pub, WM_PUB_LEN);
	assert_int_equal(a.ups + b.ups + a.downs + b.downs, 0);

	/* up, then closed: on_down, and no on_fail */
	a.refuse = NULL;
	a.fails = b.fails = 0;
	RUN_UNTIL(&h, a.ups == 1 && b.ups == 1, WAIT_MS);
	assert_int_equal(b.ups, 1);
	transport_close(a.conn, "testing", 0);
	RUN_UNTIL(&h, b.downs == 1, WAIT_MS);
	assert_int_equal(a.downs + b.downs, 2);
	assert_int_equal(a.fails + b.fails, 0);
	peer_clear(&a);
	peer_clear(&b);
	harness_finish(&h);
}

/* transport_close with a backoff: told, refused on reconnect until it ends. */
static void test_close_with_backoff(void **state)
{
	struct harness h;
	struct peer a, b;
	int port;

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	peer_init(&b, &h, "b", 0xb2, net1, NULL);
	port = peer_listen(&a);
	peer_dial(&b, port, NULL);
	RUN_UNTIL(&h, a.ups == 1 && b.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	transport_close(a.conn, "sent an invalid event", 600000);
	assert_int_equal(a.downs, 1);   /* at once */
	assert_null(a.conn);
	RUN_UNTIL(&h, b.downs == 1 && log_count(&a, "refused: this peer is backed off", NULL) >= 2, WAIT_MS);
	assert_non_null(strstr(b.last_down, "sent an invalid event (backed off for 600 s)"));
	assert_true(log_count(&a, "refused: this peer is backed off", NULL) >= 2);
	assert_true(log_count(&b, "the peer closed the connection: refused: this peer is backed off", NULL) >= 1);
	assert_int_equal(a.ups, 1);   /* never admitted again */
	transport_close(NULL, "x", 0);
	peer_clear(&a);
	peer_clear(&b);
	harness_finish(&h);
}

/* The listener goes away and comes back on the same port: the dialer finds it. */
static void test_reconnect(void **state)
{
	struct harness h;
	struct peer a, b, a2;
	int port;
	char addr[64], why[WM_WHY_LEN];
	struct transport_callbacks cb = { &a2, on_up, on_frame, on_down, on_log, allow_peer, NULL, NULL };

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	peer_init(&b, &h, "b", 0xb2, net1, NULL);
	port = peer_listen(&a);
	peer_dial(&b, port, a.key->pub);
	RUN_UNTIL(&h, b.ups == 1, WAIT_MS);
	assert_int_equal(b.ups, 1);

	peer_stop(&a);
	RUN_UNTIL(&h, b.downs == 1 && log_count(&b, "connect failed", "retrying in") >= 3, WAIT_MS);
	assert_int_equal(b.downs, 1);
	assert_true(log_count(&b, "connect failed", "retrying in") >= 3);

	/* the same node comes back on the same port */
	memset(&a2, 0, sizeof(a2));
	a2.name = "a2";
	a2.h = &h;
	assert_int_equal(key_from_seed((uint8_t[32]){ 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1,
	                                              0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1,
	                                              0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1,
	                                              0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1 },
	                                 &a2.key), 0);
	test_options(&a2.opt);
	assert_int_equal(transport_new(&h.loop, a2.key, net1, &cb, &a2.opt, &a2.t), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(transport_listen(a2.t, addr, why), 0);
	RUN_UNTIL(&h, b.ups == 2 && a2.ups == 1, WAIT_MS);
	assert_int_equal(b.ups, 2);
	assert_int_equal(a2.ups, 1);
	assert_memory_equal(b.up_pub, a.key->pub, WM_PUB_LEN);
	assert_int_equal(transport_send(b.conn, (const uint8_t *)"again", 5, TRANSPORT_PRIO_NORMAL), 0);
	RUN_UNTIL(&h, a2.nframes == 1, WAIT_MS);
	assert_int_equal(a2.nframes, 1);
	peer_clear(&a);
	peer_clear(&a2);
	peer_clear(&b);
	harness_finish(&h);
}

/* Both nodes dial each other: one connection survives, on both sides the same. */
static void test_duplicate_connections(void **state)
{
	struct harness h;
	struct peer a, b;
	int pa, pb;

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	peer_init(&b, &h, "b", 0xb2, net1, NULL);
	pa = peer_listen(&a);
	pb = peer_listen(&b);
	peer_dial(&a, pb, b.key->pub);
	peer_dial(&b, pa, a.key->pub);
	RUN_UNTIL(&h, a.ups >= 1 && b.ups >= 1, WAIT_MS);
	/* let any race settle; then exactly one link each, the same one */
	RUN_UNTIL(&h, 0, 800);
	assert_int_equal(a.ups - a.downs, 1);
	assert_int_equal(b.ups - b.downs, 1);
	assert_non_null(a.conn);
	assert_non_null(b.conn);
	assert_int_equal(transport_conn_outbound(a.conn), !transport_conn_outbound(b.conn));
	/* the waiting dialer does not hammer: a few lines at most */
	assert_true(log_count(&a, "duplicate", NULL) + log_count(&b, "duplicate", NULL) <= 4);
	assert_int_equal(transport_send(a.conn, (const uint8_t *)"one link", 8, TRANSPORT_PRIO_NORMAL), 0);
	RUN_UNTIL(&h, b.nframes == 1, WAIT_MS);
	assert_int_equal(b.nframes, 1);

	/* the surviving link drops (its dialer's side closes it): the other dialer takes over */
	{
		int ups_before = a.ups;

		transport_close(a.conn, "testing takeover", 0);
		RUN_UNTIL(&h, a.ups > ups_before && b.ups - b.downs == 1 && a.ups - a.downs == 1, WAIT_MS);
		assert_true(a.ups > ups_before);
		assert_int_equal(a.ups - a.downs, 1);
	}
	peer_clear(&a);
	peer_clear(&b);
	harness_finish(&h);
}

static void test_keepalive(void **state)
{
	struct harness h;
	struct peer a, b;
	struct transport_options o;
	int port;

	(void)state;
	harness_init(&h);
	test_options(&o);
	o.keepalive_ms = 150;
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	peer_init(&b, &h, "b", 0xb2, net1, &o);
	port = peer_listen(&a);
	peer_dial(&b, port, NULL);
	RUN_UNTIL(&h, a.ups == 1 && b.ups == 1, WAIT_MS);
	assert_int_equal(b.ups, 1);
	/* idle for many keepalive periods: pings keep it up, and deliver nothing */
	RUN_UNTIL(&h, a.downs + b.downs > 0, 2000);
	assert_int_equal(a.downs + b.downs, 0);
	assert_int_equal(a.nframes + b.nframes, 0);
	peer_clear(&a);
	peer_clear(&b);
	harness_finish(&h);
}

static void test_dialer_remove_and_names(void **state)
{
	struct harness h;
	struct peer a, b;
	struct transport_dialer *d;
	char addr[64], why[WM_WHY_LEN];
	int port;

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	peer_init(&b, &h, "b", 0xb2, net1, NULL);
	port = peer_listen(&a);

	/* a host name goes through the resolver */
	snprintf(addr, sizeof(addr), "localhost:%d", port);
	assert_int_equal(transport_connect(b.t, addr, a.key->pub, &d, why), 0);
	assert_string_equal(transport_dialer_addr(d), addr);
	RUN_UNTIL(&h, a.ups == 1 && b.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	assert_int_equal(b.ups, 1);
	transport_dialer_remove(d);
	assert_int_equal(b.downs, 1);
	assert_non_null(strstr(b.last_down, "peer removed from the configuration"));
	RUN_UNTIL(&h, a.downs == 1, WAIT_MS);
	assert_non_null(strstr(a.last_down, "peer removed from the configuration"));
	RUN_UNTIL(&h, 0, 300);
	assert_int_equal(b.ups, 1);   /* no more attempts */

	/* bad addresses */
	assert_int_equal(transport_connect(b.t, "nocolon", NULL, NULL, why), WM_EINVAL);
	assert_non_null(strstr(why, "no port"));
	assert_int_equal(transport_connect(b.t, "1.2.3.4:0", NULL, NULL, why), WM_EINVAL);
	assert_int_equal(transport_connect(b.t, "1.2.3.4:99999", NULL, NULL, why), WM_EINVAL);
	assert_int_equal(transport_connect(b.t, "::1:80", NULL, NULL, why), WM_EINVAL);
	assert_non_null(strstr(why, "[addr]:port"));
	assert_int_equal(transport_connect(b.t, "[::1:80", NULL, NULL, why), WM_EINVAL);
	assert_int_equal(transport_listen(b.t, "example.org:80", why), WM_EINVAL);
	assert_int_equal(transport_listen(a.t, "127.0.0.1:0", why), WM_EINVAL);   /* one listener */
	transport_dialer_remove(NULL);
	transport_free(NULL);
	peer_clear(&a);
	peer_clear(&b);
	harness_finish(&h);
}

/* --- raw peers ------------------------------------------------------------------------------ */

struct raw {
	uv_tcp_t tcp;
	uv_connect_t creq;
	int connected, eof, closed;
	int eof_status;                /* UV_EOF for an orderly close, UV_ECONNRESET for a reset */
	uint64_t connected_at, eof_at; /* uv_hrtime() ns */
	uint8_t in[8192];
	size_t inlen;
};

struct raw_write {
	uv_write_t req;
	uint8_t data[];
};

static void raw_alloc(uv_handle_t *hd, size_t sug, uv_buf_t *buf)
{
	static char scratch[65536];

	(void)hd;
	(void)sug;
	buf->base = scratch;
	buf->len = sizeof(scratch);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct raw *r = s->data;

	if (n < 0) {
		r->eof = 1;
		r->eof_status = (int)n;
		r->eof_at = uv_hrtime();
		uv_read_stop(s);
		return;
	}
	for (ssize_t i = 0; i < n && r->inlen < sizeof(r->in); i++)
		r->in[r->inlen++] = (uint8_t)buf->base[i];
}

static void raw_connected(uv_connect_t *req, int status)
{
	struct raw *r = req->data;

	assert_int_equal(status, 0);
	r->connected = 1;
	r->connected_at = uv_hrtime();
	uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

/* A raw connection from source address `from` (any 127.x.y.z works on
 * Linux loopback). */
static void raw_open_from(struct harness *h, struct raw *r, int port, const char *from)
{
	struct sockaddr_in sa, src;

	memset(r, 0, sizeof(*r));
	uv_tcp_init(&h->loop, &r->tcp);
	r->tcp.data = r;
	r->creq.data = r;
	uv_ip4_addr(from, 0, &src);
	assert_int_equal(uv_tcp_bind(&r->tcp, (const struct sockaddr *)&src, 0), 0);
	uv_ip4_addr("127.0.0.1", port, &sa);
	assert_int_equal(uv_tcp_connect(&r->creq, &r->tcp, (const struct sockaddr *)&sa, raw_connected), 0);
	RUN_UNTIL(h, r->connected, WAIT_MS);
	assert_true(r->connected);
}

static void raw_open(struct harness *h, struct raw *r, int port)
{
	raw_open_from(h, r, port, "127.0.0.1");
}

static void raw_written(uv_write_t *req, int status)
{
	(void)status;   /* the transport may already have closed on us */
	free(req);
}

static void raw_send(struct raw *r, const uint8_t *b, size_t len)
{
	struct raw_write *w = malloc(sizeof(*w) + len);
	uv_buf_t buf;

	assert_non_null(w);
	memcpy(w->data, b, len);
	buf = uv_buf_init((char *)w->data, (unsigned)len);
	assert_int_equal(uv_write(&w->req, (uv_stream_t *)&r->tcp, &buf, 1, raw_written), 0);
}

static void raw_shut(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req);
}

static void raw_closed(uv_handle_t *hd)
{
	((struct raw *)hd->data)->closed = 1;
}

static void raw_close(struct harness *h, struct raw *r)
{
	uv_close((uv_handle_t *)&r->tcp, raw_closed);
	RUN_UNTIL(h, r->closed, WAIT_MS);
}

/* A complete handshake by hand.  Keeps the messages it sent in m1, m3. */
struct raw_session {
	struct hs *hs;
	struct chan *chan;
	uint8_t m1[HS_MSG_MAX], m3[HS_MSG_MAX];
};

static void raw_handshake(struct harness *h, struct raw *r, const struct key *k, const uint8_t *netsec,
                          struct raw_session *s)
{
	struct hs_params p = { k, netsec, NULL, NULL, wall_ms(), NULL, 0, 0 };
	uint8_t out[HS_MSG_MAX], header[CHAN_HEADER_LEN];
	size_t len;
	char why[WM_WHY_LEN];

	memset(s, 0, sizeof(*s));
	assert_int_equal(hs_new(1, &p, &s->hs), 0);
	assert_int_equal(hs_start(s->hs, s->m1, &len), 0);
	raw_send(r, s->m1, len);
	RUN_UNTIL(h, r->inlen >= HS_MSG2_LEN || r->eof, WAIT_MS);
	assert_true(r->inlen >= HS_MSG2_LEN);
	assert_int_equal(hs_recv(s->hs, r->in, HS_MSG2_LEN, s->m3, &len, why), 0);
	raw_send(r, s->m3, len);
	RUN_UNTIL(h, r->inlen >= HS_MSG2_LEN + HS_MSG4_LEN + CHAN_HEADER_LEN || r->eof, WAIT_MS);
	assert_true(r->inlen >= HS_MSG2_LEN + HS_MSG4_LEN + CHAN_HEADER_LEN);
	assert_int_equal(hs_recv(s->hs, r->in + HS_MSG2_LEN, HS_MSG4_LEN, out, &len, why), 0);
	assert_true(hs_done(s->hs));
	assert_int_equal(chan_new(s->hs, &s->chan, header), 0);
	assert_int_equal(chan_set_rx_header(s->chan, r->in + HS_MSG2_LEN + HS_MSG4_LEN, why), 0);
	raw_send(r, header, sizeof(header));
}

static void raw_session_free(struct raw_session *s)
{
	hs_free(s->hs);
	chan_free(s->chan);
}

/* Garbage, wrong versions, truncation: silence and a log line each; the
 * listener keeps serving. */
static void test_raw_garbage(void **state)
{
	struct harness h;
	struct peer a, b;
	struct raw r;
	uint8_t junk[HS_MSG1_LEN];
	int port, lines;

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	port = peer_listen(&a);

	/* 65 random bytes with a valid version byte: no answer at all */
	raw_open(&h, &r, port);
	wmc_random(junk, sizeof(junk));
	junk[0] = HS_VERSION;
	raw_send(&r, junk, sizeof(junk));
	RUN_UNTIL(&h, r.eof, WAIT_MS);
	assert_true(r.eof);
	assert_int_equal(r.inlen, 0);
	assert_int_equal(log_count(&a, "network secret does not match", NULL), 1);
	raw_close(&h, &r);

	/* another version */
	raw_open(&h, &r, port);
	junk[0] = 7;
	raw_send(&r, junk, sizeof(junk));
	RUN_UNTIL(&h, r.eof, WAIT_MS);
	assert_int_equal(r.inlen, 0);
	assert_int_equal(log_count(&a, "speaks handshake version 7", NULL), 1);
	raw_close(&h, &r);

	/* a truncated first message, then the connection closed */
	raw_open(&h, &r, port);
	raw_send(&r, junk, 30);
	RUN_UNTIL(&h, 0, 50);
	{
		uv_shutdown_t *sd = malloc(sizeof(*sd));

		assert_int_equal(uv_shutdown(sd, (uv_stream_t *)&r.tcp, raw_shut), 0);
	}
	RUN_UNTIL(&h, log_count(&a, "connection closed before message 1", NULL) == 1, WAIT_MS);
	assert_int_equal(log_count(&a, "connection closed before message 1", NULL), 1);
	raw_close(&h, &r);

	/* a lot of garbage at once */
	raw_open(&h, &r, port);
	{
		uint8_t lots[10000];

		wmc_random(lots, sizeof(lots));
		lots[0] = HS_VERSION;
		raw_send(&r, lots, sizeof(lots));
	}
	RUN_UNTIL(&h, r.eof, WAIT_MS);
	assert_int_equal(r.inlen, 0);
	raw_close(&h, &r);
	lines = (int)a.nlines;
	assert_int_equal(a.ups, 0);

	/* and a real node still gets in */
	peer_init(&b, &h, "b", 0xb2, net1, NULL);
	peer_dial(&b, port, a.key->pub);
	RUN_UNTIL(&h, a.ups == 1 && b.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	assert_true((int)a.nlines > lines);
	peer_clear(&a);
	peer_clear(&b);
	harness_finish(&h);
}

static void test_raw_handshake_timeout(void **state)
{
	struct harness h;
	struct peer a;
	struct transport_options o;
	struct raw r;
	uint8_t part[10] = { HS_VERSION };
	int port;

	(void)state;
	harness_init(&h);
	test_options(&o);
	o.handshake_timeout_ms = 200;
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	port = peer_listen(&a);
	raw_open(&h, &r, port);
	raw_send(&r, part, sizeof(part));   /* and then nothing */
	RUN_UNTIL(&h, r.eof, WAIT_MS);
	assert_true(r.eof);
	assert_int_equal(r.inlen, 0);
	assert_int_equal(log_count(&a, "handshake timed out waiting for message 1", NULL), 1);
	raw_close(&h, &r);
	peer_clear(&a);
	harness_finish(&h);
}

/* Issue 12 item 1: silent connections from one address hold at most
 * max_handshakes_per_addr handshake slots, and cannot hold them shut: the
 * next from there takes the place of one of the older half, and one that
 * sends its message 1 at once (an honest initiator) always gets in, as one
 * from another address does. */
static void test_raw_handshakes_per_addr(void **state)
{
	struct harness h;
	struct peer a;
	struct transport_options o;
	struct raw r[6];
	struct raw_session s, s2;
	struct key *k;
	int port;

	(void)state;
	harness_init(&h);
	test_options(&o);
	o.max_handshakes_per_addr = 2;
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	port = peer_listen(&a);
	raw_open(&h, &r[0], port);
	raw_open(&h, &r[1], port);
	RUN_UNTIL(&h, 0, 100);          /* both accepted, both silent */
	assert_false(r[0].eof || r[1].eof);
	raw_open(&h, &r[2], port);      /* the older half of two: r[0] goes */
	RUN_UNTIL(&h, r[0].eof, WAIT_MS);
	assert_true(r[0].eof);
	assert_false(r[1].eof || r[2].eof);
	assert_int_equal(log_count(&a, "handshake slots full: dropped for a newer connection", NULL), 1);
	/* an initiator from the same address that speaks at once gets in */
	assert_int_equal(key_generate(&k), 0);
	raw_open(&h, &r[3], port);
	raw_handshake(&h, &r[3], k, net1, &s);
	RUN_UNTIL(&h, a.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	/* and one from another address, with the slots of 127.0.0.1 full */
	raw_open_from(&h, &r[4], port, "127.0.0.2");
	raw_handshake(&h, &r[4], k, net1, &s2);
	RUN_UNTIL(&h, a.ups == 2, WAIT_MS);
	assert_int_equal(a.ups, 2);
	raw_session_free(&s);
	raw_session_free(&s2);
	key_free(k);
	for (int i = 0; i < 5; i++)
		raw_close(&h, &r[i]);
	peer_clear(&a);
	harness_finish(&h);
}

/* Issue 12 item 1: when strangers fill every handshake slot, connections
 * from a configured peer's address keep theirs (strangers make room among
 * themselves), and under pressure a silent connection gets a fifth of the
 * usual deadline. */
static void test_raw_handshakes_preferred(void **state)
{
	struct harness h;
	struct peer a;
	struct transport_options o;
	struct raw mine[2], strangers[8];
	struct transport_dialer *d;
	char why[WM_WHY_LEN] = "";
	int port, i, dropped = 0;
	uint64_t ms;

	(void)state;
	harness_init(&h);
	test_options(&o);
	o.max_handshakes = 4;
	o.max_handshakes_per_addr = 8;
	o.handshake_timeout_ms = 5000;
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	port = peer_listen(&a);
	/* a configured peer at 127.0.0.2 (nobody listens there: it only dials) */
	assert_int_equal(transport_connect(a.t, "127.0.0.2:9", NULL, &d, why), 0);
	transport_dialer_prefer(d);
	RUN_UNTIL(&h, log_count(&a, "peer 127.0.0.2:9", NULL) >= 1, WAIT_MS);
	for (i = 0; i < 2; i++)
		raw_open_from(&h, &mine[i], port, "127.0.0.2");
	for (i = 0; i < 8; i++)
		raw_open_from(&h, &strangers[i], port, "127.0.0.3");
	RUN_UNTIL(&h, 0, 100);
	for (i = 0; i < 8; i++)
		dropped += strangers[i].eof;
	assert_false(mine[0].eof || mine[1].eof);
	assert_int_equal(dropped, 6);   /* 2 slots left for 8 strangers */
	/* the two strangers left came under pressure: 0.5 to 1 s, not 2.5 to 5 */
	RUN_UNTIL(&h, strangers[6].eof && strangers[7].eof, WAIT_MS);
	ms = (strangers[7].eof_at - strangers[7].connected_at) / 1000000u;
	assert_true(ms >= 450 && ms <= 1500);
	assert_false(mine[0].eof || mine[1].eof);
	for (i = 0; i < 2; i++)
		raw_close(&h, &mine[i]);
	for (i = 0; i < 8; i++)
		raw_close(&h, &strangers[i]);
	peer_clear(&a);
	harness_finish(&h);
}

/* Issue 12 item 2: a flood of garbage from one address writes a few lines
 * per kind, and one summary line per kind counts the rest (written when
 * the minute ends, or here at shutdown); every connection is in a line or
 * a count. */
static void test_raw_garbage_flood(void **state)
{
	enum { N = 120 };
	struct harness h;
	struct peer a;
	struct transport_options o;
	struct raw *r = calloc(N, sizeof(*r));
	uint8_t junk[HS_MSG1_LEN];
	int port, i, all, each = 0, summed = 0;

	(void)state;
	assert_non_null(r);
	harness_init(&h);
	test_options(&o);
	o.handshake_timeout_ms = 200;
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	port = peer_listen(&a);
	wmc_random(junk, sizeof(junk));
	junk[0] = HS_VERSION;
	for (i = 0; i < N; i++) {
		raw_open(&h, &r[i], port);
		raw_send(&r[i], junk, sizeof(junk));
	}
	do {
		RUN_UNTIL(&h, 0, 20);
		for (all = 1, i = 0; i < N; i++)
			all &= r[i].eof;
	} while (!all && log_count(&a, "", NULL) < 10 * N);
	assert_true(all);
	each = log_count(&a, "peer 127.0.0.1:", NULL);
	fprintf(stderr, "  %d connections of garbage: %d lines during the flood\n", N, each);
	assert_true(each <= 9);   /* 3 a kind: bad secret, too many handshakes, maybe closed early */
	peer_stop(&a);
	for (size_t l = 0; l < a.nlines; l++) {
		const char *m = strstr(a.lines[l], "refused ");
		unsigned long n = 0;

		if (m == NULL || strstr(m, " more connection") == NULL || strstr(m, "from 127.0.0.1 in the last minute: ") == NULL)
			continue;
		for (m += 8; (*m >= '0' && *m <= '9') || *m == ','; m++)
			if (*m != ',')
				n = n * 10 + (unsigned long)(*m - '0');
		summed += (int)n;
	}
	fprintf(stderr, "  ... and summaries counting %d more\n", summed);
	assert_int_equal(each + summed, N);
	for (i = 0; i < N; i++)
		raw_close(&h, &r[i]);
	free(r);
	peer_clear(&a);
	harness_finish(&h);
}

/* A listener that never answers: our dialer gives up on the handshake. */
struct mute {
	uv_tcp_t server;
	uv_tcp_t client;
	int accepted, nclosed;
};

static void mute_conn(uv_stream_t *s, int status)
{
	struct mute *m = s->data;

	assert_int_equal(status, 0);
	if (m->accepted)
		return;
	uv_tcp_init(s->loop, &m->client);
	m->client.data = m;
	assert_int_equal(uv_accept(s, (uv_stream_t *)&m->client), 0);
	m->accepted = 1;
}

static void mute_closed(uv_handle_t *hd)
{
	((struct mute *)hd->data)->nclosed++;
}

static void test_dial_handshake_timeout(void **state)
{
	struct harness h;
	struct peer b;
	struct transport_options o;
	struct mute m;
	struct sockaddr_in sa;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	(void)state;
	harness_init(&h);
	memset(&m, 0, sizeof(m));
	uv_tcp_init(&h.loop, &m.server);
	m.server.data = &m;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&m.server, (const struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&m.server, 8, mute_conn), 0);
	assert_int_equal(uv_tcp_getsockname(&m.server, (struct sockaddr *)&ss, &len), 0);

	test_options(&o);
	o.handshake_timeout_ms = 200;
	o.backoff_min_ms = 10000;   /* one attempt is enough */
	o.backoff_max_ms = 10000;
	peer_init(&b, &h, "b", 0xb2, net1, &o);
	peer_dial(&b, ntohs(((struct sockaddr_in *)&ss)->sin_port), NULL);
	RUN_UNTIL(&h, log_count(&b, "handshake timed out waiting for message 2", NULL) == 1, WAIT_MS);
	assert_int_equal(log_count(&b, "handshake timed out waiting for message 2", NULL), 1);
	assert_int_equal(b.ups, 0);
	peer_clear(&b);
	uv_close((uv_handle_t *)&m.server, mute_closed);
	if (m.accepted)
		uv_close((uv_handle_t *)&m.client, mute_closed);
	harness_finish(&h);
}

/* Recorded handshake messages replayed into new connections. */
static void test_raw_replays(void **state)
{
	struct harness h;
	struct peer a;
	struct raw r;
	struct raw_session s, s2;
	struct key *k;
	uint8_t seed[32], out[HS_MSG_MAX];
	int port;
	size_t len;
	char why[WM_WHY_LEN];

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	port = peer_listen(&a);
	memset(seed, 0x77, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &k), 0);

	/* a genuine session by hand: the transport admits it */
	raw_open(&h, &r, port);
	raw_handshake(&h, &r, k, net1, &s);
	RUN_UNTIL(&h, a.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	assert_memory_equal(a.up_pub, k->pub, WM_PUB_LEN);
	raw_close(&h, &r);
	RUN_UNTIL(&h, a.downs == 1, WAIT_MS);

	/* its message 1 again: silence */
	raw_open(&h, &r, port);
	raw_send(&r, s.m1, HS_MSG1_LEN);
	RUN_UNTIL(&h, r.eof, WAIT_MS);
	assert_true(r.eof);
	assert_int_equal(r.inlen, 0);
	assert_int_equal(log_count(&a, "message 1 is a replay", NULL), 1);
	raw_close(&h, &r);

	/* a fresh message 1, then the old message 3 */
	raw_open(&h, &r, port);
	{
		struct hs_params p = { k, net1, NULL, NULL, wall_ms(), NULL, 0, 0 };

		memset(&s2, 0, sizeof(s2));
		assert_int_equal(hs_new(1, &p, &s2.hs), 0);
		assert_int_equal(hs_start(s2.hs, s2.m1, &len), 0);
		raw_send(&r, s2.m1, len);
		RUN_UNTIL(&h, r.inlen >= HS_MSG2_LEN, WAIT_MS);
		assert_int_equal(hs_recv(s2.hs, r.in, HS_MSG2_LEN, out, &len, why), 0);
		raw_send(&r, s.m3, HS_MSG3_LEN);
	}
	RUN_UNTIL(&h, r.eof, WAIT_MS);
	assert_int_equal(r.inlen, HS_MSG2_LEN);   /* nothing after message 2 */
	assert_int_equal(log_count(&a, "message 3 does not decrypt", NULL), 1);
	raw_close(&h, &r);
	raw_session_free(&s2);
	assert_int_equal(a.ups, 1);
	raw_session_free(&s);
	key_free(k);
	peer_clear(&a);
	harness_finish(&h);
}

/* A message 1 made by hand: for `to` (NULL: any member), dated now + skew_ms. */
static void raw_msg1(const struct key *k, const uint8_t *to, int64_t skew_ms, uint8_t m1[HS_MSG_MAX])
{
	struct hs_params p = { k, net1, to, NULL, (uint64_t)((int64_t)wall_ms() + skew_ms), NULL, 0, 0 };
	struct hs *hs = NULL;
	size_t len;

	assert_int_equal(hs_new(1, &p, &hs), 0);
	assert_int_equal(hs_start(hs, m1, &len), 0);
	assert_int_equal(len, HS_MSG1_LEN);
	hs_free(hs);
}

static int all_eof(const struct raw *r, int n)
{
	for (int i = 0; i < n; i++)
		if (!r[i].eof)
			return 0;
	return 1;
}

/* What a prober can send -- garbage of 1, 64, 65 and 200 bytes, a truncated
 * message 1 (left open, or half-closed), a replayed one, a stale one, one made
 * for another node, another network's -- all end the same way: not a byte
 * back, an orderly close (EOF, never a reset) by the transport, neither at
 * once nor at one fixed instant after connecting.  A watchmesh node that
 * answered any of them, or closed on some at once, could be told apart from
 * a silent service; so could one that closes each at the same instant. */
static void test_raw_probes(void **state)
{
	enum { NPROBES = 12 };
	static const char *what[NPROBES] = {
		"1 byte", "64 bytes", "65 bytes", "200 bytes", "73 random bytes", "truncated message 1",
		"truncated message 1, half-closed", "replayed message 1", "message 1 of 11 min ago",
		"message 1 11 min ahead", "message 1 for another node", "another network's message 1",
	};
	struct harness h;
	struct peer a;
	struct transport_options o;
	struct raw r, pr[NPROBES];
	struct raw_session s;
	struct key *k, *other;
	uint8_t buf[200], m1[HS_MSG_MAX];
	uint64_t ms[NPROBES], lo = UINT64_MAX, hi = 0;
	int port;

	(void)state;
	harness_init(&h);
	test_options(&o);
	o.handshake_timeout_ms = 2000;
	o.max_handshakes_per_addr = 2 * NPROBES;
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	port = peer_listen(&a);
	assert_int_equal(key_generate(&k), 0);
	assert_int_equal(key_generate(&other), 0);

	/* a genuine session first, to have a message 1 to replay */
	raw_open(&h, &r, port);
	raw_handshake(&h, &r, k, net1, &s);
	RUN_UNTIL(&h, a.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);

	for (int i = 0; i < NPROBES; i++)
		raw_open(&h, &pr[i], port);
	wmc_random(buf, sizeof(buf));
	buf[0] = HS_VERSION;
	raw_send(&pr[0], buf, 1);
	raw_send(&pr[1], buf, 64);
	raw_send(&pr[2], buf, 65);
	raw_send(&pr[3], buf, 200);
	raw_send(&pr[4], buf, HS_MSG1_LEN);
	raw_msg1(k, NULL, 0, m1);
	raw_send(&pr[5], m1, HS_MSG1_LEN - 1);
	raw_send(&pr[6], m1, 40);
	{
		uv_shutdown_t *sd = malloc(sizeof(*sd));

		assert_int_equal(uv_shutdown(sd, (uv_stream_t *)&pr[6].tcp, raw_shut), 0);
	}
	raw_send(&pr[7], s.m1, HS_MSG1_LEN);
	raw_msg1(k, NULL, -11 * 60000, m1);
	raw_send(&pr[8], m1, HS_MSG1_LEN);
	raw_msg1(k, NULL, 11 * 60000, m1);
	raw_send(&pr[9], m1, HS_MSG1_LEN);
	raw_msg1(k, other->pub, 0, m1);
	raw_send(&pr[10], m1, HS_MSG1_LEN);
	{
		struct hs_params p = { k, net2, NULL, NULL, wall_ms(), NULL, 0, 0 };
		struct hs *hs = NULL;
		size_t len;

		assert_int_equal(hs_new(1, &p, &hs), 0);
		assert_int_equal(hs_start(hs, m1, &len), 0);
		hs_free(hs);
		raw_send(&pr[11], m1, HS_MSG1_LEN);
	}
	/* and more after the failure: still read, still no reset */
	RUN_UNTIL(&h, 0, 300);
	raw_send(&pr[4], buf, 100);

	RUN_UNTIL(&h, all_eof(pr, NPROBES), WAIT_MS);
	for (int i = 0; i < NPROBES; i++) {
		assert_true(pr[i].eof);
		ms[i] = (pr[i].eof_at - pr[i].connected_at) / 1000000u;
		fprintf(stderr, "  %-34s closed after %4" PRIu64 " ms, %zu bytes back, %s\n", what[i], ms[i],
		        pr[i].inlen, pr[i].eof_status == UV_EOF ? "EOF" : uv_err_name(pr[i].eof_status));
		assert_int_equal(pr[i].inlen, 0);
		assert_int_equal(pr[i].eof_status, UV_EOF);
		assert_true(ms[i] >= o.handshake_timeout_ms * 45 / 100);
		assert_true(ms[i] <= o.handshake_timeout_ms + 500);
		lo = ms[i] < lo ? ms[i] : lo;
		hi = ms[i] > hi ? ms[i] : hi;
	}
	assert_true(hi - lo >= 200);   /* not one fixed instant */
	/* every reason is in a's log, one line per connection -- 3 of a kind
	 * a minute, the rest counted in a summary at the end */
	assert_int_equal(log_count(&a, "timed out waiting for message 1", NULL), 3);
	assert_int_equal(log_count(&a, "network secret does not match", NULL), 3);
	assert_int_equal(log_count(&a, "closed before message 1", NULL), 1);
	assert_int_equal(log_count(&a, "message 1 is a replay", NULL), 1);
	assert_int_equal(log_count(&a, "behind our clock", NULL), 1);
	assert_int_equal(log_count(&a, "ahead of our clock", NULL), 1);
	/* the genuine link was never disturbed */
	assert_int_equal(a.ups, 1);
	assert_int_equal(a.downs, 0);
	peer_stop(&a);
	assert_int_equal(log_count(&a, "refused 1 more connection from 127.0.0.1 in the last minute: "
	                           "handshake timed out waiting for message 1", NULL), 1);
	assert_int_equal(log_count(&a, "refused 1 more connection from 127.0.0.1 in the last minute: "
	                           "handshake failed: network secret does not match", NULL), 1);
	for (int i = 0; i < NPROBES; i++)
		raw_close(&h, &pr[i]);
	raw_close(&h, &r);
	raw_session_free(&s);
	key_free(k);
	key_free(other);
	peer_clear(&a);
	harness_finish(&h);
}

/* A message 1 recorded from a real dial, replayed after the responder
 * restarted: the replay cache came back from its file, so no answer. */
static void test_raw_replay_after_restart(void **state)
{
	struct harness h;
	struct peer a;
	struct transport_options o;
	struct raw r;
	struct raw_session s, s2;
	struct key *k;
	char dir[] = "/tmp/wm-hs-XXXXXX", path[64];
	struct stat st;
	int port;

	(void)state;
	harness_init(&h);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/handshake.replay", dir);
	test_options(&o);
	o.handshake_timeout_ms = 1000;
	o.replay_path = path;
	assert_int_equal(key_generate(&k), 0);

	peer_init(&a, &h, "a", 0xa1, net1, &o);
	port = peer_listen(&a);
	raw_open(&h, &r, port);
	raw_handshake(&h, &r, k, net1, &s);
	RUN_UNTIL(&h, a.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	raw_close(&h, &r);
	peer_clear(&a);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);   /* 0600 */
	assert_int_equal(st.st_size, HS_REPLAY_REC_LEN);

	/* the same node, started again */
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	port = peer_listen(&a);
	raw_open(&h, &r, port);
	raw_send(&r, s.m1, HS_MSG1_LEN);
	RUN_UNTIL(&h, r.eof, WAIT_MS);
	assert_true(r.eof);
	assert_int_equal(r.inlen, 0);
	assert_int_equal(log_count(&a, "message 1 is a replay", NULL), 1);
	raw_close(&h, &r);
	/* a fresh one is welcome */
	raw_open(&h, &r, port);
	raw_handshake(&h, &r, k, net1, &s2);
	RUN_UNTIL(&h, a.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	raw_close(&h, &r);
	raw_session_free(&s);
	raw_session_free(&s2);
	key_free(k);
	peer_clear(&a);
	harness_finish(&h);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

/* After a good handshake: a frame announcing more than the limit, and a
 * garbled frame, each close the connection with a log line and back the
 * key off. */
static void test_raw_bad_frames(void **state)
{
	struct harness h;
	struct peer a;
	struct raw r;
	struct raw_session s;
	struct key *k;
	uint8_t seed[32], wire[64], prefix[4];
	size_t wl;
	uint32_t n = CHAN_FRAME_MAX + CHAN_ABYTES + 1;
	int port;

	(void)state;
	harness_init(&h);
	peer_init(&a, &h, "a", 0xa1, net1, NULL);
	port = peer_listen(&a);
	memset(seed, 0x78, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &k), 0);

	/* oversize: refused from the 4-byte prefix alone */
	raw_open(&h, &r, port);
	raw_handshake(&h, &r, k, net1, &s);
	RUN_UNTIL(&h, a.ups == 1, WAIT_MS);
	assert_int_equal(chan_seal(s.chan, (const uint8_t *)"fine", 4, 0, wire, sizeof(wire), &wl), 0);
	raw_send(&r, wire, wl);
	prefix[0] = (uint8_t)(n >> 24); prefix[1] = (uint8_t)(n >> 16); prefix[2] = (uint8_t)(n >> 8); prefix[3] = (uint8_t)n;
	raw_send(&r, prefix, 4);
	RUN_UNTIL(&h, a.downs == 1 && r.eof, WAIT_MS);
	assert_int_equal(a.nframes, 1);
	assert_memory_equal(a.frames[0].b, "fine", 4);
	assert_int_equal(a.downs, 1);
	assert_non_null(strstr(a.last_down, "frame too large"));
	assert_true(r.eof);
	/* it said why in a closing frame */
	{
		size_t off = HS_MSG2_LEN + HS_MSG4_LEN + CHAN_HEADER_LEN, ct, plen;
		uint8_t plain[256];
		int fin = 0;
		char why[WM_WHY_LEN];

		assert_true(r.inlen > off + 4);
		assert_int_equal(chan_frame_len(r.in + off, &ct, why), 0);
		assert_true(ct - CHAN_ABYTES < sizeof(plain));
		assert_int_equal(chan_open(s.chan, r.in + off, r.in + off + 4, ct, plain, &plen, &fin, why), 0);
		assert_int_equal(fin, 1);
		assert_true(plen > 14 && memcmp(plain, "frame too large", 15) == 0);
	}
	raw_close(&h, &r);
	raw_session_free(&s);
	/* a protocol fault: the key is backed off, not admitted again at once */
	assert_non_null(strstr(a.last_down, "(backed off for 600 s)"));
	raw_open(&h, &r, port);
	raw_handshake(&h, &r, k, net1, &s);
	RUN_UNTIL(&h, r.eof, WAIT_MS);
	assert_int_equal(a.ups, 1);
	assert_int_equal(log_count(&a, "refused: this peer is backed off", NULL), 1);
	raw_close(&h, &r);
	raw_session_free(&s);

	/* garbled (another key: k is backed off) */
	key_free(k);
	memset(seed, 0x79, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &k), 0);
	raw_open(&h, &r, port);
	raw_handshake(&h, &r, k, net1, &s);
	RUN_UNTIL(&h, a.ups == 2, WAIT_MS);
	assert_int_equal(chan_seal(s.chan, (const uint8_t *)"fine", 4, 0, wire, sizeof(wire), &wl), 0);
	wire[wl - 1] ^= 1;
	raw_send(&r, wire, wl);
	RUN_UNTIL(&h, a.downs == 2, WAIT_MS);
	assert_int_equal(a.downs, 2);
	assert_non_null(strstr(a.last_down, "bad frame: frame does not decrypt"));
	assert_non_null(strstr(a.last_down, "(backed off for 600 s)"));
	assert_int_equal(a.nframes, 1);   /* nothing delivered */
	raw_close(&h, &r);
	raw_session_free(&s);

	/* silent after the handshake: keepalive timeout */
	peer_clear(&a);
	{
		struct transport_options o;

		test_options(&o);
		o.keepalive_ms = 100;
		peer_init(&a, &h, "a", 0xa1, net1, &o);
	}
	port = peer_listen(&a);
	raw_open(&h, &r, port);
	raw_handshake(&h, &r, k, net1, &s);
	RUN_UNTIL(&h, a.downs == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	assert_int_equal(a.downs, 1);
	assert_non_null(strstr(a.last_down, "timed out: nothing received"));
	raw_close(&h, &r);
	raw_session_free(&s);

	key_free(k);
	peer_clear(&a);
	harness_finish(&h);
}

/* A peer that keeps pinging but never reads: closed once a write stalls. */
static void test_raw_not_reading(void **state)
{
	struct harness h;
	struct peer a;
	struct transport_options o;
	struct raw r;
	struct raw_session s;
	struct key *k;
	uint8_t seed[32], wire[64], *big = calloc(1, TRANSPORT_FRAME_MAX);
	size_t wl;
	int port, sent = 0;

	(void)state;
	harness_init(&h);
	test_options(&o);
	o.keepalive_ms = 200;
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	port = peer_listen(&a);
	memset(seed, 0x79, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &k), 0);
	raw_open(&h, &r, port);
	raw_handshake(&h, &r, k, net1, &s);
	RUN_UNTIL(&h, a.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	uv_read_stop((uv_stream_t *)&r.tcp);
	/* keep the queue full; the kernel buffers fill behind it */
	for (int i = 0; i < 200 && a.downs == 0; i++) {
		while (a.conn != NULL &&
		       transport_send(a.conn, big, TRANSPORT_FRAME_MAX, TRANSPORT_PRIO_NORMAL) == 0)
			sent++;
		assert_int_equal(chan_seal(s.chan, NULL, 0, 0, wire, sizeof(wire), &wl), 0);
		raw_send(&r, wire, wl);   /* keepalives: the link is not silent */
		RUN_UNTIL(&h, a.downs == 1, 50);
	}
	assert_true(sent >= 2);   /* 2 MiB queued, and what the first write took */
	assert_int_equal(a.downs, 1);
	assert_non_null(strstr(a.last_down, "timed out: the peer is not reading"));
	raw_close(&h, &r);
	raw_session_free(&s);
	key_free(k);
	peer_clear(&a);
	harness_finish(&h);
	free(big);
}

static void raw_alloc_small(uv_handle_t *hd, size_t sug, uv_buf_t *buf)
{
	static char scratch[512];

	(void)hd;
	(void)sug;
	buf->base = scratch;
	buf->len = sizeof(scratch);
}

static void raw_read_once(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)n;
	(void)buf;
	uv_read_stop(s);
}

/* Issue 8 item 15: a peer that pings and reads, but a few hundred bytes at a
 * time, while we always have more for it: its backlog never halves, and it
 * is closed within drain_ms (the "write waited" rule would take 3 x
 * keepalive, here 30 s, and a peer reading a little now and then avoids it).
 * Without the rule the loop below runs out. */
static void test_raw_slow_reader(void **state)
{
	struct harness h;
	struct peer a;
	struct transport_options o;
	struct raw r;
	struct raw_session s;
	struct key *k;
	uint8_t seed[32], wire[64], *big = calloc(1, TRANSPORT_FRAME_MAX);
	size_t wl;
	int port, i;

	(void)state;
	assert_non_null(big);
	harness_init(&h);
	test_options(&o);
	o.drain_ms = 300;
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	port = peer_listen(&a);
	memset(seed, 0x7a, sizeof(seed));
	assert_int_equal(key_from_seed(seed, &k), 0);
	raw_open(&h, &r, port);
	raw_handshake(&h, &r, k, net1, &s);
	RUN_UNTIL(&h, a.ups == 1, WAIT_MS);
	assert_int_equal(a.ups, 1);
	uv_read_stop((uv_stream_t *)&r.tcp);
	for (i = 0; i < 200 && a.downs == 0; i++) {
		while (a.conn != NULL &&
		       transport_send(a.conn, big, 64 * 1024, TRANSPORT_PRIO_NORMAL) == 0)
			;
		assert_int_equal(chan_seal(s.chan, NULL, 0, 0, wire, sizeof(wire), &wl), 0);
		raw_send(&r, wire, wl);   /* keepalives: the link is not silent */
		uv_read_start((uv_stream_t *)&r.tcp, raw_alloc_small, raw_read_once);
		RUN_UNTIL(&h, a.downs == 1, 50);
	}
	assert_int_equal(a.downs, 1);
	assert_non_null(strstr(a.last_down, "too slow"));
	assert_non_null(strstr(a.last_down, "backed off"));
	raw_close(&h, &r);
	raw_session_free(&s);
	key_free(k);
	peer_clear(&a);
	harness_finish(&h);
	free(big);
}

/* Issue 8 item 7: one address links at most max_links_per_addr times
 * inbound, however many keys it makes up; a key one of our dialers wants is
 * not counted (a configured neighbour behind the same NAT). */
static void test_raw_links_per_addr(void **state)
{
	struct harness h;
	struct peer a;
	struct transport_options o;
	struct raw r[6];
	struct raw_session s[6];
	struct key *k[6];
	uint8_t seed[32];
	char why[WM_WHY_LEN] = "";
	int port, i;

	(void)state;
	harness_init(&h);
	test_options(&o);
	o.max_links_per_addr = 4;
	peer_init(&a, &h, "a", 0xa1, net1, &o);
	port = peer_listen(&a);
	for (i = 0; i < 6; i++) {
		memset(seed, 0x60 + i, sizeof(seed));
		assert_int_equal(key_from_seed(seed, &k[i]), 0);
	}
	/* a neighbour a dials by key (nothing listens there: it dials in) */
	assert_int_equal(transport_connect(a.t, "127.0.0.1:1", k[5]->pub, NULL, why), 0);
	for (i = 0; i < 5; i++) {
		raw_open(&h, &r[i], port);
		raw_handshake(&h, &r[i], k[i], net1, &s[i]);
		RUN_UNTIL(&h, a.ups == (i < 4 ? i + 1 : 4) && (i < 4 || r[i].eof), WAIT_MS);
	}
	assert_int_equal(a.ups, 4);
	assert_true(r[4].eof);
	assert_int_equal(log_count(&a, "refused: too many links from 127.0.0.1", NULL), 1);
	raw_open(&h, &r[5], port);
	raw_handshake(&h, &r[5], k[5], net1, &s[5]);
	RUN_UNTIL(&h, a.ups == 5, WAIT_MS);
	assert_int_equal(a.ups, 5);
	for (i = 0; i < 6; i++) {
		raw_close(&h, &r[i]);
		raw_session_free(&s[i]);
		key_free(k[i]);
	}
	peer_clear(&a);
	harness_finish(&h);
}

/* --- serve: a transport for tests/transport/check_wire.py -------------------------------- */

/*
 * `test_transport serve`: listens on 127.0.0.1 (port 0) with the node key
 * made from the seed 32 x 0x5a and the network secret 0x5e 0xc1 0 ... 0,
 * prints "port N pub HEX" on stdout, echoes every frame back, and ends
 * (exit 0) when a frame "quit" arrives, or after 60 s (exit 1).  Logs on
 * stderr.  The Python script speaks the wire from proto/PROTOCOL.md §12 to it.
 */
struct serve {
	struct transport *t;
	uv_timer_t guard;
	int quit, timed_out;
};

static void serve_frame(void *ctx, struct transport_conn *c, const uint8_t *b, size_t len)
{
	struct serve *sv = ctx;

	if (len == 4 && memcmp(b, "quit", 4) == 0) {
		sv->quit = 1;
		transport_free(sv->t);
		uv_close((uv_handle_t *)&sv->guard, NULL);
		return;
	}
	if (transport_send(c, b, len, TRANSPORT_PRIO_NORMAL) != 0)
		fprintf(stderr, "serve: echo failed\n");
}

static void serve_log(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "serve: %s\n", line);
}

static void serve_guard(uv_timer_t *h)
{
	struct serve *sv = h->data;

	sv->timed_out = 1;
	transport_free(sv->t);
	uv_close((uv_handle_t *)&sv->guard, NULL);
}

static int serve(void)
{
	uv_loop_t loop;
	struct serve sv;
	struct transport_callbacks cb = { &sv, NULL, serve_frame, NULL, serve_log, NULL, NULL, NULL };
	struct key *k = NULL;
	uint8_t seed[32];
	char why[WM_WHY_LEN], hex[WM_HEX_PUB + 1];

	memset(&sv, 0, sizeof(sv));
	memset(seed, 0x5a, sizeof(seed));
	if (uv_loop_init(&loop) != 0 || key_from_seed(seed, &k) != 0
	    || transport_new(&loop, k, net1, &cb, NULL, &sv.t) != 0
	    || transport_listen(sv.t, "127.0.0.1:0", why) != 0) {
		fprintf(stderr, "serve: cannot start\n");
		return 2;
	}
	hex_encode(hex, k->pub, WM_PUB_LEN);
	printf("port %d pub %s\n", transport_listen_port(sv.t), hex);
	fflush(stdout);
	uv_timer_init(&loop, &sv.guard);
	sv.guard.data = &sv;
	uv_timer_start(&sv.guard, serve_guard, 60000, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	key_free(k);
	if (uv_loop_close(&loop) != 0) {
		fprintf(stderr, "serve: handles left at the end\n");
		return 3;
	}
	return sv.quit && !sv.timed_out ? 0 : 1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest links[] = {
		cmocka_unit_test(test_up_and_frames),
		cmocka_unit_test(test_three_in_a_line),
		cmocka_unit_test(test_queue_and_priority),
		cmocka_unit_test(test_queue_total),
		cmocka_unit_test(test_wrong_network_secret),
		cmocka_unit_test(test_wrong_expected_key),
		cmocka_unit_test(test_refused_peer),
		cmocka_unit_test(test_on_fail),
		cmocka_unit_test(test_close_with_backoff),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_duplicate_connections),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_dialer_remove_and_names),
		cmocka_unit_test(test_dial_handshake_timeout),
	};
	const struct CMUnitTest raw[] = {
		cmocka_unit_test(test_raw_garbage),
		cmocka_unit_test(test_raw_handshake_timeout),
		cmocka_unit_test(test_raw_handshakes_per_addr),
		cmocka_unit_test(test_raw_handshakes_preferred),
		cmocka_unit_test(test_raw_replays),
		cmocka_unit_test(test_raw_probes),
		cmocka_unit_test(test_raw_replay_after_restart),
		cmocka_unit_test(test_raw_bad_frames),
		cmocka_unit_test(test_raw_not_reading),
		cmocka_unit_test(test_raw_slow_reader),
		cmocka_unit_test(test_raw_links_per_addr),
		cmocka_unit_test(test_raw_garbage_flood),
	};
	const char *which = argc > 1 ? argv[1] : "all";
	int fails = 0;

	signal(SIGPIPE, SIG_IGN);   /* as the daemon does: libuv writes with write(2) */
	assert_int_equal(wmc_init(), 0);
	if (strcmp(which, "serve") == 0)
		return serve();
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	if (strcmp(which, "links") == 0 || strcmp(which, "all") == 0)
		fails += cmocka_run_group_tests_name("links", links, NULL, NULL);
	if (strcmp(which, "raw") == 0 || strcmp(which, "all") == 0)
		fails += cmocka_run_group_tests_name("raw", raw, NULL, NULL);
	return fails != 0;
}
