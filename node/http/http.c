/*
 * node/http/http.c: libmicrohttpd on the daemon's loop (http.h).  Each
 * listener is an MHD daemon in epoll mode without threads of its own; the
 * loop watches its epoll descriptor and runs it, and a timer follows
 * MHD_get_timeout().  Around it, what libmicrohttpd does not do itself:
 *   - a deadline for the whole request, not only between bytes: a client
 *     that sends one byte every few seconds would otherwise hold its slot
 *     for ever.  A connection must bring a whole request within
 *     HTTP_FIRST_MS of connecting (HTTP_FIRST_BUSY_MS once more than half
 *     the slots are taken) and the next within HTTP_IDLE_MS of the last
 *     answer; else its socket is shut and libmicrohttpd closes it;
 *   - requests per second per address (a token bucket; 429 beyond);
 *   - the count of answers by route and status, for /metrics.
 * Connections in total and per address are libmicrohttpd's own limits.
 */
#include "http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

uint64_t http_now(void)
{
	return wm_now_ms();
}

void http_log(struct http *h, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!h->hooks.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	h->hooks.log(h->hooks.ctx, level, line);
}

/* --- answers ---------------------------------------------------------------- */

static void count(struct http *h, enum route_id route, unsigned status)
{
	size_t i;

	for (i = 0; i < h->ncounters; i++)
		if (h->counters[i].route == route && h->counters[i].status == status) {
			h->counters[i].n++;
			return;
		}
	if (h->ncounters == h->capcounters) {
		size_t nc = h->capcounters ? 2 * h->capcounters : 32;
		struct counter *nv = realloc(h->counters, nc * sizeof *nv);
		if (!nv)
			return;
		h->counters = nv;
		h->capcounters = nc;
	}
	h->counters[h->ncounters++] = (struct counter){ route, status, 1 };
}

int http_answer(struct hreq *r, unsigned status, const char *ctype, char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;

	resp = body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
	            : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (r->etag[0]) {
		/* kept by the browser and asked again each visit: an unchanged
		 * file costs a 304, a new build is fetched at once */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	}
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		                        r->rt.id == R_EVENTS ? "GET, HEAD, POST" : "GET, HEAD");
	ok = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	r->answered = 1;
	count(r->h, r->rt.id, status);
	return ok;
}

