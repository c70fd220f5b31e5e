/*
 * proto/frame.c: the mesh message codec (see frame.h and proto/PROTOCOL.md §13).
 * Decoding goes through the strict reader of proto/mp.h, so a frame has one
 * byte form and every refusal says what and where; encoding uses msgpack-c's
 * packer, whose output is already in shortest form, and checks the same
 * bounds first so that nothing we send can be refused by a peer.
 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "event.h"
#include "mp.h"

static const char *const type_names[] = {
	"UNKNOWN", "HELLO", "EVENT", "IHAVE", "IWANT", "PRUNE",
	"NEG_OPEN", "NEG_MSG", "NEG_CLOSE", "NOTHAVE",
};

const char *frame_type_name(unsigned type)
{
	return type <= FRAME_TYPE_MAX ? type_names[type] : "UNKNOWN";
}

struct frame_str frame_str_c(const char *s)
{
	struct frame_str r = { s, s != NULL ? strlen(s) : 0 };

	return r;
}

/* --- shared rules ----------------------------------------------------------- */

int frame_name_ok(const char *p, size_t len)
{
	const uint8_t *u = (const uint8_t *)p;
	size_t i, n;
	uint32_t cp;

	if (len < 1 || len > FRAME_NAME_MAX || !mp_utf8_valid(u, len))
		return 0;
	/* shown by `watchmesh status`: no character a terminal acts on, the
	 * content rules' list (C0, DEL, C1, bidi controls) */
	for (i = 0; i < len; i += n)
		if ((n = mp_utf8_next(u + i, len - i, &cp)) == 0 || mp_char_control(cp))
			return 0;
	return 1;
}

/* A group list: exactly ["*"], or 1..64 distinct valid names.  Returns 0 or
 * WM_EPROTO with why filled ("what" names the list). */
static int groups_check(const struct frame_groups *g, const char *what, char *why)
{
	size_t i, j;

	if (g->n < 1 || g->n > FRAME_MAX_GROUPS)
		return mp_fail(why, WM_EPROTO, "%s: %zu groups, expected 1 to %d", what, g->n,
		               FRAME_MAX_GROUPS);
	for (i = 0; i < g->n; i++) {
		if (g->g[i].len == 1 && g->g[i].p[0] == '*') {
			if (g->n != 1)
				return mp_fail(why, WM_EPROTO, "%s: \"*\" must stand alone", what);
			continue;
		}
		if (!event_group_valid(g->g[i].p, g->g[i].len)) {
			char q[64];

			return mp_fail(why, WM_EPROTO, "%s: \"%s\" is not a group name", what,
			               mp_quote(q, sizeof(q), (const uint8_t *)g->g[i].p, g->g[i].len));
		}
		for (j = 0; j < i; j++)
			if (g->g[j].len == g->g[i].len && memcmp(g->g[j].p, g->g[i].p, g->g[i].len) == 0)
				return mp_fail(why, WM_EPROTO, "%s: group listed twice", what);
	}
	return 0;
}

int frame_groups_parse(const char *list, struct frame_groups *g)
{
	struct frame_groups t;
	const char *p, *end;

	if (list == NULL || g == NULL)
		return WM_EINVAL;
	memset(&t, 0, sizeof(t));
	for (p = list; ; p = end + 1) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		if (t.n == FRAME_MAX_GROUPS)
			return WM_EINVAL;
		t.g[t.n].p = p;
		t.g[t.n].len = (size_t)(end - p);
		t.n++;
		if (*end == '\0')
			break;
	}
	if (groups_check(&t, "groups", NULL) != 0)
		return WM_EINVAL;
	t.all = t.n == 1 && t.g[0].len == 1 && t.g[0].p[0] == '*';
	*g = t;
	return 0;
}

int frame_groups_has(const struct frame_groups *g, const char *name, size_t len)
{
	size_t i;

	if (g == NULL || name == NULL)
		return 0;
	if (g->all)
		return 1;
	for (i = 0; i < g->n; i++)
		if (g->g[i].len == len && memcmp(g->g[i].p, name, len) == 0)
			return 1;
	return 0;
}

