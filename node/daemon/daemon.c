/*
 * node/daemon: the loop that runs a node (see daemon.h for what it does).
 * Two things a reader must know:
 *   - the mesh must not be re-entered from its own callbacks, so a
 *     disconnect it asks for is queued and carried out by d_after_mesh(),
 *     which runs after every call into the mesh and also re-arms the mesh
 *     timer at mesh_next_deadline();
 *   - events reach the mesh from the store by polling seq; ids that arrived
 *     in EVENT frames from peers are remembered (for D_SEEN_TTL_MS, or until
 *     the poll meets them) so the poll does not push them a second time.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "beacon.h"
#include "files.h"
#include "frame.h"
#include "mesh.h"
#include "store.h"
#include "transport.h"
#include "wmcrypto.h"

#define D_MAX_KNOWN    256      /* peers remembered for status */
#define D_MAX_DIALERS  256
#define D_SEEN_BUCKETS (1u << 16)
#define D_SEEN_TTL_MS  30000    /* far above the poll's lag */
#define D_POLL_BATCH   256
#define D_SLOW_NS      (10 * 1000000ull)   /* debug log: a frame that took this long */
#define D_POLL_ROUNDS  64       /* batches per poll tick: 16384 events */
#define D_ERR_LEN      200

enum { D_DEBUG = 0, D_INFO = 1, D_WARN = 2 };

/* An up connection: the mesh's peer handle <-> the transport's conn. */
struct dconn {
	uint32_t handle;
	struct transport_conn *conn;
	uint8_t pub[WM_PUB_LEN];
	char addr[TRANSPORT_ADDR_LEN];
	int outbound;
	uint64_t since;
};

/* A peer we know of (configured, seen by beacon, or connected), for status. */
struct dknown {
	int used;
	int has_pub;
	uint8_t pub[WM_PUB_LEN];
	char addr[256];              /* configured or last seen address */
	char name[FRAME_NAME_MAX + 1];
	int configured, beacon;
	int up, outbound, eager;
	uint32_t handle;             /* while up */
	uint64_t since;              /* up since / down since (0 = never connected) */
	uint64_t banned_until;       /* the mesh asked for a backoff */
	char last_error[D_ERR_LEN];
};

struct ddialer {
	struct conf_peer cp;
	struct transport_dialer *d;
	int from_beacon;
	uint64_t heard_at;           /* from_beacon: the last beacon of this member (ms) */
};

/* An id that came in an EVENT frame, waiting for the poll to meet it. */
struct dseen {
	uint8_t id[WM_ID_LEN];
	uint64_t at;
	int in_hash;
	struct dseen *hnext;         /* bucket chain */
	struct dseen *qnext;         /* arrival order, for expiry */
};

struct dpending {
	uint32_t handle;
	char why[D_ERR_LEN];
	uint64_t backoff;
};

struct daemon {
	uv_loop_t loop;
	char dir[PATH_MAX];
	int lockfd;
	struct node_dir *nd;
	struct key *self;
	char selfhex[WM_HEX_PUB + 1];
	struct transport *tr;
	struct mesh *mesh;
	struct beacon *bc;
	uv_timer_t mesh_timer, poll_timer, status_timer, expire_timer;
	uv_signal_t sigterm, sigint, sighup;
	uv_check_t batch_check;      /* commits the batch after each loop turn's reads */
	int batch_open;              /* a write transaction around this turn's EVENT frames */
	uint64_t batch_events, batch_errors;  /* mesh counters when it opened */
	int loop_inited;             /* uv_loop_init succeeded */
	int handles_open;            /* timers and signals initialised */
	int stopping;
	int log_level;
	char listen_addr[TRANSPORT_ADDR_LEN + 16];
	struct dconn **conns;
	size_t nconns;
	uint32_t next_handle;
	struct dknown known[D_MAX_KNOWN];
	struct ddialer dialers[D_MAX_DIALERS];
	size_t ndialers;
	struct dpending *pend;       /* disconnects the mesh asked for */
	size_t npend, pendcap;
	int flushing;
	int64_t last_seq;
	struct dseen **seen;         /* D_SEEN_BUCKETS chains */
	struct dseen *seen_head, *seen_tail;
	size_t nseen;
	uint64_t started_at;
	uint64_t published;          /* local events pushed to the mesh */
	uint64_t expired;            /* events collected */
	int status_dirty;
	unsigned status_ticks;
	struct mesh_stats last_stats;    /* as last written to status.json */
	struct {                     /* the last repair that changed anything we know of */
		char peer[FRAME_NAME_MAX + 20];
		uint64_t at, need, have;
		uint64_t round_trips, bytes_out, bytes_in, ms;   /* negentropy cost, both stages */
	} last_repair;
};

static uint64_t now_ms(void)
{
	return files_now_ms();
}

/* --- logging --------------------------------------------------------------------- */

