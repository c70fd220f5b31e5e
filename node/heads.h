/*
 * node/heads: the signer's heads, KEY.heads beside a key file that signs
 * (proto/PROTOCOL.md §3 prev, §10):
 *
 *   watchmesh-heads 1
 *   <group> <64 hex: the id of the last lasting event signed here in it>
 *
 * Per group, the id of the last lasting event (expires_at 0) this device
 * signed with KEY there: an event's prev is its group's head (none: the
 * first of a new branch); a lasting event becomes the head once stored or
 * written, an expiring one never does.  The file is this device's own
 * record, never filled from received events, or a thief's event could be
 * spliced into the real chain.
 *
 * heads_open locks the key file (flock) and reads the heads (a missing
 * file: none) until heads_close, so two signings with one key never take
 * the same head.
 */
#ifndef WM_HEADS_H
#define WM_HEADS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event.h"

struct head {
	char group[WM_GROUP_MAX + 1];
	uint8_t id[WM_ID_LEN];
};
struct heads {
	char path[4096];             /* KEY.heads */
	int fd;                      /* the key file, locked; -1 when not */
	struct head *v;              /* malloc'd; heads_close frees */
	size_t n;
};

/* Text <-> heads.  heads_parse appends to h->v (h zeroed, or opened);
 * WM_EFORMAT with why naming the line.  heads_encode: *out malloc'd. */
int heads_parse(const char *text, size_t len, struct heads *h, char why[WM_WHY_LEN]);
int heads_encode(const struct heads *h, char **out, size_t *len);

/* Lock keypath and read keypath.heads.  0, or a code with why filled
 * (h closed then). */
int heads_open(const char *keypath, struct heads *h, char why[WM_WHY_LEN]);
/* 1 and prev set if the group has a head, else 0. */
int heads_prev(const struct heads *h, const char *group, uint8_t prev[WM_ID_LEN]);
/* Make id the group's head and write the file atomically (mode 0600). */
int heads_set(struct heads *h, const char *group, const uint8_t id[WM_ID_LEN], char why[WM_WHY_LEN]);
/* Unlock and free; also on a zeroed h with fd -1. */
void heads_close(struct heads *h);

#endif
