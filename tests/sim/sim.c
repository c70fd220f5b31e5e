/*
 * tests/sim/sim.c: the many-node simulator (see sim.h).  A binary heap of
 * timed items (frame deliveries, mesh ticks, link changes) drives a virtual
 * clock; each node's mesh is ticked at its own mesh_next_deadline.  Link
 * changes are items too, so that io->disconnect never re-enters a mesh.
 */
#include "sim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "fixture.h"
#include "frame.h"
#include "ingest.h"
#include "store.h"

#define SIM_MAX_EVENTS 512
#define SIM_RESIDENTS 4
#define DAY 86400000ull

enum item_kind { IT_DELIVER, IT_TICK, IT_DOWN, IT_UP };

struct item {
	uint64_t t, seq;
	enum item_kind kind;
	size_t a, b;                    /* DELIVER: from a to b; TICK: a; DOWN/UP: link a */
	uint64_t gen;                   /* DELIVER: the link's generation when sent */
	uint8_t *buf;
	size_t len;
};

struct link {
	size_t a, b;                    /* a dials b */
	uint64_t lat;
	int up, cut, banned;            /* banned: a mesh asked to back off for long */
	uint64_t gen;
	uint64_t last_ab, last_ba;      /* latest delivery time each way: order kept */
};

struct node;
struct io_ctx {
	struct sim *s;
	size_t i;
};

struct node {
	struct io_ctx io;
	struct mesh *mesh;
	struct store *store;
	struct ingest_ctx ictx;
	uint8_t pub[WM_PUB_LEN];
	int alive;
	uint64_t wake;
	size_t *links;
	size_t nlinks, caplinks;
	uint64_t arrival[SIM_MAX_EVENTS];
	uint32_t copies[SIM_MAX_EVENTS];
	uint64_t disconnects;
};

struct sim_ev {
	uint8_t id[WM_ID_LEN];
	uint64_t t;
};

struct sim {
	struct sim_opts o;
	uint64_t rng, now, seq;
	struct node **nodes;
	size_t n, capn;
	struct link *links;
	size_t nlinks, caplinks;
	struct item *heap;
	size_t nheap, capheap;
	size_t inflight;
	uint64_t frames;
	struct fx_cast cast;            /* root, station, officer, SIM_RESIDENTS residents */
	struct fx_ev certs[2];          /* root -> station -> officer */
	struct sim_ev ev[SIM_MAX_EVENTS];
	size_t nev;
	unsigned counter;
	struct fx_dir dir;              /* the stores' temporary directory */
};

static void die(const char *what)
{
	fprintf(stderr, "sim: %s\n", what);
	abort();
}

