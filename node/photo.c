/*
 * node/photo.c: photo metadata stripping (what is kept and why: photo.h).
 *
 * Each format is walked once, front to back, copying what is kept to the
 * output.  The output never runs ahead of the input (a kept piece is copied
 * whole, or shortened), so in == out works: every copy is a memmove to a
 * place at or before the one it was read from.  Every length read from the
 * photo is checked against what is left before it is used.
 */
#include "photo.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Fills why and returns WM_EFORMAT: every refusal here is a damaged photo. */
static int refuse(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, WM_WHY_LEN, fmt, ap);
	va_end(ap);
	return WM_EFORMAT;
}

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Whether a TIFF structure (EXIF's body) has a GPS IFD pointer (tag
 * 0x8825) in its first IFD.  Only to say so: the EXIF goes either way, so a
 * broken one is simply "no". */
static int tiff_has_gps(const uint8_t *t, size_t n)
{
	int le;
	uint32_t ifd, count, i;

	if (n < 8 || !((t[0] == 'I' && t[1] == 'I') || (t[0] == 'M' && t[1] == 'M')))
		return 0;
	le = t[0] == 'I';
#define U16(p) (le ? (uint32_t)(p)[1] << 8 | (p)[0] : be16(p))
#define U32(p) (le ? le32(p) : be32(p))
	ifd = U32(t + 4);
	if (ifd > n - 2)
		return 0;
	count = U16(t + ifd);
	for (i = 0; i < count && (n - ifd - 2) / 12 > i; i++)
		if (U16(t + ifd + 2 + 12 * i) == 0x8825)
			return 1;
#undef U16
#undef U32
	return 0;
}

/* Whether seg[0..n) starts with the NUL-terminated prefix p, its NUL too. */
static int starts(const uint8_t *seg, size_t n, const char *p, size_t plen)
{
	return n >= plen && memcmp(seg, p, plen) == 0;
}

#define JFIF_LEN 14     /* "JFIF\0", version, units, densities, thumbnail size */
#define ADOBE_LEN 12    /* "Adobe", version, two flag words, transform */

/* What an APPn or COM segment is, as enum photo_removed bits; 0 to keep. */
static unsigned jpeg_metadata(uint8_t m, const uint8_t *seg, size_t n)
{
	if (m == 0xfe)
		return PHOTO_COMMENT;
	if (m == 0xe0) {
		if (starts(seg, n, "JFIF", 5))
			return 0;
		return starts(seg, n, "JFXX", 5) ? PHOTO_THUMBNAIL : PHOTO_OTHER;
	}
	if (m == 0xe1) {
		if (starts(seg, n, "Exif\0", 6))
			return PHOTO_EXIF | (tiff_has_gps(seg + 6, n - 6) ? PHOTO_GPS : 0);
		if (starts(seg, n, "http://ns.adobe.com/xap/1.0/", 29) ||
		    starts(seg, n, "http://ns.adobe.com/xmp/extension/", 35))
			return PHOTO_XMP;
		return PHOTO_OTHER;
	}
	if (m == 0xe2 && starts(seg, n, "ICC_PROFILE", 12))
		return PHOTO_ICC;
	if (m == 0xed && starts(seg, n, "Photoshop 3.0", 14))
		return PHOTO_IPTC;
	if (m == 0xee && starts(seg, n, "Adobe", 5) && n >= ADOBE_LEN)
		return 0;
	return PHOTO_OTHER;
}

/* Markers without a length: TEM, RST0-7 (only inside a scan), SOI, EOI. */
static int jpeg_standalone(uint8_t m)
{
	return m == 0x01 || (m >= 0xd0 && m <= 0xd9);
}

