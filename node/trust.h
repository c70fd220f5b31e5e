/*
 * node/trust: who may sign what, computed from the certificates and
 * revocations in the store.
 *
 * Official = the author holds a chain root -> station -> officer (or is a
 * station certified by root) of certs valid at `at` (not_before <= at <
 * not_after, not_before never more than a day before the cert's own
 * created_at), whose groups cover `group`; where a signer revoked a key of
 * the chain, the event that key signed (the post, or the officer's cert
 * the station signed) must be in what the revocation keeps: revocations
 * judge by ancestry (prev), never by dates.  The exact rules are in
 * proto/PROTOCOL.md section 11, "Trust and certificates".
 */
#ifndef WM_TRUST_H
#define WM_TRUST_H

#include <stdint.h>

#include "error.h"
#include "store.h"

struct official {
	enum cert_role role;         /* ROLE_STATION or ROLE_OFFICER (or ROLE_RESIDENT from trust_vouched) */
	char name[128];              /* the official's name from their cert */
	char station[128];           /* the issuing station's name ("" for a station) */
};

/* 0 and *out if author is official for group at time `at` for its event
 * id (NULL: an event not held, which no revocation keeps); otherwise
 * WM_EUNKNOWNCERT (no cert known for the author: may arrive later),
 * WM_EREVOKED, or WM_ENOTOFFICIAL, with why filled.  out may be NULL. */
int trust_official(struct store *s, const uint8_t root[WM_PUB_LEN],
                   const uint8_t author[WM_PUB_LEN], const char *group, uint64_t at,
                   const uint8_t *id, struct official *out, char why[WM_WHY_LEN]);

/* May a node key still hand its place to another (a rotation statement,
 * proto/PROTOCOL.md section 10)?  0 if no revocation touches it;
 * WM_EREVOKED with why when root revoked the key, or the issuer of a node
 * certificate it holds revoked it (whatever the revocation keeps: a
 * statement is not an event, so no keep list or date can cover it);
 * WM_ESTORE/WM_ENOMEM/WM_ELIMIT on failure. */
int trust_node_key_revoked(struct store *s, const uint8_t root[WM_PUB_LEN], const uint8_t key[WM_PUB_LEN],
                           char why[WM_WHY_LEN]);

/* Does a node key hold a valid node certificate now: of role `node`, valid
 * at now, revoked neither by its issuer nor by root, issued by a station
 * whose own certificate holds at now (for that certificate), and the key
 * not revoked by root?  1 yes; 0 no, why saying what is missing;
 * WM_ESTORE/WM_ENOMEM/WM_ELIMIT on failure.  (A key whose neighbours
 * followed its rotation keeps their link through a revocation of the old
 * key only with one: node/daemon/peers.c.) */
int trust_node_key_certified(struct store *s, const uint8_t root[WM_PUB_LEN],
                             const uint8_t key[WM_PUB_LEN], uint64_t now, char why[WM_WHY_LEN]);

/* 1 if a cert's comma-separated group list covers group ("*" covers all). */
int trust_groups_cover(const char *groups, const char *group);

/*
 * Vouched groups (proto/PROTOCOL.md section 11, "Vouched groups"): in a
 * group the network file lists as vouched, requests, replies and acks need
 * an author with a chain root -> station -> resident or officer (or a
 * station) valid for the group at created_at, as officials need for
 * bulletins.  The list lives in the store (meta "vouched", "" = none),
 * copied from the network file each time a node opens its directory
 * (node_dir_open), so every judgement -- ingest, and the late pass after a
 * revocation -- reads the same list.  trust_set_vouched writes it only
 * when it changed.
 */
#define TRUST_VOUCHED_LEN 1100  /* the longest list, with its NUL */
int trust_set_vouched(struct store *s, const char *list);
/* 0 and *out if author may post in group at `at` by a resident, officer or
 * station certificate; else WM_EUNKNOWNCERT (no cert known), WM_EREVOKED or
 * WM_ENOTVOUCHED, with why filled.  out may be NULL. */
int trust_vouched(struct store *s, const uint8_t root[WM_PUB_LEN],
                  const uint8_t author[WM_PUB_LEN], const char *group, uint64_t at,
                  const uint8_t *id, struct official *out, char why[WM_WHY_LEN]);

