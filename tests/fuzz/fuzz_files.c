/*
 * Fuzz target: the text files a node reads from its operators -- the
 * network file (network_parse), watchmesh.conf (conf_parse) and a signer's
 * heads file (heads_parse) -- on arbitrary bytes; the first byte picks
 * which ('h': heads, else even: network, odd: conf).  Invariants (abort on
 * violation): every refusal has a reason; an accepted file encodes
 * (network_encode, conf_encode, heads_encode) to a text that parses back
 * to the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "heads.h"
#include "netfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void network_case(const char *text, size_t len)
{
	struct network n, m;
	char why[WM_WHY_LEN], *out = NULL;
	size_t olen = 0;

	why[0] = '\0';
	if (network_parse(text, len, &n, why) != 0) {
		if (why[0] == '\0')
			abort();
		return;
	}
	if (network_encode(&n, &out, &olen) != 0 || network_parse(out, olen, &m, why) != 0 ||
	    memcmp(&n, &m, sizeof n) != 0)
		abort();
	free(out);
}

static void conf_case(const char *text, size_t len)
{
	struct node_conf *c = malloc(sizeof *c), *d = malloc(sizeof *d);
	char why[WM_WHY_LEN], *out = NULL;

	if (c == NULL || d == NULL)
		abort();
	why[0] = '\0';
	if (conf_parse(text, len, c, why) != 0) {
		if (why[0] == '\0')
			abort();
	} else {
		if (conf_encode(c, &out) != 0 || conf_parse(out, strlen(out), d, why) != 0)
			abort();
		/* the line that set peers is where, not what: only whether one did */
		if (!c->peers_line != !d->peers_line)
			abort();
		d->peers_line = c->peers_line;
		if (memcmp(c, d, sizeof *c) != 0)
			abort();
	}
	free(out);
	free(c);
	free(d);
}

static void heads_case(const char *text, size_t len)
{
	struct heads h, g;
	char why[WM_WHY_LEN], *out = NULL;
	size_t olen = 0;

	memset(&h, 0, sizeof h);
	memset(&g, 0, sizeof g);
	h.fd = g.fd = -1;
	why[0] = '\0';
	if (heads_parse(text, len, &h, why) != 0) {
		if (why[0] == '\0')
			abort();
	} else {
		if (heads_encode(&h, &out, &olen) != 0 || heads_parse(out, olen, &g, why) != 0 || g.n != h.n)
			abort();
		for (size_t i = 0; i < h.n; i++)
			if (strcmp(h.v[i].group, g.v[i].group) != 0 || memcmp(h.v[i].id, g.v[i].id, WM_ID_LEN) != 0)
				abort();
	}
	free(out);
	heads_close(&h);
	heads_close(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] == 'h')
		heads_case((const char *)data + 1, size - 1);
	else if (data[0] & 1)
		conf_case((const char *)data + 1, size - 1);
	else
		network_case((const char *)data + 1, size - 1);
	return 0;
}