/* A start of frame: SOF0-3, 5-7, 9-11, 13-15 (C4 DHT, C8 JPG, CC DAC are not). */
static int jpeg_sof(uint8_t m)
{
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

static int jpeg_strip(const uint8_t *in, size_t len, uint8_t *out, struct photo_result *res,
                      char *why)
{
	size_t off = 2, w = 2;
	int frame = 0, scan = 0;

	memmove(out, in, 2);
	for (;;) {
		size_t seglen, keep, i;
		unsigned what;
		uint8_t m;

		if (off >= len)
			return refuse(why, "the JPEG ends before its end marker");
		if (in[off] != 0xff)
			return refuse(why, "the JPEG has 0x%02x where a marker should be, at byte %zu",
			              in[off], off);
		while (off < len && in[off] == 0xff)
			off++;          /* fill bytes before a marker: not copied */
		if (off >= len)
			return refuse(why, "the JPEG ends before its end marker");
		m = in[off++];
		if (m == 0xd9) {
			if (!scan)
				return refuse(why, "the JPEG has no image data");
			out[w++] = 0xff;
			out[w++] = 0xd9;
			if (off < len)
				res->removed |= PHOTO_TRAILER;
			res->len = w;
			return 0;
		}
		if (m == 0x00 || jpeg_standalone(m))
			return refuse(why, "the JPEG has a stray marker 0x%02x at byte %zu", m, off - 1);
		if (len - off < 2 || (seglen = be16(in + off)) < 2 || seglen > len - off)
			return refuse(why, "the JPEG ends inside a segment at byte %zu", off - 2);
		what = (m >= 0xe0 && m <= 0xef) || m == 0xfe
		     ? jpeg_metadata(m, in + off + 2, seglen - 2) : 0;
		res->removed |= what;
		keep = m == 0xe0 ? JFIF_LEN : m == 0xee ? ADOBE_LEN : seglen - 2;
		if (what == 0 && seglen - 2 > keep) {
			/* JFIF with a thumbnail, or either with bytes after what a
			 * decoder reads: the header alone (what it was is read
			 * before the copy, which in place may overwrite it) */
			res->removed |= m == 0xe0 && (in[off + 2 + 12] || in[off + 2 + 13])
			              ? PHOTO_THUMBNAIL : PHOTO_OTHER;
			memmove(out + w + 4, in + off + 2, keep);
			out[w] = 0xff;
			out[w + 1] = m;
			out[w + 2] = 0;
			out[w + 3] = (uint8_t)(keep + 2);
			if (m == 0xe0)
				out[w + 4 + 12] = out[w + 4 + 13] = 0;
			w += 4 + keep;
		} else if (what == 0) {
			memmove(out + w + 2, in + off, seglen);
			out[w] = 0xff;
			out[w + 1] = m;
			w += 2 + seglen;
		}
		off += seglen;
		if (jpeg_sof(m))
			frame = 1;
		if (m != 0xda)
			continue;
		if (!frame)
			return refuse(why, "the JPEG has a scan before its frame header");
		/* the entropy-coded data: up to a marker that is not a stuffed
		 * 0xff00 or a restart marker */
		for (i = off; i < len; i++)
			if (in[i] == 0xff && i + 1 < len && in[i + 1] != 0x00 &&
			    !(in[i + 1] >= 0xd0 && in[i + 1] <= 0xd7))
				break;
		if (i >= len)
			return refuse(why, "the JPEG ends inside its image data");
		memmove(out + w, in + off, i - off);
		w += i - off;
		off = i;
		scan = 1;
	}
}

/* CRC-32 (ISO 3309, as PNG uses it), four bits at a time. */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	static const uint32_t nib[16] = {
		0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
		0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
		0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	uint32_t c = 0xffffffffu;
	size_t i;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		c = (c >> 4) ^ nib[c & 15];
		c = (c >> 4) ^ nib[c & 15];
	}
	return c ^ 0xffffffffu;
}

