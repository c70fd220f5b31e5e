/*
 * node/mesh/mesh.c: the pure mesh logic (see mesh.h; the rules are in
 * proto/PROTOCOL.md §13).  Plumtree eager/lazy push with a missing-id table and
 * grafts, negentropy repair as client and server, a per-peer fetch queue
 * for what repair found missing, token-bucket rate limits, and the
 * decision of which refusals are a peer's fault.
 *
 * What a reader must know: nothing here blocks or looks at a clock; every
 * entry point gets `now`, and every timer is a field compared against it
 * in mesh_tick.  Session ids of negentropy are odd when chosen by the side
 * that dialed and even otherwise, so that a NEG_MSG names its session
 * without ambiguity although both sides run a client at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "frame.h"
#include "mesh.h"
#include "mp.h"
#include "negentropy.h"
#include "store.h"
#include "store_neg.h"

#define MESH_MISSING_MAX   4096        /* live ids announced but not held */
#define MESH_ANNOUNCERS    4           /* peers remembered per missing id */
#define MESH_AUTHORS       1024        /* author rate buckets */
#define MESH_FQ_MAX        65536       /* ids queued for fetching per peer (2 MiB) */
#define MESH_FQ_TOTAL      262144      /* ... and for all peers together (8 MiB) */
#define MESH_HAVE_MAX      8192        /* ids announced after a repair */
#define MESH_NEG_TIMEOUT   30000       /* ms without an answer ends a session */
#define MESH_SERVER_MAX    16          /* server sessions at once, all peers */
#define MESH_HELLO_TIMEOUT 30000       /* ms a new peer has to send HELLO */
#define MESH_UNAVAIL       256         /* ids a repair fetch got NOTHAVE for */
#define MESH_OFFENDERS     64
#define MESH_BACKOFF_MAX   (24ull * 3600 * 1000)
#define MESH_PROGRESS_MS   5000        /* a long repair logs how far it is this often */

struct missing {
	uint8_t id[WM_ID_LEN];
	uint8_t kind;
	uint8_t nann, next;             /* announcers known; the next one to ask */
	uint8_t graft;                  /* ask with graft (live lazy path) */
	uint8_t asked;
	uint32_t ann[MESH_ANNOUNCERS];
	uint64_t due;
};

/* A repair id asked for and not answered yet (the peer answers in order). */
struct inflight {
	uint64_t seq;                   /* its place in the fetch queue (session summaries) */
	uint8_t id[WM_ID_LEN];
};

struct bucket {
	double tokens;
	uint64_t at;
};

struct author_bucket {
	uint8_t pub[WM_PUB_LEN];
	int used;
	struct bucket b;
};

struct peer {
	uint32_t h;
	uint8_t pub[WM_PUB_LEN];
	char hex[9];                    /* short key for logs */
	int outbound, ready, dead, eager;
	uint64_t up_since;
	char name[FRAME_NAME_MAX + 1];
	char groups_txt[1024];
	struct frame_groups groups;     /* points into groups_txt */

	/* lazy announcements waiting to be sent */
	uint8_t (*ihave_ids)[WM_ID_LEN];
	uint8_t *ihave_kinds;
	size_t ihave_n;
	uint64_t ihave_due;

	struct bucket rate;

	/* repair as client */
	uint64_t repair_due;            /* UINT64_MAX while a session runs or not ready */
	uint64_t next_session;
	uint64_t csession;              /* 0 = none */
	int cstage;                     /* 1 network, 2 shared groups */
	struct neg *cneg;
	struct store_neg *cview;       /* the set of the session's scope */
	uint64_t cdeadline;
	uint64_t round_need, round_have, round_stored;
	uint64_t round_deferred;        /* fetched, refused for now (a cert not known yet) */
	int repair_again;               /* repair soon after the session in progress */
	uint64_t fetch_progress_at;     /* the last "fetching from" line, or the start */
	/* cost of the current round, per stage (0 network, 1 shared groups),
	 * logged when it ends: what tests/bench/bench_repair.py measures */
	uint64_t round_start;           /* when stage 1 was opened */
	uint64_t stage_open_at;         /* when this stage's NEG_OPEN was sent */
	uint64_t rt[2];                 /* client messages answered */
	uint64_t bytes_out[2], bytes_in[2];  /* negentropy message bytes */
	uint64_t first_reply_ms[2];     /* NEG_OPEN sent -> first NEG_MSG back */

	/* One summary per repair session (stage), logged once it is reconciled
	 * and every id it found missing has been fetched or given up on.
	 * Fetch ids get a sequence number when queued; fl holds those in
	 * flight in the order asked (a peer answers IWANTs in order). */
	struct rsess {
		int open, reconciled;
		uint64_t open_at, rt, bytes_out, bytes_in, need, have, fetched;
		uint64_t progress_at;   /* the last "repairing with" line */
		uint64_t q_end;         /* its fetch ids are those queued before this seq */
	} rs[2];
	uint64_t fq_seq;                /* ids ever queued for fetching */
	uint64_t fq_taken;              /* ids ever taken from the queue (asked or skipped) */
	struct inflight *fl;            /* ring of the ids asked for, oldest first */
	size_t fl_head, fl_n, fl_cap;
	/* Answers still owed to asks that timed out: a late EVENT push=0 not
	 * asked for any more is excused this many times (and throttled). */
	uint64_t late;
	int fq_cut;                     /* a fetch queue bound left ids out: repair again soon */
	int fq_timedout;                /* asks timed out: repair again soon (fetch_pump) */

	/* repair as server */
	uint64_t ssession;
	struct neg *sneg;
	struct store_neg *sview;
	uint64_t sdeadline;

	/* fetch queue */
	struct neg_ids fq;
	size_t fq_pos;
	uint64_t fetch_deadline;

	/* status */
	uint64_t events_in, events_out, dup_in;
	uint64_t last_repair_at, last_repair_need, last_repair_have;
	uint64_t last_repair_rt, last_repair_bytes_out, last_repair_bytes_in, last_repair_ms;
};

struct offender {
	uint8_t pub[WM_PUB_LEN];
	unsigned count;
};

struct mesh {
	struct mesh_config cfg;
	char *name, *groups_txt, *software;
	struct frame_groups groups;
	struct mesh_io io;
	struct ingest_ctx ictx;
	uint64_t rng;

	struct peer **peers;
	size_t npeers, cap;

	struct missing *miss;
	size_t nmiss, capmiss;          /* grows up to MESH_MISSING_MAX */
	size_t fq_queued;               /* ids in every peer's fetch queue, not yet asked */

	/* Ids in a peer's repair set that it could not serve (a remembered
	 * refusal: only the id is kept): not asked for again while they stay
	 * in this ring. */
	uint8_t unavail[MESH_UNAVAIL][WM_ID_LEN];
	size_t unavail_n, unavail_pos;

	struct author_bucket authors[MESH_AUTHORS];
	struct offender offenders[MESH_OFFENDERS];
	size_t noffenders;
	size_t server_sessions;
	int paused;                     /* mesh_pause: no repair, live events dropped */

	struct mesh_stats st;
};

/* --- small helpers ------------------------------------------------------------ */

