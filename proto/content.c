/*
 * proto/content: what each kind's content map must hold (PROTOCOL.md,
 * "Kinds").  A table per kind gives the known keys, their types, sizes and
 * enumerations; a function per kind adds the rules that span keys (a
 * request is either plain or sealed, an alert must expire, ...).
 *
 * Unknown keys are allowed (their values are already limited to strings,
 * binaries, integers and flat arrays by the decoder), so a later version can
 * add optional keys without splitting the network.
 */
#include "content.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"

enum rtype {
	R_LINE,         /* string, one line: no control characters (string_ok) */
	R_TEXT,         /* string, may hold \t \n but no other control characters */
	R_ENUM,         /* string from a list */
	R_BIN,          /* binary, min..max bytes */
	R_KEY,          /* binary of 32 bytes (a public key) */
	R_UINT,         /* unsigned integer */
	R_ARRAY,        /* array; checked by the kind's function */
};

struct rule {
	const char *key;
	enum rtype type;
	int required;
	size_t min, max;                /* bytes for strings and binaries */
	const char *const *values;      /* R_ENUM */
};

static const char *const bulletin_categories[] = {
	"fraud", "safety", "traffic", "weather", "notice", "lost-found", "other", NULL };
static const char *const cap_categories[] = {
	"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
	"CBRNE", "Other", NULL };
static const char *const cap_urgency[] = { "Immediate", "Expected", "Future", "Past", "Unknown", NULL };
static const char *const cap_severity[] = { "Extreme", "Severe", "Moderate", "Minor", "Unknown", NULL };
static const char *const cap_certainty[] = { "Observed", "Likely", "Possible", "Unlikely", "Unknown", NULL };
static const char *const photo_types[] = { "image/jpeg", "image/png", "image/webp", NULL };
static const char *const request_topics[] = { "police", "non-police", "dispute", "lost-found", "other", NULL };
static const char *const status_states[] = {
	"acknowledged", "assigned", "referred", "resolved", "closed", NULL };
static const char *const cert_roles[] = { "station", "officer", "node", "resident", NULL };
static const char *const ack_whats[] = { "seen", "helping", "found", NULL };

#define END { NULL, R_LINE, 0, 0, 0, NULL }

static const struct rule bulletin_rules[] = {
	{ "title", R_LINE, 1, 1, WM_TITLE_MAX, NULL },
	{ "text", R_TEXT, 1, 1, WM_TEXT_MAX, NULL },
	{ "category", R_ENUM, 1, 0, 0, bulletin_categories },
	{ "lang", R_LINE, 0, 2, 35, NULL },
	END,
};
static const struct rule alert_rules[] = {
	{ "event", R_LINE, 1, 1, WM_TITLE_MAX, NULL },
	{ "headline", R_LINE, 1, 1, WM_TITLE_MAX, NULL },
	{ "text", R_TEXT, 1, 1, WM_TEXT_MAX, NULL },
	{ "category", R_ENUM, 1, 0, 0, cap_categories },
	{ "urgency", R_ENUM, 1, 0, 0, cap_urgency },
	{ "severity", R_ENUM, 1, 0, 0, cap_severity },
	{ "certainty", R_ENUM, 1, 0, 0, cap_certainty },
	{ "area_desc", R_LINE, 1, 1, WM_AREA_MAX, NULL },
	{ "circle", R_ARRAY, 0, 0, 0, NULL },
	{ "instruction", R_TEXT, 0, 1, WM_NOTE_MAX, NULL },
	{ "contact", R_LINE, 0, 1, WM_TITLE_MAX, NULL },
	{ "photo", R_BIN, 0, 1, WM_PHOTO_MAX, NULL },
	{ "photo_type", R_ENUM, 0, 0, 0, photo_types },
	{ "lang", R_LINE, 0, 2, 35, NULL },
	END,
};
static const struct rule request_rules[] = {
	{ "topic", R_ENUM, 0, 0, 0, request_topics },
	{ "text", R_TEXT, 0, 1, WM_TEXT_MAX, NULL },
	{ "to", R_ARRAY, 0, 0, 0, NULL },
	{ "box", R_BIN, 0, 1, WM_MAX_WIRE, NULL },
	{ "lang", R_LINE, 0, 2, 35, NULL },
	END,
};
static const struct rule reply_rules[] = {
	{ "text", R_TEXT, 0, 1, WM_TEXT_MAX, NULL },
	{ "box", R_BIN, 0, 1, WM_MAX_WIRE, NULL },
	{ "lang", R_LINE, 0, 2, 35, NULL },
	END,
};
static const struct rule status_rules[] = {
	{ "state", R_ENUM, 1, 0, 0, status_states },
	{ "note", R_TEXT, 0, 1, WM_NOTE_MAX, NULL },
	{ "referred_to", R_LINE, 0, 1, WM_TITLE_MAX, NULL },
	{ "box", R_BIN, 0, 1, WM_MAX_WIRE, NULL },
	END,
};
static const struct rule retract_rules[] = {
	{ "reason", R_TEXT, 0, 1, WM_REASON_MAX, NULL },
	END,
};
static const struct rule cert_rules[] = {
	{ "subject", R_KEY, 1, 0, 0, NULL },
	{ "role", R_ENUM, 1, 0, 0, cert_roles },
	{ "name", R_LINE, 1, 1, WM_NAME_MAX, NULL },
	{ "groups", R_ARRAY, 1, 0, 0, NULL },
	{ "not_before", R_UINT, 1, 0, 0, NULL },
	{ "not_after", R_UINT, 1, 0, 0, NULL },
	END,
};
static const struct rule revoke_rules[] = {
	{ "subject", R_KEY, 1, 0, 0, NULL },
	{ "reason", R_TEXT, 0, 1, WM_REASON_MAX, NULL },
	{ "keep", R_ARRAY, 1, 0, 0, NULL },
	END,
};
static const struct rule ack_rules[] = {
	{ "what", R_ENUM, 1, 0, 0, ack_whats },
	{ "text", R_TEXT, 0, 1, WM_NOTE_MAX, NULL },
	END,
};

