/*
 * node/http/route: paths and query values to routes (route.h).  Every
 * input is a client's: lengths are checked before anything is copied and
 * nothing is guessed.
 */
#include "route.h"

#include <string.h>

#include "wmcrypto.h"

static const char *const names[R__COUNT] = {
	[R_NONE] = "none",         [R_STATUS] = "status",     [R_EVENTS] = "events",
	[R_EVENT] = "event",       [R_EVENT_RAW] = "event_raw", [R_STREAM] = "stream",
	[R_SEARCH] = "search",     [R_CAP_ATOM] = "cap_atom", [R_CAP_ALERT] = "cap_alert",
	[R_METRICS] = "metrics",   [R_CA_CRT] = "ca_crt",     [R_CA_PAGE] = "ca_page",
	[R_NTFY_JSON] = "ntfy_json", [R_NTFY_SSE] = "ntfy_sse", [R_NTFY_AUTH] = "ntfy_auth",
	[R_APP] = "app",
};

const char *route_name(enum route_id id)
{
	return (unsigned)id < R__COUNT ? names[id] : "none";
}

int route_method_ok(enum route_id id, const char *method)
{
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return 1;
	return id == R_EVENTS && strcmp(method, "POST") == 0;
}

/* 64 hex digits, exactly, into id. */
static int parse_id(const char *s, size_t len, uint8_t id[WM_ID_LEN], char why[WM_WHY_LEN])
{
	if (len != 2 * WM_ID_LEN || hex_decode(id, WM_ID_LEN, s, len) != 0) {
		wm_why(why, "an event id is 64 hex digits");
		return WM_EINVAL;
	}
	return 0;
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The web app's files: letters, digits, '.', '-', '_' and '/' between
 * names that do not start with a dot, and no ".." anywhere, so no path
 * leaves the folder. */
static int app_file_ok(const char *f, size_t len)
{
	size_t i;

	if (len == 0 || len > ROUTE_PATH_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = f[i];
		if ((i == 0 || f[i - 1] == '/') && (c == '.' || c == '/'))
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_' || c == '/'))
			return 0;
	}
	return f[len - 1] != '/' && !strstr(f, "..");
}

int route_parse(const char *path, struct route *r, char why[WM_WHY_LEN])
{
	size_t len = strlen(path);

	memset(r, 0, sizeof *r);
	why[0] = 0;
	if (strcmp(path, "/api/v1/status") == 0)
		r->id = R_STATUS;
	else if (strcmp(path, "/api/v1/events") == 0)
		r->id = R_EVENTS;
	else if (strcmp(path, "/api/v1/stream") == 0)
		r->id = R_STREAM;
	else if (strcmp(path, "/api/v1/search") == 0)
		r->id = R_SEARCH;
	else if (strcmp(path, "/cap/alerts.atom") == 0)
		r->id = R_CAP_ATOM;
	else if (strcmp(path, "/metrics") == 0)
		r->id = R_METRICS;
	else if (strcmp(path, "/ca.crt") == 0)
		r->id = R_CA_CRT;
	else if (strcmp(path, "/ca") == 0)
		r->id = R_CA_PAGE;
	else if (starts(path, "/api/v1/events/")) {
		const char *p = path + strlen("/api/v1/events/");
		size_t l = strlen(p);
		if (l > 4 && strcmp(p + l - 4, "/raw") == 0) {
			r->id = R_EVENT_RAW;
			l -= 4;
		} else
			r->id = R_EVENT;
		return parse_id(p, l, r->evid, why);
	} else if (starts(path, "/cap/alerts/")) {
		const char *p = path + strlen("/cap/alerts/");
		size_t l = strlen(p);
		if (l < 4 || strcmp(p + l - 4, ".xml") != 0)
			return WM_ENOTFOUND;
		r->id = R_CAP_ALERT;
		return parse_id(p, l - 4, r->evid, why);
	} else if (starts(path, "/ntfy/")) {
		const char *g = path + strlen("/ntfy/"), *slash = strchr(g, '/');
		size_t gl;
		if (!slash)
			return WM_ENOTFOUND;
		if (strcmp(slash, "/json") == 0)
			r->id = R_NTFY_JSON;
		else if (strcmp(slash, "/sse") == 0)
			r->id = R_NTFY_SSE;
		else if (strcmp(slash, "/auth") == 0)
			r->id = R_NTFY_AUTH;
		else
			return WM_ENOTFOUND;
		gl = (size_t)(slash - g);
		if (gl == 0 || gl > WM_GROUP_MAX || !event_group_valid(g, gl)) {
			wm_why(why, "'%.*s' is not a group name", (int)(gl > 64 ? 64 : gl), g);
			return WM_EINVAL;
		}
		memcpy(r->group, g, gl);
	} else if (strcmp(path, "/") == 0) {
		r->id = R_APP;
		strcpy(r->file, "index.html");
	} else if (path[0] == '/' && !starts(path, "/api/") && app_file_ok(path + 1, len - 1)) {
		r->id = R_APP;
		memcpy(r->file, path + 1, len - 1);
	} else
		return WM_ENOTFOUND;
	return 0;
}

int route_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t x = 0;
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0 || n > 19)
		return WM_EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return WM_EINVAL;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x < lo || x > hi)
		return WM_EINVAL;
	*out = x;
	return 0;
}

int route_ntfy_since(const char *s, uint64_t now_ms, struct route_since *out)
{
	size_t n;
	uint64_t x, unit;

	memset(out, 0, sizeof *out);
	if (!s || !s[0])
		return 0;
	out->any = 1;
	if (strcmp(s, "all") == 0)
		return 0;
	if (s[0] == 'w' && s[1] == 'm') {
		if (route_uint(s + 2, 0, INT64_MAX, &x) != 0)
			return WM_EINVAL;
		out->after_seq = (int64_t)x;
		return 0;
	}
	if (route_uint(s, 0, UINT64_MAX / 1000, &x) == 0) {
		out->min_created = x * 1000;
		return 0;
	}
	n = strlen(s);
	if (n < 2 || n > 12)
		return WM_EINVAL;
	switch (s[n - 1]) {
	case 's': unit = 1000; break;
	case 'm': unit = 60 * 1000; break;
	case 'h': unit = 3600 * 1000; break;
	case 'd': unit = 86400 * 1000; break;
	default: return WM_EINVAL;
	}
	{
		char num[16];
		memcpy(num, s, n - 1);
		num[n - 1] = 0;
		if (route_uint(num, 0, 100ull * 365 * 86400, &x) != 0)
			return WM_EINVAL;
	}
	x *= unit;
	out->min_created = now_ms > x ? now_ms - x : 1;
	return 0;
}