int http_json(struct hreq *r, unsigned status, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;

	json_decref(o);
	if (!s)
		return http_answer(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", NULL, 0);
	return http_answer(r, status, "application/json; charset=utf-8", s, strlen(s));
}

int http_error(struct hreq *r, unsigned status, const char *fmt, ...)
{
	char why[WM_WHY_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return http_json(r, status, json_pack("{ss}", "error", why));
}

const char *http_arg(struct hreq *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_host(struct hreq *r)
{
	const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	size_t i, n = host ? strlen(host) : 0;

	if (n == 0 || n > 255)
		return NULL;
	for (i = 0; i < n; i++) {
		char c = host[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
			return NULL;
	}
	return host;
}

/* --- requests per second per address ------------------------------------------ */

static void addr_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa && sa->sa_family == AF_INET)
		memcpy(key + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	else if (sa && sa->sa_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
}

/* One token from the address's bucket: 1, or 0 when it is empty.  The
 * table is small and fixed: an address not found takes the slot among its
 * neighbours that was used least recently. */
static int rate_take(struct http *h, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	uint8_t key[16];
	uint32_t hash = 2166136261u;
	struct rate_slot *s = NULL, *old = NULL;
	uint64_t now = http_now();
	double cap = 10.0 * h->cfg.rate;
	size_t i;

	addr_key(ci ? ci->client_addr : NULL, key);
	for (i = 0; i < 16; i++)
		hash = (hash ^ key[i]) * 16777619u;
	for (i = 0; i < 8; i++) {
		struct rate_slot *c = &h->rate[(hash + i) % HTTP_RATE_SLOTS];
		if (c->at && memcmp(c->addr, key, 16) == 0) {
			s = c;
			break;
		}
		if (!old || c->at < old->at)
			old = c;
	}
	if (!s) {
		s = old;
		memcpy(s->addr, key, 16);
		s->tokens = cap;
		s->at = now;
	}
	s->tokens += (double)(now - s->at) * h->cfg.rate / 1000.0;
	if (s->tokens > cap)
		s->tokens = cap;
	s->at = now ? now : 1;
	if (s->tokens < 1.0)
		return 0;
	s->tokens -= 1.0;
	return 1;
}

/* --- connections and their deadlines --------------------------------------------- */

static struct hconn *hconn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **sock_ctx,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct hlistener *l = cls;
	struct http *h = l->h;
	struct hconn *c = *sock_ctx;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = calloc(1, sizeof *c);
		if (!c)
			return;
		c->l = l;
		c->fd = ci ? ci->connect_fd : -1;
		c->since = http_now();
		c->first = 1;
		c->next = h->conns;
		if (h->conns)
			h->conns->prev = c;
		h->conns = c;
		h->nconns++;
		*sock_ctx = c;
	} else if (c) {
		if (c->prev)
			c->prev->next = c->next;
		else
			h->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		h->nconns--;
		free(c);
		*sock_ctx = NULL;
	}
}

static void sweep_cb(uv_timer_t *t)
{
	struct http *h = t->data;
	uint64_t now = http_now();
	int busy = h->nconns > h->cfg.max_clients / 2;
	int shut[2] = { 0, 0 };
	struct hconn *c;

	for (c = h->conns; c; c = c->next) {
		uint64_t limit = !c->first ? HTTP_IDLE_MS : busy ? HTTP_FIRST_BUSY_MS : HTTP_FIRST_MS;
		if (!c->since || now - c->since <= limit || c->fd < 0)
			continue;
		/* libmicrohttpd has no call to close a connection from outside a
		 * callback: a shut socket makes it close the connection itself */
		shutdown(c->fd, SHUT_RDWR);
		c->since = 0;
		h->refused_busy++;
		shut[c->l->tls] = 1;
	}
	if (shut[0])
		http_run(&h->ls[0]);
	if (shut[1])
		http_run(&h->ls[1]);
}

/* --- requests ---------------------------------------------------------------------- */

static int content_length_over(struct MHD_Connection *conn, size_t max)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n;

	return cl && route_uint(cl, 0, UINT64_MAX / 2, &n) == 0 && n > max;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upsize, void **con_cls)
{
	struct hlistener *l = cls;
	struct http *h = l->h;
	struct hreq *r = *con_cls;
	char why[WM_WHY_LEN];
	int rc;

	(void)version;
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return MHD_NO;
		r->h = h;
		r->l = l;
		r->conn = conn;
		*con_cls = r;
		rc = route_parse(url, &r->rt, why);
		if (h->closing)
			return (enum MHD_Result)http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the node is shutting down");
		if (!rate_take(h, conn))
			return (enum MHD_Result)http_error(r, MHD_HTTP_TOO_MANY_REQUESTS,
			                                   "too many requests from your address: wait a moment");
		if (rc == WM_ENOTFOUND)
			return (enum MHD_Result)http_error(r, MHD_HTTP_NOT_FOUND, "no such page");
		if (rc)
			return (enum MHD_Result)http_error(r, MHD_HTTP_BAD_REQUEST, "%s", why);
		if (!route_method_ok(r->rt.id, method))
			return (enum MHD_Result)http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
			                                   "%s is not allowed here", method);
		r->post = strcmp(method, "POST") == 0;
		if (r->post && content_length_over(conn, WM_MAX_WIRE))
			return (enum MHD_Result)http_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
			                                   "an event is at most %d bytes", WM_MAX_WIRE);
		if (r->post)
			return MHD_YES;     /* the body follows */
	}
	if (r->answered)
		return MHD_YES;
	if (*upsize) {
		uint8_t *nb;
		/* libmicrohttpd takes no answer in the middle of a body: a body
		 * found too long is read to its end (the request's deadline
		 * bounds that) and dropped, then answered */
		if (r->too_big || r->blen + *upsize > WM_MAX_WIRE) {
			r->too_big = 1;
			*upsize = 0;
			return MHD_YES;
		}
		nb = realloc(r->body, r->blen + *upsize);
		if (!nb)
			return MHD_NO;
		memcpy(nb + r->blen, upload, *upsize);
		r->body = nb;
		r->blen += *upsize;
		*upsize = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return (enum MHD_Result)http_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
		                                   "an event is at most %d bytes", WM_MAX_WIRE);
	if (r->have) {
		char *b = r->resp;
		r->resp = NULL;
		return (enum MHD_Result)http_answer(r, r->status, r->ctype, b, r->rlen);
	}
	if (r->dispatched)
		return MHD_YES;
	r->dispatched = 1;
	{
		struct hconn *c = hconn_of(conn);
		if (c)
			c->since = 0;   /* the request is whole: no deadline while it is answered */
	}
	return api_dispatch(r) == 0 ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct hreq *r = *con_cls;
	struct hconn *c = hconn_of(conn);

	(void)cls;
	(void)toe;
	if (c) {
		c->since = http_now();   /* the next request, if any, within HTTP_IDLE_MS */
		c->first = 0;
	}
	if (!r)
		return;
	if (r->job)
		r->job->r = NULL;
	if (r->post_wait)
		r->post_wait->r = NULL;
	free(r->body);
	free(r->resp);
	free(r);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http *h = cls;
	char line[400];
	size_t n;

	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	http_log(h, HTTP_LOG_DEBUG, "http: %s", line);
}