static void d_log(struct daemon *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void d_log(struct daemon *d, int level, const char *fmt, ...)
{
	char line[768], ts[32];
	struct timespec tsp;
	struct tm tm;
	va_list ap;

	if (level < d->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &tsp);
	gmtime_r(&tsp.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s: %s%s\n", ts, tsp.tv_nsec / 1000000L,
	        d->nd && d->nd->conf.name[0] ? d->nd->conf.name : "watchmesh",
	        level == D_WARN ? "warning: " : "", line);
}

static void hex8(char out[17], const uint8_t *pub)
{
	hex_encode(out, pub, 8);
}

/* --- the peers we know of ----------------------------------------------------------- */

static struct dknown *known_by_pub(struct daemon *d, const uint8_t pub[WM_PUB_LEN])
{
	size_t i;
	for (i = 0; i < D_MAX_KNOWN; i++)
		if (d->known[i].used && d->known[i].has_pub &&
		    memcmp(d->known[i].pub, pub, WM_PUB_LEN) == 0)
			return &d->known[i];
	return NULL;
}

static struct dknown *known_by_addr_nopub(struct daemon *d, const char *addr)
{
	size_t i;
	for (i = 0; i < D_MAX_KNOWN; i++)
		if (d->known[i].used && !d->known[i].has_pub && strcmp(d->known[i].addr, addr) == 0)
			return &d->known[i];
	return NULL;
}

/* A free slot, or the one down longest (never an up or configured one). */
static struct dknown *known_new(struct daemon *d)
{
	struct dknown *victim = NULL;
	size_t i;

	for (i = 0; i < D_MAX_KNOWN; i++) {
		struct dknown *k = &d->known[i];
		if (!k->used) {
			memset(k, 0, sizeof *k);
			k->used = 1;
			return k;
		}
		if (!k->up && !k->configured && (!victim || k->since < victim->since))
			victim = k;
	}
	if (victim) {
		memset(victim, 0, sizeof *victim);
		victim->used = 1;
	}
	return victim;
}

static void known_name(const struct dknown *k, char *out, size_t len)
{
	char h[17];
	if (k && k->has_pub) {
		hex8(h, k->pub);
		if (k->name[0])
			snprintf(out, len, "%s (%s)", k->name, h);
		else
			snprintf(out, len, "%s", h);
	} else {
		snprintf(out, len, "%s", k ? k->addr : "?");
	}
}

/* --- connections ---------------------------------------------------------------------- */

static struct dconn *conn_by_handle(struct daemon *d, uint32_t h)
{
	size_t i;
	for (i = 0; i < d->nconns; i++)
		if (d->conns[i]->handle == h)
			return d->conns[i];
	return NULL;
}

static int conn_with_pub(struct daemon *d, const uint8_t pub[WM_PUB_LEN])
{
	size_t i;
	for (i = 0; i < d->nconns; i++)
		if (memcmp(d->conns[i]->pub, pub, WM_PUB_LEN) == 0)
			return 1;
	return 0;
}

/* --- ids that came from peers ------------------------------------------------------ */

static size_t seen_bucket(const uint8_t id[WM_ID_LEN])
{
	return ((size_t)id[0] | (size_t)id[1] << 8 | (size_t)id[2] << 16) & (D_SEEN_BUCKETS - 1);
}

static struct dseen **seen_find(struct daemon *d, const uint8_t id[WM_ID_LEN])
{
	struct dseen **pp = &d->seen[seen_bucket(id)];
	while (*pp && memcmp((*pp)->id, id, WM_ID_LEN) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

static void seen_add(struct daemon *d, const uint8_t id[WM_ID_LEN])
{
	struct dseen **pp = seen_find(d, id), *e;

	if (*pp)
		return;
	e = calloc(1, sizeof *e);
	if (!e)
		return;          /* the poll will push it once more: harmless */
	memcpy(e->id, id, WM_ID_LEN);
	e->at = now_ms();
	e->in_hash = 1;
	*pp = e;
	if (d->seen_tail)
		d->seen_tail->qnext = e;
	else
		d->seen_head = e;
	d->seen_tail = e;
	d->nseen++;
}

/* 1 if id came from a peer (and forget it: the poll meets each id once). */
static int seen_take(struct daemon *d, const uint8_t id[WM_ID_LEN])
{
	struct dseen **pp = seen_find(d, id), *e = *pp;

	if (!e)
		return 0;
	*pp = e->hnext;
	e->hnext = NULL;
	e->in_hash = 0;
	return 1;
}

/* Drop entries older than the TTL (duplicates and refusals, which the poll
 * never meets), or all of them. */
static void seen_expire(struct daemon *d, int all)
{
	uint64_t now = now_ms();

	while (d->seen_head && (all || d->seen_head->at + D_SEEN_TTL_MS < now)) {
		struct dseen *e = d->seen_head;
		if (e->in_hash)
			(void)seen_take(d, e->id);
		d->seen_head = e->qnext;
		if (!d->seen_head)
			d->seen_tail = NULL;
		d->nseen--;
		free(e);
	}
}

/* The id of the event inside an EVENT frame, without judging it (the mesh
 * and ingest do that): wire = fixarray(2) [bin payload, bin sig]. */
static void note_event_frame(struct daemon *d, const uint8_t *buf, size_t len)
{
	struct frame f;
	char why[WM_WHY_LEN];
	const uint8_t *w;
	size_t wl, hl, pl;
	uint8_t id[WM_ID_LEN];

	if (len < 3 || buf[0] != 0x93 || buf[1] != FRAME_EVENT)
		return;
	if (frame_decode(buf, len, &f, why) != 0 || f.type != FRAME_EVENT)
		return;
	w = f.event.wire;
	wl = f.event.len;
	if (wl < 3 || w[0] != 0x92)
		return;
	if (w[1] == 0xc4) {
		hl = 3;
		pl = w[2];
	} else if (w[1] == 0xc5 && wl >= 4) {
		hl = 4;
		pl = (size_t)w[2] << 8 | w[3];
	} else if (w[1] == 0xc6 && wl >= 6) {
		hl = 6;
		pl = (size_t)w[2] << 24 | (size_t)w[3] << 16 | (size_t)w[4] << 8 | w[5];
	} else {
		return;
	}
	if (pl > wl - hl)
		return;
	id_compute(id, w + hl, pl);
	seen_add(d, id);
}

/* --- after every call into the mesh ------------------------------------------------- */

static void d_mesh_timer_cb(uv_timer_t *t);

static void d_after_mesh(struct daemon *d)
{
	uint64_t dl, now;

	if (d->flushing)
		return;
	d->flushing = 1;
	while (d->npend > 0) {
		struct dpending p = d->pend[0];
		struct dconn *c;

		memmove(d->pend, d->pend + 1, (d->npend - 1) * sizeof d->pend[0]);
		d->npend--;
		c = conn_by_handle(d, p.handle);
		if (c)
			transport_close(c->conn, p.why, p.backoff);   /* on_down runs inside */
	}
	d->flushing = 0;
	if (d->stopping || !d->mesh)
		return;
	dl = mesh_next_deadline(d->mesh);
	if (dl == UINT64_MAX) {
		uv_timer_stop(&d->mesh_timer);
		return;
	}
	now = now_ms();
	uv_timer_start(&d->mesh_timer, d_mesh_timer_cb, dl > now ? dl - now : 0, 0);
}

static void d_mesh_timer_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	if (d->stopping)
		return;
	mesh_tick(d->mesh, now_ms());
	d_after_mesh(d);
}

/* --- mesh I/O --------------------------------------------------------------------- */

static int io_send(void *ctx, uint32_t peer, const uint8_t *buf, size_t len, int prio)
{
	struct daemon *d = ctx;
	struct dconn *c = conn_by_handle(d, peer);

	if (!c)
		return WM_EIO;
	return transport_send(c->conn, buf, len, prio ? TRANSPORT_PRIO_HIGH : TRANSPORT_PRIO_NORMAL);
}

static void io_disconnect(void *ctx, uint32_t peer, const char *why, uint64_t backoff_ms)
{
	struct daemon *d = ctx;
	struct dconn *c = conn_by_handle(d, peer);
	struct dknown *k;

	if (!c)
		return;
	for (size_t i = 0; i < d->npend; i++)
		if (d->pend[i].handle == peer)
			return;              /* already on its way out */
	if (d->npend >= d->pendcap) {
		size_t cap = d->pendcap ? 2 * d->pendcap : 16;
		struct dpending *np = realloc(d->pend, cap * sizeof *np);
		if (!np) {
			d_log(d, D_WARN, "out of memory: cannot disconnect peer %" PRIu32, peer);
			return;
		}
		d->pend = np;
		d->pendcap = cap;
	}
	d->pend[d->npend].handle = peer;
	snprintf(d->pend[d->npend].why, D_ERR_LEN, "%s", why ? why : "disconnected by the mesh");
	d->pend[d->npend].backoff = backoff_ms;
	d->npend++;
	k = known_by_pub(d, c->pub);
	if (k && backoff_ms > 0)
		k->banned_until = now_ms() + backoff_ms;
}

static void io_log(void *ctx, enum mesh_log_level level, const char *line)
{
	struct daemon *d = ctx;
	d_log(d, level == MESH_LOG_DEBUG ? D_DEBUG : level == MESH_LOG_INFO ? D_INFO : D_WARN,
	      "%s", line);
}

/* --- transport callbacks ------------------------------------------------------------ */

static void tr_on_up(void *ctx, struct transport_conn *tc, const uint8_t pub[WM_PUB_LEN], int outbound)
{
	struct daemon *d = ctx;
	struct dconn *c, **nc;
	struct dknown *k;
	char name[300];
	uint64_t now = now_ms();

	c = calloc(1, sizeof *c);
	nc = realloc(d->conns, (d->nconns + 1) * sizeof *nc);
	if (!c || !nc) {
		free(c);
		if (nc)
			d->conns = nc;
		transport_close(tc, "out of memory", 0);
		return;
	}
	d->conns = nc;
	c->handle = ++d->next_handle;
	if (c->handle == 0)
		c->handle = ++d->next_handle;
	c->conn = tc;
	memcpy(c->pub, pub, WM_PUB_LEN);
	snprintf(c->addr, sizeof c->addr, "%s", transport_conn_addr(tc));
	c->outbound = outbound;
	c->since = now;
	d->conns[d->nconns++] = c;
	transport_conn_set_data(tc, c);

	k = known_by_pub(d, pub);
	if (!k && outbound)
		k = known_by_addr_nopub(d, c->addr);
	if (!k)
		k = known_new(d);
	if (k) {
		if (!k->has_pub) {
			k->has_pub = 1;
			memcpy(k->pub, pub, WM_PUB_LEN);
		}
		if (!k->configured || !k->addr[0])
			snprintf(k->addr, sizeof k->addr, "%s", c->addr);
		k->up = 1;
		k->outbound = outbound;
		k->handle = c->handle;
		k->since = now;
		k->banned_until = 0;
	}
	known_name(k, name, sizeof name);
	d_log(d, D_INFO, "peer %s %s up (%s)", name, c->addr, outbound ? "outbound" : "inbound");
	d->status_dirty = 1;
	if (mesh_peer_up(d->mesh, c->handle, pub, outbound, now) != 0)
		d_log(d, D_WARN, "mesh refused peer handle %" PRIu32, c->handle);
	d_after_mesh(d);
}

/*
 * The EVENT frames of one loop turn (every read of every peer) are stored
 * in one transaction, committed when the turn's I/O is done (batch_check):
 * a catch-up of thousands of events then writes each page of the indexes
 * once per batch instead of once per event.  Nobody waits on it: the
 * turn's frames are all handled before the check phase runs.  If the store
 * failed on one of them (ingest cannot undo half an event inside a caller's
 * transaction), the whole batch is rolled back; repair fetches it again.
 */
static void batch_begin(struct daemon *d)
{
	struct mesh_stats ms;

	if (d->batch_open || store_in_transaction(d->nd->store))
		return;
	if (store_begin(d->nd->store) != 0) {
		d_log(d, D_WARN, "cannot begin a write batch: %s; storing event by event",
		      store_errmsg(d->nd->store));
		return;
	}
	mesh_get_stats(d->mesh, &ms);
	d->batch_open = 1;
	d->batch_events = ms.events_in;
	d->batch_errors = ms.store_errors;
}

static void batch_end(struct daemon *d)
{
	struct mesh_stats ms;

	if (!d->batch_open)
		return;
	d->batch_open = 0;
	mesh_get_stats(d->mesh, &ms);
	if (ms.store_errors == d->batch_errors && store_commit(d->nd->store) == 0)
		return;
	d_log(d, D_WARN, "the store failed (%s): the last %" PRIu64 " events received are not kept; "
	      "repair will fetch them again", store_errmsg(d->nd->store)[0] ? store_errmsg(d->nd->store)
	      : "an event could not be stored", ms.events_in - d->batch_events);
	(void)store_rollback(d->nd->store);
}

static void d_batch_check_cb(uv_check_t *h)
{
	batch_end(h->data);
}

static void tr_on_frame(void *ctx, struct transport_conn *tc, const uint8_t *bytes, size_t len)
{
	struct daemon *d = ctx;
	struct dconn *c = transport_conn_data(tc);
	uint64_t t0;

	if (!c || d->stopping)
		return;
	if (len >= 2 && bytes[1] == FRAME_EVENT)
		batch_begin(d);
	note_event_frame(d, bytes, len);
	t0 = uv_hrtime();
	(void)mesh_receive(d->mesh, c->handle, bytes, len, now_ms());
	t0 = uv_hrtime() - t0;
	if (t0 >= D_SLOW_NS && d->log_level <= D_DEBUG)
		d_log(d, D_DEBUG, "%s of %zu bytes from peer %" PRIu32 " took %.1f ms",
		      frame_type_name(len >= 2 ? bytes[1] : 0), len, c->handle, (double)t0 / 1e6);
	d_after_mesh(d);
}

static void tr_on_down(void *ctx, struct transport_conn *tc, const char *reason)
{
	struct daemon *d = ctx;
	struct dconn *c = transport_conn_data(tc);
	struct dknown *k;
	char name[300];
	size_t i;

	if (!c)
		return;
	transport_conn_set_data(tc, NULL);
	k = known_by_pub(d, c->pub);
	if (k && d->mesh) {
		/* its name from HELLO, before the mesh forgets it */
		size_t n = mesh_peer_count(d->mesh);
		struct mesh_peer_info pi;
		for (i = 0; i < n; i++)
			if (mesh_peer_info(d->mesh, i, &pi) == 0 && pi.peer == c->handle && pi.name[0])
				snprintf(k->name, sizeof k->name, "%s", pi.name);
	}
	if (k) {
		k->up = 0;
		k->eager = 0;
		k->since = now_ms();
		snprintf(k->last_error, sizeof k->last_error, "%s", reason ? reason : "closed");
	}
	known_name(k, name, sizeof name);
	d_log(d, D_INFO, "peer %s %s down: %s", name, c->addr, reason ? reason : "closed");
	for (i = 0; i < d->nconns; i++)
		if (d->conns[i] == c) {
			d->conns[i] = d->conns[--d->nconns];
			break;
		}
	if (d->mesh)
		mesh_peer_down(d->mesh, c->handle, now_ms());
	free(c);
	d->status_dirty = 1;
	d_after_mesh(d);
}

/* The transport's own lines (connection failures, handshakes refused) are
 * logged as they come; a line naming a peer we know of that is not up is
 * kept as that peer's last error for status. */
static void tr_on_log(void *ctx, const char *line)
{
	struct daemon *d = ctx;
	char h[17];
	size_t i;

	d_log(d, D_INFO, "%s", line);
	for (i = 0; i < D_MAX_KNOWN; i++) {
		struct dknown *k = &d->known[i];
		if (!k->used || k->up)
			continue;
		if (k->has_pub)
			hex8(h, k->pub);
		if ((k->addr[0] && strstr(line, k->addr)) || (k->has_pub && strstr(line, h))) {
			snprintf(k->last_error, sizeof k->last_error, "%s", line);
			d->status_dirty = 1;
		}
	}
}

static int tr_allow(void *ctx, const uint8_t pub[WM_PUB_LEN], char why[WM_WHY_LEN])
{
	struct daemon *d = ctx;

	if (d->stopping) {
		wm_why(why, "node is shutting down");
		return 1;
	}
	if (d->nconns >= d->nd->conf.max_peers && !conn_with_pub(d, pub)) {
		wm_why(why, "too many peers (max_peers = %u)", d->nd->conf.max_peers);
		return 1;
	}
	return 0;
}

/* --- dialers ---------------------------------------------------------------------- */

static int dialer_add(struct daemon *d, const struct conf_peer *cp, int from_beacon)
{
	struct ddialer *dd;
	struct dknown *k;
	char why[WM_WHY_LEN] = "";
	int rc;

	if (d->ndialers >= D_MAX_DIALERS)
		return WM_ETOOBIG;
	dd = &d->dialers[d->ndialers];
	memset(dd, 0, sizeof *dd);
	dd->cp = *cp;
	dd->from_beacon = from_beacon;
	dd->heard_at = now_ms();
	rc = transport_connect(d->tr, cp->addr, cp->has_pub ? cp->pub : NULL, &dd->d, why);
	if (rc) {
		d_log(d, D_WARN, "cannot dial %s: %s", cp->addr, why[0] ? why : wm_strerror(rc));
		return rc;
	}
	d->ndialers++;
	k = cp->has_pub ? known_by_pub(d, cp->pub) : known_by_addr_nopub(d, cp->addr);
	if (!k)
		k = known_new(d);
	if (k) {
		if (cp->has_pub) {
			k->has_pub = 1;
			memcpy(k->pub, cp->pub, WM_PUB_LEN);
		}
		snprintf(k->addr, sizeof k->addr, "%s", cp->addr);
		if (from_beacon)
			k->beacon = 1;
		else
			k->configured = 1;
	}
	d->status_dirty = 1;
	return 0;
}

static void dialer_remove_at(struct daemon *d, size_t i)
{
	struct ddialer *dd = &d->dialers[i];
	struct dknown *k;
	size_t j;

	transport_dialer_remove(dd->d);
	for (j = 0; j < D_MAX_KNOWN; j++) {
		k = &d->known[j];
		if (k->used && strcmp(k->addr, dd->cp.addr) == 0 &&
		    (!dd->cp.has_pub || (k->has_pub && !memcmp(k->pub, dd->cp.pub, WM_PUB_LEN))))
			k->configured = 0;
	}
	d->dialers[i] = d->dialers[--d->ndialers];
	d->status_dirty = 1;
}

static int same_peer(const struct conf_peer *a, const struct conf_peer *b)
{
	return strcmp(a->addr, b->addr) == 0 && a->has_pub == b->has_pub &&
	       (!a->has_pub || memcmp(a->pub, b->pub, WM_PUB_LEN) == 0);
}

static int d_start_dialers(struct daemon *d, const char *list, char why[WM_WHY_LEN])
{
	struct conf_peer *ps = calloc(D_MAX_DIALERS, sizeof *ps);
	size_t n = 0, i;
	int rc;

	if (!ps)
		return WM_ENOMEM;
	rc = conf_peers_parse(list, ps, D_MAX_DIALERS, &n, why);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = dialer_add(d, &ps[i], 0);
		if (rc)
			wm_why(why, "peers: cannot dial '%s'", ps[i].addr);
	}
	free(ps);
	return rc;
}

/* SIGHUP: the peers list again; add and remove dialers to match it. */
static void d_reload(struct daemon *d)
{
	char path[PATH_MAX + 32], why[WM_WHY_LEN] = "";
	struct node_conf *c = malloc(sizeof *c);
	struct conf_peer *ps = calloc(D_MAX_DIALERS, sizeof *ps);
	size_t n = 0, i, j, added = 0, removed = 0, kept = 0;
	int rc;

	if (!c || !ps) {
		d_log(d, D_WARN, "SIGHUP: out of memory; peers unchanged");
		goto out;
	}
	snprintf(path, sizeof path, "%s/watchmesh.conf", d->dir);
	rc = files_exists(path) ? conf_load(path, c, why) : (conf_defaults(c), 0);
	if (rc == 0)
		rc = conf_peers_parse(c->peers, ps, D_MAX_DIALERS, &n, why);
	if (rc) {
		d_log(d, D_WARN, "SIGHUP: %s; peers unchanged", why[0] ? why : wm_strerror(rc));
		goto out;
	}
	for (i = 0; i < d->ndialers;) {
		int keep = d->dialers[i].from_beacon;
		for (j = 0; !keep && j < n; j++)
			keep = same_peer(&d->dialers[i].cp, &ps[j]);
		if (keep) {
			i++;
			continue;
		}
		d_log(d, D_INFO, "SIGHUP: peer %s removed", d->dialers[i].cp.addr);
		dialer_remove_at(d, i);
		removed++;
	}
	for (j = 0; j < n; j++) {
		int have = 0;
		for (i = 0; i < d->ndialers && !have; i++)
			have = !d->dialers[i].from_beacon && same_peer(&d->dialers[i].cp, &ps[j]);
		if (have) {
			kept++;
			continue;
		}
		if (dialer_add(d, &ps[j], 0) == 0) {
			d_log(d, D_INFO, "SIGHUP: peer %s added", ps[j].addr);
			added++;
		}
	}
	snprintf(d->nd->conf.peers, sizeof d->nd->conf.peers, "%s", c->peers);
	d_log(d, D_INFO, "SIGHUP: peers reloaded: %zu added, %zu removed, %zu unchanged",
	      added, removed, kept);
out:
	free(c);
	free(ps);
}

/* --- beacons ---------------------------------------------------------------------- */

static void bc_on_member(void *ctx, const uint8_t pub[WM_PUB_LEN], const char *addr)
{
	struct daemon *d = ctx;
	struct conf_peer cp;
	char h[17];
	size_t i;

	if (d->stopping)
		return;
	for (i = 0; i < d->ndialers; i++) {
		struct ddialer *dd = &d->dialers[i];

		if (!dd->cp.has_pub || memcmp(dd->cp.pub, pub, WM_PUB_LEN) != 0)
			continue;
		if (!dd->from_beacon || strcmp(dd->cp.addr, addr) == 0 || conn_with_pub(d, pub)) {
			dd->heard_at = now_ms();
			return;
		}
		/* a member we dial from its beacons moved (DHCP): follow it */
		hex8(h, pub);
		d_log(d, D_INFO, "beacon: member %s moved from %s to %s", h, dd->cp.addr, addr);
		dialer_remove_at(d, i);
		break;
	}
	if (conn_with_pub(d, pub))
		return;
	memset(&cp, 0, sizeof cp);
	snprintf(cp.addr, sizeof cp.addr, "%s", addr);
	cp.has_pub = 1;
	memcpy(cp.pub, pub, WM_PUB_LEN);
	hex8(h, pub);
	if (dialer_add(d, &cp, 1) == 0)
		d_log(d, D_INFO, "beacon: member %s at %s; dialing it", h, addr);
}

/* Dialers started from beacons whose member has gone quiet (3 beacon
 * intervals) and is not connected: stop dialing them, or a laptop that
 * visited once would be dialed for ever. */
static void d_beacon_expire(struct daemon *d, uint64_t now)
{
	uint64_t quiet = 3 * d->nd->conf.beacon_interval * 1000;
	char h[17];
	size_t i;

	for (i = 0; i < d->ndialers;) {
		struct ddialer *dd = &d->dialers[i];

		if (!dd->from_beacon || !dd->cp.has_pub || now < dd->heard_at + quiet ||
		    conn_with_pub(d, dd->cp.pub)) {
			i++;
			continue;
		}
		hex8(h, dd->cp.pub);
		d_log(d, D_INFO, "beacon: member %s at %s not heard for %llu s; no longer dialing it", h,
		      dd->cp.addr, (unsigned long long)((now - dd->heard_at) / 1000));
		dialer_remove_at(d, i);
	}
}

static void bc_on_log(void *ctx, int debug, const char *line)
{
	d_log(ctx, debug ? D_DEBUG : D_INFO, "%s", line);
}

/* --- local events: the store poll ------------------------------------------------- */

struct poll_item {
	uint8_t *wire;
	size_t len;
	uint8_t id[WM_ID_LEN];
	unsigned kind;
};
struct poll_ctx {
	struct daemon *d;
	struct poll_item items[D_POLL_BATCH];
	size_t n;
	size_t rows;                 /* rows seen this round */
	int64_t last;
	int err;
};

static int poll_cb(void *ctx, const struct stored_event *e)
{
	struct poll_ctx *pc = ctx;

	pc->last = e->seq;
	pc->rows++;
	if (seen_take(pc->d, e->id) || !e->wire)
		return 0;
	pc->items[pc->n].wire = malloc(e->wire_len);
	if (!pc->items[pc->n].wire) {
		pc->err = WM_ENOMEM;
		return 1;
	}
	memcpy(pc->items[pc->n].wire, e->wire, e->wire_len);
	pc->items[pc->n].len = e->wire_len;
	memcpy(pc->items[pc->n].id, e->id, WM_ID_LEN);
	pc->items[pc->n].kind = e->kind;
	pc->n++;
	return 0;
}

static void d_poll(struct daemon *d)
{
	struct poll_ctx *pc;
	struct store_filter f;
	size_t i;
	int rounds = 0, rc;

	pc = malloc(sizeof *pc);
	if (!pc)
		return;
	do {
		memset(&f, 0, sizeof f);
		f.after_seq = d->last_seq;
		f.limit = D_POLL_BATCH;
		pc->d = d;
		pc->n = 0;
		pc->rows = 0;
		pc->last = d->last_seq;
		pc->err = 0;
		rc = store_events(d->nd->store, &f, poll_cb, pc);
		if (rc < 0 && !pc->err) {
			d_log(d, D_WARN, "store poll failed: %s", store_errmsg(d->nd->store));
			break;
		}
		if (pc->last == d->last_seq && pc->n == 0)
			break;
		if (!pc->err)
			d->last_seq = pc->last;
		for (i = 0; i < pc->n; i++) {
			char h[17];
			hex8(h, pc->items[i].id);
			if (mesh_publish(d->mesh, pc->items[i].wire, pc->items[i].len, now_ms()) == 0) {
				d->published++;
				d_log(d, D_INFO, "local %s %s published to the mesh",
				      kind_name(pc->items[i].kind) ? kind_name(pc->items[i].kind) : "event", h);
			}
			free(pc->items[i].wire);
		}
		if (pc->n)
			d->status_dirty = 1;
		d_after_mesh(d);
	} while (!pc->err && pc->rows == D_POLL_BATCH && ++rounds < D_POLL_ROUNDS);
	free(pc);
	seen_expire(d, 0);
}

static void d_poll_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	if (!d->stopping)
		d_poll(d);
}

