/*
 * Unit tests of node/mesh: the finer rules, frame by frame.  Each test node
 * is a real mesh over a real store (a temporary file) and the real ingest
 * path; its io records what it sends and whom it disconnects.  Two nodes
 * can be wired together (pump()) to run repair end to end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "fixture.h"
#include "frame.h"
#include "ingest.h"
#include "mesh.h"
#include "store.h"

#define T0 1800000000000ull
#define DAY 86400000ull
#define MAXSENT 4096

struct sent {
	uint32_t peer;
	uint8_t *buf;
	size_t len;
	int prio;
};

struct tnode {
	struct fx_dir d;                /* its own directory, gone with it */
	struct store *s;
	struct ingest_ctx ictx;
	struct mesh *m;
	struct sent out[MAXSENT];
	size_t nout;
	uint32_t disc_peer;
	uint8_t stored_id[32];
	int nstored;
	uint64_t disc_backoff;
	int ndisc;
	char rlog[8][256];              /* "repair with" summary lines */
	int nrlog;
	int nwaiting;                   /* "wait for others" lines */
	const struct event_peek *given; /* what io_peeked hands the mesh, or NULL */
	int npeeked;
	uint64_t slow_ms;               /* pump: what each fetched event costs its loop */
};

struct fx {
	struct fx_cast c;               /* root, station, officer */
	struct key *alice;
	struct fx_ev certs[2];          /* root -> station -> officer */
	struct tnode *n[3];
	unsigned counter;
};

static struct fx *F;

static int io_send(void *ctx, uint32_t peer, const uint8_t *buf, size_t len, int prio)
{
	struct tnode *t = ctx;

	if (t->nout == MAXSENT)
		return WM_ETOOBIG;
	t->out[t->nout].peer = peer;
	t->out[t->nout].buf = malloc(len);
	assert_non_null(t->out[t->nout].buf);
	memcpy(t->out[t->nout].buf, buf, len);
	t->out[t->nout].len = len;
	t->out[t->nout].prio = prio;
	t->nout++;
	return 0;
}

static void io_disconnect(void *ctx, uint32_t peer, const char *why, uint64_t backoff)
{
	struct tnode *t = ctx;

	assert_true(strlen(why) > 0);
	t->disc_peer = peer;
	t->disc_backoff = backoff;
	t->ndisc++;
}

static void io_stored(void *ctx, uint32_t peer, const uint8_t id[WM_ID_LEN], unsigned kind,
                      int64_t seq)
{
	struct tnode *t = ctx;

	assert_true(peer > 0 && kind > 0 && seq > 0);
	memcpy(t->stored_id, id, 32);
	t->nstored++;
}

/* The glue's peek of a received event: `given` if set (a glue that mixed
 * up two frames), else the bytes themselves peeked, as the daemon's
 * workers do. */
static int io_peeked(void *ctx, const uint8_t *wire, size_t len, struct event_peek *out)
{
	struct tnode *t = ctx;

	t->npeeked++;
	if (t->given != NULL) {
		*out = *t->given;
		return 1;
	}
	return event_peek(wire, len, 0, out, NULL) == 0;
}

static void io_log(void *ctx, enum mesh_log_level level, const char *line)
{
	struct tnode *t = ctx;

	if (strstr(line, "fetched events wait for others") != NULL)
		t->nwaiting++;
	if (strncmp(line, "repair with ", 12) != 0)
		return;
	/* news at info; a session that fetched nothing is routine: debug */
	assert_non_null(strstr(line, ", fetched "));
	assert_int_equal(level, strtoull(strstr(line, ", fetched ") + 10, NULL, 10) > 0 ? MESH_LOG_INFO
	                                                                                : MESH_LOG_DEBUG);
	if (t->nrlog < 8)
		snprintf(t->rlog[t->nrlog++], sizeof(t->rlog[0]), "%s", line);
}

/* The summary line of a scope: 1 and its numbers, or 0 if none. */
static int rlog_find(const struct tnode *t, const char *scope, unsigned long long v[7])
{
	char sc[16];
	int i;

	for (i = 0; i < t->nrlog; i++) {
		const char *p = strstr(t->rlog[i], "): scope ");

		if (p == NULL)
			continue;
		if (sscanf(p, "): scope %15[a-z], %llu round trips, %llu/%llu bytes, need %llu, have %llu, "
		           "fetched %llu in %llu ms", sc, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) == 8 &&
		    strcmp(sc, scope) == 0)
			return 1;
	}
	return 0;
}

static void clear(struct tnode *t)
{
	size_t i;

	for (i = 0; i < t->nout; i++)
		free(t->out[i].buf);
	t->nout = 0;
}

static struct tnode *tnode_new(const char *name, const char *groups, unsigned fanout, uint64_t seed)
{
	struct mesh_io io = { NULL, io_send, io_disconnect, io_log, io_stored, NULL, io_peeked };
	struct mesh_config cfg;
	struct tnode *t = calloc(1, sizeof(*t));
	char why[WM_WHY_LEN];

	assert_non_null(t);
	fx_dir_new(&t->d, "mesh");
	fx_store_open(&t->d, name, &t->s);
	t->ictx.store = t->s;
	memcpy(t->ictx.root, F->c.root->pub, WM_PUB_LEN);
	t->ictx.now = T0;
	io.ctx = t;
	mesh_config_defaults(&cfg);
	cfg.name = name;
	cfg.groups = groups;
	cfg.eager_fanout = fanout;
	cfg.author_burst = 5;
	cfg.author_rate = 0.001;
	cfg.verbose = 1;
	if (mesh_new(&cfg, &io, &t->ictx, seed, &t->m, why) != 0)
		fail_msg("mesh_new: %s", why);
	return t;
}

static void tnode_free(struct tnode *t)
{
	if (t == NULL)
		return;
	clear(t);
	mesh_free(t->m);
	store_close(t->s);
	fx_store_remove(&t->d);
	free(t);
}

/* A new event (kind 1 bulletin, 2 alert, 3 request); caller frees *w. */
static void mkev(unsigned kind, const char *group, uint8_t **w, size_t *n, uint8_t id[32])
{
	static char text[64][40];
	char *t = text[F->counter % 64];
	struct event_draft d;
	struct fx_ev e;
	/* the officer posts bulletins and alerts, a resident the requests */
	const struct key *k = kind == KIND_REQUEST ? F->alice : F->c.officer;

	snprintf(t, 40, "unit event %u", F->counter++);
	fx_draft(&d, k, kind, group, T0 + F->counter);
	if (kind == KIND_ALERT) {
		d.expires_at = T0 + DAY;
		draft_str(&d, "event", "Missing person");
		draft_str(&d, "headline", t);
		draft_str(&d, "text", "red jacket");
		draft_str(&d, "category", "Rescue");
		draft_str(&d, "urgency", "Immediate");
		draft_str(&d, "severity", "Severe");
		draft_str(&d, "certainty", "Observed");
		draft_str(&d, "area_desc", "Xinhua");
	} else if (kind == KIND_BULLETIN) {
		draft_str(&d, "title", "Notice");
		draft_str(&d, "text", t);
		draft_str(&d, "category", "fraud");
	} else {
		draft_str(&d, "topic", "police");
		draft_str(&d, "text", t);
	}
	e = fx_build(&d, k);
	*w = e.wire;
	*n = e.len;
	memcpy(id, e.id, WM_ID_LEN);
}

