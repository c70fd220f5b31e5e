/*
 * node/cap: the alerts of a node as CAP 1.2 messages (OASIS Common Alerting
 * Protocol) and an Atom index of the active ones, for official warning
 * systems and feed readers; proto/PROTOCOL.md section 19 maps each field.
 *
 * Reads the store and nothing else (no clock: the caller gives `now`), so
 * the HTTP room calls it from a worker thread with a reader store handle.
 * Text from the network goes through node/xml's strict escaper: a character
 * XML 1.0 cannot hold becomes U+FFFD, and the message's note says how many
 * were replaced, so one odd alert never breaks the feed.
 *
 *   char *xml; size_t len;
 *   if (cap_alert_xml(s, root, now, id, "https://192.168.1.10:8443", &xml, &len) == 0)
 *           ... serve xml as application/cap+xml, then free(xml);
 */
#ifndef WM_CAP_H
#define WM_CAP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

/* At most this many alerts in the Atom index, the newest active ones. */
#define CAP_ATOM_MAX 500

/* One alert as CAP 1.2 XML; *xml malloc'd (the caller frees), *len its
 * bytes (NUL-terminated besides).  msgType Alert, or Update when refs[0] is
 * an alert of the same group held here; a retracted alert gives its Cancel
 * message (the retract's).  base_url (NULL or "": none) gives info/web.
 * WM_ENOTFOUND if no such alert is held (or the id is not an alert's);
 * WM_ECONTENT if the stored alert no longer passes the content rules;
 * WM_EINVAL if base_url holds a character XML cannot (or the alert is dated
 * after the year 9999, which CAP cannot write); WM_ESTORE, WM_ENOMEM. */
int cap_alert_xml(struct store *s, const uint8_t root[WM_PUB_LEN], uint64_t now,
                  const uint8_t id[WM_ID_LEN], const char *base_url, char **xml, size_t *len);

/* Atom feed of the active (not expired at now, not retracted) alerts, newest
 * first, each entry linking base_url + "/cap/alerts/<id>.xml".  An alert that
 * no longer passes the content rules is left out.  *xml malloc'd; WM_EINVAL
 * if base_url holds a character XML cannot; WM_ESTORE, WM_ENOMEM. */
int cap_atom(struct store *s, const uint8_t root[WM_PUB_LEN], uint64_t now,
             const char *base_url, char **xml, size_t *len);

#endif
