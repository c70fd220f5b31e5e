/*
 * node/render: events as a person reads them (feed, show, search) and as
 * JSON (feed --json; the HTTP API may reuse render_event_json).
 *
 * Rendering never fails on odd content: the events were validated on the
 * way in, and anything unexpected is shown, never trusted.  The text form
 * escapes every character a terminal would act on (\x1b, \u009b), whatever
 * the rules let in when the event was stored.  Times are stored in UTC ms
 * and shown in local time.
 */
#ifndef WM_RENDER_H
#define WM_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "content.h"
#include "event.h"
#include "store.h"
#include "wmcrypto.h"

struct render_ctx {
	struct store *store;         /* official badges and names; may be NULL */
	const uint8_t *root;         /* the network's root key; may be NULL */
	const struct key *reader;    /* opens sealed requests addressed to it; may be NULL */
	uint64_t now;                /* ms, for "expires in 5 hours" */
};

/* One event as text.  depth > 0 renders it indented under its target,
 * marked "↳" and without the "re <id>" line. */
void render_event_text(FILE *f, const struct render_ctx *rc, const struct event *ev, int depth);

/* One event as a JSON object (caller json_decref's); NULL only when out of
 * memory.  Fields: id, kind, author, created_at, group, prev (the author's
 * previous lasting event in the group, or null), refs, expires_at,
 * content (bin as base64; empty when withheld), withheld (true for a
 * retracted event, kept as its header), official, official_name, official_station,
 * author_name and author_role (from the certificate that holds for this
 * event: the official's, else a resident's; absent when none holds),
 * private_text (an opened sealed request, reply or referral; with
 * private_topic, private_lang and private_to, the recipients its author
 * signed), private_refused (why an opened box's text is not shown).
 * Strings are the event's own: JSON escapes C0 controls, the
 * caller decides about the rest. */
json_t *render_event_json(const struct render_ctx *rc, const struct event *ev);

/* s on one line as the CLI prints text from the network: every control
 * character escaped (\x1b, \u009b); cut to fit len (NUL-terminated). */
void render_escape(char *out, size_t len, const char *s);

/* "2026-11-29 21:34" in local time. */
void render_time(char *buf, size_t len, uint64_t ms);
/* A span in words, rounded down: "less than a minute", "12 minutes",
 * "1 hour 5 minutes", "5 hours", "3 days". */
void render_span(char *buf, size_t len, uint64_t ms);
/* "2026-12-03 14:05 (3 hours ago)" or "... (in 2 days)": a local time and
 * how far it is from now (ms). */
void render_when(char *buf, size_t len, uint64_t ms, uint64_t now);
/* The first 8 hex digits of an id or key. */
void render_short(char out[9], const uint8_t *bytes);
/* Standard base64 with padding; *out malloc'd and NUL-terminated. */
int render_base64(const uint8_t *in, size_t len, char **out);

/* Open a sealed request, reply or referral for rc->reader (content_open):
 * 0 and *out (free with content_sealed_free); WM_ENOTFOUND when there is no
 * reader or it is not a recipient; another code and why when it opens but is
 * refused (changed, not bound to its author, against the content rules): its
 * text is then never to be shown. */
int render_open_sealed(const struct render_ctx *rc, const struct event *ev, struct sealed *out,
                       char why[WM_WHY_LEN]);

#endif