/* --- the loop ------------------------------------------------------------------------ */

static void timer_cb(uv_timer_t *t)
{
	http_run(t->data);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	http_run(p->data);
}

void http_run(struct hlistener *l)
{
	MHD_UNSIGNED_LONG_LONG to;

	if (!l->mhd)
		return;
	MHD_run(l->mhd);
	if (!l->open)
		return;
	if (MHD_get_timeout(l->mhd, &to) == MHD_YES)
		uv_timer_start(&l->timer, timer_cb, to, 0);
	else
		uv_timer_stop(&l->timer);
}

/* "host:port" (host an IPv4 or IPv6 address, [v6] allowed, or localhost). */
static int parse_addr(const char *s, struct sockaddr_storage *ss, char why[WM_WHY_LEN])
{
	const char *colon = strrchr(s, ':');
	char host[64];
	uint64_t port;
	size_t hl;

	memset(ss, 0, sizeof *ss);
	if (!colon || route_uint(colon + 1, 0, 65535, &port) != 0) {
		wm_why(why, "'%.80s' is not address:port (for example 127.0.0.1:8080)", s);
		return WM_EINVAL;
	}
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof host) {
		wm_why(why, "'%.80s' has no address before the port", s);
		return WM_EINVAL;
	}
	memcpy(host, s, hl);
	host[hl] = 0;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	wm_why(why, "'%s' is not an IP address", host);
	return WM_EINVAL;
}

static int listen_socket(const char *addr, int *fd_out, int *port, char why[WM_WHY_LEN])
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, rc;

	rc = parse_addr(addr, &ss, why);
	if (rc)
		return rc;
	sl = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		wm_why(why, "cannot open a socket: %s", strerror(errno));
		return WM_EIO;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 511) != 0) {
		wm_why(why, "cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		return WM_EIO;
	}
	sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	*fd_out = fd;
	return 0;
}