static int stop_cb(void *ctx, const struct stored_event *e)
{
	(void)ctx;
	(void)e;
	return 1;
}

/* The highest seq in the store, with nothing but store_events: 1 if an
 * event has seq > x. */
static int seq_above(struct store *s, int64_t x)
{
	struct store_filter f;
	memset(&f, 0, sizeof f);
	f.after_seq = x;
	f.limit = 1;
	return store_events(s, &f, stop_cb, NULL) == 1;
}

static int64_t d_max_seq(struct store *s)
{
	int64_t lo = 0, hi = 1;

	while (seq_above(s, hi) && hi < INT64_MAX / 2)
		hi *= 2;
	/* no event above hi; lo is 0 or has one above it */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (seq_above(s, mid))
			lo = mid;
		else
			hi = mid;
	}
	return seq_above(s, lo) ? hi : lo;
}

/* --- expiry ------------------------------------------------------------------------- */

static void d_expire_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	int64_t n = 0;

	if (d->stopping)
		return;
	if (store_collect_expired(d->nd->store, now_ms(), &n) != 0)
		d_log(d, D_WARN, "collecting expired events failed: %s", store_errmsg(d->nd->store));
	else if (n > 0) {
		d->expired += (uint64_t)n;
		d_log(d, D_INFO, "collected %" PRId64 " expired events", n);
		d->status_dirty = 1;
	}
}

