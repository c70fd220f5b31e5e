/*
 * node/http/route: what a request asks for, from its path and query
 * values alone.  Pure (no libmicrohttpd, no I/O), so the fuzzer and the
 * unit tests drive it directly; every string comes from a client.
 */
#ifndef WM_HTTP_ROUTE_H
#define WM_HTTP_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event.h"

enum route_id {
	R_NONE = 0,
	R_STATUS,        /* GET  /api/v1/status */
	R_EVENTS,        /* GET, POST /api/v1/events */
	R_EVENT,         /* GET  /api/v1/events/{id} */
	R_EVENT_RAW,     /* GET  /api/v1/events/{id}/raw */
	R_STREAM,        /* GET  /api/v1/stream */
	R_SEARCH,        /* GET  /api/v1/search */
	R_CAP_ATOM,      /* GET  /cap/alerts.atom */
	R_CAP_ALERT,     /* GET  /cap/alerts/{id}.xml */
	R_METRICS,       /* GET  /metrics */
	R_CA_CRT,        /* GET  /ca.crt */
	R_CA_PAGE,       /* GET  /ca */
	R_NTFY_JSON,     /* GET  /ntfy/{group}/json */
	R_NTFY_SSE,      /* GET  /ntfy/{group}/sse */
	R_NTFY_AUTH,     /* GET  /ntfy/{group}/auth (the app asks before subscribing) */
	R_APP,           /* GET  / and the web app's files */
	R__COUNT
};

#define ROUTE_PATH_MAX 128

struct route {
	enum route_id id;
	uint8_t evid[WM_ID_LEN];             /* R_EVENT, R_EVENT_RAW, R_CAP_ALERT */
	char group[WM_GROUP_MAX + 1];        /* R_NTFY_*: a group, or its ntfy topic ('-' for '.') */
	char file[ROUTE_PATH_MAX + 1];       /* R_APP: a relative path, "index.html" for "/" */
};

/* The route of a path (already percent-decoded, no query): 0, or
 * WM_ENOTFOUND when no route has it, or WM_EINVAL when the route is right
 * but its id, group or file name is not (why says which). */
int route_parse(const char *path, struct route *r, char why[WM_WHY_LEN]);
/* Its name in /metrics ("events", "stream", ...). */
const char *route_name(enum route_id id);
/* 1 if the method is allowed on the route (HEAD wherever GET is). */
int route_method_ok(enum route_id id, const char *method);

/* A decimal in [lo, hi]: 0, or WM_EINVAL. */
int route_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/*
 * ntfy's since=: "all", a duration ("30s", "10m", "2h", "1d"), a Unix time
 * in seconds, or the id of a message this node sent ("wm" and its cursor).
 * Absent: nothing cached.  Gives a cursor to resume after (seq) or a
 * created_at lower bound (ms).
 */
struct route_since {
	int any;                 /* 0: only new messages */
	int64_t after_seq;       /* resume after this cursor */
	uint64_t min_created;    /* ms; 0 = no bound */
};
int route_ntfy_since(const char *s, uint64_t now_ms, struct route_since *out);

#endif
