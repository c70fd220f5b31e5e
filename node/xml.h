/*
 * node/xml: text from the network written into XML 1.0, strictly.
 *
 * A general XML writer (libxml2's among them) passes a control character
 * through and leaves a document no parser accepts; here every character
 * XML 1.0 cannot hold (its Char production: the C0 controls but tab, LF
 * and CR, the surrogates, U+FFFE and U+FFFF) and every byte that is not
 * UTF-8 is refused or, when the caller asks, replaced by U+FFFD.  The text
 * is the same in character data and in attribute values: & < > " ' are
 * escaped, and so is CR (a parser would turn a literal one into LF).
 */
#ifndef WM_XML_H
#define WM_XML_H

#include <stddef.h>
#include <stdio.h>

/* Write s[0..len) escaped to f.  replaced NULL: WM_EINVAL, and nothing
 * written, if s holds a character XML cannot hold, else 0.  replaced
 * non-NULL: each such character, and each byte of invalid UTF-8, is
 * written as U+FFFD and counted into *replaced; 0.  Errors of f itself are
 * the caller's to read (ferror). */
int xml_put(FILE *f, const char *s, size_t len, size_t *replaced);

/* 1 if s[0..len) is UTF-8 that XML 1.0 can hold whole, else 0. */
int xml_valid(const char *s, size_t len);

#endif
