/*
 * Unit tests of the daemon's own logic below the loop (node/daemon/local.c):
 * the write batch around one turn's events, its rollback when the store
 * fails, and the poll that publishes what other processes wrote while
 * skipping the rows the mesh stored.  A real store in a temporary directory
 * and a real mesh with one peer; no libuv: the test plays the loop, calling
 * local_batch_end where the loop's check phase would.
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

#define T0   1700000000000ull
#define NOW  (T0 + 60000)
#define PEER 7
#define NEV  40

struct t {
	struct fx_node *f;
	struct mesh *m;
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
	mesh_config_defaults(&mc);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_turn_one_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_rolls_back_the_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_publishes_other_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_forgets_its_rows, setup, teardown),
	};

	if (wmc_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