/* --- decoding --------------------------------------------------------------- */

static int read_flag(struct mp_reader *r, const char *what, int *out)
{
	uint64_t v;
	int rc;

	if ((rc = mp_read_uint(r, what, &v)) != 0)
		return rc;
	if (v > 1)
		return mp_fail(r->why, WM_EPROTO, "%s is %llu, expected 0 or 1", what,
		               (unsigned long long)v);
	*out = (int)v;
	return 0;
}

static int read_str(struct mp_reader *r, const char *what, size_t min, size_t max,
                    struct frame_str *s)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if ((rc = mp_read_str(r, what, &p, &n)) != 0)
		return rc;
	if (n < min || n > max)
		return mp_fail(r->why, WM_EPROTO, "%s is %zu bytes, expected %zu to %zu", what, n, min, max);
	s->p = (const char *)p;
	s->len = n;
	return 0;
}

static int read_groups(struct mp_reader *r, const char *what, struct frame_groups *g)
{
	size_t n, i;
	int rc;

	if ((rc = mp_read_array(r, what, &n)) != 0)
		return rc;
	if (n < 1 || n > FRAME_MAX_GROUPS)
		return mp_fail(r->why, WM_EPROTO, "%s: %zu groups, expected 1 to %d", what, n,
		               FRAME_MAX_GROUPS);
	g->n = n;
	for (i = 0; i < n; i++)
		if ((rc = read_str(r, what, 1, WM_GROUP_MAX, &g->g[i])) != 0)
			return rc;
	if ((rc = groups_check(g, what, r->why)) != 0)
		return rc;
	g->all = g->n == 1 && g->g[0].len == 1 && g->g[0].p[0] == '*';
	return 0;
}

static int read_ids(struct mp_reader *r, const char *what, const uint8_t **ids, size_t *n)
{
	const uint8_t *p;
	size_t len;
	int rc;

	if ((rc = mp_read_bin(r, what, &p, &len)) != 0)
		return rc;
	if (len == 0 || len % FRAME_ID_LEN != 0 || len / FRAME_ID_LEN > FRAME_MAX_IDS)
		return mp_fail(r->why, WM_EPROTO, "%s is %zu bytes, expected 32 times 1 to %d", what,
		               len, FRAME_MAX_IDS);
	*ids = p;
	*n = len / FRAME_ID_LEN;
	return 0;
}

static int read_msg(struct mp_reader *r, struct frame *f)
{
	int rc;

	if ((rc = mp_read_bin(r, "negentropy message", &f->neg.msg, &f->neg.len)) != 0)
		return rc;
	if (f->neg.len < 1 || f->neg.len > FRAME_NEG_MAX)
		return mp_fail(r->why, WM_EPROTO, "negentropy message is %zu bytes, expected 1 to %u",
		               f->neg.len, FRAME_NEG_MAX);
	return 0;
}

/* Items expected after the type, per type (HELLO: at least). */
static const size_t type_items[FRAME_TYPE_MAX + 1] = { 0, 5, 2, 3, 2, 0, 3, 2, 2, 1 };

