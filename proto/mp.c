/*
 * proto/mp: the strict msgpack reader (see mp.h).  Hand-written rather than
 * msgpack-c's unpacker because we must reject every non-shortest form and
 * say exactly where and why; msgpack-c accepts them silently.
 */
#include "mp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

int mp_fail(char *why, int code, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL) {
		va_start(ap, fmt);
		vsnprintf(why, WM_WHY_LEN, fmt, ap);
		va_end(ap);
	}
	return code;
}

void mp_reader_init(struct mp_reader *r, const uint8_t *buf, size_t len, size_t base, char *why)
{
	r->buf = buf;
	r->len = buf != NULL ? len : 0;
	r->pos = 0;
	r->base = base;
	r->why = why;
}

size_t mp_remaining(const struct mp_reader *r)
{
	return r->len - r->pos;
}

const char *mp_type_name(enum mp_type t)
{
	switch (t) {
	case MP_UINT:  return "an unsigned integer";
	case MP_NINT:  return "a negative integer";
	case MP_STR:   return "a string";
	case MP_BIN:   return "a binary";
	case MP_ARRAY: return "an array";
	case MP_MAP:   return "a map";
	}
	return "?";
}

size_t mp_utf8_next(const uint8_t *p, size_t len, uint32_t *cp)
{
	uint8_t c;
	size_t n;
	uint32_t v, min;

	if (len == 0)
		return 0;
	c = p[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 1; v = c & 0x1f; min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2; v = c & 0x0f; min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3; v = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (len - 1 < n)
		return 0;
	for (size_t k = 1; k <= n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[k] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n + 1;
}

int mp_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if ((n = mp_utf8_next(p + i, len - i, &cp)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

int mp_char_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

int mp_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n > 0 ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

char *mp_quote(char *out, size_t outlen, const uint8_t *p, size_t len)
{
	size_t o = 0, i = 0, n;
	uint32_t cp;

	while (i < len) {
		if (o >= 40 || o + 8 >= outlen) {
			memcpy(out + o, "...", 4);
			return out;
		}
		n = mp_utf8_next(p + i, len - i, &cp);
		if (n == 0 || cp == '\\' || cp == '\'' || (cp < 0x80 && mp_char_control(cp))) {
			snprintf(out + o, outlen - o, "\\x%02x", p[i]);
			o += 4;
			i++;
		} else if (mp_char_control(cp)) {
			/* a C1 control or a bidi override moves a terminal or the text
			 * around it as surely as ESC: shown, never passed on */
			snprintf(out + o, outlen - o, "\\u%04x", (unsigned)cp);
			o += 6;
			i += n;
		} else {
			/* the whole sequence, so a cut never splits it */
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}

static uint64_t be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t k = 0; k < n; k++)
		v = (v << 8) | p[k];
	return v;
}

static const char *uint_form(uint64_t v)
{
	return v < 0x80 ? "positive fixint" : v <= 0xff ? "uint8" : v <= 0xffff ? "uint16" :
	       v <= 0xffffffffu ? "uint32" : "uint64";
}

static const char *nint_form(int64_t v)
{
	return v >= -32 ? "negative fixint" : v >= -128 ? "int8" : v >= -32768 ? "int16" :
	       v >= -2147483647 - 1 ? "int32" : "int64";
}

/* Shortest header size for a str/bin/array/map length, by family. */
static const char *len_form(char fam, uint64_t n)
{
	switch (fam) {
	case 's': return n < 32 ? "fixstr" : n <= 0xff ? "str8" : n <= 0xffff ? "str16" : "str32";
	case 'b': return n <= 0xff ? "bin8" : n <= 0xffff ? "bin16" : "bin32";
	case 'a': return n < 16 ? "fixarray" : n <= 0xffff ? "array16" : "array32";
	default:  return n < 16 ? "fixmap" : n <= 0xffff ? "map16" : "map32";
	}
}

int mp_read(struct mp_reader *r, const char *what, struct mp_item *it)
{
	size_t left = r->len - r->pos;
	const uint8_t *p = r->buf + r->pos;
	size_t off = r->base + r->pos;
	size_t hdr = 1, extra;
	struct mp_item x;
	const char *used = NULL, *fam_used;
	char fam = 0;
	uint64_t n = 0;

	memset(&x, 0, sizeof(x));
	x.off = off;
	if (left == 0)
		return mp_fail(r->why, WM_ETRUNCATED, "%s: input ends where a value should start (byte %zu)",
		               what, off);
	uint8_t c = p[0];

	if (c <= 0x7f) {
		x.type = MP_UINT;
		x.u = c;
		r->pos += 1;
		*it = x;
		return 0;
	}
	if (c >= 0xe0) {
		x.type = MP_NINT;
		x.i = (int8_t)c;
		r->pos += 1;
		*it = x;
		return 0;
	}
	if (c >= 0x80 && c <= 0x8f) {
		fam = 'm'; n = c & 0x0f; used = "fixmap";
	} else if (c >= 0x90 && c <= 0x9f) {
		fam = 'a'; n = c & 0x0f; used = "fixarray";
	} else if (c >= 0xa0 && c <= 0xbf) {
		fam = 's'; n = c & 0x1f; used = "fixstr";
	} else {
		switch (c) {
		case 0xc0:
			return mp_fail(r->why, WM_EMALFORMED, "%s: nil is not allowed (byte %zu)", what, off);
		case 0xc2: case 0xc3:
			return mp_fail(r->why, WM_EMALFORMED, "%s: booleans are not allowed (byte %zu)", what, off);
		case 0xca: case 0xcb:
			return mp_fail(r->why, WM_EMALFORMED, "%s: floats are not allowed (byte %zu)", what, off);
		case 0xc7: case 0xc8: case 0xc9:
		case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
			return mp_fail(r->why, WM_EMALFORMED, "%s: extension types are not allowed (byte %zu)",
			               what, off);
		case 0xc1:
			return mp_fail(r->why, WM_EMALFORMED, "%s: byte 0xc1 is not a msgpack type (byte %zu)",
			               what, off);
		case 0xcc: case 0xcd: case 0xce: case 0xcf: {
			size_t w = (size_t)1 << (c - 0xcc);
			static const char *const names[] = { "uint8", "uint16", "uint32", "uint64" };

			if (left < 1 + w)
				return mp_fail(r->why, WM_ETRUNCATED, "%s: input ends inside an integer (byte %zu)",
				               what, off);
			x.type = MP_UINT;
			x.u = be(p + 1, w);
			if (strcmp(uint_form(x.u), names[c - 0xcc]) != 0)
				return mp_fail(r->why, WM_ECANONICAL,
				               "%s: non-canonical integer %llu (%s form where %s is shortest, byte %zu)",
				               what, (unsigned long long)x.u, names[c - 0xcc], uint_form(x.u), off);
			r->pos += 1 + w;
			*it = x;
			return 0;
		}
		case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
			size_t w = (size_t)1 << (c - 0xd0);
			static const char *const names[] = { "int8", "int16", "int32", "int64" };
			uint64_t raw;
			int64_t v;

			if (left < 1 + w)
				return mp_fail(r->why, WM_ETRUNCATED, "%s: input ends inside an integer (byte %zu)",
				               what, off);
			raw = be(p + 1, w);
			/* sign-extend from w bytes without relying on implementation-defined shifts */
			if (w < 8 && (raw >> (8 * w - 1)) != 0)
				raw |= ~(uint64_t)0 << (8 * w);
			v = raw > (uint64_t)INT64_MAX ? -(int64_t)(~raw) - 1 : (int64_t)raw;
			if (v >= 0)
				return mp_fail(r->why, WM_ECANONICAL,
				               "%s: non-canonical integer %lld (signed %s form for a non-negative value; "
				               "use %s, byte %zu)", what, (long long)v, names[c - 0xd0],
				               uint_form((uint64_t)v), off);
			if (strcmp(nint_form(v), names[c - 0xd0]) != 0)
				return mp_fail(r->why, WM_ECANONICAL,
				               "%s: non-canonical integer %lld (%s form where %s is shortest, byte %zu)",
				               what, (long long)v, names[c - 0xd0], nint_form(v), off);
			x.type = MP_NINT;
			x.i = v;
			r->pos += 1 + w;
			*it = x;
			return 0;
		}
		case 0xc4: fam = 'b'; hdr = 2; used = "bin8"; break;
		case 0xc5: fam = 'b'; hdr = 3; used = "bin16"; break;
		case 0xc6: fam = 'b'; hdr = 5; used = "bin32"; break;
		case 0xd9: fam = 's'; hdr = 2; used = "str8"; break;
		case 0xda: fam = 's'; hdr = 3; used = "str16"; break;
		case 0xdb: fam = 's'; hdr = 5; used = "str32"; break;
		case 0xdc: fam = 'a'; hdr = 3; used = "array16"; break;
		case 0xdd: fam = 'a'; hdr = 5; used = "array32"; break;
		case 0xde: fam = 'm'; hdr = 3; used = "map16"; break;
		case 0xdf: fam = 'm'; hdr = 5; used = "map32"; break;
		default:
			return mp_fail(r->why, WM_EMALFORMED, "%s: unknown type byte 0x%02x (byte %zu)",
			               what, c, off);
		}
		if (left < hdr)
			return mp_fail(r->why, WM_ETRUNCATED, "%s: input ends inside a header (byte %zu)", what, off);
		n = be(p + 1, hdr - 1);
	}
	fam_used = len_form(fam, n);
	if (strcmp(fam_used, used) != 0)
		return mp_fail(r->why, WM_ECANONICAL,
		               "%s: non-canonical length %llu (%s header where %s is shortest, byte %zu)",
		               what, (unsigned long long)n, used, fam_used, off);
	x.len = (size_t)n;
	switch (fam) {
	case 'a':
	case 'm':
		x.type = fam == 'a' ? MP_ARRAY : MP_MAP;
		/* every item takes at least one byte (two per map pair): a cheap
		 * bound that stops absurd counts before anyone allocates for them */
		if (n > left - hdr || (fam == 'm' && n > (left - hdr) / 2))
			return mp_fail(r->why, WM_ETRUNCATED,
			               "%s: %s of %llu items cannot fit in the %zu bytes left (byte %zu)",
			               what, fam == 'a' ? "array" : "map", (unsigned long long)n, left - hdr, off);
		r->pos += hdr;
		*it = x;
		return 0;
	default:
		extra = (size_t)n;
		if (n > left - hdr)
			return mp_fail(r->why, WM_ETRUNCATED,
			               "%s: %s of %llu bytes runs past the end of the input (byte %zu)",
			               what, fam == 's' ? "string" : "binary", (unsigned long long)n, off);
		x.type = fam == 's' ? MP_STR : MP_BIN;
		x.ptr = p + hdr;
		if (fam == 's' && !mp_utf8_valid(x.ptr, extra))
			return mp_fail(r->why, WM_EMALFORMED, "%s: string is not valid UTF-8 (byte %zu)", what, off);
		r->pos += hdr + extra;
		*it = x;
		return 0;
	}
}

static int read_typed(struct mp_reader *r, const char *what, enum mp_type want, struct mp_item *it)
{
	size_t save = r->pos;
	int rc = mp_read(r, what, it);

	if (rc != 0)
		return rc;
	if (it->type != want) {
		r->pos = save;
		return mp_fail(r->why, WM_EMALFORMED, "%s: expected %s, found %s (byte %zu)",
		               what, mp_type_name(want), mp_type_name(it->type), it->off);
	}
	return 0;
}

int mp_read_uint(struct mp_reader *r, const char *what, uint64_t *v)
{
	struct mp_item it;
	int rc = read_typed(r, what, MP_UINT, &it);

	if (rc == 0)
		*v = it.u;
	return rc;
}

int mp_read_str(struct mp_reader *r, const char *what, const uint8_t **p, size_t *len)
{
	struct mp_item it;
	int rc = read_typed(r, what, MP_STR, &it);

	if (rc == 0) {
		*p = it.ptr;
		*len = it.len;
	}
	return rc;
}

int mp_read_bin(struct mp_reader *r, const char *what, const uint8_t **p, size_t *len)
{
	struct mp_item it;
	int rc = read_typed(r, what, MP_BIN, &it);

	if (rc == 0) {
		*p = it.ptr;
		*len = it.len;
	}
	return rc;
}

int mp_read_bin_n(struct mp_reader *r, const char *what, size_t n, const uint8_t **p)
{
	struct mp_item it;
	size_t save = r->pos;
	int rc = read_typed(r, what, MP_BIN, &it);

	if (rc != 0)
		return rc;
	if (it.len != n) {
		r->pos = save;
		return mp_fail(r->why, WM_EMALFORMED, "%s: binary of %zu bytes, expected %zu (byte %zu)",
		               what, it.len, n, it.off);
	}
	*p = it.ptr;
	return 0;
}

int mp_read_array(struct mp_reader *r, const char *what, size_t *n)
{
	struct mp_item it;
	int rc = read_typed(r, what, MP_ARRAY, &it);

	if (rc == 0)
		*n = it.len;
	return rc;
}

int mp_read_map(struct mp_reader *r, const char *what, size_t *n)
{
	struct mp_item it;
	int rc = read_typed(r, what, MP_MAP, &it);

	if (rc == 0)
		*n = it.len;
	return rc;
}

int mp_expect_end(struct mp_reader *r, const char *what)
{
	if (r->pos != r->len)
		return mp_fail(r->why, WM_EMALFORMED, "%s: %zu trailing byte(s) after the end (byte %zu)",
		               what, r->len - r->pos, r->base + r->pos);
	return 0;
}

static int walk(struct mp_reader *r, int depth)
{
	struct mp_item it;
	int rc;

	rc = mp_read(r, "value", &it);
	if (rc != 0)
		return rc;
	/* as msgpack-c's reader: 32 containers deep at most, counting an
	 * empty one (a scalar may sit inside the 32nd) */
	if ((it.type == MP_ARRAY || it.type == MP_MAP) && depth >= 32)
		return mp_fail(r->why, WM_EMALFORMED, "value: nested more than 32 deep (byte %zu)",
		               it.off);
	if (it.type == MP_ARRAY) {
		for (size_t k = 0; k < it.len; k++)
			if ((rc = walk(r, depth + 1)) != 0)
				return rc;
	} else if (it.type == MP_MAP) {
		const uint8_t *prev = NULL;
		size_t prevlen = 0;

		for (size_t k = 0; k < it.len; k++) {
			struct mp_item key;

			if ((rc = read_typed(r, "map key", MP_STR, &key)) != 0)
				return rc;
			if (k > 0) {
				int c = mp_key_cmp(prev, prevlen, key.ptr, key.len);

				if (c == 0)
					return mp_fail(r->why, WM_ECANONICAL, "map: duplicate key (byte %zu)", key.off);
				if (c > 0)
					return mp_fail(r->why, WM_ECANONICAL, "map: keys not sorted (byte %zu)", key.off);
			}
			prev = key.ptr;
			prevlen = key.len;
			if ((rc = walk(r, depth + 1)) != 0)
				return rc;
		}
	}
	return 0;
}

int mp_check_canonical(const uint8_t *buf, size_t len, char *why)
{
	struct mp_reader r;
	int rc;

	mp_reader_init(&r, buf, len, 0, why);
	if ((rc = walk(&r, 0)) != 0)
		return rc;
	return mp_expect_end(&r, "value");
}

int mp_msgpack_repack(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen)
{
	msgpack_unpacked u;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t off = 0;
	uint8_t *copy;
	int rc = WM_EMALFORMED;

	if (buf == NULL || out == NULL || outlen == NULL)
		return WM_EINVAL;
	msgpack_unpacked_init(&u);
	msgpack_sbuffer_init(&sb);
	if (msgpack_unpack_next(&u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
		goto out;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_object(&pk, u.data) != 0) {
		rc = WM_ENOMEM;
		goto out;
	}
	copy = malloc(sb.size ? sb.size : 1);
	if (copy == NULL) {
		rc = WM_ENOMEM;
		goto out;
	}
	memcpy(copy, sb.data, sb.size);
	*out = copy;
	*outlen = sb.size;
	rc = 0;
out:
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_destroy(&u);
	return rc;
}
