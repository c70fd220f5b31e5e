/*
 * node/cli/list: events collected from the store and printed, as `feed`,
 * `show` and `search` show them: as text, answers nested under their
 * target, or as one JSON array.  Events are decoded here, once, when
 * printed; one that no longer decodes is skipped with a note.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "event.h"
#include "render.h"

int cli_collect_cb(void *ctx, const struct stored_event *e)
{
	struct cli_list *l = ctx;
	struct cli_item *it;
	if (!e->wire)
		return 0;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct cli_item *nv = realloc(l->v, nc * sizeof *nv);
		if (!nv) {
			l->err = WM_ENOMEM;
			return 1;
		}
		l->v = nv;
		l->cap = nc;
	}
	it = &l->v[l->n];
	memset(it, 0, sizeof *it);
	it->parent = -1;
	it->wire = malloc(e->wire_len ? e->wire_len : 1);
	if (!it->wire) {
		l->err = WM_ENOMEM;
		return 1;
	}
	memcpy(it->wire, e->wire, e->wire_len);
	it->len = e->wire_len;
	it->created_at = e->created_at;
	memcpy(it->id, e->id, WM_ID_LEN);
	l->n++;
	return 0;
}

void cli_list_free(struct cli_list *l)
{
	size_t i;
	for (i = 0; i < l->n; i++) {
		event_free(l->v[i].ev);
		free(l->v[i].wire);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

void cli_list_decode(struct cli_list *l)
{
	size_t i, o = 0;
	char why[WM_WHY_LEN];
	for (i = 0; i < l->n; i++) {
		struct cli_item it = l->v[i];
		if (!it.ev && event_decode_stored(it.wire, it.len, &it.ev, why) != 0) {
			cli_err("skipping a stored event that does not decode: %s", why);
			free(it.wire);
			continue;
		}
		l->v[o++] = it;
	}
	l->n = o;
}

#define TREE_DEPTH 6    /* answers nested at most this deep */

static int answers(unsigned kind)
{
	return kind == KIND_REPLY || kind == KIND_STATUS || kind == KIND_ACK || kind == KIND_RETRACT;
}

static void print_tree(const struct render_ctx *rc, struct cli_list *l, size_t idx, int depth)
{
	size_t j;
	l->v[idx].shown = 1;
	render_event_text(stdout, rc, l->v[idx].ev, depth);
	/* children oldest first: the list is newest first, so walk it backwards.
	 * A chain of answers is built by whoever posts them: past TREE_DEPTH
	 * levels the rest is shown on its own (below), never by deeper recursion */
	if (depth >= TREE_DEPTH)
		return;
	for (j = l->n; j-- > 0;)
		if (l->v[j].parent == (int)idx && !l->v[j].shown)
			print_tree(rc, l, j, depth + 1);
}

void cli_render_init(struct render_ctx *rc, struct node_dir *nd, const struct key *reader)
{
	memset(rc, 0, sizeof *rc);
	rc->store = nd->store;
	rc->root = nd->net.root;
	rc->reader = reader;
	rc->now = wm_now_ms();
}

int cli_dump_json(json_t *j)
{
	int r = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(j);
	return r == 0 && !ferror(stdout) ? CLI_OK : CLI_FAIL;
}

int cli_print_list(struct node_dir *nd, const struct key *reader, struct cli_list *l, int json,
                   int nest)
{
	struct render_ctx rc;
	size_t i, j;

	cli_render_init(&rc, nd, reader);
	cli_list_decode(l);
	if (json) {
		json_t *arr = json_array();
		if (!arr)
			return CLI_FAIL;
		for (i = 0; i < l->n; i++) {
			json_t *o = render_event_json(&rc, l->v[i].ev);
			if (!o || json_array_append_new(arr, o) != 0) {
				json_decref(arr);
				cli_err("out of memory");
				return CLI_FAIL;
			}
		}
		return cli_dump_json(arr);
	}
	if (l->n == 0) {
		printf("(no events)\n");
		return CLI_OK;
	}
	if (nest)
		for (i = 0; i < l->n; i++) {
			const struct event *ev = l->v[i].ev;
			const uint8_t *to = l->v[i].has_under ? l->v[i].under : ev->refs[0];
			if (ev->nrefs == 0 || !answers(ev->kind))
				continue;
			for (j = 0; j < l->n; j++)
				if (j != i && memcmp(l->v[j].ev->id, to, WM_ID_LEN) == 0) {
					l->v[i].parent = (int)j;
					break;
				}
		}
	for (i = 0; i < l->n; i++) {
		if (l->v[i].shown || (l->v[i].parent >= 0 && nest))
			continue;
		print_tree(&rc, l, i, 0);
		printf("\n");
	}
	/* anything left (a loop of refs) still gets shown */
	for (i = 0; i < l->n; i++)
		if (!l->v[i].shown) {
			render_event_text(stdout, &rc, l->v[i].ev, 0);
			printf("\n");
		}
	return ferror(stdout) ? CLI_FAIL : CLI_OK;
}
