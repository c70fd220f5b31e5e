/*
 * node/http/http_int.h: what the HTTP room's files share.  http.c runs
 * libmicrohttpd on the loop (listeners, connections and their deadlines,
 * rate limits, dispatch, responses); api.c the routes and the thread-pool
 * jobs that read the store; stream.c the live streams (SSE and ntfy) and
 * the ring of recent events they are served from.  Everything but a job's
 * work function runs on the loop's thread.
 */
#ifndef WM_HTTP_INT_H
#define WM_HTTP_INT_H

#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>
#include <uv.h>

#include "http.h"
#include "route.h"

#define HTTP_READERS_MAX     8        /* read-only store handles kept for jobs */
#define HTTP_JOBS_MAX        3        /* of libuv's 4 threads, for requests' reads: one stays for the streams */
#define HTTP_FIRST_MS        10000    /* a new connection's request complete within */
#define HTTP_FIRST_BUSY_MS   2000     /* ... when more than half the slots are taken */
#define HTTP_IDLE_MS         30000    /* between requests on a kept-alive connection */
#define HTTP_RATE_SLOTS      1024     /* addresses whose request rate is tracked */
#define HTTP_LIST_DEFAULT    100      /* events per listing page */
#define HTTP_LIST_MAX        500
#define HTTP_RING            1024     /* recent events the streams are served from, */
#define HTTP_RING_BYTES      (8u << 20)   /* ... and their rendered bytes at most */
#define HTTP_BACKLOG         200      /* events per catch-up read of one stream */
#define HTTP_STREAM_BUF      (256 * 1024)   /* a stream's unsent bytes at most */

struct http;
struct hreq;
struct stream;

struct hlistener {
	struct http *h;
	struct MHD_Daemon *mhd;
	int tls;
	int port;
	int open;                    /* poll and timer initialised */
	uv_poll_t poll;
	uv_timer_t timer;
};

/* A connection, from accept to close (MHD_OPTION_NOTIFY_CONNECTION). */
struct hconn {
	struct hconn *prev, *next;
	struct hlistener *l;
	int fd;
	uint64_t since;              /* waiting for a whole request since (ms); 0 = not waiting */
	int first;                   /* no request answered yet */
};

struct rate_slot {
	uint8_t addr[16];
	double tokens;
	uint64_t at;
};

enum stream_kind { ST_API, ST_NTFY_JSON, ST_NTFY_SSE };

/* One recent event, rendered once for every stream. */
struct ring_item {
	int64_t seq;
	unsigned kind;
	char group[WM_GROUP_MAX + 1];
	uint64_t created_at;
	char *api;                   /* the event's JSON (api.c's form), one line */
	char *ntfy;                  /* an alert's ntfy message JSON, else NULL */
};

struct counter {
	enum route_id route;
	unsigned status;
	uint64_t n;
};

struct http {
	uv_loop_t *loop;
	struct http_config cfg;      /* strings copied below */
	struct http_hooks hooks;
	char *store_path, *network_name, *cert_pem, *key_pem, *ca_pem, *ca_fingerprint, *web_dir;
	uint8_t root[WM_PUB_LEN];
	struct hlistener ls[2];      /* plain, TLS */
	struct hconn *conns;
	unsigned nconns;
	uv_timer_t sweep;            /* connection deadlines, once a second */
	uv_timer_t heartbeat;        /* stream keepalives */
	uv_timer_t wake;             /* new rows: handled outside libmicrohttpd's callbacks */
	int timers_open;
	int closing;
	unsigned handles_open;       /* closes still to come before h is freed */
	unsigned jobs;               /* thread-pool jobs in flight or waiting, and POSTs unanswered */
	unsigned readers_busy;       /* of those, requests' jobs in the pool (HTTP_JOBS_MAX) */
	struct hjob *queued, *queued_tail;   /* requests' jobs waiting for a thread */

	uv_mutex_t rmu;              /* the readers' pool */
	struct store *readers[HTTP_READERS_MAX];
	size_t nreaders;

	struct rate_slot rate[HTTP_RATE_SLOTS];

	struct counter *counters;
	size_t ncounters, capcounters;
	uint64_t refused_busy;       /* connections shut for a late request */

	/* streams and the ring */
	struct stream *streams;
	unsigned nstreams[3];
	struct ring_item ring[HTTP_RING];
	size_t ring_start, ring_len, ring_bytes;
	int64_t ring_lo;             /* every row with lo < seq <= hi is in the ring */
	int64_t ring_hi;             /* (or, with no streams, simply the rows met) */
	int64_t head;                /* the highest committed seq the daemon told of */
	int feeding;                 /* a feed job is in flight */
	struct hreq *waiting;        /* requests suspended on a job */
};

