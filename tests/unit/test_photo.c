/*
 * Unit tests for node/photo: metadata is taken out of JPEG, PNG and WebP
 * photos byte for byte (each photo is built here twice, with and without
 * its metadata, and the stripped one must equal the plain one), what was
 * removed is named, and a damaged photo is refused with a reason, never
 * read past its end.  The PNG CRCs here are computed bit by bit, apart
 * from the table photo.c uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "photo.h"

struct buf {
	uint8_t b[4096];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof b->b);
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put_be16(struct buf *b, unsigned v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(b, x, 2);
}

static void put_be32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put(b, x, 4);
}

static void put_le32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	put(b, x, 4);
}

/* A TIFF structure as EXIF carries it: IFD0 with a GPS IFD pointer, the GPS
 * IFD holding 22°32'35"N.  Without gps, IFD0 holds only an orientation. */
static void put_tiff(struct buf *b, int gps)
{
	static const uint8_t with_gps[] = {
		'I', 'I', 42, 0, 8, 0, 0, 0,
		1, 0, 0x25, 0x88, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0, 0, 0, 0,       /* IFD0 */
		2, 0, 1, 0, 2, 0, 2, 0, 0, 0, 'N', 0, 0, 0,                        /* GPS IFD: N */
		2, 0, 5, 0, 3, 0, 0, 0, 56, 0, 0, 0, 0, 0, 0, 0,                   /* 22 32 35 */
		22, 0, 0, 0, 1, 0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0, 35, 0, 0, 0, 1, 0, 0, 0,
	};
	static const uint8_t no_gps[] = {
		'M', 'M', 0, 42, 0, 0, 0, 8,
		0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0,
	};

	if (gps)
		put(b, with_gps, sizeof with_gps);
	else
		put(b, no_gps, sizeof no_gps);
}

/* ---- JPEG ---- */

static void put_segment(struct buf *b, uint8_t marker, const void *p, size_t n)
{
	uint8_t m[2] = { 0xff, marker };

	put(b, m, 2);
	put_be16(b, (unsigned)n + 2);
	put(b, p, n);
}

static const uint8_t jfif[14] = { 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0 };
static const uint8_t adobe[12] = { 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 1 };

/* An 8x8 grey baseline JPEG after SOI and APP0: one quantisation table,
 * a frame header, a one-code Huffman table each for DC and AC, one scan
 * whose only block is "DC 0, end of block" (bits 00, padded with ones). */