/* What an ancillary PNG chunk is, as enum photo_removed bits; 0 to keep. */
static unsigned png_metadata(const uint8_t *type, const uint8_t *data, size_t n)
{
	static const char keep[][5] = { "tRNS", "gAMA", "cHRM", "sRGB", "sBIT", "bKGD", "pHYs",
	                                "cICP", "acTL", "fcTL", "fdAT" };
	size_t i;

	for (i = 0; i < sizeof keep / sizeof keep[0]; i++)
		if (memcmp(type, keep[i], 4) == 0)
			return 0;
	if (memcmp(type, "tEXt", 4) == 0 || memcmp(type, "zTXt", 4) == 0 || memcmp(type, "iTXt", 4) == 0)
		return PHOTO_TEXT;
	if (memcmp(type, "eXIf", 4) == 0)
		return PHOTO_EXIF | (tiff_has_gps(data, n) ? PHOTO_GPS : 0);
	if (memcmp(type, "tIME", 4) == 0)
		return PHOTO_TIME;
	if (memcmp(type, "iCCP", 4) == 0)
		return PHOTO_ICC;
	return PHOTO_OTHER;
}

static int png_strip(const uint8_t *in, size_t len, uint8_t *out, struct photo_result *res,
                     char *why)
{
	size_t off = 8, w = 8;
	int idat = 0, iend;

	memmove(out, in, 8);
	for (iend = 0; !iend;) {
		const uint8_t *type;
		size_t n, k;
		unsigned what = 0;

		if (off == len)
			return refuse(why, "the PNG ends before its IEND chunk");
		if (len - off < 12 || (n = be32(in + off)) > len - off - 12)
			return refuse(why, "the PNG ends inside a chunk at byte %zu", off);
		type = in + off + 4;
		for (k = 0; k < 4; k++)
			if (!((type[k] >= 'A' && type[k] <= 'Z') || (type[k] >= 'a' && type[k] <= 'z')))
				return refuse(why, "the PNG has a broken chunk at byte %zu", off);
		if (crc32_of(type, 4 + n) != be32(type + 4 + n))
			return refuse(why, "the PNG's %.4s chunk at byte %zu fails its CRC",
			              (const char *)type, off);
		if ((off == 8) != (memcmp(type, "IHDR", 4) == 0) || (off == 8 && n != 13))
			return refuse(why, "the PNG does not start with one 13-byte IHDR chunk");
		/* before the copy: in place, it may overwrite the type */
		iend = memcmp(type, "IEND", 4) == 0;
		if (type[0] >= 'a') {
			what = png_metadata(type, type + 4, n);
		} else if (memcmp(type, "IDAT", 4) == 0) {
			idat = 1;
		} else if (memcmp(type, "PLTE", 4) != 0 && memcmp(type, "IHDR", 4) != 0 &&
		           memcmp(type, "IEND", 4) != 0) {
			/* a decoder must refuse a critical chunk it does not know */
			return refuse(why, "the PNG has an unknown critical chunk %.4s",
			              (const char *)type);
		}
		res->removed |= what;
		if (what == 0) {
			memmove(out + w, in + off, 12 + n);
			w += 12 + n;
		}
		off += 12 + n;
	}
	if (!idat)
		return refuse(why, "the PNG has no image data");
	if (off < len)
		res->removed |= PHOTO_TRAILER;
	res->len = w;
	return 0;
}

/* VP8X flags (WebP container specification) of chunks we remove. */
#define VP8X_ICC  0x20
#define VP8X_EXIF 0x08
#define VP8X_XMP  0x04

/* What a WebP chunk we do not keep is, as enum photo_removed bits. */
static unsigned webp_metadata(const uint8_t *fourcc, const uint8_t *data, size_t n)
{
	if (memcmp(fourcc, "EXIF", 4) == 0) {
		/* the TIFF structure, or (some writers) "Exif\0\0" before it */
		int gps = starts(data, n, "Exif\0", 6) ? tiff_has_gps(data + 6, n - 6) : tiff_has_gps(data, n);

		return PHOTO_EXIF | (gps ? PHOTO_GPS : 0);
	}
	if (memcmp(fourcc, "XMP ", 4) == 0)
		return PHOTO_XMP;
	return memcmp(fourcc, "ICCP", 4) == 0 ? PHOTO_ICC : PHOTO_OTHER;
}

