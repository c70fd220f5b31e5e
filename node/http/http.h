/*
 * node/http: the node's HTTP(S) API (DESIGN.md, "Node surface"), on the
 * daemon's libuv loop.  libmicrohttpd runs without threads of its own, in
 * epoll mode: a uv_poll_t watches its epoll descriptor and a uv_timer_t is
 * re-armed from MHD_get_timeout() after every run.  Slow work (listings,
 * searches, CAP) runs in libuv's thread pool on read-only store
 * connections; the loop keeps the writes and the live streams.
 *
 * The room knows the daemon only through struct http_hooks: it never sees
 * the mesh.  The daemon tells it when the store has new rows
 * (http_new_rows) and the streams (SSE, ntfy) read them from there.
 */
#ifndef WM_HTTP_H
#define WM_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "error.h"
#include "ingest.h"
#include "store.h"
#include "wmcrypto.h"

struct http;

/* Log levels of http_hooks.log, the daemon's own (node/daemon/local.h). */
enum { HTTP_LOG_DEBUG = 0, HTTP_LOG_INFO = 1, HTTP_LOG_WARN = 2 };

/* The answer to one POST (res->code 0: stored, and on the disk). */
typedef void (*http_submit_done)(void *arg, const struct ingest_result *res);

struct http_hooks {
	void *ctx;
	/* POST /api/v1/events: ingest a client's signed event and push it to
	 * the mesh.  done(arg, res) is called once, on the loop: inside this
	 * call for a refusal, else once the write holding the event is on the
	 * disk (or has failed).  The request is suspended meanwhile.  Every
	 * done is called before http_free. */
	void (*submit)(void *ctx, const uint8_t *wire, size_t len, http_submit_done done, void *arg);
	/* GET /api/v1/status: the status document (status.json's); caller
	 * json_decref's.  On the loop. */
	struct json_t *(*status)(void *ctx);
	/* GET /metrics: the daemon's lines, Prometheus text format.  On the loop. */
	void (*metrics)(void *ctx, FILE *out);
	/* One log line (no newline), at an HTTP_LOG_ level. */
	void (*log)(void *ctx, int level, const char *line);
};

struct http_config {
	const char *store_path;      /* DIR/store.db, opened read-only by the readers */
	struct store *store;         /* the daemon's store: the loop's reads */
	const uint8_t *root;         /* the network's root key */
	const char *network_name;
	const char *http_addr;       /* "host:port", or NULL/"off" */
	const char *https_addr;      /* "host:port", or NULL/"off" (needs cert and key) */
	const char *cert_pem;        /* HTTPS chain, PEM; NULL = no HTTPS */
	const char *key_pem;
	const char *ca_pem;          /* served at /ca.crt; NULL = 404 */
	const char *ca_fingerprint;  /* its SHA-256, hex with colons, shown at /ca */
	const char *web_dir;         /* the web app's built assets; NULL or missing = a page saying so */
	unsigned max_clients;        /* connections at most, per listener */
	unsigned per_ip;             /* connections at most from one address */
	unsigned rate;               /* requests/s from one address (burst 10x) */
	unsigned heartbeat_ms;       /* stream keepalives (20000) */
	int64_t start_seq;           /* the store's highest seq: streams start after it */
};

/* Start listening.  0, or a code with why ("cannot listen on ...: ..."). */
int http_new(uv_loop_t *loop, const struct http_config *cfg, const struct http_hooks *hooks,
             struct http **out, char why[WM_WHY_LEN]);
/* The ports bound (for a ":0" address); 0 when that listener is off. */
int http_port(const struct http *h, int tls);
/* Rows up to seq head are committed: the streams read what they have not
 * seen and are woken (later on the loop, never inside this call).  Cheap;
 * call after every commit. */
void http_new_rows(struct http *h, int64_t head);
/* Prometheus lines of the HTTP room itself (requests by route and status,
 * stream clients). */
void http_metrics(const struct http *h, FILE *out);
/* Close every connection and listener; the loop must run once more to
 * finish closing its handles.  NULL is fine. */
void http_free(struct http *h);

#endif