static void put(struct tnode *t, const uint8_t *w, size_t n)
{
	struct ingest_result r;

	t->ictx.now = T0 + DAY / 2;
	assert_int_equal(ingest_event(&t->ictx, w, n, INGEST_IMPORT, &r), 0);
}

static void certs_into(struct tnode *t)
{
	put(t, F->certs[0].wire, F->certs[0].len);
	put(t, F->certs[1].wire, F->certs[1].len);
}

static int setup(void **state)
{
	assert_int_equal(wmc_init(), 0);
	F = calloc(1, sizeof(*F));
	assert_non_null(F);
	fx_cast_filled(&F->c, 1, 0);            /* seeds 1, 2, 3 */
	F->alice = fx_key(4);
	fx_chain(F->c.root, F->c.station, F->c.officer, T0 - DAY, T0 + 365 * DAY, F->certs);
	/* the station's certificate first in id order, as repair fetches them
	 * (the other order is test_repair_dependencies') */
	for (uint64_t t = T0 - DAY + 1; memcmp(F->certs[1].id, F->certs[0].id, WM_ID_LEN) < 0; t++) {
		free(F->certs[1].wire);
		F->certs[1] = fx_cert(F->c.station, F->c.officer, "officer", "officer", "*", T0 - DAY,
		                      T0 + 365 * DAY, t);
	}
	*state = F;
	return 0;
}

static int teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		tnode_free(F->n[i]);
	fx_cast_free(&F->c);
	key_free(F->alice);
	free(F->certs[0].wire);
	free(F->certs[1].wire);
	free(F);
	return 0;
}

/* --- helpers over the sent frames ------------------------------------------------ */

static size_t count(struct tnode *t, uint32_t peer, enum frame_type type, struct frame *last)
{
	size_t i, n = 0;
	struct frame f;

	for (i = 0; i < t->nout; i++) {
		assert_int_equal(frame_decode(t->out[i].buf, t->out[i].len, &f, NULL), 0);
		if (t->out[i].peer == peer && f.type == type) {
			n++;
			if (last != NULL)
				*last = f;
		}
	}
	return n;
}

static int prio_of(struct tnode *t, uint32_t peer, enum frame_type type)
{
	size_t i;
	struct frame f;

	for (i = 0; i < t->nout; i++) {
		assert_int_equal(frame_decode(t->out[i].buf, t->out[i].len, &f, NULL), 0);
		if (t->out[i].peer == peer && f.type == type)
			return t->out[i].prio;
	}
	return -1;
}

static void send_frame(struct tnode *t, uint32_t peer, const struct frame *f, uint64_t now, int want)
{
	uint8_t *b;
	size_t n;

	assert_int_equal(frame_encode(f, &b, &n, NULL), 0);
	assert_int_equal(mesh_receive(t->m, peer, b, n, now), want);
	free(b);
}

static void hello_from(struct tnode *t, uint32_t peer, const char *groups, uint64_t now)
{
	struct frame f;

	memset(&f, 0, sizeof(f));
	f.type = FRAME_HELLO;
	f.hello.version = 1;
	f.hello.name = frame_str_c("peer");
	assert_int_equal(frame_groups_parse(groups, &f.hello.groups), 0);
	f.hello.software = frame_str_c("test");
	send_frame(t, peer, &f, now, 0);
}

static void event_from(struct tnode *t, uint32_t peer, const uint8_t *w, size_t n, int push,
                       uint64_t now, int want)
{
	struct frame f;

	memset(&f, 0, sizeof(f));
	f.type = FRAME_EVENT;
	f.event.push = push;
	f.event.wire = w;
	f.event.len = n;
	send_frame(t, peer, &f, now, want);
}

/* IHAVE repair=1 of n ids (requests) from a peer: it queues them to fetch. */
static void ihave_repair_from(struct tnode *t, uint32_t peer, const uint8_t *ids, size_t n,
                              uint64_t now)
{
	uint8_t kinds[1024];
	struct frame f;

	memset(kinds, KIND_REQUEST, n);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_IHAVE;
	f.ids.flag = 1;
	f.ids.n = n;
	f.ids.ids = ids;
	f.ids.kinds = kinds;
	send_frame(t, peer, &f, now, 0);
}

static int eager(struct tnode *t, uint32_t peer)
{
	struct mesh_peer_info pi;
	size_t i;

	for (i = 0; i < mesh_peer_count(t->m); i++) {
		assert_int_equal(mesh_peer_info(t->m, i, &pi), 0);
		if (pi.peer == peer)
			return pi.eager;
	}
	fail_msg("no peer %u", peer);
	return -1;
}

static uint8_t pubs[8][32];

/* Node with `np` ready peers 1..np (hellos exchanged), certs held. */
static struct tnode *star(int slot, unsigned np, unsigned fanout)
{
	struct tnode *t;
	uint32_t p;

	t = F->n[slot] = tnode_new(slot == 0 ? "a" : slot == 1 ? "b" : "c", "*", fanout, 7);
	certs_into(t);
	for (p = 1; p <= np; p++) {
		memset(pubs[p], (int)p, 32);
		assert_int_equal(mesh_peer_up(t->m, p, pubs[p], 1, T0), 0);
		hello_from(t, p, "*", T0);
	}
	return t;
}

/* --- tests ---------------------------------------------------------------------------- */

