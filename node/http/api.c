/*
 * node/http/api.c: the routes of DESIGN.md's "Node surface".  What the
 * loop answers at once: status, metrics, the authority's certificate and
 * the web app's files.  A POST goes through the daemon's submit hook (the
 * same ingest as every other event) and is suspended until the daemon's
 * answer, which comes once the event is on the disk.  What reads the store runs as a job in
 * libuv's thread pool on a read-only connection of its own: the request is
 * suspended meanwhile and answered when the job is done.
 */
#include "http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cap.h"
#include "event.h"
#include "render.h"

#define SEARCH_DEFAULT 50
#define SEARCH_MAX     200
#define QUERY_MAX      200     /* bytes of a search */
#define APP_FILE_MAX   (8u << 20)

/* libmicrohttpd's MHD_YES/MHD_NO as this file's 0/-1. */
static int ret(int mhd)
{
	return mhd == MHD_YES ? 0 : -1;
}

/* --- readers and jobs ---------------------------------------------------------- */

struct store *api_reader_take(struct http *h, char why[WM_WHY_LEN])
{
	struct store *s = NULL;

	uv_mutex_lock(&h->rmu);
	if (h->nreaders > 0)
		s = h->readers[--h->nreaders];
	uv_mutex_unlock(&h->rmu);
	if (!s && store_open_reader(h->store_path, &s, why) != 0)
		return NULL;
	return s;
}

void api_reader_give(struct http *h, struct store *s)
{
	uv_mutex_lock(&h->rmu);
	if (h->nreaders < HTTP_READERS_MAX) {
		h->readers[h->nreaders++] = s;
		s = NULL;
	}
	uv_mutex_unlock(&h->rmu);
	store_close(s);
}

