/*
 * tests/integration/cap_dump: what the HTTP routes /cap/alerts/{id}.xml and
 * /cap/alerts.atom will serve, written as files, so that test_cap.py can
 * validate every document with xmllint before the HTTP room exists.  A test
 * tool, not a subcommand: an operator reaches CAP through the node's API.
 *
 *   usage: cap_dump DIR OUTDIR
 *
 * For every alert the node holds (retracted ones too) it writes
 * OUTDIR/<id>.xml, then OUTDIR/alerts.atom; the base URL is
 * http://127.0.0.1:8080.  A held alert cap_alert_xml refuses prints
 * "refused <id>: <code name>" and the tool exits 1 at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cap.h"
#include "clock.h"
#include "nodedir.h"

#define BASE "http://127.0.0.1:8080"

struct ids {
	uint8_t (*v)[WM_ID_LEN];
	size_t n;
};

static int id_cb(void *ctx, const struct stored_event *e)
{
	struct ids *l = ctx;
	uint8_t (*v)[WM_ID_LEN] = realloc(l->v, (l->n + 1) * sizeof *v);

	if (!v)
		return WM_ENOMEM;
	l->v = v;
	memcpy(v[l->n++], e->id, WM_ID_LEN);
	return 0;
}

static int write_file(const char *dir, const char *name, const char *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cap_dump: cannot write %s\n", path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct store_filter f = { .kind = KIND_ALERT };
	struct node_dir *nd = NULL;
	struct ids l = { 0 };
	char why[WM_WHY_LEN], hex[2 * WM_ID_LEN + 1], name[2 * WM_ID_LEN + 8];
	uint64_t now = wm_now_ms();
	char *xml;
	size_t i, len;
	int rc, bad = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: cap_dump DIR OUTDIR\n");
		return 2;
	}
	if (node_dir_open(argv[1], &nd, why) != 0) {
		fprintf(stderr, "cap_dump: %s\n", why);
		return 1;
	}
	if ((rc = store_events(nd->store, &f, id_cb, &l)) != 0) {
		fprintf(stderr, "cap_dump: listing alerts: %s\n", wm_errname(rc));
		bad = 1;
	}
	for (i = 0; i < l.n; i++) {
		hex_encode(hex, l.v[i], WM_ID_LEN);
		if ((rc = cap_alert_xml(nd->store, nd->net.root, now, l.v[i], BASE, &xml, &len)) != 0) {
			printf("refused %s: %s\n", hex, wm_errname(rc));
			bad = 1;
			continue;
		}
		snprintf(name, sizeof name, "%s.xml", hex);
		bad |= write_file(argv[2], name, xml, len);
		free(xml);
	}
	if ((rc = cap_atom(nd->store, nd->net.root, now, BASE, &xml, &len)) != 0) {
		fprintf(stderr, "cap_dump: atom: %s\n", wm_errname(rc));
		bad = 1;
	} else {
		bad |= write_file(argv[2], "alerts.atom", xml, len);
		free(xml);
	}
	free(l.v);
	node_dir_close(nd);
	return bad;
}
