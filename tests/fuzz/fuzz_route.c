/*
 * Fuzz target: what the HTTP room reads from a request's path and query
 * values (node/http/route.c) on arbitrary bytes; the first byte picks
 * ('s': ntfy's since=, 'u': a decimal, else a path).  Invariants (abort on
 * violation): a refused path has a reason when it names a route; an
 * accepted path names a route whose parts are what the path says -- an
 * event id that encodes back to the path's hex, a valid group, a web app
 * file that cannot leave its folder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include "route.h"
#include "wmcrypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void path_case(const char *p)
{
	struct route r;
	char why[WM_WHY_LEN], hex[2 * WM_ID_LEN + 1];
	int rc = route_parse(p, &r, why);

	if (rc == WM_EINVAL && !why[0])
		abort();
	if (rc != 0)
		return;
	if (r.id <= R_NONE || r.id >= R__COUNT || !route_name(r.id))
		abort();
	if (r.id == R_EVENT || r.id == R_EVENT_RAW || r.id == R_CAP_ALERT) {
		char *low = strdup(p);
		size_t i;
		if (!low)
			return;
		for (i = 0; low[i]; i++)
			low[i] = (char)tolower((unsigned char)low[i]);
		hex_encode(hex, r.evid, WM_ID_LEN);
		if (!strstr(low, hex))
			abort();
		free(low);
	}
	if ((r.id == R_NTFY_JSON || r.id == R_NTFY_SSE) &&
	    !event_group_valid(r.group, strlen(r.group)))
		abort();
	if (r.id == R_APP && (r.file[0] == '/' || r.file[0] == '.' || strstr(r.file, "/.") ||
	                      strstr(r.file, "..") || !r.file[0]))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	uint64_t x;
	struct route_since since;

	if (size == 0)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	if (data[0] == 's') {
		if (route_ntfy_since(s, 1700000000000ull, &since) == 0 &&
		    (since.after_seq < 0 || (!since.any && (since.after_seq || since.min_created))))
			abort();
	} else if (data[0] == 'u') {
		if (route_uint(s, 5, 1000, &x) == 0 && (x < 5 || x > 1000))
			abort();
	} else {
		path_case(s);
	}
	free(s);
	return 0;
}
