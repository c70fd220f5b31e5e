/*
 * node/trust: who may sign what, computed from the certificates and
 * revocations in the store (DESIGN.md "Trust").
 *
 * Official = the author holds a chain root -> station -> officer (or is a
 * station certified by root) of certs valid at `at` (not_before <= at <
 * not_after, cert created no later than at... see PROTOCOL.md), whose groups
 * cover `group`, none revoked at or before `at`.
 */
#ifndef WM_TRUST_H
#define WM_TRUST_H

#include <stdint.h>

#include "error.h"
#include "store.h"

struct official {
	enum cert_role role;         /* ROLE_STATION or ROLE_OFFICER */
	char name[128];              /* the official's name from their cert */
	char station[128];           /* the issuing station's name ("" for a station) */
};

/* 0 and *out if author is official for group at time `at`; otherwise
 * WM_EUNKNOWNCERT (no cert known for the author: may arrive later),
 * WM_EREVOKED, or WM_ENOTOFFICIAL, with why filled.  out may be NULL. */
int trust_official(struct store *s, const uint8_t root[WM_PUB_LEN],
                   const uint8_t author[WM_PUB_LEN], const char *group, uint64_t at,
                   struct official *out, char why[WM_WHY_LEN]);

/* 1 if a cert's comma-separated group list covers group ("*" covers all). */
int trust_groups_cover(const char *groups, const char *group);

#endif
