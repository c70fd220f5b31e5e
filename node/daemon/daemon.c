/*
 * node/daemon/daemon.c: start-up, the loop and its timers, signals and the
 * clean stop (see daemon.h for what a node does).  The peers live in
 * peers.c, status.json in status.c, the write batch and the poll of local
 * events in local.c.  Two things a reader must know:
 *   - the mesh must not be re-entered from its own callbacks, so a
 *     disconnect it asks for is queued and carried out by d_after_mesh(),
 *     which runs after every call into the mesh and also re-arms the mesh
 *     timer at mesh_next_deadline();
 *   - events other processes write into the store reach the mesh by the
 *     poll of local.c, which skips the rows the mesh stored here (io.stored).
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

#include "daemon_int.h"
#include "http.h"
#include "store.h"
#include "trust.h"

#define D_POLL_ROUNDS  64       /* reads per poll tick: at most 16384 events */

uint64_t d_now_ms(void)
{
	return wm_now_ms();
}

/* --- logging --------------------------------------------------------------------- */

void d_log(struct daemon *d, int level, const char *fmt, ...)
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

void d_hex8(char out[17], const uint8_t *pub)
{
	hex_encode(out, pub, 8);
}

/* --- after every call into the mesh ------------------------------------------------- */

static void d_mesh_timer_cb(uv_timer_t *t);

void d_after_mesh(struct daemon *d)
{
	uint64_t dl, now;

	if (d->flushing)
		return;
	d->flushing = 1;
	peers_close_pending(d);
	d->flushing = 0;
	if (d->stopping || !d->mesh)
		return;
	dl = mesh_next_deadline(d->mesh);
	if (dl == UINT64_MAX) {
		uv_timer_stop(&d->mesh_timer);
		return;
	}
	now = d_now_ms();
	uv_timer_start(&d->mesh_timer, d_mesh_timer_cb, dl > now ? dl - now : 0, 0);
}

static void d_mesh_timer_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	if (d->stopping)
		return;
	mesh_tick(d->mesh, d_now_ms());
	d_after_mesh(d);
}

static void io_log(void *ctx, enum mesh_log_level level, const char *line)
{
	struct daemon *d = ctx;
	d_log(d, level == MESH_LOG_DEBUG ? D_DEBUG : level == MESH_LOG_INFO ? D_INFO : D_WARN,
	      "%s", line);
}

static void io_stored(void *ctx, uint32_t peer, const uint8_t id[WM_ID_LEN], unsigned kind,
                      int64_t seq)
{
	struct daemon *d = ctx;

	(void)peer;
	(void)id;
	(void)kind;
	local_stored(&d->local, seq);
}

/*
 * The write batch opens when the mesh is about to ingest, not when a frame
 * looks like an EVENT: only the mesh decodes frames, and a batch then holds
 * exactly the turn's events, whatever frame brought them.  It is ended by
 * batch_check, once the turn's reads are all handled (local.h).
 */
static void io_ingesting(void *ctx)
{
	struct daemon *d = ctx;

	local_batch_begin(&d->local);
}

/* ingest_ctx.verified: the event a worker checked, for the frame the mesh
 * is reading now (verify.h). */
static struct event *io_verified(void *ctx, const uint8_t id[WM_ID_LEN])
{
	struct daemon *d = ctx;

	return vq_take(d->vq, id);
}

/* mesh_io.peeked: the worker's peek of the event the mesh is reading now. */
static int io_peeked(void *ctx, const uint8_t *wire, size_t len, struct event_peek *out)
{
	struct daemon *d = ctx;

	return vq_peeked(d->vq, wire, len, out);
}

static void local_log(void *ctx, int level, const char *line)
{
	d_log(ctx, level, "%s", line);
}

/* After a batch ended (at the check, or at a poll tick): its rows to the
 * HTTP streams, and a failed commit looked into at once. */
static void d_batch_ended(struct daemon *d, uint64_t failed_before)
{
	if (d->local.batch_failures != failed_before)
		disk_check(d);           /* a full disk is the usual cause: say so at once */
	serve_rows(d);
}

