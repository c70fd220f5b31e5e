/*
 * node/daemon/serve.c: the daemon's side of the HTTP(S) API (node/http):
 * its settings from watchmesh.conf, and the hooks it answers through --
 * a client's event is decoded and its signature checked on libuv's pool,
 * then goes through the same ingest as every other one, in arrival order,
 * into the loop turn's durable batch, and reaches the mesh once that is on
 * the disk; status and metrics are the daemon's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "daemon_int.h"
#include "http.h"
#include "store.h"
#include "tls.h"

/* A POSTed event: with a worker (ingest_prepare touches only prep and
 * reads wire), then in the open durable batch, waiting for its commit. */
struct post {
	struct daemon *d;
	http_submit_done done;
	void *arg;
	struct post *next;           /* d->posts, while checked */
	uv_work_t work;
	int checked;                 /* the worker is done with it */
	struct ingest_prep prep;
	struct ingest_result res;
	size_t len;
	uint8_t wire[];
};

/* The batch ended: the answer, and a stored event pushed to the peers. */
static void post_settled(void *arg, int committed)
{
	struct post *p = arg;
	struct daemon *d = p->d;

	if (!committed) {
		p->res.code = WM_ESTORE;
		wm_why(p->res.why, "the node could not write to its disk: nothing was kept, send the event again");
	} else if (p->res.code == 0) {
		d->http_stored++;
		mesh_publish(d->mesh, p->wire, p->len, d_now_ms());
		d_after_mesh(d);
		d->status_dirty = 1;
	}
	p->done(p->arg, &p->res);
	free(p);
}

static void submit_refuse(http_submit_done done, void *arg, int code, const char *why)
{
	struct ingest_result res;

	memset(&res, 0, sizeof res);
	res.code = code;
	wm_why(res.why, "%s", why);
	done(arg, &res);
}

/* Into the open durable batch, on the loop: a checked POST. */
static void post_ingest(struct post *p)
{
	struct daemon *d = p->d;
	http_submit_done done = p->done;
	void *arg = p->arg;
	int code;

	if (done == NULL)
		goto drop;               /* answered already */
	if (d->stopping) {
		submit_refuse(done, arg, WM_EIO, "the node is shutting down: send the event again once it is back");
		goto drop;
	}
	if (local_batch_durable(&d->local) != 0) {
		d_log(d, D_WARN, "cannot begin a write for a POST: %s", store_errmsg(d->nd->store));
		submit_refuse(done, arg, WM_ESTORE, "the node cannot write to its store now: try again");
		goto drop;
	}
	d->nd->ictx.now = d_now_ms();
	ingest_commit(&d->nd->ictx, &p->prep, INGEST_LOCAL, &p->res);
	ingest_prep_clear(&p->prep);
	code = p->res.code;
	if (code == WM_ESTORE || code == WM_ENOMEM)
		local_batch_fail(&d->local);     /* the event may be half-written */
	if (code != 0 && code != WM_EDUP) {
		if (-code > 0 && -code < MESH_REASONS)
			d->http_refused_by[-code]++;
		done(arg, &p->res);
		free(p);
		return;
	}
	if (code == 0)
		local_stored(&d->local, p->res.seq);
	/* a duplicate waits too: it may be in this very batch */
	if (local_batch_wait(&d->local, post_settled, p) == 0)
		return;
	submit_refuse(done, arg, WM_ENOMEM, "the node is out of memory: send the event again");
drop:
	ingest_prep_clear(&p->prep);
	free(p);
}

/* Ingest the checked POSTs at the head, in the order they came. */
static void posts_pump(struct daemon *d)
{
	struct post *p;

	while ((p = d->posts) != NULL && p->checked) {
		if ((d->posts = p->next) == NULL)
			d->posts_tail = NULL;
		post_ingest(p);
	}
}

static void post_check_cb(uv_work_t *w)
{
	struct post *p = w->data;

	ingest_prepare(p->wire, p->len, 1, &p->prep);
}

static void post_checked_cb(uv_work_t *w, int status)
{
	struct post *p = w->data;

	(void)status;                /* cancelled: unchecked, ingest_commit checks it */
	p->checked = 1;
	posts_pump(p->d);
}

/* POST /api/v1/events: the same ingest as an event posted here
 * (INGEST_LOCAL), its signature checked on the pool as a fetched event's
 * is (verify.h), then into the loop turn's durable batch: every POST of
 * the turn shares one commit and one fsync, and is answered after it.  A
 * refusal is answered as soon as it is known: it waits for no commit. */
