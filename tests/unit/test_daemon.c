/*
 * Unit tests of the daemon's own logic below the loop (node/daemon/local.c,
 * verify.c): the write batch around one turn's events, its rollback when the store
 * fails, and the poll that publishes what other processes wrote while
 * skipping the rows the mesh stored; the verify queue, which checks fetched
 * events on libuv's pool and hands frames to the mesh in arrival order.
 * A real store in a temporary directory and a real mesh with one peer; the
 * test plays the loop, calling local_batch_end where the loop's check
 * phase would (a real libuv loop only for the queue's workers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "fixture.h"
#include "frame.h"
#include "local.h"
#include "mesh.h"
#include "verify.h"

#define T0   1700000000000ull
#define NOW  (T0 + 60000)
#define PEER 7
#define NEV  40

struct t {
	struct fx_node *f;
	struct mesh *m;
	struct vq *vq;               /* the verify queue tests */
	unsigned taken;              /* events ingest took from it */
	unsigned peeks;              /* events the mesh took its worker's peek of */
	struct local l;
	unsigned warns;              /* local's D_WARN lines */
	unsigned event_frames_out;   /* EVENT frames the mesh sent the peer */
	struct fx_ev ev[NEV];
};

static int io_send(void *ctx, uint32_t peer, const uint8_t *buf, size_t len, int prio)
{
	struct t *t = ctx;
	struct frame f;

	(void)peer;
	(void)prio;
	if (frame_decode(buf, len, &f, NULL) == 0 && f.type == FRAME_EVENT)
		t->event_frames_out++;
	return 0;
}

static void io_disconnect(void *ctx, uint32_t peer, const char *why, uint64_t backoff_ms)
{
	(void)ctx;
	(void)peer;
	(void)backoff_ms;
	fail_msg("peer disconnected: %s", why);
}

static void io_stored(void *ctx, uint32_t peer, const uint8_t id[WM_ID_LEN], unsigned kind,
                      int64_t seq)
{
	struct t *t = ctx;

	(void)peer;
	(void)id;
	(void)kind;
	local_stored(&t->l, seq);
}

static void io_ingesting(void *ctx)
{
	struct t *t = ctx;

	local_batch_begin(&t->l);
}

static void local_log(void *ctx, int level, const char *line)
{
	struct t *t = ctx;

	(void)line;
	if (level == D_WARN)
		t->warns++;
}

/* mesh_io.peeked, as the daemon sets it */
static int peeked(void *ctx, const uint8_t *wire, size_t len, struct event_peek *out)
{
	struct t *t = ctx;
	int rc = vq_peeked(t->vq, wire, len, out);

	t->peeks += rc;
	return rc;
}

/* ingest_ctx.verified, as the daemon sets it for the mesh */
static struct event *verified(void *ctx, const uint8_t id[WM_ID_LEN])
{
	struct t *t = ctx;
	struct event *ev = vq_take(t->vq, id);

	t->taken += ev != NULL;
	return ev;
}

static void frame_in(struct t *t, const struct frame *f)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(frame_encode(f, &buf, &len, NULL), 0);
	assert_int_equal(mesh_receive(t->m, PEER, buf, len, NOW), 0);
	free(buf);
}

/* Event i arrives from the peer, as an answer to a fetch. */
static void event_in(struct t *t, size_t i)
{
	struct frame f;

	memset(&f, 0, sizeof f);
	f.type = FRAME_EVENT;
	f.event.push = 0;
	f.event.wire = t->ev[i].wire;
	f.event.len = t->ev[i].len;
	frame_in(t, &f);
}

/* The peer announces events 0..n-1 (IHAVE repair=1) and the mesh asks for
 * them all (one fetch window), so that event_in's answers are asked for. */
