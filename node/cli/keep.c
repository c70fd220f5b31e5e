/*
 * node/cli/keep.c: the keep list of `cert revoke --dir` (PROTOCOL.md §11,
 * "Revocations"), filled from the node's store by the order in which the
 * subject's events ARRIVED there (seq), never by their created_at, which
 * whoever holds the key can forge.
 *
 * Each chain's tip (a lasting event no other held one of the subject's
 * names as prev, in its group) is kept, with the subject's expiring events
 * still running; with --compromised-since T only what arrived before T
 * counts.  The operator sees the tips, the gaps (links not held) and every
 * event of the subject held but not reached, and confirms.
 */
#define _GNU_SOURCE             /* timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "nodedir.h"
#include "trust.h"

#define KEEP_MAX 256

struct held {
	uint8_t id[WM_ID_LEN];
	char group[WM_GROUP_MAX + 1];
	unsigned kind;
	uint64_t expires_at;
	int64_t received_at;
	int has_prev;
	uint8_t prev[WM_ID_LEN];
	int before;             /* arrived before the cut */
	int reached;            /* kept, or an ancestor of a kept one */
	int tip;
};

struct helds {
	struct held *v;
	size_t n, cap;
	int64_t cut;
	int bad;                /* an event did not decode */
};

static int held_add(void *ctx, const struct stored_event *e, int64_t received_at)
{
	struct helds *l = ctx;
	struct event *ev = NULL;
	struct held *h, *v;
	char why[WM_WHY_LEN];

	if (event_decode(e->wire, e->wire_len, &ev, why) != 0) {
		l->bad = 1;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;

		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL) {
			event_free(ev);
			return WM_ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	h = &l->v[l->n++];
	memset(h, 0, sizeof(*h));
	memcpy(h->id, ev->id, WM_ID_LEN);
	snprintf(h->group, sizeof(h->group), "%s", ev->group);
	h->kind = ev->kind;
	h->expires_at = ev->expires_at;
	h->received_at = received_at;
	h->has_prev = ev->has_prev;
	memcpy(h->prev, ev->prev, WM_ID_LEN);
	h->before = l->cut == 0 || received_at < l->cut;
	event_free(ev);
	return 0;
}

static struct held *find(struct helds *l, const uint8_t id[WM_ID_LEN])
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (memcmp(l->v[i].id, id, WM_ID_LEN) == 0)
			return &l->v[i];
	return NULL;
}

static void when(char out[32], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%lld ms", (long long)ms);
}

int cli_parse_time(const char *s, int64_t *ms)
{
	struct tm tm;
	char *end;
	long long v;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end != NULL && *end == '\0' && timegm(&tm) > 0) {    /* 0 would mean "no cut" */
		*ms = (int64_t)timegm(&tm) * 1000;
		return 0;
	}
	v = strtoll(s, &end, 10);
	if (end != s && *end == '\0' && v > 0) {
		*ms = v;
		return 0;
	}
	return -1;
}

/* Every group the subject's certificates cover must be carried here, or
 * events of it may be missing from what keep is filled from. */
struct cover { const char *carried; char missing[1024]; };

static int cover_cb(void *ctx, const struct cert *c)
{
	struct cover *cv = ctx;
	const char *p = c->groups, *end;
	char g[WM_GROUP_MAX + 2];
	size_t n;

	for (; *p != '\0'; p = *end ? end + 1 : end) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		if (n == 0 || n >= sizeof(g))
			continue;
		memcpy(g, p, n);
		g[n] = '\0';
		/* "*" is carried only by a node that carries "*" */
		if (!trust_groups_cover(cv->carried, g)) {
			if (strlen(cv->missing) + n + 2 < sizeof(cv->missing)) {
				if (cv->missing[0])
					strcat(cv->missing, ",");
				strcat(cv->missing, g);
			}
		}
	}
	return 0;
}

void cli_keep_free(struct cli_keep *k)
{
	if (k == NULL)
		return;
	free(k->held);
	free(k->items);
	free(k->entries);
	memset(k, 0, sizeof(*k));
}