static uint64_t rnd(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rnd01(struct sim *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

uint64_t sim_seed(uint64_t fallback)
{
	const char *e = getenv("WATCHMESH_SIM_SEED");

	return e != NULL && *e ? strtoull(e, NULL, 0) : fallback;
}

void sim_opts_defaults(struct sim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->nodes = 10;
	o->seed = 1;
	o->lat_min_ms = 10;
	o->lat_max_ms = 30;
	mesh_config_defaults(&o->mesh);
}

/* --- the heap --------------------------------------------------------------- */

static int before(const struct item *x, const struct item *y)
{
	return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static void push(struct sim *s, struct item it)
{
	size_t i;

	if (s->nheap == s->capheap) {
		size_t cap = s->capheap ? 2 * s->capheap : 1024;
		struct item *h = realloc(s->heap, cap * sizeof(*h));

		if (h == NULL)
			die("out of memory");
		s->heap = h;
		s->capheap = cap;
	}
	it.seq = s->seq++;
	i = s->nheap++;
	while (i > 0 && before(&it, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = it;
	if (it.kind == IT_DELIVER)
		s->inflight++;
}

static struct item pop(struct sim *s)
{
	struct item top = s->heap[0], last = s->heap[--s->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap > 0)
		s->heap[i] = last;
	if (top.kind == IT_DELIVER)
		s->inflight--;
	return top;
}

static void wake(struct sim *s, size_t i, int after_tick)
{
	struct node *n = s->nodes[i];
	uint64_t d;
	struct item it;

	if (!n->alive)
		return;
	d = mesh_next_deadline(n->mesh);
	if (d == UINT64_MAX)
		return;
	if (d < s->now)
		d = s->now;
	if (after_tick && d <= s->now)
		d = s->now + 1;
	if (d >= n->wake)
		return;
	memset(&it, 0, sizeof(it));
	it.t = d;
	it.kind = IT_TICK;
	it.a = i;
	n->wake = d;
	push(s, it);
}

/* --- links ---------------------------------------------------------------------- */

static struct link *link_between(struct sim *s, size_t a, size_t b, size_t *idx)
{
	struct node *n = s->nodes[a];
	size_t k;

	for (k = 0; k < n->nlinks; k++) {
		struct link *l = &s->links[n->links[k]];

		if ((l->a == a && l->b == b) || (l->a == b && l->b == a)) {
			if (idx != NULL)
				*idx = n->links[k];
			return l;
		}
	}
	return NULL;
}

static void node_add_link(struct node *n, size_t li)
{
	if (n->nlinks == n->caplinks) {
		size_t cap = n->caplinks ? 2 * n->caplinks : 8;
		size_t *v = realloc(n->links, cap * sizeof(*v));

		if (v == NULL)
			die("out of memory");
		n->links = v;
		n->caplinks = cap;
	}
	n->links[n->nlinks++] = li;
}

void sim_link(struct sim *s, size_t a, size_t b)
{
	struct link *l;

	if (a == b || a >= s->n || b >= s->n || link_between(s, a, b, NULL) != NULL)
		return;
	if (s->nlinks == s->caplinks) {
		size_t cap = s->caplinks ? 2 * s->caplinks : 256;

		if ((l = realloc(s->links, cap * sizeof(*l))) == NULL)
			die("out of memory");
		s->links = l;
		s->caplinks = cap;
	}
	l = &s->links[s->nlinks];
	memset(l, 0, sizeof(*l));
	l->a = a;
	l->b = b;
	l->lat = s->o.lat_min_ms + (s->o.lat_max_ms > s->o.lat_min_ms
	                            ? rnd(s) % (s->o.lat_max_ms - s->o.lat_min_ms + 1) : 0);
	node_add_link(s->nodes[a], s->nlinks);
	node_add_link(s->nodes[b], s->nlinks);
	s->nlinks++;
}

static void link_up(struct sim *s, size_t li)
{
	struct link *l = &s->links[li];

	if (l->up || l->cut || l->banned || !s->nodes[l->a]->alive || !s->nodes[l->b]->alive)
		return;
	l->up = 1;
	l->gen++;
	l->last_ab = l->last_ba = s->now;
	if (mesh_peer_up(s->nodes[l->a]->mesh, (uint32_t)l->b, s->nodes[l->b]->pub, 1, s->now) != 0 ||
	    mesh_peer_up(s->nodes[l->b]->mesh, (uint32_t)l->a, s->nodes[l->a]->pub, 0, s->now) != 0)
		die("mesh_peer_up failed");
	wake(s, l->a, 0);
	wake(s, l->b, 0);
}

static void link_down(struct sim *s, size_t li)
{
	struct link *l = &s->links[li];

	if (!l->up)
		return;
	l->up = 0;
	l->gen++;
	if (s->nodes[l->a]->alive)
		mesh_peer_down(s->nodes[l->a]->mesh, (uint32_t)l->b, s->now);
	if (s->nodes[l->b]->alive)
		mesh_peer_down(s->nodes[l->b]->mesh, (uint32_t)l->a, s->now);
}

void sim_topo_ring(struct sim *s)
{
	size_t i;

	for (i = 0; i < s->n && s->n > 1; i++)
		sim_link(s, i, (i + 1) % s->n);
}

void sim_topo_line(struct sim *s)
{
	size_t i;

	for (i = 0; i + 1 < s->n; i++)
		sim_link(s, i, i + 1);
}

void sim_topo_random(struct sim *s, unsigned degree)
{
	size_t want, tries = 0;

	sim_topo_ring(s);
	want = s->n * degree / 2;
	while (s->nlinks < want && tries++ < want * 20) {
		size_t a = rnd(s) % s->n, b = rnd(s) % s->n;

		if (s->nodes[a]->nlinks < degree + 2 && s->nodes[b]->nlinks < degree + 2)
			sim_link(s, a, b);
	}
}

void sim_start(struct sim *s)
{
	size_t i;

	for (i = 0; i < s->nlinks; i++)
		link_up(s, i);
}

/* --- io callbacks --------------------------------------------------------------- */

static int io_send(void *ctx, uint32_t peer, const uint8_t *buf, size_t len, int prio)
{
	struct io_ctx *c = ctx;
	struct sim *s = c->s;
	struct link *l = link_between(s, c->i, peer, NULL);
	struct item it;
	uint64_t *last;

	(void)prio;
	if (l == NULL || !l->up)
		return WM_EINVAL;
	memset(&it, 0, sizeof(it));
	it.kind = IT_DELIVER;
	it.a = c->i;
	it.b = peer;
	it.gen = l->gen;
	it.t = s->now + l->lat;
	/* TCP loses no frame: a lost segment costs a retransmission timeout,
	 * and everything behind it on the link waits (order is kept below) */
	if (s->o.loss > 0 && rnd01(s) < s->o.loss)
		it.t += 200 + rnd(s) % 800;
	last = l->a == c->i ? &l->last_ab : &l->last_ba;
	if (it.t < *last)
		it.t = *last;
	*last = it.t;
	if ((it.buf = malloc(len ? len : 1)) == NULL)
		die("out of memory");
	memcpy(it.buf, buf, len);
	it.len = len;
	push(s, it);
	return 0;
}

static void io_disconnect(void *ctx, uint32_t peer, const char *why, uint64_t backoff_ms)
{
	struct io_ctx *c = ctx;
	struct sim *s = c->s;
	size_t li;
	struct item it;

	(void)why;
	s->nodes[c->i]->disconnects++;
	if (link_between(s, c->i, peer, &li) == NULL)
		return;
	memset(&it, 0, sizeof(it));
	it.kind = IT_DOWN;
	it.a = li;
	it.t = s->now;
	push(s, it);
	if (backoff_ms > 60000) {
		s->links[li].banned = 1;        /* longer than any test: stays down */
	} else {
		it.kind = IT_UP;
		it.t = s->now + (backoff_ms > 1000 ? backoff_ms : 1000);
		push(s, it);
	}
}

static void io_log(void *ctx, enum mesh_log_level lv, const char *line)
{
	struct io_ctx *c = ctx;

	if (c->s->o.verbose)
		fprintf(stderr, "[%8.3f n%zu %c] %s\n", (double)(c->s->now - SIM_T0) / 1000.0, c->i,
		        lv == MESH_LOG_WARN ? 'W' : lv == MESH_LOG_INFO ? 'I' : 'D', line);
}

/* --- nodes ------------------------------------------------------------------------- */

static size_t node_new(struct sim *s)
{
	struct mesh_io io = { NULL, io_send, io_disconnect, io_log, NULL, NULL, NULL };
	struct node *n;
	char why[WM_WHY_LEN], name[32];
	struct mesh_config cfg = s->o.mesh;
	size_t i;

	if (s->n == s->capn) {
		size_t cap = s->capn ? 2 * s->capn : 64;
		struct node **v = realloc(s->nodes, cap * sizeof(*v));

		if (v == NULL)
			die("out of memory");
		s->nodes = v;
		s->capn = cap;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		die("out of memory");
	i = s->n;
	n->io.s = s;
	n->io.i = i;
	n->alive = 1;
	n->wake = UINT64_MAX;
	for (size_t k = 0; k < WM_PUB_LEN; k += 8) {
		uint64_t r = rnd(s);

		memcpy(n->pub + k, &r, 8);
	}
	snprintf(name, sizeof(name), "n%zu", i);
	fx_store_open(&s->dir, name, &n->store);
	n->ictx.store = n->store;
	memcpy(n->ictx.root, s->cast.root->pub, WM_PUB_LEN);
	n->ictx.now = s->now;
	io.ctx = &n->io;
	cfg.name = name;
	cfg.verbose = s->o.verbose > 1;
	if (mesh_new(&cfg, &io, &n->ictx, rnd(s), &n->mesh, why) != 0) {
		fprintf(stderr, "sim: mesh_new: %s\n", why);
		abort();
	}
	s->nodes[s->n++] = n;
	return i;
}

/* Store files of the sims alive, removed at exit too: a failing case
 * exits from the middle of a run. */
#define SIM_LIVE_MAX 8
static struct sim *live[SIM_LIVE_MAX];

static void remove_all_files(void)
{
	size_t i;

	for (i = 0; i < SIM_LIVE_MAX; i++)
		if (live[i] != NULL)
			fx_store_remove(&live[i]->dir);
}

int sim_new(const struct sim_opts *o, struct sim **out)
{
	static int registered;

	struct sim *s;
	size_t i;

	if (wmc_init() != 0)
		return WM_ECRYPTO;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return WM_ENOMEM;
	s->o = *o;
	s->rng = o->seed;
	fx_dir_new(&s->dir, "sim");
	s->now = SIM_T0;
	fx_cast_filled(&s->cast, 0x10, SIM_RESIDENTS);
	fx_chain(s->cast.root, s->cast.station, s->cast.officer, SIM_T0 - DAY, SIM_T0 + 365 * DAY, s->certs);
	if (!registered) {
		atexit(remove_all_files);
		registered = 1;
	}
	for (i = 0; i < SIM_LIVE_MAX && live[i] != NULL; i++)
		;
	if (i < SIM_LIVE_MAX)
		live[i] = s;
	for (i = 0; i < o->nodes; i++)
		node_new(s);
	*out = s;
	return 0;
}

void sim_free(struct sim *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < SIM_LIVE_MAX; i++)
		if (live[i] == s)
			live[i] = NULL;
	for (i = 0; i < s->n; i++) {
		mesh_free(s->nodes[i]->mesh);
		store_close(s->nodes[i]->store);
	}
	fx_store_remove(&s->dir);
	for (i = 0; i < s->n; i++) {
		free(s->nodes[i]->links);
		free(s->nodes[i]);
	}
	for (i = 0; i < s->nheap; i++)
		free(s->heap[i].buf);
	free(s->heap);
	free(s->nodes);
	free(s->links);
	fx_cast_free(&s->cast);
	free(s->certs[0].wire);
	free(s->certs[1].wire);
	free(s);
}

size_t sim_add_node(struct sim *s, const size_t *to, size_t n)
{
	size_t i = node_new(s), k, li;

	for (k = 0; k < n; k++) {
		sim_link(s, to[k], i);
		if (link_between(s, to[k], i, &li) != NULL)
			link_up(s, li);
	}
	return i;
}

void sim_kill(struct sim *s, size_t i)
{
	struct node *n = s->nodes[i];
	size_t k;

	for (k = 0; k < n->nlinks; k++)
		link_down(s, n->links[k]);
	n->alive = 0;
}

void sim_partition(struct sim *s, const int *side)
{
	size_t i;

	for (i = 0; i < s->nlinks; i++) {
		if (side[s->links[i].a] != side[s->links[i].b]) {
			s->links[i].cut = 1;
			link_down(s, i);
		}
	}
}

void sim_flap(struct sim *s, size_t a, size_t b, uint64_t down_ms)
{
	struct item it;
	size_t li;

	if (link_between(s, a, b, &li) == NULL || !s->links[li].up)
		return;
	link_down(s, li);
	memset(&it, 0, sizeof(it));
	it.kind = IT_UP;
	it.a = li;
	it.t = s->now + down_ms;
	push(s, it);
}

void sim_heal(struct sim *s)
{
	size_t i;

	for (i = 0; i < s->nlinks; i++) {
		if (s->links[i].cut) {
			s->links[i].cut = 0;
			link_up(s, i);
		}
	}
}

/* --- running ------------------------------------------------------------------------- */

static size_t event_index(const struct sim *s, const uint8_t id[32])
{
	size_t i;

	for (i = 0; i < s->nev; i++)
		if (memcmp(s->ev[i].id, id, 32) == 0)
			return i;
	return SIZE_MAX;
}

static void deliver(struct sim *s, struct item *it)
{
	struct link *l = link_between(s, it->a, it->b, NULL);
	struct node *n = s->nodes[it->b];
	size_t ev = SIZE_MAX;
	struct frame *f;
	char why[WM_WHY_LEN];

	if (l == NULL || !l->up || l->gen != it->gen || !n->alive)
		return;
	s->frames++;
	/* note which event an EVENT frame carries, to count copies */
	if ((f = malloc(sizeof(*f))) != NULL) {
		struct event_peek pk;

		if (frame_decode(it->buf, it->len, f, why) == 0 && f->type == FRAME_EVENT &&
		    event_peek(f->event.wire, f->event.len, 0, &pk, why) == 0)
			ev = event_index(s, pk.id);
		free(f);
	}
	if (ev != SIZE_MAX)
		n->copies[ev]++;
	(void)mesh_receive(n->mesh, (uint32_t)it->a, it->buf, it->len, s->now);
	if (ev != SIZE_MAX && n->arrival[ev] == 0 && store_has(n->store, s->ev[ev].id) == 1)
		n->arrival[ev] = s->now;
	wake(s, it->b, 0);
}

static void step(struct sim *s)
{
	struct item it = pop(s);

	s->now = it.t;
	switch (it.kind) {
	case IT_DELIVER:
		deliver(s, &it);
		free(it.buf);
		break;
	case IT_TICK:
		if (s->nodes[it.a]->wake != it.t || !s->nodes[it.a]->alive)
			break;
		s->nodes[it.a]->wake = UINT64_MAX;
		mesh_tick(s->nodes[it.a]->mesh, s->now);
		wake(s, it.a, 1);
		break;
	case IT_DOWN:
		link_down(s, it.a);
		break;
	case IT_UP:
		link_up(s, it.a);
		break;
	}
}

uint64_t sim_now(const struct sim *s)
{
	return s->now;
}

void sim_run_for(struct sim *s, uint64_t ms)
{
	uint64_t end = s->now + ms;

	while (s->nheap > 0 && s->heap[0].t <= end)
		step(s);
	s->now = end;
}

void sim_run_quiet(struct sim *s, uint64_t max_ms)
{
	uint64_t end = s->now + max_ms;

	while (s->nheap > 0 && s->heap[0].t <= end && s->inflight > 0)
		step(s);
	if (s->inflight > 0)
		s->now = end;
}

/* --- events -------------------------------------------------------------------------- */

static void ingest_at(struct sim *s, size_t i, const uint8_t *wire, size_t len, enum ingest_origin o)
{
	struct node *n = s->nodes[i];
	struct ingest_result res;

	n->ictx.now = s->now;
	if (ingest_event(&n->ictx, wire, len, o, &res) != 0 && res.code != WM_EDUP) {
		fprintf(stderr, "sim: ingest at n%zu: %s\n", i, res.why);
		abort();
	}
}

void sim_certs_everywhere(struct sim *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		ingest_at(s, i, s->certs[0].wire, s->certs[0].len, INGEST_IMPORT);
		ingest_at(s, i, s->certs[1].wire, s->certs[1].len, INGEST_IMPORT);
	}
}

static void draft_for(struct sim *s, struct event_draft *d, unsigned kind, const char *group,
                      const struct key **signer)
{
	static char text[SIM_MAX_EVENTS][48];
	char *t = text[s->nev % SIM_MAX_EVENTS];

	snprintf(t, 48, "simulated event %u", s->counter++);
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->created_at = s->now;
	d->group = group;
	switch (kind) {
	case KIND_ALERT:
		*signer = s->cast.officer;
		d->expires_at = s->now + DAY;
		draft_str(d, "event", "Missing person");
		draft_str(d, "headline", t);
		draft_str(d, "text", "Wearing a red jacket.");
		draft_str(d, "category", "Rescue");
		draft_str(d, "urgency", "Immediate");
		draft_str(d, "severity", "Severe");
		draft_str(d, "certainty", "Observed");
		draft_str(d, "area_desc", "Xinhua village");
		break;
	case KIND_BULLETIN:
		*signer = s->cast.officer;
		draft_str(d, "title", "Notice");
		draft_str(d, "text", t);
		draft_str(d, "category", "fraud");
		break;
	default:
		*signer = s->cast.resident[s->counter % SIM_RESIDENTS];
		d->kind = KIND_REQUEST;
		draft_str(d, "topic", "police");
		draft_str(d, "text", t);
		break;
	}
	memcpy(d->author, (*signer)->pub, WM_PUB_LEN);
}

size_t sim_post(struct sim *s, size_t node, unsigned kind, const char *group)
{
	struct event_draft d;
	const struct key *k = NULL;
	struct fx_ev e;
	size_t i;

	if (s->nev == SIM_MAX_EVENTS)
		die("too many events");
	draft_for(s, &d, kind, group, &k);
	i = s->nev++;
	e = fx_build(&d, k);
	memcpy(s->ev[i].id, e.id, WM_ID_LEN);
	s->ev[i].t = s->now;
	ingest_at(s, node, e.wire, e.len, INGEST_LOCAL);
	s->nodes[node]->arrival[i] = s->now;
	if (mesh_publish(s->nodes[node]->mesh, e.wire, e.len, s->now) != 0)
		die("mesh_publish");
	wake(s, node, 0);
	free(e.wire);
	return i;
}

int sim_forged_frame(struct sim *s, uint8_t **out, size_t *len, uint8_t id[32])
{
	struct event_draft d;
	const struct key *k = NULL;
	struct fx_ev e;
	struct frame f;
	int rc;

	draft_for(s, &d, KIND_BULLETIN, "gaobu", &k);
	e = fx_build(&d, k);
	memcpy(id, e.id, WM_ID_LEN);
	e.wire[fx_sig_at(&e)] ^= 0x01;  /* the signature no longer verifies */
	memset(&f, 0, sizeof(f));
	f.type = FRAME_EVENT;
	f.event.push = 1;
	f.event.wire = e.wire;
	f.event.len = e.len;
	rc = frame_encode(&f, out, len, NULL);
	free(e.wire);
	return rc;
}

void sim_inject(struct sim *s, size_t from, size_t to, const uint8_t *buf, size_t len)
{
	struct io_ctx c = { s, from };

	(void)io_send(&c, (uint32_t)to, buf, len, 0);
}

/* --- queries ----------------------------------------------------------------------------- */

const uint8_t *sim_event_id(const struct sim *s, size_t i)
{
	return s->ev[i].id;
}

size_t sim_event_count(const struct sim *s)
{
	return s->nev;
}

uint64_t sim_event_time(const struct sim *s, size_t i)
{
	return s->ev[i].t;
}

size_t sim_nodes(const struct sim *s)
{
	return s->n;
}

int sim_alive(const struct sim *s, size_t i)
{
	return s->nodes[i]->alive;
}

int sim_has(struct sim *s, size_t i, const uint8_t id[32])
{
	return store_has(s->nodes[i]->store, id) == 1;
}

uint64_t sim_arrival(const struct sim *s, size_t i, size_t ev)
{
	return s->nodes[i]->arrival[ev];
}

uint32_t sim_copies(const struct sim *s, size_t i, size_t ev)
{
	return s->nodes[i]->copies[ev];
}

uint64_t sim_disconnects(const struct sim *s, size_t i)
{
	return s->nodes[i]->disconnects;
}

struct mesh *sim_mesh(struct sim *s, size_t i)
{
	return s->nodes[i]->mesh;
}

uint64_t sim_frames(const struct sim *s)
{
	return s->frames;
}

size_t sim_components(const struct sim *s, size_t *comp)
{
	size_t i, nc = 0, *stack = malloc((s->n + 1) * sizeof(*stack)), top;

	if (stack == NULL)
		die("out of memory");
	for (i = 0; i < s->n; i++)
		comp[i] = SIZE_MAX;
	for (i = 0; i < s->n; i++) {
		if (!s->nodes[i]->alive || comp[i] != SIZE_MAX)
			continue;
		comp[i] = nc;
		top = 0;
		stack[top++] = i;
		while (top > 0) {
			struct node *n = s->nodes[stack[--top]];
			size_t k;

			for (k = 0; k < n->nlinks; k++) {
				const struct link *l = &s->links[n->links[k]];
				size_t o = s->nodes[l->a] == n ? l->b : l->a;

				if (l->up && s->nodes[o]->alive && comp[o] == SIZE_MAX) {
					comp[o] = nc;
					stack[top++] = o;
				}
			}
		}
		nc++;
	}
	free(stack);
	return nc;
}
