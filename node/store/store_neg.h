/*
 * node/store/store_neg.h: the negentropy view of the store (a struct
 * neg_storage over SQLite), so that repair never reads the whole set to
 * answer a message.  The mesh opens one per repair session:
 *
 *     store_neg_open(store, groups, n, now, &v, why);
 *     st = store_neg_storage(v); neg_new(&st, frame_limit, &neg);
 *     ... reconcile ...; neg_free(neg); store_neg_close(v);
 *
 * The set of a repair scope is (created_at, id) of every event held in its
 * groups -- retracted ones included (their ids are still held) -- and of
 * every remembered lasting refusal that knows its group and created_at, less
 * the events and refusals expired at the session's `now` (expires_at != 0
 * and expires_at <= now).  A scope is "network" alone, a list of groups, or "*"
 * (every group, "network" included).
 *
 * A session's set is the store as it was at store_neg_open, whatever the
 * node writes meanwhile through its own connection; its reads run in read
 * transactions that store_neg_rest ends between messages.  A row deleted
 * or changed since the open makes a read fail with WM_ESTORE, or, for the
 * refusals the view read at its open, is answered as it was then: never
 * otherwise than the set of the open.  A file-backed store is required
 * (not ":memory:").  How the view answers in a few dozen rows however full
 * the store is: store_neg.c.
 */
#ifndef WM_STORE_NEG_H
#define WM_STORE_NEG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "negentropy.h"
#include "store.h"

struct store_neg;

/*
 * A view of the scope `groups` (n names; a single "*" = every group) as it
 * is now, with events expired at `now` left out.  WM_EINVAL for an empty
 * scope or a bad group name, WM_ESTORE (why filled) if the database cannot
 * be read.  Free with store_neg_close().
 */
int store_neg_open(struct store *s, const char *const *groups, size_t n, uint64_t now,
                   struct store_neg **out, char why[WM_WHY_LEN]);
void store_neg_close(struct store_neg *v);

/*
 * End the read transaction the view's reads run in (the next read opens
 * another): between two messages of a session, so that the session does
 * not hold one WAL snapshot from its first round to its last and
 * checkpoints can reset the WAL meanwhile.  The view's set stays the one
 * of store_neg_open.  NULL is ignored.
 */
void store_neg_rest(struct store_neg *v);

/* The backend for neg_new(); valid while v lives. */
struct neg_storage store_neg_storage(struct store_neg *v);

#endif