/* A request (libmicrohttpd's per-request pointer). */
struct hreq {
	struct http *h;
	struct hlistener *l;
	struct MHD_Connection *conn;
	struct route rt;
	int post;
	int too_big;                 /* the body went past WM_MAX_WIRE: dropped */
	int dispatched;
	uint8_t *body;
	size_t blen;
	int suspended;               /* a POST waiting for the daemon's answer */
	struct hpost *post_wait;     /* ... that POST */
	struct hjob *job;            /* in flight */
	struct hreq *wprev, *wnext;  /* in h->waiting while job is set */
	int answered;
	/* a job's answer, queued when the handler runs again */
	int have;
	unsigned status;
	const char *ctype;
	char *resp;
	size_t rlen;
	char etag[64];               /* a web app file's validator, sent when set */
};

/* A POST the daemon has not answered yet (h->jobs counts it, so h
 * outlives it); r is NULL once the request went away. */
struct hpost {
	struct http *h;
	struct hreq *r;
};

/* --- http.c -------------------------------------------------------------- */

void http_log(struct http *h, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
uint64_t http_now(void);
/* Queue a response (takes body, malloc'd or NULL) and count it. */
int http_answer(struct hreq *r, unsigned status, const char *ctype, char *body, size_t len);
/* {"error": why} with status. */
int http_error(struct hreq *r, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* compact JSON of o (decref'd) as the answer */
int http_json(struct hreq *r, unsigned status, json_t *o);
/* The request's Host when it is a plain host[:port] (letters, digits,
 * . - : [ ]), else NULL: it is the client's text. */
const char *http_host(struct hreq *r);
/* The connection's query value, or NULL. */
const char *http_arg(struct hreq *r, const char *name);
/* Run libmicrohttpd now and re-arm the listener's timer. */
void http_run(struct hlistener *l);
/* Free h once it is closing and no handle or job is left. */
void http_maybe_free(struct http *h);

/* --- api.c --------------------------------------------------------------- */

/* The request is whole: answer it, or start its job and suspend. */
int api_dispatch(struct hreq *r);
/* A read-only store handle for a job's thread; NULL with why. */
struct store *api_reader_take(struct http *h, char why[WM_WHY_LEN]);
void api_reader_give(struct http *h, struct store *s);
/* One stored event as the API shows it (with "cursor"), or NULL if it does
 * not decode.  Any thread, with that thread's store handle. */
json_t *api_event_json(struct http *h, struct store *s, const uint8_t *wire, size_t len,
                       int64_t seq, uint64_t now);
/* An alert as an ntfy message, from its API JSON, without its "topic"
 * (each stream puts its own first: stream.c). */
json_t *api_ntfy_message(const json_t *ev, int64_t seq);
/* Start a job on the thread pool: work runs there, done on the loop. */
struct hjob;
typedef void (*job_fn)(struct hjob *j, struct store *s);
typedef void (*job_done_fn)(struct hjob *j);
struct hjob {
	uv_work_t w;
	struct http *h;
	struct hreq *r;              /* NULL once the request went away */
	struct stream *st;           /* a stream's catch-up; NULL once it went away */
	job_fn fn;
	job_done_fn done;
	/* what the job reads */
	char group[WM_GROUP_MAX + 1];
	unsigned kind;
	int64_t after, upto;
	size_t limit;
	uint64_t now, min_created;
	char *q;
	uint8_t evid[WM_ID_LEN];
	int raw;
	int newest;                  /* a listing: the newest first (newest=1) */
	enum stream_kind sk;
	/* what it found */
	unsigned status;
	const char *ctype;
	char *body;
	size_t blen;
	int64_t last;                /* the last seq read */
	size_t count;
	int more;                    /* stopped early (bytes): rows after last unread */
	int filtered;                /* a stream's catch-up: its filter applies */
	int urgent;                  /* the streams' feed: never waits behind requests */
	struct hjob *qnext;          /* in h->queued */
	void *items;                 /* the feed's ring items */
};
struct hjob *api_job_new(struct http *h, job_fn fn, job_done_fn done);
int api_job_start(struct hjob *j);
/* h is closing: every request waiting for a job is answered 503. */
void api_abandon_jobs(struct http *h);

/* --- ca.c ---------------------------------------------------------------- */

/* GET /ca: how to install the network's authority, and a QR code of this
 * node's address. */
int ca_page(struct hreq *r);

/* --- stream.c ------------------------------------------------------------ */

/* Answer r with a live stream of kind sk. */
int stream_open(struct hreq *r, enum stream_kind sk);
/* Read the new rows (a feed job) and wake the streams. */
void stream_feed(struct http *h);
/* Keepalives: every stream gets one, suspended ones are woken. */
void stream_heartbeat(struct http *h);
/* h is closing: end every stream. */
void stream_close_all(struct http *h);
void stream_ring_free(struct http *h);

#endif
