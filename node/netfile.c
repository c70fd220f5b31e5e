/*
 * node/netfile: the network file (format in netfile.h): its text to and
 * from struct network.  The file holds the network secret, so every copy
 * of its text and of the struct is wiped once used.
 */
#include "files.h"
#include "netfile.h"
#include "trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NET_MAGIC "watchmesh-network 1"

int network_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0, i;
	if (n == 0 || n > NETWORK_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* The keyword lines of a network file, each at most once. */
static const char *const net_keys[] = { "name", "id", "root", "secret", "vouched" };
enum { NK_NAME, NK_ID, NK_ROOT, NK_SECRET, NK_VOUCHED, NK_COUNT };

int network_parse(const char *text, size_t len, struct network *out, char why[WM_WHY_LEN])
{
	struct network n;
	size_t i = 0, lineno = 0;
	int seen[NK_COUNT] = { 0 }, key;
	char ln[16];

	memset(&n, 0, sizeof n);
	while (i < len) {
		size_t e = i, l, kl, vl = 0;
		const char *s = text + i, *v = NULL, *sp;
		while (e < len && text[e] != '\n')
			e++;
		l = e - i;
		if (l > 0 && s[l - 1] == '\r')
			l--;
		i = e + 1;
		lineno++;
		snprintf(ln, sizeof ln, "%zu", lineno);
		if (memchr(s, '\0', l) != NULL) {
			wm_why(why, "line %s: a NUL byte (not a text file?)", ln);
			goto bad;
		}
		if (lineno == 1) {
			if (l != strlen(NET_MAGIC) || memcmp(s, NET_MAGIC, l) != 0) {
				wm_why(why, "not a watchmesh network file (the first line should be '%s')",
				        NET_MAGIC);
				goto bad;
			}
			continue;
		}
		if (l == 0 || s[0] == '#')
			continue;               /* blank or comment */
		/* "keyword value": the value is everything after the first space */
		sp = memchr(s, ' ', l);
		kl = sp ? (size_t)(sp - s) : l;
		for (key = 0; key < NK_COUNT; key++)
			if (strlen(net_keys[key]) == kl && memcmp(s, net_keys[key], kl) == 0)
				break;
		if (key == NK_COUNT || sp == NULL || sp + 1 == s + l) {
			wm_why(why, "line %s: unknown line in network file", ln);
			goto bad;
		}
		if (seen[key]) {
			wm_why(why, "line %s: a second '%s' line", ln, net_keys[key]);
			goto bad;
		}
		seen[key] = 1;
		v = sp + 1;
		vl = l - kl - 1;
		switch (key) {
		case NK_NAME:
			if (vl > NETWORK_NAME_MAX) {
				wm_why(why, "line %s: the network name is longer than 64 bytes", ln);
				goto bad;
			}
			memcpy(n.name, v, vl);
			if (!network_name_ok(n.name)) {
				wm_why(why, "line %s: bad network name", ln);
				goto bad;
			}
			break;
		case NK_ID:
			if (vl != 2 * WM_NETWORK_LEN || hex_decode(n.id, WM_NETWORK_LEN, v, vl)) {
				wm_why(why, "line %s: 'id' needs %d hex digits", ln, 2 * WM_NETWORK_LEN);
				goto bad;
			}
			break;
		case NK_ROOT:
			if (vl != WM_HEX_PUB || hex_decode(n.root, WM_PUB_LEN, v, vl)) {
				wm_why(why, "line %s: 'root' needs 64 hex digits", ln);
				goto bad;
			}
			break;
		case NK_SECRET:
			if (vl != 2 * WM_SECRET_LEN || hex_decode(n.secret, WM_SECRET_LEN, v, vl)) {
				wm_why(why, "line %s: 'secret' needs 64 hex digits", ln);
				goto bad;
			}
			break;
		default:                        /* NK_VOUCHED */
			if (vl > NETWORK_VOUCHED_MAX) {
				wm_why(why, "line %s: the vouched group list is longer than %d bytes", ln,
				       NETWORK_VOUCHED_MAX);
				goto bad;
			}
			memcpy(n.vouched, v, vl);
			if (!network_vouched_ok(n.vouched)) {
				wm_why(why, "line %s: 'vouched' needs group names separated by commas (or *), "
				       "not '%s' ('network' cannot be vouched)", ln, n.vouched);
				goto bad;
			}
			break;
		}
	}
	if (lineno == 0) {
		wm_why(why, "empty network file");
		goto bad;
	}
	if (!seen[NK_ID]) {
		wm_why(why, "network file lacks an 'id' line: it was made for the retired event format 1; "
		       "make a new network with `watchmesh network create`");
		goto bad;
	}
	for (key = 0; key < NK_VOUCHED; key++)
		if (!seen[key]) {
			wm_why(why, "network file lacks a '%s' line", net_keys[key]);
			goto bad;
		}
	*out = n;
	wmc_wipe(&n, sizeof n);
	return 0;
bad:
	wmc_wipe(&n, sizeof n);
	return WM_EFORMAT;
}

int network_encode(const struct network *n, char **out, size_t *len)
{
	char root[WM_HEX_PUB + 1], secret[2 * WM_SECRET_LEN + 1], id[2 * WM_NETWORK_LEN + 1];
	size_t cap = 64 + strlen(n->name) + sizeof id + sizeof root + sizeof secret + strlen(n->vouched) + 48;
	char *t = malloc(cap);
	int w;

	if (!t)
		return WM_ENOMEM;
	hex_encode(id, n->id, WM_NETWORK_LEN);
	hex_encode(root, n->root, WM_PUB_LEN);
	hex_encode(secret, n->secret, WM_SECRET_LEN);
	w = snprintf(t, cap, "%s\nname %s\nid %s\nroot %s\nsecret %s\n%s%s%s", NET_MAGIC, n->name, id, root, secret,
	             n->vouched[0] ? "vouched " : "", n->vouched, n->vouched[0] ? "\n" : "");
	wmc_wipe(secret, sizeof secret);
	if (w < 0 || (size_t)w >= cap) {
		wmc_wipe(t, cap);
		free(t);
		return WM_EINVAL;
	}
	*out = t;
	*len = (size_t)w;
	return 0;
}

_Static_assert(NETWORK_VOUCHED_MAX < TRUST_VOUCHED_LEN, "the store keeps every list a network file may hold");

int network_vouched_ok(const char *list)
{
	const char *p = list, *e;

	if (strcmp(list, "*") == 0)
		return 1;
	for (;;) {
		size_t l;

		e = strchr(p, ',');
		l = e ? (size_t)(e - p) : strlen(p);
		if (!event_group_valid(p, l) || (l == strlen(WM_NETWORK_GROUP) &&
		                                 memcmp(p, WM_NETWORK_GROUP, l) == 0))
			return 0;
		if (e == NULL)
			return 1;
		p = e + 1;
	}
}

int network_load(const char *path, struct network *out, char why[WM_WHY_LEN])
{
	uint8_t *text = NULL;
	size_t len = 0;
	char inner[WM_WHY_LEN];
	int rc = files_read(path, 64 * 1024, &text, &len, why);
	if (rc)
		return rc;
	rc = network_parse((const char *)text, len, out, inner);
	if (rc)
		wm_why(why, "%s: %s", path, inner);
	wmc_wipe(text, len);
	free(text);
	return rc;
}