static void test_hello_first(void **state)
{
	struct tnode *t;
	struct frame f;
	uint8_t *w;
	size_t n;
	uint8_t id[32];

	(void)state;
	t = F->n[0] = tnode_new("a", "gaobu,xinhua", 4, 1);
	memset(pubs[1], 1, 32);
	assert_int_equal(mesh_peer_up(t->m, 1, pubs[1], 0, T0), 0);
	assert_int_equal(mesh_peer_up(t->m, 1, pubs[1], 0, T0), WM_EINVAL);  /* handle in use */
	assert_int_equal(t->nout, 1);
	assert_int_equal(frame_decode(t->out[0].buf, t->out[0].len, &f, NULL), 0);
	assert_int_equal(f.type, FRAME_HELLO);
	assert_int_equal(f.hello.groups.n, 2);
	/* anything but HELLO first is a protocol error */
	mkev(KIND_REQUEST, "gaobu", &w, &n, id);
	event_from(t, 1, w, n, 1, T0, WM_EPROTO);
	assert_int_equal(t->ndisc, 1);
	assert_int_equal(t->disc_peer, 1);
	assert_true(t->disc_backoff > 0);
	assert_int_equal(store_has(t->s, id), 0);
	/* after that, the peer is ignored until it is gone */
	hello_from(t, 1, "*", T0);
	assert_int_equal(t->ndisc, 1);
	mesh_peer_down(t->m, 1, T0);
	assert_int_equal(mesh_peer_count(t->m), 0);
	/* a peer that never says HELLO is dropped after 30 s, without a ban */
	assert_int_equal(mesh_peer_up(t->m, 3, pubs[1], 1, T0), 0);
	assert_true(mesh_next_deadline(t->m) <= T0 + 30000);
	mesh_tick(t->m, T0 + 29999);
	assert_int_equal(t->ndisc, 1);
	mesh_tick(t->m, T0 + 30000);
	assert_int_equal(t->ndisc, 2);
	assert_int_equal(t->disc_peer, 3);
	assert_int_equal(t->disc_backoff, 0);
	mesh_peer_down(t->m, 3, T0 + 30001);
	/* garbage is a protocol error with a reason */
	assert_int_equal(mesh_peer_up(t->m, 2, pubs[1], 0, T0), 0);
	assert_int_not_equal(mesh_receive(t->m, 2, (const uint8_t *)"\xc1", 1, T0), 0);
	assert_int_equal(t->ndisc, 3);
	free(w);
}

static void test_eager_lazy_publish(void **state)
{
	struct tnode *t;
	struct frame f;
	uint8_t *w, id[32];
	size_t n;
	uint64_t dl;

	(void)state;
	memset(&f, 0, sizeof(f));
	t = star(0, 3, 2);
	assert_int_equal(eager(t, 1) + eager(t, 2) + eager(t, 3), 2);
	clear(t);
	mesh_tick(t->m, T0);            /* the first repairs start */
	clear(t);
	mkev(KIND_REQUEST, "gaobu", &w, &n, id);
	put(t, w, n);
	assert_int_equal(mesh_publish(t->m, w, n, T0 + 10), 0);
	/* whole to the two eager peers at once, nothing yet to the lazy one */
	assert_int_equal(count(t, 1, FRAME_EVENT, NULL) + count(t, 2, FRAME_EVENT, NULL) +
	                 count(t, 3, FRAME_EVENT, NULL), 2);
	assert_int_equal(count(t, 3, FRAME_IHAVE, NULL) + count(t, 2, FRAME_IHAVE, NULL) +
	                 count(t, 1, FRAME_IHAVE, NULL), 0);
	dl = mesh_next_deadline(t->m);
	assert_true(dl <= T0 + 10 + 50);
	mesh_tick(t->m, T0 + 10 + 50);
	uint32_t lazy = !eager(t, 1) ? 1 : !eager(t, 2) ? 2 : 3;

	assert_int_equal(count(t, lazy, FRAME_IHAVE, &f), 1);
	assert_int_equal(f.ids.n, 1);
	assert_int_equal(f.ids.flag, 0);
	assert_memory_equal(f.ids.ids, id, 32);
	assert_int_equal(f.ids.kinds[0], KIND_REQUEST);
	assert_int_equal(count(t, lazy, FRAME_EVENT, &f), 0);
	free(w);
}

static void test_forward_and_prune(void **state)
{
	struct tnode *t;
	struct frame f;
	uint8_t *w, id[32];
	size_t n;
	struct mesh_stats st;

	(void)state;
	t = star(0, 3, 3);
	mesh_tick(t->m, T0);
	clear(t);
	mkev(KIND_BULLETIN, "gaobu", &w, &n, id);
	event_from(t, 1, w, n, 1, T0 + 5, 0);
	assert_int_equal(store_has(t->s, id), 1);
	assert_int_equal(t->nstored, 1);
	assert_memory_equal(t->stored_id, id, 32);
	/* forwarded whole to the other eager peers, never back to the sender */
	assert_int_equal(count(t, 1, FRAME_EVENT, NULL), 0);
	assert_int_equal(count(t, 2, FRAME_EVENT, &f), 1);
	assert_int_equal(f.event.push, 1);
	assert_int_equal(count(t, 3, FRAME_EVENT, NULL), 1);
	assert_int_equal(prio_of(t, 2, FRAME_EVENT), 0);
	/* the same event pushed again by peer 2: PRUNE it, it becomes lazy */
	assert_int_equal(eager(t, 2), 1);
	event_from(t, 2, w, n, 1, T0 + 6, 0);
	assert_int_equal(count(t, 2, FRAME_PRUNE, NULL), 1);
	assert_int_equal(eager(t, 2), 0);
	assert_int_equal(t->nstored, 1);        /* a duplicate is not news */
	assert_int_equal(eager(t, 1), 1);
	/* a duplicate that answers an IWANT (push 0) prunes nothing */
	event_from(t, 3, w, n, 0, T0 + 7, 0);
	assert_int_equal(count(t, 3, FRAME_PRUNE, NULL), 0);
	assert_int_equal(eager(t, 3), 1);
	/* a PRUNE from peer 3 makes it lazy: the next event is announced to it */
	memset(&f, 0, sizeof(f));
	f.type = FRAME_PRUNE;
	send_frame(t, 3, &f, T0 + 8, 0);
	assert_int_equal(eager(t, 3), 0);
	clear(t);
	free(w);
	mkev(KIND_BULLETIN, "gaobu", &w, &n, id);
	event_from(t, 1, w, n, 1, T0 + 9, 0);
	assert_int_equal(count(t, 3, FRAME_EVENT, NULL), 0);
	mesh_tick(t->m, T0 + 1000);
	assert_int_equal(count(t, 3, FRAME_IHAVE, NULL), 1);
	mesh_get_stats(t->m, &st);
	assert_int_equal(st.stored, 2);
	assert_int_equal(st.duplicates, 2);
	free(w);
}

