/*
 * node/http/stream.c: live streams -- the API's Server-Sent Events and
 * ntfy's JSON and SSE subscriptions -- served from one ring of recent
 * events, each rendered once for every client.
 *
 *   - The daemon says which rows are committed (http_new_rows); a feed job
 *     reads them on a reader connection, renders them, and the loop puts
 *     them in the ring and wakes the streams.  With no stream open nothing
 *     is read: the ring just moves its mark.
 *   - A stream has a cursor (the last seq it has passed).  libmicrohttpd
 *     asks it for bytes when the socket can take them; it copies the ring's
 *     items after its cursor that match its filter, or, when nothing is
 *     there, suspends its connection until the next event or keepalive.
 *   - A stream whose cursor is older than the ring (it resumed from
 *     Last-Event-ID or since=, or it read too slowly) catches up from the
 *     store by jobs of HTTP_BACKLOG events, then joins the ring.
 *   - A suspended connection neither times out nor notices a client that
 *     left, so every stream gets a keepalive every heartbeat_ms; the write
 *     fails for a client that is gone and libmicrohttpd closes it.
 * A slow reader costs a bounded buffer: items are copied only when its
 * socket drains.
 */
#include "http_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define FEED_BATCH 256

struct stream {
	struct stream *prev, *next;
	struct http *h;
	struct hlistener *l;
	struct MHD_Connection *conn;
	enum stream_kind sk;
	char group[WM_GROUP_MAX + 1];    /* "" = any */
	unsigned kind;                   /* 0 = any */
	uint64_t min_created;            /* ntfy since=: older alerts are not sent */
	int64_t cursor;
	char *out;
	size_t olen, ocap, ooff;
	int suspended;
	int closing;
	int poll;                        /* ntfy poll=1: end once caught up */
	struct hjob *job;                /* a catch-up in flight */
};

/* --- the stream's buffer --------------------------------------------------------- */

static int out_add(struct stream *st, const char *s, size_t n)
{
	if (st->ooff > 0 && st->ooff == st->olen)
		st->ooff = st->olen = 0;
	if (st->olen + n > st->ocap) {
		size_t nc = st->ocap ? st->ocap : 4096;
		char *nb;
		while (nc < st->olen + n)
			nc *= 2;
		nb = realloc(st->out, nc);
		if (!nb)
			return -1;
		st->out = nb;
		st->ocap = nc;
	}
	memcpy(st->out + st->olen, s, n);
	st->olen += n;
	return 0;
}

static size_t out_pending(const struct stream *st)
{
	return st->olen - st->ooff;
}

/* One event in the stream's format: the API's SSE ("id: seq", "data:
 * event JSON"), ntfy's JSON line, or ntfy's SSE. */
static void out_item(struct stream *st, int64_t seq, const char *api, const char *ntfy)
{
	char head[48];
	int n;

	if (st->sk == ST_API) {
		n = snprintf(head, sizeof head, "id: %" PRId64 "\ndata: ", seq);
		out_add(st, head, (size_t)n);
		out_add(st, api, strlen(api));
		out_add(st, "\n\n", 2);
	} else if (ntfy) {
		/* the message without its topic, "{...}": the stream's own goes first */
		char topic[WM_GROUP_MAX + 16];
		int tn = snprintf(topic, sizeof topic, "{\"topic\":\"%s\",", st->group);
		if (st->sk == ST_NTFY_SSE) {
			n = snprintf(head, sizeof head, "id: wm%" PRId64 "\ndata: ", seq);
			out_add(st, head, (size_t)n);
		}
		out_add(st, topic, (size_t)tn);
		out_add(st, ntfy + 1, strlen(ntfy + 1));
		out_add(st, st->sk == ST_NTFY_SSE ? "\n\n" : "\n", st->sk == ST_NTFY_SSE ? 2 : 1);
	}
}

/* ntfy's open and keepalive events; their id is the stream's cursor, so
 * since= with any id the client saw resumes at the right place. */
static void out_ntfy_event(struct stream *st, const char *event)
{
	char line[WM_GROUP_MAX + 192];
	int n = snprintf(line, sizeof line,
	                 "%s%s%s{\"id\":\"wm%" PRId64 "\",\"time\":%" PRIu64
	                 ",\"event\":\"%s\",\"topic\":\"%s\"}%s",
	                 st->sk == ST_NTFY_SSE ? "event: " : "", st->sk == ST_NTFY_SSE ? event : "",
	                 st->sk == ST_NTFY_SSE ? "\ndata: " : "", st->cursor, http_now() / 1000, event,
	                 st->group, st->sk == ST_NTFY_SSE ? "\n\n" : "\n");
	out_add(st, line, (size_t)n);
}

