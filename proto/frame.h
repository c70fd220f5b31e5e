/*
 * proto/frame: the mesh messages that neighbours exchange inside the
 * transport's encrypted stream (one message per frame, at most FRAME_MAX
 * bytes).  Pure codec: no I/O, no state; node/mesh/mesh.c gives them meaning and
 * proto/PROTOCOL.md §13 is the normative description.
 *
 * Every message is one canonical msgpack array whose first item is the type:
 *
 *   HELLO     [1, version, name, groups, software, repair_ms, ...]
 *   EVENT     [2, push, wire]               one whole wire event
 *   IHAVE     [3, repair, ids, kinds]       announcement of ids, no payloads
 *   IWANT     [4, graft, ids]               please send these events
 *   PRUNE     [5]                           stop pushing events to me
 *   NEG_OPEN  [6, session, scope, msg]      start a negentropy reconciliation
 *   NEG_MSG   [7, session, msg]             next negentropy message
 *   NEG_CLOSE [8, session, reason]          end a session (done, busy, error)
 *   NOTHAVE   [9, ids]                      I do not hold these (answer to IWANT)
 *
 * push, repair and graft are unsigned integers 0 or 1; ids is one binary of
 * 32 * n bytes (n = 1..FRAME_MAX_IDS), kinds one binary of n bytes (the
 * event kind of each id, 1..255, so that alerts can be fetched first).
 * A scope or a group list is exactly ["*"] or 1..64 distinct group names.
 *
 * The decoder is strict (proto/mp.h): canonical form only, exact item
 * counts, every bound checked, a readable reason for every refusal.  Two
 * openings for later versions: HELLO may carry extra items after the six
 * known ones (canonical, ignored), and a message whose type is above
 * FRAME_TYPE_MAX decodes as FRAME_UNKNOWN (a canonical array, to be
 * ignored).  Decoded strings and binaries point into the caller's buffer,
 * which must outlive the struct frame.
 */
#ifndef WM_FRAME_H
#define WM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define FRAME_MAX          (1024u * 1024u)  /* bytes in one frame */
#define FRAME_VERSION      1                /* mesh protocol version in HELLO */
#define FRAME_ID_LEN       32
#define FRAME_MAX_IDS      1024             /* ids in one IHAVE/IWANT/NOTHAVE */
#define FRAME_MAX_GROUPS   64               /* names in a group list or scope */
#define FRAME_NAME_MAX     64               /* bytes of a node name */
/* 1 if p[0..len) can be a node's name in HELLO: 1-64 bytes of UTF-8, no
 * character a terminal acts on (the content rules' controls). */
int frame_name_ok(const char *p, size_t len);
#define FRAME_SOFTWARE_MAX 64               /* bytes of the software string */
#define FRAME_REASON_MAX   256              /* bytes of a NEG_CLOSE reason */
#define FRAME_NEG_MAX      (512u * 1024u)   /* bytes of one negentropy message */

enum frame_type {
	FRAME_UNKNOWN   = 0,    /* a later version's type: ignore it */
	FRAME_HELLO     = 1,
	FRAME_EVENT     = 2,
	FRAME_IHAVE     = 3,
	FRAME_IWANT     = 4,
	FRAME_PRUNE     = 5,
	FRAME_NEG_OPEN  = 6,
	FRAME_NEG_MSG   = 7,
	FRAME_NEG_CLOSE = 8,
	FRAME_NOTHAVE   = 9,
};
#define FRAME_TYPE_MAX 9

/* A string inside the frame's buffer: valid UTF-8, not NUL-terminated. */
struct frame_str {
	const char *p;
	size_t len;
};

/* A list of group names: ["*"] (all = 1, n = 1) or n distinct names. */
struct frame_groups {
	size_t n;
	int all;                                /* the list is exactly ["*"] */
	struct frame_str g[FRAME_MAX_GROUPS];
};

/* One decoded message.  Only the member named by `type` is meaningful. */
struct frame {
	enum frame_type type;
	uint64_t raw_type;                      /* the type number as sent */

	struct {
		uint64_t version;               /* FRAME_VERSION or later */
		struct frame_str name;          /* 1..64 bytes, no control characters */
		struct frame_groups groups;     /* the groups the sender carries */
		struct frame_str software;      /* 0..64 bytes, e.g. "watchmesh 0.1.0" */
		uint64_t repair_ms;             /* the sender's repair interval */
	} hello;

	struct {
		int push;                       /* 1 live push, 0 answer to IWANT */
		const uint8_t *wire;            /* 1..WM_MAX_WIRE bytes, not judged here */
		size_t len;
	} event;

	/* IHAVE, IWANT and NOTHAVE: ids[32 * n]. */
	struct {
		int flag;                       /* IHAVE: repair; IWANT: graft; NOTHAVE: 0 */
		size_t n;                       /* 1..FRAME_MAX_IDS */
		const uint8_t *ids;
		const uint8_t *kinds;           /* IHAVE only: n bytes, each 1..255 */
	} ids;

	/* NEG_OPEN, NEG_MSG, NEG_CLOSE. */
	struct {
		uint64_t session;
		struct frame_groups scope;      /* NEG_OPEN only */
		const uint8_t *msg;             /* OPEN, MSG: 1..FRAME_NEG_MAX bytes */
		size_t len;
		struct frame_str reason;        /* CLOSE: 0..256 bytes */
	} neg;
};

/*
 * Decode one frame occupying exactly buf[0..len).  0 and *out filled, or
 * WM_ETOOBIG (over FRAME_MAX), WM_ETRUNCATED, WM_ECANONICAL, WM_EMALFORMED
 * or WM_EPROTO (a known type with wrong items or values) with why filled.
 * *out is written only on success.
 */
int frame_decode(const uint8_t *buf, size_t len, struct frame *out, char why[WM_WHY_LEN]);

/*
 * Encode f (type 1..FRAME_TYPE_MAX) canonically.  The same rules as the
 * decoder apply, so anything encoded decodes: WM_EINVAL (why filled, why
 * may be NULL) for a value out of bounds, WM_ETOOBIG over FRAME_MAX.
 * *out is malloc'd; the caller frees it.
 */
int frame_encode(const struct frame *f, uint8_t **out, size_t *len, char *why);

/* "HELLO", "EVENT", ...; "UNKNOWN" for anything else.  Never NULL. */
const char *frame_type_name(unsigned type);

/* Fill a frame_str / frame_groups from C strings (for encoders). */
struct frame_str frame_str_c(const char *s);
/* Comma-separated list ("a,b" or "*") into g; pointers into `list`, which
 * must outlive g.  WM_EINVAL if a name is invalid, repeated or too many. */
int frame_groups_parse(const char *list, struct frame_groups *g);
/* 1 if g holds name[0..len) (or is ["*"]). */
int frame_groups_has(const struct frame_groups *g, const char *name, size_t len);

#endif