static void put_jpeg_image(struct buf *b)
{
	static const uint8_t sof[] = { 8, 0, 8, 0, 8, 1, 1, 0x11, 0 };
	static const uint8_t dht_dc[] = { 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t dht_ac[] = { 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t sos[] = { 1, 1, 0x00, 0, 63, 0 };
	static const uint8_t data[] = { 0x3f, 0xff, 0xd9 };
	uint8_t dqt[65];

	memset(dqt, 1, sizeof dqt);
	dqt[0] = 0;
	put_segment(b, 0xdb, dqt, sizeof dqt);
	put_segment(b, 0xc0, sof, sizeof sof);
	put_segment(b, 0xc4, dht_dc, sizeof dht_dc);
	put_segment(b, 0xc4, dht_ac, sizeof dht_ac);
	put_segment(b, 0xda, sos, sizeof sos);
	put(b, data, sizeof data);
}

static void put_soi_jfif(struct buf *b)
{
	put(b, "\xff\xd8", 2);
	put_segment(b, 0xe0, jfif, sizeof jfif);
}

static void put_app1_exif(struct buf *b, int gps)
{
	struct buf e = { .n = 0 };

	put(&e, "Exif\0\0", 6);
	put_tiff(&e, gps);
	put_segment(b, 0xe1, e.b, e.n);
}

/* Strip and expect exactly `want`, removing exactly `removed`, also in place. */
static void expect_strip(const struct buf *in, const struct buf *want, unsigned removed,
                         const char *type)
{
	uint8_t out[4096], inplace[4096];
	struct photo_result res, res2;
	char why[WM_WHY_LEN] = "";
	int r = photo_strip(in->b, in->n, out, &res, why);

	if (r != 0)
		fail_msg("refused: %s", why);
	assert_string_equal(res.type, type);
	assert_int_equal(res.removed, removed);
	assert_int_equal(res.len, want->n);
	assert_memory_equal(out, want->b, want->n);
	memcpy(inplace, in->b, in->n);
	assert_int_equal(photo_strip(inplace, in->n, inplace, &res2, why), 0);
	assert_int_equal(res2.removed, removed);
	assert_int_equal(res2.len, want->n);
	assert_memory_equal(inplace, want->b, want->n);
	/* stripping again changes nothing */
	assert_int_equal(photo_strip(out, res.len, out, &res2, why), 0);
	assert_int_equal(res2.removed, 0);
	assert_int_equal(res2.len, want->n);
}

/* Refused with a reason, at every length short of the whole. */
static void expect_truncations_refused(const struct buf *in)
{
	uint8_t out[4096];
	struct photo_result res;
	size_t n;

	for (n = 0; n < in->n; n++) {
		char why[WM_WHY_LEN] = "";

		if (photo_strip(in->b, n, out, &res, why) != WM_EFORMAT)
			fail_msg("a photo cut to %zu of %zu bytes was taken", n, in->n);
		assert_true(why[0] != '\0');
	}
}

static void test_jpeg_exif_gps(void **state)
{
	struct buf in = { .n = 0 }, want = { .n = 0 };
	char list[128];

	(void)state;
	put_soi_jfif(&in);
	put_app1_exif(&in, 1);
	put_jpeg_image(&in);
	put_soi_jfif(&want);
	put_jpeg_image(&want);
	expect_strip(&in, &want, PHOTO_EXIF | PHOTO_GPS, "image/jpeg");
	photo_removed_list(PHOTO_EXIF | PHOTO_GPS, list, sizeof list);
	assert_string_equal(list, "EXIF (GPS position)");
	expect_truncations_refused(&in);

	/* EXIF without GPS (big-endian TIFF), and a photo with no APP0 at all */
	in.n = want.n = 0;
	put(&in, "\xff\xd8", 2);
	put_app1_exif(&in, 0);
	put_jpeg_image(&in);
	put(&want, "\xff\xd8", 2);
	put_jpeg_image(&want);
	expect_strip(&in, &want, PHOTO_EXIF, "image/jpeg");
}

static void test_jpeg_everything_else(void **state)
{
	static const char xmp[] = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>Gaobu</x:xmpmeta>";
	static const char xmpx[] = "http://ns.adobe.com/xmp/extension/\0ABCDEF";
	static const char icc[] = "ICC_PROFILE\0\1\1profile";
	static const char iptc[] = "Photoshop 3.0\08BIM\4\4";
	static const char mpf[] = "MPF\0II*\0";
	static const char com[] = "taken by Wang, 13812345678";
	struct buf in = { .n = 0 }, want = { .n = 0 };
	uint8_t thumb[14 + 3 * 4], big_adobe[sizeof adobe + 8];
	char list[256];
	unsigned all = PHOTO_XMP | PHOTO_ICC | PHOTO_IPTC | PHOTO_COMMENT | PHOTO_THUMBNAIL |
	               PHOTO_OTHER | PHOTO_TRAILER | PHOTO_EXIF;

	(void)state;
	/* JFIF with a 2x2 thumbnail: kept, the thumbnail cut off */
	memcpy(thumb, jfif, sizeof jfif);
	thumb[12] = thumb[13] = 2;
	memset(thumb + 14, 0x80, 12);
	memcpy(big_adobe, adobe, sizeof adobe);
	memcpy(big_adobe + sizeof adobe, "smuggled", 8);
	put(&in, "\xff\xd8", 2);
	put_segment(&in, 0xe1, xmp, sizeof xmp - 1);    /* before: in place, the JFIF moves */
	put_segment(&in, 0xe0, thumb, sizeof thumb);
	put_segment(&in, 0xe0, "JFXX\0\x10", 6);
	put_segment(&in, 0xe1, xmp, sizeof xmp - 1);
	put_segment(&in, 0xe1, xmpx, sizeof xmpx - 1);
	put_app1_exif(&in, 0);
	put_segment(&in, 0xe2, icc, sizeof icc - 1);
	put_segment(&in, 0xe2, mpf, sizeof mpf - 1);
	put_segment(&in, 0xed, iptc, sizeof iptc - 1);
	put_segment(&in, 0xee, big_adobe, sizeof big_adobe); /* kept, its first 12 bytes */
	put_segment(&in, 0xef, "x", 1);
	put_segment(&in, 0xfe, com, sizeof com - 1);
	put(&in, "\xff\xff", 2);                            /* fill bytes before a marker */
	put_jpeg_image(&in);
	put(&in, "\xff\xd8\xff\xe1 a second picture", 22);

	put_soi_jfif(&want);
	put_segment(&want, 0xee, adobe, sizeof adobe);
	put_jpeg_image(&want);
	expect_strip(&in, &want, all, "image/jpeg");
	photo_removed_list(all, list, sizeof list);
	assert_string_equal(list, "EXIF, XMP, IPTC, colour profile, comment, thumbnail, other metadata, "
	                          "data after the image");
	/* a short buffer: cut, still terminated */
	photo_removed_list(all, list, 8);
	assert_string_equal(list, "EXIF");
	photo_removed_list(0, list, sizeof list);
	assert_string_equal(list, "");
}

/* A JFIF header without a thumbnail but with bytes after it: cut to the
 * header, said as "other metadata"; with a thumbnail, said so. */
static void test_jpeg_jfif_tail(void **state)
{
	struct buf in = { .n = 0 }, want = { .n = 0 };
	uint8_t tail[sizeof jfif + 5];

	(void)state;
	memcpy(tail, jfif, sizeof jfif);
	memcpy(tail + sizeof jfif, "hello", 5);
	put(&in, "\xff\xd8", 2);
	put_segment(&in, 0xe0, tail, sizeof tail);
	put_jpeg_image(&in);
	put_soi_jfif(&want);
	put_jpeg_image(&want);
	expect_strip(&in, &want, PHOTO_OTHER, "image/jpeg");

	/* a thumbnail right after SOI: in place, the header is copied onto itself */
	memcpy(tail, jfif, sizeof jfif);
	tail[12] = 1;
	tail[13] = 1;
	memset(tail + sizeof jfif, 0x80, 3);
	in.n = 0;
	put(&in, "\xff\xd8", 2);
	put_segment(&in, 0xe0, tail, sizeof jfif + 3);
	put_jpeg_image(&in);
	expect_strip(&in, &want, PHOTO_THUMBNAIL, "image/jpeg");
}

/* Image data with stuffed 0xff00 and a restart marker goes through whole. */
static void test_jpeg_scan_bytes(void **state)
{
	static const uint8_t sof[] = { 8, 0, 8, 0, 8, 1, 1, 0x11, 0 };
	static const uint8_t sos[] = { 1, 1, 0x00, 0, 63, 0 };
	static const uint8_t scan[] = { 0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xd9 };
	struct buf in = { .n = 0 };

	(void)state;
	put(&in, "\xff\xd8", 2);
	put_segment(&in, 0xc0, sof, sizeof sof);
	put_segment(&in, 0xda, sos, sizeof sos);
	put(&in, scan, sizeof scan);
	expect_strip(&in, &in, 0, "image/jpeg");
}

static void expect_refused(const void *p, size_t n, const char *reason)
{
	uint8_t out[4096];
	struct photo_result res;
	char why[WM_WHY_LEN] = "";

	assert_true(n <= sizeof out);
	assert_int_equal(photo_strip(p, n, out, &res, why), WM_EFORMAT);
	if (strstr(why, reason) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", reason, why);
}

static void test_jpeg_damaged(void **state)
{
	struct buf b = { .n = 0 };

	(void)state;
	/* what `post` was fed before: SOI, APP0 with a length of 1, noise */
	expect_refused("\xff\xd8\xff\xe0\x00\x01\x02\x03", 8, "ends inside a segment at byte 2");
	/* a segment longer than the file */
	expect_refused("\xff\xd8\xff\xe1\x40\x00Exif", 10, "ends inside a segment");
	/* no frame, no scan */
	expect_refused("\xff\xd8\xff\xd9", 4, "no image data");
	/* a scan before the frame header */
	expect_refused("\xff\xd8\xff\xda\x00\x02\x00\xff\xd9", 9, "scan before its frame header");
	/* a byte where a marker should be, a stray restart marker */
	expect_refused("\xff\xd8\xff\xfe\x00\x02\x00", 7, "0x00 where a marker should be, at byte 6");
	expect_refused("\xff\xd8\xff\xd0", 4, "stray marker 0xd0");
	expect_refused("\xff\xd8\xff\xd8", 4, "stray marker 0xd8");
	/* image data that never ends */
	put(&b, "\xff\xd8", 2);
	put_jpeg_image(&b);
	b.n -= 2;
	expect_refused(b.b, b.n, "ends inside its image data");
	expect_refused("GIF89a", 6, "not a JPEG, PNG or WebP");
	expect_refused("", 0, "not a JPEG, PNG or WebP");
}

/* ---- PNG ---- */

static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static void put_chunk(struct buf *b, const char *type, const void *p, size_t n)
{
	size_t at;

	put_be32(b, (uint32_t)n);
	at = b->n;
	put(b, type, 4);
	put(b, p, n);
	put_be32(b, crc_bitwise(b->b + at, 4 + n));
}

static const uint8_t ihdr[13] = { 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0 };
static const uint8_t idat[] = { 0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01 };

static void put_png_head(struct buf *b)
{
	put(b, "\x89PNG\r\n\x1a\n", 8);
	put_chunk(b, "IHDR", ihdr, sizeof ihdr);
}

static void put_png_tail(struct buf *b)
{
	put_chunk(b, "IDAT", idat, sizeof idat);
	put_chunk(b, "IEND", "", 0);
}

static void test_png(void **state)
{
	struct buf in = { .n = 0 }, want = { .n = 0 }, tiff = { .n = 0 };
	static const uint8_t phys[9] = { 0, 0, 11, 19, 0, 0, 11, 19, 1 };
	static const uint8_t time[7] = { 0x07, 0xea, 11, 29, 14, 30, 0 };

	(void)state;
	put_tiff(&tiff, 1);
	put_png_head(&in);
	put_chunk(&in, "pHYs", phys, sizeof phys);              /* kept */
	put_chunk(&in, "eXIf", tiff.b, tiff.n);
	put_chunk(&in, "tEXt", "Author\0Wang", 11);
	put_chunk(&in, "zTXt", "Comment\0\0x", 10);
	put_chunk(&in, "iTXt", "GPS\0\0\0\0\0022.5431", 14);
	put_chunk(&in, "tIME", time, sizeof time);
	put_chunk(&in, "iCCP", "icc\0\0x", 6);
	put_chunk(&in, "caBX", "provenance", 10);
	put_png_tail(&in);
	put(&in, "PK\3\4", 4);
	put_png_head(&want);
	put_chunk(&want, "pHYs", phys, sizeof phys);
	put_png_tail(&want);
	expect_strip(&in, &want, PHOTO_EXIF | PHOTO_GPS | PHOTO_TEXT | PHOTO_TIME | PHOTO_ICC |
	             PHOTO_OTHER | PHOTO_TRAILER, "image/png");
	expect_truncations_refused(&want);

	/* the plain one passes untouched */
	expect_strip(&want, &want, 0, "image/png");
}

static void test_png_damaged(void **state)
{
	struct buf b = { .n = 0 };
	size_t at;

	(void)state;
	put_png_head(&b);
	put_png_tail(&b);
	/* each byte of a chunk flipped: the CRC (or the chunk's length or
	 * type) says so */
	for (at = 8; at < b.n; at++) {
		struct buf c = b;

		c.b[at] ^= 0x20;
		expect_refused(c.b, c.n, "the PNG");
	}
	b.b[8 + 8 + 5] ^= 1;
	expect_refused(b.b, b.n, "IHDR chunk at byte 8 fails its CRC");

	/* IDAT first, an unknown critical chunk, no IDAT */
	b.n = 0;
	put(&b, "\x89PNG\r\n\x1a\n", 8);
	put_png_tail(&b);
	expect_refused(b.b, b.n, "does not start with one 13-byte IHDR");
	b.n = 0;
	put_png_head(&b);
	put_chunk(&b, "ABCD", "x", 1);
	put_png_tail(&b);
	expect_refused(b.b, b.n, "unknown critical chunk ABCD");
	b.n = 0;
	put_png_head(&b);
	put_chunk(&b, "IEND", "", 0);
	expect_refused(b.b, b.n, "no image data");
	b.n = 0;
	put_png_head(&b);
	put_be32(&b, 0xffffffffu);
	put(&b, "IDAT", 4);
	expect_refused(b.b, b.n, "ends inside a chunk");
}

/* ---- WebP ---- */

/* A 1x1 lossy WebP's VP8 chunk payload. */
static const uint8_t vp8[22] = {
	0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x01, 0x00, 0x01, 0x00, 0x0e, 0xc0,
	0xfe, 0x25, 0xa4, 0x00, 0x03, 0x70, 0x00, 0x00, 0x00, 0x00,
};

static void put_webp_chunk(struct buf *b, const char *fourcc, const void *p, size_t n)
{
	put(b, fourcc, 4);
	put_le32(b, (uint32_t)n);
	put(b, p, n);
	if (n & 1)
		put(b, "", 1);
}

/* RIFF header with the size of what follows. */
static void webp_finish(struct buf *b)
{
	uint32_t size = (uint32_t)(b->n - 8);

	b->b[4] = (uint8_t)size;
	b->b[5] = (uint8_t)(size >> 8);
	b->b[6] = (uint8_t)(size >> 16);
	b->b[7] = (uint8_t)(size >> 24);
}

static void put_webp(struct buf *b, uint8_t flags, int metadata)
{
	uint8_t vp8x[10] = { flags, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	struct buf tiff = { .n = 0 };

	put(b, "RIFF\0\0\0\0WEBP", 12);
	put_webp_chunk(b, "VP8X", vp8x, sizeof vp8x);
	if (metadata)
		put_webp_chunk(b, "ICCP", "icc", 3);
	put_webp_chunk(b, "VP8 ", vp8, sizeof vp8);
	if (metadata) {
		put_tiff(&tiff, 1);
		put_webp_chunk(b, "EXIF", tiff.b, tiff.n);
		put_webp_chunk(b, "XMP ", "<x:xmpmeta/>", 12);
	}
	webp_finish(b);
}

static void test_webp(void **state)
{
	struct buf in = { .n = 0 }, want = { .n = 0 }, simple = { .n = 0 };

	(void)state;
	put_webp(&in, 0x20 | 0x08 | 0x04, 1);
	put(&in, "trailing", 8);
	put_webp(&want, 0, 0);
	expect_strip(&in, &want, PHOTO_EXIF | PHOTO_GPS | PHOTO_XMP | PHOTO_ICC | PHOTO_TRAILER,
	             "image/webp");
	expect_truncations_refused(&want);

	/* the simple format: one VP8 chunk, untouched */
	put(&simple, "RIFF\0\0\0\0WEBP", 12);
	put_webp_chunk(&simple, "VP8 ", vp8, sizeof vp8);
	webp_finish(&simple);
	expect_strip(&simple, &simple, 0, "image/webp");

	/* a RIFF size larger than the file, a chunk larger than the RIFF,
	 * no image chunk, a first chunk that is not an image's */
	simple.b[4] += 2;
	expect_refused(simple.b, simple.n, "shorter than its header says");
	simple.b[4] -= 2;
	simple.b[16] += 2;
	expect_refused(simple.b, simple.n, "ends inside a chunk at byte 12");
	in.n = 0;
	put(&in, "RIFF\0\0\0\0WEBP", 12);
	put_webp_chunk(&in, "VP8X", "\0\0\0\0\0\0\0\0\0\0", 10);
	webp_finish(&in);
	expect_refused(in.b, in.n, "no image data");
	in.n = 0;
	put(&in, "RIFF\0\0\0\0WEBP", 12);
	put_webp_chunk(&in, "EXIF", "II*\0", 4);
	put_webp_chunk(&in, "VP8 ", vp8, sizeof vp8);
	webp_finish(&in);
	expect_refused(in.b, in.n, "does not start with a VP8");
}

/* Bytes changed at random in each format: refused with a reason or
 * stripped to no more than came in, never read or written out of bounds
 * (the sanitizer build watches). */
static void test_random_damage(void **state)
{
	struct buf base[3];
	unsigned seed = 4242;
	int round;

	(void)state;
	memset(base, 0, sizeof base);
	put_soi_jfif(&base[0]);
	put_app1_exif(&base[0], 1);
	put_jpeg_image(&base[0]);
	put_png_head(&base[1]);
	put_chunk(&base[1], "tEXt", "a\0b", 3);
	put_png_tail(&base[1]);
	put_webp(&base[2], 0x2c, 1);
	for (round = 0; round < 30000; round++) {
		struct buf c;
		uint8_t out[4096];
		struct photo_result res;
		char why[WM_WHY_LEN] = "";
		int k, flips, r;

		seed = seed * 1103515245u + 12345u;
		c = base[(seed >> 16) % 3];
		flips = 1 + (int)((seed >> 20) % 4);
		for (k = 0; k < flips; k++) {
			seed = seed * 1103515245u + 12345u;
			c.b[(seed >> 8) % c.n] = (uint8_t)(seed >> 24);
		}
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) % 4 == 0)
			c.n = (seed >> 4) % c.n;
		r = photo_strip(c.b, c.n, out, &res, why);
		if (r == 0)
			assert_true(res.len <= c.n);
		else
			assert_true(r == WM_EFORMAT && why[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jpeg_exif_gps),
		cmocka_unit_test(test_jpeg_everything_else),
		cmocka_unit_test(test_jpeg_jfif_tail),
		cmocka_unit_test(test_jpeg_scan_bytes),
		cmocka_unit_test(test_jpeg_damaged),
		cmocka_unit_test(test_png),
		cmocka_unit_test(test_png_damaged),
		cmocka_unit_test(test_webp),
		cmocka_unit_test(test_random_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