static int decode_body(struct mp_reader *r, struct frame *f)
{
	size_t i;
	int rc = 0;

	switch (f->type) {
	case FRAME_HELLO:
		if ((rc = mp_read_uint(r, "hello version", &f->hello.version)) != 0)
			return rc;
		if (f->hello.version < FRAME_VERSION)
			return mp_fail(r->why, WM_EPROTO, "hello version is 0, expected %d or later",
			               FRAME_VERSION);
		if ((rc = read_str(r, "node name", 1, FRAME_NAME_MAX, &f->hello.name)) != 0)
			return rc;
		if (!frame_name_ok(f->hello.name.p, f->hello.name.len))
			return mp_fail(r->why, WM_EPROTO, "node name holds control characters");
		if ((rc = read_groups(r, "hello groups", &f->hello.groups)) != 0)
			return rc;
		if ((rc = read_str(r, "software", 0, FRAME_SOFTWARE_MAX, &f->hello.software)) != 0)
			return rc;
		return mp_read_uint(r, "repair interval", &f->hello.repair_ms);
	case FRAME_EVENT:
		if ((rc = read_flag(r, "push flag", &f->event.push)) != 0)
			return rc;
		if ((rc = mp_read_bin(r, "event", &f->event.wire, &f->event.len)) != 0)
			return rc;
		if (f->event.len < 1 || f->event.len > WM_MAX_WIRE)
			return mp_fail(r->why, WM_EPROTO, "event is %zu bytes, expected 1 to %d",
			               f->event.len, (int)WM_MAX_WIRE);
		return 0;
	case FRAME_IHAVE:
		if ((rc = read_flag(r, "repair flag", &f->ids.flag)) != 0 ||
		    (rc = read_ids(r, "ids", &f->ids.ids, &f->ids.n)) != 0 ||
		    (rc = mp_read_bin_n(r, "kinds", f->ids.n, &f->ids.kinds)) != 0)
			return rc;
		for (i = 0; i < f->ids.n; i++)
			if (f->ids.kinds[i] == 0)
				return mp_fail(r->why, WM_EPROTO, "kind of id %zu is 0", i);
		return 0;
	case FRAME_IWANT:
		if ((rc = read_flag(r, "graft flag", &f->ids.flag)) != 0)
			return rc;
		return read_ids(r, "ids", &f->ids.ids, &f->ids.n);
	case FRAME_NOTHAVE:
		f->ids.flag = 0;
		return read_ids(r, "ids", &f->ids.ids, &f->ids.n);
	case FRAME_PRUNE:
		return 0;
	case FRAME_NEG_OPEN:
		if ((rc = mp_read_uint(r, "session", &f->neg.session)) != 0 ||
		    (rc = read_groups(r, "scope", &f->neg.scope)) != 0)
			return rc;
		return read_msg(r, f);
	case FRAME_NEG_MSG:
		if ((rc = mp_read_uint(r, "session", &f->neg.session)) != 0)
			return rc;
		return read_msg(r, f);
	case FRAME_NEG_CLOSE:
		if ((rc = mp_read_uint(r, "session", &f->neg.session)) != 0)
			return rc;
		return read_str(r, "reason", 0, FRAME_REASON_MAX, &f->neg.reason);
	case FRAME_UNKNOWN:
		break;
	}
	return WM_EINVAL;
}

int frame_decode(const uint8_t *buf, size_t len, struct frame *out, char why[WM_WHY_LEN])
{
	struct mp_reader r;
	struct frame *f = NULL;
	size_t n, extra = 0, i;
	uint64_t type;
	int rc;

	if (why != NULL)
		why[0] = '\0';
	if (out == NULL || (buf == NULL && len > 0))
		return mp_fail(why, WM_EINVAL, "no frame");
	if (len > FRAME_MAX)
		return mp_fail(why, WM_ETOOBIG, "frame is %zu bytes, at most %u", len, FRAME_MAX);
	if (len == 0)
		return mp_fail(why, WM_ETRUNCATED, "empty frame");
	mp_reader_init(&r, buf, len, 0, why);
	if ((rc = mp_read_array(&r, "frame", &n)) != 0)
		return rc;
	if (n < 1)
		return mp_fail(why, WM_EPROTO, "frame is an empty array");
	if ((rc = mp_read_uint(&r, "frame type", &type)) != 0)
		return rc;
	if (type == 0)
		return mp_fail(why, WM_EPROTO, "frame type 0 is not a type");
	if (type > FRAME_TYPE_MAX) {
		/* a later version's message: accept its shape, ignore its meaning */
		if ((rc = mp_check_canonical(buf, len, why)) != 0)
			return rc;
		memset(out, 0, sizeof(*out));
		out->type = FRAME_UNKNOWN;
		out->raw_type = type;
		return 0;
	}
	if ((type == FRAME_HELLO && n - 1 < type_items[type]) ||
	    (type != FRAME_HELLO && n - 1 != type_items[type]))
		return mp_fail(why, WM_EPROTO, "%s frame has %zu items, expected %s%zu",
		               frame_type_name((unsigned)type), n, type == FRAME_HELLO ? "at least " : "",
		               type_items[type] + 1);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return mp_fail(why, WM_ENOMEM, "out of memory");
	f->type = (enum frame_type)type;
	f->raw_type = type;
	if ((rc = decode_body(&r, f)) != 0)
		goto out;
	if (type == FRAME_HELLO)
		extra = n - 1 - type_items[type];
	for (i = 0; i < extra; i++) {
		/* later versions' hello items: one canonical value each */
		size_t start = r.pos;
		struct mp_item it;
		size_t pending = 1;

		while (pending > 0) {
			if ((rc = mp_read(&r, "hello extension", &it)) != 0)
				goto out;
			pending--;
			if (it.type == MP_ARRAY)
				pending += it.len;
			else if (it.type == MP_MAP)
				pending += 2 * it.len;
			if (pending > len) {
				rc = mp_fail(why, WM_EMALFORMED, "hello extension claims too many items");
				goto out;
			}
		}
		if ((rc = mp_check_canonical(buf + start, r.pos - start, why)) != 0)
			goto out;
	}
	if ((rc = mp_expect_end(&r, "frame")) != 0)
		goto out;
	*out = *f;
out:
	free(f);
	return rc;
}

