/*
 * wm-follow: follow a watchmesh node's events through its HTTP API, and
 * resume exactly where it stopped.  An example to copy: libcurl and
 * jansson, nothing of watchmesh's own code.
 *
 *   1. GET /api/v1/events?after=CURSOR, page after page until "more" is
 *      false: what happened while we were away;
 *   2. GET /api/v1/stream with Last-Event-ID: CURSOR (Server-Sent Events):
 *      new events as they arrive;
 *   3. when the node goes away, wait (1 s, doubling up to a minute) and
 *      start again at 1.
 *
 * Every event is printed first and its cursor saved after (FILE.tmp written
 * and renamed over FILE), so a restart prints nothing twice; only a crash
 * between the two can show one event again, and none is ever lost.
 *
 * Whatever the node sends is treated as hostile: text reaches the terminal
 * with every control character escaped (ESC, CR, C1 controls, bidi
 * overrides: a terminal acts on them), answers and lines are bounded, and
 * a cursor that does not go forward is not shown again.
 *
 *   cc -o wm-follow wm-follow.c $(pkg-config --cflags --libs libcurl jansson)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#define PAGE_LIMIT   100             /* events per listing page */
#define ANSWER_MAX   (16u << 20)     /* a listing page: 100 events of at most 64 KiB, as JSON */
#define LINE_MAX_SSE (1u << 20)      /* one line of the stream: one event's JSON */
#define IDLE_S       60L             /* the node sends a keepalive every 15-25 s */
#define BACKOFF_MAX  60
#define WHY_LEN      512

/* How a step ended: go on, try again later, or give up. */
enum { OK = 0, RETRY = -1, FATAL = -2 };

struct follower {
	const char *node;            /* base URL, no trailing slash */
	const char *group, *kind;    /* filters; NULL = all */
	const char *state;           /* the state file; NULL = keep no place */
	const char *cacert;          /* the network's TLS authority (PEM) */
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	char key[65];                /* the node's key, as the state file holds it */
	int64_t cursor;              /* the last event shown */
	int progress;                /* the node answered since the last failure */
	char why[WHY_LEN];           /* what went wrong, one line */
};

static void fail(struct follower *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct follower *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->why, sizeof f->why, fmt, ap);
	va_end(ap);
}

/* --- printing what came from the network ------------------------------------------- */

/* The code point at p (strict UTF-8: no overlong forms, no surrogates),
 * its length, or 0 when the bytes are not UTF-8. */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* What a terminal acts on: C0 and C1 controls, DEL, the bidi overrides
 * and isolates (they reorder the text around them). */
static int is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* s, with every control shown as \xNN or \uNNNN and bytes that are not
 * UTF-8 as \xNN.  A newline starts a new line indented by ind when ind is
 * given; without it the newline is escaped too. */
static void put_safe(FILE *out, const char *s, const char *ind)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, len = strlen(s);
	uint32_t cp;

	while (i < len) {
		n = utf8_next(p + i, len - i, &cp);
		if (n == 1 && cp == '\n' && ind) {
			fprintf(out, "\n%s", ind);
		} else if (n == 0 || (cp < 0x80 && is_control(cp))) {
			fprintf(out, "\\x%02x", p[i]);
			n = 1;
		} else if (is_control(cp)) {
			fprintf(out, "\\u%04x", (unsigned)cp);
		} else {
			fwrite(p + i, 1, n, out);
		}
		i += n;
	}
}