static int listener_start(struct http *h, struct hlistener *l, const char *addr, int tls,
                          char why[WM_WHY_LEN])
{
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | (tls ? MHD_USE_TLS : 0);
	int fd, rc;

	l->h = h;
	l->tls = tls;
	rc = listen_socket(addr, &fd, &l->port, why);
	if (rc)
		return rc;
	{
		struct MHD_OptionItem opts[] = {
			{ MHD_OPTION_LISTEN_SOCKET, fd, NULL },
			{ MHD_OPTION_CONNECTION_LIMIT, h->cfg.max_clients, NULL },
			{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->cfg.per_ip, NULL },
			{ MHD_OPTION_CONNECTION_TIMEOUT, HTTP_IDLE_MS / 1000, NULL },
			{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL },
			{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
			{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, l },
			{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, h },
			{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, h->key_pem },
			{ tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->cert_pem },
			{ MHD_OPTION_END, 0, NULL },
		};
		l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_ARRAY, opts,
		                          MHD_OPTION_END);
	}
	if (!l->mhd) {
		close(fd);
		wm_why(why, "cannot serve %s on %s%s", tls ? "HTTPS" : "HTTP", addr,
		       tls ? ": the certificate or key was not accepted" : "");
		return WM_EIO;
	}
	di = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di || uv_poll_init(h->loop, &l->poll, di->epoll_fd) != 0) {
		MHD_stop_daemon(l->mhd);
		l->mhd = NULL;
		wm_why(why, "cannot watch the HTTP server's descriptor");
		return WM_EIO;
	}
	uv_timer_init(h->loop, &l->timer);
	l->poll.data = l;
	l->timer.data = l;
	l->open = 1;
	h->handles_open += 2;
	uv_poll_start(&l->poll, UV_READABLE, poll_cb);
	http_run(l);
	return 0;
}