/* --- encoding --------------------------------------------------------------- */

static int pack_raw(msgpack_packer *pk, int bin, const void *p, size_t len)
{
	if ((bin ? msgpack_pack_bin(pk, len) : msgpack_pack_str(pk, len)) != 0)
		return -1;
	if (len == 0)
		return 0;
	return bin ? msgpack_pack_bin_body(pk, p, len) : msgpack_pack_str_body(pk, p, len);
}

static int pack_groups(msgpack_packer *pk, const struct frame_groups *g)
{
	size_t i;
	int bad = msgpack_pack_array(pk, g->n);

	for (i = 0; i < g->n && !bad; i++)
		bad |= pack_raw(pk, 0, g->g[i].p, g->g[i].len);
	return bad;
}

/* The bounds the decoder enforces, for our own frames. */
static int encode_check(const struct frame *f, char *why)
{
	size_t i;
	int rc;

	switch (f->type) {
	case FRAME_HELLO:
		if (f->hello.version < FRAME_VERSION || f->hello.name.p == NULL ||
		    !frame_name_ok(f->hello.name.p, f->hello.name.len))
			return mp_fail(why, WM_EINVAL, "hello: bad version or node name");
		if (f->hello.software.len > FRAME_SOFTWARE_MAX ||
		    (f->hello.software.len > 0 &&
		     !mp_utf8_valid((const uint8_t *)f->hello.software.p, f->hello.software.len)))
			return mp_fail(why, WM_EINVAL, "hello: bad software string");
		if ((rc = groups_check(&f->hello.groups, "hello groups", why)) != 0)
			return WM_EINVAL;
		return 0;
	case FRAME_EVENT:
		if (f->event.wire == NULL || f->event.len < 1 || f->event.len > WM_MAX_WIRE ||
		    (unsigned)f->event.push > 1)
			return mp_fail(why, WM_EINVAL, "event: bad size or push flag");
		return 0;
	case FRAME_IHAVE:
		if (f->ids.kinds == NULL)
			return mp_fail(why, WM_EINVAL, "ihave: no kinds");
		for (i = 0; i < f->ids.n; i++)
			if (f->ids.kinds[i] == 0)
				return mp_fail(why, WM_EINVAL, "ihave: kind 0");
		/* fall through */
	case FRAME_IWANT:
	case FRAME_NOTHAVE:
		if (f->ids.ids == NULL || f->ids.n < 1 || f->ids.n > FRAME_MAX_IDS ||
		    (unsigned)f->ids.flag > 1)
			return mp_fail(why, WM_EINVAL, "%s: bad id count or flag", frame_type_name(f->type));
		return 0;
	case FRAME_PRUNE:
		return 0;
	case FRAME_NEG_OPEN:
		if (groups_check(&f->neg.scope, "scope", why) != 0)
			return WM_EINVAL;
		/* fall through */
	case FRAME_NEG_MSG:
		if (f->neg.msg == NULL || f->neg.len < 1 || f->neg.len > FRAME_NEG_MAX)
			return mp_fail(why, WM_EINVAL, "negentropy message: bad size");
		return 0;
	case FRAME_NEG_CLOSE:
		if (f->neg.reason.len > FRAME_REASON_MAX ||
		    (f->neg.reason.len > 0 &&
		     !mp_utf8_valid((const uint8_t *)f->neg.reason.p, f->neg.reason.len)))
			return mp_fail(why, WM_EINVAL, "neg close: bad reason");
		return 0;
	case FRAME_UNKNOWN:
		break;
	}
	return mp_fail(why, WM_EINVAL, "frame type %u cannot be encoded", (unsigned)f->type);
}