/* The first 8 characters of a key or an id (hex, if the node is honest). */
static void put_short(const char *hex)
{
	char s[9];

	snprintf(s, sizeof s, "%s", hex ? hex : "?");
	put_safe(stdout, s, NULL);
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The content keys worth a line, in the order a reader wants them. */
static const struct { const char *key, *label; } shown[] = {
	{ "headline", "" }, { "title", "" }, { "state", "state: " }, { "what", "" }, { "text", "" },
	{ "note", "note: " }, { "reason", "reason: " }, { "area_desc", "area: " },
	{ "instruction", "what to do: " }, { "name", "name: " }, { "role", "role: " },
};

/*
 *   2026-12-03 20:11  ALERT  gaobu.xinhua  ★ 王警官 · 高埔派出所
 *     寻找走失老人
 *     78岁男性，身穿蓝色外套。
 */
static void print_event(const json_t *ev)
{
	const json_t *c = json_object_get(ev, "content");
	const json_t *refs = json_object_get(ev, "refs");
	const char *kind = str(ev, "kind"), *s;
	time_t t = (time_t)(json_integer_value(json_object_get(ev, "created_at")) / 1000);
	char when[32] = "(no date)";
	struct tm tm;
	size_t i;

	if (localtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
	printf("%s  ", when);
	put_safe(stdout, kind && strcmp(kind, "alert") == 0 ? "ALERT" : kind ? kind : "?", NULL);
	printf("  ");
	put_safe(stdout, (s = str(ev, "group")) ? s : "?", NULL);
	printf("  ");
	/* the mark only for what the node computed as official: a name
	 * alone is whatever its certificate says */
	if (json_is_true(json_object_get(ev, "official")) && (s = str(ev, "official_name"))) {
		printf("★ ");
		put_safe(stdout, s, NULL);
		if ((s = str(ev, "official_station")) && s[0]) {
			printf(" · ");
			put_safe(stdout, s, NULL);
		}
	} else if ((s = str(ev, "author_name"))) {
		put_safe(stdout, s, NULL);
		printf(" (");
		put_safe(stdout, (s = str(ev, "author_role")) ? s : "?", NULL);
		printf(")");
	} else {
		printf("key ");
		put_short(str(ev, "author"));
	}
	printf("\n");
	if (json_array_size(refs) > 0) {
		printf("  re ");
		put_short(json_string_value(json_array_get(refs, 0)));
		printf("\n");
	}
	if (json_is_true(json_object_get(ev, "withheld"))) {
		printf("  (retracted: its text is gone)\n");
		return;
	}
	if (json_object_get(c, "box")) {
		printf("  (sealed: only its recipients can read it)\n");
	}
	for (i = 0; i < sizeof shown / sizeof shown[0]; i++) {
		if (!(s = str(c, shown[i].key)))
			continue;
		printf("  %s", shown[i].label);
		put_safe(stdout, s, "  ");
		printf("\n");
	}
}

/* --- the state file: where we are ---------------------------------------------------- */

/*
 * Four lines:  node <the node's key>  group <G or *>  kind <K or *>
 * cursor <the last event shown>.  A cursor counts one node's arrivals, and
 * a place under one filter is no place under another: a file written for
 * another node or filter is refused rather than skip events.
 */
static int state_load(struct follower *f)
{
	char line[256], key[65] = "", group[80] = "", kind[32] = "", num[24] = "";
	long long cursor = -1;
	FILE *in;

	if (!f->state || !(in = fopen(f->state, "r"))) {
		if (f->state && errno != ENOENT) {
			fail(f, "cannot read %s: %s", f->state, strerror(errno));
			return FATAL;
		}
		return OK;
	}
	while (fgets(line, sizeof line, in)) {
		if (sscanf(line, "node %64[0-9a-f]", key) != 1 && sscanf(line, "group %79s", group) != 1 &&
		    sscanf(line, "kind %31s", kind) != 1 && sscanf(line, "cursor %19[0-9]", num) != 1)
			break;
	}
	fclose(in);
	errno = 0;
	if (num[0])
		cursor = strtoll(num, NULL, 10);
	if (errno)
		cursor = -1;
	if (strlen(key) != 64 || !group[0] || !kind[0] || cursor < 0) {
		fail(f, "%s is not a state file of wm-follow: delete it, or give another --state", f->state);
		return FATAL;
	}
	if (strcmp(group, f->group ? f->group : "*") != 0 || strcmp(kind, f->kind ? f->kind : "*") != 0) {
		fail(f, "%s holds a place for group %s, kind %s (* = all): give the same, or another --state",
		     f->state, group, kind);
		return FATAL;
	}
	memcpy(f->key, key, sizeof key);
	f->cursor = cursor;
	return OK;
}

static int state_save(struct follower *f)
{
	char tmp[4096];
	FILE *out;
	int bad;

	if (!f->state)
		return OK;
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", f->state) >= sizeof tmp) {
		fail(f, "the --state path is too long");
		return FATAL;
	}
	if (!(out = fopen(tmp, "w"))) {
		fail(f, "cannot write %s: %s", tmp, strerror(errno));
		return FATAL;
	}
	fprintf(out, "node %s\ngroup %s\nkind %s\ncursor %" PRId64 "\n", f->key, f->group ? f->group : "*",
	        f->kind ? f->kind : "*", f->cursor);
	/* on the disk before it replaces the old place: a power cut leaves
	 * one or the other, never an empty file */
	bad = fflush(out) != 0 || fsync(fileno(out)) != 0;
	bad |= fclose(out) != 0;
	if (bad || rename(tmp, f->state) != 0) {
		fail(f, "cannot write %s: %s", f->state, strerror(errno));
		return FATAL;
	}
	return OK;
}

/* Show one event and keep our place after it. */
static int take_event(struct follower *f, const json_t *ev, int64_t cursor)
{
	if (cursor <= f->cursor)
		return OK;     /* shown already: a node that repeats itself costs nothing */
	print_event(ev);
	printf("\n");
	fflush(stdout);
	f->cursor = cursor;
	return state_save(f);
}

/* --- HTTP --------------------------------------------------------------------------- */

struct answer {
	char *p;
	size_t len;
	int over;                    /* longer than ANSWER_MAX: the rest dropped */
};

static size_t answer_write(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t len = size * n;
	char *np;

	if (a->len + len > ANSWER_MAX) {
		a->over = 1;
		return 0;
	}
	if (!(np = realloc(a->p, a->len + len + 1)))
		return 0;
	a->p = np;
	memcpy(a->p + a->len, p, len);
	a->len += len;
	a->p[a->len] = 0;
	return len;
}

/* NODE PATH?after=CURSOR&group=G&kind=K (the filters only where given);
 * NULL when out of memory. */
static char *url_of(struct follower *f, const char *path, int with_after)
{
	char *g = f->group ? curl_easy_escape(f->curl, f->group, 0) : NULL;
	char *k = f->kind ? curl_easy_escape(f->curl, f->kind, 0) : NULL;
	char *url = NULL;
	size_t n = strlen(f->node) + strlen(path) + (g ? strlen(g) : 0) + (k ? strlen(k) : 0) + 80;

	if ((!f->group || g) && (!f->kind || k) && (url = malloc(n))) {
		int o = snprintf(url, n, "%s%s?", f->node, path);
		if (with_after)
			o += snprintf(url + o, n - (size_t)o, "after=%" PRId64 "&limit=%d&", f->cursor, PAGE_LIMIT);
		if (g)
			o += snprintf(url + o, n - (size_t)o, "group=%s&", g);
		if (k)
			o += snprintf(url + o, n - (size_t)o, "kind=%s&", k);
		url[o - 1] = 0;    /* the last '?' or '&' */
	}
	curl_free(g);
	curl_free(k);
	return url;
}

/* Options every request shares. */
static void setup(struct follower *f, const char *url)
{
	curl_easy_reset(f->curl);
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	curl_easy_setopt(f->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(f->curl, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(f->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(f->curl, CURLOPT_USERAGENT, "wm-follow/1");
	if (f->cacert) {
		/* the network's authority alone, not the system's as well */
		curl_easy_setopt(f->curl, CURLOPT_CAINFO, f->cacert);
		curl_easy_setopt(f->curl, CURLOPT_CAPATH, NULL);
	}
	f->errbuf[0] = 0;
}

/* Why libcurl gave up, in its words: RETRY, or FATAL when the node is
 * not the one we trust (trying again will not change its certificate). */
static int fail_curl(struct follower *f, CURLcode rc)
{
	const char *e = f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc);

	if (rc == CURLE_PEER_FAILED_VERIFICATION) {
		if (f->cacert)
			fail(f, "%s: its certificate is not from the authority in %s: %s", f->node, f->cacert, e);
		else
			fail(f, "%s: its certificate is from no authority this system trusts: give --cacert "
			     "with the network's authority (the node's /ca.crt): %s", f->node, e);
		return FATAL;
	}
	if (rc == CURLE_SSL_CACERT_BADFILE) {
		fail(f, "cannot use --cacert %s: %s", f->cacert ? f->cacert : "", e);
		return FATAL;
	}
	fail(f, "%s: %s", f->node, e);
	return RETRY;
}

/* An answer that is not 200: the node's {"error": ...} when it gave one.
 * The node refused what we asked (4xx): asking again will not help, except
 * after a rate limit. */
static int fail_status(struct follower *f, long status, const char *body)
{
	json_t *o = body ? json_loads(body, 0, NULL) : NULL;
	const char *e = str(o, "error");
	char safe[256] = "";

	if (e) {
		/* the node's words, printed: escaped like any text it sends */
		FILE *m = fmemopen(safe, sizeof safe - 1, "w");
		if (m) {
			put_safe(m, e, NULL);
			fclose(m);
		}
	}
	fail(f, "%s answered %ld%s%s", f->node, status, e ? ": " : "", safe);
	json_decref(o);
	return status >= 400 && status < 500 && status != 429 && status != 408 ? FATAL : RETRY;
}

/* GET url as JSON: OK and *out (json_decref it), RETRY or FATAL. */
static int get_json(struct follower *f, const char *url, json_t **out)
{
	struct answer a = { 0 };
	json_error_t jerr;
	long status = 0;
	CURLcode rc;
	int r = RETRY;

	setup(f, url);
	curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, answer_write);
	curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(f->curl, CURLOPT_TIMEOUT, 120L);
	rc = curl_easy_perform(f->curl);
	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
	if (a.over)
		fail(f, "%s sent an answer longer than %u MiB", f->node, ANSWER_MAX >> 20);
	else if (rc != CURLE_OK)
		r = fail_curl(f, rc);
	else if (status != 200)
		r = fail_status(f, status, a.p);
	else if (!(*out = json_loadb(a.p ? a.p : "", a.len, 0, &jerr)))
		fail(f, "%s sent an answer that is not JSON (%s)", f->node, jerr.text);
	else if (!json_is_object(*out)) {
		json_decref(*out);
		fail(f, "%s sent an answer that is not a JSON object", f->node);
	} else {
		r = OK;
		f->progress = 1;
	}
	free(a.p);
	return r;
}

/* --- 1. what we missed ------------------------------------------------------------ */

/* The node's key, and the state file's promise that it is the same node. */
static int check_node(struct follower *f)
{
	char *url = url_of(f, "/api/v1/status", 0);
	json_t *st = NULL;
	const char *key;
	int r = url ? get_json(f, url, &st) : FATAL;

	free(url);
	if (r != OK)
		return r;
	key = str(st, "key");
	if (!key || strlen(key) != 64 || strspn(key, "0123456789abcdef") != 64) {
		fail(f, "%s/api/v1/status has no node key: is this a watchmesh node?", f->node);
		r = RETRY;
	} else if (f->key[0] && strcmp(f->key, key) != 0) {
		fail(f, "%s is another node (key %.16s) than the one %s follows (%.16s): give another --state",
		     f->node, key, f->state, f->key);
		r = FATAL;
	} else {
		memcpy(f->key, key, sizeof f->key);
	}
	json_decref(st);
	return r;
}

static int catch_up(struct follower *f)
{
	for (;;) {
		char *url = url_of(f, "/api/v1/events", 1);
		json_t *page = NULL, *events, *ev;
		int64_t before = f->cursor;
		int r, more;
		size_t i;

		r = url ? get_json(f, url, &page) : FATAL;
		free(url);
		if (r != OK)
			return r;
		events = json_object_get(page, "events");
		more = json_is_true(json_object_get(page, "more"));
		if (!json_is_array(events)) {
			fail(f, "%s/api/v1/events has no \"events\" list", f->node);
			r = RETRY;
		}
		json_array_foreach(events, i, ev) {
			json_t *c = json_object_get(ev, "cursor");
			if (r == OK && json_is_integer(c))
				r = take_event(f, ev, json_integer_value(c));
		}
		json_decref(page);
		if (r != OK || !more)
			return r;
		/* "more" with nothing new would ask for the same page forever */
		if (f->cursor == before) {
			fail(f, "%s says there is more after cursor %" PRId64 " but sends nothing new", f->node,
			     f->cursor);
			return RETRY;
		}
	}
}

/* --- 2. what happens now ---------------------------------------------------------------- */

/* A stream being read: Server-Sent Events, line by line (the node sends
 * "id: CURSOR" and one "data: EVENT" line per event, ": keepalive" between). */
struct sse {
	struct follower *f;
	long status;                 /* the answer's status, 0 until the body starts */
	struct answer err;           /* a refusal's body */
	char *line;                  /* the line so far, at most LINE_MAX_SSE */
	size_t len;
	char *data;                  /* the event's data (one line) */
	int64_t id;                  /* its id: field, -1 = none */
	int r;                       /* why reading stopped (OK: the node closed) */
};

static int sse_line(struct sse *s)
{
	struct follower *f = s->f;
	char *v, *end;

	if (s->len > 0 && s->line[s->len - 1] == '\r')
		s->len--;
	s->line[s->len] = 0;
	if (s->len == 0) {
		/* an event is whole: show it only with a cursor, or a restart
		 * could not resume after it */
		json_t *ev = s->data ? json_loads(s->data, 0, NULL) : NULL;
		int r = OK;
		if (json_is_object(ev) && s->id >= 0)
			r = take_event(f, ev, s->id);
		json_decref(ev);
		free(s->data);
		s->data = NULL;
		s->id = -1;
		return r;
	}
	if (s->line[0] == ':')
		return OK;                  /* a keepalive */
	v = strchr(s->line, ':');
	v = v ? v + 1 + (v[1] == ' ') : s->line + s->len;
	if (strncmp(s->line, "id:", 3) == 0) {
		errno = 0;
		s->id = strtoll(v, &end, 10);
		if (errno || end == v || *end || s->id < 0)
			s->id = -1;
	} else if (strncmp(s->line, "data:", 5) == 0) {
		free(s->data);
		s->data = strdup(v);
		if (!s->data) {
			fail(f, "out of memory");
			return FATAL;
		}
	}
	return OK;
}

static size_t sse_write(char *p, size_t size, size_t n, void *ctx)
{
	struct sse *s = ctx;
	struct follower *f = s->f;
	size_t len = size * n, i;

	if (!s->status)
		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200)
		return answer_write(p, size, n, &s->err);
	f->progress = 1;
	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			if ((s->r = sse_line(s)) != OK)
				return 0;
			s->len = 0;
		} else if (s->len == LINE_MAX_SSE) {
			fail(f, "%s sent a line longer than %u KiB", f->node, LINE_MAX_SSE >> 10);
			s->r = RETRY;
			return 0;
		} else {
			s->line[s->len++] = p[i];
		}
	}
	return len;
}