static const struct rule *const kind_rules[KIND_MAX + 1] = {
	NULL, bulletin_rules, alert_rules, request_rules, reply_rules, status_rules,
	retract_rules, cert_rules, revoke_rules, ack_rules,
};

/* The rule of a known key of a kind (1..KIND_MAX), or NULL. */
static const struct rule *find_rule(unsigned kind, const char *key, size_t keylen)
{
	for (const struct rule *r = kind_rules[kind]; r->key != NULL; r++)
		if (strlen(r->key) == keylen && memcmp(r->key, key, keylen) == 0)
			return r;
	return NULL;
}

const char *const *content_enum(unsigned kind, const char *key)
{
	const struct rule *r;

	if (kind < 1 || kind > KIND_MAX || key == NULL)
		return NULL;
	r = find_rule(kind, key, strlen(key));
	return r != NULL && r->type == R_ENUM ? r->values : NULL;
}

/* "a bulletin", "an alert" */
static const char *a_kind(unsigned kind)
{
	static const char *const names[KIND_MAX + 1] = { "an event", "a bulletin", "an alert", "a request",
		"a reply", "a status", "a retract", "a cert", "a revoke", "an ack" };

	return kind <= KIND_MAX ? names[kind] : names[0];
}

static const char *type_word(enum cval_type t)
{
	switch (t) {
	case CV_STR:   return "a string";
	case CV_BIN:   return "a binary";
	case CV_UINT:  return "an unsigned integer";
	case CV_INT:   return "a negative integer";
	case CV_ARRAY: return "an array";
	}
	return "?";
}

static int in_list(const char *const *list, const uint8_t *p, size_t len)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == len && memcmp(*list, p, len) == 0)
			return 1;
	return 0;
}

static void join_list(char *out, size_t outlen, const char *const *list)
{
	size_t o = 0;

	out[0] = '\0';
	for (; *list != NULL && o < outlen; list++) {
		int n = snprintf(out + o, outlen - o, "%s%s", o > 0 ? ", " : "", *list);

		if (n < 0)
			break;
		o += (size_t)n;
	}
}

/* What a refused character is, for the reason. */
static const char *char_word(uint32_t cp)
{
	if (cp == '\n')
		return "a newline";
	if (cp == '\t')
		return "a tab";
	if (cp == '\r')
		return "a carriage return";
	if (cp == 0x1b)
		return "an escape";
	if (cp < 0x20 || cp == 0x7f)
		return "a control character";
	if (cp <= 0x9f)
		return "a C1 control character";
	return cp >= 0x2066 ? "a bidi isolate" : "a bidi embedding or override";
}

