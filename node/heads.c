/*
 * node/heads: the signer's heads file (heads.h).  The key file itself is
 * what is locked: it is the one file a signing command never replaces,
 * unlike the heads file, which is written to a temporary file and renamed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "files.h"
#include "heads.h"

#define HEADS_MAGIC "watchmesh-heads 1"
#define HEADS_MAX   (64 * 1024)     /* the file's size: hundreds of groups */

static int heads_put(struct heads *h, const char *group, size_t glen, const uint8_t id[WM_ID_LEN])
{
	struct head *v;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strlen(h->v[i].group) == glen && memcmp(h->v[i].group, group, glen) == 0)
			break;
	if (i == h->n) {
		if ((v = realloc(h->v, (h->n + 1) * sizeof *v)) == NULL)
			return WM_ENOMEM;
		h->v = v;
		memcpy(v[i].group, group, glen);
		v[i].group[glen] = '\0';
		h->n++;
	}
	memcpy(h->v[i].id, id, WM_ID_LEN);
	return 0;
}

int heads_parse(const char *text, size_t len, struct heads *h, char why[WM_WHY_LEN])
{
	size_t i = 0, lineno = 0;
	int rc;

	while (i < len) {
		size_t e = i, l, gl;
		const char *s = text + i, *sp;
		uint8_t id[WM_ID_LEN];

		while (e < len && text[e] != '\n')
			e++;
		l = e - i;
		i = e + 1;
		lineno++;
		if (lineno == 1) {
			if (l != strlen(HEADS_MAGIC) || memcmp(s, HEADS_MAGIC, l) != 0) {
				wm_why(why, "not a heads file (the first line should be '%s')", HEADS_MAGIC);
				return WM_EFORMAT;
			}
			continue;
		}
		sp = memchr(s, ' ', l);
		gl = sp ? (size_t)(sp - s) : l;
		if (sp == NULL || !event_group_valid(s, gl) || l - gl - 1 != 2 * WM_ID_LEN ||
		    hex_decode(id, WM_ID_LEN, sp + 1, 2 * WM_ID_LEN) != 0) {
			wm_why(why, "line %zu is not '<group> <64 hex digits>'", lineno);
			return WM_EFORMAT;
		}
		for (size_t k = 0; k < h->n; k++)
			if (strlen(h->v[k].group) == gl && memcmp(h->v[k].group, s, gl) == 0) {
				wm_why(why, "line %zu: a second line for group '%s'", lineno, h->v[k].group);
				return WM_EFORMAT;
			}
		if ((rc = heads_put(h, s, gl, id)) != 0)
			return rc;
	}
	if (lineno == 0) {
		wm_why(why, "empty heads file");
		return WM_EFORMAT;
	}
	return 0;
}

int heads_encode(const struct heads *h, char **out, size_t *len)
{
	size_t cap = sizeof HEADS_MAGIC + 1 + h->n * (WM_GROUP_MAX + 2 + 2 * WM_ID_LEN), n;
	char *text = malloc(cap);

	if (text == NULL)
		return WM_ENOMEM;
	n = (size_t)snprintf(text, cap, "%s\n", HEADS_MAGIC);
	for (size_t i = 0; i < h->n; i++) {
		char hex[2 * WM_ID_LEN + 1];

		hex_encode(hex, h->v[i].id, WM_ID_LEN);
		n += (size_t)snprintf(text + n, cap - n, "%s %s\n", h->v[i].group, hex);
	}
	*out = text;
	*len = n;
	return 0;
}

int heads_open(const char *keypath, struct heads *h, char why[WM_WHY_LEN])
{
	uint8_t *text = NULL;
	size_t len = 0;
	char inner[WM_WHY_LEN] = "";
	int rc;

	memset(h, 0, sizeof *h);
	h->fd = -1;
	if (snprintf(h->path, sizeof h->path, "%s.heads", keypath) >= (int)sizeof h->path) {
		wm_why(why, "%s: the path is too long", keypath);
		return WM_EINVAL;
	}
	if ((h->fd = open(keypath, O_RDONLY | O_CLOEXEC)) < 0 || flock(h->fd, LOCK_EX) != 0) {
		wm_why(why, "%s: cannot lock the key file: %s", keypath, strerror(errno));
		heads_close(h);
		return WM_EIO;
	}
	if (!files_exists(h->path))
		return 0;               /* the first event, or the record lost: a new branch */
	if ((rc = files_read(h->path, HEADS_MAX, &text, &len, why)) == 0 &&
	    (rc = heads_parse((const char *)text, len, h, inner)) == WM_EFORMAT)
		wm_why(why, "%s: %.160s (delete it to start new chains)", h->path, inner);
	free(text);
	if (rc != 0)
		heads_close(h);
	return rc;
}

int heads_prev(const struct heads *h, const char *group, uint8_t prev[WM_ID_LEN])
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].group, group) == 0) {
			memcpy(prev, h->v[i].id, WM_ID_LEN);
			return 1;
		}
	return 0;
}

int heads_set(struct heads *h, const char *group, const uint8_t id[WM_ID_LEN], char why[WM_WHY_LEN])
{
	char *text = NULL;
	size_t n = 0;
	int rc;

	if (!event_group_valid(group, strlen(group))) {
		wm_why(why, "'%s' is not a group", group);
		return WM_EINVAL;
	}
	if ((rc = heads_put(h, group, strlen(group), id)) != 0 || (rc = heads_encode(h, &text, &n)) != 0)
		return rc;
	rc = files_write_atomic(h->path, text, n, 0600, 0, why);
	free(text);
	return rc;
}

void heads_close(struct heads *h)
{
	if (h->fd >= 0)
		close(h->fd);           /* and the lock with it */
	free(h->v);
	h->v = NULL;
	h->n = 0;
	h->fd = -1;
}