/* --- status.json -------------------------------------------------------------------- */

static void jset_u(json_t *o, const char *key, uint64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

static json_t *jhex(const uint8_t *p, size_t n)
{
	char h[2 * WM_PUB_LEN + 1];
	hex_encode(h, p, n);
	return json_string(h);
}

static void d_refresh_known(struct daemon *d)
{
	size_t i, n = mesh_peer_count(d->mesh);
	struct mesh_peer_info pi;

	for (i = 0; i < n; i++) {
		struct dknown *k;
		if (mesh_peer_info(d->mesh, i, &pi) != 0)
			continue;
		k = known_by_pub(d, pi.pub);
		if (!k)
			continue;
		if (pi.name[0] && strcmp(k->name, pi.name) != 0) {
			snprintf(k->name, sizeof k->name, "%s", pi.name);
			d->status_dirty = 1;
		}
		if (k->eager != pi.eager) {
			k->eager = pi.eager;
			d->status_dirty = 1;
		}
		if (pi.last_repair_at > d->last_repair.at) {
			d->last_repair.at = pi.last_repair_at;
			d->last_repair.need = pi.last_repair_need;
			d->last_repair.have = pi.last_repair_have;
			d->last_repair.round_trips = pi.last_repair_round_trips;
			d->last_repair.bytes_out = pi.last_repair_bytes_out;
			d->last_repair.bytes_in = pi.last_repair_bytes_in;
			d->last_repair.ms = pi.last_repair_ms;
			known_name(k, d->last_repair.peer, sizeof d->last_repair.peer);
			d->status_dirty = 1;
		}
	}
}

static json_t *d_status_json(struct daemon *d, const char *state)
{
	json_t *o = json_object(), *peers = json_array(), *st = json_object();
	struct mesh_stats ms;
	uint64_t now = now_ms();
	size_t i, j, n;

	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "state", json_string(state));
	jset_u(o, "pid", getpid());
	json_object_set_new(o, "name", json_string(d->nd->conf.name));
	json_object_set_new(o, "key", json_string(d->selfhex));
	json_object_set_new(o, "network", json_string(d->nd->net.name));
	json_object_set_new(o, "listen", json_string(d->listen_addr));
	jset_u(o, "started_at", d->started_at);
	jset_u(o, "updated_at", now);
	json_object_set_new(o, "beacons", json_boolean(d->bc != NULL));

	n = d->mesh ? mesh_peer_count(d->mesh) : 0;
	for (i = 0; i < D_MAX_KNOWN; i++) {
		struct dknown *k = &d->known[i];
		json_t *p;
		const char *s;

		if (!k->used)
			continue;
		p = json_object();
		if (k->has_pub)
			json_object_set_new(p, "key", jhex(k->pub, WM_PUB_LEN));
		json_object_set_new(p, "name", json_string(k->name));
		json_object_set_new(p, "addr", json_string(k->addr));
		json_object_set_new(p, "configured", json_boolean(k->configured));
		json_object_set_new(p, "beacon", json_boolean(k->beacon));
		if (k->up)
			s = "up";
		else if (k->banned_until > now)
			s = "backing off";
		else if (k->since == 0 && !k->last_error[0])
			s = "connecting";
		else
			s = "down";
		json_object_set_new(p, "state", json_string(s));
		jset_u(p, "since", k->since);
		if (k->banned_until > now)
			jset_u(p, "banned_until", k->banned_until);
		json_object_set_new(p, "last_error", json_string(k->last_error));
		if (k->up) {
			json_object_set_new(p, "direction", json_string(k->outbound ? "outbound" : "inbound"));
			json_object_set_new(p, "push", json_string(k->eager ? "eager" : "lazy"));
			for (j = 0; j < n; j++) {
				struct mesh_peer_info pi;
				if (mesh_peer_info(d->mesh, j, &pi) != 0 || pi.peer != k->handle)
					continue;
				json_object_set_new(p, "ready", json_boolean(pi.ready));
				json_object_set_new(p, "groups", json_string(pi.groups));
				jset_u(p, "events_in", pi.events_in);
				jset_u(p, "events_out", pi.events_out);
				jset_u(p, "duplicates_in", pi.duplicates_in);
				jset_u(p, "last_repair_at", pi.last_repair_at);
				jset_u(p, "last_repair_need", pi.last_repair_need);
				jset_u(p, "last_repair_have", pi.last_repair_have);
				jset_u(p, "last_repair_round_trips", pi.last_repair_round_trips);
				jset_u(p, "last_repair_bytes_out", pi.last_repair_bytes_out);
				jset_u(p, "last_repair_bytes_in", pi.last_repair_bytes_in);
			}
		}
		json_array_append_new(peers, p);
	}
	json_object_set_new(o, "peers", peers);

	if (d->last_repair.at) {
		json_t *r = json_object();
		json_object_set_new(r, "peer", json_string(d->last_repair.peer));
		jset_u(r, "at", d->last_repair.at);
		jset_u(r, "need", d->last_repair.need);
		jset_u(r, "have", d->last_repair.have);
		jset_u(r, "round_trips", d->last_repair.round_trips);
		jset_u(r, "bytes_out", d->last_repair.bytes_out);
		jset_u(r, "bytes_in", d->last_repair.bytes_in);
		jset_u(r, "ms", d->last_repair.ms);
		json_object_set_new(o, "last_repair", r);
	}
	memset(&ms, 0, sizeof ms);
	if (d->mesh)
		mesh_get_stats(d->mesh, &ms);
	jset_u(st, "events_in", ms.events_in);
	jset_u(st, "stored", ms.stored);
	jset_u(st, "duplicates", ms.duplicates);
	jset_u(st, "refused", ms.refused);
	jset_u(st, "invalid", ms.invalid);
	jset_u(st, "rate_limited", ms.rate_limited);
	jset_u(st, "events_out", ms.events_out);
	jset_u(st, "repairs", ms.repairs);
	jset_u(st, "fetched", ms.fetched);
	jset_u(st, "published", d->published);
	jset_u(st, "expired", d->expired);
	json_object_set_new(o, "mesh", st);
	/* No store counts here: counting scans the events table (about a
	 * second at 1M events) and this runs every 2 s during a repair.
	 * `watchmesh status` adds fresh counts itself (BENCHMARKS.md, repair). */
	return o;
}

