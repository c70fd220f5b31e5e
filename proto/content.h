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

/* The allowed values of an enumerated content key of a kind, as a
 * NULL-terminated list ("fraud", "safety", ...), or NULL if the key is not
 * enumerated.  For CLIs and forms. */
const char *const *content_enum(unsigned kind, const char *key);

#endif
