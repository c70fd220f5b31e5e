/*
 * node/cli/heads: the signer's heads beside its key file (cli.h), what
 * every signing command fills `prev` from.
 *
 *   watchmesh-heads 1
 *   <group> <64 hex: the id of the last lasting event signed here in it>
 *
 * The file is this device's own record: it is never filled from received
 * events, or a thief's event could be spliced into the real chain.  The
 * key file itself is locked (flock) from reading the heads to writing
 * them, so two posts with one key never both take the same head; it is the
 * one file a signing command never replaces, unlike the heads file, which
 * is written to a temporary file and renamed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli.h"
#include "files.h"

#define HEADS_MAGIC "watchmesh-heads 1"
#define HEADS_MAX   (64 * 1024)     /* the file's size: a few hundred groups */

/* The file's text into h->v; why names the line that is wrong. */
static int heads_parse(struct cli_heads *h, const char *text, size_t len, char *why)
{
	size_t i = 0, lineno = 0;

	while (i < len) {
		size_t e = i, l, gl;
		const char *s = text + i, *sp;
		struct cli_head *v;

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
		if (sp == NULL || !event_group_valid(s, gl) || l - gl - 1 != 2 * WM_ID_LEN) {
			wm_why(why, "line %zu is not '<group> <64 hex digits>'", lineno);
			return WM_EFORMAT;
		}
		if ((v = realloc(h->v, (h->n + 1) * sizeof *v)) == NULL)
			return WM_ENOMEM;
		h->v = v;
		memcpy(v[h->n].group, s, gl);
		v[h->n].group[gl] = '\0';
		if (hex_decode(v[h->n].id, WM_ID_LEN, sp + 1, 2 * WM_ID_LEN) != 0) {
			wm_why(why, "line %zu is not '<group> <64 hex digits>'", lineno);
			return WM_EFORMAT;
		}
		h->n++;
	}
	if (lineno == 0) {
		wm_why(why, "empty heads file");
		return WM_EFORMAT;
	}
	return 0;
}

int cli_heads_open(const char *keypath, struct cli_heads *h)
{
	uint8_t *text = NULL;
	size_t len = 0;
	char why[WM_WHY_LEN] = "", inner[WM_WHY_LEN] = "";
	int rc;

	memset(h, 0, sizeof *h);
	h->fd = -1;
	if (snprintf(h->path, sizeof h->path, "%s.heads", keypath) >= (int)sizeof h->path) {
		cli_err("%s: the path is too long", keypath);
		return WM_EINVAL;
	}
	if ((h->fd = open(keypath, O_RDONLY | O_CLOEXEC)) < 0 || flock(h->fd, LOCK_EX) != 0) {
		cli_err("%s: cannot lock the key file: %s", keypath, strerror(errno));
		cli_heads_close(h);
		return WM_EIO;
	}
	if (!files_exists(h->path))
		return 0;               /* the first event, or the record lost: a new branch */
	if ((rc = files_read(h->path, HEADS_MAX, &text, &len, why)) == 0) {
		rc = heads_parse(h, (const char *)text, len, inner);
		if (rc == WM_EFORMAT)
			wm_why(why, "%s: %.160s (delete it to start new chains)", h->path, inner);
	}
	free(text);
	if (rc != 0) {
		cli_err("%s", why[0] ? why : wm_strerror(rc));
		cli_heads_close(h);
	}
	return rc;
}

int cli_heads_prev(const struct cli_heads *h, const char *group, uint8_t prev[WM_ID_LEN])
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].group, group) == 0) {
			memcpy(prev, h->v[i].id, WM_ID_LEN);
			return 1;
		}
	return 0;
}

int cli_heads_set(struct cli_heads *h, const char *group, const uint8_t id[WM_ID_LEN])
{
	char *text, why[WM_WHY_LEN] = "";
	size_t i, cap, n;
	int rc;

	for (i = 0; i < h->n && strcmp(h->v[i].group, group) != 0; i++)
		;
	if (i == h->n) {
		struct cli_head *v = realloc(h->v, (h->n + 1) * sizeof *v);

		if (v == NULL)
			return WM_ENOMEM;
		h->v = v;
		snprintf(v[h->n].group, sizeof v[h->n].group, "%s", group);
		h->n++;
	}
	memcpy(h->v[i].id, id, WM_ID_LEN);
	cap = sizeof HEADS_MAGIC + 1 + h->n * (WM_GROUP_MAX + 2 + 2 * WM_ID_LEN);
	if ((text = malloc(cap)) == NULL)
		return WM_ENOMEM;
	n = (size_t)snprintf(text, cap, "%s\n", HEADS_MAGIC);
	for (i = 0; i < h->n; i++) {
		char hex[2 * WM_ID_LEN + 1];

		hex_encode(hex, h->v[i].id, WM_ID_LEN);
		n += (size_t)snprintf(text + n, cap - n, "%s %s\n", h->v[i].group, hex);
	}
	rc = files_write_atomic(h->path, text, n, 0600, 0, why);
	free(text);
	if (rc != 0)
		cli_err("%s", why);
	return rc;
}

void cli_heads_close(struct cli_heads *h)
{
	if (h->fd >= 0)
		close(h->fd);           /* and the lock with it */
	free(h->v);
	h->v = NULL;
	h->n = 0;
	h->fd = -1;
}