static int follow(struct follower *f)
{
	struct sse s = { .f = f, .id = -1, .line = malloc(LINE_MAX_SSE + 1) };
	struct curl_slist *hdr = NULL;
	char last[64], *url = url_of(f, "/api/v1/stream", 0);
	CURLcode rc;
	int r;

	snprintf(last, sizeof last, "Last-Event-ID: %" PRId64, f->cursor);
	hdr = curl_slist_append(hdr, "Accept: text/event-stream");
	hdr = hdr ? curl_slist_append(hdr, last) : NULL;
	if (!s.line || !url || !hdr) {
		fail(f, "out of memory");
		r = FATAL;
		goto out;
	}
	setup(f, url);
	curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, sse_write);
	curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, &s);
	/* a node that vanished (power cut, cable out) sends no FIN either: its
	 * silence past the keepalives says so */
	curl_easy_setopt(f->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(f->curl, CURLOPT_LOW_SPEED_TIME, IDLE_S);
	rc = curl_easy_perform(f->curl);
	if (s.r != OK)
		r = s.r;
	else if (s.status && s.status != 200)
		r = fail_status(f, s.status, s.err.p);
	else if (rc == CURLE_OPERATION_TIMEDOUT) {
		fail(f, "%s sent nothing for %ld s, not even a keepalive", f->node, IDLE_S);
		r = RETRY;
	} else if (rc != CURLE_OK) {
		r = fail_curl(f, rc);
	} else {
		fail(f, "%s closed the stream", f->node);
		r = RETRY;
	}
out:
	curl_slist_free_all(hdr);
	free(url);
	free(s.line);
	free(s.data);
	free(s.err.p);
	return r;
}