int frame_encode(const struct frame *f, uint8_t **out, size_t *len, char *why)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	unsigned t;
	int bad = 0, rc;

	if (f == NULL || out == NULL || len == NULL)
		return mp_fail(why, WM_EINVAL, "no frame");
	if ((rc = encode_check(f, why)) != 0)
		return rc;
	t = (unsigned)f->type;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	bad |= msgpack_pack_array(&pk, type_items[t] + 1);
	bad |= msgpack_pack_uint64(&pk, t);
	switch (f->type) {
	case FRAME_HELLO:
		bad |= msgpack_pack_uint64(&pk, f->hello.version);
		bad |= pack_raw(&pk, 0, f->hello.name.p, f->hello.name.len);
		bad |= pack_groups(&pk, &f->hello.groups);
		bad |= pack_raw(&pk, 0, f->hello.software.p, f->hello.software.len);
		bad |= msgpack_pack_uint64(&pk, f->hello.repair_ms);
		break;
	case FRAME_EVENT:
		bad |= msgpack_pack_uint64(&pk, (uint64_t)f->event.push);
		bad |= pack_raw(&pk, 1, f->event.wire, f->event.len);
		break;
	case FRAME_IHAVE:
		bad |= msgpack_pack_uint64(&pk, (uint64_t)f->ids.flag);
		bad |= pack_raw(&pk, 1, f->ids.ids, f->ids.n * FRAME_ID_LEN);
		bad |= pack_raw(&pk, 1, f->ids.kinds, f->ids.n);
		break;
	case FRAME_IWANT:
		bad |= msgpack_pack_uint64(&pk, (uint64_t)f->ids.flag);
		bad |= pack_raw(&pk, 1, f->ids.ids, f->ids.n * FRAME_ID_LEN);
		break;
	case FRAME_NOTHAVE:
		bad |= pack_raw(&pk, 1, f->ids.ids, f->ids.n * FRAME_ID_LEN);
		break;
	case FRAME_PRUNE:
	case FRAME_UNKNOWN:
		break;
	case FRAME_NEG_OPEN:
		bad |= msgpack_pack_uint64(&pk, f->neg.session);
		bad |= pack_groups(&pk, &f->neg.scope);
		bad |= pack_raw(&pk, 1, f->neg.msg, f->neg.len);
		break;
	case FRAME_NEG_MSG:
		bad |= msgpack_pack_uint64(&pk, f->neg.session);
		bad |= pack_raw(&pk, 1, f->neg.msg, f->neg.len);
		break;
	case FRAME_NEG_CLOSE:
		bad |= msgpack_pack_uint64(&pk, f->neg.session);
		bad |= pack_raw(&pk, 0, f->neg.reason.p, f->neg.reason.len);
		break;
	}
	if (bad || sb.data == NULL) {
		msgpack_sbuffer_destroy(&sb);
		return mp_fail(why, WM_ENOMEM, "out of memory");
	}
	if (sb.size > FRAME_MAX) {
		msgpack_sbuffer_destroy(&sb);
		return mp_fail(why, WM_ETOOBIG, "frame would be %zu bytes, at most %u", sb.size, FRAME_MAX);
	}
	*len = sb.size;
	*out = (uint8_t *)msgpack_sbuffer_release(&sb);
	return 0;
}
