/*
 * proto/content: the content rules of each kind (PROTOCOL.md, "Kinds").
 * event_decode calls content_check last, on an event whose header is already
 * well-formed and verified; the rules need nothing but the event itself
 * (no clock, no store, no trust).
 */
#ifndef WM_CONTENT_H
#define WM_CONTENT_H

#include "event.h"

/* Limits in bytes (UTF-8 for strings). */
#define WM_TITLE_MAX     200    /* title, event, headline, contact, referred_to, topic-like short lines */
#define WM_TEXT_MAX      16000  /* text (bulletin, alert, request, reply) */
#define WM_NOTE_MAX      4000   /* instruction, note, ack text */
#define WM_REASON_MAX    1000   /* retract/revoke reason */
#define WM_AREA_MAX      500    /* area_desc */
#define WM_NAME_MAX      127    /* cert name (fits char[128] with its NUL) */
#define WM_PHOTO_MAX     49152  /* alert photo */
#define WM_CERT_GROUPS_MAX   64
#define WM_CERT_GROUPS_JOINED 1023   /* groups joined by ',' fit char[1024] */
#define WM_SEAL_MIN_MSG  1      /* sealed request text, like text: 1..WM_TEXT_MAX */

/* 0, or WM_ECONTENT with why filled ("content key 'title' is missing"). */
int content_check(const struct event *ev, char why[WM_WHY_LEN]);

/* The rules of 'text' for the text of a sealed request, which
 * content_check cannot see: run it on the opened box before showing it.
 * 0, or WM_ECONTENT with why filled ("... holds an escape (U+001B) ..."). */
int content_check_sealed_text(const uint8_t *msg, size_t len, char why[WM_WHY_LEN]);

/*
 * Sealed content (PROTOCOL.md section 6): a request's topic, language and
 * text, a reply's language and text, or a referred request re-sealed by an
 * officer for the office it goes to, in a box readable by its recipients and
 * its author only, bound to the event's kind, network, author and group, and
 * signed inside by the author over all that and the recipients.
 *
 * content_seal: *box (malloc'd) for the draft's content key "box"; the
 * parts are checked first (a request's topic, no topic on a reply, the text's
 * rules).  content_open: 0 and *out (free with content_sealed_free, which
 * wipes; pointers into out->buf); WM_ENOTFOUND when the event has no box or
 * reader is not among its recipients; else a refusal with why filled, never
 * to be shown as the author's text: WM_ECRYPTO (the box does not open: changed,
 * or re-signed by someone else), WM_ESIG (not bound to this author),
 * WM_ECONTENT (the opened parts break the rules).
 */
struct sealed {
	size_t nto;
	const uint8_t *to;              /* nto public keys, 32 bytes each */
	const char *topic;              /* not NUL-terminated; topiclen 0: none */
	size_t topiclen;
	const char *lang;               /* langlen 0: none */
	size_t langlen;
	const char *text;
	size_t textlen;
	uint8_t *buf;                   /* content_open's; NULL in content_seal's parts */
	size_t buflen;
};
int content_seal(const struct key *author, unsigned kind, const uint8_t network[WM_NETWORK_LEN],
                 const char *group, const struct sealed *parts, uint8_t **box, size_t *boxlen,
                 char why[WM_WHY_LEN]);
int content_open(const struct event *ev, const struct key *reader, struct sealed *out,
                 char why[WM_WHY_LEN]);
void content_sealed_free(struct sealed *s);

/* The allowed values of an enumerated content key of a kind, as a
 * NULL-terminated list ("fraud", "safety", ...), or NULL if the key is not
 * enumerated.  For CLIs and forms. */
const char *const *content_enum(unsigned kind, const char *key);

#endif