/*
 * ntfy's app takes only letters, digits, '-' and '_' in a topic, and group
 * names may hold dots: an ntfy stream's topic matches a group with '-'
 * typed for each '.' (gaobu-xinhua for gaobu.xinhua), and its messages
 * carry the topic as the phone typed it (the app files a message under
 * the subscription whose topic it names).
 */
static int topic_is(const char *topic, const char *group)
{
	for (; *topic && *group; topic++, group++)
		if (*topic != *group && !(*topic == '-' && *group == '.'))
			return 0;
	return *topic == *group;
}

static int matches(const struct stream *st, unsigned kind, const char *group, uint64_t created)
{
	if (st->kind && kind != st->kind)
		return 0;
	if (st->group[0] && (st->sk == ST_API ? strcmp(group, st->group) != 0 : !topic_is(st->group, group)))
		return 0;
	return created >= st->min_created;
}

/* --- the ring ---------------------------------------------------------------------- */

static struct ring_item *ring_at(struct http *h, size_t i)
{
	return &h->ring[(h->ring_start + i) % HTTP_RING];
}

static size_t item_bytes(const struct ring_item *it)
{
	return (it->api ? strlen(it->api) : 0) + (it->ntfy ? strlen(it->ntfy) : 0);
}

static void item_clear(struct ring_item *it)
{
	free(it->api);
	free(it->ntfy);
	memset(it, 0, sizeof *it);
}

void stream_ring_free(struct http *h)
{
	h->ring_bytes = 0;
	while (h->ring_len > 0) {
		item_clear(ring_at(h, 0));
		h->ring_start = (h->ring_start + 1) % HTTP_RING;
		h->ring_len--;
	}
}

static void ring_push(struct http *h, struct ring_item *it)
{
	size_t b = item_bytes(it);

	while (h->ring_len > 0 && (h->ring_len == HTTP_RING || h->ring_bytes + b > HTTP_RING_BYTES)) {
		struct ring_item *old = ring_at(h, 0);
		h->ring_lo = old->seq;
		h->ring_bytes -= item_bytes(old);
		item_clear(old);
		h->ring_start = (h->ring_start + 1) % HTTP_RING;
		h->ring_len--;
	}
	*ring_at(h, h->ring_len) = *it;
	h->ring_len++;
	h->ring_bytes += b;
	h->ring_hi = it->seq;
}