static void announce(struct t *t, size_t n)
{
	uint8_t ids[NEV][WM_ID_LEN], kinds[NEV];
	struct frame f;

	for (size_t i = 0; i < n; i++) {
		memcpy(ids[i], t->ev[i].id, WM_ID_LEN);
		kinds[i] = KIND_REQUEST;
	}
	memset(&f, 0, sizeof f);
	f.type = FRAME_IHAVE;
	f.ids.flag = 1;
	f.ids.n = n;
	f.ids.ids = &ids[0][0];
	f.ids.kinds = kinds;
	frame_in(t, &f);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof *t);
	struct mesh_io io;
	struct mesh_config mc;
	struct frame f;
	uint8_t pub[WM_PUB_LEN];
	char why[WM_WHY_LEN];

	assert_non_null(t);
	t->f = fx_node_new("daemon", 3, 0x70, NOW);
	for (size_t i = 0; i < NEV; i++) {
		struct event_draft d;
		char text[32];

		snprintf(text, sizeof text, "event %zu", i);
		fx_draft(&d, t->f->k[1 + i % 2], KIND_REQUEST, "g", T0 + i);
		draft_str(&d, "topic", "police");
		draft_str(&d, "text", text);
		t->ev[i] = fx_build(&d, t->f->k[1 + i % 2]);
	}
	memset(&io, 0, sizeof io);
	io.ctx = t;
	io.send = io_send;
	io.disconnect = io_disconnect;
	io.stored = io_stored;
	io.ingesting = io_ingesting;
	io.peeked = peeked;
	mesh_config_defaults(&mc);
	t->f->ctx.verified = verified;
	t->f->ctx.verified_ctx = t;
	assert_int_equal(mesh_new(&mc, &io, &t->f->ctx, 1, &t->m, why), 0);
	local_init(&t->l, t->f->s, t->m, local_log, t);
	memset(pub, 0x42, sizeof pub);
	assert_int_equal(mesh_peer_up(t->m, PEER, pub, 1, NOW), 0);
	memset(&f, 0, sizeof f);
	f.type = FRAME_HELLO;
	f.hello.version = 1;
	f.hello.name = frame_str_c("peer");
	assert_int_equal(frame_groups_parse("*", &f.hello.groups), 0);
	f.hello.software = frame_str_c("test");
	frame_in(t, &f);
	announce(t, NEV);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	local_free(&t->l);
	mesh_free(t->m);
	for (size_t i = 0; i < NEV; i++)
		free(t->ev[i].wire);
	fx_node_free(t->f);
	free(t);
	return 0;
}