static void job_error(struct hjob *j, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void job_error(struct hjob *j, unsigned status, const char *fmt, ...)
{
	char why[WM_WHY_LEN];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	o = json_pack("{ss}", "error", why);
	free(j->body);
	j->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	j->blen = j->body ? strlen(j->body) : 0;
	j->status = status;
	j->ctype = "application/json; charset=utf-8";
	json_decref(o);
}

static void job_json(struct hjob *j, json_t *o)
{
	free(j->body);
	j->body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(o);
	if (!j->body) {
		job_error(j, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	j->blen = strlen(j->body);
	j->status = MHD_HTTP_OK;
	j->ctype = "application/json; charset=utf-8";
}

static void work_cb(uv_work_t *w)
{
	struct hjob *j = w->data;
	char why[WM_WHY_LEN] = "";
	struct store *s = api_reader_take(j->h, why);

	if (!s) {
		job_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot read the store: %s", why);
		return;
	}
	j->fn(j, s);
	api_reader_give(j->h, s);
}

static void after_cb(uv_work_t *w, int status);

/* Into libuv's pool now.  0, or libuv's error. */
static int job_queue(struct hjob *j)
{
	int rc = uv_queue_work(j->h->loop, &j->w, work_cb, after_cb);

	if (rc == 0 && !j->urgent)
		j->h->readers_busy++;
	return rc;
}

static void after_cb(uv_work_t *w, int status)
{
	struct hjob *j = w->data;
	struct http *h = j->h;

	(void)status;
	h->jobs--;
	if (!j->urgent)
		h->readers_busy--;
	/* the next waiting job takes the thread this one leaves */
	while (h->queued && h->readers_busy < HTTP_JOBS_MAX) {
		struct hjob *n = h->queued;
		h->queued = n->qnext;
		if (!h->queued)
			h->queued_tail = NULL;
		if (job_queue(n) != 0) {
			h->jobs--;
			n->status = MHD_HTTP_SERVICE_UNAVAILABLE;
			n->done(n);
			free(n->q);
			free(n->body);
			free(n);
		}
	}
	j->done(j);
	free(j->q);
	free(j->body);
	free(j);
	http_maybe_free(h);
}

struct hjob *api_job_new(struct http *h, job_fn fn, job_done_fn done)
{
	struct hjob *j = calloc(1, sizeof *j);

	if (!j)
		return NULL;
	j->h = h;
	j->fn = fn;
	j->done = done;
	j->w.data = j;
	j->now = http_now();
	return j;
}

/*
 * Listings, searches, CAP and streams' catch-ups take at most HTTP_JOBS_MAX
 * of libuv's threads; more wait here in order.  The feed of the live
 * streams (urgent) is never among them, so no number of slow searches
 * holds up an alert on its way to the phones.
 */
int api_job_start(struct hjob *j)
{
	struct http *h = j->h;
	int rc;

	if (!j->urgent && h->readers_busy >= HTTP_JOBS_MAX) {
		if (h->queued_tail)
			h->queued_tail->qnext = j;
		else
			h->queued = j;
		h->queued_tail = j;
		h->jobs++;
		return 0;
	}
	rc = job_queue(j);
	if (rc == 0)
		h->jobs++;
	return rc;
}

static void unwait(struct hreq *r)
{
	struct http *h = r->h;

	if (r->wprev)
		r->wprev->wnext = r->wnext;
	else if (h->waiting == r)
		h->waiting = r->wnext;
	if (r->wnext)
		r->wnext->wprev = r->wprev;
	r->wprev = r->wnext = NULL;
	r->job = NULL;
}

/* A request's job is done: hand its answer over and wake the request. */
static void req_done(struct hjob *j)
{
	struct hreq *r = j->r;

	if (!r)
		return;
	unwait(r);
	r->have = 1;
	r->status = j->status;
	r->ctype = j->ctype;
	r->resp = j->body;
	r->rlen = j->blen;
	j->body = NULL;
	MHD_resume_connection(r->conn);
	http_run(r->l);
}

/* Start j for r and suspend r until it is done. */
static int req_job(struct hreq *r, struct hjob *j)
{
	struct http *h = r->h;

	if (!j)
		return ret(http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory"));
	j->r = r;
	if (api_job_start(j) != 0) {
		free(j->q);
		free(j);
		return ret(http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy: try again"));
	}
	r->job = j;
	r->wnext = h->waiting;
	if (h->waiting)
		h->waiting->wprev = r;
	h->waiting = r;
	MHD_suspend_connection(r->conn);
	return 0;
}

void api_abandon_jobs(struct http *h)
{
	while (h->waiting) {
		struct hreq *r = h->waiting;
		r->job->r = NULL;
		unwait(r);
		r->have = 1;
		r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		r->ctype = "application/json; charset=utf-8";
		free(r->resp);
		r->resp = strdup("{\"error\":\"the node is shutting down\"}");
		r->rlen = r->resp ? strlen(r->resp) : 0;
		MHD_resume_connection(r->conn);
	}
}

/* --- events as JSON ------------------------------------------------------------ */

json_t *api_event_json(struct http *h, struct store *s, const uint8_t *wire, size_t len,
                       int64_t seq, uint64_t now)
{
	struct render_ctx rc = { .store = s, .root = h->root, .reader = NULL, .now = now };
	struct event *ev = NULL;
	char why[WM_WHY_LEN];
	json_t *o;

	if (event_decode_stored(wire, len, &ev, why) != 0)
		return NULL;
	o = render_event_json(&rc, ev);
	event_free(ev);
	if (o)
		json_object_set_new(o, "cursor", json_integer(seq));
	return o;
}

/* ntfy's priorities from the alert's severity (PROTOCOL.md, alert). */
static int ntfy_priority(const char *severity)
{
	if (!severity)
		return 3;
	if (strcmp(severity, "Extreme") == 0)
		return 5;
	if (strcmp(severity, "Severe") == 0)
		return 4;
	if (strcmp(severity, "Minor") == 0)
		return 2;
	return 3;
}

json_t *api_ntfy_message(const json_t *ev, int64_t seq)
{
	const json_t *c = json_object_get(ev, "content");
	const char *headline = json_string_value(json_object_get(c, "headline"));
	const char *event = json_string_value(json_object_get(c, "event"));
	const char *text = json_string_value(json_object_get(c, "text"));
	const char *area = json_string_value(json_object_get(c, "area_desc"));
	const char *sev = json_string_value(json_object_get(c, "severity"));
	const char *offname = json_string_value(json_object_get(ev, "official_name"));
	json_int_t created = json_integer_value(json_object_get(ev, "created_at"));
	json_int_t expires = json_integer_value(json_object_get(ev, "expires_at"));
	char id[32], msg[4096];
	json_t *o, *tags;

	snprintf(id, sizeof id, "wm%" PRId64, seq);
	snprintf(msg, sizeof msg, "%s%s%s%s%s", text ? text : "", area ? "\n" : "", area ? area : "",
	         offname ? "\n— " : "", offname ? offname : "");
	tags = json_array();
	json_array_append_new(tags, json_string(json_is_true(json_object_get(ev, "official")) ? "official"
	                                                                                       : "unofficial"));
	if (sev)
		json_array_append_new(tags, json_string(sev));
	o = json_pack("{ss sI ss ss ss si so}", "id", id, "time", (json_int_t)(created / 1000),
	              "event", "message", "title", headline ? headline : event ? event : "alert", "message", msg,
	              "priority", ntfy_priority(sev), "tags", tags);
	if (o && expires > 0)
		json_object_set_new(o, "expires", json_integer(expires / 1000));
	return o;
}

/* --- listing and search ------------------------------------------------------- */

struct collect {
	struct hjob *j;
	struct store *s;
	json_t *arr;
	size_t n, limit;
	int more;
	int64_t last;
};

static int collect_cb(void *ctx, const struct stored_event *e)
{
	struct collect *c = ctx;
	json_t *o;

	if (c->n >= c->limit) {
		c->more = 1;
		return 1;
	}
	o = api_event_json(c->j->h, c->s, e->wire, e->wire_len, e->seq, c->j->now);
	if (o && c->j->raw) {
		/* wire=1: the event's bytes too, so a page that checks every event
		 * itself needs no request per event */
		char *b64 = NULL;
		if (render_base64(e->wire, e->wire_len, &b64) == 0)
			json_object_set_new(o, "wire", json_string(b64));
		free(b64);
	}
	if (o)
		json_array_append_new(c->arr, o);
	c->n++;
	c->last = e->seq;
	return 0;
}

static void list_work(struct hjob *j, struct store *s)
{
	struct store_filter f = { .group = j->group[0] ? j->group : NULL, .kind = j->kind,
	                          .after_seq = j->after, .limit = j->limit + 1, .newest_first = j->newest };
	struct collect c = { .j = j, .s = s, .arr = json_array(), .limit = j->limit, .last = j->after };
	int rc;

	if (!c.arr) {
		job_error(j, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	rc = store_events(s, &f, collect_cb, &c);
	if (rc < 0) {
		json_decref(c.arr);
		job_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot read the store: %s", store_errmsg(s));
		return;
	}
	/* newest first, the cursor does not move: the client lists on from after */
	job_json(j, json_pack("{so sI sb}", "events", c.arr, "next", (json_int_t)(j->newest ? j->after : c.last),
	                      "more", c.more));
}

static void search_work(struct hjob *j, struct store *s)
{
	struct collect c = { .j = j, .s = s, .arr = json_array(), .limit = j->limit };
	int rc;

	if (!c.arr) {
		job_error(j, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	rc = store_search(s, j->q, j->group[0] ? j->group : NULL, j->limit + 1, 0, collect_cb, &c);
	if (rc < 0) {
		json_decref(c.arr);
		/* WM_EINVAL: a query the store refuses (too long, too many words) */
		job_error(j, rc == WM_EINVAL ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_SERVICE_UNAVAILABLE,
		          "cannot search: %s", store_errmsg(s));
		return;
	}
	job_json(j, json_pack("{so sb}", "events", c.arr, "more", c.more));
}

static void one_work(struct hjob *j, struct store *s)
{
	struct store_info info;
	uint8_t *wire = NULL;
	size_t len = 0;
	int rc = store_get(s, j->evid, &wire, &len);

	if (rc == WM_ENOTFOUND || (rc == 0 && store_info(s, j->evid, &info) != 0)) {
		free(wire);
		job_error(j, MHD_HTTP_NOT_FOUND, "no such event on this node");
		return;
	}
	if (rc) {
		job_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot read the store: %s", store_errmsg(s));
		return;
	}
	if (j->raw) {
		j->body = (char *)wire;
		j->blen = len;
		j->status = MHD_HTTP_OK;
		j->ctype = "application/msgpack";
		return;
	}
	{
		json_t *o = api_event_json(j->h, s, wire, len, info.seq, j->now);
		free(wire);
		if (!o) {
			job_error(j, MHD_HTTP_INTERNAL_SERVER_ERROR, "the stored event does not decode");
			return;
		}
		job_json(j, o);
	}
}

/* --- CAP 1.2 ------------------------------------------------------------------- */

static void cap_work(struct hjob *j, struct store *s)
{
	char *xml = NULL;
	size_t len = 0;
	int rc = j->raw ? cap_alert_xml(s, j->h->root, j->now, j->evid, j->q, &xml, &len)
	                : cap_atom(s, j->h->root, j->now, j->q, &xml, &len);

	if (rc == WM_ENOTFOUND) {
		job_error(j, MHD_HTTP_NOT_FOUND, "no such alert on this node, or it has expired");
		return;
	}
	if (rc) {
		job_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot export: %s",
		          rc == WM_ESTORE ? store_errmsg(s) : wm_strerror(rc));
		return;
	}
	j->body = xml;
	j->blen = len;
	j->status = MHD_HTTP_OK;
	j->ctype = j->raw ? "application/cap+xml; charset=utf-8" : "application/atom+xml; charset=utf-8";
}

/* "http(s)://HOST" from the request's Host, for the links CAP and Atom
 * carry; NULL (relative links) without a plain Host. */
static char *base_url(struct hreq *r)
{
	const char *host = http_host(r);
	size_t n = host ? strlen(host) + 9 : 0;
	char *out = n ? malloc(n) : NULL;

	if (out)
		snprintf(out, n, "%s://%s", r->l->tls ? "https" : "http", host);
	return out;
}

/* --- submitting ------------------------------------------------------------------ */

/* The status of an ingest refusal: the client's bytes (400), who may post
 * what (403), the size (413), the rate (429), the node (503). */
static unsigned refusal_status(int code)
{
	switch (code) {
	case WM_ENOTOFFICIAL: case WM_EREVOKED: case WM_EUNKNOWNCERT: case WM_EFORBIDDEN:
	case WM_EREJECTED:
		return MHD_HTTP_FORBIDDEN;
	case WM_ETOOBIG:
		return MHD_HTTP_CONTENT_TOO_LARGE;
	case WM_ERATE:
		return MHD_HTTP_TOO_MANY_REQUESTS;
	case WM_ENOMEM: case WM_EIO: case WM_ESTORE:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default:
		return MHD_HTTP_BAD_REQUEST;
	}
}

/* The daemon's answer to r's POST, as a job's answer: queued by the
 * handler when it runs again. */
static void post_answer(struct hreq *r, const struct ingest_result *res)
{
	char idhex[2 * WM_ID_LEN + 1];
	unsigned status;
	json_t *o;

	hex_encode(idhex, res->id, WM_ID_LEN);
	if (res->code == 0) {
		o = json_pack("{ss sI}", "id", idhex, "cursor", (json_int_t)res->seq);
		status = MHD_HTTP_CREATED;
	} else if (res->code == WM_EDUP) {
		o = json_pack("{ss sb}", "id", idhex, "duplicate", 1);
		status = MHD_HTTP_OK;
	} else {
		o = json_pack("{ss}", "error", res->why[0] ? res->why : wm_strerror(res->code));
		if (o && res->kind)
			json_object_set_new(o, "id", json_string(idhex));
		status = refusal_status(res->code);
	}
	free(r->resp);
	r->resp = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	r->have = 1;
	r->status = r->resp ? status : MHD_HTTP_INTERNAL_SERVER_ERROR;
	r->ctype = "application/json; charset=utf-8";
	r->rlen = r->resp ? strlen(r->resp) : 0;
}

/* http_submit_done: inside the hook (a refusal) or after the daemon's commit. */
static void submit_done(void *arg, const struct ingest_result *res)
{
	struct hpost *p = arg;
	struct http *h = p->h;
	struct hreq *r = p->r;

	free(p);
	h->jobs--;
	if (r) {
		r->post_wait = NULL;
		post_answer(r, res);
		if (r->suspended) {
			r->suspended = 0;
			MHD_resume_connection(r->conn);
			http_run(r->l);
		}
	}
	http_maybe_free(h);
}

static int submit(struct hreq *r)
{
	struct http *h = r->h;
	const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	struct hpost *p;
	char *b;

	if (!ct || (strncmp(ct, "application/msgpack", 19) != 0 &&
	            strncmp(ct, "application/x-msgpack", 21) != 0 &&
	            strncmp(ct, "application/octet-stream", 24) != 0))
		return http_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		                  "send one signed event's wire bytes as application/msgpack");
	if (r->blen == 0)
		return http_error(r, MHD_HTTP_BAD_REQUEST, "the body is empty: send one signed event");
	if ((p = malloc(sizeof *p)) == NULL)
		return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	p->h = h;
	p->r = r;
	r->post_wait = p;
	h->jobs++;
	h->hooks.submit(h->hooks.ctx, r->body, r->blen, submit_done, p);
	if (r->have) {               /* answered inside the hook */
		b = r->resp;
		r->resp = NULL;
		return http_answer(r, r->status, r->ctype, b, r->rlen);
	}
	/* the event waits for its check on the pool and its batch's commit
	 * (PROTOCOL.md §18), which the daemon makes in the check phase of the
	 * loop turn that brought the check back (serve.c) */
	r->suspended = 1;
	MHD_suspend_connection(r->conn);
	return MHD_YES;
}

/* --- the web app's files and the authority's page ---------------------------------- */

static const char *mime_of(const char *file)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".json", "application/json; charset=utf-8" },
		{ ".webmanifest", "application/manifest+json" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".txt", "text/plain; charset=utf-8" },
	};
	size_t i, n = strlen(file);

	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		size_t el = strlen(types[i].ext);
		if (n > el && strcmp(file + n - el, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

static const char app_missing[] =
	"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	"<title>watchmesh</title><body style=\"font-family:sans-serif;max-width:36em;margin:2em auto\">"
	"<h1>watchmesh</h1><p>This node runs, but its web app was not built (building it needs "
	"Node.js: see the README, &ldquo;The web app&rdquo;).</p>"
	"<p>The API is here: <a href=\"/api/v1/status\">/api/v1/status</a>.</p></body></html>";

/* If-None-Match names tag: "*", or tag among its comma-separated
 * entries (a weak W/ prefix counts: the comparison is weak, RFC 9110 §13.1.2). */
static int etag_matches(const char *inm, const char *tag)
{
	size_t n = strlen(tag);

	if (!inm)
		return 0;
	for (;;) {
		while (*inm == ' ' || *inm == '\t' || *inm == ',')
			inm++;
		if (!*inm)
			return 0;
		if (*inm == '*')
			return 1;
		if (inm[0] == 'W' && inm[1] == '/')
			inm += 2;
		if (strncmp(inm, tag, n) == 0 && (inm[n] == 0 || inm[n] == ',' || inm[n] == ' ' ||
		                                  inm[n] == '\t'))
			return 1;
		while (*inm && *inm != ',')
			inm++;
	}
}

/* A file of the web app, read whole (they are small and few).  The name
 * passed route.c's check: no dot-segments, only [A-Za-z0-9._-/]. */
static int app_file(struct hreq *r)
{
	struct http *h = r->h;
	char path[PATH_MAX];
	struct stat st;
	char *buf;
	int fd;

	if (!h->web_dir) {
		if (strcmp(r->rt.file, "index.html") != 0)
			return http_error(r, MHD_HTTP_NOT_FOUND, "no such page");
		return http_answer(r, MHD_HTTP_OK, "text/html; charset=utf-8", strdup(app_missing),
		                   sizeof app_missing - 1);
	}
	snprintf(path, sizeof path, "%s/%s", h->web_dir, r->rt.file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > APP_FILE_MAX) {
		if (fd >= 0)
			close(fd);
		if (strcmp(r->rt.file, "index.html") == 0)
			return http_answer(r, MHD_HTTP_OK, "text/html; charset=utf-8", strdup(app_missing),
			                   sizeof app_missing - 1);
		return http_error(r, MHD_HTTP_NOT_FOUND, "no such page");
	}
	/* size and modification time name a build's file well enough: a file
	 * replaced by `meson install` changes its mtime */
	snprintf(r->etag, sizeof r->etag, "\"%llx-%llx.%lx\"", (unsigned long long)st.st_size,
	         (unsigned long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
	if (etag_matches(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_IF_NONE_MATCH), r->etag)) {
		close(fd);
		return http_answer(r, MHD_HTTP_NOT_MODIFIED, NULL, NULL, 0);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || read(fd, buf, (size_t)st.st_size) != (ssize_t)st.st_size) {
		free(buf);
		close(fd);
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read %s", r->rt.file);
	}
	close(fd);
	return http_answer(r, MHD_HTTP_OK, mime_of(r->rt.file), buf, (size_t)st.st_size);
}

/* --- dispatch ------------------------------------------------------------------------ */

/* group= (optional): a valid group name into out. */
static int arg_group(struct hreq *r, char out[WM_GROUP_MAX + 1])
{
	const char *g = http_arg(r, "group");
	size_t n;

	out[0] = 0;
	if (!g || !g[0])
		return 0;
	n = strlen(g);
	if (n > WM_GROUP_MAX || !event_group_valid(g, n))
		return -1;
	memcpy(out, g, n + 1);
	return 0;
}

static int arg_kind(struct hreq *r, unsigned *kind)
{
	const char *k = http_arg(r, "kind");

	*kind = 0;
	if (!k || !k[0])
		return 0;
	*kind = kind_from_name(k);
	return *kind ? 0 : -1;
}

/* name= (optional) in [lo, hi] into *out (left alone when absent): 0, or -1. */
static int arg_uint(struct hreq *r, const char *name, uint64_t lo, uint64_t hi, uint64_t *out)
{
	const char *a = http_arg(r, name);

	return !a || route_uint(a, lo, hi, out) == 0 ? 0 : -1;
}

int api_dispatch(struct hreq *r)
{
	struct http *h = r->h;
	struct hjob *j;
	const char *a;
	uint64_t x, lim, w = 0, nw = 0;

	switch (r->rt.id) {
	case R_STATUS:
		return ret(http_json(r, MHD_HTTP_OK, h->hooks.status(h->hooks.ctx)));
	case R_METRICS: {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		if (!f)
			return ret(http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory"));
		h->hooks.metrics(h->hooks.ctx, f);
		http_metrics(h, f);
		fclose(f);
		return ret(http_answer(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf, len));
	}
	case R_CA_CRT:
		if (!h->ca_pem)
			return ret(http_error(r, MHD_HTTP_NOT_FOUND, "this node serves no TLS authority certificate"));
		return ret(http_answer(r, MHD_HTTP_OK, "application/x-x509-ca-cert", strdup(h->ca_pem),
		                       strlen(h->ca_pem)));
	case R_CA_PAGE:
		return ret(ca_page(r));
	case R_NTFY_AUTH:      /* the app asks before subscribing; reading needs no account */
		return ret(http_json(r, MHD_HTTP_OK, json_pack("{sb}", "success", 1)));
	case R_APP:
		return ret(app_file(r));
	case R_STREAM:
		return stream_open(r, ST_API);
	case R_NTFY_JSON:
		return stream_open(r, ST_NTFY_JSON);
	case R_NTFY_SSE:
		return stream_open(r, ST_NTFY_SSE);
	case R_EVENTS:
		if (r->post)
			return ret(submit(r));
		j = api_job_new(h, list_work, req_done);
		if (!j)
			return ret(http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory"));
		x = 0;
		lim = HTTP_LIST_DEFAULT;
		if (arg_group(r, j->group) != 0 || arg_kind(r, &j->kind) != 0 ||
		    arg_uint(r, "after", 0, INT64_MAX, &x) != 0 ||
		    arg_uint(r, "limit", 1, HTTP_LIST_MAX, &lim) != 0 ||
		    arg_uint(r, "wire", 0, 1, &w) != 0 || arg_uint(r, "newest", 0, 1, &nw) != 0) {
			free(j);
			return ret(http_error(r, MHD_HTTP_BAD_REQUEST,
			                      "group is a group name, kind an event kind, after a cursor "
			                      "(a whole number), limit from 1 to %d, wire and newest 0 or 1",
			                      HTTP_LIST_MAX));
		}
		j->raw = (int)w;
		j->newest = (int)nw;
		j->after = (int64_t)x;
		j->limit = lim;
		return req_job(r, j);
	case R_SEARCH:
		j = api_job_new(h, search_work, req_done);
		if (!j)
			return ret(http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory"));
		lim = SEARCH_DEFAULT;
		a = http_arg(r, "q");
		if (!a || !a[0] || strlen(a) > QUERY_MAX || arg_group(r, j->group) != 0) {
			free(j);
			return ret(http_error(r, MHD_HTTP_BAD_REQUEST,
			                      "q is the text to search for (1 to %d bytes); group a group name",
			                      QUERY_MAX));
		}
		j->q = strdup(a);
		if (!j->q || arg_uint(r, "limit", 1, SEARCH_MAX, &lim) != 0) {
			free(j->q);
			free(j);
			return ret(http_error(r, MHD_HTTP_BAD_REQUEST, "limit is from 1 to %d", SEARCH_MAX));
		}
		j->limit = lim;
		return req_job(r, j);
	case R_CAP_ATOM:
	case R_CAP_ALERT:
		j = api_job_new(h, cap_work, req_done);
		if (!j)
			return ret(http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory"));
		memcpy(j->evid, r->rt.evid, WM_ID_LEN);
		j->raw = r->rt.id == R_CAP_ALERT;     /* one alert, not the index */
		j->q = base_url(r);
		return req_job(r, j);
	case R_EVENT:
	case R_EVENT_RAW:
		j = api_job_new(h, one_work, req_done);
		if (!j)
			return ret(http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory"));
		memcpy(j->evid, r->rt.evid, WM_ID_LEN);
		j->raw = r->rt.id == R_EVENT_RAW;
		return req_job(r, j);
	default:
		return ret(http_error(r, MHD_HTTP_NOT_FOUND, "no such page"));
	}
}