static void hook_submit(void *ctx, const uint8_t *wire, size_t len, http_submit_done done, void *arg)
{
	struct daemon *d = ctx;
	struct post *p;

	d->http_in++;
	if (d->stopping) {
		submit_refuse(done, arg, WM_EIO, "the node is shutting down: send the event again once it is back");
		return;
	}
	if (d->disk_full) {
		submit_refuse(done, arg, WM_EIO, "the node's disk is full: it takes no events until space is freed");
		return;
	}
	if ((p = calloc(1, sizeof *p + len)) == NULL) {
		submit_refuse(done, arg, WM_ENOMEM, "the node is out of memory: try again");
		return;
	}
	p->d = d;
	p->done = done;
	p->arg = arg;
	p->len = len;
	memcpy(p->wire, wire, len);
	if (d->posts_tail != NULL)
		d->posts_tail->next = p;
	else
		d->posts = p;
	d->posts_tail = p;
	p->work.data = p;
	if (uv_queue_work(&d->loop, &p->work, post_check_cb, post_checked_cb) != 0) {
		/* never ingested here: a POST from a timer's MHD_run would open
		 * the durable batch before the loop sleeps in its poll */
		p->checked = 1;
		p->done = NULL;
		submit_refuse(done, arg, WM_ENOMEM, "the node cannot check the event now: try again");
		posts_pump(d);
	}
}

static struct json_t *hook_status(void *ctx)
{
	return status_json(ctx, disk_state(ctx));
}

static void hook_log(void *ctx, int level, const char *line)
{
	d_log(ctx, level, "%s", line);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	fprintf(f, "# HELP watchmesh_%s %s\n# TYPE watchmesh_%s counter\nwatchmesh_%s %" PRIu64 "\n",
	        name, help, name, name, v);
}

static void hook_metrics(void *ctx, FILE *f)
{
	struct daemon *d = ctx;
	struct mesh_stats ms;
	static const char *const states[] = { "up", "backing_off", "connecting", "down" };
	unsigned npeer[4] = { 0, 0, 0, 0 };
	uint64_t now = d_now_ms();
	int i;

	memset(&ms, 0, sizeof ms);
	mesh_get_stats(d->mesh, &ms);
	fprintf(f, "# HELP watchmesh_events_stored_total Events stored since start, by where they came from.\n"
	           "# TYPE watchmesh_events_stored_total counter\n"
	           "watchmesh_events_stored_total{origin=\"mesh\"} %" PRIu64 "\n"
	           "watchmesh_events_stored_total{origin=\"http\"} %" PRIu64 "\n"
	           "watchmesh_events_stored_total{origin=\"local\"} %" PRIu64 "\n",
	        ms.stored - d->local.rolled_back, d->http_stored, d->local.published);
	counter(f, "events_received_total", "Events received from peers.", ms.events_in);
	counter(f, "events_duplicate_total", "Events received from peers that were held already.", ms.duplicates);
	counter(f, "events_rate_limited_total", "Events from peers dropped by a rate limit.", ms.rate_limited);
	counter(f, "events_expired_total", "Expired events collected.", d->expired);
	fprintf(f, "# HELP watchmesh_events_refused_total Events refused, by origin and reason.\n"
	           "# TYPE watchmesh_events_refused_total counter\n");
	for (i = 1; i < MESH_REASONS; i++) {
		if (ms.refused_by[i])
			fprintf(f, "watchmesh_events_refused_total{origin=\"mesh\",reason=\"%s\"} %" PRIu64 "\n",
			        wm_errname(-i), ms.refused_by[i]);
		if (d->http_refused_by[i])
			fprintf(f, "watchmesh_events_refused_total{origin=\"http\",reason=\"%s\"} %" PRIu64 "\n",
			        wm_errname(-i), d->http_refused_by[i]);
	}
	fprintf(f, "# HELP watchmesh_store_last_seq The store's highest arrival cursor.\n"
	           "# TYPE watchmesh_store_last_seq gauge\nwatchmesh_store_last_seq %" PRId64 "\n",
	        local_head(&d->local));
	for (i = 0; i < D_MAX_KNOWN; i++) {
		const struct dknown *k = &d->known[i];
		if (!k->used)
			continue;
		npeer[k->up ? 0 : k->banned_until > now ? 1 : k->since == 0 && !k->last_error[0] ? 2 : 3]++;
	}
	fprintf(f, "# HELP watchmesh_peers Peers known, by state.\n# TYPE watchmesh_peers gauge\n");
	for (i = 0; i < 4; i++)
		fprintf(f, "watchmesh_peers{state=\"%s\"} %u\n", states[i], npeer[i]);
	counter(f, "repairs_total", "Reconciliations completed with peers.", ms.repairs);
	counter(f, "repair_fetched_total", "Events fetched by repair.", ms.fetched);
	fprintf(f, "# HELP watchmesh_repair_bytes_total Bytes of reconciliation messages, by direction.\n"
	           "# TYPE watchmesh_repair_bytes_total counter\n"
	           "watchmesh_repair_bytes_total{direction=\"out\"} %" PRIu64 "\n"
	           "watchmesh_repair_bytes_total{direction=\"in\"} %" PRIu64 "\n",
	        ms.repair_bytes_out, ms.repair_bytes_in);
	counter(f, "events_sent_total", "Events sent to peers.", ms.events_out);
	fprintf(f, "# HELP watchmesh_disk_full 1 while the disk is below disk_reserve.\n"
	           "# TYPE watchmesh_disk_full gauge\nwatchmesh_disk_full %d\n"
	           "# HELP watchmesh_disk_free_bytes Free bytes on the data directory's disk.\n"
	           "# TYPE watchmesh_disk_free_bytes gauge\nwatchmesh_disk_free_bytes %" PRIu64 "\n",
	        d->disk_full ? 1 : 0, d->disk_free);
}