/* --- what ingest asks: may this event stand, and what a revocation purges --- */

struct event;

/* The name and role to show for ev's author, from a certificate that holds
 * for ev (valid at its created_at, not revoked at it, covering its group):
 * 0 and *out with an official's chain (role station or officer, and the
 * station), else a resident's (role resident).  WM_ENOTFOUND when none
 * holds: show the author as a plain key, whatever certs it once had.
 * WM_ESTORE or WM_ENOMEM on failure. */
int trust_shown(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev,
                struct official *out);

/* Running certs (not_after after the new cert's created_at) one issuer may
 * hold for one subject; a cert beyond them is refused with WM_ELIMIT,
 * passing. */
#define TRUST_CERTS_PER_ISSUER 8

/* The cert a kind-7 event carries (issuer = its author, created_at = its
 * created_at).  WM_ECONTENT with why filled if the content is not a cert. */
int trust_cert_from_event(const struct event *ev, struct cert *out, char why[WM_WHY_LEN]);

/* May ev's author sign ev, judged against the store as it is now?  0, or a
 * refusal with why filled: WM_ENOTOFFICIAL, WM_ENOTVOUCHED, WM_EFORBIDDEN,
 * WM_EREVOKED (lasting), WM_EUNKNOWNCERT, WM_EPENDING, WM_ELIMIT (passing),
 * or WM_ESTORE/WM_ENOMEM.  A retract whose target is not held yet is
 * allowed (0) if its author may post in the group: ingest stores it and
 * applies it when the target arrives, through trust_retract_allowed. */
int trust_check_event(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev,
                      char why[WM_WHY_LEN]);

/*
 * A cache of the certificate lists trust reads, for a writer that judges
 * many events in one transaction (the daemon's batch): it holds what the
 * store held when each list was read, so it is right only while nothing
 * else changes the certificates.  Clear it whenever a transaction ends
 * (another process may have written a cert or revoke) and after storing a
 * cert or revoke or restoring a hidden event (node/ingest.c does both for
 * what it stores, through ingest_ctx.trust_cache).  Revocations themselves
 * are never cached.  Free and clear accept NULL.
 */
struct trust_cache;
int trust_cache_new(struct trust_cache **out);
void trust_cache_clear(struct trust_cache *c);
void trust_cache_free(struct trust_cache *c);
/* trust_check_event, reading the certificate lists through c (NULL: from
 * the store, as trust_check_event). */
int trust_check_event_cached(struct trust_cache *c, struct store *s, const uint8_t root[WM_PUB_LEN],
                             const struct event *ev, char why[WM_WHY_LEN]);

/* May retract `ev` retract the held event described by `target`? */
int trust_retract_allowed(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev,
                          const struct store_info *target, char why[WM_WHY_LEN]);

/*
 * After the revocation `ev` is stored: its keep list joins the kept set of
 * (subject, ev's signer), and every event of the subject (and of the keys
 * whose certs this hides) is judged again; those now refused for a lasting
 * reason are hidden (store_hide, noted as decided by ev and the
 * revocations against their author's chain), not deleted.  changed(ctx,
 * revoke id) names each revoke whose hidden events must be judged again
 * (node/ingest.c does, and stores those that stand): a revoke hidden here
 * (it stopped counting), and the subject's other revokes (its kept set
 * grew).  A nonzero return from changed ends the pass with that value;
 * changed may be NULL.  *hidden = how many (may be NULL).  Reads the
 * events in batches (bounded memory) inside the caller's transaction: a
 * crash rolls the revoke back with its whole pass.
 */
typedef int (*trust_changed_cb)(void *ctx, const uint8_t revoke[WM_ID_LEN]);
int trust_after_revocation(struct store *s, const uint8_t root[WM_PUB_LEN], const struct event *ev,
                           trust_changed_cb changed, void *ctx, int64_t *hidden);

/* After any event is stored: if a kept set's walk stopped at its id (a
 * link not held then), the walk goes on from it, and changed names the
 * author's revokes, whose hidden events may be kept now. */
int trust_after_insert(struct store *s, const struct event *ev, trust_changed_cb changed, void *ctx);

#endif