/* The first ring index with seq > cursor (ring_len if none). */
static size_t ring_after(struct http *h, int64_t cursor)
{
	size_t lo = 0, hi = h->ring_len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ring_at(h, mid)->seq <= cursor)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* --- rendering (on a job's thread) ------------------------------------------------ */

struct render_batch {
	struct hjob *j;
	struct store *s;
	struct ring_item *items;
	size_t n, cap, bytes;
	int for_stream;          /* a catch-up: only what the stream's filter takes */
	struct stream filter;
};

static int render_cb(void *ctx, const struct stored_event *e)
{
	struct render_batch *b = ctx;
	struct ring_item *it;
	json_t *o;

	if (b->bytes >= HTTP_STREAM_BUF) {
		b->j->more = 1;      /* a stream's buffer worth: the rest next time */
		return 1;
	}
	b->j->last = e->seq;
	b->j->count++;
	if (b->for_stream && !matches(&b->filter, e->kind, e->group, e->created_at))
		return 0;
	if (b->n == b->cap) {
		size_t nc = b->cap ? 2 * b->cap : 64;
		struct ring_item *nv = realloc(b->items, nc * sizeof *nv);
		if (!nv)
			return 1;
		b->items = nv;
		b->cap = nc;
	}
	it = &b->items[b->n];
	memset(it, 0, sizeof *it);
	it->seq = e->seq;
	it->kind = e->kind;
	it->created_at = e->created_at;
	snprintf(it->group, sizeof it->group, "%s", e->group ? e->group : "");
	o = api_event_json(b->j->h, b->s, e->wire, e->wire_len, e->seq, b->j->now);
	if (!o)
		return 0;   /* does not decode: never sent */
	it->api = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (e->kind == KIND_ALERT) {
		json_t *m = api_ntfy_message(o, e->seq);
		it->ntfy = m ? json_dumps(m, JSON_COMPACT) : NULL;
		json_decref(m);
	}
	json_decref(o);
	if (it->api) {
		b->bytes += strlen(it->api) + (it->ntfy ? strlen(it->ntfy) : 0);
		b->n++;
	} else
		item_clear(it);
	return 0;
}

/* Read (after, upto] (at most limit rows; only the filter's kind and group
 * for a catch-up) and render them into j->items / j->count. */
static void read_work(struct hjob *j, struct store *s)
{
	struct render_batch b = { .j = j, .s = s };
	struct store_filter f = { .after_seq = j->after, .limit = j->limit };

	if (j->filtered) {
		b.for_stream = 1;
		b.filter.sk = j->sk;
		b.filter.kind = j->kind;
		b.filter.min_created = j->min_created;
		snprintf(b.filter.group, sizeof b.filter.group, "%s", j->group);
		f.group = j->group[0] && j->sk == ST_API ? j->group : NULL;   /* ntfy: topic_is */
		f.kind = j->kind;
		f.now = j->sk == ST_API ? 0 : j->now;    /* ntfy: alerts still running */
	}
	j->last = j->after;
	if (store_events(s, &f, render_cb, &b) < 0)
		j->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	while (b.n > 0 && b.items[b.n - 1].seq > j->upto)
		item_clear(&b.items[--b.n]);
	if (j->last > j->upto)
		j->last = j->upto;
	j->items = b.items;
	j->blen = b.n;
}

static void items_free(struct hjob *j)
{
	struct ring_item *items = j->items;
	size_t i;

	for (i = 0; i < j->blen; i++)
		item_clear(&items[i]);
	free(items);
	j->items = NULL;
	j->blen = 0;
}

/* --- waking ------------------------------------------------------------------------------ */

static void wake(struct stream *st)
{
	if (st->suspended) {
		st->suspended = 0;
		MHD_resume_connection(st->conn);
	}
}

static void run_all(struct http *h)
{
	http_run(&h->ls[0]);
	http_run(&h->ls[1]);
}

/* --- the feed ------------------------------------------------------------------------------ */

static void feed_done(struct hjob *j)
{
	struct http *h = j->h;
	struct ring_item *items = j->items;
	struct stream *st;
	size_t i;

	h->feeding = 0;
	if (h->closing) {
		items_free(j);
		return;
	}
	for (i = 0; i < j->blen; i++)
		ring_push(h, &items[i]);
	free(items);
	j->items = NULL;
	j->blen = 0;
	if (j->status == 0 && !j->more && j->count < j->limit && j->upto > h->ring_hi)
		h->ring_hi = j->upto;    /* the rest of (after, upto] had nothing to show */
	else if (j->last > h->ring_hi)
		h->ring_hi = j->last;
	for (st = h->streams; st; st = st->next)
		wake(st);
	run_all(h);
	if (h->head > h->ring_hi)
		stream_feed(h);
}

void stream_feed(struct http *h)
{
	struct hjob *j;

	if (h->closing || h->feeding || h->head <= h->ring_hi)
		return;
	if (!h->streams) {
		/* nobody listens: nothing to render, new streams start here */
		stream_ring_free(h);
		h->ring_start = 0;
		h->ring_lo = h->ring_hi = h->head;
		return;
	}
	j = api_job_new(h, read_work, feed_done);
	if (!j)
		return;
	j->after = h->ring_hi;
	j->upto = h->head;
	j->limit = FEED_BATCH;
	j->urgent = 1;
	if (api_job_start(j) != 0) {
		free(j);
		return;
	}
	h->feeding = 1;
}

/* --- one stream ------------------------------------------------------------------------- */

static void catchup_done(struct hjob *j)
{
	struct stream *st = j->st;
	struct ring_item *items = j->items;
	size_t i;

	if (!st) {
		items_free(j);
		return;
	}
	st->job = NULL;
	for (i = 0; i < j->blen; i++)
		out_item(st, items[i].seq, items[i].api, items[i].ntfy);
	items_free(j);
	if (j->status != 0)
		st->closing = 1;       /* the store cannot be read: the client reconnects */
	else if (!j->more && j->count < j->limit)
		st->cursor = j->upto;  /* (after, upto] all seen */
	else
		st->cursor = j->last;
	wake(st);
	http_run(st->l);
}

/* Its cursor is before the ring: read the gap from the store. */
static void catchup(struct stream *st)
{
	struct http *h = st->h;
	struct hjob *j = api_job_new(h, read_work, catchup_done);

	if (!j) {
		st->closing = 1;
		return;
	}
	j->st = st;
	j->filtered = 1;
	j->sk = st->sk;
	j->kind = st->kind;
	j->min_created = st->min_created;
	snprintf(j->group, sizeof j->group, "%s", st->group);
	j->after = st->cursor;
	j->upto = h->ring_lo;
	j->limit = HTTP_BACKLOG;
	if (api_job_start(j) != 0) {
		free(j);
		st->closing = 1;
		return;
	}
	st->job = j;
}

/* Copy what the ring holds after the cursor into the buffer. */
static void from_ring(struct stream *st)
{
	struct http *h = st->h;
	size_t i = ring_after(h, st->cursor);

	for (; i < h->ring_len && out_pending(st) < HTTP_STREAM_BUF; i++) {
		struct ring_item *it = ring_at(h, i);
		if (matches(st, it->kind, it->group, it->created_at))
			out_item(st, it->seq, it->api, it->ntfy);
		st->cursor = it->seq;
	}
	if (i == h->ring_len && st->cursor < h->ring_hi)
		st->cursor = h->ring_hi;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	struct http *h = st->h;
	size_t n;

	(void)pos;
	if (out_pending(st) == 0 && !st->closing && !st->job) {
		if (st->cursor < h->ring_lo)
			catchup(st);
		else
			from_ring(st);
		if (st->poll && !st->job && out_pending(st) == 0 && st->cursor >= h->ring_hi)
			st->closing = 1;
	}
	if (out_pending(st) == 0) {
		if (st->closing)
			return MHD_CONTENT_READER_END_OF_STREAM;
		st->suspended = 1;
		MHD_suspend_connection(st->conn);
		return 0;
	}
	n = out_pending(st) < max ? out_pending(st) : max;
	memcpy(buf, st->out + st->ooff, n);
	st->ooff += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;
	struct http *h = st->h;

	if (st->prev)
		st->prev->next = st->next;
	else
		h->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	if (st->job)
		st->job->st = NULL;
	h->nstreams[st->sk]--;
	free(st->out);
	free(st);
}

int stream_open(struct hreq *r, enum stream_kind sk)
{
	struct http *h = r->h;
	struct MHD_Response *resp;
	struct stream *st;
	const char *a;
	uint64_t x;
	enum MHD_Result ok;

	st = calloc(1, sizeof *st);
	if (!st)
		return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory") == MHD_YES ? 0 : -1;
	st->h = h;
	st->l = r->l;
	st->conn = r->conn;
	st->sk = sk;
	st->cursor = h->ring_hi;
	if (sk == ST_API) {
		const char *g = http_arg(r, "group"), *k = http_arg(r, "kind");
		a = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
		if (!a)
			a = http_arg(r, "last_event_id");   /* EventSource cannot set headers on its first try */
		if ((g && g[0] && (strlen(g) > WM_GROUP_MAX || !event_group_valid(g, strlen(g)))) ||
		    (k && k[0] && !kind_from_name(k)) || (a && route_uint(a, 0, INT64_MAX, &x) != 0)) {
			free(st);
			return http_error(r, MHD_HTTP_BAD_REQUEST,
			                  "group is a group name, kind an event kind, Last-Event-ID a cursor") ==
			               MHD_YES ? 0 : -1;
		}
		if (g)
			snprintf(st->group, sizeof st->group, "%s", g);
		st->kind = k && k[0] ? kind_from_name(k) : 0;
		if (a)
			st->cursor = (int64_t)x;
	} else {
		struct route_since since;
		const char *p = http_arg(r, "poll");
		a = http_arg(r, "since");
		st->poll = p && (strcmp(p, "1") == 0 || strcmp(p, "true") == 0);
		if (!a && st->poll)
			a = "all";
		if (route_ntfy_since(a, http_now(), &since) != 0) {
			free(st);
			return http_error(r, MHD_HTTP_BAD_REQUEST,
			                  "since is all, a duration (10m, 2h), a Unix time or a message id") ==
			               MHD_YES ? 0 : -1;
		}
		snprintf(st->group, sizeof st->group, "%s", r->rt.group);
		st->kind = KIND_ALERT;
		if (since.any) {
			st->cursor = since.after_seq;
			st->min_created = since.min_created;
		}
		out_ntfy_event(st, "open");
	}
	if (st->cursor > h->ring_hi)
		st->cursor = h->ring_hi;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, st, stream_free);
	if (!resp) {
		free(st->out);
		free(st);
		return -1;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        sk == ST_NTFY_JSON ? "application/x-ndjson; charset=utf-8"
	                                           : "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	st->next = h->streams;
	if (h->streams)
		h->streams->prev = st;
	h->streams = st;
	h->nstreams[sk]++;
	ok = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	r->answered = 1;
	if (sk == ST_API)
		out_add(st, "retry: 3000\n\n", 13);
	/* the ring may be stale if nobody listened: catch up with the head */
	stream_feed(h);
	return ok == MHD_YES ? 0 : -1;
}

void stream_heartbeat(struct http *h)
{
	struct stream *st;

	for (st = h->streams; st; st = st->next) {
		if (out_pending(st) == 0) {
			if (st->sk == ST_API)
				out_add(st, ": keepalive\n\n", 13);
			else
				out_ntfy_event(st, "keepalive");
		}
		wake(st);
	}
	run_all(h);
}

void stream_close_all(struct http *h)
{
	struct stream *st;

	for (st = h->streams; st; st = st->next) {
		st->closing = 1;
		wake(st);
	}
}