/*
 * The one rule for every string a person may read: no character that a
 * terminal or a text layout acts on instead of showing (mp_char_control),
 * so a post cannot clear a screen, set a window title, write the clipboard
 * (OSC 52), move the cursor to forge a line, or reverse the text around
 * it.  Tab and newline stay in multi-line keys; CR goes (it rewrites the
 * line it ends).  Zero-width joiners are not controls: emoji need them.
 */
static int string_ok(const char *key, size_t keylen, const uint8_t *p, size_t len, int multiline,
                     char *why)
{
	size_t i = 0, n;
	uint32_t cp = 0;

	while (i < len) {
		if ((n = mp_utf8_next(p + i, len - i, &cp)) == 0)
			return mp_fail(why, WM_ECONTENT, "content key '%.*s' is not UTF-8 at byte %zu",
			               (int)keylen, key, i);
		if (mp_char_control(cp) && !(multiline && (cp == '\t' || cp == '\n')))
			return mp_fail(why, WM_ECONTENT, "content key '%.*s' holds %s (U+%04X) at byte %zu: %s",
			               (int)keylen, key, char_word(cp), (unsigned)cp, i,
			               cp == '\t' || cp == '\n' ? "it must be one line" :
			               cp >= 0x202a ? "it would reorder the text around it" :
			               "a terminal would act on it instead of showing it");
		i += n;
	}
	return 0;
}

static int check_rule(const struct event *ev, const struct rule *r, char *why)
{
	const struct cval *v = event_get(ev, r->key);
	enum cval_type want;
	char q[64], list[200];

	if (v == NULL) {
		if (r->required)
			return mp_fail(why, WM_ECONTENT, "content key '%s' is missing (required in %s)",
			               r->key, a_kind(ev->kind));
		return 0;
	}
	switch (r->type) {
	case R_LINE: case R_TEXT: case R_ENUM: want = CV_STR; break;
	case R_BIN: case R_KEY: want = CV_BIN; break;
	case R_UINT: want = CV_UINT; break;
	default: want = CV_ARRAY; break;
	}
	if (v->type != want)
		return mp_fail(why, WM_ECONTENT, "content key '%s' must be %s, found %s",
		               r->key, type_word(want), type_word(v->type));
	switch (r->type) {
	case R_LINE:
	case R_TEXT:
	case R_BIN:
		if (v->len == 0 && r->min > 0)
			return mp_fail(why, WM_ECONTENT, "content key '%s' is empty", r->key);
		if (v->len < r->min || v->len > r->max)
			return mp_fail(why, WM_ECONTENT, "content key '%s' is %zu bytes, allowed %zu-%zu",
			               r->key, v->len, r->min, r->max);
		if (r->type != R_BIN)
			return string_ok(r->key, strlen(r->key), v->ptr, v->len, r->type == R_TEXT, why);
		break;
	case R_ENUM:
		if (!in_list(r->values, v->ptr, v->len)) {
			join_list(list, sizeof(list), r->values);
			return mp_fail(why, WM_ECONTENT, "content key '%s' is '%s', expected one of: %s",
			               r->key, mp_quote(q, sizeof(q), v->ptr, v->len), list);
		}
		break;
	case R_KEY:
		if (v->len != WM_PUB_LEN)
			return mp_fail(why, WM_ECONTENT, "content key '%s' is %zu bytes, a public key is %d",
			               r->key, v->len, WM_PUB_LEN);
		break;
	default:
		break;
	}
	return 0;
}

static int need_ref(const struct event *ev, const char *what, char *why)
{
	if (ev->nrefs < 1)
		return mp_fail(why, WM_ECONTENT, "%s needs refs[0], the %s", a_kind(ev->kind), what);
	return 0;
}

/* A language tag, in clear ('lang') or inside a sealed box: a-z A-Z 0-9 -.
 * `what` names it in the reason.  The length is the caller's rule. */
static int lang_tag_ok(const char *s, size_t len, const char *what, char *why)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return mp_fail(why, WM_ECONTENT, "%s is not a language tag (a-z A-Z 0-9 -)", what);
	}
	return 0;
}

static int lang_ok(const struct event *ev, char *why)
{
	const char *s;
	size_t len;

	if (event_get_str(ev, "lang", &s, &len) != 0)
		return 0;
	return lang_tag_ok(s, len, "content key 'lang'", why);
}

