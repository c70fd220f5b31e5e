/*
 * node/keyname: a key named as people name it -- 64 hex digits, a key
 * file, the name of a certificate the node holds, or a unique prefix of 6+
 * hex digits of a key such a certificate names -- for every CLI option that
 * takes a key (node/cli) and for the `peers` setting (node/daemon); and the
 * walk over the node's certificates that both, and `watchmesh certs`, use.
 */
#ifndef WM_KEYNAME_H
#define WM_KEYNAME_H

#include <stdint.h>

#include "error.h"
#include "nodedir.h"
#include "store.h"

/* The shortest key prefix taken: as for event ids, short enough to read
 * off `watchmesh certs`, long enough that a typo rarely names another key. */
#define KEY_PREFIX_MIN 6

/* The certificates nd holds, as trust reaches them: root's, then each
 * station's (only root and stations issue, so a certificate whose issuer
 * the node does not know is not walked).  cb returning nonzero stops the
 * walk.  0 or a store error. */
int keyname_certs_each(struct node_dir *nd, store_cert_cb cb, void *ctx);

/* A certificate's state at `now`: "revoked" (by its issuer or root; then
 * *revoked = 1), "not yet valid", "expired" or "valid". */
const char *keyname_cert_state(struct node_dir *nd, const struct cert *c, uint64_t now, int *revoked);

/*
 * The key arg names: 64 hex digits or a key file; else the exact name of a
 * certificate valid at `now` (in its window, its subject not revoked), or
 * a prefix of KEY_PREFIX_MIN+ hex digits of a key such a certificate names,
 * when they name one key.  any: when no valid certificate matches, those
 * in any state (expired, revoked) are searched too (to renew or revoke).
 * 0 and pub; WM_ENOTFOUND (nothing matches) or WM_EINVAL (several keys
 * match: why lists them, names escaped) with why saying what to give
 * instead; WM_ESTORE or WM_ENOMEM.
 */
int keyname_resolve(struct node_dir *nd, const char *arg, int any, uint64_t now, uint8_t pub[WM_PUB_LEN],
                    char why[WM_WHY_LEN]);

#endif
