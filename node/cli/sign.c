/*
 * node/cli/sign: making an event from the command line and delivering it --
 * the drafts of certificates and revocations that `cert` and `post` share,
 * and the signing path every command that makes an event ends in
 * (cli_sign_and_deliver).
 *
 * An event is printed (its id on stdout) only after the store holds it,
 * fsynced; a refusal prints "watchmesh: refused: <reason>" and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "event.h"
#include "files.h"
#include "heads.h"
#include "ingest.h"
#include "keyfile.h"
#include "netfile.h"
#include "nodedir.h"

int cli_need_network(const char *cmd, const char *dir, const char *netfile)
{
	if (dir && netfile)
		return cli_usage_err(cmd, "--network is for --out without --dir (the node at DIR knows its network)");
	if (!dir && !netfile)
		return cli_usage_err(cmd, "--out without --dir needs --network FILE: every event carries its "
		                     "network's id");
	return 0;
}

int cli_sign_and_deliver(struct event_draft *d, const struct key *signer, const char *keypath,
                         struct node_dir *nd, const char *netfile, const char *out)
{
	struct heads heads;
	uint8_t *wire = NULL, id[WM_ID_LEN];
	size_t wlen = 0;
	char why[WM_WHY_LEN] = "", hex[2 * WM_ID_LEN + 1];
	int r, ret = CLI_FAIL;

	if (nd) {
		memcpy(d->network, nd->net.id, WM_NETWORK_LEN);
	} else {
		struct network net;

		if (network_load(netfile, &net, why) != 0) {
			cli_err("%s", why);
			return CLI_FAIL;
		}
		memcpy(d->network, net.id, WM_NETWORK_LEN);
		wmc_wipe(&net, sizeof net);
	}
	/* locked from reading the head to moving it */
	if (heads_open(keypath, &heads, why) != 0) {
		cli_err("%s", why);
		return CLI_FAIL;
	}
	d->has_prev = heads_prev(&heads, d->group, d->prev);
	memcpy(d->author, signer->pub, WM_PUB_LEN);
	if (!d->created_at)
		d->created_at = wm_now_ms();
	r = event_build(d, signer, &wire, &wlen, id, why);
	if (r) {
		cli_err("cannot make this event: %s", why[0] ? why : wm_strerror(r));
		goto out;
	}
	hex_encode(hex, id, WM_ID_LEN);
	if (nd) {
		struct ingest_result res;
		memset(&res, 0, sizeof res);
		nd->ictx.now = wm_now_ms();
		r = ingest_event(&nd->ictx, wire, wlen, INGEST_LOCAL, &res);
		if (r == WM_ESTORE || r == WM_EIO || r == WM_ENOMEM) {
			/* the node failed, not the event: nothing was stored */
			cli_err("could not store the event (nothing was stored): %s", res.why[0] ? res.why : wm_strerror(r));
			goto out;
		}
		if (r && r != WM_EDUP) {
			cli_err("refused: %s", res.why[0] ? res.why : wm_strerror(r));
			goto out;
		}
	}
	if (out) {
		r = files_append(out, wire, wlen, why);
		if (r) {
			cli_err("%s", why);
			goto out;
		}
	}
	/* an expiring event points back into the chain but is no link of it;
	 * the event is delivered already, so a heads file that cannot be
	 * written only costs the chain a new branch, and says so */
	if (d->expires_at == 0 && heads_set(&heads, d->group, id, why) != 0)
		cli_err("%s (the event is delivered; the next one with this key starts a new branch)",
		        why[0] ? why : "cannot write the heads file");
	printf("%s\n", hex);
	fflush(stdout);
	ret = CLI_OK;
out:
	heads_close(&heads);
	free(wire);
	return ret;
}

#define DAY_MS (86400ull * 1000ull)

int cli_cert_draft(const char *cmd, const struct cli_opt *opts, size_t nopts,
                   struct node_dir *nd, struct event_draft *d, uint8_t subject[WM_PUB_LEN], char **groups_buf,
                   struct cval **items)
{
	const char *subj = cli_get(opts, nopts, "subject"), *role = cli_get(opts, nopts, "role");
	const char *name = cli_get(opts, nopts, "name"), *groups = cli_get(opts, nopts, "groups");
	const char *days = cli_get(opts, nopts, "days");
	uint64_t ndays = 365, now;
	size_t ng = 1, i, k;
	char *g, *p;
	struct cval *it;
	int r;

	if (!subj || !role || !name || !groups)
		return cli_usage_err(cmd, "--subject, --role, --name and --groups are required");
	if ((r = cli_resolve_subject(cmd, nd, subj, subject)) != 0)
		return r;
	if (role_from_name(role) == 0)
		return cli_usage_err(cmd, "--role must be station, officer, node or resident");
	if (days && (cli_parse_uint(days, 36500, &ndays) != 0 || ndays == 0))
		return cli_usage_err(cmd, "--days must be a whole number of days, 1 to 36500");
	if (!groups[0])
		return cli_usage_err(cmd, "--groups needs at least one group (\"*\" for all)");
	for (p = (char *)(uintptr_t)groups; *p; p++)
		if (*p == ',')
			ng++;
	if (ng > 64)
		return cli_usage_err(cmd, "at most 64 groups in one certificate");
	g = strdup(groups);
	it = calloc(ng, sizeof *it);
	if (!g || !it) {
		free(g);
		free(it);
		cli_err("out of memory");
		return CLI_FAIL;
	}
	for (i = 0, k = 0, p = g; k < ng; k++) {
		char *c = strchr(p, ',');
		if (c)
			*c = 0;
		if (!*p) {
			free(g);
			free(it);
			return cli_usage_err(cmd, "--groups has an empty group name");
		}
		it[i].type = CV_STR;
		it[i].ptr = (const uint8_t *)p;
		it[i].len = strlen(p);
		i++;
		p = c ? c + 1 : p + strlen(p);
	}
	now = wm_now_ms();
	d->kind = KIND_CERT;
	d->group = WM_NETWORK_GROUP;
	d->created_at = now;
	draft_bin(d, "subject", subject, WM_PUB_LEN);
	draft_str(d, "role", role);
	draft_str(d, "name", name);
	draft_uint(d, "not_before", now);
	draft_uint(d, "not_after", now + ndays * DAY_MS);
	draft_array(d, "groups", it, ng);
	*groups_buf = g;
	*items = it;
	return 0;
}

int cli_revoke_draft(const char *cmd, const struct cli_opt *opts, size_t nopts,
                     struct node_dir *nd, struct event_draft *d, uint8_t subject[WM_PUB_LEN])
{
	const char *subj = cli_get(opts, nopts, "subject"), *reason = cli_get(opts, nopts, "reason");
	int r;

	if (!subj)
		return cli_usage_err(cmd, "--subject PUB is required");
	if ((r = cli_resolve_subject(cmd, nd, subj, subject)) != 0)
		return r;
	d->kind = KIND_REVOKE;
	d->group = WM_NETWORK_GROUP;
	draft_bin(d, "subject", subject, WM_PUB_LEN);
	/* empty unless `cert revoke --dir` fills it from the store (keep.c):
	 * everything the subject's certificates gave it goes */
	draft_array(d, "keep", NULL, 0);
	if (reason && reason[0])
		draft_str(d, "reason", reason);
	return 0;
}