static int check_alert(const struct event *ev, char *why)
{
	const struct cval *c = event_get(ev, "circle");
	int has_photo = event_get(ev, "photo") != NULL, has_type = event_get(ev, "photo_type") != NULL;

	if (ev->expires_at == 0)
		return mp_fail(why, WM_ECONTENT, "an alert must have expires_at (it is 0)");
	if (has_photo != has_type)
		return mp_fail(why, WM_ECONTENT, "content keys 'photo' and 'photo_type' come together (one is missing)");
	if (c != NULL) {
		static const char *const names[3] = { "lat_e6", "lon_e6", "radius_m" };
		static const int64_t lo[3] = { -90000000, -180000000, 1 };
		static const int64_t hi[3] = { 90000000, 180000000, 1000000 };

		if (c->len != 3)
			return mp_fail(why, WM_ECONTENT,
			               "content key 'circle' has %zu items, expected 3 [lat_e6, lon_e6, radius_m]", c->len);
		for (int k = 0; k < 3; k++) {
			const struct cval *it = &c->items[k];
			int64_t v;

			if (it->type == CV_UINT && it->u <= (uint64_t)INT64_MAX)
				v = (int64_t)it->u;
			else if (it->type == CV_INT)
				v = it->i;
			else
				return mp_fail(why, WM_ECONTENT, "circle: %s must be an integer, found %s",
				               names[k], type_word(it->type));
			if (v < lo[k] || v > hi[k])
				return mp_fail(why, WM_ECONTENT, "circle: %s %lld is outside %lld..%lld",
				               names[k], (long long)v, (long long)lo[k], (long long)hi[k]);
		}
	}
	return 0;
}

/* A box's shape (crypto's seal_shape): its size is all a third party can check. */
static int box_ok(const struct cval *box, char *why)
{
	if (seal_shape(box->ptr, box->len, NULL) != 0)
		return mp_fail(why, WM_ECONTENT, "content key 'box' is not a sealed box (%zu bytes: a count of "
		               "1-%d recipients, their slots and the author's, and whole %d-byte blocks)",
		               box->len, WM_SEAL_MAX_RECIPIENTS, WM_SEAL_PAD);
	return 0;
}

/* A sealed event carries its box and nothing of what is inside it. */
static int sealed_only(const struct event *ev, const char *const *inside, char *why)
{
	for (; *inside != NULL; inside++)
		if (event_get(ev, *inside) != NULL)
			return mp_fail(why, WM_ECONTENT, "a sealed %s carries '%s' inside its box, never in clear",
			               kind_name(ev->kind), *inside);
	return box_ok(event_get(ev, "box"), why);
}

static int check_request(const struct event *ev, char *why)
{
	static const char *const inside[] = { "topic", "text", "lang", NULL };

	/* version 2's first sealed requests listed their recipients in clear */
	if (event_get(ev, "to") != NULL)
		return mp_fail(why, WM_ECONTENT, "content key 'to' names recipients in clear; a sealed box "
		               "names them inside (PROTOCOL.md section 6)");
	if (event_get(ev, "box") != NULL)
		return sealed_only(ev, inside, why);
	if (event_get(ev, "text") == NULL)
		return mp_fail(why, WM_ECONTENT, "content key 'text' is missing (or 'box' for a sealed request)");
	if (event_get(ev, "topic") == NULL)
		return mp_fail(why, WM_ECONTENT, "content key 'topic' is missing");
	return 0;
}

static int check_reply(const struct event *ev, char *why)
{
	static const char *const inside[] = { "text", "lang", NULL };
	int rc;

	if ((rc = need_ref(ev, "event it answers", why)) != 0)
		return rc;
	if (event_get(ev, "box") != NULL)
		return sealed_only(ev, inside, why);
	if (event_get(ev, "text") == NULL)
		return mp_fail(why, WM_ECONTENT, "content key 'text' is missing (or 'box' for a sealed reply)");
	return 0;
}

static int check_status(const struct event *ev, char *why)
{
	const char *state;
	size_t len;
	int rc;

	if ((rc = need_ref(ev, "request", why)) != 0)
		return rc;
	if (event_get(ev, "box") == NULL)
		return 0;
	if (event_get_str(ev, "state", &state, &len) != 0 || len != 8 || memcmp(state, "referred", 8) != 0)
		return mp_fail(why, WM_ECONTENT, "only a status 'referred' carries a box (the request "
		               "re-sealed for the office it goes to)");
	return box_ok(event_get(ev, "box"), why);
}