/* --- start and stop ------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void wake_cb(uv_timer_t *t)
{
	stream_feed(t->data);
}

static void heartbeat_cb(uv_timer_t *t)
{
	stream_heartbeat(t->data);
}

static int off(const char *addr)
{
	return !addr || !addr[0] || strcmp(addr, "off") == 0;
}

int http_new(uv_loop_t *loop, const struct http_config *cfg, const struct http_hooks *hooks,
             struct http **out, char why[WM_WHY_LEN])
{
	struct http *h = calloc(1, sizeof *h);
	int rc = 0;

	*out = NULL;
	if (!h)
		return WM_ENOMEM;
	h->loop = loop;
	h->cfg = *cfg;
	h->hooks = *hooks;
	h->store_path = dup_or_null(cfg->store_path);
	h->network_name = dup_or_null(cfg->network_name);
	h->cert_pem = dup_or_null(cfg->cert_pem);
	h->key_pem = dup_or_null(cfg->key_pem);
	h->ca_pem = dup_or_null(cfg->ca_pem);
	h->ca_fingerprint = dup_or_null(cfg->ca_fingerprint);
	h->web_dir = dup_or_null(cfg->web_dir);
	if (!h->cfg.max_clients)
		h->cfg.max_clients = 1024;
	if (!h->cfg.per_ip)
		h->cfg.per_ip = 64;
	if (!h->cfg.rate)
		h->cfg.rate = 50;
	if (!h->cfg.heartbeat_ms)
		h->cfg.heartbeat_ms = 20000;
	if (cfg->root)
		memcpy(h->root, cfg->root, WM_PUB_LEN);
	h->ring_lo = h->ring_hi = h->head = cfg->start_seq;
	uv_mutex_init(&h->rmu);
	uv_timer_init(loop, &h->sweep);
	uv_timer_init(loop, &h->heartbeat);
	uv_timer_init(loop, &h->wake);
	h->sweep.data = h->heartbeat.data = h->wake.data = h;
	h->timers_open = 1;
	h->handles_open = 3;
	if (!h->store_path)
		rc = WM_ENOMEM;
	if (rc == 0 && !off(cfg->http_addr))
		rc = listener_start(h, &h->ls[0], cfg->http_addr, 0, why);
	if (rc == 0 && !off(cfg->https_addr) && h->cert_pem && h->key_pem)
		rc = listener_start(h, &h->ls[1], cfg->https_addr, 1, why);
	if (rc) {
		http_free(h);
		return rc;
	}
	uv_timer_start(&h->sweep, sweep_cb, 1000, 1000);
	uv_timer_start(&h->heartbeat, heartbeat_cb, h->cfg.heartbeat_ms, h->cfg.heartbeat_ms);
	*out = h;
	return 0;
}

int http_port(const struct http *h, int tls)
{
	return h && h->ls[tls ? 1 : 0].mhd ? h->ls[tls ? 1 : 0].port : 0;
}

void http_new_rows(struct http *h, int64_t head)
{
	if (!h || h->closing || head <= h->head)
		return;
	h->head = head;
	uv_timer_start(&h->wake, wake_cb, 0, 0);
}

void http_metrics(const struct http *h, FILE *f)
{
	static const char *const sk[3] = { "sse", "ntfy_json", "ntfy_sse" };
	size_t i;

	if (!h)
		return;
	fprintf(f, "# HELP watchmesh_http_requests_total HTTP requests answered, by route and status.\n"
	           "# TYPE watchmesh_http_requests_total counter\n");
	for (i = 0; i < h->ncounters; i++)
		fprintf(f, "watchmesh_http_requests_total{route=\"%s\",status=\"%u\"} %" PRIu64 "\n",
		        route_name(h->counters[i].route), h->counters[i].status, h->counters[i].n);
	fprintf(f, "# HELP watchmesh_http_streams Live streams open, by kind.\n"
	           "# TYPE watchmesh_http_streams gauge\n");
	for (i = 0; i < 3; i++)
		fprintf(f, "watchmesh_http_streams{kind=\"%s\"} %u\n", sk[i], h->nstreams[i]);
	fprintf(f, "# HELP watchmesh_http_connections HTTP connections open.\n"
	           "# TYPE watchmesh_http_connections gauge\n"
	           "watchmesh_http_connections %u\n"
	           "# HELP watchmesh_http_late_requests_total Connections closed for not sending a whole request in time.\n"
	           "# TYPE watchmesh_http_late_requests_total counter\n"
	           "watchmesh_http_late_requests_total %" PRIu64 "\n",
	        h->nconns, h->refused_busy);
}

static void timer_closed(uv_handle_t *hd)
{
	struct http *h = hd->data;

	h->handles_open--;
	http_maybe_free(h);
}

static void listener_closed(uv_handle_t *hd)
{
	struct http *h = ((struct hlistener *)hd->data)->h;

	h->handles_open--;
	http_maybe_free(h);
}

void http_maybe_free(struct http *h)
{
	size_t i;

	if (!h->closing || h->handles_open || h->jobs)
		return;
	for (i = 0; i < h->nreaders; i++)
		store_close(h->readers[i]);
	uv_mutex_destroy(&h->rmu);
	stream_ring_free(h);
	free(h->counters);
	free(h->store_path);
	free(h->network_name);
	free(h->cert_pem);
	free(h->key_pem);
	free(h->ca_pem);
	free(h->ca_fingerprint);
	free(h->web_dir);
	free(h);
}

void http_free(struct http *h)
{
	int i;

	if (!h || h->closing)
		return;
	h->closing = 1;
	stream_close_all(h);
	api_abandon_jobs(h);
	for (i = 0; i < 2; i++) {
		struct hlistener *l = &h->ls[i];
		if (!l->mhd)
			continue;
		MHD_run(l->mhd);        /* the resumed connections hear the end */
		if (l->open) {
			uv_close((uv_handle_t *)&l->poll, listener_closed);
			uv_close((uv_handle_t *)&l->timer, listener_closed);
			l->open = 0;
		}
		MHD_stop_daemon(l->mhd);
		l->mhd = NULL;
	}
	if (h->timers_open) {
		uv_close((uv_handle_t *)&h->sweep, timer_closed);
		uv_close((uv_handle_t *)&h->heartbeat, timer_closed);
		uv_close((uv_handle_t *)&h->wake, timer_closed);
		h->timers_open = 0;
	}
}