/* --- main ---------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: wm-follow [--node URL] [--group G] [--kind K] [--state FILE] [--cacert FILE]\n"
	        "  Prints a watchmesh node's events: first those after the place saved in FILE,\n"
	        "  then new ones as they arrive, saving the place after each.\n"
	        "  --node URL     the node's API (default http://127.0.0.1:8080)\n"
	        "  --group G      one group's events only\n"
	        "  --kind K       one kind only (alert, bulletin, request, ...)\n"
	        "  --state FILE   where to keep our place (without it: every event, nothing kept)\n"
	        "  --cacert FILE  for https://: the network's TLS authority (the node's /ca.crt)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' }, { "group", required_argument, NULL, 'g' },
		{ "kind", required_argument, NULL, 'k' }, { "state", required_argument, NULL, 's' },
		{ "cacert", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct follower f = { .node = "http://127.0.0.1:8080" };
	char *node = NULL;
	unsigned wait = 1;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': f.node = optarg; break;
		case 'g': f.group = optarg; break;
		case 'k': f.kind = optarg; break;
		case 's': f.state = optarg; break;
		case 'c': f.cacert = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (strncmp(f.node, "http://", 7) != 0 && strncmp(f.node, "https://", 8) != 0) {
		fprintf(stderr, "wm-follow: --node takes an http:// or https:// URL\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(f.curl = curl_easy_init()) ||
	    !(node = strdup(f.node))) {
		fprintf(stderr, "wm-follow: cannot start libcurl\n");
		return 1;
	}
	for (c = (int)strlen(node); c > 0 && node[c - 1] == '/'; c--)
		node[c - 1] = 0;     /* paths are added with their own '/' */
	f.node = node;
	r = state_load(&f);
	while (r != FATAL) {
		f.progress = 0;
		if ((r = check_node(&f)) == OK && (r = catch_up(&f)) == OK)
			r = follow(&f);
		if (r == FATAL)
			break;
		/* the node answered: it is back, so try again soon */
		if (f.progress)
			wait = 1;
		fprintf(stderr, "wm-follow: %s; trying again in %u s\n", f.why, wait);
		sleep(wait);
		wait = wait * 2 > BACKOFF_MAX ? BACKOFF_MAX : wait * 2;
	}
	fprintf(stderr, "wm-follow: %s\n", f.why);
	curl_easy_cleanup(f.curl);
	curl_global_cleanup();
	free(node);
	return 1;
}