/* Write DIR/status.json by rename, so a reader sees a whole file. */
static void d_write_status(struct daemon *d, const char *state)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 48];
	json_t *o = d_status_json(d, state);

	snprintf(path, sizeof path, "%s/%s", d->dir, DAEMON_STATUS_FILE);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (!o || json_dump_file(o, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) != 0 ||
	    rename(tmp, path) != 0)
		d_log(d, D_DEBUG, "cannot write %s", path);
	json_decref(o);
	d->status_dirty = 0;
}

static void d_status_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	struct mesh_stats ms;

	if (d->stopping)
		return;
	if (d->bc)
		d_beacon_expire(d, now_ms());
	d_refresh_known(d);
	memset(&ms, 0, sizeof ms);
	mesh_get_stats(d->mesh, &ms);
	if (memcmp(&ms, &d->last_stats, sizeof ms) != 0) {
		d->last_stats = ms;
		d->status_dirty = 1;
	}
	/* every tick when something changed, else every 5th (updated_at shows
	 * a reader that the daemon is alive) */
	if (d->status_dirty || ++d->status_ticks % 5 == 0)
		d_write_status(d, "running");
}

/* --- start and stop ----------------------------------------------------------------- */

static void d_stop(struct daemon *d, const char *why)
{
	if (d->stopping)
		return;
	d_log(d, D_INFO, "%s: shutting down", why);
	batch_end(d);
	d->stopping = 1;
	uv_check_stop(&d->batch_check);
	uv_timer_stop(&d->mesh_timer);
	uv_timer_stop(&d->poll_timer);
	uv_timer_stop(&d->status_timer);
	uv_timer_stop(&d->expire_timer);
	beacon_free(d->bc);
	d->bc = NULL;
	/* closes every connection (on_down -> mesh_peer_down) and dialer */
	transport_free(d->tr);
	d->tr = NULL;
	uv_signal_stop(&d->sigterm);
	uv_signal_stop(&d->sigint);
	uv_signal_stop(&d->sighup);
	uv_close((uv_handle_t *)&d->mesh_timer, NULL);
	uv_close((uv_handle_t *)&d->poll_timer, NULL);
	uv_close((uv_handle_t *)&d->status_timer, NULL);
	uv_close((uv_handle_t *)&d->expire_timer, NULL);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sighup, NULL);
	uv_close((uv_handle_t *)&d->batch_check, NULL);
	d->handles_open = 0;
}

