/*
 * proto/mp: a strict msgpack reader over a byte buffer, for the canonical
 * subset of proto/PROTOCOL.md section 1 ("Encoding: canonical msgpack").
 *
 * Cursor style: every read checks the bytes left, and a failed read says
 * what was wrong and at which byte, in the caller's `why` buffer.  Only the
 * canonical form is accepted: shortest headers for every integer, string,
 * binary, array and map; non-negative integers in unsigned form; strings in
 * valid UTF-8; no float, nil, bool or ext.  Map key order is the caller's
 * business (mp_key_cmp helps), except in mp_check_canonical, which walks a
 * whole value.  Encoding is done with msgpack-c's packer (event.c): its
 * output is already in shortest form.
 *
 * Error codes: WM_ETRUNCATED (input ends inside an item), WM_ECANONICAL
 * (a longer form than needed), WM_EMALFORMED (a type outside the subset,
 * a type other than the one asked for, invalid UTF-8, trailing bytes).
 */
#ifndef WM_MP_H
#define WM_MP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum mp_type {
	MP_UINT,        /* non-negative integer: u */
	MP_NINT,        /* negative integer: i */
	MP_STR,         /* ptr, len (bytes), valid UTF-8 */
	MP_BIN,         /* ptr, len */
	MP_ARRAY,       /* len = number of items that follow */
	MP_MAP,         /* len = number of key/value pairs that follow */
};

/* One item as read: for arrays and maps only the header. */
struct mp_item {
	enum mp_type type;
	uint64_t u;
	int64_t i;
	const uint8_t *ptr;
	size_t len;
	size_t off;             /* offset of the item's first byte (plus base) */
};

struct mp_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	size_t base;            /* added to offsets in messages (e.g. payload's place in the wire) */
	char *why;              /* WM_WHY_LEN bytes, or NULL */
};

void mp_reader_init(struct mp_reader *r, const uint8_t *buf, size_t len, size_t base, char *why);

/* Bytes not yet read. */
size_t mp_remaining(const struct mp_reader *r);

/* Read one item (header, plus the bytes of a str/bin).  `what` names the
 * field for messages ("created_at").  On error nothing is consumed. */
int mp_read(struct mp_reader *r, const char *what, struct mp_item *it);

/* Typed reads: WM_EMALFORMED naming the expected and found types when the
 * item is of another type. */
int mp_read_uint(struct mp_reader *r, const char *what, uint64_t *v);
int mp_read_str(struct mp_reader *r, const char *what, const uint8_t **p, size_t *len);
int mp_read_bin(struct mp_reader *r, const char *what, const uint8_t **p, size_t *len);
/* A bin of exactly n bytes. */
int mp_read_bin_n(struct mp_reader *r, const char *what, size_t n, const uint8_t **p);
int mp_read_array(struct mp_reader *r, const char *what, size_t *n);
int mp_read_map(struct mp_reader *r, const char *what, size_t *n);

/* WM_EMALFORMED ("trailing bytes") unless the whole buffer has been read. */
int mp_expect_end(struct mp_reader *r, const char *what);

/* Walk one whole value of the canonical subset (map keys must be strings,
 * unique and sorted bytewise; nesting at most 32 deep), then require the
 * end of the buffer.  For fuzzing and for callers that only need a verdict. */
int mp_check_canonical(const uint8_t *buf, size_t len, char *why);

/* For tests and fuzzing, a second opinion from msgpack-c: unpack one value
 * from buf with msgpack-c's unpacker and pack it again with its packer.
 * 0 and *out (malloc'd, caller frees) on success; WM_EMALFORMED if
 * msgpack-c cannot unpack it or leaves bytes over.  For canonical input the
 * output equals the input. */
int mp_msgpack_repack(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen);

/* 1 if p[0..len) is valid UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF), else 0. */
int mp_utf8_valid(const uint8_t *p, size_t len);

/* The valid UTF-8 sequence that starts p[0..len): its length (1-4) and
 * *cp, or 0 (and *cp untouched) if none does. */
size_t mp_utf8_next(const uint8_t *p, size_t len, uint32_t *cp);

/* 1 for a character that a terminal or a text layout acts on instead of
 * showing: the C0 controls (tab and newline included; callers that allow
 * them say so), DEL, the C1 controls U+0080-U+009F, and the bidirectional
 * embeddings, overrides and isolates U+202A-U+202E, U+2066-U+2069.  One
 * list for the content rules, for messages and for what the CLI prints. */
int mp_char_control(uint32_t cp);

/* Bytewise key order: memcmp on the common prefix, then the shorter first. */
int mp_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Name of a type for messages ("an unsigned integer"). */
const char *mp_type_name(enum mp_type t);

/* A short printable form of p[0..len) for messages: ASCII controls, quotes,
 * backslashes and bytes of invalid UTF-8 as \xNN, the other characters of
 * mp_char_control as \uNNNN, cut at about 40 bytes with "...".  out
 * holds outlen bytes (>= 8) and is NUL-terminated.  Returns out. */
char *mp_quote(char *out, size_t outlen, const uint8_t *p, size_t len);

/* Fill why (WM_WHY_LEN bytes; NULL allowed) with a printf-style message
 * and return code.  Shared by proto/ so all reasons read alike. */
int mp_fail(char *why, int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

#endif