static uint64_t rng_next(struct mesh *m)
{
	/* splitmix64: small, seedable, good enough for choices and jitter */
	uint64_t z = (m->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t jitter(struct mesh *m, uint64_t ms)
{
	/* 90% .. 110% */
	return ms - ms / 10 + (ms >= 5 ? rng_next(m) % (ms / 5 + 1) : 0);
}

static void mlog(struct mesh *m, enum mesh_log_level lv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void mlog(struct mesh *m, enum mesh_log_level lv, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (m->io.log == NULL || (lv == MESH_LOG_DEBUG && !m->cfg.verbose))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	m->io.log(m->io.ctx, lv, line);
}

static void id_short(char out[17], const uint8_t *id)
{
	hex_encode(out, id, 8);
}

/* A wire event read just far enough to route it (event_peek: no signature
 * check); flags as event_peek's.  1 if it has a kind, author and group. */
static int peek_event(const uint8_t *wire, size_t len, unsigned flags, struct event_peek *pk)
{
	return event_peek(wire, len, flags, pk, NULL) == 0 && pk->kind != 0 && pk->author != NULL &&
	       pk->group != NULL;
}

/* peek_event of a received event, taking the peek (and its id) the glue
 * made already if it is of exactly these bytes: the payload hashed once. */
static int peek_received(struct mesh *m, const uint8_t *wire, size_t len, struct event_peek *pk)
{
	if (m->io.peeked != NULL && m->io.peeked(m->io.ctx, wire, len, pk) && pk->has_id &&
	    pk->wire == wire && pk->wire_len == len)
		return pk->kind != 0 && pk->author != NULL && pk->group != NULL;
	return peek_event(wire, len, 0, pk);
}

static int is_network(const char *g, size_t len)
{
	return len == strlen(WM_NETWORK_GROUP) && memcmp(g, WM_NETWORK_GROUP, len) == 0;
}

static int we_carry(const struct mesh *m, const char *g, size_t len)
{
	return is_network(g, len) || frame_groups_has(&m->groups, g, len);
}

static int peer_carries(const struct peer *p, const char *g, size_t len)
{
	return is_network(g, len) || frame_groups_has(&p->groups, g, len);
}

/* Held or refused for good (counts as held): > 0; 0 if not, <0 error. */
static int held(struct mesh *m, const uint8_t id[WM_ID_LEN])
{
	return store_lookup(m->ictx.store, id, NULL, NULL);
}

/*
 * Lookups of many ids in a row, in one read transaction: each on its own
 * is a transaction of its own, a lock, an unlock and a stat of the store's
 * file (17,000 of each on the answering side while a 10% repair of 200k
 * events reconciled: BENCHMARKS.md, "repair").  1 if this call opened the
 * transaction, for lookups_end; 0 inside the caller's (or if none opened).
 */
static int lookups_begin(struct mesh *m)
{
	return !store_in_transaction(m->ictx.store) && store_begin(m->ictx.store) == 0;
}

static void lookups_end(struct mesh *m, int own)
{
	if (own && store_commit(m->ictx.store) != 0)
		(void)store_rollback(m->ictx.store);
}

static struct peer *peer_find(const struct mesh *m, uint32_t h)
{
	size_t i;

	for (i = 0; i < m->npeers; i++)
		if (m->peers[i]->h == h)
			return m->peers[i];
	return NULL;
}

static int live(const struct peer *p)
{
	return p != NULL && p->ready && !p->dead;
}

/* Queue bytes already encoded as a frame of type `type` (for the log). */
static int send_bytes(struct mesh *m, struct peer *p, enum frame_type type, const uint8_t *buf,
                      size_t len, int prio)
{
	int rc;

	if (p->dead)
		return WM_EINVAL;
	rc = m->io.send(m->io.ctx, p->h, buf, len, prio);
	if (rc != 0)
		mlog(m, MESH_LOG_DEBUG, "peer %s: queue full, %s dropped", p->hex, frame_type_name(type));
	return rc;
}

static int send_frame(struct mesh *m, struct peer *p, const struct frame *f, int prio)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[WM_WHY_LEN];
	int rc;

	if (p->dead)
		return WM_EINVAL;
	if ((rc = frame_encode(f, &buf, &len, why)) != 0) {
		mlog(m, MESH_LOG_WARN, "cannot encode %s for %s: %s", frame_type_name(f->type), p->hex, why);
		return rc;
	}
	rc = send_bytes(m, p, f->type, buf, len, prio);
	free(buf);
	return rc;
}

/* A NEG_MSG of session `session` carrying msg (freed here). */
static int send_neg_msg(struct mesh *m, struct peer *p, uint64_t session, uint8_t *msg, size_t len)
{
	struct frame f;
	int rc;

	memset(&f, 0, sizeof(f));
	f.type = FRAME_NEG_MSG;
	f.neg.session = session;
	f.neg.msg = msg;
	f.neg.len = len;
	rc = send_frame(m, p, &f, 0);
	free(msg);
	return rc;
}

static int bucket_take(struct bucket *b, double rate, double burst, uint64_t now)
{
	if (now > b->at) {
		b->tokens += rate * (double)(now - b->at) / 1000.0;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->at = now;
	if (b->tokens < 1.0)
		return 0;
	b->tokens -= 1.0;
	return 1;
}

int mesh_refusal_is_fault(int code)
{
	/* the peer may not know the revocation yet, or hold an older network
	 * file that does not list the group as vouched */
	return wm_error_is_lasting(code) && code != WM_EREVOKED && code != WM_ENOTVOUCHED;
}

/* --- peers ---------------------------------------------------------------------- */

static void client_end(struct mesh *m, struct peer *p)
{
	(void)m;
	neg_free(p->cneg);
	store_neg_close(p->cview);
	p->cneg = NULL;
	p->cview = NULL;
	p->csession = 0;
	p->cstage = 0;
}

static void server_end(struct mesh *m, struct peer *p)
{
	if (p->sneg != NULL && m->server_sessions > 0)
		m->server_sessions--;
	neg_free(p->sneg);
	store_neg_close(p->sview);
	p->sneg = NULL;
	p->sview = NULL;
	p->ssession = 0;
}

static void peer_free(struct mesh *m, struct peer *p)
{
	if (p == NULL)
		return;
	client_end(m, p);
	server_end(m, p);
	m->fq_queued -= p->fq.n - p->fq_pos;
	neg_ids_free(&p->fq);
	free(p->fl);
	free(p->ihave_ids);
	free(p->ihave_kinds);
	free(p);
}

static void peer_fault(struct mesh *m, struct peer *p, int code, const char *why)
{
	uint64_t backoff = m->cfg.invalid_backoff_ms;
	struct offender *o = NULL;
	size_t i;

	if (p->dead)
		return;
	for (i = 0; i < m->noffenders; i++)
		if (memcmp(m->offenders[i].pub, p->pub, WM_PUB_LEN) == 0)
			o = &m->offenders[i];
	if (o == NULL) {
		o = &m->offenders[m->noffenders < MESH_OFFENDERS ? m->noffenders++
		                                                  : rng_next(m) % MESH_OFFENDERS];
		memcpy(o->pub, p->pub, WM_PUB_LEN);
		o->count = 0;
	}
	for (i = 0; i < o->count && backoff < MESH_BACKOFF_MAX; i++)
		backoff *= 2;
	if (backoff > MESH_BACKOFF_MAX)
		backoff = MESH_BACKOFF_MAX;
	o->count++;
	p->dead = 1;
	p->eager = 0;
	mlog(m, MESH_LOG_WARN, "peer %s (%s): disconnecting for %llu s: %s: %s", p->hex,
	     p->name[0] ? p->name : "?", (unsigned long long)(backoff / 1000), wm_errname(code), why);
	m->io.disconnect(m->io.ctx, p->h, why, backoff);
}

static size_t eager_count(const struct mesh *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->npeers; i++)
		n += live(m->peers[i]) && m->peers[i]->eager;
	return n;
}

/* --- lazy announcements -------------------------------------------------------- */

static void ihave_flush(struct mesh *m, struct peer *p, int prio)
{
	struct frame f;

	if (p->ihave_n == 0)
		return;
	memset(&f, 0, sizeof(f));
	f.type = FRAME_IHAVE;
	f.ids.flag = 0;
	f.ids.n = p->ihave_n;
	f.ids.ids = &p->ihave_ids[0][0];
	f.ids.kinds = p->ihave_kinds;
	if (send_frame(m, p, &f, prio) == 0)
		m->st.ihave_out++;
	p->ihave_n = 0;
	p->ihave_due = 0;
}

static void ihave_add(struct mesh *m, struct peer *p, const uint8_t id[WM_ID_LEN], unsigned kind,
                      uint64_t now)
{
	if (p->ihave_ids == NULL) {
		p->ihave_ids = malloc(FRAME_MAX_IDS * sizeof(*p->ihave_ids));
		p->ihave_kinds = malloc(FRAME_MAX_IDS);
		if (p->ihave_ids == NULL || p->ihave_kinds == NULL) {
			free(p->ihave_ids);
			free(p->ihave_kinds);
			p->ihave_ids = NULL;
			p->ihave_kinds = NULL;
			return;
		}
	}
	memcpy(p->ihave_ids[p->ihave_n], id, WM_ID_LEN);
	p->ihave_kinds[p->ihave_n] = (uint8_t)kind;
	if (p->ihave_n++ == 0)
		p->ihave_due = now + m->cfg.ihave_delay_ms;
	if (kind == KIND_ALERT || p->ihave_n == FRAME_MAX_IDS)
		ihave_flush(m, p, kind == KIND_ALERT);
}

/* Push a newly stored event: whole to eager peers, announced to lazy ones.
 * `from` (may be NULL) is where it came from.  The EVENT frame is encoded
 * once, at the first eager peer, and the same bytes go to every one. */
static void deliver(struct mesh *m, const struct event_peek *ev, const uint8_t *wire, size_t len,
                    const struct peer *from, uint64_t now)
{
	int prio = ev->kind == KIND_ALERT, failed = 0;
	uint8_t *buf = NULL;
	size_t blen = 0, i;
	struct frame f;
	char why[WM_WHY_LEN];

	memset(&f, 0, sizeof(f));
	f.type = FRAME_EVENT;
	f.event.push = 1;
	f.event.wire = wire;
	f.event.len = len;
	for (i = 0; i < m->npeers; i++) {
		struct peer *q = m->peers[i];

		if (q == from || !live(q) || !peer_carries(q, ev->group, ev->glen))
			continue;
		if (!q->eager) {
			ihave_add(m, q, ev->id, ev->kind, now);
			continue;
		}
		if (buf == NULL && !failed && frame_encode(&f, &buf, &blen, why) != 0) {
			mlog(m, MESH_LOG_WARN, "cannot encode EVENT: %s", why);
			failed = 1;
		}
		if (buf != NULL && send_bytes(m, q, FRAME_EVENT, buf, blen, prio) == 0) {
			q->events_out++;
			m->st.events_out++;
		}
	}
	free(buf);
}

/* --- missing ids (live lazy path) ------------------------------------------------ */

static struct missing *missing_find(struct mesh *m, const uint8_t id[WM_ID_LEN])
{
	size_t i;

	for (i = 0; i < m->nmiss; i++)
		if (memcmp(m->miss[i].id, id, WM_ID_LEN) == 0)
			return &m->miss[i];
	return NULL;
}

static void missing_remove(struct mesh *m, const uint8_t id[WM_ID_LEN])
{
	struct missing *e = missing_find(m, id);

	if (e != NULL)
		*e = m->miss[--m->nmiss];
}

static void missing_add(struct mesh *m, const uint8_t id[WM_ID_LEN], unsigned kind, struct peer *p,
                        uint64_t due, int graft)
{
	struct missing *e = missing_find(m, id);
	size_t i;

	if (e == NULL) {
		if (m->nmiss == MESH_MISSING_MAX)
			return;                 /* repair will find it */
		if (m->nmiss == m->capmiss) {
			size_t cap = m->capmiss ? 2 * m->capmiss : 16;
			struct missing *v = realloc(m->miss, cap * sizeof(*v));

			if (v == NULL)
				return;
			m->miss = v;
			m->capmiss = cap;
		}
		e = &m->miss[m->nmiss++];
		memset(e, 0, sizeof(*e));
		memcpy(e->id, id, WM_ID_LEN);
		e->kind = (uint8_t)kind;
		e->due = due;
		e->graft = (uint8_t)graft;
	} else if (due < e->due && !e->asked) {
		e->due = due;
	}
	for (i = 0; i < e->nann; i++)
		if (e->ann[i] == p->h)
			return;
	if (e->nann < MESH_ANNOUNCERS)
		e->ann[e->nann++] = p->h;
}

static void missing_tick(struct mesh *m, uint64_t now)
{
	size_t i = 0;

	while (i < m->nmiss) {
		struct missing *e = &m->miss[i];
		struct peer *p = NULL, *slow;
		struct frame f;

		if (e->due > now) {
			i++;
			continue;
		}
		if (e->asked && (slow = peer_find(m, e->ann[e->next - 1])) != NULL)
			slow->late++;           /* it timed out, but may still answer */
		while (e->next < e->nann && p == NULL) {
			p = peer_find(m, e->ann[e->next++]);
			if (!live(p))
				p = NULL;
		}
		if (p == NULL) {                /* nobody left to ask: repair will */
			*e = m->miss[--m->nmiss];
			continue;
		}
		memset(&f, 0, sizeof(f));
		f.type = FRAME_IWANT;
		f.ids.flag = e->graft;
		f.ids.n = 1;
		f.ids.ids = e->id;
		if (e->graft)
			p->eager = 1;           /* Plumtree graft: the link joins the tree */
		if (send_frame(m, p, &f, e->kind == KIND_ALERT) == 0)
			m->st.iwant_out++;
		e->asked = 1;
		e->due = now + m->cfg.fetch_timeout_ms;
		i++;
	}
}

/* --- fetch queue (repair path) ------------------------------------------------- */

static int unavail_has(const struct mesh *m, const uint8_t id[WM_ID_LEN])
{
	size_t i;

	for (i = 0; i < m->unavail_n; i++)
		if (memcmp(m->unavail[i], id, WM_ID_LEN) == 0)
			return 1;
	return 0;
}

static void unavail_add(struct mesh *m, const uint8_t id[WM_ID_LEN])
{
	if (unavail_has(m, id))
		return;
	memcpy(m->unavail[m->unavail_pos], id, WM_ID_LEN);
	m->unavail_pos = (m->unavail_pos + 1) % MESH_UNAVAIL;
	if (m->unavail_n < MESH_UNAVAIL)
		m->unavail_n++;
}

/* Bounded per peer and in all, so that no peer's announcements (IHAVE
 * repair=1 is not limited otherwise) hold more than MESH_FQ_MAX ids of
 * memory; what is left out is found by the next repair, which comes soon. */
static int fq_add(struct mesh *m, struct peer *p, const uint8_t id[WM_ID_LEN])
{
	if (p->fq.n - p->fq_pos >= MESH_FQ_MAX || m->fq_queued >= MESH_FQ_TOTAL) {
		p->fq_cut = 1;
		return WM_ETOOBIG;
	}
	if (p->fq.n == p->fq.cap) {
		size_t cap;
		uint8_t (*v)[WM_ID_LEN];

		if (p->fq_pos > 0) {            /* reuse the consumed front first */
			memmove(p->fq.ids, p->fq.ids + p->fq_pos, (p->fq.n - p->fq_pos) * WM_ID_LEN);
			p->fq.n -= p->fq_pos;
			p->fq_pos = 0;
		}
		if (p->fq.n == p->fq.cap) {
			cap = p->fq.cap ? 2 * p->fq.cap : 64;
			if ((v = realloc(p->fq.ids, cap * WM_ID_LEN)) == NULL)
				return WM_ENOMEM;
			p->fq.ids = v;
			p->fq.cap = cap;
		}
	}
	memcpy(p->fq.ids[p->fq.n++], id, WM_ID_LEN);
	p->fq_seq++;
	m->fq_queued++;
	return 0;
}

/* In-flight fetch ids, oldest first: what an EVENT push=0 or a NOTHAVE from
 * the peer may answer, and the session summaries' bookkeeping.  Room for n
 * more, made before the IWANT goes out. */
static int fl_reserve(struct peer *p, size_t n)
{
	size_t cap = p->fl_cap ? p->fl_cap : 256, i;
	struct inflight *v;

	if (p->fl_n + n <= p->fl_cap)
		return 0;
	while (cap < p->fl_n + n)
		cap *= 2;
	if ((v = malloc(cap * sizeof(*v))) == NULL)
		return WM_ENOMEM;
	for (i = 0; i < p->fl_n; i++)
		v[i] = p->fl[(p->fl_head + i) % p->fl_cap];
	free(p->fl);
	p->fl = v;
	p->fl_cap = cap;
	p->fl_head = 0;
	return 0;
}

static void fl_push(struct peer *p, uint64_t seq, const uint8_t id[WM_ID_LEN])
{
	struct inflight *e = &p->fl[(p->fl_head + p->fl_n++) % p->fl_cap];

	e->seq = seq;
	memcpy(e->id, id, WM_ID_LEN);
}

/* Take id off the in-flight list: 1 if it was there.  Answers come in the
 * order asked, so it is nearly always the oldest.  An answer restarts the
 * fetch timeout: the asks still in flight time out fetch_timeout_ms after
 * the peer's last answer, not after the last ask.  A loop slower than that
 * at reading the answers (a catch-up under valgrind) would time out asks the
 * peer answered long ago, and what they bring in late no longer counts for
 * the fetch it belongs to: an event refused for now went unfetched until the
 * periodic repair. */
static int fl_take(const struct mesh *m, struct peer *p, const uint8_t id[WM_ID_LEN], uint64_t now)
{
	size_t i, j;

	for (i = 0; i < p->fl_n; i++) {
		if (memcmp(p->fl[(p->fl_head + i) % p->fl_cap].id, id, WM_ID_LEN) != 0)
			continue;
		if (i == 0) {
			p->fl_head = (p->fl_head + 1) % p->fl_cap;
		} else {
			for (j = i; j + 1 < p->fl_n; j++)
				p->fl[(p->fl_head + j) % p->fl_cap] = p->fl[(p->fl_head + j + 1) % p->fl_cap];
		}
		p->fl_n--;
		p->fetch_deadline = now + m->cfg.fetch_timeout_ms;
		return 1;
	}
	return 0;
}

static const char *const scope_names[2] = { "network", "groups" };

static void rs_log(struct mesh *m, struct peer *p, int s, uint64_t now)
{
	struct rsess *r = &p->rs[s];

	/* the format is read by tests/bench (bench_repair): keep it; a
	 * session that fetched nothing is routine, not news (issue 13) */
	mlog(m, r->fetched ? MESH_LOG_INFO : MESH_LOG_DEBUG, "repair with %s (%s): scope %s, %llu round trips, "
	     "%llu/%llu bytes, need %llu, have %llu, fetched %llu in %llu ms",
	     p->hex, p->name, scope_names[s], (unsigned long long)r->rt,
	     (unsigned long long)r->bytes_out, (unsigned long long)r->bytes_in,
	     (unsigned long long)r->need, (unsigned long long)r->have,
	     (unsigned long long)r->fetched,
	     (unsigned long long)(now > r->open_at ? now - r->open_at : 0));
	r->open = 0;
}

/* Ids queued or in flight to be fetched from p. */
static int fetching(const struct peer *p)
{
	return p->fq_pos < p->fq.n || p->fl_n > 0;
}

/* A long session says how far it is, every MESH_PROGRESS_MS (its summary
 * line comes at the end); so does a long fetch of what the peer announced
 * (IHAVE repair=1) while no session of ours runs. */
static void rs_progress(struct mesh *m, struct peer *p, uint64_t now)
{
	int s;

	if (!p->rs[0].open && !p->rs[1].open && now >= p->fetch_progress_at + MESH_PROGRESS_MS &&
	    fetching(p)) {
		p->fetch_progress_at = now;
		mlog(m, MESH_LOG_INFO, "fetching from %s (%s): %llu events stored so far, %llu ids to go",
		     p->hex, p->name, (unsigned long long)p->round_stored,
		     (unsigned long long)(p->fq.n - p->fq_pos + p->fl_n));
	}
	for (s = 0; s < 2; s++) {
		struct rsess *r = &p->rs[s];

		if (!r->open || now < r->progress_at + MESH_PROGRESS_MS)
			continue;
		r->progress_at = now;
		mlog(m, MESH_LOG_INFO, "repairing with %s (%s): scope %s, %s %llu round trips, need %llu, "
		     "have %llu, fetched %llu so far, %llu s", p->hex, p->name, scope_names[s],
		     r->reconciled ? "reconciled in" : "reconciling,",
		     (unsigned long long)(r->reconciled ? r->rt : p->rt[s]), (unsigned long long)r->need,
		     (unsigned long long)r->have, (unsigned long long)r->fetched,
		     (unsigned long long)((now - r->open_at) / 1000));
	}
}

/* Log the sessions that are reconciled and fetched. */
static void rs_check(struct mesh *m, struct peer *p, uint64_t now)
{
	int s;

	for (s = 0; s < 2; s++) {
		struct rsess *r = &p->rs[s];

		if (r->open && r->reconciled && p->fq_taken >= r->q_end &&
		    (p->fl_n == 0 || p->fl[p->fl_head].seq >= r->q_end))
			rs_log(m, p, s, now);
	}
}

static void repair_soon_others(struct mesh *m, const struct peer *except, uint64_t now);

/* A negentropy session with p, ours or its, is still reconciling.  Both
 * loops then only pass negentropy messages to each other: fetched events
 * (verified and stored on the loop) and the IWANTs answered from the store
 * would sit between a message and its answer on both sides, every round
 * (BENCHMARKS.md, "repair"). */
static int reconciling(const struct peer *p)
{
	return p->cneg != NULL || p->sneg != NULL;
}

static void fetch_pump(struct mesh *m, struct peer *p, uint64_t now)
{
	uint8_t ids[FRAME_MAX_IDS][WM_ID_LEN];
	uint64_t seqs[FRAME_MAX_IDS];
	struct frame f;
	size_t k;

	if (!live(p) || reconciling(p))
		return;
	while (p->fl_n < m->cfg.fetch_window && p->fq_pos < p->fq.n) {
		uint64_t first = p->fq_taken;
		size_t taken = 0, j;

		if (fl_reserve(p, m->cfg.fetch_batch < FRAME_MAX_IDS ? m->cfg.fetch_batch : FRAME_MAX_IDS) != 0)
			break;                  /* tried again on the next answer or tick */
		for (k = 0; k < m->cfg.fetch_batch && k < FRAME_MAX_IDS && p->fq_pos < p->fq.n; p->fq_pos++) {
			taken++;
			if (held(m, p->fq.ids[p->fq_pos]) != 0 || unavail_has(m, p->fq.ids[p->fq_pos]))
				continue;
			seqs[k] = first + taken - 1;
			memcpy(ids[k++], p->fq.ids[p->fq_pos], WM_ID_LEN);
		}
		p->fq_taken += taken;
		m->fq_queued -= taken;
		if (k == 0)
			break;
		memset(&f, 0, sizeof(f));
		f.type = FRAME_IWANT;
		f.ids.flag = 0;
		f.ids.n = k;
		f.ids.ids = &ids[0][0];
		if (send_frame(m, p, &f, 0) != 0)
			break;
		for (j = 0; j < k; j++)
			fl_push(p, seqs[j], ids[j]);
		m->st.iwant_out++;
		p->fetch_deadline = now + m->cfg.fetch_timeout_ms;
	}
	if (!fetching(p) && p->fq.n > 0) {
		neg_ids_free(&p->fq);
		p->fq_pos = 0;
		if (p->round_stored > 0) {
			mlog(m, MESH_LOG_INFO, "peer %s (%s): repair fetched %llu events", p->hex, p->name,
			     (unsigned long long)p->round_stored);
			repair_soon_others(m, p, now);
		}
		/* Fetched ids come in id order, not in the order they depend on
		 * each other: an officer's certificate may come before its
		 * station's, a bulletin before its author's certificate.  What
		 * was refused for now is fetched again by a repair soon, as
		 * long as each round stores something.  So is what a fetch that
		 * timed out left out: a late answer no longer counts for its
		 * fetch, and is rate-limited like a push (most of a slow peer's
		 * window from one author is dropped). */
		if (((p->round_deferred > 0 || p->fq_timedout) && p->round_stored > 0) || p->fq_cut) {
			if (p->fq_cut)
				mlog(m, MESH_LOG_DEBUG, "peer %s (%s): the fetch queue was full; "
				     "repairing again soon", p->hex, p->name);
			else if (p->round_deferred == 0)
				mlog(m, MESH_LOG_DEBUG, "peer %s (%s): fetches timed out; "
				     "repairing again soon", p->hex, p->name);
			else
				mlog(m, MESH_LOG_DEBUG, "peer %s (%s): %llu fetched events wait for others; "
				     "repairing again soon", p->hex, p->name,
				     (unsigned long long)p->round_deferred);
			if (p->csession != 0)
				p->repair_again = 1;
			else if (p->repair_due > now + m->cfg.repair_soon_ms)
				p->repair_due = now + m->cfg.repair_soon_ms;
		}
		p->round_stored = p->round_deferred = 0;
		p->fq_cut = p->fq_timedout = 0;
	}
	rs_check(m, p, now);
}

/* --- repair --------------------------------------------------------------------- */

/*
 * The repair set of a scope, as a negentropy storage: (created_at, id) of
 * every event held in its groups (retracted ones included) and of every
 * remembered lasting refusal, less those expired at `now`.  The store's
 * view (node/store/store_neg.h) answers from per-time-bucket aggregates and reads
 * a snapshot, so the set cannot change under a session.
 */
static int repair_view_open(struct mesh *m, const struct frame_groups *scope, uint64_t now,
                            struct store_neg **out, struct neg_storage *st)
{
	char names[FRAME_MAX_GROUPS][WM_GROUP_MAX + 1];
	const char *v[FRAME_MAX_GROUPS];
	char why[WM_WHY_LEN];
	size_t i, n = 0;
	int rc;

	if (scope->all) {
		v[n++] = "*";
	} else {
		for (i = 0; i < scope->n && i < FRAME_MAX_GROUPS; i++) {
			size_t len = scope->g[i].len > WM_GROUP_MAX ? WM_GROUP_MAX : scope->g[i].len;

			memcpy(names[i], scope->g[i].p, len);
			names[i][len] = '\0';
			v[n++] = names[i];
		}
	}
	why[0] = '\0';
	if ((rc = store_neg_open(m->ictx.store, v, n, now, out, why)) != 0) {
		mlog(m, MESH_LOG_WARN, "repair set: %s", why[0] ? why : wm_strerror(rc));
		return rc;
	}
	*st = store_neg_storage(*out);
	return 0;
}

/* The stage-2 scope: groups both sides carry, "network" left out (stage 1
 * covered it).  0 and the scope, or WM_ENOTFOUND when nothing is shared. */
static int shared_scope(const struct mesh *m, const struct peer *p, struct frame_groups *out)
{
	const struct frame_groups *mine = &m->groups, *theirs = &p->groups;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (mine->all && theirs->all) {
		out->all = 1;
		out->n = 1;
		out->g[0] = frame_str_c("*");
		return 0;
	}
	if (mine->all) {
		const struct frame_groups *t = mine;

		mine = theirs;
		theirs = t;
	}
	for (i = 0; i < mine->n; i++)
		if (!is_network(mine->g[i].p, mine->g[i].len) &&
		    frame_groups_has(theirs, mine->g[i].p, mine->g[i].len))
			out->g[out->n++] = mine->g[i];
	return out->n > 0 ? 0 : WM_ENOTFOUND;
}

static void repair_finish(struct mesh *m, struct peer *p, uint64_t now)
{
	p->last_repair_at = now;
	p->last_repair_need = p->round_need;
	p->last_repair_have = p->round_have;
	p->last_repair_rt = p->rt[0] + p->rt[1];
	p->last_repair_bytes_out = p->bytes_out[0] + p->bytes_out[1];
	p->last_repair_bytes_in = p->bytes_in[0] + p->bytes_in[1];
	m->st.repair_bytes_out += p->last_repair_bytes_out;
	m->st.repair_bytes_in += p->last_repair_bytes_in;
	p->last_repair_ms = now > p->round_start ? now - p->round_start : 0;
	/* the summary per session is the "repair with" line (rs_log) */
	if (p->round_need > 0 || p->round_have > 0)
		mlog(m, MESH_LOG_DEBUG, "peer %s (%s): repair: it has %llu we lack, we have %llu it lacks",
		     p->hex, p->name, (unsigned long long)p->round_need, (unsigned long long)p->round_have);
	/* the cost of the round; a line benchmarks read (INFO only when the
	 * sets differed, so an idle mesh does not log every minute) */
	mlog(m, p->round_need > 0 || p->round_have > 0 ? MESH_LOG_INFO : MESH_LOG_DEBUG,
	     "peer %s (%s): repair cost: groups %llu round trips, %llu bytes sent, %llu received, "
	     "first reply %llu ms; network %llu round trips, %llu bytes sent, %llu received, "
	     "first reply %llu ms; %llu ms in all",
	     p->hex, p->name, (unsigned long long)p->rt[1], (unsigned long long)p->bytes_out[1],
	     (unsigned long long)p->bytes_in[1], (unsigned long long)p->first_reply_ms[1],
	     (unsigned long long)p->rt[0], (unsigned long long)p->bytes_out[0],
	     (unsigned long long)p->bytes_in[0], (unsigned long long)p->first_reply_ms[0],
	     (unsigned long long)(now > p->round_start ? now - p->round_start : 0));
	m->st.repairs++;
	client_end(m, p);
	p->repair_due = now + (p->repair_again ? m->cfg.repair_soon_ms
	                                       : jitter(m, m->cfg.repair_interval_ms));
	p->repair_again = 0;
}

static void repair_abandon(struct mesh *m, struct peer *p, uint64_t now, const char *why)
{
	mlog(m, MESH_LOG_INFO, "peer %s (%s): repair abandoned: %s", p->hex, p->name, why);
	if ((p->cstage == 1 || p->cstage == 2) && !p->rs[p->cstage - 1].reconciled)
		p->rs[p->cstage - 1].open = 0;  /* no summary of half a session */
	client_end(m, p);
	p->repair_due = now + jitter(m, m->cfg.repair_interval_ms / 4 + 1);
	fetch_pump(m, p, now);
}

static int repair_stage(struct mesh *m, struct peer *p, int stage, uint64_t now)
{
	struct frame_groups scope;
	struct neg_storage st;
	struct frame f;
	uint8_t *msg = NULL;
	size_t len = 0;
	int rc;

	client_end(m, p);
	memset(&scope, 0, sizeof(scope));
	if (stage == 1) {
		scope.n = 1;
		scope.g[0] = frame_str_c(WM_NETWORK_GROUP);
	} else if (shared_scope(m, p, &scope) != 0) {
		return WM_ENOTFOUND;
	}
	if ((rc = repair_view_open(m, &scope, now, &p->cview, &st)) != 0)
		return rc;
	if ((rc = neg_new(&st, m->cfg.neg_frame_limit, &p->cneg)) != 0 ||
	    (rc = neg_initiate(p->cneg, &msg, &len)) != 0) {
		client_end(m, p);
		return rc;
	}
	store_neg_rest(p->cview);       /* no snapshot held while the peer answers */
	/* odd session ids from the dialer, even from the acceptor */
	p->next_session += 2;
	p->csession = p->next_session;
	p->cstage = stage;
	p->cdeadline = now + MESH_NEG_TIMEOUT;
	p->stage_open_at = now;
	p->bytes_out[stage - 1] += len;
	if (p->rs[stage - 1].open && p->rs[stage - 1].reconciled)
		rs_log(m, p, stage - 1, now);   /* the last one is still fetching: say so now */
	memset(&p->rs[stage - 1], 0, sizeof(p->rs[0]));
	p->rs[stage - 1].open = 1;
	p->rs[stage - 1].open_at = p->rs[stage - 1].progress_at = now;
	memset(&f, 0, sizeof(f));
	f.type = FRAME_NEG_OPEN;
	f.neg.session = p->csession;
	f.neg.scope = scope;
	f.neg.msg = msg;
	f.neg.len = len;
	rc = send_frame(m, p, &f, 0);
	free(msg);
	if (rc != 0)
		client_end(m, p);
	return rc;
}

static void repair_start(struct mesh *m, struct peer *p, uint64_t now)
{
	int rc;

	p->repair_due = UINT64_MAX;
	p->round_need = p->round_have = 0;
	p->round_start = now;
	memset(p->rt, 0, sizeof(p->rt));
	memset(p->bytes_out, 0, sizeof(p->bytes_out));
	memset(p->bytes_in, 0, sizeof(p->bytes_in));
	memset(p->first_reply_ms, 0, sizeof(p->first_reply_ms));
	if ((rc = repair_stage(m, p, 1, now)) != 0)
		repair_abandon(m, p, now, wm_strerror(rc));
}

static void repair_soon_others(struct mesh *m, const struct peer *except, uint64_t now)
{
	size_t i;

	for (i = 0; i < m->npeers; i++) {
		struct peer *q = m->peers[i];
		uint64_t t = now + m->cfg.repair_soon_ms;

		if (q != except && live(q) && q->csession == 0 && q->repair_due > t)
			q->repair_due = t;
	}
}

/* IHAVE repair=1 of k ids. */
static void ihave_repair_send(struct mesh *m, struct peer *p, uint8_t (*ids)[WM_ID_LEN],
                              const uint8_t *kinds, size_t k)
{
	struct frame f;

	memset(&f, 0, sizeof(f));
	f.type = FRAME_IHAVE;
	f.ids.flag = 1;
	f.ids.n = k;
	f.ids.ids = &ids[0][0];
	f.ids.kinds = kinds;
	if (send_frame(m, p, &f, 0) == 0)
		m->st.ihave_out++;
}

/* The ids of a finished stage: fetch what we lack, announce what it lacks. */
static void repair_stage_done(struct mesh *m, struct peer *p, struct neg_ids *have,
                              struct neg_ids *need, uint64_t now)
{
	struct store_info info;
	uint8_t kinds[FRAME_MAX_IDS];
	uint8_t (*ids)[WM_ID_LEN] = NULL;
	size_t i, start, k, sent = 0, nneed = 0, nhave = 0;
	int own = lookups_begin(m);

	/* Counted as differences: only what fetching can close.  A refusal
	 * remembered on one side counts as held there and is not served, so
	 * the other side lists it as missing for ever; neither the ids we
	 * hold as refusals nor those the peer already answered NOTHAVE for
	 * are a difference to report (or a reason to log every round). */
	for (i = 0; i < need->n; i++) {
		if (held(m, need->ids[i]) != 0 || unavail_has(m, need->ids[i]))
			continue;
		nneed++;
		if (fq_add(m, p, need->ids[i]) != 0)
			break;
	}
	/* announce what it lacks so that it pulls at its own pace; only what
	 * we can serve (not remembered refusals; a retracted event is served
	 * withheld) */
	if (have->n > 0 && (ids = malloc(FRAME_MAX_IDS * WM_ID_LEN)) == NULL)
		nhave = have->n;
	for (start = 0, k = 0; ids != NULL && start < have->n; start++) {
		const uint8_t *id = have->ids[start];

		if (sent >= MESH_HAVE_MAX) {
			nhave += have->n - start;   /* not looked up: counted as they are */
			break;
		}
		if (store_info(m->ictx.store, id, &info) != 0 || info.kind < 1 ||
		    info.kind > 255)
			continue;
		nhave++;
		memcpy(ids[k], id, WM_ID_LEN);
		kinds[k++] = (uint8_t)info.kind;
		if (k == FRAME_MAX_IDS) {
			ihave_repair_send(m, p, ids, kinds, k);
			sent += k;
			k = 0;
		}
	}
	if (k > 0)
		ihave_repair_send(m, p, ids, kinds, k);
	lookups_end(m, own);
	free(ids);
	p->round_need += nneed;
	p->round_have += nhave;
	if (p->cstage == 1 || p->cstage == 2) {
		struct rsess *r = &p->rs[p->cstage - 1];

		r->need += nneed;
		r->have += nhave;
		r->q_end = p->fq_seq;
	}
	fetch_pump(m, p, now);
}

static void neg_close_send(struct mesh *m, struct peer *p, uint64_t session, const char *reason)
{
	struct frame f;

	memset(&f, 0, sizeof(f));
	f.type = FRAME_NEG_CLOSE;
	f.neg.session = session;
	f.neg.reason = frame_str_c(reason);
	(void)send_frame(m, p, &f, 0);
}

static int on_client_msg(struct mesh *m, struct peer *p, const struct frame *fr, uint64_t now)
{
	struct neg_ids have = { NULL, 0, 0 }, need = { NULL, 0, 0 };
	char why[WM_WHY_LEN];
	uint8_t *msg = NULL;
	size_t len = 0;
	int rc, stage;

	if (p->csession == 0 || fr->neg.session != p->csession)
		return 0;               /* a session we gave up on */
	rs_progress(m, p, now);
	if (p->cstage == 1 || p->cstage == 2) {
		int s = p->cstage - 1;

		if (p->rt[s]++ == 0)
			p->first_reply_ms[s] = now > p->stage_open_at ? now - p->stage_open_at : 0;
		p->bytes_in[s] += fr->neg.len;
	}
	why[0] = '\0';
	rc = neg_reconcile_client(p->cneg, fr->neg.msg, fr->neg.len, &have, &need, &msg, &len, why,
	                          sizeof(why));
	store_neg_rest(p->cview);
	if (rc != 0) {
		neg_ids_free(&have);
		neg_ids_free(&need);
		if (rc == WM_EPROTO || rc == WM_EVERSION) {
			peer_fault(m, p, rc, why[0] ? why : "bad negentropy message");
			return rc;
		}
		repair_abandon(m, p, now, why[0] ? why : wm_strerror(rc));
		return 0;
	}
	repair_stage_done(m, p, &have, &need, now);
	neg_ids_free(&have);
	neg_ids_free(&need);
	if (p->dead)
		return 0;
	if (msg != NULL) {
		rc = send_neg_msg(m, p, p->csession, msg, len);
		if (p->cstage == 1 || p->cstage == 2)
			p->bytes_out[p->cstage - 1] += len;
		p->cdeadline = now + MESH_NEG_TIMEOUT;
		if (rc != 0)
			repair_abandon(m, p, now, "send queue full");
		return 0;
	}
	neg_close_send(m, p, p->csession, "done");
	stage = p->cstage;
	if (stage == 1 || stage == 2) {
		struct rsess *r = &p->rs[stage - 1];

		r->reconciled = 1;
		r->rt = p->rt[stage - 1];
		r->bytes_out = p->bytes_out[stage - 1];
		r->bytes_in = p->bytes_in[stage - 1];
		rs_check(m, p, now);
	}
	if (stage == 1 && (rc = repair_stage(m, p, 2, now)) == 0)
		return 0;
	if (stage == 1 && rc != WM_ENOTFOUND) {
		repair_abandon(m, p, now, wm_strerror(rc));
		return 0;
	}
	repair_finish(m, p, now);
	return 0;
}

static int on_server_msg(struct mesh *m, struct peer *p, const struct frame *fr, uint64_t now)
{
	char why[WM_WHY_LEN];
	struct neg_storage st;
	uint8_t *msg = NULL;
	size_t len = 0;
	int rc;

	if (fr->type == FRAME_NEG_OPEN) {
		server_end(m, p);
		if (m->server_sessions >= MESH_SERVER_MAX) {
			neg_close_send(m, p, fr->neg.session, "busy");
			return 0;
		}
		if ((rc = repair_view_open(m, &fr->neg.scope, now, &p->sview, &st)) != 0) {
			neg_close_send(m, p, fr->neg.session, "error");
			return 0;
		}
		if ((rc = neg_new(&st, m->cfg.neg_frame_limit, &p->sneg)) != 0) {
			store_neg_close(p->sview);
			p->sview = NULL;
			neg_close_send(m, p, fr->neg.session, "error");
			return 0;
		}
		m->server_sessions++;
		p->ssession = fr->neg.session;
	} else if (p->sneg == NULL || fr->neg.session != p->ssession) {
		neg_close_send(m, p, fr->neg.session, "unknown session");
		return 0;
	}
	p->sdeadline = now + MESH_NEG_TIMEOUT;
	why[0] = '\0';
	rc = neg_reconcile_server(p->sneg, fr->neg.msg, fr->neg.len, &msg, &len, why, sizeof(why));
	store_neg_rest(p->sview);
	if (rc != 0) {
		server_end(m, p);
		if (rc == WM_EPROTO || rc == WM_EVERSION) {
			peer_fault(m, p, rc, why[0] ? why : "bad negentropy message");
			return rc;
		}
		neg_close_send(m, p, fr->neg.session, "error");
		return 0;
	}
	if (send_neg_msg(m, p, p->ssession, msg, len) != 0)
		server_end(m, p);
	return 0;
}

/* --- receiving -------------------------------------------------------------------- */

static int author_ok(struct mesh *m, const uint8_t *author, uint64_t now)
{
	size_t slot = ((size_t)author[0] << 8 | author[1]) % MESH_AUTHORS;
	struct author_bucket *a = &m->authors[slot];

	if (!a->used || memcmp(a->pub, author, WM_PUB_LEN) != 0) {
		memcpy(a->pub, author, WM_PUB_LEN);
		a->used = 1;
		a->b.tokens = m->cfg.author_burst;
		a->b.at = now;
	}
	return bucket_take(&a->b, m->cfg.author_rate, m->cfg.author_burst, now);
}

static void on_duplicate(struct mesh *m, struct peer *p, const uint8_t *id, int push)
{
	struct frame f;

	m->st.duplicates++;
	p->dup_in++;
	missing_remove(m, id);
	if (!push)
		return;
	/* Plumtree: a second copy means this link is redundant for the tree */
	p->eager = 0;
	memset(&f, 0, sizeof(f));
	f.type = FRAME_PRUNE;
	if (send_frame(m, p, &f, 0) == 0)
		m->st.prune_out++;
}

/* Did we ask p for this id: a repair fetch in flight (taken off the list
 * here), or a missing id asked of it? */
static int asked_for(struct mesh *m, struct peer *p, const uint8_t id[WM_ID_LEN], uint64_t now)
{
	struct missing *e;
	size_t i;

	if (fl_take(m, p, id, now))
		return 1;
	if ((e = missing_find(m, id)) == NULL)
		return 0;
	for (i = 0; i < e->next; i++)
		if (e->ann[i] == p->h)
			return 1;
	return 0;
}

static int on_event(struct mesh *m, struct peer *p, int push, const uint8_t *wire, size_t len,
                    uint64_t now)
{
	struct ingest_result res;
	struct event_peek pk;
	char hex[17];
	int rc, peeked, lookup = -1, lazy_live = 0, unasked = 0;

	m->st.events_in++;
	p->events_in++;
	peeked = peek_received(m, wire, len, &pk);
	if (peeked) {
		unasked = !push && !asked_for(m, p, pk.id, now);
		if (!we_carry(m, pk.group, pk.glen)) {
			mlog(m, MESH_LOG_DEBUG, "peer %s: event of a group we do not carry ignored", p->hex);
			goto pump;
		}
		if ((lookup = held(m, pk.id)) > 0) {
			on_duplicate(m, p, pk.id, push);
			goto pump;
		}
		/* Only what we asked for escapes the rate limits.  An answer to
		 * an ask that timed out is excused (and throttled); any other
		 * EVENT push=0 is a peer pushing outside Plumtree's rules, which
		 * no honest node does.  (A duplicate, above, is harmless either
		 * way: two asks for one id bring two answers.) */
		if (unasked && p->late == 0) {
			m->st.invalid++;
			peer_fault(m, p, WM_EPROTO, "sent an event it was not asked for (EVENT push=0)");
			return WM_EPROTO;
		}
		if (unasked)
			p->late--;
		lazy_live = missing_find(m, pk.id) != NULL;
		if ((push || unasked) &&
		    (!bucket_take(&p->rate, m->cfg.peer_rate, m->cfg.peer_burst, now) ||
		     !author_ok(m, pk.author, now))) {
			m->st.rate_limited++;
			mlog(m, MESH_LOG_DEBUG, "peer %s: event dropped by a rate limit", p->hex);
			return 0;
		}
	}
	if (m->paused) {
		/* the node cannot store now; repair fetches it when it can */
		m->st.paused_dropped++;
		goto pump;
	}
	m->ictx.now = now;
	if (m->io.ingesting != NULL)
		m->io.ingesting(m->io.ctx);
	if (peeked) {           /* ingest neither hashes nor looks up again */
		struct ingest_prep prep;

		ingest_prepare_peeked(&pk, lookup == 0, &prep);
		rc = ingest_commit(&m->ictx, &prep, INGEST_PEER, &res);
		ingest_prep_clear(&prep);
	} else {
		rc = ingest_event(&m->ictx, wire, len, INGEST_PEER, &res);
	}
	if (rc == 0) {
		m->st.stored++;
		if (m->io.stored != NULL)
			m->io.stored(m->io.ctx, p->h, res.id, res.kind, res.seq);
		if (!peeked) {          /* cannot happen: ingest accepted it */
			mlog(m, MESH_LOG_WARN, "stored an event the router cannot read");
			goto pump;
		}
		missing_remove(m, pk.id);
		if (push || lazy_live) {
			p->eager = 1;   /* Plumtree: the first copy's link is in the tree */
			deliver(m, &pk, wire, len, p, now);
		} else {
			int s = is_network(pk.group, pk.glen) ? 0 : 1;

			m->st.fetched++;
			p->round_stored++;
			if (p->rs[s].open)
				p->rs[s].fetched++;
			rs_progress(m, p, now);
		}
		goto pump;
	}
	if (rc == WM_EDUP || rc == WM_EREJECTED) {
		on_duplicate(m, p, res.id, push);
		goto pump;
	}
	m->st.refused++;
	if (rc < 0 && -rc < MESH_REASONS)
		m->st.refused_by[-rc]++;
	id_short(hex, res.id);
	if (mesh_refusal_is_fault(rc)) {
		char why[WM_WHY_LEN + 64];

		m->st.invalid++;
		snprintf(why, sizeof(why), "sent invalid event %s: %s", hex, res.why);
		why[WM_WHY_LEN - 1] = '\0';
		peer_fault(m, p, rc, why);
		return rc;
	}
	if (rc == WM_ESTORE || rc == WM_ENOMEM) {
		m->st.store_errors++;
		mlog(m, MESH_LOG_WARN, "event %s from %s not stored: %s", hex, p->hex, res.why);
	} else {
		mlog(m, MESH_LOG_DEBUG, "event %s from %s refused for now: %s", hex, p->hex, res.why);
		/* what came before what it needs (a certificate, a request, the
		 * retract of a withheld event) is fetched again soon */
		if (!push && (rc == WM_EUNKNOWNCERT || rc == WM_EPENDING || rc == WM_EWITHHELD))
			p->round_deferred++;
	}
pump:
	if (!push)
		fetch_pump(m, p, now);
	return 0;
}

static void on_iwant(struct mesh *m, struct peer *p, const struct frame *fr)
{
	uint8_t nothave[FRAME_MAX_IDS][WM_ID_LEN];
	size_t i, nn = 0;
	struct frame f;
	int full = 0;

	if (fr->ids.flag)
		p->eager = 1;           /* graft */
	for (i = 0; i < fr->ids.n; i++) {
		const uint8_t *id = fr->ids.ids + i * WM_ID_LEN;
		uint8_t *wire = NULL;
		size_t len = 0;
		struct event_peek pk;

		if (full || store_get(m->ictx.store, id, &wire, &len) != 0) {
			memcpy(nothave[nn++], id, WM_ID_LEN);
			continue;
		}
		memset(&f, 0, sizeof(f));
		f.type = FRAME_EVENT;
		f.event.push = 0;
		f.event.wire = wire;
		f.event.len = len;
		if (send_frame(m, p, &f, peek_event(wire, len, EVENT_PEEK_NO_ID, &pk) && pk.kind == KIND_ALERT) == 0) {
			p->events_out++;
			m->st.events_out++;
		} else {
			full = 1;
			memcpy(nothave[nn++], id, WM_ID_LEN);
		}
		free(wire);
	}
	if (nn > 0 && !p->dead) {
		memset(&f, 0, sizeof(f));
		f.type = FRAME_NOTHAVE;
		f.ids.n = nn;
		f.ids.ids = &nothave[0][0];
		(void)send_frame(m, p, &f, 0);
	}
}

static void on_ihave(struct mesh *m, struct peer *p, const struct frame *fr, uint64_t now)
{
	size_t i;
	int own;

	if (fr->ids.flag && !fetching(p))
		p->fetch_progress_at = now;     /* a fetch starts */
	own = lookups_begin(m);
	for (i = 0; i < fr->ids.n; i++) {
		const uint8_t *id = fr->ids.ids + i * WM_ID_LEN;
		unsigned kind = fr->ids.kinds[i];

		if (held(m, id) != 0)
			continue;
		if (!fr->ids.flag) {
			uint64_t wait = m->cfg.graft_timeout_ms;

			missing_add(m, id, kind, p, now + (kind == KIND_ALERT ? wait / 3 : wait), 1);
		} else if (kind == KIND_ALERT) {
			missing_add(m, id, kind, p, now, 0);
		} else if (fq_add(m, p, id) != 0) {
			break;
		}
	}
	lookups_end(m, own);
	if (fr->ids.flag)
		fetch_pump(m, p, now);
}

static void on_nothave(struct mesh *m, struct peer *p, const struct frame *fr, uint64_t now)
{
	size_t i;

	for (i = 0; i < fr->ids.n; i++) {
		struct missing *e = missing_find(m, fr->ids.ids + i * WM_ID_LEN);

		if (fl_take(m, p, fr->ids.ids + i * WM_ID_LEN, now) && e == NULL)
			unavail_add(m, fr->ids.ids + i * WM_ID_LEN);
		else if (e != NULL && e->asked && e->ann[e->next - 1] == p->h) {
			e->asked = 0;   /* answered: no late copy will come */
			e->due = now;   /* ask the next announcer at once */
		}
	}
	fetch_pump(m, p, now);
}

static int on_hello(struct mesh *m, struct peer *p, const struct frame *fr, uint64_t now)
{
	size_t i, off = 0;

	if (p->ready) {
		peer_fault(m, p, WM_EPROTO, "second HELLO");
		return WM_EPROTO;
	}
	memcpy(p->name, fr->hello.name.p, fr->hello.name.len);
	p->name[fr->hello.name.len] = '\0';
	for (i = 0; i < fr->hello.groups.n; i++) {
		const struct frame_str *g = &fr->hello.groups.g[i];

		if (off + g->len + 2 > sizeof(p->groups_txt))
			break;
		if (i > 0)
			p->groups_txt[off++] = ',';
		memcpy(p->groups_txt + off, g->p, g->len);
		off += g->len;
	}
	p->groups_txt[off] = '\0';
	if (frame_groups_parse(p->groups_txt, &p->groups) != 0) {
		peer_fault(m, p, WM_EPROTO, "HELLO group list too long");
		return WM_EPROTO;
	}
	p->ready = 1;
	p->eager = eager_count(m) < m->cfg.eager_fanout;
	/* repair on connect: the dialer at once; the acceptor a little later,
	 * and (mesh_tick) not while it answers the dialer's session, which
	 * already announces to it what it lacks */
	p->repair_due = p->outbound ? now : now + m->cfg.repair_soon_ms;
	mlog(m, MESH_LOG_INFO, "peer %s (%s) ready: %s, groups %s, %s", p->hex, p->name,
	     p->outbound ? "outbound" : "inbound", p->groups_txt, p->eager ? "eager" : "lazy");
	return 0;
}

static int before_hello(struct mesh *m, struct peer *p)
{
	peer_fault(m, p, WM_EPROTO, "frame before HELLO");
	return WM_EPROTO;
}

int mesh_receive_event(struct mesh *m, uint32_t peer, int push, const uint8_t *wire, size_t len,
                       uint64_t now)
{
	struct peer *p;

	if (m == NULL || (p = peer_find(m, peer)) == NULL || p->dead)
		return 0;
	if (!p->ready)
		return before_hello(m, p);
	return on_event(m, p, push, wire, len, now);
}

int mesh_receive(struct mesh *m, uint32_t peer, const uint8_t *buf, size_t len, uint64_t now)
{
	struct peer *p;
	struct frame *f;
	char why[WM_WHY_LEN];
	int rc = 0, mine;

	if (m == NULL || (p = peer_find(m, peer)) == NULL || p->dead)
		return 0;
	if ((f = malloc(sizeof(*f))) == NULL)
		return WM_ENOMEM;
	if ((rc = frame_decode(buf, len, f, why)) != 0) {
		char line[WM_WHY_LEN + 32];

		snprintf(line, sizeof(line), "bad frame: %s", why);
		line[WM_WHY_LEN - 1] = '\0';
		peer_fault(m, p, rc, line);
		goto out;
	}
	if (!p->ready && f->type != FRAME_HELLO && f->type != FRAME_UNKNOWN) {
		rc = before_hello(m, p);
		goto out;
	}
	switch (f->type) {
	case FRAME_HELLO:
		rc = on_hello(m, p, f, now);
		break;
	case FRAME_EVENT:
		rc = on_event(m, p, f->event.push, f->event.wire, f->event.len, now);
		break;
	case FRAME_IHAVE:
		on_ihave(m, p, f, now);
		break;
	case FRAME_IWANT:
		on_iwant(m, p, f);
		break;
	case FRAME_NOTHAVE:
		on_nothave(m, p, f, now);
		break;
	case FRAME_PRUNE:
		p->eager = 0;
		break;
	case FRAME_NEG_OPEN:
	case FRAME_NEG_MSG:
	case FRAME_NEG_CLOSE:
		/* our client sessions have our parity */
		mine = (int)(f->neg.session & 1) == (p->outbound ? 1 : 0);
		if (f->type == FRAME_NEG_OPEN && mine) {
			peer_fault(m, p, WM_EPROTO, "NEG_OPEN with a session id of the wrong parity");
			rc = WM_EPROTO;
		} else if (f->type == FRAME_NEG_CLOSE) {
			if (mine && p->csession != 0 && f->neg.session == p->csession) {
				char q[64], r[100];

				/* the peer's words, quoted: control characters escaped, cut whole */
				mp_quote(q, sizeof(q), (const uint8_t *)f->neg.reason.p, f->neg.reason.len);
				snprintf(r, sizeof(r), "peer closed the session: %s", q);
				repair_abandon(m, p, now, r);
			} else if (!mine && p->sneg != NULL && f->neg.session == p->ssession) {
				server_end(m, p);
			}
		} else if (mine) {
			rc = on_client_msg(m, p, f, now);
		} else {
			rc = on_server_msg(m, p, f, now);
		}
		if (rc == 0)
			fetch_pump(m, p, now);  /* held while the sessions reconciled */
		break;
	case FRAME_UNKNOWN:
		mlog(m, MESH_LOG_DEBUG, "peer %s: frame of unknown type %llu ignored", p->hex,
		     (unsigned long long)f->raw_type);
		break;
	}
out:
	free(f);
	return rc;
}

/* --- lifecycle ------------------------------------------------------------------ */

void mesh_config_defaults(struct mesh_config *c)
{
	memset(c, 0, sizeof(*c));
	c->name = "node";
	c->groups = "*";
	c->software = "watchmesh";
	c->eager_fanout = WM_DEFAULT_EAGER_PEERS;
	c->ihave_delay_ms = 50;
	c->graft_timeout_ms = 300;
	c->fetch_timeout_ms = 2000;
	c->repair_interval_ms = WM_DEFAULT_REPAIR_INTERVAL_S * 1000;
	c->repair_soon_ms = 1000;
	c->fetch_batch = 64;
	c->fetch_window = 256;
	c->peer_rate = WM_DEFAULT_PEER_RATE;
	c->peer_burst = WM_DEFAULT_PEER_BURST;
	c->author_rate = WM_DEFAULT_AUTHOR_RATE_PER_MIN / 60.0;
	c->author_burst = WM_DEFAULT_AUTHOR_BURST;
	c->invalid_backoff_ms = 600000;
	c->neg_frame_limit = FRAME_NEG_MAX;   /* 3 round trips at 0.1% of 1M: BENCHMARKS.md */
}

static char *dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

int mesh_new(const struct mesh_config *cfg, const struct mesh_io *io, const struct ingest_ctx *ictx,
             uint64_t seed, struct mesh **out, char why[WM_WHY_LEN])
{
	struct mesh *m = NULL;

	if (cfg == NULL || io == NULL || io->send == NULL || io->disconnect == NULL || ictx == NULL ||
	    ictx->store == NULL || out == NULL)
		return mp_fail(why, WM_EINVAL, "mesh_new: missing argument");
	if (cfg->name == NULL || cfg->groups == NULL || cfg->software == NULL ||
	    cfg->fetch_batch < 1 || cfg->fetch_batch > FRAME_MAX_IDS || cfg->fetch_window < 1 ||
	    (cfg->neg_frame_limit != 0 && cfg->neg_frame_limit < NEG_MIN_FRAME_LIMIT) ||
	    cfg->neg_frame_limit > FRAME_NEG_MAX || cfg->repair_interval_ms < 1)
		return mp_fail(why, WM_EINVAL, "mesh config: a value is out of range");
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return mp_fail(why, WM_ENOMEM, "out of memory");
	m->cfg = *cfg;
	m->name = dupstr(cfg->name);
	m->groups_txt = dupstr(cfg->groups);
	m->software = dupstr(cfg->software);
	if (m->name == NULL || m->groups_txt == NULL || m->software == NULL) {
		mesh_free(m);
		return mp_fail(why, WM_ENOMEM, "out of memory");
	}
	m->cfg.name = m->name;
	m->cfg.groups = m->groups_txt;
	m->cfg.software = m->software;
	if (frame_groups_parse(m->groups_txt, &m->groups) != 0) {
		mesh_free(m);
		return mp_fail(why, WM_EINVAL, "mesh config: groups \"%.100s\" is not \"*\" or a list of "
		               "distinct group names", cfg->groups);
	}
	{
		struct frame_str n = frame_str_c(m->name);
		struct frame f;
		uint8_t *b = NULL;
		size_t l;

		memset(&f, 0, sizeof(f));
		f.type = FRAME_HELLO;
		f.hello.version = FRAME_VERSION;
		f.hello.name = n;
		f.hello.groups = m->groups;
		f.hello.software = frame_str_c(m->software);
		if (frame_encode(&f, &b, &l, why) != 0) {
			mesh_free(m);
			return WM_EINVAL;
		}
		free(b);
	}
	m->io = *io;
	m->ictx = *ictx;
	m->rng = seed;
	*out = m;
	return 0;
}

void mesh_free(struct mesh *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->npeers; i++)
		peer_free(m, m->peers[i]);
	free(m->peers);
	free(m->miss);
	free(m->name);
	free(m->groups_txt);
	free(m->software);
	free(m);
}

int mesh_peer_up(struct mesh *m, uint32_t peer, const uint8_t pub[WM_PUB_LEN], int outbound,
                 uint64_t now)
{
	struct peer *p;
	struct frame f;

	if (m == NULL || pub == NULL || peer_find(m, peer) != NULL)
		return WM_EINVAL;
	if (m->npeers == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;
		struct peer **v = realloc(m->peers, cap * sizeof(*v));

		if (v == NULL)
			return WM_ENOMEM;
		m->peers = v;
		m->cap = cap;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return WM_ENOMEM;
	p->h = peer;
	memcpy(p->pub, pub, WM_PUB_LEN);
	hex_encode(p->hex, pub, 4);
	p->outbound = outbound != 0;
	p->up_since = now;
	p->repair_due = UINT64_MAX;
	/* the first session is 1 (dialer) or 2 (acceptor) after += 2 */
	p->next_session = p->outbound ? UINT64_MAX : 0;
	p->rate.tokens = m->cfg.peer_burst;
	p->rate.at = now;
	m->peers[m->npeers++] = p;

	memset(&f, 0, sizeof(f));
	f.type = FRAME_HELLO;
	f.hello.version = FRAME_VERSION;
	f.hello.name = frame_str_c(m->name);
	f.hello.groups = m->groups;
	f.hello.software = frame_str_c(m->software);
	f.hello.repair_ms = m->cfg.repair_interval_ms;
	(void)send_frame(m, p, &f, 1);
	return 0;
}

void mesh_peer_down(struct mesh *m, uint32_t peer, uint64_t now)
{
	size_t i;

	(void)now;
	if (m == NULL)
		return;
	for (i = 0; i < m->npeers; i++) {
		if (m->peers[i]->h == peer) {
			struct peer *p = m->peers[i];

			mlog(m, MESH_LOG_INFO, "peer %s (%s) down", p->hex, p->name[0] ? p->name : "?");
			m->peers[i] = m->peers[--m->npeers];
			peer_free(m, p);
			return;
		}
	}
}

int mesh_publish(struct mesh *m, const uint8_t *wire, size_t len, uint64_t now)
{
	struct event_peek pk;

	if (m == NULL || wire == NULL || !peek_event(wire, len, 0, &pk))
		return WM_EMALFORMED;
	missing_remove(m, pk.id);
	deliver(m, &pk, wire, len, NULL, now);
	return 0;
}

/* A session with p waits while p's own session is being answered here, and
 * while ids are still being fetched from p (the last session's, or what p
 * announced): it would find them all again, and compete with them. */
static int repair_held(const struct peer *p)
{
	return p->sneg != NULL || fetching(p);
}

void mesh_tick(struct mesh *m, uint64_t now)
{
	size_t i;

	if (m == NULL)
		return;
	missing_tick(m, now);
	for (i = 0; i < m->npeers; i++) {
		struct peer *p = m->peers[i];

		if (!p->ready && !p->dead && now >= p->up_since + MESH_HELLO_TIMEOUT) {
			/* silent, not hostile: the ordinary reconnect policy */
			p->dead = 1;
			mlog(m, MESH_LOG_INFO, "peer %s: no HELLO in %d s, disconnecting", p->hex,
			     MESH_HELLO_TIMEOUT / 1000);
			m->io.disconnect(m->io.ctx, p->h, "no HELLO", 0);
			continue;
		}
		if (!live(p))
			continue;
		if (p->ihave_n > 0 && p->ihave_due <= now)
			ihave_flush(m, p, 0);
		if (p->csession != 0 && p->cdeadline <= now)
			repair_abandon(m, p, now, "no answer");
		if (p->sneg != NULL && p->sdeadline <= now) {
			server_end(m, p);
			fetch_pump(m, p, now);
		}
		if (p->fl_n > 0 && p->fetch_deadline <= now) {
			p->late += p->fl_n;     /* it may still answer */
			p->fl_n = 0;
			p->fq_timedout = 1;
			fetch_pump(m, p, now);
		}
		if (!m->paused && p->csession == 0 && !repair_held(p) && p->repair_due <= now)
			repair_start(m, p, now);
	}
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t mesh_next_deadline(const struct mesh *m)
{
	uint64_t t = UINT64_MAX;
	size_t i;

	if (m == NULL)
		return t;
	for (i = 0; i < m->nmiss; i++)
		t = min64(t, m->miss[i].due);
	for (i = 0; i < m->npeers; i++) {
		const struct peer *p = m->peers[i];

		if (!p->ready && !p->dead)
			t = min64(t, p->up_since + MESH_HELLO_TIMEOUT);
		if (!live(p))
			continue;
		if (p->ihave_n > 0)
			t = min64(t, p->ihave_due);
		if (p->csession != 0)
			t = min64(t, p->cdeadline);
		else if (!repair_held(p) && !m->paused)   /* else what holds it wakes it */
			t = min64(t, p->repair_due);
		if (p->sneg != NULL)
			t = min64(t, p->sdeadline);
		if (p->fl_n > 0)
			t = min64(t, p->fetch_deadline);
	}
	return t;
}

void mesh_pause(struct mesh *m, int paused, uint64_t now)
{
	size_t i;

	if (m == NULL || m->paused == !!paused)
		return;
	m->paused = !!paused;
	mlog(m, MESH_LOG_DEBUG, "mesh %s", paused ? "paused" : "resumed");
	if (paused)
		return;
	for (i = 0; i < m->npeers; i++)     /* catch up with everyone at once */
		if (m->peers[i]->repair_due > now)
			m->peers[i]->repair_due = now;
}

/* --- status ------------------------------------------------------------------------ */

void mesh_get_stats(const struct mesh *m, struct mesh_stats *out)
{
	if (m == NULL || out == NULL)
		return;
	*out = m->st;
	out->peers = m->npeers;
}

size_t mesh_peer_count(const struct mesh *m)
{
	return m != NULL ? m->npeers : 0;
}

int mesh_peer_info(const struct mesh *m, size_t i, struct mesh_peer_info *out)
{
	const struct peer *p;

	if (m == NULL || out == NULL || i >= m->npeers)
		return WM_EINVAL;
	p = m->peers[i];
	memset(out, 0, sizeof(*out));
	out->peer = p->h;
	memcpy(out->pub, p->pub, WM_PUB_LEN);
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	snprintf(out->groups, sizeof(out->groups), "%s", p->groups_txt);
	out->outbound = p->outbound;
	out->ready = p->ready;
	out->eager = p->eager;
	out->up_since = p->up_since;
	out->events_in = p->events_in;
	out->events_out = p->events_out;
	out->duplicates_in = p->dup_in;
	out->fetch_queued = p->fq.n - p->fq_pos + p->fl_n;
	out->last_repair_at = p->last_repair_at;
	out->last_repair_need = p->last_repair_need;
	out->last_repair_have = p->last_repair_have;
	out->last_repair_round_trips = p->last_repair_rt;
	out->last_repair_bytes_out = p->last_repair_bytes_out;
	out->last_repair_bytes_in = p->last_repair_bytes_in;
	out->last_repair_ms = p->last_repair_ms;
	return 0;
}