static void d_signal_cb(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	if (signum == SIGHUP) {
		if (!d->stopping)
			d_reload(d);
		return;
	}
	d_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int d_lock(struct daemon *d, char why[WM_WHY_LEN])
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof path, "%s/daemon.lock", d->dir);
	d->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lockfd < 0) {
		wm_why(why, "cannot open %s: %s", path, strerror(errno));
		return WM_EIO;
	}
	if (flock(d->lockfd, LOCK_EX | LOCK_NB) != 0) {
		wm_why(why, "another `watchmesh run` is using %s", d->dir);
		close(d->lockfd);
		d->lockfd = -1;
		return WM_EIO;
	}
	return 0;
}

static int d_start(struct daemon *d, char why[WM_WHY_LEN])
{
	struct transport_callbacks tcb;
	struct transport_options topt;
	struct mesh_config mc;
	struct mesh_io io;
	struct node_conf *cf;
	char path[PATH_MAX + 32];
	uint64_t seed;
	int rc, port;

	rc = node_dir_open(d->dir, &d->nd, why);
	if (rc)
		return rc;
	cf = &d->nd->conf;
	d->log_level = strcmp(cf->log_level, "debug") == 0 ? D_DEBUG :
	               strcmp(cf->log_level, "warn") == 0 ? D_WARN : D_INFO;
	if (!cf->name[0]) {
		const char *b = strrchr(d->dir, '/');
		snprintf(cf->name, sizeof cf->name, "%.64s", b && b[1] ? b + 1 : d->dir);
	}
	if (strlen(cf->name) > FRAME_NAME_MAX)
		cf->name[FRAME_NAME_MAX] = 0;
	rc = d_lock(d, why);
	if (rc)
		return rc;
	snprintf(path, sizeof path, "%s/node.key", d->dir);
	rc = files_load_key(path, NULL, 1, &d->self, why);
	if (rc) {
		if (!why[0])
			wm_why(why, "%s: %s", path, wm_strerror(rc));
		return rc;
	}
	hex_encode(d->selfhex, d->self->pub, WM_PUB_LEN);

	d->seen = calloc(D_SEEN_BUCKETS, sizeof *d->seen);
	if (!d->seen)
		return WM_ENOMEM;

	mesh_config_defaults(&mc);
	mc.name = cf->name;
	mc.groups = cf->groups;
	mc.software = "watchmesh " WM_VERSION;
	mc.eager_fanout = cf->eager_peers;
	mc.repair_interval_ms = cf->repair_interval * 1000;
	mc.peer_rate = cf->peer_rate;
	mc.peer_burst = cf->peer_burst;
	mc.author_rate = cf->author_rate / 60.0;
	mc.author_burst = cf->author_burst;
	mc.verbose = d->log_level == D_DEBUG;
	memset(&io, 0, sizeof io);
	io.ctx = d;
	io.send = io_send;
	io.disconnect = io_disconnect;
	io.log = io_log;
	wmc_random(&seed, sizeof seed);
	d->nd->ictx.now = now_ms();
	rc = mesh_new(&mc, &io, &d->nd->ictx, seed, &d->mesh, why);
	if (rc) {
		char inner[WM_WHY_LEN];
		snprintf(inner, sizeof inner, "%s", why);
		wm_why(why, "configuration: %s", inner[0] ? inner : wm_strerror(rc));
		return rc;
	}

	rc = uv_loop_init(&d->loop);
	if (rc) {
		wm_why(why, "cannot start the event loop: %s", uv_strerror(rc));
		return WM_EIO;
	}
	d->loop_inited = 1;
	memset(&tcb, 0, sizeof tcb);
	tcb.ctx = d;
	tcb.on_up = tr_on_up;
	tcb.on_frame = tr_on_frame;
	tcb.on_down = tr_on_down;
	tcb.on_log = tr_on_log;
	tcb.allow_peer = tr_allow;
	transport_options_default(&topt);
	topt.keepalive_ms = cf->keepalive * 1000;
	topt.backoff_max_ms = cf->backoff_max * 1000;
	if (topt.backoff_min_ms > topt.backoff_max_ms)
		topt.backoff_min_ms = topt.backoff_max_ms;
	if (topt.max_conns < 2 * cf->max_peers)
		topt.max_conns = 2 * cf->max_peers;
	snprintf(path, sizeof path, "%s/handshake.replay", d->dir);
	topt.replay_path = path;   /* copied */
	rc = transport_new(&d->loop, d->self, d->nd->net.secret, &tcb, &topt, &d->tr);
	if (rc) {
		wm_why(why, "cannot start the transport: %s", wm_strerror(rc));
		return rc;
	}
	rc = transport_listen(d->tr, cf->listen, why);
	if (rc) {
		if (!why[0])
			wm_why(why, "cannot listen on %s: %s", cf->listen, wm_strerror(rc));
		return rc;
	}
	port = transport_listen_port(d->tr);
	{
		const char *colon = strrchr(cf->listen, ':');
		int hl = colon ? (int)(colon - cf->listen) : (int)strlen(cf->listen);
		snprintf(d->listen_addr, sizeof d->listen_addr, "%.*s:%d", hl, cf->listen, port);
	}
	d->last_seq = d_max_seq(d->nd->store);
	d->started_at = now_ms();

	uv_timer_init(&d->loop, &d->mesh_timer);
	uv_timer_init(&d->loop, &d->poll_timer);
	uv_timer_init(&d->loop, &d->status_timer);
	uv_timer_init(&d->loop, &d->expire_timer);
	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sighup);
	uv_check_init(&d->loop, &d->batch_check);
	d->handles_open = 1;
	d->mesh_timer.data = d->poll_timer.data = d->status_timer.data = d->expire_timer.data = d;
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	d->batch_check.data = d;
	uv_check_start(&d->batch_check, d_batch_check_cb);
	uv_signal_start(&d->sigterm, d_signal_cb, SIGTERM);
	uv_signal_start(&d->sigint, d_signal_cb, SIGINT);
	uv_signal_start(&d->sighup, d_signal_cb, SIGHUP);

	d_log(d, D_INFO, "node %s (key %.16s) of network %s listening on %s", cf->name, d->selfhex,
	      d->nd->net.name, d->listen_addr);
	rc = d_start_dialers(d, cf->peers, why);
	if (rc)
		return rc;
	if (cf->beacons && port > 0) {
		struct beacon_callbacks bcb;
		char bwhy[WM_WHY_LEN] = "";
		memset(&bcb, 0, sizeof bcb);
		bcb.ctx = d;
		bcb.on_member = bc_on_member;
		bcb.on_log = bc_on_log;
		if (beacon_new(&d->loop, d->self, &d->nd->net, (uint16_t)cf->beacon_port, (uint16_t)port,
		               cf->beacon_interval * 1000, &bcb, &d->bc, bwhy) != 0)
			d_log(d, D_WARN, "%s; running without beacons", bwhy);
		else
			d_log(d, D_INFO, "beacons on UDP port %u", cf->beacon_port);
	}
	uv_timer_start(&d->poll_timer, d_poll_cb, DAEMON_POLL_MS, DAEMON_POLL_MS);
	uv_timer_start(&d->status_timer, d_status_cb, DAEMON_STATUS_MS, DAEMON_STATUS_MS);
	uv_timer_start(&d->expire_timer, d_expire_cb, 5000, cf->expire_interval * 1000);
	d_write_status(d, "running");
	d_after_mesh(d);
	return 0;
}