/* Events in the store as another connection sees them (committed only). */
static int committed(const struct t *t)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n;

	assert_int_equal(sqlite3_open(t->f->d.path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void sql(const struct t *t, const char *q)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(t->f->d.path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, q, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", q, err);
	sqlite3_close(db);
}

/* What `watchmesh post --dir` does while the daemon runs: its own store
 * handle, one event, committed. */
static void post_elsewhere(struct t *t, size_t i)
{
	struct store *s = NULL;
	struct ingest_ctx ctx = t->f->ctx;
	struct ingest_result res;
	char why[WM_WHY_LEN];

	assert_int_equal(store_open(t->f->d.path, &s, why), 0);
	ctx.store = s;
	assert_int_equal(ingest_event(&ctx, t->ev[i].wire, t->ev[i].len, INGEST_LOCAL, &res), 0);
	store_close(s);
}

static void test_one_turn_one_transaction(void **state)
{
	struct t *t = *state;
	struct mesh_stats ms;

	for (size_t i = 0; i < 20; i++)
		event_in(t, i);
	/* the turn is not over: nothing is committed, all is in one batch */
	assert_true(t->l.batch_open);
	assert_int_equal(committed(t), 0);
	local_batch_end(&t->l);
	assert_false(t->l.batch_open);
	assert_int_equal(committed(t), 20);
	mesh_get_stats(t->m, &ms);
	assert_int_equal(ms.stored, 20);
	assert_int_equal(t->l.batch_failures, 0);
	assert_int_equal(t->warns, 0);
}

/* A POST's answer (serve.c): what it was told, and a next POST it may bring. */
struct waiter {
	struct t *t;
	int told;                    /* -1 not yet, else committed */
	int durable_meanwhile;       /* the store was still FULL when told */
	struct waiter *next;         /* waits on the next batch, opened from here */
};

static void waiter_cb(void *arg, int committed)
{
	struct waiter *w = arg;

	w->told = committed;
	w->durable_meanwhile = store_is_durable(w->t->f->s);
	if (w->next) {
		assert_int_equal(local_batch_durable(&w->t->l), 0);
		event_in(w->t, 9);
		assert_int_equal(local_batch_wait(&w->t->l, waiter_cb, w->next), 0);
	}
}

static void test_durable_batch_waits(void **state)
{
	struct t *t = *state;
	struct waiter a = { t, -1, 0, NULL }, b = { t, -1, 0, NULL }, c = { t, -1, 0, NULL };

	for (size_t i = 0; i < 3; i++)
		event_in(t, i);
	/* a POST: the mesh's batch is committed as it is, a durable one opens */
	assert_int_equal(local_batch_durable(&t->l), 0);
	assert_int_equal(committed(t), 3);
	assert_true(t->l.batch_open && store_is_durable(t->f->s));
	for (size_t i = 3; i < 6; i++)
		event_in(t, i);
	assert_int_equal(local_batch_wait(&t->l, waiter_cb, &a), 0);
	a.next = &c;                 /* its answer brings one more POST */
	assert_int_equal(local_batch_durable(&t->l), 0);      /* joins the open one */
	assert_int_equal(local_batch_wait(&t->l, waiter_cb, &b), 0);
	assert_int_equal(a.told, -1);
	assert_int_equal(committed(t), 3);
	local_batch_end(&t->l);
	assert_int_equal(a.told, 1);
	assert_int_equal(b.told, 1);
	assert_false(a.durable_meanwhile);   /* NORMAL again for the mesh */
	/* the POST an answer brought is not left open while the loop sleeps */
	assert_int_equal(c.told, 1);
	assert_false(t->l.batch_open);
	assert_int_equal(committed(t), 7);
	assert_int_equal(t->l.durable_commits, 2);

	/* a POST left half-written: every waiter of its batch is told 0 */
	a.told = b.told = -1;
	a.next = NULL;
	assert_int_equal(local_batch_durable(&t->l), 0);
	event_in(t, 10);
	assert_int_equal(local_batch_wait(&t->l, waiter_cb, &a), 0);
	event_in(t, 11);
	assert_int_equal(local_batch_wait(&t->l, waiter_cb, &b), 0);
	local_batch_fail(&t->l);
	local_batch_end(&t->l);
	assert_int_equal(a.told, 0);
	assert_int_equal(b.told, 0);
	assert_int_equal(store_has(t->f->s, t->ev[10].id), 0);
	assert_int_equal(t->l.batch_failures, 1);
	assert_false(store_is_durable(t->f->s));
}

/* While fetched events are on their way the loop keeps its batch open
 * across turns (local_batch_hold), up to batch_max events or batch_ms,
 * and never a batch a POST waits on. */
static void test_batch_held_across_turns(void **state)
{
	struct t *t = *state;
	struct waiter a = { t, -1, 0, NULL };
	size_t i;

	t->l.batch_max = 10;
	t->l.batch_ms = 250;
	assert_int_equal(local_batch_hold(&t->l, 1000), 0);      /* none open */
	for (i = 0; i < 4; i++)
		event_in(t, i);
	assert_int_equal(local_batch_hold(&t->l, 1000), 1);
	for (; i < 9; i++)
		event_in(t, i);
	assert_int_equal(local_batch_hold(&t->l, 1249), 1);
	assert_int_equal(local_batch_hold(&t->l, 1250), 0);      /* old enough */
	local_batch_end(&t->l);
	assert_int_equal(committed(t), 9);

	for (; i < 19; i++)
		event_in(t, i);
	assert_int_equal(local_batch_hold(&t->l, 2000), 0);      /* full */
	local_batch_end(&t->l);
	assert_int_equal(committed(t), 19);

	event_in(t, i++);
	assert_int_equal(local_batch_hold(&t->l, 3000), 1);
	assert_int_equal(local_batch_durable(&t->l), 0);         /* a POST */
	assert_int_equal(local_batch_wait(&t->l, waiter_cb, &a), 0);
	event_in(t, i++);
	assert_int_equal(local_batch_hold(&t->l, 3001), 0);
	local_batch_end(&t->l);
	assert_int_equal(a.told, 1);
	assert_int_equal(committed(t), 21);
}

static void test_failure_rolls_back_the_batch(void **state)
{
	struct t *t = *state;
	char q[256], hex[2 * WM_ID_LEN + 1];
	struct mesh_stats ms;

	/* the store refuses the 4th event of the turn */
	hex_encode(hex, t->ev[3].id, WM_ID_LEN);
	snprintf(q, sizeof q, "CREATE TRIGGER test_fail BEFORE INSERT ON events WHEN NEW.id = x'%s' "
	         "BEGIN SELECT RAISE(ABORT, 'injected'); END;", hex);
	sql(t, q);
	for (size_t i = 0; i < 8; i++)
		event_in(t, i);
	mesh_get_stats(t->m, &ms);
	assert_int_equal(ms.store_errors, 1);
	local_batch_end(&t->l);
	assert_int_equal(committed(t), 0);               /* all of it, not just the 4th */
	assert_int_equal(t->l.batch_failures, 1);
	assert_int_equal(t->warns, 1);                   /* logged once, not per event */
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(store_has(t->f->s, t->ev[i].id), 0);

	/* fetched again later, with the store well: all stored */
	sql(t, "DROP TRIGGER test_fail;");
	announce(t, 8);
	for (size_t i = 0; i < 8; i++)
		event_in(t, i);
	local_batch_end(&t->l);
	assert_int_equal(committed(t), 8);
	assert_int_equal(t->l.batch_failures, 1);
	assert_int_equal(t->warns, 1);
	/* the poll reads none of them back */
	assert_int_equal(local_poll(&t->l, 64, NOW), 0);
	assert_int_equal(t->l.rows_read, 0);
}

static void test_poll_publishes_other_writers(void **state)
{
	struct t *t = *state;
	unsigned sent;

	for (size_t i = 0; i < 5; i++)
		event_in(t, i);
	local_batch_end(&t->l);
	post_elsewhere(t, 5);
	for (size_t i = 6; i < 10; i++)
		event_in(t, i);
	local_batch_end(&t->l);
	post_elsewhere(t, 10);
	post_elsewhere(t, 11);
	assert_int_equal(committed(t), 12);

	sent = t->event_frames_out;
	assert_int_equal(local_poll(&t->l, 64, NOW), 3);
	assert_int_equal(t->l.published, 3);
	assert_int_equal(t->l.rows_read, 3);             /* the mesh's 9 rows were not read */
	assert_int_equal(t->event_frames_out - sent, 3);
	/* nothing new: nothing read */
	assert_int_equal(local_poll(&t->l, 64, NOW), 0);
	assert_int_equal(t->l.rows_read, 3);
}

/* A catch-up keeps the mesh's batches coming, each held open across turns:
 * a poll tick ends the held one rather than skip, so a post another process
 * made waits one tick, not for the catch-up's end.  A durable batch (POSTs
 * waiting) is left to its turn's check. */
static void test_poll_ends_a_held_batch(void **state)
{
	struct t *t = *state;

	post_elsewhere(t, 5);
	for (size_t i = 0; i < 3; i++)
		event_in(t, i);
	assert_int_equal(local_batch_hold(&t->l, NOW), 1);
	assert_int_equal(local_poll(&t->l, 64, NOW), 1);
	assert_int_equal(t->l.batch_open, 0);
	assert_int_equal(committed(t), 4);

	event_in(t, 3);
	assert_int_equal(local_batch_durable(&t->l), 0);
	assert_int_equal(local_poll(&t->l, 64, NOW), 0);
	assert_int_equal(t->l.batch_open, 1);
	local_batch_end(&t->l);
	assert_int_equal(committed(t), 5);
}

/* A rolled-back batch's seqs may be handed out again, here to another
 * writer: the poll must not skip its row as the daemon's. */
static void test_rollback_forgets_its_rows(void **state)
{
	struct t *t = *state;
	char q[256], hex[2 * WM_ID_LEN + 1];

	hex_encode(hex, t->ev[2].id, WM_ID_LEN);
	snprintf(q, sizeof q, "CREATE TRIGGER test_fail BEFORE INSERT ON events WHEN NEW.id = x'%s' "
	         "BEGIN SELECT RAISE(ABORT, 'injected'); END;", hex);
	sql(t, q);
	for (size_t i = 0; i < 4; i++)
		event_in(t, i);
	local_batch_end(&t->l);
	assert_int_equal(t->l.batch_failures, 1);
	sql(t, "DROP TRIGGER test_fail;");
	post_elsewhere(t, 20);
	assert_int_equal(local_poll(&t->l, 64, NOW), 1);
	assert_int_equal(t->l.rows_read, 1);
}

/* --- the verify queue ------------------------------------------------------------ */

#define NQ 8

struct q_log {
	struct t *t;
	uint8_t *sent[NQ];           /* the frames, in the order they were handed in */
	size_t sent_len[NQ], nsent;
	size_t order[NQ], n;         /* which of them deliver saw, in its order */
	int checked[NQ];             /* vq_take had its event, verified */
	int peeked[NQ];              /* vq_peeked had the worker's peek of it */
	int to_mesh;                 /* deliver hands the frame to the mesh */
};

static void q_deliver(void *ctx, uint32_t peer, const uint8_t *bytes, size_t len,
                      const struct vq_event *qev)
{
	struct q_log *ql = ctx;
	struct frame f;
	struct event_peek pk;
	struct event_peek wpk;
	struct event *ev;
	uint8_t other[WM_ID_LEN], *copy;
	size_t i;

	for (i = 0; i < ql->nsent; i++)
		if (ql->sent_len[i] == len && memcmp(ql->sent[i], bytes, len) == 0)
			break;
	assert_true(i < ql->nsent);
	assert_true(ql->n < NQ);
	ql->order[ql->n++] = i;
	/* the queue's decode of an EVENT frame, handed over: its own event
	 * in the frame being delivered */
	assert_int_equal(frame_decode(bytes, len, &f, NULL), 0);
	if (f.type == FRAME_EVENT) {
		assert_non_null(qev);
		assert_ptr_equal(qev->wire, f.event.wire);
		assert_int_equal(qev->len, f.event.len);
		assert_int_equal(qev->push, f.event.push);
	} else {
		assert_null(qev);
	}
	if (ql->to_mesh) {
		assert_int_equal(qev != NULL ? mesh_receive_event(ql->t->m, peer, qev->push, qev->wire,
		                                                  qev->len, NOW)
		                             : mesh_receive(ql->t->m, peer, bytes, len, NOW), 0);
		return;
	}
	if (f.type != FRAME_EVENT || event_peek(f.event.wire, f.event.len, 0, &pk, NULL) != 0)
		return;
	/* the worker's peek: of the frame's own bytes only, not of the same
	 * bytes elsewhere nor of a part of them */
	assert_non_null(copy = malloc(f.event.len));
	memcpy(copy, f.event.wire, f.event.len);
	assert_int_equal(vq_peeked(ql->t->vq, copy, f.event.len, &wpk), 0);
	free(copy);
	assert_int_equal(vq_peeked(ql->t->vq, f.event.wire, f.event.len - 1, &wpk), 0);
	if (vq_peeked(ql->t->vq, f.event.wire, f.event.len, &wpk)) {
		ql->peeked[i] = 1;
		assert_ptr_equal(wpk.wire, f.event.wire);
		assert_int_equal(wpk.wire_len, f.event.len);
		assert_memory_equal(wpk.id, pk.id, WM_ID_LEN);
	}
	memcpy(other, pk.id, WM_ID_LEN);
	other[0] ^= 1;
	assert_null(vq_take(ql->t->vq, other));           /* only the frame's own event */
	if ((ev = vq_take(ql->t->vq, pk.id)) != NULL) {
		ql->checked[i] = 1;
		assert_memory_equal(ev->id, pk.id, WM_ID_LEN);
		event_free(ev);
		assert_null(vq_take(ql->t->vq, pk.id));          /* handed over once */
	}
}

static void q_send(struct q_log *ql, const struct frame *f)
{
	assert_true(ql->nsent < NQ);
	assert_int_equal(frame_encode(f, &ql->sent[ql->nsent], &ql->sent_len[ql->nsent], NULL), 0);
	vq_frame(ql->t->vq, PEER, ql->sent[ql->nsent], ql->sent_len[ql->nsent]);
	ql->nsent++;
}

static void q_event(struct q_log *ql, const uint8_t *wire, size_t len, int push)
{
	struct frame f;

	memset(&f, 0, sizeof f);
	f.type = FRAME_EVENT;
	f.event.push = push;
	f.event.wire = wire;
	f.event.len = len;
	q_send(ql, &f);
}

static void q_ihave(struct q_log *ql, const uint8_t id[WM_ID_LEN])
{
	uint8_t kind = KIND_REQUEST;
	struct frame f;

	memset(&f, 0, sizeof f);
	f.type = FRAME_IHAVE;
	f.ids.flag = 1;
	f.ids.n = 1;
	f.ids.ids = id;
	f.ids.kinds = &kind;
	q_send(ql, &f);
}

/* Run the loop until every worker is done; close the queue and the loop. */
static void q_run(struct q_log *ql, uv_loop_t *loop)
{
	while (vq_inflight(ql->t->vq) > 0)
		uv_run(loop, UV_RUN_ONCE);
	assert_int_equal(vq_waiting(ql->t->vq), 0);
	vq_close(ql->t->vq);
	ql->t->vq = NULL;
	assert_int_equal(uv_loop_close(loop), 0);
	for (size_t i = 0; i < ql->nsent; i++)
		free(ql->sent[i]);
}

/* Fetched events (push=0) come to deliver checked, a broken one unchecked;
 * the rest unchecked; every frame in the order it came, a frame that needs
 * no worker waiting behind one that does. */
static void test_verify_queue_order(void **state)
{
	struct t *t = *state;
	struct q_log ql = { .t = t };
	uv_loop_t loop;
	uint8_t *bad;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(vq_new(&loop, q_deliver, &ql, &t->vq), 0);
	assert_non_null(bad = malloc(t->ev[1].len));
	memcpy(bad, t->ev[1].wire, t->ev[1].len);
	bad[fx_sig_at(&t->ev[1]) + 5] ^= 0x01;

	q_event(&ql, t->ev[0].wire, t->ev[0].len, 0);
	q_ihave(&ql, t->ev[9].id);                        /* waits for the worker of 0 */
	q_event(&ql, bad, t->ev[1].len, 0);
	q_event(&ql, t->ev[2].wire, t->ev[2].len, 1);     /* a live push: no worker */
	q_event(&ql, t->ev[3].wire, t->ev[3].len, 0);
	assert_int_equal(ql.n, 0);                        /* nothing passes the first */
	q_run(&ql, &loop);
	free(bad);

	assert_int_equal(ql.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(ql.order[i], i);
	assert_int_equal(ql.checked[0], 1);
	assert_int_equal(ql.checked[1], 0);
	assert_int_equal(ql.checked[2], 0);
	assert_int_equal(ql.checked[3], 0);
	assert_int_equal(ql.checked[4], 1);
	assert_int_equal(ql.peeked[0], 1);
	assert_int_equal(ql.peeked[1], 0);
	assert_int_equal(ql.peeked[2], 1);                /* peeked, its check failed */
	assert_int_equal(ql.peeked[3], 0);
	assert_int_equal(ql.peeked[4], 1);
}

/* Through the mesh and ingest into one batch: ingest takes the checked
 * events instead of checking them again, and an event refused in the middle
 * of the batch (made an hour ahead of the node's clock) costs only itself. */
static void test_verify_queue_batch(void **state)
{
	struct t *t = *state;
	struct q_log ql = { .t = t, .to_mesh = 1 };
	struct event_draft d;
	struct fx_ev ahead;
	uv_loop_t loop;

	fx_draft(&d, t->f->k[1], KIND_REQUEST, "g", NOW + 3600000);
	draft_str(&d, "topic", "police");
	draft_str(&d, "text", "from the future");
	ahead = fx_build(&d, t->f->k[1]);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(vq_new(&loop, q_deliver, &ql, &t->vq), 0);

	q_event(&ql, t->ev[0].wire, t->ev[0].len, 0);
	q_ihave(&ql, ahead.id);                           /* so the mesh asks for it */
	q_event(&ql, t->ev[1].wire, t->ev[1].len, 0);
	q_event(&ql, ahead.wire, ahead.len, 0);
	q_event(&ql, t->ev[2].wire, t->ev[2].len, 0);
	q_event(&ql, t->ev[3].wire, t->ev[3].len, 0);
	q_run(&ql, &loop);
	free(ahead.wire);

	assert_int_equal(ql.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(ql.order[i], i);
	assert_int_equal(t->taken, 5);                    /* the refused one too: checked once */
	assert_int_equal(t->peeks, 5);                    /* and hashed once, by its worker */
	assert_true(t->l.batch_open);
	local_batch_end(&t->l);
	assert_int_equal(committed(t), 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(store_has(t->f->s, t->ev[i].id), 1);
	assert_int_equal(store_has(t->f->s, ahead.id), 0);
	assert_int_equal(t->l.batch_failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_turn_one_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_rolls_back_the_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durable_batch_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_held_across_turns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_publishes_other_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_ends_a_held_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_forgets_its_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_queue_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_queue_batch, setup, teardown),
	};

	if (wmc_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