static void test_ihave_graft(void **state)
{
	struct tnode *t;
	struct frame f;
	uint8_t *w, id[32], *w2, id2[32];
	size_t n, n2;
	uint8_t kind = KIND_REQUEST;

	(void)state;
	t = star(0, 2, 0);                      /* both peers lazy */
	mesh_tick(t->m, T0);
	clear(t);
	mkev(KIND_REQUEST, "gaobu", &w, &n, id);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_IHAVE;
	f.ids.n = 1;
	f.ids.ids = id;
	f.ids.kinds = &kind;
	send_frame(t, 1, &f, T0 + 100, 0);
	send_frame(t, 2, &f, T0 + 110, 0);
	/* wait for the eager copy first */
	mesh_tick(t->m, T0 + 200);
	assert_int_equal(count(t, 1, FRAME_IWANT, NULL), 0);
	assert_true(mesh_next_deadline(t->m) <= T0 + 100 + 300);
	mesh_tick(t->m, T0 + 400);
	assert_int_equal(count(t, 1, FRAME_IWANT, &f), 1);
	assert_int_equal(f.ids.flag, 1);        /* graft */
	assert_memory_equal(f.ids.ids, id, 32);
	assert_int_equal(eager(t, 1), 1);
	/* no answer: ask the next announcer after the fetch timeout */
	mesh_tick(t->m, T0 + 400 + 2000);
	assert_int_equal(count(t, 2, FRAME_IWANT, NULL), 1);
	/* the answer arrives (push 0, but asked for live): stored and forwarded */
	event_from(t, 2, w, n, 0, T0 + 2500, 0);
	assert_int_equal(store_has(t->s, id), 1);
	assert_int_equal(count(t, 1, FRAME_EVENT, NULL), 1);
	/* an event whose eager copy arrives in time is never asked for */
	clear(t);
	mkev(KIND_REQUEST, "gaobu", &w2, &n2, id2);
	f.ids.ids = id2;
	send_frame(t, 1, &f, T0 + 3000, 0);
	event_from(t, 2, w2, n2, 1, T0 + 3010, 0);
	mesh_tick(t->m, T0 + 10000);
	assert_int_equal(count(t, 1, FRAME_IWANT, NULL), 0);
	free(w);
	free(w2);
}

static void test_iwant_answers(void **state)
{
	struct tnode *t;
	struct frame f;
	uint8_t *w, ids[64];
	size_t n;

	(void)state;
	t = star(0, 1, 0);
	mkev(KIND_ALERT, "gaobu", &w, &n, ids);
	put(t, w, n);
	memset(ids + 32, 0xee, 32);             /* not held */
	clear(t);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_IWANT;
	f.ids.n = 2;
	f.ids.ids = ids;
	send_frame(t, 1, &f, T0 + 1, 0);
	assert_int_equal(count(t, 1, FRAME_EVENT, &f), 1);
	assert_int_equal(f.event.push, 0);
	assert_int_equal(f.event.len, n);
	assert_int_equal(prio_of(t, 1, FRAME_EVENT), 1);        /* an alert */
	assert_int_equal(count(t, 1, FRAME_NOTHAVE, &f), 1);
	assert_int_equal(f.ids.n, 1);
	assert_memory_equal(f.ids.ids, ids + 32, 32);
	free(w);
}

static void test_invalid_event_disconnects(void **state)
{
	struct tnode *t;
	uint8_t *w, id[32];
	size_t n, sig;
	struct mesh_stats st;

	(void)state;
	t = star(0, 2, 2);
	mesh_tick(t->m, T0);
	clear(t);
	mkev(KIND_BULLETIN, "gaobu", &w, &n, id);
	sig = fx_sig_at(&(struct fx_ev){ .wire = w, .len = n });
	w[sig] ^= 1;                            /* broken signature */
	event_from(t, 1, w, n, 1, T0 + 1, WM_ESIG);
	assert_int_equal(t->ndisc, 1);
	assert_int_equal(t->disc_peer, 1);
	assert_true(t->disc_backoff >= 600000);
	assert_int_equal(store_has(t->s, id), 0);
	assert_int_equal(count(t, 2, FRAME_EVENT, NULL), 0);    /* not forwarded */
	mesh_tick(t->m, T0 + 5000);
	assert_int_equal(count(t, 2, FRAME_IHAVE, NULL), 0);
	/* frames after the disconnect are ignored */
	w[sig] ^= 1;
	event_from(t, 1, w, n, 1, T0 + 2, 0);
	assert_int_equal(store_has(t->s, id), 0);
	mesh_get_stats(t->m, &st);
	assert_int_equal(st.invalid, 1);
	/* the same key misbehaving again is backed off longer */
	mesh_peer_down(t->m, 1, T0 + 3);
	assert_int_equal(mesh_peer_up(t->m, 5, pubs[1], 0, T0 + 4), 0);
	assert_int_not_equal(mesh_receive(t->m, 5, (const uint8_t *)"\x91\x00", 2, T0 + 5), 0);
	assert_int_equal(t->ndisc, 2);
	assert_true(t->disc_backoff >= 2 * 600000);
	free(w);
}

/* The mesh takes the glue's peek, and its id, only for the very bytes it
 * is reading: a peek of other bytes (another peer's event, of the same
 * length) is not taken for this one. */
static void test_peeked_other_bytes(void **state)
{
	struct tnode *t;
	uint8_t *w, *w2, id[32], id2[32];
	size_t n, n2;
	struct event_peek other;

	(void)state;
	t = star(0, 2, 2);
	mesh_tick(t->m, T0);
	mkev(KIND_BULLETIN, "gaobu", &w, &n, id);
	mkev(KIND_BULLETIN, "gaobu", &w2, &n2, id2);
	assert_int_equal(n, n2);
	assert_int_equal(event_peek(w2, n2, 0, &other, NULL), 0);
	t->given = &other;
	event_from(t, 1, w, n, 1, T0 + 1, 0);
	assert_int_equal(t->npeeked, 1);
	assert_int_equal(t->nstored, 1);
	assert_memory_equal(t->stored_id, id, 32);
	assert_int_equal(store_has(t->s, id), 1);
	assert_int_equal(store_has(t->s, id2), 0);
	/* the glue's own peek of these bytes is taken */
	t->given = NULL;
	event_from(t, 2, w2, n2, 1, T0 + 2, 0);
	assert_int_equal(t->npeeked, 2);
	assert_int_equal(t->nstored, 2);
	assert_memory_equal(t->stored_id, id2, 32);
	assert_int_equal(store_has(t->s, id2), 1);
	free(w);
	free(w2);
}

static void test_passing_refusal(void **state)
{
	struct tnode *t;
	uint8_t *w, id[32];
	size_t n;

	(void)state;
	t = F->n[0] = tnode_new("a", "*", 4, 3);        /* no certs: officer unknown */
	memset(pubs[1], 1, 32);
	memset(pubs[2], 2, 32);
	assert_int_equal(mesh_peer_up(t->m, 1, pubs[1], 1, T0), 0);
	assert_int_equal(mesh_peer_up(t->m, 2, pubs[2], 1, T0), 0);
	hello_from(t, 1, "*", T0);
	hello_from(t, 2, "*", T0);
	mesh_tick(t->m, T0);
	clear(t);
	mkev(KIND_BULLETIN, "gaobu", &w, &n, id);
	event_from(t, 1, w, n, 1, T0 + 1, 0);
	assert_int_equal(t->ndisc, 0);
	assert_int_equal(store_has(t->s, id), 0);
	assert_int_equal(count(t, 2, FRAME_EVENT, NULL), 0);
	/* once the certs are in, the same bytes are accepted and forwarded */
	certs_into(t);
	event_from(t, 1, w, n, 1, T0 + 2, 0);
	assert_int_equal(store_has(t->s, id), 1);
	assert_int_equal(count(t, 2, FRAME_EVENT, NULL), 1);
	free(w);
}