static int check_cert(const struct event *ev, char *why)
{
	const struct cval *g = event_get(ev, "groups");
	uint64_t nb = 0, na = 0;
	size_t joined = 0;
	char q[64];

	if (g->len < 1 || g->len > WM_CERT_GROUPS_MAX)
		return mp_fail(why, WM_ECONTENT, "content key 'groups' has %zu items, allowed 1-%d",
		               g->len, WM_CERT_GROUPS_MAX);
	for (size_t k = 0; k < g->len; k++) {
		const struct cval *it = &g->items[k];

		if (it->type != CV_STR)
			return mp_fail(why, WM_ECONTENT, "groups[%zu] must be a string, found %s", k, type_word(it->type));
		if (!(it->len == 1 && it->ptr[0] == '*') && !event_group_valid((const char *)it->ptr, it->len))
			return mp_fail(why, WM_ECONTENT, "groups[%zu] '%s' is not a group name (1-64 bytes of a-z 0-9 . _ -) or \"*\"",
			               k, mp_quote(q, sizeof(q), it->ptr, it->len));
		if (it->len == 1 && it->ptr[0] == '*' && g->len != 1)
			return mp_fail(why, WM_ECONTENT, "groups: \"*\" must be the only entry");
		for (size_t j = 0; j < k; j++)
			if (g->items[j].len == it->len && memcmp(g->items[j].ptr, it->ptr, it->len) == 0)
				return mp_fail(why, WM_ECONTENT, "groups[%zu] repeats groups[%zu]", k, j);
		joined += it->len + (k > 0);
	}
	if (joined > WM_CERT_GROUPS_JOINED)
		return mp_fail(why, WM_ECONTENT, "groups: %zu bytes when joined with commas, at most %d",
		               joined, WM_CERT_GROUPS_JOINED);
	(void)event_get_uint(ev, "not_before", &nb);
	(void)event_get_uint(ev, "not_after", &na);
	if (nb >= na)
		return mp_fail(why, WM_ECONTENT, "not_before %llu must be before not_after %llu",
		               (unsigned long long)nb, (unsigned long long)na);
	return 0;
}

/* keep: [group, id, expires_at] entries, each group a group name; what they
 * keep is the trust rules' business */
static int check_revoke(const struct event *ev, char *why)
{
	const struct cval *keep = event_get(ev, "keep");
	char q[64];

	for (size_t k = 0; k < keep->len; k++) {
		const struct cval *e = &keep->items[k];

		if (e->type != CV_ARRAY || e->len != 3)
			return mp_fail(why, WM_ECONTENT, "keep[%zu] must be [group, id, expires_at]", k);
		if (e->items[0].type != CV_STR || !event_group_valid((const char *)e->items[0].ptr, e->items[0].len))
			return mp_fail(why, WM_ECONTENT, "keep[%zu]: '%s' is not a group name", k,
			               e->items[0].type == CV_STR ?
			               mp_quote(q, sizeof(q), e->items[0].ptr, e->items[0].len) : "(not a string)");
		if (e->items[1].type != CV_BIN || e->items[1].len != WM_ID_LEN)
			return mp_fail(why, WM_ECONTENT, "keep[%zu]: the id must be %d bytes", k, WM_ID_LEN);
		if (e->items[2].type != CV_UINT)
			return mp_fail(why, WM_ECONTENT, "keep[%zu]: expires_at must be an unsigned integer", k);
	}
	return 0;
}

/* Keys this version does not know are still carried to clients that do,
 * and `feed --json` prints them: their strings, alone or in an array, keep
 * the multi-line rule. */
static int unknown_strings_ok(const struct event *ev, char *why)
{
	int rc;

	for (size_t i = 0; i < ev->ncontent; i++) {
		const struct centry *c = &ev->content[i];
		const struct cval *v = &c->val;

		if (find_rule(ev->kind, c->key, c->keylen) != NULL)
			continue;
		if (v->type == CV_STR && (rc = string_ok(c->key, c->keylen, v->ptr, v->len, 1, why)) != 0)
			return rc;
		for (size_t k = 0; v->type == CV_ARRAY && k < v->len; k++)
			if (v->items[k].type == CV_STR &&
			    (rc = string_ok(c->key, c->keylen, v->items[k].ptr, v->items[k].len, 1, why)) != 0)
				return rc;
	}
	return 0;
}