void serve_rows(struct daemon *d)
{
	if (d->http)
		http_new_rows(d->http, local_head(&d->local));
}

/* A path of watchmesh.conf: absolute, or relative to the data directory. */
#define SERVE_PATH (PATH_MAX + CONF_VAL_MAX + 2)
static void conf_path(const struct daemon *d, const char *p, char out[SERVE_PATH])
{
	if (p[0] == '/')
		snprintf(out, SERVE_PATH, "%s", p);
	else
		snprintf(out, SERVE_PATH, "%s/%s", d->dir, p);
}

/* Room for every connection the settings allow: the soft limit on open
 * files raised to the hard one when it is lower than that. */
static void raise_nofile(struct daemon *d, unsigned want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		d_log(d, D_WARN, "open files are limited to %lu: fewer than http_clients allows",
		      (unsigned long)rl.rlim_cur);
}

int serve_start(struct daemon *d, char why[WM_WHY_LEN])
{
	const struct node_conf *cf = &d->nd->conf;
	struct http_config hc;
	struct http_hooks hk;
	char store_path[PATH_MAX + 16], cert[SERVE_PATH], key[SERVE_PATH], inner[WM_WHY_LEN] = "";
	char *cert_pem = NULL, *key_pem = NULL, *ca_pem = NULL;
	struct tls_info cai;
	int rc;

	memset(&hc, 0, sizeof hc);
	memset(&hk, 0, sizeof hk);
	snprintf(store_path, sizeof store_path, "%s/store.db", d->dir);
	conf_path(d, cf->tls_cert, cert);
	conf_path(d, cf->tls_key, key);
	/* A pair that does not load costs HTTPS, not the node: an unattended
	 * node keeps its mesh and its local API, and says what to do. */
	if (strcmp(cf->https, "off") != 0 && files_exists(cert) &&
	    tls_load_pair(cert, key, &cert_pem, &key_pem, inner) != 0)
		d_log(d, D_WARN, "no HTTPS: %s (tls_cert, tls_key in watchmesh.conf; "
		      "`watchmesh tls show --dir %s` checks the pair)", inner, d->dir);
	if (cert_pem && tls_ca_of_chain(cert_pem, &ca_pem, inner) == 0 &&
	    tls_info_of(ca_pem, &cai, inner) == 0)
		hc.ca_fingerprint = cai.sha256;
	hc.store_path = store_path;
	hc.store = d->nd->store;
	hc.root = d->nd->net.root;
	hc.network_name = d->nd->net.name;
	hc.http_addr = cf->http;
	hc.https_addr = cert_pem ? cf->https : NULL;
	hc.cert_pem = cert_pem;
	hc.key_pem = key_pem;
	hc.ca_pem = ca_pem;
	hc.max_clients = cf->http_clients;
	hc.per_ip = cf->http_per_ip;
	hc.rate = cf->http_rate;
	hc.web_dir = cf->web_dir;
	hc.start_seq = local_head(&d->local);
	hk.ctx = d;
	hk.submit = hook_submit;
	hk.status = hook_status;
	hk.metrics = hook_metrics;
	hk.log = hook_log;
	raise_nofile(d, 2 * cf->http_clients + 4 * cf->max_peers + 64);
	rc = http_new(&d->loop, &hc, &hk, &d->http, inner);
	tls_free(key_pem);
	tls_free(cert_pem);
	tls_free(ca_pem);
	if (rc) {
		const char *key = strstr(inner, cf->http) ? "http" : "https";
		wm_why(why, "%s -- set `%s` in %s/watchmesh.conf to a free port (or off) and start again",
		       inner, key, d->dir);
		return rc;
	}
	if (http_port(d->http, 0))
		d_log(d, D_INFO, "HTTP API on %.*s:%d", (int)(strrchr(cf->http, ':') - cf->http), cf->http,
		      http_port(d->http, 0));
	if (http_port(d->http, 1))
		d_log(d, D_INFO, "HTTPS on %.*s:%d", (int)(strrchr(cf->https, ':') - cf->https), cf->https,
		      http_port(d->http, 1));
	else if (strcmp(cf->https, "off") != 0 && !files_exists(cert))
		d_log(d, D_INFO, "no HTTPS: %s does not exist (`watchmesh tls issue` makes it)", cert);
	return 0;
}