static void test_groups_and_alerts(void **state)
{
	struct tnode *t;
	uint8_t *w, id[32];
	size_t n;

	(void)state;
	t = F->n[0] = tnode_new("a", "gaobu", 0, 3);
	certs_into(t);
	memset(pubs[1], 1, 32);
	memset(pubs[2], 2, 32);
	assert_int_equal(mesh_peer_up(t->m, 1, pubs[1], 1, T0), 0);
	assert_int_equal(mesh_peer_up(t->m, 2, pubs[2], 1, T0), 0);
	hello_from(t, 1, "*", T0);
	hello_from(t, 2, "xinhua", T0);
	mesh_tick(t->m, T0);
	clear(t);
	/* an event of a group we do not carry is neither stored nor passed on */
	mkev(KIND_REQUEST, "xinhua", &w, &n, id);
	event_from(t, 1, w, n, 1, T0 + 1, 0);
	assert_int_equal(store_has(t->s, id), 0);
	free(w);
	/* an alert: announced at once, with priority, only to peers carrying its group */
	mkev(KIND_ALERT, "gaobu", &w, &n, id);
	event_from(t, 1, w, n, 1, T0 + 2, 0);
	assert_int_equal(store_has(t->s, id), 1);
	assert_int_equal(count(t, 2, FRAME_IHAVE, NULL), 0);
	free(w);
	mkev(KIND_ALERT, "gaobu", &w, &n, id);
	put(t, w, n);
	mesh_peer_down(t->m, 1, T0 + 3);
	assert_int_equal(mesh_peer_up(t->m, 3, pubs[1], 1, T0 + 3), 0);
	hello_from(t, 3, "gaobu", T0 + 3);
	clear(t);
	assert_int_equal(mesh_publish(t->m, w, n, T0 + 4), 0);
	assert_int_equal(count(t, 3, FRAME_IHAVE, NULL), 1);    /* no batching delay */
	assert_int_equal(prio_of(t, 3, FRAME_IHAVE), 1);
	free(w);
}

static void test_author_rate(void **state)
{
	struct tnode *t;
	uint8_t *w, id[32];
	size_t n, i, stored = 0;
	struct mesh_stats st;

	(void)state;
	t = star(0, 1, 1);
	for (i = 0; i < 8; i++) {
		mkev(KIND_REQUEST, "gaobu", &w, &n, id);
		event_from(t, 1, w, n, 1, T0 + 10 + i, 0);
		stored += store_has(t->s, id) == 1;
		free(w);
	}
	assert_int_equal(stored, 5);            /* the author's burst */
	mesh_get_stats(t->m, &st);
	assert_int_equal(st.rate_limited, 3);
	assert_int_equal(t->ndisc, 0);          /* not a fault */
	/* fetched events (push 0, asked for) are not throttled */
	mkev(KIND_REQUEST, "gaobu", &w, &n, id);
	ihave_repair_from(t, 1, id, 1, T0 + 20);
	event_from(t, 1, w, n, 0, T0 + 21, 0);
	assert_int_equal(store_has(t->s, id), 1);
	free(w);
}

/* Issue 8 item 6: EVENT push=0 that nobody asked for, from a fresh key, was
 * stored without limit.  Now the first one is a protocol fault. */
static void test_unasked_push0(void **state)
{
	struct tnode *t;
	uint8_t *w, id[32];
	size_t n, i, stored = 0;

	(void)state;
	t = star(0, 2, 1);
	mesh_tick(t->m, T0);
	for (i = 0; i < 1000; i++) {
		mkev(KIND_REQUEST, "gaobu", &w, &n, id);
		event_from(t, 1, w, n, 0, T0 + 10 + i / 4, i == 0 ? WM_EPROTO : 0);
		stored += store_has(t->s, id) == 1;
		free(w);
	}
	assert_int_equal(stored, 0);
	assert_int_equal(t->ndisc, 1);
	assert_int_equal(t->disc_peer, 1);
	assert_true(t->disc_backoff >= 600000);
	assert_int_equal(count(t, 2, FRAME_EVENT, NULL) + count(t, 2, FRAME_IHAVE, NULL), 0);
}

/* An answer that comes after its ask timed out is not a fault, but it counts
 * against the rate limits; only as many as were asked are excused. */
static void test_late_answer(void **state)
{
	struct tnode *t;
	uint8_t *w[8], ids[8][32];
	size_t n[8], i;

	(void)state;
	t = star(0, 1, 1);
	for (i = 0; i < 8; i++)
		mkev(KIND_REQUEST, "gaobu", &w[i], &n[i], ids[i]);
	ihave_repair_from(t, 1, ids[0], 7, T0 + 1);
	assert_int_equal(count(t, 1, FRAME_IWANT, NULL), 1);
	mesh_tick(t->m, T0 + 1 + 2000);         /* the fetch times out */
	for (i = 0; i < 7; i++)
		event_from(t, 1, w[i], n[i], 0, T0 + 3000 + i, 0);
	assert_int_equal(t->ndisc, 0);
	for (i = 0; i < 5; i++)                 /* the author's burst of 5; */
		assert_int_equal(store_has(t->s, ids[i]), 1);
	for (; i < 7; i++)                      /* the rest dropped, not a fault */
		assert_int_equal(store_has(t->s, ids[i]), 0);
	event_from(t, 1, w[7], n[7], 0, T0 + 3010, WM_EPROTO);  /* one more than asked */
	assert_int_equal(t->ndisc, 1);
	assert_int_equal(store_has(t->s, ids[7]), 0);
	for (i = 0; i < 8; i++)
		free(w[i]);
}

/* A fetch whose asks timed out (a peer slower than fetch_timeout_ms between
 * answers) is followed by a repair soon, as long as it stored something: its
 * late answers no longer count for it, and the rate limits drop most of them
 * (the author's burst here is 5). */
static void test_fetch_timeout_repairs_soon(void **state)
{
	struct tnode *t;
	struct frame f;
	uint8_t *w[8], ids[8][32];
	size_t n[8], i;
	uint64_t now = T0;

	(void)state;
	t = star(0, 1, 1);
	mesh_tick(t->m, now);                   /* the repair on connect */
	assert_int_equal(count(t, 1, FRAME_NEG_OPEN, &f), 1);
	f.type = FRAME_NEG_CLOSE;               /* the peer is busy: the next is minutes away */
	f.neg.reason = frame_str_c("busy");
	send_frame(t, 1, &f, ++now, 0);
	assert_true(mesh_next_deadline(t->m) > now + 10000);
	for (i = 0; i < 8; i++)
		mkev(KIND_REQUEST, "gaobu", &w[i], &n[i], ids[i]);
	ihave_repair_from(t, 1, ids[0], 8, ++now);
	assert_int_equal(count(t, 1, FRAME_IWANT, NULL), 1);
	event_from(t, 1, w[0], n[0], 0, now += 100, 0);
	assert_int_equal(store_has(t->s, ids[0]), 1);
	now += 2000;                            /* the rest times out */
	mesh_tick(t->m, now);
	assert_true(mesh_next_deadline(t->m) <= now + 1000);
	for (i = 1; i < 8; i++)                 /* late: 5 stored, 2 dropped */
		event_from(t, 1, w[i], n[i], 0, now + i, 0);
	assert_int_equal(store_has(t->s, ids[7]), 0);
	now = mesh_next_deadline(t->m);
	mesh_tick(t->m, now);
	assert_int_equal(count(t, 1, FRAME_NEG_OPEN, NULL), 2);
	assert_int_equal(t->ndisc, 0);
	for (i = 0; i < 8; i++)
		free(w[i]);
}

