/*
 * One table of error codes for all of watchmesh.  Every function that can fail
 * returns 0 or one of these negative codes; wm_strerror() gives the short
 * message.  Functions that judge outside input (events, bundles, files) also
 * fill a caller-supplied `char why[WM_WHY_LEN]` with a sentence a person can
 * read ("content key 'title' is missing"), which callers print or log as is.
 */
#ifndef WM_ERROR_H
#define WM_ERROR_H

#include <stddef.h>

#define WM_WHY_LEN 256

/* X(name, value, message).  Keep values stable: they appear in logs. */
#define WM_ERRORS(X)                                                        \
	X(WM_OK,          0,  "ok")                                         \
	X(WM_ENOMEM,     -1,  "out of memory")                              \
	X(WM_EINVAL,     -2,  "invalid argument")                           \
	X(WM_EMALFORMED, -3,  "malformed event")                            \
	X(WM_ECANONICAL, -4,  "non-canonical encoding")                     \
	X(WM_EVERSION,   -5,  "unknown version")                            \
	X(WM_ESIG,       -6,  "bad signature")                              \
	X(WM_ECONTENT,   -7,  "invalid content")                            \
	X(WM_ETOOBIG,    -8,  "too large")                                  \
	X(WM_EFUTURE,    -9,  "created too far in the future")              \
	X(WM_ENOTOFFICIAL, -10, "not signed by an official of the group")   \
	X(WM_EREVOKED,   -11, "signing key was revoked")                    \
	X(WM_EUNKNOWNCERT, -12, "signer's certificate not known yet")       \
	X(WM_EFORBIDDEN, -13, "signer may not post this")                   \
	X(WM_EDUP,       -14, "already stored")                             \
	X(WM_EREJECTED,  -15, "refused earlier")                            \
	X(WM_EIO,        -16, "input/output error")                         \
	X(WM_ESTORE,     -17, "store error")                                \
	X(WM_ENOTFOUND,  -18, "not found")                                  \
	X(WM_EPASSPHRASE, -19, "wrong passphrase")                          \
	X(WM_ENEEDPASS,  -20, "passphrase needed")                          \
	X(WM_EFORMAT,    -21, "unrecognised file format")                   \
	X(WM_ECRYPTO,    -22, "cryptographic operation failed")             \
	X(WM_EPERSONAL,  -23, "text contains personal data")                \
	X(WM_EEXPIRED,   -24, "expired")                                    \
	X(WM_ETRUNCATED, -25, "truncated")                                  \
	X(WM_ERATE,      -26, "rate limit exceeded")                        \
	X(WM_EPROTO,     -27, "peer broke the protocol")                    \
	X(WM_EPENDING,   -28, "depends on an event not known yet")           \
	X(WM_ENOTVOUCHED, -29, "signer is not vouched for in this group")   \
	X(WM_EHASH,      -30, "content does not match its hash")            \
	X(WM_EWITHHELD,  -31, "withheld event, and no retract of it held")  \
	X(WM_ENETWORK,   -32, "event of another network")                   \
	X(WM_ELIMIT,     -33, "over a resource limit, refused for now")

enum wm_error {
#define WM_ERR_ENUM(name, value, msg) name = value,
	WM_ERRORS(WM_ERR_ENUM)
#undef WM_ERR_ENUM
};

/* Fill `why` (WM_WHY_LEN bytes; NULL is ignored) with a formatted reason. */
void wm_why(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a buffer of `len` bytes. */
void wm_whyn(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Message for a code; never NULL ("unknown error" for codes not in the table). */
const char *wm_strerror(int code);

/* Name of a code ("WM_ESIG"), for logs and test vectors. */
const char *wm_errname(int code);

/* Lasting refusals are remembered and never retried (bad bytes, bad
 * signature, revoked key); passing ones (certificate not known yet, a rate
 * limit, too far in the future) may succeed later.  A resource limit is
 * always passing (WM_ELIMIT, WM_ERATE): a flood must never force a lasting
 * verdict on someone else's event.  See proto/PROTOCOL.md
 * section 11, "Lasting and passing refusals; what is remembered". */
int wm_error_is_lasting(int code);

#endif