static void d_batch_check_cb(uv_check_t *h)
{
	struct daemon *d = h->data;
	uint64_t failed = d->local.batch_failures;

	if (vq_inflight(d->vq) + vq_waiting(d->vq) > 0 && local_batch_hold(&d->local, d_now_ms()))
		return;
	local_batch_end(&d->local);
	d_batch_ended(d, failed);
}

/* --- local events: the store poll ------------------------------------------------- */

static void d_poll_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	uint64_t failed = d->local.batch_failures;
	int held = d->local.batch_open;
	size_t n;

	if (d->stopping)
		return;
	n = local_poll(&d->local, D_POLL_ROUNDS, d_now_ms());
	if (held && !d->local.batch_open)
		d_batch_ended(d, failed);  /* the poll ended a held batch; its rows served too */
	else if (n > 0)
		serve_rows(d);
	if (n > 0)
		d->status_dirty = 1;
	d_after_mesh(d);
}

/* --- expiry ------------------------------------------------------------------------- */

static void d_expire_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	int64_t n = 0;

	if (d->stopping)
		return;
	if (store_collect_expired(d->nd->store, d_now_ms(), &n) != 0)
		d_log(d, D_WARN, "collecting expired events failed: %s", store_errmsg(d->nd->store));
	else if (n > 0) {
		d->expired += (uint64_t)n;
		d_log(d, D_INFO, "collected %" PRId64 " expired events", n);
		d->status_dirty = 1;
	}
}

/* --- start and stop ----------------------------------------------------------------- */

static void d_stop(struct daemon *d, const char *why)
{
	if (d->stopping)
		return;
	d_log(d, D_INFO, "%s: shutting down", why);
	local_batch_end(&d->local);
	d->stopping = 1;
	vq_close(d->vq);             /* frames not handed to the mesh yet: dropped */
	d->vq = NULL;
	uv_check_stop(&d->batch_check);
	uv_timer_stop(&d->mesh_timer);
	uv_timer_stop(&d->poll_timer);
	uv_timer_stop(&d->status_timer);
	uv_timer_stop(&d->expire_timer);
	beacon_free(d->bc);
	d->bc = NULL;
	http_free(d->http);
	d->http = NULL;
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

/* The value of `key` in conf_encode's text ("key = value" lines), or "". */
static void conf_value(const char *text, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	const char *p = text;

	out[0] = 0;
	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *e;
		if (strncmp(p, key, kl) != 0 || strncmp(p + kl, " = ", 3) != 0)
			continue;
		p += kl + 3;
		e = strchr(p, '\n');
		snprintf(out, len, "%.*s", (int)(e ? (size_t)(e - p) : strlen(p)), p);
		return;
	}
}

/*
 * SIGHUP: watchmesh.conf again, read once by d_signal_cb into c.
 * peers_reload applies the peers list; here log_level and disk_reserve
 * apply at once, and every other setting that changed is named in one line
 * as waiting for a restart -- never ignored in silence.  A file that no
 * longer parses, or a peers list that cannot be applied, changes nothing
 * and says why; a file that is gone changes nothing either.
 */