/* Issue 8 item 15: announcements fill a fetch queue only so far, per peer
 * and in all (the ids left out come with the next repair). */
static void test_fetch_queue_bound(void **state)
{
	struct tnode *t;
	struct mesh_peer_info pi;
	uint8_t *ids = malloc(1024 * 32);
	uint64_t total = 0;
	uint32_t p;
	size_t i, k;

	(void)state;
	assert_non_null(ids);
	t = star(0, 5, 0);
	for (p = 1; p <= 5; p++) {
		for (k = 0; k < 66; k++) {
			for (i = 0; i < 1024; i++) {
				memset(ids + 32 * i, (int)p, 28);
				ids[32 * i + 28] = (uint8_t)k;
				ids[32 * i + 29] = (uint8_t)(i >> 8);
				ids[32 * i + 30] = (uint8_t)i;
			}
			ihave_repair_from(t, p, ids, 1024, T0 + 1);
			clear(t);
		}
	}
	for (i = 0; i < mesh_peer_count(t->m); i++) {
		assert_int_equal(mesh_peer_info(t->m, i, &pi), 0);
		assert_true(pi.fetch_queued <= 65536 + 256);   /* queued and in flight */
		total += pi.fetch_queued;
	}
	/* queued in all, plus what is in flight (a window per peer) */
	assert_true(total >= 262144 && total <= 262144 + 5 * 256);
	assert_int_equal(t->ndisc, 0);
	free(ids);
}

static size_t pumped_nothave;

/* Per side, as pump sees the frames go: a session of its own open (client),
 * one of the other side's open (server), IWANTs sent meanwhile; and how
 * many of its queued frames were looked at already. */
struct pumped_side {
	int client, server;
	uint64_t ssession;              /* the other side's session it serves */
	size_t iwant_reconciling, seen;
};

/* Frames src queued since the last look, sent in the state src was in. */
static void pumped_sent(struct tnode *src, struct pumped_side *s)
{
	for (; s->seen < src->nout; s->seen++) {
		struct frame fr;

		if (frame_decode(src->out[s->seen].buf, src->out[s->seen].len, &fr, NULL) != 0)
			continue;
		if (fr.type == FRAME_NEG_OPEN)
			s->client = 1;
		else if (fr.type == FRAME_NEG_CLOSE && s->client)
			s->client = 0;
		else if (fr.type == FRAME_IWANT && (s->client || s->server))
			s->iwant_reconciling++;
	}
}

/* A frame dst received: a session of the other side opens or ends. */
static void pumped_received(struct pumped_side *dst, const struct frame *fr)
{
	if (fr->type == FRAME_NEG_OPEN) {
		dst->server = 1;
		dst->ssession = fr->neg.session;
	} else if (fr->type == FRAME_NEG_CLOSE && dst->server && fr->neg.session == dst->ssession) {
		dst->server = 0;        /* the client's last word */
	} else if (fr->type == FRAME_NEG_CLOSE) {
		dst->client = 0;        /* the server refused or gave up */
	}
}

/* Deliver frames between a (handle 1 at b) and b (handle 1 at a) until
 * quiet: no frame moves and no timer is due within 5 s (the periodic
 * repair is not). Time jumps to the next timer when nothing moves. */
static void pump(struct tnode *a, struct tnode *b, uint64_t *now)
{
	int moved = 1, rounds = 0;
	struct pumped_side ps[2];

	memset(ps, 0, sizeof ps);

	while (rounds++ < 10000) {
		if (!moved) {
			uint64_t t = mesh_next_deadline(a->m), tb = mesh_next_deadline(b->m);

			if (tb < t)
				t = tb;
			if (t > *now + 5000)
				break;
			if (t > *now)
				*now = t;
			mesh_tick(a->m, *now);
			mesh_tick(b->m, *now);
			if (a->nout == 0 && b->nout == 0) {
				*now += 10;
				continue;
			}
		}
		struct tnode *side[2] = { a, b };
		int k;

		moved = 0;
		for (k = 0; k < 2; k++) {
			struct tnode *src = side[k], *dst = side[1 - k];
			size_t i, nout = src->nout;
			struct sent *copy = malloc((nout ? nout : 1) * sizeof(*copy));

			assert_non_null(copy);
			pumped_sent(src, &ps[k]);       /* what ticks queued */
			memcpy(copy, src->out, nout * sizeof(*copy));
			src->nout = 0;
			ps[k].seen = 0;
			for (i = 0; i < nout; i++) {
				struct frame fr;

				if (frame_decode(copy[i].buf, copy[i].len, &fr, NULL) == 0) {
					if (fr.type == FRAME_NOTHAVE)
						pumped_nothave++;
					pumped_received(&ps[1 - k], &fr);
				}
				if (dst->slow_ms > 0 && fr.type == FRAME_EVENT && !fr.event.push) {
					/* a slow loop: its timers fire between the
					 * answers it has received and not yet read */
					*now += dst->slow_ms;
					mesh_tick(dst->m, *now);
				}
				(void)mesh_receive(dst->m, 1, copy[i].buf, copy[i].len, *now);
				pumped_sent(dst, &ps[1 - k]);
				free(copy[i].buf);
				moved = 1;
			}
			free(copy);
		}
		*now += 10;
		mesh_tick(a->m, *now);
		mesh_tick(b->m, *now);
		moved |= a->nout > 0 || b->nout > 0;
	}
	/* neither fetched while a session between them reconciled */
	assert_int_equal(ps[0].iwant_reconciling + ps[1].iwant_reconciling, 0);
}