int content_check_sealed_text(const uint8_t *msg, size_t len, char why[WM_WHY_LEN])
{
	if (len < WM_SEAL_MIN_MSG || len > WM_TEXT_MAX)
		return mp_fail(why, WM_ECONTENT, "the sealed text is %zu bytes, allowed %d-%d",
		               len, WM_SEAL_MIN_MSG, WM_TEXT_MAX);
	return string_ok("text", 4, msg, len, 1, why);
}

int content_check(const struct event *ev, char why[WM_WHY_LEN])
{
	const struct rule *r;
	int rc, net;

	if (ev == NULL || ev->kind < 1 || ev->kind > KIND_MAX)
		return mp_fail(why, WM_ECONTENT, "unknown kind");
	for (r = kind_rules[ev->kind]; r->key != NULL; r++)
		if ((rc = check_rule(ev, r, why)) != 0)
			return rc;
	if ((rc = unknown_strings_ok(ev, why)) != 0)
		return rc;
	if ((rc = lang_ok(ev, why)) != 0)
		return rc;

	net = strcmp(ev->group, WM_NETWORK_GROUP) == 0;
	if ((ev->kind == KIND_CERT || ev->kind == KIND_REVOKE) && !net)
		return mp_fail(why, WM_ECONTENT, "%s belongs in group '%s', not '%s'",
		               a_kind(ev->kind), WM_NETWORK_GROUP, ev->group);
	if (ev->kind != KIND_CERT && ev->kind != KIND_REVOKE && net)
		return mp_fail(why, WM_ECONTENT, "group '%s' is reserved for certificates and revocations",
		               WM_NETWORK_GROUP);

	switch (ev->kind) {
	case KIND_ALERT:   return check_alert(ev, why);
	case KIND_REQUEST: return check_request(ev, why);
	case KIND_REPLY:   return check_reply(ev, why);
	case KIND_STATUS:  return check_status(ev, why);
	case KIND_RETRACT: return need_ref(ev, "event to retract", why);
	case KIND_CERT:    return check_cert(ev, why);
	case KIND_REVOKE:  return check_revoke(ev, why);
	case KIND_ACK:     return need_ref(ev, "alert", why);
	default:           return 0;
	}
}

/* --- sealed content (PROTOCOL.md section 6) ------------------------------------- */

#define SEAL_CONTEXT     "watchmesh sealed 2"
#define SEAL_CONTEXT_LEN (sizeof SEAL_CONTEXT - 1)
#define SEAL_AD_MAX      (SEAL_CONTEXT_LEN + 1 + WM_NETWORK_LEN + WM_PUB_LEN + 1 + WM_GROUP_MAX)
#define SEAL_LANG_MAX    35

/* The box's associated data: what it is bound to besides its slots. */
static size_t box_ad(uint8_t ad[SEAL_AD_MAX], unsigned kind, const uint8_t network[WM_NETWORK_LEN],
                      const uint8_t author[WM_PUB_LEN], const char *group)
{
	size_t glen = strlen(group), n = 0;

	memcpy(ad, SEAL_CONTEXT, SEAL_CONTEXT_LEN);
	n += SEAL_CONTEXT_LEN;
	ad[n++] = (uint8_t)kind;
	memcpy(ad + n, network, WM_NETWORK_LEN);
	n += WM_NETWORK_LEN;
	memcpy(ad + n, author, WM_PUB_LEN);
	n += WM_PUB_LEN;
	ad[n++] = (uint8_t)glen;
	memcpy(ad + n, group, glen);
	return n + glen;
}

/* The digest the author signs inside the box: SHA-256(ad || the inner part after the signature). */
static int seal_digest(uint8_t digest[WM_ID_LEN], const uint8_t *ad, size_t adlen,
                       const uint8_t *body, size_t bodylen)
{
	uint8_t *buf = malloc(adlen + bodylen);

	if (buf == NULL)
		return WM_ENOMEM;
	memcpy(buf, ad, adlen);
	memcpy(buf + adlen, body, bodylen);
	id_compute(digest, buf, adlen + bodylen);
	wmc_wipe(buf, adlen + bodylen);
	free(buf);
	return 0;
}