static void d_reload(struct daemon *d, const struct node_conf *c, const char *path)
{
	static const char *const live[] = { "peers", "log_level", "disk_reserve" };
	char *was = NULL, *now = NULL, restart[512] = "", a[CONF_VAL_MAX], b[CONF_VAL_MAX];
	const char *p;
	size_t i;

	if (conf_encode(&d->nd->conf, &was) != 0 || conf_encode(c, &now) != 0)
		goto out;
	for (p = now; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char key[64];
		int n = 0, is_live = 0;
		if (*p == '#' || *p == '\n' || sscanf(p, "%63[a-z_] =%n", key, &n) != 1 || n == 0)
			continue;
		conf_value(was, key, a, sizeof a);
		conf_value(now, key, b, sizeof b);
		if (strcmp(a, b) == 0)
			continue;
		for (i = 0; i < sizeof live / sizeof live[0]; i++)
			is_live |= strcmp(key, live[i]) == 0;
		if (!is_live && strcmp(key, "name") == 0 && !c->name[0])
			continue;            /* the directory's name stands for it */
		if (!is_live && strlen(restart) + strlen(key) + 3 < sizeof restart)
			snprintf(restart + strlen(restart), sizeof restart - strlen(restart), "%s%s",
			         restart[0] ? ", " : "", key);
	}
	if (strcmp(c->log_level, d->nd->conf.log_level) != 0) {
		snprintf(d->nd->conf.log_level, sizeof d->nd->conf.log_level, "%s", c->log_level);
		d->log_level = strcmp(c->log_level, "debug") == 0 ? D_DEBUG :
		               strcmp(c->log_level, "warn") == 0 ? D_WARN : D_INFO;
		d_log(d, D_WARN, "SIGHUP: log_level is now %s", c->log_level);
	}
	if (c->disk_reserve != d->nd->conf.disk_reserve) {
		d->nd->conf.disk_reserve = c->disk_reserve;
		d_log(d, D_INFO, "SIGHUP: disk_reserve is now %u MB", c->disk_reserve);
		disk_check(d);
	}
	if (restart[0])
		d_log(d, D_WARN, "SIGHUP: changed in %s, applied only after a restart of the node: %s",
		      path, restart);
out:
	free(was);
	free(now);
}