static void test_repair_end_to_end(void **state)
{
	struct tnode *a, *b;
	uint8_t *w, id[32], ida[60][32], idx[32];
	size_t n, i;
	uint64_t now = T0 + 100;
	struct mesh_peer_info pi;

	(void)state;
	a = F->n[0] = tnode_new("a", "*", 2, 11);
	b = F->n[1] = tnode_new("b", "gaobu", 2, 12);
	certs_into(a);                          /* b must get the certs by repair first */
	for (i = 0; i < 60; i++) {
		/* b holds no certs yet, so its own events are residents' requests */
		mkev(i % 3 == 0 && i < 50 ? KIND_BULLETIN : KIND_REQUEST, "gaobu", &w, &n, ida[i]);
		put(i < 50 ? a : b, w, n);
		free(w);
	}
	mkev(KIND_REQUEST, "xinhua", &w, &n, idx);
	put(a, w, n);
	free(w);
	assert_int_equal(mesh_peer_up(a->m, 1, pubs[2], 1, now), 0);
	memset(pubs[3], 3, 32);
	assert_int_equal(mesh_peer_up(b->m, 1, pubs[3], 0, now), 0);
	pump(a, b, &now);
	for (i = 0; i < 60; i++) {
		assert_int_equal(store_has(a->s, ida[i]), 1);
		assert_int_equal(store_has(b->s, ida[i]), 1);
	}
	assert_int_equal(store_has(b->s, idx), 0);      /* b does not carry xinhua */
	assert_int_equal(a->ndisc + b->ndisc, 0);
	/* a dialed: its sessions came first and found both directions; b
	 * fetched what a announced (IHAVE repair=1), so its own sessions,
	 * which waited for a's to close, found nothing left */
	assert_int_equal(mesh_peer_info(b->m, 0, &pi), 0);
	assert_true(pi.last_repair_at > 0);
	assert_int_equal(pi.last_repair_need, 0);
	assert_true(pi.last_repair_round_trips >= 2);
	assert_true(pi.last_repair_bytes_out > 0 && pi.last_repair_bytes_in > 0);
	assert_int_equal(mesh_peer_info(a->m, 0, &pi), 0);
	assert_int_equal(pi.last_repair_need, 10);
	assert_int_equal(pi.last_repair_have, 52);   /* both stages */
	/* one summary per session and side */
	{
		unsigned long long v[7];

		assert_int_equal(a->nrlog, 2);
		assert_int_equal(b->nrlog, 2);
		assert_true(rlog_find(a, "network", v));
		assert_true(v[0] >= 1 && v[1] > 0 && v[2] > 0);
		assert_int_equal(v[3], 0);              /* need */
		assert_int_equal(v[4], 2);              /* have: b lacked the certs */
		assert_int_equal(v[5], 0);              /* fetched */
		assert_true(rlog_find(a, "groups", v));
		assert_int_equal(v[3], 10);
		assert_int_equal(v[4], 50);
		assert_int_equal(v[5], 10);
		assert_true(rlog_find(b, "network", v));
		assert_int_equal(v[3], 0);
		assert_int_equal(v[4], 0);
		assert_true(rlog_find(b, "groups", v));
		assert_int_equal(v[3], 0);
		assert_int_equal(v[4], 0);
	}
	(void)id;
}

/* Let every periodic repair fall due (the interval, jitter included). */
static void repairs_due(uint64_t *now)
{
	struct mesh_config c;

	mesh_config_defaults(&c);
	*now += c.repair_interval_ms + c.repair_interval_ms / 10 + 1;
}

/* Fetched events come in id order, not in the order they depend on each
 * other: officers' certificates before their station's, bulletins before
 * their authors' certificates.  What was refused for now is fetched again by
 * a repair soon after, within the same pump (the periodic repair is a
 * minute away). */
static void repair_dependencies(uint64_t slow_ms)
{
	struct tnode *a, *b;
	struct key *off[8];
	struct store_counts c;
	struct fx_ev e;
	uint8_t ids[16][32];
	size_t i, k = 0;
	uint64_t now = T0 + 100;

	a = F->n[0] = tnode_new("a", "*", 2, 31);
	b = F->n[1] = tnode_new("b", "*", 2, 32);
	a->slow_ms = slow_ms;
	assert_int_equal(mesh_peer_up(a->m, 1, pubs[2], 1, now), 0);
	assert_int_equal(mesh_peer_up(b->m, 1, pubs[3], 0, now), 0);
	pump(a, b, &now);                       /* the repairs on connect: nothing */
	put(b, F->certs[0].wire, F->certs[0].len);     /* the station */
	fx_keys_new(off, 8, 0x60);
	for (i = 0; i < 8; i++) {
		struct event_draft d;

		e = fx_cert(F->c.station, off[i], "officer", "officer", "*", T0 - DAY, T0 + 365 * DAY,
		            T0 - DAY + 1 + i);
		memcpy(ids[k++], e.id, WM_ID_LEN);
		put(b, e.wire, e.len);
		free(e.wire);
		fx_draft(&d, off[i], KIND_BULLETIN, "gaobu", T0 + 10 + i);
		draft_str(&d, "title", "Notice");
		draft_str(&d, "text", "beware of fake police calls");
		draft_str(&d, "category", "fraud");
		e = fx_build(&d, off[i]);
		memcpy(ids[k++], e.id, WM_ID_LEN);
		put(b, e.wire, e.len);
		free(e.wire);
	}
	repairs_due(&now);
	pump(a, b, &now);
	for (i = 0; i < k; i++)
		assert_int_equal(store_has(a->s, ids[i]), 1);
	assert_int_equal(store_counts(a->s, &c), 0);
	assert_int_equal(c.certs, 9);
	assert_true(a->nwaiting > 0);           /* the order did get in the way */
	assert_int_equal(a->ndisc + b->ndisc, 0);
	fx_keys_free(off, 8);
}

static void test_repair_dependencies(void **state)
{
	(void)state;
	repair_dependencies(0);
}

/* The same on a loop so slow that reading all the answers takes longer than
 * fetch_timeout_ms (a catch-up under valgrind): the peer answered each ask
 * in time, so none times out, and what was refused for now is still fetched
 * again soon. */
static void test_repair_dependencies_slow(void **state)
{
	(void)state;
	repair_dependencies(300);
}

/* A retracted event is kept and served withheld: repair brings the
 * retraction and the target without its content, in whatever order they
 * come, and nothing is asked for round after round. */
static void test_repair_retracted(void **state)
{
	struct tnode *a, *b;
	struct event_draft d;
	uint8_t *w, *r, *wb, idx[32], idr[32];
	size_t n, rn, nb;
	char why[WM_WHY_LEN];
	uint64_t now = T0 + 100;
	size_t first;
	struct store_info info;

	(void)state;
	a = F->n[0] = tnode_new("a", "*", 2, 21);
	b = F->n[1] = tnode_new("b", "*", 2, 22);
	certs_into(a);
	certs_into(b);
	mkev(KIND_REQUEST, "gaobu", &w, &n, idx);
	put(a, w, n);
	memset(&d, 0, sizeof(d));
	d.kind = KIND_RETRACT;
	memcpy(d.author, F->alice->pub, 32);
	d.created_at = T0 + F->counter + 1;     /* never before its target */
	d.group = "gaobu";
	d.nrefs = 1;
	memcpy(d.refs[0], idx, 32);
	draft_str(&d, "reason", "posted by mistake");
	assert_int_equal(event_build(&d, F->alice, &r, &rn, idr, why), 0);
	put(a, r, rn);
	free(w);
	w = NULL;
	assert_int_equal(store_get(a->s, idx, &w, &n), 0);      /* withheld */
	assert_int_equal(mesh_peer_up(a->m, 1, pubs[2], 1, now), 0);
	assert_int_equal(mesh_peer_up(b->m, 1, pubs[3], 0, now), 0);
	pumped_nothave = 0;
	pump(a, b, &now);
	assert_int_equal(store_has(b->s, idr), 1);      /* the retraction came */
	assert_int_equal(store_info(b->s, idx, &info), 0);      /* and its target, withheld */
	assert_int_equal(info.retracted, 1);
	assert_int_equal(store_get(b->s, idx, &wb, &nb), 0);
	assert_int_equal(nb, n);
	assert_memory_equal(wb, w, n);
	free(wb);
	first = pumped_nothave;
	repairs_due(&now);
	pump(a, b, &now);
	assert_int_equal(pumped_nothave, first);        /* nothing asked again */
	assert_int_equal(a->ndisc + b->ndisc, 0);
	free(w);
	free(r);
}

