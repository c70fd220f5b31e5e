/* See fixture.h. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

void fx_store_new(struct fx_dir *d, const char *tag, struct store **s)
{
	char why[WM_WHY_LEN];

	assert_int_equal(wmc_init(), 0);
	snprintf(d->dir, sizeof(d->dir), "/tmp/wm-test-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->path, sizeof(d->path), "%s/store.db", d->dir);
	if (store_open(d->path, s, why) != 0)
		fail_msg("store_open: %s", why);
}

void fx_store_remove(const struct fx_dir *d)
{
	char p[sizeof(d->dir) + 260];
	struct dirent *de;
	DIR *dh = opendir(d->dir);

	if (dh != NULL) {
		while ((de = readdir(dh)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", d->dir, de->d_name);
			unlink(p);
		}
		closedir(dh);
	}
	rmdir(d->dir);
}

void fx_keys_new(struct key **k, size_t n, uint8_t base)
{
	uint8_t seed[32];
	size_t i;

	for (i = 0; i < n; i++) {
		memset(seed, base + (int)i, sizeof(seed));
		assert_int_equal(key_from_seed(seed, &k[i]), 0);
	}
}

void fx_keys_free(struct key **k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		key_free(k[i]);
}

void fx_draft(struct event_draft *d, const struct key *k, unsigned kind, const char *group,
              uint64_t created)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	memcpy(d->author, k->pub, WM_PUB_LEN);
	d->created_at = created;
	d->group = group;
}

struct fx_ev fx_build(const struct event_draft *d, const struct key *k)
{
	struct fx_ev e;
	char why[WM_WHY_LEN];

	if (event_build(d, k, &e.wire, &e.len, e.id, why) != 0)
		fail_msg("event_build: %s", why);
	return e;
}

struct fx_node *fx_node_new(const char *tag, size_t nkeys, uint8_t key_base, uint64_t now)
{
	struct fx_node *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(nkeys >= 1 && nkeys <= FX_NODE_KEYS);
	fx_store_new(&f->d, tag, &f->s);
	fx_keys_new(f->k, nkeys, key_base);
	f->nkeys = nkeys;
	f->ctx.store = f->s;
	memcpy(f->ctx.root, f->k[0]->pub, WM_PUB_LEN);
	f->ctx.now = now;
	return f;
}

void fx_node_free(struct fx_node *f)
{
	if (f == NULL)
		return;
	store_close(f->s);
	fx_keys_free(f->k, f->nkeys);
	fx_store_remove(&f->d);
	free(f);
}