static int sealed_parts_ok(unsigned kind, const struct sealed *s, char *why)
{
	int rc;

	if (kind == KIND_REQUEST && s->topiclen == 0)
		return mp_fail(why, WM_ECONTENT, "the sealed request has no topic");
	if (kind == KIND_REPLY && s->topiclen > 0)
		return mp_fail(why, WM_ECONTENT, "a sealed reply has no topic");
	if (s->topiclen > 0 && !in_list(request_topics, (const uint8_t *)s->topic, s->topiclen))
		return mp_fail(why, WM_ECONTENT, "the sealed topic is not one of the request topics");
	/* the same limits opening a box as sealing one */
	if (s->topiclen > WM_TITLE_MAX)
		return mp_fail(why, WM_ECONTENT, "the sealed topic is %zu bytes, allowed at most %d",
		               s->topiclen, WM_TITLE_MAX);
	if ((rc = lang_tag_ok(s->lang, s->langlen, "the sealed 'lang'", why)) != 0)
		return rc;
	if (s->langlen == 1 || s->langlen > SEAL_LANG_MAX)
		return mp_fail(why, WM_ECONTENT, "the sealed 'lang' is %zu bytes, allowed 2-%d",
		               s->langlen, SEAL_LANG_MAX);
	for (size_t k = 0; k < s->nto; k++)
		for (size_t j = 0; j < k; j++)
			if (memcmp(s->to + k * WM_PUB_LEN, s->to + j * WM_PUB_LEN, WM_PUB_LEN) == 0)
				return mp_fail(why, WM_ECONTENT, "the sealed recipient %zu repeats %zu", k, j);
	if ((rc = content_check_sealed_text((const uint8_t *)s->text, s->textlen, why)) != 0)
		return rc;
	return 0;
}

int content_seal(const struct key *author, unsigned kind, const uint8_t network[WM_NETWORK_LEN],
                 const char *group, const struct sealed *parts, uint8_t **box, size_t *boxlen,
                 char why[WM_WHY_LEN])
{
	uint8_t ad[SEAL_AD_MAX], digest[WM_ID_LEN], *in;
	size_t adlen, len, n = 0;
	int rc;

	if (author == NULL || (author->sec == NULL && author->sign == NULL) || network == NULL || group == NULL || parts == NULL ||
	    box == NULL || boxlen == NULL || strlen(group) > WM_GROUP_MAX)
		return mp_fail(why, WM_EINVAL, "nothing to seal");
	if (parts->nto < 1 || parts->nto > WM_SEAL_MAX_RECIPIENTS)
		return mp_fail(why, WM_EINVAL, "a box has 1-%d recipients, not %zu", WM_SEAL_MAX_RECIPIENTS,
		               parts->nto);
	if ((rc = sealed_parts_ok(kind, parts, why)) != 0)
		return rc;
	len = WM_SIG_LEN + 1 + parts->nto * WM_PUB_LEN + 1 + parts->topiclen + 1 + parts->langlen +
	      parts->textlen;
	in = malloc(len);
	if (in == NULL)
		return mp_fail(why, WM_ENOMEM, "out of memory");
	n = WM_SIG_LEN;
	in[n++] = (uint8_t)parts->nto;
	memcpy(in + n, parts->to, parts->nto * WM_PUB_LEN);
	n += parts->nto * WM_PUB_LEN;
	/* topic and lang may be absent (NULL, length 0): memcpy wants a pointer */
	in[n++] = (uint8_t)parts->topiclen;
	if (parts->topiclen > 0)
		memcpy(in + n, parts->topic, parts->topiclen);
	n += parts->topiclen;
	in[n++] = (uint8_t)parts->langlen;
	if (parts->langlen > 0)
		memcpy(in + n, parts->lang, parts->langlen);
	n += parts->langlen;
	if (parts->textlen > 0)
		memcpy(in + n, parts->text, parts->textlen);
	adlen = box_ad(ad, kind, network, author->pub, group);
	if ((rc = seal_digest(digest, ad, adlen, in + WM_SIG_LEN, len - WM_SIG_LEN)) != 0 ||
	    (rc = key_sign_id(author, digest, in)) != 0 ||
	    (rc = seal_box(in, len, ad, adlen, (const uint8_t (*)[WM_PUB_LEN])parts->to, parts->nto,
	                   author->pub, box, boxlen)) != 0)
		mp_fail(why, rc, "cannot seal: %s", wm_strerror(rc));
	wmc_wipe(in, len);
	free(in);
	return rc;
}