static void test_neg_parity(void **state)
{
	struct tnode *t;
	struct frame f;
	static const uint8_t msg[] = { 0x61 };

	(void)state;
	t = star(0, 1, 1);                      /* we dialed peer 1: our sessions are odd */
	memset(&f, 0, sizeof(f));
	f.type = FRAME_NEG_OPEN;
	f.neg.session = 3;
	assert_int_equal(frame_groups_parse("network", &f.neg.scope), 0);
	f.neg.msg = msg;
	f.neg.len = 1;
	send_frame(t, 1, &f, T0 + 1, WM_EPROTO);
	assert_int_equal(t->ndisc, 1);
}

/* Mutated frames of every type, each from a fresh peer: the mesh either
 * takes the frame or disconnects the peer with a reason; never a crash
 * (this runs under ASan/UBSan in the sanitizer build). */
static void test_hostile_frames(void **state)
{
	struct tnode *t;
	struct frame f;
	uint8_t *base[6], *w, id[32], kind = KIND_ALERT;
	size_t blen[6], n, i, k, nb = 0;
	uint64_t rng = 12345;
	static const uint8_t negmsg[] = { 0x61, 0x00, 0x00, 0x01, 0x02, 0x10, 0x20 };

	(void)state;
	t = star(0, 0, 2);
	mkev(KIND_ALERT, "gaobu", &w, &n, id);
	memset(&f, 0, sizeof(f));
	f.type = FRAME_EVENT;
	f.event.push = 1;
	f.event.wire = w;
	f.event.len = n;
	assert_int_equal(frame_encode(&f, &base[nb], &blen[nb], NULL), 0);
	nb++;
	memset(&f, 0, sizeof(f));
	f.type = FRAME_IHAVE;
	f.ids.n = 1;
	f.ids.ids = id;
	f.ids.kinds = &kind;
	assert_int_equal(frame_encode(&f, &base[nb], &blen[nb], NULL), 0);
	nb++;
	f.type = FRAME_IWANT;
	assert_int_equal(frame_encode(&f, &base[nb], &blen[nb], NULL), 0);
	nb++;
	memset(&f, 0, sizeof(f));
	f.type = FRAME_NEG_OPEN;
	f.neg.session = 2;
	assert_int_equal(frame_groups_parse("*", &f.neg.scope), 0);
	f.neg.msg = negmsg;
	f.neg.len = sizeof(negmsg);
	assert_int_equal(frame_encode(&f, &base[nb], &blen[nb], NULL), 0);
	nb++;
	f.type = FRAME_NEG_MSG;
	assert_int_equal(frame_encode(&f, &base[nb], &blen[nb], NULL), 0);
	nb++;
	memset(&f, 0, sizeof(f));
	f.type = FRAME_HELLO;
	f.hello.version = 1;
	f.hello.name = frame_str_c("x");
	assert_int_equal(frame_groups_parse("gaobu", &f.hello.groups), 0);
	assert_int_equal(frame_encode(&f, &base[nb], &blen[nb], NULL), 0);
	nb++;
	for (i = 0; i < 3000; i++) {
		uint32_t h = (uint32_t)(100 + i);
		size_t b = i % nb, len = blen[b];
		uint8_t *m = malloc(len);
		int before = t->ndisc, rc;

		assert_non_null(m);
		memcpy(m, base[b], len);
		for (k = 0; k < 1 + i % 4; k++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			m[(rng >> 33) % len] ^= (uint8_t)(1u << ((rng >> 20) % 8));
		}
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		if ((rng >> 40) % 5 == 0)
			len = (size_t)((rng >> 10) % len);      /* cut short */
		memset(pubs[7], (int)(i & 0xff), 32);
		assert_int_equal(mesh_peer_up(t->m, h, pubs[7], (int)(i & 1), T0), 0);
		hello_from(t, h, "*", T0);
		rc = mesh_receive(t->m, h, m, len, T0 + i);
		if (rc != 0)
			assert_int_equal(t->ndisc, before + 1);
		mesh_tick(t->m, T0 + i + 1);
		mesh_peer_down(t->m, h, T0 + i + 2);
		clear(t);
		free(m);
	}
	assert_int_equal(mesh_peer_count(t->m), 0);
	assert_true(t->ndisc > 100);
	for (i = 0; i < nb; i++)
		free(base[i]);
	free(w);
}

static int reset(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		tnode_free(F->n[i]);
		F->n[i] = NULL;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_hello_first, reset),
		cmocka_unit_test_teardown(test_eager_lazy_publish, reset),
		cmocka_unit_test_teardown(test_forward_and_prune, reset),
		cmocka_unit_test_teardown(test_ihave_graft, reset),
		cmocka_unit_test_teardown(test_iwant_answers, reset),
		cmocka_unit_test_teardown(test_invalid_event_disconnects, reset),
		cmocka_unit_test_teardown(test_peeked_other_bytes, reset),
		cmocka_unit_test_teardown(test_passing_refusal, reset),
		cmocka_unit_test_teardown(test_groups_and_alerts, reset),
		cmocka_unit_test_teardown(test_author_rate, reset),
		cmocka_unit_test_teardown(test_unasked_push0, reset),
		cmocka_unit_test_teardown(test_late_answer, reset),
		cmocka_unit_test_teardown(test_fetch_timeout_repairs_soon, reset),
		cmocka_unit_test_teardown(test_fetch_queue_bound, reset),
		cmocka_unit_test_teardown(test_repair_end_to_end, reset),
		cmocka_unit_test_teardown(test_repair_retracted, reset),
		cmocka_unit_test_teardown(test_repair_dependencies, reset),
		cmocka_unit_test_teardown(test_repair_dependencies_slow, reset),
		cmocka_unit_test_teardown(test_neg_parity, reset),
		cmocka_unit_test_teardown(test_hostile_frames, reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