int cli_fill_keep(struct node_dir *nd, const uint8_t subject[WM_PUB_LEN], int64_t cut, uint64_t now,
                  int yes, struct event_draft *d, struct cli_keep *out)
{
	struct helds l = { NULL, 0, 0, 0, 0 };
	struct cover cv;
	struct cval *items = NULL, *entries = NULL;
	struct held *h, *p;
	char hx[17], at[32], answer[16];
	size_t i, k, nkeep = 0, nunreached = 0, ngaps = 0, steps;
	int rc, ret = CLI_FAIL;

	memset(&cv, 0, sizeof cv);
	cv.carried = nd->conf.groups;
	if (store_certs_of(nd->store, subject, cover_cb, &cv) != 0) {
		cli_err("cannot read the subject's certificates: %s", store_errmsg(nd->store));
		goto out;
	}
	if (cv.missing[0]) {
		cli_err("refused: this node does not carry group(s) %s, which the subject's certificates "
		        "cover; run the revoke on a node that carries them all", cv.missing);
		goto out;
	}
	l.cut = cut;
	if ((rc = store_arrivals_of(nd->store, subject, held_add, &l)) != 0) {
		cli_err("cannot read the subject's events: %s", store_errmsg(nd->store));
		goto out;
	}
	/* tips: lasting events arrived before the cut that no other such
	 * event of the same group names as prev */
	for (i = 0; i < l.n; i++)
		l.v[i].tip = l.v[i].before && l.v[i].expires_at == 0;
	for (i = 0; i < l.n; i++) {
		h = &l.v[i];
		if (!h->before || h->expires_at != 0 || !h->has_prev)
			continue;
		if ((p = find(&l, h->prev)) != NULL && strcmp(p->group, h->group) == 0)
			p->tip = 0;
	}
	/* what the tips reach, and where a walk meets a link not held */
	for (i = 0; i < l.n; i++) {
		if (!l.v[i].tip)
			continue;
		for (h = &l.v[i], steps = 0; h != NULL && !h->reached && steps < l.n; steps++) {
			h->reached = 1;
			if (!h->has_prev)
				break;
			p = find(&l, h->prev);
			if (p == NULL) {
				hex_encode(hx, h->prev, 8);
				printf("gap        %-24s %s... (a link not held here: what lies below it waits)\n",
				       h->group, hx);
				ngaps++;
			}
			if (p != NULL && (strcmp(p->group, h->group) != 0 || p->expires_at != 0))
				p = NULL;
			h = p;
		}
		nkeep++;
	}
	for (i = 0; i < l.n; i++)
		if (l.v[i].before && l.v[i].expires_at > now) {
			l.v[i].reached = 1;
			nkeep++;
		}
	if (nkeep > KEEP_MAX) {
		cli_err("refused: %zu chains and running alerts to keep, at most %d in one revoke", nkeep, KEEP_MAX);
		goto out;
	}
	if ((items = calloc(nkeep ? nkeep : 1, sizeof(*items))) == NULL ||
	    (entries = calloc(nkeep ? 3 * nkeep : 1, sizeof(*entries))) == NULL) {
		cli_err("out of memory");
		goto out;
	}
	for (i = 0, k = 0; i < l.n; i++) {
		h = &l.v[i];
		hex_encode(hx, h->id, 8);
		when(at, h->received_at);
		if (h->tip || (h->before && h->expires_at > now)) {
			printf("%-10s %-24s %s... %s, arrived %s\n", h->tip ? "tip" : "running", h->group, hx,
			       kind_name(h->kind) ? kind_name(h->kind) : "?", at);
			entries[3 * k] = cval_str(h->group);
			entries[3 * k + 1] = cval_bin(h->id, WM_ID_LEN);
			entries[3 * k + 2] = cval_uint(h->tip ? 0 : h->expires_at);
			items[k].type = CV_ARRAY;
			items[k].items = &entries[3 * k];
			items[k].len = 3;
			k++;
		} else if (!h->reached) {
			printf("unreached  %-24s %s... %s, arrived %s: loses what the certificate gave\n", h->group, hx,
			       kind_name(h->kind) ? kind_name(h->kind) : "?", at);
			nunreached++;
		}
	}
	if (l.bad)
		printf("note: an event of the subject held here did not decode; it is not kept\n");
	printf("keep: %zu entr%s; %zu gap%s; %zu event%s of the subject not kept\n", nkeep, nkeep == 1 ? "y" : "ies",
	       ngaps, ngaps == 1 ? "" : "s", nunreached, nunreached == 1 ? "" : "s");
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			cli_err("refused: confirm on a terminal, or give --yes");
			goto out;
		}
		printf("sign this revoke? [y/N] ");
		fflush(stdout);
		if (fgets(answer, sizeof answer, stdin) == NULL || (answer[0] != 'y' && answer[0] != 'Y')) {
			cli_err("not revoked");
			goto out;
		}
	}
	draft_array(d, "keep", items, nkeep);
	/* the draft points into these until it is signed */
	out->held = l.v;
	out->items = items;
	out->entries = entries;
	l.v = NULL;
	items = entries = NULL;
	ret = CLI_OK;
out:
	free(items);
	free(entries);
	free(l.v);
	return ret;
}