static int webp_strip(const uint8_t *in, size_t len, uint8_t *out, struct photo_result *res,
                      char *why)
{
	size_t end, off = 12, w = 12;
	int image = 0, vp8x = 0;

	if (le32(in + 4) < 4 || le32(in + 4) > len - 8)
		return refuse(why, "the WebP is %zu bytes, shorter than its header says (%lu)",
		              len, (unsigned long)le32(in + 4) + 8);
	end = 8 + (size_t)le32(in + 4);
	memmove(out, in, 12);
	while (off < end) {
		const uint8_t *cc = in + off;
		size_t n, pad;
		unsigned what = 0;

		if (end - off < 8 || (n = le32(cc + 4)) > end - off - 8)
			return refuse(why, "the WebP ends inside a chunk at byte %zu", off);
		pad = (n & 1) && off + 8 + n < end;
		if (memcmp(cc, "VP8 ", 4) == 0 || memcmp(cc, "VP8L", 4) == 0 || memcmp(cc, "ANMF", 4) == 0)
			image = 1;
		else if (memcmp(cc, "VP8X", 4) == 0 && off == 12 && n >= 10)
			vp8x = 1;
		else if (memcmp(cc, "ALPH", 4) != 0 && memcmp(cc, "ANIM", 4) != 0)
			what = webp_metadata(cc, cc + 8, n);
		if (off == 12 && !image && !vp8x)
			return refuse(why, "the WebP does not start with a VP8, VP8L or VP8X chunk");
		res->removed |= what;
		if (what == 0) {
			memmove(out + w, cc, 8 + n + pad);
			w += 8 + n + pad;
		}
		off += 8 + n + pad;
	}
	if (!image)
		return refuse(why, "the WebP has no image data");
	if (vp8x)
		out[20] &= (uint8_t)~(VP8X_ICC | VP8X_EXIF | VP8X_XMP);
	out[4] = (uint8_t)(w - 8);
	out[5] = (uint8_t)((w - 8) >> 8);
	out[6] = (uint8_t)((w - 8) >> 16);
	out[7] = (uint8_t)((w - 8) >> 24);
	if (end < len)
		res->removed |= PHOTO_TRAILER;
	res->len = w;
	return 0;
}

int photo_strip(const uint8_t *in, size_t len, uint8_t *out, struct photo_result *res,
                char why[WM_WHY_LEN])
{
	struct photo_result r = { NULL, 0, 0 };
	int rc;

	if (in == NULL || out == NULL || res == NULL || why == NULL)
		return WM_EINVAL;
	if (len >= 4 && in[0] == 0xff && in[1] == 0xd8 && in[2] == 0xff) {
		r.type = "image/jpeg";
		rc = jpeg_strip(in, len, out, &r, why);
	} else if (len >= 8 && memcmp(in, "\x89PNG\r\n\x1a\n", 8) == 0) {
		r.type = "image/png";
		rc = png_strip(in, len, out, &r, why);
	} else if (len >= 12 && memcmp(in, "RIFF", 4) == 0 && memcmp(in + 8, "WEBP", 4) == 0) {
		r.type = "image/webp";
		rc = webp_strip(in, len, out, &r, why);
	} else {
		return refuse(why, "not a JPEG, PNG or WebP image");
	}
	if (rc == 0)
		*res = r;
	return rc;
}

void photo_removed_list(unsigned removed, char *buf, size_t buflen)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ PHOTO_EXIF, "EXIF" }, { PHOTO_XMP, "XMP" }, { PHOTO_IPTC, "IPTC" },
		{ PHOTO_ICC, "colour profile" }, { PHOTO_COMMENT, "comment" },
		{ PHOTO_TEXT, "text" }, { PHOTO_TIME, "time" }, { PHOTO_THUMBNAIL, "thumbnail" },
		{ PHOTO_OTHER, "other metadata" }, { PHOTO_TRAILER, "data after the image" },
	};
	size_t i, o = 0;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		int n;

		if (!(removed & names[i].bit))
			continue;
		n = snprintf(buf + o, buflen - o, "%s%s%s", o ? ", " : "", names[i].name,
		             names[i].bit == PHOTO_EXIF && (removed & PHOTO_GPS) ? " (GPS position)" : "");
		if (n < 0 || (size_t)n >= buflen - o) {
			buf[o] = '\0';  /* whole names only */
			return;
		}
		o += (size_t)n;
	}
}
