/*
 * node/photo: takes out of a photo what it says besides its pixels --
 * where and when it was taken, with which camera, a thumbnail of the
 * uncropped original, a second picture after the first -- before
 * `post --photo` signs it (issue 8, item 12).  Pure code: bytes in, bytes
 * out, no I/O, no allocation.
 *
 * Kept is what a decoder needs:
 *   JPEG  every segment but APP1..APP15 and COM; APP0 JFIF (without its
 *         thumbnail); APP14 "Adobe", whose transform flag tells a decoder
 *         whether three components are YCbCr or RGB and four CMYK or YCCK
 *         (it holds nothing else); nothing after EOI.
 *   PNG   the critical chunks and the ancillary ones that change how the
 *         pixels look or move (tRNS gAMA cHRM sRGB sBIT bKGD pHYs cICP
 *         acTL fcTL fdAT); nothing after IEND.
 *   WebP  VP8X VP8 VP8L ALPH ANIM ANMF, with the VP8X flags of the chunks
 *         that went cleared; nothing after the RIFF.
 * Everything else is removed (colour profiles too: they can name the
 * device, and a 48 KiB photo needs no colour management); `removed` says
 * what it was.
 *
 * The structure is checked while it is walked (segment and chunk lengths,
 * PNG CRCs, the RIFF size, a JPEG's frame header, scan and end marker): a
 * damaged photo is refused with a reason, never passed on.  The compressed
 * pixels themselves are not decoded.
 *
 *   struct photo_result res;
 *   char why[WM_WHY_LEN];
 *   if (photo_strip(buf, len, buf, &res, why) != 0)   // in place
 *           fail(why);
 *   photo_removed_list(res.removed, line, sizeof line); // "EXIF (GPS position), XMP"
 */
#ifndef WM_PHOTO_H
#define WM_PHOTO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum photo_removed {
	PHOTO_EXIF = 1 << 0,            /* EXIF: camera, time, settings */
	PHOTO_GPS = 1 << 1,             /* that EXIF held a GPS position */
	PHOTO_XMP = 1 << 2,             /* XMP: edit history, names, places */
	PHOTO_IPTC = 1 << 3,            /* Photoshop / IPTC: captions, bylines */
	PHOTO_ICC = 1 << 4,             /* a colour profile */
	PHOTO_COMMENT = 1 << 5,         /* JPEG COM */
	PHOTO_TEXT = 1 << 6,            /* PNG tEXt zTXt iTXt */
	PHOTO_TIME = 1 << 7,            /* PNG tIME */
	PHOTO_THUMBNAIL = 1 << 8,       /* JFIF or JFXX thumbnail */
	PHOTO_OTHER = 1 << 9,           /* another APPn segment or ancillary chunk */
	PHOTO_TRAILER = 1 << 10,        /* bytes after the image's end */
};

struct photo_result {
	const char *type;               /* "image/jpeg", "image/png" or "image/webp" */
	unsigned removed;               /* enum photo_removed bits; 0: nothing */
	size_t len;                     /* bytes written to out (at most the input's) */
};

/*
 * Strips in[0..len) into out, which has room for len bytes; out may be in
 * (the photo is then rewritten in place).  0 with *res on success;
 * WM_EFORMAT with `why` ("the JPEG ends inside a segment at byte 1234")
 * for bytes that are not a JPEG, PNG or WebP or a damaged one -- out may
 * then hold anything; WM_EINVAL for a NULL argument.
 */
int photo_strip(const uint8_t *in, size_t len, uint8_t *out, struct photo_result *res,
                char why[WM_WHY_LEN]);

/* What `removed` names, in a fixed order, for a person: "EXIF (GPS
 * position), XMP"; "" for 0.  Names that do not fit in buflen are left
 * out; always NUL-terminated (buflen > 0). */
void photo_removed_list(unsigned removed, char *buf, size_t buflen);

#endif