/* The next `size` bytes of the opened box (a bounds-checked cursor). */
static const uint8_t *take(const uint8_t *m, size_t len, size_t *pos, size_t size)
{
	const uint8_t *p = m + *pos;

	if (size > len - *pos)
		return NULL;
	*pos += size;
	return p;
}

/* A byte's length, then that many bytes. */
static const char *take_part(const uint8_t *m, size_t len, size_t *pos, size_t *partlen)
{
	const uint8_t *n = take(m, len, pos, 1);

	if (n == NULL)
		return NULL;
	*partlen = *n;
	return (const char *)take(m, len, pos, *n);
}

int content_open(const struct event *ev, const struct key *reader, struct sealed *out,
                 char why[WM_WHY_LEN])
{
	const uint8_t *box;
	uint8_t ad[SEAL_AD_MAX], digest[WM_ID_LEN], *m = NULL;
	size_t boxlen, adlen, ml = 0, pos = WM_SIG_LEN, nslots = 0, k;
	struct sealed s;
	int rc, listed;

	if (ev == NULL || !key_can_open(reader) || out == NULL ||
	    event_get_bin(ev, "box", &box, &boxlen) != 0)
		return WM_ENOTFOUND;
	if (seal_shape(box, boxlen, &nslots) != 0)
		return mp_fail(why, WM_ECONTENT, "its box is not a sealed box");
	adlen = box_ad(ad, ev->kind, ev->network, ev->author, ev->group);
	rc = seal_open(box, boxlen, ad, adlen, ev->author, reader, &m, &ml);
	if (rc == WM_ENOTFOUND || rc == WM_ENOMEM)
		return rc;
	if (rc == WM_EIO)
		return mp_fail(why, WM_EIO, "the key agent holding the key did not answer");
	if (rc != 0)
		return mp_fail(why, WM_ECRYPTO, "the box does not open: changed, or taken to another "
		               "author, group or kind");
	memset(&s, 0, sizeof s);
	if (ml < pos + 1) {
		rc = mp_fail(why, WM_ECONTENT, "the opened box is too short");
		goto bad;
	}
	s.nto = m[pos++];
	if (s.nto != nslots) {
		rc = mp_fail(why, WM_ECONTENT, "the box has %zu slots for %zu signed recipients: one was "
		             "dropped or added", nslots, s.nto);
		goto bad;
	}
	if ((s.to = take(m, ml, &pos, s.nto * WM_PUB_LEN)) == NULL ||
	    (s.topic = take_part(m, ml, &pos, &s.topiclen)) == NULL ||
	    (s.lang = take_part(m, ml, &pos, &s.langlen)) == NULL) {
		rc = mp_fail(why, WM_ECONTENT, "the opened box is cut short");
		goto bad;
	}
	s.text = (const char *)m + pos;
	s.textlen = ml - pos;
	if ((rc = seal_digest(digest, ad, adlen, m + WM_SIG_LEN, ml - WM_SIG_LEN)) != 0)
		goto bad;
	if (sig_verify(ev->author, digest, m) != 0) {
		rc = mp_fail(why, WM_ESIG, "the box is not bound to this author (it was signed inside by "
		             "another key)");
		goto bad;
	}
	listed = memcmp(reader->pub, ev->author, WM_PUB_LEN) == 0;
	for (k = 0; k < s.nto && !listed; k++)
		listed = memcmp(reader->pub, s.to + k * WM_PUB_LEN, WM_PUB_LEN) == 0;
	if (!listed) {
		rc = mp_fail(why, WM_ECONTENT, "the author's signed recipients do not name this key");
		goto bad;
	}
	if ((rc = sealed_parts_ok(ev->kind, &s, why)) != 0)
		goto bad;
	s.buf = m;
	s.buflen = ml;
	*out = s;
	return 0;
bad:
	seal_free_msg(m, ml);
	return rc;
}

void content_sealed_free(struct sealed *s)
{
	if (s != NULL && s->buf != NULL)
		seal_free_msg(s->buf, s->buflen);
	if (s != NULL)
		memset(s, 0, sizeof *s);
}