static void d_walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int daemon_run(const char *dir, char why[WM_WHY_LEN])
{
	struct daemon *d;
	int rc;

	if (!dir || !dir[0]) {
		wm_why(why, "no data directory given");
		return WM_EINVAL;
	}
	d = calloc(1, sizeof *d);
	if (!d)
		return WM_ENOMEM;
	d->lockfd = -1;
	snprintf(d->dir, sizeof d->dir, "%s", dir);
	/* a peer that vanishes mid-write must not kill us */
	signal(SIGPIPE, SIG_IGN);
	rc = d_start(d, why);
	if (rc == 0) {
		uv_run(&d->loop, UV_RUN_DEFAULT);
	} else if (d->loop_inited) {
		/* failed half-way: close what was opened, let the loop finish */
		d->stopping = 1;
		beacon_free(d->bc);
		d->bc = NULL;
		transport_free(d->tr);
		d->tr = NULL;
		uv_walk(&d->loop, d_walk_close, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
	}
	if (d->mesh) {
		if (rc == 0)
			d_write_status(d, "stopped");
		mesh_free(d->mesh);
		d->mesh = NULL;
	}
	if (d->nd && rc == 0) {
		store_checkpoint(d->nd->store);
		d_log(d, D_INFO, "stopped");
	}
	if (d->loop_inited && uv_loop_close(&d->loop) != 0)
		d_log(d, D_WARN, "event loop closed with handles still open");
	node_dir_close(d->nd);
	key_free(d->self);
	if (d->seen)
		seen_expire(d, 1);
	free(d->seen);
	free(d->conns);
	free(d->pend);
	if (d->lockfd >= 0)
		close(d->lockfd);
	free(d);
	return rc;
}