static void d_signal_cb(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	if (signum == SIGHUP) {
		char path[PATH_MAX + 32], why[WM_WHY_LEN] = "";
		struct node_conf *c;
		int rc;

		if (d->stopping)
			return;
		/* the defaults are not what the operator wrote: a deleted file
		 * changes nothing, as `run` refuses to start without one */
		snprintf(path, sizeof path, "%s/watchmesh.conf", d->dir);
		if (!files_exists(path)) {
			d_log(d, D_WARN, "SIGHUP: %s is missing; the node keeps its current settings: "
			      "put the file back (or copy one `watchmesh init` writes) and send SIGHUP again",
			      path);
			return;
		}
		/* read once: the peers and the other settings come from the same text */
		if ((c = malloc(sizeof *c)) == NULL) {
			d_log(d, D_WARN, "SIGHUP: out of memory; nothing changed");
			return;
		}
		if ((rc = conf_load(path, c, why)) != 0)
			d_log(d, D_WARN, "SIGHUP: %s; nothing changed", why[0] ? why : wm_strerror(rc));
		else if (peers_reload(d, c, path) == 0)
			d_reload(d, c, path);
		free(c);
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
	struct ingest_ctx ictx;
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
		/* the directory's name, cut at a character to fit HELLO; a name
		 * HELLO cannot carry becomes "node" (conf.c refuses one in the file) */
		const char *b = strrchr(d->dir, '/'), *src = b && b[1] ? b + 1 : d->dir;
		size_t len = strlen(src), n = len > FRAME_NAME_MAX ? FRAME_NAME_MAX : len;
		while (n > 0 && n < len && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;             /* the cut inside a character: before it */
		memcpy(cf->name, src, n);
		cf->name[n] = 0;
		if (!frame_name_ok(cf->name, n))
			strcpy(cf->name, "node");
	}
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
	peers_mesh_io(&io);
	io.log = io_log;
	io.stored = io_stored;
	io.ingesting = io_ingesting;
	io.peeked = io_peeked;
	wmc_random(&seed, sizeof seed);
	if ((rc = trust_cache_new(&d->tcache)) != 0) {
		wm_why(why, "out of memory");
		return rc;
	}
	d->nd->ictx.trust_cache = d->tcache;     /* the POSTs' ingests clear it too */
	d->nd->ictx.now = d_now_ms();
	ictx = d->nd->ictx;
	ictx.verified = io_verified;     /* the mesh's copy only: its events come from peers */
	ictx.verified_ctx = d;
	rc = mesh_new(&mc, &io, &ictx, seed, &d->mesh, why);
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
	if ((rc = vq_new(&d->loop, peers_frame, d, &d->vq)) != 0) {
		wm_why(why, "out of memory");
		return rc;
	}
	peers_transport_callbacks(d, &tcb);
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
	local_init(&d->local, d->nd->store, d->mesh, local_log, d);
	d->local.trust_cache = d->tcache;
	d->started_at = d_now_ms();

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

	/* the peers list first: a name in it that fits no key stops the node
	 * before it says it is listening or serving */
	rc = peers_start_dialers(d, cf, why);
	if (rc)
		return rc;
	d_log(d, D_INFO, "node %s (key %.16s) of network %s listening on %s", cf->name, d->selfhex,
	      d->nd->net.name, d->listen_addr);
	rc = serve_start(d, why);
	if (rc)
		return rc;
	if (cf->beacons && port > 0) {
		struct beacon_callbacks bcb;
		char bwhy[WM_WHY_LEN] = "";
		/* a node on a loopback address cannot be dialled from another
		 * machine: it hears the others' beacons and announces nothing */
		int lo = strncmp(cf->listen, "127.", 4) == 0 || strncmp(cf->listen, "[::1]", 5) == 0 ||
		         strncmp(cf->listen, "localhost:", 10) == 0;
		peers_beacon_callbacks(d, &bcb);
		if (beacon_new(&d->loop, d->self, d->nd->net.name, d->nd->net.secret,
		               (uint16_t)cf->beacon_port, lo ? 0 : (uint16_t)port,
		               cf->beacon_interval * 1000, &bcb, &d->bc, bwhy) != 0)
			d_log(d, D_WARN, "%s; running without beacons", bwhy);
		else
			d_log(d, D_INFO, "beacons on UDP port %u%s", cf->beacon_port,
			      lo ? " (listening only: this node listens on a loopback address, which no "
			           "other machine can reach)" : "");
	}
	uv_timer_start(&d->poll_timer, d_poll_cb, DAEMON_POLL_MS, DAEMON_POLL_MS);
	uv_timer_start(&d->status_timer, status_timer_cb, DAEMON_STATUS_MS, DAEMON_STATUS_MS);
	uv_timer_start(&d->expire_timer, d_expire_cb, 5000, cf->expire_interval * 1000);
	disk_check(d);
	status_write(d, disk_state(d));
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
	/* libuv's pool runs the HTTP API's reads (at most 3 at once) and the
	 * live streams' feed; room for name lookups of dialers beside them.
	 * Read by libuv at its first use of the pool; an operator's value wins. */
	setenv("UV_THREADPOOL_SIZE", "6", 0);
	rc = d_start(d, why);
	if (rc == 0) {
		uv_run(&d->loop, UV_RUN_DEFAULT);
	} else if (d->loop_inited) {
		/* failed half-way: close what was opened, let the loop finish */
		d->stopping = 1;
		beacon_free(d->bc);
		d->bc = NULL;
		http_free(d->http);
		d->http = NULL;
		transport_free(d->tr);
		d->tr = NULL;
		vq_close(d->vq);
		d->vq = NULL;
		uv_walk(&d->loop, d_walk_close, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
	}
	if (d->mesh) {
		if (rc == 0)
			status_write(d, "stopped");
		mesh_free(d->mesh);
		d->mesh = NULL;
	}
	if (d->nd && rc == 0) {
		store_checkpoint(d->nd->store);
		d_log(d, D_INFO, "stopped");
	}
	if (d->loop_inited && uv_loop_close(&d->loop) != 0)
		d_log(d, D_WARN, "event loop closed with handles still open");
	json_decref(d->cert_warns);
	node_dir_close(d->nd);
	key_free(d->self);
	local_free(&d->local);
	trust_cache_free(d->tcache);
	free(d->conns);
	free(d->pend);
	if (d->lockfd >= 0)
		close(d->lockfd);
	free(d);
	return rc;
}
